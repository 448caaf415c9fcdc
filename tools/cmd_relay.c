/* ipckit relay: move messages between two endpoints, both ways where both
   can receive, keeping message boundaries and metadata. */
#define _GNU_SOURCE
#include "cli_chan.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_relay;

struct side {
	struct cli_end end;
	bool receives;     /* messages can come out of this side */
	void *early;       /* a message found while probing, not yet forwarded */
	ssize_t early_len;
	ipk_msginfo early_info;
};

enum { GO_ON = -1 };

/*
 * Can this side receive? A non-blocking receive tells: -EOPNOTSUPP for a
 * send-only end (a FIFO or signal dialer), -EAGAIN when it can but nothing
 * is there. A message that was already waiting is kept for forwarding.
 */
static int probe(struct side *s)
{
	ipk_msginfo info = {0};
	ssize_t n = ipk_recv_alloc(s->end.chan, &s->early, &info, 0);
	if (n >= 0) {
		s->early_len = n;
		s->early_info = info;
		s->receives = true;
		return GO_ON;
	}
	s->early = NULL;
	if (n == -EOPNOTSUPP)
		return GO_ON;
	if (n == -EAGAIN) {
		s->receives = true;
		return GO_ON;
	}
	if (n == -EPIPE)
		return 0;
	return cli_fail("relay", s->end.url, "%s", ipk_last_error());
}

/* Does a send on this address reach a peer, rather than an object the same
 * channel also receives from? (unix:, tcp: connections; unixgram: answers) */
static bool conversation(const char *url)
{
	static const char *const schemes[] = {"unix:", "tcp:", "unixgram:"};
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			return true;
	return false;
}

/* Forward one message; GO_ON, or the exit status. */
static int forward(struct side *to, const void *buf, size_t len,
                   ipk_msginfo *info)
{
	info->flags = 0;
	ssize_t n = cli_send(to->end.chan, buf, len, info, -1);
	if (n >= 0)
		return GO_ON;
	if (n == -EPIPE)
		return 0; /* the receiving peer went away */
	if (n == CLI_STOPPED)
		return 1;
	return cli_fail("relay", to->end.url, "%s", cli_why((int)n));
}

static int pump(struct side sides[2], long count)
{
	long moved = 0;
	for (int i = 0; i < 2; i++)
		if (sides[i].early != NULL) {
			int st = forward(&sides[1 - i], sides[i].early,
			                 (size_t)sides[i].early_len, &sides[i].early_info);
			free(sides[i].early);
			sides[i].early = NULL;
			if (st != GO_ON)
				return st;
			moved++;
		}
	ipk_pollitem items[2];
	int from[2];
	size_t k = 0;
	for (int i = 0; i < 2; i++)
		if (sides[i].receives) {
			items[k] = (ipk_pollitem){.chan = sides[i].end.chan,
			                          .events = IPK_POLLIN};
			from[k++] = i;
		}
	if (k == 0)
		return cli_fail("relay", NULL, "neither %s nor %s can receive",
		                sides[0].end.url, sides[1].end.url);
	while (!cli_stopped && (count == 0 || moved < count)) {
		int rc = ipk_poll(items, k, 200);
		if (rc < 0)
			return cli_fail("relay", NULL, "%s", ipk_last_error());
		for (size_t j = 0; j < k && (count == 0 || moved < count); j++) {
			if (!(items[j].revents & IPK_POLLIN))
				continue;
			struct side *src = &sides[from[j]], *dst = &sides[1 - from[j]];
			void *buf = NULL;
			ipk_msginfo info = {0};
			ssize_t n = ipk_recv_alloc(src->end.chan, &buf, &info, 0);
			if (n == -EAGAIN)
				continue;
			if (n == -EPIPE)
				return 0; /* the sending peer went away */
			if (n < 0)
				return cli_fail("relay", src->end.url, "%s", ipk_last_error());
			int st = forward(dst, buf, (size_t)n, &info);
			free(buf);
			if (st != GO_ON)
				return st;
			moved++;
		}
	}
	return cli_stopped ? 1 : 0;
}

static int setup_failed(const struct side *s, int rc, int timeout)
{
	if (rc == CLI_STOPPED)
		return 1;
	if (rc == -ETIMEDOUT || rc == -EAGAIN)
		return cli_fail("relay", s->end.url, "no peer within %d ms", timeout);
	return cli_fail("relay", s->end.url, "%s", cli_why(rc));
}

static int relay_run(int argc, char **argv)
{
	static const struct option longs[] = {
		{"listen-a", no_argument, NULL, 'a'},
		{"listen-b", no_argument, NULL, 'b'},
		{"count", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"print-address", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool listen[2] = {false, false}, print_address = false;
	long count = 0;
	int timeout = -1;
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":abn:t:ph", longs, NULL)) != -1) {
		switch (ch) {
		case 'a': listen[0] = true; break;
		case 'b': listen[1] = true; break;
		case 'n':
			if (!cli_parse_int(optarg, 0, LONG_MAX, &count))
				return cli_usage("relay", "bad count '%s' (0 or more)", optarg);
			break;
		case 't':
			if (!cli_parse_timeout(optarg, &timeout))
				return cli_usage("relay", "bad timeout '%s' (ms, -1 forever)",
				                 optarg);
			break;
		case 'p': print_address = true; break;
		case 'h': return cli_help(&cli_cmd_relay);
		default: return cli_bad_option("relay", argv, ch);
		}
	}
	if (argc - optind != 2)
		return cli_usage("relay", argc - optind < 2 ? "needs two URLs"
		                                           : "takes exactly two URLs");
	struct side sides[2];
	memset(sides, 0, sizeof sides);
	for (int i = 0; i < 2; i++)
		sides[i].end = (struct cli_end){.url = argv[optind + i],
		                                .listen = listen[i]};

	cli_catch_signals();
	int status = GO_ON;
	/* listeners first, so the peers can come while we dial the other side */
	for (int pass = 0; pass < 2 && status == GO_ON; pass++)
		for (int i = 0; i < 2 && status == GO_ON; i++) {
			if (listen[i] != (pass == 0))
				continue;
			int rc = cli_end_open(&sides[i].end, timeout, print_address);
			if (rc < 0)
				status = setup_failed(&sides[i], rc, timeout);
		}
	for (int i = 0; i < 2 && status == GO_ON; i++) {
		int rc = cli_end_connect(&sides[i].end, timeout);
		if (rc < 0)
			status = setup_failed(&sides[i], rc, timeout);
	}
	for (int i = 0; i < 2 && status == GO_ON; i++)
		status = probe(&sides[i]);
	/* both ways only between conversations: a mailbox side (queue, FIFO,
	   ring) would hand back what relay itself just put into it */
	if (status == GO_ON && sides[0].receives && sides[1].receives &&
	    !(conversation(sides[0].end.url) && conversation(sides[1].end.url)))
		sides[1].receives = false;
	if (status == GO_ON)
		status = pump(sides, count);
	for (int i = 0; i < 2; i++) {
		free(sides[i].early);
		cli_end_close(&sides[i].end);
	}
	return cli_exit(status);
}

const struct ipk_cmd cli_cmd_relay = {
	.name = "relay",
	.args = "[-a] [-b] URL_A URL_B",
	.summary = "move messages from one endpoint to another (and back)",
	.run = relay_run,
	.help =
	"Messages received on A are sent to B, whole, with their metadata\n"
	"(sysvmq type, mq priority). When both ends are conversations (unix:,\n"
	"tcp:, unixgram:) messages from B go to A as well. With a mailbox on\n"
	"either side (a queue, FIFO or ring, which relay would read its own\n"
	"messages back from) only A to B is relayed; a send-only end (a FIFO or\n"
	"signal dialer) as A makes it B to A.\n"
	"\n"
	"Each side DIALS its address by default (an existing endpoint: a recv\n"
	"or server that listens). --listen-a / --listen-b make relay create\n"
	"that endpoint instead (and accept one connection on unix:/tcp:); it is\n"
	"removed when relay exits. Listening sides are created first, then the\n"
	"dialing sides are dialed, then connections are accepted.\n"
	"\n"
	"relay stops when a peer goes away (exit 0), after COUNT messages, on\n"
	"Ctrl-C/SIGTERM (endpoints removed, dies of the signal) or on an error\n"
	"(exit 1). A FIFO listener never sees its writers go away, so a relay\n"
	"from one runs until stopped.\n"
	"\n"
	"options:\n"
	"  -a, --listen-a      create endpoint A instead of dialing it\n"
	"  -b, --listen-b      create endpoint B instead of dialing it\n"
	"  -n, --count COUNT   stop after COUNT messages (both directions; 0, the\n"
	"                      default, means no limit)\n"
	"  -t, --timeout MS    wait at most MS ms for each endpoint and peer while\n"
	"                      setting up (-1 forever, the default)\n"
	"  -p, --print-address print each created endpoint's address on a line of\n"
	"                      its own to stderr (A before B)\n"
	"\n"
	"exit status: 0 a peer went away or COUNT reached, 1 failure (one line\n"
	"on stderr), 2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit relay --listen-a unix:/tmp/front.sock fifo:/tmp/jobs\n"
	"  ipckit relay --listen-a tcp://0.0.0.0:5555 unix:/run/app.sock\n"
	"  ipckit relay --listen-a 'fifo:/tmp/in?raw' tcp://10.0.0.2:7000\n",
};
