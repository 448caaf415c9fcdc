/*
 * Several whole messages in one call (ipk_send_many): on a stream, their
 * frames go out in one writev per VEC_MSGS messages, each header and
 * payload an iovec of its own, so nothing is copied.
 */
#define _GNU_SOURCE
#include "stream_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Skip n written bytes of an iovec array. */
static void advance(struct iovec **iov, int *cnt, size_t n)
{
	while (n > 0 && *cnt > 0) {
		if (n < (*iov)->iov_len) {
			(*iov)->iov_base = (char *)(*iov)->iov_base + n;
			(*iov)->iov_len -= n;
			return;
		}
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	while (*cnt > 0 && (*iov)->iov_len == 0) {
		(*iov)++;
		(*cnt)--;
	}
}

#define VEC_MSGS 256

/*
 * Up to VEC_MSGS messages in as few writes as the kernel allows. Returns
 * how many went (the last of them maybe in part: its rest is the backlog,
 * so it goes out whole), or an error if none did.
 */
static ssize_t sendv_chunk(ipk__stream *s, const struct iovec *m, size_t n,
                           int64_t deadline)
{
	unsigned char hdr[VEC_MSGS][9];
	struct iovec iov[2 * VEC_MSGS];
	size_t end[VEC_MSGS]; /* where each message ends in the chunk */
	size_t hl = ipk__hdr_bytes(s), total = 0;
	int cnt = 0;
	for (size_t i = 0; i < n; i++) {
		if (hl) {
			ipk__put_hdr(s, hdr[i], 1, m[i].iov_len);
			iov[cnt++] = (struct iovec){hdr[i], hl};
		}
		if (m[i].iov_len)
			iov[cnt++] = m[i];
		total += hl + m[i].iov_len;
		end[i] = total;
	}
	struct iovec *cur = iov;
	size_t done = 0;
	while (done < total) {
		ssize_t w = ipk__stream_writev(s, cur, cnt, deadline);
		if (w > 0) {
			done += (size_t)w;
			advance(&cur, &cnt, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return ipk__err(-EPIPE, "peer closed the channel");
		if (w < 0 && errno != EAGAIN)
			return ipk__errno(-errno, "write");
		int rc = ipk__wait_fd(s->wfd, POLLOUT, deadline);
		if (rc == 0)
			continue;
		if (done == 0)
			return rc;
		/* time is up: the messages not begun are not sent; the one under
		   way goes out whole later */
		size_t k = 0;
		while (end[k] <= done)
			k++;
		size_t start = k ? end[k - 1] : 0;
		if (done == start)
			return (ssize_t)k;
		/* what is left of message k: the end of its header, its payload */
		size_t in = done - start;
		struct iovec r[2];
		int rc2 = 0;
		if (in < hl)
			r[rc2++] = (struct iovec){hdr[k] + in, hl - in};
		size_t pin = in > hl ? in - hl : 0;
		if (m[k].iov_len > pin)
			r[rc2++] = (struct iovec){(char *)m[k].iov_base + pin,
			                          m[k].iov_len - pin};
		if (!ipk__stream_keep_rest(s, r, rc2)) {
			/* cannot keep it: finish it now */
			struct iovec *rp = r;
			while (rc2 > 0) {
				ssize_t x = ipk__stream_writev(s, rp, rc2, IPK__NEVER);
				if (x > 0)
					advance(&rp, &rc2, (size_t)x);
				else if (x < 0 && errno == EAGAIN)
					(void)ipk__wait_fd(s->wfd, POLLOUT, IPK__NEVER);
				else if (!(x < 0 && errno == EINTR))
					return ipk__errno(x < 0 ? -errno : -EIO, "write");
			}
		}
		return (ssize_t)(k + 1);
	}
	return (ssize_t)n;
}

ssize_t ipk__stream_sendv(ipk__stream *s, const struct iovec *msgs, size_t n,
                          int64_t deadline)
{
	if (s->wfd < 0)
		return ipk__err(-EBADF, "channel cannot send (shut down)");
	if (s->broken)
		return ipk__err(-EPIPE, "channel closed after a protocol error");
	size_t sent = 0;
	if (s->batch || s->framing == IPK__FRAME_FIFO) {
		/* the queue (or the FIFO's atomic writes) does the grouping */
		for (; sent < n; sent++) {
			ssize_t r = ipk__stream_send(s, msgs[sent].iov_base,
			                             msgs[sent].iov_len, deadline);
			if (r < 0)
				return sent ? (ssize_t)sent : r;
		}
		return (ssize_t)sent;
	}
	int rc = ipk__stream_flush_backlog(s, deadline);
	if (rc < 0)
		return rc;
	while (sent < n) {
		size_t k = n - sent < VEC_MSGS ? n - sent : VEC_MSGS;
		ssize_t r = sendv_chunk(s, msgs + sent, k, deadline);
		if (r < 0)
			return sent ? (ssize_t)sent : r;
		sent += (size_t)r;
		if ((size_t)r < k)
			break;
	}
	return (ssize_t)sent;
}

