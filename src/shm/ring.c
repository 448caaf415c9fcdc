/*
 * The ring's calls: the SPSC record protocol with its fast paths, and the
 * producer and consumer API over both protocols. See ring.h for the
 * design; ring_mpmc.c has MPMC, ring_reg.c registration, ring_wait.c
 * waiting, ring_check.c the layout checks.
 */
#define _GNU_SOURCE
#include "ring_pos.h"

#include <errno.h>
#include <string.h>

/* Pause loops a receive watches for an arriving message before the general
   path (a few microseconds). */
#define FAST_SPINS 1024

/* MPMC messages up to this size are copied inside the reservation (the
   other producers wait for the copy): one header store, no BUSY state. */
#define MPMC_SMALL 512

/* Small messages are copied inline: for a line or two, the call into the
   C library's general copy costs about as much as the copy. The ring and
   the caller's buffer never overlap. */
static inline void copy_msg(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (n > 128 || n < 16) {
		if (n)
			memcpy(d, s, n);
		return;
	}
	size_t i = 0;
	for (; i + 16 <= n; i += 16)
		memcpy(d + i, s + i, 16);
	if (i < n)
		memcpy(d + n - 16, s + n - 16, 16);
}

/* -------------------------------------------------------------- SPSC */

/* The producer's map of where headers stood in the last lap, where the
   consumer has left a READ word since (ring.h). */
static inline bool marked_at(const struct ipk__ring *r, uint64_t p)
{
	uint64_t i = p_idx(p) >> 4;
	return r->marked != NULL && (r->marked[i >> 6] >> (i & 63) & 1);
}

/* A record (or SKIP) of rec bytes written at t: the consumer leaves a
   READ word at its header once done; the words the rest covered keep
   whatever they hold. So a mark means: at p, the word is the READ word
   left a lap before (each lap is covered whole by records and SKIPs). */
static inline void marked_set(struct ipk__ring *r, uint64_t t, uint64_t rec)
{
	uint64_t *z = r->marked;
	if (z == NULL)
		return;
	uint64_t i = p_idx(t) >> 4, n = rec >> 4, b = i & 63;
	if (b + n < 64) { /* a small record: one word of the map */
		uint64_t m = ((UINT64_C(1) << n) - 1) << b;
		z[i >> 6] = (z[i >> 6] & ~m) | (UINT64_C(1) << b);
		return;
	}
	uint64_t end = i + n;
	z[i >> 6] |= UINT64_C(1) << b;
	for (i++; i < end && (i & 63); i++)
		z[i >> 6] &= ~(UINT64_C(1) << (i & 63));
	for (; i + 64 <= end; i += 64)
		z[i >> 6] = 0;
	for (; i < end; i++)
		z[i >> 6] &= ~(UINT64_C(1) << (i & 63));
}

/* The word at p must say "nothing yet" (0, or the consumer's READ word
   from the lap before) before the record before it is published. */
static inline void terminate(struct ipk__ring *r, uint64_t p)
{
	if (!marked_at(r, p))
		atomic_store_explicit(rec_word(r, p), 0, RLX);
}

static int spsc_full(struct ipk__ring *r, int64_t deadline)
{
	int rc;
	if (deadline != IPK__NOW && ipk__ring_quick_wait(r))
		return 0;
	if ((rc = ipk__ring_check_end(r, true)) < 0)
		return rc;
	if (deadline == IPK__NOW)
		return ipk__err(-EAGAIN, "ring %s is full", r->name);
	return ipk__ring_wait_for(r, deadline);
}

static ssize_t spsc_borrow(struct ipk__ring *r, void **buf, size_t len,
                           int64_t deadline)
{
	uint64_t rec = rec_for(len);
	for (;;) {
		int rc = ipk__ring_check_end(r, false);
		if (rc < 0)
			return rc;
		uint64_t t = r->tail, idx = p_idx(t);
		uint64_t to_end = r->cap - idx;
		bool skip = rec > to_end;
		uint64_t need = skip ? to_end : rec;
		uint64_t used = p_dist(r, t, r->head_cache);
		if (used + need + REC_HDR > r->cap) {
			uint64_t hc = atomic_load_explicit(&r->h->head, ACQ);
			used = p_dist(r, t, hc);
			if (!pos_ok(r, hc) || used > r->cap)
				return ipk__ring_corrupt(r, "consumer position", hc);
			r->head_cache = hc;
			/* a record may end right at the consumer's header (one
			   lap on): see spsc_commit */
			if (used + need > r->cap) {
				r->want_space = need;
				if ((rc = spsc_full(r, deadline)) < 0)
					return rc;
				continue;
			}
		}
		if (skip) {
			/* fill to the end; the message starts the next lap */
			uint64_t nt = p_next_lap(t);
			if (used + need < r->cap)
				terminate(r, nt);
			/* the words it covers keep what they hold, READ words of
			   older laps among them: no longer "nothing yet" where
			   the next lap stops (ring_pos.h), so they lose their
			   mark */
			marked_set(r, t, to_end);
			publish(r, rec_word(r, t), mkword(ST_SKIP, 0, t, to_end));
			notify_consumers(r);
			r->tail = nt;
			atomic_store_explicit(&r->h->tail, nt, REL);
			continue;
		}
		r->borrowed = true;
		r->bpos = t;
		r->blen = len;
		*buf = r->data + idx + REC_HDR;
		return (ssize_t)len;
	}
}

/*
 * Publish the borrowed record. The word after it must read 0 (ring.h),
 * except where the record ends exactly one lap ahead of the consumer's
 * position (the ring is then full; may_fill: the caller did not rule
 * that out): the header there has not been read yet, and the consumer
 * leaves a READ word there (spsc_leave) before it can reach the same
 * place in the next lap. Without that, a message of the largest size
 * fits an empty ring only once (its skip and terminator would need 16
 * bytes more).
 *
 * The tail is stored after the header: it never passes an unpublished
 * record (a producer that takes over starts from it, ring_reg.c), and a
 * consumer is past it by at most the record it read last (check_position).
 */
static inline __attribute__((always_inline)) void
spsc_commit(struct ipk__ring *r, size_t len, bool may_fill)
{
	uint64_t t = r->bpos, rec = rec_for(len), nt = p_add(r, t, rec);
	if (!may_fill || p_dist(r, nt, r->head_cache) != r->cap)
		terminate(r, nt);
	marked_set(r, t, rec);
	publish(r, rec_word(r, t), mkword(ST_COMMITTED, 0, t, len));
	notify_consumers(r);
	r->tail = nt;
	atomic_store_explicit(&r->h->tail, nt, REL);
	/* take the lines the next small message will fill while nobody needs
	   them (not the one holding this record's end: the consumer reads it) */
	uint64_t line = (p_idx(nt) & ~(uint64_t)63) + 64;
	if (line + 128 <= r->cap) {
		__builtin_prefetch(r->data + line, 1, 3);
		__builtin_prefetch(r->data + line + 64, 1, 3);
	}
}

/*
 * Leave the record (or SKIP) of n bytes at the head: mark its header READ
 * (ring_pos.h), then publish the position after it. The mark comes first:
 * once the position is published the producer may write over the record
 * (a header of the next lap at the same place, which a late mark would
 * destroy). A consumer killed between the two leaves a READ word of this
 * lap at the published position, which its successor steps over by the
 * length the word carries; a 0 there would have looked like "nothing yet"
 * for good, with the producer waiting for room behind it.
 *
 * hooked: the test hook (ring.h) runs between the two, "release:left";
 * not on the copying fast path, which has no branch to spare.
 */
static inline __attribute__((always_inline)) void
spsc_leave(struct ipk__ring *r, uint64_t n, bool hooked)
{
	uint64_t hd = r->head, p = p_add(r, hd, n);
	atomic_store_explicit(rec_word(r, hd), left_word(hd, n), RLX);
	if (hooked)
		HOOK("release:left");
	r->prev = hd;
	r->head = p;
	publish(r, &r->h->head, p);
	notify_producers(r);
}

/* 1: a message is at hand (r->mpos...), 0: empty, < 0: corrupt. */
static int spsc_locate(struct ipk__ring *r)
{
	/* what is published lies within one lap: a ring of nothing but skips
	   was written by someone else */
	for (uint64_t passed = 0;;) {
		uint64_t hd = r->head;
		uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
		if (spsc_idle(w, hd))
			return 0;
		if (!w_lap_ok(w, hd))
			return ipk__ring_corrupt(r, "record header from another lap "
			                            "(the consumer's position is not "
			                            "the producer's)", w);
		/* a SKIP, or a record whose consumer died leaving it (spsc_leave):
		   step over it */
		if (w_state(w) == ST_SKIP || w_state(w) == ST_READ) {
			uint64_t n = skip_len(r, hd, w);
			if (n == 0)
				return ipk__ring_corrupt(r, w_state(w) == ST_SKIP
				                                ? "skip record"
				                                : "released record",
				                         w);
			if ((passed += n) > r->cap)
				return ipk__ring_corrupt(r, "no end of records", hd);
			spsc_leave(r, n, true);
			continue;
		}
		if (w_state(w) != ST_COMMITTED || !len_fits(r, hd, w_len(w)))
			return ipk__ring_corrupt(r, "record header", w);
		r->have = true;
		r->mpos = hd;
		r->mlen = (size_t)w_len(w);
		r->mrec = rec_for(w_len(w));
		r->mpid = 0;
		/* start fetching the rest of a small record now, not at the copy */
		if (r->mrec > 64)
			__builtin_prefetch(r->data + p_idx(hd) + 64, 0, 3);
		return 1;
	}
}

/* ------------------------------------------------------ producer API */

static int too_big(const struct ipk__ring *r, size_t len)
{
	return ipk__err(-EMSGSIZE,
	                "message of %zu bytes can never fit ring %s: its capacity "
	                "is %llu bytes, so the largest message is %zu bytes "
	                "(raise ?size=)",
	                len, r->name, (unsigned long long)r->cap,
	                ipk__ring_max_message(r->cap, r->mpmc));
}

/* SPSC with room to spare and nothing unusual: the payload address for a
   message of len bytes at the tail (no waiting, no skip), or NULL for the
   general path. */
static inline unsigned char *spsc_fast_room(struct ipk__ring *r, size_t len)
{
	if (r->mpmc || r->borrowed || !registered_here(r) || len > r->cap / 2)
		return NULL;
	uint64_t rec = rec_for(len), t = r->tail, idx = p_idx(t);
	if (rec > r->cap - idx ||
	    p_dist(r, t, r->head_cache) + rec + REC_HDR > r->cap)
		return NULL; /* a skip, or the cached head is stale */
	if (atomic_load_explicit(&r->h->closed, RLX))
		return NULL; /* the general path reports it */
	r->bpos = t;
	return r->data + idx + REC_HDR;
}

ssize_t ipk__ring_borrow(struct ipk__ring *r, void **buf, size_t len,
                         int64_t deadline)
{
	unsigned char *p = spsc_fast_room(r, len);
	if (p != NULL) {
		r->borrowed = true;
		r->blen = len;
		*buf = p;
		return (ssize_t)len;
	}
	if (r->borrowed)
		return ipk__err(-EBUSY, "ring %s: the previous borrow is not "
		                        "committed", r->name);
	if (len > ipk__ring_max_message(r->cap, r->mpmc))
		return too_big(r, len);
	int rc = ensure_registered(r);
	if (rc < 0)
		return rc;
	return r->mpmc ? ipk__mpmc_borrow(r, buf, len, deadline)
	               : spsc_borrow(r, buf, len, deadline);
}

ssize_t ipk__ring_commit(struct ipk__ring *r, size_t len)
{
	if (!r->borrowed || !registered_here(r))
		return ipk__err(-EINVAL, "ring %s: nothing borrowed to commit",
		                r->name);
	if (len > r->blen)
		return ipk__err(-EINVAL,
		                "ring %s: committing %zu bytes, but %zu were borrowed",
		                r->name, len, r->blen);
	r->borrowed = false;
	if (r->mpmc) {
		int rc = ipk__mpmc_commit(r, len);
		if (rc < 0)
			return rc;
	} else {
		spsc_commit(r, len, true);
	}
	return (ssize_t)len;
}

int ipk__ring_abort(struct ipk__ring *r)
{
	if (!r->borrowed)
		return ipk__err(-EINVAL, "ring %s: nothing borrowed", r->name);
	r->borrowed = false;
	if (r->mpmc && registered_here(r))
		ipk__mpmc_abort(r);
	return 0;
}

ssize_t ipk__ring_send(struct ipk__ring *r, const void *buf, size_t len,
                       int64_t deadline)
{
	unsigned char *p = spsc_fast_room(r, len);
	if (p != NULL) {
		copy_msg(p, buf, len);
		spsc_commit(r, len, false);
		return (ssize_t)len;
	}
	if (r->mpmc && len <= MPMC_SMALL && !r->borrowed &&
	    len <= ipk__ring_max_message(r->cap, true)) {
		ssize_t n = ipk__mpmc_fast_send(r, buf, len);
		if (n >= 0)
			return n;
		int rc = ensure_registered(r);
		if (rc < 0)
			return rc;
		return ipk__mpmc_send_small(r, buf, len, deadline);
	}
	void *dst;
	ssize_t n = ipk__ring_borrow(r, &dst, len, deadline);
	if (n < 0)
		return n;
	if (len)
		memcpy(dst, buf, len);
	return ipk__ring_commit(r, len);
}

/* ------------------------------------------------------ consumer API */

/*
 * A consumer about to wait: its position must not be past the producers'
 * tail. One moved on by another process would otherwise wait there for
 * good, or meet what the producers write a lap behind it. (A record at
 * the position that is from another lap is reported where it is read.)
 */
static const char *position_fault(struct ipk__ring *r, uint64_t *v)
{
	if (r->mpmc)
		return ipk__mpmc_position_fault(r, v);
	uint64_t t = atomic_load_explicit(&r->h->tail, ACQ);
	*v = t;
	if (!pos_ok(r, t))
		return "producer position";
	/* the tail is stored after each header (spsc_commit): it is behind
	   this consumer by at most the record it read last */
	*v = r->head;
	uint64_t ahead = p_dist(r, t, r->head);
	if (ahead > r->cap && t != r->prev)
		return "consumer position past the producer's";
	/* and ahead of it only over published records: "nothing yet" at the
	   consumer's position with the tail beyond it is a header someone
	   wiped (every record would wait behind it for good). The word is
	   read after the tail, whose release store came after the header. */
	if (ahead > 0 && ahead <= r->cap) {
		uint64_t w = atomic_load_explicit(rec_word(r, r->head), ACQ);
		if (spsc_idle(w, r->head)) {
			*v = w;
			return "record header wiped below the producer's position";
		}
	}
	return NULL;
}

static int check_position(struct ipk__ring *r)
{
	uint64_t v;
	const char *why = position_fault(r, &v);
	return why ? ipk__ring_corrupt(r, why, v) : 0;
}

/* 1 a message is located, 2 (MPMC, with rx) it was copied to rx and
   released already, or an error. */
static int locate_wait(struct ipk__ring *r, int64_t deadline, ipk__rx *rx)
{
	if (r->have)
		return 1;
	int rc = ensure_registered(r);
	if (rc < 0)
		return rc;
	bool quick = deadline != IPK__NOW;
	for (;;) {
		rc = r->mpmc ? ipk__mpmc_locate(r, deadline, rx) : spsc_locate(r);
		if (rc != 0)
			return rc;
		if (quick) {
			quick = false;
			if (ipk__ring_quick_wait(r))
				continue;
		}
		if ((rc = ipk__ring_check_end(r, true)) < 0 ||
		    (rc = check_position(r)) < 0)
			return rc;
		if (r->mpmc)
			ipk__mpmc_idle(r);
		if (deadline == IPK__NOW)
			return ipk__err(-EAGAIN, "ring %s is empty", r->name);
		if ((rc = ipk__ring_wait_for(r, deadline)) < 0)
			return rc;
	}
}

static int drop_oversize(struct ipk__ring *r)
{
	size_t len = r->mlen;
	r->lent = false;
	ipk__ring_release(r);
	return ipk__err(-EMSGSIZE,
	                "ring %s: a message of %zu bytes exceeds this receiver's "
	                "limit of %zu bytes (?maxmsg=); it was dropped",
	                r->name, len, r->maxmsg);
}

/* SPSC with a message waiting, nothing held and no doorbell to tend:
   locate it without the general path. 1 found, 0 take the general path. */
static inline int spsc_fast_locate(struct ipk__ring *r)
{
	if (r->mpmc || r->have || r->bell_rx >= 0 || !registered_here(r))
		return 0;
	uint64_t hd = r->head;
	uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
	uint64_t len = w_len(w);
	/* state, lap and (SPSC: none) owner in one comparison */
	if ((w >> ST_SHIFT) != (mkword(ST_COMMITTED, 0, hd, 0) >> ST_SHIFT) ||
	    !len_fits(r, hd, len) || len > r->maxmsg)
		return 0; /* empty, a skip, or something to report */
	r->have = true;
	r->mpos = hd;
	r->mlen = (size_t)len;
	r->mrec = rec_for(len);
	r->mpid = 0;
	return 1;
}

/* The fast locate found nothing: watch the header word a little, as
   quick_wait does, so a peer only a little behind is met on the fast path
   and not after the general one's checks. 1 found, 0 take the general path. */
static inline int spsc_fast_arrival(struct ipk__ring *r, int64_t deadline)
{
	if (deadline == IPK__NOW || r->wait == IPK__WAIT_BLOCK || r->mpmc ||
	    r->have || r->bell_rx >= 0 || !registered_here(r))
		return 0;
	/* a round trip's answer comes within microseconds: meet it here (the
	   general path's clock reads and peer checks come after) */
	_Atomic uint64_t *w = rec_word(r, r->head);
	uint64_t idle = idle_key(r->head);
	for (int i = 0; i < FAST_SPINS; i++) {
		uint64_t v = atomic_load_explicit(w, RLX);
		if (v != 0 && (v >> ST_SHIFT) != idle)
			return spsc_fast_locate(r);
		ipk__cpu_relax();
	}
	return 0;
}

ssize_t ipk__ring_peek(struct ipk__ring *r, const void **buf,
                       int64_t deadline)
{
	if (r->lent)
		return ipk__err(-EBUSY, "ring %s: the peeked message is not "
		                        "released", r->name);
	if (spsc_fast_locate(r) || spsc_fast_arrival(r, deadline)) {
		r->lent = true;
		*buf = r->data + p_idx(r->mpos) + REC_HDR;
		return (ssize_t)r->mlen;
	}
	int rc = locate_wait(r, deadline, NULL);
	if (rc <= 0) {
		if (r->bell_rx >= 0)
			ipk__ring_bell_settle(r);
		return rc;
	}
	if (r->mlen > r->maxmsg)
		return drop_oversize(r);
	r->lent = true;
	*buf = r->data + p_idx(r->mpos) + REC_HDR;
	return (ssize_t)r->mlen;
}

int ipk__ring_release(struct ipk__ring *r)
{
	if (!r->have)
		return ipk__err(-EINVAL, "ring %s: no message to release", r->name);
	r->have = r->lent = false;
	if (!registered_here(r))
		return 0;
	if (r->mpmc)
		ipk__mpmc_release(r);
	else
		spsc_leave(r, r->mrec, true);
	if (r->bell_rx >= 0)
		ipk__ring_bell_settle(r);
	return 0;
}

ssize_t ipk__ring_recv(struct ipk__ring *r, ipk__rx *rx, int64_t deadline)
{
	if (!r->lent && (spsc_fast_locate(r) || spsc_fast_arrival(r, deadline))) {
		size_t len = r->mlen;
		if (len <= rx->maxmsg && rx->buf != NULL && len <= rx->cap) {
			copy_msg(rx->buf, r->data + p_idx(r->mpos) + REC_HDR, len);
			rx->info->pid = 0;
			r->have = false;
			spsc_leave(r, r->mrec, false);
			return (ssize_t)len;
		}
		/* the general path below reports or allocates */
	}
	if (r->lent)
		return ipk__err(-EBUSY, "ring %s: the peeked message is not "
		                        "released", r->name);
	if (r->mpmc) {
		ssize_t n = ipk__mpmc_fast_recv(r, rx);
		if (n >= 0)
			return n;
	}
	int rc = locate_wait(r, deadline, rx);
	if (rc <= 0 || rc == 2) {
		if (r->bell_rx >= 0)
			ipk__ring_bell_settle(r);
		if (rc == 2)
			rx->info->pid = r->mpid;
		return rc == 2 ? (ssize_t)r->mlen : rc;
	}
	size_t len = r->mlen;
	if (len > r->maxmsg || len > rx->maxmsg)
		return drop_oversize(r);
	int err = 0;
	void *dst = ipk__rx_reserve(rx, len, &err);
	if (dst == NULL && len > 0)
		return err; /* too small a buffer: the message stays ours, first */
	if (len)
		memcpy(dst, r->data + p_idx(r->mpos) + REC_HDR, len);
	rx->info->pid = r->mpid;
	ipk__ring_release(r);
	return (ssize_t)len;
}

int ipk__ring_readable(struct ipk__ring *r)
{
	if (r->have)
		return 1;
	if (r->h == NULL)
		return 0;
	if (r->role == IPK__RING_CONSUMER && registered_here(r)) {
		/* a receive reports a spoiled position at once (check_position)
		   rather than waiting: so it "would not block" */
		uint64_t v;
		if (ipk__ring_ready(r) || position_fault(r, &v) != NULL)
			return 1;
		/* removed under us (ipk_remove rings the bells): the receive
		   reports it at its next slow look, which is due at once */
		if (r->gone != NULL && r->gone(r->gone_arg)) {
			r->next_check = 0;
			return 1;
		}
	}
	return ipk__ring_check_end(r, false) < 0;
}

void ipk__ring_info(struct ipk__ring *r, ipk_ringinfo *info)
{
	const struct ipk__ring_hdr *h = r->h;
	memset(info, 0, sizeof *info);
	info->capacity = r->cap;
	info->max_message = ipk__ring_max_message(r->cap, r->mpmc);
	info->mpmc = r->mpmc;
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	uint64_t hd = atomic_load_explicit(r->mpmc ? &h->rhead : &h->head, ACQ);
	if (pos_ok(r, t) && pos_ok(r, hd) && p_dist(r, t, hd) <= r->cap)
		info->used = p_dist(r, t, hd);
	/* "nobody is attached right now" is asked here: only the living count */
	info->consumers = ipk__ring_side_alive(r, IPK__RING_CONSUMER);
	info->producers = ipk__ring_side_alive(r, IPK__RING_PRODUCER);
	const struct ipk__ring_slot *rx = side_slots(r, IPK__RING_CONSUMER);
	const struct ipk__ring_slot *tx = side_slots(r, IPK__RING_PRODUCER);
	for (uint32_t i = r->nslots; i-- > 0;) {
		uint64_t w = atomic_load_explicit(&rx[i].owner, ACQ);
		if (w)
			info->consumer_pid = owner_pid(w);
		w = atomic_load_explicit(&tx[i].owner, ACQ);
		if (w)
			info->producer_pid = owner_pid(w);
	}
}
