/*
 * MPMC: a process of a side revoking the side's bias must not run its
 * section while the bias holder is still in one, even when it gives up
 * waiting for the holder (its deadline passed: a try-receive, or a
 * consumer about to sleep freeing dead readers' records, which never
 * waits). The next process of that side must then wait for the holder
 * too, not find the bias gone and walk in.
 *
 * Under load a holder preempted inside its section met exactly that:
 * two consumers in their sections at once moved the head or the release
 * frontier back, and producers wrote over records still being read
 * ("record header from another lap", "record header", messages delivered
 * twice) in the 4x4 stress test.
 */
#define _GNU_SOURCE
#include "util.h"
#include "ring_tsan.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shm/ring.h"
#include "shm/ring_sync.h"

#define MSGS 600
#define TAKE_BIAS 300

static int in_fd = -1, go_fd = -1;

/* Inside the holder's section: tell the test, and wait for its word. */
static void hold_section(const char *step)
{
	if (strcmp(step, "recv:zeroed") != 0)
		return;
	ipk__ring_hook = NULL;
	char b;
	if (write(in_fd, "i", 1) != 1 || read(go_fd, &b, 1) != 0)
		_exit(9);
}

struct got {
	_Atomic int held; /* how many the holder received */
	int seen[MSGS];   /* who received each message: 1 holder, 2 the test */
};

Test(bias, consumer_revoker_that_gives_up_keeps_others_out, .timeout = 60)
{
	/* no bias without the asymmetric fence (nor under ThreadSanitizer,
	   which does not model it): then there is nothing to revoke */
	if (!ipk__fence_light())
		cr_skip_test("no membarrier: MPMC sides take no bias here");
	char url[300];
	snprintf(url, sizeof url, "shm:%s?size=64K&mpmc", ipkt_name("revoke"));
	ipk_chan *rx = ipkt_listen_ok(url);
	ipk_chan *tx = ipkt_dial_ok(url);
	for (int i = 0; i < MSGS; i++)
		cr_assert_eq(ipk_send(tx, &i, sizeof i, 2000), sizeof i, "%s",
		             ipk_last_error());
	struct got *got = ipkt_shared(sizeof *got);
	int in[2], go[2];
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(go), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(in[0]);
		close(go[1]);
		in_fd = in[1];
		go_fd = go[0];
		ipk_chan *c;
		if (ipk_listen(&c, url) < 0)
			_exit(3);
		/* enough receives, alone, to take the consumers' bias */
		int i = 0;
		for (; i < TAKE_BIAS; i++) {
			int v = -1;
			if (ipk_recv(c, &v, sizeof v, 5000) != sizeof v || v != i)
				_exit(4);
			got->seen[v] = 1;
		}
		/* stop inside the fast path's section (at a header that starts
		   a cache line: one of the next few 32-byte records), after
		   the header is zeroed and before the head moves */
		ipk__ring_hook = hold_section;
		for (; i < TAKE_BIAS + 8; i++) {
			int v = -1;
			if (ipk_recv(c, &v, sizeof v, 5000) != sizeof v || v < 0 ||
			    v >= MSGS)
				_exit(5);
			got->seen[v] = 1;
			if (ipk__ring_hook == NULL)
				break;
		}
		atomic_store(&got->held, i + 1);
		_exit(ipk_close(c) == 0 ? 0 : 6);
	}
	close(in[1]);
	close(go[0]);
	ipkt_await(in[0]); /* the holder is in its section */
	/* the revoke cannot finish while the holder is in its section, and a
	   receiver that gives up on it must leave the next one waiting too:
	   none of these may take a message (the second used to find the
	   bias gone and step over the holder's record; the third took the
	   record after it) */
	int v = -1;
	static int mine[MSGS]; /* what this side received, by message */
	for (int k = 0; k < 4; k++) {
		ssize_t n = ipk_recv(rx, &v, sizeof v, k < 3 ? 0 : 200);
		cr_expect_eq(n, k < 3 ? -EAGAIN : -ETIMEDOUT,
		             "receive %d with the holder in its section: %zd "
		             "(message %d)", k, n, v);
		if (n == sizeof v && v >= 0 && v < MSGS)
			mine[v]++;
	}
	close(go[1]); /* let the holder go on */
	cr_assert_eq(ipkt_wait_child(pid), 0, "the holder failed");
	int held = atomic_load(&got->held);
	cr_assert(held > TAKE_BIAS && held <= TAKE_BIAS + 8, "held %d", held);
	/* everything else arrives, each message once, in order */
	for (int i = held; i < MSGS; i++) {
		v = -1;
		cr_assert_eq(ipk_recv(rx, &v, sizeof v, 2000), sizeof v, "%d: %s", i,
		             ipk_last_error());
		cr_assert_eq(v, i, "after the holder: %d where %d was due", v, i);
		cr_expect_eq(mine[i], 0, "message %d delivered twice", i);
	}
	cr_expect_eq(ipk_recv(rx, &v, sizeof v, 0), -EAGAIN, "left over: %d", v);
	for (int i = 0; i < held; i++)
		cr_expect_eq(got->seen[i], 1, "message %d not received by the holder",
		             i);
	/* and the ring keeps working, lap after lap */
	for (int i = 0; i < 10000; i++) {
		cr_assert_eq(ipk_send(tx, &i, sizeof i, 2000), sizeof i);
		cr_assert_eq(ipk_recv(rx, &v, sizeof v, 2000), sizeof v, "%s",
		             ipk_last_error());
		cr_assert_eq(v, i);
	}
	close(in[0]);
	ipk_close(tx);
	ipk_close(rx);
}
