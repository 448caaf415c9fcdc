/* The semaphore handle: one API over POSIX named, unnamed and System V. */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ipk_sem_open(ipk_sem **out, const char *url, int flags, int initial)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_sem_open: out is NULL");
	*out = NULL;
	int rc = ipk__sync_flags(flags,
	                         IPK_SYNC_CREATE | IPK_SYNC_EXCL | IPK_SYNC_NOUNDO,
	                         "ipk_sem_open");
	if (rc < 0)
		return rc;
	if (initial < 0)
		return ipk__err(-EINVAL,
		                "%s: initial value %d: a semaphore cannot be negative",
		                url ? url : "(null)", initial);
	ipk__url u;
	if ((rc = ipk__url_parse(&u, url)) < 0)
		return rc;
	ipk_sem *s = calloc(1, sizeof *s);
	if (s == NULL) {
		ipk__url_free(&u);
		return ipk__err(-ENOMEM, "out of memory");
	}
	s->id = -1;
	if (strcmp(u.scheme, "sem") == 0) {
		s->kind = IPK__SEM_POSIX;
		rc = ipk__psem_open(s, &u, flags, initial);
	} else if (strcmp(u.scheme, "sysvsem") == 0) {
		s->kind = IPK__SEM_SYSV;
		rc = ipk__ssem_open(s, &u, flags, initial);
	} else {
		rc = ipk__err(-EINVAL,
		              "address '%s': not a semaphore (use sem:/name or "
		              "sysvsem:/path, sysvsem:0xKEY, sysvsem:private)",
		              url);
	}
	ipk__url_free(&u);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int check(const ipk_sem *s, const char *fn)
{
	if (s == NULL)
		return ipk__err(-EINVAL, "%s: semaphore is NULL", fn);
	return 0;
}

static int at(ipk_sem **out, void *addr, const char *fn)
{
	if (out == NULL || addr == NULL)
		return ipk__err(-EINVAL, "%s: NULL argument", fn);
	*out = NULL;
	if ((uintptr_t)addr % 8 != 0)
		return ipk__err(-EINVAL, "%s: address %p is not aligned to 8", fn,
		                addr);
	ipk_sem *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	s->kind = IPK__SEM_UNNAMED;
	s->id = -1;
	s->sem = addr;
	*out = s;
	return 0;
}

_Static_assert(sizeof(sem_t) <= IPK_SEM_MEM_SIZE, "IPK_SEM_MEM_SIZE too small");

int ipk_sem_init_at(ipk_sem **out, void *addr, int initial)
{
	if (initial < 0)
		return ipk__err(-EINVAL,
		                "ipk_sem_init_at: initial value %d: a semaphore cannot "
		                "be negative",
		                initial);
	int rc = at(out, addr, "ipk_sem_init_at");
	if (rc < 0)
		return rc;
	if (sem_init(addr, 1, (unsigned)initial) < 0) {
		rc = ipk__errno(-errno, "sem_init at %p with value %d", addr, initial);
		free(*out);
		*out = NULL;
		return rc;
	}
	(*out)->created = true;
	return 0;
}

int ipk_sem_attach_at(ipk_sem **out, void *addr)
{
	return at(out, addr, "ipk_sem_attach_at");
}

int ipk_sem_created(const ipk_sem *s)
{
	return s != NULL && s->created;
}

int ipk_sem_wait(ipk_sem *s, int timeout_ms)
{
	int rc = check(s, "ipk_sem_wait");
	if (rc < 0)
		return rc;
	int64_t deadline = ipk__deadline(timeout_ms);
	if (s->kind == IPK__SEM_SYSV) {
		ipk_semop op = {0, -1, 0};
		return ipk__ssem_op(s, &op, 1, deadline);
	}
	return ipk__psem_wait(s, deadline);
}

int ipk_sem_trywait(ipk_sem *s)
{
	return ipk_sem_wait(s, 0);
}

int ipk_sem_post(ipk_sem *s)
{
	int rc = check(s, "ipk_sem_post");
	if (rc < 0)
		return rc;
	if (s->kind == IPK__SEM_SYSV) {
		ipk_semop op = {0, 1, 0};
		return ipk__ssem_op(s, &op, 1, IPK__NOW);
	}
	return ipk__psem_post(s);
}

int ipk_sem_value(ipk_sem *s)
{
	int rc = check(s, "ipk_sem_value");
	if (rc < 0)
		return rc;
	if (s->kind == IPK__SEM_SYSV)
		return ipk_semset_get(s, 0);
	return ipk__psem_value(s);
}

int ipk_sem_unlink(ipk_sem *s)
{
	int rc = check(s, "ipk_sem_unlink");
	if (rc < 0)
		return rc;
	if (s->kind == IPK__SEM_SYSV)
		return ipk__ssem_unlink(s);
	return ipk__psem_unlink(s);
}

int ipk_sem_close(ipk_sem *s)
{
	if (s == NULL)
		return 0;
	int rc = 0;
	if (s->kind == IPK__SEM_POSIX)
		rc = ipk__psem_close(s);
	free(s);
	return rc;
}
