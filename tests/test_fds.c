/*
 * Descriptors with messages on unix: (ipk_send_fds, ipk_recv_fds) and large
 * messages as sealed memfds (?large): descriptors reach the message they
 * were sent with, are never leaked (the process's descriptors are counted
 * before and after, error paths included), and a receiver never maps or
 * reads a memfd that is not sealed, not a memfd, or not of the size its
 * frame states: hostile senders are written by hand here.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* Lines of /proc/self/maps that mention what. */
static int mappings_of(const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* Distinct files mapped whose name has what (the maps' inode field). */
static int files_mapped(const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	char line[512];
	unsigned long seen[16];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long ino;
		if (strstr(line, what) == NULL ||
		    sscanf(line, "%*s %*s %*s %*s %lu", &ino) != 1)
			continue;
		int i = 0;
		while (i < n && seen[i] != ino)
			i++;
		if (i == n && n < 16)
			seen[n++] = ino;
	}
	fclose(f);
	return n;
}

/* A memfd holding the number seq, for telling which message it came with. */
static int tagged(uint32_t seq)
{
	int fd = memfd_create("ipkt-tag", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, &seq, sizeof seq, 0), (ssize_t)sizeof seq);
	return fd;
}

static uint32_t tag_of(int fd)
{
	uint32_t seq = 0;
	cr_assert_eq(pread(fd, &seq, sizeof seq, 0), (ssize_t)sizeof seq,
	             "descriptor %d is not a tag", fd);
	return seq;
}

Test(fds, descriptors_arrive_and_work)
{
	int base = count_fds();
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:", &a, &b);
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	int ev = eventfd(0, EFD_CLOEXEC);
	int fds[3] = {p[1], ev, tagged(7)};
	cr_assert_eq(ipk_send_fds(a, "three", 5, fds, 3, 5000), 5, "%s",
	             ipk_last_error());
	char buf[16];
	int got[8];
	size_t n = 8;
	cr_assert_eq(ipk_recv_fds(b, buf, sizeof buf, got, &n, 5000), 5, "%s",
	             ipk_last_error());
	cr_assert_eq(n, 3);
	cr_assert(memcmp(buf, "three", 5) == 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_neq(got[i], fds[i]);
		cr_assert(fcntl(got[i], F_GETFD) & FD_CLOEXEC, "not close-on-exec");
	}
	cr_assert_eq(write(got[0], "x", 1), 1); /* the pipe's own write end */
	cr_assert_eq(read(p[0], buf, 1), 1);
	uint64_t one = 1;
	cr_assert_eq(write(got[1], &one, 8), 8); /* the same eventfd */
	cr_assert_eq(read(ev, &one, 8), 8);
	cr_assert_eq(tag_of(got[2]), 7);
	/* a message without descriptors says so */
	cr_assert_eq(ipk_send(a, "none", 4, 5000), 4);
	n = 8;
	cr_assert_eq(ipk_recv_fds(b, buf, sizeof buf, got + 3, &n, 5000), 4);
	cr_assert_eq(n, 0);
	for (int i = 0; i < 3; i++) {
		close(got[i]);
		close(fds[i]);
	}
	close(p[0]);
	ipk_close(a);
	ipk_close(b);
	cr_assert_eq(count_fds(), base);
}

Test(fds, too_little_room_keeps_the_message)
{
	int base = count_fds();
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:", &a, &b);
	int fds[2] = {tagged(1), tagged(2)};
	cr_assert_eq(ipk_send_fds(a, "m", 1, fds, 2, 5000), 1);
	char buf[4];
	int got[2];
	size_t n = 1;
	cr_assert_eq(ipk_recv_fds(b, buf, sizeof buf, got, &n, 5000), -ENOBUFS);
	cr_assert_eq(n, 0);
	n = 0;
	cr_assert_eq(ipk_recv_fds(b, buf, sizeof buf, NULL, &n, 5000), -ENOBUFS);
	n = 2;
	cr_assert_eq(ipk_recv_fds(b, buf, sizeof buf, got, &n, 5000), 1);
	cr_assert_eq(n, 2);
	cr_assert_eq(tag_of(got[0]), 1);
	cr_assert_eq(tag_of(got[1]), 2);
	for (int i = 0; i < 2; i++) {
		close(got[i]);
		close(fds[i]);
	}
	ipk_close(a);
	ipk_close(b);
	cr_assert_eq(count_fds(), base);
}

/* Nobody takes them: a plain receive, a peek, a close with messages in
   the socket and in the read-ahead: all closed. */
Test(fds, untaken_descriptors_are_closed)
{
	int base = count_fds();
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:", &a, &b);
	int fds[4] = {tagged(1), tagged(2), tagged(3), tagged(4)};
	char buf[64];
	cr_assert_eq(ipk_send_fds(a, "plain", 5, fds, 4, 5000), 5);
	cr_assert_eq(ipk_recv(b, buf, sizeof buf, 5000), 5);
	cr_assert_eq(ipk_send_fds(a, "peek", 4, fds, 4, 5000), 4);
	const void *p;
	cr_assert_eq(ipk_recv_peek(b, &p, 5000), 4);
	cr_assert(memcmp(p, "peek", 4) == 0);
	cr_assert_eq(ipk_recv_release(b), 0);
	cr_assert_eq(count_fds(), base + 6, "descriptors were left open");
	/* one message read ahead with the next one's start, more queued */
	cr_assert_eq(ipk_send(a, "first", 5, 5000), 5);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(ipk_send_fds(a, "later", 5, fds, 4, 5000), 5);
	cr_assert_eq(ipk_recv(b, buf, sizeof buf, 5000), 5);
	ipk_close(b);
	ipk_close(a);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	cr_assert_eq(count_fds(), base);
}

/* Each message gets its own descriptors, however the reads cut the
   stream (batched sends put many frames in one write). */
static void owners(const char *url)
{
	int base = count_fds();
	ipk_chan *a, *b;
	ipkt_pair_ok(url, &a, &b);
	enum { N = 3000 };
	pid_t pid = fork(); /* (more than the socket holds) */
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		ipk_close(b);
		for (uint32_t i = 0; i < N; i++) {
			char msg[200];
			ipkt_fill(msg, i % 150, i);
			ssize_t r;
			if (i % 3 == 0) {
				int fd = tagged(i);
				r = ipk_send_fds(a, msg, i % 150, &fd, 1, 20000);
				close(fd);
			} else {
				r = ipk_send(a, msg, i % 150, 20000);
			}
			if (r != (ssize_t)(i % 150))
				_exit(1);
		}
		_exit(ipk_close(a) == 0 ? 0 : 2);
	}
	ipk_close(a);
	for (uint32_t i = 0; i < N; i++) {
		char msg[200];
		int fd = -1;
		size_t n = 1;
		ssize_t r = ipk_recv_fds(b, msg, sizeof msg, &fd, &n, 20000);
		cr_assert_eq(r, (ssize_t)(i % 150), "message %u: %zd (%s)", i, r,
		             r < 0 ? ipk_last_error() : "");
		cr_assert(ipkt_check(msg, i % 150, i));
		cr_assert_eq(n, i % 3 == 0 ? 1u : 0u, "message %u: %zu descriptors",
		             i, n);
		if (n) {
			cr_assert_eq(tag_of(fd), i, "message %u got message %u's", i,
			             tag_of(fd));
			close(fd);
		}
	}
	cr_assert_eq(ipkt_wait_child(pid), 0);
	ipk_close(b);
	cr_assert_eq(count_fds(), base);
}

Test(fds, each_message_gets_its_own)
{
	owners("unix:");
}

Test(fds, each_batched_message_gets_its_own)
{
	owners("unix:?batch&batchdelay=0");
}

/* The process is at its descriptor limit when they arrive: the kernel
   drops some (MSG_CTRUNC). ipk_recv_fds says so and drops the message;
   nothing stays open; the channel goes on. */
Test(fds, lost_on_the_way_in_is_reported, .timeout = 60)
{
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:", &a, &b);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		ipk_close(a);
		int base = count_fds();
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		int top = 0;
		for (int fd = 0; fd < 1024; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				top = fd;
		rl.rlim_cur = (rlim_t)top + 8;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(10);
		int fill[64], nf = 0, fd; /* every slot but one taken */
		while ((fd = dup(0)) >= 0)
			fill[nf++] = fd;
		close(fill[--nf]);
		char buf[16];
		int got[4];
		size_t n = 4;
		ssize_t r = ipk_recv_fds(b, buf, sizeof buf, got, &n, 10000);
		if (r != -EMFILE || n != 0)
			_exit(11);
		if (strstr(ipk_last_error(), "RLIMIT_NOFILE") == NULL)
			_exit(12);
		/* the plain receive delivers the same kind of message */
		r = ipk_recv(b, buf, sizeof buf, 10000);
		if (r != 4 || memcmp(buf, "next", 4) != 0)
			_exit(13);
		while (nf > 0)
			close(fill[--nf]);
		if (count_fds() != base)
			_exit(14);
		ipk_close(b);
		_exit(0);
	}
	ipk_close(b);
	int fds[3] = {tagged(1), tagged(2), tagged(3)};
	cr_assert_eq(ipk_send_fds(a, "lost", 4, fds, 3, 5000), 4);
	cr_assert_eq(ipk_send_fds(a, "next", 4, fds, 3, 5000), 4);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	ipk_close(a);
}

Test(fds, refused_where_they_cannot_pass)
{
	ipk_chan *a, *b;
	int fd = 0;
	char buf[4];
	size_t n = 1;
	ipkt_pair_ok("pipe:", &a, &b);
	cr_assert_eq(ipk_send_fds(a, "x", 1, &fd, 1, 0), -EOPNOTSUPP);
	cr_assert_eq(ipk_recv_fds(b, buf, 4, &fd, &n, 0), -EOPNOTSUPP);
	ipk_close(a);
	ipk_close(b);
	ipkt_pair_ok("unix:?raw", &a, &b);
	cr_assert_eq(ipk_send_fds(a, "x", 1, &fd, 1, 0), -EOPNOTSUPP);
	ipk_close(a);
	ipk_close(b);
	ipkt_pair_ok("unix:", &a, &b);
	int bad = -1;
	cr_assert_eq(ipk_send_fds(a, "x", 1, &bad, 1, 0), -EBADF);
	int many[IPK_MAXFDS + 1] = {0};
	cr_assert_eq(ipk_send_fds(a, "x", 1, many, IPK_MAXFDS + 1, 0), -EINVAL);
	cr_assert_eq(ipk_recv_fds(b, buf, 4, NULL, NULL, 0), -EINVAL);
	cr_assert_eq(ipk_recv(b, buf, 4, 0), -EAGAIN, "nothing was sent");
	ipk_close(a);
	ipk_close(b);
}

/* ----------------------------------------------------- large messages */

static unsigned char *big(size_t len, uint32_t seq)
{
	unsigned char *p = malloc(len);
	cr_assert_not_null(p);
	ipkt_fill(p, len, seq);
	return p;
}

Test(large, copied_out_and_lent_mapped)
{
	int base = count_fds();
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?large=64K", &a, &b);
	size_t len = (size_t)3 << 20;
	unsigned char *m = big(len, 1);
	cr_assert_eq(ipk_send(a, m, len, 5000), (ssize_t)len, "%s",
	             ipk_last_error());
	cr_assert_eq(ipk_send(a, "small", 5, 5000), 5);
	cr_assert_eq(ipk_send(a, m, len, 5000), (ssize_t)len);
	void *got;
	cr_assert_eq(ipk_recv_alloc(b, &got, NULL, 5000), (ssize_t)len, "%s",
	             ipk_last_error());
	cr_assert(memcmp(got, m, len) == 0);
	free(got);
	char s[8];
	cr_assert_eq(ipk_recv(b, s, sizeof s, 5000), 5);
	const void *p;
	int before = mappings_of("memfd:ipckit-message");
	cr_assert_eq(ipk_recv_peek(b, &p, 5000), (ssize_t)len);
	cr_assert_eq(mappings_of("memfd:ipckit-message"), before + 1,
	             "the large message was not lent as a mapping");
	cr_assert(memcmp(p, m, len) == 0);
	cr_assert_eq(ipk_recv_peek(b, &p, 0), -EBUSY);
	cr_assert_eq(ipk_recv_release(b), 0);
	cr_assert_eq(ipk_recv_release(b), -EINVAL);
	/* the channel keeps the last mapping released (one at most), for
	   the same memfd coming back; another large message replaces it */
	cr_assert_leq(mappings_of("memfd:ipckit-message"), before + 1);
	/* too small a buffer: it stays */
	cr_assert_eq(ipk_send(a, m, len, 5000), (ssize_t)len);
	cr_assert_eq(ipk_recv(b, s, sizeof s, 5000), -ENOBUFS);
	cr_assert_eq(ipk_recv_alloc(b, &got, NULL, 5000), (ssize_t)len);
	cr_assert(memcmp(got, m, len) == 0);
	free(got);
	/* closed while lent, and with a large message queued */
	cr_assert_eq(ipk_send(a, m, len, 5000), (ssize_t)len);
	cr_assert_eq(ipk_send(a, m, len, 5000), (ssize_t)len);
	cr_assert_eq(ipk_recv_peek(b, &p, 5000), (ssize_t)len);
	ipk_close(b);
	ipk_close(a);
	cr_assert_eq(mappings_of("memfd:ipckit-message"), before);
	cr_assert_eq(count_fds(), base);
	free(m);
}

/* A lent mapping sent on passes its memfd on: no new memfd is made. */
Test(large, a_peeked_message_is_forwarded)
{
	int base = count_fds();
	ipk_chan *a, *b, *c, *d;
	ipkt_pair_ok("unix:?large=64K", &a, &b);
	ipkt_pair_ok("unix:?large=64K", &c, &d);
	size_t len = (size_t)1 << 20;
	unsigned char *m = big(len, 2);
	cr_assert_eq(ipk_send(a, m, len, 5000), (ssize_t)len);
	const void *p;
	cr_assert_eq(ipk_recv_peek(b, &p, 5000), (ssize_t)len);
	cr_assert_eq(ipk_send(c, p, len, 5000), (ssize_t)len); /* relay */
	cr_assert_eq(ipk_recv_release(b), 0);
	const void *q;
	cr_assert_eq(ipk_recv_peek(d, &q, 5000), (ssize_t)len);
	cr_assert(memcmp(q, m, len) == 0);
	/* the same file: the only memfd mapped is the one the first send
	   made (b kept its mapping of it; d maps the same one) */
	cr_assert_eq(files_mapped("memfd:ipckit-message"), 1);
	cr_assert_eq(ipk_recv_release(d), 0);
	ipk_close(a);
	ipk_close(b);
	ipk_close(c);
	ipk_close(d);
	cr_assert_eq(count_fds(), base);
	free(m);
}

/* The same memfd coming back is lent from the mapping kept: the same
   address, its bytes as sent; a different one replaces it. */
Test(large, a_returning_memfd_is_lent_from_the_kept_mapping)
{
	int base = count_fds();
	ipk_chan *a, *b;
	ipkt_pair_ok("unix:?large=64K", &a, &b);
	size_t len = (size_t)1 << 20;
	unsigned char *m = big(len, 5), *m2 = big(len, 6);
	cr_assert_eq(ipk_send(a, m, len, 5000), (ssize_t)len);
	const void *p, *q, *r;
	cr_assert_eq(ipk_recv_peek(b, &p, 5000), (ssize_t)len);
	cr_assert_eq(ipk_send(b, p, len, 5000), (ssize_t)len); /* echo */
	cr_assert_eq(ipk_recv_release(b), 0);
	cr_assert_eq(ipk_recv_peek(a, &q, 5000), (ssize_t)len);
	cr_assert_eq(ipk_send(a, q, len, 5000), (ssize_t)len); /* back */
	cr_assert_eq(ipk_recv_release(a), 0);
	cr_assert_eq(ipk_recv_peek(b, &r, 5000), (ssize_t)len);
	cr_assert_eq(r, p, "the kept mapping was not reused");
	cr_assert(memcmp(r, m, len) == 0);
	cr_assert_eq(ipk_recv_release(b), 0);
	cr_assert_eq(files_mapped("memfd:ipckit-message"), 1);
	cr_assert_eq(ipk_send(a, m2, len, 5000), (ssize_t)len); /* a new one */
	cr_assert_eq(ipk_recv_peek(b, &r, 5000), (ssize_t)len);
	cr_assert(memcmp(r, m2, len) == 0);
	cr_assert_eq(ipk_recv_release(b), 0);
	ipk_close(a); /* a's kept mapping goes with it */
	cr_assert_eq(files_mapped("memfd:ipckit-message"), 1, "b keeps one");
	ipk_close(b);
	cr_assert_eq(mappings_of("memfd:ipckit-message"), 0);
	cr_assert_eq(count_fds(), base);
	free(m);
	free(m2);
}

/* ?large on one end only: both directions go through the socket, and
   large messages still arrive whole. */
static void one_sided(const char *lopt, const char *dopt)
{
	const char *name = ipkt_name("lg") + 1;
	char lurl[300], durl[300];
	snprintf(lurl, sizeof lurl, "unix:@%s%s", name, lopt);
	snprintf(durl, sizeof durl, "unix:@%s%s", name, dopt);
	ipk_chan *l = ipkt_listen_ok(lurl);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		ipk_chan *d;
		if (ipk_dial(&d, durl, 10000) < 0)
			_exit(1);
		void *m;
		ssize_t n = ipk_recv_alloc(d, &m, NULL, 10000);
		if (n <= 0 || ipk_send(d, m, (size_t)n, 10000) != n)
			_exit(2);
		_exit(ipk_close(d) == 0 ? 0 : 3);
	}
	ipk_chan *c;
	cr_assert_eq(ipk_accept(l, &c, 10000), 0, "%s", ipk_last_error());
	size_t len = (size_t)2 << 20;
	unsigned char *m = big(len, 3);
	cr_assert_eq(ipk_send(c, m, len, 10000), (ssize_t)len);
	void *got;
	cr_assert_eq(ipk_recv_alloc(c, &got, NULL, 10000), (ssize_t)len);
	cr_assert(memcmp(got, m, len) == 0);
	cr_assert_eq(ipkt_wait_child(pid), 0);
	free(got);
	free(m);
	ipk_close(c);
	ipk_close(l);
}

Test(large, works_with_it_on_one_end_only)
{
	one_sided("?large=64K", "");
	one_sided("", "?large=64K");
	one_sided("?large=64K", "?large=1M");
}

Test(large, options_checked)
{
	ipk_chan *c;
	cr_assert_eq(ipk_listen(&c, "unix:@ipkt-x?large=0"), -EINVAL);
	cr_assert_eq(ipk_listen(&c, "unix:@ipkt-x?large=big"), -EINVAL);
	cr_assert_eq(ipk_listen(&c, "unix:@ipkt-x?large&proto=rep"), -EINVAL);
	cr_assert_eq(ipk_listen(&c, "tcp://127.0.0.1:0?large"), -EINVAL);
}

/* -------------------------------------------- hostile large messages */

/* A hand-made SP peer of a ?large listener: connects, says it takes
   large messages (a sealed empty memfd with its header) and reads the
   listener's header. */
struct crafted {
	ipk_chan *l, *c;
	int fd;
};

static void send_with(int fd, const void *buf, size_t len, const int *fds,
                      int nfds)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec v = {(void *)buf, len};
	struct msghdr mh = {.msg_iov = &v, .msg_iovlen = 1};
	if (nfds) {
		mh.msg_control = ctl.space;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	cr_assert_eq(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)len, "sendmsg: %s",
	             strerror(errno));
}

static void crafted_open_with(struct crafted *k, const char *opts,
                              const int *hfds, int nh)
{
	const char *name = ipkt_name("hl") + 1;
	char url[300];
	snprintf(url, sizeof url, "unix:@%s%s", name, opts);
	k->l = ipkt_listen_ok(url);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	memcpy(sun.sun_path + 1, name, n);
	k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(k->fd, (struct sockaddr *)&sun,
	                     (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	                                 1 + n)),
	             0);
	static const unsigned char hdr[8] = {0, 'S', 'P', 0, 0, 0x10, 0, 0};
	send_with(k->fd, hdr, 8, hfds, nh);
	cr_assert_eq(ipk_accept(k->l, &k->c, 10000), 0, "%s", ipk_last_error());
	unsigned char theirs[8];
	cr_assert_eq(read(k->fd, theirs, 8), 8); /* (its marker is dropped) */
	cr_assert(memcmp(theirs, hdr, 8) == 0);
}

/* ... that says it takes large messages (a sealed empty memfd). */
static void crafted_open(struct crafted *k, const char *opts)
{
	int marker = memfd_create("ipkt-marker", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert_eq(fcntl(marker, F_ADD_SEALS, ALL_SEALS), 0);
	crafted_open_with(k, opts, &marker, 1);
	close(marker);
}

static void crafted_close(struct crafted *k)
{
	close(k->fd);
	ipk_close(k->c);
	ipk_close(k->l);
}

/* A memfd frame stating len bytes, with these descriptors. */
static void send_memfd_frame(struct crafted *k, uint64_t len, const int *fds,
                             int nfds)
{
	unsigned char f[25] = {2, 0, 0, 0, 0, 0, 0, 0, 16};
	for (int i = 0; i < 8; i++)
		f[9 + i] = (unsigned char)(len >> (56 - 8 * i));
	send_with(k->fd, f, sizeof f, fds, nfds);
}

static void send_plain(struct crafted *k, const char *text)
{
	unsigned char f[64] = {1};
	size_t n = strlen(text);
	f[8] = (unsigned char)n;
	memcpy(f + 9, text, n);
	send_with(k->fd, f, 9 + n, NULL, 0);
}

static int hostile_memfd(size_t size, int seals)
{
	int fd = memfd_create("ipkt-hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	if (seals)
		cr_assert_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* The receiver refuses the frame: -EPROTO (or the given code) from a
   peek, nothing mapped, the descriptor closed, and the next message
   arrives. */
static void refused(struct crafted *k, int code, const char *why)
{
	const void *p = NULL;
	ssize_t n = ipk_recv_peek(k->c, &p, 10000);
	cr_assert_eq(n, code, "%s: got %zd (%s)", why, n,
	             n < 0 ? ipk_last_error() : "accepted");
	cr_assert_null(p);
	/* and it says so: a refused descriptor, or a message over the limit */
	cr_assert(strstr(ipk_last_error(),
	                 code == -EMSGSIZE ? "dropped" : "refused"),
	          "%s: %s", why, ipk_last_error());
	cr_assert_eq(mappings_of("ipkt-hostile"), 0, "%s: mapped", why);
	send_plain(k, "after");
	char buf[16];
	cr_assert_eq(ipk_recv(k->c, buf, sizeof buf, 10000), 5, "%s: %s", why,
	             ipk_last_error());
	cr_assert(memcmp(buf, "after", 5) == 0);
}

Test(hostile, unsealed_writable_shrinking_or_misfit_memfds_are_refused)
{
	int base = count_fds();
	struct crafted k;
	crafted_open(&k, "?large=64K");
	struct {
		int seals;
		size_t size, says;
		const char *why;
	} cases[] = {
		{0, 4096, 4096, "unsealed"},
		{ALL_SEALS & ~F_SEAL_WRITE, 4096, 4096, "writable"},
		{ALL_SEALS & ~F_SEAL_SHRINK, 4096, 4096, "may shrink"},
		{ALL_SEALS & ~F_SEAL_GROW, 4096, 4096, "may grow"},
		{ALL_SEALS, 4096, 8192, "smaller than it says"},
		{ALL_SEALS, 8192, 4096, "larger than it says"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fd = hostile_memfd(cases[i].size, cases[i].seals);
		send_memfd_frame(&k, cases[i].says, &fd, 1);
		if (cases[i].seals == (ALL_SEALS & ~F_SEAL_SHRINK))
			cr_assert_eq(ftruncate(fd, 0), 0); /* and it does shrink */
		close(fd);
		refused(&k, -EPROTO, cases[i].why);
	}
	crafted_close(&k);
	cr_assert_eq(count_fds(), base);
}

Test(hostile, other_descriptors_where_a_memfd_belongs_are_refused)
{
	int base = count_fds();
	struct crafted k;
	crafted_open(&k, "?large=64K&maxmsg=1M");
	int p[2], sv[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	char tmpl[] = "/tmp/ipkt-plainfile-XXXXXX";
	int file = mkostemp(tmpl, O_CLOEXEC);
	cr_assert_geq(file, 0);
	unlink(tmpl);
	cr_assert_eq(ftruncate(file, 4096), 0);

	send_memfd_frame(&k, 4096, &p[0], 1);
	refused(&k, -EPROTO, "a pipe");
	send_memfd_frame(&k, 4096, &sv[0], 1);
	refused(&k, -EPROTO, "a socket");
	send_memfd_frame(&k, 4096, &file, 1);
	refused(&k, -EPROTO, "a plain file");
	send_memfd_frame(&k, 4096, NULL, 0);
	refused(&k, -EPROTO, "no descriptor");
	int fd = hostile_memfd(4096, ALL_SEALS);
	int two[2] = {fd, fd};
	send_memfd_frame(&k, 4096, two, 2);
	refused(&k, -EPROTO, "two descriptors");
	close(fd);
	/* sealed and fitting, but over ?maxmsg */
	fd = hostile_memfd((size_t)2 << 20, ALL_SEALS);
	send_memfd_frame(&k, (size_t)2 << 20, &fd, 1);
	close(fd);
	refused(&k, -EMSGSIZE, "over maxmsg");
	/* descriptors inside a payload belong to no message */
	unsigned char f[9 + 100] = {1, 0, 0, 0, 0, 0, 0, 0, 100};
	send_with(k.fd, f, 9 + 50, NULL, 0);
	send_with(k.fd, f + 59, 50, &p[1], 1);
	char buf[128];
	cr_assert_eq(ipk_recv(k.c, buf, sizeof buf, 10000), 100);
	send_plain(&k, "end");
	cr_assert_eq(ipk_recv(k.c, buf, sizeof buf, 10000), 3);

	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	close(file);
	crafted_close(&k);
	cr_assert_eq(count_fds(), base);
}

/* Descriptors with a peer's SP header that are not one sealed empty
   memfd: closed, and the peer is never sent a memfd (it gets a standard
   frame). */
Test(hostile, junk_with_the_header_is_closed_and_not_a_marker)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	int unsealed = memfd_create("ipkt-m", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int marker = memfd_create("ipkt-m", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert_eq(fcntl(marker, F_ADD_SEALS, ALL_SEALS), 0);
	int sets[][3] = {{p[0], p[1], p[0]}, {unsealed}, {p[0]}, {marker, p[0]}};
	int counts[] = {3, 1, 1, 2};
	size_t len = (size_t)128 << 10;
	unsigned char *m = big(len, 8), *got = malloc(len);
	cr_assert_not_null(got);
	for (int i = 0; i < 4; i++) {
		int base = count_fds();
		struct crafted k;
		crafted_open_with(&k, "?large=4K", sets[i], counts[i]);
		cr_assert_eq(ipk_send(k.c, m, len, 10000), (ssize_t)len);
		unsigned char h[9];
		cr_assert_eq(recv(k.fd, h, 9, MSG_WAITALL), 9);
		cr_assert_eq(h[0], 1, "case %d: a memfd frame to a peer that "
		             "never said it takes them", i);
		cr_assert_eq(recv(k.fd, got, len, MSG_WAITALL), (ssize_t)len);
		cr_assert(memcmp(got, m, len) == 0);
		crafted_close(&k);
		cr_assert_eq(count_fds(), base, "case %d: descriptors left open", i);
	}
	free(m);
	free(got);
	close(p[0]);
	close(p[1]);
	close(unsealed);
	close(marker);
}

/* A listener without ?large never said it takes memfd frames: one is a
   protocol error there. */
Test(hostile, memfd_frame_unannounced_breaks_the_connection)
{
	int base = count_fds();
	struct crafted k;
	crafted_open(&k, "");
	int fd = hostile_memfd(4096, ALL_SEALS);
	send_memfd_frame(&k, 4096, &fd, 1);
	close(fd);
	char buf[16];
	cr_assert_eq(ipk_recv(k.c, buf, sizeof buf, 10000), -EPROTO);
	cr_assert_eq(mappings_of("ipkt-hostile"), 0);
	crafted_close(&k);
	cr_assert_eq(count_fds(), base);
}

/* And a good one from the hand-made peer is taken. */
Test(hostile, a_proper_memfd_is_taken)
{
	int base = count_fds();
	struct crafted k;
	crafted_open(&k, "?large=64K");
	int fd = memfd_create("ipkt-good", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	unsigned char data[5000];
	ipkt_fill(data, sizeof data, 9);
	cr_assert_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);
	cr_assert_eq(fcntl(fd, F_ADD_SEALS, ALL_SEALS), 0);
	send_memfd_frame(&k, sizeof data, &fd, 1);
	close(fd);
	const void *p;
	cr_assert_eq(ipk_recv_peek(k.c, &p, 10000), (ssize_t)sizeof data, "%s",
	             ipk_last_error());
	cr_assert(memcmp(p, data, sizeof data) == 0);
	cr_assert_eq(mappings_of("ipkt-good"), 1);
	cr_assert_eq(ipk_recv_release(k.c), 0);
	crafted_close(&k);
	cr_assert_eq(mappings_of("ipkt-good"), 0);
	cr_assert_eq(count_fds(), base);
}

/* Descriptors sent with the middle of a long message belong to no message:
   they are closed as they come, not piled up until the message ends. */
Test(hostile, descriptors_inside_a_message_are_not_piled_up)
{
	struct crafted k;
	crafted_open(&k, "");
	int ev = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(ev, 0);
	int base = count_fds();
	enum { PIECES = 30, PIECE = 1000 }; /* (within the socket buffer) */
	unsigned char hdr[9] = {1, 0, 0, 0, 0, 0, 0, 0, 0};
	uint64_t len = (uint64_t)PIECES * PIECE + 1; /* one byte never comes */
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (unsigned char)(len >> (56 - 8 * i));
	send_with(k.fd, hdr, sizeof hdr, NULL, 0);
	static unsigned char piece[PIECE];
	for (int i = 0; i < PIECES; i++)
		send_with(k.fd, piece, sizeof piece, &ev, 1);
	static char buf[PIECES * PIECE + 16];
	cr_assert_eq(ipk_recv(k.c, buf, sizeof buf, 300), -ETIMEDOUT, "%s",
	             ipk_last_error());
	/* (the first may come in the read that brought the header: the
	   message owns that one, as if it had come with its first byte) */
	cr_assert_leq(count_fds(), base + 1, "%d descriptors held for a "
	              "message under way", count_fds() - base);
	close(ev);
	crafted_close(&k);
}
