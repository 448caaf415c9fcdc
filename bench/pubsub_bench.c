/*
 * pubsub_bench: publish/subscribe, measured side by side in one run.
 *
 *   pubsub_bench [--reps N] [--quick] [--only latency|throughput]
 *
 * Prints, each the median of --reps runs (default 5):
 *   - placement: one cache line bounced between the two CPUs (round trip),
 *     which tells a shared-cache placement (~65 ns) from a split one
 *   - latency, 64 B, wait=spin: the SPSC ring's one-way time (a ping-pong
 *     over two rings, RTT/2) and a shared-memory PUB/SUB's publish-to-
 *     receive time with one subscriber (a ping-pong over two broadcast
 *     rings, RTT/2), and their ratio
 *   - throughput, 64 B, with 1, 2 and 4 subscriber processes:
 *       shm slow=drop   the publisher's rate (it never waits) and the rate
 *                       that reached the subscriber that got the fewest
 *       shm slow=block, unix:, tcp: (slow=block)
 *                       the rate that reached every subscriber
 *       nng PUB/SUB over ipc:// (when nng is built in): the rate that
 *                       reached the subscriber that got the fewest (nng's
 *                       PUB drops for a subscriber that falls behind)
 *     and the ratios: shm publisher with 4 subscribers against 1, shm
 *     against nng with the same number of subscribers.
 * The publisher runs on CPU 0, the subscribers share CPU 1 (the latency
 * runs: one process on each). It is a program that prints figures, not a
 * test: it asserts nothing.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#ifdef IPK_BENCH_NNG
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#endif

#define MSG 64
#define MAXSUBS 4

static int reps = 5;
static bool quick;
static const char *only;
static int ncpu;


static void pin(int cpu)
{
	if (ncpu >= 2)
		bench_pin(cpu % ncpu);
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

static void die(const char *what)
{
	fprintf(stderr, "pubsub_bench: %s: %s\n", what, ipk_last_error());
	exit(1);
}

static char names[4][128];

static const char *uniq(int i, const char *tag)
{
	static int n;
	snprintf(names[i], sizeof names[i], "/ipkbench-%d-%d-%s", (int)getpid(),
	         n++, tag);
	return names[i];
}

static ipk_chan *listen_ok(const char *url)
{
	ipk_chan *c;
	if (ipk_listen(&c, url) < 0)
		die(url);
	return c;
}

static ipk_chan *dial_ok(const char *url)
{
	ipk_chan *c;
	if (ipk_dial(&c, url, 10000) < 0)
		die(url);
	return c;
}

/* ------------------------------------------------------------ placement */

static double cache_line_rtt(void)
{
	_Atomic uint64_t *line = shared(4096);
	int rounds = quick ? 100000 : 400000;
	pid_t k = fork();
	if (k == 0) {
		pin(1);
		for (uint64_t i = 1; i <= (uint64_t)rounds; i++) {
			while (atomic_load_explicit(line, memory_order_acquire) != 2 * i - 1)
				;
			atomic_store_explicit(line, 2 * i, memory_order_release);
		}
		_exit(0);
	}
	pin(0);
	int64_t t0 = bench_now_ns();
	for (uint64_t i = 1; i <= (uint64_t)rounds; i++) {
		atomic_store_explicit(line, 2 * i - 1, memory_order_release);
		while (atomic_load_explicit(line, memory_order_acquire) != 2 * i)
			;
	}
	double rtt = (double)(bench_now_ns() - t0) / rounds;
	waitpid(k, NULL, 0);
	munmap((void *)line, 4096);
	return rtt;
}

/* ------------------------------------------------------------- latency */

/* One-way time of 64-byte messages: a ping-pong (the runner sends on one
   channel, the echo answers on another), the median round trip halved. */
static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pingpong_once(const char *ab_l, const char *ab_d,
                            const char *ba_l, const char *ba_d, bool pubsub)
{
	int rounds = quick ? 50000 : 200000, warm = 2000;
	int ready[2];
	if (pipe(ready) < 0)
		exit(1);
	/* the runner listens on both (it creates the rings), the echo dials */
	ipk_chan *out = listen_ok(ab_l);
	ipk_chan *in = listen_ok(ba_l);
	pid_t k = fork();
	if (k == 0) {
		pin(1);
		ipk_chan *ein = dial_ok(ab_d), *eout = dial_ok(ba_d);
		if (pubsub && ipk_subscribe(ein, "", 0) < 0)
			die("subscribe");
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		char buf[MSG];
		for (int i = 0; i < rounds + warm; i++) {
			if (ipk_recv(ein, buf, sizeof buf, -1) != MSG ||
			    ipk_send(eout, buf, MSG, -1) != MSG)
				die("echo");
		}
		ipk_close(ein);
		ipk_close(eout);
		_exit(0);
	}
	pin(0);
	char c;
	if (read(ready[0], &c, 1) != 1)
		exit(1);
	if (pubsub) {
		if (ipk_subscribe(in, "", 0) < 0)
			die("subscribe");
		while (ipk_subscribers(out) < 1)
			usleep(100);
	}
	int64_t *rtt = malloc(sizeof *rtt * (size_t)rounds);
	char msg[MSG] = {0}, buf[MSG];
	for (int i = 0; i < rounds + warm; i++) {
		int64_t t0 = bench_now_ns();
		if (ipk_send(out, msg, MSG, -1) != MSG ||
		    ipk_recv(in, buf, sizeof buf, -1) != MSG)
			die("ping");
		if (i >= warm)
			rtt[i - warm] = bench_now_ns() - t0;
	}
	waitpid(k, NULL, 0);
	qsort(rtt, (size_t)rounds, sizeof *rtt, cmp_i64);
	double one_way = (double)rtt[rounds / 2] / 2;
	free(rtt);
	ipk_close(out);
	ipk_close(in);
	close(ready[0]);
	close(ready[1]);
	return one_way;
}

static void latency(void)
{
	double ring[16], ps[16];
	for (int r = 0; r < reps; r++) {
		char l1[200], d1[200], l2[200], d2[200];
		/* PUB/SUB: the runner creates both broadcast rings (either side
		   may), publishes on one and subscribes to the other */
		const char *n1 = uniq(0, "ab"), *n2 = uniq(1, "ba");
		snprintf(l1, sizeof l1, "shm:%s?wait=spin&proto=pub", n1);
		snprintf(d1, sizeof d1, "shm:%s?wait=spin&proto=sub", n1);
		snprintf(l2, sizeof l2, "shm:%s?wait=spin&proto=sub", n2);
		snprintf(d2, sizeof d2, "shm:%s?wait=spin&proto=pub", n2);
		ps[r] = pingpong_once(l1, d1, l2, d2, true);
		/* SPSC rings: each side receives on a ring it made (a ring's
		   listener receives) */
		n1 = uniq(0, "rab");
		n2 = uniq(1, "rba");
		ring[r] = -1;
		int ready[2];
		if (pipe(ready) < 0)
			exit(1);
		pid_t k = fork();
		int rounds = quick ? 50000 : 200000, warm = 2000;
		if (k == 0) {
			pin(1);
			snprintf(l1, sizeof l1, "shm:%s?wait=spin", n1);
			ipk_chan *ein = listen_ok(l1);
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			snprintf(d2, sizeof d2, "shm:%s?wait=spin", n2);
			ipk_chan *eout = dial_ok(d2);
			char buf[MSG];
			for (int i = 0; i < rounds + warm; i++)
				if (ipk_recv(ein, buf, sizeof buf, -1) != MSG ||
				    ipk_send(eout, buf, MSG, -1) != MSG)
					die("ring echo");
			ipk_close(eout);
			ipk_close(ein);
			_exit(0);
		}
		pin(0);
		snprintf(l2, sizeof l2, "shm:%s?wait=spin", n2);
		ipk_chan *in = listen_ok(l2);
		char c;
		if (read(ready[0], &c, 1) != 1)
			exit(1);
		snprintf(d1, sizeof d1, "shm:%s?wait=spin", n1);
		ipk_chan *out = dial_ok(d1);
		int64_t *rtt = malloc(sizeof *rtt * (size_t)rounds);
		char msg[MSG] = {0}, buf[MSG];
		for (int i = 0; i < rounds + warm; i++) {
			int64_t t0 = bench_now_ns();
			if (ipk_send(out, msg, MSG, -1) != MSG ||
			    ipk_recv(in, buf, sizeof buf, -1) != MSG)
				die("ring ping");
			if (i >= warm)
				rtt[i - warm] = bench_now_ns() - t0;
		}
		waitpid(k, NULL, 0);
		qsort(rtt, (size_t)rounds, sizeof *rtt, cmp_i64);
		ring[r] = (double)rtt[rounds / 2] / 2;
		free(rtt);
		ipk_close(out);
		ipk_close(in);
		close(ready[0]);
		close(ready[1]);
	}
	double rm = bench_median(ring, reps), pm = bench_median(ps, reps);
	printf("latency, 64 B, wait=spin, one way (RTT/2), median of %d runs\n",
	       reps);
	printf("  SPSC ring (shm:)                  %8.1f ns\n", rm);
	printf("  PUB/SUB on shm:, 1 subscriber     %8.1f ns   %.2fx the ring "
	       "(goal <= 1.3x)\n", pm, pm / rm);
	fflush(stdout);
}

/* ---------------------------------------------------------- throughput */

struct counts {
	_Atomic int ready;
	_Atomic int done;
	_Atomic uint64_t stop_seq; /* the message number that ends the run */
	_Atomic int64_t t_start;
	struct {
		_Atomic uint64_t got;
		_Atomic int64_t t_end;
	} sub[MAXSUBS];
};

/* A subscriber process: count messages until one that says stop. */
static void sub_child(struct counts *c, int i, const char *url)
{
	pin(1);
	ipk_chan *s = dial_ok(url);
	if (ipk_subscribe(s, "", 0) < 0)
		die("subscribe");
	atomic_fetch_add(&c->ready, 1);
	char buf[MSG];
	uint64_t got = 0;
	for (;;) {
		ssize_t n = ipk_recv(s, buf, sizeof buf, 5000);
		if (n < 0) {
			if (n == -ETIMEDOUT)
				break; /* the publisher is gone and nothing said stop */
			die("subscriber");
		}
		uint64_t seq;
		memcpy(&seq, buf, 8);
		if (seq == UINT64_MAX)
			break;
		got++;
	}
	atomic_store(&c->sub[i].got, got);
	atomic_store(&c->sub[i].t_end, bench_now_ns());
	atomic_fetch_add(&c->done, 1);
	ipk_close(s);
	_exit(0);
}

struct thr {
	double pub_rate;   /* messages the publisher sent per second */
	double pub_cpu;    /* per second of the publisher's own CPU time */
	double fewest;     /* per second, to the subscriber that got the fewest */
};

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct thr run_ipk(const char *listen_url, const char *dial_url,
                          int nsubs, double seconds)
{
	struct counts *c = shared(sizeof *c);
	ipk_chan *p = listen_ok(listen_url);
	char addr[512];
	if (ipk_address(p, addr, sizeof addr) < 0)
		die("address");
	const char *durl = dial_url ? dial_url : addr;
	pid_t kids[MAXSUBS];
	for (int i = 0; i < nsubs; i++)
		if ((kids[i] = fork()) == 0)
			sub_child(c, i, durl);
	pin(0);
	while (ipk_subscribers(p) < nsubs || atomic_load(&c->ready) < nsubs)
		usleep(200);
	char msg[MSG] = {0};
	uint64_t n = 0;
	int64_t t0 = bench_now_ns(), until = t0 + (int64_t)(seconds * 1e9);
	int64_t c0 = cpu_ns();
	for (;;) {
		for (int k = 0; k < 256; k++, n++) {
			memcpy(msg, &n, 8);
			if (ipk_send(p, msg, MSG, 10000) != MSG)
				die("publish");
		}
		if (bench_now_ns() >= until)
			break;
	}
	int64_t t_pub = bench_now_ns() - t0, c_pub = cpu_ns() - c0;
	/* stop: repeated until every subscriber has it (a dropping publisher
	   may lose one for a slow subscriber) */
	uint64_t stop = UINT64_MAX;
	memcpy(msg, &stop, 8);
	while (atomic_load(&c->done) < nsubs) {
		ipk_send(p, msg, MSG, 100);
		usleep(1000);
	}
	struct thr r = {.pub_rate = (double)n / ((double)t_pub / 1e9),
	                .pub_cpu = (double)n / ((double)c_pub / 1e9),
	                .fewest = 1e300};
	for (int i = 0; i < nsubs; i++) {
		waitpid(kids[i], NULL, 0);
		double secs = (double)(atomic_load(&c->sub[i].t_end) - t0) / 1e9;
		double rate = (double)atomic_load(&c->sub[i].got) / secs;
		if (rate < r.fewest)
			r.fewest = rate;
	}
	ipk_close(p);
	munmap(c, sizeof *c);
	return r;
}

#ifdef IPK_BENCH_NNG
static void nng_die(const char *what, int rv)
{
	fprintf(stderr, "pubsub_bench: nng %s: %s\n", what, nng_strerror(rv));
	exit(1);
}

/* nng may not be used across fork(): every measurement runs in a fresh
   process that forks the subscribers before anyone touches nng. */
static void nng_runner(const char *url, int nsubs, double seconds,
                       struct counts *c, struct thr *out)
{
	int rv;
	pid_t kids[MAXSUBS];
	for (int i = 0; i < nsubs; i++) {
		if ((kids[i] = fork()) != 0)
			continue;
		pin(1);
		nng_socket s;
		if ((rv = nng_sub0_open(&s)) != 0 ||
		    (rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
		    (rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
			nng_die("sub", rv);
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
		atomic_fetch_add(&c->ready, 1);
		uint64_t got = 0;
		char buf[MSG];
		for (;;) {
			size_t sz = sizeof buf;
			if (nng_recv(s, buf, &sz, 0) != 0)
				break;
			uint64_t seq;
			memcpy(&seq, buf, 8);
			if (seq == UINT64_MAX)
				break;
			got++;
		}
		atomic_store(&c->sub[i].got, got);
		atomic_store(&c->sub[i].t_end, bench_now_ns());
		atomic_fetch_add(&c->done, 1);
		nng_close(s);
		_exit(0);
	}
	pin(0);
	nng_socket p;
	if ((rv = nng_pub0_open(&p)) != 0 || (rv = nng_listen(p, url, NULL, 0)))
		nng_die("pub", rv);
	while (atomic_load(&c->ready) < nsubs)
		usleep(200);
	usleep(200000); /* the dials complete in the background */
	char msg[MSG] = {0};
	uint64_t n = 0;
	int64_t t0 = bench_now_ns(), until = t0 + (int64_t)(seconds * 1e9);
	int64_t c0 = cpu_ns();
	for (;;) {
		for (int k = 0; k < 256; k++, n++) {
			memcpy(msg, &n, 8);
			if ((rv = nng_send(p, msg, MSG, 0)) != 0)
				nng_die("send", rv);
		}
		if (bench_now_ns() >= until)
			break;
	}
	int64_t t_pub = bench_now_ns() - t0, c_pub = cpu_ns() - c0;
	uint64_t stop = UINT64_MAX;
	memcpy(msg, &stop, 8);
	while (atomic_load(&c->done) < nsubs) {
		nng_send(p, msg, MSG, NNG_FLAG_NONBLOCK);
		usleep(1000);
	}
	out->pub_rate = (double)n / ((double)t_pub / 1e9);
	out->pub_cpu = (double)n / ((double)c_pub / 1e9);
	out->fewest = 1e300;
	for (int i = 0; i < nsubs; i++) {
		waitpid(kids[i], NULL, 0);
		double secs = (double)(atomic_load(&c->sub[i].t_end) - t0) / 1e9;
		double rate = (double)atomic_load(&c->sub[i].got) / secs;
		if (rate < out->fewest)
			out->fewest = rate;
	}
	nng_close(p);
}

static struct thr run_nng(const char *url, int nsubs, double seconds)
{
	struct counts *c = shared(sizeof *c);
	struct thr *r = shared(sizeof *r);
	pid_t k = fork();
	if (k == 0) {
		nng_runner(url, nsubs, seconds, c, r);
		_exit(0);
	}
	waitpid(k, NULL, 0);
	struct thr res = *r;
	munmap(c, sizeof *c);
	munmap(r, sizeof *r);
	return res;
}
#endif

enum series { S_SHM_DROP, S_SHM_BLOCK, S_UNIX, S_TCP, S_NNG, S_COUNT };
static const char *const series_name[] = {
	"shm: slow=drop", "shm: slow=block", "unix: slow=block",
	"tcp: slow=block", "nng PUB/SUB ipc://",
};

static struct thr run_series(enum series s, int nsubs, double secs)
{
	char l[300], d[300];
	switch (s) {
	case S_SHM_DROP:
		snprintf(l, sizeof l, "shm:%s?size=4M&proto=pub", uniq(0, "thr"));
		snprintf(d, sizeof d, "shm:%s?proto=sub", names[0]);
		return run_ipk(l, d, nsubs, secs);
	case S_SHM_BLOCK:
		snprintf(l, sizeof l, "shm:%s?size=4M&slow=block&proto=pub",
		         uniq(0, "thr"));
		snprintf(d, sizeof d, "shm:%s?proto=sub", names[0]);
		return run_ipk(l, d, nsubs, secs);
	case S_UNIX:
		snprintf(l, sizeof l, "unix:/tmp%s.sock?slow=block&proto=pub",
		         uniq(0, "thr"));
		return run_ipk(l, NULL, nsubs, secs);
	case S_TCP:
		return run_ipk("tcp://127.0.0.1:0?slow=block&proto=pub", NULL, nsubs,
		               secs);
	default:
#ifdef IPK_BENCH_NNG
		snprintf(l, sizeof l, "ipc:///tmp%s.sock", uniq(0, "nng"));
		struct thr r = run_nng(l, nsubs, secs);
		unlink(l + strlen("ipc://"));
		return r;
#else
		return (struct thr){0};
#endif
	}
}

static void throughput(void)
{
	static const int subs[] = {1, 2, 4};
	double secs = quick ? 0.2 : 0.5;
	double pub[S_COUNT][3][16], cpu[S_COUNT][3][16], few[S_COUNT][3][16];
	/* rounds interleave every series and subscriber count, so that a
	   change of load or placement hits them all alike */
	for (int r = 0; r < reps; r++)
		for (int s = 0; s < S_COUNT; s++) {
#ifndef IPK_BENCH_NNG
			if (s == S_NNG)
				continue;
#endif
			for (int j = 0; j < 3; j++) {
				struct thr t = run_series((enum series)s, subs[j], secs);
				pub[s][j][r] = t.pub_rate;
				cpu[s][j][r] = t.pub_cpu;
				few[s][j][r] = t.fewest;
			}
		}
	double mp[S_COUNT][3], mc[S_COUNT][3], mf[S_COUNT][3];
	printf("\nthroughput, 64 B, publisher on CPU 0, subscribers share CPU 1, "
	       "median of %d runs\n(million messages/s; 'per CPU s': per second "
	       "of the publisher's own CPU time)\n", reps);
	printf("  %-20s %-26s %-26s %-26s\n", "", "published, 1/2/4 subs",
	       "published per CPU s", "to the slowest, 1/2/4 subs");
	for (int s = 0; s < S_COUNT; s++) {
#ifndef IPK_BENCH_NNG
		if (s == S_NNG) {
			printf("  %-20s not built (nng not found)\n", series_name[s]);
			continue;
		}
#endif
		for (int j = 0; j < 3; j++) {
			mp[s][j] = bench_median(pub[s][j], reps);
			mc[s][j] = bench_median(cpu[s][j], reps);
			mf[s][j] = bench_median(few[s][j], reps);
		}
		printf("  %-20s %7.2f %7.2f %7.2f    %7.2f %7.2f %7.2f    %7.2f "
		       "%7.2f %7.2f\n", series_name[s], mp[s][0] / 1e6,
		       mp[s][1] / 1e6, mp[s][2] / 1e6, mc[s][0] / 1e6, mc[s][1] / 1e6,
		       mc[s][2] / 1e6, mf[s][0] / 1e6, mf[s][1] / 1e6,
		       mf[s][2] / 1e6);
	}
	printf("  shm: publisher with 4 subscribers against 1 (goal >= 0.8x): "
	       "%.2fx per CPU second, %.2fx wall clock\n",
	       mc[S_SHM_DROP][2] / mc[S_SHM_DROP][0],
	       mp[S_SHM_DROP][2] / mp[S_SHM_DROP][0]);
#ifdef IPK_BENCH_NNG
	for (int j = 0; j < 3; j++)
		printf("  %d sub%s: shm delivers %.1fx (slow=block) and publishes "
		       "%.1fx (slow=drop) what nng over ipc:// delivers (goal >= "
		       "10x)\n", subs[j], subs[j] > 1 ? "s" : " ",
		       mf[S_SHM_BLOCK][j] / mf[S_NNG][j],
		       mp[S_SHM_DROP][j] / mf[S_NNG][j]);
#endif
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
			reps = 3;
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1 || reps > 16)
				reps = 5;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--reps N] [--quick] "
			                "[--only latency|throughput]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	double cl[16];
	for (int r = 0; r < reps; r++)
		cl[r] = cache_line_rtt();
	double c = bench_median(cl, reps);
	printf("placement: one cache line between CPU 0 and CPU 1: %.0f ns round "
	       "trip (%s)\n\n", c,
	       c < 200 ? "shared cache" : "split: cache lines cross sockets");
	fflush(stdout);
	if (only == NULL || strcmp(only, "latency") == 0)
		latency();
	if (only == NULL || strcmp(only, "throughput") == 0)
		throughput();
	return 0;
}
