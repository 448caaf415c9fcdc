/*
 * The classic System V shared-memory server, on ipckit regions.
 *
 *   sysv_shm_server [PATH [PROJ]]      (defaults: the current directory, 'R')
 *
 * The old recipe: key = ftok(path, proj); shmget(key, size, IPC_CREAT |
 * IPC_EXCL | 0600); shmat; wait for the client; shmdt; shmctl(IPC_RMID).
 * Here: one ipk_region_open() of "sysvshm:PATH?proj=N&mode=0600" does the
 * ftok, the shmget with explicit permissions and the shmat;
 * ipk_region_remove() is the IPC_RMID and ipk_region_detach() the shmdt.
 *
 * The client (sysv_shm_client) writes a string that grows by one letter each
 * time; the server prints every version, then reports the segment's facts
 * from shmid_ds and removes it.
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

/* What the two programs agree to keep in the segment. */
struct board {
	_Atomic uint32_t version; /* bumped by the client after each write */
	_Atomic uint32_t seen;    /* the last version the server printed */
	_Atomic uint32_t done;    /* the client has finished */
	uint32_t reserved;
	char text[SEGMENT_SIZE - 16];
};

static void nap(void)
{
	struct timespec ts = {0, 1000000}; /* 1 ms: plenty for a demo */
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : ".";
	int proj = argc > 2 ? atoi(argv[2]) : 'R';
	char url[512];
	snprintf(url, sizeof url, "sysvshm:%s?proj=%d&mode=0600", path, proj);

	ipk_region *r;
	int rc = ipk_region_open(&r, url, sizeof(struct board), IPK_REGION_CREATE);
	if (rc < 0) {
		fprintf(stderr, "server: %s\n", ipk_last_error());
		return 1;
	}
	ipk_regioninfo info;
	ipk_region_info(r, &info);
	printf("server: segment key 0x%08x id %d, %zu bytes, mode %03o\n",
	       (unsigned)info.key, info.shmid, info.size, info.mode);
	fflush(stdout);

	struct board *b = ipk_region_addr(r); /* a new segment is all zeros */
	uint32_t printed = 0;
	for (;;) {
		uint32_t v = atomic_load_explicit(&b->version, memory_order_acquire);
		if (v != printed) {
			printf("server: %s\n", b->text);
			fflush(stdout);
			printed = v;
			atomic_store_explicit(&b->seen, v, memory_order_release);
		} else if (atomic_load_explicit(&b->done, memory_order_acquire)) {
			break;
		} else {
			nap();
		}
	}

	ipk_region_info(r, &info);
	printf("server: %u versions; created by pid %d, last attach/detach by "
	       "pid %d, %ld attached now\n",
	       printed, (int)info.cpid, (int)info.lpid, info.nattch);
	/* IPC_RMID, then shmdt: the segment is gone once we detach */
	if (ipk_region_remove(r) < 0)
		fprintf(stderr, "server: %s\n", ipk_last_error());
	ipk_region_detach(r);
	printf("server: segment removed\n");
	return 0;
}
