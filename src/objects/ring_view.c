/*
 * The inventory's one view of a ring header. It works on a private copy of
 * the region's first bytes (so a peer that rewrites or truncates the region
 * meanwhile changes nothing we read) and leaves the validation to the
 * ring's own read-only description (ipk__ring_describe), so it needs to
 * know nothing of the layout.
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
	if (have > region_size)
		have = region_size;
	if (have < sizeof(struct ipk__ring_hdr))
		return ipk__err(-EPROTO, "region %s is %zu bytes: too small to be an "
		                "ipckit ring", what, have);
	/* describe reads the header only, which lies inside the copy (it is
	   IPK__RING_VIEW_BYTES long, zero past have); the region's size is
	   what the header's sizes are checked against */
	if (ipk__ring_hdr_size(IPK__RING_MPMC_SLOTS) > IPK__RING_VIEW_BYTES)
		return ipk__err(-EPROTO, "ring %s: header larger than the copy", what);
	struct ipk__ring_desc d;
	int rc = ipk__ring_describe(copy, region_size, &d, what);
	if (rc < 0)
		return rc;
	out->mpmc = d.mpmc;
	out->capacity = d.capacity;
	out->used = d.used;
	for (int i = 0; i < d.nconsumers; i++) {
		int k = out->nslots++;
		out->slot[k].pid = d.consumers[i].pid;
		out->slot[k].start = d.consumers[i].start;
		out->slot[k].consumer = true;
	}
	for (int i = 0; i < d.nproducers; i++) {
		int k = out->nslots++;
		out->slot[k].pid = d.producers[i].pid;
		out->slot[k].start = d.producers[i].start;
		out->slot[k].consumer = false;
	}
	out->creator = d.creator.pid;
	out->creator_start = d.creator.start;
	out->persist = d.persist;
	return 0;
}
