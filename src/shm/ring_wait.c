/*
 * Waiting on a ring: spinning, then sleeping on a futex word in the region
 * (one wake per sleep), and the slow looks a waiter takes between sleeps:
 * has the conversation ended (the ring closed or removed, a paired end
 * gone)? Rings are mailboxes: producers coming and going never end a
 * consumer's wait.
 */
#define _GNU_SOURCE
#include "ring_pos.h"

#include <errno.h>
#include <poll.h>

void ipk__ring_wake_seq(_Atomic uint32_t *seq)
{
	uint32_t v = atomic_load_explicit(seq, RLX);
	while (v & 1u) {
		/* clear the bit and move on: the next publish makes no call */
		if (atomic_compare_exchange_weak_explicit(seq, &v, (v + 2) & ~1u, SC,
		                                          RLX)) {
			ipk__futex_wake(seq, 0x7fffffff);
			return;
		}
	}
}

bool ipk__ring_ready(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	if (r->role == IPK__RING_CONSUMER) {
		if (r->mpmc)
			return ipk__mpmc_ready(r);
		return !spsc_idle(atomic_load_explicit(rec_word(r, r->head), ACQ),
		                  r->head);
	}
	if (atomic_load_explicit(&h->closed, RLX))
		return true; /* the caller reports it */
	uint64_t t = r->mpmc ? atomic_load_explicit(&h->tail, ACQ) : r->tail;
	uint64_t rh = atomic_load_explicit(r->mpmc ? &h->rhead : &h->head, ACQ);
	if (!pos_ok(r, t) || !pos_ok(r, rh))
		return true; /* let the caller report it */
	uint64_t used = p_dist(r, t, rh);
	/* a record may fill the ring exactly (spsc_commit) */
	return used > r->cap || used + r->want_space <= r->cap;
}

/* Is a slow look due? (at most every CHECK_NS) */
static bool due(struct ipk__ring *r)
{
	int64_t now = ipk__now_ns();
	if (now < r->next_check)
		return false;
	r->next_check = now + CHECK_NS;
	return true;
}

int ipk__ring_check_end(struct ipk__ring *r, bool thorough)
{
	bool consumer = r->role == IPK__RING_CONSUMER;
	if (!consumer && atomic_load_explicit(&r->h->closed, ACQ))
		return ipk__err(-EPIPE,
		                "ring %s was closed by its listener: nobody will "
		                "read it", r->name);
	if (!thorough || !due(r))
		return 0;
	if (r->peer_life_fd >= 0) {
		struct pollfd p = {.fd = r->peer_life_fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLHUP | POLLERR)))
			return 0;
		return ipk__err(-EPIPE, "%s: the other end has been closed%s",
		                r->name, consumer ? " and nothing is left to read"
		                                  : "");
	}
	if (r->gone != NULL && r->gone(r->gone_arg)) {
		if (consumer)
			return ipk__err(-EIDRM, "ring %s was removed while this "
			                        "listener waited", r->name);
		return ipk__err(-EPIPE, "ring %s was removed: nobody will read it",
		                r->name);
	}
	return 0;
}

static int timed_out(struct ipk__ring *r, int64_t deadline)
{
	if (r->role == IPK__RING_CONSUMER)
		return ipk__err(ipk__timeout_err(deadline), "ring %s: no message",
		                r->name);
	/* a mailbox whose listener died keeps what was sent for the next
	   one; say why it is not emptied */
	bool nobody = r->peer_life_fd < 0 &&
	              ipk__ring_side_alive(r, IPK__RING_CONSUMER) == 0;
	return ipk__err(ipk__timeout_err(deadline), "ring %s: no room%s", r->name,
	                nobody ? " (it is full and no consumer is attached)" : "");
}

int ipk__ring_wait_for(struct ipk__ring *r, int64_t deadline)
{
	struct ipk__ring_hdr *h = r->h;
	bool consumer = r->role == IPK__RING_CONSUMER;
	int64_t now = ipk__now_ns();
	if (r->wait != IPK__WAIT_BLOCK) {
		/* spin: hybrid for spin_ns, spin in slices so the ends get checked */
		int64_t until = now + (r->wait == IPK__WAIT_SPIN ? CHECK_NS : r->spin_ns);
		if (deadline < until)
			until = deadline;
		for (unsigned i = 1;; i++) {
			if (ipk__ring_ready(r))
				return 0;
			ipk__cpu_relax();
			if ((i & 31) == 0 && (now = ipk__now_ns()) >= until)
				break;
		}
		if (now >= deadline)
			return timed_out(r, deadline);
		if (r->wait == IPK__WAIT_SPIN)
			return 0;
	}
	/* say we sleep (bit 0), then look once more, then sleep on the word:
	   a publish after the look sees the bit and wakes us */
	_Atomic uint32_t *seq = consumer ? &h->data_seq : &h->space_seq;
	uint32_t v = atomic_load_explicit(seq, RLX);
	while (!(v & 1u) &&
	       !atomic_compare_exchange_weak_explicit(seq, &v, v | 1u, SC, RLX))
		;
	v |= 1u;
	/* publishers store with release order only: make every one of them
	   fence before we look (or, if the kernel refuses, sleep briefly) */
	int64_t slice = ipk__fence_heavy() ? CHECK_NS : (int64_t)1000000;
	if (!ipk__ring_ready(r)) {
		int64_t left = deadline == IPK__NEVER ? slice : deadline - now;
		if (left > slice)
			left = slice;
		if (left > 0)
			ipk__futex_wait(seq, v, left);
	}
	/* nobody woke us (we did not sleep after all, or the slice ended):
	   take the bit back, or the next publish makes a wake for nobody.
	   Only where we are the one sleeper of the side (SPSC): with several,
	   another may count on the bit we set. */
	if (!r->mpmc)
		atomic_compare_exchange_strong_explicit(seq, &v, v & ~1u, RLX, RLX);
	if (deadline != IPK__NEVER && ipk__now_ns() >= deadline &&
	    !ipk__ring_ready(r))
		return timed_out(r, deadline);
	return 0;
}

bool ipk__ring_quick_wait(struct ipk__ring *r)
{
	/* wait=block looks too, briefly (a microsecond or so): a peer that is
	   only just behind otherwise meets a declared sleeper, and pays a
	   wake for a sleep that never happens */
	int spins = r->wait == IPK__WAIT_BLOCK ? QUICK_SPINS / 2 : QUICK_SPINS;
	for (int i = 0; i < spins; i++) {
		if (ipk__ring_ready(r))
			return true;
		ipk__cpu_relax();
	}
	return false;
}
