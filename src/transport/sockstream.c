/* Stream sockets: listen/accept/dial with deadlines, SP handshake, framing. */
#define _GNU_SOURCE
#include "sockstream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

/* A peer that connected gets at least this long to send its SP header, so a
 * non-blocking accept of a ready connection does not drop it. */
#define HANDSHAKE_MIN_MS 2000

static int start_stream(ipk_chan *c, int fd, int family,
                        enum ipk__framing framing, int64_t deadline)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (!c->raw) {
		int64_t least = ipk__deadline(HANDSHAKE_MIN_MS);
		int rc = ipk__sp_handshake(fd, IPK__SP_PAIR0,
		                           deadline > least ? deadline : least);
		if (rc < 0)
			return rc;
	}
	ipk__stream_init(&sc->s, fd, fd, c->raw ? IPK__FRAME_RAW : framing, IPK__FD_SOCK,
	                 c->maxmsg);
	sc->lfd = -1;
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

int ipk__ss_listen(ipk_chan *c, int fd, enum ipk__framing framing)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (listen(fd, SOMAXCONN) < 0)
		return ipk__errno(-errno, "listen");
	c->role = IPK__LISTENER;
	sc->lfd = fd;
	sc->framing = framing;
	sc->s.rfd = sc->s.wfd = -1;
	return 0;
}

int ipk__ss_accept(ipk_chan *l, ipk_chan *c, int64_t deadline)
{
	struct ipk__sockchan *ls = ipk__priv(l);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(ls->lfd, (struct sockaddr *)&ss, &sl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			tune(fd, ss.ss_family);
			int rc = start_stream(c, fd, ss.ss_family, ls->framing, deadline);
			if (rc < 0)
				close(fd);
			/* a client that left before the handshake finished is not
			   this caller's error: wait for the next one */
			if (rc == -EPIPE)
				continue;
			return rc;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN)
			return ipk__errno(-errno, "accept");
		int rc = ipk__wait_fd(ls->lfd, POLLIN, deadline);
		if (rc < 0)
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
			rc = start_stream(c, fd, family, framing, deadline);
			if (rc < 0)
				close(fd);
			return rc;
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
	return c->role == IPK__LISTENER ? sc->lfd : sc->s.rfd;
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
		if (sc->lfd >= 0)
			close(sc->lfd);
		sc->lfd = -1;
		return 0;
	}
	return ipk__stream_close(&sc->s, c->linger_ms);
}
