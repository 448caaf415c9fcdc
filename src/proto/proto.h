/*
 * The protocol layer: messaging patterns between the channel API and the
 * transports (docs/patterns.md draws it).
 *
 *   chan.c      the public calls; every channel has a protocol
 *     |
 *   protocols   pair.c req.c rep.c push.c pull.c: each an ops table that
 *     |         speaks in pipes (a message came from pipe P, send this on
 *     |         pipe P) and knows nothing of mechanisms
 *   sock.c      a socket: its pipes, its scratch buffers, the glue
 *     |
 *   carriers    how a kind of transport yields pipes: conn.c (a pipe per
 *     |         connection: unix:, tcp:), mbox.c (the mailbox is the pipe:
 *     |         pipelines on queues, FIFOs, rings), back.c (request/reply
 *     |         over mailboxes: a pipe per client with its way back)
 *   transports  src/transport: move bytes, know nothing of protocols
 *
 * PAIR is the protocol of every channel without ?proto=: its ops hand each
 * call straight to the transport, so a plain channel costs what it did.
 */
#ifndef IPK_PROTO_H
#define IPK_PROTO_H

#include "../core/internal.h"

#include <string.h>
#include <time.h>

struct ipk__sock;
struct ipk__pipe;

/* What a protocol does with messages (ipk__proto.caps). */
#define IPK__P_SEND 0x1u   /* it sends */
#define IPK__P_RECV 0x2u   /* it receives */
#define IPK__P_REPLY 0x4u  /* request/reply: replies need a way back */
#define IPK__P_SERVER 0x8u /* on a mailbox it owns the mailbox (listens) */
#define IPK__P_BCAST 0x10u /* one to many: on shared memory a broadcast
                              ring (pub.c, sub.c, cast.c) */

struct ipk__proto {
	const char *name;           /* "req", as in ?proto= */
	const char *peer;           /* the protocol it talks to: "rep" */
	uint16_t sp_self, sp_peer;  /* SP protocol numbers (unix:, tcp:) */
	unsigned caps;              /* IPK__P_* */
	const char *const *options; /* its own query keys, NULL-terminated */

	/* ---- channel entry points; PAIR's go straight to the transport,
	   the others are sock.c's (IPK__SOCK_ENTRY below) */
	int (*listen)(ipk_chan *c);
	int (*dial)(ipk_chan *c, int64_t deadline);
	ssize_t (*send)(ipk_chan *c, const void *buf, size_t len,
	                const ipk_msginfo *info, int64_t deadline);
	ssize_t (*recv)(ipk_chan *c, ipk__rx *rx, int64_t deadline);
	int (*fd)(const ipk_chan *c);
	int (*pending)(const ipk_chan *c);
	ssize_t (*address)(const ipk_chan *c, char *buf, size_t cap);
	int (*close)(ipk_chan *c);

	/* ---- a socket's protocol, called by sock.c */
	size_t priv_size;     /* state per socket (ipk__sock.priv) */
	int (*init)(struct ipk__sock *s);
	void (*fini)(struct ipk__sock *s);
	/* a pipe came or went (the carrier's doing); may be NULL */
	void (*pipe_added)(struct ipk__sock *s, struct ipk__pipe *p);
	void (*pipe_removed)(struct ipk__sock *s, struct ipk__pipe *p);
	ssize_t (*sock_send)(struct ipk__sock *s, const void *buf, size_t len,
	                     const ipk_msginfo *info, int64_t deadline);
	ssize_t (*sock_recv)(struct ipk__sock *s, ipk__rx *rx, int64_t deadline);
	/* extra readiness for ipk_poll (REQ: a resend is due); may be NULL */
	int (*sock_pending)(const struct ipk__sock *s);
};

/* The protocols, by ?proto= name (proto_table.c). */
const struct ipk__proto *ipk__proto_find(const char *name);
extern const struct ipk__proto ipk__proto_pair;
/* 1 if key is a query option of some protocol ("proto", "resend"...). */
bool ipk__proto_option(const char *key);
/* The protocol named by ?proto= (PAIR without it), or -EINVAL. Checks that
   no other protocol's options are given. */
int ipk__proto_choose(ipk__url *u, const struct ipk__proto **out);

/* One connection, or one peer of a mailbox, of a socket. */
struct ipk__pipe {
	struct ipk__sock *s;
	uint32_t id;     /* 1..2^31-1, unique in the socket (SP hop words) */
	ipk_chan *ch;    /* its transport channel, where it has one */
	void *car;       /* the carrier's per-pipe state */
	int index;       /* in s->pipes */
	bool dead;       /* removed: let go after the current call */
	uint64_t pdata;  /* for the protocol */
};

struct ipk__carrier;

/* A REQ/REP/PUSH/PULL channel's state (ipk_chan.sock). */
struct ipk__sock {
	ipk_chan *c;                 /* the user's channel */
	const struct ipk__proto *proto;
	const struct ipk__carrier *car;
	void *car_state;
	void *priv;                  /* the protocol's state */
	uint32_t cookie;             /* routes name their socket */
	bool listening;              /* made by ipk_listen */
	struct ipk__pipe **pipes;
	int npipes, pipecap;
	uint32_t next_id;
	int rr;                      /* round-robin cursor for sends */
	int64_t wait_hint;           /* how long the protocol usually waits for
	                                a message (REQ: its resend interval) */
	int epfd;                    /* everything that can wake the socket */
	int timerfd;                 /* the protocol's timer, in epfd */
	int64_t timer_at;
	int64_t car_timer_at;        /* the carrier's (a dialer's next dial) */
	/* scratch: a received message with its protocol header */
	unsigned char *in;
	size_t incap;
	/* scratch: a message being sent with its header */
	unsigned char *out;
	size_t outcap;
	/* the message taken last: in s->in, or in place in a ring (peeked) */
	const unsigned char *msg;
	size_t msg_len;
	bool peeked;
	/* ...delivered, but still lent (the carrier's lazy_release): given
	   back on the next take, readiness check or close */
	bool spent;
	bool fd_given;               /* ipk_fd was asked: somebody polls it, so
	                                nothing stays lent (readiness) */
	/* ...refused by a too-small user buffer: it is taken again */
	bool held;
	struct ipk__pipe *held_from;
};

/* How a kind of transport gives a socket its pipes. */
struct ipk__carrier {
	const char *name;
	/* listen or dial (s->listening says which); register fds in s->epfd */
	int (*start)(struct ipk__sock *s, int64_t deadline);
	void (*stop)(struct ipk__sock *s);
	/* the next message from any pipe, in place where the mechanism lends
	   its memory (*msg stays valid until release); -EOPNOTSUPP: use recv.
	   Both may be NULL */
	ssize_t (*peek)(struct ipk__sock *s, const unsigned char **msg,
	                struct ipk__pipe **from, int64_t deadline);
	void (*release)(struct ipk__sock *s);
	/* the next message from any pipe, into rx; *from is its pipe */
	ssize_t (*recv)(struct ipk__sock *s, ipk__rx *rx, struct ipk__pipe **from,
	                int64_t deadline);
	/* one message on one pipe (deadline IPK__NOW: only if it goes at once;
	   on a stream "at once" may be its first bytes, the rest kept) */
	ssize_t (*send)(struct ipk__sock *s, struct ipk__pipe *p, const void *buf,
	                size_t len, int64_t deadline);
	/* as send, for a message of two parts (a protocol header, then the
	   body), written where it goes without being put together first (a
	   ring's memory). May be NULL: see ipk__sock_send2 */
	ssize_t (*send2)(struct ipk__sock *s, struct ipk__pipe *p,
	                 const void *hdr, size_t hl, const void *body, size_t bl,
	                 int64_t deadline);
	/* write out what a send kept of its message, until the deadline (may
	   be NULL: nothing is ever kept) */
	int (*flush)(struct ipk__sock *s, struct ipk__pipe *p, int64_t deadline);
	/* take in pipes that came meanwhile (cheap when called often; may be
	   NULL): sends look at every peer, not only the ones first there */
	void (*refresh)(struct ipk__sock *s);
	/* wait until a pipe may take a message, a pipe comes, or the deadline */
	int (*wait_send)(struct ipk__sock *s, int64_t deadline);
	/* a message is buffered in user space */
	int (*pending)(const struct ipk__sock *s);
	/* a pipe is going: release what the carrier keeps for it (p->car is
	   freed after); may be NULL */
	void (*pipe_gone)(struct ipk__sock *s, struct ipk__pipe *p);
	/* the protocol heard nothing for long (REQ's resend is due): check
	   that the way to the peer still leads somewhere (may be NULL) */
	void (*lost)(struct ipk__sock *s);
	/* the socket's pollable fd, when it is not s->epfd (may be NULL) */
	int (*fd)(const struct ipk__sock *s);
	ssize_t (*address)(const struct ipk__sock *s, char *buf, size_t cap);
	/* header bytes the carrier may prepend itself (room kept in s->out) */
	size_t headroom;
	/* one pipe whose send waits by itself: no trying round the pipes */
	bool direct;
	/* a message read in place is given back on the next take rather than
	   as it is delivered: the release (a section on an MPMC ring) then
	   runs while the peer works on the reply, not before ours is sent */
	bool lazy_release;
};

extern const struct ipk__carrier ipk__carrier_conn;
extern const struct ipk__carrier ipk__carrier_mbox;

/* A mailbox's receive answered n: did its transport drop what it read
   (bytes that are no message, a plain program's in a FIFO; on a FIFO, a
   message over the limit)? Then it is reported and the receiver goes on:
   1, or the timeout error once the deadline has passed (`what` names the
   message it waits for). 0: nothing was dropped. (mbox.c) */
int ipk__mbox_dropped(const struct ipk__sock *s, const ipk_chan *box,
                      ssize_t n, const char *what, int64_t deadline);
extern const struct ipk__carrier ipk__carrier_back;
extern const struct ipk__carrier ipk__carrier_cast;

/* sock.c: the channel entry points of every socket protocol */
int ipk__sock_listen(ipk_chan *c);
int ipk__sock_dial(ipk_chan *c, int64_t deadline);
ssize_t ipk__sock_send(ipk_chan *c, const void *buf, size_t len,
                       const ipk_msginfo *info, int64_t deadline);
ssize_t ipk__sock_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline);
int ipk__sock_fd(const ipk_chan *c);
int ipk__sock_pending(const ipk_chan *c);
ssize_t ipk__sock_address(const ipk_chan *c, char *buf, size_t cap);
int ipk__sock_close(ipk_chan *c);
/* ipk_flush: what every pipe's channel keeps queued */
int ipk__sock_flush(ipk_chan *c, int64_t deadline);

#define IPK__SOCK_ENTRY                \
	.listen = ipk__sock_listen,        \
	.dial = ipk__sock_dial,            \
	.send = ipk__sock_send,            \
	.recv = ipk__sock_recv,            \
	.fd = ipk__sock_fd,                \
	.pending = ipk__sock_pending,      \
	.address = ipk__sock_address,      \
	.close = ipk__sock_close

/* sock.c: services for protocols and carriers */
/* Make a pipe (the carrier then fills ch/car) and tell the protocol. */
struct ipk__pipe *ipk__pipe_new(struct ipk__sock *s, ipk_chan *ch);
/* The pipe has gone: tell the protocol, close its channel, free it. */
void ipk__pipe_remove(struct ipk__sock *s, struct ipk__pipe *p);
struct ipk__pipe *ipk__pipe_find(const struct ipk__sock *s, uint32_t id);
/* Room for n bytes in the send scratch (after the carrier's headroom). */
unsigned char *ipk__sock_outbuf_grow(struct ipk__sock *s, size_t n);
static inline unsigned char *ipk__sock_outbuf(struct ipk__sock *s, size_t n)
{
	size_t room = s->car->headroom;
	if (__builtin_expect(room + n <= s->outcap, 1))
		return s->out + room;
	return ipk__sock_outbuf_grow(s, n);
}
/* A message of a header and a body on one pipe: the carrier's send2, or
   put together in the send scratch for its send. */
ssize_t ipk__sock_send2(struct ipk__sock *s, struct ipk__pipe *p,
                        const void *hdr, size_t hl, const void *body,
                        size_t bl, int64_t deadline);

/* A copy of n bytes (a multiple of 4: an SP header) a word at a time.
   Headers are read back soon after they are written (a route, then a
   reply's header): a read that spans several smaller writes still on
   their way to the cache waits for them all, one of the same size does
   not. */
static inline void ipk__copy_words(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	for (size_t i = 0; i + 4 <= n; i += 4)
		memcpy(d + i, s + i, 4);
}

/* A copy of a few bytes or lines, inline: for a message of a line or two
   a call into the C library's general copy costs about as much as the
   copy itself, and a round trip on a ring makes several. dst and src do
   not overlap. */
static inline void ipk__copy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (n > 128) {
		memcpy(d, s, n);
	} else if (n >= 16) {
		size_t i = 0;
		for (; i + 16 <= n; i += 16)
			memcpy(d + i, s + i, 16);
		if (i < n)
			memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}
/* Take the next message with its header: s->msg, its length returned. */
ssize_t ipk__sock_take(struct ipk__sock *s, struct ipk__pipe **from,
                       int64_t deadline);
/* Throw the message taken away (not for the caller: not ours, malformed). */
void ipk__sock_drop(struct ipk__sock *s);
/* Deliver len bytes at body (inside s->msg) to the user's rx and let the
   message go, or hold it back when the user's buffer is too small. */
ssize_t ipk__sock_deliver(struct ipk__sock *s, ipk__rx *rx,
                          const unsigned char *body, size_t len,
                          struct ipk__pipe *from);
/* Send buf on some pipe that takes it at once, round-robin from s->rr,
   waiting (for room or for a peer) until the deadline. *on: the pipe. */
ssize_t ipk__sock_send_rr(struct ipk__sock *s, const void *buf, size_t len,
                          struct ipk__pipe **on, int64_t deadline);
static inline ssize_t ipk__sock_send_any(struct ipk__sock *s, const void *buf,
                                         size_t len, struct ipk__pipe **on,
                                         int64_t deadline)
{
	/* one pipe whose send waits by itself (a mailbox): straight there */
	if (s->car->direct && s->npipes == 1 && s->car->refresh == NULL) {
		if (on)
			*on = s->pipes[0];
		return s->car->send(s, s->pipes[0], buf, len, deadline);
	}
	return ipk__sock_send_rr(s, buf, len, on, deadline);
}
/* The protocol's timer: when it is due, ipk_fd() is readable (only a
   socket whose fd was asked for has a timerfd to arm). */
void ipk__sock_arm(struct ipk__sock *s);
static inline void ipk__sock_timer(struct ipk__sock *s, int64_t at)
{
	s->timer_at = at;
	if (s->timerfd >= 0)
		ipk__sock_arm(s);
}
/* The carrier's timer, beside the protocol's (the fd wakes at the first). */
void ipk__sock_car_timer(struct ipk__sock *s, int64_t at);
/* Make the timerfd (in s->epfd) that ipk_fd() of the socket includes. */
int ipk__sock_timerfd(struct ipk__sock *s);
/* epoll tags: what woke the socket */
#define IPK__EV_TIMER 1u
#define IPK__EV_LISTENER 2u
#define IPK__EV_PIPE 3u
#define IPK__EV_OTHER 4u
static inline uint64_t ipk__ev(unsigned kind, uint32_t id)
{
	return (uint64_t)kind << 32 | id;
}
int ipk__sock_watch(struct ipk__sock *s, int fd, uint64_t tag, uint32_t events);
void ipk__sock_unwatch(struct ipk__sock *s, int fd);

/* A clock for timers counted in milliseconds (resends, sweeps): a few ns
   to read, a tick (1-4 ms) coarse, never ahead of ipk__now_ns(). */
static inline int64_t ipk__coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline uint32_t ipk__get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	       p[3];
}
static inline void ipk__put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The SP request/reply header (a backtrace of 32-bit words, the last one
   with the high bit set: the request ID). These decoders read hostile
   bytes (fuzzed by tests/fuzz/fuzz_proto.c); they are inline because
   they stand on every request's and reply's path. */
#define IPK__SP_MAXHOPS 12

/* Length of the backtrace at the front of msg, or 0 if malformed. */
static inline size_t ipk__sp_backtrace(const unsigned char *msg, size_t len)
{
	/* hop words (pipe IDs of devices, ours) until the request ID, the
	   first word with the high bit set; too many hops is a loop */
	for (size_t off = 0; off + 4 <= len && off < 4 * IPK__SP_MAXHOPS;
	     off += 4)
		if (msg[off] & 0x80)
			return off + 4;
	return 0;
}

/*
 * A hop word ipckit's REQ puts before the request ID: an SP peer echoes it
 * like any hop, and ipckit's REP answers in it with the reply's status
 * (ipk_msginfo.status). Hop words have the high bit clear.
 */
#define IPK__SP_ASK_STATUS 0x49500000u
#define IPK__SP_STATUS 0x49508000u
#define IPK__SP_STATUS_MASK 0xffff8000u

/* A reply to ipckit's REQ: the header's length (the body follows), its
   request ID and the status (-1: none), or 0 if it is no such reply. */
static inline size_t ipk__sp_reply(const unsigned char *m, size_t len,
                                   uint32_t *id, int *status)
{
	/* ipckit's REQ sends one hop word before the ID; the reply holds it
	   back unchanged (status asked, none given) or with the status */
	size_t off = 0;
	*status = -1;
	if (len >= 4 && !(m[0] & 0x80)) {
		uint32_t w = ipk__get32(m);
		if ((w & IPK__SP_STATUS_MASK) == IPK__SP_STATUS)
			*status = (int)(w & 0x7fff);
		else if (w != IPK__SP_ASK_STATUS)
			return 0; /* hops we never sent */
		off = 4;
	}
	if (len < off + 4 || !(m[off] & 0x80))
		return 0;
	*id = ipk__get32(m + off);
	return off + 4;
}

/* The 12-byte header a mailbox client puts before what it sends (back.c,
   docs/patterns.md): C5, its kind ('Q' request, 'B' bye), version 1, 0,
   its pid and a nonce (big-endian). */
#define IPK__BACK_HDR 12
#define IPK__BACK_MAGIC 0xc5
#define IPK__BACK_VERSION 1
/* 0 with its kind, pid and nonce, or -1 if m starts with no such header. */
static inline int ipk__back_header(const unsigned char *m, size_t len,
                                   char *kind, uint32_t *pid,
                                   uint32_t *nonce)
{
	if (len < IPK__BACK_HDR || m[0] != IPK__BACK_MAGIC ||
	    m[2] != IPK__BACK_VERSION || m[3] != 0 ||
	    (m[1] != 'Q' && m[1] != 'B'))
		return -1;
	*kind = (char)m[1];
	*pid = ipk__get32(m + 4);
	*nonce = ipk__get32(m + 8);
	return 0;
}

/* What ipk_msginfo.route holds (opaque to users). */
struct ipk__route {
	uint32_t cookie;  /* the socket */
	uint32_t pipe;    /* 0: no route */
	uint32_t len;     /* bytes of header */
	uint32_t pad;
	unsigned char hdr[4 * IPK__SP_MAXHOPS];
};
_Static_assert(sizeof(struct ipk__route) <= sizeof(ipk_route),
               "ipk_route is too small for a route");

#endif
