/*
 * Baselines on the bare system calls for the message mechanisms: a System V
 * queue (one queue, a message type per direction, as is usual), two POSIX
 * queues, and real-time signals carrying their 8-byte value.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

static int sys_fail(struct bench_link *l, const char *what)
{
	int e = errno;
	return bench_fail(l, -e, "%s: %s", what, strerror(e));
}

/* ---------------------------------------------------------------- sysvmq */

static key_t key_of(const struct bench_job *j)
{
	return (key_t)strtoul(j->key[0], NULL, 16);
}

static int msg_prepare(struct bench_link *l)
{
	l->qid = msgget(key_of(l->job), IPC_CREAT | IPC_EXCL | 0600);
	if (l->qid < 0)
		return sys_fail(l, "msgget");
	return 0;
}

static int msg_echo(struct bench_link *l)
{
	l->tx_type = 2;
	l->rx_type = 1;
	return 0;
}

static int msg_runner(struct bench_link *l)
{
	l->tx_type = 1;
	l->rx_type = 2;
	return 0;
}

/* The driver's headroom holds the message type in front of the payload,
 * exactly the struct msgbuf layout, so nothing is copied. */
static ssize_t msg_send(struct bench_link *l, const void *buf, size_t len)
{
	long *mtype = (long *)((char *)(uintptr_t)buf - sizeof(long));
	*mtype = l->tx_type;
	while (msgsnd(l->qid, mtype, len, 0) < 0)
		if (errno != EINTR)
			return sys_fail(l, "msgsnd");
	return (ssize_t)len;
}

static ssize_t msg_recv(struct bench_link *l, void *buf, size_t cap)
{
	long *mtype = (long *)((char *)buf - sizeof(long));
	for (;;) {
		ssize_t n = msgrcv(l->qid, mtype, cap, l->rx_type, 0);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return sys_fail(l, "msgrcv");
	}
}

static void msg_close(struct bench_link *l)
{
	msgctl(l->qid, IPC_RMID, NULL);
}

static void msg_cleanup(const struct bench_job *j)
{
	int id = msgget(key_of(j), 0);
	if (id >= 0)
		msgctl(id, IPC_RMID, NULL);
}

const struct bench_driver bench_raw_sysvmq = {
	.prepare = msg_prepare,
	.echo_open = msg_echo,
	.runner_open = msg_runner,
	.send = msg_send,
	.recv = msg_recv,
	.close = msg_close,
	.cleanup = msg_cleanup,
	.headroom = sizeof(long),
};

/* -------------------------------------------------------------------- mq */

static void mq_name(const struct bench_job *j, int side, char *buf, size_t cap)
{
	snprintf(buf, cap, "/%s.raw", j->name[side]);
}

/* fd[0]: runner's inbox, fd[1]: echo's inbox */
static int mq_prepare(struct bench_link *l)
{
	struct mq_attr at = {.mq_maxmsg = l->job->maxmsg,
	                     .mq_msgsize = (long)l->job->size};
	for (int side = 0; side < 2; side++) {
		char name[96];
		mq_name(l->job, side, name, sizeof name);
		l->fd[side] = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
		                      0600, &at);
		if (l->fd[side] < 0)
			return sys_fail(l, "mq_open");
	}
	return 0;
}

static int mq_echo(struct bench_link *l)
{
	l->rfd = l->fd[1];
	l->wfd = l->fd[0];
	return 0;
}

static int mq_runner(struct bench_link *l)
{
	l->rfd = l->fd[0];
	l->wfd = l->fd[1];
	return 0;
}

static ssize_t mq_bsend(struct bench_link *l, const void *buf, size_t len)
{
	while (mq_send(l->wfd, buf, len, 0) < 0)
		if (errno != EINTR)
			return sys_fail(l, "mq_send");
	return (ssize_t)len;
}

static ssize_t mq_brecv(struct bench_link *l, void *buf, size_t cap)
{
	for (;;) {
		ssize_t n = mq_receive(l->rfd, buf, cap, NULL);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return sys_fail(l, "mq_receive");
	}
}

static void mq_cleanup(const struct bench_job *j)
{
	for (int side = 0; side < 2; side++) {
		char name[96];
		mq_name(j, side, name, sizeof name);
		mq_unlink(name);
	}
}

static void mq_bclose(struct bench_link *l)
{
	for (int side = 0; side < 2; side++)
		if (l->fd[side] >= 0)
			mq_close(l->fd[side]);
	mq_cleanup(l->job);
}

const struct bench_driver bench_raw_mq = {
	.prepare = mq_prepare,
	.echo_open = mq_echo,
	.runner_open = mq_runner,
	.send = mq_bsend,
	.recv = mq_brecv,
	.close = mq_bclose,
	.cleanup = mq_cleanup,
};

/* ---------------------------------------------------------------- signal */

static int sig_prepare(struct bench_link *l)
{
	sigset_t set;
	l->sig = SIGRTMIN + 1;
	sigemptyset(&set);
	sigaddset(&set, l->sig);
	/* blocked before fork: the echo inherits the mask, so no signal can
	   arrive before either side waits for it */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return sys_fail(l, "sigprocmask");
	return 0;
}

static int sig_echo(struct bench_link *l)
{
	l->peer = l->runner;
	return 0;
}

static int sig_runner(struct bench_link *l)
{
	l->peer = l->echo_pid;
	return 0;
}

static ssize_t sig_send(struct bench_link *l, const void *buf, size_t len)
{
	union sigval v;
	memset(&v, 0, sizeof v);
	memcpy(&v, buf, len < sizeof v ? len : sizeof v);
	while (sigqueue(l->peer, l->sig, v) < 0) {
		if (errno == EAGAIN) { /* the peer's queue is full */
			sched_yield();
			continue;
		}
		if (errno != EINTR)
			return sys_fail(l, "sigqueue");
	}
	return (ssize_t)len;
}

static ssize_t sig_recv(struct bench_link *l, void *buf, size_t cap)
{
	sigset_t set;
	siginfo_t si;
	sigemptyset(&set);
	sigaddset(&set, l->sig);
	while (sigwaitinfo(&set, &si) < 0)
		if (errno != EINTR)
			return sys_fail(l, "sigwaitinfo");
	size_t n = cap < sizeof si.si_value ? cap : sizeof si.si_value;
	memcpy(buf, &si.si_value, n);
	return (ssize_t)l->job->size;
}

const struct bench_driver bench_raw_signal = {
	.prepare = sig_prepare,
	.echo_open = sig_echo,
	.runner_open = sig_runner,
	.send = sig_send,
	.recv = sig_recv,
};
