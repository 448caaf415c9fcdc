/*
 * A ring consumer: creates a shared-memory ring and prints what arrives.
 *
 *   ring_consumer [URL]        (default shm:/ipckit-example?size=1M)
 *
 * Listening creates the ring; producers (ring_producer) dial it. Messages
 * are read in place (ipk_recv_peek / ipk_recv_release: no copy), and the
 * ring's descriptor sits in poll() the way a socket would in an event loop.
 * A ring is a mailbox: producers come and go, and a receive just waits for
 * the next one. This example stops once it has had messages and then finds
 * the ring empty with no producer attached (ipk_ring_info), or after 10 s
 * of nothing; it removes the ring on close.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	const char *url = argc > 1 ? argv[1] : "shm:/ipckit-example?size=1M";
	ipk_chan *rx;
	if (ipk_listen(&rx, url) < 0) {
		fprintf(stderr, "consumer: %s\n", ipk_last_error());
		return 1;
	}
	printf("consumer: listening on %s\n", url);
	fflush(stdout);
	struct pollfd p = {.fd = ipk_fd(rx), .events = POLLIN};
	long count = 0;
	int quiet = 0;
	for (;;) {
		/* an event loop would watch sockets here too */
		if (poll(&p, 1, 200) == 0) {
			ipk_ringinfo info;
			if (count > 0 && ipk_ring_info(rx, &info) == 0 &&
			    info.producers == 0 && info.used == 0)
				break; /* they have all gone, and nothing is left */
			if (++quiet == 50) {
				fprintf(stderr, "consumer: nothing for 10 s\n");
				break;
			}
			continue;
		}
		quiet = 0;
		const void *msg;
		ssize_t n;
		/* take everything there is, then go back to poll */
		while ((n = ipk_recv_peek(rx, &msg, 0)) >= 0) {
			printf("consumer: %.*s\n", (int)n, (const char *)msg);
			ipk_recv_release(rx);
			count++;
		}
		if (n != -EAGAIN) {
			fprintf(stderr, "consumer: %s\n", ipk_last_error());
			break;
		}
	}
	printf("consumer: %ld messages\n", count);
	return ipk_close(rx) == 0 ? 0 : 1;
}
