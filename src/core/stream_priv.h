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

/*
 * Does this look like text a plain program wrote (echo, printf, cat of a
 * text file) rather than a frame header? Printable ASCII, tabs and line
 * ends, or UTF-8 bytes; at least one byte, and no NUL.
 */
bool ipk__looks_like_text(const unsigned char *p, size_t n);
/* -EPROTO with the message for n bytes of unframed text, quoting them. */
int ipk__unframed_text_err(const unsigned char *p, size_t n, size_t dropped,
                           const char *then);

/* FIFO framing (stream_fifo.c). */
ssize_t ipk__fifo_send(ipk__stream *s, const void *buf, size_t len,
                       int64_t deadline);
int ipk__fifo_flush(ipk__stream *s, int64_t deadline);
ssize_t ipk__fifo_recv(ipk__stream *s, ipk__rx *rx, int64_t deadline);
int ipk__fifo_pending(const ipk__stream *s);
void ipk__fifo_free(ipk__stream *s);

#endif
