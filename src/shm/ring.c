/*
 * The ring: format and validation, registration of processes, the SPSC and
 * MPMC record protocols, and waiting. See ring.h for the design.
 */
#define _GNU_SOURCE
#include "ring.h"
#include "proc.h"
#include "ring_sync.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct ipk__ring_slot) == 64, "slot is one line");
_Static_assert(offsetof(struct ipk__ring_hdr, slots) == 768, "header layout");

#define REC_HDR ((uint64_t)IPK__RING_REC_HDR)
#define IDX_BITS 40
#define IDX_MASK ((UINT64_C(1) << IDX_BITS) - 1)
#define LAP_MASK ((UINT64_C(1) << (64 - IDX_BITS)) - 1)
#define CAP_ALIGN 64

/* Record word 0: owner pid (24 bits) | state (4 bits) | payload length. */
#define ST_SHIFT 32
#define ST_BUSY 1u      /* MPMC: reserved, being written */
#define ST_COMMITTED 2u /* ready to read */
#define ST_CLAIMED 3u   /* MPMC: a consumer is reading it */
#define ST_DONE 4u      /* MPMC: released, or abandoned */
#define ST_SKIP 5u      /* filler to the end of the lap */
#define OWNER_SHIFT 40

/* Pause loops spent waiting before the clock is read. */
#define QUICK_SPINS 64

/* How often a waiter looks at whether its peers still live. */
#define CHECK_NS ((int64_t)50 * 1000000)

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define SC memory_order_seq_cst

static inline uint64_t mkword(unsigned st, uint32_t pid, uint64_t len)
{
	return ((uint64_t)pid << OWNER_SHIFT) | ((uint64_t)st << ST_SHIFT) |
	       (len & 0xffffffffu);
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
static inline uint64_t rec_for(uint64_t len)
{
	return (REC_HDR + len + 15) & ~(uint64_t)15;
}
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

static struct ipk__ring_slot *side_slots(const struct ipk__ring *r,
                                         enum ipk__ring_role side)
{
	return r->h->slots + (side == IPK__RING_CONSUMER ? 0 : r->h->nslots);
}

static int corrupt(const struct ipk__ring *r, const char *what, uint64_t v)
{
	return ipk__err(-EPROTO, "ring %s is corrupt: %s (%#llx)", r->name, what,
	                (unsigned long long)v);
}

/* ------------------------------------------------------ format, attach */

size_t ipk__ring_hdr_size(uint32_t nslots)
{
	size_t n = sizeof(struct ipk__ring_hdr) +
	           2 * (size_t)nslots * sizeof(struct ipk__ring_slot);
	return (n + 4095) & ~(size_t)4095;
}

size_t ipk__ring_max_message(uint64_t cap, bool mpmc)
{
	/* SPSC keeps room for the terminator word after the last record */
	uint64_t over = mpmc ? REC_HDR : 2 * REC_HDR;
	uint64_t m = cap > over ? cap - over : 0;
	return m > 0xffffffffu ? 0xffffffffu : (size_t)m;
}

int ipk__ring_format(void *mem, size_t size, bool mpmc)
{
	uint32_t nslots = mpmc ? IPK__RING_MPMC_SLOTS : 1;
	size_t hs = ipk__ring_hdr_size(nslots);
	if (size < hs + 256)
		return ipk__err(-EINVAL,
		                "a %s ring needs a region of at least %zu bytes, "
		                "not %zu (raise ?size=)",
		                mpmc ? "MPMC" : "SPSC", hs + 256, size);
	uint64_t cap = (size - hs) & ~(uint64_t)(CAP_ALIGN - 1);
	if (cap > IDX_MASK)
		return ipk__err(-EINVAL, "a ring holds at most %llu bytes",
		                (unsigned long long)IDX_MASK);
	struct ipk__ring_hdr *h = mem;
	memset(h, 0, hs);
	h->version = IPK__RING_VERSION;
	h->flags = mpmc ? IPK__RING_MPMC : 0;
	h->hdr_size = hs;
	h->capacity = cap;
	h->region_size = size;
	h->nslots = nslots;
	uint64_t id;
	if (getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id)
		id = (uint64_t)ipk__now_ns() ^ ((uint64_t)getpid() << 32);
	h->ring_id = id;
	unsigned char *data = (unsigned char *)mem + hs;
	atomic_store_explicit((_Atomic uint64_t *)(void *)data, 0, RLX);
	atomic_store_explicit(&h->magic, IPK__RING_MAGIC, REL);
	return 0;
}

int ipk__ring_attach(struct ipk__ring *r, void *mem, size_t size,
                     enum ipk__ring_role role, const char *what)
{
	memset(r, 0, sizeof *r);
	r->name = what;
	r->slot = -1;
	r->bell_rx = r->bell_tx = -1;
	r->peer_life_fd = -1;
	r->role = role;
	r->spin_ns = 50000;
	r->maxmsg = IPK_DEFAULT_MAXMSG;
	struct ipk__ring_hdr *h = mem;
	if (size < sizeof *h)
		return ipk__err(-EPROTO,
		                "region %s is %zu bytes: too small to be an ipckit "
		                "ring", what, size);
	uint64_t magic = atomic_load_explicit(&h->magic, ACQ);
	if (magic == 0)
		return ipk__err(-EAGAIN, "region %s holds no ring (yet)", what);
	if (magic != IPK__RING_MAGIC)
		return ipk__err(-EPROTO,
		                "region %s is not an ipckit ring (magic %#llx)", what,
		                (unsigned long long)magic);
	if (h->version != IPK__RING_VERSION)
		return ipk__err(-EPROTO,
		                "ring %s has layout version %u; this library reads "
		                "version %u", what, h->version, IPK__RING_VERSION);
	uint32_t nslots = h->nslots;
	bool mpmc = h->flags & IPK__RING_MPMC;
	if ((h->flags & ~IPK__RING_MPMC) != 0 ||
	    nslots != (mpmc ? IPK__RING_MPMC_SLOTS : 1u))
		return ipk__err(-EPROTO, "ring %s has unknown flags %#x or %u slots",
		                what, h->flags, nslots);
	uint64_t hs = h->hdr_size, cap = h->capacity;
	if (hs != ipk__ring_hdr_size(nslots) || cap < 256 ||
	    cap % CAP_ALIGN != 0 || cap > IDX_MASK || hs > size ||
	    cap > size - hs)
		return ipk__err(-EPROTO,
		                "ring %s claims a %llu-byte header and %llu bytes of "
		                "records, but the region has %zu bytes",
		                what, (unsigned long long)hs, (unsigned long long)cap,
		                size);
	r->h = h;
	r->data = (unsigned char *)mem + hs;
	r->cap = cap;
	r->mpmc = mpmc;
	return 0;
}

/* ---------------------------------------------------------- liveness */

/* Is pid one of the ring's live processes? Unregistered pids are gone:
   every process registers before it reserves, claims or locks. */
static bool pid_alive(const struct ipk__ring *r, uint32_t pid)
{
	if (pid == 0)
		return false;
	if (pid == (uint32_t)r->pid)
		return true;
	const struct ipk__ring_slot *s = r->h->slots;
	for (uint32_t i = 0; i < 2 * r->h->nslots; i++)
		if (atomic_load_explicit(&s[i].pid, ACQ) == pid)
			return ipk__proc_alive((pid_t)pid,
			                       atomic_load_explicit(&s[i].start, RLX));
	return false;
}

static void wake(_Atomic uint32_t *seq)
{
	atomic_fetch_add_explicit(seq, 1, SC);
	ipk__futex_wake(seq, 0x7fffffff);
}

/* After publishing: wake sleeping consumers, ring armed doorbells. */
static inline void notify_consumers(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	if (atomic_load_explicit(&h->rx_waiting, SC))
		wake(&h->data_seq);
	if (atomic_load_explicit(&h->rx_armed, SC))
		ipk__ring_ring_bells(r);
}

static inline void notify_producers(struct ipk__ring *r)
{
	if (atomic_load_explicit(&r->h->tx_waiting, SC))
		wake(&r->h->space_seq);
}

bool ipk__ring_side_alive(struct ipk__ring *r, enum ipk__ring_role side)
{
	struct ipk__ring_hdr *h = r->h;
	_Atomic uint32_t *count = side == IPK__RING_PRODUCER ? &h->ntx : &h->nrx;
	struct ipk__ring_slot *s = side_slots(r, side);
	bool alive = false;
	for (uint32_t i = 0; i < h->nslots; i++) {
		uint32_t pid = atomic_load_explicit(&s[i].pid, ACQ);
		if (pid == 0)
			continue;
		if (pid == (uint32_t)r->pid ||
		    ipk__proc_alive((pid_t)pid, atomic_load_explicit(&s[i].start, RLX))) {
			alive = true;
			continue;
		}
		/* free the dead one's slot: a restarted peer finds it free */
		if (atomic_compare_exchange_strong_explicit(&s[i].pid, &pid, 0, SC,
		                                            RLX)) {
			if (atomic_exchange_explicit(&s[i].armed, 0, SC))
				atomic_fetch_sub_explicit(&h->rx_armed, 1, SC);
			atomic_fetch_sub_explicit(count, 1, SC);
		}
	}
	return alive;
}

/*
 * -EPIPE if the other side attached once and none of it is left. Cheap
 * unless thorough: then (at most every CHECK_NS) dead peers are looked for
 * in /proc and their slots freed.
 */
static int check_peers(struct ipk__ring *r, bool thorough)
{
	struct ipk__ring_hdr *h = r->h;
	bool consumer = r->role == IPK__RING_CONSUMER;
	_Atomic uint32_t *ever = consumer ? &h->tx_ever : &h->rx_ever;
	_Atomic uint32_t *count = consumer ? &h->ntx : &h->nrx;
	const char *who = consumer ? "producer" : "consumer";
	if (r->peer_life_fd >= 0) {
		int64_t now;
		if (!thorough || (now = ipk__now_ns()) < r->next_check)
			return 0;
		r->next_check = now + CHECK_NS;
		struct pollfd p = {.fd = r->peer_life_fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLHUP | POLLERR)))
			return 0;
		return ipk__err(-EPIPE, "%s: the other end has been closed%s",
		                r->name, consumer ? " and nothing is left to read"
		                                  : "");
	}
	if (!atomic_load_explicit(ever, ACQ))
		return 0;
	if (atomic_load_explicit(count, ACQ) != 0) {
		if (!thorough)
			return 0;
		int64_t now = ipk__now_ns();
		if (now < r->next_check)
			return 0;
		r->next_check = now + CHECK_NS;
		bool alive = ipk__ring_side_alive(r, consumer ? IPK__RING_PRODUCER
		                                               : IPK__RING_CONSUMER);
		if (alive)
			return 0;
		if (atomic_load_explicit(count, ACQ) != 0)
			return 0; /* someone attached meanwhile */
	}
	return ipk__err(-EPIPE, "ring %s: the %s has gone%s", r->name, who,
	                consumer ? " and nothing is left to read" : "");
}

/* ------------------------------------------------------------- locks */

#define LOCK_WAITERS 0x80000000u

/* 0: acquired; 1: acquired from a dead owner (state may be half-updated). */
static int ring_lock(struct ipk__ring *r, _Atomic uint32_t *l)
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
		if (ipk__futex_wait(l, v, CHECK_NS) == -ETIMEDOUT &&
		    !pid_alive(r, v & ~LOCK_WAITERS) &&
		    atomic_compare_exchange_strong_explicit(l, &v, me | LOCK_WAITERS,
		                                            ACQ, RLX))
			return 1;
	}
}

static void ring_unlock(_Atomic uint32_t *l)
{
	if (atomic_exchange_explicit(l, 0, REL) & LOCK_WAITERS)
		ipk__futex_wake(l, 1);
}

/* ------------------------------------------------------ registration */

static int spsc_find_tail(struct ipk__ring *r)
{
	/* records between the consumer's position and the first terminator
	   are published and stay put: only a producer writes, and that is us */
	uint64_t p = atomic_load_explicit(&r->h->head, ACQ);
	if (p_idx(p) >= r->cap)
		return corrupt(r, "consumer position", p);
	for (uint64_t steps = 0; steps <= r->cap / REC_HDR + 1; steps++) {
		uint64_t w = atomic_load_explicit(rec_word(r, p), ACQ);
		if (w == 0) {
			r->tail = p;
			r->head_cache = atomic_load_explicit(&r->h->head, ACQ);
			atomic_store_explicit(&r->h->tail, p, RLX);
			return 0;
		}
		uint64_t idx = p_idx(p);
		if (w_state(w) == ST_SKIP) {
			p = p_next_lap(p);
		} else if (w_state(w) == ST_COMMITTED &&
		           w_len(w) <= r->cap - idx - REC_HDR) {
			p = p_add(r, p, rec_for(w_len(w)));
		} else {
			return corrupt(r, "record header", w);
		}
	}
	return corrupt(r, "no end of records", p);
}

int ipk__ring_register(struct ipk__ring *r, const char *what)
{
	struct ipk__ring_hdr *h = r->h;
	ipk__fork_watch();
	uint64_t gen = atomic_load_explicit(&ipk__fork_generation, RLX);
	r->pid = getpid();
	r->start = ipk__proc_start(r->pid);
	r->slot = -1;
	r->next_check = 0;
	bool consumer = r->role == IPK__RING_CONSUMER;
	struct ipk__ring_slot *s = side_slots(r, r->role);
	uint32_t me = (uint32_t)r->pid;
	int got = -1;
	bool fresh = false;
	for (uint32_t i = 0; i < h->nslots && got < 0; i++) {
		uint32_t z = 0;
		if (atomic_compare_exchange_strong_explicit(&s[i].pid, &z, me, SC,
		                                            RLX)) {
			got = (int)i;
			fresh = true;
		}
	}
	uint32_t holder = 0;
	for (uint32_t i = 0; i < h->nslots && got < 0; i++) {
		uint32_t pid = atomic_load_explicit(&s[i].pid, ACQ);
		if (pid == 0)
			continue;
		if (ipk__proc_alive((pid_t)pid, atomic_load_explicit(&s[i].start, RLX))) {
			holder = pid;
			continue;
		}
		if (atomic_compare_exchange_strong_explicit(&s[i].pid, &pid, me, SC,
		                                            RLX))
			got = (int)i; /* a dead process's place: take it over */
	}
	if (got < 0) {
		if (r->mpmc)
			return ipk__err(-EUSERS,
			                "ring %s: all %u %s slots are held by live "
			                "processes", what, h->nslots,
			                consumer ? "consumer" : "producer");
		if (consumer)
			return ipk__err(-EADDRINUSE,
			                "ring %s already has a live consumer (pid %u); a "
			                "single-consumer ring takes one (create it with "
			                "?mpmc for several)", what, holder);
		return ipk__err(-EBUSY,
		                "ring %s is single-producer and pid %u is attached "
		                "(create it with ?mpmc for several producers)",
		                what, holder);
	}
	struct ipk__ring_slot *mine = &s[got];
	atomic_store_explicit(&mine->start, r->start, RLX);
	atomic_store_explicit(&mine->bell, 0, RLX);
	if (atomic_exchange_explicit(&mine->armed, 0, SC))
		atomic_fetch_sub_explicit(&h->rx_armed, 1, SC);
	if (fresh)
		atomic_fetch_add_explicit(consumer ? &h->nrx : &h->ntx, 1, SC);
	atomic_store_explicit(consumer ? &h->rx_ever : &h->tx_ever, 1, SC);
	r->slot = got;
	r->reg_gen = gen;
	if (!r->mpmc) {
		/* a dead predecessor may have left its waiting count behind */
		if (consumer) {
			atomic_store_explicit(&h->rx_waiting, 0, SC);
			uint64_t hd = atomic_load_explicit(&h->head, ACQ);
			if (p_idx(hd) >= r->cap)
				return corrupt(r, "consumer position", hd);
			r->head = hd;
		} else {
			atomic_store_explicit(&h->tx_waiting, 0, SC);
			int rc = spsc_find_tail(r);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static inline int ensure_registered(struct ipk__ring *r)
{
	if (__builtin_expect(r->reg_gen ==
	                             atomic_load_explicit(&ipk__fork_generation, RLX) &&
	                     r->slot >= 0,
	                     1))
		return 0;
	/* a child using what it inherited: drop the parent's state */
	r->borrowed = r->have = r->lent = false;
	return ipk__ring_register(r, r->name);
}

int ipk__ring_ensure(struct ipk__ring *r)
{
	return ensure_registered(r);
}

static inline bool registered_here(const struct ipk__ring *r)
{
	return r->slot >= 0 &&
	       r->reg_gen == atomic_load_explicit(&ipk__fork_generation, RLX);
}

static void mpmc_advance_frontier(struct ipk__ring *r, bool repair);

void ipk__ring_detach(struct ipk__ring *r)
{
	if (r->h == NULL || !registered_here(r))
		return;
	struct ipk__ring_hdr *h = r->h;
	bool consumer = r->role == IPK__RING_CONSUMER;
	if (r->borrowed)
		ipk__ring_abort(r);
	if (consumer && r->have && r->mpmc) {
		/* a claimed message cannot go back in line: it is dropped */
		atomic_store_explicit(rec_word(r, r->mpos), mkword(ST_DONE, 0, 0), REL);
		r->have = false;
		mpmc_advance_frontier(r, false);
	}
	struct ipk__ring_slot *mine = &side_slots(r, r->role)[r->slot];
	if (atomic_exchange_explicit(&mine->armed, 0, SC))
		atomic_fetch_sub_explicit(&h->rx_armed, 1, SC);
	atomic_store_explicit(&mine->bell, 0, RLX);
	uint32_t me = (uint32_t)r->pid;
	if (atomic_compare_exchange_strong_explicit(&mine->pid, &me, 0, SC, RLX))
		atomic_fetch_sub_explicit(consumer ? &h->nrx : &h->ntx, 1, SC);
	r->slot = -1;
	/* the other side may be waiting to learn that we left */
	if (consumer) {
		wake(&h->space_seq);
	} else {
		wake(&h->data_seq);
		ipk__ring_ring_bells(r);
	}
}

/* ------------------------------------------------------------ waiting */

/* Would the waiting side make progress now? (a hint; callers recheck) */
static bool ready(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	if (r->role == IPK__RING_CONSUMER) {
		if (!r->mpmc)
			return atomic_load_explicit(rec_word(r, r->head), ACQ) != 0;
		uint64_t hd = atomic_load_explicit(&h->head, ACQ);
		uint64_t t = atomic_load_explicit(&h->tail, ACQ);
		if (hd == t)
			return false;
		if (p_idx(hd) >= r->cap)
			return true; /* let the caller report it */
		return w_state(atomic_load_explicit(rec_word(r, hd), ACQ)) != ST_BUSY;
	}
	uint64_t t = r->mpmc ? atomic_load_explicit(&h->tail, ACQ) : r->tail;
	uint64_t rh = atomic_load_explicit(r->mpmc ? &h->rhead : &h->head, ACQ);
	uint64_t used = p_dist(r, t, rh);
	return used > r->cap || used + r->want_space + (r->mpmc ? 0 : REC_HDR) <=
	                                r->cap;
}

/*
 * Wait for ready(), a peer check being due, or the deadline. Spins first
 * (spin/hybrid), then sleeps on the side's futex; a sleeper counts itself
 * in the waiting word so the other side wakes it (and only then makes a
 * system call). Returns 0 to have the caller look again, or a timeout.
 */
static int wait_for(struct ipk__ring *r, int64_t deadline)
{
	struct ipk__ring_hdr *h = r->h;
	bool consumer = r->role == IPK__RING_CONSUMER;
	const char *what = consumer ? "no message" : "no room";
	int64_t now = ipk__now_ns();
	if (r->wait != IPK__WAIT_BLOCK) {
		/* spin: hybrid for spin_ns, spin in slices so peers get checked */
		int64_t until = now + (r->wait == IPK__WAIT_SPIN ? CHECK_NS : r->spin_ns);
		if (deadline < until)
			until = deadline;
		for (unsigned i = 1;; i++) {
			if (ready(r))
				return 0;
			ipk__cpu_relax();
			if ((i & 31) == 0 && (now = ipk__now_ns()) >= until)
				break;
		}
		if (now >= deadline)
			return ipk__err(ipk__timeout_err(deadline), "ring %s: %s",
			                r->name, what);
		if (r->wait == IPK__WAIT_SPIN)
			return 0;
	}
	_Atomic uint32_t *seq = consumer ? &h->data_seq : &h->space_seq;
	_Atomic uint32_t *waiting = consumer ? &h->rx_waiting : &h->tx_waiting;
	uint32_t s = atomic_load_explicit(seq, ACQ);
	atomic_fetch_add_explicit(waiting, 1, SC);
	if (!ready(r)) {
		int64_t left = deadline == IPK__NEVER ? CHECK_NS : deadline - now;
		if (left > CHECK_NS)
			left = CHECK_NS;
		if (left > 0)
			ipk__futex_wait(seq, s, left);
	}
	atomic_fetch_sub_explicit(waiting, 1, SC);
	if (deadline != IPK__NEVER && ipk__now_ns() >= deadline && !ready(r))
		return ipk__err(ipk__timeout_err(deadline), "ring %s: %s", r->name,
		                what);
	return 0;
}

/* A peer that is only a little behind is waited for here, without the
   clock reads and peer checks of the general wait: true if ready. */
static bool quick_wait(struct ipk__ring *r)
{
	if (r->wait == IPK__WAIT_BLOCK)
		return false;
	for (int i = 0; i < QUICK_SPINS; i++) {
		if (ready(r))
			return true;
		ipk__cpu_relax();
	}
	return false;
}

/* -------------------------------------------------------------- SPSC */

static ssize_t spsc_borrow(struct ipk__ring *r, void **buf, size_t len,
                           int64_t deadline)
{
	uint64_t rec = rec_for(len);
	for (;;) {
		uint64_t t = r->tail, idx = p_idx(t);
		uint64_t to_end = r->cap - idx;
		bool skip = rec > to_end;
		uint64_t need = skip ? to_end : rec;
		if (p_dist(r, t, r->head_cache) + need + REC_HDR > r->cap) {
			r->head_cache = atomic_load_explicit(&r->h->head, ACQ);
			uint64_t used = p_dist(r, t, r->head_cache);
			if (used > r->cap)
				return corrupt(r, "consumer position", r->head_cache);
			if (used + need + REC_HDR > r->cap) {
				r->want_space = need;
				if (deadline != IPK__NOW && quick_wait(r))
					continue;
				int rc = check_peers(r, true);
				if (rc < 0)
					return rc;
				if (deadline == IPK__NOW)
					return ipk__err(-EAGAIN, "ring %s is full", r->name);
				if ((rc = wait_for(r, deadline)) < 0)
					return rc;
				continue;
			}
		}
		if (skip) {
			/* fill to the end; the message starts the next lap */
			uint64_t nt = p_next_lap(t);
			atomic_store_explicit(rec_word(r, nt), 0, RLX);
			atomic_store_explicit(rec_word(r, t), mkword(ST_SKIP, 0, 0), SC);
			notify_consumers(r);
			r->tail = nt;
			atomic_store_explicit(&r->h->tail, nt, RLX);
			continue;
		}
		r->borrowed = true;
		r->bpos = t;
		r->blen = len;
		*buf = r->data + idx + REC_HDR;
		return (ssize_t)len;
	}
}

static inline void spsc_commit(struct ipk__ring *r, size_t len)
{
	uint64_t t = r->bpos, nt = p_add(r, t, rec_for(len));
	atomic_store_explicit(rec_word(r, nt), 0, RLX);
	atomic_store_explicit(rec_word(r, t), mkword(ST_COMMITTED, 0, len), SC);
	notify_consumers(r);
	r->tail = nt;
	atomic_store_explicit(&r->h->tail, nt, RLX);
	/* take the lines the next small message will fill while nobody needs
	   them (not the one holding this record's end: the consumer reads it) */
	uint64_t line = (p_idx(nt) & ~(uint64_t)63) + 64;
	if (line + 128 <= r->cap) {
		__builtin_prefetch(r->data + line, 1, 3);
		__builtin_prefetch(r->data + line + 64, 1, 3);
	}
}

static inline void spsc_set_head(struct ipk__ring *r, uint64_t p)
{
	r->head = p;
	atomic_store_explicit(&r->h->head, p, SC);
	notify_producers(r);
}

/* 1: a message is at hand (r->mpos...), 0: empty, < 0: corrupt. */
static int spsc_locate(struct ipk__ring *r)
{
	for (;;) {
		uint64_t hd = r->head, idx = p_idx(hd);
		uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
		if (w == 0)
			return 0;
		if (w_state(w) == ST_SKIP) {
			spsc_set_head(r, p_next_lap(hd));
			continue;
		}
		if (w_state(w) != ST_COMMITTED || w_len(w) > r->cap - idx - REC_HDR)
			return corrupt(r, "record header", w);
		r->have = true;
		r->mpos = hd;
		r->mlen = (size_t)w_len(w);
		r->mrec = rec_for(w_len(w));
		r->mpid = 0;
		/* start fetching the rest of a small record now, not at the copy */
		if (r->mrec > 64)
			__builtin_prefetch(r->data + idx + 64, 0, 3);
		return 1;
	}
}

/* -------------------------------------------------------------- MPMC */

static int mpmc_positions(struct ipk__ring *r, uint64_t *t, uint64_t *hd,
                          bool use_rhead)
{
	*t = atomic_load_explicit(&r->h->tail, ACQ);
	*hd = atomic_load_explicit(use_rhead ? &r->h->rhead : &r->h->head, ACQ);
	if (p_idx(*t) >= r->cap)
		return corrupt(r, "producer position", *t);
	if (p_idx(*hd) >= r->cap || p_dist(r, *t, *hd) > r->cap)
		return corrupt(r, "consumer position", *hd);
	return 0;
}

static ssize_t mpmc_borrow(struct ipk__ring *r, void **buf, size_t len,
                           int64_t deadline)
{
	struct ipk__ring_hdr *h = r->h;
	uint64_t rec = rec_for(len);
	uint32_t me = (uint32_t)r->pid;
	for (;;) {
		ring_lock(r, &h->prod_lock);
		uint64_t t, rh;
		int rc = mpmc_positions(r, &t, &rh, true);
		if (rc < 0) {
			ring_unlock(&h->prod_lock);
			return rc;
		}
		uint64_t used = p_dist(r, t, rh), to_end = r->cap - p_idx(t);
		if (rec > to_end && used + to_end <= r->cap) {
			/* fill to the end of the lap; the message starts the next */
			atomic_store_explicit(rec_size(r, t), to_end, RLX);
			atomic_store_explicit(rec_word(r, t), mkword(ST_SKIP, me, 0), REL);
			t = p_next_lap(t);
			used += to_end;
			atomic_store_explicit(&h->tail, t, REL);
		}
		if (rec <= r->cap - p_idx(t) && used + rec <= r->cap) {
			atomic_store_explicit(rec_size(r, t), rec, RLX);
			atomic_store_explicit(rec_word(r, t), mkword(ST_BUSY, me, len), REL);
			atomic_store_explicit(&h->tail, p_add(r, t, rec), REL);
			ring_unlock(&h->prod_lock);
			r->borrowed = true;
			r->bpos = t;
			r->blen = len;
			*buf = r->data + p_idx(t) + REC_HDR;
			return (ssize_t)len;
		}
		ring_unlock(&h->prod_lock);
		if ((rc = check_peers(r, true)) < 0)
			return rc;
		if (deadline == IPK__NOW)
			return ipk__err(-EAGAIN, "ring %s is full", r->name);
		/* a consumer that died holding a message would hold the space
		   forever: free what dead consumers claimed */
		int64_t now = ipk__now_ns();
		if (now >= r->next_repair) {
			r->next_repair = now + CHECK_NS;
			mpmc_advance_frontier(r, true);
		}
		r->want_space = rec > r->cap - p_idx(t) ? r->cap - p_idx(t) : rec;
		if ((rc = wait_for(r, deadline)) < 0)
			return rc;
	}
}

static int mpmc_commit(struct ipk__ring *r, size_t len)
{
	uint32_t me = (uint32_t)r->pid;
	uint64_t old = mkword(ST_BUSY, me, r->blen);
	if (!atomic_compare_exchange_strong_explicit(
		    rec_word(r, r->bpos), &old, mkword(ST_COMMITTED, me, len), SC,
		    RLX))
		return ipk__err(-EPIPE,
		                "ring %s: a consumer gave this message up as "
		                "abandoned (state %#llx)", r->name,
		                (unsigned long long)old);
	notify_consumers(r);
	return 0;
}

/* Walk the release frontier over released records (the consumer lock
   held); with repair, also free those claimed by consumers that died.
   Returns whether it moved. */
static bool frontier_walk(struct ipk__ring *r, bool repair)
{
	struct ipk__ring_hdr *h = r->h;
	uint64_t rh = atomic_load_explicit(&h->rhead, ACQ);
	uint64_t hd = atomic_load_explicit(&h->head, ACQ);
	if (p_idx(hd) >= r->cap || p_idx(rh) >= r->cap ||
	    p_dist(r, hd, rh) > r->cap)
		return false; /* corrupt: the consumer's next look reports it */
	uint64_t start = rh;
	while (rh != hd) {
		uint64_t w = atomic_load_explicit(rec_word(r, rh), ACQ);
		uint64_t sz = atomic_load_explicit(rec_size(r, rh), RLX);
		uint64_t room = r->cap - p_idx(rh);
		unsigned st = w_state(w);
		if (sz < REC_HDR || sz % 16 || sz > room)
			break;
		if (st == ST_CLAIMED && repair && !pid_alive(r, w_owner(w)))
			atomic_store_explicit(rec_word(r, rh), mkword(ST_DONE, 0, 0), RLX);
		else if (st != ST_DONE && st != ST_SKIP)
			break;
		rh = p_add(r, rh, sz);
	}
	if (rh == start)
		return false;
	atomic_store_explicit(&h->rhead, rh, SC);
	return true;
}

static void mpmc_advance_frontier(struct ipk__ring *r, bool repair)
{
	ring_lock(r, &r->h->cons_lock);
	bool moved = frontier_walk(r, repair);
	ring_unlock(&r->h->cons_lock);
	if (moved)
		notify_producers(r);
}

static int mpmc_locate_locked(struct ipk__ring *r, bool *passed);

static int mpmc_locate(struct ipk__ring *r)
{
	struct ipk__ring_hdr *h = r->h;
	bool passed = false;
	ring_lock(r, &h->cons_lock);
	int rc = mpmc_locate_locked(r, &passed);
	/* skips and abandoned records are released by nobody: move the
	   frontier past them here */
	bool moved = passed && frontier_walk(r, false);
	ring_unlock(&h->cons_lock);
	if (moved)
		notify_producers(r);
	return rc;
}

static int mpmc_locate_locked(struct ipk__ring *r, bool *passed)
{
	struct ipk__ring_hdr *h = r->h;
	uint32_t me = (uint32_t)r->pid;
	for (;;) {
		uint64_t t, hd;
		int rc = mpmc_positions(r, &t, &hd, false);
		if (rc < 0 || hd == t)
			return rc;
		uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
		uint64_t sz = atomic_load_explicit(rec_size(r, hd), RLX);
		uint64_t room = r->cap - p_idx(hd);
		unsigned st = w_state(w);
		if (sz < REC_HDR || sz % 16 || sz > room ||
		    (st == ST_SKIP && sz != room) ||
		    (st != ST_SKIP && w_len(w) > sz - REC_HDR)) {
			return corrupt(r, "record header", w);
		}
		switch (st) {
		case ST_SKIP:
		case ST_DONE: /* abandoned by a consumer that died before moving on */
			atomic_store_explicit(&h->head, p_add(r, hd, sz), REL);
			*passed = true;
			continue;
		case ST_COMMITTED:
		case ST_CLAIMED: /* a consumer died between claiming and moving on */
			atomic_store_explicit(rec_word(r, hd),
			                      mkword(ST_CLAIMED, me, w_len(w)), RLX);
			atomic_store_explicit(&h->head, p_add(r, hd, sz), REL);
			r->have = true;
			r->mpos = hd;
			r->mlen = (size_t)w_len(w);
			r->mrec = sz;
			r->mpid = st == ST_COMMITTED ? (pid_t)w_owner(w) : 0;
			return 1;
		case ST_BUSY: {
			/* in order: wait for its producer, unless that one died */
			int64_t now = ipk__now_ns();
			if (r->busy_pos != hd + 1) {
				r->busy_pos = hd + 1;
				r->busy_since = now;
			}
			if (now - r->busy_since < CHECK_NS)
				return 0;
			r->busy_since = now;
			if (pid_alive(r, w_owner(w)))
				return 0;
			uint64_t exp = w;
			if (atomic_compare_exchange_strong_explicit(
				    rec_word(r, hd), &exp, mkword(ST_DONE, 0, 0), SC, RLX)) {
				atomic_store_explicit(&h->head, p_add(r, hd, sz), REL);
				*passed = true;
			}
			continue;
		}
		default:
			return corrupt(r, "record state", w);
		}
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
	struct ipk__ring_hdr *h = r->h;
	if (atomic_load_explicit(&h->rx_ever, ACQ) &&
	    atomic_load_explicit(&h->nrx, ACQ) == 0)
		return NULL; /* the general path reports the consumer gone */
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
	if ((rc = check_peers(r, false)) < 0)
		return rc;
	return r->mpmc ? mpmc_borrow(r, buf, len, deadline)
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
		int rc = mpmc_commit(r, len);
		if (rc < 0)
			return rc;
	} else {
		spsc_commit(r, len);
	}
	return (ssize_t)len;
}

int ipk__ring_abort(struct ipk__ring *r)
{
	if (!r->borrowed)
		return ipk__err(-EINVAL, "ring %s: nothing borrowed", r->name);
	r->borrowed = false;
	if (r->mpmc && registered_here(r)) {
		/* the space is reserved in line: consumers step over it */
		uint32_t me = (uint32_t)r->pid;
		uint64_t old = mkword(ST_BUSY, me, r->blen);
		atomic_compare_exchange_strong_explicit(
			rec_word(r, r->bpos), &old, mkword(ST_DONE, 0, 0), SC, RLX);
		notify_consumers(r);
	}
	return 0;
}

ssize_t ipk__ring_send(struct ipk__ring *r, const void *buf, size_t len,
                       int64_t deadline)
{
	unsigned char *p = spsc_fast_room(r, len);
	if (p != NULL) {
		copy_msg(p, buf, len);
		spsc_commit(r, len);
		return (ssize_t)len;
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

static int locate_wait(struct ipk__ring *r, int64_t deadline)
{
	if (r->have)
		return 1;
	int rc = ensure_registered(r);
	if (rc < 0)
		return rc;
	bool quick = deadline != IPK__NOW;
	for (;;) {
		rc = r->mpmc ? mpmc_locate(r) : spsc_locate(r);
		if (rc != 0)
			return rc;
		if (quick) {
			quick = false;
			if (quick_wait(r))
				continue;
		}
		if ((rc = check_peers(r, true)) < 0)
			return rc;
		if (deadline == IPK__NOW)
			return ipk__err(-EAGAIN, "ring %s is empty", r->name);
		if ((rc = wait_for(r, deadline)) < 0)
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
	uint64_t hd = r->head, idx = p_idx(hd);
	uint64_t w = atomic_load_explicit(rec_word(r, hd), ACQ);
	uint64_t len = w_len(w);
	if (w_state(w) != ST_COMMITTED || len > r->cap - idx - REC_HDR ||
	    len > r->maxmsg)
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
	_Atomic uint64_t *w = rec_word(r, r->head);
	for (int i = 0; i < QUICK_SPINS; i++) {
		if (atomic_load_explicit(w, RLX) != 0)
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
	int rc = locate_wait(r, deadline);
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
	if (r->mpmc) {
		atomic_store_explicit(rec_word(r, r->mpos), mkword(ST_DONE, 0, 0),
		                      REL);
		mpmc_advance_frontier(r, false);
	} else {
		spsc_set_head(r, p_add(r, r->mpos, r->mrec));
	}
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
			spsc_set_head(r, p_add(r, r->mpos, r->mrec));
			return (ssize_t)len;
		}
		/* the general path below reports or allocates */
	}
	if (r->lent)
		return ipk__err(-EBUSY, "ring %s: the peeked message is not "
		                        "released", r->name);
	int rc = locate_wait(r, deadline);
	if (rc <= 0) {
		if (r->bell_rx >= 0)
			ipk__ring_bell_settle(r);
		return rc;
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
	if (r->role == IPK__RING_CONSUMER && registered_here(r) && ready(r))
		return 1;
	return check_peers(r, false) < 0;
}

void ipk__ring_info(const struct ipk__ring *r, ipk_ringinfo *info)
{
	const struct ipk__ring_hdr *h = r->h;
	memset(info, 0, sizeof *info);
	info->capacity = r->cap;
	info->max_message = ipk__ring_max_message(r->cap, r->mpmc);
	info->mpmc = r->mpmc;
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	uint64_t hd = atomic_load_explicit(r->mpmc ? &h->rhead : &h->head, ACQ);
	uint64_t used = p_dist(r, t, hd);
	info->used = used <= r->cap ? used : 0;
	info->producers = (int)atomic_load_explicit(&h->ntx, ACQ);
	info->consumers = (int)atomic_load_explicit(&h->nrx, ACQ);
	const struct ipk__ring_slot *rx = side_slots(r, IPK__RING_CONSUMER);
	const struct ipk__ring_slot *tx = side_slots(r, IPK__RING_PRODUCER);
	for (uint32_t i = h->nslots; i-- > 0;) {
		uint32_t p = atomic_load_explicit(&rx[i].pid, ACQ);
		if (p)
			info->consumer_pid = (pid_t)p;
		p = atomic_load_explicit(&tx[i].pid, ACQ);
		if (p)
			info->producer_pid = (pid_t)p;
	}
}
