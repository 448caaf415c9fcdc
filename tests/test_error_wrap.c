/*
 * A detailed message that wraps the previous one (a pattern socket that
 * could not reach its peer says why, quoting the transport's message) is
 * that message once, not a garbled copy of the buffer it is written into.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

Test(error_wrap, req_without_server_says_why_once)
{
	char url[128];
	snprintf(url, sizeof url, "unix:/tmp/ipk_errwrap_%d.sock?proto=req",
	         (int)getpid());
	char srv_url[160];
	snprintf(srv_url, sizeof srv_url, "%.*s?proto=rep",
	         (int)(strchr(url, '?') - url), url);
	ipk_chan *srv = NULL, *c = NULL;
	cr_assert_eq(ipk_listen(&srv, srv_url), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_dial(&c, url, 5000), 0, "%s", ipk_last_error());
	cr_assert_eq(ipk_close(srv), 0); /* the server goes (and its socket) */
	/* no server: the request waits for one (a REQ keeps it), and the
	   receive that runs out of time says why none took it */
	cr_assert_eq(ipk_send(c, "x", 1, 100), 1, "%s", ipk_last_error());
	char b[8];
	ssize_t n = ipk_recv(c, b, sizeof b, 100);
	cr_assert_eq(n, -ETIMEDOUT, "%zd %s", n, ipk_last_error());
	const char *msg = ipk_last_error();
	cr_expect_eq(strncmp(msg, url, strlen(url)), 0, "%s", msg);
	cr_expect_eq(count(msg, "no rep peer"), 1, "%s", msg);
	cr_expect_eq(count(msg, url), 2, "%s", msg); /* ours, the connect's */
	cr_expect(strstr(msg, "cannot connect to") != NULL, "%s", msg);
	cr_expect(strstr(msg, strerror(ENOENT)) != NULL, "%s", msg);
	cr_expect_eq(ipk_close(c), 0);
}
