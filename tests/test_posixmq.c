/*
 * mq: beyond the conformance suite: priorities, the limits of
 * /proc/sys/fs/mqueue and RLIMIT_MSGQUEUE in the errors, plain
 * mq_send/mq_receive peers, permissions, the native pollable descriptor,
 * attributes, and what a dialer sees when the owner goes away.
 * Queues are kept small (depth <= 4) so parallel runs stay within the
 * user's RLIMIT_MSGQUEUE.
 */
#define _GNU_SOURCE
#include "queue_check.h"
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <mqueue.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(mq, .timeout = 60);

static char name[96], addr[160];

/* A fresh queue name; addr gets "mq:NAME" plus the options given. */
static const char *new_addr(const char *opts)
{
	snprintf(name, sizeof name, "%s", qlog_mq("t"));
	snprintf(addr, sizeof addr, "mq:%s%s%s", name, opts ? "?" : "",
	         opts ? opts : "");
	return addr;
}

static const char *plain(void)
{
	static char u[128];
	snprintf(u, sizeof u, "mq:%s", name);
	return u;
}

static void send_prio(ipk_chan *c, const char *text, unsigned prio)
{
	ipk_msginfo mi = {.prio = prio};
	ssize_t n = ipk_sendmsg(c, text, strlen(text), &mi, 1000);
	cr_assert_eq(n, (ssize_t)strlen(text), "send prio %u: %s", prio,
	             ipk_last_error());
}

static void expect(ipk_chan *c, const char *text, unsigned prio)
{
	char buf[256];
	ipk_msginfo mi = {0};
	ssize_t n = ipk_recvmsg(c, buf, sizeof buf, &mi, 1000);
	cr_assert_eq(n, (ssize_t)strlen(text), "want '%s': got %zd (%s)", text, n,
	             n < 0 ? ipk_last_error() : "");
	cr_assert(memcmp(buf, text, (size_t)n) == 0, "got '%.*s', want '%s'",
	          (int)n, buf, text);
	cr_assert_eq(mi.prio, prio, "'%s': priority %u, want %u", text, mi.prio,
	             prio);
}

static long sysctl(const char *n)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", n);
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* ---------------------------------------------------------- priorities */

Test(mq, priorities_order_and_report)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=4&msgsize=64"));
	ipk_chan *d = ipkt_dial_ok(plain());
	send_prio(d, "low", 1);
	send_prio(d, "high-a", 7);
	send_prio(d, "mid", 3);
	send_prio(d, "high-b", 7);
	expect(l, "high-a", 7);
	expect(l, "high-b", 7);
	expect(l, "mid", 3);
	expect(l, "low", 1);
	ipk_msginfo bad = {.prio = 1u << 20};
	cr_expect_eq(ipk_sendmsg(d, "x", 1, &bad, 0), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "MQ_PRIO_MAX") != NULL, "%s",
	          ipk_last_error());
	ipk_close(d);
	ipk_close(l);
}

Test(mq, default_priority_option)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=4&msgsize=64"));
	char url[200];
	snprintf(url, sizeof url, "%s?prio=9", plain());
	ipk_chan *d = ipkt_dial_ok(url);
	cr_expect_eq(ipk_send(d, "nine", 4, 0), 4);
	send_prio(d, "two", 2);
	expect(l, "nine", 9);
	expect(l, "two", 2);
	ipk_close(d);
	ipk_close(l);
}

Test(mq, address_forms)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=32"));
	char url[200];
	snprintf(url, sizeof url, "mq://%s", name + 1);
	ipk_chan *d = ipkt_dial_ok(url);
	send_prio(d, "x", 0);
	expect(l, "x", 0);
	ipk_close(d);
	ipk_close(l);
	ipk_chan *c = NULL;
	cr_expect_eq(ipk_listen(&c, "mq:/a/b"), -EINVAL);
	cr_expect_eq(ipk_listen(&c, "mq:/"), -EINVAL);
	cr_expect_eq(ipk_listen(&c, "mq:/x?bogus"), -EINVAL);
}

/* -------------------------------------------------------------- limits */

Test(mq, creation_limits_are_named)
{
	long msg_max = sysctl("msg_max"), msgsize_max = sysctl("msgsize_max");
	cr_assert_gt(msg_max, 0);
	ipk_chan *c = NULL;
	char opts[96], want[96];
	/* with CAP_SYS_RESOURCE the sysctls do not bind; the hard caps do */
	snprintf(opts, sizeof opts, "maxmsg=%ld&msgsize=16", msg_max + 1);
	int rc = ipk_listen(&c, new_addr(opts));
	if (rc == 0) {
		ipk_close(c);
		snprintf(opts, sizeof opts, "maxmsg=%d&msgsize=16", 65537);
		rc = ipk_listen(&c, new_addr(opts));
		cr_expect_eq(rc, -EINVAL);
		cr_expect(strstr(ipk_last_error(), "hard limit") != NULL, "%s",
		          ipk_last_error());
	} else {
		cr_expect_eq(rc, -EINVAL);
		snprintf(want, sizeof want, "fs.mqueue.msg_max=%ld", msg_max);
		cr_expect(strstr(ipk_last_error(), want) != NULL, "%s",
		          ipk_last_error());
		snprintf(opts, sizeof opts, "maxmsg=1&msgsize=%ld", msgsize_max + 1);
		cr_expect_eq(ipk_listen(&c, new_addr(opts)), -EINVAL);
		snprintf(want, sizeof want, "fs.mqueue.msgsize_max=%ld", msgsize_max);
		cr_expect(strstr(ipk_last_error(), want) != NULL, "%s",
		          ipk_last_error());
	}
}

Test(mq, rlimit_msgqueue_is_named)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rlimit rl = {4096, 4096};
		if (setrlimit(RLIMIT_MSGQUEUE, &rl) < 0)
			_exit(3);
		ipk_chan *c = NULL;
		int rc = ipk_listen(&c, new_addr("maxmsg=4&msgsize=4096"));
		if (rc == 0) {
			ipk_close(c);
			_exit(4);
		}
		if (rc != -EMFILE)
			_exit(5);
		_exit(strstr(ipk_last_error(), "RLIMIT_MSGQUEUE=4096") ? 0 : 6);
	}
	cr_expect_eq(ipkt_wait_child(pid), 0);
}

Test(mq, message_over_msgsize)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=100"));
	ipk_chan *d = ipkt_dial_ok(plain());
	char big[101] = {0};
	cr_expect_eq(ipk_send(d, big, sizeof big, 0), -EMSGSIZE);
	cr_expect(strstr(ipk_last_error(), "msgsize=100") != NULL, "%s",
	          ipk_last_error());
	cr_expect_eq(ipk_send(d, big, 100, 0), 100);
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(d, &st), 0);
	cr_expect_eq(st.max_msgsize, 100);
	ipk_close(d);
	ipk_close(l);
}

Test(mq, full_queue_and_timeouts)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=1&msgsize=16"));
	char b[16];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(ipk_recv(l, b, sizeof b, 0), -EAGAIN);
	cr_expect_lt(ipkt_ms_since(&t0), 50.0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(ipk_recv(l, b, sizeof b, 90), -ETIMEDOUT);
	cr_expect_geq(ipkt_ms_since(&t0), 89.0);

	cr_expect_eq(ipk_send(l, "a", 1, 0), 1);
	cr_expect_eq(ipk_send(l, "b", 1, 0), -EAGAIN);
	cr_expect(strstr(ipk_last_error(), "is full: maxmsg=1") != NULL, "%s",
	          ipk_last_error());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(ipk_send(l, "b", 1, 90), -ETIMEDOUT);
	cr_expect_geq(ipkt_ms_since(&t0), 89.0);
	ipk_close(l);
}

/* --------------------------------------------------------- plain peers */

Test(mq, plain_mq_send_receive_peer)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=4&msgsize=128"));
	int taken[2];
	cr_assert_eq(pipe(taken), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* only the POSIX calls, as any C program would */
		close(taken[1]);
		mqd_t q = mq_open(name, O_RDWR);
		if (q == (mqd_t)-1)
			_exit(3);
		if (mq_send(q, "plain hello", 11, 5) < 0)
			_exit(4);
		char x;
		if (read(taken[0], &x, 1) != 1) /* ipckit has taken it */
			_exit(5);
		char buf[128];
		unsigned prio;
		ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
		if (n != 5 || memcmp(buf, "reply", 5) != 0 || prio != 2)
			_exit(6);
		mq_close(q);
		_exit(0);
	}
	close(taken[0]);
	expect(l, "plain hello", 5);
	cr_assert_eq(write(taken[1], "t", 1), 1);
	close(taken[1]);
	send_prio(l, "reply", 2);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	ipk_close(l);
}

/* ---------------------------------------------------- buffers, fd, status */

Test(mq, small_buffer_keeps_the_message)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=64"));
	send_prio(l, "0123456789", 4);
	char small[4];
	cr_expect_eq(ipk_recv(l, small, sizeof small, 0), -ENOBUFS);
	/* kept by the channel: poll says ready, the next receive returns it */
	ipk_pollitem it = {.chan = l, .events = IPK_POLLIN};
	cr_expect_eq(ipk_poll(&it, 1, 0), 1);
	expect(l, "0123456789", 4);
	cr_expect_eq(ipk_poll(&it, 1, 0), 0);
	/* recv_alloc sizes the buffer itself */
	send_prio(l, "abc", 1);
	void *got = NULL;
	ipk_msginfo mi = {0};
	cr_expect_eq(ipk_recv_alloc(l, &got, &mi, 0), 3);
	cr_expect(got && memcmp(got, "abc", 3) == 0);
	cr_expect_eq(mi.prio, 1);
	free(got);
	ipk_close(l);
}

Test(mq, native_pollable_descriptor)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=32"));
	int fd = ipk_fd(l);
	cr_assert_geq(fd, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
	cr_expect_eq(poll(&p, 1, 0), 1);
	cr_expect_eq(p.revents, POLLOUT, "empty queue: revents %#x", p.revents);
	send_prio(l, "x", 0);
	send_prio(l, "y", 0);
	cr_expect_eq(poll(&p, 1, 0), 1);
	cr_expect_eq(p.revents, POLLIN, "full queue: revents %#x", p.revents);
	ipk_close(l);
}

Test(mq, attributes)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=3&msgsize=48"));
	send_prio(l, "12345", 1);
	send_prio(l, "678", 1);
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(l, &st), 0, "%s", ipk_last_error());
	cr_expect_str_eq(st.scheme, "mq");
	cr_expect_eq(st.messages, 2);
	cr_expect_eq(st.bytes, 8);
	cr_expect_eq(st.max_messages, 3);
	cr_expect_eq(st.max_msgsize, 48);
	cr_expect_eq(st.mode, 0600, "mode %04o", st.mode);
	cr_expect_eq(st.uid, geteuid());
	cr_expect_gt(st.change_time, 0);
	ipk_queue_info by;
	cr_assert_eq(ipk_queue_stat(plain(), &by), 0, "%s", ipk_last_error());
	cr_expect_eq(by.messages, 2);
	ipk_close(l);
	cr_expect_eq(ipk_queue_stat(plain(), &by), -ENOENT);
}

/* ---------------------------------------------------------- permissions */

Test(mq, mode_despite_umask_and_other_users)
{
	mode_t old = umask(077);
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=32&mode=0622"));
	umask(old);
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(l, &st), 0);
	cr_expect_eq(st.mode, 0622, "mode %04o", st.mode);
	if (geteuid() != 0) {
		ipk_close(l);
		return;
	}
	char url[200];
	snprintf(url, sizeof url, "%s", plain());
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		ipk_chan *d = NULL;
		if (ipk_dial(&d, url, 0) < 0)
			_exit(4);
		if (ipk_send(d, "w", 1, 0) != 1)
			_exit(5);
		char b[32];
		if (ipk_recv(d, b, sizeof b, 0) != -EACCES)
			_exit(6);
		ipk_close(d);
		_exit(0);
	}
	cr_expect_eq(ipkt_wait_child(pid), 0, "write-only dialer");
	ipk_close(l);

	l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=32"));
	snprintf(url, sizeof url, "%s", plain());
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		ipk_chan *d = NULL;
		if (ipk_dial(&d, url, 0) != -EACCES)
			_exit(4);
		_exit(strstr(ipk_last_error(), "not accessible") ? 0 : 5);
	}
	cr_expect_eq(ipkt_wait_child(pid), 0,
	             "dial by another user of a 0600 queue");
	ipk_close(l);
}

/* ------------------------------------------------------------ lifetime */

Test(mq, exclusive_create_and_dial_waits)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=32"));
	ipk_chan *again = NULL;
	cr_expect_eq(ipk_listen(&again, addr), -EEXIST);
	cr_expect(strstr(ipk_last_error(), "already exists") != NULL);
	ipk_close(l);

	ipk_chan *d = NULL;
	new_addr("maxmsg=2&msgsize=32");
	cr_expect_eq(ipk_dial(&d, plain(), 0), -ENOENT);
	cr_expect(strstr(ipk_last_error(), "no POSIX queue") != NULL);
	/* a dial waits for the queue to appear */
	ipkt_dial_waits(addr, plain());
	cr_expect(!mq_exists(name));
}

Test(mq, persist_and_remove)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=32&persist"));
	ipk_close(l);
	cr_expect(mq_exists(name), "?persist queue was removed");
	cr_expect_eq(ipk_remove(plain()), 0, "%s", ipk_last_error());
	cr_expect(!mq_exists(name));
	cr_expect_eq(ipk_remove(plain()), -ENOENT);
}

Test(mq, dialer_sees_owner_leave)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=32"));
	ipk_chan *d = ipkt_dial_ok(plain());
	send_prio(l, "last words", 0);
	ipk_close(l);
	cr_expect(!mq_exists(name));
	/* what was queued is still delivered, then the end is reported */
	expect(d, "last words", 0);
	char b[32];
	cr_expect_eq(ipk_recv(d, b, sizeof b, 0), -EPIPE);
	cr_expect_eq(ipk_send(d, "x", 1, 0), -EPIPE);
	cr_expect(strstr(ipk_last_error(), "removed") != NULL);
	ipk_close(d);
}

Test(mq, blocked_dialer_wakes_when_owner_leaves)
{
	ipk_chan *l = ipkt_listen_ok(new_addr("maxmsg=2&msgsize=32"));
	char url[200];
	snprintf(url, sizeof url, "%s", plain());
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(ready[0]);
		ipk_chan *d = NULL;
		if (ipk_dial(&d, url, 1000) < 0)
			_exit(3);
		close(ready[1]);
		char b[32];
		_exit(ipk_recv(d, b, sizeof b, -1) == -EPIPE ? 0 : 4);
	}
	close(ready[1]);
	char x;
	cr_assert_eq(read(ready[0], &x, 1), 0);
	close(ready[0]);
	ipk_close(l);
	cr_expect_eq(ipkt_wait_child(pid), 0);
}
