/* Connection-oriented stream sockets shared by unix: and tcp:. */
#ifndef IPK_SOCKSTREAM_H
#define IPK_SOCKSTREAM_H

#include "../core/internal.h"

#include <sys/socket.h>

/* SP connection header exchange (sphs.c), advanced without blocking. */
struct ipk__sphs {
	int fd;
	uint16_t self, peer; /* protocol we announce, protocol we accept */
	bool listener;       /* answer only once the peer starts like SP */
	bool text;           /* what the peer sent instead looks like text */
	bool large;          /* unix: ?large: our header says we take large
	                        messages (a marker descriptor rides with it) */
	bool peer_large;     /* the peer's header said so */
	unsigned sent, got;
	unsigned char theirs[8];
};
/* One step: 1 done, 0 waiting for the peer, < 0 failed (message set). */
int ipk__sp_step(struct ipk__sphs *h);
/* The whole exchange, waiting until the deadline (large, peer_large: as
   in struct ipk__sphs; peer_large may be NULL). */
int ipk__sp_handshake(int fd, uint16_t self, uint16_t peer, bool large,
                      bool *peer_large, int64_t deadline);
/* Close a connection whose handshake failed; a peer that sent text is
   told why in a line of text first. */
void ipk__sp_refuse(struct ipk__sphs *h, const char *why);
/* "REQ v0" for 0x30. */
const char *ipk__sp_name(uint16_t proto);

/* Handshakes a listener keeps under way by default (?pending=N). */
#define IPK__DEFAULT_PENDING 1024

/* A connection accepted whose SP handshake is not done yet: kept apart
   from the others, oldest first, so none of them can hold up another. */
struct ipk__pending {
	struct ipk__sphs hs;
	int family;
	int64_t expires; /* a peer silent this long is dropped */
	struct ipk__pending *prev, *next;
};

/* Who may connect to an abstract unix: name (it has no file permissions):
   the mode bits checked against each peer's credentials. */
struct ipk__peercheck {
	bool on;
	unsigned mode;
	uid_t uid;
	gid_t gid;
};
/* 1 if a peer with these credentials may talk to us (write permission as
   the file would give it; root always may); fd (or -1) supplies the peer's
   supplementary groups. */
bool ipk__peer_allowed(const struct ipk__peercheck *pc, uid_t uid, gid_t gid,
                       int fd);

struct ipk__sockchan {
	ipk__stream s;
	int lfd;                  /* listener socket, else -1 */
	int epfd;                 /* listener: lfd + pending handshakes */
	struct ipk__pending *oldest, *newest;
	long npend, maxpend;
	struct ipk__peercheck check; /* listener on an abstract name */
	enum ipk__framing framing; /* framing when not raw */
	bool owns_path;            /* unix: listener created this socket file */
	dev_t dev;
	ino_t ino;
	pid_t peer_pid;            /* unix: the connected peer (SO_PEERCRED) */
	uid_t peer_uid;
	struct ipk__sphs hs;       /* a lazy dial: the peer's header to come */
	bool hs_open;
	bool large;                /* unix: listener: ?large (say so in the SP
	                              header of each connection) */
};

/* Listen on an already bound socket. */
int ipk__ss_listen(ipk_chan *c, int fd, enum ipk__framing framing);
/* Connect, retrying refused/missing endpoints until the deadline. */
int ipk__ss_dial(ipk_chan *c, int family, const struct sockaddr *sa,
                 socklen_t len, enum ipk__framing framing, int64_t deadline);

/* Let a receive without a deadline wait at most ns in the kernel
   (SO_RCVTIMEO), one system call, then report -ETIMEDOUT. 0: no limit. */
int ipk__ss_rcvtimeo(ipk_chan *c, int64_t ns);

ssize_t ipk__ss_send(ipk_chan *c, const void *buf, size_t len,
                     const ipk_msginfo *info, int64_t deadline);
ssize_t ipk__ss_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline);
ssize_t ipk__ss_send_many(ipk_chan *c, const struct iovec *msgs, size_t n,
                          int64_t deadline);
ssize_t ipk__ss_send_fds(ipk_chan *c, const void *buf, size_t len,
                         const int *fds, size_t nfds, int64_t deadline);
ssize_t ipk__ss_peek(ipk_chan *c, const void **buf, int64_t deadline);
int ipk__ss_release(ipk_chan *c);
int ipk__ss_accept(ipk_chan *l, ipk_chan *c, int64_t deadline);
int ipk__ss_fd(const ipk_chan *c);
int ipk__ss_pending(const ipk_chan *c);
/* Write out what a send kept of a message, and what a ?batch channel
   queued, until the deadline (ipk_flush). */
int ipk__ss_flush(ipk_chan *c, int64_t deadline);
/* Write out the rest of a message a send began (a batching channel's
   queue is left to its own rules: ipk__ss_flush writes it). */
int ipk__ss_finish(ipk_chan *c, int64_t deadline);
int ipk__ss_shutdown(ipk_chan *c);
/* Close sockets (not the unix path: the unix transport does that). */
int ipk__ss_close(ipk_chan *c);

/* unix: helpers shared with unixgram: */
struct sockaddr_un;
int ipk__unix_addr(const ipk__url *u, struct sockaddr_un *sun, socklen_t *len);
int ipk__unix_bind(ipk_chan *c, int type, int *out, dev_t *dev, ino_t *ino);
void ipk__unix_unlink_own(const char *path, dev_t dev, ino_t ino);

/* unixgram: a listener's last sender (its address length, 0 if none), and
   a datagram to a given sender: for answering several clients. */
socklen_t ipk__gram_last_sender(const ipk_chan *c, struct sockaddr_un *out);
ssize_t ipk__gram_sendto(ipk_chan *c, const struct sockaddr_un *to,
                         socklen_t tolen, const void *buf, size_t len,
                         int64_t deadline);

extern const struct ipk_transport ipk__unix_transport;
extern const struct ipk_transport ipk__unixgram_transport;

#endif
