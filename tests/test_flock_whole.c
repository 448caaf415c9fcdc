/*
 * IPK_FLOCK_WHOLE: flock(2) locks through the ipk_flock handle. They exclude
 * other flock(2) holders (the kind flock(1) takes), not fcntl record locks;
 * try, timed and blocking waits; shared locks; unlock; a read-only file.
 */
#define _GNU_SOURCE
#include "util.h"

#include "tsan_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char path[256];

static void setup(void)
{
	snprintf(path, sizeof path, "%s", ipkt_path("whole"));
}

static void cleanup(void)
{
	unlink(path);
}

TestSuite(flock_whole, .init = setup, .fini = cleanup, .timeout = 120);

Test(flock_whole, excludes_flock2_holders_not_fcntl_ones)
{
	ipk_flock *f;
	cr_assert_eq(ipk_flock_open(&f, path, IPK_SYNC_CREATE), 0, "%s",
	             ipk_last_error());
	cr_assert_eq(ipk_flock_lock(f, IPK_FLOCK_WHOLE, 0, 0, 0), 0, "%s",
	             ipk_last_error());
	/* a plain flock(2) user, as flock(1) is, on its own open file */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), -1);
	cr_assert_eq(errno, EWOULDBLOCK);
	cr_assert_eq(flock(fd, LOCK_SH | LOCK_NB), -1);
	/* ... and a fcntl record lock is another kind: not excluded */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int wfd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_eq(fcntl(wfd, F_OFD_SETLK, &fl), 0);
	fl.l_type = F_UNLCK;
	cr_assert_eq(fcntl(wfd, F_OFD_SETLK, &fl), 0);
	close(wfd);

	cr_assert_eq(ipk_flock_unlock(f, 0, 0), 0, "%s", ipk_last_error());
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0, "unlock left it locked");
	close(fd);
	ipk_flock_close(f);
}

Test(flock_whole, waits_and_times_out_behind_a_flock2_holder)
{
	ipk_flock *f;
	cr_assert_eq(ipk_flock_open(&f, path, IPK_SYNC_CREATE), 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	cr_assert_eq(ipk_flock_lock(f, IPK_FLOCK_WHOLE, 0, 0, 0), -EAGAIN);
	cr_assert(strstr(ipk_last_error(), "flock"), "%s", ipk_last_error());
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert_eq(ipk_flock_lock(f, IPK_FLOCK_WHOLE, 0, 0, 100), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	cr_assert_geq(ms, 100);
	/* a shared lock waits behind an exclusive one too */
	cr_assert_eq(ipk_flock_lock(f, IPK_FLOCK_WHOLE | IPK_FLOCK_SHARED, 0, 0,
	                            0), -EAGAIN);

	/* blocking: woken once the holder (a child) lets go */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		usleep(100000);
		_exit(flock(fd, LOCK_UN) == 0 ? 0 : 1);
	}
	close(fd); /* the child's copy of the description still holds it */
	cr_assert_eq(ipk_flock_lock(f, IPK_FLOCK_WHOLE, 0, 0, -1), 0, "%s",
	             ipk_last_error());
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ipk_flock_close(f);
}

Test(flock_whole, shared_holders_together_and_read_only_files)
{
	ipk_flock *a, *b;
	cr_assert_eq(ipk_flock_open(&a, path, IPK_SYNC_CREATE), 0);
	cr_assert_eq(chmod(path, 0400), 0);
	cr_assert_eq(ipk_flock_open(&b, path, 0), 0);
	cr_assert_eq(ipk_flock_lock(a, IPK_FLOCK_WHOLE | IPK_FLOCK_SHARED, 0, 0,
	                            0), 0);
	cr_assert_eq(ipk_flock_lock(b, IPK_FLOCK_WHOLE | IPK_FLOCK_SHARED, 0, 0,
	                            0), 0);
	cr_assert_eq(ipk_flock_unlock(a, 0, 0), 0);
	cr_assert_eq(ipk_flock_unlock(b, 0, 0), 0);
	if (geteuid() != 0) {
		/* flock(2) needs no write access: exclusive works read-only */
		cr_assert_eq(ipk_flock_lock(b, IPK_FLOCK_WHOLE, 0, 0, 0), 0, "%s",
		             ipk_last_error());
	}
	ipk_flock_close(a);
	ipk_flock_close(b);
}

Test(flock_whole, a_range_is_refused)
{
	ipk_flock *f;
	cr_assert_eq(ipk_flock_open(&f, path, IPK_SYNC_CREATE), 0);
	cr_assert_eq(ipk_flock_lock(f, IPK_FLOCK_WHOLE, 10, 5, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "whole file"), "%s", ipk_last_error());
	cr_assert_eq(ipk_flock_lock(f, 0x100, 0, 0, 0), -EINVAL);
	ipk_flock_close(f);
}
