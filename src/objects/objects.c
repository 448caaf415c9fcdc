/*
 * The inventory's public face: a scan collects every object into a list
 * (scanners per source), judges each, and hands the records out one by one.
 */
#define _GNU_SOURCE
#include "objects.h"
#include "../core/owner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kinds[] = {
	"sysvmq", "sysvshm", "sysvsem", "shm",  "sem",      "mq",   "mutex",
	"cond",   "rwlock",  "fifo",    "unix", "unixgram", "mmap", "record",
	NULL};

struct ipk_objscan {
	struct ipk__objlist list;
	size_t next;
};

/* ------------------------------------------------------------ records */

void ipk__obj_fix(struct ipk__obj *o)
{
	o->pub.kind = o->kind;
	o->pub.address = o->address;
	o->pub.path = o->path;
	o->pub.detail = o->detail;
	o->pub.use = o->use;
	o->pub.why = o->why;
}

struct ipk__obj *ipk__obj_add(struct ipk__objlist *l, const char *kind)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct ipk__obj *v = realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	struct ipk__obj *o = &l->v[l->n++];
	memset(o, 0, sizeof *o);
	snprintf(o->kind, sizeof o->kind, "%s", kind);
	o->pub.state = IPK_OBJ_UNKNOWN;
	o->pub.persist = -1;
	o->pub.id = -1;
	o->pub.key = -1;
	o->pub.messages = o->pub.bytes = o->pub.value = o->pub.count = -1;
	o->pub.attached = -1;
	o->pub.producers = o->pub.consumers = -1;
	return o;
}

void ipk__obj_note(struct ipk__objlist *l, const char *fmt, ...)
{
	if (l->nnotes >= IPK__ARRAY_LEN(l->notes))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->notes[l->nnotes], sizeof l->notes[0], fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < l->nnotes; i++)
		if (strcmp(l->notes[i], l->notes[l->nnotes]) == 0)
			return; /* said already */
	l->nnotes++;
}

void ipk__obj_hold(struct ipk__obj *o, pid_t pid)
{
	size_t n = o->pub.nholders < IPK_OBJ_MAXHOLDERS ? o->pub.nholders
	                                                : IPK_OBJ_MAXHOLDERS;
	for (size_t i = 0; i < n; i++)
		if (o->pub.holders[i] == pid)
			return;
	if (n < IPK_OBJ_MAXHOLDERS)
		o->pub.holders[n] = pid;
	o->pub.nholders++;
}

bool ipk__want(const struct ipk__scanctx *c, const char *kind)
{
	return c->kind == NULL || strcmp(c->kind, kind) == 0;
}

/*
 * The rules every kind shares, applied after its scanner recorded what it
 * found: a holder found now makes it live; permission 0 on an object
 * nobody uses is its own state (only root could use it, so it is not ours
 * to judge).
 */
void ipk__obj_judge(struct ipk__obj *o)
{
	ipk_object *p = &o->pub;
	if (p->nholders > 0 && (p->state != IPK_OBJ_LIVE || !o->why[0])) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why, "held by pid %d%s",
		         (int)p->holders[0],
		         p->nholders > 1 ? " and others" : "");
	}
	if (p->state != IPK_OBJ_LIVE && (p->mode & 0777) == 0) {
		p->state = IPK_OBJ_PERM0;
		snprintf(o->why, sizeof o->why,
		         "permission 0: only root can use it");
	}
	ipk__obj_fix(o);
}

/* ---------------------------------------------------------- public API */

const char *ipk_objstate_name(int state)
{
	switch (state) {
	case IPK_OBJ_LIVE: return "live";
	case IPK_OBJ_ORPHAN: return "orphan";
	case IPK_OBJ_PERM0: return "permission-0";
	default: return "unknown";
	}
}

static bool known_kind(const char *k)
{
	for (size_t i = 0; kinds[i]; i++)
		if (strcmp(kinds[i], k) == 0)
			return true;
	return false;
}

int ipk_objects_open(ipk_objscan **out, const ipk_objscan_opts *opts)
{
	*out = NULL;
	ipk_objscan_opts none = {0};
	if (opts == NULL)
		opts = &none;
	if (opts->flags != 0)
		return ipk__err(-EINVAL, "ipk_objects_open: unknown flags %#x",
		                opts->flags);
	if (opts->kind && !known_kind(opts->kind))
		return ipk__err(-EINVAL,
		                "unknown kind '%s' (sysvmq sysvshm sysvsem shm sem mq "
		                "mutex cond rwlock fifo unix unixgram mmap record)",
		                opts->kind);
	ipk_objscan *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	struct ipk__procidx procs;
	int rc = ipk__procidx_build(&procs);
	if (rc < 0) {
		free(s);
		return rc;
	}
	if (procs.unreadable > 0)
		ipk__obj_note(&s->list,
		              "%d of %d processes (pid %d%s) could not be inspected%s: "
		              "what they hold is not known, so FIFOs, POSIX queues "
		              "and regions that nobody else holds are 'unknown'",
		              procs.unreadable, procs.procs,
		              (int)procs.first_unreadable,
		              procs.unreadable > 1 ? " and others" : "",
		              geteuid() ? " (other users' processes: run as root to "
		                          "see them)"
		                        : "");
	/* the kernel's first pid namespace has this fixed inode; from any
	   other, processes outside are invisible (a container sharing /tmp,
	   unshare --pid): say so, and records of their pids are 'unknown' */
	uint64_t pidns = ipk__pid_ns();
	if (pidns != 0 && pidns != 0xEFFFFFFCu)
		ipk__obj_note(&s->list,
		              "this pid namespace (%llu) is not the machine's: "
		              "processes outside it cannot be seen. An owner record "
		              "of another pid namespace makes its object 'unknown', "
		              "but a ring or file used only from outside may look "
		              "unused: run gc from the machine's pid namespace",
		              (unsigned long long)pidns);
	struct ipk__scanctx c = {&s->list, &procs, opts->kind, opts->paths};
	ipk__scan_sysv(&c);
	ipk__scan_devshm(&c);
	ipk__scan_mqueue(&c);
	ipk__scan_files(&c);
	ipk__scan_records(&c);
	ipk__procidx_free(&procs);
	for (size_t i = 0; i < s->list.n; i++)
		ipk__obj_fix(&s->list.v[i]);
	*out = s;
	return 0;
}

const ipk_object *ipk_objects_next(ipk_objscan *s)
{
	if (s == NULL || s->next >= s->list.n)
		return NULL;
	return &s->list.v[s->next++].pub;
}

const char *ipk_objects_note(const ipk_objscan *s, size_t i)
{
	return s && i < s->list.nnotes ? s->list.notes[i] : NULL;
}

void ipk_objects_close(ipk_objscan *s)
{
	if (s == NULL)
		return;
	free(s->list.v);
	free(s);
}

int ipk_objects_setns(pid_t pid)
{
	if (pid <= 0)
		return ipk__err(-EINVAL, "setns: no such process %d", (int)pid);
	static const struct {
		const char *name;
		int type;
	} ns[] = {{"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET}, {"mnt", CLONE_NEWNS}};
	int fds[3] = {-1, -1, -1};
	int rc = 0;
	/* open every namespace first: after entering the mount namespace,
	   /proc may be another one */
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			rc = ipk__errno(-errno, "open %s", path);
	}
	for (size_t i = 0; i < 3 && rc == 0; i++)
		if (setns(fds[i], ns[i].type) < 0)
			rc = ipk__errno(-errno,
			                "setns into the %s namespace of pid %d%s",
			                ns[i].name, (int)pid,
			                errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
	for (size_t i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (rc == 0 && chdir("/") < 0)
		rc = ipk__errno(-errno, "chdir / after setns");
	return rc;
}

void ipk__scan_dir(struct ipk__scanctx *c, int dfd,
                   bool (*want)(const char *name),
                   void (*one)(struct ipk__scanctx *c, int dfd,
                               const char *name))
{
	/* a copy for the stream: closedir closes it, dfd stays ours */
	int dup_fd = dup(dfd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (d == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    want(e->d_name))
			one(c, dfd, e->d_name);
	closedir(d);
}
