/*
 * The request/reply family: a request and its reply, timed as a round trip
 * (REQ in the runner, REP in the echo); latency only, since a REQ socket
 * has one request outstanding and its rate is one over the round trip.
 *
 * ipckit's REQ/REP rows go here, one per transport, with the ids the peers
 * below are compared with ("unix-req", "tcp-req"): for example
 *
 *   IPK_ROW("unix-req", "unix", "unix: REQ/REP", .topo = BENCH_SERVER,
 *           .listen = "unix:@{name}?proto=rep", .dial = "unix:@{name}?proto=req",
 *           .lat = true),
 *
 * (the address syntax being whatever the protocol layer settles on).
 */
#define _GNU_SOURCE
#include "rows.h"

static const struct bench_row rows[] = {
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
