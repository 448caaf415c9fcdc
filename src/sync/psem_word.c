/*
 * Waiting on and posting a POSIX semaphore (sem_t) ourselves, on the
 * layout glibc gives it on 64-bit machines: one 64-bit word, the value in
 * the low 32 bits and the number of waiters in the high 32, then a
 * "private" flag. Programs calling sem_wait/sem_post on the same memory
 * interoperate: it is their protocol.
 *
 * Why not glibc's calls: the semaphore sits in memory another process can
 * write, and glibc passes the "private" word from that memory straight to
 * the futex call; a value it does not expect makes the kernel refuse, and
 * glibc aborts the process on that ("The futex facility returned an
 * unexpected error code"). Here the futex is always the process-shared
 * one (what a semaphore shared between processes uses), the value is
 * checked against SEM_VALUE_MAX before use (-EPROTO otherwise), and the
 * waiter count is only ever a count.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if IPK__PSEM_WORDS

#define NWAITER ((uint64_t)1 << 32)

static inline _Atomic uint64_t *data_of(sem_t *s)
{
	return (_Atomic uint64_t *)(void *)s;
}

static inline uint32_t *value_of(sem_t *s)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (uint32_t *)(void *)s + 1;
#else
	return (uint32_t *)(void *)s;
#endif
}

static inline bool value_ok(uint64_t d)
{
	return (uint32_t)d <= SEM_VALUE_MAX;
}

int ipk__psem_word_value(sem_t *s)
{
	uint64_t d = atomic_load_explicit(data_of(s), memory_order_relaxed);
	return value_ok(d) ? (int)(uint32_t)d : -EPROTO;
}

int ipk__psem_word_post(sem_t *s)
{
	_Atomic uint64_t *data = data_of(s);
	uint64_t d = atomic_load_explicit(data, memory_order_relaxed);
	do {
		if (!value_ok(d))
			return -EPROTO;
		if ((uint32_t)d == SEM_VALUE_MAX)
			return -EOVERFLOW;
	} while (!atomic_compare_exchange_weak_explicit(
		data, &d, d + 1, memory_order_release, memory_order_relaxed));
	if (d >> 32) /* somebody may sleep: wake one */
		syscall(SYS_futex, value_of(s), FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}

/* Take a token if there is one: 1 taken, 0 none, -EPROTO. */
static int take(_Atomic uint64_t *data, uint64_t *d, uint64_t extra)
{
	while (value_ok(*d)) {
		if ((uint32_t)*d == 0)
			return 0;
		if (atomic_compare_exchange_weak_explicit(
			    data, d, *d - 1 - extra, memory_order_acquire,
			    memory_order_relaxed))
			return 1;
	}
	return -EPROTO;
}

int ipk__psem_word_wait(sem_t *s, int64_t deadline)
{
	_Atomic uint64_t *data = data_of(s);
	uint64_t d = atomic_load_explicit(data, memory_order_relaxed);
	int rc = take(data, &d, 0);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (deadline == IPK__NOW)
		return -EAGAIN;
	/* count ourselves as a waiter, so a post wakes us */
	d = atomic_fetch_add_explicit(data, NWAITER, memory_order_relaxed) + NWAITER;
	struct timespec ts;
	if (deadline != IPK__NEVER)
		ipk__deadline_timespec(deadline, CLOCK_MONOTONIC, &ts);
	for (;;) {
		rc = take(data, &d, NWAITER);
		if (rc != 0)
			break;
		/* absolute CLOCK_MONOTONIC, shared between processes */
		long r = syscall(SYS_futex, value_of(s), FUTEX_WAIT_BITSET, 0,
		                 deadline == IPK__NEVER ? NULL : &ts, NULL,
		                 FUTEX_BITSET_MATCH_ANY);
		if (r < 0 && errno == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
		d = atomic_load_explicit(data, memory_order_relaxed);
	}
	if (rc != 1) /* no token: stop being a waiter */
		atomic_fetch_sub_explicit(data, NWAITER, memory_order_relaxed);
	return rc == 1 ? 0 : rc;
}

#endif
