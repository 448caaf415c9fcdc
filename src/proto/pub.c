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
#include <poll.h>
#include <stdlib.h>
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

/* pipe->pdata: the pipe took the start of a message and owes the rest */
#define OWED 1u

/* Write what the pipes owe without waiting; a pipe that broke is removed.
   The count of pipes that still owe something. */
static int push_owed(struct ipk__sock *s)
{
	int owing = 0;
	for (int i = 0; i < s->npipes;) {
		struct ipk__pipe *pp = s->pipes[i];
		if (!(pp->pdata & OWED) || s->car->flush == NULL) {
			i++;
			continue;
		}
		int rc = s->car->flush(s, pp, IPK__NOW);
		if (rc == -EAGAIN || rc == -ETIMEDOUT) {
			owing++;
			i++;
			continue;
		}
		if (i < s->npipes && s->pipes[i] == pp) {
			pp->pdata &= ~OWED; /* whole now (or gone: see below) */
			i++;
		}
		/* else it broke and left; another pipe took its place */
	}
	return owing;
}

/* Wait, until the deadline, for every started message to go out whole:
   all pipes at once, so a slow subscriber does not hold back the rest
   of a fast one's message. A subscriber that has not taken the rest by
   then is disconnected: nothing would send it once the publisher goes
   idle, and its stream cannot skip the rest. With no time to wait
   (IPK__NOW) the rest goes out on later calls instead. */
static int finish_owed(struct ipk__sock *s, int64_t deadline)
{
	for (;;) {
		if (push_owed(s) == 0)
			return 0;
		if (ipk__expired(deadline))
			break;
		struct pollfd stackfds[64];
		int n = s->npipes;
		struct pollfd *pf = n <= 64 ? stackfds : calloc((size_t)n, sizeof *pf);
		if (pf == NULL)
			return 0; /* left for the next call */
		int k = 0;
		for (int i = 0; i < n; i++)
			if (s->pipes[i]->pdata & OWED)
				pf[k++] = (struct pollfd){
					.fd = s->pipes[i]->ch->tp->fd(s->pipes[i]->ch),
					.events = POLLOUT};
		int rc = poll(pf, (nfds_t)k, ipk__remaining_ms(deadline));
		int err = errno;
		if (pf != stackfds)
			free(pf);
		if (rc < 0 && err != EINTR)
			return 0;
	}
	if (deadline == IPK__NOW)
		return 0;
	int gone = 0;
	for (int i = 0; i < s->npipes;) {
		struct ipk__pipe *pp = s->pipes[i];
		if (pp->pdata & OWED) {
			pp->ch->linger_ms = 0; /* its close must not wait either */
			ipk__pipe_remove(s, pp); /* its place takes another pipe */
			gone++;
		}
		else
			i++;
	}
	return gone;
}

/*
 * slow=drop on sockets: whether a subscriber misses a message is decided
 * before its first byte. One that still owes part of an earlier message
 * (its connection took the start, not yet the rest) misses the new one;
 * a message whose first byte went out is owed in full: the publish writes
 * the rest to every subscriber at once within its own timeout, and what
 * that leaves goes out on any later call on the publisher (send,
 * ipk_flush, poll, ipk_pub_subscribers, close). Never a torn message.
 */
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
	(void)push_owed(s);
	for (int i = 0; i < s->npipes;) {
		struct ipk__pipe *pp = s->pipes[i];
		if ((pp->pdata & OWED) && !p->block) {
			i++; /* still busy with an earlier message: misses this one */
			continue;
		}
		ssize_t n = s->car->send(s, pp, buf, len,
		                         p->block ? deadline : IPK__NOW);
		if (n == -EMSGSIZE)
			return n;
		if (n == -EPIPE && (i >= s->npipes || s->pipes[i] != pp))
			continue; /* it left; another pipe took its place */
		if (n >= 0 && s->car->flush)
			pp->pdata |= OWED; /* until a flush says it is whole */
		if ((n == -ETIMEDOUT || n == -EAGAIN) && p->block) {
			int have = s->npipes;
			(void)finish_owed(s, deadline);
			return ipk__err(n, "%s: a subscriber (slow=block) did not take "
			                   "the message in time; it went to %d of %d",
			                s->c->url.text, i, have);
		}
		/* slow=drop: a subscriber that cannot take it now misses it */
		i++;
	}
	if (finish_owed(s, deadline) > 0 && p->block)
		return ipk__err(-ETIMEDOUT, "%s: a subscriber (slow=block) took "
		                            "the start of the message but not the "
		                            "rest in time; it was disconnected",
		                s->c->url.text);
	return (ssize_t)len;
}

/* A publisher has nothing to receive; a poll on it takes the subscribers
   that connected meanwhile (their dial waits for that). */
static int pub_pending(const struct ipk__sock *s)
{
	if (s->car != &ipk__carrier_cast && s->car->wait_send)
		(void)s->car->wait_send((struct ipk__sock *)s, IPK__NOW);
	if (s->car != &ipk__carrier_cast)
		(void)push_owed((struct ipk__sock *)s);
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
	(void)push_owed(s);
	return s->npipes;
}
