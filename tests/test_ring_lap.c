/*
 * Records carry their lap, and a consumer never runs past the producers:
 * a spoiled position or size that would make a receiver deliver records
 * of an earlier lap (again and again, with nothing written) is -EPROTO
 * naming the field. And a message of the largest size fits an empty ring
 * every time, not only the first (in both protocols), including with a
 * producer and a consumer in separate processes at full speed.
 */
#define _GNU_SOURCE
#include "util.h"
#include "ring_tsan.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring_pair.h"

#define CAP 8192
#define LAP (UINT64_C(1) << 40)

struct ring2 {
	unsigned char *mem;
	size_t size;
	struct ipk__ring_hdr *h;
	unsigned char *data;
	uint64_t cap;
	struct ipk__ring rx, tx;
};

static void setup(struct ring2 *x, bool mpmc)
{
	memset(x, 0, sizeof *x);
	x->size = ipk__ring_hdr_size(mpmc ? IPK__RING_MPMC_SLOTS : 1) + CAP;
	x->mem = mmap(NULL, x->size, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(x->mem, MAP_FAILED);
	x->h = rp_open(x->mem, x->size, mpmc, CAP, "lap", &x->rx, &x->tx);
	x->data = x->mem + x->h->hdr_size;
	x->cap = x->h->capacity;
}

static void teardown(struct ring2 *x)
{
	rp_close(&x->rx, &x->tx);
	munmap(x->mem, x->size);
}

static ssize_t recv_now(struct ring2 *x, void *buf, size_t cap, int64_t deadline)
{
	ipk_msginfo info = {0};
	ipk__rx r = {.buf = buf, .cap = cap, .info = &info, .maxmsg = cap};
	return ipk__ring_recv(&x->rx, &r, deadline);
}

/* Receives until the first refusal: how many messages came, and that the
   refusal is -EPROTO naming what. */
static void expect_refused(struct ring2 *x, int most, const char *what)
{
	static unsigned char buf[CAP];
	int got = 0;
	ssize_t n;
	int64_t deadline = ipk__now_ns() + 200 * 1000000LL;
	while ((n = recv_now(x, buf, sizeof buf, deadline)) >= 0)
		if (++got > most + 10)
			break;
	cr_expect_leq(got, most, "%d messages delivered from a spoiled ring", got);
	cr_expect_eq(n, -EPROTO, "receive gave %zd, not -EPROTO (%s)", n,
	             ipk_last_error());
	cr_expect(strstr(ipk_last_error(), what) != NULL,
	          "the message does not say '%s': %s", what, ipk_last_error());
	/* and it stays refused */
	cr_expect_eq(recv_now(x, buf, sizeof buf, IPK__NOW), -EPROTO);
}

/* ------------------------------------------------ positions and laps */

Test(ring_lap, spsc_consumer_position_a_lap_ahead)
{
	/* two unread messages, and the consumer's position moved a lap on:
	   the records there are the producer's last lap, not new ones */
	struct ring2 x;
	setup(&x, false);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_send(&x.tx, "hello", 5, IPK__NOW), 5);
	cr_assert_eq(ipk__ring_send(&x.tx, "world", 5, IPK__NOW), 5);
	atomic_store(&x.h->head, LAP);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	expect_refused(&x, 0, "another lap");
	teardown(&x);
}

Test(ring_lap, spsc_consumer_position_past_the_tail_waits_no_more)
{
	/* an empty ring whose consumer position is a lap ahead: waiting there
	   would meet the producer's next lap as new messages */
	struct ring2 x;
	setup(&x, false);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_send(&x.tx, "hello", 5, IPK__NOW), 5);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	char buf[16];
	cr_assert_eq(recv_now(&x, buf, sizeof buf, IPK__NOW), 5);
	atomic_store(&x.h->head, x.h->head + LAP);
	ipk__ring_detach(&x.rx);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	/* readiness agrees: a receive would not block, it reports */
	cr_expect_eq(ipk__ring_readable(&x.rx), 1, "a spoiled position reads "
	             "as nothing to receive: a poller would wait for good");
	expect_refused(&x, 0, "past the producer");
	teardown(&x);
}

Test(ring_lap, spsc_header_wiped_below_the_tail)
{
	/* the outside-in finding: a zeroed header at the consumer's position
	   read as "nothing yet" for good, with committed messages behind it,
	   a poller never woken and the producer finally out of room */
	struct ring2 x;
	setup(&x, false);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_send(&x.tx, "hello", 5, IPK__NOW), 5);
	memset(x.data, 0, 16);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ipk__ring_send(&x.tx, "next", 4, IPK__NOW), 4);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	cr_expect_eq(ipk__ring_readable(&x.rx), 1, "a wiped header reads as "
	             "nothing to receive: a poller would wait for good");
	expect_refused(&x, 0, "wiped");
	teardown(&x);
}

Test(ring_lap, spsc_empty_ring_is_not_wiped)
{
	/* the check must not mistake the ordinary states for a wiped header:
	   an empty ring, and one emptied after messages and a lap's skip */
	struct ring2 x;
	setup(&x, false);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	unsigned char buf[CAP];
	cr_expect_eq(ipk__ring_readable(&x.rx), 0);
	cr_expect_eq(recv_now(&x, buf, sizeof buf, IPK__NOW), -EAGAIN);
	static unsigned char msg[3000];
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(ipk__ring_send(&x.tx, msg, sizeof msg, IPK__NOW),
		             (ssize_t)sizeof msg, "%s", ipk_last_error());
		cr_assert_eq(recv_now(&x, buf, sizeof buf, IPK__NOW),
		             (ssize_t)sizeof msg, "%s", ipk_last_error());
		cr_expect_eq(ipk__ring_readable(&x.rx), 0);
		int64_t soon = ipk__now_ns() + 2 * 1000000LL;
		cr_expect_eq(recv_now(&x, buf, sizeof buf, soon), -ETIMEDOUT, "%s",
		             ipk_last_error());
	}
	teardown(&x);
}

Test(ring_lap, mpmc_size_that_jumps_a_lap)
{
	/* the outside-in finding: one size word made the capacity, so the
	   next position is the same record one lap on; it was delivered
	   again and again for ever */
	struct ring2 x;
	setup(&x, true);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_send(&x.tx, "hello", 5, IPK__NOW), 5);
	uint64_t sz = CAP;
	memcpy(x.data + 8, &sz, 8);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	expect_refused(&x, 1, "another lap");
	teardown(&x);
}

Test(ring_lap, mpmc_consumer_position_a_lap_ahead)
{
	struct ring2 x;
	setup(&x, true);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_send(&x.tx, "hello", 5, IPK__NOW), 5);
	cr_assert_eq(ipk__ring_send(&x.tx, "world", 5, IPK__NOW), 5);
	atomic_store(&x.h->head, LAP);
	atomic_store(&x.h->rhead, LAP);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	expect_refused(&x, 0, "another lap");
	teardown(&x);
}

Test(ring_lap, mpmc_consumer_position_past_the_tail_waits_no_more)
{
	struct ring2 x;
	setup(&x, true);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_send(&x.tx, "hello", 5, IPK__NOW), 5);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	char buf[16];
	cr_assert_eq(recv_now(&x, buf, sizeof buf, IPK__NOW), 5);
	atomic_store(&x.h->head, x.h->head + LAP + 64);
	atomic_store(&x.h->rhead, x.h->head);
	cr_expect_eq(ipk__ring_readable(&x.rx), 1, "a spoiled position reads "
	             "as nothing to receive: a poller would wait for good");
	expect_refused(&x, 0, "past the producers");
	teardown(&x);
}

/* ------------------------------------------- the largest message, again */

/* The largest message into an empty ring. Where the last record left the
   lap's end too short for it, the producer fills that end, and the
   message fits once a receiver has stepped over the filler (any receive
   does): until then the filler is unread. */
static void send_largest(struct ring2 *x, const void *msg, size_t max)
{
	ssize_t n = ipk__ring_send(&x->tx, msg, max, IPK__NOW);
	if (n == -EAGAIN) {
		unsigned char got[16];
		cr_assert_eq(recv_now(x, got, sizeof got, IPK__NOW), -EAGAIN);
		n = ipk__ring_send(&x->tx, msg, max, IPK__NOW);
	}
	cr_assert_eq(n, (ssize_t)max, "%zd (%s)", n, ipk_last_error());
}

static void largest_again(bool mpmc)
{
	struct ring2 x;
	setup(&x, mpmc);
	size_t max = ipk__ring_max_message(x.cap, mpmc);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	static unsigned char msg[CAP], got[CAP];
	/* from every place in the lap the tail can be left at */
	for (uint32_t round = 0; round < 40; round++) {
		size_t small = (round * 208) % (max / 2);
		ipkt_fill(msg, small, round);
		cr_assert_eq(ipk__ring_send(&x.tx, msg, small, IPK__NOW),
		             (ssize_t)small, "%s", ipk_last_error());
		cr_assert_eq(recv_now(&x, got, sizeof got, IPK__NOW), (ssize_t)small);
		ipkt_fill(msg, max, round * 3);
		send_largest(&x, msg, max);
		cr_assert_eq(recv_now(&x, got, sizeof got, IPK__NOW), (ssize_t)max);
		cr_assert(ipkt_check(got, max, round * 3));
		/* received: the ring is empty again, and takes another one with
		   nobody receiving meanwhile (it used to be "full" for good) */
		for (uint32_t k = 1; k < 3; k++) {
			ipkt_fill(msg, max, round * 3 + k);
			ssize_t n = ipk__ring_send(&x.tx, msg, max,
			                           ipk__now_ns() + 100 * 1000000LL);
			cr_assert_eq(n, (ssize_t)max,
			             "round %u, largest message %u: %zd (%s)", round, k,
			             n, ipk_last_error());
			cr_assert_eq(recv_now(&x, got, sizeof got, IPK__NOW), (ssize_t)max);
			cr_assert(ipkt_check(got, max, round * 3 + k));
		}
	}
	/* a ring it fills still takes nothing more */
	send_largest(&x, msg, max);
	cr_assert_eq(ipk__ring_send(&x.tx, msg, 1, IPK__NOW), -EAGAIN);
	teardown(&x);
}

Test(ring_lap, spsc_largest_message_fits_an_empty_ring_every_time)
{
	largest_again(false);
}

Test(ring_lap, mpmc_largest_message_fits_an_empty_ring_every_time)
{
	largest_again(true);
}

/* A producer process sends sizes that fill the ring exactly now and then
   (the largest, and pairs that add up to the capacity); the consumer
   checks each one. */
static void exact_fill_stream(bool mpmc, bool reattach)
{
	struct ring2 x;
	setup(&x, mpmc);
	size_t max = ipk__ring_max_message(x.cap, mpmc);
	size_t sizes[] = {max, 0, max - 16, 1, CAP / 2 - 16, CAP / 2 - 32, 48,
	                  CAP / 4 - 16, max - 100, 2000};
	const uint32_t total = 20000;
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		static unsigned char msg[CAP];
		struct ipk__ring tx;
		for (uint32_t i = 0; i < total; i++) {
			/* now and then a new producer takes over: it finds the
			   tail by walking the records */
			if (i == 0 || (reattach && i % 997 == 0)) {
				if (i)
					ipk__ring_detach(&tx), ipk__ring_close_fds(&tx);
				if (ipk__ring_attach(&tx, x.mem, x.size,
				                     IPK__RING_PRODUCER, "lap") < 0 ||
				    ipk__ring_register(&tx, "lap") < 0)
					_exit(2);
			}
			size_t len = sizes[(i * 7 + i / 3) % 10];
			ipkt_fill(msg, len, i);
			if (ipk__ring_send(&tx, msg, len,
			                   ipk__now_ns() + 20 * 1000000000LL) !=
			    (ssize_t)len)
				_exit(3);
		}
		_exit(0);
	}
	static unsigned char got[CAP];
	for (uint32_t i = 0; i < total; i++) {
		size_t len = sizes[(i * 7 + i / 3) % 10];
		ssize_t n = recv_now(&x, got, sizeof got,
		                     ipk__now_ns() + 20 * 1000000000LL);
		if (n != (ssize_t)len || !ipkt_check(got, len, i)) {
			kill(pid, SIGKILL);
			ipkt_wait_child(pid);
			cr_assert_fail("message %u: %zd bytes, want %zu (%s)", i, n, len,
			               n < 0 ? ipk_last_error() : "content");
		}
	}
	cr_expect_eq(ipkt_wait_child(pid), 0);
	teardown(&x);
}

Test(ring_lap, spsc_exact_fills_between_processes, .timeout = 120)
{
	exact_fill_stream(false, false);
}

Test(ring_lap, spsc_exact_fills_with_producers_taking_over, .timeout = 120)
{
	exact_fill_stream(false, true);
}

Test(ring_lap, mpmc_exact_fills_between_processes, .timeout = 120)
{
	exact_fill_stream(true, true);
}

Test(ring_lap, spsc_producer_taking_over_while_a_message_is_read)
{
	/*
	 * A producer that attaches while the consumer finishes a message:
	 * the consumer has zeroed the record's header but its new position
	 * is not visible yet (the two stores of a release, seen half done).
	 * A producer that found its place by walking from the consumer's
	 * position met that zero and wrote behind the consumer: the next
	 * message was never delivered.
	 */
	struct ring2 x;
	setup(&x, false);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	cr_assert_eq(ipk__ring_send(&x.tx, "first", 5, IPK__NOW), 5);
	ipk__ring_detach(&x.tx);
	ipk__ring_close_fds(&x.tx);
	cr_assert_eq(ipk__ring_register(&x.rx, "lap"), 0);
	char buf[128];
	cr_assert_eq(recv_now(&x, buf, sizeof buf, IPK__NOW), 5);
	uint64_t now = atomic_load(&x.h->head);
	cr_assert_eq(now, 32);
	atomic_store(&x.h->head, 0); /* the consumer's store, not seen yet */
	cr_assert_eq(ipk__ring_attach(&x.tx, x.mem, x.size, IPK__RING_PRODUCER,
	                              "lap"), 0);
	cr_assert_eq(ipk__ring_register(&x.tx, "lap"), 0);
	atomic_store(&x.h->head, now); /* ...and now it is */
	static const char second[] = "the second message, long enough to "
	                             "cover the consumer's position";
	cr_assert_eq(ipk__ring_send(&x.tx, second, sizeof second, IPK__NOW),
	             (ssize_t)sizeof second);
	ssize_t n = recv_now(&x, buf, sizeof buf, ipk__now_ns() + 200 * 1000000LL);
	cr_assert_eq(n, (ssize_t)sizeof second, "%zd (%s)", n,
	             n < 0 ? ipk_last_error() : "");
	cr_assert_str_eq(buf, second);
	teardown(&x);
}
