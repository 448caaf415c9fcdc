/*
 * tcp: — TCP over IPv4 or IPv6 ("tcp://127.0.0.1:5555", "tcp://[::1]:5555").
 * Speaks SP PAIR v0 as nng's tcp:// transport does; ?raw gives a plain byte
 * stream (nc, socat). Port 0 picks a free port: ipk_address() tells which.
 */
#define _GNU_SOURCE
#include "sockstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int resolve(ipk_chan *c, bool passive, struct addrinfo **res)
{
	int rc = ipk__url_hostport(&c->url);
	if (rc < 0)
		return rc;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV |
	                                     (passive ? AI_PASSIVE : 0)};
	const char *host = strcmp(c->url.host, "*") == 0 ? NULL : c->url.host;
	int gai = getaddrinfo(host, c->url.port, &hints, res);
	if (gai != 0)
		return ipk__err(-EHOSTUNREACH, "cannot resolve '%s': %s", c->url.host,
		                gai_strerror(gai));
	return 0;
}

static int tcp_listen(ipk_chan *c)
{
	struct addrinfo *res;
	int rc = resolve(c, true, &res);
	if (rc < 0)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family,
		                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = ipk__errno(-errno, "socket");
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			rc = ipk__errno(-errno, "bind %s", c->url.text);
			close(fd);
			continue;
		}
		rc = ipk__ss_listen(c, fd, IPK__FRAME_LEN64);
		if (rc < 0)
			close(fd);
		break;
	}
	freeaddrinfo(res);
	return rc;
}

static int tcp_dial(ipk_chan *c, int64_t deadline)
{
	struct addrinfo *res;
	int rc = resolve(c, false, &res);
	if (rc < 0)
		return rc;
	int left = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		left++;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next, left--) {
		/* an equal share of the time left for each address (a second each
		   when there is no limit); the last one gets all that remains */
		int64_t until = deadline;
		if (ai->ai_next && deadline != IPK__NOW) {
			int64_t now = ipk__now_ns();
			until = deadline == IPK__NEVER ? now + 1000000000
			                               : now + (deadline - now) / left;
		}
		rc = ipk__ss_dial(c, ai->ai_family, ai->ai_addr, ai->ai_addrlen,
		                  IPK__FRAME_LEN64, until);
		if (rc == 0)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

static ssize_t tcp_address(const ipk_chan *c, char *buf, size_t cap)
{
	const struct ipk__sockchan *sc = ipk__priv(c);
	int fd = c->role == IPK__LISTENER ? sc->lfd : sc->s.rfd;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return ipk__errno(-errno, "getsockname");
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	const char *fmt;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		fmt = "tcp://[%s]:%u";
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
		fmt = "tcp://%s:%u";
	}
	/* the address a peer dials: a raw listener must be dialed raw; the
	   other options are this end's own business */
	int n = snprintf(buf, cap, fmt, host, port);
	if (n >= 0 && c->raw && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, "?raw");
	if (n < 0 || (size_t)n >= cap)
		return ipk__err(-ENOBUFS, "address needs %d bytes", n + 1);
	return n;
}

static const char *const ss_opts[] = {"pending", "batch", "batchdelay",
                                       NULL};

const struct ipk_transport ipk__tcp_transport = {
	.scheme = "tcp",
	.summary = "TCP over IPv4/IPv6, SP PAIR v0 like nng tcp://",
	.options = ss_opts,
	.priv_size = sizeof(struct ipk__sockchan),
	.streams = true,
	.listen = tcp_listen,
	.dial = tcp_dial,
	.accept = ipk__ss_accept,
	.send = ipk__ss_send,
	.recv = ipk__ss_recv,
	.send_many = ipk__ss_send_many,
	.flush = ipk__ss_flush,
	.fd = ipk__ss_fd,
	.pending = ipk__ss_pending,
	.shutdown = ipk__ss_shutdown,
	.address = tcp_address,
	.close = ipk__ss_close,
};
