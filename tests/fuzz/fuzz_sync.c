/*
 * The shared state of the synchronisation objects on hostile bytes: a
 * mutex, a condition variable, a read-write lock and an unnamed POSIX
 * semaphore, each at the very end of its own page with a PROT_NONE page
 * after it. The input rewrites any of their bytes between calls (before
 * the first, or while one is held), and the harness locks, unlocks,
 * repairs, waits, signals and posts without waiting long (timeouts 0, or
 * 1 ms for a condition wait). Checked: every answer is a documented one,
 * a semaphore's value is never beyond SEM_VALUE_MAX, and what this thread
 * locked (with nobody rewriting it since) unlocks.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "core/internal.h"

#include <errno.h>
#include <ipckit.h>
#include <limits.h>
#include <semaphore.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

enum { MUTEX, COND, RWLOCK, SEM, NOBJ };
static const size_t obj_size[NOBJ] = {sizeof(ipk_mutex), sizeof(ipk_cond),
                                      sizeof(ipk_rwlock), IPK_SEM_MEM_SIZE};
#define SPAN 8192 /* each object's page(s), then a forbidden page */

static unsigned char *area;
static unsigned char *obj[NOBJ];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	area = mmap(NULL, NOBJ * (SPAN + 4096), PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		abort();
	for (int i = 0; i < NOBJ; i++) {
		unsigned char *base = area + (size_t)i * (SPAN + 4096);
		if (mprotect(base + SPAN, 4096, PROT_NONE) < 0)
			abort();
		obj[i] = base + SPAN - obj_size[i];
	}
	return 0;
}

static bool lock_answer(int rc)
{
	return rc == 0 || rc == -EOWNERDEAD || rc == -ENOTRECOVERABLE ||
	       rc == -EDEADLK || rc == -EAGAIN || rc == -ETIMEDOUT ||
	       rc == -EPERM || rc == -EPROTO || rc == -EINVAL || rc == -EBUSY;
}

static void patch(struct fz *f)
{
	int which = fz_u8(f) % NOBJ;
	size_t off = fz_u16(f) % obj_size[which], n;
	const uint8_t *b = fz_bytes(f, fz_u8(f) % 17, &n);
	if (n > obj_size[which] - off)
		n = obj_size[which] - off;
	memcpy(obj[which] + off, b, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (area == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	struct fz f = {data, size};
	ipk_mutex *m = (ipk_mutex *)(void *)obj[MUTEX];
	ipk_cond *c = (ipk_cond *)(void *)obj[COND];
	ipk_rwlock *rw = (ipk_rwlock *)(void *)obj[RWLOCK];
	FZ_CHECK(ipk_mutex_init(m) == 0);
	FZ_CHECK(ipk_cond_init(c) == 0);
	FZ_CHECK(ipk_rwlock_init(rw) == 0);
	ipk_sem *s;
	FZ_CHECK(ipk_sem_init_at(&s, obj[SEM], 1) == 0);
	for (int i = fz_u8(&f) % 4; i > 0; i--)
		patch(&f);
	bool held = false; /* the mutex is ours (it is not recursive) */
	int rheld = 0, wheld = 0;
	bool touched = false; /* bytes rewritten since a lock was taken */
	for (int ops = 0; ops < 48 && f.n > 0; ops++) {
		int rc;
		switch (fz_u8(&f) % 14) {
		case 0:
			rc = ipk_mutex_lock(m, 0);
			FZ_CHECK(lock_answer(rc));
			if (rc == 0 || rc == -EOWNERDEAD) {
				held = true;
				touched = false;
			}
			break;
		case 1:
			rc = ipk_mutex_unlock(m);
			FZ_CHECK(lock_answer(rc));
			/* what we hold, untouched since, unlocks */
			if (held && !touched)
				FZ_CHECK(rc == 0);
			if (rc == 0)
				held = false;
			break;
		case 2:
			FZ_CHECK(lock_answer(ipk_mutex_consistent(m)));
			break;
		case 3:
			rc = ipk_cond_signal(c);
			FZ_CHECK(rc == 0 || rc == -EINVAL);
			break;
		case 4:
			rc = ipk_cond_broadcast(c);
			FZ_CHECK(rc == 0 || rc == -EINVAL);
			break;
		case 5:
			rc = ipk_cond_wait(c, m, 1);
			FZ_CHECK(lock_answer(rc));
			/* held again after waiting, unless relocking failed */
			if (held && rc != 0 && rc != -ETIMEDOUT && rc != -EOWNERDEAD &&
			    rc != -EINVAL && rc != -EPERM)
				held = false;
			break;
		case 6:
			rc = ipk_rwlock_rdlock(rw, 0);
			FZ_CHECK(lock_answer(rc));
			if (rc == 0)
				rheld++;
			if (rc == -EOWNERDEAD) {
				FZ_CHECK(lock_answer(ipk_rwlock_consistent(rw)));
				wheld++;
			}
			break;
		case 7:
			rc = ipk_rwlock_wrlock(rw, 0);
			FZ_CHECK(lock_answer(rc));
			if (rc == -EOWNERDEAD)
				FZ_CHECK(lock_answer(ipk_rwlock_consistent(rw)));
			if (rc == 0 || rc == -EOWNERDEAD)
				wheld++;
			break;
		case 8:
			rc = ipk_rwlock_unlock(rw);
			FZ_CHECK(lock_answer(rc));
			break;
		case 9:
			rc = ipk_sem_wait(s, 0);
			FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EPROTO);
			break;
		case 10:
			rc = ipk_sem_post(s);
			FZ_CHECK(rc == 0 || rc == -EOVERFLOW || rc == -EPROTO);
			break;
		case 11:
			rc = ipk_sem_value(s);
			FZ_CHECK((rc >= 0 && rc <= SEM_VALUE_MAX) || rc == -EPROTO);
			break;
		case 12:
			FZ_CHECK(lock_answer(ipk_mutex_destroy(m)));
			break;
		default:
			patch(&f);
			touched = true;
			break;
		}
	}
	/* let go of what is ours; a held lock whose bytes changed may refuse */
	if (held)
		ipk_mutex_unlock(m);
	while (rheld-- + wheld-- > 0 && ipk_rwlock_unlock(rw) == 0)
		;
	ipk_sem_close(s);
	return 0;
}
