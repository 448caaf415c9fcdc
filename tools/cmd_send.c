/* ipckit send: send the arguments (or stdin) as messages. */
#define _GNU_SOURCE
#include "cli_chan.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_send;

struct send_opts {
	int timeout;
	bool listen;
	bool whole;
	bool print_address;
	bool no_newline;
	bool has_type, has_prio;
	long count; /* each message this many times */
	ipk_msginfo info;
};

struct sender {
	const struct send_opts *o;
	const char *url;
	ipk_chan *chan;
	bool raw; /* ?raw: a byte stream, so lines keep their newline and each
	             argument is written as a line of its own */
};

/* A timeout's account: ours, then the library's (what was full, how full). */
static int timed_out(const char *url, long err, const char *what, int timeout)
{
	const char *d = cli_timeout_detail();
	if (err == -EAGAIN)
		return cli_fail("send", url, "%s (--timeout 0: not waiting)%s%s",
		                what, d ? ": " : "", d ? d : "");
	return cli_fail("send", url, "%s within %d ms%s%s", what, timeout,
	                d ? ": " : "", d ? d : "");
}

/* Send one message count times; 0, or the exit status after cli_fail. */
static int put2(struct sender *s, const void *buf, size_t len,
                const void *tail, size_t tlen)
{
	char *joined = NULL;
	if (tlen > 0) { /* one write, so a concurrent writer cannot split it */
		joined = malloc(len + tlen);
		if (joined == NULL)
			return cli_fail("send", s->url, "out of memory");
		memcpy(joined, buf, len);
		memcpy(joined + len, tail, tlen);
		buf = joined;
		len += tlen;
	}
	int status = 0;
	for (long i = 0; i < s->o->count && status == 0; i++) {
		ssize_t n = cli_send(s->chan, buf, len, &s->o->info, s->o->timeout);
		if (n >= 0)
			continue;
		if (n == CLI_STOPPED)
			status = 1;
		else if (n == -ETIMEDOUT || n == -EAGAIN)
			status = timed_out(s->url, n, n == -EAGAIN
			                                      ? "the peer cannot take the message now"
			                                      : "the peer did not take the message",
			                   s->o->timeout);
		else
			status = cli_fail("send", s->url, "%s", cli_why((int)n));
	}
	free(joined);
	return status;
}

static int put(struct sender *s, const void *buf, size_t len)
{
	return put2(s, buf, len, NULL, 0);
}

static int send_stdin_whole(struct sender *s)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL)
		return cli_fail("send", s->url, "out of memory");
	for (;;) {
		if (len == cap) {
			char *p = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (p == NULL) {
				free(buf);
				return cli_fail("send", s->url, "out of memory reading stdin");
			}
			buf = p;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len, stdin);
		len += n;
		if (n == 0) {
			if (ferror(stdin) && errno == EINTR && !cli_stopped) {
				clearerr(stdin);
				continue;
			}
			break;
		}
	}
	int rc = 0;
	if (cli_stopped)
		rc = 1;
	else if (ferror(stdin))
		rc = cli_fail("send", s->url, "reading stdin: %s", strerror(errno));
	else
		rc = put(s, buf, len);
	free(buf);
	return rc;
}

static int send_stdin_lines(struct sender *s)
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
				rc = cli_fail("send", s->url, "reading stdin: %s",
				              strerror(errno));
			break;
		}
		if (!s->raw && n > 0 && line[n - 1] == '\n')
			n--;
		if ((rc = put(s, line, (size_t)n)) != 0)
			break;
	}
	free(line);
	return rc;
}

/* Refuse what cannot work or means nothing, before anything is opened. */
static int check(const struct send_opts *o, const char *url, char **msgs,
                 int nmsgs)
{
	const struct cli_kind *k = cli_kind_of(url);
	int rc = cli_check_addressable("send", url);
	if (rc != 0)
		return rc;
	if (o->has_type && k != NULL && !k->has_type)
		return cli_usage("send", "--type is for sysvmq: (message types); "
		                 "%s messages have none", k->scheme);
	if (o->has_prio && k != NULL && !k->has_prio)
		return cli_usage("send", "--prio is for mq: (message priorities); "
		                 "%s messages have none", k->scheme);
	if (o->print_address && !o->listen)
		return cli_usage("send", "--print-address prints the endpoint that "
		                 "--listen creates; without --listen send creates "
		                 "nothing");
	if (o->no_newline && !cli_url_raw(url))
		return cli_usage("send", "--no-newline is for ?raw byte-stream "
		                 "addresses; framed messages carry no newline");
	bool reads_stdin = nmsgs == 0;
	for (int i = 0; i < nmsgs; i++)
		reads_stdin |= strcmp(msgs[i], "-") == 0;
	if (o->whole && !reads_stdin)
		return cli_usage("send", "--whole makes all of stdin one message, "
		                 "but the messages are all arguments (add '-' to "
		                 "read stdin)");
	if (o->listen && k != NULL) {
		if (!(k->listen_caps & CLI_SEND))
			return cli_usage("send", "the listener of %s %s: send dials it "
			                 "(drop --listen and start 'ipckit recv %s' "
			                 "first)", k->scheme,
			                 k->listener_does ? k->listener_does
			                                  : "does not send", url);
		if (k->queue && !cli_url_flag(url, "persist"))
			return cli_usage("send", "--listen on a queue removes it, and "
			                 "the messages still in it, when send exits; add "
			                 "?persist to the address to leave them for a "
			                 "reader");
	}
	return 0;
}

static int parse(int argc, char **argv, struct send_opts *o)
{
	static const struct option longs[] = {
		{"timeout", required_argument, NULL, 't'},
		{"listen", no_argument, NULL, 'l'},
		{"whole", no_argument, NULL, 'w'},
		{"type", required_argument, NULL, 'T'},
		{"prio", required_argument, NULL, 'P'},
		{"count", required_argument, NULL, 'c'},
		{"print-address", no_argument, NULL, 'p'},
		{"no-newline", no_argument, NULL, 'N'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct send_opts){.timeout = -1, .count = 1};
	opterr = 0;
	optind = 1;
	int ch;
	long v;
	while ((ch = getopt_long(argc, argv, ":t:lwT:P:c:pNqh", longs, NULL)) !=
	       -1) {
		switch (ch) {
		case 't':
			if (!cli_parse_timeout(optarg, &o->timeout))
				return cli_usage("send", "bad timeout '%s' (ms, -1 forever)",
				                 optarg);
			break;
		case 'l': o->listen = true; break;
		case 'w': o->whole = true; break;
		case 'T':
			if (!cli_parse_int(optarg, 0, LONG_MAX, &o->info.type))
				return cli_usage("send", "bad type '%s' (1 or more)", optarg);
			o->has_type = true;
			break;
		case 'P':
			if (!cli_parse_int(optarg, 0, UINT32_MAX >> 1, &v))
				return cli_usage("send", "bad priority '%s'", optarg);
			o->info.prio = (unsigned)v;
			o->has_prio = true;
			break;
		case 'c':
			if (!cli_parse_int(optarg, 1, LONG_MAX, &o->count))
				return cli_usage("send", "bad count '%s' (1 or more)", optarg);
			break;
		case 'p': o->print_address = true; break;
		case 'N': o->no_newline = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': return -1;
		default: return cli_bad_option("send", argv, ch);
		}
	}
	if (optind >= argc)
		return cli_usage("send", "missing URL");
	return check(o, argv[optind], argv + optind + 1, argc - optind - 1);
}

static int send_run(int argc, char **argv)
{
	struct send_opts o;
	int rc = parse(argc, argv, &o);
	if (rc < 0)
		return cli_help(&cli_cmd_send);
	if (rc > 0)
		return rc;
	const char *url = argv[optind];
	char **msgs = argv + optind + 1;
	int nmsgs = argc - optind - 1;

	cli_catch_signals();
	struct cli_end e = {.url = url, .listen = o.listen};
	rc = cli_end_open(&e, o.timeout, o.print_address);
	if (rc == 0)
		rc = cli_end_connect(&e, o.timeout);
	if (rc < 0) {
		int status = 1;
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			status = timed_out(url, rc, "no peer", o.timeout);
		else if (rc != CLI_STOPPED)
			status = cli_fail("send", url, "%s", cli_why(rc));
		cli_end_close(&e);
		return cli_exit(status);
	}
	struct sender s = {.o = &o, .url = url, .chan = e.chan,
	                   .raw = cli_url_raw(url)};
	int status = 0;
	static char *const dash[] = {"-"};
	if (nmsgs == 0) {
		msgs = (char **)dash;
		nmsgs = 1;
	}
	for (int i = 0; i < nmsgs && status == 0 && !cli_stopped; i++) {
		if (strcmp(msgs[i], "-") == 0)
			status = o.whole ? send_stdin_whole(&s) : send_stdin_lines(&s);
		else if (s.raw && !o.no_newline) /* as echo and printf '%s\n' do */
			status = put2(&s, msgs[i], strlen(msgs[i]), "\n", 1);
		else
			status = put(&s, msgs[i], strlen(msgs[i]));
	}
	/* close flushes what a stream still holds */
	ipk_chan *c = e.chan;
	e.chan = NULL;
	rc = ipk_close(c);
	if (rc < 0 && status == 0 && !cli_stopped)
		status = cli_fail("send", url, "%s", ipk_last_error());
	cli_end_close(&e);
	return cli_exit(status);
}

const struct ipk_cmd cli_cmd_send = {
	.name = "send",
	.args = "URL [MESSAGE...]",
	.summary = "send messages (arguments or stdin lines)",
	.run = send_run,
	.help =
	"Each MESSAGE argument is sent as one message. With no MESSAGE, or for\n"
	"a MESSAGE of '-', stdin is read: each line is one message (without\n"
	"its newline), or with --whole all of stdin is one message. Reading is\n"
	"binary-safe: NUL bytes and a last line without a newline are kept.\n"
	"For a ?raw byte-stream address each argument is written as a line, as\n"
	"echo and printf '%s\\n' do ('send fifo:/x?raw hello world' writes\n"
	"'hello\\nworld\\n'), and stdin lines keep their newline, so\n"
	"'ipckit send fifo:/tmp/log?raw < file' copies the file unchanged.\n"
	"\n"
	"By default send dials an existing endpoint, waiting for it to appear\n"
	"within the timeout; after about a second of waiting it says so on a\n"
	"terminal (--quiet: not). With --listen it creates the endpoint,\n"
	"accepts one connection on unix:/tcp:, sends, and removes the endpoint\n"
	"on exit. --listen is refused where the listener only receives (fifo:,\n"
	"signal:, rings) and on a queue without ?persist, which would be\n"
	"removed with the messages in it.\n"
	"\n"
	"options:\n"
	"  -t, --timeout MS    wait at most MS ms for the endpoint (or the\n"
	"                      connection) and for each message to be taken;\n"
	"                      -1 waits forever (default), 0 never waits\n"
	"  -l, --listen        create the endpoint and wait for a peer instead of\n"
	"                      dialing (the peer runs 'ipckit recv --dial')\n"
	"  -w, --whole         all of stdin is one message\n"
	"  -T, --type N        sysvmq: message type (default 1)\n"
	"  -P, --prio N        mq: message priority (default 0)\n"
	"  -c, --count N       send each message N times (default 1)\n"
	"  -N, --no-newline    ?raw: write the arguments without a newline each\n"
	"  -p, --print-address with --listen: print the endpoint's address on a\n"
	"                      line of its own to stderr\n"
	"  -q, --quiet         no notice on a terminal while waiting for the\n"
	"                      endpoint\n"
	"Options that mean nothing for the address (--type but not sysvmq:,\n"
	"--prio but not mq:, --no-newline without ?raw) are refused.\n"
	"\n"
	"exit status: 0 every message was sent, 1 failure or timeout (one line\n"
	"on stderr: what send waited for, then the library's account, e.g.\n"
	"which queue is full and how full), 2 usage error. Ctrl-C stops cleanly\n"
	"(endpoint removed); a signal send was started with ignored (nohup, a\n"
	"background job) stays ignored.\n"
	"\n"
	"examples:\n"
	"  ipckit send fifo:/tmp/jobs hello world      # two messages\n"
	"  printf 'a\\nb\\n' | ipckit send unix:/tmp/app.sock\n"
	"  ipckit send --whole tcp://127.0.0.1:5555 < image.png\n"
	"  ipckit send --type 3 sysvmq:0x66001234 job\n"
	"  ipckit send --listen unix:@hello hi         # peer: recv --dial unix:@hello\n",
};
