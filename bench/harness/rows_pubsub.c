/*
 * The publish/subscribe family: one publisher (the runner) and 1, 2 or 4
 * subscribers (fan-out receivers, each a process of its own); throughput
 * only: messages per second that reached the subscriber that got the
 * fewest, beside what was sent (fanout.c says how a lossy stream ends).
 *
 * ipckit's PUB/SUB rows go here, three per transport (1, 2, 4
 * subscribers), with the ids the peers below are compared with
 * ("unix-pub-1" ...). The runner listens and publishes, each subscriber
 * dials: drv_ipk.c needs a topology for that (docs/bench.md, "Adding a row
 * family", has the recipe). For example
 *
 *   IPK_ROW("unix-pub-2", "unix", "unix: PUB/SUB 2 subscribers",
 *           .topo = BENCH_FANOUT, .listen = "unix:@{name}?proto=pub",
 *           .dial = "unix:@{name}?proto=sub", .thr = true, .fanout = 2),
 */
#define _GNU_SOURCE
#include "rows.h"

static const struct bench_row rows[] = {
	PEER("nng-pub-ipc-1", "unix", "nng PUB/SUB ipc:// 1 subscriber",
	     NNG_DRV(bench_nng_pubsub_driver), NNG_OK, NNG_MISSING, "unix-pub-1",
	     .listen = "ipc:///tmp/{name}.ipc", .dial = "ipc:///tmp/{name}.ipc",
	     .thr = true, .fanout = 1),
	PEER("nng-pub-ipc-2", "unix", "nng PUB/SUB ipc:// 2 subscribers",
	     NNG_DRV(bench_nng_pubsub_driver), NNG_OK, NNG_MISSING, "unix-pub-2",
	     .listen = "ipc:///tmp/{name}.ipc", .dial = "ipc:///tmp/{name}.ipc",
	     .thr = true, .fanout = 2),
	PEER("nng-pub-ipc-4", "unix", "nng PUB/SUB ipc:// 4 subscribers",
	     NNG_DRV(bench_nng_pubsub_driver), NNG_OK, NNG_MISSING, "unix-pub-4",
	     .listen = "ipc:///tmp/{name}.ipc", .dial = "ipc:///tmp/{name}.ipc",
	     .thr = true, .fanout = 4),
};

const struct bench_family bench_family_pubsub = {
	.id = "pubsub",
	.title = "PUB/SUB: one publisher, 1, 2 or 4 subscribers (throughput)",
	.rows = rows,
	.nrows = sizeof rows / sizeof rows[0],
};
