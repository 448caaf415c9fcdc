/* A subscriber's topics: prefix subscriptions and matching (see topics.h). */
#define _GNU_SOURCE
#include "topics.h"
#include "../core/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static ssize_t find(const struct ipk__topics *t, const void *p, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].len == len && memcmp(t->v[i].bytes, p, len) == 0)
			return (ssize_t)i;
	return -1;
}

int ipk__topics_add(struct ipk__topics *t, const void *prefix, size_t len)
{
	if (prefix == NULL && len > 0)
		return ipk__err(-EINVAL, "subscribe: NULL prefix");
	if (len > IPK__TOPIC_MAX)
		return ipk__err(-EINVAL, "subscribe: a prefix of %zu bytes is longer "
		                         "than the %d allowed", len, IPK__TOPIC_MAX);
	if (len == 0) {
		t->all = true;
		return 0;
	}
	if (find(t, prefix, len) >= 0)
		return 0;
	if (t->n >= IPK__TOPICS_MAX)
		return ipk__err(-ENOSPC, "subscribe: at most %d subscriptions per "
		                         "channel", IPK__TOPICS_MAX);
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		struct ipk__topic *v = realloc(t->v, cap * sizeof *v);
		if (v == NULL)
			return ipk__err(-ENOMEM, "out of memory");
		t->v = v;
		t->cap = cap;
	}
	unsigned char *b = malloc(len);
	if (b == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	memcpy(b, prefix, len);
	t->v[t->n].bytes = b;
	t->v[t->n].len = len;
	t->n++;
	return 0;
}

int ipk__topics_remove(struct ipk__topics *t, const void *prefix, size_t len)
{
	if (prefix == NULL && len > 0)
		return ipk__err(-EINVAL, "unsubscribe: NULL prefix");
	if (len == 0) {
		if (!t->all)
			return ipk__err(-ENOENT, "unsubscribe: the empty prefix is not "
			                         "subscribed");
		t->all = false;
		return 0;
	}
	ssize_t i = find(t, prefix, len);
	if (i < 0)
		return ipk__err(-ENOENT, "unsubscribe: that prefix (%zu bytes) is "
		                         "not subscribed", len);
	free(t->v[i].bytes);
	t->v[i] = t->v[--t->n];
	return 0;
}

bool ipk__topics_match(void *arg, const void *msg, size_t len)
{
	const struct ipk__topics *t = arg;
	if (t->all)
		return true;
	const unsigned char *m = msg;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].len <= len && memcmp(t->v[i].bytes, m, t->v[i].len) == 0)
			return true;
	return false;
}

void ipk__topics_free(struct ipk__topics *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].bytes);
	free(t->v);
	memset(t, 0, sizeof *t);
}
