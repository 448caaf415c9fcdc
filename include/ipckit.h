/*
 * ipckit — one API over every Linux IPC mechanism.
 *
 * Conventions
 *   - Functions return 0 (or a size) on success and a negative errno value on
 *     failure; ipk_strerror() turns the code into text and ipk_last_error()
 *     gives the detailed message of the most recent failure in this thread
 *     (for example "message of 9000 bytes exceeds kernel.msgmax=8192").
 *     The global errno is not part of the contract.
 *   - Every call that can block takes timeout_ms: -1 waits forever, 0 does not
 *     block (-EAGAIN when it would), >0 waits at most that many milliseconds
 *     (-ETIMEDOUT). Signals never interrupt a call: EINTR is retried with the
 *     time that is left.
 *   - A peer that went away is reported as -EPIPE on send and receive.
 *     SIGPIPE never kills the caller: sockets use MSG_NOSIGNAL, and the first
 *     pipe or FIFO channel sets SIGPIPE to SIG_IGN if it is still at SIG_DFL
 *     (a handler the program installed is left alone).
 *
 * Addresses are URL-like: "scheme:rest" or "scheme://rest", options in the
 * query ("fifo:/tmp/x?raw&mode=0660"). See README.md for the table.
 */
#ifndef IPCKIT_H
#define IPCKIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPK_VERSION_MAJOR 0
#define IPK_VERSION_MINOR 1
#define IPK_VERSION_PATCH 0
#define IPK_VERSION_STRING "0.1.0"

/* Library version as "MAJOR.MINOR.PATCH". */
const char *ipk_version(void);

#define IPK_FOREVER (-1)
#define IPK_NOWAIT 0

/* Default largest message a channel accepts (settable with ?maxmsg=). */
#define IPK_DEFAULT_MAXMSG ((size_t)16 << 20)

/* ---------------------------------------------------------------- errors */

/* Text for a negative (or positive) errno value. Never NULL, thread-safe. */
const char *ipk_strerror(int err);

/*
 * Detailed message for the most recent failure of an ipckit call in the
 * calling thread, naming the object and the limit involved. Only meaningful
 * right after a call returned an error; never NULL.
 */
const char *ipk_last_error(void);

/* -------------------------------------------------------------- channels */

typedef struct ipk_chan ipk_chan;

/*
 * Create (or bind) the endpoint named by url and own it. For connection
 * mechanisms (unix:, tcp:) the result is a listener: call ipk_accept().
 * For the others (fifo:, unixgram:, queues, rings) the result is itself a
 * channel to receive (and where the mechanism allows, send) on.
 * Files and named objects are created mode 0600 unless ?mode= widens them;
 * the owner removes them on close unless ?persist is given.
 */
int ipk_listen(ipk_chan **out, const char *url);

/* Attach to an existing endpoint, waiting up to timeout_ms for it. */
int ipk_dial(ipk_chan **out, const char *url, int timeout_ms);

/* Accept one connection on a listener (unix:, tcp:). -EOPNOTSUPP elsewhere. */
int ipk_accept(ipk_chan *listener, ipk_chan **out, int timeout_ms);

/*
 * Make both ends of an anonymous channel ("pipe:", "unix:", "unixgram:",
 * and later shared-memory rings) for use across fork(). Messages sent on *a
 * arrive on *b and the other way round. After fork each process closes the
 * end it does not use.
 */
int ipk_pair(const char *url, ipk_chan **a, ipk_chan **b);

/* Options for ipk_spawn(); a zeroed struct (or NULL) gives the defaults. */
typedef struct ipk_spawn_opts {
	int pty;                 /* run on a pseudo-terminal instead of pipes */
	int framed;              /* child speaks ipckit framing (default raw bytes) */
	int keep_stderr;         /* leave the child's stderr as ours (default: it is;
	                            with pty, stderr goes to the terminal too) */
	const char *const *envp; /* environment, or NULL to inherit */
	const char *cwd;         /* working directory, or NULL */
	int linger_ms;           /* how long ipk_close() waits for the child to
	                            exit before SIGKILL; 0 means 5000 */
} ipk_spawn_opts;

/*
 * Run argv[0] (searched in PATH) as a coprocess: what is sent on the channel
 * is the child's stdin, what is received is its stdout. By default the bytes
 * are raw (each receive returns what the child wrote so far, up to the
 * buffer). ipk_shutdown() closes the child's stdin; ipk_wait() reports its
 * exit status. A program that cannot be run gives -ENOENT/-EACCES here.
 */
int ipk_spawn(ipk_chan **out, const char *const argv[],
              const ipk_spawn_opts *opts);

/* Process id of a spawned child, or -ESRCH for other channels. */
pid_t ipk_pid(const ipk_chan *c);

/*
 * Wait for a spawned child to exit; *status gets the waitpid(2) status
 * (use WIFEXITED/WEXITSTATUS). Calling it again returns the same status.
 */
int ipk_wait(ipk_chan *c, int *status, int timeout_ms);

/* Stop sending: the peer sees end of stream (stream mechanisms only). */
int ipk_shutdown(ipk_chan *c);

/* Metadata that rides with a message on mechanisms that have it. */
typedef struct ipk_msginfo {
	long type;     /* sysvmq: type to send (0 means 1); on receive, in: the
	                  msgrcv selector (0 first, >0 that type, <0 lowest type
	                  <= |type|), out: the type received */
	unsigned prio; /* mq: priority to send / priority received */
	pid_t pid;     /* out: sender's pid where the mechanism tells, else 0 */
	uid_t uid;     /* out: sender's uid where the mechanism tells */
	int flags;     /* in: IPK_MSG_* */
} ipk_msginfo;

#define IPK_MSG_EXCEPT 0x1  /* sysvmq: receive the first message NOT of type */
#define IPK_MSG_NOERROR 0x2 /* sysvmq: truncate a too-long message instead of
                               failing (the rest is lost, as msgrcv does) */

/*
 * Send one whole message. Returns len, or a negative errno: -EMSGSIZE if len
 * exceeds the channel's limit (nothing is sent), -EPIPE if the peer is gone,
 * -EAGAIN/-ETIMEDOUT on timeout (nothing was sent). Once the first byte of a
 * message is on a stream, the message is accepted: what the kernel cannot
 * take before the timeout is kept by the channel and goes out first on the
 * next send (or on close), so peers never see half a message.
 */
ssize_t ipk_send(ipk_chan *c, const void *buf, size_t len, int timeout_ms);

/*
 * Receive one whole message into buf. Returns its length. -ENOBUFS if cap is
 * too small (the message stays queued: call again with a larger buffer or
 * use ipk_recv_alloc), -EMSGSIZE if a peer announced a message larger than
 * the channel's limit (the connection is closed, nothing of that size is
 * allocated), -EPIPE when the peer has gone and nothing is left.
 */
ssize_t ipk_recv(ipk_chan *c, void *buf, size_t cap, int timeout_ms);

/* ipk_send/ipk_recv with per-message metadata (info may be NULL). */
ssize_t ipk_sendmsg(ipk_chan *c, const void *buf, size_t len,
                    const ipk_msginfo *info, int timeout_ms);
ssize_t ipk_recvmsg(ipk_chan *c, void *buf, size_t cap, ipk_msginfo *info,
                    int timeout_ms);

/* Receive into a buffer the library allocates (free() it). */
ssize_t ipk_recv_alloc(ipk_chan *c, void **out, ipk_msginfo *info,
                       int timeout_ms);

/*
 * A file descriptor for poll/epoll: readable means ipk_recv() (or, on a
 * listener, ipk_accept()) will not block. Owned by the channel.
 */
int ipk_fd(const ipk_chan *c);

#define IPK_POLLIN 0x1
#define IPK_POLLOUT 0x4

typedef struct ipk_pollitem {
	ipk_chan *chan;
	short events;  /* IPK_POLLIN | IPK_POLLOUT */
	short revents; /* out */
} ipk_pollitem;

/* Wait until one of the channels is ready. Returns the number ready. */
int ipk_poll(ipk_pollitem *items, size_t n, int timeout_ms);

/* Largest message the channel sends or accepts. */
size_t ipk_maxmsg(const ipk_chan *c);

/*
 * The channel's address as a URL, with what the kernel chose filled in
 * (for example the port of "tcp://127.0.0.1:0"). Returns the length, or
 * -ENOBUFS if cap is too small.
 */
ssize_t ipk_address(const ipk_chan *c, char *buf, size_t cap);

/*
 * Close the channel and free it. A listener removes what it created unless
 * ?persist was given. Pending stream bytes are flushed first (waiting at most
 * ?linger= ms, default 1000). Always frees; returns the first error seen.
 */
int ipk_close(ipk_chan *c);

/* Remove the named object (file, socket path, queue, segment) by address. */
int ipk_remove(const char *url);

/* Scheme names the library knows, NULL-terminated; *built says which are
 * usable (may be NULL). Summary line for each via ipk_scheme_summary(). */
const char *const *ipk_schemes(void);
int ipk_scheme_built(const char *scheme);
const char *ipk_scheme_summary(const char *scheme);

/* ------------------------------- message queues and signals: status */
/* (sysvmq:, mq:, signal: specifics are declared here) */

/* ------------------------------- shared memory: regions and rings */
/* (shm:, sysvshm:, mmap:, anonymous regions; ring zero-copy API) */

/* ------------------------------- synchronisation */
/* (semaphores, robust mutex/cond/rwlock, file locks) */

#ifdef __cplusplus
}
#endif

#endif /* IPCKIT_H */
