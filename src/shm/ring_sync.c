/* Futex waits and wakes on words in shared memory, and fork tracking. */
#define _GNU_SOURCE
#include "ring_sync.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
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
