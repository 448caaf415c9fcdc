/*
 * POSIX shared memory (/dev/shm): ipckit rings, plain regions, named
 * semaphores (sem.NAME) and ipckit's named locks (ipk-KIND.NAME), each
 * recognised by what it holds, read through a private copy of its first
 * bytes: the contents are another process's and are never trusted.
 */
#define _GNU_SOURCE
#include "objects.h"
#include "../shm/bcast.h"
#include "../sync/sync.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void human(uint64_t n, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* Up to cap bytes from the start of fd into a new zeroed buffer of at
   least size bytes; *len gets how many were read. */
static void *read_start(int fd, size_t cap, size_t size, size_t *len)
{
	void *buf = calloc(1, size > cap ? size : cap ? cap : 1);
	*len = 0;
	if (buf == NULL)
		return NULL;
	while (*len < cap) {
		ssize_t n = pread(fd, (char *)buf + *len, cap - *len, (off_t)*len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	return buf;
}

static void holders_of_file(struct ipk__obj *o, const struct ipk__procidx *x)
{
	ipk__procidx_holders(x, HOLD_FD, o->dev, o->ino, o);
	ipk__procidx_holders(x, HOLD_MAP, o->dev, o->ino, o);
	if (x && x->unreadable > 0)
		o->incomplete = true;
}

/* Judge an object whose users are the processes that map or hold it. */
static void judge_by_holders(struct ipk__obj *o, const char *thing)
{
	ipk_object *p = &o->pub;
	p->attached = (int64_t)p->nholders;
	if (p->nholders > 0)
		return; /* ipk__obj_judge says live */
	if (o->incomplete) {
		p->state = IPK_OBJ_UNKNOWN;
		p->attached = -1;
		snprintf(o->why, sizeof o->why,
		         "no process found using it, but some processes could not "
		         "be inspected");
		return;
	}
	p->state = IPK_OBJ_ORPHAN;
	snprintf(o->why, sizeof o->why, "no process maps or holds this %s",
	         thing);
}

/* A ring's users are its registered producers and consumers. */
static void judge_ring(struct ipk__obj *o, const struct ipk__ringview *v)
{
	ipk_object *p = &o->pub;
	int prod = 0, cons = 0, unknown = 0;
	pid_t alive = 0;
	for (int i = 0; i < v->nslots; i++) {
		int st = ipk__pid_state(v->slot[i].pid, v->slot[i].start, 0);
		if (st == IPK_PID_ALIVE) {
			v->slot[i].consumer ? cons++ : prod++;
			if (alive == 0 || v->slot[i].consumer)
				alive = v->slot[i].pid;
			ipk__obj_hold(o, v->slot[i].pid);
		} else if (st == IPK_PID_UNKNOWN)
			unknown++;
		if (p->last.pid == 0 || st == IPK_PID_ALIVE) {
			p->last.pid = v->slot[i].pid;
			p->last.state = st;
		}
	}
	if (v->creator) {
		p->creator.pid = v->creator;
		p->creator.state = ipk__pid_state(v->creator, v->creator_start, 0);
	}
	p->producers = prod;
	p->consumers = cons;
	p->bytes = (int64_t)v->used;
	p->persist = v->persist < 0 ? 0 : v->persist;
	char used[32];
	human(v->used, used, sizeof used);
	snprintf(o->use, sizeof o->use, "%d consumer%s, %d producer%s, %s used",
	         cons, cons == 1 ? "" : "s", prod, prod == 1 ? "" : "s", used);
	if (alive) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why, "%s pid %d is alive",
		         cons ? "consumer" : "producer", (int)alive);
	} else if (unknown) {
		p->state = IPK_OBJ_UNKNOWN;
		snprintf(o->why, sizeof o->why,
		         "cannot tell whether its attached processes live");
	} else if (p->nholders == 0) {
		p->state = IPK_OBJ_ORPHAN;
		snprintf(o->why, sizeof o->why, "%s",
		         v->nslots ? "every process attached to the ring is gone"
		                   : "no process is attached to the ring");
	}
}

/*
 * A broadcast ring's users are its publisher and subscribers, recorded
 * with pid and start time (docs/pubsub.md, "Crashes"), as a ring's slots:
 * every record dead and nobody mapping it is an orphan, even when some
 * processes could not be inspected.
 */
static void judge_bcast(struct ipk__obj *o, const struct ipk__bcastview *v)
{
	ipk_object *p = &o->pub;
	int subs = 0, recorded = 0, unknown = 0;
	pid_t alive = 0, pid;
	int pst = ipk__bcast_owner_state(v->pub, &pid);
	if (pst != IPK_PID_NONE) {
		recorded++;
		p->last.pid = pid;
		p->last.state = pst;
		if (pst == IPK_PID_ALIVE) {
			alive = pid;
			ipk__obj_hold(o, pid);
		}
		unknown += pst == IPK_PID_UNKNOWN;
	}
	pid_t alive_sub = 0;
	for (uint32_t i = 0; i < v->nslots; i++) {
		int st = ipk__bcast_owner_state(v->sub[i], &pid);
		if (st == IPK_PID_NONE)
			continue;
		recorded++;
		if (p->last.pid == 0) {
			p->last.pid = pid;
			p->last.state = st;
		}
		if (st == IPK_PID_ALIVE) {
			subs++;
			if (alive_sub == 0)
				alive_sub = pid;
			ipk__obj_hold(o, pid);
		}
		unknown += st == IPK_PID_UNKNOWN;
	}
	p->producers = alive ? 1 : 0;
	p->consumers = subs;
	p->persist = v->persist;
	p->attached = (int64_t)p->nholders;
	snprintf(o->use, sizeof o->use, "%d subscriber%s, %s, %zu mapping it",
	         subs, subs == 1 ? "" : "s",
	         alive ? "publisher" : "no publisher", p->nholders);
	if (alive || alive_sub) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why, "%s pid %d is alive",
		         alive ? "publisher" : "subscriber",
		         (int)(alive ? alive : alive_sub));
	} else if (p->nholders > 0) {
		/* mapped by a process not (yet) recorded: ipk__obj_judge */
	} else if (unknown) {
		p->state = IPK_OBJ_UNKNOWN;
		p->attached = -1;
		snprintf(o->why, sizeof o->why,
		         "cannot tell whether its publisher or subscribers live");
	} else if (recorded) {
		p->state = IPK_OBJ_ORPHAN;
		snprintf(o->why, sizeof o->why,
		         "its publisher and subscribers recorded in it are gone");
	} else
		/* nobody recorded: only the mappings can tell */
		judge_by_holders(o, "broadcast ring");
}

int ipk__obj_region_file(struct ipk__obj *o, const char *path, int fd,
                         const char *scheme)
{
	size_t len;
	size_t want = o->pub.size < IPK__RING_VIEW_BYTES ? (size_t)o->pub.size
	                                                 : IPK__RING_VIEW_BYTES;
	void *buf = read_start(fd, want, IPK__RING_VIEW_BYTES, &len);
	if (buf == NULL)
		return -ENOMEM;
	struct ipk__ringview v;
	int rc = ipk__ring_view(buf, len, (size_t)o->pub.size, path, &v);
	/* a broadcast ring (src/shm/bcast.h) is told by its magic; what a
	   shm:/mmap: address with ?proto=pub|sub makes */
	bool bcast = rc < 0 && ipk__bcast_is(buf, len);
	struct ipk__bcastview *bv = NULL;
	int brc = -EPROTO;
	if (bcast && (bv = malloc(sizeof *bv)) != NULL)
		brc = ipk__bcast_view(buf, len, (size_t)o->pub.size, path, bv);
	free(buf);
	if (bcast) {
		o->is_ring = true;
		snprintf(o->detail, sizeof o->detail, "broadcast ring");
		ipk__addr(o, scheme, strcmp(scheme, "shm") == 0
		                         ? path + strlen("/dev/shm") : path);
		if (brc == 0)
			judge_bcast(o, bv);
		else {
			/* a corrupt header: its records say nothing, the mappings do */
			judge_by_holders(o, "broadcast ring");
			o->pub.persist = 0;
			snprintf(o->use, sizeof o->use, "%zu mapping it",
			         o->pub.nholders);
		}
		free(bv);
		return 0;
	}
	if (rc == 0) {
		o->is_ring = true;
		snprintf(o->detail, sizeof o->detail, "%s", v.mpmc ? "ring mpmc"
		                                                   : "ring");
		ipk__addr(o, scheme, strcmp(scheme, "shm") == 0
		                         ? path + strlen("/dev/shm") : path);
		judge_ring(o, &v);
		return 0;
	}
	o->plain = true;
	snprintf(o->detail, sizeof o->detail, "%s",
	         rc == -EAGAIN ? "region (no ring yet)" : "region");
	return rc;
}

int ipk__open_regular(int dfd, const char *name, const struct stat *seen)
{
	/* a path descriptor opens nothing: what it finds is checked, and the
	   file is then opened through it, never by its name again */
	int pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -1;
	struct stat st;
	int fd = -1;
	if (fstat(pfd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_dev == seen->st_dev && st.st_ino == seen->st_ino) {
		char self[40];
		snprintf(self, sizeof self, "/proc/self/fd/%d", pfd);
		fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	}
	close(pfd);
	return fd;
}

bool ipk__devshm_internal(const char *name)
{
	/* the owner records of queues (src/core/owner.h) are not objects */
	return strncmp(name, ".ipk-owner.", strlen(".ipk-owner.")) == 0;
}

void ipk__scan_devshm_one(struct ipk__scanctx *c, const char *name)
{
	char path[300];
	if (snprintf(path, sizeof path, "/dev/shm/%s", name) >= (int)sizeof path)
		return;
	struct stat st;
	int fd = -1;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	fd = ipk__open_regular(AT_FDCWD, path, &st);
	bool readable = fd >= 0;
	static const char *const locks[] = {NULL, "mutex", "cond", "rwlock"};
	const char *kind = "shm";
	int lock = 0;
	if (strncmp(name, "sem.", 4) == 0)
		kind = "sem";
	for (int k = 1; k <= 3; k++) {
		char prefix[16];
		snprintf(prefix, sizeof prefix, "ipk-%s.", locks[k]);
		if (strncmp(name, prefix, strlen(prefix)) == 0) {
			kind = locks[k];
			lock = k;
		}
	}
	if (!ipk__want(c, kind))
		goto out;
	struct ipk__obj *o = ipk__obj_add(c->list, kind);
	if (o == NULL)
		goto out;
	ipk_object *p = &o->pub;
	snprintf(o->path, sizeof o->path, "%s", path);
	ipk__obj_from_stat(o, &st);
	holders_of_file(o, c->procs);
	if (strcmp(kind, "sem") == 0) {
		ipk__url_escape(o->address, sizeof o->address, "sem:/", name + 4, "");
		p->persist = 0;
		if (st.st_size != (off_t)sizeof(sem_t)) {
			o->wrong_size = true;
			snprintf(o->detail, sizeof o->detail, "not a semaphore");
		} else if (readable) {
			/* glibc's sem_t on 64-bit machines: the value is the low half
			   of the first 64-bit word */
			uint64_t word;
			if (sizeof(void *) == 8 &&
			    pread(fd, &word, sizeof word, 0) == (ssize_t)sizeof word)
				p->value = (int64_t)(word & 0x7fffffffu);
		}
		judge_by_holders(o, "semaphore");
		/* its value is its state: a named semaphore stays until removed
		   (docs/sync.md), so gc keeps it; rm removes it. One that is not
		   a semaphore's size holds no value anyone can use. */
		if (!o->wrong_size)
			p->persist = -1;
		if (p->value >= 0)
			snprintf(o->use, sizeof o->use, "value %lld, %zu mapping it",
			         (long long)p->value, p->nholders);
		else
			snprintf(o->use, sizeof o->use, "%zu mapping it", p->nholders);
	} else if (lock) {
		char pre[16];
		snprintf(pre, sizeof pre, "%s:/", kind);
		ipk__url_escape(o->address, sizeof o->address, pre,
		                name + strlen("ipk-.") + strlen(kind), "");
		p->persist = 0;
		if (readable) {
			size_t len;
			void *buf = read_start(fd, 64, 64, &len);
			int rc = buf ? ipk__named_check(buf, len, lock, path) : -ENOMEM;
			free(buf);
			snprintf(o->detail, sizeof o->detail, "%s",
			         rc == 0 ? "" : rc == -EAGAIN ? "not initialised"
			                                      : "not an ipckit lock");
			o->plain = rc == -EPROTO;
		}
		judge_by_holders(o, kind);
		snprintf(o->use, sizeof o->use, "%zu mapping it", p->nholders);
	} else {
		ipk__url_escape(o->address, sizeof o->address, "shm:/", name, "?region");
		if (!readable) {
			snprintf(o->detail, sizeof o->detail, "unreadable");
			snprintf(o->why, sizeof o->why,
			         "no permission to read it: cannot tell a ring from a "
			         "plain region");
			snprintf(o->use, sizeof o->use, "%zu mapping it", p->nholders);
		} else if (ipk__obj_region_file(o, path, fd, "shm") < 0) {
			judge_by_holders(o, "region");
			/* nothing records who made a plain region or whether it is
			   kept on purpose: regions persist until removed */
			p->persist = -1;
			snprintf(o->use, sizeof o->use, "%zu mapping it", p->nholders);
		}
	}
	ipk__obj_judge(o);
out:
	if (fd >= 0)
		close(fd);
}

void ipk__scan_devshm(struct ipk__scanctx *c)
{
	static const char *const kinds[] = {"shm", "sem", "mutex", "cond",
	                                    "rwlock", NULL};
	bool any = false;
	for (size_t i = 0; kinds[i]; i++)
		any |= ipk__want(c, kinds[i]);
	if (!any)
		return;
	DIR *d = opendir("/dev/shm");
	if (d == NULL) {
		ipk__obj_note(c->list, "cannot read /dev/shm: %s", strerror(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    !ipk__devshm_internal(e->d_name))
			ipk__scan_devshm_one(c, e->d_name);
	closedir(d);
}
