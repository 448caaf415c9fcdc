#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static _Thread_local char namebuf[4][256];
static _Thread_local unsigned nameidx;
static unsigned counter;

static const char *make(const char *dir, const char *tag)
{
	char *b = namebuf[nameidx++ % 4];
	snprintf(b, sizeof namebuf[0], "%s/ipkt-%d-%u-%s", dir, (int)getpid(),
	         __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), tag);
	return b;
}

const char *ipkt_path(const char *tag)
{
	return make("/tmp", tag);
}

const char *ipkt_name(const char *tag)
{
	return make("", tag);
}

static uint32_t next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

void ipkt_fill(void *buf, size_t len, uint32_t seq)
{
	uint32_t x = seq * 2654435761u + (uint32_t)len + 1;
	unsigned char *p = buf;
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t v = next(&x);
		memcpy(p + i, &v, 4);
	}
	for (; i < len; i++)
		p[i] = (unsigned char)next(&x);
}

int ipkt_check(const void *buf, size_t len, uint32_t seq)
{
	void *want = malloc(len ? len : 1);
	ipkt_fill(want, len, seq);
	int ok = memcmp(want, buf, len) == 0;
	free(want);
	return ok;
}

const char *ipkt_env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v != NULL, "environment variable %s is not set (run through ctest)",
	          name);
	return v;
}

int ipkt_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}
