/*
 * Which process holds what: one pass over /proc reading every descriptor
 * and every shared mapping, so that each object is matched by device and
 * inode (sockets by their inode, System V segments by their id) without
 * scanning /proc again per object. Processes we may not inspect are
 * counted: their holdings are unknown, and the verdicts say so.
 */
#define _GNU_SOURCE
#include "objects.h"
#include "../shm/proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static int push(struct ipk__procidx *x, int how, uint64_t dev, uint64_t ino,
                pid_t pid)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 1024;
		struct ipk__hold *v = realloc(x->v, cap * sizeof *v);
		if (v == NULL)
			return -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = (struct ipk__hold){dev, ino, pid, (uint8_t)how};
	return 0;
}

/* Descriptors: sockets by inode, FIFOs and files by device and inode. */
static int scan_fds(struct ipk__procidx *x, pid_t pid)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		/* ENOENT: the process exited since open() (not an allocation
		   failure: that would end the whole scan) */
		int e = errno;
		close(dfd);
		return -e;
	}
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char link[128];
		ssize_t n = readlinkat(dfd, e->d_name, link, sizeof link - 1);
		if (n < 0 && (errno == EACCES || errno == EPERM)) {
			rc = -EACCES; /* the directory lists, the links are hidden */
			break;
		}
		if (n <= 0)
			continue;
		link[n] = '\0';
		unsigned long long ino;
		if (sscanf(link, "socket:[%llu]", &ino) == 1) {
			rc = push(x, HOLD_SOCK, 0, ino, pid);
			continue;
		}
		if (strncmp(link, "pipe:", 5) == 0 ||
		    strncmp(link, "anon_inode:", 11) == 0 ||
		    strncmp(link, "/dev/pts/", 9) == 0)
			continue;
		struct stat st;
		if (fstatat(dfd, e->d_name, &st, 0) == 0 &&
		    (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode)))
			rc = push(x, HOLD_FD, st.st_dev, st.st_ino, pid);
	}
	closedir(d);
	return rc;
}

/* Shared mappings: files (rings, regions, semaphores) and System V
   segments ("/SYSV%08x", whose inode is the segment id). */
static int scan_maps(struct ipk__procidx *x, pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;
	bool any = false;
	while (rc == 0 && getline(&line, &cap, f) > 0) {
		any = true;
		char perms[8];
		unsigned maj, min;
		unsigned long long ino;
		int off = 0;
		if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu %n", perms, &maj, &min,
		           &ino, &off) < 4 || ino == 0 || perms[3] != 's')
			continue;
		const char *name = line + off;
		if (strncmp(name, "/SYSV", 5) == 0)
			rc = push(x, HOLD_SYSV, 0, ino, pid);
		else
			rc = push(x, HOLD_MAP, makedev(maj, min), ino, pid);
	}
	free(line);
	/* a process we may not trace reads as an empty file, not an error */
	bool denied = ferror(f) && (errno == EACCES || errno == EPERM);
	fclose(f);
	if (rc == 0 && (denied || (!any && access(path, R_OK) != 0)))
		rc = -EACCES;
	return rc;
}

static int cmp_hold(const void *a, const void *b)
{
	const struct ipk__hold *p = a, *q = b;
	if (p->how != q->how)
		return p->how < q->how ? -1 : 1;
	if (p->dev != q->dev)
		return p->dev < q->dev ? -1 : 1;
	if (p->ino != q->ino)
		return p->ino < q->ino ? -1 : 1;
	return p->pid < q->pid ? -1 : p->pid > q->pid;
}

int ipk__procidx_build(struct ipk__procidx *x)
{
	memset(x, 0, sizeof *x);
	DIR *d = opendir("/proc");
	if (d == NULL)
		return ipk__errno(-errno, "opendir /proc");
	struct dirent *e;
	int rc = 0;
	while (rc != -ENOMEM && (e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		int a = scan_fds(x, pid);
		int b = a == -ENOMEM ? a : scan_maps(x, pid);
		if (a == -ENOMEM || b == -ENOMEM) {
			rc = -ENOMEM;
			break;
		}
		if (a == -ENOENT && b == -ENOENT)
			continue; /* it exited meanwhile */
		x->procs++;
		if (a == -EACCES || a == -EPERM || b == -EACCES || b == -EPERM)
			if (x->unreadable++ == 0)
				x->first_unreadable = pid;
	}
	closedir(d);
	if (rc < 0) {
		ipk__procidx_free(x);
		return ipk__err(rc, "out of memory reading /proc");
	}
	if (x->n > 0) /* v is NULL when nothing was found (qsort wants memory) */
		qsort(x->v, x->n, sizeof *x->v, cmp_hold);
	x->sorted = true;
	return 0;
}

void ipk__procidx_free(struct ipk__procidx *x)
{
	free(x->v);
	memset(x, 0, sizeof *x);
}

size_t ipk__procidx_holders(const struct ipk__procidx *x, int how,
                            uint64_t dev, uint64_t ino, struct ipk__obj *o)
{
	if (x == NULL || x->n == 0)
		return 0;
	struct ipk__hold key = {dev, ino, 0, (uint8_t)how};
	/* first entry >= (how, dev, ino, pid 0) */
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_hold(&x->v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t found = 0;
	for (size_t i = lo; i < x->n && x->v[i].how == how &&
	                    x->v[i].dev == dev && x->v[i].ino == ino;
	     i++) {
		ipk__obj_hold(o, x->v[i].pid);
		found++;
	}
	return found;
}

/* ------------------------------------------------------------ liveness */

/* When the system booted, seconds since the epoch (as the clock says now). */
static double boot_time(void)
{
	struct timespec real, boot;
	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	return (double)(real.tv_sec - boot.tv_sec) +
	       (double)(real.tv_nsec - boot.tv_nsec) / 1e9;
}

/* Seconds of slack between the kernel's System V times (whole seconds) and
   a process start time computed from the boot clock. */
#define SINCE_SLACK 2.0

int ipk__pid_state(pid_t pid, uint64_t start, int64_t since)
{
	if (pid <= 0)
		return IPK_PID_NONE;
	uint64_t now = ipk__proc_start(pid);
	if (now == 0) /* no such process (or a zombie): gone */
		return access("/proc/self/stat", R_OK) == 0 ? IPK_PID_DEAD
		                                            : IPK_PID_UNKNOWN;
	if (start != 0)
		return now == start ? IPK_PID_ALIVE : IPK_PID_DEAD;
	if (since <= 0)
		return IPK_PID_UNKNOWN;
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		return IPK_PID_UNKNOWN;
	double started = boot_time() + (double)now / (double)hz;
	/* started after the kernel recorded the pid: another process. A
	   process running since before that moment is the one recorded (pids
	   are unique among live processes); one that started within the slack
	   may be, and counts as alive: a doubt keeps objects, never removes
	   them. */
	return started > (double)since + SINCE_SLACK ? IPK_PID_DEAD
	                                             : IPK_PID_ALIVE;
}
