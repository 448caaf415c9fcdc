/*
 * The MPMC record protocol (see ring.h).
 *
 * Producers reserve under prod_lock; the section ends with one store (the
 * tail), and whoever takes the lock from a dead holder first walks from
 * the tail over what that holder had already written (repair_tail), so a
 * half-done section is finished, never redone over a published record.
 *
 * Consumers claim the record at the head by moving the head with a
 * compare-and-swap, after writing the record's position into their slot;
 * the release frontier (rhead) passes a record once it is released: by a
 * compare-and-swap when it is the oldest (the usual case, which writes
 * nothing into the record: the producer's lines stay the producer's), or
 * by marking it DONE for whoever moves the frontier later. A record behind
 * the head whose reader's slot shows a dead process is freed by the
 * producers' periodic repair walk.
 */
#define _GNU_SOURCE
#include "ring_pos.h"

#include <errno.h>
#include <unistd.h>

#define LOCK_WAITERS 0x80000000u

/* 0: acquired; 1: acquired from a dead holder (repair what it left);
   < 0: not within the deadline (a live holder that does not let go). */
static int ring_lock(struct ipk__ring *r, _Atomic uint32_t *l, int64_t deadline)
{
	uint32_t me = (uint32_t)r->pid, v = 0;
	if (atomic_compare_exchange_strong_explicit(l, &v, me, ACQ, RLX))
		return 0;
	for (int i = 0; i < 100; i++) {
		ipk__cpu_relax();
		v = 0;
		if (atomic_load_explicit(l, RLX) == 0 &&
		    atomic_compare_exchange_strong_explicit(l, &v, me, ACQ, RLX))
			return 0;
	}
	/* a holder that stays is looked at in /proc now and then: one that
	   died (or is not an attached process at all: the word came from the
	   region) loses the lock */
	int64_t since = ipk__now_ns();
	for (;;) {
		v = atomic_load_explicit(l, RLX);
		if (v == 0) {
			/* we slept: others may too, so unlock must wake */
			if (atomic_compare_exchange_strong_explicit(l, &v, me | LOCK_WAITERS,
			                                            ACQ, RLX))
				return 0;
			continue;
		}
		if (!(v & LOCK_WAITERS)) {
			if (!atomic_compare_exchange_strong_explicit(l, &v, v | LOCK_WAITERS,
			                                             RLX, RLX))
				continue;
			v |= LOCK_WAITERS;
		}
		int64_t now = ipk__now_ns();
		bool expired = deadline != IPK__NEVER && now >= deadline;
		if (expired || now - since >= CHECK_NS) {
			since = now;
			if (!ipk__ring_pid_alive(r, v & ~LOCK_WAITERS) &&
			    atomic_compare_exchange_strong_explicit(l, &v, me | LOCK_WAITERS,
			                                            ACQ, RLX))
				return 1;
			if (expired)
				return ipk__err(ipk__timeout_err(deadline),
				                "ring %s: the producers' lock is held by pid %u",
				                r->name, v & ~LOCK_WAITERS);
			continue;
		}
		int64_t slice = CHECK_NS - (now - since);
		if (deadline != IPK__NEVER && deadline - now < slice)
			slice = deadline - now;
		ipk__futex_wait(l, v, slice);
	}
}

static void ring_unlock(_Atomic uint32_t *l)
{
	if (atomic_exchange_explicit(l, 0, REL) & LOCK_WAITERS)
		ipk__futex_wake(l, 1);
}

/* The size a record at p covers (checked), or 0 if it is not valid. */
static uint64_t rec_extent(const struct ipk__ring *r, uint64_t p, uint64_t w)
{
	unsigned st = w_state(w);
	if (st == ST_SKIP)
		return skip_len(r, p, w);
	uint64_t sz = atomic_load_explicit(rec_size(r, p), RLX);
	uint64_t len = st == ST_BUSY || st == ST_COMMITTED ? w_len(w) : 0;
	if ((st != ST_BUSY && st != ST_COMMITTED && st != ST_DONE) ||
	    !size_ok(r, p, sz, len))
		return 0;
	return sz;
}

/* With the lock taken from a dead holder: finish its section. */
static int repair_tail(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	if (!pos_ok(r, t))
		return ipk__ring_corrupt(r, "producer position", t);
	for (uint64_t walked = 0; walked <= r->cap;) {
		uint64_t w = atomic_load_explicit(rec_word(r, t), ACQ);
		if (w == 0) {
			atomic_store_explicit(&h->tail, t, REL);
			return 0;
		}
		uint64_t n = rec_extent(r, t, w);
		if (n == 0 || w_state(w) == ST_COMMITTED)
			return ipk__ring_corrupt(r, "record header past the tail", w);
		if (w_state(w) == ST_BUSY) /* reserved, never to be written */
			atomic_compare_exchange_strong_explicit(
				rec_word(r, t), &w, mkword(ST_DONE, 0, 0), SC, RLX);
		walked += n;
		t = p_add(r, t, n);
	}
	return ipk__ring_corrupt(r, "no end of records", t);
}

/* Does a live consumer's slot say it reads the record at p? */
static bool claimed_by_live(struct ipk__ring *r, uint64_t p)
{
	struct ipk__ring_slot *s = side_slots(r, IPK__RING_CONSUMER);
	for (uint32_t i = 0; i < r->nslots; i++) {
		if (atomic_load_explicit(&s[i].claim, ACQ) != p + 1)
			continue;
		uint64_t w = atomic_load_explicit(&s[i].owner, ACQ);
		if ((w == r->owner && registered_here(r)) || ipk__ring_owner_alive(w))
			return true;
	}
	return false;
}

/*
 * Move the release frontier over released and skipped records (and, with
 * repair, over records whose reader died). Lock-free: every step is a
 * compare-and-swap, so walkers racing each other only share the work.
 * Returns whether it moved.
 */
static bool frontier_walk(struct ipk__ring *r, bool repair)
{
	struct ipk__ring_hdr *h = r->h;
	bool moved = false;
	for (uint64_t steps = 0; steps <= r->cap / REC_HDR; steps++) {
		uint64_t rh = atomic_load_explicit(&h->rhead, ACQ);
		uint64_t hd = atomic_load_explicit(&h->head, ACQ);
		if (!pos_ok(r, rh) || !pos_ok(r, hd) || p_dist(r, hd, rh) > r->cap ||
		    rh == hd)
			break; /* corrupt ones are reported by the next locate */
		uint64_t w = atomic_load_explicit(rec_word(r, rh), ACQ);
		uint64_t n = rec_extent(r, rh, w);
		unsigned st = w_state(w);
		if (n == 0 || st == ST_BUSY ||
		    (st == ST_COMMITTED && (!repair || claimed_by_live(r, rh))))
			break;
		if (atomic_compare_exchange_strong_explicit(&h->rhead, &rh,
		                                            p_add(r, rh, n), SC, RLX))
			moved = true;
	}
	return moved;
}

ssize_t ipk__mpmc_borrow(struct ipk__ring *r, void **buf, size_t len,
                         int64_t deadline)
{
	struct ipk__ring_hdr *h = r->h;
	uint64_t rec = rec_for(len);
	uint32_t me = (uint32_t)r->pid;
	for (;;) {
		bool skipped = false;
		int rc = ring_lock(r, &h->prod_lock, deadline);
		if (rc < 0)
			return rc;
		if (rc == 1)
			rc = repair_tail(r);
		uint64_t t = atomic_load_explicit(&h->tail, ACQ);
		if (rc == 0 && !pos_ok(r, t))
			rc = ipk__ring_corrupt(r, "producer position", t);
		if (rc < 0) {
			ring_unlock(&h->prod_lock);
			return rc;
		}
		uint64_t to_end = p_room(r, t);
		uint64_t used = p_dist(r, t, r->head_cache);
		if (used > r->cap || used + (rec > to_end ? to_end : rec) + REC_HDR >
		                             r->cap) {
			uint64_t rh = atomic_load_explicit(&h->rhead, ACQ);
			used = p_dist(r, t, rh);
			if (!pos_ok(r, rh) || used > r->cap) {
				ring_unlock(&h->prod_lock);
				return ipk__ring_corrupt(r, "release position", rh);
			}
			r->head_cache = rh;
		}
		if (rec > to_end && used + to_end + REC_HDR <= r->cap) {
			/* fill to the end of the lap (the terminator at the start
			   first); the message starts the next lap */
			uint64_t nt = p_next_lap(t);
			atomic_store_explicit(rec_word(r, nt), 0, RLX);
			atomic_store_explicit(rec_word(r, t), mkword(ST_SKIP, me, to_end),
			                      REL);
			atomic_store_explicit(&h->tail, nt, REL);
			t = nt;
			used += to_end;
			to_end = r->cap;
			skipped = true;
		}
		uint64_t need = rec > to_end ? to_end : rec;
		if (rec <= to_end && used + rec + REC_HDR <= r->cap) {
			/* the terminator after it, its size, its header, then the
			   tail: the one store that ends the section */
			atomic_store_explicit(rec_word(r, p_add(r, t, rec)), 0, RLX);
			atomic_store_explicit(rec_size(r, t), rec, RLX);
			atomic_store_explicit(rec_word(r, t), mkword(ST_BUSY, me, len), REL);
			atomic_store_explicit(&h->tail, p_add(r, t, rec), REL);
			ring_unlock(&h->prod_lock);
			if (skipped)
				notify_consumers(r);
			r->borrowed = true;
			r->bpos = t;
			r->blen = len;
			*buf = r->data + p_idx(t) + REC_HDR;
			return (ssize_t)len;
		}
		ring_unlock(&h->prod_lock);
		if (skipped) /* a sleeping consumer steps over it and frees it */
			notify_consumers(r);
		/* maybe nobody moved the frontier over skips and released
		   records yet; and a reader that died holds its record for ever
		   unless freed: look for those now and then */
		int64_t now = ipk__now_ns();
		bool repair = now >= r->next_repair;
		if (repair)
			r->next_repair = now + CHECK_NS;
		if (frontier_walk(r, repair))
			continue;
		if ((rc = ipk__ring_check_end(r, true)) < 0)
			return rc;
		if (deadline == IPK__NOW)
			return ipk__err(-EAGAIN, "ring %s is full", r->name);
		r->want_space = need;
		if ((rc = ipk__ring_wait_for(r, deadline)) < 0)
			return rc;
	}
}

int ipk__mpmc_commit(struct ipk__ring *r, size_t len)
{
	uint32_t me = (uint32_t)r->pid;
	uint64_t old = mkword(ST_BUSY, me, r->blen);
	if (!atomic_compare_exchange_strong_explicit(
		    rec_word(r, r->bpos), &old, mkword(ST_COMMITTED, me, len), SC,
		    RLX))
		return ipk__err(-EPROTO,
		                "ring %s: the reserved record changed under its "
		                "producer (found %#llx): the message is lost",
		                r->name, (unsigned long long)old);
	notify_consumers(r);
	return 0;
}

void ipk__mpmc_abort(struct ipk__ring *r)
{
	/* the space is reserved in line: consumers step over it */
	uint32_t me = (uint32_t)r->pid;
	uint64_t old = mkword(ST_BUSY, me, r->blen);
	atomic_compare_exchange_strong_explicit(rec_word(r, r->bpos), &old,
	                                        mkword(ST_DONE, 0, 0), SC, RLX);
	notify_consumers(r);
}

bool ipk__mpmc_ready(struct ipk__ring *r)
{
	uint64_t hd = atomic_load_explicit(&r->h->head, ACQ);
	if (!pos_ok(r, hd))
		return true; /* let the caller report it */
	uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
	return w != 0 && w_state(w) != ST_BUSY;
}

/* A BUSY record at the head: still being written, or abandoned by a
   producer that died? Only one behind the tail was ever reserved for
   good (the tail moves last); one at the tail belongs to a section the
   next producer finishes. */
static bool busy_abandoned(struct ipk__ring *r, uint64_t hd, uint64_t w)
{
	int64_t now = ipk__now_ns();
	if (r->busy_pos != hd + 1) {
		r->busy_pos = hd + 1;
		r->busy_since = now;
	}
	if (now - r->busy_since < CHECK_NS)
		return false;
	r->busy_since = now;
	uint64_t t = atomic_load_explicit(&r->h->tail, ACQ);
	uint64_t ahead = p_dist(r, t, hd);
	if (!pos_ok(r, t) || ahead == 0 || ahead > r->cap)
		return false;
	return !ipk__ring_pid_alive(r, w_owner(w));
}

static int locate(struct ipk__ring *r, bool *passed);

int ipk__mpmc_locate(struct ipk__ring *r)
{
	bool passed = false;
	int rc = locate(r, &passed);
	/* skips and abandoned records are released by nobody: move the
	   frontier past them here */
	if (passed && frontier_walk(r, false))
		notify_producers(r);
	return rc;
}

static int locate(struct ipk__ring *r, bool *passed)
{
	struct ipk__ring_hdr *h = r->h;
	_Atomic uint64_t *claim = &side_slots(r, IPK__RING_CONSUMER)[r->slot].claim;
	/* what is published lies within one lap: stepping over more than
	   that means the records were written by someone else */
	for (uint64_t stepped = 0;;) {
		if (stepped > r->cap)
			return ipk__ring_corrupt(r, "no end of records",
			                         atomic_load_explicit(&h->head, RLX));
		uint64_t hd = atomic_load_explicit(&h->head, ACQ);
		if (!pos_ok(r, hd))
			return ipk__ring_corrupt(r, "consumer position", hd);
		uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
		if (w == 0)
			return 0;
		uint64_t n = rec_extent(r, hd, w);
		if (n == 0) {
			/* another consumer may have moved on and the space been
			   reused: only a record still at the head is corrupt */
			if (atomic_load_explicit(&h->head, ACQ) != hd)
				continue;
			return ipk__ring_corrupt(r, "record header", w);
		}
		switch (w_state(w)) {
		case ST_SKIP:
		case ST_DONE:
			if (atomic_compare_exchange_strong_explicit(
				    &h->head, &hd, p_add(r, hd, n), SC, RLX))
				stepped += n;
			*passed = true;
			continue;
		case ST_COMMITTED:
			/* say which record we take before taking it: a reader that
			   dies holding it is found by its slot */
			atomic_store_explicit(claim, hd + 1, SC);
			if (!atomic_compare_exchange_strong_explicit(
				    &h->head, &hd, p_add(r, hd, n), SC, RLX)) {
				atomic_store_explicit(claim, 0, RLX);
				continue;
			}
			r->have = true;
			r->mpos = hd;
			r->mlen = (size_t)w_len(w);
			r->mrec = n;
			r->mpid = w_owner(w) <= OWNER_PID_MASK ? (pid_t)w_owner(w) : 0;
			return 1;
		default: /* ST_BUSY */
			if (!busy_abandoned(r, hd, w))
				return 0;
			if (atomic_compare_exchange_strong_explicit(
				    rec_word(r, hd), &w, mkword(ST_DONE, 0, 0), SC, RLX) &&
			    atomic_compare_exchange_strong_explicit(
				    &h->head, &hd, p_add(r, hd, n), SC, RLX))
				stepped += n;
			*passed = true;
			continue;
		}
	}
}

void ipk__mpmc_release(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	uint64_t pos = r->mpos, rh = pos;
	bool moved;
	if (atomic_compare_exchange_strong_explicit(&h->rhead, &rh,
	                                            p_add(r, pos, r->mrec), SC,
	                                            RLX)) {
		moved = true; /* the oldest: nothing written into the record */
		frontier_walk(r, false);
	} else {
		/* an older record is still being read: leave ours DONE for
		   whoever moves the frontier; if that just became us, move it */
		atomic_store_explicit(rec_word(r, pos), mkword(ST_DONE, 0, 0), SC);
		moved = atomic_load_explicit(&h->rhead, SC) == pos &&
		        frontier_walk(r, false);
	}
	atomic_store_explicit(&side_slots(r, IPK__RING_CONSUMER)[r->slot].claim, 0,
	                      REL);
	if (moved)
		notify_producers(r);
}
