/* Kernel limits that decide which message sizes a mechanism can carry. */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static long read_long(const char *path, long dflt)
{
	long v = dflt;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

size_t bench_limit_unixgram(char *why, size_t cap)
{
	/* the kernel doubles SO_SNDBUF but keeps room for its own overhead */
	long w = read_long("/proc/sys/net/core/wmem_max", 212992);
	snprintf(why, cap, "a datagram must fit the socket buffer "
	         "(net.core.wmem_max=%ld)", w);
	return (size_t)w;
}

size_t bench_limit_sysvmq(char *why, size_t cap)
{
	long m = read_long("/proc/sys/kernel/msgmax", 8192);
	snprintf(why, cap, "exceeds kernel.msgmax=%ld", m);
	return (size_t)m;
}

size_t bench_limit_signal(char *why, size_t cap)
{
	snprintf(why, cap, "a signal carries one 8-byte value (sigval)");
	return 8;
}

/* Root in a container often lacks it: the capability is what counts. */
static bool has_cap(int cap)
{
	bool yes = false;
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return geteuid() == 0;
	char line[256];
	while (fgets(line, sizeof line, f)) {
		unsigned long long mask;
		if (sscanf(line, "CapEff: %llx", &mask) == 1) {
			yes = (mask >> cap) & 1;
			break;
		}
	}
	fclose(f);
	return yes;
}

long bench_mq_depth(size_t size, char *why, size_t cap)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) < 0)
		return 10;
	if (rl.rlim_cur < rl.rlim_max) { /* ours to raise, up to the hard limit */
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MSGQUEUE, &rl);
	}
	long smax = read_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
	if ((long)size > smax && !has_cap(24 /* CAP_SYS_RESOURCE */)) {
		snprintf(why, cap, "exceeds fs.mqueue.msgsize_max=%ld", smax);
		return 0;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return 10;
	/* two queues; the kernel charges each message its size plus a header */
	unsigned long long per = 2ULL * (size + 128);
	unsigned long long depth = (unsigned long long)rl.rlim_cur / per;
	if (depth < 1) {
		snprintf(why, cap,
		         "two queues of one %zu-byte message exceed "
		         "RLIMIT_MSGQUEUE=%llu bytes (ulimit -q)",
		         size, (unsigned long long)rl.rlim_cur);
		return 0;
	}
	return depth > 10 ? 10 : (long)depth;
}
