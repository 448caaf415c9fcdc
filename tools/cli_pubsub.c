/* Addresses for ipckit pub and sub: the protocol rides in the query. */
#define _GNU_SOURCE
#include "cli_pubsub.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cli_pubsub_url(const char *cmd, const char *url, const char *want)
{
	const char *q = strchr(url, '?');
	for (const char *p = q; p != NULL; p = strchr(p + 1, '&')) {
		const char *k = p + 1;
		if (strncmp(k, "proto=", 6) != 0)
			continue;
		size_t n = strcspn(k + 6, "&");
		if (n == strlen(want) && strncmp(k + 6, want, n) == 0)
			return strdup(url);
		cli_usage(cmd, "address '%s' names protocol %.*s; %s speaks %s", url,
		          (int)n, k + 6, cmd, want);
		return NULL;
	}
	char *out;
	if (asprintf(&out, "%s%cproto=%s", url, q ? '&' : '?', want) < 0)
		return NULL;
	return out;
}
