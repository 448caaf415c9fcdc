/*
 * The pair family: every scheme in PAIR fashion (a ping-pong for latency, a
 * one-way stream for throughput). An ipckit row names how to address its
 * scheme; the harness needs nothing else to run it, so a scheme that is not
 * built yet shows as "not built" and lights up when its transport lands.
 * Raw rows are the same loop on the bare system calls, peer rows the
 * libraries users would otherwise pick.
 */
#define _GNU_SOURCE
#include "rows.h"

static const struct bench_row rows[] = {
	/* ipckit, one row per scheme */
	IPK("pipe", BENCH_PAIR, "pipe:", NULL, false, NULL, "raw-pipe"),
	IPK("fifo", BENCH_MAILBOX, "fifo:/tmp/{name}", "fifo:/tmp/{name}", false,
	    NULL, "raw-fifo"),
	IPK("unix", BENCH_SERVER, "unix:@{name}", "unix:@{name}", false, NULL,
	    "raw-unix"),
	IPK("unixgram", BENCH_SERVER, "unixgram:@{name}", "unixgram:@{name}",
	    false, bench_limit_unixgram, "raw-unixgram"),
	IPK("tcp", BENCH_SERVER, "tcp://127.0.0.1:0", "{addr}", false, NULL,
	    "raw-tcp"),
	IPK("sysvmq", BENCH_MAILBOX, "sysvmq:{key}", "sysvmq:{key}", false,
	    bench_limit_sysvmq, "raw-sysvmq"),
	IPK("mq", BENCH_MAILBOX, "mq:/{name}?maxmsg={maxmsg}&msgsize={size}",
	    "mq:/{name}", false, NULL, "raw-mq"),
	IPK("signal", BENCH_SIGNAL, "signal:self?sig=RTMIN+1",
	    "signal:{pid}?sig=RTMIN+1", false, bench_limit_signal, "raw-signal"),
	IPK("shm", BENCH_MAILBOX, "shm:/{name}?size={ring}&wait={wait}",
	    "shm:/{name}?wait={wait}", true, NULL, NULL),
	IPK("sysvshm", BENCH_MAILBOX, "sysvshm:{key}?size={ring}&wait={wait}",
	    "sysvshm:{key}?wait={wait}", true, NULL, NULL),
	IPK("mmap", BENCH_MAILBOX, "mmap:/tmp/{name}?size={ring}&wait={wait}",
	    "mmap:/tmp/{name}?wait={wait}", true, NULL, NULL),
	/* small messages queued in user space, one write per 64 KiB: the
	   sender batches (the listening echo does not need to) */
	IPK_ROW("unix-batch", "unix", "unix: batched", .topo = BENCH_SERVER,
	        .listen = "unix:@{name}", .dial = "unix:@{name}?batch",
	        .thr = true, .baseline = "raw-unix"),

	/* the same loop on the bare system calls */
	RAW("raw-pipe", "pipe", "raw pipe(2)", &bench_raw_pipe, NULL),
	RAW("raw-fifo", "fifo", "raw mkfifo(3)", &bench_raw_fifo, NULL),
	RAW("raw-unix", "unix", "raw AF_UNIX stream", &bench_raw_unix, NULL),
	RAW("raw-unixgram", "unixgram", "raw AF_UNIX dgram", &bench_raw_unixgram,
	    bench_limit_unixgram),
	RAW("raw-tcp", "tcp", "raw TCP loopback", &bench_raw_tcp, NULL),
	RAW("raw-sysvmq", "sysvmq", "raw msgsnd/msgrcv", &bench_raw_sysvmq,
	    bench_limit_sysvmq),
	RAW("raw-mq", "mq", "raw mq_send/receive", &bench_raw_mq, NULL),
	RAW("raw-signal", "signal", "raw sigqueue/sigwait", &bench_raw_signal,
	    bench_limit_signal),

	/* libraries users would otherwise pick */
	PEER("nng-ipc", "unix", "nng PAIR ipc://", NNG_DRV(bench_nng_driver),
	     NNG_OK, NNG_MISSING, "unix", .listen = "ipc:///tmp/{name}.ipc",
	     .dial = "ipc:///tmp/{name}.ipc", .lat = true, .thr = true),
	PEER("nng-tcp", "tcp", "nng PAIR tcp://", NNG_DRV(bench_nng_driver),
	     NNG_OK, NNG_MISSING, "tcp", .listen = "tcp://127.0.0.1:0",
	     .dial = "{addr}", .lat = true, .thr = true),
	PEER("zmq-ipc", "unix", "ZeroMQ PAIR ipc://", ZMQ_DRV(bench_zmq_driver),
	     ZMQ_OK, ZMQ_MISSING, "unix unix-batch", .listen = "ipc:///tmp/{name}.zmq",
	     .dial = "ipc:///tmp/{name}.zmq", .lat = true, .thr = true),
	/* two queues named {name} (in /dev/shm), one each way */
	PEER("bipc-mq", "shm", "Boost.Interprocess message_queue",
	     BIPC_DRV(bench_bipc_driver), BIPC_OK, BIPC_MISSING, "shm:block mq",
	     .listen = "{name}", .dial = "{name}", .lat = true, .thr = true),
};

const struct bench_family bench_family_pair = {
	.id = "pair",
	.title = "PAIR: ping-pong and one-way stream",
	.rows = rows,
	.nrows = sizeof rows / sizeof rows[0],
};
