/* Shared by the queue and signal transports: limits, waiting, status API. */
#define _GNU_SOURCE
#include "queue_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long ipk__read_long(const char *path, long dflt)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dflt;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return dflt;
	buf[n] = '\0';
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf)
		return dflt;
	return v;
}

int ipk__poll_backoff(unsigned *round, int64_t deadline)
{
	if (ipk__expired(deadline))
		return ipk__timeout_err(deadline);
	/* 20 us doubling to 1 ms: a message that arrives soon is seen at once;
	   then 2 ms after ~0.1 s and 5 ms after ~1 s of waiting, so a long wait
	   costs a few hundred cheap wake-ups a second (bench/queue_wait.c) */
	unsigned r = *round;
	int64_t ns = r < 6 ? 20000LL << r : r < 110 ? 1000000 : r < 560 ? 2000000
	                                                                 : 5000000;
	(*round)++;
	ipk__nap(ns, deadline);
	return 0;
}

int ipk_queue_status(ipk_chan *c, ipk_queue_info *st)
{
	if (c == NULL || st == NULL)
		return ipk__err(-EINVAL, "ipk_queue_status: NULL argument");
	memset(st, 0, sizeof *st);
	if (c->tp == &ipk__sysvmq_transport)
		return ipk__sysvmq_status(c, st);
	if (c->tp == &ipk__mq_transport)
		return ipk__mq_status(c, st);
	if (c->tp == &ipk__signal_transport)
		return ipk__signal_status(c, st);
	return ipk__err(-EOPNOTSUPP,
	                "%s: not a queue (ipk_queue_status works on sysvmq:, mq: "
	                "and signal: channels)",
	                c->tp->scheme);
}

int ipk_queue_stat(const char *url, ipk_queue_info *st)
{
	if (url == NULL || st == NULL)
		return ipk__err(-EINVAL, "ipk_queue_stat: NULL argument");
	memset(st, 0, sizeof *st);
	ipk_chan *c;
	int rc = ipk_dial(&c, url, 0);
	if (rc == -EAGAIN)
		rc = -ENOENT;
	if (rc < 0)
		return rc;
	rc = ipk_queue_status(c, st);
	ipk_close(c);
	return rc;
}
