/*
 * The parent: runs each job in a forked runner, watches it, and removes
 * what it may have left. It never opens a channel itself, so peer libraries
 * with threads are only ever started in fresh children.
 *
 * Ctrl-C (and SIGTERM/SIGHUP) sets a flag; the current job's processes are
 * killed by pid and its objects removed before the report of what was
 * measured so far is written. The parent is a child subreaper, so an echo
 * whose runner died becomes our child: its pid cannot be reused before we
 * reap it, which makes killing it by pid safe.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

volatile sig_atomic_t bench_stop;

static void on_signal(int sig)
{
	bench_stop = sig;
}

static double job_timeout(const struct bench_config *cfg)
{
	if (cfg->timeout > 0)
		return cfg->timeout;
	/* two measurements and their warm-ups, set-up, and a slow machine */
	return 20 + 6 * cfg->seconds;
}

/* Reap the echo if it became ours; kill it first if it still runs. */
static void reap_echo(pid_t echo)
{
	if (echo <= 0)
		return;
	int st;
	pid_t p = waitpid(echo, &st, WNOHANG);
	if (p == 0) {
		kill(echo, SIGKILL);
		while (waitpid(echo, &st, 0) < 0 && errno == EINTR)
			;
	}
}

static void describe_exit(int st, char *buf, size_t cap)
{
	if (WIFSIGNALED(st))
		snprintf(buf, cap, "the measuring process died of signal %d (%s)",
		         WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, cap, "the measuring process exited with status %d "
		         "without a result", WEXITSTATUS(st));
}

/* One round of a job: a fresh runner and echo, one measured run. */
static void run_job(const struct bench_config *cfg, struct bench_job *j,
                    struct bench_result *res)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		bench_classify(res, -errno, "pipe2 failed");
		return;
	}
	pid_t me = getpid();
	pid_t runner = fork();
	if (runner < 0) {
		bench_classify(res, -errno, "fork failed");
		close(p[0]);
		close(p[1]);
		return;
	}
	if (runner == 0) {
		close(p[0]);
		bench_child_setup(me);
		bench_runner_main(j, p[1]);
	}
	close(p[1]);

	struct bench_record rec;
	bool got = false, timed_out = false, interrupted = false, echo_failed = false;
	pid_t echo[BENCH_MAX_FANOUT];
	int nechoes = 0;
	int echo_code = 0;
	char echo_msg[BENCH_REASON] = "";
	int64_t deadline = bench_now_ns() + (int64_t)(job_timeout(cfg) * 1e9);
	for (;;) {
		int64_t left = deadline - bench_now_ns();
		if (left <= 0) {
			timed_out = !echo_failed;
			break;
		}
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int rc = poll(&pfd, 1, (int)(left / 1000000) + 1);
		if (bench_stop) {
			interrupted = true;
			break;
		}
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		ssize_t n = read(p[0], &rec, sizeof rec);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof rec)
			break; /* end of file: both processes are gone */
		if (rec.type == REC_ECHO_PID) {
			if (nechoes < BENCH_MAX_FANOUT)
				echo[nechoes++] = rec.pid;
		} else if (rec.type == REC_ERROR && !echo_failed) {
			/* the runner may wait forever for an answer: give it a
			   moment to notice, then end it */
			echo_failed = true;
			echo_code = rec.code;
			snprintf(echo_msg, sizeof echo_msg, "%s", rec.msg);
			int64_t grace = bench_now_ns() + 1000000000;
			if (grace < deadline)
				deadline = grace;
		} else if (rec.type == REC_RESULT) {
			*res = rec.result;
			got = true;
			break;
		}
	}
	close(p[0]);
	if (!got)
		kill(runner, SIGKILL);
	int st = 0;
	while (waitpid(runner, &st, 0) < 0 && errno == EINTR)
		;
	for (int k = 0; k < nechoes; k++)
		reap_echo(echo[k]);
	if (j->s->row->drv->cleanup)
		j->s->row->drv->cleanup(j);

	res->series = j->series;
	res->size = j->size;
	if (got && res->status == BENCH_OK)
		return;
	if (echo_failed) {
		bench_classify(res, echo_code, echo_msg);
	} else if (interrupted) {
		res->status = BENCH_NOT_RUN;
		snprintf(res->reason, sizeof res->reason, "interrupted");
	} else if (timed_out) {
		char why[BENCH_REASON];
		snprintf(why, sizeof why, "no result within %.0f s (watchdog)",
		         job_timeout(cfg));
		bench_classify(res, -ETIMEDOUT, why);
	} else if (!got) {
		char why[BENCH_REASON];
		describe_exit(st, why, sizeof why);
		bench_classify(res, -ECHILD, why);
	}
}

/* The cache-line floor, pinned to the run's two CPUs, measured the way the
 * ref-cacheline row is (one run of about 30 ms after its warm-up). */
static void probe_floor(const struct bench_report *rep, struct bench_floor *f)
{
	memset(f, 0, sizeof *f);
	const struct bench_row *row = bench_row_find("ref-cacheline");
	if (row == NULL || rep->cfg.cpu[0] < 0 || rep->cfg.cpu[1] < 0 ||
	    rep->cfg.cpu[0] == rep->cfg.cpu[1]) {
		snprintf(f->reason, sizeof f->reason,
		         "fewer than two CPUs to place the two processes on");
		return;
	}
	struct bench_series s;
	memset(&s, 0, sizeof s);
	s.row = row;
	s.busy = true;
	s.state = SERIES_RUN;
	snprintf(s.id, sizeof s.id, "%s", row->id);
	snprintf(s.label, sizeof s.label, "%s", row->label);
	struct bench_config cfg = rep->cfg;
	cfg.reps = 1;
	cfg.seconds = 0.045;
	cfg.iterations = 400000;
	cfg.timeout = 20;
	struct bench_job j;
	memset(&j, 0, sizeof j);
	j.s = &s;
	j.cfg = &cfg;
	j.series = -1;
	j.index = -1;
	j.size = 64;
	j.run = true;
	j.batch = bench_batch_for(&s, 64);
	struct bench_result r;
	memset(&r, 0, sizeof r);
	run_job(&cfg, &j, &r);
	if (r.status == BENCH_OK && r.has_lat && r.lat.nruns > 0) {
		f->ok = true;
		f->rtt_ns = r.lat.runs[0] * 1e3;
	} else {
		snprintf(f->reason, sizeof f->reason, "%s",
		         r.reason[0] ? r.reason : "interrupted");
	}
}

static void merge(struct bench_result *acc, const struct bench_result *r)
{
	if (r->status != BENCH_OK) {
		if (bench_stop && r->status == BENCH_NOT_RUN)
			return; /* interrupted: keep the runs already taken */
		acc->status = r->status;
		snprintf(acc->reason, sizeof acc->reason, "%s", r->reason);
		acc->has_lat = acc->has_thr = false;
		return;
	}
	if (r->has_lat && acc->lat.nruns < BENCH_MAX_REPS) {
		acc->has_lat = true;
		acc->lat.runs[acc->lat.nruns++] = r->lat.runs[0];
		acc->lat.samples += r->lat.samples;
		acc->lat.batch = r->lat.batch;
		if (r->lat.max > acc->lat.max)
			acc->lat.max = r->lat.max;
	}
	if (r->has_thr && acc->thr.nruns < BENCH_MAX_REPS) {
		acc->has_thr = true;
		acc->thr.runs[acc->thr.nruns++] = r->thr.runs[0];
		acc->thr.messages += r->thr.messages;
		acc->thr.sent += r->thr.sent;
		acc->thr.seconds += r->thr.seconds;
	}
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Figures from the runs: medians of the runs, tails from the pooled
 * histogram (never shown below the median nor above the max). */
static void finish(struct bench_result *r, const struct bench_hist *h)
{
	if (r->status != BENCH_OK)
		return;
	if (!r->has_lat && !r->has_thr) {
		r->status = BENCH_NOT_RUN;
		snprintf(r->reason, sizeof r->reason, "interrupted");
		return;
	}
	if (r->has_lat) {
		struct bench_lat *l = &r->lat;
		l->p50 = bench_median(l->runs, l->nruns);
		l->p99 = h ? clamp(bench_hist_pct(h, 0.99), l->p50, l->max) : l->max;
		l->p999 = h ? clamp(bench_hist_pct(h, 0.999), l->p99, l->max) : l->max;
	}
	if (r->has_thr)
		r->thr.rate = bench_median(r->thr.runs, r->thr.nruns);
}

static void push(const struct bench_report *rep, int *order, int *n,
                 bool *queued, size_t size, const char *row_id)
{
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_job *j = &rep->jobs[i];
		if (!queued[i] && j->size == size &&
		    (row_id == NULL || strcmp(j->s->row->id, row_id) == 0)) {
			queued[i] = true;
			order[(*n)++] = i;
		}
	}
}

/*
 * Size by size, each ipckit row right before its baseline and its peers
 * (and the first ring before the references):
 * figures that are divided by each other are taken close together in time,
 * so a machine that gets busier during the run skews the ratios least.
 */
static int *execution_order(const struct bench_report *rep)
{
	int *order = calloc((size_t)rep->njobs + 1, sizeof *order);
	bool *queued = calloc((size_t)rep->njobs + 1, sizeof *queued);
	size_t sizes[BENCH_MAX_SIZES * 2];
	int n = 0, nsizes = bench_result_sizes(rep, sizes,
	                                       (int)(sizeof sizes / sizeof *sizes));
	if (order == NULL || queued == NULL) {
		free(order);
		free(queued);
		return NULL;
	}
	for (int k = 0; k < nsizes; k++) {
		for (size_t r = 0; r < bench_nrows; r++) {
			const struct bench_row *row = &bench_rows[r];
			if (row->kind != BENCH_IPCKIT)
				continue;
			push(rep, order, &n, queued, sizes[k], row->id);
			if (row->baseline)
				push(rep, order, &n, queued, sizes[k], row->baseline);
			for (size_t p = 0; p < bench_nrows; p++)
				if (bench_versus_row(&bench_rows[p], row->id))
					push(rep, order, &n, queued, sizes[k], bench_rows[p].id);
			/* the references the rings are divided by, right after the
			   first ring: the host moves the CPUs around by the minute */
			if (row->waits)
				for (size_t p = 0; p < bench_nrows; p++)
					if (bench_rows[p].kind == BENCH_REF)
						push(rep, order, &n, queued, sizes[k],
						     bench_rows[p].id);
		}
		push(rep, order, &n, queued, sizes[k], NULL);
	}
	for (int i = 0; i < rep->njobs; i++)
		if (!queued[i])
			order[n++] = i;
	free(queued);
	return order;
}

void bench_run(struct bench_report *rep)
{
	struct sigaction sa, old[3];
	const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns at once */
	sigemptyset(&sa.sa_mask);
	for (int k = 0; k < 3; k++)
		sigaction(sigs[k], &sa, &old[k]);
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	/* round-trip histograms, written by the runners, pooled over rounds */
	size_t hsize = sizeof(struct bench_hist) * (size_t)(rep->njobs + 1);
	struct bench_hist *hists = mmap(NULL, hsize, PROT_READ | PROT_WRITE,
	                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (hists == MAP_FAILED)
		hists = NULL;
	int todo = 0;
	for (int i = 0; i < rep->njobs; i++) {
		rep->jobs[i].hist = hists ? &hists[i] : NULL;
		if (!rep->jobs[i].run)
			continue;
		todo++;
		struct bench_result *r = &rep->results[i];
		memset(&r->lat, 0, sizeof r->lat);
		memset(&r->thr, 0, sizeof r->thr);
		r->has_lat = r->has_thr = false;
		r->status = BENCH_OK;
		r->reason[0] = '\0';
	}

	int64_t t0 = bench_now_ns();
	probe_floor(rep, &rep->floor[0]);
	int done = 0, total = todo * rep->cfg.reps;
	int *order = execution_order(rep);
	/* every job once per round: each run of a figure is a fresh pair of
	   processes, and the runs of all figures are interleaved in time */
	for (int round = 0; round < rep->cfg.reps && !bench_stop; round++) {
		for (int o = 0; o < rep->njobs && !bench_stop; o++) {
			int i = order ? order[o] : o;
			if (!rep->jobs[i].run || rep->results[i].status != BENCH_OK)
				continue;
			bench_progress(rep, done, total, i);
			struct bench_result r;
			memset(&r, 0, sizeof r);
			run_job(&rep->cfg, &rep->jobs[i], &r);
			merge(&rep->results[i], &r);
			done++;
		}
	}
	free(order);
	if (bench_stop)
		snprintf(rep->floor[1].reason, sizeof rep->floor[1].reason,
		         "interrupted");
	else
		probe_floor(rep, &rep->floor[1]);
	bench_progress_end(rep);
	for (int i = 0; i < rep->njobs; i++)
		if (rep->jobs[i].run)
			finish(&rep->results[i], rep->jobs[i].hist);
	if (hists)
		munmap(hists, hsize);
	for (int i = 0; i < rep->njobs; i++)
		rep->jobs[i].hist = NULL;
	rep->elapsed = (double)(bench_now_ns() - t0) / 1e9;
	rep->interrupted = bench_stop != 0;

	prctl(PR_SET_CHILD_SUBREAPER, 0);
	for (int k = 0; k < 3; k++)
		sigaction(sigs[k], &old[k], NULL);
}
