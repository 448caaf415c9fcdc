/*
 * What the protocol layer asks of a ring channel beyond the transport ops
 * (src/proto/back.c reads requests and replies where they lie).
 */
#ifndef IPK_TRANSPORT_SHMRING_H
#define IPK_TRANSPORT_SHMRING_H

#include "../core/internal.h"

/* ipk_recv_peek with a deadline (IPK__NOW, IPK__NEVER or a time), so a
   caller that holds one reads no clock to turn it into milliseconds and
   back. c must be a ring channel that receives (shm:, sysvshm:, mmap:). */
ssize_t ipk__ring_chan_peek(ipk_chan *c, const void **buf, int64_t deadline);

/* ipk_send_borrow and ipk_send_commit with a deadline, for a ring channel
   that sends (the protocol layer writes its header and the body straight
   into the ring). */
ssize_t ipk__ring_chan_borrow(ipk_chan *c, void **buf, size_t len,
                              int64_t deadline);
ssize_t ipk__ring_chan_commit(ipk_chan *c, size_t len);

/* ipk_recv_release for a ring channel the caller knows peeked. */
void ipk__ring_chan_release(ipk_chan *c);

#endif
