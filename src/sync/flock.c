/*
 * File locks on open file descriptions (fcntl F_OFD_SETLK/F_OFD_SETLKW).
 * Unlike classic POSIX record locks they belong to the open file, not to the
 * process, so two handles in one process exclude each other and closing an
 * unrelated descriptor of the same file does not drop them; like them, the
 * kernel releases them when the last descriptor goes, including when the
 * holder is killed.
 *
 * With IPK_FLOCK_WHOLE the lock is a flock(2) lock instead: whole file, on
 * the same open file description, the kind flock(1) takes. Linux keeps the
 * two kinds apart (neither excludes the other), so a caller picks the kind
 * the programs it must exclude use.
 *
 * Timeouts: the kernel has no timed wait for these locks. Waiting forever
 * sleeps in F_OFD_SETLKW (woken the moment the lock is free). A bounded wait
 * polls F_OFD_SETLK with a backoff growing from 50 us to 10 ms: the
 * alternative, interrupting F_OFD_SETLKW with a per-thread timer signal,
 * would take a signal number away from the application.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct ipk_flock {
	int fd;
	bool readonly;
	bool whole;      /* holds a flock(2) lock */
	uint64_t anchor; /* TSan: dev/inode */
	char path[];
};

int ipk_flock_open(ipk_flock **out, const char *path, int flags)
{
	if (out == NULL || path == NULL || *path == '\0')
		return ipk__err(-EINVAL, "ipk_flock_open: empty path");
	*out = NULL;
	int rc = ipk__sync_flags(flags, IPK_SYNC_CREATE | IPK_SYNC_EXCL,
	                         "ipk_flock_open");
	if (rc < 0)
		return rc;
	int oflags = O_RDWR | O_CLOEXEC | O_NOCTTY;
	if (flags & IPK_SYNC_CREATE)
		oflags |= O_CREAT;
	if (flags & IPK_SYNC_EXCL)
		oflags |= O_EXCL;
	bool readonly = false;
	int fd = open(path, oflags, 0600);
	if (fd < 0 && (errno == EACCES || errno == EISDIR || errno == EROFS) &&
	    !(flags & IPK_SYNC_EXCL)) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		readonly = true;
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return ipk__err(-ENOENT, "lock file %s does not exist%s", path,
			                flags & IPK_SYNC_CREATE
			                        ? " (its directory is missing)"
			                        : " (open it with IPK_SYNC_CREATE)");
		return ipk__errno(-errno, "open lock file %s", path);
	}
	struct stat st;
	size_t n = strlen(path);
	ipk_flock *f = fstat(fd, &st) == 0 ? malloc(sizeof *f + n + 1) : NULL;
	if (f == NULL) {
		rc = ipk__errno(-(errno ? errno : ENOMEM), "open lock file %s", path);
		close(fd);
		return rc;
	}
	f->fd = fd;
	f->readonly = readonly;
	f->whole = false;
	f->anchor = (uint64_t)st.st_dev * 1000003u ^ (uint64_t)st.st_ino;
	memcpy(f->path, path, n + 1);
	*out = f;
	return 0;
}

static int check_range(const ipk_flock *f, off_t off, off_t len,
                       const char *fn)
{
	if (f == NULL)
		return ipk__err(-EINVAL, "%s: handle is NULL", fn);
	if (off < 0 || len < 0)
		return ipk__err(-EINVAL, "%s %s: negative %s %lld", fn, f->path,
		                off < 0 ? "offset" : "length",
		                (long long)(off < 0 ? off : len));
	if (len > 0 && off > (off_t)(LLONG_MAX - len))
		return ipk__err(-EOVERFLOW, "%s %s: range %lld+%lld overflows", fn,
		                f->path, (long long)off, (long long)len);
	return 0;
}

static const char *range(off_t off, off_t len, char *buf, size_t cap)
{
	if (off == 0 && len == 0)
		snprintf(buf, cap, "the whole file");
	else if (len == 0)
		snprintf(buf, cap, "bytes %lld to the end", (long long)off);
	else
		snprintf(buf, cap, "bytes %lld..%lld", (long long)off,
		         (long long)(off + len - 1));
	return buf;
}

/* flock(2) on the whole file; works on a read-only descriptor too. */
static int whole_lock(ipk_flock *f, bool shared, off_t off, off_t len,
                      int timeout_ms)
{
	if (off != 0 || len != 0)
		return ipk__err(-EINVAL, "lock %s: IPK_FLOCK_WHOLE locks the whole "
		                "file (offset and length 0), not a range", f->path);
	int op = shared ? LOCK_SH : LOCK_EX;
	int64_t deadline = ipk__deadline(timeout_ms);
	unsigned round = 0;
	for (;;) {
		if (flock(f->fd, deadline == IPK__NEVER ? op : op | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			if (ipk__expired(deadline))
				return ipk__err(ipk__timeout_err(deadline),
				                "%s: %s is locked (flock) by another holder",
				                deadline == IPK__NOW ? "would block"
				                                     : "timed out",
				                f->path);
			ipk__backoff(&round, deadline);
			continue;
		}
		if (errno == ENOLCK)
			return ipk__err(-ENOLCK, "lock %s: the kernel is out of lock "
			                "records", f->path);
		return ipk__errno(-errno, "flock %s", f->path);
	}
	f->whole = true;
	IPK__TSAN_ACQUIRE(f->anchor);
	return 0;
}

int ipk_flock_lock(ipk_flock *f, int flags, off_t off, off_t len,
                   int timeout_ms)
{
	int rc = check_range(f, off, len, "ipk_flock_lock");
	if (rc < 0)
		return rc;
	if (flags & ~(IPK_FLOCK_SHARED | IPK_FLOCK_WHOLE))
		return ipk__err(-EINVAL, "ipk_flock_lock: unknown flags 0x%x",
		                (unsigned)flags);
	bool shared = flags & IPK_FLOCK_SHARED;
	if (flags & IPK_FLOCK_WHOLE)
		return whole_lock(f, shared, off, len, timeout_ms);
	char buf[64];
	if (!shared && f->readonly)
		return ipk__err(-EBADF,
		                "%s could only be opened read-only: it allows shared "
		                "locks only",
		                f->path);
	struct flock fl = {
		.l_type = shared ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = off,
		.l_len = len,
	};
	int64_t deadline = ipk__deadline(timeout_ms);
	unsigned round = 0;
	for (;;) {
		int cmd = deadline == IPK__NEVER ? F_OFD_SETLKW : F_OFD_SETLK;
		if (fcntl(f->fd, cmd, &fl) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EACCES) {
			if (ipk__expired(deadline))
				return ipk__err(ipk__timeout_err(deadline),
				                "%s: %s of %s is locked by another holder",
				                deadline == IPK__NOW ? "would block"
				                                     : "timed out",
				                range(off, len, buf, sizeof buf), f->path);
			ipk__backoff(&round, deadline);
			continue;
		}
		if (errno == ENOLCK)
			return ipk__err(-ENOLCK, "lock %s: the kernel is out of lock "
			                "records", f->path);
		return ipk__errno(-errno, "lock %s of %s",
		                  range(off, len, buf, sizeof buf), f->path);
	}
	IPK__TSAN_ACQUIRE(f->anchor);
	return 0;
}

int ipk_flock_unlock(ipk_flock *f, off_t off, off_t len)
{
	int rc = check_range(f, off, len, "ipk_flock_unlock");
	if (rc < 0)
		return rc;
	struct flock fl = {
		.l_type = F_UNLCK,
		.l_whence = SEEK_SET,
		.l_start = off,
		.l_len = len,
	};
	IPK__TSAN_RELEASE(f->anchor);
	if (f->whole && off == 0 && len == 0) {
		if (flock(f->fd, LOCK_UN) < 0)
			return ipk__errno(-errno, "unlock (flock) %s", f->path);
		f->whole = false;
	}
	if (fcntl(f->fd, F_OFD_SETLK, &fl) < 0)
		return ipk__errno(-errno, "unlock %s", f->path);
	return 0;
}

int ipk_flock_fd(const ipk_flock *f)
{
	if (f == NULL)
		return ipk__err(-EINVAL, "ipk_flock_fd: handle is NULL");
	return f->fd;
}

int ipk_flock_close(ipk_flock *f)
{
	if (f == NULL)
		return 0;
	IPK__TSAN_RELEASE(f->anchor);
	int rc = 0;
	if (close(f->fd) < 0)
		rc = ipk__errno(-errno, "close lock file %s", f->path);
	free(f);
	return rc;
}
