/* The ipckit command-line tool: one file per command, one row in main.c. */
#ifndef IPK_CLI_H
#define IPK_CLI_H

#include <stdbool.h>
#include <stddef.h>

struct ipk_cmd {
	const char *name;
	const char *args;    /* "URL [MESSAGE...]" */
	const char *summary; /* one line for `ipckit --help` */
	const char *help;    /* full text for `ipckit help NAME` (options, exit codes) */
	/* argv[0] is the command name. Return the exit status: 0 success,
	   1 failure (after cli_fail), 2 usage error (after cli_usage). */
	int (*run)(int argc, char **argv);
};

/* Name of the command running ("send"), for messages. */
extern const char *cli_command;

/* Print "ipckit: CMD URL: reason" (or "ipckit: CMD: reason") and return 1. */
int cli_fail(const char *cmd, const char *url, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* From now until the command returns, cli_fail writes the address INNER
   (which the command built from GIVEN, say by adding ?proto=req) as GIVEN,
   wherever it appears. Both strings are copied. */
void cli_alias_url(const char *inner, const char *given);
/* Print "ipckit: CMD: reason" plus a pointer to `ipckit help CMD`, return 2. */
int cli_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse a timeout in ms ("-1" forever). Returns false if malformed. */
bool cli_parse_int(const char *s, long min, long max, long *out);

#endif
