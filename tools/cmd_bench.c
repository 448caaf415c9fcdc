/* ipckit bench: every mechanism measured side by side on this machine. */
#define _GNU_SOURCE
#include "cli.h"

#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char bench_help[] =
	"Measures every built transport the same way, in processes made with\n"
	"fork(2): round-trip latency (ping-pong: p50, p99, p99.9, max; one-way\n"
	"is half) and one-way throughput (messages/s, MiB/s), per message size.\n"
	"Beside them, in the same run: each kernel mechanism's loop written on\n"
	"the bare system calls (ipckit's overhead is the ratio), nng and ZeroMQ\n"
	"when they were found at build time, a shared cache-line ping-pong (the\n"
	"floor for shared memory) and memcpy. Shared-memory rings are measured\n"
	"in each waiting mode; busy-polling rows are labelled as such.\n"
	"\n"
	"options:\n"
	"  --quick              a short run (under a minute on 2 cores)\n"
	"  --transports LIST    rows to run, comma-separated: scheme names\n"
	"                       (pipe, unix, shm, shm:spin ...) or row ids\n"
	"                       (raw-pipe, nng-ipc, ref-memcpy); a scheme brings\n"
	"                       its baseline and peers along (see --list)\n"
	"  --sizes LIST         message sizes (default 64,4K,64K,1M)\n"
	"  --iterations N       at most N round trips / messages per run\n"
	"  --duration SECS      time for one measurement, all runs (default 1,\n"
	"                       quick 0.15)\n"
	"  --repeat N           measured runs per figure (default 5, quick 3;\n"
	"                       one warm-up run besides)\n"
	"  --pin                pin the two processes to different CPUs\n"
	"  --no-baselines       leave out raw and reference rows\n"
	"  --no-peers           leave out nng and ZeroMQ\n"
	"  --json[=FILE]        JSON (to stdout instead of the table, or FILE)\n"
	"  --csv[=FILE]         CSV (to stdout instead of the table, or FILE)\n"
	"  --html FILE          a self-contained page with charts\n"
	"  --timeout SECS       give up on one measurement after SECS\n"
	"  --list               show the rows and how each is addressed\n"
	"\n"
	"How to read the table, and the JSON schema: docs/bench.md.\n"
	"Exit status: 0 when everything ran or was skipped for a stated reason,\n"
	"1 when a measurement failed, 2 usage error.\n";

static int list_rows(void)
{
	printf("%-14s %-9s %-10s %s\n", "ROW", "KIND", "STATE", "ADDRESS (listen)");
	for (size_t i = 0; i < bench_nrows; i++) {
		const struct bench_row *r = &bench_rows[i];
		const char *state = "ok";
		if (r->kind == BENCH_IPCKIT && !ipk_scheme_built(r->scheme))
			state = "not built";
		else if (!r->available)
			state = "missing";
		printf("%-14s %-9s %-10s %s%s\n", r->id, bench_kind_text(r->kind),
		       state, r->listen ? r->listen : r->label,
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
		cli_fail("bench", path, "cannot write the %s report: %s", what,
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
		cli_fail("bench", path, "writing failed");
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

extern const struct ipk_cmd cli_cmd_bench;

static int bench_run_cmd(int argc, char **argv)
{
	/* quick changes the defaults: find it first, then let options override */
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
	char why[512];
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
				return cli_usage("bench", "%s", why);
			break;
		case OPT_ITER:
			if (!cli_parse_int(optarg, 10, 100000000, &v))
				return cli_usage("bench", "--iterations wants 10 to 1e8, "
				                 "not '%s'", optarg);
			cfg->iterations = v;
			break;
		case OPT_DURATION:
			if (!parse_secs(optarg, 0.001, 3600, &cfg->seconds))
				return cli_usage("bench", "--duration wants seconds "
				                 "(0.001 to 3600), not '%s'", optarg);
			break;
		case OPT_REPEAT:
			if (!cli_parse_int(optarg, 1, BENCH_MAX_REPS, &v))
				return cli_usage("bench", "--repeat wants 1 to %d, not '%s'",
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
				return cli_usage("bench", "--timeout wants seconds, not '%s'",
				                 optarg);
			break;
		case OPT_LIST:
			return list_rows();
		case OPT_HELP:
		case 'h':
			printf("usage: ipckit %s %s\n\n%s\n\n%s", cli_cmd_bench.name,
			       cli_cmd_bench.args, cli_cmd_bench.summary,
			       cli_cmd_bench.help);
			return 0;
		case ':':
			return cli_usage("bench", "option '%s' needs a value",
			                 argv[optind - 1]);
		default:
			return cli_usage("bench", "unknown option '%s'",
			                 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage("bench", "unexpected argument '%s'", argv[optind]);
	if (want_json && want_csv && !json && !csv)
		return cli_usage("bench", "--json and --csv cannot both go to "
		                 "stdout: give one a file (--csv=FILE)");
	bool table = !(want_json && !json) && !(want_csv && !csv);
	pick_cpus(cfg);
	cfg->progress = isatty(2);

	int rc = bench_plan(&rep, why, sizeof why);
	if (rc == -EINVAL) {
		bench_report_free(&rep);
		return cli_usage("bench", "%s", why);
	}
	if (rc < 0) {
		bench_report_free(&rep);
		return cli_fail("bench", NULL, "%s", strerror(-rc));
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

const struct ipk_cmd cli_cmd_bench = {
	.name = "bench",
	.args = "[--quick] [OPTIONS]",
	.summary = "measure every mechanism side by side on this machine",
	.help = bench_help,
	.run = bench_run_cmd,
};
