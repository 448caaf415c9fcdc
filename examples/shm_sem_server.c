/*
 * shm_sem_server: the classic shared-memory server, synchronised with a pair
 * of semaphores so that it never reads a half-written message.
 *
 *   shm_sem_server NAME [COUNT]
 *
 * Creates a shared-memory buffer (shm:/NAME) holding one message and two
 * POSIX semaphores: sem:/NAME-empty (1: the buffer may be written) and
 * sem:/NAME-full (0: a message is waiting). A client takes "empty", writes
 * the message, posts "full"; the server takes "full", reads, posts "empty".
 * Each message carries a checksum the server verifies, so a torn message
 * would show. Prints each message on a line; stops after COUNT messages
 * (or on Ctrl-C) and removes what it created.
 *
 *   ./shm_sem_server demo 2 &
 *   ./shm_sem_client demo "hello" "world"
 *
 * shm_sem_client.c is the writing side; both define the same struct message.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct message {
	uint32_t len;
	uint32_t sum;   /* FNV-1a of text[0..len) */
	char text[4088];
};

static uint32_t fnv1a(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	while (n--)
		h = (h ^ (unsigned char)*p++) * 16777619u;
	return h;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s NAME [COUNT]\n", argv[0]);
		return 2;
	}
	long count = argc == 3 ? strtol(argv[2], NULL, 10) : -1;
	char url[256], empty_url[256], full_url[256];
	snprintf(url, sizeof url, "shm:/%s", argv[1]);
	snprintf(empty_url, sizeof empty_url, "sem:/%s-empty", argv[1]);
	snprintf(full_url, sizeof full_url, "sem:/%s-full", argv[1]);

	/* the buffer and "full" first: "empty" appearing means all is ready */
	ipk_region *region = NULL;
	ipk_sem *empty = NULL, *full = NULL;
	int rc = ipk_region_open(&region, url, sizeof(struct message),
	                         IPK_REGION_CREATE);
	if (rc == 0)
		rc = ipk_sem_open(&full, full_url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 0);
	if (rc == 0)
		rc = ipk_sem_open(&empty, empty_url, IPK_SYNC_CREATE | IPK_SYNC_EXCL,
		                  1);
	if (rc < 0) {
		fprintf(stderr, "shm_sem_server: %s\n", ipk_last_error());
		goto out;
	}
	struct message *m = ipk_region_addr(region);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	long got = 0, torn = 0;
	while (!stop && (count < 0 || got < count)) {
		/* short waits, so Ctrl-C is noticed and we clean up */
		rc = ipk_sem_wait(full, 200);
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0) {
			fprintf(stderr, "shm_sem_server: %s\n", ipk_last_error());
			break;
		}
		if (m->len > sizeof m->text || fnv1a(m->text, m->len) != m->sum)
			torn++;
		else
			printf("%.*s\n", (int)m->len, m->text);
		got++;
		ipk_sem_post(empty);
	}
	fflush(stdout);
	fprintf(stderr, "shm_sem_server: %ld messages, %ld torn\n", got, torn);
	rc = torn ? -EPROTO : 0;
out:
	/* the server owns the objects: remove them for good */
	if (empty) {
		ipk_sem_unlink(empty);
		ipk_sem_close(empty);
	}
	if (full) {
		ipk_sem_unlink(full);
		ipk_sem_close(full);
	}
	if (region) {
		ipk_region_remove(region);
		ipk_region_detach(region);
	}
	return rc < 0 ? 1 : 0;
}
