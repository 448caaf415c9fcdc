/*
 * The inventory's view of a broadcast ring (src/shm/bcast.h): who is
 * recorded in it. Like the ring view it works on a private copy of the
 * region's first bytes and leaves the validation of the header to the
 * ring's own attach, which checks every field against the region's size;
 * the owner words are read only from slots inside the copied header.
 */
#include "objects.h"
#include "../shm/bcast.h"
#include "../shm/proc.h"

#include <errno.h>
#include <string.h>

_Static_assert(IPK__BCAST_MAX_SLOTS <= IPK__BCASTVIEW_SLOTS,
               "the view holds every subscriber slot");

int ipk__bcast_view(void *copy, size_t have, size_t region_size,
                    const char *what, struct ipk__bcastview *out)
{
	memset(out, 0, sizeof *out);
	if (have > region_size)
		have = region_size;
	if (have < sizeof(struct ipk__bcast_hdr) || !ipk__bcast_is(copy, have))
		return ipk__err(-EPROTO, "region %s holds no broadcast ring", what);
	struct ipk__bcast b;
	int rc = ipk__bcast_attach(&b, copy, region_size, IPK__BCAST_SUB, what);
	if (rc < 0)
		return rc;
	/* attach checked hdr_size against the slot count; the slots must also
	   lie in what was read (past it the copy is zeros: "free") */
	uint64_t hs = b.h->hdr_size;
	if (hs > have || hs > IPK__RING_VIEW_BYTES)
		return ipk__err(-EPROTO, "broadcast ring %s: only %zu of its %llu "
		                "header bytes could be read", what, have,
		                (unsigned long long)hs);
	out->persist = (b.h->flags & IPK__BCAST_F_PERSIST) != 0;
	out->pub = atomic_load_explicit(&b.h->pub, memory_order_relaxed);
	out->nslots = b.nslots;
	for (uint32_t i = 0; i < b.nslots; i++)
		out->sub[i] =
			atomic_load_explicit(&b.h->slots[i].owner, memory_order_relaxed);
	return 0;
}

int ipk__bcast_owner_state(uint64_t w, pid_t *pid)
{
	*pid = (pid_t)(w & 0x7fffffffu);
	if (w == 0 || *pid == 0)
		return IPK_PID_NONE;
	/* marked by a process that found the owner dead and is freeing it */
	if (w & IPK__BC_RECLAIM)
		return IPK_PID_DEAD;
	uint32_t start = (uint32_t)(w >> 32);
	uint64_t now = ipk__proc_start(*pid);
	if (now == 0 || start == 0) /* gone, or nothing to tell it by */
		return ipk__pid_state(*pid, 0, 0);
	/* the word keeps the low 32 bits of the start time */
	return (uint32_t)now == start ? IPK_PID_ALIVE : IPK_PID_DEAD;
}
