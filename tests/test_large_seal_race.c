/*
 * A large message's memfd (unix: ?large) whose sender shrinks it and only
 * then seals it, while the receiver checks it: the size the receiver goes
 * by must be the one the seals fixed, never one read before them, or it
 * maps (and lends) more bytes than the file has and the caller dies of
 * SIGBUS reading them.
 *
 * The race is made certain, not hoped for: this program's fcntl (which the
 * library, linked in statically, calls) lets the hostile sender act at the
 * moment the receiver asks for the seals.
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ipckit.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define STATED ((size_t)1 << 20) /* what the frame says, and the first size */
#define SHRUNK ((size_t)4096)     /* the size it is sealed at */

/* the hostile sender's own descriptor of the memfd it sent (-1: idle) */
static int shrink_fd = -1;

int fcntl(int fd, int cmd, ...)
{
	static int (*real)(int, int, ...);
	if (real == NULL)
		real = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (cmd == F_GET_SEALS && shrink_fd >= 0) {
		int mine = shrink_fd;
		shrink_fd = -1;
		/* the receiver is checking: shrink, then seal for good */
		if (ftruncate(mine, (off_t)SHRUNK) < 0 ||
		    real(mine, F_ADD_SEALS, ALL_SEALS) < 0)
			abort();
	}
	return real(fd, cmd, arg);
}

Test(large_race, shrunk_then_sealed_while_checked_is_refused)
{
	const char *name = ipkt_name("seal") + 1;
	char url[300];
	snprintf(url, sizeof url, "unix:@%s?large=64K&maxmsg=4M", name);
	ipk_chan *l = ipkt_listen_ok(url), *c;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	memcpy(sun.sun_path + 1, name, n);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0);
	cr_assert_eq(connect(s, (struct sockaddr *)&sun,
	                     (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	                                 1 + n)),
	             0, "connect: %s", strerror(errno));

	/* the SP header, with the marker that says "I take large messages" */
	int marker = memfd_create("ipkt-marker", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert_geq(marker, 0);
	cr_assert_eq(fcntl(marker, F_ADD_SEALS, ALL_SEALS), 0);
	static const unsigned char hdr[8] = {0, 'S', 'P', 0, 0, 0x10, 0, 0};
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec v = {(void *)hdr, sizeof hdr};
	struct msghdr mh = {.msg_iov = &v, .msg_iovlen = 1,
	                    .msg_control = ctl.space,
	                    .msg_controllen = sizeof ctl.space};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &marker, sizeof marker);
	cr_assert_eq(sendmsg(s, &mh, MSG_NOSIGNAL), 8);
	close(marker);
	cr_assert_eq(ipk_accept(l, &c, 10000), 0, "%s", ipk_last_error());
	unsigned char theirs[8];
	cr_assert_eq(read(s, theirs, 8), 8);

	/* a memfd frame stating STATED bytes, with an unsealed memfd of that
	   size: it is shrunk and sealed while the receiver checks it */
	int mfd = memfd_create("ipkt-racer", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert_geq(mfd, 0);
	cr_assert_eq(ftruncate(mfd, (off_t)STATED), 0);
	unsigned char f[25] = {2, 0, 0, 0, 0, 0, 0, 0, 16};
	for (int i = 0; i < 8; i++)
		f[9 + i] = (unsigned char)((uint64_t)STATED >> (56 - 8 * i));
	v = (struct iovec){f, sizeof f};
	memcpy(CMSG_DATA(cm), &mfd, sizeof mfd);
	cr_assert_eq(sendmsg(s, &mh, MSG_NOSIGNAL), (ssize_t)sizeof f);
	shrink_fd = mfd;

	const void *p = NULL;
	ssize_t got = ipk_recv_peek(c, &p, 10000);
	cr_assert_lt(shrink_fd, 0, "the receiver never asked for the seals");
	cr_assert_eq(got, -EPROTO,
	             "a memfd of %zu bytes (sealed after it was looked at) was "
	             "lent as %zd bytes%s%s", SHRUNK, got, got < 0 ? ": " : "",
	             got < 0 ? ipk_last_error() : "");
	cr_assert_null(p);
	cr_assert(strstr(ipk_last_error(), "memfd of 4096 bytes"), "%s",
	          ipk_last_error());
	close(mfd);
	close(s);
	ipk_close(c);
	ipk_close(l);
}
