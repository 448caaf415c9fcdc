/* Boost.Interprocess message_queue behind a C interface (peer_bipc_mq.cpp),
 * for the bipc-mq peer row (peer_bipc.c). Failures are a negative errno
 * with the library's message in err. */
#ifndef IPK_BENCH_PEER_BIPC_H
#define IPK_BENCH_PEER_BIPC_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bench_bipc;

/* Make a queue of depth messages of at most size bytes (it must not exist). */
int bench_bipc_create(const char *name, size_t depth, size_t size, char *err,
                      size_t cap);
/* Attach to an existing queue. */
int bench_bipc_open(struct bench_bipc **q, const char *name, char *err,
                    size_t cap);
/* Blocking send and receive, as a Boost user writes them. */
int bench_bipc_send(struct bench_bipc *q, const void *buf, size_t len,
                    char *err, size_t cap);
ssize_t bench_bipc_recv(struct bench_bipc *q, void *buf, size_t len,
                        char *err, size_t cap);
void bench_bipc_close(struct bench_bipc *q);
/* Remove the queue's name; nothing happens when it does not exist. */
void bench_bipc_remove(const char *name);

#ifdef __cplusplus
}
#endif

#endif
