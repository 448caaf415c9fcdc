/*
 * The inventory's internals: records being built, the index of which
 * process holds what, and the scanners that fill a list.
 */
#ifndef IPK_OBJECTS_H
#define IPK_OBJECTS_H

#include "../core/internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ------------------------------------------------------------ records */

/* One object while it is being built: the public record points into it. */
struct ipk__obj {
	ipk_object pub;
	char kind[16];
	char address[320];
	char path[300];
	char detail[48];
	char use[96];
	char why[200];
	/* identity, so that removal removes this object and no later one */
	uint64_t dev, ino;  /* files (System V: ino is the id) */
	uint64_t sock_ino;  /* a bound socket's own inode */
	uid_t cuid;         /* System V creator; mq: the file's owner */
	bool is_ring;       /* holds a valid ipckit ring header */
	bool plain;         /* a region without ipckit header */
	bool wrong_size;    /* sem.* not the size of a semaphore */
	bool incomplete;    /* holders could not all be looked for */
	int sock_type;      /* SOCK_STREAM / SOCK_DGRAM / 0 unknown */
};

struct ipk__objlist {
	struct ipk__obj *v;
	size_t n, cap;
	char notes[8][320];
	size_t nnotes;
};

/* A new zeroed record at the end of the list (fields set to "unknown"). */
struct ipk__obj *ipk__obj_add(struct ipk__objlist *l, const char *kind);
/* o->address = "scheme:name", the name escaped so that it parses back */
static inline void ipk__addr(struct ipk__obj *o, const char *scheme,
                             const char *name)
{
	char pre[24];
	snprintf(pre, sizeof pre, "%s:", scheme);
	ipk__url_escape(o->address, sizeof o->address, pre, name, "");
}
/* Identity (dev, inode), owner, mode, size and change time from a stat. */
static inline void ipk__obj_from_stat(struct ipk__obj *o, const struct stat *st)
{
	o->dev = st->st_dev;
	o->ino = st->st_ino;
	o->pub.uid = st->st_uid;
	o->pub.gid = st->st_gid;
	o->pub.mode = st->st_mode & 0777;
	o->pub.size = (uint64_t)st->st_size;
	o->pub.changed = st->st_ctime;
}
void ipk__obj_note(struct ipk__objlist *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Point the public strings at the record's buffers (after the list grew). */
void ipk__obj_fix(struct ipk__obj *o);
/* Add pid to the record's holders (once). */
void ipk__obj_hold(struct ipk__obj *o, pid_t pid);

/* ------------------------------------------------- processes and holders */

enum ipk__hold_how { HOLD_FD = 1, HOLD_MAP = 2, HOLD_SOCK = 3, HOLD_SYSV = 4 };

struct ipk__hold {
	uint64_t dev, ino; /* HOLD_SOCK: ino = socket inode; HOLD_SYSV: shmid */
	pid_t pid;
	uint8_t how;
};

struct ipk__procidx {
	struct ipk__hold *v;
	size_t n, cap;
	int procs;      /* processes seen */
	int unreadable; /* processes whose descriptors or maps we may not read */
	pid_t first_unreadable;
	bool sorted;
};

/* One pass over /proc: every descriptor and shared mapping of every
   process we may inspect. */
int ipk__procidx_build(struct ipk__procidx *x);
void ipk__procidx_free(struct ipk__procidx *x);
/* Add to o the holders of (how, dev, ino); returns how many. */
size_t ipk__procidx_holders(const struct ipk__procidx *x, int how,
                            uint64_t dev, uint64_t ino, struct ipk__obj *o);

/*
 * A recorded process: with a start time (clock ticks since boot) it is
 * alive only if that pid has that start time. With since (seconds since the
 * epoch, System V records) a process with that pid that started after since
 * (plus 2 s of slack) is another one. Neither: existence alone is not
 * proof (IPK_PID_UNKNOWN). A pid that is not there is dead.
 */
int ipk__pid_state(pid_t pid, uint64_t start, int64_t since);

/* ------------------------------------------------------------- rings */

/* What an ipckit ring header says, read from a private copy. */
struct ipk__ringview {
	bool mpmc;
	uint64_t capacity, used;
	int nslots;          /* attached processes listed below */
	struct {
		pid_t pid;
		uint64_t start;
		bool consumer;
	} slot[2 * 64];
	pid_t creator;       /* 0 if the header does not record it */
	uint64_t creator_start;
	int persist;         /* 1, 0, -1 the header does not say */
};

/*
 * Validate a copy of the first have bytes of a region of region_size
 * bytes and describe the ring in it: 0, -EPROTO (not a ring, corrupt; a
 * message says what), -EAGAIN (no ring yet). copy is IPK__RING_VIEW_BYTES
 * long (zero past have). The only place that reads a ring header for the
 * inventory.
 */
int ipk__ring_view(void *copy, size_t have, size_t region_size,
                   const char *what, struct ipk__ringview *out);
/* How many header bytes to copy so that ipk__ring_view can judge. */
#define IPK__RING_VIEW_BYTES ((size_t)64 << 10)

/* Who a broadcast ring (src/shm/bcast.h) records: its owner words. */
#define IPK__BCASTVIEW_SLOTS 256
struct ipk__bcastview {
	bool persist;
	uint32_t nslots;
	uint64_t pub;                        /* publisher, 0 none */
	uint64_t sub[IPK__BCASTVIEW_SLOTS];  /* subscriber slots, 0 free */
};

/* Validate a copy (as ipk__ring_view) of a broadcast ring's first have
   bytes and read its records: 0 or -EPROTO (a message says what). */
int ipk__bcast_view(void *copy, size_t have, size_t region_size,
                    const char *what, struct ipk__bcastview *out);
/* IPK_PID_* of the process an owner word names (pid in *pid). */
int ipk__bcast_owner_state(uint64_t w, pid_t *pid);

/* ------------------------------------------------------------ scanners */

struct ipk__scanctx {
	struct ipk__objlist *list;
	struct ipk__procidx *procs;
	const char *kind;          /* filter, or NULL */
	const char *const *paths;  /* extra places to search */
};

bool ipk__want(const struct ipk__scanctx *c, const char *kind);

void ipk__scan_sysv(struct ipk__scanctx *c);
void ipk__scan_devshm(struct ipk__scanctx *c);
void ipk__scan_mqueue(struct ipk__scanctx *c);
void ipk__scan_files(struct ipk__scanctx *c);

/* One object each: a /dev/shm entry, a queue in the mqueue directory dfd,
   a FIFO, socket file or mmap: ring file. */
void ipk__scan_devshm_one(struct ipk__scanctx *c, const char *name);
/* Open name (relative to dfd) for reading only if it is the regular file
   seen (lstat): never a FIFO or device put there meanwhile, whose opening
   would disturb its users. The descriptor, or -1. */
struct stat;
int ipk__open_regular(int dfd, const char *name, const struct stat *seen);
/* A /dev/shm file that is ipckit's bookkeeping, not an object. */
bool ipk__devshm_internal(const char *name);
void ipk__scan_mqueue_one(struct ipk__scanctx *c, int dfd, const char *name);
void ipk__scan_files_one(struct ipk__scanctx *c, const char *path);
/* The same for the entry base of directory dfd (path only names it). */
void ipk__scan_files_at(struct ipk__scanctx *c, int dfd, const char *base,
                        const char *path);
/* Look inside a System V segment (attaching to it) to tell a ring. */
void ipk__sysvshm_look(struct ipk__obj *o);

struct ipk__owner;
enum ipk__owner_state;
/* An owner record's word on o (owner_view.c): its creator, and, while no
   process is seen holding o, whether the record decides its state (its
   listener recorded in another pid namespace: unknown; alive: live).
   true when it did; a dead listener is the caller's to tell. */
bool ipk__obj_owner_says(struct ipk__obj *o, enum ipk__owner_state owner,
                         const struct ipk__owner *rec);
/* The why of a queue whose listener's owner record (src/core/owner.h)
   names no live process: gone (also: appended), kept with ?persist, or
   left by a listener that took it over; p.messages set. */
void ipk__queue_owner_why(struct ipk__obj *o, const struct ipk__owner *rec,
                          const char *also);

/* Owner records whose object is gone (scan_records.c): all of them, or
   record file `file` of directory dfd (/dev/shm). */
/* Call one(c, dfd, name) for each entry of the directory dfd that want
   accepts ("." and ".." never); dfd stays open and unmoved. */
void ipk__scan_dir(struct ipk__scanctx *c, int dfd,
                   bool (*want)(const char *name),
                   void (*one)(struct ipk__scanctx *c, int dfd,
                               const char *name));
void ipk__scan_records(struct ipk__scanctx *c);
void ipk__scan_record_one(struct ipk__scanctx *c, int dfd, const char *file);
/* Remove the record o lists, judged again under its lock: orphan only,
   or any stale one when force. dirfd: /dev/shm opened, or -1. */
int ipk__record_remove(const struct ipk__obj *o, int dirfd, bool force);

/* Decide state and why from what the scanners recorded. */
void ipk__obj_judge(struct ipk__obj *o);

/* Look one object up by address (ipk_remove's check): 0 with *o filled,
   -ENOENT, or -EINVAL when what is there is not what the address says. */
int ipk__obj_probe(ipk__url *u, struct ipk__obj *o, int *dirfd);

/* A /dev/shm file or mmap: file looked at as a region (ring or not). */
int ipk__obj_region_file(struct ipk__obj *o, const char *path, int fd,
                         const char *scheme);

/* Fill a socket-file record: is a socket bound to it (connect probe)? */
void ipk__obj_socket_file(struct ipk__obj *o, const struct ipk__procidx *x);
/* The same, connecting through entry base of directory dfd (dfd < 0: by
   o->path). */
void ipk__obj_socket_file_at(struct ipk__obj *o, const struct ipk__procidx *x,
                             int dfd, const char *base);

/* mqueue directory fd (mounted, or a private mount), -errno. */
int ipk__mqueue_dir(char *why, size_t cap);

#endif
