/*
 * A server killed (SIGKILL) while a requester waits for its reply, and
 * started again at the same address after a while: the requester finds it
 * and gets its reply within its own timeout, both when it blocks in one
 * receive and when it polls (receives with timeout 0 between ipk_poll()
 * calls, as an event loop and `ipckit req` do). The same for a dialing
 * subscriber whose publisher is killed and restarted on unix: and tcp:.
 * docs/patterns.md "Resend and restarts", docs/pubsub.md "Sockets".
 */
#include "proto_util.h"

#include <criterion/parameterized.h>
#include <poll.h>

static void leak_check(void)
{
	pt_leak_check();
}

TestSuite(restart, .fini = leak_check, .timeout = 120);

/* How long the server stays away: longer than the resend interval, so the
   requester's redials and resends meet no server first. */
#define AWAY_MS 900
#define RESEND_MS 300

struct outcome {
	ssize_t n;
	char got[64];
	char why[400];
};

enum { BLOCKING, POLLING, CACHED_FD };
static const char *const mode_names[] = {"blocking", "polling",
                                         "polling a cached fd"};

/* Wait for one reply (or message) on c until timeout_ms: one blocking
   receive; or receives with timeout 0 between ipk_poll() calls; or
   between poll()s of the fd ipk_fd() gave once, as an event loop that
   registers it once does. */
static ssize_t await(ipk_chan *c, char *buf, size_t cap, int timeout_ms,
                     int mode)
{
	if (mode == BLOCKING)
		return ipk_recv(c, buf, cap, timeout_ms);
	int64_t end = ipkt_now_ms() + timeout_ms;
	int fd = mode == CACHED_FD ? ipk_fd(c) : -1;
	if (mode == CACHED_FD && fd < 0)
		return fd;
	for (;;) {
		ssize_t n = ipk_recv(c, buf, cap, 0);
		if (n != -EAGAIN)
			return n;
		int64_t left = end - ipkt_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		/* a long poll: the socket's fd must wake us when a redial or a
		   resend is due */
		int rc;
		if (mode == CACHED_FD) {
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			rc = poll(&pf, 1, (int)left);
		} else {
			ipk_pollitem it = {.chan = c, .events = IPK_POLLIN};
			rc = ipk_poll(&it, 1, (int)left);
		}
		if (rc < 0)
			return rc;
	}
}

struct rcase {
	int scheme; /* index in rr_schemes */
	int mode;
};

ParameterizedTestParameters(restart, req)
{
	static struct rcase v[3 * PT_NSCHEMES];
	for (int i = 0; i < 3 * PT_NSCHEMES; i++)
		v[i] = (struct rcase){i / 3, i % 3};
	return cr_make_param_array(struct rcase, v, 3 * PT_NSCHEMES);
}

ParameterizedTest(struct rcase *rc, restart, req)
{
	const char *scheme = rr_schemes[rc->scheme];
	const char *mode = mode_names[rc->mode];
	char url[512], addr[512], again[512], dial[600];
	pt_address(scheme, url, sizeof url);
	/* the first server takes requests and never answers */
	pid_t srv = pt_server_start(url, (struct pt_server){.drop = 1 << 30},
	                            addr, sizeof addr);
	/* the second listens where the first did (tcp: on its port) */
	snprintf(again, sizeof again, "%.*s?%s", (int)strcspn(addr, "?"), addr,
	         strchr(url, '?') + 1);
	snprintf(dial, sizeof dial, "%s&resend=%d", addr, RESEND_MS);
	int sent[2];
	cr_assert_eq(pipe(sent), 0);
	struct outcome *out = ipkt_shared(sizeof *out);
	pid_t cl = pt_fork();
	if (cl == 0) {
		ipk_chan *c;
		if (ipk_dial(&c, dial, 10000) < 0 || ipk_send(c, "r1", 2, 10000) != 2)
			_exit(3);
		if (write(sent[1], "s", 1) != 1)
			_exit(4);
		out->n = await(c, out->got, sizeof out->got - 1, 30000, rc->mode);
		if (out->n < 0)
			snprintf(out->why, sizeof out->why, "%s", ipk_last_error());
		ipk_close(c);
		_exit(out->n == 5 && memcmp(out->got, "re:r1", 5) == 0 ? 0 : 2);
	}
	ipkt_await(sent[0]);
	close(sent[0]);
	close(sent[1]);
	usleep(200 * 1000); /* let the first server take the request */
	kill(srv, SIGKILL);
	cr_expect_eq(ipkt_wait_child(srv), 128 + SIGKILL);
	usleep(AWAY_MS * 1000);
	char addr2[512];
	srv = pt_server_start(again, (struct pt_server){0}, addr2, sizeof addr2);
	int st = ipkt_wait_child(cl);
	cr_expect_eq(st, 0, "%s %s: the requester got %zd '%.*s' (%s)", scheme,
	             mode, out->n, out->n > 0 ? (int)out->n : 0, out->got,
	             out->why);
	cr_expect_eq(pt_server_stop(addr2, srv), 0);
	/* the second server took over the first one's mailbox with the
	   client's resends perhaps unread in it: a listener keeps such a
	   mailbox (docs/queues.md), so it is removed as a user would */
	if (strcmp(scheme, "unix") != 0 && strcmp(scheme, "tcp") != 0 &&
	    strcmp(scheme, "unixgram") != 0) {
		int rr = ipk_remove(addr2);
		cr_expect(rr == 0 || rr == -ENOENT, "removing %s: %s", addr2,
		          ipk_strerror(rr));
	}
}

/* A publisher on url sending `word` every 10 ms until killed; the address
   subscribers dial in addr. */
static pid_t publisher(const char *url, const char *word, char *addr,
                       size_t cap)
{
	ipk_chan *p;
	pid_t pid = pt_fork_listener("publisher", url, &p, addr, cap);
	if (pid == 0) {
		for (;;) {
			(void)ipk_send(p, word, strlen(word), 100);
			usleep(10 * 1000);
		}
	}
	return pid;
}

ParameterizedTestParameters(restart, sub)
{
	static struct rcase v[6];
	for (int i = 0; i < 6; i++) /* unix, tcp */
		v[i] = (struct rcase){i / 3, i % 3};
	return cr_make_param_array(struct rcase, v, 6);
}

ParameterizedTest(struct rcase *rc, restart, sub)
{
	const char *scheme = rr_schemes[rc->scheme]; /* unix, tcp */
	const char *mode = mode_names[rc->mode];
	char url[512], addr[512], again[512];
	pt_address(scheme, url, sizeof url);
	char purl[600];
	snprintf(purl, sizeof purl, "%sproto=pub", url);
	pid_t pub = publisher(purl, "one", addr, sizeof addr);
	snprintf(again, sizeof again, "%.*s?proto=pub", (int)strcspn(addr, "?"),
	         addr);
	int got1[2];
	cr_assert_eq(pipe(got1), 0);
	struct outcome *out = ipkt_shared(sizeof *out);
	pid_t cl = pt_fork();
	if (cl == 0) {
		ipk_chan *s;
		if (ipk_dial(&s, addr, 10000) < 0 || ipk_subscribe(s, "", 0) < 0)
			_exit(3);
		out->n = await(s, out->got, sizeof out->got - 1, 10000, rc->mode);
		if (out->n != 3 || write(got1[1], "g", 1) != 1)
			_exit(4);
		/* the first publisher's messages until it is gone, then the
		   second's */
		int64_t end = ipkt_now_ms() + 30000;
		do {
			int left = (int)(end - ipkt_now_ms());
			out->n = await(s, out->got, sizeof out->got - 1,
			               left > 0 ? left : 0, rc->mode);
		} while (out->n == 3 && memcmp(out->got, "one", 3) == 0);
		if (out->n < 0)
			snprintf(out->why, sizeof out->why, "%s", ipk_last_error());
		ipk_close(s);
		_exit(out->n == 3 && memcmp(out->got, "two", 3) == 0 ? 0 : 2);
	}
	ipkt_await(got1[0]);
	close(got1[0]);
	close(got1[1]);
	kill(pub, SIGKILL);
	cr_expect_eq(ipkt_wait_child(pub), 128 + SIGKILL);
	usleep(AWAY_MS * 1000);
	char addr2[512];
	pub = publisher(again, "two", addr2, sizeof addr2);
	int st = ipkt_wait_child(cl);
	cr_expect_eq(st, 0, "%s %s: the subscriber got %zd '%.*s' (%s)", scheme,
	             mode, out->n, out->n > 0 ? (int)out->n : 0, out->got,
	             out->why);
	kill(pub, SIGKILL);
	ipkt_wait_child(pub);
	if (strcmp(scheme, "unix") == 0) { /* the killed publisher's socket */
		char path[512];
		snprintf(path, sizeof path, "%.*s", (int)strcspn(addr + 5, "?"),
		         addr + 5);
		unlink(path);
	}
}
