/*
 * Laying out a ring, and checking one that is already there: the identity
 * at attach, and a read-only description for the inventory. Nothing here
 * trusts the region: any bytes at all give an answer or -EPROTO.
 */
#define _GNU_SOURCE
#include "proc.h"
#include "ring_pos.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

_Static_assert(sizeof(struct ipk__ring_slot) == 64, "slot is one line");
_Static_assert(offsetof(struct ipk__ring_hdr, version) == 8 &&
               offsetof(struct ipk__ring_hdr, slots) == 768,
               "header layout");
_Static_assert(IPK__RING_MPMC_SLOTS <= 64, "armed consumers are one word");
_Static_assert(sizeof(struct ipk__ring_hdr) +
                   2 * IPK__RING_MPMC_SLOTS * sizeof(struct ipk__ring_slot) <=
                   12288,
               "the largest header fits a description's copy");

int ipk__ring_corrupt(const struct ipk__ring *r, const char *what, uint64_t v)
{
	return ipk__err(-EPROTO, "ring %s is corrupt: %s (%#llx)", r->name, what,
	                (unsigned long long)v);
}

size_t ipk__ring_hdr_size(uint32_t nslots)
{
	size_t n = sizeof(struct ipk__ring_hdr) +
	           2 * (size_t)nslots * sizeof(struct ipk__ring_slot);
	return (n + 4095) & ~(size_t)4095;
}

size_t ipk__ring_max_message(uint64_t cap, bool mpmc)
{
	(void)mpmc;
	/* a record header, and room for the terminator word after it */
	uint64_t over = 2 * REC_HDR;
	uint64_t m = cap > over ? cap - over : 0;
	return m > 0xffffffffu ? 0xffffffffu : (size_t)m;
}

int ipk__ring_format(void *mem, size_t size, bool mpmc, bool persist)
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
	pid_t me = getpid();
	h->creator = owner_word(me, ipk__proc_start(me));
	atomic_store_explicit(&h->persist, persist, RLX);
	uint64_t id;
	if (getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id)
		id = (uint64_t)ipk__now_ns() ^ ((uint64_t)me << 32);
	h->ring_id = id;
	unsigned char *data = (unsigned char *)mem + hs;
	atomic_store_explicit((_Atomic uint64_t *)(void *)data, 0, RLX);
	atomic_store_explicit(&h->magic, IPK__RING_MAGIC, REL);
	return 0;
}

/* The identity, checked; shared by attach and describe. */
struct identity {
	uint32_t version, flags, nslots;
	uint64_t hs, cap, ring_id;
	bool mpmc;
};

static int read_identity(const void *mem, size_t size, const char *what,
                         struct identity *id)
{
	const struct ipk__ring_hdr *h = mem;
	memset(id, 0, sizeof *id);
	if ((uintptr_t)mem % _Alignof(struct ipk__ring_hdr) != 0)
		return ipk__err(-EINVAL, "ring %s: the region is not aligned", what);
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
	/* copied once: a writer changing them later changes nothing here */
	id->version = *(const volatile uint32_t *)&h->version;
	if (id->version != IPK__RING_VERSION)
		return ipk__err(-EPROTO,
		                "ring %s has layout version %u, made by %s ipckit; "
		                "this library reads version %u: remove it (ipckit rm, "
		                "ipk_remove) and create it again", what, id->version,
		                id->version < IPK__RING_VERSION ? "an older"
		                                                : "a newer",
		                IPK__RING_VERSION);
	id->flags = *(const volatile uint32_t *)&h->flags;
	id->nslots = *(const volatile uint32_t *)&h->nslots;
	id->hs = *(const volatile uint64_t *)&h->hdr_size;
	id->cap = *(const volatile uint64_t *)&h->capacity;
	id->ring_id = *(const volatile uint64_t *)&h->ring_id;
	id->mpmc = id->flags & IPK__RING_MPMC;
	if ((id->flags & ~IPK__RING_MPMC) != 0 ||
	    id->nslots != (id->mpmc ? IPK__RING_MPMC_SLOTS : 1u))
		return ipk__err(-EPROTO, "ring %s has unknown flags %#x or %u slots",
		                what, id->flags, id->nslots);
	if (id->hs != ipk__ring_hdr_size(id->nslots) || id->cap < 256 ||
	    id->cap % CAP_ALIGN != 0 || id->cap > IDX_MASK || id->hs > size ||
	    id->cap > size - id->hs)
		return ipk__err(-EPROTO,
		                "ring %s claims a %llu-byte header and %llu bytes of "
		                "records, but the region has %zu bytes",
		                what, (unsigned long long)id->hs,
		                (unsigned long long)id->cap, size);
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
	struct identity id;
	int rc = read_identity(mem, size, what, &id);
	if (rc < 0)
		return rc;
	r->h = mem;
	r->data = (unsigned char *)mem + id.hs;
	r->cap = id.cap;
	r->nslots = id.nslots;
	r->ring_id = id.ring_id;
	r->mpmc = id.mpmc;
	return 0;
}

/* Does the header still say what it said when we attached? Sets no
   error: asked on the way out, when the caller's error must survive. */
bool ipk__ring_spoiled(const struct ipk__ring *r)
{
	const struct ipk__ring_hdr *h = r->h;
	if (h == NULL)
		return false;
	return atomic_load_explicit(&h->magic, ACQ) != IPK__RING_MAGIC ||
	       *(const volatile uint32_t *)&h->version != IPK__RING_VERSION ||
	       *(const volatile uint32_t *)&h->flags !=
	               (r->mpmc ? IPK__RING_MPMC : 0u) ||
	       *(const volatile uint32_t *)&h->nslots != r->nslots ||
	       *(const volatile uint64_t *)&h->hdr_size !=
	               ipk__ring_hdr_size(r->nslots) ||
	       *(const volatile uint64_t *)&h->capacity != r->cap ||
	       *(const volatile uint64_t *)&h->ring_id != r->ring_id;
}

/* ------------------------------------------------------------ describe */

static void proc_of(uint64_t w, struct ipk__ring_proc *p)
{
	p->pid = owner_pid(w);
	p->start = owner_start(w);
}

bool ipk__ring_proc_alive(const struct ipk__ring_proc *p)
{
	return ipk__ring_owner_alive(owner_word(p->pid, p->start));
}

/* The largest header of any ring: a description works on a copy of it. */
#define MAX_HDR ((size_t)12288)

int ipk__ring_describe(const void *mem, size_t size,
                       struct ipk__ring_desc *d, const char *what)
{
	memset(d, 0, sizeof *d);
	/* a private snapshot: aligned whatever mem is, and unchanged by a
	   writer while it is read (a torn one is only checked and refused) */
	static _Thread_local _Alignas(128) unsigned char snap[MAX_HDR];
	size_t n = size < MAX_HDR ? size : MAX_HDR;
	memcpy(snap, mem, n);
	memset(snap + n, 0, MAX_HDR - n);
	mem = snap;
	struct identity id;
	int rc = read_identity(mem, size, what, &id);
	d->version = id.version;
	if (rc < 0)
		return rc;
	if (id.hs > MAX_HDR)
		return ipk__err(-EPROTO, "ring %s: a %llu-byte header", what,
		                (unsigned long long)id.hs);
	/* the same bounds the traffic code uses, on a handle that is never
	   registered and never writes */
	struct ipk__ring r = {.name = what,
	                      .h = (struct ipk__ring_hdr *)mem,
	                      .data = (unsigned char *)mem + id.hs,
	                      .cap = id.cap,
	                      .nslots = id.nslots,
	                      .mpmc = id.mpmc,
	                      .slot = -1};
	const struct ipk__ring_hdr *h = mem;
	d->mpmc = id.mpmc;
	d->capacity = id.cap;
	d->persist = atomic_load_explicit(&h->persist, RLX) != 0;
	d->closed = atomic_load_explicit(&h->closed, RLX) != 0;
	proc_of(*(const volatile uint64_t *)&h->creator, &d->creator);
	uint64_t t = atomic_load_explicit(&h->tail, ACQ);
	uint64_t f = atomic_load_explicit(id.mpmc ? &h->rhead : &h->head, ACQ);
	if (pos_ok(&r, t) && pos_ok(&r, f) && p_dist(&r, t, f) <= id.cap)
		d->used = p_dist(&r, t, f);
	for (uint32_t i = 0; i < id.nslots; i++) {
		uint64_t w = atomic_load_explicit(&side_slots(&r, IPK__RING_CONSUMER)[i].owner,
		                                  RLX);
		if (w != 0)
			proc_of(w, &d->consumers[d->nconsumers++]);
		w = atomic_load_explicit(&side_slots(&r, IPK__RING_PRODUCER)[i].owner,
		                         RLX);
		if (w != 0)
			proc_of(w, &d->producers[d->nproducers++]);
	}
	return 0;
}
