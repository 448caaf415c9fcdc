/* Stream sockets: listen/accept/dial with deadlines, SP handshake, framing. */
#define _GNU_SOURCE
#include "sockstream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* How long an accepted peer has to send its SP header before it is dropped. */
#define HANDSHAKE_MS 5000

/* The connection is up (and its handshake done): make it c's stream.
   On failure fd is closed. */
static int start_stream(ipk_chan *c, int fd, int family,
                        enum ipk__framing framing, bool peer_large)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	ipk__stream_init(&sc->s, fd, fd, c->raw ? IPK__FRAME_RAW : framing,
	                 IPK__FD_SOCK, c->maxmsg);
	size_t bcap = 0, large = 0;
	int64_t bdelay = 0;
	int rc = ipk__batch_options(&c->url, &bcap, &bdelay);
	if (rc > 0)
		rc = ipk__stream_batch(&sc->s, bcap, bdelay);
	/* unix: messages may carry descriptors (framed channels) */
	if (rc >= 0 && family == AF_UNIX && !c->raw &&
	    (rc = ipk__fdio_options(&c->url, &large)) >= 0)
		rc = ipk__stream_fdio(&sc->s, large, peer_large && large);
	if (rc < 0) {
		ipk__stream_close(&sc->s, 0);
		return rc;
	}
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
	return 0;
}

static void tune(int fd, int family)
{
	if (family == AF_INET || family == AF_INET6) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
}

bool ipk__peer_allowed(const struct ipk__peercheck *pc, uid_t uid, gid_t gid,
                       int fd)
{
	if (!pc->on || uid == 0)
		return true; /* root passes file permissions too */
	if (uid == pc->uid)
		return pc->mode & 0200;
	bool member = gid == pc->gid;
	if (!member && fd >= 0) {
		gid_t groups[256];
		socklen_t gl = sizeof groups;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0)
			for (size_t i = 0; i < gl / sizeof groups[0] && !member; i++)
				member = groups[i] == pc->gid;
	}
	return member ? pc->mode & 0020 : pc->mode & 0002;
}

int ipk__ss_listen(ipk_chan *c, int fd, enum ipk__framing framing)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	long maxpend = IPK__DEFAULT_PENDING;
	size_t bcap;
	int64_t bdelay;
	size_t large = 0;
	int rc = ipk__opt_long(&c->url, "pending", 1, 1 << 20, &maxpend);
	if (rc >= 0) /* checked now, used by each connection accepted */
		rc = ipk__batch_options(&c->url, &bcap, &bdelay);
	if (rc >= 0)
		rc = ipk__fdio_options(&c->url, &large);
	if (rc < 0)
		return rc;
	sc->large = large > 0 && !c->raw;
	if (listen(fd, SOMAXCONN) < 0)
		return ipk__errno(-errno, "listen");
	/* the pollable fd covers new connections and handshakes under way */
	sc->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (sc->epfd < 0 || epoll_ctl(sc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = ipk__errno(-errno, "epoll");
		if (sc->epfd >= 0)
			close(sc->epfd);
		return rc;
	}
	c->role = IPK__LISTENER;
	sc->lfd = fd;
	sc->framing = framing;
	sc->oldest = sc->newest = NULL;
	sc->npend = 0;
	sc->maxpend = maxpend;
	sc->s.rfd = sc->s.wfd = -1;
	if (c->tp == &ipk__unix_transport && c->url.rest[0] == '@')
		sc->check = (struct ipk__peercheck){.on = true, .mode = c->mode,
		                                     .uid = geteuid(),
		                                     .gid = getegid()};
	return 0;
}

/* Forget a pending handshake; its fd is closed unless it was handed on. */
static void unlink_pending(struct ipk__sockchan *ls, struct ipk__pending *p)
{
	if (p->hs.fd >= 0)
		epoll_ctl(ls->epfd, EPOLL_CTL_DEL, p->hs.fd, NULL);
	*(p->prev ? &p->prev->next : &ls->oldest) = p->next;
	*(p->next ? &p->next->prev : &ls->newest) = p->prev;
	ls->npend--;
}

static void drop_pending(struct ipk__sockchan *ls, struct ipk__pending *p)
{
	unlink_pending(ls, p);
	if (p->hs.fd >= 0)
		close(p->hs.fd);
	free(p);
}

/* A handshake failed: say so (to the program's warning handler and, if it
   looks like a person with nc, to the peer), then let it go. */
static void refuse_pending(ipk_chan *l, struct ipk__pending *p)
{
	struct ipk__sockchan *ls = ipk__priv(l);
	char why[400];
	snprintf(why, sizeof why, "%s", ipk_last_error());
	ipk__warn("%s: dropped a connection: %s", l->url.text, why);
	unlink_pending(ls, p);
	ipk__sp_refuse(&p->hs, why);
	free(p);
}

/* May this peer use an abstract name that has a mode? */
static bool peer_permitted(ipk_chan *l, int fd)
{
	struct ipk__sockchan *ls = ipk__priv(l);
	if (!ls->check.on)
		return true;
	struct ucred cr;
	socklen_t cl = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0)
		return false;
	if (ipk__peer_allowed(&ls->check, cr.uid, cr.gid, fd))
		return true;
	ipk__warn("%s: refused a connection from uid %u (pid %d): mode %04o of "
	          "the abstract name does not let it write", l->url.text,
	          (unsigned)cr.uid, (int)cr.pid, ls->check.mode);
	return false;
}

/* Take everything the kernel has queued. Returns >= 0 an fd ready to use
   (raw), -EAGAIN when nothing more is queued, or an error. */
static int take_new(ipk_chan *l, int *family)
{
	struct ipk__sockchan *ls = ipk__priv(l);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(ls->lfd, (struct sockaddr *)&ss, &sl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			if (err == EINTR || err == ECONNABORTED)
				continue;
			if (err == EAGAIN)
				return -EAGAIN;
			if ((err == EMFILE || err == ENFILE) && ls->oldest) {
				/* out of descriptors: the longest-silent peer makes room */
				drop_pending(ls, ls->oldest);
				continue;
			}
			return ipk__errno(-err, "accept on %s", l->url.text);
		}
		if (!peer_permitted(l, fd)) {
			close(fd);
			continue;
		}
		tune(fd, ss.ss_family);
		if (l->raw) { /* plain bytes: nothing to exchange first */
			*family = ss.ss_family;
			return fd;
		}
		if (ls->npend >= ls->maxpend)
			drop_pending(ls, ls->oldest); /* ?pending= reached */
		struct ipk__pending *p = malloc(sizeof *p);
		if (p == NULL) {
			close(fd);
			return ipk__err(-ENOMEM, "out of memory");
		}
		*p = (struct ipk__pending){
			.hs = {.fd = fd, .self = l->sp_self, .peer = l->sp_peer,
			       .listener = true, .large = ls->large},
			.family = ss.ss_family,
			.expires = ipk__deadline(HANDSHAKE_MS),
			.prev = ls->newest,
		};
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
		if (epoll_ctl(ls->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int rc = ipk__errno(-errno, "epoll_ctl");
			close(fd);
			free(p);
			return rc;
		}
		*(ls->newest ? &ls->newest->next : &ls->oldest) = p;
		ls->newest = p;
		ls->npend++;
	}
}

/* Drop handshakes past their time; return when the next one expires. */
static int64_t expire_pending(struct ipk__sockchan *ls)
{
	int64_t now = ipk__now_ns();
	while (ls->oldest && ls->oldest->expires <= now)
		drop_pending(ls, ls->oldest);
	return ls->oldest ? ls->oldest->expires : IPK__NEVER;
}

/* Advance the handshakes that have something to read: the fd of one that
   finished, or -EAGAIN. Only peers with news are looked at, so any number
   of silent ones cost nothing here. */
static int step_ready(ipk_chan *l, int *family, bool *peer_large)
{
	struct ipk__sockchan *ls = ipk__priv(l);
	struct epoll_event evs[64];
	int n;
	do
		n = epoll_wait(ls->epfd, evs, 64, 0);
	while (n < 0 && errno == EINTR);
	for (int i = 0; i < n; i++) {
		struct ipk__pending *p = evs[i].data.ptr;
		if (p == NULL)
			continue; /* the listening socket: take_new's business */
		int rc = ipk__sp_step(&p->hs);
		if (rc > 0) {
			/* the rest of this batch stays readable for the next call */
			int fd = p->hs.fd;
			*family = p->family;
			*peer_large = p->hs.peer_large;
			unlink_pending(ls, p);
			free(p);
			return fd;
		}
		if (rc == -EPROTO)
			refuse_pending(l, p);
		else if (rc < 0)
			drop_pending(ls, p); /* a scanner, a client that left */
		else if (p->hs.sent < 8) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
			                         .data.ptr = p};
			epoll_ctl(ls->epfd, EPOLL_CTL_MOD, p->hs.fd, &ev);
		}
	}
	return -EAGAIN;
}

/*
 * Connections whose handshake is under way wait in the listener, each on
 * its own, in any number up to ?pending=, so a silent or foreign client
 * never holds up the others and a non-blocking accept never drops a
 * connection that is merely slow: it is there for the next call (and the
 * listener's fd, an epoll set, wakes the caller when its header arrives).
 */
int ipk__ss_accept(ipk_chan *l, ipk_chan *c, int64_t deadline)
{
	struct ipk__sockchan *ls = ipk__priv(l);
	c->sp_self = l->sp_self;
	c->sp_peer = l->sp_peer;
	for (;;) {
		int family = 0;
		bool peer_large = false;
		int fd = take_new(l, &family);
		if (fd == -EAGAIN)
			fd = step_ready(l, &family, &peer_large);
		if (fd >= 0)
			return start_stream(c, fd, family, ls->framing, peer_large);
		if (fd != -EAGAIN)
			return fd;
		int64_t expiry = expire_pending(ls);
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

/*
 * A socket's connection (src/proto) need not wait for the listener's SP
 * header: the listener answers only when its program calls it, and that
 * program may be waiting for this very dial to return. Ours goes out now;
 * theirs is checked before the first message is read.
 */
static int lazy_start(ipk_chan *c, int fd, int family,
                      enum ipk__framing framing)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	size_t large = 0;
	if (family == AF_UNIX)
		(void)ipk__fdio_options(&c->url, &large); /* checked by the dial */
	struct ipk__sphs hs = {.fd = fd, .self = c->sp_self, .peer = c->sp_peer,
	                       .large = large > 0};
	int rc = ipk__sp_step(&hs);
	if (rc < 0) {
		char why[400];
		snprintf(why, sizeof why, "%s", ipk_last_error());
		close(fd);
		return ipk__err(rc, "%s: %s", c->url.text, why);
	}
	int hs_done = rc;
	if ((rc = start_stream(c, fd, family, framing, hs.peer_large)) < 0)
		return rc;
	sc->hs = hs;
	sc->hs_open = hs_done == 0;
	return 0;
}

/* Finish a lazy dial's handshake before the first message. */
static int lazy_finish(ipk_chan *c, int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	for (;;) {
		int rc = ipk__sp_step(&sc->hs);
		if (rc > 0) {
			sc->hs_open = false;
			ipk__stream_fdio_peer(&sc->s, sc->hs.peer_large);
			return 0;
		}
		if (rc < 0) {
			char why[400];
			snprintf(why, sizeof why, "%s", ipk_last_error());
			return ipk__err(rc, "%s: %s", c->url.text, why);
		}
		rc = ipk__wait_fd(sc->hs.fd, sc->hs.sent < 8 ? POLLOUT | POLLIN
		                                             : POLLIN,
		                  deadline);
		if (rc < 0)
			return rc;
	}
}

int ipk__ss_dial(ipk_chan *c, int family, const struct sockaddr *sa,
                 socklen_t len, enum ipk__framing framing, int64_t deadline)
{
	unsigned round = 0;
	size_t bcap;
	int64_t bdelay;
	size_t large = 0;
	int brc = ipk__batch_options(&c->url, &bcap, &bdelay);
	if (brc >= 0 && family == AF_UNIX)
		brc = ipk__fdio_options(&c->url, &large);
	if (brc < 0)
		return brc;
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
			if (!c->raw && c->sp_lazy)
				return lazy_start(c, fd, family, framing);
			bool peer_large = false;
			rc = c->raw ? 0
			            : ipk__sp_handshake(fd, c->sp_self, c->sp_peer,
			                                large > 0, &peer_large,
			                                deadline);
			if (rc < 0) {
				char why[400];
				snprintf(why, sizeof why, "%s", ipk_last_error());
				close(fd);
				return ipk__err(rc, "%s: %s", c->url.text, why);
			}
			return start_stream(c, fd, family, framing, peer_large);
		}
		close(fd);
		/* nobody listening yet: keep trying until the deadline (a reset:
		   a listener that closed with our connection pending, as one
		   killed and restarted does) */
		bool retry = err == ECONNREFUSED || err == ENOENT || err == EAGAIN ||
		             err == ECONNRESET;
		bool over = retry && (ipk__expired(deadline) ||
		                      ipk__backoff(&round, deadline) < 0);
		/* a Unix listener's full backlog: it is there but accepts nobody,
		   which is a wait that ran out (-EAGAIN only for timeout 0) */
		if (over && err == EAGAIN)
			return ipk__err(ipk__timeout_err(deadline),
			                "cannot connect to %s: its listener accepts no "
			                "connections (its backlog is full)", c->url.text);
		if (!retry || over)
			return ipk__err(-err, "cannot connect to %s: %s", c->url.text,
			                ipk_strerror(err));
	}
}

int ipk__ss_rcvtimeo(ipk_chan *c, int64_t ns)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	struct timeval tv = {.tv_sec = ns / 1000000000,
	                     .tv_usec = ns % 1000000000 / 1000};
	if (sc->s.rfd < 0 ||
	    setsockopt(sc->s.rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
		return ipk__errno(-errno, "SO_RCVTIMEO");
	sc->s.ktimeo = ns > 0;
	return 0;
}

ssize_t ipk__ss_send(ipk_chan *c, const void *buf, size_t len,
                     const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct ipk__sockchan *sc = ipk__priv(c);
	return ipk__stream_send(&sc->s, buf, len, deadline);
}

ssize_t ipk__ss_send_many(ipk_chan *c, const struct iovec *msgs, size_t n,
                          int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	return ipk__stream_sendv(&sc->s, msgs, n, deadline);
}

int ipk__ss_flush(ipk_chan *c, int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	return c->role == IPK__LISTENER ? 0 : ipk__stream_flush(&sc->s, deadline);
}

ssize_t ipk__ss_send_fds(ipk_chan *c, const void *buf, size_t len,
                         const int *fds, size_t nfds, int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	return ipk__stream_send_fds(&sc->s, buf, len, fds, nfds, deadline);
}

ssize_t ipk__ss_peek(ipk_chan *c, const void **buf, int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (sc->hs_open) {
		int rc = lazy_finish(c, deadline);
		if (rc < 0)
			return rc;
	}
	return ipk__stream_peek(&sc->s, buf, deadline);
}

int ipk__ss_release(ipk_chan *c)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	return ipk__stream_release(&sc->s);
}

int ipk__ss_finish(ipk_chan *c, int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (c->role == IPK__LISTENER || sc->s.batch)
		return 0; /* a batching stream took the message whole */
	return ipk__stream_flush(&sc->s, deadline);
}

ssize_t ipk__ss_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (sc->hs_open) {
		int rc = lazy_finish(c, deadline);
		if (rc < 0)
			return rc;
	}
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
	return c->role == IPK__LISTENER || sc->hs_open
	               ? 0 : ipk__stream_pending(&sc->s);
}

int ipk__ss_shutdown(ipk_chan *c)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (c->role == IPK__LISTENER)
		return ipk__err(-EOPNOTSUPP, "cannot shut down a listener");
	int64_t linger = ipk__deadline(c->linger_ms);
	int rc = ipk__stream_flush(&sc->s, linger);
	int rc2 = ipk__stream_unbatch(&sc->s, linger);
	if (rc == 0)
		rc = rc2;
	if (shutdown(sc->s.wfd, SHUT_WR) < 0 && rc == 0)
		rc = ipk__errno(-errno, "shutdown");
	return rc;
}

int ipk__ss_close(ipk_chan *c)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (c->role == IPK__LISTENER) {
		while (sc->oldest)
			drop_pending(sc, sc->oldest);
		if (sc->lfd >= 0)
			close(sc->lfd);
		if (sc->epfd >= 0)
			close(sc->epfd);
		sc->lfd = sc->epfd = -1;
		return 0;
	}
	/* a lazy dial: the listener's header is on its way, and arriving at a
	   closed socket it would make the kernel reset the connection, which
	   can throw away what we sent before the listener read it: take it
	   first (within ?linger=) */
	int64_t linger = ipk__deadline(c->linger_ms);
	int rc = ipk__stream_flush(&sc->s, linger);
	if (sc->hs_open && rc == 0)
		(void)lazy_finish(c, linger);
	int rc2 = ipk__stream_close(&sc->s, c->linger_ms);
	return rc ? rc : rc2;
}
