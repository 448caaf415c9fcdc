/* Deadlines and waiting: every blocking call in the library goes through here. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

int64_t ipk__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ipk__deadline_in(int timeout_ms)
{
	if (timeout_ms < 0)
		return IPK__NEVER;
	if (timeout_ms == 0)
		return IPK__NOW;
	return ipk__now_ns() + (int64_t)timeout_ms * 1000000;
}

int ipk__remaining_ms(int64_t deadline)
{
	if (deadline == IPK__NEVER)
		return -1;
	if (deadline == IPK__NOW)
		return 0;
	int64_t left = deadline - ipk__now_ns();
	if (left <= 0)
		return 0;
	int64_t ms = (left + 999999) / 1000000; /* round up: never wake early */
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

bool ipk__expired(int64_t deadline)
{
	if (deadline == IPK__NEVER)
		return false;
	return deadline == IPK__NOW || ipk__now_ns() >= deadline;
}

int ipk__timeout_err(int64_t deadline)
{
	return deadline == IPK__NOW ? -EAGAIN : -ETIMEDOUT;
}

void ipk__deadline_timespec(int64_t deadline, int clock, struct timespec *ts)
{
	int64_t at = deadline;
	if (clock != CLOCK_MONOTONIC) {
		struct timespec now;
		clock_gettime(clock, &now);
		int64_t off = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
		              ipk__now_ns();
		at = deadline == IPK__NOW ? ipk__now_ns() + off : deadline + off;
	} else if (deadline == IPK__NOW) {
		at = ipk__now_ns();
	}
	ts->tv_sec = at / 1000000000;
	ts->tv_nsec = at % 1000000000;
}

int ipk__wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	return ipk__wait_pollfds(&p, 1, deadline);
}

int ipk__wait_pollfds(struct pollfd *pf, unsigned count, int64_t deadline)
{
	for (;;) {
		int n = poll(pf, count, ipk__remaining_ms(deadline));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return ipk__errno(-errno, "poll");
		if (n == 0 && ipk__expired(deadline))
			return ipk__err(ipk__timeout_err(deadline), "%s",
			                deadline == IPK__NOW
			                        ? "not ready and told not to wait"
			                        : "timed out");
	}
}

int ipk__backoff(unsigned *round, int64_t deadline)
{
	if (ipk__expired(deadline))
		return ipk__err(ipk__timeout_err(deadline), "timed out");
	/* 50 us doubling to 10 ms: quick for short waits, cheap for long ones */
	int64_t ns = 50000LL << (*round < 8 ? *round : 8);
	if (ns > 10000000)
		ns = 10000000;
	(*round)++;
	ipk__nap(ns, deadline);
	return 0;
}

void ipk__nap(int64_t ns, int64_t deadline)
{
	if (deadline != IPK__NEVER) {
		int64_t left = deadline - ipk__now_ns();
		if (left < ns)
			ns = left > 0 ? left : 0;
	}
	struct timespec ts = {ns / 1000000000, ns % 1000000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
