/*
 * fifo: how much a receive takes from the pipe. A listener reads one unit
 * at a time, sized by the last unit it took (src/core/stream_fifo.c,
 * read_size()): a reader that emptied the pipe at every read would sleep
 * and be woken for nearly every message of a fast writer. Reads sized for
 * the previous message then cut a message of another size or take the
 * start of the next one: every message must still come out whole, in
 * order, with nothing left over.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static char fifo_path[300];

static void remove_fifo(void)
{
	if (fifo_path[0] != '\0')
		unlink(fifo_path);
}

TestSuite(fifo_readsize, .timeout = 120, .fini = remove_fifo);

static void open_pair(ipk_chan **rx, ipk_chan **tx)
{
	char url[320];
	snprintf(fifo_path, sizeof fifo_path, "%s", ipkt_path("readsize"));
	snprintf(url, sizeof url, "fifo:%s", fifo_path);
	*rx = ipkt_listen_ok(url);
	*tx = ipkt_dial_ok(url);
}

static void send_ok(ipk_chan *tx, size_t len, uint32_t seq)
{
	unsigned char *buf = malloc(len ? len : 1);
	cr_assert_not_null(buf);
	ipkt_fill(buf, len, seq);
	cr_assert_eq(ipk_send(tx, buf, len, 5000), (ssize_t)len,
	             "send #%u (%zu bytes): %s", seq, len, ipk_last_error());
	free(buf);
}

static void recv_ok(ipk_chan *rx, size_t len, uint32_t seq)
{
	static unsigned char buf[70000];
	ssize_t n = ipk_recv(rx, buf, sizeof buf, 5000);
	cr_assert_eq(n, (ssize_t)len, "message #%u: %zd bytes, expected %zu (%s)",
	             seq, n, len, n < 0 ? ipk_last_error() : "");
	cr_assert(ipkt_check(buf, len, seq), "message #%u (%zu bytes) garbled",
	          seq, len);
}

/* bytes waiting in the FIFO, not yet read by the listener */
static int in_pipe(ipk_chan *rx)
{
	int n = -1;
	cr_assert_eq(ioctl(ipk_fd(rx), FIONREAD, &n), 0);
	return n;
}

/* Messages of one size: once the listener has taken one, each receive
   reads that message and leaves the next ones in the pipe. */
Test(fifo_readsize, one_message_per_read_for_messages_of_one_size)
{
	ipk_chan *rx, *tx;
	open_pair(&rx, &tx);
	enum { N = 10, LEN = 64, UNIT = LEN + 8 };
	uint32_t seq = 0;
	for (int i = 0; i < N; i++)
		send_ok(tx, LEN, seq + (uint32_t)i);
	for (int i = 0; i < N; i++)
		recv_ok(rx, LEN, seq++);
	cr_assert_eq(in_pipe(rx), 0);

	for (int i = 0; i < N; i++)
		send_ok(tx, LEN, seq + (uint32_t)i);
	cr_assert_eq(in_pipe(rx), N * UNIT);
	for (int i = 1; i <= N; i++) {
		recv_ok(rx, LEN, seq++);
		cr_assert_eq(in_pipe(rx), (N - i) * UNIT,
		             "after receive %d of %d: %d bytes left in the pipe, "
		             "expected %d (the receive read ahead)",
		             i, N, in_pipe(rx), (N - i) * UNIT);
	}
	cr_assert_eq(ipk_recv(rx, NULL, 0, 0), -EAGAIN);
	cr_assert_eq(ipk_close(tx), 0);
	cr_assert_eq(ipk_close(rx), 0);
}

/* sizes that differ from one message to the next, on both sides of the
   one-write limit (4088 bytes of payload) */
static const size_t sizes[] = {64,   64,   0,   1,    63,    65,   200, 8,
                               4088, 4089, 0,   9000, 64,    3,    4088, 4087,
                               7,    8200, 64,  64,   12289, 0,    1,    64};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* Everything in the pipe before the first receive: reads sized for one
   message take parts of two. */
Test(fifo_readsize, changing_sizes_all_queued)
{
	ipk_chan *rx, *tx;
	open_pair(&rx, &tx);
	for (uint32_t i = 0; i < NSIZES; i++)
		send_ok(tx, sizes[i], i);
	for (uint32_t i = 0; i < NSIZES; i++)
		recv_ok(rx, sizes[i], i);
	cr_assert_eq(ipk_recv(rx, NULL, 0, 0), -EAGAIN);
	cr_assert_eq(in_pipe(rx), 0);
	cr_assert_eq(ipk_close(tx), 0);
	cr_assert_eq(ipk_close(rx), 0);
}

/* One message in the pipe at a time: a read sized for the last message is
   too short (the rest is read at once) or longer than what is there. */
Test(fifo_readsize, changing_sizes_one_at_a_time)
{
	ipk_chan *rx, *tx;
	open_pair(&rx, &tx);
	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < NSIZES; i++) {
			send_ok(tx, sizes[i], i);
			recv_ok(rx, sizes[i], i);
			cr_assert_eq(in_pipe(rx), 0);
		}
	}
	cr_assert_eq(ipk_recv(rx, NULL, 0, 0), -EAGAIN);
	cr_assert_eq(ipk_close(tx), 0);
	cr_assert_eq(ipk_close(rx), 0);
}
