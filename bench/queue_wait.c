/*
 * queue_wait: what waiting costs on the queue transports.
 *
 *   CPU use of a receiver that waits 1 s on an empty queue (getrusage),
 *   how late a timed wait returns (overshoot past its timeout), how soon a
 *   waiting receiver sees a message (send-to-return latency), and the CPU
 *   cost of the helper thread behind a System V queue's ipk_fd().
 *
 * usage: queue_wait [ROUNDS]      (default 5)
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static ipk_chan *open_listen(const char *url)
{
	ipk_chan *c;
	if (ipk_listen(&c, url) < 0) {
		fprintf(stderr, "queue_wait: %s: %s\n", url, ipk_last_error());
		exit(1);
	}
	return c;
}

/* CPU % of one core while a receive waits `ms` on an empty channel. */
static double idle_cpu(ipk_chan *c, int ms)
{
	char buf[16];
	double w0 = now_ms(), c0 = cpu_ms();
	ssize_t n = ipk_recv(c, buf, sizeof buf, ms);
	double w = now_ms() - w0, cpu = cpu_ms() - c0;
	if (n != -ETIMEDOUT)
		fprintf(stderr, "queue_wait: expected a timeout, got %zd\n", n);
	return 100.0 * cpu / w;
}

static void overshoot(ipk_chan *c, int ms, int rounds, double *avg, double *max)
{
	char buf[16];
	*avg = 0;
	*max = 0;
	for (int i = 0; i < rounds; i++) {
		double t0 = now_ms();
		ipk_recv(c, buf, sizeof buf, ms);
		double over = now_ms() - t0 - ms;
		*avg += over / rounds;
		if (over > *max)
			*max = over;
	}
}

/* A child sends its send time after `delay` ms; how long until we have it. */
static void latency(ipk_chan *rx, const char *dial, int timeout, int rounds,
                    double *avg, double *max)
{
	*avg = 0;
	*max = 0;
	for (int i = 0; i < rounds; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			ipk_chan *tx;
			if (ipk_dial(&tx, dial, 2000) < 0)
				_exit(3);
			struct timespec ts = {0, 30 * 1000000};
			nanosleep(&ts, NULL);
			double t = now_ms();
			_exit(ipk_send(tx, &t, sizeof t, 1000) == sizeof t ? 0 : 4);
		}
		double sent;
		ssize_t n = ipk_recv(rx, &sent, sizeof sent, timeout);
		double lat = now_ms() - sent;
		int st;
		waitpid(pid, &st, 0);
		if (n != sizeof sent) {
			fprintf(stderr, "queue_wait: %s: %s\n", dial, ipk_last_error());
			continue;
		}
		*avg += lat / rounds;
		if (lat > *max)
			*max = lat;
	}
}

static void row(const char *what, const char *listen, const char *dial,
                int rounds)
{
	ipk_chan *c = open_listen(listen);
	double cpu = idle_cpu(c, 1000);
	double oa, om, la, lm, ia, im;
	overshoot(c, 50, rounds, &oa, &om);
	latency(c, dial, 5000, rounds, &la, &lm);
	latency(c, dial, -1, rounds, &ia, &im);
	printf("%-8s %9.2f %% %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", what, cpu,
	       oa, om, la, lm, ia, im);
	ipk_close(c);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	if (rounds < 1)
		rounds = 1;
	char l[192], d[96];
	unsigned key = 0x50000000u | ((unsigned)getpid() & 0xfffff) << 8;

	printf("queue_wait: %d rounds; times in ms\n", rounds);
	printf("%-8s %11s %9s %9s %9s %9s %9s %9s\n", "", "cpu 1s", "late",
	       "late", "wake", "wake", "wake", "wake");
	printf("%-8s %11s %9s %9s %9s %9s %9s %9s\n", "scheme", "wait",
	       "avg", "max", "timed", "max", "forever", "max");

	snprintf(l, sizeof l, "sysvmq:0x%08x", key);
	row("sysvmq", l, l, rounds);

	snprintf(d, sizeof d, "mq:/ipk-bench-%d", (int)getpid());
	snprintf(l, sizeof l, "%s?maxmsg=4&msgsize=64", d);
	row("mq", l, d, rounds);

	ipk_signal_block("signal:self?sig=RTMIN+6");
	snprintf(d, sizeof d, "signal:%d?sig=RTMIN+6", (int)getpid());
	row("signal", "signal:self?sig=RTMIN+6", d, rounds);

	/* the thread that keeps a System V queue's descriptor up to date */
	snprintf(l, sizeof l, "sysvmq:0x%08x", key + 1);
	ipk_chan *c = open_listen(l);
	double c0 = cpu_ms(), w0 = now_ms();
	int fd = ipk_fd(c);
	if (fd < 0)
		fprintf(stderr, "queue_wait: ipk_fd: %s\n", ipk_last_error());
	struct timespec ts = {3, 0};
	nanosleep(&ts, NULL);
	printf("\nsysvmq ipk_fd() helper thread, queue idle for 3 s: %.2f %% of "
	       "a core\n",
	       100.0 * (cpu_ms() - c0) / (now_ms() - w0));
	/* how soon the descriptor turns readable after another process sends */
	double avg = 0, max = 0;
	for (int i = 0; i < rounds; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			ipk_chan *tx;
			if (ipk_dial(&tx, l, 2000) < 0)
				_exit(3);
			double t = now_ms();
			_exit(ipk_send(tx, &t, sizeof t, 1000) == sizeof t ? 0 : 4);
		}
		ipk_pollitem it = {.chan = c, .events = IPK_POLLIN};
		ipk_poll(&it, 1, 5000);
		double seen = now_ms(), sent;
		int st;
		waitpid(pid, &st, 0);
		if (ipk_recv(c, &sent, sizeof sent, 0) == sizeof sent) {
			avg += (seen - sent) / rounds;
			if (seen - sent > max)
				max = seen - sent;
		}
		nanosleep(&(struct timespec){1, 200000000}, NULL);
	}
	printf("sysvmq ipk_fd() readable after a send to a queue idle for 1.2 s: "
	       "avg %.3f ms, max %.3f ms\n", avg, max);
	ipk_close(c);

	printf("\ncpu 1s wait: CPU used by a receive that waits 1 s on an empty "
	       "queue\nlate: how far past its 50 ms timeout a wait returns\n"
	       "wake: from send to the waiting receiver's return (timed wait of "
	       "5 s, and forever)\n");
	return 0;
}
