/*
 * A plain program writing into a pattern's FIFO mailbox (PULL, REP): the
 * transport drops the bytes, the receiver says so on stderr and goes on
 * to the next real message; with no time to wait it answers -EAGAIN, not
 * the transport's -EPROTO.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(mbox_junk, .timeout = 60);

/* What `echo` would write into the FIFO at path. */
static void write_text(const char *path)
{
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	static const char text[] = "not a message, just text\n";
	cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)sizeof text - 1);
	close(fd);
}

Test(mbox_junk, pull_goes_on)
{
	const char *path = ipkt_path("pull");
	char url[300];
	snprintf(url, sizeof url, "fifo:%s?proto=pull", path);
	ipk_chan *pull = ipkt_listen_ok(url);
	snprintf(url, sizeof url, "fifo:%s?proto=push", path);
	ipk_chan *push = ipkt_dial_ok(url);

	write_text(path);
	char buf[64];
	cr_assert_eq(ipk_recv(pull, buf, sizeof buf, 0), -EAGAIN, "%s",
	             ipk_last_error());
	cr_assert(strstr(ipk_last_error(), "no message"), "%s", ipk_last_error());

	write_text(path);
	cr_assert_eq(ipk_send(push, "real", 4, 5000), 4, "%s", ipk_last_error());
	ssize_t n = ipk_recv(pull, buf, sizeof buf, 5000);
	cr_assert_eq(n, 4, "%s", ipk_last_error());
	cr_assert_eq(memcmp(buf, "real", 4), 0);
	ipk_close(push);
	ipk_close(pull);
}

Test(mbox_junk, rep_goes_on)
{
	const char *path = ipkt_path("rep");
	char url[300];
	snprintf(url, sizeof url, "fifo:%s?proto=rep", path);
	ipk_chan *rep = ipkt_listen_ok(url);
	snprintf(url, sizeof url, "fifo:%s?proto=req", path);
	ipk_chan *req = ipkt_dial_ok(url);

	write_text(path);
	char buf[64];
	cr_assert_eq(ipk_recv(rep, buf, sizeof buf, 0), -EAGAIN, "%s",
	             ipk_last_error());
	cr_assert(strstr(ipk_last_error(), "no request"), "%s", ipk_last_error());

	write_text(path);
	cr_assert_eq(ipk_send(req, "ask", 3, 5000), 3, "%s", ipk_last_error());
	ssize_t n = ipk_recv(rep, buf, sizeof buf, 5000);
	cr_assert_eq(n, 3, "%s", ipk_last_error());
	cr_assert_eq(memcmp(buf, "ask", 3), 0);
	cr_assert_eq(ipk_send(rep, "yes", 3, 5000), 3, "%s", ipk_last_error());
	n = ipk_recv(req, buf, sizeof buf, 5000);
	cr_assert_eq(n, 3, "%s", ipk_last_error());
	cr_assert_eq(memcmp(buf, "yes", 3), 0);
	ipk_close(req);
	ipk_close(rep);
}
