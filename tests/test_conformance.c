/*
 * The channel contract, run on every transport. A transport gets the whole
 * suite by adding one fixture and one CONFORMANCE() line at the bottom; it
 * skips a case only with a stated reason (max_size / why).
 *
 * Roles: the parent receives, a forked child sends, so every case crosses a
 * process boundary the way users use the channels.
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
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum kind {
	CONNECTED, /* listen + dial + accept (unix:, tcp:) */
	MAILBOX,   /* the listener receives, dialers send (fifo:, queues, rings) */
	PAIRED,    /* ipk_pair() then fork (pipe:) */
};

struct fixture {
	const char *name;
	enum kind kind;
	/* Fill listen and dial addresses (dial may equal listen). The pid is
	   the receiving process, for transports addressed by pid. */
	void (*addrs)(char *listen, char *dial, size_t cap, pid_t receiver);
	size_t max_size;         /* larger sizes are skipped, because: */
	const char *why;
	bool sender_exit_seen;   /* receiver gets -EPIPE when the sender exits */
	bool receiver_exit_seen; /* sender gets -EPIPE when the receiver exits */
	bool named;              /* ipk_remove() finds nothing after close */
	bool limit_enforced;     /* receiver refuses a frame over its ?maxmsg= */
	const char *with_maxmsg; /* query separator to append maxmsg ("?" or "&"),
	                            NULL: the limit is not ?maxmsg= */
};

#define MiB ((size_t)1 << 20)

/* ------------------------------------------------------------ fixtures */

static void fifo_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "fifo:%s", ipkt_path("fifo"));
	snprintf(d, cap, "%s", l);
}

static void unix_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "unix:%s", ipkt_path("sock"));
	snprintf(d, cap, "%s", l);
}

static void abstract_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "unix:@%s", ipkt_name("abs") + 1);
	snprintf(d, cap, "%s", l);
}

static void unixgram_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "unixgram:%s", ipkt_path("dg"));
	snprintf(d, cap, "%s", l);
}

/* tcp: the listener picks a port; the dial address is filled in later */
static void tcp4_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "tcp://127.0.0.1:0");
	d[0] = '\0';
}

static void tcp6_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "tcp://[::1]:0");
	d[0] = '\0';
}

static void pipe_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "pipe:");
	snprintf(d, cap, "pipe:");
}

static const struct fixture fx_pipe = {
	"pipe", PAIRED, pipe_addrs, SIZE_MAX, NULL, true, true, false,
	/* both ends share one limit: only the sender-side check applies */
	false, "?"};
static const struct fixture fx_fifo = {
	"fifo", MAILBOX, fifo_addrs, SIZE_MAX, NULL,
	/* a FIFO is a mailbox: its reader waits for the next writer */
	false, true, true, true, "?"};
static const struct fixture fx_unix = {
	"unix", CONNECTED, unix_addrs, SIZE_MAX, NULL, true, true, true, true, "?"};
static const struct fixture fx_unix_abstract = {
	"unix_abstract", CONNECTED, abstract_addrs, SIZE_MAX, NULL,
	true, true, false, true, "?"};
static const struct fixture fx_tcp4 = {
	"tcp4", CONNECTED, tcp4_addrs, SIZE_MAX, NULL, true, true, false, true, "?"};
static const struct fixture fx_tcp6 = {
	"tcp6", CONNECTED, tcp6_addrs, SIZE_MAX, NULL, true, true, false, true, "?"};
static const struct fixture fx_unixgram = {
	"unixgram", MAILBOX, unixgram_addrs, 200 * 1024,
	"a datagram must fit the socket buffer (net.core.wmem_max)",
	/* datagrams have no connection: a sender leaving is not visible */
	false, true, true, true, "?"};

/* fixtures for sysvmq:, mq:, signal: */

#include "queue_check.h" /* logs the keys and names used; checks at exit */

/* sysvmq: a raw key unique to this process and call (ftok is covered by
   test_sysvmq.c); the largest message is kernel.msgmax, read at start-up */
static void sysvmq_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "sysvmq:0x%08x", qlog_key(0x40000000u));
	snprintf(d, cap, "%s", l);
}

static struct fixture fx_sysvmq = {
	"sysvmq", MAILBOX, sysvmq_addrs, 8192,
	"a System V message is at most kernel.msgmax bytes",
	/* a queue has no connections: a receiver waits for the next sender */
	false, true, true, true, "?"};

/* mq: a small queue (depth 2) so parallel runs of the same user stay within
   RLIMIT_MSGQUEUE; msgsize 64 KiB where the creator may exceed
   fs.mqueue.msgsize_max (CAP_SYS_RESOURCE), else msgsize_max. The
   oversize case appends nothing here: on mq: ?maxmsg= is the depth, and a
   second, different one is refused. */
static size_t mq_msgsize = 8192;

static void mq_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	const char *name = qlog_mq("mq");
	snprintf(l, cap, "mq:%s?msgsize=%zu&maxmsg=2", name, mq_msgsize);
	snprintf(d, cap, "mq:%s", name);
}

static struct fixture fx_mq = {
	"mq", MAILBOX, mq_addrs, 8192,
	"larger than the test queue's msgsize",
	/* a queue has no connections; a dialer sees the owner's unlink */
	false, true, true,
	/* the limit is the queue's msgsize, refused by the kernel at the sender
	   (test_posixmq checks the error) */
	false, NULL};

/* signal: the receiving process listens on its own signal; blocked from
   start-up (below) so no thread of the test process can take it first */
#define CONF_SIG "RTMIN+3"

static void signal_addrs(char *l, char *d, size_t cap, pid_t p)
{
	snprintf(l, cap, "signal:self?sig=" CONF_SIG);
	snprintf(d, cap, "signal:%d?sig=" CONF_SIG, (int)p);
}

static const struct fixture fx_signal = {
	"signal", MAILBOX, signal_addrs, 8,
	"a signal carries at most 8 bytes (its sigqueue value)",
	/* no connection to see a sender leave. A sender sees its receiver
	   exit, or close and unblock the signal (-EPIPE), but here the signal
	   stays blocked after close (blocked at start-up for the framework's
	   threads) and the case sends 4 KiB messages: test_signal.c checks
	   both with single-threaded receivers */
	false, false, false, false, "&"};

__attribute__((constructor)) static void queue_limits(void)
{
	ipk_signal_block("signal:self?sig=" CONF_SIG);

	static char why_mq[128];
	struct mq_attr big = {.mq_maxmsg = 2, .mq_msgsize = 65536};
	const char *probe = qlog_mq("probe");
	mqd_t q = mq_open(probe, O_RDWR | O_CREAT | O_EXCL, 0600, &big);
	if (q != (mqd_t)-1) {
		mq_close(q);
		mq_unlink(probe);
		mq_msgsize = 65536;
	} else {
		FILE *m = fopen("/proc/sys/fs/mqueue/msgsize_max", "r");
		unsigned long v;
		if (m != NULL && fscanf(m, "%lu", &v) == 1)
			mq_msgsize = v;
		if (m != NULL)
			fclose(m);
	}
	fx_mq.max_size = mq_msgsize;
	snprintf(why_mq, sizeof why_mq,
	         "larger than the test queue's msgsize=%zu (fs.mqueue.msgsize_max, "
	         "RLIMIT_MSGQUEUE)",
	         mq_msgsize);
	fx_mq.why = why_mq;

	static char why_sysvmq[96];
	FILE *f = fopen("/proc/sys/kernel/msgmax", "r");
	unsigned long v;
	if (f != NULL && fscanf(f, "%lu", &v) == 1) {
		fx_sysvmq.max_size = v;
		snprintf(why_sysvmq, sizeof why_sysvmq,
		         "a System V message is at most kernel.msgmax=%lu bytes", v);
		fx_sysvmq.why = why_sysvmq;
	}
	if (f != NULL)
		fclose(f);
}

/* fixtures for shm:, sysvshm:, mmap: rings */

/* Rings get 17 MiB regions so the 16 MiB message fits (each message takes
   a 16-byte header and the ring keeps one more header free). */
static void shm_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "shm:%s?size=17M", ipkt_name("ring"));
	snprintf(d, cap, "%s", l);
}

static void shm_mpmc_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "shm:%s?size=17M&mpmc", ipkt_name("mpmc"));
	snprintf(d, cap, "%s", l);
}

/* an explicit key unique to this process and call (ftok: test_region.c) */
static void sysvshm_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	static unsigned n;
	unsigned key = 0x5e000000u | ((unsigned)getpid() & 0xffffu) << 8 |
	               (++n & 0xffu);
	snprintf(l, cap, "sysvshm:0x%08x?size=17M", key);
	snprintf(d, cap, "%s", l);
}

static void mmap_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "mmap:%s?size=17M", ipkt_path("ring"));
	snprintf(d, cap, "%s", l);
}

static void shm_pair_addrs(char *l, char *d, size_t cap, pid_t p)
{
	(void)p;
	snprintf(l, cap, "shm:?size=17M");
	snprintf(d, cap, "%s", l);
}

/* the listener receives, dialers send; a ring is a mailbox: its receiver
   waits for the next sender, and a sender gets -EPIPE once the receiver
   has closed (and removed) the ring */
static const struct fixture fx_shm = {
	"shm", MAILBOX, shm_addrs, SIZE_MAX, NULL, false, true, true, true, "&"};
static const struct fixture fx_shm_mpmc = {
	"shm_mpmc", MAILBOX, shm_mpmc_addrs, SIZE_MAX, NULL, false, true, true,
	true, "&"};
static const struct fixture fx_sysvshm = {
	"sysvshm", MAILBOX, sysvshm_addrs, SIZE_MAX, NULL, false, true, true, true,
	"&"};
static const struct fixture fx_mmap = {
	"mmap", MAILBOX, mmap_addrs, SIZE_MAX, NULL, false, true, true, true, "&"};
static const struct fixture fx_shm_pair = {
	"shm_pair", PAIRED, shm_pair_addrs, SIZE_MAX, NULL, true, true, false,
	/* both ends share one limit: only the sender-side check applies */
	false, "&"};

/* ------------------------------------------------------------ harness */

struct session {
	const struct fixture *fx;
	char listen[512], dial[512];
	ipk_chan *listener; /* CONNECTED: the listening channel */
	ipk_chan *rx;       /* parent's receiving channel */
	ipk_chan *tx;       /* PAIRED: the child's end before fork */
	pid_t child;
};

static ipk_chan *must_dial(const char *url)
{
	ipk_chan *c = NULL;
	int rc = ipk_dial(&c, url, 5000);
	if (rc < 0) {
		fprintf(stderr, "child: dial %s: %s\n", url, ipk_last_error());
		_exit(3);
	}
	return c;
}

/* Set up the receiving side; extra is appended to the listen address. */
static void open_rx(struct session *s, const struct fixture *fx,
                    const char *extra)
{
	memset(s, 0, sizeof *s);
	s->fx = fx;
	fx->addrs(s->listen, s->dial, sizeof s->listen, getpid());
	if (extra && *extra && fx->with_maxmsg != NULL) {
		strncat(s->listen, fx->with_maxmsg,
		        sizeof s->listen - strlen(s->listen) - 1);
		strncat(s->listen, extra, sizeof s->listen - strlen(s->listen) - 1);
	}
	int rc;
	switch (fx->kind) {
	case PAIRED:
		rc = ipk_pair(s->listen, &s->rx, &s->tx);
		cr_assert_eq(rc, 0, "pair %s: %s", s->listen, ipk_last_error());
		break;
	case CONNECTED:
		rc = ipk_listen(&s->listener, s->listen);
		cr_assert_eq(rc, 0, "listen %s: %s", s->listen, ipk_last_error());
		if (s->dial[0] == '\0')
			cr_assert_gt(ipk_address(s->listener, s->dial, sizeof s->dial), 0);
		break;
	case MAILBOX:
		rc = ipk_listen(&s->rx, s->listen);
		cr_assert_eq(rc, 0, "listen %s: %s", s->listen, ipk_last_error());
		break;
	}
}

/* In the child: the channel to send on. */
static ipk_chan *child_tx(struct session *s)
{
	if (s->fx->kind == PAIRED) {
		ipk_close(s->rx);
		return s->tx;
	}
	/* let go of what we inherited: it stays the parent's */
	ipk_close(s->rx);
	ipk_close(s->listener);
	return must_dial(s->dial);
}

/* In the parent after fork: the channel to receive on. */
static void parent_rx(struct session *s)
{
	if (s->fx->kind == PAIRED) {
		ipk_close(s->tx);
		s->tx = NULL;
	} else if (s->fx->kind == CONNECTED) {
		int rc = ipk_accept(s->listener, &s->rx, 10000);
		cr_assert_eq(rc, 0, "accept on %s: %s", s->listen, ipk_last_error());
	}
}

static int wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void close_all(struct session *s)
{
	if (s->rx)
		cr_expect_eq(ipk_close(s->rx), 0, "close: %s", ipk_last_error());
	if (s->tx)
		ipk_close(s->tx);
	if (s->listener)
		cr_expect_eq(ipk_close(s->listener), 0, "close: %s", ipk_last_error());
	s->rx = s->tx = s->listener = NULL;
}

/* -------------------------------------------------------------- cases */

static const size_t sizes[] = {0, 1, 4095, 4096, 64 * 1024, MiB, 16 * MiB};

static void case_sizes(const struct fixture *fx)
{
	struct session s;
	open_rx(&s, fx, NULL);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *tx = child_tx(&s);
		void *buf = malloc(16 * MiB);
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			if (sizes[i] > fx->max_size)
				continue;
			ipkt_fill(buf, sizes[i], (uint32_t)i);
			if (ipk_send(tx, buf, sizes[i], 20000) != (ssize_t)sizes[i]) {
				fprintf(stderr, "child: send %zu: %s\n", sizes[i],
				        ipk_last_error());
				_exit(4);
			}
		}
		free(buf);
		_exit(ipk_close(tx) == 0 ? 0 : 5);
	}
	parent_rx(&s);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		if (sizes[i] > fx->max_size) {
			cr_log_info("%s: %zu-byte message skipped: %s", fx->name, sizes[i],
			            fx->why);
			continue;
		}
		void *got = NULL;
		ssize_t n = ipk_recv_alloc(s.rx, &got, NULL, 20000);
		cr_assert_eq(n, (ssize_t)sizes[i], "%s: size %zu: got %zd (%s)",
		             fx->name, sizes[i], n, n < 0 ? ipk_last_error() : "");
		cr_assert(ipkt_check(got, sizes[i], (uint32_t)i),
		          "%s: %zu-byte message corrupted", fx->name, sizes[i]);
		free(got);
	}
	cr_assert_eq(wait_child(pid), 0, "%s: sender failed", fx->name);
	close_all(&s);
}

#define ORDER_COUNT 10000

static void case_order(const struct fixture *fx)
{
	struct session s;
	open_rx(&s, fx, NULL);
	size_t maxlen = fx->max_size < 256 ? fx->max_size : 256;
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *tx = child_tx(&s);
		unsigned char buf[256];
		for (uint32_t i = 0; i < ORDER_COUNT; i++) {
			size_t len = 4 + i % (maxlen - 3);
			if (len > maxlen)
				len = maxlen;
			ipkt_fill(buf, len, i);
			memcpy(buf, &i, 4);
			if (ipk_send(tx, buf, len, 20000) != (ssize_t)len) {
				fprintf(stderr, "child: send #%u: %s\n", i, ipk_last_error());
				_exit(4);
			}
		}
		_exit(ipk_close(tx) == 0 ? 0 : 5);
	}
	parent_rx(&s);
	unsigned char buf[256], want[256];
	for (uint32_t i = 0; i < ORDER_COUNT; i++) {
		ssize_t n = ipk_recv(s.rx, buf, sizeof buf, 20000);
		size_t len = 4 + i % (maxlen - 3);
		if (len > maxlen)
			len = maxlen;
		cr_assert_eq(n, (ssize_t)len, "%s: message #%u: got %zd (%s)",
		             fx->name, i, n, n < 0 ? ipk_last_error() : "");
		uint32_t seq;
		memcpy(&seq, buf, 4);
		cr_assert_eq(seq, i, "%s: message #%u arrived as #%u", fx->name, i, seq);
		ipkt_fill(want, len, i);
		memcpy(want, &i, 4);
		cr_assert(memcmp(buf, want, len) == 0, "%s: message #%u corrupted",
		          fx->name, i);
	}
	cr_assert_eq(wait_child(pid), 0);
	close_all(&s);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void case_timeouts(const struct fixture *fx)
{
	struct session s;
	open_rx(&s, fx, NULL);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* a connected but silent sender, until the parent is done */
		child_tx(&s);
		for (;;)
			pause();
	}
	parent_rx(&s);
	unsigned char buf[64];
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ssize_t n = ipk_recv(s.rx, buf, sizeof buf, 0);
	cr_expect_eq(n, -EAGAIN, "%s: non-blocking receive on empty: %zd", fx->name, n);
	cr_expect_lt(ms_since(&t0), 50.0, "%s: timeout 0 blocked", fx->name);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = ipk_recv(s.rx, buf, sizeof buf, 120);
	double el = ms_since(&t0);
	cr_expect_eq(n, -ETIMEDOUT, "%s: timed receive on empty: %zd", fx->name, n);
	cr_expect_geq(el, 119.0, "%s: woke early after %.1f ms", fx->name, el);
	cr_expect_lt(el, 1120.0, "%s: 120 ms timeout took %.1f ms", fx->name, el);

	/* a signal handled during the wait does not cut it short */
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	struct itimerval it = {.it_value = {0, 30000}};
	setitimer(ITIMER_REAL, &it, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = ipk_recv(s.rx, buf, sizeof buf, 150);
	el = ms_since(&t0);
	sigaction(SIGALRM, &old, NULL);
	cr_expect_eq(alarms, 1, "the timer signal did not fire");
	cr_expect_eq(n, -ETIMEDOUT, "%s: receive interrupted by a signal: %zd", fx->name, n);
	cr_expect_geq(el, 149.0, "%s: a signal cut the wait to %.1f ms", fx->name, el);

	kill(pid, SIGKILL);
	wait_child(pid);
	close_all(&s);
}

static void case_sender_exit(const struct fixture *fx)
{
	if (!fx->sender_exit_seen) {
		cr_skip_test("%s: the receiver does not see a sender leave (%s)",
		             fx->name, fx->kind == MAILBOX ? "mailbox semantics" : "");
	}
	struct session s;
	open_rx(&s, fx, NULL);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *tx = child_tx(&s);
		ssize_t n = ipk_send(tx, "bye", 3, 5000);
		_exit(n == 3 ? 0 : 4); /* exit without closing */
	}
	parent_rx(&s);
	cr_assert_eq(wait_child(pid), 0);
	unsigned char buf[16];
	ssize_t n = ipk_recv(s.rx, buf, sizeof buf, 5000);
	cr_assert_eq(n, 3, "%s: last message before exit: %zd (%s)", fx->name, n,
	             n < 0 ? ipk_last_error() : "");
	n = ipk_recv(s.rx, buf, sizeof buf, 5000);
	cr_assert_eq(n, -EPIPE, "%s: after the sender exited: %zd (%s)", fx->name,
	             n, ipk_last_error());
	close_all(&s);
}

static void case_receiver_exit(const struct fixture *fx)
{
	if (!fx->receiver_exit_seen)
		cr_skip_test("%s: the sender cannot see a receiver leave", fx->name);
	struct session s;
	open_rx(&s, fx, NULL);
	int go[2], dialed[2];
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(dialed), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(go[1]);
		close(dialed[0]);
		ipk_chan *tx = child_tx(&s);
		close(dialed[1]);
		char b;
		if (read(go[0], &b, 1) != 0) /* parent closes it when it has gone */
			_exit(6);
		unsigned char buf[4096] = {0};
		for (int i = 0; i < 10000; i++) {
			ssize_t n = ipk_send(tx, buf, sizeof buf, 2000);
			if (n == -EPIPE)
				_exit(0);
			if (n < 0) {
				fprintf(stderr, "child: expected -EPIPE, got %s\n",
				            ipk_last_error());
				_exit(4);
			}
		}
		_exit(5);
	}
	close(go[0]);
	close(dialed[1]);
	parent_rx(&s);
	char b;
	cr_assert_eq(read(dialed[0], &b, 1), 0);
	close(dialed[0]);
	close_all(&s);
	close(go[1]);
	cr_assert_eq(wait_child(pid), 0,
	             "%s: sender did not get -EPIPE after the receiver left", fx->name);
}

static void case_oversize(const struct fixture *fx)
{
	/* the sender refuses what exceeds its own limit before sending */
	struct session s;
	open_rx(&s, fx, "maxmsg=1024");
	if (fx->kind == PAIRED) {
		static char big[2048];
		cr_expect_eq(ipk_send(s.tx, big, sizeof big, 1000), -EMSGSIZE);
		cr_expect_eq(ipk_send(s.tx, big, 1024, 1000), 1024);
	}
	if (!fx->limit_enforced) {
		close_all(&s);
		return;
	}
	/* a peer with a larger limit sends 4 KiB: refused by the receiver, which
	   allocates nothing of that size */
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *tx = child_tx(&s);
		static char big[4096];
		ssize_t n = ipk_send(tx, big, sizeof big, 2000);
		_exit(n == sizeof big || n == -EPIPE || n == -EMSGSIZE ? 0 : 4);
	}
	parent_rx(&s);
	void *got = NULL;
	ssize_t n = ipk_recv_alloc(s.rx, &got, NULL, 5000);
	cr_expect_eq(n, -EMSGSIZE, "%s: oversize message gave %zd (%s)",
	             fx->name, n, n < 0 ? ipk_last_error() : "");
	cr_expect_null(got);
	free(got);
	wait_child(pid);
	close_all(&s);
}

static void case_cleanup(const struct fixture *fx)
{
	struct session s;
	open_rx(&s, fx, NULL);
	char listen[512];
	snprintf(listen, sizeof listen, "%s", s.listen);
	close_all(&s);
	if (!fx->named)
		return;
	/* the owner removed its object: nothing is left to remove */
	int rc = ipk_remove(listen);
	cr_expect_eq(rc, -ENOENT, "%s: %s still exists after close (%d: %s)",
	             fx->name, listen, rc, ipk_last_error());
	/* and the address can be listened on again at once */
	ipk_chan *again = NULL;
	rc = ipk_listen(&again, listen);
	cr_expect_eq(rc, 0, "%s: listen again on %s: %s", fx->name, listen,
	             ipk_last_error());
	cr_expect_eq(ipk_close(again), 0);
	cr_expect_eq(ipk_remove(listen), -ENOENT);
}

static void case_echo(const struct fixture *fx)
{
	if (fx->kind == MAILBOX)
		cr_skip_test("%s: one-way mechanism between these roles", fx->name);
	struct session s;
	open_rx(&s, fx, NULL);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *tx = child_tx(&s);
		for (int i = 0; i < 100; i++) {
			char q[32], a[32];
			int len = snprintf(q, sizeof q, "ping %d", i);
			if (ipk_send(tx, q, (size_t)len, 5000) != len)
				_exit(4);
			ssize_t n = ipk_recv(tx, a, sizeof a, 5000);
			if (n != len || memcmp(a, "pong", 4) || memcmp(a + 4, q + 4, (size_t)len - 4))
				_exit(5);
		}
		_exit(ipk_close(tx) == 0 ? 0 : 6);
	}
	parent_rx(&s);
	for (int i = 0; i < 100; i++) {
		char q[32];
		ssize_t n = ipk_recv(s.rx, q, sizeof q, 5000);
		cr_assert_gt(n, 4, "%s: ping %d: %s", fx->name, i, ipk_last_error());
		memcpy(q, "pong", 4);
		cr_assert_eq(ipk_send(s.rx, q, (size_t)n, 5000), n);
	}
	cr_assert_eq(wait_child(pid), 0);
	close_all(&s);
}

#define CONFORMANCE(fx)                                                      \
	Test(fx, sizes, .timeout = 120) { case_sizes(&fx_##fx); }             \
	Test(fx, order, .timeout = 120) { case_order(&fx_##fx); }             \
	Test(fx, timeouts, .timeout = 60) { case_timeouts(&fx_##fx); }        \
	Test(fx, sender_exit, .timeout = 60) { case_sender_exit(&fx_##fx); }  \
	Test(fx, receiver_exit, .timeout = 60) { case_receiver_exit(&fx_##fx); } \
	Test(fx, oversize, .timeout = 60) { case_oversize(&fx_##fx); }        \
	Test(fx, cleanup, .timeout = 60) { case_cleanup(&fx_##fx); }          \
	Test(fx, echo, .timeout = 60) { case_echo(&fx_##fx); }

CONFORMANCE(pipe)
CONFORMANCE(fifo)
CONFORMANCE(unix)
CONFORMANCE(unix_abstract)
CONFORMANCE(tcp4)
CONFORMANCE(tcp6)
CONFORMANCE(unixgram)
/* queues and signals */
CONFORMANCE(sysvmq)
CONFORMANCE(mq)
CONFORMANCE(signal)

/* shared-memory rings */
CONFORMANCE(shm)
CONFORMANCE(shm_mpmc)
CONFORMANCE(sysvshm)
CONFORMANCE(mmap)
CONFORMANCE(shm_pair)
