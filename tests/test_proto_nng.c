/*
 * The patterns against nng itself: nngcat (nng's command-line tool) as
 * REQ, REP, PUSH and PULL on ipc:// and tcp://, in both directions. nngcat
 * runs as a coprocess (ipk_spawn) so its output is read through the
 * library too.
 */
#include "proto_util.h"

#include <criterion/parameterized.h>

TestSuite(nng, .timeout = 120);

static ipk_chan *nngcat(const char *const argv[])
{
	ipk_chan *c = NULL;
	int rc = ipk_spawn(&c, argv, NULL);
	if (rc == -ENOENT)
		cr_skip_test("nngcat is not installed (Debian package nng-utils)");
	cr_assert_eq(rc, 0, "spawn nngcat: %s", ipk_last_error());
	return c;
}

/* Everything nngcat printed until it exits. */
static size_t slurp(ipk_chan *c, char *buf, size_t cap)
{
	size_t got = 0;
	for (;;) {
		cr_assert_lt(got, cap, "nngcat printed more than expected");
		ssize_t n = ipk_recv(c, buf + got, cap - got - 1, 30000);
		if (n == -EPIPE)
			break;
		cr_assert_gt(n, 0, "reading nngcat's output: %s", ipk_last_error());
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

static void exited_ok(ipk_chan *c)
{
	int st = -1;
	cr_assert_eq(ipk_wait(c, &st, 30000), 0, "nngcat did not exit: %s",
	             ipk_last_error());
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "nngcat failed (status %#x)", st);
	ipk_close(c);
}

/* Our address and nngcat's for one endpoint (tcp: a free port). */
static void endpoints(bool tcp, char *ours, char *theirs, size_t cap,
                      char *sock)
{
	sock[0] = '\0';
	if (!tcp) {
		const char *path = ipkt_path("nng.sock");
		snprintf(sock, cap, "%s", path);
		snprintf(ours, cap, "unix:%s", path);
		snprintf(theirs, cap, "ipc://%s", path);
		return;
	}
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, "tcp://127.0.0.1:0"), 0, "%s", ipk_last_error());
	cr_assert_gt(ipk_address(l, ours, cap), 0);
	snprintf(theirs, cap, "%s", ours);
	ipk_close(l); /* the port is free again for whoever listens */
}

ParameterizedTestParameters(nng, both)
{
	static int v[] = {0, 1};
	return cr_make_param_array(int, v, 2);
}

/* nngcat --req0 asks our REP, three times over: each reply is ours.
   (One request per nngcat: with --count it can fail computing its own
   receive timeout between requests.) */
ParameterizedTest(int *tcp, nng, both)
{
	char ours[256], theirs[256], sock[256], url[300];
	endpoints(*tcp, ours, theirs, sizeof ours, sock);
	snprintf(url, sizeof url, "%s?proto=rep", ours);
	ipk_chan *rep = ipkt_listen_ok(url);
	for (int i = 0; i < 3; i++) {
		const char *argv[] = {"nngcat", "--req0", "--dial", theirs, "--data",
		                      "question", "--recv-timeout", "20", "--quoted",
		                      NULL};
		ipk_chan *cat = nngcat(argv);
		char buf[64];
		ipk_msginfo mi = {0};
		ssize_t n = ipk_recvmsg(rep, buf, sizeof buf, &mi, 20000);
		cr_assert_eq(n, 8, "request %d: %s", i, ipk_last_error());
		cr_assert(memcmp(buf, "question", 8) == 0);
		char out[16], want[32];
		int m = snprintf(out, sizeof out, "answer%d", i);
		cr_assert_eq(ipk_sendmsg(rep, out, (size_t)m, &mi, 5000), m);
		char printed[256];
		slurp(cat, printed, sizeof printed);
		snprintf(want, sizeof want, "\"%s\"\n", out);
		cr_expect_str_eq(printed, want);
		exited_ok(cat);
	}
	ipk_close(rep);
	if (sock[0])
		unlink(sock);
}

ParameterizedTestParameters(nng, we_ask)
{
	static int v[] = {0, 1};
	return cr_make_param_array(int, v, 2);
}

/* Our REQ asks nngcat --rep0 (which answers every request with its
   --data): replies arrive, and a status hop nng echoed means no status. */
ParameterizedTest(int *tcp, nng, we_ask)
{
	char ours[256], theirs[256], sock[256], url[300];
	endpoints(*tcp, ours, theirs, sizeof ours, sock);
	const char *argv[] = {"nngcat", "--rep0", "--listen", theirs, "--data",
	                      "from nng", "--count", "3", "--quoted", NULL};
	ipk_chan *cat = nngcat(argv);
	snprintf(url, sizeof url, "%s?proto=req", ours);
	ipk_chan *req;
	cr_assert_eq(ipk_dial(&req, url, 20000), 0, "%s", ipk_last_error());
	for (int i = 0; i < 3; i++) {
		char q[16], buf[64];
		int m = snprintf(q, sizeof q, "q%d", i);
		cr_assert_eq(ipk_send(req, q, (size_t)m, 5000), m);
		ipk_msginfo mi = {0};
		ssize_t n = ipk_recvmsg(req, buf, sizeof buf, &mi, 20000);
		cr_assert_eq(n, 8, "reply %d: %s", i, ipk_last_error());
		cr_expect(memcmp(buf, "from nng", 8) == 0);
		cr_expect_eq(mi.status, -1);
	}
	char printed[256];
	slurp(cat, printed, sizeof printed);
	cr_expect_str_eq(printed, "\"q0\"\n\"q1\"\n\"q2\"\n");
	exited_ok(cat);
	ipk_close(req);
	if (sock[0])
		unlink(sock);
}

ParameterizedTestParameters(nng, pipeline)
{
	/* tcp, our side listens */
	static int v[] = {0, 1, 2, 3};
	return cr_make_param_array(int, v, 4);
}

/* PUSH to nngcat --pull0 and from nngcat --push0, either side listening. */
ParameterizedTest(int *v, nng, pipeline)
{
	bool tcp = *v & 1, we_listen = *v & 2;
	char ours[256], theirs[256], sock[256], url[300];
	endpoints(tcp, ours, theirs, sizeof ours, sock);

	/* us -> nngcat (nngcat --dial gives up at once on a refused
	   connection: when we listen, we do so before it starts) */
	snprintf(url, sizeof url, "%s?proto=push", ours);
	ipk_chan *push = NULL;
	if (we_listen)
		push = ipkt_listen_ok(url);
	const char *pull[] = {"nngcat", "--pull0", we_listen ? "--dial" : "--listen",
	                      theirs, "--count", "3", "--quoted", NULL};
	ipk_chan *cat = nngcat(pull);
	if (!we_listen)
		cr_assert_eq(ipk_dial(&push, url, 20000), 0, "%s", ipk_last_error());
	for (int i = 0; i < 3; i++) {
		char m[8];
		int n = snprintf(m, sizeof m, "job%d", i);
		cr_assert_eq(ipk_send(push, m, (size_t)n, 20000), n, "%s",
		             ipk_last_error());
	}
	char printed[256];
	slurp(cat, printed, sizeof printed);
	cr_expect_str_eq(printed, "\"job0\"\n\"job1\"\n\"job2\"\n");
	exited_ok(cat);
	ipk_close(push);
	if (sock[0])
		unlink(sock);

	/* nngcat -> us */
	endpoints(tcp, ours, theirs, sizeof ours, sock);
	snprintf(url, sizeof url, "%s?proto=pull", ours);
	ipk_chan *pl = NULL;
	if (we_listen)
		pl = ipkt_listen_ok(url);
	const char *pusher[] = {"nngcat", "--push0", we_listen ? "--dial" : "--listen",
	                        theirs, "--data", "work", "--count", "3", NULL};
	cat = nngcat(pusher);
	if (!we_listen)
		cr_assert_eq(ipk_dial(&pl, url, 20000), 0, "%s", ipk_last_error());
	for (int i = 0; i < 3; i++) {
		char buf[16];
		ssize_t n = ipk_recv(pl, buf, sizeof buf, 20000);
		cr_assert_eq(n, 4, "message %d: %s", i, ipk_last_error());
		cr_expect(memcmp(buf, "work", 4) == 0);
	}
	exited_ok(cat);
	ipk_close(pl);
	if (sock[0])
		unlink(sock);
}
