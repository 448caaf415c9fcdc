/*
 * fifo: the listener's short receive path (recv_quick() in stream_fifo.c)
 * keeps every guarantee of the general one.
 *
 * After a small message, with nothing buffered, the listener reads exactly
 * one unit of that message's size and delivers it at once if it begins with
 * the very header believed last time. Each case here first takes a message
 * (so that path is armed), then puts one thing into the FIFO with its own
 * write and receives it: foreign bytes of exactly that size (with a header
 * whose check fails, with text), fewer foreign bytes, a message of another
 * size, a message that does not fit the caller's buffer. Each must come out
 * as the general path gives it: a report of the dropped bytes, the message
 * whole, -ENOBUFS with the message kept.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fifo_path[300];

static void remove_fifo(void)
{
	if (fifo_path[0] != '\0')
		unlink(fifo_path);
}

TestSuite(fifo_quick, .timeout = 120, .fini = remove_fifo);

struct pair {
	ipk_chan *l, *d;
	int plain; /* a plain program's write end */
};

static struct pair open_pair(void)
{
	struct pair p;
	char url[340];
	snprintf(fifo_path, sizeof fifo_path, "%s", ipkt_path("quick"));
	snprintf(url, sizeof url, "fifo:%s", fifo_path);
	p.l = ipkt_listen_ok(url);
	p.d = ipkt_dial_ok(url);
	p.plain = open(fifo_path, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(p.plain, 0);
	return p;
}

static void close_pair(struct pair *p)
{
	close(p->plain);
	ipk_close(p->d);
	ipk_close(p->l);
}

static void send_fill(struct pair *p, char c, size_t len)
{
	char msg[4096];
	memset(msg, c, len);
	cr_assert_eq(ipk_send(p->d, msg, len, 2000), (ssize_t)len, "send: %s",
	             ipk_last_error());
}

/* The next receive is the message of len bytes of c (cap: the buffer). */
static void expect_fill(struct pair *p, char c, size_t len, size_t cap,
                        int timeout_ms)
{
	char buf[4096];
	cr_assert_leq(cap, sizeof buf);
	memset(buf, '?', sizeof buf);
	ssize_t n = ipk_recv(p->l, buf, cap, timeout_ms);
	cr_assert_eq(n, (ssize_t)len, "recv: %zd, want the %zu-byte message (%s)",
	             n, len, n < 0 ? ipk_last_error() : "");
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(buf[i], c, "byte %zu of the message changed", i);
}

static void expect_dropped(struct pair *p, const char *needle)
{
	char buf[128];
	ssize_t n = ipk_recv(p->l, buf, sizeof buf, 2000);
	cr_assert_eq(n, -EPROTO, "recv: %zd, want the report of dropped bytes (%s)",
	             n, n < 0 ? ipk_last_error() : "a message");
	cr_expect(strstr(ipk_last_error(), needle) != NULL, "want '%s' in: %s",
	          needle, ipk_last_error());
}

static void write_plain(struct pair *p, const void *b, size_t n)
{
	cr_assert_eq(write(p->plain, b, n), (ssize_t)n);
}

static void expect_nothing_more(struct pair *p)
{
	char buf[16];
	ssize_t n = ipk_recv(p->l, buf, sizeof buf, 0);
	cr_expect_eq(n, -EAGAIN, "more than was sent: %zd %s", n,
	             n < 0 ? ipk_last_error() : "");
}

/* A unit of a 64-byte message's size whose header is a message's but for
   its check: foreign bytes, reported, and the next message comes whole. */
Test(fifo_quick, forged_header_of_the_same_size)
{
	struct pair p = open_pair();
	send_fill(&p, 'a', 64);
	expect_fill(&p, 'a', 64, 128, IPK_FOREVER);
	unsigned char unit[72];
	memset(unit, 'x', sizeof unit);
	unit[0] = 0x00;
	unit[1] = 0xC1;
	unit[2] = 0x00;
	unit[3] = 64;
	memset(unit + 4, 0x5A, 4); /* not the check */
	write_plain(&p, unit, sizeof unit);
	expect_dropped(&p, "72 bytes");
	send_fill(&p, 'b', 64);
	expect_fill(&p, 'b', 64, 128, IPK_FOREVER);
	expect_nothing_more(&p);
	close_pair(&p);
}

/* Text of exactly a unit's size, then fewer bytes than a unit. */
Test(fifo_quick, text_of_the_same_size_and_shorter)
{
	struct pair p = open_pair();
	send_fill(&p, 'a', 64);
	expect_fill(&p, 'a', 64, 128, IPK_FOREVER);
	char text[73];
	memset(text, 'T', 72);
	text[72] = '\0';
	memcpy(text, "hello from a plain writer", 25);
	write_plain(&p, text, 72);
	expect_dropped(&p, "hello from a plain writer");
	send_fill(&p, 'b', 64);
	expect_fill(&p, 'b', 64, 128, 2000);
	write_plain(&p, "abcde", 5);
	expect_dropped(&p, "abcde");
	send_fill(&p, 'c', 64);
	expect_fill(&p, 'c', 64, 128, IPK_FOREVER);
	expect_nothing_more(&p);
	close_pair(&p);
}

/* Messages of other sizes after one size: each whole, in order. */
Test(fifo_quick, sizes_change)
{
	struct pair p = open_pair();
	static const size_t sizes[] = {64, 64, 10, 64, 0, 64, 4088, 64, 65, 63};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		send_fill(&p, (char)('a' + i), sizes[i]);
		expect_fill(&p, (char)('a' + i), sizes[i], 4096,
		            i % 2 ? IPK_FOREVER : 2000);
	}
	expect_nothing_more(&p);
	close_pair(&p);
}

/* A message that does not fit the buffer stays queued (-ENOBUFS) and comes
   whole with a buffer that fits; so does one for a receive that allocates. */
Test(fifo_quick, message_waits_for_a_buffer)
{
	struct pair p = open_pair();
	send_fill(&p, 'a', 64);
	expect_fill(&p, 'a', 64, 128, IPK_FOREVER);
	send_fill(&p, 'b', 64);
	char small[16];
	cr_assert_eq(ipk_recv(p.l, small, sizeof small, IPK_FOREVER), -ENOBUFS);
	cr_assert_eq(ipk_recv(p.l, small, sizeof small, 0), -ENOBUFS);
	expect_fill(&p, 'b', 64, 64, IPK_FOREVER);
	send_fill(&p, 'c', 64);
	void *got = NULL;
	cr_assert_eq(ipk_recv_alloc(p.l, &got, NULL, IPK_FOREVER), 64, "%s",
	             ipk_last_error());
	cr_expect(memchr(got, 'c', 64) == got && ((char *)got)[63] == 'c');
	free(got);
	expect_nothing_more(&p);
	close_pair(&p);
}
