/* Owner records of FIFOs and socket files (owner_file.h). */
#include "owner_file.h"
#include "owner.h"

#include <stdio.h>
#include <unistd.h>

static void name_of(char buf[48], uint64_t dev, uint64_t ino)
{
	snprintf(buf, 48, "%llx:%llx", (unsigned long long)dev,
	         (unsigned long long)ino);
}

void ipk__owner_file_listen(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t file_uid, bool persist)
{
	char name[48];
	name_of(name, dev, ino);
	if (!persist) {
		ipk__owner_forget(kind, name, file_uid, ino);
		return;
	}
	ipk__owner_claim cl;
	if (ipk__owner_lock(&cl, kind, name) == 0)
		ipk__owner_set(&cl, true, ino);
	ipk__owner_unlock(&cl);
}

int ipk__owner_file_persist(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t uid)
{
	char name[48];
	name_of(name, dev, ino);
	struct ipk__owner o;
	return ipk__owner_read(kind, name, uid, &o) > 0 && o.object == ino &&
	       o.persist;
}

void ipk__owner_file_forget(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t uid)
{
	char name[48];
	name_of(name, dev, ino);
	ipk__owner_forget(kind, name, uid, ino);
}
