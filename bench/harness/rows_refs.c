/*
 * The reference family: what the hardware allows, with no mechanism at all
 * (refs.c has their drivers). Listed last, measured beside everything.
 */
#define _GNU_SOURCE
#include "rows.h"

/* one cache line, whatever the sizes */
static const size_t line_sizes[] = {64, 0};

static const struct bench_row rows[] = {
	/* the hardware floor */
	{.id = "ref-cacheline", .kind = BENCH_REF, .scheme = NULL,
	 .label = "ref shared cache line", .lat = true, .busy = true,
	 .sizes = line_sizes, .drv = &bench_cacheline_driver, .available = true},
	{.id = "ref-handover", .kind = BENCH_REF, .scheme = NULL,
	 .label = "ref hand-over via shm", .lat = true, .thr = true,
	 .spins_first = true, .drv = &bench_handover_driver, .available = true},
	{.id = "ref-memcpy", .kind = BENCH_REF, .scheme = NULL,
	 .label = "ref memcpy", .thr = true, .drv = &bench_memcpy_driver,
	 .available = true},
};

const struct bench_family bench_family_refs = {
	.id = "ref",
	.title = "references: the hardware floor",
	.rows = rows,
	.nrows = sizeof rows / sizeof rows[0],
};
