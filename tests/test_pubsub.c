/*
 * Publish/subscribe through the public API (?proto=pub / ?proto=sub) on
 * every mechanism that carries it: shm:, sysvshm:, mmap: (a broadcast
 * ring) and unix:, tcp: (SP pub0/sub0 connections). Every subscriber gets
 * every message in order (slow=block); topic filters; a subscriber that
 * falls behind on shared memory is told exactly what it missed; zero-copy;
 * polling; 64 subscriber processes; a publisher killed mid-message and a
 * new one continuing; lifetime of the ring; refusals with reasons.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(pubsub, .fini = ipkt_check_dev_shm);

/* ------------------------------------------------------------ helpers */

enum kind { K_SHM, K_SYSVSHM, K_MMAP, K_UNIX, K_TCP, K_COUNT };
static const char *const kind_names[] = {"shm", "sysvshm", "mmap", "unix",
                                         "tcp"};

static bool is_ring(enum kind k)
{
	return k == K_SHM || k == K_SYSVSHM || k == K_MMAP;
}

/* A fresh place for kind k; extra options appended. */
static void place(enum kind k, const char *opts, char *out, size_t cap)
{
	const char *o = opts && *opts ? opts : NULL;
	switch (k) {
	case K_SHM:
		snprintf(out, cap, "shm:%s?size=256K%s%s", ipkt_name("ps"),
		         o ? "&" : "", o ? o : "");
		break;
	case K_SYSVSHM:
		snprintf(out, cap, "sysvshm:0x%08x?size=256K%s%s",
		         0x51000000u | ((unsigned)getpid() & 0xffff) << 8 |
		                 (unsigned)(rand() & 0xff),
		         o ? "&" : "", o ? o : "");
		break;
	case K_MMAP:
		snprintf(out, cap, "mmap:%s?size=256K%s%s", ipkt_path("ps"),
		         o ? "&" : "", o ? o : "");
		break;
	case K_UNIX:
		snprintf(out, cap, "unix:%s%s%s", ipkt_path("ps.sock"), o ? "?" : "",
		         o ? o : "");
		break;
	default:
		snprintf(out, cap, "tcp://127.0.0.1:0%s%s", o ? "?" : "", o ? o : "");
		break;
	}
}

static char *with(const char *url, const char *proto)
{
	static _Thread_local char buf[4][600];
	static _Thread_local int i;
	char *b = buf[i++ % 4];
	snprintf(b, sizeof buf[0], "%s%cproto=%s", url,
	         strchr(url, '?') ? '&' : '?', proto);
	return b;
}

/* The publisher listens; the address subscribers dial. */
static ipk_chan *pub_listen(const char *url, char *addr, size_t cap)
{
	ipk_chan *p = NULL;
	int rc = ipk_listen(&p, with(url, "pub"));
	cr_assert_eq(rc, 0, "listen %s: %s", url, ipk_last_error());
	cr_assert(ipk_address(p, addr, cap) > 0);
	return p;
}

static ipk_chan *sub_dial(const char *addr, const char *topic)
{
	ipk_chan *s = NULL;
	/* the publisher's address already says proto=sub */
	int rc = ipk_dial(&s, addr, 5000);
	cr_assert_eq(rc, 0, "dial %s: %s", addr, ipk_last_error());
	if (topic)
		cr_assert_eq(ipk_subscribe(s, topic, strlen(topic)), 0);
	return s;
}

static void await_subs(ipk_chan *p, int n)
{
	int64_t until = ipkt_now_ms() + 10000;
	int have;
	while ((have = ipk_subscribers(p)) < n) {
		cr_assert(have >= 0, "%s", ipk_last_error());
		cr_assert(ipkt_now_ms() < until, "%d of %d subscribers", have, n);
		usleep(2000);
	}
}

static void fill(unsigned char *p, size_t len, uint64_t n)
{
	memcpy(p, &n, 8);
	for (size_t i = 8; i < len; i++)
		p[i] = (unsigned char)(n * 13 + i);
}

static bool intact(const unsigned char *p, size_t len, uint64_t *n)
{
	if (len < 8)
		return false;
	memcpy(n, p, 8);
	for (size_t i = 8; i < len; i++)
		if (p[i] != (unsigned char)(*n * 13 + i))
			return false;
	return true;
}

static size_t len_for(uint64_t n)
{
	return 8 + (size_t)((n * 2654435761u) % 300);
}

/* --------------------------------------------- every mechanism, in order */

struct fanout_case {
	enum kind k;
	bool zero_copy;
};

static void fanout(enum kind k, int nsubs, uint64_t count, bool zero_copy)
{
	char url[300], addr[600];
	place(k, "slow=block", url, sizeof url);
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	uint64_t *bad = ipkt_shared(sizeof(uint64_t) * (size_t)nsubs);
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t *kids = calloc((size_t)nsubs, sizeof *kids);
	for (int i = 0; i < nsubs; i++) {
		kids[i] = fork();
		cr_assert(kids[i] >= 0);
		if (kids[i] != 0)
			continue;
		ipk_chan *s = NULL;
		if (ipk_dial(&s, addr, 5000) < 0 || ipk_subscribe(s, "", 0) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		unsigned char buf[400];
		for (uint64_t n = 0; n < count; n++) {
			uint64_t got = 0;
			ipk_msginfo info = {0};
			ssize_t len;
			bool ok;
			if (zero_copy && is_ring(k) && i % 2) {
				const void *m;
				len = ipk_recv_peekmsg(s, &m, &info, 10000);
				ok = len >= 0 && intact(m, (size_t)len, &got);
				if (len >= 0 && ipk_recv_release(s) != 0)
					ok = false;
			} else {
				len = ipk_recvmsg(s, buf, sizeof buf, &info, 10000);
				ok = len >= 0 && intact(buf, (size_t)len, &got);
			}
			if (len < 0) {
				fprintf(stderr, "subscriber %d: %s\n", i, ipk_last_error());
				_exit(3);
			}
			if (!ok || got != n || (size_t)len != len_for(n) ||
			    info.missed != 0)
				bad[i]++;
		}
		ipk_close(s);
		_exit(0);
	}
	await_subs(p, nsubs); /* takes the connections, so the dials finish */
	for (int i = 0; i < nsubs; i++)
		ipkt_await(ready[0]);
	unsigned char msg[400];
	for (uint64_t n = 0; n < count; n++) {
		size_t len = len_for(n);
		if (zero_copy && is_ring(k) && n % 2) {
			void *w;
			cr_assert_eq(ipk_send_borrow(p, &w, len, 10000), (ssize_t)len,
			             "%s", ipk_last_error());
			fill(w, len, n);
			cr_assert_eq(ipk_send_commit(p, len), (ssize_t)len);
		} else {
			fill(msg, len, n);
			cr_assert_eq(ipk_send(p, msg, len, 10000), (ssize_t)len, "%s",
			             ipk_last_error());
		}
	}
	for (int i = 0; i < nsubs; i++) {
		int st = ipkt_wait_child(kids[i]);
		cr_expect_eq(st, 0, "%s subscriber %d exit %d", kind_names[k], i, st);
		cr_expect_eq(bad[i], 0, "%s subscriber %d: %llu wrong", kind_names[k],
		             i, (unsigned long long)bad[i]);
	}
	cr_assert_eq(ipk_close(p), 0, "%s", ipk_last_error());
	free(kids);
	close(ready[0]);
	close(ready[1]);
	munmap(bad, sizeof(uint64_t) * (size_t)nsubs);
}

ParameterizedTestParameters(pubsub, every_subscriber_gets_every_message)
{
	static struct fanout_case cases[] = {
		{K_SHM, false},  {K_SHM, true},  {K_SYSVSHM, true},
		{K_MMAP, true},  {K_UNIX, false}, {K_TCP, false},
	};
	return cr_make_param_array(struct fanout_case, cases,
	                           sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct fanout_case *c, pubsub,
                  every_subscriber_gets_every_message, .timeout = 120)
{
	fanout(c->k, 4, 5000, c->zero_copy);
}

Test(pubsub, sixty_four_subscriber_processes_on_shm, .timeout = 300)
{
	fanout(K_SHM, 64, 2000, false);
}

Test(pubsub, sixty_four_subscriber_processes_on_unix, .timeout = 300)
{
	fanout(K_UNIX, 64, 300, false);
}

/* ---------------------------------------------------------- topics */

ParameterizedTestParameters(pubsub, topics_filter_at_the_subscriber)
{
	static enum kind kinds[] = {K_SHM, K_UNIX, K_TCP};
	return cr_make_param_array(enum kind, kinds, 3);
}

ParameterizedTest(enum kind *k, pubsub, topics_filter_at_the_subscriber,
                  .timeout = 60)
{
	char url[300], addr[600];
	place(*k, "slow=block", url, sizeof url);
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	/* the dials finish without the publisher's help (it is idle) */
	ipk_chan *none = sub_dial(addr, NULL);
	ipk_chan *fruit = sub_dial(addr, "apple");
	cr_assert_eq(ipk_subscribe(fruit, "cherry", 6), 0);
	cr_assert_eq(ipk_subscribe(fruit, "cherry", 6), 0); /* once is once */
	ipk_chan *all = sub_dial(addr, "");
	/* from the address, repeatable; binary prefixes through the call */
	char a2[700];
	snprintf(a2, sizeof a2, "%s&topic=ban&topic=ch", addr);
	ipk_chan *url_topics = sub_dial(a2, NULL);
	ipk_chan *bin = sub_dial(addr, NULL);
	cr_assert_eq(ipk_subscribe(bin, "\0\1", 2), 0);
	await_subs(p, 5);
	const char *msgs[] = {"apple pie", "banana", "cherry", "apples",
	                      "chocolate"};
	for (int i = 0; i < 5; i++)
		cr_assert_eq(ipk_send(p, msgs[i], strlen(msgs[i]), 5000),
		             (ssize_t)strlen(msgs[i]));
	cr_assert_eq(ipk_send(p, "\0\1\2", 3, 5000), 3);
	cr_assert_eq(ipk_send(p, "", 0, 5000), 0);
	struct {
		ipk_chan *c;
		const char *want[8];
	} expect[] = {
		{fruit, {"apple pie", "cherry", "apples"}},
		{all, {"apple pie", "banana", "cherry", "apples", "chocolate",
		       "\0\1\2", ""}},
		{url_topics, {"banana", "cherry", "chocolate"}},
	};
	char buf[64];
	for (size_t i = 0; i < 3; i++) {
		for (int j = 0; expect[i].want[j]; j++) {
			const char *w = expect[i].want[j];
			size_t wl = strcmp(w, "") == 0 && j == 5 ? 3 : strlen(w);
			ssize_t n = ipk_recv(expect[i].c, buf, sizeof buf, 5000);
			cr_assert_eq(n, (ssize_t)wl, "case %zu message %d: %zd %s", i, j,
			             n, n < 0 ? ipk_last_error() : "");
			cr_assert_eq(memcmp(buf, w, wl), 0);
		}
	}
	ssize_t n = ipk_recv(bin, buf, sizeof buf, 5000);
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(buf, "\0\1\2", 3), 0);
	/* no subscription: nothing at all */
	cr_assert_eq(ipk_recv(none, buf, sizeof buf, 200), -ETIMEDOUT);
	cr_assert_eq(ipk_recv(fruit, buf, sizeof buf, 100), -ETIMEDOUT);
	/* unsubscribing stops a topic */
	cr_assert_eq(ipk_unsubscribe(fruit, "apple", 5), 0);
	cr_assert_eq(ipk_unsubscribe(fruit, "apple", 5), -ENOENT);
	cr_assert_eq(ipk_send(p, "apple", 5, 5000), 5);
	cr_assert_eq(ipk_send(p, "cherry!", 7, 5000), 7);
	cr_assert_eq(ipk_recv(fruit, buf, sizeof buf, 5000), 7);
	cr_assert_eq(memcmp(buf, "cherry!", 7), 0);
	ipk_close(none);
	ipk_close(fruit);
	ipk_close(all);
	ipk_close(url_topics);
	ipk_close(bin);
	ipk_close(p);
}

/* ------------------------------------------------- missed, exactly */

Test(pubsub, a_subscriber_that_falls_behind_is_told_what_it_missed)
{
	char url[300], addr[600];
	snprintf(url, sizeof url, "shm:%s?size=32K", ipkt_name("ps"));
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	ipk_chan *s = sub_dial(addr, "");
	unsigned char msg[400];
	uint64_t n = 0;
	/* far more than the ring holds, nobody reading */
	for (; n < 2000; n++) {
		size_t len = len_for(n);
		fill(msg, len, n);
		cr_assert_eq(ipk_send(p, msg, len, 0), (ssize_t)len, "%s",
		             ipk_last_error());
	}
	uint64_t next = 0, missed_total = 0, got_total = 0;
	for (;;) {
		ipk_msginfo info = {0};
		ssize_t len = ipk_recvmsg(s, msg, sizeof msg, &info, 0);
		if (len == -EAGAIN)
			break;
		uint64_t got;
		cr_assert(len >= 8 && intact(msg, (size_t)len, &got));
		cr_assert_eq(got, next + info.missed);
		missed_total += info.missed;
		got_total++;
		next = got + 1;
	}
	cr_assert_eq(next, n);
	cr_assert_eq(got_total + missed_total, n);
	cr_assert(missed_total > 1000);
	ipk_close(s);
	ipk_close(p);
}

/* ----------------------------------------------- zero-copy and poll */

Test(pubsub, zero_copy_and_poll_on_shared_memory)
{
	char url[300], addr[600];
	snprintf(url, sizeof url, "shm:%s", ipkt_name("ps"));
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	ipk_chan *a = sub_dial(addr, "");
	ipk_chan *b = sub_dial(addr, "");
	ipk_pollitem it[2] = {{.chan = a, .events = IPK_POLLIN},
	                      {.chan = b, .events = IPK_POLLIN}};
	cr_assert_eq(ipk_poll(it, 2, 0), 0);
	int fd = ipk_fd(a);
	cr_assert(fd >= 0, "%s", ipk_last_error());
	void *w;
	cr_assert_eq(ipk_send_borrow(p, &w, 32, 1000), 32);
	memcpy(w, "in place", 8);
	cr_assert_eq(ipk_send_commit(p, 8), 8);
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&pf, 1, 1000), 1);
	cr_assert_eq(ipk_poll(it, 2, 1000), 2);
	const void *ma, *mb;
	ipk_msginfo info = {.missed = 7};
	cr_assert_eq(ipk_recv_peekmsg(a, &ma, &info, 0), 8);
	cr_assert_eq(info.missed, 0);
	cr_assert_eq(ipk_recv_peek(b, &mb, 0), 8);
	cr_assert_eq(memcmp(ma, "in place", 8), 0);
	cr_assert_eq(memcmp(mb, "in place", 8), 0);
	cr_assert_eq(ipk_recv_release(a), 0);
	cr_assert_eq(ipk_recv_release(b), 0);
	cr_assert_eq(poll(&pf, 1, 0), 0);
	/* wrong sides */
	cr_assert_eq(ipk_send(a, "x", 1, 0), -EOPNOTSUPP);
	cr_assert_eq(ipk_recv(p, &info, 1, 0), -EOPNOTSUPP);
	cr_assert_eq(ipk_send_borrow(a, &w, 1, 0), -EOPNOTSUPP);
	cr_assert_eq(ipk_recv_peek(p, &ma, 0), -EOPNOTSUPP);
	cr_assert_eq(ipk_subscribe(p, "x", 1), -EOPNOTSUPP);
	cr_assert_eq(ipk_subscribers(a), -EOPNOTSUPP);
	ipk_ringinfo ri;
	cr_assert_eq(ipk_ring_info(p, &ri), -EOPNOTSUPP);
	cr_assert_eq(ipk_subscribers(p), 2);
	ipk_close(a);
	cr_assert_eq(ipk_subscribers(p), 1);
	ipk_close(b);
	ipk_close(p);
}

Test(pubsub, poll_on_a_socket_subscriber)
{
	char url[300], addr[600];
	place(K_TCP, NULL, url, sizeof url);
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	ipk_chan *s = sub_dial(addr, "go");
	await_subs(p, 1);
	ipk_pollitem it = {.chan = s, .events = IPK_POLLIN};
	/* readable means a receive may make progress (the publisher's SP
	   header arriving is some): a receive with timeout 0 takes it */
	char buf[8];
	if (ipk_poll(&it, 1, 0) > 0)
		cr_assert_eq(ipk_recv(s, buf, sizeof buf, 0), -EAGAIN);
	cr_assert_eq(ipk_poll(&it, 1, 0), 0);
	cr_assert_eq(ipk_send(p, "go!", 3, 1000), 3);
	cr_assert_eq(ipk_poll(&it, 1, 5000), 1);
	cr_assert_eq(ipk_recv(s, buf, sizeof buf, 0), 3);
	ipk_close(s);
	ipk_close(p);
}

/* --------------------------------------------------------- refusals */

Test(pubsub, refused_where_it_cannot_work)
{
	ipk_chan *c = NULL;
	char u[300];
	snprintf(u, sizeof u, "fifo:%s?proto=pub", ipkt_path("f"));
	cr_assert_eq(ipk_listen(&c, u), -EPROTONOSUPPORT);
	cr_assert(strstr(ipk_last_error(), "one receiver") != NULL, "%s",
	          ipk_last_error());
	snprintf(u, sizeof u, "sysvmq:0x%08x?proto=sub",
	         0x52000000u | ((unsigned)getpid() & 0xffffff));
	cr_assert_eq(ipk_listen(&c, u), -EPROTONOSUPPORT);
	cr_assert_eq(ipk_listen(&c, "tcp://127.0.0.1:0?proto=pub&history=3"),
	             -EINVAL);
	cr_assert(strstr(ipk_last_error(), "shared-memory") != NULL);
	cr_assert_eq(ipk_listen(&c, "tcp://127.0.0.1:0?proto=pub&slow=often"),
	             -EINVAL);
	snprintf(u, sizeof u, "shm:%s?proto=pub&mpmc", ipkt_name("m"));
	cr_assert_eq(ipk_listen(&c, u), -EINVAL);
	snprintf(u, sizeof u, "shm:%s?proto=pub&subs=1000", ipkt_name("m"));
	cr_assert_eq(ipk_listen(&c, u), -EINVAL);
	snprintf(u, sizeof u, "shm:%s?proto=pub&resend=10", ipkt_name("m"));
	cr_assert_eq(ipk_listen(&c, u), -EINVAL);
	cr_assert_eq(ipk_subscribe(NULL, "", 0), -EINVAL);
	/* a plain ring is not a broadcast ring */
	snprintf(u, sizeof u, "shm:%s", ipkt_name("plain"));
	ipk_chan *ring = ipkt_listen_ok(u);
	char u2[400];
	snprintf(u2, sizeof u2, "%s?proto=sub", u);
	cr_assert_eq(ipk_dial(&c, u2, 100), -EPROTO);
	cr_assert(strstr(ipk_last_error(), "publish/subscribe") != NULL, "%s",
	          ipk_last_error());
	ipk_close(ring);
	/* nothing there */
	snprintf(u, sizeof u, "shm:%s?proto=sub", ipkt_name("none"));
	cr_assert_eq(ipk_dial(&c, u, 50), -ENOENT);
}

/* ------------------------------------------------------- lifetime */

static bool shm_exists(const char *name)
{
	char path[300];
	snprintf(path, sizeof path, "/dev/shm%s", name);
	struct stat st;
	return stat(path, &st) == 0;
}

Test(pubsub, the_ring_stays_while_anyone_is_attached)
{
	const char *name = ipkt_name("life");
	char url[300], addr[600];
	snprintf(url, sizeof url, "shm:%s?history=10", name);
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	ipk_chan *s = sub_dial(addr, "");
	cr_assert_eq(ipk_send(p, "one", 3, 0), 3);
	/* the publisher leaves: the subscriber keeps the ring */
	cr_assert_eq(ipk_close(p), 0);
	cr_assert(shm_exists(name));
	char buf[16];
	cr_assert_eq(ipk_recv(s, buf, sizeof buf, 1000), 3);
	/* a new publisher joins it and continues */
	p = pub_listen(url, addr, sizeof addr);
	cr_assert_eq(ipk_send(p, "two", 3, 0), 3);
	ipk_msginfo info = {0};
	cr_assert_eq(ipk_recvmsg(s, buf, sizeof buf, &info, 1000), 3);
	cr_assert_eq(memcmp(buf, "two", 3), 0);
	cr_assert_eq(info.missed, 0);
	/* a late subscriber gets the history */
	ipk_chan *late = sub_dial(addr, "");
	cr_assert_eq(ipk_recv(late, buf, sizeof buf, 1000), 3);
	cr_assert_eq(memcmp(buf, "one", 3), 0);
	ipk_close(late);
	ipk_close(p);
	cr_assert(shm_exists(name));
	/* the last one out removes it */
	ipk_close(s);
	cr_assert(!shm_exists(name));
	/* ?persist keeps it for later */
	snprintf(url, sizeof url, "shm:%s?persist&history=5", name);
	p = pub_listen(url, addr, sizeof addr);
	cr_assert_eq(ipk_send(p, "kept", 4, 0), 4);
	ipk_close(p);
	cr_assert(shm_exists(name));
	s = sub_dial(addr, "");
	cr_assert_eq(ipk_recv(s, buf, sizeof buf, 1000), 4);
	ipk_close(s);
	cr_assert(shm_exists(name));
	cr_assert_eq(ipk_remove(url), 0);
}

/* ?persist belongs to the ring, not to an address (docs/channels.md
   "Ownership and cleanup"): a ring kept by its maker or by any listener
   since stays when the last one leaves, whatever address it used; only
   ipk_remove takes it. On every shared-memory mechanism. */
Test(pubsub, a_kept_ring_stays_whoever_closes_it)
{
	/* (forced: sysvshm: takes a segment whose creator, this process, is
	   alive for one in use) */
	for (enum kind k = K_SHM; k <= K_MMAP; k++) {
		char made[300], plain[300], kept[400], addr[600];
		/* made kept; a later publisher without ?persist leaves last */
		place(k, "persist", made, sizeof made);
		snprintf(plain, sizeof plain, "%.*s", (int)strcspn(made, "?"), made);
		ipk_chan *p = pub_listen(made, addr, sizeof addr);
		ipk_close(p);
		p = pub_listen(plain, addr, sizeof addr);
		ipk_chan *s = sub_dial(addr, "");
		cr_assert_eq(ipk_send(p, "x", 1, 0), 1);
		ipk_close(s);
		ipk_close(p);
		cr_assert_eq(ipk_remove_flags(plain, IPK_REMOVE_FORCE), 0, "%s: kept ring removed by a "
		             "close: %s", kind_names[k], ipk_last_error());
		/* made without ?persist; a listener since (here a subscriber:
		   either side may listen) keeps it: it stays, even when the
		   one without ?persist leaves last */
		p = pub_listen(plain, addr, sizeof addr);
		snprintf(kept, sizeof kept, "%s?persist&proto=sub", plain);
		s = NULL;
		cr_assert_eq(ipk_listen(&s, kept), 0, "%s", ipk_last_error());
		ipk_close(s);
		ipk_close(p);
		cr_assert_eq(ipk_remove_flags(plain, IPK_REMOVE_FORCE), 0, "%s: ring kept by a later "
		             "listener was removed: %s", kind_names[k],
		             ipk_last_error());
		/* and one nobody kept goes with the last one out */
		p = pub_listen(plain, addr, sizeof addr);
		ipk_close(p);
		cr_assert_eq(ipk_remove_flags(plain, IPK_REMOVE_FORCE), -ENOENT, "%s", kind_names[k]);
	}
}

/* A ring removed under a subscriber (forced) and made again by a new
   publisher: the waiting subscriber follows the name to the new ring. */
Test(pubsub, a_subscriber_follows_its_name_to_a_new_ring, .timeout = 60)
{
	const char *name = ipkt_name("follow");
	char url[300], plain[300], addr[600];
	snprintf(url, sizeof url, "shm:%s?size=64K", name);
	snprintf(plain, sizeof plain, "shm:%s", name);
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	ipk_chan *s = sub_dial(addr, "");
	char buf[16];
	cr_assert_eq(ipk_send(p, "one", 3, 0), 3);
	cr_assert_eq(ipk_recv(s, buf, sizeof buf, 1000), 3);
	ipk_close(p);
	/* live (the subscriber maps it): only a forced removal takes it */
	cr_assert_eq(ipk_remove(plain), -EBUSY, "%s", ipk_last_error());
	cr_assert_eq(ipk_remove_flags(plain, IPK_REMOVE_FORCE), 0, "%s",
	             ipk_last_error());
	cr_assert(!shm_exists(name));
	p = pub_listen(url, addr, sizeof addr); /* a new ring by that name */
	cr_assert_eq(ipk_send(p, "two", 3, 0), 3);
	ipk_msginfo info = {0};
	ssize_t n = ipk_recvmsg(s, buf, sizeof buf, &info, 5000);
	cr_assert_eq(n, 3, "%zd %s", n, n < 0 ? ipk_last_error() : "");
	cr_assert_eq(memcmp(buf, "two", 3), 0);
	cr_assert_eq(ipk_send(p, "three", 5, 0), 5);
	cr_assert_eq(ipk_recv(s, buf, sizeof buf, 1000), 5);
	cr_assert_eq(ipk_subscribers(p), 1);
	ipk_close(p);
	ipk_close(s);
	cr_assert(!shm_exists(name));
}

/* ------------------------------------------------------------ crashes */

Test(pubsub, a_publisher_killed_mid_message_and_a_new_one, .timeout = 60)
{
	char url[300], addr[600];
	snprintf(url, sizeof url, "shm:%s", ipkt_name("crash"));
	ipk_chan *first = pub_listen(url, addr, sizeof addr);
	ipk_chan *s = sub_dial(addr, "");
	ipk_close(first); /* the subscriber keeps the ring */
	pid_t kid = fork();
	cr_assert(kid >= 0);
	if (kid == 0) {
		ipk_chan *p;
		if (ipk_listen(&p, with(url, "pub")) < 0)
			_exit(1);
		for (int i = 0; i < 5; i++)
			if (ipk_send(p, "whole", 5, 0) != 5)
				_exit(2);
		void *w;
		if (ipk_send_borrow(p, &w, 100, 0) != 100)
			_exit(3);
		memset(w, '#', 50);
		raise(SIGKILL);
	}
	cr_assert_eq(ipkt_wait_child(kid), 128 + SIGKILL);
	char buf[128];
	for (int i = 0; i < 5; i++)
		cr_assert_eq(ipk_recv(s, buf, sizeof buf, 1000), 5);
	cr_assert_eq(ipk_recv(s, buf, sizeof buf, 100), -ETIMEDOUT,
	             "the torn message was handed out");
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	cr_assert_eq(ipk_send(p, "after", 5, 0), 5);
	ipk_msginfo info = {0};
	cr_assert_eq(ipk_recvmsg(s, buf, sizeof buf, &info, 1000), 5);
	cr_assert_eq(memcmp(buf, "after", 5), 0);
	cr_assert_eq(info.missed, 0);
	ipk_close(p);
	ipk_close(s);
}

/* Subscriber processes killed at random points of their receive loop, on
   a ring with slow=block: the publisher and the surviving subscriber are
   not disturbed, nothing is lost for the survivor. */
Test(pubsub, subscribers_killed_at_random_points, .timeout = 120)
{
	char url[300], addr[600];
	snprintf(url, sizeof url, "shm:%s?size=64K&slow=block", ipkt_name("kill"));
	ipk_chan *p = pub_listen(url, addr, sizeof addr);
	ipk_chan *keep = sub_dial(addr, "");
	unsigned seed = (unsigned)getpid();
	uint64_t n = 0;
	unsigned char msg[400], buf[400];
	for (int round = 0; round < 40; round++) {
		pid_t k = fork();
		cr_assert(k >= 0);
		if (k == 0) {
			ipk_chan *v;
			if (ipk_dial(&v, addr, 5000) < 0 || ipk_subscribe(v, "", 0) < 0)
				_exit(1);
			for (;;) {
				const void *m;
				if (round % 2 && ipk_recv_peek(v, &m, 1000) >= 0)
					ipk_recv_release(v);
				else
					ipk_recv(v, buf, sizeof buf, 1000);
			}
		}
		/* publish while it runs, then kill it wherever it is */
		int64_t until = ipkt_now_ms() + (rand_r(&seed) % 20);
		while (ipkt_now_ms() < until) {
			size_t len = len_for(n);
			fill(msg, len, n);
			cr_assert_eq(ipk_send(p, msg, len, 5000), (ssize_t)len, "%s",
			             ipk_last_error());
			n++;
			/* the survivor keeps up */
			ipk_msginfo info = {0};
			uint64_t got;
			ssize_t l = ipk_recvmsg(keep, buf, sizeof buf, &info, 5000);
			cr_assert(l >= 8 && intact(buf, (size_t)l, &got));
			cr_assert_eq(got, n - 1);
			cr_assert_eq(info.missed, 0);
		}
		kill(k, SIGKILL);
		ipkt_wait_child(k);
	}
	/* the dead ones hold nothing back: a lap's worth more goes through */
	for (int i = 0; i < 2000; i++, n++) {
		size_t len = len_for(n);
		fill(msg, len, n);
		cr_assert_eq(ipk_send(p, msg, len, 5000), (ssize_t)len, "%s",
		             ipk_last_error());
		uint64_t got;
		ssize_t l = ipk_recv(keep, buf, sizeof buf, 5000);
		cr_assert(l >= 8 && intact(buf, (size_t)l, &got) && got == n);
	}
	cr_assert_eq(ipk_subscribers(p), 1);
	ipk_close(keep);
	ipk_close(p);
}
