/*
 * A key-value store served over request/reply (the REP side).
 *
 *   rpc_kv_server ADDRESS
 *
 * The same program serves on any mechanism; only the address changes:
 *   rpc_kv_server 'tcp://127.0.0.1:5555?proto=rep'
 *   rpc_kv_server 'unix:/tmp/kv.sock?proto=rep'
 *   rpc_kv_server 'sysvmq:/tmp/kv.key?proto=rep'   (the file must exist)
 *   rpc_kv_server 'shm:/kv?proto=rep'
 * (?proto=rep is added when the address has no ?proto=.) On tcp: and
 * unix: nng's REQ is a client too:
 *   nngcat --req0 --dial tcp://127.0.0.1:5555 --data 'GET colour' -Q
 *
 * Requests are text: "SET key value", "GET key", "DEL key", "KEYS",
 * "SHUTDOWN". Replies: "OK", the value, "NOT FOUND", the keys one per
 * line, or "ERR ..." for a request it does not understand. The status of
 * a reply (ipk_msginfo.status, seen by ipckit requesters) is 0 for
 * success, 1 for NOT FOUND, 2 for an error. Prints "ready ADDRESS" (the
 * address clients dial) once listening; exits 0 after SHUTDOWN.
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXKEYS 1024

struct entry {
	char *key, *value;
};

static struct entry table[MAXKEYS];

static struct entry *find(const char *key)
{
	for (int i = 0; i < MAXKEYS; i++)
		if (table[i].key && strcmp(table[i].key, key) == 0)
			return &table[i];
	return NULL;
}

/* Answer one request into out; returns the reply's status. */
static int handle(char *req, char *out, size_t cap, int *stop)
{
	char *op = strtok(req, " ");
	char *key = strtok(NULL, " ");
	char *value = strtok(NULL, "");
	if (op == NULL) {
		snprintf(out, cap, "ERR empty request");
		return 2;
	}
	if (strcmp(op, "SHUTDOWN") == 0) {
		*stop = 1;
		snprintf(out, cap, "OK");
		return 0;
	}
	if (strcmp(op, "KEYS") == 0) {
		size_t off = 0;
		out[0] = '\0';
		for (int i = 0; i < MAXKEYS && off < cap; i++)
			if (table[i].key)
				off += (size_t)snprintf(out + off, cap - off, "%s%s",
				                        off ? "\n" : "", table[i].key);
		return 0;
	}
	if (key == NULL) {
		snprintf(out, cap, "ERR %s needs a key", op);
		return 2;
	}
	struct entry *e = find(key);
	if (strcmp(op, "GET") == 0) {
		snprintf(out, cap, "%s", e ? e->value : "NOT FOUND");
		return e ? 0 : 1;
	}
	if (strcmp(op, "DEL") == 0) {
		if (e == NULL) {
			snprintf(out, cap, "NOT FOUND");
			return 1;
		}
		free(e->key);
		free(e->value);
		e->key = e->value = NULL;
		snprintf(out, cap, "OK");
		return 0;
	}
	if (strcmp(op, "SET") == 0 && value != NULL) {
		if (e == NULL)
			for (int i = 0; i < MAXKEYS && e == NULL; i++)
				if (table[i].key == NULL)
					e = &table[i];
		if (e == NULL) {
			snprintf(out, cap, "ERR the store is full");
			return 2;
		}
		free(e->value);
		if (e->key == NULL)
			e->key = strdup(key);
		e->value = strdup(value);
		snprintf(out, cap, "OK");
		return 0;
	}
	snprintf(out, cap, "ERR unknown request '%s' (SET, GET, DEL, KEYS, "
	                   "SHUTDOWN)", op);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s ADDRESS\n", argv[0]);
		return 2;
	}
	char url[1024];
	snprintf(url, sizeof url, "%s%s", argv[1],
	         strstr(argv[1], "proto=") ? ""
	                                   : strchr(argv[1], '?') ? "&proto=rep"
	                                                          : "?proto=rep");
	ipk_chan *srv;
	if (ipk_listen(&srv, url) < 0) {
		fprintf(stderr, "rpc_kv_server: %s: %s\n", url, ipk_last_error());
		return 1;
	}
	char addr[1024];
	if (ipk_address(srv, addr, sizeof addr) < 0)
		snprintf(addr, sizeof addr, "%s", url);
	printf("ready %s\n", addr);
	fflush(stdout);
	int stop = 0, rc = 0;
	while (!stop) {
		char req[4096], out[65536];
		ipk_msginfo info = {0}; /* the receive fills its route */
		ssize_t n = ipk_recvmsg(srv, req, sizeof req - 1, &info, -1);
		if (n < 0) {
			fprintf(stderr, "rpc_kv_server: %s\n", ipk_last_error());
			rc = 1;
			break;
		}
		req[n] = '\0';
		info.status = handle(req, out, sizeof out, &stop);
		/* the same info sends the reply back to whoever asked */
		if (ipk_sendmsg(srv, out, strlen(out), &info, 5000) < 0)
			fprintf(stderr, "rpc_kv_server: reply: %s\n", ipk_last_error());
	}
	ipk_close(srv);
	return rc;
}
