/*
 * Request/reply under load and under crashes: 64 clients x 1000 requests
 * against one server with every reply checked (none lost, none sent to the
 * wrong client); a client killed in the middle of its request; a server
 * killed and started again while its clients keep asking.
 */
#include "proto_util.h"

#include <criterion/parameterized.h>
#include <dirent.h>
#include <time.h>

static void leak_check(void)
{
	pt_leak_check();
}

TestSuite(stress, .fini = leak_check, .timeout = 600);

ParameterizedTestParameters(stress, many_clients)
{
	static int v[] = {0, 1, 2};
	return cr_make_param_array(int, v, 3);
}

/* 64 clients x 1000 requests; the server gathers up to 8 requests and
   answers them last first, so replies cross on the way. */
ParameterizedTest(int *v, stress, many_clients)
{
	static const char *const schemes[] = {"unix", "tcp", "shm"};
	const char *scheme = schemes[*v];
	char url[512], addr[512];
	pt_address(scheme, url, sizeof url);
	pid_t srv = pt_server_start(url, (struct pt_server){.batch = 8}, addr,
	                            sizeof addr);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int bad = pt_clients(addr, 64, 1000, 24, 0);
	double ms = ipkt_ms_since(&t0);
	fprintf(stderr, "%s: 64 clients x 1000 requests: %d wrong or missing, "
	                "%.0f ms (%.0f requests/s)\n",
	        scheme, bad, ms, 64000.0 / (ms / 1000.0));
	cr_expect_eq(bad, 0, "%s: %d of 64000 replies wrong or missing", scheme,
	             bad);
	cr_expect_eq(pt_server_stop(addr, srv), 0);
}

/* How many /dev/shm entries carry this name. */
static int shm_entries(const char *name)
{
	DIR *d = opendir("/dev/shm");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		n += strstr(e->d_name, name + 1) != NULL;
	if (d)
		closedir(d);
	return n;
}

ParameterizedTestParameters(stress, client_killed)
{
	static int v[] = {0, 1, 2, 3, 4, 5, 6, 7};
	return cr_make_param_array(int, v, 8);
}

/* A client killed while its request is being served: the server drops its
   reply (and, on mailboxes, the client's reply mailbox) and the others
   never notice. */
ParameterizedTest(int *v, stress, client_killed)
{
	const char *scheme = rr_schemes[*v];
	char url[512], addr[512];
	pt_address(scheme, url, sizeof url);
	pid_t srv = pt_server_start(url, (struct pt_server){.delay_ms = 40},
	                            addr, sizeof addr);
	int asked[2];
	cr_assert_eq(pipe(asked), 0);
	pid_t victim = pt_fork();
	if (victim == 0) {
		ipk_chan *c;
		if (ipk_dial(&c, addr, 10000) < 0 || ipk_send(c, "doomed", 6, 5000) != 6)
			_exit(1);
		if (write(asked[1], "a", 1) != 1)
			_exit(1);
		char b[32];
		ipk_recv(c, b, sizeof b, 60000); /* killed in here */
		_exit(2);
	}
	ipkt_await(asked[0]);
	kill(victim, SIGKILL);
	cr_expect_eq(ipkt_wait_child(victim), 128 + SIGKILL);
	int bad = pt_clients(addr, 3, 10, 8, 0);
	cr_expect_eq(bad, 0, "%s: %d replies wrong or missing after a client "
	                     "died", scheme, bad);
	/* the server outlives its dead client's pipe and still serves */
	cr_expect_eq(pt_client(addr, 9, 3, 0, 0), 0);
	cr_expect_eq(pt_server_stop(addr, srv), 0, "%s: the server failed",
	             scheme);
	if (strcmp(scheme, "shm") == 0 || strcmp(scheme, "mmap") == 0 ||
	    strcmp(scheme, "fifo") == 0) {
		/* the dead client's reply mailbox was found and removed */
		const char *base = strchr(url, ':') + 1;
		char path[512];
		snprintf(path, sizeof path, "%.*s", (int)strcspn(base, "?"), base);
		char glob[600];
		snprintf(glob, sizeof glob, "ls %s%s.r%d.* >/dev/null 2>&1",
		         strcmp(scheme, "shm") == 0 ? "/dev/shm" : "", path,
		         (int)victim);
		cr_expect_neq(ipkt_sh("%s", glob), 0, "%s: the dead client's reply "
		                                      "mailbox is still there",
		              scheme);
		if (strcmp(scheme, "shm") == 0)
			cr_expect_eq(shm_entries(path), 0);
	}
	if (strcmp(scheme, "mq") == 0) {
		/* the queue file system, mounted privately, lists the queues:
		   the dead client's reply queue is gone (1: not found) */
		const char *base = strchr(url, ':') + 2;
		int rc = ipkt_sh("unshare --mount sh -c 'd=$(mktemp -d) && "
		                 "mount -t mqueue none $d 2>/dev/null || exit 2; "
		                 "ls $d | grep -q \"^%.*s[.]r%d[.]\"; r=$?; umount $d; "
		                 "rmdir $d; exit $r'",
		                 (int)strcspn(base, "?&"), base, (int)victim);
		cr_expect(rc == 1 || rc == 2, "mq: the dead client's reply queue "
		                              "is still there (%d)", rc);
	}
}

ParameterizedTestParameters(stress, server_restarted)
{
	static int v[] = {0, 1, 2, 3, 4, 5, 6, 7};
	return cr_make_param_array(int, v, 8);
}

/* The server is killed with SIGKILL half way through a client's run and
   started again at the same address: the client's resend finds it, and
   every one of its requests gets its own reply. */
ParameterizedTest(int *v, stress, server_restarted)
{
	const char *scheme = rr_schemes[*v];
	char url[512], addr[512], again[512], dial[600];
	pt_address(scheme, url, sizeof url);
	pid_t srv = pt_server_start(url, (struct pt_server){0}, addr, sizeof addr);
	/* the second server listens where the first did (tcp: its port) */
	snprintf(again, sizeof again, "%.*s?%s", (int)strcspn(addr, "?"), addr,
	         strchr(url, '?') + 1);
	snprintf(dial, sizeof dial, "%s&resend=200", addr);
	int half[2];
	cr_assert_eq(pipe(half), 0);
	int *bad = ipkt_shared(sizeof *bad);
	pid_t cl = pt_fork();
	if (cl == 0) {
		ipk_chan *c;
		if (ipk_dial(&c, dial, 10000) < 0)
			_exit(1);
		for (int i = 0; i < 100; i++) {
			char req[32], rep[64], want[64];
			int m = snprintf(req, sizeof req, "r%d", i);
			int w = snprintf(want, sizeof want, "re:%s", req);
			ssize_t n = ipk_send(c, req, (size_t)m, 10000);
			if (n == m)
				n = ipk_recv(c, rep, sizeof rep, 30000);
			if (n != w || memcmp(rep, want, (size_t)w) != 0) {
				fprintf(stderr, "request %d: %zd %s\n", i, n,
				        n < 0 ? ipk_last_error() : "");
				(*bad)++;
			}
			if (i == 49 && write(half[1], "h", 1) != 1)
				_exit(1);
		}
		ipk_close(c);
		_exit(*bad ? 2 : 0);
	}
	ipkt_await(half[0]);
	kill(srv, SIGKILL);
	cr_expect_eq(ipkt_wait_child(srv), 128 + SIGKILL);
	char addr2[512];
	srv = pt_server_start(again, (struct pt_server){0}, addr2, sizeof addr2);
	cr_expect_eq(ipkt_wait_child(cl), 0, "%s: %d requests went wrong across "
	                                     "the restart", scheme, *bad);
	cr_expect_eq(pt_server_stop(addr2, srv), 0);
	/* The second server took over the first one's mailbox, and the
	   client's resends of the request in flight at the kill may still be
	   unread in it: a listener keeps a mailbox it took over while messages
	   are unread in it (docs/queues.md), so it stays, as an orphan, until
	   someone removes it, as a user would with ipckit rm. */
	if (strcmp(scheme, "unix") != 0 && strcmp(scheme, "tcp") != 0 &&
	    strcmp(scheme, "unixgram") != 0) {
		int rr = ipk_remove(addr2);
		cr_expect(rr == 0 || rr == -ENOENT, "removing %s: %s", addr2,
		          ipk_strerror(rr));
	}
}
