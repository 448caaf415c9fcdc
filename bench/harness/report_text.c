/* The table on stdout: one block per message size, latency then throughput. */
#define _GNU_SOURCE
#include "bench.h"

#include <string.h>

/* the label column: as wide as the longest label shown, at least 36 */
static int label_w = 36;

static void label_width(const struct bench_report *rep)
{
	label_w = 36;
	for (int i = 0; i < rep->nseries; i++) {
		int w = (int)strlen(rep->series[i].label) + 3;
		if (rep->series[i].state == SERIES_RUN && w > label_w)
			label_w = w;
	}
}

static void header(FILE *out, const struct bench_report *rep)
{
	const struct bench_config *c = &rep->cfg;
	const struct bench_host *h = &rep->host;
	char pin[128];
	fprintf(out, "ipckit bench %s on %s %s, %ld CPUs (%s)\n%s\n",
	        ipk_version(), h->kernel, h->machine, h->cpus, h->cpu,
	        bench_pin_text(c, pin, sizeof pin));
	fprintf(out,
	        "%s: each figure from %d runs of %.3g s, each in fresh processes "
	        "after a warm-up; %.1f s in all%s\n",
	        c->quick ? "quick run" : "full run", c->reps,
	        (double)bench_run_ns(c) / 1e9, rep->elapsed,
	        rep->interrupted ? " (INTERRUPTED: partial results)" : "");
	char place[2 * BENCH_REASON + 200];
	fprintf(out, "CPU placement: %s\n",
	        bench_placement_line(rep, place, sizeof place));
	if (bench_placement_changed(rep))
		fprintf(out, "WARNING: %s\n", BENCH_PLACEMENT_WARNING);
}

/* Ratios this result is the subject of (against raw rows and references),
 * and for a peer row, ipckit's matching transport against it. */
static void ratio_text(const struct bench_report *rep, int ri,
                       enum bench_metric m, char *buf, size_t cap)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int k = 0; k < rep->nratios && off < cap; k++) {
		const struct bench_ratio *x = &rep->ratios[k];
		if (x->metric != m)
			continue;
		char v[32];
		bench_fmt_ratio(x->value, v, sizeof v);
		const struct bench_series *subj = &rep->series[rep->results[x->subject].series];
		const struct bench_series *ref = &rep->series[rep->results[x->reference].series];
		if (x->subject == ri && x->reference != ri && subj == ref) {
			char sz[32];
			off += (size_t)snprintf(buf + off, cap - off, "%s%s its %s",
			                        off ? ", " : "", v,
			                        bench_size_text(rep->results[x->reference].size,
			                                        sz, sizeof sz));
		} else if (x->subject == ri && ref->row->kind != BENCH_PEER)
			off += (size_t)snprintf(buf + off, cap - off, "%s%s %s",
			                        off ? ", " : "", v,
			                        ref->row->kind == BENCH_REF
			                            ? ref->row->label + 4 /* "ref " */
			                            : ref->row->label);
		else if (x->reference == ri && ref->row->kind == BENCH_PEER)
			off += (size_t)snprintf(buf + off, cap - off, "%sipckit %s %s",
			                        off ? ", " : "", subj->label, v);
	}
}

static bool has(const struct bench_report *rep, size_t size, bool lat)
{
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		const struct bench_row *row = rep->series[r->series].row;
		if (r->size == size && (lat ? row->lat : row->thr) &&
		    rep->series[r->series].state == SERIES_RUN)
			return true;
	}
	return false;
}

static void latency_block(FILE *out, const struct bench_report *rep,
                          size_t size)
{
	char s[32];
	fprintf(out, "\n%-*s %8s %8s %8s %8s %5s %8s  %s\n", label_w,
	        bench_size_text(size, s, sizeof s), "p50", "p99", "p99.9", "max",
	        "+/-", "one-way", "ratio");
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		const struct bench_series *se = &rep->series[r->series];
		if (r->size != size || !se->row->lat || se->state != SERIES_RUN)
			continue;
		if (r->status != BENCH_OK || !r->has_lat) {
			fprintf(out, "  %-*s %s: %s\n", label_w - 2, se->label,
			        bench_status_text(r->status), r->reason);
			continue;
		}
		char a[16], b[16], c[16], d[16], e[16], ratio[256];
		ratio_text(rep, i, BENCH_LATENCY, ratio, sizeof ratio);
		char sp[16];
		bench_fmt_spread(bench_spread(r->lat.runs, r->lat.nruns), sp, sizeof sp);
		fprintf(out, "  %-*s %8s %8s %8s %8s %5s %8s%s%s\n", label_w - 2,
		        se->label, bench_fmt_us(r->lat.p50, a, sizeof a),
		        bench_fmt_us(r->lat.p99, b, sizeof b),
		        bench_fmt_us(r->lat.p999, c, sizeof c),
		        bench_fmt_us(r->lat.max, d, sizeof d), sp,
		        bench_fmt_us(r->lat.p50 / 2, e, sizeof e), ratio[0] ? "  " : "",
		        ratio);
	}
}

static void throughput_block(FILE *out, const struct bench_report *rep,
                             size_t size)
{
	char s[32];
	fprintf(out, "\n%-*s %9s %9s %5s  %s\n", label_w,
	        bench_size_text(size, s, sizeof s), "msg/s", "MiB/s", "+/-",
	        "ratio");
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		const struct bench_series *se = &rep->series[r->series];
		if (r->size != size || !se->row->thr || se->state != SERIES_RUN)
			continue;
		if (r->status != BENCH_OK || !r->has_thr) {
			fprintf(out, "  %-*s %s: %s\n", label_w - 2, se->label,
			        bench_status_text(r->status), r->reason);
			continue;
		}
		char a[16], b[16], ratio[256];
		ratio_text(rep, i, BENCH_THROUGHPUT, ratio, sizeof ratio);
		if (r->thr.sent > r->thr.messages) {
			/* a lossy fan-out: how much of what was sent arrived */
			size_t o = strlen(ratio);
			snprintf(ratio + o, sizeof ratio - o, "%s%.0f%% of sent delivered",
			         o ? ", " : "",
			         100.0 * (double)r->thr.messages / (double)r->thr.sent);
		}
		char sp[16];
		bench_fmt_spread(bench_spread(r->thr.runs, r->thr.nruns), sp, sizeof sp);
		fprintf(out, "  %-*s %9s %9s %5s%s%s\n", label_w - 2, se->label,
		        bench_fmt_count(r->thr.rate, a, sizeof a),
		        bench_fmt_count(bench_mib(r), b, sizeof b), sp,
		        ratio[0] ? "  " : "", ratio);
	}
}

static void absent(FILE *out, const struct bench_report *rep,
                   enum bench_state st, const char *title)
{
	bool first = true;
	for (int i = 0; i < rep->nseries; i++) {
		const struct bench_series *se = &rep->series[i];
		if (se->state != st || (i > 0 && rep->series[i - 1].row == se->row))
			continue; /* a row's waiting modes are one entry */
		if (first)
			fprintf(out, "%s:", title);
		if (st == SERIES_UNAVAILABLE)
			fprintf(out, "%s %s (%s)", first ? "" : ";", se->row->label,
			        se->reason);
		else
			fprintf(out, " %s", se->row->label);
		first = false;
	}
	if (!first)
		fputc('\n', out);
}

void bench_write_text(FILE *out, const struct bench_report *rep)
{
	size_t sizes[BENCH_MAX_SIZES * 2];
	int n = bench_result_sizes(rep, sizes, (int)(sizeof sizes / sizeof *sizes));
	label_width(rep);
	header(out, rep);
	fprintf(out,
	        "\nLATENCY: round trip between two processes, microseconds "
	        "(one-way = RTT/2).\n"
	        "p50 = median of the runs' medians; p99, p99.9, max over all round "
	        "trips;\n+/- = half the range of the run medians; ratio = this "
	        "row's p50 / the named row's p50.\n");
	for (int k = 0; k < n; k++)
		if (has(rep, sizes[k], true))
			latency_block(out, rep, sizes[k]);
	fprintf(out,
	        "\nTHROUGHPUT: one-way stream, messages and MiB per second "
	        "(median of runs).\n"
	        "ratio = this row's rate / the named row's rate (below 1: "
	        "slower).\n");
	for (int k = 0; k < n; k++)
		if (has(rep, sizes[k], false))
			throughput_block(out, rep, sizes[k]);
	fputc('\n', out);
	absent(out, rep, SERIES_NOT_BUILT, "not built in this ipckit");
	absent(out, rep, SERIES_UNAVAILABLE, "unavailable");
	fprintf(out, "busy-poll rows spin on a CPU while they wait; compare them "
	        "with each other, not with blocking rows.\n");
	if (bench_placement_changed(rep))
		fprintf(out, "WARNING: %s.\n", BENCH_PLACEMENT_WARNING);
	int unsteady = 0;
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		if (r->status == BENCH_OK &&
		    ((r->has_lat && bench_spread(r->lat.runs, r->lat.nruns) > 50) ||
		     (r->has_thr && bench_spread(r->thr.runs, r->thr.nruns) > 50)))
			unsteady++;
	}
	if (unsteady && !rep->cfg.pin)
		fprintf(out, "%d figures vary by more than 50%% from run to run, "
		        "most often because the scheduler put\nthe two processes on "
		        "one CPU in some runs and on two in others: --pin keeps them "
		        "on two.\n", unsteady);
	else if (unsteady)
		fprintf(out, "%d figures vary by more than 50%% from run to run: the "
		        "machine was busy; run again, or longer.\n", unsteady);
}
