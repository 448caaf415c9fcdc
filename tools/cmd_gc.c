/* ipckit gc: remove every IPC object that is provably left behind. */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_chan.h"
#include "cli_objects.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern const struct ipk_cmd cli_cmd_gc;

static int gc_run(int argc, char **argv)
{
	static const struct option longs[] = {
		{"dry-run", no_argument, NULL, 'd'},
		{"kind", required_argument, NULL, 'k'},
		{"user", required_argument, NULL, 'u'},
		{"ns", required_argument, NULL, 'n'},
		{"path", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct obj_select sel = {0};
	bool dry = false;
	int ch, rc;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":dk:u:n:p:h", longs, NULL)) != -1) {
		switch (ch) {
		case 'd': dry = true; break;
		case 'h': return cli_help(&cli_cmd_gc);
		case 'k': case 'u': case 'n': case 'p':
			if ((rc = obj_select_opt(&sel, "gc", ch, optarg)) != 0)
				return rc;
			break;
		default: return cli_bad_option("gc", argv, ch);
		}
	}
	if (optind < argc)
		return cli_usage("gc", "unexpected argument '%s' (gc takes no "
		                 "addresses: 'ipckit rm' removes named objects)",
		                 argv[optind]);
	ipk_objscan *s;
	if ((rc = obj_select_open(&sel, "gc", &s)) != 0)
		return rc;
	int removed = 0, failed = 0, live = 0, unknown = 0, perm0 = 0, kept = 0;
	const ipk_object *o;
	char a[1400], w[2048]; /* escaped for the terminal (obj_text) */
	while ((o = ipk_objects_next(s)) != NULL) {
		if (!obj_select_match(&sel, o))
			continue;
		switch (o->state) {
		case IPK_OBJ_LIVE:
			live++;
			continue;
		case IPK_OBJ_UNKNOWN:
			unknown++;
			printf("kept %s %s: unknown: %s\n", o->kind, obj_text(o->address, a, sizeof a, NULL),
			       obj_text(o->why, w, sizeof w, NULL));
			continue;
		case IPK_OBJ_PERM0:
			perm0++;
			printf("kept %s %s: %s\n", o->kind,
			       obj_text(o->address, a, sizeof a, NULL),
			       obj_text(o->why, w, sizeof w, NULL));
			continue;
		}
		if (o->persist != 0) {
			kept++;
			printf("kept %s %s: %s\n", o->kind,
			       obj_text(o->address, a, sizeof a, NULL),
			       o->persist > 0 ? "made with ?persist"
			       : strcmp(o->kind, "sem") == 0 ||
			                       strcmp(o->kind, "sysvsem") == 0
			               ? "a semaphore's value is its state: it stays "
			                 "until removed (ipckit rm)"
			               : "nothing records whether it is kept on "
			                 "purpose (remove it with ipckit rm)");
			continue;
		}
		if (geteuid() != 0 && o->uid != geteuid()) {
			/* the library refuses it too (ipk_object_remove) */
			kept++;
			printf("kept %s %s: it belongs to uid %u: only its owner or "
			       "root removes it\n", o->kind,
			       obj_text(o->address, a, sizeof a, NULL),
			       (unsigned)o->uid);
			continue;
		}
		if (dry) {
			removed++;
			printf("would remove %s %s: %s\n", o->kind, obj_text(o->address, a, sizeof a, NULL),
			       obj_text(o->why, w, sizeof w, NULL));
			continue;
		}
		if (ipk_object_remove(o, 0) == 0) {
			removed++;
			printf("removed %s %s: %s\n", o->kind, obj_text(o->address, a, sizeof a, NULL),
			       obj_text(o->why, w, sizeof w, NULL));
		} else {
			failed++;
			cli_fail("gc", obj_text(o->address, a, sizeof a, NULL), "%s",
			         obj_text(ipk_last_error(), w, sizeof w, NULL));
		}
	}
	printf("gc: %s %d; kept %d live, %d unknown, %d permission-0, %d on "
	       "purpose%s%s\n",
	       dry ? "would remove" : "removed", removed, live, unknown, perm0,
	       kept, failed ? "; failed " : "", failed ? "(see above)" : "");
	for (size_t i = 0; ipk_objects_note(s, i); i++)
		printf("note: %s\n", obj_text(ipk_objects_note(s, i), w, sizeof w,
		                              NULL));
	ipk_objects_close(s);
	return failed ? 1 : 0;
}

const struct ipk_cmd cli_cmd_gc = {
	.name = "gc",
	.args = "[--dry-run] [--kind K] [--user U] [--path P] [--ns PID]",
	.summary = "remove every IPC object that is provably left behind",
	.run = gc_run,
	.help =
	"Removes every object that 'ipckit ls' shows as orphan (provably no\n"
	"live user: a segment nobody attaches whose creator and last user are\n"
	"gone, a ring whose attached processes all died, a FIFO, queue or\n"
	"semaphore nobody holds, a socket file nothing is bound to, an owner\n"
	"record whose object is gone), of every kind. Never removed: live and\n"
	"unknown objects, permission-0 ones, objects kept on purpose (?persist,\n"
	"plain regions), other users' objects (unless run by root), a FIFO a\n"
	"process has open for reading: each of those is named with the reason\n"
	"it was kept. Each object is looked at again just before it is\n"
	"removed, and only that very object is removed.\n"
	"\n"
	"options:\n"
	"  --dry-run     say what would be removed, remove nothing\n"
	"  --kind K      only objects of kind K (see 'ipckit help ls')\n"
	"  --user U      only objects owned by user U\n"
	"  --path P      also search P for mmap: rings, FIFOs and sockets\n"
	"  --ns PID      work inside the namespaces of process PID\n"
	"\n"
	"exit status: 0; 1 if a removal failed; 2 usage error.\n",
};
