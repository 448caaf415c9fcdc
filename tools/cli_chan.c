/* Helpers shared by send, recv and relay: see cli_chan.h. */
#define _GNU_SOURCE
#include "cli_chan.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t cli_stopped;
bool cli_quiet;

/* Longest single wait, so a signal is noticed within this time. */
#define SLICE_MS 200
/* A dial slice is longer: it may include the SP handshake with a busy peer. */
#define DIAL_SLICE_MS 500
/* Time a peer that connected gets to finish the SP handshake. */
#define HANDSHAKE_MS 2000

static void on_signal(int sig)
{
	cli_stopped = sig;
}

void cli_catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = on_signal}, old;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		/* whoever started us ignored it on purpose (nohup; the shell for
		   a background job): the shell's convention is to keep it so */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

int cli_exit(int status)
{
	int sig = cli_stopped;
	if (sig == 0)
		return status;
	fflush(stdout);
	signal(sig, SIG_DFL);
	raise(sig);
	return 128 + sig;
}

/* ------------------------------------------------------ sliced waits */

struct timer {
	int timeout_ms;
	int64_t end_ns;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timer timer_start(int timeout_ms)
{
	struct timer t = {timeout_ms, 0};
	if (timeout_ms > 0)
		t.end_ns = now_ns() + (int64_t)timeout_ms * 1000000;
	return t;
}

/* Milliseconds for the next call: <= slice; 0 for a non-blocking timer;
   -1 once a finite timer has run out. */
static int timer_slice(const struct timer *t, int slice)
{
	if (t->timeout_ms == 0)
		return 0;
	if (t->timeout_ms < 0)
		return slice;
	int64_t left = t->end_ns - now_ns();
	if (left <= 0)
		return -1;
	int64_t ms = (left + 999999) / 1000000;
	return ms < slice ? (int)ms : slice;
}

static int timer_expired_err(const struct timer *t)
{
	return t->timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
}

/* The next wait of a sliced call: milliseconds (>= 0), or CLI_STOPPED when
   a signal asked us to stop, or the timeout's error once the timer ran out. */
static int timer_next(const struct timer *t, int slice)
{
	if (cli_stopped)
		return CLI_STOPPED;
	int ms = timer_slice(t, slice);
	return ms < 0 ? timer_expired_err(t) : ms;
}

static bool is_timeout(long rc)
{
	return rc == -ETIMEDOUT || rc == -EAGAIN;
}

/* The library's message before a helper's first call: a timeout that
   leaves the same text behind said nothing of its own. */
static char before[512];
/* cli_dial's account: what the library said of the first of its waits that
   ran out (a dial is made of many: the last may have been cut short, or
   refused at once by a listener that its earlier tries filled up) */
static char dial_account[512];

static void mark(void)
{
	snprintf(before, sizeof before, "%s", ipk_last_error());
	dial_account[0] = '\0';
}

const char *cli_timeout_detail(void)
{
	if (dial_account[0] != '\0')
		return dial_account;
	const char *now = ipk_last_error();
	return strncmp(now, before, sizeof before - 1) == 0 ? NULL : now;
}

/* After this long waiting for an endpoint, a person at a terminal is told. */
#define NOTICE_MS 1000

int cli_dial(ipk_chan **out, const char *url, int timeout_ms)
{
	struct timer t = timer_start(timeout_ms);
	int64_t start = now_ns();
	bool told = cli_quiet || !isatty(STDERR_FILENO);
	mark();
	for (;;) {
		if (cli_stopped)
			return CLI_STOPPED;
		int slice = timer_slice(&t, DIAL_SLICE_MS);
		int64_t began = now_ns();
		int rc = ipk_dial(out, url, slice < 0 ? 0 : slice);
		if (rc == 0)
			return 0;
		if (rc == -ETIMEDOUT && slice > 0 && dial_account[0] == '\0')
			snprintf(dial_account, sizeof dial_account, "%s",
			         ipk_last_error());
		/* nobody there yet: the library says so once its wait is over. An
		   answer that comes at once (an ftok path that does not exist) is
		   not about waiting: report it. */
		bool waited = now_ns() - began >= (int64_t)slice * 1000000 / 2;
		bool retry = is_timeout(rc) ||
		             ((rc == -ENOENT || rc == -ECONNREFUSED) && waited);
		if (!retry || slice <= 0 || timer_slice(&t, 1) < 0) {
			/* the caller's wait ran out, whatever its last slice said:
			   -EAGAIN is for --timeout 0 only */
			if (is_timeout(rc) && timeout_ms > 0)
				return -ETIMEDOUT;
			return rc;
		}
		/* a person may be waiting for a typo or a stale name: say so */
		if (!told && now_ns() - start >= (int64_t)NOTICE_MS * 1000000) {
			fprintf(stderr, "ipckit: %s %s: waiting for a listener (Ctrl-C "
			                "to stop, --timeout MS to give up)\n",
			        cli_command, url);
			told = true;
		}
	}
}

int cli_accept(ipk_chan *l, ipk_chan **out, int timeout_ms)
{
	mark();
	struct timer t = timer_start(timeout_ms);
	for (;;) {
		int slice = timer_next(&t, SLICE_MS);
		if (slice < 0)
			return slice;
		/* accept only once a connection waits: an accept whose wait runs
		   out during the handshake would drop that peer */
		ipk_pollitem it = {.chan = l, .events = IPK_POLLIN};
		int rc = ipk_poll(&it, 1, slice);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			rc = ipk_accept(l, out, HANDSHAKE_MS);
			if (rc == 0 || rc == -EOPNOTSUPP)
				return rc;
			/* a peer that gave up or spoke nonsense: wait for the next */
			if (!is_timeout(rc) && rc != -EPIPE && rc != -ECONNRESET &&
			    rc != -ECONNABORTED && rc != -EPROTO)
				return rc;
		}
		if (slice == 0)
			return timer_expired_err(&t);
	}
}

ssize_t cli_recv(ipk_chan *c, void **buf, ipk_msginfo *info, int timeout_ms)
{
	mark();
	struct timer t = timer_start(timeout_ms);
	for (;;) {
		int slice = timer_next(&t, SLICE_MS);
		if (slice < 0)
			return slice;
		ssize_t n = ipk_recv_alloc(c, buf, info, slice);
		if (n >= 0 || !is_timeout(n) || slice == 0)
			return n;
	}
}

ssize_t cli_send(ipk_chan *c, const void *buf, size_t len,
                 const ipk_msginfo *info, int timeout_ms)
{
	mark();
	struct timer t = timer_start(timeout_ms);
	for (;;) {
		int slice = timer_next(&t, SLICE_MS);
		if (slice < 0)
			return slice;
		/* on timeout nothing was sent, so trying again is safe */
		ssize_t n = ipk_sendmsg(c, buf, len, info, slice);
		if (n >= 0 || !is_timeout(n) || slice == 0)
			return n;
	}
}

/* ------------------------------------------------------------ kinds */

#define RS (CLI_RECV | CLI_SEND)
static const struct cli_kind kinds[] = {
	/* scheme    listen    dial      conn   conv   queue  ring   type   prio */
	{"pipe",     0,        0,        false, false, false, false, false, false,
	 NULL},
	{"fifo",     CLI_RECV, CLI_SEND, false, false, false, false, false, false,
	 "receives"},
	{"unix",     RS,       RS,       true,  true,  false, false, false, false,
	 NULL},
	{"tcp",      RS,       RS,       true,  true,  false, false, false, false,
	 NULL},
	{"unixgram", RS,       RS,       false, true,  false, false, false, false,
	 NULL},
	{"sysvmq",   RS,       RS,       false, false, true,  false, true,  false,
	 NULL},
	{"mq",       RS,       RS,       false, false, true,  false, false, true,
	 NULL},
	{"signal",   CLI_RECV, CLI_SEND, false, false, false, false, false, false,
	 "receives"},
	{"shm",      CLI_RECV, CLI_SEND, false, false, false, true,  false, false,
	 "receives"},
	{"sysvshm",  CLI_RECV, CLI_SEND, false, false, false, true,  false, false,
	 "receives"},
	{"mmap",     CLI_RECV, CLI_SEND, false, false, false, true,  false, false,
	 "receives"},
};

const struct cli_kind *cli_kind_of(const char *url)
{
	size_t n = strcspn(url, ":");
	if (url[n] != ':')
		return NULL;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strlen(kinds[i].scheme) == n &&
		    strncmp(url, kinds[i].scheme, n) == 0)
			return &kinds[i];
	return NULL;
}

int cli_check_addressable(const char *cmd, const char *url)
{
	const struct cli_kind *k = cli_kind_of(url);
	if (k != NULL && k->listen_caps == 0 && k->dial_caps == 0)
		return cli_usage(cmd, "%s: has no address: a pipe is made by "
		                 "ipk_pair and shared across fork (use fifo: for a "
		                 "named one)", k->scheme);
	return 0;
}

/* ---------------------------------------------------------- endpoints */

/* Queues and rings: objects that outlive their creator and that a receiver
 * may attach to. (A path that exists as something else is an error.) */
static bool shared_object(const char *url)
{
	const struct cli_kind *k = cli_kind_of(url);
	return k != NULL && (k->queue || k->ring);
}

int cli_end_open(struct cli_end *e, int timeout_ms, bool print_address)
{
	e->listener = e->chan = NULL;
	if (!e->listen)
		return cli_dial(&e->chan, e->url, timeout_ms);
	ipk_chan *l;
	int rc = ipk_listen(&l, e->url);
	if (rc == -EEXIST && e->or_attach && shared_object(e->url))
		return cli_dial(&e->chan, e->url, timeout_ms); /* someone else's */
	if (rc < 0)
		return rc;
	if (print_address) {
		char addr[512];
		if (ipk_address(l, addr, sizeof addr) >= 0)
			fprintf(stderr, "%s\n", addr);
		else
			fprintf(stderr, "%s\n", e->url);
		fflush(stderr);
	}
	/*
	 * Is it a listener with connections to accept? ipk_accept answers
	 * -EOPNOTSUPP at once for the other kinds. Ask it without waiting only
	 * when nothing is pending, so no connection is cut short; with
	 * something pending, an accept that can take its time is harmless.
	 */
	ipk_pollitem it = {.chan = l, .events = IPK_POLLIN};
	int ready = ipk_poll(&it, 1, 0);
	ipk_chan *c = NULL;
	rc = ipk_accept(l, &c, ready > 0 ? HANDSHAKE_MS : 0);
	if (rc == -EOPNOTSUPP) {
		e->chan = l;
		return 0;
	}
	e->listener = l;
	if (rc == 0) {
		e->chan = c;
		return 0;
	}
	if (is_timeout(rc) || rc == -EPIPE || rc == -ECONNRESET ||
	    rc == -EPROTO)
		return 0;
	e->listener = NULL;
	ipk_close(l);
	return rc;
}

int cli_end_connect(struct cli_end *e, int timeout_ms)
{
	if (e->chan != NULL || e->listener == NULL)
		return 0;
	return cli_accept(e->listener, &e->chan, timeout_ms);
}

bool cli_end_drop(struct cli_end *e)
{
	if (e->listener == NULL)
		return false;
	ipk_close(e->chan);
	e->chan = NULL;
	return true;
}

void cli_end_close(struct cli_end *e)
{
	ipk_close(e->chan);
	ipk_close(e->listener);
	e->chan = e->listener = NULL;
}

/* ------------------------------------------------------------- misc */

const char *cli_why(int err)
{
	if (err == CLI_STOPPED)
		return "interrupted";
	return ipk_last_error();
}

bool cli_url_raw(const char *url)
{
	return cli_url_flag(url, "raw");
}

bool cli_url_flag(const char *url, const char *key)
{
	size_t k = strlen(key);
	const char *q = strchr(url, '?');
	while (q != NULL) {
		q++;
		size_t n = strcspn(q, "&");
		if (n >= k && strncmp(q, key, k) == 0) {
			if (n == k)
				return true;
			if (q[k] == '=') {
				const char *v = q + k + 1;
				size_t vn = n - k - 1;
				static const char *const no[] = {"0", "false", "no", "off"};
				for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
					if (strlen(no[i]) == vn && strncmp(v, no[i], vn) == 0)
						return false;
				return true;
			}
		}
		q = strchr(q, '&');
	}
	return false;
}

bool cli_parse_timeout(const char *s, int *out)
{
	long v;
	if (!cli_parse_int(s, -1, INT32_MAX, &v))
		return false;
	*out = (int)v;
	return true;
}

int cli_bad_option(const char *cmd, char **argv, int ch)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	if (ch == ':')
		return cli_usage(cmd, "option '%s' needs a value", arg);
	if (optopt && strncmp(arg, "--", 2) != 0)
		return cli_usage(cmd, "unknown option '-%c'", optopt);
	return cli_usage(cmd, "unknown option '%s'", arg);
}

int cli_help(const struct ipk_cmd *cmd)
{
	printf("usage: ipckit %s %s\n\n%s\n\n%s", cmd->name, cmd->args,
	       cmd->summary, cmd->help);
	return 0;
}

bool cli_write(FILE *out, const void *buf, size_t len)
{
	return len == 0 || fwrite(buf, 1, len, out) == len;
}
