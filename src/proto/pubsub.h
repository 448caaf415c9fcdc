/* What PUB and SUB share (pub.c, sub.c, cast.c). */
#ifndef IPK_PROTO_PUBSUB_H
#define IPK_PROTO_PUBSUB_H

#include "proto.h"

struct ipk__shmcast;

/* Query options of the two protocols. */
extern const char *const ipk__pubsub_options[];
extern const struct ipk__proto ipk__proto_pub, ipk__proto_sub;
extern const struct ipk__carrier ipk__carrier_cast;

/* On sockets: refuse what cannot work, read ?slow. */
int ipk__pubsub_check(struct ipk__sock *s, bool *block);
/* Subscribers attached to a PUB channel now. */
int ipk__pub_subscribers(ipk_chan *c);
/* Put a subscriber's topic filter into its broadcast ring, which the
   zero-copy peek reads without going through the protocol's receive. */
void ipk__sub_arm(struct ipk__sock *s);
/* The broadcast ring of a shared-memory PUB/SUB channel, else NULL. */
struct ipk__shmcast *ipk__cast_of(const ipk_chan *c);

/* The zero-copy calls on such a channel (-EOPNOTSUPP for others). */
ssize_t ipk__cast_borrow(ipk_chan *c, void **buf, size_t len, int timeout_ms);
ssize_t ipk__cast_commit(ipk_chan *c, size_t len);
int ipk__cast_abort(ipk_chan *c);
ssize_t ipk__cast_peek(ipk_chan *c, const void **buf, ipk_msginfo *info,
                       int timeout_ms);
int ipk__cast_release(ipk_chan *c);

#endif
