/*
 * Process-shared condition variable on a futex sequence number.
 *
 * Why not pthread_cond_t: glibc's condition variable keeps per-waiter
 * bookkeeping in the shared object (group references, signal counts); a
 * waiter killed in the middle of pthread_cond_wait leaves it behind and a
 * later signal can be spent on the dead waiter, or destroy can hang. Here a
 * waiter only sleeps on the futex word: the kernel drops a dead task from the
 * futex queue, so a signal always goes to a live waiter. Timeouts are
 * absolute CLOCK_MONOTONIC (FUTEX_WAIT_BITSET's default clock).
 */
#define _GNU_SOURCE
#include "mtx.h"
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define COND_MAGIC 0x444e4f43u /* "COND" */

struct cond_impl {
	uint32_t magic;
	uint32_t seq;     /* bumped by every signal; waiters sleep on it */
	uint32_t waiters; /* lets signal skip the syscall when nobody waits */
	uint32_t reserved;
};

_Static_assert(sizeof(struct cond_impl) <= sizeof(ipk_cond), "ipk_cond too small");

static const char *label(const void *obj, char *buf, size_t cap)
{
	return ipk__named_label(obj, "condition variable", buf, cap);
}

static struct cond_impl *get(ipk_cond *cv, const char *fn, int *rc)
{
	struct cond_impl *c = (struct cond_impl *)cv;
	*rc = 0;
	if (c == NULL) {
		*rc = ipk__err(-EINVAL, "%s: condition variable is NULL", fn);
		return NULL;
	}
	if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) != COND_MAGIC) {
		char buf[300];
		*rc = ipk__err(-EINVAL, "%s: %s was not initialised (ipk_cond_init)",
		               fn, label(cv, buf, sizeof buf));
		return NULL;
	}
	return c;
}

int ipk_cond_init(ipk_cond *cv)
{
	if (cv == NULL || (uintptr_t)cv % 8)
		return ipk__err(-EINVAL, "ipk_cond_init: condition variable is NULL "
		                "or not aligned to 8");
	struct cond_impl *c = (struct cond_impl *)cv;
	memset(cv, 0, sizeof *cv);
	__atomic_store_n(&c->magic, COND_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

static long futex(uint32_t *addr, int op, uint32_t val,
                  const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL,
	               op == FUTEX_WAIT_BITSET ? FUTEX_BITSET_MATCH_ANY : 0);
}

int ipk_cond_wait(ipk_cond *cv, ipk_mutex *mx, int timeout_ms)
{
	int rc;
	char buf[300];
	struct cond_impl *c = get(cv, "ipk_cond_wait", &rc);
	if (c == NULL)
		return rc;
	struct ipk__mtx *m = ipk__mutex_raw(mx, "ipk_cond_wait", &rc);
	if (m == NULL)
		return rc;
	int64_t deadline = ipk__deadline(timeout_ms);
	if (deadline == IPK__NOW)
		return ipk__err(-EAGAIN, "%s: told not to wait",
		                label(cv, buf, sizeof buf));

	uint32_t seq = __atomic_load_n(&c->seq, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
	if (ipk__mtx_unlock(m) < 0) {
		__atomic_sub_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
		return ipk__err(-EPERM, "ipk_cond_wait: the calling thread must hold "
		                "the mutex");
	}
	struct timespec ts;
	if (deadline != IPK__NEVER)
		ipk__deadline_timespec(deadline, CLOCK_MONOTONIC, &ts);
	rc = 0;
	while (__atomic_load_n(&c->seq, __ATOMIC_SEQ_CST) == seq) {
		if (futex(&c->seq, FUTEX_WAIT_BITSET, seq,
		          deadline == IPK__NEVER ? NULL : &ts) == 0)
			break; /* woken (possibly spuriously: callers re-check) */
		if (errno == EAGAIN)
			break;
		if (errno == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
		if (errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	__atomic_sub_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);

	/* back under the mutex whatever happened, as callers expect */
	int lr = ipk__mtx_lock(m, IPK__NEVER);
	if (lr < 0)
		return ipk__lock_result(lr, ipk__named_label(mx, "mutex", buf,
		                                             sizeof buf),
		                        "ipk_mutex_consistent()");
	if (rc == -ETIMEDOUT)
		return ipk__err(rc, "timed out waiting on %s",
		                label(cv, buf, sizeof buf));
	if (rc < 0)
		return ipk__errno(rc, "futex wait on %s", label(cv, buf, sizeof buf));
	return 0;
}

static int wake(ipk_cond *cv, int n, const char *fn)
{
	int rc;
	struct cond_impl *c = get(cv, fn, &rc);
	if (c == NULL)
		return rc;
	__atomic_add_fetch(&c->seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->waiters, __ATOMIC_SEQ_CST) == 0)
		return 0;
	if (futex(&c->seq, FUTEX_WAKE, (uint32_t)n, NULL) < 0)
		return ipk__errno(-errno, "%s: futex wake", fn);
	return 0;
}

int ipk_cond_signal(ipk_cond *cv)
{
	return wake(cv, 1, "ipk_cond_signal");
}

int ipk_cond_broadcast(ipk_cond *cv)
{
	return wake(cv, INT_MAX, "ipk_cond_broadcast");
}

int ipk_cond_destroy(ipk_cond *cv)
{
	int rc;
	struct cond_impl *c = get(cv, "ipk_cond_destroy", &rc);
	if (c == NULL)
		return rc;
	__atomic_store_n(&c->magic, 0, __ATOMIC_RELEASE);
	return 0;
}

static int init_obj(void *obj)
{
	return ipk_cond_init(obj);
}

int ipk_cond_open(ipk_cond **out, const char *url, int flags)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_cond_open: out is NULL");
	void *obj = NULL;
	int rc = ipk__named_open(url, IPK__COND_KIND, sizeof(ipk_cond), flags,
	                         init_obj, &obj);
	*out = obj;
	return rc;
}

int ipk_cond_close(ipk_cond *c)
{
	return ipk__named_close(c, IPK__COND_KIND);
}
