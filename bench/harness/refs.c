/*
 * Reference rows: what the hardware allows, with no mechanism at all.
 *
 * - The shared cache line is the floor for any shared-memory message: one
 *   store, seen by the other core, answered by one store back.
 * - The two-process hand-over is the floor for copying a message through
 *   shared memory: the sender copies it into a slot, the receiver copies it
 *   out (two slots each way, so one can fill while the other drains). It
 *   waits the way a ring does in hybrid mode: it spins briefly, then sleeps
 *   on a futex; a waiter that only spins slows the copy on a CPU that shares
 *   its core, and on a busy machine waits out the other's time slice.
 * - memcpy is copying a message once, in one process.
 *
 * The first two are drivers like any other: their round trips and streams
 * go through the very loop (runner.c) that times ipckit's rings, with the
 * same clock reads and the same batching, so a ratio between them compares
 * like with like. The cache line spins while it waits, and says so.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("pause");
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* A shared anonymous mapping made before fork, written so that no page is
 * the kernel's zero page or faults in while the clock runs. */
static int map_shared(struct bench_link *l, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return bench_fail(l, -errno, "mmap of %zu shared bytes: %s", len,
		                  strerror(errno));
	memset(p, 0, len);
	l->map = p;
	l->maplen = len;
	return 0;
}

static void unmap_shared(struct bench_link *l)
{
	if (l->map)
		munmap(l->map, l->maplen);
	l->map = NULL;
	l->maplen = 0;
}

/* ---------------------------------------------------------- cache line */

/* One 64-bit word on its own line: (count << 1) | stop. Each side stores
 * the next count and spins until the word differs from what it stored. */

static int line_prepare(struct bench_link *l)
{
	return map_shared(l, 4096);
}

static ssize_t line_send(struct bench_link *l, const void *buf, size_t len)
{
	_Atomic uint64_t *line = l->map;
	uint64_t v = (((l->seq >> 1) + 1) << 1) |
	             (((const unsigned char *)buf)[0] == BENCH_STOP);
	atomic_store_explicit(line, v, memory_order_release);
	l->seq = v;
	return (ssize_t)len;
}

static ssize_t line_recv(struct bench_link *l, void *buf, size_t cap)
{
	_Atomic uint64_t *line = l->map;
	uint64_t v;
	while ((v = atomic_load_explicit(line, memory_order_acquire)) == l->seq)
		relax();
	l->seq = v;
	((unsigned char *)buf)[0] = (v & 1) ? BENCH_STOP : BENCH_DATA;
	return (ssize_t)(cap < l->job->size ? cap : l->job->size);
}

const struct bench_driver bench_cacheline_driver = {
	.prepare = line_prepare,
	.send = line_send,
	.recv = line_recv,
	.close = unmap_shared,
};

/* ----------------------------------------------------------- hand-over */

struct slot {
	_Atomic uint32_t full;     /* the futex word */
	_Atomic uint32_t sleepers; /* waiters on it: the other side wakes them */
	uint32_t len;
	unsigned char pad[52];
	unsigned char data[];
};

#define HAND_SPIN_NS 50000 /* as long as a hybrid ring spins */

/* Until s->full == want: spin for HAND_SPIN_NS, then sleep on the futex.
 * The sleeper counts itself before it looks again, the setter stores before
 * it looks at the count (both sequentially consistent), so one of them sees
 * the other: no wake-up is lost. */
static void hand_wait(struct slot *s, uint32_t want)
{
	int64_t until = 0;
	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(&s->full, memory_order_acquire) == want)
			return;
		relax();
		if ((i & 63) == 0) {
			int64_t now = bench_now_ns();
			if (until == 0)
				until = now + HAND_SPIN_NS;
			else if (now >= until)
				break;
		}
	}
	for (;;) {
		atomic_fetch_add(&s->sleepers, 1);
		if (atomic_load(&s->full) != want) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			syscall(SYS_futex, (uint32_t *)&s->full, FUTEX_WAIT, !want, &ts,
			        NULL, 0);
		}
		atomic_fetch_sub(&s->sleepers, 1);
		if (atomic_load_explicit(&s->full, memory_order_acquire) == want)
			return;
	}
}

static void hand_set(struct slot *s, uint32_t v)
{
	atomic_store(&s->full, v);
	if (atomic_load(&s->sleepers) > 0)
		syscall(SYS_futex, (uint32_t *)&s->full, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static size_t slot_bytes(size_t size)
{
	return sizeof(struct slot) + ((size + 63) & ~(size_t)63);
}

/* direction d (0: runner to echo, 1: back), slot i of 2 */
static struct slot *slot_at(const struct bench_link *l, int d, unsigned i)
{
	size_t sb = slot_bytes(l->job->size);
	return (struct slot *)((unsigned char *)l->map + ((size_t)d * 2 + i) * sb);
}

static int hand_prepare(struct bench_link *l)
{
	if (l->job->size > ((size_t)1 << 30))
		return bench_fail(l, -EMSGSIZE, "too large for the hand-over");
	return map_shared(l, 4 * slot_bytes(l->job->size));
}

static ssize_t hand_send(struct bench_link *l, const void *buf, size_t len)
{
	struct slot *s = slot_at(l, l->echo ? 1 : 0, l->txi);
	hand_wait(s, 0);
	memcpy(s->data, buf, len);
	s->len = (uint32_t)len;
	hand_set(s, 1);
	l->txi ^= 1;
	return (ssize_t)len;
}

static ssize_t hand_recv(struct bench_link *l, void *buf, size_t cap)
{
	struct slot *s = slot_at(l, l->echo ? 0 : 1, l->rxi);
	hand_wait(s, 1);
	size_t n = s->len < cap ? s->len : cap;
	memcpy(buf, s->data, n);
	hand_set(s, 0);
	l->rxi ^= 1;
	return (ssize_t)n;
}

const struct bench_driver bench_handover_driver = {
	.prepare = hand_prepare,
	.send = hand_send,
	.recv = hand_recv,
	.close = unmap_shared,
};

/* ---------------------------------------------------------------- memcpy */

static void memcpy_measure(struct bench_job *j, struct bench_result *r)
{
	const struct bench_config *cfg = j->cfg;
	size_t size = j->size, alloc = (size + 63) & ~(size_t)63;
	unsigned char *src = aligned_alloc(64, alloc);
	unsigned char *dst = aligned_alloc(64, alloc);
	if (src == NULL || dst == NULL) {
		free(src);
		free(dst);
		bench_classify(r, -ENOMEM, "out of memory");
		return;
	}
	memset(src, 0x5a, alloc);
	memset(dst, 0, alloc);
	int64_t budget = bench_run_ns(cfg);
	long batch = size >= 65536 ? 1 : (long)(65536 / size);
	for (int run = 0; run < 2; run++) {
		int64_t t0 = bench_now_ns(), t1;
		long k = 0;
		do {
			for (long b = 0; b < batch; b++) {
				memcpy(dst, src, size);
				/* the copy must happen: the compiler cannot see a reader */
				__asm__ volatile("" : : "r"(dst) : "memory");
			}
			k += batch;
			t1 = bench_now_ns();
		} while (t1 - t0 < (run ? budget : budget / 2));
		if (run > 0)
			bench_thr_record(r, k, k, (double)(t1 - t0) / 1e9);
	}
	free(src);
	free(dst);
}

const struct bench_driver bench_memcpy_driver = {
	.measure = memcpy_measure,
};
