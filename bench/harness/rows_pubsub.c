/*
 * The publish/subscribe family: one publisher (the runner) and 1, 2 or 4
 * subscribers (fan-out receivers, each a process of its own); throughput
 * only: messages per second that reached the subscriber that got the
 * fewest, beside what was sent (fanout.c says how a lossy stream ends).
 *
 * ipckit's rows: three per transport (1, 2, 4 subscribers). The runner
 * listens with ?proto=pub before fork and publishes on it; each subscriber
 * dials with ?proto=sub&topic (the empty topic: everything). Shared memory
 * is a broadcast ring every subscriber reads in place (slow=drop, the
 * default: a subscriber that falls a lap behind loses messages, and the
 * count shows it); unix: and tcp: send each subscriber a copy.
 */
#define _GNU_SOURCE
#include "rows.h"

#define PUBSUB(id_, scheme_, label_, n_, listen_, dial_)                  \
	IPK_ROW(id_, scheme_, label_, .topo = BENCH_FANOUT, .listen = listen_, \
	        .dial = dial_, .thr = true, .fanout = n_)

#define SHM_PUB "shm:/{name}?size={ring}&proto=pub"
#define SHM_SUB "shm:/{name}?proto=sub&topic"
#define UNIX_PUB "unix:@{name}?proto=pub"
#define UNIX_SUB "unix:@{name}?proto=sub&topic"
#define TCP_PUB "tcp://127.0.0.1:0?proto=pub"
#define TCP_SUB "{addr}&topic" /* the publisher's address says proto=sub */

static const struct bench_row rows[] = {
	PUBSUB("shm-pub-1", "shm", "shm: PUB/SUB 1 subscriber", 1, SHM_PUB,
	       SHM_SUB),
	PUBSUB("shm-pub-2", "shm", "shm: PUB/SUB 2 subscribers", 2, SHM_PUB,
	       SHM_SUB),
	PUBSUB("shm-pub-4", "shm", "shm: PUB/SUB 4 subscribers", 4, SHM_PUB,
	       SHM_SUB),
	PUBSUB("unix-pub-1", "unix", "unix: PUB/SUB 1 subscriber", 1, UNIX_PUB,
	       UNIX_SUB),
	PUBSUB("unix-pub-2", "unix", "unix: PUB/SUB 2 subscribers", 2, UNIX_PUB,
	       UNIX_SUB),
	PUBSUB("unix-pub-4", "unix", "unix: PUB/SUB 4 subscribers", 4, UNIX_PUB,
	       UNIX_SUB),
	PUBSUB("tcp-pub-1", "tcp", "tcp: PUB/SUB 1 subscriber", 1, TCP_PUB,
	       TCP_SUB),
	PUBSUB("tcp-pub-2", "tcp", "tcp: PUB/SUB 2 subscribers", 2, TCP_PUB,
	       TCP_SUB),
	PUBSUB("tcp-pub-4", "tcp", "tcp: PUB/SUB 4 subscribers", 4, TCP_PUB,
	       TCP_SUB),
	PEER("nng-pub-ipc-1", "unix", "nng PUB/SUB ipc:// 1 subscriber",
	     NNG_DRV(bench_nng_pubsub_driver), NNG_OK, NNG_MISSING, "unix-pub-1 shm-pub-1",
	     .listen = "ipc:///tmp/{name}.ipc", .dial = "ipc:///tmp/{name}.ipc",
	     .thr = true, .fanout = 1),
	PEER("nng-pub-ipc-2", "unix", "nng PUB/SUB ipc:// 2 subscribers",
	     NNG_DRV(bench_nng_pubsub_driver), NNG_OK, NNG_MISSING, "unix-pub-2 shm-pub-2",
	     .listen = "ipc:///tmp/{name}.ipc", .dial = "ipc:///tmp/{name}.ipc",
	     .thr = true, .fanout = 2),
	PEER("nng-pub-ipc-4", "unix", "nng PUB/SUB ipc:// 4 subscribers",
	     NNG_DRV(bench_nng_pubsub_driver), NNG_OK, NNG_MISSING, "unix-pub-4 shm-pub-4",
	     .listen = "ipc:///tmp/{name}.ipc", .dial = "ipc:///tmp/{name}.ipc",
	     .thr = true, .fanout = 4),
};

const struct bench_family bench_family_pubsub = {
	.id = "pubsub",
	.title = "PUB/SUB: one publisher, 1, 2 or 4 subscribers (throughput)",
	.rows = rows,
	.nrows = sizeof rows / sizeof rows[0],
};
