/*
 * SUB: receive what a publisher sends, filtered by topic prefixes at the
 * subscriber (SP sub0): no subscription, no messages; the empty prefix
 * takes everything. Subscribe with ipk_subscribe() or ?topic= on the
 * address (repeatable). On shared memory the filter runs inside the
 * broadcast ring, so a refused message is skipped without being copied,
 * and ipk_msginfo.missed tells what a subscriber that fell a lap behind
 * lost.
 */
#define _GNU_SOURCE
#include "pubsub.h"
#include "topics.h"
#include "../transport/shmcast.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const ipk__pubsub_options[] = {"slow", "history", "subs", "topic",
                                           NULL};

struct sub {
	struct ipk__topics topics;
	bool filtered; /* the ring has our filter */
};

static int sub_init(struct ipk__sock *s)
{
	struct sub *u = s->priv;
	bool block;
	int rc = ipk__pubsub_check(s, &block);
	if (rc < 0)
		return rc;
	ipk__url *url = &s->c->url;
	for (int i = 0; i < url->nopts; i++) {
		struct ipk__opt *o = &url->opts[i];
		if (strcmp(o->key, "topic") != 0)
			continue;
		o->used = true;
		const char *t = o->val ? o->val : "";
		if ((rc = ipk__topics_add(&u->topics, t, strlen(t))) < 0)
			return rc;
	}
	return 0;
}

static void sub_fini(struct ipk__sock *s)
{
	struct sub *u = s->priv;
	ipk__topics_free(&u->topics);
}

/* The ring, with our filter in it. */
static struct ipk__shmcast *ring(struct ipk__sock *s)
{
	struct sub *u = s->priv;
	if (s->car != &ipk__carrier_cast)
		return NULL;
	if (!u->filtered) {
		ipk__shmcast_filter(s->car_state, ipk__topics_match, &u->topics);
		u->filtered = true;
	}
	return s->car_state;
}

void ipk__sub_arm(struct ipk__sock *s)
{
	if (s != NULL && s->proto == &ipk__proto_sub)
		(void)ring(s);
}

static ssize_t sub_recv(struct ipk__sock *s, ipk__rx *rx, int64_t deadline)
{
	struct ipk__shmcast *sc = ring(s);
	if (sc != NULL)
		return ipk__shmcast_recv(sc, rx, deadline);
	struct sub *u = s->priv;
	for (;;) {
		struct ipk__pipe *from = NULL;
		ssize_t n = ipk__sock_take(s, &from, deadline);
		if (n < 0)
			return n;
		if (ipk__topics_match(&u->topics, s->in, (size_t)n))
			return ipk__sock_deliver(s, rx, s->in, (size_t)n, from);
		/* not subscribed: gone */
	}
}

static int sub_pending(const struct ipk__sock *s)
{
	/* the ring's own readiness already skips what the filter refuses */
	if (s->car == &ipk__carrier_cast)
		return ring((struct ipk__sock *)s) ? ipk__shmcast_pending(s->car_state)
		                                   : 0;
	return 0;
}

const struct ipk__proto ipk__proto_sub = {
	.name = "sub",
	.peer = "pub",
	.sp_self = 0x21,
	.sp_peer = 0x20,
	.caps = IPK__P_RECV | IPK__P_BCAST,
	.options = ipk__pubsub_options,
	IPK__SOCK_ENTRY,
	.priv_size = sizeof(struct sub),
	.init = sub_init,
	.fini = sub_fini,
	.sock_recv = sub_recv,
	.sock_pending = sub_pending,
};

/* ------------------------------------------------------- public calls */

static struct sub *sub_of(ipk_chan *c, const char *fn)
{
	if (c == NULL) {
		ipk__err(-EINVAL, "%s: NULL channel", fn);
		return NULL;
	}
	if (c->proto != &ipk__proto_sub || c->sock == NULL) {
		ipk__err(-EOPNOTSUPP, "%s: %s is not a subscriber (?proto=sub)", fn,
		         c->url.text);
		return NULL;
	}
	return c->sock->priv;
}

int ipk_subscribe(ipk_chan *c, const void *prefix, size_t len)
{
	struct sub *u = sub_of(c, "ipk_subscribe");
	if (u == NULL)
		return c ? -EOPNOTSUPP : -EINVAL;
	return ipk__topics_add(&u->topics, prefix, len);
}

int ipk_unsubscribe(ipk_chan *c, const void *prefix, size_t len)
{
	struct sub *u = sub_of(c, "ipk_unsubscribe");
	if (u == NULL)
		return c ? -EOPNOTSUPP : -EINVAL;
	return ipk__topics_remove(&u->topics, prefix, len);
}

int ipk_subscribers(ipk_chan *c)
{
	if (c == NULL)
		return ipk__err(-EINVAL, "ipk_subscribers: NULL channel");
	if (c->proto != &ipk__proto_pub || c->sock == NULL)
		return ipk__err(-EOPNOTSUPP, "ipk_subscribers: %s is not a "
		                             "publisher (?proto=pub)", c->url.text);
	return ipk__pub_subscribers(c);
}

ssize_t ipk_recv_peekmsg(ipk_chan *c, const void **buf, ipk_msginfo *info,
                         int timeout_ms)
{
	if (buf == NULL)
		return ipk__err(-EINVAL, "ipk_recv_peekmsg: buf is NULL");
	*buf = NULL;
	if (info != NULL) {
		long type = info->type;
		int flags = info->flags;
		memset(info, 0, sizeof *info);
		info->type = type;
		info->flags = flags;
	}
	if (ipk__cast_of(c) != NULL)
		return ipk__cast_peek(c, buf, info, timeout_ms);
	return ipk_recv_peek(c, buf, timeout_ms);
}
