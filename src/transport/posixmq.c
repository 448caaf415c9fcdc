/*
 * mq: — a POSIX message queue (mq_open). Messages carry a priority and are
 * exactly the user's bytes, so mq_send/mq_receive programs are peers.
 *
 * ?maxmsg= and ?msgsize= are the queue's struct mq_attr (depth in messages
 * and largest message), as mq_open(3) names them; they apply when creating.
 * The channel's own byte limit stays the core default: the queue's msgsize
 * is enforced here with a message that names it.
 *
 * mq_receive needs a buffer of the queue's full msgsize. A caller's smaller
 * buffer is served through one of ours; a message that does not fit it is
 * kept in the channel (-ENOBUFS) and returned by the next receive.
 *
 * Unlinking a POSIX queue does not disturb open descriptors, so a dialer
 * would never learn that the owner left. It checks the link count of its
 * descriptor instead: a dialer whose queue has no name any more gets -EPIPE
 * when it sends, and when it receives from an empty queue.
 */
#define _GNU_SOURCE
#include "queue_util.h"
#include "../core/owner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MQ_SYSCTL "/proc/sys/fs/mqueue/"
#define HARD_MSGMAX 65536L             /* the kernel's caps for CAP_SYS_RESOURCE */
#define HARD_MSGSIZEMAX (16L << 20)
#define SLICE_NS 250000000LL           /* how often a long wait checks the name */

struct mq_chan {
	mqd_t q;
	char name[NAME_MAX + 2];
	long msgsize, depth;
	long def_prio;
	bool can_read, can_write;
	dev_t dev;
	ino_t ino;
	char *buf;        /* msgsize bytes, for callers with smaller buffers */
	bool held;        /* buf holds a message the caller could not take */
	size_t held_len;
	unsigned held_prio;
	bool adopted;     /* listener: took over a dead listener's queue */
};

static int parse_name(ipk__url *u, char *name)
{
	const char *rest = u->rest;
	while (*rest == '/')
		rest++;
	size_t n = strlen(rest);
	if (n == 0)
		return ipk__err(-EINVAL, "address '%s': missing queue name (mq:/name)",
		                u->text);
	if (strchr(rest, '/') != NULL)
		return ipk__err(-EINVAL,
		                "address '%s': a POSIX queue name is one component "
		                "(mq:/name, no further '/')",
		                u->text);
	if (n > NAME_MAX)
		return ipk__err(-ENAMETOOLONG,
		                "address '%s': queue name longer than %d bytes",
		                u->text, NAME_MAX);
	name[0] = '/';
	memcpy(name + 1, rest, n + 1);
	return 0;
}

static int parse_common(ipk_chan *c, struct mq_chan *m)
{
	m->q = (mqd_t)-1;
	int rc = parse_name(&c->url, m->name);
	if (rc < 0)
		return rc;
	long prio_max = sysconf(_SC_MQ_PRIO_MAX);
	if (prio_max <= 0)
		prio_max = 32768;
	if ((rc = ipk__opt_long(&c->url, "prio", 0, prio_max - 1, &m->def_prio)) <
	    0)
		return rc;
	/* for mq: ?maxmsg= is the queue depth, not the channel's byte limit */
	c->maxmsg = IPK_DEFAULT_MAXMSG;
	return 0;
}

static long sysctl_mq(const char *name, long dflt)
{
	char path[64];
	snprintf(path, sizeof path, MQ_SYSCTL "%s", name);
	return ipk__read_long(path, dflt);
}

static int attrs(struct mq_chan *m)
{
	struct mq_attr a;
	if (mq_getattr(m->q, &a) < 0)
		return ipk__errno(-errno, "mq_getattr %s", m->name);
	m->msgsize = a.mq_msgsize;
	m->depth = a.mq_maxmsg;
	struct stat st;
	if (fstat(m->q, &st) == 0) {
		m->dev = st.st_dev;
		m->ino = st.st_ino;
	}
	if (m->can_read && (m->buf = malloc((size_t)m->msgsize)) == NULL)
		return ipk__err(-ENOMEM, "cannot allocate %ld bytes", m->msgsize);
	return 0;
}

/* Why mq_open(O_CREAT) refused, in terms of the limit that applies. */
static int create_error(const struct mq_chan *m, int e, long depth, long size)
{
	long msg_max = sysctl_mq("msg_max", -1);
	long msgsize_max = sysctl_mq("msgsize_max", -1);
	switch (e) {
	case EEXIST:
		return ipk__err(-EEXIST,
		                "POSIX queue %s already exists: dial it to use it, or "
		                "remove it with 'ipckit rm mq:%s'",
		                m->name, m->name);
	case EINVAL:
		if (depth > HARD_MSGMAX)
			return ipk__err(-EINVAL,
			                "maxmsg=%ld exceeds the kernel's hard limit of %ld "
			                "messages",
			                depth, HARD_MSGMAX);
		if (size > HARD_MSGSIZEMAX)
			return ipk__err(-EINVAL,
			                "msgsize=%ld exceeds the kernel's hard limit of %ld "
			                "bytes",
			                size, HARD_MSGSIZEMAX);
		if (msg_max >= 0 && depth > msg_max)
			return ipk__err(-EINVAL,
			                "maxmsg=%ld exceeds fs.mqueue.msg_max=%ld (raise it "
			                "with sysctl fs.mqueue.msg_max; CAP_SYS_RESOURCE "
			                "allows up to %ld)",
			                depth, msg_max, HARD_MSGMAX);
		if (msgsize_max >= 0 && size > msgsize_max)
			return ipk__err(-EINVAL,
			                "msgsize=%ld exceeds fs.mqueue.msgsize_max=%ld "
			                "(raise it with sysctl fs.mqueue.msgsize_max; "
			                "CAP_SYS_RESOURCE allows up to %ld)",
			                size, msgsize_max, HARD_MSGSIZEMAX);
		return ipk__err(-EINVAL, "mq_open %s: invalid name or attributes",
		                m->name);
	case ENOSPC:
		return ipk__err(-ENOSPC,
		                "cannot create POSIX queue %s: fs.mqueue.queues_max=%ld "
		                "queues exist already (raise it with sysctl "
		                "fs.mqueue.queues_max)",
		                m->name, sysctl_mq("queues_max", -1));
	case EMFILE: {
		/* out of descriptors, or over the user's RLIMIT_MSGQUEUE bytes */
		int probe = dup(2);
		if (probe < 0)
			return ipk__errno(-EMFILE, "mq_open %s", m->name);
		close(probe);
		struct rlimit rl;
		getrlimit(RLIMIT_MSGQUEUE, &rl);
		long long need = (long long)depth * size;
		return ipk__err(-EMFILE,
		                "cannot create POSIX queue %s: its %ld x %ld bytes "
		                "(about %lld) exceed what is left of RLIMIT_MSGQUEUE="
		                "%llu bytes, which all queues of this user share "
		                "(ulimit -q)",
		                m->name, depth, size, need,
		                (unsigned long long)rl.rlim_cur);
	}
	case ENOSYS:
		return ipk__err(-EPROTONOSUPPORT,
		                "POSIX message queues are not available in this kernel "
		                "(CONFIG_POSIX_MQUEUE)");
	default:
		errno = e;
		return ipk__errno(-e, "mq_open %s", m->name);
	}
}

/*
 * The name has a queue already, open in q. Take it over (keeping its
 * messages) when an ipckit listener of ours made it and is provably dead;
 * otherwise -EEXIST, saying who holds it: a live listener (dial it to share
 * it), or a program that left no owner record (remove it to listen).
 * want_depth/want_size: attributes the listener asked for, 0 if not.
 * *kept: the queue was kept with ?persist, and stays so.
 */
static int existing(struct mq_chan *m, mqd_t q, ipk__owner_claim *cl,
                    long want_depth, long want_size, bool *kept)
{
	struct stat st;
	if (fstat(q, &st) < 0) {
		mq_close(q);
		return ipk__errno(-errno, "fstat %s", m->name);
	}
	struct ipk__owner o;
	enum ipk__owner_state state = IPK__OWNER_NONE;
	bool ours = st.st_uid == geteuid() && cl->fd >= 0;
	if (ours) {
		if (ipk__owner_get(cl, &o) > 0 &&
		    (o.object == (uint64_t)st.st_ino ||
		     o.object == IPK__OWNER_PENDING))
			state = ipk__owner_alive(&o) ? IPK__OWNER_ALIVE
			                             : IPK__OWNER_DEAD;
	} else {
		state = ipk__owner_check("mq", m->name, st.st_uid,
		                         (uint64_t)st.st_ino, &o);
	}
	int rc = 0;
	struct mq_attr a;
	if (state == IPK__OWNER_ALIVE)
		rc = ipk__err(-EEXIST,
		              "POSIX queue %s already exists and its listener (pid "
		              "%d) is alive: dial it to share it",
		              m->name, (int)o.pid);
	else if (state == IPK__OWNER_DEAD && !ours)
		rc = ipk__err(-EEXIST,
		              "POSIX queue %s already exists; its listener (pid %d) "
		              "has died, but the queue is uid %u's: only they or root "
		              "can remove it",
		              m->name, (int)o.pid, (unsigned)st.st_uid);
	else if (state == IPK__OWNER_NONE)
		rc = ipk__err(-EEXIST,
		              "POSIX queue %s already exists and no ipckit listener "
		              "owns it: dial it to use it, or remove it with "
		              "'ipckit rm mq:%s'",
		              m->name, m->name);
	else if (mq_getattr(q, &a) < 0)
		rc = ipk__errno(-errno, "mq_getattr %s", m->name);
	else if ((want_depth && a.mq_maxmsg != want_depth) ||
	         (want_size && a.mq_msgsize != want_size))
		/* a queue's size is fixed when it is made */
		rc = ipk__err(-EEXIST,
		              "POSIX queue %s, left by a listener that died (pid "
		              "%d), has maxmsg=%ld and msgsize=%ld, not what this "
		              "listen asks for: remove it with 'ipckit rm mq:%s' "
		              "or listen without them to take it over",
		              m->name, (int)o.pid, (long)a.mq_maxmsg,
		              (long)a.mq_msgsize, m->name);
	if (rc < 0) {
		mq_close(q);
		return rc;
	}
	m->q = q; /* its owner is dead: ours now, messages and all */
	m->adopted = true;
	*kept = o.persist;
	return 0;
}

static int mq_listen(ipk_chan *c)
{
	struct mq_chan *m = ipk__priv(c);
	int rc = parse_common(c, m);
	if (rc < 0)
		return rc;
	long depth = 0, size = 0;
	int have_depth, have_size;
	if ((have_depth = ipk__opt_long(&c->url, "maxmsg", 1, LONG_MAX, &depth)) <
	            0 ||
	    (have_size = ipk__opt_long(&c->url, "msgsize", 1, LONG_MAX, &size)) < 0)
		return have_depth < 0 ? have_depth : have_size;
	long want_depth = have_depth ? depth : 0, want_size = have_size ? size : 0;
	if (!have_depth)
		depth = sysctl_mq("msg_default", 10);
	if (!have_size)
		size = sysctl_mq("msgsize_default", 8192);
	struct mq_attr a = {.mq_maxmsg = depth, .mq_msgsize = size};
	/* no record can be kept (no /dev/shm): the queue works, but is not
	   taken over if this listener dies */
	ipk__owner_claim cl;
	ipk__owner_lock(&cl, "mq", m->name);
	bool pending = false, kept = false;
	mqd_t q = mq_open(m->name, O_RDWR | O_CLOEXEC);
	if (q != (mqd_t)-1) {
		rc = existing(m, q, &cl, want_depth, want_size, &kept);
	} else if (errno == EACCES) {
		rc = ipk__err(-EEXIST,
		              "POSIX queue %s already exists and is not accessible "
		              "to uid %u: dial it to use it, or its owner can remove "
		              "it with 'ipckit rm mq:%s'",
		              m->name, (unsigned)geteuid(), m->name);
	} else {
		/* claim the name before the queue exists, so a listener killed
		   between the two still leaves a record naming it */
		pending = cl.fd >= 0 &&
		          ipk__owner_set(&cl, c->persist, IPK__OWNER_PENDING) == 0;
		m->q = mq_open(m->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		               (mode_t)c->mode, have_depth || have_size ? &a : NULL);
		if (m->q != (mqd_t)-1)
			rc = 0;
		else if (errno == EEXIST &&
		         (q = mq_open(m->name, O_RDWR | O_CLOEXEC)) != (mqd_t)-1)
			rc = existing(m, q, &cl, want_depth, want_size, &kept);
		else
			rc = create_error(m, errno, depth, size);
	}
	m->can_read = m->can_write = true;
	/* mq_open honours the umask; the mode asked for is the mode we want */
	if (rc == 0 && fchmod(m->q, (mode_t)c->mode) < 0)
		rc = ipk__errno(-errno, "fchmod %s", m->name);
	if (rc == 0)
		rc = attrs(m);
	if (rc < 0) {
		if (m->q != (mqd_t)-1) {
			if (pending) /* we made it: nobody else knows it */
				mq_unlink(m->name);
			mq_close(m->q);
			m->q = (mqd_t)-1;
		}
		if (pending) /* a claim made for nothing */
			ipk__owner_drop(&cl);
		ipk__owner_unlock(&cl);
		free(m->buf);
		m->buf = NULL;
		return rc;
	}
	/* ?persist belongs to the queue, not to the address it is opened by */
	c->persist = c->persist || kept;
	if (cl.fd >= 0)
		ipk__owner_set(&cl, c->persist, (uint64_t)m->ino);
	ipk__owner_unlock(&cl);
	c->role = IPK__OWNER;
	return 0;
}

static int mq_dial(ipk_chan *c, int64_t deadline)
{
	struct mq_chan *m = ipk__priv(c);
	int rc = parse_common(c, m);
	if (rc < 0)
		return rc;
	unsigned round = 0;
	static const struct { int fl; bool r, w; } tries[] = {
		{O_RDWR, true, true}, {O_WRONLY, false, true}, {O_RDONLY, true, false}};
	for (;;) {
		int e = 0;
		for (size_t i = 0; i < IPK__ARRAY_LEN(tries); i++) {
			m->q = mq_open(m->name, tries[i].fl | O_CLOEXEC);
			if (m->q != (mqd_t)-1) {
				m->can_read = tries[i].r;
				m->can_write = tries[i].w;
				break;
			}
			e = errno;
			if (e != EACCES)
				break;
		}
		if (m->q != (mqd_t)-1)
			break;
		if (e == EACCES)
			return ipk__err(-EACCES,
			                "POSIX queue %s exists but is not accessible to "
			                "uid %u (its creator can widen it with ?mode=0660 "
			                "or 0666)",
			                m->name, (unsigned)geteuid());
		if (e == ENOSYS)
			return create_error(m, e, 0, 0);
		if (e != ENOENT) {
			errno = e;
			return ipk__errno(-e, "mq_open %s", m->name);
		}
		if (ipk__expired(deadline) || ipk__backoff(&round, deadline) < 0)
			return ipk__err(-ENOENT,
			                "no POSIX queue %s (is a listener running?)",
			                m->name);
	}
	if ((rc = attrs(m)) < 0) {
		mq_close(m->q);
		return rc;
	}
	return 0;
}

/* A dialer's queue whose name is gone: its owner closed it. */
static bool orphaned(const ipk_chan *c, const struct mq_chan *m)
{
	struct stat st;
	return c->role == IPK__DIALER && fstat(m->q, &st) == 0 &&
	       st.st_nlink == 0;
}

static int orphan_error(const struct mq_chan *m)
{
	return ipk__err(-EPIPE,
	                "POSIX queue %s was removed (its owner closed it, or it "
	                "was unlinked)",
	                m->name);
}

/* End of the next wait: the deadline, or sooner to look at the name again. */
static void slice(int64_t deadline, struct timespec *ts)
{
	int64_t end = deadline;
	if (deadline != IPK__NOW) {
		int64_t s = ipk__now_ns() + SLICE_NS;
		if (deadline == IPK__NEVER || deadline > s)
			end = s;
	}
	ipk__deadline_timespec(end, CLOCK_REALTIME, ts);
}

static ssize_t mq_send_(ipk_chan *c, const void *buf, size_t len,
                        const ipk_msginfo *info, int64_t deadline)
{
	struct mq_chan *m = ipk__priv(c);
	if (!m->can_write)
		return ipk__err(-EACCES, "POSIX queue %s was opened read-only (no "
		                         "write permission)", m->name);
	if (len > (size_t)m->msgsize)
		return ipk__err(-EMSGSIZE,
		                "message of %zu bytes exceeds msgsize=%ld of POSIX "
		                "queue %s (fixed when it was created: listen with "
		                "?msgsize=; fs.mqueue.msgsize_max=%ld limits "
		                "unprivileged creators)",
		                len, m->msgsize, m->name, sysctl_mq("msgsize_max", -1));
	long prio_max = sysconf(_SC_MQ_PRIO_MAX);
	unsigned prio = info->prio ? info->prio : (unsigned)m->def_prio;
	if (prio_max > 0 && prio >= (unsigned long)prio_max)
		return ipk__err(-EINVAL,
		                "priority %u is out of range: 0..%ld (MQ_PRIO_MAX)",
		                prio, prio_max - 1);
	if (orphaned(c, m))
		return orphan_error(m);
	for (;;) {
		struct timespec ts;
		slice(deadline, &ts);
		if (mq_timedsend(m->q, buf, len, prio, &ts) == 0)
			return (ssize_t)len;
		int e = errno;
		if (e == EINTR)
			continue;
		if (e == ETIMEDOUT) {
			if (orphaned(c, m))
				return orphan_error(m);
			if (!ipk__expired(deadline))
				continue;
			return ipk__err(ipk__timeout_err(deadline),
			                "POSIX queue %s is full: maxmsg=%ld messages "
			                "(listen with ?maxmsg= for a deeper queue; "
			                "fs.mqueue.msg_max=%ld)",
			                m->name, m->depth, sysctl_mq("msg_max", -1));
		}
		if (e == EMSGSIZE)
			return ipk__err(-EMSGSIZE,
			                "message of %zu bytes exceeds msgsize of POSIX "
			                "queue %s",
			                len, m->name);
		errno = e;
		return ipk__errno(-e, "mq_send %s", m->name);
	}
}

static ssize_t hand_over(struct mq_chan *m, ipk__rx *rx)
{
	int err = 0;
	void *dst = ipk__rx_reserve(rx, m->held_len, &err);
	if (dst == NULL && m->held_len > 0) {
		if (err == -ENOBUFS)
			ipk__err(-ENOBUFS,
			         "message of %zu bytes does not fit the %zu-byte buffer "
			         "(the channel keeps it for the next receive)",
			         m->held_len, rx->cap);
		else
			m->held = false; /* over the channel limit, or no memory */
		return err;
	}
	if (m->held_len > 0)
		memcpy(dst, m->buf, m->held_len);
	rx->info->prio = m->held_prio;
	m->held = false;
	return (ssize_t)m->held_len;
}

static ssize_t mq_recv_(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct mq_chan *m = ipk__priv(c);
	if (m->held)
		return hand_over(m, rx);
	if (!m->can_read)
		return ipk__err(-EACCES, "POSIX queue %s was opened write-only (no "
		                         "read permission)", m->name);
	/* straight into the caller's buffer when it can take any message */
	bool direct = !rx->alloc && rx->cap >= (size_t)m->msgsize;
	char *dst = direct ? rx->buf : m->buf;
	for (;;) {
		struct timespec ts;
		slice(deadline, &ts);
		unsigned prio = 0;
		ssize_t n = mq_timedreceive(m->q, dst, (size_t)m->msgsize, &prio, &ts);
		if (n >= 0) {
			if (direct) {
				rx->info->prio = prio;
				return n;
			}
			m->held = true;
			m->held_len = (size_t)n;
			m->held_prio = prio;
			return hand_over(m, rx);
		}
		int e = errno;
		if (e == EINTR)
			continue;
		if (e == ETIMEDOUT) {
			if (orphaned(c, m))
				return orphan_error(m);
			if (!ipk__expired(deadline))
				continue;
			return ipk__err(ipk__timeout_err(deadline), "%s",
			                deadline == IPK__NOW
			                        ? "no message queued (not waiting)"
			                        : "no message arrived in time");
		}
		errno = e;
		return ipk__errno(-e, "mq_receive %s", m->name);
	}
}

static int mq_fd(const ipk_chan *c)
{
	const struct mq_chan *m = ipk__priv(c);
	return (int)m->q;
}

static int mq_pending(const ipk_chan *c)
{
	const struct mq_chan *m = ipk__priv(c);
	return m->held;
}

static int mq_close_(ipk_chan *c)
{
	struct mq_chan *m = ipk__priv(c);
	int rc = 0;
	struct mq_attr a;
	long unread = mq_getattr(m->q, &a) == 0 ? (long)a.mq_curmsgs : -1;
	bool keep = ipk__owner_keeps(c->persist, m->adopted, unread);
	if (ipk__removes_on_close(c) && !keep) {
		/* unlink the name only if it still names our queue */
		bool ours = true;
		mqd_t probe = mq_open(m->name, O_RDONLY | O_CLOEXEC);
		if (probe != (mqd_t)-1) {
			struct stat st;
			ours = fstat(probe, &st) == 0 && st.st_dev == m->dev &&
			       st.st_ino == m->ino;
			mq_close(probe);
		} else {
			ours = errno != ENOENT;
		}
		if (ours && mq_unlink(m->name) < 0 && errno != ENOENT)
			rc = ipk__errno(-errno, "mq_unlink %s", m->name);
		ipk__owner_forget("mq", m->name, geteuid(), (uint64_t)m->ino);
	} else if (c->role == IPK__OWNER && keep && c->creator == getpid()) {
		/* left in place: the next listener takes it over at once */
		ipk__owner_release("mq", m->name, (uint64_t)m->ino);
	}
	if (m->q != (mqd_t)-1)
		mq_close(m->q);
	free(m->buf);
	m->buf = NULL;
	return rc;
}

static int mq_remove(ipk__url *u)
{
	char name[NAME_MAX + 2];
	int rc = parse_name(u, name);
	if (rc < 0)
		return rc;
	/* whose record to drop: the queue's owner, if we can see it */
	uid_t creator = geteuid();
	uint64_t object = IPK__OWNER_PENDING;
	for (int fl = O_RDONLY; fl <= O_WRONLY; fl++) {
		mqd_t q = mq_open(name, fl | O_CLOEXEC);
		struct stat st;
		if (q == (mqd_t)-1)
			continue;
		if (fstat(q, &st) == 0) {
			creator = st.st_uid;
			object = (uint64_t)st.st_ino;
		}
		mq_close(q);
		break;
	}
	if (mq_unlink(name) == 0) {
		ipk__owner_forget("mq", name, creator, object);
		return 0;
	}
	if (errno == ENOENT)
		return ipk__err(-ENOENT, "no POSIX queue %s", name);
	if (errno == EACCES)
		return ipk__err(-EACCES, "no permission to remove POSIX queue %s",
		                name);
	return ipk__errno(-errno, "mq_unlink %s", name);
}

int ipk__mq_status(ipk_chan *c, ipk_queue_info *st)
{
	struct mq_chan *m = ipk__priv(c);
	struct mq_attr a;
	if (mq_getattr(m->q, &a) < 0)
		return ipk__errno(-errno, "mq_getattr %s", m->name);
	st->scheme = "mq";
	st->messages = (size_t)a.mq_curmsgs;
	st->max_messages = (size_t)a.mq_maxmsg;
	st->max_msgsize = (size_t)a.mq_msgsize;
	st->flags = a.mq_flags;
	struct stat sb;
	if (fstat(m->q, &sb) == 0) {
		st->uid = st->cuid = sb.st_uid;
		st->gid = st->cgid = sb.st_gid;
		st->mode = sb.st_mode & 0777;
		st->change_time = sb.st_mtime;
	}
	/* reading the queue's file gives "QSIZE:n ..." (bytes queued) */
	if (m->can_read) {
		char text[160];
		ssize_t n = pread(m->q, text, sizeof text - 1, 0);
		if (n > 0) {
			text[n] = '\0';
			unsigned long long qsize;
			if (sscanf(text, "QSIZE:%llu", &qsize) == 1)
				st->bytes = (size_t)qsize;
		}
	}
	return 0;
}

static const char *const mq_options[] = {"msgsize", "prio", NULL};

const struct ipk_transport ipk__mq_transport = {
	.scheme = "mq",
	.summary = "POSIX message queue with priorities (mq_open)",
	.options = mq_options,
	.priv_size = sizeof(struct mq_chan),
	.listen = mq_listen,
	.dial = mq_dial,
	.send = mq_send_,
	.recv = mq_recv_,
	.fd = mq_fd,
	.pending = mq_pending,
	.close = mq_close_,
	.remove = mq_remove,
};
