/* From options to work: configuration, series (row x waiting mode), jobs. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const wait_modes[] = {"spin", "hybrid", "block"};
#define NWAITS 3

void bench_config_defaults(struct bench_config *cfg, bool quick)
{
	static const size_t sizes[] = {64, 4096, 65536, 1048576};
	memset(cfg, 0, sizeof *cfg);
	for (int i = 0; i < 4; i++)
		cfg->sizes[i] = sizes[i];
	cfg->nsizes = 4;
	cfg->quick = quick;
	cfg->reps = quick ? 3 : 5;
	cfg->iterations = quick ? 20000 : 200000;
	cfg->seconds = quick ? 0.15 : 1.0;
	cfg->timeout = 0; /* derived from seconds when 0 */
	cfg->baselines = true;
	cfg->peers = true;
	cfg->cpu[0] = cfg->cpu[1] = -1;
}

const char *bench_size_text(size_t n, char *buf, size_t cap)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, cap, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, cap, "%zu KiB", n >> 10);
	else
		snprintf(buf, cap, "%zu B", n);
	return buf;
}

static int parse_one_size(const char *s, size_t len, size_t *out)
{
	char tmp[32];
	if (len == 0 || len >= sizeof tmp)
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(tmp, &end, 10);
	if (errno || end == tmp || tmp[0] == '-')
		return -EINVAL;
	unsigned long long mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1ULL << 10, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1ULL << 20, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1ULL << 30, end++;
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || v == 0 || v > (256ULL << 20) / mul)
		return -EINVAL;
	*out = (size_t)(v * mul);
	return 0;
}

int bench_parse_sizes(const char *text, struct bench_config *cfg, char *why,
                      size_t cap)
{
	int n = 0;
	const char *p = text;
	for (;;) {
		size_t len = strcspn(p, ",");
		size_t v;
		if (n == BENCH_MAX_SIZES) {
			snprintf(why, cap, "at most %d sizes", BENCH_MAX_SIZES);
			return -EINVAL;
		}
		if (parse_one_size(p, len, &v) < 0) {
			snprintf(why, cap,
			         "bad size '%.*s' (sizes are like 64,4K,64K,1M; 1 byte to "
			         "256 MiB)",
			         (int)len, p);
			return -EINVAL;
		}
		cfg->sizes[n++] = v;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	/* ascending, no duplicates: charts and tables read left to right */
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && cfg->sizes[k] < cfg->sizes[k - 1]; k--) {
			size_t t = cfg->sizes[k];
			cfg->sizes[k] = cfg->sizes[k - 1];
			cfg->sizes[k - 1] = t;
		}
	int m = 0;
	for (int i = 0; i < n; i++)
		if (m == 0 || cfg->sizes[i] != cfg->sizes[m - 1])
			cfg->sizes[m++] = cfg->sizes[i];
	cfg->nsizes = m;
	return 0;
}

/* ------------------------------------------------------------ selection */

struct pick {
	bool row;
	unsigned waits; /* bit per mode; 0 = all */
};

static int wait_index(const char *w)
{
	for (int i = 0; i < NWAITS; i++)
		if (strcmp(w, wait_modes[i]) == 0)
			return i;
	return -1;
}

/* "pipe", "pipe:", "shm:spin", "shm?wait=spin", "raw-pipe", "nng-ipc" */
static int select_token(const char *tok, struct pick *picks, char *why,
                        size_t cap)
{
	char name[64];
	const char *mode = NULL;
	snprintf(name, sizeof name, "%s", tok);
	char *q = strchr(name, '?');
	if (q) {
		*q = '\0';
		mode = strncmp(q + 1, "wait=", 5) == 0 ? q + 6 : q + 1;
	}
	char *c = strchr(name, ':');
	if (c) {
		*c = '\0';
		if (c[1])
			mode = c + 1;
	}
	const struct bench_row *r = bench_row_find(name);
	if (r == NULL) {
		char list[1024] = "";
		size_t off = 0;
		for (size_t i = 0; i < bench_nrows && off < sizeof list; i++)
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
			                        i ? " " : "", bench_rows[i].id);
		snprintf(why, cap, "unknown transport '%s' (known: %s)", tok, list);
		return -EINVAL;
	}
	struct pick *p = &picks[r - bench_rows];
	if (mode) {
		int w = r->waits ? wait_index(mode) : -1;
		if (w < 0) {
			snprintf(why, cap, "'%s': %s has %s", tok, r->id,
			         r->waits ? "waiting modes spin, hybrid, block"
			                  : "no waiting modes");
			return -EINVAL;
		}
		if (!p->row || p->waits)
			p->waits |= 1u << w;
	} else {
		p->waits = 0;
	}
	p->row = true;
	return 0;
}

static int select_rows(const struct bench_config *cfg, struct pick *picks,
                       char *why, size_t cap)
{
	if (cfg->transports == NULL) {
		for (size_t i = 0; i < bench_nrows; i++)
			picks[i].row = true;
	} else {
		char *copy = strdup(cfg->transports), *save = NULL;
		if (copy == NULL)
			return -ENOMEM;
		int rc = 0;
		for (char *t = strtok_r(copy, ",", &save); t && rc == 0;
		     t = strtok_r(NULL, ",", &save))
			rc = select_token(t, picks, why, cap);
		free(copy);
		if (rc < 0)
			return rc;
		/* a chosen scheme brings its baseline and peers for the ratios */
		for (size_t i = 0; i < bench_nrows; i++) {
			const struct bench_row *r = &bench_rows[i];
			if (r->kind != BENCH_IPCKIT || !picks[i].row)
				continue;
			for (size_t k = 0; k < bench_nrows; k++) {
				const struct bench_row *o = &bench_rows[k];
				if ((o->kind == BENCH_RAW && r->baseline &&
				     strcmp(o->id, r->baseline) == 0) ||
				    (o->kind == BENCH_PEER && bench_versus_row(o, r->id)) ||
				    o->kind == BENCH_REF)
					picks[k].row = true;
			}
		}
	}
	for (size_t i = 0; i < bench_nrows; i++) {
		const struct bench_row *r = &bench_rows[i];
		if ((!cfg->baselines && (r->kind == BENCH_RAW || r->kind == BENCH_REF)) ||
		    (!cfg->peers && r->kind == BENCH_PEER))
			picks[i].row = false;
	}
	return 0;
}

/* ------------------------------------------------------------- planning */

static size_t ring_for(size_t size)
{
	size_t want = size * 4 < ((size_t)1 << 20) ? ((size_t)1 << 20) : size * 4;
	size_t r = 1;
	while (r < want)
		r <<= 1;
	return r;
}

static void add_series(struct bench_report *rep, const struct bench_row *r,
                       const char *wait)
{
	struct bench_series *s = &rep->series[rep->nseries++];
	memset(s, 0, sizeof *s);
	s->row = r;
	s->wait = wait;
	s->busy = r->busy || (wait && strcmp(wait, "spin") == 0);
	if (wait)
		snprintf(s->id, sizeof s->id, "%s:%s", r->id, wait);
	else
		snprintf(s->id, sizeof s->id, "%s", r->id);
	snprintf(s->label, sizeof s->label, "%s%s%s%s", r->label, wait ? " " : "",
	         wait ? wait : "", s->busy ? " (busy-poll)" : "");
	s->state = SERIES_RUN;
	if (r->kind == BENCH_IPCKIT && !ipk_scheme_built(r->scheme)) {
		s->state = SERIES_NOT_BUILT;
		snprintf(s->reason, sizeof s->reason,
		         "not built in this version of ipckit");
	} else if (!r->available || r->drv == NULL) {
		s->state = SERIES_UNAVAILABLE;
		snprintf(s->reason, sizeof s->reason, "%s",
		         r->missing ? r->missing : "unavailable");
	}
}

/* Two clock reads cost about as much as a cache line's round trip: rows
 * that answer without a system call (rings that spin or spin first, and the
 * references that do) are timed in batches at small sizes, all the same
 * way, so their ratios compare like with like. */
int bench_batch_for(const struct bench_series *s, size_t size)
{
	bool spins = s->busy || s->row->spins_first ||
	             (s->wait && strcmp(s->wait, "hybrid") == 0);
	return spins && size <= 4096 ? BENCH_BATCH : 1;
}

static struct bench_job *add_job(struct bench_report *rep, int si, size_t size)
{
	int i = rep->njobs++;
	struct bench_job *j = &rep->jobs[i];
	struct bench_result *res = &rep->results[i];
	memset(j, 0, sizeof *j);
	memset(res, 0, sizeof *res);
	j->s = &rep->series[si];
	j->cfg = &rep->cfg;
	j->series = si;
	j->size = size;
	j->index = i;
	j->run = true;
	j->ring = ring_for(size);
	j->batch = bench_batch_for(j->s, size);
	j->maxmsg = 10;
	unsigned pid = (unsigned)getpid();
	for (int side = 0; side < 2; side++) {
		snprintf(j->name[side], sizeof j->name[side], "ipkb-%u-%d-%c", pid, i,
		         side ? 'b' : 'a');
		unsigned key = 0x6b000000u |
		               (((pid & 0x3fffu) << 10 | ((unsigned)i & 0x1ffu) << 1 |
		                 (unsigned)side) &
		                0xffffffu);
		snprintf(j->key[side], sizeof j->key[side], "0x%08x", key);
	}
	res->series = si;
	res->size = size;
	res->status = BENCH_NOT_RUN;
	return j;
}

static void skip_job(struct bench_report *rep, struct bench_job *j,
                     enum bench_status st, const char *why)
{
	j->run = false;
	struct bench_result *r = &rep->results[j->index];
	r->status = st;
	snprintf(r->reason, sizeof r->reason, "%s", why);
}

static void plan_series(struct bench_report *rep, int si)
{
	const struct bench_series *s = &rep->series[si];
	const struct bench_row *r = s->row;
	const struct bench_config *cfg = &rep->cfg;
	if (s->state != SERIES_RUN) {
		for (int k = 0; k < cfg->nsizes; k++) {
			struct bench_job *j = add_job(rep, si, cfg->sizes[k]);
			skip_job(rep, j, BENCH_NOT_RUN, s->reason);
		}
		return;
	}
	if (r->sizes) {
		for (const size_t *z = r->sizes; *z; z++)
			add_job(rep, si, *z);
		return;
	}
	char why[BENCH_REASON] = "";
	size_t limit = r->limit ? r->limit(why, sizeof why) : 0;
	bool any = false;
	for (int k = 0; k < cfg->nsizes; k++) {
		size_t size = cfg->sizes[k];
		struct bench_job *j = add_job(rep, si, size);
		if (limit && size > limit) {
			skip_job(rep, j, BENCH_SKIPPED, why);
			continue;
		}
		if (r->fanout > 0 && size < 8) {
			/* sync and stop carry the run's number */
			skip_job(rep, j, BENCH_SKIPPED,
			         "a fan-out row needs messages of 8 bytes or more");
			continue;
		}
		if (strcmp(r->scheme ? r->scheme : "", "mq") == 0) {
			char mwhy[BENCH_REASON];
			j->maxmsg = bench_mq_depth(size, mwhy, sizeof mwhy);
			if (j->maxmsg == 0) {
				skip_job(rep, j, BENCH_SKIPPED, mwhy);
				continue;
			}
		}
		any = true;
	}
	/* a mechanism too small for every size is measured at its own limit */
	if (!any && limit > 0 && limit < cfg->sizes[0])
		add_job(rep, si, limit);
}

int bench_plan(struct bench_report *rep, char *why, size_t cap)
{
	struct pick picks[BENCH_MAX_ROWS];
	memset(picks, 0, sizeof picks);
	int rc = select_rows(&rep->cfg, picks, why, cap);
	if (rc < 0)
		return rc;
	size_t maxseries = bench_nrows * NWAITS;
	rep->series = calloc(maxseries, sizeof *rep->series);
	size_t maxjobs = maxseries * (BENCH_MAX_SIZES + 1);
	rep->jobs = calloc(maxjobs, sizeof *rep->jobs);
	rep->results = calloc(maxjobs, sizeof *rep->results);
	if (!rep->series || !rep->jobs || !rep->results)
		return -ENOMEM;
	for (size_t i = 0; i < bench_nrows; i++) {
		const struct bench_row *r = &bench_rows[i];
		if (!picks[i].row)
			continue;
		if (!r->waits) {
			add_series(rep, r, NULL);
			continue;
		}
		for (int w = 0; w < NWAITS; w++)
			if (picks[i].waits == 0 || (picks[i].waits & (1u << w)))
				add_series(rep, r, wait_modes[w]);
	}
	for (int si = 0; si < rep->nseries; si++)
		plan_series(rep, si);
	return 0;
}

void bench_report_free(struct bench_report *rep)
{
	free(rep->series);
	free(rep->jobs);
	free(rep->results);
	free(rep->ratios);
	rep->series = NULL;
	rep->jobs = NULL;
	rep->results = NULL;
	rep->ratios = NULL;
}

/* ------------------------------------------------------------ addresses */

int bench_expand(const char *tmpl, const struct bench_job *j, int side,
                 pid_t pid, const char *addr, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *p = tmpl; *p;) {
		char val[BENCH_ADDR];
		const char *v = NULL;
		if (*p == '{') {
			const char *e = strchr(p, '}');
			if (e == NULL)
				return -EINVAL;
			size_t n = (size_t)(e - p - 1);
			const char *k = p + 1;
#define KEY(s) (n == sizeof(s) - 1 && memcmp(k, s, n) == 0)
			if (KEY("name"))
				v = j->name[side];
			else if (KEY("key"))
				v = j->key[side];
			else if (KEY("size"))
				snprintf(val, sizeof val, "%zu", j->size), v = val;
			else if (KEY("ring"))
				snprintf(val, sizeof val, "%zu", j->ring), v = val;
			else if (KEY("maxmsg"))
				snprintf(val, sizeof val, "%ld", j->maxmsg), v = val;
			else if (KEY("wait"))
				v = j->s->wait ? j->s->wait : "";
			else if (KEY("pid"))
				snprintf(val, sizeof val, "%d", (int)pid), v = val;
			else if (KEY("addr"))
				v = addr ? addr : "";
			else
				return -EINVAL;
#undef KEY
			p = e + 1;
		} else {
			val[0] = *p++;
			val[1] = '\0';
			v = val;
		}
		size_t n = strlen(v);
		if (o + n >= cap)
			return -ENAMETOOLONG;
		memcpy(out + o, v, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}
