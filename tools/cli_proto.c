/* Helpers for the pattern commands: see cli_proto.h. */
#define _GNU_SOURCE
#include "cli_proto.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cli_url_with(const char *url, const char *key, const char *value)
{
	char *out = NULL;
	if (asprintf(&out, "%s%c%s%s%s", url, strchr(url, '?') ? '&' : '?', key,
	             value ? "=" : "", value ? value : "") < 0)
		return NULL;
	return out;
}

int cli_proto_url(const char *cmd, const char *url, const char *name,
                  char **out)
{
	*out = NULL;
	const char *q = strchr(url, '?');
	while (q != NULL) {
		q++;
		if (strncmp(q, "proto=", 6) == 0) {
			size_t n = strcspn(q + 6, "&");
			if (n != strlen(name) || strncmp(q + 6, name, n) != 0) {
				return cli_usage(cmd, "'%s' asks for another protocol: %s "
				                      "speaks %s",
				                 url, cmd, name);
			}
			*out = strdup(url);
			return *out ? 0 : cli_fail(cmd, url, "out of memory");
		}
		q = strchr(q, '&');
	}
	*out = cli_url_with(url, "proto", name);
	if (*out == NULL)
		return cli_fail(cmd, url, "out of memory");
	cli_alias_url(*out, url);
	return 0;
}
