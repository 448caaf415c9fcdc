/* ipckit rm: remove named IPC objects by address. */
#define _GNU_SOURCE
#include "cli_chan.h"

#include <errno.h>
#include <getopt.h>

extern const struct ipk_cmd cli_cmd_rm;

static int rm_run(int argc, char **argv)
{
	static const struct option longs[] = {
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool force = false;
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":fh", longs, NULL)) != -1) {
		switch (ch) {
		case 'f': force = true; break;
		case 'h': return cli_help(&cli_cmd_rm);
		default: return cli_bad_option("rm", argv, ch);
		}
	}
	if (optind >= argc)
		return cli_usage("rm", "missing URL");
	int status = 0;
	for (int i = optind; i < argc; i++) {
		int rc = ipk_remove(argv[i]);
		if (rc == 0 || (force && rc == -ENOENT))
			continue;
		status = cli_fail("rm", argv[i], "%s", ipk_last_error());
	}
	return status;
}

const struct ipk_cmd cli_cmd_rm = {
	.name = "rm",
	.args = "[-f] URL...",
	.summary = "remove named objects (FIFO, socket file, queue, segment)",
	.run = rm_run,
	.help =
	"Removes the object each address names, whoever created it: use it for\n"
	"what a crashed program left behind. Only objects of the scheme's kind\n"
	"are removed (rm fifo:/etc/passwd refuses: not a FIFO). Every URL is\n"
	"tried; each failure prints one line.\n"
	"\n"
	"options:\n"
	"  -f, --force   an object that does not exist is not an error\n"
	"\n"
	"exit status: 0 all removed, 1 some could not be removed, 2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit rm fifo:/tmp/jobs unix:/tmp/app.sock\n"
	"  ipckit rm -f mq:/jobs sysvmq:0x66001234\n",
};
