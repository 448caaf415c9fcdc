/*
 * ipckit rep: an RPC server from the shell. Each request runs a command
 * with the request on its stdin; what the command writes on stdout is the
 * reply, its exit status rides in the reply's status. Several requests run
 * at once (-j), each within a time limit.
 */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_proto.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern const struct ipk_cmd cli_cmd_rep;

#define STATUS_LIMIT 124    /* the time limit ran out (as timeout(1)) */
#define STATUS_NOT_RUN 127  /* the command could not be started (a shell's) */

struct rep_opts {
	long jobs;
	int limit;       /* ms per request, -1 none */
	long count;      /* stop after this many requests, 0 never */
	bool echo;
	bool print_address;
	bool raw;        /* the request exactly on CMD's stdin, no newline */
	char **cmd;      /* NULL with --echo */
};

struct job {
	ipk_chan *child;
	ipk_msginfo info; /* the request's route */
	unsigned char *out;
	size_t len, cap;
	int64_t deadline; /* ms, 0 none */
	bool truncated;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(ipk_chan *s, const char *url, const void *buf, size_t len,
                  ipk_msginfo *info, int status)
{
	info->status = status;
	ssize_t n = ipk_sendmsg(s, buf, len, info, 5000);
	if (n < 0)
		fprintf(stderr, "ipckit: rep %s: reply not sent: %s\n", url,
		        ipk_last_error());
}

/* Start the command for one request; false if it could not be run (the
   requester has been answered). */
static bool start(struct job *j, const struct rep_opts *o, ipk_chan *s,
                  const char *url, const void *req, size_t len)
{
	ipk_spawn_opts so = {.linger_ms = 100};
	int rc = ipk_spawn(&j->child, (const char *const *)o->cmd, &so);
	if (rc < 0) {
		fprintf(stderr, "ipckit: rep %s: cannot run %s: %s\n", url, o->cmd[0],
		        ipk_last_error());
		reply(s, url, "", 0, &j->info, STATUS_NOT_RUN);
		return false;
	}
	/* the whole request on its stdin, then end of file. A request is a
	   line (req sends a line without its newline, as send does): CMD gets
	   it with a newline, as recv writes a message, so line-reading
	   programs (bc, read, awk) see a whole last line */
	bool nl = !o->raw && (len == 0 || ((const char *)req)[len - 1] != '\n');
	if ((len > 0 && ipk_send(j->child, req, len, o->limit) < 0) ||
	    (nl && ipk_send(j->child, "\n", 1, o->limit) < 0))
		fprintf(stderr, "ipckit: rep %s: %s did not read the request: %s\n",
		        url, o->cmd[0], ipk_last_error());
	(void)ipk_shutdown(j->child);
	j->deadline = o->limit >= 0 ? now_ms() + o->limit : 0;
	j->len = 0;
	j->truncated = false;
	return true;
}

/* Read what the command wrote; true once its stdout is closed. */
static bool drain(struct job *j, size_t max)
{
	for (;;) {
		unsigned char chunk[65536];
		ssize_t n = ipk_recv(j->child, chunk, sizeof chunk, 0);
		if (n == -EAGAIN)
			return false;
		if (n <= 0)
			return true; /* end of its output (or an error: the same) */
		size_t take = (size_t)n;
		if (j->len + take > max) {
			take = max - j->len;
			j->truncated = true;
		}
		if (j->len + take > j->cap) {
			size_t cap = j->cap ? j->cap : 4096;
			while (cap < j->len + take)
				cap *= 2;
			unsigned char *p = realloc(j->out, cap);
			if (p == NULL) {
				j->truncated = true;
				continue;
			}
			j->out = p;
			j->cap = cap;
		}
		memcpy(j->out + j->len, chunk, take);
		j->len += take;
	}
}

/* The command is done (or out of time): reply with its output and status. */
static void finish(struct job *j, ipk_chan *s, const char *url,
                   const struct rep_opts *o, bool late)
{
	int status = STATUS_LIMIT, st = 0;
	if (late) {
		fprintf(stderr, "ipckit: rep %s: %s ran past the %d ms limit: "
		                "killed\n", url, o->cmd[0], o->limit);
	} else if (ipk_wait(j->child, &st, o->limit >= 0 ? o->limit : -1) == 0) {
		status = WIFEXITED(st) ? WEXITSTATUS(st)
		                       : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
	}
	if (j->truncated)
		fprintf(stderr, "ipckit: rep %s: the reply was cut to the %zu-byte "
		                "limit\n", url, ipk_maxmsg(s));
	ipk_close(j->child); /* kills it if it still runs */
	j->child = NULL;
	reply(s, url, j->out, j->len, &j->info, status);
}

static int serve(ipk_chan *s, const char *url, const struct rep_opts *o)
{
	struct job *jobs = calloc((size_t)o->jobs, sizeof *jobs);
	ipk_pollitem *items = calloc((size_t)o->jobs + 1, sizeof *items);
	if (jobs == NULL || items == NULL) {
		free(jobs);
		free(items);
		return cli_fail("rep", url, "out of memory");
	}
	long taken = 0;
	int running = 0, status = 0;
	size_t max = ipk_maxmsg(s);
	for (;;) {
		bool taking = !cli_stopped && (o->count == 0 || taken < o->count);
		if (!taking && running == 0)
			break;
		/* take requests while there is room for them */
		while (taking && running < o->jobs) {
			void *req = NULL;
			ipk_msginfo mi = {0};
			ssize_t n = ipk_recv_alloc(s, &req, &mi, 0);
			if (n == -EAGAIN)
				break;
			if (n < 0) {
				status = cli_fail("rep", url, "%s", ipk_last_error());
				taking = false;
				break;
			}
			taken++;
			if (o->echo) {
				reply(s, url, req, (size_t)n, &mi, 0);
			} else {
				int k = 0;
				while (jobs[k].child)
					k++;
				jobs[k].info = mi;
				if (start(&jobs[k], o, s, url, req, (size_t)n))
					running++;
			}
			free(req);
			taking = !cli_stopped && (o->count == 0 || taken < o->count);
		}
		if (status != 0 && running == 0)
			break;
		/* wait for a request, a command's output, or a time limit */
		size_t n = 0;
		int wait = 200;
		int64_t now = now_ms();
		if (taking && running < o->jobs)
			items[n++] = (ipk_pollitem){.chan = s, .events = IPK_POLLIN};
		for (long k = 0; k < o->jobs; k++) {
			if (jobs[k].child == NULL)
				continue;
			items[n++] = (ipk_pollitem){.chan = jobs[k].child,
			                            .events = IPK_POLLIN};
			if (jobs[k].deadline && jobs[k].deadline - now < wait)
				wait = jobs[k].deadline - now > 0
				               ? (int)(jobs[k].deadline - now) : 0;
		}
		if (ipk_poll(items, n, wait) < 0 && !cli_stopped) {
			status = cli_fail("rep", url, "poll: %s", ipk_last_error());
			break;
		}
		now = now_ms();
		for (long k = 0; k < o->jobs; k++) {
			struct job *j = &jobs[k];
			if (j->child == NULL)
				continue;
			bool done = drain(j, max);
			bool late = !done && j->deadline && now >= j->deadline;
			if (done || late) {
				finish(j, s, url, o, late);
				running--;
			}
		}
	}
	for (long k = 0; k < o->jobs; k++) {
		if (jobs[k].child)
			ipk_close(jobs[k].child);
		free(jobs[k].out);
	}
	free(jobs);
	free(items);
	return status;
}

/* Options from optind on, up to the first other argument (or --). */
static int parse(int argc, char **argv, struct rep_opts *o)
{
	static const struct option longs[] = {
		{"jobs", required_argument, NULL, 'j'},
		{"limit", required_argument, NULL, 'T'},
		{"count", required_argument, NULL, 'n'},
		{"echo", no_argument, NULL, 'e'},
		{"print-address", no_argument, NULL, 'p'},
		{"raw", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	opterr = 0;
	int ch;
	/* '+': stop at the first argument that is not an option (the URL or
	   the command after --) */
	while ((ch = getopt_long(argc, argv, "+:j:T:n:eprh", longs, NULL)) != -1) {
		switch (ch) {
		case 'j':
			if (!cli_parse_int(optarg, 1, 1024, &o->jobs))
				return cli_usage("rep", "bad job count '%s' (1..1024)", optarg);
			break;
		case 'T':
			if (!cli_parse_timeout(optarg, &o->limit))
				return cli_usage("rep", "bad time limit '%s' (ms, -1 none)",
				                 optarg);
			break;
		case 'n':
			if (!cli_parse_int(optarg, 0, LONG_MAX, &o->count))
				return cli_usage("rep", "bad count '%s' (0 or more)", optarg);
			break;
		case 'e': o->echo = true; break;
		case 'p': o->print_address = true; break;
		case 'r': o->raw = true; break;
		case 'h': return -1;
		default: return cli_bad_option("rep", argv, ch);
		}
	}
	return 0;
}

static int rep_run(int argc, char **argv)
{
	struct rep_opts o = {.jobs = 1, .limit = 10000};
	optind = 1;
	int rc = parse(argc, argv, &o);
	if (rc < 0)
		return cli_help(&cli_cmd_rep);
	if (rc > 0)
		return rc;
	if (optind >= argc || strcmp(argv[optind], "--") == 0)
		return cli_usage("rep", "missing URL");
	const char *given = argv[optind++];
	/* options may come after the URL too, up to -- */
	int more = parse(argc, argv, &o);
	if (more != 0)
		return more < 0 ? cli_help(&cli_cmd_rep) : more;
	if (optind < argc)
		o.cmd = argv + optind;
	if (o.echo == (o.cmd != NULL))
		return cli_usage("rep", o.echo ? "--echo runs no command: drop '%s'"
		                               : "what answers? give -- CMD [ARGS] "
		                                 "or --echo%s",
		                 o.echo ? o.cmd[0] : "");
	char *url = NULL;
	if ((rc = cli_proto_url("rep", given, "rep", &url)) != 0)
		return rc;
	cli_catch_signals();
	ipk_chan *s = NULL;
	int status;
	if (ipk_listen(&s, url) < 0) {
		status = cli_fail("rep", given, "%s", ipk_last_error());
	} else {
		if (o.print_address) {
			char addr[512];
			if (ipk_address(s, addr, sizeof addr) >= 0)
				fprintf(stderr, "%s\n", addr);
			fflush(stderr);
		}
		status = serve(s, given, &o);
		ipk_close(s);
	}
	free(url);
	return cli_exit(status);
}

const struct ipk_cmd cli_cmd_rep = {
	.name = "rep",
	.args = "URL [OPTIONS] (-- CMD [ARGS...] | --echo)",
	.summary = "answer requests by running a command (REP)",
	.help =
		"Listens for requests at URL (the address gets ?proto=rep): for\n"
		"each one it runs CMD with the request on its stdin as a line (a\n"
		"newline added unless it ends in one), and what CMD writes on\n"
		"stdout is the reply; CMD's exit status travels with it\n"
		"(ipckit req exits with it; 128+N when a signal N ended CMD). With\n"
		"--echo each request is its own reply. Requesters are ipckit req,\n"
		"programs with ?proto=req, or nng's REQ (nngcat --req0) on unix:\n"
		"and tcp:.\n"
		"\n"
		"options (before or after URL, before --):\n"
		"  -j, --jobs N        run up to N requests at once (default 1);\n"
		"                      each reply goes to the client that asked\n"
		"  -T, --limit MS      time limit per request (default 10000, -1\n"
		"                      none): CMD is killed and the reply carries\n"
		"                      what it wrote so far and status 124\n"
		"  -n, --count N       stop after N requests (default 0: never)\n"
		"  -e, --echo          reply with the request itself\n"
		"  -r, --raw           give CMD the request exactly, no newline\n"
		"  -p, --print-address once listening, print the address clients\n"
		"                      dial on stderr\n"
		"\n"
		"A command that cannot be started answers with status 127. Ctrl-C\n"
		"stops taking requests; the ones running are finished first.\n"
		"Exit status: 0 when stopped by -n; 1 on a failure; 2 on a usage\n"
		"error; killed by the signal that stopped it otherwise.\n",
	.run = rep_run,
};
