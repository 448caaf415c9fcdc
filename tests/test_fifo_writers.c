/*
 * Many writers, one FIFO: the kernel keeps a write whole only up to PIPE_BUF
 * (4096 bytes); above that, writes of concurrent writers interleave. The
 * fifo transport holds an exclusive flock for each message, so whole
 * messages arrive whatever their size. Every message carries its writer and
 * sequence number; the body is derived from both, so a single foreign byte
 * is caught, and each writer's messages must arrive in the order sent.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITERS 4

/* writer w, message s: 4 bytes w, 4 bytes s, then a body unique to (w, s) */
static void make_msg(unsigned char *buf, size_t len, uint32_t w, uint32_t s)
{
	ipkt_fill(buf, len, w * 1000003u + s);
	memcpy(buf, &w, 4);
	memcpy(buf + 4, &s, 4);
}

static void writer(const char *url, uint32_t w, unsigned count,
                   size_t (*size_of)(uint32_t, uint32_t))
{
	ipk_chan *c = NULL;
	if (ipk_dial(&c, url, 20000) < 0) {
		fprintf(stderr, "writer %u: dial: %s\n", w, ipk_last_error());
		_exit(3);
	}
	unsigned char *buf = malloc(size_of(w, UINT32_MAX));
	for (uint32_t s = 0; s < count; s++) {
		size_t len = size_of(w, s);
		make_msg(buf, len, w, s);
		if (ipk_send(c, buf, len, 60000) != (ssize_t)len) {
			fprintf(stderr, "writer %u: send #%u: %s\n", w, s,
			        ipk_last_error());
			_exit(4);
		}
	}
	free(buf);
	_exit(ipk_close(c) == 0 ? 0 : 5);
}

static void run(unsigned count, size_t (*size_of)(uint32_t, uint32_t))
{
	char url[300];
	snprintf(url, sizeof url, "fifo:%s", ipkt_path("writers"));
	ipk_chan *rx;
	cr_assert_eq(ipk_listen(&rx, url), 0, "listen %s: %s", url,
	             ipk_last_error());
	pid_t pids[WRITERS];
	for (uint32_t w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		cr_assert_neq(pids[w], -1);
		if (pids[w] == 0) {
			ipk_close(rx); /* the parent's: the child only lets go of it */
			writer(url, w, count, size_of);
		}
	}
	uint32_t next[WRITERS] = {0};
	size_t maxlen = size_of(0, UINT32_MAX);
	unsigned char *buf = malloc(maxlen), *want = malloc(maxlen);
	for (unsigned i = 0; i < WRITERS * count; i++) {
		ssize_t n = ipk_recv(rx, buf, maxlen, 60000);
		cr_assert_geq(n, 8, "message %u: %zd (%s)", i, n,
		              n < 0 ? ipk_last_error() : "too short");
		uint32_t w, s;
		memcpy(&w, buf, 4);
		memcpy(&s, buf + 4, 4);
		cr_assert_lt(w, WRITERS, "message %u: bad writer id %u (interleaved?)",
		             i, w);
		cr_assert_eq(s, next[w], "writer %u: got #%u, expected #%u", w, s,
		             next[w]);
		cr_assert_eq((size_t)n, size_of(w, s), "writer %u #%u: length %zd",
		             w, s, n);
		make_msg(want, (size_t)n, w, s);
		cr_assert(memcmp(buf, want, (size_t)n) == 0,
		          "writer %u #%u (%zd bytes): body mixed with another message",
		          w, s, n);
		next[w]++;
	}
	for (uint32_t w = 0; w < WRITERS; w++) {
		int st;
		cr_assert_eq(waitpid(pids[w], &st, 0), pids[w]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		          "writer %u failed (status %#x)", w, st);
		cr_assert_eq(next[w], count);
	}
	/* nothing more: every writer has gone, the FIFO is empty */
	cr_assert_eq(ipk_recv(rx, buf, maxlen, 0), -EAGAIN);
	free(buf);
	free(want);
	cr_assert_eq(ipk_close(rx), 0);
}

static size_t size_64k(uint32_t w, uint32_t s)
{
	(void)w;
	(void)s;
	return 64 * 1024;
}

Test(fifo_writers, four_writers_1000_messages_of_64k, .timeout = 600)
{
	run(1000, size_64k);
}

/* Sizes on both sides of PIPE_BUF, different for each writer at any moment. */
static size_t size_mixed(uint32_t w, uint32_t s)
{
	static const size_t sizes[] = {8, 100, PIPE_BUF - 1, PIPE_BUF,
	                               PIPE_BUF + 1, 3 * PIPE_BUF + 17, 65535,
	                               65536, 65537, 200000};
	const size_t n = sizeof sizes / sizeof sizes[0];
	if (s == UINT32_MAX)
		return sizes[n - 1];
	return sizes[(s + w * 3) % n];
}

Test(fifo_writers, mixed_sizes_around_pipe_buf, .timeout = 600)
{
	run(1000, size_mixed);
}

/* One dialed channel shared across fork: two children write through the
   same open file description, whose flock they would share; each writer
   process gets its own, so their messages still never interleave. */
Test(fifo_writers, writers_sharing_one_channel_across_fork, .timeout = 600)
{
	char url[300];
	snprintf(url, sizeof url, "fifo:%s", ipkt_path("shared"));
	ipk_chan *rx, *tx;
	cr_assert_eq(ipk_listen(&rx, url), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_dial(&tx, url, 5000), 0, "%s", ipk_last_error());
	enum { COUNT = 20, LEN = 1 << 20 };
	pid_t pids[2];
	for (uint32_t w = 0; w < 2; w++) {
		pids[w] = fork();
		cr_assert_neq(pids[w], -1);
		if (pids[w] == 0) {
			ipk_close(rx);
			unsigned char *buf = malloc(LEN);
			for (uint32_t s = 0; s < COUNT; s++) {
				make_msg(buf, LEN, w, s);
				if (ipk_send(tx, buf, LEN, 60000) != LEN) {
					fprintf(stderr, "writer %u: %s\n", w, ipk_last_error());
					_exit(4);
				}
			}
			_exit(ipk_close(tx) == 0 ? 0 : 5);
		}
	}
	ipk_close(tx);
	unsigned char *buf = malloc(LEN), *want = malloc(LEN);
	uint32_t next[2] = {0};
	for (int k = 0; k < 2 * COUNT; k++) {
		ssize_t n = ipk_recv(rx, buf, LEN, 60000);
		cr_assert_eq(n, LEN, "message %d: %zd (%s)", k, n, ipk_last_error());
		uint32_t w, s;
		memcpy(&w, buf, 4);
		memcpy(&s, buf + 4, 4);
		cr_assert_lt(w, 2u, "interleaved: writer id %u", w);
		cr_assert_eq(s, next[w], "writer %u: got #%u, expected #%u", w, s, next[w]);
		make_msg(want, LEN, w, s);
		cr_assert(memcmp(buf, want, LEN) == 0,
		          "writer %u #%u mixed with another message", w, s);
		next[w]++;
	}
	for (int w = 0; w < 2; w++) {
		int st;
		cr_assert_eq(waitpid(pids[w], &st, 0), pids[w]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d: %#x", w, st);
	}
	free(buf);
	free(want);
	cr_assert_eq(ipk_close(rx), 0);
}
