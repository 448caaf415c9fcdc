/* Connection-oriented stream sockets shared by unix: and tcp:. */
#ifndef IPK_SOCKSTREAM_H
#define IPK_SOCKSTREAM_H

#include "../core/internal.h"

#include <sys/socket.h>

/* Connections a listener accepted whose SP handshake is not done yet. */
#define IPK__MAX_PENDING 16

struct ipk__pending {
	struct ipk__sphs hs;
	int family;
	int64_t expires; /* a peer silent this long is dropped */
};

struct ipk__sockchan {
	ipk__stream s;
	int lfd;                  /* listener socket, else -1 */
	int epfd;                 /* listener: lfd + pending handshakes */
	struct ipk__pending pend[IPK__MAX_PENDING];
	int npend;
	enum ipk__framing framing; /* framing when not raw */
	bool owns_path;            /* unix: listener created this socket file */
	dev_t dev;
	ino_t ino;
	pid_t peer_pid;            /* unix: the connected peer (SO_PEERCRED) */
	uid_t peer_uid;
};

/* Listen on an already bound socket. */
int ipk__ss_listen(ipk_chan *c, int fd, enum ipk__framing framing);
/* Connect, retrying refused/missing endpoints until the deadline. */
int ipk__ss_dial(ipk_chan *c, int family, const struct sockaddr *sa,
                 socklen_t len, enum ipk__framing framing, int64_t deadline);

ssize_t ipk__ss_send(ipk_chan *c, const void *buf, size_t len,
                     const ipk_msginfo *info, int64_t deadline);
ssize_t ipk__ss_recv(ipk_chan *c, ipk__rx *rx, int64_t deadline);
int ipk__ss_accept(ipk_chan *l, ipk_chan *c, int64_t deadline);
int ipk__ss_fd(const ipk_chan *c);
int ipk__ss_pending(const ipk_chan *c);
int ipk__ss_shutdown(ipk_chan *c);
/* Close sockets (not the unix path: the unix transport does that). */
int ipk__ss_close(ipk_chan *c);

/* unix: helpers shared with unixgram: */
struct sockaddr_un;
int ipk__unix_addr(const ipk__url *u, struct sockaddr_un *sun, socklen_t *len);
int ipk__unix_bind(ipk_chan *c, int type, int *out, dev_t *dev, ino_t *ino);
void ipk__unix_unlink_own(const char *path, dev_t dev, ino_t ino);

extern const struct ipk_transport ipk__unix_transport;

#endif
