/* What the nng and ZeroMQ peer drivers share: both listen on the row's
 * address template and both may leave an ipc:// socket file behind. */
#define _GNU_SOURCE
#include "bench.h"

#include <string.h>
#include <unistd.h>

int bench_peer_url(struct bench_link *l, char *url, size_t cap)
{
	int rc = bench_expand(l->job->s->row->listen, l->job, 0, 0, NULL, url,
	                      cap);
	if (rc < 0)
		return bench_fail(l, rc, "bad address template");
	return 0;
}

void bench_peer_cleanup(const struct bench_job *j)
{
	char url[BENCH_ADDR];
	if (bench_expand(j->s->row->listen, j, 0, 0, NULL, url, sizeof url) == 0 &&
	    strncmp(url, "ipc://", 6) == 0)
		unlink(url + 6);
}
