/*
 * The ring calls (ipk_ring_info and the zero-copy calls) on a REQ/REP or
 * PUSH/PULL socket over a ring: refused with -EOPNOTSUPP and a message,
 * never a read of transport state that a socket does not have.
 */
#define _GNU_SOURCE
#include "ring_tsan.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void refused(const char *proto)
{
	char url[128];
	snprintf(url, sizeof url, "shm:/ipk_ringsock_%d_%s?size=64K&proto=%s",
	         (int)getpid(), proto, proto);
	ipk_chan *c = NULL;
	cr_assert_eq(ipk_listen(&c, url), 0, "%s", ipk_last_error());
	ipk_ringinfo ri;
	memset(&ri, 0xa5, sizeof ri);
	cr_expect_eq(ipk_ring_info(c, &ri), -EOPNOTSUPP, "%s", proto);
	cr_expect(strstr(ipk_last_error(), "messaging-pattern socket") != NULL,
	          "%s", ipk_last_error());
	const void *in = NULL;
	cr_expect_eq(ipk_recv_peek(c, &in, 0), -EOPNOTSUPP);
	cr_expect_eq(ipk_recv_peekmsg(c, &in, NULL, 0), -EOPNOTSUPP);
	cr_expect_eq(ipk_recv_release(c), -EOPNOTSUPP);
	void *out = NULL;
	cr_expect_eq(ipk_send_borrow(c, &out, 8, 0), -EOPNOTSUPP);
	cr_expect_eq(ipk_send_commit(c, 8), -EOPNOTSUPP);
	cr_expect_eq(ipk_send_abort(c), -EOPNOTSUPP);
	cr_expect_eq(ipk_close(c), 0);
}

Test(ring_sock, rep_refuses_ring_calls) { refused("rep"); }
Test(ring_sock, pull_refuses_ring_calls) { refused("pull"); }
