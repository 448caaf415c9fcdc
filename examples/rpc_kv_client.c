/*
 * A client of rpc_kv_server (the REQ side): each argument is a request,
 * each reply is printed on a line of its own.
 *
 *   rpc_kv_client ADDRESS REQUEST...
 *   rpc_kv_client 'tcp://127.0.0.1:5555?proto=req' 'SET colour blue' 'GET colour'
 *
 * Only the address changes between mechanisms (tcp:, unix:, sysvmq:,
 * shm:, ...); ?proto=req is added when the address has no ?proto=. A
 * request that gets no reply within a second is sent again (?resend=), so
 * a server that restarts still answers. Exits 0 when every reply had
 * status 0, 1 when one said NOT FOUND or ERR (status 1 or 2), 3 when a
 * request got no reply at all.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s ADDRESS REQUEST...\n", argv[0]);
		return 2;
	}
	char url[1024];
	snprintf(url, sizeof url, "%s%s", argv[1],
	         strstr(argv[1], "proto=") ? ""
	         : strchr(argv[1], '?')    ? "&proto=req&resend=1000"
	                                   : "?proto=req&resend=1000");
	ipk_chan *c;
	if (ipk_dial(&c, url, 5000) < 0) {
		fprintf(stderr, "rpc_kv_client: %s: %s\n", url, ipk_last_error());
		return 3;
	}
	int rc = 0;
	for (int i = 2; i < argc; i++) {
		if (ipk_send(c, argv[i], strlen(argv[i]), 5000) < 0) {
			fprintf(stderr, "rpc_kv_client: send: %s\n", ipk_last_error());
			rc = 3;
			break;
		}
		char reply[65536];
		ipk_msginfo info = {0};
		ssize_t n = ipk_recvmsg(c, reply, sizeof reply, &info, 10000);
		if (n < 0) {
			fprintf(stderr, "rpc_kv_client: %s: %s\n", argv[i],
			        ipk_last_error());
			rc = 3;
			break;
		}
		printf("%.*s\n", (int)n, reply);
		if (info.status > 0 && rc == 0)
			rc = 1;
	}
	ipk_close(c);
	return rc;
}
