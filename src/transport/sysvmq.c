/*
 * sysvmq: — a System V message queue (msgget/msgsnd/msgrcv).
 *
 * The payload is exactly the bytes after mtype, so plain msgsnd/msgrcv
 * programs and other libraries are peers. The queue is a mailbox: both ends
 * may send and receive, selecting by type as msgrcv(2) does.
 *
 * msgrcv/msgsnd have no timeout. A wait without limit blocks in the kernel;
 * a timed wait polls with IPC_NOWAIT, sleeping 20 us doubling to 1 ms between
 * tries, 2 ms after ~0.1 s and 5 ms after ~1 s of waiting (bench/queue_wait.c
 * measures what that costs). The alternatives were rejected: a timer signal
 * that interrupts the call needs a signal number and handler taken from the
 * application, and a helper thread blocked in msgrcv cannot be stopped
 * without a signal either, while it would take messages off the queue that
 * nobody asked for.
 *
 * The kernel gives no descriptor to poll, so ipk_fd() starts a helper thread
 * that watches the queue's message count (IPC_STAT, never taking anything)
 * and keeps an eventfd readable while the queue holds messages.
 */
#define _GNU_SOURCE
#include "queue_util.h"
#include "../core/owner.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MSGMAX_PATH "/proc/sys/kernel/msgmax"
#define MSGMNB_PATH "/proc/sys/kernel/msgmnb"
#define MSGMNI_PATH "/proc/sys/kernel/msgmni"

struct mbuf {
	long mtype;
	char mtext[];
};

struct watch {
	pthread_t th;
	pthread_mutex_t mu;
	int efd;    /* given to the user: readable while messages are queued */
	int stop;   /* eventfd that ends the thread */
	int id;
	bool ready; /* efd holds a count */
	pid_t pid;  /* process the thread runs in */
};

struct sysvmq_chan {
	key_t key;
	int id;
	int by_id;      /* "sysvmq:@ID": that queue (its key may be private) */
	bool can_read, can_write;
	long def_type;  /* ?type= */
	int def_flags;  /* ?except, ?noerror as IPK_MSG_* */
	size_t msgmax;  /* kernel.msgmax, read again when a message exceeds it */
	struct mbuf *buf;
	size_t bufcap;  /* payload bytes buf holds */
	struct watch *w;
	bool adopted;   /* listener: took over a dead listener's queue */
};

static size_t msgmax_now(void)
{
	long v = ipk__read_long(MSGMAX_PATH, 8192);
	return v > 0 ? (size_t)v : 8192;
}

/* ------------------------------------------------------------ addresses */

/* "@ID": an existing queue by identifier (private queues have no key). */
static int parse_id(ipk__url *u, key_t *key, int *id)
{
	char *end;
	errno = 0;
	long v = strtol(u->rest + 1, &end, 10);
	if (u->rest[1] == '\0' || *end != '\0' || errno || v < 0 || v > INT_MAX)
		return ipk__err(-EINVAL, "address '%s': '@' needs a queue id", u->text);
	struct msqid_ds ds;
	if (msgctl((int)v, IPC_STAT, &ds) < 0) {
		if (errno == EINVAL || errno == EIDRM)
			return ipk__err(-ENOENT, "no System V queue with id %ld", v);
		if (errno != EACCES)
			return ipk__errno(-errno, "msgctl(%ld, IPC_STAT)", v);
		ds.msg_perm.__key = 0; /* exists; we may not read its status */
	}
	*key = ds.msg_perm.__key;
	*id = (int)v;
	return 0;
}

static int parse_key(ipk__url *u, key_t *key)
{
	const char *rest = u->rest;
	long proj = 1;
	int rc = ipk__opt_long(u, "proj", 1, 255, &proj);
	if (rc < 0)
		return rc;
	if (*rest == '\0')
		return ipk__err(-EINVAL,
		                "address '%s': missing key (sysvmq:/path?proj=N or "
		                "sysvmq:0xKEY)",
		                u->text);
	if (*rest != '/') {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(rest, &end, 0);
		if (*end == '\0' && errno == 0) {
			if (rc > 0)
				return ipk__err(-EINVAL,
				                "address '%s': proj= goes with a path "
				                "(ftok), not with a raw key",
				                u->text);
			if (v > UINT32_MAX)
				return ipk__err(-EINVAL,
				                "address '%s': key %s does not fit 32 bits",
				                u->text, rest);
			if (v == 0)
				return ipk__err(-EINVAL,
				                "address '%s': key 0 is IPC_PRIVATE, which "
				                "cannot be named; pick a key",
				                u->text);
			*key = (key_t)(uint32_t)v;
			return 0;
		}
		if (rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X'))
			return ipk__err(-EINVAL,
			                "address '%s': key '%s' is not hexadecimal "
			                "(like 0x1234abcd; a path for ftok names a file)",
			                u->text, rest);
	}
	key_t k = ftok(rest, (int)proj);
	if (k == (key_t)-1) {
		if (errno == ENOENT)
			return ipk__err(-ENOENT,
			                "address '%s': ftok needs an existing file, and "
			                "%s does not exist",
			                u->text, rest);
		return ipk__errno(-errno, "address '%s': ftok(%s, %ld)", u->text,
		                  rest, proj);
	}
	*key = k;
	return 0;
}

static int parse_options(ipk_chan *c, struct sysvmq_chan *q)
{
	bool except = false, noerror = false;
	int rc;
	q->msgmax = msgmax_now();
	q->by_id = -1;
	if (c->url.rest[0] == '@')
		rc = parse_id(&c->url, &q->key, &q->by_id);
	else
		rc = parse_key(&c->url, &q->key);
	if (rc < 0 ||
	    (rc = ipk__opt_long(&c->url, "type", LONG_MIN + 1, LONG_MAX,
	                        &q->def_type)) < 0 ||
	    (rc = ipk__opt_flag(&c->url, "except", &except)) < 0 ||
	    (rc = ipk__opt_flag(&c->url, "noerror", &noerror)) < 0)
		return rc;
	q->def_flags = (except ? IPK_MSG_EXCEPT : 0) |
	               (noerror ? IPK_MSG_NOERROR : 0);
	return 0;
}

/* What /proc/sysvipc/msg says about a key, for error messages. */
static bool proc_info(key_t key, unsigned *mode, unsigned *uid)
{
	FILE *f = fopen("/proc/sysvipc/msg", "re");
	if (f == NULL)
		return false;
	char line[512];
	bool found = false;
	while (fgets(line, sizeof line, f)) {
		long long k;
		unsigned id, perms, u;
		unsigned long cb, qn;
		int lspid, lrpid;
		if (sscanf(line, "%lld %u %o %lu %lu %d %d %u", &k, &id, &perms, &cb,
		           &qn, &lspid, &lrpid, &u) == 8 &&
		    (key_t)k == key) {
			*mode = perms & 0777;
			*uid = u;
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static int access_error(key_t key, const char *what)
{
	unsigned mode, uid;
	if (proc_info(key, &mode, &uid))
		return ipk__err(-EACCES,
		                "System V queue 0x%08x is not accessible for %s: mode "
		                "%04o, owner uid %u, you are uid %u (its creator can "
		                "widen it with ?mode=0660 or 0666)",
		                (unsigned)key, what, mode, uid, (unsigned)geteuid());
	return ipk__err(-EACCES, "System V queue 0x%08x is not accessible for %s",
	                (unsigned)key, what);
}

static int gone_error(const struct sysvmq_chan *q)
{
	return ipk__err(-EPIPE,
	                "System V queue 0x%08x (msqid %d) was removed (its owner "
	                "closed it or it was deleted)",
	                (unsigned)q->key, q->id);
}

/* ---------------------------------------------------------- open/close */

static int grow(struct sysvmq_chan *q, size_t len)
{
	if (q->buf != NULL && len <= q->bufcap)
		return 0;
	struct mbuf *b = realloc(q->buf, sizeof *b + (len ? len : 1));
	if (b == NULL)
		return ipk__err(-ENOMEM, "cannot allocate %zu bytes", len);
	q->buf = b;
	q->bufcap = len;
	return 0;
}

/* Apply the listener's ?mode and ?qbytes to the queue it made or took. */
static int apply_attrs(ipk_chan *c, struct sysvmq_chan *q, size_t qbytes,
                       bool adopted)
{
	if (qbytes == 0 && !adopted)
		return 0;
	struct msqid_ds ds;
	if (msgctl(q->id, IPC_STAT, &ds) < 0)
		return ipk__errno(-errno, "msgctl(IPC_STAT)");
	if (qbytes == 0 && (ds.msg_perm.mode & 0777) == c->mode)
		return 0;
	ds.msg_perm.mode = (ds.msg_perm.mode & ~0777u) | c->mode;
	if (qbytes > 0)
		ds.msg_qbytes = qbytes;
	if (msgctl(q->id, IPC_SET, &ds) == 0)
		return 0;
	if (errno == EPERM && qbytes > 0)
		return ipk__err(-EPERM,
		                "qbytes=%zu is above kernel.msgmnb=%ld: that needs "
		                "CAP_SYS_RESOURCE (or raise kernel.msgmnb with sysctl)",
		                qbytes, ipk__read_long(MSGMNB_PATH, -1));
	return ipk__errno(-errno, "msgctl(IPC_SET msg_qbytes=%zu)", qbytes);
}

/*
 * The key has a queue already. Take it over (keeping its messages) when an
 * ipckit listener of ours made it and is provably dead; otherwise -EEXIST,
 * saying who holds it: a live listener (dial it to share it), or a program
 * that left no owner record (remove it to listen). *kept: the queue was
 * kept with ?persist, and stays so.
 */
static int existing(struct sysvmq_chan *q, ipk__owner_claim *cl,
                    const char *name, bool *kept)
{
	int other = msgget(q->key, 0);
	struct msqid_ds ds;
	if (other < 0 || msgctl(other, IPC_STAT, &ds) < 0)
		return ipk__err(-EEXIST,
		                "System V queue 0x%08x already exists (msqid %d): "
		                "dial it to use it, or remove it with "
		                "'ipckit rm sysvmq:0x%08x'",
		                (unsigned)q->key, other, (unsigned)q->key);
	struct ipk__owner o;
	enum ipk__owner_state st = IPK__OWNER_NONE;
	bool ours = ds.msg_perm.cuid == geteuid() && cl->fd >= 0;
	if (ours) {
		if (ipk__owner_get(cl, &o) > 0 &&
		    (o.object == (uint64_t)other || o.object == IPK__OWNER_PENDING))
			st = ipk__owner_alive(&o) ? IPK__OWNER_ALIVE : IPK__OWNER_DEAD;
	} else {
		st = ipk__owner_check("sysvmq", name, ds.msg_perm.cuid,
		                      (uint64_t)other, &o);
	}
	if (st == IPK__OWNER_ALIVE)
		return ipk__err(-EEXIST,
		                "System V queue 0x%08x already exists and its "
		                "listener (pid %d) is alive: dial it to share it",
		                (unsigned)q->key, (int)o.pid);
	if (st == IPK__OWNER_DEAD && !ours)
		return ipk__err(-EEXIST,
		                "System V queue 0x%08x already exists; its listener "
		                "(pid %d) has died, but the queue is uid %u's: only "
		                "they or root can remove it",
		                (unsigned)q->key, (int)o.pid,
		                (unsigned)ds.msg_perm.cuid);
	if (st == IPK__OWNER_NONE)
		return ipk__err(-EEXIST,
		                "System V queue 0x%08x already exists (msqid %d) and "
		                "no ipckit listener owns it: dial it to use it, or "
		                "remove it with 'ipckit rm sysvmq:0x%08x'",
		                (unsigned)q->key, other, (unsigned)q->key);
	q->id = other; /* its owner is dead: ours now, messages and all */
	q->adopted = true;
	*kept = o.persist;
	return 0;
}

static int sysvmq_listen(ipk_chan *c)
{
	struct sysvmq_chan *q = ipk__priv(c);
	q->id = -1;
	int rc = parse_options(c, q);
	if (rc < 0)
		return rc;
	size_t qbytes = 0;
	if ((rc = ipk__opt_size(&c->url, "qbytes", &qbytes)) < 0)
		return rc;
	if (q->by_id >= 0)
		return ipk__err(-EEXIST, "System V queue %d already exists: dial it "
		                "(a queue named by id is never created)", q->by_id);
	if ((rc = grow(q, q->msgmax)) < 0)
		return rc;
	char name[16];
	snprintf(name, sizeof name, "0x%08x", (unsigned)q->key);
	/* no record can be kept (no /dev/shm): the queue works, but is not
	   taken over if this listener dies */
	ipk__owner_claim cl;
	ipk__owner_lock(&cl, "sysvmq", name);
	bool pending = false, kept = false;
	q->adopted = false;
	if (msgget(q->key, 0) >= 0) {
		rc = existing(q, &cl, name, &kept);
	} else {
		/* claim the key before the queue exists, so a listener killed
		   between the two still leaves a record naming it */
		pending = cl.fd >= 0 &&
		          ipk__owner_set(&cl, c->persist, IPK__OWNER_PENDING) == 0;
		/* SysV objects ignore the umask: the mode given is the mode we
		   get, and it is never 0 (a queue nobody but root could use) */
		q->id = msgget(q->key, IPC_CREAT | IPC_EXCL | (int)c->mode);
		if (q->id >= 0)
			rc = 0;
		else if (errno == EEXIST) /* made by someone else just now */
			rc = existing(q, &cl, name, &kept);
		else if (errno == ENOSPC)
			rc = ipk__err(-ENOSPC,
			              "cannot create System V queue 0x%08x: the system "
			              "has kernel.msgmni=%ld queues already (raise it "
			              "with sysctl kernel.msgmni)",
			              (unsigned)q->key, ipk__read_long(MSGMNI_PATH, -1));
		else
			rc = ipk__errno(-errno, "msgget(0x%08x, IPC_CREAT|IPC_EXCL)",
			                (unsigned)q->key);
	}
	if (rc == 0 && (rc = apply_attrs(c, q, qbytes, q->adopted)) < 0 &&
	    !q->adopted)
		msgctl(q->id, IPC_RMID, NULL);
	if (rc < 0) {
		/* a claim made for nothing; another owner's record stays */
		if (pending)
			ipk__owner_drop(&cl);
		ipk__owner_unlock(&cl);
		free(q->buf);
		q->buf = NULL;
		q->id = -1;
		return rc;
	}
	/* ?persist belongs to the queue, not to the address it is opened by */
	c->persist = c->persist || kept;
	if (cl.fd >= 0)
		ipk__owner_set(&cl, c->persist, (uint64_t)q->id);
	ipk__owner_unlock(&cl);
	c->role = IPK__OWNER;
	q->can_read = q->can_write = true;
	return 0;
}

static int sysvmq_dial(ipk_chan *c, int64_t deadline)
{
	struct sysvmq_chan *q = ipk__priv(c);
	q->id = -1;
	int rc = parse_options(c, q);
	if (rc < 0)
		return rc;
	if (q->by_id >= 0) {
		/* by id: the kernel checks permission on each send and receive */
		q->id = q->by_id;
		q->can_read = q->can_write = true;
		return grow(q, q->msgmax);
	}
	unsigned round = 0;
	for (;;) {
		if (msgget(q->key, 0) >= 0)
			break;
		if (errno != ENOENT)
			return ipk__errno(-errno, "msgget(0x%08x)", (unsigned)q->key);
		if (ipk__expired(deadline) || ipk__backoff(&round, deadline) < 0)
			return ipk__err(-ENOENT,
			                "no System V queue with key 0x%08x (is a listener "
			                "running? 'ipcs -q' lists the queues)",
			                (unsigned)q->key);
	}
	/* ask for what the permissions grant: read+write, else one of them */
	static const struct { int mode; bool r, w; } tries[] = {
		{0600, true, true}, {0200, false, true}, {0400, true, false}};
	for (size_t i = 0; i < IPK__ARRAY_LEN(tries); i++) {
		q->id = msgget(q->key, tries[i].mode);
		if (q->id >= 0) {
			q->can_read = tries[i].r;
			q->can_write = tries[i].w;
			break;
		}
		if (errno == ENOENT)
			return ipk__err(-ENOENT, "System V queue 0x%08x was just removed",
			                (unsigned)q->key);
		if (errno != EACCES)
			return ipk__errno(-errno, "msgget(0x%08x)", (unsigned)q->key);
	}
	if (q->id < 0)
		return access_error(q->key, "reading or writing");
	if ((rc = grow(q, q->can_read ? q->msgmax : 0)) < 0)
		return rc;
	return 0;
}

static void watch_stop(struct sysvmq_chan *q);

static int sysvmq_close(ipk_chan *c)
{
	struct sysvmq_chan *q = ipk__priv(c);
	int rc = 0;
	watch_stop(q);
	/* the msqid names this queue only: a queue made later under the same
	   key has another id, so this never removes someone else's */
	char name[16];
	snprintf(name, sizeof name, "0x%08x", (unsigned)q->key);
	struct msqid_ds ds;
	long unread = q->id >= 0 && c->role == IPK__OWNER &&
	                              msgctl(q->id, IPC_STAT, &ds) == 0
	                      ? (long)ds.msg_qnum
	                      : -1;
	bool keep = ipk__owner_keeps(c->persist, q->adopted, unread);
	if (q->id >= 0 && ipk__removes_on_close(c) && !keep) {
		if (msgctl(q->id, IPC_RMID, NULL) < 0 && errno != EIDRM &&
		    errno != EINVAL)
			rc = ipk__errno(-errno, "removing System V queue 0x%08x",
			                (unsigned)q->key);
		ipk__owner_forget("sysvmq", name, geteuid(), (uint64_t)q->id);
	} else if (q->id >= 0 && c->role == IPK__OWNER && keep &&
	           c->creator == getpid()) {
		/* left in place: the next listener takes it over at once */
		ipk__owner_release("sysvmq", name, (uint64_t)q->id);
	}
	free(q->buf);
	q->buf = NULL;
	return rc;
}

static int sysvmq_remove(ipk__url *u)
{
	key_t key = 0; /* GCC cannot see that parse_key sets it whenever it returns 0 */
	int rc = parse_key(u, &key);
	if (rc < 0)
		return rc;
	int id = msgget(key, 0);
	if (id < 0) {
		if (errno == ENOENT)
			return ipk__err(-ENOENT, "no System V queue with key 0x%08x",
			                (unsigned)key);
		return ipk__errno(-errno, "msgget(0x%08x)", (unsigned)key);
	}
	struct msqid_ds ds;
	uid_t creator = msgctl(id, IPC_STAT, &ds) == 0 ? ds.msg_perm.cuid
	                                                : geteuid();
	if (msgctl(id, IPC_RMID, NULL) < 0) {
		if (errno == EPERM)
			return ipk__err(-EPERM,
			                "System V queue 0x%08x: only its owner, creator "
			                "or root may remove it",
			                (unsigned)key);
		if (errno == EIDRM || errno == EINVAL)
			return ipk__err(-ENOENT, "no System V queue with key 0x%08x",
			                (unsigned)key);
		return ipk__errno(-errno, "msgctl(0x%08x, IPC_RMID)", (unsigned)key);
	}
	char name[16];
	snprintf(name, sizeof name, "0x%08x", (unsigned)key);
	ipk__owner_forget("sysvmq", name, creator, (uint64_t)id);
	return 0;
}

/* ------------------------------------------------------ pollable fd */

static void watch_set(struct watch *w, bool ready)
{
	pthread_mutex_lock(&w->mu);
	if (ready && !w->ready) {
		uint64_t one = 1;
		if (write(w->efd, &one, sizeof one) == sizeof one)
			w->ready = true;
	} else if (!ready && w->ready) {
		uint64_t n;
		if (read(w->efd, &n, sizeof n) == sizeof n || errno == EAGAIN)
			w->ready = false;
	}
	pthread_mutex_unlock(&w->mu);
}

/* 1 if messages are queued, 0 if none, -1 if the queue is gone or unreadable */
static int queued(int id)
{
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -1;
	return ds.msg_qnum > 0;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	int64_t ns = 50000;
	int last = -2;
	unsigned still = 0; /* checks since the count last changed */
	for (;;) {
		int now = queued(w->id);
		if (now < 0) {
			/* removed: readable, so the next receive reports it */
			watch_set(w, errno == EIDRM || errno == EINVAL);
			struct pollfd p = {.fd = w->stop, .events = POLLIN};
			while (poll(&p, 1, -1) < 0 && errno == EINTR)
				;
			return NULL;
		}
		watch_set(w, now > 0);
		/* quick right after a change, settling to 1 ms, then 2 ms after
		   ~0.1 s and 5 ms after ~1 s without one */
		still = now != last ? 0 : still + 1;
		last = now;
		ns = still < 5 ? 50000LL << still : still < 110 ? 1000000
		     : still < 560 ? 2000000 : 5000000;
		struct pollfd p = {.fd = w->stop, .events = POLLIN};
		struct timespec ts = {0, ns};
		if (ppoll(&p, 1, &ts, NULL) > 0)
			return NULL;
	}
}

static void watch_free(struct watch *w, bool ours)
{
	if (ours) {
		uint64_t one = 1;
		if (write(w->stop, &one, sizeof one) < 0) {
			/* an eventfd write fails only on overflow: the thread wakes */
		}
		pthread_join(w->th, NULL);
		pthread_mutex_destroy(&w->mu);
	}
	close(w->efd);
	close(w->stop);
	free(w);
}

static void watch_stop(struct sysvmq_chan *q)
{
	if (q->w == NULL)
		return;
	/* after fork the thread lives in the parent only: just let go */
	watch_free(q->w, q->w->pid == getpid());
	q->w = NULL;
}

static int watch_start(struct sysvmq_chan *q)
{
	if (q->w != NULL && q->w->pid == getpid())
		return 0;
	watch_stop(q);
	struct watch *w = calloc(1, sizeof *w);
	if (w == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	w->id = q->id;
	w->pid = getpid();
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->stop = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0 || w->stop < 0) {
		int rc = ipk__errno(-errno, "eventfd");
		if (w->efd >= 0)
			close(w->efd);
		if (w->stop >= 0)
			close(w->stop);
		free(w);
		return rc;
	}
	pthread_mutex_init(&w->mu, NULL);
	/* the helper takes no signals: they stay the application's threads' */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&w->th, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_mutex_destroy(&w->mu);
		close(w->efd);
		close(w->stop);
		free(w);
		return ipk__err(-e, "cannot start the thread behind the queue's "
		                    "pollable descriptor: %s",
		                strerror(e));
	}
	q->w = w;
	return 0;
}

/* After our own send or receive, bring the descriptor up to date at once. */
static void watch_refresh(struct sysvmq_chan *q)
{
	if (q->w == NULL || q->w->pid != getpid())
		return;
	int now = queued(q->id);
	if (now >= 0)
		watch_set(q->w, now > 0);
}

static int sysvmq_fd(const ipk_chan *c)
{
	struct sysvmq_chan *q = ipk__priv(c);
	int rc = watch_start(q);
	if (rc < 0)
		return rc;
	return q->w->efd;
}

/* ------------------------------------------------------------ messages */

static ssize_t sysvmq_send(ipk_chan *c, const void *buf, size_t len,
                           const ipk_msginfo *info, int64_t deadline)
{
	struct sysvmq_chan *q = ipk__priv(c);
	if (!q->can_write)
		return access_error(q->key, "writing");
	long type = info->type;
	if (type < 0)
		return ipk__err(-EINVAL,
		                "sysvmq: message type must be 1 or more (msgsnd), "
		                "not %ld",
		                type);
	if (type == 0)
		type = q->def_type > 0 ? q->def_type : 1;
	if (len > q->msgmax && len > (q->msgmax = msgmax_now()))
		return ipk__err(-EMSGSIZE,
		                "message of %zu bytes exceeds kernel.msgmax=%zu (raise "
		                "it with sysctl kernel.msgmax)",
		                len, q->msgmax);
	int rc = grow(q, len);
	if (rc < 0)
		return rc;
	q->buf->mtype = type;
	if (len > 0)
		memcpy(q->buf->mtext, buf, len);
	unsigned round = 0;
	bool checked = false;
	for (;;) {
		/* block in the kernel only once the message is known to fit */
		int fl = deadline == IPK__NEVER && checked ? 0 : IPC_NOWAIT;
		if (msgsnd(q->id, q->buf, len, fl) == 0) {
			watch_refresh(q);
			return (ssize_t)len;
		}
		int e = errno;
		if (e == EINTR)
			continue;
		if (e == EIDRM || e == EINVAL)
			return gone_error(q);
		if (e == EACCES)
			return access_error(q->key, "writing");
		if (e != EAGAIN)
			return ipk__errno(-e, "msgsnd to System V queue 0x%08x",
			                  (unsigned)q->key);
		struct msqid_ds ds;
		if (!checked) {
			/* a message larger than the whole queue would wait forever */
			checked = true;
			if (msgctl(q->id, IPC_STAT, &ds) == 0 && len > ds.msg_qbytes)
				return ipk__err(-EMSGSIZE,
				                "message of %zu bytes exceeds the capacity of "
				                "System V queue 0x%08x: msg_qbytes=%lu (new "
				                "queues get kernel.msgmnb=%ld; raise it with "
				                "sysctl kernel.msgmnb or listen with ?qbytes=)",
				                len, (unsigned)q->key,
				                (unsigned long)ds.msg_qbytes,
				                ipk__read_long(MSGMNB_PATH, -1));
			if (deadline == IPK__NEVER)
				continue;
		}
		if (ipk__poll_backoff(&round, deadline) < 0) {
			unsigned long qb = 0, cb = 0, qn = 0;
			if (msgctl(q->id, IPC_STAT, &ds) == 0) {
				qb = ds.msg_qbytes;
				cb = ds.msg_cbytes;
				qn = ds.msg_qnum;
			}
			return ipk__err(ipk__timeout_err(deadline),
			                "System V queue 0x%08x is full: %lu messages, %lu "
			                "of msg_qbytes=%lu bytes (kernel.msgmnb=%ld for "
			                "new queues; raise it with sysctl kernel.msgmnb)",
			                (unsigned)q->key, qn, cb, qb,
			                ipk__read_long(MSGMNB_PATH, -1));
		}
	}
}

static ssize_t deliver(struct sysvmq_chan *q, ipk__rx *rx, size_t n)
{
	int err = 0;
	void *dst = ipk__rx_reserve(rx, n, &err);
	if (dst == NULL && n > 0)
		return err;
	if (n > 0)
		memcpy(dst, q->buf->mtext, n);
	rx->info->type = q->buf->mtype;
	watch_refresh(q);
	return (ssize_t)n;
}

static ssize_t sysvmq_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct sysvmq_chan *q = ipk__priv(c);
	if (!q->can_read)
		return access_error(q->key, "reading");
	long sel = rx->info->type ? rx->info->type : q->def_type;
	int flags = rx->info->flags | q->def_flags;
	int msgflg = (flags & IPK_MSG_EXCEPT ? MSG_EXCEPT : 0) |
	             (flags & IPK_MSG_NOERROR ? MSG_NOERROR : 0);
	unsigned round = 0;
	for (;;) {
		/* take at most what the caller can hold: msgrcv leaves a longer
		   message queued (E2BIG) unless MSG_NOERROR truncates it */
		size_t want = q->bufcap;
		enum { BUFFER, CALLER, LIMIT } bound = BUFFER;
		if (rx->maxmsg < want) {
			want = rx->maxmsg;
			bound = LIMIT;
		}
		if (!rx->alloc && rx->cap <= want) {
			want = rx->cap;
			bound = CALLER;
		}
		int fl = msgflg | (deadline == IPK__NEVER ? 0 : IPC_NOWAIT);
		ssize_t n = msgrcv(q->id, q->buf, want, sel, fl);
		if (n >= 0)
			return deliver(q, rx, (size_t)n);
		int e = errno;
		switch (e) {
		case EINTR:
			continue;
		case ENOMSG:
			if (ipk__poll_backoff(&round, deadline) < 0) {
				watch_refresh(q);
				return ipk__err(ipk__timeout_err(deadline), "%s",
				                deadline == IPK__NOW
				                        ? "no message queued (not waiting)"
				                        : "no message arrived in time");
			}
			continue;
		case E2BIG:
			break;
		case EIDRM:
		case EINVAL:
			return gone_error(q);
		case EACCES:
			return access_error(q->key, "reading");
		default:
			return ipk__errno(-e, "msgrcv from System V queue 0x%08x",
			                  (unsigned)q->key);
		}
		if (bound == CALLER)
			return ipk__err(-ENOBUFS,
			                "the next message is larger than the %zu-byte "
			                "buffer (it stays queued)",
			                rx->cap);
		if (bound == LIMIT) {
			/* the stream transports drop such a connection; a queue has
			   none, so drop the message or it would block the queue */
			char none[sizeof(long)];
			while (msgrcv(q->id, none, 0, sel,
			              MSG_NOERROR | IPC_NOWAIT | (msgflg & MSG_EXCEPT)) <
			               0 &&
			       errno == EINTR)
				;
			watch_refresh(q);
			return ipk__err(-EMSGSIZE,
			                "a message larger than the channel limit of %zu "
			                "bytes was discarded (raise it with ?maxmsg=)",
			                rx->maxmsg);
		}
		/* longer than kernel.msgmax was when we opened: it was raised */
		size_t bigger = msgmax_now();
		struct msqid_ds ds;
		if (msgctl(q->id, IPC_STAT, &ds) == 0 && ds.msg_qbytes > bigger)
			bigger = ds.msg_qbytes;
		if (bigger <= q->bufcap)
			return ipk__err(-EMSGSIZE,
			                "System V queue 0x%08x holds a message larger than "
			                "kernel.msgmax and its capacity",
			                (unsigned)q->key);
		int rc = grow(q, bigger);
		if (rc < 0)
			return rc;
	}
}

/* ------------------------------------------------------------- status */

int ipk__sysvmq_status(ipk_chan *c, ipk_queue_info *st)
{
	struct sysvmq_chan *q = ipk__priv(c);
	st->scheme = "sysvmq";
	st->id = q->id;
	st->key = (long)(uint32_t)q->key;
	st->max_msgsize = msgmax_now();
	struct msqid_ds ds;
	if (msgctl(q->id, IPC_STAT, &ds) == 0) {
		st->messages = ds.msg_qnum;
		st->bytes = ds.msg_cbytes;
		st->max_bytes = ds.msg_qbytes;
		st->last_send_pid = ds.msg_lspid;
		st->last_recv_pid = ds.msg_lrpid;
		st->send_time = ds.msg_stime;
		st->recv_time = ds.msg_rtime;
		st->change_time = ds.msg_ctime;
		st->uid = ds.msg_perm.uid;
		st->gid = ds.msg_perm.gid;
		st->cuid = ds.msg_perm.cuid;
		st->cgid = ds.msg_perm.cgid;
		st->mode = ds.msg_perm.mode & 0777;
		return 0;
	}
	if (errno == EIDRM || errno == EINVAL)
		return gone_error(q);
	if (errno != EACCES)
		return ipk__errno(-errno, "msgctl(0x%08x, IPC_STAT)", (unsigned)q->key);
	/* without read permission IPC_STAT is refused; /proc tells anyone */
	FILE *f = fopen("/proc/sysvipc/msg", "re");
	if (f == NULL)
		return access_error(q->key, "reading its status");
	char line[512];
	int rc = access_error(q->key, "reading its status");
	while (fgets(line, sizeof line, f)) {
		long long k, st_, rt, ct;
		int id, lspid, lrpid;
		unsigned perms, uid, gid, cuid, cgid;
		unsigned long cb, qn;
		if (sscanf(line, "%lld %d %o %lu %lu %d %d %u %u %u %u %lld %lld %lld",
		           &k, &id, &perms, &cb, &qn, &lspid, &lrpid, &uid, &gid, &cuid,
		           &cgid, &st_, &rt, &ct) == 14 &&
		    id == q->id) {
			st->messages = qn;
			st->bytes = cb;
			st->last_send_pid = lspid;
			st->last_recv_pid = lrpid;
			st->send_time = st_;
			st->recv_time = rt;
			st->change_time = ct;
			st->uid = uid;
			st->gid = gid;
			st->cuid = cuid;
			st->cgid = cgid;
			st->mode = perms & 0777;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static const char *const sysvmq_options[] = {"proj", "type", "except",
                                             "noerror", "qbytes", NULL};

const struct ipk_transport ipk__sysvmq_transport = {
	.scheme = "sysvmq",
	.summary = "System V message queue, typed messages (msgget)",
	.options = sysvmq_options,
	.priv_size = sizeof(struct sysvmq_chan),
	.listen = sysvmq_listen,
	.dial = sysvmq_dial,
	.send = sysvmq_send,
	.recv = sysvmq_recv,
	.fd = sysvmq_fd,
	.close = sysvmq_close,
	.remove = sysvmq_remove,
};
