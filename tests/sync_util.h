/*
 * The mutual-exclusion check the sync tests share: every holder of the lock
 * or semaphore under test calls critical() on a counter in shared memory.
 * A broken lock shows as overlap != 0 or as lost increments of value.
 */
#ifndef IPKT_SYNC_UTIL_H
#define IPKT_SYNC_UTIL_H

#include <sched.h>

struct counter {
	long value;
	int inside; /* how many are in the critical section: must stay <= 1 */
	int overlap;
};

static inline void critical(struct counter *c)
{
	if (__atomic_add_fetch(&c->inside, 1, __ATOMIC_RELAXED) != 1)
		__atomic_store_n(&c->overlap, 1, __ATOMIC_RELAXED);
	long v = c->value;
	if ((v & 63) == 0)
		sched_yield(); /* widen the window a broken lock would show */
	c->value = v + 1;
	__atomic_sub_fetch(&c->inside, 1, __ATOMIC_RELAXED);
}

#endif
