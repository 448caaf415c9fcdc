/*
 * Robust read-write lock: readers share, writers exclude, writers are
 * preferred, a dead reader is forgotten, a dead writer is reported
 * (-EOWNERDEAD to the next locker, who holds it exclusively), timeouts,
 * named objects, bad input.
 */
#define _GNU_SOURCE
#include "util.h"

#include "tsan_harness.h"
#include <errno.h>
#include <ipckit.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(rwlock, .fini = ipkt_check_dev_shm, .timeout = 120);

struct area {
	ipk_rwlock rw;
	long a, b;      /* writers keep a == b; readers check it */
	int readers_in; /* readers inside at once (max seen) */
	int max_readers;
	int writer_in;
	int bad;
};

/* A child takes the lock (write or read) and is killed holding it. */
static void kill_holder(struct area *x, bool wr)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = wr ? ipk_rwlock_wrlock(&x->rw, -1)
		            : ipk_rwlock_rdlock(&x->rw, -1);
		if (rc < 0)
			_exit(2);
		if (wr)
			x->a++; /* half an update: b not yet */
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	ipkt_await(p[0]);
	kill(pid, SIGKILL);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL);
	close(p[0]);
	close(p[1]);
}

Test(rwlock, basics_and_errors)
{
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 0), -EINVAL, "not initialised");
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), -EPERM);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 0), 0);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, -1), -EDEADLK);
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, -1), -EDEADLK);
	cr_assert_eq(ipk_rwlock_consistent(&x->rw), -EINVAL, "nobody died");
	cr_assert_eq(ipk_rwlock_destroy(&x->rw), -EBUSY);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 0), 0);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, -1), -EDEADLK, "no upgrades");
	cr_assert(strstr(ipk_last_error(), "for reading"), "%s", ipk_last_error());
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), -EPERM);
	cr_assert_eq(ipk_rwlock_destroy(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 0), -EINVAL, "destroyed");
	cr_assert_eq(ipk_rwlock_init(NULL), -EINVAL);
	cr_assert_eq(ipk_rwlock_unlock(NULL), -EINVAL);
	munmap(x, sizeof *x);
}

Test(rwlock, readers_share_writers_exclude)
{
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	int p[2], q[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(q), 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (ipk_rwlock_rdlock(&x->rw, -1) < 0)
			_exit(2);
		(void)!write(p[1], "x", 1);
		char b;
		(void)!read(q[0], &b, 1);
		ipk_rwlock_unlock(&x->rw);
		_exit(0);
	}
	ipkt_await(p[0]);
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 0), 0, "readers share");
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 0), -EAGAIN);
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 150), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 150);
	cr_assert(strstr(ipk_last_error(), "readers hold"), "%s", ipk_last_error());
	/* after a writer gave up, readers still get in */
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 0), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	(void)!write(q[1], "x", 1);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 60000), 0);
	cr_assert_eq(ipkt_wait_child(pid), 0);

	/* a writer keeps readers and writers out */
	pid = fork();
	if (pid == 0) {
		int r1 = ipk_rwlock_rdlock(&x->rw, 0);
		int r2 = ipk_rwlock_wrlock(&x->rw, 0);
		int r3 = ipk_rwlock_rdlock(&x->rw, 100);
		_exit(r1 == -EAGAIN && r2 == -EAGAIN && r3 == -ETIMEDOUT ? 0 : 1);
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	munmap(x, sizeof *x);
}

static void reader_pass(struct area *x)
{
	int n = __atomic_add_fetch(&x->readers_in, 1, __ATOMIC_RELAXED);
	int m = __atomic_load_n(&x->max_readers, __ATOMIC_RELAXED);
	while (n > m && !__atomic_compare_exchange_n(&x->max_readers, &m, n, false,
	                                             __ATOMIC_RELAXED,
	                                             __ATOMIC_RELAXED))
		;
	if (__atomic_load_n(&x->writer_in, __ATOMIC_RELAXED) || x->a != x->b)
		__atomic_store_n(&x->bad, 1, __ATOMIC_RELAXED);
	sched_yield();
	if (x->a != x->b)
		__atomic_store_n(&x->bad, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&x->readers_in, 1, __ATOMIC_RELAXED);
}

static void writer_pass(struct area *x)
{
	if (__atomic_add_fetch(&x->writer_in, 1, __ATOMIC_RELAXED) != 1 ||
	    __atomic_load_n(&x->readers_in, __ATOMIC_RELAXED))
		__atomic_store_n(&x->bad, 1, __ATOMIC_RELAXED);
	x->a++;
	if ((x->a & 31) == 0)
		sched_yield();
	x->b++;
	__atomic_sub_fetch(&x->writer_in, 1, __ATOMIC_RELAXED);
}

static int worker(struct area *x, int id, int iters)
{
	for (int i = 0; i < iters; i++) {
		bool wr = (i + id) % 4 == 0;
		int t = i % 3 == 0 ? -1 : 60000;
		int rc = wr ? ipk_rwlock_wrlock(&x->rw, t)
		            : ipk_rwlock_rdlock(&x->rw, t);
		if (rc < 0)
			return 1;
		if (wr)
			writer_pass(x);
		else
			reader_pass(x);
		if (ipk_rwlock_unlock(&x->rw) < 0)
			return 2;
	}
	return 0;
}

Test(rwlock, hammer_processes)
{
	enum { PROCS = 4, ITERS = 4000 };
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++)
		if ((pids[p] = fork()) == 0)
			_exit(worker(x, p, ITERS));
	for (int p = 0; p < PROCS; p++)
		cr_assert_eq(ipkt_wait_child(pids[p]), 0);
	cr_assert_eq(x->bad, 0);
	cr_assert_eq(x->a, x->b);
	cr_assert_eq(x->a, (long)PROCS * ITERS / 4);
	munmap(x, sizeof *x);
}

struct tharg {
	struct area *x;
	int id;
	int rc;
};

static void *thread_worker(void *p)
{
	struct tharg *t = p;
	t->rc = worker(t->x, t->id, 4000);
	return NULL;
}

Test(rwlock, hammer_threads)
{
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	pthread_t th[4];
	struct tharg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct tharg){x, i, -1};
		cr_assert_eq(pthread_create(&th[i], NULL, thread_worker, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(a[i].rc, 0);
	}
	cr_assert_eq(x->bad, 0);
	cr_assert_eq(x->a, 4000);
	munmap(x, sizeof *x);
}

Test(rwlock, dead_reader_is_forgotten)
{
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	kill_holder(x, false);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 10000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	/* many dead readers do not use up the slots */
	for (int i = 0; i < IPK_RWLOCK_READERS + 4; i++)
		kill_holder(x, false);
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 10000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 10000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	munmap(x, sizeof *x);
}

Test(rwlock, dead_writer_reported_to_reader)
{
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	kill_holder(x, true);
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 10000), -EOWNERDEAD);
	cr_assert(strstr(ipk_last_error(), "exclusively"), "%s", ipk_last_error());
	/* held exclusively: another process can neither read nor write */
	pid_t pid = fork();
	if (pid == 0)
		_exit(ipk_rwlock_rdlock(&x->rw, 0) == -EAGAIN ? 0 : 1);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	x->b = x->a; /* the repair */
	cr_assert_eq(ipk_rwlock_consistent(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 0), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 0), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	munmap(x, sizeof *x);
}

Test(rwlock, dead_writer_not_repaired)
{
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	kill_holder(x, true);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 10000), -EOWNERDEAD);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, -1), -ENOTRECOVERABLE);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, -1), -ENOTRECOVERABLE);
	cr_assert_lt(ipkt_now_ms() - t0, 5000);
	cr_assert(strstr(ipk_last_error(), "not recoverable"), "%s",
	          ipk_last_error());
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 0), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	munmap(x, sizeof *x);
}

Test(rwlock, recoverer_that_dies_hands_on)
{
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	kill_holder(x, true);
	/* the next holder is told, and dies before repairing */
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (ipk_rwlock_wrlock(&x->rw, 10000) != -EOWNERDEAD)
			_exit(2);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	ipkt_await(p[0]);
	kill(pid, SIGKILL);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL);
	cr_assert_eq(ipk_rwlock_wrlock(&x->rw, 10000), -EOWNERDEAD);
	cr_assert_eq(ipk_rwlock_consistent(&x->rw), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	munmap(x, sizeof *x);
}

static void *hold_read(void *p)
{
	struct area *x = p;
	if (ipk_rwlock_rdlock(&x->rw, 60000) < 0)
		return (void *)1;
	__atomic_add_fetch(&x->readers_in, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&x->writer_in, __ATOMIC_SEQ_CST))
		sched_yield();
	ipk_rwlock_unlock(&x->rw);
	return NULL;
}

Test(rwlock, reader_slots_run_out)
{
	struct area *x = ipkt_shared(sizeof *x);
	cr_assert_eq(ipk_rwlock_init(&x->rw), 0);
	pthread_t t[IPK_RWLOCK_READERS];
	for (int i = 0; i < IPK_RWLOCK_READERS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hold_read, x), 0);
	while (__atomic_load_n(&x->readers_in, __ATOMIC_SEQ_CST) <
	       IPK_RWLOCK_READERS)
		sched_yield();
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 100), -ETIMEDOUT);
	cr_assert(strstr(ipk_last_error(), "reader slots"), "%s",
	          ipk_last_error());
	__atomic_store_n(&x->writer_in, 1, __ATOMIC_SEQ_CST); /* let them go */
	for (int i = 0; i < IPK_RWLOCK_READERS; i++) {
		void *r;
		pthread_join(t[i], &r);
		cr_assert_null(r);
	}
	cr_assert_eq(ipk_rwlock_rdlock(&x->rw, 0), 0);
	cr_assert_eq(ipk_rwlock_unlock(&x->rw), 0);
	munmap(x, sizeof *x);
}

Test(rwlock, named)
{
	char url[300];
	snprintf(url, sizeof url, "rwlock:%s", ipkt_name("rw"));
	ipk_rwlock *rw;
	cr_assert_eq(ipk_rwlock_open(&rw, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL),
	             0, "%s", ipk_last_error());
	struct area *x = ipkt_shared(sizeof *x);
	pid_t pids[3];
	for (int p = 0; p < 3; p++)
		if ((pids[p] = fork()) == 0) {
			ipk_rwlock *h;
			if (ipk_rwlock_open(&h, url, 0) < 0)
				_exit(9);
			for (int i = 0; i < 2000; i++) {
				bool w = i % 3 == 0;
				if ((w ? ipk_rwlock_wrlock(h, 60000)
				       : ipk_rwlock_rdlock(h, 60000)) < 0)
					_exit(3);
				if (w)
					writer_pass(x);
				else
					reader_pass(x);
				ipk_rwlock_unlock(h);
			}
			_exit(ipk_rwlock_close(h));
		}
	for (int p = 0; p < 3; p++)
		cr_assert_eq(ipkt_wait_child(pids[p]), 0);
	cr_assert_eq(x->bad, 0);
	cr_assert_eq(ipk_rwlock_wrlock(rw, 0), 0);
	cr_assert_eq(ipk_rwlock_wrlock(rw, 0), -EDEADLK);
	cr_assert(strstr(ipk_last_error(), "rwlock:/"), "%s", ipk_last_error());
	cr_assert_eq(ipk_rwlock_unlock(rw), 0);
	cr_assert_eq(ipk_rwlock_close(rw), 0);
	cr_assert_eq(ipk_sync_remove(url), 0);
	cr_assert_eq(ipk_rwlock_open(&rw, url, 0), -ENOENT);
	cr_assert_eq(ipk_rwlock_open(&rw, "mutex:/x", 0), -EINVAL);
	munmap(x, sizeof *x);
}
