/*
 * Warnings: things the library handles on the caller's behalf but a person
 * should hear about (a peer dropped because it spoke the wrong protocol).
 * They go to the handler the program installed, or nowhere.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ipk_warn_fn handler;
static void *handler_arg;

void ipk_set_warn_handler(ipk_warn_fn fn, void *arg)
{
	pthread_mutex_lock(&lock);
	handler = fn;
	handler_arg = arg;
	pthread_mutex_unlock(&lock);
}

void ipk__warn(const char *fmt, ...)
{
	pthread_mutex_lock(&lock);
	ipk_warn_fn fn = handler;
	void *arg = handler_arg;
	pthread_mutex_unlock(&lock);
	if (fn == NULL)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fn(msg, arg);
}
