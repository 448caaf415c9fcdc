/* Internal interfaces of the synchronisation objects (src/sync). */
#ifndef IPK_SYNC_H
#define IPK_SYNC_H

#include "../core/internal.h"

#include <pthread.h>
#include <semaphore.h>

/* ---------------------------------------------------- ThreadSanitizer */

/*
 * TSan does not see the ordering that semop(2), fcntl(2) locks and
 * pthread_*_clocklock give, and does not intercept the *clock* variants.
 * Under TSan the timed paths use the REALTIME variants it understands, and
 * the kernel-side objects are annotated with acquire/release on an anchor.
 */
#if defined(__SANITIZE_THREAD__)
#define IPK__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPK__TSAN 1
#endif
#endif

#ifdef IPK__TSAN
#include <sanitizer/tsan_interface.h>
void *ipk__tsan_anchor(uint64_t key);
#define IPK__TSAN_ACQUIRE(key) __tsan_acquire(ipk__tsan_anchor(key))
#define IPK__TSAN_RELEASE(key) __tsan_release(ipk__tsan_anchor(key))
#else
#define IPK__TSAN_ACQUIRE(key) ((void)(key))
#define IPK__TSAN_RELEASE(key) ((void)(key))
#endif

/* ------------------------------------------------------------- names */

/*
 * Check a POSIX object name given as "/name" (one leading slash, no other,
 * at most max bytes after the slash). what names the object in messages.
 */
int ipk__sync_name(const ipk__url *u, size_t max, const char *what);

/* Options common to the sync objects; unknown options are refused. */
struct ipk__sync_opts {
	unsigned mode;        /* default 0600 */
	bool has_value;
	long value;           /* ?value= */
	long nsems;           /* ?n=, 0 if absent */
	long proj;            /* ?proj=, default 1 */
	bool undo;            /* default true */
	int64_t open_wait_ms; /* ?timeout=, default 10000 */
};

/* Parse the options in u; accepted lists the keys allowed (NULL-terminated). */
int ipk__sync_opts(ipk__url *u, const char *const *accepted,
                   struct ipk__sync_opts *o);

/* -EINVAL with a message if flags has bits outside allowed. */
int ipk__sync_flags(int flags, int allowed, const char *fn);

/* ----------------------------------------------------------- semaphores */

enum ipk__sem_kind { IPK__SEM_POSIX, IPK__SEM_UNNAMED, IPK__SEM_SYSV };

struct ipk_sem {
	enum ipk__sem_kind kind;
	bool created;
	/* POSIX */
	sem_t *sem;
	char name[256];
	/* System V */
	int id;
	int nsems;
	bool undo;
	key_t key;
};

/*
 * POSIX semaphores are waited on and posted by psem_word.c, on glibc's
 * 64-bit layout of sem_t, rather than by glibc (which trusts words in the
 * shared memory): -EPROTO for a value no semaphore has. Elsewhere glibc's
 * calls are used.
 */
#if defined(__GLIBC__) && defined(__LP64__)
#define IPK__PSEM_WORDS 1
int ipk__psem_word_wait(sem_t *s, int64_t deadline);
int ipk__psem_word_post(sem_t *s);
int ipk__psem_word_value(sem_t *s);
#else
#define IPK__PSEM_WORDS 0
#endif

int ipk__psem_open(ipk_sem *s, ipk__url *u, int flags, int initial);
int ipk__psem_wait(ipk_sem *s, int64_t deadline);
int ipk__psem_post(ipk_sem *s);
int ipk__psem_value(ipk_sem *s);
int ipk__psem_unlink(ipk_sem *s);
int ipk__psem_close(ipk_sem *s);
int ipk__psem_remove(ipk__url *u);

int ipk__ssem_open(ipk_sem *s, ipk__url *u, int flags, int initial);
int ipk__ssem_op(ipk_sem *s, const ipk_semop *ops, size_t n, int64_t deadline);
int ipk__ssem_unlink(ipk_sem *s);
int ipk__ssem_remove(ipk__url *u);

/* ------------------------------------------------------ locks in memory */

/* Message for what ipk__mtx_lock gave, naming the object and the
 * function that repairs it; returns rc. */
int ipk__lock_result(int rc, const char *what, const char *repair);
struct ipk__mtx;
/* The lock inside an initialised ipk_mutex (NULL, *rc set, if not). */
struct ipk__mtx *ipk__mutex_raw(ipk_mutex *m, const char *fn, int *rc);

/* Kinds of named objects. */
#define IPK__MUTEX_KIND 1
#define IPK__COND_KIND 2
#define IPK__RWLOCK_KIND 3

/*
 * Named objects: map "KIND:/name" (POSIX shm "/ipk-KIND.name") holding an
 * object of size bytes. The creator runs init(obj) before publishing it;
 * openers wait for that. *obj gets the object's address.
 */
int ipk__named_open(const char *url, int kind, size_t size, int flags,
                    int (*init)(void *obj), void **obj);
int ipk__named_close(void *obj, int kind);
int ipk__named_remove(ipk__url *u, int kind);
/*
 * Judge the first len bytes (a copy) of a named object's shared memory: 0 if
 * it is an initialised object of that kind, -EAGAIN if it is not
 * initialised yet (or its creator died first), -EPROTO if it holds
 * something else (a message says what).
 */
int ipk__named_check(const void *buf, size_t len, int kind, const char *what);
/* "mutex:/name" for a named object, "what at 0x..." otherwise. */
const char *ipk__named_label(const void *obj, const char *what, char *buf,
                             size_t cap);

#endif /* IPK_SYNC_H */
