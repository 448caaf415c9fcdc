/*
 * SPSC crash windows: a release is two stores (the consumer marks the
 * header it leaves, then publishes its new position), a send is two (the
 * producer publishes the header, then its position). A process killed
 * between the two must leave a ring that the next consumer or producer
 * reads correctly: it delivers everything after the message being read
 * (nothing else lost, nothing twice), within its timeout, never a hang.
 *
 * The consumer's window is hit exactly: a child receiving from the ring
 * kills itself with SIGKILL at the step between the two stores (through
 * ipk__ring_hook), on a message and on a SKIP record, with the ring full
 * and with a poll()ing successor. The producer's windows, and both at
 * once, are laid out by hand in memory this test maps (what the stores
 * that did happen left). And the word a release leaves is hostile input
 * like any other.
 */
#define _GNU_SOURCE
#include "util.h"
#include "ring_tsan.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring_pair.h"

/* ------------------------------------------------- a consumer killed */

static int die_after;

static void die_at(const char *step)
{
	if (strcmp(step, "release:left") == 0 && --die_after == 0)
		raise(SIGKILL);
}

/* A consumer child: listens on url (creating the ring), says so on
   ready_fd, waits for the go on go_fd, then receives until the die_after-th
   release, where it kills itself between its two stores. It peeks and
   releases, as relay does (the copying fast path has no hook). */
static pid_t dying_consumer(const char *url, int releases, int *ready_rd,
                            int *go_wr)
{
	int ready[2], go[2];
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		ipk_chan *c;
		if (ipk_listen(&c, url) < 0)
			_exit(3);
		char b = 'r';
		if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(4);
		die_after = releases;
		ipk__ring_hook = die_at;
		for (;;) {
			const void *p;
			if (ipk_recv_peek(c, &p, 5000) < 0)
				_exit(5); /* the ring ran dry before the step */
			ipk_recv_release(c);
		}
	}
	close(ready[1]);
	close(go[0]);
	*ready_rd = ready[0];
	*go_wr = go[1];
	return pid;
}

static void go(int go_wr)
{
	char b = 'g';
	cr_assert_eq(write(go_wr, &b, 1), 1);
	close(go_wr);
}

static void await_listener(int ready_rd)
{
	ipkt_await(ready_rd);
	close(ready_rd);
}

/* Receive message seq (len bytes, ipkt_fill) within 2 s. */
static void expect_msg(ipk_chan *rx, uint32_t seq, size_t len)
{
	static unsigned char buf[8192];
	ssize_t n = ipk_recv(rx, buf, sizeof buf, 2000);
	cr_assert_eq(n, (ssize_t)len, "message %u: %zd (%s)", seq, n,
	             n < 0 ? ipk_last_error() : "wrong length");
	cr_assert(ipkt_check(buf, len, seq), "message %u: wrong bytes", seq);
}

static void send_msg(ipk_chan *tx, uint32_t seq, size_t len, int ms)
{
	static unsigned char buf[8192];
	ipkt_fill(buf, len, seq);
	ssize_t n = ipk_send(tx, buf, len, ms);
	cr_assert_eq(n, (ssize_t)len, "message %u: %zd (%s)", seq, n,
	             n < 0 ? ipk_last_error() : "");
}

/* Then the ring goes on working, lap after lap, in both directions of
   every wrap. */
static void keeps_working(ipk_chan *rx, ipk_chan *tx)
{
	for (uint32_t i = 0; i < 3000; i++) {
		size_t len = 1 + (i * 37) % 1500;
		send_msg(tx, 100000 + i, len, 2000);
		expect_msg(rx, 100000 + i, len);
	}
	char b;
	cr_expect_eq(ipk_recv(rx, &b, 1, 0), -EAGAIN);
}

static const char *url_of(const char *tag)
{
	static char url[300];
	/* 12 KiB: 8 KiB of records after a 4 KiB header */
	snprintf(url, sizeof url, "shm:%s?size=12K", ipkt_name(tag));
	return url;
}

/*
 * Killed between marking a message's header and publishing its position,
 * with the ring full (the record before the hole ends right at it, and the
 * producer can send nothing until the hole is passed). The successor gets
 * every message after the one the dead consumer was taking.
 */
Test(release, spsc_consumer_killed_leaving_a_message, .timeout = 60)
{
	const char *url = url_of("relmsg");
	int ready, gow;
	pid_t pid = dying_consumer(url, 3, &ready, &gow);
	await_listener(ready);
	ipk_chan *tx = ipkt_dial_ok(url);
	uint32_t sent = 0;
	static unsigned char buf[100];
	for (;; sent++) {
		ipkt_fill(buf, sizeof buf, sent);
		ssize_t n = ipk_send(tx, buf, sizeof buf, 0);
		if (n == -EAGAIN)
			break;
		cr_assert_eq(n, (ssize_t)sizeof buf, "%s", ipk_last_error());
	}
	cr_assert_eq(sent, 64, "8 KiB holds 64 records of 128 bytes");
	go(gow);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL,
	             "the consumer did not die between its two stores");
	/* 0 and 1 were delivered, 2 went with its reader */
	int64_t t0 = ipkt_now_ms();
	ipk_chan *rx = ipkt_listen_ok(url);
	for (uint32_t i = 3; i < sent; i++)
		expect_msg(rx, i, sizeof buf);
	cr_expect_lt(ipkt_now_ms() - t0, 1500, "the hole held the successor for "
	             "%lld ms", (long long)(ipkt_now_ms() - t0));
	keeps_working(rx, tx);
	ipk_close(tx);
	ipk_close(rx);
	cr_expect_eq(ipk_remove(url), -ENOENT);
}

/*
 * The same with a successor that waits in poll() on the ring's descriptor
 * (as relay and recv with several inputs do): the descriptor must be
 * readable, although no producer publishes anything (the ring is full).
 */
Test(release, spsc_consumer_killed_then_polled, .timeout = 60)
{
	const char *url = url_of("relpoll");
	int ready, gow;
	pid_t pid = dying_consumer(url, 1, &ready, &gow);
	await_listener(ready);
	ipk_chan *tx = ipkt_dial_ok(url);
	uint32_t sent = 0;
	static unsigned char buf[1000];
	for (;; sent++) {
		ipkt_fill(buf, sizeof buf, sent);
		ssize_t n = ipk_send(tx, buf, sizeof buf, 0);
		if (n == -EAGAIN)
			break;
		cr_assert_eq(n, (ssize_t)sizeof buf, "%s", ipk_last_error());
	}
	go(gow);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL);
	ipk_chan *rx = ipkt_listen_ok(url);
	int fd = ipk_fd(rx);
	cr_assert_geq(fd, 0, "%s", ipk_last_error());
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 2000), 1, "the successor's descriptor never "
	             "became readable");
	for (uint32_t i = 1; i < sent; i++)
		expect_msg(rx, i, sizeof buf);
	/* and room comes back */
	send_msg(tx, sent, sizeof buf, 2000);
	expect_msg(rx, sent, sizeof buf);
	keeps_working(rx, tx);
	ipk_close(tx);
	ipk_close(rx);
	cr_expect_eq(ipk_remove(url), -ENOENT);
}

/*
 * Killed between marking a SKIP record (the filler at the end of a lap)
 * and publishing its position past it: no message is lost at all.
 */
Test(release, spsc_consumer_killed_leaving_a_skip, .timeout = 60)
{
	const char *url = url_of("relskip");
	int ready, gow;
	/* seven 1100-byte messages (1120-byte records) end at 7840: the
	   eighth does not fit the 352 bytes before the end of the lap, so a
	   SKIP fills them; its release is the eighth */
	pid_t pid = dying_consumer(url, 8, &ready, &gow);
	await_listener(ready);
	ipk_chan *tx = ipkt_dial_ok(url);
	static unsigned char buf[1100];
	for (uint32_t i = 0; i < 7; i++)
		send_msg(tx, i, sizeof buf, 0);
	ipkt_fill(buf, sizeof buf, 7);
	cr_assert_eq(ipk_send(tx, buf, sizeof buf, 0), -EAGAIN,
	             "the eighth fitted: no SKIP");
	go(gow);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL,
	             "the consumer did not die leaving the SKIP");
	/* the dead consumer's position is at the SKIP: there is room for the
	   eighth at the start of the next lap */
	send_msg(tx, 7, sizeof buf, 2000);
	ipk_chan *rx = ipkt_listen_ok(url);
	expect_msg(rx, 7, sizeof buf);
	keeps_working(rx, tx);
	ipk_close(tx);
	ipk_close(rx);
	cr_expect_eq(ipk_remove(url), -ENOENT);
}

/* ------------------------------------ windows laid out in memory by hand */

#define CAP 8192
#define LAP (UINT64_C(1) << 40)

struct ring2 {
	unsigned char *map;
	size_t map_len;
	unsigned char *mem;
	size_t size;
	struct ipk__ring_hdr *h;
	unsigned char *data;
	struct ipk__ring rx, tx;
};

/* The ring ends where 1 MiB of inaccessible pages begins: an access past
   it is a crash, not a silent read. */
static void setup(struct ring2 *x)
{
	memset(x, 0, sizeof *x);
	x->size = ipk__ring_hdr_size(1) + CAP;
	x->map_len = x->size + (1 << 20);
	x->map = mmap(NULL, x->map_len, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS,
	              -1, 0);
	cr_assert_neq(x->map, MAP_FAILED);
	cr_assert_eq(mprotect(x->map, x->size, PROT_READ | PROT_WRITE), 0);
	x->mem = x->map;
	x->h = rp_open(x->mem, x->size, false, CAP, "rel", &x->rx, &x->tx);
	x->data = x->mem + x->h->hdr_size;
	cr_assert_eq(ipk__ring_register(&x->tx, "rel"), 0);
	cr_assert_eq(ipk__ring_register(&x->rx, "rel"), 0);
}

static void teardown(struct ring2 *x)
{
	rp_close(&x->rx, &x->tx);
	munmap(x->map, x->map_len);
}

/* The consumer or producer dies (its handle is dropped without a word)
   and a successor attaches in its place. */
static void successor(struct ring2 *x, struct ipk__ring *r,
                      enum ipk__ring_role role)
{
	struct ipk__ring_slot *s = &x->h->slots[role == IPK__RING_CONSUMER ? 0 : 1];
	atomic_store(&s->owner, 0);
	ipk__ring_close_fds(r);
	cr_assert_eq(ipk__ring_attach(r, x->mem, x->size, role, "rel"), 0);
	int rc = ipk__ring_register(r, "rel");
	cr_assert_eq(rc, 0, "%s", ipk_last_error());
}

static ssize_t recv_in(struct ipk__ring *r, void *buf, size_t cap,
                       int64_t deadline)
{
	ipk_msginfo info = {0};
	ipk__rx b = {.buf = buf, .cap = cap, .info = &info, .maxmsg = cap};
	return ipk__ring_recv(r, &b, deadline);
}

static void expect_in(struct ring2 *x, const char *want)
{
	char buf[256];
	ssize_t n = recv_in(&x->rx, buf, sizeof buf,
	                    ipk__now_ns() + 1000 * 1000000LL);
	cr_assert_eq(n, (ssize_t)strlen(want), "expected '%s': %zd (%s)", want, n,
	             n < 0 ? ipk_last_error() : "");
	cr_assert(memcmp(buf, want, (size_t)n) == 0, "expected '%s'", want);
}

static void expect_empty(struct ring2 *x)
{
	char buf[256];
	ssize_t n = recv_in(&x->rx, buf, sizeof buf, IPK__NOW);
	cr_assert_eq(n, -EAGAIN, "%zd (%s)", n, n < 0 ? ipk_last_error() : "");
}

static void send_in(struct ring2 *x, const char *m)
{
	ssize_t n = ipk__ring_send(&x->tx, m, strlen(m), IPK__NOW);
	cr_assert_eq(n, (ssize_t)strlen(m), "%s", ipk_last_error());
}

/* Both successors, then traffic over several laps. */
static void goes_on(struct ring2 *x)
{
	char m[64];
	for (int i = 0; i < 2000; i++) {
		snprintf(m, sizeof m, "lap message %d%*s", i, i % 40, "");
		send_in(x, m);
		expect_in(x, m);
	}
	expect_empty(x);
}

Test(release, spsc_producer_killed_before_its_position)
{
	/* the header is published, the position is not: the successor walks
	   over that record and sends after it */
	struct ring2 x;
	setup(&x);
	send_in(&x, "first");
	uint64_t t = atomic_load(&x.h->tail);
	send_in(&x, "second");
	atomic_store(&x.h->tail, t);
	successor(&x, &x.tx, IPK__RING_PRODUCER);
	send_in(&x, "third");
	expect_in(&x, "first");
	expect_in(&x, "second");
	expect_in(&x, "third");
	goes_on(&x);
	teardown(&x);
}

Test(release, spsc_producer_killed_before_its_position_and_read)
{
	/* ...and the consumer read that record and moved on before the
	   successor attached: the successor starts where the consumer is */
	struct ring2 x;
	setup(&x);
	send_in(&x, "first");
	uint64_t t = atomic_load(&x.h->tail);
	send_in(&x, "second");
	atomic_store(&x.h->tail, t);
	expect_in(&x, "first");
	expect_in(&x, "second");
	successor(&x, &x.tx, IPK__RING_PRODUCER);
	send_in(&x, "third");
	expect_in(&x, "third");
	goes_on(&x);
	teardown(&x);
}

Test(release, spsc_producer_takes_over_during_a_release_past_its_position)
{
	/*
	 * The producer died after publishing a header and before its
	 * position; the (live) consumer reads that record and is between its
	 * two stores when the successor attaches: the header is marked, the
	 * consumer's position not yet moved. The successor must not start at
	 * the marked record (behind where the consumer is about to be).
	 */
	struct ring2 x;
	setup(&x);
	send_in(&x, "first");
	uint64_t t = atomic_load(&x.h->tail);
	send_in(&x, "second");
	atomic_store(&x.h->tail, t);
	expect_in(&x, "first");
	expect_in(&x, "second");
	uint64_t hd = atomic_load(&x.h->head);
	atomic_store(&x.h->head, t); /* the position, not seen yet */
	successor(&x, &x.tx, IPK__RING_PRODUCER);
	atomic_store(&x.h->head, hd); /* ...and now it is */
	send_in(&x, "third");
	expect_in(&x, "third");
	goes_on(&x);
	teardown(&x);
}

Test(release, spsc_both_killed_in_their_windows)
{
	/* the producer died before its position, the consumer read that
	   record and died before its own: both successors go on after it */
	struct ring2 x;
	setup(&x);
	send_in(&x, "first");
	uint64_t t = atomic_load(&x.h->tail);
	send_in(&x, "second");
	atomic_store(&x.h->tail, t);
	expect_in(&x, "first");
	expect_in(&x, "second");
	atomic_store(&x.h->head, t); /* its last store did not happen */
	successor(&x, &x.tx, IPK__RING_PRODUCER);
	successor(&x, &x.rx, IPK__RING_CONSUMER);
	send_in(&x, "third");
	expect_in(&x, "third");
	expect_empty(&x);
	goes_on(&x);
	teardown(&x);
}

Test(release, spsc_word_left_laps_ago_under_a_skip)
{
	/*
	 * The producer writes no terminator where its map says a header
	 * stood a lap before (the consumer's READ word there says "nothing
	 * yet"). A SKIP writes only its header: a READ word under it, left
	 * two laps before, is still there when the next lap stops at that
	 * place, and must not be taken for the lap before's.
	 */
	struct ring2 x;
	setup(&x);
	static char m[CAP];
	/* records of n bytes: messages of n - 16 */
	static const struct {
		uint64_t rec;
		const char *where;
	} seq[] = {
		{7936, "lap 0 at 0"},
		{256, "lap 0 at 7936: its READ word stays there"},
		{7680, "lap 1 at 0"},
		{1024, "a SKIP over 7680..8192 of lap 1, then lap 2 at 0"},
		{6912, "lap 2 at 1024: the next stops at 7936"},
	};
	for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
		size_t len = (size_t)seq[i].rec - 16;
		memset(m, 'a' + (int)i, len);
		ssize_t n = ipk__ring_send(&x.tx, m, len, IPK__NOW);
		cr_assert_eq(n, (ssize_t)len, "%s: %s", seq[i].where,
		             ipk_last_error());
		n = recv_in(&x.rx, m, sizeof m, IPK__NOW);
		cr_assert_eq(n, (ssize_t)len, "%s: %zd (%s)", seq[i].where, n,
		             n < 0 ? ipk_last_error() : "");
		cr_assert_eq(m[len - 1], 'a' + (int)i);
	}
	cr_assert_eq(atomic_load(&x.h->tail), 2 * LAP + 7936);
	expect_empty(&x);
	send_in(&x, "at 7936 of lap 2");
	expect_in(&x, "at 7936 of lap 2");
	goes_on(&x);
	teardown(&x);
}

/* ---------------------------------------------- the word, as hostile input */

/* What a release leaves at a header: state 6, the lap, the bytes covered. */
static uint64_t left_word(uint64_t pos, uint64_t n)
{
	return ((pos >> 40 & 63) << 36) | (UINT64_C(6) << 32) | n;
}

static void put64(struct ring2 *x, uint64_t off, uint64_t v)
{
	memcpy(x->data + off, &v, 8);
}

static void expect_proto(struct ring2 *x, const char *what)
{
	char buf[256];
	ssize_t n = recv_in(&x->rx, buf, sizeof buf, IPK__NOW);
	cr_assert_eq(n, -EPROTO, "%zd (%s)", n, n < 0 ? ipk_last_error() : "");
	cr_expect(what == NULL || strstr(ipk_last_error(), what) != NULL,
	          "'%s' not in: %s", what, ipk_last_error());
	/* and readiness says there is something to report where the word
	   is read */
	if (what != NULL)
		cr_expect_eq(ipk__ring_readable(&x->rx), 1);
}

Test(release, spsc_left_word_lengths)
{
	static const uint64_t lens[] = {0, 8, 24, CAP + 16, 0xfffffff0u};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct ring2 x;
		setup(&x);
		put64(&x, 0, left_word(0, lens[i]));
		expect_proto(&x, "released record");
		teardown(&x);
	}
}

Test(release, spsc_left_words_all_round)
{
	/* a lap of words saying "released", with nothing sent: the consumer
	   steps over them to the next lap, where it is past the producer */
	struct ring2 x;
	setup(&x);
	for (uint64_t off = 0; off < CAP; off += 16)
		put64(&x, off, left_word(0, 16));
	expect_proto(&x, NULL);
	teardown(&x);
}

Test(release, spsc_left_word_of_an_older_lap)
{
	/* the word of the lap before is "nothing yet"; older ones were never
	   left by this ring's consumer */
	struct ring2 x;
	setup(&x);
	put64(&x, 0, left_word(LAP * 63, 32));
	expect_empty(&x);
	put64(&x, 0, left_word(LAP * 62, 32));
	expect_proto(&x, "another lap");
	teardown(&x);
}

Test(release, spsc_left_word_walked_by_a_producer)
{
	/* a successor producer walks released words too: one that runs off
	   the end is refused, not followed */
	struct ring2 x;
	setup(&x);
	put64(&x, 0, left_word(0, CAP + 16));
	ipk__ring_close_fds(&x.tx);
	atomic_store(&x.h->slots[1].owner, 0);
	cr_assert_eq(ipk__ring_attach(&x.tx, x.mem, x.size, IPK__RING_PRODUCER,
	                              "rel"), 0);
	cr_assert_eq(ipk__ring_register(&x.tx, "rel"), -EPROTO);
	cr_expect(strstr(ipk_last_error(), "released record") != NULL, "%s",
	          ipk_last_error());
	teardown(&x);
}

Test(release, spsc_version_3_ring_refused)
{
	/* a version 3 consumer left 0 where this one leaves READ words: the
	   two cannot share a ring, and the message says which is older */
	size_t size = ipk__ring_hdr_size(1) + CAP;
	unsigned char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
	                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(mem, MAP_FAILED);
	cr_assert_eq(ipk__ring_format(mem, size, false, false), 0);
	((struct ipk__ring_hdr *)(void *)mem)->version = 3;
	struct ipk__ring r;
	cr_assert_eq(ipk__ring_attach(&r, mem, size, IPK__RING_CONSUMER, "old"),
	             -EPROTO);
	cr_expect(strstr(ipk_last_error(), "layout version 3, made by an older") !=
	              NULL, "%s", ipk_last_error());
	cr_expect(strstr(ipk_last_error(), "reads version 4") != NULL, "%s",
	          ipk_last_error());
	munmap(mem, size);
}
