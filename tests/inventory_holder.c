/*
 * Test helper: create (or open) the object each address names through the
 * library, say "ready" on stdout, and hold it until killed. The inventory
 * tests kill -9 some holders and keep others alive.
 *   inventory_holder [--open] URL
 * Channels (fifo:, unix:, queues, rings ...) are listened on; sem:,
 * sysvsem:, mutex:, cond: and rwlock: are created (--open: opened).
 */
#define _GNU_SOURCE
#include "ipckit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int open_sync(const char *url, int flags)
{
	if (strncmp(url, "sem:", 4) == 0 || strncmp(url, "sysvsem:", 8) == 0) {
		ipk_sem *s;
		int rc = ipk_sem_open(&s, url, flags, 1);
		if (rc == 0 && strcmp(url, "sysvsem:private") == 0)
			printf("sysvsem:@%d\n", ipk_semset_id(s));
		return rc;
	}
	if (strncmp(url, "mutex:", 6) == 0) {
		ipk_mutex *m;
		return ipk_mutex_open(&m, url, flags);
	}
	if (strncmp(url, "cond:", 5) == 0) {
		ipk_cond *c;
		return ipk_cond_open(&c, url, flags);
	}
	if (strncmp(url, "rwlock:", 7) == 0) {
		ipk_rwlock *rw;
		return ipk_rwlock_open(&rw, url, flags);
	}
	return 1; /* not a sync object */
}

int main(int argc, char **argv)
{
	int flags = IPK_SYNC_CREATE | IPK_SYNC_EXCL;
	int i = 1;
	if (i < argc && strcmp(argv[i], "--open") == 0) {
		flags = 0;
		i++;
	}
	if (i + 1 != argc) {
		fprintf(stderr, "usage: inventory_holder [--open] URL\n");
		return 2;
	}
	const char *url = argv[i];
	int rc = open_sync(url, flags);
	if (rc == 1) {
		ipk_chan *c;
		rc = flags ? ipk_listen(&c, url) : ipk_dial(&c, url, 5000);
	}
	if (rc < 0) {
		fprintf(stderr, "inventory_holder: %s: %s\n", url, ipk_last_error());
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
