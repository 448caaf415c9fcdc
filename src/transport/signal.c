/*
 * signal: — a signal that carries up to 8 bytes.
 *
 * The listener ("signal:self") blocks the signal and reads it through a
 * signalfd, which is its pollable descriptor. A dialer ("signal:PID") sends
 * with pidfd_send_signal (falling back to rt_sigqueueinfo), so a pid reused
 * by another process after the receiver exited is never signalled.
 *
 * Wire format: a SI_QUEUE siginfo, the payload in the 8 bytes of its union
 * sigval and, so the length survives, si_errno = 'IPK' << 8 | length. A
 * plain sigqueue() has si_errno 0 and is received as the 8 bytes of its
 * sigval; a kill(2) as an empty message. A plain SA_SIGINFO handler sees an
 * ipckit message as an ordinary sigqueue value.
 *
 * Before each send the dialer reads the receiver's /proc/PID/status: a
 * process that has exited, or that neither blocks nor handles the signal
 * (its receiver closed: the signal would kill it), gives -EPIPE; and for a
 * standard signal still pending there the send waits, because standard
 * signals do not queue and a second one would be lost.
 */
#define _GNU_SOURCE
#include "queue_util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_PAYLOAD 8
#define MARK 0x49504b00 /* "IPK" in si_errno, length in the low byte */

struct held {
	bool valid;
	size_t len;
	unsigned char data[MAX_PAYLOAD];
	pid_t pid;
	uid_t uid;
	int signo;
};

struct sig_chan {
	int signo;
	/* listener */
	int sfd;
	bool was_blocked;
	pid_t tid;
	struct held held;
	/* dialer */
	pid_t pid;
	int pidfd;
	int statfd;
};

/* Signals with a listener in this process: two signalfds would compete. */
static pthread_mutex_t used_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t used;

/* ------------------------------------------------------------ signal names */

static const struct {
	const char *name;
	int signo;
} names[] = {
	{"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},
	{"USR1", SIGUSR1},     {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},
	{"ALRM", SIGALRM},     {"TERM", SIGTERM},     {"CHLD", SIGCHLD},
	{"CONT", SIGCONT},     {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU},     {"URG", SIGURG},       {"XCPU", SIGXCPU},
	{"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
	{"WINCH", SIGWINCH},   {"IO", SIGIO},         {"POLL", SIGPOLL},
	{"PWR", SIGPWR},
};

/* Known, but refused by usable() with the reason. */
static const struct {
	const char *name;
	int signo;
} refused[] = {
	{"KILL", SIGKILL}, {"STOP", SIGSTOP}, {"SEGV", SIGSEGV}, {"BUS", SIGBUS},
	{"FPE", SIGFPE},   {"ILL", SIGILL},   {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
	{"IOT", SIGABRT},  {"SYS", SIGSYS},
};

/* What the default disposition does to a process that does not listen. */
static const char *default_action(int signo)
{
	switch (signo) {
	case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
		return "be discarded by";
	case SIGTSTP: case SIGTTIN: case SIGTTOU:
		return "stop";
	default:
		return "terminate";
	}
}

static void signal_name(int signo, char *buf, size_t cap)
{
	for (size_t i = 0; i < IPK__ARRAY_LEN(names); i++)
		if (names[i].signo == signo) {
			snprintf(buf, cap, "SIG%s", names[i].name);
			return;
		}
	if (signo == SIGRTMIN)
		snprintf(buf, cap, "SIGRTMIN");
	else if (signo > SIGRTMIN && signo <= SIGRTMAX)
		snprintf(buf, cap, "SIGRTMIN+%d", signo - SIGRTMIN);
	else
		snprintf(buf, cap, "SIG%d", signo);
}

static int bad_signal(ipk__url *u, const char *spec, const char *why)
{
	return ipk__err(-EINVAL, "address '%s': sig=%s %s", u->text, spec, why);
}

static int usable(ipk__url *u, const char *spec, int signo)
{
	if (signo < 1 || signo > SIGRTMAX || signo > 64)
		return bad_signal(u, spec, "is not a signal number");
	if (signo == SIGKILL || signo == SIGSTOP)
		return bad_signal(u, spec, "cannot be blocked, so it cannot carry data");
	if (signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE ||
	    signo == SIGILL || signo == SIGTRAP || signo == SIGABRT ||
	    signo == SIGSYS)
		return bad_signal(u, spec,
		                  "reports faults; blocking it is unsafe (use a "
		                  "real-time signal, RTMIN+N)");
	if (signo > 31 && signo < SIGRTMIN)
		return bad_signal(u, spec, "is reserved by the C library");
	return signo;
}

int ipk__signal_number(ipk__url *u, int *signo)
{
	const char *spec = NULL;
	int rc = ipk__opt_str(u, "sig", &spec);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		*signo = SIGRTMIN;
		return 0;
	}
	const char *s = spec;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	int n;
	if (isdigit((unsigned char)*s)) {
		char *end;
		long v = strtol(s, &end, 10);
		if (*end != '\0' || v > 64)
			return bad_signal(u, spec, "is not a signal number");
		n = (int)v;
	} else if (strncasecmp(s, "RTMIN", 5) == 0 ||
	           strncasecmp(s, "RTMAX", 5) == 0) {
		bool max = toupper((unsigned char)s[3]) == 'A';
		long off = 0;
		if (s[5] != '\0') {
			char *end;
			off = strtol(s + 5, &end, 10);
			if (*end != '\0' || (max ? off > 0 : off < 0) ||
			    (!max && s[5] != '+') || (max && s[5] != '-'))
				return bad_signal(u, spec,
				                  "is malformed (RTMIN+N or RTMAX-N)");
		}
		n = (int)((max ? SIGRTMAX : SIGRTMIN) + off);
		if (n < SIGRTMIN || n > SIGRTMAX)
			return ipk__err(-EINVAL,
			                "address '%s': sig=%s is outside the %d real-time "
			                "signals (RTMIN+0 .. RTMIN+%d)",
			                u->text, spec, SIGRTMAX - SIGRTMIN + 1,
			                SIGRTMAX - SIGRTMIN);
	} else {
		n = 0;
		for (size_t i = 0; i < IPK__ARRAY_LEN(names); i++)
			if (strcasecmp(s, names[i].name) == 0)
				n = names[i].signo;
		for (size_t i = 0; i < IPK__ARRAY_LEN(refused); i++)
			if (strcasecmp(s, refused[i].name) == 0)
				n = refused[i].signo;
		if (n == 0)
			return bad_signal(u, spec,
			                  "is not a signal name (RTMIN+N, RTMAX-N, USR1, "
			                  "USR2, HUP, ... or a number)");
	}
	rc = usable(u, spec, n);
	if (rc < 0)
		return rc;
	*signo = n;
	return 0;
}

/* ------------------------------------------------- the receiver's status */

struct proc_status {
	char state;
	uint64_t pending, blocked, ignored, caught;
	long sigq, sigq_max;
};

static uint64_t bit(int signo)
{
	return (uint64_t)1 << (signo - 1);
}

static int read_status(int fd, struct proc_status *ps)
{
	char buf[8192];
	ssize_t n;
	while ((n = pread(fd, buf, sizeof buf - 1, 0)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	memset(ps, 0, sizeof *ps);
	for (char *line = buf; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		unsigned long long v;
		if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", &ps->state);
		else if (!strncmp(line, "SigQ:", 5))
			sscanf(line + 5, " %ld/%ld", &ps->sigq, &ps->sigq_max);
		else if (sscanf(line, "SigPnd: %llx", &v) == 1 ||
		         sscanf(line, "ShdPnd: %llx", &v) == 1)
			ps->pending |= v;
		else if (sscanf(line, "SigBlk: %llx", &v) == 1)
			ps->blocked = v;
		else if (sscanf(line, "SigIgn: %llx", &v) == 1)
			ps->ignored = v;
		else if (sscanf(line, "SigCgt: %llx", &v) == 1)
			ps->caught = v;
		line = next;
	}
	return 0;
}

/* The soft RLIMIT_SIGPENDING of a process, from /proc/PID/limits. */
static long pending_limit(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
	FILE *f = fopen(path, "re");
	long v = -1;
	if (f == NULL)
		return v;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Max pending signals", 19)) {
			sscanf(line + 19, " %ld", &v);
			break;
		}
	fclose(f);
	return v;
}

/* ---------------------------------------------------------------- listen */

static void unregister(struct sig_chan *s)
{
	pthread_mutex_lock(&used_mu);
	used &= ~bit(s->signo);
	pthread_mutex_unlock(&used_mu);
}

/* A thread of this process that does not block signo, or 0. A signal sent
   to the process may go to such a thread instead of the signalfd. */
static pid_t unblocking_thread(int signo)
{
	DIR *d = opendir("/proc/self/task");
	if (d == NULL)
		return 0;
	pid_t found = 0, self = gettid();
	struct dirent *e;
	while (found == 0 && (e = readdir(d)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid <= 0 || tid == self)
			continue;
		char path[64];
		snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* it has just exited */
		struct proc_status ps;
		if (read_status(fd, &ps) == 0 && !(ps.blocked & bit(signo)))
			found = tid;
		close(fd);
	}
	closedir(d);
	return found;
}

static int sig_listen(ipk_chan *c)
{
	struct sig_chan *s = ipk__priv(c);
	s->sfd = s->pidfd = s->statfd = -1;
	int rc = ipk__signal_number(&c->url, &s->signo);
	if (rc < 0)
		return rc;
	const char *who = c->url.rest;
	char self[32];
	snprintf(self, sizeof self, "%d", (int)getpid());
	if (strcmp(who, "self") != 0 && strcmp(who, self) != 0)
		return ipk__err(-EINVAL,
		                "address '%s': a process receives only its own "
		                "signals: listen on signal:self",
		                c->url.text);
	char nm[32];
	signal_name(s->signo, nm, sizeof nm);
	pthread_mutex_lock(&used_mu);
	bool taken = used & bit(s->signo);
	if (!taken)
		used |= bit(s->signo);
	pthread_mutex_unlock(&used_mu);
	if (taken)
		return ipk__err(-EADDRINUSE, "%s already has a listener in this process",
		                nm);
	pid_t other = unblocking_thread(s->signo);
	if (other != 0) {
		unregister(s);
		return ipk__err(-EINVAL,
		                "thread %d of this process does not block %s, so the "
		                "signal could go there instead of to the listener: "
		                "call ipk_signal_block() before creating threads",
		                (int)other, nm);
	}
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, s->signo);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	s->was_blocked = sigismember(&old, s->signo);
	s->tid = gettid();
	s->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sfd < 0) {
		rc = ipk__errno(-errno, "signalfd for %s", nm);
		if (!s->was_blocked)
			pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		unregister(s);
		return rc;
	}
	c->role = IPK__OWNER;
	return 0;
}


static ssize_t hand_over(struct sig_chan *s, ipk__rx *rx)
{
	int err = 0;
	void *dst = ipk__rx_reserve(rx, s->held.len, &err);
	if (dst == NULL && s->held.len > 0) {
		if (err == -ENOBUFS)
			ipk__err(-ENOBUFS,
			         "message of %zu bytes does not fit the %zu-byte buffer "
			         "(the channel keeps it for the next receive)",
			         s->held.len, rx->cap);
		else
			s->held.valid = false; /* over the channel limit: dropped */
		return err;
	}
	if (s->held.len > 0)
		memcpy(dst, s->held.data, s->held.len);
	rx->info->pid = s->held.pid;
	rx->info->uid = s->held.uid;
	rx->info->type = s->held.signo;
	s->held.valid = false;
	return (ssize_t)s->held.len;
}

static void decode(const struct signalfd_siginfo *si, struct held *h)
{
	h->valid = true;
	h->pid = (pid_t)si->ssi_pid;
	h->uid = (uid_t)si->ssi_uid;
	h->signo = (int)si->ssi_signo;
	uint64_t value = si->ssi_ptr;
	int code = si->ssi_code;
	if (code != SI_QUEUE && code != SI_TIMER && code != SI_MESGQ &&
	    code != SI_ASYNCIO) {
		h->len = 0; /* kill(2), raise(3), the kernel: no value */
		return;
	}
	/* sigqueue(3) and, from timers, mq_notify and AIO, their sigev_value */
	unsigned e = (unsigned)si->ssi_errno;
	h->len = (e & ~0xffu) == MARK && (e & 0xff) <= MAX_PAYLOAD ? (e & 0xff)
	                                                          : MAX_PAYLOAD;
	memcpy(h->data, &value, MAX_PAYLOAD);
}

static ssize_t sig_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct sig_chan *s = ipk__priv(c);
	if (c->role != IPK__OWNER)
		return ipk__err(-EOPNOTSUPP,
		                "signal: a dialer sends; listen on signal:self to "
		                "receive");
	if (s->held.valid)
		return hand_over(s, rx);
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n = read(s->sfd, &si, sizeof si);
		if (n == (ssize_t)sizeof si) {
			decode(&si, &s->held);
			return hand_over(s, rx);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return ipk__errno(-errno, "reading the signalfd");
		int rc = ipk__wait_fd(s->sfd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
}

/* ------------------------------------------------------------------ dial */

static int dial_error(pid_t pid, const char *why)
{
	return ipk__err(-ESRCH, "no process %d%s", (int)pid, why);
}

/* 0 if the receiver can take the signal now; -EPIPE/-EAGAIN otherwise. */
static int receiver_state(struct sig_chan *s, struct proc_status *ps,
                          const char *nm)
{
	if (read_status(s->statfd, ps) < 0 || ps->state == 'Z' || ps->state == 'X')
		return ipk__err(-EPIPE, "process %d has exited", (int)s->pid);
	if (!((ps->blocked | ps->caught) & bit(s->signo)))
		return ipk__err(-EPIPE,
		                "process %d neither blocks nor handles %s: it is not "
		                "listening (the signal would %s it)",
		                (int)s->pid, nm,
		                ps->ignored & bit(s->signo) ? "be ignored by"
		                                            : default_action(s->signo));
	if (s->signo < SIGRTMIN && (ps->pending & bit(s->signo)))
		return ipk__err(-EAGAIN,
		                "%s is still pending at process %d: standard signals "
		                "do not queue, so the next one waits until it is taken",
		                nm, (int)s->pid);
	return 0;
}

static int sig_dial(ipk_chan *c, int64_t deadline)
{
	struct sig_chan *s = ipk__priv(c);
	s->sfd = s->pidfd = s->statfd = -1;
	int rc = ipk__signal_number(&c->url, &s->signo);
	if (rc < 0)
		return rc;
	const char *who = c->url.rest;
	if (strcmp(who, "self") == 0) {
		s->pid = getpid();
	} else {
		char *end;
		long v = strtol(who, &end, 10);
		if (*who == '\0' || *end != '\0' || v <= 0 || v > INT32_MAX)
			return ipk__err(-EINVAL,
			                "address '%s': expected signal:PID or signal:self",
			                c->url.text);
		s->pid = (pid_t)v;
	}
	s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (s->pidfd < 0 && errno == ESRCH)
		return dial_error(s->pid, "");
	if (s->pidfd < 0 && errno != ENOSYS)
		return ipk__errno(-errno, "pidfd_open(%d)", (int)s->pid);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
	s->statfd = open(path, O_RDONLY | O_CLOEXEC);
	int e = errno;
	/* signal 0 checks permission, and that the pidfd's process still has
	   the pid, so the status file opened above is that process's */
	int probe = s->pidfd >= 0
	                    ? (int)syscall(SYS_pidfd_send_signal, s->pidfd, 0, NULL, 0)
	                    : kill(s->pid, 0);
	if (probe < 0 || s->statfd < 0) {
		if (probe < 0)
			e = errno;
		if (e == ESRCH || e == ENOENT)
			rc = dial_error(s->pid, " (it has exited)");
		else if (e == EPERM)
			rc = ipk__err(-EPERM,
			              "not permitted to signal process %d (another "
			              "user's process)",
			              (int)s->pid);
		else
			rc = ipk__err(-e, "process %d: %s", (int)s->pid, strerror(e));
		goto fail;
	}
	char nm[32];
	signal_name(s->signo, nm, sizeof nm);
	unsigned round = 0;
	for (;;) {
		struct proc_status ps;
		rc = receiver_state(s, &ps, nm);
		if (rc == 0 || rc == -EAGAIN)
			break; /* listening (a pending standard signal is for send) */
		if (read_status(s->statfd, &ps) < 0 || ps.state == 'Z') {
			rc = dial_error(s->pid, " (it has exited)");
			goto fail;
		}
		if (ipk__expired(deadline) || ipk__backoff(&round, deadline) < 0) {
			rc = ipk__err(-ECONNREFUSED,
			              "process %d neither blocks nor handles %s: it is "
			              "not listening (sending would %s it)",
			              (int)s->pid, nm,
			              ps.ignored & bit(s->signo) ? "be ignored by"
			                                         : default_action(s->signo));
			goto fail;
		}
	}
	c->role = IPK__DIALER;
	return 0;
fail:
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->statfd >= 0)
		close(s->statfd);
	s->pidfd = s->statfd = -1;
	return rc;
}

static ssize_t sig_send(ipk_chan *c, const void *buf, size_t len,
                        const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct sig_chan *s = ipk__priv(c);
	if (c->role != IPK__DIALER)
		return ipk__err(-EOPNOTSUPP,
		                "signal: the listener receives; dial signal:PID to "
		                "send");
	if (len > MAX_PAYLOAD)
		return ipk__err(-EMSGSIZE,
		                "message of %zu bytes: a signal carries at most %d "
		                "bytes (its sigqueue value)",
		                len, MAX_PAYLOAD);
	char nm[32];
	signal_name(s->signo, nm, sizeof nm);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = s->signo;
	si.si_code = SI_QUEUE;
	si.si_errno = (int)(MARK | len);
	si.si_pid = getpid();
	si.si_uid = getuid();
	union sigval v;
	memset(&v, 0, sizeof v);
	if (len > 0)
		memcpy(&v, buf, len);
	si.si_value = v;
	unsigned round = 0;
	for (;;) {
		struct proc_status ps;
		int rc = receiver_state(s, &ps, nm);
		if (rc == -EAGAIN) {
			/* a standard signal still pending: wait until it is taken */
			if (ipk__poll_backoff(&round, deadline) < 0)
				return ipk__err(ipk__timeout_err(deadline),
				                "%s is still pending at process %d: standard "
				                "signals do not queue (use a real-time signal, "
				                "RTMIN+N)",
				                nm, (int)s->pid);
			continue;
		}
		if (rc < 0)
			return rc;
		long r = s->pidfd >= 0
		                 ? syscall(SYS_pidfd_send_signal, s->pidfd, s->signo, &si, 0)
		                 : syscall(SYS_rt_sigqueueinfo, s->pid, s->signo, &si);
		if (r == 0)
			return (ssize_t)len;
		int e = errno;
		if (e == EINTR)
			continue;
		if (e == ESRCH)
			return ipk__err(-EPIPE, "process %d has exited", (int)s->pid);
		if (e == EPERM)
			return ipk__err(-EPERM, "not permitted to signal process %d",
			                (int)s->pid);
		if (e != EAGAIN)
			return ipk__err(-e, "sending %s to process %d: %s", nm,
			                (int)s->pid, strerror(e));
		/* the receiver's user has RLIMIT_SIGPENDING signals queued: wait
		   for it to drain them rather than lose this one */
		if (ipk__poll_backoff(&round, deadline) < 0)
			return ipk__err(ipk__timeout_err(deadline),
			                "signal queue of process %d is full: its user has "
			                "%ld signals pending, RLIMIT_SIGPENDING=%ld "
			                "(ulimit -i)",
			                (int)s->pid, ps.sigq, pending_limit(s->pid));
	}
}

/* --------------------------------------------------------------- common */

static int sig_fd(const ipk_chan *c)
{
	const struct sig_chan *s = ipk__priv(c);
	if (c->role == IPK__OWNER)
		return s->sfd;
	if (s->pidfd >= 0)
		return s->pidfd; /* readable once the receiver has exited */
	return ipk__err(-EOPNOTSUPP, "signal: no pidfd in this kernel to poll");
}

static int sig_pending(const ipk_chan *c)
{
	const struct sig_chan *s = ipk__priv(c);
	return s->held.valid;
}

static int sig_close(ipk_chan *c)
{
	struct sig_chan *s = ipk__priv(c);
	if (c->role == IPK__OWNER) {
		/* what is still queued was meant for this listener: take it off,
		   so unblocking does not deliver it with its default action */
		struct signalfd_siginfo si;
		while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si)
			;
		close(s->sfd);
		if (!s->was_blocked && c->creator == getpid() && s->tid == gettid()) {
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, s->signo);
			pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		}
		unregister(s);
	} else {
		if (s->pidfd >= 0)
			close(s->pidfd);
		if (s->statfd >= 0)
			close(s->statfd);
	}
	return 0;
}

/* A listener's address is the one peers dial: signal:PID?sig=NAME. */
static ssize_t sig_address(const ipk_chan *c, char *buf, size_t cap)
{
	const struct sig_chan *s = ipk__priv(c);
	char nm[32], text[96];
	signal_name(s->signo, nm, sizeof nm);
	int n = snprintf(text, sizeof text, "signal:%d?sig=%s",
	                 c->role == IPK__OWNER ? (int)getpid() : (int)s->pid,
	                 nm + 3);
	if ((size_t)n + 1 > cap)
		return ipk__err(-ENOBUFS, "address needs %d bytes", n + 1);
	memcpy(buf, text, (size_t)n + 1);
	return n;
}

int ipk__signal_status(ipk_chan *c, ipk_queue_info *st)
{
	struct sig_chan *s = ipk__priv(c);
	struct proc_status ps;
	int rc;
	if (c->role == IPK__OWNER) {
		int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		rc = fd >= 0 ? read_status(fd, &ps) : -1;
		if (fd >= 0)
			close(fd);
	} else {
		rc = read_status(s->statfd, &ps);
	}
	if (rc < 0)
		return ipk__err(-EPIPE, "process %d has exited",
		                c->role == IPK__OWNER ? (int)getpid() : (int)s->pid);
	st->scheme = "signal";
	st->id = s->signo;
	st->messages = (size_t)ps.sigq;
	st->max_messages = (size_t)ps.sigq_max;
	st->max_msgsize = MAX_PAYLOAD;
	st->uid = st->cuid = getuid();
	st->gid = st->cgid = getgid();
	return 0;
}

int ipk_signal_block(const char *url)
{
	ipk__url u;
	int rc = ipk__url_parse(&u, url);
	if (rc < 0)
		return rc;
	int signo = 0;
	if (strcmp(u.scheme, "signal") != 0)
		rc = ipk__err(-EINVAL, "ipk_signal_block: '%s' is not a signal: "
		                       "address", url);
	else
		rc = ipk__signal_number(&u, &signo);
	ipk__url_free(&u);
	if (rc < 0)
		return rc;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, signo);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return signo;
}

static const char *const sig_options[] = {"sig", NULL};

const struct ipk_transport ipk__signal_transport = {
	.scheme = "signal",
	.summary = "signal carrying up to 8 bytes (sigqueue/pidfd, signalfd)",
	.no_proto = "a signal carries at most 8 bytes: no room for a request "
	            "header and a way back (use sysvmq:, mq: or unixgram:)",
	.options = sig_options,
	.priv_size = sizeof(struct sig_chan),
	.listen = sig_listen,
	.dial = sig_dial,
	.send = sig_send,
	.recv = sig_recv,
	.fd = sig_fd,
	.pending = sig_pending,
	.address = sig_address,
	.close = sig_close,
};
