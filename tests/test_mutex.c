/*
 * Robust process-shared mutex and condition variable: mutual exclusion
 * across processes and threads, owner death (-EOWNERDEAD, consistent,
 * -ENOTRECOVERABLE), timeouts, named objects, bad input.
 */
#define _GNU_SOURCE
#include "util.h"

#include "sync_util.h"
#include "tsan_harness.h"
#include <errno.h>
#include <ipckit.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

TestSuite(mutex, .fini = ipkt_check_dev_shm, .timeout = 120);

struct area {
	ipk_mutex m;
	ipk_cond c;
	struct counter n;
	int dirty;   /* set while a holder is half-way through an update */
	long queue;  /* cond tests: items produced and not yet consumed */
	int waiting; /* cond tests: waiters that have registered */
	int done;
};

/* ------------------------------------------------------------- mutex */

Test(mutex, basics_and_errors)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_lock(&a->m, 0), -EINVAL, "not initialised");
	cr_assert(strstr(ipk_last_error(), "not initialised"), "%s",
	          ipk_last_error());
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	cr_assert_eq(ipk_mutex_lock(&a->m, -1), 0);
	cr_assert_eq(ipk_mutex_lock(&a->m, -1), -EDEADLK, "relock is reported");
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0);
	if (!IPKT_TSAN)
		cr_assert_eq(ipk_mutex_unlock(&a->m), -EPERM, "unlock when not held");
	cr_assert_eq(ipk_mutex_trylock(&a->m), 0);
	cr_assert_eq(ipk_mutex_consistent(&a->m), -EINVAL, "nobody died");
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0);
	cr_assert_eq(ipk_mutex_lock(NULL, 0), -EINVAL);
	cr_assert_eq(ipk_mutex_init(NULL), -EINVAL);
	cr_assert_eq(ipk_mutex_init((ipk_mutex *)((char *)a + 4)), -EINVAL);
	cr_assert_eq(ipk_mutex_destroy(&a->m), 0);
	cr_assert_eq(ipk_mutex_lock(&a->m, 0), -EINVAL, "destroyed");
	munmap(a, sizeof *a);
}

Test(mutex, held_elsewhere_timeout)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	int p[2], q[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(q), 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (ipk_mutex_lock(&a->m, -1) < 0)
			_exit(2);
		(void)!write(p[1], "x", 1);
		char b;
		(void)!read(q[0], &b, 1);
		ipk_mutex_unlock(&a->m);
		_exit(0);
	}
	ipkt_await(p[0]);
	cr_assert_eq(ipk_mutex_trylock(&a->m), -EAGAIN);
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_mutex_lock(&a->m, 150), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 150);
	cr_assert(strstr(ipk_last_error(), "timed out"), "%s", ipk_last_error());
	(void)!write(q[1], "x", 1);
	cr_assert_eq(ipk_mutex_lock(&a->m, 60000), 0);
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	munmap(a, sizeof *a);
}

Test(mutex, mutual_exclusion_processes)
{
	enum { PROCS = 4, ITERS = 5000 };
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++)
		if ((pids[p] = fork()) == 0) {
			for (int i = 0; i < ITERS; i++) {
				int rc;
				if (i % 3 == 2)
					while ((rc = ipk_mutex_trylock(&a->m)) == -EAGAIN)
						sched_yield();
				else
					rc = ipk_mutex_lock(&a->m, i % 3 ? 60000 : -1);
				if (rc < 0)
					_exit(3);
				critical(&a->n);
				ipk_mutex_unlock(&a->m);
			}
			_exit(0);
		}
	for (int p = 0; p < PROCS; p++)
		cr_assert_eq(ipkt_wait_child(pids[p]), 0);
	cr_assert_eq(a->n.value, (long)PROCS * ITERS);
	cr_assert_eq(a->n.overlap, 0);
	munmap(a, sizeof *a);
}

static void *thread_hammer(void *p)
{
	struct area *a = p;
	for (int i = 0; i < 5000; i++) {
		if (ipk_mutex_lock(&a->m, i & 1 ? -1 : 60000) < 0)
			return (void *)1;
		critical(&a->n);
		ipk_mutex_unlock(&a->m);
	}
	return NULL;
}

Test(mutex, mutual_exclusion_threads)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, thread_hammer, a), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		cr_assert_null(r);
	}
	cr_assert_eq(a->n.value, 20000);
	cr_assert_eq(a->n.overlap, 0);
	munmap(a, sizeof *a);
}

/* A child locks and is killed holding the lock. */
static void kill_holder(struct area *a)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (ipk_mutex_lock(&a->m, -1) < 0)
			_exit(2);
		a->dirty = 1;
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

Test(mutex, owner_death_recovered)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	kill_holder(a);
	cr_assert_eq(ipk_mutex_lock(&a->m, 10000), -EOWNERDEAD);
	cr_assert(strstr(ipk_last_error(), "died"), "%s", ipk_last_error());
	cr_assert_eq(a->dirty, 1);
	a->dirty = 0; /* the repair */
	cr_assert_eq(ipk_mutex_consistent(&a->m), 0);
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0);
	cr_assert_eq(ipk_mutex_lock(&a->m, 0), 0);
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0);
	munmap(a, sizeof *a);
}

Test(mutex, owner_death_not_repaired)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	kill_holder(a);
	cr_assert_eq(ipk_mutex_trylock(&a->m), -EOWNERDEAD, "trylock sees it too");
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0);
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_mutex_lock(&a->m, -1), -ENOTRECOVERABLE,
	             "an unrecoverable mutex never hangs");
	cr_assert_lt(ipkt_now_ms() - t0, 5000);
	cr_assert(strstr(ipk_last_error(), "not recoverable"), "%s",
	          ipk_last_error());
	cr_assert_eq(ipk_mutex_lock(&a->m, 100), -ENOTRECOVERABLE);
	cr_assert_eq(ipk_mutex_init(&a->m), 0, "re-initialising recovers it");
	cr_assert_eq(ipk_mutex_lock(&a->m, 0), 0);
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0);
	munmap(a, sizeof *a);
}

/* Workers hammer the lock while another process is killed holding it in
 * the middle of an update: the next locker repairs, and all finish. */
Test(mutex, hammer_while_a_holder_dies)
{
	enum { PROCS = 3, ITERS = 20000 };
	struct area *a = ipkt_shared(sizeof *a);
	struct ctl {
		int stop;    /* asks the victim to stop inside the lock */
		int stopped; /* it did: it holds the lock, update half-done */
		int repairs;
	} *r = ipkt_shared(sizeof *r);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	pid_t victim = fork();
	if (victim == 0) {
		for (;;) {
			if (ipk_mutex_lock(&a->m, -1) < 0)
				_exit(2);
			a->dirty = 1;
			if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
				__atomic_store_n(&r->stopped, 1, __ATOMIC_RELEASE);
				pause();
			}
			a->n.value++;
			a->dirty = 0;
			ipk_mutex_unlock(&a->m);
		}
	}
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++)
		if ((pids[p] = fork()) == 0) {
			for (int i = 0; i < ITERS; i++) {
				int rc = ipk_mutex_lock(&a->m, 60000);
				if (rc == -EOWNERDEAD) {
					if (a->dirty)
						a->dirty = 0; /* the repair */
					__atomic_add_fetch(&r->repairs, 1, __ATOMIC_SEQ_CST);
					ipk_mutex_consistent(&a->m);
				} else if (rc < 0) {
					_exit(3);
				}
				if (a->dirty)
					_exit(4); /* a live holder left it half-done */
				a->dirty = 1;
				a->n.value++;
				a->dirty = 0;
				ipk_mutex_unlock(&a->m);
			}
			_exit(0);
		}
	/* mid-run: the workers have a good part of their work still to do */
	while (__atomic_load_n(&a->n.value, __ATOMIC_RELAXED) < PROCS * ITERS / 3)
		sched_yield();
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&r->stopped, __ATOMIC_ACQUIRE))
		sched_yield();
	kill(victim, SIGKILL);
	cr_assert_eq(ipkt_wait_child(victim), 128 + SIGKILL);
	for (int p = 0; p < PROCS; p++)
		cr_assert_eq(ipkt_wait_child(pids[p]), 0);
	/* the workers may all have finished before the victim stopped */
	int rc = ipk_mutex_lock(&a->m, 10000);
	cr_assert(rc == 0 || rc == -EOWNERDEAD, "%d", rc);
	cr_assert_eq(r->repairs + (rc == -EOWNERDEAD), 1);
	if (rc == -EOWNERDEAD)
		ipk_mutex_consistent(&a->m);
	ipk_mutex_unlock(&a->m);
	munmap(a, sizeof *a);
	munmap(r, sizeof *r);
}

Test(mutex, named)
{
	char url[300];
	snprintf(url, sizeof url, "mutex:%s?mode=0640", ipkt_name("nm"));
	ipk_mutex *m, *m2;
	cr_assert_eq(ipk_mutex_open(&m, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL), 0,
	             "%s", ipk_last_error());
	cr_assert_eq(ipk_mutex_open(&m2, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL),
	             -EEXIST);
	char path[400];
	snprintf(path, sizeof path, "/dev/shm/ipk-mutex.%.*s",
	         (int)strcspn(strchr(url, '/') + 1, "?"), strchr(url, '/') + 1);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	cr_assert_eq(st.st_mode & 0777, 0640);

	struct counter *c = ipkt_shared(sizeof *c);
	pid_t pids[3];
	for (int p = 0; p < 3; p++)
		if ((pids[p] = fork()) == 0) {
			ipk_mutex *h;
			if (ipk_mutex_open(&h, url, 0) < 0)
				_exit(2);
			for (int i = 0; i < 2000; i++) {
				if (ipk_mutex_lock(h, 60000) < 0)
					_exit(3);
				critical(c);
				ipk_mutex_unlock(h);
			}
			_exit(ipk_mutex_close(h) == 0 ? 0 : 5);
		}
	for (int p = 0; p < 3; p++)
		cr_assert_eq(ipkt_wait_child(pids[p]), 0);
	cr_assert_eq(c->value, 6000);
	cr_assert_eq(c->overlap, 0);

	/* a failing lock names the object */
	cr_assert_eq(ipk_mutex_lock(m, 0), 0);
	cr_assert_eq(ipk_mutex_lock(m, -1), -EDEADLK);
	cr_assert(strstr(ipk_last_error(), "mutex:/"), "%s", ipk_last_error());
	cr_assert_eq(ipk_mutex_unlock(m), 0);

	cr_assert_eq(ipk_sync_remove(url), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_mutex_open(&m2, url, 0), -ENOENT);
	cr_assert(strstr(ipk_last_error(), "no mutex:/"), "%s", ipk_last_error());
	cr_assert_eq(ipk_sync_remove(url), -ENOENT);
	/* still usable by whoever had it mapped */
	cr_assert_eq(ipk_mutex_lock(m, 0), 0);
	cr_assert_eq(ipk_mutex_unlock(m), 0);
	cr_assert_eq(ipk_mutex_close(m), 0);
	cr_assert_eq(ipk_mutex_close(m), -EINVAL, "closed twice");
	munmap(c, sizeof *c);
}

Test(mutex, named_bad_input)
{
	ipk_mutex *m;
	ipk_mutex local;
	cr_assert_eq(ipk_mutex_close(&local), -EINVAL, "not from ipk_mutex_open");
	cr_assert_eq(ipk_mutex_close(NULL), 0);
	cr_assert_eq(ipk_mutex_open(&m, "rwlock:/x", IPK_SYNC_CREATE), -EINVAL);
	cr_assert_eq(ipk_mutex_open(&m, "mutex:x", IPK_SYNC_CREATE), -EINVAL);
	cr_assert_eq(ipk_mutex_open(&m, "mutex:/a/b", IPK_SYNC_CREATE), -EINVAL);
	cr_assert_eq(ipk_mutex_open(&m, "mutex:/x?value=1", IPK_SYNC_CREATE),
	             -EINVAL);
	cr_assert_eq(ipk_mutex_open(&m, "mutex:/x", IPK_SYNC_NOUNDO), -EINVAL);
	cr_assert_eq(ipk_mutex_open(NULL, "mutex:/x", 0), -EINVAL);
	char url[300];
	snprintf(url, sizeof url, "mutex:%s", ipkt_name("none"));
	cr_assert_eq(ipk_mutex_open(&m, url, 0), -ENOENT);

	/* a creator that died before initialising: openers give up clearly */
	char shm[300];
	snprintf(shm, sizeof shm, "/dev/shm/ipk-mutex.%s", strchr(url, '/') + 1);
	FILE *f = fopen(shm, "w");
	cr_assert(f != NULL);
	fclose(f);
	snprintf(url + strlen(url), sizeof url - strlen(url), "?timeout=200");
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_mutex_open(&m, url, IPK_SYNC_CREATE), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 200);
	cr_assert(strstr(ipk_last_error(), "never initialised"), "%s",
	          ipk_last_error());
	cr_assert_eq(ipk_sync_remove(url), 0);
}

/* -------------------------------------------------------------- cond */

Test(mutex, cond_producer_consumer_processes)
{
	enum { ITEMS = 3000 };
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	cr_assert_eq(ipk_cond_init(&a->c), 0);
	pid_t consumer = fork();
	if (consumer == 0) {
		long got = 0;
		ipk_mutex_lock(&a->m, -1);
		while (got < ITEMS) {
			while (a->queue == 0)
				if (ipk_cond_wait(&a->c, &a->m, 60000) < 0)
					_exit(2);
			got += a->queue;
			a->queue = 0;
			ipk_cond_signal(&a->c); /* room again */
		}
		ipk_mutex_unlock(&a->m);
		_exit(got == ITEMS ? 0 : 3);
	}
	for (int i = 0; i < ITEMS; i++) {
		cr_assert_eq(ipk_mutex_lock(&a->m, 60000), 0);
		while (a->queue >= 4)
			cr_assert_eq(ipk_cond_wait(&a->c, &a->m, 60000), 0);
		a->queue++;
		ipk_cond_signal(&a->c);
		ipk_mutex_unlock(&a->m);
	}
	cr_assert_eq(ipkt_wait_child(consumer), 0);
	munmap(a, sizeof *a);
}

Test(mutex, cond_timeout)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	cr_assert_eq(ipk_cond_init(&a->c), 0);
	cr_assert_eq(ipk_mutex_lock(&a->m, 0), 0);
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_cond_wait(&a->c, &a->m, 150), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 150);
	cr_assert_eq(ipk_cond_wait(&a->c, &a->m, 0), -EAGAIN);
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0, "held again after the timeout");
	if (!IPKT_TSAN)
		cr_assert_eq(ipk_cond_wait(&a->c, &a->m, 10), -EPERM,
		             "mutex not held");
	ipk_cond bad;
	memset(&bad, 0, sizeof bad);
	cr_assert_eq(ipk_cond_signal(&bad), -EINVAL);
	cr_assert_eq(ipk_cond_signal(NULL), -EINVAL);
	cr_assert_eq(ipk_cond_destroy(&a->c), 0);
	cr_assert_eq(ipk_cond_signal(&a->c), -EINVAL);
	munmap(a, sizeof *a);
}

static void *bcast_waiter(void *p)
{
	struct area *a = p;
	ipk_mutex_lock(&a->m, -1);
	a->waiting++;
	ipk_cond_broadcast(&a->c); /* tell the main thread */
	while (!a->done)
		if (ipk_cond_wait(&a->c, &a->m, 60000) < 0)
			break;
	int ok = a->done;
	ipk_mutex_unlock(&a->m);
	return ok ? NULL : (void *)1;
}

Test(mutex, cond_broadcast_threads)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	cr_assert_eq(ipk_cond_init(&a->c), 0);
	pthread_t t[5];
	for (int i = 0; i < 5; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, bcast_waiter, a), 0);
	ipk_mutex_lock(&a->m, -1);
	while (a->waiting < 5)
		cr_assert_eq(ipk_cond_wait(&a->c, &a->m, 60000), 0);
	a->done = 1;
	ipk_cond_broadcast(&a->c);
	ipk_mutex_unlock(&a->m);
	for (int i = 0; i < 5; i++) {
		void *r;
		pthread_join(t[i], &r);
		cr_assert_null(r);
	}
	munmap(a, sizeof *a);
}

/* A waiter killed while waiting does not swallow the next signal. */
Test(mutex, cond_dead_waiter_does_not_eat_signal)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	cr_assert_eq(ipk_cond_init(&a->c), 0);
	pid_t w[2];
	for (int i = 0; i < 2; i++)
		if ((w[i] = fork()) == 0) {
			ipk_mutex_lock(&a->m, -1);
			a->waiting++;
			while (!a->done)
				if (ipk_cond_wait(&a->c, &a->m, 60000) < 0)
					_exit(2);
			ipk_mutex_unlock(&a->m);
			_exit(0);
		}
	/* both are past registering, so both are in (or entering) the wait */
	for (;;) {
		cr_assert_eq(ipk_mutex_lock(&a->m, 60000), 0);
		if (a->waiting == 2)
			break;
		ipk_mutex_unlock(&a->m);
		sched_yield();
	}
	kill(w[0], SIGKILL);
	cr_assert_eq(ipkt_wait_child(w[0]), 128 + SIGKILL);
	a->done = 1;
	ipk_cond_signal(&a->c); /* one signal: must reach the live waiter */
	ipk_mutex_unlock(&a->m);
	cr_assert_eq(ipkt_wait_child(w[1]), 0);
	munmap(a, sizeof *a);
}

Test(mutex, cond_relock_reports_owner_death)
{
	struct area *a = ipkt_shared(sizeof *a);
	cr_assert_eq(ipk_mutex_init(&a->m), 0);
	cr_assert_eq(ipk_cond_init(&a->c), 0);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* takes the mutex while the parent waits, wakes it, dies */
		char b;
		(void)!read(p[0], &b, 1);
		ipk_mutex_lock(&a->m, -1);
		ipk_cond_signal(&a->c);
		raise(SIGKILL);
	}
	cr_assert_eq(ipk_mutex_lock(&a->m, 0), 0);
	(void)!write(p[1], "x", 1);
	int rc = ipk_cond_wait(&a->c, &a->m, 60000);
	cr_assert_eq(rc, -EOWNERDEAD, "%s", ipk_last_error());
	cr_assert_eq(ipk_mutex_consistent(&a->m), 0);
	cr_assert_eq(ipk_mutex_unlock(&a->m), 0);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL);
	munmap(a, sizeof *a);
}

Test(mutex, cond_named)
{
	char curl[300], murl[300];
	snprintf(curl, sizeof curl, "cond:%s", ipkt_name("nc"));
	snprintf(murl, sizeof murl, "mutex:%s", ipkt_name("nm"));
	ipk_cond *c;
	ipk_mutex *m;
	cr_assert_eq(ipk_cond_open(&c, curl, IPK_SYNC_CREATE), 0, "%s",
	             ipk_last_error());
	cr_assert_eq(ipk_mutex_open(&m, murl, IPK_SYNC_CREATE), 0);
	int *flag = ipkt_shared(sizeof *flag);
	pid_t pid = fork();
	if (pid == 0) {
		ipk_cond *cc;
		ipk_mutex *mm;
		if (ipk_cond_open(&cc, curl, 0) < 0 || ipk_mutex_open(&mm, murl, 0) < 0)
			_exit(2);
		ipk_mutex_lock(mm, -1);
		*flag = 1;
		ipk_cond_signal(cc);
		ipk_mutex_unlock(mm);
		_exit(0);
	}
	cr_assert_eq(ipk_mutex_lock(m, 60000), 0);
	while (!*flag)
		cr_assert_eq(ipk_cond_wait(c, m, 60000), 0);
	ipk_mutex_unlock(m);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	cr_assert_eq(ipk_cond_close(c), 0);
	cr_assert_eq(ipk_mutex_close(m), 0);
	cr_assert_eq(ipk_sync_remove(curl), 0);
	cr_assert_eq(ipk_sync_remove(murl), 0);
	munmap(flag, sizeof *flag);
}
