/*
 * REP: receive requests, reply to each (SP rep0). A receive hands back the
 * request's way home in ipk_msginfo.route; a send with that info replies
 * there, so one process can keep many requests in flight and answer them
 * in any order. A send without a route answers the last request received.
 * A reply whose requester has gone is dropped (it will ask again).
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <string.h>

struct rep {
	struct ipk__route last; /* the last request's route */
	struct ipk__pipe *last_pipe; /* ...its pipe, NULL once gone */
	bool have_last;
};

static void rep_pipe_removed(struct ipk__sock *s, struct ipk__pipe *p)
{
	struct rep *r = s->priv;
	if (r->last_pipe == p)
		r->last_pipe = NULL;
}

/* A route just written, copied in pieces of the sizes it was written in:
   read back whole at once, it would wait for every write to land. */
static void route_copy(struct ipk__route *to, const struct ipk__route *from)
{
	to->cookie = from->cookie;
	to->pipe = from->pipe;
	to->len = from->len;
	ipk__copy_words(to->hdr, from->hdr, from->len);
}

static ssize_t rep_recv(struct ipk__sock *s, ipk__rx *rx, int64_t deadline)
{
	struct rep *r = s->priv;
	for (;;) {
		struct ipk__pipe *from = NULL;
		ssize_t n = ipk__sock_take(s, &from, deadline);
		if (n < 0)
			return n;
		size_t hl = ipk__sp_backtrace(s->msg, (size_t)n);
		if (hl == 0 || from == NULL) {
			ipk__sock_drop(s); /* no request ID, or a loop: no request */
			continue;
		}
		/* the route out of the receive (the rest of info, and so of the
		   route, was cleared by the channel layer), and the same in
		   r->last, field by field and word by word (route_copy) */
		struct ipk__route *rt = (struct ipk__route *)&rx->info->route;
		rt->cookie = s->cookie;
		rt->pipe = from->id;
		rt->len = (uint32_t)hl;
		ipk__copy_words(rt->hdr, s->msg, hl);
		n = ipk__sock_deliver(s, rx, s->msg + hl, (size_t)n - hl, from);
		if (n >= 0) {
			route_copy(&r->last, rt);
			r->last_pipe = from;
			r->have_last = true;
		}
		return n;
	}
}

static ssize_t rep_send(struct ipk__sock *s, const void *buf, size_t len,
                        const ipk_msginfo *info, int64_t deadline)
{
	struct rep *r = s->priv;
	const struct ipk__route *rt = (const struct ipk__route *)&info->route;
	if (rt->pipe == 0) {
		if (!r->have_last)
			return ipk__err(-EINVAL, "%s: no request to reply to (receive "
			                         "one first)", s->c->url.text);
		rt = &r->last;
	} else if (rt->cookie != s->cookie || rt->len < 4 || rt->len % 4 ||
	           rt->len > sizeof rt->hdr) {
		return ipk__err(-EINVAL, "%s: the route does not come from a "
		                         "request this channel received",
		                s->c->url.text);
	}
	struct ipk__pipe *p = rt == &r->last ? r->last_pipe
	                                     : ipk__pipe_find(s, rt->pipe);
	size_t hl = rt->len;
	unsigned char h[sizeof rt->hdr];
	ipk__copy_words(h, rt->hdr, hl);
	/* ipckit's REQ asked for the reply's status in the hop before its ID */
	if (hl >= 8 && ipk__get32(h + hl - 8) == IPK__SP_ASK_STATUS &&
	    info->status >= 0)
		ipk__put32(h + hl - 8,
		           IPK__SP_STATUS | ((uint32_t)info->status & 0x7fff));
	if (rt == &r->last)
		r->have_last = false;
	if (p == NULL)
		return (ssize_t)len; /* the requester went away: it asks again */
	ssize_t n = ipk__sock_send2(s, p, h, hl, buf, len, deadline);
	if (n == -ENOMEM)
		return n;
	if (n == -EAGAIN || n == -ETIMEDOUT || n == -EMSGSIZE)
		return ipk__err(n, "%s: the requester did not take the reply%s",
		                s->c->url.text, n == -EMSGSIZE ? " (too large)"
		                                               : " in time");
	return (ssize_t)len; /* sent, or its requester has gone */
}

const struct ipk__proto ipk__proto_rep = {
	.name = "rep",
	.peer = "req",
	.sp_self = 0x31,
	.sp_peer = 0x30,
	.caps = IPK__P_SEND | IPK__P_RECV | IPK__P_REPLY | IPK__P_SERVER,
	IPK__SOCK_ENTRY,
	.priv_size = sizeof(struct rep),
	.pipe_removed = rep_pipe_removed,
	.sock_send = rep_send,
	.sock_recv = rep_recv,
};
