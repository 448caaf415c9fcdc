/*
 * The broadcast ring: one publisher, many subscribers, every subscriber
 * reading every message in place from the same memory.
 *
 * Layout: a header (identity; the publisher's positions; the subscribers'
 * wake-up masks; the blocking subscribers' mask; futex words; each on its
 * own 128-byte block), one 64-byte slot per subscriber, then `capacity`
 * bytes of records. A record is a 16-byte header and the payload, padded to
 * 16; records never wrap (a SKIP record fills the end of a lap).
 *
 * Positions are absolute byte counts (64 bits: they do not wrap in
 * centuries); each side keeps the offset in the ring beside its position,
 * so the fast paths never divide.
 *
 * Record header word 0, the stamp: ((seq << 2) | type) ^ key, where seq is
 * the message's number, type PENDING (0: the slot where message seq will
 * go), MSG (1) or SKIP (2: seq is the number of the next message), and key
 * a random value of the ring whose low two bits are set, so a stamp is
 * never 0 and 0 means "invalidated". Word 1: payload length, and flags.
 *
 * Publishing message s at position p (the tail): the stamp at p is already
 * PENDING(s). The publisher first makes room: the records it is about to
 * overwrite (the oldest, from `head`) are found by their lengths, `head`
 * is moved past them (published with a sequentially consistent store, so
 * a blocking subscriber that joins at the same time either sees it or is
 * seen), their stamps are zeroed, and `zeroed` records that the zeroing is
 * complete (for a publisher that takes over after a crash). Only then is
 * the payload written, then PENDING(s+1) at the end of the record, word 1,
 * and finally the stamp MSG(s) (the commit), then `tail`.
 *
 * A subscriber at position p expecting message e watches the stamp at p:
 * PENDING(e) is "nothing yet", MSG(e) a message, SKIP(e) the end of a lap;
 * anything else means it was overtaken (its record was invalidated and
 * perhaps overwritten) or the ring is corrupt, which `head` tells apart.
 * It reads a message and then reads the stamp again (seqlock): a stamp
 * that changed means the publisher started overwriting the record while it
 * was read, so the copy is thrown away and never returned. An overtaken
 * subscriber resynchronises at `head` and is told how many messages it
 * lost: the difference of the sequence numbers.
 *
 * Subscribers that block the publisher (slow=block) publish their position
 * in their slot after each release; the publisher keeps the minimum of
 * those positions cached and rescans the slots only when it would overrun
 * it or when the set of blocking subscribers changed (block_gen), so its
 * cost per message does not grow with the number of subscribers.
 *
 * Waking: a subscriber that goes to sleep sets its bit in `waiting` (and in
 * `armed` for a doorbell); the publisher reads those masks after each
 * commit and only when a bit is set takes the bits and makes a system
 * call: one wake per sleep, however many messages follow.
 *
 * Every field read from the region is checked before use; a corrupt ring
 * is -EPROTO naming the field, never an access outside the mapping.
 */
#ifndef IPK_SHM_BCAST_H
#define IPK_SHM_BCAST_H

#include "../core/internal.h"
#include "ring.h" /* enum ipk__ring_wait */

#include <stdatomic.h>

#define IPK__BCAST_MAGIC 0x3154534143424b49ull /* "IKBCAST1" */
#define IPK__BCAST_VERSION 1
#define IPK__BCAST_REC_HDR 16
#define IPK__BCAST_MAX_SLOTS 256
#define IPK__BCAST_DEFAULT_SLOTS 64
#define IPK__BCAST_MASK_WORDS (IPK__BCAST_MAX_SLOTS / 64)

/* header flags */
#define IPK__BCAST_F_BLOCK 0x1u   /* subscribers block the publisher by default */
#define IPK__BCAST_F_PERSIST 0x2u /* nobody removes the region on close */
#define IPK__BCAST_FLAGS (IPK__BCAST_F_BLOCK | IPK__BCAST_F_PERSIST)

/* stamp types */
#define IPK__BC_PENDING 0u
#define IPK__BC_MSG 1u
#define IPK__BC_SKIP 2u
#define IPK__BC_BAD 3u /* zeroed or not a stamp */

/* record word 1: length | flags << 32 */
#define IPK__BC_W1_SKIP 0x1u

/* Owner words (publisher, subscriber slots): pid | start_lo << 32; the
   RECLAIM bit marks a slot being freed for a dead owner. */
#define IPK__BC_RECLAIM 0x80000000u

struct ipk__bcast_slot {
	_Atomic uint64_t owner; /* 0: free */
	_Atomic uint64_t pos;   /* blocking: every record before it is done with */
	_Atomic uint32_t bell;  /* doorbell name suffix, 0 none */
	uint32_t pad0;
	uint64_t pad[5];
};

struct ipk__bcast_hdr {
	/* identity: written once by the creator, magic last */
	_Atomic uint64_t magic;
	uint32_t version;
	_Atomic uint32_t flags; /* PERSIST may be added later (ipk__bcast_keep) */
	uint64_t hdr_size; /* offset of the first record */
	uint64_t capacity;
	uint64_t region_size;
	uint64_t ring_id; /* random: names the doorbells */
	uint64_t key;     /* random, low two bits set: stamps are XORed with it */
	uint32_t nslots;
	uint32_t history; /* messages a new subscriber gets by default */
	uint64_t pad0[8];

	/* the publisher's positions: written by it on every message */
	_Alignas(128) _Atomic uint64_t tail; /* where the next record goes */
	_Atomic uint64_t head;               /* oldest record not given up */
	_Atomic uint64_t zeroed;             /* stamps before it are zeroed */
	uint64_t pad1[13];

	/* who is attached: written on attach and detach */
	_Alignas(128) _Atomic uint64_t pub; /* publisher owner word, 0 none */
	uint64_t pad2[15];

	/* subscribers asleep, subscribers with a doorbell to ring: read by the
	   publisher after each message */
	_Alignas(128) _Atomic uint64_t waiting[IPK__BCAST_MASK_WORDS];
	_Atomic uint64_t armed[IPK__BCAST_MASK_WORDS];
	uint64_t pad3[8];

	/* subscribers that block the publisher: read by it before each message */
	_Alignas(128) _Atomic uint64_t blocking[IPK__BCAST_MASK_WORDS];
	_Atomic uint64_t block_gen; /* bumped when that set changes */
	uint64_t pad4[11];

	/* futex words */
	_Alignas(128) _Atomic uint32_t data_seq; /* subscribers sleep on it */
	_Atomic uint32_t space_seq;              /* the publisher sleeps on it */
	_Atomic uint32_t tx_waiting;             /* the publisher is asleep */
	uint32_t pad5;
	uint64_t pad6[14];

	struct ipk__bcast_slot slots[];
};

enum ipk__bcast_role { IPK__BCAST_SUB = 1, IPK__BCAST_PUB = 2 };

/* What a new ring is made with. */
struct ipk__bcast_fmt {
	uint32_t nslots;  /* 0: default */
	bool block;       /* default slow mode: block (else drop) */
	bool persist;
	uint32_t history; /* default history for subscribers */
};

/* Subscriber: a filter deciding which messages are delivered (topics). */
typedef bool (*ipk__bcast_match)(void *arg, const void *msg, size_t len);

/* One process's handle on one broadcast ring, in one role. */
struct ipk__bcast {
	const char *name; /* for messages */
	struct ipk__bcast_hdr *h;
	unsigned char *data;
	uint64_t cap;
	uint64_t lenmax;   /* longest message a record can hold */
	uint64_t key;
	uint32_t nslots;
	enum ipk__bcast_role role;
	enum ipk__ring_wait wait;
	int64_t spin_ns;

	/* registration (redone in a child after fork) */
	int slot;         /* subscriber slot; -1: not registered */
	bool registered;  /* publisher: holds the publisher word */
	uint64_t reg_gen; /* fork generation it was made in */
	uint64_t me;      /* our owner word */
	int64_t next_check;

	/* publisher */
	uint64_t tail, tidx; /* next record: position and offset */
	uint64_t head, hidx; /* oldest record we have not given up */
	uint64_t seq;        /* number of the next message */
	bool borrowed;
	uint64_t bpos, bidx; /* the borrowed record */
	size_t blen;
	uint64_t block_gen;  /* generation the cached minimum is from */
	bool any_block;      /* a blocking subscriber was seen */
	uint64_t min_pos;    /* lowest blocking subscriber position */
	int bell_tx;         /* socket to ring doorbells, -1 */

	/* subscriber */
	bool block;          /* we block the publisher */
	uint32_t history;    /* messages wanted on joining */
	bool joined;         /* p and e are set */
	uint64_t p, pidx;    /* position of the next record */
	uint64_t e;          /* number of the message expected there */
	uint64_t missed;     /* lost since the last delivery */
	bool inherited;      /* joined in the parent, before a fork */
	bool have, lent;     /* a message is located / handed out */
	uint64_t mstamp;     /* its stamp, to validate it */
	size_t mlen;
	uint64_t mrec;       /* its record size */
	size_t maxmsg;
	int64_t odd_since;   /* since when the stamp has looked wrong */
	ipk__bcast_match match;
	void *match_arg;
	int bell_rx;         /* doorbell once pollable, -1 */
	uint32_t bell_nonce;
};

/* ------------------------------------------------------------ stamps */

static inline uint64_t ipk__bc_stamp(const struct ipk__bcast *b, uint64_t seq,
                                     unsigned type)
{
	return ((seq << 2) | type) ^ b->key;
}
static inline unsigned ipk__bc_type(const struct ipk__bcast *b, uint64_t w)
{
	return (unsigned)((w ^ b->key) & 3u);
}
static inline uint64_t ipk__bc_seq(const struct ipk__bcast *b, uint64_t w)
{
	return (w ^ b->key) >> 2;
}
static inline _Atomic uint64_t *ipk__bc_word0(const struct ipk__bcast *b,
                                              uint64_t idx)
{
	return (_Atomic uint64_t *)(void *)(b->data + idx);
}
static inline _Atomic uint64_t *ipk__bc_word1(const struct ipk__bcast *b,
                                              uint64_t idx)
{
	return (_Atomic uint64_t *)(void *)(b->data + idx + 8);
}
static inline uint64_t ipk__bc_rec(uint64_t len)
{
	return (IPK__BCAST_REC_HDR + len + 15) & ~(uint64_t)15;
}

/* ------------------------------------------------- format and attach */

size_t ipk__bcast_hdr_size(uint32_t nslots);
/* Largest payload a ring of that capacity takes: half the ring, less the
   headers, so making room never has to pass the record being written. */
size_t ipk__bcast_max_message(uint64_t cap);
/* Does [mem, mem + size) start like a broadcast ring (magic only)? */
bool ipk__bcast_is(const void *mem, size_t size);

/* The header's identity (magic, version, layout, key) is no longer what
   attach read: someone overwrote it. Sets no error. */
bool ipk__bcast_spoiled(const struct ipk__bcast *b);

/* Lay a new ring over zeroed memory. */
int ipk__bcast_format(void *mem, size_t size, const struct ipk__bcast_fmt *f);
/* Check the header (-EPROTO naming what is wrong, -EAGAIN if not laid out
   yet) and fill b. Registration happens on first use or explicitly. */
int ipk__bcast_attach(struct ipk__bcast *b, void *mem, size_t size,
                      enum ipk__bcast_role role, const char *what);

/* Publisher: take the publisher's place (-EBUSY while a live one holds it;
   a dead one's is taken over and its half-done work finished). */
int ipk__bcast_pub_register(struct ipk__bcast *b);
/* Subscriber: take a slot and a starting point (b->block, b->history set
   by the caller). -EUSERS when every slot is held by a live process. */
int ipk__bcast_sub_register(struct ipk__bcast *b);
/* Register again in a child after fork (or for the first time). */
int ipk__bcast_ensure(struct ipk__bcast *b);
/* Let go of the slot (only in the process that registered). */
void ipk__bcast_detach(struct ipk__bcast *b);
/* Does a live process other than us hold a place in the ring? Frees the
   slots of dead ones on the way. */
bool ipk__bcast_others_alive(struct ipk__bcast *b);
/* Mark the ring kept (?persist on a listener that joined it): no close
   removes it from now on, only ipk_remove. */
void ipk__bcast_keep(struct ipk__bcast *b);
/* Is the owner word's process alive? */
bool ipk__bcast_owner_alive(uint64_t owner);
/* Free subscriber slot i if its owner (owner word seen) is dead. */
bool ipk__bcast_reclaim(struct ipk__bcast *b, uint32_t i, uint64_t owner);

/* ----------------------------------------------------------- publisher */

ssize_t ipk__bcast_borrow(struct ipk__bcast *b, void **buf, size_t len,
                          int64_t deadline);
ssize_t ipk__bcast_commit(struct ipk__bcast *b, size_t len);
int ipk__bcast_abort(struct ipk__bcast *b);
ssize_t ipk__bcast_publish(struct ipk__bcast *b, const void *buf, size_t len,
                           int64_t deadline);
/* Wake sleeping subscribers and ring armed doorbells (after a commit, when
   a mask bit is set). */
void ipk__bcast_notify_slow(struct ipk__bcast *b);

/* ---------------------------------------------------------- subscriber */

/*
 * Next message for this subscriber, in place: *buf points into the ring.
 * The message stays valid until release, which checks that it was not
 * overwritten meanwhile (slow=drop): -ESTALE then, and it counts as missed.
 * *missed (may be NULL): messages lost just before this one.
 */
ssize_t ipk__bcast_peek(struct ipk__bcast *b, const void **buf,
                        uint64_t *missed, int64_t deadline);
int ipk__bcast_release(struct ipk__bcast *b);
/* Copy the next message out; never returns one that was torn. Reports the
   messages lost before it in rx->info->missed. */
ssize_t ipk__bcast_recv(struct ipk__bcast *b, ipk__rx *rx, int64_t deadline);
/* 1 if a receive would not wait. */
int ipk__bcast_readable(struct ipk__bcast *b);
/* Subscriber doorbell for poll(); publisher: an always-writable socket. */
int ipk__bcast_fd(struct ipk__bcast *b);
void ipk__bcast_close_fds(struct ipk__bcast *b);

/* Internals shared by the files of the broadcast ring. */
int ipk__bcast_corrupt(const struct ipk__bcast *b, const char *what,
                       uint64_t v);
bool ipk__bcast_registered_here(const struct ipk__bcast *b);
void ipk__bcast_bell_settle(struct ipk__bcast *b);
void ipk__bcast_disarm(struct ipk__bcast *b);
/* One snapshot of (head, its message number), or of (tail, the number of
   the next message); 0, 1 to retry, < 0 corrupt. */
int ipk__bcast_head_snapshot(struct ipk__bcast *b, uint64_t *pos,
                             uint64_t *seq);
int ipk__bcast_tail_snapshot(struct ipk__bcast *b, uint64_t *pos,
                             uint64_t *seq);

/* Facts for ipk_pubsub_info. */
typedef struct ipk__bcast_info {
	size_t capacity, max_message;
	uint64_t published; /* messages published so far (next number) */
	uint64_t oldest;    /* number of the oldest message still held */
	int subscribers;    /* slots held */
	pid_t publisher;    /* 0: none */
	int publisher_alive;
	int nslots;
} ipk__bcast_info;
int ipk__bcast_info_get(struct ipk__bcast *b, ipk__bcast_info *info);

#endif
