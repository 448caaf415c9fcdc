/* ipckit pub: publish the arguments (or stdin lines) to every subscriber. */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_pubsub.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct ipk_cmd cli_cmd_pub;

struct pub_opts {
	int timeout;
	bool dial;
	bool print_address;
	long subscribers; /* wait for this many before the first message */
	long count;       /* each message this many times */
	long interval;    /* ms between messages */
};

struct publisher {
	const struct pub_opts *o;
	const char *url;
	ipk_chan *chan;
	long sent;
};

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (!cli_stopped && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int put(struct publisher *p, const void *buf, size_t len)
{
	for (long i = 0; i < p->o->count && !cli_stopped; i++) {
		if (p->sent > 0 && p->o->interval > 0)
			pause_ms(p->o->interval);
		ssize_t n = cli_send(p->chan, buf, len, NULL, p->o->timeout);
		if (n == CLI_STOPPED)
			return 1;
		if (n == -ETIMEDOUT)
			return cli_fail("pub", p->url, "a subscriber (slow=block) did not "
			                "take the message within %d ms", p->o->timeout);
		if (n == -EAGAIN)
			return cli_fail("pub", p->url, "a subscriber (slow=block) is "
			                "behind (not waiting)");
		if (n < 0)
			return cli_fail("pub", p->url, "%s", cli_why((int)n));
		p->sent++;
	}
	return 0;
}

static int pub_stdin(struct publisher *p)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;
	for (;;) {
		errno = 0;
		ssize_t n = getline(&line, &cap, stdin);
		if (n < 0) {
			if (cli_stopped)
				rc = 1;
			else if (errno == EINTR) {
				clearerr(stdin);
				continue;
			} else if (ferror(stdin))
				rc = cli_fail("pub", p->url, "reading stdin: %s",
				              strerror(errno));
			break;
		}
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if ((rc = put(p, line, (size_t)n)) != 0)
			break;
	}
	free(line);
	return rc;
}

/* Wait until the publisher has n subscribers (within the timeout). */
static int await_subscribers(struct publisher *p, long n)
{
	int64_t waited = 0;
	for (;;) {
		int have = ipk_subscribers(p->chan);
		if (have < 0)
			return cli_fail("pub", p->url, "%s", ipk_last_error());
		if (have >= n)
			return 0;
		if (cli_stopped)
			return 1;
		if (p->o->timeout >= 0 && waited >= p->o->timeout)
			return cli_fail("pub", p->url, "%d of %ld subscribers within %d "
			                "ms", have, n, p->o->timeout);
		pause_ms(10);
		waited += 10;
	}
}

static int parse(int argc, char **argv, struct pub_opts *o)
{
	static const struct option longs[] = {
		{"timeout", required_argument, NULL, 't'},
		{"dial", no_argument, NULL, 'd'},
		{"subscribers", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'c'},
		{"interval", required_argument, NULL, 'i'},
		{"print-address", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct pub_opts){.timeout = -1, .count = 1};
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":t:ds:c:i:ph", longs, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (!cli_parse_timeout(optarg, &o->timeout))
				return cli_usage("pub", "bad timeout '%s' (ms, -1 forever)",
				                 optarg);
			break;
		case 'd': o->dial = true; break;
		case 's':
			if (!cli_parse_int(optarg, 0, INT_MAX, &o->subscribers))
				return cli_usage("pub", "bad subscriber count '%s'", optarg);
			break;
		case 'c':
			if (!cli_parse_int(optarg, 1, LONG_MAX, &o->count))
				return cli_usage("pub", "bad count '%s' (1 or more)", optarg);
			break;
		case 'i':
			if (!cli_parse_int(optarg, 0, 86400000, &o->interval))
				return cli_usage("pub", "bad interval '%s' (ms)", optarg);
			break;
		case 'p': o->print_address = true; break;
		case 'h': return -1;
		default: return cli_bad_option("pub", argv, ch);
		}
	}
	if (optind >= argc)
		return cli_usage("pub", "missing URL");
	return 0;
}

static int pub_run(int argc, char **argv)
{
	struct pub_opts o;
	int rc = parse(argc, argv, &o);
	if (rc < 0)
		return cli_help(&cli_cmd_pub);
	if (rc > 0)
		return rc;
	const char *given = argv[optind];
	char **msgs = argv + optind + 1;
	int nmsgs = argc - optind - 1;
	char *url = cli_pubsub_url("pub", given, "pub");
	if (url == NULL)
		return 2;

	cli_catch_signals();
	struct cli_end e = {.url = url, .listen = !o.dial};
	rc = cli_end_open(&e, o.timeout, o.print_address);
	if (rc < 0) {
		int status = 1;
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			status = cli_fail("pub", given, "no endpoint within %d ms",
			                  o.timeout);
		else if (rc != CLI_STOPPED)
			status = cli_fail("pub", given, "%s", cli_why(rc));
		cli_end_close(&e);
		free(url);
		return cli_exit(status);
	}
	struct publisher p = {.o = &o, .url = given, .chan = e.chan};
	int status = o.subscribers > 0 ? await_subscribers(&p, o.subscribers) : 0;
	static char *const dash[] = {"-"};
	if (nmsgs == 0) {
		msgs = (char **)dash;
		nmsgs = 1;
	}
	for (int i = 0; i < nmsgs && status == 0 && !cli_stopped; i++) {
		if (strcmp(msgs[i], "-") == 0)
			status = pub_stdin(&p);
		else
			status = put(&p, msgs[i], strlen(msgs[i]));
	}
	/* close flushes what connections still hold */
	ipk_chan *c = e.chan;
	e.chan = NULL;
	rc = ipk_close(c);
	if (rc < 0 && status == 0 && !cli_stopped)
		status = cli_fail("pub", given, "%s", ipk_last_error());
	cli_end_close(&e);
	free(url);
	return cli_exit(status);
}

const struct ipk_cmd cli_cmd_pub = {
	.name = "pub",
	.args = "URL [MESSAGE...]",
	.summary = "publish messages to every subscriber (arguments or stdin lines)",
	.run = pub_run,
	.help =
	"Each MESSAGE argument is published as one message to every subscriber;\n"
	"with no MESSAGE, or for a MESSAGE of '-', each line of stdin is one.\n"
	"Subscribers choose what they get by topic: the first bytes of a\n"
	"message (ipckit sub --topic). The address gets ?proto=pub.\n"
	"\n"
	"By default pub LISTENS: on unix: and tcp: it binds and takes\n"
	"subscribers as they connect; on shm:, sysvshm: and mmap: it creates\n"
	"the broadcast ring (or joins it: a publisher that restarts continues\n"
	"the stream). A subscriber that is not there when a message goes out\n"
	"does not get it: --subscribers N waits for N first. --dial attaches\n"
	"to a listening subscriber (ipckit sub --listen) instead.\n"
	"\n"
	"Slow subscribers miss messages (?slow=drop, the default; on shared\n"
	"memory they are told how many) or hold the publisher back\n"
	"(?slow=block, within --timeout). docs/pubsub.md has the details.\n"
	"\n"
	"options:\n"
	"  -t, --timeout MS      wait at most MS ms for the endpoint, for\n"
	"                        --subscribers, and for a slow=block subscriber\n"
	"                        to take each message; -1 waits forever (default)\n"
	"  -d, --dial            attach instead of listening\n"
	"  -s, --subscribers N   before the first message, wait until N\n"
	"                        subscribers are attached\n"
	"  -c, --count N         publish each message N times (default 1)\n"
	"  -i, --interval MS     pause MS ms between messages\n"
	"  -p, --print-address   print the endpoint's address (with the port the\n"
	"                        kernel chose for tcp:...:0) to stderr\n"
	"\n"
	"exit status: 0 every message was published, 1 failure or timeout (one\n"
	"line on stderr), 2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit pub 'shm:/prices?size=4M' --subscribers 2 'EURUSD 1.0842'\n"
	"  tail -f app.log | ipckit pub tcp://0.0.0.0:5555\n"
	"  ipckit pub 'shm:/frames?history=10&persist' - < frames.txt\n",
};
