/*
 * A ring removed by force (ipckit rm -f, ipk_remove_flags FORCE) under a
 * listener that waits in poll() on its doorbell: the remover rings the
 * doorbell and the listener's receive reports the removal (-EIDRM). Before,
 * nobody rang it and an event loop without a timeout waited for good.
 * shm:, mmap: and sysvshm: rings. (Not named test_ring_*: Criterion cannot
 * set up its arena under ThreadSanitizer here, as for test_shm_register;
 * the processes share nothing a thread sanitizer would watch.)
 */
#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ipckit.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The listener: 0 if its poll woke and the receive said -EIDRM; 2 poll did
   not wake in 10 s; 3 the receive said something else; 1 set-up. */
static int listener(const char *url, int ready)
{
	ipk_chan *c;
	if (ipk_listen(&c, url) < 0)
		return 1;
	int fd = ipk_fd(c);
	if (fd < 0 || write(ready, "r", 1) != 1)
		return 1;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 10000) != 1)
		return 2;
	char buf[64];
	ssize_t n = ipk_recv(c, buf, sizeof buf, 0);
	if (n != -EIDRM) {
		fprintf(stderr, "listener: receive gave %zd: %s\n", n,
		        ipk_last_error());
		return 3;
	}
	ipk_close(c);
	return 0;
}

static void removed_under_a_poller(const char *url)
{
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(ready[0]);
		_exit(listener(url, ready[1]));
	}
	close(ready[1]);
	char r;
	cr_assert_eq(read(ready[0], &r, 1), 1, "%s: the listener did not start",
	             url);
	close(ready[0]);
	/* live: refused unless forced */
	cr_expect_eq(ipk_remove(url), -EBUSY, "%s: %s", url, ipk_last_error());
	cr_assert_eq(ipk_remove_flags(url, IPK_REMOVE_FORCE), 0, "%s: %s", url,
	             ipk_last_error());
	int rc = ipkt_wait_child(pid);
	cr_expect_eq(rc, 0, "%s: the listener %s", url,
	             rc == 2 ? "was never woken: its poll timed out"
	                     : "did not see the removal (see its stderr)");
	cr_expect_eq(ipk_remove(url), -ENOENT, "%s is still there", url);
}

Test(ring_removed, shm)
{
	char url[128];
	snprintf(url, sizeof url, "shm:%s?size=64K", ipkt_name("rmw"));
	removed_under_a_poller(url);
}

Test(ring_removed, mmap)
{
	char url[300];
	snprintf(url, sizeof url, "mmap:%s?size=64K", ipkt_path("rmw"));
	removed_under_a_poller(url);
}

Test(ring_removed, sysvshm)
{
	char url[128];
	snprintf(url, sizeof url, "sysvshm:0x%08x?size=64K",
	         0x7d000000u | ((unsigned)getpid() & 0xffffffu));
	removed_under_a_poller(url);
}
