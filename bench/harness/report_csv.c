/* --csv: one line per result; ratios as "reference=value" lists. */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <string.h>

static void field(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void num(FILE *out, bool have, double v)
{
	fputc(',', out);
	if (have && isfinite(v))
		fprintf(out, "%.6g", v);
}

static void ratios(FILE *out, const struct bench_report *rep, int ri,
                   enum bench_metric m)
{
	char buf[512];
	size_t off = 0;
	buf[0] = '\0';
	for (int k = 0; k < rep->nratios && off < sizeof buf; k++) {
		const struct bench_ratio *x = &rep->ratios[k];
		if (x->metric != m || x->subject != ri)
			continue;
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%.6g",
		                        off ? ";" : "",
		                        rep->series[rep->results[x->reference].series].id,
		                        x->value);
	}
	fputc(',', out);
	field(out, buf);
}

void bench_write_csv(FILE *out, const struct bench_report *rep)
{
	fputs("series,kind,label,wait,busy_poll,size,status,"
	      "rtt_p50_us,rtt_p99_us,rtt_p999_us,rtt_max_us,one_way_p50_us,"
	      "latency_spread_pct,latency_samples,msgs_per_s,mib_per_s,"
	      "throughput_spread_pct,latency_ratios,throughput_ratios,reason\n",
	      out);
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		const struct bench_series *s = &rep->series[r->series];
		bool ok = r->status == BENCH_OK;
		bool lat = ok && r->has_lat, thr = ok && r->has_thr;
		fprintf(out, "%s,%s,", s->id, bench_kind_text(s->row->kind));
		field(out, s->label);
		fprintf(out, ",%s,%s,%zu,%s", s->wait ? s->wait : "",
		        s->busy ? "true" : "false", r->size,
		        bench_status_text(r->status));
		num(out, lat, r->lat.p50);
		num(out, lat, r->lat.p99);
		num(out, lat, r->lat.p999);
		num(out, lat, r->lat.max);
		num(out, lat, r->lat.p50 / 2);
		num(out, lat, bench_spread(r->lat.runs, r->lat.nruns));
		num(out, lat, (double)r->lat.samples);
		num(out, thr, r->thr.rate);
		num(out, thr, bench_mib(r));
		num(out, thr, bench_spread(r->thr.runs, r->thr.nruns));
		ratios(out, rep, i, BENCH_LATENCY);
		ratios(out, rep, i, BENCH_THROUGHPUT);
		fputc(',', out);
		field(out, ok ? "" : r->reason);
		fputc('\n', out);
	}
}
