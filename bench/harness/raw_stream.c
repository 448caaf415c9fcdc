/*
 * Baselines on the bare system calls for the byte-stream and socket
 * mechanisms: blocking descriptors, no framing (both sides know the size),
 * the loop a careful programmer writes by hand.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int sys_fail(struct bench_link *l, const char *what)
{
	int e = errno;
	return bench_fail(l, -e, "%s: %s", what, strerror(e));
}

static ssize_t write_all(struct bench_link *l, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(l->wfd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sys_fail(l, "write");
		}
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)len;
}

/* Every message of a job has the job's size: read exactly that. */
static ssize_t read_msg(struct bench_link *l, void *buf, size_t cap)
{
	(void)cap;
	char *p = buf;
	size_t left = l->job->size;
	while (left > 0) {
		ssize_t n = read(l->rfd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sys_fail(l, "read");
		}
		if (n == 0)
			return bench_fail(l, -EPIPE, "read: the peer closed");
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)l->job->size;
}

static void close_all(struct bench_link *l)
{
	for (int i = 0; i < 4; i++)
		if (l->fd[i] >= 0 && l->fd[i] != l->rfd && l->fd[i] != l->wfd)
			close(l->fd[i]);
	if (l->rfd >= 0)
		close(l->rfd);
	if (l->wfd >= 0 && l->wfd != l->rfd)
		close(l->wfd);
	l->rfd = l->wfd = -1;
	for (int i = 0; i < 4; i++)
		l->fd[i] = -1;
}

/* ------------------------------------------------------------------ pipe */

static int pipe_prepare(struct bench_link *l)
{
	if (pipe2(l->fd, O_CLOEXEC) < 0 || pipe2(l->fd + 2, O_CLOEXEC) < 0)
		return sys_fail(l, "pipe2");
	return 0;
}

/* fd[0..1]: runner -> echo, fd[2..3]: echo -> runner */
static int pipe_echo(struct bench_link *l)
{
	l->rfd = l->fd[0];
	l->wfd = l->fd[3];
	close(l->fd[1]);
	close(l->fd[2]);
	l->fd[1] = l->fd[2] = -1;
	return 0;
}

static int pipe_runner(struct bench_link *l)
{
	l->rfd = l->fd[2];
	l->wfd = l->fd[1];
	close(l->fd[0]);
	close(l->fd[3]);
	l->fd[0] = l->fd[3] = -1;
	return 0;
}

const struct bench_driver bench_raw_pipe = {
	.prepare = pipe_prepare,
	.echo_open = pipe_echo,
	.runner_open = pipe_runner,
	.send = write_all,
	.recv = read_msg,
	.close = close_all,
};

/* ------------------------------------------------------------------ fifo */

static void fifo_path(const struct bench_job *j, int side, char *buf,
                      size_t cap)
{
	snprintf(buf, cap, "/tmp/%s.raw", j->name[side]);
}

static int fifo_prepare(struct bench_link *l)
{
	for (int side = 0; side < 2; side++) {
		char p[96];
		fifo_path(l->job, side, p, sizeof p);
		if (mkfifo(p, 0600) < 0)
			return sys_fail(l, "mkfifo");
	}
	return 0;
}

/* Open the read end; without nowait, wait for a writer as open(2) does,
 * so a first read cannot see end-of-file before the writer is there. */
static int open_reader(struct bench_link *l, int side, bool nowait)
{
	char p[96];
	fifo_path(l->job, side, p, sizeof p);
	l->rfd = open(p, O_RDONLY | O_CLOEXEC | (nowait ? O_NONBLOCK : 0));
	if (l->rfd < 0 || (nowait && fcntl(l->rfd, F_SETFL, 0) < 0))
		return sys_fail(l, "open FIFO for reading");
	return 0;
}

static int open_writer(struct bench_link *l, int side)
{
	char p[96];
	fifo_path(l->job, side, p, sizeof p);
	l->wfd = open(p, O_WRONLY | O_CLOEXEC);
	if (l->wfd < 0)
		return sys_fail(l, "open FIFO for writing");
	return 0;
}

/* The echo's reader is there before it says it is ready, so the runner's
 * writer opens at once; then the echo's writer and the runner's reader
 * meet in open(2). Neither side can read before the other's writer is
 * open, so no read sees end-of-file. */
static int fifo_echo(struct bench_link *l)
{
	return open_reader(l, 1, true);
}

static int fifo_echo_accept(struct bench_link *l)
{
	return open_writer(l, 0); /* waits for the runner's reader */
}

static int fifo_runner(struct bench_link *l)
{
	int rc = open_writer(l, 1);
	return rc < 0 ? rc : open_reader(l, 0, false);
}

static void fifo_cleanup(const struct bench_job *j)
{
	for (int side = 0; side < 2; side++) {
		char p[96];
		fifo_path(j, side, p, sizeof p);
		unlink(p);
	}
}

static void fifo_close(struct bench_link *l)
{
	close_all(l);
	fifo_cleanup(l->job);
}

const struct bench_driver bench_raw_fifo = {
	.prepare = fifo_prepare,
	.echo_open = fifo_echo,
	.echo_accept = fifo_echo_accept,
	.runner_open = fifo_runner,
	.send = write_all,
	.recv = read_msg,
	.close = fifo_close,
	.cleanup = fifo_cleanup,
};

/* ---------------------------------------------------- AF_UNIX and TCP */

static socklen_t abstract_addr(const struct bench_job *j,
                               struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	int n = snprintf(sun->sun_path + 1, sizeof sun->sun_path - 1, "%s.raw",
	                 j->name[0]);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                   (size_t)n);
}

static ssize_t sock_send(struct bench_link *l, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;
	while (left > 0) {
		ssize_t n = send(l->wfd, p, left, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sys_fail(l, "send");
		}
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)len;
}

static int unix_prepare(struct bench_link *l)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(l->job, &sun);
	l->fd[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd[0] < 0)
		return sys_fail(l, "socket");
	if (bind(l->fd[0], (struct sockaddr *)&sun, len) < 0 ||
	    listen(l->fd[0], 1) < 0)
		return sys_fail(l, "bind/listen");
	return 0;
}

static int tcp_nodelay(int fd)
{
	int one = 1;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int stream_accept(struct bench_link *l)
{
	int fd;
	do
		fd = accept4(l->fd[0], NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return sys_fail(l, "accept");
	if (l->job->s->row->drv == &bench_raw_tcp)
		tcp_nodelay(fd);
	l->rfd = l->wfd = fd;
	return 0;
}

static int connect_to(struct bench_link *l, int family,
                      const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sys_fail(l, "socket");
	if (connect(fd, sa, len) < 0) {
		int rc = sys_fail(l, "connect");
		close(fd);
		return rc;
	}
	if (family == AF_INET)
		tcp_nodelay(fd);
	l->rfd = l->wfd = fd;
	return 0;
}

static int unix_runner(struct bench_link *l)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(l->job, &sun);
	return connect_to(l, AF_UNIX, (struct sockaddr *)&sun, len);
}

const struct bench_driver bench_raw_unix = {
	.prepare = unix_prepare,
	.echo_accept = stream_accept,
	.runner_open = unix_runner,
	.send = sock_send,
	.recv = read_msg,
	.close = close_all,
};

static int tcp_prepare(struct bench_link *l)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	l->fd[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd[0] < 0)
		return sys_fail(l, "socket");
	socklen_t len = sizeof sin;
	if (bind(l->fd[0], (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    listen(l->fd[0], 1) < 0 ||
	    getsockname(l->fd[0], (struct sockaddr *)&sin, &len) < 0)
		return sys_fail(l, "bind/listen");
	snprintf(l->addr, sizeof l->addr, "%u", (unsigned)ntohs(sin.sin_port));
	return 0;
}

static int tcp_runner(struct bench_link *l)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	unsigned port = 0;
	sscanf(l->addr, "%u", &port);
	sin.sin_port = htons((uint16_t)port);
	return connect_to(l, AF_INET, (struct sockaddr *)&sin, sizeof sin);
}

const struct bench_driver bench_raw_tcp = {
	.prepare = tcp_prepare,
	.echo_accept = stream_accept,
	.runner_open = tcp_runner,
	.send = sock_send,
	.recv = read_msg,
	.close = close_all,
};

/* -------------------------------------------------------- AF_UNIX dgram */

/* The echo answers whoever sent last, as a datagram server does. */
static struct sockaddr_un gram_from;
static socklen_t gram_from_len;

static void gram_buffers(int fd, size_t size)
{
	int want = size > (1u << 29) ? 1 << 30 : (int)size * 2 + 65536;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
}

static int gram_prepare(struct bench_link *l)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(l->job, &sun);
	l->fd[0] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (l->fd[0] < 0)
		return sys_fail(l, "socket");
	if (bind(l->fd[0], (struct sockaddr *)&sun, len) < 0)
		return sys_fail(l, "bind");
	gram_buffers(l->fd[0], l->job->size);
	return 0;
}

static int gram_echo(struct bench_link *l)
{
	l->rfd = l->wfd = l->fd[0];
	l->fd[0] = -1;
	return 0;
}

static int gram_runner(struct bench_link *l)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(l->job, &sun);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sys_fail(l, "socket");
	sa_family_t fam = AF_UNIX; /* autobind: an address to be answered on */
	if (bind(fd, (struct sockaddr *)&fam, sizeof fam) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, len) < 0) {
		int rc = sys_fail(l, "bind/connect");
		close(fd);
		return rc;
	}
	gram_buffers(fd, l->job->size);
	l->rfd = l->wfd = fd;
	return 0;
}

static ssize_t gram_send(struct bench_link *l, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = l->echo ? sendto(l->wfd, buf, len, 0,
		                             (struct sockaddr *)&gram_from,
		                             gram_from_len)
		                    : send(l->wfd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return sys_fail(l, "send");
	}
}

static ssize_t gram_recv(struct bench_link *l, void *buf, size_t cap)
{
	for (;;) {
		gram_from_len = sizeof gram_from;
		ssize_t n = l->echo ? recvfrom(l->rfd, buf, cap, 0,
		                               (struct sockaddr *)&gram_from,
		                               &gram_from_len)
		                    : recv(l->rfd, buf, cap, 0);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return sys_fail(l, "recv");
	}
}

const struct bench_driver bench_raw_unixgram = {
	.prepare = gram_prepare,
	.echo_open = gram_echo,
	.runner_open = gram_runner,
	.send = gram_send,
	.recv = gram_recv,
	.close = close_all,
};
