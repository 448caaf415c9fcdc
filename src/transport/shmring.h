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

#endif
