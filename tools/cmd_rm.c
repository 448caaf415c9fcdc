/* ipckit rm: remove named IPC objects by address. */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_objects.h"

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
		int rc = ipk_remove_flags(argv[i], force ? IPK_REMOVE_FORCE : 0);
		if (rc == 0 || (force && rc == -ENOENT))
			continue;
		/* addresses may come from ls --json: one line, no raw controls */
		char a[4 * 1024 + 16], e[4 * 1024 + 16];
		status = cli_fail("rm", obj_text(argv[i], a, sizeof a, NULL), "%s",
		                  obj_text(ipk_last_error(), e, sizeof e, NULL));
	}
	return status;
}

const struct ipk_cmd cli_cmd_rm = {
	.name = "rm",
	.args = "[-f] URL...",
	.summary = "remove named objects (FIFO, socket file, queue, ring, ...)",
	.run = rm_run,
	.help =
	"Removes the object each address names: use it for what a crashed\n"
	"program left behind. Every address 'ipckit ls' prints is accepted\n"
	"(sysvshm:@ID and sysvmq:@ID for private objects). Only what the\n"
	"address says is removed: fifo: a FIFO, unix: a socket, shm:, sysvshm:\n"
	"and mmap: an ipckit ring (a plain shared-memory object as\n"
	"shm:/name?region or sysvshm:KEY?region), sem: a semaphore, mutex:,\n"
	"cond:, rwlock: an ipckit lock; anything else is refused naming what\n"
	"was found (rm mmap:/etc/passwd refuses: no ring). An object a live\n"
	"process is proven to use (a listener's socket, a ring with a live\n"
	"consumer, a queue someone has open, a segment with attachments) is\n"
	"refused naming that process, unless --force. Every URL is tried; each\n"
	"failure prints one line.\n"
	"\n"
	"options:\n"
	"  -f, --force   remove even what a live process uses; an object that\n"
	"                does not exist is not an error\n"
	"\n"
	"exit status: 0 all removed, 1 some could not be removed, 2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit rm fifo:/tmp/jobs unix:/tmp/app.sock\n"
	"  ipckit rm mq:/jobs sysvmq:0x66001234 sysvshm:@32769?region\n",
};
