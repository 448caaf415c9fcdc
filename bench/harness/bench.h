/*
 * The measurement harness behind `ipckit bench` (the ipckit-bench program).
 *
 * Every mechanism is one row of a table that says how to address it and
 * which driver moves its messages; rows come in families (pair, reqrep,
 * pubsub, large, ref: rows_*.c, listed in rows.c). A row with waiting modes
 * becomes one series per mode. The plan is series x sizes = jobs; each job
 * runs in a forked "runner" process that forks its "echo" peer (or several
 * receivers, for a fan-out row), measures, and sends one result record back
 * to the parent, which owns the watchdog, Ctrl-C and the removal of every
 * named object the job may have left.
 */
#ifndef IPK_BENCH_H
#define IPK_BENCH_H

#include <ipckit.h>

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#define BENCH_MAX_SIZES 16
#define BENCH_MAX_REPS 32
#define BENCH_REASON 240
#define BENCH_ADDR 256
#define BENCH_MAX_ROWS 128
#define BENCH_MAX_FANOUT 8 /* receivers of one fan-out row */

/* First byte of a message: data, end of a phase, end-of-stream answer, and
 * for fan-out rows the "are you there" before a stream (the last two carry
 * the run's number in bytes 1-4). */
#define BENCH_DATA 'D'
#define BENCH_STOP 'S'
#define BENCH_ACK 'A'
#define BENCH_SYNC 'Y'

enum bench_kind { BENCH_IPCKIT, BENCH_RAW, BENCH_PEER, BENCH_REF };

enum bench_topo {
	BENCH_PAIR,    /* ipk_pair() before fork, one end each */
	BENCH_SERVER,  /* runner listens before fork, echo serves, runner dials */
	BENCH_MAILBOX, /* one inbox each (listen receives); each dials the other */
	BENCH_SIGNAL,  /* each listens on itself; each dials the other's pid */
	BENCH_FANOUT,  /* runner listens before fork and sends on it; every
	                  receiver dials (publish/subscribe) */
};

struct bench_family;
struct bench_link;
struct bench_job;
struct bench_result;
struct bench_report;
struct bench_row;

/* How a row's messages move. Every message of a job is job->size bytes. */
struct bench_driver {
	/* runner, before fork: what both sides need (listeners, queues) */
	int (*prepare)(struct bench_link *l);
	/* echo, after fork, before it reports ready; may fill l->addr */
	int (*echo_open)(struct bench_link *l);
	/* echo, after ready: accept a connection (optional) */
	int (*echo_accept)(struct bench_link *l);
	/* runner, once the echo is ready (l->addr is what the echo filled) */
	int (*runner_open)(struct bench_link *l);
	ssize_t (*send)(struct bench_link *l, const void *buf, size_t len);
	ssize_t (*recv)(struct bench_link *l, void *buf, size_t cap);
	/* runner at the end (the echo is gone): close and remove */
	void (*close)(struct bench_link *l);
	/* parent: remove what a killed run may have left; idempotent */
	void (*cleanup)(const struct bench_job *j);
	/* a whole measurement of its own instead of the ping-pong (refs) */
	void (*measure)(struct bench_job *j, struct bench_result *r);
	/* runner, optional: push out what send may have held back (batching);
	   called after the last message of a stream, before its answer */
	int (*flush)(struct bench_link *l);
	size_t headroom; /* bytes the driver may use in front of a buffer */
};

struct bench_row {
	const char *id;     /* "pipe", "raw-pipe", "nng-ipc", "ref-memcpy" */
	enum bench_kind kind;
	const char *scheme; /* ipckit scheme the row measures or compares with */
	const char *label;  /* for tables */
	enum bench_topo topo;
	/* address templates: {name} {key} {size} {ring} {wait} {maxmsg} {pid}
	   {addr}; "listen" makes the object, "dial" attaches to it */
	const char *listen;
	const char *dial;
	bool waits;         /* has ?wait=spin|hybrid|block */
	bool lat, thr;      /* which measurements apply */
	bool busy;          /* spins while it waits (references) */
	bool spins_first;   /* spins briefly, then sleeps, like a hybrid ring */
	/* its own message sizes (0-terminated), measured instead of --sizes */
	const size_t *sizes;
	/* latency at each larger size against the smallest size's, same series
	   ("a 16 MiB round trip costs 2.1x a 64 B one") */
	bool size_ratio;
	/* fan-out: the runner sends to this many receivers (echo processes),
	   each counts what arrives and answers the end of a stream over the
	   harness's own pipe; throughput only. 0: one echo, PAIR fashion. */
	int fanout;
	const struct bench_family *family; /* set by bench_rows_init() */
	/* largest message (0: no limit of its own); why says which limit */
	size_t (*limit)(char *why, size_t cap);
	const struct bench_driver *drv;
	const char *baseline; /* raw row an ipckit row is compared with */
	/* peer rows: the series they are compared with, space-separated series
	   ids ("unix", "shm:block mq"); ratio = that series / this peer */
	const char *versus;
	bool available;       /* peers: library found at build time */
	const char *missing;  /* why not available */
};

/* A family of rows: one table (rows_*.c), one line in rows.c. */
struct bench_family {
	const char *id;    /* "pair", "reqrep", "pubsub", "large", "ref" */
	const char *title; /* what its rows measure, for --list */
	const struct bench_row *rows;
	size_t nrows;
};
extern const struct bench_family bench_family_pair, bench_family_reqrep,
	bench_family_pubsub, bench_family_large, bench_family_refs;

/* Every family's rows in one table, in family order (bench_rows_init). */
extern const struct bench_row *bench_rows;
extern size_t bench_nrows;
void bench_rows_init(void);
const struct bench_row *bench_row_find(const char *id);
/* The next series id of a versus list into id; NULL at the end:
   for (p = row->versus; (p = bench_versus_next(p, id, sizeof id));) */
const char *bench_versus_next(const char *list, char *id, size_t cap);
/* Does a peer's versus list name a series of this row (any waiting mode)? */
bool bench_versus_row(const struct bench_row *peer, const char *row_id);

enum bench_state { SERIES_RUN, SERIES_NOT_BUILT, SERIES_UNAVAILABLE };

/* A row in one waiting mode: what tables and charts show as one line. */
struct bench_series {
	const struct bench_row *row;
	const char *wait; /* NULL, "spin", "hybrid", "block" */
	bool busy;        /* busy-polls: not comparable with a blocking figure */
	char id[48];      /* "shm:spin", "raw-pipe" */
	char label[64];
	enum bench_state state;
	char reason[BENCH_REASON];
};

struct bench_config {
	size_t sizes[BENCH_MAX_SIZES];
	int nsizes;
	int reps;           /* measured repetitions (one warm-up run besides) */
	long iterations;    /* round trips / messages per run at most */
	double seconds;     /* time for one measurement, all its runs */
	double timeout;     /* watchdog for one job, seconds */
	bool pin;           /* pin every row (busy-polling rows always are) */
	int cpu[2];         /* runner's and echo's CPU; -1 if fewer than two */
	bool quick;
	bool baselines, peers;
	const char *transports; /* comma list, NULL for all */
	bool progress;      /* draw a bar on stderr */
};

/* Round-trip times pooled over every run of a figure, in buckets 1 % wide
 * from 1 ns to about 100 s: p99 and p99.9 come from here (within 1 %). */
#define BENCH_HIST_N 2560
#define BENCH_HIST_MIN_US 0.001
#define BENCH_HIST_STEP 1.01
struct bench_hist {
	uint32_t n[BENCH_HIST_N];
};

struct bench_job {
	const struct bench_series *s;
	const struct bench_config *cfg;
	int series;         /* index */
	size_t size;
	int index;
	char name[2][48];   /* unique object names; [0] runner's, [1] echo's */
	char key[2][16];    /* System V keys "0x...." */
	size_t ring;        /* ring capacity for shared-memory rows */
	long maxmsg;        /* queue depth for mq */
	bool run;           /* false: the result is already decided (skipped) */
	int batch;          /* round trips per timed latency sample */
	struct bench_hist *hist; /* shared with the runners of every round */
};

enum bench_status { BENCH_OK, BENCH_SKIPPED, BENCH_FAILED, BENCH_NOT_RUN };

struct bench_lat {      /* round trips, microseconds */
	double p50, p99, p999, max;
	double runs[BENCH_MAX_REPS]; /* median of each run */
	int nruns;
	long samples;
	int batch;          /* >1: each sample is the mean of this many */
};

struct bench_thr {      /* one-way stream */
	double rate;        /* messages/s, median of runs */
	double runs[BENCH_MAX_REPS];
	int nruns;
	long messages;      /* over all measured runs; fan-out: what the
	                       receiver that got the fewest received */
	long sent;          /* over all measured runs */
	double seconds;
};

struct bench_result {
	int series;
	size_t size;
	enum bench_status status;
	char reason[BENCH_REASON];
	bool has_lat, has_thr;
	struct bench_lat lat;
	struct bench_thr thr;
};

enum bench_metric { BENCH_LATENCY, BENCH_THROUGHPUT };

/* subject / reference, both results of the same run and size. */
struct bench_ratio {
	enum bench_metric metric;
	int subject, reference; /* result indices */
	double value;
};

struct bench_host {
	char kernel[200];
	char machine[80];
	char cpu[128];
	long cpus;
	char started[32];   /* UTC, ISO 8601 */
};

/* The cache-line floor, measured at the start and at the end of a run:
 * which way the two CPUs are placed (sharing a cache or not) decides what
 * every shared-memory figure can be. */
#define BENCH_SPLIT_NS 200 /* a round trip at or above this: split caches */
struct bench_floor {
	bool ok;
	double rtt_ns;          /* median round trip of one cache line */
	char reason[BENCH_REASON]; /* when not ok */
};
enum bench_placement { PLACE_UNKNOWN, PLACE_SHARED, PLACE_SPLIT };
enum bench_placement bench_placement_of(const struct bench_floor *f);
/* "shared-cache", "split", "unknown" */
const char *bench_placement_id(enum bench_placement p);
/* "shared cache", "split caches", "unknown" */
const char *bench_placement_text(enum bench_placement p);
/* Did the placement change between the start and the end of the run? */
bool bench_placement_changed(const struct bench_report *rep);
/* "shared cache (cache-line round trip 66 ns at the start, 64 ns at the
   end; ...)" or "CHANGED during the run: ..." */
const char *bench_placement_line(const struct bench_report *rep, char *buf,
                                 size_t cap);
#define BENCH_PLACEMENT_WARNING                                             	"the two CPUs moved between a shared cache and split caches during "   	"the run: figures taken before and after the move are not "           	"comparable (run again)"

struct bench_report {
	struct bench_config cfg;
	struct bench_host host;
	struct bench_series *series;
	int nseries;
	struct bench_job *jobs;
	struct bench_result *results; /* one per job, same index */
	int njobs;
	struct bench_ratio *ratios;
	int nratios, ratios_cap;
	double elapsed;
	bool interrupted;
	struct bench_floor floor[2]; /* at the start, at the end */
};

/* One process's side of a job. Drivers keep their state here. */
struct bench_link {
	struct bench_job *job;
	bool echo;             /* this process is the echo */
	int index;             /* which receiver of a fan-out row (from 0) */
	pid_t runner, echo_pid;
	char addr[BENCH_ADDR]; /* the echo's address for the runner */
	char err[BENCH_REASON];
	int code;              /* negative errno of the failure in err */
	/* ipckit */
	ipk_chan *own[2];      /* made before fork */
	ipk_chan *in, *out;
	const void *lent;      /* bench_ipk_lend_driver: the message peeked */
	size_t lent_len;
	/* raw system calls */
	int fd[4];
	int rfd, wfd;
	int qid;
	long tx_type, rx_type;
	int sig;
	pid_t peer;
	/* peers */
	void *ctx, *sock;
	uint32_t handle;
	/* references: a shared mapping made before fork */
	void *map;
	size_t maplen;
	uint64_t seq;
	unsigned txi, rxi;
};

/* ---- plan.c */
int bench_parse_sizes(const char *text, struct bench_config *cfg, char *why,
                      size_t cap);
void bench_config_defaults(struct bench_config *cfg, bool quick);
/* Build series and jobs from the configuration. */
int bench_plan(struct bench_report *rep, char *why, size_t cap);
void bench_report_free(struct bench_report *rep);
/* Expand an address template for one side of a job. */
int bench_expand(const char *tmpl, const struct bench_job *j, int side,
                 pid_t pid, const char *addr, char *out, size_t cap);
const char *bench_size_text(size_t n, char *buf, size_t cap);

/* ---- run.c (parent) */
extern volatile sig_atomic_t bench_stop;
void bench_run(struct bench_report *rep);

/* ---- runner.c (children) */
_Noreturn void bench_runner_main(struct bench_job *j, int resfd);
/* Record a failure in l->err and return code. */
int bench_fail(struct bench_link *l, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int64_t bench_now_ns(void);
void bench_pin(const struct bench_job *j, int which);
/* Are this series' two processes pinned to different CPUs? */
bool bench_pinned(const struct bench_config *cfg, const struct bench_series *s);
/* "busy-poll rows pinned to CPUs 0 and 1, the others not pinned" */
const char *bench_pin_text(const struct bench_config *cfg, char *buf,
                           size_t cap);
void bench_child_setup(pid_t parent);
/* Status for a failure: a limit (skipped), not built, or failed. */
void bench_classify(struct bench_result *r, int code, const char *why);

/* One measured run: its median, max and count, every sample into h. */
void bench_lat_record(struct bench_result *r, struct bench_hist *h,
                      double *samples, long n, int batch);
/* delivered: messages that arrived (at the receiver that got the fewest) */
void bench_thr_record(struct bench_result *r, long delivered, long sent,
                      double secs);
/* Time of one measured run (the warm-up before it takes half that). */
int64_t bench_run_ns(const struct bench_config *cfg);

/* ---- stats.c */
void bench_hist_add(struct bench_hist *h, double us);
double bench_hist_pct(const struct bench_hist *h, double p);
double bench_median(const double *v, int n);
/* nearest-rank percentile of sorted values */
double bench_pct(const double *sorted, long n, double p);
void bench_sort(double *v, long n);
/* range of the runs over twice the median, in percent (the "±" figure) */
double bench_spread(const double *runs, int n);
void bench_ratios(struct bench_report *rep);
/* figure a ratio of this metric is computed from */
double bench_figure(const struct bench_result *r, enum bench_metric m);

/* ---- fmt.c */
const char *bench_fmt_us(double v, char *buf, size_t cap);
const char *bench_fmt_count(double v, char *buf, size_t cap); /* 1.23M */
const char *bench_fmt_ratio(double v, char *buf, size_t cap); /* 1.05x */
const char *bench_fmt_spread(double pct, char *buf, size_t cap); /* 3.1% */
double bench_mib(const struct bench_result *r);               /* MiB/s */
const char *bench_status_text(enum bench_status s);
const char *bench_kind_text(enum bench_kind k);
int bench_result_sizes(const struct bench_report *rep, size_t *out, int cap);

/* ---- reports */
void bench_host_info(struct bench_host *h);
void bench_write_text(FILE *out, const struct bench_report *rep);
void bench_write_json(FILE *out, const struct bench_report *rep);
void bench_write_csv(FILE *out, const struct bench_report *rep);
void bench_write_html(FILE *out, const struct bench_report *rep);
void bench_progress(const struct bench_report *rep, int done, int total,
                    int current);
void bench_progress_end(const struct bench_report *rep);

/* ---- drivers */
extern const struct bench_driver bench_ipk_driver;
extern const struct bench_driver bench_ipk_lend_driver;
extern const struct bench_driver bench_raw_pipe, bench_raw_fifo,
	bench_raw_unix, bench_raw_unixgram, bench_raw_tcp, bench_raw_sysvmq,
	bench_raw_mq, bench_raw_signal;
extern const struct bench_driver bench_nng_driver, bench_nng_reqrep_driver,
	bench_nng_pubsub_driver, bench_zmq_driver, bench_bipc_driver;
/* peers.c: the echo's listen address (or a failure recorded in l), and the
   cleanup of an ipc:// socket file */
int bench_peer_url(struct bench_link *l, char *url, size_t cap);
void bench_peer_cleanup(const struct bench_job *j);
extern const struct bench_driver bench_cacheline_driver, bench_memcpy_driver,
	bench_handover_driver;
/* Round trips per timed sample for a series at a size: rows that answer
   without a system call are timed in batches, like the cache line. */
#define BENCH_BATCH 64
/* from this size on a ring's rate is compared with the hand-over */
#define BENCH_LARGE 65536
int bench_batch_for(const struct bench_series *s, size_t size);

/* limits (limits.c) */
size_t bench_limit_unixgram(char *why, size_t cap);
size_t bench_limit_sysvmq(char *why, size_t cap);
size_t bench_limit_signal(char *why, size_t cap);
/* mq: depth that fits RLIMIT_MSGQUEUE for two queues of size; 0 if none */
long bench_mq_depth(size_t size, char *why, size_t cap);

#endif
