/* ipckit ls: every IPC object on the machine, whose it is and whether it
   is still used; --limits: the kernel limits that bound them. */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_chan.h"
#include "cli_json.h"
#include "cli_objects.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_ls;

enum { COLS = 11 };
static const char *const heads[COLS] = {"KIND", "TYPE", "ADDRESS", "STATE",
                                        "OWNER", "MODE", "SIZE", "USE",
                                        "CREATOR", "LAST", "WHY"};

/* Cells as printed (escaped: obj_text) with their widths in columns. */
struct row {
	char *c[COLS];
	size_t w[COLS];
};

static void human(uint64_t n, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "K", "M", "G", "T"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, u ? "%.1f%s" : "%.0f%s", v, unit[u]);
}

static int set(struct row *r, int c, const char *text)
{
	char buf[4 * 1024 + 16];
	r->c[c] = strdup(obj_text(text, buf, sizeof buf, &r->w[c]));
	return r->c[c] ? 0 : -1;
}

static void row_free(struct row *r)
{
	for (int c = 0; c < COLS; c++)
		free(r->c[c]);
}

static int fill(struct row *r, const ipk_object *o)
{
	char b[64], t[64];
	int rc = 0;
	*r = (struct row){0};
	rc |= set(r, 0, o->kind);
	rc |= set(r, 1, o->detail[0] ? o->detail : "-");
	rc |= set(r, 2, o->address);
	snprintf(t, sizeof t, "%s%s", ipk_objstate_name(o->state),
	         o->state == IPK_OBJ_ORPHAN && o->persist > 0 ? " (kept)" : "");
	rc |= set(r, 3, t);
	rc |= set(r, 4, obj_owner(o->uid, b, sizeof b));
	snprintf(t, sizeof t, "%04o", o->mode);
	rc |= set(r, 5, t);
	human(o->size, t, sizeof t);
	rc |= set(r, 6, t);
	rc |= set(r, 7, o->use[0] ? o->use : "-");
	rc |= set(r, 8, obj_pid(&o->creator, b, sizeof b));
	rc |= set(r, 9, obj_pid(&o->last, b, sizeof b));
	rc |= set(r, 10, o->why);
	if (rc)
		row_free(r);
	return rc;
}

/* s then spaces up to width w (s is w_s columns wide); right-aligned puts
   the spaces first. */
static void cell(const char *s, size_t w_s, size_t w, bool right)
{
	if (right)
		printf("%*s", (int)(w - w_s), "");
	fputs(s, stdout);
	if (!right)
		printf("%*s", (int)(w - w_s), "");
	fputs("  ", stdout);
}

static void print_table(const struct row *rows, size_t n)
{
	size_t w[COLS];
	for (int c = 0; c < COLS; c++)
		w[c] = strlen(heads[c]);
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < COLS; c++)
			if (rows[i].w[c] > w[c])
				w[c] = rows[i].w[c];
	for (int c = 0; c < COLS - 1; c++)
		printf("%-*s  ", (int)w[c], heads[c]);
	printf("%s\n", heads[COLS - 1]);
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < COLS; c++) {
			if (c == COLS - 1)
				printf("%s\n", rows[i].c[c]);
			else /* numbers read best right-aligned */
				cell(rows[i].c[c], rows[i].w[c], w[c], c == 6);
		}
}

static void json_num(const char *key, int64_t v)
{
	if (v < 0)
		printf(", \"%s\": null", key);
	else
		printf(", \"%s\": %lld", key, (long long)v);
}

static void json_pid(const char *key, const ipk_objpid *p)
{
	if (p->state == IPK_PID_NONE || p->pid <= 0) {
		printf(", \"%s\": null", key);
		return;
	}
	printf(", \"%s\": {\"pid\": %d, \"alive\": %s}", key, (int)p->pid,
	       p->state == IPK_PID_ALIVE  ? "true"
	       : p->state == IPK_PID_DEAD ? "false"
	                                  : "null");
}

static void json_object(const ipk_object *o)
{
	char b[64];
	printf("    {\"kind\": ");
	obj_json_str(stdout, o->kind);
	printf(", \"type\": ");
	if (o->detail[0])
		obj_json_str(stdout, o->detail);
	else
		printf("null");
	printf(", \"address\": ");
	obj_json_str(stdout, o->address);
	/* the exact bytes: a name that is not UTF-8 is not a JSON string */
	printf(", \"address_base64\": ");
	cli_json_base64(stdout, o->address, strlen(o->address));
	printf(", \"path\": ");
	if (o->path[0])
		obj_json_str(stdout, o->path);
	else
		printf("null");
	printf(", \"state\": \"%s\", \"why\": ", ipk_objstate_name(o->state));
	obj_json_str(stdout, o->why);
	printf(", \"persist\": %s", o->persist > 0 ? "true" : o->persist == 0
	                                                       ? "false"
	                                                       : "null");
	json_num("id", o->id);
	json_num("key", o->key);
	printf(", \"owner\": ");
	obj_json_str(stdout, obj_owner(o->uid, b, sizeof b));
	printf(", \"uid\": %u, \"gid\": %u, \"mode\": \"%04o\", \"size\": %llu",
	       (unsigned)o->uid, (unsigned)o->gid, o->mode,
	       (unsigned long long)o->size);
	json_num("messages", o->messages);
	json_num("bytes", o->bytes);
	json_num("attached", o->attached);
	json_num("producers", o->producers);
	json_num("consumers", o->consumers);
	json_num("value", o->value);
	json_num("count", o->count);
	json_pid("creator", &o->creator);
	json_pid("last", &o->last);
	printf(", \"holders\": [");
	size_t n = o->nholders < IPK_OBJ_MAXHOLDERS ? o->nholders
	                                            : IPK_OBJ_MAXHOLDERS;
	for (size_t i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", (int)o->holders[i]);
	printf("], \"changed\": %lld}", (long long)o->changed);
}

static int list_limits(bool json)
{
	ssize_t n = ipk_limits(NULL, 0);
	ipk_limit *l = calloc((size_t)n, sizeof *l);
	if (l == NULL)
		return cli_fail("ls", NULL, "out of memory");
	ipk_limits(l, (size_t)n);
	if (json) {
		printf("{\"limits\": [\n");
		for (ssize_t i = 0; i < n; i++) {
			printf("    {\"name\": ");
			obj_json_str(stdout, l[i].name);
			printf(", \"what\": ");
			obj_json_str(stdout, l[i].what);
			json_num("value", l[i].value);
			json_num("used", l[i].used);
			printf(", \"percent\": ");
			if (l[i].value > 0 && l[i].used >= 0)
				printf("%.1f", 100.0 * (double)l[i].used / (double)l[i].value);
			else
				printf("null");
			printf(", \"unit\": ");
			obj_json_str(stdout, l[i].unit);
			printf(", \"raise\": ");
			obj_json_str(stdout, l[i].raise);
			printf("}%s\n", i + 1 < n ? "," : "");
		}
		printf("]}\n");
	} else {
		printf("%-18s %20s %20s %6s  %-10s  %s\n", "LIMIT", "VALUE", "USED",
		       "USE%", "UNIT", "RAISE WITH");
		for (ssize_t i = 0; i < n; i++) {
			char v[32] = "?", u[32] = "-", pc[16] = "-";
			if (l[i].value >= 0)
				snprintf(v, sizeof v, "%lld", (long long)l[i].value);
			if (l[i].used >= 0)
				snprintf(u, sizeof u, "%lld", (long long)l[i].used);
			if (l[i].value > 0 && l[i].used >= 0)
				snprintf(pc, sizeof pc, "%.1f",
				         100.0 * (double)l[i].used / (double)l[i].value);
			printf("%-18s %20s %20s %6s  %-10s  %s\n", l[i].name, v, u, pc,
			       l[i].unit, l[i].raise);
		}
	}
	free(l);
	return 0;
}

static int ls_run(int argc, char **argv)
{
	static const struct option longs[] = {
		{"orphans", no_argument, NULL, 'o'},
		{"kind", required_argument, NULL, 'k'},
		{"user", required_argument, NULL, 'u'},
		{"json", no_argument, NULL, 'j'},
		{"limits", no_argument, NULL, 'l'},
		{"ns", required_argument, NULL, 'n'},
		{"path", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct obj_select sel = {0};
	bool orphans = false, json = false, limits = false;
	int ch, rc;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":ok:u:jln:p:h", longs, NULL)) != -1) {
		switch (ch) {
		case 'o': orphans = true; break;
		case 'j': json = true; break;
		case 'l': limits = true; break;
		case 'h': return cli_help(&cli_cmd_ls);
		case 'k': case 'u': case 'n': case 'p':
			if ((rc = obj_select_opt(&sel, "ls", ch, optarg)) != 0)
				return rc;
			break;
		default: return cli_bad_option("ls", argv, ch);
		}
	}
	if (optind < argc)
		return cli_usage("ls", "unexpected argument '%s'", argv[optind]);
	if (limits) {
		if (sel.ns_pid && ipk_objects_setns(sel.ns_pid) < 0)
			return cli_fail("ls", NULL, "%s", ipk_last_error());
		return list_limits(json);
	}
	ipk_objscan *s;
	if ((rc = obj_select_open(&sel, "ls", &s)) != 0)
		return rc;
	struct row *rows = NULL;
	size_t n = 0, cap = 0;
	const ipk_object *o;
	if (json)
		printf("{\"objects\": [\n");
	while ((o = ipk_objects_next(s)) != NULL) {
		if (!obj_select_match(&sel, o) ||
		    (orphans && o->state != IPK_OBJ_ORPHAN))
			continue;
		if (json) {
			if (n++)
				printf(",\n");
			json_object(o);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			struct row *r = realloc(rows, cap * sizeof *r);
			if (r == NULL) {
				for (size_t i = 0; i < n; i++)
					row_free(&rows[i]);
				free(rows);
				ipk_objects_close(s);
				return cli_fail("ls", NULL, "out of memory");
			}
			rows = r;
		}
		if (fill(&rows[n], o) < 0) {
			for (size_t i = 0; i < n; i++)
				row_free(&rows[i]);
			free(rows);
			ipk_objects_close(s);
			return cli_fail("ls", NULL, "out of memory");
		}
		n++;
	}
	if (json) {
		printf("%s  ], \"notes\": [", n ? "\n" : "");
		for (size_t i = 0; ipk_objects_note(s, i); i++) {
			printf("%s\n    ", i ? "," : "");
			obj_json_str(stdout, ipk_objects_note(s, i));
		}
		printf("]}\n");
	} else {
		if (n)
			print_table(rows, n);
		else
			printf("no %sIPC objects%s%s\n", orphans ? "orphaned " : "",
			       sel.kind ? " of kind " : "", sel.kind ? sel.kind : "");
		for (size_t i = 0; ipk_objects_note(s, i); i++) {
			fputs("note: ", stdout);
			obj_text_put(stdout, ipk_objects_note(s, i));
			putchar('\n');
		}
	}
	for (size_t i = 0; i < n && !json; i++)
		row_free(&rows[i]);
	free(rows);
	ipk_objects_close(s);
	return 0;
}

const struct ipk_cmd cli_cmd_ls = {
	.name = "ls",
	.args = "[--kind K] [--user U] [--orphans] [--json] [--path P] [--ns PID] "
	        "| --limits",
	.summary = "list every IPC object, who owns it and whether it is used",
	.run = ls_run,
	.help =
	"Lists the machine's IPC objects: System V queues, segments and\n"
	"semaphore sets; POSIX shared memory (ipckit rings, plain regions,\n"
	"ipckit's named locks), named semaphores and message queues (read\n"
	"through a private mount when /dev/mqueue is not mounted); FIFOs and\n"
	"unix sockets (bound ones from the kernel's table; FIFOs and socket\n"
	"files in /tmp, /var/tmp, /dev/shm and the --path places); mmap: rings\n"
	"in the --path places; ipckit's owner records in /dev/shm whose object\n"
	"was removed by other means (kind record). Each by the address ipckit\n"
	"accepts (rm, recv),\n"
	"with owner, mode, size, use, creator and last process, and a state:\n"
	"  live          a live process provably uses it\n"
	"  orphan        provably no live user: left behind ('(kept)': made\n"
	"                with ?persist, gc leaves it)\n"
	"  unknown       cannot be proven either way (WHY says what is missing)\n"
	"  permission-0  mode 0000 and unused: only root could use it\n"
	"A process is alive when its pid has the start time recorded for it;\n"
	"a pid now held by a later process counts as gone.\n"
	"\n"
	"options:\n"
	"  --kind K      only sysvmq sysvshm sysvsem shm sem mq mutex cond rwlock\n"
	"                fifo unix unixgram mmap or record\n"
	"  --user U      only objects owned by user U (name or uid)\n"
	"  --orphans     only orphans (what gc would consider)\n"
	"  --json        one JSON document (schema in docs/cli.md)\n"
	"  --path P      also search file or directory P for mmap: rings, FIFOs\n"
	"                and sockets (repeatable)\n"
	"  --ns PID      look from inside the IPC, mount and network namespaces\n"
	"                of process PID (a container)\n"
	"  --limits      the kernel limits that bound IPC, with use and the\n"
	"                setting that raises each\n"
	"\n"
	"A user who may not see everything gets what is visible and a note.\n"
	"exit status: 0; 1 if the objects cannot be read; 2 usage error.\n",
};
