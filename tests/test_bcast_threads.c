/*
 * The broadcast ring with threads standing in for processes, so that
 * ThreadSanitizer (make tsan) sees both sides of every handover: the
 * publisher's commit and a subscriber's read, a blocking subscriber's
 * release and the publisher's reuse of the space, sleeping and waking.
 * No subscriber is ever overtaken here (slow=block, or a ring large enough
 * for everything): an overtaken reader reads bytes the publisher is
 * rewriting, by design, and checks afterwards (test_bcast.c covers that).
 */
#define _GNU_SOURCE
#include "util.h"
#include "tsan_harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "shm/bcast.h"

#define NSUB 3

struct shared {
	void *mem;
	size_t size;
	uint64_t count;
	size_t max;
	enum ipk__ring_wait wait;
	bool zero_copy;
	_Atomic int ready;
	uint64_t bad[NSUB];
	uint64_t got[NSUB];
	uint64_t missed[NSUB];
};

struct sub_arg {
	struct shared *sh;
	int i;
	struct ipk__bcast b;
};

static size_t len_for(uint64_t n, size_t max)
{
	return 8 + (size_t)((n * 2654435761u) % (max - 8));
}

static void fill(unsigned char *p, size_t len, uint64_t n)
{
	memcpy(p, &n, 8);
	for (size_t i = 8; i < len; i++)
		p[i] = (unsigned char)(n * 31 + i);
}

static bool intact(const unsigned char *p, size_t len, uint64_t n)
{
	uint64_t m;
	memcpy(&m, p, 8);
	if (m != n)
		return false;
	for (size_t i = 8; i < len; i++)
		if (p[i] != (unsigned char)(n * 31 + i))
			return false;
	return true;
}

static void *subscriber(void *arg)
{
	struct sub_arg *a = arg;
	struct shared *sh = a->sh;
	struct ipk__bcast *b = &a->b;
	unsigned char *buf = malloc(sh->max);
	for (uint64_t n = 0; n < sh->count; n++) {
		uint64_t missed = 0;
		ssize_t len;
		bool ok;
		if (sh->zero_copy && a->i % 2) {
			const void *p;
			len = ipk__bcast_peek(b, &p, &missed, ipk__deadline(30000));
			ok = len >= 8 && intact(p, (size_t)len, n);
			if (len >= 0 && ipk__bcast_release(b) != 0)
				ok = false;
		} else {
			ipk_msginfo info = {0};
			ipk__rx rx = {.buf = buf, .cap = sh->max, .info = &info,
			              .maxmsg = sh->max};
			len = ipk__bcast_recv(b, &rx, ipk__deadline(30000));
			missed = info.missed;
			ok = len >= 8 && intact(buf, (size_t)len, n);
		}
		if (len < 0)
			break;
		if (!ok || len != (ssize_t)len_for(n, sh->max))
			sh->bad[a->i]++;
		sh->got[a->i]++;
		sh->missed[a->i] += missed;
	}
	free(buf);
	return NULL;
}

static void run(bool block, enum ipk__ring_wait wait, size_t size,
                uint64_t count, bool zero_copy)
{
	struct shared sh = {.size = size, .count = count, .max = 300,
	                    .wait = wait, .zero_copy = zero_copy};
	sh.mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(sh.mem != MAP_FAILED);
	struct ipk__bcast_fmt f = {.nslots = 8, .block = block};
	cr_assert_eq(ipk__bcast_format(sh.mem, size, &f), 0);
	struct sub_arg subs[NSUB];
	pthread_t th[NSUB];
	/* registered here, before the publisher starts: nothing is missed */
	for (int i = 0; i < NSUB; i++) {
		subs[i].sh = &sh;
		subs[i].i = i;
		cr_assert_eq(ipk__bcast_attach(&subs[i].b, sh.mem, size,
		                               IPK__BCAST_SUB, "t"), 0);
		subs[i].b.wait = wait;
		cr_assert_eq(ipk__bcast_sub_register(&subs[i].b), 0, "%s",
		             ipk_last_error());
	}
	for (int i = 0; i < NSUB; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, subscriber, &subs[i]), 0);
	struct ipk__bcast pub;
	cr_assert_eq(ipk__bcast_attach(&pub, sh.mem, size, IPK__BCAST_PUB, "t"), 0);
	pub.wait = wait;
	cr_assert_eq(ipk__bcast_pub_register(&pub), 0);
	unsigned char msg[300];
	for (uint64_t n = 0; n < count; n++) {
		size_t len = len_for(n, sh.max);
		if (n % 2) {
			void *w;
			cr_assert_eq(ipk__bcast_borrow(&pub, &w, len, ipk__deadline(30000)),
			             (ssize_t)len, "%s", ipk_last_error());
			fill(w, len, n);
			cr_assert_eq(ipk__bcast_commit(&pub, len), (ssize_t)len);
		} else {
			fill(msg, len, n);
			cr_assert_eq(ipk__bcast_publish(&pub, msg, len,
			                                ipk__deadline(30000)),
			             (ssize_t)len, "%s", ipk_last_error());
		}
	}
	for (int i = 0; i < NSUB; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(sh.bad[i], 0, "subscriber %d: %llu bad", i,
		             (unsigned long long)sh.bad[i]);
		cr_expect_eq(sh.got[i], count, "subscriber %d: %llu of %llu", i,
		             (unsigned long long)sh.got[i], (unsigned long long)count);
		cr_expect_eq(sh.missed[i], 0);
		ipk__bcast_detach(&subs[i].b);
		ipk__bcast_close_fds(&subs[i].b);
	}
	ipk__bcast_detach(&pub);
	ipk__bcast_close_fds(&pub);
	munmap(sh.mem, size);
}

Test(bcast_threads, block_spin_small_ring, .timeout = 300)
{
	run(true, IPK__WAIT_SPIN, 1 << 14, 3000, true);
}

Test(bcast_threads, block_sleeping_small_ring, .timeout = 300)
{
	run(true, IPK__WAIT_BLOCK, 1 << 14, IPKT_TSAN ? 3000 : 20000, true);
}

Test(bcast_threads, block_hybrid, .timeout = 300)
{
	run(true, IPK__WAIT_HYBRID, 1 << 15, IPKT_TSAN ? 5000 : 50000, false);
}

/* dropping subscribers with a ring that holds every message: none is
   overtaken, each sees all */
Test(bcast_threads, drop_large_ring, .timeout = 300)
{
	run(false, IPK__WAIT_HYBRID, 8 << 20, 20000, true);
}
