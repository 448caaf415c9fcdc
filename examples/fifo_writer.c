/*
 * Send each MESSAGE to the FIFO at PATH, waiting up to 10 seconds for a
 * reader (fifo_reader) to create it.
 *
 *   $ fifo_writer /tmp/jobs "first job" "second job"
 */
#include <ipckit.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char *argv[])
{
	char url[4096];
	ipk_chan *fifo;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PATH MESSAGE...\n", argv[0]);
		return 2;
	}
	snprintf(url, sizeof url, "fifo:%s", argv[1]);
	if (ipk_dial(&fifo, url, 10000) < 0) {
		fprintf(stderr, "%s: %s\n", url, ipk_last_error());
		return 1;
	}
	for (int i = 2; i < argc; i++)
		if (ipk_send(fifo, argv[i], strlen(argv[i]), 10000) < 0) {
			fprintf(stderr, "send: %s\n", ipk_last_error());
			ipk_close(fifo);
			return 1;
		}
	return ipk_close(fifo) < 0;
}
