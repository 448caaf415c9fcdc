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
 *   shm:, mmap: NAME.r<pid>.<nonce>, and removes it when it closes; the
 *              server opens it on the first reply, and removes it when it
 *              finds the client dead. On rings the server's ring is made
 *              ?mpmc, so the clients' requests go side by side into it, and
 *              the server waits on that one ring as a plain receiver does
 *              (spinning, then a futex: no doorbell, no system call while
 *              requests keep coming).
 *
 * What a client writes into the server's mailbox starts with a 12-byte
 * header: C5, a kind (Q request, B bye), version 1, 0, the client's pid and
 * a nonce (big-endian), so the server knows the pipe and its way back.
 * Replies are the SP message alone. A server checks now and then that its
 * clients live and lets the dead ones' pipes (and mailboxes) go; a client
 * whose request waits too long (REQ's resend) attaches afresh, so a
 * restarted server is found.
 */
#define _GNU_SOURCE
#include "proto.h"
#include "../core/owner.h"
#include "../shm/proc.h"
#include "../transport/shmring.h"
#include "../transport/sockstream.h"

#include <dirent.h>
#include <errno.h>
#include <sys/epoll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/un.h>
#include <unistd.h>

#define HDR IPK__BACK_HDR
#define MAGIC IPK__BACK_MAGIC
#define VERSION IPK__BACK_VERSION
#define SWEEP_NS 1000000000 /* how often a server looks for dead clients */
#define CLIENT_RING_SIZE "256K" /* each ring of a client's pair, unless
                                   ?size= says otherwise */

enum kind { K_SYSVMQ, K_GRAM, K_NAMED, K_RINGS };

struct back {
	enum kind kind;
	ipk_chan *box;   /* server: the mailbox at the address; client: where
	                    its requests go */
	ipk_chan *inbox; /* client: where its replies arrive (may be box) */
	uint32_t pid, nonce;
	unsigned char qhdr[HDR]; /* client: the header of its requests */
	long mtype;      /* sysvmq client: the type of its replies */
	int64_t next_sweep;
	int watch_fd;    /* client polled: its inbox's fd in the socket's
	                    epoll set, beside the timer, or -1 */
	ipk_chan *watch_ch;
};

struct bpipe {
	uint32_t pid, nonce;
	long mtype;                /* sysvmq */
	struct sockaddr_un addr;   /* unixgram */
	socklen_t alen;
	ipk_chan *out;             /* mq, fifo, rings: the client's mailbox */
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

/* NAME.<tag><pid>.<nonce> beside the socket's mailbox, as an address (the
   name escaped: a '?' or '%' in it must not cut it short or change it). */
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
	char name[600], scheme[32];
	int n = snprintf(name, sizeof name, "%s.%c%u.%08x", s->c->url.rest, tag,
	                 pid, nonce);
	snprintf(scheme, sizeof scheme, "%s:", s->c->tp->scheme);
	if (n < 0 || (size_t)n >= sizeof name ||
	    ipk__url_escape(buf, cap, scheme, name, q) < 0)
		return ipk__err(-ENAMETOOLONG, "%s: no room for a per-client name",
		                s->c->url.text);
	return 0;
}

/* Remove a dead client's mailbox (what its name says it is, or nothing). */
static void remove_dead(struct ipk__sock *s, char tag, uint32_t pid,
                        uint32_t nonce)
{
	char url[600];
	if (derive(s, tag, pid, nonce, url, sizeof url) < 0)
		return;
	if (ipk_remove(url) == -EINVAL && kind_of(s->c) == K_RINGS) {
		/* a ring its client was killed making (no header yet: a plain
		   region); the name is the dead client's own all the same */
		size_t n = strlen(url);
		snprintf(url + n, sizeof url - n, "%cregion",
		         strchr(url, '?') ? '&' : '?');
		(void)ipk_remove(url);
	}
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

/* Send a header-only message (bye) on ch. */
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
	(void)s;
	struct bpipe *bp = p->car;
	if (bp == NULL)
		return;
	close_chan(&bp->out);
}

/* sysvmq: take out the replies a dead client left in the queue; nobody
   else receives their type, and they would fill the queue for good (a
   System V queue holds kernel.msgmnb bytes, 16 KiB by default). */
static void drain_replies(struct ipk__sock *s, long type)
{
	struct back *b = s->car_state;
	if (type == 0 || b->box == NULL)
		return;
	unsigned char tmp[16];
	for (int i = 0; i < 100000; i++) {
		ipk_msginfo mi = {.type = type, .flags = IPK_MSG_NOERROR};
		ipk__rx rx = {.buf = tmp, .cap = sizeof tmp, .info = &mi,
		              .maxmsg = sizeof tmp};
		if (b->box->tp->recv(b->box, &rx, IPK__NOW) < 0)
			break; /* none left (or the queue went) */
	}
}

static void drop_client(struct ipk__sock *s, struct ipk__pipe *p, bool dead)
{
	struct back *b = s->car_state;
	struct bpipe *bp = p->car;
	uint32_t pid = bp->pid, nonce = bp->nonce;
	long mtype = bp->mtype;
	ipk__pipe_remove(s, p); /* lets go of its mailboxes first */
	if (dead && (b->kind == K_NAMED || b->kind == K_RINGS))
		remove_dead(s, 'r', pid, nonce);
	if (dead && b->kind == K_SYSVMQ)
		drain_replies(s, mtype);
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

/* If name is BASE.r<pid>.<nonce> (as derive() spells it, bl = strlen(BASE)),
   its pid and nonce. */
static bool mailbox_name(const char *n, size_t bl, uint32_t *pid,
                         uint32_t *nonce)
{
	if (n[bl] != '.' || n[bl + 1] != 'r' || n[bl + 2] < '0' || n[bl + 2] > '9')
		return false;
	char *end;
	unsigned long p = strtoul(n + bl + 2, &end, 10);
	if (*end != '.' || p == 0 || p > 0x7fffffff)
		return false;
	const char *hex = end + 1;
	if (strlen(hex) != 8 || strspn(hex, "0123456789abcdef") != 8)
		return false; /* not a name we make (%08x) */
	*pid = (uint32_t)p;
	*nonce = (uint32_t)strtoul(hex, NULL, 16);
	return true;
}

/* The POSIX queue name of the server (suffix ""), or of a client's
   mailbox beside it (".r<pid>.<nonce>"), as mq_open spells it. */
static void mq_name(const struct ipk__sock *s, char *buf, size_t cap,
                    const char *suffix)
{
	const char *rest = s->c->url.rest;
	while (*rest == '/')
		rest++;
	snprintf(buf, cap, "/%s%s", rest, suffix);
}

/* A dead client's mailbox found by name: remove it, unless it is one of
   our clients' (their pipes go by the sweep). */
static void remove_orphan(struct ipk__sock *s, uint32_t pid, uint32_t nonce)
{
	if (find_client(s, pid, nonce) || ipk__proc_alive((pid_t)pid, 0))
		return;
	remove_dead(s, 'r', pid, nonce);
	if (strcmp(s->c->tp->scheme, "mq") == 0) {
		/* killed after its owner record claimed the name and before the
		   queue existed: the record alone is left */
		char name[600], suffix[32];
		snprintf(suffix, sizeof suffix, ".r%u.%08x", pid, nonce);
		mq_name(s, name, sizeof name, suffix);
		ipk__owner_forget("mq", name, geteuid(), IPK__OWNER_PENDING);
	}
}

/* Remove the orphans among the entries of dir named base.r<pid>.<nonce>. */
static void sweep_dir(struct ipk__sock *s, const char *dir, const char *base)
{
	size_t bl = strlen(base);
	DIR *d = bl ? opendir(dir) : NULL;
	if (d == NULL)
		return;
	struct dirent *e;
	uint32_t pid, nonce;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, base, bl) == 0 &&
		    mailbox_name(e->d_name, bl, &pid, &nonce))
			remove_orphan(s, pid, nonce);
	closedir(d);
}

/* mq: owner records of dead clients' reply queues (see remove_orphan). */
static void sweep_orphan_records(struct ipk__sock *s)
{
	char pre[512], name[600];
	mq_name(s, name, sizeof name, "");
	if (ipk__owner_path(pre, sizeof pre, "mq", name, geteuid()) < 0 ||
	    strchr(pre, '#'))
		return; /* a name spelt by its hash: no prefix to look for */
	const char *slash = strrchr(pre, '/');
	if (slash != NULL)
		sweep_dir(s, "/dev/shm", slash + 1);
}

/*
 * Reply mailboxes of dead clients that never reached us: a client killed
 * after it made its mailbox and before its first request arrived is no
 * pipe of ours, so the sweep cannot name it. Its name can: it lies beside
 * ours (NAME.r<pid>.<nonce>), and a pid that is not running is proof that
 * nobody will read it.
 */
static void sweep_orphans(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	const char *scheme = s->c->tp->scheme, *rest = s->c->url.rest;
	if (b->kind != K_RINGS && b->kind != K_NAMED)
		return;
	char dir[512];
	const char *slash = strrchr(rest, '/');
	const char *base = slash ? slash + 1 : rest;
	if (strcmp(scheme, "shm") == 0)
		snprintf(dir, sizeof dir, "/dev/shm");
	else if (strcmp(scheme, "mq") == 0)
		snprintf(dir, sizeof dir, "/dev/mqueue"); /* where it is mounted */
	else if (slash && slash != rest)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - rest), rest);
	else
		snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
	sweep_dir(s, dir, base);
	/* a queue's owner record names it too, where /dev/mqueue is not
	   mounted (mq_unlink needs no mount) */
	if (strcmp(scheme, "mq") == 0)
		sweep_orphan_records(s);
}

/* Let go of the pipes of clients that died without saying goodbye. */
static void sweep(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	int64_t now = ipk__coarse_ns();
	if (now < b->next_sweep)
		return;
	b->next_sweep = now + SWEEP_NS;
	for (int i = s->npipes - 1; i >= 0; i--) {
		struct bpipe *bp = s->pipes[i]->car;
		if (!ipk__proc_alive((pid_t)bp->pid, 0))
			drop_client(s, s->pipes[i], true);
	}
	sweep_orphans(s);
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
 * with a goodbye or dropping something malformed.
 */
static bool server_sort(struct ipk__sock *s, ipk_chan *ch,
                        const unsigned char *m, size_t n,
                        struct ipk__pipe **from)
{
	struct back *b = s->car_state;
	char kind;
	uint32_t pid, nonce;
	if (ipk__back_header(m, n, &kind, &pid, &nonce) < 0) {
		ipk__warn("%s: dropped a message of %zu bytes that is not an ipckit "
		          "request (a plain program writing into a REP mailbox?)",
		          s->c->url.text, n);
		return false;
	}
	struct ipk__pipe *p = find_client(s, pid, nonce);
	if (kind == 'B') {
		if (p)
			drop_client(s, p, false);
		return false;
	}
	if (p == NULL) {
		if (b->kind == K_SYSVMQ && reply_type(pid, nonce) == 0)
			return false; /* no type to answer it with */
		if ((p = add_client(s, pid, nonce)) == NULL)
			return false;
	}
	struct bpipe *bp = p->car;
	if (b->kind == K_GRAM)
		bp->alen = ipk__gram_last_sender(ch, &bp->addr);
	*from = p;
	return true;
}

/* ------------------------------------------------------- client side */

/* Attach: the request mailbox, and a reply mailbox of our own where the
   mechanism needs one. */
static int watch_inbox(struct ipk__sock *s);

static int client_attach(struct ipk__sock *s, int64_t deadline)
{
	struct back *b = s->car_state;
	int rc;
	char url[600];
	if ((b->kind == K_RINGS || b->kind == K_NAMED) && b->inbox == NULL) {
		if ((rc = derive(s, 'r', b->pid, b->nonce, url, sizeof url)) < 0 ||
		    (rc = open_chan(s, url, true, IPK__NOW, &b->inbox)) < 0)
			return rc;
	}
	rc = open_chan(s, s->c->url.text, false, deadline, &b->box);
	if (rc == 0 && s->timerfd >= 0)
		(void)watch_inbox(s); /* a poller that keeps the fd it was given
		                         hears the new mailbox too */
	return rc;
}

static bool server_alive(struct back *b)
{
	if (b->kind != K_RINGS || b->box == NULL)
		return false; /* cannot tell: attach again (cheap) */
	ipk_ringinfo ri;
	return ipk_ring_info(b->box, &ri) == 0 && ri.consumer_pid > 0 &&
	       ipk__proc_alive(ri.consumer_pid, 0);
}

/* A poller's epoll set lets go of the inbox's fd (its channel may go). */
static void unwatch_inbox(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	if (b->watch_fd >= 0)
		ipk__sock_unwatch(s, b->watch_fd);
	b->watch_fd = -1;
	b->watch_ch = NULL;
}

/* Let go of the way to the server, to attach again on the next send (a
   restarted server's mailbox, or the same one taken over). */
static void client_detach(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	unwatch_inbox(s);
	if (b->box) {
		(void)send_ctl(b->box, 'B', b, 1, IPK__NOW);
		close_chan(&b->box);
	}
}

/* ------------------------------------------------------- the carrier */

static int back_start(struct ipk__sock *s, int64_t deadline)
{
	struct back *b = calloc(1, sizeof *b);
	if (b == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	s->car_state = b;
	b->kind = kind_of(s->c);
	b->watch_fd = -1;
	if (strcmp(s->c->tp->scheme, "sysvshm") == 0) {
		free(b);
		s->car_state = NULL;
		return ipk__err(-EPROTONOSUPPORT,
		                "%s: request/reply needs a reply ring per client, "
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
	put_hdr(b->qhdr, 'Q', b->pid, b->nonce);
	b->next_sweep = ipk__coarse_ns() + SWEEP_NS;
	int rc;
	if (s->listening) {
		char url[600];
		snprintf(url, sizeof url, "%s", s->c->url.text);
		bool mpmc = false;
		rc = ipk__opt_flag(&s->c->url, "mpmc", &mpmc);
		if (b->kind == K_RINGS && rc == 1 && !mpmc)
			rc = ipk__err(-EINVAL, "%s: a %s socket's ring takes every "
			              "client's messages side by side: it is MPMC, "
			              "drop ?mpmc=%s", s->c->url.text, s->proto->name,
			              ipk__opt_find(&s->c->url, "mpmc")->val);
		else if (b->kind == K_RINGS && rc == 0) /* clients send side by side */
			snprintf(url, sizeof url, "%s%smpmc", s->c->url.text,
			         strchr(s->c->url.text, '?') ? "&" : "?");
		if (rc >= 0)
			rc = open_chan(s, url, true, IPK__NOW, &b->box);
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
		return rc;
	}
	/* the limit is the mechanism's, as it read the address (mq: takes
	   ?maxmsg= for the queue's depth), less what our headers take */
	if (b->box && b->box->maxmsg > 64 + HDR)
		s->c->maxmsg = b->box->maxmsg - 64 - HDR;
	return 0;
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
	for (;;) {
		sweep(s);
		int64_t until = b->next_sweep < deadline ? b->next_sweep : deadline;
		ssize_t n = server_take(s, b->box, rx, until);
		if ((n == -ETIMEDOUT || n == -EAGAIN) && until != deadline &&
		    !ipk__expired(deadline))
			continue;
		int dropped = ipk__mbox_dropped(s, b->box, n, "request", deadline);
		if (dropped < 0)
			return dropped;
		if (dropped > 0)
			continue; /* the server goes on */
		if (n < 0)
			return n;
		if (server_sort(s, b->box, rx->buf, (size_t)n, from)) {
			memmove(rx->buf, (unsigned char *)rx->buf + HDR, (size_t)n - HDR);
			return n - HDR;
		}
		if (ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline), "%s: no request",
			                s->c->url.text);
	}
}

/* A message just found in a ring: its first line is here (its header was
   read), the others are on their way from the writer's cache. Ask for
   them all now, so they come side by side while the headers are read,
   not one after the other as the copy reaches them. */
static inline void fetch_rest(const void *p, size_t n)
{
	uintptr_t a = ((uintptr_t)p | 63) + 1, end = (uintptr_t)p + n;
	for (; a < end; a += 64)
		__builtin_prefetch((const void *)a, 0, 3);
}

/* Rings lend their memory: a request or a reply is read where it lies. */
static ssize_t back_peek(struct ipk__sock *s, const unsigned char **msg,
                         struct ipk__pipe **from, int64_t deadline)
{
	struct back *b = s->car_state;
	ipk_chan *ch = s->listening ? b->box : b->inbox;
	if (b->kind != K_RINGS || ch == NULL)
		return -EOPNOTSUPP;
	for (;;) {
		int64_t until = deadline;
		if (s->listening) {
			sweep(s);
			if (b->next_sweep < until)
				until = b->next_sweep;
		}
		const void *p = NULL;
		ssize_t n = ipk__ring_chan_peek(ch, &p, until);
		if (n == -EAGAIN && until != IPK__NOW)
			n = ipk__err(-ETIMEDOUT, "%s: no message in time",
			             s->c->url.text); /* its time ran out before */
		if (n == -ETIMEDOUT && until != deadline && !ipk__expired(deadline))
			continue;
		if (n < 0)
			return n;
		fetch_rest(p, (size_t)n);
		if (!s->listening) {
			*from = s->npipes ? s->pipes[0] : NULL;
			*msg = p;
			return n;
		}
		if (server_sort(s, ch, p, (size_t)n, from)) {
			*msg = (const unsigned char *)p + HDR;
			return n - HDR;
		}
		ipk_recv_release(ch);
		if (ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline), "%s: no request",
			                s->c->url.text);
	}
}

static void back_release(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	ipk_chan *ch = s->listening ? b->box : b->inbox;
	if (ch)
		ipk__ring_chan_release(ch); /* only rings peek (back_peek) */
}

/* mq, fifo, rings: the client's reply mailbox, opened on the first reply
   (-EPIPE, its pipe gone, if it is not there) */
static int reply_box(struct ipk__sock *s, struct ipk__pipe *p)
{
	struct bpipe *bp = p->car;
	if (bp->out != NULL)
		return 0;
	/* the client made its mailbox before it asked: one that is not there
	   now never will be (the client closed or died; a request it left in
	   ours costs no wait) */
	char url[600];
	int rc = derive(s, 'r', bp->pid, bp->nonce, url, sizeof url);
	if (rc == 0)
		rc = open_chan(s, url, false, IPK__NOW, &bp->out);
	if (rc < 0) {
		drop_client(s, p, !ipk__proc_alive((pid_t)bp->pid, 0));
		return -EPIPE;
	}
	return 0;
}

/* What a reply's send answered: a client that is gone loses its pipe. */
static ssize_t server_sent(struct ipk__sock *s, struct ipk__pipe *p,
                           ssize_t n)
{
	struct bpipe *bp = p->car;
	if (n == -EPIPE || (n < 0 && n != -EAGAIN && n != -ETIMEDOUT &&
	                    n != -EMSGSIZE && !ipk__proc_alive((pid_t)bp->pid, 0)))
		drop_client(s, p, true);
	return n;
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
		if (reply_box(s, p) < 0)
			return -EPIPE;
		n = bp->out->tp->send(bp->out, m, len, &(ipk_msginfo){0}, deadline);
	}
	return server_sent(s, p, n);
}

/* A client finds no server at the address (killed, not back yet: a
   socket nobody receives on, a FIFO without reader): the transport tried
   until the deadline; the request waits for the server like one no peer
   could take (REQ keeps it and tries again), not a failure. */
static ssize_t server_away(struct ipk__sock *s, int rc, int64_t deadline)
{
	if ((rc != -ECONNREFUSED && rc != -ENOENT && rc != -ENXIO &&
	     rc != -EPIPE) || !ipk__expired(deadline))
		return rc;
	char why[400];
	snprintf(why, sizeof why, "%s", ipk_last_error());
	return ipk__err(ipk__timeout_err(deadline), "%s: no %s server yet: %s",
	                s->c->url.text, s->proto->peer, why);
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
			int rc = client_attach(s, deadline);
			if (rc < 0)
				return server_away(s, rc, deadline);
		}
		memcpy(s->out, b->qhdr, HDR);
		/* requests are type 1 (sysvmq); a constant, not a fresh struct
		   to clear on every request */
		static const ipk_msginfo request = {.type = 1};
		ssize_t n = b->box->tp->send(b->box, s->out, len + HDR, &request,
		                             deadline);
		if (n >= 0)
			return (ssize_t)len;
		if (n != -EPIPE || attempt > 0)
			return server_away(s, (int)n, deadline);
		client_detach(s); /* the server's mailbox went: attach again */
	}
}

/* A reply on a ring: its header and body written into the client's reply
   ring where they go, without being put together first. */
static ssize_t back_send2(struct ipk__sock *s, struct ipk__pipe *p,
                          const void *hdr, size_t hl, const void *body,
                          size_t bl, int64_t deadline)
{
	struct back *b = s->car_state;
	if (!s->listening || b->kind != K_RINGS) {
		unsigned char *m = ipk__sock_outbuf(s, hl + bl);
		if (m == NULL)
			return -ENOMEM;
		ipk__copy_words(m, hdr, hl);
		ipk__copy(m + hl, body, bl);
		return back_send(s, p, m, hl + bl, deadline);
	}
	struct bpipe *bp = p->car;
	if (bp->out == NULL && reply_box(s, p) < 0)
		return -EPIPE;
	void *dst;
	ssize_t n = ipk__ring_chan_borrow(bp->out, &dst, hl + bl, deadline);
	if (n >= 0) {
		ipk__copy_words(dst, hdr, hl);
		ipk__copy((unsigned char *)dst + hl, body, bl);
		n = ipk__ring_chan_commit(bp->out, hl + bl);
	}
	return server_sent(s, p, n);
}

/* The protocol heard nothing for long: make sure the way is still there
   (a server that died; a mailbox made anew by a server that restarted). */
static void back_lost(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	if (s->listening || server_alive(b))
		return;
	client_detach(s);
}

static int back_wait_send(struct ipk__sock *s, int64_t deadline)
{
	(void)s;
	/* sends wait by themselves (direct): reaching here means no pipe */
	return ipk__err(ipk__timeout_err(deadline), "no peer");
}

/* A polled client's epoll set (ipk_fd): its inbox beside REQ's timer
   (its resend, or its next try to reach a restarted server); the fd to
   poll, or a negative errno. Called again when the inbox changes. */
static int watch_inbox(struct ipk__sock *s)
{
	struct back *b = s->car_state;
	ipk_chan *in = b->inbox ? b->inbox : b->box;
	int fd = in == NULL ? -1 : in->tp->fd ? in->tp->fd(in) : -EOPNOTSUPP;
	if (fd == -EOPNOTSUPP || (fd < 0 && in != NULL))
		return fd;
	int rc = ipk__sock_timerfd(s);
	if (rc < 0)
		return in ? fd : rc;
	if (b->watch_ch != in || b->watch_fd != fd) {
		unwatch_inbox(s);
		if (in && (rc = ipk__sock_watch(s, fd, ipk__ev(IPK__EV_OTHER, 0),
		                                EPOLLIN)) < 0)
			return rc;
		b->watch_ch = in;
		b->watch_fd = in ? fd : -1;
	}
	return s->epfd;
}

static int back_fd(const struct ipk__sock *s)
{
	struct back *b = s->car_state;
	if (!s->listening)
		return watch_inbox((struct ipk__sock *)s);
	return b->box->tp->fd ? b->box->tp->fd(b->box) : -EOPNOTSUPP;
}

static int back_pending(const struct ipk__sock *s)
{
	struct back *b = s->car_state;
	ipk_chan *in = s->listening ? b->box : (b->inbox ? b->inbox : b->box);
	return in && in->tp->pending && in->tp->pending(in);
}

const struct ipk__carrier ipk__carrier_back = {
	.name = "mailboxes with a way back",
	.start = back_start,
	.stop = back_stop,
	.peek = back_peek,
	.release = back_release,
	.recv = back_recv,
	.send = back_send,
	.send2 = back_send2,
	.wait_send = back_wait_send,
	.fd = back_fd,
	.pending = back_pending,
	.lost = back_lost,
	.pipe_gone = back_pipe_gone,
	.headroom = HDR,
	.direct = true,
	.lazy_release = true,
};
