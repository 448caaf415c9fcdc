/* ipk_spawn / ipk_pid / ipk_wait: coprocesses over pipes and pseudo-terminals. */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
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

static ipk_chan *spawn_ok(const char *const argv[], const ipk_spawn_opts *o)
{
	ipk_chan *c = NULL;
	int rc = ipk_spawn(&c, argv, o);
	cr_assert_eq(rc, 0, "spawn %s: %d %s", argv[0], rc, ipk_last_error());
	cr_assert_not_null(c);
	return c;
}

/* Read until the child closes its output; returns the byte count. */
static size_t read_all(ipk_chan *c, char *buf, size_t cap)
{
	size_t got = 0;
	for (;;) {
		cr_assert_lt(got, cap, "child wrote more than %zu bytes", cap);
		ssize_t n = ipk_recv(c, buf + got, cap - got, 20000);
		if (n == -EPIPE)
			break;
		cr_assert_gt(n, 0, "recv: %zd %s", n, ipk_last_error());
		got += (size_t)n;
	}
	buf[got < cap ? got : cap - 1] = '\0';
	return got;
}

/* Read exactly len bytes (raw chunks may split anywhere). */
static void read_exact(ipk_chan *c, char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = ipk_recv(c, buf + got, len - got, 20000);
		cr_assert_gt(n, 0, "recv after %zu of %zu bytes: %zd %s", got, len, n,
		             ipk_last_error());
		got += (size_t)n;
	}
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int exit_code(ipk_chan *c)
{
	int st = -1;
	int rc = ipk_wait(c, &st, 20000);
	cr_assert_eq(rc, 0, "wait: %s", ipk_last_error());
	cr_assert(WIFEXITED(st), "child did not exit normally (status %#x)", st);
	return WEXITSTATUS(st);
}

Test(spawn, cat_echo)
{
	const char *argv[] = {"cat", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	cr_assert_gt(ipk_pid(c), 0);
	for (int i = 0; i < 50; i++) {
		char line[64], back[64];
		int len = snprintf(line, sizeof line, "line %d of the echo test\n", i);
		cr_assert_eq(ipk_send(c, line, (size_t)len, 5000), len);
		read_exact(c, back, (size_t)len);
		cr_assert(memcmp(line, back, (size_t)len) == 0, "echo %d differs", i);
	}
	cr_assert_eq(ipk_shutdown(c), 0, "shutdown: %s", ipk_last_error());
	char rest[16];
	cr_assert_eq(ipk_recv(c, rest, sizeof rest, 5000), -EPIPE);
	cr_assert_eq(exit_code(c), 0);
	cr_assert_eq(ipk_close(c), 0, "close: %s", ipk_last_error());
}

struct bulk {
	ipk_chan *c;
	size_t len;
	int rc;
};

static void *bulk_writer(void *arg)
{
	struct bulk *b = arg;
	char *buf = malloc(b->len);
	ipkt_fill(buf, b->len, 7);
	for (size_t off = 0; off < b->len && b->rc == 0; off += 65536) {
		size_t n = b->len - off < 65536 ? b->len - off : 65536;
		if (ipk_send(b->c, buf + off, n, 20000) != (ssize_t)n)
			b->rc = -1;
	}
	if (b->rc == 0 && ipk_shutdown(b->c) != 0)
		b->rc = -2;
	free(buf);
	return NULL;
}

/* More than the pipes hold: the writer and the reader must overlap. */
Test(spawn, cat_bulk_binary, .timeout = 60)
{
	const char *argv[] = {"cat", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	struct bulk b = {c, 4 << 20, 0};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, bulk_writer, &b), 0);
	char *got = malloc(b.len + 1);
	size_t n = read_all(c, got, b.len + 1);
	pthread_join(t, NULL);
	cr_assert_eq(b.rc, 0, "writer failed");
	cr_assert_eq(n, b.len);
	cr_assert(ipkt_check(got, b.len, 7), "bytes changed on the way");
	free(got);
	cr_assert_eq(ipk_close(c), 0);
}

Test(spawn, sort_after_shutdown)
{
	const char *argv[] = {"sort", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	const char *in[] = {"pear\n", "apple\n", "fig\n", "banana\n"};
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(ipk_send(c, in[i], strlen(in[i]), 5000),
		             (ssize_t)strlen(in[i]));
	/* sort prints nothing until its input ends */
	char buf[256];
	cr_assert_eq(ipk_recv(c, buf, sizeof buf, 0), -EAGAIN);
	cr_assert_eq(ipk_shutdown(c), 0);
	cr_assert_eq(ipk_send(c, "x", 1, 0), -EBADF, "send after shutdown");
	read_all(c, buf, sizeof buf);
	cr_assert_str_eq(buf, "apple\nbanana\nfig\npear\n");
	cr_assert_eq(exit_code(c), 0);
	cr_assert_eq(ipk_close(c), 0);
}

Test(spawn, exit_status)
{
	const char *argv[] = {"sh", "-c", "exit 3", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	cr_assert_eq(exit_code(c), 3);
	/* asking again gives the same answer */
	int st = 0;
	cr_assert_eq(ipk_wait(c, &st, 0), 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	cr_assert_eq(ipk_close(c), 0);
}

Test(spawn, killed_by_signal)
{
	const char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	int st = 0;
	cr_assert_eq(ipk_wait(c, &st, 20000), 0);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %#x", st);
	cr_assert_eq(ipk_close(c), 0);
}

Test(spawn, not_found)
{
	const char *argv[] = {"ipkt-no-such-program-here", "x", NULL};
	ipk_chan *c = (ipk_chan *)1;
	cr_assert_eq(ipk_spawn(&c, argv, NULL), -ENOENT);
	cr_assert_null(c);
	cr_assert(strstr(ipk_last_error(), "ipkt-no-such-program-here"),
	          "message: %s", ipk_last_error());
	const char *abs[] = {"/nonexistent/dir/prog", NULL};
	cr_assert_eq(ipk_spawn(&c, abs, NULL), -ENOENT);
	/* a bad working directory is reported too */
	const char *ok[] = {"true", NULL};
	ipk_spawn_opts o = {.cwd = "/nonexistent/ipkt-dir"};
	cr_assert_eq(ipk_spawn(&c, ok, &o), -ENOENT);
	cr_assert(strstr(ipk_last_error(), "/nonexistent/ipkt-dir"), "message: %s",
	          ipk_last_error());
	/* no child was left behind */
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
	cr_assert_eq(errno, ECHILD);
}

Test(spawn, not_executable)
{
	const char *path = ipkt_path("noexec");
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("#!/bin/sh\necho hi\n", f);
	fclose(f);
	chmod(path, 0644);
	const char *argv[] = {path, NULL};
	ipk_chan *c = NULL;
	int rc = ipk_spawn(&c, argv, NULL);
	unlink(path);
	cr_assert_eq(rc, -EACCES, "got %d: %s", rc, ipk_last_error());
	cr_assert_null(c);
}

Test(spawn, bad_arguments)
{
	ipk_chan *c = NULL;
	const char *empty[] = {NULL};
	cr_assert_eq(ipk_spawn(&c, empty, NULL), -EINVAL);
	cr_assert_eq(ipk_spawn(&c, NULL, NULL), -EINVAL);
	cr_assert_eq(ipk_spawn(NULL, empty, NULL), -EINVAL);
	/* channels that are not coprocesses have no child */
	ipk_chan *a, *b;
	cr_assert_eq(ipk_pair("pipe:", &a, &b), 0);
	cr_assert_eq(ipk_pid(a), -ESRCH);
	int st;
	cr_assert_eq(ipk_wait(a, &st, 0), -ESRCH);
	cr_assert_eq(ipk_pid(NULL), -ESRCH);
	ipk_close(a);
	ipk_close(b);
}

Test(spawn, wait_timeouts)
{
	const char *argv[] = {"cat", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	int st = -1;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ipk_wait(c, &st, 0), -EAGAIN);
	cr_assert_lt(ms_since(&t0), 100.0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ipk_wait(c, &st, 150), -ETIMEDOUT);
	double el = ms_since(&t0);
	cr_assert_geq(el, 149.0, "woke early after %.1f ms", el);
	cr_assert_lt(el, 3000.0, "150 ms wait took %.1f ms", el);
	cr_assert_eq(st, -1, "status written on timeout");
	/* end of input lets cat exit; a long wait then returns at once */
	cr_assert_eq(ipk_shutdown(c), 0);
	cr_assert_eq(ipk_wait(c, &st, -1), 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(ipk_close(c), 0);
}

Test(spawn, close_kills_within_linger, .timeout = 60)
{
	const char *argv[] = {"sleep", "100", NULL};
	ipk_spawn_opts o = {.linger_ms = 300};
	ipk_chan *c = spawn_ok(argv, &o);
	pid_t pid = ipk_pid(c);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ipk_close(c), 0, "close: %s", ipk_last_error());
	double el = ms_since(&t0);
	cr_assert_geq(el, 299.0, "did not give the child its linger (%.1f ms)", el);
	cr_assert_lt(el, 10000.0, "close took %.1f ms", el);
	/* reaped: no zombie, no child of ours left */
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1);
	cr_assert_eq(errno, ECHILD);
}

Test(spawn, close_waits_for_a_child_that_exits)
{
	/* the child finishes on end of input: close must not kill it */
	const char *path = ipkt_path("spawnout");
	char script[256];
	snprintf(script, sizeof script, "cat > %s", path);
	const char *argv[] = {"sh", "-c", script, NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	pid_t pid = ipk_pid(c);
	cr_assert_eq(ipk_send(c, "kept\n", 5, 5000), 5);
	cr_assert_eq(ipk_close(c), 0);
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char line[32] = "";
	cr_assert_not_null(fgets(line, sizeof line, f));
	fclose(f);
	unlink(path);
	cr_assert_str_eq(line, "kept\n");
}

Test(spawn, send_to_exited_child_is_epipe)
{
	/* default SIGPIPE disposition: it must be ignored for us, not kill us */
	signal(SIGPIPE, SIG_DFL);
	const char *argv[] = {"true", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	cr_assert_eq(exit_code(c), 0);
	char buf[4096] = {0};
	ssize_t n = 0;
	for (int i = 0; i < 100 && n >= 0; i++)
		n = ipk_send(c, buf, sizeof buf, 1000);
	cr_assert_eq(n, -EPIPE, "send: %zd %s", n, ipk_last_error());
	cr_assert_eq(ipk_recv(c, buf, sizeof buf, 1000), -EPIPE);
	cr_assert_eq(ipk_close(c), 0);
}

/* The child gets SIGPIPE at its default and no blocked signals. */
Test(spawn, child_signal_state)
{
	sigset_t blk;
	sigemptyset(&blk);
	sigaddset(&blk, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &blk, NULL);
	const char *argv[] = {"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status",
	                      NULL};
	ipk_chan *c = spawn_ok(argv, NULL); /* sets SIGPIPE to SIG_IGN for us */
	char buf[512];
	read_all(c, buf, sizeof buf);
	cr_assert_eq(exit_code(c), 0);
	ipk_close(c);
	unsigned long long ign = ~0ULL, blocked = ~0ULL;
	char *p = strstr(buf, "SigIgn:");
	cr_assert_not_null(p, "%s", buf);
	ign = strtoull(p + 7, NULL, 16);
	p = strstr(buf, "SigBlk:");
	cr_assert_not_null(p, "%s", buf);
	blocked = strtoull(p + 7, NULL, 16);
	cr_assert_eq(ign & (1ULL << (SIGPIPE - 1)), 0, "SIGPIPE ignored in child");
	cr_assert_eq(blocked, 0, "child inherited blocked signals %#llx", blocked);
	struct sigaction sa;
	sigaction(SIGPIPE, NULL, &sa);
	cr_assert_eq(sa.sa_handler, SIG_IGN, "the library did not ignore SIGPIPE");
}

/* The child gets 0, 1, 2 and none of our descriptors. */
Test(spawn, no_descriptor_leak)
{
	ipk_chan *a, *b, *l;
	char url[256];
	snprintf(url, sizeof url, "unix:%s", ipkt_path("leak"));
	cr_assert_eq(ipk_pair("pipe:", &a, &b), 0);
	cr_assert_eq(ipk_listen(&l, url), 0);
	/* ls lists the shell's descriptors (the shell holds no extra ones
	   while it waits for ls) */
	const char *argv[] = {"sh", "-c", "ls -l /proc/$$/fd", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	char buf[4096];
	read_all(c, buf, sizeof buf);
	cr_assert_eq(exit_code(c), 0);
	/* anything beyond 0..2 must be a descriptor the test runner left
	   inheritable, never one of the library's */
	int seen = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *arrow = strstr(line, " -> ");
		if (arrow == NULL)
			continue;
		*arrow = '\0';
		int fd = atoi(strrchr(line, ' ') + 1);
		seen++;
		if (fd <= 2)
			continue;
		int fl = fcntl(fd, F_GETFD);
		cr_assert(fl >= 0 && !(fl & FD_CLOEXEC),
		          "the child inherited descriptor %d", fd);
		cr_assert(fd != ipk_fd(a) && fd != ipk_fd(b) && fd != ipk_fd(l) &&
		          fd != ipk_fd(c), "the child inherited channel fd %d", fd);
	}
	cr_assert_geq(seen, 3, "could not read the listing");
	ipk_close(c);
	ipk_close(a);
	ipk_close(b);
	ipk_close(l);
}

Test(spawn, env_and_cwd)
{
	const char *env[] = {"IPKT_VAR=from-spawn", "PATH=/usr/bin:/bin", NULL};
	ipk_spawn_opts o = {.envp = env, .cwd = "/"};
	const char *argv[] = {"sh", "-c", "echo \"$IPKT_VAR\"; pwd", NULL};
	ipk_chan *c = spawn_ok(argv, &o);
	char buf[256];
	read_all(c, buf, sizeof buf);
	cr_assert_str_eq(buf, "from-spawn\n/\n");
	cr_assert_eq(exit_code(c), 0);
	ipk_close(c);
}

Test(spawn, stdin_is_a_pipe_by_default)
{
	const char *argv[] = {"sh", "-c", "test -t 0 && echo tty || echo pipe",
	                      NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	char buf[64];
	read_all(c, buf, sizeof buf);
	cr_assert_str_eq(buf, "pipe\n");
	ipk_close(c);
}

Test(spawn, pty_isatty)
{
	ipk_spawn_opts o = {.pty = 1};
	const char *argv[] = {
		"sh", "-c",
		"test -t 0 && echo tty; test -t 1 && echo out; test -t 2 && echo err",
		NULL};
	ipk_chan *c = spawn_ok(argv, &o);
	char buf[64];
	read_all(c, buf, sizeof buf);
	/* raw mode: no "\r\n" translation */
	cr_assert_str_eq(buf, "tty\nout\nerr\n");
	cr_assert_eq(exit_code(c), 0);
	cr_assert_eq(ipk_close(c), 0);
}

Test(spawn, pty_controlling_terminal)
{
	/* /dev/tty opens only where the terminal is the controlling one */
	ipk_spawn_opts o = {.pty = 1};
	const char *argv[] = {"sh", "-c", "echo ctty > /dev/tty", NULL};
	ipk_chan *c = spawn_ok(argv, &o);
	char buf[64];
	read_all(c, buf, sizeof buf);
	cr_assert_str_eq(buf, "ctty\n");
	cr_assert_eq(exit_code(c), 0);
	ipk_close(c);
}

Test(spawn, pty_raw_round_trip)
{
	ipk_spawn_opts o = {.pty = 1};
	const char *argv[] = {"cat", NULL};
	ipk_chan *c = spawn_ok(argv, &o);
	/* control characters a cooked terminal would act on pass unchanged */
	const char msg[] = "a\x03" "b\x04" "c\x7f" "d\x15" "e\r\n" "\x1a\x00z";
	size_t len = sizeof msg - 1;
	cr_assert_eq(ipk_send(c, msg, len, 5000), (ssize_t)len);
	char back[64];
	read_exact(c, back, len);
	cr_assert(memcmp(back, msg, len) == 0, "terminal changed the bytes");
	/* a raw terminal has no end-of-file: that is refused, not faked */
	cr_assert_eq(ipk_shutdown(c), -EOPNOTSUPP);
	/* closing hangs the terminal up: cat ends, nothing is left behind */
	pid_t pid = ipk_pid(c);
	cr_assert_eq(ipk_close(c), 0, "close: %s", ipk_last_error());
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1);
}

Test(spawn, pty_line_input)
{
	ipk_spawn_opts o = {.pty = 1};
	const char *argv[] = {"sh", "-c", "read line; echo \"[$line]\"", NULL};
	ipk_chan *c = spawn_ok(argv, &o);
	cr_assert_eq(ipk_send(c, "hello\n", 6, 5000), 6);
	char buf[64];
	read_all(c, buf, sizeof buf);
	cr_assert_str_eq(buf, "[hello]\n");
	cr_assert_eq(exit_code(c), 0);
	cr_assert_eq(ipk_close(c), 0);
}

Test(spawn, pty_close_ends_a_child_that_ignores_eof, .timeout = 60)
{
	ipk_spawn_opts o = {.pty = 1, .linger_ms = 300};
	const char *argv[] = {"sleep", "100", NULL};
	ipk_chan *c = spawn_ok(argv, &o);
	pid_t pid = ipk_pid(c);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ipk_close(c), 0, "close: %s", ipk_last_error());
	cr_assert_lt(ms_since(&t0), 10000.0);
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1);
	cr_assert_eq(errno, ECHILD);
}

Test(spawn, framed_through_cat)
{
	/* cat echoes framing bytes unchanged: whole messages come back */
	ipk_spawn_opts o = {.framed = 1};
	const char *argv[] = {"cat", NULL};
	ipk_chan *c = spawn_ok(argv, &o);
	static const size_t sizes[] = {0, 1, 100, 4096, 60000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *m = malloc(sizes[i] + 1);
		ipkt_fill(m, sizes[i], (uint32_t)i);
		cr_assert_eq(ipk_send(c, m, sizes[i], 5000), (ssize_t)sizes[i]);
		void *got = NULL;
		ssize_t n = ipk_recv_alloc(c, &got, NULL, 5000);
		cr_assert_eq(n, (ssize_t)sizes[i], "message %zu: %zd %s", i, n,
		             ipk_last_error());
		cr_assert(ipkt_check(got, sizes[i], (uint32_t)i));
		free(got);
		free(m);
	}
	cr_assert_eq(ipk_close(c), 0);
}

Test(spawn, poll_and_address)
{
	const char *argv[] = {"sh", "-c", "read x; echo \"got $x\"", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	ipk_pollitem it = {.chan = c, .events = IPK_POLLIN};
	cr_assert_eq(ipk_poll(&it, 1, 0), 0);
	cr_assert_eq(ipk_send(c, "hi\n", 3, 5000), 3);
	cr_assert_eq(ipk_poll(&it, 1, 20000), 1);
	cr_assert_eq(it.revents, IPK_POLLIN);
	char buf[64];
	read_all(c, buf, sizeof buf);
	cr_assert_str_eq(buf, "got hi\n");
	char addr[128], want[128];
	cr_assert_gt(ipk_address(c, addr, sizeof addr), 0);
	snprintf(want, sizeof want, "spawn:sh?pid=%d", (int)ipk_pid(c));
	cr_assert_str_eq(addr, want);
	ipk_close(c);
}

Test(spawn, odd_program_name)
{
	/* a name that is not a valid address still runs (and is not found) */
	const char *argv[] = {"ipkt?=odd&&", NULL};
	ipk_chan *c = NULL;
	cr_assert_eq(ipk_spawn(&c, argv, NULL), -ENOENT, "%s", ipk_last_error());
}

/* A channel inherited across fork is let go in the child, not waited on. */
Test(spawn, forked_copy_does_not_wait_or_kill)
{
	const char *argv[] = {"cat", NULL};
	ipk_chan *c = spawn_ok(argv, NULL);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int st;
		int w = ipk_wait(c, &st, 0);
		ipk_close(c);
		_exit(w == -ECHILD ? 0 : 1);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the coprocess still works for its parent */
	cr_assert_eq(ipk_send(c, "ok", 2, 5000), 2);
	char buf[8];
	read_exact(c, buf, 2);
	cr_assert_eq(ipk_close(c), 0);
}
