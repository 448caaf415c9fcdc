/*
 * Who is attached to a ring: slots claimed with one compare-and-swap of an
 * owner word (pid and start time together), liveness from /proc, and the
 * ring-wide flags a listener sets. Each step that others can observe is a
 * single atomic operation, so a process killed between any two leaves a
 * ring the others read correctly (tests/test_shm_register.c kills one at each
 * step through ipk__ring_hook).
 */
#define _GNU_SOURCE
#include "proc.h"
#include "ring_pos.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Rings up to this capacity keep the producer's header map (cap/128
   bytes); larger ones always write terminators. */
#define ZEROED_MAX_CAP ((uint64_t)256 << 20)

void (*ipk__ring_hook)(const char *step);

bool ipk__ring_owner_alive(uint64_t w)
{
	pid_t pid = owner_pid(w);
	if (pid <= 0)
		return false;
	uint64_t start = owner_start(w);
	if (start == 0) /* recorded where /proc could not tell */
		return ipk__proc_alive(pid, 0);
	uint64_t now = ipk__proc_start(pid);
	if (now == 0) /* gone, unless there is no /proc to ask */
		return access("/proc/self/stat", R_OK) != 0 && ipk__proc_alive(pid, 0);
	return owner_start(owner_word(pid, now)) == start;
}

bool ipk__ring_pid_alive(const struct ipk__ring *r, uint32_t pid)
{
	if (pid == 0 || pid > OWNER_PID_MASK)
		return false;
	if (pid == (uint32_t)r->pid && registered_here(r))
		return true;
	const struct ipk__ring_slot *s = r->h->slots;
	for (uint32_t i = 0; i < 2 * r->nslots; i++) {
		uint64_t w = atomic_load_explicit(&s[i].owner, ACQ);
		if (w != 0 && (uint32_t)owner_pid(w) == pid)
			return ipk__ring_owner_alive(w);
	}
	return false;
}

/* Set our slot's per-registration fields to what a new holder starts
   with: whatever a dead predecessor left there means nothing now. */
static void reset_slot(struct ipk__ring *r, int i)
{
	struct ipk__ring_slot *s = &side_slots(r, r->role)[i];
	if (r->role != IPK__RING_CONSUMER) {
		atomic_store_explicit(&s->busy, 0, REL);
		return;
	}
	atomic_fetch_and_explicit(&r->h->armed, ~(UINT64_C(1) << i), SC);
	atomic_store_explicit(&s->bell, 0, RLX);
	atomic_store_explicit(&s->claim, 0, REL);
}

static int spsc_find_tail(struct ipk__ring *r)
{
	/*
	 * Walk from the last producer's position over what it published
	 * without moving the tail (at most one record: it stores the tail
	 * right after each header) to the first word that says "nothing yet"
	 * (ring_pos.h). From the consumer's position only if the tail is not
	 * within a lap ahead of it (a corrupt tail, or the consumer has read
	 * that last record and moved past it).
	 *
	 * A READ word of the position's lap is a record the consumer has
	 * read and left but not yet moved its position past (it is between
	 * its two stores, or was killed there): walked over like the rest.
	 * Taken for the end, the tail would land behind the consumer's next
	 * position: the next message written where nobody reads any more.
	 */
	uint64_t hd = atomic_load_explicit(&r->h->head, ACQ);
	if (!pos_ok(r, hd))
		return ipk__ring_corrupt(r, "consumer position", hd);
	uint64_t p = atomic_load_explicit(&r->h->tail, ACQ);
	if (!pos_ok(r, p) || p_dist(r, p, hd) > r->cap)
		p = hd;
	uint64_t walked = p_dist(r, p, hd);
	for (;;) {
		uint64_t w = atomic_load_explicit(rec_word(r, p), ACQ);
		uint64_t n;
		/* the end: a terminator (or the consumer's READ word from the
		   lap before), or a full lap of records (the last one filled
		   the ring exactly: the word is the consumer's unread header,
		   from the lap before) */
		if (spsc_idle(w, p) || walked == r->cap) {
			r->tail = p;
			r->head_cache = atomic_load_explicit(&r->h->head, ACQ);
			if (!pos_ok(r, r->head_cache))
				r->head_cache = p;
			atomic_store_explicit(&r->h->tail, p, REL);
			return 0;
		}
		if (!w_lap_ok(w, p))
			return ipk__ring_corrupt(r, "record header from another lap",
			                         w);
		unsigned st = w_state(w);
		if (st == ST_SKIP || st == ST_READ)
			n = skip_len(r, p, w);
		else if (st == ST_COMMITTED && len_fits(r, p, w_len(w)))
			n = rec_for(w_len(w));
		else
			n = 0;
		if (n == 0)
			return ipk__ring_corrupt(r, st == ST_READ ? "released record"
			                                          : "record header",
			                         w);
		walked += n;
		if (walked > r->cap)
			return ipk__ring_corrupt(r, "no end of records", p);
		p = p_add(r, p, n);
	}
}

static int no_slot(struct ipk__ring *r, const char *what, pid_t holder)
{
	bool consumer = r->role == IPK__RING_CONSUMER;
	if (r->mpmc)
		return ipk__err(-EUSERS,
		                "ring %s: all %u %s slots are held by live processes",
		                what, r->nslots, consumer ? "consumer" : "producer");
	if (consumer)
		return ipk__err(-EADDRINUSE,
		                "ring %s already has a live consumer (pid %d); a "
		                "single-consumer ring takes one (create it with "
		                "?mpmc for several)", what, (int)holder);
	return ipk__err(-EBUSY,
	                "ring %s is single-producer and pid %d is attached "
	                "(create it with ?mpmc for several producers)",
	                what, (int)holder);
}

int ipk__ring_register(struct ipk__ring *r, const char *what)
{
	ipk__fork_watch();
	uint64_t gen = atomic_load_explicit(&ipk__fork_generation, RLX);
	r->pid = getpid();
	if ((uint64_t)r->pid > OWNER_PID_MASK)
		return ipk__err(-EOVERFLOW, "ring %s: pid %d does not fit a slot",
		                what, (int)r->pid);
	r->owner = owner_word(r->pid, ipk__proc_start(r->pid));
	r->slot = -1;
	r->next_check = 0;
	struct ipk__ring_slot *s = side_slots(r, r->role);
	HOOK("register:start");
	int got = -1;
	for (uint32_t i = 0; i < r->nslots && got < 0; i++) {
		uint64_t z = 0;
		if (atomic_compare_exchange_strong_explicit(&s[i].owner, &z, r->owner,
		                                            SC, RLX))
			got = (int)i;
	}
	pid_t holder = 0;
	for (uint32_t i = 0; i < r->nslots && got < 0; i++) {
		uint64_t w = atomic_load_explicit(&s[i].owner, ACQ);
		if (w == 0) {
			if (atomic_compare_exchange_strong_explicit(&s[i].owner, &w,
			                                            r->owner, SC, RLX))
				got = (int)i; /* freed meanwhile */
			continue;
		}
		if (ipk__ring_owner_alive(w)) {
			holder = owner_pid(w);
			continue;
		}
		/* a dead process's place: take it over */
		if (atomic_compare_exchange_strong_explicit(&s[i].owner, &w, r->owner,
		                                            SC, RLX))
			got = (int)i;
	}
	if (got < 0)
		return no_slot(r, what, holder);
	HOOK("register:claimed");
	reset_slot(r, got);
	HOOK("register:reset");
	if (!r->mpmc) {
		int rc = 0;
		if (r->role == IPK__RING_CONSUMER) {
			uint64_t hd = atomic_load_explicit(&r->h->head, ACQ);
			if (!pos_ok(r, hd))
				rc = ipk__ring_corrupt(r, "consumer position", hd);
			r->head = r->prev = hd;
		} else {
			rc = spsc_find_tail(r);
			/* what the last lap looked like is not known: learn it */
			if (rc == 0 && r->cap <= ZEROED_MAX_CAP) {
				size_t words = (size_t)(r->cap / 16 + 63) / 64;
				free(r->marked);
				r->marked = calloc(words, sizeof *r->marked);
			}
		}
		if (rc < 0) {
			/* leave no slot held by a handle that is not usable */
			uint64_t me = r->owner;
			atomic_compare_exchange_strong_explicit(&s[got].owner, &me, 0, SC,
			                                        RLX);
			return rc;
		}
	}
	r->slot = got;
	r->reg_gen = gen;
	r->light = ipk__fence_light();
	HOOK("register:done");
	return 0;
}

int ipk__ring_ensure(struct ipk__ring *r)
{
	if (registered_here(r))
		return 0;
	/* a child using what it inherited: drop the parent's state */
	r->borrowed = r->have = r->lent = false;
	return ipk__ring_register(r, r->name);
}

int ipk__ring_side_alive(struct ipk__ring *r, enum ipk__ring_role side)
{
	struct ipk__ring_slot *s = side_slots(r, side);
	int alive = 0;
	for (uint32_t i = 0; i < r->nslots; i++) {
		uint64_t w = atomic_load_explicit(&s[i].owner, ACQ);
		if (w == 0)
			continue;
		if ((w == r->owner && registered_here(r)) || ipk__ring_owner_alive(w)) {
			alive++;
			continue;
		}
		/* free the dead one's slot: a restarted peer finds it free */
		if (atomic_compare_exchange_strong_explicit(&s[i].owner, &w, 0, SC,
		                                            RLX) &&
		    side == IPK__RING_CONSUMER)
			atomic_fetch_and_explicit(&r->h->armed, ~(UINT64_C(1) << i), SC);
	}
	return alive;
}

/* Wake every sleeper on a side's word, whether or not one said so. */
static void wake_all(_Atomic uint32_t *seq)
{
	uint32_t v = atomic_load_explicit(seq, RLX);
	while (!atomic_compare_exchange_weak_explicit(seq, &v, (v + 2) & ~1u, SC,
	                                              RLX))
		;
	ipk__futex_wake(seq, 0x7fffffff);
}

void ipk__ring_detach(struct ipk__ring *r)
{
	if (r->h == NULL || !registered_here(r))
		return;
	bool consumer = r->role == IPK__RING_CONSUMER;
	if (r->borrowed)
		ipk__ring_abort(r);
	if (!consumer && r->mpmc)
		ipk__mpmc_leave(r);
	if (consumer && r->have && r->mpmc) {
		/* a claimed message cannot go back in line: it is dropped */
		r->lent = false;
		ipk__ring_release(r);
	}
	HOOK("detach:start");
	struct ipk__ring_slot *mine = &side_slots(r, r->role)[r->slot];
	reset_slot(r, r->slot);
	HOOK("detach:reset");
	uint64_t me = r->owner;
	atomic_compare_exchange_strong_explicit(&mine->owner, &me, 0, SC, RLX);
	HOOK("detach:released");
	r->slot = -1;
	/* the other end of a pair may be waiting to learn that we left (a
	   named ring is a mailbox: a producer leaving ends nobody's wait) */
	if (consumer) {
		wake_all(&r->h->space_seq);
	} else if (r->peer_life_fd >= 0) {
		wake_all(&r->h->data_seq);
		ipk__ring_ring_bells(r);
	}
}

void ipk__ring_close_for_good(struct ipk__ring *r)
{
	if (r->h == NULL)
		return;
	atomic_store_explicit(&r->h->closed, 1, SC);
	wake_all(&r->h->space_seq);
}

void ipk__ring_listening(struct ipk__ring *r, bool persist)
{
	if (persist)
		atomic_store_explicit(&r->h->persist, 1, RLX);
	if (atomic_load_explicit(&r->h->closed, RLX))
		atomic_store_explicit(&r->h->closed, 0, SC);
}
