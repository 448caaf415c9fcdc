/* Enumerate IPC objects from what the kernel publishes. */
#define _GNU_SOURCE
#include "cli_objects.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const kind_names[] = {"sysvmq", "sysvshm", "sysvsem",
                                         "shm",    "sem",     "mq",
                                         "mutex",  "cond",    "rwlock"};
/* how ipckit names its locks in /dev/shm: ipk-KIND.NAME */
static const char *const lock_prefix[] = {"ipk-mutex.", "ipk-cond.",
                                          "ipk-rwlock."};

const char *object_kind_name(enum obj_kind k)
{
	return kind_names[k];
}

bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static int scan_sysv(const char *file, enum obj_kind kind,
                     void (*fn)(const struct ipc_object *, void *), void *arg)
{
	FILE *f = fopen(file, "r");
	if (f == NULL)
		return 0;
	char line[512];
	int n = 0;
	if (fgets(line, sizeof line, f) == NULL) { /* header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof line, f)) {
		struct ipc_object o = {.kind = kind};
		long long key, a, b, c, d, e, t1, t2, t3;
		unsigned uid, gid, cuid, cgid;
		int ok = 0;
		switch (kind) {
		case OBJ_SYSVMQ: /* key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid stime rtime ctime */
			ok = sscanf(line, "%lld %d %o %lld %lld %lld %lld %u %u %u %u %lld %lld %lld",
			            &key, &o.id, &o.mode, &a, &b, &c, &d, &uid, &gid, &cuid,
			            &cgid, &t1, &t2, &t3) == 14;
			o.size = (unsigned long long)a;
			o.count = (long)b;
			o.pids[0] = (pid_t)c;
			o.pids[1] = (pid_t)d;
			o.changed = t3;
			break;
		case OBJ_SYSVSHM: /* key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime */
			ok = sscanf(line, "%lld %d %o %lld %lld %lld %lld %u %u %u %u %lld %lld %lld",
			            &key, &o.id, &o.mode, &a, &b, &c, &d, &uid, &gid, &cuid,
			            &cgid, &t1, &t2, &t3) == 14;
			o.size = (unsigned long long)a;
			o.pids[0] = (pid_t)b;
			o.pids[1] = (pid_t)c;
			o.count = (long)d;
			o.changed = t3;
			break;
		case OBJ_SYSVSEM: /* key semid perms nsems uid gid cuid cgid otime ctime */
			ok = sscanf(line, "%lld %d %o %lld %u %u %u %u %lld %lld", &key,
			            &o.id, &o.mode, &a, &uid, &gid, &cuid, &cgid, &t1,
			            &t2) == 10;
			o.count = (long)a;
			o.changed = t2;
			break;
		default:
			break;
		}
		(void)e;
		if (!ok)
			continue;
		o.mode &= 0777;
		o.uid = uid;
		snprintf(o.name, sizeof o.name, "0x%08x", (unsigned)key);
		fn(&o, arg);
		n++;
	}
	fclose(f);
	return n;
}

static int scan_dir(const char *dir, enum obj_kind files, enum obj_kind sems,
                    void (*fn)(const struct ipc_object *, void *), void *arg)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		struct ipc_object o = {.kind = files, .id = -1};
		char path[288];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (strncmp(e->d_name, "sem.", 4) == 0)
			o.kind = sems;
		for (int k = 0; files == OBJ_SHM && k < 3; k++)
			if (strncmp(e->d_name, lock_prefix[k], strlen(lock_prefix[k])) == 0)
				o.kind = OBJ_MUTEX + k;
		snprintf(o.name, sizeof o.name, "%s", path);
		o.mode = st.st_mode & 0777;
		o.uid = st.st_uid;
		o.size = (unsigned long long)st.st_size;
		o.changed = st.st_ctime;
		fn(&o, arg);
		n++;
	}
	closedir(d);
	return n;
}

int objects_scan(void (*fn)(const struct ipc_object *, void *), void *arg)
{
	return scan_sysv("/proc/sysvipc/msg", OBJ_SYSVMQ, fn, arg) +
	       scan_sysv("/proc/sysvipc/shm", OBJ_SYSVSHM, fn, arg) +
	       scan_sysv("/proc/sysvipc/sem", OBJ_SYSVSEM, fn, arg) +
	       scan_dir("/dev/shm", OBJ_SHM, OBJ_SEM, fn, arg) +
	       scan_dir("/dev/mqueue", OBJ_MQ, OBJ_MQ, fn, arg);
}

const char *object_orphan_reason(const struct ipc_object *o)
{
	if (o->mode == 0)
		return "permission 0: only root can use it";
	switch (o->kind) {
	case OBJ_SYSVSHM:
		if (o->count == 0 && !pid_alive(o->pids[0]) && !pid_alive(o->pids[1]))
			return "no attachment, creator and last user gone";
		return NULL;
	default:
		/* a queue or a named object tells nothing of whether someone
		   still needs it (an empty queue may have a receiver waiting) */
		return NULL;
	}
}

void object_url(const struct ipc_object *o, char *buf, size_t cap)
{
	switch (o->kind) {
	case OBJ_SYSVMQ:
		snprintf(buf, cap, "sysvmq:%s", o->name);
		break;
	case OBJ_SYSVSHM:
		snprintf(buf, cap, "sysvshm:%s", o->name);
		break;
	case OBJ_SYSVSEM:
		snprintf(buf, cap, "sysvsem:%s", o->name);
		break;
	case OBJ_SHM:
		snprintf(buf, cap, "shm:%s", o->name + strlen("/dev/shm"));
		break;
	case OBJ_SEM:
		snprintf(buf, cap, "sem:/%s", o->name + strlen("/dev/shm/sem."));
		break;
	case OBJ_MQ:
		snprintf(buf, cap, "mq:%s", o->name + strlen("/dev/mqueue"));
		break;
	case OBJ_MUTEX:
	case OBJ_COND:
	case OBJ_RWLOCK:
		snprintf(buf, cap, "%s:/%s", kind_names[o->kind],
		         o->name + strlen("/dev/shm/") +
		                 strlen(lock_prefix[o->kind - OBJ_MUTEX]));
		break;
	case OBJ_NKINDS:
		buf[0] = '\0';
		break;
	}
}
