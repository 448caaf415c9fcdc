/*
 * sysvsem: — System V semaphore sets (semget/semop).
 *
 * The init race: semget() creates a set with unspecified values and semctl()
 * sets them afterwards, so a second process could use the set in between.
 * The creator here is always the one whose semget(IPC_CREAT|IPC_EXCL)
 * succeeded; it sets every value with SETALL and then performs one semop
 * that leaves them unchanged, which makes sem_otime non-zero. A process that
 * found the set already there waits (up to ?timeout=) until sem_otime is
 * non-zero before touching it. The kernel updates sem_otime only on a
 * successful semop, and SETALL precedes that semop, so an opener that sees
 * it set sees the creator's values.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#define SEMVMX_LINUX 32767

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* kernel.sem = SEMMSL SEMMNS SEMOPM SEMMNI */
static int sem_limit(int idx)
{
	int v[4] = {32000, 1024000000, 500, 32000};
	FILE *f = fopen("/proc/sys/kernel/sem", "re");
	if (f != NULL) {
		if (fscanf(f, "%d %d %d %d", &v[0], &v[1], &v[2], &v[3]) != 4)
			v[idx] = -1;
		fclose(f);
	}
	return v[idx];
}

enum addr_kind { BY_KEY, BY_ID, PRIVATE };

struct target {
	enum addr_kind kind;
	key_t key;
	int id;
};

static int resolve(ipk__url *u, long proj, struct target *t)
{
	const char *r = u->rest;
	char *end;
	memset(t, 0, sizeof *t);
	if (strcmp(r, "private") == 0) {
		t->kind = PRIVATE;
		t->key = IPC_PRIVATE;
		return 0;
	}
	if (r[0] == '@') {
		errno = 0;
		long id = strtol(r + 1, &end, 10);
		if (r[1] == '\0' || *end != '\0' || errno || id < 0 || id > INT32_MAX)
			return ipk__err(-EINVAL, "address '%s': '@' needs a set id",
			                u->text);
		t->kind = BY_ID;
		t->id = (int)id;
		return 0;
	}
	if (r[0] == '/') {
		t->kind = BY_KEY;
		t->key = ftok(r, (int)proj);
		if (t->key == -1)
			return ipk__errno(-errno,
			                  "address '%s': ftok(%s, %ld) (the key comes from "
			                  "the file's inode; the file must exist)",
			                  u->text, r, proj);
		return 0;
	}
	if (r[0] >= '0' && r[0] <= '9') {
		errno = 0;
		unsigned long long k = strtoull(r, &end, 0);
		if (*end != '\0' || errno || k > 0xffffffffull)
			return ipk__err(-EINVAL, "address '%s': bad key '%s'", u->text, r);
		if (k == 0)
			return ipk__err(-EINVAL,
			                "address '%s': key 0 is IPC_PRIVATE; use "
			                "sysvsem:private",
			                u->text);
		t->kind = BY_KEY;
		t->key = (key_t)(uint32_t)k;
		return 0;
	}
	return ipk__err(-EINVAL,
	                "address '%s': expected sysvsem:/path, sysvsem:0xKEY, "
	                "sysvsem:@ID or sysvsem:private",
	                u->text);
}

static const char *describe(const struct target *t, char *buf, size_t cap)
{
	if (t->kind == BY_KEY)
		snprintf(buf, cap, "System V semaphore set key 0x%08x",
		         (unsigned)t->key);
	else if (t->kind == BY_ID)
		snprintf(buf, cap, "System V semaphore set id %d", t->id);
	else
		snprintf(buf, cap, "private System V semaphore set");
	return buf;
}

static int semget_failed(const struct target *t, int err, long n)
{
	char what[80];
	describe(t, what, sizeof what);
	switch (err) {
	case ENOENT:
		return ipk__err(-ENOENT, "no %s (create it first)", what);
	case EEXIST:
		return ipk__err(-EEXIST, "%s already exists", what);
	case EINVAL:
		if (n > sem_limit(0))
			return ipk__err(-EINVAL, "%s: n=%ld exceeds kernel.sem SEMMSL=%d",
			                what, n, sem_limit(0));
		return ipk__err(-EINVAL, "%s exists with fewer than n=%ld semaphores",
		                what, n);
	case ENOSPC:
		return ipk__err(-ENOSPC,
		                "%s: system limit on semaphore sets (kernel.sem "
		                "SEMMNI=%d) or semaphores (SEMMNS=%d) reached",
		                what, sem_limit(3), sem_limit(1));
	default:
		return ipk__errno(-err, "semget %s", what);
	}
}

/* The creator: values first, then one semop that makes sem_otime non-zero. */
static int initialise(int id, int nsems, long value)
{
	unsigned short *vals = calloc((size_t)nsems, sizeof *vals);
	if (vals == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	for (int i = 0; i < nsems; i++)
		vals[i] = (unsigned short)value;
	union semun arg = {.array = vals};
	int rc = semctl(id, 0, SETALL, arg);
	free(vals);
	if (rc < 0)
		return ipk__errno(-errno, "initialise semaphore set %d", id);
	struct sembuf up = {0, 1, IPC_NOWAIT}, down = {0, -1, IPC_NOWAIT};
	struct sembuf ops[2];
	ops[0] = value > 0 ? down : up; /* never leaves 0..SEMVMX in between */
	ops[1] = value > 0 ? up : down;
	if (semop(id, ops, 2) < 0)
		return ipk__errno(-errno, "publish semaphore set %d", id);
	return 0;
}

/* 1 if initialised, 0 if not yet, -errno if the set is gone. */
static int stat_set(int id, struct semid_ds *ds)
{
	union semun arg = {.buf = ds};
	if (semctl(id, 0, IPC_STAT, arg) < 0)
		return -errno;
	return ds->sem_otime != 0;
}

/* Options and target of an address: open and remove read it alike. */
static int parse(ipk__url *u, struct ipk__sync_opts *o, struct target *t)
{
	static const char *const accepted[] = {"mode", "value", "n", "proj",
	                                       "undo", "timeout", NULL};
	int rc = ipk__sync_opts(u, accepted, o);
	if (rc < 0)
		return rc;
	return resolve(u, o->proj, t);
}

int ipk__ssem_open(ipk_sem *s, ipk__url *u, int flags, int initial)
{
	struct ipk__sync_opts o;
	struct target t;
	char what[80];
	int rc = parse(u, &o, &t);
	if (rc < 0)
		return rc;
	describe(&t, what, sizeof what);
	long value = o.has_value ? o.value : initial;
	if (value > SEMVMX_LINUX)
		return ipk__err(-EINVAL, "address '%s': value %ld exceeds SEMVMX=%d",
		                u->text, value, SEMVMX_LINUX);
	bool create = flags & IPK_SYNC_CREATE;
	if (t.kind == PRIVATE && !create)
		return ipk__err(-EINVAL,
		                "address '%s': a private set is always new: pass "
		                "IPK_SYNC_CREATE (or open it by id, sysvsem:@ID)",
		                u->text);
	if (t.kind == BY_ID && create && (flags & IPK_SYNC_EXCL))
		return ipk__err(-EEXIST, "%s already exists (an id names an "
		                "existing set)", what);
	s->undo = o.undo && !(flags & IPK_SYNC_NOUNDO);
	s->key = t.key;
	int64_t deadline = ipk__deadline((int)o.open_wait_ms);
	int n = o.nsems ? (int)o.nsems : 1;

	for (;;) {
		int id = -1;
		if (t.kind == BY_ID) {
			id = t.id;
		} else if (create) {
			id = semget(t.key, n, IPC_CREAT | IPC_EXCL | (int)o.mode);
			if (id >= 0) {
				rc = initialise(id, n, value);
				if (rc < 0) {
					semctl(id, 0, IPC_RMID);
					return rc;
				}
				s->id = id;
				s->nsems = n;
				s->created = true;
				return 0;
			}
			if (errno != EEXIST || t.kind == PRIVATE ||
			    (flags & IPK_SYNC_EXCL))
				return semget_failed(&t, errno, n);
		}
		if (id < 0) {
			id = semget(t.key, 0, 0);
			if (id < 0) {
				if (errno == ENOENT && create)
					continue; /* removed since: create it after all */
				return semget_failed(&t, errno, n);
			}
		}
		/* opened an existing set: wait until its creator has published it */
		struct semid_ds ds;
		unsigned round = 0;
		while ((rc = stat_set(id, &ds)) == 0) {
			if (ipk__expired(deadline))
				return ipk__err(
				        deadline == IPK__NOW ? -EAGAIN : -ETIMEDOUT,
				        "%s (id %d) exists but was never initialised: its "
				        "creator died before finishing, or a program that "
				        "does not publish its sets made it. Remove it with "
				        "'ipckit sem rm sysvsem:@%d' (or ipcrm -s %d)",
				        what, id, id, id);
			ipk__backoff(&round, deadline);
		}
		if (rc == -EIDRM || rc == -EINVAL) {
			if (create && t.kind == BY_KEY)
				continue; /* removed while we waited: start over */
			return ipk__err(-ENOENT, "no %s (removed?)", what);
		}
		if (rc < 0)
			return ipk__errno(rc, "stat %s", what);
		if (o.nsems > (long)ds.sem_nsems)
			return ipk__err(-EINVAL, "%s has %lu semaphores, n=%ld asked for",
			                what, (unsigned long)ds.sem_nsems, o.nsems);
		s->id = id;
		s->nsems = (int)ds.sem_nsems;
		return 0;
	}
}

static int op_failed(ipk_sem *s, int err, size_t n, int64_t deadline)
{
	switch (err) {
	case EAGAIN:
		if (deadline == IPK__NOW)
			return ipk__err(-EAGAIN,
			                "System V semaphore set %d: the operation would "
			                "block",
			                s->id);
		return ipk__err(-ETIMEDOUT,
		                "timed out waiting on System V semaphore set %d",
		                s->id);
	case EIDRM:
	case EINVAL:
		return ipk__err(-EIDRM, "System V semaphore set %d was removed", s->id);
	case ERANGE:
		return ipk__err(-ERANGE,
		                "System V semaphore set %d: the value or this "
		                "process's undo adjustment would pass SEMVMX=%d "
		                "(signalling semaphores should use ?undo=0)",
		                s->id, SEMVMX_LINUX);
	case E2BIG:
		return ipk__err(-E2BIG, "%zu operations exceed kernel.sem SEMOPM=%d",
		                n, sem_limit(2));
	case ENOSPC:
		return ipk__err(-ENOSPC, "no memory for the undo structure "
		                "(kernel.sem SEMMNU)");
	default:
		return ipk__errno(-err, "semop on System V semaphore set %d", s->id);
	}
}

int ipk__ssem_op(ipk_sem *s, const ipk_semop *ops, size_t n, int64_t deadline)
{
	if (n == 0)
		return 0;
	struct sembuf stack[16];
	struct sembuf *sb = stack;
	if (n > IPK__ARRAY_LEN(stack)) {
		if (n > 65536)
			return op_failed(s, E2BIG, n, deadline);
		sb = calloc(n, sizeof *sb);
		if (sb == NULL)
			return ipk__err(-ENOMEM, "out of memory");
	}
	bool posts = false, waits = false;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].num >= s->nsems) {
			rc = ipk__err(-EFBIG,
			              "semaphore %u is past the end of System V set %d "
			              "(%d semaphores)",
			              ops[i].num, s->id, s->nsems);
			goto out;
		}
		if (ops[i].flags & ~(IPK_SEMOP_UNDO | IPK_SEMOP_NOUNDO)) {
			rc = ipk__err(-EINVAL, "ipk_semset_op: unknown flags 0x%x",
			              (unsigned)ops[i].flags);
			goto out;
		}
		bool undo = s->undo;
		if (ops[i].flags & IPK_SEMOP_NOUNDO)
			undo = false;
		if (ops[i].flags & IPK_SEMOP_UNDO)
			undo = true;
		sb[i].sem_num = ops[i].num;
		sb[i].sem_op = ops[i].op;
		sb[i].sem_flg = (short)((undo ? SEM_UNDO : 0) |
		                        (deadline == IPK__NOW ? IPC_NOWAIT : 0));
		posts |= ops[i].op > 0;
		waits |= ops[i].op <= 0;
	}
	if (posts)
		IPK__TSAN_RELEASE((uint64_t)s->id);
	for (;;) {
		int r;
		if (deadline == IPK__NOW || deadline == IPK__NEVER) {
			r = semop(s->id, sb, n);
		} else {
			int64_t left = deadline - ipk__now_ns();
			if (left <= 0) {
				rc = op_failed(s, EAGAIN, n, deadline);
				goto out;
			}
			struct timespec ts = {left / 1000000000, left % 1000000000};
			r = semtimedop(s->id, sb, n, &ts);
		}
		if (r == 0)
			break;
		if (errno == EINTR ||
		    (errno == EAGAIN && deadline != IPK__NOW && !ipk__expired(deadline)))
			continue; /* the time left is recomputed */
		rc = op_failed(s, errno, n, deadline);
		goto out;
	}
	if (waits)
		IPK__TSAN_ACQUIRE((uint64_t)s->id);
out:
	if (sb != stack)
		free(sb);
	return rc;
}

int ipk__ssem_unlink(ipk_sem *s)
{
	if (semctl(s->id, 0, IPC_RMID) < 0) {
		if (errno == EINVAL || errno == EIDRM)
			return ipk__err(-ENOENT,
			                "System V semaphore set %d no longer exists", s->id);
		return ipk__errno(-errno, "remove System V semaphore set %d", s->id);
	}
	return 0;
}

int ipk__ssem_remove(ipk__url *u)
{
	struct ipk__sync_opts o;
	struct target t;
	char what[80];
	int rc = parse(u, &o, &t);
	if (rc < 0)
		return rc;
	if (t.kind == PRIVATE)
		return ipk__err(-EINVAL,
		                "address '%s': a private set has no name; remove it "
		                "by id (sysvsem:@ID)",
		                u->text);
	int id = t.id;
	if (t.kind == BY_KEY && (id = semget(t.key, 0, 0)) < 0)
		return semget_failed(&t, errno, 0);
	ipk_sem s = {.kind = IPK__SEM_SYSV, .id = id};
	rc = ipk__ssem_unlink(&s);
	if (rc == -ENOENT)
		return ipk__err(-ENOENT, "no %s", describe(&t, what, sizeof what));
	return rc;
}

/* ------------------------------------------------------ public set API */

static int need_sysv(const ipk_sem *s, const char *fn)
{
	if (s == NULL)
		return ipk__err(-EINVAL, "%s: semaphore is NULL", fn);
	if (s->kind != IPK__SEM_SYSV)
		return ipk__err(-EOPNOTSUPP, "%s: only System V sets (sysvsem:) "
		                "have this", fn);
	return 0;
}

int ipk_semset_op(ipk_sem *s, const ipk_semop *ops, size_t n, int timeout_ms)
{
	int rc = need_sysv(s, "ipk_semset_op");
	if (rc < 0)
		return rc;
	if (ops == NULL && n > 0)
		return ipk__err(-EINVAL, "ipk_semset_op: ops is NULL");
	return ipk__ssem_op(s, ops, n, ipk__deadline(timeout_ms));
}

int ipk_semset_count(const ipk_sem *s)
{
	if (s == NULL)
		return ipk__err(-EINVAL, "ipk_semset_count: semaphore is NULL");
	return s->kind == IPK__SEM_SYSV ? s->nsems : 1;
}

static int check_num(const ipk_sem *s, unsigned num)
{
	if (num >= (unsigned)s->nsems)
		return ipk__err(-EFBIG,
		                "semaphore %u is past the end of System V set %d "
		                "(%d semaphores)",
		                num, s->id, s->nsems);
	return 0;
}

static int ctl_failed(const ipk_sem *s, const char *what)
{
	if (errno == EINVAL || errno == EIDRM)
		return ipk__err(-EIDRM, "System V semaphore set %d was removed", s->id);
	return ipk__errno(-errno, "%s of System V semaphore set %d", what, s->id);
}

int ipk_semset_get(ipk_sem *s, unsigned num)
{
	if (s != NULL && s->kind != IPK__SEM_SYSV) {
		if (num != 0)
			return ipk__err(-EFBIG, "a POSIX semaphore has only number 0");
		return ipk__psem_value(s);
	}
	int rc = need_sysv(s, "ipk_semset_get");
	if (rc < 0 || (rc = check_num(s, num)) < 0)
		return rc;
	int v = semctl(s->id, (int)num, GETVAL);
	return v < 0 ? ctl_failed(s, "GETVAL") : v;
}

int ipk_semset_set(ipk_sem *s, unsigned num, int value)
{
	int rc = need_sysv(s, "ipk_semset_set");
	if (rc < 0 || (rc = check_num(s, num)) < 0)
		return rc;
	if (value < 0 || value > SEMVMX_LINUX)
		return ipk__err(-EINVAL, "value %d is out of range 0..SEMVMX=%d",
		                value, SEMVMX_LINUX);
	union semun arg = {.val = value};
	if (value > 0)
		IPK__TSAN_RELEASE((uint64_t)s->id);
	if (semctl(s->id, (int)num, SETVAL, arg) < 0)
		return ctl_failed(s, "SETVAL");
	return 0;
}

int ipk_semset_waiters(ipk_sem *s, unsigned num, int *ndec, int *nzero)
{
	int rc = need_sysv(s, "ipk_semset_waiters");
	if (rc < 0 || (rc = check_num(s, num)) < 0)
		return rc;
	int a = semctl(s->id, (int)num, GETNCNT);
	int b = a < 0 ? -1 : semctl(s->id, (int)num, GETZCNT);
	if (a < 0 || b < 0)
		return ctl_failed(s, "GETNCNT");
	if (ndec)
		*ndec = a;
	if (nzero)
		*nzero = b;
	return 0;
}

int ipk_semset_id(const ipk_sem *s)
{
	int rc = need_sysv(s, "ipk_semset_id");
	return rc < 0 ? rc : s->id;
}
