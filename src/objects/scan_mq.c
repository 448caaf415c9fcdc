/*
 * POSIX message queues. The kernel lists them only in an mqueue file
 * system; when none is mounted at /dev/mqueue we make a private, detached
 * mount of this IPC namespace's queues (fsopen/fsmount: it is never
 * attached anywhere, so nobody else sees it) and read that. Who may not
 * mount is told exactly how to.
 */
#define _GNU_SOURCE
#include "objects.h"
#include "../core/owner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MQUEUE_MAGIC 0x19800202

#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif

/* A detached mount of this IPC namespace's queues, or -errno. */
static int private_mount(void)
{
#if defined(SYS_fsopen) && defined(SYS_fsconfig) && defined(SYS_fsmount)
	int fs = (int)syscall(SYS_fsopen, "mqueue", 1 /* FSOPEN_CLOEXEC */);
	if (fs < 0)
		return -errno;
	int mnt = -1;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		mnt = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0);
	int err = errno;
	close(fs);
	if (mnt < 0)
		return -err;
	/* the mount's descriptor is O_PATH: open its root to read it */
	int dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = errno;
	close(mnt);
	return dir >= 0 ? dir : -err;
#else
	return -ENOSYS;
#endif
}

int ipk__mqueue_dir(char *why, size_t cap)
{
	why[0] = '\0';
	struct statfs sf;
	if (statfs("/dev/mqueue", &sf) == 0 && sf.f_type == MQUEUE_MAGIC) {
		int fd = open("/dev/mqueue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	int fd = private_mount();
	if (fd >= 0)
		return fd;
	snprintf(why, cap,
	         "POSIX message queues are not listed: /dev/mqueue is not "
	         "mounted and this process may not mount it (%s); as root run "
	         "'mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue'",
	         strerror(-fd));
	return fd;
}

void ipk__scan_mqueue_one(struct ipk__scanctx *c, int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return;
	struct ipk__obj *o = ipk__obj_add(c->list, "mq");
	if (o == NULL)
		return;
	ipk_object *p = &o->pub;
	ipk__url_escape(o->address, sizeof o->address, "mq:/", name, "");
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	p->uid = st.st_uid;
	p->gid = st.st_gid;
	p->mode = st.st_mode & 0777;
	p->changed = st.st_ctime;
	/* "QSIZE:%lu NOTIFY:%d SIGNO:%d NOTIFY_PID:%d" */
	int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int notify_pid = 0;
	if (fd >= 0) {
		char text[160];
		ssize_t n = read(fd, text, sizeof text - 1);
		if (n > 0) {
			text[n] = '\0';
			unsigned long long qsize;
			if (sscanf(text, "QSIZE:%llu", &qsize) == 1)
				p->bytes = (int64_t)qsize;
			const char *np = strstr(text, "NOTIFY_PID:");
			if (np)
				notify_pid = atoi(np + strlen("NOTIFY_PID:"));
		}
		/* a descriptor of the queue's own file is a queue descriptor */
		struct mq_attr a;
		if (mq_getattr((mqd_t)fd, &a) == 0) {
			p->messages = a.mq_curmsgs;
			p->size = (uint64_t)a.mq_maxmsg * (uint64_t)a.mq_msgsize;
		}
		close(fd);
	}
	if (p->messages >= 0)
		snprintf(o->use, sizeof o->use, "%lld msgs, %lld B",
		         (long long)p->messages, (long long)(p->bytes > 0 ? p->bytes
		                                                           : 0));
	ipk__procidx_holders(c->procs, HOLD_FD, o->dev, o->ino, o);
	p->attached = (int64_t)p->nholders;
	if (notify_pid > 0) {
		p->last.pid = notify_pid;
		p->last.state = ipk__pid_state(notify_pid, 0, 0);
	}
	o->cuid = st.st_uid;
	/* the listener's owner record (src/core/owner.h) */
	char qname[NAME_MAX + 2];
	snprintf(qname, sizeof qname, "/%s", name);
	struct ipk__owner rec;
	enum ipk__owner_state owner =
		ipk__owner_check("mq", qname, st.st_uid, (uint64_t)st.st_ino, &rec);
	/* a queue no ipckit listener made: nothing says it is not kept */
	p->persist = owner == IPK__OWNER_NONE ? -1 : rec.persist ? 1 : 0;
	if (ipk__obj_owner_says(o, owner, &rec) || p->nholders > 0) {
		/* the record decided, or ipk__obj_judge: live */
	} else if (notify_pid > 0 && p->last.state != IPK_PID_DEAD) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why,
		         "pid %d waits for its notification", notify_pid);
	} else if (owner == IPK__OWNER_DEAD) {
		p->state = IPK_OBJ_ORPHAN;
		ipk__queue_owner_why(o, &rec, " and nobody has it open");
	} else if (c->procs->unreadable > 0) {
		p->attached = -1;
		snprintf(o->why, sizeof o->why,
		         "no process found holding it, but some processes could "
		         "not be inspected");
	} else {
		p->state = IPK_OBJ_ORPHAN;
		snprintf(o->why, sizeof o->why, "no process has it open");
	}
	ipk__obj_judge(o);
}

static bool any_name(const char *name)
{
	(void)name;
	return true;
}

void ipk__scan_mqueue(struct ipk__scanctx *c)
{
	if (!ipk__want(c, "mq"))
		return;
	char why[320];
	int dfd = ipk__mqueue_dir(why, sizeof why);
	if (dfd < 0) {
		ipk__obj_note(c->list, "%s", why);
		return;
	}
	ipk__scan_dir(c, dfd, any_name, ipk__scan_mqueue_one);
	close(dfd);
}
