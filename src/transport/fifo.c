/*
 * fifo: — a named pipe. The listener creates the FIFO and reads; dialers
 * write. Several writers may share one FIFO. A message of up to PIPE_BUF
 * bytes with its header is one write, which the kernel never mixes with
 * another writer's: no lock. A larger message goes in chunks of that size
 * (the FIFO framing of stream_fifo.c) under an exclusive flock(2) on the
 * FIFO, so chunked messages never interleave and the reader can tell a
 * writer killed in the middle of one (its lock is free, its message never
 * completes) and drop what it left.
 * The listener also holds a write descriptor, so the FIFO is a mailbox that
 * stays open between writers rather than reporting end-of-file each time the
 * last one leaves.
 */
#define _GNU_SOURCE
#include "../core/internal.h"
#include "../core/owner_file.h"
#include "../core/safepath.h"
#include "../shm/ring_sync.h" /* the fork generation */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct fifo_chan {
	ipk__stream s;
	int keep_fd;    /* listener: its own write end */
	bool locked;    /* writer holds the flock (a message is in flight) */
	uint64_t gen;   /* writer: fork generation of the process that opened
	                   the fd (checked per message: no getpid() call) */
	dev_t dev;
	ino_t ino;
};

/* Another description of the FIFO that blocks: for calls without a
   timeout (stream_fifo.c). Opened without waiting, then made blocking. */
static int open_blocking(const char *path, int how)
{
	int fd = open(path, how | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static int check_path(const ipk_chan *c)
{
	if (c->url.rest[0] == '\0')
		return ipk__err(-EINVAL, "address '%s': missing path (fifo:/path)",
		                c->url.text);
	return 0;
}

static int fifo_listen(ipk_chan *c)
{
	struct fifo_chan *f = ipk__priv(c);
	const char *path = c->url.rest;
	int rc = check_path(c);
	if (rc < 0)
		return rc;
	ipk__ignore_sigpipe();
	c->role = IPK__OWNER;
	bool made = mkfifo(path, c->mode) == 0;
	if (!made) {
		if (errno != EEXIST)
			return ipk__errno(-errno, "mkfifo %s", path);
		struct stat st;
		if (lstat(path, &st) < 0)
			return ipk__errno(-errno, "stat %s", path);
		if (!S_ISFIFO(st.st_mode))
			return ipk__err(-EEXIST, "%s exists and is not a FIFO", path);
		/* a FIFO whose reader is alive must not be taken over */
		int probe = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (probe >= 0) {
			close(probe);
			return ipk__err(-EADDRINUSE,
			                "FIFO %s already has a reader (a live listener)",
			                path);
		}
		if (errno != ENXIO)
			return ipk__errno(-errno, "open %s", path);
	}
	/* mkfifo honours the umask; the mode asked for is the mode we want */
	int rfd = -1;
	f->keep_fd = -1;
	struct stat st;
	if (chmod(path, c->mode) < 0) {
		rc = ipk__errno(-errno, "chmod %s", path);
		goto fail;
	}
	rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd >= 0)
		f->keep_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0 || f->keep_fd < 0 || fstat(rfd, &st) < 0) {
		rc = ipk__errno(-errno, "open %s", path);
		goto fail;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	/* who listens, and ?persist, recorded where ls and gc look
	   (src/core/owner_file.h) */
	ipk__owner_file_listen("fifo", path, st.st_dev, st.st_ino, st.st_uid,
	                       c->persist, true);
	if (!made && !c->raw) {
		/* taking over from a reader that died: what it left may begin in
		   the middle of a message it had half read, and no byte of the
		   payload can be told from a header. Start at a clean boundary:
		   every write is whole, so the end of what is there now is one
		   (and writers going on meanwhile do not keep us here) */
		int left = 0;
		char junk[4096];
		ioctl(rfd, FIONREAD, &left);
		while (left > 0) {
			ssize_t n = read(rfd, junk, (size_t)left < sizeof junk
			                                    ? (size_t)left
			                                    : sizeof junk);
			if (n > 0)
				left -= (int)n;
			else if (n == 0 || errno != EINTR)
				break;
		}
	}
	ipk__stream_init(&f->s, rfd, -1, c->raw ? IPK__FRAME_RAW : IPK__FRAME_FIFO,
	                 IPK__FD_OTHER, c->maxmsg);
	f->s.lockfd = rfd; /* writers of chunked messages lock the FIFO */
	if (!c->raw)
		f->s.rfd_block = open_blocking(path, O_RDONLY);
	return 0;
fail:
	if (rfd >= 0)
		close(rfd);
	if (f->keep_fd >= 0)
		close(f->keep_fd);
	if (made)
		unlink(path);
	return rc;
}

static int fifo_dial(ipk_chan *c, int64_t deadline)
{
	struct fifo_chan *f = ipk__priv(c);
	const char *path = c->url.rest;
	int rc = check_path(c);
	if (rc < 0)
		return rc;
	ipk__ignore_sigpipe();
	f->keep_fd = -1;
	unsigned round = 0;
	for (;;) {
		int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			struct stat st;
			if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
				close(fd);
				return ipk__err(-ENOTSUP, "%s is not a FIFO", path);
			}
			ipk__stream_init(&f->s, -1, fd,
			                 c->raw ? IPK__FRAME_RAW : IPK__FRAME_FIFO,
			                 IPK__FD_OTHER, c->maxmsg);
			if (!c->raw)
				f->s.wfd_block = open_blocking(path, O_WRONLY);
			ipk__fork_watch();
			f->gen = atomic_load_explicit(&ipk__fork_generation,
			                              memory_order_relaxed);
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != ENOENT && errno != ENXIO)
			return ipk__errno(-errno, "open %s", path);
		int e = errno;
		if (ipk__expired(deadline))
			return ipk__err(e == ENOENT ? -ENOENT : -ECONNREFUSED,
			                e == ENOENT ? "no FIFO at %s (is a listener running?)"
			                            : "FIFO %s has no reader",
			                path);
		if ((rc = ipk__backoff(&round, deadline)) < 0)
			return rc;
	}
}

static int lock(struct fifo_chan *f, int64_t deadline)
{
	if (f->locked)
		return 0;
	unsigned round = 0;
	for (;;) {
		int op = deadline == IPK__NEVER ? LOCK_EX : LOCK_EX | LOCK_NB;
		if (flock(f->s.wfd, op) == 0) {
			f->locked = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return ipk__errno(-errno, "flock");
		int rc = ipk__backoff(&round, deadline);
		if (rc < 0)
			return ipk__err(rc, "another writer holds the FIFO");
	}
}

static void unlock_if_done(struct fifo_chan *f)
{
	if (f->locked && f->s.blen == 0) {
		flock(f->s.wfd, LOCK_UN);
		f->locked = false;
	}
}

/*
 * The per-message flock belongs to the open file description, which a child
 * shares with its parent after fork: both would hold "the" lock at once. A
 * writer in another process than the one that opened the FIFO opens it
 * again, so its lock is its own.
 */
static int own_description(ipk_chan *c, struct fifo_chan *f)
{
	uint64_t gen = atomic_load_explicit(&ipk__fork_generation,
	                                    memory_order_relaxed);
	if (f->gen == gen)
		return 0;
	int fd = open(c->url.rest, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENXIO ? ipk__err(-EPIPE, "FIFO %s has no reader",
		                                 c->url.rest)
		                      : ipk__errno(-errno, "open %s", c->url.rest);
	close(f->s.wfd); /* our copy only: the parent's stays open */
	f->s.wfd = fd;
	if (f->s.wfd_block >= 0) {
		close(f->s.wfd_block);
		f->s.wfd_block = open_blocking(c->url.rest, O_WRONLY);
	}
	f->gen = gen;
	f->locked = false;
	return 0;
}

static ssize_t fifo_send(ipk_chan *c, const void *buf, size_t len,
                         const ipk_msginfo *info, int64_t deadline)
{
	(void)info;
	struct fifo_chan *f = ipk__priv(c);
	if (c->role == IPK__OWNER)
		return ipk__err(-EOPNOTSUPP,
		                "fifo: the listener receives; dial the FIFO to send");
	int rc = own_description(c, f);
	if (rc < 0)
		return rc;
	/* one write of at most PIPE_BUF bytes is whole by itself; a chunked
	   message (or one whose rest is still to go) holds the lock */
	size_t one_write = c->raw ? 4096 : IPK__FIFO_SMALL;
	if (len > one_write || f->s.blen > 0) {
		rc = lock(f, deadline);
		if (rc < 0)
			return rc;
	}
	ssize_t n = ipk__stream_send(&f->s, buf, len, deadline);
	unlock_if_done(f);
	return n;
}

static ssize_t fifo_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline)
{
	struct fifo_chan *f = ipk__priv(c);
	if (c->role != IPK__OWNER)
		return ipk__err(-EOPNOTSUPP,
		                "fifo: a dialer writes; listen on the FIFO to receive");
	return ipk__stream_recv(&f->s, rx, deadline);
}

static int fifo_fd(const ipk_chan *c)
{
	const struct fifo_chan *f = ipk__priv(c);
	return c->role == IPK__OWNER ? f->s.rfd : f->s.wfd;
}

static int fifo_pending(const ipk_chan *c)
{
	const struct fifo_chan *f = ipk__priv(c);
	return ipk__stream_pending(&f->s);
}

static int fifo_close(ipk_chan *c)
{
	struct fifo_chan *f = ipk__priv(c);
	int rc = 0;
	if (ipk__removes_on_close(c)) {
		/* remove the name only if it is still our FIFO, checked and
		   unlinked in one directory (src/core/safepath.h) */
		rc = ipk__unlink_own(c->url.rest, f->dev, f->ino);
		if (rc == -ENOENT || rc == -ESTALE || rc == -ENOTDIR)
			rc = 0;
		ipk__owner_file_close("fifo", f->dev, f->ino, true);
	} else if (c->role == IPK__OWNER && c->persist) {
		ipk__owner_file_close("fifo", f->dev, f->ino, false);
	}
	int rc2 = ipk__stream_close(&f->s, c->linger_ms);
	if (f->keep_fd >= 0)
		close(f->keep_fd);
	return rc ? rc : rc2;
}

static int fifo_remove(ipk__url *u)
{
	return ipk__unlink_type(u->rest, S_IFIFO, "a FIFO");
}

const struct ipk_transport ipk__fifo_transport = {
	.scheme = "fifo",
	.summary = "named pipe: listener reads, dialers write (mkfifo)",
	.priv_size = sizeof(struct fifo_chan),
	.streams = true,
	.listen = fifo_listen,
	.dial = fifo_dial,
	.send = fifo_send,
	.recv = fifo_recv,
	.fd = fifo_fd,
	.pending = fifo_pending,
	.close = fifo_close,
	.remove = fifo_remove,
};
