/*
 * Request/reply over mailboxes: the REP side listens on the mailbox at the
 * address and every REQ side is a pipe of its own, with a way back that
 * depends on the mechanism (docs/patterns.md):
 *
 *   sysvmq:    one queue. Requests are type 1; each client receives only
 *              its own type, its pid (as the classic System V server and
 *              client do), so replies are sent with that type.
 *   unixgram:  one socket. A client's socket has an address of its own
 *              (autobind); replies are datagrams to it.
 *   mq:, fifo: each client makes a reply mailbox beside the server's,
 *              NAME.r<pid>.<nonce>, and removes it when it closes; the
 *              server opens it on the first reply, and removes it when it
 *              finds the client dead.
 *   shm:, mmap: each client has a ring pair: it makes NAME.r<pid>.<nonce>
 *              for replies and says hello through the server's ring (made
 *              ?mpmc); the server makes NAME.q<pid>.<nonce> for that
 *              client's requests. Each ring has one producer and one
 *              consumer, so clients never contend.
 *
 * What a client writes into a mailbox the server reads starts with a
 * 12-byte header: C5, a kind (Q request, H hello, B bye), version 1, 0,
 * the client's pid and a nonce (big-endian), so the server knows the pipe
 * and its way back. Replies are the SP message alone. A server checks now
 * and then that its clients live and lets the dead ones' pipes (and
 * mailboxes) go; a client whose request waits too long (REQ's resend)
 * attaches afresh, so a restarted server is found.
 */
#define _GNU_SOURCE
#include "proto.h"
#include "../shm/proc.h"
#include "../shm/ring_sync.h"
#include "../transport/sockstream.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/un.h>
#include <unistd.h>

#define HDR 12
#define MAGIC 0xc5
#define VERSION 1
#define SWEEP_NS 1000000000 /* how often a server looks for dead clients */
#define HELLO_WAIT_MS 1000 /* for the server to answer a hello */
#define CLIENT_RING_SIZE "256K" /* each ring of a client's pair, unless
                                   ?size= says otherwise */

enum kind { K_SYSVMQ, K_GRAM, K_NAMED, K_RINGS };

struct back {
	enum kind kind;
	ipk_chan *box;   /* server: the mailbox at the address; client: where
	                    its requests go */
	ipk_chan *inbox; /* client: where its replies arrive (may be box) */
	uint32_t pid, nonce;
	long mtype;      /* sysvmq client: the type of its replies */
	int64_t next_sweep;
	/* rings server: spinning before it sleeps */
	int64_t spin_ns;
	int rr;
	pid_t epid;      /* the process whose doorbells s->epfd watches */
};

struct bpipe {
	uint32_t pid, nonce;
	long mtype;                /* sysvmq */
	struct sockaddr_un addr;   /* unixgram */
	socklen_t alen;
	ipk_chan *out;             /* mq, fifo, rings: the client's mailbox */
	ipk_chan *in;              /* rings: this client's request ring */
	char inname[8];
};

static enum kind kind_of(const ipk_chan *c)
{
	const char *s = c->tp->scheme;
	if (strcmp(s, "sysvmq") == 0)
		return K_SYSVMQ;
	if (strcmp(s, "unixgram") == 0)
		return K_GRAM;
	if (strcmp(s, "shm") == 0 || strcmp(s, "mmap") == 0)
		return K_RINGS;
	return K_NAMED; /* mq, fifo */
}

/* ------------------------------------------------------ channels */

/* A channel of this transport at url, set up like the socket's. */
static ipk_chan *new_chan(struct ipk__sock *s, const char *url)
{
	ipk__url u = {.text = (char *)url};
	ipk_chan *ch = ipk__chan_new(s->c->tp, &u);
	if (ch == NULL) {
		ipk__err(-ENOMEM, "out of memory");
		return NULL;
	}
	ch->maxmsg = s->c->maxmsg + 64 + HDR;
	ch->mode = s->c->mode;
	ch->linger_ms = s->c->linger_ms;
	ch->creator = getpid();
	return ch;
}

static int open_chan(struct ipk__sock *s, const char *url, bool listen,
                     int64_t deadline, ipk_chan **out)
{
	ipk_chan *ch = new_chan(s, url);
	if (ch == NULL)
		return -ENOMEM;
	int rc;
	if (listen) {
		rc = ch->tp->listen(ch);
	} else {
		ch->role = IPK__DIALER;
		rc = ch->tp->dial(ch, deadline);
	}
	if (rc < 0) {
		ipk__chan_free(ch);
		return rc;
	}
	*out = ch;
	return 0;
}

/* The options of the socket's address that a per-client mailbox shares
   (size, mode...), without the protocol's own and ?mpmc. */
static void kept_query(const ipk_chan *c, char *buf, size_t cap)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < c->url.nopts && off < cap; i++) {
		const struct ipk__opt *o = &c->url.opts[i];
		if (ipk__proto_option(o->key) || strcmp(o->key, "mpmc") == 0 ||
		    strcmp(o->key, "persist") == 0)
			continue;
		off += (size_t)snprintf(buf + off, cap - off, "%c%s%s%s",
		                        off ? '&' : '?', o->key, o->val ? "=" : "",
		                        o->val ? o->val : "");
	}
}

/* NAME.<tag><pid>.<nonce> beside the socket's mailbox, as an address. */
static int derive(const struct ipk__sock *s, char tag, uint32_t pid,
                  uint32_t nonce, char *buf, size_t cap)
{
	char q[512];
	kept_query(s->c, q, sizeof q);
	if (kind_of(s->c) == K_RINGS && !strstr(q, "size=")) {
		/* a pair per client: smaller than a shared ring by default */
		size_t n = strlen(q);
		snprintf(q + n, sizeof q - n, "%csize=%s", n ? '&' : '?',
		         CLIENT_RING_SIZE);
	}
	int n = snprintf(buf, cap, "%s:%s.%c%u.%08x%s", s->c->tp->scheme,
	                 s->c->url.rest, tag, pid, nonce, q);
	if (n < 0 || (size_t)n >= cap)
		return ipk__err(-ENAMETOOLONG, "%s: no room for a per-client name",
		                s->c->url.text);
	return 0;
}

/* Remove a dead client's mailbox (what its name says it is, or nothing). */
static void remove_dead(struct ipk__sock *s, char tag, uint32_t pid,
                        uint32_t nonce)
{
	char url[600];
	if (derive(s, tag, pid, nonce, url, sizeof url) == 0)
		(void)ipk_remove(url);
}

static void close_chan(ipk_chan **ch)
{
	if (*ch)
		ipk_close(*ch);
	*ch = NULL;
}

/* sysvmq: the message type of a client's replies, its pid (a second REQ
   channel of the process: plus N * 2^32). Never 1, the type of requests;
   0 when the nonce is out of range (from a client that is not ours). */
static long reply_type(uint32_t pid, uint32_t nonce)
{
	if (nonce > 0x7ffffffeu || pid == 0 || pid > 0x7fffffffu)
		return 0;
	long t = (long)((uint64_t)nonce << 32 | pid);
	return t == 1 ? 0 : t;
}

/* --------------------------------------------------------- header */

static void put_hdr(unsigned char *h, char kind, uint32_t pid, uint32_t nonce)
{
	h[0] = MAGIC;
	h[1] = (unsigned char)kind;
	h[2] = VERSION;
	h[3] = 0;
	ipk__put32(h + 4, pid);
	ipk__put32(h + 8, nonce);
}

/* Send a header-only message (hello, bye) on ch. */
static ssize_t send_ctl(ipk_chan *ch, char kind, const struct back *b,
                        long type, int64_t deadline)
{
	unsigned char h[HDR];
	put_hdr(h, kind, b->pid, b->nonce);
	ipk_msginfo mi = {.type = type};
	return ch->tp->send(ch, h, HDR, &mi, deadline);
}

/* ------------------------------------------------------- server side */

static struct ipk__pipe *find_client(struct ipk__sock *s, uint32_t pid,
                                     uint32_t nonce)
{
	for (int i = 0; i < s->npipes; i++) {
		struct bpipe *bp = s->pipes[i]->car;
		if (bp->pid == pid && bp->nonce == nonce)
			return s->pipes[i];
	}
	return NULL;
}

static void back_pipe_gone(struct ipk__sock *s, struct ipk__pipe *p)
{
	struct bpipe *bp = p->car;
	if (bp == NULL)
		return;
	if (bp->in) {
		ipk__sock_unwatch(s, bp->in->tp->fd(bp->in));
		close_chan(&bp->in); /* ours: removed as we close it */
	}
	close_chan(&bp->out);
}

static void drop_client(struct ipk__sock *s, struct ipk__pipe *p, bool dead)
{
	struct back *b = s->car_state;
	struct bpipe *bp = p->car;
	uint32_t pid = bp->pid, nonce = bp->nonce;
	ipk__pipe_remove(s, p); /* lets go of its mailboxes first */
	if (dead && (b->kind == K_NAMED || b->kind == K_RINGS))
		remove_dead(s, 'r', pid, nonce);
}

static struct ipk__pipe *add_client(struct ipk__sock *s, uint32_t pid,
                                    uint32_t nonce)
{
	struct bpipe *bp = calloc(1, sizeof *bp);
	if (bp == NULL)
		return NULL;
	bp->pid = pid;
	bp->nonce = nonce;
	bp->mtype = reply_type(pid, nonce);
	struct ipk__pipe *p = ipk__pipe_new(s, NULL);
	if (p == NULL) {
		free(bp);
		return NULL;
	}
	p->car = bp;
	return p;
}

/* A client's hello on the rings: make its request ring, attach to its
   reply ring. */
static int rings_welcome(struct ipk__sock *s, uint32_t pid, uint32_t nonce)
{
	struct ipk__pipe *p = find_client(s, pid, nonce);
	if (p == NULL && (p = add_client(s, pid, nonce)) == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	struct bpipe *bp = p->car;
	char url[600];
	int rc = 0;
	if (bp->in == NULL && (rc = derive(s, 'q', pid, nonce, url, sizeof url)) == 0 &&
	    (rc = open_chan(s, url, true, IPK__NOW, &bp->in)) == 0)
		rc = ipk__sock_watch(s, bp->in->tp->fd(bp->in),
		                     ipk__ev(IPK__EV_PIPE, p->id), EPOLLIN);
	if (rc == 0 && bp->out == NULL &&
	    (rc = derive(s, 'r', pid, nonce, url, sizeof url)) == 0)
		rc = open_chan(s, url, false, ipk__deadline(1000), &bp->out);
	if (rc < 0) {
		ipk__warn("%s: a client (pid %u) said hello but its rings cannot be "
		          "set up: %s", s->c->url.text, pid, ipk_last_error());
		drop_client(s, p, !ipk__proc_alive((pid_t)pid, 0));
	}
	return rc;
}

/* Let go of the pipes of clients that died without saying goodbye. */
static void sweep(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	int64_t now = ipk__now_ns();
	if (now < b->next_sweep)
		return;
	b->next_sweep = now + SWEEP_NS;
	for (int i = s->npipes - 1; i >= 0; i--) {
		struct bpipe *bp = s->pipes[i]->car;
		if (!ipk__proc_alive((pid_t)bp->pid, 0))
			drop_client(s, s->pipes[i], true);
	}
}

/* One message into rx from ch; returns its length, with what it was. */
static ssize_t server_take(struct ipk__sock *s, ipk_chan *ch, ipk__rx *rx,
                           int64_t deadline)
{
	struct back *b = s->car_state;
	ipk_msginfo mi = {.type = b->kind == K_SYSVMQ ? 1 : 0};
	ipk__rx r = *rx;
	r.info = &mi;
	ssize_t n = ch->tp->recv(ch, &r, deadline);
	rx->buf = r.buf;
	rx->cap = r.cap;
	return n;
}

/*
 * Make sense of what a client sent: a request for the protocol (moved to
 * the front of rx, *from its pipe, returns its length), or 0 after dealing
 * with a hello or a goodbye or dropping something malformed.
 */
static ssize_t server_sort(struct ipk__sock *s, ipk_chan *ch, ipk__rx *rx,
                           size_t n, struct ipk__pipe **from)
{
	struct back *b = s->car_state;
	unsigned char *m = rx->buf;
	if (n < HDR || m[0] != MAGIC || m[2] != VERSION ||
	    (m[1] != 'Q' && m[1] != 'H' && m[1] != 'B')) {
		ipk__warn("%s: dropped a message of %zu bytes that is not an ipckit "
		          "request (a plain program writing into a REP mailbox?)",
		          s->c->url.text, n);
		return 0;
	}
	uint32_t pid = ipk__get32(m + 4), nonce = ipk__get32(m + 8);
	struct ipk__pipe *p = find_client(s, pid, nonce);
	if (m[1] == 'B') {
		if (p)
			drop_client(s, p, false);
		return 0;
	}
	if (m[1] == 'H') {
		if (b->kind == K_RINGS)
			rings_welcome(s, pid, nonce);
		return 0;
	}
	if (p == NULL) {
		if (b->kind == K_RINGS)
			return 0; /* requests come on the client's own ring */
		if (b->kind == K_SYSVMQ && reply_type(pid, nonce) == 0)
			return 0; /* no type to answer it with */
		if ((p = add_client(s, pid, nonce)) == NULL)
			return 0;
	}
	struct bpipe *bp = p->car;
	if (b->kind == K_GRAM)
		bp->alen = ipk__gram_last_sender(ch, &bp->addr);
	memmove(m, m + HDR, n - HDR);
	*from = p;
	return (ssize_t)(n - HDR);
}

/* A ring's doorbell belongs to the process that asked for it: a server
   used after fork asks for its own and watches them in an epoll set of its
   own (the inherited one is shared with the parent). */
static int rings_rewatch(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	if (b->epid == getpid())
		return 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return ipk__errno(-errno, "epoll_create1");
	close(s->epfd);
	s->epfd = ep;
	b->epid = getpid();
	int rc = ipk__sock_watch(s, b->box->tp->fd(b->box),
	                         ipk__ev(IPK__EV_LISTENER, 0), EPOLLIN);
	for (int i = 0; i < s->npipes && rc == 0; i++) {
		ipk_chan *q = ((struct bpipe *)s->pipes[i]->car)->in;
		if (q)
			rc = ipk__sock_watch(s, q->tp->fd(q),
			                     ipk__ev(IPK__EV_PIPE, s->pipes[i]->id),
			                     EPOLLIN);
	}
	if (rc == 0 && s->timerfd >= 0)
		rc = ipk__sock_watch(s, s->timerfd, ipk__ev(IPK__EV_TIMER, 0),
		                     EPOLLIN);
	return rc;
}

/* Rings: the hello ring and every client's request ring, spinning a
   little before sleeping on their doorbells. */
static ssize_t rings_recv(struct ipk__sock *s, ipk__rx *rx,
                          struct ipk__pipe **from, int64_t deadline)
{
	struct back *b = s->car_state;
	int rc = rings_rewatch(s);
	if (rc < 0)
		return rc;
	int64_t spin_until = ipk__now_ns() + b->spin_ns;
	if (spin_until > deadline)
		spin_until = deadline;
	for (unsigned round = 0;; round++) {
		/* look at every ring once, starting after the last one served */
		int n = s->npipes + 1;
		for (int k = 0; k < n; k++) {
			int i = (b->rr + k) % n;
			ipk_chan *ch = i == s->npipes ? b->box : ((struct bpipe *)
			                                         s->pipes[i]->car)->in;
			if (ch == NULL || !ch->tp->pending(ch))
				continue;
			b->rr = i + 1;
			ssize_t m = server_take(s, ch, rx, IPK__NOW);
			if (m == -EAGAIN)
				continue;
			if (m < 0) {
				if (i < s->npipes) /* its client has gone */
					drop_client(s, s->pipes[i], true);
				else if (m != -EPIPE)
					return m;
				break;
			}
			m = server_sort(s, ch, rx, (size_t)m, from);
			if (m > 0)
				return m;
			break; /* the pipes may have changed */
		}
		int64_t now = (round & 63) == 0 ? ipk__now_ns() : 0;
		if (now == 0 || now < spin_until) {
			ipk__cpu_relax();
			continue;
		}
		sweep(s);
		if (ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline), "%s: no request",
			                s->c->url.text);
		/* before sleeping, a receive on each ring: one that finds its ring
		   empty arms the doorbell, and one that finds a message keeps it */
		bool news = false;
		for (int i = 0; i <= s->npipes && !news; i++) {
			ipk_chan *ch = i == s->npipes ? b->box : ((struct bpipe *)
			                                         s->pipes[i]->car)->in;
			if (ch == NULL)
				continue;
			ssize_t m = server_take(s, ch, rx, IPK__NOW);
			if (m == -EAGAIN)
				continue;
			news = true;
			if (m < 0) {
				if (i < s->npipes)
					drop_client(s, s->pipes[i], true);
				else if (m != -EPIPE)
					return m;
				break;
			}
			m = server_sort(s, ch, rx, (size_t)m, from);
			if (m > 0)
				return m;
		}
		if (news)
			continue;
		int64_t until = b->next_sweep < deadline ? b->next_sweep : deadline;
		struct epoll_event ev[8];
		int r = epoll_wait(s->epfd, ev, 8, ipk__remaining_ms(until));
		if (r < 0 && errno != EINTR)
			return ipk__errno(-errno, "epoll_wait");
		spin_until = ipk__now_ns() + b->spin_ns;
		if (spin_until > deadline)
			spin_until = deadline;
	}
}

/* ------------------------------------------------------- client side */

/* Attach: for rings the whole hello; elsewhere the request mailbox (and
   a reply mailbox of its own where the mechanism needs one). */
static int client_attach(struct ipk__sock *s, int64_t deadline)
{
	struct back *b = s->car_state;
	int rc;
	char url[600];
	if (b->kind == K_RINGS || b->kind == K_NAMED) {
		if (b->inbox == NULL) {
			if ((rc = derive(s, 'r', b->pid, b->nonce, url, sizeof url)) < 0 ||
			    (rc = open_chan(s, url, true, IPK__NOW, &b->inbox)) < 0)
				return rc;
		}
	}
	if (b->kind != K_RINGS)
		return open_chan(s, s->c->url.text, false, deadline, &b->box);
	/* rings: hello through the server's ring, then its ring for us; a
	   hello that went to a server that died meanwhile is said again */
	if ((rc = derive(s, 'q', b->pid, b->nonce, url, sizeof url)) < 0)
		return rc;
	for (;;) {
		ipk_chan *hello = NULL;
		if ((rc = open_chan(s, s->c->url.text, false, deadline, &hello)) < 0)
			return rc;
		rc = (int)send_ctl(hello, 'H', b, 0, deadline);
		ipk_close(hello);
		if (rc < 0)
			return rc;
		int64_t soon = ipk__deadline(HELLO_WAIT_MS);
		rc = open_chan(s, url, false, soon < deadline ? soon : deadline,
		               &b->box);
		if (rc == 0 || ipk__expired(deadline) ||
		    (rc != -ENOENT && rc != -ETIMEDOUT && rc != -EAGAIN))
			return rc;
	}
}

/* Start again with a new identity (rings: a new pair). */
static int client_renew(struct ipk__sock *s, int64_t deadline)
{
	struct back *b = s->car_state;
	if (b->box) {
		(void)send_ctl(b->box, 'B', b, 1, IPK__NOW);
		close_chan(&b->box);
	}
	if (b->kind == K_RINGS) {
		close_chan(&b->inbox); /* removes it: we made it */
		uint32_t n;
		if (getrandom(&n, sizeof n, GRND_NONBLOCK) != sizeof n)
			n = b->nonce * 2654435761u + 1;
		b->nonce = n;
	}
	return client_attach(s, deadline);
}

static bool server_alive(struct back *b)
{
	if (b->kind != K_RINGS || b->box == NULL)
		return false; /* cannot tell: attach again (cheap) */
	ipk_ringinfo ri;
	return ipk_ring_info(b->box, &ri) == 0 && ri.consumer_pid > 0 &&
	       ipk__proc_alive(ri.consumer_pid, 0);
}

/* ------------------------------------------------------- the carrier */

static int back_start(struct ipk__sock *s, int64_t deadline)
{
	struct back *b = calloc(1, sizeof *b);
	if (b == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	s->car_state = b;
	b->kind = kind_of(s->c);
	if (strcmp(s->c->tp->scheme, "sysvshm") == 0) {
		free(b);
		s->car_state = NULL;
		return ipk__err(-EPROTONOSUPPORT,
		                "%s: request/reply needs a ring pair per client, "
		                "named beside the server's; System V keys have no "
		                "names to derive them from: use shm: or mmap:",
		                s->c->url.text);
	}
	b->pid = (uint32_t)getpid();
	if (b->kind == K_SYSVMQ) {
		/* the type a client receives: its pid, told apart from other REQ
		   channels of the same process in the high half */
		static _Atomic uint32_t seq;
		b->nonce = atomic_fetch_add(&seq, 1);
		if (b->pid == 1 && b->nonce == 0)
			b->nonce = atomic_fetch_add(&seq, 1); /* type 1 is requests */
		b->mtype = reply_type(b->pid, b->nonce);
	} else if (getrandom(&b->nonce, sizeof b->nonce, GRND_NONBLOCK) !=
	           sizeof b->nonce) {
		b->nonce = (uint32_t)ipk__now_ns();
	}
	long spin_us = 50;
	const char *w = NULL;
	ipk__opt_long(&s->c->url, "spin", 0, 10000000, &spin_us);
	ipk__opt_str(&s->c->url, "wait", &w);
	b->spin_ns = w && strcmp(w, "block") == 0 ? 0 : spin_us * 1000;
	b->next_sweep = ipk__now_ns() + SWEEP_NS;
	int rc;
	if (s->listening) {
		char url[600];
		snprintf(url, sizeof url, "%s", s->c->url.text);
		bool mpmc = false;
		ipk__opt_flag(&s->c->url, "mpmc", &mpmc);
		if (b->kind == K_RINGS && !mpmc) /* clients say hello side by side */
			snprintf(url, sizeof url, "%s%smpmc", s->c->url.text,
			         strchr(s->c->url.text, '?') ? "&" : "?");
		rc = open_chan(s, url, true, IPK__NOW, &b->box);
		if (rc == 0 && b->kind == K_RINGS)
			rc = ipk__sock_watch(s, b->box->tp->fd(b->box),
			                     ipk__ev(IPK__EV_LISTENER, 0), EPOLLIN);
		b->epid = getpid();
	} else {
		rc = client_attach(s, deadline);
		if (rc == 0) {
			struct ipk__pipe *p = ipk__pipe_new(s, NULL);
			struct bpipe *bp = calloc(1, sizeof *bp);
			if (p == NULL || bp == NULL) {
				free(bp);
				rc = ipk__err(-ENOMEM, "out of memory");
			} else {
				p->car = bp;
			}
		}
	}
	if (rc < 0) {
		close_chan(&b->box);
		close_chan(&b->inbox);
		free(b);
		s->car_state = NULL;
	}
	return rc;
}

static void back_stop(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	if (b == NULL)
		return;
	/* clients that died since the last look: their mailboxes go too */
	b->next_sweep = 0;
	if (s->listening)
		sweep(s);
	if (!s->listening && b->box)
		(void)send_ctl(b->box, 'B', b, 1, IPK__NOW); /* let the server go */
	if (s->listening && b->kind == K_SYSVMQ && b->box &&
	    ipk__removes_on_close(b->box)) {
		/* the queue goes with us, and with it replies not yet taken:
		   give their clients ?linger= ms to take them */
		int64_t until = ipk__deadline(s->c->linger_ms);
		ipk_queue_info qi;
		while (ipk_queue_status(b->box, &qi) == 0 && qi.messages > 0 &&
		       !ipk__expired(until))
			ipk__nap(1000000, until);
	}
	close_chan(&b->box);
	close_chan(&b->inbox);
	free(b);
	s->car_state = NULL;
}

static ssize_t back_recv(struct ipk__sock *s, ipk__rx *rx,
                         struct ipk__pipe **from, int64_t deadline)
{
	struct back *b = s->car_state;
	if (!s->listening) {
		ipk_chan *in = b->inbox ? b->inbox : b->box;
		if (in == NULL)
			return ipk__err(-EPIPE, "%s: not attached", s->c->url.text);
		ipk_msginfo mi = {.type = b->mtype};
		ipk__rx r = *rx;
		r.info = &mi;
		ssize_t n = in->tp->recv(in, &r, deadline);
		rx->buf = r.buf;
		rx->cap = r.cap;
		*from = s->npipes ? s->pipes[0] : NULL;
		return n;
	}
	if (b->kind == K_RINGS)
		return rings_recv(s, rx, from, deadline);
	for (;;) {
		sweep(s);
		int64_t until = b->next_sweep < deadline ? b->next_sweep : deadline;
		ssize_t n = server_take(s, b->box, rx, until);
		if ((n == -ETIMEDOUT || n == -EAGAIN) && until != deadline &&
		    !ipk__expired(deadline))
			continue;
		if (n < 0)
			return n;
		n = server_sort(s, b->box, rx, (size_t)n, from);
		if (n > 0)
			return n;
		if (ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline), "%s: no request",
			                s->c->url.text);
	}
}

static ssize_t server_send(struct ipk__sock *s, struct ipk__pipe *p,
                           const unsigned char *m, size_t len,
                           int64_t deadline)
{
	struct back *b = s->car_state;
	struct bpipe *bp = p->car;
	ssize_t n;
	switch (b->kind) {
	case K_SYSVMQ: {
		ipk_msginfo mi = {.type = bp->mtype};
		n = b->box->tp->send(b->box, m, len, &mi, deadline);
		break;
	}
	case K_GRAM:
		n = ipk__gram_sendto(b->box, &bp->addr, bp->alen, m, len, deadline);
		break;
	default:
		if (bp->out == NULL) {
			char url[600];
			int64_t soon = ipk__deadline(1000);
			int rc = derive(s, 'r', bp->pid, bp->nonce, url, sizeof url);
			if (rc == 0)
				rc = open_chan(s, url, false, soon < deadline ? soon : deadline,
				               &bp->out);
			if (rc < 0) {
				drop_client(s, p, !ipk__proc_alive((pid_t)bp->pid, 0));
				return -EPIPE;
			}
		}
		n = bp->out->tp->send(bp->out, m, len, &(ipk_msginfo){0}, deadline);
	}
	if (n == -EPIPE || (n < 0 && n != -EAGAIN && n != -ETIMEDOUT &&
	                    n != -EMSGSIZE && !ipk__proc_alive((pid_t)bp->pid, 0)))
		drop_client(s, p, true);
	return n;
}

static ssize_t back_send(struct ipk__sock *s, struct ipk__pipe *p,
                         const void *buf, size_t len, int64_t deadline)
{
	struct back *b = s->car_state;
	if (s->listening)
		return server_send(s, p, buf, len, deadline);
	/* the protocol built its message after our headroom in s->out */
	unsigned char *m = ipk__sock_outbuf(s, len);
	if (m == NULL)
		return -ENOMEM;
	if ((const unsigned char *)buf != m)
		memmove(m, buf, len);
	for (int attempt = 0;; attempt++) {
		if (b->box == NULL) {
			int rc = client_renew(s, deadline);
			if (rc < 0)
				return rc;
		}
		put_hdr(s->out, 'Q', b->pid, b->nonce);
		ipk_msginfo mi = {.type = 1};
		ssize_t n = b->box->tp->send(b->box, s->out, len + HDR, &mi, deadline);
		if (n >= 0)
			return (ssize_t)len;
		if (n != -EPIPE || attempt > 0)
			return n;
		close_chan(&b->box); /* the server's mailbox went: attach again */
	}
}

/* The protocol heard nothing for long: make sure the way is still there. */
static void back_lost(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	if (s->listening || server_alive(b))
		return;
	if (b->box) {
		(void)send_ctl(b->box, 'B', b, 1, IPK__NOW);
		close_chan(&b->box);
	}
	if (b->kind == K_RINGS) {
		/* its server died: the request ring it made for us is nobody's */
		remove_dead(s, 'q', b->pid, b->nonce);
		close_chan(&b->inbox); /* a new pair on the next send */
	}
}

static int back_wait_send(struct ipk__sock *s, int64_t deadline)
{
	(void)s;
	/* sends wait by themselves (direct): reaching here means no pipe */
	return ipk__err(ipk__timeout_err(deadline), "no peer");
}

static int back_fd(const struct ipk__sock *s)
{
	struct back *b = s->car_state;
	if (!s->listening) {
		ipk_chan *in = b->inbox ? b->inbox : b->box;
		return in->tp->fd ? in->tp->fd(in) : -EOPNOTSUPP;
	}
	if (b->kind == K_RINGS)
		return s->epfd;
	return b->box->tp->fd ? b->box->tp->fd(b->box) : -EOPNOTSUPP;
}

static int back_pending(const struct ipk__sock *s)
{
	struct back *b = s->car_state;
	ipk_chan *in = s->listening ? b->box : (b->inbox ? b->inbox : b->box);
	if (in && in->tp->pending && in->tp->pending(in))
		return 1;
	if (s->listening && b->kind == K_RINGS)
		for (int i = 0; i < s->npipes; i++) {
			ipk_chan *q = ((struct bpipe *)s->pipes[i]->car)->in;
			if (q && q->tp->pending(q))
				return 1;
		}
	return 0;
}

const struct ipk__carrier ipk__carrier_back = {
	.name = "mailboxes with a way back",
	.start = back_start,
	.stop = back_stop,
	.recv = back_recv,
	.send = back_send,
	.wait_send = back_wait_send,
	.fd = back_fd,
	.pending = back_pending,
	.lost = back_lost,
	.pipe_gone = back_pipe_gone,
	.headroom = HDR,
	.direct = true,
};
