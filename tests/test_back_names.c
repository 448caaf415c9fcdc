/*
 * REQ/REP on a named mailbox whose name holds a '?' (written %3F in the
 * address): each client's reply mailbox is NAME.r<pid>.<nonce> beside the
 * server's, never NAME cut short at the '?' (which would be one mailbox
 * for every client, or someone else's object), and nothing is left.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(back_names, .fini = ipkt_check_dev_shm, .timeout = 60);

/* Entries of dir whose names begin with prefix. */
static int count(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* name: the server's name, without its "?b" tail; dir, base: where its
   mailboxes lie and its last component. */
static void roundtrip(const char *scheme, const char *name, const char *dir,
                      const char *base)
{
	char url[400], beside[300], cut[300];
	snprintf(url, sizeof url, "%s:%s%%3Fb?proto=rep", scheme, name);
	ipk_chan *rep = ipkt_listen_ok(url);
	snprintf(url, sizeof url, "%s:%s%%3Fb?proto=req", scheme, name);
	ipk_chan *req = ipkt_dial_ok(url);

	snprintf(beside, sizeof beside, "%s?b.r%d.", base, (int)getpid());
	cr_expect_eq(count(dir, beside), 1,
	             "the client's mailbox %s/%s* is not there", dir, beside);
	snprintf(cut, sizeof cut, "%s/%s", dir, base);
	cr_expect_neq(access(cut, F_OK), 0,
	              "%s (the name cut short at '?') was made", cut);

	char buf[16];
	cr_assert_eq(ipk_send(req, "ask", 3, 5000), 3, "%s", ipk_last_error());
	cr_assert_eq(ipk_recv(rep, buf, sizeof buf, 5000), 3, "%s",
	             ipk_last_error());
	cr_assert_eq(ipk_send(rep, "yes", 3, 5000), 3, "%s", ipk_last_error());
	cr_assert_eq(ipk_recv(req, buf, sizeof buf, 5000), 3, "%s",
	             ipk_last_error());
	cr_assert_eq(memcmp(buf, "yes", 3), 0);
	ipk_close(req);
	ipk_close(rep);
	cr_expect_eq(count(dir, base), 0, "%s/%s* left behind", dir, base);
}

Test(back_names, fifo)
{
	const char *path = ipkt_path("qm");
	roundtrip("fifo", path, "/tmp", strrchr(path, '/') + 1);
}

Test(back_names, shm)
{
	const char *name = ipkt_name("qm");
	roundtrip("shm", name, "/dev/shm", name + 1);
}
