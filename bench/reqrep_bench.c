/*
 * Request/reply round trips beside PAIR ping-pong on the same transport,
 * in one run, so the ratios the goals name are taken side by side:
 * REQ/REP over unix within 1.1x of PAIR over unix, over a shm ring within
 * 1.5x of PAIR over the same ring (docs/patterns.md).
 *
 *   reqrep_bench [--rounds N] [--repeat K] [--only unix|tcp|shm] [--pin]
 *
 * For each transport it alternates PAIR and REQ/REP measurements K times
 * (each N round trips of 64 bytes between two fresh processes, timed in
 * batches of 64 so that the clock's own cost and granularity stay out of
 * sub-microsecond figures) and prints the median round trip of each and
 * the ratio of the medians. --pin puts the two processes on CPUs 0 and 1.
 * A cache line bounced between the two processes, before and after, says
 * how the CPUs were placed (a shared cache: well under 200 ns; split:
 * more), since ring figures move with it. The machine's noise is in the
 * spread: compare ratios, not absolute figures, and read the placement.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64 /* round trips timed together */

static long rounds = 20000;
static int repeat = 7;
static bool pin;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void pin_to(int cpu)
{
	if (!pin)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
}

static void die(const char *what)
{
	fprintf(stderr, "reqrep_bench: %s: %s\n", what, ipk_last_error());
	exit(1);
}

struct pattern {
	const char *name;
	/* the server's address, and how the client reaches it ({addr} is what
	   the server's ipk_address said) */
	const char *listen;
	const char *dial;     /* NULL: the server's address */
	bool pair_rings;      /* PAIR over rings: a ring each way */
};

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return v[n / 2];
}

/* One measurement: the median round trip in microseconds. */
static double measure(const struct pattern *p, const char *tag)
{
	char listen_url[256], back_url[256], addr[256];
	if (strstr(p->listen, "%s"))
		snprintf(listen_url, sizeof listen_url, p->listen, tag, (int)getpid());
	else
		snprintf(listen_url, sizeof listen_url, "%s", p->listen);
	snprintf(back_url, sizeof back_url, "shm:/rrb-%s-back-%d?wait=spin",
	         tag, (int)getpid());
	int ready[2], result[2];
	if (pipe(ready) < 0 || pipe(result) < 0)
		die("pipe");
	pid_t srv = fork();
	if (srv < 0)
		die("fork");
	if (srv == 0) {
		pin_to(1);
		ipk_chan *s, *back = NULL;
		if (ipk_listen(&s, listen_url) < 0)
			die(listen_url);
		ssize_t an = ipk_address(s, addr, sizeof addr);
		if (an < 0 || write(ready[1], addr, (size_t)an + 1) != an + 1)
			_exit(1);
		ipk_chan *c = s;
		/* PAIR on a connection mechanism: one connection to accept */
		if (!p->pair_rings && !strstr(listen_url, "proto=") &&
		    ipk_accept(s, &c, 10000) < 0)
			die("accept");
		if (p->pair_rings && ipk_dial(&back, back_url, 10000) < 0)
			die(back_url);
		char buf[64];
		for (long i = 0; i < (rounds / BATCH + 2) * BATCH; i++) {
			if (ipk_recv(c, buf, sizeof buf, -1) < 0)
				die("server receive");
			if (ipk_send(back ? back : c, buf, 64, -1) < 0)
				die("server send");
		}
		_exit(0);
	}
	close(ready[1]);
	ssize_t n = read(ready[0], addr, sizeof addr);
	close(ready[0]);
	if (n <= 0) {
		fprintf(stderr, "reqrep_bench: the server did not start\n");
		exit(1);
	}
	pid_t cli = fork();
	if (cli < 0)
		die("fork");
	if (cli == 0) {
		pin_to(0);
		ipk_chan *c, *back = NULL;
		if (p->pair_rings && ipk_listen(&back, back_url) < 0)
			die(back_url);
		if (ipk_dial(&c, p->dial ? listen_url : addr, 10000) < 0)
			die("dial");
		long batches = rounds / BATCH;
		double *rtt = malloc((size_t)batches * sizeof *rtt);
		char buf[64] = {0};
		for (long i = -2; i < batches; i++) { /* two batches to warm up */
			double t0 = now_us();
			for (int k = 0; k < BATCH; k++) {
				if (ipk_send(c, buf, 64, -1) < 0)
					die("client send");
				if (ipk_recv(back ? back : c, buf, sizeof buf, -1) < 0)
					die("client receive");
			}
			if (i >= 0)
				rtt[i] = (now_us() - t0) / BATCH;
		}
		double med = median(rtt, (int)batches);
		if (write(result[1], &med, sizeof med) != sizeof med)
			_exit(1);
		ipk_close(c);
		ipk_close(back);
		_exit(0);
	}
	close(result[1]);
	double med = -1;
	if (read(result[0], &med, sizeof med) != sizeof med)
		med = -1;
	close(result[0]);
	int st;
	waitpid(cli, &st, 0);
	kill(srv, SIGKILL);
	waitpid(srv, &st, 0);
	/* what a killed server leaves: the names are ours */
	char url[300];
	snprintf(url, sizeof url, "%.*s", (int)strcspn(listen_url, "?"),
	         listen_url);
	if (strncmp(url, "tcp", 3) != 0)
		ipk_remove(url);
	return med;
}

/* A cache line bounced between two processes placed as the measured
   ones are: the median round trip in nanoseconds (batches of 1000). */
static double cacheline_ns(void)
{
	_Atomic uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED)
		return -1;
	atomic_store(w, 0);
	enum { N = 200, K = 1000 };
	pid_t pid = fork();
	if (pid == 0) {
		pin_to(1);
		for (uint32_t v = 1; v < 2 * N * K + 2 * K; v += 2) {
			while (atomic_load_explicit(w, memory_order_acquire) != v)
				;
			atomic_store_explicit(w, v + 1, memory_order_release);
		}
		_exit(0);
	}
	pin_to(0);
	double v[N];
	uint32_t x = 0;
	for (int i = -1; i < N; i++) {
		double t0 = now_us();
		for (int k = 0; k < K; k++) {
			atomic_store_explicit(w, ++x, memory_order_release);
			while (atomic_load_explicit(w, memory_order_acquire) != x + 1)
				;
			x++;
		}
		if (i >= 0)
			v[i] = (now_us() - t0) * 1000 / K;
	}
	waitpid(pid, NULL, 0);
	munmap((void *)w, 4096);
	if (pin) { /* let the parent run anywhere again */
		cpu_set_t all;
		CPU_ZERO(&all);
		for (int c = 0; c < CPU_SETSIZE; c++)
			CPU_SET(c, &all);
		sched_setaffinity(0, sizeof all, &all);
	}
	return median(v, N);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atol(argv[++i]);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--pin"))
			pin = true;
		else {
			fprintf(stderr, "usage: %s [--rounds N] [--repeat K] "
			                "[--only unix|tcp|shm] [--pin]\n", argv[0]);
			return 2;
		}
	}
	if (rounds < 2 * BATCH || repeat < 1)
		return 2;
	static const struct {
		const char *transport;
		struct pattern pair, req;
	} rows[] = {
		{"unix",
		 {"PAIR", "unix:@rrb-%s-%d", NULL, false},
		 {"REQ/REP", "unix:@rrb-%s-%d?proto=rep", NULL, false}},
		{"tcp",
		 {"PAIR", "tcp://127.0.0.1:0", NULL, false},
		 {"REQ/REP", "tcp://127.0.0.1:0?proto=rep", NULL, false}},
		{"shm",
		 {"PAIR", "shm:/rrb-%s-%d?wait=spin", NULL, true},
		 {"REQ/REP", "shm:/rrb-%s-%d?proto=rep&wait=spin", NULL, false}},
	};
	printf("round trip of 64 B, median of %d runs of %ld, microseconds%s\n",
	       repeat, rounds, pin ? " (pinned to CPUs 0 and 1)" : "");
	double line0 = cacheline_ns();
	printf("cache-line round trip at the start: %.0f ns (%s)\n", line0,
	       line0 < 200 ? "shared cache" : "split caches");
	printf("%-6s %10s %10s %8s\n", "", "PAIR", "REQ/REP", "ratio");
	for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
		if (only && strcmp(only, rows[r].transport) != 0)
			continue;
		double pv[64], rv[64];
		int k = repeat > 64 ? 64 : repeat;
		for (int i = 0; i < k; i++) {
			char tag[32];
			snprintf(tag, sizeof tag, "p%d", i);
			pv[i] = measure(&rows[r].pair, tag);
			snprintf(tag, sizeof tag, "r%d", i);
			rv[i] = measure(&rows[r].req, tag);
		}
		double pm = median(pv, k), rm = median(rv, k);
		printf("%-6s %10.3f %10.3f %7.2fx\n", rows[r].transport, pm, rm,
		       rm / pm);
		fflush(stdout);
	}
	double line1 = cacheline_ns();
	printf("cache-line round trip at the end: %.0f ns (%s)%s\n", line1,
	       line1 < 200 ? "shared cache" : "split caches",
	       (line0 < 200) != (line1 < 200) ? ": the placement CHANGED during "
	                                        "the run" : "");
	return 0;
}
