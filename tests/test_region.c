/*
 * Shared regions: create vs attach, permissions, read-only, detach is not
 * remove, the facts ipk_region_info reports, and data crossing fork.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	return st;
}

static void addr_for(int kind, char *buf, size_t cap)
{
	static unsigned n;
	switch (kind) {
	case IPK_REGION_POSIX:
		snprintf(buf, cap, "shm:%s", ipkt_name("region"));
		break;
	case IPK_REGION_SYSV:
		snprintf(buf, cap, "sysvshm:0x%08x",
		         0x5d000000u | ((unsigned)getpid() & 0xffffu) << 8 |
		                 (++n & 0xffu));
		break;
	default:
		snprintf(buf, cap, "mmap:%s", ipkt_path("region"));
	}
}

static bool exists(const char *url)
{
	ipk_regioninfo info;
	return ipk_region_stat(url, &info) == 0;
}

/* Create, share with a child, detach, re-attach, remove: for each kind. */
static void lifecycle(int kind)
{
	char url[256];
	addr_for(kind, url, sizeof url);
	ipk_region *r;
	int rc = ipk_region_open(&r, url, 64 * 1024, IPK_REGION_CREATE);
	cr_assert_eq(rc, 0, "create %s: %s", url, ipk_last_error());
	cr_assert_eq(ipk_region_size(r), 64 * 1024);
	unsigned char *p = ipk_region_addr(r);
	cr_assert_not_null(p);
	for (int i = 0; i < 64 * 1024; i++)
		cr_assert_eq(p[i], 0, "a new region is zero-filled");

	/* exclusive create fails; attach finds it */
	ipk_region *dup;
	cr_expect_eq(ipk_region_open(&dup, url, 4096, IPK_REGION_CREATE), -EEXIST);
	cr_expect_null(dup);

	ipk_regioninfo info;
	cr_assert_eq(ipk_region_info(r, &info), 0, "%s", ipk_last_error());
	cr_expect_eq(info.kind, kind);
	cr_expect_eq(info.size, 64 * 1024);
	cr_expect_eq(info.mode, 0600, "mode %o", info.mode);
	cr_expect_eq(info.uid, getuid());
	cr_expect(info.created);
	if (kind == IPK_REGION_SYSV) {
		cr_expect_eq(info.cpid, getpid());
		cr_expect_eq(info.cuid, getuid());
		cr_expect_geq(info.shmid, 0);
	}

	/* a child attaches, sees our bytes, writes its own */
	strcpy((char *)p, "from parent");
	int go[2], done[2];
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(done), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_region *c;
		if (ipk_region_open(&c, url, 0, IPK_REGION_ATTACH) < 0)
			_exit(3);
		char *q = ipk_region_addr(c);
		if (ipk_region_size(c) != 64 * 1024 || strcmp(q, "from parent"))
			_exit(4);
		strcpy(q + 1000, "from child");
		if (write(done[1], "x", 1) != 1)
			_exit(5);
		char b;
		if (read(go[0], &b, 1) != 1) /* stay attached while counted */
			_exit(6);
		_exit(ipk_region_detach(c) == 0 ? 0 : 7);
	}
	char b;
	cr_assert_eq(read(done[0], &b, 1), 1);
	cr_expect_str_eq((char *)p + 1000, "from child");
	cr_assert_eq(ipk_region_info(r, &info), 0);
	/* System V counts attachments (the child inherited ours and made its
	   own); for the others we count processes */
	cr_expect_eq(info.nattch, kind == IPK_REGION_SYSV ? 3 : 2,
	             "attach count %ld with a child attached", info.nattch);
	cr_assert_eq(write(go[1], "x", 1), 1);
	int st = wait_status(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	cr_assert_eq(ipk_region_info(r, &info), 0);
	cr_expect_eq(info.nattch, 1, "attach count %ld after the child left",
	             info.nattch);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);

	/* detaching leaves the region and its bytes */
	cr_assert_eq(ipk_region_detach(r), 0);
	cr_assert(exists(url), "%s vanished on detach", url);
	cr_assert_eq(ipk_region_open(&r, url, 0, IPK_REGION_ATTACH), 0, "%s",
	             ipk_last_error());
	cr_expect_str_eq((char *)ipk_region_addr(r) + 1000, "from child");
	cr_expect(!ipk_region_info(r, &info) && !info.created);

	/* attaching more than there is would fault later: refused now */
	cr_expect_eq(ipk_region_open(&dup, url, 1 << 20, IPK_REGION_ATTACH),
	             -EINVAL);

	/* remove destroys the name; our mapping stays usable until detach */
	cr_assert_eq(ipk_region_remove(r), 0, "%s", ipk_last_error());
	cr_expect(!exists(url), "%s still there after remove", url);
	strcpy(ipk_region_addr(r), "still mapped");
	cr_expect_eq(ipk_region_open(&dup, url, 0, IPK_REGION_ATTACH), -ENOENT);
	cr_assert_eq(ipk_region_detach(r), 0);
	cr_expect_eq(ipk_remove(url), -ENOENT);
}

Test(region, posix_lifecycle) { lifecycle(IPK_REGION_POSIX); }
Test(region, sysv_lifecycle) { lifecycle(IPK_REGION_SYSV); }
Test(region, file_lifecycle) { lifecycle(IPK_REGION_FILE); }

Test(region, create_or_attach)
{
	char url[256];
	addr_for(IPK_REGION_POSIX, url, sizeof url);
	ipk_region *a, *b;
	int both = IPK_REGION_CREATE | IPK_REGION_ATTACH;
	cr_assert_eq(ipk_region_open(&a, url, 8192, both), 0);
	cr_assert_eq(ipk_region_open(&b, url, 8192, both), 0);
	ipk_regioninfo ia, ib;
	ipk_region_info(a, &ia);
	ipk_region_info(b, &ib);
	cr_expect(ia.created && !ib.created);
	*(int *)ipk_region_addr(a) = 42;
	cr_expect_eq(*(int *)ipk_region_addr(b), 42);
	cr_expect_eq(ipk_region_remove(b), 0);
	ipk_region_detach(a);
	ipk_region_detach(b);
	cr_expect_eq(ipk_region_open(&a, url, 0, IPK_REGION_ATTACH), -ENOENT);
}

Test(region, mode_widened_despite_umask)
{
	mode_t old = umask(077);
	const int kinds[] = {IPK_REGION_POSIX, IPK_REGION_SYSV, IPK_REGION_FILE};
	for (size_t i = 0; i < 3; i++) {
		char url[256], wide[300];
		addr_for(kinds[i], url, sizeof url);
		snprintf(wide, sizeof wide, "%s?mode=0640&size=4096", url);
		ipk_region *r;
		cr_assert_eq(ipk_region_open(&r, wide, 0, IPK_REGION_CREATE), 0, "%s",
		             ipk_last_error());
		ipk_regioninfo info;
		cr_assert_eq(ipk_region_info(r, &info), 0);
		cr_expect_eq(info.mode, 0640, "%s: mode %o", url, info.mode);
		cr_expect_eq(ipk_region_remove(r), 0);
		ipk_region_detach(r);
	}
	umask(old);
}

Test(region, read_only_attach)
{
	char url[256];
	addr_for(IPK_REGION_POSIX, url, sizeof url);
	ipk_region *w, *ro;
	cr_assert_eq(ipk_region_open(&w, url, 4096, IPK_REGION_CREATE), 0);
	strcpy(ipk_region_addr(w), "hello");
	cr_assert_eq(ipk_region_open(&ro, url, 0, IPK_REGION_RDONLY), 0, "%s",
	             ipk_last_error());
	cr_expect_str_eq(ipk_region_addr(ro), "hello");
	ipk_regioninfo info;
	ipk_region_info(ro, &info);
	cr_expect(info.rdonly);
	/* a store through the read-only mapping faults */
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL); /* not a sanitizer's report: just die */
		*(volatile char *)ipk_region_addr(ro) = 'X';
		_exit(0);
	}
	int st = wait_status(pid);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	          "store to a read-only region: status %#x", st);
	cr_expect_str_eq(ipk_region_addr(w), "hello");
	ipk_region *bad;
	cr_expect_eq(ipk_region_open(&bad, url, 4096,
	                             IPK_REGION_CREATE | IPK_REGION_RDONLY),
	             -EINVAL);
	ipk_region_remove(w);
	ipk_region_detach(w);
	ipk_region_detach(ro);
}

Test(region, sysv_ftok)
{
	/* ftok needs an existing file: use one we create and delete */
	const char *path = ipkt_path("ftok");
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	char url[300];
	snprintf(url, sizeof url, "sysvshm:%s?proj=7", path);
	ipk_region *r;
	cr_assert_eq(ipk_region_open(&r, url, 12345, IPK_REGION_CREATE), 0, "%s",
	             ipk_last_error());
	ipk_regioninfo info;
	cr_assert_eq(ipk_region_info(r, &info), 0);
	cr_expect_eq(info.key, (int32_t)ftok(path, 7));
	cr_expect_eq(info.size, 12345);
	/* the same segment through the explicit key */
	char bykey[64];
	snprintf(bykey, sizeof bykey, "sysvshm:0x%08x", (unsigned)info.key);
	ipk_region *k;
	cr_assert_eq(ipk_region_open(&k, bykey, 0, IPK_REGION_ATTACH), 0);
	ipk_regioninfo ik;
	ipk_region_info(k, &ik);
	cr_expect_eq(ik.shmid, info.shmid);
	cr_expect_eq(ik.nattch, 2);
	ipk_region_detach(k);
	/* a different proj is a different key */
	snprintf(url, sizeof url, "sysvshm:%s?proj=8", path);
	cr_expect_eq(ipk_region_open(&k, url, 0, IPK_REGION_ATTACH), -ENOENT);
	cr_expect_eq(ipk_region_remove(r), 0);
	ipk_region_detach(r);
	cr_expect_eq(shmget(info.key, 0, 0), -1, "segment left behind");
	unlink(path);
	/* ftok of a missing path names the path */
	snprintf(url, sizeof url, "sysvshm:%s?proj=7", path);
	cr_expect_eq(ipk_region_open(&r, url, 4096, IPK_REGION_CREATE), -ENOENT);
	cr_expect(strstr(ipk_last_error(), path) != NULL, "%s", ipk_last_error());
}

Test(region, file_survives)
{
	/* a file region keeps its bytes with nobody attached, like after a
	   reboot: the file is all there is */
	char url[256];
	addr_for(IPK_REGION_FILE, url, sizeof url);
	ipk_region *r;
	cr_assert_eq(ipk_region_open(&r, url, 4096, IPK_REGION_CREATE), 0);
	strcpy(ipk_region_addr(r), "persisted");
	ipk_region_detach(r);
	FILE *f = fopen(url + strlen("mmap:"), "r");
	cr_assert_not_null(f);
	char buf[16] = {0};
	cr_expect_eq(fread(buf, 1, 9, f), 9);
	fclose(f);
	cr_expect_str_eq(buf, "persisted");
	/* a plain file is not a ring: ipk_remove leaves it (issue 9) */
	cr_expect_eq(ipk_remove(url), -EINVAL);
	cr_expect_eq(unlink(url + strlen("mmap:")), 0);
}

Test(region, anonymous_after_fork)
{
	ipk_region *r;
	cr_assert_eq(ipk_region_anon(&r, 1 << 20), 0);
	volatile int *p = ipk_region_addr(r);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		p[1000] = 7;
		_exit(0);
	}
	wait_status(pid);
	cr_expect_eq(p[1000], 7);
	cr_expect_eq(ipk_region_remove(r), -EINVAL);
	ipk_regioninfo info;
	cr_expect_eq(ipk_region_info(r, &info), 0);
	cr_expect_eq(info.kind, IPK_REGION_ANON);
	cr_expect_eq(ipk_region_detach(r), 0);
}

Test(region, bad_addresses)
{
	ipk_region *r;
	cr_expect_eq(ipk_region_open(&r, "shm:/a/b", 4096, IPK_REGION_CREATE),
	             -EINVAL);
	cr_expect_eq(ipk_region_open(&r, "shm:/x?bogus=1", 4096,
	                             IPK_REGION_CREATE), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "bogus") != NULL);
	cr_expect_eq(ipk_region_open(&r, "fifo:/tmp/x", 4096, IPK_REGION_CREATE),
	             -EINVAL);
	cr_expect_eq(ipk_region_open(&r, "sysvshm:0", 4096, IPK_REGION_CREATE),
	             -EINVAL);
	char url[256];
	addr_for(IPK_REGION_POSIX, url, sizeof url);
	cr_expect_eq(ipk_region_open(&r, url, 0, IPK_REGION_CREATE), -EINVAL,
	             "a new region needs a size");
	cr_expect_eq(ipk_region_open(&r, url, 0, IPK_REGION_ATTACH), -ENOENT);
	cr_expect(!exists(url));
}
