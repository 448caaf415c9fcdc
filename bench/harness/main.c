/*
 * ipckit-bench: the program behind `ipckit bench`. The CLI runs it (it is
 * installed beside the CLI, in libexec), so the peer libraries it measures
 * (nng, ZeroMQ, Boost) are loaded only when a benchmark runs, never by
 * `ipckit send`. Its messages and exit status are those of `ipckit bench`.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "help.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "ipckit: bench: reason (see 'ipckit help bench')", status 2 */
static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
	va_list ap;
	fputs("ipckit: bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see 'ipckit help bench')\n", stderr);
	return 2;
}

/* "ipckit: bench PATH: reason" (or without PATH), status 1 */
static int fail(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(const char *path, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, path ? "ipckit: bench %s: " : "ipckit: bench: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static bool parse_int(const char *s, long min, long max, long *out)
{
	if (s == NULL || *s == '\0')
		return false;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (*end != '\0' || errno || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int list_rows(void)
{
	printf("%-16s %-9s %-7s %-10s %s\n", "ROW", "KIND", "FAMILY", "STATE",
	       "ADDRESS (listen)");
	for (size_t i = 0; i < bench_nrows; i++) {
		const struct bench_row *r = &bench_rows[i];
		const char *state = "ok";
		if (r->kind == BENCH_IPCKIT && !ipk_scheme_built(r->scheme))
			state = "not built";
		else if (!r->available)
			state = "missing";
		printf("%-16s %-9s %-7s %-10s %s%s\n", r->id, bench_kind_text(r->kind),
		       r->family->id, state, r->listen ? r->listen : r->label,
		       r->waits ? "  (wait=spin|hybrid|block)" : "");
	}
	return 0;
}

static bool parse_secs(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min) || !(v <= max))
		return false;
	*out = v;
	return true;
}

/* The first two CPUs we may run on: runner and echo. */
static void pick_cpus(struct bench_config *cfg)
{
	cpu_set_t set;
	int found = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
			if (CPU_ISSET(c, &set))
				cfg->cpu[found++] = c;
	if (found < 2) {
		cfg->cpu[0] = cfg->cpu[1] = -1;
		if (cfg->pin)
			fprintf(stderr, "ipckit: bench: fewer than two usable CPUs: "
			        "nothing is pinned\n");
		cfg->pin = false;
	}
}

static FILE *open_out(const char *path, const char *what)
{
	if (path == NULL)
		return stdout;
	FILE *f = fopen(path, "w");
	if (f == NULL)
		fail(path, "cannot write the %s report: %s", what,
		         strerror(errno));
	return f;
}

static bool close_out(FILE *f, const char *path)
{
	if (f == stdout)
		return fflush(f) == 0;
	bool ok = !ferror(f);
	ok &= fclose(f) == 0;
	if (!ok)
		fail(path, "writing failed");
	return ok;
}

enum {
	OPT_QUICK = 256, OPT_TRANSPORTS, OPT_SIZES, OPT_ITER, OPT_DURATION,
	OPT_REPEAT, OPT_PIN, OPT_NOBASE, OPT_NOPEERS, OPT_JSON, OPT_CSV,
	OPT_HTML, OPT_TIMEOUT, OPT_LIST, OPT_HELP,
};

static const struct option longopts[] = {
	{"quick", no_argument, NULL, OPT_QUICK},
	{"transports", required_argument, NULL, OPT_TRANSPORTS},
	{"sizes", required_argument, NULL, OPT_SIZES},
	{"iterations", required_argument, NULL, OPT_ITER},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"repeat", required_argument, NULL, OPT_REPEAT},
	{"pin", no_argument, NULL, OPT_PIN},
	{"no-baselines", no_argument, NULL, OPT_NOBASE},
	{"no-peers", no_argument, NULL, OPT_NOPEERS},
	{"json", optional_argument, NULL, OPT_JSON},
	{"csv", optional_argument, NULL, OPT_CSV},
	{"html", required_argument, NULL, OPT_HTML},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"list", no_argument, NULL, OPT_LIST},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	/* quick changes the defaults: find it first, then let options override */
	bench_rows_init();
	bool quick = false;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
	struct bench_report rep;
	memset(&rep, 0, sizeof rep);
	struct bench_config *cfg = &rep.cfg;
	bench_config_defaults(cfg, quick);
	const char *json = NULL, *csv = NULL, *html = NULL;
	bool want_json = false, want_csv = false;
	char why[1200];
	long v;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_QUICK:
			break;
		case OPT_TRANSPORTS:
			cfg->transports = optarg;
			break;
		case OPT_SIZES:
			if (bench_parse_sizes(optarg, cfg, why, sizeof why) < 0)
				return usage("%s", why);
			break;
		case OPT_ITER:
			if (!parse_int(optarg, 10, 100000000, &v))
				return usage("--iterations wants 10 to 1e8, "
				                 "not '%s'", optarg);
			cfg->iterations = v;
			break;
		case OPT_DURATION:
			if (!parse_secs(optarg, 0.001, 3600, &cfg->seconds))
				return usage("--duration wants seconds "
				                 "(0.001 to 3600), not '%s'", optarg);
			break;
		case OPT_REPEAT:
			if (!parse_int(optarg, 1, BENCH_MAX_REPS, &v))
				return usage("--repeat wants 1 to %d, not '%s'",
				                 BENCH_MAX_REPS, optarg);
			cfg->reps = (int)v;
			break;
		case OPT_PIN:
			cfg->pin = true;
			break;
		case OPT_NOBASE:
			cfg->baselines = false;
			break;
		case OPT_NOPEERS:
			cfg->peers = false;
			break;
		case OPT_JSON:
			want_json = true;
			json = optarg;
			break;
		case OPT_CSV:
			want_csv = true;
			csv = optarg;
			break;
		case OPT_HTML:
			html = optarg;
			break;
		case OPT_TIMEOUT:
			if (!parse_secs(optarg, 1, 86400, &cfg->timeout))
				return usage("--timeout wants seconds, not '%s'",
				                 optarg);
			break;
		case OPT_LIST:
			return list_rows();
		case OPT_HELP:
		case 'h':
			printf("usage: ipckit bench %s\n\n%s\n\n%s", BENCH_ARGS,
			       BENCH_SUMMARY, bench_help);
			return 0;
		case ':':
			return usage("option '%s' needs a value",
			                 argv[optind - 1]);
		default:
			return usage("unknown option '%s'",
			                 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	if (want_json && want_csv && !json && !csv)
		return usage("--json and --csv cannot both go to "
		                 "stdout: give one a file (--csv=FILE)");
	bool table = !(want_json && !json) && !(want_csv && !csv);
	pick_cpus(cfg);
	cfg->progress = isatty(2);

	int rc = bench_plan(&rep, why, sizeof why);
	if (rc == -EINVAL) {
		bench_report_free(&rep);
		return usage("%s", why);
	}
	if (rc < 0) {
		bench_report_free(&rep);
		return fail(NULL, "%s", strerror(-rc));
	}
	bench_host_info(&rep.host);
	fflush(stdout); /* children must not inherit buffered output */
	bench_run(&rep);
	bench_ratios(&rep);

	bool ok = true;
	if (table) {
		bench_write_text(stdout, &rep);
		ok &= fflush(stdout) == 0;
	}
	if (want_json) {
		FILE *f = open_out(json, "JSON");
		if (f) {
			bench_write_json(f, &rep);
			ok &= close_out(f, json);
		} else {
			ok = false;
		}
	}
	if (want_csv) {
		FILE *f = open_out(csv, "CSV");
		if (f) {
			bench_write_csv(f, &rep);
			ok &= close_out(f, csv);
		} else {
			ok = false;
		}
	}
	if (html) {
		FILE *f = open_out(html, "HTML");
		if (f) {
			bench_write_html(f, &rep);
			ok &= close_out(f, html);
			if (ok && table)
				fprintf(stderr, "ipckit: bench: wrote %s\n", html);
		} else {
			ok = false;
		}
	}
	int failed = 0;
	for (int i = 0; i < rep.njobs; i++)
		failed += rep.results[i].status == BENCH_FAILED;
	bench_report_free(&rep);
	if (bench_stop) {
		/* die of the signal so the caller sees the usual status */
		int sig = bench_stop;
		signal(sig, SIG_DFL);
		raise(sig);
	}
	if (failed)
		fprintf(stderr, "ipckit: bench: %d measurement%s failed (see the "
		        "reasons above)\n", failed, failed == 1 ? "" : "s");
	return ok && failed == 0 ? 0 : 1;
}
