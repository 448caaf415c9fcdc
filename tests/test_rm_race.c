/*
 * ipk_remove of a file object while someone swaps a directory on its path.
 *
 * A directory d holds an ipckit ring "victim"; target/ holds a plain file
 * of the same name that must never be removed; dswap is a symbolic link to
 * target/. An attacker process waits (inotify) until the remover has read
 * the ring and closed it, then exchanges d and dswap (renameat2
 * RENAME_EXCHANGE), so that the same path now leads to target/victim. A
 * remover that checks through one walk of the path and unlinks through
 * another removes the plain file; one that works relative to the
 * directory it opened once removes the ring it checked, or nothing.
 * Rounds: IPK_RACE_ROUNDS (default 60).
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char top[200], d[260], dswap[260], target[260], victim[300],
	plain[300];

static void put(const char *path, const void *buf, size_t len)
{
	char tmp[320];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", tmp, strerror(errno));
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	cr_assert_eq(rename(tmp, path), 0, "%s: %s", path, strerror(errno));
}

static void *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	void *buf = malloc((size_t)st.st_size);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Per round: told 'g', drains old events, answers 'a'; then at the first
   close of "victim" without writing, swaps and answers 's' (or 'n' after
   a while without one). */
static void attacker(int in, int out)
{
	int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino < 0 || inotify_add_watch(ino, d, IN_CLOSE_NOWRITE) < 0)
		_exit(2);
	char c;
	while (read(in, &c, 1) == 1) {
		char ev[4096] __attribute__((aligned(8)));
		while (read(ino, ev, sizeof ev) > 0)
			;
		if (write(out, "a", 1) != 1)
			_exit(2);
		char answer = 'n';
		struct pollfd p = {.fd = ino, .events = POLLIN};
		while (answer == 'n' && poll(&p, 1, 3000) == 1) {
			ssize_t n = read(ino, ev, sizeof ev);
			for (ssize_t off = 0; off < n;) {
				struct inotify_event *e = (void *)(ev + off);
				if (e->len && strcmp(e->name, "victim") == 0 &&
				    answer == 'n') {
					answer = renameat2(AT_FDCWD, d, AT_FDCWD, dswap,
					                   RENAME_EXCHANGE) == 0
					                 ? 's'
					                 : 'e';
				}
				off += (ssize_t)sizeof *e + e->len;
			}
		}
		if (write(out, &answer, 1) != 1)
			_exit(2);
	}
	_exit(0);
}

Test(rm_race, directory_swap_never_removes_another_file, .timeout = 600)
{
	snprintf(top, sizeof top, "%s", ipkt_path("rmrace"));
	snprintf(d, sizeof d, "%s/d", top);
	snprintf(dswap, sizeof dswap, "%s/dswap", top);
	snprintf(target, sizeof target, "%s/target", top);
	snprintf(victim, sizeof victim, "%s/victim", d);
	snprintf(plain, sizeof plain, "%s/victim", target);
	cr_assert_eq(mkdir(top, 0700), 0);
	cr_assert_eq(mkdir(d, 0700), 0);
	cr_assert_eq(mkdir(target, 0700), 0);
	cr_assert_eq(symlink(target, dswap), 0);

	/* one real ring, kept (?persist), copied back each round */
	char url[400];
	snprintf(url, sizeof url, "mmap:%s?persist&size=64K", victim);
	ipk_chan *c = ipkt_listen_ok(url);
	cr_assert_eq(ipk_close(c), 0, "%s", ipk_last_error());
	size_t ring_len;
	void *ring = slurp(victim, &ring_len);
	static const char precious[] = "precious\n";
	put(plain, precious, sizeof precious - 1);

	int to[2], from[2];
	cr_assert_eq(pipe2(to, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(from, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		attacker(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);

	const char *env = getenv("IPK_RACE_ROUNDS");
	int rounds = env ? atoi(env) : 60;
	int lost = 0, swapped = 0, removed = 0;
	snprintf(url, sizeof url, "mmap:%s", victim);
	for (int r = 0; r < rounds; r++) {
		put(victim, ring, ring_len);
		char a;
		cr_assert_eq(write(to[1], "g", 1), 1);
		cr_assert_eq(read(from[0], &a, 1), 1);
		cr_assert_eq(a, 'a');
		int rc = ipk_remove(url);
		cr_assert_eq(read(from[0], &a, 1), 1);
		cr_assert_neq(a, 'e', "renameat2 failed in the attacker");
		struct stat st;
		if (a == 's') {
			swapped++;
			/* put d back: the name d is the link now */
			cr_assert_eq(lstat(d, &st), 0);
			cr_assert(S_ISLNK(st.st_mode));
			cr_assert_eq(renameat2(AT_FDCWD, d, AT_FDCWD, dswap,
			                       RENAME_EXCHANGE), 0);
		}
		cr_assert_eq(lstat(d, &st), 0);
		cr_assert(S_ISDIR(st.st_mode));
		if (access(plain, F_OK) != 0) {
			lost++;
			put(plain, precious, sizeof precious - 1);
		}
		if (rc == 0 && access(victim, F_OK) != 0)
			removed++;
		else if (rc == 0)
			cr_expect(false, "round %d: ipk_remove said 0, the ring stays",
			          r);
	}
	close(to[1]);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	close(from[0]);
	free(ring);
	cr_log_info("%d rounds, %d swapped, %d rings removed, %d plain files "
	            "lost", rounds, swapped, removed, lost);
	cr_expect_eq(lost, 0,
	             "the plain file %s was removed in %d of %d rounds (%d "
	             "swaps)", plain, lost, rounds, swapped);
	/* the race really ran: otherwise this test could not fail */
	cr_expect_gt(swapped, rounds / 4, "only %d of %d rounds swapped",
	             swapped, rounds);
	cr_expect_gt(removed, 0, "no round removed the ring");
	ipkt_sh("rm -rf '%s'", top);
}

/* A symbolic link on the path is not followed: refused with ELOOP and a
   message that says so, the FIFO stays; by its real path (or relative to
   the working directory) it is removed. */
Test(rm_race, symbolic_links_on_the_path_are_refused)
{
	char dir[200], link[260], via[300], real[300], url[400];
	snprintf(dir, sizeof dir, "%s", ipkt_path("rmlink"));
	snprintf(link, sizeof link, "%s.lnk", dir);
	snprintf(via, sizeof via, "%s/f", link);
	snprintf(real, sizeof real, "%s/f", dir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(symlink(dir, link), 0);
	cr_assert_eq(mkfifo(real, 0600), 0);
	snprintf(url, sizeof url, "fifo:%s", via);
	cr_expect_eq(ipk_remove(url), -ELOOP);
	cr_expect(strstr(ipk_last_error(), "symbolic link") != NULL, "%s",
	          ipk_last_error());
	cr_expect_eq(access(real, F_OK), 0, "the FIFO was removed through a link");
	/* relative to the working directory */
	char cwd[512];
	cr_assert_not_null(getcwd(cwd, sizeof cwd));
	cr_assert_eq(chdir(dir), 0);
	cr_expect_eq(ipk_remove("fifo:f"), 0, "%s", ipk_last_error());
	cr_assert_eq(chdir(cwd), 0);
	cr_expect_neq(access(real, F_OK), 0);
	cr_expect_eq(ipk_remove(url), -ELOOP);
	unlink(link);
	rmdir(dir);
}
