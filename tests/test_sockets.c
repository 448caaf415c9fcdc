/* Stream-socket details: accepting from an event loop, addresses, peer credentials. */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* A client that connects and sends its SP header only after a pause: the
   listener polls, sees the connection and accepts without blocking. */
Test(sockets, nonblocking_accept_waits_for_a_slow_handshake)
{
	char url[256];
	const char *path = ipkt_path("slowhs");
	snprintf(url, sizeof url, "unix:%s", path);
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
			_exit(2);
		usleep(100 * 1000);
		static const unsigned char hdr[8] = {0, 'S', 'P', 0, 0, 0x10, 0, 0};
		static const unsigned char msg[] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'};
		if (write(fd, hdr, 8) != 8 || write(fd, msg, sizeof msg) != sizeof msg)
			_exit(3);
		unsigned char theirs[8];
		_exit(read(fd, theirs, 8) == 8 && theirs[1] == 'S' ? 0 : 4);
	}
	struct pollfd p = {.fd = ipk_fd(l), .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 10000), 1);
	ipk_chan *c = NULL;
	int rc = ipk_accept(l, &c, 0);
	cr_assert_eq(rc, 0, "non-blocking accept of a ready connection: %s",
	             ipk_last_error());
	char buf[8];
	ipk_msginfo info = {0};
	cr_assert_eq(ipk_recvmsg(c, buf, sizeof buf, &info, 5000), 2);
	cr_assert(memcmp(buf, "hi", 2) == 0);
	cr_expect_eq(info.pid, pid, "unix: reports the peer's pid (%d)", (int)info.pid);
	cr_expect_eq(info.uid, getuid());
	int st;
	waitpid(pid, &st, 0);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ipk_close(c);
	ipk_close(l);
	cr_expect_eq(access(path, F_OK), -1, "socket file left behind");
}

Test(sockets, address_keeps_options)
{
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, "tcp://127.0.0.1:0?raw"), 0, "%s", ipk_last_error());
	char addr[128];
	cr_assert_gt(ipk_address(l, addr, sizeof addr), 0);
	cr_expect(strncmp(addr, "tcp://127.0.0.1:", 16) == 0, "%s", addr);
	cr_expect(strstr(addr, "?raw") != NULL, "options lost: %s", addr);
	/* dialing the reported address speaks the listener's language */
	ipk_chan *d, *a;
	cr_assert_eq(ipk_dial(&d, addr, 5000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_accept(l, &a, 5000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_send(d, "abc", 3, 1000), 3);
	char buf[8];
	cr_expect_eq(ipk_recv(a, buf, sizeof buf, 5000), 3);
	ipk_close(a);
	ipk_close(d);
	ipk_close(l);
}
