/*
 * The broadcast ring's publisher: making room (giving the oldest records
 * up, or waiting for blocking subscribers), borrow/commit, and waking
 * subscribers only when one sleeps. See bcast.h for the protocol.
 */
#define _GNU_SOURCE
#include "bcast.h"
#include "bell.h"
#include "ring_sync.h"

#include <errno.h>
#include <string.h>

#define REC_HDR ((uint64_t)IPK__BCAST_REC_HDR)
#define CHECK_NS ((int64_t)50 * 1000000)
#define MAX_SLACK ((uint64_t)16384)

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define SC memory_order_seq_cst

static inline unsigned mask_words(const struct ipk__bcast *b)
{
	return (b->nslots + 63) / 64;
}

/* Size of the record at offset qi as its word 1 says (0: corrupt). */
static uint64_t rec_size_at(const struct ipk__bcast *b, uint64_t qi)
{
	uint64_t w1 = atomic_load_explicit(ipk__bc_word1(b, qi), RLX);
	uint64_t room = b->cap - qi;
	if ((w1 >> 32) & IPK__BC_W1_SKIP)
		return qi ? room : 0; /* a lap never starts with a skip */
	if ((w1 >> 32) != 0 || (uint32_t)w1 > room - REC_HDR)
		return 0;
	return ipk__bc_rec((uint32_t)w1);
}

/* ----------------------------------------- blocking subscribers */

/* Refresh the lowest position of the blocking subscribers. */
static void rescan(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	uint64_t g = atomic_load_explicit(&h->block_gen, SC);
	bool any = false;
	uint64_t min = UINT64_MAX;
	for (unsigned w = 0; w < mask_words(b); w++) {
		uint64_t m = atomic_load_explicit(&h->blocking[w], SC);
		while (m) {
			unsigned bit = (unsigned)__builtin_ctzll(m);
			m &= m - 1;
			uint32_t i = w * 64 + bit;
			if (i >= b->nslots)
				break;
			uint64_t pos = atomic_load_explicit(&h->slots[i].pos, ACQ);
			/* a place we already gave up (a subscriber overtaken while
			   joining starts again) or past the tail (corrupt) holds
			   nothing back */
			if (pos % 16 || pos < b->head || pos > b->tail)
				continue;
			any = true;
			if (pos < min)
				min = pos;
		}
	}
	b->block_gen = g;
	b->any_block = any;
	b->min_pos = min;
}

/* Free the slots of dead blocking subscribers (at most every CHECK_NS). */
static void reap_blocking(struct ipk__bcast *b)
{
	int64_t now = ipk__now_ns();
	if (now < b->next_check)
		return;
	b->next_check = now + CHECK_NS;
	struct ipk__bcast_hdr *h = b->h;
	for (unsigned w = 0; w < mask_words(b); w++) {
		uint64_t m = atomic_load_explicit(&h->blocking[w], SC);
		while (m) {
			unsigned bit = (unsigned)__builtin_ctzll(m);
			m &= m - 1;
			uint32_t i = w * 64 + bit;
			if (i >= b->nslots)
				break;
			uint64_t o = atomic_load_explicit(&h->slots[i].owner, ACQ);
			if (o == 0) {
				/* a bit without an owner holds nothing back */
				atomic_fetch_and_explicit(&h->blocking[w],
				                          ~(UINT64_C(1) << bit), SC);
				atomic_fetch_add_explicit(&h->block_gen, 1, SC);
			} else {
				ipk__bcast_reclaim(b, i, o);
			}
		}
	}
}

static bool room_now(struct ipk__bcast *b, uint64_t bound)
{
	rescan(b);
	return !b->any_block || b->min_pos >= bound;
}

/* Wait until blocking subscribers have released everything before bound. */
static int wait_space(struct ipk__bcast *b, uint64_t bound, int64_t deadline)
{
	struct ipk__bcast_hdr *h = b->h;
	reap_blocking(b);
	if (room_now(b, bound))
		return 0;
	if (deadline == IPK__NOW)
		return ipk__err(-EAGAIN,
		                "broadcast ring %s: a subscriber with slow=block is "
		                "a lap behind", b->name);
	int64_t now = ipk__now_ns();
	if (b->wait != IPK__WAIT_BLOCK) {
		int64_t until = now + (b->wait == IPK__WAIT_SPIN ? CHECK_NS : b->spin_ns);
		if (deadline < until)
			until = deadline;
		for (unsigned i = 1;; i++) {
			ipk__cpu_relax();
			if ((i & 31) == 0) {
				if (room_now(b, bound))
					return 0;
				if ((now = ipk__now_ns()) >= until)
					break;
			}
		}
		if (b->wait == IPK__WAIT_SPIN && now < deadline)
			return 0;
	}
	if (now < deadline) {
		uint32_t s = atomic_load_explicit(&h->space_seq, ACQ);
		atomic_store_explicit(&h->tx_waiting, 1, SC);
		if (!room_now(b, bound)) {
			int64_t left = deadline == IPK__NEVER ? CHECK_NS : deadline - now;
			if (left > CHECK_NS)
				left = CHECK_NS;
			if (left > 0)
				ipk__futex_wait(&h->space_seq, s, left);
		}
		atomic_store_explicit(&h->tx_waiting, 0, SC);
	}
	if (room_now(b, bound))
		return 0;
	if (deadline != IPK__NEVER && ipk__now_ns() >= deadline)
		return ipk__err(ipk__timeout_err(deadline),
		                "broadcast ring %s: a subscriber with slow=block did "
		                "not make room in time", b->name);
	return 0;
}

/* ------------------------------------------------------- making room */

/* Zero the stamps of the records in [from, to): they are given up. */
static int zero_stamps(struct ipk__bcast *b, uint64_t q, uint64_t qi,
                       uint64_t to)
{
	while (q < to) {
		uint64_t size = rec_size_at(b, qi);
		if (size == 0 || q + size > to)
			return ipk__bcast_corrupt(b, "record length", q);
		/* release: a subscriber that sees the zero also sees head moved */
		atomic_store_explicit(ipk__bc_word0(b, qi), 0, REL);
		q += size;
		qi += size;
		if (qi == b->cap)
			qi = 0;
	}
	return 0;
}

/*
 * Give up the oldest records until every byte before end - cap is free,
 * waiting for blocking subscribers if they still need them.
 */
static int make_room(struct ipk__bcast *b, uint64_t end, int64_t deadline)
{
	struct ipk__bcast_hdr *h = b->h;
	for (;;) {
		if (b->head + b->cap >= end)
			return 0;
		uint64_t bound = end - b->cap;
		if (atomic_load_explicit(&h->block_gen, SC) != b->block_gen)
			rescan(b);
		if (b->any_block && b->min_pos < bound) {
			int rc = wait_space(b, bound, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		/* give up a little more than needed, so that head moves (a
		   sequentially consistent store) once per many messages; never
		   past the tail or a blocking subscriber */
		uint64_t slack = b->cap / 16 < MAX_SLACK ? b->cap / 16 : MAX_SLACK;
		uint64_t want = bound + slack;
		if (want > b->tail)
			want = b->tail;
		if (b->any_block && want > b->min_pos)
			want = b->min_pos;
		if (want < bound)
			want = bound;
		/* the first record boundary at or after that */
		uint64_t q = b->head, qi = b->hidx;
		while (q < want) {
			uint64_t size = rec_size_at(b, qi);
			if (size == 0 || q + size > b->tail)
				return ipk__bcast_corrupt(b, "record length", q);
			q += size;
			qi += size;
			if (qi == b->cap)
				qi = 0;
		}
		atomic_store_explicit(&h->head, q, SC);
		if (atomic_load_explicit(&h->block_gen, SC) != b->block_gen) {
			/* a blocking subscriber joined meanwhile: keep its records */
			rescan(b);
			if (b->any_block && b->min_pos < q) {
				atomic_store_explicit(&h->head, b->head, SC);
				continue;
			}
		}
		int rc = zero_stamps(b, b->head, b->hidx, q);
		if (rc < 0)
			return rc;
		atomic_store_explicit(&h->zeroed, q, REL);
		b->head = q;
		b->hidx = qi;
		/* the payload is written after this: subscribers that see it see
		   the stamps zeroed */
		atomic_thread_fence(REL);
		return 0;
	}
}

/* ------------------------------------------------------------ notify */

static void ring_bells(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	for (unsigned w = 0; w < mask_words(b); w++) {
		uint64_t m = atomic_load_explicit(&h->armed[w], SC);
		while (m) {
			unsigned bit = (unsigned)__builtin_ctzll(m);
			m &= m - 1;
			uint64_t one = UINT64_C(1) << bit;
			uint32_t i = w * 64 + bit;
			if (!(atomic_fetch_and_explicit(&h->armed[w], ~one, SC) & one) ||
			    i >= b->nslots)
				continue;
			uint32_t nonce = atomic_load_explicit(&h->slots[i].bell, ACQ);
			if (nonce == 0)
				continue;
			if (b->bell_tx < 0)
				b->bell_tx = ipk__bell_tx_socket();
			if (b->bell_tx >= 0)
				ipk__bell_poke(b->bell_tx, h->ring_id, nonce);
		}
	}
}

void ipk__bcast_notify_slow(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	/* take the sleepers' bits: each sleep costs one wake, not one per
	   message while it lasts (a subscriber that died asleep is forgotten
	   here too) */
	bool sleepers = false;
	for (unsigned w = 0; w < mask_words(b); w++)
		if (atomic_load_explicit(&h->waiting[w], SC) != 0 &&
		    atomic_exchange_explicit(&h->waiting[w], 0, SC) != 0)
			sleepers = true;
	if (sleepers) {
		atomic_fetch_add_explicit(&h->data_seq, 1, SC);
		ipk__futex_wake(&h->data_seq, 0x7fffffff);
	}
	ring_bells(b);
}

static inline void notify(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	uint64_t any = 0;
	for (unsigned w = 0; w < mask_words(b); w++)
		any |= atomic_load_explicit(&h->waiting[w], SC) |
		       atomic_load_explicit(&h->armed[w], SC);
	if (__builtin_expect(any != 0, 0))
		ipk__bcast_notify_slow(b);
}

/* ------------------------------------------------------------ publish */

/* Fill the rest of the lap; the message starts the next one. */
static void write_skip(struct ipk__bcast *b)
{
	uint64_t ti = b->tidx, lap_end = b->tail + (b->cap - ti);
	atomic_store_explicit(ipk__bc_word0(b, 0),
	                      ipk__bc_stamp(b, b->seq, IPK__BC_PENDING), RLX);
	atomic_store_explicit(ipk__bc_word1(b, ti),
	                      (uint64_t)IPK__BC_W1_SKIP << 32, RLX);
	atomic_store_explicit(ipk__bc_word0(b, ti),
	                      ipk__bc_stamp(b, b->seq, IPK__BC_SKIP), REL);
	atomic_store_explicit(&b->h->tail, lap_end, REL);
	b->tail = lap_end;
	b->tidx = 0;
}

static int too_big(const struct ipk__bcast *b, size_t len)
{
	return ipk__err(-EMSGSIZE,
	                "message of %zu bytes can never fit broadcast ring %s: "
	                "its capacity is %llu bytes and a message takes at most "
	                "half of it, %zu bytes (raise ?size=)",
	                len, b->name, (unsigned long long)b->cap,
	                ipk__bcast_max_message(b->cap));
}

ssize_t ipk__bcast_borrow(struct ipk__bcast *b, void **buf, size_t len,
                          int64_t deadline)
{
	if (b->role != IPK__BCAST_PUB)
		return ipk__err(-EOPNOTSUPP, "broadcast ring %s: a subscriber does "
		                             "not publish", b->name);
	if (b->borrowed && ipk__bcast_registered_here(b))
		return ipk__err(-EBUSY, "broadcast ring %s: the previous borrow is "
		                        "not committed", b->name);
	if (len > ipk__bcast_max_message(b->cap))
		return too_big(b, len);
	int rc = ipk__bcast_ensure(b);
	if (rc < 0)
		return rc;
	uint64_t rec = ipk__bc_rec(len);
	for (;;) {
		uint64_t to_end = b->cap - b->tidx;
		bool skip = rec > to_end;
		uint64_t end = b->tail + (skip ? to_end : 0) + rec;
		/* room for the record and the PENDING stamp after it */
		if ((rc = make_room(b, end + REC_HDR, deadline)) < 0)
			return rc;
		if (!skip)
			break;
		write_skip(b);
	}
	b->borrowed = true;
	b->bpos = b->tail;
	b->bidx = b->tidx;
	b->blen = len;
	*buf = b->data + b->tidx + REC_HDR;
	return (ssize_t)len;
}

ssize_t ipk__bcast_commit(struct ipk__bcast *b, size_t len)
{
	if (!b->borrowed || !ipk__bcast_registered_here(b))
		return ipk__err(-EINVAL, "broadcast ring %s: nothing borrowed to "
		                         "commit", b->name);
	if (len > b->blen)
		return ipk__err(-EINVAL, "broadcast ring %s: committing %zu bytes, "
		                         "but %zu were borrowed", b->name, len, b->blen);
	b->borrowed = false;
	uint64_t ti = b->bidx, rec = ipk__bc_rec(len);
	uint64_t ni = ti + rec;
	if (ni == b->cap)
		ni = 0;
	atomic_store_explicit(ipk__bc_word0(b, ni),
	                      ipk__bc_stamp(b, b->seq + 1, IPK__BC_PENDING), RLX);
	atomic_store_explicit(ipk__bc_word1(b, ti), (uint64_t)len, RLX);
	/* the commit; sequentially consistent against a subscriber that marks
	   itself asleep and then looks at this stamp */
	atomic_store_explicit(ipk__bc_word0(b, ti),
	                      ipk__bc_stamp(b, b->seq, IPK__BC_MSG), SC);
	b->tail = b->bpos + rec;
	b->tidx = ni;
	b->seq++;
	atomic_store_explicit(&b->h->tail, b->tail, REL);
	notify(b);
	return (ssize_t)len;
}

int ipk__bcast_abort(struct ipk__bcast *b)
{
	if (!b->borrowed)
		return ipk__err(-EINVAL, "broadcast ring %s: nothing borrowed",
		                b->name);
	/* the room stays made; nothing was published */
	b->borrowed = false;
	return 0;
}

/* Small messages are copied inline (a call into the C library's general
   copy costs about as much as copying a line or two). */
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

ssize_t ipk__bcast_publish(struct ipk__bcast *b, const void *buf, size_t len,
                           int64_t deadline)
{
	void *dst;
	ssize_t n = ipk__bcast_borrow(b, &dst, len, deadline);
	if (n < 0)
		return n;
	copy_small(dst, buf, len);
	return ipk__bcast_commit(b, len);
}
