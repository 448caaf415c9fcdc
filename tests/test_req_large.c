/*
 * A request or a pushed message larger than the socket's buffer, on unix:
 * and tcp:, arrives whole: the part a stream could not take at once goes
 * out within the sender's time, not (never) at its next send.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG ((size_t)4 << 20)

static unsigned char *pattern(unsigned seed)
{
	unsigned char *b = malloc(BIG);
	cr_assert_not_null(b);
	for (size_t i = 0; i < BIG; i++)
		b[i] = (unsigned char)(i * 31 + seed + (i >> 12));
	return b;
}

/* The child serves one message on srv (already listening) and exits. */
static pid_t serve(ipk_chan *srv, bool reply)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		void *m = NULL;
		ssize_t n = ipk_recv_alloc(srv, &m, NULL, 20000);
		if (n != (ssize_t)BIG)
			_exit(2);
		if (reply && ipk_send(srv, m, (size_t)n, 20000) != n)
			_exit(3);
		free(m);
		/* let the reply out before the socket goes */
		_exit(ipk_close(srv) == 0 ? 0 : 4);
	}
	return pid;
}

static void finish(pid_t pid)
{
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server status %d", st);
}

/* A listener on url served by a child (serve), and *c dialed to it. */
static pid_t serve_and_dial(const char *url, bool reply, ipk_chan **srv,
                            ipk_chan **c)
{
	char addr[200];
	cr_assert_eq(ipk_listen(srv, url), 0, "%s", ipk_last_error());
	cr_assert_gt(ipk_address(*srv, addr, sizeof addr), 0);
	pid_t pid = serve(*srv, reply);
	cr_assert_eq(ipk_dial(c, addr, 10000), 0, "%s", ipk_last_error());
	return pid;
}

static void request(const char *url)
{
	ipk_chan *srv = NULL, *c = NULL;
	pid_t pid = serve_and_dial(url, true, &srv, &c);
	unsigned char *big = pattern(7);
	cr_assert_eq(ipk_send(c, big, BIG, 20000), (ssize_t)BIG, "%s",
	             ipk_last_error());
	void *r = NULL;
	ssize_t n = ipk_recv_alloc(c, &r, NULL, 20000);
	cr_assert_eq(n, (ssize_t)BIG, "reply: %zd %s", n, ipk_last_error());
	cr_expect_eq(memcmp(r, big, BIG), 0);
	free(r);
	free(big);
	ipk_close(c);
	finish(pid);
	ipk_close(srv);
}

Test(req_large, unix_request_larger_than_the_socket_buffer)
{
	char url[160];
	snprintf(url, sizeof url,
	         "unix:/tmp/ipk_reqlarge_%d.sock?proto=rep&maxmsg=8388608",
	         (int)getpid());
	request(url);
}

Test(req_large, tcp_request_larger_than_the_socket_buffer)
{
	request("tcp://127.0.0.1:0?proto=rep&maxmsg=8388608");
}

Test(req_large, unix_push_larger_than_the_socket_buffer)
{
	char url[160];
	snprintf(url, sizeof url,
	         "unix:/tmp/ipk_pushlarge_%d.sock?proto=pull&maxmsg=8388608",
	         (int)getpid());
	ipk_chan *pull = NULL, *push = NULL;
	pid_t pid = serve_and_dial(url, false, &pull, &push);
	unsigned char *big = pattern(3);
	cr_assert_eq(ipk_send(push, big, BIG, 20000), (ssize_t)BIG);
	/* no further send and no close yet: the puller has it all already */
	finish(pid);
	free(big);
	ipk_close(push);
	ipk_close(pull);
}
