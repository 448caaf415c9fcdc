/*
 * Peer row: Boost.Interprocess message_queue, what C++ users reach for.
 * Like a mailbox row: two queues, one each way, made by the runner before
 * fork and attached to after it by each process; blocking send and
 * receive. Its depth holds about 1 MiB of messages (8 to 1024 of them),
 * like the ring it is compared with.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "peer_bipc.h"

#include <errno.h>
#include <string.h>

static size_t depth_for(size_t size)
{
	size_t d = ((size_t)1 << 20) / (size ? size : 1);
	return d < 8 ? 8 : d > 1024 ? 1024 : d;
}

static int bipc_prepare(struct bench_link *l)
{
	const struct bench_job *j = l->job;
	for (int side = 0; side < 2; side++) {
		bench_bipc_remove(j->name[side]);
		int rc = bench_bipc_create(j->name[side], depth_for(j->size), j->size,
		                           l->err, sizeof l->err);
		if (rc < 0) {
			l->code = rc;
			return rc;
		}
	}
	return 0;
}

/* in: this process's inbox (the runner's is side 0), out: the other's */
static int attach(struct bench_link *l, int inbox)
{
	struct bench_bipc *in = NULL, *out = NULL;
	int rc = bench_bipc_open(&in, l->job->name[inbox], l->err, sizeof l->err);
	if (rc == 0)
		rc = bench_bipc_open(&out, l->job->name[!inbox], l->err,
		                     sizeof l->err);
	if (rc < 0) {
		bench_bipc_close(in);
		l->code = rc;
		return rc;
	}
	l->ctx = in;
	l->sock = out;
	return 0;
}

static int bipc_echo_open(struct bench_link *l)
{
	return attach(l, 1);
}

static int bipc_runner_open(struct bench_link *l)
{
	return attach(l, 0);
}

static ssize_t bipc_send(struct bench_link *l, const void *buf, size_t len)
{
	int rc = bench_bipc_send(l->sock, buf, len, l->err, sizeof l->err);
	if (rc < 0)
		return l->code = rc;
	return (ssize_t)len;
}

static ssize_t bipc_recv(struct bench_link *l, void *buf, size_t cap)
{
	ssize_t n = bench_bipc_recv(l->ctx, buf, cap, l->err, sizeof l->err);
	if (n < 0)
		l->code = (int)n;
	return n;
}

static void bipc_cleanup(const struct bench_job *j)
{
	bench_bipc_remove(j->name[0]);
	bench_bipc_remove(j->name[1]);
}

static void bipc_close(struct bench_link *l)
{
	bench_bipc_close(l->ctx);
	bench_bipc_close(l->sock);
	l->ctx = l->sock = NULL;
	bipc_cleanup(l->job);
}

const struct bench_driver bench_bipc_driver = {
	.prepare = bipc_prepare,
	.echo_open = bipc_echo_open,
	.runner_open = bipc_runner_open,
	.send = bipc_send,
	.recv = bipc_recv,
	.close = bipc_close,
	.cleanup = bipc_cleanup,
};
