/*
 * The mailbox carrier: on a FIFO, a datagram socket, a queue or a ring the
 * mailbox itself is the pipeline. The socket has one pipe, the mailbox
 * channel, and every call goes to it as it would on a plain channel: the
 * mechanism's own rules say who may send and who may receive (a FIFO's
 * listener receives, both ends of a queue may do either, a ring needs
 * ?mpmc for several pullers), and messages carry no header, so plain
 * programs that write the mailbox are pushers too.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>

static int mbox_start(struct ipk__sock *s, int64_t deadline)
{
	ipk_chan *c = s->c;
	ipk_chan *ch = ipk__chan_new(c->tp, &c->url);
	if (ch == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	ch->maxmsg = c->maxmsg;
	ch->mode = c->mode;
	ch->linger_ms = c->linger_ms;
	ch->persist = c->persist;
	ch->creator = c->creator;
	int rc;
	if (s->listening) {
		rc = c->tp->listen ? c->tp->listen(ch)
		                   : ipk__err(-EOPNOTSUPP, "%s: cannot listen",
		                              c->tp->scheme);
	} else {
		ch->role = IPK__DIALER;
		rc = c->tp->dial ? c->tp->dial(ch, deadline)
		                 : ipk__err(-EOPNOTSUPP, "%s: cannot dial",
		                            c->tp->scheme);
	}
	if (rc < 0) {
		ipk__chan_free(ch);
		return rc;
	}
	if (ipk__pipe_new(s, ch) == NULL) {
		ipk_close(ch);
		return ipk__err(-ENOMEM, "out of memory");
	}
	c->maxmsg = ch->maxmsg; /* as the mechanism read the address */
	return 0;
}

static void mbox_stop(struct ipk__sock *s)
{
	(void)s; /* the pipe (the mailbox) went with the others */
}

static ipk_chan *mailbox(const struct ipk__sock *s)
{
	return s->npipes ? s->pipes[0]->ch : NULL;
}

int ipk__mbox_dropped(const struct ipk__sock *s, const ipk_chan *box,
                      ssize_t n, const char *what, int64_t deadline)
{
	if (n != -EPROTO &&
	    (n != -EMSGSIZE || strcmp(box->tp->scheme, "fifo") != 0))
		return 0;
	ipk__warn("%s: dropped what is not a %s: %s", s->c->url.text, what,
	          ipk_last_error());
	if (ipk__expired(deadline))
		return ipk__err(ipk__timeout_err(deadline), "%s: no %s",
		                s->c->url.text, what);
	return 1;
}

static ssize_t mbox_recv(struct ipk__sock *s, ipk__rx *rx,
                         struct ipk__pipe **from, int64_t deadline)
{
	ipk_chan *ch = mailbox(s);
	if (ch->tp->recv == NULL)
		return ipk__err(-EOPNOTSUPP, "%s: cannot receive", ch->tp->scheme);
	*from = s->pipes[0];
	unsigned round = 0;
	for (;;) {
		ssize_t n = ch->tp->recv(ch, rx, deadline);
		int dropped = ipk__mbox_dropped(s, ch, n, "message", deadline);
		if (dropped < 0)
			return dropped;
		if (dropped > 0)
			continue; /* the pipeline goes on */
		/* a pipeline's mailbox outlives its pushers: the next one may
		   come while we wait */
		if (n != -EPIPE || !s->listening)
			return n;
		if (ipk__expired(deadline) || ipk__backoff(&round, deadline) < 0)
			return ipk__err(ipk__timeout_err(deadline),
			                "%s: no message (no pusher is attached)",
			                s->c->url.text);
	}
}

static ssize_t mbox_send(struct ipk__sock *s, struct ipk__pipe *p,
                         const void *buf, size_t len, int64_t deadline)
{
	(void)s;
	static const ipk_msginfo none;
	ipk_chan *ch = p->ch;
	if (ch->tp->send == NULL)
		return ipk__err(-EOPNOTSUPP, "%s: cannot send", ch->tp->scheme);
	return ch->tp->send(ch, buf, len, &none, deadline);
}

static int mbox_fd(const struct ipk__sock *s)
{
	ipk_chan *ch = mailbox(s);
	return ch->tp->fd ? ch->tp->fd(ch)
	                  : ipk__err(-EOPNOTSUPP, "%s: no pollable descriptor",
	                             ch->tp->scheme);
}

static int mbox_pending(const struct ipk__sock *s)
{
	ipk_chan *ch = mailbox(s);
	return ch->tp->pending ? ch->tp->pending(ch) : 0;
}

static ssize_t mbox_address(const struct ipk__sock *s, char *buf, size_t cap)
{
	ipk_chan *ch = mailbox(s);
	return ch->tp->address ? ch->tp->address(ch, buf, cap) : -1;
}

const struct ipk__carrier ipk__carrier_mbox = {
	.name = "mailbox",
	.start = mbox_start,
	.stop = mbox_stop,
	.recv = mbox_recv,
	.send = mbox_send,
	.fd = mbox_fd,
	.pending = mbox_pending,
	.address = mbox_address,
	.direct = true,
};
