/*
 * The ring channel beyond the conformance contract: zero-copy, wraps and
 * skips, MPMC, waiting modes, the doorbell fd, refusing regions that are
 * not rings (including random garbage), persistence. Threads stand in for
 * processes where ThreadSanitizer should see both sides.
 */
#define _GNU_SOURCE
#include "util.h"
#include "ring_tsan.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"

static char *ring_url(const char *opts)
{
	static _Thread_local char buf[4][300];
	static _Thread_local int i;
	char *b = buf[i++ % 4];
	snprintf(b, sizeof buf[0], "shm:%s%s%s", ipkt_name("ring"),
	         opts && *opts ? "?" : "", opts ? opts : "");
	return b;
}

static ipk_chan *listen_on(const char *url)
{
	ipk_chan *c = NULL;
	int rc = ipk_listen(&c, url);
	cr_assert_eq(rc, 0, "listen %s: %s", url, ipk_last_error());
	return c;
}

static ipk_chan *dial_to(const char *url)
{
	ipk_chan *c = NULL;
	int rc = ipk_dial(&c, url, 5000);
	cr_assert_eq(rc, 0, "dial %s: %s", url, ipk_last_error());
	return c;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------------------------------------------- threads as processes */

struct flow {
	ipk_chan *tx, *rx;
	uint32_t count;
	size_t maxlen;
	bool zero_copy;
	int failed;
};

static size_t len_of(uint32_t i, size_t maxlen)
{
	/* sizes that land records on every offset, now and then a big one */
	size_t len = (i * 2654435761u) % 97;
	if (i % 61 == 0)
		len = maxlen;
	else if (i % 13 == 0)
		len = (i * 40503u) % maxlen;
	return len < 4 ? 4 : len;
}

static void *producer(void *arg)
{
	struct flow *f = arg;
	unsigned char *buf = malloc(f->maxlen);
	for (uint32_t i = 0; i < f->count && !f->failed; i++) {
		size_t len = len_of(i, f->maxlen);
		if (f->zero_copy) {
			void *p;
			/* borrow more than needed, commit what was written */
			ssize_t n = ipk_send_borrow(f->tx, &p, f->maxlen, 10000);
			if (n != (ssize_t)f->maxlen) {
				f->failed = 1;
				break;
			}
			ipkt_fill(p, len, i);
			memcpy(p, &i, 4);
			if (ipk_send_commit(f->tx, len) != (ssize_t)len)
				f->failed = 2;
		} else {
			ipkt_fill(buf, len, i);
			memcpy(buf, &i, 4);
			if (ipk_send(f->tx, buf, len, 10000) != (ssize_t)len)
				f->failed = 3;
		}
	}
	free(buf);
	return NULL;
}

static void consume(struct flow *f)
{
	unsigned char *buf = malloc(f->maxlen), *want = malloc(f->maxlen);
	for (uint32_t i = 0; i < f->count; i++) {
		size_t len = len_of(i, f->maxlen);
		const unsigned char *got;
		ssize_t n;
		if (f->zero_copy) {
			const void *p;
			n = ipk_recv_peek(f->rx, &p, 10000);
			got = p;
		} else {
			n = ipk_recv(f->rx, buf, f->maxlen, 10000);
			got = buf;
		}
		cr_assert_eq(n, (ssize_t)len, "message %u: %zd (%s)", i, n,
		             n < 0 ? ipk_last_error() : "");
		ipkt_fill(want, len, i);
		memcpy(want, &i, 4);
		cr_assert(memcmp(got, want, len) == 0, "message %u corrupted", i);
		if (f->zero_copy)
			cr_assert_eq(ipk_recv_release(f->rx), 0);
	}
	free(buf);
	free(want);
}

/* Both ends of a pair share one mapping, so ThreadSanitizer sees the
   producer's stores and the consumer's loads at the same addresses (two
   mappings of one object would look like unrelated memory to it). */
static void flow_threads(const char *opts, bool zero_copy, uint32_t count,
                         size_t maxlen)
{
	char url[100];
	snprintf(url, sizeof url, "shm:?%s", opts);
	struct flow f = {.count = count, .maxlen = maxlen, .zero_copy = zero_copy};
	cr_assert_eq(ipk_pair(url, &f.rx, &f.tx), 0, "%s", ipk_last_error());
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, producer, &f), 0);
	consume(&f);
	pthread_join(t, NULL);
	cr_expect_eq(f.failed, 0, "producer failed (%d)", f.failed);
	cr_expect_eq(ipk_close(f.tx), 0);
	cr_expect_eq(ipk_close(f.rx), 0);
}

/* a small ring wraps thousands of times, with skips at the end */
/* The junk regions below are no rings: ipk_remove takes them as regions. */
static const char *region_url(const char *url)
{
	static char buf[320];
	snprintf(buf, sizeof buf, "%s?region", url);
	return buf;
}

Test(ring, spsc_copy_threads) { flow_threads("size=16K", false, 100000, 3000); }
Test(ring, spsc_zero_copy_threads) { flow_threads("size=16K", true, 100000, 3000); }
Test(ring, mpmc_copy_threads) { flow_threads("size=16K&mpmc", false, 50000, 3000); }
Test(ring, mpmc_zero_copy_threads) { flow_threads("size=16K&mpmc", true, 50000, 3000); }
Test(ring, spin_mode_threads) { flow_threads("size=64K&wait=spin", false, 50000, 200); }
Test(ring, block_mode_threads) { flow_threads("size=8K&wait=block", false, 20000, 200); }

/* Many producers and consumers as threads, each with its own handle on
   one mapping (as processes would have, but visible to TSan). */
struct mflow {
	struct ipk__ring r;
	int id;
	uint32_t count;
	_Atomic uint64_t *sum;
	_Atomic uint32_t *received;
	uint32_t total;
	int failed;
};

static void *mpmc_producer(void *arg)
{
	struct mflow *m = arg;
	for (uint32_t i = 0; i < m->count; i++) {
		uint32_t msg[4] = {(uint32_t)m->id, i, i * 7u + (uint32_t)m->id, 0};
		msg[3] = msg[0] ^ msg[1] ^ msg[2];
		/* odd producers write in place */
		ssize_t n;
		if (m->id & 1) {
			void *p;
			n = ipk__ring_borrow(&m->r, &p, sizeof msg, IPK__NEVER);
			if (n == sizeof msg) {
				memcpy(p, msg, sizeof msg);
				n = ipk__ring_commit(&m->r, sizeof msg);
			}
		} else {
			n = ipk__ring_send(&m->r, msg, sizeof msg, IPK__NEVER);
		}
		if (n != sizeof msg) {
			m->failed = 2;
			break;
		}
	}
	ipk__ring_detach(&m->r);
	return NULL;
}

static void *mpmc_consumer(void *arg)
{
	struct mflow *m = arg;
	uint32_t last[4];
	memset(last, 0xff, sizeof last);
	while (atomic_load(m->received) < m->total) {
		uint32_t msg[4];
		const void *p;
		ssize_t n = ipk__ring_peek(&m->r, &p, ipk__deadline(50));
		if (n == -ETIMEDOUT || n == -EPIPE)
			continue;
		if (n != sizeof msg) {
			m->failed = 3;
			break;
		}
		memcpy(msg, p, sizeof msg);
		ipk__ring_release(&m->r);
		if ((msg[0] ^ msg[1] ^ msg[2]) != msg[3] || msg[0] >= 4 ||
		    msg[2] != msg[1] * 7u + msg[0]) {
			m->failed = 4;
			break;
		}
		/* each consumer sees a producer's messages in order */
		if (last[msg[0]] != 0xffffffffu && msg[1] <= last[msg[0]]) {
			m->failed = 5;
			break;
		}
		last[msg[0]] = msg[1];
		atomic_fetch_add(m->sum, msg[1]);
		atomic_fetch_add(m->received, 1);
	}
	ipk__ring_detach(&m->r);
	return NULL;
}

Test(ring, mpmc_4x4_threads, .timeout = 120)
{
	ipk_region *reg;
	size_t size = 64 * 1024;
	cr_assert_eq(ipk_region_anon(&reg, size), 0);
	void *mem = ipk_region_addr(reg);
	cr_assert_eq(ipk__ring_format(mem, size, true, false), 0);
	const uint32_t per = 20000;
	_Atomic uint64_t sum = 0;
	_Atomic uint32_t received = 0;
	struct mflow m[8];
	pthread_t t[8];
	for (int i = 0; i < 8; i++) {
		m[i] = (struct mflow){.id = i % 4, .count = per, .sum = &sum,
		                      .received = &received, .total = 4 * per};
		enum ipk__ring_role role = i < 4 ? IPK__RING_PRODUCER
		                                 : IPK__RING_CONSUMER;
		cr_assert_eq(ipk__ring_attach(&m[i].r, mem, size, role, "mpmc"), 0);
		m[i].r.wait = i % 2 ? IPK__WAIT_BLOCK : IPK__WAIT_HYBRID;
		cr_assert_eq(ipk__ring_register(&m[i].r, "mpmc"), 0, "%s",
		             ipk_last_error());
	}
	for (int i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&t[i], NULL,
		                            i < 4 ? mpmc_producer : mpmc_consumer,
		                            &m[i]), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(m[i].failed, 0, "thread %d failed (%d)", i, m[i].failed);
		ipk__ring_close_fds(&m[i].r);
	}
	cr_expect_eq(atomic_load(&received), 4 * per);
	cr_expect_eq(atomic_load(&sum), 4ull * per * (per - 1) / 2);
	ipk_region_detach(reg);
}

/* ------------------------------------------------------- zero-copy API */

Test(ring, zero_copy_rules)
{
	char *url = ring_url("size=64K");
	ipk_chan *rx = listen_on(url), *tx = dial_to(url);
	void *p;
	const void *q;
	cr_assert_eq(ipk_send_borrow(tx, &p, 100, 0), 100);
	cr_expect_eq((uintptr_t)p % 16, 0, "payloads are 16-byte aligned");
	void *p2;
	cr_expect_eq(ipk_send_borrow(tx, &p2, 10, 0), -EBUSY);
	cr_expect_eq(ipk_recv_peek(rx, &q, 0), -EAGAIN, "nothing before commit");
	cr_expect_eq(ipk_send_commit(tx, 101), -EINVAL, "more than borrowed");
	memcpy(p, "hello", 5);
	cr_assert_eq(ipk_send_commit(tx, 5), 5);
	cr_expect_eq(ipk_send_commit(tx, 5), -EINVAL, "nothing borrowed");

	/* abort gives the space back unsent */
	cr_assert_eq(ipk_send_borrow(tx, &p, 64, 0), 64);
	cr_assert_eq(ipk_send_abort(tx), 0);
	cr_assert_eq(ipk_send(tx, "world", 5, 0), 5);

	cr_assert_eq(ipk_recv_peek(rx, &q, 0), 5);
	cr_expect(memcmp(q, "hello", 5) == 0);
	cr_expect_eq((uintptr_t)q % 16, 0);
	cr_expect_eq(ipk_recv_peek(rx, &q, 0), -EBUSY);
	char buf[16];
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 0), -EBUSY);
	cr_assert_eq(ipk_recv_release(rx), 0);
	cr_expect_eq(ipk_recv_release(rx), -EINVAL);

	/* too small a buffer leaves the message in line */
	cr_expect_eq(ipk_recv(rx, buf, 2, 0), -ENOBUFS);
	cr_assert_eq(ipk_recv(rx, buf, sizeof buf, 0), 5);
	cr_expect(memcmp(buf, "world", 5) == 0);

	/* roles */
	cr_expect_eq(ipk_send_borrow(rx, &p, 1, 0), -EOPNOTSUPP);
	cr_expect_eq(ipk_recv_peek(tx, &q, 0), -EOPNOTSUPP);
	cr_expect_eq(ipk_send(rx, "x", 1, 0), -EOPNOTSUPP);
	ipk_chan *pipe_a, *pipe_b;
	cr_assert_eq(ipk_pair("pipe:", &pipe_a, &pipe_b), 0);
	cr_expect_eq(ipk_send_borrow(pipe_a, &p, 1, 0), -EOPNOTSUPP);
	ipk_close(pipe_a);
	ipk_close(pipe_b);
	ipk_close(tx);
	ipk_close(rx);
}

Test(ring, never_fits_names_capacity)
{
	const char *modes[] = {"size=64K", "size=64K&mpmc"};
	for (int m = 0; m < 2; m++) {
		char *url = ring_url(modes[m]);
		ipk_chan *rx = listen_on(url), *tx = dial_to(url);
		ipk_ringinfo info;
		cr_assert_eq(ipk_ring_info(tx, &info), 0);
		cr_expect_eq(info.mpmc, m);
		cr_expect_lt(info.capacity, 64 * 1024);
		cr_expect_gt(info.capacity, 48 * 1024); /* less the header */
		static char big[64 * 1024];
		/* the largest message fits (after the ring empties), one more does not */
		cr_expect_eq(ipk_send(tx, big, info.max_message, 1000),
		             (ssize_t)info.max_message, "%s", ipk_last_error());
		cr_expect_eq(ipk_send(tx, big, info.max_message + 1, 1000), -EMSGSIZE);
		char cap[32];
		snprintf(cap, sizeof cap, "%zu", info.capacity);
		cr_expect(strstr(ipk_last_error(), cap) != NULL,
		          "the message names the capacity: %s", ipk_last_error());
		void *got;
		cr_expect_eq(ipk_recv_alloc(rx, &got, NULL, 1000),
		             (ssize_t)info.max_message);
		free(got);
		ipk_close(tx);
		ipk_close(rx);
	}
}

Test(ring, full_and_timeouts)
{
	char *url = ring_url("size=8K");
	ipk_chan *rx = listen_on(url), *tx = dial_to(url);
	char msg[100] = {0};
	int sent = 0;
	while (ipk_send(tx, msg, sizeof msg, 0) == sizeof msg)
		sent++;
	cr_expect_eq(ipk_send(tx, msg, sizeof msg, 0), -EAGAIN);
	int64_t t0 = now_ns();
	cr_expect_eq(ipk_send(tx, msg, sizeof msg, 100), -ETIMEDOUT);
	cr_expect_geq(now_ns() - t0, 99 * 1000000);
	cr_expect_gt(sent, 30);
	for (int i = 0; i < sent; i++)
		cr_assert_eq(ipk_recv(rx, msg, sizeof msg, 0), sizeof msg);
	cr_expect_eq(ipk_recv(rx, msg, sizeof msg, 0), -EAGAIN);
	ipk_close(tx);
	ipk_close(rx);
}

/* ---------------------------------------------------- waiting modes */

struct later {
	ipk_chan *tx;
	int delay_ms;
};

static void *send_later(void *arg)
{
	struct later *l = arg;
	struct timespec ts = {0, (long)l->delay_ms * 1000000};
	nanosleep(&ts, NULL);
	ipk_send(l->tx, "late", 4, 1000);
	return NULL;
}

static double thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* a blocked receiver sleeps (hybrid spins only briefly), and wakes for the
   message */
static void blocked_receiver(const char *opts, double max_cpu_ms)
{
	char *url = ring_url(opts);
	ipk_chan *rx = listen_on(url), *tx = dial_to(url);
	struct later l = {tx, 300};
	pthread_t t;
	pthread_create(&t, NULL, send_later, &l);
	double c0 = thread_cpu_ms();
	char buf[8];
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 5000), 4, "%s", ipk_last_error());
	double used = thread_cpu_ms() - c0;
	pthread_join(t, NULL);
	cr_expect_lt(used, max_cpu_ms, "%s: a receiver blocked 300 ms used %.1f ms "
	                               "of CPU", opts, used);
	ipk_close(tx);
	ipk_close(rx);
}

Test(ring, hybrid_receiver_sleeps) { blocked_receiver("wait=hybrid", 60.0); }
Test(ring, block_receiver_sleeps) { blocked_receiver("wait=block", 60.0); }

Test(ring, bad_wait_option)
{
	ipk_chan *c;
	char *url = ring_url("wait=sometimes");
	cr_expect_eq(ipk_listen(&c, url), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "hybrid") != NULL);
	cr_expect_eq(ipk_listen(&c, ring_url("bogus=1")), -EINVAL);
}

/* --------------------------------------------------------- roles */

Test(ring, spsc_one_of_each)
{
	char *url = ring_url("size=64K");
	ipk_chan *rx = listen_on(url), *tx = dial_to(url), *c;
	cr_expect_eq(ipk_dial(&c, url, 0), -EBUSY);
	cr_expect(strstr(ipk_last_error(), "mpmc") != NULL, "%s", ipk_last_error());
	cr_expect_eq(ipk_listen(&c, url), -EADDRINUSE);
	/* a producer that leaves makes room for the next */
	ipk_close(tx);
	tx = dial_to(url);
	cr_expect_eq(ipk_send(tx, "x", 1, 0), 1);
	char b;
	cr_expect_eq(ipk_recv(rx, &b, 1, 0), 1);
	ipk_close(tx);
	ipk_close(rx);
}

Test(ring, dial_waits_and_times_out)
{
	char *url = ring_url(NULL);
	ipk_chan *c;
	int64_t t0 = now_ns();
	cr_expect_eq(ipk_dial(&c, url, 150), -ENOENT);
	cr_expect_geq(now_ns() - t0, 149 * 1000000);
}

Test(ring, persist_keeps_messages)
{
	/* mmap: the ring and what is in it outlive every process attached */
	char url[300];
	snprintf(url, sizeof url, "mmap:%s?size=64K&persist", ipkt_path("ring"));
	ipk_chan *rx = listen_on(url), *tx = dial_to(url);
	for (uint32_t i = 0; i < 10; i++)
		cr_assert_eq(ipk_send(tx, &i, sizeof i, 0), sizeof i);
	ipk_close(tx);
	ipk_close(rx);
	rx = listen_on(url);
	for (uint32_t i = 0; i < 10; i++) {
		uint32_t v;
		cr_assert_eq(ipk_recv(rx, &v, sizeof v, 0), sizeof v, "%s",
		             ipk_last_error());
		cr_expect_eq(v, i);
	}
	ipk_close(rx);
	cr_expect_eq(ipk_remove(url), 0);
}

/* ------------------------------------------------------------- poll */

Test(ring, doorbell_fd)
{
	char *url = ring_url("size=64K");
	ipk_chan *rx = listen_on(url);
	int fd = ipk_fd(rx);
	cr_assert_geq(fd, 0, "%s", ipk_last_error());
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_expect_eq(poll(&p, 1, 50), 0, "readable with nothing sent");

	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *tx;
		if (ipk_dial(&tx, url, 5000) < 0)
			_exit(3);
		for (int i = 0; i < 3; i++) {
			struct timespec ts = {0, 50 * 1000000};
			nanosleep(&ts, NULL);
			if (ipk_send(tx, "ping", 4, 1000) != 4)
				_exit(4);
		}
		_exit(ipk_close(tx) == 0 ? 0 : 5);
	}
	for (int i = 0; i < 3; i++) {
		p.revents = 0;
		cr_assert_eq(poll(&p, 1, 5000), 1, "message %d did not ring", i);
		char buf[8];
		cr_assert_eq(ipk_recv(rx, buf, sizeof buf, 0), 4, "%s", ipk_last_error());
		/* drained: not readable until the next one */
		if (i < 2) {
			ipk_pollitem it = {.chan = rx, .events = IPK_POLLIN};
			cr_expect_eq(ipk_poll(&it, 1, 0), 0);
		}
	}
	/* a mailbox: the producer leaving is nothing to receive */
	int st;
	waitpid(pid, &st, 0);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	p.revents = 0;
	cr_expect_eq(poll(&p, 1, 100), 0, "readable after the producer left");
	char b;
	cr_expect_eq(ipk_recv(rx, &b, 1, 0), -EAGAIN);
	ipk_close(rx);
}

Test(ring, doorbell_level_triggered)
{
	/* two messages, one receive: the fd must stay readable */
	char *url = ring_url("size=64K");
	ipk_chan *rx = listen_on(url), *tx = dial_to(url);
	int fd = ipk_fd(rx);
	ipk_send(tx, "a", 1, 0);
	ipk_send(tx, "b", 1, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_expect_eq(poll(&p, 1, 1000), 1);
	char c;
	cr_expect_eq(ipk_recv(rx, &c, 1, 0), 1);
	p.revents = 0;
	cr_expect_eq(poll(&p, 1, 0), 1, "one message left but not readable");
	cr_expect_eq(ipk_recv(rx, &c, 1, 0), 1);
	cr_expect_eq(c, 'b');
	p.revents = 0;
	cr_expect_eq(poll(&p, 1, 0), 0, "readable with nothing left");
	ipk_close(tx);
	ipk_close(rx);
}

Test(ring, doorbell_after_messages)
{
	/* messages that came before anyone asked for the fd make it readable */
	char *url = ring_url("size=64K");
	ipk_chan *rx = listen_on(url), *tx = dial_to(url);
	cr_assert_eq(ipk_send(tx, "early", 5, 0), 5);
	struct pollfd p = {.fd = ipk_fd(rx), .events = POLLIN};
	cr_expect_eq(poll(&p, 1, 1000), 1, "a waiting message did not ring");
	char buf[8];
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 0), 5);
	ipk_close(tx);
	p.revents = 0;
	cr_expect_eq(poll(&p, 1, 100), 0, "the producer leaving rang");
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 0), -EAGAIN);
	/* the next producer's message rings */
	tx = dial_to(url);
	cr_assert_eq(ipk_send(tx, "later", 5, 0), 5);
	p.revents = 0;
	cr_expect_eq(poll(&p, 1, 1000), 1, "a later producer did not ring");
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 0), 5);
	ipk_close(tx);
	ipk_close(rx);
}

/* ------------------------------------------------- not a ring: EPROTO */

static void write_region(const char *url, const void *bytes, size_t len)
{
	ipk_region *r;
	cr_assert_eq(ipk_region_open(&r, url, len, IPK_REGION_CREATE), 0, "%s",
	             ipk_last_error());
	memcpy(ipk_region_addr(r), bytes, len);
	ipk_region_detach(r);
}

Test(ring, refuses_regions_that_are_not_rings)
{
	size_t len = 64 * 1024;
	unsigned char *junk = malloc(len);
	for (int round = 0; round < 50; round++) {
		ipkt_fill(junk, len, (uint32_t)round);
		char url[300];
		snprintf(url, sizeof url, "shm:%s", ipkt_name("junk"));
		write_region(url, junk, len);
		ipk_chan *c;
		cr_expect_eq(ipk_dial(&c, url, 100), -EPROTO, "round %d", round);
		cr_expect(strstr(ipk_last_error(), "not an ipckit ring") != NULL,
		          "%s", ipk_last_error());
		cr_expect_eq(ipk_listen(&c, url), -EPROTO);
		cr_expect_eq(ipk_remove(region_url(url)), 0);
	}
	free(junk);

	/* a zeroed region (a creator that died before laying the ring out) */
	char url[300];
	snprintf(url, sizeof url, "shm:%s", ipkt_name("zero"));
	unsigned char zero[8192] = {0};
	write_region(url, zero, sizeof zero);
	ipk_chan *c;
	cr_expect_eq(ipk_dial(&c, url, 100), -EPROTO);
	cr_expect_eq(ipk_remove(region_url(url)), 0);
	/* too small to hold a header */
	write_region(url, zero, 100);
	cr_expect_eq(ipk_dial(&c, url, 100), -EPROTO);
	cr_expect_eq(ipk_remove(region_url(url)), 0);
}

/* A valid header with one field spoiled at a time. */
Test(ring, refuses_bad_headers)
{
	size_t len = 64 * 1024;
	unsigned char *good = calloc(1, len);
	cr_assert_eq(ipk__ring_format(good, len, false, false), 0);
	struct ipk__ring_hdr *h;
	const char *expect[] = {"magic", "version", "flags", "bytes", "bytes"};
	for (int i = 0; i < 5; i++) {
		unsigned char *b = malloc(len);
		memcpy(b, good, len);
		h = (struct ipk__ring_hdr *)b;
		switch (i) {
		case 0: atomic_store(&h->magic, 0x1234); break;
		case 1: h->version = 99; break;
		case 2: h->flags = 0x80; break;
		case 3: h->capacity = (uint64_t)len * 2; break;
		case 4: h->hdr_size = 64; break;
		}
		char url[300];
		snprintf(url, sizeof url, "shm:%s", ipkt_name("hdr"));
		write_region(url, b, len);
		ipk_chan *c;
		cr_expect_eq(ipk_dial(&c, url, 100), -EPROTO, "case %d", i);
		cr_expect(strstr(ipk_last_error(), expect[i]) != NULL, "case %d: %s",
		          i, ipk_last_error());
		cr_expect_eq(ipk_remove(region_url(url)), 0);
		free(b);
	}
	free(good);
}

/* Garbage written into a live ring: receives fail with -EPROTO (or return
   some bytes), never touch memory outside the region. Run under ASan. */
static void fuzz_records(bool mpmc)
{
	for (uint32_t round = 0; round < 300; round++) {
		ipk_region *reg;
		cr_assert_eq(ipk_region_anon(&reg, 16384), 0);
		unsigned char *m = ipk_region_addr(reg);
		cr_assert_eq(ipk__ring_format(m, 16384, mpmc, false), 0);
		struct ipk__ring rx, tx;
		cr_assert_eq(ipk__ring_attach(&tx, m, 16384, IPK__RING_PRODUCER, "fuzz"), 0);
		cr_assert_eq(ipk__ring_attach(&rx, m, 16384, IPK__RING_CONSUMER, "fuzz"), 0);
		cr_assert_eq(ipk__ring_register(&rx, "fuzz"), 0);
		cr_assert_eq(ipk__ring_register(&tx, "fuzz"), 0);
		unsigned char msg[200] = {0};
		for (int i = 0; i < 20; i++)
			ipk__ring_send(&tx, msg, (size_t)(i * 37) % 200, IPK__NOW);
		/* spoil records, then positions */
		struct ipk__ring_hdr *h = (void *)m;
		unsigned char *data = m + h->hdr_size;
		uint32_t x = round * 2654435761u + 1;
		for (int k = 0; k < 8; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			size_t off = x % (h->capacity - 8);
			uint64_t v = ((uint64_t)x << 32) | (x * 40503u);
			if (k & 1)
				v &= 0x00000000ffffffffull | (2ull << 32); /* plausible state */
			memcpy(data + off, &v, sizeof v);
		}
		if (round % 3 == 0)
			atomic_store(mpmc ? &h->tail : &h->head, ((uint64_t)x << 20) | x);
		if (round % 5 == 0 && !mpmc)
			rx.head = x % h->capacity & ~(uint64_t)15;
		unsigned char out[16384];
		for (int i = 0; i < 40; i++) {
			ipk_msginfo info = {0};
			ipk__rx r = {.buf = out, .cap = sizeof out, .info = &info,
			             .maxmsg = sizeof out};
			ssize_t n = ipk__ring_recv(&rx, &r, IPK__NOW);
			if (n == -EAGAIN || n == -EPROTO)
				break;
			cr_assert(n >= 0 || n == -EMSGSIZE || n == -ENOBUFS,
			          "round %u: %zd", round, n);
			ipk__ring_send(&tx, msg, 10, IPK__NOW);
		}
		ipk__ring_detach(&tx);
		ipk__ring_detach(&rx);
		ipk__ring_close_fds(&rx);
		ipk__ring_close_fds(&tx);
		ipk_region_detach(reg);
	}
}

Test(ring, fuzz_spsc_records, .timeout = 120) { fuzz_records(false); }
Test(ring, fuzz_mpmc_records, .timeout = 120) { fuzz_records(true); }
