/* Doorbell sockets: bind, poke, drain (see bell.h). */
#define _GNU_SOURCE
#include "bell.h"
#include "../core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static socklen_t bell_name(struct sockaddr_un *a, uint64_t ring_id,
                           uint32_t nonce)
{
	a->sun_family = AF_UNIX;
	a->sun_path[0] = '\0';
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1,
	                 "ipckit-bell-%016llx-%08x", (unsigned long long)ring_id,
	                 nonce);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

int ipk__bell_tx_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd >= 0 ? fd : -errno;
}

void ipk__bell_poke(int tx, uint64_t ring_id, uint32_t nonce)
{
	struct sockaddr_un a;
	socklen_t len = bell_name(&a, ring_id, nonce);
	(void)sendto(tx, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL,
	             (struct sockaddr *)&a, len);
}

void ipk__bell_drain(int fd)
{
	char buf[64];
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
		;
}

int ipk__bell_open(uint64_t ring_id, uint32_t *nonce, int keep_fd,
                   const char *what)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ipk__errno(-errno, "%s: doorbell socket", what);
	uint32_t n = 0;
	for (int tries = 0; tries < 16; tries++) {
		if (getrandom(&n, sizeof n, GRND_NONBLOCK) != sizeof n)
			n = (uint32_t)ipk__now_ns() ^ (uint32_t)getpid();
		n |= 1;
		struct sockaddr_un a;
		socklen_t len = bell_name(&a, ring_id, n);
		if (bind(fd, (struct sockaddr *)&a, len) == 0)
			break;
		if (errno != EADDRINUSE) {
			int rc = ipk__errno(-errno, "%s: bind doorbell", what);
			close(fd);
			return rc;
		}
		n = 0;
	}
	if (n == 0) {
		close(fd);
		return ipk__err(-EADDRINUSE, "%s: no free doorbell name", what);
	}
	if (keep_fd >= 0) {
		if (dup3(fd, keep_fd, O_CLOEXEC) < 0) {
			int rc = ipk__errno(-errno, "%s: dup3 doorbell", what);
			close(fd);
			return rc;
		}
		close(fd);
		fd = keep_fd;
	}
	*nonce = n;
	return fd;
}
