/* What ipckit pub and sub share. */
#ifndef IPK_CLI_PUBSUB_H
#define IPK_CLI_PUBSUB_H

#include <stddef.h>

/*
 * url with ?proto=want added (a malloc'd string), or NULL after printing a
 * usage error when the address already names another protocol.
 */
char *cli_pubsub_url(const char *cmd, const char *url, const char *want);

#endif
