/*
 * A socket: a channel with a protocol other than PAIR. It owns its pipes
 * (connections, or peers of a mailbox) through a carrier and lends the
 * protocol scratch buffers for headers, so protocols only say what goes on
 * which pipe.
 */
#define _GNU_SOURCE
#include "proto.h"
#include "../transport/shmcast.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* Bytes a protocol header may add to a message (SP backtrace and more). */
#define HDR_ROOM 64

static uint32_t random32(void)
{
	uint32_t v;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
		v = (uint32_t)ipk__now_ns() ^ (uint32_t)getpid() << 16;
	return v;
}

static const struct ipk__carrier *carrier_for(const ipk_chan *c)
{
	if (c->tp->accept != NULL)
		return &ipk__carrier_conn; /* connections: a pipe each */
	if ((c->proto->caps & IPK__P_BCAST) && ipk__shmcast_scheme(c))
		return &ipk__carrier_cast; /* one broadcast ring in memory */
	if (c->proto->caps & IPK__P_REPLY)
		return &ipk__carrier_back; /* replies need a way back */
	return &ipk__carrier_mbox;     /* the mailbox is the pipeline */
}

int ipk__sock_watch(struct ipk__sock *s, int fd, uint64_t tag, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 &&
	    (errno != EEXIST || epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) < 0))
		return ipk__errno(-errno, "epoll_ctl");
	return 0;
}

void ipk__sock_unwatch(struct ipk__sock *s, int fd)
{
	if (fd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void sock_free(struct ipk__sock *s)
{
	if (s == NULL)
		return;
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	free(s->pipes);
	free(s->in);
	free(s->out);
	free(s->priv);
	free(s);
}

static int sock_open(ipk_chan *c, bool listening, int64_t deadline)
{
	const struct ipk__proto *pr = c->proto;
	bool server = pr->caps & IPK__P_SERVER;
	if (c->tp->accept == NULL && (pr->caps & IPK__P_REPLY) &&
	    listening != server) {
		/* a mailbox has one owner, and it is the side that answers */
		return ipk__err(-EINVAL,
		                server ? "%s: on %s: the %s side owns the mailbox: "
		                         "listen with ?proto=%s"
		                       : "%s: on %s: the %s side attaches to the "
		                         "mailbox its server owns: dial with "
		                         "?proto=%s",
		                c->url.text, c->tp->scheme, pr->name, pr->name);
	}
	struct ipk__sock *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	s->epfd = s->timerfd = -1;
	s->c = c;
	s->proto = pr;
	s->car = carrier_for(c);
	s->listening = listening;
	s->cookie = random32() | 1;
	s->next_id = (random32() & 0x7fffffffu) | 1;
	s->timer_at = s->car_timer_at = IPK__NEVER;
	int rc;
	if (pr->priv_size && (s->priv = calloc(1, pr->priv_size)) == NULL) {
		rc = ipk__err(-ENOMEM, "out of memory");
		goto fail;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		rc = ipk__errno(-errno, "epoll_create1");
		goto fail;
	}
	c->sock = s;
	c->role = IPK__SOCKET;
	if (pr->init && (rc = pr->init(s)) < 0)
		goto fail;
	if ((rc = s->car->start(s, deadline)) < 0) {
		if (pr->fini)
			pr->fini(s);
		goto fail;
	}
	return 0;
fail:
	c->sock = NULL;
	sock_free(s);
	return rc;
}

int ipk__sock_listen(ipk_chan *c)
{
	return sock_open(c, true, IPK__NOW);
}

int ipk__sock_dial(ipk_chan *c, int64_t deadline)
{
	return sock_open(c, false, deadline);
}

int ipk__sock_close(ipk_chan *c)
{
	struct ipk__sock *s = c->sock;
	if (s == NULL)
		return 0;
	ipk__sock_drop(s); /* a message still lent goes back first */
	if (s->proto->fini)
		s->proto->fini(s);
	s->car->stop(s); /* may still look at its pipes (dead clients') */
	while (s->npipes > 0)
		ipk__pipe_remove(s, s->pipes[s->npipes - 1]);
	sock_free(s);
	c->sock = NULL;
	return 0;
}

int ipk__sock_flush(ipk_chan *c, int64_t deadline)
{
	struct ipk__sock *s = c->sock;
	int rc = 0;
	for (int i = 0; i < s->npipes; i++) {
		ipk_chan *ch = s->pipes[i]->ch;
		int r = ch && ch->tp->flush ? ch->tp->flush(ch, deadline) : 0;
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

/* ------------------------------------------------------------- pipes */

struct ipk__pipe *ipk__pipe_find(const struct ipk__sock *s, uint32_t id)
{
	for (int i = 0; i < s->npipes; i++)
		if (s->pipes[i]->id == id)
			return s->pipes[i];
	return NULL;
}

struct ipk__pipe *ipk__pipe_new(struct ipk__sock *s, ipk_chan *ch)
{
	if (s->npipes == s->pipecap) {
		int cap = s->pipecap ? 2 * s->pipecap : 8;
		void *np = realloc(s->pipes, (size_t)cap * sizeof *s->pipes);
		if (np == NULL)
			return NULL;
		s->pipes = np;
		s->pipecap = cap;
	}
	struct ipk__pipe *p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	do { /* 31 bits, never 0, unique: SP hop words */
		s->next_id = (s->next_id + 1) & 0x7fffffffu;
	} while (s->next_id == 0 || ipk__pipe_find(s, s->next_id));
	p->id = s->next_id;
	p->s = s;
	p->ch = ch;
	p->index = s->npipes;
	s->pipes[s->npipes++] = p;
	if (s->proto->pipe_added)
		s->proto->pipe_added(s, p);
	return p;
}

void ipk__pipe_remove(struct ipk__sock *s, struct ipk__pipe *p)
{
	if (s->proto->pipe_removed)
		s->proto->pipe_removed(s, p);
	if (s->held_from == p)
		s->held_from = NULL;
	int i = p->index;
	s->pipes[i] = s->pipes[--s->npipes];
	s->pipes[i]->index = i;
	if (s->rr >= s->npipes)
		s->rr = 0;
	if (p->ch) {
		ipk__sock_unwatch(s, p->ch->tp->fd ? p->ch->tp->fd(p->ch) : -1);
		ipk_close(p->ch);
	}
	if (s->car->pipe_gone)
		s->car->pipe_gone(s, p);
	free(p->car);
	free(p);
}

/* --------------------------------------------------- scratch buffers */

unsigned char *ipk__sock_outbuf_grow(struct ipk__sock *s, size_t n)
{
	size_t need = s->car->headroom + n;
	if (need > s->outcap) {
		size_t cap = s->outcap ? s->outcap : 256;
		while (cap < need)
			cap *= 2;
		void *p = realloc(s->out, cap);
		if (p == NULL) {
			ipk__err(-ENOMEM, "out of memory");
			return NULL;
		}
		s->out = p;
		s->outcap = cap;
	}
	return s->out + s->car->headroom;
}

ssize_t ipk__sock_send2(struct ipk__sock *s, struct ipk__pipe *p,
                        const void *hdr, size_t hl, const void *body,
                        size_t bl, int64_t deadline)
{
	if (s->car->send2)
		return s->car->send2(s, p, hdr, hl, body, bl, deadline);
	unsigned char *m = ipk__sock_outbuf(s, hl + bl);
	if (m == NULL)
		return -ENOMEM;
	ipk__copy_words(m, hdr, hl);
	ipk__copy(m + hl, body, bl);
	return s->car->send(s, p, m, hl + bl, deadline);
}

ssize_t ipk__sock_take(struct ipk__sock *s, struct ipk__pipe **from,
                       int64_t deadline)
{
	if (s->held) {
		s->held = false;
		*from = s->held_from;
		return (ssize_t)s->msg_len;
	}
	ipk__sock_drop(s);
	if (s->car->peek) { /* in place: no copy of the whole message */
		const unsigned char *m = NULL;
		ssize_t n = s->car->peek(s, &m, from, deadline);
		if (n != -EOPNOTSUPP) {
			if (n >= 0) {
				s->msg = m;
				s->msg_len = (size_t)n;
				s->peeked = true;
			}
			return n;
		}
	}
	ipk_msginfo info = {0};
	ipk__rx rx = {.buf = s->in, .cap = s->incap, .alloc = true, .info = &info,
	              .maxmsg = s->c->maxmsg + HDR_ROOM};
	ssize_t n = s->car->recv(s, &rx, from, deadline);
	s->in = rx.buf;
	s->incap = rx.cap;
	if (n >= 0) {
		s->msg = s->in;
		s->msg_len = (size_t)n;
	}
	return n;
}

void ipk__sock_drop(struct ipk__sock *s)
{
	if (s->peeked && s->car->release)
		s->car->release(s);
	s->peeked = s->held = s->spent = false;
}

ssize_t ipk__sock_deliver(struct ipk__sock *s, ipk__rx *rx,
                          const unsigned char *body, size_t len,
                          struct ipk__pipe *from)
{
	int err = 0;
	void *dst = ipk__rx_reserve(rx, len, &err);
	if (dst == NULL && len > 0) {
		if (err == -ENOBUFS) { /* it stays first in line */
			s->held = true;
			s->held_from = from;
		} else {
			ipk__sock_drop(s);
		}
		return err;
	}
	ipk__copy(dst, body, len);
	if (s->peeked && s->car->lazy_release && !s->fd_given)
		s->spent = true; /* given back on the next take */
	else
		ipk__sock_drop(s);
	return (ssize_t)len;
}

ssize_t ipk__sock_send_rr(struct ipk__sock *s, const void *buf, size_t len,
                          struct ipk__pipe **on, int64_t deadline)
{
	if (s->car->refresh)
		s->car->refresh(s);
	if (s->car->direct && s->npipes == 1) {
		if (on)
			*on = s->pipes[0];
		return s->car->send(s, s->pipes[0], buf, len, deadline);
	}
	for (;;) {
		int n = s->npipes;
		bool changed = false;
		for (int k = 0; k < n && !changed; k++) {
			struct ipk__pipe *p = s->pipes[(s->rr + k) % n];
			ssize_t r = s->car->send(s, p, buf, len, IPK__NOW);
			/* a stream may take only the first part of a large message:
			   the rest goes out within the caller's time, as on a PAIR
			   channel (nothing else would send it before the next send,
			   and a REQ would wait for the reply to a request its server
			   never got whole). What the time leaves is kept for the
			   next send or close; a pipe that broke meanwhile is gone,
			   and the message goes to another */
			if (r >= 0 && s->car->flush && deadline != IPK__NOW) {
				int rc = s->car->flush(s, p, deadline);
				if (rc < 0 && rc != -EAGAIN && rc != -ETIMEDOUT) {
					changed = true;
					continue;
				}
			}
			if (r >= 0) {
				s->rr = s->npipes ? (p->index + 1) % s->npipes : 0;
				if (on)
					*on = p;
				return r;
			}
			if (r == -EMSGSIZE)
				return r;
			/* -EAGAIN: busy, try the next; else the pipe went away */
			changed = r != -EAGAIN;
		}
		if (changed)
			continue;
		/* wait for room or a peer (new connections are taken in here,
		   even when the caller does not wait) */
		int rc = s->car->wait_send(s, deadline);
		if (rc < 0)
			return rc;
		if (s->npipes == n && ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline),
			                "%s: no %s peer %s the message", s->c->url.text,
			                s->proto->peer, n ? "could take" : "is there for");
	}
}

/* Arm the timerfd for the first of the protocol's and the carrier's. */
void ipk__sock_arm(struct ipk__sock *s)
{
	if (s->timerfd < 0)
		return; /* nobody polls: the protocol's own waits see the time */
	int64_t at = s->timer_at < s->car_timer_at ? s->timer_at : s->car_timer_at;
	struct itimerspec its = {0};
	if (at != IPK__NEVER) {
		if (at <= 0)
			at = 1;
		its.it_value.tv_sec = at / 1000000000;
		its.it_value.tv_nsec = at % 1000000000;
	}
	timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void ipk__sock_car_timer(struct ipk__sock *s, int64_t at)
{
	s->car_timer_at = at;
	ipk__sock_arm(s);
}

/* ------------------------------------------------- channel entry points */

ssize_t ipk__sock_send(ipk_chan *c, const void *buf, size_t len,
                       const ipk_msginfo *info, int64_t deadline)
{
	struct ipk__sock *s = c->sock;
	return s->proto->sock_send(s, buf, len, info, deadline);
}

ssize_t ipk__sock_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct ipk__sock *s = c->sock;
	return s->proto->sock_recv(s, rx, deadline);
}

int ipk__sock_fd(const ipk_chan *c)
{
	struct ipk__sock *s = c->sock;
	s->fd_given = true;
	if (s->spent)
		ipk__sock_drop(s);
	if (s->car->fd)
		return s->car->fd(s);
	int rc = ipk__sock_timerfd(s);
	return rc < 0 ? rc : s->epfd;
}

int ipk__sock_timerfd(struct ipk__sock *s)
{
	if (s->timerfd >= 0)
		return 0;
	/* a poller cannot see the protocol's timer: give it one */
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timerfd < 0)
		return ipk__errno(-errno, "timerfd_create");
	int rc = ipk__sock_watch(s, s->timerfd, ipk__ev(IPK__EV_TIMER, 0),
	                         EPOLLIN);
	if (rc < 0) {
		close(s->timerfd);
		s->timerfd = -1;
		return rc;
	}
	ipk__sock_arm(s);
	return 0;
}

int ipk__sock_pending(const ipk_chan *c)
{
	struct ipk__sock *s = c->sock;
	if (s->spent) /* a delivered message would read as one waiting */
		ipk__sock_drop(s);
	if (s->held || (s->car->pending && s->car->pending(s)))
		return 1;
	return s->proto->sock_pending ? s->proto->sock_pending(s) : 0;
}

ssize_t ipk__sock_address(const ipk_chan *c, char *buf, size_t cap)
{
	const struct ipk__sock *s = c->sock;
	char base[512];
	ssize_t n = s->car->address ? s->car->address(s, base, sizeof base) : -1;
	if (n < 0) {
		snprintf(base, sizeof base, "%s", c->url.text);
		n = (ssize_t)strlen(base);
	}
	/* what a peer dials: the place with its options, and the protocol it
	   must speak there */
	base[strcspn(base, "?")] = '\0';
	size_t off = strlen(base);
	for (int i = 0; i < c->url.nopts && off < sizeof base; i++) {
		const struct ipk__opt *o = &c->url.opts[i];
		if (ipk__proto_option(o->key))
			continue;
		off += (size_t)snprintf(base + off, sizeof base - off, "%c%s%s%s",
		                        strchr(base, '?') ? '&' : '?', o->key,
		                        o->val ? "=" : "", o->val ? o->val : "");
	}
	int m = off < sizeof base
	                ? snprintf(buf, cap, "%s%cproto=%s", base,
	                           strchr(base, '?') ? '&' : '?', s->proto->peer)
	                : -1;
	if (m < 0 || (size_t)m >= cap)
		return ipk__err(-ENOBUFS, "address needs %d bytes", m + 1);
	return m;
}
