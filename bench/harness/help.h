/* The text of `ipckit help bench`, shared by the CLI (which prints it without
 * loading the benchmark) and ipckit-bench (which runs it). */
#ifndef IPK_BENCH_HELP_H
#define IPK_BENCH_HELP_H

#define BENCH_ARGS "[--quick] [OPTIONS]"
#define BENCH_SUMMARY "measure every mechanism side by side on this machine"

static const char bench_help[] =
	"Measures every built transport the same way, in processes made with\n"
	"fork(2): round-trip latency (ping-pong: p50, p99, p99.9, max; one-way\n"
	"is half) and one-way throughput (messages/s, MiB/s), per message size.\n"
	"Beside them, in the same run: each kernel mechanism's loop written on\n"
	"the bare system calls (ipckit's overhead is the ratio), nng, ZeroMQ\n"
	"and Boost.Interprocess when they were found at build time, a shared\n"
	"cache-line ping-pong (the floor for shared memory), a hand-over of\n"
	"each message through shared memory between two processes, and memcpy.\n"
	"Shared-memory rings are measured in each waiting mode; busy-polling\n"
	"rows are labelled as such. The cache line is measured at the start and\n"
	"at the end of the run too: the report says how the two CPUs were\n"
	"placed (sharing a cache or not), and warns when that changed.\n"
	"Rows come in families (--list): PAIR ping-pong and stream, REQ/REP\n"
	"round trips, PUB/SUB fan-out to 1, 2 and 4 subscribers, and large\n"
	"messages (16 MiB against 64 B on one transport).\n"
	"\n"
	"options:\n"
	"  --quick              a short run (about a minute on 2 cores)\n"
	"  --transports LIST    rows to run, comma-separated: scheme names\n"
	"                       (pipe, unix, shm, shm:spin ...) or row ids\n"
	"                       (raw-pipe, nng-ipc, ref-memcpy); a scheme brings\n"
	"                       its baseline and peers along (see --list)\n"
	"  --sizes LIST         message sizes (default 64,4K,64K,1M)\n"
	"  --iterations N       at most N round trips / messages per run\n"
	"  --duration SECS      time for one measurement, all runs (default 1,\n"
	"                       quick 0.15)\n"
	"  --repeat N           measured runs per figure (default 5, quick 3;\n"
	"                       one warm-up run besides)\n"
	"  --pin                pin the two processes to different CPUs\n"
	"  --no-baselines       leave out raw and reference rows\n"
	"  --no-peers           leave out nng, ZeroMQ and Boost\n"
	"  --json[=FILE]        JSON (to stdout instead of the table, or FILE)\n"
	"  --csv[=FILE]         CSV (to stdout instead of the table, or FILE)\n"
	"  --html FILE          a self-contained page with charts\n"
	"  --timeout SECS       give up on one measurement after SECS\n"
	"  --list               show the rows and how each is addressed\n"
	"\n"
	"How to read the table, and the JSON schema: docs/bench.md.\n"
	"Exit status: 0 when everything ran or was skipped for a stated reason,\n"
	"1 when a measurement failed, 2 usage error.\n";

#endif
