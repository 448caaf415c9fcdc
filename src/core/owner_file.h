/*
 * Owner records (owner.h) for objects that are files: FIFOs and socket
 * files, under the file's device and inode (kind "fifo" or "sock", name
 * "DEV:INO" in hex, instance = inode; names are not used: one file has many,
 * relative or through links, and one identity).
 *
 * - ?persist: a FIFO or socket file keeps no flag of its own that says
 *   "kept on purpose", so its listener records it; the inventory shows the
 *   object as kept once the listener is gone, and gc leaves it.
 * - who listens on a FIFO: every FIFO listener records its pid and start
 *   time (a socket's listener is in the kernel's socket table, a FIFO's is
 *   only among the descriptors of processes one may not be allowed to
 *   inspect), so a FIFO whose listener died (a crashed REQ client's reply
 *   mailbox, NAME.r<pid>.<nonce>) is an orphan gc removes even where some
 *   processes cannot be inspected.
 *
 * A listener that takes over a file drops or rewrites its record; one that
 * removes its file when it closes drops it; ipk_remove and gc drop the
 * record of a file they remove.
 */
#ifndef IPK_CORE_OWNER_FILE_H
#define IPK_CORE_OWNER_FILE_H

#include "owner.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A listener now owns file dev/ino of kind ("fifo", "sock") at path,
   owned by file_uid: recorded with ?persist, or always with track, when
   the listener is file_uid; else any record of it is dropped. The record
   says where the file is (without symbolic links, from the root), so that
   gc can tell a record whose file was removed by other means
   (src/objects/scan_records.c). Best effort. */
void ipk__owner_file_listen(const char *kind, const char *path, uint64_t dev,
                            uint64_t ino, uid_t file_uid, bool persist,
                            bool track);

/* The listener closes: removed (it unlinked the file): the record goes;
   else, if it was kept with ?persist, it names no process any more. */
void ipk__owner_file_close(const char *kind, uint64_t dev, uint64_t ino,
                           bool removed);

/* The record of file dev/ino owned by uid (owner.h's states; *rec filled
   when there is one). */
enum ipk__owner_state ipk__owner_file_check(const char *kind, uint64_t dev,
                                            uint64_t ino, uid_t uid,
                                            struct ipk__owner *rec);

/* The file was removed: its record goes too. */
void ipk__owner_file_forget(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t uid);

#endif
