/* Low-level waiting for the ring: futexes in shared memory, pause, fork. */
#ifndef IPK_SHM_RING_SYNC_H
#define IPK_SHM_RING_SYNC_H

#include <stdatomic.h>
#include <stdint.h>

/* Bumped in the child on every fork: a handle registered under an older
   generation belongs to the parent and must register again before use. */
extern _Atomic uint64_t ipk__fork_generation;
void ipk__fork_watch(void);

/* Sleep while *w == val, at most max_ns (shared futex: works across
   processes). 0 when woken or the value differed, -ETIMEDOUT, -EINTR. */
int ipk__futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t max_ns);
void ipk__futex_wake(_Atomic uint32_t *w, int n);

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
