/*
 * Robust process-shared read-write lock.
 *
 * glibc's pthread_rwlock_t cannot be robust: a reader or writer that dies
 * holding it leaves it held for ever. This one is built only from the
 * robust lock of mtx.h (no pointers in shared memory), so every death is
 * noticed:
 *
 *   gate       a robust mutex. A writer holds it for the whole write; a
 *              reader holds it only while it takes a slot.
 *   slots[64]  one robust mutex per reader. A reader holds its slot for the
 *              whole read and marks it in the readers bitmap.
 *
 * A writer takes the gate (so no new reader gets in: writers are preferred),
 * then locks every slot marked busy, which waits for the readers in there to
 * leave. A reader that died is found that way (-EOWNERDEAD on its slot) and
 * is forgotten: readers change nothing. A writer that died leaves the gate
 * owner-dead with `writing` set; whoever takes the gate next, reader or
 * writer, gets the lock exclusively and -EOWNERDEAD, and must call
 * ipk_rwlock_consistent() before unlocking, or the lock becomes unusable
 * (-ENOTRECOVERABLE), as with a robust mutex.
 */
#define _GNU_SOURCE
#include "mtx.h"
#include "sync.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define RW_MAGIC 0x4b4c5752u /* "RWLK" */
#define NSLOTS IPK_RWLOCK_READERS

enum { RW_OK, RW_INCONSISTENT, RW_NOTRECOVERABLE };

struct slot {
	struct ipk__mtx m;
	uint32_t tid; /* reader thread in this slot */
	uint32_t reserved;
};

struct rwlock_impl {
	uint32_t magic;
	uint32_t state;      /* RW_* */
	uint32_t writing;    /* a writer holds the lock (set once it has it all) */
	uint32_t writer_tid;
	uint64_t readers;    /* bit i: a reader holds slots[i] */
	uint64_t wslots;     /* slots the writer holds (only the writer uses it) */
	struct ipk__mtx gate;
	struct slot slots[NSLOTS];
};

_Static_assert(NSLOTS == 64, "the readers bitmap is one uint64_t");
_Static_assert(sizeof(struct rwlock_impl) <= sizeof(ipk_rwlock),
               "ipk_rwlock too small");

/*
 * Bookkeeping words (state, writing, writer_tid, slot tids) are written by
 * the holder of the gate or of the slot and read under the same mutex, which
 * orders them; they are atomic only so that the unlocked peeks (a reader's
 * "am I the writer?", the not-recoverable fast path) are well defined. The
 * readers bitmap carries the one ordering no mutex gives: a reader clears
 * its bit (release) after reading, and a writer that sees it clear
 * (acquire) skips the slot.
 */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define BITS(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

static uint32_t my_tid(void)
{
	return ipk__sync_tid();
}

static const char *label(const void *obj, char *buf, size_t cap)
{
	return ipk__named_label(obj, "rwlock", buf, cap);
}

static struct rwlock_impl *get(ipk_rwlock *rw, const char *fn, int *rc)
{
	struct rwlock_impl *l = (struct rwlock_impl *)rw;
	*rc = 0;
	if (l == NULL) {
		*rc = ipk__err(-EINVAL, "%s: rwlock is NULL", fn);
		return NULL;
	}
	if (__atomic_load_n(&l->magic, __ATOMIC_ACQUIRE) != RW_MAGIC) {
		char buf[300];
		*rc = ipk__err(-EINVAL, "%s: %s was not initialised (ipk_rwlock_init)",
		               fn, label(rw, buf, sizeof buf));
		return NULL;
	}
	uint32_t st = LOAD(&l->state);
	if (st == RW_NOTRECOVERABLE || st > RW_NOTRECOVERABLE) {
		char buf[300];
		*rc = ipk__lock_result(st == RW_NOTRECOVERABLE ? -ENOTRECOVERABLE
		                                               : -EPROTO,
		                       label(rw, buf, sizeof buf),
		                       "ipk_rwlock_consistent()");
		return NULL;
	}
	return l;
}

int ipk_rwlock_init(ipk_rwlock *rw)
{
	if (rw == NULL || (uintptr_t)rw % 8)
		return ipk__err(-EINVAL, "ipk_rwlock_init: rwlock is NULL or not "
		                "aligned to 8");
	struct rwlock_impl *l = (struct rwlock_impl *)rw;
	memset(rw, 0, sizeof *rw);
	ipk__mtx_init(&l->gate);
	for (int i = 0; i < NSLOTS; i++)
		ipk__mtx_init(&l->slots[i].m);
	__atomic_store_n(&l->magic, RW_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Take the gate. *writer_died: a writer died holding the lock and nobody has
 * repaired it yet. That is remembered in state (not in the gate, which is
 * made consistent at once), so a recoverer that times out waiting for the
 * readers, or dies, hands the news on to the next one.
 */
static int take_gate(struct rwlock_impl *l, int64_t deadline,
                     bool *writer_died)
{
	*writer_died = false;
	int rc = ipk__mtx_lock(&l->gate, deadline);
	if (rc == -EOWNERDEAD) {
		ipk__mtx_consistent(&l->gate);
		if (LOAD(&l->writing)) {
			STORE(&l->state, RW_INCONSISTENT);
			STORE(&l->writing, 0); /* its tid may be reused */
		}
		rc = 0;
	}
	if (rc < 0)
		return rc;
	uint32_t state = LOAD(&l->state);
	if (state >= RW_NOTRECOVERABLE) {
		ipk__mtx_unlock(&l->gate);
		return state == RW_NOTRECOVERABLE ? -ENOTRECOVERABLE : -EPROTO;
	}
	*writer_died = state == RW_INCONSISTENT;
	return 0;
}

static void release_slots(struct rwlock_impl *l, uint64_t held)
{
	for (; held; held &= held - 1)
		ipk__mtx_unlock(&l->slots[__builtin_ctzll(held)].m);
}

/* With the gate held: wait for every reader to leave, then own the lock. */
static int drain(struct rwlock_impl *l, int64_t deadline)
{
	uint64_t held = 0;
	for (uint64_t busy = BITS(&l->readers); busy; busy &= busy - 1) {
		int i = __builtin_ctzll(busy);
		uint64_t bit = (uint64_t)1 << i;
		int rc = ipk__mtx_lock(&l->slots[i].m, deadline);
		if (rc == -EOWNERDEAD) {
			/* a reader died in there: nothing to repair */
			ipk__mtx_consistent(&l->slots[i].m);
			STORE(&l->slots[i].tid, 0);
			__atomic_and_fetch(&l->readers, ~bit, __ATOMIC_RELEASE);
			rc = 0;
		}
		if (rc < 0) {
			release_slots(l, held);
			return rc;
		}
		held |= bit;
	}
	l->wslots = held;
	STORE(&l->writer_tid, my_tid());
	STORE(&l->writing, 1);
	return 0;
}

static int owner_died(ipk_rwlock *rw)
{
	char buf[300];
	return ipk__err(-EOWNERDEAD,
	                "a writer died holding %s: you now hold it exclusively; "
	                "repair the data it protects, then call "
	                "ipk_rwlock_consistent()",
	                label(rw, buf, sizeof buf));
}

static int gate_failed(int rc, ipk_rwlock *rw, const char *mode)
{
	char buf[300];
	if (rc == -ENOTRECOVERABLE || rc == -EPROTO)
		return ipk__lock_result(rc, label(rw, buf, sizeof buf),
		                        "ipk_rwlock_consistent()");
	if (rc == -EDEADLK)
		return ipk__err(-EDEADLK, "%s is already held for writing by the "
		                "calling thread", label(rw, buf, sizeof buf));
	if (rc == -EAGAIN || rc == -ETIMEDOUT)
		return ipk__err(rc, "%s: a writer holds %s",
		                rc == -EAGAIN ? "would block" : "timed out",
		                label(rw, buf, sizeof buf));
	return ipk__errno(rc, "%s-lock %s", mode, label(rw, buf, sizeof buf));
}

/* drain() failed: let go of the gate and say why. */
static int drain_failed(struct rwlock_impl *l, int rc, ipk_rwlock *rw)
{
	char buf[300];
	ipk__mtx_unlock(&l->gate);
	if (rc == -EDEADLK)
		return ipk__err(-EDEADLK, "the calling thread holds %s for reading "
		                "(no upgrades: unlock first)",
		                label(rw, buf, sizeof buf));
	if (rc == -EAGAIN || rc == -ETIMEDOUT)
		return ipk__err(rc, "%s: readers hold %s",
		                rc == -EAGAIN ? "would block" : "timed out",
		                label(rw, buf, sizeof buf));
	return ipk__errno(rc, "write-lock %s", label(rw, buf, sizeof buf));
}

/* With the gate held: take a free reader slot, or one a dead reader left. */
static int take_slot(struct rwlock_impl *l)
{
	uint64_t busy = BITS(&l->readers);
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < NSLOTS; i++) {
			uint64_t bit = (uint64_t)1 << i;
			if (!(busy & bit) != (pass == 0))
				continue;
			/* a free slot is taken as it is; a busy one only from a
			   reader that died (which trylock looks up) */
			int r = pass == 0 ? ipk__mtx_trylock_free(&l->slots[i].m)
			                  : ipk__mtx_lock(&l->slots[i].m, IPK__NOW);
			if (r == -EOWNERDEAD) {
				ipk__mtx_consistent(&l->slots[i].m);
				r = 0;
			}
			if (r != 0)
				continue;
			STORE(&l->slots[i].tid, my_tid());
			__atomic_or_fetch(&l->readers, bit, __ATOMIC_RELAXED);
			return i;
		}
	return -1;
}

int ipk_rwlock_rdlock(ipk_rwlock *rw, int timeout_ms)
{
	int rc;
	struct rwlock_impl *l = get(rw, "ipk_rwlock_rdlock", &rc);
	if (l == NULL)
		return rc;
	int64_t deadline = ipk__deadline(timeout_ms);
	unsigned round = 0;
	for (;;) {
		bool died;
		rc = take_gate(l, deadline, &died);
		if (rc < 0)
			return gate_failed(rc, rw, "read");
		if (died) {
			rc = drain(l, deadline);
			if (rc < 0)
				return drain_failed(l, rc, rw);
			return owner_died(rw);
		}
		int slot = take_slot(l);
		ipk__mtx_unlock(&l->gate);
		if (slot >= 0)
			return 0;
		if (ipk__backoff(&round, deadline) < 0) {
			char buf[300];
			return ipk__err(ipk__timeout_err(deadline),
			                "%s: all %d reader slots of %s are taken",
			                deadline == IPK__NOW ? "would block" : "timed out",
			                NSLOTS, label(rw, buf, sizeof buf));
		}
	}
}

int ipk_rwlock_wrlock(ipk_rwlock *rw, int timeout_ms)
{
	int rc;
	struct rwlock_impl *l = get(rw, "ipk_rwlock_wrlock", &rc);
	if (l == NULL)
		return rc;
	int64_t deadline = ipk__deadline(timeout_ms);
	bool died;
	rc = take_gate(l, deadline, &died);
	if (rc < 0)
		return gate_failed(rc, rw, "write");
	rc = drain(l, deadline);
	if (rc < 0)
		return drain_failed(l, rc, rw);
	return died ? owner_died(rw) : 0;
}

int ipk_rwlock_unlock(ipk_rwlock *rw)
{
	struct rwlock_impl *l = (struct rwlock_impl *)rw;
	char buf[300];
	if (l == NULL || LOAD(&l->magic) != RW_MAGIC)
		return ipk__err(-EINVAL, "ipk_rwlock_unlock: rwlock is NULL or not "
		                "initialised");
	uint32_t me = my_tid();
	if (LOAD(&l->writing) && LOAD(&l->writer_tid) == me) {
		if (LOAD(&l->state) == RW_INCONSISTENT)
			STORE(&l->state, RW_NOTRECOVERABLE);
		uint64_t held = l->wslots;
		l->wslots = 0;
		STORE(&l->writer_tid, 0);
		STORE(&l->writing, 0);
		release_slots(l, held);
		ipk__mtx_unlock(&l->gate);
		return 0;
	}
	uint64_t busy = BITS(&l->readers);
	for (int i = 0; i < NSLOTS; i++) {
		uint64_t bit = (uint64_t)1 << i;
		if ((busy & bit) && LOAD(&l->slots[i].tid) == me) {
			STORE(&l->slots[i].tid, 0);
			__atomic_and_fetch(&l->readers, ~bit, __ATOMIC_RELEASE);
			ipk__mtx_unlock(&l->slots[i].m);
			return 0;
		}
	}
	return ipk__err(-EPERM, "ipk_rwlock_unlock: the calling thread does not "
	                "hold %s", label(rw, buf, sizeof buf));
}

int ipk_rwlock_consistent(ipk_rwlock *rw)
{
	int rc;
	struct rwlock_impl *l = get(rw, "ipk_rwlock_consistent", &rc);
	if (l == NULL)
		return rc;
	if (!LOAD(&l->writing) || LOAD(&l->writer_tid) != my_tid() ||
	    LOAD(&l->state) != RW_INCONSISTENT) {
		char buf[300];
		return ipk__err(-EINVAL, "ipk_rwlock_consistent: %s is not held by "
		                "the calling thread after a writer died",
		                label(rw, buf, sizeof buf));
	}
	STORE(&l->state, RW_OK);
	return 0;
}

int ipk_rwlock_destroy(ipk_rwlock *rw)
{
	struct rwlock_impl *l = (struct rwlock_impl *)rw;
	if (l == NULL || LOAD(&l->magic) != RW_MAGIC)
		return ipk__err(-EINVAL, "ipk_rwlock_destroy: rwlock is NULL or not "
		                "initialised");
	if (BITS(&l->readers) || LOAD(&l->writing))
		return ipk__err(-EBUSY, "ipk_rwlock_destroy: the lock is held");
	STORE(&l->magic, 0);
	return 0;
}

static int init_obj(void *obj)
{
	return ipk_rwlock_init(obj);
}

int ipk_rwlock_open(ipk_rwlock **out, const char *url, int flags)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_rwlock_open: out is NULL");
	void *obj = NULL;
	int rc = ipk__named_open(url, IPK__RWLOCK_KIND, sizeof(ipk_rwlock), flags,
	                         init_obj, &obj);
	*out = obj;
	return rc;
}

int ipk_rwlock_close(ipk_rwlock *rw)
{
	return ipk__named_close(rw, IPK__RWLOCK_KIND);
}
