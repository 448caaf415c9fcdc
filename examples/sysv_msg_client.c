/*
 * Client of sysv_msg_server: sends each argument as a request (type 1, its
 * pid first) and prints the reply, which the server sends with the client's
 * pid as the message type.
 *
 *   sysv_msg_client ADDRESS TEXT...
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define REQUEST 1

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s sysvmq:ADDRESS TEXT...\n", argv[0]);
		return 2;
	}
	ipk_chan *q;
	if (ipk_dial(&q, argv[1], 5000) < 0) { /* the queue must exist */
		fprintf(stderr, "client: %s: %s\n", argv[1], ipk_last_error());
		return 1;
	}
	int32_t pid = (int32_t)getpid();
	int status = 0;
	for (int i = 2; i < argc && status == 0; i++) {
		char req[512];
		size_t len = strlen(argv[i]);
		if (len > sizeof req - sizeof pid)
			len = sizeof req - sizeof pid;
		memcpy(req, &pid, sizeof pid);
		memcpy(req + sizeof pid, argv[i], len);
		ipk_msginfo out = {.type = REQUEST};
		if (ipk_sendmsg(q, req, sizeof pid + len, &out, 5000) < 0) {
			fprintf(stderr, "client: send: %s\n", ipk_last_error());
			status = 1;
			break;
		}
		char reply[512];
		ipk_msginfo in = {.type = pid}; /* only the replies meant for us */
		ssize_t n = ipk_recvmsg(q, reply, sizeof reply, &in, 5000);
		if (n < 0) {
			fprintf(stderr, "client: no reply: %s\n", ipk_last_error());
			status = 1;
			break;
		}
		printf("%.*s\n", (int)n, reply);
	}
	ipk_close(q); /* a dialer leaves the queue to its owner */
	return status;
}
