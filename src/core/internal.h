/* Internal interfaces shared by the core and the transports. */
#ifndef IPK_INTERNAL_H
#define IPK_INTERNAL_H

#include "ipckit.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IPK__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- errors */

/* Record a detailed message for ipk_last_error() and return err (< 0). */
int ipk__err(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, with the errno text appended: "<message>: <strerror>". */
int ipk__errno(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Pass a warning to the program's handler (ipk_set_warn_handler), if any. */
void ipk__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------- deadlines */

/*
 * A deadline is an absolute CLOCK_MONOTONIC time in nanoseconds.
 * IPK__NOW (0) means "do not block": the first wait fails with -EAGAIN.
 * IPK__NEVER means no limit. Anything else expires with -ETIMEDOUT.
 */
#define IPK__NOW ((int64_t)0)
#define IPK__NEVER INT64_MAX

int64_t ipk__now_ns(void);
int64_t ipk__deadline_in(int timeout_ms);
/* (inline: most calls wait forever or not at all, and read no clock) */
static inline int64_t ipk__deadline(int timeout_ms)
{
	return timeout_ms < 0 ? IPK__NEVER
	       : timeout_ms == 0 ? IPK__NOW
	                         : ipk__deadline_in(timeout_ms);
}
/* Milliseconds left for poll(2): -1 forever, 0 expired/now, else >= 1. */
int ipk__remaining_ms(int64_t deadline);
bool ipk__expired(int64_t deadline);
/* -EAGAIN for IPK__NOW, -ETIMEDOUT otherwise. */
int ipk__timeout_err(int64_t deadline);
/* Fill ts with the deadline as an absolute CLOCK_MONOTONIC/REALTIME time. */
struct timespec;
void ipk__deadline_timespec(int64_t deadline, int clock, struct timespec *ts);

/*
 * Wait until fd has one of events (POLLIN/POLLOUT). POLLHUP/POLLERR count as
 * ready: the following call reports what happened. Returns 0 or a timeout.
 */
int ipk__wait_fd(int fd, short events, int64_t deadline);
/* The same for n descriptors at once: 0 as soon as any of them is ready. */
struct pollfd;
int ipk__wait_pollfds(struct pollfd *pf, unsigned n, int64_t deadline);

/* Sleep a short, growing time when waiting on something without an fd. */
int ipk__backoff(unsigned *round, int64_t deadline);
/* Sleep ns, never past the deadline (EINTR resumes): the step of a backoff. */
void ipk__nap(int64_t ns, int64_t deadline);

/* ------------------------------------------------------------ addresses */

struct ipk__opt {
	char *key;
	char *val; /* NULL for a bare flag ("?raw") */
	bool used;
};

#define IPK__MAX_OPTS 16

typedef struct ipk__url {
	char *text;   /* the whole address as given */
	char *scheme; /* "fifo" */
	char *rest;   /* after "scheme:" or "scheme://", before '?' */
	char *host;   /* tcp: host without brackets */
	char *port;   /* tcp: port text */
	struct ipk__opt opts[IPK__MAX_OPTS];
	int nopts;
	char *buf; /* owns scheme/rest/host/port/opts */
} ipk__url;

int ipk__url_parse(ipk__url *u, const char *text);
void ipk__url_free(ipk__url *u);
/* A name in an address: '?', '#' and '%' written as %3F, %23, %25 so that
   the address parses back to the same name (ls prints these, a pattern
   derives its per-client mailboxes' addresses). -ENAMETOOLONG if it does
   not fit: out then names nothing (it does not parse). */
int ipk__url_escape(char *out, size_t cap, const char *prefix,
                    const char *name, const char *suffix);
/* Decode %XX in place; -EINVAL for %00. */
int ipk__url_unescape(char *s);
/* Split rest as "host:port" / "[v6]:port" into u->host and u->port. */
int ipk__url_hostport(ipk__url *u);

/* Option accessors: mark the option used; return 1 if present, 0 if absent,
 * or a negative errno (with a message naming the option) if malformed. */
int ipk__opt_flag(ipk__url *u, const char *key, bool *out);
int ipk__opt_size(ipk__url *u, const char *key, size_t *out);
int ipk__opt_long(ipk__url *u, const char *key, long min, long max, long *out);
int ipk__opt_mode(ipk__url *u, const char *key, unsigned *out);
int ipk__opt_str(ipk__url *u, const char *key, const char **out);
/* The option key (marked used), for one whose value may be left out
   ("?batch" or "?batch=64K"); NULL if absent. */
struct ipk__opt *ipk__opt_find(ipk__url *u, const char *key);
/* Parse "64K", "16M", "1G", "123" into bytes. */
int ipk__parse_size(const char *s, size_t *out);

/* -------------------------------------------------------- receive buffer */

/* Where a transport puts a received message. */
typedef struct ipk__rx {
	void *buf;
	size_t cap;
	size_t len;
	bool alloc;         /* buf may be (re)allocated up to the channel limit */
	ipk_msginfo *info;  /* never NULL inside transports */
	size_t maxmsg;
	/* descriptors with the message (unix:): where they go (NULL: they are
	   closed), room there, how many came */
	int *fds;
	size_t fdcap, nfds;
	/* ipk_recv_peek: a large message may be mapped instead (buf is then
	   the read-only mapping of the sealed memfd map_fd) */
	bool peek, mapped;
	int map_fd;
} ipk__rx;

/*
 * Make room for a message of n bytes: returns the buffer, or NULL with *err
 * set to -ENOBUFS (caller's buffer too small: keep the message queued),
 * -EMSGSIZE (beyond the channel limit) or -ENOMEM.
 */
void *ipk__rx_reserve(ipk__rx *rx, size_t n, int *err);

/* ----------------------------------------------------------- channels */

enum ipk__role {
	IPK__LISTENER = 1, /* bound endpoint with connections to accept */
	IPK__OWNER,        /* created the object and uses it as a channel */
	IPK__DIALER,
	IPK__ACCEPTED,
	IPK__PAIRED,
	IPK__SPAWNED,
	IPK__SOCKET,       /* a protocol socket (src/proto) with its own pipes */
};

struct ipk_transport;
struct ipk__proto;
struct iovec;
struct ipk__sock;

struct ipk_chan {
	const struct ipk_transport *tp;
	ipk__url url;
	enum ipk__role role;
	size_t maxmsg;
	unsigned mode;   /* permission bits for created objects */
	bool raw;        /* no framing on stream transports */
	bool persist;    /* keep the named object on close */
	int linger_ms;   /* how long close flushes pending bytes */
	pid_t creator;   /* process that created the named object */
	uint16_t sp_self, sp_peer; /* SP protocol numbers a stream socket
	                              announces and accepts (PAIR v0 unless
	                              the protocol layer says otherwise) */
	bool sp_lazy;    /* dial: do not wait for the peer's SP header; check
	                    it when the first message arrives */
	const struct ipk__proto *proto; /* messaging pattern; never NULL */
	struct ipk__sock *sock;  /* a protocol socket's state, else NULL */
	_Alignas(max_align_t) unsigned char priv[]; /* transport state */
};

/*
 * Should close remove the named object? Only in the process that created it
 * (a child that inherited the channel across fork just lets go) and only
 * without ?persist.
 */
bool ipk__removes_on_close(const ipk_chan *c);

static inline void *ipk__priv(const ipk_chan *c)
{
	return (void *)c->priv;
}

/*
 * One mechanism. Every op is optional: a missing one answers -EOPNOTSUPP
 * with a message naming the scheme. Deadlines as above.
 */
struct ipk_transport {
	const char *scheme;
	const char *summary;         /* one line for help and listings */
	const char *const *options;  /* query keys it accepts beyond the common
	                                ones, NULL-terminated (may be NULL) */
	size_t priv_size;
	bool streams;                /* accepts ?raw (byte-stream mechanism) */
	const char *no_proto;        /* why only PAIR can run here, or NULL */

	int (*listen)(ipk_chan *c);
	int (*dial)(ipk_chan *c, int64_t deadline);
	int (*accept)(ipk_chan *l, ipk_chan *c, int64_t deadline);
	int (*pair)(ipk_chan *a, ipk_chan *b);
	ssize_t (*send)(ipk_chan *c, const void *buf, size_t len,
	                const ipk_msginfo *info, int64_t deadline);
	ssize_t (*recv)(ipk_chan *c, ipk__rx *rx, int64_t deadline);
	/* several whole messages (ipk_send_many): how many went; NULL: the
	   channel sends them one by one */
	ssize_t (*send_many)(ipk_chan *c, const struct iovec *msgs, size_t n,
	                     int64_t deadline);
	/* write what the channel keeps queued (ipk_flush); NULL: nothing is */
	int (*flush)(ipk_chan *c, int64_t deadline);
	/* a message with descriptors (ipk_send_fds); NULL: none pass here */
	ssize_t (*send_fds)(ipk_chan *c, const void *buf, size_t len,
	                    const int *fds, size_t nfds, int64_t deadline);
	/* lend the next message in place (ipk_recv_peek), give it back */
	ssize_t (*peek)(ipk_chan *c, const void **buf, int64_t deadline);
	int (*release)(ipk_chan *c);
	int (*fd)(const ipk_chan *c);
	/* 1 if a message is buffered in user space (ipk_poll must not sleep). */
	int (*pending)(const ipk_chan *c);
	int (*shutdown)(ipk_chan *c);
	ssize_t (*address)(const ipk_chan *c, char *buf, size_t cap);
	/* Release everything; flush within c->linger_ms; return first error. */
	int (*close)(ipk_chan *c);
	int (*remove)(ipk__url *u);
};

/* Registry: NULL with *known=true for a scheme that is known but not built. */
const struct ipk_transport *ipk__lookup(const char *scheme, bool *known);
/* -EPROTONOSUPPORT / -EINVAL with the right message for an unusable scheme. */
int ipk__scheme_error(const char *scheme, bool known);

/*
 * ipk_remove's check (src/objects): < 0 refuses (wrong kind, or in use
 * without IPK_REMOVE_FORCE); 0 lets the transport remove it, or, with *done,
 * it was removed here (addresses only the inventory knows, "sysvshm:@ID";
 * FIFOs, socket files and mmap: rings, unlinked in the directory they were
 * checked in: src/core/safepath.h).
 * Takes ?region out of u.
 */
int ipk__objects_remove(ipk__url *u, int flags, bool *done);
/* The options of u that its transport does not know: -EINVAL. */
int ipk__check_url_options(const ipk__url *u);

/* Allocate a channel for transport tp with url copied from src (may be NULL). */
ipk_chan *ipk__chan_new(const struct ipk_transport *tp, const ipk__url *src);
void ipk__chan_free(ipk_chan *c);

/* SIGPIPE: set to SIG_IGN once if it is still SIG_DFL. */
void ipk__ignore_sigpipe(void);

/* fcntl helpers */
int ipk__set_nonblock(int fd);
int ipk__set_cloexec(int fd);

/* ------------------------------------------------- byte-stream framing */

enum ipk__framing {
	IPK__FRAME_RAW,   /* no framing: each receive returns what is there */
	IPK__FRAME_LEN64, /* u64 big-endian length, then payload (SP over TCP) */
	IPK__FRAME_SPIPC, /* 0x01, u64 big-endian length, payload (SP over IPC) */
	IPK__FRAME_FIFO,  /* many writers, each write atomic: LEN64 frames of at
	                     most PIPE_BUF bytes, larger messages in chunks that
	                     other writers' frames may come between (stream.c) */
};

/* State of one framed byte stream over one or two fds. */
typedef struct ipk__stream {
	int rfd, wfd;          /* may be equal; -1 when closed */
	enum ipk__framing framing;
	bool sock;             /* use send(MSG_NOSIGNAL) */
	bool percall;          /* fds block; "don't wait" is said per call */
	bool ktimeo;           /* the socket has a receive timeout (SO_RCVTIMEO):
	                          a blocking read that gives up has timed out */
	bool eof;              /* peer closed its sending side */
	bool broken;           /* framing lost (oversize, bad type): refuse I/O */
	size_t maxmsg;
	/* receive: read-ahead buffer, current message length and progress,
	   payload staged in part when a wait expired mid-message */
	unsigned char *in;
	size_t in_off, in_len;
	bool have_len;
	uint64_t len;
	size_t got;
	unsigned char *part;
	/* send: the rest of a message the kernel did not take before a timeout */
	unsigned char *backlog;
	size_t blen, boff;
	pid_t bpid; /* process whose send left the backlog */
	/* FIFO framing. Send: the chunked message whose unsent rest is the
	   backlog. Receive: the chunked message being put together, and where
	   to ask whether a writer is in the middle of one (flock, -1: nobody
	   can tell) */
	uint32_t ctag;
	uint64_t ctotal, coff;
	unsigned char *asm_buf;
	size_t asm_cap, asm_got;
	uint64_t asm_total;
	uint32_t asm_tag, skip_tag;
	bool asm_on, asm_ready, skipping;
	/* FIFO framing, receive: the run of foreign bytes being dropped,
	   reported when it ends (how many, the first ones, all text?) */
	bool jtext;
	size_t jn, jhl;
	unsigned char jhead[48];
	/* FIFO framing, receive: size of the last unit taken (0: none yet),
	   what the next read at a message boundary asks for */
	size_t rd_unit;
	/* FIFO framing: the last small-message header sent, and the last one
	   believed on receive (zeros: none), so that the same header again
	   needs no new check computed */
	unsigned char tx_hdr[8], rx_hdr[8];
	int lockfd;
	/* FIFO framing: blocking descriptions of the same FIFO (-1: none), for
	   calls without a timeout: one system call per wait instead of
	   read, EAGAIN, poll (a FIFO has no RWF_NOWAIT). Closed with the rest */
	int rfd_block, wfd_block;
	/* send batching (?batch, stream_batch.c); NULL when off */
	struct ipk__batch *batch;
	/* descriptors and large messages (unix:, stream_fds.c); NULL: none */
	struct ipk__fdio *fdio;
} ipk__stream;

/* What the descriptors are: it decides how "don't wait" is asked for. */
enum ipk__fdkind {
	IPK__FD_SOCK,  /* MSG_DONTWAIT per call */
	IPK__FD_PIPE,  /* anonymous pipe: RWF_NOWAIT per call where the kernel has it */
	IPK__FD_OTHER, /* FIFO, terminal: O_NONBLOCK, waits go through poll */
};

/* FIFO framing: a message of at most this many bytes is one write (PIPE_BUF
   with its 8-byte header), which the kernel keeps whole among writers */
#define IPK__FIFO_SMALL (4096 - 8)

void ipk__stream_init(ipk__stream *s, int rfd, int wfd,
                      enum ipk__framing framing, enum ipk__fdkind kind,
                      size_t maxmsg);
ssize_t ipk__stream_send(ipk__stream *s, const void *buf, size_t len,
                         int64_t deadline);
ssize_t ipk__stream_recv(ipk__stream *s, ipk__rx *rx, int64_t deadline);
int ipk__stream_flush(ipk__stream *s, int64_t deadline);
int ipk__stream_pending(const ipk__stream *s);
/* Flush within linger_ms, close both fds, free buffers. */
int ipk__stream_close(ipk__stream *s, int linger_ms);
/* Several whole messages in one call (ipk_send_many): how many went
   (a message is never cut), or an error if none did. */
struct iovec;
ssize_t ipk__stream_sendv(ipk__stream *s, const struct iovec *msgs, size_t n,
                          int64_t deadline);

/* Send batching (stream_batch.c): ?batch[=SIZE] and ?batchdelay=US of an
   address; 1 if batching is asked for, 0 if not, or an error. */
int ipk__batch_options(ipk__url *u, size_t *cap, int64_t *delay_ns);
/* Turn batching on for a stream of any framing but FIFO's. */
int ipk__stream_batch(ipk__stream *s, size_t cap, int64_t delay_ns);
/* Write what is queued (within the deadline) and stop batching: before
   the sending side is shut. */
int ipk__stream_unbatch(ipk__stream *s, int64_t deadline);
/* ipk_pair: batching on both new ends as the address asks. */
int ipk__pair_batch(ipk_chan *a, ipk__stream *sa, ipk__stream *sb);

/* Descriptors (unix:, stream_fds.c): ?large[=SIZE] of an address (1 if
   given, with the size; 0 if not; or an error). */
int ipk__fdio_options(ipk__url *u, size_t *large);
/* Receive descriptors with messages on a framed unix: stream; send
   messages of at least `large` bytes (0: never) as sealed memfds when the
   peer takes them (peer_large), and take them from the peer. */
int ipk__stream_fdio(ipk__stream *s, size_t large, bool peer_large);
void ipk__stream_fdio_free(ipk__stream *s);
/* The peer's SP header came (a lazy dial): did it say it takes them? */
void ipk__stream_fdio_peer(ipk__stream *s, bool peer_large);
ssize_t ipk__stream_send_fds(ipk__stream *s, const void *buf, size_t len,
                             const int *fds, size_t nfds, int64_t deadline);
ssize_t ipk__stream_peek(ipk__stream *s, const void **buf, int64_t deadline);
int ipk__stream_release(ipk__stream *s);
/* The SP header's marker of a peer that takes large messages: a new
   sealed empty memfd (or -1); and the check of one received. */
int ipk__large_marker(void);
bool ipk__large_is_marker(int fd);

/* SP protocol numbers (nanomsg scalability protocols, as nng numbers them). */
#define IPK__SP_PAIR0 0x10

#endif /* IPK_INTERNAL_H */
