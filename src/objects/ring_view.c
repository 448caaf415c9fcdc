/*
 * The inventory's one view of a ring header. It works on a private copy of
 * the region's first bytes (so a peer that rewrites or truncates the region
 * meanwhile changes nothing we read) and leaves the validation to the
 * ring's own attach check.
 */
#include "objects.h"
#include "../shm/ring.h"

#include <errno.h>
#include <string.h>

int ipk__ring_view(void *copy, size_t have, size_t region_size,
                   const char *what, struct ipk__ringview *out)
{
	memset(out, 0, sizeof *out);
	out->persist = -1;
	struct ipk__ring r;
	if (have > region_size)
		have = region_size;
	if (have < sizeof(struct ipk__ring_hdr))
		return ipk__err(-EPROTO, "region %s is %zu bytes: too small to be an "
		                "ipckit ring", what, have);
	int rc = ipk__ring_attach(&r, copy, region_size, IPK__RING_CONSUMER, what);
	if (rc < 0)
		return rc;
	/* attach checked the header against the region; we hold only a copy
	   of its start: the slots must lie inside that copy */
	size_t hs = (size_t)r.h->hdr_size;
	if (hs > have)
		return ipk__err(-EPROTO, "ring %s: header of %zu bytes, only %zu read",
		                what, hs, have);
	ipk_ringinfo info;
	ipk__ring_info(&r, &info);
	out->mpmc = r.mpmc;
	out->capacity = r.cap;
	out->used = info.used;
	uint32_t nslots = r.h->nslots; /* both sides: consumers first */
	for (uint32_t i = 0; i < 2 * nslots && i < 2 * 64; i++) {
		const struct ipk__ring_slot *s = &r.h->slots[i];
		uint32_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
		if (pid == 0 || pid > 0x7fffffffu)
			continue;
		int k = out->nslots++;
		out->slot[k].pid = (pid_t)pid;
		out->slot[k].start =
			atomic_load_explicit(&s->start, memory_order_relaxed);
		out->slot[k].consumer = i < nslots;
	}
	return 0;
}
