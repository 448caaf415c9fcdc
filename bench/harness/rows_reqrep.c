/*
 * The request/reply family: a request and its reply, timed as a round trip
 * (REQ in the runner, REP in the echo); latency only, since a REQ socket
 * has one request outstanding and its rate is one over the round trip.
 *
 * ipckit's rows, one per transport, each with the PAIR row of its scheme
 * as its baseline (run right after it); nng's rows compare with
 * "unix-req" and "tcp-req". The server listens with ?proto=rep before the
 * fork, the client dials ?proto=req.
 */
#define _GNU_SOURCE
#include "rows.h"

#define REQ_ROW(id_, scheme_, listen_, dial_, ...)                           \
	IPK_ROW(id_, scheme_, scheme_ ": REQ/REP", .topo = BENCH_SERVER,          \
	        .listen = listen_, .dial = dial_, .lat = true,                    \
	        .baseline = scheme_, __VA_ARGS__)

static const struct bench_row rows[] = {
	REQ_ROW("unix-req", "unix", "unix:@{name}?proto=rep",
	        "unix:@{name}?proto=req"),
	REQ_ROW("tcp-req", "tcp", "tcp://127.0.0.1:0?proto=rep", "{addr}"),
	REQ_ROW("unixgram-req", "unixgram", "unixgram:@{name}?proto=rep",
	        "unixgram:@{name}?proto=req", .limit = bench_limit_unixgram),
	REQ_ROW("sysvmq-req", "sysvmq", "sysvmq:{key}?proto=rep",
	        "sysvmq:{key}?proto=req", .limit = bench_limit_sysvmq),
	/* the queues' default message size: requests carry a header */
	REQ_ROW("mq-req", "mq", "mq:/{name}?proto=rep", "mq:/{name}?proto=req"),
	REQ_ROW("fifo-req", "fifo", "fifo:/tmp/{name}?proto=rep",
	        "fifo:/tmp/{name}?proto=req"),
	REQ_ROW("shm-req", "shm", "shm:/{name}?proto=rep&size={ring}&wait={wait}",
	        "shm:/{name}?proto=req&size={ring}&wait={wait}", .waits = true),
	PEER("nng-req-ipc", "unix", "nng REQ/REP ipc://",
	     NNG_DRV(bench_nng_reqrep_driver), NNG_OK, NNG_MISSING, "unix-req",
	     .listen = "ipc:///tmp/{name}.ipc", .dial = "ipc:///tmp/{name}.ipc",
	     .lat = true),
	PEER("nng-req-tcp", "tcp", "nng REQ/REP tcp://",
	     NNG_DRV(bench_nng_reqrep_driver), NNG_OK, NNG_MISSING, "tcp-req",
	     .listen = "tcp://127.0.0.1:0", .dial = "{addr}", .lat = true),
};

const struct bench_family bench_family_reqrep = {
	.id = "reqrep",
	.title = "REQ/REP: a request and its reply (latency)",
	.rows = rows,
	.nrows = sizeof rows / sizeof rows[0],
};
