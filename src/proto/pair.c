/*
 * PAIR: one peer. The protocol of every channel without ?proto=; each call
 * goes straight to the transport, so a plain channel costs what it always
 * did. On unix: and tcp: the connection speaks SP PAIR v0.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>

static int unsupported(const ipk_chan *c, const char *what)
{
	return ipk__err(-EOPNOTSUPP, "%s: does not support %s", c->tp->scheme,
	                what);
}

static int pair_listen(ipk_chan *c)
{
	if (c->tp->listen == NULL)
		return unsupported(c, "listen (use ipk_pair)");
	return c->tp->listen(c);
}

static int pair_dial(ipk_chan *c, int64_t deadline)
{
	if (c->tp->dial == NULL)
		return unsupported(c, "dial (use ipk_pair)");
	return c->tp->dial(c, deadline);
}

static ssize_t pair_send(ipk_chan *c, const void *buf, size_t len,
                         const ipk_msginfo *info, int64_t deadline)
{
	return c->tp->send(c, buf, len, info, deadline);
}

static ssize_t pair_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	return c->tp->recv(c, rx, deadline);
}

static int pair_fd(const ipk_chan *c)
{
	if (c->tp->fd == NULL)
		return unsupported(c, "a pollable descriptor");
	return c->tp->fd(c);
}

static int pair_pending(const ipk_chan *c)
{
	return c->tp->pending ? c->tp->pending(c) : 0;
}

static int pair_close(ipk_chan *c)
{
	return c->tp->close ? c->tp->close(c) : 0;
}

const struct ipk__proto ipk__proto_pair = {
	.name = "pair",
	.peer = "pair",
	.sp_self = 0x10,
	.sp_peer = 0x10,
	.caps = IPK__P_SEND | IPK__P_RECV,
	.listen = pair_listen,
	.dial = pair_dial,
	.send = pair_send,
	.recv = pair_recv,
	.fd = pair_fd,
	.pending = pair_pending,
	.address = NULL, /* the transport's, or the address as given */
	.close = pair_close,
};
