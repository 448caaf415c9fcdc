/*
 * The connection carrier (unix:, tcp:): every connection is a pipe. A
 * listening socket accepts as connections come, a dialing one keeps its
 * connection up and dials again when the peer goes (a restarted server is
 * found again). The SP handshake announces the socket's protocol, so nng
 * peers of the matching pattern connect as they would to nng.
 */
#define _GNU_SOURCE
#include "proto.h"
#include "../transport/sockstream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define HDR_ROOM 64

struct conn {
	ipk_chan *l; /* the transport's listener, when listening */
	int64_t next_look; /* when a send next looks for new connections */
	int64_t busy_until; /* a listener with one busy connection waits on it
	                       alone until then (see conn_recv) */
	int64_t redial_at;  /* a dialer whose peer is away: its next dial for a
	                       call that does not wait (see reconnect) */
	unsigned redial_round;
};

/* A dialer whose peer is away dials again for a call that does not wait
   (an event loop's) 10 ms after the last try, doubling to this. */
#define REDIAL_MIN_NS 10000000LL
#define REDIAL_MAX_NS 320000000LL

/* How long a listener with one connection waits on it alone, in the
   kernel, before it looks for new connections again (while messages keep
   coming; an idle one waits on everything at once). */
#define SERVER_WAIT_NS 10000000

static void conn_refresh(struct ipk__sock *s);

/* How often sends look for new connections (a poll of the listener). */
#define LOOK_NS 1000000

/* A transport channel for one pipe, set up as ipk_accept/ipk_dial would. */
static ipk_chan *pipe_chan(struct ipk__sock *s)
{
	ipk_chan *c = s->c;
	ipk_chan *ch = ipk__chan_new(c->tp, &c->url);
	if (ch == NULL) {
		ipk__err(-ENOMEM, "out of memory");
		return NULL;
	}
	ch->maxmsg = c->maxmsg + HDR_ROOM; /* the protocol's header rides too */
	ch->mode = c->mode;
	ch->linger_ms = c->linger_ms;
	ch->persist = c->persist;
	ch->creator = c->creator;
	ch->sp_self = c->proto->sp_self;
	ch->sp_peer = c->proto->sp_peer;
	ch->sp_lazy = true; /* the listening side may not be called yet */
	return ch;
}

static int add_pipe(struct ipk__sock *s, ipk_chan *ch, bool dialed)
{
	ch->role = dialed ? IPK__DIALER : IPK__ACCEPTED;
	/* a dialer's one connection waits in the kernel as long as the
	   protocol usually waits (see conn_recv) */
	if (dialed && s->wait_hint > 0)
		(void)ipk__ss_rcvtimeo(ch, s->wait_hint);
	else if (!dialed)
		(void)ipk__ss_rcvtimeo(ch, SERVER_WAIT_NS);
	struct ipk__pipe *p = ipk__pipe_new(s, ch);
	if (p == NULL) {
		ipk_close(ch);
		return ipk__err(-ENOMEM, "out of memory");
	}
	int rc = ipk__sock_watch(s, ch->tp->fd(ch), ipk__ev(IPK__EV_PIPE, p->id),
	                         EPOLLIN);
	if (rc < 0)
		ipk__pipe_remove(s, p);
	return rc;
}

/* Take every connection whose handshake is done. */
static void accept_all(struct ipk__sock *s)
{
	struct conn *k = s->car_state;
	for (;;) {
		ipk_chan *ch = pipe_chan(s);
		if (ch == NULL)
			return;
		int rc = s->c->tp->accept(k->l, ch, IPK__NOW);
		if (rc < 0) {
			ipk__chan_free(ch);
			if (rc != -EAGAIN)
				ipk__warn("%s: accept: %s", s->c->url.text, ipk_last_error());
			return;
		}
		if (add_pipe(s, ch, false) < 0)
			return;
	}
}

/* A dialing socket with no connection dials (the transport retries a
   refused or missing endpoint until the deadline). */
static int redial(struct ipk__sock *s, int64_t deadline)
{
	ipk_chan *ch = pipe_chan(s);
	if (ch == NULL)
		return -ENOMEM;
	int rc = s->c->tp->dial(ch, deadline);
	if (rc < 0) {
		ipk__chan_free(ch);
		return rc;
	}
	return add_pipe(s, ch, true);
}

/*
 * A dialer that lost its connection dials again. A refused or missing
 * endpoint means the peer is away (killed, restarting): the transport
 * tries again until the deadline, and a call that runs out of time gets a
 * timeout (-EAGAIN for one that does not wait), never the refusal, so a
 * REQ keeps its request and a SUB its subscription until the server is
 * back. Calls that do not wait dial at most at a backoff's pace, and the
 * socket's fd wakes a poller when the next dial is due.
 */
static int reconnect(struct ipk__sock *s, int64_t deadline)
{
	struct conn *k = s->car_state;
	if (deadline == IPK__NOW && ipk__now_ns() < k->redial_at)
		return ipk__err(-EAGAIN, "%s: no %s peer yet (dialing again)",
		                s->c->url.text, s->proto->peer);
	int rc = redial(s, deadline);
	if (rc == 0) {
		k->redial_at = 0;
		k->redial_round = 0;
		ipk__sock_car_timer(s, IPK__NEVER);
		return 0;
	}
	char why[400];
	snprintf(why, sizeof why, "%s", ipk_last_error());
	if (rc != -ECONNREFUSED && rc != -ENOENT && rc != -EAGAIN &&
	    rc != -ETIMEDOUT && rc != -ECONNRESET)
		return ipk__err(rc, "%s: no %s peer: %s", s->c->url.text,
		                s->proto->peer, why);
	int64_t wait = REDIAL_MIN_NS << (k->redial_round < 6 ? k->redial_round : 6);
	if (wait > REDIAL_MAX_NS)
		wait = REDIAL_MAX_NS;
	k->redial_round++;
	k->redial_at = ipk__now_ns() + wait;
	ipk__sock_car_timer(s, k->redial_at);
	return ipk__err(ipk__timeout_err(deadline), "%s: no %s peer: %s",
	                s->c->url.text, s->proto->peer, why);
}

static int conn_start(struct ipk__sock *s, int64_t deadline)
{
	struct conn *k = calloc(1, sizeof *k);
	if (k == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	s->car_state = k;
	if (!s->listening) {
		int rc = redial(s, deadline);
		if (rc < 0) {
			free(k);
			s->car_state = NULL;
		}
		return rc;
	}
	ipk_chan *l = pipe_chan(s);
	int rc = l ? s->c->tp->listen(l) : -ENOMEM;
	if (rc == 0)
		rc = ipk__sock_watch(s, l->tp->fd(l), ipk__ev(IPK__EV_LISTENER, 0),
		                     EPOLLIN);
	if (rc < 0) {
		if (l && l->role == IPK__LISTENER)
			ipk_close(l);
		else
			ipk__chan_free(l);
		free(k);
		s->car_state = NULL;
		return rc;
	}
	k->l = l;
	return 0;
}

static void conn_stop(struct ipk__sock *s)
{
	struct conn *k = s->car_state;
	if (k && k->l)
		ipk_close(k->l);
	free(k);
	s->car_state = NULL;
}

/* A pipe failed with err: let it go, saying why unless its peer left. */
static void drop_pipe(struct ipk__sock *s, struct ipk__pipe *p, ssize_t err)
{
	if (err != -EPIPE)
		ipk__warn("%s: dropped a connection: %s", s->c->url.text,
		          ipk_last_error());
	ipk__pipe_remove(s, p);
}

/* Receive from one pipe without waiting; a pipe that fails is let go. */
static ssize_t pipe_recv(struct ipk__sock *s, struct ipk__pipe *p, ipk__rx *rx)
{
	ssize_t n = p->ch->tp->recv(p->ch, rx, IPK__NOW);
	if (n >= 0 || n == -EAGAIN || n == -ENOBUFS || n == -ENOMEM)
		return n;
	drop_pipe(s, p, n);
	return -EAGAIN;
}

static void clear_timer(struct ipk__sock *s)
{
	uint64_t ticks;
	if (s->timerfd >= 0 && read(s->timerfd, &ticks, sizeof ticks) < 0)
		return;
}

/* May a receive wait in the kernel? With no deadline and no usual wait,
   or when the deadline is the usual wait away (REQ: its resend): the
   connection's receive timeout ends the read then. */
static bool kernel_wait(const struct ipk__sock *s, int64_t deadline)
{
	if (s->wait_hint == 0)
		return deadline == IPK__NEVER;
	if (deadline == IPK__NOW)
		return false;
	return deadline == IPK__NEVER ||
	       deadline - ipk__now_ns() >= s->wait_hint - 2000000;
}

/* A listener whose one connection is busy (a message came lately) waits
   on that connection alone: a blocking read, one system call. New
   connections are looked for every millisecond while messages come, and
   after SERVER_WAIT_NS of silence it waits on everything again. */
static bool server_kernel_wait(const struct ipk__sock *s, int64_t deadline)
{
	const struct conn *k = s->car_state;
	if (deadline == IPK__NOW || k->busy_until == 0)
		return false;
	int64_t now = ipk__coarse_ns();
	return now < k->busy_until &&
	       (deadline == IPK__NEVER || deadline - now >= 2 * SERVER_WAIT_NS);
}

static ssize_t conn_recv(struct ipk__sock *s, ipk__rx *rx,
                         struct ipk__pipe **from, int64_t deadline)
{
	struct conn *k = s->car_state;
	for (;;) {
		if (s->listening && s->npipes == 1 && server_kernel_wait(s, deadline)) {
			conn_refresh(s); /* anyone new? (at most once a millisecond) */
			if (s->npipes != 1)
				continue;
			struct ipk__pipe *p = s->pipes[0];
			ssize_t n = p->ch->tp->recv(p->ch, rx, IPK__NEVER);
			if (n >= 0 || n == -ENOBUFS || n == -ENOMEM) {
				k->busy_until = ipk__coarse_ns() + SERVER_WAIT_NS;
				*from = p;
				return n;
			}
			k->busy_until = 0; /* quiet, or gone: wait on everything */
			if (n != -ETIMEDOUT && n != -EAGAIN)
				drop_pipe(s, p, n);
			continue;
		}
		if (!s->listening && s->npipes == 1 && kernel_wait(s, deadline)) {
			/* one connection and nothing else to watch: a blocking read,
			   one system call as for a plain channel, that gives up when
			   the protocol would look again (REQ: to resend) */
			struct ipk__pipe *p = s->pipes[0];
			ssize_t n = p->ch->tp->recv(p->ch, rx, IPK__NEVER);
			if (n == -ETIMEDOUT && !ipk__expired(deadline))
				continue;
			if (n >= 0 || n == -ENOBUFS || n == -ENOMEM || n == -ETIMEDOUT) {
				*from = p;
				return n;
			}
			drop_pipe(s, p, n);
			continue;
		}
		/* what a pipe already read ahead comes first */
		for (int i = 0; i < s->npipes; i++) {
			struct ipk__pipe *p = s->pipes[i];
			if (p->ch->tp->pending(p->ch)) {
				ssize_t n = pipe_recv(s, p, rx);
				if (n >= 0 || n == -ENOBUFS || n == -ENOMEM) {
					*from = p;
					return n;
				}
				break; /* the list may have changed */
			}
		}
		if (!s->listening && s->npipes == 0) {
			int rc = reconnect(s, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		struct epoll_event ev[16];
		int n = epoll_wait(s->epfd, ev, 16, ipk__remaining_ms(deadline));
		if (n < 0 && errno != EINTR)
			return ipk__errno(-errno, "epoll_wait");
		if (n == 0 && ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline),
			                "%s: no message", s->c->url.text);
		for (int i = 0; i < n; i++) {
			unsigned kind = (unsigned)(ev[i].data.u64 >> 32);
			if (kind == IPK__EV_LISTENER) {
				accept_all(s);
			} else if (kind == IPK__EV_TIMER) {
				clear_timer(s);
			} else if (kind == IPK__EV_PIPE) {
				struct ipk__pipe *p =
					ipk__pipe_find(s, (uint32_t)ev[i].data.u64);
				if (p == NULL)
					continue;
				ssize_t m = pipe_recv(s, p, rx);
				if (m >= 0 || m == -ENOBUFS || m == -ENOMEM) {
					if (m >= 0 && s->listening)
						k->busy_until = ipk__coarse_ns() + SERVER_WAIT_NS;
					*from = p;
					return m; /* the others stay readable for next time */
				}
			}
		}
	}
}

static ssize_t conn_send(struct ipk__sock *s, struct ipk__pipe *p,
                         const void *buf, size_t len, int64_t deadline)
{
	static const ipk_msginfo none;
	ssize_t n = p->ch->tp->send(p->ch, buf, len, &none, deadline);
	if (n >= 0 || n == -EAGAIN || n == -ETIMEDOUT || n == -EMSGSIZE)
		return n;
	drop_pipe(s, p, n);
	return -EPIPE;
}

static int conn_flush(struct ipk__sock *s, struct ipk__pipe *p,
                      int64_t deadline)
{
	int rc = ipk__ss_finish(p->ch, deadline); /* (not a ?batch queue) */
	if (rc == -EPIPE || (rc < 0 && rc != -EAGAIN && rc != -ETIMEDOUT))
		ipk__pipe_remove(s, p);
	return rc;
}

/* Wait for room on a pipe, or for a pipe to come. */
static int conn_wait_send(struct ipk__sock *s, int64_t deadline)
{
	struct conn *k = s->car_state;
	if (!s->listening && s->npipes == 0)
		return reconnect(s, deadline);
	int n = s->npipes + 1;
	struct pollfd stackfds[64];
	struct pollfd *pf = n <= 64 ? stackfds : calloc((size_t)n, sizeof *pf);
	if (pf == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	for (int i = 0; i < s->npipes; i++)
		pf[i] = (struct pollfd){.fd = s->pipes[i]->ch->tp->fd(s->pipes[i]->ch),
		                        .events = POLLOUT};
	pf[n - 1] = (struct pollfd){.fd = k->l ? k->l->tp->fd(k->l) : -1,
	                            .events = POLLIN};
	int rc = poll(pf, (nfds_t)n, ipk__remaining_ms(deadline));
	int err = errno;
	bool newconn = rc > 0 && (pf[n - 1].revents & POLLIN);
	if (pf != stackfds)
		free(pf);
	if (rc < 0 && err != EINTR)
		return ipk__err(-err, "poll: %s", ipk_strerror(err));
	if (newconn)
		accept_all(s);
	if (rc == 0 && ipk__expired(deadline))
		return ipk__err(ipk__timeout_err(deadline),
		                "%s: no %s peer took the message", s->c->url.text,
		                s->proto->peer);
	return 0;
}

static void conn_refresh(struct ipk__sock *s)
{
	struct conn *k = s->car_state;
	if (k->l == NULL)
		return;
	int64_t now = ipk__coarse_ns();
	if (now < k->next_look)
		return;
	k->next_look = now + LOOK_NS;
	struct pollfd pf = {.fd = k->l->tp->fd(k->l), .events = POLLIN};
	if (poll(&pf, 1, 0) > 0)
		accept_all(s);
}

static int conn_pending(const struct ipk__sock *s)
{
	for (int i = 0; i < s->npipes; i++) {
		ipk_chan *ch = s->pipes[i]->ch;
		if (ch->tp->pending(ch))
			return 1;
	}
	return 0;
}

static ssize_t conn_address(const struct ipk__sock *s, char *buf, size_t cap)
{
	const struct conn *k = s->car_state;
	if (k->l && k->l->tp->address)
		return k->l->tp->address(k->l, buf, cap);
	return -1; /* the address as given */
}

const struct ipk__carrier ipk__carrier_conn = {
	.name = "connections",
	.start = conn_start,
	.stop = conn_stop,
	.recv = conn_recv,
	.send = conn_send,
	.flush = conn_flush,
	.wait_send = conn_wait_send,
	.refresh = conn_refresh,
	.pending = conn_pending,
	.address = conn_address,
};
