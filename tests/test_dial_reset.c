/*
 * A connect that ends in ECONNRESET (a TCP listener that closed with the
 * connection still pending, as one killed and restarted does) is a
 * listener not there yet, like ECONNREFUSED: a dial keeps trying until its
 * deadline instead of failing at once.
 *
 * The reset is made certain: this program's connect (which the library,
 * linked in statically, calls) fails the first attempts with ECONNRESET.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <ipckit.h>
#include <string.h>
#include <sys/socket.h>

static int resets; /* connects still to fail */
static int tried;

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	if (real == NULL)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(
		        RTLD_NEXT, "connect");
	if (resets > 0 && sa->sa_family == AF_INET) {
		resets--;
		tried++;
		errno = ECONNRESET;
		return -1;
	}
	return real(fd, sa, len);
}

Test(dial_reset, tcp_dial_retries_a_reset_connect)
{
	ipk_chan *l, *d, *a;
	char url[300];
	cr_assert_eq(ipk_listen(&l, "tcp://127.0.0.1:0?raw"), 0, "%s",
	             ipk_last_error());
	cr_assert_geq(ipk_address(l, url, sizeof url - 8), 0);
	if (strstr(url, "?raw") == NULL)
		strcat(url, "?raw");
	resets = 3;
	int rc = ipk_dial(&d, url, 5000);
	cr_assert_eq(rc, 0, "dial after %d resets: %s", tried, ipk_last_error());
	cr_assert_eq(tried, 3);
	cr_assert_eq(ipk_accept(l, &a, 2000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_send(d, "after", 5, 1000), 5);
	char buf[16];
	cr_assert_eq(ipk_recv(a, buf, sizeof buf, 2000), 5);
	ipk_close(a);
	ipk_close(d);
	ipk_close(l);
}

Test(dial_reset, a_dial_with_no_time_left_still_says_why)
{
	ipk_chan *l, *d;
	char url[300];
	cr_assert_eq(ipk_listen(&l, "tcp://127.0.0.1:0?raw"), 0);
	cr_assert_geq(ipk_address(l, url, sizeof url - 8), 0);
	if (strstr(url, "?raw") == NULL)
		strcat(url, "?raw");
	resets = 1000000;
	int rc = ipk_dial(&d, url, 300);
	resets = 0;
	cr_assert_lt(rc, 0);
	cr_assert(strstr(ipk_last_error(), "reset") != NULL ||
	                  rc == -ETIMEDOUT,
	          "rc %d: %s", rc, ipk_last_error());
	ipk_close(l);
}
