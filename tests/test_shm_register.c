/*
 * Registration and unregistration killed at every step. A child stops
 * itself with SIGKILL at one named step of ipk__ring_register or
 * ipk__ring_detach (through ipk__ring_hook); the others must then find a
 * consistent ring: ipk_ring_info counts exactly the live processes, a new
 * producer attaches and is received, nothing is counted twice or below
 * zero. And the state a producer killed right after claiming its slot
 * leaves, written by hand: a later producer that takes that slot over is
 * counted and received.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/ring.h"

static const char *target;

static void die_at(const char *step)
{
	if (strcmp(step, target) == 0)
		raise(SIGKILL);
}

static const char *const register_steps[] = {
	"register:start", "register:claimed", "register:reset", "register:done"};
static const char *const detach_steps[] = {
	"detach:start", "detach:reset", "detach:released"};

enum who { PRODUCER, CONSUMER };

/* A child that dials (or listens) and closes, killed at `step`. */
static void child_dies_at(const char *url, enum who who, const char *step)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		target = step;
		ipk__ring_hook = die_at;
		ipk_chan *c;
		int rc = who == PRODUCER ? ipk_dial(&c, url, 5000)
		                         : ipk_listen(&c, url);
		if (rc < 0)
			_exit(3);
		if (who == PRODUCER && ipk_send(c, "dying", 5, 5000) != 5)
			_exit(4);
		ipk_close(c);
		_exit(5); /* the step was never reached */
	}
	int st = ipkt_wait_child(pid);
	cr_assert_eq(st, 128 + SIGKILL, "child did not die at %s (status %d)",
	             step, st);
}

static void expect_counts(ipk_chan *c, int producers, int consumers,
                          const char *when)
{
	ipk_ringinfo info;
	cr_assert_eq(ipk_ring_info(c, &info), 0);
	cr_expect_eq(info.producers, producers, "%s: producers %d, expected %d",
	             when, info.producers, producers);
	cr_expect_eq(info.consumers, consumers, "%s: consumers %d, expected %d",
	             when, info.consumers, consumers);
}

/* A producer killed at each step; then a live one sends and is counted. */
static void producer_killed(const char *opts)
{
	const char *const *lists[] = {register_steps, detach_steps};
	size_t lens[] = {4, 3};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < lens[l]; i++) {
			const char *step = lists[l][i];
			char url[300];
			snprintf(url, sizeof url, "shm:%s?%s", ipkt_name("reg"), opts);
			ipk_chan *rx = ipkt_listen_ok(url);
			child_dies_at(url, PRODUCER, step);
			/* what it sent before dying (detach steps) is there */
			char buf[16];
			ssize_t n;
			while ((n = ipk_recv(rx, buf, sizeof buf, 0)) > 0)
				cr_expect_eq(n, 5, "%s", step);
			cr_expect_eq(n, -EAGAIN, "%s: %s", step, ipk_last_error());
			expect_counts(rx, 0, 1, step);
			/* a live producer: attached, counted, received */
			ipk_chan *tx = ipkt_dial_ok(url);
			expect_counts(rx, 1, 1, step);
			expect_counts(tx, 1, 1, step);
			cr_expect_eq(ipk_send(tx, "alive", 5, 2000), 5, "%s: %s", step,
			             ipk_last_error());
			cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 2000), 5, "%s: %s",
			             step, ipk_last_error());
			ipk_close(tx);
			expect_counts(rx, 0, 1, step);
			ipk_close(rx);
			cr_expect_eq(ipk_remove(url), -ENOENT, "%s left behind", url);
		}
}

Test(reg, spsc_producer_killed_at_each_step) { producer_killed("size=64K"); }
Test(reg, mpmc_producer_killed_at_each_step)
{
	producer_killed("size=64K&mpmc");
}

/* A consumer killed at each step; a new listener takes the ring over and
   receives what was sent meanwhile. */
static void consumer_killed(const char *opts)
{
	const char *const *lists[] = {register_steps, detach_steps};
	size_t lens[] = {4, 3};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < lens[l]; i++) {
			const char *step = lists[l][i];
			char url[300];
			snprintf(url, sizeof url, "shm:%s?%s", ipkt_name("reg"), opts);
			/* the ring made first, so the child only registers */
			char persist[320];
			snprintf(persist, sizeof persist, "%s&persist", url);
			ipk_close(ipkt_listen_ok(persist));
			child_dies_at(url, CONSUMER, step);
			ipk_chan *tx = ipkt_dial_ok(url);
			expect_counts(tx, 1, 0, step);
			cr_expect_eq(ipk_send(tx, "queued", 6, 2000), 6, "%s: %s", step,
			             ipk_last_error());
			ipk_chan *rx = ipkt_listen_ok(url);
			expect_counts(rx, 1, 1, step);
			char buf[16];
			cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 2000), 6, "%s: %s",
			             step, ipk_last_error());
			ipk_close(tx);
			ipk_close(rx);
			ipk_remove(url);
		}
}

Test(reg, spsc_consumer_killed_at_each_step) { consumer_killed("size=64K"); }
Test(reg, mpmc_consumer_killed_at_each_step)
{
	consumer_killed("size=64K&mpmc");
}

/*
 * Written by hand: the slot of a producer that was killed right after it
 * claimed the slot (its pid there, nothing else done). The next producer
 * takes that slot over; it must be counted and its messages received, and
 * the count may not go below zero when it leaves.
 */
Test(reg, slot_of_a_producer_killed_after_claiming_it)
{
	char url[300];
	snprintf(url, sizeof url, "shm:%s?size=64K", ipkt_name("hand"));
	ipk_chan *rx = ipkt_listen_ok(url);
	pid_t dead = fork();
	cr_assert_neq(dead, -1);
	if (dead == 0)
		_exit(0);
	cr_assert_eq(ipkt_wait_child(dead), 0);
	char plain[300];
	snprintf(plain, sizeof plain, "%.*s", (int)strcspn(url, "?"), url);
	ipk_region *reg;
	cr_assert_eq(ipk_region_open(&reg, plain, 0, IPK_REGION_ATTACH), 0);
	struct ipk__ring_hdr *h = ipk_region_addr(reg);
	/* slot 0 consumers, slot 1 the producer */
	atomic_store(&h->slots[1].owner, (uint64_t)dead | ((uint64_t)12345 << 22));
	ipk_chan *tx = ipkt_dial_ok(url);
	expect_counts(rx, 1, 1, "after the take-over");
	cr_expect_eq(ipk_send(tx, "live", 4, 2000), 4);
	char buf[8];
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 2000), 4, "%s",
	             ipk_last_error());
	ipk_close(tx);
	expect_counts(rx, 0, 1, "after it left");
	/* and the receive waits for the next, rather than ending */
	cr_expect_eq(ipk_recv(rx, buf, sizeof buf, 100), -ETIMEDOUT);
	ipk_region_detach(reg);
	ipk_close(rx);
}

/*
 * MPMC: a producer that has taken the bias (it reserves without the lock)
 * killed inside a reservation, before and after writing the record's
 * header: the next producer revokes the bias, finds the holder dead,
 * finishes its section, and everything that was committed arrives.
 */
static void bias_holder_killed(const char *step)
{
	char url[300];
	snprintf(url, sizeof url, "shm:%s?size=64K&mpmc", ipkt_name("bias"));
	ipk_chan *rx = ipkt_listen_ok(url);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *tx;
		if (ipk_dial(&tx, url, 5000) < 0)
			_exit(3);
		/* enough sends, alone, to take the bias */
		for (int i = 0; i < 500; i++)
			if (ipk_send(tx, &i, sizeof i, 5000) != sizeof i)
				_exit(4);
		target = step;
		ipk__ring_hook = die_at;
		int i = 500;
		ipk_send(tx, &i, sizeof i, 5000);
		_exit(5); /* the step was never reached */
	}
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL,
	             "the producer did not die at %s", step);
	int64_t t0 = ipkt_now_ms();
	ipk_chan *tx = ipkt_dial_ok(url);
	int last = 501;
	cr_expect_eq(ipk_send(tx, &last, sizeof last, 5000), sizeof last, "%s: %s",
	             step, ipk_last_error());
	cr_expect_lt(ipkt_now_ms() - t0, 3000, "%s: the dead holder's bias held "
	             "the next producer for %lld ms", step,
	             (long long)(ipkt_now_ms() - t0));
	for (int i = 0; i < 500; i++) {
		int v = -1;
		cr_assert_eq(ipk_recv(rx, &v, sizeof v, 2000), sizeof v, "%s: %s",
		             step, ipk_last_error());
		cr_assert_eq(v, i, "%s", step);
	}
	/* the message being sent when it died arrives whole, or not at all */
	int v = -1;
	cr_expect_eq(ipk_recv(rx, &v, sizeof v, 2000), sizeof v, "%s: %s", step,
	             ipk_last_error());
	if (v == 500)
		cr_expect_eq(ipk_recv(rx, &v, sizeof v, 2000), sizeof v, "%s: %s",
		             step, ipk_last_error());
	cr_expect_eq(v, last, "%s", step);
	cr_expect_eq(ipk_recv(rx, &v, sizeof v, 0), -EAGAIN, "%s", step);
	ipk_close(tx);
	ipk_close(rx);
}

Test(reg, mpmc_bias_holder_killed_before_writing)
{
	bias_holder_killed("section:biased");
}
Test(reg, mpmc_bias_holder_killed_after_writing)
{
	bias_holder_killed("reserve:written");
}

/*
 * MPMC: a consumer that holds the consumers' bias takes records on the
 * fast path and zeroes each header before it moves the head. Killed
 * between the two, it leaves a 0 at the head behind the tail: the next
 * consumer steps over that record (its message went with the reader) and
 * receives everything after it, rather than waiting there for good.
 */
Test(reg, mpmc_bias_consumer_killed_after_zeroing, .timeout = 60)
{
	char url[300];
	snprintf(url, sizeof url, "shm:%s?size=64K&mpmc", ipkt_name("cbias"));
	ipk_chan *rx = ipkt_listen_ok(url);
	ipk_chan *tx = ipkt_dial_ok(url);
	for (int i = 0; i < 600; i++)
		cr_assert_eq(ipk_send(tx, &i, sizeof i, 2000), sizeof i, "%s",
		             ipk_last_error());
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *c;
		if (ipk_listen(&c, url) < 0)
			_exit(3);
		/* enough receives, alone, to take the bias */
		for (int i = 0; i < 300; i++) {
			int v = -1;
			if (ipk_recv(c, &v, sizeof v, 5000) != sizeof v || v != i)
				_exit(4);
		}
		/* only a header that starts a cache line is zeroed: one of the
		   next few (32-byte records) */
		target = "recv:zeroed";
		ipk__ring_hook = die_at;
		for (int i = 0; i < 8; i++) {
			int v;
			ipk_recv(c, &v, sizeof v, 5000);
		}
		_exit(5); /* the step was never reached */
	}
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL,
	             "the consumer did not die with the header zeroed");
	int64_t t0 = ipkt_now_ms();
	int first = -1;
	cr_assert_eq(ipk_recv(rx, &first, sizeof first, 2000), sizeof first, "%s",
	             ipk_last_error());
	/* the dying reader's message went with it; nothing else did */
	cr_assert(first > 300 && first <= 308, "first after the hole: %d", first);
	for (int i = first + 1; i < 600; i++) {
		int v = -1;
		cr_assert_eq(ipk_recv(rx, &v, sizeof v, 2000), sizeof v, "%d: %s", i,
		             ipk_last_error());
		cr_assert_eq(v, i);
	}
	cr_expect_lt(ipkt_now_ms() - t0, 3000, "the hole held the next consumer "
	             "for %lld ms", (long long)(ipkt_now_ms() - t0));
	int v = -1;
	cr_expect_eq(ipk_recv(rx, &v, sizeof v, 0), -EAGAIN);
	/* and the ring keeps working, lap after lap */
	for (int i = 0; i < 10000; i++) {
		cr_assert_eq(ipk_send(tx, &i, sizeof i, 2000), sizeof i);
		cr_assert_eq(ipk_recv(rx, &v, sizeof v, 2000), sizeof v, "%s",
		             ipk_last_error());
		cr_assert_eq(v, i);
	}
	ipk_close(tx);
	ipk_close(rx);
}
