/*
 * Doorbells: a pollable descriptor for a ring consumer. Memory has no fd,
 * so a consumer that asked for one binds an abstract-namespace datagram
 * socket and "arms" its slot whenever it finds the ring empty; a producer
 * that publishes while a slot is armed disarms it and sends one byte there.
 * Nothing of this runs until ipk_fd() is called: the fast path stays free
 * of system calls. Invariant after every consumer call: ring empty => armed
 * (the next message rings); ring not empty => a byte is waiting.
 */
#define _GNU_SOURCE
#include "ring_pos.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static socklen_t bell_addr(struct sockaddr_un *a, uint64_t ring_id,
                           uint32_t nonce)
{
	a->sun_family = AF_UNIX;
	a->sun_path[0] = '\0';
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1,
	                 "ipckit-bell-%016llx-%08x", (unsigned long long)ring_id,
	                 nonce);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static void poke(int fd, uint64_t ring_id, uint32_t nonce)
{
	struct sockaddr_un a;
	socklen_t len = bell_addr(&a, ring_id, nonce);
	/* a full doorbell is already readable; a missing one has no reader */
	(void)sendto(fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL,
	             (struct sockaddr *)&a, len);
}

static int tx_socket(struct ipk__ring *r)
{
	if (r->bell_tx < 0)
		r->bell_tx = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                    0);
	return r->bell_tx;
}

void ipk__ring_ring_bells(struct ipk__ring *r)
{
	struct ipk__ring_slot *s = side_slots(r, IPK__RING_CONSUMER);
	/* one exchange disarms every armed consumer: each is rung once */
	uint64_t armed = atomic_exchange_explicit(&r->h->armed, 0, SC);
	for (; armed; armed &= armed - 1) {
		unsigned i = (unsigned)__builtin_ctzll(armed);
		if (i >= r->nslots)
			continue; /* not a slot of this ring: a stray bit */
		uint32_t nonce = atomic_load_explicit(&s[i].bell, SC);
		if (nonce && tx_socket(r) >= 0)
			poke(r->bell_tx, r->ring_id, nonce);
	}
}

void ipk__ring_wake_consumers(void *mem, size_t size, const char *what)
{
	struct ipk__ring r;
	if (ipk__ring_attach(&r, mem, size, IPK__RING_PRODUCER, what) == 0)
		ipk__ring_ring_bells(&r);
	ipk__ring_close_fds(&r);
}

void ipk__ring_wake_file(int fd, const char *what)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0)
		return;
	size_t size = (size_t)st.st_size;
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return;
	ipk__ring_wake_consumers(mem, size, what);
	munmap(mem, size);
}

void ipk__ring_wake_sysv(int shmid, const char *what)
{
	struct shmid_ds ds;
	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return;
	void *mem = shmat(shmid, NULL, 0);
	if (mem == (void *)-1)
		return;
	ipk__ring_wake_consumers(mem, ds.shm_segsz, what);
	shmdt(mem);
}

static struct ipk__ring_slot *my_slot(struct ipk__ring *r)
{
	return r->slot >= 0 ? &side_slots(r, IPK__RING_CONSUMER)[r->slot] : NULL;
}

static uint64_t my_bit(const struct ipk__ring *r)
{
	return UINT64_C(1) << r->slot;
}

static bool disarm(struct ipk__ring *r)
{
	return atomic_fetch_and_explicit(&r->h->armed, ~my_bit(r), SC) & my_bit(r);
}

static void arm(struct ipk__ring *r)
{
	atomic_fetch_or_explicit(&r->h->armed, my_bit(r), SC);
}

void ipk__ring_bell_settle(struct ipk__ring *r)
{
	struct ipk__ring_slot *s = my_slot(r);
	uint32_t nonce = r->bell_nonce;
	if (s == NULL || nonce == 0 || atomic_load_explicit(&s->bell, SC) != nonce)
		return;
	if (ipk__ring_readable(r)) {
		/* armed means nobody rang since we drained: ring ourselves */
		if (disarm(r))
			poke(r->bell_rx, r->ring_id, nonce);
		return;
	}
	char buf[64];
	while (recv(r->bell_rx, buf, sizeof buf, MSG_DONTWAIT) >= 0)
		;
	arm(r);
	ipk__fence_heavy(); /* a light publisher's store is seen below */
	/* a message that came before the arm was seen by nobody */
	if (ipk__ring_readable(r) && disarm(r))
		poke(r->bell_rx, r->ring_id, nonce);
}

int ipk__ring_fd(struct ipk__ring *r)
{
	int rc = ipk__ring_ensure(r);
	if (rc < 0)
		return rc;
	if (r->bell_rx >= 0 && r->bell_nonce != 0 &&
	    atomic_load_explicit(&my_slot(r)->bell, SC) == r->bell_nonce)
		return r->bell_rx;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ipk__errno(-errno, "ring %s: doorbell socket", r->name);
	uint32_t nonce = 0;
	for (int tries = 0; tries < 16; tries++) {
		if (getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != sizeof nonce)
			nonce = (uint32_t)ipk__now_ns() ^ (uint32_t)getpid();
		nonce |= 1;
		struct sockaddr_un a;
		socklen_t len = bell_addr(&a, r->ring_id, nonce);
		if (bind(fd, (struct sockaddr *)&a, len) == 0)
			break;
		if (errno != EADDRINUSE) {
			rc = ipk__errno(-errno, "ring %s: bind doorbell", r->name);
			close(fd);
			return rc;
		}
		nonce = 0;
	}
	if (nonce == 0) {
		close(fd);
		return ipk__err(-EADDRINUSE, "ring %s: no free doorbell name",
		                r->name);
	}
	if (r->bell_rx >= 0) {
		/* keep the number the caller may have registered with epoll */
		dup3(fd, r->bell_rx, O_CLOEXEC);
		close(fd);
	} else {
		r->bell_rx = fd;
	}
	r->bell_nonce = nonce;
	struct ipk__ring_slot *s = my_slot(r);
	atomic_store_explicit(&s->bell, nonce, SC);
	/* start armed with an empty doorbell: settle then rings it at once if
	   messages came before anyone polled */
	arm(r);
	ipk__ring_bell_settle(r);
	return r->bell_rx;
}

int ipk__ring_tx_fd(struct ipk__ring *r)
{
	int fd = tx_socket(r);
	return fd >= 0 ? fd : ipk__errno(-errno, "ring %s: socket", r->name);
}

void ipk__ring_close_fds(struct ipk__ring *r)
{
	free(r->marked);
	r->marked = NULL;
	if (r->bell_rx >= 0)
		close(r->bell_rx);
	if (r->bell_tx >= 0)
		close(r->bell_tx);
	r->bell_rx = r->bell_tx = -1;
}
