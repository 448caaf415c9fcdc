/* Shared by stream.c and stream_fifo.c only. */
#ifndef IPK_CORE_STREAM_PRIV_H
#define IPK_CORE_STREAM_PRIV_H

#include "internal.h"

static inline void ipk__put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint64_t ipk__get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Bytes of frame header before each message (0 without framing). */
static inline size_t ipk__hdr_bytes(const ipk__stream *s)
{
	return s->framing == IPK__FRAME_SPIPC ? 9
	       : s->framing == IPK__FRAME_RAW ? 0 : 8;
}

/* Write the frame header of a message of len bytes into hdr (room for 9):
   the SP type where the framing has one (1: a message), then the length.
   Returns its size, ipk__hdr_bytes(s). */
static inline size_t ipk__put_hdr(const ipk__stream *s, unsigned char *hdr,
                                  unsigned char type, uint64_t len)
{
	size_t hl = 0;
	if (s->framing == IPK__FRAME_SPIPC)
		hdr[hl++] = type;
	if (s->framing != IPK__FRAME_RAW) {
		ipk__put_be64(hdr + hl, len);
		hl += 8;
	}
	return hl;
}

/*
 * Does this look like text a plain program wrote (echo, printf, cat of a
 * text file) rather than a frame header? Printable ASCII, tabs and line
 * ends, or UTF-8 bytes; at least one byte, and no NUL.
 */
bool ipk__looks_like_text(const unsigned char *p, size_t n);
/* -EPROTO with the message for n bytes of unframed text, quoting them. */
int ipk__unframed_text_err(const unsigned char *p, size_t n, size_t dropped,
                           const char *then);

struct iovec;
/* One write of iov, not waiting unless deadline is IPK__NEVER (stream.c). */
ssize_t ipk__stream_writev(ipk__stream *s, struct iovec *iov, int cnt,
                           int64_t deadline);
/* Write buf[*off, len) as the kernel takes it, advancing *off, waiting
   within the deadline until *off reaches need: 0, or the error (-EPIPE
   when the peer is gone). */
int ipk__stream_write_out(ipk__stream *s, const unsigned char *buf,
                          size_t *off, size_t len, size_t need,
                          int64_t deadline);
/* Write the rest of a message a send left behind. */
int ipk__stream_flush_backlog(ipk__stream *s, int64_t deadline);
/* One framed message, written now (the backlog already out): of SP type
   `type` where the framing has types (1: a message), with the descriptors
   fds (nfds of them, 0: none) on its first byte. What a wait that runs out
   leaves of it after that byte becomes the backlog. */
ssize_t ipk__stream_send_frame(ipk__stream *s, unsigned char type,
                               const void *buf, size_t len, const int *fds,
                               size_t nfds, int64_t deadline);
static inline ssize_t ipk__stream_send_direct(ipk__stream *s, const void *buf,
                                              size_t len, int64_t deadline)
{
	return ipk__stream_send_frame(s, 1, buf, len, NULL, 0, deadline);
}
/* Keep what is left in iov as the backlog, to go out whole before
   anything else; false if there is no memory for it. */
bool ipk__stream_keep_rest(ipk__stream *s, const struct iovec *iov, int cnt);

/* Send batching (stream_batch.c). */
ssize_t ipk__batch_send(ipk__stream *s, const void *buf, size_t len,
                        int64_t deadline);
int ipk__batch_flush(ipk__stream *s, int64_t deadline);
/* A receive is about to wait: write what the kernel takes now. True if
   something is still queued (the receive then waits for room too). */
bool ipk__batch_push(ipk__stream *s);
/* Wait until the stream is readable or can take queued bytes. */
int ipk__batch_wait(ipk__stream *s, int64_t deadline);
/* Flush within linger_ms, report what was lost, free the batching state. */
int ipk__batch_close(ipk__stream *s, int linger_ms);
/* Take the sending side for a write of one's own (descriptors): what a
   batching stream queued, or a plain one's backlog, goes out first. Call
   ipk__batch_release after with what the write gave (-EPIPE there ends
   sending on a batching stream), whatever this returned. */
int ipk__batch_hold(ipk__stream *s, int64_t deadline);
void ipk__batch_release(ipk__stream *s, ssize_t sent);

/* FIFO framing (stream_fifo.c). */
ssize_t ipk__fifo_send(ipk__stream *s, const void *buf, size_t len,
                       int64_t deadline);
int ipk__fifo_flush(ipk__stream *s, int64_t deadline);
ssize_t ipk__fifo_recv(ipk__stream *s, ipk__rx *rx, int64_t deadline);
int ipk__fifo_pending(const ipk__stream *s);
void ipk__fifo_free(ipk__stream *s);

#endif
