/*
 * A shared-memory subscriber whose first receive is a zero-copy peek gets
 * only the messages of its topics, as a copying receive does.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void peek_filters(bool by_call)
{
	char url[128], sub_url[160];
	snprintf(url, sizeof url, "shm:/ipk_subpeek_%d_%d?size=64K&proto=pub",
	         (int)getpid(), by_call);
	ipk_chan *pub = NULL, *sub = NULL;
	cr_assert_eq(ipk_listen(&pub, url), 0, "%s", ipk_last_error());
	cr_assert_gt(ipk_address(pub, sub_url, sizeof sub_url), 0);
	if (!by_call)
		strcat(sub_url, "&topic=frame");
	cr_assert_eq(ipk_dial(&sub, sub_url, 5000), 0, "%s", ipk_last_error());
	if (by_call)
		cr_assert_eq(ipk_subscribe(sub, "frame", 5), 0);
	cr_assert_eq(ipk_send(pub, "other", 5, 1000), 5);
	cr_assert_eq(ipk_send(pub, "frame1", 6, 1000), 6);
	cr_assert_eq(ipk_send(pub, "news", 4, 1000), 4);
	const void *p = NULL;
	ipk_msginfo mi = {0};
	cr_assert_eq(ipk_recv_peekmsg(sub, &p, &mi, 1000), 6, "%s",
	             ipk_last_error());
	cr_expect_eq(memcmp(p, "frame1", 6), 0);
	cr_expect_eq(mi.missed, 0);
	cr_assert_eq(ipk_recv_release(sub), 0);
	cr_expect_eq(ipk_recv_peek(sub, &p, 0), -EAGAIN, "news is filtered");
	cr_expect_eq(ipk_close(sub), 0);
	cr_expect_eq(ipk_close(pub), 0);
}

Test(sub_peek, subscribe_call_filters_first_peek) { peek_filters(true); }
Test(sub_peek, topic_option_filters_first_peek) { peek_filters(false); }
