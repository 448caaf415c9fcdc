/* The kernel limits that bound IPC, each with its use now and its knob. */
#define _GNU_SOURCE
#include "objects.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int64_t read_num(const char *path, int field)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	long long v = -1;
	for (int i = 0; i <= field; i++)
		if (fscanf(f, "%lld", &v) != 1) {
			v = -1;
			break;
		}
	fclose(f);
	return v;
}

struct sysv_use {
	int64_t queues, max_qbytes;
	int64_t segs, max_seg, pages;
	int64_t sets, max_nsems, sems;
	int64_t mqs, max_mq_msgs, max_mq_size, my_mq_bytes;
};

static void sysv_usage(struct sysv_use *u)
{
	long page = sysconf(_SC_PAGESIZE);
	static const char *const files[] = {"/proc/sysvipc/msg",
	                                    "/proc/sysvipc/shm",
	                                    "/proc/sysvipc/sem"};
	for (int k = 0; k < 3; k++) {
		FILE *f = fopen(files[k], "re");
		if (f == NULL)
			continue;
		char line[512];
		bool header = true;
		while (fgets(line, sizeof line, f)) {
			if (header) {
				header = false;
				continue;
			}
			long long a;
			if (k == 0 && sscanf(line, "%*d %*d %*o %lld", &a) == 1) {
				u->queues++;
				if (a > u->max_qbytes)
					u->max_qbytes = a;
			} else if (k == 1 && sscanf(line, "%*d %*d %*o %lld", &a) == 1) {
				u->segs++;
				if (a > u->max_seg)
					u->max_seg = a;
				u->pages += (a + page - 1) / page;
			} else if (k == 2 && sscanf(line, "%*d %*d %*o %lld", &a) == 1) {
				u->sets++;
				u->sems += a;
				if (a > u->max_nsems)
					u->max_nsems = a;
			}
		}
		fclose(f);
	}
}

static void mq_usage(struct sysv_use *u)
{
	char why[320];
	int dfd = ipk__mqueue_dir(why, sizeof why);
	u->mqs = u->max_mq_msgs = u->max_mq_size = u->my_mq_bytes = -1;
	if (dfd < 0)
		return;
	u->mqs = u->max_mq_msgs = u->max_mq_size = u->my_mq_bytes = 0;
	DIR *d = fdopendir(dup(dfd));
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		u->mqs++;
		struct stat st;
		int fd = openat(dfd, e->d_name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		struct mq_attr a;
		if (fd < 0 || mq_getattr((mqd_t)fd, &a) < 0 || fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		close(fd);
		if (a.mq_maxmsg > u->max_mq_msgs)
			u->max_mq_msgs = a.mq_maxmsg;
		if (a.mq_msgsize > u->max_mq_size)
			u->max_mq_size = a.mq_msgsize;
		if (st.st_uid == getuid())
			u->my_mq_bytes += a.mq_maxmsg * a.mq_msgsize;
	}
	if (d)
		closedir(d);
	close(dfd);
}

ssize_t ipk_limits(ipk_limit *out, size_t cap)
{
	struct sysv_use u = {0};
	sysv_usage(&u);
	mq_usage(&u);
	struct rlimit rl;
	int64_t rlim = getrlimit(RLIMIT_MSGQUEUE, &rl) == 0
	                       ? (rl.rlim_cur == RLIM_INFINITY ? INT64_MAX
	                                                       : (int64_t)rl.rlim_cur)
	                       : -1;
	struct statvfs sv;
	int64_t shm_size = -1, shm_used = -1;
	if (statvfs("/dev/shm", &sv) == 0) {
		shm_size = (int64_t)(sv.f_blocks * sv.f_frsize);
		shm_used = (int64_t)((sv.f_blocks - sv.f_bfree) * sv.f_frsize);
	}
	const char *k = "/proc/sys/kernel/", *m = "/proc/sys/fs/mqueue/";
	char p[12][64];
	snprintf(p[0], sizeof p[0], "%smsgmni", k);
	snprintf(p[1], sizeof p[1], "%smsgmax", k);
	snprintf(p[2], sizeof p[2], "%smsgmnb", k);
	snprintf(p[3], sizeof p[3], "%sshmmax", k);
	snprintf(p[4], sizeof p[4], "%sshmall", k);
	snprintf(p[5], sizeof p[5], "%sshmmni", k);
	snprintf(p[6], sizeof p[6], "%ssem", k);
	snprintf(p[7], sizeof p[7], "%squeues_max", m);
	snprintf(p[8], sizeof p[8], "%smsg_max", m);
	snprintf(p[9], sizeof p[9], "%smsgsize_max", m);
	const ipk_limit all[] = {
		{"msgmni", "System V message queues", read_num(p[0], 0), u.queues,
		 "queues", "sysctl -w kernel.msgmni=N"},
		{"msgmax", "bytes in one System V message", read_num(p[1], 0), -1,
		 "bytes", "sysctl -w kernel.msgmax=N"},
		{"msgmnb", "bytes a new System V queue holds (fullest queue shown)",
		 read_num(p[2], 0), u.max_qbytes, "bytes", "sysctl -w kernel.msgmnb=N"},
		{"shmmax", "bytes in one System V segment (largest shown)",
		 read_num(p[3], 0), u.max_seg, "bytes", "sysctl -w kernel.shmmax=N"},
		{"shmall", "pages of all System V segments together",
		 read_num(p[4], 0), u.pages, "pages", "sysctl -w kernel.shmall=N"},
		{"shmmni", "System V segments", read_num(p[5], 0), u.segs,
		 "segments", "sysctl -w kernel.shmmni=N"},
		{"semmsl", "semaphores in one System V set (largest shown)",
		 read_num(p[6], 0), u.max_nsems, "semaphores",
		 "sysctl -w kernel.sem='SEMMSL SEMMNS SEMOPM SEMMNI'"},
		{"semmns", "System V semaphores in all sets", read_num(p[6], 1),
		 u.sems, "semaphores",
		 "sysctl -w kernel.sem='SEMMSL SEMMNS SEMOPM SEMMNI'"},
		{"semopm", "operations in one semop call", read_num(p[6], 2), -1,
		 "operations", "sysctl -w kernel.sem='SEMMSL SEMMNS SEMOPM SEMMNI'"},
		{"semmni", "System V semaphore sets", read_num(p[6], 3), u.sets,
		 "sets", "sysctl -w kernel.sem='SEMMSL SEMMNS SEMOPM SEMMNI'"},
		{"mqueue.queues_max", "POSIX message queues", read_num(p[7], 0),
		 u.mqs, "queues", "sysctl -w fs.mqueue.queues_max=N"},
		{"mqueue.msg_max", "messages in one POSIX queue (deepest shown)",
		 read_num(p[8], 0), u.max_mq_msgs, "messages",
		 "sysctl -w fs.mqueue.msg_max=N"},
		{"mqueue.msgsize_max", "bytes in one POSIX message (largest shown)",
		 read_num(p[9], 0), u.max_mq_size, "bytes",
		 "sysctl -w fs.mqueue.msgsize_max=N"},
		{"RLIMIT_MSGQUEUE", "bytes of POSIX queues of this user (their "
		 "messages; the kernel adds some bookkeeping)",
		 rlim, u.my_mq_bytes, "bytes",
		 "ulimit -q N, or msgqueue in /etc/security/limits.conf"},
		{"/dev/shm", "bytes of POSIX shared memory (the tmpfs size)",
		 shm_size, shm_used, "bytes",
		 "mount -o remount,size=N /dev/shm (or the fstab entry)"},
	};
	size_t n = IPK__ARRAY_LEN(all);
	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = all[i];
	return (ssize_t)n;
}
