/*
 * A subscriber's topics (SP sub0 semantics): a message is wanted when its
 * body starts with one of the subscribed prefixes; no subscription, no
 * messages; the empty prefix takes everything. Prefixes are bytes, not
 * strings.
 */
#ifndef IPK_PROTO_TOPICS_H
#define IPK_PROTO_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

/* A prefix longer than this is refused (-EINVAL): topics are short. */
#define IPK__TOPIC_MAX 4096
/* At most this many subscriptions per channel (-ENOSPC beyond). */
#define IPK__TOPICS_MAX 1024

struct ipk__topics {
	struct ipk__topic {
		size_t len;
		unsigned char *bytes;
	} *v;
	size_t n, cap;
	bool all; /* the empty prefix is subscribed */
};

/* Add a prefix (a second subscription of the same prefix is a no-op). */
int ipk__topics_add(struct ipk__topics *t, const void *prefix, size_t len);
/* Remove a prefix: -ENOENT if it was not subscribed. */
int ipk__topics_remove(struct ipk__topics *t, const void *prefix, size_t len);
/* Does the message match a subscription? (a filter for the broadcast ring) */
bool ipk__topics_match(void *t, const void *msg, size_t len);
void ipk__topics_free(struct ipk__topics *t);

#endif
