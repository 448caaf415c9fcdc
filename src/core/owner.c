/* Owner records of queues: see owner.h for why and where. */
#define _GNU_SOURCE
#include "owner.h"
#include "internal.h"
#include "../shm/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define OWNER_DIR "/dev/shm"
#define RECLEN 192        /* every record has this size: one pwrite each */
#define RECLEN_V0 160     /* records written before pidns= was recorded */
#define LOCK_WAIT_NS (2000LL * 1000 * 1000)
/* a file's record may go on with one line that says where the file was:
   "where mntns=N path=ESCAPED\n" (owner.h, ipk__owner_set_at) */
#define WHERE_MAX (3 * 4096 + 64)

/* FNV-1a: names too long for a file name are hashed; records carry it */
static uint64_t hash_name(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The inode of the calling process's namespace of type ("ipc", "pid"),
   0 if /proc cannot say. */
static uint64_t ns_inode(const char *type)
{
	char path[32], buf[64];
	snprintf(path, sizeof path, "/proc/self/ns/%s", type);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = strchr(buf, '[');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* The IPC namespace's inode: queues are per namespace, so are records. */
static unsigned long long ipc_ns(void)
{
	return ns_inode("ipc");
}

uint64_t ipk__pid_ns(void)
{
	return ns_inode("pid");
}

uint64_t ipk__mnt_ns(void)
{
	return ns_inode("mnt");
}

bool ipk__owner_foreign(const struct ipk__owner *o)
{
	if (o->pid <= 0 || o->pidns == 0)
		return false; /* names no process, or an older record: its pid
		                 is judged here as before */
	uint64_t here = ipk__pid_ns();
	return here != 0 && here != o->pidns;
}

/* Process start times count from boot: a record of another boot is void. */
static void boot_id(char out[40])
{
	strcpy(out, "-");
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[40];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 36)
		return;
	memcpy(out, buf, 36);
	out[36] = '\0';
}

static int path_of(char *buf, size_t cap, const char *kind, const char *name,
                   uid_t uid)
{
	int n = snprintf(buf, cap, OWNER_DIR "/.ipk-owner.%llu.%u.%s.", ipc_ns(),
	                 (unsigned)uid, kind);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	size_t off = (size_t)n;
	/* the name as is where it is safe in a file name, %XX otherwise */
	for (const char *p = name; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		             (ch == '.' && p != name);
		if (off + 4 >= cap || off - (size_t)n > 180) {
			off = (size_t)n;
			break;
		}
		off += (size_t)snprintf(buf + off, cap - off, plain ? "%c" : "%%%02X",
		                        ch);
	}
	if (off == (size_t)n && *name) /* too long: the hash names it */
		off += (size_t)snprintf(buf + off, cap - off, "#%016llx",
		                        (unsigned long long)hash_name(name));
	return 0;
}

int ipk__owner_path(char *buf, size_t cap, const char *kind, const char *name,
                    uid_t uid)
{
	return path_of(buf, cap, kind, name, uid);
}

static void format(char rec[RECLEN], const struct ipk__owner *o,
                   uint64_t name_hash)
{
	char boot[40];
	boot_id(boot);
	memset(rec, ' ', RECLEN);
	int n = snprintf(rec, RECLEN,
	                 "ipk-owner 1 pid=%d start=%llu uid=%u persist=%d "
	                 "object=%llu name=%016llx boot=%s pidns=%llu",
	                 (int)o->pid, (unsigned long long)o->start,
	                 (unsigned)o->uid, o->persist ? 1 : 0,
	                 (unsigned long long)o->object,
	                 (unsigned long long)name_hash, boot,
	                 (unsigned long long)o->pidns);
	if (n >= 0 && n < RECLEN)
		rec[n] = ' ';
	rec[RECLEN - 1] = '\n';
}

/* 1 and *o when rec is a whole record of this name and boot, written by
   file_uid (the record file's owner), else 0. */
static int parse(const char *rec, size_t len, uint64_t name_hash,
                 uid_t file_uid, struct ipk__owner *o)
{
	if ((len != RECLEN && len != RECLEN_V0) || rec[len - 1] != '\n')
		return 0;
	char text[RECLEN + 1];
	memcpy(text, rec, len);
	text[len] = '\0';
	int pid, persist, end = 0;
	unsigned uid;
	unsigned long long start, object, hash;
	char boot[40], now[40];
	if (sscanf(text,
	           "ipk-owner 1 pid=%d start=%llu uid=%u persist=%d object=%llu "
	           "name=%llx boot=%39s%n",
	           &pid, &start, &uid, &persist, &object, &hash, boot, &end) != 7 ||
	    end == 0)
		return 0;
	unsigned long long pidns = 0;
	int more = 0;
	if (sscanf(text + end, " pidns=%llu%n", &pidns, &more) == 1 && more > 0)
		end += more;
	for (int i = end; i < (int)len - 1; i++)
		if (text[i] != ' ')
			return 0;
	/* a record names its writer: one that names another user than the
	   file's owner was not written by ipckit for that user */
	if (pid < 0 || (persist != 0 && persist != 1) || hash != name_hash ||
	    uid != (unsigned)file_uid)
		return 0;
	boot_id(now);
	if (strcmp(now, "-") != 0 && strcmp(boot, now) != 0)
		return 0;
	o->pid = pid;
	o->start = start;
	o->uid = uid;
	o->persist = persist;
	o->object = object;
	o->pidns = pidns;
	return 1;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* "where mntns=N path=ESCAPED\n" to the end of buf: 1 with path and
   *mntns, 0 (none, or not one whole line). */
static int parse_where(const char *buf, size_t len, char *path, size_t cap,
                       uint64_t *mntns)
{
	static const char pre[] = "where mntns=";
	if (len < sizeof pre || memcmp(buf, pre, sizeof pre - 1) != 0 ||
	    buf[len - 1] != '\n' || memchr(buf, '\n', len) != buf + len - 1)
		return 0;
	const char *p = buf + sizeof pre - 1, *end = buf + len - 1;
	unsigned long long ns = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		ns = ns * 10 + (unsigned)(*p - '0');
	if (p + 6 > end || memcmp(p, " path=", 6) != 0)
		return 0;
	p += 6;
	size_t n = 0;
	for (; p < end; p++) {
		int c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f)
			return 0;
		if (c == '%') {
			int hi = end - p < 3 ? -1 : hexval(p[1]);
			int lo = end - p < 3 ? -1 : hexval(p[2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return 0;
			c = hi * 16 + lo;
			p += 2;
		}
		if (n + 1 >= cap)
			return 0;
		path[n++] = (char)c;
	}
	path[n] = '\0';
	*mntns = ns;
	return n > 0 && path[0] == '/';
}

/* Read a record from fd: 1, 0 or < 0, and where the file it is about was
   (where may be NULL; "" when not recorded). A write under way is read
   again. */
static int read_where(int fd, uint64_t name_hash, uid_t uid,
                      struct ipk__owner *o, char *where, size_t cap,
                      uint64_t *mntns)
{
	char *rec = malloc(RECLEN + WHERE_MAX + 1);
	if (rec == NULL)
		return -ENOMEM;
	int rc;
	for (int tries = 0;; tries++) {
		if (where)
			where[0] = '\0';
		size_t len = 0;
		ssize_t n = 0;
		while (len < RECLEN + WHERE_MAX + 1 &&
		       ((n = pread(fd, rec + len, RECLEN + WHERE_MAX + 1 - len,
		                   (off_t)len)) > 0 ||
		        (n < 0 && errno == EINTR)))
			len += n > 0 ? (size_t)n : 0;
		if (n < 0) {
			rc = -errno;
			break;
		}
		/* a record of an older version is exactly one head; a where line
		   may follow a head of this one */
		size_t head = len == RECLEN_V0 ? RECLEN_V0 : RECLEN;
		rc = len == 0 ? 0 : len < head ? 0 : parse(rec, head, name_hash, uid, o);
		if (rc == 1 && where && len > head)
			parse_where(rec + head, len - head, where, cap, mntns);
		if (rc || len == 0 || tries == 3)
			break;
	}
	free(rec);
	return rc;
}

static int read_fd(int fd, uint64_t name_hash, uid_t uid,
                   struct ipk__owner *o)
{
	return read_where(fd, name_hash, uid, o, NULL, 0, NULL);
}

/*
 * A file we may believe for uid: a regular file of its own, not a link,
 * that only uid may write (a record others may write speaks for nobody).
 * mend: the caller is uid and makes its record writable by it alone.
 */
static bool believable(int fd, uid_t uid, bool mend)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != uid ||
	    st.st_nlink != 1)
		return false;
	/* readable by ls and gc of any user, whatever the umask was */
	if (mend && (st.st_mode & 07777) != 0644 && fchmod(fd, 0644) == 0)
		return true;
	return (st.st_mode & 022) == 0;
}

int ipk__owner_read(const char *kind, const char *name, uid_t uid,
                    struct ipk__owner *o)
{
	char path[320];
	if (path_of(path, sizeof path, kind, name, uid) < 0)
		return 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	int rc = believable(fd, uid, false) ? read_fd(fd, hash_name(name), uid, o)
	                                    : 0;
	close(fd);
	return rc;
}

bool ipk__owner_alive(const struct ipk__owner *o)
{
	/* a pid of another pid namespace cannot be looked up here: a doubt
	   keeps the object (and its queue from being taken over) */
	if (ipk__owner_foreign(o))
		return true;
	return o->pid > 0 && ipk__proc_alive(o->pid, o->start);
}

enum ipk__owner_state ipk__owner_check(const char *kind, const char *name,
                                       uid_t uid, uint64_t object,
                                       struct ipk__owner *o)
{
	struct ipk__owner tmp;
	if (o == NULL)
		o = &tmp;
	if (ipk__owner_read(kind, name, uid, o) <= 0)
		return IPK__OWNER_NONE;
	/* a record of a pending creation speaks for whatever was created */
	if (object != IPK__OWNER_PENDING && o->object != object &&
	    o->object != IPK__OWNER_PENDING)
		return IPK__OWNER_NONE;
	return ipk__owner_alive(o) ? IPK__OWNER_ALIVE : IPK__OWNER_DEAD;
}

void ipk__owner_self(struct ipk__owner *o, bool persist, uint64_t object)
{
	o->pid = getpid();
	o->start = ipk__proc_start(o->pid);
	o->uid = geteuid();
	o->persist = persist;
	o->object = object;
	o->pidns = ipk__pid_ns();
}

/* Open and lock uid's record file (creating it when create), 0 or < 0. */
static int claim(ipk__owner_claim *cl, const char *kind, const char *name,
                 uid_t uid, bool create)
{
	cl->fd = -1;
	cl->uid = uid;
	cl->name_hash = hash_name(name);
	if (path_of(cl->path, sizeof cl->path, kind, name, uid) < 0)
		return -ENAMETOOLONG;
	int64_t until = ipk__now_ns() + LOCK_WAIT_NS;
	for (;;) {
		int fd = open(cl->path,
		              (create ? O_RDWR | O_CREAT : O_RDWR) | O_NOFOLLOW |
		                      O_NONBLOCK | O_CLOEXEC,
		              0644);
		if (fd < 0)
			return -errno;
		if (!believable(fd, uid, create)) {
			close(fd);
			return -EPERM;
		}
		int rc;
		while ((rc = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
			;
		if (rc < 0) {
			int e = errno;
			close(fd);
			if (e != EWOULDBLOCK)
				return -e;
			if (ipk__now_ns() >= until)
				return -EBUSY;
			ipk__nap(1000000, IPK__NEVER);
			continue;
		}
		/* the holder before us may have removed the file: lock the one
		   that has the name now (the name itself: a symbolic link put
		   there meanwhile could lead back to our own descriptor) */
		struct stat a, b;
		if (fstat(fd, &a) == 0 && lstat(cl->path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			cl->fd = fd;
			return 0;
		}
		close(fd);
		if (!create && errno == ENOENT)
			return -ENOENT;
	}
}

int ipk__owner_lock(ipk__owner_claim *cl, const char *kind, const char *name)
{
	return claim(cl, kind, name, geteuid(), true);
}

int ipk__owner_get(ipk__owner_claim *cl, struct ipk__owner *o)
{
	if (cl->fd < 0)
		return 0;
	return read_fd(cl->fd, cl->name_hash, cl->uid, o);
}

int ipk__owner_set(ipk__owner_claim *cl, bool persist, uint64_t object)
{
	struct ipk__owner o;
	ipk__owner_self(&o, persist, object);
	return ipk__owner_write(cl, &o);
}

int ipk__owner_write(ipk__owner_claim *cl, const struct ipk__owner *o)
{
	if (cl->fd < 0)
		return -EBADF;
	char rec[RECLEN];
	format(rec, o, cl->name_hash);
	ssize_t n;
	while ((n = pwrite(cl->fd, rec, RECLEN, 0)) < 0 && errno == EINTR)
		;
	return n == RECLEN ? 0 : n < 0 ? -errno : -EIO;
}

int ipk__owner_set_at(ipk__owner_claim *cl, bool persist, uint64_t object,
                      const char *where)
{
	if (cl->fd < 0)
		return -EBADF;
	char *rec = malloc(RECLEN + WHERE_MAX);
	if (rec == NULL)
		return -ENOMEM;
	struct ipk__owner o;
	ipk__owner_self(&o, persist, object);
	format(rec, &o, cl->name_hash);
	size_t len = RECLEN;
	int n = snprintf(rec + len, WHERE_MAX, "where mntns=%llu path=",
	                 (unsigned long long)ipk__mnt_ns());
	/* a path that does not fit (longer than PATH_MAX) is not recorded:
	   never a shortened one */
	if (where == NULL || where[0] != '/' ||
	    strlen(where) * 3 + (size_t)n + 2 > WHERE_MAX)
		n = -1;
	len += n > 0 ? (size_t)n : 0;
	for (const char *p = where; n > 0 && *p; p++) {
		unsigned char c = (unsigned char)*p;
		len += (size_t)snprintf(rec + len, RECLEN + WHERE_MAX - len,
		                        c <= 0x20 || c >= 0x7f || c == '%' ? "%%%02X"
		                                                           : "%c",
		                        c);
	}
	if (n > 0)
		rec[len++] = '\n';
	/* the head first, as every version reads it; then the line, and the
	   end cut where it ends (a reader in between
	   may find no where line, never a wrong one) */
	ssize_t w;
	while ((w = pwrite(cl->fd, rec, len, 0)) < 0 && errno == EINTR)
		;
	int rc = w == (ssize_t)len ? 0 : w < 0 ? -errno : -EIO;
	if (rc == 0 && ftruncate(cl->fd, (off_t)len) < 0)
		rc = -errno;
	free(rec);
	return rc;
}

int ipk__owner_drop(ipk__owner_claim *cl)
{
	if (cl->fd < 0)
		return 0;
	return unlink(cl->path) < 0 && errno != ENOENT ? -errno : 0;
}

void ipk__owner_unlock(ipk__owner_claim *cl)
{
	struct stat st;
	/* a record file the claim made and never wrote says nothing */
	if (cl->fd >= 0 && fstat(cl->fd, &st) == 0 && st.st_size == 0)
		unlink(cl->path);
	if (cl->fd >= 0)
		close(cl->fd); /* releases the lock */
	cl->fd = -1;
}

void ipk__owner_forget(const char *kind, const char *name, uid_t uid,
                       uint64_t object)
{
	ipk__owner_claim cl;
	if (claim(&cl, kind, name, uid, false) < 0)
		return;
	struct ipk__owner o;
	int rc = ipk__owner_get(&cl, &o);
	if (rc == 0 || (rc > 0 && (object == IPK__OWNER_PENDING ||
	                           o.object == object ||
	                           o.object == IPK__OWNER_PENDING)))
		ipk__owner_drop(&cl);
	ipk__owner_unlock(&cl);
}

void ipk__owner_release(const char *kind, const char *name, uint64_t object)
{
	ipk__owner_claim cl;
	if (claim(&cl, kind, name, geteuid(), false) < 0)
		return;
	struct ipk__owner o;
	if (ipk__owner_get(&cl, &o) > 0 && o.pid == getpid() &&
	    o.object == object) {
		o.pid = 0;
		o.start = 0;
		ipk__owner_write(&cl, &o);
	}
	ipk__owner_unlock(&cl);
}

bool ipk__owner_keeps(bool persist, bool adopted, long unread)
{
	if (persist)
		return true;
	/* a dead listener's leftover is tidied away only once it is empty:
	   its messages were sent to whoever listens there, not to us */
	return adopted && unread != 0;
}

/* ------------------------------------------------------- record files */

int ipk__owner_file_parse(const char *file, struct ipk__owner_file *f)
{
	memset(f, 0, sizeof *f);
	char pre[64];
	snprintf(pre, sizeof pre, ".ipk-owner.%llu.", ipc_ns());
	if (strncmp(file, pre, strlen(pre)) != 0)
		return 0;
	const char *p = file + strlen(pre);
	char *end;
	errno = 0;
	unsigned long uid = strtoul(p, &end, 10);
	if (end == p || *end != '.' || errno || uid > (uid_t)-1 ||
	    (p[0] == '0' && end != p + 1))
		return 0;
	f->uid = (uid_t)uid;
	p = end + 1;
	const char *dot = strchr(p, '.');
	if (dot == NULL || dot == p || (size_t)(dot - p) >= sizeof f->kind)
		return 0;
	memcpy(f->kind, p, (size_t)(dot - p));
	f->kind[dot - p] = '\0';
	p = dot + 1;
	if (p[0] == '#') {
		/* a name too long to spell: only its hash is known */
		if (strlen(p) != 17)
			return 0;
		for (int i = 1; i <= 16; i++)
			if (hexval(p[i]) < 0 || (p[i] >= 'A' && p[i] <= 'F'))
				return 0;
		f->name_hash = strtoull(p + 1, NULL, 16);
		f->hashed = true;
	} else {
		size_t n = 0;
		for (; *p; p++) {
			int c = (unsigned char)*p;
			if (c == '%') {
				int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
				if (hi < 0 || lo < 0)
					return 0;
				c = hi * 16 + lo;
				p += 2;
			}
			if (c == 0 || n + 1 >= sizeof f->name)
				return 0;
			f->name[n++] = (char)c;
		}
		f->name[n] = '\0';
		if (n == 0)
			return 0;
		f->name_hash = hash_name(f->name);
	}
	/* the name spells back to this very file name: one record, one name */
	char again[320];
	if (!f->hashed &&
	    (path_of(again, sizeof again, f->kind, f->name, f->uid) < 0 ||
	     strcmp(again + strlen(OWNER_DIR "/"), file) != 0))
		return 0;
	return 1;
}

int ipk__owner_file_read(int fd, const struct ipk__owner_file *f,
                         struct ipk__owner *o, char *where, size_t cap,
                         uint64_t *mntns)
{
	*mntns = 0;
	if (!believable(fd, f->uid, false))
		return 0;
	return read_where(fd, f->name_hash, f->uid, o, where, cap, mntns);
}

int ipk__owner_sweep(int dfd, const char *file, uint64_t dev, uint64_t ino,
                     bool (*stale)(void *arg, const struct ipk__owner_file *f,
                                   int found, const struct ipk__owner *rec,
                                   const char *where, uint64_t mntns),
                     void *arg)
{
	struct ipk__owner_file f;
	if (!ipk__owner_file_parse(file, &f))
		return -EINVAL;
	int fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the record's own lock: a listener deciding about the object now
	   (claim) waits, and finds the file gone after us */
	int64_t until = ipk__now_ns() + LOCK_WAIT_NS;
	int rc;
	while ((rc = flock(fd, LOCK_EX | LOCK_NB)) < 0 &&
	       (errno == EINTR || errno == EWOULDBLOCK) &&
	       ipk__now_ns() < until)
		if (errno == EWOULDBLOCK)
			ipk__nap(1000000, IPK__NEVER);
	if (rc < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return rc;
	}
	struct stat a, b;
	char *where = malloc(WHERE_MAX);
	struct ipk__owner o;
	uint64_t mntns = 0;
	if (where == NULL)
		rc = -ENOMEM;
	else if (fstat(fd, &a) < 0 || fstatat(dfd, file, &b, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	else if ((uint64_t)a.st_dev != dev || (uint64_t)a.st_ino != ino ||
	         a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		rc = -ESTALE; /* another record has the name now */
	else {
		int found = ipk__owner_file_read(fd, &f, &o, where, WHERE_MAX, &mntns);
		if (found < 0)
			rc = found;
		else if (!stale(arg, &f, found, &o, where, mntns))
			rc = -EBUSY;
		else if (unlinkat(dfd, file, 0) < 0)
			rc = -errno;
		else
			rc = 0;
	}
	free(where);
	close(fd); /* releases the lock */
	return rc;
}
