#define _GNU_SOURCE
#include "util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
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

int ipkt_wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void ipkt_await(int fd)
{
	char b;
	cr_assert_eq(read(fd, &b, 1), 1);
}

void *ipkt_shared(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	               -1, 0);
	cr_assert(p != MAP_FAILED);
	return p;
}

int64_t ipkt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double ipkt_ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void ipkt_check_dev_shm(void)
{
	char tag[64];
	snprintf(tag, sizeof tag, "ipkt-%d-", (int)getpid());
	DIR *d = opendir("/dev/shm");
	cr_assert(d != NULL);
	struct dirent *e;
	char left[256] = "";
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, tag)) {
			snprintf(left, sizeof left, "%s", e->d_name);
			char p[512];
			snprintf(p, sizeof p, "/dev/shm/%s", e->d_name);
			unlink(p);
		}
	closedir(d);
	cr_assert(left[0] == '\0', "test left /dev/shm/%s behind", left);
}

ipk_chan *ipkt_listen_ok(const char *url)
{
	ipk_chan *c = NULL;
	int rc = ipk_listen(&c, url);
	cr_assert_eq(rc, 0, "listen %s: %s", url, ipk_last_error());
	return c;
}

ipk_chan *ipkt_dial_ok(const char *url)
{
	ipk_chan *c = NULL;
	int rc = ipk_dial(&c, url, 2000);
	cr_assert_eq(rc, 0, "dial %s: %s", url, ipk_last_error());
	return c;
}

void ipkt_pair_ok(const char *url, ipk_chan **a, ipk_chan **b)
{
	cr_assert_eq(ipk_pair(url, a, b), 0, "pair %s: %s", url, ipk_last_error());
}

void ipkt_dial_waits(const char *listen_url, const char *dial_url)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct timespec ts = {0, 100 * 1000000};
		nanosleep(&ts, NULL);
		ipk_chan *c = NULL;
		if (ipk_listen(&c, listen_url) < 0)
			_exit(3);
		char b[8];
		ssize_t n = ipk_recv(c, b, sizeof b, 5000);
		ipk_close(c);
		_exit(n == 2 ? 0 : 4);
	}
	ipk_chan *d = NULL;
	int rc = ipk_dial(&d, dial_url, 5000);
	cr_expect_eq(rc, 0, "%s", ipk_last_error());
	if (rc == 0) {
		cr_expect_eq(ipk_send(d, "ok", 2, 1000), 2);
		ipk_close(d);
	}
	cr_expect_eq(ipkt_wait_child(pid), 0);
}
