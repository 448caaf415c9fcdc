/*
 * ipckit demo: every built scheme, end to end. For each row the parent makes
 * a channel, forks a child peer, and times small round trips. One row per
 * scheme says how it is addressed, so a scheme lights up once it is built.
 */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_json.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern const struct ipk_cmd cli_cmd_demo;

enum kind {
	PAIR,    /* ipk_pair, then fork */
	CONNECT, /* parent listens and accepts, child dials */
	ANSWER,  /* parent listens and answers the last sender, child dials */
	MAILBOX, /* each side listens on its own endpoint, dials the other's */
};

/* Address templates: {pid} is the owner's pid, {pid6x} the same in 6 hex
   digits (for System V keys). The dial template names the other side's
   endpoint; NULL means the listen template. */
static const struct row {
	const char *scheme;
	enum kind kind;
	const char *listen;
	const char *dial;
} rows[] = {
	{"pipe", PAIR, "pipe:", NULL},
	{"fifo", MAILBOX, "fifo:/tmp/ipk-demo-{pid}.fifo", NULL},
	{"unix", CONNECT, "unix:@ipk-demo-{pid}", NULL},
	{"unixgram", ANSWER, "unixgram:@ipk-demo-{pid}.dg", NULL},
	{"tcp", CONNECT, "tcp://127.0.0.1:0", NULL},
	{"sysvmq", MAILBOX, "sysvmq:0x7a{pid6x}", NULL},
	{"mq", MAILBOX, "mq:/ipk-demo-{pid}", NULL},
	{"signal", MAILBOX, "signal:self?sig=RTMIN+1", "signal:{pid}?sig=RTMIN+1"},
	{"shm", MAILBOX, "shm:/ipk-demo-{pid}?size=1M", NULL},
	{"sysvshm", MAILBOX, "sysvshm:0x7b{pid6x}?size=1M", NULL},
	{"mmap", MAILBOX, "mmap:/tmp/ipk-demo-{pid}.ring?size=1M", NULL},
};

#define WARMUP 5
#define ROUNDS 100
#define OP_MS 2000   /* longest wait for any one step */
#define MSG_LEN 8    /* signals carry at most 8 bytes */

static void expand(const char *tpl, pid_t pid, char *out, size_t cap)
{
	size_t o = 0;
	while (*tpl && o + 1 < cap) {
		int n = 0;
		if (strncmp(tpl, "{pid}", 5) == 0) {
			n = snprintf(out + o, cap - o, "%ld", (long)pid);
			tpl += 5;
		} else if (strncmp(tpl, "{pid6x}", 7) == 0) {
			n = snprintf(out + o, cap - o, "%06lx", (unsigned long)pid & 0xffffff);
			tpl += 7;
		} else {
			out[o] = *tpl++;
			n = 1;
		}
		o += (size_t)n < cap - o ? (size_t)n : cap - o - 1;
	}
	out[o] = '\0';
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put_seq(unsigned char *m, uint64_t seq)
{
	for (int i = 0; i < MSG_LEN; i++)
		m[i] = (unsigned char)(seq >> (8 * i));
}

/* One side's channels: tx sends, rx receives (often the same). */
struct ends {
	ipk_chan *tx, *rx;
	ipk_chan *own[3]; /* what to close */
};

static void ends_close(struct ends *e)
{
	for (int i = 0; i < 3; i++)
		ipk_close(e->own[i]);
	memset(e, 0, sizeof *e);
}

static void keep(struct ends *e, ipk_chan *c)
{
	for (int i = 0; i < 3; i++)
		if (e->own[i] == NULL) {
			e->own[i] = c;
			return;
		}
}

/* Receive exactly one MSG_LEN message equal to want (if want != NULL). */
static int recv_one(ipk_chan *c, const unsigned char *want, char *err, size_t cap)
{
	unsigned char m[64];
	ssize_t n = ipk_recv(c, m, sizeof m, OP_MS);
	if (n < 0) {
		snprintf(err, cap, "receive: %s", ipk_last_error());
		return (int)n;
	}
	if (n != MSG_LEN || (want && memcmp(m, want, MSG_LEN) != 0)) {
		snprintf(err, cap, "received %zd bytes that are not the message sent",
		         n);
		return -EPROTO;
	}
	return 0;
}

static int send_one(ipk_chan *c, const unsigned char *m, char *err, size_t cap)
{
	ssize_t n = ipk_send(c, m, MSG_LEN, OP_MS);
	if (n < 0) {
		snprintf(err, cap, "send: %s", ipk_last_error());
		return (int)n;
	}
	return 0;
}

/* ---------------------------------------------------------- the child */

struct plan {
	const struct row *row;
	ipk_chan *pair_child;  /* PAIR: the child's end */
	char dial_parent[256]; /* address of the parent's endpoint */
};

static int child_setup(const struct plan *p, struct ends *e, char *err,
                       size_t cap)
{
	ipk_chan *c;
	int rc = -EINVAL;
	switch (p->row->kind) {
	case PAIR:
		e->tx = e->rx = p->pair_child;
		keep(e, p->pair_child);
		return 0;
	case CONNECT:
	case ANSWER:
		if ((rc = ipk_dial(&c, p->dial_parent, OP_MS)) < 0)
			break;
		e->tx = e->rx = c;
		keep(e, c);
		return 0;
	case MAILBOX: {
		char mine[256];
		expand(p->row->listen, getpid(), mine, sizeof mine);
		if ((rc = ipk_listen(&c, mine)) < 0)
			break;
		e->rx = c;
		keep(e, c);
		if ((rc = ipk_dial(&c, p->dial_parent, OP_MS)) < 0)
			break;
		e->tx = c;
		keep(e, c);
		return 0;
	}
	}
	snprintf(err, cap, "peer: %s", ipk_last_error());
	return rc;
}

static _Noreturn void child(const struct plan *p, int errfd)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	struct ends e = {0};
	char err[512] = "";
	unsigned char m[MSG_LEN];
	int rc = child_setup(p, &e, err, sizeof err);
	if (rc == 0) {
		put_seq(m, UINT64_MAX); /* "ready" */
		rc = send_one(e.tx, m, err, sizeof err);
	}
	for (int i = 0; rc == 0 && i < WARMUP + ROUNDS; i++) {
		ssize_t n = ipk_recv(e.rx, m, sizeof m, OP_MS);
		if (n != MSG_LEN) {
			snprintf(err, sizeof err, "peer: receive: %s",
			         n < 0 ? ipk_last_error() : "wrong length");
			rc = -EPROTO;
			break;
		}
		rc = send_one(e.tx, m, err, sizeof err);
	}
	ends_close(&e);
	if (rc < 0 && err[0]) {
		ssize_t w = write(errfd, err, strlen(err));
		(void)w;
	}
	_exit(rc < 0 ? 1 : 0);
}

/* ---------------------------------------------------------- the parent */

struct result {
	char status[16];
	int messages;
	double median_us;
	char addr[256];
	char err[512];
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Reap the child within grace_ms, killing it if it hangs. */
static int reap(pid_t pid, int grace_ms)
{
	int status = 0;
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		while (poll(&p, 1, grace_ms) < 0 && errno == EINTR)
			;
		close(pfd);
	} else {
		for (int i = 0; i < grace_ms / 10 && waitpid(pid, &status, WNOHANG) == 0;
		     i++)
			nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	return status;
}

static int rounds(struct ends *e, struct result *r)
{
	int64_t t[ROUNDS];
	unsigned char m[MSG_LEN];
	int rc;
	for (int i = 0; i < WARMUP + ROUNDS; i++) {
		put_seq(m, (uint64_t)i);
		int64_t t0 = now_ns();
		if ((rc = send_one(e->tx, m, r->err, sizeof r->err)) < 0 ||
		    (rc = recv_one(e->rx, m, r->err, sizeof r->err)) < 0)
			return rc;
		r->messages += 2;
		if (i >= WARMUP)
			t[i - WARMUP] = now_ns() - t0;
	}
	qsort(t, ROUNDS, sizeof t[0], cmp_i64);
	r->median_us = (double)(t[ROUNDS / 2 - 1] + t[ROUNDS / 2]) / 2000.0;
	return 0;
}

/*
 * Wait until c is readable or the child gave up (its error pipe is written
 * or closed), so a peer that failed early does not cost a whole timeout.
 */
static int wait_peer(ipk_chan *c, int errfd, struct result *r)
{
	int fd = ipk_fd(c);
	if (fd < 0)
		return 0; /* nothing to poll: the next call waits by itself */
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
	                      {.fd = errfd, .events = POLLIN}};
	int n;
	while ((n = poll(p, 2, OP_MS)) < 0 && errno == EINTR)
		;
	if (n > 0 && p[0].revents == 0 && p[1].revents != 0) {
		snprintf(r->err, sizeof r->err, "peer process failed");
		return -ECHILD;
	}
	return 0;
}

static int parent_run(const struct row *row, struct plan *p, struct ends *e,
                      ipk_chan *l, pid_t kid, int errfd, struct result *r)
{
	int rc;
	ipk_chan *c;
	unsigned char ready[MSG_LEN];
	put_seq(ready, UINT64_MAX);
	switch (row->kind) {
	case PAIR:
		ipk_close(p->pair_child);
		p->pair_child = NULL;
		break;
	case CONNECT:
		if ((rc = wait_peer(l, errfd, r)) < 0)
			return rc;
		if ((rc = ipk_accept(l, &c, OP_MS)) < 0) {
			snprintf(r->err, sizeof r->err, "accept: %s", ipk_last_error());
			return rc;
		}
		e->tx = e->rx = c;
		keep(e, c);
		break;
	case ANSWER:
	case MAILBOX:
		e->tx = e->rx = l;
		break;
	}
	if ((rc = wait_peer(e->rx, errfd, r)) < 0 ||
	    (rc = recv_one(e->rx, ready, r->err, sizeof r->err)) < 0)
		return rc;
	r->messages++;
	if (row->kind == MAILBOX) {
		char addr[256];
		expand(row->dial ? row->dial : row->listen, kid, addr, sizeof addr);
		if ((rc = ipk_dial(&c, addr, OP_MS)) < 0) {
			snprintf(r->err, sizeof r->err, "dial %s: %s", addr,
			         ipk_last_error());
			return rc;
		}
		e->tx = c;
		keep(e, c);
	}
	return rounds(e, r);
}

static void run_row(const struct row *row, struct result *r)
{
	memset(r, 0, sizeof *r);
	struct plan p = {.row = row};
	struct ends e = {0};
	ipk_chan *l = NULL;
	int rc;
	pid_t me = getpid();
	expand(row->listen, me, r->addr, sizeof r->addr);
	expand(row->dial ? row->dial : row->listen, me, p.dial_parent,
	       sizeof p.dial_parent);

	if (row->kind == PAIR) {
		rc = ipk_pair(r->addr, &l, &p.pair_child);
		snprintf(r->addr + strlen(r->addr), sizeof r->addr - strlen(r->addr),
		         " (ipk_pair)");
		if (rc == 0) {
			e.tx = e.rx = l;
			keep(&e, l);
		}
	} else {
		rc = ipk_listen(&l, r->addr);
		if (rc == 0) {
			keep(&e, l);
			if (row->kind == CONNECT &&
			    ipk_address(l, p.dial_parent, sizeof p.dial_parent) >= 0)
				snprintf(r->addr, sizeof r->addr, "%s", p.dial_parent);
		}
	}
	if (rc < 0) {
		if (rc == -EPROTONOSUPPORT) {
			snprintf(r->status, sizeof r->status, "not built");
			return;
		}
		snprintf(r->err, sizeof r->err, "%s: %s",
		         row->kind == PAIR ? "pair" : "listen", ipk_last_error());
		snprintf(r->status, sizeof r->status, "FAILED");
		return;
	}

	int errp[2];
	if (pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(r->err, sizeof r->err, "pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	pid_t kid = fork();
	if (kid < 0) {
		snprintf(r->err, sizeof r->err, "fork: %s", strerror(errno));
		close(errp[0]);
		close(errp[1]);
		goto out;
	}
	if (kid == 0) {
		close(errp[0]);
		ipk_close(l); /* the parent's end: let go of it */
		child(&p, errp[1]);
	}
	close(errp[1]);
	rc = parent_run(row, &p, &e, l, kid, errp[0], r);
	ends_close(&e);
	ipk_close(p.pair_child);
	int st = reap(kid, rc < 0 ? 300 : OP_MS);
	bool kid_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (rc == 0 && !kid_ok) {
		rc = -ECHILD;
		snprintf(r->err, sizeof r->err, "peer process failed");
	}
	if (!kid_ok && row->kind == MAILBOX) {
		/* the child could not clean up after itself */
		char theirs[256];
		expand(row->listen, kid, theirs, sizeof theirs);
		if (strcmp(theirs, r->addr) != 0)
			ipk_remove(theirs);
	}
	if (rc < 0) {
		/* the child's own words beat our timeout */
		char why[512];
		ssize_t n = read(errp[0], why, sizeof why - 1);
		if (n > 0 && (rc == -ETIMEDOUT || rc == -ECHILD || rc == -EPIPE)) {
			why[n] = '\0';
			snprintf(r->err, sizeof r->err, "%s", why);
		}
	}
	close(errp[0]);
	snprintf(r->status, sizeof r->status, rc < 0 ? "FAILED" : "ok");
	return;
out:
	ends_close(&e);
	ipk_close(p.pair_child);
	snprintf(r->status, sizeof r->status, "FAILED");
}

static const struct row *find_row(const char *scheme)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (strcmp(rows[i].scheme, scheme) == 0)
			return &rows[i];
	return NULL;
}

/* One row of --json (docs/cli.md has the schema). */
static void json_row(const char *scheme, const struct result *r, bool first)
{
	printf("%s\n    {\"scheme\": ", first ? "" : ",");
	cli_json_cstr(stdout, scheme);
	printf(", \"result\": ");
	cli_json_cstr(stdout, r->status);
	if (strcmp(r->status, "ok") == 0)
		printf(", \"messages\": %d, \"median_us\": %.1f", r->messages,
		       r->median_us);
	else
		printf(", \"messages\": null, \"median_us\": null");
	printf(", \"address\": ");
	cli_json_cstr(stdout, r->addr[0] ? r->addr : NULL);
	printf(", \"error\": ");
	cli_json_cstr(stdout, strcmp(r->status, "FAILED") == 0 ? r->err : NULL);
	putchar('}');
}

static int demo_run(int argc, char **argv)
{
	static const struct option longs[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool as_json = false;
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":jh", longs, NULL)) != -1) {
		if (ch == 'h')
			return cli_help(&cli_cmd_demo);
		if (ch == 'j') {
			as_json = true;
			continue;
		}
		return cli_bad_option("demo", argv, ch);
	}
	if (optind < argc)
		return cli_usage("demo", "unexpected argument '%s'", argv[optind]);

	cli_catch_signals();
	if (as_json) {
		printf("{\"version\": ");
		cli_json_cstr(stdout, ipk_version());
		printf(", \"message_bytes\": %d, \"round_trips\": %d, "
		       "\"schemes\": [", MSG_LEN, ROUNDS);
	} else {
		printf("ipckit %s: one small message (%d bytes) each way, %d round "
		       "trips per scheme\n\n",
		       ipk_version(), MSG_LEN, ROUNDS);
		printf("%-9s %-9s %8s %10s  %s\n", "scheme", "result", "messages",
		       "median_us", "address");
	}
	int failed = 0, ok = 0;
	bool first = true;
	for (const char *const *s = ipk_schemes(); *s && !cli_stopped; s++) {
		const struct row *row = find_row(*s);
		struct result r;
		if (!ipk_scheme_built(*s)) {
			memset(&r, 0, sizeof r);
			snprintf(r.status, sizeof r.status, "not built");
			if (row)
				expand(row->listen, getpid(), r.addr, sizeof r.addr);
		} else if (row == NULL) {
			memset(&r, 0, sizeof r);
			snprintf(r.status, sizeof r.status, "no demo");
		} else {
			run_row(row, &r);
		}
		if (strcmp(r.status, "ok") == 0)
			ok++;
		else if (strcmp(r.status, "FAILED") == 0)
			failed++;
		if (as_json) {
			json_row(*s, &r, first);
			first = false;
		} else if (strcmp(r.status, "ok") == 0) {
			printf("%-9s %-9s %8d %10.1f  %s\n", *s, r.status, r.messages,
			       r.median_us, r.addr);
		} else {
			printf("%-9s %-9s %8s %10s  %s\n", *s, r.status, "-", "-", r.addr);
			if (strcmp(r.status, "FAILED") == 0)
				printf("%-9s -> %s\n", "", r.err);
		}
		fflush(stdout);
	}
	if (as_json)
		printf("\n  ], \"ok\": %d, \"failed\": %d}\n", ok, failed);
	else
		printf("\n%d schemes worked, %d failed. Round trip = send + receive "
		       "of the echo through a child process.\n",
		       ok, failed);
	return cli_exit(failed ? 1 : 0);
}

const struct ipk_cmd cli_cmd_demo = {
	.name = "demo",
	.args = "[--json]",
	.summary = "try every built mechanism with a child process",
	.run = demo_run,
	.help =
	"For every scheme this build of ipckit has, demo makes a channel, forks\n"
	"a child that echoes, sends it a few small messages and prints a table:\n"
	"scheme, result, messages exchanged, median round trip in microseconds,\n"
	"and the address used. Schemes not built show as 'not built'. Everything\n"
	"it creates is removed. It takes a few seconds; for real measurements\n"
	"use 'ipckit bench' (no test ever asserts on these figures).\n"
	"\n"
	"\n"
	"options:\n"
	"  -j, --json   the same as one JSON document: version, message_bytes,\n"
	"               round_trips, schemes (scheme, result, messages,\n"
	"               median_us, address, error), ok, failed\n"
	"\n"
	"exit status: 0 every built scheme worked, 1 one failed (its error is\n"
	"printed under its row), 2 usage error.\n",
};
