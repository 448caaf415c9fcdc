/*
 * Descriptors that travel with messages on a unix: stream (SCM_RIGHTS):
 * receiving them with the bytes, finding the message that owns them
 * (stream_fds.h says how), handing them over or closing them, and
 * sending a frame with descriptors on its first byte.
 *
 * No descriptor leaks: every one received is, at any time, in a batch of
 * the stream (closed with it), the current message's (closed when it is
 * done unless the caller takes it), or the caller's.
 */
#define _GNU_SOURCE
#include "stream_fds.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int ipk__fdio_options(ipk__url *u, size_t *large)
{
	struct ipk__opt *o = ipk__opt_find(u, "large");
	*large = o ? (size_t)256 << 10 : 0;
	if (o == NULL)
		return 0;
	if (o->val != NULL && (ipk__parse_size(o->val, large) < 0 || *large == 0))
		return ipk__err(-EINVAL, "address '%s': option large takes the size "
		                         "from which messages travel as memfds, "
		                         "like 1M (or nothing: 256K)",
		                u->text);
	return 1;
}

int ipk__stream_fdio(ipk__stream *s, size_t large, bool peer_large)
{
	struct ipk__fdio *f = calloc(1, sizeof *f);
	if (f == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	f->large = large;
	f->accept_large = large > 0;
	f->peer_large = peer_large;
	f->lm_fd = f->pk_fd = -1;
	s->fdio = f;
	return 0;
}

void ipk__stream_fdio_peer(ipk__stream *s, bool peer_large)
{
	if (s->fdio)
		s->fdio->peer_large = peer_large && s->fdio->large;
}

void ipk__fdbatch_close(struct ipk__fdbatch *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < b->n; i++)
		close(b->fd[i]);
	free(b);
}

void ipk__stream_fdio_free(ipk__stream *s)
{
	struct ipk__fdio *f = s->fdio;
	if (f == NULL)
		return;
	ipk__large_free(f);
	ipk__fdbatch_close(f->cur);
	while (f->head) {
		struct ipk__fdbatch *b = f->head;
		f->head = b->next;
		ipk__fdbatch_close(b);
	}
	free(f);
	s->fdio = NULL;
}

/* Keep the descriptors one read brought, with where its bytes lie. */
static void keep(struct ipk__fdio *f, const int *fds, int n, bool ctrunc,
                 uint64_t start, uint64_t end)
{
	struct ipk__fdbatch *b = malloc(sizeof *b + (size_t)n * sizeof(int));
	if (b == NULL) {
		/* cannot keep them: close them, and remember that they were
		   lost if even that much memory is there */
		for (int i = 0; i < n; i++)
			close(fds[i]);
		n = 0;
		ctrunc = true;
		if ((b = malloc(sizeof *b)) == NULL)
			return;
	}
	b->next = NULL;
	b->start = start;
	b->end = end;
	b->ctrunc = ctrunc;
	b->n = n;
	if (n)
		memcpy(b->fd, fds, (size_t)n * sizeof(int));
	*(f->tail ? &f->tail->next : &f->head) = b;
	f->tail = b;
}

ssize_t ipk__fds_read(ipk__stream *s, void *buf, size_t len, bool dontwait)
{
	struct ipk__fdio *f = s->fdio;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * IPK__MAXFDS)];
	} ctl;
	struct iovec v = {buf, len};
	struct msghdr mh = {.msg_iov = &v, .msg_iovlen = 1,
	                    .msg_control = ctl.space,
	                    .msg_controllen = sizeof ctl.space};
	ssize_t n = recvmsg(s->rfd, &mh, MSG_CMSG_CLOEXEC |
	                                 (dontwait ? MSG_DONTWAIT : 0));
	if (n <= 0)
		return n;
	uint64_t start = f->abs;
	f->abs += (uint64_t)n;
	if (mh.msg_controllen == 0 && !(mh.msg_flags & MSG_CTRUNC))
		return n;
	int fds[IPK__MAXFDS], nf = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (nf < IPK__MAXFDS)
				fds[nf++] = fd;
			else
				close(fd);
		}
	}
	/* a read that lies inside the payload of the message being read
	   (after its first byte, up to its end) owns descriptors no
	   message can take: a hostile peer's. Closed now, so a peer cannot
	   pile them up in this process across a long message. */
	if (s->have_len && start > f->fr_start && start + (uint64_t)n <= f->fr_end) {
		for (int i = 0; i < nf; i++)
			close(fds[i]);
		return n;
	}
	if (nf > 0 || (mh.msg_flags & MSG_CTRUNC))
		keep(f, fds, nf, (mh.msg_flags & MSG_CTRUNC) != 0, start,
		     start + (uint64_t)n);
	return n;
}

void ipk__fds_claim(ipk__stream *s, uint64_t at, uint64_t end)
{
	struct ipk__fdio *f = s->fdio;
	/* batches that ended before this frame began belong to no frame
	   (they came inside a payload): nobody will take them */
	while (f->head && f->head->end <= at) {
		struct ipk__fdbatch *b = f->head;
		if ((f->head = b->next) == NULL)
			f->tail = NULL;
		ipk__fdbatch_close(b);
	}
	ipk__fdbatch_close(f->cur); /* (a frame never begins twice) */
	f->cur = NULL;
	f->fr_start = at;
	f->fr_end = end;
	struct ipk__fdbatch *b = f->head;
	if (b && b->start <= at && end >= b->end) {
		if ((f->head = b->next) == NULL)
			f->tail = NULL;
		b->next = NULL;
		f->cur = b;
	}
}

int ipk__fds_check(ipk__stream *s, const ipk__rx *rx)
{
	const struct ipk__fdbatch *b = s->fdio->cur;
	if (b == NULL || rx->fds == NULL || (size_t)b->n <= rx->fdcap)
		return 0;
	return ipk__err(-ENOBUFS, "the message carries %d descriptors, room "
	                          "for %zu was given (it stays queued)",
	                b->n, rx->fdcap);
}

int ipk__fds_done(ipk__stream *s, ipk__rx *rx)
{
	struct ipk__fdbatch *b = s->fdio->cur;
	s->fdio->cur = NULL;
	rx->nfds = 0;
	if (b == NULL)
		return 0;
	if (b->ctrunc && rx->fds) {
		ipk__fdbatch_close(b);
		return ipk__err(-EMFILE, "descriptors sent with the message were "
		                         "lost on the way in (the process had "
		                         "too many open files: RLIMIT_NOFILE); "
		                         "the message was dropped");
	}
	if (rx->fds && !b->ctrunc) {
		memcpy(rx->fds, b->fd, (size_t)b->n * sizeof(int));
		rx->nfds = (size_t)b->n;
		b->n = 0;
	}
	ipk__fdbatch_close(b);
	return 0;
}

/* ------------------------------------------------------------ sending */

ssize_t ipk__fds_writev(ipk__stream *s, struct iovec *iov, int cnt,
                        const int *fds, size_t nfds, int64_t deadline)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * IPK__MAXFDS)];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt,
	                    .msg_control = ctl.space,
	                    .msg_controllen = CMSG_SPACE(sizeof(int) * nfds)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	return sendmsg(s->wfd, &mh, MSG_NOSIGNAL |
	                                    (deadline != IPK__NEVER ? MSG_DONTWAIT
	                                                            : 0));
}

ssize_t ipk__stream_send_fds(ipk__stream *s, const void *buf, size_t len,
                             const int *fds, size_t nfds, int64_t deadline)
{
	if (s->wfd < 0)
		return ipk__err(-EBADF, "channel cannot send (shut down)");
	if (s->broken)
		return ipk__err(-EPIPE, "channel closed after a protocol error");
	if (s->fdio == NULL || s->framing != IPK__FRAME_SPIPC)
		return ipk__err(-EOPNOTSUPP, "descriptors ride with messages of "
		                             "framed unix: channels (not ?raw)");
	if (nfds == 0)
		return ipk__stream_send(s, buf, len, deadline);
	for (size_t i = 0; i < nfds; i++) {
		if (fds[i] < 0)
			return ipk__err(-EBADF, "descriptor %zu (%d) is not open", i,
			                fds[i]);
	}
	/* what was queued before goes first */
	ssize_t n = ipk__batch_hold(s, deadline);
	if (n == 0)
		n = ipk__stream_send_frame(s, 1, buf, len, fds, nfds, deadline);
	ipk__batch_release(s, n);
	return n;
}
