/*
 * PUSH/PULL: a pipeline (SP push0/pull0). Each pushed message goes to one
 * puller: round-robin among the connections that can take it now, so a
 * slow puller gets less. Pullers take from every pusher fairly. Messages
 * carry no header. On a mailbox the mailbox itself is the pipeline.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>

static ssize_t push_send(struct ipk__sock *s, const void *buf, size_t len,
                         const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	return ipk__sock_send_any(s, buf, len, NULL, deadline);
}

static ssize_t pull_recv(struct ipk__sock *s, ipk__rx *rx, int64_t deadline)
{
	/* no header: the carrier receives straight into the caller's buffer
	   (a message too large for it stays queued in its pipe) */
	struct ipk__pipe *from = NULL;
	return s->car->recv(s, rx, &from, deadline);
}

const struct ipk__proto ipk__proto_push = {
	.name = "push",
	.peer = "pull",
	.sp_self = 0x50,
	.sp_peer = 0x51,
	.caps = IPK__P_SEND,
	IPK__SOCK_ENTRY,
	.sock_send = push_send,
};

const struct ipk__proto ipk__proto_pull = {
	.name = "pull",
	.peer = "push",
	.sp_self = 0x51,
	.sp_peer = 0x50,
	.caps = IPK__P_RECV | IPK__P_SERVER,
	IPK__SOCK_ENTRY,
	.sock_recv = pull_recv,
};
