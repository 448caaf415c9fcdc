/*
 * The SP connection header (nanomsg scalability protocols, as nng's ipc://
 * and tcp:// transports exchange it): 00 'S' 'P' 00, the 16-bit protocol
 * number, two zero bytes. Each side checks that the other speaks the
 * protocol it accepts.
 *
 * Every byte checked as it arrives: a plain program (nc, socat, a browser)
 * is told apart from an SP peer by its first byte, not after a timeout, and
 * the message says what it looked like and what to do.
 */
#define _GNU_SOURCE
#include "sockstream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const unsigned char prefix[4] = {0, 'S', 'P', 0};

const char *ipk__sp_name(uint16_t proto)
{
	switch (proto) {
	case 0x10: return "PAIR v0";
	case 0x11: return "PAIR v1";
	case 0x20: return "PUB v0";
	case 0x21: return "SUB v0";
	case 0x30: return "REQ v0";
	case 0x31: return "REP v0";
	case 0x50: return "PUSH v0";
	case 0x51: return "PULL v0";
	case 0x62: return "SURVEYOR v0";
	case 0x63: return "RESPONDENT v0";
	case 0x70: return "BUS v0";
	}
	return "an unknown protocol";
}

/* Printable ASCII, tabs and line ends, or UTF-8 bytes: what a person or a
   shell pipeline types. */
static bool texty(const unsigned char *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!(b[i] >= 0x20 || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') ||
		    b[i] == 0x7f)
			return false;
	return n > 0;
}

/* The bytes that arrived instead of a header, for a message. */
static void show(const unsigned char *b, unsigned n, bool text, char *out,
                 size_t cap)
{
	size_t off = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < n && off + 5 < cap; i++)
		if (text)
			off += (size_t)snprintf(out + off, cap - off,
			                        b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' &&
			                                        b[i] != '\\'
			                                ? "%c" : "\\x%02x", b[i]);
		else
			off += (size_t)snprintf(out + off, cap - off, "%s%02x",
			                        i ? " " : "", b[i]);
}

static int not_sp(struct ipk__sphs *h)
{
	/* take a little more of what is there, to show it */
	unsigned char seen[40];
	unsigned n = h->got;
	memcpy(seen, h->theirs, n);
	while (n < sizeof seen) {
		ssize_t r = recv(h->fd, seen + n, sizeof seen - n, MSG_DONTWAIT);
		if (r <= 0)
			break;
		n += (unsigned)r;
	}
	h->text = texty(seen, n);
	char shown[128];
	show(seen, n > 32 ? 32 : n, h->text, shown, sizeof shown);
	if (h->text)
		return ipk__err(-EPROTO,
		                "the peer sent \"%s\" instead of an SP header: this "
		                "looks like unframed text from a plain program; %s "
		                "with ?raw",
		                shown, h->listener ? "listen" : "dial");
	return ipk__err(-EPROTO,
	                "the peer sent %s instead of an SP header: it does not "
	                "speak the SP protocol (%s with ?raw for plain bytes)",
	                shown, h->listener ? "listen" : "dial");
}

/* Did the peer send more than its header (messages waiting to be read)? */
static bool said_more(const struct ipk__sphs *h)
{
	char b;
	return recv(h->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

/*
 * Large messages (unix: ?large): an end that takes them sends a marker
 * descriptor (a sealed empty memfd) with the first byte of its header.
 * The header's bytes stay the standard ones; a peer that does not read
 * descriptors (nng, an ipckit end without ?large) never sees the marker
 * (the kernel closes it), and is never sent a large message.
 */
static ssize_t recv_header(struct ipk__sphs *h, void *buf, size_t len)
{
	if (!h->large)
		return recv(h->fd, buf, len, MSG_DONTWAIT);
	union {
		struct cmsghdr c;
		char space[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec v = {buf, len};
	struct msghdr mh = {.msg_iov = &v, .msg_iovlen = 1,
	                    .msg_control = ctl.space,
	                    .msg_controllen = sizeof ctl.space};
	ssize_t n = recvmsg(h->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int fds = 0, fd = -1;
	for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		     i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (fds++ == 0 && ipk__large_is_marker(fd))
				h->peer_large = true;
			close(fd);
		}
	}
	if (fds > 1)
		h->peer_large = false; /* not our marker */
	return n;
}

static ssize_t send_header(struct ipk__sphs *h, const void *buf, size_t len)
{
	int marker = h->large && h->sent == 0 ? ipk__large_marker() : -1;
	if (marker < 0)
		return send(h->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	union {
		struct cmsghdr c;
		char space[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec v = {(void *)buf, len};
	struct msghdr mh = {.msg_iov = &v, .msg_iovlen = 1,
	                    .msg_control = ctl.space,
	                    .msg_controllen = sizeof ctl.space};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &marker, sizeof marker);
	ssize_t n = sendmsg(h->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	int e = errno;
	close(marker);
	errno = e;
	return n;
}

int ipk__sp_step(struct ipk__sphs *h)
{
	while (h->got < 8) {
		ssize_t n = recv_header(h, h->theirs + h->got, 8u - h->got);
		if (n > 0) {
			unsigned from = h->got;
			h->got += (unsigned)n;
			for (unsigned i = from; i < h->got && i < 4; i++)
				if (h->theirs[i] != prefix[i])
					return not_sp(h);
		} else if (n == 0 || errno == ECONNRESET) {
			return ipk__err(-EPIPE, "peer closed during the SP handshake");
		} else if (errno == EAGAIN) {
			break;
		} else if (errno != EINTR) {
			return ipk__errno(-errno, "SP handshake receive");
		}
	}
	/* a listener answers once the peer has begun like an SP peer, so a
	   plain program is never sent binary bytes it would print; and not a
	   peer that already finished (said all it had and closed): bytes sent
	   to a closed TCP socket come back as a reset, which would throw away
	   what it sent */
	if (h->listener && h->got == 8 && h->sent == 0) {
		struct pollfd pf = {.fd = h->fd, .events = POLLRDHUP};
		if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLRDHUP | POLLHUP))) {
			if (!said_more(h))
				return ipk__err(-EPIPE, "peer closed during the SP "
				                        "handshake");
			h->sent = 8;
		}
	}
	if (!h->listener || h->got > 0) {
		const unsigned char mine[8] = {0, 'S', 'P', 0,
		                               (unsigned char)(h->self >> 8),
		                               (unsigned char)h->self, 0, 0};
		while (h->sent < 8) {
			ssize_t n = send_header(h, mine + h->sent, 8u - h->sent);
			if (n > 0)
				h->sent += (unsigned)n;
			else if (errno == EAGAIN)
				break;
			else if ((errno == EPIPE || errno == ECONNRESET) && h->got == 8 &&
			         said_more(h))
				h->sent = 8; /* a peer that said all it had and left (a
				                pusher): what it sent is still to be read */
			else if (errno != EINTR)
				return errno == EPIPE || errno == ECONNRESET
				               ? ipk__err(-EPIPE, "peer closed during the SP "
				                                  "handshake")
				               : ipk__errno(-errno, "SP handshake send");
		}
	}
	if (h->got < 8 || h->sent < 8)
		return 0;
	const unsigned char *t = h->theirs;
	if (t[6] != 0 || t[7] != 0)
		return not_sp(h);
	uint16_t peer = (uint16_t)(t[4] << 8 | t[5]);
	if (peer != h->peer)
		return ipk__err(-EPROTO,
		                "the peer speaks SP %s (0x%02x); this end speaks %s "
		                "(0x%02x) and talks to %s (0x%02x)%s",
		                ipk__sp_name(peer), peer, ipk__sp_name(h->self), h->self,
		                ipk__sp_name(h->peer), h->peer,
		                h->peer == 0x10 ? "" : " (choose with ?proto=)");
	return 1;
}

int ipk__sp_handshake(int fd, uint16_t self, uint16_t peer, bool large,
                      bool *peer_large, int64_t deadline)
{
	struct ipk__sphs h = {.fd = fd, .self = self, .peer = peer,
	                      .large = large};
	for (;;) {
		int rc = ipk__sp_step(&h);
		if (rc > 0 && peer_large)
			*peer_large = h.peer_large;
		if (rc != 0)
			return rc < 0 ? rc : 0;
		rc = ipk__wait_fd(fd, h.sent < 8 ? POLLOUT | POLLIN : POLLIN,
		                  deadline);
		if (rc < 0)
			return ipk__err(rc, "the peer did not complete the SP handshake "
			                    "in time");
	}
}

void ipk__sp_refuse(struct ipk__sphs *h, const char *why)
{
	if (h->text) {
		/* a person is probably reading the other end: say it there too */
		char line[384];
		int n = snprintf(line, sizeof line, "ipckit: %s\n", why);
		if (n > 0)
			(void)send(h->fd, line, (size_t)n < sizeof line ? (size_t)n
			                                                : sizeof line - 1,
			           MSG_NOSIGNAL | MSG_DONTWAIT);
		/* unread input would turn a TCP close into a reset that can
		   overtake the line: read it off first */
		char junk[4096];
		for (int i = 0; i < 16 && recv(h->fd, junk, sizeof junk,
		                               MSG_DONTWAIT) > 0; i++)
			;
		shutdown(h->fd, SHUT_WR);
	}
	close(h->fd);
	h->fd = -1;
}
