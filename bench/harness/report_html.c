/*
 * --html FILE: one self-contained page (inline CSS and SVG, no scripts, no
 * network) with one chart and one table per section: latency per
 * transport, throughput against message size, and the ratios.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <string.h>

static const char *const palette[] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
	"#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a",
	"#637939", "#843c39", "#5254a3", "#6b6ecf", "#8ca252", "#bd9e39",
	"#e7969c", "#a55194",
};
#define NCOLORS (sizeof palette / sizeof palette[0])
static const char *const size_colors[] = {"#4e79a7", "#f28e2b", "#59a14f",
                                          "#e15759", "#76b7b2", "#b07aa1",
                                          "#edc948", "#9c755f"};
#define NSIZECOLORS (sizeof size_colors / sizeof size_colors[0])

static void esc(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* ------------------------------------------------------------- scales */

struct logscale {
	double lo, hi; /* decades: 10^lo .. 10^hi */
	double x0, x1; /* pixels */
};

static void log_domain(struct logscale *s, double vmin, double vmax)
{
	if (!(vmin > 0))
		vmin = 1;
	if (!(vmax > vmin))
		vmax = vmin * 10;
	s->lo = floor(log10(vmin));
	s->hi = ceil(log10(vmax));
	if (s->hi <= s->lo)
		s->hi = s->lo + 1;
}

static double log_px(const struct logscale *s, double v)
{
	if (!(v > 0))
		return s->x0;
	double t = (log10(v) - s->lo) / (s->hi - s->lo);
	if (t < 0)
		t = 0;
	if (t > 1)
		t = 1;
	return s->x0 + t * (s->x1 - s->x0);
}

static void decade_label(double e, char *buf, size_t cap)
{
	double v = pow(10, e);
	if (v >= 1e6 || v < 1e-3)
		snprintf(buf, cap, "1e%.0f", e);
	else
		snprintf(buf, cap, "%g", v);
}

/* A mechanism keeps one colour: ipckit's row solid (rings: dashed by
 * waiting mode), its raw baseline dotted; peers and references their own. */
static void style_of(const struct bench_series *s, const char **color,
                     const char **dash, double *width)
{
	static const char *const schemes[] = {"pipe", "fifo", "unix", "unixgram",
	                                      "tcp", "sysvmq", "mq", "signal",
	                                      "shm", "sysvshm", "mmap"};
	const struct bench_row *r = s->row;
	*dash = "";
	*width = 1.8;
	*color = palette[NCOLORS - 1];
	if (r->kind == BENCH_REF) {
		*color = "#000";
		*width = 2.6;
		*dash = strcmp(r->id, "ref-memcpy") == 0 ? "" : "1 3";
		return;
	}
	if (r->kind == BENCH_PEER) {
		*color = strcmp(r->id, "nng-ipc") == 0   ? palette[11]
		         : strcmp(r->id, "nng-tcp") == 0 ? palette[12]
		                                         : palette[13];
		*dash = "7 2 1 2";
		return;
	}
	for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
		if (strcmp(schemes[i], r->scheme) == 0)
			*color = palette[i];
	if (r->kind == BENCH_RAW)
		*dash = "2 2";
	else if (s->wait && strcmp(s->wait, "spin") == 0)
		*dash = "6 3";
	else if (s->wait && strcmp(s->wait, "hybrid") == 0)
		*dash = "10 3 2 3";
}

/* Labels for the ratio chart: no "ref " prefix, no busy-poll note. */
static void short_label(FILE *out, const struct bench_series *s)
{
	char buf[64];
	const char *l = s->label;
	if (s->row->kind == BENCH_REF && strncmp(l, "ref ", 4) == 0)
		l += 4;
	snprintf(buf, sizeof buf, "%s", l);
	char *b = strstr(buf, " (busy-poll)");
	if (b)
		*b = '\0';
	esc(out, buf);
}

static bool lat_ok(const struct bench_result *r)
{
	return r->status == BENCH_OK && r->has_lat;
}

static bool thr_ok(const struct bench_result *r)
{
	return r->status == BENCH_OK && r->has_thr;
}

static int size_index(const size_t *sizes, int n, size_t s)
{
	for (int i = 0; i < n; i++)
		if (sizes[i] == s)
			return i;
	return 0;
}

/* Vertical grid lines and labels of a horizontal log axis. */
static void x_axis(FILE *out, const struct logscale *s, double top,
                   double bottom, const char *title)
{
	for (double e = s->lo; e <= s->hi + 1e-9; e++) {
		double x = log_px(s, pow(10, e));
		char lab[32];
		decade_label(e, lab, sizeof lab);
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "class=\"grid\" />\n", x, top, x, bottom);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" "
		        "text-anchor=\"middle\">%s</text>\n", x, bottom + 14, lab);
		/* long charts: the scale at the top too */
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" "
		        "text-anchor=\"middle\">%s</text>\n", x, top - 4, lab);
	}
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" "
	        "text-anchor=\"middle\">", (s->x0 + s->x1) / 2, bottom + 30);
	esc(out, title);
	fputs("</text>\n", out);
}

static void svg_open(FILE *out, double width, double height, const char *what)
{
	fprintf(out, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
	        "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
	        "role=\"img\" aria-label=\"%s\">\n",
	        width, height, width, height, what);
}

/* One colour per message size, in a row from x = left at height y. */
static void size_legend(FILE *out, double left, double y, const size_t *sizes,
                        int nsizes)
{
	for (int k = 0; k < nsizes; k++) {
		char t[32];
		double x = left + k * 90;
		fprintf(out, "<rect x=\"%.1f\" y=\"%.0f\" width=\"12\" height=\"10\" "
		        "fill=\"%s\" />\n", x, y, size_colors[k % NSIZECOLORS]);
		fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" class=\"tick\">%s</text>\n",
		        x + 16, y + 9, bench_size_text(sizes[k], t, sizeof t));
	}
}

/* ----------------------------------------------------------- latency */

static void latency_chart(FILE *out, const struct bench_report *rep,
                          const size_t *sizes, int nsizes)
{
	double vmin = INFINITY, vmax = 0;
	int rows = 0;
	for (int si = 0; si < rep->nseries; si++) {
		bool any = false;
		for (int i = 0; i < rep->njobs; i++) {
			const struct bench_result *r = &rep->results[i];
			if (r->series != si || !lat_ok(r))
				continue;
			any = true;
			if (r->lat.p50 < vmin)
				vmin = r->lat.p50;
			if (r->lat.p99 > vmax)
				vmax = r->lat.p99;
		}
		rows += any;
	}
	const double left = 250, width = 560, top = 44, bar = 7;
	const double band = nsizes * (bar + 2) + 10;
	double height = top + rows * band + 50;
	struct logscale s = {.x0 = left, .x1 = left + width};
	log_domain(&s, vmin * 0.8, vmax * 1.2);
	svg_open(out, left + width + 30, height,
	         "round-trip latency per transport");
	size_legend(out, left, 10, sizes, nsizes);
	fprintf(out, "<text x=\"%.1f\" y=\"19\" class=\"tick\">bar: p50, "
	        "whisker: p99</text>\n", left + nsizes * 90);
	x_axis(out, &s, top, top + rows * band, "round trip, microseconds (log scale)");
	int row = 0;
	for (int si = 0; si < rep->nseries; si++) {
		const struct bench_series *se = &rep->series[si];
		double y = top + row * band;
		bool any = false;
		for (int i = 0; i < rep->njobs; i++) {
			const struct bench_result *r = &rep->results[i];
			if (r->series != si || !lat_ok(r))
				continue;
			any = true;
			int k = size_index(sizes, nsizes, r->size);
			double by = y + 5 + k * (bar + 2);
			double x = log_px(&s, r->lat.p50), x99 = log_px(&s, r->lat.p99);
			char t[32], a[16], b[16];
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			        "height=\"%.0f\" fill=\"%s\"><title>",
			        s.x0, by, x - s.x0 > 1 ? x - s.x0 : 1, bar,
			        size_colors[k % NSIZECOLORS]);
			esc(out, se->label);
			fprintf(out, " %s: p50 %s us, p99 %s us</title></rect>\n",
			        bench_size_text(r->size, t, sizeof t),
			        bench_fmt_us(r->lat.p50, a, sizeof a),
			        bench_fmt_us(r->lat.p99, b, sizeof b));
			fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			        "y2=\"%.1f\" class=\"whisker\" />\n",
			        x, by + bar / 2, x99, by + bar / 2);
		}
		if (!any)
			continue;
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"label%s\" "
		        "text-anchor=\"end\">", left - 8, y + band / 2 + 3,
		        se->busy ? " busy" : "");
		esc(out, se->label);
		fputs("</text>\n", out);
		row++;
	}
	fputs("</svg>\n", out);
}

/* -------------------------------------------------------- throughput */

static void throughput_chart(FILE *out, const struct bench_report *rep,
                             const size_t *sizes, int nsizes)
{
	double vmin = INFINITY, vmax = 0;
	int nseries = 0;
	for (int si = 0; si < rep->nseries; si++) {
		bool any = false;
		for (int i = 0; i < rep->njobs; i++) {
			const struct bench_result *r = &rep->results[i];
			if (r->series != si || !thr_ok(r))
				continue;
			double m = bench_mib(r);
			any = true;
			if (m < vmin)
				vmin = m;
			if (m > vmax)
				vmax = m;
		}
		nseries += any;
	}
	const double left = 70, top = 20, pw = 560, ph = 360;
	double legend_h = nseries * 15 + 20;
	double height = top + (ph > legend_h ? ph : legend_h) + 50;
	double width = left + pw + 270;
	struct logscale ys = {.x0 = top + ph, .x1 = top};
	log_domain(&ys, vmin * 0.8, vmax * 1.2);
	/* x: log of the size, evenly spaced by powers of two */
	double lx0 = log2((double)sizes[0]), lx1 = log2((double)sizes[nsizes - 1]);
	if (lx1 <= lx0)
		lx0 -= 1, lx1 += 1;
#define XPOS(sz) (left + 10 + (log2((double)(sz)) - lx0) / (lx1 - lx0) * (pw - 20))
	svg_open(out, width, height, "throughput against message size");
	for (double e = ys.lo; e <= ys.hi + 1e-9; e++) {
		double y = log_px(&ys, pow(10, e));
		char lab[32];
		decade_label(e, lab, sizeof lab);
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "class=\"grid\" />\n", left, y, left + pw, y);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" "
		        "text-anchor=\"end\">%s</text>\n", left - 6, y + 4, lab);
	}
	for (int k = 0; k < nsizes; k++) {
		char t[32];
		double x = XPOS(sizes[k]);
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "class=\"grid\" />\n", x, top, x, top + ph);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" "
		        "text-anchor=\"middle\">%s</text>\n", x, top + ph + 14,
		        bench_size_text(sizes[k], t, sizeof t));
	}
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" "
	        "text-anchor=\"middle\">message size (log scale)</text>\n",
	        left + pw / 2, top + ph + 32);
	fprintf(out, "<text transform=\"translate(16 %.1f) rotate(-90)\" "
	        "class=\"axis\" text-anchor=\"middle\">MiB/s (log scale)</text>\n",
	        top + ph / 2);
	int n = 0;
	for (int si = 0; si < rep->nseries; si++) {
		const struct bench_series *se = &rep->series[si];
		const char *color, *pattern;
		double lw;
		char dash[48] = "";
		style_of(se, &color, &pattern, &lw);
		if (pattern[0])
			snprintf(dash, sizeof dash, " stroke-dasharray=\"%s\"", pattern);
		bool any = false;
		/* results of a series are in size order (the plan made them so) */
		for (int i = 0; i < rep->njobs; i++)
			any |= rep->results[i].series == si && thr_ok(&rep->results[i]);
		if (!any)
			continue;
		fprintf(out, "<g><title>");
		esc(out, se->label);
		fprintf(out, "</title>\n<polyline fill=\"none\" stroke=\"%s\" "
		        "stroke-width=\"%.1f\"%s points=\"", color, lw, dash);
		for (int i = 0; i < rep->njobs; i++) {
			const struct bench_result *r = &rep->results[i];
			if (r->series == si && thr_ok(r))
				fprintf(out, "%.1f,%.1f ", XPOS(r->size),
				        log_px(&ys, bench_mib(r)));
		}
		fputs("\" />\n", out);
		for (int i = 0; i < rep->njobs; i++) {
			const struct bench_result *r = &rep->results[i];
			if (r->series != si || !thr_ok(r))
				continue;
			char t[32], a[16], b[16];
			fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
			        "fill=\"%s\"><title>", XPOS(r->size),
			        log_px(&ys, bench_mib(r)), color);
			esc(out, se->label);
			fprintf(out, " %s: %s MiB/s, %s msg/s</title></circle>\n",
			        bench_size_text(r->size, t, sizeof t),
			        bench_fmt_count(bench_mib(r), a, sizeof a),
			        bench_fmt_count(r->thr.rate, b, sizeof b));
		}
		double ly = top + 10 + n * 15;
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"%s\" stroke-width=\"%.1f\"%s />\n",
		        left + pw + 12, ly - 4, left + pw + 36, ly - 4, color, lw, dash);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick%s\">",
		        left + pw + 42, ly, se->busy ? " busy" : "");
		esc(out, se->label);
		fputs("</text>\n</g>\n", out);
		n++;
	}
#undef XPOS
	fputs("</svg>\n", out);
}

/* ------------------------------------------------------------ ratios */

static bool same_pair(const struct bench_report *rep,
                      const struct bench_ratio *a, const struct bench_ratio *b)
{
	return a->metric == b->metric &&
	       rep->results[a->subject].series == rep->results[b->subject].series &&
	       rep->results[a->reference].series ==
	           rep->results[b->reference].series;
}

/* Is ratio k the first of its pair of series (one chart row per pair)? */
static bool first_of_pair(const struct bench_report *rep, int k)
{
	for (int p = 0; p < k; p++)
		if (same_pair(rep, &rep->ratios[k], &rep->ratios[p]))
			return false;
	return true;
}

static void ratio_chart(FILE *out, const struct bench_report *rep,
                        const size_t *sizes, int nsizes)
{
	double vmin = 1, vmax = 1;
	int rows = 0;
	for (int k = 0; k < rep->nratios; k++) {
		const struct bench_ratio *x = &rep->ratios[k];
		rows += first_of_pair(rep, k);
		if (x->value < vmin)
			vmin = x->value;
		if (x->value > vmax)
			vmax = x->value;
	}
	const double left = 300, width = 500, top = 40, bar = 6;
	const double band = nsizes * (bar + 2) + 10;
	double height = top + rows * band + 50;
	struct logscale s = {.x0 = left, .x1 = left + width};
	log_domain(&s, vmin * 0.9, vmax * 1.1);
	svg_open(out, left + width + 30, height, "ratios between figures");
	size_legend(out, left, 6, sizes, nsizes);
	x_axis(out, &s, top, top + rows * band,
	       "ratio (log scale; 1 = the same figure)");
	double one = log_px(&s, 1);
	fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	        "class=\"one\" />\n", one, top - 4, one, top + rows * band);
	int row = 0;
	for (int k = 0; k < rep->nratios; k++) {
		if (!first_of_pair(rep, k))
			continue;
		const struct bench_ratio *x = &rep->ratios[k];
		double y = top + row * band;
		const struct bench_series *a = &rep->series[rep->results[x->subject].series];
		const struct bench_series *b = &rep->series[rep->results[x->reference].series];
		for (int q = k; q < rep->nratios; q++) {
			const struct bench_ratio *z = &rep->ratios[q];
			if (!same_pair(rep, x, z))
				continue;
			size_t sz = rep->results[z->subject].size;
			int si = size_index(sizes, nsizes, sz);
			double by = y + 5 + si * (bar + 2);
			double xv = log_px(&s, z->value);
			double x0 = xv < one ? xv : one, w = fabs(xv - one);
			char t[32], v[32];
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			        "height=\"%.0f\" fill=\"%s\"><title>",
			        x0, by, w > 1 ? w : 1, bar, size_colors[si % NSIZECOLORS]);
			short_label(out, a);
			fputs(" / ", out);
			short_label(out, b);
			fprintf(out, " %s %s: %s</title></rect>\n",
			        x->metric == BENCH_LATENCY ? "latency" : "throughput",
			        bench_size_text(sz, t, sizeof t),
			        bench_fmt_ratio(z->value, v, sizeof v));
		}
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"label\" "
		        "text-anchor=\"end\">", left - 8, y + band / 2 + 3);
		fputs(x->metric == BENCH_LATENCY ? "latency: " : "rate: ", out);
		short_label(out, a);
		fputs(" / ", out);
		short_label(out, b);
		if (rep->results[x->reference].size != rep->results[x->subject].size) {
			char bs[32];
			fprintf(out, " at %s",
			        bench_size_text(rep->results[x->reference].size, bs,
			                        sizeof bs));
		}
		fputs("</text>\n", out);
		row++;
	}
	fputs("</svg>\n", out);
}

/* ------------------------------------------------------------ tables */

static void td(FILE *out, const char *s)
{
	fputs("<td>", out);
	esc(out, s);
	fputs("</td>", out);
}

/* The rest of a table row for a figure that was not measured. */
static void skip_cells(FILE *out, const struct bench_result *r, int ncols)
{
	fprintf(out, "<td colspan=\"%d\" class=\"skip\">%s: ", ncols,
	        bench_status_text(r->status));
	esc(out, r->reason);
	fputs("</td></tr>\n", out);
}

static void latency_table(FILE *out, const struct bench_report *rep)
{
	fputs("<table>\n<thead><tr><th>transport</th><th>size</th><th>p50</th>"
	      "<th>p99</th><th>p99.9</th><th>max</th><th>one-way</th>"
	      "<th>&#177;</th><th>samples</th></tr></thead>\n<tbody>\n", out);
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		const struct bench_series *se = &rep->series[r->series];
		if (!se->row->lat || se->state != SERIES_RUN)
			continue;
		char t[32], a[16], b[16], c[16], d[16], e[16], f[24], g[24];
		fputs("<tr>", out);
		td(out, se->label);
		td(out, bench_size_text(r->size, t, sizeof t));
		if (!lat_ok(r)) {
			skip_cells(out, r, 7);
			continue;
		}
		bench_fmt_spread(bench_spread(r->lat.runs, r->lat.nruns), f, sizeof f);
		snprintf(g, sizeof g, "%ld%s", r->lat.samples,
		         r->lat.batch > 1 ? " batches" : "");
		td(out, bench_fmt_us(r->lat.p50, a, sizeof a));
		td(out, bench_fmt_us(r->lat.p99, b, sizeof b));
		td(out, bench_fmt_us(r->lat.p999, c, sizeof c));
		td(out, bench_fmt_us(r->lat.max, d, sizeof d));
		td(out, bench_fmt_us(r->lat.p50 / 2, e, sizeof e));
		td(out, f);
		td(out, g);
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
}

static void throughput_table(FILE *out, const struct bench_report *rep)
{
	fputs("<table>\n<thead><tr><th>transport</th><th>size</th>"
	      "<th>msg/s</th><th>MiB/s</th><th>&#177;</th><th>delivered</th>"
	      "</tr></thead>\n"
	      "<tbody>\n", out);
	for (int i = 0; i < rep->njobs; i++) {
		const struct bench_result *r = &rep->results[i];
		const struct bench_series *se = &rep->series[r->series];
		if (!se->row->thr || se->state != SERIES_RUN)
			continue;
		char t[32], a[16], b[16], f[24];
		fputs("<tr>", out);
		td(out, se->label);
		td(out, bench_size_text(r->size, t, sizeof t));
		if (!thr_ok(r)) {
			skip_cells(out, r, 4);
			continue;
		}
		bench_fmt_spread(bench_spread(r->thr.runs, r->thr.nruns), f, sizeof f);
		td(out, bench_fmt_count(r->thr.rate, a, sizeof a));
		td(out, bench_fmt_count(bench_mib(r), b, sizeof b));
		td(out, f);
		/* fan-out rows: what share of what was sent reached the receiver
		   that got the fewest */
		char dv[24] = "";
		if (r->thr.sent > 0 && r->thr.sent != r->thr.messages)
			snprintf(dv, sizeof dv, "%.0f%%",
			         100.0 * (double)r->thr.messages / (double)r->thr.sent);
		td(out, dv);
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
}

static void ratio_table(FILE *out, const struct bench_report *rep)
{
	fputs("<table>\n<thead><tr><th>figure</th><th>size</th><th>row</th>"
	      "<th>against</th><th>row's figure</th><th>its figure</th>"
	      "<th>ratio</th></tr></thead>\n<tbody>\n", out);
	for (int k = 0; k < rep->nratios; k++) {
		const struct bench_ratio *x = &rep->ratios[k];
		const struct bench_result *a = &rep->results[x->subject];
		const struct bench_result *b = &rep->results[x->reference];
		bool lat = x->metric == BENCH_LATENCY;
		char t[32], fa[24], fb[24], v[24];
		if (lat) {
			bench_fmt_us(a->lat.p50, fa, sizeof fa);
			bench_fmt_us(b->lat.p50, fb, sizeof fb);
		} else {
			bench_fmt_count(a->thr.rate, fa, sizeof fa);
			bench_fmt_count(b->thr.rate, fb, sizeof fb);
		}
		fputs("<tr>", out);
		td(out, lat ? "latency p50 (us)" : "rate (msg/s)");
		td(out, bench_size_text(a->size, t, sizeof t));
		td(out, rep->series[a->series].label);
		if (b->size != a->size) {
			/* the same row at another size (large messages) */
			char other[96], bs[32];
			snprintf(other, sizeof other, "%s at %s",
			         rep->series[b->series].label,
			         bench_size_text(b->size, bs, sizeof bs));
			td(out, other);
		} else {
			td(out, rep->series[b->series].label);
		}
		td(out, fa);
		td(out, fb);
		td(out, bench_fmt_ratio(x->value, v, sizeof v));
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
}

static const char css[] =
	"body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:"
	"1000px;color:#222;padding:0 1em}\n"
	"h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:"
	"1px solid #ddd}\n"
	"table{border-collapse:collapse;font-size:12px;margin:1em 0}\n"
	"td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}\n"
	"td:first-child,th:first-child{text-align:left}\n"
	"td.skip{text-align:left;color:#888}\n"
	"svg.chart{display:block;margin:1em 0;max-width:100%;height:auto}\n"
	"svg text{font:11px system-ui,sans-serif;fill:#333}\n"
	"svg .axis{font-size:12px}svg .busy{font-style:italic;fill:#a33}\n"
	"svg .grid{stroke:#e4e4e4}svg .whisker{stroke:#333;stroke-width:1}\n"
	"svg .one{stroke:#000;stroke-width:1.2;stroke-dasharray:4 2}\n"
	".note{color:#555}.warn{color:#a00}\n";

void bench_write_html(FILE *out, const struct bench_report *rep)
{
	const struct bench_config *c = &rep->cfg;
	const struct bench_host *h = &rep->host;
	size_t sizes[BENCH_MAX_SIZES * 2];
	int nsizes = bench_result_sizes(rep, sizes,
	                                (int)(sizeof sizes / sizeof *sizes));
	if (nsizes == 0) {
		sizes[0] = 64;
		nsizes = 1;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n<title>ipckit bench</title>\n<style>\n",
	      out);
	fputs(css, out);
	fputs("</style>\n</head>\n<body>\n<header>\n<h1>ipckit bench</h1>\n<p>",
	      out);
	fprintf(out, "ipckit %s, %s %s, %ld CPUs (", ipk_version(), h->kernel,
	        h->machine, h->cpus);
	esc(out, h->cpu);
	char pin[128];
	fprintf(out, "), %s. Started %s, %.1f s in all. %s run: each figure "
	        "from %d runs of %.3g s, each in fresh processes after a "
	        "warm-up.%s</p>\n",
	        bench_pin_text(c, pin, sizeof pin), h->started, rep->elapsed,
	        c->quick ? "Quick" : "Full", c->reps,
	        (double)bench_run_ns(c) / 1e9,
	        rep->interrupted ? " <strong>Interrupted: partial results.</strong>"
	                         : "");
	char place[2 * BENCH_REASON + 200];
	fputs("<p id=\"placement\">CPU placement: ", out);
	esc(out, bench_placement_line(rep, place, sizeof place));
	fputs(".</p>\n", out);
	if (bench_placement_changed(rep)) {
		fputs("<p class=\"warn\"><strong>Warning:</strong> ", out);
		esc(out, BENCH_PLACEMENT_WARNING);
		fputs(".</p>\n", out);
	}
	fputs("<p class=\"note\">Rows marked busy-poll spin on a CPU while "
	      "they wait: compare them with each other, not with blocking rows. "
	      "Raw rows are the same loop on the bare system calls; ratios "
	      "compare figures taken in this same run.</p>\n</header>\n", out);

	fputs("<section id=\"latency\">\n<h2>Latency</h2>\n<p>Round trip "
	      "between two processes (ping-pong), microseconds; one-way is "
	      "half. p50 is the median of the runs' medians, &#177; half the "
	      "range of the run medians; p99, p99.9 and max are over all round "
	      "trips.</p>\n", out);
	latency_chart(out, rep, sizes, nsizes);
	latency_table(out, rep);
	fputs("</section>\n", out);

	fputs("<section id=\"throughput\">\n<h2>Throughput</h2>\n<p>One-way "
	      "stream for a fixed time, messages and MiB per second (median of "
	      "runs), against message size.</p>\n", out);
	throughput_chart(out, rep, sizes, nsizes);
	throughput_table(out, rep);
	fputs("</section>\n", out);

	fputs("<section id=\"ratios\">\n<h2>Ratios</h2>\n<p>A row's figure "
	      "divided by another row's at the same size: latency ratios above 1 "
	      "mean slower, rate ratios below 1 mean fewer messages per second. "
	      "ipckit against the raw system calls shows its overhead; against "
	      "nng and ZeroMQ, how it compares with them.</p>\n", out);
	ratio_chart(out, rep, sizes, nsizes);
	ratio_table(out, rep);
	fputs("</section>\n", out);

	bool first = true;
	for (int i = 0; i < rep->nseries; i++) {
		const struct bench_series *se = &rep->series[i];
		if (se->state == SERIES_RUN)
			continue;
		fputs(first ? "<footer>\n<p class=\"note\">Not measured: " : "; ", out);
		esc(out, se->label);
		fputs(" (", out);
		esc(out, se->reason);
		fputs(")", out);
		first = false;
	}
	if (!first)
		fputs(".</p>\n</footer>\n", out);
	fputs("</body>\n</html>\n", out);
}
