/*
 * ipckit bench: runs ipckit-bench, the benchmark program, in this process
 * (exec). The measurement code and the peer libraries it compares with
 * (nng, ZeroMQ, Boost) live there, so every other command starts without
 * loading them. It is looked for beside this program (the build tree) and
 * in the install's libexec directory, relative to this program, so a moved
 * install tree still finds it.
 */
#define _GNU_SOURCE
#include "cli.h"

#include "help.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IPK_BENCH_REL
#define IPK_BENCH_REL "../libexec/ipckit"
#endif
#define BENCH_EXE "ipckit-bench"

static int bench_exec(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			break;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: ipckit bench %s\n\n%s\n\n%s", BENCH_ARGS,
			       BENCH_SUMMARY, bench_help);
			return 0;
		}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return cli_fail("bench", NULL, "cannot find this program's own "
		                "path (/proc/self/exe): %s", strerror(errno));
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	const char *const where[] = {"", "/" IPK_BENCH_REL};
	char paths[2][PATH_MAX + 64];
	for (int k = 0; k < 2; k++) {
		snprintf(paths[k], sizeof paths[k], "%s%s/" BENCH_EXE, self, where[k]);
		if (access(paths[k], X_OK) != 0)
			continue;
		char **args = calloc((size_t)argc + 1, sizeof *args);
		if (args == NULL)
			return cli_fail("bench", NULL, "out of memory");
		args[0] = paths[k];
		for (int i = 1; i < argc; i++)
			args[i] = argv[i];
		fflush(NULL);
		execv(paths[k], args);
		int e = errno;
		free(args);
		return cli_fail("bench", paths[k], "cannot run the benchmark "
		                "program: %s", strerror(e));
	}
	return cli_fail("bench", NULL, "the benchmark program " BENCH_EXE
	                " is not installed (looked for %s and %s): build it "
	                "with 'make', or install ipckit with 'make install'",
	                paths[0], paths[1]);
}

const struct ipk_cmd cli_cmd_bench = {
	.name = "bench",
	.args = BENCH_ARGS,
	.summary = BENCH_SUMMARY,
	.help = bench_help,
	.run = bench_exec,
};
