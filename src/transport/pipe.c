/* pipe: — an anonymous channel made by ipk_pair(), for use across fork(). */
#define _GNU_SOURCE
#include "../core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

struct pipe_chan {
	ipk__stream s;
};

static int pipe_pair(ipk_chan *a, ipk_chan *b)
{
	/* two pipes: a -> b and b -> a */
	int ab[2], ba[2];
	ipk__ignore_sigpipe();
	if (pipe2(ab, O_CLOEXEC | O_NONBLOCK) < 0)
		return ipk__errno(-errno, "pipe2");
	if (pipe2(ba, O_CLOEXEC | O_NONBLOCK) < 0) {
		int rc = ipk__errno(-errno, "pipe2");
		close(ab[0]);
		close(ab[1]);
		return rc;
	}
	enum ipk__framing f = a->raw ? IPK__FRAME_RAW : IPK__FRAME_LEN64;
	struct pipe_chan *pa = ipk__priv(a), *pb = ipk__priv(b);
	ipk__stream_init(&pa->s, ba[0], ab[1], f, IPK__FD_PIPE, a->maxmsg);
	ipk__stream_init(&pb->s, ab[0], ba[1], f, IPK__FD_PIPE, b->maxmsg);
	return ipk__pair_batch(a, &pa->s, &pb->s);
}

static ssize_t pipe_send(ipk_chan *c, const void *buf, size_t len,
                         const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct pipe_chan *p = ipk__priv(c);
	return ipk__stream_send(&p->s, buf, len, deadline);
}

static ssize_t pipe_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct pipe_chan *p = ipk__priv(c);
	return ipk__stream_recv(&p->s, rx, deadline);
}

static ssize_t pipe_send_many(ipk_chan *c, const struct iovec *msgs, size_t n,
                              int64_t deadline)
{
	struct pipe_chan *p = ipk__priv(c);
	return ipk__stream_sendv(&p->s, msgs, n, deadline);
}

static int pipe_flush(ipk_chan *c, int64_t deadline)
{
	struct pipe_chan *p = ipk__priv(c);
	return ipk__stream_flush(&p->s, deadline);
}

static int pipe_fd(const ipk_chan *c)
{
	const struct pipe_chan *p = ipk__priv(c);
	return p->s.rfd;
}

static int pipe_pending(const ipk_chan *c)
{
	const struct pipe_chan *p = ipk__priv(c);
	return ipk__stream_pending(&p->s);
}

static int pipe_shutdown(ipk_chan *c)
{
	struct pipe_chan *p = ipk__priv(c);
	int64_t linger = ipk__deadline(c->linger_ms);
	int rc = ipk__stream_flush(&p->s, linger);
	int rc2 = ipk__stream_unbatch(&p->s, linger); /* before wfd goes */
	if (rc == 0)
		rc = rc2;
	if (p->s.wfd >= 0)
		close(p->s.wfd);
	p->s.wfd = -1;
	return rc;
}

static int pipe_close(ipk_chan *c)
{
	struct pipe_chan *p = ipk__priv(c);
	return ipk__stream_close(&p->s, c->linger_ms);
}

static const char *const pipe_opts[] = {"batch", "batchdelay", NULL};

const struct ipk_transport ipk__pipe_transport = {
	.scheme = "pipe",
	.summary = "anonymous pipe pair for parent and child (pipe2)",
	.options = pipe_opts,
	.priv_size = sizeof(struct pipe_chan),
	.streams = true,
	.no_proto = "an anonymous pipe joins the two ends ipk_pair made: "
	            "patterns need ipk_listen and ipk_dial",
	.pair = pipe_pair,
	.send = pipe_send,
	.recv = pipe_recv,
	.send_many = pipe_send_many,
	.flush = pipe_flush,
	.fd = pipe_fd,
	.pending = pipe_pending,
	.shutdown = pipe_shutdown,
	.close = pipe_close,
};
