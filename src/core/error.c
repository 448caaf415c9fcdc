/* Error codes to text, and the per-thread detailed message. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_msg[512];

const char *ipk_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case EPIPE:
		return "peer closed the channel";
	case EAGAIN:
		return "operation would block";
	case ETIMEDOUT:
		return "timed out";
	case EMSGSIZE:
		return "message exceeds the channel's size limit";
	case ENOBUFS:
		return "receive buffer too small for the message";
	case EPROTONOSUPPORT:
		return "scheme known but not built";
	case EPROTO:
		return "peer does not speak the expected protocol";
	}
	const char *s = strerrordesc_np(err);
	return s ? s : "unknown error";
}

const char *ipk_last_error(void)
{
	return last_msg[0] ? last_msg : "no error recorded";
}

/* Formatted into a buffer of its own first: a caller may wrap the previous
   message, passing ipk_last_error() (last_msg itself) as an argument. */
static int vrecord(int err, bool with_errno, const char *fmt, va_list ap)
{
	char msg[sizeof last_msg];
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		n = 0;
	if (with_errno && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, ": %s", ipk_strerror(err));
	memcpy(last_msg, msg, sizeof msg);
	return err < 0 ? err : -err;
}

int ipk__err(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err = vrecord(err, false, fmt, ap);
	va_end(ap);
	return err;
}

int ipk__errno(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err = vrecord(err, true, fmt, ap);
	va_end(ap);
	return err;
}
