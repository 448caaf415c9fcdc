/* Stream sockets: listen/accept/dial with deadlines, SP handshake, framing. */
#define _GNU_SOURCE
#include "sockstream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

/* How long an accepted peer has to send its SP header before it is dropped. */
#define HANDSHAKE_MS 5000

/* The connection is up (and its handshake done): make it c's stream. */
static void start_stream(ipk_chan *c, int fd, int family,
                         enum ipk__framing framing)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	ipk__stream_init(&sc->s, fd, fd, c->raw ? IPK__FRAME_RAW : framing,
	                 IPK__FD_SOCK, c->maxmsg);
	sc->lfd = sc->epfd = -1;
	sc->framing = framing;
	if (family == AF_UNIX) { /* who is on the other end, for ipk_msginfo */
		struct ucred cr;
		socklen_t cl = sizeof cr;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) {
			sc->peer_pid = cr.pid;
			sc->peer_uid = cr.uid;
		}
	}
}

static void tune(int fd, int family)
{
	if (family == AF_INET || family == AF_INET6) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
}

int ipk__ss_listen(ipk_chan *c, int fd, enum ipk__framing framing)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (listen(fd, SOMAXCONN) < 0)
		return ipk__errno(-errno, "listen");
	/* the pollable fd covers new connections and handshakes under way */
	sc->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	if (sc->epfd < 0 || epoll_ctl(sc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = ipk__errno(-errno, "epoll");
		if (sc->epfd >= 0)
			close(sc->epfd);
		return rc;
	}
	c->role = IPK__LISTENER;
	sc->lfd = fd;
	sc->framing = framing;
	sc->npend = 0;
	sc->s.rfd = sc->s.wfd = -1;
	return 0;
}

static void drop_pending(struct ipk__sockchan *ls, int i, bool close_fd)
{
	epoll_ctl(ls->epfd, EPOLL_CTL_DEL, ls->pend[i].hs.fd, NULL);
	if (close_fd)
		close(ls->pend[i].hs.fd);
	ls->pend[i] = ls->pend[--ls->npend];
}

/* Take what the kernel has queued: >= 0 an fd ready to use (raw), -EAGAIN
 * when nothing is queued or the pending list is full, or an error. */
static int take_new(ipk_chan *l, int *family)
{
	struct ipk__sockchan *ls = ipk__priv(l);
	while (ls->npend < IPK__MAX_PENDING) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(ls->lfd, (struct sockaddr *)&ss, &sl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return -EAGAIN;
			return ipk__errno(-errno, "accept");
		}
		tune(fd, ss.ss_family);
		if (l->raw) { /* plain bytes: nothing to exchange first */
			*family = ss.ss_family;
			return fd;
		}
		struct ipk__pending *p = &ls->pend[ls->npend];
		*p = (struct ipk__pending){.hs = {.fd = fd},
		                           .family = ss.ss_family,
		                           .expires = ipk__deadline(HANDSHAKE_MS)};
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ls->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			return ipk__errno(-errno, "epoll_ctl");
		}
		ls->npend++;
	}
	return -EAGAIN;
}

/* Advance every handshake: the fd of one that finished, or -EAGAIN. Peers
 * that fail (a port scanner, a client that left) or stay silent too long
 * are dropped without troubling the caller. */
static int step_pending(struct ipk__sockchan *ls, int *family,
                        int64_t *next_expiry)
{
	int64_t now = ipk__now_ns();
	*next_expiry = IPK__NEVER;
	for (int i = 0; i < ls->npend;) {
		struct ipk__pending *p = &ls->pend[i];
		int rc = ipk__sp_step(&p->hs, IPK__SP_PAIR0);
		if (rc > 0) {
			int fd = p->hs.fd;
			*family = p->family;
			drop_pending(ls, i, false);
			return fd;
		}
		if (rc < 0 || now >= p->expires) {
			drop_pending(ls, i, true);
			continue;
		}
		if (p->expires < *next_expiry)
			*next_expiry = p->expires;
		i++;
	}
	return -EAGAIN;
}

/*
 * Connections whose handshake is under way wait in the listener, each with
 * its own time limit, so a silent or foreign client never holds up the
 * others and a non-blocking accept never drops a connection that is
 * merely slow: it is there for the next call (and the listener's fd, an
 * epoll set, wakes the caller when its header arrives).
 */
int ipk__ss_accept(ipk_chan *l, ipk_chan *c, int64_t deadline)
{
	struct ipk__sockchan *ls = ipk__priv(l);
	for (;;) {
		int family = 0;
		int fd = take_new(l, &family);
		int64_t expiry = IPK__NEVER;
		if (fd == -EAGAIN)
			fd = step_pending(ls, &family, &expiry);
		if (fd >= 0) {
			start_stream(c, fd, family, ls->framing);
			return 0;
		}
		if (fd != -EAGAIN)
			return fd;
		if (ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline),
			                "no connection to accept on %s", l->url.text);
		/* wake for a new connection, a header, or a handshake's expiry */
		int64_t until = expiry < deadline ? expiry : deadline;
		int rc = ipk__wait_fd(ls->epfd, POLLIN, until);
		if (rc < 0 && until == deadline)
			return ipk__err(rc, "no connection to accept on %s", l->url.text);
	}
}

int ipk__ss_dial(ipk_chan *c, int family, const struct sockaddr *sa,
                 socklen_t len, enum ipk__framing framing, int64_t deadline)
{
	unsigned round = 0;
	for (;;) {
		int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return ipk__errno(-errno, "socket");
		int rc = connect(fd, sa, len);
		int err = rc == 0 ? 0 : errno;
		if (err == EINPROGRESS) {
			rc = ipk__wait_fd(fd, POLLOUT, deadline);
			if (rc < 0) {
				close(fd);
				return ipk__err(rc, "connecting to %s", c->url.text);
			}
			socklen_t el = sizeof err;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		}
		if (err == 0) {
			tune(fd, family);
			rc = c->raw ? 0 : ipk__sp_handshake(fd, IPK__SP_PAIR0, deadline);
			if (rc < 0) {
				close(fd);
				return rc;
			}
			start_stream(c, fd, family, framing);
			return 0;
		}
		close(fd);
		/* nobody listening yet: keep trying until the deadline */
		bool retry = err == ECONNREFUSED || err == ENOENT || err == EAGAIN;
		if (!retry || ipk__expired(deadline))
			return ipk__err(-err, "cannot connect to %s: %s", c->url.text,
			                ipk_strerror(err));
		if ((rc = ipk__backoff(&round, deadline)) < 0)
			return ipk__err(-err, "cannot connect to %s: %s", c->url.text,
			                ipk_strerror(err));
	}
}

ssize_t ipk__ss_send(ipk_chan *c, const void *buf, size_t len,
                     const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct ipk__sockchan *sc = ipk__priv(c);
	return ipk__stream_send(&sc->s, buf, len, deadline);
}

ssize_t ipk__ss_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	rx->info->pid = sc->peer_pid;
	rx->info->uid = sc->peer_uid;
	return ipk__stream_recv(&sc->s, rx, deadline);
}

int ipk__ss_fd(const ipk_chan *c)
{
	const struct ipk__sockchan *sc = ipk__priv(c);
	return c->role == IPK__LISTENER ? sc->epfd : sc->s.rfd;
}

int ipk__ss_pending(const ipk_chan *c)
{
	const struct ipk__sockchan *sc = ipk__priv(c);
	return c->role == IPK__LISTENER ? 0 : ipk__stream_pending(&sc->s);
}

int ipk__ss_shutdown(ipk_chan *c)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (c->role == IPK__LISTENER)
		return ipk__err(-EOPNOTSUPP, "cannot shut down a listener");
	int rc = ipk__stream_flush(&sc->s, ipk__deadline(c->linger_ms));
	if (shutdown(sc->s.wfd, SHUT_WR) < 0 && rc == 0)
		rc = ipk__errno(-errno, "shutdown");
	return rc;
}

int ipk__ss_close(ipk_chan *c)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (c->role == IPK__LISTENER) {
		while (sc->npend > 0)
			drop_pending(sc, 0, true);
		if (sc->lfd >= 0)
			close(sc->lfd);
		if (sc->epfd >= 0)
			close(sc->epfd);
		sc->lfd = sc->epfd = -1;
		return 0;
	}
	return ipk__stream_close(&sc->s, c->linger_ms);
}
