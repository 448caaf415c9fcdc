/* Private helpers shared by the sysvmq:, mq: and signal: transports. */
#ifndef IPK_QUEUE_UTIL_H
#define IPK_QUEUE_UTIL_H

#include "../core/internal.h"

/* A number from a file like /proc/sys/kernel/msgmax; dflt if unreadable. */
long ipk__read_long(const char *path, long dflt);

/*
 * Wait a short, growing time (20 us doubling to 1 ms, later 2 and 5 ms) for
 * a mechanism the kernel gives no timeout for, never past the deadline.
 * Returns 0, or the timeout error (without a message) once it has passed.
 */
int ipk__poll_backoff(unsigned *round, int64_t deadline);

/* Transport entry points behind ipk_queue_status(). */
int ipk__sysvmq_status(ipk_chan *c, ipk_queue_info *st);
int ipk__mq_status(ipk_chan *c, ipk_queue_info *st);
int ipk__signal_status(ipk_chan *c, ipk_queue_info *st);

/* Parse the ?sig= of a signal: address (RTMIN+N, USR1, 10, ...); 0 or -errno. */
int ipk__signal_number(ipk__url *u, int *signo);

extern const struct ipk_transport ipk__sysvmq_transport;
extern const struct ipk_transport ipk__mq_transport;
extern const struct ipk_transport ipk__signal_transport;

#endif
