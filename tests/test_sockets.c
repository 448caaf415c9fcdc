/* Stream-socket details: accepting from an event loop, addresses, peer credentials. */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* A client that connects and sends its SP header only after a pause: an
   event loop polls the listener, accepts without blocking, gets -EAGAIN
   while the header is missing, is woken when it arrives, and then gets the
   connection: nothing is dropped, nothing blocks. */
Test(sockets, nonblocking_accept_keeps_a_slow_handshake)
{
	char url[256];
	const char *path = ipkt_path("slowhs");
	snprintf(url, sizeof url, "unix:%s", path);
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	int go[2];
	cr_assert_eq(pipe(go), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(go[1]);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
			_exit(2);
		char b;
		if (read(go[0], &b, 1) != 0) /* until the parent saw -EAGAIN */
			_exit(5);
		static const unsigned char hdr[8] = {0, 'S', 'P', 0, 0, 0x10, 0, 0};
		static const unsigned char msg[] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'};
		if (write(fd, hdr, 8) != 8 || write(fd, msg, sizeof msg) != sizeof msg)
			_exit(3);
		unsigned char theirs[8];
		_exit(read(fd, theirs, 8) == 8 && theirs[1] == 'S' ? 0 : 4);
	}
	close(go[0]);
	struct pollfd p = {.fd = ipk_fd(l), .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 10000), 1, "the connection did not wake the listener");
	ipk_chan *c = NULL;
	cr_assert_eq(ipk_accept(l, &c, 0), -EAGAIN, "no header yet: %s",
	             ipk_last_error());
	cr_assert_null(c);
	close(go[1]);
	cr_assert_eq(poll(&p, 1, 10000), 1, "the header did not wake the listener");
	int rc = ipk_accept(l, &c, 0);
	cr_assert_eq(rc, 0, "accept after the header arrived: %s", ipk_last_error());
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

/* Clients that never speak, or speak something else, are the server's
   problem only for themselves: a blocking accept still returns the next
   well-behaved peer, and is not ended by the foreign one. */
Test(sockets, silent_and_foreign_clients_do_not_stop_accept)
{
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, "tcp://127.0.0.1:0"), 0, "%s", ipk_last_error());
	char addr[128];
	cr_assert_gt(ipk_address(l, addr, sizeof addr), 0);
	int port = atoi(strrchr(addr, ':') + 1);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int silent = socket(AF_INET, SOCK_STREAM, 0);
	int foreign = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(silent, (struct sockaddr *)&sin, sizeof sin), 0);
	cr_assert_eq(connect(foreign, (struct sockaddr *)&sin, sizeof sin), 0);
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	cr_assert_eq(write(foreign, http, sizeof http - 1), (ssize_t)sizeof http - 1);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ipk_chan *d;
		if (ipk_dial(&d, addr, 5000) < 0 || ipk_send(d, "ok", 2, 5000) != 2)
			_exit(1);
		char b[4];
		_exit(ipk_recv(d, b, sizeof b, 5000) == -EPIPE ? 0 : 2);
	}
	ipk_chan *c = NULL;
	cr_assert_eq(ipk_accept(l, &c, -1), 0, "%s", ipk_last_error());
	char buf[4];
	cr_expect_eq(ipk_recv(c, buf, sizeof buf, 5000), 2);
	ipk_close(c);
	int st;
	waitpid(pid, &st, 0);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the foreign client was dropped: it reads the end of the stream */
	char junk[64];
	ssize_t n;
	while ((n = read(foreign, junk, sizeof junk)) > 0)
		;
	/* closed with its request unread, so the kernel may reset instead */
	cr_expect(n == 0 || errno == ECONNRESET,
	          "the foreign client was not disconnected (%zd)", n);
	close(silent);
	close(foreign);
	ipk_close(l);
}

/* A dial with timeout 0 never blocks, even when the listener has not
   answered yet. */
Test(sockets, dial_timeout_zero_does_not_block)
{
	char url[256];
	snprintf(url, sizeof url, "unix:%s", ipkt_path("dial0"));
	ipk_chan *l, *d = NULL;
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = ipk_dial(&d, url, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	            (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_expect_eq(rc, -EAGAIN, "dial with timeout 0: %d (%s)", rc, ipk_last_error());
	cr_expect_lt(ms, 500.0, "dial with timeout 0 took %.0f ms", ms);
	ipk_close(d);
	ipk_close(l);
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
