/*
 * Batching on stream channels (?batch, ipk_flush) and several messages in
 * one call (ipk_send_many): what is queued goes out whole, in order, once,
 * on every way out (queue full, flush, a receive, the delay, close), the
 * wire is the same as without batching, and nothing queued is lost
 * without the caller hearing of it.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void send_seq(ipk_chan *c, uint32_t seq, size_t len)
{
	unsigned char buf[70000];
	cr_assert_leq(len, sizeof buf);
	ipkt_fill(buf, len, seq);
	ssize_t n = ipk_send(c, buf, len, 10000);
	cr_assert_eq(n, (ssize_t)len, "send %u: %zd (%s)", seq, n,
	             n < 0 ? ipk_last_error() : "");
}

static void recv_seq(ipk_chan *c, uint32_t seq, size_t len, int timeout)
{
	static unsigned char buf[70000];
	ssize_t n = ipk_recv(c, buf, sizeof buf, timeout);
	cr_assert_eq(n, (ssize_t)len, "message %u: got %zd, want %zu (%s)", seq,
	             n, len, n < 0 ? ipk_last_error() : "");
	cr_assert(ipkt_check(buf, len, seq), "message %u changed", seq);
}

static size_t size_of(uint32_t i)
{
	static const size_t sizes[] = {0, 1, 7, 100, 1000, 2000, 3000, 9};
	return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

/* Nothing goes out before a way out is taken; then all of it, in order,
   the larger messages (over half the 4K queue) after the ones queued
   before them. */
Test(batch, queue_waits_for_a_flush_then_all_arrive_in_order)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch=4K&batchdelay=0", &a, &b);
	uint32_t seq = 0;
	for (int round = 0; round < 40; round++) {
		uint32_t first = seq;
		for (int k = 0; k < 3; k++, seq++)
			send_seq(a, seq, size_of(seq) % 1500);
		char x;
		cr_assert_eq(ipk_recv(b, &x, 1, 0), -EAGAIN,
		             "a message went out before a flush (round %d)", round);
		for (int k = 0; k < 47; k++, seq++)
			send_seq(a, seq, size_of(seq));
		cr_assert_eq(ipk_flush(a, 10000), 0, "flush: %s", ipk_last_error());
		for (uint32_t i = first; i < seq; i++)
			recv_seq(b, i, i < first + 3 ? size_of(i) % 1500 : size_of(i),
			         10000);
	}
	cr_assert_eq(ipk_flush(a, 0), 0, "nothing is left to flush");
	ipk_close(a);
	ipk_close(b);
}

/* With no call on the channel after the send, the delay writes it. */
Test(batch, delay_writes_without_another_call)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch&batchdelay=2000", &a, &b);
	send_seq(a, 1, 100);
	recv_seq(b, 1, 100, 20000);
	/* and again once the flusher had gone to sleep in between */
	send_seq(a, 2, 5);
	recv_seq(b, 2, 5, 20000);
	ipk_close(a);
	ipk_close(b);
}

/* A receive writes the queue first: a ping-pong on two batching ends with
   no timer does not deadlock. */
Test(batch, receive_sends_the_queue_first, .timeout = 60)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch&batchdelay=0", &a, &b);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		ipk_close(a);
		char buf[256];
		for (;;) {
			ssize_t n = ipk_recv(b, buf, sizeof buf, 20000);
			if (n < 0)
				_exit(n == -EPIPE ? 0 : 1);
			if (ipk_send(b, buf, (size_t)n, 20000) != n)
				_exit(2);
		}
	}
	ipk_close(b);
	for (uint32_t i = 0; i < 2000; i++) {
		send_seq(a, i, size_of(i) % 200);
		recv_seq(a, i, size_of(i) % 200, 20000);
	}
	cr_assert_eq(ipk_close(a), 0);
	cr_assert_eq(ipkt_wait_child(pid), 0);
}

/* Close writes what is queued (within ?linger=). */
Test(batch, close_writes_the_queue)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch&batchdelay=0", &a, &b);
	for (uint32_t i = 0; i < 500; i++)
		send_seq(a, i, 100);
	char x;
	cr_assert_eq(ipk_recv(b, &x, 1, 0), -EAGAIN);
	cr_assert_eq(ipk_close(a), 0, "close: %s", ipk_last_error());
	for (uint32_t i = 0; i < 500; i++)
		recv_seq(b, i, 100, 10000);
	cr_assert_eq(ipk_recv(b, &x, 1, 10000), -EPIPE);
	ipk_close(b);
}

/* The peer left with messages still queued: flush and close say so. */
Test(batch, lost_messages_are_reported)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch&batchdelay=0", &a, &b);
	ipk_close(b);
	send_seq(a, 1, 100);
	send_seq(a, 2, 100);
	cr_assert_eq(ipk_flush(a, 5000), -EPIPE);
	cr_assert(strstr(ipk_last_error(), "not delivered") != NULL, "%s",
	          ipk_last_error());

	ipkt_pair_ok("unix:?batch&batchdelay=0", &a, &b);
	ipk_close(b);
	send_seq(a, 3, 10);
	cr_assert_eq(ipk_close(a), -EPIPE);
	cr_assert(strstr(ipk_last_error(), "not delivered") != NULL, "%s",
	          ipk_last_error());
}

/* A batching end whose peer has gone and whose timer's write met that:
   the next call reports what it could not deliver. */
static ipk_chan *timer_met_the_peer_gone(void)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch&batchdelay=1000", &a, &b);
	ipk_close(b);
	send_seq(a, 1, 100);
	int64_t until = ipkt_now_ms() + 20000;
	ssize_t n = 0;
	while (ipkt_now_ms() < until && (n = ipk_send(a, "x", 1, 1000)) >= 0)
		usleep(2000);
	cr_assert_eq(n, -EPIPE, "%zd: %s", n, ipk_last_error());
	cr_assert(strstr(ipk_last_error(), "not delivered") != NULL, "%s",
	          ipk_last_error());
	return a;
}

/* What the timer's write could not deliver is reported by the next call. */
Test(batch, timer_write_failure_reaches_the_caller)
{
	ipk_close(timer_met_the_peer_gone());
}

/* Once a write found the peer gone, every later send and flush fails at
   once with -EPIPE (as without batching): no message is queued, and so
   accepted, after the channel knows it cannot go. Flush and close, the
   loss reported, have nothing to say (as without batching). */
static void sends_stay_refused(ipk_chan *a)
{
	for (int i = 0; i < 5; i++) {
		ssize_t n = ipk_send(a, "xxxx", 4, 1000);
		cr_assert_eq(n, -EPIPE, "send %d after the peer went: %zd (%s)", i,
		             n, n < 0 ? ipk_last_error() : "accepted");
		cr_assert(strstr(ipk_last_error(), "not sent") != NULL, "%s",
		          ipk_last_error());
		usleep(3000); /* the timer (if any) has its chance between sends */
	}
	struct iovec v[2] = {{"ab", 2}, {"cd", 2}};
	cr_assert_eq(ipk_send_many(a, v, 2, 1000), -EPIPE);
	cr_assert_eq(ipk_send(a, "y", 1, 1000), -EPIPE);
	cr_assert_eq(ipk_flush(a, 1000), 0, "flush: %s", ipk_last_error());
	cr_assert_eq(ipk_close(a), 0, "close: %s", ipk_last_error());
}

Test(batch, peer_gone_is_sticky_after_flush)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch&batchdelay=0", &a, &b);
	ipk_close(b);
	send_seq(a, 1, 100);
	cr_assert_eq(ipk_flush(a, 5000), -EPIPE);
	sends_stay_refused(a);
}

Test(batch, peer_gone_is_sticky_after_the_timer_met_it)
{
	sends_stay_refused(timer_met_the_peer_gone());
}

/* A receive writes the queue first; what it could not deliver is counted
   by the next send, and sending stays refused. */
Test(batch, peer_gone_found_by_a_receive)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch&batchdelay=0", &a, &b);
	ipk_close(b);
	send_seq(a, 1, 100);
	char x;
	cr_assert_eq(ipk_recv(a, &x, 1, 1000), -EPIPE);
	cr_assert_eq(ipk_send(a, "x", 1, 1000), -EPIPE);
	cr_assert(strstr(ipk_last_error(), "bytes of batched messages were not "
	                                   "delivered") != NULL &&
	                  strstr(ipk_last_error(), " 0 bytes") == NULL,
	          "%s", ipk_last_error());
	sends_stay_refused(a);
}

/* A large message (written past the queue) that meets the peer gone ends
   sending too. */
Test(batch, peer_gone_is_sticky_after_a_large_send)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch=4K&batchdelay=0", &a, &b);
	ipk_close(b);
	static unsigned char big[3000];
	cr_assert_eq(ipk_send(a, big, sizeof big, 1000), -EPIPE);
	sends_stay_refused(a);
}

/* When queue and kernel are both full a send times out and its message
   is not sent; every message accepted before arrives whole. */
Test(batch, full_queue_times_out_and_keeps_what_it_took)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch=8K&batchdelay=0", &a, &b);
	uint32_t k = 0;
	for (;;) {
		unsigned char buf[1000];
		ipkt_fill(buf, sizeof buf, k);
		ssize_t n = ipk_send(a, buf, sizeof buf, 0);
		if (n == -EAGAIN)
			break;
		cr_assert_eq(n, (ssize_t)sizeof buf, "%s", ipk_last_error());
		k++;
		cr_assert_lt(k, 100000, "the queue never filled");
	}
	uint32_t got = 0;
	while (got < k) {
		unsigned char buf[2000];
		ssize_t n = ipk_recv(b, buf, sizeof buf, 0);
		if (n == -EAGAIN) {
			int rc = ipk_flush(a, 0);
			cr_assert(rc == 0 || rc == -EAGAIN, "%s", ipk_last_error());
			continue;
		}
		cr_assert_eq(n, 1000, "message %u: %zd", got, n);
		cr_assert(ipkt_check(buf, 1000, got), "message %u changed", got);
		got++;
	}
	cr_assert_eq(ipk_flush(a, 10000), 0);
	char x;
	cr_assert_eq(ipk_recv(b, &x, 1, 0), -EAGAIN, "more than was accepted");
	ipk_close(a);
	ipk_close(b);
}

/* A child that inherits a queue does not send it: its parent does. */
Test(batch, forked_child_leaves_the_queue_to_its_parent)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?batch&batchdelay=0", &a, &b);
	for (uint32_t i = 0; i < 3; i++)
		send_seq(a, i, 50);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int rc = ipk_flush(a, 1000);
		ipk_close(a);
		_exit(rc == 0 ? 0 : 1);
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	cr_assert_eq(ipk_flush(a, 10000), 0);
	for (uint32_t i = 0; i < 3; i++)
		recv_seq(b, i, 50, 10000);
	char x;
	cr_assert_eq(ipk_recv(b, &x, 1, 200), -ETIMEDOUT,
	             "the child sent its parent's queue too");
	ipk_close(a);
	ipk_close(b);
}

Test(batch, options_checked)
{
	ipk_chan *c = NULL;
	char url[300];
	const char *name = ipkt_name("bo") + 1;
	snprintf(url, sizeof url, "unix:@%s?batch&proto=req", name);
	cr_assert_eq(ipk_dial(&c, url, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "nothing to batch"), "%s",
	          ipk_last_error());
	snprintf(url, sizeof url, "unix:@%s?batch&proto=pull", name);
	cr_assert_eq(ipk_listen(&c, url), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "only receives"), "%s",
	          ipk_last_error());
	snprintf(url, sizeof url, "unix:@%s?batchdelay=10", name);
	cr_assert_eq(ipk_listen(&c, url), -EINVAL);
	snprintf(url, sizeof url, "unix:@%s?batch=10", name);
	cr_assert_eq(ipk_listen(&c, url), -EINVAL);
	snprintf(url, sizeof url, "unix:@%s?batch=lots", name);
	cr_assert_eq(ipk_listen(&c, url), -EINVAL);
	snprintf(url, sizeof url, "fifo:%s?batch", ipkt_path("bf"));
	cr_assert_eq(ipk_listen(&c, url), -EINVAL);
	cr_assert_null(c);
	ipk_chan *a, *b;
	cr_assert_eq(ipk_pair("unixgram:?batch", &a, &b), -EINVAL);
}

/* --------------------------------------------------- the wire itself */

/*
 * A batching dialer's bytes, read by a raw listener, are exactly the SP
 * frames an unbatched one writes: type 1 (ipc) and a big-endian u64
 * length, then the payload, one after the other.
 */
static void wire(const char *scheme)
{
	char lurl[300], durl[300];
	ipk_chan *l;
	bool ipc = strcmp(scheme, "unix") == 0;
	if (ipc) {
		const char *name = ipkt_name("bw") + 1;
		snprintf(lurl, sizeof lurl, "unix:@%s?raw", name);
		snprintf(durl, sizeof durl, "unix:@%s?batch=4K&batchdelay=0", name);
		cr_assert_eq(ipk_listen(&l, lurl), 0, "%s", ipk_last_error());
	} else {
		cr_assert_eq(ipk_listen(&l, "tcp://127.0.0.1:0?raw"), 0);
		char addr[200];
		cr_assert_gt(ipk_address(l, addr, sizeof addr), 0);
		addr[strcspn(addr, "?")] = '\0';
		snprintf(durl, sizeof durl, "%s?batch=4K&batchdelay=0", addr);
	}
	enum { N = 300 };
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		ipk_chan *d;
		if (ipk_dial(&d, durl, 10000) < 0)
			_exit(1);
		for (uint32_t i = 0; i < N; i++) {
			unsigned char buf[3000];
			ipkt_fill(buf, size_of(i), i);
			if (ipk_send(d, buf, size_of(i), 10000) != (ssize_t)size_of(i))
				_exit(2);
		}
		_exit(ipk_close(d) == 0 ? 0 : 3);
	}
	ipk_chan *c;
	cr_assert_eq(ipk_accept(l, &c, 10000), 0, "%s", ipk_last_error());
	unsigned char *got = malloc(1 << 20), *want = malloc(1 << 20);
	static const unsigned char hdr[8] = {0, 'S', 'P', 0, 0, 0x10, 0, 0};
	cr_assert_eq(ipk_send(c, hdr, 8, 5000), 8);
	size_t n = 0;
	for (;;) {
		ssize_t r = ipk_recv(c, got + n, (1 << 20) - n, 20000);
		if (r == -EPIPE)
			break;
		cr_assert_gt(r, 0, "%s", ipk_last_error());
		n += (size_t)r;
	}
	size_t w = 0;
	memcpy(want, hdr, 8);
	w = 8;
	for (uint32_t i = 0; i < N; i++) {
		if (ipc)
			want[w++] = 1;
		uint64_t len = size_of(i);
		for (int k = 7; k >= 0; k--)
			want[w++] = (unsigned char)(len >> (8 * k));
		ipkt_fill(want + w, len, i);
		w += len;
	}
	cr_assert_eq(n, w, "%zu bytes on the wire, %zu expected", n, w);
	cr_assert(memcmp(got, want, w) == 0, "the batched frames differ");
	cr_assert_eq(ipkt_wait_child(pid), 0);
	free(got);
	free(want);
	ipk_close(c);
	ipk_close(l);
}

Test(batch, wire_unchanged_ipc)
{
	wire("unix");
}

Test(batch, wire_unchanged_tcp)
{
	wire("tcp");
}

/* PUSH batches on each connection; a flush of the socket writes them. */
Test(batch, push_socket_batches_and_flushes)
{
	const char *name = ipkt_name("bp") + 1;
	char lurl[300], durl[300];
	snprintf(lurl, sizeof lurl, "unix:@%s?proto=pull", name);
	snprintf(durl, sizeof durl, "unix:@%s?proto=push&batch&batchdelay=0",
	         name);
	ipk_chan *pull = ipkt_listen_ok(lurl), *push = ipkt_dial_ok(durl);
	for (uint32_t i = 0; i < 200; i++)
		send_seq(push, i, 64);
	/* queued, not written one by one (a send on a socket finishes a
	   message the stream took in part, but leaves the queue alone) */
	unsigned char x[64];
	cr_assert_eq(ipk_recv(pull, x, sizeof x, 200), -ETIMEDOUT,
	             "a batching PUSH wrote before a flush");
	cr_assert_eq(ipk_flush(push, 10000), 0, "%s", ipk_last_error());
	for (uint32_t i = 0; i < 200; i++)
		recv_seq(pull, i, 64, 10000);
	ipk_close(push);
	ipk_close(pull);
}

/* ------------------------------------------------------ ipk_send_many */

static void many_in_order(const char *url)
{
	ipk_chan *a, *b;
	ipkt_pair_ok(url, &a, &b);
	enum { N = 600 };
	static unsigned char data[N][200];
	struct iovec v[N];
	for (uint32_t i = 0; i < N; i++) {
		size_t len = (i * 7) % 200;
		ipkt_fill(data[i], len, i);
		v[i] = (struct iovec){data[i], len};
	}
	ssize_t n = ipk_send_many(a, v, N, 10000);
	cr_assert_eq(n, N, "%s: %zd (%s)", url, n, n < 0 ? ipk_last_error() : "");
	cr_assert_eq(ipk_flush(a, 10000), 0);
	for (uint32_t i = 0; i < N; i++)
		recv_seq(b, i, (i * 7) % 200, 10000);
	char x;
	cr_assert_eq(ipk_recv(b, &x, 1, 0), -EAGAIN);
	cr_assert_eq(ipk_send_many(a, v, 0, 0), 0);
	ipk_close(a);
	ipk_close(b);
}

Test(send_many, unix_in_order)
{
	many_in_order("unix:");
}

Test(send_many, pipe_in_order)
{
	many_in_order("pipe:");
}

Test(send_many, batched_in_order)
{
	many_in_order("unix:?batch&batchdelay=0");
}

Test(send_many, one_by_one_elsewhere)
{
	many_in_order("unixgram:");
}

Test(send_many, oversize_sends_nothing)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?maxmsg=100", &a, &b);
	char small[10] = {0}, big[200] = {0};
	struct iovec v[2] = {{small, sizeof small}, {big, sizeof big}};
	cr_assert_eq(ipk_send_many(a, v, 2, 1000), -EMSGSIZE);
	char x[300];
	cr_assert_eq(ipk_recv(b, x, sizeof x, 0), -EAGAIN);
	v[1].iov_base = NULL;
	cr_assert_eq(ipk_send_many(a, v, 2, 1000), -EINVAL);
	cr_assert_eq(ipk_send_many(a, NULL, 1, 1000), -EINVAL);
	ipk_close(a);
	ipk_close(b);
}

/* The timeout expires with nobody reading: the count says how many went,
   the last of them whole (its rest is kept and goes first). */
Test(send_many, timeout_sends_a_whole_prefix)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:", &a, &b);
	enum { N = 100, LEN = 50000 };
	unsigned char *data = malloc((size_t)N * LEN);
	struct iovec v[N];
	for (uint32_t i = 0; i < N; i++) {
		ipkt_fill(data + (size_t)i * LEN, LEN, i);
		v[i] = (struct iovec){data + (size_t)i * LEN, LEN};
	}
	ssize_t k = ipk_send_many(a, v, N, 200);
	cr_assert(k > 0 && k < N, "sent %zd of %d (%s)", k, N,
	          k < 0 ? ipk_last_error() : "");
	uint32_t got = 0;
	static unsigned char buf[LEN];
	while (got < (uint32_t)k) {
		ssize_t n = ipk_recv(b, buf, sizeof buf, 0);
		if (n == -EAGAIN) {
			int rc = ipk_flush(a, 0);
			cr_assert(rc == 0 || rc == -EAGAIN, "%s", ipk_last_error());
			continue;
		}
		cr_assert_eq(n, LEN, "message %u: %zd (%s)", got, n,
		             n < 0 ? ipk_last_error() : "");
		cr_assert(ipkt_check(buf, LEN, got), "message %u changed", got);
		got++;
	}
	cr_assert_eq(ipk_flush(a, 10000), 0);
	cr_assert_eq(ipk_recv(b, buf, sizeof buf, 0), -EAGAIN,
	             "a message the count left out was sent");
	free(data);
	ipk_close(a);
	ipk_close(b);
}
