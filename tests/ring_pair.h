/*
 * For the tests that spoil a ring's fields by hand (test_ring_lap,
 * test_shm_hostile): a ring formatted in memory the test maps itself, with
 * a consumer and a producer attached to it in this process.
 */
#ifndef IPKT_RING_PAIR_H
#define IPKT_RING_PAIR_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

#include "shm/ring.h"

/* Format mem (size bytes) as a ring of capacity cap (asserted) and attach
   rx, its consumer, and tx, its producer, both named name. Returns the
   ring's header. */
static inline struct ipk__ring_hdr *rp_open(unsigned char *mem, size_t size,
                                            bool mpmc, uint64_t cap,
                                            const char *name,
                                            struct ipk__ring *rx,
                                            struct ipk__ring *tx)
{
	cr_assert_eq(ipk__ring_format(mem, size, mpmc, false), 0);
	struct ipk__ring_hdr *h = (struct ipk__ring_hdr *)mem;
	cr_assert_eq(h->capacity, cap);
	cr_assert_eq(ipk__ring_attach(rx, mem, size, IPK__RING_CONSUMER, name), 0);
	cr_assert_eq(ipk__ring_attach(tx, mem, size, IPK__RING_PRODUCER, name), 0);
	return h;
}

static inline void rp_close(struct ipk__ring *rx, struct ipk__ring *tx)
{
	ipk__ring_detach(tx);
	ipk__ring_detach(rx);
	ipk__ring_close_fds(rx);
	ipk__ring_close_fds(tx);
}

#endif
