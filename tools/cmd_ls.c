/* ipckit ls: every IPC object on the machine, with what is wrong with it. */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_objects.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

struct ls_state {
	bool all;       /* include objects of every kind (default) */
	const char *kind;
	bool orphans;
	int shown;
};

static void human(unsigned long long n, char *buf, size_t cap)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void pid_text(pid_t pid, char *buf, size_t cap)
{
	if (pid <= 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%d%s", (int)pid, pid_alive(pid) ? "" : " (gone)");
}

static void show(const struct ipc_object *o, void *arg)
{
	struct ls_state *st = arg;
	const char *why = object_orphan_reason(o);
	if (st->kind && strcmp(st->kind, object_kind_name(o->kind)) != 0)
		return;
	if (st->orphans && why == NULL)
		return;
	if (st->shown++ == 0)
		printf("%-8s %-30s %6s %5s %-8s %10s  %s\n", "KIND", "ADDRESS", "ID",
		       "MODE", "OWNER", "SIZE", "USE");
	char size[32], use[96] = "", id[16] = "-", owner[32];
	human(o->size, size, sizeof size);
	struct passwd *pw = getpwuid(o->uid);
	snprintf(owner, sizeof owner, "%s", pw ? pw->pw_name : "?");
	if (pw == NULL)
		snprintf(owner, sizeof owner, "%u", (unsigned)o->uid);
	if (o->id >= 0)
		snprintf(id, sizeof id, "%d", o->id);
	char p0[24], p1[24];
	pid_text(o->pids[0], p0, sizeof p0);
	pid_text(o->pids[1], p1, sizeof p1);
	switch (o->kind) {
	case OBJ_SYSVMQ:
		snprintf(use, sizeof use, "%ld msgs, last send %s, recv %s", o->count,
		         p0, p1);
		break;
	case OBJ_SYSVSHM:
		snprintf(use, sizeof use, "%ld attached, creator %s", o->count, p0);
		break;
	case OBJ_SYSVSEM:
		snprintf(use, sizeof use, "%ld semaphores", o->count);
		break;
	default:
		break;
	}
	char url[320];
	object_url(o, url, sizeof url);
	printf("%-8s %-30s %6s %04o %-8s %10s  %s%s%s\n", object_kind_name(o->kind),
	       url, id, o->mode, owner, size, use, why ? "  !! " : "",
	       why ? why : "");
}

static int ls_run(int argc, char **argv)
{
	struct ls_state st = {0};
	static const struct option opts[] = {{"orphans", no_argument, 0, 'o'},
	                                     {"kind", required_argument, 0, 'k'},
	                                     {0, 0, 0, 0}};
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "ok:", opts, NULL)) != -1) {
		if (ch == 'o')
			st.orphans = true;
		else if (ch == 'k')
			st.kind = optarg;
		else
			return cli_usage("ls", "unknown option");
	}
	if (optind < argc)
		return cli_usage("ls", "unexpected argument '%s'", argv[optind]);
	if (st.kind) {
		bool known = false;
		for (int k = 0; k < OBJ_NKINDS; k++)
			known |= strcmp(st.kind, object_kind_name(k)) == 0;
		if (!known)
			return cli_usage("ls", "unknown kind '%s' (sysvmq sysvshm sysvsem shm sem mq mutex cond rwlock)",
			                 st.kind);
	}
	objects_scan(show, &st);
	if (st.shown == 0)
		printf("no %sIPC objects\n", st.orphans ? "orphaned " : "");
	return 0;
}

const struct ipk_cmd cli_cmd_ls = {
	"ls", "[--kind KIND] [--orphans]",
	"list the machine's IPC objects and flag the suspicious ones",
	"Lists System V message queues, shared memory segments and semaphore\n"
	"sets (/proc/sysvipc), POSIX shared memory and named semaphores\n"
	"(/dev/shm), ipckit's named locks and POSIX message queues (/dev/mqueue,\n"
	"when mounted), each by its ipckit address (for 'ipckit rm'), with id,\n"
	"owner, mode, size and use. Objects nobody can use (permission 0) or\n"
	"nobody will (a segment with no attachment whose creator and last user\n"
	"are gone) are flagged with '!!'.\n\n"
	"options:\n"
	"  --kind KIND   only sysvmq, sysvshm, sysvsem, shm, sem, mq, mutex,\n"
	"                cond or rwlock\n"
	"  --orphans     only the flagged objects\n\n"
	"Exit status: 0, or 2 on a usage error.\n",
	ls_run,
};
