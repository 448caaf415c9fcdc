/*
 * Coprocesses: ipk_spawn() runs a program with a channel to its stdin and
 * stdout, over two pipes or over a pseudo-terminal. Not a scheme in the
 * registry: the only way in is ipk_spawn().
 *
 * posix_spawnp() reports a program that cannot be run (ENOENT, EACCES) from
 * the call itself, and in the child resets SIGPIPE (which the library sets
 * to SIG_IGN, and an ignored signal survives exec) and the signal mask.
 * Every descriptor of ours is close-on-exec, so the child gets only 0, 1, 2.
 *
 * On a terminal the pty is put in raw mode (cfmakeraw): no echo, no line
 * editing, no signal characters, no CR/LF translation, so bytes pass
 * unchanged both ways and framed mode works too. The price: a raw terminal
 * has no end-of-file. Ctrl-D means EOF only in canonical mode, and a read
 * the child started in raw mode does not return on it even after a switch,
 * so ipk_shutdown() answers -EOPNOTSUPP on a terminal; closing the channel
 * hangs the terminal up (SIGHUP), as closing a terminal window does.
 */
#define _GNU_SOURCE
#include "../core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_LINGER_MS 5000

struct spawn_chan {
	ipk__stream s;
	pid_t pid;
	pid_t parent;   /* process that spawned it: only it waits and kills */
	int pidfd;      /* -1 where pidfd_open is unavailable */
	bool pty;
	bool reaped;
	int status;
	char slave[64]; /* pty: path of the terminal the child has */
};

static const struct ipk_transport spawn_transport;

/* Keep our descriptors off 0..2 so the dup2 file actions cannot clash. */
static int above_stdio(int fd)
{
	if (fd > 2)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	errno = e;
	return nfd;
}

static int make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	p[0] = above_stdio(p[0]);
	p[1] = above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		int e = errno;
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		return -e;
	}
	return 0;
}

/* Open a pty master, put the terminal in raw mode, give it a size. */
static int open_pty(struct spawn_chan *sp)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return ipk__errno(-errno, "posix_openpt");
	if ((m = above_stdio(m)) < 0)
		return ipk__errno(-errno, "fcntl");
	if (ipk__set_nonblock(m) < 0 || grantpt(m) < 0 || unlockpt(m) < 0 ||
	    ptsname_r(m, sp->slave, sizeof sp->slave) != 0) {
		int rc = ipk__errno(-errno, "preparing the pseudo-terminal");
		close(m);
		return rc;
	}
	/* the line discipline that matters is the slave's: set it there */
	int s = open(sp->slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;
	if (s < 0 || tcgetattr(s, &t) < 0) {
		int rc = ipk__errno(-errno, "open %s", sp->slave);
		if (s >= 0)
			close(s);
		close(m);
		return rc;
	}
	cfmakeraw(&t);
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	if (tcsetattr(s, TCSANOW, &t) < 0 || ioctl(m, TIOCSWINSZ, &ws) < 0) {
		int rc = ipk__errno(-errno, "setting up %s", sp->slave);
		close(s);
		close(m);
		return rc;
	}
	close(s);
	return m;
}

/* Start the child; a program that cannot be run fails here. */
static int run(struct spawn_chan *sp, const char *const argv[],
               const ipk_spawn_opts *o, int child_in, int child_out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, pipe_only;
	sigemptyset(&none);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	int err = posix_spawn_file_actions_init(&fa);
	if (err)
		return ipk__err(-err, "posix_spawn_file_actions_init: %s",
		                ipk_strerror(err));
	if ((err = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return ipk__err(-err, "posix_spawnattr_init: %s", ipk_strerror(err));
	}
	short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
	if (sp->pty) {
		/* a new session; opening the terminal makes it the controlling one */
		flags |= POSIX_SPAWN_SETSID;
		err = posix_spawn_file_actions_addopen(&fa, 0, sp->slave, O_RDWR, 0);
		if (!err)
			err = posix_spawn_file_actions_adddup2(&fa, 0, 1);
		if (!err && !o->keep_stderr)
			err = posix_spawn_file_actions_adddup2(&fa, 0, 2);
	} else {
		err = posix_spawn_file_actions_adddup2(&fa, child_in, 0);
		if (!err)
			err = posix_spawn_file_actions_adddup2(&fa, child_out, 1);
	}
	if (!err && o->cwd)
		err = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	if (!err)
		err = posix_spawnattr_setflags(&at, flags);
	if (!err)
		err = posix_spawnattr_setsigdefault(&at, &pipe_only);
	if (!err)
		err = posix_spawnattr_setsigmask(&at, &none);
	int rc = 0;
	if (err) {
		rc = ipk__err(-err, "preparing to spawn %s: %s", argv[0],
		              ipk_strerror(err));
	} else {
		char *const *env = o->envp ? (char *const *)o->envp : environ;
		err = posix_spawnp(&sp->pid, argv[0], &fa, &at, (char *const *)argv,
		                   env);
		if (err)
			rc = ipk__err(-err, "cannot run '%s'%s%s%s: %s", argv[0],
			              o->cwd ? " in '" : "", o->cwd ? o->cwd : "",
			              o->cwd ? "'" : "", ipk_strerror(err));
	}
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

int ipk_spawn(ipk_chan **out, const char *const argv[],
              const ipk_spawn_opts *opts)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_spawn: out is NULL");
	*out = NULL;
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
		return ipk__err(-EINVAL, "ipk_spawn: no program to run (argv[0])");
	static const ipk_spawn_opts defaults;
	const ipk_spawn_opts *o = opts ? opts : &defaults;

	ipk_chan *c = ipk__chan_new(&spawn_transport, NULL);
	if (c == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	size_t n = strlen(argv[0]);
	char *text = malloc(n + sizeof "spawn:");
	if (text == NULL) {
		ipk__chan_free(c);
		return ipk__err(-ENOMEM, "out of memory");
	}
	memcpy(text, "spawn:", 6);
	memcpy(text + 6, argv[0], n + 1);
	/* the address is only for display: a name that does not parse as one
	   ("a?=b") must not stop the program from running */
	int rc = ipk__url_parse(&c->url, text);
	if (rc < 0)
		rc = ipk__url_parse(&c->url, "spawn:");
	free(text);
	if (rc < 0) {
		ipk__chan_free(c);
		return rc;
	}
	c->role = IPK__SPAWNED;
	c->raw = !o->framed;
	c->linger_ms = o->linger_ms ? o->linger_ms : DEFAULT_LINGER_MS;
	c->creator = getpid();
	struct spawn_chan *sp = ipk__priv(c);
	sp->pty = o->pty != 0;
	sp->pidfd = -1;
	sp->parent = getpid();
	ipk__ignore_sigpipe();

	enum ipk__framing f = c->raw ? IPK__FRAME_RAW : IPK__FRAME_LEN64;
	if (sp->pty) {
		int m = open_pty(sp);
		if (m < 0) {
			ipk__chan_free(c);
			return m;
		}
		rc = run(sp, argv, o, -1, -1);
		if (rc < 0) {
			close(m);
			ipk__chan_free(c);
			return rc;
		}
		ipk__stream_init(&sp->s, m, m, f, IPK__FD_OTHER, c->maxmsg);
	} else {
		int in[2], outp[2];
		if ((rc = make_pipe(in)) < 0) {
			ipk__chan_free(c);
			return ipk__errno(rc, "pipe2");
		}
		if ((rc = make_pipe(outp)) < 0) {
			close(in[0]);
			close(in[1]);
			ipk__chan_free(c);
			return ipk__errno(rc, "pipe2");
		}
		rc = run(sp, argv, o, in[0], outp[1]);
		close(in[0]);
		close(outp[1]);
		/* the child has its own file descriptions: blocking stays theirs */
		if (rc == 0 && (ipk__set_nonblock(in[1]) < 0 ||
		                ipk__set_nonblock(outp[0]) < 0))
			rc = ipk__errno(-errno, "fcntl");
		if (rc < 0) {
			close(in[1]);
			close(outp[0]);
			if (sp->pid > 0) {
				kill(sp->pid, SIGKILL);
				waitpid(sp->pid, NULL, 0);
			}
			ipk__chan_free(c);
			return rc;
		}
		ipk__stream_init(&sp->s, outp[0], in[1], f, IPK__FD_PIPE, c->maxmsg);
	}
	/* without pidfd (old kernels) waits fall back to polling */
	sp->pidfd = (int)syscall(SYS_pidfd_open, sp->pid, 0);
	*out = c;
	return 0;
}

static struct spawn_chan *spawned(const ipk_chan *c)
{
	return c != NULL && c->tp == &spawn_transport ? ipk__priv(c) : NULL;
}

pid_t ipk_pid(const ipk_chan *c)
{
	struct spawn_chan *sp = spawned(c);
	if (sp == NULL)
		return ipk__err(-ESRCH, "not a spawned channel: it has no child");
	return sp->pid;
}

/* Reap the child if it has exited: 1 reaped, 0 still running, or error. */
static int try_reap(struct spawn_chan *sp)
{
	if (sp->reaped)
		return 1;
	for (;;) {
		int st;
		pid_t r = waitpid(sp->pid, &st, WNOHANG);
		if (r == sp->pid) {
			sp->reaped = true;
			sp->status = st;
			if (sp->pidfd >= 0)
				close(sp->pidfd);
			sp->pidfd = -1;
			return 1;
		}
		if (r == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == ECHILD)
			return ipk__err(-ECHILD,
			                "child %d was reaped elsewhere (SIGCHLD ignored, "
			                "or a waitpid(-1) in the program); its status is "
			                "lost",
			                (int)sp->pid);
		return ipk__errno(-errno, "waitpid %d", (int)sp->pid);
	}
}

static int wait_exit(struct spawn_chan *sp, int64_t deadline)
{
	unsigned round = 0;
	for (;;) {
		int rc = try_reap(sp);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		if (sp->pidfd >= 0)
			rc = ipk__wait_fd(sp->pidfd, POLLIN, deadline);
		else
			rc = ipk__backoff(&round, deadline);
		if (rc < 0)
			return ipk__err(rc, "child %d has not exited%s", (int)sp->pid,
			                deadline == IPK__NOW ? "" : " in time");
	}
}

int ipk_wait(ipk_chan *c, int *status, int timeout_ms)
{
	struct spawn_chan *sp = spawned(c);
	if (sp == NULL)
		return ipk__err(-ESRCH, "not a spawned channel: it has no child");
	if (sp->parent != getpid())
		return ipk__err(-ECHILD, "child %d belongs to process %d",
		                (int)sp->pid, (int)sp->parent);
	int rc = wait_exit(sp, ipk__deadline(timeout_ms));
	if (rc < 0)
		return rc;
	if (status)
		*status = sp->status;
	return 0;
}

static ssize_t spawn_send(ipk_chan *c, const void *buf, size_t len,
                          const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct spawn_chan *sp = ipk__priv(c);
	ssize_t n = ipk__stream_send(&sp->s, buf, len, deadline);
	if (n == -EIO && sp->pty) /* the terminal was hung up */
		return ipk__err(-EPIPE, "child closed its terminal");
	return n;
}

static ssize_t spawn_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct spawn_chan *sp = ipk__priv(c);
	ssize_t n = ipk__stream_recv(&sp->s, rx, deadline);
	if (n == -EIO && sp->pty) { /* every holder of the terminal has gone */
		sp->s.eof = true;
		return ipk__err(-EPIPE, "child closed its terminal");
	}
	return n;
}

static int spawn_fd(const ipk_chan *c)
{
	const struct spawn_chan *sp = ipk__priv(c);
	return sp->s.rfd;
}

static int spawn_pending(const ipk_chan *c)
{
	const struct spawn_chan *sp = ipk__priv(c);
	return ipk__stream_pending(&sp->s);
}

static int spawn_shutdown(ipk_chan *c)
{
	struct spawn_chan *sp = ipk__priv(c);
	if (sp->s.wfd < 0)
		return 0;
	if (sp->pty)
		return ipk__err(-EOPNOTSUPP,
		                "a raw terminal has no end-of-file to send: close the "
		                "channel (the child gets SIGHUP) or spawn on pipes");
	int rc = ipk__stream_flush(&sp->s, ipk__deadline(c->linger_ms));
	close(sp->s.wfd);
	sp->s.wfd = -1;
	return rc;
}

/*
 * Flush, close our ends (the child sees end of input), give the child until
 * linger to exit, then SIGKILL it and reap it: no zombie is ever left.
 * A child that had to be killed is not an error; a flush that failed is.
 */
static int spawn_close(ipk_chan *c)
{
	struct spawn_chan *sp = ipk__priv(c);
	int64_t deadline = ipk__deadline(c->linger_ms);
	int rc = 0;
	if (sp->s.wfd >= 0 && sp->s.blen > sp->s.boff)
		rc = ipk__stream_flush(&sp->s, deadline);
	if (rc == -EIO && sp->pty)
		rc = 0;
	int rc2 = ipk__stream_close(&sp->s, 0);
	if (rc == 0 && rc2 != 0 && !(rc2 == -EIO && sp->pty))
		rc = rc2;
	if (sp->parent == getpid() && !sp->reaped) {
		int w = wait_exit(sp, deadline);
		if (w == -ETIMEDOUT || w == -EAGAIN) {
			/* on a terminal the child leads its own session: end it all */
			if (sp->pty)
				kill(-sp->pid, SIGKILL);
			kill(sp->pid, SIGKILL);
			w = wait_exit(sp, IPK__NEVER);
		}
		if (w < 0 && rc == 0)
			rc = w;
	}
	if (sp->pidfd >= 0)
		close(sp->pidfd);
	sp->pidfd = -1;
	return rc;
}

static ssize_t spawn_address(const ipk_chan *c, char *buf, size_t cap)
{
	const struct spawn_chan *sp = ipk__priv(c);
	int n = snprintf(buf, cap, "%s?pid=%d", c->url.text, (int)sp->pid);
	if (n < 0 || (size_t)n >= cap)
		return ipk__err(-ENOBUFS, "address needs %d bytes", n + 1);
	return n;
}

static const struct ipk_transport spawn_transport = {
	.scheme = "spawn",
	.summary = "coprocess: the child's stdin and stdout (pipes or a pty)",
	.priv_size = sizeof(struct spawn_chan),
	.streams = true,
	.send = spawn_send,
	.recv = spawn_recv,
	.fd = spawn_fd,
	.pending = spawn_pending,
	.shutdown = spawn_shutdown,
	.address = spawn_address,
	.close = spawn_close,
};
