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
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What this header declares is the library's ABI: exported from the shared
   library, which hides every other symbol (-fvisibility=hidden). */
#ifdef __GNUC__
#pragma GCC visibility push(default)
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

/*
 * Warnings: what the library deals with on the caller's behalf but a person
 * should hear about, for example a connection a listener dropped because
 * the peer sent plain text instead of the SP header ("this looks like
 * unframed text from a plain program; listen with ?raw"). By default they
 * are discarded; a program (the ipckit tool does) installs a handler to
 * print or log them. The handler may be called from any thread that uses
 * a channel; NULL removes it. message is valid during the call only.
 */
typedef void (*ipk_warn_fn)(const char *message, void *arg);
void ipk_set_warn_handler(ipk_warn_fn fn, void *arg);

/* -------------------------------------------------------------- channels */

typedef struct ipk_chan ipk_chan;

/*
 * Create (or bind) the endpoint named by url and own it. For connection
 * mechanisms (unix:, tcp:) the result is a listener: call ipk_accept().
 * For the others (fifo:, unixgram:, queues, rings) the result is itself a
 * channel to receive (and where the mechanism allows, send) on.
 * Files and named objects are created mode 0600 unless ?mode= widens them;
 * the owner removes them on close unless ?persist is given. A queue or
 * ring kept with ?persist, or taken over from a dead listener while
 * messages are in it, is left in place (docs/channels.md has the rule).
 */
int ipk_listen(ipk_chan **out, const char *url);

/*
 * Attach to an existing endpoint, waiting up to timeout_ms for it. A tcp:
 * host name is resolved before the wait starts (the resolver has no
 * timeout): use numeric addresses where it may stall.
 */
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
 * ipk_close() closes the child's ends, waits up to linger_ms for it to exit,
 * then SIGKILLs and reaps it: no zombie is left. With pty the terminal is
 * raw (bytes pass unchanged) and so has no end-of-file: ipk_shutdown() there
 * is -EOPNOTSUPP, and closing hangs the terminal up (SIGHUP).
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

/* Where a reply goes: see ?proto=rep below. Opaque; copy it freely. */
typedef struct ipk_route {
	uint64_t opaque[8];
} ipk_route;

/* Metadata that rides with a message on mechanisms that have it. */
typedef struct ipk_msginfo {
	long type;     /* sysvmq: type to send (0 means 1); on receive, in: the
	                  msgrcv selector (0 first, >0 that type, <0 lowest type
	                  <= |type|), out: the type received */
	unsigned prio; /* mq: priority to send / priority received */
	pid_t pid;     /* out: sender's pid where the mechanism tells, else 0 */
	uid_t uid;     /* out: sender's uid where the mechanism tells */
	int flags;     /* in: IPK_MSG_* */
	uint64_t missed; /* out: publish/subscribe: messages this subscriber
	                    lost just before this one (it fell a lap behind a
	                    shared-memory publisher with slow=drop); else 0 */
	int status;    /* req/rep: a number 0..32767 a REP attaches to its reply
	                  (ipckit rep: the command's exit status); a REQ
	                  receives it, or -1 when the replier sent none */
	ipk_route route; /* rep: out of a receive, the way back to the client
	                    that sent this request; given to ipk_sendmsg, the
	                    reply goes there. Zeroed: the last request */
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
 * Send n whole messages, msgs[i] being one message (not parts of one), in
 * order, in as few system calls as the channel allows: on unix:, tcp: and
 * pipe: one writev for up to 256 messages. Returns how many were sent. A
 * message is never cut: when the timeout expires the messages not begun
 * are not sent (the count says how many went; ipk_last_error() why), and
 * one under way goes out whole later, as with ipk_send. An error only if
 * none was sent. Any message over the channel's limit: -EMSGSIZE before
 * anything is sent. Elsewhere the messages are sent one by one.
 */
ssize_t ipk_send_many(ipk_chan *c, const struct iovec *msgs, size_t n,
                      int timeout_ms);

/*
 * Batching (unix:, tcp:, pipe:; PAIR and PUSH): with ?batch[=SIZE] (queue
 * of SIZE bytes, default 64K) a send copies the framed message into a
 * queue in user space and returns at once; the queue goes out in one
 * write when the next message would not fit, on ipk_flush(), before a
 * receive on the channel waits, on ipk_shutdown() and on close (within
 * ?linger=), and at the latest ?batchdelay=US microseconds (default 1000;
 * 0: no timer) after its oldest message was queued, written by a thread
 * the library starts for that. A message of more than half the queue goes
 * out directly, after the queue. The wire is unchanged: peers (nng
 * included) see the same frames. Trade-off: small messages stream several
 * times faster, at the price of up to ?batchdelay= of added latency for a
 * message nobody flushes. A send fails only when the queue and the kernel
 * are both full (within its timeout): a queued message is accepted. If
 * the peer is gone before the queue is written, the next send, flush or
 * close reports -EPIPE and how many bytes were lost. docs/channels.md.
 *
 * ipk_flush: write what the channel keeps queued (batched messages, and
 * the rest of a message a send left when its timeout expired), waiting up
 * to timeout_ms. 0 when nothing is left; -EAGAIN/-ETIMEDOUT leave the
 * rest queued; -EPIPE if the peer is gone. 0 on channels that keep
 * nothing back.
 */
int ipk_flush(ipk_chan *c, int timeout_ms);

/*
 * File descriptors with a message (unix: PAIR channels, framed; SCM_RIGHTS).
 * ipk_send_fds sends buf as one message with nfds (1..IPK_MAXFDS)
 * descriptors attached; the receiver gets its own copies, the caller keeps
 * (and closes) its own. What a batching channel queued goes out first.
 * ipk_recv_fds receives one message into buf and its descriptors into
 * fds: *nfds is the room in fds on the way in, how many came on the way
 * out (0 for a message without any). They are the caller's to close, and
 * are opened close-on-exec. Room for fewer than came: -ENOBUFS, and the
 * message stays queued with them. Descriptors nobody takes are closed by
 * the library, never leaked: those of a message received with ipk_recv
 * (or peeked), those still queued when the channel closes, and any a peer
 * attached to anything but the first byte of a message. If the kernel
 * dropped some of a message's descriptors on the way in (the process was
 * at RLIMIT_NOFILE: MSG_CTRUNC), ipk_recv_fds reports -EMFILE and drops
 * that message (plain receives deliver it). Other channels: -EOPNOTSUPP.
 */
#define IPK_MAXFDS 253
ssize_t ipk_send_fds(ipk_chan *c, const void *buf, size_t len,
                     const int *fds, size_t nfds, int timeout_ms);
ssize_t ipk_recv_fds(ipk_chan *c, void *buf, size_t cap, int *fds,
                     size_t *nfds, int timeout_ms);

/*
 * Large messages on unix: (?large[=SIZE], default 256K): a message of at
 * least SIZE bytes travels as a sealed memfd (F_SEAL_WRITE, SHRINK, GROW
 * and SEAL) passed with a small frame, instead of through the socket, when
 * the peer takes them. Each end says so in its SP header (a descriptor
 * rides with it, invisible to peers that do not read descriptors), so
 * ?large is given on the ends that want it and works per connection: to
 * nng (nngcat) or an ipckit end without ?large messages go through the
 * socket as before. The receiver checks the memfd (a memfd, all four
 * seals, the size the frame states, within ?maxmsg) before it reads or
 * maps a byte; anything else is -EPROTO, the descriptor closed, the
 * message dropped, the connection kept. ipk_recv copies the message out;
 * ipk_recv_peek maps it (no copy; docs/channels.md), and sending exactly
 * a peeked mapping on a ?large channel passes the same memfd on.
 */

/*
 * A file descriptor for poll/epoll: readable means ipk_recv() (or, on a
 * listener, ipk_accept()) will not block. Owned by the channel. A stream
 * channel reads ahead: messages already read into the channel do not make
 * the descriptor readable again, so after it fires receive with timeout 0
 * until -EAGAIN before waiting on it again (edge-triggered style), or use
 * ipk_poll(), which counts them.
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
 * The address a peer dials to reach this channel, with what the kernel chose
 * filled in (the port of "tcp://127.0.0.1:0") and the options that change
 * the wire (?raw). Returns the length, or -ENOBUFS if cap is too small.
 */
ssize_t ipk_address(const ipk_chan *c, char *buf, size_t cap);

/*
 * Close the channel and free it. A listener removes what it created unless
 * ?persist was given. Pending stream bytes are flushed first (waiting at most
 * ?linger= ms, default 1000). Always frees; returns the first error seen.
 */
int ipk_close(ipk_chan *c);

/*
 * Remove the named object (file, socket path, queue, segment, ring, named
 * semaphore or lock) by address. Only what the address says is removed: a
 * FIFO for fifo:, a socket for unix:, an ipckit ring for shm:/sysvshm:/mmap:
 * (a plain shared-memory object as "shm:/name?region" or
 * "sysvshm:KEY?region"), a queue for sysvmq:/mq:; anything else is -EINVAL
 * with a message naming what was found. An object that a live process is
 * proven to use (a listener's socket, a ring with a live consumer, a queue
 * whose owner lives, a region someone maps) is -EBUSY naming that process.
 * Addresses that ipk_objects_next() prints are all accepted, including
 * "sysvshm:@ID", "sysvmq:@ID" and "sysvsem:@ID".
 */
int ipk_remove(const char *url);

#define IPK_REMOVE_FORCE 0x1 /* remove even if a live process uses it (the
                                kind is still checked) */

/* ipk_remove() with IPK_REMOVE_* flags. */
int ipk_remove_flags(const char *url, int flags);

/* Scheme names the library knows, NULL-terminated; *built says which are
 * usable (may be NULL). Summary line for each via ipk_scheme_summary(). */
const char *const *ipk_schemes(void);
int ipk_scheme_built(const char *scheme);
const char *ipk_scheme_summary(const char *scheme);

/* ------------------------------------------------ messaging patterns */
/*
 * ?proto=NAME picks the pattern a channel speaks (docs/patterns.md), with
 * the same rule on every scheme; without it a channel is PAIR, one peer,
 * as described above.
 *   req   client: ipk_send a request, ipk_recv its reply
 *   rep   server: ipk_recvmsg a request, ipk_sendmsg the reply
 *   push  ipk_send: each message goes to one of the pullers
 *   pull  ipk_recv: what the pushers send
 * Such a channel is a socket: on unix: and tcp: it accepts its own
 * connections (listen) or keeps one up (dial: when the peer goes it dials
 * again), speaking SP req0/rep0/push0/pull0 exactly as nng does, so nng
 * programs of the matching pattern are peers; ipk_accept does not apply.
 * Either side may listen there. On the mailbox schemes (unixgram:, fifo:,
 * sysvmq:, mq:, shm:, mmap:) the REP side listens (owns the mailbox) and
 * REQ sides dial; a reply finds its way back as docs/patterns.md
 * describes per mechanism (on rings a server takes at most 64 clients at
 * once: its ring's producer slots); for push/pull the mailbox itself is
 * the pipeline (sysvshm: too). Refused with a reason: signal: (8-byte
 * messages leave no room for a request header), pipe:/ipk_pair/ipk_spawn
 * (PAIR only), REQ/REP on sysvshm: (no names for per-client reply rings),
 * ?raw (no messages to carry).
 *
 * REQ: one request at a time per channel; sending another abandons the
 * first. Requests carry a 32-bit ID (high bit set); a reply with another ID
 * is dropped. With no reply within ?resend=MS (default 60000; 0 never) the
 * request is sent again, on another connection if its own broke, so a
 * restarted server is found. A send with no server reachable yet succeeds
 * (the request waits and goes out during the receive). A receive that
 * times out (-ETIMEDOUT) cancels the request; -EAGAIN (timeout 0) keeps it.
 * A receive with no request outstanding is -EINVAL.
 * REP: each received request fills ipk_msginfo.route; ipk_sendmsg with
 * that info replies to that client, so a server can keep many requests in
 * flight and reply in any order. ipk_send (no info) replies to the last
 * request received. A reply whose client has gone is dropped silently
 * (the client resends). ipk_msginfo.status travels with the reply to
 * ipckit requesters.
 * PUSH: round-robin among the pullers that can take a message now; waits
 * (within the timeout) when none can. PULL: fair among pushers.
 * ipk_fd() of a socket is readable when a receive may make progress (a
 * message, a connection, a resend that is due): call it with timeout 0.
 *
 * pub   ipk_send: every subscriber gets the message
 * sub   ipk_recv: what the publisher sends, filtered by topic
 * (docs/pubsub.md). A subscriber gets the messages whose body starts with
 * one of its subscribed prefixes: ipk_subscribe() or ?topic=PREFIX on the
 * address (repeatable). No subscription, no messages; the empty prefix
 * takes everything. On unix: and tcp: it speaks SP pub0/sub0 as nng does
 * (a publisher sends each subscriber connection a copy). On shm:,
 * sysvshm: and mmap: the messages go through a broadcast ring that every
 * subscriber reads in place (ipk_recv_peek works there too, and the
 * publisher's ipk_send_borrow): either side may listen (create the ring,
 * or join it) and the other dials. Options:
 *   slow=drop   (default) a subscriber that cannot keep up misses messages:
 *               on shared memory it is told how many, in
 *               ipk_msginfo.missed with the next message it receives
 *   slow=block  the publisher waits for the subscriber, within its send
 *               timeout (given on a subscriber: for that subscriber; on
 *               the address that creates a ring: the default)
 *   history=K   shared memory: a subscriber that joins gets the last K
 *               messages the ring still holds (on the creating address:
 *               the default for subscribers)
 *   subs=N      shared memory, when creating: subscriber slots (default
 *               64, at most 256)
 *   size=, wait=, spin= as for rings.
 * A ring stays while anyone is attached (a publisher may restart and
 * continue where the dead one stopped); the last process to leave removes
 * it unless it was created with ?persist. Refused with a reason on the
 * mechanisms where a message reaches only one receiver.
 */

/* Subscribe a ?proto=sub channel to messages that start with prefix (len
 * bytes; 0 subscribes to everything). Subscribing twice is one
 * subscription. -EOPNOTSUPP for other channels. */
int ipk_subscribe(ipk_chan *c, const void *prefix, size_t len);
/* Drop a subscription (-ENOENT if there was none for that prefix). */
int ipk_unsubscribe(ipk_chan *c, const void *prefix, size_t len);
/* Subscribers a ?proto=pub channel has now (connections on unix:/tcp:,
 * live subscribers of the ring on shared memory). */
int ipk_subscribers(ipk_chan *c);

/* -------------------------------------- message queues and signals */
/*
 * sysvmq:  System V message queue (docs/queues.md has the details).
 *   sysvmq:/path?proj=N  key from ftok(path, N); the path must exist;
 *                        proj 1..255, default 1
 *   sysvmq:0x66001234    a raw key (queues made by ipcmk -Q or any program)
 *   Options: type=N   default type: N > 0 is the type sent and the selector
 *                     received; N < 0 only the receive selector
 *            except   receive with MSG_EXCEPT by default
 *            noerror  receive with MSG_NOERROR by default (truncate)
 *            qbytes=N listen: the queue's capacity in bytes (msg_qbytes;
 *                     above kernel.msgmnb needs CAP_SYS_RESOURCE)
 *   ipk_listen creates the queue (IPC_CREAT|IPC_EXCL, mode 0600 unless
 *   ?mode=) and removes it on close unless ?persist; ipk_dial attaches to an
 *   existing one. Both ends may send and receive. The payload is exactly
 *   the bytes after mtype, so msgsnd/msgrcv programs are peers.
 *   ipk_msginfo.type: the type sent (0: ?type= or 1); on receive the
 *   selector in, the type received out. flags IPK_MSG_EXCEPT/NOERROR.
 *   A message over kernel.msgmax or the queue's msg_qbytes is -EMSGSIZE.
 *   A removed queue is -EPIPE. ipk_fd() is an eventfd kept by a helper
 *   thread (started on first use) that watches the queue's message count.
 *   On sysvmq: and mq:, ipk_maxmsg() stays the channel's own limit; the
 *   kernel's is max_msgsize in ipk_queue_info.
 *
 * mq:  POSIX message queue.
 *   mq:/name?maxmsg=N&msgsize=N  (maxmsg is the queue's depth in messages,
 *   as in struct mq_attr, not a byte limit; both only when creating; the
 *   channel's byte limit is the queue's mq_msgsize). Option prio=N: default
 *   send priority. ipk_msginfo.prio is the priority sent / received.
 *   ipk_fd() is the queue descriptor itself. A dialer whose queue name was
 *   removed (the owner closed) gets -EPIPE once the queue is empty or full.
 *
 * signal:  a signal carrying up to 8 bytes.
 *   signal:self?sig=RTMIN+N   listen: block the signal in the calling thread
 *                             and read it through signalfd (the ipk_fd)
 *   signal:PID?sig=RTMIN+N    dial: send to PID (pidfd_send_signal)
 *   sig= takes RTMIN+N, RTMAX-N, USR1, SIGUSR2, ... or a number; default
 *   RTMIN. Standard signals do not queue: one that is still pending at the
 *   receiver is not sent twice (the sender waits for it to be taken), but
 *   senders racing each other can still coalesce. Received messages report
 *   the sender's pid and uid in ipk_msginfo (as the sender stated them:
 *   the kernel checks permission to signal, not these values) and the
 *   signal number in ipk_msginfo.type. A plain sigqueue() (or a timer's or
 *   mq_notify's sigev_value) gives an 8-byte message holding the union
 *   sigval; kill(2) gives an empty message.
 *   signalfd needs the signal blocked in every thread of the process: call
 *   ipk_signal_block() before creating threads (ipk_listen refuses with
 *   -EINVAL, naming the thread, when another thread does not block it).
 */

/* State of a queue as the kernel reports it. Fields a mechanism lacks are 0. */
typedef struct ipk_queue_info {
	const char *scheme;     /* "sysvmq", "mq" or "signal" */
	size_t messages;        /* queued now (msg_qnum, mq_curmsgs; signal:
	                           pending signals of this user, SigQ) */
	size_t bytes;           /* bytes queued now (msg_cbytes; mq: QSIZE) */
	size_t max_bytes;       /* sysvmq: capacity in bytes (msg_qbytes) */
	size_t max_messages;    /* mq: mq_maxmsg; signal: RLIMIT_SIGPENDING */
	size_t max_msgsize;     /* largest message: kernel.msgmax, mq_msgsize, 8 */
	pid_t last_send_pid;    /* sysvmq: msg_lspid */
	pid_t last_recv_pid;    /* sysvmq: msg_lrpid */
	int64_t send_time;      /* sysvmq: msg_stime, seconds since the epoch */
	int64_t recv_time;      /* sysvmq: msg_rtime */
	int64_t change_time;    /* sysvmq: msg_ctime; mq: last send/receive */
	uid_t uid, cuid;        /* owner and creator (mq: owner only) */
	gid_t gid, cgid;
	unsigned mode;          /* permission bits */
	long id;                /* sysvmq: msqid; signal: signal number */
	long key;               /* sysvmq: the key */
	long flags;             /* mq: mq_flags of this descriptor */
} ipk_queue_info;

/* Status of the queue behind a sysvmq:, mq: or signal: channel. */
int ipk_queue_status(ipk_chan *c, ipk_queue_info *st);

/* Status of a queue by address, without keeping it open (-ENOENT if it
 * does not exist). A signal: address must name a process that listens. */
int ipk_queue_stat(const char *url, ipk_queue_info *st);

/*
 * Block the signal named by a signal: address (e.g. "signal:self?sig=RTMIN+2")
 * in the calling thread, so threads created afterwards inherit the block and
 * a later ipk_listen() on it receives every instance. Returns the signal
 * number or a negative errno.
 */
int ipk_signal_block(const char *url);

/* --------------------------------- shared memory: regions and rings */

/*
 * Regions: raw shared memory at a plain address, as classic programs use it
 * (and a home for semaphores and robust mutexes). Addresses:
 *   "shm:/name"              POSIX shared memory (shm_open; /dev/shm/name)
 *   "sysvshm:/path?proj=N"   System V segment, key = ftok(path, N); N is
 *                            1..255, default 1; the path must exist
 *   "sysvshm:0x1234abcd"     System V segment by explicit key
 *   "mmap:/path"             a regular file mapped shared: the contents
 *                            survive the processes and a reboot
 * Options: ?size= (instead of the size argument), ?mode= (permission bits of
 * a new region; 0600 unless widened; the umask does not apply).
 * A new region is zero-filled. Detaching never destroys a named region;
 * ipk_region_remove() (or ipk_remove(url)) does.
 */
typedef struct ipk_region ipk_region;

#define IPK_REGION_CREATE 0x1 /* create it; -EEXIST if it already exists */
#define IPK_REGION_ATTACH 0x2 /* attach to an existing one; -ENOENT if none.
                                 CREATE|ATTACH: attach, or create if absent */
#define IPK_REGION_RDONLY 0x4 /* map read-only (attach only) */

/*
 * Create or attach the region named by url and map it. size is the size to
 * create, or on attach the size to map (0: the whole object; larger than
 * the object is -EINVAL, since touching past its end would fault).
 */
int ipk_region_open(ipk_region **out, const char *url, size_t size, int flags);

/*
 * An anonymous shared region (MAP_SHARED|MAP_ANONYMOUS): no name, shared
 * with children forked after this call, gone when the last one detaches.
 */
int ipk_region_anon(ipk_region **out, size_t size);

/* Start of the mapping (page-aligned), and its length in bytes. */
void *ipk_region_addr(const ipk_region *r);
size_t ipk_region_size(const ipk_region *r);

#define IPK_REGION_POSIX 1
#define IPK_REGION_SYSV 2
#define IPK_REGION_FILE 3
#define IPK_REGION_ANON 4

typedef struct ipk_regioninfo {
	int kind;         /* IPK_REGION_* */
	size_t size;      /* size of the object (may exceed what is mapped) */
	long nattch;      /* processes attached: shm_nattch for System V; for
	                     POSIX and files the processes whose mappings we can
	                     read in /proc (-1 if unknown) */
	pid_t cpid;       /* creator (System V; else 0: not recorded) */
	pid_t lpid;       /* last shmat/shmdt (System V; else 0) */
	uid_t uid, gid;   /* owner */
	uid_t cuid, cgid; /* creator's ids (System V; else the owner's) */
	unsigned mode;    /* permission bits */
	int shmid;        /* System V id, else -1 */
	int32_t key;      /* System V key (key_t), else 0 */
	int64_t atime, dtime, ctime; /* System V attach/detach/change times; for
	                     files and POSIX the access/-/change times (s) */
	int created;      /* this handle created the object */
	int rdonly;       /* mapped read-only */
} ipk_regioninfo;

/* Facts about an attached region (System V ones come from shmid_ds). */
int ipk_region_info(const ipk_region *r, ipk_regioninfo *info);

/* The same by address, without attaching. -ENOENT if there is none. */
int ipk_region_stat(const char *url, ipk_regioninfo *info);

/*
 * Unmap the region and free the handle. The named object stays for others
 * (and for later attaches); only ipk_region_remove() destroys it. Returns
 * the first error but always frees.
 */
int ipk_region_detach(ipk_region *r);

/*
 * Destroy the named object behind r (shm_unlink, IPC_RMID, unlink) if it is
 * still the one r attached. Current mappings stay valid until detached;
 * new attaches no longer find it. The handle stays: detach it afterwards.
 * -EINVAL for anonymous regions.
 */
int ipk_region_remove(ipk_region *r);

/*
 * Rings: "shm:", "sysvshm:" and "mmap:" used with ipk_listen/ipk_dial give
 * a message channel whose messages live in a ring inside such a region.
 * The listener creates the ring and receives; dialers send (like a FIFO).
 * ipk_pair("shm:") gives both directions in an anonymous region for fork.
 * Options:
 *   ?size=1M       region size (default 1M); the ring holds a little less:
 *                  each message takes 16 bytes of header and is padded to 16
 *   ?mpmc          several producers and consumers (chosen at creation);
 *                  extra consumers listen on the existing ring. Default:
 *                  one producer and one consumer (-EBUSY for a second one)
 *   ?wait=hybrid   how a blocked call waits: "spin" (busy-poll, lowest
 *                  latency, burns a CPU), "block" (sleep on a futex at
 *                  once), "hybrid" (default: spin ?spin= microseconds,
 *                  default 50, then sleep)
 *   ?proj=N        sysvshm: ftok project id
 * A message that can never fit is -EMSGSIZE naming the capacity. Payloads
 * are 16-byte aligned. A ring is a mailbox: producers come and go, and a
 * receive waits (within its timeout) for the next one; ipk_ring_info() says
 * who is attached now. A send is -EPIPE once the last listener has closed
 * the ring (removing it) or the ring was removed; a ring whose listener died,
 * or one kept with ?persist, takes messages for the next listener until it
 * is full, then a send times out saying no consumer is attached. ipk_pair()
 * rings are a connection: -EPIPE once the other end has closed. A restarted
 * listener takes over a ring whose consumer died and continues. A ring
 * whose bytes were spoiled by another process is -EPROTO naming the field;
 * one made by another version of ipckit is -EPROTO saying so. ipk_fd() on
 * a receiving ring is a doorbell socket,
 * readable when a receive would not block (free of cost until first asked
 * for). The last live consumer to close removes the ring unless ?persist.
 * A channel handle is for one thread at a time; processes sharing a ring
 * must share a pid namespace. docs/shm.md has the design.
 */

/*
 * Zero-copy send: borrow len bytes of contiguous space in the ring channel's
 * next message and get its address in *buf; write the message in place,
 * then ipk_send_commit() it (or ipk_send_abort()). Waits up to timeout_ms
 * for space. Returns len. One borrow at a time per channel; a second borrow
 * before commit is -EBUSY. Other channels: -EOPNOTSUPP.
 */
ssize_t ipk_send_borrow(ipk_chan *c, void **buf, size_t len, int timeout_ms);

/* Publish the borrowed message with its final length (<= what was
   borrowed). Returns len. */
ssize_t ipk_send_commit(ipk_chan *c, size_t len);

/* Give the borrowed space back unsent. */
int ipk_send_abort(ipk_chan *c);

/*
 * Zero-copy receive: wait up to timeout_ms for the next message and point
 * *buf at it inside the ring. Returns its length. The bytes stay valid (and
 * the message stays in the ring) until ipk_recv_release(); a second peek
 * before release is -EBUSY. Refuses (and drops) a message over ?maxmsg=.
 * On unix: channels a large message (?large) is lent as a read-only
 * mapping of its sealed memfd, without a copy; other messages are lent
 * from a copy the channel holds until the release. Other channels:
 * -EOPNOTSUPP.
 */
ssize_t ipk_recv_peek(ipk_chan *c, const void **buf, int timeout_ms);

/* Let the producer reuse the space of the peeked message. On a
 * publish/subscribe channel with slow=drop the publisher may have
 * overwritten it meanwhile: -ESTALE then (discard what was read from it;
 * it counts as missed). */
int ipk_recv_release(ipk_chan *c);

/* ipk_recv_peek with the message's metadata (ipk_msginfo.missed on a
 * shared-memory subscriber). info may be NULL. */
ssize_t ipk_recv_peekmsg(ipk_chan *c, const void **buf, ipk_msginfo *info,
                         int timeout_ms);

typedef struct ipk_ringinfo {
	size_t capacity;    /* bytes for records */
	size_t used;        /* bytes held by unreleased records now */
	size_t max_message; /* largest message that fits */
	int mpmc;           /* created with ?mpmc */
	int producers;      /* live producers / consumers attached now */
	int consumers;
	pid_t producer_pid; /* first attached producer / consumer, or 0 */
	pid_t consumer_pid;
} ipk_ringinfo;

/* Ring state of a ring channel (-EOPNOTSUPP for other channels). */
int ipk_ring_info(const ipk_chan *c, ipk_ringinfo *info);

/* -------------------------------------------------- synchronisation */

/*
 * Semaphores, robust locks in shared memory and file locks, for use between
 * processes (and between threads). docs/sync.md has the details and examples.
 * These are not channels and are not listed by ipk_schemes().
 *
 * Addresses
 *   sem:/name                  POSIX named semaphore (/dev/shm/sem.name)
 *   sysvsem:/path?proj=N&n=K   System V set of K semaphores, key ftok(path, N)
 *   sysvsem:0x1234abcd?n=K     System V set by key
 *   sysvsem:private?n=K        a new private System V set (share it by fork,
 *                              or by its id as "sysvsem:@ID")
 *   sysvsem:@ID                an existing System V set by identifier
 *   mutex:/name, cond:/name, rwlock:/name
 *                              a lock in a small POSIX shared-memory object
 *                              (/dev/shm/ipk-mutex.name, ...), see below
 * Options
 *   mode=0660   permissions when creating (default 0600)
 *   value=N     initial value when creating a semaphore; takes precedence
 *               over the initial argument of ipk_sem_open()
 *   n=K         sysvsem: semaphores in the set (default 1 when creating; when
 *               opening, at least K must exist)
 *   proj=N      sysvsem: ftok project id 1..255 (default 1)
 *   undo=0      sysvsem: operate without SEM_UNDO (same as IPK_SYNC_NOUNDO)
 *   timeout=MS  how long opening waits for an object that another process is
 *               still creating (default 10000)
 *
 * Lifetime: these objects persist until removed. Closing a handle never
 * removes the object; ipk_sem_unlink() or ipk_sync_remove() does.
 */

/* Flags for the open functions. Without IPK_SYNC_CREATE the object must
 * exist (-ENOENT otherwise). */
#define IPK_SYNC_CREATE 0x1 /* create it if it does not exist */
#define IPK_SYNC_EXCL 0x2   /* with IPK_SYNC_CREATE: -EEXIST if it exists */
#define IPK_SYNC_NOUNDO 0x4 /* sysvsem: no SEM_UNDO (see ipk_sem_open) */

/* Remove a named object by address: sem:, sysvsem: (not private), mutex:,
 * cond:, rwlock:. Handles still open elsewhere keep working where the
 * mechanism allows it (POSIX objects); System V waiters get -EIDRM. */
int ipk_sync_remove(const char *url);

/* ------------------------------------------------------------ semaphores */

typedef struct ipk_sem ipk_sem;

/*
 * Open the semaphore named by url (sem: or sysvsem:). flags: IPK_SYNC_*.
 * initial (>= 0; ?value= wins) is the value a newly created semaphore gets;
 * every semaphore of a new System V set gets it. Limits: SEM_VALUE_MAX for
 * POSIX, SEMVMX (32767) for System V.
 *
 * System V: a new set is created and initialised race-free: the creator
 * makes it with IPC_EXCL, sets the values and then performs one semop;
 * a process that opens an existing set waits (up to ?timeout=) until that
 * first semop has happened (sem_otime != 0), so it never sees the values
 * the kernel started with. A set whose creator died before that point is
 * reported with -ETIMEDOUT and a message saying so.
 *
 * SEM_UNDO is on by default for System V: when a process exits, the kernel
 * reverts what its operations did, so one killed between wait and post gives
 * the semaphore back. That is right for locks (the same process waits and
 * posts). For signalling (one process posts, another waits) turn it off
 * with IPK_SYNC_NOUNDO or ?undo=0: otherwise a producer's posts are revoked
 * when it exits, and more than 32767 unmatched posts fail with -ERANGE.
 */
int ipk_sem_open(ipk_sem **out, const char *url, int flags, int initial);

/* 1 if this handle created the object, 0 if it opened an existing one. */
int ipk_sem_created(const ipk_sem *s);

/* Decrement (semaphore 0 of a System V set), waiting up to timeout_ms while
 * it is zero. -EIDRM if a System V set is removed meanwhile. */
int ipk_sem_wait(ipk_sem *s, int timeout_ms);
/* ipk_sem_wait(s, 0): -EAGAIN if it is zero. */
int ipk_sem_trywait(ipk_sem *s);
/* Increment. -EOVERFLOW/-ERANGE past the limit. */
int ipk_sem_post(ipk_sem *s);
/* Current value (>= 0) or a negative errno. */
int ipk_sem_value(ipk_sem *s);
/* Remove the object s refers to (s itself stays valid until closed; for an
 * unnamed semaphore this destroys it: no process may still use it). */
int ipk_sem_unlink(ipk_sem *s);
/* Release the handle. Never removes the object. NULL is accepted. */
int ipk_sem_close(ipk_sem *s);

/*
 * POSIX unnamed semaphore inside memory that the processes share (a shared
 * region, MAP_SHARED memory inherited across fork). addr points at
 * IPK_SEM_MEM_SIZE bytes aligned to 8. One process initialises it with
 * ipk_sem_init_at(); the others, once told it is ready, use
 * ipk_sem_attach_at(). The handle is the caller's to close; the memory
 * stays the caller's.
 */
#define IPK_SEM_MEM_SIZE 32
int ipk_sem_init_at(ipk_sem **out, void *addr, int initial);
int ipk_sem_attach_at(ipk_sem **out, void *addr);

/* System V: one operation of ipk_semset_op(). */
typedef struct ipk_semop {
	unsigned short num; /* semaphore index in the set */
	short op;           /* > 0 add, < 0 wait until it can subtract,
	                       0 wait until the value is zero */
	short flags;        /* IPK_SEMOP_* */
} ipk_semop;

#define IPK_SEMOP_NOUNDO 0x1 /* this operation without SEM_UNDO */
#define IPK_SEMOP_UNDO 0x2   /* this operation with SEM_UNDO even if the
                                handle was opened with it off */

/*
 * Apply n operations to a System V set atomically: either all of them
 * happen or, until the timeout, none. -EOPNOTSUPP on POSIX semaphores,
 * -E2BIG beyond kernel.sem SEMOPM, -EFBIG for an index past the set.
 */
int ipk_semset_op(ipk_sem *s, const ipk_semop *ops, size_t n, int timeout_ms);
/* Number of semaphores in the set (1 for POSIX). */
int ipk_semset_count(const ipk_sem *s);
/* Value of semaphore num, or set it (SETVAL: clears every process's undo
 * adjustment for that semaphore, as the kernel does). */
int ipk_semset_get(ipk_sem *s, unsigned num);
int ipk_semset_set(ipk_sem *s, unsigned num, int value);
/* How many processes wait on semaphore num to decrement it (*ndec) and to
 * see it zero (*nzero). Either pointer may be NULL. */
int ipk_semset_waiters(ipk_sem *s, unsigned num, int *ndec, int *nzero);
/* The System V identifier (for "sysvsem:@ID"), -EOPNOTSUPP on POSIX. */
int ipk_semset_id(const ipk_sem *s);

/* ------------------------------------------- locks in shared memory */

/*
 * ipk_mutex, ipk_cond and ipk_rwlock are placed in memory shared by the
 * processes (or threads) that use them, at an address the caller chooses,
 * aligned to 8; one process initialises, the others use. Or they are
 * created by name with ipk_*_open(), which puts each in its own small POSIX
 * shared-memory object and lets any process open it race-free.
 * They are process-shared and robust:
 *
 * -EOWNERDEAD from a lock call means the previous holder died holding it.
 *   The caller now holds the lock; the data it protects may be half
 *   updated. Repair it, then call ipk_*_consistent() and unlock. Unlocking
 *   without that makes the lock permanently unusable: every later lock
 *   call gets -ENOTRECOVERABLE (re-initialise it when nobody uses it).
 * -EDEADLK: the calling thread already holds the mutex.
 * -EPERM: unlocking a lock the calling thread does not hold.
 * Locks belong to threads: the thread that locked unlocks.
 */
typedef struct ipk_mutex { uint64_t opaque[8]; } ipk_mutex;
typedef struct ipk_cond { uint64_t opaque[2]; } ipk_cond;
typedef struct ipk_rwlock { uint64_t opaque[400]; } ipk_rwlock;

int ipk_mutex_init(ipk_mutex *m);
/* Lock, waiting up to timeout_ms (CLOCK_MONOTONIC). */
int ipk_mutex_lock(ipk_mutex *m, int timeout_ms);
int ipk_mutex_trylock(ipk_mutex *m);
int ipk_mutex_consistent(ipk_mutex *m);
int ipk_mutex_unlock(ipk_mutex *m);
/* Only when no process uses it any more. */
int ipk_mutex_destroy(ipk_mutex *m);

/*
 * Condition variable. Waiting holds no state that a dying waiter could leave
 * behind, so the death of a waiter never costs the others a wakeup.
 * ipk_cond_wait() releases m (held by the caller), waits up to timeout_ms
 * (CLOCK_MONOTONIC) for a signal, then takes m again before returning, even
 * on timeout. Returns 0 (woken; wakeups may be spurious: re-check the
 * predicate), -ETIMEDOUT, -EAGAIN for timeout 0, or what locking m gave
 * (-EOWNERDEAD: held, repair; -ENOTRECOVERABLE: not held).
 */
int ipk_cond_init(ipk_cond *c);
int ipk_cond_wait(ipk_cond *c, ipk_mutex *m, int timeout_ms);
int ipk_cond_signal(ipk_cond *c);    /* wake at least one waiter */
int ipk_cond_broadcast(ipk_cond *c); /* wake all waiters */
int ipk_cond_destroy(ipk_cond *c);

/*
 * Robust read-write lock, writer-preferring. Up to IPK_RWLOCK_READERS
 * threads may hold it for reading at once (more wait for a free slot). A
 * reader that dies is forgotten silently (readers change nothing). A writer
 * that dies makes the next locker, reader or writer, get -EOWNERDEAD while
 * holding the lock exclusively: repair, ipk_rwlock_consistent(), unlock.
 * Not recursive: a thread takes it once.
 */
#define IPK_RWLOCK_READERS 64
int ipk_rwlock_init(ipk_rwlock *rw);
int ipk_rwlock_rdlock(ipk_rwlock *rw, int timeout_ms);
int ipk_rwlock_wrlock(ipk_rwlock *rw, int timeout_ms);
int ipk_rwlock_unlock(ipk_rwlock *rw);
int ipk_rwlock_consistent(ipk_rwlock *rw);
int ipk_rwlock_destroy(ipk_rwlock *rw);

/*
 * Named locks: "mutex:/name", "cond:/name", "rwlock:/name" (options mode=,
 * timeout=). The creator initialises the object before anyone can use it;
 * openers wait up to ?timeout= for that. flags: IPK_SYNC_*. Close with the
 * matching ipk_*_close() (only objects that came from ipk_*_open()); remove
 * with ipk_sync_remove().
 */
int ipk_mutex_open(ipk_mutex **out, const char *url, int flags);
int ipk_mutex_close(ipk_mutex *m);
int ipk_cond_open(ipk_cond **out, const char *url, int flags);
int ipk_cond_close(ipk_cond *c);
int ipk_rwlock_open(ipk_rwlock **out, const char *url, int flags);
int ipk_rwlock_close(ipk_rwlock *rw);

/* ------------------------------------------------------------ inventory */

/*
 * Every IPC object on the machine: System V queues, segments and semaphore
 * sets; POSIX shared memory (ipckit rings, plain regions, named locks),
 * named semaphores and message queues; FIFOs, unix sockets (path and
 * abstract) and mmap: rings. For each, who created it, who uses it now, and
 * whether that can be proven (docs/inventory.md).
 *
 *   ipk_objscan *s;
 *   if (ipk_objects_open(&s, NULL) == 0) {
 *       const ipk_object *o;
 *       while ((o = ipk_objects_next(s)) != NULL)
 *           printf("%s %s\n", o->address, ipk_objstate_name(o->state));
 *       ipk_objects_close(s);
 *   }
 *
 * Liveness is proven, never guessed: a process counts as alive only when
 * its pid exists with the start time recorded for it (or, for System V
 * objects, a start time before the kernel's record of its operation), and
 * as dead only when the pid is gone or belongs to a process started later.
 */

/* State of an object. */
#define IPK_OBJ_LIVE 1    /* a live process provably uses it */
#define IPK_OBJ_ORPHAN 2  /* provably no live user: left behind */
#define IPK_OBJ_UNKNOWN 3 /* cannot be proven either way (see why) */
#define IPK_OBJ_PERM0 4   /* permission 0, nobody alive uses it */

/* What is known of a process recorded for an object. */
#define IPK_PID_NONE 0    /* none recorded */
#define IPK_PID_ALIVE 1   /* that very process is running */
#define IPK_PID_DEAD 2    /* gone (its pid is free or now another process's) */
#define IPK_PID_UNKNOWN 3 /* cannot tell */

typedef struct ipk_objpid {
	pid_t pid;
	int state; /* IPK_PID_* */
} ipk_objpid;

#define IPK_OBJ_MAXHOLDERS 8

typedef struct ipk_object {
	const char *kind;    /* "sysvmq" "sysvshm" "sysvsem" "shm" "sem" "mq"
	                        "mutex" "cond" "rwlock" "fifo" "unix" "unixgram"
	                        "mmap", or "record": an owner record ipckit
	                        keeps in /dev/shm whose object is gone
	                        (docs/inventory.md) */
	const char *address; /* what ipk_remove() and the CLI accept */
	const char *path;    /* the file behind it, or "" */
	const char *detail;  /* what it is: "ring", "ring mpmc", "region",
	                        "listening", "private" ... or "" */
	const char *use;     /* use in words ("3 msgs, 120 B", "1 attached") */
	int state;           /* IPK_OBJ_* */
	const char *why;     /* one line: why that state */
	int persist;         /* 1 kept on purpose (?persist, or a kind that
	                        persists by design), 0 not, -1 cannot tell */
	long id;             /* System V identifier, else -1 */
	long key;            /* System V key (0 for IPC_PRIVATE), else -1 */
	uid_t uid;
	gid_t gid;
	unsigned mode;       /* permission bits */
	uint64_t size;       /* bytes of the object */
	int64_t messages;    /* queues: messages queued now, else -1 */
	int64_t bytes;       /* queues: bytes queued; rings: bytes in use; -1 */
	int64_t attached;    /* processes using it now (System V segments: the
	                        kernel's count), -1 if it cannot be told */
	int producers;       /* rings: attached producers / consumers, else -1 */
	int consumers;
	int64_t value;       /* semaphores: value (System V: of semaphore 0);
	                        else -1 */
	int64_t count;       /* System V semaphore sets: semaphores, else -1 */
	ipk_objpid creator;  /* the process that made it */
	ipk_objpid last;     /* the last to operate on it (System V: last
	                        send/receive, attach/detach or semop) */
	size_t nholders;     /* processes found holding it now ... */
	pid_t holders[IPK_OBJ_MAXHOLDERS]; /* ... the first of them */
	int64_t changed;     /* last change, seconds since the epoch, or 0 */
} ipk_object;

/* Options for ipk_objects_open(); a zeroed struct (or NULL) lists all. */
typedef struct ipk_objscan_opts {
	const char *kind;         /* only this kind (ipk_object.kind), or NULL */
	const char *const *paths; /* files and directories to search for mmap:
	                             rings, FIFOs and sockets besides /tmp,
	                             /var/tmp and /dev/shm; NULL-terminated */
	int flags;                /* 0 */
} ipk_objscan_opts;

typedef struct ipk_objscan ipk_objscan;

/*
 * Take an inventory of the machine's IPC objects (as this process sees
 * them: its IPC, mount and network namespaces and its permissions). A user
 * who may not see everything gets what is visible and notes saying what is
 * missing (ipk_objects_note), never an error. -EINVAL for an unknown kind.
 */
int ipk_objects_open(ipk_objscan **out, const ipk_objscan_opts *opts);
/* The next object, or NULL at the end. Valid until the scan is closed. */
const ipk_object *ipk_objects_next(ipk_objscan *s);
/* Note i (0, 1, ...) about what the scan could not see, or NULL. */
const char *ipk_objects_note(const ipk_objscan *s, size_t i);
void ipk_objects_close(ipk_objscan *s);

/* "live", "orphan", "unknown", "permission-0". */
const char *ipk_objstate_name(int state);

/*
 * Remove exactly the object o of a scan (not another one made since under
 * the same name), if it is still not in use. Without IPK_REMOVE_FORCE only
 * an IPK_OBJ_ORPHAN that is not kept on purpose and belongs to the caller
 * (any owner for root) is removed; anything else is -EBUSY (-EPERM for
 * another user's) with the reason. The object is looked at again just
 * before.
 */
int ipk_object_remove(const ipk_object *o, int flags);

/*
 * Enter the IPC, mount and network namespaces of process pid (setns(2)), so
 * that scans see a container's objects. The calling process changes
 * namespace for good; it must be single-threaded. Needs CAP_SYS_ADMIN.
 */
int ipk_objects_setns(pid_t pid);

/* One kernel limit that bounds IPC, with its use now. */
typedef struct ipk_limit {
	const char *name;   /* "msgmni", "shmall", "mqueue.queues_max", ... */
	const char *what;   /* what it bounds, in words */
	int64_t value;      /* the limit (-1 if unreadable) */
	int64_t used;       /* use now (-1 if it cannot be told) */
	const char *unit;   /* "queues", "bytes", "pages", ... */
	const char *raise;  /* how to raise it ("sysctl -w kernel.msgmni=N") */
} ipk_limit;

/* The limits, into out[cap]; returns how many there are (call with cap 0
   to count). Strings are static. */
ssize_t ipk_limits(ipk_limit *out, size_t cap);

/* ------------------------------------------------------------ file locks */

/*
 * Open-file-description locks (fcntl F_OFD_*): they belong to the handle,
 * conflict between handles even inside one process, and go away when the
 * handle is closed or the process exits. Threads should each open their
 * own handle (a handle shares its locks with everyone using it, including a
 * child that inherited it across fork).
 */
typedef struct ipk_flock ipk_flock;

/* Open path; IPK_SYNC_CREATE creates it mode 0600 if missing. A file that
 * can only be opened read-only allows shared locks only. */
int ipk_flock_open(ipk_flock **out, const char *path, int flags);

#define IPK_FLOCK_SHARED 0x1 /* read lock; default exclusive (write) lock */
#define IPK_FLOCK_WHOLE 0x2  /* a flock(2) lock on the whole file (off and
                                len must be 0) instead of an OFD record
                                lock. The kernel keeps the two kinds apart:
                                this one excludes flock(1)/flock(2) users,
                                the default excludes fcntl/lockf users.
                                Unlock with off = len = 0. */

/*
 * Lock len bytes from off (len 0: from off to the end of the file, however
 * far it grows; 0, 0 is the whole file), waiting up to timeout_ms. Locking
 * a range this handle already holds converts it (shared <-> exclusive).
 * Waits with a timeout poll the lock (the kernel offers no timed wait);
 * timeout -1 sleeps in the kernel and is woken as soon as the lock is free.
 */
int ipk_flock_lock(ipk_flock *f, int flags, off_t off, off_t len,
                   int timeout_ms);
int ipk_flock_unlock(ipk_flock *f, off_t off, off_t len);
/* The descriptor (owned by the handle). */
int ipk_flock_fd(const ipk_flock *f);
/* Close the handle, releasing its locks. NULL is accepted. */
int ipk_flock_close(ipk_flock *f);

#ifdef __GNUC__
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* IPCKIT_H */
