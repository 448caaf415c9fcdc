/*
 * Descriptors on a unix: stream (SCM_RIGHTS) and large messages as sealed
 * memfds: shared by stream.c, stream_fds.c and stream_large.c only.
 *
 * The kernel hands descriptors over with the read that takes the first
 * byte of the write that carried them, and ends that read with the end of
 * that write's first buffer: a read may begin with the tail of earlier
 * messages, never goes on into a later write. So descriptors belong to
 * the last frame that begins inside the bytes of the read that brought
 * them; a sender attaches them to the first byte of its frame. Each batch
 * is kept with the stream offsets of its read until the frame that owns it
 * is parsed; descriptors no frame owns are closed.
 */
#ifndef IPK_CORE_STREAM_FDS_H
#define IPK_CORE_STREAM_FDS_H

#include "stream_priv.h"

#include <sys/types.h>

/* Most descriptors one message carries (the kernel's SCM_MAX_FD). */
#define IPK__MAXFDS 253

/* SP-over-IPC frame type of a large message: the payload is a 16-byte
   descriptor (u64 big-endian length, u64 zero) and the message's bytes
   are in the one sealed memfd attached. Sent only to a peer that said it
   takes them (its SP header came with a marker: sphs.c). */
#define IPK__FRAME_MEMFD 2
#define IPK__MEMFD_DESC 16

struct ipk__fdbatch {
	struct ipk__fdbatch *next;
	uint64_t start, end; /* stream bytes of the read that brought them */
	bool ctrunc;         /* the kernel dropped some (MSG_CTRUNC) */
	int n;
	int fd[];
};

struct ipk__fdio {
	uint64_t abs;                      /* bytes read so far */
	struct ipk__fdbatch *head, *tail;  /* received, owner not parsed yet */
	struct ipk__fdbatch *cur;          /* the message being read: its own */
	uint64_t fr_start, fr_end;         /* where that message lies */
	/* large messages */
	size_t large;      /* send messages of at least this many bytes as
	                      memfds (0: never) */
	bool accept_large; /* we said we take memfd frames */
	bool peer_large;   /* the peer said it does */
	bool frame_memfd;  /* the frame being read is one */
	unsigned char desc[IPK__MEMFD_DESC];
	int lm_fd;         /* a large message checked and ready (-1: none) */
	size_t lm_len;
	dev_t lm_dev;      /* its file (to find it among cached mappings) */
	ino_t lm_ino;
	/* ipk_recv_peek: the message lent to the caller */
	bool peeked;
	void *pk_buf;      /* mapping of lm memfd, or a malloc'd copy */
	size_t pk_len;
	int pk_fd;         /* the memfd behind a mapping (kept for forwarding) */
	dev_t pk_dev;
	ino_t pk_ino;
	/* the mapping of the last large message released, kept (it holds
	   its file) so that the same memfd coming back (a relay, an echo)
	   is lent again without mapping and faulting it in anew */
	void *c_buf;
	size_t c_len;
	dev_t c_dev;
	ino_t c_ino;
	struct ipk__fdio *pk_prev, *pk_next; /* mappings of this process */
};

/* stream_fds.c */
ssize_t ipk__fds_read(ipk__stream *s, void *buf, size_t len, bool dontwait);
/* A frame begins at stream offset at and ends at end: take its batch. */
void ipk__fds_claim(ipk__stream *s, uint64_t at, uint64_t end);
/* -ENOBUFS if the caller's room for descriptors is too small. */
int ipk__fds_check(ipk__stream *s, const ipk__rx *rx);
/* The message is complete: hand its descriptors over or close them. */
int ipk__fds_done(ipk__stream *s, ipk__rx *rx);
void ipk__fdbatch_close(struct ipk__fdbatch *b);
/* One write of iov with descriptors attached (SCM_RIGHTS), not waiting
   unless deadline is IPK__NEVER: ipk__stream_send_frame's first write. */
ssize_t ipk__fds_writev(ipk__stream *s, struct iovec *iov, int cnt,
                        const int *fds, size_t nfds, int64_t deadline);

/* stream_large.c */
ssize_t ipk__large_send(ipk__stream *s, const void *buf, size_t len,
                        int64_t deadline);
/* The memfd frame's descriptor was read: check its memfd, then deliver. */
ssize_t ipk__large_done(ipk__stream *s, ipk__rx *rx);
/* Deliver the ready large message into rx (mapped when rx->peek). */
ssize_t ipk__large_deliver(ipk__stream *s, ipk__rx *rx);
void ipk__large_free(struct ipk__fdio *f);

#endif
