/*
 * frames_producer: a C program that writes frames of float samples straight
 * into a shared-memory ring, for a Python consumer (docs/python.md).
 *
 *   frames_producer [URL [COUNT [SAMPLES]]]   (default shm:/sensor 100 65536)
 *
 * Each message is one frame: a 16-byte header (uint64 sequence number,
 * uint32 sample count, uint32 zero) and then the samples as 32-bit floats,
 * sample i of frame s being s + i. ipk_send_borrow() lends the space in the
 * ring and the frame is written in place: no copy on either side.
 *
 *   cc frames_producer.c -o frames_producer $(pkg-config --cflags --libs ipckit)
 */
#include <ipckit.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct frame_header {
	uint64_t seq;
	uint32_t samples;
	uint32_t zero;
};

int main(int argc, char **argv)
{
	const char *url = argc > 1 ? argv[1] : "shm:/sensor";
	long count = argc > 2 ? atol(argv[2]) : 100;
	long samples = argc > 3 ? atol(argv[3]) : 65536;
	if (count < 1 || samples < 1 || samples > (1L << 24)) {
		fprintf(stderr, "usage: frames_producer [URL [COUNT [SAMPLES]]]\n");
		return 2;
	}
	size_t len = sizeof(struct frame_header) + (size_t)samples * sizeof(float);

	ipk_chan *ring;
	/* the consumer creates the ring; wait up to 10 s for it */
	if (ipk_dial(&ring, url, 10000) < 0) {
		fprintf(stderr, "frames_producer: %s\n", ipk_last_error());
		return 1;
	}
	for (long s = 0; s < count; s++) {
		void *space;
		if (ipk_send_borrow(ring, &space, len, 10000) < 0) {
			fprintf(stderr, "frames_producer: %s\n", ipk_last_error());
			ipk_close(ring);
			return 1;
		}
		struct frame_header h = {(uint64_t)s, (uint32_t)samples, 0};
		memcpy(space, &h, sizeof h);
		float *x = (float *)((char *)space + sizeof h);
		for (long i = 0; i < samples; i++)
			x[i] = (float)(s + i);
		if (ipk_send_commit(ring, len) < 0) {
			fprintf(stderr, "frames_producer: %s\n", ipk_last_error());
			ipk_close(ring);
			return 1;
		}
	}
	printf("frames_producer: sent %ld frames of %ld samples\n", count, samples);
	return ipk_close(ring) == 0 ? 0 : 1;
}
