/*
 * Shared regions: POSIX shared memory, System V segments, mapped files and
 * anonymous shared mappings behind one handle with a plain address and size.
 */
#define _GNU_SOURCE
#include "region.h"
#include "proc.h"
#include "ring.h"
#include "../core/safepath.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

int ipk__region_kind_of(const char *scheme)
{
	if (strcmp(scheme, "shm") == 0)
		return IPK__REGION_POSIX;
	if (strcmp(scheme, "sysvshm") == 0)
		return IPK__REGION_SYSV;
	if (strcmp(scheme, "mmap") == 0)
		return IPK__REGION_FILE;
	return ipk__err(-EINVAL, "scheme '%s:' is not a shared-memory region "
	                         "(shm:, sysvshm:, mmap:)", scheme);
}

/* "/name" for shm_open: one leading slash, no other. */
static int posix_name(ipk__url *u, char **out)
{
	const char *n = u->rest;
	while (*n == '/')
		n++;
	if (*n == '\0' || strchr(n, '/') != NULL || strlen(n) > 250)
		return ipk__err(-EINVAL,
		                "address '%s': POSIX shared memory needs a name "
		                "without '/' (shm:/name, at most 250 bytes)",
		                u->text);
	if (asprintf(out, "/%s", n) < 0)
		return ipk__err(-ENOMEM, "out of memory");
	return 0;
}

static int file_name(ipk__url *u, char **out)
{
	if (u->rest[0] == '\0')
		return ipk__err(-EINVAL, "address '%s': missing path (mmap:/path)",
		                u->text);
	*out = strdup(u->rest);
	return *out ? 0 : ipk__err(-ENOMEM, "out of memory");
}

/* The System V key: an explicit number, or ftok(path, proj). */
static int sysv_key(ipk__url *u, key_t *out)
{
	const char *r = u->rest;
	long proj = 1;
	int rc = ipk__opt_long(u, "proj", 1, 255, &proj);
	if (rc < 0)
		return rc;
	if (r[0] == '\0')
		return ipk__err(-EINVAL,
		                "address '%s': missing key (sysvshm:0xKEY or "
		                "sysvshm:/path?proj=N)",
		                u->text);
	if (r[0] != '/' && r[0] != '.') {
		char *end;
		errno = 0;
		unsigned long long k = strtoull(r, &end, 0);
		if (*end == '\0' && errno == 0 && k <= 0xffffffffull) {
			if (rc > 0)
				return ipk__err(-EINVAL,
				                "address '%s': proj applies to a path, not "
				                "to an explicit key", u->text);
			if (k == 0)
				return ipk__err(-EINVAL,
				                "address '%s': key 0 is IPC_PRIVATE, which "
				                "cannot be named (use ipk_region_anon)",
				                u->text);
			*out = (key_t)(uint32_t)k;
			return 0;
		}
		/* "0x..." was meant as a key: say so, not "no such path" (an
		   ftok of a file named like that is still ./0x...) */
		if (r[0] == '0' && (r[1] == 'x' || r[1] == 'X')) {
			if (*end == '\0')
				return ipk__err(-EINVAL,
				                "address '%s': key %s does not fit 32 bits",
				                u->text, r);
			return ipk__err(-EINVAL,
			                "address '%s': key '%s' is not hexadecimal "
			                "(like 0x1234abcd; a path for ftok names a file)",
			                u->text, r);
		}
	}
	key_t k = ftok(r, (int)proj);
	if (k == (key_t)-1)
		return ipk__errno(-errno, "ftok(%s, %ld) (the path must exist)", r,
		                  proj);
	*out = k;
	return 0;
}

static ipk_region *region_new(enum ipk__region_kind kind)
{
	ipk_region *r = calloc(1, sizeof *r);
	if (r) {
		r->kind = kind;
		r->fd = -1;
		r->shmid = -1;
	}
	return r;
}

static void region_free(ipk_region *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->name);
	free(r);
}

static int map_fd(ipk_region *r, size_t size)
{
	int prot = PROT_READ | (r->rdonly ? 0 : PROT_WRITE);
	void *p = mmap(NULL, size, prot, MAP_SHARED, r->fd, 0);
	if (p == MAP_FAILED)
		return ipk__errno(-errno, "mmap %zu bytes of %s", size, r->name);
	r->addr = p;
	r->size = size;
	return 0;
}

/* After create: set the mode the caller asked for (the umask must not narrow
   it), give the object its size and reserve its memory. */
static int size_new_fd(ipk_region *r, size_t size, unsigned mode)
{
	if (fchmod(r->fd, mode) < 0)
		return ipk__errno(-errno, "chmod %s", r->name);
	if (ftruncate(r->fd, (off_t)size) < 0)
		return ipk__errno(-errno, "resize %s to %zu bytes", r->name, size);
	/* reserve now: a full tmpfs or disk then fails here, not with SIGBUS
	   on some later store */
	int e = posix_fallocate(r->fd, 0, (off_t)size);
	if (e != 0 && e != EOPNOTSUPP && e != EINVAL)
		return ipk__err(-e, "reserve %zu bytes for %s: %s", size, r->name,
		                strerror(e));
	return 0;
}

static int fd_open(ipk_region *r, int flags, unsigned mode)
{
	int oflags = (r->rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
	             (flags & IPK_REGION_CREATE ? O_CREAT | O_EXCL : 0);
	if (r->kind == IPK__REGION_POSIX)
		r->fd = shm_open(r->name, oflags, mode);
	else
		r->fd = open(r->name, oflags, mode);
	return r->fd < 0 ? -errno : 0;
}

static int open_fd_region(ipk_region *r, size_t size, int flags, unsigned mode)
{
	const char *what = r->kind == IPK__REGION_POSIX ? "shared memory" : "file";
	int rc = -ENOENT;
	/* create-or-attach races with another process doing the same: a few
	   rounds settle it */
	for (int round = 0; round < 8; round++) {
		if (flags & IPK_REGION_CREATE) {
			rc = fd_open(r, IPK_REGION_CREATE, mode);
			if (rc == 0) {
				r->created = true;
				break;
			}
			if (rc != -EEXIST || !(flags & IPK_REGION_ATTACH))
				break;
		}
		rc = fd_open(r, 0, mode);
		if (rc != -ENOENT || !(flags & IPK_REGION_CREATE))
			break;
	}
	if (rc == -EEXIST)
		return ipk__err(rc, "%s %s already exists", what, r->name);
	if (rc == -ENOENT)
		return ipk__err(rc, "no %s %s", what, r->name);
	if (rc < 0)
		return ipk__err(rc, "open %s %s: %s", what, r->name, strerror(-rc));
	struct stat st;
	if (fstat(r->fd, &st) < 0)
		return ipk__errno(-errno, "stat %s", r->name);
	if (r->kind == IPK__REGION_FILE && !S_ISREG(st.st_mode))
		return ipk__err(-EINVAL, "%s is not a regular file", r->name);
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	if (r->created) {
		rc = size_new_fd(r, size, mode);
		if (rc < 0)
			return rc;
		return map_fd(r, size);
	}
	size_t have = (size_t)st.st_size;
	if (have == 0)
		return ipk__err(flags & IPK__REGION_NOT_EMPTY ? -EAGAIN : -EINVAL,
		                "%s %s is empty (still being created?)", what,
		                r->name);
	if (size == 0)
		size = have;
	if (size > have)
		return ipk__err(-EINVAL,
		                "%s %s is %zu bytes, smaller than the %zu asked for",
		                what, r->name, have, size);
	return map_fd(r, size);
}

/* "sysvshm:@ID": an existing segment by identifier (private ones have no
   key); its key, for messages, from IPC_STAT. */
static int sysv_id(ipk__url *u, int *id, key_t *key)
{
	char *end;
	errno = 0;
	long v = strtol(u->rest + 1, &end, 10);
	if (u->rest[1] == '\0' || *end != '\0' || errno || v < 0 || v > INT_MAX)
		return ipk__err(-EINVAL, "address '%s': '@' needs a segment id",
		                u->text);
	struct shmid_ds ds;
	if (shmctl((int)v, IPC_STAT, &ds) < 0)
		return errno == EINVAL || errno == EIDRM
		               ? ipk__err(-ENOENT, "no System V segment with id %ld", v)
		               : ipk__errno(-errno, "shmctl(%ld, IPC_STAT)", v);
	*id = (int)v;
	*key = ds.shm_perm.__key;
	return 0;
}

static int open_sysv_region(ipk_region *r, size_t size, int flags,
                            unsigned mode)
{
	int id = -1;
	if (r->shmid >= 0) { /* by id: it exists, it is never created */
		if (!(flags & IPK_REGION_ATTACH))
			return ipk__err(-EEXIST, "System V segment %d already exists",
			                r->shmid);
		id = r->shmid;
	}
	for (int round = 0; round < 8 && id < 0; round++) {
		if (flags & IPK_REGION_CREATE) {
			id = shmget(r->key, size, IPC_CREAT | IPC_EXCL | (int)mode);
			if (id >= 0) {
				r->created = true;
				break;
			}
			if (errno == EINVAL)
				return ipk__errno(-errno,
				                  "shmget key 0x%08x, %zu bytes (limits: "
				                  "kernel.shmmax, kernel.shmall; or an "
				                  "existing segment is smaller)",
				                  (unsigned)r->key, size);
			if (errno == ENOSPC)
				return ipk__errno(-errno,
				                  "shmget key 0x%08x: out of segments or "
				                  "memory (kernel.shmmni, kernel.shmall)",
				                  (unsigned)r->key);
			if (errno != EEXIST || !(flags & IPK_REGION_ATTACH))
				return errno == EEXIST
				               ? ipk__err(-EEXIST,
				                          "System V segment with key 0x%08x "
				                          "already exists",
				                          (unsigned)r->key)
				               : ipk__errno(-errno, "shmget key 0x%08x",
				                            (unsigned)r->key);
		}
		id = shmget(r->key, 0, 0);
		if (id < 0 && (errno != ENOENT || !(flags & IPK_REGION_CREATE)))
			return errno == ENOENT
			               ? ipk__err(-ENOENT,
			                          "no System V segment with key 0x%08x",
			                          (unsigned)r->key)
			               : ipk__errno(-errno, "shmget key 0x%08x",
			                            (unsigned)r->key);
	}
	if (id < 0)
		return ipk__err(-EAGAIN, "segment 0x%08x keeps appearing and "
		                         "vanishing", (unsigned)r->key);
	r->shmid = id;
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return ipk__errno(-errno, "shmctl(IPC_STAT) on segment %d", id);
	if (size == 0)
		size = ds.shm_segsz;
	if (size > ds.shm_segsz)
		return ipk__err(-EINVAL,
		                "System V segment 0x%08x is %zu bytes, smaller than "
		                "the %zu asked for",
		                (unsigned)r->key, (size_t)ds.shm_segsz, size);
	void *p = shmat(id, NULL, r->rdonly ? SHM_RDONLY : 0);
	if (p == (void *)-1)
		return ipk__errno(-errno, "shmat segment %d (key 0x%08x)", id,
		                  (unsigned)r->key);
	r->addr = p;
	r->size = size;
	return 0;
}

int ipk__region_open(ipk_region **out, ipk__url *u, size_t size, int flags,
                     unsigned mode)
{
	*out = NULL;
	int kind = ipk__region_kind_of(u->scheme);
	if (kind < 0)
		return kind;
	if (!(flags & (IPK_REGION_CREATE | IPK_REGION_ATTACH)))
		flags |= IPK_REGION_ATTACH;
	if ((flags & IPK_REGION_RDONLY) && (flags & IPK_REGION_CREATE))
		return ipk__err(-EINVAL, "a region is created read-write; attach "
		                         "read-only afterwards");
	if ((flags & IPK_REGION_CREATE) && size == 0)
		return ipk__err(-EINVAL, "address '%s': a new region needs a size "
		                         "(?size= or the size argument)", u->text);
	ipk_region *r = region_new(kind);
	if (r == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	r->rdonly = flags & IPK_REGION_RDONLY;
	int rc;
	switch (r->kind) {
	case IPK__REGION_POSIX:
		rc = posix_name(u, &r->name);
		if (rc == 0)
			rc = open_fd_region(r, size, flags, mode);
		break;
	case IPK__REGION_FILE:
		rc = file_name(u, &r->name);
		if (rc == 0)
			rc = open_fd_region(r, size, flags, mode);
		break;
	case IPK__REGION_SYSV:
		rc = u->rest[0] == '@' ? sysv_id(u, &r->shmid, &r->key)
		                       : sysv_key(u, &r->key);
		if (rc == 0)
			rc = open_sysv_region(r, size, flags, mode);
		break;
	default:
		rc = ipk__err(-EINVAL, "bad region kind");
	}
	if (rc < 0) {
		/* undo a half-made object so the name is free again */
		if (r->created) {
			char msg[512];
			snprintf(msg, sizeof msg, "%s", ipk_last_error());
			ipk_region_remove(r);
			ipk__err(rc, "%s", msg);
		}
		if (r->addr) {
			if (r->kind == IPK__REGION_SYSV)
				shmdt(r->addr);
			else
				munmap(r->addr, r->size);
		}
		region_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static const char *const region_opts[] = {"size", "proj", "mode", NULL};

static int parse_region_url(ipk__url *u, const char *url)
{
	int rc = ipk__url_parse(u, url);
	if (rc < 0)
		return rc;
	for (int i = 0; i < u->nopts; i++) {
		bool ok = false;
		for (const char *const *o = region_opts; *o; o++)
			ok |= strcmp(*o, u->opts[i].key) == 0;
		if (!ok) {
			rc = ipk__err(-EINVAL,
			              "address '%s': unknown option '%s' for a region "
			              "(accepted: size, proj, mode)",
			              url, u->opts[i].key);
			ipk__url_free(u);
			return rc;
		}
	}
	return 0;
}

int ipk_region_open(ipk_region **out, const char *url, size_t size, int flags)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_region_open: out is NULL");
	*out = NULL;
	ipk__url u;
	int rc = parse_region_url(&u, url);
	if (rc < 0)
		return rc;
	unsigned mode = 0600;
	size_t qsize = 0;
	if ((rc = ipk__opt_mode(&u, "mode", &mode)) < 0 ||
	    (rc = ipk__opt_size(&u, "size", &qsize)) < 0)
		goto out;
	if (rc > 0) {
		if (size != 0 && size != qsize) {
			rc = ipk__err(-EINVAL,
			              "address '%s': ?size= says %zu bytes, the "
			              "argument %zu",
			              url, qsize, size);
			goto out;
		}
		size = qsize;
	}
	rc = ipk__region_open(out, &u, size, flags, mode);
out:
	ipk__url_free(&u);
	return rc;
}

int ipk_region_anon(ipk_region **out, size_t size)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_region_anon: out is NULL");
	*out = NULL;
	if (size == 0)
		return ipk__err(-EINVAL, "an anonymous region needs a size");
	ipk_region *r = region_new(IPK__REGION_ANON);
	if (r == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		region_free(r);
		return ipk__errno(-errno, "mmap %zu anonymous shared bytes", size);
	}
	r->addr = p;
	r->size = size;
	r->created = true;
	*out = r;
	return 0;
}

void *ipk_region_addr(const ipk_region *r)
{
	return r ? r->addr : NULL;
}

size_t ipk_region_size(const ipk_region *r)
{
	return r ? r->size : 0;
}

int ipk__region_object_size(const ipk_region *r, size_t *out)
{
	switch (r->kind) {
	case IPK__REGION_POSIX:
	case IPK__REGION_FILE: {
		struct stat st;
		if (fstat(r->fd, &st) < 0)
			return ipk__errno(-errno, "stat %s", r->name);
		*out = (size_t)st.st_size;
		return 0;
	}
	case IPK__REGION_SYSV: {
		struct shmid_ds ds;
		if (shmctl(r->shmid, IPC_STAT, &ds) < 0)
			return ipk__errno(-errno, "shmctl(IPC_STAT) on segment %d",
			                  r->shmid);
		*out = ds.shm_segsz;
		return 0;
	}
	default:
		*out = r->size;
		return 0;
	}
}

static void info_from_stat(ipk_regioninfo *info, const struct stat *st)
{
	info->size = (size_t)st->st_size;
	info->uid = info->cuid = st->st_uid;
	info->gid = info->cgid = st->st_gid;
	info->mode = st->st_mode & 07777;
	info->atime = st->st_atime;
	info->ctime = st->st_ctime;
	info->nattch = ipk__proc_count_mappers(st->st_dev, st->st_ino);
}

static void info_from_shmid(ipk_regioninfo *info, int id, key_t key,
                            const struct shmid_ds *ds)
{
	info->size = ds->shm_segsz;
	info->nattch = (long)ds->shm_nattch;
	info->cpid = ds->shm_cpid;
	info->lpid = ds->shm_lpid;
	info->uid = ds->shm_perm.uid;
	info->gid = ds->shm_perm.gid;
	info->cuid = ds->shm_perm.cuid;
	info->cgid = ds->shm_perm.cgid;
	info->mode = ds->shm_perm.mode & 0777;
	info->shmid = id;
	info->key = key;
	info->atime = ds->shm_atime;
	info->dtime = ds->shm_dtime;
	info->ctime = ds->shm_ctime;
}

int ipk_region_info(const ipk_region *r, ipk_regioninfo *info)
{
	if (r == NULL || info == NULL)
		return ipk__err(-EINVAL, "ipk_region_info: NULL argument");
	memset(info, 0, sizeof *info);
	info->kind = r->kind;
	info->shmid = -1;
	info->created = r->created;
	info->rdonly = r->rdonly;
	switch (r->kind) {
	case IPK__REGION_POSIX:
	case IPK__REGION_FILE: {
		struct stat st;
		if (fstat(r->fd, &st) < 0)
			return ipk__errno(-errno, "stat %s", r->name);
		info_from_stat(info, &st);
		return 0;
	}
	case IPK__REGION_SYSV: {
		struct shmid_ds ds;
		if (shmctl(r->shmid, IPC_STAT, &ds) < 0)
			return ipk__errno(-errno, "shmctl(IPC_STAT) on segment %d",
			                  r->shmid);
		info_from_shmid(info, r->shmid, r->key, &ds);
		return 0;
	}
	default:
		info->size = r->size;
		info->nattch = -1;
		info->uid = info->cuid = getuid();
		info->gid = info->cgid = getgid();
		info->mode = 0600;
		return 0;
	}
}

int ipk_region_stat(const char *url, ipk_regioninfo *info)
{
	if (info == NULL)
		return ipk__err(-EINVAL, "ipk_region_stat: info is NULL");
	memset(info, 0, sizeof *info);
	ipk__url u;
	int rc = parse_region_url(&u, url);
	if (rc < 0)
		return rc;
	int kind = ipk__region_kind_of(u.scheme);
	char *name = NULL;
	if (kind < 0) {
		rc = kind;
		goto out;
	}
	info->kind = kind;
	info->shmid = -1;
	if (kind == IPK__REGION_SYSV) {
		key_t key;
		int id = -1;
		if (u.rest[0] == '@') {
			if ((rc = sysv_id(&u, &id, &key)) < 0)
				goto out;
		} else if ((rc = sysv_key(&u, &key)) < 0) {
			goto out;
		} else {
			id = shmget(key, 0, 0);
		}
		struct shmid_ds ds;
		if (id < 0 || shmctl(id, IPC_STAT, &ds) < 0) {
			rc = errno == ENOENT ? ipk__err(-ENOENT, "no System V segment "
			                                         "with key 0x%08x",
			                                (unsigned)key)
			                     : ipk__errno(-errno, "segment 0x%08x",
			                                  (unsigned)key);
			goto out;
		}
		info_from_shmid(info, id, key, &ds);
		goto out;
	}
	rc = kind == IPK__REGION_POSIX ? posix_name(&u, &name)
	                               : file_name(&u, &name);
	if (rc < 0)
		goto out;
	char path[300];
	snprintf(path, sizeof path, "%s%s",
	         kind == IPK__REGION_POSIX ? "/dev/shm" : "", name);
	struct stat st;
	if (stat(path, &st) < 0) {
		rc = ipk__errno(-errno, "%s", path);
		goto out;
	}
	info_from_stat(info, &st);
out:
	free(name);
	ipk__url_free(&u);
	return rc;
}

int ipk_region_detach(ipk_region *r)
{
	if (r == NULL)
		return 0;
	int rc = 0;
	if (r->addr != NULL) {
		if (r->kind == IPK__REGION_SYSV) {
			if (shmdt(r->addr) < 0)
				rc = ipk__errno(-errno, "shmdt segment %d", r->shmid);
		} else if (munmap(r->addr, r->size) < 0) {
			rc = ipk__errno(-errno, "munmap");
		}
	}
	region_free(r);
	return rc;
}

/* Is the object at name still the one we opened (dev/ino)? */
static bool same_object(const ipk_region *r, const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && st.st_dev == r->dev && st.st_ino == r->ino;
}

bool ipk__region_gone(const ipk_region *r)
{
	switch (r->kind) {
	case IPK__REGION_POSIX: {
		char path[300];
		snprintf(path, sizeof path, "/dev/shm%s", r->name);
		return access("/dev/shm", F_OK) == 0 && !same_object(r, path);
	}
	case IPK__REGION_FILE:
		return !same_object(r, r->name);
	case IPK__REGION_SYSV: {
		struct shmid_ds ds;
		if (shmctl(r->shmid, IPC_STAT, &ds) < 0)
			return errno == EINVAL || errno == EIDRM;
		return (ds.shm_perm.mode & SHM_DEST) != 0;
	}
	default:
		return false;
	}
}

int ipk_region_remove(ipk_region *r)
{
	if (r == NULL)
		return ipk__err(-EINVAL, "ipk_region_remove: NULL region");
	switch (r->kind) {
	case IPK__REGION_POSIX: {
		char path[300];
		snprintf(path, sizeof path, "/dev/shm%s", r->name);
		/* without /dev/shm to compare against, trust the name */
		if (access("/dev/shm", F_OK) == 0 && !same_object(r, path))
			return ipk__err(-ENOENT, "%s is gone or was replaced", r->name);
		if (shm_unlink(r->name) < 0)
			return ipk__errno(-errno, "shm_unlink %s", r->name);
		return 0;
	}
	case IPK__REGION_FILE:
		if (!same_object(r, r->name))
			return ipk__err(-ENOENT, "%s is gone or was replaced", r->name);
		if (unlink(r->name) < 0)
			return ipk__errno(-errno, "unlink %s", r->name);
		return 0;
	case IPK__REGION_SYSV:
		if (shmctl(r->shmid, IPC_RMID, NULL) < 0)
			return ipk__errno(errno == EINVAL || errno == EIDRM ? -ENOENT
			                                                    : -errno,
			                  "shmctl(IPC_RMID) on segment %d", r->shmid);
		return 0;
	default:
		return ipk__err(-EINVAL, "an anonymous region has no name to remove");
	}
}

int ipk__region_remove_url(ipk__url *u)
{
	int kind = ipk__region_kind_of(u->scheme);
	if (kind < 0)
		return kind;
	char *name = NULL;
	int rc;
	switch (kind) {
	case IPK__REGION_POSIX: {
		if ((rc = posix_name(u, &name)) < 0)
			return rc;
		/* a ring's consumers idle in poll() are woken once it is gone
		   (only ipk_remove_flags FORCE gets here with one attached) */
		int fd = shm_open(name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
		if (shm_unlink(name) < 0)
			rc = ipk__errno(-errno, "shm_unlink %s", name);
		else if (fd >= 0)
			ipk__ring_wake_file(fd, u->text);
		if (fd >= 0)
			close(fd);
		break;
	}
	case IPK__REGION_FILE: {
		if ((rc = file_name(u, &name)) < 0)
			return rc;
		/* one walk to the directory, then relative to it (safepath.h) */
		rc = ipk__unlink_type(name, S_IFREG, "a regular file");
		break;
	}
	default: {
		key_t key;
		if ((rc = sysv_key(u, &key)) < 0)
			return rc;
		int id = shmget(key, 0, 0);
		if (id < 0)
			rc = errno == ENOENT
			             ? ipk__err(-ENOENT, "no System V segment with key "
			                                 "0x%08x", (unsigned)key)
			             : ipk__errno(-errno, "shmget key 0x%08x",
			                          (unsigned)key);
		else if (shmctl(id, IPC_RMID, NULL) < 0)
			rc = ipk__errno(-errno, "shmctl(IPC_RMID) key 0x%08x",
			                (unsigned)key);
		else
			ipk__ring_wake_sysv(id, u->text);
		break;
	}
	}
	free(name);
	return rc;
}
