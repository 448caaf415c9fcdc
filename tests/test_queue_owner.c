/*
 * Queues whose listener died are taken over like rings, FIFOs and sockets;
 * a live listener's queue never is. Owner records (src/core/owner.c) prove
 * who is alive with pid plus start time, so a recycled pid is not the owner.
 */
#define _GNU_SOURCE
#include "queue_check.h"
#include "util.h"

#include "core/owner.h"
#include "shm/proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX 0x2c000000u

TestSuite(queue_owner, .timeout = 60);

/* One address per scheme under test; name is what owner records call it. */
struct q {
	const char *scheme;
	char url[160];
	char name[64];
};

static struct q new_q(const char *scheme)
{
	struct q q = {.scheme = scheme};
	if (strcmp(scheme, "sysvmq") == 0)
		snprintf(q.name, sizeof q.name, "0x%08x", qlog_key(PREFIX));
	else
		snprintf(q.name, sizeof q.name, "%s", qlog_mq("own"));
	snprintf(q.url, sizeof q.url, "%s:%s", scheme, q.name);
	return q;
}

static bool exists(const struct q *q)
{
	if (strcmp(q->scheme, "sysvmq") == 0)
		return sysv_key_exists((unsigned)strtoul(q->name, NULL, 16));
	return mq_exists(q->name);
}

/* A child that listens on url, says so on the pipe, and waits to die. */
static pid_t child_listener(const char *url)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(p[0]);
		ipk_chan *l;
		if (ipk_listen(&l, url) < 0) {
			fprintf(stderr, "child listen %s: %s\n", url, ipk_last_error());
			_exit(1);
		}
		char ok = 1;
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	char ok;
	cr_assert_eq(read(p[0], &ok, 1), 1, "the child could not listen");
	close(p[0]);
	return pid;
}

static void send_one(const char *url, const char *text)
{
	ipk_chan *d = ipkt_dial_ok(url);
	cr_assert_eq(ipk_send(d, text, strlen(text), 1000), (ssize_t)strlen(text),
	             "%s", ipk_last_error());
	ipk_close(d);
}

static void expect_msg(ipk_chan *c, const char *text)
{
	char buf[64];
	ssize_t n = ipk_recv(c, buf, sizeof buf, 1000);
	cr_assert_eq(n, (ssize_t)strlen(text), "recv: %zd %s", n,
	             n < 0 ? ipk_last_error() : "");
	cr_assert(memcmp(buf, text, (size_t)n) == 0);
}

/* A listener killed with SIGKILL leaves its queue and record; the next
   listen takes the queue over with the message still in it, and its close
   removes both. */
static void killed_listener_is_taken_over(const char *scheme)
{
	struct q q = new_q(scheme);
	pid_t pid = child_listener(q.url);
	send_one(q.url, "left behind");
	kill(pid, SIGKILL);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL);
	cr_assert(exists(&q), "%s: the killed listener's queue is gone", scheme);

	ipk_chan *l = NULL;
	int rc = ipk_listen(&l, q.url);
	cr_assert_eq(rc, 0, "%s: listen after the owner was killed: %d %s",
	             scheme, rc, ipk_last_error());
	expect_msg(l, "left behind");
	struct ipk__owner o;
	cr_assert_eq(ipk__owner_read(scheme, q.name, geteuid(), &o), 1);
	cr_expect_eq(o.pid, getpid(), "the record names the new owner");
	ipk_close(l);
	cr_expect(!exists(&q), "%s: the new owner's close kept the queue", scheme);
	cr_expect_eq(ipk__owner_read(scheme, q.name, geteuid(), &o), 0,
	             "%s: the record outlived the queue", scheme);
}

Test(queue_owner, sysvmq_killed_listener_is_taken_over)
{
	killed_listener_is_taken_over("sysvmq");
}

Test(queue_owner, mq_killed_listener_is_taken_over)
{
	killed_listener_is_taken_over("mq");
}

/* A live listener's queue is refused, in another process and in its own,
   and stays undisturbed. */
static void live_listener_is_refused(const char *scheme)
{
	struct q q = new_q(scheme);
	pid_t pid = child_listener(q.url);
	ipk_chan *l = NULL;
	cr_expect_eq(ipk_listen(&l, q.url), -EEXIST);
	char want[64];
	snprintf(want, sizeof want, "(pid %d) is alive", (int)pid);
	cr_expect(strstr(ipk_last_error(), want) != NULL, "%s",
	          ipk_last_error());
	struct ipk__owner o;
	cr_expect_eq(ipk__owner_check(scheme, q.name, geteuid(),
	                              IPK__OWNER_PENDING, &o),
	             IPK__OWNER_ALIVE);
	cr_expect_eq(o.pid, pid);
	cr_expect(!o.persist);
	kill(pid, SIGKILL);
	ipkt_wait_child(pid);
	cr_expect_eq(ipk__owner_check(scheme, q.name, geteuid(),
	                              IPK__OWNER_PENDING, &o),
	             IPK__OWNER_DEAD);

	/* and in the listener's own process */
	ipk_chan *mine = ipkt_listen_ok(q.url);
	cr_expect_eq(ipk_listen(&l, q.url), -EEXIST);
	cr_expect(strstr(ipk_last_error(), "is alive") != NULL, "%s",
	          ipk_last_error());
	send_one(q.url, "still mine");
	expect_msg(mine, "still mine");
	ipk_close(mine);
	cr_expect(!exists(&q));
}

Test(queue_owner, sysvmq_live_listener_is_refused)
{
	live_listener_is_refused("sysvmq");
}

Test(queue_owner, mq_live_listener_is_refused)
{
	live_listener_is_refused("mq");
}

/* A record with the right pid of a running process but another start time
   is a recycled pid: its owner is dead, and the queue is taken over. With
   the right start time the same record means a live owner. */
static void recycled_pid_is_dead(const char *scheme)
{
	struct q q = new_q(scheme);
	uint64_t object;
	if (strcmp(scheme, "sysvmq") == 0) {
		int id = msgget((key_t)strtoul(q.name, NULL, 16),
		                IPC_CREAT | IPC_EXCL | 0600);
		cr_assert_geq(id, 0);
		object = (uint64_t)id;
	} else {
		mqd_t m = mq_open(q.name, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
		cr_assert_neq(m, (mqd_t)-1);
		struct stat st;
		cr_assert_eq(fstat(m, &st), 0);
		object = (uint64_t)st.st_ino;
		mq_close(m);
	}
	/* a process that is running: the pid a recycled record would name */
	pid_t sleeper = fork();
	cr_assert_neq(sleeper, -1);
	if (sleeper == 0) {
		for (;;)
			pause();
	}
	uint64_t start;
	while ((start = ipk__proc_start(sleeper)) == 0)
		usleep(1000);
	struct ipk__owner fake = {.pid = sleeper, .start = start,
	                          .uid = geteuid(), .object = object};
	ipk__owner_claim cl;
	cr_assert_eq(ipk__owner_lock(&cl, scheme, q.name), 0);
	cr_assert_eq(ipk__owner_write(&cl, &fake), 0);
	ipk__owner_unlock(&cl);

	ipk_chan *l = NULL;
	cr_expect_eq(ipk_listen(&l, q.url), -EEXIST,
	             "%s: the right pid and start time are a live owner", scheme);

	fake.start = start + 12345; /* another process had this pid before */
	cr_assert_eq(ipk__owner_lock(&cl, scheme, q.name), 0);
	cr_assert_eq(ipk__owner_write(&cl, &fake), 0);
	ipk__owner_unlock(&cl);
	cr_expect_eq(ipk__owner_check(scheme, q.name, geteuid(), object, NULL),
	             IPK__OWNER_DEAD);
	int rc = ipk_listen(&l, q.url);
	cr_expect_eq(rc, 0, "%s: a recycled pid kept the queue: %s", scheme,
	             ipk_last_error());
	kill(sleeper, SIGKILL);
	ipkt_wait_child(sleeper);
	if (rc == 0)
		ipk_close(l);
	else
		ipk_remove(q.url);
	cr_expect(!exists(&q));
}

Test(queue_owner, sysvmq_recycled_pid_is_dead)
{
	recycled_pid_is_dead("sysvmq");
}

Test(queue_owner, mq_recycled_pid_is_dead)
{
	recycled_pid_is_dead("mq");
}

/* A queue no ipckit listener made (no record) is never taken over. */
Test(queue_owner, foreign_queue_is_refused)
{
	struct q q = new_q("sysvmq");
	int id = msgget((key_t)strtoul(q.name, NULL, 16),
	                IPC_CREAT | IPC_EXCL | 0600);
	cr_assert_geq(id, 0);
	ipk_chan *l = NULL;
	cr_expect_eq(ipk_listen(&l, q.url), -EEXIST);
	cr_expect(strstr(ipk_last_error(), "no ipckit listener owns it") != NULL,
	          "%s", ipk_last_error());
	cr_expect_eq(ipk__owner_check("sysvmq", q.name, geteuid(), (uint64_t)id,
	                              NULL),
	             IPK__OWNER_NONE);
	msgctl(id, IPC_RMID, NULL);

	struct q m = new_q("mq");
	mqd_t fd = mq_open(m.name, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
	cr_assert_neq(fd, (mqd_t)-1);
	mq_close(fd);
	cr_expect_eq(ipk_listen(&l, m.url), -EEXIST);
	cr_expect(strstr(ipk_last_error(), "no ipckit listener owns it") != NULL,
	          "%s", ipk_last_error());
	mq_unlink(m.name);
}

/* ?persist: the owner leaves queue and record on close, marked persist (so
   gc keeps it); the next listen takes it over; ipk_remove drops both. */
static void persisted_queue(const char *scheme)
{
	struct q q = new_q(scheme);
	char url[200];
	snprintf(url, sizeof url, "%s?persist", q.url);
	ipk_chan *l = ipkt_listen_ok(url);
	send_one(q.url, "kept");
	ipk_close(l);
	cr_assert(exists(&q));
	struct ipk__owner o;
	cr_expect_eq(ipk__owner_check(scheme, q.name, geteuid(),
	                              IPK__OWNER_PENDING, &o),
	             IPK__OWNER_DEAD);
	cr_expect(o.persist, "%s: the record does not say persist", scheme);

	l = ipkt_listen_ok(url);
	expect_msg(l, "kept");
	ipk_close(l);
	cr_expect_eq(ipk_remove(q.url), 0, "%s", ipk_last_error());
	cr_expect(!exists(&q));
	cr_expect_eq(ipk__owner_read(scheme, q.name, geteuid(), &o), 0,
	             "%s: ipk_remove left the record", scheme);
}

Test(queue_owner, sysvmq_persist)
{
	persisted_queue("sysvmq");
}

Test(queue_owner, mq_persist)
{
	persisted_queue("mq");
}

/* ?persist belongs to the queue, not to an address: a listener that takes
   a kept queue over without ?persist leaves it, and its mark, on close. */
static void persist_survives_takeover(const char *scheme)
{
	struct q q = new_q(scheme);
	char url[200];
	snprintf(url, sizeof url, "%s?persist", q.url);
	ipk_close(ipkt_listen_ok(url));
	send_one(q.url, "one");
	send_one(q.url, "two");
	ipk_chan *l = ipkt_listen_ok(q.url);
	expect_msg(l, "one");
	ipk_close(l);
	cr_assert(exists(&q), "%s: a later listener removed the kept queue",
	          scheme);
	l = ipkt_listen_ok(q.url);
	expect_msg(l, "two");
	ipk_close(l);
	cr_assert(exists(&q), "%s: emptied, the kept queue was removed", scheme);
	struct ipk__owner o;
	cr_expect_eq(ipk__owner_check(scheme, q.name, geteuid(),
	                              IPK__OWNER_PENDING, &o),
	             IPK__OWNER_DEAD);
	cr_expect(o.persist, "%s: the take-over lost the persist mark", scheme);
	cr_expect_eq(ipk_remove(q.url), 0, "%s", ipk_last_error());
	cr_expect(!exists(&q));
}

Test(queue_owner, sysvmq_persist_survives_takeover)
{
	persist_survives_takeover("sysvmq");
}

Test(queue_owner, mq_persist_survives_takeover)
{
	persist_survives_takeover("mq");
}

/* A dead listener's queue, taken over, is left in place while messages
   are in it (they were not sent to the new listener alone), and removed
   by the close that finds it empty. */
static void takeover_leaves_unread(const char *scheme)
{
	struct q q = new_q(scheme);
	pid_t pid = child_listener(q.url);
	send_one(q.url, "a");
	send_one(q.url, "b");
	kill(pid, SIGKILL);
	cr_assert_eq(ipkt_wait_child(pid), 128 + SIGKILL);
	ipk_chan *l = ipkt_listen_ok(q.url);
	expect_msg(l, "a");
	ipk_close(l);
	cr_assert(exists(&q), "%s: closed with a message in it, and removed",
	          scheme);
	struct ipk__owner o;
	cr_expect_eq(ipk__owner_check(scheme, q.name, geteuid(),
	                              IPK__OWNER_PENDING, &o),
	             IPK__OWNER_DEAD, "%s: the next listener could not take it",
	             scheme);
	cr_expect_eq(o.pid, 0);
	cr_expect(!o.persist, "%s: left in place is not kept for good", scheme);
	l = ipkt_listen_ok(q.url);
	expect_msg(l, "b");
	ipk_close(l);
	cr_expect(!exists(&q), "%s: the emptied leftover stayed", scheme);
	cr_expect_eq(ipk__owner_read(scheme, q.name, geteuid(), &o), 0,
	             "%s: the record outlived the queue", scheme);
}

Test(queue_owner, sysvmq_takeover_leaves_unread)
{
	takeover_leaves_unread("sysvmq");
}

Test(queue_owner, mq_takeover_leaves_unread)
{
	takeover_leaves_unread("mq");
}

/* A dead owner's mq: queue is taken over only with the size it has. */
Test(queue_owner, mq_takeover_keeps_the_queue_size)
{
	struct q q = new_q("mq");
	char url[200];
	snprintf(url, sizeof url, "%s?maxmsg=3&msgsize=64", q.url);
	pid_t pid = child_listener(url);
	kill(pid, SIGKILL);
	ipkt_wait_child(pid);
	ipk_chan *l = NULL;
	snprintf(url, sizeof url, "%s?maxmsg=5&msgsize=64", q.url);
	cr_expect_eq(ipk_listen(&l, url), -EEXIST);
	cr_expect(strstr(ipk_last_error(), "maxmsg=3") != NULL, "%s",
	          ipk_last_error());
	l = ipkt_listen_ok(q.url);
	ipk_queue_info st;
	cr_assert_eq(ipk_queue_status(l, &st), 0);
	ipk_close(l);
	cr_expect(!exists(&q));
}

/* Eight processes race to take over the same dead owner's queue: never
   two owners at once; the losers are told the winner is alive. */
Test(queue_owner, one_takeover_at_a_time)
{
	const char *schemes[] = {"sysvmq", "mq"};
	for (int s = 0; s < 2; s++) {
		struct q q = new_q(schemes[s]);
		pid_t pid = child_listener(q.url);
		kill(pid, SIGKILL);
		ipkt_wait_child(pid);
		int *owners = ipkt_shared(sizeof(int) * 3); /* now, most, wins */
		pid_t kids[8];
		for (int i = 0; i < 8; i++) {
			kids[i] = fork();
			cr_assert_neq(kids[i], -1);
			if (kids[i] == 0) {
				ipk_chan *l;
				int rc = ipk_listen(&l, q.url);
				if (rc == 0) {
					int now = __atomic_add_fetch(&owners[0], 1,
					                             __ATOMIC_SEQ_CST);
					int most = __atomic_load_n(&owners[1], __ATOMIC_SEQ_CST);
					while (now > most &&
					       !__atomic_compare_exchange_n(
					               &owners[1], &most, now, false,
					               __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
						;
					__atomic_add_fetch(&owners[2], 1, __ATOMIC_SEQ_CST);
					usleep(100 * 1000); /* own it while the others try */
					__atomic_sub_fetch(&owners[0], 1, __ATOMIC_SEQ_CST);
					ipk_close(l);
				} else if (rc != -EEXIST ||
				           !strstr(ipk_last_error(), "is alive")) {
					fprintf(stderr, "%d %s\n", rc, ipk_last_error());
					_exit(1);
				}
				_exit(0);
			}
		}
		int bad = 0;
		for (int i = 0; i < 8; i++)
			bad += ipkt_wait_child(kids[i]) != 0;
		cr_expect_eq(bad, 0, "%s: a loser was not told of a live owner",
		             schemes[s]);
		cr_expect_geq(owners[2], 1, "%s: nobody took the queue over",
		              schemes[s]);
		cr_expect_eq(owners[1], 1, "%s: %d owners at once", schemes[s],
		             owners[1]);
		if (exists(&q))
			ipk_remove(q.url);
	}
}
