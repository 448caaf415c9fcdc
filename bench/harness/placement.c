/* Which way the two CPUs are placed, from the cache-line floor. */
#define _GNU_SOURCE
#include "bench.h"

enum bench_placement bench_placement_of(const struct bench_floor *f)
{
	if (!f->ok || !(f->rtt_ns > 0))
		return PLACE_UNKNOWN;
	return f->rtt_ns < BENCH_SPLIT_NS ? PLACE_SHARED : PLACE_SPLIT;
}

const char *bench_placement_id(enum bench_placement p)
{
	return p == PLACE_SHARED ? "shared-cache"
	       : p == PLACE_SPLIT ? "split" : "unknown";
}

const char *bench_placement_text(enum bench_placement p)
{
	return p == PLACE_SHARED ? "shared cache"
	       : p == PLACE_SPLIT ? "split caches" : "unknown";
}

bool bench_placement_changed(const struct bench_report *rep)
{
	enum bench_placement a = bench_placement_of(&rep->floor[0]);
	enum bench_placement b = bench_placement_of(&rep->floor[1]);
	return a != PLACE_UNKNOWN && b != PLACE_UNKNOWN && a != b;
}

static const char *floor_text(const struct bench_floor *f, char *buf, size_t cap)
{
	if (f->ok)
		snprintf(buf, cap, "%.0f ns", f->rtt_ns);
	else
		snprintf(buf, cap, "not measured: %s", f->reason);
	return buf;
}

const char *bench_placement_line(const struct bench_report *rep, char *buf,
                                 size_t cap)
{
	enum bench_placement a = bench_placement_of(&rep->floor[0]);
	enum bench_placement b = bench_placement_of(&rep->floor[1]);
	char x[BENCH_REASON + 32], y[BENCH_REASON + 32];
	floor_text(&rep->floor[0], x, sizeof x);
	floor_text(&rep->floor[1], y, sizeof y);
	if (bench_placement_changed(rep))
		snprintf(buf, cap, "CHANGED during the run: %s at the start "
		         "(cache line %s), %s at the end (%s)",
		         bench_placement_text(a), x, bench_placement_text(b), y);
	else
		snprintf(buf, cap, "%s (cache-line round trip %s at the start, %s "
		         "at the end; %d ns or more means split caches)",
		         bench_placement_text(a != PLACE_UNKNOWN ? a : b), x, y,
		         BENCH_SPLIT_NS);
	return buf;
}
