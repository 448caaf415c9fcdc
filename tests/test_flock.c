/*
 * Open-file-description locks: exclusive and shared, byte ranges, try /
 * timed / blocking, conversion, mutual exclusion across processes (on a
 * counter kept in the locked file itself) and threads, release when the
 * holder is killed, bad input.
 */
#define _GNU_SOURCE
#include "util.h"

#include "tsan_harness.h"
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Every test makes at most a few files: their paths are kept to remove. */
static char made[8][256];
static int nmade;

static const char *lockfile(const char *tag)
{
	cr_assert_lt(nmade, 8);
	snprintf(made[nmade], sizeof made[0], "%s", ipkt_path(tag));
	return made[nmade++];
}

static void cleanup(void)
{
	for (int i = 0; i < nmade; i++)
		unlink(made[i]);
	nmade = 0;
}

TestSuite(flock, .fini = cleanup, .timeout = 120);

Test(flock, exclusive_excludes_other_handles)
{
	const char *path = lockfile("ex");
	ipk_flock *a, *b;
	cr_assert_eq(ipk_flock_open(&a, path, 0), -ENOENT);
	cr_assert(strstr(ipk_last_error(), "does not exist"), "%s",
	          ipk_last_error());
	cr_assert_eq(ipk_flock_open(&a, path, IPK_SYNC_CREATE), 0, "%s",
	             ipk_last_error());
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(ipk_flock_open(&b, path, 0), 0);
	cr_assert_geq(ipk_flock_fd(a), 0);

	cr_assert_eq(ipk_flock_lock(a, 0, 0, 0, 0), 0);
	cr_assert_eq(ipk_flock_lock(b, 0, 0, 0, 0), -EAGAIN,
	             "a second handle in the same process is excluded");
	cr_assert(strstr(ipk_last_error(), "whole file"), "%s", ipk_last_error());
	cr_assert_eq(ipk_flock_lock(b, IPK_FLOCK_SHARED, 0, 0, 0), -EAGAIN);
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_flock_lock(b, 0, 0, 0, 150), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 150);
	cr_assert(strstr(ipk_last_error(), "timed out"), "%s", ipk_last_error());
	cr_assert_eq(ipk_flock_unlock(a, 0, 0), 0);
	cr_assert_eq(ipk_flock_lock(b, 0, 0, 0, 0), 0);
	/* closing a handle releases its locks */
	cr_assert_eq(ipk_flock_close(b), 0);
	cr_assert_eq(ipk_flock_lock(a, 0, 0, 0, 0), 0);
	cr_assert_eq(ipk_flock_close(a), 0);
	cr_assert_eq(ipk_flock_close(NULL), 0);
}

Test(flock, shared_and_conversion)
{
	const char *path = lockfile("sh");
	ipk_flock *a, *b, *c;
	cr_assert_eq(ipk_flock_open(&a, path, IPK_SYNC_CREATE), 0);
	cr_assert_eq(ipk_flock_open(&b, path, 0), 0);
	cr_assert_eq(ipk_flock_open(&c, path, 0), 0);
	cr_assert_eq(ipk_flock_lock(a, IPK_FLOCK_SHARED, 0, 0, 0), 0);
	cr_assert_eq(ipk_flock_lock(b, IPK_FLOCK_SHARED, 0, 0, 0), 0,
	             "shared locks coexist");
	cr_assert_eq(ipk_flock_lock(c, 0, 0, 0, 0), -EAGAIN);
	/* a converts to exclusive only once b has gone */
	cr_assert_eq(ipk_flock_lock(a, 0, 0, 0, 0), -EAGAIN);
	cr_assert_eq(ipk_flock_unlock(b, 0, 0), 0);
	cr_assert_eq(ipk_flock_lock(a, 0, 0, 0, 0), 0);
	cr_assert_eq(ipk_flock_lock(b, IPK_FLOCK_SHARED, 0, 0, 0), -EAGAIN);
	/* and back to shared */
	cr_assert_eq(ipk_flock_lock(a, IPK_FLOCK_SHARED, 0, 0, 0), 0);
	cr_assert_eq(ipk_flock_lock(b, IPK_FLOCK_SHARED, 0, 0, 0), 0);
	ipk_flock_close(a);
	ipk_flock_close(b);
	ipk_flock_close(c);
}

Test(flock, byte_ranges)
{
	const char *path = lockfile("rng");
	ipk_flock *a, *b;
	cr_assert_eq(ipk_flock_open(&a, path, IPK_SYNC_CREATE), 0);
	cr_assert_eq(ipk_flock_open(&b, path, 0), 0);
	cr_assert_eq(ipk_flock_lock(a, 0, 0, 10, 0), 0);
	cr_assert_eq(ipk_flock_lock(b, 0, 10, 10, 0), 0, "disjoint ranges");
	cr_assert_eq(ipk_flock_lock(b, 0, 5, 10, 0), -EAGAIN, "overlap");
	cr_assert(strstr(ipk_last_error(), "bytes 5..14"), "%s", ipk_last_error());
	cr_assert_eq(ipk_flock_lock(b, 0, 100, 0, 0), 0, "to the end, past EOF");
	cr_assert_eq(ipk_flock_lock(a, 0, 1000000, 1, 0), -EAGAIN);
	cr_assert_eq(ipk_flock_lock(a, 0, 0, 0, 0), -EAGAIN, "whole file");
	/* unlocking part of a range keeps the rest */
	cr_assert_eq(ipk_flock_unlock(a, 0, 5), 0);
	cr_assert_eq(ipk_flock_lock(b, 0, 0, 5, 0), 0);
	cr_assert_eq(ipk_flock_lock(b, 0, 5, 1, 0), -EAGAIN);
	ipk_flock_close(a);
	ipk_flock_close(b);
}

Test(flock, bad_input)
{
	const char *path = lockfile("bad");
	ipk_flock *a;
	cr_assert_eq(ipk_flock_open(&a, "", 0), -EINVAL);
	cr_assert_eq(ipk_flock_open(&a, NULL, 0), -EINVAL);
	cr_assert_eq(ipk_flock_open(NULL, path, 0), -EINVAL);
	cr_assert_eq(ipk_flock_open(&a, path, IPK_SYNC_EXCL), -EINVAL);
	cr_assert_eq(ipk_flock_open(&a, path, IPK_SYNC_NOUNDO), -EINVAL);
	cr_assert_eq(ipk_flock_open(&a, "/nonexistent-dir/x", IPK_SYNC_CREATE),
	             -ENOENT);
	cr_assert_eq(ipk_flock_open(&a, path, IPK_SYNC_CREATE | IPK_SYNC_EXCL), 0);
	ipk_flock *b;
	cr_assert_eq(ipk_flock_open(&b, path, IPK_SYNC_CREATE | IPK_SYNC_EXCL),
	             -EEXIST);
	cr_assert_eq(ipk_flock_lock(a, 0, -1, 0, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "negative offset"), "%s",
	          ipk_last_error());
	cr_assert_eq(ipk_flock_lock(a, 0, 0, -5, 0), -EINVAL);
	cr_assert_eq(ipk_flock_lock(a, 0x10, 0, 0, 0), -EINVAL);
	cr_assert_eq(ipk_flock_unlock(a, -1, 0), -EINVAL);
	cr_assert_eq(ipk_flock_lock(NULL, 0, 0, 0, 0), -EINVAL);
	cr_assert_eq(ipk_flock_fd(NULL), -EINVAL);
	ipk_flock_close(a);

	/* a directory opens read-only: shared locks only */
	cr_assert_eq(ipk_flock_open(&a, "/tmp", 0), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_flock_lock(a, 0, 0, 0, 0), -EBADF);
	cr_assert(strstr(ipk_last_error(), "read-only"), "%s", ipk_last_error());
	ipk_flock_close(a);
}

/* Processes add to a counter stored in the file itself under the lock. */
static int bump(const char *path, int iters, int variant)
{
	ipk_flock *f;
	if (ipk_flock_open(&f, path, 0) < 0)
		return 2;
	int fd = ipk_flock_fd(f);
	for (int i = 0; i < iters; i++) {
		int t = variant == 0 ? -1 : variant == 1 ? 60000 : 0;
		int rc;
		while ((rc = ipk_flock_lock(f, 0, 0, 0, t)) == -EAGAIN)
			sched_yield();
		if (rc < 0)
			return 3;
		long v = 0;
		char buf[32] = "";
		if (pread(fd, buf, sizeof buf - 1, 0) < 0)
			return 4;
		v = atol(buf);
		int n = snprintf(buf, sizeof buf, "%020ld", v + 1);
		if (pwrite(fd, buf, (size_t)n, 0) != n)
			return 5;
		if (ipk_flock_unlock(f, 0, 0) < 0)
			return 6;
	}
	ipk_flock_close(f);
	return 0;
}

Test(flock, mutual_exclusion_processes)
{
	enum { PROCS = 4, ITERS = 1000 };
	const char *path = lockfile("cnt");
	ipk_flock *f;
	cr_assert_eq(ipk_flock_open(&f, path, IPK_SYNC_CREATE), 0);
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++)
		if ((pids[p] = fork()) == 0)
			_exit(bump(path, ITERS, p % 3));
	for (int p = 0; p < PROCS; p++)
		cr_assert_eq(ipkt_wait_child(pids[p]), 0);
	char buf[32] = "";
	cr_assert_gt(pread(ipk_flock_fd(f), buf, sizeof buf - 1, 0), 0);
	cr_assert_eq(atol(buf), (long)PROCS * ITERS);
	ipk_flock_close(f);
}

struct tharg {
	const char *path;
	long *counter;
	int rc;
};

static void *thread_bump(void *p)
{
	struct tharg *t = p;
	ipk_flock *f;
	if (ipk_flock_open(&f, t->path, 0) < 0) {
		t->rc = 1;
		return NULL;
	}
	for (int i = 0; i < 1000; i++) {
		if (ipk_flock_lock(f, 0, 0, 0, i & 1 ? -1 : 60000) < 0) {
			t->rc = 2;
			break;
		}
		long v = *t->counter;
		if ((v & 31) == 0)
			sched_yield();
		*t->counter = v + 1;
		ipk_flock_unlock(f, 0, 0);
	}
	ipk_flock_close(f);
	return NULL;
}

Test(flock, mutual_exclusion_threads)
{
	const char *path = lockfile("thr");
	ipk_flock *f;
	cr_assert_eq(ipk_flock_open(&f, path, IPK_SYNC_CREATE), 0);
	long counter = 0;
	pthread_t t[4];
	struct tharg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct tharg){path, &counter, 0};
		cr_assert_eq(pthread_create(&t[i], NULL, thread_bump, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(a[i].rc, 0);
	}
	cr_assert_eq(counter, 4000);
	ipk_flock_close(f);
}

Test(flock, killed_holder_releases)
{
	const char *path = lockfile("kill");
	ipk_flock *f;
	cr_assert_eq(ipk_flock_open(&f, path, IPK_SYNC_CREATE), 0);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		ipk_flock *c;
		if (ipk_flock_open(&c, path, 0) < 0 ||
		    ipk_flock_lock(c, 0, 0, 0, -1) < 0)
			_exit(2);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	ipkt_await(p[0]);
	cr_assert_eq(ipk_flock_lock(f, 0, 0, 0, 0), -EAGAIN);
	kill(pid, SIGKILL);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL);
	cr_assert_eq(ipk_flock_lock(f, 0, 0, 0, 10000), 0, "%s", ipk_last_error());
	ipk_flock_close(f);
	close(p[0]);
	close(p[1]);
}

/* Wait until /proc/locks shows a request blocked on inode ino ("->"). */
static void await_blocked(ino_t ino)
{
	char want[64];
	snprintf(want, sizeof want, ":%lu ", (unsigned long)ino);
	for (int i = 0; i < 10000; i++) {
		FILE *f = fopen("/proc/locks", "r");
		cr_assert(f != NULL);
		char line[256];
		bool found = false;
		while (!found && fgets(line, sizeof line, f))
			found = strstr(line, "->") && strstr(line, want);
		fclose(f);
		if (found)
			return;
		usleep(1000);
	}
	cr_assert_fail("no blocked lock request appeared");
}

Test(flock, blocking_wait_is_woken)
{
	const char *path = lockfile("blk");
	ipk_flock *f;
	cr_assert_eq(ipk_flock_open(&f, path, IPK_SYNC_CREATE), 0);
	cr_assert_eq(ipk_flock_lock(f, 0, 0, 0, 0), 0);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		ipk_flock *c;
		if (ipk_flock_open(&c, path, 0) < 0)
			_exit(2);
		(void)!write(p[1], "x", 1);
		_exit(ipk_flock_lock(c, IPK_FLOCK_SHARED, 0, 0, -1) == 0 ? 0 : 1);
	}
	ipkt_await(p[0]);
	struct stat st;
	cr_assert_eq(fstat(ipk_flock_fd(f), &st), 0);
	await_blocked(st.st_ino);
	cr_assert_eq(ipk_flock_unlock(f, 0, 0), 0);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	ipk_flock_close(f);
	close(p[0]);
	close(p[1]);
}
