/* Helpers shared by the Criterion tests. */
#ifndef IPK_TEST_UTIL_H
#define IPK_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A name unique to this process and call: "/tmp/ipkt-<pid>-<n>-<tag>". */
const char *ipkt_path(const char *tag);
/* A name without a directory, for namespaces like /dev/shm: "/ipkt-<pid>-<n>-<tag>". */
const char *ipkt_name(const char *tag);
/* Deterministic payload for message number seq of length len. */
void ipkt_fill(void *buf, size_t len, uint32_t seq);
/* 1 if buf holds exactly what ipkt_fill(seq, len) wrote. */
int ipkt_check(const void *buf, size_t len, uint32_t seq);
/* Path of a built program from the environment (IPK_CLI, IPK_BUILD, ...). */
const char *ipkt_env(const char *name);
/* Run a shell command, return its exit status (or -1). */
int ipkt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
