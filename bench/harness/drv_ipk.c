/*
 * The ipckit rows: the public API only, addressed by the row's templates.
 * Waits are unbounded (-1) on the hot path, as a latency-minded user would
 * write them; the parent's watchdog ends a run that stops answering.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <string.h>

#define DIAL_MS 5000

static int failed(struct bench_link *l, int rc, const char *what,
                  const char *url)
{
	return bench_fail(l, rc, "%s %s: %s", what, url, ipk_last_error());
}

static int url_of(struct bench_link *l, const char *tmpl, int side, pid_t pid,
                  char *out, size_t cap)
{
	int rc = bench_expand(tmpl, l->job, side, pid, l->addr, out, cap);
	if (rc < 0)
		return bench_fail(l, rc, "bad address template '%s'", tmpl);
	return 0;
}

static int do_listen(struct bench_link *l, ipk_chan **c, int side)
{
	char url[BENCH_ADDR];
	int rc = url_of(l, l->job->s->row->listen, side, 0, url, sizeof url);
	if (rc == 0 && (rc = ipk_listen(c, url)) < 0)
		return failed(l, rc, "listen", url);
	return rc;
}

static int do_dial(struct bench_link *l, ipk_chan **c, int side, pid_t pid)
{
	char url[BENCH_ADDR];
	int rc = url_of(l, l->job->s->row->dial, side, pid, url, sizeof url);
	if (rc == 0 && (rc = ipk_dial(c, url, DIAL_MS)) < 0)
		return failed(l, rc, "dial", url);
	return rc;
}

static int ipk_prepare(struct bench_link *l)
{
	const struct bench_row *row = l->job->s->row;
	int rc;
	switch (row->topo) {
	case BENCH_PAIR:
		if ((rc = ipk_pair(row->listen, &l->own[0], &l->own[1])) < 0)
			return failed(l, rc, "pair", row->listen);
		return 0;
	case BENCH_SERVER:
	case BENCH_FANOUT:
		if ((rc = do_listen(l, &l->own[0], 0)) < 0)
			return rc;
		/* the address with what the kernel chose (a TCP port) */
		if (ipk_address(l->own[0], l->addr, sizeof l->addr) < 0)
			l->addr[0] = '\0';
		return 0;
	case BENCH_MAILBOX:
	case BENCH_SIGNAL:
		/* each inbox is made by the process that receives from it (a ring
		   has one consumer, the one that listened); the echo makes its own */
		return do_listen(l, &l->own[0], 0);
	}
	return -EINVAL;
}

/* Inherited channels stay open and unused in the process that does not
 * need them: a close there could look to the peer like its reader left.
 * The echo's inbox exists before it reports ready, so the runner's dial
 * finds it at once. The runner's signal listener is made before fork, so
 * the echo can dial it at once. */
static int ipk_echo_open(struct bench_link *l)
{
	int rc;
	switch (l->job->s->row->topo) {
	case BENCH_PAIR:
		l->in = l->out = l->own[1];
		return 0;
	case BENCH_SERVER:
		return 0;
	case BENCH_FANOUT:
		/* every receiver dials the runner's publisher (its template
		   subscribes: ?topic) */
		return do_dial(l, &l->in, 0, 0);
	case BENCH_MAILBOX:
		if ((rc = do_listen(l, &l->in, 1)) < 0)
			return rc;
		return do_dial(l, &l->out, 0, 0);
	case BENCH_SIGNAL:
		/* one listener per signal and process: let go of the runner's
		   (nothing is sent to us before we say we are ready) */
		ipk_close(l->own[0]);
		l->own[0] = NULL;
		if ((rc = do_listen(l, &l->in, 1)) < 0)
			return rc;
		return do_dial(l, &l->out, 0, l->runner);
	}
	return -EINVAL;
}

static int ipk_echo_accept(struct bench_link *l)
{
	if (l->job->s->row->topo != BENCH_SERVER)
		return 0;
	int rc = ipk_accept(l->own[0], &l->in, DIAL_MS);
	if (rc == -EOPNOTSUPP) {
		l->in = l->own[0]; /* a datagram listener answers its senders */
		rc = 0;
	} else if (rc < 0) {
		return failed(l, rc, "accept on", l->addr);
	}
	l->out = l->in;
	return 0;
}

static int ipk_runner_open(struct bench_link *l)
{
	int rc;
	switch (l->job->s->row->topo) {
	case BENCH_PAIR:
		l->in = l->out = l->own[0];
		return 0;
	case BENCH_FANOUT:
		l->out = l->own[0];
		return 0;
	case BENCH_SERVER:
		rc = do_dial(l, &l->in, 0, 0);
		l->out = l->in;
		return rc;
	case BENCH_MAILBOX:
		l->in = l->own[0];
		return do_dial(l, &l->out, 1, 0);
	case BENCH_SIGNAL:
		l->in = l->own[0];
		return do_dial(l, &l->out, 1, l->echo_pid);
	}
	return -EINVAL;
}

static void ipk_cleanup(const struct bench_job *j);

static ssize_t ipk_bsend(struct bench_link *l, const void *buf, size_t len)
{
	ssize_t n = ipk_send(l->out, buf, len, IPK_FOREVER);
	if (n < 0)
		return bench_fail(l, (int)n, "send: %s", ipk_last_error());
	return n;
}

static ssize_t ipk_brecv(struct bench_link *l, void *buf, size_t cap)
{
	ssize_t n = ipk_recv(l->in, buf, cap, IPK_FOREVER);
	if (n < 0)
		return bench_fail(l, (int)n, "receive: %s", ipk_last_error());
	return n;
}

/* after the last message of a stream: what a batching channel queued
   goes out now, not after ?batchdelay= (a no-op on the others) */
static int ipk_bflush(struct bench_link *l)
{
	int rc = ipk_flush(l->out, IPK_FOREVER);
	if (rc < 0)
		return bench_fail(l, rc, "flush: %s", ipk_last_error());
	return 0;
}

static void ipk_bclose(struct bench_link *l)
{
	ipk_chan *all[4] = {l->in, l->out, l->own[0], l->own[1]};
	for (int i = 0; i < 4; i++) {
		if (all[i] == NULL)
			continue;
		for (int k = i + 1; k < 4; k++)
			if (all[k] == all[i])
				all[k] = NULL;
		ipk_close(all[i]);
	}
	l->in = l->out = l->own[0] = l->own[1] = NULL;
	/* the echo was killed: what it created is ours to remove */
	ipk_cleanup(l->job);
}

static void ipk_cleanup(const struct bench_job *j)
{
	const char *tmpl = j->s->row->listen;
	if (!strstr(tmpl, "{name}") && !strstr(tmpl, "{key}"))
		return;
	for (int side = 0; side < 2; side++) {
		char url[BENCH_ADDR];
		if (bench_expand(tmpl, j, side, 0, NULL, url, sizeof url) < 0)
			continue;
		url[strcspn(url, "?")] = '\0';
		/* most often already gone: the owner removed it. Forced: every
		   name here was handed out by this run, and a plain remove
		   refuses an object a process still has attached, which the
		   echo, killed or exiting, may have for a moment yet (a System
		   V segment was left behind that way under load) */
		ipk_remove_flags(url, IPK_REMOVE_FORCE);
	}
}

/*
 * Zero-copy, as a relay of large messages is written: receive in place
 * (ipk_recv_peek: a ?large message is a mapping of its sealed memfd) and
 * send on what was received (the library passes the same memfd on). The
 * harness reads only the first bytes of what it receives (a copy of the
 * first 64 goes into its buffer) and changes only the first byte of what
 * it sends; a send whose length and first 64 bytes are those of the
 * message held is that message, sent on unchanged (the echo answering,
 * the runner sending its own message back out). Any other send is a
 * fresh message, copied into a new memfd as ipk_send does.
 */
#define LEND_HEAD 64

static void lend_drop(struct bench_link *l)
{
	if (l->lent != NULL)
		ipk_recv_release(l->in);
	l->lent = NULL;
}

static ssize_t lend_send(struct bench_link *l, const void *buf, size_t len)
{
	const void *what = buf;
	size_t head = len < LEND_HEAD ? len : LEND_HEAD;
	if (l->lent != NULL && l->lent_len == len &&
	    memcmp(l->lent, buf, head) == 0)
		what = l->lent;
	ssize_t n = ipk_send(l->out, what, len, IPK_FOREVER);
	lend_drop(l);
	if (n < 0)
		return bench_fail(l, (int)n, "send: %s", ipk_last_error());
	return n;
}

static ssize_t lend_recv(struct bench_link *l, void *buf, size_t cap)
{
	lend_drop(l);
	const void *p;
	ssize_t n = ipk_recv_peek(l->in, &p, IPK_FOREVER);
	if (n < 0)
		return bench_fail(l, (int)n, "receive: %s", ipk_last_error());
	l->lent = p;
	l->lent_len = (size_t)n;
	size_t head = (size_t)n < LEND_HEAD ? (size_t)n : LEND_HEAD;
	memcpy(buf, p, head < cap ? head : cap);
	return n;
}

static void lend_close(struct bench_link *l)
{
	lend_drop(l);
	ipk_bclose(l);
}

const struct bench_driver bench_ipk_lend_driver = {
	.prepare = ipk_prepare,
	.echo_open = ipk_echo_open,
	.echo_accept = ipk_echo_accept,
	.runner_open = ipk_runner_open,
	.send = lend_send,
	.recv = lend_recv,
	.close = lend_close,
	.cleanup = ipk_cleanup,
	.flush = ipk_bflush,
};

const struct bench_driver bench_ipk_driver = {
	.prepare = ipk_prepare,
	.echo_open = ipk_echo_open,
	.echo_accept = ipk_echo_accept,
	.runner_open = ipk_runner_open,
	.send = ipk_bsend,
	.recv = ipk_brecv,
	.close = ipk_bclose,
	.cleanup = ipk_cleanup,
	.flush = ipk_bflush,
};
