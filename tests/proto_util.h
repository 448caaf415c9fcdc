/* Helpers for the messaging-pattern tests: a REP server process, REQ
   clients that check every reply, and the addresses of every transport. */
#ifndef IPK_TEST_PROTO_UTIL_H
#define IPK_TEST_PROTO_UTIL_H

#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every scheme request/reply runs on. */
static const char *const rr_schemes[] = {"unix", "tcp", "unixgram", "sysvmq",
                                         "mq", "fifo", "shm", "mmap"};
#define PT_NSCHEMES 8

/* A fresh address of scheme for a server to listen on (options appended
   with &; the caller adds proto=). */
static inline void pt_address(const char *scheme, char *buf, size_t cap)
{
	if (strcmp(scheme, "tcp") == 0)
		snprintf(buf, cap, "tcp://127.0.0.1:0?");
	else if (strcmp(scheme, "sysvmq") == 0) {
		const char *f = ipkt_path("key");
		int fd = open(f, O_CREAT | O_WRONLY, 0600);
		cr_assert_geq(fd, 0);
		close(fd);
		snprintf(buf, cap, "sysvmq:%s?proj=%d&", f, 1 + getpid() % 250);
	} else if (strcmp(scheme, "mq") == 0)
		/* small queues: every queue of the user shares RLIMIT_MSGQUEUE
		   (800 KiB by default), and each client makes one */
		snprintf(buf, cap, "mq:%s?msgsize=1024&maxmsg=8&", ipkt_name("pt"));
	else if (strcmp(scheme, "shm") == 0)
		snprintf(buf, cap, "%s:%s?", scheme, ipkt_name("pt"));
	else
		snprintf(buf, cap, "%s:%s?", scheme, ipkt_path("pt"));
}

/*
 * Suite .fini: nothing of this process may be left: /dev/shm (rings), the
 * key files pt_address made, /tmp (FIFOs, mmap: rings and their reply
 * mailboxes), and POSIX queues (listed through a private
 * mount of the mqueue file system, where the machine allows it). What is
 * left is removed and fails the test.
 */
/* sysvmq: servers listen under ftok(key file, 1 + pid % 250): a queue
   still there under one of this process's key files was left behind
   (a listener keeps a queue it took over while messages are unread in it,
   docs/queues.md). Count them and remove them. */
static inline int pt_sysvmq_left(void)
{
	int left = 0;
	DIR *d = opendir("/tmp");
	if (!d)
		return 0;
	char prefix[32];
	int plen = snprintf(prefix, sizeof prefix, "ipkt-%d-", (int)getpid());
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, prefix, (size_t)plen) != 0 || n < 4 ||
		    strcmp(e->d_name + n - 4, "-key") != 0)
			continue;
		char f[300];
		snprintf(f, sizeof f, "/tmp/%s", e->d_name);
		key_t k = ftok(f, 1 + getpid() % 250);
		int id = k == -1 ? -1 : msgget(k, 0);
		if (id >= 0) {
			fprintf(stderr, "left: System V queue 0x%08x (%s)\n",
			        (unsigned)k, f);
			/* through the library: its owner record goes too */
			char url[32];
			snprintf(url, sizeof url, "sysvmq:0x%08x", (unsigned)k);
			if (ipk_remove_flags(url, IPK_REMOVE_FORCE) < 0)
				msgctl(id, IPC_RMID, NULL);
			left++;
		}
	}
	closedir(d);
	return left;
}

/* When this process started (seconds since the epoch, rounded down), so
   that files named after its pid that are older than it (left by a
   process that had the same pid before; pid_max is often 32768) are not
   taken for its own. */
static inline long pt_started(void)
{
	long btime = 0;
	unsigned long long ticks = 0;
	char line[256];
	FILE *f = fopen("/proc/stat", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "btime %ld", &btime) == 1)
			break;
	if (f)
		fclose(f);
	char st[1024];
	f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(st, 1, sizeof st - 1, f) : 0;
	if (f)
		fclose(f);
	st[n] = '\0';
	const char *p = strrchr(st, ')'); /* the name may hold spaces */
	/* field 22 is the start time; p is at the end of field 2 */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p && btime > 0 && sscanf(p + 1, "%llu", &ticks) == 1)
		return btime + (long)(ticks / (unsigned long long)sysconf(_SC_CLK_TCK));
	return 0; /* unknown: every file named after this pid counts */
}

static inline void pt_leak_check(void)
{
	int queues = pt_sysvmq_left();
	ipkt_sh("rm -f /tmp/ipkt-%d-*-key", (int)getpid());
	long since = pt_started() - 1;
	int left = ipkt_sh("unshare --mount sh -c 'd=$(mktemp -d) && "
	                   "mount -t mqueue none $d 2>/dev/null || exit 0; "
	                   "l=$(ls $d | grep ^ipkt-%d-); rm -f $d/ipkt-%d-*; "
	                   "umount $d; rmdir $d; [ -z \"$l\" ] || "
	                   "{ echo left: $l >&2; exit 1; }' 2>&1",
	                   (int)getpid(), (int)getpid());
	/* fifo: and mmap: reply mailboxes (NAME.r<pid>.<nonce>) live in /tmp */
	int files = ipkt_sh("l=$(find /tmp -maxdepth 1 -name 'ipkt-%d-*' "
	                    "-newerct @%ld); [ -z \"$l\" ] || "
	                    "{ rm -f $l; echo left: $l >&2; exit 1; }",
	                    (int)getpid(), since);
	ipkt_check_dev_shm();
	cr_assert(queues == 0, "System V queues were left behind");
	cr_assert(left != 1, "POSIX queues were left behind");
	cr_assert(files != 1, "files were left behind in /tmp");
}

/* What a server does. */
struct pt_server {
	int batch;      /* gather up to this many requests, reply last first */
	int drop;       /* ignore the first N requests (their clients resend) */
	int status;     /* attached to every reply */
	int delay_ms;   /* before each batch of replies */
};

/* fork(), asserted; the child is killed when the test process dies. */
static inline pid_t pt_fork(void)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return pid;
}

/*
 * Fork a child (killed when its parent dies) that listens on url. In the
 * child it returns 0 with *ch its channel; the parent gets the child's pid
 * once the child has written the address to dial to addr. who names the
 * child in messages.
 */
static inline pid_t pt_fork_listener(const char *who, const char *url,
                                     ipk_chan **ch, char *addr, size_t cap)
{
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = pt_fork();
	if (pid == 0) {
		close(ready[0]);
		if (ipk_listen(ch, url) < 0) {
			fprintf(stderr, "%s: listen %s: %s\n", who, url, ipk_last_error());
			_exit(20);
		}
		char a[512];
		ssize_t an = ipk_address(*ch, a, sizeof a);
		if (an < 0 || write(ready[1], a, (size_t)an + 1) != an + 1)
			_exit(21);
		close(ready[1]);
		return 0;
	}
	close(ready[1]);
	ssize_t n = read(ready[0], addr, cap);
	close(ready[0]);
	cr_assert_gt(n, 0, "the %s did not start on %s", who, url);
	return pid;
}

/*
 * Fork a REP server on url (which ends with ? or &: "proto=rep" is
 * appended). It replies "re:" + the request until a request "quit", which
 * it answers "bye" before closing its channel and exiting 0. The address
 * clients dial (proto=req) is written to addr.
 */
static inline pid_t pt_server_start(const char *url, struct pt_server o,
                                    char *addr, size_t cap)
{
	char full[512];
	/* the length is checked: a Release build with GCC sees the url's
	   bound, not this one */
	cr_assert_lt(snprintf(full, sizeof full, "%sproto=rep", url),
	             (int)sizeof full);
	ipk_chan *s;
	pid_t pid = pt_fork_listener("server", full, &s, addr, cap);
	if (pid == 0) {
		int batch = o.batch > 0 ? o.batch : 1;
		ipk_msginfo *mi = calloc((size_t)batch, sizeof *mi);
		char (*req)[512] = calloc((size_t)batch, 512);
		ssize_t *len = calloc((size_t)batch, sizeof *len);
		int dropped = 0;
		for (;;) {
			int n = 0;
			while (n < batch) {
				memset(&mi[n], 0, sizeof mi[n]);
				ssize_t r = ipk_recvmsg(s, req[n], 500, &mi[n],
				                        n == 0 ? -1 : 30);
				if (r == -ETIMEDOUT)
					break;
				if (r < 0) {
					fprintf(stderr, "server: recv: %s\n", ipk_last_error());
					_exit(22);
				}
				if (dropped < o.drop) {
					dropped++;
					continue;
				}
				len[n++] = r;
			}
			if (o.delay_ms)
				usleep((useconds_t)o.delay_ms * 1000);
			bool quit = false;
			for (int i = n - 1; i >= 0; i--) {
				char out[520];
				int m;
				if (len[i] == 4 && memcmp(req[i], "quit", 4) == 0) {
					m = snprintf(out, sizeof out, "bye");
					quit = true;
				} else {
					m = snprintf(out, sizeof out, "re:%.*s", (int)len[i],
					             req[i]);
				}
				mi[i].status = o.status;
				if (ipk_sendmsg(s, out, (size_t)m, &mi[i], 5000) < 0) {
					fprintf(stderr, "server: send: %s\n", ipk_last_error());
					_exit(23);
				}
			}
			if (quit) {
				ipk_close(s);
				_exit(0);
			}
		}
	}
	return pid;
}

/* Ask the server at addr to quit and wait for it: 0 when it did. */
static inline int pt_server_stop(const char *addr, pid_t pid)
{
	ipk_chan *c;
	int rc = ipk_dial(&c, addr, 5000);
	if (rc == 0) {
		char b[8];
		rc = ipk_send(c, "quit", 4, 5000) == 4 &&
		     ipk_recv(c, b, sizeof b, 10000) == 3 ? 0 : -1;
		ipk_close(c);
	}
	if (rc < 0)
		kill(pid, SIGKILL);
	int st = ipkt_wait_child(pid);
	return rc < 0 ? -1 : st;
}

/*
 * One client: n requests "c<id>:<i>:<pad>" each checked against its reply.
 * Returns the number of wrong or missing replies (0: all good), or -1 if
 * the channel could not be opened.
 */
static inline int pt_client(const char *addr, int id, int n, int pad,
                            int want_status)
{
	ipk_chan *c;
	if (ipk_dial(&c, addr, 10000) < 0) {
		fprintf(stderr, "client %d: dial %s: %s\n", id, addr, ipk_last_error());
		return -1;
	}
	int bad = 0;
	char req[512], rep[600], want[600];
	for (int i = 0; i < n; i++) {
		int m = snprintf(req, sizeof req, "c%d:%d:%.*s", id, i, pad,
		                 "................................................"
		                 "................................................");
		if (ipk_send(c, req, (size_t)m, 10000) != m) {
			fprintf(stderr, "client %d: send: %s\n", id, ipk_last_error());
			bad++;
			continue;
		}
		ipk_msginfo mi = {0};
		ssize_t r = ipk_recvmsg(c, rep, sizeof rep, &mi, 20000);
		int w = snprintf(want, sizeof want, "re:%s", req);
		if (r != w || memcmp(rep, want, (size_t)w) != 0 ||
		    (want_status >= -1 && mi.status != want_status)) {
			if (bad < 3)
				fprintf(stderr, "client %d request %d: got %zd '%.*s' status "
				                "%d (%s)\n",
				        id, i, r, r > 0 ? (int)r : 0, rep, mi.status,
				        r < 0 ? ipk_last_error() : "");
			bad++;
		}
	}
	ipk_close(c);
	return bad;
}

/* Fork k clients of n requests each; the total of their bad replies. */
static inline int pt_clients(const char *addr, int k, int n, int pad,
                             int want_status)
{
	pid_t *pids = calloc((size_t)k, sizeof *pids);
	int *bad = ipkt_shared((size_t)k * sizeof *bad);
	for (int i = 0; i < k; i++) {
		pids[i] = pt_fork();
		if (pids[i] == 0) {
			int b = pt_client(addr, i, n, pad, want_status);
			bad[i] = b < 0 ? n : b;
			_exit(b == 0 ? 0 : 1);
		}
	}
	int total = 0;
	for (int i = 0; i < k; i++) {
		int st = ipkt_wait_child(pids[i]);
		total += st == 0 ? 0 : (bad[i] ? bad[i] : n);
	}
	free(pids);
	return total;
}

#endif
