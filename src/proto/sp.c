/* The SP request/reply header: a backtrace of 32-bit big-endian words. */
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
