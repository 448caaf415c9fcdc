/* ipckit sub: subscribe to a publisher and print what it sends. */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_pubsub.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_sub;

enum out_mode { OUT_LINES, OUT_RAW, OUT_HEX };

struct sub_opts {
	long count; /* 0: forever */
	int timeout;
	bool listen;
	enum out_mode mode;
	bool meta;
	bool print_address;
	char **topics;
	int ntopics;
};

static void hex(const unsigned char *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		printf("%08zx ", off);
		for (size_t i = 0; i < 16; i++)
			printf(off + i < n ? " %02x" : "   ", off + i < n ? p[off + i] : 0);
		printf("  |");
		for (size_t i = 0; i < 16 && off + i < n; i++)
			putchar(isprint(p[off + i]) ? p[off + i] : '.');
		printf("|\n");
	}
	printf("%08zx\n", n);
}

static bool emit(const struct sub_opts *o, const void *buf, size_t n,
                 const ipk_msginfo *info)
{
	if (o->meta)
		printf("# len=%zu missed=%llu\n", n, (unsigned long long)info->missed);
	if (o->mode == OUT_HEX) {
		hex(buf, n);
	} else {
		/* cut short (a signal in the write): no newline after it */
		if (cli_write(stdout, buf, n) && o->mode == OUT_LINES)
			putchar('\n');
	}
	return fflush(stdout) == 0 && !ferror(stdout);
}

static int parse(int argc, char **argv, struct sub_opts *o)
{
	static const struct option longs[] = {
		{"topic", required_argument, NULL, 'T'},
		{"count", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"listen", no_argument, NULL, 'l'},
		{"raw", no_argument, NULL, 'r'},
		{"hex", no_argument, NULL, 'x'},
		{"meta", no_argument, NULL, 'm'},
		{"print-address", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct sub_opts){.timeout = -1};
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":T:n:t:lrxmph", longs, NULL)) != -1) {
		switch (ch) {
		case 'T': {
			char **t = realloc(o->topics, (size_t)(o->ntopics + 1) * sizeof *t);
			if (t == NULL)
				return cli_fail("sub", NULL, "out of memory");
			o->topics = t;
			o->topics[o->ntopics++] = optarg;
			break;
		}
		case 'n':
			if (!cli_parse_int(optarg, 0, LONG_MAX, &o->count))
				return cli_usage("sub", "bad count '%s' (0 or more)", optarg);
			break;
		case 't':
			if (!cli_parse_timeout(optarg, &o->timeout))
				return cli_usage("sub", "bad timeout '%s' (ms, -1 forever)",
				                 optarg);
			break;
		case 'l': o->listen = true; break;
		case 'r': o->mode = OUT_RAW; break;
		case 'x': o->mode = OUT_HEX; break;
		case 'm': o->meta = true; break;
		case 'p': o->print_address = true; break;
		case 'h': return -1;
		default: return cli_bad_option("sub", argv, ch);
		}
	}
	if (optind >= argc)
		return cli_usage("sub", "missing URL");
	if (optind + 1 < argc)
		return cli_usage("sub", "unexpected argument '%s'", argv[optind + 1]);
	return 0;
}

static int sub_run(int argc, char **argv)
{
	struct sub_opts o;
	int rc = parse(argc, argv, &o);
	if (rc < 0) {
		free(o.topics);
		return cli_help(&cli_cmd_sub);
	}
	if (rc > 0) {
		free(o.topics);
		return rc;
	}
	const char *given = argv[optind];
	char *url = cli_pubsub_url("sub", given, "sub");
	if (url == NULL) {
		free(o.topics);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is reported, not fatal */
	cli_catch_signals();
	struct cli_end e = {.url = url, .listen = o.listen};
	int status = 0;
	rc = cli_end_open(&e, o.timeout, o.print_address);
	if (rc < 0) {
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			status = cli_fail("sub", given, "no publisher within %d ms",
			                  o.timeout);
		else if (rc != CLI_STOPPED)
			status = cli_fail("sub", given, "%s", cli_why(rc));
		goto out;
	}
	/* no --topic: everything (the library's default is nothing) */
	if (o.ntopics == 0)
		rc = ipk_subscribe(e.chan, "", 0);
	for (int i = 0; i < o.ntopics && rc == 0; i++)
		rc = ipk_subscribe(e.chan, o.topics[i], strlen(o.topics[i]));
	if (rc < 0) {
		status = cli_fail("sub", given, "%s", ipk_last_error());
		goto out;
	}
	for (long got = 0; !cli_stopped && (o.count == 0 || got < o.count);) {
		void *buf = NULL;
		ipk_msginfo info = {0};
		ssize_t n = cli_recv(e.chan, &buf, &info, o.timeout);
		if (n >= 0) {
			got++;
			bool ok = emit(&o, buf, (size_t)n, &info);
			free(buf);
			if (!ok) {
				/* the reader left, or a signal stopped us in the
				   write (we die of it): nothing to say */
				if (errno != EPIPE && !cli_stopped)
					status = cli_fail("sub", NULL, "writing to stdout: %s",
					                  strerror(errno));
				break;
			}
			continue;
		}
		if (n == CLI_STOPPED)
			break;
		if (n == -ETIMEDOUT || n == -EAGAIN)
			status = cli_fail("sub", given, "no message within %d ms",
			                  o.timeout);
		else
			status = cli_fail("sub", given, "%s", cli_why((int)n));
		break;
	}
out:
	cli_end_close(&e);
	free(url);
	free(o.topics);
	return cli_exit(status);
}

const struct ipk_cmd cli_cmd_sub = {
	.name = "sub",
	.args = "URL [--topic PREFIX]... [OPTIONS]",
	.summary = "subscribe to a publisher and print its messages",
	.run = sub_run,
	.help =
	"Prints each message the publisher sends whose first bytes are one of\n"
	"the --topic prefixes (all messages without --topic), one per line as\n"
	"recv does. The address gets ?proto=sub; ?topic=PREFIX there adds a\n"
	"subscription too.\n"
	"\n"
	"By default sub DIALS, waiting for the publisher to appear: on unix:\n"
	"and tcp: it connects (and connects again when the publisher\n"
	"restarts); on shm:, sysvshm: and mmap: it joins the broadcast ring.\n"
	"--listen binds or creates instead (the publisher then runs\n"
	"'ipckit pub --dial'). On shared memory ?history=K on the address gets\n"
	"the last K messages the ring still holds, and a subscriber that falls\n"
	"a lap behind is told how many messages it missed (--meta).\n"
	"\n"
	"options:\n"
	"  -T, --topic PREFIX  subscribe to messages starting with PREFIX\n"
	"                      (repeatable; '' or none: everything)\n"
	"  -n, --count COUNT   stop after COUNT messages (default 0: forever)\n"
	"  -t, --timeout MS    wait at most MS ms for the publisher and for each\n"
	"                      message; -1 waits forever (default)\n"
	"  -l, --listen        bind/create instead of dialing\n"
	"  -r, --raw           the bytes exactly as received, no newline\n"
	"  -x, --hex           a hex dump per message, ending with its length\n"
	"  -m, --meta          before each message a line '# len=N missed=M'\n"
	"                      (missed: messages lost just before this one, on\n"
	"                      shared memory; 0 elsewhere)\n"
	"  -p, --print-address print the endpoint's address to stderr\n"
	"\n"
	"exit status: 0 COUNT messages received (or stopped by a signal), 1\n"
	"failure or timeout (one line on stderr), 2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit sub 'shm:/prices' --topic EUR --meta\n"
	"  ipckit sub tcp://127.0.0.1:5555 -n 10\n"
	"  ipckit sub 'shm:/frames?history=10' --hex\n",
};
