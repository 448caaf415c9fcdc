/*
 * Peer row: ZeroMQ PAIR over ipc://, blocking zmq_send/zmq_recv with copies,
 * as a ZeroMQ user writes it. Opened after fork in each process (ZeroMQ's
 * I/O thread must not cross a fork).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static int zmq_failed(struct bench_link *l, const char *what)
{
	int e = zmq_errno();
	return bench_fail(l, -(e > 0 ? e : EIO), "zmq %s: %s", what,
	                  zmq_strerror(e));
}

static int open_socket(struct bench_link *l)
{
	l->ctx = zmq_ctx_new();
	if (l->ctx == NULL)
		return zmq_failed(l, "ctx_new");
	l->sock = zmq_socket(l->ctx, ZMQ_PAIR);
	if (l->sock == NULL)
		return zmq_failed(l, "socket");
	int zero = 0;
	zmq_setsockopt(l->sock, ZMQ_LINGER, &zero, sizeof zero);
	return 0;
}

static int zmq_echo_open(struct bench_link *l)
{
	char url[BENCH_ADDR];
	int rc = bench_peer_url(l, url, sizeof url);
	if (rc < 0 || (rc = open_socket(l)) < 0)
		return rc;
	if (zmq_bind(l->sock, url) != 0)
		return zmq_failed(l, "bind");
	snprintf(l->addr, sizeof l->addr, "%s", url);
	return 0;
}

static int zmq_runner_open(struct bench_link *l)
{
	int rc = open_socket(l);
	if (rc < 0)
		return rc;
	if (zmq_connect(l->sock, l->addr) != 0)
		return zmq_failed(l, "connect");
	return 0;
}

static ssize_t zmq_bsend(struct bench_link *l, const void *buf, size_t len)
{
	for (;;) {
		int n = zmq_send(l->sock, buf, len, 0);
		if (n >= 0)
			return n;
		if (zmq_errno() != EINTR)
			return zmq_failed(l, "send");
	}
}

static ssize_t zmq_brecv(struct bench_link *l, void *buf, size_t cap)
{
	for (;;) {
		int n = zmq_recv(l->sock, buf, cap, 0);
		if (n >= 0)
			return (size_t)n > cap ? (ssize_t)cap : n;
		if (zmq_errno() != EINTR)
			return zmq_failed(l, "recv");
	}
}

static void zmq_bclose(struct bench_link *l)
{
	if (l->sock)
		zmq_close(l->sock);
	if (l->ctx)
		zmq_ctx_term(l->ctx);
	l->sock = l->ctx = NULL;
}

const struct bench_driver bench_zmq_driver = {
	.echo_open = zmq_echo_open,
	.runner_open = zmq_runner_open,
	.send = zmq_bsend,
	.recv = zmq_brecv,
	.close = zmq_bclose,
	.cleanup = bench_peer_cleanup,
};
