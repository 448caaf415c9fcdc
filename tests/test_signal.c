/*
 * signal: beyond the conformance suite: the payload and what is reported
 * with it, plain sigqueue/kill senders and a plain SA_SIGINFO receiver,
 * a receiver that closes or exits, standard signals that must not
 * coalesce, a full signal queue (RLIMIT_SIGPENDING), addresses.
 *
 * The test process has threads of the framework, so the signal a test
 * listens on in the test process itself is blocked at start-up (as
 * ipk_signal_block() is meant to be used). Tests that need a signal not
 * blocked beforehand listen in a forked child, which has one thread.
 */
#define _GNU_SOURCE
#include "queue_check.h"
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIG_MAIN "RTMIN+4"   /* listened on by the test process: pre-blocked */
#define SIG_CHILD "RTMIN+5"  /* listened on by forked children */

TestSuite(signal, .timeout = 60);

__attribute__((constructor)) static void block_early(void)
{
	ipk_signal_block("signal:self?sig=" SIG_MAIN);
	ipk_signal_block("signal:self?sig=USR1");
}

static ipk_chan *dial_pid(pid_t pid, const char *sig, int timeout)
{
	char url[64];
	snprintf(url, sizeof url, "signal:%d?sig=%s", (int)pid, sig);
	ipk_chan *c = NULL;
	int rc = ipk_dial(&c, url, timeout);
	cr_assert_eq(rc, 0, "dial %s: %s", url, ipk_last_error());
	return c;
}

/* ------------------------------------------------------------- payload */

Test(signal, payload_lengths_sender_and_type)
{
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	ipk_chan *d = dial_pid(getpid(), SIG_MAIN, 1000);
	unsigned char msg[9] = "abcdefgh";
	for (size_t len = 0; len <= 8; len++)
		cr_assert_eq(ipk_send(d, msg, len, 0), (ssize_t)len, "%zu: %s", len,
		             ipk_last_error());
	for (size_t len = 0; len <= 8; len++) {
		unsigned char got[8];
		ipk_msginfo mi = {0};
		ssize_t n = ipk_recvmsg(l, got, sizeof got, &mi, 1000);
		cr_assert_eq(n, (ssize_t)len, "want %zu bytes, got %zd (%s)", len, n,
		             n < 0 ? ipk_last_error() : "");
		cr_expect(memcmp(got, msg, len) == 0);
		cr_expect_eq(mi.pid, getpid());
		cr_expect_eq(mi.uid, getuid());
		cr_expect_eq(mi.type, SIGRTMIN + 4);
	}
	cr_expect_eq(ipk_send(d, msg, 9, 0), -EMSGSIZE);
	cr_expect(strstr(ipk_last_error(), "at most 8 bytes") != NULL, "%s",
	          ipk_last_error());
	ipk_close(d);
	ipk_close(l);
}

Test(signal, small_buffer_keeps_the_message)
{
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	ipk_chan *d = dial_pid(getpid(), SIG_MAIN, 1000);
	cr_assert_eq(ipk_send(d, "12345678", 8, 0), 8);
	char small[4], big[8];
	cr_expect_eq(ipk_recv(l, small, sizeof small, 1000), -ENOBUFS);
	ipk_pollitem it = {.chan = l, .events = IPK_POLLIN};
	cr_expect_eq(ipk_poll(&it, 1, 0), 1, "a kept message is not ready");
	cr_expect_eq(ipk_recv(l, big, sizeof big, 0), 8);
	cr_expect(memcmp(big, "12345678", 8) == 0);
	void *got = NULL;
	cr_assert_eq(ipk_send(d, "xy", 2, 0), 2);
	cr_expect_eq(ipk_recv_alloc(l, &got, NULL, 1000), 2);
	free(got);
	ipk_close(d);
	ipk_close(l);
}

Test(signal, realtime_signals_queue_in_order)
{
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	pid_t me = getpid();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char url[64];
		snprintf(url, sizeof url, "signal:%d?sig=" SIG_MAIN, (int)me);
		ipk_chan *d = NULL;
		if (ipk_dial(&d, url, 1000) < 0)
			_exit(3);
		for (uint32_t i = 0; i < 500; i++)
			if (ipk_send(d, &i, sizeof i, 5000) != sizeof i)
				_exit(4);
		_exit(0);
	}
	cr_expect_eq(ipkt_wait_child(pid), 0,
	             "all 500 were accepted before any was read");
	for (uint32_t i = 0; i < 500; i++) {
		uint32_t v;
		ipk_msginfo mi = {0};
		cr_assert_eq(ipk_recvmsg(l, &v, sizeof v, &mi, 1000), 4);
		cr_assert_eq(v, i);
		cr_assert_eq(mi.pid, pid);
	}
	ipk_close(l);
}

/* --------------------------------------------------------- plain peers */

Test(signal, plain_sigqueue_and_kill_senders)
{
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	pid_t me = getpid();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		union sigval v = {.sival_ptr = NULL};
		v.sival_int = 4242;
		if (sigqueue(me, SIGRTMIN + 4, v) < 0)
			_exit(3);
		_exit(kill(me, SIGRTMIN + 4) < 0 ? 4 : 0);
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	unsigned char got[8];
	ipk_msginfo mi = {0};
	cr_assert_eq(ipk_recvmsg(l, got, sizeof got, &mi, 1000), 8,
	             "sigqueue: the whole sigval");
	union sigval v;
	memcpy(&v, got, sizeof v);
	cr_expect_eq(v.sival_int, 4242);
	cr_expect_eq(mi.pid, pid);
	cr_expect_eq(mi.uid, getuid());
	cr_expect_eq(ipk_recvmsg(l, got, sizeof got, &mi, 1000), 0, "kill: empty");
	cr_expect_eq(mi.pid, pid);
	ipk_close(l);
}

static volatile sig_atomic_t got_value, got_code, got_pid, got_count;

static void on_info(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	got_value = si->si_value.sival_int;
	got_code = si->si_code;
	got_pid = si->si_pid;
	got_count++;
}

Test(signal, plain_sa_siginfo_receiver)
{
	int ready[2], done[2];
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(done), 0);
	pid_t me = getpid();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* a plain program: a handler with SA_SIGINFO, nothing of ipckit */
		close(ready[0]);
		close(done[1]);
		struct sigaction sa = {.sa_sigaction = on_info,
		                       .sa_flags = SA_SIGINFO};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGRTMIN + 5, &sa, NULL);
		close(ready[1]);
		while (got_count == 0)
			pause();
		char x;
		(void)!read(done[0], &x, 1);
		_exit(got_value == 0x1234567 && got_code == SI_QUEUE && got_pid == me
		              ? 0
		              : 4);
	}
	close(ready[1]);
	close(done[0]);
	char x;
	cr_assert_eq(read(ready[0], &x, 1), 0);
	close(ready[0]);
	ipk_chan *d = dial_pid(pid, SIG_CHILD, 5000);
	int32_t value = 0x1234567;
	cr_expect_eq(ipk_send(d, &value, sizeof value, 1000), 4, "%s",
	             ipk_last_error());
	close(done[1]);
	cr_expect_eq(ipkt_wait_child(pid), 0,
	             "the handler did not see the value");
	ipk_close(d);
}

/* ----------------------------------------------- the receiver going away */

static pid_t child_listener(const char *sig, int *to_child, int *from_child)
{
	int down[2], up[2];
	cr_assert_eq(pipe(down), 0);
	cr_assert_eq(pipe(up), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		char url[64];
		snprintf(url, sizeof url, "signal:self?sig=%s", sig);
		ipk_chan *l = NULL;
		if (ipk_listen(&l, url) < 0)
			_exit(3);
		char cmd = 'l';
		if (write(up[1], &cmd, 1) != 1)
			_exit(4);
		/* commands: 'c' close the listener, 'r' receive one, EOF exit */
		while (read(down[0], &cmd, 1) == 1) {
			char reply = 'k';
			if (cmd == 'c') {
				ipk_close(l);
				l = NULL;
			} else if (cmd == 'r') {
				char b[8];
				reply = ipk_recv(l, b, sizeof b, 5000) >= 0 ? 'k' : 'e';
			}
			if (write(up[1], &reply, 1) != 1)
				_exit(5);
		}
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	char b;
	cr_assert_eq(read(up[0], &b, 1), 1);
	*to_child = down[1];
	*from_child = up[0];
	return pid;
}

static char ask(int to, int from, char cmd)
{
	char r = 0;
	cr_assert_eq(write(to, &cmd, 1), 1);
	cr_assert_eq(read(from, &r, 1), 1);
	return r;
}

Test(signal, sender_sees_receiver_close)
{
	int to, from;
	pid_t pid = child_listener(SIG_CHILD, &to, &from);
	ipk_chan *d = dial_pid(pid, SIG_CHILD, 1000);
	cr_expect_eq(ipk_send(d, "a", 1, 0), 1);
	cr_expect_eq(ask(to, from, 'r'), 'k');
	cr_expect_eq(ask(to, from, 'c'), 'k');
	/* the signal is no longer blocked: sending would kill the child */
	cr_expect_eq(ipk_send(d, "b", 1, 0), -EPIPE);
	cr_expect(strstr(ipk_last_error(), "not listening") != NULL, "%s",
	          ipk_last_error());
	close(to);
	cr_expect_eq(ipkt_wait_child(pid), 0, "the child was killed");
	close(from);
	ipk_close(d);
}

Test(signal, sender_sees_receiver_exit)
{
	int to, from;
	pid_t pid = child_listener(SIG_CHILD, &to, &from);
	ipk_chan *d = dial_pid(pid, SIG_CHILD, 1000);
	int fd = ipk_fd(d);
	cr_assert_geq(fd, 0, "%s", ipk_last_error());
	close(to);
	/* the pidfd becomes readable when the receiver exits */
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_expect_eq(poll(&p, 1, 5000), 1);
	/* a zombie first, then gone altogether: both are -EPIPE */
	cr_expect_eq(ipk_send(d, "z", 1, 0), -EPIPE);
	cr_expect(strstr(ipk_last_error(), "exited") != NULL, "%s", ipk_last_error());
	cr_expect_eq(ipkt_wait_child(pid), 0);
	cr_expect_eq(ipk_send(d, "z", 1, 0), -EPIPE);
	close(from);
	ipk_close(d);
}

Test(signal, dial_waits_for_a_listener)
{
	/* a process that does not listen yet: dial refuses, then waits */
	int go[2];
	cr_assert_eq(pipe(go), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(go[1]);
		char x;
		(void)!read(go[0], &x, 1);
		ipk_chan *l = NULL;
		if (ipk_listen(&l, "signal:self?sig=" SIG_CHILD) < 0)
			_exit(3);
		char b[8];
		ssize_t n = ipk_recv(l, b, sizeof b, 5000);
		_exit(n == 2 ? 0 : 4);
	}
	close(go[0]);
	char url[64];
	snprintf(url, sizeof url, "signal:%d?sig=" SIG_CHILD, (int)pid);
	ipk_chan *d = NULL;
	cr_expect_eq(ipk_dial(&d, url, 0), -ECONNREFUSED);
	cr_expect(strstr(ipk_last_error(), "not listening") != NULL, "%s",
	          ipk_last_error());
	cr_assert_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	cr_assert_eq(ipk_dial(&d, url, 5000), 0, "%s", ipk_last_error());
	cr_expect_eq(ipk_send(d, "hi", 2, 1000), 2);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	ipk_close(d);
}

Test(signal, dial_nonexistent_process)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(0);
	ipkt_wait_child(pid); /* a pid that surely is gone now */
	char url[64];
	snprintf(url, sizeof url, "signal:%d", (int)pid);
	ipk_chan *d = NULL;
	cr_expect_eq(ipk_dial(&d, url, 0), -ESRCH);
}

/* --------------------------------------------------- standard signals */

Test(signal, standard_signals_do_not_coalesce)
{
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=USR1");
	ipk_chan *d = dial_pid(getpid(), "SIGUSR1", 1000);
	cr_expect_eq(ipk_send(d, "1", 1, 0), 1);
	/* still pending: a second one would be lost, so it is refused */
	cr_expect_eq(ipk_send(d, "2", 1, 0), -EAGAIN);
	cr_expect(strstr(ipk_last_error(), "still pending") != NULL, "%s",
	          ipk_last_error());
	char b[8];
	cr_expect_eq(ipk_recv(l, b, sizeof b, 1000), 1);
	cr_expect_eq(ipk_send(d, "2", 1, 0), 1);
	cr_expect_eq(ipk_recv(l, b, sizeof b, 1000), 1);
	cr_expect_eq(b[0], '2');
	ipk_close(d);
	ipk_close(l);
}

Test(signal, standard_signal_sender_waits_for_receiver)
{
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=USR1");
	pid_t me = getpid();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char url[64];
		snprintf(url, sizeof url, "signal:%d?sig=USR1", (int)me);
		ipk_chan *d = NULL;
		if (ipk_dial(&d, url, 1000) < 0)
			_exit(3);
		for (int i = 0; i < 20; i++)
			if (ipk_send(d, &i, 1, 5000) != 1)
				_exit(4);
		_exit(0);
	}
	for (int i = 0; i < 20; i++) {
		unsigned char b[8];
		cr_assert_eq(ipk_recv(l, b, sizeof b, 5000), 1, "#%d: %s", i,
		             ipk_last_error());
		cr_assert_eq(b[0], i, "#%d arrived as #%d", i, b[0]);
	}
	cr_expect_eq(ipkt_wait_child(pid), 0);
	ipk_close(l);
}

/* ---------------------------------------------------- full signal queue */

Test(signal, full_queue_is_an_error_not_a_loss)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run the receiver as another user");
	int to, from;
	int down[2], up[2];
	cr_assert_eq(pipe(down), 0);
	cr_assert_eq(pipe(up), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* a receiver of its own user with room for 4 pending signals */
		close(down[1]);
		close(up[0]);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		ipk_chan *l = NULL;
		if (ipk_listen(&l, "signal:self?sig=" SIG_CHILD) < 0)
			_exit(4);
		ipk_queue_info st;
		if (ipk_queue_status(l, &st) < 0)
			_exit(5);
		struct rlimit rl = {st.messages + 4, st.messages + 4};
		if (setrlimit(RLIMIT_SIGPENDING, &rl) < 0)
			_exit(6);
		char c = 'l';
		if (write(up[1], &c, 1) != 1)
			_exit(7);
		if (read(down[0], &c, 1) != 1)
			_exit(8);
		int n = 0;
		char b[8];
		while (ipk_recv(l, b, sizeof b, 0) >= 0)
			n++;
		_exit(n == 4 ? 0 : 9);
	}
	close(down[0]);
	close(up[1]);
	to = down[1];
	from = up[0];
	char b;
	cr_assert_eq(read(from, &b, 1), 1);
	ipk_chan *d = dial_pid(pid, SIG_CHILD, 1000);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(ipk_send(d, "x", 1, 0), 1, "#%d: %s", i, ipk_last_error());
	cr_expect_eq(ipk_send(d, "x", 1, 0), -EAGAIN);
	cr_expect(strstr(ipk_last_error(), "RLIMIT_SIGPENDING") != NULL, "%s",
	          ipk_last_error());
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(ipk_send(d, "x", 1, 60), -ETIMEDOUT);
	cr_expect_geq(ipkt_ms_since(&t0), 59.0);
	cr_assert_eq(write(to, "g", 1), 1);
	cr_expect_eq(ipkt_wait_child(pid), 0,
	             "the receiver did not get exactly 4");
	close(to);
	close(from);
	ipk_close(d);
}

/* ------------------------------------------------------ fd, status, misc */

Test(signal, pollable_and_status)
{
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	int fd = ipk_fd(l);
	cr_assert_geq(fd, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_expect_eq(poll(&p, 1, 0), 0);
	ipk_chan *d = dial_pid(getpid(), SIG_MAIN, 1000);
	cr_assert_eq(ipk_send(d, "p", 1, 0), 1);
	cr_expect_eq(poll(&p, 1, 1000), 1);
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(l, &st), 0, "%s", ipk_last_error());
	cr_expect_str_eq(st.scheme, "signal");
	cr_expect_eq(st.id, SIGRTMIN + 4);
	cr_expect_eq(st.max_msgsize, 8);
	cr_expect_geq(st.messages, 1);
	struct rlimit rl;
	getrlimit(RLIMIT_SIGPENDING, &rl);
	cr_expect_eq(st.max_messages, (size_t)rl.rlim_cur);
	char b[8];
	cr_expect_eq(ipk_recv(l, b, sizeof b, 0), 1);
	cr_expect_eq(poll(&p, 1, 0), 0);
	ipk_close(d);
	ipk_close(l);
}

Test(signal, addresses)
{
	ipk_chan *c = NULL;
	cr_expect_eq(ipk_listen(&c, "signal:self?sig=KILL"), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "cannot be blocked") != NULL);
	cr_expect_eq(ipk_listen(&c, "signal:self?sig=SEGV"), -EINVAL);
	cr_expect_eq(ipk_listen(&c, "signal:self?sig=RTMIN+99"), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "real-time") != NULL);
	cr_expect_eq(ipk_listen(&c, "signal:self?sig=32"), -EINVAL);
	cr_expect_eq(ipk_listen(&c, "signal:self?sig=NOPE"), -EINVAL);
	cr_expect_eq(ipk_listen(&c, "signal:1?sig=" SIG_MAIN), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "signal:self") != NULL);
	cr_expect_eq(ipk_dial(&c, "signal:abc", 0), -EINVAL);
	cr_expect_eq(ipk_signal_block("fifo:/x"), -EINVAL);
	cr_expect_eq(ipk_signal_block("signal:self?sig=RTMAX"), SIGRTMAX);
	cr_expect_eq(ipk_signal_block("signal:self?sig=SIGRTMAX-1"), SIGRTMAX - 1);
	cr_expect_eq(ipk_signal_block("signal:self?sig=usr2"), SIGUSR2);
	/* one listener per signal in a process */
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	cr_expect_eq(ipk_listen(&c, "signal:self?sig=" SIG_MAIN), -EADDRINUSE);
	ipk_close(l);
	l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	ipk_close(l);
	/* the listener does not send, a dialer does not receive */
	l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	cr_expect_eq(ipk_send(l, "x", 1, 0), -EOPNOTSUPP);
	ipk_close(l);
}

static void *idle_thread(void *arg)
{
	int fd = *(int *)arg;
	char x;
	(void)!read(fd, &x, 1);
	return NULL;
}

Test(signal, threads_created_after_blocking)
{
	/* the documented order: block, then start threads, then listen */
	int stop[2];
	cr_assert_eq(pipe(stop), 0);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, idle_thread, &stop[0]), 0);
	ipk_chan *l = ipkt_listen_ok("signal:self?sig=" SIG_MAIN);
	ipk_chan *d = dial_pid(getpid(), SIG_MAIN, 1000);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(ipk_send(d, &i, 1, 1000), 1);
	for (int i = 0; i < 50; i++) {
		unsigned char b[8];
		cr_assert_eq(ipk_recv(l, b, sizeof b, 1000), 1);
		cr_assert_eq(b[0], i);
	}
	close(stop[1]);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	close(stop[0]);
	ipk_close(d);
	ipk_close(l);
}

static int started[2];

static void *unblocked_thread(void *arg)
{
	int fd = *(int *)arg;
	/* a new thread runs with every signal blocked until the C library
	   gives it its creator's mask: say when that is done */
	(void)!write(started[1], "s", 1);
	char x;
	(void)!read(fd, &x, 1);
	return NULL;
}

Test(signal, listen_refuses_when_a_thread_does_not_block)
{
	int stop[2];
	cr_assert_eq(pipe(stop), 0);
	cr_assert_eq(pipe(started), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, unblocked_thread, &stop[0]), 0);
	char x;
	cr_assert_eq(read(started[0], &x, 1), 1);
	ipk_chan *l = NULL;
	cr_expect_eq(ipk_listen(&l, "signal:self?sig=RTMIN+7"), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "ipk_signal_block") != NULL, "%s",
	          ipk_last_error());
	close(stop[1]);
	pthread_join(th, NULL);
	close(stop[0]);
	close(started[0]);
	close(started[1]);
}

Test(signal, library_threads_take_no_signals)
{
	/* a System V queue's ipk_fd() starts a helper thread; it must not be
	   a thread a signal could be delivered to */
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char url[64];
		snprintf(url, sizeof url, "sysvmq:0x%08x", qlog_key(0x60000000u));
		ipk_chan *q = NULL;
		if (ipk_listen(&q, url) < 0 || ipk_fd(q) < 0)
			_exit(3);
		ipk_chan *l = NULL;
		int rc = ipk_listen(&l, "signal:self?sig=" SIG_CHILD);
		ipk_close(l);
		ipk_close(q);
		_exit(rc == 0 ? 0 : 4);
	}
	cr_expect_eq(ipkt_wait_child(pid), 0,
	             "the helper thread does not block signals");
}
