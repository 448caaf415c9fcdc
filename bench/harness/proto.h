/* Records the runner and the echo send to the parent over the result pipe.
 * Each is written with one write(2) smaller than PIPE_BUF, so it is atomic. */
#ifndef IPK_BENCH_PROTO_H
#define IPK_BENCH_PROTO_H

#include "bench.h"

#include <limits.h>

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

/* Tell the parent the pid of an echo process (runner side). */
void bench_tell_echo(pid_t pid);
/* Report an echo's failure to the parent and exit. */
_Noreturn void bench_echo_die(const struct bench_link *l, int code);

#endif
