/*
 * Peer rows: nng over ipc:// and tcp://, the way an nng user writes it
 * (blocking nng_send/nng_recv with copies): PAIR v0 (the echo listens, the
 * runner dials), REQ/REP v0 (the echo is the replier), and PUB/SUB v0 (the
 * runner publishes on a listener, each receiver subscribes to everything and
 * dials it). Opened only after fork, in each process: nng runs threads that
 * must not cross a fork.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <string.h>

static int nng_failed(struct bench_link *l, const char *what, int rv)
{
	return bench_fail(l, -EIO, "nng %s: %s", what, nng_strerror(rv));
}

static nng_socket sock_of(const struct bench_link *l)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	s.id = l->handle;
	return s;
}

static int open_socket(struct bench_link *l, int (*opener)(nng_socket *),
                       const char *what)
{
	nng_socket s;
	int rv = opener(&s);
	if (rv != 0)
		return nng_failed(l, what, rv);
	l->handle = s.id;
	/* no receive limit: the benchmark sends up to its own largest size */
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
	return 0;
}

/* Listen on the row's address; what the kernel chose (a TCP port) into
   l->addr for the dialer. */
static int listen_on(struct bench_link *l, int (*opener)(nng_socket *),
                     const char *what)
{
	char url[BENCH_ADDR];
	int rc = bench_peer_url(l, url, sizeof url);
	if (rc < 0 || (rc = open_socket(l, opener, what)) < 0)
		return rc;
	nng_listener lst;
	int rv = nng_listener_create(&lst, sock_of(l), url);
	if (rv == 0)
		rv = nng_listener_start(lst, 0);
	if (rv != 0)
		return nng_failed(l, "listen", rv);
	int port = 0;
	if (strncmp(url, "tcp://", 6) == 0 &&
	    nng_listener_get_int(lst, NNG_OPT_TCP_BOUND_PORT, &port) == 0)
		snprintf(l->addr, sizeof l->addr, "tcp://127.0.0.1:%d", port);
	else
		snprintf(l->addr, sizeof l->addr, "%s", url);
	return 0;
}

static int dial_to(struct bench_link *l, int (*opener)(nng_socket *),
                   const char *what)
{
	int rc = open_socket(l, opener, what);
	if (rc < 0)
		return rc;
	int rv = nng_dial(sock_of(l), l->addr, NULL, 0);
	if (rv != 0)
		return nng_failed(l, "dial", rv);
	return 0;
}

static int pair_echo_open(struct bench_link *l)
{
	return listen_on(l, nng_pair0_open, "pair0_open");
}

static int pair_runner_open(struct bench_link *l)
{
	return dial_to(l, nng_pair0_open, "pair0_open");
}

static int rep_echo_open(struct bench_link *l)
{
	return listen_on(l, nng_rep0_open, "rep0_open");
}

static int req_runner_open(struct bench_link *l)
{
	return dial_to(l, nng_req0_open, "req0_open");
}

/* A subscriber to everything, dialing the publisher's address in the
   background (it listens only once every receiver is ready), retrying
   soon: the runner's sync waits for it. */
static int sub_echo_open(struct bench_link *l)
{
	int rc = bench_peer_url(l, l->addr, sizeof l->addr);
	if (rc < 0 || (rc = open_socket(l, nng_sub0_open, "sub0_open")) < 0)
		return rc;
	nng_socket s = sock_of(l);
	int rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	if (rv == 0)
		rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 1);
	if (rv == 0)
		rv = nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 10);
	if (rv == 0)
		rv = nng_dial(s, l->addr, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0)
		return nng_failed(l, "subscribe", rv);
	return 0;
}

static int pub_runner_open(struct bench_link *l)
{
	return listen_on(l, nng_pub0_open, "pub0_open");
}

static ssize_t nng_bsend(struct bench_link *l, const void *buf, size_t len)
{
	int rv = nng_send(sock_of(l), (void *)(uintptr_t)buf, len, 0);
	if (rv != 0)
		return nng_failed(l, "send", rv);
	return (ssize_t)len;
}

static ssize_t nng_brecv(struct bench_link *l, void *buf, size_t cap)
{
	size_t n = cap;
	int rv = nng_recv(sock_of(l), buf, &n, 0);
	if (rv != 0)
		return nng_failed(l, "recv", rv);
	return (ssize_t)n;
}

static void nng_bclose(struct bench_link *l)
{
	if (l->handle)
		nng_close(sock_of(l));
	l->handle = 0;
}

const struct bench_driver bench_nng_driver = {
	.echo_open = pair_echo_open,
	.runner_open = pair_runner_open,
	.send = nng_bsend,
	.recv = nng_brecv,
	.close = nng_bclose,
	.cleanup = bench_peer_cleanup,
};

const struct bench_driver bench_nng_reqrep_driver = {
	.echo_open = rep_echo_open,
	.runner_open = req_runner_open,
	.send = nng_bsend,
	.recv = nng_brecv,
	.close = nng_bclose,
	.cleanup = bench_peer_cleanup,
};

const struct bench_driver bench_nng_pubsub_driver = {
	.echo_open = sub_echo_open,
	.runner_open = pub_runner_open,
	.send = nng_bsend,
	.recv = nng_brecv,
	.close = nng_bclose,
	.cleanup = bench_peer_cleanup,
};
