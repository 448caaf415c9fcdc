/*
 * The classic pipe(2) example, on ipckit: the parent sends each argument
 * to a forked child as one message; the child prints what it receives until
 * the parent closes its end.
 *
 *   $ pipe_parent_child hello "pipe world"
 *   hello
 *   pipe world
 */
#include <errno.h>
#include <ipckit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	ipk_chan *parent_end, *child_end;

	if (argc < 2) {
		fprintf(stderr, "usage: %s LINE...\n", argv[0]);
		return 2;
	}
	if (ipk_pair("pipe:", &parent_end, &child_end) < 0) {
		fprintf(stderr, "pipe: %s\n", ipk_last_error());
		return 1;
	}

	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) { /* child: print messages until the parent closes */
		char line[4096];
		ssize_t n;

		ipk_close(parent_end);
		while ((n = ipk_recv(child_end, line, sizeof line, IPK_FOREVER)) >= 0)
			printf("%.*s\n", (int)n, line);
		if (n != -EPIPE) /* -EPIPE: the parent closed, all was read */
			fprintf(stderr, "child: %s\n", ipk_last_error());
		ipk_close(child_end);
		exit(n == -EPIPE ? 0 : 1);
	}

	/* parent: send each argument as one whole message */
	ipk_close(child_end);
	for (int i = 1; i < argc; i++)
		if (ipk_send(parent_end, argv[i], strlen(argv[i]), IPK_FOREVER) < 0) {
			fprintf(stderr, "parent: %s\n", ipk_last_error());
			break;
		}
	ipk_close(parent_end); /* the child sees the end of the stream */

	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
