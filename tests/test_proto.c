/*
 * Messaging patterns over every transport that carries them: REQ/REP with
 * replies in any order to the right client, status, resend, cancel by
 * timeout; PUSH/PULL; and the clear refusals where a pattern cannot work.
 */
#include "proto_util.h"
#include "core/owner.h"
#include "proto/proto.h"

#include <criterion/parameterized.h>
#include <dirent.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/un.h>

static void leak_check(void)
{
	pt_leak_check();
}

TestSuite(proto, .fini = leak_check, .timeout = 120);

/* A REP server on a fresh address of scheme; its URL in full. */
static ipk_chan *rep_on(const char *scheme, char *full, size_t cap)
{
	char url[512];
	pt_address(scheme, url, sizeof url);
	snprintf(full, cap, "%sproto=rep", url);
	return ipkt_listen_ok(full);
}

ParameterizedTestParameters(proto, reqrep)
{
	static int idx[PT_NSCHEMES];
	for (int i = 0; i < PT_NSCHEMES; i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, PT_NSCHEMES);
}

/* Three clients at once against a server that gathers requests and
   replies to them last first: every client gets its own replies, with the
   server's status; then the server quits and nothing is left. */
ParameterizedTest(int *i, proto, reqrep)
{
	const char *scheme = rr_schemes[*i];
	char url[512], addr[512];
	pt_address(scheme, url, sizeof url);
	struct pt_server o = {.batch = 3, .status = 42};
	pid_t srv = pt_server_start(url, o, addr, sizeof addr);
	cr_expect(strstr(addr, "proto=req") != NULL, "address %s", addr);
	int bad = pt_clients(addr, 3, 40, 16, 42);
	cr_expect_eq(bad, 0, "%s: %d replies wrong or missing", scheme, bad);
	cr_expect_eq(pt_server_stop(addr, srv), 0, "%s: server", scheme);
}

ParameterizedTestParameters(proto, resend)
{
	static int idx[PT_NSCHEMES];
	for (int i = 0; i < PT_NSCHEMES; i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, PT_NSCHEMES);
}

/* A server that loses the first two requests: the client's resend
   (?resend=150) gets the request through. */
ParameterizedTest(int *i, proto, resend)
{
	const char *scheme = rr_schemes[*i];
	char url[512], addr[512], dial[600];
	pt_address(scheme, url, sizeof url);
	struct pt_server o = {.drop = 2};
	pid_t srv = pt_server_start(url, o, addr, sizeof addr);
	snprintf(dial, sizeof dial, "%s&resend=150", addr);
	ipk_chan *c = ipkt_dial_ok(dial);
	cr_assert_eq(ipk_send(c, "once", 4, 5000), 4);
	char buf[32];
	int64_t t0 = ipkt_now_ms();
	ssize_t n = ipk_recv(c, buf, sizeof buf, 10000);
	cr_expect_eq(n, 7, "%s: %s", scheme, ipk_last_error());
	cr_expect(n == 7 && memcmp(buf, "re:once", 7) == 0);
	cr_expect_geq(ipkt_now_ms() - t0, 250, "answered before two resends");
	ipk_close(c);
	cr_expect_eq(pt_server_stop(addr, srv), 0);
}

/* Errors a user can make, and what they are told. */
Test(proto, refusals)
{
	ipk_chan *c = NULL;
	char url[512];
	snprintf(url, sizeof url, "signal:self?proto=rep");
	cr_expect_eq(ipk_listen(&c, url), -EPROTONOSUPPORT);
	cr_expect(strstr(ipk_last_error(), "8 bytes") != NULL, "%s",
	          ipk_last_error());
	snprintf(url, sizeof url, "fifo:%s?proto=req", ipkt_path("x"));
	cr_expect_eq(ipk_listen(&c, url), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "dial with ?proto=req") != NULL, "%s",
	          ipk_last_error());
	snprintf(url, sizeof url, "mq:%s?proto=rep", ipkt_name("x"));
	cr_expect_eq(ipk_dial(&c, url, 0), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "listen with ?proto=rep") != NULL, "%s",
	          ipk_last_error());
	snprintf(url, sizeof url, "unix:%s?proto=rep&raw", ipkt_path("x"));
	cr_expect_eq(ipk_listen(&c, url), -EINVAL);
	snprintf(url, sizeof url, "unix:%s?proto=bogus", ipkt_path("x"));
	cr_expect_eq(ipk_listen(&c, url), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "req") != NULL, "%s", ipk_last_error());
	snprintf(url, sizeof url, "unix:%s?proto=rep&resend=10", ipkt_path("x"));
	cr_expect_eq(ipk_listen(&c, url), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "resend") != NULL, "%s",
	          ipk_last_error());
	snprintf(url, sizeof url, "unix:%s?resend=10", ipkt_path("x"));
	cr_expect_eq(ipk_listen(&c, url), -EINVAL, "resend on a PAIR channel");
	ipk_chan *a, *b;
	cr_expect_eq(ipk_pair("unix:?proto=req", &a, &b), -EINVAL);
	cr_expect_eq(ipk_pair("pipe:?proto=push", &a, &b), -EPROTONOSUPPORT);
	snprintf(url, sizeof url, "sysvshm:0x%08x?proto=rep", 0x5a000000 | getpid());
	cr_expect_eq(ipk_listen(&c, url), -EPROTONOSUPPORT);
	cr_expect(strstr(ipk_last_error(), "use shm:") != NULL, "%s",
	          ipk_last_error());
	/* a REP ring takes every client's requests side by side: it was
	   silently an SPSC ring with ?mpmc=0 (the added ?mpmc came second) */
	snprintf(url, sizeof url, "shm:%s?proto=rep&mpmc=0", ipkt_name("x"));
	cr_expect_eq(ipk_listen(&c, url), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "drop ?mpmc=0") != NULL, "%s",
	          ipk_last_error());
	cr_expect_null(c);
}

/* A socket is not a listener; each side only does what its pattern does. */
Test(proto, socket_calls)
{
	char url[512], addr[512];
	snprintf(url, sizeof url, "unix:%s?proto=rep", ipkt_path("calls"));
	ipk_chan *rep = ipkt_listen_ok(url);
	ipk_chan *x = NULL;
	cr_expect_eq(ipk_accept(rep, &x, 0), -EOPNOTSUPP);
	cr_expect(strstr(ipk_last_error(), "accepts its connections itself"));
	cr_expect_eq(ipk_send(rep, "x", 1, 0), -EINVAL, "a reply with no request");
	char buf[16];
	cr_expect_eq(ipk_recv(rep, buf, sizeof buf, 0), -EAGAIN);
	cr_assert_gt(ipk_address(rep, addr, sizeof addr), 0);
	cr_expect(strstr(addr, "?proto=req") != NULL, "%s", addr);
	cr_expect_geq(ipk_fd(rep), 0);
	ipk_close(rep);

	snprintf(url, sizeof url, "unix:%s?proto=pull", ipkt_path("calls"));
	ipk_chan *pull = ipkt_listen_ok(url);
	cr_expect_eq(ipk_send(pull, "x", 1, 0), -EOPNOTSUPP);
	cr_expect(strstr(ipk_last_error(), "only receives"), "%s", ipk_last_error());
	ipk_close(pull);
	snprintf(url, sizeof url, "unix:%s?proto=push", ipkt_path("calls"));
	ipk_chan *push = ipkt_listen_ok(url);
	cr_expect_eq(ipk_recv(push, buf, sizeof buf, 0), -EOPNOTSUPP);
	cr_expect(strstr(ipk_last_error(), "only sends"), "%s", ipk_last_error());
	cr_expect_eq(ipk_send(push, "x", 1, 0), -EAGAIN, "no puller yet");
	ipk_close(push);
}

/* REQ: a receive with nothing asked is an error; a timeout cancels the
   request, so its late reply is never taken for the next one's. */
Test(proto, req_cancel_by_timeout)
{
	char url[512], addr[512];
	snprintf(url, sizeof url, "unix:%s?", ipkt_path("cancel"));
	struct pt_server o = {.delay_ms = 400};
	pid_t srv = pt_server_start(url, o, addr, sizeof addr);
	ipk_chan *c = ipkt_dial_ok(addr);
	char buf[64];
	cr_expect_eq(ipk_recv(c, buf, sizeof buf, 0), -EINVAL);
	cr_assert_eq(ipk_send(c, "slow", 4, 5000), 4);
	cr_expect_eq(ipk_recv(c, buf, sizeof buf, 0), -EAGAIN, "still waiting");
	cr_expect_eq(ipk_recv(c, buf, sizeof buf, 100), -ETIMEDOUT);
	cr_expect_eq(ipk_recv(c, buf, sizeof buf, 0), -EINVAL, "cancelled");
	cr_assert_eq(ipk_send(c, "next", 4, 5000), 4);
	ssize_t n = ipk_recv(c, buf, sizeof buf, 10000);
	cr_expect_eq(n, 7, "%zd %s", n, ipk_last_error());
	cr_expect(n == 7 && memcmp(buf, "re:next", 7) == 0, "got '%.*s'",
	          n > 0 ? (int)n : 0, buf);
	ipk_close(c);
	cr_expect_eq(pt_server_stop(addr, srv), 0);
}

/* A hand-made SP REP over a unix socket: a reply with a wrong ID is
   dropped, the right one is taken; ipckit's REQ puts its status hop
   before the ID, and a peer that echoes it gives status -1. */
Test(proto, req_drops_unmatched_replies)
{
	const char *path = ipkt_path("fake");
	char url[512];
	snprintf(url, sizeof url, "unix:%s?proto=req", path);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	cr_assert_eq(bind(l, (struct sockaddr *)&sun, sizeof sun), 0);
	cr_assert_eq(listen(l, 4), 0);
	pid_t pid = pt_fork();
	if (pid == 0) {
		int fd = accept(l, NULL, NULL);
		static const unsigned char hdr[8] = {0, 'S', 'P', 0, 0, 0x31, 0, 0};
		unsigned char theirs[8], req[64];
		if (write(fd, hdr, 8) != 8 || read(fd, theirs, 8) != 8 ||
		    theirs[5] != 0x30)
			_exit(2);
		/* 01, 8-byte length, then the backtrace and "ask" */
		if (read(fd, req, 9) != 9 || req[8] != 11 || read(fd, req, 11) != 11)
			_exit(3);
		if (memcmp(req + 8, "ask", 3) != 0 || req[0] & 0x80 || !(req[4] & 0x80))
			_exit(4);
		unsigned char wrong[9 + 11], right[9 + 13];
		memcpy(wrong, "\1\0\0\0\0\0\0\0\13", 9);
		memcpy(wrong + 9, req, 8);
		wrong[9 + 7] ^= 1; /* another request ID */
		memcpy(wrong + 17, "bad", 3);
		memcpy(right, "\1\0\0\0\0\0\0\0\15", 9);
		memcpy(right + 9, req, 8);
		memcpy(right + 17, "good!", 5);
		if (write(fd, wrong, sizeof wrong) != sizeof wrong ||
		    write(fd, right, sizeof right) != sizeof right)
			_exit(5);
		char b;
		_exit(read(fd, &b, 1) == 0 ? 0 : 6);
	}
	close(l);
	ipk_chan *c = ipkt_dial_ok(url);
	cr_assert_eq(ipk_send(c, "ask", 3, 5000), 3);
	char buf[16];
	ipk_msginfo mi = {0};
	ssize_t n = ipk_recvmsg(c, buf, sizeof buf, &mi, 5000);
	cr_expect_eq(n, 5, "%zd %s", n, ipk_last_error());
	cr_expect(n == 5 && memcmp(buf, "good!", 5) == 0);
	cr_expect_eq(mi.status, -1, "an echoed status hop is no status");
	ipk_close(c);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	unlink(path);
}

/* A child that dials addr as a REQ, asks "q" once and exits 0 if the
   reply is "ok" (within 10 s), 1 otherwise. */
static pid_t ask_for_ok(const char *addr)
{
	pid_t pid = pt_fork();
	if (pid == 0) {
		ipk_chan *c;
		char b[8];
		_exit(ipk_dial(&c, addr, 5000) == 0 && ipk_send(c, "q", 1, 5000) == 1 &&
		              ipk_recv(c, b, sizeof b, 10000) == 2 &&
		              memcmp(b, "ok", 2) == 0
		              ? 0 : 1);
	}
	return pid;
}

/* REP: a route is only good on the channel that made it. */
Test(proto, rep_routes_belong_to_their_channel)
{
	char u1[512], u2[512], addr[512];
	snprintf(u1, sizeof u1, "unix:%s?proto=rep", ipkt_path("r1"));
	snprintf(u2, sizeof u2, "unix:%s?proto=rep", ipkt_path("r2"));
	ipk_chan *r1 = ipkt_listen_ok(u1), *r2 = ipkt_listen_ok(u2);
	cr_assert_gt(ipk_address(r1, addr, sizeof addr), 0);
	pid_t pid = ask_for_ok(addr);
	char buf[8];
	ipk_msginfo mi = {0};
	cr_assert_eq(ipk_recvmsg(r1, buf, sizeof buf, &mi, 5000), 1);
	cr_expect_eq(ipk_sendmsg(r2, "no", 2, &mi, 1000), -EINVAL);
	cr_expect_eq(ipk_sendmsg(r1, "ok", 2, &mi, 1000), 2);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	ipk_close(r1);
	ipk_close(r2);
}

/* REP: a route whose header length was tampered with is refused, not
   sent as a broken reply or copied past its header; the route as the
   receive gave it still works. */
Test(proto, rep_refuses_a_tampered_route)
{
	char url[512], full[600], addr[600];
	pt_address("shm", url, sizeof url);
	snprintf(full, sizeof full, "%s%sproto=rep", url,
	         strchr(url, '?') ? "&" : "?");
	ipk_chan *rep = ipkt_listen_ok(full);
	cr_assert_gt(ipk_address(rep, addr, sizeof addr), 0);
	pid_t pid = ask_for_ok(addr);
	char buf[8];
	ipk_msginfo mi = {0};
	cr_assert_eq(ipk_recvmsg(rep, buf, sizeof buf, &mi, 5000), 1);
	struct ipk__route *rt = (struct ipk__route *)&mi.route;
	uint32_t len = rt->len;
	cr_expect_eq(len % 4, 0);
	rt->len = len - 2; /* not whole words: no SP header */
	cr_expect_eq(ipk_sendmsg(rep, "no", 2, &mi, 1000), -EINVAL);
	rt->len = sizeof rt->hdr + 4; /* past the header's room */
	cr_expect_eq(ipk_sendmsg(rep, "no", 2, &mi, 1000), -EINVAL);
	rt->len = len;
	cr_expect_eq(ipk_sendmsg(rep, "ok", 2, &mi, 1000), 2);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	ipk_close(rep);
}

/* REP on a ring writes a reply straight into the client's reply ring: one
   that has no room for it within the time limit is refused with a clear
   error, nothing half-written is left, and the client then reads the
   replies that did fit, whole. */
Test(proto, rep_reply_ring_full)
{
	char url[512], addr[600];
	snprintf(url, sizeof url, "shm:%s?size=16K&proto=rep", ipkt_name("rf"));
	ipk_chan *rep = ipkt_listen_ok(url);
	cr_assert_gt(ipk_address(rep, addr, sizeof addr), 0);
	int go[2];
	cr_assert_eq(pipe(go), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *c;
		char b[1024], x;
		if (ipk_dial(&c, addr, 5000) < 0 || ipk_send(c, "q", 1, 5000) != 1 ||
		    read(go[0], &x, 1) != 1)
			_exit(1);
		ssize_t n = ipk_recv(c, b, sizeof b, 10000);
		_exit(n == 1000 && b[0] == 'A' && b[999] == 'A' ? 0 : 2);
	}
	char buf[8], big[1000];
	ipk_msginfo mi = {0};
	cr_assert_eq(ipk_recvmsg(rep, buf, sizeof buf, &mi, 5000), 1);
	int sent = 0;
	ssize_t n = 0;
	for (; sent < 100; sent++) {
		memset(big, 'A' + sent % 26, sizeof big);
		n = ipk_sendmsg(rep, big, sizeof big, &mi, 200);
		if (n != (ssize_t)sizeof big)
			break;
	}
	cr_expect_gt(sent, 0);
	cr_expect_lt(sent, 100, "a 16 KiB ring took 100 replies of 1000 bytes");
	cr_expect_eq(n, -ETIMEDOUT, "%zd %s", n, ipk_last_error());
	cr_expect(strstr(ipk_last_error(), "did not take the reply") != NULL,
	          "%s", ipk_last_error());
	cr_assert_eq(write(go[1], "g", 1), 1);
	cr_expect_eq(ipkt_wait_child(pid), 0);
	close(go[0]);
	close(go[1]);
	ipk_close(rep);
}

/* ------------------------------------------------------------ pipeline */

ParameterizedTestParameters(proto, pipeline)
{
	static int idx[8];
	for (int i = 0; i < 8; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, 8);
}

/* Two pushers, one puller: every message arrives once. */
ParameterizedTest(int *i, proto, pipeline)
{
	static const char *const schemes[] = {"unix", "tcp", "unixgram", "sysvmq",
	                                      "mq", "fifo", "shm", "mmap"};
	const char *scheme = schemes[*i];
	char url[512], full[600], addr[600];
	pt_address(scheme, url, sizeof url);
	/* a ring wants ?mpmc for two pushers */
	bool mpsc = strcmp(scheme, "shm") == 0 || strcmp(scheme, "mmap") == 0;
	snprintf(full, sizeof full, "%s%sproto=pull", url, mpsc ? "mpmc&" : "");
	ipk_chan *pull = ipkt_listen_ok(full);
	cr_assert_gt(ipk_address(pull, addr, sizeof addr), 0);
	enum { PER = 50 };
	pid_t p[2];
	for (int k = 0; k < 2; k++) {
		p[k] = pt_fork();
		if (p[k] == 0) {
			ipk_chan *push;
			if (ipk_dial(&push, addr, 5000) < 0) {
				fprintf(stderr, "push dial %s: %s\n", addr, ipk_last_error());
				_exit(1);
			}
			for (int j = 0; j < PER; j++) {
				char m[16];
				int n = snprintf(m, sizeof m, "%d:%d", k, j);
				if (ipk_send(push, m, (size_t)n, 5000) != n)
					_exit(2);
			}
			ipk_close(push);
			_exit(0);
		}
	}
	bool seen[2][PER] = {{false}};
	for (int j = 0; j < 2 * PER; j++) {
		char m[16] = {0};
		ssize_t n = ipk_recv(pull, m, sizeof m - 1, 10000);
		cr_assert_gt(n, 0, "%s: message %d: %s", scheme, j, ipk_last_error());
		int k, s;
		cr_assert_eq(sscanf(m, "%d:%d", &k, &s), 2, "%s", m);
		cr_assert(k >= 0 && k < 2 && s >= 0 && s < PER);
		cr_expect(!seen[k][s], "%s delivered twice", m);
		seen[k][s] = true;
	}
	cr_expect_eq(ipkt_wait_child(p[0]), 0);
	cr_expect_eq(ipkt_wait_child(p[1]), 0);
	ipk_close(pull);
}

/* One pusher, two pullers on a socket: round-robin, each message once,
   both pullers get work. */
static void push_round_robin(const char *url)
{
	ipk_chan *push = ipkt_listen_ok(url);
	char addr[512];
	cr_assert_gt(ipk_address(push, addr, sizeof addr), 0);
	int *got = ipkt_shared(2 * 100 * sizeof(int));
	pid_t p[2];
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	for (int k = 0; k < 2; k++) {
		p[k] = pt_fork();
		if (p[k] == 0) {
			ipk_chan *pull;
			if (ipk_dial(&pull, addr, 5000) < 0)
				_exit(1);
			for (bool told = false;;) {
				char m[16] = {0};
				ssize_t n = ipk_recv(pull, m, sizeof m - 1, 3000);
				if (n <= 0)
					break;
				/* the pusher has us: it sent us something */
				if (!told && write(ready[1], "r", 1) != 1)
					_exit(1);
				told = true;
				int v = atoi(m);
				if (v >= 0 && v < 100)
					got[k * 100 + v]++;
			}
			ipk_close(pull);
			_exit(0);
		}
	}
	/* send fillers the pullers ignore until each has had one: then the
	   pusher has both connections */
	for (int readies = 0; readies < 2;) {
		(void)ipk_send(push, "-1", 2, 0);
		struct pollfd pf = {.fd = ready[0], .events = POLLIN};
		if (poll(&pf, 1, 5) == 1) {
			ipkt_await(ready[0]);
			readies++;
		}
	}
	for (int v = 0; v < 100; v++) {
		char m[16];
		int n = snprintf(m, sizeof m, "%d", v);
		cr_assert_eq(ipk_send(push, m, (size_t)n, 5000), n, "%s",
		             ipk_last_error());
	}
	cr_expect_eq(ipkt_wait_child(p[0]), 0);
	cr_expect_eq(ipkt_wait_child(p[1]), 0);
	int a = 0, b = 0;
	for (int v = 0; v < 100; v++) {
		cr_expect_eq(got[v] + got[100 + v], 1, "message %d delivered %d times",
		             v, got[v] + got[100 + v]);
		a += got[v];
		b += got[100 + v];
	}
	cr_expect(a > 20 && b > 20, "not round-robin: %d and %d", a, b);
	ipk_close(push);
}

Test(proto, push_round_robin_unix)
{
	char url[512];
	snprintf(url, sizeof url, "unix:%s?proto=push", ipkt_path("rr"));
	push_round_robin(url);
}

Test(proto, push_round_robin_tcp)
{
	push_round_robin("tcp://127.0.0.1:0?proto=push");
}

ParameterizedTestParameters(proto, timeouts)
{
	static int idx[PT_NSCHEMES];
	for (int i = 0; i < PT_NSCHEMES; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, PT_NSCHEMES);
}

/* A REP with nothing to receive: timeout 0 is -EAGAIN, a timeout that
   runs out is -ETIMEDOUT, on every transport and however often asked
   (short waits for over two seconds: some end right after the server's
   once-a-second look at its clients). */
ParameterizedTest(int *i, proto, timeouts)
{
	const char *scheme = rr_schemes[*i];
	char full[600];
	ipk_chan *rep = rep_on(scheme, full, sizeof full);
	char buf[16];
	cr_expect_eq(ipk_recv(rep, buf, sizeof buf, 0), -EAGAIN, "%s", scheme);
	int64_t end = ipkt_now_ms() + 2500;
	for (int k = 1; ipkt_now_ms() < end; k++) {
		ssize_t n = ipk_recv(rep, buf, sizeof buf, k % 3 + 1);
		cr_assert_eq(n, -ETIMEDOUT, "%s: try %d: %zd (%s)", scheme, k, n,
		             ipk_last_error());
	}
	ipk_close(rep);
}

/* A server kept busy by one client (it then waits on that connection
   alone) still takes in a second client at once. */
static void busy_server(const char *scheme)
{
	char url[512], addr[512];
	pt_address(scheme, url, sizeof url);
	pid_t srv = pt_server_start(url, (struct pt_server){0}, addr, sizeof addr);
	int *stop = ipkt_shared(sizeof *stop);
	pid_t busy = pt_fork();
	if (busy == 0) {
		ipk_chan *c;
		if (ipk_dial(&c, addr, 5000) < 0)
			_exit(1);
		char b[16];
		while (!__atomic_load_n(stop, __ATOMIC_RELAXED))
			if (ipk_send(c, "x", 1, 5000) != 1 ||
			    ipk_recv(c, b, sizeof b, 5000) != 4)
				_exit(2);
		ipk_close(c);
		_exit(0);
	}
	usleep(100000); /* the first client is in full swing */
	int64_t t0 = ipkt_now_ms();
	ipk_chan *c = ipkt_dial_ok(addr);
	char b[16];
	cr_expect_eq(ipk_send(c, "second", 6, 5000), 6);
	cr_expect_eq(ipk_recv(c, b, sizeof b, 5000), 9, "%s", ipk_last_error());
	int64_t ms = ipkt_now_ms() - t0;
	cr_expect_lt(ms, 1000, "%s: a second client waited %lld ms", scheme,
	             (long long)ms);
	ipk_close(c);
	__atomic_store_n(stop, 1, __ATOMIC_RELAXED);
	cr_expect_eq(ipkt_wait_child(busy), 0);
	cr_expect_eq(pt_server_stop(addr, srv), 0);
}

Test(proto, busy_server_takes_a_second_client_unix)
{
	busy_server("unix");
}

Test(proto, busy_server_takes_a_second_client_tcp)
{
	busy_server("tcp");
}

/* ------------------------------------------------------- rings in place */

/* On rings a request or reply is read where it lies, and what was
   delivered is given back on the next receive: the space comes back (a
   small ring carries many times its size), a poll after a delivery does
   not see the delivered message as a new one, and a poll that comes
   between does not lose the next one. */
Test(proto, rings_give_back_what_was_read)
{
	char url[512], addr[512];
	snprintf(url, sizeof url, "shm:%s?size=16K&proto=rep", ipkt_name("gb"));
	ipk_chan *srv = ipkt_listen_ok(url);
	cr_assert_gt(ipk_address(srv, addr, sizeof addr), 0);
	ipk_chan *cli = ipkt_dial_ok(addr);
	char req[200], buf[256];
	memset(req, 'q', sizeof req);
	for (int i = 0; i < 400; i++) { /* 400 x 200 B through 16 KiB rings */
		snprintf(req, sizeof req, "%d", i);
		cr_assert_eq(ipk_send(cli, req, sizeof req, 2000), (ssize_t)sizeof req,
		             "request %d: %s", i, ipk_last_error());
		cr_assert_eq(ipk_recv(srv, buf, sizeof buf, 2000), (ssize_t)sizeof req,
		             "request %d: %s", i, ipk_last_error());
		cr_assert_str_eq(buf, req);
		cr_assert_eq(ipk_send(srv, buf, 100, 2000), 100);
		cr_assert_eq(ipk_recv(cli, buf, sizeof buf, 2000), 100,
		             "reply %d: %s", i, ipk_last_error());
		cr_assert_str_eq(buf, req);
	}
	/* now with polls: nothing is waiting after a delivery */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(ipk_send(cli, "ping", 4, 2000), 4);
		ipk_pollitem it = {.chan = srv, .events = IPK_POLLIN};
		cr_assert_eq(ipk_poll(&it, 1, 5000), 1, "%s", ipk_last_error());
		cr_assert_eq(ipk_recv(srv, buf, sizeof buf, 0), 4, "%s",
		             ipk_last_error());
		it.revents = 0;
		cr_expect_eq(ipk_poll(&it, 1, 0), 0, "a delivered request polls as "
		                                    "a new one");
		cr_assert_eq(ipk_recv(srv, buf, sizeof buf, 0), -EAGAIN);
		cr_assert_eq(ipk_send(srv, "pong", 4, 2000), 4);
		ipk_pollitem ci = {.chan = cli, .events = IPK_POLLIN};
		cr_assert_eq(ipk_poll(&ci, 1, 5000), 1, "%s", ipk_last_error());
		cr_assert_eq(ipk_recv(cli, buf, sizeof buf, 0), 4);
		ci.revents = 0;
		cr_expect_eq(ipk_poll(&ci, 1, 0), 0);
	}
	ipk_close(cli);
	ipk_close(srv);
}

/* sysvmq: a client killed before it took its reply leaves the reply in the
   queue, under a type nobody else receives. The server takes such replies
   out when it finds the client dead (its sweep, once a second), or they
   would fill the queue (16 KiB by default) for good. */
Test(proto, sysvmq_dead_clients_replies_are_taken_out)
{
	char url[128], addr[512];
	unsigned key = 0x5b000000u | ((unsigned)getpid() & 0xffffff);
	snprintf(url, sizeof url, "sysvmq:0x%08x?proto=rep", key);
	ipk_chan *srv = ipkt_listen_ok(url);
	cr_assert_gt(ipk_address(srv, addr, sizeof addr), 0);
	int qid = msgget((key_t)key, 0);
	cr_assert_geq(qid, 0);
	pid_t pid = pt_fork();
	if (pid == 0) {
		ipk_chan *c;
		if (ipk_dial(&c, addr, 5000) < 0 || ipk_send(c, "q", 1, 5000) != 1)
			_exit(1);
		pause(); /* killed before it takes the reply */
		_exit(2);
	}
	char buf[64];
	ipk_msginfo mi = {0};
	cr_assert_eq(ipk_recvmsg(srv, buf, sizeof buf, &mi, 5000), 1, "%s",
	             ipk_last_error());
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_eq(ipk_sendmsg(srv, "orphan", 6, &mi, 1000), 6);
	struct msqid_ds ds;
	cr_assert_eq(msgctl(qid, IPC_STAT, &ds), 0);
	cr_assert_eq(ds.msg_qnum, 1, "the reply is queued");
	/* a receive that outlasts a sweep */
	cr_assert_eq(ipk_recv(srv, buf, sizeof buf, 2500), -ETIMEDOUT);
	cr_assert_eq(msgctl(qid, IPC_STAT, &ds), 0);
	cr_expect_eq(ds.msg_qnum, 0, "the dead client's reply is still queued");
	ipk_close(srv);
}

/* How many reply mailboxes of client pid lie beside the server at url
   (NAME.r<pid>.<nonce>); -1 if they cannot be listed here. */
static int mailboxes_of(const char *url, pid_t pid)
{
	char dir[512], pre[512];
	const char *rest = strchr(url, ':') + 1;
	size_t rl = strcspn(rest, "?");
	char path[512];
	snprintf(path, sizeof path, "%.*s", (int)rl, rest);
	const char *slash = strrchr(path, '/');
	struct statfs fs;
	bool mq = strncmp(url, "mq:", 3) == 0, records = false;
	if (strncmp(url, "shm:", 4) == 0) {
		snprintf(dir, sizeof dir, "/dev/shm");
	} else if (mq && statfs("/dev/mqueue", &fs) == 0 &&
	           fs.f_type == 0x19800202) {
		snprintf(dir, sizeof dir, "/dev/mqueue");
	} else if (mq) { /* no listing of queues: their owner records */
		snprintf(dir, sizeof dir, "/dev/shm");
		records = true;
	} else {
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	}
	if (records)
		snprintf(pre, sizeof pre, ".mq.%%2F%s.r%d.", slash + 1, (int)pid);
	else
		snprintf(pre, sizeof pre, "%s.r%d.", slash + 1, (int)pid);
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += records ? strstr(e->d_name, pre) != NULL
		             : strncmp(e->d_name, pre, strlen(pre)) == 0;
	closedir(d);
	return n;
}

ParameterizedTestParameters(proto, orphan_mailboxes)
{
	static int idx[4];
	for (int i = 0; i < 4; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, 4);
}

/* A client killed after it made its reply mailbox and before its first
   request arrived is no client the server knows: the server still finds
   its mailbox by name (the pid in it is not running) and removes it. A
   POSIX queue is found in /dev/mqueue, or by its owner record where the
   queue file system is not mounted. */
ParameterizedTest(int *i, proto, orphan_mailboxes)
{
	static const char *const schemes[] = {"shm", "mmap", "fifo", "mq"};
	const char *scheme = schemes[*i];
	char full[600], addr[600];
	ipk_chan *srv = rep_on(scheme, full, sizeof full);
	cr_assert_gt(ipk_address(srv, addr, sizeof addr), 0);
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = pt_fork();
	if (pid == 0) {
		ipk_chan *c;
		if (ipk_dial(&c, addr, 5000) < 0)
			_exit(1);
		if (write(ready[1], "k", 1) != 1)
			_exit(1);
		pause(); /* killed before it asks anything */
		_exit(2);
	}
	close(ready[1]);
	char k;
	cr_assert_eq(read(ready[0], &k, 1), 1, "the client did not attach");
	close(ready[0]);
	cr_assert_eq(mailboxes_of(full, pid), 1, "%s: no mailbox to find", scheme);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	char buf[16];
	cr_assert_eq(ipk_recv(srv, buf, sizeof buf, 2500), -ETIMEDOUT);
	cr_expect_eq(mailboxes_of(full, pid), 0,
	             "%s: the dead client's mailbox is still there", scheme);
	ipk_close(srv);
}

/* Fork a child; name gets, in both processes, the name of that child's
   reply mailbox beside the server at full: NAME.r<child's pid>.0000abcd */
static pid_t fork_client_named(const char *full, char *name, size_t cap)
{
	const char *rest = strchr(full, ':') + 1;
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	snprintf(name, cap, "%.*s.r%d.0000abcd", (int)strcspn(rest, "?"), rest,
	         (int)(pid ? pid : getpid()));
	return pid;
}

/* mq: a client killed after its owner record claimed its reply queue's
   name and before the queue existed leaves the record alone: the server
   drops it too (no file of a dead client stays in /dev/shm). */
Test(proto, mq_orphan_owner_record)
{
	char full[600], name[300];
	ipk_chan *srv = rep_on("mq", full, sizeof full);
	pid_t pid = fork_client_named(full, name, sizeof name);
	if (pid == 0) {
		ipk__owner_claim cl;
		_exit(ipk__owner_lock(&cl, "mq", name) == 0 &&
		              ipk__owner_set(&cl, false, IPK__OWNER_PENDING) == 0
		              ? 0 : 1); /* and dies before the queue is made */
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	struct ipk__owner o;
	cr_assert_eq(ipk__owner_read("mq", name, geteuid(), &o), 1);
	char buf[16];
	cr_assert_eq(ipk_recv(srv, buf, sizeof buf, 2500), -ETIMEDOUT);
	cr_expect_eq(ipk__owner_read("mq", name, geteuid(), &o), 0,
	             "the dead client's record of %s is still there", name);
	ipk_close(srv);
}

/* A client killed while it made its reply ring leaves a plain region
   under the ring's name (no ring header yet): the server removes it as
   the dead client's all the same. */
Test(proto, half_made_reply_ring)
{
	char full[600], name[300];
	ipk_chan *srv = rep_on("shm", full, sizeof full);
	pid_t pid = fork_client_named(full, name, sizeof name);
	if (pid == 0) {
		int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
		_exit(fd >= 0 && ftruncate(fd, 65536) == 0 ? 0 : 1);
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	char path[400];
	snprintf(path, sizeof path, "/dev/shm%s", name);
	cr_assert_eq(access(path, F_OK), 0);
	char buf[16];
	cr_assert_eq(ipk_recv(srv, buf, sizeof buf, 2500), -ETIMEDOUT);
	cr_expect_neq(access(path, F_OK), 0, "%s is still there", path);
	ipk_close(srv);
}

ParameterizedTestParameters(proto, reply_to_a_client_gone)
{
	static int idx[3];
	for (int i = 0; i < 3; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, 3);
}

/* A request whose client closed (or died) before the server read it: the
   reply goes nowhere at once. The client's mailbox existed before it
   asked, so one that is not there now is gone for good; the server does
   not wait for it to appear (it used to, a second per such request). */
ParameterizedTest(int *i, proto, reply_to_a_client_gone)
{
	static const char *const schemes[] = {"fifo", "shm", "mq"};
	const char *scheme = schemes[*i];
	char full[600], addr[600];
	ipk_chan *srv = rep_on(scheme, full, sizeof full);
	cr_assert_gt(ipk_address(srv, addr, sizeof addr), 0);
	ipk_chan *cli = ipkt_dial_ok(addr);
	cr_assert_eq(ipk_send(cli, "q", 1, 2000), 1);
	ipk_close(cli); /* its mailbox goes with it */
	char buf[16];
	ipk_msginfo mi = {0};
	cr_assert_eq(ipk_recvmsg(srv, buf, sizeof buf, &mi, 5000), 1, "%s",
	             ipk_last_error());
	int64_t t0 = ipkt_now_ms();
	cr_expect_eq(ipk_sendmsg(srv, "r", 1, &mi, 5000), 1, "%s",
	             ipk_last_error());
	cr_expect_lt(ipkt_now_ms() - t0, 800, "%s: the reply waited for a "
	                                      "mailbox that is gone", scheme);
	ipk_close(srv);
}
