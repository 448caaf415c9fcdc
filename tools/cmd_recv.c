/* ipckit recv: receive messages and write them to stdout. */
#define _GNU_SOURCE
#include "cli_chan.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_recv;

enum out_mode { OUT_DEFAULT, OUT_LINES, OUT_RAW, OUT_HEX };

struct recv_opts {
	long count; /* 0: until the peer goes away (or forever) */
	int timeout;
	bool dial;
	enum out_mode mode;
	bool meta;
	long type;
	bool print_address;
};

static void hexdump(FILE *o, const unsigned char *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		fprintf(o, "%08zx  ", off);
		for (size_t i = 0; i < 16; i++) {
			if (off + i < n)
				fprintf(o, "%02x ", p[off + i]);
			else
				fputs("   ", o);
			if (i == 7)
				fputc(' ', o);
		}
		fputs(" |", o);
		for (size_t i = 0; i < 16 && off + i < n; i++)
			fputc(isprint(p[off + i]) ? p[off + i] : '.', o);
		fputs("|\n", o);
	}
	fprintf(o, "%08zx\n", n); /* the length closes each message */
}

/* Write one message; false if stdout failed. */
static bool emit(const struct recv_opts *o, const void *buf, size_t n,
                 const ipk_msginfo *info)
{
	if (o->meta) {
		printf("# len=%zu type=%ld prio=%u pid=%ld uid=%lu", n, info->type,
		       info->prio, (long)info->pid, (unsigned long)info->uid);
		/* a subscriber that fell behind a shared-memory publisher */
		if (info->missed)
			printf(" missed=%llu", (unsigned long long)info->missed);
		putchar('\n');
	}
	switch (o->mode) {
	case OUT_HEX:
		hexdump(stdout, buf, n);
		break;
	case OUT_RAW:
		cli_write(stdout, buf, n);
		break;
	default:
		cli_write(stdout, buf, n);
		putchar('\n');
		break;
	}
	return fflush(stdout) == 0 && !ferror(stdout);
}

static int parse(int argc, char **argv, struct recv_opts *o, const char **url)
{
	static const struct option longs[] = {
		{"count", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"dial", no_argument, NULL, 'd'},
		{"lines", no_argument, NULL, 'l'},
		{"raw", no_argument, NULL, 'r'},
		{"hex", no_argument, NULL, 'x'},
		{"meta", no_argument, NULL, 'm'},
		{"type", required_argument, NULL, 'T'},
		{"print-address", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct recv_opts){.timeout = -1};
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":n:t:dlrxmT:ph", longs, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (!cli_parse_int(optarg, 0, LONG_MAX, &o->count))
				return cli_usage("recv", "bad count '%s' (0 or more)", optarg);
			break;
		case 't':
			if (!cli_parse_timeout(optarg, &o->timeout))
				return cli_usage("recv", "bad timeout '%s' (ms, -1 forever)",
				                 optarg);
			break;
		case 'd': o->dial = true; break;
		case 'l': o->mode = OUT_LINES; break;
		case 'r': o->mode = OUT_RAW; break;
		case 'x': o->mode = OUT_HEX; break;
		case 'm': o->meta = true; break;
		case 'T':
			if (!cli_parse_int(optarg, LONG_MIN + 1, LONG_MAX, &o->type))
				return cli_usage("recv", "bad type '%s'", optarg);
			break;
		case 'p': o->print_address = true; break;
		case 'h': return -1;
		default: return cli_bad_option("recv", argv, ch);
		}
	}
	if (optind >= argc)
		return cli_usage("recv", "missing URL");
	if (optind + 1 < argc)
		return cli_usage("recv", "unexpected argument '%s'", argv[optind + 1]);
	*url = argv[optind];
	/* a byte stream has no message boundaries to mark */
	if (o->mode == OUT_DEFAULT)
		o->mode = cli_url_raw(*url) ? OUT_RAW : OUT_LINES;
	return 0;
}

static int timed_out(const char *url, int err, int timeout, const char *what)
{
	if (err == -EAGAIN)
		return cli_fail("recv", url, "no %s waiting", what);
	return cli_fail("recv", url, "no %s within %d ms", what, timeout);
}

static int recv_run(int argc, char **argv)
{
	struct recv_opts o;
	const char *url = NULL;
	int rc = parse(argc, argv, &o, &url);
	if (rc < 0)
		return cli_help(&cli_cmd_recv);
	if (rc > 0)
		return rc;

	signal(SIGPIPE, SIG_IGN); /* a closed stdout is reported, not fatal */
	cli_catch_signals();
	struct cli_end e = {.url = url, .listen = !o.dial, .or_attach = !o.dial};
	rc = cli_end_open(&e, o.timeout, o.print_address);
	if (rc < 0) {
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			return cli_exit(timed_out(url, rc, o.timeout, "endpoint"));
		if (rc == CLI_STOPPED)
			return cli_exit(1);
		return cli_fail("recv", url, "%s", cli_why(rc));
	}
	int status = 0;
	long got = 0;
	while (!cli_stopped && (o.count == 0 || got < o.count)) {
		rc = cli_end_connect(&e, o.timeout);
		if (rc < 0) {
			if (rc == CLI_STOPPED)
				break;
			status = rc == -ETIMEDOUT || rc == -EAGAIN
			                 ? timed_out(url, rc, o.timeout, "connection")
			                 : cli_fail("recv", url, "%s", cli_why(rc));
			break;
		}
		void *buf = NULL;
		ipk_msginfo info = {.type = o.type};
		ssize_t n = cli_recv(e.chan, &buf, &info, o.timeout);
		if (n >= 0) {
			got++;
			bool ok = emit(&o, buf, (size_t)n, &info);
			free(buf);
			if (!ok) {
				if (errno != EPIPE) /* the reader left: nothing to say */
					status = cli_fail("recv", NULL, "writing to stdout: %s",
					                  strerror(errno));
				break;
			}
			continue;
		}
		if (n == CLI_STOPPED)
			break;
		if (n == -EPIPE) {
			if (o.count == 0)
				break; /* until the peer goes away */
			if (cli_end_drop(&e))
				continue; /* a listener takes the next peer */
			status = cli_fail("recv", url,
			                  "peer went away after %ld of %ld messages", got,
			                  o.count);
			break;
		}
		if (n == -ETIMEDOUT || n == -EAGAIN)
			status = timed_out(url, (int)n, o.timeout, "message");
		else
			status = cli_fail("recv", url, "%s", cli_why((int)n));
		break;
	}
	cli_end_close(&e);
	return cli_exit(status);
}

const struct ipk_cmd cli_cmd_recv = {
	.name = "recv",
	.args = "URL [-n COUNT] [OPTIONS]",
	.summary = "receive messages and print them",
	.run = recv_run,
	.help =
	"By default recv LISTENS: it creates the endpoint (the FIFO, socket,\n"
	"queue...) and removes it again when it exits. A queue or ring that\n"
	"already exists (made by another program, ipcmk -Q...) is attached to\n"
	"instead, and left in place. On unix: and tcp: it accepts one\n"
	"connection at a time and takes the next one when a peer leaves, until\n"
	"COUNT messages have arrived. Use --dial to attach only, never create\n"
	"(a 'send --listen' peer).\n"
	"\n"
	"Each message is written to stdout followed by a newline. Output is\n"
	"binary-safe: message bytes are written as they are.\n"
	"\n"
	"options:\n"
	"  -n, --count COUNT   stop after COUNT messages (default 0: until the\n"
	"                      peer goes away; forever where there are no peers,\n"
	"                      as on fifo:, unixgram: and queues)\n"
	"  -t, --timeout MS    wait at most MS ms for each message (and for a\n"
	"                      connection); -1 waits forever (default), 0 only\n"
	"                      takes what is already there\n"
	"  -d, --dial          attach to an existing endpoint instead of creating it\n"
	"  -r, --raw           write the bytes exactly as received, no separator\n"
	"                      (the default for ?raw byte-stream addresses)\n"
	"  -l, --lines         a newline after each message even for ?raw\n"
	"  -x, --hex           a hex dump per message, ending with a line that\n"
	"                      holds the message length\n"
	"  -m, --meta          before each message a line\n"
	"                      '# len=N type=T prio=P pid=PID uid=UID'\n"
	"                      (pid/uid are 0 where the mechanism does not tell),\n"
	"                      ' missed=M' added when a ?proto=sub channel lost\n"
	"                      M messages just before this one\n"
	"  -T, --type N        sysvmq: which message to take: 0 the first,\n"
	"                      N>0 the first of type N, N<0 the lowest type <= |N|\n"
	"  -p, --print-address once listening, print the endpoint's address on a\n"
	"                      line of its own to stderr (tcp: port 0 picks a\n"
	"                      free port; this tells which)\n"
	"\n"
	"Ctrl-C (or SIGTERM) ends recv cleanly: the endpoint it created is\n"
	"removed and it dies of the signal (shell status 130 for Ctrl-C).\n"
	"\n"
	"exit status: 0 all messages received (or the peer went away with\n"
	"-n 0), 1 failure or timeout (one line on stderr), 2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit recv fifo:/tmp/jobs -n 1\n"
	"  ipckit recv 'fifo:/tmp/log?raw'        # then: echo hello > /tmp/log\n"
	"  ipckit recv tcp://127.0.0.1:0 --print-address --hex\n"
	"  ipckit recv unix:/tmp/app.sock --meta -n 10 --timeout 5000\n"
	"  ipckit recv --dial sysvmq:0x66001234 --type 3\n",
};
