/*
 * Publish fixed-size video-like frames to every subscriber.
 *
 *   pubsub_frames_pub URL SUBSCRIBERS FRAMES [FPS]
 *
 * The same program on shared memory and over the network, only the
 * address differs:
 *
 *   pubsub_frames_pub 'shm:/frames?size=8M' 3 300 100
 *   pubsub_frames_pub 'tcp://127.0.0.1:5555' 3 300 100
 *
 * It listens (?proto=pub is added), waits for SUBSCRIBERS to attach, then
 * publishes FRAMES frames of 75 KiB at FPS per second. Where the channel
 * lends its memory (shared memory) each frame is drawn straight into the
 * broadcast ring (ipk_send_borrow/ipk_send_commit) and every subscriber
 * reads it there; elsewhere it is drawn into a buffer and sent.
 */
#define _GNU_SOURCE
#include "pubsub_frames.h"

#include <ipckit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "pubsub_frames_pub: %s: %s\n", what, ipk_last_error());
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s URL SUBSCRIBERS FRAMES [FPS]\n", argv[0]);
		return 2;
	}
	int nsubs = atoi(argv[2]);
	long frames = atol(argv[3]);
	long fps = argc > 4 ? atol(argv[4]) : 100;
	char url[512];
	snprintf(url, sizeof url, "%s%cproto=pub", argv[1],
	         strchr(argv[1], '?') ? '&' : '?');

	ipk_chan *pub;
	if (ipk_listen(&pub, url) < 0)
		return fail(url);
	/* a subscriber that is not there yet would miss the first frames */
	int64_t give_up = frames_now_ns() + (int64_t)30 * 1000000000;
	while (ipk_subscribers(pub) < nsubs) {
		if (frames_now_ns() > give_up) {
			fprintf(stderr, "pubsub_frames_pub: only %d of %d subscribers\n",
			        ipk_subscribers(pub), nsubs);
			ipk_close(pub);
			return 1;
		}
		usleep(1000);
	}

	struct frame *scratch = NULL;
	int64_t period = fps > 0 ? 1000000000 / fps : 0;
	int64_t next = frames_now_ns();
	for (long i = 0; i < frames; i++) {
		void *where;
		ssize_t n = ipk_send_borrow(pub, &where, sizeof(struct frame), -1);
		if (n == -EOPNOTSUPP) {
			/* this mechanism does not lend memory: draw, then send */
			if (scratch == NULL && (scratch = malloc(sizeof *scratch)) == NULL)
				return 1;
			frames_draw(scratch, (uint64_t)i, i == frames - 1);
			if (ipk_send(pub, scratch, sizeof *scratch, -1) < 0)
				return fail("send");
		} else if (n < 0) {
			return fail("borrow");
		} else {
			frames_draw(where, (uint64_t)i, i == frames - 1);
			if (ipk_send_commit(pub, sizeof(struct frame)) < 0)
				return fail("commit");
		}
		if (period) {
			next += period;
			int64_t wait = next - frames_now_ns();
			if (wait > 0)
				usleep((useconds_t)(wait / 1000));
		}
	}
	printf("published %ld frames of %zu bytes to %d subscribers\n", frames,
	       sizeof(struct frame), nsubs);
	free(scratch);
	return ipk_close(pub) < 0 ? fail("close") : 0;
}
