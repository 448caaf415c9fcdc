/*
 * The MPMC record protocol (see ring.h).
 *
 * Each side has a lock (a pid word: a dead holder's lock is taken over)
 * and every change a side makes to the ring happens inside that side's
 * sections, so processes of one side never race each other:
 *
 * - Producers reserve in a section that ends with one store (the tail).
 *   Whoever takes the lock from a dead holder first walks from the tail
 *   over what that holder had already written (repair_tail), so a
 *   half-done section is finished, never redone over a published record.
 * - Consumers claim the record at the head in a section (their slot names
 *   the record first, so a reader that dies holding it is found), read it
 *   outside, and release it in another: the release frontier (rhead)
 *   moves over it when it is the oldest (writing nothing into the record),
 *   else it is marked DONE for whoever releases the oldest. A bias holder
 *   taking the oldest record in one section (fast_recv) zeroes its header
 *   first where it starts a cache line, as an SPSC consumer does, so the
 *   producer that comes there a lap on finds the 0 it needs and writes no
 *   terminator (terminate; a hole left by a reader killed in between:
 *   step_hole). Only consumers
 *   move the frontier; the one that
 *   waits for messages also frees, now and then, the records of readers
 *   that died (a producer waiting for room needs a live consumer anyway).
 *
 * The bias: a process that keeps finding its side's lock free takes the
 * side's bias, and then runs its sections without the lock, whose two
 * atomic read-modify-writes each wait for every store still on the way to
 * the other core (most of an MPMC message's cost). Instead it raises the
 * busy flag in its own slot, checks that the bias is still its own, runs
 * the section and lowers the flag: plain stores and loads. Another process
 * of that side takes the lock and then revokes the bias: clears it, fences
 * the holder (membarrier: the holder's flag is seen, or the holder sees
 * the bias gone and takes the lock), and waits for the flag to drop
 * (finishing the section of a holder that died in it). Until it has seen
 * the flag drop, the bias word names the holder marked REVOKING rather
 * than reading 0: a revoker that gives up (its deadline passed) or dies
 * leaves the next one to wait for the holder too, never to find the side
 * free while the holder is still in its section. A holder that lost the
 * bias waits twice as long before taking it again, so processes that
 * share a side settle on the lock.
 */
#define _GNU_SOURCE
#include "ring_pos.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#define LOCK_WAITERS 0x80000000u
/* A deadline that starts when the waiting does (no clock read up front):
   what a release waits for its section at most. */
#define SECTION_WAIT ((int64_t)-2)
#define SECTION_WAIT_NS ((int64_t)5 * 1000000000)
#define BIAS_FIRST 64u
#define BIAS_MAX (1u << 20)
/* In a bias word: being revoked, the holder not yet seen out of its
   section (owner words never have this bit: ring_pos.h). */
#define REVOKING (UINT64_C(1) << 63)

/* --------------------------------------------------------------- locks */

/* 0: acquired at once; 2: acquired after waiting; 1: acquired from a dead
   holder (repair what it left); < 0: not within the deadline (a live
   holder that does not let go). */
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
			return 2;
	}
	/* a holder that stays is looked at in /proc now and then: one that
	   died (or is not an attached process at all: the word came from the
	   region) loses the lock */
	int64_t since = ipk__now_ns();
	if (deadline == SECTION_WAIT)
		deadline = since + SECTION_WAIT_NS;
	for (;;) {
		v = atomic_load_explicit(l, RLX);
		if (v == 0) {
			/* we slept: others may too, so unlock must wake */
			if (atomic_compare_exchange_strong_explicit(l, &v, me | LOCK_WAITERS,
			                                            ACQ, RLX))
				return 2;
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
				                "ring %s: the %s' lock is held by pid %u",
				                r->name,
				                r->role == IPK__RING_CONSUMER ? "consumers"
				                                              : "producers",
				                v & ~LOCK_WAITERS);
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

/* ------------------------------------------------------------- records */

/* The word at p (released space, ours in this section) must read 0 before
   the record before it is published. A consumer that took a record on the
   fast path zeroed its header before releasing it, so where one stood the
   word already reads 0 and is left alone: the line is not pulled from the
   consumer's cache to be written early, and a consumer that has caught up
   polls a line it holds itself until the next record lands. Nobody else
   writes released space while we hold the section. */
static inline void terminate(struct ipk__ring *r, uint64_t p)
{
	_Atomic uint64_t *w = rec_word(r, p);
	if (atomic_load_explicit(w, RLX) != 0)
		atomic_store_explicit(w, 0, RLX);
}

/* The size a record at p covers (checked), or 0 if it is not valid
   (among others: written for another lap). */
static uint64_t rec_extent(const struct ipk__ring *r, uint64_t p, uint64_t w)
{
	unsigned st = w_state(w);
	if (!w_lap_ok(w, p))
		return 0;
	if (st == ST_SKIP)
		return skip_len(r, p, w);
	uint64_t sz = atomic_load_explicit(rec_size(r, p), RLX);
	uint64_t len = st == ST_BUSY || st == ST_COMMITTED ? w_len(w) : 0;
	if ((st != ST_BUSY && st != ST_COMMITTED && st != ST_DONE) ||
	    !size_ok(r, p, sz, len))
		return 0;
	return sz;
}

/* With the producers' lock taken from a dead holder: finish its section. */
static int repair_tail(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	if (!pos_ok(r, t))
		return ipk__ring_corrupt(r, "producer position", t);
	for (uint64_t walked = 0; walked <= r->cap;) {
		uint64_t w = atomic_load_explicit(rec_word(r, t), ACQ);
		/* the end: a terminator, or a header from the lap before (a
		   record that filled the ring exactly has none after it) */
		if (w == 0 || !w_lap_ok(w, t)) {
			atomic_store_explicit(&h->tail, t, REL);
			return 0;
		}
		/* what the dead section wrote: a skip, a message it published
		   before it could move the tail (whole: the header went last),
		   or a reservation it will never fill */
		uint64_t n = rec_extent(r, t, w);
		if (n == 0)
			return ipk__ring_corrupt(r, "record header past the tail", w);
		if (w_state(w) == ST_BUSY)
			atomic_compare_exchange_strong_explicit(
				rec_word(r, t), &w, mkword(ST_DONE, 0, t, 0), SC, RLX);
		walked += n;
		t = p_add(r, t, n);
	}
	return ipk__ring_corrupt(r, "no end of records", t);
}

/* -------------------------------------------------------------- sides */

/* A side's lock and bias words. */
struct side {
	_Atomic uint32_t *lock;
	_Atomic uint32_t *bias_slot;
	_Atomic uint64_t *bias;
};

static struct side side_of(const struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	if (r->role == IPK__RING_CONSUMER)
		return (struct side){&h->cons_lock, &h->cons_bias_slot, &h->cons_bias};
	return (struct side){&h->prod_lock, &h->bias_slot, &h->bias};
}

static _Atomic uint32_t *my_busy(const struct ipk__ring *r)
{
	return &side_slots(r, r->role)[r->slot].busy;
}

/* Does the bias name this handle? (a process may hold several) */
static bool bias_mine(const struct ipk__ring *r, const struct side *s)
{
	return atomic_load_explicit(s->bias, ACQ) == r->owner &&
	       atomic_load_explicit(s->bias_slot, RLX) == (uint32_t)r->slot;
}

/* true: run the section without the lock (bias_leave after) */
static bool bias_enter(struct ipk__ring *r, const struct side *s)
{
	if (!r->light || !bias_mine(r, s))
		return false;
	atomic_store_explicit(my_busy(r), 1, RLX);
	/* the revoker's fence orders this store before our load for it */
	atomic_signal_fence(SC);
	if (bias_mine(r, s))
		return true;
	atomic_store_explicit(my_busy(r), 0, REL);
	r->streak = 0;
	r->bias_after = r->bias_after >= BIAS_MAX / 2 ? BIAS_MAX : 2 * r->bias_after;
	return false;
}

/* Holding the lock: nobody of this side may be in a section under a bias.
   0, or a corrupt ring / the deadline passed while the holder is in its
   section (the bias word stays marked REVOKING then: whoever takes the
   lock next waits for the holder in turn). */
static int bias_revoke(struct ipk__ring *r, const struct side *sd,
                       int64_t deadline)
{
	uint64_t b = atomic_load_explicit(sd->bias, ACQ);
	uint32_t k = atomic_load_explicit(sd->bias_slot, RLX);
	bool producer = r->role == IPK__RING_PRODUCER;
	uint64_t holder = b & ~REVOKING;
	if (b == 0)
		return 0;
	if (holder == r->owner && k == (uint32_t)r->slot) {
		/* ours (we are in no section now); marked: revoked from us by
		   a process that gave up waiting, so the side is ours again */
		if (b != holder)
			atomic_store_explicit(sd->bias, 0, RLX);
		return 0;
	}
	/* marked, not cleared: the holder no longer enters, and nobody else
	   takes the side for free before the holder is seen out (a revoker
	   that gave up or died may have marked it already: the fence is
	   repeated, it costs only the slow path) */
	atomic_store_explicit(sd->bias, holder | REVOKING, SC);
	if (!ipk__fence_heavy())
		ipk__nap(1000000, IPK__NEVER); /* a store is seen well before */
	/* the holder's slot, if it still holds it (k came from the region) */
	struct ipk__ring_slot *s = side_slots(r, r->role);
	int rc = 0;
	if (k >= r->nslots || atomic_load_explicit(&s[k].owner, ACQ) != holder) {
		/* died (or left); slot given away */
		rc = producer ? repair_tail(r) : 0;
		goto out;
	}
	int64_t since = ipk__now_ns();
	if (deadline == SECTION_WAIT)
		deadline = since + SECTION_WAIT_NS;
	for (unsigned n = 0; atomic_load_explicit(&s[k].busy, ACQ); n++) {
		if (n < 1000) {
			ipk__cpu_relax();
			continue;
		}
		int64_t now = ipk__now_ns();
		if (now - since >= CHECK_NS) {
			since = now;
			if (!ipk__ring_owner_alive(holder)) {
				/* it died in a section: a consumer's leaves nothing
				   half done; a producer's is finished here */
				atomic_store_explicit(&s[k].busy, 0, RLX);
				rc = producer ? repair_tail(r) : 0;
				goto out;
			}
		}
		if (ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline),
			                "ring %s: another process is in its section",
			                r->name);
		sched_yield();
	}
out:
	/* seen out (or a corrupt ring: the lock still keeps the side) */
	atomic_store_explicit(sd->bias, 0, RLX);
	return rc;
}

/* The lock was taken (rc from ring_lock): count free takes in a row, and
   after enough, take the bias. */
static void bias_consider(struct ipk__ring *r, const struct side *s, int took)
{
	if (took != 0) {
		r->streak = 0;
		return;
	}
	if (r->bias_after == 0)
		r->bias_after = BIAS_FIRST;
	if (++r->streak >= r->bias_after && r->light &&
	    atomic_load_explicit(s->bias, RLX) == 0) {
		atomic_store_explicit(s->bias_slot, (uint32_t)r->slot, RLX);
		atomic_store_explicit(s->bias, r->owner, REL);
	}
}

/* Enter this side's section: 0 (*biased says how), or an error. */
static int section_begin(struct ipk__ring *r, const struct side *s,
                         bool *biased, int64_t deadline)
{
	*biased = bias_enter(r, s);
	if (*biased) {
		HOOK("section:biased");
		return 0;
	}
	int took = ring_lock(r, s->lock, deadline);
	if (took < 0)
		return took;
	int rc = 0;
	if (took == 1 && r->role == IPK__RING_PRODUCER)
		rc = repair_tail(r);
	if (rc == 0)
		rc = bias_revoke(r, s, deadline);
	if (rc < 0) {
		ring_unlock(s->lock);
		return rc;
	}
	bias_consider(r, s, took);
	return 0;
}

static void section_end(struct ipk__ring *r, const struct side *s, bool biased)
{
	if (biased)
		atomic_store_explicit(my_busy(r), 0, REL);
	else
		ring_unlock(s->lock);
}

void ipk__mpmc_leave(struct ipk__ring *r)
{
	struct side s = side_of(r);
	uint64_t me = r->owner;
	if (atomic_load_explicit(s.bias_slot, RLX) == (uint32_t)r->slot)
		atomic_compare_exchange_strong_explicit(s.bias, &me, 0, SC, RLX);
	atomic_store_explicit(my_busy(r), 0, REL);
}

/* ------------------------------------------------------------ producer */

/*
 * Find room for a record of rec bytes at the tail: returns 0 in a section
 * (*biased says how) with *at the record's position (a skip to the end of
 * the lap written if needed), or an error. The caller writes the record
 * (terminator after it, size, header), then ends with reserve_done().
 */
static int reserve(struct ipk__ring *r, uint64_t rec, uint64_t *at,
                   bool *biased, int64_t deadline)
{
	struct ipk__ring_hdr *h = r->h;
	struct side sd = side_of(r);
	uint32_t me = (uint32_t)r->pid;
	for (;;) {
		bool skipped = false;
		int rc = section_begin(r, &sd, biased, deadline);
		if (rc < 0)
			return rc;
		uint64_t t = atomic_load_explicit(&h->tail, ACQ);
		if (!pos_ok(r, t)) {
			section_end(r, &sd, *biased);
			return ipk__ring_corrupt(r, "producer position", t);
		}
		uint64_t to_end = p_room(r, t);
		uint64_t used = p_dist(r, t, r->head_cache);
		if (used > r->cap || used + (rec > to_end ? to_end : rec) + REC_HDR >
		                             r->cap) {
			uint64_t rh = atomic_load_explicit(&h->rhead, ACQ);
			used = p_dist(r, t, rh);
			if (!pos_ok(r, rh) || used > r->cap) {
				section_end(r, &sd, *biased);
				return ipk__ring_corrupt(r, "release position", rh);
			}
			r->head_cache = rh;
		}
		/* a record (or skip) may end exactly one lap ahead of the
		   release frontier: it fills the ring, and no terminator is
		   written over the oldest record's header there (consumers take
		   a header from the lap before at the tail for "nothing yet",
		   see locate). Otherwise a message of the largest size would
		   fit an empty ring only once. */
		if (rec > to_end && used + to_end <= r->cap) {
			/* fill to the end of the lap (the terminator at the start
			   first); the message starts the next lap */
			uint64_t nt = p_next_lap(t);
			if (used + to_end < r->cap)
				terminate(r, nt);
			atomic_store_explicit(rec_word(r, t),
			                      mkword(ST_SKIP, me, t, to_end), REL);
			atomic_store_explicit(&h->tail, nt, REL);
			t = nt;
			used += to_end;
			to_end = r->cap;
			skipped = true;
		}
		if (rec <= to_end && used + rec <= r->cap) {
			if (skipped) /* a sleeping consumer steps over it */
				notify_consumers(r);
			/* the terminator goes first: the record may end the lap */
			if (used + rec < r->cap)
				terminate(r, p_add(r, t, rec));
			atomic_store_explicit(rec_size(r, t), rec, RLX);
			*at = t;
			return 0;
		}
		section_end(r, &sd, *biased);
		if (skipped) /* a sleeping consumer steps over it and frees it */
			notify_consumers(r);
		if ((rc = ipk__ring_check_end(r, true)) < 0)
			return rc;
		if (deadline == IPK__NOW)
			return ipk__err(-EAGAIN, "ring %s is full", r->name);
		r->want_space = rec > to_end ? to_end : rec;
		if ((rc = ipk__ring_wait_for(r, deadline)) < 0)
			return rc;
	}
}

/* The record at t (rec bytes) has its header: publish the tail, which
   ends the section. */
static void reserve_done(struct ipk__ring *r, uint64_t t, uint64_t rec,
                         bool biased)
{
	struct side sd = side_of(r);
	atomic_store_explicit(&r->h->tail, p_add(r, t, rec), REL);
	section_end(r, &sd, biased);
}

ssize_t ipk__mpmc_borrow(struct ipk__ring *r, void **buf, size_t len,
                         int64_t deadline)
{
	uint64_t rec = rec_for(len), t;
	bool biased;
	int rc = reserve(r, rec, &t, &biased, deadline);
	if (rc < 0)
		return rc;
	atomic_store_explicit(rec_word(r, t),
	                      mkword(ST_BUSY, (uint32_t)r->pid, t, len), REL);
	HOOK("reserve:written");
	reserve_done(r, t, rec, biased);
	r->borrowed = true;
	r->bpos = t;
	r->blen = len;
	*buf = r->data + p_idx(t) + REC_HDR;
	return (ssize_t)len;
}

ssize_t ipk__mpmc_send_small(struct ipk__ring *r, const void *buf, size_t len,
                             int64_t deadline)
{
	/* written and published inside the section: no BUSY state, one
	   header store (producers wait for the copy, so only small ones) */
	uint64_t rec = rec_for(len), t;
	bool biased;
	int rc = reserve(r, rec, &t, &biased, deadline);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(r->data + p_idx(t) + REC_HDR, buf, len);
	publish(r, rec_word(r, t), mkword(ST_COMMITTED, (uint32_t)r->pid, t, len));
	HOOK("reserve:written");
	reserve_done(r, t, rec, biased);
	notify_consumers(r);
	return (ssize_t)len;
}

int ipk__mpmc_commit(struct ipk__ring *r, size_t len)
{
	/* the reserved record is ours alone (consumers only ever give up the
	   BUSY record of a dead producer): a plain publishing store */
	uint32_t me = (uint32_t)r->pid;
	publish(r, rec_word(r, r->bpos), mkword(ST_COMMITTED, me, r->bpos, len));
	notify_consumers(r);
	return 0;
}

void ipk__mpmc_abort(struct ipk__ring *r)
{
	/* the space is reserved in line: consumers step over it */
	uint32_t me = (uint32_t)r->pid;
	uint64_t old = mkword(ST_BUSY, me, r->bpos, r->blen);
	atomic_compare_exchange_strong_explicit(rec_word(r, r->bpos), &old,
	                                        mkword(ST_DONE, 0, r->bpos, 0),
	                                        SC, RLX);
	notify_consumers(r);
}

/* ------------------------------------------------------------ consumer */

/* Is p where the producers will write next: the tail, or the end of the
   record at the tail whose section has not ended yet (the tail moves
   last, and a record's header is published before it)? */
static bool at_producers(struct ipk__ring *r, uint64_t p)
{
	uint64_t t = atomic_load_explicit(&r->h->tail, ACQ);
	if (t == p)
		return true;
	if (!pos_ok(r, t))
		return false;
	uint64_t w = atomic_load_explicit(rec_word(r, t), ACQ);
	uint64_t n = rec_extent(r, t, w);
	if (w == 0) {
		/* taken on the fast path (its header zeroed) before its producer
		   moved the tail: its size word is still there */
		n = atomic_load_explicit(rec_size(r, t), RLX);
		if (!size_ok(r, t, n, 0))
			n = 0;
	}
	return n != 0 && p_add(r, t, n) == p;
}

bool ipk__mpmc_ready(struct ipk__ring *r)
{
	uint64_t hd = atomic_load_explicit(&r->h->head, ACQ);
	if (!pos_ok(r, hd))
		return true; /* let the caller report it */
	uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
	return w != 0 && w_state(w) != ST_BUSY &&
	       (w_lap_ok(w, hd) || !at_producers(r, hd));
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
 * In a consumer section: move the release frontier over released and
 * skipped records (and, with repair, over records whose reader died).
 * Returns whether it moved.
 */
static bool frontier_walk(struct ipk__ring *r, bool repair)
{
	struct ipk__ring_hdr *h = r->h;
	uint64_t rh = atomic_load_explicit(&h->rhead, ACQ);
	uint64_t hd = atomic_load_explicit(&h->head, ACQ);
	if (!pos_ok(r, rh) || !pos_ok(r, hd) || p_dist(r, hd, rh) > r->cap)
		return false; /* corrupt: the next locate reports it */
	uint64_t start = rh;
	while (rh != hd) {
		uint64_t w = atomic_load_explicit(rec_word(r, rh), ACQ);
		uint64_t n = rec_extent(r, rh, w);
		unsigned st = w_state(w);
		if (n == 0 || n > p_dist(r, hd, rh) || st == ST_BUSY ||
		    (st == ST_COMMITTED && (!repair || claimed_by_live(r, rh))))
			break;
		rh = p_add(r, rh, n);
	}
	if (rh == start)
		return false;
	atomic_store_explicit(&h->rhead, rh, REL);
	return true;
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

/* In a consumer section: 1 a record is claimed (r->mpos...), 0 none yet,
   < 0 corrupt. *passed: it stepped over records nobody will release. */
static int locate(struct ipk__ring *r, bool *passed)
{
	struct ipk__ring_hdr *h = r->h;
	_Atomic uint64_t *claim = &side_slots(r, IPK__RING_CONSUMER)[r->slot].claim;
	/* what is published lies within one lap: stepping over more than
	   that means the records were written by someone else */
	for (uint64_t stepped = 0;;) {
		uint64_t hd = atomic_load_explicit(&h->head, ACQ);
		if (!pos_ok(r, hd))
			return ipk__ring_corrupt(r, "consumer position", hd);
		if (stepped > r->cap)
			return ipk__ring_corrupt(r, "no end of records", hd);
		uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
		if (w == 0)
			return 0;
		if (!w_lap_ok(w, hd)) {
			/* a header from another lap: at the producers' position
			   (the tail, or the end of the one record whose section
			   has not ended) it is the oldest record's, one lap behind
			   (a record filled the ring exactly: reserve), and nothing
			   is there yet; anywhere else the position or the record
			   is not what producers made. The tail moves after the
			   header it passes is published: a tail seen moved means
			   the word is worth a second look. */
			if (at_producers(r, hd))
				return 0;
			if (atomic_load_explicit(rec_word(r, hd), ACQ) != w)
				continue;
			return ipk__ring_corrupt(r, "record header from another lap "
			                            "(the consumer position is not "
			                            "where producers wrote)", w);
		}
		uint64_t n = rec_extent(r, hd, w);
		if (n == 0)
			return ipk__ring_corrupt(r, "record header", w);
		switch (w_state(w)) {
		case ST_SKIP:
		case ST_DONE:
			atomic_store_explicit(&h->head, p_add(r, hd, n), REL);
			stepped += n;
			*passed = true;
			continue;
		case ST_COMMITTED:
			/* name the record before taking it: a reader that dies
			   holding it is found by its slot */
			atomic_store_explicit(claim, hd + 1, RLX);
			atomic_store_explicit(&h->head, p_add(r, hd, n), REL);
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
				    rec_word(r, hd), &w, mkword(ST_DONE, 0, hd, 0), SC,
				    RLX)) {
				atomic_store_explicit(&h->head, p_add(r, hd, n), REL);
				stepped += n;
			}
			*passed = true;
			continue;
		}
	}
}

static bool release_locked(struct ipk__ring *r);

int ipk__mpmc_locate(struct ipk__ring *r, int64_t deadline, ipk__rx *rx)
{
	struct side sd = side_of(r);
	bool biased, passed = false;
	int rc = section_begin(r, &sd, &biased, deadline);
	if (rc < 0)
		return rc;
	rc = locate(r, &passed);
	bool moved = false;
	if (rc == 1 && rx != NULL && rx->buf != NULL && r->mlen <= rx->cap &&
	    r->mlen <= rx->maxmsg && r->mlen <= r->maxmsg) {
		/* a copying receive: copy and release while in the section */
		if (r->mlen)
			memcpy(rx->buf, r->data + p_idx(r->mpos) + REC_HDR, r->mlen);
		moved = release_locked(r);
		r->have = false;
		rc = 2;
	}
	/* skips and abandoned records are released by nobody: move the
	   frontier past them here */
	if (passed)
		moved |= frontier_walk(r, false);
	section_end(r, &sd, biased);
	if (moved)
		notify_producers(r);
	return rc;
}

const char *ipk__mpmc_position_fault(struct ipk__ring *r, uint64_t *v)
{
	struct ipk__ring_hdr *h = r->h;
	/* the head first: what it passed was published before the tail read */
	uint64_t hd = atomic_load_explicit(&h->head, ACQ);
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	*v = hd;
	if (!pos_ok(r, hd) || !pos_ok(r, t))
		return NULL; /* reported where they are used */
	/* past the tail by the one record whose section has not ended yet
	   (its producer stores the tail last, or died before it did) */
	if (p_dist(r, t, hd) <= r->cap || at_producers(r, hd))
		return NULL;
	if (atomic_load_explicit(&h->tail, ACQ) != t)
		return NULL; /* moving: look again next time */
	return "consumer position past the producers'";
}

/*
 * In a consumer section: a consumer killed on the fast path between
 * zeroing the header of the record it took and moving the head leaves a 0
 * at the head, behind the tail, with everything before it released. That
 * is no terminator (a record's header is published before the tail passes
 * it, and the tail is read first): step over the record by its size word
 * (its message is lost, as with any reader that dies holding one).
 */
static bool step_hole(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	uint64_t hd = atomic_load_explicit(&h->head, ACQ);
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	if (!pos_ok(r, hd) || !pos_ok(r, t) ||
	    atomic_load_explicit(&h->rhead, ACQ) != hd ||
	    atomic_load_explicit(rec_word(r, hd), ACQ) != 0)
		return false;
	uint64_t ahead = p_dist(r, t, hd);
	uint64_t sz = atomic_load_explicit(rec_size(r, hd), RLX);
	if (ahead == 0 || ahead > r->cap || !size_ok(r, hd, sz, 0) || sz > ahead)
		return false; /* nothing yet, or not a hole we can size */
	uint64_t next = p_add(r, hd, sz);
	atomic_store_explicit(&h->head, next, REL);
	atomic_store_explicit(&h->rhead, next, REL);
	return true;
}

void ipk__mpmc_idle(struct ipk__ring *r)
{
	/* a consumer about to wait for messages frees, now and then, what
	   readers that died held (a producer waiting for room needs that) */
	int64_t now = ipk__now_ns();
	if (now < r->next_repair)
		return;
	r->next_repair = now + CHECK_NS;
	struct side sd = side_of(r);
	bool biased;
	if (section_begin(r, &sd, &biased, IPK__NOW) < 0)
		return;
	bool moved = step_hole(r);
	moved |= frontier_walk(r, true);
	section_end(r, &sd, biased);
	if (moved)
		notify_producers(r);
}

/* In a consumer section: release the record at r->mpos. Whether the
   frontier moved. */
static bool release_locked(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	bool moved;
	if (atomic_load_explicit(&h->rhead, ACQ) == r->mpos) {
		/* the oldest: nothing written into the record */
		atomic_store_explicit(&h->rhead, p_add(r, r->mpos, r->mrec), REL);
		frontier_walk(r, false);
		moved = true;
	} else {
		/* an older record is still being read: whoever releases it
		   moves the frontier over ours */
		atomic_store_explicit(rec_word(r, r->mpos),
		                      mkword(ST_DONE, 0, r->mpos, 0), REL);
		moved = false;
	}
	atomic_store_explicit(&side_slots(r, IPK__RING_CONSUMER)[r->slot].claim, 0,
	                      REL);
	return moved;
}

void ipk__mpmc_release(struct ipk__ring *r)
{
	struct side sd = side_of(r);
	bool biased;
	/* without the section (a lock another process does not let go) there
	   is nothing safe to do: the record stays claimed until we leave */
	if (section_begin(r, &sd, &biased, SECTION_WAIT) < 0)
		return;
	bool moved = release_locked(r);
	section_end(r, &sd, biased);
	if (moved)
		notify_producers(r);
}

/* ---------------------------------------------------------- fast paths */

/*
 * The bias holder's fast paths: one section, nothing unusual. They return
 * -1 to send the caller down the general path (no bias, a skip to write,
 * the ring full or empty, a record to report, a buffer that does not fit).
 */

/* Enter the section under the bias, or false. */
static inline bool fast_enter(struct ipk__ring *r, const struct side *s)
{
	if (!r->light || !registered_here(r) || !bias_mine(r, s))
		return false;
	atomic_store_explicit(my_busy(r), 1, RLX);
	atomic_signal_fence(SC);
	if (bias_mine(r, s))
		return true;
	atomic_store_explicit(my_busy(r), 0, REL);
	return false;
}

ssize_t ipk__mpmc_fast_send(struct ipk__ring *r, const void *buf, size_t len)
{
	struct ipk__ring_hdr *h = r->h;
	struct side sd = side_of(r);
	if (r->borrowed || !fast_enter(r, &sd))
		return -1;
	HOOK("section:biased");
	uint64_t rec = rec_for(len), t = atomic_load_explicit(&h->tail, ACQ);
	if (!pos_ok(r, t) || rec > p_room(r, t) ||
	    p_dist(r, t, r->head_cache) + rec + REC_HDR > r->cap) {
		atomic_store_explicit(my_busy(r), 0, REL);
		return -1;
	}
	uint64_t nt = p_add(r, t, rec);
	terminate(r, nt);
	atomic_store_explicit(rec_size(r, t), rec, RLX);
	if (len)
		memcpy(r->data + p_idx(t) + REC_HDR, buf, len);
	publish(r, rec_word(r, t), mkword(ST_COMMITTED, (uint32_t)r->pid, t, len));
	HOOK("reserve:written");
	atomic_store_explicit(&h->tail, nt, REL);
	atomic_store_explicit(my_busy(r), 0, REL);
	notify_consumers(r);
	/* fetch the lines the next small message will fill while nobody needs
	   them (not the one holding this record's end: a consumer reads it) */
	uint64_t line = (p_idx(nt) & ~(uint64_t)63) + 64;
	if (line + 128 <= r->cap) {
		__builtin_prefetch(r->data + line, 1, 3);
		__builtin_prefetch(r->data + line + 64, 1, 3);
	}
	return (ssize_t)len;
}

ssize_t ipk__mpmc_fast_recv(struct ipk__ring *r, ipk__rx *rx)
{
	struct ipk__ring_hdr *h = r->h;
	struct side sd = side_of(r);
	if (r->have || r->bell_rx >= 0 || rx->buf == NULL || !fast_enter(r, &sd))
		return -1;
	/* everything before the head released: take it and release it */
	uint64_t hd = atomic_load_explicit(&h->head, ACQ);
	if (!pos_ok(r, hd) || atomic_load_explicit(&h->rhead, RLX) != hd)
		goto general;
	uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
	uint64_t len = w_len(w);
	if (w_state(w) != ST_COMMITTED || !w_lap_ok(w, hd) || len > rx->cap ||
	    len > rx->maxmsg || len > r->maxmsg)
		goto general;
	uint64_t sz = atomic_load_explicit(rec_size(r, hd), RLX);
	if (!size_ok(r, hd, sz, len))
		goto general;
	if (len)
		memcpy(rx->buf, r->data + p_idx(hd) + REC_HDR, len);
	uint64_t next = p_add(r, hd, sz);
	/* a header that starts a cache line reads 0 from now on: the producer
	   that comes here a lap on need not write a terminator (terminate),
	   which would pull that line from us early. Elsewhere the producer
	   holds the line already (the record before ends in it), its store is
	   free, and ours would only move the line once more. Killed before the
	   head moves, this leaves a hole at the head: see step_hole. */
	if ((p_idx(hd) & 63) == 0) {
		atomic_store_explicit(rec_word(r, hd), 0, REL);
		HOOK("recv:zeroed");
	}
	atomic_store_explicit(&h->head, next, REL);
	atomic_store_explicit(&h->rhead, next, REL);
	atomic_store_explicit(my_busy(r), 0, REL);
	rx->info->pid = w_owner(w) <= OWNER_PID_MASK ? (pid_t)w_owner(w) : 0;
	notify_producers(r);
	return (ssize_t)len;
general:
	atomic_store_explicit(my_busy(r), 0, REL);
	return -1;
}
