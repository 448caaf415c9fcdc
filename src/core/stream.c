/*
 * Whole messages over a byte stream (pipe, FIFO, stream socket).
 *
 * Receive reads ahead into a buffer so that a burst of small messages costs
 * one system call, and reads large payloads straight into the caller's
 * buffer. A wait that expires in the middle of a message keeps what arrived
 * (the header, and the payload staged in `part`) for the next call. A send
 * whose wait expires after the first byte went out keeps the rest in
 * `backlog`: a message is never cut on the wire.
 */
#define _GNU_SOURCE
#include "stream_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define INBUF_SIZE 65536
#define RAW_CHUNK 65536

static void set_blocking(int fd, bool on)
{
	int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, on ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
}

/*
 * A pipe holds 64 KiB by default: a 64 KiB message plus its header would take
 * two wake-ups of the reader. Room for a few large messages costs nothing
 * until used (pages are taken as data is written). Best effort: a user over
 * fs.pipe-user-pages-soft keeps the default.
 */
#define PIPE_ROOM (256 * 1024)

static void grow_pipe(int fd)
{
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    fcntl(fd, F_GETPIPE_SZ) < PIPE_ROOM)
		fcntl(fd, F_SETPIPE_SZ, PIPE_ROOM);
}

void ipk__stream_init(ipk__stream *s, int rfd, int wfd,
                      enum ipk__framing framing, enum ipk__fdkind kind,
                      size_t maxmsg)
{
	memset(s, 0, sizeof *s);
	s->rfd = rfd;
	s->wfd = wfd;
	s->framing = framing;
	s->sock = kind == IPK__FD_SOCK;
	s->maxmsg = maxmsg;
	/*
	 * A call that waits forever blocks in the kernel: one system call, as a
	 * hand-written loop makes, instead of read, EAGAIN, poll, read. Calls
	 * with a timeout say "don't wait" per call and poll. Sockets and
	 * anonymous pipes can; FIFOs and terminals cannot (no RWF_NOWAIT), so
	 * they stay O_NONBLOCK and every wait goes through poll.
	 */
	s->percall = kind != IPK__FD_OTHER && framing != IPK__FRAME_FIFO;
	s->lockfd = s->rfd_block = s->wfd_block = -1;
	if (kind != IPK__FD_SOCK) {
		grow_pipe(rfd);
		grow_pipe(wfd);
	}
	set_blocking(rfd, s->percall);
	if (wfd != rfd)
		set_blocking(wfd, s->percall);
}

/* The kernel cannot say "don't wait" per call here: O_NONBLOCK for good. */
static void fall_back(ipk__stream *s)
{
	s->percall = false;
	set_blocking(s->rfd, false);
	if (s->wfd != s->rfd)
		set_blocking(s->wfd, false);
}

static ssize_t io_read(ipk__stream *s, void *buf, size_t len, int64_t deadline)
{
	if (s->fdio) /* unix: descriptors come with the bytes */
		return ipk__fds_read(s, buf, len,
		                     s->percall && deadline != IPK__NEVER);
	if (!s->percall || deadline == IPK__NEVER)
		return read(s->rfd, buf, len);
	if (s->sock)
		return recv(s->rfd, buf, len, MSG_DONTWAIT);
	struct iovec v = {buf, len};
	ssize_t n = preadv2(s->rfd, &v, 1, -1, RWF_NOWAIT);
	if (n < 0 && errno == EOPNOTSUPP) {
		fall_back(s);
		return read(s->rfd, buf, len);
	}
	return n;
}

ssize_t ipk__stream_writev(ipk__stream *s, struct iovec *iov, int cnt,
                           int64_t deadline)
{
	bool dontwait = s->percall && deadline != IPK__NEVER;
	if (s->sock) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
		return sendmsg(s->wfd, &mh,
		               MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0));
	}
	if (!dontwait)
		return writev(s->wfd, iov, cnt);
	ssize_t n = pwritev2(s->wfd, iov, cnt, -1, RWF_NOWAIT);
	if (n < 0 && errno == EOPNOTSUPP) {
		fall_back(s);
		return writev(s->wfd, iov, cnt);
	}
	return n;
}


bool ipk__looks_like_text(const unsigned char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(p[i] == '\t' || p[i] == '\n' || p[i] == '\r' ||
		      (p[i] >= 0x20 && p[i] != 0x7f && p[i] != 0xFE && p[i] != 0xFF)))
			return false;
	return true;
}

int ipk__unframed_text_err(const unsigned char *p, size_t n, size_t dropped,
                           const char *then)
{
	char quote[40];
	size_t q = 0, i;
	for (i = 0; i < n && q + 5 < sizeof quote; i++) {
		unsigned char ch = p[i];
		if (ch == '\n' || ch == '\r' || ch == '\t') {
			quote[q++] = '\\';
			quote[q++] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
		} else {
			quote[q++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
	}
	quote[q] = '\0';
	return ipk__err(-EPROTO,
	                "this looks like unframed text from a plain program "
	                "(\"%s%s\", %zu byte%s), not a message of this channel; "
	                "%s. Listen with ?raw to read plain programs",
	                quote, i < n ? "..." : "", dropped,
	                dropped == 1 ? "" : "s", then);
}

static int peer_gone(void)
{
	return ipk__err(-EPIPE, "peer closed the channel");
}

static void drop_backlog(ipk__stream *s)
{
	free(s->backlog);
	s->backlog = NULL;
	s->blen = s->boff = 0;
}

int ipk__stream_flush(ipk__stream *s, int64_t deadline)
{
	if (s->framing == IPK__FRAME_FIFO)
		return ipk__fifo_flush(s, deadline);
	if (s->batch)
		return ipk__batch_flush(s, deadline);
	return ipk__stream_flush_backlog(s, deadline);
}

int ipk__stream_flush_backlog(ipk__stream *s, int64_t deadline)
{
	/* a copy inherited across fork: the sender finishes its own message,
	   writing it here too would put its tail on the wire twice */
	if (s->boff < s->blen && s->bpid != getpid())
		drop_backlog(s);
	int rc = ipk__stream_write_out(s, s->backlog, &s->boff, s->blen, s->blen,
	                               deadline);
	if (rc < 0)
		return rc;
	drop_backlog(s);
	return 0;
}

int ipk__stream_write_out(ipk__stream *s, const unsigned char *buf,
                          size_t *off, size_t len, size_t need,
                          int64_t deadline)
{
	while (*off < need) {
		struct iovec v = {(unsigned char *)buf + *off, len - *off};
		ssize_t n = ipk__stream_writev(s, &v, 1, deadline);
		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int rc = ipk__wait_fd(s->wfd, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return peer_gone();
		return ipk__errno(n < 0 ? -errno : -EIO, "write");
	}
	return 0;
}

ssize_t ipk__stream_send(ipk__stream *s, const void *buf, size_t len,
                         int64_t deadline)
{
	if (s->wfd < 0)
		return ipk__err(-EBADF, "channel cannot send (shut down)");
	if (s->broken)
		return ipk__err(-EPIPE, "channel closed after a protocol error");
	if (s->framing == IPK__FRAME_FIFO)
		return ipk__fifo_send(s, buf, len, deadline);
	if (s->fdio && s->fdio->large && s->fdio->peer_large &&
	    len >= s->fdio->large)
		return ipk__large_send(s, buf, len, deadline);
	if (s->batch)
		return ipk__batch_send(s, buf, len, deadline);
	int rc = ipk__stream_flush_backlog(s, deadline);
	if (rc < 0)
		return rc;
	return ipk__stream_send_direct(s, buf, len, deadline);
}

bool ipk__stream_keep_rest(ipk__stream *s, const struct iovec *iov, int cnt)
{
	size_t left = 0, off = 0;
	for (int i = 0; i < cnt; i++)
		left += iov[i].iov_len;
	unsigned char *rest = malloc(left);
	if (rest == NULL)
		return false;
	for (int i = 0; i < cnt; i++) {
		memcpy(rest + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	s->backlog = rest;
	s->blen = left;
	s->boff = 0;
	s->bpid = getpid();
	return true;
}

ssize_t ipk__stream_send_frame(ipk__stream *s, unsigned char type,
                               const void *buf, size_t len, const int *fds,
                               size_t nfds, int64_t deadline)
{
	unsigned char hdr[9];
	size_t hl = ipk__put_hdr(s, hdr, type, len);
	size_t total = hl + len, done = 0;
	while (done < total) {
		struct iovec iov[2];
		int cnt = 0;
		if (done < hl)
			iov[cnt++] = (struct iovec){hdr + done, hl - done};
		size_t boff = done > hl ? done - hl : 0;
		if (len > boff)
			iov[cnt++] = (struct iovec){(char *)buf + boff, len - boff};
		/* descriptors ride on the frame's first byte */
		ssize_t n = done == 0 && nfds > 0
		                    ? ipk__fds_writev(s, iov, cnt, fds, nfds, deadline)
		                    : ipk__stream_writev(s, iov, cnt, deadline);
		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return peer_gone();
		if (errno == ETOOMANYREFS)
			return ipk__err(-ETOOMANYREFS, "descriptors in flight over "
			                               "the limit (RLIMIT_NOFILE of "
			                               "the sender)");
		if (errno != EAGAIN)
			return ipk__errno(-errno, "write");
		int rc = ipk__wait_fd(s->wfd, POLLOUT, deadline);
		if (rc == 0)
			continue;
		if (done == 0)
			return rc; /* nothing sent (nor any descriptor): the caller
			              may try again */
		/* keep the rest so the message goes out whole, later; if it
		   cannot be kept, finish the message now rather than cut it */
		if (!ipk__stream_keep_rest(s, iov, cnt)) {
			deadline = IPK__NEVER;
			continue;
		}
		break;
	}
	return (ssize_t)len;
}

/*
 * Read at least one byte, waiting until the deadline: the count, or an
 * error (-EPIPE when the peer closed, saying so if a message was under way).
 */
static ssize_t read_some(ipk__stream *s, void *buf, size_t len,
                         int64_t deadline)
{
	for (;;) {
		/* batched messages go out before a receive waits (an answer
		   may depend on them); what the kernel cannot take yet is
		   written as it makes room, while the receive waits */
		bool out = s->batch && ipk__batch_push(s);
		ssize_t n = io_read(s, buf, len, out ? IPK__NOW : deadline);
		if (n > 0)
			return n;
		if (n == 0 || errno == ECONNRESET) {
			s->eof = true;
			if (s->have_len || s->in_len > s->in_off)
				return ipk__err(-EPIPE, "peer closed the channel in the "
				                        "middle of a message");
			return peer_gone();
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return ipk__errno(-errno, "read");
		if (!out && deadline == IPK__NEVER && s->ktimeo)
			return ipk__err(-ETIMEDOUT, "nothing arrived within the "
			                            "socket's receive timeout");
		int rc = out ? ipk__batch_wait(s, deadline)
		             : ipk__wait_fd(s->rfd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
}

/* Read what is there into the read-ahead buffer: 0, or an error. */
static int fill(ipk__stream *s, int64_t deadline)
{
	if (s->in == NULL) {
		s->in = malloc(INBUF_SIZE);
		if (s->in == NULL)
			return ipk__err(-ENOMEM, "out of memory");
	}
	if (s->in_off > 0) {
		memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
		s->in_len -= s->in_off;
		s->in_off = 0;
	}
	ssize_t n = read_some(s, s->in + s->in_len, INBUF_SIZE - s->in_len,
	                      deadline);
	if (n < 0)
		return (int)n;
	s->in_len += (size_t)n;
	return 0;
}

static ssize_t recv_raw(ipk__stream *s, ipk__rx *rx, int64_t deadline)
{
	/* raw bytes have no message size: read what fits, within the limit */
	size_t want = rx->alloc ? RAW_CHUNK : rx->cap;
	if (want > rx->maxmsg)
		want = rx->maxmsg;
	if (want == 0)
		return ipk__err(-ENOBUFS, "zero-length buffer");
	int err = 0;
	void *dst = ipk__rx_reserve(rx, want, &err);
	if (dst == NULL)
		return err;
	return read_some(s, dst, want, deadline);
}

/* The peer broke the framing: stop reading this stream for good. */
static int break_stream(ipk__stream *s, int err)
{
	s->broken = true;
	if (s->sock)
		shutdown(s->rfd, SHUT_RDWR);
	return err;
}

ssize_t ipk__stream_recv(ipk__stream *s, ipk__rx *rx, int64_t deadline)
{
	if (s->rfd < 0)
		return ipk__err(-EBADF, "channel cannot receive");
	if (s->broken)
		return ipk__err(-EPIPE, "channel closed after a protocol error");
	if (s->framing == IPK__FRAME_RAW)
		return recv_raw(s, rx, deadline);
	if (s->framing == IPK__FRAME_FIFO)
		return ipk__fifo_recv(s, rx, deadline);

	int rc;
	size_t hl = ipk__hdr_bytes(s);
	struct ipk__fdio *fio = s->fdio;
	if (fio && fio->lm_fd >= 0) /* a large message left for this call */
		return ipk__large_deliver(s, rx);
	if (!s->have_len) {
		while (s->in_len - s->in_off < hl)
			if ((rc = fill(s, deadline)) < 0)
				return rc;
		const unsigned char *h = s->in + s->in_off;
		uint64_t len = ipk__get_be64(h + hl - 8);
		bool memfd = fio && fio->accept_large && h[0] == IPK__FRAME_MEMFD &&
		             len == IPK__MEMFD_DESC;
		bool bad_type = s->framing == IPK__FRAME_SPIPC && h[0] != 1 && !memfd;
		if ((bad_type || len > s->maxmsg) && ipk__looks_like_text(h, hl))
			return break_stream(s, ipk__unframed_text_err(
			                               h, s->in_len - s->in_off,
			                               s->in_len - s->in_off,
			                               "the connection was closed"));
		if (bad_type)
			return break_stream(s, ipk__err(-EPROTO,
			                                "peer sent message type %u, "
			                                "not 1 (SP over IPC)",
			                                h[0]));
		if (len > s->maxmsg)
			return break_stream(s, ipk__err(-EMSGSIZE,
			                                "peer announced a message of %llu "
			                                "bytes, over the channel limit of "
			                                "%zu bytes; connection closed",
			                                (unsigned long long)len,
			                                s->maxmsg));
		if (fio) {
			/* where this frame lies in the stream: its descriptors */
			uint64_t at = fio->abs - (s->in_len - s->in_off);
			ipk__fds_claim(s, at, at + hl + len);
			fio->frame_memfd = memfd;
		}
		s->in_off += hl;
		s->len = len;
		s->have_len = true;
		s->got = 0;
	}
	/* a large message's frame holds its descriptor, read aside */
	ipk__rx desc_rx, *user_rx = rx;
	if (fio && fio->frame_memfd) {
		desc_rx = (ipk__rx){.buf = fio->desc, .cap = sizeof fio->desc,
		                    .info = rx->info, .maxmsg = sizeof fio->desc};
		rx = &desc_rx;
	} else if (fio && (rc = ipk__fds_check(s, rx)) < 0) {
		return rc; /* header kept: the message stays queued */
	}
	int err = 0;
	unsigned char *dst = ipk__rx_reserve(rx, s->len, &err);
	if (dst == NULL && s->len > 0)
		return err; /* header kept: the message stays queued */
	if (s->part != NULL) {
		memcpy(dst, s->part, s->got);
		free(s->part);
		s->part = NULL;
	}
	while (s->got < s->len) {
		size_t avail = s->in_len - s->in_off;
		if (avail > 0) {
			size_t take = s->len - s->got < avail ? s->len - s->got : avail;
			memcpy(dst + s->got, s->in + s->in_off, take);
			s->in_off += take;
			s->got += take;
			continue;
		}
		/* a large remainder is read straight into place */
		bool direct = s->len - s->got >= INBUF_SIZE;
		ssize_t n = direct ? read_some(s, dst + s->got, s->len - s->got,
		                               deadline)
		                   : fill(s, deadline);
		if (n >= 0) {
			if (direct)
				s->got += (size_t)n;
			continue;
		}
		if ((n == -ETIMEDOUT || n == -EAGAIN) && s->got > 0) {
			/* keep what arrived for the next call */
			s->part = malloc(s->got);
			if (s->part == NULL)
				return break_stream(s, ipk__err(-ENOMEM, "out of memory"));
			memcpy(s->part, dst, s->got);
		}
		return n;
	}
	s->have_len = false;
	if (fio && fio->frame_memfd) {
		fio->frame_memfd = false;
		return ipk__large_done(s, user_rx);
	}
	if (fio && (rc = ipk__fds_done(s, rx)) < 0)
		return rc;
	return (ssize_t)s->len;
}

int ipk__stream_pending(const ipk__stream *s)
{
	if (s->framing == IPK__FRAME_RAW || s->broken)
		return 0;
	if (s->framing == IPK__FRAME_FIFO)
		return ipk__fifo_pending(s);
	if (s->fdio && s->fdio->lm_fd >= 0)
		return 1;
	size_t avail = s->in_len - s->in_off;
	if (s->have_len)
		return avail >= s->len - s->got;
	if (avail < ipk__hdr_bytes(s))
		return 0;
	uint64_t len = ipk__get_be64(s->in + s->in_off + ipk__hdr_bytes(s) - 8);
	return avail - ipk__hdr_bytes(s) >= len || len > s->maxmsg;
}

int ipk__stream_close(ipk__stream *s, int linger_ms)
{
	int rc = 0;
	if (s->batch)
		rc = ipk__batch_close(s, linger_ms); /* flushes the backlog too */
	else if (s->blen > s->boff && s->wfd >= 0)
		rc = ipk__stream_flush(s, ipk__deadline(linger_ms));
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->wfd >= 0 && s->wfd != s->rfd)
		close(s->wfd);
	if (s->rfd_block >= 0)
		close(s->rfd_block);
	if (s->wfd_block >= 0)
		close(s->wfd_block);
	s->rfd = s->wfd = s->rfd_block = s->wfd_block = -1;
	free(s->backlog);
	free(s->part);
	free(s->in);
	s->backlog = s->part = s->in = NULL;
	ipk__fifo_free(s);
	ipk__stream_fdio_free(s); /* closes descriptors no one took */
	return rc;
}
