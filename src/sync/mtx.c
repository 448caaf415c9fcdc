/* The robust lock (see mtx.h). */
#define _GNU_SOURCE
#include "mtx.h"
#include "../core/internal.h"
#include "../shm/proc.h"
#include "../shm/ring_sync.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WAITERS 0x80000000u
#define TID_MASK 0x3fffffffu
#define SLICE_NS ((int64_t)20 * 1000000)
#define SPINS 100

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define SC memory_order_seq_cst

/* The futex is the half of the word that holds the thread id. */
static inline _Atomic uint32_t *futex_half(struct ipk__mtx *m)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (_Atomic uint32_t *)(void *)&m->word + 1;
#else
	return (_Atomic uint32_t *)(void *)&m->word;
#endif
}

/* ------------------------------------------------ this thread's identity */

static _Thread_local uint32_t my_tid, my_start;
static pthread_once_t forget_once = PTHREAD_ONCE_INIT;

static void forget(void)
{
	my_tid = 0;
}

static void watch_fork(void)
{
	pthread_atfork(NULL, NULL, forget);
}

uint32_t ipk__sync_tid(void)
{
	if (__builtin_expect(my_tid == 0, 0)) {
		pthread_once(&forget_once, watch_fork);
		pid_t t = gettid();
		/* the start time: a thread whose id is reused later is not us */
		my_start = (uint32_t)ipk__proc_start(t);
		my_tid = (uint32_t)t;
	}
	return my_tid;
}

static inline uint64_t me_word(void)
{
	uint32_t t = ipk__sync_tid();
	return ((uint64_t)my_start << 32) | t;
}

/* Is the thread an owner word names still running? */
static bool owner_alive(uint64_t w)
{
	pid_t tid = (pid_t)(w & TID_MASK);
	uint32_t start = (uint32_t)(w >> 32);
	if (tid <= 0)
		return false;
	uint64_t now = ipk__proc_start(tid);
	if (now == 0) /* gone or a zombie, unless /proc cannot tell */
		return access("/proc/self/stat", R_OK) != 0 &&
		       ipk__proc_alive(tid, 0);
	return start == 0 || (uint32_t)now == start;
}

/* -------------------------------------------------------------- the lock */

void ipk__mtx_init(struct ipk__mtx *m)
{
	atomic_store_explicit(&m->state, IPK__MTX_OK, RLX);
	m->pad = 0;
	atomic_store_explicit(&m->word, 0, REL);
}

static inline bool same_owner(uint64_t a, uint64_t b)
{
	return ((a ^ b) & ~(uint64_t)WAITERS) == 0;
}

bool ipk__mtx_mine(struct ipk__mtx *m)
{
	return same_owner(atomic_load_explicit(&m->word, RLX), me_word());
}

bool ipk__mtx_held(struct ipk__mtx *m)
{
	return atomic_load_explicit(&m->word, RLX) != 0;
}

/* Just taken: what the state word says about it. */
static int acquired(struct ipk__mtx *m, bool owner_died)
{
	uint32_t st = atomic_load_explicit(&m->state, ACQ);
	if (owner_died && st == IPK__MTX_OK) {
		atomic_store_explicit(&m->state, IPK__MTX_INCONSISTENT, RLX);
		st = IPK__MTX_INCONSISTENT;
	}
	switch (st) {
	case IPK__MTX_OK:
		return 0;
	case IPK__MTX_INCONSISTENT:
		return -EOWNERDEAD;
	default: {
		/* not recoverable, or a state no lock has: give it back */
		uint64_t old = atomic_exchange_explicit(&m->word, 0, REL);
		if ((uint32_t)old & WAITERS)
			ipk__futex_wake(futex_half(m), 1);
		return st == IPK__MTX_NOTRECOVERABLE ? -ENOTRECOVERABLE : -EPROTO;
	}
	}
}

int ipk__mtx_trylock_free(struct ipk__mtx *m)
{
	uint64_t z = 0;
	if (!atomic_compare_exchange_strong_explicit(&m->word, &z, me_word(), ACQ,
	                                             RLX))
		return -EAGAIN;
	int rc = acquired(m, false);
	if (rc == -EOWNERDEAD || rc == 0)
		return rc;
	return -EAGAIN;
}

int ipk__mtx_lock(struct ipk__mtx *m, int64_t deadline)
{
	uint64_t me = me_word();
	uint32_t st = atomic_load_explicit(&m->state, ACQ);
	if (st == IPK__MTX_NOTRECOVERABLE)
		return -ENOTRECOVERABLE; /* never wait for a lock nobody can use */
	if (st > IPK__MTX_NOTRECOVERABLE)
		return -EPROTO;
	uint64_t v = 0;
	if (atomic_compare_exchange_strong_explicit(&m->word, &v, me, ACQ, RLX))
		return acquired(m, false);
	if (same_owner(v, me))
		return -EDEADLK;
	for (int i = 0; i < SPINS && deadline != IPK__NOW; i++) {
		ipk__cpu_relax();
		v = 0;
		if (atomic_load_explicit(&m->word, RLX) == 0 &&
		    atomic_compare_exchange_strong_explicit(&m->word, &v, me, ACQ,
		                                            RLX))
			return acquired(m, false);
	}
	/* a holder that stays is looked up in /proc after each slice (and when
	   the deadline is reached: at once for a trylock) */
	int64_t next_look = deadline == IPK__NOW ? 0 : ipk__now_ns() + SLICE_NS;
	for (;;) {
		v = atomic_load_explicit(&m->word, RLX);
		if (v == 0) {
			/* we may have slept: others may too, so unlock must wake */
			if (atomic_compare_exchange_strong_explicit(
				    &m->word, &v, me | WAITERS, ACQ, RLX))
				return acquired(m, false);
			continue;
		}
		if (same_owner(v, me))
			return -EDEADLK;
		int64_t now = ipk__now_ns();
		bool expired = deadline != IPK__NEVER && now >= deadline;
		if (now >= next_look || expired) {
			next_look = now + SLICE_NS;
			if (!owner_alive(v) &&
			    atomic_compare_exchange_strong_explicit(
				    &m->word, &v, me | ((uint32_t)v & WAITERS), ACQ, RLX))
				return acquired(m, true);
			if (expired)
				return deadline == IPK__NOW ? -EAGAIN : -ETIMEDOUT;
			continue;
		}
		if (!((uint32_t)v & WAITERS)) {
			if (!atomic_compare_exchange_strong_explicit(
				    &m->word, &v, v | WAITERS, RLX, RLX))
				continue;
			v |= WAITERS;
		}
		int64_t left = next_look - now;
		if (deadline != IPK__NEVER && deadline - now < left)
			left = deadline - now;
		ipk__futex_wait(futex_half(m), (uint32_t)v, left);
	}
}

int ipk__mtx_unlock(struct ipk__mtx *m)
{
	uint64_t v = atomic_load_explicit(&m->word, RLX);
	if (v == 0 || !same_owner(v, me_word()))
		return -EPERM;
	if (atomic_load_explicit(&m->state, RLX) == IPK__MTX_INCONSISTENT)
		atomic_store_explicit(&m->state, IPK__MTX_NOTRECOVERABLE, RLX);
	uint64_t old = atomic_exchange_explicit(&m->word, 0, REL);
	if ((uint32_t)old & WAITERS)
		ipk__futex_wake(futex_half(m), 1);
	return 0;
}

int ipk__mtx_consistent(struct ipk__mtx *m)
{
	if (!ipk__mtx_mine(m) ||
	    atomic_load_explicit(&m->state, RLX) != IPK__MTX_INCONSISTENT)
		return -EINVAL;
	atomic_store_explicit(&m->state, IPK__MTX_OK, RLX);
	return 0;
}
