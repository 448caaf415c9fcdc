/* ipckit lock: run a command while holding a file lock, like flock(1):
   flock(2) by default, fcntl record locks with --fcntl. */
#define _GNU_SOURCE
#include "cli_chan.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern const struct ipk_cmd cli_cmd_lock;

/* Signals passed on to the command rather than ending ipckit. */
static void forwarded(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
}

/*
 * Run argv, wait for it, return its status as a shell would (128+N when
 * killed by signal N; 127 when it cannot be found, 126 when it cannot run).
 */
static int run(const char *path, ipk_flock *f, bool pass_lock, char **argv)
{
	sigset_t fwd, mask, old;
	forwarded(&fwd);
	mask = fwd;
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &old);
	/* SIGCHLD ignored (inherited across exec) would have the kernel reap
	   the command without telling: waiting for it must see it exit */
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, NULL);
	int report[2]; /* the child tells why exec failed, if it did */
	if (pipe2(report, O_CLOEXEC) < 0)
		return cli_fail("lock", path, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(report[0]);
		close(report[1]);
		return cli_fail("lock", path, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* like flock(1): the command holds the lock too, so it never runs
		   unlocked even if ipckit is killed (unless --close) */
		if (pass_lock)
			fcntl(ipk_flock_fd(f), F_SETFD, 0);
		execvp(argv[0], argv);
		int e = errno;
		(void)!write(report[1], &e, sizeof e);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(report[1]);
	int e = 0;
	ssize_t n;
	while ((n = read(report[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(report[0]);
	if (n == (ssize_t)sizeof e)
		cli_fail("lock", path, "cannot run '%s': %s", argv[0], strerror(e));

	int status;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		siginfo_t si;
		int sig = sigwaitinfo(&mask, &si);
		/* forward what a process sent us; a terminal's ^C already reached
		   the command through its process group */
		if (sig > 0 && sig != SIGCHLD && si.si_code <= 0)
			kill(pid, sig);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* "START" or "START:LENGTH", bytes, both >= 0. */
static bool parse_range(const char *v, long long *off, long long *len)
{
	char *end;
	errno = 0;
	long long o = strtoll(v, &end, 0), n = 0;
	if (end == v || errno || o < 0)
		return false;
	if (*end == ':') {
		const char *l = end + 1;
		n = strtoll(l, &end, 0);
		if (end == l || errno || n < 0)
			return false;
	}
	if (*end != '\0')
		return false;
	*off = o;
	*len = n;
	return true;
}

static int lock_run(int argc, char **argv)
{
	const char *path = NULL;
	bool shared = false, pass_lock = true, fcntl_kind = false;
	long long off = 0, len = 0;
	int timeout = -1;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (path != NULL)
				break; /* the command starts here */
			path = a;
			continue;
		}
		if (!strcmp(a, "-s") || !strcmp(a, "--shared")) {
			shared = true;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--close")) {
			pass_lock = false;
		} else if (!strcmp(a, "-F") || !strcmp(a, "--fcntl")) {
			fcntl_kind = true;
		} else if (!strcmp(a, "-r") || !strcmp(a, "--range") ||
		           !strncmp(a, "--range=", 8)) {
			const char *v = !strncmp(a, "--range=", 8) ? a + 8 : argv[++i];
			if (v == NULL)
				return cli_usage("lock", "option '%s' needs a value", a);
			if (!parse_range(v, &off, &len))
				return cli_usage("lock", "--range needs START or START:LENGTH "
				                 "in bytes (LENGTH 0: to the end of the "
				                 "file), not '%s'", v);
			fcntl_kind = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			return cli_help(&cli_cmd_lock);
		} else if (!strcmp(a, "-t") || !strcmp(a, "--timeout") ||
		           !strncmp(a, "--timeout=", 10)) {
			const char *v = !strncmp(a, "--timeout=", 10) ? a + 10
			                                               : argv[++i];
			if (v == NULL)
				return cli_usage("lock", "option '%s' needs a value", a);
			if (!cli_parse_timeout(v, &timeout))
				return cli_usage("lock", "--timeout needs milliseconds (-1 "
				                 "forever), not '%s'", v);
		} else {
			return cli_usage("lock", "unknown option '%s'", a);
		}
	}
	if (path == NULL)
		return cli_usage("lock", "missing PATH");
	if (i >= argc)
		return cli_usage("lock", "missing COMMAND (ipckit lock PATH -- "
		                 "COMMAND...)");

	ipk_flock *f;
	if (ipk_flock_open(&f, path, IPK_SYNC_CREATE) < 0)
		return cli_fail("lock", path, "%s", ipk_last_error());
	int flags = (shared ? IPK_FLOCK_SHARED : 0) |
	            (fcntl_kind ? 0 : IPK_FLOCK_WHOLE);
	int rc = ipk_flock_lock(f, flags, (off_t)off, (off_t)len, timeout);
	if (rc < 0) {
		if (rc == -ETIMEDOUT)
			cli_fail("lock", path, "timed out after %d ms: another process "
			         "holds the lock", timeout);
		else if (rc == -EAGAIN)
			cli_fail("lock", path, "another process holds the lock "
			         "(--timeout 0: not waiting)");
		else
			cli_fail("lock", path, "%s", ipk_last_error());
		ipk_flock_close(f);
		return 1;
	}
	int status = run(path, f, pass_lock, argv + i);
	ipk_flock_close(f);
	return status;
}

const struct ipk_cmd cli_cmd_lock = {
	.name = "lock",
	.args = "PATH [--shared] [--timeout MS] [--fcntl] -- COMMAND...",
	.summary = "run a command while holding a file lock (like flock(1))",
	.run = lock_run,
	.help =
	"Locks PATH (creating the file mode 0600 if it is missing), runs\n"
	"COMMAND, and releases the lock when COMMAND has exited. The kernel\n"
	"releases the lock if the holders die, so a killed run never leaves it\n"
	"stuck.\n"
	"\n"
	"Linux has two kinds of file lock, and neither excludes the other:\n"
	"  default   a flock(2) lock on the whole file, the kind flock(1) takes:\n"
	"            excludes 'flock PATH ...' and other programs that call\n"
	"            flock(2); does not exclude fcntl/lockf users\n"
	"  --fcntl   an open-file-description record lock (fcntl F_OFD_SETLK):\n"
	"            excludes programs that lock with fcntl(2) F_SETLK/F_OFD_SETLK\n"
	"            or lockf(3) (SQLite, many daemons, ipk_flock_lock); does\n"
	"            not exclude flock(1)\n"
	"Pick the kind the programs to keep out use.\n"
	"\n"
	"options:\n"
	"  -s, --shared        a shared (read) lock: shared holders run together,\n"
	"                      an exclusive one runs alone (default exclusive)\n"
	"  -t, --timeout MS    give up after MS milliseconds (0: do not wait;\n"
	"                      default: wait forever)\n"
	"  -F, --fcntl         an fcntl record lock instead of flock(2) (above)\n"
	"  -r, --range START[:LENGTH]\n"
	"                      lock only these bytes (LENGTH 0 or absent: to the\n"
	"                      end of the file); implies --fcntl\n"
	"  -c, --close         do not pass the lock to COMMAND: it is held by\n"
	"                      ipckit alone (by default COMMAND holds it too, so\n"
	"                      it never runs unlocked even if ipckit is killed;\n"
	"                      background processes it leaves keep it)\n"
	"\n"
	"SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to ipckit are\n"
	"passed on to COMMAND.\n"
	"\n"
	"exit status: COMMAND's (128+N if signal N killed it; 127 not found,\n"
	"126 not runnable), 1 if the lock could not be taken (timeout: one line\n"
	"on stderr), 2 usage error.\n"
	"\n"
	"examples:\n"
	"  ipckit lock /var/lock/backup -- rsync -a /src /dst\n"
	"  ipckit lock /tmp/db.lock --shared --timeout 5000 -- ./report\n"
	"  ipckit lock --fcntl --range 0:1 app.db -- ./migrate\n",
};
