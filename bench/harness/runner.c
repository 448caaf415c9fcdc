/*
 * One job, in a process of its own (the runner) and its forked echo.
 * The runner sends, the echo answers; the runner alone takes the time.
 * Latency is a ping-pong: every round trip is timed. Throughput is a
 * one-way stream for a fixed time, closed by a stop message that the echo
 * acknowledges, so the clock stops only when everything has arrived.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int res_fd = -1;

struct ready {
	int ok;
	char addr[BENCH_ADDR];
};

int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_fail(struct bench_link *l, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err, sizeof l->err, fmt, ap);
	va_end(ap);
	l->code = code;
	return code;
}

/* With --pin every row, and busy-polling rows always: two spinners that
 * share a CPU measure the scheduler's time slice, not the mechanism. */
bool bench_pinned(const struct bench_config *cfg, const struct bench_series *s)
{
	return (cfg->pin || s->busy) && cfg->cpu[0] >= 0 && cfg->cpu[1] >= 0 &&
	       cfg->cpu[0] != cfg->cpu[1];
}

const char *bench_pin_text(const struct bench_config *cfg, char *buf,
                           size_t cap)
{
	if (cfg->cpu[0] < 0 || cfg->cpu[1] < 0)
		snprintf(buf, cap, "nothing pinned (fewer than two CPUs)");
	else if (cfg->pin)
		snprintf(buf, cap, "the two processes pinned to CPUs %d and %d",
		         cfg->cpu[0], cfg->cpu[1]);
	else
		snprintf(buf, cap, "busy-poll rows pinned to CPUs %d and %d, the "
		         "others not pinned", cfg->cpu[0], cfg->cpu[1]);
	return buf;
}

int64_t bench_run_ns(const struct bench_config *cfg)
{
	/* reps runs, each after a warm-up of half a run */
	return (int64_t)(cfg->seconds * 1e9 / (cfg->reps * 1.5));
}

void bench_lat_record(struct bench_result *r, struct bench_hist *h,
                      double *samples, long n, int batch)
{
	bench_sort(samples, n);
	r->has_lat = true;
	r->lat.runs[0] = bench_pct(samples, n, 0.5);
	r->lat.nruns = 1;
	r->lat.samples = n;
	r->lat.batch = batch;
	r->lat.max = n ? samples[n - 1] : 0;
	for (long i = 0; h && i < n; i++)
		bench_hist_add(h, samples[i]);
}

void bench_thr_record(struct bench_result *r, long delivered, long sent,
                      double secs)
{
	r->has_thr = true;
	r->thr.runs[0] = (double)delivered / secs;
	r->thr.nruns = 1;
	r->thr.messages = delivered;
	r->thr.sent = sent;
	r->thr.seconds = secs;
}

void bench_pin(const struct bench_job *j, int which)
{
	const struct bench_config *cfg = j->cfg;
	if (!bench_pinned(cfg, j->s))
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cfg->cpu[which], &set);
	sched_setaffinity(0, sizeof set, &set);
}

void bench_child_setup(pid_t parent)
{
	/* Ctrl-C reaches the whole process group: the parent alone decides,
	   and kills its children by pid */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
}

static void put(const struct bench_record *rec)
{
	ssize_t n;
	do
		n = write(res_fd, rec, sizeof *rec);
	while (n < 0 && errno == EINTR);
}

void bench_tell_echo(pid_t pid)
{
	struct bench_record rec;
	memset(&rec, 0, sizeof rec);
	rec.type = REC_ECHO_PID;
	rec.pid = pid;
	put(&rec);
}

_Noreturn void bench_echo_die(const struct bench_link *l, int code)
{
	struct bench_record rec;
	memset(&rec, 0, sizeof rec);
	rec.type = REC_ERROR;
	rec.pid = getpid();
	rec.code = code < 0 ? code : -EIO;
	snprintf(rec.msg, sizeof rec.msg, "%s",
	         l->err[0] ? l->err : strerror(-rec.code));
	put(&rec);
	_exit(1);
}

bool bench_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

bool bench_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* A buffer with room in front for drivers that need a header. */
static unsigned char *buffer(size_t headroom, size_t size, void **base)
{
	size_t hr = (headroom + 63) & ~(size_t)63;
	size_t total = (hr + size + 63) & ~(size_t)63;
	unsigned char *b = aligned_alloc(64, total);
	*base = b;
	if (b == NULL)
		return NULL;
	memset(b, 0x5a, total); /* fault the pages in before timing */
	return b + hr;
}

/* ------------------------------------------------------------- echo */

static _Noreturn void echo_main(struct bench_link *l, int cmdfd, int readyfd,
                                int ansfd)
{
	const struct bench_driver *d = l->job->s->row->drv;
	size_t size = l->job->size;
	bench_child_setup(l->runner);
	bench_pin(l->job, 1);
	l->echo = true;
	l->echo_pid = getpid();
	void *base;
	unsigned char *buf = buffer(d->headroom, size, &base);
	if (buf == NULL)
		bench_echo_die(l, bench_fail(l, -ENOMEM, "out of memory"));
	int rc = d->echo_open ? d->echo_open(l) : 0;
	if (rc < 0)
		bench_echo_die(l, rc);
	struct ready rd;
	memset(&rd, 0, sizeof rd);
	rd.ok = 1;
	snprintf(rd.addr, sizeof rd.addr, "%s", l->addr);
	if (!bench_write_full(readyfd, &rd, sizeof rd))
		_exit(1);
	close(readyfd);
	if (d->echo_accept && (rc = d->echo_accept(l)) < 0)
		bench_echo_die(l, rc);
	for (;;) {
		char cmd;
		if (!bench_read_full(cmdfd, &cmd, 1))
			_exit(0); /* the runner is done */
		ssize_t n;
		if (cmd == CMD_LATENCY) {
			for (;;) {
				if ((n = d->recv(l, buf, size)) < 0)
					bench_echo_die(l, (int)n);
				if (buf[0] == BENCH_STOP)
					break;
				if ((n = d->send(l, buf, (size_t)n)) < 0)
					bench_echo_die(l, (int)n);
			}
		} else if (cmd == CMD_STREAM) {
			for (;;) {
				if ((n = d->recv(l, buf, size)) < 0)
					bench_echo_die(l, (int)n);
				if (buf[0] == BENCH_STOP)
					break;
			}
			buf[0] = BENCH_ACK;
			if ((n = d->send(l, buf, size)) < 0)
				bench_echo_die(l, (int)n);
		} else if (cmd == CMD_FANOUT) {
			bench_fanout_echo(l, cmdfd, ansfd, buf);
		}
	}
}

/* ----------------------------------------------------------- runner */

static int check_len(struct bench_link *l, ssize_t n, size_t want)
{
	if (n < 0)
		return (int)n;
	if ((size_t)n != want)
		return bench_fail(l, -EPROTO,
		                  "the echo answered %zd bytes instead of %zu", n,
		                  want);
	return 0;
}

/* Every sample times `batch` round trips between two clock reads (the mean
 * is the sample): one by one for rows that sleep, in batches for rows that
 * answer in about what reading the clock costs. */
static int latency(struct bench_phase *ph, struct bench_result *r)
{
	const struct bench_job *j = ph->l->job;
	int batch = j->batch > 1 ? j->batch : 1;
	long cap = j->cfg->iterations / batch + 5;
	double *samples = malloc(sizeof *samples * (size_t)cap);
	if (samples == NULL)
		return bench_fail(ph->l, -ENOMEM, "out of memory for %ld samples",
		                  cap);
	char cmd = CMD_LATENCY;
	if (!bench_write_full(ph->cmdfd[0], &cmd, 1)) {
		free(samples);
		return bench_fail(ph->l, -EPIPE, "the echo process is gone");
	}
	int64_t budget = bench_run_ns(j->cfg);
	long nsamp = 0;
	int rc = 0;
	ph->tx[0] = BENCH_DATA;
	/* run 0 warms caches, page tables and the scheduler up; not kept */
	for (int run = 0; run < 2 && rc == 0; run++) {
		int64_t end = bench_now_ns() + (run ? budget : budget / 2);
		for (long k = 0; k < cap && rc == 0; k++) {
			int64_t t0 = bench_now_ns();
			for (int b = 0; b < batch; b++) {
				ssize_t n = ph->d->send(ph->l, ph->tx, ph->size);
				if (n < 0) {
					rc = (int)n;
					break;
				}
				n = ph->d->recv(ph->l, ph->rx, ph->size);
				if ((rc = check_len(ph->l, n, ph->size)) < 0)
					break;
			}
			int64_t t1 = bench_now_ns();
			if (rc < 0)
				break;
			if (run > 0)
				samples[nsamp++] = (double)(t1 - t0) / 1e3 / batch;
			if (t1 >= end && k >= 4)
				break;
		}
	}
	if (rc == 0) {
		ph->tx[0] = BENCH_STOP;
		ssize_t n = ph->d->send(ph->l, ph->tx, ph->size);
		ph->tx[0] = BENCH_DATA;
		if (n < 0)
			rc = (int)n;
	}
	if (rc == 0)
		bench_lat_record(r, j->hist, samples, nsamp, batch);
	free(samples);
	return rc;
}

static int stream(struct bench_phase *ph, struct bench_result *r)
{
	const struct bench_config *cfg = ph->l->job->cfg;
	int64_t budget = bench_run_ns(cfg);
	for (int run = 0; run < 2; run++) {
		char cmd = CMD_STREAM;
		if (!bench_write_full(ph->cmdfd[0], &cmd, 1))
			return bench_fail(ph->l, -EPIPE, "the echo process is gone");
		ph->tx[0] = BENCH_DATA;
		int64_t t0 = bench_now_ns(), end = t0 + (run ? budget : budget / 2);
		long k = 0;
		while (k < cfg->iterations) {
			ssize_t n = ph->d->send(ph->l, ph->tx, ph->size);
			if (n < 0)
				return (int)n;
			k++;
			if (k >= 5 && bench_now_ns() >= end)
				break;
		}
		ph->tx[0] = BENCH_STOP;
		ssize_t n = ph->d->send(ph->l, ph->tx, ph->size);
		ph->tx[0] = BENCH_DATA;
		if (n < 0)
			return (int)n;
		if (ph->d->flush && (n = ph->d->flush(ph->l)) < 0)
			return (int)n;
		n = ph->d->recv(ph->l, ph->rx, ph->size);
		int64_t t1 = bench_now_ns();
		int rc = check_len(ph->l, n, ph->size);
		if (rc < 0)
			return rc;
		if (ph->rx[0] != BENCH_ACK)
			return bench_fail(ph->l, -EPROTO,
			                  "the echo's acknowledgement is garbled");
		if (run > 0)
			bench_thr_record(r, k, k, (double)(t1 - t0) / 1e9);
	}
	return 0;
}

static void classify(struct bench_result *r, int code, const char *why)
{
	switch (-code) {
	case EMSGSIZE:
	case ENOSPC:
	case EMFILE:
	case ENOMEM:
	case ENOBUFS:
		r->status = BENCH_SKIPPED;
		break;
	case EPROTONOSUPPORT:
		r->status = BENCH_NOT_RUN;
		break;
	default:
		r->status = BENCH_FAILED;
	}
	snprintf(r->reason, sizeof r->reason, "%s",
	         why && why[0] ? why : strerror(-code));
	r->has_lat = r->has_thr = false;
}

/* The parent uses the same rule for an echo's failure. */
void bench_classify(struct bench_result *r, int code, const char *why)
{
	classify(r, code, why);
}

static _Noreturn void finish(struct bench_result *r)
{
	struct bench_record rec;
	memset(&rec, 0, sizeof rec);
	rec.type = REC_RESULT;
	rec.pid = getpid();
	rec.result = *r;
	put(&rec);
	_exit(0);
}

/* Fork echo k (or receiver k of a fan-out row) and wait until it is ready:
 * its command pipe into ph, its pid to the parent. */
static int start_echo(struct bench_link *l, struct bench_phase *ph, int k,
                      pid_t *pids, int ans[2])
{
	int cmd[2], rdy[2];
	if (pipe2(cmd, O_CLOEXEC) < 0)
		return bench_fail(l, -errno, "pipe2: %s", strerror(errno));
	if (pipe2(rdy, O_CLOEXEC) < 0) {
		int e = errno;
		close(cmd[0]);
		close(cmd[1]);
		return bench_fail(l, -e, "pipe2: %s", strerror(e));
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(cmd[0]);
		close(cmd[1]);
		close(rdy[0]);
		close(rdy[1]);
		return bench_fail(l, -e, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		/* the runner's ends: its end of our pipes and of the earlier
		   echoes' command pipes (they must see it close, not us) */
		close(cmd[1]);
		close(rdy[0]);
		for (int i = 0; i < k; i++)
			close(ph->cmdfd[i]);
		if (ans[0] >= 0)
			close(ans[0]);
		l->index = k;
		echo_main(l, cmd[0], rdy[1], ans[1]);
	}
	pids[k] = pid;
	if (k == 0)
		l->echo_pid = pid;
	bench_tell_echo(pid);
	close(cmd[0]);
	close(rdy[1]);
	ph->cmdfd[k] = cmd[1];
	ph->nechoes = k + 1;
	struct ready rd;
	bool ok = bench_read_full(rdy[0], &rd, sizeof rd) && rd.ok;
	close(rdy[0]);
	if (!ok)
		return bench_fail(l, -ECHILD, "the echo process failed to start");
	/* the first echo's address is the one the runner dials */
	if (k == 0 && rd.addr[0])
		snprintf(l->addr, sizeof l->addr, "%s", rd.addr);
	return 0;
}

_Noreturn void bench_runner_main(struct bench_job *j, int resfd)
{
	const struct bench_row *row = j->s->row;
	const struct bench_driver *d = row->drv;
	struct bench_result r;
	memset(&r, 0, sizeof r);
	r.series = j->series;
	r.size = j->size;
	r.status = BENCH_OK;
	res_fd = resfd;
	bench_pin(j, 0);
	if (d->measure) {
		d->measure(j, &r);
		finish(&r);
	}

	struct bench_link l;
	memset(&l, 0, sizeof l);
	l.job = j;
	l.runner = getpid();
	l.rfd = l.wfd = -1;
	for (int i = 0; i < 4; i++)
		l.fd[i] = -1;
	void *txbase = NULL, *rxbase = NULL;
	struct bench_phase ph = {.l = &l, .d = d, .size = j->size, .ansfd = -1};
	ph.tx = buffer(d->headroom, j->size, &txbase);
	ph.rx = buffer(d->headroom, j->size, &rxbase);
	int ans[2] = {-1, -1};
	int rc = 0;
	int nechoes = row->fanout > 0 ? row->fanout : 1;
	if (nechoes > BENCH_MAX_FANOUT)
		nechoes = BENCH_MAX_FANOUT;
	if (ph.tx == NULL || ph.rx == NULL) {
		classify(&r, -ENOMEM, "out of memory");
		finish(&r);
	}
	if (row->fanout > 0 && pipe2(ans, O_CLOEXEC) < 0) {
		classify(&r, -errno, "pipe2");
		finish(&r);
	}
	if (ans[0] >= 0) {
		fcntl(ans[0], F_SETFL, O_NONBLOCK);
		ph.ansfd = ans[0];
	}
	if (d->prepare && (rc = d->prepare(&l)) < 0) {
		classify(&r, rc, l.err);
		finish(&r);
	}
	pid_t pids[BENCH_MAX_FANOUT];
	for (int k = 0; k < nechoes && rc == 0; k++)
		rc = start_echo(&l, &ph, k, pids, ans);
	if (ans[1] >= 0)
		close(ans[1]);
	if (rc == 0 && d->runner_open)
		rc = d->runner_open(&l);
	if (rc == 0 && row->lat && row->fanout == 0)
		rc = latency(&ph, &r);
	if (rc == 0 && row->thr)
		rc = row->fanout > 0 ? bench_fanout_stream(&ph, &r) : stream(&ph, &r);
	if (rc < 0)
		classify(&r, rc, l.err);

	for (int k = 0; k < ph.nechoes; k++)
		kill(pids[k], SIGKILL);
	for (int k = 0; k < ph.nechoes; k++)
		while (waitpid(pids[k], NULL, 0) < 0 && errno == EINTR)
			;
	if (d->close)
		d->close(&l);
	free(txbase);
	free(rxbase);
	finish(&r);
}
