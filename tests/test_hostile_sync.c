/*
 * Locks and semaphores in memory that a hostile process writes. Each
 * object sits at the very end of its mapping, before a page that may not
 * be touched, and its bytes are spoiled while it is in use: every call
 * must end in a documented answer (an error, -EPROTO for a state no
 * object has), never in an access outside the object, an abort or a hang
 * past its timeout. (Single-threaded: not among the ThreadSanitizer tests.)
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

TestSuite(hostile_sync, .fini = ipkt_check_dev_shm, .timeout = 120);

struct guarded {
	unsigned char *map;
	size_t len;
	void *obj; /* n bytes that end where the forbidden page begins */
};

/* n bytes of shared memory at the end of a page, a PROT_NONE page after;
   another forbidden page is what every "pointer" below points at */
static void *guarded(struct guarded *g, size_t n)
{
	g->len = 3 * 4096 + ((n + 4095) & ~(size_t)4095);
	g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(g->map, MAP_FAILED);
	size_t span = g->len - 2 * 4096;
	cr_assert_eq(mprotect(g->map + span, 4096, PROT_NONE), 0);
	cr_assert_eq(mprotect(g->map + span + 4096, 4096, PROT_NONE), 0);
	g->obj = g->map + span - n;
	return g->obj;
}

static uint64_t forbidden(const struct guarded *g)
{
	return (uint64_t)(uintptr_t)(g->map + g->len - 4096 + 64);
}

static void unguard(struct guarded *g)
{
	munmap(g->map, g->len);
}

static bool lock_answer(int rc)
{
	return rc == 0 || rc == -EOWNERDEAD || rc == -ENOTRECOVERABLE ||
	       rc == -EDEADLK || rc == -EAGAIN || rc == -ETIMEDOUT ||
	       rc == -EPERM || rc == -EPROTO || rc == -EINVAL || rc == -EBUSY;
}

/* ---------------------------------------------------------------- mutex */

Test(hostile_sync, mutex_words_after_its_lock_point_elsewhere)
{
	/* everything after the first 24 bytes (magic, lock word and state)
	   turned into pointers at a forbidden page while the mutex is held:
	   a lock that kept its owner's list in there would store through
	   them on unlock */
	struct guarded g;
	ipk_mutex *m = guarded(&g, sizeof *m);
	cr_assert_eq(ipk_mutex_init(m), 0);
	cr_assert_eq(ipk_mutex_lock(m, 1000), 0);
	uint64_t bad = forbidden(&g);
	for (size_t off = 24; off + 8 <= sizeof *m; off += 8)
		memcpy((unsigned char *)m + off, &bad, 8);
	cr_expect_eq(ipk_mutex_unlock(m), 0, "%s", ipk_last_error());
	cr_expect_eq(ipk_mutex_lock(m, 1000), 0, "%s", ipk_last_error());
	cr_expect_eq(ipk_mutex_unlock(m), 0, "%s", ipk_last_error());
	unguard(&g);
}

Test(hostile_sync, mutex_any_bytes)
{
	/* a valid magic, anything else: every call answers within its time */
	struct guarded g;
	ipk_mutex *m = guarded(&g, sizeof *m);
	for (uint32_t round = 0; round < 300; round++) {
		cr_assert_eq(ipk_mutex_init(m), 0);
		ipkt_fill((unsigned char *)m + 8, sizeof *m - 8, round);
		if (round % 3 == 0) /* a thread that cannot exist */
			memset((unsigned char *)m + 8, 0xff, 4);
		int rc = ipk_mutex_lock(m, round % 2 ? 0 : 30);
		cr_assert(lock_answer(rc), "round %u: lock gave %d", round, rc);
		if (rc == -EOWNERDEAD)
			cr_expect_eq(ipk_mutex_consistent(m), 0);
		if (rc == 0 || rc == -EOWNERDEAD)
			cr_expect_eq(ipk_mutex_unlock(m), 0);
		rc = ipk_mutex_unlock(m);
		cr_assert(lock_answer(rc), "round %u: unlock gave %d", round, rc);
		rc = ipk_mutex_destroy(m);
		cr_assert(lock_answer(rc), "round %u: destroy gave %d", round, rc);
	}
	unguard(&g);
}

Test(hostile_sync, mutex_state_word_spoiled)
{
	struct guarded g;
	ipk_mutex *m = guarded(&g, sizeof *m);
	cr_assert_eq(ipk_mutex_init(m), 0);
	uint32_t bad = 77;
	memcpy((unsigned char *)m + 16, &bad, 4); /* the state word */
	cr_expect_eq(ipk_mutex_lock(m, 100), -EPROTO);
	cr_expect(strstr(ipk_last_error(), "corrupt") != NULL, "%s",
	          ipk_last_error());
	unguard(&g);
}

/* --------------------------------------------------------------- rwlock */

Test(hostile_sync, rwlock_any_bytes)
{
	struct guarded g;
	ipk_rwlock *rw = guarded(&g, sizeof *rw);
	uint64_t bad = forbidden(&g);
	for (uint32_t round = 0; round < 200; round++) {
		cr_assert_eq(ipk_rwlock_init(rw), 0);
		if (round % 2) {
			ipkt_fill((unsigned char *)rw + 4, sizeof *rw - 4, round);
		} else {
			/* held for reading, then every word turned into a pointer */
			cr_assert_eq(ipk_rwlock_rdlock(rw, 100), 0);
			for (size_t off = 8; off + 8 <= sizeof *rw; off += 8)
				memcpy((unsigned char *)rw + off, &bad, 8);
		}
		int rc = ipk_rwlock_unlock(rw);
		cr_assert(lock_answer(rc), "round %u: unlock gave %d", round, rc);
		rc = ipk_rwlock_rdlock(rw, 20);
		cr_assert(lock_answer(rc), "round %u: rdlock gave %d", round, rc);
		if (rc == 0 || rc == -EOWNERDEAD)
			ipk_rwlock_unlock(rw);
		rc = ipk_rwlock_wrlock(rw, 20);
		cr_assert(lock_answer(rc), "round %u: wrlock gave %d", round, rc);
		if (rc == -EOWNERDEAD)
			ipk_rwlock_consistent(rw);
		if (rc == 0 || rc == -EOWNERDEAD)
			ipk_rwlock_unlock(rw);
	}
	unguard(&g);
}

/* ----------------------------------------------------------------- cond */

Test(hostile_sync, cond_any_bytes)
{
	struct guarded g;
	struct pair {
		ipk_mutex m;
		ipk_cond c;
	} *p = guarded(&g, sizeof(struct pair));
	for (uint32_t round = 0; round < 100; round++) {
		cr_assert_eq(ipk_mutex_init(&p->m), 0);
		cr_assert_eq(ipk_cond_init(&p->c), 0);
		ipkt_fill((unsigned char *)&p->c + 4, sizeof p->c - 4, round);
		cr_expect_eq(ipk_cond_signal(&p->c), 0);
		cr_expect_eq(ipk_cond_broadcast(&p->c), 0);
		cr_assert_eq(ipk_mutex_lock(&p->m, 100), 0);
		int rc = ipk_cond_wait(&p->c, &p->m, 5);
		cr_assert(rc == 0 || rc == -ETIMEDOUT, "round %u: %d", round, rc);
		cr_expect_eq(ipk_mutex_unlock(&p->m), 0);
	}
	unguard(&g);
}

/* ----------------------------------------------------------- semaphores */

Test(hostile_sync, unnamed_semaphore_private_word)
{
	/* the word glibc hands to the futex call as its flags: nonsense there
	   made glibc abort the process */
	struct guarded g;
	void *mem = guarded(&g, IPK_SEM_MEM_SIZE);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_init_at(&s, mem, 0), 0);
	uint32_t bad = 0x12345678;
	memcpy((unsigned char *)mem + 8, &bad, 4);
	int64_t t0 = ipkt_now_ms();
	cr_expect_eq(ipk_sem_wait(s, 50), -ETIMEDOUT, "%s", ipk_last_error());
	cr_expect_lt(ipkt_now_ms() - t0, 5000);
	cr_expect_eq(ipk_sem_post(s), 0, "%s", ipk_last_error());
	cr_expect_eq(ipk_sem_wait(s, 50), 0, "%s", ipk_last_error());
	ipk_sem_close(s);
	unguard(&g);
}

Test(hostile_sync, unnamed_semaphore_value_beyond_the_maximum)
{
	struct guarded g;
	void *mem = guarded(&g, IPK_SEM_MEM_SIZE);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_init_at(&s, mem, 0), 0);
	uint64_t d = 0xfffffff0u;
	memcpy(mem, &d, 8);
	cr_expect_eq(ipk_sem_value(s), -EPROTO);
	cr_expect_eq(ipk_sem_post(s), -EPROTO);
	cr_expect_eq(ipk_sem_wait(s, 0), -EPROTO);
	cr_expect_eq(ipk_sem_wait(s, 50), -EPROTO);
	cr_expect(strstr(ipk_last_error(), "corrupt") != NULL, "%s",
	          ipk_last_error());
	/* waiters that a killed process left counted are only a count */
	d = (uint64_t)7 << 32 | 1;
	memcpy(mem, &d, 8);
	cr_expect_eq(ipk_sem_value(s), 1);
	cr_expect_eq(ipk_sem_wait(s, 50), 0);
	cr_expect_eq(ipk_sem_post(s), 0);
	cr_expect_eq(ipk_sem_value(s), 1);
	ipk_sem_close(s);
	unguard(&g);
}

Test(hostile_sync, named_semaphore_file_cut_short)
{
	/* the file behind a named semaphore truncated by another process:
	   mapping it and using it would fault */
	char url[300];
	snprintf(url, sizeof url, "sem:%s", ipkt_name("short"));
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 1), 0, "%s",
	             ipk_last_error());
	ipk_sem_close(s);
	char file[400];
	snprintf(file, sizeof file, "/dev/shm/sem.%s", url + strlen("sem:/"));
	cr_assert_eq(truncate(file, 0), 0);
	cr_expect_eq(ipk_sem_open(&s, url, 0, 0), -EPROTO);
	cr_expect(strstr(ipk_last_error(), "too short") != NULL, "%s",
	          ipk_last_error());
	cr_expect_eq(ipk_sync_remove(url), 0);
}

Test(hostile_sync, named_lock_headers)
{
	/* a named mutex whose file says it is something else, or is the
	   wrong size: refused, never used */
	char url[300], file[400];
	snprintf(url, sizeof url, "mutex:%s", ipkt_name("hdr"));
	snprintf(file, sizeof file, "/dev/shm/ipk-mutex.%s",
	         url + strlen("mutex:/"));
	ipk_mutex *m;
	cr_assert_eq(ipk_mutex_open(&m, url, IPK_SYNC_CREATE), 0, "%s",
	             ipk_last_error());
	ipk_mutex_close(m);
	int fd = open(file, O_RDWR);
	cr_assert_geq(fd, 0);
	uint32_t kind = 2; /* a condition variable's */
	cr_assert_eq(pwrite(fd, &kind, 4, 4), 4);
	cr_expect_eq(ipk_mutex_open(&m, url, 0), -EINVAL);
	kind = 1;
	cr_assert_eq(pwrite(fd, &kind, 4, 4), 4);
	uint64_t size = 1 << 30;
	cr_assert_eq(pwrite(fd, &size, 8, 8), 8);
	cr_expect_eq(ipk_mutex_open(&m, url, 0), -EINVAL);
	close(fd);
	char opt[320];
	snprintf(opt, sizeof opt, "%s?timeout=100", url);
	cr_assert_eq(truncate(file, 16), 0);
	cr_expect_eq(ipk_mutex_open(&m, opt, 0), -ETIMEDOUT);
	cr_expect_eq(ipk_sync_remove(url), 0);
}
