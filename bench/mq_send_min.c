/*
 * The floor for `ipckit send mq:/NAME MESSAGE`: the smallest C program that
 * does the same (open an existing POSIX queue, send one message, exit),
 * linked with nothing but libc. bench/cli_startup.sh times both.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mq_send_min /NAME MESSAGE\n");
		return 2;
	}
	mqd_t q = mq_open(argv[1], O_WRONLY | O_CLOEXEC);
	if (q == (mqd_t)-1) {
		perror("mq_open");
		return 1;
	}
	if (mq_send(q, argv[2], strlen(argv[2]), 0) < 0) {
		perror("mq_send");
		return 1;
	}
	mq_close(q);
	return 0;
}
