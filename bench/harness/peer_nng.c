/*
 * Peer rows: nng PAIR v0 over ipc:// and tcp://, the way an nng user writes
 * it (blocking nng_send/nng_recv with copies). Opened only after fork, in
 * each process: nng runs threads that must not cross a fork.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
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

static int open_socket(struct bench_link *l)
{
	nng_socket s;
	int rv = nng_pair0_open(&s);
	if (rv != 0)
		return nng_failed(l, "pair0_open", rv);
	l->handle = s.id;
	/* no receive limit: the benchmark sends up to its own largest size */
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
	return 0;
}

static int nng_echo_open(struct bench_link *l)
{
	char url[BENCH_ADDR];
	int rc = bench_peer_url(l, url, sizeof url);
	if (rc < 0 || (rc = open_socket(l)) < 0)
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

static int nng_runner_open(struct bench_link *l)
{
	int rc = open_socket(l);
	if (rc < 0)
		return rc;
	int rv = nng_dial(sock_of(l), l->addr, NULL, 0);
	if (rv != 0)
		return nng_failed(l, "dial", rv);
	return 0;
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
	.echo_open = nng_echo_open,
	.runner_open = nng_runner_open,
	.send = nng_bsend,
	.recv = nng_brecv,
	.close = nng_bclose,
	.cleanup = bench_peer_cleanup,
};
