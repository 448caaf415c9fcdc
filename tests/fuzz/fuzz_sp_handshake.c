/*
 * The SP connection header exchange (ipk__sp_step) with a hostile peer.
 *
 * Input: the protocol number we speak (2 bytes), one byte whose low bit
 * says whether we are the listener, then chunks (a length byte and that
 * many bytes) the peer writes one after another, with a step after each; at
 * the end the peer closes and we step once more. Checks: the exchange
 * succeeds only when the peer's first 8 bytes are a valid header for our
 * protocol, and then always does; we send our 8-byte header whole or
 * nothing, and a listener sends nothing to a peer whose first byte is not
 * an SP header's; a failure is a negative errno and never touches memory it
 * should not.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "transport/sockstream.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint16_t proto = fz_u16(&f);
	bool listener = fz_u8(&f) & 1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	               sv) < 0)
		return 0;
	struct ipk__sphs h = {.fd = sv[0], .self = proto, .peer = proto,
	                      .listener = listener};
	uint8_t fed[8];
	size_t nfed = 0;
	int rc = 0;
	while (f.n > 0 && rc == 0) {
		size_t want = fz_u8(&f), got;
		const uint8_t *chunk = fz_bytes(&f, want, &got);
		if (got > 0 && send(sv[1], chunk, got, MSG_NOSIGNAL) != (ssize_t)got)
			break;
		for (size_t i = 0; i < got && nfed < 8; i++)
			fed[nfed++] = chunk[i];
		rc = ipk__sp_step(&h);
		FZ_CHECK(rc <= 1);
		FZ_CHECK(h.sent <= 8 && h.got <= 8);
	}
	if (rc == 0) {
		shutdown(sv[1], SHUT_WR);
		rc = ipk__sp_step(&h);
		FZ_CHECK(rc <= 1);
	}
	const uint8_t valid[8] = {0, 'S', 'P', 0, (uint8_t)(proto >> 8),
	                          (uint8_t)proto, 0, 0};
	bool good = nfed == 8 && memcmp(fed, valid, 8) == 0;
	FZ_CHECK((rc == 1) == good);
	FZ_CHECK(rc >= 0 || rc == -EPROTO || rc == -EPIPE);
	/* what we said is our header, whole, or nothing */
	uint8_t mine[16];
	ssize_t n = recv(sv[1], mine, sizeof mine, MSG_DONTWAIT);
	FZ_CHECK(n < 0 || (n == 8 && memcmp(mine, valid, 8) == 0));
	FZ_CHECK(rc != 1 || n == 8);
	FZ_CHECK(!listener || n < 0 || (nfed > 0 && fed[0] == 0));
	close(sv[0]);
	close(sv[1]);
	return 0;
}
