/* --json: every figure, with the ratios and the figures they come from.
 * The schema is described in docs/bench.md ("ipckit-bench/1"). */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <string.h>

static void jstr(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* Six significant digits: ratios recomputed from these agree to 1e-5. */
static void jnum(FILE *out, double v)
{
	if (isfinite(v))
		fprintf(out, "%.6g", v);
	else
		fputs("null", out);
}

static void jarr(FILE *out, const double *v, int n)
{
	fputc('[', out);
	for (int i = 0; i < n; i++) {
		if (i)
			fputs(", ", out);
		jnum(out, v[i]);
	}
	fputc(']', out);
}

/* The next member of an object: , "key": value */
static void kstr(FILE *out, const char *key, const char *s)
{
	fprintf(out, ", \"%s\": ", key);
	jstr(out, s);
}

static void knum(FILE *out, const char *key, double v)
{
	fprintf(out, ", \"%s\": ", key);
	jnum(out, v);
}

static const char *state_text(enum bench_state s)
{
	return s == SERIES_RUN ? "measured"
	       : s == SERIES_NOT_BUILT ? "not built" : "unavailable";
}

static void series(FILE *out, const struct bench_config *cfg,
                   const struct bench_series *s)
{
	const struct bench_row *r = s->row;
	fputs("    {\"id\": ", out);
	jstr(out, s->id);
	kstr(out, "row", r->id);
	kstr(out, "kind", bench_kind_text(r->kind));
	kstr(out, "family", r->family ? r->family->id : NULL);
	kstr(out, "label", s->label);
	kstr(out, "scheme", r->kind == BENCH_IPCKIT ? r->scheme : NULL);
	kstr(out, "wait", s->wait);
	bool first = r->spins_first || (s->wait && strcmp(s->wait, "hybrid") == 0);
	fprintf(out, ", \"busy_poll\": %s, \"spins_first\": %s, \"pinned\": %s",
	        s->busy ? "true" : "false", first ? "true" : "false",
	        bench_pinned(cfg, s) ? "true" : "false");
	kstr(out, "listen", r->listen);
	kstr(out, "dial", r->dial);
	kstr(out, "baseline", r->baseline);
	kstr(out, "versus", r->versus);
	fprintf(out, ", \"receivers\": %d, \"latency\": %s, \"throughput\": %s",
	        r->fanout > 0 ? r->fanout : 1,
	        r->lat && r->fanout == 0 ? "true" : "false",
	        r->thr ? "true" : "false");
	kstr(out, "state", state_text(s->state));
	kstr(out, "reason", s->state == SERIES_RUN ? NULL : s->reason);
	fputc('}', out);
}

static void result(FILE *out, const struct bench_report *rep,
                   const struct bench_result *r)
{
	fputs("    {\"series\": ", out);
	jstr(out, rep->series[r->series].id);
	fprintf(out, ", \"size\": %zu", r->size);
	kstr(out, "status", bench_status_text(r->status));
	kstr(out, "reason", r->status == BENCH_OK ? NULL : r->reason);
	fputs(",\n     \"latency\": ", out);
	if (r->status == BENCH_OK && r->has_lat) {
		const struct bench_lat *l = &r->lat;
		fputs("{\"unit\": \"us\"", out);
		knum(out, "rtt_p50", l->p50);
		knum(out, "rtt_p99", l->p99);
		knum(out, "rtt_p999", l->p999);
		knum(out, "rtt_max", l->max);
		knum(out, "one_way_p50", l->p50 / 2);
		knum(out, "spread_pct", bench_spread(l->runs, l->nruns));
		fputs(", \"runs_p50\": ", out);
		jarr(out, l->runs, l->nruns);
		fprintf(out, ", \"samples\": %ld, \"batch\": %d}", l->samples,
		        l->batch);
	} else {
		fputs("null", out);
	}
	fputs(",\n     \"throughput\": ", out);
	if (r->status == BENCH_OK && r->has_thr) {
		const struct bench_thr *t = &r->thr;
		fputs("{\"msgs_per_s\": ", out);
		jnum(out, t->rate);
		knum(out, "mib_per_s", bench_mib(r));
		knum(out, "spread_pct", bench_spread(t->runs, t->nruns));
		fputs(", \"runs_msgs_per_s\": ", out);
		jarr(out, t->runs, t->nruns);
		fprintf(out, ", \"messages\": %ld, \"sent\": %ld", t->messages,
		        t->sent);
		knum(out, "seconds", t->seconds);
		fputc('}', out);
	} else {
		fputs("null", out);
	}
	fputc('}', out);
}

static void floor_obj(FILE *out, const struct bench_floor *f)
{
	fputs("{\"cacheline_rtt_ns\": ", out);
	jnum(out, f->ok ? f->rtt_ns : NAN);
	kstr(out, "placement", bench_placement_id(bench_placement_of(f)));
	kstr(out, "reason", f->ok ? NULL : f->reason);
	fputc('}', out);
}

/* The cache-line floor at the start and the end, and the placement each
 * implies (split at or above split_threshold_ns). */
static void placement(FILE *out, const struct bench_report *rep)
{
	fprintf(out, "{\"split_threshold_ns\": %d, \"start\": ", BENCH_SPLIT_NS);
	floor_obj(out, &rep->floor[0]);
	fputs(", \"end\": ", out);
	floor_obj(out, &rep->floor[1]);
	fprintf(out, ", \"changed\": %s}",
	        bench_placement_changed(rep) ? "true" : "false");
}

void bench_write_json(FILE *out, const struct bench_report *rep)
{
	const struct bench_config *c = &rep->cfg;
	const struct bench_host *h = &rep->host;
	fputs("{\n  \"schema\": \"ipckit-bench/1\",\n  \"version\": ", out);
	jstr(out, ipk_version());
	fputs(",\n  \"host\": {\"kernel\": ", out);
	jstr(out, h->kernel);
	kstr(out, "machine", h->machine);
	kstr(out, "cpu", h->cpu);
	fprintf(out, ", \"cpus\": %ld", h->cpus);
	kstr(out, "started", h->started);
	fputs("},\n  \"config\": {", out);
	fprintf(out, "\"quick\": %s, \"sizes\": [", c->quick ? "true" : "false");
	for (int i = 0; i < c->nsizes; i++)
		fprintf(out, "%s%zu", i ? ", " : "", c->sizes[i]);
	fprintf(out, "], \"repetitions\": %d, \"warmup_runs\": 1, "
	        "\"iterations\": %ld", c->reps, c->iterations);
	knum(out, "seconds_per_measurement", c->seconds);
	fprintf(out, ", \"pin_all\": %s, \"cpus\": [%d, %d]",
	        c->pin ? "true" : "false", c->cpu[0], c->cpu[1]);
	kstr(out, "transports", c->transports);
	fputs("},\n  \"placement\": ", out);
	placement(out, rep);
	fputs(",\n  \"elapsed_s\": ", out);
	jnum(out, rep->elapsed);
	fprintf(out, ",\n  \"interrupted\": %s,\n  \"series\": [\n",
	        rep->interrupted ? "true" : "false");
	for (int i = 0; i < rep->nseries; i++) {
		series(out, c, &rep->series[i]);
		fputs(i + 1 < rep->nseries ? ",\n" : "\n", out);
	}
	fputs("  ],\n  \"results\": [\n", out);
	for (int i = 0; i < rep->njobs; i++) {
		result(out, rep, &rep->results[i]);
		fputs(i + 1 < rep->njobs ? ",\n" : "\n", out);
	}
	fputs("  ],\n  \"ratios\": [\n", out);
	for (int i = 0; i < rep->nratios; i++) {
		const struct bench_ratio *x = &rep->ratios[i];
		const struct bench_result *a = &rep->results[x->subject];
		const struct bench_result *b = &rep->results[x->reference];
		bool lat = x->metric == BENCH_LATENCY;
		fprintf(out, "    {\"metric\": \"%s\", \"figure\": \"%s\", "
		        "\"size\": %zu, \"reference_size\": %zu",
		        lat ? "latency" : "throughput",
		        lat ? "rtt_p50" : "msgs_per_s", a->size, b->size);
		kstr(out, "subject", rep->series[a->series].id);
		kstr(out, "reference", rep->series[b->series].id);
		knum(out, "value", x->value);
		fputs(i + 1 < rep->nratios ? "},\n" : "}\n", out);
	}
	fputs("  ]\n}\n", out);
}
