/* Percentiles, medians, spread, and the ratios between figures of one run. */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void bench_sort(double *v, long n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
}

double bench_pct(const double *sorted, long n, double p)
{
	if (n <= 0)
		return 0;
	long rank = (long)(p * (double)n + 0.999999999); /* ceil, nearest rank */
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

void bench_hist_add(struct bench_hist *h, double us)
{
	long i = 0;
	if (us > BENCH_HIST_MIN_US)
		i = (long)(log(us / BENCH_HIST_MIN_US) / log(BENCH_HIST_STEP));
	if (i >= BENCH_HIST_N)
		i = BENCH_HIST_N - 1;
	h->n[i]++;
}

double bench_hist_pct(const struct bench_hist *h, double p)
{
	unsigned long long total = 0, seen = 0;
	for (int i = 0; i < BENCH_HIST_N; i++)
		total += h->n[i];
	if (total == 0)
		return 0;
	unsigned long long rank = (unsigned long long)ceil(p * (double)total);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < BENCH_HIST_N; i++) {
		seen += h->n[i];
		if (seen >= rank) /* the bucket's geometric middle */
			return BENCH_HIST_MIN_US * pow(BENCH_HIST_STEP, i + 0.5);
	}
	return BENCH_HIST_MIN_US * pow(BENCH_HIST_STEP, BENCH_HIST_N);
}

double bench_median(const double *v, int n)
{
	double tmp[BENCH_MAX_REPS];
	if (n <= 0)
		return 0;
	if (n > BENCH_MAX_REPS)
		n = BENCH_MAX_REPS;
	memcpy(tmp, v, (size_t)n * sizeof *tmp);
	bench_sort(tmp, n);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

double bench_spread(const double *runs, int n)
{
	if (n < 2)
		return 0;
	double lo = runs[0], hi = runs[0];
	for (int i = 1; i < n; i++) {
		if (runs[i] < lo)
			lo = runs[i];
		if (runs[i] > hi)
			hi = runs[i];
	}
	double med = bench_median(runs, n);
	return med > 0 ? (hi - lo) / (2 * med) * 100 : 0;
}

double bench_figure(const struct bench_result *r, enum bench_metric m)
{
	return m == BENCH_LATENCY ? r->lat.p50 : r->thr.rate;
}

static int find_result(const struct bench_report *rep, const char *row,
                       const char *wait, size_t size)
{
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		const struct bench_series *s = &rep->series[r->series];
		if (r->status == BENCH_OK && r->size == size &&
		    strcmp(s->row->id, row) == 0 &&
		    ((wait == NULL && s->wait == NULL) ||
		     (wait && s->wait && strcmp(wait, s->wait) == 0)))
			return i;
	}
	return -1;
}

static int find_series(const struct bench_report *rep, const char *id,
                       size_t size)
{
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		if (r->status == BENCH_OK && r->size == size &&
		    strcmp(rep->series[r->series].id, id) == 0)
			return i;
	}
	return -1;
}

static void add(struct bench_report *rep, enum bench_metric m, int subject,
                int reference)
{
	if (subject < 0 || reference < 0)
		return;
	const struct bench_result *a = &rep->results[subject];
	const struct bench_result *b = &rep->results[reference];
	bool have = m == BENCH_LATENCY ? a->has_lat && b->has_lat
	                               : a->has_thr && b->has_thr;
	double den = have ? bench_figure(b, m) : 0;
	if (!have || den <= 0 || bench_figure(a, m) <= 0 ||
	    rep->nratios >= rep->ratios_cap)
		return;
	struct bench_ratio *x = &rep->ratios[rep->nratios++];
	x->metric = m;
	x->subject = subject;
	x->reference = reference;
	x->value = bench_figure(a, m) / den;
}

void bench_ratios(struct bench_report *rep)
{
	free(rep->ratios);
	rep->nratios = 0;
	/* at most a handful per result */
	rep->ratios_cap = rep->njobs * 8 + 1;
	rep->ratios = calloc((size_t)rep->ratios_cap, sizeof *rep->ratios);
	if (rep->ratios == NULL)
		return;
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		const struct bench_series *s = &rep->series[r->series];
		const struct bench_row *row = s->row;
		if (r->status != BENCH_OK)
			continue;
		if (row->kind == BENCH_IPCKIT && row->baseline) {
			/* a ring row's baseline in the same waiting mode */
			int b = find_result(rep, row->baseline, s->wait, r->size);
			add(rep, BENCH_LATENCY, i, b);
			add(rep, BENCH_THROUGHPUT, i, b);
		}
		if (row->kind == BENCH_IPCKIT && row->waits) {
			/* a spinning ring against the floors that spin too; every
			   ring's rate for large messages against copying them through
			   shared memory between two processes (two slots: small
			   messages need a ring's many), and against one process's
			   memcpy */
			int hand = find_result(rep, "ref-handover", NULL, r->size);
			if (s->busy) {
				add(rep, BENCH_LATENCY, i,
				    find_result(rep, "ref-cacheline", NULL, r->size));
				add(rep, BENCH_LATENCY, i, hand);
			}
			if (r->size >= BENCH_LARGE)
				add(rep, BENCH_THROUGHPUT, i, hand);
			add(rep, BENCH_THROUGHPUT, i,
			    find_result(rep, "ref-memcpy", NULL, r->size));
		}
		if (row->size_ratio) {
			/* against the same series at its smallest size */
			int small = -1;
			for (int k = 0; k < rep->njobs; k++) {
				const struct bench_result *q = &rep->results[k];
				if (q->series == r->series && q->status == BENCH_OK &&
				    (small < 0 || q->size < rep->results[small].size))
					small = k;
			}
			if (small >= 0 && small != i)
				add(rep, BENCH_LATENCY, i, small);
		}
		char id[64];
		for (const char *p = row->kind == BENCH_PEER ? row->versus : NULL;
		     (p = bench_versus_next(p, id, sizeof id));) {
			int x = find_series(rep, id, r->size);
			add(rep, BENCH_LATENCY, x, i);
			add(rep, BENCH_THROUGHPUT, x, i);
		}
	}
}
