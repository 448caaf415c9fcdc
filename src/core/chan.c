/* The public channel API: validate, look the scheme up, call the transport. */
#define _GNU_SOURCE
#include "internal.h"
#include "../proto/proto.h"
#include "../proto/pubsub.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *const common_opts[] = {"maxmsg", "mode", "persist",
                                          "linger", NULL};

const char *ipk_version(void)
{
	return IPK_VERSION_STRING;
}

ipk_chan *ipk__chan_new(const struct ipk_transport *tp, const ipk__url *src)
{
	ipk_chan *c = calloc(1, sizeof *c + tp->priv_size);
	if (c == NULL)
		return NULL;
	c->tp = tp;
	c->maxmsg = IPK_DEFAULT_MAXMSG;
	c->mode = 0600;
	c->linger_ms = 1000;
	c->sp_self = c->sp_peer = IPK__SP_PAIR0;
	c->proto = &ipk__proto_pair;
	if (src != NULL && src->text != NULL &&
	    ipk__url_parse(&c->url, src->text) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

void ipk__chan_free(ipk_chan *c)
{
	if (c == NULL)
		return;
	ipk__url_free(&c->url);
	free(c);
}

static bool listed(const char *const *list, const char *key)
{
	for (; list && *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

static int check_options(const struct ipk_transport *tp, const ipk__url *u)
{
	for (int i = 0; i < u->nopts; i++) {
		const char *k = u->opts[i].key;
		if (listed(common_opts, k) || listed(tp->options, k) ||
		    (tp->streams && strcmp(k, "raw") == 0) || ipk__proto_option(k))
			continue;
		char list[256];
		size_t off = 0;
		const char *const *sets[] = {common_opts, tp->options};
		list[0] = '\0';
		for (size_t s = 0; s < 2; s++)
			for (const char *const *o = sets[s]; o && *o; o++)
				if (off < sizeof list)
					off += (size_t)snprintf(list + off, sizeof list - off,
					                        "%s%s", off ? ", " : "", *o);
		if (tp->streams && off < sizeof list)
			snprintf(list + off, sizeof list - off, ", raw");
		return ipk__err(-EINVAL,
		                "address '%s': unknown option '%s' for %s: "
		                "(accepted: %s)",
		                u->text, k, tp->scheme, list);
	}
	return 0;
}

int ipk__check_url_options(const ipk__url *u)
{
	bool known;
	const struct ipk_transport *tp = ipk__lookup(u->scheme, &known);
	return tp ? check_options(tp, u) : 0;
}

/* The pattern ?proto= names, where the mechanism can carry it. */
static int choose_proto(ipk_chan *c)
{
	int rc = ipk__proto_choose(&c->url, &c->proto);
	if (rc < 0 || c->proto == &ipk__proto_pair)
		return rc;
	if (c->tp->no_proto)
		return ipk__err(-EPROTONOSUPPORT, "address '%s': protocol %s: %s",
		                c->url.text, c->proto->name, c->tp->no_proto);
	if (c->raw)
		return ipk__err(-EINVAL, "address '%s': protocol %s needs whole "
		                         "messages; ?raw has none",
		                c->url.text, c->proto->name);
	return 0;
}

/* ?large (messages as memfds) is for PAIR channels. ?batch queues what
   is sent: for channels that stream (PAIR, and patterns that only send,
   such as PUSH); a request waits for its reply and a receiver sends
   nothing, so those refuse it. */
static int check_stream_opts(ipk_chan *c)
{
	if (ipk__opt_find(&c->url, "large") && c->proto != &ipk__proto_pair)
		return ipk__err(-EINVAL, "address '%s': ?large (messages as "
		                         "memfds) is for PAIR channels",
		                c->url.text);
	unsigned caps = c->proto->caps;
	if (!ipk__opt_find(&c->url, "batch") || c->proto == &ipk__proto_pair ||
	    ((caps & IPK__P_SEND) && !(caps & IPK__P_RECV)))
		return 0;
	return ipk__err(-EINVAL, "address '%s': ?batch queues what a channel "
	                         "streams; a %s socket %s",
	                c->url.text, c->proto->name,
	                (caps & IPK__P_SEND) ? "waits for an answer to each "
	                                       "message, so there is nothing "
	                                       "to batch"
	                                     : "only receives");
}

/* Parse the address, find its transport, make the channel, read common options. */
static int prepare(const char *url, ipk_chan **out)
{
	ipk__url u;
	int rc = ipk__url_parse(&u, url);
	if (rc < 0)
		return rc;
	bool known;
	const struct ipk_transport *tp = ipk__lookup(u.scheme, &known);
	if (tp == NULL) {
		rc = ipk__scheme_error(u.scheme, known);
		ipk__url_free(&u);
		return rc;
	}
	rc = check_options(tp, &u);
	if (rc < 0) {
		ipk__url_free(&u);
		return rc;
	}
	ipk_chan *c = ipk__chan_new(tp, NULL);
	if (c == NULL) {
		ipk__url_free(&u);
		return ipk__err(-ENOMEM, "out of memory");
	}
	c->url = u;
	long linger = 0;
	if ((rc = ipk__opt_size(&c->url, "maxmsg", &c->maxmsg)) < 0 ||
	    (rc = ipk__opt_mode(&c->url, "mode", &c->mode)) < 0 ||
	    (rc = ipk__opt_flag(&c->url, "persist", &c->persist)) < 0 ||
	    (rc = ipk__opt_flag(&c->url, "raw", &c->raw)) < 0 ||
	    (rc = ipk__opt_long(&c->url, "linger", -1, INT32_MAX, &linger)) < 0) {
		ipk__chan_free(c);
		return rc;
	}
	if (rc > 0 || linger)
		c->linger_ms = (int)linger;
	if (c->maxmsg == 0) {
		ipk__chan_free(c);
		return ipk__err(-EINVAL, "address '%s': maxmsg must be at least 1",
		                url);
	}
	if ((rc = choose_proto(c)) < 0 || (rc = check_stream_opts(c)) < 0) {
		ipk__chan_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int unsupported(const ipk_chan *c, const char *what)
{
	return ipk__err(-EOPNOTSUPP, "%s: does not support %s", c->tp->scheme,
	                what);
}

int ipk_listen(ipk_chan **out, const char *url)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_listen: out is NULL");
	*out = NULL;
	ipk_chan *c;
	int rc = prepare(url, &c);
	if (rc < 0)
		return rc;
	c->creator = getpid();
	rc = c->proto->listen(c);
	if (rc < 0) {
		ipk__chan_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ipk_dial(ipk_chan **out, const char *url, int timeout_ms)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_dial: out is NULL");
	*out = NULL;
	int64_t deadline = ipk__deadline(timeout_ms);
	ipk_chan *c;
	int rc = prepare(url, &c);
	if (rc < 0)
		return rc;
	c->role = IPK__DIALER;
	rc = c->proto->dial(c, deadline);
	if (rc < 0) {
		ipk__chan_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ipk_accept(ipk_chan *l, ipk_chan **out, int timeout_ms)
{
	if (l == NULL || out == NULL)
		return ipk__err(-EINVAL, "ipk_accept: NULL argument");
	*out = NULL;
	if (l->sock)
		return ipk__err(-EOPNOTSUPP,
		                "%s: a %s channel accepts its connections itself: "
		                "receive and send on it directly",
		                l->url.text, l->proto->name);
	if (l->tp->accept == NULL || l->role != IPK__LISTENER)
		return ipk__err(-EOPNOTSUPP,
		                "%s: has no connections to accept; the listening "
		                "channel receives directly",
		                l->tp->scheme);
	int64_t deadline = ipk__deadline(timeout_ms);
	ipk_chan *c = ipk__chan_new(l->tp, &l->url);
	if (c == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	c->role = IPK__ACCEPTED;
	c->maxmsg = l->maxmsg;
	c->raw = l->raw;
	c->mode = l->mode;
	c->linger_ms = l->linger_ms;
	int rc = l->tp->accept(l, c, deadline);
	if (rc < 0) {
		ipk__chan_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ipk_pair(const char *url, ipk_chan **a, ipk_chan **b)
{
	if (a == NULL || b == NULL)
		return ipk__err(-EINVAL, "ipk_pair: NULL argument");
	*a = *b = NULL;
	ipk_chan *ca, *cb;
	int rc = prepare(url, &ca);
	if (rc < 0)
		return rc;
	if (ca->proto != &ipk__proto_pair) {
		rc = ipk__err(-EINVAL, "ipk_pair makes PAIR channels; protocol %s "
		                       "needs ipk_listen/ipk_dial", ca->proto->name);
		ipk__chan_free(ca);
		return rc;
	}
	if (ca->tp->pair == NULL) {
		rc = unsupported(ca, "pair");
		ipk__chan_free(ca);
		return rc;
	}
	cb = ipk__chan_new(ca->tp, &ca->url);
	if (cb == NULL) {
		ipk__chan_free(ca);
		return ipk__err(-ENOMEM, "out of memory");
	}
	ca->role = cb->role = IPK__PAIRED;
	cb->maxmsg = ca->maxmsg;
	cb->raw = ca->raw;
	cb->mode = ca->mode;
	cb->linger_ms = ca->linger_ms;
	rc = ca->tp->pair(ca, cb);
	if (rc < 0) {
		ipk__chan_free(ca);
		ipk__chan_free(cb);
		return rc;
	}
	*a = ca;
	*b = cb;
	return 0;
}

ssize_t ipk_sendmsg(ipk_chan *c, const void *buf, size_t len,
                    const ipk_msginfo *info, int timeout_ms)
{
	if (c == NULL || (buf == NULL && len > 0))
		return ipk__err(-EINVAL, "ipk_send: NULL argument");
	if (c->sock ? !(c->proto->caps & IPK__P_SEND) : c->tp->send == NULL ||
	                                                 c->role == IPK__LISTENER)
		return c->sock ? ipk__err(-EOPNOTSUPP, "%s: a %s channel only "
		                                       "receives (the %s side sends)",
		                          c->url.text, c->proto->name, c->proto->peer)
		               : unsupported(c, c->role == IPK__LISTENER
		                                        ? "sending on a listener "
		                                          "(accept a connection)"
		                                        : "sending");
	if (len > c->maxmsg)
		return ipk__err(-EMSGSIZE,
		                "message of %zu bytes exceeds the channel limit of "
		                "%zu bytes (raise it with ?maxmsg=)",
		                len, c->maxmsg);
	static const ipk_msginfo none;
	return c->proto->send(c, buf, len, info ? info : &none,
	                      ipk__deadline(timeout_ms));
}

ssize_t ipk_send(ipk_chan *c, const void *buf, size_t len, int timeout_ms)
{
	return ipk_sendmsg(c, buf, len, NULL, timeout_ms);
}

ssize_t ipk_send_many(ipk_chan *c, const struct iovec *msgs, size_t n,
                      int timeout_ms)
{
	if (c == NULL || (msgs == NULL && n > 0))
		return ipk__err(-EINVAL, "ipk_send_many: NULL argument");
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].iov_base == NULL && msgs[i].iov_len > 0)
			return ipk__err(-EINVAL, "ipk_send_many: message %zu has a "
			                         "NULL buffer", i);
		if (msgs[i].iov_len > c->maxmsg)
			return ipk__err(-EMSGSIZE,
			                "message %zu of %zu bytes exceeds the channel "
			                "limit of %zu bytes (raise it with ?maxmsg=); "
			                "nothing was sent",
			                i, msgs[i].iov_len, c->maxmsg);
	}
	if (n == 0)
		return 0;
	int64_t deadline = ipk__deadline(timeout_ms);
	if (!c->sock && c->tp->send_many && c->role != IPK__LISTENER)
		return c->tp->send_many(c, msgs, n, deadline);
	/* one by one, within the one timeout */
	size_t sent = 0;
	for (; sent < n; sent++) {
		ssize_t r = ipk_send(c, msgs[sent].iov_base, msgs[sent].iov_len,
		                     ipk__remaining_ms(deadline));
		if (r < 0)
			return sent ? (ssize_t)sent : r;
	}
	return (ssize_t)sent;
}

ssize_t ipk_send_fds(ipk_chan *c, const void *buf, size_t len,
                     const int *fds, size_t nfds, int timeout_ms)
{
	if (c == NULL || (buf == NULL && len > 0) || (fds == NULL && nfds > 0))
		return ipk__err(-EINVAL, "ipk_send_fds: NULL argument");
	if (nfds > IPK_MAXFDS)
		return ipk__err(-EINVAL, "ipk_send_fds: %zu descriptors, at most "
		                         "%d ride with one message",
		                nfds, IPK_MAXFDS);
	if (c->sock || c->tp->send_fds == NULL || c->role == IPK__LISTENER)
		return ipk__err(-EOPNOTSUPP, "%s: descriptors pass only over "
		                             "unix: PAIR channels",
		                c->url.text ? c->url.text : c->tp->scheme);
	if (len > c->maxmsg)
		return ipk__err(-EMSGSIZE,
		                "message of %zu bytes exceeds the channel limit of "
		                "%zu bytes (raise it with ?maxmsg=)",
		                len, c->maxmsg);
	return c->tp->send_fds(c, buf, len, fds, nfds,
	                       ipk__deadline(timeout_ms));
}

int ipk_flush(ipk_chan *c, int timeout_ms)
{
	if (c == NULL)
		return ipk__err(-EINVAL, "ipk_flush: NULL channel");
	int64_t deadline = ipk__deadline(timeout_ms);
	if (c->sock)
		return ipk__sock_flush(c, deadline);
	if (c->tp->flush == NULL || c->role == IPK__LISTENER)
		return 0; /* nothing is ever kept back there */
	return c->tp->flush(c, deadline);
}

static ssize_t do_recv(ipk_chan *c, ipk__rx *rx, ipk_msginfo *info,
                       int timeout_ms)
{
	if (c == NULL)
		return ipk__err(-EINVAL, "ipk_recv: NULL channel");
	if (c->sock ? !(c->proto->caps & IPK__P_RECV) : c->tp->recv == NULL ||
	                                                 c->role == IPK__LISTENER)
		return c->sock ? ipk__err(-EOPNOTSUPP, "%s: a %s channel only "
		                                       "sends (the %s side receives)",
		                          c->url.text, c->proto->name, c->proto->peer)
		               : unsupported(c, c->role == IPK__LISTENER
		                                        ? "receiving on a listener "
		                                          "(accept a connection)"
		                                        : "receiving");
	/* zeroed by copying a zero struct: a memset of this size becomes
	   `rep stos` with GCC, tens of cycles on every receive */
	static const ipk_msginfo zero;
	ipk_msginfo local;
	if (info == NULL) {
		info = &local;
		*info = zero;
	} else {
		long selector = info->type;
		int flags = info->flags;
		*info = zero;
		info->type = selector;
		info->flags = flags;
	}
	rx->info = info;
	rx->maxmsg = c->maxmsg;
	ssize_t n = c->proto->recv(c, rx, ipk__deadline(timeout_ms));
	if (n >= 0)
		rx->len = (size_t)n;
	return n;
}

ssize_t ipk_recvmsg(ipk_chan *c, void *buf, size_t cap, ipk_msginfo *info,
                    int timeout_ms)
{
	if (buf == NULL && cap > 0)
		return ipk__err(-EINVAL, "ipk_recv: NULL buffer");
	ipk__rx rx = {.buf = buf, .cap = cap};
	return do_recv(c, &rx, info, timeout_ms);
}

ssize_t ipk_recv(ipk_chan *c, void *buf, size_t cap, int timeout_ms)
{
	return ipk_recvmsg(c, buf, cap, NULL, timeout_ms);
}

ssize_t ipk_recv_fds(ipk_chan *c, void *buf, size_t cap, int *fds,
                     size_t *nfds, int timeout_ms)
{
	if (buf == NULL && cap > 0)
		return ipk__err(-EINVAL, "ipk_recv_fds: NULL buffer");
	if (nfds == NULL || (fds == NULL && *nfds > 0))
		return ipk__err(-EINVAL, "ipk_recv_fds: NULL argument");
	if (c && (c->sock || c->tp->send_fds == NULL || c->raw))
		return ipk__err(-EOPNOTSUPP, "%s: descriptors pass only over "
		                             "framed unix: PAIR channels",
		                c->url.text ? c->url.text : c->tp->scheme);
	/* something to write to, even with no room: then any descriptor
	   that comes is -ENOBUFS, not closed behind the caller's back */
	int none;
	ipk__rx rx = {.buf = buf, .cap = cap, .fds = fds ? fds : &none,
	              .fdcap = fds ? *nfds : 0};
	ssize_t n = do_recv(c, &rx, NULL, timeout_ms);
	*nfds = n >= 0 ? rx.nfds : 0;
	return n;
}

ssize_t ipk_recv_peek(ipk_chan *c, const void **buf, int timeout_ms)
{
	if (c != NULL && ipk__cast_of(c)) /* a subscriber reads in place */
		return ipk__cast_peek(c, buf, NULL, timeout_ms);
	if (c == NULL || buf == NULL)
		return ipk__err(-EINVAL, "ipk_recv_peek: NULL argument");
	*buf = NULL;
	if (c->sock || c->tp->peek == NULL || c->role == IPK__LISTENER)
		return ipk__err(-EOPNOTSUPP, "ipk_recv_peek: %s: only shared-memory "
		                             "rings (shm:, sysvshm:, mmap:) and "
		                             "unix: channels lend their memory",
		                c->tp->scheme);
	return c->tp->peek(c, buf, ipk__deadline(timeout_ms));
}

int ipk_recv_release(ipk_chan *c)
{
	if (c == NULL)
		return ipk__err(-EINVAL, "ipk_recv_release: NULL channel");
	if (ipk__cast_of(c))
		return ipk__cast_release(c);
	if (c->sock || c->tp->release == NULL || c->role == IPK__LISTENER)
		return ipk__err(-EOPNOTSUPP, "ipk_recv_release: %s: only "
		                             "shared-memory rings and unix: "
		                             "channels lend their memory",
		                c->tp->scheme);
	return c->tp->release(c);
}

ssize_t ipk_recv_alloc(ipk_chan *c, void **out, ipk_msginfo *info,
                       int timeout_ms)
{
	if (out == NULL)
		return ipk__err(-EINVAL, "ipk_recv_alloc: out is NULL");
	*out = NULL;
	ipk__rx rx = {.alloc = true};
	ssize_t n = do_recv(c, &rx, info, timeout_ms);
	if (n < 0) {
		free(rx.buf);
		return n;
	}
	if (rx.buf == NULL && (rx.buf = malloc(1)) == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	*out = rx.buf;
	return n;
}

void *ipk__rx_reserve(ipk__rx *rx, size_t n, int *err)
{
	if (n > rx->maxmsg) {
		*err = ipk__err(-EMSGSIZE,
		                "peer sent a message of %zu bytes, over the channel "
		                "limit of %zu bytes (raise it with ?maxmsg=)",
		                n, rx->maxmsg);
		return NULL;
	}
	if (n <= rx->cap && rx->buf != NULL)
		return rx->buf;
	if (!rx->alloc) {
		if (n == 0)
			return rx->buf;
		*err = ipk__err(-ENOBUFS,
		                "message of %zu bytes does not fit the %zu-byte "
		                "buffer (it stays queued)",
		                n, rx->cap);
		return NULL;
	}
	void *p = realloc(rx->buf, n ? n : 1);
	if (p == NULL) {
		*err = ipk__err(-ENOMEM, "cannot allocate %zu bytes", n);
		return NULL;
	}
	rx->buf = p;
	rx->cap = n;
	return p;
}

int ipk_fd(const ipk_chan *c)
{
	if (c == NULL)
		return ipk__err(-EINVAL, "ipk_fd: NULL channel");
	return c->proto->fd(c);
}

int ipk_poll(ipk_pollitem *items, size_t n, int timeout_ms)
{
	if (n > 0 && items == NULL)
		return ipk__err(-EINVAL, "ipk_poll: NULL items");
	struct pollfd stackfds[16];
	struct pollfd *pfd = n <= 16 ? stackfds : calloc(n, sizeof *pfd);
	if (pfd == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	int ready = 0;
	for (size_t i = 0; i < n; i++) {
		ipk_chan *c = items[i].chan;
		items[i].revents = 0;
		pfd[i].fd = c ? ipk_fd(c) : -1;
		pfd[i].events = (short)((items[i].events & IPK_POLLIN ? POLLIN : 0) |
		                        (items[i].events & IPK_POLLOUT ? POLLOUT : 0));
		pfd[i].revents = 0;
		if (c && (items[i].events & IPK_POLLIN) && c->proto->pending(c))
			ready++;
	}
	int64_t deadline = ready ? IPK__NOW : ipk__deadline(timeout_ms);
	int rc;
	for (;;) {
		rc = poll(pfd, n, ipk__remaining_ms(deadline));
		if (rc >= 0 || errno != EINTR)
			break;
	}
	if (rc < 0) {
		rc = ipk__errno(-errno, "poll");
		goto out;
	}
	ready = 0;
	for (size_t i = 0; i < n; i++) {
		ipk_chan *c = items[i].chan;
		short re = pfd[i].revents;
		if (re & (POLLIN | POLLHUP | POLLERR))
			items[i].revents |= (short)(items[i].events & IPK_POLLIN);
		if (re & (POLLOUT | POLLERR))
			items[i].revents |= (short)(items[i].events & IPK_POLLOUT);
		if (c && (items[i].events & IPK_POLLIN) && c->proto->pending(c))
			items[i].revents |= IPK_POLLIN;
		if (items[i].revents)
			ready++;
	}
	rc = ready;
out:
	if (pfd != stackfds)
		free(pfd);
	return rc;
}

size_t ipk_maxmsg(const ipk_chan *c)
{
	return c ? c->maxmsg : 0;
}

ssize_t ipk_address(const ipk_chan *c, char *buf, size_t cap)
{
	if (c == NULL || (buf == NULL && cap > 0))
		return ipk__err(-EINVAL, "ipk_address: NULL argument");
	if (c->proto->address)
		return c->proto->address(c, buf, cap);
	if (c->tp->address)
		return c->tp->address(c, buf, cap);
	const char *text = c->url.text ? c->url.text : c->tp->scheme;
	size_t n = strlen(text);
	if (n + 1 > cap)
		return ipk__err(-ENOBUFS, "address needs %zu bytes", n + 1);
	memcpy(buf, text, n + 1);
	return (ssize_t)n;
}

int ipk_shutdown(ipk_chan *c)
{
	if (c == NULL)
		return ipk__err(-EINVAL, "ipk_shutdown: NULL channel");
	if (c->tp->shutdown == NULL || c->sock)
		return unsupported(c, "shutdown");
	return c->tp->shutdown(c);
}

int ipk_close(ipk_chan *c)
{
	if (c == NULL)
		return 0;
	int rc = c->proto->close(c);
	ipk__chan_free(c);
	return rc;
}

static bool is_sync_scheme(const char *scheme)
{
	static const char *const sync[] = {"sem", "sysvsem", "mutex", "cond",
	                                   "rwlock", NULL};
	return listed(sync, scheme);
}

int ipk_remove(const char *url)
{
	return ipk_remove_flags(url, 0);
}

int ipk_remove_flags(const char *url, int flags)
{
	if (flags & ~IPK_REMOVE_FORCE)
		return ipk__err(-EINVAL, "ipk_remove_flags: unknown flags %#x", flags);
	ipk__url u;
	int rc = ipk__url_parse(&u, url);
	if (rc < 0)
		return rc;
	bool known, done = false;
	const struct ipk_transport *tp = ipk__lookup(u.scheme, &known);
	/* the inventory checks what the address names and who uses it (and
	   removes its own bookkeeping: record:, docs/inventory.md) */
	if ((tp || is_sync_scheme(u.scheme) || strcmp(u.scheme, "record") == 0) &&
	    ((rc = ipk__objects_remove(&u, flags, &done)) < 0 || done))
		;
	else if (tp == NULL && !known && is_sync_scheme(u.scheme))
		rc = ipk_sync_remove(url); /* semaphores and locks are named too */
	else if (tp == NULL)
		rc = ipk__scheme_error(u.scheme, known);
	else if ((rc = check_options(tp, &u)) < 0)
		;
	else if (tp->remove == NULL)
		rc = ipk__err(-EOPNOTSUPP, "%s: has no named object to remove",
		              tp->scheme);
	else
		rc = tp->remove(&u);
	ipk__url_free(&u);
	return rc;
}

void ipk__ignore_sigpipe(void)
{
	static _Atomic int done;
	if (done)
		return;
	struct sigaction old;
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
	    !(old.sa_flags & SA_SIGINFO)) {
		struct sigaction ign = {.sa_handler = SIG_IGN};
		sigemptyset(&ign.sa_mask);
		sigaction(SIGPIPE, &ign, NULL);
	}
	done = 1;
}

bool ipk__removes_on_close(const ipk_chan *c)
{
	return (c->role == IPK__OWNER || c->role == IPK__LISTENER) &&
	       !c->persist && c->creator == getpid();
}

int ipk__set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int ipk__set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}
