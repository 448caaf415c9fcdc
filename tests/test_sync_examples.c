/*
 * The sync examples do what their comments say: the shared-memory server
 * and several clients exchange thousands of messages and none is torn; the
 * System V critical section counts exactly, also when a worker is killed
 * inside it. Nothing is left in /dev/shm or /proc/sysvipc/sem.
 */
#define _GNU_SOURCE
#include "util.h"
#include "tsan_harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char ex[1024];

static void setup(void)
{
	snprintf(ex, sizeof ex, "%s/examples", ipkt_env("IPK_BUILD"));
}

static int sysv_sets(void)
{
	FILE *f = fopen("/proc/sysvipc/sem", "r");
	cr_assert(f != NULL);
	int n = -1;
	char line[512];
	while (fgets(line, sizeof line, f))
		n++;
	fclose(f);
	return n;
}

static int shm_entries(const char *tag)
{
	DIR *d = opendir("/dev/shm");
	cr_assert(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, tag) != NULL;
	closedir(d);
	return n;
}

TestSuite(sync_examples, .init = setup, .timeout = 300);

Test(sync_examples, shm_server_and_clients)
{
	char name[128];
	snprintf(name, sizeof name, "%s", ipkt_name("ex") + 1);
	enum { CLIENTS = 3, EACH = 2000 };
	char cmd[8192], out[256], err[256];
	snprintf(out, sizeof out, "%s.out", ipkt_path("srv"));
	snprintf(err, sizeof err, "%s.err", ipkt_path("srv"));
	/* server in the background, clients at once (they wait for it) */
	snprintf(cmd, sizeof cmd,
	         "'%s/shm_sem_server' %s %d >'%s' 2>'%s' & srv=$!; "
	         "for i in 1 2 3; do '%s/shm_sem_client' %s -n %d & done; "
	         "st=0; for j in 1 2 3; do wait %%$j || st=1; done; "
	         "wait $srv || st=2; exit $st",
	         ex, name, CLIENTS * EACH, out, err, ex, name, EACH);
	int st = ipkt_sh("%s", cmd);
	char summary[256] = "";
	FILE *f = fopen(err, "r");
	cr_assert(f != NULL);
	(void)!fgets(summary, sizeof summary, f);
	fclose(f);
	cr_assert_eq(st, 0, "clients or server failed: %s", summary);
	char want[128];
	snprintf(want, sizeof want, "%d messages, 0 torn", CLIENTS * EACH);
	cr_assert(strstr(summary, want), "server said: %s", summary);

	/* and each was printed */
	f = fopen(out, "r");
	cr_assert(f != NULL);
	char line[8192];
	long lines = 0;
	while (fgets(line, sizeof line, f))
		lines++;
	fclose(f);
	cr_assert_eq(lines, CLIENTS * EACH);
	unlink(out);
	unlink(err);
	cr_assert_eq(shm_entries(name), 0, "the server left objects in /dev/shm");
}

Test(sync_examples, shm_hello_world)
{
	char name[128];
	snprintf(name, sizeof name, "%s", ipkt_name("hw") + 1);
	char out[256];
	snprintf(out, sizeof out, "%s.out", ipkt_path("hw"));
	int st = ipkt_sh("'%s/shm_sem_server' %s 2 >'%s' 2>/dev/null & s=$!; "
	                 "'%s/shm_sem_client' %s hello 'shared world' && wait $s",
	                 ex, name, out, ex, name);
	cr_assert_eq(st, 0);
	FILE *f = fopen(out, "r");
	char a[64] = "", b[64] = "";
	cr_assert(f != NULL);
	(void)!fgets(a, sizeof a, f);
	(void)!fgets(b, sizeof b, f);
	fclose(f);
	unlink(out);
	cr_assert(strcmp(a, "hello\n") == 0 && strcmp(b, "shared world\n") == 0,
	          "got '%s' '%s'", a, b);
	cr_assert_eq(shm_entries(name), 0);
}

/*
 * The example's set is IPC_PRIVATE: there is no key to look for, so the
 * test counts the sets it can see. In a private IPC namespace (unshare, as
 * root) that count is the example's alone, whatever other tests run beside
 * it; without one it falls back to counting the machine's sets before and
 * after (the RESOURCE_LOCK in tests/CMakeLists.txt keeps our own tests away).
 */
Test(sync_examples, sysv_critical_section)
{
	bool priv = ipkt_sh("unshare --ipc true 2>/dev/null") == 0;
	int before = priv ? 0 : sysv_sets();
	char out[256];
	snprintf(out, sizeof out, "%s.out", ipkt_path("crit"));
	int st = ipkt_sh(
		"%s sh -c '"
		"\"$0\" 4 5000 >/dev/null || exit 10; "
		"\"$0\" 3 3000 --kill >\"$1\" || exit 11; "
		"\"$0\" 0 2>/dev/null; [ $? -eq 2 ] || exit 12; "
		"echo $(($(wc -l </proc/sysvipc/sem) - 1)) >>\"$1\"' "
		"'%s/sysv_sem_critical' '%s'",
		priv ? "unshare --ipc" : "", ex, out);
	FILE *f = fopen(out, "r");
	cr_assert(f != NULL);
	char l1[256] = "", l2[256] = "", l3[64] = "";
	(void)!fgets(l1, sizeof l1, f);
	(void)!fgets(l2, sizeof l2, f);
	(void)!fgets(l3, sizeof l3, f);
	fclose(f);
	unlink(out);
	cr_assert_eq(st, 0, "example failed (step %d)", st);
	cr_assert(strstr(l1, "SEM_UNDO gave the semaphore back (value 1)"), "%s", l1);
	cr_assert(strstr(l2, "counter: 9000 (expected 9000)"), "%s", l2);
	cr_assert_eq(atoi(l3), before, "a semaphore set was left behind "
	             "(%d sets after, %d before)", atoi(l3), before);
}
