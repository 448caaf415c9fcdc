/*
 * A POSIX message queue with priorities: a producer queues jobs with
 * different priorities, then the consumer takes them highest first (and in
 * arrival order within one priority), as mq_receive(3) delivers them.
 *
 *   posix_mq_prio [NAME]       (default /ipckit-prio-PID)
 *
 * The producer is a forked child that dials the queue; the parent created
 * it and removes it at the end.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct {
	unsigned prio;
	const char *job;
} jobs[] = {
	{1, "rotate logs"},    {5, "resize image"}, {9, "page the on-call"},
	{1, "compress backup"}, {5, "send digest"},  {0, "defragment"},
};

#define NJOBS (sizeof jobs / sizeof jobs[0])

int main(int argc, char **argv)
{
	char name[64], url[128];
	if (argc > 1)
		snprintf(name, sizeof name, "%s", argv[1]);
	else
		snprintf(name, sizeof name, "/ipckit-prio-%d", (int)getpid());
	/* ?maxmsg= is the queue's depth here (mq_attr), ?msgsize= its largest
	   message: room for every job so the producer never waits */
	snprintf(url, sizeof url, "mq:%s?maxmsg=8&msgsize=64", name);

	ipk_chan *q;
	if (ipk_listen(&q, url) < 0) {
		fprintf(stderr, "posix_mq_prio: %s: %s\n", url, ipk_last_error());
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		char dial[96];
		snprintf(dial, sizeof dial, "mq:%s", name);
		ipk_chan *p;
		if (ipk_dial(&p, dial, 2000) < 0)
			_exit(1);
		for (size_t i = 0; i < NJOBS; i++) {
			ipk_msginfo mi = {.prio = jobs[i].prio};
			if (ipk_sendmsg(p, jobs[i].job, strlen(jobs[i].job), &mi, 1000) < 0)
				_exit(1);
		}
		ipk_close(p);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0); /* all queued: now the priorities decide */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "posix_mq_prio: producer failed\n");
		ipk_close(q);
		return 1;
	}
	ipk_queue_info info;
	if (ipk_queue_status(q, &info) == 0)
		printf("%zu jobs queued (%zu bytes), depth %zu, msgsize %zu\n",
		       info.messages, info.bytes, info.max_messages, info.max_msgsize);
	for (size_t i = 0; i < NJOBS; i++) {
		char job[64];
		ipk_msginfo mi = {0};
		ssize_t n = ipk_recvmsg(q, job, sizeof job, &mi, 1000);
		if (n < 0) {
			fprintf(stderr, "posix_mq_prio: %s\n", ipk_last_error());
			ipk_close(q);
			return 1;
		}
		printf("priority %u: %.*s\n", mi.prio, (int)n, job);
	}
	ipk_close(q); /* unlinks the queue: we created it */
	return 0;
}
