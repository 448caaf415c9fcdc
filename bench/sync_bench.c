/*
 * sync_bench: what the synchronisation primitives cost on this machine.
 *
 *   sync_bench [--quick] [-n ITERATIONS] [-r RUNS]
 *
 * 1. Uncontended: one thread locks and unlocks (waits and posts) in a loop;
 *    nanoseconds per pair.
 * 2. Hand-off between two processes: nanoseconds from one process releasing
 *    to the other acquiring. Semaphores ping-pong on a pair (post mine, wait
 *    theirs); mutex+cond ping-pong on a turn flag; the locks, which only
 *    their holder may release, pass the turn round three locks: each side
 *    holds two, releases one to the other and waits for the third.
 *
 * Figures are the median of RUNS runs. They are figures, not a test: the
 * machine's load shows in them. Everything created is removed.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long iters = 200000;
static int runs = 5;
static char tag[64];

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "sync_bench: %s: %s\n", what, ipk_last_error());
	exit(1);
}

static void *shared(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	               -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	printf("  %-44s %9.1f ns   (min %.1f, max %.1f)\n", name, v[n / 2], v[0],
	       v[n - 1]);
	fflush(stdout);
}

/* ------------------------------------------------------ uncontended */

enum prim {
	P_PTHREAD, P_MUTEX, P_MUTEX_TIMED, P_RWLOCK_RD, P_RWLOCK_WR, P_SEM_NAMED,
	P_SEM_UNNAMED, P_SYSV_UNDO, P_SYSV_NOUNDO, P_FLOCK, P_FLOCK_RANGE,
};

struct objs {
	pthread_mutex_t pm;
	ipk_mutex m[3];
	ipk_cond c;
	ipk_rwlock rw[3];
	unsigned char usem[2][IPK_SEM_MEM_SIZE];
	int turn;
};

static double uncontended(enum prim p, struct objs *o, ipk_sem *s,
                          ipk_flock *f)
{
	long n = iters;
	double t0 = now_ns();
	switch (p) {
	case P_PTHREAD:
		for (long i = 0; i < n; i++) {
			pthread_mutex_lock(&o->pm);
			pthread_mutex_unlock(&o->pm);
		}
		break;
	case P_MUTEX:
		for (long i = 0; i < n; i++) {
			ipk_mutex_lock(&o->m[0], -1);
			ipk_mutex_unlock(&o->m[0]);
		}
		break;
	case P_MUTEX_TIMED:
		for (long i = 0; i < n; i++) {
			ipk_mutex_lock(&o->m[0], 1000);
			ipk_mutex_unlock(&o->m[0]);
		}
		break;
	case P_RWLOCK_RD:
		for (long i = 0; i < n; i++) {
			ipk_rwlock_rdlock(&o->rw[0], -1);
			ipk_rwlock_unlock(&o->rw[0]);
		}
		break;
	case P_RWLOCK_WR:
		for (long i = 0; i < n; i++) {
			ipk_rwlock_wrlock(&o->rw[0], -1);
			ipk_rwlock_unlock(&o->rw[0]);
		}
		break;
	case P_SEM_NAMED:
	case P_SEM_UNNAMED:
	case P_SYSV_UNDO:
	case P_SYSV_NOUNDO:
		for (long i = 0; i < n; i++) {
			ipk_sem_wait(s, -1);
			ipk_sem_post(s);
		}
		break;
	case P_FLOCK:
		for (long i = 0; i < n; i++) {
			ipk_flock_lock(f, 0, 0, 0, -1);
			ipk_flock_unlock(f, 0, 0);
		}
		break;
	case P_FLOCK_RANGE:
		for (long i = 0; i < n; i++) {
			ipk_flock_lock(f, 0, 100, 10, 0);
			ipk_flock_unlock(f, 100, 10);
		}
		break;
	}
	return (now_ns() - t0) / (double)n;
}

/* ------------------------------------------------------------ hand-off */

/* The three-lock rotation: lock k of the three, exclusively. */
struct rot {
	enum prim p;
	struct objs *o;
	ipk_flock *f; /* each process opens its own */
	ipk_sem *s;   /* System V set of three */
};

static void rlock(struct rot *r, int k)
{
	int rc = 0;
	switch (r->p) {
	case P_MUTEX: rc = ipk_mutex_lock(&r->o->m[k], -1); break;
	case P_RWLOCK_WR: rc = ipk_rwlock_wrlock(&r->o->rw[k], -1); break;
	case P_FLOCK_RANGE: rc = ipk_flock_lock(r->f, 0, k, 1, -1); break;
	case P_SYSV_UNDO: {
		ipk_semop op = {(unsigned short)k, -1, 0};
		rc = ipk_semset_op(r->s, &op, 1, -1);
		break;
	}
	default: break;
	}
	if (rc < 0)
		die("lock");
}

static void runlock(struct rot *r, int k)
{
	switch (r->p) {
	case P_MUTEX: ipk_mutex_unlock(&r->o->m[k]); break;
	case P_RWLOCK_WR: ipk_rwlock_unlock(&r->o->rw[k]); break;
	case P_FLOCK_RANGE: ipk_flock_unlock(r->f, k, 1); break;
	case P_SYSV_UNDO: {
		ipk_semop op = {(unsigned short)k, 1, 0};
		ipk_semset_op(r->s, &op, 1, -1);
		break;
	}
	default: break;
	}
}

static const char *flock_path;

/* ns per hand-off through the three-lock rotation */
static double rotation(enum prim p, struct objs *o, ipk_sem *set)
{
	struct rot r = {p, o, NULL, set};
	if (p == P_FLOCK_RANGE && ipk_flock_open(&r.f, flock_path, 0) < 0)
		die("open lock file");
	int ready[2];
	if (pipe(ready) < 0)
		exit(1);
	rlock(&r, 0);
	rlock(&r, 1);
	long n = iters / 4;
	pid_t pid = fork();
	if (pid == 0) {
		struct rot q = {p, o, NULL, set};
		if (p == P_FLOCK_RANGE && ipk_flock_open(&q.f, flock_path, 0) < 0)
			die("open lock file");
		rlock(&q, 2);
		(void)!write(ready[1], "x", 1);
		rlock(&q, 0); /* holds {2, 0} */
		int k = 2;
		for (long i = 0; i < n; i++) {
			runlock(&q, k);
			rlock(&q, (k + 2) % 3);
			k = (k + 1) % 3;
		}
		runlock(&q, k);
		runlock(&q, (k + 1) % 3);
		ipk_flock_close(q.f);
		_exit(0);
	}
	char b;
	(void)!read(ready[0], &b, 1);
	double t0 = now_ns();
	int k = 0; /* holds {0, 1} */
	for (long i = 0; i < n; i++) {
		runlock(&r, k);
		rlock(&r, (k + 2) % 3);
		k = (k + 1) % 3;
	}
	double t = now_ns() - t0;
	runlock(&r, k);
	runlock(&r, (k + 1) % 3);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	ipk_flock_close(r.f);
	return t / (double)(2 * n);
}

/* ns per hand-off: a ping-pong on two semaphores (post yours, wait mine) */
static double sem_pingpong(ipk_sem *mine, ipk_sem *theirs)
{
	long n = iters / 4;
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++) {
			ipk_sem_wait(theirs, -1);
			ipk_sem_post(mine);
		}
		_exit(0);
	}
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		ipk_sem_post(theirs);
		ipk_sem_wait(mine, -1);
	}
	double t = now_ns() - t0;
	waitpid(pid, NULL, 0);
	return t / (double)(2 * n);
}

static double cond_pingpong(struct objs *o)
{
	long n = iters / 4;
	o->turn = 0;
	pid_t pid = fork();
	if (pid == 0) {
		ipk_mutex_lock(&o->m[0], -1);
		for (long i = 0; i < n; i++) {
			while (o->turn != 1)
				ipk_cond_wait(&o->c, &o->m[0], -1);
			o->turn = 0;
			ipk_cond_signal(&o->c);
		}
		ipk_mutex_unlock(&o->m[0]);
		_exit(0);
	}
	double t0 = now_ns();
	ipk_mutex_lock(&o->m[0], -1);
	for (long i = 0; i < n; i++) {
		o->turn = 1;
		ipk_cond_signal(&o->c);
		while (o->turn != 0)
			ipk_cond_wait(&o->c, &o->m[0], -1);
	}
	ipk_mutex_unlock(&o->m[0]);
	double t = now_ns() - t0;
	waitpid(pid, NULL, 0);
	return t / (double)(2 * n);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			iters = 20000;
			runs = 3;
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			iters = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			runs = (int)strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: %s [--quick] [-n ITERATIONS] [-r RUNS]\n",
			        argv[0]);
			return 2;
		}
	}
	if (iters < 100 || runs < 1 || runs > 99) {
		fprintf(stderr, "sync_bench: need -n >= 100 and 1 <= -r <= 99\n");
		return 2;
	}
	snprintf(tag, sizeof tag, "ipkb-%d", (int)getpid());
	char u1[128], u2[128], path[128];
	snprintf(u1, sizeof u1, "sem:/%s-a", tag);
	snprintf(u2, sizeof u2, "sem:/%s-b", tag);
	snprintf(path, sizeof path, "/tmp/%s.lock", tag);
	flock_path = path;

	struct objs *o = shared(sizeof *o);
	pthread_mutex_init(&o->pm, NULL);
	for (int i = 0; i < 3; i++)
		if (ipk_mutex_init(&o->m[i]) < 0 || ipk_rwlock_init(&o->rw[i]) < 0)
			die("init");
	ipk_cond_init(&o->c);
	ipk_sem *na, *nb, *ua, *ub, *sv, *svn, *set3;
	ipk_flock *f;
	if (ipk_sem_open(&na, u1, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 1) < 0 ||
	    ipk_sem_open(&nb, u2, IPK_SYNC_CREATE | IPK_SYNC_EXCL, 0) < 0 ||
	    ipk_sem_init_at(&ua, o->usem[0], 1) < 0 ||
	    ipk_sem_init_at(&ub, o->usem[1], 0) < 0 ||
	    ipk_sem_open(&sv, "sysvsem:private?n=2", IPK_SYNC_CREATE, 1) < 0 ||
	    ipk_sem_open(&svn, "sysvsem:private?n=2", IPK_SYNC_CREATE | IPK_SYNC_NOUNDO, 1) < 0 ||
	    ipk_sem_open(&set3, "sysvsem:private?n=3", IPK_SYNC_CREATE, 1) < 0 ||
	    ipk_flock_open(&f, path, IPK_SYNC_CREATE) < 0)
		die("create");

	printf("ipckit %s sync_bench: %ld iterations, median of %d runs, "
	       "%ld CPUs online\n\n", ipk_version(), iters, runs,
	       sysconf(_SC_NPROCESSORS_ONLN));
	double v[99];

	printf("uncontended, one thread: lock+unlock (wait+post), ns per pair\n");
	struct { const char *name; enum prim p; ipk_sem *s; } u[] = {
		{"pthread mutex (private, for reference)", P_PTHREAD, NULL},
		{"ipk_mutex (robust, shared)", P_MUTEX, NULL},
		{"ipk_mutex with a timeout", P_MUTEX_TIMED, NULL},
		{"ipk_rwlock read", P_RWLOCK_RD, NULL},
		{"ipk_rwlock write", P_RWLOCK_WR, NULL},
		{"sem: named (POSIX)", P_SEM_NAMED, na},
		{"sem unnamed in shared memory (POSIX)", P_SEM_UNNAMED, ua},
		{"sysvsem: with SEM_UNDO", P_SYSV_UNDO, sv},
		{"sysvsem: without undo", P_SYSV_NOUNDO, svn},
		{"file lock (OFD), whole file, blocking", P_FLOCK, NULL},
		{"file lock (OFD), 10 bytes, try", P_FLOCK_RANGE, NULL},
	};
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		for (int r = 0; r < runs; r++)
			v[r] = uncontended(u[i].p, o, u[i].s, f);
		report(u[i].name, v, runs);
	}

	printf("\ntwo processes, hand-off (one releases, the other acquires), "
	       "ns per hand-off\n");
	for (int r = 0; r < runs; r++)
		v[r] = sem_pingpong(na, nb);
	report("sem: named pair, ping-pong", v, runs);
	for (int r = 0; r < runs; r++)
		v[r] = sem_pingpong(ua, ub);
	report("unnamed semaphore pair, ping-pong", v, runs);
	/* a System V pair: semaphores 0 and 1 of one set, no undo */
	{
		ipk_sem *pair;
		char id[64];
		snprintf(id, sizeof id, "sysvsem:@%d", ipk_semset_id(svn));
		/* separate handles for the two semaphores of one set */
		ipk_semset_set(svn, 0, 0);
		ipk_semset_set(svn, 1, 0);
		if (ipk_sem_open(&pair, id, IPK_SYNC_NOUNDO, 0) < 0)
			die("open set");
		long n = iters / 4;
		for (int r = 0; r < runs; r++) {
			ipk_semop up0 = {0, 1, 0}, down0 = {0, -1, 0};
			ipk_semop up1 = {1, 1, 0}, down1 = {1, -1, 0};
			pid_t pid = fork();
			if (pid == 0) {
				for (long i = 0; i < n; i++) {
					ipk_semset_op(pair, &down0, 1, -1);
					ipk_semset_op(pair, &up1, 1, -1);
				}
				_exit(0);
			}
			double t0 = now_ns();
			for (long i = 0; i < n; i++) {
				ipk_semset_op(pair, &up0, 1, -1);
				ipk_semset_op(pair, &down1, 1, -1);
			}
			v[r] = (now_ns() - t0) / (double)(2 * n);
			waitpid(pid, NULL, 0);
		}
		report("sysvsem: pair in one set, ping-pong", v, runs);
		ipk_sem_close(pair);
	}
	for (int r = 0; r < runs; r++)
		v[r] = cond_pingpong(o);
	report("ipk_mutex + ipk_cond, ping-pong", v, runs);
	struct { const char *name; enum prim p; } h[] = {
		{"ipk_mutex, three-lock rotation", P_MUTEX},
		{"ipk_rwlock (write), three-lock rotation", P_RWLOCK_WR},
		{"sysvsem: with undo, three-lock rotation", P_SYSV_UNDO},
		{"file lock (OFD) bytes, three-lock rotation", P_FLOCK_RANGE},
	};
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
		for (int r = 0; r < runs; r++)
			v[r] = rotation(h[i].p, o, set3);
		report(h[i].name, v, runs);
	}

	ipk_sem_unlink(na);
	ipk_sem_unlink(nb);
	ipk_sem_unlink(sv);
	ipk_sem_unlink(svn);
	ipk_sem_unlink(set3);
	ipk_sem_close(na);
	ipk_sem_close(nb);
	ipk_sem_close(ua);
	ipk_sem_close(ub);
	ipk_sem_close(sv);
	ipk_sem_close(svn);
	ipk_sem_close(set3);
	ipk_flock_close(f);
	unlink(path);
	return 0;
}
