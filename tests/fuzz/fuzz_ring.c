/*
 * The ring's validator and record walker on hostile bytes. The region ends
 * at a guard page, so a read or write past its end crashes at once.
 *
 * Input: a mode byte, then either
 *   - patches and operations on a freshly laid-out ring (mode bit 1 clear):
 *     the fuzzer rewrites any bytes of the header and the records, before
 *     registration or between operations, while the harness sends,
 *     borrows, receives and peeks (SPSC or MPMC, bit 0); or
 *   - a whole region taken from the input (bit 1 set), attached and used
 *     the same way.
 * Every call is made without waiting (IPK__NOW). Checked: every pointer
 * handed out (peek, borrow) lies inside the region with its length, every
 * length is within what the caller allowed, info and describe stay within
 * the ring's capacity, and the errors are the documented ones.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "shm/ring.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#define CAP 4096
#define MAX_REGION (64 * 1024)

struct region {
	unsigned char *map;
	size_t map_len;
	unsigned char *mem;
	size_t size;
};

/* size bytes (a multiple of 128) that end where a PROT_NONE page begins */
static bool region_map(struct region *g, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (size + page - 1) / page * page;
	g->map_len = span + page;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		return false;
	if (mprotect(g->map + span, page, PROT_NONE) < 0) {
		munmap(g->map, g->map_len);
		return false;
	}
	g->mem = g->map + span - size;
	g->size = size;
	return true;
}

static bool inside(const struct region *g, const void *p, size_t n)
{
	const unsigned char *c = p;
	return c >= g->mem && n <= g->size && c - g->mem <= (ptrdiff_t)(g->size - n);
}

static bool known_error(long rc)
{
	return rc == -EAGAIN || rc == -EPROTO || rc == -EMSGSIZE ||
	       rc == -ENOBUFS || rc == -EBUSY || rc == -EINVAL || rc == -EPIPE ||
	       rc == -EUSERS || rc == -EADDRINUSE || rc == -ETIMEDOUT ||
	       rc == -EIDRM;
}

static void patch(struct fz *f, struct region *g)
{
	size_t off = (size_t)fz_u16(f) % g->size, n;
	size_t want = fz_u8(f) % 17;
	const uint8_t *b = fz_bytes(f, want, &n);
	if (n > g->size - off)
		n = g->size - off;
	memcpy(g->mem + off, b, n);
}

static void check_info(struct ipk__ring *r)
{
	ipk_ringinfo info;
	ipk__ring_info(r, &info);
	FZ_CHECK(info.used <= info.capacity);
	FZ_CHECK(info.producers >= 0 && info.producers <= IPK__RING_MPMC_SLOTS);
	FZ_CHECK(info.consumers >= 0 && info.consumers <= IPK__RING_MPMC_SLOTS);
}

static void run_ops(struct fz *f, struct region *g, struct ipk__ring *rx,
                    struct ipk__ring *tx, bool rx_ok, bool tx_ok)
{
	static unsigned char out[MAX_REGION];
	static unsigned char msg[MAX_REGION];
	for (int ops = 0; ops < 64 && f->n > 0; ops++) {
		uint8_t op = fz_u8(f);
		size_t len = fz_u16(f) % (CAP + 64);
		switch (op % 9) {
		case 0:
			if (rx_ok) {
				ipk_msginfo info = {0};
				size_t cap = (size_t)fz_u16(f) % sizeof out;
				ipk__rx b = {.buf = out, .cap = cap, .info = &info,
				             .maxmsg = sizeof out};
				ssize_t n = ipk__ring_recv(rx, &b, IPK__NOW);
				FZ_CHECK(n >= 0 ? (size_t)n <= cap : known_error(n));
			}
			break;
		case 1:
			if (rx_ok) {
				const void *p = NULL;
				ssize_t n = ipk__ring_peek(rx, &p, IPK__NOW);
				FZ_CHECK(n >= 0 ? inside(g, p, (size_t)n) : known_error(n));
				if (n >= 0) {
					volatile unsigned char sink = 0;
					for (ssize_t i = 0; i < n; i += 64)
						sink ^= ((const unsigned char *)p)[i];
					if (n > 0)
						sink ^= ((const unsigned char *)p)[n - 1];
					(void)sink;
					FZ_CHECK(ipk__ring_release(rx) == 0);
				}
			}
			break;
		case 2:
			if (tx_ok) {
				ssize_t n = ipk__ring_send(tx, msg, len, IPK__NOW);
				FZ_CHECK(n >= 0 ? (size_t)n == len : known_error(n));
			}
			break;
		case 3:
		case 4:
			if (tx_ok) {
				void *p = NULL;
				ssize_t n = ipk__ring_borrow(tx, &p, len, IPK__NOW);
				FZ_CHECK(n >= 0 ? (size_t)n == len && inside(g, p, len)
				                : known_error(n));
				if (n < 0)
					break;
				memset(p, 0xa5, len);
				if (op % 9 == 3) {
					size_t c = len ? fz_u16(f) % (len + 1) : 0;
					ssize_t m = ipk__ring_commit(tx, c);
					FZ_CHECK(m >= 0 ? (size_t)m == c : known_error(m));
				} else {
					FZ_CHECK(ipk__ring_abort(tx) == 0);
				}
			}
			break;
		case 5:
			patch(f, g);
			break;
		case 6:
			if (rx_ok || tx_ok)
				check_info(rx_ok ? rx : tx);
			break;
		case 7:
			if (rx_ok)
				(void)ipk__ring_readable(rx);
			break;
		default: {
			struct ipk__ring_desc d;
			int rc = ipk__ring_describe(g->mem, g->size, &d, "fuzz");
			FZ_CHECK(rc == 0 || rc == -EPROTO || rc == -EAGAIN ||
			         rc == -EINVAL);
			if (rc == 0) {
				FZ_CHECK(d.used <= d.capacity);
				FZ_CHECK(d.nconsumers <= IPK__RING_MPMC_SLOTS &&
				         d.nproducers <= IPK__RING_MPMC_SLOTS);
			}
			break;
		}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t mode = fz_u8(&f);
	bool mpmc = mode & 1, raw = mode & 2;
	struct region g;
	if (raw) {
		size_t n;
		size_t want = (size_t)fz_u16(&f) % MAX_REGION;
		const uint8_t *b = fz_bytes(&f, want, &n);
		/* whole 128-byte blocks: the header's alignment */
		size_t rsize = (n + 127) & ~(size_t)127;
		if (rsize == 0)
			rsize = 128;
		if (!region_map(&g, rsize))
			return 0;
		memcpy(g.mem, b, n);
	} else {
		size_t rsize = ipk__ring_hdr_size(mpmc ? IPK__RING_MPMC_SLOTS : 1) + CAP;
		if (!region_map(&g, rsize))
			return 0;
		FZ_CHECK(ipk__ring_format(g.mem, g.size, mpmc, mode & 4) == 0);
		for (int i = fz_u8(&f) % 8; i > 0; i--)
			patch(&f, &g);
	}
	struct ipk__ring rx, tx;
	bool rx_ok = ipk__ring_attach(&rx, g.mem, g.size, IPK__RING_CONSUMER,
	                              "fuzz") == 0;
	bool tx_ok = ipk__ring_attach(&tx, g.mem, g.size, IPK__RING_PRODUCER,
	                              "fuzz") == 0;
	if (rx_ok) {
		int rc = ipk__ring_register(&rx, "fuzz");
		FZ_CHECK(rc == 0 || known_error(rc));
		rx_ok = rc == 0;
	}
	if (tx_ok) {
		int rc = ipk__ring_register(&tx, "fuzz");
		FZ_CHECK(rc == 0 || known_error(rc));
		tx_ok = rc == 0;
	}
	run_ops(&f, &g, &rx, &tx, rx_ok, tx_ok);
	if (rx_ok) {
		ipk__ring_detach(&rx);
		ipk__ring_close_fds(&rx);
	}
	if (tx_ok) {
		ipk__ring_detach(&tx);
		ipk__ring_close_fds(&tx);
	}
	munmap(g.map, g.map_len);
	return 0;
}
