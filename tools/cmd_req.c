/* ipckit req: send each message as a request and print its reply. */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_proto.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct ipk_cmd cli_cmd_req;

struct req_opts {
	int timeout;   /* per request, for its reply */
	long resend;   /* ms, or -1: the library's default */
	bool raw;      /* replies as they are, no newline */
	bool meta;
	bool whole;    /* stdin is one request */
};

struct asker {
	const struct req_opts *o;
	const char *url;
	ipk_chan *chan;
	int last_status; /* the last non-zero status a reply carried */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait for the reply. A REQ receive that times out cancels its request, so
 * the wait is cut into polls of the channel and receives that do not wait
 * (which keep the request, and send it again when its resend is due).
 */
static ssize_t await_reply(ipk_chan *c, void **buf, ipk_msginfo *mi,
                           int timeout_ms)
{
	int64_t end = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	unsigned idle = 0;
	for (;;) {
		if (cli_stopped)
			return CLI_STOPPED;
		ssize_t n = ipk_recv_alloc(c, buf, mi, 0);
		if (n != -EAGAIN)
			return n;
		int slice = 200;
		if (timeout_ms == 0)
			return -EAGAIN;
		if (timeout_ms > 0) {
			int64_t left = end - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			if (left < slice)
				slice = (int)left;
		}
		ipk_pollitem it = {.chan = c, .events = IPK_POLLIN};
		int ready = ipk_poll(&it, 1, slice);
		if (ready > 0 && ++idle > 2) {
			/* readable but nothing for us (a queue that holds other
			   clients' messages): do not spin on it */
			struct timespec ts = {0, (long)(idle < 20 ? idle : 20) * 500000};
			nanosleep(&ts, NULL);
		} else if (ready <= 0) {
			idle = 0;
		}
	}
}

/* One request and its reply on stdout; 0, or the exit status. */
static int ask(struct asker *a, const void *buf, size_t len)
{
	ssize_t n = cli_send(a->chan, buf, len, NULL, a->o->timeout);
	if (n < 0)
		return n == CLI_STOPPED ? 1 : cli_fail("req", a->url, "%s",
		                                       cli_why((int)n));
	void *reply = NULL;
	ipk_msginfo mi = {0};
	n = await_reply(a->chan, &reply, &mi, a->o->timeout);
	if (n < 0) {
		if (n == CLI_STOPPED)
			return 1;
		if (n == -ETIMEDOUT)
			return cli_fail("req", a->url, "no reply within %d ms",
			                a->o->timeout);
		return cli_fail("req", a->url, "%s", cli_why((int)n));
	}
	if (a->o->meta)
		printf("# len=%zd status=%d\n", n, mi.status);
	cli_write(stdout, reply, (size_t)n);
	/* each reply on a line of its own: a newline unless it has one (a
	   command's output usually does) */
	if (!a->o->raw && (n == 0 || ((const char *)reply)[n - 1] != '\n'))
		putchar('\n');
	free(reply);
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_fail("req", NULL, "writing stdout: %s", strerror(errno));
	if (mi.status > 0)
		a->last_status = mi.status;
	return 0;
}

static int ask_stdin(struct asker *a)
{
	char *line = NULL;
	size_t cap = 0, len = 0;
	int rc = 0;
	if (a->o->whole) {
		FILE *m = open_memstream(&line, &len);
		char chunk[65536];
		size_t n;
		while (m && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
			fwrite(chunk, 1, n, m);
		if (m == NULL || fclose(m) != 0 || ferror(stdin))
			rc = cli_fail("req", a->url, "reading stdin: %s", strerror(errno));
		else
			rc = ask(a, line, len);
		free(line);
		return rc;
	}
	for (;;) {
		errno = 0;
		ssize_t n = getline(&line, &cap, stdin);
		if (n < 0) {
			if (errno == EINTR && !cli_stopped) {
				clearerr(stdin);
				continue;
			}
			if (ferror(stdin) && !cli_stopped)
				rc = cli_fail("req", a->url, "reading stdin: %s",
				              strerror(errno));
			break;
		}
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if ((rc = ask(a, line, (size_t)n)) != 0 || cli_stopped)
			break;
	}
	free(line);
	return rc;
}

static int parse(int argc, char **argv, struct req_opts *o)
{
	static const struct option longs[] = {
		{"timeout", required_argument, NULL, 't'},
		{"resend", required_argument, NULL, 'R'},
		{"raw", no_argument, NULL, 'r'},
		{"meta", no_argument, NULL, 'm'},
		{"whole", no_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct req_opts){.timeout = 10000, .resend = -1};
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":t:R:rmwh", longs, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (!cli_parse_timeout(optarg, &o->timeout))
				return cli_usage("req", "bad timeout '%s' (ms, -1 forever)",
				                 optarg);
			break;
		case 'R':
			if (!cli_parse_int(optarg, 0, INT32_MAX, &o->resend))
				return cli_usage("req", "bad resend interval '%s' (ms, 0 "
				                        "never)", optarg);
			break;
		case 'r': o->raw = true; break;
		case 'm': o->meta = true; break;
		case 'w': o->whole = true; break;
		case 'h': return -1;
		default: return cli_bad_option("req", argv, ch);
		}
	}
	if (optind >= argc)
		return cli_usage("req", "missing URL");
	return 0;
}

/* Whether the address's query already has key=. */
static bool has_opt(const char *url, const char *key)
{
	size_t k = strlen(key);
	for (const char *q = strchr(url, '?'); q != NULL; q = strchr(q, '&')) {
		q++;
		if (strncmp(q, key, k) == 0 && q[k] == '=')
			return true;
	}
	return false;
}

static int req_run(int argc, char **argv)
{
	struct req_opts o;
	int rc = parse(argc, argv, &o);
	if (rc < 0)
		return cli_help(&cli_cmd_req);
	if (rc > 0)
		return rc;
	const char *given = argv[optind];
	char *url = NULL, *full = NULL;
	if ((rc = cli_proto_url("req", given, "req", &url)) != 0)
		return rc;
	/* Without -R (and no ?resend= in the address) a request is sent again
	   after half of -t: with the library's 60 s against a 10 s -t, a
	   server restarted while a request waited would never see it again. */
	if (o.resend < 0 && o.timeout > 0 && !has_opt(given, "resend"))
		o.resend = o.timeout / 2 > 0 ? o.timeout / 2 : 1;
	if (o.resend >= 0) {
		char v[24];
		snprintf(v, sizeof v, "%ld", o.resend);
		full = cli_url_with(url, "resend", v);
		free(url);
		if (full == NULL)
			return cli_fail("req", given, "out of memory");
		url = full;
		cli_alias_url(url, given);
	}
	cli_catch_signals();
	struct asker a = {.o = &o, .url = given};
	rc = cli_dial(&a.chan, url, o.timeout);
	int status = 0;
	if (rc < 0) {
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			status = cli_fail("req", given, "no server within %d ms",
			                  o.timeout);
		else if (rc != CLI_STOPPED)
			status = cli_fail("req", given, "%s", cli_why(rc));
		else
			status = 1;
	} else {
		int nmsgs = argc - optind - 1;
		char **msgs = argv + optind + 1;
		if (nmsgs == 0)
			status = ask_stdin(&a);
		for (int i = 0; i < nmsgs && status == 0 && !cli_stopped; i++)
			status = strcmp(msgs[i], "-") == 0
			                 ? ask_stdin(&a)
			                 : ask(&a, msgs[i], strlen(msgs[i]));
		if (status == 0 && a.last_status > 0)
			status = a.last_status; /* as ssh does with the remote's */
	}
	ipk_close(a.chan);
	free(url);
	return cli_exit(status);
}

const struct ipk_cmd cli_cmd_req = {
	.name = "req",
	.args = "URL [MESSAGE...]",
	.summary = "send requests and print their replies (REQ)",
	.help =
		"Dials a REP server at URL (the address gets ?proto=req) and sends\n"
		"each MESSAGE as a request, printing its reply on a line of its\n"
		"own (a newline added unless it ends in one) before the next one\n"
		"goes. Without MESSAGE (or with '-') each line of stdin is a\n"
		"request (without its newline). Works on every address a REP server\n"
		"listens on: unix:, tcp: (nng's --rep0 too), unixgram:, sysvmq:,\n"
		"mq:, fifo:, shm:, mmap:.\n"
		"\n"
		"options:\n"
		"  -t, --timeout MS  wait at most MS for the server and for each\n"
		"                    reply (default 10000; -1 forever)\n"
		"  -R, --resend MS   send a request again when no reply came\n"
		"                    within MS (default: half of -t; with -t -1\n"
		"                    60000; 0 never): a restarted server still\n"
		"                    answers. A command that runs longer than MS\n"
		"                    gets the request again\n"
		"  -w, --whole       all of stdin is one request\n"
		"  -r, --raw         write replies exactly, no newline after each\n"
		"  -m, --meta        before each reply a line '# len=N status=S'\n"
		"                    (status -1: the server attached none)\n"
		"\n"
		"Exit status: 0 when every request got its reply; the status a\n"
		"reply carried when it is not 0 (ipckit rep -- CMD: the command's\n"
		"exit status; the last such one); 1 on a failure (no server, no\n"
		"reply in time); 2 on a usage error.\n",
	.run = req_run,
};
