/*
 * The robust lock under ipk_mutex, ipk_cond and ipk_rwlock.
 *
 * Why not a robust pthread mutex: glibc links a robust mutex into its
 * owner thread's list through pointers stored inside the mutex, and
 * unlocking follows them (an unlink: two stores through those pointers).
 * In shared memory that a hostile process can write, those are stores to
 * addresses of its choosing in every process that unlocks. This lock
 * keeps no pointer and nothing a writer can turn into an access outside
 * the lock itself: one 64-bit word holds the owner's thread id and the low
 * 32 bits of that thread's start time (one compare-and-swap takes it, so
 * owner and identity never disagree), its low half is the futex word
 * waiters sleep on, and a state word says whether an owner died.
 *
 * An owner's death is found by the waiters: after spinning, a waiter looks
 * the owner's thread up in /proc (gone, a zombie, or another thread with a
 * recycled id and another start time: dead), and again after every sleep
 * slice (20 ms), so a dead owner is taken over within one slice; trylock
 * looks at once. Thread ids are shared by every process in a pid
 * namespace: the processes using a lock must share one.
 */
#ifndef IPK_SYNC_MTX_H
#define IPK_SYNC_MTX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct ipk__mtx {
	_Atomic uint64_t word;  /* owner: tid | waiters bit, start time << 32 */
	_Atomic uint32_t state; /* IPK__MTX_OK, _INCONSISTENT, _NOTRECOVERABLE */
	uint32_t pad;
};

#define IPK__MTX_OK 0u
#define IPK__MTX_INCONSISTENT 1u   /* an owner died; the taker repairs */
#define IPK__MTX_NOTRECOVERABLE 2u /* unlocked without repair */

void ipk__mtx_init(struct ipk__mtx *m);
/*
 * Lock until deadline. 0; -EOWNERDEAD (held: an owner died, repair then
 * ipk__mtx_consistent); -ENOTRECOVERABLE (not held); -EDEADLK (this thread
 * holds it); -EAGAIN (IPK__NOW) or -ETIMEDOUT; -EPROTO (a state word no
 * lock ever has: not held). No message is set.
 */
int ipk__mtx_lock(struct ipk__mtx *m, int64_t deadline);
/* Take it only if it is free (no look at the owner). 0 or -EAGAIN. */
int ipk__mtx_trylock_free(struct ipk__mtx *m);
/* 0, or -EPERM if the calling thread does not hold it. */
int ipk__mtx_unlock(struct ipk__mtx *m);
/* 0, or -EINVAL unless held by this thread after an owner died. */
int ipk__mtx_consistent(struct ipk__mtx *m);
/* Is it held by the calling thread? */
bool ipk__mtx_mine(struct ipk__mtx *m);
/* Is it held at all? */
bool ipk__mtx_held(struct ipk__mtx *m);

/* The calling thread's id (cached; right in a forked child too). */
uint32_t ipk__sync_tid(void);

#endif
