/*
 * Removing safely: an address is looked up as the inventory sees it, and
 * only what the address says (a FIFO for fifo:, a ring for shm:, ...) that
 * no live process is proven to use is removed. gc removes exactly the
 * objects of its scan: the identity (System V id, device and inode) is
 * checked again just before.
 */
#define _GNU_SOURCE
#include "objects.h"
#include "../core/owner.h"
#include "../core/owner_file.h"
#include "../core/safepath.h"
#include "../shm/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ lookup */

static const char *file_type(mode_t m)
{
	return S_ISREG(m)    ? "a regular file"
	       : S_ISDIR(m)  ? "a directory"
	       : S_ISFIFO(m) ? "a FIFO"
	       : S_ISSOCK(m) ? "a socket"
	       : S_ISLNK(m)  ? "a symbolic link"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
	                     : "something unknown";
}

/* Take ?region out of u (ipk_remove's own option); true if it was there. */
static bool take_region(ipk__url *u)
{
	for (int i = 0; i < u->nopts; i++)
		if (strcmp(u->opts[i].key, "region") == 0) {
			memmove(&u->opts[i], &u->opts[i + 1],
			        (size_t)(u->nopts - i - 1) * sizeof u->opts[0]);
			u->nopts--;
			return true;
		}
	return false;
}

/*
 * The System V id an address names: "@ID", a key, or ftok(path, proj).
 * 1 with *id set, 0 if the address is not ours to judge (the transport
 * reports it), -ENOENT / -EINVAL.
 */
static int sysv_id(ipk__url *u, const char *kind, long *id)
{
	const char *r = u->rest;
	if (r[0] == '@') {
		char *end;
		errno = 0;
		long v = strtol(r + 1, &end, 10);
		if (r[1] == '\0' || *end != '\0' || errno || v < 0 || v > INT_MAX)
			return ipk__err(-EINVAL, "address '%s': '@' needs an id", u->text);
		*id = v;
		return 1;
	}
	key_t key;
	if (r[0] == '/' || r[0] == '.') {
		long proj = 1;
		for (int i = 0; i < u->nopts; i++)
			if (strcmp(u->opts[i].key, "proj") == 0 && u->opts[i].val)
				proj = strtol(u->opts[i].val, NULL, 0);
		if (proj < 1 || proj > 255 || (key = ftok(r, (int)proj)) == -1)
			return 0;
	} else {
		char *end;
		errno = 0;
		unsigned long long k = strtoull(r, &end, 0);
		if (r[0] == '\0' || *end != '\0' || errno || k == 0 || k > 0xffffffffull)
			return 0;
		key = (key_t)(uint32_t)k;
	}
	int v = strcmp(kind, "sysvmq") == 0    ? msgget(key, 0)
	        : strcmp(kind, "sysvshm") == 0 ? shmget(key, 0, 0)
	                                       : semget(key, 0, 0);
	if (v < 0)
		return errno == EACCES ? 0 : ipk__err(-ENOENT, "no %s with key 0x%08x",
		                                      kind, (unsigned)key);
	*id = v;
	return 1;
}

/* Copy the record of list whose identity matches into out. */
static int pick(struct ipk__objlist *l, long id, uint64_t dev, uint64_t ino,
                struct ipk__obj *out)
{
	for (size_t i = 0; i < l->n; i++) {
		struct ipk__obj *o = &l->v[i];
		if ((id >= 0 && o->pub.id == id) ||
		    (id < 0 && o->dev == dev && o->ino == ino)) {
			*out = *o;
			ipk__obj_fix(out);
			return 0;
		}
	}
	return -ENOENT;
}

/* A POSIX name "/name" (one slash) as the file name under /dev/shm. */
static int posix_name(const ipk__url *u, const char *prefix, char *out,
                      size_t cap)
{
	const char *r = u->rest;
	if (r[0] != '/' || r[1] == '\0' || strchr(r + 1, '/'))
		return 0;
	return snprintf(out, cap, "%s%s", prefix, r + 1) < (int)cap;
}

int ipk__obj_probe(ipk__url *u, struct ipk__obj *out, int *dirfd)
{
	memset(out, 0, sizeof *out);
	if (dirfd != NULL)
		*dirfd = -1;
	const char *s = u->scheme;
	bool region = take_region(u);
	struct ipk__objlist list = {0};
	struct ipk__procidx procs;
	int rc = ipk__procidx_build(&procs);
	if (rc < 0)
		return rc;
	struct ipk__scanctx c = {&list, &procs, NULL, NULL};
	char name[300];
	rc = 0;
	if (strcmp(s, "sysvmq") == 0 || strcmp(s, "sysvshm") == 0 ||
	    strcmp(s, "sysvsem") == 0) {
		long id = -1;
		if (strcmp(s, "sysvsem") == 0 && strcmp(u->rest, "private") == 0)
			rc = 0;
		else if ((rc = sysv_id(u, s, &id)) == 1) {
			c.kind = s;
			ipk__scan_sysv(&c);
			rc = pick(&list, id, 0, 0, out);
			if (rc < 0)
				rc = ipk__err(-ENOENT, "no %s with id %ld", s, id);
			else if (strcmp(s, "sysvshm") == 0 && !region) {
				ipk__sysvshm_look(out);
				ipk__obj_fix(out);
				if (!out->is_ring && !out->plain)
					rc = ipk__err(-EACCES,
					              "%s: no permission to read the segment, "
					              "so no telling whether it holds an "
					              "ipckit ring; not removing it", u->text);
				else if (!out->is_ring)
					rc = ipk__err(-EINVAL,
					              "%s is a System V segment of %llu bytes "
					              "that holds no ipckit ring; to remove it "
					              "anyway say %s?region",
					              u->text, (unsigned long long)out->pub.size,
					              u->text);
			}
			if (rc == 0)
				rc = 1;
		}
	} else if (strcmp(s, "shm") == 0 || strcmp(s, "sem") == 0 ||
	           strcmp(s, "mutex") == 0 || strcmp(s, "cond") == 0 ||
	           strcmp(s, "rwlock") == 0) {
		char prefix[16] = "";
		if (strcmp(s, "sem") == 0)
			snprintf(prefix, sizeof prefix, "sem.");
		else if (strcmp(s, "shm") != 0)
			snprintf(prefix, sizeof prefix, "ipk-%s.", s);
		if (posix_name(u, prefix, name, sizeof name) &&
		    ipk__devshm_internal(name)) {
			rc = ipk__err(-EINVAL, "/dev/shm/%s is ipckit's record of a "
			              "queue's owner, not an object; not removing it",
			              name);
		} else if (posix_name(u, prefix, name, sizeof name)) {
			char path[320];
			snprintf(path, sizeof path, "/dev/shm/%s", name);
			struct stat st;
			if (lstat(path, &st) < 0)
				rc = errno == ENOENT ? 0 : ipk__errno(-errno, "%s", path);
			else if (!S_ISREG(st.st_mode))
				rc = ipk__err(-EINVAL, "%s is %s; not removing it", path,
				              file_type(st.st_mode));
			else {
				ipk__scan_devshm_one(&c, name);
				rc = pick(&list, -1, st.st_dev, st.st_ino, out);
				if (rc < 0)
					rc = ipk__err(-EINVAL, "%s: cannot read it", path);
				else if (strcmp(s, "shm") == 0 && !region && !out->is_ring &&
				         !out->plain)
					rc = ipk__err(-EACCES,
					              "%s: no permission to read it, so no "
					              "telling whether it holds an ipckit ring; "
					              "not removing it", path);
				else if (strcmp(s, "shm") == 0 && !region && !out->is_ring)
					rc = ipk__err(-EINVAL,
					              "%s is a plain shared-memory region of "
					              "%llu bytes, not an ipckit ring; to remove "
					              "it anyway say shm:%s?region",
					              path, (unsigned long long)st.st_size,
					              u->rest);
				else if (strcmp(s, "sem") == 0 && out->wrong_size)
					rc = ipk__err(-EINVAL,
					              "%s is %llu bytes: not a POSIX semaphore; "
					              "not removing it",
					              path, (unsigned long long)st.st_size);
				else if (out->plain && strcmp(s, "shm") != 0)
					rc = ipk__err(-EINVAL, "%s does not hold an ipckit %s; "
					              "not removing it", path, s);
				else
					rc = 1;
			}
		}
	} else if (strcmp(s, "mq") == 0) {
		char why[320];
		int dfd;
		if (posix_name(u, "", name, sizeof name) &&
		    (dfd = ipk__mqueue_dir(why, sizeof why)) >= 0) {
			struct stat st;
			if (fstatat(dfd, name, &st, 0) == 0) {
				ipk__scan_mqueue_one(&c, dfd, name);
				rc = pick(&list, -1, st.st_dev, st.st_ino, out) == 0 ? 1 : 0;
			}
			/* the queue is removed from this directory, by its inode
			   (unlink_object), not by its name through mq_unlink */
			if (rc == 1 && dirfd != NULL)
				*dirfd = dfd;
			else
				close(dfd);
		}
	} else if (strcmp(s, "record") == 0) {
		/* an owner record whose object is gone (scan_records.c) */
		const char *base;
		int dfd = -1;
		struct stat st;
		if (strncmp(u->rest, "/dev/shm/", 9) != 0 ||
		    !ipk__devshm_internal(u->rest + 9) || strchr(u->rest + 9, '/'))
			rc = ipk__err(-EINVAL, "address '%s': record: names an owner "
			              "record, /dev/shm/.ipk-owner.*", u->text);
		else if ((dfd = rc = ipk__dir_open(u->rest, &base)) < 0)
			;
		else if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			rc = errno == ENOENT ? ipk__err(-ENOENT, "no record %s", u->rest)
			                     : ipk__errno(-errno, "%s", u->rest);
		else if (!S_ISREG(st.st_mode))
			rc = ipk__err(-EINVAL, "%s is %s, not an owner record; not "
			              "removing it", u->rest, file_type(st.st_mode));
		else {
			ipk__scan_record_one(&c, dfd, base);
			rc = pick(&list, -1, st.st_dev, st.st_ino, out);
			if (rc < 0)
				rc = ipk__err(-EBUSY, "%s is the owner record of an object "
				              "that is there (or not one ipckit can "
				              "read): it goes with its object", u->rest);
			else
				rc = 1;
		}
		if (rc == 1 && dirfd != NULL)
			*dirfd = dfd;
		else if (dfd >= 0)
			close(dfd);
	} else if (strcmp(s, "fifo") == 0 || strcmp(s, "unix") == 0 ||
	           strcmp(s, "unixgram") == 0 || strcmp(s, "mmap") == 0) {
		const char *path = u->rest, *base;
		struct stat st;
		bool want_fifo = strcmp(s, "fifo") == 0, want_file = s[1] == 'm';
		int dfd = -1;
		if (path[0] == '@' && !want_fifo && !want_file) {
			/* abstract: no file; the kernel drops the name with the
			   socket, so a live one is refused naming its holder */
			ipk__scan_files_one(&c, path);
			if (list.n > 0 && list.v[0].pub.nholders > 0)
				rc = ipk__err(-EBUSY, "abstract socket %s is bound by pid %d: "
				              "it goes away when that socket is closed "
				              "(there is no file to remove)",
				              path, (int)list.v[0].pub.holders[0]);
			else if (list.n > 0)
				rc = ipk__err(-EBUSY, "abstract socket %s is bound: it goes "
				              "away when its socket is closed (there is no "
				              "file to remove)", path);
		} else if (path[0] == '@' || path[0] == '\0')
			rc = 0; /* the transport says what is wrong */
		/* one walk to the directory; all else relative to it (F3: a
		   directory swapped between the check and the unlink) */
		else if ((dfd = rc = ipk__dir_open(path, &base)) < 0)
			;
		else if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			rc = ipk__errno(-errno, "%s", path);
		else if (region && want_file)
			rc = ipk__err(-EINVAL, "mmap: removes only ipckit rings, never a "
			              "regular file such as %s (use rm(1))", path);
		else if (want_fifo ? !S_ISFIFO(st.st_mode)
		         : want_file ? !S_ISREG(st.st_mode)
		                     : !S_ISSOCK(st.st_mode))
			rc = ipk__err(-EINVAL, "%s is %s, not %s; not removing it", path,
			              file_type(st.st_mode),
			              want_fifo ? "a FIFO" : want_file ? "an ipckit ring"
			                                               : "a socket");
		else {
			ipk__scan_files_at(&c, dfd, base, path);
			rc = pick(&list, -1, st.st_dev, st.st_ino, out);
			if (rc < 0 && want_file &&
			    faccessat(dfd, base, R_OK, AT_EACCESS) < 0 &&
			    (errno == EACCES || errno == EPERM))
				rc = ipk__err(-EACCES, "%s: no permission to read it, so "
				              "no telling whether it holds an ipckit ring; "
				              "not removing it", path);
			else if (rc < 0 && want_file)
				rc = ipk__err(-EINVAL, "%s is a regular file that holds no "
				              "ipckit ring; not removing it", path);
			else
				rc = rc < 0 ? 0 : 1;
		}
		if (rc == 1 && dirfd != NULL)
			*dirfd = dfd;
		else if (dfd >= 0)
			close(dfd);
	}
	if (region && rc >= 0 && strcmp(s, "shm") != 0 && strcmp(s, "sysvshm") != 0)
		rc = ipk__err(-EINVAL, "address '%s': ?region goes with shm: and "
		              "sysvshm: only", u->text);
	free(list.v);
	ipk__procidx_free(&procs);
	return rc;
}

/* ------------------------------------------------------------ removal */

static int refuse_live(const struct ipk__obj *o, const char *what)
{
	const ipk_object *p = &o->pub;
	char who[96] = "";
	if (p->nholders > 0 && strstr(o->why, "pid") == NULL)
		snprintf(who, sizeof who, " (pid %d%s)", (int)p->holders[0],
		         p->nholders > 1 ? " and others" : "");
	return ipk__err(-EBUSY, "%s is in use: %s%s; not removing it (force "
	                "to remove anyway)", what, o->why, who);
}

/* A queue's name: its address without "mq:", %XX decoded */
static const char *mq_name(const struct ipk__obj *o, char *buf)
{
	snprintf(buf, sizeof o->address, "%s", o->address + strlen("mq:"));
	ipk__url_unescape(buf);
	return buf;
}

/*
 * Does a process read the FIFO base of dfd? Opening it for writing without
 * waiting succeeds only when one does (ENXIO otherwise), whoever and
 * wherever it is: also a reader this scan could not see (another user's
 * process, another pid namespace). 0 none, or -EBUSY with a message.
 */
static int fifo_reader(int dfd, const char *base, const char *what)
{
	int w = openat(dfd, base, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (w >= 0) {
		close(w);
		return ipk__err(-EBUSY, "%s is in use: a process has it open for "
		                "reading (opening it for writing succeeds); not "
		                "removing it (force to remove anyway)", what);
	}
	if (errno == ENXIO || errno == ENOENT)
		return 0; /* no reader; gone: the unlink says so */
	return ipk__err(-EBUSY, "%s: cannot tell whether a process reads it "
	                "(opening it for writing: %s); not removing it", what,
	                strerror(errno));
}

/* A live ring removed by force: its consumers may be idle in poll() on a
   doorbell nobody else will ring (ipk__ring_wake_file/_sysv after it). */
static bool wakes_consumers(const struct ipk__obj *o, int flags)
{
	return o->is_ring && o->pub.state == IPK_OBJ_LIVE &&
	       (flags & IPK_REMOVE_FORCE);
}

/* The file of such a ring, opened before the removal (-1: nothing to
   wake, or no longer the object judged). */
static int ring_to_wake(const struct ipk__obj *o, int dfd, const char *base,
                        int flags)
{
	if (!wakes_consumers(o, flags))
		return -1;
	int fd = openat(dfd, base, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	                (uint64_t)st.st_dev != o->dev ||
	                (uint64_t)st.st_ino != o->ino)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Remove the object o names, by its identity; a file or a POSIX queue
   relative to dirfd, the directory it was looked at in (-1: open it
   now). */
static int unlink_object(const struct ipk__obj *o, int dirfd, int flags)
{
	const ipk_object *p = &o->pub;
	const char *k = o->kind;
	int rc = 0;
	char mq[sizeof o->address];
	if (strcmp(k, "record") == 0)
		return ipk__record_remove(o, dirfd, flags & IPK_REMOVE_FORCE);
	if (strcmp(k, "sysvmq") == 0)
		rc = msgctl((int)p->id, IPC_RMID, NULL);
	else if (strcmp(k, "sysvshm") == 0) {
		rc = shmctl((int)p->id, IPC_RMID, NULL);
		if (rc == 0 && wakes_consumers(o, flags))
			ipk__ring_wake_sysv((int)p->id, o->address);
	}
	else if (strcmp(k, "sysvsem") == 0)
		rc = semctl((int)p->id, 0, IPC_RMID);
	else if (strcmp(k, "mq") == 0) {
		/* by its inode, in the mqueue directory it was looked at in: a
		   queue made under the same name since is another inode.
		   mq_unlink takes only a name */
		const char *name = mq_name(o, mq) + 1;
		char why[320];
		int dfd = dirfd >= 0 ? dirfd : ipk__mqueue_dir(why, sizeof why);
		if (dfd < 0)
			return ipk__err(dfd, "%s", why);
		rc = ipk__unlinkat_same(dfd, name, o->dev, o->ino, o->address);
		if (dfd != dirfd)
			close(dfd);
		if (rc < 0)
			return rc == -ENOENT ? ipk__err(-ENOENT, "removing %s: it is "
			                                "gone", o->address)
			                     : rc;
	} else if (o->path[0]) {
		/* only if the name still leads to the same file, asked in the
		   directory where it was looked at */
		const char *slash = strrchr(o->path, '/');
		const char *base = slash ? slash + 1 : o->path;
		int dfd = dirfd >= 0 ? dirfd : ipk__dir_open(o->path, &base);
		if (dfd < 0)
			return dfd;
		/* a reader no scan could see (the last look before the unlink) */
		rc = strcmp(k, "fifo") == 0 && !(flags & IPK_REMOVE_FORCE)
		             ? fifo_reader(dfd, base, o->path)
		             : 0;
		int ring_fd = rc == 0 ? ring_to_wake(o, dfd, base, flags) : -1;
		if (rc == 0)
			rc = ipk__unlinkat_same(dfd, base, o->dev, o->ino, o->path);
		if (ring_fd >= 0) {
			if (rc == 0)
				ipk__ring_wake_file(ring_fd, o->address);
			close(ring_fd);
		}
		if (dfd != dirfd)
			close(dfd);
		/* a FIFO's or socket file's ?persist record goes with it */
		if (rc == 0 && (strcmp(k, "fifo") == 0 || strncmp(k, "unix", 4) == 0))
			ipk__owner_file_forget(k[0] == 'f' ? "fifo" : "sock", o->dev,
			                       o->ino, p->uid);
		return rc;
	} else
		return ipk__err(-EINVAL, "%s has no name to remove", o->address);
	if (rc < 0 && strcmp(k, "mq") != 0) {
		int e = errno;
		if (e == EINVAL || e == EIDRM)
			e = ENOENT;
		return ipk__errno(-e, "removing %s", o->address);
	}
	/* a queue's owner record goes with it */
	if (strcmp(k, "sysvmq") == 0 && p->key > 0) {
		char name[16];
		snprintf(name, sizeof name, "0x%08x", (unsigned)(uint32_t)p->key);
		ipk__owner_forget("sysvmq", name, o->cuid, (uint64_t)p->id);
	} else if (strcmp(k, "mq") == 0) {
		ipk__owner_forget("mq", mq_name(o, mq), o->cuid, o->ino);
	}
	return 0;
}

int ipk__objects_remove(ipk__url *u, int flags, bool *done)
{
	*done = false;
	struct ipk__obj o;
	int dfd;
	int rc = ipk__obj_probe(u, &o, &dfd);
	if (rc <= 0)
		return rc; /* wrong kind, or not ours to judge: the transport says */
	if (o.pub.state == IPK_OBJ_LIVE && !(flags & IPK_REMOVE_FORCE))
		rc = refuse_live(&o, u->text);
	/* "@ID" addresses are the inventory's (the transports take keys); a
	   file is removed in the directory where it was checked */
	else if (u->rest[0] == '@' || dfd >= 0) {
		*done = true;
		rc = ipk__check_url_options(u);
		if (rc == 0)
			rc = unlink_object(&o, dfd, flags);
	} else
		rc = 0;
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* ipk_object_remove's judgement of what the second look found. */
static int removal_checks(const struct ipk__obj *was, const struct ipk__obj *now,
                          int rc, int flags)
{
	if (rc == 0)
		return ipk__err(-ENOENT, "%s is gone", was->address);
	if (rc < 0)
		return rc;
	bool same = was->pub.id >= 0 ? now->pub.id == was->pub.id
	                             : now->dev == was->dev && now->ino == was->ino;
	if (!same)
		return ipk__err(-ESTALE, "%s is another object than the one listed; "
		                "not removing it", was->address);
	if (!(flags & IPK_REMOVE_FORCE)) {
		/* another user's leftovers are theirs (or root's) to sweep, even
		   where a directory without the sticky bit would let us */
		if (geteuid() != 0 && now->pub.uid != geteuid())
			return ipk__err(-EPERM, "%s belongs to uid %u: only its owner "
			                "or root removes it; not removing it",
			                was->address, (unsigned)now->pub.uid);
		if (now->pub.state != IPK_OBJ_ORPHAN)
			return now->pub.state == IPK_OBJ_LIVE
			               ? refuse_live(now, was->address)
			               : ipk__err(-EBUSY, "%s is %s: %s", was->address,
			                          ipk_objstate_name(now->pub.state),
			                          now->why);
		if (now->pub.persist != 0)
			return ipk__err(-EBUSY, "%s is kept on purpose: %s", was->address,
			                now->pub.persist > 0
			                        ? "made with ?persist"
			                        : "nothing records whether it is kept on "
			                          "purpose (a plain region persists until "
			                          "removed)");
	}
	return 0;
}

int ipk_object_remove(const ipk_object *obj, int flags)
{
	if (obj == NULL)
		return ipk__err(-EINVAL, "ipk_object_remove: no object");
	if (flags & ~IPK_REMOVE_FORCE)
		return ipk__err(-EINVAL, "ipk_object_remove: unknown flags %#x", flags);
	/* the record lives inside an ipk__obj of a scan */
	const struct ipk__obj *was =
		(const struct ipk__obj *)(const void *)((const char *)obj -
		                                         offsetof(struct ipk__obj,
		                                                  pub));
	ipk__url u;
	char text[340];
	/* look again: by the plain address (with ?region where it applies) */
	snprintf(text, sizeof text, "%s", was->address);
	int rc = ipk__url_parse(&u, text);
	if (rc < 0)
		return rc;
	struct ipk__obj now;
	int dfd;
	rc = ipk__obj_probe(&u, &now, &dfd);
	ipk__url_free(&u);
	rc = removal_checks(was, &now, rc, flags);
	if (rc == 0)
		rc = unlink_object(&now, dfd, flags);
	if (dfd >= 0)
		close(dfd);
	return rc;
}
