/*
 * The stream decoder (ipk__stream_recv) reading hostile bytes.
 *
 * Input: a configuration byte (framing, including the FIFO framing's
 * chunks, torn messages and plain text; descriptor kind; whether the caller
 * lets the library allocate), the channel limit and the caller's buffer
 * size, then chunks (a length byte and that many bytes) written one after
 * another into a socketpair or pipe, with every receive the decoder will
 * make without waiting in between; at the end the writer closes and the
 * reader drains. Checks: nothing outside a buffer is touched (ASan), no
 * message is over the limit or the caller's buffer, every message handed
 * back is bytes the writer sent, and a broken stream stays broken.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FED 60000 /* below a pipe's default capacity: writes never block */

struct run {
	ipk__stream s;
	size_t maxmsg, cap;
	bool alloc;
	uint8_t *fed; /* everything the writer sent so far */
	size_t nfed;
	int calls;
};

/* One receive; false when the stream has nothing more to give now. */
static bool recv_one(struct run *r, int64_t deadline)
{
	uint8_t fixed[256];
	ipk_msginfo info;
	memset(&info, 0, sizeof info);
	ipk__rx rx = {.buf = r->alloc ? NULL : fixed,
	              .cap = r->alloc ? 0 : r->cap,
	              .alloc = r->alloc,
	              .info = &info,
	              .maxmsg = r->maxmsg};
	ssize_t n = ipk__stream_recv(&r->s, &rx, deadline);
	r->calls++;
	if (n == -ENOBUFS && !r->alloc) {
		/* the message stays queued: take it with a buffer that grows */
		FZ_CHECK(rx.buf == fixed);
		r->alloc = true;
		bool more = recv_one(r, deadline);
		r->alloc = false;
		return more;
	}
	if (n >= 0) {
		FZ_CHECK((size_t)n <= r->maxmsg);
		FZ_CHECK(r->alloc || (size_t)n <= r->cap);
		FZ_CHECK(n == 0 || rx.buf != NULL);
		/* a message is a run of bytes the writer sent, never anything
		   the decoder made up or kept from elsewhere (a chunked FIFO
		   message is put together from pieces: its first bytes are) */
		size_t run = (size_t)n;
		if (r->s.framing == IPK__FRAME_FIFO && run > IPK__FIFO_SMALL)
			run = 1;
		FZ_CHECK(n == 0 || memmem(r->fed, r->nfed, rx.buf, run));
	}
	if (r->alloc && rx.buf != fixed) {
		free(rx.buf);
		rx.buf = NULL;
		rx.cap = 0;
	}
	if (n >= 0)
		return r->calls < 100000;
	FZ_CHECK(n != -ENOBUFS); /* only a caller's own buffer is too small */
	if (r->s.broken)
		FZ_CHECK(ipk__stream_recv(&r->s, &rx, deadline) < 0);
	/* a decoder that resynchronises goes on after a protocol error */
	return (n == -EPROTO || n == -EMSGSIZE) && !r->s.broken &&
	       r->calls < 100000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	signal(SIGPIPE, SIG_IGN);
	struct fz f = {data, size};
	uint8_t cfg = fz_u8(&f);
	enum ipk__framing framing = (enum ipk__framing)(cfg % 4);
	enum ipk__fdkind kind = (enum ipk__fdkind)(cfg / 4 % 3);
	struct run r;
	memset(&r, 0, sizeof r);
	r.alloc = cfg & 0x40;
	/* small limits reach every size check; some runs get a large one */
	r.maxmsg = cfg & 0x80 ? 1 + (size_t)fz_u16(&f) * 16 : 1 + (size_t)(fz_u8(&f) % 64);
	r.cap = fz_u8(&f);

	int fds[2];
	int rc = kind == IPK__FD_SOCK
	                 ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)
	                 : pipe2(fds, O_CLOEXEC);
	if (rc < 0)
		return 0;
	int wfd = fds[1];
	fcntl(wfd, F_SETFL, O_NONBLOCK);
	r.fed = malloc(size + 1);
	if (r.fed == NULL)
		abort();
	ipk__stream_init(&r.s, fds[0], -1, framing, kind, r.maxmsg);
	/* FIFO framing: nobody holds the writers' lock here, so a chunked
	   message that stops is a dead writer's (the torn-message path) */
	if (framing == IPK__FRAME_FIFO)
		r.s.lockfd = fds[0];

	while (f.n > 0 && r.nfed < MAX_FED) {
		size_t want = fz_u8(&f), got;
		const uint8_t *chunk = fz_bytes(&f, want, &got);
		if (got > 0) {
			ssize_t w = write(wfd, chunk, got);
			if (w < 0 && errno == EPIPE)
				break; /* the decoder gave up on a socket and shut it */
			FZ_CHECK(w == (ssize_t)got);
			memcpy(r.fed + r.nfed, chunk, got);
			r.nfed += got;
		}
		while (recv_one(&r, IPK__NOW))
			;
	}
	close(wfd);
	/* the writer has gone: drain what is left */
	while (recv_one(&r, IPK__NOW))
		;
	ipk__stream_close(&r.s, 0);
	free(r.fed);
	return 0;
}
