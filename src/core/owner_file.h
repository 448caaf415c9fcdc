/*
 * Owner records (owner.h) for objects that are files: FIFOs and socket
 * files. A FIFO or socket file keeps no flag of its own that says "kept on
 * purpose", so a listener made with ?persist records it beside its queue
 * records, under the file's device and inode ("fifo" or "sock", name
 * "DEV:INO" in hex, instance = inode): the inventory then shows the object
 * as kept, and gc leaves it. A listener without ?persist drops such a record
 * of the file it takes over (it removes the file when it closes). Names
 * are not used: one file has many (relative, through links), its identity
 * one.
 */
#ifndef IPK_CORE_OWNER_FILE_H
#define IPK_CORE_OWNER_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A listener now owns file dev/ino of kind ("fifo", "sock"), owned by
   file_uid; best effort. */
void ipk__owner_file_listen(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t file_uid, bool persist);

/* Was file dev/ino (owned by uid) made with ?persist: 1, or 0. */
int ipk__owner_file_persist(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t uid);

/* The file was removed: its record goes too. */
void ipk__owner_file_forget(const char *kind, uint64_t dev, uint64_t ino,
                            uid_t uid);

#endif
