/*
 * Inside the ring (internal to src/shm/ring*.c): positions, record words,
 * owner words and the checks every value read from the region goes
 * through before it is used.
 */
#ifndef IPK_SHM_RING_POS_H
#define IPK_SHM_RING_POS_H

#include "ring.h"
#include "ring_sync.h"

#include <stdatomic.h>

#define REC_HDR ((uint64_t)IPK__RING_REC_HDR)
#define IDX_BITS 40
#define IDX_MASK ((UINT64_C(1) << IDX_BITS) - 1)
#define LAP_MASK ((UINT64_C(1) << (64 - IDX_BITS)) - 1)
#define CAP_ALIGN 64

/* Record word 0: owner pid (22 bits) | lap (6 bits) | state (4 bits) |
   payload length. SKIP records carry the bytes they cover as their
   length. The lap is that of the record's position (its low 6 bits): a
   header left from an earlier lap is never taken for a record of this one
   (a consumer position moved a lap on, a size that jumps a whole lap). */
#define ST_SHIFT 32
#define ST_BUSY 1u      /* MPMC: reserved, being written */
#define ST_COMMITTED 2u /* ready to read */
#define ST_DONE 4u      /* MPMC: released out of order, or abandoned */
#define ST_SKIP 5u      /* filler: step over its length */
#define ST_READ 6u      /* SPSC: read and left by the consumer; its length
                           is the bytes the record covered */
#define LAP_SHIFT 36
#define WLAP_MASK UINT64_C(63)
#define OWNER_SHIFT 42

/* Pause loops spent waiting before the clock is read. */
#define QUICK_SPINS 64
/* How often a waiter looks at its peers and at the ring's name. */
#define CHECK_NS ((int64_t)50 * 1000000)

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define SC memory_order_seq_cst

/* ------------------------------------------------------ record words */

/* The lap bits of a record word written at position p. */
static inline uint64_t w_lap_of(uint64_t p)
{
	return (p >> IDX_BITS & WLAP_MASK) << LAP_SHIFT;
}
static inline uint64_t mkword(unsigned st, uint32_t pid, uint64_t p,
                              uint64_t len)
{
	return ((uint64_t)(pid & ((UINT64_C(1) << IPK__OWNER_PID_BITS) - 1))
	        << OWNER_SHIFT) |
	       w_lap_of(p) | ((uint64_t)st << ST_SHIFT) | (len & 0xffffffffu);
}
static inline unsigned w_state(uint64_t w)
{
	return (unsigned)(w >> ST_SHIFT) & 0xfu;
}
static inline uint32_t w_owner(uint64_t w)
{
	return (uint32_t)(w >> OWNER_SHIFT);
}
static inline uint64_t w_len(uint64_t w)
{
	return w & 0xffffffffu;
}
/* Was the word written for a record at p (its lap)? */
static inline bool w_lap_ok(uint64_t w, uint64_t p)
{
	return (w & (WLAP_MASK << LAP_SHIFT)) == w_lap_of(p);
}

/*
 * SPSC: the word a consumer leaves at a header it is done with (a message
 * or a SKIP of n bytes at p): READ, with the header's lap and the bytes it
 * covered. Read at a consumer's own position it says:
 *   - its lap is the position's: the record there was read, and its
 *     consumer was killed before it published its position past it: step
 *     over n bytes (the only way to find the next record);
 *   - the lap before: this lap has nothing there yet (the producer wrote
 *     no terminator over it, knowing a header stood there, ring.c).
 * 0 (a terminator) also says "nothing yet".
 */
static inline uint64_t left_word(uint64_t p, uint64_t n)
{
	return mkword(ST_READ, 0, p, n);
}
/* The bits above the length of a READ word left a lap before p. */
static inline uint64_t idle_key(uint64_t p)
{
	return left_word(p - (UINT64_C(1) << IDX_BITS), 0) >> ST_SHIFT;
}
/* Does an SPSC consumer at p find "nothing yet" in w? */
static inline bool spsc_idle(uint64_t w, uint64_t p)
{
	return w == 0 || (w >> ST_SHIFT) == idle_key(p);
}

/* ---------------------------------------------------------- positions */

static inline uint64_t p_idx(uint64_t p)
{
	return p & IDX_MASK;
}
static inline uint64_t p_next_lap(uint64_t p)
{
	return (p | IDX_MASK) + 1;
}
/* p + n within the lap; n never crosses the end, reaching it starts a lap */
static inline uint64_t p_add(const struct ipk__ring *r, uint64_t p, uint64_t n)
{
	return p_idx(p) + n >= r->cap ? p_next_lap(p) : p + n;
}
/* bytes from b forward to a */
static inline uint64_t p_dist(const struct ipk__ring *r, uint64_t a, uint64_t b)
{
	return (((a >> IDX_BITS) - (b >> IDX_BITS)) & LAP_MASK) * r->cap +
	       p_idx(a) - p_idx(b);
}
/* A position read from the region: inside the records and on a record
   boundary (16 bytes), so a record header always fits before the end. */
static inline bool pos_ok(const struct ipk__ring *r, uint64_t p)
{
	return p_idx(p) < r->cap && (p & 15) == 0;
}
static inline uint64_t rec_for(uint64_t len)
{
	return (REC_HDR + len + 15) & ~(uint64_t)15;
}
/* Only for positions that passed pos_ok (or were made by p_add from one). */
static inline _Atomic uint64_t *rec_word(const struct ipk__ring *r,
                                         uint64_t p)
{
	return (_Atomic uint64_t *)(void *)(r->data + p_idx(p));
}
static inline _Atomic uint64_t *rec_size(const struct ipk__ring *r,
                                         uint64_t p)
{
	return (_Atomic uint64_t *)(void *)(r->data + p_idx(p) + 8);
}
/* Bytes from p to the end of the lap (>= REC_HDR for a checked p). */
static inline uint64_t p_room(const struct ipk__ring *r, uint64_t p)
{
	return r->cap - p_idx(p);
}

/* A SKIP record's length, checked: 0 if it is not a valid one at p. */
static inline uint64_t skip_len(const struct ipk__ring *r, uint64_t p,
                                uint64_t w)
{
	uint64_t n = w_len(w);
	return n >= REC_HDR && n % 16 == 0 && n <= p_room(r, p) ? n : 0;
}
/* A message's length fits between its header and the end of the lap. */
static inline bool len_fits(const struct ipk__ring *r, uint64_t p, uint64_t len)
{
	return len <= p_room(r, p) - REC_HDR;
}
/* An MPMC record size word: whole records, holding len, before the end. */
static inline bool size_ok(const struct ipk__ring *r, uint64_t p, uint64_t sz,
                           uint64_t len)
{
	return sz >= REC_HDR && sz % 16 == 0 && sz <= p_room(r, p) &&
	       len <= sz - REC_HDR;
}

/* The test hook (ring.h) at a named step. */
#define HOOK(step)                                          \
	do {                                                    \
		if (__builtin_expect(ipk__ring_hook != NULL, 0))    \
			ipk__ring_hook(step);                           \
	} while (0)

/* -EPROTO naming the field and the value found. */
int ipk__ring_corrupt(const struct ipk__ring *r, const char *what, uint64_t v);

/* -------------------------------------------------------- owner words */

#define OWNER_PID_MASK ((UINT64_C(1) << IPK__OWNER_PID_BITS) - 1)

/* An owner word: the start time (clock ticks since boot) above the pid.
   Its top bit would take 2^41 ticks, ages: MPMC bias words use it as a
   mark (ring_mpmc.c). */

static inline uint64_t owner_word(pid_t pid, uint64_t start)
{
	return (start << IPK__OWNER_PID_BITS) | ((uint64_t)pid & OWNER_PID_MASK);
}
static inline pid_t owner_pid(uint64_t w)
{
	return (pid_t)(w & OWNER_PID_MASK);
}
static inline uint64_t owner_start(uint64_t w)
{
	return w >> IPK__OWNER_PID_BITS;
}
/* Is the process an owner word names still running? (reads /proc) */
bool ipk__ring_owner_alive(uint64_t w);

static inline struct ipk__ring_slot *side_slots(const struct ipk__ring *r,
                                                enum ipk__ring_role side)
{
	return r->h->slots + (side == IPK__RING_CONSUMER ? 0 : r->nslots);
}

/* Is pid one of the ring's live processes? Unregistered pids are gone:
   every process registers before it reserves, claims or locks. */
bool ipk__ring_pid_alive(const struct ipk__ring *r, uint32_t pid);

static inline bool registered_here(const struct ipk__ring *r)
{
	return r->slot >= 0 &&
	       r->reg_gen == atomic_load_explicit(&ipk__fork_generation, RLX);
}

static inline int ensure_registered(struct ipk__ring *r)
{
	if (__builtin_expect(registered_here(r), 1))
		return 0;
	return ipk__ring_ensure(r);
}

/* ------------------------------------------------------------ waking */

/*
 * One wake per sleep: a sleeper sets bit 0 of the side's sequence word
 * (and fences every publisher, ring_sync.h) before its last look and
 * sleeps on the word; the other side, after each publish or release,
 * reads the word and only when the bit is set clears it (moving the
 * sequence on) and wakes. Later publishes see the bit clear and make no
 * system call until somebody sleeps again.
 */
void ipk__ring_wake_seq(_Atomic uint32_t *seq);

static inline void notify_seq(const struct ipk__ring *r, _Atomic uint32_t *seq)
{
	/* after a light publish a plain load will do: a sleeper fences us */
	uint32_t v = r->light ? atomic_load_explicit(seq, RLX)
	                      : atomic_load_explicit(seq, SC);
	if (__builtin_expect(v & 1u, 0))
		ipk__ring_wake_seq(seq);
}

/* A store a sleeper may be waiting for: release order after a light
   registration, else sequentially consistent (two explicit stores: a
   memory order known only at run time compiles as the strongest). */
static inline void publish(const struct ipk__ring *r, _Atomic uint64_t *w,
                           uint64_t v)
{
	if (r->light)
		atomic_store_explicit(w, v, REL);
	else
		atomic_store_explicit(w, v, SC);
}

/* After publishing: wake sleeping consumers, ring armed doorbells. */
static inline void notify_consumers(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	notify_seq(r, &h->data_seq);
	if (__builtin_expect(atomic_load_explicit(&h->armed, RLX) != 0, 0))
		ipk__ring_ring_bells(r);
}

static inline void notify_producers(struct ipk__ring *r)
{
	notify_seq(r, &r->h->space_seq);
}

/* ------------------------------------------- shared by the protocols */

/* Would the waiting side make progress now? (a hint; callers recheck) */
bool ipk__ring_ready(struct ipk__ring *r);
/* Wait for ready(), a peer check being due, or the deadline: 0 to look
   again, or a timeout. */
int ipk__ring_wait_for(struct ipk__ring *r, int64_t deadline);
/* A peer only a little behind, met without clock reads: true if ready. */
bool ipk__ring_quick_wait(struct ipk__ring *r);
/* Has this side's conversation ended for good? -EPIPE/-EIDRM with a
   message, else 0. thorough: also the slow looks (at most every CHECK_NS). */
int ipk__ring_check_end(struct ipk__ring *r, bool thorough);

/* MPMC (ring_mpmc.c) */
ssize_t ipk__mpmc_borrow(struct ipk__ring *r, void **buf, size_t len,
                         int64_t deadline);
int ipk__mpmc_commit(struct ipk__ring *r, size_t len);
void ipk__mpmc_abort(struct ipk__ring *r);
/* 1: a message is at hand (r->mpos...), 0: none yet, < 0: corrupt (or
   the consumers' lock not had within the deadline). With rx, a message
   that fits is copied there and released at once: 2 (length in r->mlen). */
int ipk__mpmc_locate(struct ipk__ring *r, int64_t deadline, ipk__rx *rx);
/* The bias holder's fast paths: -1 for the general path. */
ssize_t ipk__mpmc_fast_send(struct ipk__ring *r, const void *buf, size_t len);
ssize_t ipk__mpmc_fast_recv(struct ipk__ring *r, ipk__rx *rx);
/* A small message copied and published inside the reservation. */
ssize_t ipk__mpmc_send_small(struct ipk__ring *r, const void *buf, size_t len,
                             int64_t deadline);
void ipk__mpmc_release(struct ipk__ring *r);
bool ipk__mpmc_ready(struct ipk__ring *r);
/* A consumer about to wait: is the head past the producers' tail? What is
   wrong (and the value in *v), or NULL. */
const char *ipk__mpmc_position_fault(struct ipk__ring *r, uint64_t *v);
/* A consumer about to wait: now and then, free dead readers' records. */
void ipk__mpmc_idle(struct ipk__ring *r);
/* A producer leaving: give up the bias if it holds it. */
void ipk__mpmc_leave(struct ipk__ring *r);

#endif
