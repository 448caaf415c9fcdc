/*
 * System V queues, segments and semaphore sets, from /proc/sysvipc (which
 * every user may read), with the kernel's own use counts and pids.
 */
#define _GNU_SOURCE
#include "objects.h"
#include "../shm/bcast.h"
#include "../core/owner.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#ifndef SHM_DEST
#define SHM_DEST 01000
#endif

/* The semctl(2) argument callers must define themselves. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static void address(struct ipk__obj *o, const char *scheme, unsigned key,
                    long id)
{
	if (key != 0)
		snprintf(o->address, sizeof o->address, "%s:0x%08x", scheme, key);
	else {
		snprintf(o->address, sizeof o->address, "%s:@%ld", scheme, id);
		snprintf(o->detail, sizeof o->detail, "private");
	}
}

static const char *pid_word(int state)
{
	return state == IPK_PID_ALIVE  ? "alive"
	       : state == IPK_PID_DEAD ? "gone"
	                               : "cannot tell";
}

/* --------------------------------------------------------------- queues */

static void one_queue(struct ipk__scanctx *c, const char *line)
{
	long long key, cbytes, qnum, stime, rtime, ctime;
	long id;
	unsigned perms, uid, gid, cuid, cgid;
	int lspid, lrpid;
	if (sscanf(line, "%lld %ld %o %lld %lld %d %d %u %u %u %u %lld %lld %lld",
	           &key, &id, &perms, &cbytes, &qnum, &lspid, &lrpid, &uid, &gid,
	           &cuid, &cgid, &stime, &rtime, &ctime) != 14)
		return;
	struct ipk__obj *o = ipk__obj_add(c->list, "sysvmq");
	if (o == NULL)
		return;
	ipk_object *p = &o->pub;
	p->key = (long)(uint32_t)key;
	p->id = id;
	p->mode = perms & 0777;
	p->uid = uid;
	p->gid = gid;
	p->messages = qnum;
	p->bytes = cbytes;
	p->size = (uint64_t)cbytes;
	p->changed = ctime;
	o->cuid = cuid;
	address(o, "sysvmq", (uint32_t)key, id);
	snprintf(o->use, sizeof o->use, "%lld msgs, %lld B", qnum, cbytes);
	/* the listener's owner record (src/core/owner.h) */
	char name[16];
	snprintf(name, sizeof name, "0x%08x", (unsigned)(uint32_t)key);
	struct ipk__owner rec;
	enum ipk__owner_state owner =
		key != 0 ? ipk__owner_check("sysvmq", name, cuid, (uint64_t)id, &rec)
		         : IPK__OWNER_NONE;
	/* the last to operate: the later of last send and last receive */
	bool send_last = stime >= rtime;
	p->last.pid = send_last ? lspid : lrpid;
	p->last.state = ipk__pid_state(p->last.pid, 0, send_last ? stime : rtime);
	int s_state = ipk__pid_state(lspid, 0, stime);
	int r_state = ipk__pid_state(lrpid, 0, rtime);
	if (owner != IPK__OWNER_NONE)
		p->persist = rec.persist ? 1 : 0;
	/* an ipckit listener's record decides: the queue is its mailbox */
	if (ipk__obj_owner_says(o, owner, &rec)) {
		/* in another pid namespace, or alive */
	} else if (owner == IPK__OWNER_DEAD) {
		p->state = IPK_OBJ_ORPHAN;
		ipk__queue_owner_why(o, &rec, "");
	} else if (s_state == IPK_PID_ALIVE || r_state == IPK_PID_ALIVE) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why, "its last %s, pid %d, is alive",
		         s_state == IPK_PID_ALIVE ? "sender" : "receiver",
		         s_state == IPK_PID_ALIVE ? lspid : lrpid);
	} else {
		p->state = IPK_OBJ_UNKNOWN;
		snprintf(o->why, sizeof o->why,
		         "no ipckit listener recorded as its owner: a process may "
		         "still wait on it");
	}
	ipk__obj_judge(o);
}

/* ------------------------------------------------------------- segments */

/*
 * Attaching to a segment makes us its last user (shm_lpid). So that a
 * program that scans twice does not take itself for a live user, remember
 * whom the kernel named before we looked.
 */
static struct looked {
	long id;
	int lpid;
	int64_t when;
} looked[64];
static unsigned nlooked;
static pthread_mutex_t looked_lock = PTHREAD_MUTEX_INITIALIZER;

static void remember_look(long id, int lpid, int64_t when)
{
	pthread_mutex_lock(&looked_lock);
	looked[nlooked++ % IPK__ARRAY_LEN(looked)] = (struct looked){id, lpid, when};
	pthread_mutex_unlock(&looked_lock);
}

/* The last user before we looked, if the kernel names us. */
static void last_before_us(long id, int *lpid, int64_t *when)
{
	if (*lpid != (int)getpid())
		return;
	pthread_mutex_lock(&looked_lock);
	for (unsigned i = 0; i < IPK__ARRAY_LEN(looked) && i < nlooked; i++)
		if (looked[i].id == id) {
			*lpid = looked[i].lpid;
			*when = looked[i].when;
		}
	pthread_mutex_unlock(&looked_lock);
}

/* Read a segment's first bytes to tell a ring from a plain region. Only
   for segments nobody is attached to. */
static void look_inside(struct ipk__obj *o, int id, uint64_t size,
                        int64_t lwhen)
{
	remember_look(id, o->pub.last.pid, lwhen);
	void *p = shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return;
	size_t have = size < IPK__RING_VIEW_BYTES ? (size_t)size
	                                          : IPK__RING_VIEW_BYTES;
	void *copy = calloc(1, IPK__RING_VIEW_BYTES); /* zero past have */
	if (copy) {
		memcpy(copy, p, have);
		struct ipk__ringview v;
		char what[64];
		snprintf(what, sizeof what, "segment %d", id);
		if (ipk__ring_view(copy, have, (size_t)size, what, &v) == 0) {
			o->is_ring = true;
			snprintf(o->detail, sizeof o->detail, "%s%s",
			         v.mpmc ? "ring mpmc" : "ring",
			         o->pub.key == 0 ? " private" : "");
			o->pub.bytes = (int64_t)v.used;
			o->pub.persist = v.persist < 0 ? 0 : v.persist;
		} else if (ipk__bcast_is(copy, have)) {
			/* publish/subscribe on sysvshm: (src/shm/bcast.h) */
			o->is_ring = true;
			o->pub.persist = (((const struct ipk__bcast_hdr *)copy)->flags &
			                  IPK__BCAST_F_PERSIST) != 0;
			snprintf(o->detail, sizeof o->detail, "broadcast ring%s",
			         o->pub.key == 0 ? " private" : "");
		} else {
			o->plain = true;
			o->pub.persist = 0;
			snprintf(o->detail, sizeof o->detail, "region%s",
			         o->pub.key == 0 ? " private" : "");
			size_t n = strlen(o->address);
			snprintf(o->address + n, sizeof o->address - n, "?region");
		}
		free(copy);
	}
	shmdt(p);
}

void ipk__sysvshm_look(struct ipk__obj *o)
{
	if (!o->is_ring && !o->plain)
		look_inside(o, (int)o->pub.id, o->pub.size, 0);
}

static void one_segment(struct ipk__scanctx *c, const char *line)
{
	long long key, size, atime, dtime, ctime;
	long id, nattch;
	unsigned perms, uid, gid, cuid, cgid;
	int cpid, lpid;
	if (sscanf(line,
	           "%lld %ld %o %lld %d %d %ld %u %u %u %u %lld %lld %lld", &key,
	           &id, &perms, &size, &cpid, &lpid, &nattch, &uid, &gid, &cuid,
	           &cgid, &atime, &dtime, &ctime) != 14)
		return;
	struct ipk__obj *o = ipk__obj_add(c->list, "sysvshm");
	if (o == NULL)
		return;
	ipk_object *p = &o->pub;
	p->key = (long)(uint32_t)key;
	p->id = id;
	p->mode = perms & 0777;
	p->uid = uid;
	p->gid = gid;
	p->size = (uint64_t)size;
	p->attached = nattch;
	p->changed = ctime;
	o->ino = (uint64_t)id;
	address(o, "sysvshm", (uint32_t)key, id);
	snprintf(o->use, sizeof o->use, "%ld attached", nattch);
	p->creator.pid = cpid;
	p->creator.state = ipk__pid_state(cpid, 0, ctime);
	int64_t lwhen = atime > dtime ? atime : dtime;
	last_before_us(id, &lpid, &lwhen);
	p->last.pid = lpid;
	p->last.state = ipk__pid_state(lpid, 0, lwhen);
	ipk__procidx_holders(c->procs, HOLD_SYSV, 0, (uint64_t)id, o);
	if (perms & SHM_DEST) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why,
		         "already removed: goes when the last of %ld detaches",
		         nattch);
		snprintf(o->detail, sizeof o->detail, "removed");
	} else if (nattch > 0) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why, "%ld process%s attached", nattch,
		         nattch == 1 ? "" : "es");
	} else if (p->creator.state == IPK_PID_ALIVE ||
	           p->last.state == IPK_PID_ALIVE) {
		bool cr = p->creator.state == IPK_PID_ALIVE;
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why,
		         "nobody attached, but its %s, pid %d, is alive",
		         cr ? "creator" : "last user", cr ? cpid : lpid);
	} else if (p->creator.state == IPK_PID_UNKNOWN ||
	           p->last.state == IPK_PID_UNKNOWN) {
		p->state = IPK_OBJ_UNKNOWN;
		snprintf(o->why, sizeof o->why,
		         "nobody attached; creator %s, last user %s",
		         pid_word(p->creator.state), pid_word(p->last.state));
	} else {
		look_inside(o, (int)id, (uint64_t)size, lwhen);
		p->state = IPK_OBJ_ORPHAN;
		snprintf(o->why, sizeof o->why,
		         "nobody attached, creator and last user gone");
	}
	ipk__obj_judge(o);
}

/* ------------------------------------------------------- semaphore sets */

static void one_semset(struct ipk__scanctx *c, const char *line)
{
	long long key, nsems, otime, ctime;
	long id;
	unsigned perms, uid, gid, cuid, cgid;
	if (sscanf(line, "%lld %ld %o %lld %u %u %u %u %lld %lld", &key, &id,
	           &perms, &nsems, &uid, &gid, &cuid, &cgid, &otime, &ctime) != 10)
		return;
	struct ipk__obj *o = ipk__obj_add(c->list, "sysvsem");
	if (o == NULL)
		return;
	ipk_object *p = &o->pub;
	p->key = (long)(uint32_t)key;
	p->id = id;
	p->mode = perms & 0777;
	p->uid = uid;
	p->gid = gid;
	p->count = nsems;
	p->changed = ctime;
	address(o, "sysvsem", (uint32_t)key, id);
	int64_t since = otime > ctime ? otime : ctime;
	int waiting = 0, alive_pid = 0, pids = 0, unknown = 0;
	bool readable = true;
	char vals[64] = "";
	size_t off = 0;
	for (long long i = 0; i < nsems && readable; i++) {
		int v = semctl((int)id, (int)i, GETVAL);
		int pid = semctl((int)id, (int)i, GETPID);
		int nc = semctl((int)id, (int)i, GETNCNT);
		int zc = semctl((int)id, (int)i, GETZCNT);
		if (v < 0 || pid < 0 || nc < 0 || zc < 0) {
			readable = false;
			break;
		}
		if (i == 0)
			p->value = v;
		if (off < sizeof vals - 8)
			off += (size_t)snprintf(vals + off, sizeof vals - off, "%s%d",
			                        i ? "," : "", v);
		waiting += nc + zc;
		if (pid > 0) {
			pids++;
			int st = ipk__pid_state(pid, 0, since);
			if (p->last.pid == 0 || st == IPK_PID_ALIVE) {
				p->last.pid = pid;
				p->last.state = st;
			}
			if (st == IPK_PID_ALIVE)
				alive_pid = pid;
			else if (st == IPK_PID_UNKNOWN)
				unknown++;
		}
	}
	snprintf(o->use, sizeof o->use, "%lld sem%s%s%s", nsems,
	         nsems == 1 ? "" : "s", readable ? ", values " : "",
	         readable ? vals : "");
	if (!readable) {
		p->state = IPK_OBJ_UNKNOWN;
		snprintf(o->why, sizeof o->why,
		         "no permission to read its values and pids");
	} else if (waiting > 0) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why, "%d process%s waiting on it",
		         waiting, waiting == 1 ? "" : "es");
	} else if (alive_pid) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why,
		         "pid %d, which operated on it last, is alive", alive_pid);
	} else if (pids == 0 || unknown) {
		p->state = IPK_OBJ_UNKNOWN;
		snprintf(o->why, sizeof o->why, "%s",
		         pids == 0 ? "never operated on: nothing records who uses it"
		                   : "cannot tell whether its last users are alive");
	} else {
		/* nobody uses it now, but its values are its state (a token
		   count, a flag): a set stays until removed (docs/sync.md), so
		   gc keeps it; rm removes it */
		p->state = IPK_OBJ_ORPHAN;
		p->persist = -1;
		snprintf(o->why, sizeof o->why,
		         "nobody waits on it and every process that operated on it "
		         "last is gone");
	}
	ipk__obj_judge(o);
}

static void scan_file(struct ipk__scanctx *c, const char *file,
                      void (*one)(struct ipk__scanctx *, const char *))
{
	FILE *f = fopen(file, "re");
	if (f == NULL) {
		ipk__obj_note(c->list, "cannot read %s: %s", file, strerror(errno));
		return;
	}
	char *line = NULL;
	size_t cap = 0;
	bool header = true;
	while (getline(&line, &cap, f) > 0) {
		if (header) {
			header = false;
			continue;
		}
		one(c, line);
	}
	free(line);
	fclose(f);
}

void ipk__scan_sysv(struct ipk__scanctx *c)
{
	if (ipk__want(c, "sysvmq"))
		scan_file(c, "/proc/sysvipc/msg", one_queue);
	if (ipk__want(c, "sysvshm"))
		scan_file(c, "/proc/sysvipc/shm", one_segment);
	if (ipk__want(c, "sysvsem"))
		scan_file(c, "/proc/sysvipc/sem", one_semset);
}
