/*
 * unixgram: — AF_UNIX datagram sockets. Each send is one datagram, so
 * message boundaries come from the kernel. The listener binds the path and
 * receives from anyone; its sends answer the last sender. Dialers bind an
 * automatic abstract address so they can be answered. Every message reports
 * the sender's pid and uid (SO_PASSCRED).
 * A datagram must fit the socket buffer: net.core.wmem_max bounds it.
 */
#define _GNU_SOURCE
#include "sockstream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct gram_chan {
	int fd;
	bool owns_path;
	dev_t dev;
	ino_t ino;
	struct sockaddr_un last; /* listener: who to answer */
	socklen_t last_len;
	struct ipk__peercheck check; /* listener on an abstract name */
};

static void tune(ipk_chan *c, int fd)
{
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	/* ask for room for the largest message; the kernel caps at wmem_max */
	int want = c->maxmsg > (1 << 29) ? 1 << 30 : (int)c->maxmsg * 2;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
}

static int gram_listen(ipk_chan *c)
{
	struct gram_chan *g = ipk__priv(c);
	int rc = ipk__unix_bind(c, SOCK_DGRAM, &g->fd, &g->dev, &g->ino);
	if (rc < 0)
		return rc;
	c->role = IPK__OWNER;
	g->owns_path = c->url.rest[0] != '@';
	if (!g->owns_path) /* no file to carry the mode: check each sender */
		g->check = (struct ipk__peercheck){.on = true, .mode = c->mode,
		                                    .uid = geteuid(), .gid = getegid()};
	tune(c, g->fd);
	return 0;
}

static int gram_dial(ipk_chan *c, int64_t deadline)
{
	struct gram_chan *g = ipk__priv(c);
	struct sockaddr_un sun;
	socklen_t len;
	int rc = ipk__unix_addr(&c->url, &sun, &len);
	if (rc < 0)
		return rc;
	g->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g->fd < 0)
		return ipk__errno(-errno, "socket");
	sa_family_t fam = AF_UNIX; /* autobind: an abstract name to be answered on */
	if (bind(g->fd, (struct sockaddr *)&fam, sizeof fam) < 0) {
		rc = ipk__errno(-errno, "bind");
		close(g->fd);
		return rc;
	}
	tune(c, g->fd);
	unsigned round = 0;
	while (connect(g->fd, (struct sockaddr *)&sun, len) < 0) {
		int err = errno;
		if (err == EINTR)
			continue;
		if ((err != ENOENT && err != ECONNREFUSED) || ipk__expired(deadline) ||
		    ipk__backoff(&round, deadline) < 0) {
			close(g->fd);
			return ipk__err(-err, "cannot connect to %s: %s", c->url.text,
			                ipk_strerror(err));
		}
	}
	return 0;
}

static int gram_pair(ipk_chan *a, ipk_chan *b)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	               sv) < 0)
		return ipk__errno(-errno, "socketpair");
	struct gram_chan *ga = ipk__priv(a), *gb = ipk__priv(b);
	ga->fd = sv[0];
	gb->fd = sv[1];
	tune(a, sv[0]);
	tune(b, sv[1]);
	return 0;
}

static int too_big(size_t len)
{
	int sndbuf = 0;
	FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
	if (f) {
		if (fscanf(f, "%d", &sndbuf) != 1)
			sndbuf = 0;
		fclose(f);
	}
	return ipk__err(-EMSGSIZE,
	                "datagram of %zu bytes exceeds the socket buffer "
	                "(net.core.wmem_max=%d)",
	                len, sndbuf);
}

static ssize_t send_to(ipk_chan *c, const struct sockaddr *to, socklen_t tolen,
                       const void *buf, size_t len, int64_t deadline)
{
	struct gram_chan *g = ipk__priv(c);
	unsigned round = 0;
	for (;;) {
		ssize_t n = sendto(g->fd, buf, len, MSG_NOSIGNAL, to, tolen);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EMSGSIZE || errno == ENOBUFS)
			return too_big(len);
		if (errno == ECONNREFUSED || errno == ENOENT || errno == EPIPE ||
		    errno == ECONNRESET || errno == ENOTCONN)
			return ipk__err(-EPIPE, "peer closed the channel");
		if (errno != EAGAIN)
			return ipk__errno(-errno, "send");
		/* poll reflects the peer's queue only for connected sockets */
		int rc = to ? ipk__backoff(&round, deadline)
		            : ipk__wait_fd(g->fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
}

static ssize_t gram_send(ipk_chan *c, const void *buf, size_t len,
                         const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct gram_chan *g = ipk__priv(c);
	if (c->role != IPK__OWNER)
		return send_to(c, NULL, 0, buf, len, deadline);
	if (g->last_len == 0)
		return ipk__err(-EDESTADDRREQ,
		                "unixgram: a listener answers the last sender, and "
		                "nothing has been received yet");
	return send_to(c, (const struct sockaddr *)&g->last, g->last_len, buf, len,
	               deadline);
}

socklen_t ipk__gram_last_sender(const ipk_chan *c, struct sockaddr_un *out)
{
	const struct gram_chan *g = ipk__priv(c);
	*out = g->last;
	return g->last_len;
}

ssize_t ipk__gram_sendto(ipk_chan *c, const struct sockaddr_un *to,
                         socklen_t tolen, const void *buf, size_t len,
                         int64_t deadline)
{
	if (tolen == 0)
		return ipk__err(-EDESTADDRREQ, "unixgram: the sender has no address "
		                               "to answer");
	return send_to(c, (const struct sockaddr *)to, tolen, buf, len, deadline);
}

static ssize_t gram_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct gram_chan *g = ipk__priv(c);
	for (;;) {
		/* learn the size first so the datagram is never cut */
		ssize_t n = recv(g->fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED || errno == ECONNRESET)
				return ipk__err(-EPIPE, "peer closed the channel");
			if (errno != EAGAIN)
				return ipk__errno(-errno, "recv");
			int rc = ipk__wait_fd(g->fd, POLLIN, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		int err = 0;
		void *dst = ipk__rx_reserve(rx, (size_t)n, &err);
		if (dst == NULL && n > 0) {
			if (err == -EMSGSIZE) /* drop it: it can never be delivered */
				recv(g->fd, NULL, 0, 0);
			return err;
		}
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(struct ucred))];
		} ctl;
		struct iovec iov = {dst, (size_t)n};
		struct sockaddr_un from;
		struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from,
		                    .msg_iov = &iov, .msg_iovlen = 1,
		                    .msg_control = &ctl, .msg_controllen = sizeof ctl};
		ssize_t m = recvmsg(g->fd, &mh, MSG_CMSG_CLOEXEC);
		if (m < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return ipk__errno(-errno, "recvmsg");
		}
		struct ucred cr = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
		     cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&cr, CMSG_DATA(cm), sizeof cr);
				rx->info->pid = cr.pid;
				rx->info->uid = cr.uid;
			}
		if (!ipk__peer_allowed(&g->check, cr.uid, cr.gid, -1)) {
			ipk__warn("%s: dropped a message from uid %u (pid %d): mode "
			          "%04o of the abstract name does not let it write",
			          c->url.text, (unsigned)cr.uid, (int)cr.pid,
			          g->check.mode);
			rx->info->pid = 0;
			rx->info->uid = 0;
			continue;
		}
		if (c->role == IPK__OWNER && mh.msg_namelen > sizeof(sa_family_t)) {
			g->last = from;
			g->last_len = mh.msg_namelen;
		}
		return m;
	}
}

static int gram_fd(const ipk_chan *c)
{
	const struct gram_chan *g = ipk__priv(c);
	return g->fd;
}

static int gram_close(ipk_chan *c)
{
	struct gram_chan *g = ipk__priv(c);
	if (g->owns_path && ipk__removes_on_close(c))
		ipk__unix_unlink_own(c->url.rest, g->dev, g->ino);
	close(g->fd);
	return 0;
}

static int gram_remove(ipk__url *u)
{
	return ipk__unix_transport.remove(u);
}

const struct ipk_transport ipk__unixgram_transport = {
	.scheme = "unixgram",
	.summary = "Unix datagram socket: one message per datagram (AF_UNIX)",
	.priv_size = sizeof(struct gram_chan),
	.listen = gram_listen,
	.dial = gram_dial,
	.pair = gram_pair,
	.send = gram_send,
	.recv = gram_recv,
	.fd = gram_fd,
	.close = gram_close,
	.remove = gram_remove,
};
