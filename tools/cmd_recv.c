/* ipckit recv: receive messages and write them to stdout. */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_json.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct ipk_cmd cli_cmd_recv;

enum out_mode { OUT_DEFAULT, OUT_LINES, OUT_RAW, OUT_HEX, OUT_JSON };

struct recv_opts {
	long count; /* 0: no limit */
	int timeout;
	int idle;   /* -1: not asked */
	bool dial;
	enum out_mode mode;
	int nmodes; /* output formats asked for: more than one is an error */
	bool meta;
	long type;
	bool has_type;
	bool print_address;
};

/* Connections served at once on unix:/tcp:; more wait in the backlog. */
#define MAX_PEERS 1000
/* Longest single wait, so a signal is noticed promptly. */
#define SLICE_MS 200

#define NEVER INT64_MAX

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t after(int ms)
{
	return ms < 0 ? NEVER : now_ns() + (int64_t)ms * 1000000;
}

/* ------------------------------------------------------------ output */

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

/* One JSON object per message, on one line (docs/cli.md has the schema). */
static void json(FILE *o, const struct cli_kind *k, const void *buf, size_t n,
                 const ipk_msginfo *info, unsigned conn)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(o, "{\"time\": %lld.%06ld, \"size\": %zu", (long long)ts.tv_sec,
	        ts.tv_nsec / 1000, n);
	bool typed = k != NULL && (k->has_type || strcmp(k->scheme, "signal") == 0);
	if (typed)
		fprintf(o, ", \"type\": %ld", info->type);
	else
		fputs(", \"type\": null", o);
	if (k != NULL && k->has_prio)
		fprintf(o, ", \"prio\": %u", info->prio);
	else
		fputs(", \"prio\": null", o);
	/* a pid of 0 means the mechanism did not say who sent it */
	if (info->pid > 0)
		fprintf(o, ", \"pid\": %ld, \"uid\": %lu", (long)info->pid,
		        (unsigned long)info->uid);
	else
		fputs(", \"pid\": null, \"uid\": null", o);
	if (conn > 0)
		fprintf(o, ", \"conn\": %u", conn);
	else
		fputs(", \"conn\": null", o);
	if (cli_utf8_valid(buf, n)) {
		fputs(", \"encoding\": \"utf-8\", \"data\": ", o);
		cli_json_str(o, buf, n);
	} else {
		fputs(", \"encoding\": \"base64\", \"data\": ", o);
		cli_json_base64(o, buf, n);
	}
	/* data cut short (a signal interrupted a write): no closing brace, so
	   the line does not parse as a record that looks whole */
	if (!ferror(o))
		fputs("}\n", o);
}

/* Write one message; false if stdout failed. */
static bool emit(const struct recv_opts *o, const struct cli_kind *k,
                 const void *buf, size_t n, const ipk_msginfo *info,
                 unsigned conn)
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
	case OUT_JSON:
		json(stdout, k, buf, n, info, conn);
		break;
	default:
		/* cut short: no newline, which would make it look whole */
		if (cli_write(stdout, buf, n))
			putchar('\n');
		break;
	}
	return fflush(stdout) == 0 && !ferror(stdout);
}

/* ------------------------------------------------------------ options */

static int parse(int argc, char **argv, struct recv_opts *o, const char **url)
{
	static const struct option longs[] = {
		{"count", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"idle", required_argument, NULL, 'i'},
		{"dial", no_argument, NULL, 'd'},
		{"lines", no_argument, NULL, 'l'},
		{"raw", no_argument, NULL, 'r'},
		{"hex", no_argument, NULL, 'x'},
		{"json", no_argument, NULL, 'j'},
		{"meta", no_argument, NULL, 'm'},
		{"type", required_argument, NULL, 'T'},
		{"print-address", no_argument, NULL, 'p'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct recv_opts){.timeout = -1, .idle = -1};
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":n:t:i:dlrxjmT:pqh", longs, NULL)) !=
	       -1) {
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
		case 'i':
			if (!cli_parse_timeout(optarg, &o->idle) || o->idle < 0)
				return cli_usage("recv", "bad idle time '%s' (ms, 0 or more)",
				                 optarg);
			break;
		case 'd': o->dial = true; break;
		case 'l': o->mode = OUT_LINES; o->nmodes++; break;
		case 'r': o->mode = OUT_RAW; o->nmodes++; break;
		case 'x': o->mode = OUT_HEX; o->nmodes++; break;
		case 'j': o->mode = OUT_JSON; o->nmodes++; break;
		case 'm': o->meta = true; break;
		case 'T':
			if (!cli_parse_int(optarg, LONG_MIN + 1, LONG_MAX, &o->type))
				return cli_usage("recv", "bad type '%s'", optarg);
			o->has_type = true;
			break;
		case 'p': o->print_address = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': return -1;
		default: return cli_bad_option("recv", argv, ch);
		}
	}
	if (optind >= argc)
		return cli_usage("recv", "missing URL");
	if (optind + 1 < argc)
		return cli_usage("recv", "unexpected argument '%s'", argv[optind + 1]);
	*url = argv[optind];
	const struct cli_kind *k = cli_kind_of(*url);
	int rc = cli_check_addressable("recv", *url);
	if (rc != 0)
		return rc;
	if (o->nmodes > 1)
		return cli_usage("recv", "--raw, --lines, --hex and --json each choose "
		                 "how messages are written: give one");
	if (o->meta && o->mode == OUT_JSON)
		return cli_usage("recv", "--json already carries each message's "
		                 "metadata: drop --meta");
	if (o->has_type && k != NULL && !k->has_type)
		return cli_usage("recv", "--type selects sysvmq: messages by type; "
		                 "%s messages have none", k->scheme);
	if (o->print_address && o->dial)
		return cli_usage("recv", "--print-address prints the endpoint recv "
		                 "creates; with --dial it creates nothing");
	/* with ?proto= the pattern decides who receives (the library says) */
	if (k != NULL && !cli_url_flag(*url, "proto") &&
	    !((o->dial ? k->dial_caps : k->listen_caps) & CLI_RECV))
		return cli_usage("recv", "a %s %s does not receive: %s",
		                 k->scheme, o->dial ? "dialer" : "listener",
		                 o->dial ? "drop --dial (recv listens by default)"
		                         : k->listener_does);
	/* a byte stream has no message boundaries to mark */
	if (o->mode == OUT_DEFAULT)
		o->mode = cli_url_raw(*url) ? OUT_RAW : OUT_LINES;
	return 0;
}

/* ------------------------------------------------------------ peers */

/* The channels messages come from: one, or every connection of a
   unix:/tcp: listener. */
struct peers {
	ipk_chan **c;
	unsigned *id; /* connection number, 1 for the first accepted */
	/* its last receive was refused as a protocol error (PEER_BAD, or
	   PEER_BAD_SAID when the library's words already named ?raw): if the
	   library closed it for that, the drop says why */
	unsigned char *bad;
	size_t n, cap;
	unsigned next_id;
};

static bool peers_add(struct peers *p, ipk_chan *c, unsigned id)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		ipk_chan **nc = realloc(p->c, cap * sizeof *nc);
		if (nc == NULL)
			return false;
		p->c = nc;
		unsigned *ni = realloc(p->id, cap * sizeof *ni);
		if (ni == NULL)
			return false;
		p->id = ni;
		unsigned char *nb = realloc(p->bad, cap);
		if (nb == NULL)
			return false;
		p->bad = nb;
		p->cap = cap;
	}
	p->c[p->n] = c;
	p->bad[p->n] = 0;
	p->id[p->n++] = id;
	return true;
}

static void peers_drop(struct peers *p, size_t i)
{
	ipk_close(p->c[i]);
	p->n--;
	p->c[i] = p->c[p->n];
	p->id[i] = p->id[p->n];
	p->bad[i] = p->bad[p->n];
}

/* ------------------------------------------------------------ receive */

struct run {
	const struct recv_opts *o;
	const struct cli_kind *k;
	const char *url;
	ipk_chan *listener; /* unix:/tcp:, else NULL */
	struct peers peers;
	long got;
	bool connected;     /* a connection came at some point */
	bool emfile;        /* out of descriptors: accept later */
	int status;         /* -1 while going on */
};

enum { GOING = -1 };

/* A message arrived; false once recv is done. */
static bool deliver(struct run *r, void *buf, size_t n, const ipk_msginfo *info,
                    unsigned conn)
{
	r->got++;
	bool ok = emit(r->o, r->k, buf, n, info, conn);
	free(buf);
	if (!ok) {
		/* the reader left, or a signal stopped us in the write (we die
		   of it): nothing to say */
		if (errno != EPIPE && !cli_stopped)
			r->status = cli_fail("recv", NULL, "writing to stdout: %s",
			                     strerror(errno));
		else
			r->status = 0;
		return false;
	}
	if (r->o->count > 0 && r->got >= r->o->count) {
		r->status = 0;
		return false;
	}
	return true;
}

enum { PEER_BAD = 1, PEER_BAD_SAID = 2 };

/* What a framed listener says when it dropped a peer whose bytes made no
   sense (the library closed the connection for it, or refused its
   handshake). */
#define RAW_HINT " (a plain program writing into a framed endpoint? listen " \
                 "with ?raw for those)"

static const char *raw_hint(void)
{
	return strstr(ipk_last_error(), "?raw") ? "" : RAW_HINT;
}

/* Take the connections that are ready; true if one came. */
static bool take_connections(struct run *r)
{
	bool came = false;
	while (r->peers.n < MAX_PEERS) {
		ipk_chan *c;
		int rc = ipk_accept(r->listener, &c, 0);
		if (rc == 0) {
			if (!peers_add(&r->peers, c, ++r->peers.next_id)) {
				ipk_close(c);
				r->status = cli_fail("recv", r->url, "out of memory");
				return came;
			}
			r->connected = came = true;
			continue;
		}
		if (rc == -EAGAIN || rc == -ETIMEDOUT)
			return came;
		if (rc == -EMFILE || rc == -ENFILE) {
			if (!r->emfile)
				fprintf(stderr, "ipckit: recv %s: %s; new connections wait "
				                "until a peer leaves\n", r->url,
				        ipk_last_error());
			r->emfile = true;
			return came;
		}
		/* one peer that failed (gave up, spoke something else): the
		   others are served as before */
		if (rc == -EPROTO || rc == -EMSGSIZE)
			fprintf(stderr, "ipckit: recv %s: dropped a connection: %s%s\n",
			        r->url, ipk_last_error(), raw_hint());
		else if (rc != -ECONNRESET && rc != -ECONNABORTED && rc != -EPIPE) {
			r->status = cli_fail("recv", r->url, "%s", ipk_last_error());
			return came;
		}
	}
	return came;
}

/* Receive what peer i has; true if a message came. */
static bool take_message(struct run *r, size_t i, int wait_ms)
{
	void *buf = NULL;
	ipk_msginfo info = {.type = r->o->type};
	ssize_t n = ipk_recv_alloc(r->peers.c[i], &buf, &info, wait_ms);
	if (n >= 0) {
		unsigned conn = r->listener ? r->peers.id[i] : 0;
		if (r->listener)
			r->peers.bad[i] = 0;
		deliver(r, buf, (size_t)n, &info, conn);
		return true;
	}
	if (n == -EAGAIN || n == -ETIMEDOUT)
		return false;
	if (r->listener != NULL && (n == -EPROTO || n == -EMSGSIZE)) {
		/* a message refused (a bad memfd on ?large, one over ?maxmsg):
		   said once, and the connection goes on; if the library closed
		   it for that (framing lost), the next receive says so */
		fprintf(stderr, "ipckit: recv %s: connection %u: %s\n", r->url,
		        r->peers.id[i], ipk_last_error());
		r->peers.bad[i] = strstr(ipk_last_error(), "?raw") ? PEER_BAD_SAID
		                                                    : PEER_BAD;
		return false;
	}
	if (r->listener != NULL) { /* one connection ends; the others go on */
		unsigned char bad = r->peers.bad[i];
		if (bad && n == -EPIPE)
			fprintf(stderr, "ipckit: recv %s: dropped connection %u after "
			                "that error%s\n",
			        r->url, r->peers.id[i], bad == PEER_BAD ? RAW_HINT : "");
		else if (n != -EPIPE && n != -ECONNRESET)
			fprintf(stderr, "ipckit: recv %s: dropped connection %u: %s\n",
			        r->url, r->peers.id[i], ipk_last_error());
		peers_drop(&r->peers, i);
		r->emfile = false;
		return false;
	}
	/* bytes that were not a message (a plain program writing text into a
	   framed FIFO or socket, a writer killed mid-message, a FIFO message
	   over the limit): the library dropped them and says so, and the
	   stream goes on with the next message */
	bool fifo = r->k != NULL && strcmp(r->k->scheme, "fifo") == 0;
	bool stream = fifo || (r->k != NULL && r->k->connections);
	if ((n == -EPROTO && stream) || (n == -EMSGSIZE && fifo)) {
		fprintf(stderr, "ipckit: recv %s: %s\n", r->url, ipk_last_error());
		return false;
	}
	if (n == -EPIPE) { /* the one peer went away */
		if (r->o->count == 0)
			r->status = 0;
		else
			r->status = cli_fail("recv", r->url,
			                     "peer went away after %ld of %ld messages",
			                     r->got, r->o->count);
		return false;
	}
	r->status = cli_fail("recv", r->url, "%s", ipk_last_error());
	return false;
}

/* A --timeout ran out. */
static int timed_out(struct run *r, bool deadline_was_now)
{
	const struct recv_opts *o = r->o;
	if (r->got > 0 && o->count == 0)
		return 0; /* drained: what came is what there was */
	const char *what = r->listener && !r->connected ? "connection" : "message";
	char got[64] = "";
	if (r->got > 0)
		snprintf(got, sizeof got, " (got %ld of %ld)", r->got, o->count);
	if (deadline_was_now)
		return cli_fail("recv", r->url, "no %s waiting%s", what, got);
	return cli_fail("recv", r->url, "no %s within %d ms%s", what, o->timeout,
	                got);
}

static int serve(struct run *r)
{
	const struct recv_opts *o = r->o;
	int64_t t_msg = after(o->timeout), t_idle = after(o->idle);
	ipk_pollitem *items = NULL;
	size_t items_cap = 0;
	r->status = GOING;
	while (r->status == GOING) {
		if (cli_stopped)
			break;
		size_t k = r->peers.n + (r->listener != NULL);
		if (k > items_cap) {
			ipk_pollitem *ni = realloc(items, k * 2 * sizeof *ni);
			if (ni == NULL) {
				r->status = cli_fail("recv", r->url, "out of memory");
				break;
			}
			items = ni;
			items_cap = k * 2;
		}
		size_t m = 0;
		for (size_t i = 0; i < r->peers.n; i++)
			items[m++] = (ipk_pollitem){.chan = r->peers.c[i],
			                            .events = IPK_POLLIN};
		bool poll_listener = r->listener != NULL && !r->emfile &&
		                     r->peers.n < MAX_PEERS;
		if (poll_listener)
			items[m++] = (ipk_pollitem){.chan = r->listener,
			                            .events = IPK_POLLIN};
		int64_t until = t_msg < t_idle ? t_msg : t_idle;
		int wait = SLICE_MS;
		if (until != NEVER) {
			int64_t left = until - now_ns();
			wait = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
			if (wait > SLICE_MS)
				wait = SLICE_MS;
		}
		if (r->listener == NULL) {
			/* one channel: the library's own wait suits its mechanism
			   (a queue selected by type has no descriptor to poll) */
			if (take_message(r, 0, wait)) {
				t_msg = after(o->timeout);
				t_idle = after(o->idle);
				continue;
			}
			if (r->status != GOING)
				break;
			int64_t now = now_ns();
			if (now >= t_idle)
				r->status = 0;
			else if (now >= t_msg)
				r->status = timed_out(r, o->timeout == 0);
			continue;
		}
		int rc = ipk_poll(items, m, wait);
		if (rc < 0) {
			r->status = cli_fail("recv", r->url, "%s", ipk_last_error());
			break;
		}
		/* messages first, from every connection that has one, then new
		   connections: a busy peer does not starve the others */
		bool progress = false;
		size_t np = r->peers.n;
		for (size_t i = np; i-- > 0 && r->status == GOING;) {
			if (!(items[i].revents & IPK_POLLIN))
				continue;
			if (take_message(r, i, 0)) {
				t_msg = after(o->timeout);
				t_idle = after(o->idle);
				progress = true;
			}
		}
		if (r->status != GOING)
			break;
		if (poll_listener && (items[m - 1].revents & IPK_POLLIN) &&
		    take_connections(r)) {
			t_msg = after(o->timeout);
			progress = true;
		}
		if (r->status != GOING || progress)
			continue; /* look again before deciding that time is up */
		int64_t now = now_ns();
		if (now >= t_idle)
			r->status = 0; /* idle: a normal end */
		else if (now >= t_msg)
			r->status = timed_out(r, o->timeout == 0);
	}
	free(items);
	return r->status == GOING ? 1 : r->status;
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
		if (rc == -ETIMEDOUT || rc == -EAGAIN) {
			const char *d = cli_timeout_detail();
			if (rc == -EAGAIN)
				rc = cli_fail("recv", url, "no endpoint waiting%s%s",
				              d ? ": " : "", d ? d : "");
			else
				rc = cli_fail("recv", url, "no endpoint within %d ms%s%s",
				              o.timeout, d ? ": " : "", d ? d : "");
			return cli_exit(rc);
		}
		if (rc == CLI_STOPPED)
			return cli_exit(1);
		return cli_fail("recv", url, "%s", cli_why(rc));
	}
	struct run r = {.o = &o, .k = cli_kind_of(url), .url = url,
	                .listener = e.listener};
	int status = 0;
	if (e.chan != NULL) {
		if (!peers_add(&r.peers, e.chan, e.listener ? ++r.peers.next_id : 0))
			status = cli_fail("recv", url, "out of memory");
		else
			r.connected = true;
		e.chan = NULL;
	}
	if (status == 0)
		status = serve(&r);
	while (r.peers.n > 0)
		peers_drop(&r.peers, r.peers.n - 1);
	free(r.peers.c);
	free(r.peers.id);
	free(r.peers.bad);
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
	"already exists is never removed with messages in it: one kept with\n"
	"?persist is taken over and left in place; one whose listener died is\n"
	"taken over and left in place while messages are in it; one made by\n"
	"another program (ipcmk -Q...) or with a live listener is attached to\n"
	"and left in place. On unix: and tcp: it serves every\n"
	"connection at once and keeps listening as peers come and go (like\n"
	"'nc -k -l'). Use --dial to attach only, never create (a\n"
	"'send --listen' peer); then recv ends when that peer goes away.\n"
	"\n"
	"Each message is written to stdout followed by a newline. Output is\n"
	"binary-safe: message bytes are written as they are.\n"
	"\n"
	"recv runs until one of these ends it:\n"
	"  -n COUNT messages have arrived                        exit 0\n"
	"  --idle MS passed without a message                    exit 0\n"
	"  --timeout MS passed without a message: with -n 0 and\n"
	"    something received (drained)                        exit 0\n"
	"    with nothing received, or fewer than COUNT           exit 1\n"
	"  the peer of a --dial (or the writer of a pipe) left:\n"
	"    with -n 0                                           exit 0\n"
	"    before COUNT messages                               exit 1\n"
	"  an error (one line on stderr)                         exit 1\n"
	"  Ctrl-C, SIGTERM or SIGHUP: the endpoint is removed and recv dies of\n"
	"    the signal (shell status 130 for Ctrl-C)\n"
	"Without -n, --timeout or --idle a listening recv runs until stopped:\n"
	"mailboxes (fifo:, unixgram:, queues, rings, signal:) and connection\n"
	"listeners keep waiting for the next sender.\n"
	"\n"
	"options:\n"
	"  -n, --count COUNT   stop after COUNT messages (default 0: no limit)\n"
	"  -t, --timeout MS    wait at most MS ms for each message (and for the\n"
	"                      endpoint or a connection); -1 waits forever\n"
	"                      (default), 0 only takes what is already there\n"
	"  -i, --idle MS       stop, successfully, once MS ms pass without a\n"
	"                      message (0: take what is there, then stop)\n"
	"  -d, --dial          attach to an existing endpoint instead of creating it\n"
	"  -r, --raw           write the bytes exactly as received, no separator\n"
	"                      (the default for ?raw byte-stream addresses)\n"
	"  -l, --lines         a newline after each message even for ?raw\n"
	"  -x, --hex           a hex dump per message, ending with a line that\n"
	"                      holds the message length\n"
	"  -j, --json          one JSON object per line per message: time, size,\n"
	"                      type, prio, pid, uid, conn, encoding (\"utf-8\" or\n"
	"                      \"base64\") and data (docs/cli.md has the schema)\n"
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
	"  -q, --quiet         no notice on a terminal while --dial waits for\n"
	"                      the endpoint to appear\n"
	"--raw, --lines, --hex and --json exclude each other, and --json --meta.\n"
	"\n"
	"exit status: 0 done (above), 1 failure or timeout (one line on stderr),\n"
	"2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit recv fifo:/tmp/jobs -n 1\n"
	"  ipckit recv 'fifo:/tmp/log?raw'        # then: echo hello > /tmp/log\n"
	"  ipckit recv tcp://127.0.0.1:0 --print-address --hex\n"
	"  ipckit recv unix:/tmp/app.sock --json --idle 5000\n"
	"  ipckit recv --dial sysvmq:0x66001234 --type 3 --idle 0   # drain\n",
};
