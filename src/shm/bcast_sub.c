/*
 * The broadcast ring's subscriber: finding the next message, noticing that
 * the publisher overtook us (and counting what we lost), reading in place
 * with a check afterwards that nothing was overwritten, waiting, and the
 * doorbell for poll(). See bcast.h for the protocol.
 */
#define _GNU_SOURCE
#include "bcast.h"
#include "bell.h"
#include "ring_sync.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define REC_HDR ((uint64_t)IPK__BCAST_REC_HDR)
#define CHECK_NS ((int64_t)50 * 1000000)
#define ODD_NAP_NS ((int64_t)1000000)
#define QUICK_SPINS 64

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define SC memory_order_seq_cst

static inline uint64_t my_bit(const struct ipk__bcast *b)
{
	return UINT64_C(1) << (b->slot % 64);
}

static inline unsigned my_word(const struct ipk__bcast *b)
{
	return (unsigned)b->slot / 64;
}

/* A blocking subscriber tells the publisher how far it is done. */
static void publish_pos(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	atomic_store_explicit(&h->slots[b->slot].pos, b->p, SC);
	if (atomic_load_explicit(&h->tx_waiting, SC)) {
		atomic_fetch_add_explicit(&h->space_seq, 1, SC);
		ipk__futex_wake(&h->space_seq, 1);
	}
}

static inline void step(struct ipk__bcast *b, uint64_t size)
{
	b->p += size;
	b->pidx += size;
	if (b->pidx == b->cap)
		b->pidx = 0;
}

/*
 * The stamp at our position is not one we expect: either the publisher
 * overtook us (resynchronise at the oldest record and count what was
 * lost: 1), or it is in the middle of giving records up (0: look again
 * soon), or the ring is corrupt (< 0).
 */
static int overtaken(struct ipk__bcast *b, uint64_t w)
{
	uint64_t hd, hs;
	int rc = ipk__bcast_head_snapshot(b, &hd, &hs);
	if (rc < 0)
		return rc;
	if (rc == 0 && hs > b->e) {
		/* the oldest record's number must lie between ours and the
		   publisher's, within what the ring can hold */
		uint64_t t, ts;
		int trc = ipk__bcast_tail_snapshot(b, &t, &ts);
		if (trc < 0)
			return trc;
		if (trc == 0 && (hs > ts || ts - hs > b->cap / REC_HDR))
			return ipk__bcast_corrupt(b, "stamp of the oldest record (its "
			                             "number is out of range)", hs);

		b->missed += hs - b->e;
		b->p = hd;
		b->pidx = hd % b->cap;
		b->e = hs;
		b->odd_since = 0;
		if (b->block)
			publish_pos(b);
		return 1;
	}
	/* still ours by the numbers: a moment of the publisher's, unless it
	   lasts */
	int64_t now = ipk__now_ns();
	if (b->odd_since == 0)
		b->odd_since = now;
	if (now - b->odd_since < CHECK_NS)
		return 0;
	b->odd_since = 0;
	return ipk__bcast_corrupt(b, "stamp at the subscriber's position", w);
}

/* 1: a message is located (b->mstamp...), 0: none yet, < 0: corrupt. */
static int locate(struct ipk__bcast *b)
{
	for (;;) {
		_Atomic uint64_t *w0 = ipk__bc_word0(b, b->pidx);
		uint64_t w = atomic_load_explicit(w0, ACQ);
		if (w == ipk__bc_stamp(b, b->e, IPK__BC_MSG)) {
			uint64_t w1 = atomic_load_explicit(ipk__bc_word1(b, b->pidx), RLX);
			uint64_t len = (uint32_t)w1;
			/* no publisher makes a record longer than the maximum,
			   and none runs past the end of the lap */
			if ((w1 >> 32) != 0 || len > b->lenmax ||
			    len > b->cap - b->pidx - REC_HDR) {
				atomic_thread_fence(ACQ);
				if (atomic_load_explicit(w0, RLX) == w)
					return ipk__bcast_corrupt(b, "record length", w1);
				continue; /* overwritten under us: look again */
			}
			b->have = true;
			b->mstamp = w;
			b->mlen = (size_t)len;
			b->mrec = ipk__bc_rec(len);
			b->odd_since = 0;
			if (b->mrec > 64)
				__builtin_prefetch(b->data + b->pidx + 64, 0, 3);
			return 1;
		}
		if (w == ipk__bc_stamp(b, b->e, IPK__BC_SKIP)) {
			/* a lap never starts with a skip: that would go round forever */
			if (b->pidx == 0)
				return ipk__bcast_corrupt(b, "skip stamp at the start of a "
				                             "lap", w);
			step(b, b->cap - b->pidx);
			continue;
		}
		if (w == ipk__bc_stamp(b, b->e, IPK__BC_PENDING)) {
			b->odd_since = 0;
			return 0;
		}
		int rc = overtaken(b, w);
		if (rc <= 0)
			return rc;
	}
}

/* Is the located message still what we located (nothing overwritten)? */
static inline bool still_valid(const struct ipk__bcast *b)
{
	atomic_thread_fence(ACQ);
	return atomic_load_explicit(ipk__bc_word0(b, b->pidx), RLX) == b->mstamp;
}

/* Done with the located message: move on. */
static void advance(struct ipk__bcast *b)
{
	b->have = b->lent = false;
	step(b, b->mrec);
	b->e++;
	if (b->block)
		publish_pos(b);
}

/* -------------------------------------------------------------- waiting */

static inline bool ready(const struct ipk__bcast *b)
{
	return b->odd_since != 0 ||
	       atomic_load_explicit(ipk__bc_word0(b, b->pidx), ACQ) !=
	               ipk__bc_stamp(b, b->e, IPK__BC_PENDING);
}

static int timed_out(const struct ipk__bcast *b, int64_t deadline)
{
	return ipk__err(ipk__timeout_err(deadline),
	                "broadcast ring %s: no message", b->name);
}

/* Wait for the stamp at our position to change, or the deadline. */
static int wait_msg(struct ipk__bcast *b, int64_t deadline)
{
	struct ipk__bcast_hdr *h = b->h;
	int64_t now = ipk__now_ns();
	if (b->odd_since != 0) {
		/* the publisher is halfway through giving records up */
		ipk__nap(ODD_NAP_NS, deadline);
		if (ipk__now_ns() >= deadline)
			return timed_out(b, deadline);
		return 0;
	}
	if (b->wait != IPK__WAIT_BLOCK) {
		int64_t until = now + (b->wait == IPK__WAIT_SPIN ? CHECK_NS : b->spin_ns);
		if (deadline < until)
			until = deadline;
		for (unsigned i = 1;; i++) {
			if (ready(b))
				return 0;
			ipk__cpu_relax();
			if ((i & 31) == 0 && (now = ipk__now_ns()) >= until)
				break;
		}
		if (now >= deadline)
			return timed_out(b, deadline);
		if (b->wait == IPK__WAIT_SPIN)
			return 0;
	}
	uint32_t s = atomic_load_explicit(&h->data_seq, ACQ);
	atomic_fetch_or_explicit(&h->waiting[my_word(b)], my_bit(b), SC);
	if (!ready(b)) {
		int64_t left = deadline == IPK__NEVER ? CHECK_NS : deadline - now;
		if (left > CHECK_NS)
			left = CHECK_NS;
		if (left > 0)
			ipk__futex_wait(&h->data_seq, s, left);
	}
	atomic_fetch_and_explicit(&h->waiting[my_word(b)], ~my_bit(b), SC);
	if (deadline != IPK__NEVER && ipk__now_ns() >= deadline && !ready(b))
		return timed_out(b, deadline);
	return 0;
}

static int locate_wait(struct ipk__bcast *b, int64_t deadline)
{
	/* located earlier (readable(), a buffer that was too small): hand it
	   out only if it is still there */
	if (b->have) {
		if (still_valid(b))
			return 1;
		b->have = false;
	}
	int rc = ipk__bcast_ensure(b);
	if (rc < 0)
		return rc;
	bool quick = deadline != IPK__NOW && b->wait != IPK__WAIT_BLOCK;
	for (;;) {
		if ((rc = locate(b)) != 0)
			return rc;
		if (quick) {
			/* a publisher only a little behind is met here */
			quick = false;
			for (int i = 0; i < QUICK_SPINS && !ready(b); i++)
				ipk__cpu_relax();
			continue;
		}
		if (deadline == IPK__NOW)
			return ipk__err(-EAGAIN, "broadcast ring %s: no message",
			                b->name);
		if ((rc = wait_msg(b, deadline)) < 0)
			return rc;
	}
}

/*
 * Locate the next message this subscriber wants: skip those its filter
 * refuses (they do not count as missed) and refuse one over its limit.
 * 1 located, < 0 error.
 */
static int next_wanted(struct ipk__bcast *b, size_t limit, int64_t deadline)
{
	for (;;) {
		int rc = locate_wait(b, deadline);
		if (rc <= 0)
			return rc;
		const void *msg = b->data + b->pidx + REC_HDR;
		if (b->match != NULL && !b->match(b->match_arg, msg, b->mlen)) {
			if (still_valid(b))
				advance(b);
			else
				b->have = false; /* overwritten: the next look resyncs */
			continue;
		}
		if (b->mlen > limit) {
			size_t len = b->mlen;
			if (!still_valid(b)) {
				b->have = false;
				continue;
			}
			advance(b);
			return ipk__err(-EMSGSIZE,
			                "broadcast ring %s: a message of %zu bytes "
			                "exceeds this subscriber's limit of %zu bytes "
			                "(?maxmsg=); it was skipped", b->name, len, limit);
		}
		return 1;
	}
}

static void settle(struct ipk__bcast *b)
{
	if (b->bell_rx >= 0)
		ipk__bcast_bell_settle(b);
}

/* -------------------------------------------------------- receiving */

ssize_t ipk__bcast_peek(struct ipk__bcast *b, const void **buf,
                        uint64_t *missed, int64_t deadline)
{
	if (b->role != IPK__BCAST_SUB)
		return ipk__err(-EOPNOTSUPP, "broadcast ring %s: the publisher does "
		                             "not receive", b->name);
	if (b->lent && ipk__bcast_registered_here(b))
		return ipk__err(-EBUSY, "broadcast ring %s: the peeked message is "
		                        "not released", b->name);
	int rc = next_wanted(b, b->maxmsg, deadline);
	if (rc <= 0) {
		settle(b);
		return rc;
	}
	b->lent = true;
	*buf = b->data + b->pidx + REC_HDR;
	if (missed)
		*missed = b->missed;
	b->missed = 0;
	return (ssize_t)b->mlen;
}

int ipk__bcast_release(struct ipk__bcast *b)
{
	if (!b->lent || !ipk__bcast_registered_here(b))
		return ipk__err(-EINVAL, "broadcast ring %s: no peeked message to "
		                         "release", b->name);
	int rc = 0;
	if (still_valid(b)) {
		advance(b);
	} else {
		/* overwritten while held: it counts as missed (the next look
		   resynchronises from this message's number) */
		b->have = b->lent = false;
		rc = ipk__err(-ESTALE,
		              "broadcast ring %s: the publisher overwrote the "
		              "peeked message while it was held (slow=drop): "
		              "discard what was read from it", b->name);
	}
	settle(b);
	return rc;
}

static inline void copy_small(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (n < 16 || n > 128) {
		if (n)
			memcpy(d, s, n);
		return;
	}
	size_t i = 0;
	for (; i + 16 <= n; i += 16)
		__builtin_memcpy(d + i, s + i, 16);
	if (i < n)
		__builtin_memcpy(d + n - 16, s + n - 16, 16);
}

ssize_t ipk__bcast_recv(struct ipk__bcast *b, ipk__rx *rx, int64_t deadline)
{
	if (b->role != IPK__BCAST_SUB)
		return ipk__err(-EOPNOTSUPP, "broadcast ring %s: the publisher does "
		                             "not receive", b->name);
	if (b->lent && ipk__bcast_registered_here(b))
		return ipk__err(-EBUSY, "broadcast ring %s: the peeked message is "
		                        "not released", b->name);
	size_t limit = rx->maxmsg < b->maxmsg ? rx->maxmsg : b->maxmsg;
	for (;;) {
		int rc = next_wanted(b, limit, deadline);
		if (rc <= 0) {
			settle(b);
			return rc;
		}
		size_t len = b->mlen;
		int err = 0;
		void *dst = ipk__rx_reserve(rx, len, &err);
		if (dst == NULL && len > 0)
			return err; /* too small a buffer: the message stays located */
		copy_small(dst, b->data + b->pidx + REC_HDR, len);
		if (!still_valid(b)) {
			/* torn under the copy: thrown away, counted as missed */
			b->have = false;
			continue;
		}
		rx->info->missed = b->missed;
		b->missed = 0;
		advance(b);
		settle(b);
		return (ssize_t)len;
	}
}

int ipk__bcast_readable(struct ipk__bcast *b)
{
	if (b->h == NULL || b->role != IPK__BCAST_SUB)
		return 0;
	if (b->have)
		return 1;
	if (!ipk__bcast_registered_here(b))
		return 0;
	/* messages the filter refuses do not make us readable */
	for (int i = 0; i < 1024; i++) {
		int rc = locate(b);
		if (rc < 0)
			return 1; /* the receive reports it */
		if (rc == 0)
			return b->odd_since != 0;
		const void *msg = b->data + b->pidx + REC_HDR;
		if (b->match == NULL || b->match(b->match_arg, msg, b->mlen))
			return 1;
		if (still_valid(b))
			advance(b);
		else
			b->have = false;
	}
	return 1;
}

/* ------------------------------------------------------------ doorbell */

static bool disarm(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	return atomic_fetch_and_explicit(&h->armed[my_word(b)], ~my_bit(b), SC) &
	       my_bit(b);
}

void ipk__bcast_disarm(struct ipk__bcast *b)
{
	if (b->slot >= 0)
		disarm(b);
}

/* After every subscriber call: nothing to read => armed (the next message
   rings); something to read => a byte is waiting on the doorbell. */
void ipk__bcast_bell_settle(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	if (!ipk__bcast_registered_here(b) || b->bell_nonce == 0 ||
	    atomic_load_explicit(&h->slots[b->slot].bell, SC) != b->bell_nonce)
		return;
	if (ipk__bcast_readable(b)) {
		/* armed means nobody rang since we drained: ring ourselves */
		if (disarm(b))
			ipk__bell_poke(b->bell_rx, h->ring_id, b->bell_nonce);
		return;
	}
	ipk__bell_drain(b->bell_rx);
	atomic_fetch_or_explicit(&h->armed[my_word(b)], my_bit(b), SC);
	/* a message that came before the arm was seen by nobody */
	if (ipk__bcast_readable(b) && disarm(b))
		ipk__bell_poke(b->bell_rx, h->ring_id, b->bell_nonce);
}

int ipk__bcast_fd(struct ipk__bcast *b)
{
	if (b->role == IPK__BCAST_PUB) {
		if (b->bell_tx < 0 && (b->bell_tx = ipk__bell_tx_socket()) < 0) {
			int rc = b->bell_tx;
			b->bell_tx = -1;
			return ipk__err(rc, "broadcast ring %s: socket", b->name);
		}
		return b->bell_tx;
	}
	int rc = ipk__bcast_ensure(b);
	if (rc < 0)
		return rc;
	struct ipk__bcast_slot *s = &b->h->slots[b->slot];
	if (b->bell_rx >= 0 && b->bell_nonce != 0 &&
	    atomic_load_explicit(&s->bell, SC) == b->bell_nonce)
		return b->bell_rx;
	uint32_t nonce;
	int fd = ipk__bell_open(b->h->ring_id, &nonce, b->bell_rx, b->name);
	if (fd < 0)
		return fd;
	b->bell_rx = fd;
	b->bell_nonce = nonce;
	atomic_store_explicit(&s->bell, nonce, SC);
	/* start armed with an empty doorbell: settle rings it at once if a
	   message is already there */
	atomic_fetch_or_explicit(&b->h->armed[my_word(b)], my_bit(b), SC);
	ipk__bcast_bell_settle(b);
	return b->bell_rx;
}

void ipk__bcast_close_fds(struct ipk__bcast *b)
{
	if (b->bell_rx >= 0)
		close(b->bell_rx);
	if (b->bell_tx >= 0)
		close(b->bell_tx);
	b->bell_rx = b->bell_tx = -1;
	b->bell_nonce = 0;
}
