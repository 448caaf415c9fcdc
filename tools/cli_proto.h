/* What the pattern commands (req, rep, push, pull) share. */
#ifndef IPK_CLI_PROTO_H
#define IPK_CLI_PROTO_H

#include <stddef.h>

/*
 * *out: url with "proto=NAME" in its query (added, or already there),
 * malloc'd. Returns 0, or the exit status after a message (2: the address
 * asks for another protocol).
 */
int cli_proto_url(const char *cmd, const char *url, const char *name,
                  char **out);

/* url with key=value added to its query (malloc'd; NULL on failure). */
char *cli_url_with(const char *url, const char *key, const char *value);

#endif
