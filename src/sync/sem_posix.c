/*
 * sem: — POSIX semaphores, named (sem_open, /dev/shm/sem.NAME) and unnamed
 * (sem_init in memory the caller shares). glibc creates a named semaphore
 * fully initialised before it becomes visible, so there is no init race.
 * Timed waits use sem_clockwait on CLOCK_MONOTONIC: a wall-clock change
 * neither shortens nor stretches them.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* glibc stores sem.NAME in /dev/shm: NAME_MAX minus "sem." */
#define NAME_LIMIT (NAME_MAX - 4)

static const char *label(const ipk_sem *s, char *buf, size_t cap)
{
	if (s->kind == IPK__SEM_UNNAMED)
		snprintf(buf, cap, "unnamed semaphore at %p", (void *)s->sem);
	else
		snprintf(buf, cap, "semaphore sem:%s", s->name);
	return buf;
}

static int open_failed(const char *name, int err, long value)
{
	switch (err) {
	case ENOENT:
		return ipk__err(-ENOENT,
		                "no semaphore sem:%s (create it first, e.g. "
		                "'ipckit sem create sem:%s')",
		                name, name);
	case EEXIST:
		return ipk__err(-EEXIST, "semaphore sem:%s already exists", name);
	case EACCES:
		return ipk__errno(-EACCES, "semaphore sem:%s", name);
	case EINVAL:
		return ipk__err(-EINVAL, "semaphore sem:%s: value %ld is out of range "
		                "0..SEM_VALUE_MAX=%d", name, value, SEM_VALUE_MAX);
	case EMFILE:
	case ENFILE:
		return ipk__errno(-err, "semaphore sem:%s: out of file descriptors "
		                  "(ulimit -n, fs.file-max)", name);
	default:
		return ipk__errno(-err, "sem_open sem:%s", name);
	}
}

/* Options and name of an address: open and remove read it alike. */
static int parse(ipk__url *u, struct ipk__sync_opts *o)
{
	static const char *const accepted[] = {"mode", "value", NULL};
	int rc = ipk__sync_opts(u, accepted, o);
	if (rc < 0)
		return rc;
	return ipk__sync_name(u, NAME_LIMIT, "semaphore");
}

int ipk__psem_open(ipk_sem *s, ipk__url *u, int flags, int initial)
{
	struct ipk__sync_opts o;
	int rc = parse(u, &o);
	if (rc < 0)
		return rc;
	long value = o.has_value ? o.value : initial;
	if (value > SEM_VALUE_MAX)
		return ipk__err(-EINVAL,
		                "address '%s': value %ld exceeds SEM_VALUE_MAX=%d",
		                u->text, value, SEM_VALUE_MAX);
	snprintf(s->name, sizeof s->name, "%s", u->rest);

	if (flags & IPK_SYNC_CREATE) {
		for (;;) {
			s->sem = sem_open(s->name, O_CREAT | O_EXCL, (mode_t)o.mode,
			                  (unsigned)value);
			if (s->sem != SEM_FAILED) {
				s->created = true;
				break;
			}
			if (errno != EEXIST || (flags & IPK_SYNC_EXCL))
				return open_failed(s->name, errno, value);
			s->sem = sem_open(s->name, 0);
			if (s->sem != SEM_FAILED)
				break;
			if (errno != ENOENT) /* ENOENT: removed meanwhile, create again */
				return open_failed(s->name, errno, value);
		}
	} else {
		s->sem = sem_open(s->name, 0);
		if (s->sem == SEM_FAILED)
			return open_failed(s->name, errno, value);
	}
	/* glibc maps the file without looking at its size: one cut short by
	   another process would fault at the first use */
	char file[PATH_MAX];
	struct stat st;
	snprintf(file, sizeof file, "/dev/shm/sem.%s", s->name + 1);
	if (stat(file, &st) == 0 && st.st_size < (off_t)sizeof(sem_t)) {
		sem_close(s->sem);
		s->sem = NULL;
		return ipk__err(-EPROTO,
		                "semaphore sem:%s: %s is %lld bytes, too short to hold "
		                "a semaphore (cut short or made by another program; "
		                "remove it)", s->name, file, (long long)st.st_size);
	}
	if (s->created) {
		/* sem_open applies the umask; the mode asked for is the mode we want */
		char path[PATH_MAX];
		snprintf(path, sizeof path, "/dev/shm/sem.%s", s->name + 1);
		if (chmod(path, o.mode) < 0) {
			rc = ipk__errno(-errno, "chmod %s", path);
			sem_close(s->sem);
			sem_unlink(s->name);
			return rc;
		}
	}
	return 0;
}

static int corrupt(const ipk_sem *s)
{
	char buf[300];
	return ipk__err(-EPROTO, "%s is corrupt: its value is beyond "
	                "SEM_VALUE_MAX=%d (another process wrote over it)",
	                label(s, buf, sizeof buf), SEM_VALUE_MAX);
}

int ipk__psem_wait(ipk_sem *s, int64_t deadline)
{
	char buf[300];
#if IPK__PSEM_WORDS
	int rc = ipk__psem_word_wait(s->sem, deadline);
	switch (rc) {
	case 0:
		return 0;
	case -EAGAIN:
		return ipk__err(-EAGAIN, "%s is zero", label(s, buf, sizeof buf));
	case -ETIMEDOUT:
		return ipk__err(-ETIMEDOUT, "timed out waiting for %s",
		                label(s, buf, sizeof buf));
	default:
		return corrupt(s);
	}
#endif
	for (;;) {
		int r;
		if (deadline == IPK__NOW) {
			r = sem_trywait(s->sem);
		} else if (deadline == IPK__NEVER) {
			r = sem_wait(s->sem);
		} else {
			struct timespec ts;
#ifdef IPK__TSAN
			ipk__deadline_timespec(deadline, CLOCK_REALTIME, &ts);
			r = sem_timedwait(s->sem, &ts);
#else
			ipk__deadline_timespec(deadline, CLOCK_MONOTONIC, &ts);
			r = sem_clockwait(s->sem, CLOCK_MONOTONIC, &ts);
#endif
		}
		if (r == 0)
			return 0;
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
			return ipk__err(-EAGAIN, "%s is zero", label(s, buf, sizeof buf));
		case ETIMEDOUT:
			return ipk__err(-ETIMEDOUT, "timed out waiting for %s",
			                label(s, buf, sizeof buf));
		default:
			return ipk__errno(-errno, "wait on %s", label(s, buf, sizeof buf));
		}
	}
}

int ipk__psem_post(ipk_sem *s)
{
	char buf[300];
#if IPK__PSEM_WORDS
	int rc = ipk__psem_word_post(s->sem);
	if (rc == -EPROTO)
		return corrupt(s);
	errno = -rc;
	if (rc == 0)
		return 0;
#else
	if (sem_post(s->sem) == 0)
		return 0;
#endif
	if (errno == EOVERFLOW)
		return ipk__err(-EOVERFLOW, "%s is already at SEM_VALUE_MAX=%d",
		                label(s, buf, sizeof buf), SEM_VALUE_MAX);
	return ipk__errno(-errno, "post %s", label(s, buf, sizeof buf));
}

int ipk__psem_value(ipk_sem *s)
{
#if IPK__PSEM_WORDS
	int rc = ipk__psem_word_value(s->sem);
	return rc == -EPROTO ? corrupt(s) : rc;
#endif
	char buf[300];
	int v;
	if (sem_getvalue(s->sem, &v) < 0)
		return ipk__errno(-errno, "value of %s", label(s, buf, sizeof buf));
	return v < 0 ? 0 : v; /* some systems report waiters as negative */
}

int ipk__psem_unlink(ipk_sem *s)
{
	if (s->kind == IPK__SEM_UNNAMED) {
		if (sem_destroy(s->sem) < 0)
			return ipk__errno(-errno, "sem_destroy at %p", (void *)s->sem);
		return 0;
	}
	if (sem_unlink(s->name) < 0) {
		if (errno == ENOENT)
			return ipk__err(-ENOENT, "no semaphore sem:%s (already removed?)",
			                s->name);
		return ipk__errno(-errno, "remove semaphore sem:%s", s->name);
	}
	return 0;
}

int ipk__psem_close(ipk_sem *s)
{
	if (sem_close(s->sem) < 0)
		return ipk__errno(-errno, "sem_close sem:%s", s->name);
	return 0;
}

int ipk__psem_remove(ipk__url *u)
{
	struct ipk__sync_opts o;
	int rc = parse(u, &o);
	if (rc < 0)
		return rc;
	ipk_sem s = {.kind = IPK__SEM_POSIX};
	snprintf(s.name, sizeof s.name, "%s", u->rest);
	return ipk__psem_unlink(&s);
}
