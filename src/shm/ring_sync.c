/* Futex waits and wakes on words in shared memory, and fork tracking. */
#define _GNU_SOURCE
#include "ring_sync.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Atomic uint64_t ipk__fork_generation = 1;

static void in_child(void)
{
	atomic_fetch_add_explicit(&ipk__fork_generation, 1, memory_order_relaxed);
}

static void watch_once(void)
{
	pthread_atfork(NULL, NULL, in_child);
}

void ipk__fork_watch(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, watch_once);
}

int ipk__futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t max_ns)
{
	struct timespec ts = {max_ns / 1000000000, max_ns % 1000000000};
	/* not FUTEX_PRIVATE_FLAG: the word is shared between processes */
	long rc = syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, val,
	                  max_ns >= 0 ? &ts : NULL, NULL, 0);
	if (rc == 0 || errno == EAGAIN)
		return 0;
	return -errno;
}

void ipk__futex_wake(_Atomic uint32_t *w, int n)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* the fork generation registered in, 0 never, UINT64_MAX refused */
static _Atomic uint64_t fence_gen;

/* ThreadSanitizer does not model membarrier: under it, nobody publishes
   lightly (and no side takes a bias), so what it sees is what happens. */
#if defined(__SANITIZE_THREAD__)
#define NO_LIGHT 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NO_LIGHT 1
#endif
#endif

bool ipk__fence_light(void)
{
#ifdef NO_LIGHT
	return false;
#endif
	ipk__fork_watch();
	uint64_t gen = atomic_load_explicit(&ipk__fork_generation, memory_order_relaxed);
	uint64_t had = atomic_load_explicit(&fence_gen, memory_order_acquire);
	if (had == gen)
		return true;
	if (had == UINT64_MAX)
		return false;
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	bool ok = cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	          syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
	                  0, 0) == 0;
	atomic_store_explicit(&fence_gen, ok ? gen : UINT64_MAX,
	                      memory_order_release);
	return ok;
}

bool ipk__fence_heavy(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}
