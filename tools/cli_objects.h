/* The machine's IPC objects, read from /proc/sysvipc, /dev/shm, /dev/mqueue. */
#ifndef IPK_CLI_OBJECTS_H
#define IPK_CLI_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum obj_kind {
	OBJ_SYSVMQ, OBJ_SYSVSHM, OBJ_SYSVSEM, OBJ_SHM, OBJ_SEM, OBJ_MQ,
	OBJ_MUTEX, OBJ_COND, OBJ_RWLOCK, /* ipckit's named locks in /dev/shm */
	OBJ_NKINDS
};

struct ipc_object {
	enum obj_kind kind;
	char name[288];     /* key as 0x%08x, or the path */
	int id;             /* System V id, else -1 */
	unsigned mode;
	uid_t uid;
	unsigned long long size; /* bytes (queue: bytes queued) */
	long count;          /* queue: messages; shm: attachments; sem: nsems */
	pid_t pids[2];       /* creator/last attacher, last sender/receiver */
	long long changed;   /* last change time (seconds since epoch) */
};

/* Call fn for every object found; returns the number found. */
int objects_scan(void (*fn)(const struct ipc_object *, void *), void *arg);
const char *object_kind_name(enum obj_kind k);
/* An object nobody can use or nobody will: reason text, or NULL. */
const char *object_orphan_reason(const struct ipc_object *o);
bool pid_alive(pid_t pid);
/* The ipckit address that names the object (for rm), or "" if none. */
void object_url(const struct ipc_object *o, char *buf, size_t cap);

#endif
