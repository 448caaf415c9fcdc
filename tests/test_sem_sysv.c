/*
 * System V semaphore sets (sysvsem:): creation and the init race, atomic
 * multi-operations, wait-for-zero, SEM_UNDO when a holder is killed,
 * timeouts, removal while waiting, bad input. .fini checks that no set of
 * ours is left in /proc/sysvipc/sem.
 */
#define _GNU_SOURCE
#include "util.h"

#include "sync_util.h"
#include "tsan_harness.h"
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* Keys of this test process: 0x1c PPPP NN (pid bits, serial). */
static unsigned key_serial;
static int extra_ids[64];
static int nextra;

static unsigned key_base(void)
{
	return 0x1c000000u | (((unsigned)getpid() & 0xffffu) << 8);
}

static unsigned new_key(void)
{
	cr_assert_lt(key_serial, 255u);
	return key_base() | ++key_serial;
}

static void key_url(char *buf, size_t cap, unsigned key, const char *opts)
{
	snprintf(buf, cap, "sysvsem:0x%08x%s", key, opts ? opts : "");
}

/* A set that is not under one of our keys (private, ftok): checked too. */
static void track_id(int id)
{
	if (nextra < 64)
		extra_ids[nextra++] = id;
}

static void check_clean(void)
{
	FILE *f = fopen("/proc/sysvipc/sem", "r");
	cr_assert(f != NULL);
	char line[512];
	int left = 0;
	unsigned leftkey = 0;
	int leftid = -1;
	fgets(line, sizeof line, f);
	while (fgets(line, sizeof line, f)) {
		long long key;
		int id;
		if (sscanf(line, "%lld %d", &key, &id) != 2)
			continue;
		unsigned k = (unsigned)key;
		bool ours = (k & 0xffffff00u) == key_base();
		for (int i = 0; i < nextra; i++)
			ours |= extra_ids[i] == id;
		if (ours) {
			left++;
			leftkey = k;
			leftid = id;
			semctl(id, 0, IPC_RMID);
		}
	}
	fclose(f);
	cr_assert_eq(left, 0, "test left semaphore set key 0x%08x id %d behind",
	             leftkey, leftid);
}

TestSuite(sysvsem, .fini = check_clean, .timeout = 180);

/* Poll the kernel's waiter count (no sleeping for a fixed time). */
static void await_waiters(ipk_sem *s, unsigned num, int ndec, int nzero)
{
	for (int i = 0; i < 60000; i++) {
		int d, z;
		cr_assert_eq(ipk_semset_waiters(s, num, &d, &z), 0);
		if (d >= ndec && z >= nzero)
			return;
		usleep(1000);
	}
	cr_assert_fail("waiters never arrived");
}

/* ------------------------------------------------------------- tests */

Test(sysvsem, create_open_values)
{
	char url[128];
	key_url(url, sizeof url, new_key(), "?n=3");
	ipk_sem *a, *b;
	cr_assert_eq(ipk_sem_open(&a, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 2), 0,
	             "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_created(a), 1);
	cr_assert_eq(ipk_semset_count(a), 3);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(ipk_semset_get(a, i), 2);
	cr_assert_eq(ipk_sem_open(&b, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 2),
	             -EEXIST);
	cr_assert(strstr(ipk_last_error(), "already exists"), "%s",
	          ipk_last_error());

	/* open without n: takes the set as it is */
	char plain[128];
	snprintf(plain, sizeof plain, "%.*s", (int)strcspn(url, "?"), url);
	cr_assert_eq(ipk_sem_open(&b, plain, 0, 0), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_created(b), 0);
	cr_assert_eq(ipk_semset_count(b), 3);
	cr_assert_eq(ipk_semset_id(b), ipk_semset_id(a));
	cr_assert_eq(ipk_sem_wait(b, 0), 0);
	cr_assert_eq(ipk_sem_value(a), 1);
	cr_assert_eq(ipk_sem_post(a), 0);
	cr_assert_eq(ipk_semset_set(a, 2, 7), 0);
	cr_assert_eq(ipk_semset_get(b, 2), 7);
	ipk_sem_close(b);

	/* asking for more semaphores than the set has */
	char more[160];
	snprintf(more, sizeof more, "%s?n=4", plain);
	cr_assert_eq(ipk_sem_open(&b, more, 0, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "has 3 semaphores"), "%s",
	          ipk_last_error());

	/* by id */
	char byid[64];
	snprintf(byid, sizeof byid, "sysvsem:@%d", ipk_semset_id(a));
	cr_assert_eq(ipk_sem_open(&b, byid, 0, 0), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_semset_get(b, 2), 7);
	ipk_sem_close(b);

	cr_assert_eq(ipk_sync_remove(plain), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_open(&b, plain, 0, 0), -ENOENT);
	cr_assert(strstr(ipk_last_error(), "no System V semaphore set"), "%s",
	          ipk_last_error());
	/* the old handle now reports the removal */
	cr_assert_eq(ipk_sem_post(a), -EIDRM);
	cr_assert(strstr(ipk_last_error(), "removed"), "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_wait(a, 0), -EIDRM);
	cr_assert_eq(ipk_sem_value(a), -EIDRM);
	cr_assert_eq(ipk_sem_unlink(a), -ENOENT);
	cr_assert_eq(ipk_sync_remove(plain), -ENOENT);
	ipk_sem_close(a);
}

Test(sysvsem, ftok_path_and_private)
{
	const char *file = ipkt_path("ftok");
	char url[300];
	snprintf(url, sizeof url, "sysvsem:%s?proj=7", file);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 1), -ENOENT);
	cr_assert(strstr(ipk_last_error(), "ftok"), "%s", ipk_last_error());

	int fd = open(file, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1), 0,
	             "%s", ipk_last_error());
	track_id(ipk_semset_id(s));
	cr_assert_eq(ipk_sem_value(s), 1);
	cr_assert_eq(ipk_sync_remove(url), 0, "%s", ipk_last_error());
	ipk_sem_close(s);
	unlink(file);

	/* private: always new, shared by fork or by id */
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:private", 0, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:private?n=2", IPK_SYNC_CREATE, 4),
	             0, "%s", ipk_last_error());
	track_id(ipk_semset_id(s));
	ipk_sem *t;
	cr_assert_eq(ipk_sem_open(&t, "sysvsem:private", IPK_SYNC_CREATE, 0), 0);
	track_id(ipk_semset_id(t));
	cr_assert_neq(ipk_semset_id(s), ipk_semset_id(t));
	cr_assert_eq(ipk_sem_value(s), 4);
	cr_assert_eq(ipk_sync_remove("sysvsem:private"), -EINVAL);
	cr_assert_eq(ipk_sem_unlink(s), 0);
	cr_assert_eq(ipk_sem_unlink(t), 0);
	ipk_sem_close(s);
	ipk_sem_close(t);
}

Test(sysvsem, bad_input)
{
	ipk_sem *s;
	char url[128];
	unsigned key = new_key();
	key_url(url, sizeof url, key, "?n=0");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);
	key_url(url, sizeof url, key, "?n=40000");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "SEMMSL"), "%s", ipk_last_error());
	key_url(url, sizeof url, key, "?value=40000");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "SEMVMX"), "%s", ipk_last_error());
	key_url(url, sizeof url, key, "?value=-1");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);
	key_url(url, sizeof url, key, NULL);
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, -5), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:/tmp?proj=0", IPK_SYNC_CREATE, 0),
	             -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:/tmp?proj=256", IPK_SYNC_CREATE,
	                          0),
	             -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:0", IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert(strstr(ipk_last_error(), "IPC_PRIVATE"), "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:0xZZ", IPK_SYNC_CREATE, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:0x1ffffffff", 0, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:name", 0, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:@", 0, 0), -EINVAL);
	cr_assert_eq(ipk_sem_open(&s, "sysvsem:@2147483000", 0, 0), -ENOENT);
	cr_assert_eq(ipk_sem_open(&s, url, 0, 0), -ENOENT, "unknown key");
	key_url(url, sizeof url, key, "?undo=maybe");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 0), -EINVAL);

	key_url(url, sizeof url, key, "?n=2");
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 1), 0);
	ipk_semop op = {2, -1, 0};
	cr_assert_eq(ipk_semset_op(s, &op, 1, 0), -EFBIG);
	cr_assert(strstr(ipk_last_error(), "past the end"), "%s", ipk_last_error());
	op = (ipk_semop){0, -1, 0x40};
	cr_assert_eq(ipk_semset_op(s, &op, 1, 0), -EINVAL);
	cr_assert_eq(ipk_semset_get(s, 5), -EFBIG);
	cr_assert_eq(ipk_semset_set(s, 0, -1), -EINVAL);
	cr_assert_eq(ipk_semset_set(s, 0, 32768), -EINVAL);
	cr_assert_eq(ipk_semset_op(s, NULL, 1, 0), -EINVAL);
	cr_assert_eq(ipk_semset_op(s, &op, 0, 0), 0, "no operations: nothing to do");

	/* more operations than kernel.sem SEMOPM allows */
	size_t many = 2000;
	ipk_semop *ops = calloc(many, sizeof *ops);
	for (size_t i = 0; i < many; i++)
		ops[i] = (ipk_semop){(unsigned short)(i & 1), 0, 0};
	cr_assert_eq(ipk_semset_set(s, 0, 0), 0);
	cr_assert_eq(ipk_semset_set(s, 1, 0), 0);
	cr_assert_eq(ipk_semset_op(s, ops, many, 0), -E2BIG);
	cr_assert(strstr(ipk_last_error(), "SEMOPM"), "%s", ipk_last_error());
	free(ops);

	/* past SEMVMX */
	cr_assert_eq(ipk_semset_set(s, 0, 32767), 0);
	cr_assert_eq(ipk_sem_post(s), -ERANGE);
	cr_assert(strstr(ipk_last_error(), "SEMVMX"), "%s", ipk_last_error());
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
}

Test(sysvsem, atomic_multi_op_and_timeout)
{
	char url[128];
	key_url(url, sizeof url, new_key(), "?n=2");
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 0), 0);
	cr_assert_eq(ipk_semset_set(s, 0, 1), 0);
	/* take both or neither: #1 is zero, so nothing may change */
	ipk_semop both[2] = {{0, -1, 0}, {1, -1, 0}};
	cr_assert_eq(ipk_semset_op(s, both, 2, 0), -EAGAIN);
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_semset_op(s, both, 2, 200), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 200);
	cr_assert(strstr(ipk_last_error(), "timed out"), "%s", ipk_last_error());
	cr_assert_eq(ipk_semset_get(s, 0), 1, "semaphore 0 must be untouched");

	ipk_semop up1 = {1, 1, 0};
	cr_assert_eq(ipk_semset_op(s, &up1, 1, 0), 0);
	cr_assert_eq(ipk_semset_op(s, both, 2, 1000), 0);
	cr_assert_eq(ipk_semset_get(s, 0), 0);
	cr_assert_eq(ipk_semset_get(s, 1), 0);
	cr_assert_eq(ipk_sem_trywait(s), -EAGAIN);
	t0 = ipkt_now_ms();
	cr_assert_eq(ipk_sem_wait(s, 150), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 150);
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
}

Test(sysvsem, wait_for_zero)
{
	char url[128];
	key_url(url, sizeof url, new_key(), NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 2), 0);
	ipk_semop zero = {0, 0, 0};
	cr_assert_eq(ipk_semset_op(s, &zero, 1, 0), -EAGAIN);
	pid_t pid = fork();
	if (pid == 0) {
		ipk_sem *c;
		if (ipk_sem_open(&c, url, 0, 0) < 0)
			_exit(2);
		_exit(ipk_semset_op(c, &zero, 1, 60000) == 0 ? 0 : 1);
	}
	await_waiters(s, 0, 0, 1);
	cr_assert_eq(ipk_sem_wait(s, 0), 0);
	cr_assert_eq(ipk_sem_wait(s, 0), 0);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
}

/* A child takes the semaphore and is killed while holding it. */
static void killed_holder(const char *url, bool undo_expected)
{
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1), 0,
	             "%s", ipk_last_error());
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		ipk_sem *c;
		if (ipk_sem_open(&c, url, 0, 0) < 0 || ipk_sem_wait(c, 60000) < 0)
			_exit(2);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	ipkt_await(p[0]);
	cr_assert_eq(ipk_sem_value(s), 0);
	kill(pid, SIGKILL);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL);
	if (undo_expected) {
		cr_assert_eq(ipk_sem_wait(s, 10000), 0, "%s", ipk_last_error());
		cr_assert_eq(ipk_sem_post(s), 0);
		cr_assert_eq(ipk_sem_value(s), 1);
	} else {
		cr_assert_eq(ipk_sem_wait(s, 200), -ETIMEDOUT);
		cr_assert_eq(ipk_sem_value(s), 0);
	}
	close(p[0]);
	close(p[1]);
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
}

Test(sysvsem, undo_gives_back_on_sigkill)
{
	char url[128];
	key_url(url, sizeof url, new_key(), NULL);
	killed_holder(url, true);
}

Test(sysvsem, undo_opt_out)
{
	char url[128];
	key_url(url, sizeof url, new_key(), "?undo=0");
	killed_holder(url, false);
}

Test(sysvsem, undo_per_operation)
{
	/* handle with undo off, one operation asks for it */
	char url[128];
	key_url(url, sizeof url, new_key(), NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_NOUNDO, 1), 0);
	pid_t pid = fork();
	if (pid == 0) {
		ipk_semop take = {0, -1, IPK_SEMOP_UNDO};
		_exit(ipk_semset_op(s, &take, 1, 0) == 0 ? 0 : 1);
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	cr_assert_eq(ipk_sem_value(s), 1, "the child's exit undid its wait");
	pid = fork();
	if (pid == 0) {
		ipk_semop take = {0, -1, 0};
		_exit(ipk_semset_op(s, &take, 1, 0) == 0 ? 0 : 1);
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	cr_assert_eq(ipk_sem_value(s), 0, "no undo: the wait stays");
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
}

Test(sysvsem, removed_while_waiting)
{
	char url[128];
	key_url(url, sizeof url, new_key(), NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 0), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = ipk_sem_wait(s, 60000);
		_exit(rc == -EIDRM && strstr(ipk_last_error(), "removed") ? 0 : 1);
	}
	await_waiters(s, 0, 1, 0);
	cr_assert_eq(ipk_sync_remove(url), 0);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	ipk_sem_close(s);
}

Test(sysvsem, mutual_exclusion_processes)
{
	enum { PROCS = 4, ITERS = 2000 };
	char url[128];
	key_url(url, sizeof url, new_key(), NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1), 0);
	struct counter *c = ipkt_shared(sizeof *c);
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		if ((pids[p] = fork()) == 0) {
			ipk_sem *h;
			if (ipk_sem_open(&h, url, 0, 0) < 0)
				_exit(2);
			for (int i = 0; i < ITERS; i++) {
				if (ipk_sem_wait(h, i & 1 ? -1 : 60000) < 0)
					_exit(3);
				critical(c);
				if (ipk_sem_post(h) < 0)
					_exit(4);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++)
		cr_assert_eq(ipkt_wait_child(pids[p]), 0);
	cr_assert_eq(c->value, (long)PROCS * ITERS);
	cr_assert_eq(c->overlap, 0);
	cr_assert_eq(ipk_sem_value(s), 1);
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
	munmap(c, sizeof *c);
}

struct tharg {
	ipk_sem *s;
	struct counter *c;
	int fails;
};

static void *thread_hammer(void *p)
{
	struct tharg *a = p;
	for (int i = 0; i < 2000; i++) {
		if (ipk_sem_wait(a->s, i & 1 ? -1 : 60000) < 0) {
			a->fails++;
			continue;
		}
		critical(a->c);
		if (ipk_sem_post(a->s) < 0)
			a->fails++;
	}
	return NULL;
}

Test(sysvsem, mutual_exclusion_threads)
{
	char url[128];
	key_url(url, sizeof url, new_key(), NULL);
	ipk_sem *s;
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1), 0);
	struct counter c = {0};
	pthread_t t[4];
	struct tharg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct tharg){s, &c, 0};
		cr_assert_eq(pthread_create(&t[i], NULL, thread_hammer, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(a[i].fails, 0);
	}
	cr_assert_eq(c.value, 8000);
	cr_assert_eq(c.overlap, 0);
	cr_assert_eq(ipk_sem_unlink(s), 0);
	ipk_sem_close(s);
}

/*
 * The init race, made deterministic: a set exists but its creator has not
 * initialised it yet. An opener must not use it: it waits, and gives up with
 * a clear message if the creator never finishes.
 */
Test(sysvsem, opener_waits_for_creator)
{
	unsigned key = new_key();
	char url[128];
	key_url(url, sizeof url, key, "?timeout=300");
	int id = semget((key_t)key, 1, IPC_CREAT | IPC_EXCL | 0600);
	cr_assert_geq(id, 0);

	ipk_sem *s;
	int64_t t0 = ipkt_now_ms();
	cr_assert_eq(ipk_sem_open(&s, url, IPK_SYNC_CREATE, 1), -ETIMEDOUT);
	cr_assert_geq(ipkt_now_ms() - t0, 300);
	cr_assert(strstr(ipk_last_error(), "never initialised"), "%s",
	          ipk_last_error());
	key_url(url, sizeof url, key, "?timeout=0");
	cr_assert_eq(ipk_sem_open(&s, url, 0, 0), -EAGAIN);

	/* an opener started now sees the creator's values, not the kernel's */
	key_url(url, sizeof url, key, "?timeout=60000");
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		ipk_sem *c;
		int rc = ipk_sem_open(&c, url, IPK_SYNC_CREATE, 1);
		int v = rc < 0 ? rc : ipk_sem_value(c);
		(void)!write(p[1], &v, sizeof v);
		_exit(0);
	}
	/* the creator finishing: values, then the publishing semop */
	cr_assert_eq(semctl(id, 0, SETVAL, 5), 0);
	struct sembuf pub[2] = {{0, -1, IPC_NOWAIT}, {0, 1, IPC_NOWAIT}};
	cr_assert_eq(semop(id, pub, 2), 0);
	int v = -1;
	cr_assert_eq(read(p[0], &v, sizeof v), (ssize_t)sizeof v);
	cr_assert_eq(v, 5);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	close(p[0]);
	close(p[1]);
	semctl(id, 0, IPC_RMID);
}

/*
 * The init race, stressed: many processes released at once all create-or-
 * open the same key with initial value 1 and use it as a lock. Exactly one
 * must create it, and nobody may use it before it is initialised (a lock
 * that starts at 0 would hang, one that is reset mid-use would let two in).
 */
Test(sysvsem, init_race_many_processes)
{
	enum { ROUNDS = 10, PROCS = 12, ITERS = 100 };
	struct shared_state {
		int created[PROCS];
		int failed[PROCS];
		struct counter c;
	} *st = ipkt_shared(sizeof *st);
	for (int r = 0; r < ROUNDS; r++) {
		memset(st, 0, sizeof *st);
		char url[128];
		key_url(url, sizeof url, new_key(), "?n=2");
		int gate[2];
		cr_assert_eq(pipe(gate), 0);
		pid_t pids[PROCS];
		for (int p = 0; p < PROCS; p++) {
			if ((pids[p] = fork()) == 0) {
				close(gate[1]);
				char b;
				(void)!read(gate[0], &b, 1); /* released together at EOF */
				ipk_sem *s;
				int rc = ipk_sem_open(&s, url, IPK_SYNC_CREATE, 1);
				if (rc < 0) {
					st->failed[p] = rc;
					_exit(1);
				}
				st->created[p] = ipk_sem_created(s);
				for (int i = 0; i < ITERS; i++) {
					if (ipk_sem_wait(s, 60000) < 0)
						_exit(2);
					critical(&st->c);
					if (ipk_sem_post(s) < 0)
						_exit(3);
				}
				_exit(0);
			}
		}
		close(gate[0]);
		close(gate[1]);
		int creators = 0;
		for (int p = 0; p < PROCS; p++) {
			cr_assert_eq(ipkt_wait_child(pids[p]), 0, "round %d process %d: %d",
			             r, p, st->failed[p]);
			creators += st->created[p];
		}
		cr_assert_eq(creators, 1, "round %d: %d creators", r, creators);
		cr_assert_eq(st->c.value, (long)PROCS * ITERS);
		cr_assert_eq(st->c.overlap, 0);
		ipk_sem *s;
		cr_assert_eq(ipk_sem_open(&s, url, 0, 0), 0);
		cr_assert_eq(ipk_sem_value(s), 1);
		cr_assert_eq(ipk_semset_get(s, 1), 1, "every semaphore initialised");
		cr_assert_eq(ipk_sem_unlink(s), 0);
		ipk_sem_close(s);
	}
	munmap(st, sizeof *st);
}
