/*
 * The message ring that lives inside a shared region.
 *
 * Layout: a header (identity, then producer, consumer and wake state each on
 * its own 128-byte block, then one slot per attached process), then
 * `capacity` bytes of records. A record is a 16-byte header (an atomic word:
 * state, owner pid, length; and a second word: the record size in MPMC) and
 * the payload, padded to 16. Records never wrap: when the next one does not
 * fit before the end, a SKIP record fills the rest and the message starts at
 * offset 0, so every payload is contiguous (zero-copy needs that).
 *
 * Positions are 64-bit: the lap in the top 24 bits, the offset in the low 40,
 * so any capacity works without a division.
 *
 * SPSC: the word at the producer's position is always 0 (a terminator). The
 * producer writes the payload, then a 0 at the end of its record, then
 * publishes the record's header word; the consumer spins on the header word
 * at its own position, so a message costs the consumer one cache-line
 * transfer and neither side touches the other's position on the fast path.
 *
 * MPMC: producers reserve under a tiny lock (the header written BUSY with the
 * owner's pid, then the tail moved), write the payload outside it, and
 * commit (BUSY -> COMMITTED). Consumers claim the record at the head under
 * the consumer lock (COMMITTED -> CLAIMED), read it outside, and release it
 * (-> DONE); space comes back when the release frontier passes it. Locks hold
 * their owner's pid, so a dead owner's lock is taken over; a BUSY record
 * whose owner died is marked DONE and skipped; a CLAIMED one whose consumer
 * died is freed. Every field read from the region is bounds-checked before
 * use: a corrupt ring gives -EPROTO, never a wild access.
 */
#ifndef IPK_SHM_RING_H
#define IPK_SHM_RING_H

#include "../core/internal.h"

#include <stdatomic.h>

#define IPK__RING_MAGIC 0x31474e49524b5049ull /* "IPKRING1" */
#define IPK__RING_VERSION 1
#define IPK__RING_REC_HDR 16
#define IPK__RING_MPMC_SLOTS 64
#define IPK__RING_MPMC 0x1u /* header flag */

/* One attached process (64 bytes). */
struct ipk__ring_slot {
	_Atomic uint32_t pid;   /* 0: free */
	_Atomic uint32_t armed; /* consumer: ring my doorbell on the next message */
	_Atomic uint64_t start; /* /proc start time, to tell a recycled pid */
	_Atomic uint32_t bell;  /* consumer: doorbell name suffix, 0 none */
	uint32_t pad0;
	uint64_t pad[5];
};

struct ipk__ring_hdr {
	/* identity: written once by the creator, magic last */
	_Atomic uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint64_t hdr_size; /* offset of the first record */
	uint64_t capacity;
	uint64_t region_size;
	uint64_t ring_id; /* random: names the doorbells */
	uint32_t nslots;
	uint32_t pad0;
	uint64_t pad1[9];

	/* producer side */
	_Alignas(128) _Atomic uint64_t tail;
	_Atomic uint32_t prod_lock; /* MPMC: owner pid | waiters bit */
	uint32_t pad2;
	uint64_t pad3[14];

	/* consumer side */
	_Alignas(128) _Atomic uint64_t head;
	_Atomic uint64_t rhead;     /* MPMC: everything before is released */
	_Atomic uint32_t cons_lock; /* MPMC */
	uint32_t pad4;
	uint64_t pad5[13];

	/* waking consumers: read by producers after each message */
	_Alignas(128) _Atomic uint32_t data_seq; /* futex */
	_Atomic uint32_t rx_waiting;             /* consumers asleep on it */
	_Atomic uint32_t rx_armed;               /* consumers wanting a doorbell */
	uint32_t pad6;
	uint64_t pad7[14];

	/* waking producers: read by consumers after each release */
	_Alignas(128) _Atomic uint32_t space_seq;
	_Atomic uint32_t tx_waiting;
	uint64_t pad8[15];

	/* who is attached */
	_Alignas(128) _Atomic uint32_t ntx; /* registered producers */
	_Atomic uint32_t nrx;
	_Atomic uint32_t tx_ever; /* a producer has attached at some point */
	_Atomic uint32_t rx_ever;
	uint64_t pad9[14];

	/* then nslots consumer slots, then nslots producer slots */
	struct ipk__ring_slot slots[];
};

enum ipk__ring_role { IPK__RING_CONSUMER = 1, IPK__RING_PRODUCER = 2 };
enum ipk__ring_wait { IPK__WAIT_HYBRID, IPK__WAIT_SPIN, IPK__WAIT_BLOCK };

/* One process's handle on one ring, in one role. */
struct ipk__ring {
	const char *name; /* for messages */
	struct ipk__ring_hdr *h;
	unsigned char *data;
	uint64_t cap;
	bool mpmc;
	enum ipk__ring_role role;
	enum ipk__ring_wait wait;
	int64_t spin_ns;
	size_t maxmsg; /* consumer: refuse longer messages */

	/* registration (redone in a child after fork) */
	int slot;          /* -1: not registered */
	uint64_t reg_gen;  /* fork generation it was made in */
	pid_t pid;
	uint64_t start;
	int64_t next_check; /* when to look at peers' liveness again */
	int peer_life_fd;   /* pair: read end of a pipe only the peer end
	                       writes to; POLLHUP once every copy of that end
	                       is closed (the kernel counts across fork) */

	/* producer */
	uint64_t tail;       /* SPSC: our position */
	uint64_t head_cache; /* SPSC: last head seen */
	bool borrowed;
	uint64_t bpos;       /* record of the borrow */
	size_t blen;         /* bytes borrowed */
	uint64_t want_space; /* bytes a waiting producer needs */
	int64_t next_repair; /* MPMC: next look for dead consumers' claims */
	int bell_tx;         /* socket to ring doorbells, -1 */

	/* consumer */
	uint64_t head;       /* SPSC: our position */
	bool have;           /* a message is located (peeked or held back) */
	bool lent;           /* ...and its address was handed out */
	uint64_t mpos;       /* its record */
	uint64_t mrec;       /* record size */
	size_t mlen;         /* payload length */
	pid_t mpid;          /* its producer, where known */
	int bell_rx;         /* doorbell socket once pollable, -1 */
	uint32_t bell_nonce; /* its name, as published in our slot */
	uint64_t busy_pos;   /* MPMC: record we saw BUSY, and since when */
	int64_t busy_since;
};

/* Bytes of ring header for a ring with nslots slots per side. */
size_t ipk__ring_hdr_size(uint32_t nslots);
/* Largest payload a ring of that capacity can ever hold. */
size_t ipk__ring_max_message(uint64_t cap, bool mpmc);

/* Lay a new ring over zeroed memory [mem, mem + size). */
int ipk__ring_format(void *mem, size_t size, bool mpmc);

/*
 * Check that [mem, mem + size) holds a ring (-EPROTO with a message naming
 * what is wrong, -EAGAIN if it is not initialised yet) and fill r.
 */
int ipk__ring_attach(struct ipk__ring *r, void *mem, size_t size,
                     enum ipk__ring_role role, const char *what);

/* Claim a slot for this process. -EBUSY/-EUSERS if none, -EADDRINUSE for a
   second live SPSC consumer. */
int ipk__ring_register(struct ipk__ring *r, const char *what);
/* Register again if this process has not (a child after fork). */
int ipk__ring_ensure(struct ipk__ring *r);
/* Does a live process hold a slot on that side? Frees dead ones' slots. */
bool ipk__ring_side_alive(struct ipk__ring *r, enum ipk__ring_role side);
/* Let go of the slot (only in the process that registered); wakes peers. */
void ipk__ring_detach(struct ipk__ring *r);

ssize_t ipk__ring_borrow(struct ipk__ring *r, void **buf, size_t len,
                         int64_t deadline);
ssize_t ipk__ring_commit(struct ipk__ring *r, size_t len);
int ipk__ring_abort(struct ipk__ring *r);
ssize_t ipk__ring_send(struct ipk__ring *r, const void *buf, size_t len,
                       int64_t deadline);

ssize_t ipk__ring_peek(struct ipk__ring *r, const void **buf,
                       int64_t deadline);
int ipk__ring_release(struct ipk__ring *r);
ssize_t ipk__ring_recv(struct ipk__ring *r, ipk__rx *rx, int64_t deadline);

/* 1 if a receive would not block (a message or a gone peer). */
int ipk__ring_readable(struct ipk__ring *r);
/* Consumer doorbell for poll(): readable when a receive would not block. */
int ipk__ring_fd(struct ipk__ring *r);
/* Producer: a descriptor that is always writable. */
int ipk__ring_tx_fd(struct ipk__ring *r);
/* Doorbell internals (ring_bell.c): ring armed consumers after a publish;
   restore the doorbell invariant after a consumer call. */
void ipk__ring_ring_bells(struct ipk__ring *r);
void ipk__ring_bell_settle(struct ipk__ring *r);
/* Release the doorbell sockets. */
void ipk__ring_close_fds(struct ipk__ring *r);

void ipk__ring_info(const struct ipk__ring *r, ipk_ringinfo *info);

#endif
