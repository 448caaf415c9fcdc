/*
 * REQ: send a request, receive its reply (SP req0). Each request carries a
 * 32-bit ID with the high bit set; a reply with another ID is dropped. A
 * request that gets no reply within ?resend= ms goes out again (on another
 * connection if its own went away), so a server that restarts is found
 * again; a receive that times out cancels it. One request at a time per
 * channel: sending a new one abandons the old.
 *
 * Before the ID ipckit puts one hop word, IPK__SP_ASK_STATUS: any SP REP
 * echoes it back unchanged; ipckit's REP answers in it with the reply's
 * status (ipk_msginfo.status).
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_RESEND_MS 60000

struct req {
	int64_t resend_ns;  /* 0: never */
	uint32_t next_id;
	bool busy;          /* a request is outstanding */
	bool sent;          /* ... and is on the wire */
	uint32_t id;
	size_t len;         /* the request in s->out, header included */
	uint32_t pipe;      /* where it went */
	int64_t resend_at;
	int64_t retry_at;   /* not on the wire: when a call that does not wait
	                       next tries to put it there */
};

/* A request no peer could take yet is tried again this often by calls
   that do not wait (a blocking receive waits for a peer by itself). */
#define RETRY_NS 20000000LL

static int req_init(struct ipk__sock *s)
{
	struct req *r = s->priv;
	long ms = DEFAULT_RESEND_MS;
	int rc = ipk__opt_long(&s->c->url, "resend", 0, INT32_MAX, &ms);
	if (rc < 0)
		return rc;
	r->resend_ns = (int64_t)ms * 1000000;
	s->wait_hint = r->resend_ns;
	uint32_t seed = s->cookie ^ (uint32_t)ipk__now_ns();
	r->next_id = seed & 0x7fffffffu;
	return 0;
}

/* Put the request on some pipe; waits for a peer until the deadline. */
static ssize_t put(struct ipk__sock *s, int64_t deadline)
{
	struct req *r = s->priv;
	struct ipk__pipe *on = NULL;
	ssize_t n = ipk__sock_send_any(s, ipk__sock_outbuf(s, 0), r->len, &on,
	                               deadline);
	if (n < 0)
		return n;
	r->sent = true;
	r->retry_at = 0;
	r->pipe = on->id;
	r->resend_at = r->resend_ns ? ipk__coarse_ns() + r->resend_ns : IPK__NEVER;
	ipk__sock_timer(s, r->resend_at);
	return n;
}

/* The request is not on the wire: a poller hears when to try again. */
static void not_out(struct ipk__sock *s)
{
	struct req *r = s->priv;
	r->sent = false;
	r->retry_at = ipk__coarse_ns() + RETRY_NS;
	ipk__sock_timer(s, r->retry_at);
}

static ssize_t req_send(struct ipk__sock *s, const void *buf, size_t len,
                        const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct req *r = s->priv;
	unsigned char *m = ipk__sock_outbuf(s, len + 8);
	if (m == NULL)
		return -ENOMEM;
	r->next_id = (r->next_id + 1) & 0x7fffffffu;
	r->id = r->next_id | 0x80000000u;
	ipk__put32(m, IPK__SP_ASK_STATUS);
	ipk__put32(m + 4, r->id);
	ipk__copy(m + 8, buf, len);
	r->len = len + 8;
	r->busy = true; /* a request before it is abandoned */
	r->sent = false;
	s->held = false;
	ipk__sock_timer(s, IPK__NEVER);
	ssize_t n = put(s, deadline);
	if (n == -ETIMEDOUT || n == -EAGAIN) {
		/* no peer can take it yet: it waits, and the receive sends it as
		   soon as one can */
		not_out(s);
		return (ssize_t)len;
	}
	if (n < 0) {
		r->busy = false;
		return n;
	}
	return (ssize_t)len;
}

/* Resend: check the way to the server (a mailbox attaches again, a ring
   looks at its server) and put the request out again. */
static void resend(struct ipk__sock *s)
{
	struct req *r = s->priv;
	r->sent = false;
	r->retry_at = 0;
	if (s->car->lost)
		s->car->lost(s);
}

static ssize_t req_recv(struct ipk__sock *s, ipk__rx *rx, int64_t deadline)
{
	struct req *r = s->priv;
	if (!r->busy)
		return ipk__err(-EINVAL, "%s: no request is waiting for its reply "
		                         "(send one first)", s->c->url.text);
	for (;;) {
		ssize_t n;
		/* the resend is due by the clock, whatever the calls wait: a
		   poller's receives (timeout 0) never reach resend_at inside a
		   wait of their own */
		if (r->sent && r->resend_at != IPK__NEVER &&
		    ipk__coarse_ns() >= r->resend_at)
			resend(s);
		if (!r->sent && (n = put(s, deadline)) < 0) {
			if (n == -ETIMEDOUT)
				r->busy = false; /* cancelled by the timeout */
			else if (n == -EAGAIN)
				not_out(s); /* kept: tried again by a later call */
			return n;
		}
		int64_t until = r->resend_at < deadline ? r->resend_at : deadline;
		struct ipk__pipe *from = NULL;
		n = ipk__sock_take(s, &from, until);
		if (n == -ETIMEDOUT || n == -EAGAIN) {
			if (until == deadline || ipk__expired(deadline)) {
				if (n == -ETIMEDOUT)
					r->busy = false;
				return ipk__err(n, "%s: no reply %s", s->c->url.text,
				                n == -EAGAIN ? "yet" : "in time (request "
				                                       "cancelled)");
			}
			resend(s);
			continue;
		}
		if (n == -EPIPE) {
			/* the way to the server broke: find it again and resend (a
			   call that does not wait leaves that to the next one) */
			resend(s);
			if (!ipk__expired(deadline))
				continue;
			not_out(s);
			return ipk__err(ipk__timeout_err(deadline), "%s: no reply yet "
			                "(the way to the server broke: sent again "
			                "later)", s->c->url.text);
		}
		if (n < 0)
			return n;
		uint32_t id;
		int status;
		size_t hl = ipk__sp_reply(s->msg, (size_t)n, &id, &status);
		if (hl == 0 || id != r->id) {
			ipk__sock_drop(s); /* not ours, or late for an abandoned one */
			continue;
		}
		const unsigned char *m = s->msg + hl;
		size_t len = (size_t)n - hl;
		rx->info->status = status;
		n = ipk__sock_deliver(s, rx, m, len, from);
		if (n >= 0) {
			r->busy = false;
			ipk__sock_timer(s, IPK__NEVER);
		}
		return n;
	}
}

static void req_pipe_removed(struct ipk__sock *s, struct ipk__pipe *p)
{
	struct req *r = s->priv;
	if (r->busy && r->sent && r->pipe == p->id) {
		r->sent = false; /* out again at once, on another connection */
		r->retry_at = 0;
	}
}

static int req_pending(const struct ipk__sock *s)
{
	const struct req *r = s->priv;
	/* not out: when it may be tried (no peer took it: not before
	   retry_at, which the timer marks, so a poller does not spin) */
	int64_t at = r->sent ? r->resend_at : r->retry_at;
	return r->busy && ipk__coarse_ns() >= at;
}

static const char *const req_opts[] = {"resend", NULL};

const struct ipk__proto ipk__proto_req = {
	.name = "req",
	.peer = "rep",
	.sp_self = 0x30,
	.sp_peer = 0x31,
	.caps = IPK__P_SEND | IPK__P_RECV | IPK__P_REPLY,
	.options = req_opts,
	IPK__SOCK_ENTRY,
	.priv_size = sizeof(struct req),
	.init = req_init,
	.pipe_removed = req_pipe_removed,
	.sock_send = req_send,
	.sock_recv = req_recv,
	.sock_pending = req_pending,
};
