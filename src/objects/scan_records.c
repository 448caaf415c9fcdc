/*
 * Owner records whose object is gone (src/core/owner.h, owner_file.h).
 *
 * A listener drops its record when it removes its object, and gc and
 * ipckit rm drop the record of what they remove; but a FIFO, socket file
 * or queue removed by other means (rm(1), ipcrm, mq_unlink of another
 * program) after its listener died leaves the record behind for good, one
 * dot file in /dev/shm each. Such a record is listed as an object of kind
 * "record": an orphan (gc removes it) once its object is provably gone and
 * the process it names is dead or named none; live while that process
 * runs (it drops the record when it closes); unknown when it cannot be
 * told whether the object is gone. A record whose object is there is not
 * listed: it is shown through its object.
 *
 * "Gone" is decided by the object's identity, never by its name alone: a
 * new FIFO at the recorded path has another inode, a new queue of the same
 * name another inode (mq) or id (sysvmq), and none of them is what the
 * record speaks for.
 */
#define _GNU_SOURCE
#include "objects.h"
#include "../core/owner.h"
#include "../core/safepath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_DIR "/dev/shm"

enum { THERE, GONE, CANNOT };

struct verdict {
	int state; /* IPK_OBJ_*, or 0: not listed */
	char what[160];
	char why[200];
};

/* Is the System V queue (key, id) there? id < 0: any queue of key. */
static int sysvmq_there(unsigned key, long long id, char *why, size_t cap)
{
	FILE *fp = fopen("/proc/sysvipc/msg", "re");
	if (fp == NULL) {
		snprintf(why, cap, "cannot read /proc/sysvipc/msg: %s",
		         strerror(errno));
		return CANNOT;
	}
	char line[512];
	int rc = GONE;
	while (rc == GONE && fgets(line, sizeof line, fp)) {
		long long k, i;
		if (sscanf(line, "%lld %lld", &k, &i) == 2 &&
		    (unsigned)(uint32_t)k == key && (id < 0 || i == id))
			rc = THERE;
	}
	fclose(fp);
	return rc;
}

/* Is the file the record of f speaks for at the path it recorded? */
static int file_there(const struct ipk__owner_file *f, const char *where,
                      uint64_t mntns, char *why, size_t cap)
{
	unsigned long long dev, ino;
	int end = 0;
	if (sscanf(f->name, "%llx:%llx%n", &dev, &ino, &end) != 2 ||
	    f->name[end] != '\0') {
		snprintf(why, cap, "its name does not say which file");
		return CANNOT;
	}
	if (where[0] == '\0') {
		snprintf(why, cap, "it does not say where its file was (a record "
		         "of an older version)");
		return CANNOT;
	}
	uint64_t here = ipk__mnt_ns();
	if (mntns == 0 || here == 0 || mntns != here) {
		snprintf(why, cap, "its file %s was recorded in another mount "
		         "namespace", where);
		return CANNOT;
	}
	/* the path as ipk_remove walks it: no symbolic link on it */
	const char *base;
	int dfd = ipk__dir_open(where, &base);
	if (dfd == -ENOENT || dfd == -ENOTDIR) {
		snprintf(why, cap, "the directory of %s is gone", where);
		return GONE;
	}
	if (dfd < 0) {
		snprintf(why, cap, "cannot look at %s: %s", where, strerror(-dfd));
		return CANNOT;
	}
	struct stat st;
	int rc;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno == ENOENT ? GONE : CANNOT;
		snprintf(why, cap, rc == GONE ? "%s is gone" : "cannot look at %s: %s",
		         where, strerror(errno));
	} else if ((uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino) {
		rc = THERE;
	} else {
		rc = GONE;
		snprintf(why, cap, "%s is gone (another file has its name now)",
		         where);
	}
	close(dfd);
	return rc;
}

/* Is the object the record speaks for there? what: which object. */
static int object_there(const struct ipk__owner_file *f, int found,
                        const struct ipk__owner *rec, const char *where,
                        uint64_t mntns, char *what, size_t wcap, char *why,
                        size_t cap)
{
	(void)found;
	bool fifo = strcmp(f->kind, "fifo") == 0;
	if (fifo || strcmp(f->kind, "sock") == 0) {
		snprintf(what, wcap, "%s %.120s", fifo ? "FIFO" : "socket file",
		         where[0] ? where : f->name);
		return file_there(f, where, mntns, why, cap);
	}
	if (strcmp(f->kind, "mq") == 0) {
		snprintf(what, wcap, "POSIX queue %.120s", f->hashed ? "(long name)"
		                                                 : f->name);
		if (f->hashed || f->name[0] != '/' || strchr(f->name + 1, '/')) {
			snprintf(why, cap, "its queue's name is not known (too long "
			         "to spell in a file name)");
			return CANNOT;
		}
		char dwhy[320];
		int dfd = ipk__mqueue_dir(dwhy, sizeof dwhy);
		if (dfd < 0) {
			snprintf(why, cap, "POSIX queues cannot be listed here");
			return CANNOT;
		}
		struct stat st;
		int rc;
		if (fstatat(dfd, f->name + 1, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = errno == ENOENT ? GONE : CANNOT;
			snprintf(why, cap, rc == GONE ? "its queue is gone"
			                              : "cannot look at its queue: %s",
			         strerror(errno));
		} else if (rec->object == IPK__OWNER_PENDING ||
		           (uint64_t)st.st_ino == rec->object) {
			rc = THERE;
		} else {
			rc = GONE;
			snprintf(why, cap, "its queue is gone (another queue has its "
			         "name now)");
		}
		close(dfd);
		return rc;
	}
	if (strcmp(f->kind, "sysvmq") == 0) {
		unsigned key;
		int end = 0;
		if (sscanf(f->name, "0x%8x%n", &key, &end) != 1 ||
		    f->name[end] != '\0') {
			snprintf(what, wcap, "System V queue %.20s", f->name);
			snprintf(why, cap, "its name is not a key");
			return CANNOT;
		}
		bool pending = rec->object == IPK__OWNER_PENDING;
		if (pending)
			snprintf(what, wcap, "System V queue 0x%08x", key);
		else
			snprintf(what, wcap, "System V queue 0x%08x (id %llu)", key,
			         (unsigned long long)rec->object);
		int rc = sysvmq_there(key, pending ? -1 : (long long)rec->object, why,
		                      cap);
		if (rc == GONE)
			snprintf(why, cap, "its queue is gone");
		return rc;
	}
	return -1; /* a kind this version does not know: not ours to judge */
}

/* What a record says, now. v->state 0: not listed. */
static void judge(const struct ipk__owner_file *f, int found,
                  const struct ipk__owner *rec, const char *where,
                  uint64_t mntns, struct verdict *v)
{
	memset(v, 0, sizeof v[0]);
	if (found != 1)
		return; /* no record (being written), or not believable */
	char why[120] = ""; /* leaves room in v->why */
	int there = object_there(f, found, rec, where, mntns, v->what,
	                         sizeof v->what, why, sizeof why);
	if (there < 0 || there == THERE)
		return;
	int pst = rec->pid <= 0 ? IPK_PID_NONE
	          : ipk__owner_foreign(rec)
	                  ? IPK_PID_UNKNOWN
	                  : ipk__owner_alive(rec) ? IPK_PID_ALIVE : IPK_PID_DEAD;
	if (pst == IPK_PID_ALIVE) {
		/* a listener making its object, or one whose object was removed
		   under it: it drops its record when it closes */
		if (there == CANNOT || rec->object == IPK__OWNER_PENDING)
			return;
		v->state = IPK_OBJ_LIVE;
		snprintf(v->why, sizeof v->why, "%s; its listener, pid %d, is alive",
		         why, (int)rec->pid);
	} else if (pst == IPK_PID_UNKNOWN) {
		v->state = IPK_OBJ_UNKNOWN;
		snprintf(v->why, sizeof v->why, "%s; its listener, pid %d, was "
		         "recorded in another pid namespace", why, (int)rec->pid);
	} else if (there == CANNOT) {
		v->state = IPK_OBJ_UNKNOWN;
		snprintf(v->why, sizeof v->why, "cannot tell whether its object is "
		         "gone: %s", why);
	} else {
		v->state = IPK_OBJ_ORPHAN;
		if (rec->pid > 0)
			snprintf(v->why, sizeof v->why, "%s and its listener, pid %d, "
			         "is gone", why, (int)rec->pid);
		else
			snprintf(v->why, sizeof v->why, "%s; its listener had closed it",
			         why);
	}
}

/* Look at record file `file` of dfd (RECORD_DIR) and list it if stale. */
void ipk__scan_record_one(struct ipk__scanctx *c, int dfd, const char *file)
{
	struct ipk__owner_file f;
	if (!ipk__owner_file_parse(file, &f))
		return;
	struct stat st;
	if (fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return;
	int fd = ipk__open_regular(dfd, file, &st);
	if (fd < 0)
		return;
	struct ipk__owner rec;
	uint64_t mntns = 0;
	char *where = malloc(4 * 4096);
	int found = where ? ipk__owner_file_read(fd, &f, &rec, where, 4 * 4096,
	                                         &mntns)
	                  : 0;
	close(fd);
	struct verdict v;
	judge(&f, found, &rec, where ? where : "", mntns, &v);
	free(where);
	/* a file this scan found elsewhere (moved, or its path not recorded)
	   is there: its record is shown through it */
	unsigned long long dev, ino;
	int end = 0;
	if (v.state != 0 && strcmp(f.kind, "mq") != 0 &&
	    strcmp(f.kind, "sysvmq") != 0 &&
	    sscanf(f.name, "%llx:%llx%n", &dev, &ino, &end) == 2 &&
	    f.name[end] == '\0')
		for (size_t i = 0; i < c->list->n; i++)
			if (c->list->v[i].path[0] && c->list->v[i].dev == dev &&
			    c->list->v[i].ino == ino)
				return;
	if (v.state == 0)
		return;
	struct ipk__obj *o = ipk__obj_add(c->list, "record");
	if (o == NULL)
		return;
	ipk_object *p = &o->pub;
	snprintf(o->path, sizeof o->path, RECORD_DIR "/%s", file);
	ipk__addr(o, "record", o->path);
	snprintf(o->detail, sizeof o->detail, "%s", f.kind);
	ipk__obj_from_stat(o, &st);
	/* what it kept on purpose (?persist) is gone: nothing to keep */
	p->persist = 0;
	p->attached = 0;
	if (rec.pid > 0) {
		p->creator.pid = rec.pid;
		p->creator.state = v.state == IPK_OBJ_LIVE      ? IPK_PID_ALIVE
		                   : v.state == IPK_OBJ_ORPHAN ? IPK_PID_DEAD
		                   : ipk__owner_foreign(&rec)  ? IPK_PID_UNKNOWN
		                                               : IPK_PID_DEAD;
	}
	p->state = v.state;
	snprintf(o->use, sizeof o->use, "owner record of %.70s", v.what);
	snprintf(o->why, sizeof o->why, "%s", v.why);
	ipk__obj_fix(o);
}

void ipk__scan_records(struct ipk__scanctx *c)
{
	if (!ipk__want(c, "record"))
		return;
	int dfd = open(RECORD_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return; /* no /dev/shm: no records either */
	ipk__scan_dir(c, dfd, ipk__devshm_internal, ipk__scan_record_one);
	close(dfd);
}

/* ipk__owner_sweep's judgement, made again under the record's lock */
struct again {
	bool force;
	struct verdict v;
};

static bool still_stale(void *arg, const struct ipk__owner_file *f, int found,
                        const struct ipk__owner *rec, const char *where,
                        uint64_t mntns)
{
	struct again *a = arg;
	judge(f, found, rec, where, mntns, &a->v);
	return a->v.state == IPK_OBJ_ORPHAN || (a->force && a->v.state != 0);
}

int ipk__record_remove(const struct ipk__obj *o, int dirfd, bool force)
{
	const char *slash = strrchr(o->path, '/');
	const char *base = slash ? slash + 1 : o->path;
	int dfd = dirfd >= 0 ? dirfd : ipk__dir_open(o->path, &base);
	if (dfd < 0)
		return dfd;
	struct again a = {.force = force, .v.state = -1}; /* -1: not judged */
	int rc = ipk__owner_sweep(dfd, base, o->dev, o->ino, still_stale, &a);
	if (dfd != dirfd)
		close(dfd);
	if (rc == -ESTALE)
		return ipk__err(rc, "%s was replaced meanwhile; not removing the new "
		                "one", o->path);
	if (rc == -EBUSY && a.v.state == -1)
		return ipk__err(rc, "%s is locked by a listener; not removing it",
		                o->path);
	if (rc == -EBUSY && a.v.state == 0)
		return ipk__err(rc, "%s: its object is there (or being made); not "
		                "removing it", o->path);
	if (rc == -EBUSY)
		return ipk__err(rc, "%s is %s: %s; not removing it (force to remove "
		                "anyway)", o->path, ipk_objstate_name(a.v.state),
		                a.v.why);
	if (rc < 0)
		return ipk__errno(rc, "removing %s", o->path);
	return 0;
}
