/*
 * Publish/subscribe on shared memory (shm:, sysvshm:, mmap:): a broadcast
 * ring (src/shm/bcast.h) inside a region, with the region's lifetime, the
 * address options and the waiting that a channel needs. The PUB and SUB
 * protocols call this for the region schemes; it knows nothing of topics
 * beyond the filter they hand it.
 */
#ifndef IPK_TRANSPORT_SHMCAST_H
#define IPK_TRANSPORT_SHMCAST_H

#include "../core/internal.h"
#include "../shm/bcast.h"

struct ipk__shmcast;

/* Address options it reads (beyond the region's size, wait, spin, proj). */
#define IPK__SHMCAST_OPTIONS "slow", "history", "subs"

/* Is this channel's scheme one that carries a broadcast ring? */
bool ipk__shmcast_scheme(const ipk_chan *c);

/*
 * Become the publisher (publisher) or a subscriber of the broadcast ring
 * at c's address. listening: create the region and the ring, or take an
 * existing one over (a publisher whose predecessor died continues its
 * numbering); else wait until deadline for one to exist.
 */
int ipk__shmcast_open(struct ipk__shmcast **out, ipk_chan *c, bool publisher,
                      bool listening, int64_t deadline);
/* Leave the ring; the last process to leave removes the region unless it
   was made with ?persist. Returns the first error. */
int ipk__shmcast_close(struct ipk__shmcast *s);

/* A subscriber's filter: messages it refuses are skipped in the ring
   without being copied, and do not count as missed. */
void ipk__shmcast_filter(struct ipk__shmcast *s, ipk__bcast_match match,
                         void *arg);

ssize_t ipk__shmcast_send(struct ipk__shmcast *s, const void *buf, size_t len,
                          int64_t deadline);
ssize_t ipk__shmcast_recv(struct ipk__shmcast *s, ipk__rx *rx,
                          int64_t deadline);
ssize_t ipk__shmcast_borrow(struct ipk__shmcast *s, void **buf, size_t len,
                            int64_t deadline);
ssize_t ipk__shmcast_commit(struct ipk__shmcast *s, size_t len);
int ipk__shmcast_abort(struct ipk__shmcast *s);
ssize_t ipk__shmcast_peek(struct ipk__shmcast *s, const void **buf,
                          uint64_t *missed, int64_t deadline);
int ipk__shmcast_release(struct ipk__shmcast *s);
int ipk__shmcast_fd(struct ipk__shmcast *s);
int ipk__shmcast_pending(struct ipk__shmcast *s);
/* Subscribers attached now (slots held by live processes). */
int ipk__shmcast_subscribers(struct ipk__shmcast *s);
int ipk__shmcast_info(struct ipk__shmcast *s, ipk__bcast_info *info);

#endif
