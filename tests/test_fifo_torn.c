/*
 * fifo: writers killed in the middle of a message, and plain programs
 * writing into a framed FIFO. The reader reports what it could not deliver
 * once (-EPROTO, with a message), drops it, and the other writers' messages
 * arrive whole: nothing corrupt is ever returned as a message.
 *
 * Every message says who wrote it and how long it is; its body follows from
 * both, so a single foreign byte is caught.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(fifo_torn, .timeout = 120);

#define HDR 12

static void make_msg(unsigned char *buf, size_t len, uint32_t w, uint32_t s)
{
	ipkt_fill(buf, len, w * 1000003u + s);
	uint32_t l = (uint32_t)len;
	memcpy(buf, &w, 4);
	memcpy(buf + 4, &s, 4);
	memcpy(buf + 8, &l, 4);
}

/* 1 if buf is exactly a message make_msg wrote; its writer and number. */
static int whole(const unsigned char *buf, size_t n, uint32_t *w, uint32_t *s)
{
	if (n < HDR)
		return 0;
	uint32_t l;
	memcpy(w, buf, 4);
	memcpy(s, buf + 4, 4);
	memcpy(&l, buf + 8, 4);
	if (l != n)
		return 0;
	unsigned char *want = malloc(n);
	make_msg(want, n, *w, *s);
	int ok = memcmp(want, buf, n) == 0;
	free(want);
	return ok;
}

static ipk_chan *listen_fifo(char *url, size_t cap, const char *opts)
{
	snprintf(url, cap, "fifo:%s%s", ipkt_path("torn"), opts);
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, url), 0, "listen %s: %s", url,
	             ipk_last_error());
	char *q = strchr(url, '?');
	if (q)
		*q = '\0'; /* writers dial the plain address */
	return l;
}

/* A writer child: messages of the given sizes, numbered from first. */
static pid_t writer(const char *url, uint32_t w, const size_t *sizes, int n,
                    uint32_t first)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid != 0)
		return pid;
	ipk_chan *c;
	if (ipk_dial(&c, url, 10000) < 0)
		_exit(3);
	for (int i = 0; i < n; i++) {
		unsigned char *buf = malloc(sizes[i]);
		make_msg(buf, sizes[i], w, first + (uint32_t)i);
		if (ipk_send(c, buf, sizes[i], 30000) != (ssize_t)sizes[i])
			_exit(4);
		free(buf);
	}
	_exit(ipk_close(c) == 0 ? 0 : 5);
}

/* Bytes waiting in the FIFO. */
static int queued(ipk_chan *l)
{
	int n = 0;
	ioctl(ipk_fd(l), FIONREAD, &n);
	return n;
}

/*
 * A writer blocked in the middle of a 1 MiB message (the pipe is full) is
 * killed; another writer's messages, small and large, follow. The reader
 * reports the torn message once and delivers every other message whole.
 * (Before: the reader returned a message mixing the dead writer's bytes
 * with the next writer's frames as a success.)
 */
Test(fifo_torn, killed_writer_mid_message)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url, "");
	size_t big = 1 << 20;
	pid_t dead = writer(url, 1, &big, 1, 0);
	int64_t until = ipkt_now_ms() + 10000;
	while (queued(l) < 200000 && ipkt_now_ms() < until)
		usleep(1000);
	cr_assert_geq(queued(l), 200000, "the writer did not fill the FIFO");
	kill(dead, SIGKILL);
	cr_assert_eq(ipkt_wait_child(dead), 128 + SIGKILL);

	size_t sizes[] = {100, 100, 5000, 100000, 100, 0 + HDR, 4088, 4089};
	int nmsg = (int)(sizeof sizes / sizeof sizes[0]);
	pid_t next = writer(url, 2, sizes, nmsg, 0);
	int got = 0, torn = 0, corrupt = 0;
	while (got < nmsg) {
		void *buf = NULL;
		ssize_t n = ipk_recv_alloc(l, &buf, NULL, 10000);
		if (n == -EPROTO) {
			torn++;
			cr_expect(strstr(ipk_last_error(), "in the middle of a message") !=
			                  NULL,
			          "%s", ipk_last_error());
			continue;
		}
		cr_assert_geq(n, 0, "recv: %s", ipk_last_error());
		uint32_t w, s;
		if (!whole(buf, (size_t)n, &w, &s) || w != 2 || s != (uint32_t)got)
			corrupt++;
		got++;
		free(buf);
	}
	cr_expect_eq(corrupt, 0, "%d corrupt messages delivered", corrupt);
	cr_expect_eq(torn, 1, "the torn message was reported %d times", torn);
	cr_expect_eq(ipkt_wait_child(next), 0);
	void *buf = NULL;
	cr_expect_eq(ipk_recv_alloc(l, &buf, NULL, 0), -EAGAIN,
	             "more after the last message: %s", ipk_last_error());
	ipk_close(l);
}

/*
 * The same when nothing follows the torn message: the reader finds that no
 * writer is in the middle of a message (the lock is free) and reports it
 * within its wait, instead of waiting for the rest forever.
 */
Test(fifo_torn, killed_writer_nothing_after)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url, "");
	size_t big = 1 << 20;
	pid_t dead = writer(url, 1, &big, 1, 0);
	int64_t until = ipkt_now_ms() + 10000;
	while (queued(l) < 200000 && ipkt_now_ms() < until)
		usleep(1000);
	kill(dead, SIGKILL);
	ipkt_wait_child(dead);
	void *buf = NULL;
	ssize_t n = ipk_recv_alloc(l, &buf, NULL, 5000);
	cr_expect_eq(n, -EPROTO, "recv: %zd %s", n, n < 0 ? ipk_last_error() : "");
	cr_expect_eq(ipk_recv_alloc(l, &buf, NULL, 100), -ETIMEDOUT);
	ipk_close(l);
}

/*
 * Kill -9 at random moments: writers send a mix of small messages and
 * messages of several PIPE_BUFs; every few milliseconds one is killed and
 * replaced. Whatever the reader returns as a message must be whole.
 */
Test(fifo_torn, random_kills_deliver_nothing_corrupt, .timeout = 300)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url, "");
	enum { KILLS = 40, ALIVE = 3 };
	pid_t kids[ALIVE];
	uint32_t next_w = 1;
	srand((unsigned)getpid());
	for (int i = 0; i < ALIVE; i++) {
		size_t sizes[64];
		for (int k = 0; k < 64; k++)
			sizes[k] = k % 3 ? 64 + (size_t)(rand() % 2000)
			                 : 5000 + (size_t)(rand() % 60000);
		kids[i] = writer(url, next_w++, sizes, 64, 0);
	}
	int kills = 0, msgs = 0, protos = 0, corrupt = 0;
	int64_t next_kill = ipkt_now_ms() + 2;
	while (kills < KILLS) {
		void *buf = NULL;
		ssize_t n = ipk_recv_alloc(l, &buf, NULL, 5);
		if (n >= 0) {
			uint32_t w, s;
			corrupt += !whole(buf, (size_t)n, &w, &s);
			msgs++;
			free(buf);
		} else if (n == -EPROTO) {
			protos++;
		} else {
			cr_assert(n == -ETIMEDOUT, "recv: %s", ipk_last_error());
		}
		if (ipkt_now_ms() >= next_kill) {
			int i = rand() % ALIVE;
			kill(kids[i], SIGKILL);
			ipkt_wait_child(kids[i]);
			kills++;
			size_t sizes[64];
			for (int k = 0; k < 64; k++)
				sizes[k] = k % 3 ? 64 + (size_t)(rand() % 2000)
				                 : 5000 + (size_t)(rand() % 60000);
			kids[i] = writer(url, next_w++, sizes, 64, 0);
			next_kill = ipkt_now_ms() + 1 + rand() % 8;
		}
	}
	for (int i = 0; i < ALIVE; i++) {
		kill(kids[i], SIGKILL);
		ipkt_wait_child(kids[i]);
	}
	/* drain: what is left is whole or reported */
	for (;;) {
		void *buf = NULL;
		ssize_t n = ipk_recv_alloc(l, &buf, NULL, 300);
		if (n == -EPROTO) {
			protos++;
			continue;
		}
		if (n < 0)
			break;
		uint32_t w, s;
		corrupt += !whole(buf, (size_t)n, &w, &s);
		msgs++;
		free(buf);
	}
	cr_log_info("fifo chaos: %d kills, %d messages, %d reported, %d corrupt",
	            kills, msgs, protos, corrupt);
	cr_expect_eq(corrupt, 0, "%d corrupt messages delivered as success",
	             corrupt);
	cr_expect_gt(msgs, 0);
	cr_expect_leq(protos, kills, "more reports (%d) than kills (%d)", protos,
	              kills);
	ipk_close(l);
}

/* Write bytes into the FIFO as a plain program would. */
static void plain_write(const char *url, const void *p, size_t n)
{
	int fd = open(strchr(url, ':') + 1, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void send_text(const char *url, const char *text)
{
	ipk_chan *d = ipkt_dial_ok(url);
	cr_assert_eq(ipk_send(d, text, strlen(text), 1000), (ssize_t)strlen(text));
	ipk_close(d);
}

static void expect_text(ipk_chan *l, const char *text)
{
	char buf[256];
	ssize_t n = ipk_recv(l, buf, sizeof buf, 2000);
	cr_assert_eq(n, (ssize_t)strlen(text), "recv: %zd %s", n,
	             n < 0 ? ipk_last_error() : "");
	cr_assert(memcmp(buf, text, (size_t)n) == 0);
}

static void expect_proto(ipk_chan *l, const char *needle)
{
	char buf[256];
	ssize_t n = ipk_recv(l, buf, sizeof buf, 2000);
	cr_assert_eq(n, -EPROTO, "recv: %zd %s", n, n < 0 ? ipk_last_error() : "");
	cr_expect(strstr(ipk_last_error(), needle) != NULL, "%s",
	          ipk_last_error());
}

/*
 * `echo hi > fifo` into a framed listener: once "this looks like unframed
 * text ... listen with ?raw", then the next writer's messages as usual.
 * (Before: "peer announced a message of 7522537965568946284 bytes", and the
 * channel was dead.)
 */
Test(fifo_torn, plain_text_is_reported_and_skipped)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url, "");
	plain_write(url, "hi\n", 3);
	expect_proto(l, "unframed text");
	cr_expect(strstr(ipk_last_error(), "?raw") != NULL);
	cr_expect(strstr(ipk_last_error(), "\"hi\\n\"") != NULL, "%s",
	          ipk_last_error());
	send_text(url, "after");
	expect_text(l, "after");

	/* longer text, and text with a message right behind it */
	plain_write(url, "hello world, this is a line\n", 28);
	send_text(url, "second");
	expect_proto(l, "unframed text");
	expect_text(l, "second");

	/* binary bytes that are no frame */
	unsigned char junk[] = {0x01, 0x02, 0x03, 0x80, 0x00};
	plain_write(url, junk, sizeof junk);
	send_text(url, "third");
	expect_proto(l, "not a message of this channel");
	expect_text(l, "third");
	char buf[16];
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 0), -EAGAIN);
	ipk_close(l);
}

/* A message over the listener's limit is discarded and said so, whether it
   came in one write or in chunks; the next one arrives. */
Test(fifo_torn, oversize_is_discarded)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url, "?maxmsg=1000");
	ipk_chan *d = ipkt_dial_ok(url);
	static unsigned char big[50000];
	cr_assert_eq(ipk_send(d, big, 2000, 1000), 2000);
	cr_assert_eq(ipk_send(d, big, sizeof big, 1000), (ssize_t)sizeof big);
	cr_assert_eq(ipk_send(d, "ok", 2, 1000), 2);
	char buf[1000];
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 1000), -EMSGSIZE);
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 1000), -EMSGSIZE);
	cr_expect_eq(ipk_recv(l, buf, sizeof buf, 1000), 2);
	ipk_close(d);
	ipk_close(l);
}

/* A chunked message that does not fit the caller's buffer stays for the
   next receive, and ipk_poll says it is there. */
Test(fifo_torn, chunked_message_waits_for_a_buffer)
{
	char url[300];
	ipk_chan *l = listen_fifo(url, sizeof url, "");
	ipk_chan *d = ipkt_dial_ok(url);
	size_t len = 30000;
	unsigned char *msg = malloc(len), *buf = malloc(len);
	make_msg(msg, len, 7, 7);
	cr_assert_eq(ipk_send(d, msg, len, 1000), (ssize_t)len);
	cr_expect_eq(ipk_recv(l, buf, 100, 1000), -ENOBUFS);
	ipk_pollitem it = {.chan = l, .events = IPK_POLLIN};
	cr_expect_eq(ipk_poll(&it, 1, 0), 1);
	cr_expect_eq(ipk_recv(l, buf, len, 1000), (ssize_t)len);
	cr_expect(memcmp(buf, msg, len) == 0);
	free(msg);
	free(buf);
	ipk_close(d);
	ipk_close(l);
}
