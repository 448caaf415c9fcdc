/*
 * The protocols a channel can speak, by the name ?proto= gives. Adding a
 * pattern is one file with its ops table and one row here.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

extern const struct ipk__proto ipk__proto_req, ipk__proto_rep,
	ipk__proto_push, ipk__proto_pull, ipk__proto_pub, ipk__proto_sub;

static const struct ipk__proto *const protocols[] = {
	&ipk__proto_pair, &ipk__proto_req,  &ipk__proto_rep,
	&ipk__proto_push, &ipk__proto_pull, &ipk__proto_pub,
	&ipk__proto_sub,
};

const struct ipk__proto *ipk__proto_find(const char *name)
{
	for (size_t i = 0; i < IPK__ARRAY_LEN(protocols); i++)
		if (strcmp(protocols[i]->name, name) == 0)
			return protocols[i];
	return NULL;
}

static bool listed(const char *const *list, const char *key)
{
	for (; list && *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

bool ipk__proto_option(const char *key)
{
	if (strcmp(key, "proto") == 0)
		return true;
	for (size_t i = 0; i < IPK__ARRAY_LEN(protocols); i++)
		if (listed(protocols[i]->options, key))
			return true;
	return false;
}

int ipk__proto_choose(ipk__url *u, const struct ipk__proto **out)
{
	const char *name = NULL;
	int rc = ipk__opt_str(u, "proto", &name);
	if (rc < 0)
		return rc;
	const struct ipk__proto *p = name ? ipk__proto_find(name)
	                                  : &ipk__proto_pair;
	if (p == NULL) {
		char list[128] = "";
		size_t off = 0;
		for (size_t i = 0; i < IPK__ARRAY_LEN(protocols) && off < sizeof list;
		     i++)
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
			                        i ? ", " : "", protocols[i]->name);
		return ipk__err(-EINVAL, "address '%s': unknown protocol '%s' "
		                         "(known: %s)", u->text, name, list);
	}
	for (int i = 0; i < u->nopts; i++) {
		const char *k = u->opts[i].key;
		if (strcmp(k, "proto") != 0 && ipk__proto_option(k) &&
		    !listed(p->options, k))
			return ipk__err(-EINVAL, "address '%s': option %s does not "
			                         "apply to protocol %s",
			                u->text, k, p->name);
	}
	*out = p;
	return 0;
}
