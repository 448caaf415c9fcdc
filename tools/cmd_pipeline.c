/*
 * ipckit push / pull: send and recv speaking the pipeline pattern. The
 * address gets ?proto=push or ?proto=pull and the rest is send's and
 * recv's: pushers dial, a puller listens, by default.
 */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_proto.h"

#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_send, cli_cmd_recv, cli_cmd_push,
	cli_cmd_pull;

/* Run base with the first non-option argument (the URL) speaking proto. */
static int as(const struct ipk_cmd *self, const struct ipk_cmd *base,
              const char *proto, int argc, char **argv)
{
	char **args = calloc((size_t)argc + 1, sizeof *args);
	if (args == NULL)
		return cli_fail(self->name, NULL, "out of memory");
	char *url = NULL;
	int rc = 0;
	bool seen = false;
	for (int i = 0; i < argc; i++) {
		args[i] = argv[i];
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			free(args);
			return cli_help(self);
		}
		/* the URL: the first argument that is no option and names a
		   scheme (an option's value, a count or a time, has no colon) */
		if (i > 0 && !seen && argv[i][0] != '-' && strchr(argv[i], ':')) {
			seen = true;
			if ((rc = cli_proto_url(self->name, argv[i], proto, &url)) != 0)
				break;
			args[i] = url;
		}
	}
	if (rc == 0 && !seen)
		rc = cli_usage(self->name, "missing URL");
	if (rc == 0)
		rc = base->run(argc, args);
	free(url);
	free(args);
	return rc;
}

static int push_run(int argc, char **argv)
{
	return as(&cli_cmd_push, &cli_cmd_send, "push", argc, argv);
}

static int pull_run(int argc, char **argv)
{
	return as(&cli_cmd_pull, &cli_cmd_recv, "pull", argc, argv);
}

const struct ipk_cmd cli_cmd_push = {
	.name = "push",
	.args = "URL [MESSAGE...]",
	.summary = "send messages down a pipeline (PUSH)",
	.help =
		"ipckit send speaking the pipeline pattern (the address gets\n"
		"?proto=push): each message goes to one of the pullers connected\n"
		"to URL, round-robin among those that can take it now. On unix:\n"
		"and tcp: nng's PULL (nngcat --pull0) is a puller too; on a\n"
		"mailbox (fifo:, sysvmq:, mq:, unixgram:, shm:) the mailbox itself\n"
		"is the pipeline. Dials by default; --listen to be the one that\n"
		"pullers dial. Options and exit status as 'ipckit help send'.\n",
	.run = push_run,
};

const struct ipk_cmd cli_cmd_pull = {
	.name = "pull",
	.args = "URL [-n COUNT] [OPTIONS]",
	.summary = "take messages from a pipeline (PULL)",
	.help =
		"ipckit recv speaking the pipeline pattern (the address gets\n"
		"?proto=pull): receives what every pusher connected to URL sends,\n"
		"fairly among them. Listens by default (--dial to connect to a\n"
		"pusher that listens); on a mailbox several pullers share the\n"
		"work where the mechanism allows it (queues; rings made ?mpmc).\n"
		"Options and exit status as 'ipckit help recv'.\n",
	.run = pull_run,
};
