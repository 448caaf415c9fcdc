/*
 * Publish/subscribe on shared memory: a broadcast ring in a region named by
 * a shm:, sysvshm: or mmap: address (see shmcast.h and docs/pubsub.md).
 * Either side may create the ring (listen); the other attaches (dial). The
 * region outlives its creator while anyone is attached, so a publisher can
 * restart and continue; the last process to leave removes it, unless the
 * ring is kept: made, or listened on since, with ?persist.
 */
#define _GNU_SOURCE
#include "shmcast.h"
#include "../shm/region.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#define DEFAULT_SIZE ((size_t)1 << 20)

struct ipk__shmcast {
	ipk_region *region;
	struct ipk__bcast b;
	char *name;
	bool publisher;
	ipk_chan *c;        /* the channel (its address, to follow the name) */
	int64_t next_look;  /* subscriber: when to look at the name again */
};

/* A subscriber waiting this long looks whether its ring's name now leads
   to another ring (see follow()). */
#define FOLLOW_NS ((int64_t)250 * 1000000)

struct cast_opts {
	size_t size;
	enum ipk__ring_wait wait;
	int64_t spin_ns;
	int slow;         /* -1 not given, 0 drop, 1 block */
	long history;     /* -1 not given */
	long subs;        /* 0 not given */
};

bool ipk__shmcast_scheme(const ipk_chan *c)
{
	const char *s = c->tp->scheme;
	return strcmp(s, "shm") == 0 || strcmp(s, "sysvshm") == 0 ||
	       strcmp(s, "mmap") == 0;
}

static int parse_opts(ipk_chan *c, struct cast_opts *o)
{
	ipk__url *u = &c->url;
	o->size = DEFAULT_SIZE;
	o->wait = IPK__WAIT_HYBRID;
	o->spin_ns = 50000;
	o->slow = -1;
	o->history = -1;
	o->subs = 0;
	const char *v = NULL;
	long spin_us = 0;
	bool mpmc = false;
	int rc;
	if ((rc = ipk__opt_size(u, "size", &o->size)) < 0)
		return rc;
	if ((rc = ipk__opt_flag(u, "mpmc", &mpmc)) < 0)
		return rc;
	if (rc > 0)
		return ipk__err(-EINVAL, "address '%s': ?mpmc is for rings; a "
		                         "publish/subscribe ring has one publisher "
		                         "and many subscribers by design", u->text);
	if ((rc = ipk__opt_str(u, "wait", &v)) < 0)
		return rc;
	if (v != NULL) {
		if (strcmp(v, "hybrid") == 0)
			o->wait = IPK__WAIT_HYBRID;
		else if (strcmp(v, "spin") == 0)
			o->wait = IPK__WAIT_SPIN;
		else if (strcmp(v, "block") == 0)
			o->wait = IPK__WAIT_BLOCK;
		else
			return ipk__err(-EINVAL, "address '%s': wait=%s: expected spin, "
			                         "block or hybrid", u->text, v);
	}
	if ((rc = ipk__opt_long(u, "spin", 0, 10000000, &spin_us)) < 0)
		return rc;
	if (rc > 0)
		o->spin_ns = (int64_t)spin_us * 1000;
	v = NULL;
	if ((rc = ipk__opt_str(u, "slow", &v)) < 0)
		return rc;
	if (v != NULL) {
		if (strcmp(v, "drop") == 0)
			o->slow = 0;
		else if (strcmp(v, "block") == 0)
			o->slow = 1;
		else
			return ipk__err(-EINVAL, "address '%s': slow=%s: expected drop "
			                         "or block", u->text, v);
	}
	if ((rc = ipk__opt_long(u, "history", 0, 0x7fffffff, &o->history)) < 0)
		return rc;
	if ((rc = ipk__opt_long(u, "subs", 1, IPK__BCAST_MAX_SLOTS, &o->subs)) < 0)
		return rc;
	return 0;
}

static void cast_free(struct ipk__shmcast *s)
{
	if (s == NULL)
		return;
	ipk__bcast_close_fds(&s->b);
	if (s->region)
		ipk_region_detach(s->region);
	free(s->name);
	free(s);
}

/* Attach to the ring in s->region, waiting a little for a creator that is
   still laying it out. */
static int attach_ring(struct ipk__shmcast *s, ipk_chan *c, int64_t deadline)
{
	enum ipk__bcast_role role = s->publisher ? IPK__BCAST_PUB : IPK__BCAST_SUB;
	unsigned round = 0;
	for (;;) {
		size_t size;
		int rc = ipk__region_object_size(s->region, &size);
		if (rc < 0)
			return rc;
		if (size > ipk_region_size(s->region))
			size = ipk_region_size(s->region);
		void *mem = ipk_region_addr(s->region);
		rc = ipk__bcast_attach(&s->b, mem, size, role, s->name);
		if (rc == -EPROTO && size >= 8 && !ipk__bcast_is(mem, size))
			return ipk__err(-EPROTO,
			                "%s holds something other than a publish/"
			                "subscribe ring (a plain ring, or foreign "
			                "data): remove it, or use another name",
			                c->url.text);
		if (rc != -EAGAIN)
			return rc;
		if (ipk__expired(deadline) || ipk__backoff(&round, deadline) < 0)
			return ipk__err(-EPROTO,
			                "region %s exists but no publish/subscribe ring "
			                "was laid out in it (its creator died? remove "
			                "it with ipk_remove)", c->url.text);
	}
}

static int create_or_attach(struct ipk__shmcast *s, ipk_chan *c,
                            const struct cast_opts *o)
{
	int rc = ipk__region_open(&s->region, &c->url, o->size, IPK_REGION_CREATE,
	                          c->mode);
	if (rc == 0) {
		struct ipk__bcast_fmt f = {
			.nslots = (uint32_t)o->subs,
			.block = o->slow == 1,
			.persist = c->persist,
			.history = o->history > 0 ? (uint32_t)o->history : 0,
		};
		rc = ipk__bcast_format(ipk_region_addr(s->region),
		                       ipk_region_size(s->region), &f);
		if (rc == 0)
			rc = attach_ring(s, c, IPK__NOW);
		if (rc < 0) {
			ipk_region_remove(s->region);
			return rc;
		}
#ifdef MADV_POPULATE_WRITE
		/* every page now: a fault in the middle of a message is a spike */
		(void)madvise(ipk_region_addr(s->region), ipk_region_size(s->region),
		              MADV_POPULATE_WRITE);
#endif
		return 0;
	}
	if (rc != -EEXIST)
		return rc;
	/* one exists: join it (a publisher takes over a dead one's place) */
	rc = ipk__region_open(&s->region, &c->url, 0, IPK_REGION_ATTACH, c->mode);
	if (rc < 0)
		return rc;
	return attach_ring(s, c, ipk__deadline(1000));
}

static int attach_existing(struct ipk__shmcast *s, ipk_chan *c,
                           int64_t deadline)
{
	unsigned round = 0;
	int rc;
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
			               ? ipk__err(-ENOENT, "no publish/subscribe ring at "
			                                   "%s (is the other side "
			                                   "running?)", c->url.text)
			               : ipk__err(-EPROTO, "region %s stays empty",
			                          c->url.text);
	}
	return attach_ring(s, c, deadline);
}

int ipk__shmcast_open(struct ipk__shmcast **out, ipk_chan *c, bool publisher,
                      bool listening, int64_t deadline)
{
	*out = NULL;
	struct cast_opts o;
	int rc = parse_opts(c, &o);
	if (rc < 0)
		return rc;
	struct ipk__shmcast *s = calloc(1, sizeof *s);
	if (s == NULL || (s->name = strdup(c->url.text)) == NULL) {
		free(s);
		return ipk__err(-ENOMEM, "out of memory");
	}
	s->publisher = publisher;
	s->c = c;
	rc = listening ? create_or_attach(s, c, &o)
	               : attach_existing(s, c, deadline);
	if (rc < 0)
		goto fail;
	struct ipk__bcast *b = &s->b;
	b->wait = o.wait;
	b->spin_ns = o.spin_ns;
	if (publisher) {
		rc = ipk__bcast_pub_register(b);
	} else {
		b->maxmsg = c->maxmsg;
		if (o.slow >= 0)
			b->block = o.slow == 1;
		if (o.history >= 0)
			b->history = (uint32_t)o.history;
		rc = ipk__bcast_sub_register(b);
	}
	if (rc < 0)
		goto fail;
	/* ?persist belongs to the ring, not to an address: a listener that
	   joins a ring made without it keeps it too (docs/channels.md) */
	if (listening && c->persist)
		ipk__bcast_keep(b);
	*out = s;
	return 0;
fail:
	if (s->region && s->region->created)
		ipk_region_remove(s->region);
	cast_free(s);
	return rc;
}

int ipk__shmcast_close(struct ipk__shmcast *s)
{
	if (s == NULL)
		return 0;
	int rc = 0;
	struct ipk__bcast *b = &s->b;
	if (b->h != NULL) {
		bool mine = ipk__bcast_registered_here(b);
		/* a spoiled header's persist flag and slots are garbage, and
		   nobody can attach to the ring again: take it away */
		bool spoiled = ipk__bcast_spoiled(b);
		ipk__bcast_detach(b);
		/* the last one out takes the name along (a child that inherited
		   the channel just lets go) */
		if (mine && (spoiled || (!(b->h->flags & IPK__BCAST_F_PERSIST) &&
		                         !ipk__bcast_others_alive(b)))) {
			rc = ipk_region_remove(s->region);
			if (rc == -ENOENT)
				rc = 0;
		}
	}
	cast_free(s);
	return rc;
}

void ipk__shmcast_filter(struct ipk__shmcast *s, ipk__bcast_match match,
                         void *arg)
{
	s->b.match = match;
	s->b.match_arg = arg;
}

ssize_t ipk__shmcast_send(struct ipk__shmcast *s, const void *buf, size_t len,
                          int64_t deadline)
{
	return ipk__bcast_publish(&s->b, buf, len, deadline);
}

/* Has the object behind the region been removed (its name unlinked, the
   segment marked for destruction)? */
static bool region_gone(const ipk_region *r)
{
	if (r->kind == IPK__REGION_SYSV) {
		struct shmid_ds ds;
		if (shmctl(r->shmid, IPC_STAT, &ds) < 0)
			return errno == EINVAL || errno == EIDRM;
		return ds.shm_perm.mode & SHM_DEST;
	}
	struct stat st;
	return r->fd >= 0 && fstat(r->fd, &st) == 0 && st.st_nlink == 0;
}

/*
 * A subscriber whose ring was removed while it was attached (someone
 * forced it, or the last process left while this one was joining) would
 * wait on memory nobody writes any more. Once a new ring exists under the
 * same name (a publisher started again), move over to it and take what it
 * already holds: 1 moved, 0 nothing to do (yet).
 */
static int follow(struct ipk__shmcast *s)
{
	int64_t now = ipk__now_ns();
	if (now < s->next_look)
		return 0;
	s->next_look = now + FOLLOW_NS;
	if (!region_gone(s->region))
		return 0;
	ipk_region *nr;
	if (ipk__region_open(&nr, &s->c->url, 0,
	                     IPK_REGION_ATTACH | IPK__REGION_NOT_EMPTY,
	                     s->c->mode) < 0)
		return 0; /* none yet */
	size_t size;
	struct ipk__bcast nb;
	if (ipk__region_object_size(nr, &size) < 0 ||
	    ipk__bcast_attach(&nb, ipk_region_addr(nr),
	                      size < ipk_region_size(nr) ? size
	                                                 : ipk_region_size(nr),
	                      IPK__BCAST_SUB, s->name) < 0) {
		ipk_region_detach(nr);
		return 0; /* not laid out yet, or not ours: look again later */
	}
	/* our settings go along; everything the new ring holds is new to us */
	nb.wait = s->b.wait;
	nb.spin_ns = s->b.spin_ns;
	nb.maxmsg = s->b.maxmsg;
	nb.block = s->b.block;
	nb.match = s->b.match;
	nb.match_arg = s->b.match_arg;
	nb.history = UINT32_MAX >> 1;
	if (ipk__bcast_sub_register(&nb) < 0) {
		ipk__bcast_close_fds(&nb);
		ipk_region_detach(nr);
		return 0;
	}
	int keep_fd = s->b.bell_rx;
	s->b.bell_rx = -1; /* the doorbell's number stays the caller's */
	ipk__bcast_detach(&s->b);
	ipk__bcast_close_fds(&s->b);
	ipk_region_detach(s->region);
	s->region = nr;
	s->b = nb;
	if (keep_fd >= 0) {
		s->b.bell_rx = keep_fd;
		s->b.bell_nonce = 0;
		(void)ipk__bcast_fd(&s->b); /* rebinds under the same number */
	}
	return 1;
}

ssize_t ipk__shmcast_recv(struct ipk__shmcast *s, ipk__rx *rx,
                          int64_t deadline)
{
	if (s->publisher)
		return ipk__bcast_recv(&s->b, rx, deadline);
	for (;;) {
		/* wait in slices, looking at the name between them */
		int64_t slice = deadline;
		if (deadline != IPK__NOW) {
			int64_t cut = ipk__now_ns() + FOLLOW_NS;
			if (cut < deadline)
				slice = cut;
		}
		ssize_t n = ipk__bcast_recv(&s->b, rx, slice);
		if (n != -ETIMEDOUT || slice == deadline)
			return n;
		if (follow(s) < 0)
			return n;
	}
}

ssize_t ipk__shmcast_borrow(struct ipk__shmcast *s, void **buf, size_t len,
                            int64_t deadline)
{
	return ipk__bcast_borrow(&s->b, buf, len, deadline);
}

ssize_t ipk__shmcast_commit(struct ipk__shmcast *s, size_t len)
{
	return ipk__bcast_commit(&s->b, len);
}

int ipk__shmcast_abort(struct ipk__shmcast *s)
{
	return ipk__bcast_abort(&s->b);
}

ssize_t ipk__shmcast_peek(struct ipk__shmcast *s, const void **buf,
                          uint64_t *missed, int64_t deadline)
{
	if (s->publisher)
		return ipk__bcast_peek(&s->b, buf, missed, deadline);
	for (;;) {
		int64_t slice = deadline;
		if (deadline != IPK__NOW) {
			int64_t cut = ipk__now_ns() + FOLLOW_NS;
			if (cut < deadline)
				slice = cut;
		}
		ssize_t n = ipk__bcast_peek(&s->b, buf, missed, slice);
		if (n != -ETIMEDOUT || slice == deadline)
			return n;
		follow(s);
	}
}

int ipk__shmcast_release(struct ipk__shmcast *s)
{
	return ipk__bcast_release(&s->b);
}

int ipk__shmcast_fd(struct ipk__shmcast *s)
{
	return ipk__bcast_fd(&s->b);
}

int ipk__shmcast_pending(struct ipk__shmcast *s)
{
	return ipk__bcast_readable(&s->b);
}

int ipk__shmcast_subscribers(struct ipk__shmcast *s)
{
	struct ipk__bcast_hdr *h = s->b.h;
	int n = 0;
	for (uint32_t i = 0; i < s->b.nslots; i++) {
		uint64_t o = atomic_load_explicit(&h->slots[i].owner,
		                                  memory_order_acquire);
		if (o == 0 || (o & IPK__BC_RECLAIM))
			continue;
		if (ipk__bcast_owner_alive(o))
			n++;
		else
			ipk__bcast_reclaim(&s->b, i, o);
	}
	return n;
}

int ipk__shmcast_info(struct ipk__shmcast *s, ipk__bcast_info *info)
{
	return ipk__bcast_info_get(&s->b, info);
}
