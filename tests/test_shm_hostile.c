/*
 * A ring written by a hostile process: every field another process can
 * write, spoiled one at a time. The ring sits at the very end of its
 * mapping, followed by 16 MiB that may not be touched, so an access outside
 * the region is a crash here, not a silent read of a neighbour's memory.
 * Each case must end in -EPROTO naming the field (or in an ordinary
 * answer), never outside the region.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring_pair.h"

#define GUARD ((size_t)16 << 20)
#define CAP 8192

struct hostile {
	unsigned char *map;
	size_t map_len;
	unsigned char *mem; /* the region: it ends where the guard begins */
	size_t size;
	struct ipk__ring_hdr *h;
	unsigned char *data;
	uint64_t cap;
	struct ipk__ring rx, tx;
	char err[512]; /* the first -EPROTO message seen */
	int protos;
};

static void setup(struct hostile *x, bool mpmc)
{
	memset(x, 0, sizeof *x);
	x->size = ipk__ring_hdr_size(mpmc ? IPK__RING_MPMC_SLOTS : 1) + CAP;
	x->map_len = 4096 + x->size + GUARD;
	x->map = mmap(NULL, x->map_len, PROT_NONE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(x->map, MAP_FAILED);
	x->mem = x->map + 4096;
	cr_assert_eq(mprotect(x->mem, x->size, PROT_READ | PROT_WRITE), 0);
	x->h = rp_open(x->mem, x->size, mpmc, CAP, "hostile", &x->rx, &x->tx);
	x->data = x->mem + x->h->hdr_size;
	x->cap = x->h->capacity;
}

static void teardown(struct hostile *x)
{
	rp_close(&x->rx, &x->tx);
	munmap(x->map, x->map_len);
}

static void put64(struct hostile *x, uint64_t off, uint64_t v)
{
	memcpy(x->data + off, &v, 8);
}

/* record word 0 as the ring writes it: state at bit 32, length below */
static uint64_t word(unsigned state, uint64_t len)
{
	return ((uint64_t)state << 32) | len;
}

#define COMMITTED 2u
#define BUSY 1u
#define SKIP 5u

static void note(struct hostile *x, long rc)
{
	if (rc == -EPROTO && x->protos++ == 0)
		snprintf(x->err, sizeof x->err, "%s", ipk_last_error());
}

/* Everything a peer does with a ring, none of it waiting. */
static void exercise(struct hostile *x)
{
	unsigned char out[CAP];
	unsigned char msg[300];
	memset(msg, 'm', sizeof msg);
	for (int round = 0; round < 3; round++) {
		ipk_msginfo info = {0};
		ipk__rx r = {.buf = out, .cap = sizeof out, .info = &info,
		             .maxmsg = sizeof out};
		note(x, ipk__ring_recv(&x->rx, &r, IPK__NOW));
		const void *p;
		ssize_t n = ipk__ring_peek(&x->rx, &p, IPK__NOW);
		note(x, n);
		if (n >= 0) {
			/* the whole message is readable where it was lent */
			volatile unsigned char sink = 0;
			for (ssize_t i = 0; i < n; i++)
				sink ^= ((const unsigned char *)p)[i];
			(void)sink;
			ipk__ring_release(&x->rx);
		}
		note(x, ipk__ring_send(&x->tx, msg, 10 + (size_t)round * 100,
		                       IPK__NOW));
		void *b;
		n = ipk__ring_borrow(&x->tx, &b, 200, IPK__NOW);
		note(x, n);
		if (n >= 0) {
			memset(b, 'b', 200);
			note(x, ipk__ring_commit(&x->tx, 200));
		}
		ipk_ringinfo info2;
		ipk__ring_info(&x->rx, &info2);
		cr_expect_leq(info2.used, x->cap);
	}
}

static void expect_proto(struct hostile *x, const char *field)
{
	cr_expect_gt(x->protos, 0, "no -EPROTO for a spoiled %s", field);
	cr_expect(strstr(x->err, field) != NULL, "message does not name %s: %s",
	          field, x->err);
}

static void register_both(struct hostile *x)
{
	note(x, ipk__ring_register(&x->rx, "hostile"));
	note(x, ipk__ring_register(&x->tx, "hostile"));
}

/* ---------------------------------------------------------------- SPSC */

Test(hostile, spsc_consumer_position_near_the_end)
{
	/* not on a record boundary, 8 bytes before the end, with a header
	   that announces 4 KiB: a copy from there would run off the region */
	struct hostile x;
	setup(&x, false);
	atomic_store(&x.h->head, x.cap - 8);
	put64(&x, x.cap - 8, word(COMMITTED, 4096));
	register_both(&x);
	exercise(&x);
	expect_proto(&x, "consumer position");
	teardown(&x);
}

Test(hostile, spsc_consumer_position_unaligned)
{
	struct hostile x;
	setup(&x, false);
	atomic_store(&x.h->head, 24);
	put64(&x, 24, word(COMMITTED, 16));
	register_both(&x);
	exercise(&x);
	expect_proto(&x, "consumer position");
	teardown(&x);
}

Test(hostile, spsc_consumer_position_past_the_end)
{
	struct hostile x;
	setup(&x, false);
	atomic_store(&x.h->head, x.cap + 4096);
	register_both(&x);
	exercise(&x);
	expect_proto(&x, "consumer position");
	teardown(&x);
}

Test(hostile, spsc_record_longer_than_what_is_left)
{
	/* the last record header of the lap: nothing fits after it */
	struct hostile x;
	setup(&x, false);
	atomic_store(&x.h->head, x.cap - 16);
	put64(&x, x.cap - 16, word(COMMITTED, 1));
	note(&x, ipk__ring_register(&x.rx, "hostile"));
	exercise(&x);
	expect_proto(&x, "record header");
	teardown(&x);
}

Test(hostile, spsc_record_length_huge)
{
	struct hostile x;
	setup(&x, false);
	register_both(&x);
	put64(&x, 0, word(COMMITTED, 0xffffffffu));
	exercise(&x);
	expect_proto(&x, "record header");
	teardown(&x);
}

Test(hostile, spsc_skip_record_lengths)
{
	static const uint64_t lens[] = {0, 8, 24, CAP + 16, 0xfffffff0u};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct hostile x;
		setup(&x, false);
		register_both(&x);
		put64(&x, 0, word(SKIP, lens[i]));
		exercise(&x);
		expect_proto(&x, "skip record");
		teardown(&x);
	}
}

Test(hostile, spsc_unknown_record_state)
{
	struct hostile x;
	setup(&x, false);
	register_both(&x);
	put64(&x, 0, word(9, 16));
	exercise(&x);
	expect_proto(&x, "record header");
	teardown(&x);
}

Test(hostile, spsc_producer_walks_garbage)
{
	/* a producer that attaches finds its place by walking the records
	   after the consumer's: make them lie */
	struct hostile x;
	setup(&x, false);
	note(&x, ipk__ring_register(&x.rx, "hostile"));
	put64(&x, 0, word(COMMITTED, 16));
	put64(&x, 32, word(COMMITTED, x.cap)); /* runs off the end */
	note(&x, ipk__ring_register(&x.tx, "hostile"));
	expect_proto(&x, "record header");
	/* and valid-looking records round the lap and on: the walk meets
	   the first lap's headers a lap on (a lap of records from the
	   consumer's position exactly is a full ring, and fine) */
	teardown(&x);
	setup(&x, false);
	atomic_store(&x.h->head, 32);
	note(&x, ipk__ring_register(&x.rx, "hostile"));
	for (uint64_t off = 0; off < x.cap; off += 32)
		put64(&x, off, word(COMMITTED, 16));
	note(&x, ipk__ring_register(&x.tx, "hostile"));
	expect_proto(&x, "record header from another lap");
	teardown(&x);
}

Test(hostile, spsc_consumer_position_seen_by_a_full_producer)
{
	struct hostile x;
	setup(&x, false);
	register_both(&x);
	unsigned char msg[1000] = {0};
	while (ipk__ring_send(&x.tx, msg, sizeof msg, IPK__NOW) > 0)
		;
	atomic_store(&x.h->head, 8); /* unaligned */
	note(&x, ipk__ring_send(&x.tx, msg, sizeof msg, IPK__NOW));
	expect_proto(&x, "consumer position");
	teardown(&x);
}

Test(hostile, identity_changed_after_attach)
{
	/* slot counts and sizes are read once, at attach: growing them later
	   must not send anyone looking past the header */
	struct hostile x;
	setup(&x, false);
	register_both(&x);
	x.h->nslots = 100000;
	x.h->capacity = (uint64_t)1 << 39;
	x.h->hdr_size = 64;
	exercise(&x);
	ipk_ringinfo info;
	ipk__ring_info(&x.tx, &info);
	cr_expect_eq(info.capacity, CAP);
	cr_expect_eq(info.producers, 1);
	cr_expect_eq(info.consumers, 1);
	teardown(&x);
}

/* ---------------------------------------------------------------- MPMC */

Test(hostile, mpmc_producer_position_near_the_end)
{
	/* a reservation there would store its size word past the region */
	struct hostile x;
	setup(&x, true);
	register_both(&x);
	atomic_store(&x.h->tail, x.cap - 8);
	exercise(&x);
	expect_proto(&x, "producer position");
	teardown(&x);
}

Test(hostile, mpmc_producer_position_unaligned)
{
	struct hostile x;
	setup(&x, true);
	register_both(&x);
	atomic_store(&x.h->tail, 40);
	atomic_store(&x.h->head, 40);
	atomic_store(&x.h->rhead, 40);
	exercise(&x);
	expect_proto(&x, "position");
	teardown(&x);
}

Test(hostile, mpmc_consumer_position_near_the_end)
{
	struct hostile x;
	setup(&x, true);
	register_both(&x);
	atomic_store(&x.h->head, x.cap - 8);
	put64(&x, x.cap - 8, word(COMMITTED, 64));
	exercise(&x);
	expect_proto(&x, "consumer position");
	teardown(&x);
}

Test(hostile, mpmc_release_position)
{
	struct hostile x;
	setup(&x, true);
	register_both(&x);
	unsigned char msg[1000] = {0};
	while (ipk__ring_send(&x.tx, msg, sizeof msg, IPK__NOW) > 0)
		;
	atomic_store(&x.h->rhead, x.cap - 8);
	exercise(&x);
	expect_proto(&x, "release position");
	teardown(&x);
}

Test(hostile, mpmc_record_size_word)
{
	static const uint64_t sizes[] = {0, 8, 40, CAP + 16, UINT64_MAX - 15};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct hostile x;
		setup(&x, true);
		register_both(&x);
		unsigned char msg[64] = {0};
		cr_assert_eq(ipk__ring_send(&x.tx, msg, sizeof msg, IPK__NOW), 64);
		put64(&x, 8, sizes[i]);
		exercise(&x);
		expect_proto(&x, "record header");
		teardown(&x);
	}
}

Test(hostile, mpmc_record_length_beyond_its_size)
{
	struct hostile x;
	setup(&x, true);
	register_both(&x);
	unsigned char msg[64] = {0};
	cr_assert_eq(ipk__ring_send(&x.tx, msg, sizeof msg, IPK__NOW), 64);
	put64(&x, 0, word(COMMITTED, 4096));
	exercise(&x);
	expect_proto(&x, "record header");
	teardown(&x);
}

Test(hostile, mpmc_lock_held_by_a_stranger)
{
	/* a lock word naming no attached process is taken over */
	struct hostile x;
	setup(&x, true);
	register_both(&x);
	atomic_store(&x.h->prod_lock, 0x7ffffff0u);
	unsigned char msg[16] = {0};
	cr_expect_eq(ipk__ring_send(&x.tx, msg, sizeof msg, ipk__deadline(5000)),
	             16, "%s", ipk_last_error());
	teardown(&x);
}

Test(hostile, slots_and_claims_of_strangers)
{
	/* every slot owned by a process that does not exist, every claim and
	   doorbell pointing anywhere: the newcomers take the slots over */
	struct hostile x;
	setup(&x, true);
	for (uint32_t i = 0; i < 2 * IPK__RING_MPMC_SLOTS; i++) {
		atomic_store(&x.h->slots[i].owner,
		             ((uint64_t)0xabcdef << 22) | (0x3ffff0 + (i & 7)));
		atomic_store(&x.h->slots[i].claim, 0x123456789abcdefull * i);
		atomic_store(&x.h->slots[i].bell, 0xdead0000u + i);
	}
	atomic_store(&x.h->armed, ~(uint64_t)0);
	register_both(&x);
	cr_expect_eq(x.protos, 0, "%s", x.err);
	exercise(&x);
	teardown(&x);
}

Test(hostile, armed_bits_beyond_the_slots)
{
	struct hostile x;
	setup(&x, false);
	register_both(&x);
	atomic_store(&x.h->armed, ~(uint64_t)0);
	exercise(&x);
	teardown(&x);
}

/* ------------------------------------------------------------ describe */

Test(hostile, describe_takes_any_bytes)
{
	/* a valid header with random fields after the identity, and random
	   bytes everywhere: an answer, never a crash */
	struct hostile x;
	setup(&x, true);
	unsigned char *copy = malloc(x.size);
	memcpy(copy, x.mem, x.size);
	struct ipk__ring_desc d;
	for (uint32_t round = 0; round < 2000; round++) {
		memcpy(x.mem, copy, x.size);
		size_t from = round % 2 ? 128 : 0;
		ipkt_fill(x.mem + from, round % 3 ? 4096 : x.size - from, round);
		int rc = ipk__ring_describe(x.mem, x.size, &d, "hostile");
		cr_assert(rc == 0 || rc == -EPROTO || rc == -EAGAIN, "%d", rc);
		if (rc == 0) {
			cr_assert_leq(d.nconsumers, IPK__RING_MPMC_SLOTS);
			cr_assert_leq(d.used, x.cap);
		}
		/* and what is too short to hold a header */
		rc = ipk__ring_describe(x.mem + x.size - 64, 64, &d, "short");
		cr_assert_eq(rc, -EPROTO);
	}
	free(copy);
	munmap(x.map, x.map_len);
}

Test(hostile, describe_reports_an_old_version)
{
	struct hostile x;
	setup(&x, false);
	x.h->version = 1;
	struct ipk__ring_desc d;
	cr_expect_eq(ipk__ring_describe(x.mem, x.size, &d, "old"), -EPROTO);
	cr_expect_eq(d.version, 1);
	cr_expect(strstr(ipk_last_error(), "version 1") != NULL &&
	          strstr(ipk_last_error(), "older") != NULL, "%s",
	          ipk_last_error());
	struct ipk__ring r;
	cr_expect_eq(ipk__ring_attach(&r, x.mem, x.size, IPK__RING_CONSUMER,
	                              "old"), -EPROTO);
	munmap(x.map, x.map_len);
}

Test(hostile, describe_reports_creator_and_peers)
{
	struct hostile x;
	setup(&x, true);
	register_both(&x);
	struct ipk__ring_desc d;
	cr_assert_eq(ipk__ring_describe(x.mem, x.size, &d, "mine"), 0, "%s",
	             ipk_last_error());
	cr_expect_eq(d.version, IPK__RING_VERSION);
	cr_expect(d.mpmc);
	cr_expect(!d.persist);
	cr_expect_eq(d.creator.pid, getpid());
	cr_expect(ipk__ring_proc_alive(&d.creator));
	cr_expect_eq(d.nconsumers, 1);
	cr_expect_eq(d.nproducers, 1);
	cr_expect_eq(d.producers[0].pid, getpid());
	cr_expect_eq(d.producers[0].start, d.creator.start);
	/* a pid with another start time is not us */
	struct ipk__ring_proc other = d.creator;
	other.start += 1;
	cr_expect(!ipk__ring_proc_alive(&other));
	teardown(&x);
}
