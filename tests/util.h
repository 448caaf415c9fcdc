/* Helpers shared by the Criterion tests. */
#ifndef IPK_TEST_UTIL_H
#define IPK_TEST_UTIL_H

#include <ipckit.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

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

/* Exit status of a child (waitpid, EINTR retried); 128 + N if signal N
   killed it. */
int ipkt_wait_child(pid_t pid);
/* Block until a child writes its byte to fd (it holds what it was told to). */
void ipkt_await(int fd);
/* n bytes of anonymous memory shared with forked children. */
void *ipkt_shared(size_t n);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t ipkt_now_ms(void);
/* Milliseconds elapsed since t0 (taken with CLOCK_MONOTONIC). */
double ipkt_ms_since(const struct timespec *t0);
/* Suite .fini: nothing of this process (ipkt-<pid>-*) may stay in
   /dev/shm; what did is removed and fails the test. */
void ipkt_check_dev_shm(void);

/* A listening channel, or the test fails with the library's message. */
ipk_chan *ipkt_listen_ok(const char *url);
/* A channel dialed within 2 s, or the test fails with the message. */
ipk_chan *ipkt_dial_ok(const char *url);
/* ipk_pair(url, a, b), or the test fails with the message. */
void ipkt_pair_ok(const char *url, ipk_chan **a, ipk_chan **b);
/* A dial waits for its endpoint: a child listens on listen_url 100 ms
   later and takes one message, which the dial of dial_url, begun before,
   must deliver (failures are reported with cr_expect). */
void ipkt_dial_waits(const char *listen_url, const char *dial_url);

#endif
