/*
 * PUB: send every message to every subscriber (SP pub0). On unix: and
 * tcp: each connection gets a copy; a subscriber that cannot take it at
 * once misses it (?slow=drop, nng's rule), or is waited for within the
 * send's timeout (?slow=block). On shared memory the message is written
 * once into a broadcast ring that every subscriber reads (cast.c).
 * Messages carry no header: topics are the bodies' first bytes, and
 * filtering happens at the subscriber.
 */
#define _GNU_SOURCE
#include "proto.h"
#include "pubsub.h"
#include "../transport/shmcast.h"

#include <errno.h>
#include <string.h>

struct pub {
	bool block; /* sockets: wait for each subscriber (?slow=block) */
};

int ipk__pubsub_check(struct ipk__sock *s, bool *block)
{
	ipk_chan *c = s->c;
	if (s->car == &ipk__carrier_cast)
		return 0; /* the ring reads its own options */
	if (c->tp->accept == NULL)
		return ipk__err(-EPROTONOSUPPORT,
		                "address '%s': publish/subscribe needs connections "
		                "(unix:, tcp:) or shared memory (shm:, sysvshm:, "
		                "mmap:); on %s: each message reaches one receiver",
		                c->url.text, c->tp->scheme);
	const char *v = NULL;
	int rc = ipk__opt_str(&c->url, "slow", &v);
	if (rc < 0)
		return rc;
	if (v != NULL && strcmp(v, "drop") != 0 && strcmp(v, "block") != 0)
		return ipk__err(-EINVAL, "address '%s': slow=%s: expected drop or "
		                         "block", c->url.text, v);
	*block = v != NULL && strcmp(v, "block") == 0;
	for (int i = 0; i < c->url.nopts; i++) {
		const char *k = c->url.opts[i].key;
		if (strcmp(k, "history") == 0 || strcmp(k, "subs") == 0)
			return ipk__err(-EINVAL, "address '%s': ?%s needs a shared-"
			                         "memory ring (shm:, sysvshm:, mmap:)",
			                c->url.text, k);
	}
	return 0;
}

static int pub_init(struct ipk__sock *s)
{
	struct pub *p = s->priv;
	return ipk__pubsub_check(s, &p->block);
}

static ssize_t pub_send(struct ipk__sock *s, const void *buf, size_t len,
                        const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	if (s->car == &ipk__carrier_cast)
		return ipk__shmcast_send(s->car_state, buf, len, deadline);
	struct pub *p = s->priv;
	/* take the subscribers that connected since (and a dialer's lost
	   connection is dialed again) */
	if (s->car->wait_send)
		(void)s->car->wait_send(s, IPK__NOW);
	for (int i = 0; i < s->npipes;) {
		struct ipk__pipe *pp = s->pipes[i];
		ssize_t n = s->car->send(s, pp, buf, len,
		                         p->block ? deadline : IPK__NOW);
		if (n == -EMSGSIZE)
			return n;
		if (n == -EPIPE && (i >= s->npipes || s->pipes[i] != pp))
			continue; /* it left; another pipe took its place */
		if ((n == -ETIMEDOUT || n == -EAGAIN) && p->block)
			return ipk__err(n, "%s: a subscriber (slow=block) did not take "
			                   "the message in time; it went to %d of %d",
			                s->c->url.text, i, s->npipes);
		/* slow=drop: a subscriber that cannot take it now misses it */
		i++;
	}
	return (ssize_t)len;
}

/* A publisher has nothing to receive; a poll on it takes the subscribers
   that connected meanwhile (their dial waits for that). */
static int pub_pending(const struct ipk__sock *s)
{
	if (s->car != &ipk__carrier_cast && s->car->wait_send)
		(void)s->car->wait_send((struct ipk__sock *)s, IPK__NOW);
	return 0;
}

const struct ipk__proto ipk__proto_pub = {
	.name = "pub",
	.peer = "sub",
	.sp_self = 0x20,
	.sp_peer = 0x21,
	.caps = IPK__P_SEND | IPK__P_BCAST,
	.options = ipk__pubsub_options,
	IPK__SOCK_ENTRY,
	.priv_size = sizeof(struct pub),
	.init = pub_init,
	.sock_send = pub_send,
	.sock_pending = pub_pending,
};

int ipk__pub_subscribers(ipk_chan *c)
{
	struct ipk__sock *s = c->sock;
	if (s->car == &ipk__carrier_cast)
		return ipk__shmcast_subscribers(s->car_state);
	if (s->car->wait_send)
		(void)s->car->wait_send(s, IPK__NOW);
	return s->npipes;
}
