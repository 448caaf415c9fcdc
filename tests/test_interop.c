/*
 * Interop with peers we did not write: nngcat (nng's command-line tool)
 * speaking SP PAIR v0 over ipc:// and tcp://, and plain shell commands on
 * a FIFO. nngcat runs as a coprocess (ipk_spawn), so its stdout is read
 * through the library too.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <ipckit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* nngcat waits this long (seconds) for more messages before it exits */
#define NNG_LINGER "5"

enum side { WE_LISTEN, NNG_LISTENS };

struct peer {
	char ours[256];  /* our address (listen or dial) */
	char theirs[256]; /* nngcat's URL */
	char file[256];  /* what nngcat sends */
	char sock[256];  /* ipc: the socket path (nngcat leaves its own behind) */
	ipk_chan *listener;
};

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "create %s", path);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* Run nngcat; skip the test where it is not installed. */
static ipk_chan *nngcat(const char *const argv[])
{
	ipk_chan *c = NULL;
	int rc = ipk_spawn(&c, argv, NULL);
	if (rc == -ENOENT)
		cr_skip_test("nngcat is not installed (Debian package nng-utils)");
	cr_assert_eq(rc, 0, "spawn nngcat: %s", ipk_last_error());
	return c;
}

/* Everything nngcat printed (with --raw: the message bytes, concatenated). */
static size_t slurp(ipk_chan *c, unsigned char *buf, size_t cap)
{
	size_t got = 0;
	for (;;) {
		cr_assert_lt(got, cap, "nngcat printed more than expected");
		ssize_t n = ipk_recv(c, buf + got, cap - got, 30000);
		if (n == -EPIPE)
			return got;
		cr_assert_gt(n, 0, "reading nngcat's output: %s", ipk_last_error());
		got += (size_t)n;
	}
}

static void exited_ok(ipk_chan *c)
{
	int st = -1;
	cr_assert_eq(ipk_wait(c, &st, 30000), 0, "nngcat did not exit: %s",
	             ipk_last_error());
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "nngcat failed (status %#x)", st);
}

static void setup_peer(struct peer *p, const char *scheme, enum side side,
                       const char *opts)
{
	memset(p, 0, sizeof *p);
	snprintf(p->file, sizeof p->file, "%s", ipkt_path("nngdata"));
	if (strcmp(scheme, "unix") == 0) {
		const char *path = ipkt_path("nng.sock");
		snprintf(p->sock, sizeof p->sock, "%s", path);
		snprintf(p->ours, sizeof p->ours, "unix:%s%s", path, opts);
		snprintf(p->theirs, sizeof p->theirs, "ipc://%s", path);
		if (side == WE_LISTEN)
			cr_assert_eq(ipk_listen(&p->listener, p->ours), 0, "listen: %s",
			             ipk_last_error());
		return;
	}
	/* tcp: let the kernel choose a free port */
	ipk_chan *l;
	char url[300];
	snprintf(url, sizeof url, "tcp://127.0.0.1:0%s", opts);
	cr_assert_eq(ipk_listen(&l, url), 0, "listen: %s", ipk_last_error());
	cr_assert_gt(ipk_address(l, p->ours, sizeof p->ours), 0);
	snprintf(p->theirs, sizeof p->theirs, "%s", p->ours);
	if (side == NNG_LISTENS) /* our dial gets the options */
		strncat(p->ours, opts, sizeof p->ours - strlen(p->ours) - 1);
	if (side == WE_LISTEN)
		p->listener = l;
	else
		ipk_close(l); /* nngcat takes the port over */
}

/* The sizes we send back; nngcat --raw prints them back to back. */
static const size_t reply_sizes[] = {1, 1000, 100000};

/* how we send to nngcat */
enum how { ONE_BY_ONE, MANY, BATCHED, LARGE };

static void exchange_how(const char *scheme, enum side side, enum how how)
{
	struct peer p;
	setup_peer(&p, scheme, side,
	           how == BATCHED ? "?batch=4K&batchdelay=0"
	           : how == LARGE ? "?large=4K"
	                          : "");
	const size_t first = 70000;
	unsigned char *payload = malloc(first);
	ipkt_fill(payload, first, 1);
	write_file(p.file, payload, first);

	const char *argv[] = {"nngcat", "--pair0",
	                      side == WE_LISTEN ? "--dial" : "--listen", p.theirs,
	                      "--file", p.file, "--raw",
	                      "--recv-timeout", NNG_LINGER, NULL};
	ipk_chan *cat = nngcat(argv);

	ipk_chan *ch = NULL;
	int rc = side == WE_LISTEN ? ipk_accept(p.listener, &ch, 20000)
	                           : ipk_dial(&ch, p.ours, 20000);
	cr_assert_eq(rc, 0, "%s %s: %s", side == WE_LISTEN ? "accept" : "dial",
	             p.ours, ipk_last_error());

	/* nngcat -> us */
	void *got = NULL;
	ssize_t n = ipk_recv_alloc(ch, &got, NULL, 20000);
	cr_assert_eq(n, (ssize_t)first, "from nngcat: %zd (%s)", n,
	             n < 0 ? ipk_last_error() : "");
	cr_assert(memcmp(got, payload, first) == 0, "nngcat's message changed");
	free(got);

	/* us -> nngcat */
	size_t total = 0;
	for (size_t i = 0; i < sizeof reply_sizes / sizeof reply_sizes[0]; i++)
		total += reply_sizes[i];
	unsigned char *want = malloc(total), *out = malloc(total + 1);
	size_t off = 0;
	enum { NR = sizeof reply_sizes / sizeof reply_sizes[0] };
	struct iovec v[NR];
	for (size_t i = 0; i < NR; i++) {
		ipkt_fill(want + off, reply_sizes[i], 100 + (uint32_t)i);
		v[i] = (struct iovec){want + off, reply_sizes[i]};
		if (how != MANY)
			cr_assert_eq(ipk_send(ch, want + off, reply_sizes[i], 20000),
			             (ssize_t)reply_sizes[i], "send: %s",
			             ipk_last_error());
		off += reply_sizes[i];
	}
	if (how == MANY)
		cr_assert_eq(ipk_send_many(ch, v, NR, 20000), NR, "send_many: %s",
		             ipk_last_error());
	if (how == BATCHED) /* (the small ones wait in the queue until now) */
		cr_assert_eq(ipk_flush(ch, 20000), 0, "flush: %s",
		             ipk_last_error());
	size_t printed = slurp(cat, out, total + 1);
	cr_assert_eq(printed, total, "nngcat printed %zu of %zu bytes", printed,
	             total);
	cr_assert(memcmp(out, want, total) == 0, "our messages changed on the way");
	exited_ok(cat);

	cr_assert_eq(ipk_close(ch), 0);
	cr_assert_eq(ipk_close(cat), 0);
	if (p.listener)
		cr_assert_eq(ipk_close(p.listener), 0);
	unlink(p.file);
	if (p.sock[0])
		unlink(p.sock);
	free(payload);
	free(want);
	free(out);
}

static void exchange(const char *scheme, enum side side)
{
	exchange_how(scheme, side, ONE_BY_ONE);
}

Test(nngcat, ipc_nngcat_dials_us, .timeout = 120)
{
	exchange("unix", WE_LISTEN);
}

/* batched and vectored sends put the same frames on the wire */
Test(nngcat, ipc_batched_to_nngcat, .timeout = 120)
{
	exchange_how("unix", WE_LISTEN, BATCHED);
	exchange_how("unix", NNG_LISTENS, BATCHED);
}

Test(nngcat, tcp_batched_to_nngcat, .timeout = 120)
{
	exchange_how("tcp", NNG_LISTENS, BATCHED);
}

Test(nngcat, ipc_send_many_to_nngcat, .timeout = 120)
{
	exchange_how("unix", NNG_LISTENS, MANY);
}

Test(nngcat, tcp_send_many_to_nngcat, .timeout = 120)
{
	exchange_how("tcp", WE_LISTEN, MANY);
}

/* ?large on our end: nng never says it takes memfds, so large messages
   go through the socket as standard frames both ways */
Test(nngcat, ipc_large_mode_with_nngcat, .timeout = 120)
{
	exchange_how("unix", WE_LISTEN, LARGE);
	exchange_how("unix", NNG_LISTENS, LARGE);
}

Test(nngcat, ipc_we_dial_nngcat, .timeout = 120)
{
	exchange("unix", NNG_LISTENS);
}

Test(nngcat, tcp_nngcat_dials_us, .timeout = 120)
{
	exchange("tcp", WE_LISTEN);
}

Test(nngcat, tcp_we_dial_nngcat, .timeout = 120)
{
	exchange("tcp", NNG_LISTENS);
}

/* ------------------------------------------------------- the wire itself */

static void read_n(ipk_chan *c, unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = ipk_recv(c, buf + got, n - got, 20000);
		cr_assert_gt(r, 0, "after %zu of %zu bytes: %s", got, n,
		             ipk_last_error());
		got += (size_t)r;
	}
}

/*
 * Listen without framing (?raw) so the bytes nngcat puts on the wire can be
 * checked against what the library sends: the SP header 00 'S' 'P' 00,
 * protocol 0x0010 (PAIR v0) big-endian, two reserved zero bytes; then each
 * message as (ipc: a 0x01 type byte and) a u64 big-endian length.
 */
static void wire(const char *scheme)
{
	struct peer p;
	setup_peer(&p, scheme, WE_LISTEN, "");
	ipk_close(p.listener);
	char raw[300];
	snprintf(raw, sizeof raw, "%s?raw", p.ours);
	cr_assert_eq(ipk_listen(&p.listener, raw), 0, "listen %s: %s", raw,
	             ipk_last_error());
	bool ipc = strcmp(scheme, "unix") == 0;
	const char *argv[] = {"nngcat", "--pair0", "--dial", p.theirs,
	                      "--data", "hello", "--raw",
	                      "--recv-timeout", NNG_LINGER, NULL};
	ipk_chan *cat = nngcat(argv);
	ipk_chan *ch;
	cr_assert_eq(ipk_accept(p.listener, &ch, 20000), 0, "accept: %s",
	             ipk_last_error());

	static const unsigned char hdr[8] = {0, 'S', 'P', 0, 0, 0x10, 0, 0};
	unsigned char buf[32];
	read_n(ch, buf, 8);
	cr_assert(memcmp(buf, hdr, 8) == 0,
	          "nng's SP header: %02x %02x %02x %02x %02x %02x %02x %02x",
	          buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7]);
	cr_assert_eq(ipk_send(ch, hdr, 8, 5000), 8);

	size_t hl = ipc ? 9 : 8;
	read_n(ch, buf, hl + 5);
	unsigned char frame[16] = {0};
	if (ipc)
		frame[0] = 1;
	frame[hl - 1] = 5;
	cr_assert(memcmp(buf, frame, hl) == 0, "nng's %s frame header differs",
	          scheme);
	cr_assert(memcmp(buf + hl, "hello", 5) == 0);

	/* and nngcat accepts a frame built the same way */
	memcpy(frame + hl, "world", 5);
	cr_assert_eq(ipk_send(ch, frame, hl + 5, 5000), (ssize_t)(hl + 5));
	unsigned char out[16];
	size_t printed = slurp(cat, out, sizeof out);
	cr_assert_eq(printed, 5);
	cr_assert(memcmp(out, "world", 5) == 0);
	exited_ok(cat);
	ipk_close(ch);
	ipk_close(cat);
	ipk_close(p.listener);
}

Test(wire, ipc_matches_nng, .timeout = 120)
{
	wire("unix");
}

Test(wire, tcp_matches_nng, .timeout = 120)
{
	wire("tcp");
}

/* -------------------------------------------------- FIFOs and the shell */

Test(shell, echo_into_our_fifo)
{
	const char *path = ipkt_path("shfifo");
	char url[300], script[400];
	snprintf(url, sizeof url, "fifo:%s?raw", path);
	ipk_chan *f;
	cr_assert_eq(ipk_listen(&f, url), 0, "listen: %s", ipk_last_error());
	snprintf(script, sizeof script, "echo hello > '%s' && echo again > '%s'",
	         path, path);
	const char *argv[] = {"sh", "-c", script, NULL};
	ipk_chan *sh;
	cr_assert_eq(ipk_spawn(&sh, argv, NULL), 0);
	char buf[64];
	size_t got = 0;
	while (got < 12) {
		ssize_t n = ipk_recv(f, buf + got, sizeof buf - got, 20000);
		cr_assert_gt(n, 0, "recv: %s", ipk_last_error());
		got += (size_t)n;
	}
	cr_assert_eq(got, 12);
	cr_assert(memcmp(buf, "hello\nagain\n", 12) == 0);
	int st;
	cr_assert_eq(ipk_wait(sh, &st, 20000), 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ipk_close(sh);
	/* the listener made the FIFO and removes it */
	cr_assert_eq(ipk_close(f), 0);
	cr_assert_eq(access(path, F_OK), -1);
}

Test(shell, cat_reads_what_we_dial)
{
	const char *path = ipkt_path("shfifo");
	cr_assert_eq(mkfifo(path, 0600), 0);
	char script[400], url[300];
	snprintf(script, sizeof script, "cat '%s'", path);
	const char *argv[] = {"sh", "-c", script, NULL};
	ipk_chan *sh;
	cr_assert_eq(ipk_spawn(&sh, argv, NULL), 0);
	/* dial waits until cat has the FIFO open for reading */
	snprintf(url, sizeof url, "fifo:%s?raw", path);
	ipk_chan *w;
	cr_assert_eq(ipk_dial(&w, url, 20000), 0, "dial: %s", ipk_last_error());
	cr_assert_eq(ipk_send(w, "hello\n", 6, 5000), 6);
	cr_assert_eq(ipk_send(w, "from ipckit\n", 12, 5000), 12);
	cr_assert_eq(ipk_close(w), 0); /* cat sees end of file */
	char buf[64];
	size_t got = 0;
	for (;;) {
		ssize_t n = ipk_recv(sh, buf + got, sizeof buf - got, 20000);
		if (n == -EPIPE)
			break;
		cr_assert_gt(n, 0, "recv: %s", ipk_last_error());
		got += (size_t)n;
	}
	cr_assert_eq(got, 18);
	cr_assert(memcmp(buf, "hello\nfrom ipckit\n", 18) == 0);
	int st;
	cr_assert_eq(ipk_wait(sh, &st, 20000), 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ipk_close(sh);
	unlink(path);
}
