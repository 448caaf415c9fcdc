/*
 * Fan-out rows (publish/subscribe): one sender, several receivers, each an
 * echo process of its own. Such a mechanism may drop messages (nng's PUB
 * does when a subscriber falls behind), so the stream cannot end on one
 * stop message answered through the channel:
 *
 * 1. the runner repeats a "sync" message (every ms) until every receiver
 *    has said, over the harness's own answer pipe, that one arrived;
 * 2. the clock starts; data messages for the run's time;
 * 3. the runner repeats a stop message (every ms) until every receiver has
 *    answered with the number of data messages it got; the clock stops at
 *    the last answer.
 *
 * Sync and stop carry the run's number, so a repeat left over from an
 * earlier run is never taken for this one's. The rate is what the receiver
 * that got the fewest received, per second; what was sent is kept beside
 * it (the JSON's "sent"), so a lossy mechanism shows as such.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define FAN_GIVE_UP_NS ((int64_t)10 * 1000000000)

static uint32_t run_no;

static void mark(unsigned char *buf, char what, uint32_t run)
{
	buf[0] = (unsigned char)what;
	memcpy(buf + 1, &run, sizeof run);
}

/* Take the answers of this run that arrive within ms; count new ones. */
static void collect(struct bench_phase *ph, uint32_t run, int type,
                    bool *seen, long *count, int *nseen, int ms)
{
	struct pollfd pfd = {.fd = ph->ansfd, .events = POLLIN};
	if (poll(&pfd, 1, ms) <= 0)
		return;
	struct bench_fan_msg m;
	while (read(ph->ansfd, &m, sizeof m) == (ssize_t)sizeof m) {
		if (m.run != run || m.type != type || m.index < 0 ||
		    m.index >= ph->nechoes || seen[m.index])
			continue;
		seen[m.index] = true;
		if (count)
			count[m.index] = (long)m.count;
		(*nseen)++;
	}
}

static int send_one(struct bench_phase *ph)
{
	ssize_t n = ph->d->send(ph->l, ph->tx, ph->size);
	return n < 0 ? (int)n : 0;
}

int bench_fanout_stream(struct bench_phase *ph, struct bench_result *r)
{
	const struct bench_config *cfg = ph->l->job->cfg;
	int64_t budget = bench_run_ns(cfg);
	int n = ph->nechoes;
	for (int rnd = 0; rnd < 2; rnd++) {
		uint32_t run = ++run_no;
		unsigned char cmd[5];
		mark(cmd, CMD_FANOUT, run);
		for (int k = 0; k < n; k++)
			if (!bench_write_full(ph->cmdfd[k], cmd, sizeof cmd))
				return bench_fail(ph->l, -EPIPE, "receiver %d is gone", k);

		bool heard[BENCH_MAX_FANOUT] = {false}, done[BENCH_MAX_FANOUT] = {false};
		long count[BENCH_MAX_FANOUT] = {0};
		int nheard = 0, ndone = 0, rc;
		int64_t give_up = bench_now_ns() + FAN_GIVE_UP_NS;
		mark(ph->tx, BENCH_SYNC, run);
		while (nheard < n) {
			if ((rc = send_one(ph)) < 0)
				return rc;
			if (ph->d->flush && (rc = ph->d->flush(ph->l)) < 0)
				return rc;
			collect(ph, run, FAN_HEARD, heard, NULL, &nheard, 1);
			if (nheard < n && bench_now_ns() > give_up)
				return bench_fail(ph->l, -ETIMEDOUT, "%d of %d receivers "
				                  "heard nothing in 10 s", n - nheard, n);
		}

		ph->tx[0] = BENCH_DATA;
		int64_t t0 = bench_now_ns(), end = t0 + (rnd ? budget : budget / 2);
		long sent = 0;
		while (sent < cfg->iterations) {
			if ((rc = send_one(ph)) < 0)
				return rc;
			sent++;
			if (sent >= 5 && bench_now_ns() >= end)
				break;
		}

		mark(ph->tx, BENCH_STOP, run);
		int64_t t1 = 0;
		give_up = bench_now_ns() + FAN_GIVE_UP_NS;
		while (ndone < n) {
			if ((rc = send_one(ph)) < 0)
				return rc;
			if (ph->d->flush && (rc = ph->d->flush(ph->l)) < 0)
				return rc;
			collect(ph, run, FAN_DONE, done, count, &ndone, 1);
			t1 = bench_now_ns();
			if (ndone < n && t1 > give_up)
				return bench_fail(ph->l, -ETIMEDOUT, "%d of %d receivers "
				                  "did not see the end of the stream in 10 s",
				                  n - ndone, n);
		}
		ph->tx[0] = BENCH_DATA;
		long fewest = count[0];
		for (int k = 1; k < n; k++)
			if (count[k] < fewest)
				fewest = count[k];
		if (rnd > 0)
			bench_thr_record(r, fewest, sent, (double)(t1 - t0) / 1e9);
	}
	return 0;
}

static void answer(const struct bench_link *l, int ansfd, int type,
                   uint32_t run, long count)
{
	struct bench_fan_msg m = {.index = l->index, .type = type, .run = run,
	                          .count = count};
	if (!bench_write_full(ansfd, &m, sizeof m))
		_exit(1); /* the runner is gone */
}

void bench_fanout_echo(struct bench_link *l, int cmdfd, int ansfd,
                       unsigned char *buf)
{
	const struct bench_driver *d = l->job->s->row->drv;
	uint32_t run;
	if (!bench_read_full(cmdfd, &run, sizeof run))
		_exit(0);
	bool heard = false;
	long count = 0;
	for (;;) {
		ssize_t n = d->recv(l, buf, l->job->size);
		if (n < 0)
			bench_echo_die(l, (int)n);
		uint32_t got = 0;
		if (n >= 5)
			memcpy(&got, buf + 1, sizeof got);
		if (buf[0] == BENCH_DATA) {
			count++;
		} else if (buf[0] == BENCH_SYNC && got == run && !heard) {
			heard = true;
			answer(l, ansfd, FAN_HEARD, run, 0);
		} else if (buf[0] == BENCH_STOP && got == run) {
			answer(l, ansfd, FAN_DONE, run, count);
			return;
		}
	}
}
