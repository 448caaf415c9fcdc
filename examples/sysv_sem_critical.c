/*
 * sysv_sem_critical: a critical section guarded by a System V binary
 * semaphore, shared by forked workers.
 *
 *   sysv_sem_critical [WORKERS [ROUNDS]] [--kill]
 *
 * Each worker adds 1 to a counter in shared memory ROUNDS times, taking the
 * semaphore around the read-modify-write. With --kill, one more worker is
 * killed (SIGKILL) while inside the critical section: SEM_UNDO, on by
 * default, makes the kernel give its semaphore back, so the others go on.
 * Prints the counter and exits 0 if it is exactly WORKERS * ROUNDS.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
	long counter;
	int victim_inside;
};

static int worker(ipk_sem *s, struct shared *sh, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		if (ipk_sem_wait(s, 60000) < 0) {
			fprintf(stderr, "worker %d: %s\n", (int)getpid(),
			        ipk_last_error());
			return 1;
		}
		long v = sh->counter; /* the critical section */
		if ((i & 63) == 0)
			sched_yield(); /* without the semaphore this loses updates */
		sh->counter = v + 1;
		ipk_sem_post(s);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long workers = 4, rounds = 10000;
	int kill_one = 0, pos = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--kill") == 0)
			kill_one = 1;
		else if (pos++ == 0)
			workers = strtol(argv[i], NULL, 10);
		else
			rounds = strtol(argv[i], NULL, 10);
	}
	if (workers < 1 || workers > 64 || rounds < 1) {
		fprintf(stderr, "usage: %s [WORKERS(1-64) [ROUNDS]] [--kill]\n",
		        argv[0]);
		return 2;
	}

	/* a private set of one semaphore, value 1: free */
	ipk_sem *s;
	ipk_region *r;
	if (ipk_sem_open(&s, "sysvsem:private", IPK_SYNC_CREATE, 1) < 0 ||
	    ipk_region_anon(&r, sizeof(struct shared)) < 0) {
		fprintf(stderr, "sysv_sem_critical: %s\n", ipk_last_error());
		return 1;
	}
	struct shared *sh = ipk_region_addr(r);
	int status = 0;

	if (kill_one) {
		pid_t victim = fork();
		if (victim == 0) {
			ipk_sem_wait(s, -1);
			__atomic_store_n(&sh->victim_inside, 1, __ATOMIC_RELEASE);
			pause(); /* dies here, holding the semaphore */
			_exit(0);
		}
		while (!__atomic_load_n(&sh->victim_inside, __ATOMIC_ACQUIRE))
			sched_yield();
		kill(victim, SIGKILL);
		waitpid(victim, NULL, 0);
		printf("a worker was killed inside the critical section; "
		       "SEM_UNDO gave the semaphore back (value %d)\n",
		       ipk_sem_value(s));
	}

	fflush(stdout); /* children must not inherit unwritten output */
	pid_t pids[64];
	for (long w = 0; w < workers; w++)
		if ((pids[w] = fork()) == 0)
			_exit(worker(s, sh, rounds));
	for (long w = 0; w < workers; w++) {
		int st;
		waitpid(pids[w], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			status = 1;
	}
	long want = workers * rounds;
	printf("counter: %ld (expected %ld)\n", sh->counter, want);
	if (sh->counter != want)
		status = 1;

	ipk_sem_unlink(s); /* a private set lives until removed */
	ipk_sem_close(s);
	ipk_region_detach(r);
	return status;
}
