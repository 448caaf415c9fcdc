/*
 * The broadcast ring (src/shm/bcast*) on its own: every subscriber gets
 * every message in order; slow=drop counts exactly what a subscriber lost;
 * slow=block holds the publisher back; history; zero-copy; a torn or
 * overwritten message is never returned as a success; publishers and
 * subscribers killed at any point; a publisher that makes no system call
 * while nobody sleeps; hostile region contents. Processes are forked
 * children sharing an anonymous mapping that ends at a guard page.
 */
#define _GNU_SOURCE
#include "util.h"

#include "tsan_harness.h"
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/bcast.h"

/* ------------------------------------------------------------ helpers */

struct region {
	void *mem;
	size_t size;
	size_t total;
};

/* size bytes of shared memory that end exactly at a PROT_NONE page. */
static struct region region_new(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size = (size + page - 1) & ~(page - 1);
	struct region r = {.size = size, .total = size + page};
	unsigned char *p = mmap(NULL, r.total, PROT_READ | PROT_WRITE,
	                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(p != MAP_FAILED);
	cr_assert_eq(mprotect(p + size, page, PROT_NONE), 0);
	r.mem = p;
	return r;
}

static void region_free(struct region *r)
{
	munmap(r->mem, r->total);
}

static void format(struct region *r, uint32_t nslots, bool block,
                   uint32_t history)
{
	struct ipk__bcast_fmt f = {.nslots = nslots, .block = block,
	                           .history = history};
	int rc = ipk__bcast_format(r->mem, r->size, &f);
	cr_assert_eq(rc, 0, "format: %s", ipk_last_error());
}

static void pub_open(struct ipk__bcast *b, struct region *r)
{
	int rc = ipk__bcast_attach(b, r->mem, r->size, IPK__BCAST_PUB, "test");
	cr_assert_eq(rc, 0, "attach: %s", ipk_last_error());
	rc = ipk__bcast_pub_register(b);
	cr_assert_eq(rc, 0, "publisher: %s", ipk_last_error());
}

static int sub_try(struct ipk__bcast *b, struct region *r, int block,
                   int history)
{
	int rc = ipk__bcast_attach(b, r->mem, r->size, IPK__BCAST_SUB, "test");
	if (rc < 0)
		return rc;
	if (block >= 0)
		b->block = block;
	if (history >= 0)
		b->history = (uint32_t)history;
	return ipk__bcast_sub_register(b);
}

static void sub_open(struct ipk__bcast *b, struct region *r, int block,
                     int history)
{
	int rc = sub_try(b, r, block, history);
	cr_assert_eq(rc, 0, "subscriber: %s", ipk_last_error());
}

/* Message n: its number, then bytes derived from it, len >= 8. */
static void fill(unsigned char *p, size_t len, uint64_t n)
{
	memcpy(p, &n, 8);
	for (size_t i = 8; i < len; i++)
		p[i] = (unsigned char)(n * 31 + i * 7 + len);
}

static bool intact(const unsigned char *p, size_t len, uint64_t *n)
{
	if (len < 8)
		return false;
	memcpy(n, p, 8);
	for (size_t i = 8; i < len; i++)
		if (p[i] != (unsigned char)(*n * 31 + i * 7 + len))
			return false;
	return true;
}

static size_t len_for(uint64_t n, size_t max)
{
	size_t len = 8 + (size_t)((n * 2654435761u) % 120);
	if (n % 37 == 0)
		len = max;
	else if (n % 11 == 0)
		len = 8 + (size_t)((n * 40503u) % (max - 8));
	return len;
}

static ssize_t publish(struct ipk__bcast *b, uint64_t n, size_t max,
                       int timeout_ms)
{
	unsigned char buf[70000];
	size_t len = len_for(n, max);
	cr_assert(len <= sizeof buf);
	fill(buf, len, n);
	return ipk__bcast_publish(b, buf, len, ipk__deadline(timeout_ms));
}

static ssize_t recv_one(struct ipk__bcast *b, void *buf, size_t cap,
                        uint64_t *missed, int timeout_ms)
{
	ipk_msginfo info = {0};
	ipk__rx rx = {.buf = buf, .cap = cap, .info = &info,
	              .maxmsg = IPK_DEFAULT_MAXMSG};
	ssize_t n = ipk__bcast_recv(b, &rx, ipk__deadline(timeout_ms));
	if (missed)
		*missed = info.missed;
	return n;
}

static void done(struct ipk__bcast *b)
{
	ipk__bcast_detach(b);
	ipk__bcast_close_fds(b);
}

/* ------------------------------------------------- format and attach */

Test(bcast, format_attach_and_refuse_garbage)
{
	struct region r = region_new(1 << 16);
	format(&r, 0, false, 0);
	struct ipk__bcast b;
	cr_assert_eq(ipk__bcast_attach(&b, r.mem, r.size, IPK__BCAST_SUB, "t"), 0);
	cr_assert_eq(b.nslots, IPK__BCAST_DEFAULT_SLOTS);
	cr_assert(ipk__bcast_max_message(b.cap) >= b.cap / 2 - 64);
	struct ipk__bcast_hdr *h = r.mem;
	struct {
		void *field;
		size_t size;
		uint64_t value;
		const char *says;
	} bad[] = {
		{&h->magic, 8, 0x1234, "not an ipckit broadcast ring"},
		{&h->version, 4, 9, "version"},
		{&h->flags, 4, 0x80, "flags"},
		{&h->nslots, 4, 100000, "slots"},
		{&h->hdr_size, 8, 12, "header"},
		{&h->capacity, 8, (uint64_t)1 << 40, "header"},
		{&h->capacity, 8, 100, "header"},
		{&h->key, 8, 0x10, "key"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char save[8];
		memcpy(save, bad[i].field, bad[i].size);
		memcpy(bad[i].field, &bad[i].value, bad[i].size);
		int rc = ipk__bcast_attach(&b, r.mem, r.size, IPK__BCAST_SUB, "t");
		cr_expect_eq(rc, -EPROTO, "field %zu: %d", i, rc);
		cr_expect(strstr(ipk_last_error(), bad[i].says) != NULL,
		          "field %zu: %s", i, ipk_last_error());
		memcpy(bad[i].field, save, bad[i].size);
	}
	cr_assert_eq(ipk__bcast_attach(&b, r.mem, 100, IPK__BCAST_SUB, "t"),
	             -EPROTO);
	memset(r.mem, 0, 8);
	cr_assert_eq(ipk__bcast_attach(&b, r.mem, r.size, IPK__BCAST_SUB, "t"),
	             -EAGAIN);
	/* too small a region, too many slots */
	struct ipk__bcast_fmt f = {.nslots = 4096};
	cr_assert_eq(ipk__bcast_format(r.mem, r.size, &f), -EINVAL);
	f.nslots = 0;
	cr_assert_eq(ipk__bcast_format(r.mem, 2048, &f), -EINVAL);
	region_free(&r);
}

/* ------------------------------------------------------ one process */

Test(bcast, every_subscriber_gets_every_message_in_order)
{
	struct region r = region_new(1 << 16);
	format(&r, 8, false, 0);
	struct ipk__bcast pub, sub[3];
	pub_open(&pub, &r);
	for (int i = 0; i < 3; i++)
		sub_open(&sub[i], &r, -1, -1);
	size_t max = 1000;
	unsigned char buf[2000];
	/* small batches so nobody falls a lap behind */
	uint64_t n = 0;
	for (int round = 0; round < 400; round++) {
		for (int k = 0; k < 10; k++, n++)
			cr_assert_eq(publish(&pub, n, max, 0), (ssize_t)len_for(n, max));
		for (int i = 0; i < 3; i++)
			for (uint64_t m = n - 10; m < n; m++) {
				uint64_t missed, got;
				ssize_t len = recv_one(&sub[i], buf, sizeof buf, &missed, 0);
				cr_assert_eq(len, (ssize_t)len_for(m, max), "%s",
				             ipk_last_error());
				cr_assert(intact(buf, (size_t)len, &got));
				cr_assert_eq(got, m);
				cr_assert_eq(missed, 0);
			}
	}
	/* nothing more */
	cr_assert_eq(recv_one(&sub[0], buf, sizeof buf, NULL, 0), -EAGAIN);
	cr_assert_eq(recv_one(&sub[1], buf, sizeof buf, NULL, 20), -ETIMEDOUT);
	for (int i = 0; i < 3; i++)
		done(&sub[i]);
	done(&pub);
	region_free(&r);
}

Test(bcast, zero_copy_peek_points_into_the_ring)
{
	struct region r = region_new(1 << 16);
	format(&r, 4, false, 0);
	struct ipk__bcast pub, a, b;
	pub_open(&pub, &r);
	sub_open(&a, &r, -1, -1);
	sub_open(&b, &r, -1, -1);
	void *w;
	cr_assert_eq(ipk__bcast_borrow(&pub, &w, 100, 0), 100);
	cr_assert_eq(ipk__bcast_borrow(&pub, &w, 100, 0), -EBUSY);
	memcpy(w, "hello, subscribers", 18);
	cr_assert_eq(ipk__bcast_commit(&pub, 18), 18);
	const void *pa, *pb;
	uint64_t missed = 9;
	cr_assert_eq(ipk__bcast_peek(&a, &pa, &missed, 0), 18);
	cr_assert_eq(missed, 0);
	cr_assert_eq(ipk__bcast_peek(&b, &pb, NULL, 0), 18);
	/* the same bytes, in place, for both */
	cr_assert_eq(pa, pb);
	cr_assert_eq(pa, w);
	cr_assert(pa > r.mem && (const char *)pa < (char *)r.mem + r.size);
	cr_assert_eq(memcmp(pa, "hello, subscribers", 18), 0);
	cr_assert_eq(ipk__bcast_peek(&a, &pa, NULL, 0), -EBUSY);
	cr_assert_eq(ipk__bcast_release(&a), 0);
	cr_assert_eq(ipk__bcast_release(&a), -EINVAL);
	cr_assert_eq(ipk__bcast_release(&b), 0);
	/* abort publishes nothing */
	cr_assert_eq(ipk__bcast_borrow(&pub, &w, 10, 0), 10);
	cr_assert_eq(ipk__bcast_abort(&pub), 0);
	cr_assert_eq(ipk__bcast_peek(&a, &pa, NULL, 0), -EAGAIN);
	/* an empty message */
	cr_assert_eq(ipk__bcast_publish(&pub, "", 0, 0), 0);
	cr_assert_eq(ipk__bcast_peek(&a, &pa, NULL, 0), 0);
	cr_assert_eq(ipk__bcast_release(&a), 0);
	/* too big for the ring */
	cr_assert_eq(ipk__bcast_borrow(&pub, &w, pub.cap, 0), -EMSGSIZE);
	cr_assert(strstr(ipk_last_error(), "half") != NULL);
	/* a subscriber does not publish, a publisher does not receive */
	cr_assert_eq(ipk__bcast_borrow(&a, &w, 1, 0), -EOPNOTSUPP);
	cr_assert_eq(ipk__bcast_peek(&pub, &pa, NULL, 0), -EOPNOTSUPP);
	done(&a);
	done(&b);
	done(&pub);
	region_free(&r);
}

Test(bcast, one_publisher_at_a_time)
{
	struct region r = region_new(1 << 16);
	format(&r, 4, false, 0);
	struct ipk__bcast p1, p2;
	pub_open(&p1, &r);
	cr_assert_eq(ipk__bcast_attach(&p2, r.mem, r.size, IPK__BCAST_PUB, "t"), 0);
	cr_assert_eq(ipk__bcast_pub_register(&p2), -EBUSY);
	cr_assert(strstr(ipk_last_error(), "live publisher") != NULL);
	/* after a clean detach the next one continues the numbering */
	cr_assert_eq(ipk__bcast_publish(&p1, "12345678", 8, 0), 8);
	done(&p1);
	cr_assert_eq(ipk__bcast_pub_register(&p2), 0, "%s", ipk_last_error());
	cr_assert_eq(p2.seq, 1);
	done(&p2);
	region_free(&r);
}

/* -------------------------------------------------------- slow=drop */

Test(bcast, a_lapped_subscriber_is_told_exactly_what_it_missed)
{
	struct region r = region_new(1 << 15);
	format(&r, 4, false, 0);
	struct ipk__bcast pub, fast, slow;
	pub_open(&pub, &r);
	sub_open(&fast, &r, -1, -1);
	sub_open(&slow, &r, -1, -1);
	size_t max = 600;
	unsigned char buf[2000];
	uint64_t n = 0, slow_next = 0, slow_missed = 0, slow_got = 0;
	for (int round = 0; round < 300; round++) {
		/* the slow one reads one message now and then */
		int burst = 1 + round % 97;
		for (int k = 0; k < burst; k++, n++) {
			cr_assert_eq(publish(&pub, n, max, 0), (ssize_t)len_for(n, max),
			             "%s", ipk_last_error());
			uint64_t missed, got;
			ssize_t len = recv_one(&fast, buf, sizeof buf, &missed, 0);
			cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
			cr_assert_eq(got, n);
			cr_assert_eq(missed, 0);
		}
		if (round % 3 == 0) {
			uint64_t missed, got;
			ssize_t len = recv_one(&slow, buf, sizeof buf, &missed, 0);
			cr_assert(len >= 8, "%zd %s", len, ipk_last_error());
			cr_assert(intact(buf, (size_t)len, &got), "torn message %llu",
			          (unsigned long long)got);
			/* exactly the messages between the last one and this one */
			cr_assert_eq(got, slow_next + missed, "got %llu after %llu with "
			             "%llu missed", (unsigned long long)got,
			             (unsigned long long)slow_next,
			             (unsigned long long)missed);
			slow_missed += missed;
			slow_got++;
			slow_next = got + 1;
		}
	}
	/* the rest is in the ring or was told */
	for (;;) {
		uint64_t missed, got;
		ssize_t len = recv_one(&slow, buf, sizeof buf, &missed, 0);
		if (len == -EAGAIN)
			break;
		cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
		cr_assert_eq(got, slow_next + missed);
		slow_missed += missed;
		slow_got++;
		slow_next = got + 1;
	}
	cr_assert_eq(slow_next, n);
	cr_assert_eq(slow_got + slow_missed, n);
	cr_assert(slow_missed > 0, "the slow subscriber was never lapped");
	done(&fast);
	done(&slow);
	done(&pub);
	region_free(&r);
}

Test(bcast, a_message_overwritten_while_held_is_refused_on_release)
{
	struct region r = region_new(1 << 14);
	format(&r, 4, false, 0);
	struct ipk__bcast pub, sub;
	pub_open(&pub, &r);
	sub_open(&sub, &r, -1, -1);
	cr_assert_eq(publish(&pub, 0, 64, 0), (ssize_t)len_for(0, 64));
	const void *p;
	uint64_t missed;
	ssize_t len = ipk__bcast_peek(&sub, &p, &missed, 0);
	cr_assert_eq(len, (ssize_t)len_for(0, 64));
	/* the publisher laps the held message (slow=drop does not wait) */
	uint64_t n = 1;
	for (; pub.head <= sub.p; n++)
		cr_assert_eq(publish(&pub, n, 64, 0), (ssize_t)len_for(n, 64));
	cr_assert_eq(ipk__bcast_release(&sub), -ESTALE);
	cr_assert(strstr(ipk_last_error(), "overwrote") != NULL);
	/* the next message says how many were lost, the refused one included */
	unsigned char buf[256];
	uint64_t got;
	len = recv_one(&sub, buf, sizeof buf, &missed, 0);
	cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
	cr_assert_eq(got, missed, "message %llu, %llu missed",
	             (unsigned long long)got, (unsigned long long)missed);
	cr_assert(missed >= 1);
	done(&sub);
	done(&pub);
	region_free(&r);
}

/* A message found by a readiness check and overwritten before it is taken
   is not handed out: the receive finds what is there now. */
Test(bcast, a_message_seen_ready_then_overwritten_is_not_handed_out)
{
	struct region r = region_new(1 << 14);
	format(&r, 4, false, 0);
	struct ipk__bcast pub, sub;
	pub_open(&pub, &r);
	sub_open(&sub, &r, -1, -1);
	uint64_t n = 0;
	cr_assert_eq(publish(&pub, n, 200, 0), (ssize_t)len_for(n, 200));
	n++;
	cr_assert_eq(ipk__bcast_readable(&sub), 1);
	for (; pub.head <= sub.p; n++)
		cr_assert_eq(publish(&pub, n, 200, 0), (ssize_t)len_for(n, 200));
	const void *p;
	uint64_t missed, got;
	ssize_t len = ipk__bcast_peek(&sub, &p, &missed, 0);
	cr_assert(len >= 8, "%zd %s", len, ipk_last_error());
	cr_assert(intact(p, (size_t)len, &got), "a stale message was handed out");
	cr_assert_eq(got, missed);
	cr_assert(missed >= 1);
	cr_assert_eq(ipk__bcast_release(&sub), 0);
	done(&sub);
	done(&pub);
	region_free(&r);
}

/* ------------------------------------------------------- slow=block */

Test(bcast, a_blocking_subscriber_holds_the_publisher_back)
{
	struct region r = region_new(1 << 14);
	format(&r, 4, true, 0);
	struct ipk__bcast pub, sub, drop;
	pub_open(&pub, &r);
	sub_open(&sub, &r, -1, -1); /* the ring's default: block */
	sub_open(&drop, &r, 0, -1);
	cr_assert(sub.block && !drop.block);
	uint64_t n = 0;
	ssize_t rc;
	while ((rc = publish(&pub, n, 64, 0)) > 0)
		n++;
	cr_assert_eq(rc, -EAGAIN, "%s", ipk_last_error());
	cr_assert(strstr(ipk_last_error(), "slow=block") != NULL);
	cr_assert(n > 50);
	cr_assert_eq(publish(&pub, n, 64, 30), -ETIMEDOUT);
	/* reading makes room */
	unsigned char buf[256];
	uint64_t missed, got;
	for (int i = 0; i < 10; i++) {
		ssize_t len = recv_one(&sub, buf, sizeof buf, &missed, 0);
		cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
		cr_assert_eq(got, (uint64_t)i);
		cr_assert_eq(missed, 0);
	}
	cr_assert_eq(publish(&pub, n, 64, 0), (ssize_t)len_for(n, 64));
	n++;
	/* a subscriber that leaves lets the publisher go */
	done(&sub);
	for (int i = 0; i < 1000; i++, n++)
		cr_assert_eq(publish(&pub, n, 64, 0), (ssize_t)len_for(n, 64), "%s",
		             ipk_last_error());
	/* the dropping one was lapped and is told so */
	ssize_t len = recv_one(&drop, buf, sizeof buf, &missed, 0);
	cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
	cr_assert(missed > 0);
	cr_assert_eq(got, missed);
	done(&drop);
	done(&pub);
	region_free(&r);
}

/* ---------------------------------------------------------- history */

Test(bcast, a_late_subscriber_gets_the_last_k_messages)
{
	struct region r = region_new(1 << 16);
	format(&r, 8, false, 5);
	struct ipk__bcast pub, none, five, three, all;
	pub_open(&pub, &r);
	sub_open(&none, &r, -1, 0);
	for (uint64_t n = 0; n < 20; n++)
		cr_assert_eq(publish(&pub, n, 64, 0), (ssize_t)len_for(n, 64));
	sub_open(&five, &r, -1, -1); /* the ring's default */
	sub_open(&three, &r, -1, 3);
	sub_open(&all, &r, -1, 1000000);
	unsigned char buf[256];
	uint64_t missed, got;
	struct {
		struct ipk__bcast *b;
		uint64_t first;
	} want[] = {{&five, 15}, {&three, 17}, {&all, 0}};
	for (size_t i = 0; i < 3; i++) {
		for (uint64_t n = want[i].first; n < 20; n++) {
			ssize_t len = recv_one(want[i].b, buf, sizeof buf, &missed, 0);
			cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
			cr_assert_eq(got, n);
			cr_assert_eq(missed, 0);
		}
		cr_assert_eq(recv_one(want[i].b, buf, sizeof buf, NULL, 0), -EAGAIN);
	}
	/* the one there from the start got everything */
	for (uint64_t n = 0; n < 20; n++) {
		ssize_t len = recv_one(&none, buf, sizeof buf, &missed, 0);
		cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
		cr_assert_eq(got, n);
	}
	/* history reaches back only as far as the ring still holds */
	for (uint64_t n = 20; n < 5000; n++)
		cr_assert_eq(publish(&pub, n, 64, 0), (ssize_t)len_for(n, 64));
	struct ipk__bcast late;
	sub_open(&late, &r, -1, 1000000);
	ssize_t len = recv_one(&late, buf, sizeof buf, &missed, 0);
	cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
	cr_assert(got > 20 && got < 5000);
	cr_assert_eq(missed, 0);
	ipk__bcast_info info;
	cr_assert_eq(ipk__bcast_info_get(&late, &info), 0);
	cr_assert_eq(info.published, 5000);
	cr_assert_eq(info.oldest, got);
	cr_assert_eq(info.subscribers, 5);
	cr_assert_eq(info.publisher, getpid());
	done(&late);
	done(&none);
	done(&five);
	done(&three);
	done(&all);
	done(&pub);
	region_free(&r);
}

/* ---------------------------------------------------- slots and fork */

Test(bcast, slots_run_out_and_dead_subscribers_give_theirs_back)
{
	struct region r = region_new(1 << 16);
	format(&r, 64, false, 0);
	struct ipk__bcast subs[64], extra;
	for (int i = 0; i < 64; i++)
		sub_open(&subs[i], &r, -1, -1);
	cr_assert_eq(sub_try(&extra, &r, -1, -1), -EUSERS);
	cr_assert(strstr(ipk_last_error(), "64") != NULL);
	for (int i = 0; i < 64; i++)
		done(&subs[i]);
	/* 64 children take every slot and die without leaving */
	int go[2];
	cr_assert_eq(pipe(go), 0);
	pid_t kids[64];
	for (int i = 0; i < 64; i++) {
		kids[i] = fork();
		cr_assert(kids[i] >= 0);
		if (kids[i] == 0) {
			struct ipk__bcast b;
			if (sub_try(&b, &r, -1, -1) < 0)
				_exit(1);
			if (write(go[1], "x", 1) != 1)
				_exit(2);
			pause();
			_exit(0);
		}
	}
	for (int i = 0; i < 64; i++)
		ipkt_await(go[0]);
	cr_assert_eq(sub_try(&extra, &r, -1, -1), -EUSERS);
	for (int i = 0; i < 64; i++) {
		kill(kids[i], SIGKILL);
		cr_assert_eq(ipkt_wait_child(kids[i]), 128 + SIGKILL);
	}
	for (int i = 0; i < 64; i++)
		sub_open(&subs[i], &r, -1, -1);
	for (int i = 0; i < 64; i++)
		done(&subs[i]);
	close(go[0]);
	close(go[1]);
	region_free(&r);
}

/* --------------------------------------------------- many processes */

struct verdict {
	uint64_t got, missed, bad, torn, next;
};

/* A child subscriber: read until message *last (which may still change),
   checking every one. */
static void subscriber_child(struct region *r, int block,
                             const _Atomic uint64_t *last,
                             int delay_every, bool zero_copy,
                             struct verdict *v, int ready_fd)
{
	struct ipk__bcast b;
	if (sub_try(&b, r, block, 0) < 0)
		_exit(10);
	b.wait = IPK__WAIT_HYBRID;
	if (write(ready_fd, "x", 1) != 1)
		_exit(11);
	unsigned char buf[70000];
	uint64_t next = 0, told = 0; /* missed, told with a refused message */
	while (next <= atomic_load(last)) {
		uint64_t missed = 0, n = 0;
		ssize_t len;
		bool ok;
		if (zero_copy) {
			const void *p;
			len = ipk__bcast_peek(&b, &p, &missed, ipk__deadline(30000));
			if (len < 0) {
				fprintf(stderr, "peek %zd: %s\n", len, ipk_last_error());
				_exit(12);
			}
			ok = intact(p, (size_t)len, &n);
			if (ipk__bcast_release(&b) == -ESTALE) {
				/* it counts as missed in the next one */
				v->torn++;
				v->missed += missed;
				told += missed;
				continue;
			}
		} else {
			len = recv_one(&b, buf, sizeof buf, &missed, 30000);
			if (len < 0) {
				fprintf(stderr, "recv: %s\n", ipk_last_error());
				_exit(13);
			}
			ok = intact(buf, (size_t)len, &n);
		}
		uint64_t reported = missed;
		missed += told;
		told = 0;
		if (!ok || n != next + missed) {
			fprintf(stderr, "bad: intact %d, got %llu, expected %llu + %llu "
			        "missed (len %zd)\n", ok, (unsigned long long)n,
			        (unsigned long long)next, (unsigned long long)missed, len);
			v->bad++;
		}
		v->got++;
		v->missed += reported;
		next = n + 1;
		if (delay_every && v->got % (uint64_t)delay_every == 0)
			usleep(200);
	}
	v->next = next;
	done(&b);
	_exit(0);
}

static void run_fanout(int nsubs, bool ring_block, size_t region, int count,
                       size_t max, bool zero_copy)
{
	struct region r = region_new(region);
	format(&r, (uint32_t)(nsubs > 64 ? nsubs : 64), ring_block, 0);
	struct verdict *v = ipkt_shared(sizeof *v * (size_t)nsubs);
	_Atomic uint64_t *last = ipkt_shared(sizeof *last);
	atomic_store(last, (uint64_t)count - 1);
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t *kids = calloc((size_t)nsubs, sizeof *kids);
	for (int i = 0; i < nsubs; i++) {
		kids[i] = fork();
		cr_assert(kids[i] >= 0);
		if (kids[i] == 0)
			subscriber_child(&r, -1, last, i % 3 == 0 ? 50 : 0,
			                 zero_copy && i % 2, &v[i], ready[1]);
	}
	for (int i = 0; i < nsubs; i++)
		ipkt_await(ready[0]);
	struct ipk__bcast pub;
	pub_open(&pub, &r);
	for (uint64_t n = 0; n < (uint64_t)count; n++)
		cr_assert_eq(publish(&pub, n, max, 30000), (ssize_t)len_for(n, max),
		             "%s", ipk_last_error());
	uint64_t lost = 0;
	for (int i = 0; i < nsubs; i++) {
		int st = ipkt_wait_child(kids[i]);
		cr_assert_eq(st, 0, "subscriber %d: exit %d", i, st);
		cr_assert_eq(v[i].bad, 0, "subscriber %d: %llu bad", i,
		             (unsigned long long)v[i].bad);
		cr_assert_eq(v[i].got + v[i].missed, (uint64_t)count,
		             "subscriber %d: %llu got, %llu missed, %llu torn", i,
		             (unsigned long long)v[i].got,
		             (unsigned long long)v[i].missed,
		             (unsigned long long)v[i].torn);
		if (ring_block)
			cr_assert_eq(v[i].missed, 0, "subscriber %d lost %llu under "
			             "slow=block", i, (unsigned long long)v[i].missed);
		lost += v[i].missed;
	}
	if (!ring_block)
		cr_assert(lost > 0, "nobody fell behind: the test proves nothing");
	done(&pub);
	free(kids);
	close(ready[0]);
	close(ready[1]);
	munmap(v, sizeof *v * (size_t)nsubs);
	munmap(last, sizeof *last);
	region_free(&r);
}

Test(bcast, block_four_processes_lose_nothing, .timeout = 120)
{
	run_fanout(4, true, 1 << 15, 20000, 2000, true);
}

Test(bcast, drop_four_processes_are_told_what_they_lost, .timeout = 120)
{
	run_fanout(4, false, 1 << 14, 20000, 2000, true);
}

Test(bcast, sixty_four_subscriber_processes, .timeout = 300)
{
	run_fanout(64, true, 1 << 18, 3000, 500, false);
}

/* ------------------------------------------------------------ crashes */

Test(bcast, a_publisher_killed_mid_message_hands_out_nothing_torn)
{
	struct region r = region_new(1 << 15);
	format(&r, 4, false, 0);
	struct ipk__bcast sub;
	sub_open(&sub, &r, -1, -1);
	/* a child publishes 10 messages, then dies halfway through the 11th */
	pid_t kid = fork();
	cr_assert(kid >= 0);
	if (kid == 0) {
		struct ipk__bcast p;
		if (ipk__bcast_attach(&p, r.mem, r.size, IPK__BCAST_PUB, "c") < 0 ||
		    ipk__bcast_pub_register(&p) < 0)
			_exit(1);
		for (uint64_t n = 0; n < 10; n++)
			if (publish(&p, n, 64, 0) < 0)
				_exit(2);
		void *w;
		if (ipk__bcast_borrow(&p, &w, 64, 0) < 0)
			_exit(3);
		memset(w, 0xee, 32);
		raise(SIGKILL);
	}
	cr_assert_eq(ipkt_wait_child(kid), 128 + SIGKILL);
	unsigned char buf[256];
	uint64_t missed, got;
	for (uint64_t n = 0; n < 10; n++) {
		ssize_t len = recv_one(&sub, buf, sizeof buf, &missed, 0);
		cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
		cr_assert_eq(got, n);
	}
	cr_assert_eq(recv_one(&sub, buf, sizeof buf, NULL, 0), -EAGAIN);
	/* a new publisher takes over and the numbering continues */
	struct ipk__bcast pub;
	pub_open(&pub, &r);
	cr_assert_eq(pub.seq, 10);
	for (uint64_t n = 10; n < 3000; n++)
		cr_assert_eq(publish(&pub, n, 64, 0), (ssize_t)len_for(n, 64));
	ssize_t len = recv_one(&sub, buf, sizeof buf, &missed, 0);
	cr_assert(len >= 8 && intact(buf, (size_t)len, &got));
	cr_assert_eq(got, 10 + missed);
	done(&sub);
	done(&pub);
	region_free(&r);
}

/* A publisher that died at each point of its protocol: after committing
   but before counting (tail not moved), after moving head but before
   zeroing (zeroed behind head). The next one finishes the work. */
Test(bcast, a_publisher_killed_between_steps_is_recovered)
{
	struct region r = region_new(1 << 14);
	format(&r, 4, false, 0);
	struct ipk__bcast_hdr *h = r.mem;
	struct ipk__bcast pub, sub;
	pub_open(&pub, &r);
	sub_open(&sub, &r, -1, -1);
	uint64_t n = 0;
	for (; pub.head == 0; n++)
		cr_assert_eq(publish(&pub, n, 100, 0), (ssize_t)len_for(n, 100));
	/* died after the commit of message n-1, before storing tail */
	uint64_t tail_before = atomic_load(&h->tail);
	atomic_store(&h->tail, pub.bpos);
	/* ...and, earlier, after moving head past a record but before zeroing
	   its stamp (head is stored first so a joining blocking subscriber is
	   seen) */
	unsigned char *data = (unsigned char *)r.mem + h->hdr_size;
	uint64_t hd = atomic_load(&h->head), hi = hd % pub.cap;
	uint64_t w1;
	memcpy(&w1, data + hi + 8, 8);
	atomic_store(&h->head, hd + ipk__bc_rec((uint32_t)w1));
	cr_assert_eq(atomic_load(&h->zeroed), hd);
	uint64_t stamp;
	memcpy(&stamp, data + hi, 8);
	cr_assert_neq(stamp, 0);
	atomic_store(&h->pub, (uint64_t)0x7ffffffe); /* a pid that is not alive */
	pub.registered = false;
	struct ipk__bcast p2;
	pub_open(&p2, &r);
	cr_assert_eq(atomic_load(&h->tail), tail_before);
	cr_assert_eq(p2.seq, n);
	cr_assert_eq(atomic_load(&h->zeroed), hd + ipk__bc_rec((uint32_t)w1));
	memcpy(&stamp, data + hi, 8);
	cr_assert_eq(stamp, 0, "the given-up record's stamp was not zeroed");
	/* the subscriber sees every message once */
	for (uint64_t k = 0; k < 50; k++, n++)
		cr_assert_eq(publish(&p2, n, 100, 0), (ssize_t)len_for(n, 100));
	unsigned char buf[256];
	uint64_t missed, got, next = 0;
	ssize_t len;
	while ((len = recv_one(&sub, buf, sizeof buf, &missed, 0)) >= 0) {
		cr_assert(intact(buf, (size_t)len, &got));
		cr_assert_eq(got, next + missed);
		next = got + 1;
	}
	cr_assert_eq(next, n);
	done(&sub);
	done(&p2);
	region_free(&r);
}

/* Subscribers killed at random points (inside receive, holding a peeked
   message, asleep) disturb neither the publisher nor the others, and their
   slots come back. */
Test(bcast, subscribers_killed_at_random_points, .timeout = 300)
{
	struct region r = region_new(1 << 15);
	format(&r, 16, true, 0);
	struct verdict *v = ipkt_shared(sizeof *v * 2);
	_Atomic uint64_t *last = ipkt_shared(2 * sizeof *last);
	_Atomic uint64_t *stop = last + 1;
	atomic_store(last, UINT64_MAX);
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t keep[2];
	for (int i = 0; i < 2; i++) {
		keep[i] = fork();
		cr_assert(keep[i] >= 0);
		if (keep[i] == 0)
			subscriber_child(&r, 1, last, 0, i == 1, &v[i], ready[1]);
	}
	ipkt_await(ready[0]);
	ipkt_await(ready[0]);
	/* the publisher runs until the killing is over */
	pid_t pubkid = fork();
	cr_assert(pubkid >= 0);
	if (pubkid == 0) {
		struct ipk__bcast p;
		if (ipk__bcast_attach(&p, r.mem, r.size, IPK__BCAST_PUB, "c") < 0 ||
		    ipk__bcast_pub_register(&p) < 0)
			_exit(1);
		uint64_t n = 0;
		for (; !atomic_load(stop); n++)
			if (publish(&p, n, 300, 60000) < 0)
				_exit(2);
		atomic_store(last, n);
		if (publish(&p, n, 300, 60000) < 0)
			_exit(3);
		_exit(0);
	}
	/* victims: blocking and dropping, copying and zero-copy, with and
	   without history, killed at random moments */
	unsigned seed = (unsigned)getpid();
	int kills;
	for (kills = 0; kills < 200; kills++) {
		pid_t k = fork();
		cr_assert(k >= 0);
		if (k == 0) {
			struct ipk__bcast b;
			if (sub_try(&b, &r, kills % 2, (kills % 3) * 10) < 0)
				_exit(1);
			unsigned char buf[70000];
			for (;;) {
				if (kills % 4 == 0) {
					const void *p;
					if (ipk__bcast_peek(&b, &p, NULL, ipk__deadline(1000)) >= 0)
						ipk__bcast_release(&b);
				} else {
					recv_one(&b, buf, sizeof buf, NULL, 1000);
				}
			}
		}
		usleep((useconds_t)(rand_r(&seed) % 3000));
		kill(k, SIGKILL);
		ipkt_wait_child(k);
	}
	atomic_store(stop, 1);
	cr_assert_eq(ipkt_wait_child(pubkid), 0, "publisher failed");
	uint64_t count = atomic_load(last) + 1;
	cr_assert(count > 1000, "only %llu messages", (unsigned long long)count);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ipkt_wait_child(keep[i]), 0);
		cr_assert_eq(v[i].bad, 0);
		cr_assert_eq(v[i].missed, 0, "a blocking survivor lost messages");
		cr_assert_eq(v[i].got, count);
	}
	/* every slot can be taken again */
	struct ipk__bcast s[16];
	for (int i = 0; i < 16; i++)
		sub_open(&s[i], &r, -1, -1);
	for (int i = 0; i < 16; i++)
		done(&s[i]);
	close(ready[0]);
	close(ready[1]);
	munmap(v, sizeof *v * 2);
	munmap(last, 2 * sizeof *last);
	region_free(&r);
}

/* --------------------------------------------------- no system calls */

/* With a subscriber attached but not asleep, publishing is free of system
   calls: a seccomp filter kills the publisher at its first one. */
Test(bcast, publishing_makes_no_system_call_while_nobody_sleeps)
{
	struct region r = region_new(1 << 16);
	format(&r, 4, true, 0);
	struct ipk__bcast sub;
	sub_open(&sub, &r, 0, -1);
	pid_t kid = fork();
	cr_assert(kid >= 0);
	if (kid == 0) {
		struct ipk__bcast p;
		if (ipk__bcast_attach(&p, r.mem, r.size, IPK__BCAST_PUB, "c") < 0 ||
		    ipk__bcast_pub_register(&p) < 0)
			_exit(1);
		unsigned char msg[64] = {0};
		/* warm up: the first call reads the blocking subscribers */
		ipk__bcast_publish(&p, msg, sizeof msg, 0);
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			         offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		};
		struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
			_exit(3);
		for (int i = 0; i < 100000; i++)
			if (ipk__bcast_publish(&p, msg, sizeof msg, 0) != sizeof msg)
				_exit(4);
		syscall(SYS_exit_group, 0);
	}
	cr_assert_eq(ipkt_wait_child(kid), 0, "the publisher made a system call "
	             "(or failed)");
	done(&sub);
	region_free(&r);
}

/* A subscriber asleep (and then stopped, so it cannot clear its mark)
   costs the publisher one wake, not a system call per message. */
Test(bcast, a_sleeping_subscriber_costs_one_wake_not_one_per_message)
{
	struct region r = region_new(1 << 16);
	format(&r, 4, false, 0);
	struct ipk__bcast_hdr *h = r.mem;
	pid_t sub = fork();
	cr_assert(sub >= 0);
	if (sub == 0) {
		struct ipk__bcast b;
		if (sub_try(&b, &r, 0, 0) < 0)
			_exit(1);
		b.wait = IPK__WAIT_BLOCK;
		unsigned char buf[256];
		_exit(recv_one(&b, buf, sizeof buf, NULL, 30000) == 64 ? 0 : 2);
	}
	while (atomic_load(&h->waiting[0]) == 0)
		usleep(1000);
	kill(sub, SIGSTOP);
	pid_t kid = fork();
	cr_assert(kid >= 0);
	if (kid == 0) {
		struct ipk__bcast p;
		if (ipk__bcast_attach(&p, r.mem, r.size, IPK__BCAST_PUB, "c") < 0 ||
		    ipk__bcast_pub_register(&p) < 0)
			_exit(1);
		unsigned char msg[64] = {0};
		if (ipk__bcast_publish(&p, msg, sizeof msg, 0) != sizeof msg)
			_exit(2);
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			         offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		};
		struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
			_exit(3);
		for (int i = 0; i < 1000; i++)
			if (ipk__bcast_publish(&p, msg, sizeof msg, 0) != sizeof msg)
				_exit(4);
		syscall(SYS_exit_group, 0);
	}
	int st = ipkt_wait_child(kid);
	kill(sub, SIGCONT);
	cr_assert_eq(st, 0, "the publisher made a system call per message for a "
	             "subscriber that stayed asleep (status %d)", st);
	cr_assert_eq(ipkt_wait_child(sub), 0);
	region_free(&r);
}

/* ------------------------------------------------------------- waking */

Test(bcast, a_sleeping_subscriber_is_woken_and_the_fd_polls)
{
	struct region r = region_new(1 << 16);
	format(&r, 4, false, 0);
	struct ipk__bcast sub;
	sub_open(&sub, &r, -1, -1);
	sub.wait = IPK__WAIT_BLOCK;
	int fd = ipk__bcast_fd(&sub);
	cr_assert(fd >= 0, "%s", ipk_last_error());
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 0), 0);
	pid_t kid = fork();
	cr_assert(kid >= 0);
	if (kid == 0) {
		struct ipk__bcast pb;
		if (ipk__bcast_attach(&pb, r.mem, r.size, IPK__BCAST_PUB, "c") < 0 ||
		    ipk__bcast_pub_register(&pb) < 0)
			_exit(1);
		usleep(100000);
		if (ipk__bcast_publish(&pb, "ring!ring", 9, 0) != 9)
			_exit(2);
		usleep(100000);
		if (ipk__bcast_publish(&pb, "again....", 9, 0) != 9)
			_exit(3);
		_exit(0);
	}
	cr_assert_eq(poll(&p, 1, 5000), 1);
	unsigned char buf[64];
	cr_assert_eq(recv_one(&sub, buf, sizeof buf, NULL, 0), 9);
	cr_assert_eq(memcmp(buf, "ring!ring", 9), 0);
	cr_assert_eq(poll(&p, 1, 0), 0, "readable with nothing to read");
	/* asleep in the receive (futex) */
	cr_assert_eq(recv_one(&sub, buf, sizeof buf, NULL, 5000), 9);
	cr_assert_eq(memcmp(buf, "again....", 9), 0);
	cr_assert_eq(ipkt_wait_child(kid), 0);
	done(&sub);
	region_free(&r);
}

/* ------------------------------------------------------ topic filter */

static bool starts_with_a(void *arg, const void *msg, size_t len)
{
	(void)arg;
	return len > 0 && *(const char *)msg == 'a';
}

Test(bcast, a_filter_skips_messages_without_counting_them_missed)
{
	struct region r = region_new(1 << 16);
	format(&r, 4, false, 0);
	struct ipk__bcast pub, sub;
	pub_open(&pub, &r);
	sub_open(&sub, &r, -1, -1);
	sub.match = starts_with_a;
	const char *msgs[] = {"apple", "banana", "avocado", "cherry"};
	for (int i = 0; i < 4; i++)
		ipk__bcast_publish(&pub, msgs[i], strlen(msgs[i]), 0);
	cr_assert_eq(ipk__bcast_readable(&sub), 1);
	char buf[64];
	uint64_t missed = 7;
	cr_assert_eq(recv_one(&sub, buf, sizeof buf, &missed, 0), 5);
	cr_assert_eq(memcmp(buf, "apple", 5), 0);
	cr_assert_eq(missed, 0);
	cr_assert_eq(recv_one(&sub, buf, sizeof buf, &missed, 0), 7);
	cr_assert_eq(memcmp(buf, "avocado", 7), 0);
	cr_assert_eq(missed, 0);
	cr_assert_eq(ipk__bcast_readable(&sub), 0);
	cr_assert_eq(recv_one(&sub, buf, sizeof buf, NULL, 0), -EAGAIN);
	done(&sub);
	done(&pub);
	region_free(&r);
}

/* ------------------------------------------------------ hostile bytes */

/* Corrupt each field the library reads from the region: every call gives
   an error naming it (or recovers), none touches memory outside (the
   region ends at a guard page). */
Test(bcast, a_corrupt_ring_is_an_error_never_a_wild_access)
{
	struct region r = region_new(1 << 14);
	struct ipk__bcast_hdr *h = r.mem;
	unsigned char buf[70000];
	for (int field = 0; field < 9; field++) {
		format(&r, 4, true, 3);
		struct ipk__bcast pub, sub, blk;
		pub_open(&pub, &r);
		sub_open(&sub, &r, 0, -1);
		sub_open(&blk, &r, 1, -1);
		for (uint64_t n = 0; n < 20; n++)
			publish(&pub, n, 100, 0);
		unsigned char *data = (unsigned char *)r.mem + h->hdr_size;
		const char *want = NULL;
		switch (field) {
		case 0: /* a length that runs past the end */
			memset(data + sub.pidx + 8, 0xff, 4);
			want = "record length";
			break;
		case 1: /* flags in word 1 */
			data[sub.pidx + 12] = 0x40;
			want = "record length";
			break;
		case 2: /* a stamp nobody wrote */
			memset(data + sub.pidx, 0x5a, 8);
			want = "stamp";
			break;
		case 3: /* head not aligned */
			atomic_store(&h->head, atomic_load(&h->head) + 3);
			memset(data + sub.pidx, 0, 8);
			want = "oldest record position";
			break;
		case 4: /* tail not aligned: seen by the next publisher (below) */
			want = "publisher position";
			break;
		case 5: /* zeroed ahead of head: likewise */
			want = "zeroed position";
			break;
		case 6: /* a blocking position far out of range */
			atomic_store(&h->slots[blk.slot].pos, UINT64_MAX - 15);
			want = NULL;
			break;
		case 7: /* mask bits for slots that do not exist */
			atomic_store(&h->blocking[0], ~UINT64_C(0));
			atomic_store(&h->waiting[0], ~UINT64_C(0));
			atomic_store(&h->armed[0], ~UINT64_C(0));
			want = NULL;
			break;
		case 8: /* the record chain from head */
			memset(data + pub.hidx + 8, 0xff, 8);
			want = NULL;
			break;
		}
		/* the subscriber */
		ssize_t rc = recv_one(&sub, buf, sizeof buf, NULL, 100);
		if (want && field <= 3) {
			cr_expect_eq(rc, -EPROTO, "field %d: %zd %s", field, rc,
			             ipk_last_error());
			cr_expect(strstr(ipk_last_error(), want) != NULL, "field %d: %s",
			          field, ipk_last_error());
		}
		/* the publisher goes on (or reports the corruption) */
		for (uint64_t n = 20; n < 400; n++) {
			rc = publish(&pub, n, 100, 0);
			if (rc < 0) {
				cr_expect(rc == -EPROTO || rc == -EAGAIN, "field %d: %zd %s",
				          field, rc, ipk_last_error());
				break;
			}
		}
		/* a new publisher and a new subscriber look at it all */
		done(&pub);
		if (field == 4)
			atomic_store(&h->tail, atomic_load(&h->tail) + 8);
		if (field == 5)
			atomic_store(&h->zeroed, atomic_load(&h->head) + 4096);
		struct ipk__bcast p2, s2;
		if (ipk__bcast_attach(&p2, r.mem, r.size, IPK__BCAST_PUB, "t") == 0) {
			int prc = ipk__bcast_pub_register(&p2);
			if (want && (field == 4 || field == 5)) {
				cr_expect_eq(prc, -EPROTO, "field %d: %d", field, prc);
				cr_expect(strstr(ipk_last_error(), want) != NULL,
				          "field %d: %s", field, ipk_last_error());
			}
			if (prc == 0)
				done(&p2);
		}
		if (sub_try(&s2, &r, 0, 1000) == 0) {
			for (int k = 0; k < 50; k++)
				if (recv_one(&s2, buf, sizeof buf, NULL, 0) < 0)
					break;
			done(&s2);
		}
		for (int k = 0; k < 50; k++)
			if (recv_one(&blk, buf, sizeof buf, NULL, 0) < 0)
				break;
		done(&sub);
		done(&blk);
		memset(r.mem, 0, r.size);
	}
	region_free(&r);
}

/* Random bytes everywhere: nothing but errors, no access outside. */
Test(bcast, random_regions_are_errors)
{
	struct region r = region_new(1 << 14);
	unsigned seed = 12345;
	unsigned char buf[70000];
	for (int round = 0; round < 300; round++) {
		format(&r, 4, round % 2, (unsigned)round % 5);
		struct ipk__bcast_hdr *h = r.mem;
		unsigned char *p = r.mem;
		size_t hs = h->hdr_size;
		/* scribble over positions, masks, slots and records, keep identity */
		int scribbles = 1 + (int)(rand_r(&seed) % 40);
		for (int i = 0; i < scribbles; i++) {
			size_t off = 128 + (size_t)rand_r(&seed) % (r.size - 136);
			if (off < hs && rand_r(&seed) % 2)
				off = 128 + (size_t)rand_r(&seed) % (hs - 136);
			uint64_t v = ((uint64_t)rand_r(&seed) << 33) ^ (uint64_t)rand_r(&seed);
			if (rand_r(&seed) % 3 == 0)
				v &= 0xfff0;
			memcpy(p + off, &v, 8);
		}
		struct ipk__bcast pub, sub;
		if (ipk__bcast_attach(&pub, r.mem, r.size, IPK__BCAST_PUB, "r") == 0 &&
		    ipk__bcast_pub_register(&pub) == 0) {
			for (uint64_t n = 0; n < 200; n++)
				if (publish(&pub, n, 300, 0) < 0)
					break;
			done(&pub);
		}
		if (sub_try(&sub, &r, (int)(round % 2), (int)(round % 7)) == 0) {
			for (int k = 0; k < 200; k++) {
				if (k % 2) {
					const void *q;
					if (ipk__bcast_peek(&sub, &q, NULL, 0) < 0)
						break;
					ipk__bcast_release(&sub);
				} else if (recv_one(&sub, buf, sizeof buf, NULL, 0) < 0) {
					break;
				}
			}
			ipk__bcast_readable(&sub);
			done(&sub);
		}
		memset(r.mem, 0, r.size);
	}
	region_free(&r);
}
