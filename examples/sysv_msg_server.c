/*
 * The classic System V message-queue server, on ipckit.
 *
 * One queue serves every client. A client sends a request of type 1 whose
 * body starts with its pid; the server answers with a message whose type is
 * that pid, so each client receives only its own replies (msgrcv by type).
 * Run sysv_msg_client against it.
 *
 *   sysv_msg_server ADDRESS [COUNT]
 *   ADDRESS: sysvmq:/some/existing/path?proj=N or sysvmq:0xKEY
 *   COUNT:   stop after this many requests (default: until a "quit")
 *
 * The server creates the queue and removes it when it exits (Ctrl-C too),
 * once the replies still queued have been taken (ipk_queue_status).
 * Readiness is announced with "ready" on stdout once the queue exists.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REQUEST 1 /* type of every request; replies use the client's pid */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s sysvmq:ADDRESS [COUNT]\n", argv[0]);
		return 2;
	}
	long count = argc > 2 ? atol(argv[2]) : -1;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ipk_chan *q;
	if (ipk_listen(&q, argv[1]) < 0) {
		fprintf(stderr, "server: %s: %s\n", argv[1], ipk_last_error());
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	int status = 0;
	for (long served = 0; count < 0 || served < count;) {
		char req[512];
		ipk_msginfo in = {.type = REQUEST}; /* only requests, never replies */
		/* wait in slices so Ctrl-C is noticed and the queue removed */
		ssize_t n = ipk_recvmsg(q, req, sizeof req - 1, &in, 200);
		if (stop)
			break;
		if (n == -ETIMEDOUT)
			continue;
		if (n < 0) {
			fprintf(stderr, "server: receive: %s\n", ipk_last_error());
			status = 1;
			break;
		}
		if ((size_t)n < sizeof(int32_t)) {
			fprintf(stderr, "server: request of %zd bytes ignored\n", n);
			continue;
		}
		int32_t pid;
		memcpy(&pid, req, sizeof pid);
		char *text = req + sizeof pid;
		size_t len = (size_t)n - sizeof pid;
		text[len] = '\0';
		served++;
		printf("request from pid %d: %s\n", (int)pid, text);
		fflush(stdout);
		if (strcmp(text, "quit") == 0)
			count = served;
		for (size_t i = 0; i < len; i++)
			text[i] = (char)toupper((unsigned char)text[i]);
		ipk_msginfo out = {.type = pid}; /* the reply goes to that client */
		if (ipk_sendmsg(q, text, len, &out, 1000) < 0) {
			fprintf(stderr, "server: reply to %d: %s\n", (int)pid,
			        ipk_last_error());
			status = 1;
			break;
		}
	}
	/* let the last client take its reply before the queue goes away */
	ipk_queue_info st;
	for (int i = 0; i < 100 && ipk_queue_status(q, &st) == 0 && st.messages;
	     i++)
		nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
	ipk_close(q); /* removes the queue: we created it */
	return status;
}
