/*
 * Leak check for the queue tests: every System V key and POSIX queue name a
 * test creates is logged; when the run ends, the runner verifies that none
 * is left (/proc/sysvipc/msg, mq_open), removes any that is, and fails.
 * Header-only: included by test_sysvmq.c, test_posixmq.c, test_signal.c and
 * the queue fixtures of test_conformance.c.
 */
#ifndef IPKT_QUEUE_CHECK_H
#define IPKT_QUEUE_CHECK_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include "core/owner.h"

#define QLOG_ENV "IPKT_QUEUE_LOG"

__attribute__((constructor)) static void qlog_init(void)
{
	/* the runner names the log; test processes inherit the name */
	if (getenv(QLOG_ENV) == NULL) {
		char path[64];
		snprintf(path, sizeof path, "/tmp/ipkt-%d-queues.log", (int)getpid());
		setenv(QLOG_ENV, path, 1);
	}
}

static void qlog(const char *kind, const char *what)
{
	const char *path = getenv(QLOG_ENV);
	if (path == NULL)
		return;
	FILE *f = fopen(path, "a");
	if (f == NULL)
		return;
	fprintf(f, "%s %s\n", kind, what);
	fclose(f);
}

/* A System V key unique to this process and call, logged for the check. */
static inline unsigned qlog_key(unsigned prefix)
{
	static unsigned n;
	unsigned key = prefix | ((unsigned)getpid() & 0xfffff) << 8 | (n++ & 0xff);
	char text[16];
	snprintf(text, sizeof text, "0x%08x", key);
	qlog("sysvmq", text);
	return key;
}

/* A POSIX queue name unique to this process and call, logged. */
static inline const char *qlog_mq(const char *tag)
{
	static _Thread_local char names[4][64];
	static unsigned n, i;
	char *b = names[i++ % 4];
	snprintf(b, sizeof names[0], "/ipkt-%d-%u-%s", (int)getpid(), n++, tag);
	qlog("mq", b);
	return b;
}

static inline int sysv_key_exists(unsigned key)
{
	FILE *f = fopen("/proc/sysvipc/msg", "r");
	if (f == NULL)
		return 0;
	char line[512];
	int found = 0;
	while (!found && fgets(line, sizeof line, f)) {
		long long k;
		if (sscanf(line, "%lld", &k) == 1 && (unsigned)k == key)
			found = 1;
	}
	fclose(f);
	return found;
}

static inline int mq_exists(const char *name)
{
	mqd_t q = mq_open(name, O_RDONLY);
	if (q == (mqd_t)-1)
		return errno != ENOENT;
	mq_close(q);
	return 1;
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	const char *path = getenv(QLOG_ENV);
	if (path == NULL)
		return;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	char kind[16], what[128];
	int leaks = 0;
	while (fscanf(f, "%15s %127s", kind, what) == 2) {
		/* a listener's owner record goes with its queue */
		struct ipk__owner o;
		if ((strcmp(kind, "sysvmq") == 0 || strcmp(kind, "mq") == 0) &&
		    ipk__owner_read(kind, what, geteuid(), &o) > 0) {
			fprintf(stderr, "LEAK: owner record of %s:%s left behind\n",
			        kind, what);
			ipk__owner_forget(kind, what, geteuid(), IPK__OWNER_PENDING);
			leaks++;
		}
		if (strcmp(kind, "sysvmq") == 0) {
			unsigned key = (unsigned)strtoul(what, NULL, 16);
			if (sysv_key_exists(key)) {
				fprintf(stderr, "LEAK: System V queue %s left behind\n", what);
				msgctl(msgget((key_t)key, 0), IPC_RMID, NULL);
				leaks++;
			}
		} else if (strcmp(kind, "mq") == 0 && mq_exists(what)) {
			fprintf(stderr, "LEAK: POSIX queue %s left behind\n", what);
			mq_unlink(what);
			leaks++;
		}
	}
	fclose(f);
	unlink(path);
	if (leaks) {
		fprintf(stderr, "%d queue(s) were left behind (removed now)\n", leaks);
		fflush(stderr);
		_exit(1);
	}
}

#endif
