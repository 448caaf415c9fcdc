/*
 * Path-safe removal (safepath.h): one walk to the parent directory with no
 * symbolic links, then everything relative to it.
 */
#define _GNU_SOURCE
#include "safepath.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DIR_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)

/* Component by component, for kernels without openat2 (before 5.6) or
   where a filter refuses it. */
static int walk(const char *dir)
{
	int fd = open(dir[0] == '/' ? "/" : ".", DIR_FLAGS);
	if (fd < 0)
		return -errno;
	const char *p = dir;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		char comp[256];
		if (n >= sizeof comp) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		/* O_PATH|O_NOFOLLOW opens a link itself: told by fstat below */
		int next = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		if (next < 0)
			return -e;
		struct stat st;
		int got = fstat(next, &st);
		if (got < 0 || !S_ISDIR(st.st_mode)) {
			/* st says nothing when fstat failed */
			e = got < 0 ? errno : S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			close(next);
			return -e;
		}
		fd = next;
	}
	return fd;
}

static int dir_open(const char *path, const char **base, bool follow)
{
	const char *slash = strrchr(path, '/');
	const char *b = slash ? slash + 1 : path;
	*base = b;
	if (b[0] == '\0' || strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
		return ipk__err(-EINVAL, "%s: names a directory, not a file", path);
	char dir[4096];
	size_t n = slash ? (size_t)(slash - path) : 0;
	if (n >= sizeof dir)
		return ipk__err(-ENAMETOOLONG, "%s: name too long", path);
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (n == 0)
		snprintf(dir, sizeof dir, "/");
	else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (follow) {
		int fd = open(dir, DIR_FLAGS);
		return fd >= 0 ? fd : ipk__errno(-errno, "%s", dir);
	}
	struct open_how how = {.flags = DIR_FLAGS,
	                       .resolve = RESOLVE_NO_SYMLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof how);
	if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == E2BIG))
		fd = walk(dir);
	else if (fd < 0)
		fd = -errno;
	if (fd == -ELOOP)
		return ipk__err(-ELOOP, "%s: a directory on the path is a symbolic "
		                "link; not following it (name the object by its "
		                "real path)", path);
	if (fd < 0)
		return ipk__errno(fd, "%s", dir);
	return fd;
}

int ipk__dir_open(const char *path, const char **base)
{
	return dir_open(path, base, false);
}

int ipk__unlink_own(const char *path, uint64_t dev, uint64_t ino)
{
	const char *base;
	int dfd = dir_open(path, &base, true);
	if (dfd < 0)
		return dfd;
	int rc = ipk__unlinkat_same(dfd, base, dev, ino, path);
	close(dfd);
	return rc;
}

int ipk__unlinkat_same(int dirfd, const char *base, uint64_t dev,
                       uint64_t ino, const char *what)
{
	struct stat st;
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return ipk__errno(-errno, "%s", what);
	if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
		return ipk__err(-ESTALE, "%s was replaced meanwhile; not removing "
		                "the new one", what);
	if (unlinkat(dirfd, base, 0) < 0)
		return ipk__errno(-errno, "unlink %s", what);
	return 0;
}

int ipk__unlink_type(const char *path, unsigned type, const char *what_type)
{
	const char *base;
	int dfd = ipk__dir_open(path, &base);
	if (dfd < 0)
		return dfd;
	struct stat st;
	int rc;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = ipk__errno(-errno, "%s", path);
	else if ((st.st_mode & S_IFMT) != type)
		rc = ipk__err(-EINVAL, "%s is not %s; not removing it", path,
		              what_type);
	else
		rc = ipk__unlinkat_same(dfd, base, st.st_dev, st.st_ino, path);
	close(dfd);
	return rc;
}
