/*
 * Objects that live in the file system or the socket table: FIFOs, unix
 * sockets (path and abstract, /proc/net/unix) with the processes holding
 * them, and mmap: rings in the places the caller names. FIFOs and socket
 * files are looked for in /tmp, /var/tmp and /dev/shm (a few levels deep)
 * and in the caller's paths; bound sockets anywhere are in the kernel's
 * table.
 */
#define _GNU_SOURCE
#include "objects.h"
#include "../core/owner_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPTCON 0x10000 /* __SO_ACCEPTCON: listening */
#define MAX_ENTRIES 20000 /* directory entries looked at per scan */

struct bound {
	char name[110];
	unsigned long long ino; /* socket inode */
	int type;               /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	bool listening;
	bool connected;         /* a connected socket bound to this name */
};

struct files {
	struct ipk__scanctx *c;
	struct bound *b;
	size_t nb;
	int budget;
	/* one object named relative to a directory opened once (removal):
	   the entry base in dfd, not the path looked up again */
	int dfd;
	const char *base;
};

/* Bound sockets with a name: listening, not connected, or connected with
   a name of their own (a client that bound a path before connecting: its
   file is in use while it lives). An accepted connection repeats its
   listener's name and is not an object. */
static void read_bound(struct files *f)
{
	FILE *fp = fopen("/proc/net/unix", "re");
	if (fp == NULL) {
		ipk__obj_note(f->c->list, "cannot read /proc/net/unix: %s",
		              strerror(errno));
		return;
	}
	char *line = NULL;
	size_t cap = 0, have = 0;
	while (getline(&line, &cap, fp) > 0) {
		unsigned long flags;
		unsigned type, st;
		unsigned long long ino;
		int off = 0;
		if (sscanf(line, "%*x: %*x %*x %lx %x %x %llu %n", &flags, &type, &st,
		           &ino, &off) < 4 || off == 0)
			continue;
		char *name = line + off;
		name[strcspn(name, "\n")] = '\0';
		bool listening = flags & ACCEPTCON;
		if (name[0] == '\0')
			continue;
		if (f->nb == have) {
			have = have ? 2 * have : 64;
			struct bound *b = realloc(f->b, have * sizeof *b);
			if (b == NULL)
				break;
			f->b = b;
		}
		struct bound *b = &f->b[f->nb++];
		snprintf(b->name, sizeof b->name, "%s", name);
		b->ino = ino;
		b->type = (int)type;
		b->listening = listening;
		b->connected = !listening && st != 1 /* SS_UNCONNECTED */;
	}
	free(line);
	fclose(fp);
	/* drop accepted connections: connected, under a listener's name */
	size_t keep = 0;
	for (size_t i = 0; i < f->nb; i++) {
		bool accepted = false;
		for (size_t j = 0; f->b[i].connected && j < f->nb && !accepted; j++)
			accepted = f->b[j].listening &&
			           strcmp(f->b[j].name, f->b[i].name) == 0;
		if (!accepted)
			f->b[keep++] = f->b[i];
	}
	f->nb = keep;
}

static const struct bound *bound_named(const struct files *f, const char *name)
{
	const struct bound *best = NULL;
	for (size_t i = 0; i < f->nb; i++)
		if (strcmp(f->b[i].name, name) == 0 &&
		    (best == NULL || f->b[i].listening))
			best = &f->b[i];
	return best;
}

static bool seen_file(const struct ipk__objlist *l, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].dev == dev && l->v[i].ino == ino && l->v[i].path[0])
			return true;
	return false;
}

static void set_kind(struct ipk__obj *o, int type)
{
	o->sock_type = type;
	snprintf(o->kind, sizeof o->kind, "%s",
	         type == SOCK_DGRAM ? "unixgram" : "unix");
	if (type == SOCK_SEQPACKET)
		snprintf(o->detail, sizeof o->detail, "seqpacket");
}

/* A bound socket seen in the kernel's table: live by definition. */
static void bound_socket(struct files *f, const struct bound *b,
                         struct ipk__obj *o)
{
	set_kind(o, b->type);
	o->sock_ino = b->ino;
	if (b->listening)
		snprintf(o->detail, sizeof o->detail, "listening");
	else if (b->connected)
		snprintf(o->detail, sizeof o->detail, "connected");
	ipk__procidx_holders(f->c->procs, HOLD_SOCK, 0, b->ino, o);
	o->pub.attached = (int64_t)o->pub.nholders;
	o->pub.state = IPK_OBJ_LIVE;
	o->pub.persist = 0;
	if (o->pub.nholders == 0)
		snprintf(o->why, sizeof o->why, "a socket is bound to it%s",
		         f->c->procs->unreadable ? " (its holder is another user's "
		                                   "process)"
		                                 : "");
	snprintf(o->use, sizeof o->use, "%zu holding it", o->pub.nholders);
}

/*
 * Is a socket bound to this file? Connecting answers without any privilege
 * (ECONNREFUSED: nothing is bound). Only asked of files the socket table
 * does not name, so live listeners are not disturbed.
 */
static int probe_socket(const char *path, int *type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
	int rc = -EPROTOTYPE;
	for (size_t i = 0; i < 3 && rc == -EPROTOTYPE; i++) {
		int s = socket(AF_UNIX, types[i] | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s < 0)
			return -errno;
		rc = connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : -errno;
		close(s);
		if (rc == 0 || rc == -EAGAIN || rc == -EINPROGRESS) {
			*type = types[i];
			return 0;
		}
	}
	return rc;
}

void ipk__obj_socket_file(struct ipk__obj *o, const struct ipk__procidx *x)
{
	ipk__obj_socket_file_at(o, x, -1, NULL);
}

void ipk__obj_socket_file_at(struct ipk__obj *o, const struct ipk__procidx *x,
                             int dfd, const char *base)
{
	(void)x;
	int type = 0;
	/* through the directory already opened: connect() takes only a name */
	char at[sizeof((struct sockaddr_un *)0)->sun_path];
	int rc = dfd >= 0 && snprintf(at, sizeof at, "/proc/self/fd/%d/%s", dfd,
	                              base) < (int)sizeof at
	                 ? probe_socket(at, &type)
	                 : probe_socket(o->path, &type);
	o->pub.persist = 0;
	if (rc == 0) {
		set_kind(o, type);
		o->pub.state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why,
		         "a socket is bound to it (in another network namespace)");
	} else if (rc == -ECONNREFUSED) {
		o->pub.state = IPK_OBJ_ORPHAN;
		o->pub.attached = 0;
		snprintf(o->why, sizeof o->why,
		         "no socket is bound to it: connecting is refused");
		snprintf(o->use, sizeof o->use, "0 holding it");
	} else {
		o->pub.state = IPK_OBJ_UNKNOWN;
		snprintf(o->why, sizeof o->why, "connecting to it fails: %s",
		         strerror(-rc));
	}
}

static struct ipk__obj *file_record(struct files *f, const char *kind,
                                    const char *path, const struct stat *st)
{
	struct ipk__obj *o = ipk__obj_add(f->c->list, kind);
	if (o == NULL)
		return NULL;
	snprintf(o->path, sizeof o->path, "%s", path);
	ipk__obj_from_stat(o, st);
	return o;
}

static void one_fifo(struct files *f, const char *path, const struct stat *st)
{
	struct ipk__obj *o = file_record(f, "fifo", path, st);
	if (o == NULL)
		return;
	ipk__url_escape(o->address, sizeof o->address, "fifo:", path, "");
	ipk__procidx_holders(f->c->procs, HOLD_FD, o->dev, o->ino, o);
	o->pub.attached = (int64_t)o->pub.nholders;
	/* its listener's record (src/core/owner_file.h) */
	struct ipk__owner rec;
	enum ipk__owner_state owner =
		ipk__owner_file_check("fifo", o->dev, o->ino, o->pub.uid, &rec);
	o->pub.persist = owner != IPK__OWNER_NONE && rec.persist;
	snprintf(o->use, sizeof o->use, "%zu holding it", o->pub.nholders);
	if (ipk__obj_owner_says(o, owner, &rec)) {
		/* a process may hold it where we cannot look */
		if (o->pub.state == IPK_OBJ_UNKNOWN)
			o->pub.attached = -1;
	} else if (o->pub.nholders > 0) {
		/* ipk__obj_judge: live */
	} else if (owner == IPK__OWNER_DEAD) {
		o->pub.state = IPK_OBJ_ORPHAN;
		if (rec.pid > 0)
			snprintf(o->why, sizeof o->why, "its listener, pid %d, is gone "
			         "and nobody has it open", (int)rec.pid);
		else
			snprintf(o->why, sizeof o->why, "its listener closed it%s",
			         rec.persist ? " and kept it (?persist)" : "");
	} else {
		if (f->c->procs->unreadable > 0) {
			o->pub.attached = -1;
			snprintf(o->why, sizeof o->why,
			         "no process found holding it, but some processes "
			         "could not be inspected");
		} else {
			o->pub.state = IPK_OBJ_ORPHAN;
			snprintf(o->why, sizeof o->why, "no process has it open");
		}
	}
	ipk__obj_judge(o);
}

static void one_sockfile(struct files *f, const char *path,
                         const struct stat *st)
{
	const struct bound *b = bound_named(f, path);
	if (b && !ipk__want(f->c, b->type == SOCK_DGRAM ? "unixgram" : "unix"))
		return;
	struct ipk__obj *o = file_record(f, "unix", path, st);
	if (o == NULL)
		return;
	if (b)
		bound_socket(f, b, o);
	else
		ipk__obj_socket_file_at(o, f->c->procs, f->dfd, f->base);
	struct ipk__owner rec;
	o->pub.persist = ipk__owner_file_check("sock", o->dev, o->ino,
	                                       o->pub.uid, &rec) !=
	                         IPK__OWNER_NONE &&
	                 rec.persist;
	ipk__addr(o, o->kind, path);
	if (!ipk__want(f->c, o->kind)) {
		f->c->list->n--; /* the probe told its kind: not asked for */
		return;
	}
	ipk__obj_judge(o);
}

static void one_mmap(struct files *f, const char *path, const struct stat *st)
{
	if (st->st_size < 4096)
		return;
	/* what is read is the file that was looked at (a FIFO put in its
	   place meanwhile is not opened) */
	int fd = f->dfd >= 0 ? ipk__open_regular(f->dfd, f->base, st)
	                     : ipk__open_regular(AT_FDCWD, path, st);
	if (fd < 0)
		return;
	struct ipk__obj *o = file_record(f, "mmap", path, st);
	if (o != NULL) {
		ipk__procidx_holders(f->c->procs, HOLD_MAP, o->dev, o->ino, o);
		ipk__procidx_holders(f->c->procs, HOLD_FD, o->dev, o->ino, o);
		if (ipk__obj_region_file(o, path, fd, "mmap") == 0)
			ipk__obj_judge(o);
		else
			f->c->list->n--; /* a plain file, not an IPC object */
	}
	close(fd);
}

static void visit(struct files *f, const char *path, int depth, bool mmap_too)
{
	if (f->budget-- <= 0)
		return;
	struct stat st;
	int rc = f->dfd >= 0 && depth == 0
	                 ? fstatat(f->dfd, f->base, &st, AT_SYMLINK_NOFOLLOW)
	                 : lstat(path, &st);
	if (rc < 0 || seen_file(f->c->list, st.st_dev, st.st_ino))
		return;
	if (S_ISFIFO(st.st_mode) && ipk__want(f->c, "fifo"))
		one_fifo(f, path, &st);
	else if (S_ISSOCK(st.st_mode) &&
	         (ipk__want(f->c, "unix") || ipk__want(f->c, "unixgram")))
		one_sockfile(f, path, &st);
	else if (S_ISREG(st.st_mode) && mmap_too && ipk__want(f->c, "mmap"))
		one_mmap(f, path, &st);
	else if (S_ISDIR(st.st_mode) && depth > 0) {
		DIR *d = opendir(path);
		if (d == NULL)
			return;
		struct dirent *e;
		while ((e = readdir(d)) != NULL && f->budget > 0) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char sub[300];
			if (snprintf(sub, sizeof sub, "%s%s%s", path,
			             path[strlen(path) - 1] == '/' ? "" : "/",
			             e->d_name) >= (int)sizeof sub)
				continue;
			visit(f, sub, depth - 1, mmap_too);
		}
		closedir(d);
	}
}

/* Abstract names and bound paths the directory walk did not reach. */
static void table_sockets(struct files *f)
{
	for (size_t i = 0; i < f->nb; i++) {
		const struct bound *b = &f->b[i];
		if (bound_named(f, b->name) != b)
			continue; /* a name is one object */
		const char *kind = b->type == SOCK_DGRAM ? "unixgram" : "unix";
		if (!ipk__want(f->c, kind))
			continue;
		if (b->name[0] == '@') {
			struct ipk__obj *o = ipk__obj_add(f->c->list, kind);
			if (o == NULL)
				return;
			bound_socket(f, b, o);
			ipk__addr(o, kind, b->name);
			o->pub.mode = 0777; /* no file: anyone may connect */
			ipk__obj_judge(o);
			continue;
		}
		struct stat st;
		if (b->name[0] != '/' || lstat(b->name, &st) < 0 ||
		    !S_ISSOCK(st.st_mode) ||
		    seen_file(f->c->list, st.st_dev, st.st_ino))
			continue;
		struct ipk__obj *o = file_record(f, kind, b->name, &st);
		if (o == NULL)
			return;
		bound_socket(f, b, o);
		ipk__addr(o, kind, b->name);
		ipk__obj_judge(o);
	}
}

void ipk__scan_files_at(struct ipk__scanctx *c, int dfd, const char *base,
                        const char *path)
{
	struct files f = {.c = c, .budget = 1, .dfd = dfd, .base = base};
	read_bound(&f);
	visit(&f, path, 0, true);
	free(f.b);
}

void ipk__scan_files_one(struct ipk__scanctx *c, const char *path)
{
	struct files f = {.c = c, .budget = 1, .dfd = -1};
	read_bound(&f);
	if (path[0] == '@') {
		/* an abstract name: only the socket table knows it */
		const struct bound *b = bound_named(&f, path);
		struct ipk__obj *o;
		if (b && (o = ipk__obj_add(c->list, "unix")) != NULL) {
			bound_socket(&f, b, o);
			ipk__addr(o, o->kind, path);
			ipk__obj_judge(o);
		}
	} else {
		visit(&f, path, 0, true);
	}
	free(f.b);
}

void ipk__scan_files(struct ipk__scanctx *c)
{
	static const char *const kinds[] = {"fifo", "unix", "unixgram", "mmap",
	                                    NULL};
	bool any = false;
	for (size_t i = 0; kinds[i]; i++)
		any |= ipk__want(c, kinds[i]);
	if (!any)
		return;
	struct files f = {.c = c, .budget = MAX_ENTRIES, .dfd = -1};
	read_bound(&f);
	static const char *const roots[] = {"/tmp", "/var/tmp", "/dev/shm", NULL};
	for (size_t i = 0; roots[i]; i++)
		visit(&f, roots[i], 3, false);
	for (size_t i = 0; c->paths && c->paths[i]; i++) {
		char *abs = realpath(c->paths[i], NULL);
		if (abs == NULL)
			ipk__obj_note(c->list, "%s: %s", c->paths[i], strerror(errno));
		else
			visit(&f, abs, 4, true);
		free(abs);
	}
	table_sockets(&f);
	if (f.budget <= 0)
		ipk__obj_note(c->list, "stopped looking for FIFOs and sockets after "
		              "%d directory entries", MAX_ENTRIES);
	free(f.b);
}
