/*
 * Owner records: who listens on a named kernel object that keeps no owner
 * of its own.
 *
 * A System V queue knows its creator's uid but not its pid, and a POSIX
 * queue knows nothing but its file's owner, so nothing in the kernel says
 * whether the listener that made one is still running. An ipckit listener
 * writes a record {pid, process start time, uid, persist, which instance}
 * beside the object, in a file that survives it:
 *
 *     /dev/shm/.ipk-owner.<ipc namespace>.<uid>.<kind>.<name>
 *
 * (a dot file: ls-style scans of /dev/shm skip it; tmpfs: gone at reboot,
 * like the queues; one per IPC namespace, like the queues). The uid in the
 * name is the object's creator as the kernel reports it, and a record is
 * believed only from a file that uid owns, so nobody can speak for another
 * user's queue. Liveness is proven by pid plus start time (a recycled pid
 * is another process), never guessed.
 *
 * Users: the sysvmq: and mq: transports (take over a dead owner's queue,
 * refuse a live one's), and the inventory (ls shows whether a queue's owner
 * lives; gc never removes a queue whose owner lives or that was kept on
 * purpose with ?persist).
 */
#ifndef IPK_CORE_OWNER_H
#define IPK_CORE_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The object is being created: the record claims the name first. */
#define IPK__OWNER_PENDING UINT64_MAX

struct ipk__owner {
	pid_t pid;       /* 0: the owner closed it and left it in place (?persist,
	                    or a taken-over queue with messages in it) */
	uint64_t start;  /* pid's start time (ticks since boot), 0 if unknown */
	uid_t uid;       /* the owner's effective uid */
	bool persist;    /* the owner keeps the object when it closes */
	uint64_t object; /* which instance: msqid (sysvmq), inode (mq), or
	                    IPK__OWNER_PENDING */
	uint64_t pidns;  /* inode of the pid namespace pid belongs to; 0: not
	                    recorded (a record of an older version) */
};

/* The calling process's pid namespace inode (0 if /proc cannot say). */
uint64_t ipk__pid_ns(void);
/* The same of its mount namespace (where a recorded path means what). */
uint64_t ipk__mnt_ns(void);
/* Was the record's pid written in another pid namespace than ours? Such a
   pid cannot be judged here (ipk__owner_alive counts it alive). */
bool ipk__owner_foreign(const struct ipk__owner *o);

enum ipk__owner_state {
	IPK__OWNER_NONE,  /* no record for this instance: not made by an ipckit
	                     listener, or its record is lost */
	IPK__OWNER_ALIVE, /* the recorded owner is running */
	IPK__OWNER_DEAD,  /* the recorded owner is provably gone */
};

/*
 * What is known of the owner of instance `object` (IPK__OWNER_PENDING: any)
 * of kind/name ("sysvmq" and "0x66001234", "mq" and "/jobs") created by
 * uid. Fills *o when a record exists (the caller may show persist, pid).
 */
enum ipk__owner_state ipk__owner_check(const char *kind, const char *name,
                                       uid_t uid, uint64_t object,
                                       struct ipk__owner *o);

/* Read the record: 1 found, 0 none (or not believable), < 0 error. */
int ipk__owner_read(const char *kind, const char *name, uid_t uid,
                    struct ipk__owner *o);

/* Is the process that wrote the record still running? */
bool ipk__owner_alive(const struct ipk__owner *o);

/*
 * A claim: the calling user's record of kind/name, locked so that two
 * listeners never decide at once. Lock, read, decide, set, unlock.
 */
typedef struct ipk__owner_claim {
	int fd; /* -1: no record can be kept (no /dev/shm, not ours, ...) */
	uid_t uid; /* whose record: the file's owner, and the record's uid */
	uint64_t name_hash;
	char path[320];
} ipk__owner_claim;

/*
 * Take the calling user's record of kind/name, waiting a little if another
 * listener holds it. 0 with cl->fd >= 0, or < 0 with cl->fd = -1 (the
 * caller goes on without a record: its object works, but will not be taken
 * over if it dies).
 */
int ipk__owner_lock(ipk__owner_claim *cl, const char *kind, const char *name);
/* The record under the claim: 1 found (*o), 0 none, < 0 error. */
int ipk__owner_get(ipk__owner_claim *cl, struct ipk__owner *o);
/* Record the calling process as the owner of instance object. */
int ipk__owner_set(ipk__owner_claim *cl, bool persist, uint64_t object);
/* Write any record (tests use it to stage a recycled pid). */
int ipk__owner_write(ipk__owner_claim *cl, const struct ipk__owner *o);
/*
 * The same, for an object that is a file: where it is (an absolute path
 * without symbolic links) and the mount namespace that path is in go on
 * one more line, so that the record can be told from one whose file was
 * removed behind ipckit's back (ipk__owner_sweep). ipk__owner_write
 * rewrites the head and leaves that line.
 */
int ipk__owner_set_at(ipk__owner_claim *cl, bool persist, uint64_t object,
                      const char *where);
/* Remove the record (the object is gone). */
int ipk__owner_drop(ipk__owner_claim *cl);
void ipk__owner_unlock(ipk__owner_claim *cl);

/*
 * The owner closes and keeps the object (?persist): the record stays, with
 * its persist flag, but names no process any more, so the next listener may
 * take it over at once, even while this process runs on.
 */
void ipk__owner_release(const char *kind, const char *name, uint64_t object);

/*
 * The object was removed: drop uid's record of kind/name if it is about
 * instance object (IPK__OWNER_PENDING: whichever). Best effort.
 */
void ipk__owner_forget(const char *kind, const char *name, uid_t uid,
                       uint64_t object);

/* The path of uid's record of kind/name (for a name too long to spell
   there, a hash names it). 0, or -ENAMETOOLONG. Callers that look for
   records of names sharing a prefix list OWNER_DIR with this. */
int ipk__owner_path(char *buf, size_t cap, const char *kind, const char *name,
                    uid_t uid);

/*
 * Record files, for the inventory: what a file name in OWNER_DIR
 * (/dev/shm) says, for this IPC namespace's records only.
 */
struct ipk__owner_file {
	uid_t uid;          /* whose record (the file must be theirs) */
	char kind[16];      /* "sysvmq", "mq", "fifo", "sock", ... */
	char name[256];     /* decoded; "" when hashed */
	bool hashed;        /* the name was too long: only its hash is known */
	uint64_t name_hash;
};
/* 1 when file (a name in /dev/shm) is a record file of this IPC
   namespace, with its parts; 0 otherwise. */
int ipk__owner_file_parse(const char *file, struct ipk__owner_file *f);
/* Read the record in fd (opened from that file): 1 with *o, and for a
   file's record where it was (where[0] = 0: not recorded) and *mntns;
   0 none or not believable; < 0 error. */
int ipk__owner_file_read(int fd, const struct ipk__owner_file *f,
                         struct ipk__owner *o, char *where, size_t cap,
                         uint64_t *mntns);
/*
 * Remove record file `file` of directory dfd (OWNER_DIR) if it is still
 * the file dev/ino and stale() says so of what it holds now, read under
 * the record's lock (found: as ipk__owner_file_read). 0 removed,
 * -ESTALE (another file has the name), -EBUSY (not stale now, or locked
 * by a listener for 2 s), -errno.
 */
int ipk__owner_sweep(int dfd, const char *file, uint64_t dev, uint64_t ino,
                     bool (*stale)(void *arg, const struct ipk__owner_file *f,
                                   int found, const struct ipk__owner *rec,
                                   const char *where, uint64_t mntns),
                     void *arg);

/*
 * Does a listener's close leave its queue or ring in place? The one rule
 * (docs/channels.md, "Ownership and cleanup"): an object kept with
 * ?persist stays, whoever opened it and with whatever address; one the
 * listener took over from a listener that died stays while it still holds
 * unread messages (unread < 0: cannot tell, so it stays); one the listener
 * created itself goes, messages and all.
 */
bool ipk__owner_keeps(bool persist, bool adopted, long unread);

/* The calling process as an owner record (pid, start time, euid). */
void ipk__owner_self(struct ipk__owner *o, bool persist, uint64_t object);

#endif
