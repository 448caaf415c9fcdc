/*
 * fifo: a framed listener finding its writers' messages again after a
 * plain program's bytes, when both arrive in the same read.
 *
 * Every case puts everything into the FIFO before the listener's first
 * receive (mostly with one write), so the listener reads foreign bytes and
 * framed messages together, whatever the timing: the order of the pipe is
 * the order of the writes. The frames are the library's own: a dialer sends
 * into a scratch FIFO that the test reads back (frame_of()).
 *
 * What must hold: each run of foreign bytes is reported once (-EPROTO, with
 * the text quoted), every framed message comes out whole and in order, and
 * nothing else is left.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* the listener's FIFO, removed after a test even when an assertion ended
   it before ipk_close */
static char fifo_path[300];

static void remove_fifo(void)
{
	if (fifo_path[0] != '\0')
		unlink(fifo_path);
}

TestSuite(fifo_resync, .timeout = 120, .fini = remove_fifo);

/* A byte string being put together for one write. */
struct bytes {
	unsigned char b[70000];
	size_t n;
};

static void add(struct bytes *w, const void *p, size_t n)
{
	cr_assert_leq(w->n + n, sizeof w->b);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void add_str(struct bytes *w, const char *s)
{
	add(w, s, strlen(s));
}

/* What an ipckit dialer writes for this message: sent through the library
   into a scratch FIFO and read back. */
static void add_frame(struct bytes *w, const void *msg, size_t len)
{
	const char *path = ipkt_path("frame");
	cr_assert_eq(mkfifo(path, 0600), 0);
	int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(rfd, 0);
	char url[PATH_MAX + 8];
	snprintf(url, sizeof url, "fifo:%s", path);
	ipk_chan *d = ipkt_dial_ok(url);
	cr_assert_eq(ipk_send(d, msg, len, 1000), (ssize_t)len, "send: %s",
	             ipk_last_error());
	ipk_close(d);
	size_t before = w->n;
	for (;;) {
		cr_assert_lt(w->n, sizeof w->b);
		ssize_t n = read(rfd, w->b + w->n, sizeof w->b - w->n);
		if (n <= 0)
			break;
		w->n += (size_t)n;
	}
	close(rfd);
	unlink(path);
	cr_assert_gt(w->n, before + len, "no frame read back");
}

static void add_frame_str(struct bytes *w, const char *msg)
{
	add_frame(w, msg, strlen(msg));
}

static ipk_chan *listen_fifo(char *url, size_t cap)
{
	snprintf(url, cap, "fifo:%s", ipkt_path("resync"));
	snprintf(fifo_path, sizeof fifo_path, "%s", url + 5);
	return ipkt_listen_ok(url);
}

/* Into the FIFO as a plain program does: one write, whole. */
static void write_once(const char *url, const void *p, size_t n)
{
	int fd = open(strchr(url, ':') + 1, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* Bytes waiting in the FIFO (the listener has not read yet). */
static int queued(ipk_chan *l)
{
	int n = 0;
	ioctl(ipk_fd(l), FIONREAD, &n);
	return n;
}

static void expect_msg(ipk_chan *l, const void *msg, size_t len)
{
	void *buf = NULL;
	ssize_t n = ipk_recv_alloc(l, &buf, NULL, 2000);
	cr_assert_eq(n, (ssize_t)len, "recv: %zd (want the %zu-byte message) %s",
	             n, len, n < 0 ? ipk_last_error() : "");
	cr_assert(len == 0 || memcmp(buf, msg, len) == 0,
	          "the message arrived changed");
	free(buf);
}

static void expect_str(ipk_chan *l, const char *msg)
{
	expect_msg(l, msg, strlen(msg));
}

/* One report of dropped bytes; its text must contain needle. */
static void expect_dropped(ipk_chan *l, const char *needle)
{
	void *buf = NULL;
	ssize_t n = ipk_recv_alloc(l, &buf, NULL, 2000);
	cr_assert_eq(n, -EPROTO, "recv: %zd, want the report of dropped bytes (%s)",
	             n, n < 0 ? ipk_last_error() : "a message");
	cr_expect(strstr(ipk_last_error(), "dropped") != NULL, "%s",
	          ipk_last_error());
	cr_expect(strstr(ipk_last_error(), needle) != NULL, "want '%s' in: %s",
	          needle, ipk_last_error());
}

static void expect_nothing_more(ipk_chan *l)
{
	char buf[16];
	ssize_t n = ipk_recv(l, buf, sizeof buf, 0);
	cr_expect_eq(n, -EAGAIN, "more than was sent: %zd %s", n,
	             n < 0 ? ipk_last_error() : "");
}

/* The number of bytes a report of dropped bytes gives ("N bytes that are
   not a message", or "(\"...\", N bytes), not a message"). */
static size_t reported_count(const char *err)
{
	const char *end = strstr(err, "not a message");
	cr_assert(end != NULL, "not a report of dropped bytes: %s", err);
	const char *b = end;
	while (b > err && strncmp(b, " byte", 5) != 0)
		b--;
	cr_assert(b > err, "no count in: %s", err);
	const char *d = b;
	while (d > err && d[-1] >= '0' && d[-1] <= '9')
		d--;
	cr_assert(d < b, "no count in: %s", err);
	size_t n = (size_t)strtoul(d, NULL, 10);
	/* "1 byte", "2 bytes" */
	cr_expect_eq(strncmp(b, " bytes", 6) == 0, n != 1, "grammar: %s", err);
	return n;
}

/* One report of exactly n dropped bytes. */
static void expect_dropped_n(ipk_chan *l, size_t n)
{
	void *buf = NULL;
	ssize_t r = ipk_recv_alloc(l, &buf, NULL, 2000);
	cr_assert_eq(r, -EPROTO, "recv: %zd, want the report of %zu dropped bytes%s%s",
	             r, n, r < 0 ? ": " : "", r < 0 ? ipk_last_error() : "");
	cr_assert_eq(reported_count(ipk_last_error()), n, "want %zu bytes in: %s",
	             n, ipk_last_error());
}

/* The exact sequence of the flaky CLI test, in one read: text, a message,
   more text, a message. (Before: the message after the first text was
   dropped with it, silently; the receiver waited for it forever.) */
Test(fifo_resync, text_message_text_message_in_one_read)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	add_str(w, "hi\n");
	add_frame_str(w, "one");
	add_str(w, "some longer text from a plain program\n");
	add_frame_str(w, "two");
	write_once(url, w->b, w->n);
	cr_assert_eq(queued(l), (int)w->n);
	expect_dropped(l, "\"hi\\n\", 3 bytes");
	expect_str(l, "one");
	expect_dropped(l, "some longer text");
	expect_str(l, "two");
	expect_nothing_more(l);
	free(w);
	ipk_close(l);
}

/* Text, then a message, in one read; and the same with text after it. */
Test(fifo_resync, text_then_message)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	add_str(w, "hi\n");
	add_frame_str(w, "one");
	write_once(url, w->b, w->n);
	expect_dropped(l, "\"hi\\n\", 3 bytes");
	cr_expect(strstr(ipk_last_error(), "unframed text") != NULL);
	cr_expect(strstr(ipk_last_error(), "?raw") != NULL);
	expect_str(l, "one");
	expect_nothing_more(l);

	w->n = 0;
	add_str(w, "before\n");
	add_frame_str(w, "middle");
	add_str(w, "after\n");
	write_once(url, w->b, w->n);
	expect_dropped(l, "\"before\\n\"");
	expect_str(l, "middle");
	expect_dropped(l, "\"after\\n\"");
	expect_nothing_more(l);
	free(w);
	ipk_close(l);
}

/* A message, then text: the message, then the report. */
Test(fifo_resync, message_then_text)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	add_frame_str(w, "one");
	add_str(w, "hi\n");
	add_frame_str(w, "two");
	add_frame_str(w, "");
	add_str(w, "tail\n");
	write_once(url, w->b, w->n);
	expect_str(l, "one");
	expect_dropped(l, "\"hi\\n\"");
	expect_str(l, "two");
	expect_str(l, "");
	expect_dropped(l, "\"tail\\n\"");
	expect_nothing_more(l);

	/* an empty message between runs of text, with text after it long
	   enough to hold a message of 97 bytes (the old header, six zeros and
	   a length, read 'a' as one) */
	w->n = 0;
	add_str(w, "hi\n");
	add_frame_str(w, "");
	for (int i = 0; i < 10; i++)
		add_str(w, "abcdefghijklmnopqrstuvwxyz\n");
	write_once(url, w->b, w->n);
	expect_dropped(l, "\"hi\\n\"");
	expect_str(l, "");
	expect_dropped(l, "abcdefghijklmnopqrstuvwxyz");
	expect_nothing_more(l);
	free(w);
	ipk_close(l);
}

/* Every length of message, every kind of payload byte (zeros, 0xFE),
   between runs of text: a message's own bytes never pass for text. */
Test(fifo_resync, messages_of_every_length_between_text)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	unsigned char msg[300];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = i % 3 == 0 ? 0x00 : i % 3 == 1 ? 0xFE : (unsigned char)i;
	for (size_t len = 0; len <= 260; len += len < 20 ? 1 : 31) {
		w->n = 0;
		add_str(w, "x\n");
		add_frame(w, msg, len);
		add_str(w, "a line of text\n");
		add_frame(w, msg + 1, len);
		write_once(url, w->b, w->n);
		expect_dropped(l, "\"x\\n\"");
		expect_msg(l, msg, len);
		expect_dropped(l, "a line of text");
		expect_msg(l, msg + 1, len);
		expect_nothing_more(l);
	}
	free(w);
	ipk_close(l);
}

/* A chunked message (several writes, under the writers' lock) right
   behind text and followed by text. */
Test(fifo_resync, chunked_message_between_text)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	size_t len = 20000;
	unsigned char *msg = malloc(len);
	ipkt_fill(msg, len, 42);
	add_str(w, "hi\n");
	add_frame(w, msg, len);
	add_str(w, "bye\n");
	add_frame_str(w, "last");
	/* more than PIPE_BUF: one write still, from one writer into an empty
	   FIFO, so the order holds */
	write_once(url, w->b, w->n);
	expect_dropped(l, "\"hi\\n\"");
	expect_msg(l, msg, len);
	expect_dropped(l, "\"bye\\n\"");
	expect_str(l, "last");
	expect_nothing_more(l);
	free(msg);
	free(w);
	ipk_close(l);
}

/* Text longer than one read (the listener reads 4 KiB at a time), and text
   written in pieces: one report for the run, then the message. */
Test(fifo_resync, text_across_reads)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	for (int i = 0; i < 300; i++)
		add_str(w, "0123456789abcdefghijklmnopqrstuvwxyz\n");
	add_frame_str(w, "after a long text");
	add_str(w, "and a short one\n");
	add_frame_str(w, "end");
	write_once(url, w->b, w->n);
	expect_dropped(l, "0123456789");
	expect_str(l, "after a long text");
	expect_dropped(l, "and a short one");
	expect_str(l, "end");
	expect_nothing_more(l);

	write_once(url, "hel", 3);
	write_once(url, "lo\n", 3);
	w->n = 0;
	add_frame_str(w, "whole");
	add_str(w, "x");
	write_once(url, w->b, w->n);
	expect_dropped(l, "\"hello\\n\"");
	expect_str(l, "whole");
	expect_dropped(l, "\"x\"");
	expect_nothing_more(l);
	free(w);
	ipk_close(l);
}

/* A message whose header is cut by the listener's read after text: 4093
   bytes of text and the first 3 bytes of the header fill the first read
   of 4096 bytes. */
Test(fifo_resync, header_split_between_reads_after_text)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	for (size_t cut = 1; cut < 12; cut++) {
		w->n = 0;
		while (w->n < 4096 - cut)
			add_str(w, "text ");
		w->n = 4096 - cut;
		w->b[w->n - 1] = '\n';
		add_frame_str(w, "split");
		add_str(w, "tail\n");
		write_once(url, w->b, w->n);
		expect_dropped(l, "text text");
		expect_str(l, "split");
		expect_dropped(l, "\"tail\\n\"");
		expect_nothing_more(l);
	}
	free(w);
	ipk_close(l);
}

/* Foreign bytes with 0x00 or 0xFE in them: not text, but the messages
   around them still arrive, and every foreign byte is counted. */
Test(fifo_resync, foreign_bytes_with_zero_and_magic)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);

	/* a zero in the middle of text, and 0xFE */
	add(w, "hi\0there\n", 9);
	add_frame_str(w, "one");
	add(w, "x\xFEy\n", 4);
	add_frame_str(w, "two");
	add_str(w, "tail\n");
	write_once(url, w->b, w->n);
	expect_dropped_n(l, 9);
	expect_str(l, "one");
	expect_dropped_n(l, 4);
	expect_str(l, "two");
	expect_dropped(l, "\"tail\\n\"");
	expect_nothing_more(l);

	/* a C string written with its terminating zero, right before a
	   message: the zero and the header's zeros could pass for an empty
	   message */
	w->n = 0;
	add(w, "hello", 6);
	add_frame_str(w, "one");
	add_str(w, "bye\n");
	write_once(url, w->b, w->n);
	expect_dropped_n(l, 6);
	expect_str(l, "one");
	expect_dropped(l, "\"bye\\n\"");
	expect_nothing_more(l);
	/* alone, also when the message reads as text */
	w->n = 0;
	add(w, "hello", 6);
	add_frame_str(w, "a message of 32 bytes, all text!");
	write_once(url, w->b, w->n);
	expect_dropped_n(l, 6);
	expect_str(l, "a message of 32 bytes, all text!");
	expect_nothing_more(l);
	/* with more zeros, also when text follows */
	w->n = 0;
	add(w, "hello\0\0", 8);
	add_frame_str(w, "a message of 32 bytes, all text!");
	add_str(w, "bye\n");
	write_once(url, w->b, w->n);
	expect_dropped_n(l, 8);
	expect_str(l, "a message of 32 bytes, all text!");
	expect_dropped(l, "\"bye\\n\"");
	expect_nothing_more(l);

	/* binary bytes ending in zeros */
	w->n = 0;
	unsigned char bin[] = {0x01, 0x02, 0x03, 0x80, 0x00, 0x00, 0x00};
	add(w, bin, sizeof bin);
	add_frame_str(w, "three");
	add_str(w, "tail\n");
	write_once(url, w->b, w->n);
	expect_dropped(l, "not a message of this channel");
	expect_str(l, "three");
	expect_dropped(l, "\"tail\\n\"");
	expect_nothing_more(l);

	/* a zero and a length that promises more than follows: what seems to
	   begin a message is foreign, and the message after it is found */
	w->n = 0;
	unsigned char claim[] = {'!', 0, 0, 0, 0, 0, 0, 0x01, 0x00};
	add(w, claim, sizeof claim);
	add_frame_str(w, "four");
	write_once(url, w->b, w->n);
	expect_dropped_n(l, sizeof claim);
	expect_str(l, "four");
	expect_nothing_more(l);
	free(w);
	ipk_close(l);
}

/* Random runs of text (printable ASCII, tabs, line ends, UTF-8 bytes) and
   messages of random lengths and bytes, in one write: every run of text is
   reported once, every message arrives whole and in order. */
Test(fifo_resync, random_text_and_messages)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	/* IPKT_SEED=N replays a failure */
	const char *env = getenv("IPKT_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)getpid();
	srand(seed);
	enum { ITEMS = 12 };
	static unsigned char msgs[ITEMS][602];
	size_t lens[ITEMS];
	bool text[ITEMS];
	for (int round = 0; round < 200; round++) {
		w->n = 0;
		bool last_text = false;
		for (int k = 0; k < ITEMS; k++) {
			/* two runs of text in a row are one run */
			text[k] = !last_text && rand() % 2;
			last_text = text[k];
			size_t len = (size_t)(rand() % 4 == 0 ? rand() % 600
			                                      : rand() % 40);
			if (text[k]) {
				len++;
				for (size_t i = 0; i < len; i++) {
					int c = rand() % 100;
					msgs[k][i] = c < 5    ? '\n'
					             : c < 7  ? '\t'
					             : c < 12 ? (unsigned char)(0x80 + rand() % 0x7E)
					                      : (unsigned char)(0x20 + rand() % 0x5F);
				}
				add(w, msgs[k], len);
			} else {
				for (size_t i = 0; i < len; i++)
					msgs[k][i] = rand() % 3 ? (unsigned char)rand() : 0;
				add_frame(w, msgs[k], len);
			}
			lens[k] = len;
		}
		write_once(url, w->b, w->n);
		for (int k = 0; k < ITEMS; k++) {
			void *buf = NULL;
			ssize_t n = ipk_recv_alloc(l, &buf, NULL, 2000);
			if (text[k]) {
				cr_assert_eq(n, -EPROTO,
				             "seed %u round %d item %d: want the report of "
				             "%zu bytes of text, got %zd %s",
				             seed, round, k, lens[k], n,
				             n < 0 ? ipk_last_error() : "");
				cr_assert(strstr(ipk_last_error(), "unframed text") != NULL,
				          "%s", ipk_last_error());
				continue;
			}
			cr_assert_eq(n, (ssize_t)lens[k],
			             "seed %u round %d item %d: want a message of %zu "
			             "bytes, got %zd %s",
			             seed, round, k, lens[k], n,
			             n < 0 ? ipk_last_error() : "");
			cr_assert(lens[k] == 0 || memcmp(buf, msgs[k], lens[k]) == 0,
			          "seed %u round %d item %d: changed", seed, round, k);
			free(buf);
		}
		expect_nothing_more(l);
	}
	free(w);
	ipk_close(l);
}

/* ------------------------------------------------------------------------
 * Binary foreign bytes: zeros, 0xFE and every other byte, before, between
 * and after messages. A genuine header is told from foreign bytes by its
 * check, so nothing foreign passes for one and every foreign byte is in a
 * report.
 */

/* K1: a stray zero byte between two messages in one read. (Before: the
   zero and the next header's first 7 bytes read as an empty message, which
   was delivered, and the message after it was lost.) */
Test(fifo_resync, stray_zero_before_a_message)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	add_frame_str(w, "msgA");
	add(w, "\0", 1);
	add_frame_str(w, "msgB");
	add_frame_str(w, "msgC");
	write_once(url, w->b, w->n);
	expect_str(l, "msgA");
	expect_dropped_n(l, 1);
	cr_expect(strstr(ipk_last_error(), "1 byte that is") != NULL, "%s",
	          ipk_last_error());
	expect_str(l, "msgB");
	expect_str(l, "msgC");
	expect_nothing_more(l);

	/* the same with the message last, and with one whose length byte is
	   text (0x20) and nothing after it */
	w->n = 0;
	add_frame_str(w, "msgA");
	add(w, "\0", 1);
	add_frame_str(w, "msgB");
	write_once(url, w->b, w->n);
	expect_str(l, "msgA");
	expect_dropped_n(l, 1);
	expect_str(l, "msgB");
	expect_nothing_more(l);
	w->n = 0;
	add(w, "\0", 1);
	add_frame_str(w, "a longer message here 1234567890");
	write_once(url, w->b, w->n);
	expect_dropped_n(l, 1);
	expect_str(l, "a longer message here 1234567890");
	expect_nothing_more(l);
	free(w);
	ipk_close(l);
}

/* K2: every byte of a foreign write is counted, also those after a zero or
   0xFE in it; each write is its own read here (the listener drains the FIFO
   in between) and then all in one read. */
Test(fifo_resync, foreign_bytes_counted_in_full)
{
	static const struct {
		const char *b;
		size_t n;
	} runs[] = {
#define RUN(lit) {lit, sizeof lit - 1}
		RUN("abc\xfehello world this is text\n"),
		RUN("foo\0bar baz text after a zero\n"),
		RUN("\0\xfe" "cd"),
		RUN("\xfe\0"),
		RUN("xy\0"),
		RUN("\xfe"),
		RUN("\0"),
#undef RUN
	};
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		w->n = 0;
		add_frame_str(w, "msgA");
		write_once(url, w->b, w->n);
		expect_str(l, "msgA");
		write_once(url, runs[i].b, runs[i].n);
		/* the FIFO is drained: the run is over, reported in full */
		expect_dropped_n(l, runs[i].n);
		w->n = 0;
		add_frame_str(w, "msgB");
		write_once(url, w->b, w->n);
		expect_str(l, "msgB");
		expect_nothing_more(l);

		/* all in one read */
		w->n = 0;
		add_frame_str(w, "msgA");
		add(w, runs[i].b, runs[i].n);
		add_frame_str(w, "msgB");
		write_once(url, w->b, w->n);
		expect_str(l, "msgA");
		expect_dropped_n(l, runs[i].n);
		expect_str(l, "msgB");
		expect_nothing_more(l);
	}
	free(w);
	ipk_close(l);
}

/* K3: a message between two runs of binary bytes, and the exact stream in
   which a header was taken one byte into a real one (before: a spliced
   message of 1645 bytes, pieces of two messages and foreign bytes, was
   delivered as a good message and both real ones were lost). */
Test(fifo_resync, message_between_binary_runs)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	add(w, "\x01\x02\x03", 3);
	add_frame_str(w, "between two binary runs");
	add(w, "\x01\x02\x03", 3);
	write_once(url, w->b, w->n);
	expect_dropped_n(l, 3);
	expect_str(l, "between two binary runs");
	expect_dropped_n(l, 3);
	expect_nothing_more(l);

	static const unsigned char mid[20] = {
		0x96, 0x98, 0xea, 0x14, 0x4c, 0x19, 0xfc, 0x89, 0x09, 0xe7,
		0x48, 0x1f, 0x26, 0xb4, 0x70, 0x8a, 0xcf, 0x13, 0x7c, 0xe2};
	w->n = 0;
	add(w, "\x01\x02\x03", 3);
	add_frame_str(w, "m93-1-");
	add(w, mid, sizeof mid);
	add_frame_str(w, "m93-4-xxxxxxxx");
	for (int i = 0; i < 1700; i++)
		add(w, "z", 1);
	write_once(url, w->b, w->n);
	expect_dropped_n(l, 3);
	expect_str(l, "m93-1-");
	expect_dropped_n(l, sizeof mid);
	expect_str(l, "m93-4-xxxxxxxx");
	expect_dropped_n(l, 1700);
	cr_expect(strstr(ipk_last_error(), "\"zzzz") != NULL, "%s",
	          ipk_last_error());
	expect_nothing_more(l);
	free(w);
	ipk_close(l);
}

/* Random streams of messages (small ones and chunked ones) and runs of
   random binary bytes (any byte, zeros and 0xFE included, no exclusions),
   in one write: every message arrives whole and in order, nothing else is
   delivered, and the reports between them count exactly the foreign bytes
   (adjacent runs are one run). */
Test(fifo_resync, random_binary_runs_and_messages, .timeout = 300)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url);
	struct bytes *w = calloc(1, sizeof *w);
	/* IPKT_SEED=N replays a failure */
	const char *env = getenv("IPKT_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)getpid();
	srand(seed);
	enum { ITEMS = 10, BIG = 9000 };
	static unsigned char msgs[ITEMS][BIG];
	size_t lens[ITEMS];
	bool foreign[ITEMS];
	size_t foreign_total = 0, reported_total = 0;
	for (int round = 0; round < 150; round++) {
		w->n = 0;
		for (int k = 0; k < ITEMS; k++) {
			foreign[k] = rand() % 2;
			int r = rand() % 10;
			size_t len = r == 0   ? (size_t)(rand() % BIG)
			             : r < 3  ? (size_t)(rand() % 600)
			                      : (size_t)(rand() % 40);
			/* all of it one write into the FIFO, which holds 64 KiB */
			if (w->n + len + len / 16 + 64 > 60000)
				len = (size_t)(rand() % 40);
			/* runs: a few bytes up to long ones; some zeros and 0xFE
			   over plain random bytes, often */
			for (size_t i = 0; i < len; i++) {
				int c = rand() % 8;
				msgs[k][i] = c == 0   ? 0x00
				             : c == 1 ? 0xFE
				                      : (unsigned char)rand();
			}
			if (foreign[k]) {
				if (len == 0)
					len = 1;
				add(w, msgs[k], len);
				foreign_total += len;
			} else {
				add_frame(w, msgs[k], len);
			}
			lens[k] = len;
		}
		write_once(url, w->b, w->n);
		for (int k = 0; k < ITEMS; k++) {
			if (foreign[k]) {
				size_t run = lens[k];
				while (k + 1 < ITEMS && foreign[k + 1])
					run += lens[++k];
				void *buf = NULL;
				ssize_t n = ipk_recv_alloc(l, &buf, NULL, 2000);
				cr_assert_eq(n, -EPROTO,
				             "seed %u round %d item %d: want the report of "
				             "%zu foreign bytes, got %zd %s",
				             seed, round, k, run, n,
				             n < 0 ? ipk_last_error() : "(a message)");
				size_t got = reported_count(ipk_last_error());
				cr_assert_eq(got, run,
				             "seed %u round %d item %d: %zu foreign bytes, "
				             "reported: %s",
				             seed, round, k, run, ipk_last_error());
				reported_total += got;
				continue;
			}
			void *buf = NULL;
			ssize_t n = ipk_recv_alloc(l, &buf, NULL, 2000);
			cr_assert_eq(n, (ssize_t)lens[k],
			             "seed %u round %d item %d: want a message of %zu "
			             "bytes, got %zd %s",
			             seed, round, k, lens[k], n,
			             n < 0 ? ipk_last_error() : "");
			cr_assert(lens[k] == 0 || memcmp(buf, msgs[k], lens[k]) == 0,
			          "seed %u round %d item %d: changed", seed, round, k);
			free(buf);
		}
		expect_nothing_more(l);
	}
	cr_expect_eq(reported_total, foreign_total);
	free(w);
	ipk_close(l);
}
