/*
 * The classic System V shared-memory client, on ipckit regions.
 *
 *   sysv_shm_client [PATH [PROJ [LETTERS]]]   (defaults: '.', 'R', 26)
 *
 * Attaches to the segment the server made (ftok + shmget without IPC_CREAT +
 * shmat, in one ipk_region_open) and writes "a", "ab", "abc", ... waiting
 * each time until the server has printed it. Then it detaches (shmdt):
 * removing the segment is the server's job.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEGMENT_SIZE 4096

struct board {
	_Atomic uint32_t version;
	_Atomic uint32_t seen;
	_Atomic uint32_t done;
	uint32_t reserved;
	char text[SEGMENT_SIZE - 16];
};

static void nap(void)
{
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : ".";
	int proj = argc > 2 ? atoi(argv[2]) : 'R';
	int letters = argc > 3 ? atoi(argv[3]) : 26;
	if (letters < 1 || letters > 26)
		letters = 26;
	char url[512];
	snprintf(url, sizeof url, "sysvshm:%s?proj=%d", path, proj);

	/* the server may still be starting: try for a few seconds */
	ipk_region *r = NULL;
	int rc = -1;
	for (int i = 0; i < 5000 && rc < 0; i++) {
		rc = ipk_region_open(&r, url, sizeof(struct board), IPK_REGION_ATTACH);
		if (rc < 0)
			nap();
	}
	if (rc < 0) {
		fprintf(stderr, "client: %s\n", ipk_last_error());
		return 1;
	}
	struct board *b = ipk_region_addr(r);
	for (int n = 1; n <= letters; n++) {
		for (int i = 0; i < n; i++)
			b->text[i] = (char)('a' + i);
		b->text[n] = '\0';
		/* publish the text, then wait until the server has printed it */
		uint32_t v = atomic_fetch_add_explicit(&b->version, 1,
		                                       memory_order_release) + 1;
		while (atomic_load_explicit(&b->seen, memory_order_acquire) != v)
			nap();
	}
	atomic_store_explicit(&b->done, 1, memory_order_release);
	ipk_region_detach(r);
	printf("client: wrote %d versions and detached\n", letters);
	return 0;
}
