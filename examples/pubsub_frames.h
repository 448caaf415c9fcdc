/* The frame format shared by pubsub_frames_pub.c and pubsub_frames_sub.c. */
#ifndef PUBSUB_FRAMES_H
#define PUBSUB_FRAMES_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#define FRAME_W 320
#define FRAME_H 240

struct frame {
	uint64_t seq;      /* 0, 1, 2, ... */
	int64_t sent_ns;   /* CLOCK_MONOTONIC when published */
	uint32_t width, height;
	uint32_t checksum; /* FNV-1a of the pixels */
	uint32_t last;     /* 1 on the final frame */
	unsigned char pixels[FRAME_W * FRAME_H];
};

static inline int64_t frames_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline uint32_t frames_fnv(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* A moving gradient: every frame differs, every byte is checked. */
static inline void frames_draw(struct frame *f, uint64_t seq, int last)
{
	f->seq = seq;
	f->width = FRAME_W;
	f->height = FRAME_H;
	f->last = (uint32_t)last;
	for (int y = 0; y < FRAME_H; y++)
		memset(f->pixels + y * FRAME_W, (int)((y + seq) & 0xff), FRAME_W);
	f->checksum = frames_fnv(f->pixels, sizeof f->pixels);
	f->sent_ns = frames_now_ns();
}

#endif
