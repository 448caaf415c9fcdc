/*
 * The broadcast carrier: publish/subscribe on shared memory (shm:,
 * sysvshm:, mmap:). There are no pipes: the publisher writes each message
 * once into a broadcast ring and every subscriber reads it there
 * (src/transport/shmcast.c, src/shm/bcast.h). Also the zero-copy calls of
 * such channels.
 */
#define _GNU_SOURCE
#include "pubsub.h"
#include "../transport/shmcast.h"

#include <errno.h>

static int cast_start(struct ipk__sock *s, int64_t deadline)
{
	struct ipk__shmcast *sc;
	int rc = ipk__shmcast_open(&sc, s->c, s->proto->caps & IPK__P_SEND,
	                           s->listening, deadline);
	if (rc == 0)
		s->car_state = sc;
	return rc;
}

static void cast_stop(struct ipk__sock *s)
{
	ipk__shmcast_close(s->car_state);
	s->car_state = NULL;
}

static ssize_t cast_recv(struct ipk__sock *s, ipk__rx *rx,
                         struct ipk__pipe **from, int64_t deadline)
{
	*from = NULL;
	return ipk__shmcast_recv(s->car_state, rx, deadline);
}

static ssize_t cast_send(struct ipk__sock *s, struct ipk__pipe *p,
                         const void *buf, size_t len, int64_t deadline)
{
	(void)p;
	return ipk__shmcast_send(s->car_state, buf, len, deadline);
}

static int cast_fd(const struct ipk__sock *s)
{
	return ipk__shmcast_fd(s->car_state);
}

static int cast_pending(const struct ipk__sock *s)
{
	return ipk__shmcast_pending(s->car_state);
}

const struct ipk__carrier ipk__carrier_cast = {
	.name = "broadcast ring",
	.start = cast_start,
	.stop = cast_stop,
	.recv = cast_recv,
	.send = cast_send,
	.fd = cast_fd,
	.pending = cast_pending,
	.direct = true,
};

struct ipk__shmcast *ipk__cast_of(const ipk_chan *c)
{
	if (c == NULL || c->sock == NULL || c->sock->car != &ipk__carrier_cast)
		return NULL;
	return c->sock->car_state;
}

/* ------------------------------------------------- zero-copy calls */

static int not_cast(const ipk_chan *c, const char *fn)
{
	if (c == NULL)
		return ipk__err(-EINVAL, "%s: NULL channel", fn);
	return ipk__err(-EOPNOTSUPP, "%s: %s: only shared-memory rings and "
	                             "publish/subscribe on shared memory lend "
	                             "their memory", fn, c->url.text);
}

static int wrong_side(const ipk_chan *c, bool send)
{
	return ipk__err(-EOPNOTSUPP, send ? "%s: a subscriber does not publish"
	                                  : "%s: the publisher does not receive",
	                c->url.text);
}

ssize_t ipk__cast_borrow(ipk_chan *c, void **buf, size_t len, int timeout_ms)
{
	struct ipk__shmcast *sc = ipk__cast_of(c);
	if (sc == NULL)
		return not_cast(c, "ipk_send_borrow");
	if (buf == NULL)
		return ipk__err(-EINVAL, "ipk_send_borrow: buf is NULL");
	*buf = NULL;
	if (!(c->proto->caps & IPK__P_SEND))
		return wrong_side(c, true);
	if (len > c->maxmsg)
		return ipk__err(-EMSGSIZE,
		                "message of %zu bytes exceeds the channel limit of "
		                "%zu bytes (raise it with ?maxmsg=)", len, c->maxmsg);
	return ipk__shmcast_borrow(sc, buf, len, ipk__deadline(timeout_ms));
}

ssize_t ipk__cast_commit(ipk_chan *c, size_t len)
{
	struct ipk__shmcast *sc = ipk__cast_of(c);
	if (sc == NULL)
		return not_cast(c, "ipk_send_commit");
	if (!(c->proto->caps & IPK__P_SEND))
		return wrong_side(c, true);
	return ipk__shmcast_commit(sc, len);
}

int ipk__cast_abort(ipk_chan *c)
{
	struct ipk__shmcast *sc = ipk__cast_of(c);
	if (sc == NULL)
		return not_cast(c, "ipk_send_abort");
	if (!(c->proto->caps & IPK__P_SEND))
		return wrong_side(c, true);
	return ipk__shmcast_abort(sc);
}

ssize_t ipk__cast_peek(ipk_chan *c, const void **buf, ipk_msginfo *info,
                       int timeout_ms)
{
	struct ipk__shmcast *sc = ipk__cast_of(c);
	if (sc == NULL)
		return not_cast(c, "ipk_recv_peek");
	if (buf == NULL)
		return ipk__err(-EINVAL, "ipk_recv_peek: buf is NULL");
	*buf = NULL;
	if (!(c->proto->caps & IPK__P_RECV))
		return wrong_side(c, false);
	ipk__sub_arm(c->sock); /* a first receive may be this peek */
	uint64_t missed = 0;
	ssize_t n = ipk__shmcast_peek(sc, buf, &missed, ipk__deadline(timeout_ms));
	if (n >= 0 && info != NULL)
		info->missed = missed;
	return n;
}

int ipk__cast_release(ipk_chan *c)
{
	struct ipk__shmcast *sc = ipk__cast_of(c);
	if (sc == NULL)
		return not_cast(c, "ipk_recv_release");
	if (!(c->proto->caps & IPK__P_RECV))
		return wrong_side(c, false);
	return ipk__shmcast_release(sc);
}
