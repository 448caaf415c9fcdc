/*
 * What `ipckit bench` measures: one row per mechanism. An ipckit row names
 * how to address its scheme; the harness needs nothing else to run it, so a
 * scheme that is not built yet shows as "not built" and lights up when its
 * transport lands. Raw rows are the same loop on the bare system calls,
 * peer rows the libraries users would otherwise pick, reference rows the
 * hardware floor.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <string.h>

#ifdef IPK_BENCH_NNG
#define NNG_DRV &bench_nng_driver
#define NNG_OK true
#else
#define NNG_DRV NULL
#define NNG_OK false
#endif
#ifdef IPK_BENCH_ZMQ
#define ZMQ_DRV &bench_zmq_driver
#define ZMQ_OK true
#else
#define ZMQ_DRV NULL
#define ZMQ_OK false
#endif

#ifdef IPK_BENCH_BIPC
#define BIPC_DRV &bench_bipc_driver
#define BIPC_OK true
#else
#define BIPC_DRV NULL
#define BIPC_OK false
#endif

#define IPK(id_, topo_, listen_, dial_, waits_, limit_, base_)               \
	{.id = id_, .kind = BENCH_IPCKIT, .scheme = id_, .label = id_ ":",        \
	 .topo = topo_, .listen = listen_, .dial = dial_, .waits = waits_,        \
	 .lat = true, .thr = true, .limit = limit_, .drv = &bench_ipk_driver,     \
	 .baseline = base_, .available = true}

#define RAW(id_, scheme_, label_, drv_, limit_)                               \
	{.id = id_, .kind = BENCH_RAW, .scheme = scheme_, .label = label_,        \
	 .lat = true, .thr = true, .limit = limit_, .drv = drv_,                  \
	 .available = true}

/* one cache line, whatever the sizes */
static const size_t line_sizes[] = {64, 0};

const struct bench_row bench_rows[] = {
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
	{.id = "nng-ipc", .kind = BENCH_PEER, .scheme = "unix",
	 .label = "nng PAIR ipc://", .listen = "ipc:///tmp/{name}.ipc",
	 .dial = "ipc:///tmp/{name}.ipc", .lat = true, .thr = true,
	 .drv = NNG_DRV, .versus = "unix", .available = NNG_OK,
	 .missing = "nng was not found when ipckit was built"},
	{.id = "nng-tcp", .kind = BENCH_PEER, .scheme = "tcp",
	 .label = "nng PAIR tcp://", .listen = "tcp://127.0.0.1:0",
	 .dial = "{addr}", .lat = true, .thr = true, .drv = NNG_DRV,
	 .versus = "tcp", .available = NNG_OK,
	 .missing = "nng was not found when ipckit was built"},
	{.id = "zmq-ipc", .kind = BENCH_PEER, .scheme = "unix",
	 .label = "ZeroMQ PAIR ipc://", .listen = "ipc:///tmp/{name}.zmq",
	 .dial = "ipc:///tmp/{name}.zmq", .lat = true, .thr = true,
	 .drv = ZMQ_DRV, .versus = "unix", .available = ZMQ_OK,
	 .missing = "libzmq was not found when ipckit was built"},
	{.id = "bipc-mq", .kind = BENCH_PEER, .scheme = "shm",
	 .label = "Boost.Interprocess message_queue", .listen = "{name}",
	 .dial = "{name}", .lat = true, .thr = true, .drv = BIPC_DRV,
	 .versus = "shm:block mq", .available = BIPC_OK,
	 .missing = "a C++ compiler or Boost.Interprocess (libboost-dev) was "
	            "not found when ipckit was built"},

	/* the hardware floor */
	{.id = "ref-cacheline", .kind = BENCH_REF, .scheme = NULL,
	 .label = "ref shared cache line", .lat = true, .busy = true,
	 .sizes = line_sizes, .drv = &bench_cacheline_driver, .available = true},
	{.id = "ref-handover", .kind = BENCH_REF, .scheme = NULL,
	 .label = "ref hand-over via shm", .lat = true, .thr = true,
	 .busy = true, .drv = &bench_handover_driver, .available = true},
	{.id = "ref-memcpy", .kind = BENCH_REF, .scheme = NULL,
	 .label = "ref memcpy", .thr = true, .drv = &bench_memcpy_driver,
	 .available = true},
};

const size_t bench_nrows = sizeof bench_rows / sizeof bench_rows[0];

const char *bench_versus_next(const char *list, char *id, size_t cap)
{
	if (list == NULL)
		return NULL;
	list += strspn(list, " ");
	size_t n = strcspn(list, " ");
	if (n == 0)
		return NULL;
	snprintf(id, cap, "%.*s", (int)n, list);
	return list + n;
}

bool bench_versus_row(const struct bench_row *peer, const char *row_id)
{
	char id[64];
	for (const char *p = peer->versus; (p = bench_versus_next(p, id, sizeof id));) {
		id[strcspn(id, ":")] = '\0';
		if (strcmp(id, row_id) == 0)
			return true;
	}
	return false;
}

const struct bench_row *bench_row_find(const char *id)
{
	for (size_t i = 0; i < bench_nrows; i++)
		if (strcmp(bench_rows[i].id, id) == 0)
			return &bench_rows[i];
	return NULL;
}
