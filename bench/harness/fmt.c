/* Number formats shared by the text, CSV and HTML reports. */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <string.h>

const char *bench_fmt_us(double v, char *buf, size_t cap)
{
	if (!isfinite(v) || v <= 0)
		snprintf(buf, cap, "-");
	else if (v < 10)
		snprintf(buf, cap, "%.2f", v);
	else if (v < 100)
		snprintf(buf, cap, "%.1f", v);
	else
		snprintf(buf, cap, "%.0f", v);
	return buf;
}

const char *bench_fmt_count(double v, char *buf, size_t cap)
{
	const char *unit = "";
	if (v >= 1e9)
		v /= 1e9, unit = "G";
	else if (v >= 1e6)
		v /= 1e6, unit = "M";
	else if (v >= 1e3)
		v /= 1e3, unit = "k";
	if (v < 10)
		snprintf(buf, cap, "%.2f%s", v, unit);
	else if (v < 100)
		snprintf(buf, cap, "%.1f%s", v, unit);
	else
		snprintf(buf, cap, "%.0f%s", v, unit);
	return buf;
}

const char *bench_fmt_ratio(double v, char *buf, size_t cap)
{
	if (v < 0.1)
		snprintf(buf, cap, "%.2gx", v); /* 0.0035x, not 0.00x */
	else if (v < 10)
		snprintf(buf, cap, "%.2fx", v);
	else
		snprintf(buf, cap, "%.0fx", v);
	return buf;
}

const char *bench_fmt_spread(double pct, char *buf, size_t cap)
{
	if (pct > 999)
		snprintf(buf, cap, ">999%%"); /* runs that disagree wildly */
	else
		snprintf(buf, cap, pct < 9.95 ? "%.1f%%" : "%.0f%%", pct);
	return buf;
}

double bench_mib(const struct bench_result *r)
{
	return r->thr.rate * (double)r->size / (1024.0 * 1024.0);
}

const char *bench_status_text(enum bench_status s)
{
	switch (s) {
	case BENCH_OK:
		return "ok";
	case BENCH_SKIPPED:
		return "skipped";
	case BENCH_FAILED:
		return "failed";
	case BENCH_NOT_RUN:
		break;
	}
	return "not run";
}

const char *bench_kind_text(enum bench_kind k)
{
	switch (k) {
	case BENCH_IPCKIT:
		return "ipckit";
	case BENCH_RAW:
		return "raw";
	case BENCH_PEER:
		return "peer";
	case BENCH_REF:
		break;
	}
	return "reference";
}

/* Sizes that have at least one result, ascending. */
int bench_result_sizes(const struct bench_report *rep, size_t *out, int cap)
{
	int n = 0;
	for (int i = 0; i < rep->njobs; i++) {
		size_t s = rep->results[i].size;
		int k = 0;
		while (k < n && out[k] != s)
			k++;
		if (k < n || n == cap)
			continue;
		int pos = n++;
		while (pos > 0 && out[pos - 1] > s) {
			out[pos] = out[pos - 1];
			pos--;
		}
		out[pos] = s;
	}
	return n;
}
