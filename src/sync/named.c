/*
 * Named locks: "mutex:/name", "cond:/name", "rwlock:/name", each in its own
 * small POSIX shared-memory object /dev/shm/ipk-KIND.name.
 *
 * Publishing is race-free the same way as for System V sets: the creator is
 * the process whose shm_open(O_CREAT|O_EXCL) succeeded; it sizes the object,
 * initialises the lock and only then stores the header's ready word (release
 * order). Openers wait for the size and then the ready word (acquire order),
 * up to ?timeout=, so nobody ever uses a half-initialised lock.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define READY_MAGIC 0x4b504931u /* "1IPK" */
#define HDR_SIZE 64

struct hdr {
	uint32_t ready; /* READY_MAGIC once the object is initialised */
	uint32_t kind;
	uint64_t size;
};

static const char *const kind_names[] = {NULL, "mutex", "cond", "rwlock"};

/* Process-local list of what ipk_*_open() mapped, for close and messages. */
struct mapping {
	struct mapping *next;
	void *obj;
	void *base;
	size_t len;
	int kind;
	char url[PATH_MAX];
};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapping *mappings;

const char *ipk__named_label(const void *obj, const char *what, char *buf,
                             size_t cap)
{
	snprintf(buf, cap, "%s at %p", what, obj);
	pthread_mutex_lock(&list_lock);
	for (struct mapping *m = mappings; m; m = m->next)
		if (m->obj == obj) {
			snprintf(buf, cap, "%s", m->url);
			break;
		}
	pthread_mutex_unlock(&list_lock);
	return buf;
}

/* Options a named mutex, cond or rwlock address takes (open and remove). */
static const char *const accepted[] = {"mode", "timeout", NULL};

static int shm_name(ipk__url *u, int kind, char *out, size_t cap)
{
	size_t prefix = strlen("ipk-.") + strlen(kind_names[kind]);
	int rc = ipk__sync_name(u, NAME_MAX - prefix, kind_names[kind]);
	if (rc < 0)
		return rc;
	snprintf(out, cap, "/ipk-%s.%s", kind_names[kind], u->rest + 1);
	return 0;
}

static int check_scheme(ipk__url *u, int kind)
{
	if (strcmp(u->scheme, kind_names[kind]) != 0)
		return ipk__err(-EINVAL, "address '%s' is not a %s (expected %s:/name)",
		                u->text, kind_names[kind], kind_names[kind]);
	return 0;
}

static int wait_ready(int fd, size_t len, struct hdr **out, int kind,
                      size_t size, const char *url, int64_t deadline)
{
	unsigned round = 0;
	struct stat st;
	for (;;) {
		if (fstat(fd, &st) < 0)
			return ipk__errno(-errno, "stat %s", url);
		if ((size_t)st.st_size >= len)
			break;
		if (ipk__expired(deadline))
			goto never;
		ipk__backoff(&round, deadline);
	}
	struct hdr *h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return ipk__errno(-errno, "mmap %s", url);
	while (__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE) != READY_MAGIC) {
		if (ipk__expired(deadline)) {
			munmap(h, len);
			goto never;
		}
		ipk__backoff(&round, deadline);
	}
	if (h->kind != (uint32_t)kind || h->size != size) {
		munmap(h, len);
		return ipk__err(-EINVAL, "%s holds a different kind or version of "
		                "object (remove it)", url);
	}
	*out = h;
	return 0;
never:
	return ipk__err(ipk__timeout_err(deadline),
	                "%s exists but was never initialised: its creator died "
	                "before finishing? Remove it (ipk_sync_remove) and retry",
	                url);
}

int ipk__named_open(const char *url, int kind, size_t size, int flags,
                    int (*init)(void *obj), void **obj)
{
	*obj = NULL;
	int rc = ipk__sync_flags(flags, IPK_SYNC_CREATE | IPK_SYNC_EXCL,
	                         kind == IPK__MUTEX_KIND  ? "ipk_mutex_open"
	                         : kind == IPK__COND_KIND ? "ipk_cond_open"
	                                                  : "ipk_rwlock_open");
	if (rc < 0)
		return rc;
	ipk__url u;
	struct ipk__sync_opts o;
	char name[NAME_MAX + 2];
	if ((rc = ipk__url_parse(&u, url)) < 0)
		return rc;
	if ((rc = check_scheme(&u, kind)) < 0 ||
	    (rc = ipk__sync_opts(&u, accepted, &o)) < 0 ||
	    (rc = shm_name(&u, kind, name, sizeof name)) < 0) {
		ipk__url_free(&u);
		return rc;
	}
	struct mapping *m = calloc(1, sizeof *m);
	if (m == NULL) {
		ipk__url_free(&u);
		return ipk__err(-ENOMEM, "out of memory");
	}
	snprintf(m->url, sizeof m->url, "%s:%s", u.scheme, u.rest);
	ipk__url_free(&u);
	long page = sysconf(_SC_PAGESIZE);
	m->len = (HDR_SIZE + size + (size_t)page - 1) / (size_t)page * (size_t)page;
	m->kind = kind;
	int64_t deadline = ipk__deadline((int)o.open_wait_ms);

	struct hdr *h = NULL;
	for (;;) {
		int fd = -1;
		if (flags & IPK_SYNC_CREATE) {
			fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			              (mode_t)o.mode);
			if (fd >= 0) {
				/* shm_open applies the umask: set the mode asked for */
				if (fchmod(fd, (mode_t)o.mode) < 0 ||
				    ftruncate(fd, (off_t)m->len) < 0) {
					rc = ipk__errno(-errno, "create %s", m->url);
					goto undo_create;
				}
				h = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
				         0);
				if (h == MAP_FAILED) {
					h = NULL;
					rc = ipk__errno(-errno, "mmap %s", m->url);
					goto undo_create;
				}
				h->kind = (uint32_t)kind;
				h->size = size;
				if ((rc = init((char *)h + HDR_SIZE)) < 0)
					goto undo_create;
				__atomic_store_n(&h->ready, READY_MAGIC, __ATOMIC_RELEASE);
				close(fd);
				break;
			undo_create:
				if (h)
					munmap(h, m->len);
				close(fd);
				shm_unlink(name);
				free(m);
				return rc;
			}
			if (errno != EEXIST || (flags & IPK_SYNC_EXCL)) {
				rc = errno == EEXIST
				             ? ipk__err(-EEXIST, "%s already exists", m->url)
				             : ipk__errno(-errno, "create %s", m->url);
				free(m);
				return rc;
			}
		}
		fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
		if (fd < 0) {
			if (errno == ENOENT && (flags & IPK_SYNC_CREATE))
				continue; /* removed meanwhile: create it */
			rc = errno == ENOENT
			             ? ipk__err(-ENOENT, "no %s (create it first)", m->url)
			             : ipk__errno(-errno, "open %s", m->url);
			free(m);
			return rc;
		}
		rc = wait_ready(fd, m->len, &h, kind, size, m->url, deadline);
		close(fd);
		if (rc < 0) {
			free(m);
			return rc;
		}
		break;
	}
	m->base = h;
	m->obj = (char *)h + HDR_SIZE;
	pthread_mutex_lock(&list_lock);
	m->next = mappings;
	mappings = m;
	pthread_mutex_unlock(&list_lock);
	*obj = m->obj;
	return 0;
}

int ipk__named_close(void *obj, int kind)
{
	if (obj == NULL)
		return 0;
	pthread_mutex_lock(&list_lock);
	struct mapping **pp = &mappings, *m = NULL;
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->obj == obj && (*pp)->kind == kind) {
			m = *pp;
			*pp = m->next;
			break;
		}
	pthread_mutex_unlock(&list_lock);
	if (m == NULL)
		return ipk__err(-EINVAL, "ipk_%s_close: %p did not come from "
		                "ipk_%s_open (or was closed already)",
		                kind_names[kind], obj, kind_names[kind]);
	int rc = 0;
	if (munmap(m->base, m->len) < 0)
		rc = ipk__errno(-errno, "munmap %s", m->url);
	free(m);
	return rc;
}

int ipk__named_check(const void *buf, size_t len, int kind, const char *what)
{
	struct hdr h;
	if (len < sizeof h)
		return len == 0 ? ipk__err(-EAGAIN, "%s is empty (never initialised)",
		                           what)
		                : ipk__err(-EPROTO, "%s is %zu bytes: not an ipckit %s",
		                           what, len, kind_names[kind]);
	memcpy(&h, buf, sizeof h);
	if (h.ready == 0 && h.kind == 0)
		return ipk__err(-EAGAIN, "%s was never initialised", what);
	if (h.ready != READY_MAGIC && h.ready != 0)
		return ipk__err(-EPROTO, "%s does not hold an ipckit %s (header %#x)",
		                what, kind_names[kind], h.ready);
	if (h.kind != (uint32_t)kind)
		return ipk__err(-EPROTO, "%s holds an ipckit %s, not a %s", what,
		                h.kind >= 1 && h.kind <= 3 ? kind_names[h.kind]
		                                           : "object of unknown kind",
		                kind_names[kind]);
	return h.ready == READY_MAGIC ? 0 : ipk__err(-EAGAIN, "%s is not "
	                                             "initialised yet", what);
}

int ipk__named_remove(ipk__url *u, int kind)
{
	struct ipk__sync_opts o;
	char name[NAME_MAX + 2];
	int rc;
	if ((rc = ipk__sync_opts(u, accepted, &o)) < 0 ||
	    (rc = shm_name(u, kind, name, sizeof name)) < 0)
		return rc;
	/* remove only what holds this kind of lock (or never got a header) */
	int fd = shm_open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
	if (fd >= 0) {
		struct hdr h = {0};
		ssize_t n = pread(fd, &h, sizeof h, 0);
		close(fd);
		char what[NAME_MAX + 16];
		snprintf(what, sizeof what, "%s:%s", u->scheme, u->rest);
		if (n >= 0 && (rc = ipk__named_check(&h, (size_t)n, kind, what)) ==
		                      -EPROTO)
			return ipk__err(-EINVAL, "%s; not removing it", ipk_last_error());
	}
	if (shm_unlink(name) < 0) {
		if (errno == ENOENT)
			return ipk__err(-ENOENT, "no %s:%s", u->scheme, u->rest);
		return ipk__errno(-errno, "remove %s:%s", u->scheme, u->rest);
	}
	return 0;
}
