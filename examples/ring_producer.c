/*
 * A ring producer: writes messages straight into a consumer's ring.
 *
 *   ring_producer [URL [COUNT]]   (default shm:/ipckit-example, 10)
 *
 * ipk_send_borrow() lends space inside the ring; the message is written in
 * place and published with ipk_send_commit(), so no copy is made. (ipk_send
 * does the same with a copy, for data that already sits in a buffer.)
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	const char *url = argc > 1 ? argv[1] : "shm:/ipckit-example";
	long count = argc > 2 ? atol(argv[2]) : 10;
	ipk_chan *tx;
	/* wait up to 5 s for the consumer to create the ring */
	if (ipk_dial(&tx, url, 5000) < 0) {
		fprintf(stderr, "producer: %s\n", ipk_last_error());
		return 1;
	}
	for (long i = 1; i <= count; i++) {
		void *space;
		if (ipk_send_borrow(tx, &space, 64, 5000) < 0) {
			fprintf(stderr, "producer: %s\n", ipk_last_error());
			return 1;
		}
		int n = snprintf(space, 64, "message %ld of %ld", i, count);
		ipk_send_commit(tx, (size_t)n);
	}
	printf("producer: sent %ld messages\n", count);
	return ipk_close(tx) == 0 ? 0 : 1;
}
