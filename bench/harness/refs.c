/*
 * Reference rows: what the hardware allows, with no mechanism at all.
 * The shared cache line is the floor for any shared-memory message: one
 * store, seen by the other core, answered by one store back. memcpy is the
 * ceiling for moving a message's bytes once.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* Round trips per timed sample: reading the clock costs as much as one. */
#define LINE_BATCH 64
#define LINE_STOP UINT64_MAX

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("pause");
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Spin until *line != seen; give up after the watchdog-sized limit. */
static uint64_t wait_change(_Atomic uint64_t *line, uint64_t seen,
                            int64_t give_up)
{
	for (unsigned spins = 1;; spins++) {
		uint64_t v = atomic_load_explicit(line, memory_order_acquire);
		if (v != seen)
			return v;
		relax();
		if ((spins & 0xffff) == 0 && bench_now_ns() > give_up)
			return seen;
	}
}

static void line_fail(struct bench_result *r, const char *why)
{
	bench_classify(r, -EIO, why);
}

static void cacheline_measure(struct bench_job *j, struct bench_result *r)
{
	const struct bench_config *cfg = j->cfg;
	_Atomic uint64_t *line = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (line == MAP_FAILED) {
		line_fail(r, "mmap of a shared page failed");
		return;
	}
	atomic_store(line, 0);
	pid_t runner = getpid();
	pid_t echo = fork();
	if (echo < 0) {
		line_fail(r, "fork failed");
		munmap((void *)line, 4096);
		return;
	}
	if (echo == 0) {
		bench_child_setup(runner);
		bench_pin(j, 1);
		uint64_t seen = 0;
		for (;;) {
			uint64_t v = wait_change(line, seen, INT64_MAX);
			if (v == LINE_STOP)
				_exit(0);
			atomic_store_explicit(line, v + 1, memory_order_release);
			seen = v + 1;
		}
	}
	bench_tell_echo(echo);

	long cap = cfg->iterations / LINE_BATCH + 16;
	double *samples = malloc(sizeof *samples * (size_t)cap);
	int64_t budget = bench_run_ns(cfg);
	int64_t give_up = bench_now_ns() + 2 * budget + (int64_t)10 * 1000000000;
	uint64_t seq = 0;
	long nsamp = 0;
	bool ok = samples != NULL;
	/* run 0 is the warm-up */
	for (int run = 0; ok && run < 2; run++) {
		int64_t end = bench_now_ns() + (run ? budget : budget / 2);
		for (long k = 0; k < cap && ok; k++) {
			int64_t t0 = bench_now_ns();
			for (int b = 0; b < LINE_BATCH; b++) {
				atomic_store_explicit(line, seq + 1, memory_order_release);
				if (wait_change(line, seq + 1, give_up) != seq + 2) {
					ok = false;
					break;
				}
				seq += 2;
			}
			int64_t t1 = bench_now_ns();
			if (run > 0)
				samples[nsamp++] = (double)(t1 - t0) / 1e3 / LINE_BATCH;
			if (t1 >= end && k >= 4)
				break;
		}
	}
	atomic_store_explicit(line, LINE_STOP, memory_order_release);
	kill(echo, SIGKILL);
	while (waitpid(echo, NULL, 0) < 0 && errno == EINTR)
		;
	munmap((void *)line, 4096);
	if (!ok)
		line_fail(r, samples ? "the other process stopped answering"
		                     : "out of memory");
	else
		bench_lat_record(r, j->hist, samples, nsamp, LINE_BATCH);
	free(samples);
}

const struct bench_driver bench_cacheline_driver = {
	.measure = cacheline_measure,
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
			bench_thr_record(r, k, (double)(t1 - t0) / 1e9);
	}
	free(src);
	free(dst);
}

const struct bench_driver bench_memcpy_driver = {
	.measure = memcpy_measure,
};
