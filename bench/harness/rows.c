/*
 * Every row `ipckit bench` can measure, family by family. A family is one
 * table of rows in a file of its own (rows_*.c) and one line below; the
 * order here is the order of the tables and charts. References come last.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct bench_family *const families[] = {
	&bench_family_pair,
	&bench_family_reqrep,
	&bench_family_pubsub,
	&bench_family_large,
	&bench_family_refs,
};
#define NFAMILIES (sizeof families / sizeof families[0])

static struct bench_row all[BENCH_MAX_ROWS];
const struct bench_row *bench_rows = all;
size_t bench_nrows;

/* A duplicate id or too many rows is a mistake in a table: say which. */
static _Noreturn void bad_table(const char *what, const char *id)
{
	fprintf(stderr, "ipckit: bench: row table: %s '%s'\n", what, id);
	exit(1);
}

void bench_rows_init(void)
{
	if (bench_nrows)
		return;
	for (size_t f = 0; f < NFAMILIES; f++)
		for (size_t i = 0; i < families[f]->nrows; i++) {
			const struct bench_row *r = &families[f]->rows[i];
			if (bench_nrows == BENCH_MAX_ROWS)
				bad_table("more rows than BENCH_MAX_ROWS at", r->id);
			if (strlen(r->id) > 32)
				bad_table("an id longer than 32 characters:", r->id);
			for (size_t k = 0; k < bench_nrows; k++)
				if (strcmp(all[k].id, r->id) == 0)
					bad_table("a second row with the id", r->id);
			all[bench_nrows] = *r;
			all[bench_nrows].family = families[f];
			bench_nrows++;
		}
}

const char *bench_versus_next(const char *list, char *id, size_t cap)
{
	if (list == NULL)
		return NULL;
	list += strspn(list, " ");
	size_t n = strcspn(list, " ");
	if (n == 0)
		return NULL;
	snprintf(id, cap, "%.*s", (int)n, list);
	return list + n;
}

bool bench_versus_row(const struct bench_row *peer, const char *row_id)
{
	char id[64];
	for (const char *p = peer->versus; (p = bench_versus_next(p, id, sizeof id));) {
		id[strcspn(id, ":")] = '\0';
		if (strcmp(id, row_id) == 0)
			return true;
	}
	return false;
}

const struct bench_row *bench_row_find(const char *id)
{
	for (size_t i = 0; i < bench_nrows; i++)
		if (strcmp(bench_rows[i].id, id) == 0)
			return &bench_rows[i];
	return NULL;
}
