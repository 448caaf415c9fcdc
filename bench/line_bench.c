/*
 * line_bench: what a two-way channel between two processes can cost at
 * best, with no ring code at all: bare ping-pongs over a shared page in
 * several layouts, each timed beside the one-line floor of the same run.
 *
 *   line_bench [--pin A,B] [--reps N] [--iters N] [--ring BYTES]
 *              [--only TEXT]
 *
 * It answers one question for the ring's spin round trip: how close to the
 * one-line floor can any layout of a two-way channel come on this machine?
 * Layouts (each a ping-pong: the parent sends, the child answers):
 *   floor      one line that both write (a counter): the cache-line floor
 *   twoline    a line per direction, written by one side only (a flag)
 *   slot48     a 16-byte header and 48 bytes in one line per direction
 *   slot64     a 16-byte header and 64 bytes (two lines) per direction
 *   slot64h8   an 8-byte header and 64 bytes (two lines) per direction
 *   slot64x2   64 bytes in two lines that each carry their own 8-byte
 *              sequence word (56 + 8 bytes), the receiver watching both:
 *              not a layout a ring with contiguous payloads can have
 *   ring48/64  as slot48/64, but each message at the next place of a ring
 *              (64 KiB unless --ring) as the ipckit ring does, the
 *              producer fetching the lines ahead for writing (prefetchw)
 *   ring64x2   slot64x2 at the next place of a ring each time
 * and variants, as suffixes:
 *   -nopause   no pause instruction in the waiting loop
 *   -pfw       the waiter fetches the watched line for writing in its loop
 *   -nopf      (ring) the producer does not fetch the lines ahead
 *   -ack       the receiver zeroes the header it read (a store into the
 *              sender's line, as the ring's consumer makes)
 *   -ackl      the same zeroing, done after the receiver's answer is sent
 *   -pf2       the waiter also prefetches the payload's second line
 *   -zmm       the receiver reads header and payload with one 64-byte load
 *   -2ld       the waiter loads the watched word twice per pause
 *   -ldnext    the waiter also loads the first word of the next line
 * --only runs the floor and the layouts whose name contains TEXT.
 * It prints per layout the median round trip and its median ratio to the
 * floor measured in the same repetition, and the placement the floor
 * implies. A program that prints figures; it asserts nothing.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <sched.h>
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

#define RING_MAX ((size_t)64 << 10)
static size_t ring_bytes = RING_MAX; /* --ring */
#define RING_BYTES ring_bytes

enum kind { K_FLOOR, K_SLOT, K_RING, K_SLOT2 };

struct layout {
	const char *name;
	enum kind kind;
	size_t hdr, len; /* header and payload bytes (8, 0: a bare flag) */
	bool nopause, pfw, ack, ack_late, pf2, zmm, nopf;
	bool ld2; /* the waiter loads the watched word twice per pause */
	bool ldnext; /* ...or also the next line's first word */
	bool rot; /* slot64x2 at the next place of a ring each time */
};

#define FLOOR(n, ...) {.name = n, .kind = K_FLOOR, __VA_ARGS__}
#define SLOT(n, h, l, ...) {.name = n, .kind = K_SLOT, .hdr = h, .len = l, __VA_ARGS__}
#define RING(n, h, l, ...) {.name = n, .kind = K_RING, .hdr = h, .len = l, __VA_ARGS__}

static const struct layout layouts[] = {
	FLOOR("floor", .nopause = false), /* first: every ratio is to it */
	FLOOR("floor-nopause", .nopause = true),
	SLOT("twoline", 8, 0, .nopause = false),
	SLOT("twoline-nopause", 8, 0, .nopause = true),
	SLOT("twoline-pfw", 8, 0, .pfw = true),
	SLOT("twoline-pfw-nopause", 8, 0, .pfw = true, .nopause = true),
	SLOT("slot48", 16, 48, .nopause = false),
	SLOT("slot48-nopause", 16, 48, .nopause = true),
	SLOT("slot48-pfw", 16, 48, .pfw = true),
	SLOT("slot48-ack", 16, 48, .ack = true),
	SLOT("slot48-pfw-ack", 16, 48, .pfw = true, .ack = true),
	SLOT("slot48-zmm", 16, 48, .zmm = true),
	SLOT("slot64", 16, 64, .nopause = false),
	SLOT("slot64h8", 8, 64, .nopause = false),
	SLOT("slot64-pf2", 16, 64, .pf2 = true),
	SLOT("slot64-pfw", 16, 64, .pfw = true),
	SLOT("slot64-pfw-ack", 16, 64, .pfw = true, .ack = true),
	{.name = "slot64x2", .kind = K_SLOT2, .hdr = 8, .len = 64},
	{.name = "slot64x2-pfw", .kind = K_SLOT2, .hdr = 8, .len = 64, .pfw = true},
	{.name = "ring64x2", .kind = K_SLOT2, .hdr = 8, .len = 64, .rot = true},
	SLOT("twoline-2ld", 8, 0, .ld2 = true),
	SLOT("twoline-ldnext", 8, 0, .ldnext = true),
	SLOT("slot48-ldnext", 16, 48, .ldnext = true),
	SLOT("slot64-ldnext", 16, 64, .ldnext = true),
	RING("ring48-ldnext", 16, 48, .ldnext = true),
	RING("ring64-ldnext", 16, 64, .ldnext = true),
	SLOT("slot48-2ld", 16, 48, .ld2 = true),
	RING("ring48-2ld", 16, 48, .ld2 = true),
	RING("ring64-2ld", 16, 64, .ld2 = true),
	RING("ring48", 16, 48, .nopause = false),
	RING("ring48-nopause", 16, 48, .nopause = true),
	RING("ring48-nopf", 16, 48, .nopf = true),
	RING("ring48-pfw", 16, 48, .pfw = true),
	RING("ring48-pfw-nopf", 16, 48, .pfw = true, .nopf = true),
	RING("ring48-ack", 16, 48, .ack = true),
	RING("ring48-ackl", 16, 48, .ack = true, .ack_late = true),
	RING("ring48-pfw-ack", 16, 48, .pfw = true, .ack = true),
	RING("ring48-zmm", 16, 48, .zmm = true),
	RING("ring64", 16, 64, .nopause = false),
	RING("ring64-ack", 16, 64, .ack = true),
	RING("ring64-pf2", 16, 64, .pf2 = true),
	RING("ring64-pfw", 16, 64, .pfw = true),
	RING("ring64-pfw-ack", 16, 64, .pfw = true, .ack = true),
	RING("ring64-pfw-pf2", 16, 64, .pfw = true, .pf2 = true),
};
#define NLAYOUTS (sizeof layouts / sizeof layouts[0])

static int cpu_a = -1, cpu_b = -1;
static int reps = 9;
static long iters = 200000;

/* the shared page(s): [0, RING_BYTES) parent -> child, then child -> parent */
static unsigned char *shm;





static inline void relax(const struct layout *l, const void *watched)
{
	if (l->pfw)
		__builtin_prefetch(watched, 1, 3);
	if (!l->nopause)
		__builtin_ia32_pause();
}

/* ------------------------------------------------------------- floor */

static void floor_side(const struct layout *l, bool parent, int64_t *t0)
{
	_Atomic uint64_t *v = (_Atomic uint64_t *)(void *)shm;
	uint64_t n = 2 * (uint64_t)iters;
	for (uint64_t i = parent ? 0 : 1; i < n; i += 2) {
		if (parent) {
			if (i == 2 * (uint64_t)(iters / 10))
				*t0 = bench_now_ns();
			atomic_store_explicit(v, i + 1, memory_order_release);
			while (atomic_load_explicit(v, memory_order_acquire) != i + 2)
				relax(l, v);
		} else {
			while (atomic_load_explicit(v, memory_order_acquire) != i)
				relax(l, v);
			atomic_store_explicit(v, i + 1, memory_order_release);
		}
	}
}

/* ------------------------------------------------- messages each way */

/* where message seq of one direction lies */
static inline size_t place(const struct layout *l, uint64_t seq)
{
	if (l->kind == K_SLOT2 && l->rot)
		return (size_t)(seq * 128) % RING_BYTES;
	if (l->kind != K_RING)
		return 0;
	size_t rec = (l->hdr + l->len + 15) & ~(size_t)15;
	return (size_t)(seq * rec) % (RING_BYTES - RING_BYTES % rec);
}

static inline void send_msg(const struct layout *l, unsigned char *dir,
                            uint64_t seq, const unsigned char *msg)
{
	if (l->kind == K_SLOT2) {
		dir += place(l, seq);
		memcpy(dir + 8, msg, 56);
		memcpy(dir + 72, msg + 56, 8);
		atomic_store_explicit((_Atomic uint64_t *)(void *)dir, seq,
		                      memory_order_release);
		atomic_store_explicit((_Atomic uint64_t *)(void *)(dir + 64), seq,
		                      memory_order_release);
		return;
	}
	size_t at = place(l, seq);
	memcpy(dir + at + l->hdr, msg, l->len);
	atomic_store_explicit((_Atomic uint64_t *)(void *)(dir + at), seq,
	                      memory_order_release);
	if (l->kind == K_RING && !l->nopf) { /* the lines the next messages fill */
		size_t line = ((at + l->hdr + l->len) & ~(size_t)63) + 64;
		if (line + 128 <= RING_BYTES) {
			__builtin_prefetch(dir + line, 1, 3);
			__builtin_prefetch(dir + line + 64, 1, 3);
		}
	}
}

__attribute__((target("avx512f"))) static inline bool
line_load(const unsigned char *p, uint64_t seq, unsigned char *out)
{
	__m512i v = _mm512_load_si512((const void *)p);
	uint64_t h = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(v));
	if (h != seq)
		return false;
	_mm512_storeu_si512((void *)out, v);
	return true;
}

static inline void recv_msg(const struct layout *l, unsigned char *dir,
                            uint64_t seq, unsigned char *out)
{
	size_t at = place(l, seq);
	_Atomic uint64_t *h = (_Atomic uint64_t *)(void *)(dir + at);
	if (l->kind == K_SLOT2) {
		_Atomic uint64_t *h2 = (_Atomic uint64_t *)(void *)(dir + at + 64);
		for (;;) {
			uint64_t a = atomic_load_explicit(h, memory_order_acquire);
			uint64_t b = atomic_load_explicit(h2, memory_order_acquire);
			if (a == seq && b == seq)
				break;
			if (l->pfw)
				__builtin_prefetch(h2, 1, 3);
			relax(l, h);
		}
		memcpy(out, dir + at + 8, 56);
		memcpy(out + 56, dir + at + 72, 8);
		return;
	}
	if (l->zmm) {
		unsigned char tmp[64];
		while (!line_load(dir + at, seq, tmp))
			relax(l, h);
		memcpy(out, tmp + l->hdr, l->len);
	} else {
		while (atomic_load_explicit(h, memory_order_acquire) != seq) {
			if (l->ld2 &&
			    atomic_load_explicit(h, memory_order_acquire) == seq)
				break;
			if (l->ldnext) {
				size_t next = ((at + 64) & ~(size_t)63) % RING_BYTES;
				(void)atomic_load_explicit(
					(_Atomic uint64_t *)(void *)(dir + next),
					memory_order_acquire);
			}
			if (l->pf2)
				__builtin_prefetch(dir + at + 64, 0, 3);
			relax(l, h);
		}
		memcpy(out, dir + at + l->hdr, l->len);
	}
	if (l->ack && !l->ack_late)
		atomic_store_explicit(h, 0, memory_order_relaxed);
}

static inline void ack_late(const struct layout *l, unsigned char *dir,
                            uint64_t seq)
{
	if (l->ack && l->ack_late)
		atomic_store_explicit((_Atomic uint64_t *)(void *)(dir + place(l, seq)),
		                      0, memory_order_relaxed);
}

static void msg_side(const struct layout *l, bool parent, int64_t *t0)
{
	unsigned char *out = shm + (parent ? 0 : RING_BYTES);
	unsigned char *in = shm + (parent ? RING_BYTES : 0);
	unsigned char buf[64];
	memset(buf, 0x5a, sizeof buf);
	for (uint64_t seq = 1; seq <= (uint64_t)iters; seq++) {
		if (parent) {
			if (seq == (uint64_t)(iters / 10) + 1)
				*t0 = bench_now_ns();
			memcpy(buf, &seq, 8);
			send_msg(l, out, seq, buf);
			recv_msg(l, in, seq, buf);
			ack_late(l, in, seq);
		} else {
			recv_msg(l, in, seq, buf);
			send_msg(l, out, seq, buf);
			ack_late(l, in, seq);
		}
	}
}

/* ns per round trip */
static double measure(const struct layout *l)
{
	memset(shm, 0, 2 * RING_BYTES);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	int64_t t0 = 0;
	if (pid == 0) {
		bench_pin(cpu_b);
		if (l->kind == K_FLOOR)
			floor_side(l, false, &t0);
		else
			msg_side(l, false, &t0);
		_exit(0);
	}
	if (l->kind == K_FLOOR)
		floor_side(l, true, &t0);
	else
		msg_side(l, true, &t0);
	double ns = (double)(bench_now_ns() - t0) / (double)(iters - iters / 10);
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "line_bench: child failed\n");
		exit(1);
	}
	return ns;
}

/* the floor always; the rest if their name contains --only's text */
static bool wanted(const struct layout *l, const char *only, bool zmm_ok)
{
	if (l == &layouts[0])
		return true;
	return (only == NULL || strstr(l->name, only) != NULL) &&
	       (!l->zmm || zmm_ok);
}

static void usage(void)
{
	fprintf(stderr, "usage: line_bench [--pin A,B] [--reps N] [--iters N] "
	                "[--ring BYTES (4 KiB multiple, <= 64 KiB)] "
	                "[--only TEXT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pin") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%d,%d", &cpu_a, &cpu_b) != 2)
				usage();
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1 || reps > 64)
				usage();
		} else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
			iters = atol(argv[++i]);
			if (iters < 1000)
				usage();
		} else if (strcmp(argv[i], "--ring") == 0 && i + 1 < argc) {
			ring_bytes = (size_t)atol(argv[++i]);
			if (ring_bytes < 4096 || ring_bytes > RING_MAX ||
			    ring_bytes % 4096)
				usage();
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			usage();
		}
	}
	bench_pin(cpu_a);
	shm = mmap(NULL, 2 * RING_MAX, PROT_READ | PROT_WRITE,
	           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	bool zmm_ok = __builtin_cpu_supports("avx512f");
	static double ns[NLAYOUTS][64], ratio[NLAYOUTS][64];
	for (int r = 0; r < reps; r++) {
		for (size_t i = 0; i < NLAYOUTS; i++) {
			const struct layout *l = &layouts[i];
			if (!wanted(l, only, zmm_ok))
				continue;
			ns[i][r] = measure(l);
		}
		for (size_t i = 0; i < NLAYOUTS; i++)
			ratio[i][r] = ns[i][r] / ns[0][r];
	}
	double fl = bench_median(ns[0], reps);
	printf("line_bench: %d repetitions of %ld round trips, %s; floor %.0f ns "
	       "(%s)\n",
	       reps, iters, cpu_a >= 0 ? "pinned" : "not pinned", fl,
	       fl < 200 ? "shared cache" : "split");
	printf("  %-20s %10s %10s\n", "layout", "median ns", "/ floor");
	for (size_t i = 0; i < NLAYOUTS; i++) {
		const struct layout *l = &layouts[i];
		if (!wanted(l, only, zmm_ok))
			continue;
		printf("  %-20s %10.1f %10.2f\n", l->name, bench_median(ns[i], reps),
		       bench_median(ratio[i], reps));
	}
	return 0;
}
