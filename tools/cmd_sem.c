/* ipckit sem: create, post, wait on, read and remove semaphores. */
#define _GNU_SOURCE
#include "cli_chan.h"
#include "cli_json.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_sem;

struct sem_args {
	const char *sub;
	const char *url;
	int value;
	bool has_mode;
	unsigned mode;
	int timeout;
	long index;
	bool has_index;
	bool json;
	char label[32]; /* "sem wait" */
};

/*
 * Every invocation is a process of its own, so System V SEM_UNDO would take
 * back at exit what the command just did: the CLI always works without it.
 */
static int open_sem(struct sem_args *a, ipk_sem **s, int flags)
{
	char url[4096];
	const char *u = a->url;
	if (a->has_mode) {
		snprintf(url, sizeof url, "%s%cmode=%04o", a->url,
		         strchr(a->url, '?') ? '&' : '?', a->mode);
		u = url;
	}
	int rc = ipk_sem_open(s, u, flags | IPK_SYNC_NOUNDO, a->value);
	if (rc < 0)
		return cli_fail(a->label, a->url, "%s", ipk_last_error());
	if (a->has_index && a->index >= ipk_semset_count(*s)) {
		cli_fail(a->label, a->url, "--index %ld: the set has %d semaphore%s",
		         a->index, ipk_semset_count(*s),
		         ipk_semset_count(*s) == 1 ? "" : "s");
		ipk_sem_close(*s);
		return 1;
	}
	return 0;
}

static int sem_create(struct sem_args *a)
{
	ipk_sem *s;
	if (open_sem(a, &s, IPK_SYNC_CREATE | IPK_SYNC_EXCL))
		return 1;
	/* a private set can only be found again by its id */
	if (strncmp(a->url, "sysvsem:private", 15) == 0)
		printf("sysvsem:@%d\n", ipk_semset_id(s));
	ipk_sem_close(s);
	return 0;
}

static int sem_op(struct sem_args *a, short delta)
{
	ipk_sem *s;
	if (open_sem(a, &s, 0))
		return 1;
	int rc;
	int timeout = delta > 0 ? 0 : a->timeout;
	if (a->index > 0) {
		ipk_semop op = {(unsigned short)a->index, delta, 0};
		rc = ipk_semset_op(s, &op, 1, timeout);
	} else {
		rc = delta > 0 ? ipk_sem_post(s) : ipk_sem_wait(s, timeout);
	}
	int status = 0;
	if (rc == -ETIMEDOUT)
		status = cli_fail(a->label, a->url, "timed out after %d ms",
		                  a->timeout);
	else if (rc == -EAGAIN && delta < 0)
		status = cli_fail(a->label, a->url, "the semaphore is 0 "
		                  "(--timeout 0: not waiting)");
	else if (rc < 0)
		status = cli_fail(a->label, a->url, "%s", ipk_last_error());
	ipk_sem_close(s);
	return status;
}

static int sem_get(struct sem_args *a)
{
	ipk_sem *s;
	if (open_sem(a, &s, 0))
		return 1;
	int v = ipk_semset_get(s, (unsigned)a->index);
	int status = 0;
	if (v < 0) {
		status = cli_fail(a->label, a->url, "%s", ipk_last_error());
	} else if (a->json) {
		/* docs/cli.md has the schema */
		int ndec = 0, nzero = 0;
		bool sysv = ipk_semset_waiters(s, (unsigned)a->index, &ndec,
		                               &nzero) == 0;
		printf("{\"url\": ");
		cli_json_cstr(stdout, a->url);
		printf(", \"index\": %ld, \"value\": %d, \"semaphores\": %d",
		       a->index, v, ipk_semset_count(s));
		if (sysv)
			printf(", \"waiting\": %d, \"waiting_for_zero\": %d}\n", ndec,
			       nzero);
		else
			printf(", \"waiting\": null, \"waiting_for_zero\": null}\n");
	} else {
		printf("%d\n", v);
	}
	ipk_sem_close(s);
	return status;
}

static int sem_run(int argc, char **argv)
{
	static const struct option longs[] = {
		{"value", required_argument, NULL, 'v'},
		{"mode", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 't'},
		{"index", required_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sem_args a = {.timeout = -1};
	if (argc < 2)
		return cli_usage("sem", "missing what to do (create, post, wait, "
		                 "get, rm)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help"))
		return cli_help(&cli_cmd_sem);
	a.sub = argv[1];
	static const char *const subs[] = {"create", "post", "wait", "get", "rm",
	                                   NULL};
	bool known = false;
	for (const char *const *s = subs; *s; s++)
		known |= strcmp(*s, a.sub) == 0;
	if (!known)
		return cli_usage("sem", "unknown action '%s' (create, post, wait, "
		                 "get, rm)", a.sub);
	snprintf(a.label, sizeof a.label, "sem %s", a.sub);

	char *end;
	long v;
	opterr = 0;
	optind = 1;
	int ch;
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, ":v:m:t:i:jh", longs, NULL)) != -1) {
		switch (ch) {
		case 'v':
			if (strcmp(a.sub, "create") != 0)
				return cli_usage(a.label, "--value is for create");
			if (!cli_parse_int(optarg, 0, INT_MAX, &v))
				return cli_usage(a.label, "--value needs an integer 0..%d, "
				                 "not '%s' (a semaphore cannot be "
				                 "negative)", INT_MAX, optarg);
			a.value = (int)v;
			break;
		case 'm':
			if (strcmp(a.sub, "create") != 0)
				return cli_usage(a.label, "--mode is for create");
			errno = 0;
			v = strtol(optarg, &end, 8);
			if (*optarg == '\0' || *end || errno || v < 0 || v > 0777)
				return cli_usage(a.label, "--mode needs octal permissions "
				                 "like 0660, not '%s'", optarg);
			a.mode = (unsigned)v;
			a.has_mode = true;
			break;
		case 't':
			if (strcmp(a.sub, "wait") != 0)
				return cli_usage(a.label, "--timeout is for wait");
			if (!cli_parse_timeout(optarg, &a.timeout))
				return cli_usage(a.label, "--timeout needs milliseconds "
				                 "(-1 forever), not '%s'", optarg);
			break;
		case 'i':
			if (!cli_parse_int(optarg, 0, 65535, &a.index))
				return cli_usage(a.label, "--index needs a semaphore number "
				                 "0..65535, not '%s'", optarg);
			a.has_index = true;
			break;
		case 'j':
			if (strcmp(a.sub, "get") != 0)
				return cli_usage(a.label, "--json is for get");
			a.json = true;
			break;
		case 'h':
			return cli_help(&cli_cmd_sem);
		default:
			return cli_bad_option(a.label, argv, ch);
		}
	}
	if (optind >= argc)
		return cli_usage(a.label, "missing URL");
	if (strcmp(a.sub, "rm") == 0) {
		int status = 0;
		for (int i = optind; i < argc; i++)
			if (ipk_sync_remove(argv[i]) < 0)
				status = cli_fail(a.label, argv[i], "%s", ipk_last_error());
		return status;
	}
	if (optind + 1 < argc)
		return cli_usage(a.label, "one URL only (got '%s' too)",
		                 argv[optind + 1]);
	a.url = argv[optind];
	if (!strcmp(a.sub, "create"))
		return sem_create(&a);
	if (!strcmp(a.sub, "post"))
		return sem_op(&a, 1);
	if (!strcmp(a.sub, "wait"))
		return sem_op(&a, -1);
	return sem_get(&a);
}

const struct ipk_cmd cli_cmd_sem = {
	.name = "sem",
	.args = "create|post|wait|get|rm URL [OPTIONS]",
	.summary = "create, post, wait on, read and remove semaphores",
	.run = sem_run,
	.help =
	"Semaphores: POSIX named (sem:/name) and System V sets (sysvsem:/path,\n"
	"sysvsem:0xKEY, sysvsem:@ID, sysvsem:private). Address options as in\n"
	"docs/sync.md (?mode=0660, ?value=N, ?n=K for a set's size, ?proj=N).\n"
	"\n"
	"  create URL [--value N] [--mode 0660]\n"
	"        make a new semaphore (fails if it exists) with value N\n"
	"        (default 0), mode 0600 unless widened. For sysvsem:private the\n"
	"        new set's address (sysvsem:@ID) is printed.\n"
	"  post URL [--index I]        add one\n"
	"  wait URL [--timeout MS] [--index I]\n"
	"        take one, waiting while it is 0: forever (default), or MS\n"
	"        milliseconds (0: do not wait)\n"
	"  get URL [--index I] [--json]\n"
	"        print the value; with --json one object: url, index, value,\n"
	"        semaphores (in the set), waiting and waiting_for_zero\n"
	"        (System V: processes blocked to decrement / for zero; else\n"
	"        null)\n"
	"  rm URL...                   remove (also mutex:, cond:, rwlock:)\n"
	"\n"
	"--index picks a semaphore of a System V set (default 0). System V\n"
	"operations are done without SEM_UNDO: each command is a process of\n"
	"its own, and undo would revert its work when it exits.\n"
	"\n"
	"exit status: 0 done, 1 failure or timeout (one line on stderr),\n"
	"2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit sem create sem:/jobs --value 2 --mode 0660\n"
	"  ipckit sem wait sem:/jobs --timeout 5000 && run-job; ipckit sem post sem:/jobs\n"
	"  ipckit sem get sysvsem:/etc/hosts?proj=7 --index 1\n"
	"  ipckit sem rm sem:/jobs\n",
};
