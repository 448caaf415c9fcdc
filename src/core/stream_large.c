/*
 * Large messages on unix: (?large=SIZE): a message of at least SIZE bytes,
 * to a peer that said it takes them, travels as a sealed memfd instead of
 * through the socket. The sender writes the bytes into a new memfd, seals
 * it (no write, shrink or grow, no further seals) and sends it with a
 * 16-byte descriptor frame (IPK__FRAME_MEMFD). The receiver trusts nothing
 * of it until checked: exactly one descriptor came with the frame, it is a
 * memfd (F_GET_SEALS answers), sealed with all four seals, and its size is
 * the length the frame states, within ?maxmsg. Then the bytes cannot
 * change or vanish under a reader, so ipk_recv_peek can map the memfd and
 * lend the mapping (no copy), and ipk_recv copies out with pread. Anything
 * else is refused with -EPROTO, the descriptor closed, nothing mapped.
 *
 * A peeked mapping stays known to the process while it is lent: sending
 * exactly it (same address and length) on any unix: channel with ?large
 * passes the same memfd on instead of copying it into a new one, so a
 * relay or an echo forwards large messages without touching their bytes.
 */
#define _GNU_SOURCE
#include "stream_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* ------------------------------------------------- lent mappings */

static pthread_mutex_t lent_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ipk__fdio *lent;

static void lend(struct ipk__fdio *f)
{
	pthread_mutex_lock(&lent_mu);
	f->pk_prev = NULL;
	f->pk_next = lent;
	if (lent)
		lent->pk_prev = f;
	lent = f;
	pthread_mutex_unlock(&lent_mu);
}

static void unlend(struct ipk__fdio *f)
{
	pthread_mutex_lock(&lent_mu);
	*(f->pk_prev ? &f->pk_prev->pk_next : &lent) = f->pk_next;
	if (f->pk_next)
		f->pk_next->pk_prev = f->pk_prev;
	f->pk_prev = f->pk_next = NULL;
	pthread_mutex_unlock(&lent_mu);
}

/* The sealed memfd whose mapping is exactly buf, or -1. It stays open
   while the message is lent, and the caller sends from the message, so it
   is lent throughout the send (using a buffer while another thread
   releases it breaks the contract of ipk_recv_peek anyway). */
static int lent_memfd(const void *buf, size_t len)
{
	int fd = -1;
	pthread_mutex_lock(&lent_mu);
	for (struct ipk__fdio *f = lent; f; f = f->pk_next)
		if (f->pk_buf == buf && f->pk_len == len) {
			fd = f->pk_fd;
			break;
		}
	pthread_mutex_unlock(&lent_mu);
	return fd;
}

/* ----------------------------------------------------------- memfds */

int ipk__large_marker(void)
{
	int fd = memfd_create("ipckit-large", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd >= 0 && fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

bool ipk__large_is_marker(int fd)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & SEALS) == SEALS && fstat(fd, &st) == 0 &&
	       S_ISREG(st.st_mode) && st.st_size == 0;
}

static int new_memfd(const void *buf, size_t len)
{
	int fd = memfd_create("ipckit-message", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return ipk__errno(-errno, "memfd_create");
	int rc = 0;
	if (ftruncate(fd, (off_t)len) < 0)
		rc = ipk__errno(-errno, "memfd of %zu bytes", len);
	for (size_t off = 0; rc == 0 && off < len;) {
		ssize_t n = pwrite(fd, (const char *)buf + off, len - off, (off_t)off);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EINTR)
			rc = ipk__errno(-errno, "writing a memfd of %zu bytes", len);
	}
	if (rc == 0 && fcntl(fd, F_ADD_SEALS, SEALS) < 0)
		rc = ipk__errno(-errno, "sealing a memfd");
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Is fd a memfd that nobody can change, of exactly len bytes? */
static int check_memfd(int fd, uint64_t len, struct stat *sto)
{
	/* the seals first, then the size: a size read before the seals is
	   one the sender may still have changed (shrunk, then sealed) */
	int seals = fcntl(fd, F_GET_SEALS);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ipk__errno(-EPROTO, "a large message's descriptor");
	if (!S_ISREG(st.st_mode))
		return ipk__err(-EPROTO, "a large message came with a %s instead "
		                         "of a memfd; refused",
		                S_ISSOCK(st.st_mode)  ? "socket"
		                : S_ISFIFO(st.st_mode) ? "pipe"
		                : S_ISDIR(st.st_mode)  ? "directory"
		                                       : "descriptor of another kind");
	if (seals < 0)
		return ipk__err(-EPROTO, "a large message came with a file that is "
		                         "not a memfd; refused");
	if ((seals & SEALS) != SEALS)
		return ipk__err(-EPROTO, "a large message came with a memfd that "
		                         "is not sealed against writing, shrinking "
		                         "and growing (seals %#x); refused, nothing "
		                         "mapped", seals);
	if ((uint64_t)st.st_size != len)
		return ipk__err(-EPROTO, "a large message of %llu bytes came in a "
		                         "memfd of %lld bytes; refused",
		                (unsigned long long)len, (long long)st.st_size);
	*sto = st;
	return 0;
}

/* ------------------------------------------------------------ sending */

ssize_t ipk__large_send(ipk__stream *s, const void *buf, size_t len,
                        int64_t deadline)
{
	int fd = lent_memfd(buf, len);
	bool ours = fd < 0;
	if (ours && (fd = new_memfd(buf, len)) < 0)
		return fd;
	unsigned char desc[IPK__MEMFD_DESC];
	ipk__put_be64(desc, len);
	ipk__put_be64(desc + 8, 0);
	ssize_t n = ipk__batch_hold(s, deadline);
	if (n == 0)
		n = ipk__stream_send_frame(s, IPK__FRAME_MEMFD, desc, sizeof desc,
		                           &fd, 1, deadline);
	ipk__batch_release(s, n);
	if (ours)
		close(fd);
	return n < 0 ? n : (ssize_t)len;
}

/* ---------------------------------------------------------- receiving */

static void uncache(struct ipk__fdio *f)
{
	if (f->c_buf)
		munmap(f->c_buf, f->c_len);
	f->c_buf = NULL;
}

ssize_t ipk__large_done(ipk__stream *s, ipk__rx *rx)
{
	struct ipk__fdio *f = s->fdio;
	struct ipk__fdbatch *b = f->cur;
	f->cur = NULL;
	uint64_t len = ipk__get_be64(f->desc), zero = ipk__get_be64(f->desc + 8);
	int rc = 0;
	if (b == NULL || b->n != 1 || b->ctrunc) {
		rc = ipk__err(-EPROTO, "a large message came with %d descriptors "
		                       "instead of its memfd%s; refused",
		              b ? b->n : 0, b && b->ctrunc ? " (some were lost: "
		                                           "RLIMIT_NOFILE?)" : "");
		ipk__fdbatch_close(b);
		return rc;
	}
	int fd = b->fd[0];
	b->n = 0;
	ipk__fdbatch_close(b);
	if (zero != 0)
		rc = ipk__err(-EPROTO, "a large message's descriptor frame is "
		                       "malformed; refused");
	else if (len > rx->maxmsg)
		rc = ipk__err(-EMSGSIZE, "peer sent a message of %llu bytes, over "
		                         "the channel limit of %zu bytes (raise it "
		                         "with ?maxmsg=); dropped",
		              (unsigned long long)len, rx->maxmsg);
	struct stat st = {0};
	if (rc == 0)
		rc = check_memfd(fd, len, &st);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	f->lm_fd = fd;
	f->lm_len = (size_t)len;
	f->lm_dev = st.st_dev;
	f->lm_ino = st.st_ino;
	return ipk__large_deliver(s, rx);
}

ssize_t ipk__large_deliver(ipk__stream *s, ipk__rx *rx)
{
	struct ipk__fdio *f = s->fdio;
	size_t len = f->lm_len;
	rx->nfds = 0;
	if (rx->peek && len > 0) {
		void *p;
		if (f->c_buf && f->c_dev == f->lm_dev && f->c_ino == f->lm_ino &&
		    f->c_len == len) {
			/* the same sealed file as the mapping kept: its bytes
			   cannot have changed, nor can another file have its
			   number while the mapping holds it */
			p = f->c_buf;
			f->c_buf = NULL;
		} else {
			uncache(f);
			p = mmap(NULL, len, PROT_READ, MAP_SHARED, f->lm_fd, 0);
			if (p == MAP_FAILED)
				return ipk__errno(-errno, "mapping a message of %zu "
				                          "bytes", len);
		}
		f->pk_dev = f->lm_dev;
		f->pk_ino = f->lm_ino;
		rx->buf = p;
		rx->cap = len;
		rx->mapped = true;
		rx->map_fd = f->lm_fd;
		f->lm_fd = -1;
		return (ssize_t)len;
	}
	int err = 0;
	char *dst = ipk__rx_reserve(rx, len, &err);
	if (dst == NULL && len > 0)
		return err; /* (ENOBUFS: it stays ready for the next call) */
	for (size_t off = 0; off < len;) {
		ssize_t n = pread(f->lm_fd, dst + off, len - off, (off_t)off);
		if (n > 0)
			off += (size_t)n;
		else if (n == 0 || errno != EINTR)
			return ipk__errno(n == 0 ? -EPROTO : -errno,
			                  "reading a large message");
	}
	close(f->lm_fd);
	f->lm_fd = -1;
	return (ssize_t)len;
}

/* ---------------------------------------------------- peek and release */

ssize_t ipk__stream_peek(ipk__stream *s, const void **buf, int64_t deadline)
{
	struct ipk__fdio *f = s->fdio;
	if (f == NULL)
		return ipk__err(-EOPNOTSUPP, "a ?raw channel has no messages to lend");
	if (f->peeked)
		return ipk__err(-EBUSY, "a message is lent already: "
		                        "ipk_recv_release it first");
	ipk_msginfo info = {0};
	ipk__rx rx = {.alloc = true, .peek = true, .info = &info,
	              .maxmsg = s->maxmsg};
	ssize_t n = ipk__stream_recv(s, &rx, deadline);
	if (n < 0) {
		free(rx.buf);
		return n;
	}
	if (rx.buf == NULL && (rx.buf = malloc(1)) == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	f->peeked = true;
	f->pk_buf = rx.buf;
	f->pk_len = (size_t)n;
	f->pk_fd = rx.mapped ? rx.map_fd : -1;
	if (rx.mapped)
		lend(f);
	*buf = f->pk_buf;
	return n;
}

static void give_back(struct ipk__fdio *f)
{
	if (f->pk_fd >= 0) {
		unlend(f);
		uncache(f);
		f->c_buf = f->pk_buf; /* kept: see ipk__large_deliver */
		f->c_len = f->pk_len;
		f->c_dev = f->pk_dev;
		f->c_ino = f->pk_ino;
		close(f->pk_fd);
	} else {
		free(f->pk_buf);
	}
	f->pk_buf = NULL;
	f->pk_fd = -1;
	f->peeked = false;
}

int ipk__stream_release(ipk__stream *s)
{
	struct ipk__fdio *f = s->fdio;
	if (f == NULL || !f->peeked)
		return ipk__err(-EINVAL, "no peeked message to release");
	give_back(f);
	return 0;
}

void ipk__large_free(struct ipk__fdio *f)
{
	if (f->peeked)
		give_back(f);
	uncache(f);
	if (f->lm_fd >= 0)
		close(f->lm_fd);
	f->lm_fd = -1;
}
