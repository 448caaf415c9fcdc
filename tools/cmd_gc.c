/* ipckit gc: remove the IPC objects that ls flags as orphaned. */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_objects.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>

struct gc_state {
	bool force;
	char **only; /* keys or names to restrict to, or NULL */
	int nonly;
	int found, removed, failed;
};

static int remove_object(const struct ipc_object *o)
{
	int rc = -1;
	switch (o->kind) {
	case OBJ_SYSVSHM:
		rc = shmctl(o->id, IPC_RMID, NULL);
		break;
	default:
		errno = ENOTSUP; /* never flagged: nothing tells they are unused */
		break;
	}
	return rc < 0 ? -errno : 0;
}

static void collect(const struct ipc_object *o, void *arg)
{
	struct gc_state *st = arg;
	const char *why = object_orphan_reason(o);
	if (why == NULL || o->mode == 0) /* permission 0 is flagged, not ours to judge */
		return;
	if (st->nonly) {
		bool match = false;
		for (int i = 0; i < st->nonly; i++)
			match |= strcmp(st->only[i], o->name) == 0;
		if (!match)
			return;
	}
	st->found++;
	if (!st->force) {
		printf("would remove %s %s (id %d): %s\n", object_kind_name(o->kind),
		       o->name, o->id, why);
		return;
	}
	int rc = remove_object(o);
	if (rc == 0) {
		st->removed++;
		printf("removed %s %s (id %d): %s\n", object_kind_name(o->kind),
		       o->name, o->id, why);
	} else {
		st->failed++;
		cli_fail("gc", o->name, "%s", strerror(-rc));
	}
}

static int gc_run(int argc, char **argv)
{
	struct gc_state st = {0};
	static const struct option opts[] = {{"force", no_argument, 0, 'f'},
	                                     {0, 0, 0, 0}};
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (ch == 'f')
			st.force = true;
		else
			return cli_usage("gc", "unknown option");
	}
	st.only = argv + optind;
	st.nonly = argc - optind;
	objects_scan(collect, &st);
	if (st.found == 0)
		printf("nothing to collect\n");
	else if (!st.force)
		printf("%d object%s; run 'ipckit gc --force' to remove\n", st.found,
		       st.found == 1 ? "" : "s");
	return st.failed ? 1 : 0;
}

const struct ipk_cmd cli_cmd_gc = {
	"gc", "[--force] [KEY|PATH...]",
	"remove System V shared memory that nobody uses any more",
	"Finds System V shared memory segments with no attachment whose creator\n"
	"and last user have exited, the classic leak, and removes them with\n"
	"IPC_RMID. Without --force it only lists what it would remove. Queues,\n"
	"semaphores and named POSIX objects are never collected: nothing tells\n"
	"whether someone still needs them (an empty queue may have a receiver\n"
	"waiting). With KEY arguments (0x1234abcd, as 'ipckit ls' prints them)\n"
	"only those segments are considered.\n\n"
	"options:\n"
	"  -f, --force   remove instead of listing\n\n"
	"Exit status: 0; 1 if a removal failed; 2 on a usage error.\n",
	gc_run,
};
