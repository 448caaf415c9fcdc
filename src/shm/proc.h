/* What /proc tells about other processes: liveness, identity, mappings. */
#ifndef IPK_SHM_PROC_H
#define IPK_SHM_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Start time of pid (clock ticks since boot, /proc/PID/stat field 22), so a
 * recycled pid is not taken for the process that registered. 0 if the
 * process does not exist, is a zombie, or /proc cannot tell.
 */
uint64_t ipk__proc_start(pid_t pid);

/* Is the process that registered as (pid, start) still running? start 0
   means unknown: only existence is checked. Zombies count as gone. */
bool ipk__proc_alive(pid_t pid, uint64_t start);

/* Number of processes (whose maps we can read) mapping the file dev/ino. */
long ipk__proc_count_mappers(dev_t dev, ino_t ino);

#endif
