/*
 * sysvmq: beyond the conformance suite: addresses (ftok, raw keys, ipcmk),
 * message types as msgrcv(2) selects them, limits and their messages,
 * plain msgsnd/msgrcv peers, permissions, the pollable descriptor, status.
 */
#define _GNU_SOURCE
#include "queue_check.h"
#include "tsan_harness.h" /* the ipk_fd helper thread: runnable under TSan */
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PREFIX 0x20000000u

TestSuite(sysvmq, .timeout = 60);

struct rawmsg {
	long mtype;
	char mtext[8192];
};

static char addr[128];

static const char *new_addr(void)
{
	snprintf(addr, sizeof addr, "sysvmq:0x%08x", qlog_key(PREFIX));
	return addr;
}

static unsigned addr_key(const char *a)
{
	return (unsigned)strtoul(strchr(a, ':') + 1, NULL, 16);
}

static void send_type(ipk_chan *c, const char *text, long type)
{
	ipk_msginfo mi = {.type = type};
	ssize_t n = ipk_sendmsg(c, text, strlen(text), &mi, 1000);
	cr_assert_eq(n, (ssize_t)strlen(text), "send type %ld: %s", type,
	             ipk_last_error());
}

/* Receive with a selector; check the text and the type reported. */
static void expect(ipk_chan *c, long sel, int flags, const char *text,
                   long type)
{
	char buf[256];
	ipk_msginfo mi = {.type = sel, .flags = flags};
	ssize_t n = ipk_recvmsg(c, buf, sizeof buf, &mi, 1000);
	cr_assert_eq(n, (ssize_t)strlen(text), "selector %ld: got %zd (%s)", sel,
	             n, n < 0 ? ipk_last_error() : "");
	cr_assert(memcmp(buf, text, (size_t)n) == 0, "selector %ld: got '%.*s'",
	          sel, (int)n, buf);
	cr_assert_eq(mi.type, type, "selector %ld: type %ld, want %ld", sel,
	             mi.type, type);
}

/* ------------------------------------------------------------ addresses */

Test(sysvmq, ftok_path_and_proj)
{
	const char *path = ipkt_path("ftok");
	int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	char url[256];
	snprintf(url, sizeof url, "sysvmq:%s?proj=102", path);
	key_t key = ftok(path, 102);
	char text[16];
	snprintf(text, sizeof text, "0x%08x", (unsigned)key);
	qlog("sysvmq", text);

	ipk_chan *l = ipkt_listen_ok(url);
	cr_expect(sysv_key_exists((unsigned)key), "ftok(%s, 102) key not used", path);
	/* the same path with another proj is another queue */
	char other[256];
	snprintf(other, sizeof other, "sysvmq:%s?proj=103", path);
	ipk_chan *d = NULL;
	cr_expect_eq(ipk_dial(&d, other, 0), -ENOENT);
	d = ipkt_dial_ok(url);
	send_type(d, "by ftok", 1);
	expect(l, 0, 0, "by ftok", 1);
	ipk_close(d);
	cr_expect_eq(ipk_close(l), 0);
	unlink(path);
	cr_expect(!sysv_key_exists((unsigned)key));
}

Test(sysvmq, ftok_missing_path_says_so)
{
	ipk_chan *c = NULL;
	int rc = ipk_listen(&c, "sysvmq:/nonexistent/ipkt-nothing?proj=3");
	cr_expect_eq(rc, -ENOENT);
	cr_expect(strstr(ipk_last_error(), "does not exist") != NULL, "%s",
	          ipk_last_error());
	rc = ipk_dial(&c, "sysvmq:/nonexistent/ipkt-nothing?proj=3", 0);
	cr_expect_eq(rc, -ENOENT);
}

Test(sysvmq, bad_addresses)
{
	ipk_chan *c = NULL;
	cr_expect_eq(ipk_listen(&c, "sysvmq:0"), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "IPC_PRIVATE") != NULL);
	cr_expect_eq(ipk_listen(&c, "sysvmq:/tmp?proj=256"), -EINVAL);
	cr_expect_eq(ipk_listen(&c, "sysvmq:0x1234?proj=2"), -EINVAL);
	cr_expect_eq(ipk_listen(&c, "sysvmq:"), -EINVAL);
	cr_expect_eq(ipk_listen(&c, "sysvmq:0x1234?bogus=1"), -EINVAL);
}

Test(sysvmq, queue_made_by_ipcmk)
{
	FILE *p = popen("ipcmk -Q -p 0600 2>&1", "r");
	cr_assert_not_null(p);
	char line[256] = "";
	char *got = fgets(line, sizeof line, p);
	pclose(p);
	int id = -1;
	if (got == NULL || sscanf(line, "Message queue id: %d", &id) != 1)
		cr_skip_test("ipcmk -Q did not work here: %s", line);
	/* its key, as ipcs shows it */
	struct msqid_ds ds;
	cr_assert_eq(msgctl(id, IPC_STAT, &ds), 0);
	unsigned key = (unsigned)ds.msg_perm.__key;
	char text[16];
	snprintf(text, sizeof text, "0x%08x", key);
	qlog("sysvmq", text);

	char url[64];
	snprintf(url, sizeof url, "sysvmq:0x%08x", key);
	ipk_chan *a = ipkt_dial_ok(url);
	ipk_chan *b = ipkt_dial_ok(url);
	send_type(a, "to b", 7);
	expect(b, 7, 0, "to b", 7);
	send_type(b, "to a", 8);
	expect(a, 8, 0, "to a", 8);
	ipk_close(a);
	ipk_close(b);
	/* dialers never remove what they did not create */
	cr_expect(sysv_key_exists(key), "a dialer removed the ipcmk queue");
	cr_expect_eq(ipkt_sh("ipcrm -q %d", id), 0);
	cr_expect(!sysv_key_exists(key));
}

/* --------------------------------------------------------------- types */

Test(sysvmq, selectors_as_msgrcv)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	ipk_chan *d = ipkt_dial_ok(addr);
	send_type(d, "five", 5);
	send_type(d, "three", 3);
	send_type(d, "one", 1);
	send_type(d, "three-b", 3);
	send_type(d, "nine", 9);
	/* >0: the first of that type */
	expect(l, 3, 0, "three", 3);
	/* <0: the lowest type <= |selector|, first of it */
	expect(l, -4, 0, "one", 1);
	expect(l, -4, 0, "three-b", 3);
	/* MSG_EXCEPT: the first not of that type */
	expect(l, 5, IPK_MSG_EXCEPT, "nine", 9);
	/* 0: the first in the queue */
	expect(l, 0, 0, "five", 5);
	char buf[16];
	ipk_msginfo mi = {.type = -100};
	cr_expect_eq(ipk_recvmsg(l, buf, sizeof buf, &mi, 0), -EAGAIN);
	ipk_close(d);
	ipk_close(l);
}

Test(sysvmq, send_types_checked)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	ipk_msginfo mi = {.type = -2};
	cr_expect_eq(ipk_sendmsg(l, "x", 1, &mi, 0), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "type") != NULL, "%s", ipk_last_error());
	/* type 0 and no info both mean 1 */
	mi.type = 0;
	cr_expect_eq(ipk_sendmsg(l, "a", 1, &mi, 0), 1);
	cr_expect_eq(ipk_send(l, "b", 1, 0), 1);
	expect(l, 1, 0, "a", 1);
	expect(l, 1, 0, "b", 1);
	ipk_close(l);
}

Test(sysvmq, default_type_option)
{
	char url[160];
	snprintf(url, sizeof url, "%s?type=4", new_addr());
	ipk_chan *l = ipkt_listen_ok(url);
	char other[160];
	snprintf(other, sizeof other, "%s", addr);
	ipk_chan *d = ipkt_dial_ok(other);
	send_type(d, "one", 1);
	cr_expect_eq(ipk_send(l, "four", 4, 0), 4); /* ?type=4 sends type 4 */
	/* and receives only type 4 by default */
	expect(l, 0, 0, "four", 4);
	expect(d, 0, 0, "one", 1);
	ipk_close(d);
	ipk_close(l);
}

Test(sysvmq, noerror_truncates_and_small_buffer_keeps)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	send_type(l, "0123456789", 2);
	char buf[4];
	/* too small: -ENOBUFS and the message stays */
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 0), -ENOBUFS);
	cr_expect(strstr(ipk_last_error(), "stays queued") != NULL);
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(l, &st), 0);
	cr_expect_eq(st.messages, 1);
	/* MSG_NOERROR: truncated, the rest is gone */
	ipk_msginfo mi = {.flags = IPK_MSG_NOERROR};
	cr_expect_eq(ipk_recvmsg(l, buf, sizeof buf, &mi, 0), 4);
	cr_expect(memcmp(buf, "0123", 4) == 0);
	cr_expect_eq(mi.type, 2);
	cr_assert_eq(ipk_queue_status(l, &st), 0);
	cr_expect_eq(st.messages, 0);
	ipk_close(l);
}

Test(sysvmq, recv_alloc_takes_a_full_size_message)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	size_t max = 0, len;
	FILE *f = fopen("/proc/sys/kernel/msgmax", "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%zu", &max), 1);
	fclose(f);
	len = max;
	char *big = malloc(len);
	ipkt_fill(big, len, 9);
	cr_assert_eq(ipk_send(l, big, len, 0), (ssize_t)len, "%s", ipk_last_error());
	void *got = NULL;
	ipk_msginfo mi = {0};
	cr_assert_eq(ipk_recv_alloc(l, &got, &mi, 0), (ssize_t)len);
	cr_expect(ipkt_check(got, len, 9));
	cr_expect_eq(mi.type, 1);
	free(got);
	free(big);
	ipk_close(l);
}

/* -------------------------------------------------------------- limits */

Test(sysvmq, over_msgmax_names_the_limit)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(l, &st), 0);
	size_t len = st.max_msgsize + 1;
	char *big = calloc(1, len);
	cr_expect_eq(ipk_send(l, big, len, 0), -EMSGSIZE);
	char want[96];
	snprintf(want, sizeof want, "exceeds kernel.msgmax=%zu", st.max_msgsize);
	cr_expect(strstr(ipk_last_error(), want) != NULL, "%s", ipk_last_error());
	cr_expect(strstr(ipk_last_error(), "sysctl") != NULL);
	free(big);
	ipk_close(l);
}

Test(sysvmq, full_queue_names_msgmnb)
{
	char url[160];
	snprintf(url, sizeof url, "%s?qbytes=100", new_addr());
	ipk_chan *l = ipkt_listen_ok(url);
	char buf[100] = {0};
	cr_expect_eq(ipk_send(l, buf, 60, 0), 60);
	cr_expect_eq(ipk_send(l, buf, 60, 0), -EAGAIN);
	cr_expect(strstr(ipk_last_error(), "is full") != NULL, "%s", ipk_last_error());
	cr_expect(strstr(ipk_last_error(), "kernel.msgmnb") != NULL);
	cr_expect(strstr(ipk_last_error(), "msg_qbytes=100") != NULL, "%s",
	          ipk_last_error());
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(ipk_send(l, buf, 60, 80), -ETIMEDOUT);
	cr_expect_geq(ipkt_ms_since(&t0), 79.0);
	/* larger than the whole queue: it could never fit */
	cr_expect_eq(ipk_send(l, buf, 0, 0), 0);
	char *big = calloc(1, 200);
	cr_expect_eq(ipk_send(l, big, 200, -1), -EMSGSIZE);
	cr_expect(strstr(ipk_last_error(), "capacity") != NULL, "%s",
	          ipk_last_error());
	free(big);
	ipk_close(l);
}

Test(sysvmq, receiver_limit_discards_oversize)
{
	char url[160];
	snprintf(url, sizeof url, "%s?maxmsg=16", new_addr());
	ipk_chan *l = ipkt_listen_ok(url);
	ipk_chan *d = ipkt_dial_ok(addr);
	char big[64] = {0};
	cr_assert_eq(ipk_send(d, big, sizeof big, 0), (ssize_t)sizeof big);
	send_type(d, "small", 1);
	void *got = NULL;
	cr_expect_eq(ipk_recv_alloc(l, &got, NULL, 0), -EMSGSIZE);
	cr_expect_null(got);
	/* the queue is not stuck behind it */
	expect(l, 0, 0, "small", 1);
	ipk_close(d);
	ipk_close(l);
}

/* ------------------------------------------------------------ timeouts */

Test(sysvmq, timeouts)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	char buf[8];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 0), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 100), -ETIMEDOUT);
	double el = ipkt_ms_since(&t0);
	cr_expect_geq(el, 99.0, "woke after %.1f ms", el);
	/* a message that arrives during a timed wait is taken */
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *d = NULL;
		if (ipk_dial(&d, addr, 1000) < 0)
			_exit(3);
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
		_exit(ipk_send(d, "late", 4, 1000) == 4 ? 0 : 4);
	}
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 10000), 4, "%s", ipk_last_error());
	cr_expect_eq(ipkt_wait_child(pid), 0);
	ipk_close(l);
}

Test(sysvmq, blocked_receiver_sees_removal)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *d = NULL;
		if (ipk_dial(&d, addr, 1000) < 0)
			_exit(3);
		char buf[8];
		ssize_t n = ipk_recv(d, buf, sizeof buf, -1); /* blocks in msgrcv */
		if (n != -EPIPE)
			_exit(4);
		_exit(ipk_send(d, "x", 1, 0) == -EPIPE ? 0 : 5);
	}
	/* wait until the child is blocked in msgrcv: removal wakes it */
	for (int i = 0; i < 500; i++) {
		char st[64], path[64];
		snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
		FILE *f = fopen(path, "r");
		int ok = f && fgets(st, sizeof st, f) && strstr(st, "msg");
		if (f)
			fclose(f);
		if (ok)
			break;
		usleep(2000);
	}
	cr_expect_eq(ipk_close(l), 0);
	cr_expect_eq(ipkt_wait_child(pid), 0);
}

/* --------------------------------------------------------- plain peers */

Test(sysvmq, plain_msgsnd_msgrcv_peer)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	key_t key = (key_t)addr_key(addr);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* only the raw system calls, as any C program would */
		int id = msgget(key, 0);
		if (id < 0)
			_exit(3);
		static struct rawmsg m;
		m.mtype = 42;
		memcpy(m.mtext, "raw hello", 9);
		if (msgsnd(id, &m, 9, 0) < 0)
			_exit(4);
		/* and read ipckit's reply, of type 43 */
		ssize_t n = msgrcv(id, &m, sizeof m.mtext, 43, 0);
		if (n != 5 || memcmp(m.mtext, "reply", 5) != 0)
			_exit(5);
		m.mtype = 44;
		if (msgsnd(id, &m, 0, 0) < 0) /* an empty message */
			_exit(6);
		_exit(0);
	}
	expect(l, 42, 0, "raw hello", 42);
	send_type(l, "reply", 43);
	char buf[8];
	ipk_msginfo mi = {.type = 44};
	cr_expect_eq(ipk_recvmsg(l, buf, sizeof buf, &mi, 5000), 0);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	ipk_close(l);
}

/* --------------------------------------------------------- permissions */

Test(sysvmq, created_0600_and_widened_by_mode)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(l, &st), 0);
	cr_expect_eq(st.mode, 0600, "mode %04o", st.mode);
	cr_expect_eq(st.uid, geteuid());
	cr_expect_eq(st.cuid, geteuid());
	char url[160];
	snprintf(url, sizeof url, "%s", addr);
	if (geteuid() == 0) {
		/* another user cannot attach to a 0600 queue, and is told why */
		pid_t pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(3);
			ipk_chan *d = NULL;
			int rc = ipk_dial(&d, url, 0);
			if (rc != -EACCES)
				_exit(4);
			_exit(strstr(ipk_last_error(), "mode 0600") ? 0 : 5);
		}
		cr_expect_eq(ipkt_wait_child(pid), 0, "dial by another user");
	}
	ipk_close(l);

	snprintf(url, sizeof url, "%s?mode=0622", new_addr());
	l = ipkt_listen_ok(url);
	cr_assert_eq(ipk_queue_status(l, &st), 0);
	cr_expect_eq(st.mode, 0622, "mode %04o", st.mode);
	if (geteuid() == 0) {
		/* write-only access: a dialer may send but not receive */
		snprintf(url, sizeof url, "%s", addr);
		pid_t pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(3);
			ipk_chan *d = NULL;
			if (ipk_dial(&d, url, 0) < 0)
				_exit(4);
			if (ipk_send(d, "hi", 2, 0) != 2)
				_exit(5);
			char b[4];
			if (ipk_recv(d, b, sizeof b, 0) != -EACCES)
				_exit(6);
			ipk_queue_info s2;
			if (ipk_queue_status(d, &s2) != 0 || s2.messages != 1)
				_exit(7);
			ipk_close(d);
			_exit(0);
		}
		cr_expect_eq(ipkt_wait_child(pid), 0, "write-only dialer");
	}
	ipk_close(l);
}

/* ------------------------------------------------------------ lifetime */

Test(sysvmq, exclusive_create_and_dial_waits)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	ipk_chan *again = NULL;
	cr_expect_eq(ipk_listen(&again, addr), -EEXIST);
	cr_expect(strstr(ipk_last_error(), "already exists") != NULL);
	ipk_close(l);

	ipk_chan *d = NULL;
	cr_expect_eq(ipk_dial(&d, new_addr(), 0), -ENOENT);
	cr_expect(strstr(ipk_last_error(), "no System V queue") != NULL);
	/* a dial waits for the queue to appear */
	ipkt_dial_waits(addr, addr);
	cr_expect(!sysv_key_exists(addr_key(addr)));
}

Test(sysvmq, persist_and_remove)
{
	char url[160];
	snprintf(url, sizeof url, "%s?persist", new_addr());
	ipk_chan *l = ipkt_listen_ok(url);
	ipk_close(l);
	cr_expect(sysv_key_exists(addr_key(addr)), "?persist queue was removed");
	cr_expect_eq(ipk_remove(addr), 0, "%s", ipk_last_error());
	cr_expect(!sysv_key_exists(addr_key(addr)));
	cr_expect_eq(ipk_remove(addr), -ENOENT);
}

Test(sysvmq, sender_after_removal_gets_epipe)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	ipk_chan *d = ipkt_dial_ok(addr);
	ipk_close(l);
	cr_expect_eq(ipk_send(d, "x", 1, 0), -EPIPE);
	cr_expect(strstr(ipk_last_error(), "removed") != NULL);
	char b[4];
	cr_expect_eq(ipk_recv(d, b, sizeof b, 0), -EPIPE);
	ipk_close(d);
}

/* ------------------------------------------------------ pollable fd */

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) > 0 && (p.revents & POLLIN);
}

Test(sysvmq, pollable_descriptor)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	int fd = ipk_fd(l);
	cr_assert_geq(fd, 0, "%s", ipk_last_error());
	cr_expect_eq(ipk_fd(l), fd, "the descriptor changes");
	cr_expect(!readable(fd, 20), "readable while empty");
	/* a plain msgsnd from another process makes it readable */
	key_t key = (key_t)addr_key(addr);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rawmsg m = {.mtype = 1};
		int id = msgget(key, 0);
		_exit(id >= 0 && msgsnd(id, &m, 3, 0) == 0 ? 0 : 3);
	}
	cr_expect_eq(ipkt_wait_child(pid), 0);
	cr_expect(readable(fd, 5000), "not readable with a message queued");
	ipk_pollitem it = {.chan = l, .events = IPK_POLLIN};
	cr_expect_eq(ipk_poll(&it, 1, 1000), 1);
	char b[8];
	cr_expect_eq(ipk_recv(l, b, sizeof b, 0), 3);
	/* our own receive updates it at once */
	cr_expect(!readable(fd, 0), "still readable after the queue emptied");
	/* our own send too */
	cr_expect_eq(ipk_send(l, "x", 1, 0), 1);
	cr_expect(readable(fd, 0));
	cr_expect_eq(ipk_recv(l, b, sizeof b, 0), 1);
	cr_expect(!readable(fd, 0));
	ipk_close(l);
}

Test(sysvmq, pollable_descriptor_sees_removal)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	ipk_chan *d = ipkt_dial_ok(addr);
	int fd = ipk_fd(d);
	cr_assert_geq(fd, 0);
	ipk_close(l);
	cr_expect(readable(fd, 5000), "not readable after the queue was removed");
	char b[4];
	cr_expect_eq(ipk_recv(d, b, sizeof b, 0), -EPIPE);
	ipk_close(d);
}

/* --------------------------------------------------------------- status */

Test(sysvmq, status_fields)
{
	ipk_chan *l = ipkt_listen_ok(new_addr());
	time_t before = time(NULL);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *d = NULL;
		if (ipk_dial(&d, addr, 1000) < 0)
			_exit(3);
		_exit(ipk_send(d, "12345", 5, 1000) == 5 &&
		              ipk_send(d, "678", 3, 1000) == 3
		              ? 0
		              : 4);
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(l, &st), 0, "%s", ipk_last_error());
	cr_expect_str_eq(st.scheme, "sysvmq");
	cr_expect_eq(st.messages, 2);
	cr_expect_eq(st.bytes, 8);
	cr_expect_gt(st.max_bytes, 0);
	cr_expect_eq(st.last_send_pid, pid);
	cr_expect_eq(st.last_recv_pid, 0);
	cr_expect_geq(st.send_time, (int64_t)before);
	cr_expect_eq(st.recv_time, 0);
	cr_expect_eq((unsigned)st.key, addr_key(addr));
	cr_expect_geq(st.id, 0);
	char b[8];
	cr_expect_eq(ipk_recv(l, b, sizeof b, 0), 5);
	cr_assert_eq(ipk_queue_status(l, &st), 0);
	cr_expect_eq(st.messages, 1);
	cr_expect_eq(st.bytes, 3);
	cr_expect_eq(st.last_recv_pid, getpid());

	/* by address, without a channel */
	ipk_queue_info by;
	cr_assert_eq(ipk_queue_stat(addr, &by), 0, "%s", ipk_last_error());
	cr_expect_eq(by.messages, 1);
	cr_expect_eq(by.id, st.id);
	ipk_close(l);
	cr_expect_eq(ipk_queue_stat(addr, &by), -ENOENT);
}
