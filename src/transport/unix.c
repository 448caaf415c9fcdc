/*
 * unix: — AF_UNIX stream sockets, by path or in the abstract namespace
 * ("unix:@name"). Speaks SP PAIR v0 as nng's ipc:// transport does, so
 * nng and nanomsg programs are peers; ?raw gives a plain byte stream.
 */
#define _GNU_SOURCE
#include "sockstream.h"
#include "../core/owner_file.h"
#include "../core/safepath.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int ipk__unix_addr(const ipk__url *u, struct sockaddr_un *sun, socklen_t *len)
{
	const char *p = u->rest;
	size_t n = strlen(p);
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (n == 0 || (p[0] == '@' && n == 1))
		return ipk__err(-EINVAL, "address '%s': missing path (%s:/path or %s:@name)",
		                u->text, u->scheme, u->scheme);
	if (n >= sizeof sun->sun_path)
		return ipk__err(-ENAMETOOLONG,
		                "address '%s': socket path of %zu bytes exceeds the "
		                "%zu-byte limit of sun_path",
		                u->text, n, sizeof sun->sun_path - 1);
	memcpy(sun->sun_path, p, n);
	if (p[0] == '@') {
		sun->sun_path[0] = '\0'; /* abstract: no file, gone with the socket */
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)sizeof *sun;
	}
	return 0;
}

/*
 * Is a socket still bound at this address? Probe with SOCK_SEQPACKET, a type
 * we never listen with: the kernel answers EPROTOTYPE when a live socket of
 * another type holds the address and ECONNREFUSED when nothing does, and
 * no connection is made, so a live listener never finds a dead probe in its
 * accept queue. (A probe of the listener's own type would leave one there,
 * and would take a bound socket that is not listening yet for stale.)
 */
static bool alive(const struct sockaddr_un *sun, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true; /* cannot tell: do not steal */
	int rc = connect(fd, (const struct sockaddr *)sun, len);
	int err = errno;
	close(fd);
	return rc == 0 || err != ECONNREFUSED;
}

/*
 * Bind a unix socket of the given type at c's address. A socket file left by
 * a dead owner (connect is refused) is replaced; a live one is never stolen.
 * The file gets c->mode before anyone can connect.
 */
int ipk__unix_bind(ipk_chan *c, int type, int *out, dev_t *dev, ino_t *ino)
{
	struct sockaddr_un sun;
	socklen_t len;
	int rc = ipk__unix_addr(&c->url, &sun, &len);
	if (rc < 0)
		return rc;
	bool abstract = c->url.rest[0] == '@';
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ipk__errno(-errno, "socket");
	for (int attempt = 0;; attempt++) {
		if (bind(fd, (struct sockaddr *)&sun, len) == 0)
			break;
		int err = errno;
		if (err != EADDRINUSE || abstract || attempt > 0) {
			close(fd);
			if (err == EADDRINUSE)
				return ipk__err(-EADDRINUSE, "%s is in use by a live listener",
				                c->url.rest);
			return ipk__errno(-err, "bind %s", c->url.rest);
		}
		struct stat st;
		bool there = lstat(c->url.rest, &st) == 0;
		if (there && !S_ISSOCK(st.st_mode)) {
			close(fd);
			return ipk__err(-EEXIST, "%s exists and is not a socket",
			                c->url.rest);
		}
		if (alive(&sun, len)) {
			close(fd);
			return ipk__err(-EADDRINUSE, "%s is in use by a live listener",
			                c->url.rest);
		}
		/* stale: its owner died without removing it. Only that socket
		   file, checked and unlinked in one directory (safepath.h) */
		if (there)
			(void)ipk__unlink_own(c->url.rest, st.st_dev, st.st_ino);
	}
	if (!abstract) {
		struct stat st;
		if (chmod(c->url.rest, c->mode) < 0 || stat(c->url.rest, &st) < 0) {
			rc = ipk__errno(-errno, "chmod %s", c->url.rest);
			unlink(c->url.rest);
			close(fd);
			return rc;
		}
		*dev = st.st_dev;
		*ino = st.st_ino;
		/* ?persist is recorded where gc looks (src/core/owner_file.h) */
		ipk__owner_file_listen("sock", c->url.rest, st.st_dev, st.st_ino,
		                       st.st_uid, c->persist, false);
	}
	*out = fd;
	return 0;
}

/* Remove the socket file only if it is still the one we bound. */
void ipk__unix_unlink_own(const char *path, dev_t dev, ino_t ino)
{
	/* checked and unlinked in one directory (src/core/safepath.h) */
	if (path[0] != '@')
		(void)ipk__unlink_own(path, dev, ino);
}

static int unix_listen(ipk_chan *c)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	int fd;
	int rc = ipk__unix_bind(c, SOCK_STREAM, &fd, &sc->dev, &sc->ino);
	if (rc < 0)
		return rc;
	sc->owns_path = c->url.rest[0] != '@';
	rc = ipk__ss_listen(c, fd, IPK__FRAME_SPIPC);
	if (rc < 0) {
		if (sc->owns_path)
			unlink(c->url.rest);
		close(fd);
	}
	return rc;
}

static int unix_dial(ipk_chan *c, int64_t deadline)
{
	struct sockaddr_un sun;
	socklen_t len = 0; /* set whenever ipk__unix_addr returns 0 */
	int rc = ipk__unix_addr(&c->url, &sun, &len);
	if (rc < 0)
		return rc;
	return ipk__ss_dial(c, AF_UNIX, (struct sockaddr *)&sun, len,
	                    IPK__FRAME_SPIPC, deadline);
}

static int unix_pair(ipk_chan *a, ipk_chan *b)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	               sv) < 0)
		return ipk__errno(-errno, "socketpair");
	/* both ends are ours: no handshake needed, same framing as connected */
	enum ipk__framing f = a->raw ? IPK__FRAME_RAW : IPK__FRAME_SPIPC;
	struct ipk__sockchan *sa = ipk__priv(a), *sb = ipk__priv(b);
	ipk__stream_init(&sa->s, sv[0], sv[0], f, IPK__FD_SOCK, a->maxmsg);
	ipk__stream_init(&sb->s, sv[1], sv[1], f, IPK__FD_SOCK, b->maxmsg);
	sa->lfd = sb->lfd = sa->epfd = sb->epfd = -1;
	size_t large = 0;
	int rc = a->raw ? 0 : ipk__fdio_options(&a->url, &large);
	/* both ends are ours: each takes what the other sends */
	if (rc >= 0 && !a->raw &&
	    (rc = ipk__stream_fdio(&sa->s, large, large > 0)) >= 0)
		rc = ipk__stream_fdio(&sb->s, large, large > 0);
	if (rc < 0) {
		ipk__stream_close(&sa->s, 0);
		ipk__stream_close(&sb->s, 0);
		return rc;
	}
	return ipk__pair_batch(a, &sa->s, &sb->s);
}

static int unix_close(ipk_chan *c)
{
	struct ipk__sockchan *sc = ipk__priv(c);
	if (sc->owns_path && ipk__removes_on_close(c))
		ipk__unix_unlink_own(c->url.rest, sc->dev, sc->ino);
	return ipk__ss_close(c);
}

static int unix_remove(ipk__url *u)
{
	if (u->rest[0] == '@')
		return ipk__err(-EINVAL, "abstract socket %s has no file to remove",
		                u->rest);
	return ipk__unlink_type(u->rest, S_IFSOCK, "a socket");
}

static const char *const ss_opts[] = {"pending", "batch", "batchdelay",
                                       "large", NULL};

const struct ipk_transport ipk__unix_transport = {
	.scheme = "unix",
	.summary = "Unix stream socket, SP PAIR v0 like nng ipc:// (AF_UNIX)",
	.options = ss_opts,
	.priv_size = sizeof(struct ipk__sockchan),
	.streams = true,
	.listen = unix_listen,
	.dial = unix_dial,
	.accept = ipk__ss_accept,
	.pair = unix_pair,
	.send = ipk__ss_send,
	.recv = ipk__ss_recv,
	.send_many = ipk__ss_send_many,
	.flush = ipk__ss_flush,
	.send_fds = ipk__ss_send_fds,
	.peek = ipk__ss_peek,
	.release = ipk__ss_release,
	.fd = ipk__ss_fd,
	.pending = ipk__ss_pending,
	.shutdown = ipk__ss_shutdown,
	.close = unix_close,
	.remove = unix_remove,
};
