/*
 * Doorbells: pollable descriptors for waiters on shared memory, which has
 * none. A waiter binds an abstract-namespace datagram socket named after
 * the ring and a random nonce it publishes in the ring; whoever makes
 * progress sends one byte there. Nothing here runs until a waiter asks for
 * a descriptor, so fast paths stay free of system calls.
 */
#ifndef IPK_SHM_BELL_H
#define IPK_SHM_BELL_H

#include <stdint.h>

/*
 * Bind a new doorbell for ring_id. Returns the descriptor (non-blocking,
 * close-on-exec) and sets *nonce (never 0), or a negative errno with a
 * message. When keep_fd >= 0 the new socket replaces keep_fd under the same
 * number (a caller may have registered it with epoll) and keep_fd is
 * returned.
 */
int ipk__bell_open(uint64_t ring_id, uint32_t *nonce, int keep_fd,
                   const char *what);
/* Send one byte to doorbell (ring_id, nonce) through tx (an unbound
   datagram socket, see ipk__bell_tx_socket). A full or missing doorbell is
   not an error: it is already readable, or nobody listens. */
void ipk__bell_poke(int tx, uint64_t ring_id, uint32_t nonce);
/* An unbound non-blocking datagram socket to poke with (or -errno). */
int ipk__bell_tx_socket(void);
/* Read everything waiting on a doorbell. */
void ipk__bell_drain(int fd);

#endif
