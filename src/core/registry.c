/*
 * The scheme table: every mechanism of the design has a row. A scheme whose
 * transport is not built stays known (it answers -EPROTONOSUPPORT, not
 * "unknown scheme"). Adding a mechanism is one file and one row here.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

extern const struct ipk_transport ipk__pipe_transport;
extern const struct ipk_transport ipk__fifo_transport;
extern const struct ipk_transport ipk__unix_transport;
extern const struct ipk_transport ipk__unixgram_transport;
extern const struct ipk_transport ipk__tcp_transport;
extern const struct ipk_transport ipk__shm_transport;
extern const struct ipk_transport ipk__sysvshm_transport;
extern const struct ipk_transport ipk__mmap_transport;
extern const struct ipk_transport ipk__sysvmq_transport;
extern const struct ipk_transport ipk__mq_transport;
extern const struct ipk_transport ipk__signal_transport;

static const struct scheme {
	const char *name;
	const struct ipk_transport *tp; /* NULL: known, not built yet */
	const char *summary;            /* used while tp is NULL */
} schemes[] = {
	{"pipe", &ipk__pipe_transport, NULL},
	{"fifo", &ipk__fifo_transport, NULL},
	{"unix", &ipk__unix_transport, NULL},
	{"unixgram", &ipk__unixgram_transport, NULL},
	{"tcp", &ipk__tcp_transport, NULL},
	{"sysvmq", &ipk__sysvmq_transport, NULL},
	{"mq", &ipk__mq_transport, NULL},
	{"signal", &ipk__signal_transport, NULL},
	{"shm", &ipk__shm_transport, NULL},
	{"sysvshm", &ipk__sysvshm_transport, NULL},
	{"mmap", &ipk__mmap_transport, NULL},
};

static const char *names[IPK__ARRAY_LEN(schemes) + 1];

const struct ipk_transport *ipk__lookup(const char *scheme, bool *known)
{
	for (size_t i = 0; i < IPK__ARRAY_LEN(schemes); i++)
		if (strcmp(schemes[i].name, scheme) == 0) {
			*known = true;
			return schemes[i].tp;
		}
	*known = false;
	return NULL;
}

int ipk__scheme_error(const char *scheme, bool known)
{
	if (known)
		return ipk__err(-EPROTONOSUPPORT,
		                "scheme '%s:' is known but not built in this version "
		                "of ipckit",
		                scheme);
	char list[256] = "";
	size_t off = 0;
	for (size_t i = 0; i < IPK__ARRAY_LEN(schemes) && off < sizeof list; i++)
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%s:",
		                        i ? " " : "", schemes[i].name);
	return ipk__err(-EINVAL, "unknown scheme '%s:' (known: %s)", scheme, list);
}

const char *const *ipk_schemes(void)
{
	if (names[0] == NULL)
		for (size_t i = 0; i < IPK__ARRAY_LEN(schemes); i++)
			names[i] = schemes[i].name;
	return names;
}

int ipk_scheme_built(const char *scheme)
{
	bool known;
	return ipk__lookup(scheme, &known) != NULL;
}

const char *ipk_scheme_summary(const char *scheme)
{
	for (size_t i = 0; i < IPK__ARRAY_LEN(schemes); i++)
		if (strcmp(schemes[i].name, scheme) == 0)
			return schemes[i].tp ? schemes[i].tp->summary
			                     : schemes[i].summary;
	return NULL;
}
