/*
 * Stream-socket listeners under hostile or careless peers: silent clients
 * by the hundred, other users on an abstract name, plain programs writing
 * text into a framed listener. Each case has one well-behaved client that
 * must be served promptly while the others are dealt with.
 */
#define _GNU_SOURCE
#include "util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <ipckit.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SILENT 200

/* Connect a plain socket to a unix: (path or @abstract) or tcp:// address. */
static int raw_connect(const char *addr)
{
	int fd;
	if (strncmp(addr, "tcp://", 6) == 0) {
		const char *colon = strrchr(addr, ':');
		struct sockaddr_in sin = {.sin_family = AF_INET,
		                          .sin_port = htons((uint16_t)atoi(colon + 1)),
		                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(fd, 0);
		cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0,
		             "connect %s: %s", addr, strerror(errno));
		return fd;
	}
	const char *path = addr + 5;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = strcspn(path, "?");
	memcpy(sun.sun_path, path, n);
	socklen_t len = sizeof sun;
	if (path[0] == '@') {
		sun.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sun, len), 0, "connect %s: %s",
	             addr, strerror(errno));
	return fd;
}

/* A server process: accept forever, answer each connection's messages with
   "re:" + the message. It writes one byte on ready once it listens. */
static pid_t echo_server(const char *url, char *addr, size_t cap)
{
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
		close(ready[0]);
		ipk_chan *l;
		if (ipk_listen(&l, url) < 0) {
			fprintf(stderr, "listen %s: %s\n", url, ipk_last_error());
			_exit(1);
		}
		char a[256];
		ssize_t an = ipk_address(l, a, sizeof a);
		if (an < 0 || write(ready[1], a, (size_t)an + 1) != an + 1)
			_exit(1);
		for (;;) {
			ipk_chan *c;
			if (ipk_accept(l, &c, -1) < 0)
				_exit(2);
			char buf[256] = "re:";
			ssize_t n;
			while ((n = ipk_recv(c, buf + 3, sizeof buf - 3, 5000)) >= 0)
				if (ipk_send(c, buf, (size_t)n + 3, 5000) < 0)
					break;
			ipk_close(c);
		}
	}
	close(ready[1]);
	ssize_t n = read(ready[0], addr, cap);
	cr_assert_gt(n, 0, "the server did not start");
	close(ready[0]);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void more_files(void)
{
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4 * SILENT + 64) {
		rl.rlim_cur = rl.rlim_max < 4 * SILENT + 64 ? rl.rlim_max : 4 * SILENT + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* SILENT connections that never speak, then a normal client: it connects
   and exchanges a message at once, however many silent peers wait. */
static void silent_crowd(const char *url)
{
	more_files();
	char addr[256];
	pid_t srv = echo_server(url, addr, sizeof addr);
	int silent[SILENT];
	for (int i = 0; i < SILENT; i++)
		silent[i] = raw_connect(addr);
	/* let the server take them all in before the good client comes */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ipk_chan *d;
	int rc = ipk_dial(&d, addr, 10000);
	cr_assert_eq(rc, 0, "dial with %d silent peers: %s", SILENT, ipk_last_error());
	cr_assert_eq(ipk_send(d, "hello", 5, 10000), 5, "%s", ipk_last_error());
	char buf[64];
	ssize_t n = ipk_recv(d, buf, sizeof buf, 10000);
	double ms = ipkt_ms_since(&t0);
	cr_assert_eq(n, 8, "reply: %zd %s", n, ipk_last_error());
	cr_assert(memcmp(buf, "re:hello", 8) == 0);
	fprintf(stderr, "%s: connect + exchange with %d silent connections: %.1f ms\n",
	        url, SILENT, ms);
	cr_expect_lt(ms, 2000.0, "a normal client took %.0f ms with %d silent peers",
	             ms, SILENT);
	ipk_close(d);
	for (int i = 0; i < SILENT; i++)
		close(silent[i]);
	stop(srv);
	if (strncmp(addr, "unix:", 5) == 0) {
		addr[strcspn(addr, "?")] = '\0';
		unlink(addr + 5); /* the killed server could not */
	}
}

Test(guard, silent_connections_do_not_delay_tcp, .timeout = 120)
{
	silent_crowd("tcp://127.0.0.1:0");
}

Test(guard, silent_connections_do_not_delay_unix, .timeout = 120)
{
	char url[256];
	snprintf(url, sizeof url, "unix:%s", ipkt_path("crowd"));
	silent_crowd(url);
}

/* ?pending= bounds the handshakes kept: past it the oldest silent peer is
   let go, and a prompt client is still served. */
Test(guard, pending_limit_drops_the_oldest, .timeout = 60)
{
	char url[256], addr[256];
	snprintf(url, sizeof url, "unix:%s?pending=4", ipkt_path("pend"));
	pid_t srv = echo_server(url, addr, sizeof addr);
	int silent[10];
	for (int i = 0; i < 10; i++)
		silent[i] = raw_connect(addr);
	ipk_chan *d;
	cr_assert_eq(ipk_dial(&d, addr, 5000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_send(d, "x", 1, 5000), 1);
	char buf[16];
	cr_assert_eq(ipk_recv(d, buf, sizeof buf, 5000), 4, "%s", ipk_last_error());
	ipk_close(d);
	/* the first silent peers were closed by the server (end of stream) */
	struct pollfd p = {.fd = silent[0], .events = POLLIN};
	cr_expect_eq(poll(&p, 1, 5000), 1, "the oldest silent peer was kept");
	char b;
	cr_expect_eq(read(silent[0], &b, 1), 0);
	for (int i = 0; i < 10; i++)
		close(silent[i]);
	stop(srv);
	addr[strcspn(addr, "?")] = '\0';
	unlink(addr + 5); /* the killed server could not */
	ipk_chan *bad;
	snprintf(url, sizeof url, "unix:%s?pending=0", ipkt_path("pend0"));
	cr_expect_eq(ipk_listen(&bad, url), -EINVAL);
}

/* ------------------------------------------------ abstract names and mode */

/* A uid no account uses, for a child that drops root. */
static uid_t stranger_uid(void)
{
	uid_t base = 47000 + (uid_t)(getpid() % 1000);
	FILE *f = fopen("/etc/passwd", "r");
	char line[512];
	for (uid_t u = base;; u++) {
		bool used = false;
		if (f) {
			rewind(f);
			while (fgets(line, sizeof line, f)) {
				char *c = strchr(line, ':');
				c = c ? strchr(c + 1, ':') : NULL;
				if (c && (uid_t)strtoul(c + 1, NULL, 10) == u)
					used = true;
			}
		}
		if (!used) {
			if (f)
				fclose(f);
			return u;
		}
	}
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run a peer as another uid");
}

/* In a child: become uid (and gid), dial url, send "from-N"; exit 0 when
   the listener accepted it (the send went through and the connection
   stays up), 3 when the dial or send was refused. */
static pid_t peer_as(uid_t uid, gid_t gid, const char *url, int n)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(9);
		ipk_chan *d;
		if (ipk_dial(&d, url, 3000) < 0)
			_exit(3);
		char msg[32];
		int len = snprintf(msg, sizeof msg, "from-%d", n);
		if (ipk_send(d, msg, (size_t)len, 3000) < 0)
			_exit(3);
		char b[8];
		ssize_t r = ipk_recv(d, b, sizeof b, 3000);
		_exit(r == 2 ? 0 : 3);
	}
	return pid;
}

/* Accept within timeout and check the message; returns n from "from-N"
   or -1 when nothing was accepted. */
static int take_one(ipk_chan *l, int timeout_ms)
{
	ipk_chan *c;
	if (ipk_accept(l, &c, timeout_ms) < 0)
		return -1;
	char buf[32] = {0};
	ssize_t n = ipk_recv(c, buf, sizeof buf - 1, 5000);
	cr_assert_gt(n, 0, "%s", ipk_last_error());
	ipk_send(c, "ok", 2, 5000);
	int who = atoi(buf + 5);
	ipk_close(c);
	return who;
}

static char warned[1024];
static void keep_warning(const char *msg, void *arg)
{
	(void)arg;
	snprintf(warned, sizeof warned, "%s", msg);
}

/* Serve url's listener until the children have exited; returns a bit mask
   of the peers accepted (bit N for "from-N"); status[i] gets child i's. */
static unsigned serve(ipk_chan *l, const pid_t *pids, int *status, int n)
{
	unsigned got = 0;
	int left = n;
	for (int i = 0; i < n; i++)
		status[i] = -1;
	while (left > 0) {
		int who = take_one(l, 100);
		if (who >= 0)
			got |= 1u << who;
		for (int i = 0; i < n; i++) {
			int st;
			if (status[i] == -1 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
				status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
				left--;
			}
		}
	}
	return got;
}

Test(guard, abstract_mode_refuses_other_users, .timeout = 60)
{
	need_root();
	warned[0] = '\0';
	ipk_set_warn_handler(keep_warning, NULL);
	uid_t other = stranger_uid();
	char url[256];
	pid_t p[2];
	int st[2];
	snprintf(url, sizeof url, "unix:@%s", ipkt_name("abs") + 1);
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error()); /* 0600 */
	p[0] = peer_as(other, other, url, 1);
	p[1] = peer_as(0, 0, url, 2);
	/* the stranger is refused; root's connection is accepted */
	cr_expect_eq(serve(l, p, st, 2), 1u << 2);
	cr_expect_eq(st[0], 3, "a stranger got through mode 0600");
	cr_expect_eq(st[1], 0);
	cr_expect(strstr(warned, "mode 0600") != NULL, "warning: %s", warned);
	ipk_close(l);

	/* other-write admits anyone */
	snprintf(url, sizeof url, "unix:@%s?mode=0602", ipkt_name("abs") + 1);
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	p[0] = peer_as(other, other, url, 3);
	cr_expect_eq(serve(l, p, st, 1), 1u << 3);
	cr_expect_eq(st[0], 0);
	ipk_close(l);

	/* group-write admits the listener's group only */
	snprintf(url, sizeof url, "unix:@%s?mode=0620", ipkt_name("abs") + 1);
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	p[0] = peer_as(other, other, url, 4);     /* not in the group */
	p[1] = peer_as(other, getegid(), url, 5); /* in the group */
	cr_expect_eq(serve(l, p, st, 2), 1u << 5);
	cr_expect_eq(st[0], 3);
	cr_expect_eq(st[1], 0);
	ipk_close(l);

	/* raw listeners check too */
	snprintf(url, sizeof url, "unix:@%s?raw", ipkt_name("abs") + 1);
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	p[0] = peer_as(other, other, url, 6);
	ipk_chan *c = NULL;
	cr_expect_eq(ipk_accept(l, &c, 1500), -ETIMEDOUT);
	ipk_close(c);
	cr_expect_eq(ipkt_wait_child(p[0]), 3);
	ipk_close(l);
	ipk_set_warn_handler(NULL, NULL);
}

Test(guard, abstract_unixgram_mode_drops_other_users, .timeout = 60)
{
	need_root();
	uid_t other = stranger_uid();
	char url[256];
	snprintf(url, sizeof url, "unixgram:@%s", ipkt_name("gram") + 1);
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(other) < 0 || setuid(other) < 0)
			_exit(9);
		ipk_chan *d;
		if (ipk_dial(&d, url, 3000) < 0 || ipk_send(d, "stranger", 8, 3000) != 8)
			_exit(3);
		_exit(0);
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	ipk_chan *d;
	cr_assert_eq(ipk_dial(&d, url, 3000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_send(d, "owner", 5, 3000), 5);
	char buf[16];
	ipk_msginfo mi = {0};
	ssize_t n = ipk_recvmsg(l, buf, sizeof buf, &mi, 5000);
	cr_assert_eq(n, 5, "got %zd: %.*s", n, n > 0 ? (int)n : 0, buf);
	cr_expect(memcmp(buf, "owner", 5) == 0);
	cr_expect_eq(mi.uid, getuid());
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 0), -EAGAIN);
	ipk_close(d);
	ipk_close(l);
}

/* ------------------------------------------------- text into SP listeners */

static void text_peer(const char *url)
{
	warned[0] = '\0';
	ipk_set_warn_handler(keep_warning, NULL);
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	char addr[256];
	cr_assert_gt(ipk_address(l, addr, sizeof addr), 0);
	int nc = raw_connect(addr);
	static const char text[] = "hello from nc\n";
	cr_assert_eq(write(nc, text, sizeof text - 1), (ssize_t)sizeof text - 1);
	/* the plain program is dropped at once and told why ... */
	ipk_chan *c = NULL;
	cr_expect_eq(ipk_accept(l, &c, 300), -ETIMEDOUT);
	char said[512] = {0};
	size_t got = 0;
	ssize_t n;
	while (got < sizeof said - 1 &&
	       (n = read(nc, said + got, sizeof said - 1 - got)) > 0)
		got += (size_t)n;
	cr_expect(strncmp(said, "ipckit: ", 8) == 0,
	          "the text peer was sent binary bytes or nothing: '%s'", said);
	cr_expect(strstr(said, "listen with ?raw") != NULL, "told: '%s'", said);
	cr_expect(strstr(said, "unframed text") != NULL, "told: '%s'", said);
	/* ... the program hears about it ... */
	cr_expect(strstr(warned, "unframed text from a plain program; listen "
	                         "with ?raw") != NULL, "warning: '%s'", warned);
	cr_expect(strstr(warned, "hello from nc") != NULL, "warning: '%s'", warned);
	close(nc);
	/* ... and an SP peer is served as usual */
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *d;
		_exit(ipk_dial(&d, addr, 5000) == 0 && ipk_send(d, "ok", 2, 5000) == 2
		              ? 0 : 1);
	}
	cr_assert_eq(ipk_accept(l, &c, 5000), 0, "%s", ipk_last_error());
	char buf[8];
	cr_expect_eq(ipk_recv(c, buf, sizeof buf, 5000), 2);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	ipk_close(c);
	ipk_close(l);
	ipk_set_warn_handler(NULL, NULL);
}

Test(guard, text_into_framed_tcp_is_named, .timeout = 30)
{
	text_peer("tcp://127.0.0.1:0");
}

Test(guard, text_into_framed_unix_is_named, .timeout = 30)
{
	char url[256];
	snprintf(url, sizeof url, "unix:%s", ipkt_path("text"));
	text_peer(url);
}

/* A binary peer that is not SP (a TLS client) is dropped with a message
   that shows its bytes, and is sent nothing. */
Test(guard, binary_non_sp_is_dropped, .timeout = 30)
{
	warned[0] = '\0';
	ipk_set_warn_handler(keep_warning, NULL);
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, "tcp://127.0.0.1:0"), 0, "%s", ipk_last_error());
	char addr[256];
	cr_assert_gt(ipk_address(l, addr, sizeof addr), 0);
	int fd = raw_connect(addr);
	static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01};
	cr_assert_eq(write(fd, hello, sizeof hello), (ssize_t)sizeof hello);
	ipk_chan *c = NULL;
	cr_expect_eq(ipk_accept(l, &c, 300), -ETIMEDOUT);
	char b[64];
	ssize_t n = read(fd, b, sizeof b);
	cr_expect(n <= 0, "a binary peer was sent %zd bytes", n);
	cr_expect(strstr(warned, "16 03 01") != NULL, "warning: '%s'", warned);
	close(fd);
	ipk_close(l);
	ipk_set_warn_handler(NULL, NULL);
}

/* The other way round: dialing a plain program's listener says so. */
Test(guard, dialing_a_text_server_is_named, .timeout = 30)
{
	ipk_chan *srv;
	cr_assert_eq(ipk_listen(&srv, "tcp://127.0.0.1:0?raw"), 0, "%s",
	             ipk_last_error());
	char addr[256];
	cr_assert_gt(ipk_address(srv, addr, sizeof addr), 0);
	*strchr(addr, '?') = '\0';
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *c;
		if (ipk_accept(srv, &c, 5000) < 0)
			_exit(1);
		ipk_send(c, "220 smtp ready\r\n", 16, 5000);
		char b[64];
		ipk_recv(c, b, sizeof b, 5000);
		_exit(0);
	}
	ipk_chan *d = NULL;
	int rc = ipk_dial(&d, addr, 5000);
	cr_expect_eq(rc, -EPROTO, "dial: %d %s", rc, ipk_last_error());
	cr_expect(strstr(ipk_last_error(), "dial with ?raw") != NULL, "%s",
	          ipk_last_error());
	cr_expect(strstr(ipk_last_error(), "220 smtp") != NULL, "%s",
	          ipk_last_error());
	ipk_close(d);
	ipkt_wait_child(pid);
	ipk_close(srv);
}
