/* Records the runner and the echo send to the parent over the result pipe.
 * Each is written with one write(2) smaller than PIPE_BUF, so it is atomic. */
#ifndef IPK_BENCH_PROTO_H
#define IPK_BENCH_PROTO_H

#include "bench.h"

#include <limits.h>
#include <stdint.h>

enum { REC_ECHO_PID = 1, REC_RESULT, REC_ERROR };

struct bench_record {
	int type;
	pid_t pid;
	int code;                  /* REC_ERROR: negative errno */
	char msg[BENCH_REASON];    /* REC_ERROR */
	struct bench_result result; /* REC_RESULT */
};

_Static_assert(sizeof(struct bench_record) <= PIPE_BUF,
               "records must be written atomically");

/* Commands from the runner to each echo over its command pipe. */
#define CMD_LATENCY 'L'
#define CMD_STREAM 'T'
#define CMD_FANOUT 'F' /* then the run's number, 4 bytes */

/* What a fan-out receiver tells the runner over the answer pipe they all
 * share (one write each, smaller than PIPE_BUF, so never interleaved). */
enum { FAN_HEARD = 1, FAN_DONE };
struct bench_fan_msg {
	int32_t index, type;
	uint32_t run;
	int64_t count; /* FAN_DONE: data messages received */
};

/* One job's runner side, once its echoes are ready. */
struct bench_phase {
	struct bench_link *l;
	const struct bench_driver *d;
	int cmdfd[BENCH_MAX_FANOUT]; /* one per echo */
	int nechoes;
	int ansfd;                   /* fan-out answers, non-blocking */
	unsigned char *tx, *rx;
	size_t size;
};

bool bench_write_full(int fd, const void *buf, size_t len);
bool bench_read_full(int fd, void *buf, size_t len);

/* fanout.c: a stream to every receiver of a fan-out row, and a receiver's
   side of it (after CMD_FANOUT; returns when the stream is over) */
int bench_fanout_stream(struct bench_phase *ph, struct bench_result *r);
void bench_fanout_echo(struct bench_link *l, int cmdfd, int ansfd,
                       unsigned char *buf);

/* Tell the parent the pid of an echo process (runner side). */
void bench_tell_echo(pid_t pid);
/* Report an echo's failure to the parent and exit. */
_Noreturn void bench_echo_die(const struct bench_link *l, int code);

#endif
