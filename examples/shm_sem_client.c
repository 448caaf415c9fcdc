/*
 * shm_sem_client: writes messages into the buffer of shm_sem_server.
 *
 *   shm_sem_client NAME MESSAGE...
 *   shm_sem_client NAME -n COUNT      (COUNT generated messages)
 *
 * For each message: take sem:/NAME-empty (the buffer is ours), write the
 * message and its checksum into shm:/NAME, post sem:/NAME-full (the server
 * may read). Several clients can run at once: "empty" lets one write at a
 * time. Waits up to 5 s for the server to start.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static int send_one(ipk_sem *empty, ipk_sem *full, struct message *m,
                    const char *text)
{
	size_t len = strlen(text);
	if (len > sizeof m->text)
		len = sizeof m->text;
	int rc = ipk_sem_wait(empty, 10000);
	if (rc < 0)
		return rc;
	/* written piece by piece; the server only looks after "full" */
	for (size_t i = 0; i < len; i++)
		m->text[i] = text[i];
	m->len = (uint32_t)len;
	m->sum = fnv1a(text, len);
	return ipk_sem_post(full);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s NAME MESSAGE... | NAME -n COUNT\n",
		        argv[0]);
		return 2;
	}
	char url[256], empty_url[256], full_url[256];
	snprintf(url, sizeof url, "shm:/%s", argv[1]);
	snprintf(empty_url, sizeof empty_url, "sem:/%s-empty", argv[1]);
	snprintf(full_url, sizeof full_url, "sem:/%s-full", argv[1]);

	/* the server creates "empty" last: once it is there, all is */
	ipk_sem *empty = NULL, *full = NULL;
	ipk_region *region = NULL;
	int rc;
	for (int tries = 0;; tries++) {
		rc = ipk_sem_open(&empty, empty_url, 0, 0);
		if (rc != -ENOENT || tries == 500)
			break;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	if (rc == 0)
		rc = ipk_sem_open(&full, full_url, 0, 0);
	if (rc == 0)
		rc = ipk_region_open(&region, url, 0, IPK_REGION_ATTACH);
	if (rc < 0) {
		fprintf(stderr, "shm_sem_client: %s (is shm_sem_server running?)\n",
		        ipk_last_error());
		goto out;
	}
	struct message *m = ipk_region_addr(region);

	if (strcmp(argv[2], "-n") == 0 && argc == 4) {
		long n = strtol(argv[3], NULL, 10);
		char text[512];
		for (long i = 0; i < n && rc == 0; i++) {
			/* lengths vary so a torn message would not pass unseen */
			int len = snprintf(text, sizeof text, "client %d message %ld ",
			                   (int)getpid(), i);
			for (long k = 0; k < (i * 37) % 400; k++)
				text[len++] = (char)('a' + (i + k) % 26);
			text[len] = '\0';
			rc = send_one(empty, full, m, text);
		}
	} else {
		for (int i = 2; i < argc && rc == 0; i++)
			rc = send_one(empty, full, m, argv[i]);
	}
	if (rc < 0)
		fprintf(stderr, "shm_sem_client: %s\n", ipk_last_error());
out:
	ipk_sem_close(empty);
	ipk_sem_close(full);
	if (region)
		ipk_region_detach(region);
	return rc < 0 ? 1 : 0;
}
