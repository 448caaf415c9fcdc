/*
 * POSIX semaphores, named (sem:) and unnamed (in shared memory): creation
 * rules, values, timeouts, mutual exclusion across processes and threads,
 * bad input. Every test removes what it made; .fini checks /dev/shm.
 */
#define _GNU_SOURCE
#include "util.h"

#include "sync_util.h"
#include "tsan_harness.h"
#include <errno.h>
#include <ipckit.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
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

TestSuite(sem, .fini = ipkt_check_dev_shm, .timeout = 120);

static void sem_url(char *buf, size_t cap, const char *tag, const char *opts)
{
	snprintf(buf, cap, "sem:%s%s", ipkt_name(tag), opts ? opts : "");
}

/* ------------------------------------------------------------- tests */

Test(sem, create_open_value)
{
	char url[256];
	sem_url(url, sizeof url, "cov", NULL);
	ipk_sem *a, *b, *c;
	cr_assert_eq(ipk_sem_open(&a, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 3), 0,
	             "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_created(a), 1);
	cr_assert_eq(ipk_sem_value(a), 3);

	cr_assert_eq(ipk_sem_open(&b, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1),
	             -EEXIST);
	cr_assert(strstr(ipk_last_error(), "already exists"), "%s",
	          ipk_last_error());

	cr_assert_eq(ipk_sem_open(&b, url, 0, 0), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_created(b), 0);
	cr_assert_eq(ipk_sem_value(b), 3);
	/* create-or-open opens the existing one; its initial value is ignored */
	cr_assert_eq(ipk_sem_open(&c, url, IPK_SYNC_CREATE, 9), 0);
	cr_assert_eq(ipk_sem_created(c), 0);
	cr_assert_eq(ipk_sem_value(c), 3);

	cr_assert_eq(ipk_sem_wait(b, 0), 0);
	cr_assert_eq(ipk_sem_value(a), 2);
	cr_assert_eq(ipk_sem_post(c), 0);
	cr_assert_eq(ipk_sem_value(a), 3);
	cr_assert_eq(ipk_semset_count(a), 1);
	cr_assert_eq(ipk_semset_get(a, 0), 3);

	cr_assert_eq(ipk_sem_unlink(a), 0);
	/* POSIX: open handles keep working after the name is gone */
	cr_assert_eq(ipk_sem_post(b), 0);
	cr_assert_eq(ipk_sem_value(c), 4);
	ipk_sem *d;
	cr_assert_eq(ipk_sem_open(&d, url, 0, 0), -ENOENT);
	cr_assert(strstr(ipk_last_error(), url + 4), "%s", ipk_last_error());
	cr_assert_eq(ipk_sync_remove(url), -ENOENT);
	cr_assert_eq(ipk_sem_close(a), 0);
	cr_assert_eq(ipk_sem_close(b), 0);
	cr_assert_eq(ipk_sem_close(c), 0);
	cr_assert_eq(ipk_sem_close(NULL), 0);
}

Test(sem, mode_and_value_options)
{
	char url[256], path[300];
	sem_url(url, sizeof url, "mode", "?mode=0640&value=5");
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1), 0,
	             "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_value(s), 5, "?value= wins over the argument");
	const char *name = strchr(url, '/') + 1;
	snprintf(path, sizeof path, "/dev/shm/sem.%.*s", (int)strcspn(name, "?"),
	         name);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	cr_assert_eq(st.st_mode & 0777, 0640);
	cr_assert_eq(ipk_sync_remove(url), 0, "%s", ipk_last_error());
	ipk_sem_close(s);

	sem_url(url, sizeof url, "mode2", NULL);
	mode_t old = umask(077);
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), 0);
	umask(old);
	snprintf(path, sizeof path, "/dev/shm/sem.%s", strchr(url, '/') + 1);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "default mode is 0600");
	ipk_sem_unlink(s);
	ipk_sem_close(s);
}

Test(sem, bad_input)
{
	ipk_sem *s = (ipk_sem *)1;
	char url[300];
	sem_url(url, sizeof url, "bad", NULL);

	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, -1), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "negative"), "%s", ipk_last_error());
	cr_assert_null(s);
	sem_url(url, sizeof url, "bad", "?value=-2");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "negative"), "%s", ipk_last_error());
	sem_url(url, sizeof url, "bad", "?value=3000000000");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "SEM_VALUE_MAX"), "%s",
	          ipk_last_error());
	sem_url(url, sizeof url, "bad", "?value=abc");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);
	sem_url(url, sizeof url, "bad", "?colour=red");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "colour"), "%s", ipk_last_error());

	cr_assert_eq(ipk_sem_open(&s, "sem:noslash", IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sem:/", IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sem:/a/b", IPK_SYNC_CREATE, 0), -EINVAL);
	char longname[400] = "sem:/";
	memset(longname + 5, 'x', 300);
	cr_assert_eq(ipk_sem_open(&s, longname, IPK_SYNC_CREATE, 0), -ENAMETOOLONG);
	cr_assert_eq(ipk_sem_open(&s, "mutex:/x", IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "", 0, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, NULL, 0, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(NULL, "sem:/x", 0, 0), -EINVAL);

	sem_url(url, sizeof url, "bad", NULL);
	cr_assert_eq(ipk_sem_open(&s, url, 0x100, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_EXCL, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, url, 0, 0), -ENOENT, "unknown name");
	cr_assert(strstr(ipk_last_error(), "no semaphore"), "%s", ipk_last_error());
	cr_assert_eq(ipk_sync_remove(url), -ENOENT);
	cr_assert_eq(ipk_sync_remove("bogus:/x"), -EINVAL);

	cr_assert_eq(ipk_sem_wait(NULL, 0), -EINVAL);
	cr_assert_eq(ipk_sem_post(NULL), -EINVAL);
	cr_assert_eq(ipk_sem_value(NULL), -EINVAL);

	/* System V calls on a POSIX semaphore */
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 1), 0);
	ipk_semop op = {0, -1, 0};
	cr_assert_eq(ipk_semset_op(s, &op, 1, 0), -EOPNOTSUPP);
	cr_assert_eq(ipk_semset_set(s, 0, 1), -EOPNOTSUPP);
	cr_assert_eq(ipk_semset_id(s), -EOPNOTSUPP);
	cr_assert_eq(ipk_semset_get(s, 1), -EFBIG);
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
}

Test(sem, trywait_and_timeout)
{
	char url[256];
	sem_url(url, sizeof url, "to", NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 0), 0);
	cr_assert_eq(ipk_sem_trywait(s), -EAGAIN);
	cr_assert(strstr(ipk_last_error(), "is zero"), "%s", ipk_last_error());
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_sem_wait(s, 150), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 150);
	cr_assert(strstr(ipk_last_error(), "timed out"), "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_post(s), 0);
	cr_assert_eq(ipk_sem_wait(s, 150), 0);
	ipk_sem_unlink(s);
	ipk_sem_close(s);
}

Test(sem, overflow)
{
	char url[256];
	sem_url(url, sizeof url, "ovf", NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, SEM_VALUE_MAX), 0,
	             "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_post(s), -EOVERFLOW);
	cr_assert(strstr(ipk_last_error(), "SEM_VALUE_MAX"), "%s",
	          ipk_last_error());
	ipk_sem_unlink(s);
	ipk_sem_close(s);
}

Test(sem, wakes_waiter_in_other_process)
{
	char url[256];
	sem_url(url, sizeof url, "wake", NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 0), 0);
	pid_t pid = fork();
	if (pid == 0) {
		ipk_sem *c;
		if (ipk_sem_open(&c, url, 0, 0) < 0)
			_exit(2);
		int rc = ipk_sem_wait(c, 60000);
		_exit(rc == 0 ? 0 : 1);
	}
	cr_assert_eq(ipk_sem_post(s), 0);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	cr_assert_eq(ipk_sem_value(s), 0);
	ipk_sem_unlink(s);
	ipk_sem_close(s);
}

/* Several processes increment a plain counter under the semaphore. */
#define PROCS 4
#define ITERS 3000

static void hammer_procs(const char *url, ipk_sem *unnamed)
{
	struct counter *c = ipkt_shared(sizeof *c);
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		cr_assert_geq(pids[p], 0);
		if (pids[p] == 0) {
			ipk_sem *s = unnamed;
			if (s == NULL && ipk_sem_open(&s, url, 0, 0) < 0)
				_exit(2);
			for (int i = 0; i < ITERS; i++) {
				/* mix waits: forever, bounded, and polling */
				int rc;
				if (i % 3 == 0)
					rc = ipk_sem_wait(s, -1);
				else if (i % 3 == 1)
					rc = ipk_sem_wait(s, 60000);
				else
					while ((rc = ipk_sem_trywait(s)) == -EAGAIN)
						sched_yield();
				if (rc < 0)
					_exit(3);
				critical(c);
				if (ipk_sem_post(s) < 0)
					_exit(4);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++)
		cr_assert_eq(ipkt_wait_child(pids[p]), 0);
	cr_assert_eq(c->value, (long)PROCS * ITERS);
	cr_assert_eq(c->overlap, 0);
	munmap(c, sizeof *c);
}

Test(sem, mutual_exclusion_named)
{
	char url[256];
	sem_url(url, sizeof url, "mx", NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1), 0);
	hammer_procs(url, NULL);
	cr_assert_eq(ipk_sem_value(s), 1);
	ipk_sem_unlink(s);
	ipk_sem_close(s);
}

Test(sem, mutual_exclusion_unnamed)
{
	void *mem = ipkt_shared(IPK_SEM_MEM_SIZE);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_init_at(&s, mem, 1), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_created(s), 1);
	hammer_procs(NULL, s);
	ipk_sem *a;
	cr_assert_eq(ipk_sem_attach_at(&a, mem), 0);
	cr_assert_eq(ipk_sem_created(a), 0);
	cr_assert_eq(ipk_sem_value(a), 1);
	cr_assert_eq(ipk_sem_close(a), 0);
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
	munmap(mem, IPK_SEM_MEM_SIZE);
}

Test(sem, unnamed_bad_input)
{
	ipk_sem *s;
	uint64_t mem[8];
	cr_assert_eq(ipk_sem_init_at(&s, mem, -1), -EINVAL);
	cr_assert_eq(ipk_sem_init_at(&s, NULL, 0), -EINVAL);
	cr_assert_eq(ipk_sem_init_at(&s, (char *)mem + 1, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "aligned"), "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_attach_at(&s, NULL), -EINVAL);
}

struct tharg {
	ipk_sem *s;
	struct counter *c;
	int fails;
};

static void *thread_hammer(void *p)
{
	struct tharg *a = p;
	for (int i = 0; i < ITERS; i++) {
		int rc = ipk_sem_wait(a->s, i & 1 ? -1 : 60000);
		if (rc < 0) {
			a->fails++;
			continue;
		}
		critical(a->c);
		ipk_sem_post(a->s);
	}
	return NULL;
}

static void hammer_threads(ipk_sem *s)
{
	struct counter c = {0};
	pthread_t t[4];
	struct tharg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct tharg){s, &c, 0};
		cr_assert_eq(pthread_create(&t[i], NULL, thread_hammer, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(a[i].fails, 0);
	}
	cr_assert_eq(c.value, 4L * ITERS);
	cr_assert_eq(c.overlap, 0);
}

Test(sem, mutual_exclusion_threads)
{
	char url[256];
	sem_url(url, sizeof url, "thr", NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1), 0);
	hammer_threads(s);
	ipk_sem_unlink(s);
	ipk_sem_close(s);

	void *mem = ipkt_shared(IPK_SEM_MEM_SIZE);
	cr_assert_eq(ipk_sem_init_at(&s, mem, 1), 0);
	hammer_threads(s);
	ipk_sem_unlink(s);
	ipk_sem_close(s);
	munmap(mem, IPK_SEM_MEM_SIZE);
}
