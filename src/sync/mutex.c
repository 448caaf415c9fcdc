/*
 * Robust process-shared mutex over the lock in mtx.c (no pointers in shared
 * memory: see mtx.h for why not a robust pthread mutex): a dead owner is
 * reported (-EOWNERDEAD) instead of wedging everyone, relocking is
 * -EDEADLK and a stranger's unlock is -EPERM. Timeouts are CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE
#include "mtx.h"
#include "sync.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MUTEX_MAGIC 0x4d58544bu /* "KTXM" */

struct mutex_impl {
	uint32_t magic;
	uint32_t reserved;
	struct ipk__mtx m;
};

_Static_assert(sizeof(struct mutex_impl) <= sizeof(ipk_mutex),
               "ipk_mutex too small");
_Static_assert(_Alignof(struct mutex_impl) <= _Alignof(ipk_mutex),
               "ipk_mutex under-aligned");

static const char *label(const void *obj, char *buf, size_t cap)
{
	return ipk__named_label(obj, "mutex", buf, cap);
}

static struct mutex_impl *get(ipk_mutex *mx, const char *fn, int *rc)
{
	struct mutex_impl *m = (struct mutex_impl *)mx;
	*rc = 0;
	if (m == NULL) {
		*rc = ipk__err(-EINVAL, "%s: mutex is NULL", fn);
		return NULL;
	}
	if (__atomic_load_n(&m->magic, __ATOMIC_ACQUIRE) != MUTEX_MAGIC) {
		char buf[300];
		*rc = ipk__err(-EINVAL, "%s: %s was not initialised (ipk_mutex_init)",
		               fn, label(mx, buf, sizeof buf));
		return NULL;
	}
	return m;
}

int ipk_mutex_init(ipk_mutex *mx)
{
	if (mx == NULL || (uintptr_t)mx % 8)
		return ipk__err(-EINVAL, "ipk_mutex_init: mutex is NULL or not "
		                "aligned to 8");
	struct mutex_impl *m = (struct mutex_impl *)mx;
	memset(mx, 0, sizeof *mx);
	ipk__mtx_init(&m->m);
	__atomic_store_n(&m->magic, MUTEX_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Turn what locking gave into a message; 0 and -EOWNERDEAD mean held. */
int ipk__lock_result(int rc, const char *what, const char *repair)
{
	switch (rc) {
	case 0:
		return 0;
	case -EOWNERDEAD:
		return ipk__err(-EOWNERDEAD,
		                "the previous owner of %s died holding it: you hold it "
		                "now; repair the data it protects, then call %s",
		                what, repair);
	case -ENOTRECOVERABLE:
		return ipk__err(-ENOTRECOVERABLE,
		                "%s is not recoverable: an owner died and the next "
		                "owner unlocked it without %s; re-initialise it once "
		                "no process uses it",
		                what, repair);
	case -EDEADLK:
		return ipk__err(-EDEADLK, "%s is already held by the calling thread",
		                what);
	case -EAGAIN:
		return ipk__err(-EAGAIN, "%s is held by another thread", what);
	case -EPROTO:
		return ipk__err(-EPROTO, "%s is corrupt: its state word holds a value "
		                "no lock has (another process wrote over it); "
		                "re-initialise it once no process uses it", what);
	case -ETIMEDOUT:
		return ipk__err(-ETIMEDOUT, "timed out waiting for %s", what);
	default:
		return ipk__errno(rc, "lock %s", what);
	}
}

int ipk_mutex_lock(ipk_mutex *mx, int timeout_ms)
{
	int rc;
	struct mutex_impl *m = get(mx, "ipk_mutex_lock", &rc);
	if (m == NULL)
		return rc;
	rc = ipk__mtx_lock(&m->m, ipk__deadline(timeout_ms));
	if (rc == 0)
		return 0;
	char buf[300];
	return ipk__lock_result(rc, label(mx, buf, sizeof buf),
	                        "ipk_mutex_consistent()");
}

int ipk_mutex_trylock(ipk_mutex *mx)
{
	return ipk_mutex_lock(mx, 0);
}

int ipk_mutex_consistent(ipk_mutex *mx)
{
	int rc;
	struct mutex_impl *m = get(mx, "ipk_mutex_consistent", &rc);
	if (m == NULL)
		return rc;
	if (ipk__mtx_consistent(&m->m) < 0) {
		char buf[300];
		return ipk__err(-EINVAL, "ipk_mutex_consistent: %s is not held after "
		                "its owner died",
		                label(mx, buf, sizeof buf));
	}
	return 0;
}

int ipk_mutex_unlock(ipk_mutex *mx)
{
	int rc;
	struct mutex_impl *m = get(mx, "ipk_mutex_unlock", &rc);
	if (m == NULL)
		return rc;
	if (ipk__mtx_unlock(&m->m) < 0) {
		char buf[300];
		return ipk__err(-EPERM, "ipk_mutex_unlock: the calling thread does "
		                "not hold %s",
		                label(mx, buf, sizeof buf));
	}
	return 0;
}

int ipk_mutex_destroy(ipk_mutex *mx)
{
	int rc;
	struct mutex_impl *m = get(mx, "ipk_mutex_destroy", &rc);
	if (m == NULL)
		return rc;
	if (ipk__mtx_held(&m->m))
		return ipk__err(-EBUSY, "ipk_mutex_destroy: the mutex is held");
	__atomic_store_n(&m->magic, 0, __ATOMIC_RELEASE);
	return 0;
}

/* For ipk_cond_wait: the lock inside, after checking it. */
struct ipk__mtx *ipk__mutex_raw(ipk_mutex *mx, const char *fn, int *rc)
{
	struct mutex_impl *m = get(mx, fn, rc);
	return m ? &m->m : NULL;
}

static int init_obj(void *obj)
{
	return ipk_mutex_init(obj);
}

int ipk_mutex_open(ipk_mutex **out, const char *url, int flags)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_mutex_open: out is NULL");
	void *obj = NULL;
	int rc = ipk__named_open(url, IPK__MUTEX_KIND, sizeof(ipk_mutex), flags,
	                         init_obj, &obj);
	*out = obj;
	return rc;
}

int ipk_mutex_close(ipk_mutex *m)
{
	return ipk__named_close(m, IPK__MUTEX_KIND);
}
