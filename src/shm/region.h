/* Shared regions: the internal side of the ipk_region_* API. */
#ifndef IPK_SHM_REGION_H
#define IPK_SHM_REGION_H

#include "../core/internal.h"

#include <sys/types.h>

enum ipk__region_kind {
	IPK__REGION_POSIX = IPK_REGION_POSIX,
	IPK__REGION_SYSV = IPK_REGION_SYSV,
	IPK__REGION_FILE = IPK_REGION_FILE,
	IPK__REGION_ANON = IPK_REGION_ANON,
};

struct ipk_region {
	enum ipk__region_kind kind;
	void *addr;
	size_t size;     /* bytes mapped */
	int fd;          /* POSIX and file regions; -1 otherwise */
	int shmid;       /* System V */
	key_t key;
	char *name;      /* "/name" for POSIX, the path for files */
	bool created;    /* this handle made the object */
	bool rdonly;
	dev_t dev;       /* identity, so removal never hits a newer object */
	ino_t ino;
};

/* Internal flag: an empty object (a creator has not sized it yet) is
   -EAGAIN rather than -EINVAL, so a caller can wait for it. */
#define IPK__REGION_NOT_EMPTY 0x100

/*
 * Open a region from a parsed address (shm:, sysvshm:, mmap:). size 0 on
 * attach maps the whole object. Options read: proj (sysvshm). The caller
 * has checked the other options.
 */
int ipk__region_open(ipk_region **out, ipk__url *u, size_t size, int flags,
                     unsigned mode);

/* Size of the object behind the region now (fstat / IPC_STAT). */
int ipk__region_object_size(const ipk_region *r, size_t *out);

/* Has the named object behind r been removed, or replaced by another of
   the same name, since r attached? (false for anonymous regions, and when
   it cannot be told) */
bool ipk__region_gone(const ipk_region *r);

/* Remove the named object behind u (ipk_remove for shm:, sysvshm:, mmap:). */
int ipk__region_remove_url(ipk__url *u);

/* Scheme to kind, or -EINVAL for a scheme that is not a region. */
int ipk__region_kind_of(const char *scheme);

#endif
