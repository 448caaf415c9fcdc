/* Owner records of FIFOs and socket files (owner_file.h). */
#include "owner_file.h"

#include <stdio.h>
#include <unistd.h>

static void name_of(char buf[48], uint64_t dev, uint64_t ino)
{
	snprintf(buf, 48, "%llx:%llx", (unsigned long long)dev,
	         (unsigned long long)ino);
}

void ipk__owner_file_listen(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t file_uid, bool persist, bool track)
{
	char name[48];
	name_of(name, dev, ino);
	/* a record goes under the file's owner and is believed only from a
	   file of theirs (owner.h): a listener of another user keeps none
	   (one under its own uid nobody would read, nor remove) */
	if ((!persist && !track) || file_uid != geteuid()) {
		ipk__owner_forget(kind, name, file_uid, ino);
		return;
	}
	ipk__owner_claim cl;
	if (ipk__owner_lock(&cl, kind, name) == 0)
		ipk__owner_set(&cl, persist, ino);
	ipk__owner_unlock(&cl);
}

void ipk__owner_file_close(const char *kind, uint64_t dev, uint64_t ino,
                           bool removed)
{
	char name[48];
	name_of(name, dev, ino);
	if (removed)
		ipk__owner_forget(kind, name, geteuid(), ino);
	else
		ipk__owner_release(kind, name, ino);
}

enum ipk__owner_state ipk__owner_file_check(const char *kind, uint64_t dev,
                                            uint64_t ino, uid_t uid,
                                            struct ipk__owner *rec)
{
	char name[48];
	name_of(name, dev, ino);
	return ipk__owner_check(kind, name, uid, ino, rec);
}

void ipk__owner_file_forget(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t uid)
{
	char name[48];
	name_of(name, dev, ino);
	ipk__owner_forget(kind, name, uid, ino);
}
