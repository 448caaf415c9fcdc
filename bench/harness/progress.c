/* A one-line progress bar on stderr, drawn only when stderr is a terminal. */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <string.h>

void bench_progress(const struct bench_report *rep, int done, int total,
                    int current)
{
	if (!rep->cfg.progress)
		return;
	int width = 28;
	int fill = total ? done * width / total : width;
	char bar[64], size[32];
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(width - fill));
	bar[width] = '\0';
	const struct bench_job *j = &rep->jobs[current];
	fprintf(stderr, "\r\033[K[%s] %3d/%d  %s %s", bar, done + 1, total,
	        j->s->label, bench_size_text(j->size, size, sizeof size));
	fflush(stderr);
}

void bench_progress_end(const struct bench_report *rep)
{
	if (!rep->cfg.progress)
		return;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
}
