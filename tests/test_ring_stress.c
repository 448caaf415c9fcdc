/*
 * Four producer and four consumer processes on one MPMC ring exchange
 * millions of checksummed messages; every message must arrive exactly once,
 * intact, and each consumer must see each producer's messages in order.
 * Sized to finish well inside a minute on two busy cores: producers stop at
 * PER_PRODUCER messages or after SEND_SECONDS, whichever comes first.
 */
#define _GNU_SOURCE
#include "util.h"
#include "ring_tsan.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PRODUCERS 4
#define CONSUMERS 4
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define PER_PRODUCER 400000u /* sanitizers run several times slower */
#else
#define PER_PRODUCER 1000000u
#endif
#define SEND_SECONDS 30
#define MAX_LEN 256

struct shared {
	_Atomic uint64_t sent[PRODUCERS];
	_Atomic uint64_t received[CONSUMERS];
	_Atomic uint64_t seen[PRODUCERS][PER_PRODUCER / 64 + 1];
	_Atomic int bad;
	char why[256];
};

static void fail(struct shared *sh, const char *fmt, unsigned long long a,
                 unsigned long long b)
{
	if (atomic_exchange(&sh->bad, 1) == 0)
		snprintf(sh->why, sizeof sh->why, fmt, a, b);
}

/* producer, seq, then bytes derived from both, then a checksum */
static size_t len_of(uint32_t p, uint64_t seq)
{
	return 24 + (size_t)((seq * 2654435761u + p * 40503u) % (MAX_LEN - 24 + 1));
}

static uint64_t sum_of(const unsigned char *b, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static void fill(unsigned char *b, uint32_t p, uint64_t seq, size_t len)
{
	memcpy(b, &p, 4);
	memcpy(b + 4, &seq, 8);
	for (size_t i = 12; i < len - 8; i++)
		b[i] = (unsigned char)(seq * 7 + i + p);
	uint64_t s = sum_of(b, len - 8);
	memcpy(b + len - 8, &s, 8);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_go(int ready_fd, int go_fd)
{
	char b;
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &b, 1) != 0)
		_exit(2);
}

static void producer(const char *url, struct shared *sh, uint32_t p,
                     int ready_fd, int go_fd)
{
	ipk_chan *tx;
	if (ipk_dial(&tx, url, 10000) < 0) {
		fail(sh, "producer dial (%llu%llu)", 0, 0);
		_exit(3);
	}
	wait_go(ready_fd, go_fd);
	int64_t stop = now_ms() + SEND_SECONDS * 1000;
	uint64_t seq = 0;
	unsigned char buf[MAX_LEN];
	for (; seq < PER_PRODUCER; seq++) {
		size_t len = len_of(p, seq);
		ssize_t n;
		if (seq & 1) { /* every other message written in place */
			void *dst;
			n = ipk_send_borrow(tx, &dst, len, 30000);
			if (n >= 0) {
				fill(dst, p, seq, len);
				n = ipk_send_commit(tx, len);
			}
		} else {
			fill(buf, p, seq, len);
			n = ipk_send(tx, buf, len, 30000);
		}
		if (n != (ssize_t)len) {
			fail(sh, "producer %llu: send failed at %llu", p, seq);
			_exit(4);
		}
		if ((seq & 4095) == 0 && now_ms() > stop)
			break;
	}
	atomic_store(&sh->sent[p], seq < PER_PRODUCER ? seq + 1 : seq);
	_exit(ipk_close(tx) == 0 ? 0 : 5);
}

/* wait_ms 0: try-receives, polled (each one that finds the consumers'
   section taken revokes the bias and gives up at once) */
static void consumer(const char *url, struct shared *sh, uint32_t c,
                     int wait_ms, int ready_fd, int go_fd)
{
	ipk_chan *rx;
	if (ipk_listen(&rx, url) < 0) {
		fail(sh, "consumer listen (%llu%llu)", 0, 0);
		_exit(3);
	}
	wait_go(ready_fd, go_fd);
	uint64_t last[PRODUCERS];
	memset(last, 0xff, sizeof last);
	uint64_t count = 0;
	unsigned misses = 0;
	unsigned char buf[MAX_LEN];
	for (;;) {
		const unsigned char *m = buf;
		ssize_t n;
		if (c & 1) {
			const void *q;
			n = ipk_recv_peek(rx, &q, wait_ms);
			m = q;
		} else {
			n = ipk_recv(rx, buf, sizeof buf, wait_ms);
		}
		if (n == -EAGAIN && wait_ms == 0 && ++misses % 64 != 0) {
			sched_yield();
			continue;
		}
		if (n == -ETIMEDOUT || n == -EAGAIN) {
			/* a mailbox: the end is when every producer has gone and
			   nothing is left, which the ring tells when asked */
			ipk_ringinfo info;
			if (ipk_ring_info(rx, &info) == 0 && info.producers == 0 &&
			    info.used == 0)
				break;
			continue;
		}
		misses = 0;
		if (n < 24) {
			fprintf(stderr, "consumer %u: %s\n", c, ipk_last_error());
			fail(sh, "consumer %llu: receive gave %lld", c, (long long)n);
			_exit(4);
		}
		uint32_t p;
		uint64_t seq, s;
		memcpy(&p, m, 4);
		memcpy(&seq, m + 4, 8);
		memcpy(&s, m + n - 8, 8);
		if (p >= PRODUCERS || seq >= PER_PRODUCER ||
		    (size_t)n != len_of(p, seq) || s != sum_of(m, (size_t)n - 8)) {
			fail(sh, "consumer %llu: corrupt message (%llu bytes)", c,
			     (unsigned long long)n);
			_exit(5);
		}
		if (last[p] != UINT64_MAX && seq <= last[p]) {
			fail(sh, "producer order broken: %llu after %llu", seq, last[p]);
			_exit(6);
		}
		last[p] = seq;
		uint64_t bit = 1ull << (seq % 64);
		if (atomic_fetch_or(&sh->seen[p][seq / 64], bit) & bit) {
			fail(sh, "message %llu of producer %llu delivered twice", seq, p);
			_exit(7);
		}
		if (c & 1)
			ipk_recv_release(rx);
		count++;
	}
	atomic_store(&sh->received[c], count);
	_exit(ipk_close(rx) == 0 ? 0 : 8);
}

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

static void run_4x4(int wait_ms)
{
	char url[200];
	snprintf(url, sizeof url, "shm:%s?size=1M&mpmc", ipkt_name("stress"));
	ipk_chan *keeper;
	cr_assert_eq(ipk_listen(&keeper, url), 0, "%s", ipk_last_error());
	ipk_region *reg;
	cr_assert_eq(ipk_region_anon(&reg, sizeof(struct shared)), 0);
	struct shared *sh = ipk_region_addr(reg);
	int ready[2], go[2];
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	pid_t pids[PRODUCERS + CONSUMERS];
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			if (i < PRODUCERS)
				producer(url, sh, (uint32_t)i, ready[1], go[0]);
			consumer(url, sh, (uint32_t)(i - PRODUCERS), wait_ms, ready[1],
			         go[0]);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
		char b;
		cr_assert_eq(read(ready[0], &b, 1), 1, "a child did not start: %s",
		             sh->why);
	}
	int64_t t0 = now_ms();
	close(go[1]); /* all attached: go */
	bool ok = true;
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
		int st = reap(pids[i], 120000);
		if (st == -1) {
			kill(pids[i], SIGKILL);
			reap(pids[i], 10000);
			cr_expect_fail("child %d is still running after 120 s: blocked", i);
			ok = false;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			cr_expect_fail("child %d failed (status %#x): %s", i, st, sh->why);
			ok = false;
		}
	}
	int64_t ms = now_ms() - t0;
	cr_assert(ok);
	cr_assert_eq(atomic_load(&sh->bad), 0, "%s", sh->why);
	uint64_t sent = 0, received = 0;
	for (int p = 0; p < PRODUCERS; p++) {
		uint64_t n = atomic_load(&sh->sent[p]);
		sent += n;
		for (uint64_t s = 0; s < n; s++)
			cr_assert(atomic_load(&sh->seen[p][s / 64]) & (1ull << (s % 64)),
			          "message %llu of producer %d never arrived",
			          (unsigned long long)s, p);
	}
	for (int c = 0; c < CONSUMERS; c++)
		received += atomic_load(&sh->received[c]);
	cr_expect_eq(received, sent);
	cr_log_info("%llu messages from %d producers to %d consumers in %lld ms "
	            "(%.0f per second)", (unsigned long long)sent, PRODUCERS,
	            CONSUMERS, (long long)ms, (double)sent * 1000.0 / (double)(ms + 1));
	ipk_close(keeper);
	ipk_region_detach(reg);
	cr_expect_eq(ipk_remove(url), -ENOENT, "%s left behind", url);
}

Test(stress, mpmc_4x4_processes, .timeout = 300) { run_4x4(300); }

/* Consumers that never wait: each try-receive that finds another consumer
   in its section gives up on it at once (the bias holder's section must
   still keep everyone else out). */
Test(stress, mpmc_4x4_try_receives, .timeout = 300) { run_4x4(0); }
