/*
 * kill -9 at random points while messages flow: the survivor gets -EPIPE
 * within its timeout and never blocks for good, every delivered message is
 * intact and in order, and a restarted peer attaches and carries on. MPMC:
 * a producer dying between borrow and commit, a consumer dying holding a
 * message, and a process dying holding a ring lock wedge nobody.
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"

/* ------------------------------------------------------------ messages */

/* tag, sequence number, length, then a payload derived from them and a
   checksum over everything: a torn or mixed-up message cannot pass */
struct mhdr {
	uint32_t tag;
	uint32_t len;
	uint64_t seq;
	uint64_t sum;
};

#define MIN_MSG sizeof(struct mhdr)
#define MAX_MSG 2048

static uint64_t fnv(const unsigned char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static size_t msg_len(uint32_t tag, uint64_t seq)
{
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ull ^ tag;
	return MIN_MSG + (size_t)(x >> 40) % (MAX_MSG - MIN_MSG);
}

static void make_msg(unsigned char *buf, uint32_t tag, uint64_t seq)
{
	size_t len = msg_len(tag, seq);
	struct mhdr h = {tag, (uint32_t)len, seq, 0};
	ipkt_fill(buf + MIN_MSG, len - MIN_MSG, (uint32_t)(seq * 31 + tag));
	h.sum = fnv(buf + MIN_MSG, len - MIN_MSG,
	            fnv((unsigned char *)&h, offsetof(struct mhdr, sum),
	                14695981039346656037ull));
	memcpy(buf, &h, sizeof h);
}

/* 0 if buf holds an intact message of n bytes; fills tag and seq */
static int check_msg(const unsigned char *buf, size_t n, uint32_t *tag,
                     uint64_t *seq)
{
	struct mhdr h;
	if (n < MIN_MSG)
		return -1;
	memcpy(&h, buf, sizeof h);
	if (h.len != n)
		return -2;
	uint64_t sum = fnv(buf + MIN_MSG, n - MIN_MSG,
	                   fnv((unsigned char *)&h, offsetof(struct mhdr, sum),
	                       14695981039346656037ull));
	if (sum != h.sum || msg_len(h.tag, h.seq) != n)
		return -3;
	*tag = h.tag;
	*seq = h.seq;
	return 0;
}

/* Send message seq, copying or in place (written slowly, so a kill often
   lands between borrow and commit). */
static ssize_t send_msg(ipk_chan *c, uint32_t tag, uint64_t seq, bool in_place,
                        int timeout_ms)
{
	size_t len = msg_len(tag, seq);
	if (!in_place) {
		unsigned char buf[MAX_MSG];
		make_msg(buf, tag, seq);
		return ipk_send(c, buf, len, timeout_ms);
	}
	void *p;
	ssize_t n = ipk_send_borrow(c, &p, MAX_MSG, timeout_ms);
	if (n < 0)
		return n;
	unsigned char tmp[MAX_MSG];
	make_msg(tmp, tag, seq);
	for (size_t off = 0; off < len; off += 64)
		memcpy((unsigned char *)p + off, tmp + off, len - off < 64 ? len - off : 64);
	return ipk_send_commit(c, len);
}

/* --------------------------------------------------------- processes */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Wait for a child's exit, at most ms (an event, not a sleep). Returns the
   wait status, or -1 if it is still running. */
static int reap(pid_t pid, int ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		while (poll(&p, 1, ms) < 0 && errno == EINTR)
			;
		close(fd);
	}
	int st;
	pid_t r;
	while ((r = waitpid(pid, &st, fd >= 0 ? WNOHANG : 0)) < 0 && errno == EINTR)
		;
	return r == pid ? st : -1;
}

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	cr_assert_neq(reap(pid, 10000), -1, "child %d did not die", (int)pid);
}

static void expect_clean_exit(pid_t pid, int ms, const char *who)
{
	int st = reap(pid, ms);
	if (st == -1) {
		kill_and_reap(pid);
		cr_assert_fail("%s (pid %d) still running after %d ms: blocked",
		               who, (int)pid, ms);
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "%s (pid %d) failed: status %#x", who, (int)pid, st);
}

static char *ring_url(const char *opts)
{
	static char buf[300];
	snprintf(buf, sizeof buf, "shm:%s?%s", ipkt_name("crash"), opts);
	return buf;
}

static void leave_nothing(const char *url)
{
	cr_expect_eq(ipk_remove(url), -ENOENT, "%s left behind", url);
}

/* ------------------------------------------------ SPSC: producer killed */

static void producer_forever(const char *url, uint32_t tag, bool in_place,
                             int ready_fd)
{
	ipk_chan *tx;
	if (ipk_dial(&tx, url, 5000) < 0) {
		fprintf(stderr, "producer: %s\n", ipk_last_error());
		_exit(3);
	}
	if (write(ready_fd, "r", 1) != 1)
		_exit(5);
	for (uint64_t seq = 0;; seq++)
		if (send_msg(tx, tag, seq, in_place, -1) < 0) {
			fprintf(stderr, "producer: %s\n", ipk_last_error());
			_exit(4);
		}
}

Test(crash, spsc_producer_killed, .timeout = 240)
{
	char *url = ring_url("size=64K");
	ipk_chan *rx;
	cr_assert_eq(ipk_listen(&rx, url), 0, "%s", ipk_last_error());
	unsigned seed = (unsigned)getpid();
	unsigned char buf[MAX_MSG];
	uint64_t total = 0;
	for (uint32_t round = 0; round < 40; round++) {
		/* each round's producer is a new one: wait until it has attached */
		int ready[2];
		cr_assert_eq(pipe(ready), 0);
		pid_t pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0)
			producer_forever(url, round, round & 1, ready[1]);
		char b;
		cr_assert_eq(read(ready[0], &b, 1), 1, "producer did not attach");
		close(ready[0]);
		close(ready[1]);
		/* take a random number of messages, now and then pausing so the
		   producer is caught both writing and waiting for room */
		unsigned take = rnd(&seed) % 3000;
		uint64_t next = 0;
		for (unsigned i = 0; i < take; i++) {
			ssize_t n = ipk_recv(rx, buf, sizeof buf, 10000);
			cr_assert_gt(n, 0, "round %u: %s", round, ipk_last_error());
			uint32_t tag;
			uint64_t seq;
			cr_assert_eq(check_msg(buf, (size_t)n, &tag, &seq), 0,
			             "round %u: message %u corrupt", round, i);
			cr_assert(tag == round && seq == next, "round %u: got %u/%llu, "
			          "expected %u/%llu", round, tag, (unsigned long long)seq,
			          round, (unsigned long long)next);
			next++;
			if (rnd(&seed) % 500 == 0) {
				struct timespec ts = {0, (long)(rnd(&seed) % 2000) * 1000};
				nanosleep(&ts, NULL);
			}
		}
		kill_and_reap(pid);
		/* what it committed is all there, in order; then nothing, and
		   the ring says nobody is attached (a mailbox: the receive goes
		   on waiting for the next producer) */
		ssize_t n;
		while ((n = ipk_recv(rx, buf, sizeof buf, 300)) > 0) {
			uint32_t tag;
			uint64_t seq;
			cr_assert_eq(check_msg(buf, (size_t)n, &tag, &seq), 0,
			             "round %u: message after the kill corrupt", round);
			cr_assert(tag == round && seq == next, "round %u: got %llu, "
			          "expected %llu", round, (unsigned long long)seq,
			          (unsigned long long)next);
			next++;
		}
		cr_assert_eq(n, -ETIMEDOUT, "round %u: after the producer died: %zd "
		             "(%s)", round, n, ipk_last_error());
		ipk_ringinfo info;
		cr_assert_eq(ipk_ring_info(rx, &info), 0);
		cr_assert_eq(info.producers, 0, "round %u: a dead producer counted",
		             round);
		total += next;
	}
	cr_log_info("%llu messages over 40 producer lives",
	            (unsigned long long)total);
	cr_expect_eq(ipk_close(rx), 0);
	leave_nothing(url);
}

/* ------------------------------------------------ SPSC: consumer killed */

struct clog {
	_Atomic uint64_t last;  /* last sequence number taken, +1 (0: none) */
	_Atomic uint64_t count;
	_Atomic int bad;
	char why[200];
};

static void consumer_child(const char *url, struct clog *log, uint64_t floor,
                           bool zero_copy, int ready_fd)
{
	ipk_chan *rx;
	int rc = -1;
	for (int i = 0; i < 50 && rc < 0; i++)
		rc = ipk_listen(&rx, url); /* takes over the dead one's ring */
	if (rc < 0) {
		snprintf(log->why, sizeof log->why, "listen: %s", ipk_last_error());
		atomic_store(&log->bad, 1);
		_exit(3);
	}
	if (write(ready_fd, "r", 1) != 1)
		_exit(4);
	uint64_t expect = UINT64_MAX;
	for (;;) {
		unsigned char buf[MAX_MSG];
		const unsigned char *p = buf;
		ssize_t n;
		if (zero_copy) {
			const void *q;
			n = ipk_recv_peek(rx, &q, 20000);
			p = q;
		} else {
			n = ipk_recv(rx, buf, sizeof buf, 20000);
		}
		if (n < 0) {
			snprintf(log->why, sizeof log->why, "recv: %s", ipk_last_error());
			atomic_store(&log->bad, 1);
			_exit(5);
		}
		uint32_t tag;
		uint64_t seq;
		if (check_msg(p, (size_t)n, &tag, &seq) < 0) {
			snprintf(log->why, sizeof log->why, "corrupt message");
			atomic_store(&log->bad, 1);
			_exit(6);
		}
		if (tag == 0xffffffffu) { /* the end */
			/* a message peeked but not released is still in the ring,
			   which then stays for the next consumer */
			if (zero_copy)
				ipk_recv_release(rx);
			_exit(ipk_close(rx) == 0 ? 0 : 7);
		}
		/* the first may repeat what a killed consumer took but did not
		   release; after that, exactly one more each time */
		if (expect == UINT64_MAX ? seq + 1 < floor || seq > floor + 1
		                         : seq != expect) {
			snprintf(log->why, sizeof log->why,
			         "got %llu, expected %llu (floor %llu)",
			         (unsigned long long)seq, (unsigned long long)expect,
			         (unsigned long long)floor);
			atomic_store(&log->bad, 1);
			_exit(8);
		}
		expect = seq + 1;
		atomic_store(&log->last, seq + 1);
		atomic_fetch_add(&log->count, 1);
		if (zero_copy)
			ipk_recv_release(rx);
	}
}

static pid_t start_consumer(const char *url, struct clog *log, uint64_t floor,
                            bool zero_copy)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(p[0]);
		consumer_child(url, log, floor, zero_copy, p[1]);
	}
	close(p[1]);
	char b;
	cr_assert_eq(read(p[0], &b, 1), 1, "consumer did not start: %s", log->why);
	close(p[0]);
	return pid;
}

Test(crash, spsc_consumer_killed, .timeout = 240)
{
	char *url = ring_url("size=64K");
	ipk_region *shared;
	cr_assert_eq(ipk_region_anon(&shared, sizeof(struct clog)), 0);
	struct clog *log = ipk_region_addr(shared);
	unsigned seed = (unsigned)getpid() * 7;
	pid_t pid = start_consumer(url, log, 0, false);
	ipk_chan *tx;
	cr_assert_eq(ipk_dial(&tx, url, 5000), 0, "%s", ipk_last_error());
	uint64_t seq = 0;
	for (int round = 0; round < 30; round++) {
		unsigned burst = rnd(&seed) % 3000;
		for (unsigned i = 0; i < burst; i++, seq++) {
			ssize_t n = send_msg(tx, 1, seq, round & 1, 10000);
			cr_assert_gt(n, 0, "round %d: %s", round, ipk_last_error());
		}
		kill_and_reap(pid);
		cr_assert_eq(atomic_load(&log->bad), 0, "%s", log->why);
		/* keep sending: the ring holds it for a successor until full
		   (a mailbox whose listener died), then the send times out, and
		   the ring says no consumer is attached */
		ssize_t n;
		for (;;) {
			n = send_msg(tx, 1, seq, false, 300);
			if (n < 0)
				break;
			seq++;
		}
		cr_assert_eq(n, -ETIMEDOUT, "round %d: %zd (%s)", round, n,
		             ipk_last_error());
		cr_expect(strstr(ipk_last_error(), "no consumer") != NULL, "%s",
		          ipk_last_error());
		ipk_ringinfo info;
		cr_assert_eq(ipk_ring_info(tx, &info), 0);
		cr_assert_eq(info.consumers, 0, "round %d: a dead consumer counted",
		             round);
		/* a new consumer takes the ring over and goes on where the dead
		   one stopped */
		uint64_t floor = atomic_load(&log->last);
		pid = start_consumer(url, log, floor, round & 1);
	}
	/* the end marker: the last consumer drains, checks, and exits */
	unsigned char end[MAX_MSG];
	make_msg(end, 0xffffffffu, 0);
	cr_assert_gt(ipk_send(tx, end, msg_len(0xffffffffu, 0), 10000), 0);
	expect_clean_exit(pid, 30000, "last consumer");
	cr_assert_eq(atomic_load(&log->bad), 0, "%s", log->why);
	cr_expect_eq(atomic_load(&log->last), seq,
	             "the last consumer saw up to %llu of %llu",
	             (unsigned long long)atomic_load(&log->last),
	             (unsigned long long)seq);
	ipk_close(tx);
	ipk_region_detach(shared);
	leave_nothing(url);
}

/* --------------------------------------- MPMC: dead between borrow/commit */

Test(crash, mpmc_producer_dies_mid_borrow, .timeout = 120)
{
	char *url = ring_url("size=64K&mpmc");
	ipk_chan *rx;
	cr_assert_eq(ipk_listen(&rx, url), 0, "%s", ipk_last_error());
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t stuck = fork();
	cr_assert_neq(stuck, -1);
	if (stuck == 0) {
		ipk_chan *tx;
		void *buf;
		if (ipk_dial(&tx, url, 5000) < 0 ||
		    ipk_send_borrow(tx, &buf, 1000, 5000) != 1000)
			_exit(3);
		memset(buf, 'x', 500);
		if (write(p[1], "b", 1) != 1)
			_exit(4);
		for (;;)
			pause(); /* never commits */
	}
	char b;
	cr_assert_eq(read(p[0], &b, 1), 1);
	/* two producers send behind the stuck record */
	const uint64_t per = 20000;
	pid_t prod[2];
	for (int i = 0; i < 2; i++) {
		prod[i] = fork();
		cr_assert_neq(prod[i], -1);
		if (prod[i] == 0) {
			ipk_chan *tx;
			if (ipk_dial(&tx, url, 5000) < 0)
				_exit(3);
			for (uint64_t s = 0; s < per; s++)
				if (send_msg(tx, (uint32_t)i, s, s & 1, 20000) < 0) {
					fprintf(stderr, "producer: %s\n", ipk_last_error());
					_exit(4);
				}
			_exit(ipk_close(tx) == 0 ? 0 : 5);
		}
	}
	/* the consumer waits in order behind the borrow... */
	unsigned char buf[MAX_MSG];
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 200), -ETIMEDOUT);
	/* ...until its owner dies; then everything else flows */
	kill_and_reap(stuck);
	int64_t t0 = now_ms();
	uint64_t next[2] = {0, 0};
	for (uint64_t got = 0; got < 2 * per; got++) {
		ssize_t n = ipk_recv(rx, buf, sizeof buf, 10000);
		cr_assert_gt(n, 0, "after %llu messages: %s", (unsigned long long)got,
		             ipk_last_error());
		uint32_t tag;
		uint64_t seq;
		cr_assert_eq(check_msg(buf, (size_t)n, &tag, &seq), 0);
		cr_assert(tag < 2 && seq == next[tag], "producer %u: %llu, expected "
		          "%llu", tag, (unsigned long long)seq,
		          (unsigned long long)next[tag]);
		next[tag]++;
		if (got == 0)
			cr_expect_lt(now_ms() - t0, 3000, "the dead borrow held the ring "
			             "for %lld ms", (long long)(now_ms() - t0));
	}
	for (int i = 0; i < 2; i++)
		expect_clean_exit(prod[i], 30000, "producer");
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 300), -ETIMEDOUT);
	close(p[0]);
	close(p[1]);
	ipk_close(rx);
	leave_nothing(url);
}

/* ------------------------------------------- MPMC: a dead lock holder */

static void dead_lock_holder(bool consumer_lock)
{
	char *url = ring_url("size=64K&mpmc");
	ipk_chan *rx, *tx;
	cr_assert_eq(ipk_listen(&rx, url), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* a registered producer that takes the lock and dies holding it */
		ipk_chan *c;
		if (ipk_dial(&c, url, 5000) < 0)
			_exit(3);
		char plain[300];
		snprintf(plain, sizeof plain, "%.*s", (int)strcspn(url, "?"), url);
		ipk_region *r;
		if (ipk_region_open(&r, plain, 0, IPK_REGION_ATTACH) < 0)
			_exit(4);
		struct ipk__ring_hdr *h = ipk_region_addr(r);
		atomic_store(consumer_lock ? &h->cons_lock : &h->prod_lock,
		             (uint32_t)getpid());
		raise(SIGKILL);
	}
	cr_assert_neq(reap(pid, 10000), -1);
	cr_assert_eq(ipk_dial(&tx, url, 5000), 0);
	int64_t t0 = now_ms();
	cr_expect_eq(ipk_send(tx, "after", 5, 5000), 5, "%s", ipk_last_error());
	char b[8];
	cr_expect_eq(ipk_recv(rx, b, sizeof b, 5000), 5, "%s", ipk_last_error());
	cr_expect_lt(now_ms() - t0, 3000);
	ipk_close(tx);
	ipk_close(rx);
	leave_nothing(url);
}

Test(crash, mpmc_producer_lock_owner_died) { dead_lock_holder(false); }
Test(crash, mpmc_consumer_lock_owner_died) { dead_lock_holder(true); }

/* -------------------------------------------- MPMC: random kills */

#define TAGS 48
#define PER_PRODUCER 3000

struct mlog {
	_Atomic uint64_t committed[TAGS];   /* per producer: sent so far */
	_Atomic uint64_t seen[TAGS][PER_PRODUCER / 64 + 1];
	_Atomic int bad;
	_Atomic int stop;
	char why[200];
};

static void fail_log(struct mlog *m, const char *fmt, uint64_t a, uint64_t b)
{
	snprintf(m->why, sizeof m->why, fmt, (unsigned long long)a,
	         (unsigned long long)b);
	atomic_store(&m->bad, 1);
}

static void mpmc_producer_child(const char *url, struct mlog *m, uint32_t tag)
{
	ipk_chan *tx;
	if (ipk_dial(&tx, url, 5000) < 0)
		_exit(3);
	for (uint64_t s = 0; s < PER_PRODUCER; s++) {
		if (send_msg(tx, tag, s, (s + tag) & 1, 20000) < 0) {
			fail_log(m, "producer send %llu: error %llu", s, 0);
			_exit(4);
		}
		atomic_store(&m->committed[tag], s + 1);
	}
	_exit(ipk_close(tx) == 0 ? 0 : 5);
}

static void mpmc_consumer_child(const char *url, struct mlog *m, bool zc)
{
	ipk_chan *rx;
	if (ipk_listen(&rx, url) < 0)
		_exit(3);
	uint64_t last[TAGS];
	memset(last, 0xff, sizeof last);
	for (;;) {
		unsigned char buf[MAX_MSG];
		const unsigned char *p = buf;
		ssize_t n;
		if (zc) {
			const void *q;
			n = ipk_recv_peek(rx, &q, 100);
			p = q;
		} else {
			n = ipk_recv(rx, buf, sizeof buf, 100);
		}
		if (n == -ETIMEDOUT || n == -EPIPE) {
			if (atomic_load(&m->stop))
				_exit(ipk_close(rx) == 0 ? 0 : 6);
			continue;
		}
		if (n < 0) {
			fail_log(m, "consumer: error %llu %llu", (uint64_t)-n, 0);
			_exit(7);
		}
		uint32_t tag;
		uint64_t seq;
		if (check_msg(p, (size_t)n, &tag, &seq) < 0 || tag >= TAGS ||
		    seq >= PER_PRODUCER) {
			fail_log(m, "corrupt message of %llu bytes %llu", (uint64_t)n, 0);
			_exit(8);
		}
		if (last[tag] != UINT64_MAX && seq <= last[tag]) {
			fail_log(m, "out of order: %llu after %llu", seq, last[tag]);
			_exit(9);
		}
		last[tag] = seq;
		uint64_t bit = 1ull << (seq % 64);
		if (atomic_fetch_or(&m->seen[tag][seq / 64], bit) & bit) {
			fail_log(m, "message %llu of producer %llu delivered twice", seq,
			         tag);
			_exit(10);
		}
		if (zc)
			ipk_recv_release(rx);
	}
}

Test(crash, mpmc_random_kills, .timeout = 240)
{
	char *url = ring_url("size=32K&mpmc");
	ipk_chan *keeper; /* holds the name (and a consumer slot it never uses) */
	cr_assert_eq(ipk_listen(&keeper, url), 0);
	ipk_region *shared;
	cr_assert_eq(ipk_region_anon(&shared, sizeof(struct mlog)), 0);
	struct mlog *m = ipk_region_addr(shared);
	unsigned seed = (unsigned)getpid() * 13;
	pid_t prod[2], cons[2];
	uint32_t ptag[2], tags = 0;
	int consumer_kills = 0;
	for (int i = 0; i < 2; i++) {
		ptag[i] = tags++;
		if ((prod[i] = fork()) == 0)
			mpmc_producer_child(url, m, ptag[i]);
		if ((cons[i] = fork()) == 0)
			mpmc_consumer_child(url, m, i);
	}
	for (int round = 0; round < 40 && tags < TAGS; round++) {
		struct timespec ts = {0, (long)(rnd(&seed) % 10000) * 1000};
		nanosleep(&ts, NULL);
		int i = (int)(rnd(&seed) % 2);
		if (rnd(&seed) % 2) {
			kill_and_reap(prod[i]);
			ptag[i] = tags++;
			if ((prod[i] = fork()) == 0)
				mpmc_producer_child(url, m, ptag[i]);
		} else {
			kill_and_reap(cons[i]);
			consumer_kills++;
			if ((cons[i] = fork()) == 0)
				mpmc_consumer_child(url, m, rnd(&seed) % 2);
		}
		cr_assert_eq(atomic_load(&m->bad), 0, "%s", m->why);
	}
	for (int i = 0; i < 2; i++)
		expect_clean_exit(prod[i], 60000, "producer");
	atomic_store(&m->stop, 1);
	for (int i = 0; i < 2; i++)
		expect_clean_exit(cons[i], 60000, "consumer");
	cr_assert_eq(atomic_load(&m->bad), 0, "%s", m->why);
	/* everything committed was delivered once, except at most one message
	   per killed consumer (it died holding it); nothing past the commits */
	uint64_t missing = 0, delivered = 0;
	for (uint32_t t = 0; t < tags; t++) {
		uint64_t c = atomic_load(&m->committed[t]);
		for (uint64_t s = 0; s < PER_PRODUCER; s++) {
			bool got = atomic_load(&m->seen[t][s / 64]) & (1ull << (s % 64));
			delivered += got;
			if (s < c && !got)
				missing++;
			/* a producer killed after its commit but before logging it */
			cr_expect(!got || s <= c, "producer %u: message %llu delivered "
			          "but never committed", t, (unsigned long long)s);
		}
	}
	cr_log_info("%u producers, %d consumer kills, %llu delivered, %llu lost",
	            tags, consumer_kills, (unsigned long long)delivered,
	            (unsigned long long)missing);
	cr_expect_leq(missing, (uint64_t)consumer_kills,
	              "%llu committed messages lost with %d consumer kills",
	              (unsigned long long)missing, consumer_kills);
	ipk_close(keeper);
	ipk_region_detach(shared);
	leave_nothing(url);
}
