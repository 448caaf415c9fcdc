/*
 * The messaging patterns' decoding of hostile bytes.
 *
 * Input: a mode byte, then bytes. Mode 0-2 feed the pure decoders: the SP
 * backtrace a REP reads from a request, the reply header a REQ reads, the
 * 12-byte header a mailbox REP reads; each result is checked against what
 * the format allows. Mode 3 is a REP socket on a unix socket and mode 4 a
 * REQ socket, each against a raw peer that completes the SP handshake and
 * then writes the rest of the input as framed messages (a length byte
 * before each piece): the socket receives what it can without waiting and
 * answers; it must neither crash nor hand out a message it should have
 * dropped, and a REP's reply must carry the request's backtrace.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "proto/proto.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void check_backtrace(const uint8_t *d, size_t n)
{
	size_t hl = ipk__sp_backtrace(d, n);
	if (hl == 0)
		return;
	FZ_CHECK(hl % 4 == 0 && hl <= n && hl <= 4 * IPK__SP_MAXHOPS);
	FZ_CHECK(d[hl - 4] & 0x80);
	for (size_t off = 0; off + 4 < hl; off += 4)
		FZ_CHECK(!(d[off] & 0x80));
}

static void check_reply(const uint8_t *d, size_t n)
{
	uint32_t id = 0;
	int status = -2;
	size_t hl = ipk__sp_reply(d, n, &id, &status);
	if (hl == 0)
		return;
	FZ_CHECK(hl == 4 || hl == 8);
	FZ_CHECK(hl <= n);
	FZ_CHECK(id & 0x80000000u);
	FZ_CHECK(status >= -1 && status <= 0x7fff);
	FZ_CHECK(hl == 4 ? status == -1 : !(d[0] & 0x80));
}

static void check_header(const uint8_t *d, size_t n)
{
	char kind = 0;
	uint32_t pid, nonce;
	if (ipk__back_header(d, n, &kind, &pid, &nonce) < 0)
		return;
	FZ_CHECK(n >= 12 && d[0] == 0xc5);
	FZ_CHECK(kind == 'Q' || kind == 'H' || kind == 'B');
}

/* Our side's socket (made once: an abstract name per fuzzing process). */
static ipk_chan *sock_for(int mode, char *name, size_t cap)
{
	static ipk_chan *socks[5];
	static char names[5][108];
	if (socks[mode] == NULL) {
		snprintf(names[mode], sizeof names[mode], "ipk-fuzz-proto-%d-%d",
		         (int)getpid(), mode);
		char url[300];
		snprintf(url, sizeof url, "unix:@%s?proto=%s&maxmsg=4096",
		         names[mode], mode == 3 ? "rep" : "req");
		if (mode == 3 && ipk_listen(&socks[mode], url) < 0)
			return NULL;
		if (mode == 4 && ipk_listen(&socks[mode], url) < 0)
			return NULL;
	}
	snprintf(name, cap, "%s", names[mode]);
	return socks[mode];
}

static int raw_peer(const char *name, uint16_t proto)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	memcpy(sun.sun_path + 1, name, n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	const uint8_t hdr[8] = {0, 'S', 'P', 0, (uint8_t)(proto >> 8),
	                        (uint8_t)proto, 0, 0};
	if (connect(fd, (struct sockaddr *)&sun, len) < 0 ||
	    write(fd, hdr, 8) != 8) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Write the rest of the input as framed messages (unix: 01 + length). */
static void feed(int fd, struct fz *f)
{
	while (f->n > 0) {
		size_t want = fz_u8(f), got;
		const uint8_t *p = fz_bytes(f, want, &got);
		uint8_t frame[9 + 255];
		frame[0] = 1;
		for (int i = 0; i < 8; i++)
			frame[1 + i] = (uint8_t)((uint64_t)got >> (56 - 8 * i));
		memcpy(frame + 9, p, got);
		if (write(fd, frame, 9 + got) != (ssize_t)(9 + got))
			return;
	}
}

static void drive_rep(struct fz *f)
{
	char name[108];
	ipk_chan *rep = sock_for(3, name, sizeof name);
	FZ_CHECK(rep != NULL);
	int fd = raw_peer(name, 0x30);
	if (fd < 0)
		return;
	feed(fd, f);
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 64; i++) {
		unsigned char buf[4096];
		ipk_msginfo mi = {0};
		ssize_t n = ipk_recvmsg(rep, buf, sizeof buf, &mi, 2);
		if (n == -ETIMEDOUT || n == -EAGAIN)
			break;
		FZ_CHECK(n >= 0 || n == -ENOBUFS);
		if (n < 0)
			continue;
		FZ_CHECK((size_t)n <= sizeof buf);
		/* the route holds the request's backtrace; the reply echoes it */
		const struct ipk__route *rt = (const struct ipk__route *)&mi.route;
		FZ_CHECK(rt->pipe != 0 && rt->len >= 4 && rt->len <= sizeof rt->hdr &&
		         rt->len % 4 == 0 && (rt->hdr[rt->len - 4] & 0x80));
		FZ_CHECK(ipk_sendmsg(rep, "r", 1, &mi, 0) >= 0 ||
		         ipk_last_error() != NULL);
	}
	close(fd);
}

static void drive_req(struct fz *f)
{
	char name[108];
	ipk_chan *req = sock_for(4, name, sizeof name);
	FZ_CHECK(req != NULL);
	int fd = raw_peer(name, 0x31);
	if (fd < 0)
		return;
	/* a request goes out (to this peer: the only one), then hostile replies */
	(void)ipk_send(req, "q", 1, 2);
	feed(fd, f);
	unsigned char buf[4096];
	ipk_msginfo mi = {0};
	ssize_t n = ipk_recvmsg(req, buf, sizeof buf, &mi, 2);
	FZ_CHECK(n >= -4095);
	if (n >= 0)
		FZ_CHECK(mi.status >= -1 && mi.status <= 0x7fff);
	close(fd);
	/* whatever happened, the socket takes the next request */
	(void)ipk_recv(req, buf, sizeof buf, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	int mode = fz_u8(&f) % 5;
	switch (mode) {
	case 0: check_backtrace(f.p, f.n); break;
	case 1: check_reply(f.p, f.n); break;
	case 2: check_header(f.p, f.n); break;
	case 3: drive_rep(&f); break;
	case 4: drive_req(&f); break;
	}
	return 0;
}
