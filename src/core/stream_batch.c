/*
 * Send batching on byte streams (?batch).
 *
 * A batching stream queues each message in user space, framed exactly as
 * it goes on the wire, and writes the queue in one system call: when the
 * next message would not fit, on ipk_flush(), before a receive waits (an
 * answer may depend on what was queued), on close (within ?linger=), and
 * at most ?batchdelay= after the oldest queued message was queued. The
 * delay is kept by one thread per process (the flusher), started the
 * first time a batching stream queues something; it sleeps while nothing
 * is queued anywhere, and wakes about once per delay while streams keep
 * queueing. It never waits on a descriptor: it writes what the kernel
 * takes at once and looks again one delay later.
 *
 * Locking: everything on the sending side of a batching stream (queue,
 * backlog, writes) happens under its batch lock. The flusher holds the
 * list lock while it looks at streams and only ever tries their locks, so
 * a stream that is busy is never waited for, and a stream that leaves the
 * list (close) is never touched again.
 *
 * Errors: a write error (the peer gone) drops the queue and is sticky:
 * the call that meets it, or the next call if the flusher met it, says
 * how many queued bytes were lost; every later send and flush fails with
 * the same error at once, so no message is accepted after the channel
 * knows it cannot deliver it. Flush and close report a loss once, then
 * have nothing to say (nothing is queued), as on an unbatched stream.
 *
 * Fork: queued bytes belong to the process that queued them. A child that
 * inherited a batching stream drops them (its parent sends them), as it
 * does with the rest of a message its parent began.
 */
#define _GNU_SOURCE
#include "stream_priv.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CAP ((size_t)64 << 10)
#define MIN_CAP ((size_t)256)
#define MAX_CAP ((size_t)64 << 20)
#define DEFAULT_DELAY_US 1000
#define MAX_DELAY_US 10000000L
/* the flusher keeps waking once per delay this long after it last found
   something queued, so that streams queueing again need not wake it */
#define QUIET_NS ((int64_t)200 * 1000000)

struct ipk__batch {
	pthread_mutex_t lock;
	ipk__stream *s;
	unsigned char *buf;
	size_t cap, off, len;  /* queued bytes: buf[off, len) */
	/* when something began waiting to go out (queue or backlog); 0: none.
	   The flusher reads it without the lock */
	_Atomic int64_t since;
	int64_t delay;         /* ns; 0: no timer */
	uint64_t gen;          /* fork generation of the queued bytes */
	int err;               /* a write error the flusher met, for the next call */
	size_t lost;           /* bytes it could not deliver then */
	/* the write error that ended sending (the peer is gone): every later
	   send and flush fails with it at once, as the kernel does for an
	   unbatched stream, instead of queueing a message that cannot go */
	int dead;
	size_t dropped;        /* queued bytes push_locked's last error dropped */
	bool listed;
	struct ipk__batch *prev, *next;
};

/* ------------------------------------------------------------ flusher */

static pthread_once_t fl_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t fl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fl_cv;
static struct ipk__batch *fl_list; /* streams with a delay */
static bool fl_running;
/* the flusher sleeps until told (nothing queued for a while) */
static _Atomic bool fl_idle = true;
static _Atomic uint64_t fork_gen = 1;

static void fl_prepare(void)
{
	pthread_mutex_lock(&fl_mu);
}

static void fl_parent(void)
{
	pthread_mutex_unlock(&fl_mu);
}

static void fl_child(void)
{
	/* no flusher here: a stream that queues starts one */
	fl_running = false;
	atomic_store(&fl_idle, true);
	atomic_fetch_add(&fork_gen, 1);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fl_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_unlock(&fl_mu);
}

static void fl_init(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fl_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_atfork(fl_prepare, fl_parent, fl_child);
}

static void set_since(struct ipk__batch *b)
{
	ipk__stream *s = b->s;
	bool waiting = b->len > b->off || s->blen > s->boff;
	int64_t was = atomic_load_explicit(&b->since, memory_order_relaxed);
	if (!waiting)
		atomic_store_explicit(&b->since, 0, memory_order_relaxed);
	else if (was == 0)
		atomic_store(&b->since, ipk__now_ns()); /* seq_cst: see arm() */
}

static void drop_queue(struct ipk__batch *b)
{
	b->off = b->len = 0;
}

/* Write what the kernel takes now. Called with b->lock held. */
static void push_nowait(struct ipk__batch *b)
{
	ipk__stream *s = b->s;
	if (b->gen != atomic_load_explicit(&fork_gen, memory_order_relaxed)) {
		drop_queue(b);
		set_since(b);
		return;
	}
	int rc = s->blen > s->boff ? ipk__stream_flush_backlog(s, IPK__NOW) : 0;
	while (rc == 0 && b->len > b->off) {
		struct iovec v = {b->buf + b->off, b->len - b->off};
		ssize_t n = ipk__stream_writev(s, &v, 1, IPK__NOW);
		if (n > 0) {
			b->off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break;
		} else {
			rc = n < 0 && (errno == EPIPE || errno == ECONNRESET)
			             ? -EPIPE : n < 0 ? -errno : -EIO;
		}
	}
	if (rc < 0 && rc != -EAGAIN) {
		/* it cannot be delivered: say so to the next call */
		b->lost += b->len - b->off + (s->blen - s->boff);
		if (b->err == 0)
			b->err = rc;
		if (b->dead == 0)
			b->dead = rc;
		drop_queue(b);
		free(s->backlog);
		s->backlog = NULL;
		s->blen = s->boff = 0;
	}
	if (b->off == b->len)
		drop_queue(b);
	if (b->len > b->off || s->blen > s->boff)
		/* the kernel is full: look again one delay from now */
		atomic_store_explicit(&b->since, ipk__now_ns(), memory_order_relaxed);
	else
		atomic_store_explicit(&b->since, 0, memory_order_relaxed);
}

static void *flusher(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fl_mu);
	int64_t last_busy = ipk__now_ns();
	for (;;) {
		int64_t now = ipk__now_ns(), next = IPK__NEVER, tick = IPK__NEVER;
		bool busy = false;
		for (struct ipk__batch *b = fl_list; b; b = b->next) {
			if (b->delay < tick)
				tick = b->delay;
			int64_t since = atomic_load(&b->since);
			if (since == 0)
				continue;
			busy = true;
			int64_t due = since + b->delay;
			if (due <= now) {
				if (pthread_mutex_trylock(&b->lock) == 0) {
					push_nowait(b);
					pthread_mutex_unlock(&b->lock);
					since = atomic_load(&b->since);
					due = since ? since + b->delay : IPK__NEVER;
				} else {
					due = now + b->delay; /* its owner is writing */
				}
			}
			if (due < next)
				next = due;
		}
		if (busy)
			last_busy = now;
		if (!busy && (tick == IPK__NEVER || now - last_busy >= QUIET_NS)) {
			/* go to sleep until a stream queues; one that queued while
			   we looked sees fl_idle (or we see its since): seq_cst */
			atomic_store(&fl_idle, true);
			bool again = false;
			for (struct ipk__batch *b = fl_list; b && !again; b = b->next)
				again = atomic_load(&b->since) != 0;
			if (!again)
				pthread_cond_wait(&fl_cv, &fl_mu);
			atomic_store(&fl_idle, false);
			last_busy = ipk__now_ns();
			continue;
		}
		/* a stream that queues from now on is due a delay from now at
		   the earliest: waking once per the shortest delay finds it */
		if (tick != IPK__NEVER && now + tick < next)
			next = now + tick;
		struct timespec ts = {next / 1000000000, next % 1000000000};
		pthread_cond_timedwait(&fl_cv, &fl_mu, &ts);
	}
	return NULL;
}

/* Called with fl_mu held. */
static void start_flusher(void)
{
	if (fl_running)
		return;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 64 * 1024);
	/* signals are the program's threads' business */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	if (pthread_create(&t, &at, flusher, NULL) == 0) {
		fl_running = true;
		atomic_store(&fl_idle, false);
		pthread_setname_np(t, "ipk-flush");
	}
	/* else: no timer; every other way out still works */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
}

/* Something began waiting to go out: make sure the flusher will look. */
static void arm(struct ipk__batch *b)
{
	if (b->delay == 0 || !atomic_load(&fl_idle))
		return;
	pthread_mutex_lock(&fl_mu);
	start_flusher();
	pthread_cond_signal(&fl_cv);
	pthread_mutex_unlock(&fl_mu);
}

static void unlist(struct ipk__batch *b)
{
	if (!b->listed)
		return;
	pthread_mutex_lock(&fl_mu);
	*(b->prev ? &b->prev->next : &fl_list) = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->listed = false;
	pthread_mutex_unlock(&fl_mu);
}

/* ------------------------------------------------------------ options */

int ipk__batch_options(ipk__url *u, size_t *cap, int64_t *delay_ns)
{
	struct ipk__opt *o = ipk__opt_find(u, "batch");
	long us = DEFAULT_DELAY_US;
	int rc = ipk__opt_long(u, "batchdelay", 0, MAX_DELAY_US, &us);
	if (rc < 0)
		return rc;
	if (o == NULL) {
		if (rc > 0)
			return ipk__err(-EINVAL, "address '%s': batchdelay applies to "
			                         "?batch, which is not given",
			                u->text);
		return 0;
	}
	*cap = DEFAULT_CAP;
	if (o->val != NULL && ipk__parse_size(o->val, cap) < 0)
		return ipk__err(-EINVAL, "address '%s': option batch takes a queue "
		                         "size like 64K (or nothing: 64K)",
		                u->text);
	if (*cap < MIN_CAP || *cap > MAX_CAP)
		return ipk__err(-EINVAL, "address '%s': a batch queue of %zu bytes "
		                         "is outside %zu..%zu",
		                u->text, *cap, MIN_CAP, MAX_CAP);
	*delay_ns = (int64_t)us * 1000;
	return 1;
}

int ipk__stream_batch(ipk__stream *s, size_t cap, int64_t delay_ns)
{
	if (s->framing == IPK__FRAME_FIFO)
		return ipk__err(-EINVAL, "batching would let other writers' "
		                         "messages cut into a FIFO's: not offered");
	struct ipk__batch *b = calloc(1, sizeof *b);
	if (b == NULL || (b->buf = malloc(cap)) == NULL) {
		free(b);
		return ipk__err(-ENOMEM, "out of memory for a %zu-byte batch queue",
		                cap);
	}
	pthread_once(&fl_once, fl_init); /* fork tracking, the flusher */
	pthread_mutex_init(&b->lock, NULL);
	b->s = s;
	b->cap = cap;
	b->delay = delay_ns;
	b->gen = atomic_load(&fork_gen);
	s->batch = b;
	if (delay_ns > 0) {
		pthread_mutex_lock(&fl_mu);
		b->next = fl_list;
		if (fl_list)
			fl_list->prev = b;
		fl_list = b;
		b->listed = true;
		pthread_mutex_unlock(&fl_mu);
	}
	return 0;
}

/* ----------------------------------------------------- sending side */

/* The flusher's error, reported once to the caller (with what it lost).
   A send (`what`: its message) then meets the sticky error; a flush or
   close (NULL) has nothing more to say, as on an unbatched stream. */
static int take_err(struct ipk__batch *b, const char *what)
{
	int rc = b->err;
	const char *tail = what ? "; this message was not sent either" : "";
	if (rc != 0) {
		size_t lost = b->lost;
		b->err = 0;
		b->lost = 0;
		if (rc == -EPIPE)
			return ipk__err(-EPIPE, "peer closed the channel; %zu bytes of "
			                        "batched messages were not delivered%s",
			                lost, tail);
		return ipk__err(rc, "writing batched messages failed (%s); %zu "
		                    "bytes were not delivered%s",
		                ipk_strerror(rc), lost, tail);
	}
	if ((rc = b->dead) == 0 || what == NULL)
		return 0;
	if (rc == -EPIPE)
		return ipk__err(-EPIPE, "peer closed the channel; this message was "
		                        "not sent");
	return ipk__err(rc, "an earlier write of batched messages failed (%s): "
	                    "this channel sends no more; this message was not "
	                    "sent",
	                ipk_strerror(rc));
}

/* Did this error end sending (a write failed), not just a wait? */
static bool ends_sending(int rc)
{
	return rc < 0 && rc != -EAGAIN && rc != -ETIMEDOUT && rc != -EINTR;
}

/* Queued bytes inherited across fork are the parent's to send. */
static void check_fork(struct ipk__batch *b)
{
	uint64_t g = atomic_load_explicit(&fork_gen, memory_order_relaxed);
	if (b->gen != g) {
		drop_queue(b);
		b->gen = g;
	}
}

/*
 * Write the backlog and the queue, waiting within the deadline, until at
 * least `room` bytes are free in the queue (0: until it is empty).
 * Called with b->lock held. What is not written stays queued.
 */
static int push_locked(struct ipk__batch *b, int64_t deadline, size_t room)
{
	ipk__stream *s = b->s;
	b->dropped = 0;
	/* room: until the queue's free space is room (all of it: 0) */
	size_t need = room == 0 ? b->len
	              : b->len + room > b->cap ? b->len + room - b->cap : 0;
	int rc = ipk__stream_flush_backlog(s, deadline);
	if (rc == 0 && (rc = ipk__stream_write_out(s, b->buf, &b->off, b->len,
	                                           need, deadline)) == -EPIPE) {
		size_t lost = b->len - b->off;
		b->dropped = lost;
		drop_queue(b);
		rc = ipk__err(-EPIPE, "peer closed the channel; %zu bytes of "
		                      "batched messages were not delivered",
		              lost);
	}
	if (ends_sending(rc)) { /* nothing queued can go out any more */
		b->dropped += b->len - b->off;
		drop_queue(b);
		if (b->dead == 0)
			b->dead = rc;
	}
	if (b->off == b->len) {
		drop_queue(b);
	} else if (b->off > 0 && room) {
		memmove(b->buf, b->buf + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	set_since(b);
	return rc;
}

ssize_t ipk__batch_send(ipk__stream *s, const void *buf, size_t len,
                        int64_t deadline)
{
	struct ipk__batch *b = s->batch;
	size_t hl = ipk__hdr_bytes(s), frame = hl + len;
	ssize_t rc;
	pthread_mutex_lock(&b->lock);
	check_fork(b);
	if ((rc = take_err(b, "send")) < 0)
		goto out;
	if (frame > b->cap / 2) {
		/* large: the queue goes first, then the message as it is */
		if ((rc = push_locked(b, deadline, 0)) == 0)
			rc = ipk__stream_send_direct(s, buf, len, deadline);
		if (rc == -EPIPE && b->dead == 0)
			b->dead = -EPIPE;
		set_since(b);
		if (s->blen > s->boff)
			arm(b);
		goto out;
	}
	if (b->len + frame > b->cap || s->blen > s->boff) {
		/* full (or a message's rest is still out): write now, waiting
		   only while neither the kernel nor the queue has room */
		if ((rc = push_locked(b, deadline, frame)) < 0)
			goto out;
	}
	bool was_empty = b->len == b->off;
	unsigned char *p = b->buf + b->len;
	p += ipk__put_hdr(s, p, 1, len);
	if (len)
		memcpy(p, buf, len);
	b->len += frame;
	if (was_empty) {
		set_since(b);
		arm(b);
	}
	rc = (ssize_t)len;
out:
	pthread_mutex_unlock(&b->lock);
	return rc;
}

int ipk__batch_hold(ipk__stream *s, int64_t deadline)
{
	struct ipk__batch *b = s->batch;
	if (b == NULL)
		return ipk__stream_flush_backlog(s, deadline);
	pthread_mutex_lock(&b->lock);
	check_fork(b);
	int rc = take_err(b, "send");
	return rc < 0 ? rc : push_locked(b, deadline, 0);
}

void ipk__batch_release(ipk__stream *s, ssize_t sent)
{
	struct ipk__batch *b = s->batch;
	if (b == NULL)
		return;
	if (sent == -EPIPE && b->dead == 0)
		b->dead = -EPIPE; /* the holder's own write met the peer gone */
	int64_t was = atomic_load_explicit(&b->since, memory_order_relaxed);
	set_since(b); /* (a message's rest may be left: the timer sends it) */
	if (was == 0 && atomic_load_explicit(&b->since, memory_order_relaxed))
		arm(b);
	pthread_mutex_unlock(&b->lock);
}

int ipk__batch_flush(ipk__stream *s, int64_t deadline)
{
	struct ipk__batch *b = s->batch;
	pthread_mutex_lock(&b->lock);
	check_fork(b);
	int rc = take_err(b, NULL);
	if (rc == 0)
		rc = push_locked(b, deadline, 0);
	pthread_mutex_unlock(&b->lock);
	return rc;
}

bool ipk__batch_push(ipk__stream *s)
{
	struct ipk__batch *b = s->batch;
	if (atomic_load_explicit(&b->since, memory_order_relaxed) == 0)
		return false;
	pthread_mutex_lock(&b->lock);
	check_fork(b);
	int rc = push_locked(b, IPK__NOW, 0);
	if (ends_sending(rc) && b->err == 0) {
		b->err = rc; /* for the next send, flush or close to report */
		b->lost = b->dropped;
	}
	bool left = b->len > b->off || s->blen > s->boff;
	pthread_mutex_unlock(&b->lock);
	return left;
}

int ipk__batch_wait(ipk__stream *s, int64_t deadline)
{
	struct pollfd pf[2] = {{.fd = s->rfd, .events = POLLIN},
	                       {.fd = s->wfd, .events = POLLOUT}};
	if (s->rfd == s->wfd) { /* a socket: one descriptor, both ways */
		pf[0].events |= POLLOUT;
		return ipk__wait_pollfds(pf, 1, deadline);
	}
	return ipk__wait_pollfds(pf, 2, deadline);
}

static int unbatch(ipk__stream *s, int64_t deadline, bool closing)
{
	struct ipk__batch *b = s->batch;
	unlist(b); /* the flusher no longer looks at it */
	pthread_mutex_lock(&b->lock);
	check_fork(b);
	int rc = take_err(b, NULL);
	if (s->wfd >= 0) {
		int r = push_locked(b, deadline, 0);
		if (r < 0 && rc == 0) {
			size_t left = b->len - b->off;
			rc = left ? ipk__err(r, "%s; %zu bytes of batched messages "
			                        "were not delivered%s",
			                     ipk_last_error(), left,
			                     closing ? " (raise ?linger=)" : "")
			          : r;
		}
	}
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_destroy(&b->lock);
	free(b->buf);
	free(b);
	s->batch = NULL;
	return rc;
}

int ipk__batch_close(ipk__stream *s, int linger_ms)
{
	return unbatch(s, ipk__deadline(linger_ms), true);
}

int ipk__stream_unbatch(ipk__stream *s, int64_t deadline)
{
	return s->batch ? unbatch(s, deadline, false) : 0;
}

int ipk__pair_batch(ipk_chan *a, ipk__stream *sa, ipk__stream *sb)
{
	size_t cap = 0;
	int64_t delay = 0;
	int rc = ipk__batch_options(&a->url, &cap, &delay);
	if (rc <= 0)
		return rc;
	if ((rc = ipk__stream_batch(sa, cap, delay)) < 0 ||
	    (rc = ipk__stream_batch(sb, cap, delay)) < 0) {
		/* the pair is not made: let go of both ends */
		ipk__stream_close(sa, 0);
		ipk__stream_close(sb, 0);
		return rc;
	}
	return 0;
}
