/* Owner records of FIFOs and socket files (owner_file.h). */
#define _GNU_SOURCE
#include "owner_file.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void name_of(char buf[48], uint64_t dev, uint64_t ino)
{
	snprintf(buf, 48, "%llx:%llx", (unsigned long long)dev,
	         (unsigned long long)ino);
}

/* path from the root, its directories without symbolic links (the file
   itself is not followed), in a new string; NULL if that cannot be said */
static char *where_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char dir[PATH_MAX];
	if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if ((size_t)(slash - path) < sizeof dir)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		return NULL;
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return NULL;
	char *real = realpath(dir, NULL);
	char *out = NULL;
	if (real && asprintf(&out, "%s%s%s", real,
	                     strcmp(real, "/") == 0 ? "" : "/", base) < 0)
		out = NULL;
	free(real);
	return out;
}

void ipk__owner_file_listen(const char *kind, const char *path, uint64_t dev,
                            uint64_t ino, uid_t file_uid, bool persist,
                            bool track)
{
	char name[48];
	name_of(name, dev, ino);
	/* a record goes under the file's owner and is believed only from a
	   file of theirs (owner.h): a listener of another user keeps none
	   (one under its own uid nobody would read, nor remove) */
	if ((!persist && !track) || file_uid != geteuid()) {
		ipk__owner_forget(kind, name, file_uid, ino);
		return;
	}
	char *where = where_of(path);
	ipk__owner_claim cl;
	if (ipk__owner_lock(&cl, kind, name) == 0)
		ipk__owner_set_at(&cl, persist, ino, where);
	ipk__owner_unlock(&cl);
	free(where);
}

void ipk__owner_file_close(const char *kind, uint64_t dev, uint64_t ino,
                           bool removed)
{
	char name[48];
	name_of(name, dev, ino);
	if (removed)
		ipk__owner_forget(kind, name, geteuid(), ino);
	else
		ipk__owner_release(kind, name, ino);
}

enum ipk__owner_state ipk__owner_file_check(const char *kind, uint64_t dev,
                                            uint64_t ino, uid_t uid,
                                            struct ipk__owner *rec)
{
	char name[48];
	name_of(name, dev, ino);
	return ipk__owner_check(kind, name, uid, ino, rec);
}

void ipk__owner_file_forget(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t uid)
{
	char name[48];
	name_of(name, dev, ino);
	ipk__owner_forget(kind, name, uid, ino);
}
