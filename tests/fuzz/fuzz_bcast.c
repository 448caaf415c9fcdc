/*
 * The broadcast ring (src/shm/bcast*) over a region whose every byte after
 * the identity block is hostile.
 *
 * Input: a configuration byte (subscriber slots, default slow mode,
 * history), then operations: scribble 8 bytes anywhere in the region
 * (positions, masks, slots, stamps, lengths, payloads), publish, borrow and
 * commit or abort, receive by copy, peek and release, check readability,
 * and make a new publisher or subscriber (which reads the publisher's and
 * the oldest record's state). The region is anonymous shared memory that
 * ends at a guard page. Checks: nothing outside the region is touched
 * (ASan and the guard page), every message handed out lies inside the
 * records and within the limits, and as long as nothing was scribbled
 * every subscriber gets exactly the messages published, in order, intact,
 * or is told exactly how many it missed.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "shm/bcast.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#define REGION (1u << 14)
#define NSUBS 3

struct sub {
	struct ipk__bcast b;
	bool open;
	uint64_t next; /* clean run: the number of the next message */
};

struct run {
	unsigned char *mem;
	size_t size;
	unsigned char *data_lo, *data_hi;
	struct ipk__bcast pub;
	bool pub_open;
	struct sub subs[NSUBS];
	uint64_t published; /* clean run: messages committed */
	bool clean;         /* nothing scribbled yet */
	unsigned char msg[8192];
};

static void fill(unsigned char *p, size_t len, uint64_t n)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(n * 131 + i * 7 + len);
}

static bool intact(const unsigned char *p, size_t len, uint64_t n)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(n * 131 + i * 7 + len))
			return false;
	return true;
}

/* A message handed out: inside the records, within the limit; in a clean
   run also the right one. */
static void check_msg(struct run *r, struct sub *s, const unsigned char *p,
                      size_t len, uint64_t missed)
{
	FZ_CHECK(len <= ipk__bcast_max_message(s->b.cap));
	FZ_CHECK(p >= r->data_lo && p + len <= r->data_hi);
	if (!r->clean)
		return;
	uint64_t n = s->next + missed;
	FZ_CHECK(n < r->published);
	FZ_CHECK(intact(p, len, n));
	s->next = n + 1;
}

static void open_pub(struct run *r)
{
	if (r->pub_open) {
		ipk__bcast_detach(&r->pub);
		ipk__bcast_close_fds(&r->pub);
		r->pub_open = false;
	}
	if (ipk__bcast_attach(&r->pub, r->mem, r->size, IPK__BCAST_PUB, "f") == 0 &&
	    ipk__bcast_pub_register(&r->pub) == 0) {
		r->pub_open = true;
		if (r->clean)
			FZ_CHECK(r->pub.seq == r->published);
	}
}

static void open_sub(struct run *r, struct sub *s, uint8_t how)
{
	if (s->open) {
		ipk__bcast_detach(&s->b);
		ipk__bcast_close_fds(&s->b);
		s->open = false;
	}
	if (ipk__bcast_attach(&s->b, r->mem, r->size, IPK__BCAST_SUB, "f") < 0)
		return;
	s->b.block = how & 1;
	s->b.history = (how >> 1) & 7;
	if (ipk__bcast_sub_register(&s->b) < 0)
		return;
	s->open = true;
	s->next = s->b.e;
	if (r->clean) {
		/* it starts at most history messages back, never in the future */
		FZ_CHECK(s->b.e <= r->published);
		FZ_CHECK(r->published - s->b.e <= s->b.history);
	}
}

static void publish(struct run *r, size_t len, bool zero_copy, bool abort_it)
{
	if (!r->pub_open)
		return;
	size_t max = ipk__bcast_max_message(r->pub.cap);
	len %= (max < sizeof r->msg ? max : sizeof r->msg) + 1;
	ssize_t n;
	if (zero_copy) {
		void *w;
		n = ipk__bcast_borrow(&r->pub, &w, len, IPK__NOW);
		if (n < 0)
			return;
		FZ_CHECK((size_t)n == len);
		FZ_CHECK((unsigned char *)w >= r->data_lo &&
		         (unsigned char *)w + len <= r->data_hi);
		if (abort_it) {
			FZ_CHECK(ipk__bcast_abort(&r->pub) == 0);
			return;
		}
		fill(w, len, r->published);
		n = ipk__bcast_commit(&r->pub, len);
	} else {
		fill(r->msg, len, r->published);
		n = ipk__bcast_publish(&r->pub, r->msg, len, IPK__NOW);
	}
	if (n >= 0) {
		FZ_CHECK((size_t)n == len);
		r->published++;
	} else if (r->clean) {
		/* a clean ring refuses only for a blocking subscriber */
		FZ_CHECK(n == -EAGAIN);
	}
}

static void receive(struct run *r, struct sub *s, bool zero_copy)
{
	if (!s->open)
		return;
	if (zero_copy) {
		const void *p;
		uint64_t missed = 0;
		ssize_t n = ipk__bcast_peek(&s->b, &p, &missed, IPK__NOW);
		if (n < 0) {
			FZ_CHECK(!r->clean || n == -EAGAIN);
			return;
		}
		uint64_t before = s->next;
		check_msg(r, s, p, (size_t)n, missed);
		int rc = ipk__bcast_release(&s->b);
		if (rc == -ESTALE && r->clean)
			s->next = before + missed; /* told again with the next one */
		FZ_CHECK(rc == 0 || rc == -ESTALE);
		return;
	}
	unsigned char buf[8192];
	ipk_msginfo info;
	memset(&info, 0, sizeof info);
	ipk__rx rx = {.buf = buf, .cap = sizeof buf, .info = &info,
	              .maxmsg = sizeof buf};
	ssize_t n = ipk__bcast_recv(&s->b, &rx, IPK__NOW);
	if (n < 0) {
		FZ_CHECK(!r->clean || n == -EAGAIN);
		return;
	}
	FZ_CHECK((size_t)n <= sizeof buf);
	if (r->clean) {
		uint64_t m = s->next + info.missed;
		FZ_CHECK(m < r->published);
		FZ_CHECK(intact(buf, (size_t)n, m));
		s->next = m + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct run *r = calloc(1, sizeof *r);
	if (r == NULL)
		return 0;
	r->size = REGION;
	r->mem = mmap(NULL, REGION + page, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->mem == MAP_FAILED) {
		free(r);
		return 0;
	}
	mprotect(r->mem + REGION, page, PROT_NONE);
	uint8_t cfg = fz_u8(&f);
	struct ipk__bcast_fmt fmt = {.nslots = 1 + (cfg & 3),
	                             .block = (cfg >> 2) & 1,
	                             .history = (cfg >> 3) & 7};
	FZ_CHECK(ipk__bcast_format(r->mem, r->size, &fmt) == 0);
	struct ipk__bcast_hdr *h = (struct ipk__bcast_hdr *)(void *)r->mem;
	r->data_lo = r->mem + h->hdr_size;
	r->data_hi = r->data_lo + h->capacity;
	r->clean = true;
	open_pub(r);
	for (int i = 0; i < NSUBS; i++)
		open_sub(r, &r->subs[i], (uint8_t)i);
	for (int ops = 0; f.n > 0 && ops < 400; ops++) {
		uint8_t op = fz_u8(&f);
		struct sub *s = &r->subs[(op >> 4) % NSUBS];
		switch (op & 15) {
		case 0: { /* scribble: anywhere but the identity block */
			uint16_t off = fz_u16(&f);
			size_t got;
			const uint8_t *v = fz_bytes(&f, 8, &got);
			size_t at = 128 + (size_t)off * 8 % (r->size - 136);
			memcpy(r->mem + at, v, got);
			r->clean = false;
			break;
		}
		case 1:
		case 2:
		case 3:
			publish(r, fz_u16(&f) % 600, false, false);
			break;
		case 4:
			publish(r, fz_u16(&f), true, false);
			break;
		case 5:
			publish(r, fz_u16(&f), true, true);
			break;
		case 6:
		case 7:
			receive(r, s, false);
			break;
		case 8:
		case 9:
			receive(r, s, true);
			break;
		case 10:
			if (s->open)
				ipk__bcast_readable(&s->b);
			break;
		case 11:
			open_pub(r);
			break;
		case 12:
			open_sub(r, s, fz_u8(&f));
			break;
		case 13: { /* a burst: laps the slow ones */
			uint8_t k = fz_u8(&f);
			for (int i = 0; i < k; i++)
				publish(r, (size_t)(i * 37 + k) % 300, false, false);
			break;
		}
		default: {
			ipk__bcast_info info;
			if (r->pub_open && ipk__bcast_info_get(&r->pub, &info) == 0 &&
			    r->clean)
				FZ_CHECK(info.published == r->published);
			break;
		}
		}
	}
	if (r->pub_open) {
		ipk__bcast_detach(&r->pub);
		ipk__bcast_close_fds(&r->pub);
	}
	for (int i = 0; i < NSUBS; i++)
		if (r->subs[i].open) {
			ipk__bcast_detach(&r->subs[i].b);
			ipk__bcast_close_fds(&r->subs[i].b);
		}
	munmap(r->mem, REGION + page);
	free(r);
	return 0;
}
