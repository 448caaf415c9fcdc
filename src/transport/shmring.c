/*
 * shm:, sysvshm:, mmap: — a message ring inside a shared region (POSIX
 * shared memory, a System V segment, a mapped file). The listener creates
 * the region and the ring and receives; dialers send. In an ?mpmc ring
 * several processes listen (consume) and dial (produce). ipk_pair("shm:")
 * puts one ring each way in an anonymous region for use across fork.
 * Also here: the public zero-copy calls, which only rings have.
 */
#define _GNU_SOURCE
#include "../core/internal.h"
#include "../core/owner.h"
#include "../shm/region.h"
#include "../shm/ring.h"
#include "../proto/pubsub.h"
#include "shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEFAULT_SIZE ((size_t)1 << 20)

struct shm_chan {
	ipk_region *region;
	int *region_refs;   /* pair: both ends share the mapping */
	struct ipk__ring in;  /* consumer side (listener, pair) */
	struct ipk__ring out; /* producer side (dialer, pair) */
	bool has_in, has_out;
	bool shut;          /* ipk_shutdown: no more sending */
	int life_w;         /* pair: this end's life pipe (write end) */
	int peer_life_r;    /* pair: the other end's life pipe (read end) */
	bool paired;
	bool adopted;       /* listener: joined or took over a ring it did
	                       not create */
};

struct ring_opts {
	size_t size;
	bool mpmc, mpmc_given;
	enum ipk__ring_wait wait;
	int64_t spin_ns;
};

static int parse_opts(ipk_chan *c, struct ring_opts *o)
{
	o->size = DEFAULT_SIZE;
	o->mpmc = false;
	o->wait = IPK__WAIT_HYBRID;
	o->spin_ns = 50000;
	int rc;
	const char *w = NULL;
	long spin_us = 0;
	if ((rc = ipk__opt_size(&c->url, "size", &o->size)) < 0)
		return rc;
	if ((rc = ipk__opt_flag(&c->url, "mpmc", &o->mpmc)) < 0)
		return rc;
	o->mpmc_given = rc > 0;
	if ((rc = ipk__opt_str(&c->url, "wait", &w)) < 0)
		return rc;
	if (w != NULL) {
		if (strcmp(w, "hybrid") == 0)
			o->wait = IPK__WAIT_HYBRID;
		else if (strcmp(w, "spin") == 0)
			o->wait = IPK__WAIT_SPIN;
		else if (strcmp(w, "block") == 0)
			o->wait = IPK__WAIT_BLOCK;
		else
			return ipk__err(-EINVAL,
			                "address '%s': wait=%s: expected spin, block or "
			                "hybrid", c->url.text, w);
	}
	if ((rc = ipk__opt_long(&c->url, "spin", 0, 10000000, &spin_us)) < 0)
		return rc;
	if (rc > 0)
		o->spin_ns = (int64_t)spin_us * 1000;
	return 0;
}

/* Map every page of the ring now: a ring cycles through all of its memory,
   and a page fault in the middle of a message is a latency spike. */
static void prefault(ipk_region *reg)
{
#ifdef MADV_POPULATE_WRITE
	(void)madvise(ipk_region_addr(reg), ipk_region_size(reg),
	              MADV_POPULATE_WRITE);
#else
	(void)reg;
#endif
}

static void set_waiting(struct ipk__ring *r, const struct ring_opts *o)
{
	r->wait = o->wait;
	r->spin_ns = o->spin_ns;
}

static void drop_region(struct shm_chan *s)
{
	if (s->region_refs) {
		if (--*s->region_refs > 0) {
			s->region = NULL;
			return;
		}
		free(s->region_refs);
		s->region_refs = NULL;
	}
	ipk_region_detach(s->region);
	s->region = NULL;
}

/* Named rings: the slow looks ask whether the name still leads here. */
static bool region_gone(void *arg)
{
	return ipk__region_gone(arg);
}

static int region_size_now(struct shm_chan *s, size_t *size)
{
	int rc = ipk__region_object_size(s->region, size);
	if (rc == 0 && *size > ipk_region_size(s->region))
		*size = ipk_region_size(s->region);
	return rc;
}

/* Attach to a ring that already exists, waiting a little for a creator
   that is still laying it out. */
static int attach_existing(ipk_chan *c, struct ipk__ring *r,
                           enum ipk__ring_role role, int64_t deadline)
{
	struct shm_chan *s = ipk__priv(c);
	unsigned round = 0;
	for (;;) {
		size_t size;
		int rc = region_size_now(s, &size);
		if (rc < 0)
			return rc;
		rc = ipk__ring_attach(r, ipk_region_addr(s->region), size, role,
		                      c->url.text);
		if (rc != -EAGAIN)
			return rc;
		if (ipk__expired(deadline) || ipk__backoff(&round, deadline) < 0)
			return ipk__err(-EPROTO,
			                "region %s exists but holds no ipckit ring "
			                "(not one, or its creator died laying it out; "
			                "remove it with ipk_remove)", c->url.text);
	}
}

static int ring_listen(ipk_chan *c)
{
	struct shm_chan *s = ipk__priv(c);
	struct ring_opts o;
	int rc = parse_opts(c, &o);
	if (rc < 0)
		return rc;
	c->role = IPK__OWNER;
	rc = ipk__region_open(&s->region, &c->url, o.size, IPK_REGION_CREATE,
	                      c->mode);
	if (rc == 0) {
		rc = ipk__ring_format(ipk_region_addr(s->region),
		                      ipk_region_size(s->region), o.mpmc, c->persist);
		if (rc == 0)
			rc = ipk__ring_attach(&s->in, ipk_region_addr(s->region),
			                      ipk_region_size(s->region),
			                      IPK__RING_CONSUMER, c->url.text);
		if (rc < 0) {
			ipk_region_remove(s->region);
			drop_region(s);
			return rc;
		}
	} else if (rc == -EEXIST) {
		/* a ring left by a consumer that died (or persisted): take it on */
		rc = ipk__region_open(&s->region, &c->url, 0, IPK_REGION_ATTACH,
		                      c->mode);
		if (rc == 0)
			rc = attach_existing(c, &s->in, IPK__RING_CONSUMER,
			                     ipk__deadline(1000));
		if (rc == 0 && o.mpmc_given && o.mpmc != s->in.mpmc)
			rc = ipk__err(-EINVAL, "ring %s exists as %s; ?mpmc does not "
			                       "change it", c->url.text,
			              s->in.mpmc ? "MPMC" : "SPSC");
		if (rc < 0) {
			drop_region(s);
			return rc;
		}
		s->adopted = true;
	} else {
		return rc;
	}
	set_waiting(&s->in, &o);
	s->in.maxmsg = c->maxmsg;
	s->in.gone = region_gone;
	s->in.gone_arg = s->region;
	prefault(s->region);
	rc = ipk__ring_register(&s->in, c->url.text);
	if (rc < 0) {
		if (s->region->created)
			ipk_region_remove(s->region);
		drop_region(s);
		return rc;
	}
	ipk__ring_listening(&s->in, c->persist);
	s->has_in = true;
	/* ?persist belongs to the ring, not to the address it is opened by */
	c->persist = c->persist ||
	             atomic_load_explicit(&s->in.h->persist, memory_order_acquire);
	return 0;
}

static int ring_dial(ipk_chan *c, int64_t deadline)
{
	struct shm_chan *s = ipk__priv(c);
	struct ring_opts o;
	int rc = parse_opts(c, &o);
	if (rc < 0)
		return rc;
	unsigned round = 0;
	for (;;) {
		rc = ipk__region_open(&s->region, &c->url, 0,
		                      IPK_REGION_ATTACH | IPK__REGION_NOT_EMPTY,
		                      c->mode);
		if (rc == 0)
			break;
		if (rc != -ENOENT && rc != -EAGAIN)
			return rc;
		if (ipk__expired(deadline) || ipk__backoff(&round, deadline) < 0)
			return rc == -ENOENT
			               ? ipk__err(-ENOENT, "no ring at %s (is a listener "
			                                   "running?)", c->url.text)
			               : ipk__err(-EPROTO, "region %s stays empty: no "
			                                   "ring was laid out in it",
			                          c->url.text);
	}
	rc = attach_existing(c, &s->out, IPK__RING_PRODUCER, deadline);
	if (rc == 0) {
		prefault(s->region);
		set_waiting(&s->out, &o);
		s->out.gone = region_gone;
		s->out.gone_arg = s->region;
		rc = ipk__ring_register(&s->out, c->url.text);
	}
	if (rc < 0) {
		drop_region(s);
		return rc;
	}
	s->has_out = true;
	return 0;
}

static int ring_pair(ipk_chan *a, ipk_chan *b)
{
	struct shm_chan *sa = ipk__priv(a), *sb = ipk__priv(b);
	struct ring_opts o;
	int rc = parse_opts(a, &o);
	if (rc < 0)
		return rc;
	size_t half = (o.size + 4095) & ~(size_t)4095;
	int *refs = malloc(sizeof *refs);
	if (refs == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	ipk_region *reg;
	if ((rc = ipk_region_anon(&reg, 2 * half)) < 0) {
		free(refs);
		return rc;
	}
	prefault(reg);
	unsigned char *m = ipk_region_addr(reg);
	const char *name = a->url.text;
	/* ring 0 carries b -> a, ring 1 a -> b; registration waits for first
	   use, so after fork each end belongs to the process that uses it */
	if ((rc = ipk__ring_format(m, half, o.mpmc, false)) < 0 ||
	    (rc = ipk__ring_format(m + half, half, o.mpmc, false)) < 0 ||
	    (rc = ipk__ring_attach(&sa->in, m, half, IPK__RING_CONSUMER, name)) < 0 ||
	    (rc = ipk__ring_attach(&sa->out, m + half, half, IPK__RING_PRODUCER,
	                           name)) < 0 ||
	    (rc = ipk__ring_attach(&sb->in, m + half, half, IPK__RING_CONSUMER,
	                           b->url.text)) < 0 ||
	    (rc = ipk__ring_attach(&sb->out, m, half, IPK__RING_PRODUCER,
	                           b->url.text)) < 0) {
		ipk_region_detach(reg);
		free(refs);
		return rc;
	}
	/* each end holds the write end of a pipe the other end watches: the
	   kernel reports HUP when every process has closed that end */
	int la[2], lb[2];
	if (pipe2(la, O_CLOEXEC) < 0) {
		rc = ipk__errno(-errno, "pipe2");
		ipk_region_detach(reg);
		free(refs);
		return rc;
	}
	if (pipe2(lb, O_CLOEXEC) < 0) {
		rc = ipk__errno(-errno, "pipe2");
		close(la[0]);
		close(la[1]);
		ipk_region_detach(reg);
		free(refs);
		return rc;
	}
	sa->life_w = la[1];
	sa->peer_life_r = lb[0];
	sb->life_w = lb[1];
	sb->peer_life_r = la[0];
	sa->in.peer_life_fd = sa->out.peer_life_fd = lb[0];
	sb->in.peer_life_fd = sb->out.peer_life_fd = la[0];
	sa->paired = sb->paired = true;
	*refs = 2;
	sa->region = sb->region = reg;
	sa->region_refs = sb->region_refs = refs;
	set_waiting(&sa->in, &o);
	set_waiting(&sa->out, &o);
	set_waiting(&sb->in, &o);
	set_waiting(&sb->out, &o);
	sa->in.maxmsg = a->maxmsg;
	sb->in.maxmsg = b->maxmsg;
	sa->has_in = sa->has_out = sb->has_in = sb->has_out = true;
	return 0;
}

static ssize_t ring_send(ipk_chan *c, const void *buf, size_t len,
                         const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct shm_chan *s = ipk__priv(c);
	if (!s->has_out)
		return ipk__err(-EOPNOTSUPP,
		                "%s: the listener receives; dial the ring to send",
		                c->tp->scheme);
	if (s->shut)
		return ipk__err(-EPIPE, "%s: sending was shut down", c->url.text);
	return ipk__ring_send(&s->out, buf, len, deadline);
}

static ssize_t ring_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct shm_chan *s = ipk__priv(c);
	if (!s->has_in)
		return ipk__err(-EOPNOTSUPP,
		                "%s: a dialer sends; listen on the ring to receive",
		                c->tp->scheme);
	return ipk__ring_recv(&s->in, rx, deadline);
}

static int ring_fd(const ipk_chan *c)
{
	struct shm_chan *s = ipk__priv(c);
	return s->has_in ? ipk__ring_fd(&s->in) : ipk__ring_tx_fd(&s->out);
}

static int ring_pending(const ipk_chan *c)
{
	struct shm_chan *s = ipk__priv(c);
	return s->has_in ? ipk__ring_readable(&s->in) : 0;
}

static int ring_shutdown(ipk_chan *c)
{
	struct shm_chan *s = ipk__priv(c);
	if (!s->has_out)
		return ipk__err(-EOPNOTSUPP, "%s: the listener does not send",
		                c->tp->scheme);
	if (!s->shut)
		ipk__ring_detach(&s->out);
	s->shut = true;
	return 0;
}

static int ring_close(ipk_chan *c)
{
	struct shm_chan *s = ipk__priv(c);
	int rc = 0;
	if (s->has_out) {
		ipk__ring_detach(&s->out);
		ipk__ring_close_fds(&s->out);
	}
	if (s->has_in) {
		bool mine = s->in.slot >= 0 && s->in.pid == getpid();
		/* a ring whose header was spoiled can serve nobody again, and
		   its persist word and slots are garbage: its creator takes
		   the name away (the region is ours: checked by inode) */
		bool spoiled = ipk__ring_spoiled(&s->in);
		ipk__ring_detach(&s->in);
		ipk__ring_close_fds(&s->in);
		/* the last consumer to leave takes the name with it, then tells
		   the producers that nobody will read the ring again (in that
		   order: a new listener of the name gets a new ring) */
		bool keep = false;
		if (mine && s->region_refs == NULL && ipk__removes_on_close(c) &&
		    !spoiled) {
			/* asked again: a listener that joined since may have
			   asked for ?persist */
			ipk_ringinfo info;
			ipk__ring_info(&s->in, &info);
			keep = ipk__owner_keeps(
			        atomic_load_explicit(&s->in.h->persist,
			                             memory_order_acquire),
			        s->adopted, (long)(info.used > 0));
		}
		if (mine && s->region_refs == NULL && ipk__removes_on_close(c) &&
		    !keep && (spoiled ||
		              ipk__ring_side_alive(&s->in, IPK__RING_CONSUMER) == 0)) {
			rc = ipk_region_remove(s->region);
			if (rc == -ENOENT)
				rc = 0;
			ipk__ring_close_for_good(&s->in);
		}
	}
	drop_region(s);
	if (s->paired) {
		close(s->life_w);
		close(s->peer_life_r);
	}
	return rc;
}

static int ring_remove(ipk__url *u)
{
	return ipk__region_remove_url(u);
}

static const char *const shm_opts[] = {"size", "mpmc", "wait", "spin", NULL};
static const char *const sysv_opts[] = {"size", "mpmc", "wait", "spin", "proj",
                                        NULL};

static ssize_t ring_peek(ipk_chan *c, const void **buf, int64_t deadline);
static int ring_release(ipk_chan *c);

#define RING_OPS                 \
	.priv_size = sizeof(struct shm_chan), \
	.listen = ring_listen,       \
	.dial = ring_dial,           \
	.send = ring_send,           \
	.recv = ring_recv,           \
	.fd = ring_fd,               \
	.pending = ring_pending,     \
	.shutdown = ring_shutdown,   \
	.close = ring_close,         \
	.peek = ring_peek,           \
	.release = ring_release,     \
	.remove = ring_remove

const struct ipk_transport ipk__shm_transport = {
	.scheme = "shm",
	.summary = "ring in POSIX shared memory: listener receives, dialers "
	           "send (shm_open)",
	.options = shm_opts,
	.pair = ring_pair,
	RING_OPS,
};

const struct ipk_transport ipk__sysvshm_transport = {
	.scheme = "sysvshm",
	.summary = "ring in a System V segment: listener receives, dialers "
	           "send (shmget)",
	.options = sysv_opts,
	RING_OPS,
};

const struct ipk_transport ipk__mmap_transport = {
	.scheme = "mmap",
	.summary = "ring in a memory-mapped file that survives reboots: "
	           "listener receives, dialers send",
	.options = shm_opts,
	RING_OPS,
};

/* ------------------------------------------------- public ring calls */

static struct shm_chan *ring_of(const ipk_chan *c, const char *fn)
{
	if (c == NULL) {
		ipk__err(-EINVAL, "%s: NULL channel", fn);
		return NULL;
	}
	if (c->tp != &ipk__shm_transport && c->tp != &ipk__sysvshm_transport &&
	    c->tp != &ipk__mmap_transport) {
		ipk__err(-EOPNOTSUPP, "%s: %s: only shared-memory rings (shm:, "
		                      "sysvshm:, mmap:) lend their memory",
		         fn, c->tp->scheme);
		return NULL;
	}
	/* a REQ/REP/PUSH/PULL socket keeps no ring state of its own in priv:
	   its rings belong to the pattern layer (broadcast rings of PUB/SUB
	   were handled by the caller) */
	if (c->sock != NULL) {
		ipk__err(-EOPNOTSUPP, "%s: %s is a messaging-pattern socket: "
		                      "the pattern layer reads and writes its rings",
		         fn, c->url.text);
		return NULL;
	}
	return ipk__priv(c);
}

#define RING_OR_FAIL(s, c, fn)                                             \
	struct shm_chan *s = ring_of(c, fn);                                   \
	if (s == NULL)                                                         \
		return c == NULL ? -EINVAL : -EOPNOTSUPP

static int no_side(const ipk_chan *c, bool send)
{
	return ipk__err(-EOPNOTSUPP,
	                send ? "%s: the listener receives; dial the ring to send"
	                     : "%s: a dialer sends; listen on the ring to receive",
	                c->url.text);
}

ssize_t ipk_send_borrow(ipk_chan *c, void **buf, size_t len, int timeout_ms)
{
	if (ipk__cast_of(c)) /* publish/subscribe: its broadcast ring */
		return ipk__cast_borrow(c, buf, len, timeout_ms);
	RING_OR_FAIL(s, c, "ipk_send_borrow");
	if (buf == NULL)
		return ipk__err(-EINVAL, "ipk_send_borrow: buf is NULL");
	*buf = NULL;
	if (!s->has_out)
		return no_side(c, true);
	if (s->shut)
		return ipk__err(-EPIPE, "%s: sending was shut down", c->url.text);
	if (len > c->maxmsg)
		return ipk__err(-EMSGSIZE,
		                "message of %zu bytes exceeds the channel limit of "
		                "%zu bytes (raise it with ?maxmsg=)",
		                len, c->maxmsg);
	return ipk__ring_borrow(&s->out, buf, len, ipk__deadline(timeout_ms));
}

ssize_t ipk_send_commit(ipk_chan *c, size_t len)
{
	if (ipk__cast_of(c))
		return ipk__cast_commit(c, len);
	RING_OR_FAIL(s, c, "ipk_send_commit");
	if (!s->has_out)
		return no_side(c, true);
	return ipk__ring_commit(&s->out, len);
}

int ipk_send_abort(ipk_chan *c)
{
	if (ipk__cast_of(c))
		return ipk__cast_abort(c);
	RING_OR_FAIL(s, c, "ipk_send_abort");
	if (!s->has_out)
		return no_side(c, true);
	return ipk__ring_abort(&s->out);
}

ssize_t ipk__ring_chan_peek(ipk_chan *c, const void **buf, int64_t deadline)
{
	struct shm_chan *s = ipk__priv(c);
	*buf = NULL;
	if (!s->has_in)
		return no_side(c, false);
	return ipk__ring_peek(&s->in, buf, deadline);
}

ssize_t ipk__ring_chan_borrow(ipk_chan *c, void **buf, size_t len,
                              int64_t deadline)
{
	struct shm_chan *s = ipk__priv(c);
	*buf = NULL;
	if (!s->has_out)
		return no_side(c, true);
	if (s->shut)
		return ipk__err(-EPIPE, "%s: sending was shut down", c->url.text);
	return ipk__ring_borrow(&s->out, buf, len, deadline);
}

ssize_t ipk__ring_chan_commit(ipk_chan *c, size_t len)
{
	struct shm_chan *s = ipk__priv(c);
	return ipk__ring_commit(&s->out, len);
}

void ipk__ring_chan_release(ipk_chan *c)
{
	struct shm_chan *s = ipk__priv(c);
	if (s->has_in && s->in.lent)
		(void)ipk__ring_release(&s->in);
}

/* ipk_recv_peek and ipk_recv_release (chan.c) come here for rings */
static ssize_t ring_peek(ipk_chan *c, const void **buf, int64_t deadline)
{
	return ipk__ring_chan_peek(c, buf, deadline);
}

static int ring_release(ipk_chan *c)
{
	struct shm_chan *s = ipk__priv(c);
	if (!s->has_in)
		return no_side(c, false);
	if (!s->in.lent)
		return ipk__err(-EINVAL, "%s: no peeked message to release",
		                c->url.text);
	return ipk__ring_release(&s->in);
}

int ipk_ring_info(const ipk_chan *c, ipk_ringinfo *info)
{
	if (ipk__cast_of(c))
		return ipk__err(-EOPNOTSUPP, "ipk_ring_info: %s is a publish/"
		                             "subscribe channel (see ipk_subscribers)",
		                c->url.text);
	RING_OR_FAIL(s, c, "ipk_ring_info");
	if (info == NULL)
		return ipk__err(-EINVAL, "ipk_ring_info: info is NULL");
	ipk__ring_info(s->has_in ? &s->in : &s->out, info);
	return 0;
}
