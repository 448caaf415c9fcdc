/* The SP request/reply header: a backtrace of 32-bit big-endian words. */
#define _GNU_SOURCE
#include "proto.h"

size_t ipk__sp_backtrace(const unsigned char *msg, size_t len)
{
	/* hop words (pipe IDs of devices, ours) until the request ID, the
	   first word with the high bit set; too many hops is a loop */
	for (size_t off = 0; off + 4 <= len && off < 4 * IPK__SP_MAXHOPS;
	     off += 4)
		if (msg[off] & 0x80)
			return off + 4;
	return 0;
}

size_t ipk__sp_reply(const unsigned char *m, size_t len, uint32_t *id,
                     int *status)
{
	/* ipckit's REQ sends one hop word before the ID; the reply holds it
	   back unchanged (status asked, none given) or with the status */
	size_t off = 0;
	*status = -1;
	if (len >= 4 && !(m[0] & 0x80)) {
		uint32_t w = ipk__get32(m);
		if ((w & IPK__SP_STATUS_MASK) == IPK__SP_STATUS)
			*status = (int)(w & 0x7fff);
		else if (w != IPK__SP_ASK_STATUS)
			return 0; /* hops we never sent */
		off = 4;
	}
	if (len < off + 4 || !(m[off] & 0x80))
		return 0;
	*id = ipk__get32(m + off);
	return off + 4;
}
