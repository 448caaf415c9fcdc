/*
 * FIFO framing: whole messages from many writers over one pipe.
 *
 * The kernel writes a pipe write of at most PIPE_BUF bytes in one piece,
 * never mixed with another writer's. So:
 *
 * - A message of up to IPK__FIFO_SMALL bytes is one write: an 8-byte header
 *       0x00, 0xC1, u16 length, u32 check of those 4 bytes
 *   and the payload. No lock is taken.
 * - A larger message is cut into chunks, each one write of at most PIPE_BUF
 *   bytes with a 20-byte header:
 *       0xFE, flags (0x01: first chunk), u16 payload length,
 *       u32 tag of the message, u64 length of the whole message,
 *       u32 check of those 16 bytes
 *   Other writers' small messages may come between chunks; the reader puts
 *   the chunks together. Writers of chunked messages take the FIFO's flock
 *   for the whole message (fifo.c), so their chunks never mix.
 * All numbers are big-endian; the check is hdr_check() below.
 *
 * A writer killed in the middle of a chunked message leaves a message that
 * never completes. The reader finds out in one of two ways: another
 * message's first chunk arrives (chunks of two messages never mix, so the
 * first one is dead), or the pipe is empty while the lock is free (a live
 * writer holds it until its last chunk is in the pipe, so with the lock free
 * nothing more of it can come). It drops the partial message and reports it
 * once (-EPROTO); the messages around it are untouched.
 *
 * Plain programs may write into the FIFO too. Each unit being one write, a
 * genuine header is always followed by its own payload; what is left is to
 * tell a genuine header from foreign bytes that look like one, and the
 * check does that: foreign bytes pass for a header only if they hold a
 * byte-exact one, check included (odds of 2^-32 per 0x00 or 0xFE byte for
 * bytes that do not copy a header). So the reader believes a header where
 * its check holds, and everything from the read position up to the next
 * such header is foreign: dropped and counted in one report per run, which
 * is given when the run ends (a header follows, or the pipe is empty).
 */
#define _GNU_SOURCE
#include "stream_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#define UNIT 4096 /* PIPE_BUF on Linux: one write this size stays whole */
#define SHDR 8  /* a small message's header */
#define CHDR 20 /* a chunk's header */
#define SMARK 0xC1 /* a small header's second byte (never in UTF-8 text) */
#define CHUNK_MAX (UNIT - CHDR)
#define MAGIC 0xFE
#define FIRST 0x01
#define SLICE_NS (50 * 1000000LL) /* how often a wait asks about the lock */
#define INBUF_SIZE 65536
/* at most this much per read: the FIFO's lock is held while a read copies,
   and a writer of the next message waits for it (see read_size()) */
#define READ_MAX 4096

enum { NEED_MORE = 1, AGAIN, GOT }; /* parse() besides a negative errno */
enum { NO_UNIT, CUT, UNIT_HERE };   /* unit_at() */

/* The check of a header's first n bytes: FNV-1a (32 bits). Any fixed
   function of them would do against foreign bytes that are not a copy of a
   header; this one is cheap and easy to write in another language. */
static uint32_t hdr_check(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t next_tag(void)
{
	static _Atomic uint32_t counter;
	uint32_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
	return (n * 2654435761u) ^ ((uint32_t)getpid() << 16);
}

/* ------------------------------------------------------------- sending */

/* The error of a write of a unit that returned n (not EINTR or EAGAIN). */
static int write_failed(ssize_t n, size_t total)
{
	if (n >= 0) /* a pipe never does this with <= PIPE_BUF bytes */
		return ipk__err(-EIO, "short write of %zd of %zu bytes", n, total);
	if (errno == EPIPE)
		return ipk__err(-EPIPE, "peer closed the channel");
	return ipk__errno(-errno, "write");
}

/* One write of a whole unit: 1 written, 0 no room now, < 0 error.
   Without a deadline it waits in the kernel where it can. */
static int write_unit(ipk__stream *s, struct iovec *iov, int cnt, size_t total,
                      int64_t deadline)
{
	int fd = deadline == IPK__NEVER && s->wfd_block >= 0 ? s->wfd_block
	                                                      : s->wfd;
	for (;;) {
		ssize_t n = cnt == 1 ? write(fd, iov[0].iov_base, iov[0].iov_len)
		                     : writev(fd, iov, cnt);
		if (n == (ssize_t)total)
			return 1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return write_failed(n, total);
	}
}

/* Write a unit, waiting for room until the deadline. */
static int send_unit(ipk__stream *s, struct iovec *iov, int cnt, size_t total,
                     int64_t deadline)
{
	for (;;) {
		int rc = write_unit(s, iov, cnt, total, deadline);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		rc = ipk__wait_fd(s->wfd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
}

static void drop_backlog(ipk__stream *s)
{
	free(s->backlog);
	s->backlog = NULL;
	s->blen = s->boff = 0;
}

/*
 * Send the chunks of the message (tag s->ctag, s->ctotal bytes) from
 * s->coff on; data holds its payload from offset base. When the deadline
 * passes after the first chunk, the rest is kept in the backlog so the
 * message still goes out whole (the caller keeps the lock meanwhile).
 */
static int send_chunks(ipk__stream *s, const unsigned char *data,
                       uint64_t base, int64_t deadline)
{
	while (s->coff < s->ctotal) {
		uint64_t left = s->ctotal - s->coff;
		uint16_t n = (uint16_t)(left < CHUNK_MAX ? left : CHUNK_MAX);
		unsigned char h[CHDR];
		h[0] = MAGIC;
		h[1] = s->coff == 0 ? FIRST : 0;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		put_be32(h + 4, s->ctag);
		ipk__put_be64(h + 8, s->ctotal);
		put_be32(h + 16, hdr_check(h, 16));
		struct iovec iov[2] = {{h, CHDR},
		                       {(void *)(data + (s->coff - base)), n}};
		int rc = send_unit(s, iov, 2, CHDR + (size_t)n, deadline);
		if (rc == 0) {
			s->coff += n;
			continue;
		}
		if (rc != -ETIMEDOUT && rc != -EAGAIN)
			return rc; /* the reader sees the rest never came */
		if (s->coff == 0)
			return rc; /* nothing sent: the caller may try again */
		if (s->backlog != NULL && data == s->backlog)
			return 0; /* already kept: later */
		size_t rest = (size_t)(s->ctotal - s->coff);
		unsigned char *b = malloc(rest);
		if (b == NULL) {
			deadline = IPK__NEVER; /* cannot keep it: finish now */
			continue;
		}
		memcpy(b, data + (s->coff - base), rest);
		s->backlog = b;
		s->blen = rest;
		s->boff = 0;
		s->bpid = getpid();
		return 0;
	}
	if (s->backlog != NULL)
		drop_backlog(s);
	return 0;
}

int ipk__fifo_flush(ipk__stream *s, int64_t deadline)
{
	if (s->backlog == NULL)
		return 0;
	/* a copy inherited across fork: the parent finishes its own message */
	if (s->bpid != getpid()) {
		drop_backlog(s);
		return 0;
	}
	return send_chunks(s, s->backlog, s->ctotal - s->blen, deadline);
}

ssize_t ipk__fifo_send(ipk__stream *s, const void *buf, size_t len,
                       int64_t deadline)
{
	int rc;
	if (s->backlog != NULL) {
		rc = ipk__fifo_flush(s, deadline);
		if (rc < 0)
			return rc;
		if (s->backlog != NULL) /* the kept message is not out yet */
			return ipk__timeout_err(deadline);
	}
	if (len <= IPK__FIFO_SMALL) {
		/* header and payload in one buffer: write(2), cheaper than a
		   writev of two pieces for what is a copy of a few bytes */
		unsigned char unit[UNIT];
		unsigned char *h = s->tx_hdr;
		if (h[1] != SMARK || h[2] != (unsigned char)(len >> 8) ||
		    h[3] != (unsigned char)len) {
			/* (messages mostly come in a few sizes: the check of
			   the last header is kept) */
			h[0] = 0x00;
			h[1] = SMARK;
			h[2] = (unsigned char)(len >> 8);
			h[3] = (unsigned char)len;
			put_be32(h + 4, hdr_check(h, 4));
		}
		memcpy(unit, h, SHDR);
		if (len > 0)
			memcpy(unit + SHDR, buf, len);
		/* the usual case first: the pipe has room and takes it whole
		   (errors and waiting are send_unit's, which writes again) */
		int fd = deadline == IPK__NEVER && s->wfd_block >= 0
		                 ? s->wfd_block
		                 : s->wfd;
		ssize_t n = write(fd, unit, SHDR + len);
		if (n == (ssize_t)(SHDR + len))
			return (ssize_t)len;
		if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
			rc = write_failed(n, SHDR + len);
		} else {
			struct iovec iov = {unit, SHDR + len};
			rc = send_unit(s, &iov, 1, SHDR + len, deadline);
		}
		return rc < 0 ? rc : (ssize_t)len;
	}
	s->ctag = next_tag();
	s->ctotal = len;
	s->coff = 0;
	rc = send_chunks(s, buf, 0, deadline);
	return rc < 0 ? rc : (ssize_t)len;
}

/* ----------------------------------------------------------- receiving */

static int unit_at(const unsigned char *p, size_t avail, size_t *size);

/*
 * How many bytes the next read asks for: what the unit begun at the read
 * position still lacks when its header is in, else the size of the last
 * unit taken (at most READ_MAX; READ_MAX before the first one and in a run
 * of foreign bytes).
 *
 * Why not all the pipe holds: a reader that takes everything each time
 * empties the pipe, finds it empty at its next read and sleeps, and then
 * every write into the empty pipe has to wake it. On two CPUs the kernel
 * mostly keeps the two processes on one, where the woken reader runs at
 * once in the writer's place: a switch to the reader and back for every
 * message or two (measured: 8,000-17,000 reader sleeps per 200,000
 * messages of 64 bytes, against under 100 for a reader of one message per
 * read). A reader that takes one message per read, as a hand-written loop
 * over fixed-size records does, drains the pipe no faster than the writer
 * fills it; it keeps a backlog to read without sleeping, the writer sleeps
 * only when the pipe is full, and each switch then moves a pipe's worth of
 * messages. The price is a system call per message for a reader that has
 * fallen behind; docs/bench.md has the figures.
 */
static size_t read_size(const ipk__stream *s)
{
	size_t avail = s->in_len - s->in_off, size = 0;
	size_t want = s->rd_unit > 0 && s->jn == 0 ? s->rd_unit : READ_MAX;
	if (avail > 0 &&
	    unit_at(s->in + s->in_off, avail, &size) == UNIT_HERE)
		want = size;
	want = want > avail ? want - avail : 1;
	return want < READ_MAX ? want : READ_MAX;
}

/* Read more of what the pipe holds (> 0 bytes, at most read_size()),
   without waiting (0: empty) unless block, or < 0. */
static ssize_t read_more(ipk__stream *s, bool block)
{
	if (s->in == NULL && (s->in = malloc(INBUF_SIZE)) == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	if (s->in_off == s->in_len) {
		s->in_off = s->in_len = 0;
	} else if (s->in_off > 0) {
		memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
		s->in_len -= s->in_off;
		s->in_off = 0;
	}
	for (;;) {
		size_t room = INBUF_SIZE - s->in_len, want = read_size(s);
		if (room > want)
			room = want;
		ssize_t n = read(block ? s->rfd_block : s->rfd, s->in + s->in_len,
		                 room);
		if (n > 0) {
			s->in_len += (size_t)n;
			return n;
		}
		if (n == 0) {
			s->eof = true;
			return -EPIPE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		return ipk__errno(-errno, "read");
	}
}

/* Drop n foreign bytes at the read position into the current run. */
static void eat(ipk__stream *s, size_t n)
{
	const unsigned char *p = s->in + s->in_off;
	if (s->jn == 0) {
		s->jtext = true;
		s->jhl = 0;
	}
	size_t keep = sizeof s->jhead - s->jhl;
	if (keep > n)
		keep = n;
	memcpy(s->jhead + s->jhl, p, keep);
	s->jhl += keep;
	s->jtext = s->jtext && ipk__looks_like_text(p, n);
	s->jn += n;
	s->in_off += n;
}

/* The run of foreign bytes has ended: report it, once. */
static int report(ipk__stream *s)
{
	size_t n = s->jn;
	s->jn = 0;
	if (s->jtext)
		return ipk__unframed_text_err(s->jhead, s->jhl < n ? s->jhl : n, n,
		                              "it was dropped");
	return ipk__err(-EPROTO,
	                "%zu %s not a message of this channel %s dropped (a "
	                "writer that does not frame its messages? listen with "
	                "?raw to read such writers)",
	                n, n == 1 ? "byte that is" : "bytes that are",
	                n == 1 ? "was" : "were");
}

/* Does a genuine header begin at p (avail bytes there)? UNIT_HERE with the
   unit's size in *size; CUT when the bytes there begin one as far as they
   go (too few to tell); NO_UNIT otherwise. Only bytes that hold a header
   with its check are believed. */
static int unit_at(const unsigned char *p, size_t avail, size_t *size)
{
	if (p[0] == 0x00) {
		if (avail >= 2 && p[1] != SMARK)
			return NO_UNIT;
		if (avail < SHDR)
			return CUT;
		size_t len = (size_t)p[2] << 8 | p[3];
		if (len > IPK__FIFO_SMALL || get_be32(p + 4) != hdr_check(p, 4))
			return NO_UNIT;
		*size = SHDR + len;
		return UNIT_HERE;
	}
	if (p[0] == MAGIC) {
		if (avail >= 2 && (p[1] & ~FIRST) != 0)
			return NO_UNIT;
		if (avail < CHDR)
			return CUT;
		size_t n = (size_t)p[2] << 8 | p[3];
		uint64_t total = ipk__get_be64(p + 8);
		if (n == 0 || n > CHUNK_MAX || total <= IPK__FIFO_SMALL ||
		    ((p[1] & FIRST) && n > total) ||
		    get_be32(p + 16) != hdr_check(p, 16))
			return NO_UNIT;
		*size = CHDR + n;
		return UNIT_HERE;
	}
	return NO_UNIT;
}

/* How many bytes from the read position on (at least one) come before the
   next place a genuine header begins or may begin. */
static size_t foreign_len(const ipk__stream *s)
{
	const unsigned char *p = s->in + s->in_off;
	size_t avail = s->in_len - s->in_off, size, i;
	for (i = 1; i < avail; i++) {
		if (p[i] != 0x00 && p[i] != MAGIC)
			continue;
		if (unit_at(p + i, avail - i, &size) != NO_UNIT)
			break;
	}
	return i;
}

static int torn(ipk__stream *s)
{
	s->asm_on = false;
	return ipk__err(-EPROTO,
	                "a writer stopped in the middle of a message of %llu bytes "
	                "(%zu arrived; it was killed?): the partial message was "
	                "dropped",
	                (unsigned long long)s->asm_total, s->asm_got);
}

static int append(ipk__stream *s, const unsigned char *p, size_t n)
{
	if (s->asm_got + n > s->asm_cap) {
		size_t cap = s->asm_cap ? s->asm_cap * 2 : 65536;
		if (cap < s->asm_got + n)
			cap = s->asm_got + n;
		if (cap > s->asm_total)
			cap = (size_t)s->asm_total;
		unsigned char *b = realloc(s->asm_buf, cap);
		if (b == NULL) {
			s->asm_on = false;
			s->skipping = true;
			s->skip_tag = s->asm_tag;
			return ipk__err(-ENOMEM,
			                "out of memory for a message of %llu bytes; it "
			                "was dropped",
			                (unsigned long long)s->asm_total);
		}
		s->asm_buf = b;
		s->asm_cap = cap;
	}
	memcpy(s->asm_buf + s->asm_got, p, n);
	s->asm_got += n;
	if (s->asm_got == s->asm_total) {
		s->asm_on = false;
		s->asm_ready = true;
	}
	return 0;
}

/* One chunk, whole in the buffer: AGAIN, or an error to report. */
static int chunk(ipk__stream *s, const unsigned char *h)
{
	unsigned flags = h[1];
	size_t n = (size_t)h[2] << 8 | h[3];
	uint32_t tag = get_be32(h + 4);
	uint64_t total = ipk__get_be64(h + 8);
	const unsigned char *p = h + CHDR;
	s->in_off += CHDR + n;
	if (flags & FIRST) {
		int err = s->asm_on ? torn(s) : 0;
		s->skipping = false;
		if (total > s->maxmsg) {
			s->skipping = true;
			s->skip_tag = tag;
			return err ? err
			           : ipk__err(-EMSGSIZE,
			                      "a message of %llu bytes, over the channel "
			                      "limit of %zu bytes, was discarded (raise "
			                      "it with ?maxmsg=)",
			                      (unsigned long long)total, s->maxmsg);
		}
		s->asm_on = true;
		s->asm_tag = tag;
		s->asm_total = total;
		s->asm_got = 0;
		int rc = append(s, p, n);
		return err ? err : rc ? rc : AGAIN;
	}
	if (s->skipping && tag == s->skip_tag)
		return AGAIN; /* the rest of a message already refused */
	if (!s->asm_on || tag != s->asm_tag || total != s->asm_total ||
	    s->asm_got + n > total) {
		return ipk__err(-EPROTO,
		                "a piece of a message of %llu bytes whose beginning "
		                "never came was dropped",
		                (unsigned long long)total);
	}
	int rc = append(s, p, n);
	return rc ? rc : AGAIN;
}

/* Deliver the message at the read position (GOT, its length in *got), or
   say what stops it. */
static int parse(ipk__stream *s, ipk__rx *rx, size_t *got)
{
	size_t avail = s->in_len - s->in_off;
	if (avail == 0)
		return NEED_MORE; /* (and no buffer yet before the first read) */
	const unsigned char *p = s->in + s->in_off;
	size_t size = 0;
	int at;
	if (avail >= SHDR && p[1] == SMARK && memcmp(p, s->rx_hdr, SHDR) == 0) {
		/* the header believed last time, byte for byte: its check
		   holds */
		at = UNIT_HERE;
		size = SHDR + ((size_t)p[2] << 8 | p[3]);
	} else {
		at = unit_at(p, avail, &size);
	}
	if (at == CUT)
		return NEED_MORE;
	if (at == NO_UNIT) {
		eat(s, foreign_len(s));
		return AGAIN;
	}
	if (s->jn > 0)
		return report(s); /* the foreign run ends at this header */
	if (avail < size)
		return NEED_MORE;
	s->rd_unit = size;
	if (p[0] == MAGIC)
		return chunk(s, p);
	uint64_t len = size - SHDR;
	if (len > s->maxmsg) {
		s->in_off += size;
		return ipk__err(-EMSGSIZE,
		                "a message of %llu bytes, over the channel limit of "
		                "%zu bytes, was discarded (raise it with ?maxmsg=)",
		                (unsigned long long)len, s->maxmsg);
	}
	int err = 0;
	void *dst = len <= rx->cap && len <= rx->maxmsg && rx->buf != NULL
	                    ? rx->buf /* ipk__rx_reserve's answer, without the call */
	                    : ipk__rx_reserve(rx, (size_t)len, &err);
	if (dst == NULL && len > 0)
		return err; /* stays buffered */
	if (len > 0)
		memcpy(dst, p + SHDR, (size_t)len);
	memcpy(s->rx_hdr, p, SHDR);
	s->in_off += size;
	*got = (size_t)len;
	return GOT;
}

static ssize_t deliver(ipk__stream *s, ipk__rx *rx)
{
	int err = 0;
	void *dst = ipk__rx_reserve(rx, (size_t)s->asm_total, &err);
	if (dst == NULL)
		return err; /* kept for the next call */
	memcpy(dst, s->asm_buf, (size_t)s->asm_total);
	s->asm_ready = false;
	if (s->asm_cap > (1u << 20)) { /* do not keep a large buffer idle */
		free(s->asm_buf);
		s->asm_buf = NULL;
		s->asm_cap = 0;
	}
	return (ssize_t)s->asm_total;
}

/* Is nobody writing a chunked message? (The lock is free.) */
static bool lock_free(const ipk__stream *s)
{
	if (s->lockfd < 0)
		return false;
	int rc;
	while ((rc = flock(s->lockfd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return false;
	flock(s->lockfd, LOCK_UN);
	return true;
}

/*
 * The usual receive, in short: nothing buffered, and the last message was a
 * small one. Read one unit of its size (what read_more() would ask for) and,
 * if it is one with the very header believed last time, deliver it (what
 * parse() would do). GOT with its length in *got; anything else leaves
 * what was read buffered for the general path (a negative errno for a
 * failed read, 0 when the pipe was empty or the writers gone, NEED_MORE
 * otherwise).
 */
static int recv_quick(ipk__stream *s, ipk__rx *rx, int64_t deadline,
                      size_t *got)
{
	size_t len = (size_t)s->rx_hdr[2] << 8 | s->rx_hdr[3];
	bool block = deadline == IPK__NEVER && s->rfd_block >= 0;
	ssize_t n = read(block ? s->rfd_block : s->rfd, s->in, SHDR + len);
	if (n == (ssize_t)(SHDR + len) && memcmp(s->in, s->rx_hdr, SHDR) == 0 &&
	    len <= s->maxmsg && len <= rx->cap && len <= rx->maxmsg &&
	    rx->buf != NULL) {
		memcpy(rx->buf, s->in + SHDR, len);
		s->in_off = s->in_len = 0;
		*got = len;
		return GOT;
	}
	if (n > 0) {
		s->in_off = 0;
		s->in_len = (size_t)n;
		return NEED_MORE;
	}
	if (n == 0) {
		s->eof = true;
		return 0;
	}
	if (errno == EINTR)
		return NEED_MORE; /* (the loop reads again) */
	if (errno == EAGAIN)
		return 0;
	return ipk__errno(-errno, "read");
}

ssize_t ipk__fifo_recv(ipk__stream *s, ipk__rx *rx, int64_t deadline)
{
	/* the lock was seen free with this message under way: whatever its
	   writer sent is in the pipe since */
	uint64_t armed_tag = 0;
	bool armed = false;
	bool dry = false; /* the pipe was empty: what is buffered is all sent */
	if (s->in_off == s->in_len && s->in != NULL && !s->asm_ready &&
	    !s->asm_on && s->jn == 0 && !s->eof && s->rx_hdr[1] == SMARK &&
	    s->rd_unit == SHDR + ((size_t)s->rx_hdr[2] << 8 | s->rx_hdr[3])) {
		size_t got = 0;
		int r = recv_quick(s, rx, deadline, &got);
		if (r == GOT)
			return (ssize_t)got;
		if (r < 0)
			return r;
		dry = r == 0; /* as read_more() returning 0 or -EPIPE */
	}
	for (;;) {
		if (s->asm_ready)
			return deliver(s, rx);
		size_t got = 0;
		int r = parse(s, rx, &got);
		if (r == GOT)
			return (ssize_t)got;
		if (r < 0)
			return r;
		if (r == AGAIN)
			continue;
		/* NEED_MORE. At a message boundary with nothing buffered and no
		   limit, wait in read itself: nothing needs checking meanwhile */
		if (!dry) {
			bool block = deadline == IPK__NEVER && s->rfd_block >= 0 &&
			             s->in_len == s->in_off && !s->asm_on && !s->eof;
			ssize_t n = read_more(s, block);
			if (n > 0)
				continue;
			if (n < 0 && n != -EPIPE)
				return n;
			dry = true;
		}
		/* the pipe is empty: a unit begun is not coming (each is one
		   write), so what seems to begin one here is foreign; drop it up
		   to the next place a unit may begin and look again (a message
		   may follow) */
		if (s->in_len > s->in_off) {
			eat(s, foreign_len(s));
			continue;
		}
		/* a run of foreign bytes ends with what was written */
		if (s->jn > 0)
			return report(s);
		/* and a chunked message whose writer is not writing is dead */
		dry = false;
		if (s->asm_on && s->eof)
			return torn(s);
		if (s->asm_on && armed && armed_tag == s->asm_tag &&
		    s->in_len == s->in_off)
			return torn(s);
		armed = false;
		if (s->asm_on && lock_free(s)) {
			armed = true;
			armed_tag = s->asm_tag;
			continue; /* read what it sent before letting go */
		}
		if (s->eof)
			return ipk__err(-EPIPE, "peer closed the channel");
		int64_t until = deadline;
		if (s->asm_on && deadline != IPK__NOW) {
			int64_t slice = ipk__now_ns() + SLICE_NS;
			if (slice < until)
				until = slice;
		}
		int rc = ipk__wait_fd(s->rfd, POLLIN, until);
		if (rc < 0 && (until == deadline || ipk__expired(deadline)))
			return rc;
	}
}

int ipk__fifo_pending(const ipk__stream *s)
{
	if (s->asm_ready || s->jn > 0)
		return 1; /* (foreign bytes: a receive reports them) */
	/* walk what is buffered: would a receive end without reading more? */
	size_t off = s->in_off;
	bool on = s->asm_on;
	uint64_t got = s->asm_got, total = s->asm_total;
	uint32_t tag = s->asm_tag;
	while (off < s->in_len) {
		const unsigned char *p = s->in + off;
		size_t avail = s->in_len - off, size = 0;
		/* a message, an error, or foreign bytes once read */
		if (p[0] != MAGIC || unit_at(p, avail, &size) != UNIT_HERE ||
		    avail < size)
			return 1;
		size_t n = size - CHDR;
		uint32_t t = get_be32(p + 4);
		if (p[1] & FIRST) {
			if (on)
				return 1; /* the one under way is reported */
			on = true;
			tag = t;
			total = ipk__get_be64(p + 8);
			got = 0;
		} else if (!on || t != tag) {
			return 1;
		}
		got += n;
		if (got >= total)
			return 1;
		off += CHDR + n;
	}
	return 0;
}

void ipk__fifo_free(ipk__stream *s)
{
	free(s->asm_buf);
	s->asm_buf = NULL;
	s->asm_cap = 0;
	s->asm_on = s->asm_ready = false;
}
