/* ipckit relay: move messages between two endpoints, both ways where both
   are conversations, keeping message boundaries and metadata, and never
   taking a message from a side that it cannot hand on. */
#define _GNU_SOURCE
#include "cli_chan.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_relay;

struct side {
	struct cli_end end;
	const struct cli_kind *k;
	char name;     /* 'A' or 'B' */
	bool receives; /* relay takes messages out of this side */
	bool peek;     /* a ring: look at a message, release it once delivered */
	bool queue;    /* a message that cannot be delivered goes back in */
};

/* Ways a pump step ends (or the exit status, >= 0). */
enum { GO_ON = -1, HELD = -2 /* nothing taken: the destination is gone */ };

struct tally {
	long moved[2]; /* A to B, B to A */
	long count;    /* stop after this many (0: no limit) */
};

static long total(const struct tally *t)
{
	return t->moved[0] + t->moved[1];
}

/* "5 messages moved A to B" (and "2 B to A" when there were any) */
static const char *moved_text(const struct tally *t, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%ld message%s moved A to B", t->moved[0],
	                 t->moved[0] == 1 ? "" : "s");
	if (t->moved[1] > 0 && n > 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, ", %ld B to A", t->moved[1]);
	return buf;
}

/*
 * Has the receiving end behind this side gone? A connection whose peer
 * hung up would still take a write (the kernel buffers it, then drops it);
 * a FIFO without readers reports an error. Asking first means no message
 * is taken from the source for an end that is known to be gone.
 */
static bool hung_up(const struct side *s, short events)
{
	int fd = ipk_fd(s->end.chan);
	if (fd < 0)
		return false;
	struct pollfd p = {.fd = fd, .events = events};
	if (poll(&p, 1, 0) <= 0)
		return false;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static bool gone(const struct side *to)
{
	if (to->k == NULL || !(to->k->conversation || !strcmp(to->k->scheme,
	                                                       "fifo")))
		return false; /* queues and rings refuse a send instead */
	/* one that also sends is read to its end first (then -EPIPE) */
	return hung_up(to, to->receives ? 0 : POLLRDHUP);
}

/*
 * The receiving side went away. If the sending side's peer has left as
 * well, its input may simply have ended: both left, nothing was lost.
 * GO_ON when there is more to say, else the exit status.
 */
static int both_left(struct side *src, struct side *dst, const char *moved)
{
	if (src->k == NULL || !src->k->conversation || !hung_up(src, POLLRDHUP))
		return GO_ON;
	void *buf = NULL;
	ipk_msginfo info = {0};
	ssize_t n = ipk_recv_alloc(src->end.chan, &buf, &info, 0);
	free(buf);
	if (n == -EPIPE || n == -EAGAIN)
		return 0; /* the input ended, all of it moved */
	return cli_fail("relay", dst->end.url,
	                "%c went away (the receiving side); %s; %c left too, "
	                "and a message it sent last could not be delivered",
	                dst->name, moved, src->name);
}

/*
 * A message taken from a queue that could not be delivered goes back in,
 * with its type or priority. The stop flag is not looked at: this runs on
 * the way out after Ctrl-C too.
 */
static bool put_back(struct side *from, const void *buf, size_t len,
                     const ipk_msginfo *info)
{
	ipk_msginfo again = *info;
	again.flags = 0;
	return ipk_sendmsg(from->end.chan, buf, len, &again, 5000) >= 0;
}

/*
 * A FIFO that relay reads keeps nothing once relay closes it: what a
 * writer put into its pipe goes with the last descriptor. So relay watches
 * the receiving side even while A is idle, and ends as soon as it leaves
 * (then a writer finds no reader and keeps its message). Only what was
 * written in between is lost, and the exit line says how many.
 */
static bool fifo_source(const struct side *s)
{
	return s->receives && s->k != NULL && strcmp(s->k->scheme, "fifo") == 0;
}

/* Read what is in the FIFO now (bounded: a writer may not stop). */
static long drain(struct side *src)
{
	long n = 0;
	for (; n < 100000; n++) {
		void *buf = NULL;
		ipk_msginfo info = {0};
		ssize_t r = ipk_recv_alloc(src->end.chan, &buf, &info, 0);
		free(buf);
		if (r < 0)
			break;
	}
	return n;
}

/* The receiving side went away with nothing in hand: the exit status. */
static int dst_left(struct side *src, struct side *dst, const struct tally *t)
{
	char moved[96];
	moved_text(t, moved, sizeof moved);
	int st = both_left(src, dst, moved);
	if (st != GO_ON)
		return st;
	long lost = fifo_source(src) ? drain(src) : 0;
	if (lost > 0)
		return cli_fail("relay", dst->end.url,
		                "%c went away (the receiving side); %s; %ld "
		                "message%s written into FIFO %c since %s lost: a FIFO "
		                "keeps nothing once relay, its reader, closes it",
		                dst->name, moved, lost, lost == 1 ? "" : "s",
		                src->name, lost == 1 ? "is" : "are");
	return cli_fail("relay", dst->end.url,
	                "%c went away (the receiving side); %s; nothing "
	                "taken from %c since", dst->name, moved, src->name);
}

/*
 * Move one message from src to dst. GO_ON, or the exit status. What
 * happens to a message that cannot be delivered: a ring's stays where it
 * is (it was only peeked at), a queue's goes back in, and any other is
 * reported as lost.
 */
static int move_one(struct side *src, struct side *dst, struct tally *t)
{
	int dir = src->name == 'A' ? 0 : 1;
	char moved[96];
	if (gone(dst) && dst->receives)
		return HELD; /* its own input ends next, and relay with it */
	if (gone(dst))
		return dst_left(src, dst, t);
	const void *peeked = NULL;
	void *buf = NULL;
	ipk_msginfo info = {0};
	ssize_t n;
	if (src->peek)
		n = ipk_recv_peek(src->end.chan, &peeked, 0);
	else
		n = ipk_recv_alloc(src->end.chan, &buf, &info, 0);
	if (n == -EAGAIN)
		return GO_ON;
	if (n == -EPIPE)
		return 0; /* the sending peer went away: the end of the input */
	if (n < 0)
		return cli_fail("relay", src->end.url, "%c: %s", src->name,
		                ipk_last_error());
	const void *msg = src->peek ? peeked : buf;
	info.flags = 0;
	ssize_t sent = cli_send(dst->end.chan, msg, (size_t)n, &info, -1);
	if (sent >= 0) {
		if (src->peek)
			ipk_recv_release(src->end.chan);
		free(buf);
		t->moved[dir]++;
		return GO_ON;
	}
	/* not delivered: keep it in the source where that can be done */
	const char *why = sent == CLI_STOPPED ? "interrupted" : ipk_last_error();
	char whybuf[512];
	snprintf(whybuf, sizeof whybuf, "%s", why);
	const char *fate;
	if (src->peek)
		fate = "the message in hand stays in";
	else if (src->queue && put_back(src, msg, (size_t)n, &info))
		fate = "the message in hand went back into";
	else
		fate = "the message in hand was lost: it could not be kept in";
	free(buf);
	if (sent == CLI_STOPPED)
		return 1; /* dies of the signal: quiet, as on any Ctrl-C */
	return cli_fail("relay", dst->end.url, "%c %s (%s); %s; %s %c",
	                dst->name, sent == -EPIPE ? "went away" : "failed",
	                whybuf, moved_text(t, moved, sizeof moved), fate,
	                src->name);
}

static int pump(struct side sides[2], struct tally *t)
{
	ipk_pollitem items[2];
	int from[2];
	size_t k = 0;
	for (int i = 0; i < 2; i++)
		if (sides[i].receives) {
			items[k] = (ipk_pollitem){.chan = sides[i].end.chan,
			                          .events = IPK_POLLIN};
			from[k++] = i;
		}
	/* a FIFO source: wait on the receiving side's hang-up as well */
	struct side *watch = k == 1 && fifo_source(&sides[from[0]])
	                             ? &sides[1 - from[0]] : NULL;
	if (watch && (watch->k == NULL || !(watch->k->conversation ||
	                                    !strcmp(watch->k->scheme, "fifo"))))
		watch = NULL; /* a queue or ring does not go away */
	while (!cli_stopped && (t->count == 0 || total(t) < t->count)) {
		int rc = ipk_poll(items, k, watch ? 0 : 200);
		if (rc == 0 && watch) {
			struct pollfd p[2] = {
				{.fd = ipk_fd(items[0].chan), .events = POLLIN},
				{.fd = ipk_fd(watch->end.chan), .events = POLLRDHUP},
			};
			(void)poll(p, 2, 200); /* EINTR: the loop looks again */
			if (gone(watch))
				return dst_left(&sides[from[0]], watch, t);
			continue;
		}
		if (rc < 0)
			return cli_fail("relay", NULL, "%s", ipk_last_error());
		size_t ready = 0, held = 0;
		for (size_t j = 0; j < k; j++) {
			if (t->count != 0 && total(t) >= t->count)
				break;
			struct side *src = &sides[from[j]], *dst = &sides[1 - from[j]];
			/* a destination that went away is noticed when there is
			   something to move, as a write to a closed pipe is */
			if (!(items[j].revents & IPK_POLLIN))
				continue;
			ready++;
			int st = move_one(src, dst, t);
			if (st == HELD)
				held++;
			else if (st != GO_ON)
				return st;
		}
		if (ready > 0 && held == ready)
			return 0; /* every peer of the conversation has left */
	}
	return cli_stopped ? 1 : 0;
}

static int setup_failed(const struct side *s, int rc, int timeout)
{
	if (rc == CLI_STOPPED)
		return 1;
	if (rc == -ETIMEDOUT || rc == -EAGAIN) {
		const char *d = cli_timeout_detail();
		return cli_fail("relay", s->end.url, "%c: no peer within %d ms%s%s",
		                s->name, timeout, d ? ": " : "", d ? d : "");
	}
	return cli_fail("relay", s->end.url, "%c: %s", s->name, cli_why(rc));
}

static const char *role(const struct side *s)
{
	return s->end.listen ? "listening" : "dialed";
}

/* What each side can do decides the directions, before anything is opened:
   a relay that could only fail is refused (exit 2) instead of started. */
static int plan(struct side sides[2])
{
	unsigned caps[2];
	for (int i = 0; i < 2; i++) {
		const struct cli_kind *k = sides[i].k;
		int rc = cli_check_addressable("relay", sides[i].end.url);
		if (rc != 0)
			return rc;
		caps[i] = k == NULL ? (CLI_RECV | CLI_SEND)
		                    : sides[i].end.listen ? k->listen_caps
		                                          : k->dial_caps;
		/* ?proto= decides instead: a publisher or pusher only sends, a
		   subscriber or puller only receives, whoever listens */
		const char *q = strchr(sides[i].end.url, '?');
		for (const char *o = q; o != NULL; o = strchr(o + 1, '&')) {
			if (strncmp(o + 1, "proto=", 6) != 0)
				continue;
			const char *v = o + 7;
			size_t n = strcspn(v, "&");
			if ((n == 3 && strncmp(v, "pub", 3) == 0) ||
			    (n == 4 && strncmp(v, "push", 4) == 0))
				caps[i] = CLI_SEND;
			else if ((n == 3 && strncmp(v, "sub", 3) == 0) ||
			         (n == 4 && strncmp(v, "pull", 4) == 0))
				caps[i] = CLI_RECV;
		}
	}
	if (strcmp(sides[0].end.url, sides[1].end.url) == 0)
		return cli_usage("relay", "A and B are the same endpoint");
	bool ab = (caps[0] & CLI_RECV) && (caps[1] & CLI_SEND);
	bool ba = (caps[1] & CLI_RECV) && (caps[0] & CLI_SEND);
	bool conv = sides[0].k && sides[1].k && sides[0].k->conversation &&
	            sides[1].k->conversation;
	/* both ways only between conversations: a mailbox side (queue, FIFO,
	   ring) would hand back what relay itself just put into it */
	if (ab && ba && !conv)
		ba = false;
	if (!ab && !ba) {
		const struct side *a = &sides[0], *b = &sides[1];
		return cli_usage("relay", "nothing can move: A (%s, %s) %s and B "
		                 "(%s, %s) %s; one side has to receive and the other "
		                 "to send (a FIFO, ring or signal listener receives, "
		                 "its dialer sends)", a->end.url, role(a),
		                 caps[0] & CLI_RECV ? "only receives" : "only sends",
		                 b->end.url, role(b),
		                 caps[1] & CLI_RECV ? "only receives" : "only sends");
	}
	for (int i = 0; i < 2; i++) {
		/* what relay creates it removes on exit: a mailbox would take the
		   messages not yet relayed (or not yet read) with it. (?proto=
		   makes a ring a publish/subscribe one, which has no mailbox.) */
		const struct cli_kind *k = sides[i].k;
		char flag = sides[i].name == 'A' ? 'a' : 'b';
		if (sides[i].end.listen && k != NULL && (k->queue || k->ring) &&
		    !cli_url_flag(sides[i].end.url, "persist") &&
		    !cli_url_flag(sides[i].end.url, "proto"))
			return cli_usage("relay", "--listen-%c on a %s removes it, and "
			                 "the messages still in it, when relay exits; "
			                 "add ?persist to the address to keep them (or "
			                 "drop --listen-%c to dial one that exists)",
			                 flag, k->queue ? "queue" : "ring", flag);
	}
	sides[0].receives = ab;
	sides[1].receives = ba;
	for (int i = 0; i < 2; i++) {
		const struct cli_kind *k = sides[i].k;
		sides[i].peek = sides[i].receives && k != NULL && k->ring;
		sides[i].queue = k != NULL && k->queue;
	}
	return 0;
}

static int relay_run(int argc, char **argv)
{
	static const struct option longs[] = {
		{"listen-a", no_argument, NULL, 'a'},
		{"listen-b", no_argument, NULL, 'b'},
		{"count", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"print-address", no_argument, NULL, 'p'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool listen[2] = {false, false}, print_address = false;
	struct tally t = {{0, 0}, 0};
	int timeout = -1;
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":abn:t:pqh", longs, NULL)) != -1) {
		switch (ch) {
		case 'a': listen[0] = true; break;
		case 'b': listen[1] = true; break;
		case 'n':
			if (!cli_parse_int(optarg, 0, LONG_MAX, &t.count))
				return cli_usage("relay", "bad count '%s' (0 or more)", optarg);
			break;
		case 't':
			if (!cli_parse_timeout(optarg, &timeout))
				return cli_usage("relay", "bad timeout '%s' (ms, -1 forever)",
				                 optarg);
			break;
		case 'p': print_address = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': return cli_help(&cli_cmd_relay);
		default: return cli_bad_option("relay", argv, ch);
		}
	}
	if (argc - optind != 2)
		return cli_usage("relay", argc - optind < 2 ? "needs two URLs"
		                                           : "takes exactly two URLs");
	if (print_address && !listen[0] && !listen[1])
		return cli_usage("relay", "--print-address prints the endpoints that "
		                 "--listen-a/--listen-b create; relay creates none");
	struct side sides[2];
	memset(sides, 0, sizeof sides);
	for (int i = 0; i < 2; i++) {
		sides[i].end = (struct cli_end){.url = argv[optind + i],
		                                .listen = listen[i]};
		sides[i].k = cli_kind_of(argv[optind + i]);
		sides[i].name = (char)('A' + i);
	}
	int rc = plan(sides);
	if (rc != 0)
		return rc;

	cli_catch_signals();
	int status = GO_ON;
	/* listeners first, so the peers can come while we dial the other side */
	for (int pass = 0; pass < 2 && status == GO_ON; pass++)
		for (int i = 0; i < 2 && status == GO_ON; i++) {
			if (listen[i] != (pass == 0))
				continue;
			rc = cli_end_open(&sides[i].end, timeout, print_address);
			if (rc < 0)
				status = setup_failed(&sides[i], rc, timeout);
		}
	for (int i = 0; i < 2 && status == GO_ON; i++) {
		rc = cli_end_connect(&sides[i].end, timeout);
		if (rc < 0)
			status = setup_failed(&sides[i], rc, timeout);
	}
	if (status == GO_ON)
		status = pump(sides, &t);
	for (int i = 0; i < 2; i++)
		cli_end_close(&sides[i].end);
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
	"messages back from) only one way is relayed: A to B, or B to A when A\n"
	"can only send (a FIFO, ring or signal dialer). A relay in which\n"
	"nothing can move (both sides only receive, or only send) is refused\n"
	"at start (exit 2), before anything is opened.\n"
	"\n"
	"Each side DIALS its address by default (an existing endpoint: a recv\n"
	"or server that listens). --listen-a / --listen-b make relay create\n"
	"that endpoint instead (and accept one connection on unix:/tcp:); it is\n"
	"removed when relay exits. On a queue or ring they need ?persist (the\n"
	"messages in it would go with it; exit 2 otherwise). Listening sides\n"
	"are created first, then the dialing sides are dialed, then\n"
	"connections are accepted.\n"
	"\n"
	"No message is lost on the way: relay takes a message only while the\n"
	"receiving side is there, and one that cannot be delivered stays in\n"
	"its source (a ring's is only released once delivered; a queue's is\n"
	"put back, with its type or priority). A message counts as delivered\n"
	"once the receiving mechanism accepted it (for a socket: once its\n"
	"kernel buffer took it, for a FIFO once its pipe did: what a reader\n"
	"that exits has not read from either is lost with it). Killed with\n"
	"SIGKILL, relay cannot put back what it holds: from a ring the message\n"
	"in hand arrives twice after a restart, from a queue it is lost.\n"
	"\n"
	"relay notices that the receiving side went away when there is a\n"
	"message to move: it leaves that message where it is and ends.\n"
	"\n"
	"relay ends:\n"
	"  after COUNT messages, or when the sending side's peer goes away\n"
	"    (the end of its input)                                exit 0\n"
	"  when the receiving side goes away or fails: one line naming it (A\n"
	"    or B), how many messages moved, and where the message in hand\n"
	"    is                                                    exit 1\n"
	"  on another error (one line on stderr)                   exit 1\n"
	"  on Ctrl-C/SIGTERM/SIGHUP: endpoints removed, the message in hand\n"
	"    kept in its source, and relay dies of the signal\n"
	"A signal that relay was started with ignored (nohup) stays ignored.\n"
	"A FIFO listener never sees its writers go away, so a relay from one\n"
	"runs until stopped, or until the receiving side leaves: a FIFO keeps\n"
	"nothing without its reader, so relay then ends at once, even with\n"
	"nothing to move, and closes the FIFO (a later writer finds no reader\n"
	"and keeps its message); what was written into it in between is lost\n"
	"and counted in the exit line.\n"
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
	"  -q, --quiet         no notice on a terminal while a dialed side waits\n"
	"                      for its endpoint to appear\n"
	"\n"
	"exit status: 0 COUNT reached or the input ended, 1 failure (one line\n"
	"on stderr), 2 usage error or a relay that cannot work.\n"
	"\n"
	"examples:\n"
	"  ipckit relay --listen-a unix:/tmp/front.sock fifo:/tmp/jobs\n"
	"  ipckit relay --listen-a tcp://0.0.0.0:5555 unix:/run/app.sock\n"
	"  ipckit relay --listen-a 'fifo:/tmp/in?raw' tcp://10.0.0.2:7000\n"
	"  nohup ipckit relay --listen-a 'mq:/jobs?persist' tcp://10.0.0.2:7000 &\n",
};
