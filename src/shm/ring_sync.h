/* Low-level waiting for the ring: futexes in shared memory, pause, fork. */
#ifndef IPK_SHM_RING_SYNC_H
#define IPK_SHM_RING_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Bumped in the child on every fork: a handle registered under an older
   generation belongs to the parent and must register again before use. */
extern _Atomic uint64_t ipk__fork_generation;
void ipk__fork_watch(void);

/* Sleep while *w == val, at most max_ns (shared futex: works across
   processes). 0 when woken or the value differed, -ETIMEDOUT, -EINTR. */
int ipk__futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t max_ns);
void ipk__futex_wake(_Atomic uint32_t *w, int n);

/*
 * Asymmetric fences between processes (membarrier(2), GLOBAL_EXPEDITED).
 * A waker publishes and then reads the sleeper's word; a sleeper sets its
 * word and then looks at what was published. Either side needs a full
 * fence between its store and its load, and the waker's side is the fast
 * path of every message. So a process that registered publishes with a
 * plain release store, and a sleeper, before its last look, forces a full
 * fence on the CPUs of every registered process (a few hundred ns, once
 * per sleep).
 *
 * ipk__fence_light: may this process publish without a full fence (it is
 * registered; checked again after fork)? ipk__fence_heavy: the sleeper's
 * side; false if the kernel refused (the sleeper then sleeps in short
 * slices, since a light publisher's wake may be missed).
 */
bool ipk__fence_light(void);
bool ipk__fence_heavy(void);

static inline void ipk__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif
