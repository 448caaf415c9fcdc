/*
 * ring_bench: what the shared-memory ring costs next to the hardware floor.
 *
 *   ring_bench [--pin A,B] [--reps N] [--quick]
 *              [--only latency|stream|mpmc|bandwidth|sizes]
 *
 * Prints, each as the median of --reps runs (default 7):
 *   - the bare floor: two processes bouncing one shared cache line, and
 *     beside it a line each way, each written by one side only
 *   - ring round trips (48- and 64-byte messages) with wait=spin, hybrid,
 *     block, each spin figure also as a ratio to the floor of its run
 *   - one-way streaming of 64-byte messages: copying and zero-copy with
 *     wait=spin, copying with wait=block and wait=hybrid
 *   - MPMC: one producer and one consumer next to SPSC, and 4 producers
 *     into one consumer next to 1, in the same runs
 *   - memcpy bandwidth of 1 MiB buffers, a bare two-process hand-over of
 *     1 MiB, and 1 MiB messages through the ring (every source buffer is
 *     written first: never-written memory is the kernel's zero page)
 *   - zero-copy round trips for 64 B .. 1 MiB (they should not grow), and
 *     copying ones for comparison
 * and the ratios the design aims for. The machine's placement of the two
 * processes shows in the cache-line floor: it is measured at the start and
 * the end and printed with the placement it implies, with a warning when it
 * changed. Spin figures mean something only when the two processes run on
 * different cores with nothing else on them: pin them (--pin 0,1) on an
 * idle machine. It is a program that prints figures, not a test: it asserts
 * nothing.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define RTT_RING ((size_t)64 << 10)

static int cpu_a = -1, cpu_b = -1;
static int reps = 7;
static bool quick;
static const char *only; /* one section, or NULL for all */

static bool section(const char *name)
{
	return only == NULL || strcmp(only, name) == 0;
}



static _Noreturn void die(const char *what)
{
	fprintf(stderr, "ring_bench: %s: %s\n", what, ipk_last_error());
	exit(1);
}



/* Run fn(arg) in a child pinned to cpu_b; the parent is pinned to cpu_a. */
static pid_t spawn(void (*fn)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		bench_pin(cpu_b);
		fn(arg);
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "ring_bench: child failed (status %#x)\n", st);
		exit(1);
	}
}

/* ------------------------------------------------ bare cache-line floor */

struct line {
	_Alignas(64) _Atomic uint64_t v;
};

static struct line *shared_line; /* [0] the floor, [1] and [2] a line
                                     each way */
static long floor_iters;

static void line_peer(void *arg)
{
	(void)arg;
	for (uint64_t i = 1; i < 2 * (uint64_t)floor_iters; i += 2) {
		while (atomic_load_explicit(&shared_line->v, memory_order_acquire) != i)
			__builtin_ia32_pause();
		atomic_store_explicit(&shared_line->v, i + 1, memory_order_release);
	}
}

/* ns per round trip of one cache line between two processes */
static double cache_line_rtt(void)
{
	atomic_store(&shared_line->v, 0);
	pid_t pid = spawn(line_peer, NULL);
	/* warm up: let the child start spinning */
	int64_t t0 = 0;
	for (uint64_t i = 0; i < 2 * (uint64_t)floor_iters; i += 2) {
		if (i == 2000)
			t0 = bench_now_ns();
		atomic_store_explicit(&shared_line->v, i + 1, memory_order_release);
		while (atomic_load_explicit(&shared_line->v, memory_order_acquire) != i + 2)
			__builtin_ia32_pause();
	}
	double ns = (double)(bench_now_ns() - t0) / (double)(floor_iters - 1000);
	reap(pid);
	return ns;
}

/* A line each way, each written by one side only (a flag): what any
   two-way channel that does not share one line between its directions
   pays at least (bench/line_bench.c has the other layouts). */
static void two_line_peer(void *arg)
{
	(void)arg;
	for (uint64_t i = 1; i <= (uint64_t)floor_iters; i++) {
		while (atomic_load_explicit(&shared_line[1].v, memory_order_acquire) != i)
			__builtin_ia32_pause();
		atomic_store_explicit(&shared_line[2].v, i, memory_order_release);
	}
}

static double two_line_rtt(void)
{
	atomic_store(&shared_line[1].v, 0);
	atomic_store(&shared_line[2].v, 0);
	pid_t pid = spawn(two_line_peer, NULL);
	int64_t t0 = 0;
	for (uint64_t i = 1; i <= (uint64_t)floor_iters; i++) {
		if (i == 1001)
			t0 = bench_now_ns();
		atomic_store_explicit(&shared_line[1].v, i, memory_order_release);
		while (atomic_load_explicit(&shared_line[2].v, memory_order_acquire) != i)
			__builtin_ia32_pause();
	}
	double ns = (double)(bench_now_ns() - t0) / (double)(floor_iters - 1000);
	reap(pid);
	return ns;
}

/* A bare 64-byte message each way: the payload fills one line and the
   "it is there" flag sits in the next, the least any in-band signal costs
   (two lines per message instead of one). */
struct msg_slot {
	_Alignas(64) unsigned char payload[64];
	_Atomic uint64_t flag;
};

static struct msg_slot *msg_slots; /* [0] parent -> child, [1] back */

static void msg_peer(void *arg)
{
	(void)arg;
	unsigned char tmp[64];
	for (uint64_t i = 1; i <= (uint64_t)floor_iters; i++) {
		while (atomic_load_explicit(&msg_slots[0].flag, memory_order_acquire) != i)
			__builtin_ia32_pause();
		memcpy(tmp, msg_slots[0].payload, 64);
		memcpy(msg_slots[1].payload, tmp, 64);
		atomic_store_explicit(&msg_slots[1].flag, i, memory_order_release);
	}
}

static double bare_msg_rtt(void)
{
	memset(msg_slots, 0, 2 * sizeof *msg_slots);
	pid_t pid = spawn(msg_peer, NULL);
	unsigned char tmp[64] = {0};
	int64_t t0 = 0;
	for (uint64_t i = 1; i <= (uint64_t)floor_iters; i++) {
		if (i == 1001)
			t0 = bench_now_ns();
		memcpy(msg_slots[0].payload, tmp, 64);
		atomic_store_explicit(&msg_slots[0].flag, i, memory_order_release);
		while (atomic_load_explicit(&msg_slots[1].flag, memory_order_acquire) != i)
			__builtin_ia32_pause();
		memcpy(tmp, msg_slots[1].payload, 64);
	}
	double ns = (double)(bench_now_ns() - t0) / (double)(floor_iters - 1000);
	reap(pid);
	return ns;
}

/* ----------------------------------------------------- ring round trips */

struct pp {
	ipk_chan *a, *b;
	long iters;
	size_t len;
	bool zero_copy;
};

/* one message each way; zero-copy touches only the first 8 bytes */
static void pp_send(ipk_chan *c, const struct pp *p, uint64_t v)
{
	if (p->zero_copy) {
		void *buf;
		if (ipk_send_borrow(c, &buf, p->len, -1) < 0)
			die("borrow");
		memcpy(buf, &v, 8);
		if (ipk_send_commit(c, p->len) < 0)
			die("commit");
	} else {
		static _Thread_local unsigned char *buf;
		static _Thread_local size_t cap;
		if (cap < p->len) {
			free(buf);
			buf = malloc(p->len);
			memset(buf, 0x5a, p->len); /* real pages, not the zero page */
			cap = p->len;
		}
		memcpy(buf, &v, 8);
		if (ipk_send(c, buf, p->len, -1) < 0)
			die("send");
	}
}

static uint64_t pp_recv(ipk_chan *c, const struct pp *p)
{
	uint64_t v;
	if (p->zero_copy) {
		const void *buf;
		if (ipk_recv_peek(c, &buf, -1) < 0)
			die("peek");
		memcpy(&v, buf, 8);
		ipk_recv_release(c);
	} else {
		static _Thread_local unsigned char *buf;
		static _Thread_local size_t cap;
		if (cap < p->len) {
			free(buf);
			buf = malloc(p->len);
			cap = p->len;
		}
		if (ipk_recv(c, buf, cap, -1) < 0)
			die("recv");
		memcpy(&v, buf, 8);
	}
	return v;
}

static void pp_peer(void *arg)
{
	struct pp *p = arg;
	ipk_close(p->a);
	for (long i = 0; i < p->iters; i++)
		pp_send(p->b, p, pp_recv(p->b, p) + 1);
	ipk_close(p->b);
}

/* ns per round trip through a ring pair */
static double ring_rtt(const char *wait, size_t len, bool zero_copy, long iters)
{
	char url[128];
	/* small enough to stay in the caches: latency, not memory, is measured */
	size_t size = len * 4 + RTT_RING;
	snprintf(url, sizeof url, "shm:?size=%zu&wait=%s", size, wait);
	struct pp p = {.iters = iters, .len = len, .zero_copy = zero_copy};
	if (ipk_pair(url, &p.a, &p.b) < 0)
		die("pair");
	pid_t pid = spawn(pp_peer, &p);
	ipk_close(p.b);
	long warm = iters / 10;
	int64_t t0 = 0;
	for (long i = 0; i < iters; i++) {
		if (i == warm)
			t0 = bench_now_ns();
		pp_send(p.a, &p, (uint64_t)i);
		if (pp_recv(p.a, &p) != (uint64_t)i + 1) {
			fprintf(stderr, "ring_bench: ping-pong out of step\n");
			exit(1);
		}
	}
	double ns = (double)(bench_now_ns() - t0) / (double)(iters - warm);
	ipk_close(p.a);
	reap(pid);
	return ns;
}

/* ------------------------------------------------------------ streaming */

struct stream {
	ipk_chan *a, *b;
	long count;
	size_t len;
	bool zero_copy;
	int go[2];
};

static void stream_producer(void *arg)
{
	struct stream *s = arg;
	ipk_close(s->a);
	char c;
	if (read(s->go[0], &c, 1) != 1)
		_exit(2);
	unsigned char *buf = malloc(s->len);
	memset(buf, 0x5a, s->len); /* real pages, not the zero page */
	for (long i = 0; i < s->count; i++) {
		if (s->zero_copy) {
			void *p;
			if (ipk_send_borrow(s->b, &p, s->len, -1) < 0)
				die("borrow");
			memcpy(p, &i, sizeof i);
			if (ipk_send_commit(s->b, s->len) < 0)
				die("commit");
		} else {
			memcpy(buf, &i, sizeof i);
			if (ipk_send(s->b, buf, s->len, -1) < 0)
				die("send");
		}
	}
	free(buf);
	ipk_close(s->b);
}

/* messages per second, one way */
static double stream_rate_wait(size_t len, bool zero_copy, long count,
                               size_t ring_size, double *bytes_per_s,
                               const char *opts)
{
	char url[128];
	snprintf(url, sizeof url, "shm:?size=%zu&%s", ring_size, opts);
	struct stream s = {.count = count, .len = len, .zero_copy = zero_copy};
	if (ipk_pair(url, &s.a, &s.b) < 0)
		die("pair");
	if (pipe(s.go) < 0)
		die("pipe");
	pid_t pid = spawn(stream_producer, &s);
	ipk_close(s.b);
	unsigned char *buf = malloc(len);
	memset(buf, 0, len);
	if (write(s.go[1], "g", 1) != 1)
		die("write");
	/* the clock starts after two laps of the ring: steady state */
	long warm = (long)(2 * ring_size / (len + 16)) + 1;
	if (warm > count / 4)
		warm = count / 4;
	int64_t t0 = 0;
	for (long i = 0; i < count; i++) {
		if (i == warm)
			t0 = bench_now_ns();
		if (zero_copy) {
			const void *p;
			if (ipk_recv_peek(s.a, &p, -1) < 0)
				die("peek");
			ipk_recv_release(s.a);
		} else if (ipk_recv(s.a, buf, len, -1) < 0) {
			die("recv");
		}
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	free(buf);
	ipk_close(s.a);
	close(s.go[0]);
	close(s.go[1]);
	reap(pid);
	if (bytes_per_s)
		*bytes_per_s = (double)(count - warm) * (double)len / secs;
	return (double)(count - warm) / secs;
}

static double stream_rate(size_t len, bool zero_copy, long count,
                          size_t ring_size, double *bytes_per_s)
{
	return stream_rate_wait(len, zero_copy, count, ring_size, bytes_per_s,
	                        "wait=spin");
}

/* Several producers into one consumer: the producer end of a pair is
   shared by forked children, each of which attaches as its own producer
   (MPMC rings take up to 64). Messages per second at the consumer. */
struct multi {
	ipk_chan *a, *b;
	long per;
	size_t len;
	int go[2];
};

static void multi_producer(void *arg)
{
	struct multi *m = arg;
	ipk_close(m->a);
	close(m->go[1]);
	char c;
	if (read(m->go[0], &c, 1) != 0) /* released when the parent closes it */
		_exit(2);
	unsigned char *buf = malloc(m->len);
	memset(buf, 0x5a, m->len);
	for (long i = 0; i < m->per; i++) {
		memcpy(buf, &i, sizeof i);
		if (ipk_send(m->b, buf, m->len, -1) < 0)
			die("send");
	}
	free(buf);
	ipk_close(m->b);
}

static double multi_rate(int producers, size_t len, long count,
                         const char *opts)
{
	char url[128];
	snprintf(url, sizeof url, "shm:?size=%d&mpmc&%s", 4 << 20, opts);
	struct multi m = {.per = count / producers, .len = len};
	if (ipk_pair(url, &m.a, &m.b) < 0)
		die("pair");
	if (pipe(m.go) < 0)
		die("pipe");
	pid_t pid[64];
	for (int i = 0; i < producers; i++)
		pid[i] = spawn(multi_producer, &m);
	ipk_close(m.b);
	close(m.go[0]);
	unsigned char *buf = malloc(len);
	memset(buf, 0, len);
	long total = m.per * producers;
	long warm = total / 10;
	close(m.go[1]); /* go */
	int64_t t0 = 0;
	for (long i = 0; i < total; i++) {
		if (i == warm)
			t0 = bench_now_ns();
		if (ipk_recv(m.a, buf, len, -1) < 0)
			die("recv");
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	free(buf);
	ipk_close(m.a);
	for (int i = 0; i < producers; i++)
		reap(pid[i]);
	return (double)(total - warm) / secs;
}

/* The same 1 MiB hand-over without the ring: two shared 1 MiB buffers,
   the producer copies in, the consumer copies out, a flag per buffer. What
   the hardware gives for moving data between two cores' caches. */
struct handover {
	_Atomic uint64_t full[2];
	long count;
	size_t len;
	unsigned char *buf[2];
};

static void handover_producer(void *arg)
{
	struct handover *h = arg;
	unsigned char *src = malloc(h->len);
	memset(src, 3, h->len);
	for (long i = 0; i < h->count; i++) {
		int b = (int)(i & 1);
		while (atomic_load_explicit(&h->full[b], memory_order_acquire))
			__builtin_ia32_pause();
		memcpy(h->buf[b], src, h->len);
		atomic_store_explicit(&h->full[b], 1, memory_order_release);
	}
	free(src);
}

static double handover_bw(size_t len, long count)
{
	struct handover *h = mmap(NULL, sizeof *h + 2 * len + 128,
	                          PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	                          -1, 0);
	if (h == MAP_FAILED)
		die("mmap");
	h->count = count;
	h->len = len;
	h->buf[0] = (unsigned char *)h + 4096;
	h->buf[1] = h->buf[0] + len;
	unsigned char *dst = malloc(len);
	memset(dst, 1, len);
	pid_t pid = spawn(handover_producer, h);
	int64_t t0 = 0;
	for (long i = 0; i < count; i++) {
		int b = (int)(i & 1);
		if (i == 4) /* both buffers touched once by both sides */
			t0 = bench_now_ns();
		while (!atomic_load_explicit(&h->full[b], memory_order_acquire))
			__builtin_ia32_pause();
		memcpy(dst, h->buf[b], len);
		atomic_store_explicit(&h->full[b], 0, memory_order_release);
	}
	double bw = (double)(count - 4) * (double)len /
	            ((double)(bench_now_ns() - t0) / 1e9);
	reap(pid);
	free(dst);
	munmap(h, sizeof *h + 2 * len + 128);
	return bw;
}

/* memcpy bandwidth for buffers of len bytes (bytes copied per second) */
static double memcpy_bw(size_t len)
{
	unsigned char *a = malloc(len), *b = malloc(len);
	memset(a, 1, len);
	memset(b, 2, len);
	long n = quick ? 500 : 2000;
	for (int i = 0; i < 20; i++)
		memcpy(b, a, len);
	int64_t t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		memcpy(i & 1 ? a : b, i & 1 ? b : a, len);
		__asm__ __volatile__("" ::: "memory");
	}
	double bw = (double)n * (double)len / ((double)(bench_now_ns() - t0) / 1e9);
	free(a);
	free(b);
	return bw;
}

/* ------------------------------------------------------------- driver */

#define MEASURE(out, expr)                                \
	do {                                                  \
		double v_[64];                                    \
		for (int r_ = 0; r_ < reps; r_++)                 \
			v_[r_] = (expr);                              \
		out = bench_median(v_, reps);                           \
	} while (0)

static void usage(void)
{
	fprintf(stderr, "usage: ring_bench [--pin A,B] [--reps N] [--quick] "
	                "[--only latency|stream|mpmc|bandwidth|sizes]\n");
	exit(2);
}

/* The placement a cache-line floor implies: a line bounces in about 65 ns
   between vCPUs sharing a cache, about 450 ns between split ones. */
static const char *placement(double floor_ns)
{
	return floor_ns < 200 ? "shared cache" : "split";
}

static double probe_floor(void)
{
	long keep = floor_iters;
	floor_iters = 20000;
	double v[5];
	for (int i = 0; i < 5; i++)
		v[i] = cache_line_rtt();
	floor_iters = keep;
	return bench_median(v, 5);
}

/* Latencies: taken back to back in each run, so each run's ratios compare
   figures measured under the same conditions (a shared host moves vCPUs
   around between runs). */
static void latency_section(long k)
{
	double fl[64] = {0}, tl[64] = {0}, r_tl[64] = {0};
	double bm[64] = {0}, sp48[64] = {0}, sp[64] = {0};
	double hy[64] = {0}, bl[64] = {0};
	double r_sp48[64] = {0}, r_sp[64] = {0}, r_hy[64] = {0};
	floor_iters = 20000 * k;
	for (int r = 0; r < reps; r++) {
		fl[r] = cache_line_rtt();
		tl[r] = two_line_rtt();
		r_tl[r] = tl[r] / fl[r];
		bm[r] = bare_msg_rtt();
		sp48[r] = ring_rtt("spin", 48, false, 20000 * k);
		sp[r] = ring_rtt("spin", 64, false, 20000 * k);
		hy[r] = ring_rtt("hybrid", 64, false, 20000 * k);
		bl[r] = ring_rtt("block", 64, false, 2000 * k);
		r_sp48[r] = sp48[r] / fl[r];
		r_sp[r] = sp[r] / fl[r];
		r_hy[r] = hy[r] / sp[r];
	}
	double best_fl = fl[0], best_sp = sp[0], best_bm = bm[0], best48 = sp48[0];
	for (int r = 1; r < reps; r++) {
		best_fl = fl[r] < best_fl ? fl[r] : best_fl;
		best_bm = bm[r] < best_bm ? bm[r] : best_bm;
		best_sp = sp[r] < best_sp ? sp[r] : best_sp;
		best48 = sp48[r] < best48 ? sp48[r] : best48;
	}
	double spin_ns = bench_median(sp, reps);
	double block_ns = bench_median(bl, reps);
	double fl_med = bench_median(fl, reps);
	printf("round trip, %zu KiB rings (ns)                        median "
	       "    best\n", (size_t)RTT_RING >> 10);
	printf("  bare: one cache line bounced            %8.0f %8.0f   (%s)\n",
	       fl_med, best_fl, placement(fl_med));
	printf("  bare: a line each way, one writer each  %8.0f %8s   %.2fx the "
	       "cache line\n", bench_median(tl, reps), "", bench_median(r_tl, reps));
	printf("  bare: 64-byte payload line + flag line  %8.0f %8.0f\n",
	       bench_median(bm, reps), best_bm);
	printf("  ring wait=spin, 48-byte messages        %8.0f %8.0f   %.2fx the "
	       "cache line (target <= 1.5x)\n", bench_median(sp48, reps), best48,
	       bench_median(r_sp48, reps));
	printf("  ring wait=spin, 64-byte messages        %8.0f %8.0f   %.2fx the "
	       "cache line\n", spin_ns, best_sp, bench_median(r_sp, reps));
	printf("  ring wait=hybrid, 64-byte messages      %8.0f %8s   %.2fx spin "
	       "(target <= 2x)\n", bench_median(hy, reps), "", bench_median(r_hy, reps));
	printf("  ring wait=block, 64-byte messages       %8.0f %8s   %.0fx spin "
	       "(a futex wake each way)\n\n", block_ns, "", block_ns / spin_ns);
}

static void stream_section(long k)
{
	double copy_rate, zc_rate, block_rate, hybrid_rate;
	long n64 = 5000000 * k / 2;
	MEASURE(copy_rate, stream_rate(64, false, n64, 4 << 20, NULL));
	MEASURE(zc_rate, stream_rate(64, true, n64, 4 << 20, NULL));
	MEASURE(hybrid_rate,
	        stream_rate_wait(64, false, n64, 4 << 20, NULL, "wait=hybrid"));
	MEASURE(block_rate,
	        stream_rate_wait(64, false, n64 / 4, 4 << 20, NULL, "wait=block"));
	printf("one-way streaming, 64-byte messages, 4 MiB ring "
	       "(million messages/s)\n");
	printf("  copying (ipk_send/ipk_recv), spin    %8.2f   (target >= 20)\n",
	       copy_rate / 1e6);
	printf("  zero-copy (borrow/peek), spin        %8.2f\n", zc_rate / 1e6);
	printf("  copying, wait=hybrid                 %8.2f\n", hybrid_rate / 1e6);
	printf("  copying, wait=block                  %8.2f   (compare Boost."
	       "Interprocess message_queue in ipckit bench)\n\n",
	       block_rate / 1e6);
}

/* MPMC against SPSC, and 4 producers against 1, each pair in the same run. */
static void mpmc_section(long k)
{
	double spsc[64] = {0}, mpmc[64] = {0}, r1[64] = {0};
	double one[64] = {0}, four[64] = {0}, r4[64] = {0};
	long n = 2000000 * k / 2;
	for (int r = 0; r < reps; r++) {
		spsc[r] = stream_rate_wait(64, false, n, 4 << 20, NULL, "wait=spin");
		mpmc[r] = stream_rate_wait(64, false, n, 4 << 20, NULL,
		                           "mpmc&wait=spin");
		r1[r] = mpmc[r] / spsc[r];
		one[r] = multi_rate(1, 64, n, "wait=hybrid");
		four[r] = multi_rate(4, 64, n, "wait=hybrid");
		r4[r] = four[r] / one[r];
	}
	printf("MPMC, 64-byte messages, 4 MiB ring (million messages/s)\n");
	printf("  SPSC, 1 producer, wait=spin          %8.2f\n",
	       bench_median(spsc, reps) / 1e6);
	printf("  MPMC, 1 producer, wait=spin          %8.2f   %.2fx SPSC "
	       "(target >= 0.6x)\n", bench_median(mpmc, reps) / 1e6, bench_median(r1, reps));
	printf("  MPMC, 1 producer, wait=hybrid        %8.2f\n",
	       bench_median(one, reps) / 1e6);
	printf("  MPMC, 4 producers, wait=hybrid       %8.2f   %.2fx 1 producer "
	       "(target >= 0.5x)\n\n", bench_median(four, reps) / 1e6,
	       bench_median(r4, reps));
}

static void bandwidth_section(void)
{
	long n = quick ? 500 : 2000;
	double mbw, hbw, v[64] = {0};
	MEASURE(mbw, memcpy_bw(1 << 20));
	MEASURE(hbw, handover_bw(1 << 20, n));
	for (int r = 0; r < reps; r++)
		stream_rate(1 << 20, false, n, 8 << 20, &v[r]);
	double ring_bw = bench_median(v, reps);
	printf("1 MiB messages, 8 MiB ring, every source buffer written (GB/s)\n");
	printf("  memcpy, 1 MiB buffers, one process   %8.2f\n", mbw / 1e9);
	printf("  bare hand-over between two processes %8.2f   (two 1 MiB "
	       "buffers, copy in, copy out)\n", hbw / 1e9);
	printf("  ring, copying                        %8.2f   %.0f%% of the bare "
	       "hand-over (%.0f%% of one-process memcpy)\n\n",
	       ring_bw / 1e9, 100 * ring_bw / hbw, 100 * ring_bw / mbw);
}

static void sizes_section(long k)
{
	static const size_t sizes[] = {64, 4096, 65536, 1 << 20};
	double zc[4], cp[4];
	printf("round trip by size, wait=spin (ns)\n");
	printf("  %10s %12s %12s\n", "bytes", "zero-copy", "copying");
	for (int i = 0; i < 4; i++) {
		long iters = sizes[i] >= 65536 ? 3000 * k : 20000 * k;
		MEASURE(zc[i], ring_rtt("spin", sizes[i], true, iters));
		MEASURE(cp[i], ring_rtt("spin", sizes[i], false, iters));
		printf("  %10zu %12.0f %12.0f\n", sizes[i], zc[i], cp[i]);
	}
	double lo = zc[0], hi = zc[0];
	for (int i = 1; i < 4; i++) {
		lo = zc[i] < lo ? zc[i] : lo;
		hi = zc[i] > hi ? zc[i] : hi;
	}
	printf("  zero-copy: largest/smallest %.2fx across 64 B..1 MiB "
	       "(size-independent means ~1x)\n", hi / lo);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pin") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%d,%d", &cpu_a, &cpu_b) != 2)
				usage();
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1 || reps > 64)
				usage();
		} else if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
			if (strcmp(only, "latency") && strcmp(only, "stream") &&
			    strcmp(only, "mpmc") && strcmp(only, "bandwidth") &&
			    strcmp(only, "sizes"))
				usage();
		} else {
			usage();
		}
	}
	bench_pin(cpu_a);
	shared_line = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	msg_slots = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_line == MAP_FAILED || msg_slots == MAP_FAILED)
		die("mmap");
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	double load[1] = {0};
	if (getloadavg(load, 1) < 0)
		load[0] = -1;
	printf("ring_bench: ipckit %s, %ld CPUs online, load average %.2f, "
	       "%s, medians of %d runs\n",
	       ipk_version(), online, load[0],
	       cpu_a >= 0 ? "pinned" : "not pinned (--pin A,B to pin)", reps);
	if (cpu_a >= 0)
		printf("  parent on CPU %d, peer on CPU %d\n", cpu_a, cpu_b);
	printf("  spin figures need the two processes on different, otherwise "
	       "idle cores\n\n");
	long k = quick ? 1 : 4;
	double start_floor = probe_floor();
	printf("placement at the start: a cache line bounces in %.0f ns (%s)\n\n",
	       start_floor, placement(start_floor));
	if (section("latency"))
		latency_section(k);
	if (section("stream"))
		stream_section(k);
	if (section("mpmc"))
		mpmc_section(k);
	if (section("bandwidth"))
		bandwidth_section();
	if (section("sizes"))
		sizes_section(k);
	double end_floor = probe_floor();
	printf("\nplacement at the end: a cache line bounces in %.0f ns (%s)\n",
	       end_floor, placement(end_floor));
	if (strcmp(placement(start_floor), placement(end_floor)) != 0)
		printf("WARNING: the placement changed during the run: figures from "
		       "before and after the change do not compare\n");
	return 0;
}
