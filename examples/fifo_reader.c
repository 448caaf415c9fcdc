/*
 * Receive COUNT messages on a FIFO and print one per line. The reader
 * creates the FIFO (mode 0600) and removes it when done; any number of
 * writers (fifo_writer) may send to it, and their messages never mix.
 *
 *   $ fifo_reader /tmp/jobs 2 &
 *   $ fifo_writer /tmp/jobs "first job" "second job"
 *   first job
 *   second job
 */
#include <ipckit.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char *argv[])
{
	char url[4096];
	ipk_chan *fifo;

	if (argc != 3 || atoi(argv[2]) < 1) {
		fprintf(stderr, "usage: %s PATH COUNT\n", argv[0]);
		return 2;
	}
	snprintf(url, sizeof url, "fifo:%s", argv[1]);
	if (ipk_listen(&fifo, url) < 0) {
		fprintf(stderr, "%s: %s\n", url, ipk_last_error());
		return 1;
	}

	int status = 0;
	for (int i = atoi(argv[2]); i > 0; i--) {
		void *msg;
		ssize_t n = ipk_recv_alloc(fifo, &msg, NULL, IPK_FOREVER);
		if (n < 0) {
			fprintf(stderr, "receive: %s\n", ipk_last_error());
			status = 1;
			break;
		}
		printf("%.*s\n", (int)n, (char *)msg);
		fflush(stdout);
		free(msg);
	}
	ipk_close(fifo); /* removes the FIFO */
	return status;
}
