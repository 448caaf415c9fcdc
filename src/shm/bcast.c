/*
 * The broadcast ring: format and validation, who is attached (publisher
 * word, subscriber slots, liveness by pid and start time), and what a
 * subscriber or an observer reads of the publisher's state. See bcast.h.
 */
#define _GNU_SOURCE
#include "bcast.h"
#include "proc.h"
#include "ring_sync.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

_Static_assert(sizeof(struct ipk__bcast_slot) == 64, "slot is one line");
_Static_assert(sizeof(struct ipk__bcast_hdr) == 768, "header layout");

#define REC_HDR ((uint64_t)IPK__BCAST_REC_HDR)
#define MIN_CAP 256
#define CAP_ALIGN 64
#define MAX_HISTORY 0x7fffffffu

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define SC memory_order_seq_cst

int ipk__bcast_corrupt(const struct ipk__bcast *b, const char *what,
                       uint64_t v)
{
	return ipk__err(-EPROTO, "broadcast ring %s is corrupt: %s (%#llx)",
	                b->name, what, (unsigned long long)v);
}

/* ------------------------------------------------------ format, attach */

size_t ipk__bcast_hdr_size(uint32_t nslots)
{
	size_t n = sizeof(struct ipk__bcast_hdr) +
	           (size_t)nslots * sizeof(struct ipk__bcast_slot);
	return (n + 4095) & ~(size_t)4095;
}

size_t ipk__bcast_max_message(uint64_t cap)
{
	if (cap < 64)
		return 0;
	uint64_t rec = ((cap - 16) / 2) & ~(uint64_t)15;
	uint64_t m = rec > REC_HDR ? rec - REC_HDR : 0;
	return m > 0xffffffffu ? 0xffffffffu : (size_t)m;
}

bool ipk__bcast_is(const void *mem, size_t size)
{
	const struct ipk__bcast_hdr *h = mem;
	return size >= sizeof *h &&
	       atomic_load_explicit(&h->magic, ACQ) == IPK__BCAST_MAGIC;
}

int ipk__bcast_format(void *mem, size_t size, const struct ipk__bcast_fmt *f)
{
	uint32_t nslots = f->nslots ? f->nslots : IPK__BCAST_DEFAULT_SLOTS;
	if (nslots > IPK__BCAST_MAX_SLOTS)
		return ipk__err(-EINVAL, "a broadcast ring has at most %d subscriber "
		                         "slots, not %u", IPK__BCAST_MAX_SLOTS, nslots);
	size_t hs = ipk__bcast_hdr_size(nslots);
	if (size < hs + 1024)
		return ipk__err(-EINVAL,
		                "a broadcast ring with %u subscriber slots needs a "
		                "region of at least %zu bytes, not %zu (raise ?size=)",
		                nslots, hs + 1024, size);
	if (f->history > MAX_HISTORY)
		return ipk__err(-EINVAL, "history=%u is too large", f->history);
	struct ipk__bcast_hdr *h = mem;
	memset(h, 0, hs);
	h->version = IPK__BCAST_VERSION;
	h->flags = (f->block ? IPK__BCAST_F_BLOCK : 0) |
	           (f->persist ? IPK__BCAST_F_PERSIST : 0);
	h->hdr_size = hs;
	h->capacity = (size - hs) & ~(uint64_t)(CAP_ALIGN - 1);
	h->region_size = size;
	h->nslots = nslots;
	h->history = f->history;
	uint64_t r[2];
	if (getrandom(r, sizeof r, GRND_NONBLOCK) != sizeof r) {
		r[0] = (uint64_t)ipk__now_ns() ^ ((uint64_t)getpid() << 32);
		r[1] = r[0] * 0x9e3779b97f4a7c15ull;
	}
	h->ring_id = r[0];
	h->key = r[1] | 3u;
	/* message 0 goes at position 0 */
	struct ipk__bcast tmp = {.key = h->key};
	unsigned char *data = (unsigned char *)mem + hs;
	atomic_store_explicit((_Atomic uint64_t *)(void *)data,
	                      ipk__bc_stamp(&tmp, 0, IPK__BC_PENDING), RLX);
	atomic_store_explicit(&h->magic, IPK__BCAST_MAGIC, REL);
	return 0;
}

int ipk__bcast_attach(struct ipk__bcast *b, void *mem, size_t size,
                      enum ipk__bcast_role role, const char *what)
{
	memset(b, 0, sizeof *b);
	b->name = what;
	b->slot = -1;
	b->bell_rx = b->bell_tx = -1;
	b->role = role;
	b->wait = IPK__WAIT_HYBRID;
	b->spin_ns = 50000;
	b->maxmsg = IPK_DEFAULT_MAXMSG;
	struct ipk__bcast_hdr *h = mem;
	if (size < sizeof *h)
		return ipk__err(-EPROTO, "region %s is %zu bytes: too small to be "
		                         "an ipckit broadcast ring", what, size);
	uint64_t magic = atomic_load_explicit(&h->magic, ACQ);
	if (magic == 0)
		return ipk__err(-EAGAIN, "region %s holds no broadcast ring (yet)",
		                what);
	if (magic != IPK__BCAST_MAGIC)
		return ipk__err(-EPROTO,
		                "region %s is not an ipckit broadcast ring (magic "
		                "%#llx)", what, (unsigned long long)magic);
	if (h->version != IPK__BCAST_VERSION)
		return ipk__err(-EPROTO,
		                "broadcast ring %s has layout version %u; this "
		                "library reads version %u",
		                what, h->version, IPK__BCAST_VERSION);
	uint32_t nslots = h->nslots;
	if ((h->flags & ~IPK__BCAST_FLAGS) != 0 || nslots == 0 ||
	    nslots > IPK__BCAST_MAX_SLOTS)
		return ipk__err(-EPROTO, "broadcast ring %s has unknown flags %#x "
		                         "or %u slots", what, h->flags, nslots);
	uint64_t hs = h->hdr_size, cap = h->capacity;
	if (hs != ipk__bcast_hdr_size(nslots) || cap < MIN_CAP ||
	    cap % CAP_ALIGN != 0 || hs > size || cap > size - hs)
		return ipk__err(-EPROTO,
		                "broadcast ring %s claims a %llu-byte header and "
		                "%llu bytes of records, but the region has %zu bytes",
		                what, (unsigned long long)hs, (unsigned long long)cap,
		                size);
	if ((h->key & 3u) != 3u || h->history > MAX_HISTORY)
		return ipk__err(-EPROTO, "broadcast ring %s has a bad key or "
		                         "history (%u)", what, h->history);
	b->h = h;
	b->data = (unsigned char *)mem + hs;
	b->cap = cap;
	b->lenmax = ipk__bcast_max_message(cap);
	b->key = h->key;
	b->nslots = nslots;
	b->history = h->history;
	b->block = h->flags & IPK__BCAST_F_BLOCK;
	return 0;
}

bool ipk__bcast_spoiled(const struct ipk__bcast *b)
{
	const struct ipk__bcast_hdr *h = b->h;
	if (h == NULL)
		return false;
	return atomic_load_explicit(&h->magic, ACQ) != IPK__BCAST_MAGIC ||
	       *(const volatile uint32_t *)&h->version != IPK__BCAST_VERSION ||
	       (*(const volatile uint32_t *)&h->flags & ~IPK__BCAST_FLAGS) != 0 ||
	       *(const volatile uint32_t *)&h->nslots != b->nslots ||
	       *(const volatile uint64_t *)&h->hdr_size !=
	               ipk__bcast_hdr_size(b->nslots) ||
	       *(const volatile uint64_t *)&h->capacity != b->cap ||
	       *(const volatile uint64_t *)&h->key != b->key;
}

void ipk__bcast_keep(struct ipk__bcast *b)
{
	atomic_fetch_or_explicit(&b->h->flags, IPK__BCAST_F_PERSIST, RLX);
}

/* ---------------------------------------------------------- liveness */

static uint64_t owner_word(pid_t pid, uint64_t start)
{
	return ((uint64_t)(uint32_t)start << 32) | ((uint32_t)pid & 0x7fffffffu);
}

static pid_t owner_pid(uint64_t w)
{
	return (pid_t)(w & 0x7fffffffu);
}

bool ipk__bcast_owner_alive(uint64_t w)
{
	pid_t pid = owner_pid(w);
	if (pid <= 0)
		return false;
	uint32_t start = (uint32_t)(w >> 32);
	if (start == 0)
		return ipk__proc_alive(pid, 0);
	uint64_t now = ipk__proc_start(pid);
	return now != 0 && (uint32_t)now == start;
}

static uint64_t my_owner_word(void)
{
	pid_t pid = getpid();
	return owner_word(pid, ipk__proc_start(pid));
}

bool ipk__bcast_registered_here(const struct ipk__bcast *b)
{
	bool held = b->role == IPK__BCAST_PUB ? b->registered : b->slot >= 0;
	return held &&
	       b->reg_gen == atomic_load_explicit(&ipk__fork_generation, RLX);
}

static void wake_publisher(struct ipk__bcast_hdr *h)
{
	atomic_fetch_add_explicit(&h->space_seq, 1, SC);
	ipk__futex_wake(&h->space_seq, 1);
}

/* Clear slot i's bits in the masks; true if it was blocking. */
static bool clear_bits(struct ipk__bcast_hdr *h, uint32_t i)
{
	uint64_t bit = UINT64_C(1) << (i % 64);
	unsigned w = i / 64;
	atomic_fetch_and_explicit(&h->waiting[w], ~bit, SC);
	atomic_fetch_and_explicit(&h->armed[w], ~bit, SC);
	return atomic_fetch_and_explicit(&h->blocking[w], ~bit, SC) & bit;
}

bool ipk__bcast_reclaim(struct ipk__bcast *b, uint32_t i, uint64_t owner)
{
	struct ipk__bcast_hdr *h = b->h;
	struct ipk__bcast_slot *s = &h->slots[i];
	if (owner == 0)
		return false;
	if (!(owner & IPK__BC_RECLAIM)) {
		if (ipk__bcast_owner_alive(owner))
			return false;
		/* mark it first: the bits are cleared before the slot is free,
		   so they never hit a newcomer; a reclaimer that dies here leaves
		   the mark, and the next one finishes */
		uint64_t marked = owner | IPK__BC_RECLAIM;
		if (!atomic_compare_exchange_strong_explicit(&s->owner, &owner,
		                                             marked, SC, RLX))
			return false;
		owner = marked;
	}
	if (clear_bits(h, i)) {
		atomic_fetch_add_explicit(&h->block_gen, 1, SC);
		wake_publisher(h);
	}
	atomic_store_explicit(&s->bell, 0, RLX);
	return atomic_compare_exchange_strong_explicit(&s->owner, &owner, 0, SC,
	                                               RLX);
}

bool ipk__bcast_others_alive(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	bool alive = false;
	uint64_t pub = atomic_load_explicit(&h->pub, ACQ);
	if (pub != 0 && !(b->role == IPK__BCAST_PUB && b->registered &&
	                  pub == b->me)) {
		if (ipk__bcast_owner_alive(pub))
			alive = true;
		else
			atomic_compare_exchange_strong_explicit(&h->pub, &pub, 0, SC,
			                                        RLX);
	}
	for (uint32_t i = 0; i < b->nslots; i++) {
		if ((int)i == b->slot && b->role == IPK__BCAST_SUB)
			continue;
		uint64_t o = atomic_load_explicit(&h->slots[i].owner, ACQ);
		if (o == 0)
			continue;
		if (!(o & IPK__BC_RECLAIM) && ipk__bcast_owner_alive(o))
			alive = true;
		else
			ipk__bcast_reclaim(b, i, o);
	}
	return alive;
}

/* ------------------------------------------- reading the positions */

/* Position and offset of an absolute position read from the region. */
static int check_pos(const struct ipk__bcast *b, const char *what,
                     uint64_t pos)
{
	if (pos % 16 != 0)
		return ipk__bcast_corrupt(b, what, pos);
	return 0;
}

int ipk__bcast_head_snapshot(struct ipk__bcast *b, uint64_t *pos,
                             uint64_t *seq)
{
	struct ipk__bcast_hdr *h = b->h;
	uint64_t hd = atomic_load_explicit(&h->head, ACQ);
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	int rc = check_pos(b, "oldest record position", hd);
	if (rc < 0)
		return rc;
	if (hd > t || t - hd > b->cap)
		return 1; /* moved between the two reads, or corrupt: the caller
		             retries and gives up after a while */
	uint64_t w = atomic_load_explicit(ipk__bc_word0(b, hd % b->cap), ACQ);
	atomic_thread_fence(ACQ);
	if (atomic_load_explicit(&h->head, RLX) != hd)
		return 1;
	/* the record at head is only given up after head has moved on */
	if (ipk__bc_type(b, w) == IPK__BC_BAD)
		return ipk__bcast_corrupt(b, "stamp of the oldest record", w);
	*pos = hd;
	*seq = ipk__bc_seq(b, w);
	return 0;
}

/* Where the next message goes and its number, as a subscriber can read it:
   0, 1 to retry, < 0 corrupt. */
int ipk__bcast_tail_snapshot(struct ipk__bcast *b, uint64_t *pos,
                             uint64_t *seq)
{
	struct ipk__bcast_hdr *h = b->h;
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	int rc = check_pos(b, "publisher position", t);
	if (rc < 0)
		return rc;
	uint64_t w = atomic_load_explicit(ipk__bc_word0(b, t % b->cap), ACQ);
	atomic_thread_fence(ACQ);
	uint64_t hd = atomic_load_explicit(&h->head, RLX);
	if (hd > t)
		return 1; /* given up while we looked: far behind already */
	/* PENDING(s) until message s is committed, then MSG(s) or SKIP(s) */
	if (ipk__bc_type(b, w) == IPK__BC_BAD)
		return ipk__bcast_corrupt(b, "stamp at the publisher position", w);
	*pos = t;
	*seq = ipk__bc_seq(b, w);
	return 0;
}

/*
 * Walk from (q, sq) to the record of message target. 0 done (*out), 1
 * overtaken meanwhile (retry), < 0 corrupt.
 */
static int seek(struct ipk__bcast *b, uint64_t q, uint64_t sq, uint64_t target,
                uint64_t *out)
{
	uint64_t qi = q % b->cap;
	for (uint64_t steps = 0; sq < target; steps++) {
		if (steps > b->cap / REC_HDR + 2)
			return ipk__bcast_corrupt(b, "record chain", q);
		uint64_t w = atomic_load_explicit(ipk__bc_word0(b, qi), ACQ);
		uint64_t w1 = atomic_load_explicit(ipk__bc_word1(b, qi), RLX);
		uint64_t room = b->cap - qi, size;
		if (w == ipk__bc_stamp(b, sq, IPK__BC_MSG) &&
		    (uint32_t)w1 <= room - REC_HDR) {
			size = ipk__bc_rec((uint32_t)w1);
			sq++;
		} else if (w == ipk__bc_stamp(b, sq, IPK__BC_SKIP) && qi != 0) {
			size = room;
		} else {
			atomic_thread_fence(ACQ);
			if (atomic_load_explicit(&b->h->head, RLX) > q)
				return 1;
			return ipk__bcast_corrupt(b, "record stamp", w);
		}
		atomic_thread_fence(ACQ);
		if (atomic_load_explicit(&b->h->head, RLX) > q)
			return 1; /* what we read may have been torn */
		q += size;
		qi += size;
		if (qi == b->cap)
			qi = 0;
	}
	*out = q;
	return 0;
}

/* Choose where a new subscriber starts: the next message, or with history
   the last `history` messages the ring still holds. */
static int join(struct ipk__bcast *b)
{
	int rc = 1;
	for (int tries = 0; tries < 1000; tries++) {
		uint64_t t, s;
		if ((rc = ipk__bcast_tail_snapshot(b, &t, &s)) < 0)
			return rc;
		if (rc == 1)
			continue;
		uint64_t p = t, e = s;
		if (b->history > 0 && s > 0) {
			uint64_t target = s > b->history ? s - b->history : 0;
			uint64_t hd, hs;
			if ((rc = ipk__bcast_head_snapshot(b, &hd, &hs)) < 0)
				return rc;
			if (rc == 1)
				continue;
			if (hs > s || s - hs > b->cap)
				continue; /* moved meanwhile */
			if (target <= hs) {
				p = hd;
				e = hs;
			} else {
				if ((rc = seek(b, hd, hs, target, &p)) < 0)
					return rc;
				if (rc == 1)
					continue;
				e = target;
			}
		}
		b->p = p;
		b->pidx = p % b->cap;
		b->e = e;
		b->missed = 0;
		b->joined = true;
		return 0;
	}
	return ipk__err(-EAGAIN, "broadcast ring %s: the publisher moves too "
	                         "fast to find a starting point", b->name);
}

/* ------------------------------------------------------ registration */

static int take_slot(struct ipk__bcast *b, uint64_t me)
{
	struct ipk__bcast_hdr *h = b->h;
	for (uint32_t i = 0; i < b->nslots; i++) {
		uint64_t z = 0;
		if (atomic_compare_exchange_strong_explicit(&h->slots[i].owner, &z, me,
		                                            SC, RLX))
			return (int)i;
	}
	/* full: free the places of processes that died */
	for (uint32_t i = 0; i < b->nslots; i++) {
		uint64_t o = atomic_load_explicit(&h->slots[i].owner, ACQ);
		uint64_t z = 0;
		if (ipk__bcast_reclaim(b, i, o) &&
		    atomic_compare_exchange_strong_explicit(&h->slots[i].owner, &z, me,
		                                            SC, RLX))
			return (int)i;
	}
	return ipk__err(-EUSERS, "broadcast ring %s: all %u subscriber slots are "
	                         "held by live processes (create it with "
	                         "?subs= for more)", b->name, b->nslots);
}

int ipk__bcast_sub_register(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	ipk__fork_watch();
	uint64_t gen = atomic_load_explicit(&ipk__fork_generation, RLX);
	uint64_t me = my_owner_word();
	b->slot = -1;
	int i = take_slot(b, me);
	if (i < 0)
		return i;
	struct ipk__bcast_slot *s = &h->slots[i];
	clear_bits(h, (uint32_t)i);
	atomic_store_explicit(&s->bell, 0, RLX);
	b->slot = i;
	b->me = me;
	b->reg_gen = gen;
	b->bell_nonce = 0;
	b->have = b->lent = false;
	int rc;
	if (!b->joined && (rc = join(b)) < 0)
		goto fail;
	if (b->block) {
		/* Publish our place before the publisher can give it up: it
		   stores head and then reads block_gen; we bump block_gen and
		   then read head. One of us sees the other. */
		uint64_t bit = UINT64_C(1) << (i % 64);
		for (int tries = 0;; tries++) {
			atomic_store_explicit(&s->pos, b->p, SC);
			atomic_fetch_or_explicit(&h->blocking[i / 64], bit, SC);
			atomic_fetch_add_explicit(&h->block_gen, 1, SC);
			uint64_t hd = atomic_load_explicit(&h->head, SC);
			if (hd <= b->p)
				break;
			if (b->inherited || tries > 100)
				break; /* a child keeps its parent's place: it is told what
				          it lost */
			b->joined = false;
			if ((rc = join(b)) < 0)
				goto fail;
		}
	}
	b->inherited = false;
	return 0;
fail:
	clear_bits(h, (uint32_t)i);
	atomic_compare_exchange_strong_explicit(&s->owner, &me, 0, SC, RLX);
	b->slot = -1;
	return rc;
}

/* A publisher taking over: finish what a dead one left half done, and find
   where the next message goes. */
static int pub_recover(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	uint64_t cap = b->cap;
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	uint64_t hd = atomic_load_explicit(&h->head, ACQ);
	uint64_t z = atomic_load_explicit(&h->zeroed, ACQ);
	int rc;
	if ((rc = check_pos(b, "publisher position", t)) < 0 ||
	    (rc = check_pos(b, "oldest record position", hd)) < 0 ||
	    (rc = check_pos(b, "zeroed position", z)) < 0)
		return rc;
	if (hd > t || t - hd > cap)
		return ipk__bcast_corrupt(b, "oldest record position", hd);
	if (z > hd || hd - z > cap)
		return ipk__bcast_corrupt(b, "zeroed position", z);
	/* a publisher that died while giving records up zeroes no more */
	uint64_t q = z, qi = z % cap;
	while (q < hd) {
		uint64_t w1 = atomic_load_explicit(ipk__bc_word1(b, qi), RLX);
		uint64_t room = cap - qi;
		uint64_t size = (w1 >> 32) & IPK__BC_W1_SKIP ? (qi ? room : 0)
		                : (uint32_t)w1 <= room - REC_HDR ? ipk__bc_rec((uint32_t)w1)
		                                                 : 0;
		if (size == 0 || q + size > hd)
			return ipk__bcast_corrupt(b, "record length", w1);
		atomic_store_explicit(ipk__bc_word0(b, qi), 0, REL);
		q += size;
		qi += size;
		if (qi == cap)
			qi = 0;
	}
	atomic_store_explicit(&h->zeroed, hd, REL);
	/* messages it committed without counting them */
	uint64_t ti = t % cap, s = 0;
	for (uint64_t steps = 0;; steps++) {
		if (steps > cap / REC_HDR + 2 || t - hd > cap)
			return ipk__bcast_corrupt(b, "record chain at the publisher "
			                             "position", t);
		uint64_t w = atomic_load_explicit(ipk__bc_word0(b, ti), ACQ);
		uint64_t w1 = atomic_load_explicit(ipk__bc_word1(b, ti), RLX);
		unsigned type = ipk__bc_type(b, w);
		uint64_t room = cap - ti;
		s = ipk__bc_seq(b, w);
		if (type == IPK__BC_PENDING)
			break;
		uint64_t size;
		if (type == IPK__BC_MSG && (uint32_t)w1 <= room - REC_HDR)
			size = ipk__bc_rec((uint32_t)w1);
		else if (type == IPK__BC_SKIP && ti != 0)
			size = room;
		else
			return ipk__bcast_corrupt(b, "stamp at the publisher position", w);
		t += size;
		ti += size;
		if (ti == cap)
			ti = 0;
	}
	if (t - hd > cap - REC_HDR)
		return ipk__bcast_corrupt(b, "publisher position", t);
	atomic_store_explicit(&h->tail, t, REL);
	b->tail = t;
	b->tidx = ti;
	b->head = hd;
	b->hidx = hd % cap;
	b->seq = s;
	b->block_gen = UINT64_MAX; /* rescan before the first message */
	return 0;
}

int ipk__bcast_pub_register(struct ipk__bcast *b)
{
	struct ipk__bcast_hdr *h = b->h;
	ipk__fork_watch();
	uint64_t gen = atomic_load_explicit(&ipk__fork_generation, RLX);
	uint64_t me = my_owner_word();
	b->registered = false;
	for (int tries = 0;; tries++) {
		uint64_t cur = 0;
		if (atomic_compare_exchange_strong_explicit(&h->pub, &cur, me, SC, RLX))
			break;
		if (ipk__bcast_owner_alive(cur))
			return ipk__err(-EBUSY,
			                "broadcast ring %s already has a live publisher "
			                "(pid %d); it takes one at a time",
			                b->name, (int)owner_pid(cur));
		/* a dead publisher's place: take it over */
		if (atomic_compare_exchange_strong_explicit(&h->pub, &cur, me, SC, RLX))
			break;
		if (tries > 100)
			return ipk__err(-EAGAIN, "broadcast ring %s: the publisher's "
			                         "place keeps changing hands", b->name);
	}
	/* a dead predecessor may have left itself marked asleep */
	atomic_store_explicit(&h->tx_waiting, 0, SC);
	int rc = pub_recover(b);
	if (rc < 0) {
		atomic_compare_exchange_strong_explicit(&h->pub, &me, 0, SC, RLX);
		return rc;
	}
	b->me = me;
	b->registered = true;
	b->reg_gen = gen;
	b->borrowed = false;
	return 0;
}

int ipk__bcast_ensure(struct ipk__bcast *b)
{
	if (ipk__bcast_registered_here(b))
		return 0;
	if (b->role == IPK__BCAST_PUB)
		return ipk__bcast_pub_register(b);
	/* a child keeps its parent's place in the stream */
	b->inherited = b->joined;
	return ipk__bcast_sub_register(b);
}

void ipk__bcast_detach(struct ipk__bcast *b)
{
	if (b->h == NULL || !ipk__bcast_registered_here(b))
		return;
	struct ipk__bcast_hdr *h = b->h;
	uint64_t me = b->me;
	if (b->role == IPK__BCAST_PUB) {
		b->borrowed = false;
		atomic_compare_exchange_strong_explicit(&h->pub, &me, 0, SC, RLX);
		b->registered = false;
		return;
	}
	uint32_t i = (uint32_t)b->slot;
	if (clear_bits(h, i)) {
		atomic_fetch_add_explicit(&h->block_gen, 1, SC);
		wake_publisher(h);
	}
	atomic_store_explicit(&h->slots[i].bell, 0, RLX);
	atomic_compare_exchange_strong_explicit(&h->slots[i].owner, &me, 0, SC,
	                                        RLX);
	b->slot = -1;
	b->have = b->lent = false;
}

/* -------------------------------------------------------------- info */

int ipk__bcast_info_get(struct ipk__bcast *b, ipk__bcast_info *info)
{
	struct ipk__bcast_hdr *h = b->h;
	memset(info, 0, sizeof *info);
	info->capacity = b->cap;
	info->max_message = ipk__bcast_max_message(b->cap);
	info->nslots = (int)b->nslots;
	uint64_t pub = atomic_load_explicit(&h->pub, ACQ);
	info->publisher = owner_pid(pub);
	info->publisher_alive = pub != 0 && ipk__bcast_owner_alive(pub);
	for (uint32_t i = 0; i < b->nslots; i++)
		info->subscribers += atomic_load_explicit(&h->slots[i].owner, RLX) != 0;
	int rc = 1;
	uint64_t pos;
	for (int tries = 0; tries < 1000 && rc == 1; tries++)
		rc = ipk__bcast_tail_snapshot(b, &pos, &info->published);
	if (rc != 0)
		return rc < 0 ? rc : ipk__err(-EAGAIN, "broadcast ring %s: busy",
		                              b->name);
	rc = 1;
	for (int tries = 0; tries < 1000 && rc == 1; tries++)
		rc = ipk__bcast_head_snapshot(b, &pos, &info->oldest);
	if (rc != 0)
		return rc < 0 ? rc : ipk__err(-EAGAIN, "broadcast ring %s: busy",
		                              b->name);
	return 0;
}
