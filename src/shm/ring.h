/*
 * The message ring that lives inside a shared region (layout version 4).
 *
 * Layout: a header (identity, then producer, consumer and the two wake-up
 * blocks each on its own 128-byte block, then one 64-byte slot per attached
 * process), then `capacity` bytes of records. A record is a 16-byte header
 * (word 0: owner pid, lap, state, payload length; word 1: the record
 * size, MPMC)
 * and the payload, padded to 16. Records never wrap: a SKIP record (its
 * length is the bytes it covers) fills up to the end of the lap, so every
 * payload is contiguous (zero-copy needs that).
 *
 * Positions are 64-bit: the lap in the top 24 bits, the offset in the low 40,
 * so any capacity works without a division.
 *
 * The word at the producers' position is always 0 (a terminator): a
 * producer writes the 0 after its record before it publishes the record's
 * header word. A consumer therefore watches only the header word at its own
 * position: 0 is "nothing yet", and it never reads the producers' position
 * on the fast path. (One exception: a record that fills the ring exactly
 * ends at the oldest unread header, one lap on, and no terminator is
 * written over it; header words carry their lap, so that header is never
 * taken for a record of the next lap. See spsc_commit and reserve.)
 *
 * SPSC: the producer writes the payload and then the header word
 * (COMMITTED). The consumer's position is the space frontier. The consumer
 * replaces each header word it is done with by a READ word (its lap and
 * the bytes the record covered) before it publishes its position past it,
 * so where the producer knows a header stood in the last lap it needs no
 * terminator (a READ word of the lap before also says "nothing yet"): the
 * consumer then polls a line it holds itself instead of pulling one the
 * producer has just written (half a round trip's cache traffic). A
 * consumer killed between the two stores leaves a READ word of the
 * current lap at its published position: its successor steps over it by
 * its length (version 3 wrote 0 there, which read as "nothing yet" for
 * good). See ring_pos.h.
 *
 * MPMC: producers reserve under a small lock (terminator, size, header BUSY
 * with their pid, then the tail; a lock taken from a dead holder first
 * repairs what it left, see ring_mpmc.c), write the payload outside it and
 * commit (BUSY -> COMMITTED). Consumers claim the record at the head under
 * their own lock (their slot says which record they read, so a dead
 * reader's record is freed), read it outside, and release it under the
 * lock; space comes back when the release frontier passes it. A consumer
 * taking the oldest record on its fast path zeroes its header where it
 * starts a cache line, and a producer writes a terminator only where the
 * word is not 0 already. On
 * each side
 * a process that keeps finding the lock free takes the side's "bias" and
 * then runs its sections without any atomic read-modify-write (a flag in
 * its slot, checked against revocation with an asymmetric fence); another
 * process of that side revokes the bias before it takes the lock.
 *
 * Trust: every byte of the region may have been written by a hostile
 * process. The identity is copied into the handle once at attach and never
 * read again; every position, record word, size, slot and lock word is
 * validated before use (ring_pos.h), and a corrupt ring is -EPROTO naming
 * the field, never an access outside the region.
 *
 * Kill safety: every state change another process relies on is one atomic
 * store or read-modify-write (a slot is claimed with one compare-and-swap
 * of an owner word holding pid and start time; there are no counters to
 * fall out of step), so a process killed at any instruction leaves a ring
 * the others read correctly.
 */
#ifndef IPK_SHM_RING_H
#define IPK_SHM_RING_H

#include "../core/internal.h"

#include <stdatomic.h>

#define IPK__RING_MAGIC 0x31474e49524b5049ull /* "IPKRING1" (every version) */
#define IPK__RING_VERSION 4
#define IPK__RING_REC_HDR 16
#define IPK__RING_MPMC_SLOTS 64
#define IPK__RING_MPMC 0x1u /* header flag */

/*
 * Owner word: who holds a slot or created a ring, as one atomic 64-bit
 * value: pid in the low 22 bits (Linux pids are below 2^22), the process
 * start time (clock ticks since boot, /proc/PID/stat field 22) above, so a
 * recycled pid is never taken for the process that registered. 0: nobody.
 */
#define IPK__OWNER_PID_BITS 22

/* One attached process (64 bytes). */
struct ipk__ring_slot {
	_Atomic uint64_t owner; /* owner word; 0: free */
	_Atomic uint64_t claim; /* MPMC consumer: position + 1 of the record it
	                           is reading, 0 none */
	_Atomic uint32_t bell;  /* consumer: doorbell name suffix, 0 none */
	_Atomic uint32_t busy;  /* MPMC process holding its side's bias:
	                           inside a section run without the lock */
	uint64_t pad[5];
};

struct ipk__ring_hdr {
	/* identity: written once by the creator, magic last. magic and
	   version stay at these offsets in every version of the layout. */
	_Atomic uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint64_t hdr_size; /* offset of the first record */
	uint64_t capacity;
	uint64_t region_size;
	uint64_t ring_id; /* random: names the doorbells */
	uint32_t nslots;
	uint32_t pad0;
	uint64_t creator;         /* owner word of the creating listener */
	_Atomic uint32_t persist; /* a listener asked to keep it (?persist) */
	_Atomic uint32_t closed;  /* its last listener closed it and removed
	                             its name: nobody will read it again */
	uint64_t pad1[7];

	/* producer side */
	_Alignas(128) _Atomic uint64_t tail;
	_Atomic uint32_t prod_lock; /* MPMC: owner pid | waiters bit */
	_Atomic uint32_t bias_slot; /* MPMC: the slot of the producer that
	                               reserves without taking prod_lock... */
	_Atomic uint64_t bias;      /* ...and its owner word, 0: nobody;
	                               top bit: being revoked, the holder
	                               not yet seen out of its section */
	uint64_t pad3[13];

	/* consumer side (SPSC: the head is the producer's space frontier) */
	_Alignas(128) _Atomic uint64_t head;
	_Atomic uint32_t cons_lock; /* MPMC: as prod_lock, for consumers */
	_Atomic uint32_t cons_bias_slot;
	_Atomic uint64_t cons_bias;
	uint64_t pad4[13];

	/* MPMC: the space frontier, read by waiting producers: apart from the
	   head, which consumers write for every claim */
	_Alignas(128) _Atomic uint64_t rhead; /* everything before is released */
	uint64_t pad9[15];

	/* waking consumers: read by producers after each message */
	_Alignas(128) _Atomic uint32_t data_seq; /* futex; bit 0: sleepers */
	uint32_t pad5;
	_Atomic uint64_t armed; /* consumer slots wanting a doorbell (bits) */
	uint64_t pad6[14];

	/* waking producers: read by consumers after each release */
	_Alignas(128) _Atomic uint32_t space_seq; /* futex; bit 0: sleepers */
	uint32_t pad7;
	uint64_t pad8[15];

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
	/* identity, copied once at attach: never read from the region again */
	uint64_t cap;
	uint32_t nslots;
	uint64_t ring_id;
	bool mpmc;
	enum ipk__ring_role role;
	enum ipk__ring_wait wait;
	int64_t spin_ns;
	size_t maxmsg; /* consumer: refuse longer messages */

	/* registration (redone in a child after fork) */
	int slot;          /* -1: not registered */
	uint64_t reg_gen;  /* fork generation it was made in */
	pid_t pid;
	uint64_t owner;    /* our owner word */
	int64_t next_check; /* when to look at the peers / the name again */
	bool light;         /* publish with release stores (ring_sync.h) */
	int peer_life_fd;   /* pair: read end of a pipe only the peer end
	                       writes to; POLLHUP once every copy of that end
	                       is closed (the kernel counts across fork) */
	/* named rings: has the name been removed or replaced? (slow path) */
	bool (*gone)(void *arg);
	void *gone_arg;

	/* producer */
	uint64_t tail;       /* SPSC: our position */
	uint64_t *marked;    /* SPSC: one bit per 16 bytes: a header stood
	                        there in the last lap (the consumer has left
	                        a READ word there since), NULL if not kept */
	uint64_t head_cache; /* last space frontier seen */
	bool borrowed;
	uint64_t bpos;       /* record of the borrow */
	size_t blen;         /* bytes borrowed */
	uint64_t want_space; /* bytes a waiting producer needs */
	int64_t next_repair; /* MPMC: next look for dead consumers' claims */
	uint32_t streak;     /* MPMC: uncontended lock takes in a row */
	uint32_t bias_after; /* ...before this producer takes the bias */
	int bell_tx;         /* socket to ring doorbells, -1 */

	/* consumer */
	uint64_t head;       /* SPSC: our position */
	uint64_t prev;       /* SPSC: the record (or skip) we left last */
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

/* ----------------------------------------------------- format, attach */

/* Bytes of ring header for a ring with nslots slots per side. */
size_t ipk__ring_hdr_size(uint32_t nslots);
/* Largest payload a ring of that capacity can ever hold. */
size_t ipk__ring_max_message(uint64_t cap, bool mpmc);

/* Lay a new ring over zeroed memory [mem, mem + size); the calling process
   is recorded as its creator, persist as asked. */
int ipk__ring_format(void *mem, size_t size, bool mpmc, bool persist);

/*
 * Ring every armed doorbell of the ring in [mem, mem + size) (validated as
 * by attach; nothing else is written): the consumers of a ring being
 * removed under them wake, and their receive reports it.
 */
void ipk__ring_wake_consumers(void *mem, size_t size, const char *what);
/* The same for the ring in an open file (mapped for the moment), or in a
   System V segment (attached for the moment: allowed once it is marked
   removed while others still have it). Nothing if it holds no ring. */
void ipk__ring_wake_file(int fd, const char *what);
void ipk__ring_wake_sysv(int shmid, const char *what);

/* The header's identity (magic, version, layout, ring id) is no longer
   what attach read: someone spoiled it, and no process can attach now. */
bool ipk__ring_spoiled(const struct ipk__ring *r);
/*
 * Check that [mem, mem + size) holds a ring of this version (-EPROTO with a
 * message naming what is wrong, or saying that it is an older layout;
 * -EAGAIN if it is not initialised yet) and fill r.
 */
int ipk__ring_attach(struct ipk__ring *r, void *mem, size_t size,
                     enum ipk__ring_role role, const char *what);

/* What the inventory needs to know about a ring, read without attaching. */
struct ipk__ring_proc {
	pid_t pid;
	uint64_t start; /* clock ticks since boot, as /proc/PID/stat has it */
};
struct ipk__ring_desc {
	uint32_t version; /* layout version found (set also when refused) */
	bool mpmc;
	bool persist;     /* a listener asked for ?persist: never collect it */
	bool closed;      /* its listener closed it for good */
	uint64_t capacity;
	uint64_t used;    /* bytes of unreleased records (0 if unknown) */
	struct ipk__ring_proc creator;
	int nconsumers, nproducers; /* registered (alive or not) */
	struct ipk__ring_proc consumers[IPK__RING_MPMC_SLOTS];
	struct ipk__ring_proc producers[IPK__RING_MPMC_SLOTS];
};

/*
 * Validate the ring in [mem, mem + size) (any bytes at all, at any
 * alignment, possibly a read-only mapping; it reads at most the first
 * 12 KiB, once, and writes nothing) and describe it. 0, -EAGAIN (a
 * region that holds no ring yet: all zero magic), -EPROTO (not an ipckit
 * ring, another layout version: desc->version says which, or corrupt).
 */
int ipk__ring_describe(const void *mem, size_t size,
                       struct ipk__ring_desc *desc, const char *what);

/* Is the process that recorded (pid, start) still running? */
bool ipk__ring_proc_alive(const struct ipk__ring_proc *p);

/* ------------------------------------------------------- registration */

/* Claim a slot for this process. -EBUSY/-EUSERS if none, -EADDRINUSE for a
   second live SPSC consumer. */
int ipk__ring_register(struct ipk__ring *r, const char *what);
/* Register again if this process has not (a child after fork). */
int ipk__ring_ensure(struct ipk__ring *r);
/* Live processes holding a slot on that side (dead ones' slots are freed). */
int ipk__ring_side_alive(struct ipk__ring *r, enum ipk__ring_role side);
/* Let go of the slot (only in the process that registered); wakes peers. */
void ipk__ring_detach(struct ipk__ring *r);
/* The last listener is closing the ring for good (its name is removed):
   senders get -EPIPE from now on. */
void ipk__ring_close_for_good(struct ipk__ring *r);
/* A listener took the ring on (created it or took it over): it is open
   again, and kept for good if it asked for ?persist. */
void ipk__ring_listening(struct ipk__ring *r, bool persist);

/*
 * Test hook: called (when set) at every step of registration and
 * unregistration, and inside an MPMC reservation, with the step's name, so
 * a test can kill the process there and check what it leaves. NULL in
 * normal use.
 */
extern void (*ipk__ring_hook)(const char *step);

/* ------------------------------------------------------------- traffic */

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

/* 1 if a receive would not block (a message, or an end to report). */
int ipk__ring_readable(struct ipk__ring *r);
/* Consumer doorbell for poll(): readable when a receive would not block. */
int ipk__ring_fd(struct ipk__ring *r);
/* Producer: a descriptor that is always writable. */
int ipk__ring_tx_fd(struct ipk__ring *r);
/* Doorbell internals (ring_bell.c): ring armed consumers after a publish;
   restore the doorbell invariant after a consumer call. */
void ipk__ring_ring_bells(struct ipk__ring *r);
void ipk__ring_bell_settle(struct ipk__ring *r);
/* Release the doorbell sockets and what the handle allocated. */
void ipk__ring_close_fds(struct ipk__ring *r);

/* Fill info; producers/consumers count live processes (dead ones' slots
   are freed on the way). */
void ipk__ring_info(struct ipk__ring *r, ipk_ringinfo *info);

#endif
