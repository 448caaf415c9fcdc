/*
 * Subscribe to pubsub_frames_pub and check every frame.
 *
 *   pubsub_frames_sub URL
 *
 * with the publisher's address ('shm:/frames', 'tcp://127.0.0.1:5555').
 * It dials (?proto=sub is added; it waits for the publisher to appear),
 * subscribes to everything and reads frames until the last one: in place
 * where the channel lends its memory (ipk_recv_peekmsg/ipk_recv_release on
 * shared memory: no copy at all), copied elsewhere. Every frame's checksum
 * is verified; frames the subscriber was too slow for are counted as the
 * library reports them (ipk_msginfo.missed). Exit status 0 if every frame
 * it got was intact.
 */
#define _GNU_SOURCE
#include "pubsub_frames.h"

#include <ipckit.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what)
{
	fprintf(stderr, "pubsub_frames_sub: %s: %s\n", what, ipk_last_error());
	return 1;
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s URL\n", argv[0]);
		return 2;
	}
	char url[512];
	snprintf(url, sizeof url, "%s%cproto=sub", argv[1],
	         strchr(argv[1], '?') ? '&' : '?');
	ipk_chan *sub;
	if (ipk_dial(&sub, url, 30000) < 0)
		return fail(url);
	if (ipk_subscribe(sub, "", 0) < 0)
		return fail("subscribe");

	struct frame *copy = NULL;
	size_t cap = 1 << 16, got = 0, bad = 0, torn = 0;
	uint64_t missed = 0;
	int64_t *lat = malloc(cap * sizeof *lat);
	bool in_place = true, last = false;
	while (!last) {
		const struct frame *f;
		ipk_msginfo info = {0};
		ssize_t n = -EOPNOTSUPP;
		if (in_place)
			n = ipk_recv_peekmsg(sub, (const void **)&f, &info, 30000);
		if (n == -EOPNOTSUPP) {
			/* this mechanism does not lend memory: copy */
			in_place = false;
			if (copy == NULL && (copy = malloc(sizeof *copy)) == NULL)
				return 1;
			n = ipk_recvmsg(sub, copy, sizeof *copy, &info, 30000);
			f = copy;
		}
		if (n < 0)
			return fail("receive");
		int64_t now = frames_now_ns();
		bool ok = n == (ssize_t)sizeof(struct frame) &&
		          f->width == FRAME_W && f->height == FRAME_H &&
		          frames_fnv(f->pixels, sizeof f->pixels) == f->checksum;
		int64_t sent = ok ? f->sent_ns : 0;
		last = ok && f->last;
		missed += info.missed;
		if (in_place && ipk_recv_release(sub) == -ESTALE) {
			/* overwritten while we read it: the next frame says so */
			torn++;
			continue;
		}
		if (!ok) {
			bad++;
			continue;
		}
		if (got < cap)
			lat[got] = now - sent;
		got++;
	}
	size_t nl = got < cap ? got : cap;
	qsort(lat, nl, sizeof *lat, cmp);
	printf("received %zu frames (%s), missed %llu, torn %zu, corrupt %zu, "
	       "latency p50 %.1f us\n", got, in_place ? "in place" : "copied",
	       (unsigned long long)missed, torn, bad,
	       nl ? (double)lat[nl / 2] / 1000 : 0.0);
	free(lat);
	free(copy);
	ipk_close(sub);
	return bad == 0 ? 0 : 1;
}
