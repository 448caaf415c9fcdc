/* What the sync objects share: names, options, flags, removal by address. */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

int ipk__sync_name(const ipk__url *u, size_t max, const char *what)
{
	const char *n = u->rest;
	if (n[0] != '/' || n[1] == '\0')
		return ipk__err(-EINVAL,
		                "address '%s': %s needs a name like %s:/jobs",
		                u->text, what, u->scheme);
	if (strchr(n + 1, '/') != NULL)
		return ipk__err(-EINVAL,
		                "address '%s': %s name '%s' may not contain '/' "
		                "after the first",
		                u->text, what, n);
	if (strlen(n + 1) > max)
		return ipk__err(-ENAMETOOLONG,
		                "address '%s': %s name is %zu bytes, the limit is %zu",
		                u->text, what, strlen(n + 1), max);
	return 0;
}

static bool listed(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

int ipk__sync_opts(ipk__url *u, const char *const *accepted,
                   struct ipk__sync_opts *o)
{
	memset(o, 0, sizeof *o);
	o->mode = 0600;
	o->proj = 1;
	o->undo = true;
	o->open_wait_ms = 10000;
	for (int i = 0; i < u->nopts; i++) {
		if (listed(accepted, u->opts[i].key))
			continue;
		char list[128] = "";
		size_t off = 0;
		for (const char *const *a = accepted; *a && off < sizeof list; a++)
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
			                        off ? ", " : "", *a);
		return ipk__err(-EINVAL,
		                "address '%s': unknown option '%s' for %s: "
		                "(accepted: %s)",
		                u->text, u->opts[i].key, u->scheme, list);
	}
	int rc;
	long wait = 0;
	if ((rc = ipk__opt_mode(u, "mode", &o->mode)) < 0 ||
	    (rc = ipk__opt_long(u, "n", 1, INT_MAX, &o->nsems)) < 0 ||
	    (rc = ipk__opt_long(u, "proj", 1, 255, &o->proj)) < 0 ||
	    (rc = ipk__opt_flag(u, "undo", &o->undo)) < 0 ||
	    (rc = ipk__opt_long(u, "timeout", -1, INT_MAX, &wait)) < 0)
		return rc;
	if (rc > 0)
		o->open_wait_ms = wait;
	rc = ipk__opt_long(u, "value", LONG_MIN, LONG_MAX, &o->value);
	if (rc == -EINVAL)
		return ipk__err(-EINVAL, "address '%s': option value needs an integer",
		                u->text);
	if (rc > 0 && o->value < 0)
		return ipk__err(-EINVAL,
		                "address '%s': value=%ld: a semaphore cannot be negative",
		                u->text, o->value);
	o->has_value = rc > 0;
	return 0;
}

int ipk__sync_flags(int flags, int allowed, const char *fn)
{
	if (flags & ~allowed)
		return ipk__err(-EINVAL, "%s: unknown flags 0x%x", fn,
		                (unsigned)(flags & ~allowed));
	if ((flags & IPK_SYNC_EXCL) && !(flags & IPK_SYNC_CREATE))
		return ipk__err(-EINVAL, "%s: IPK_SYNC_EXCL needs IPK_SYNC_CREATE",
		                fn);
	return 0;
}

#ifdef IPK__TSAN
void *ipk__tsan_anchor(uint64_t key)
{
	/* collisions only add happens-before edges: fewer reports, never false */
	static char anchors[1024];
	key *= 0x9e3779b97f4a7c15ull;
	return &anchors[key >> 54];
}
#endif

int ipk_sync_remove(const char *url)
{
	ipk__url u;
	int rc = ipk__url_parse(&u, url);
	if (rc < 0)
		return rc;
	if (strcmp(u.scheme, "sem") == 0)
		rc = ipk__psem_remove(&u);
	else if (strcmp(u.scheme, "sysvsem") == 0)
		rc = ipk__ssem_remove(&u);
	else if (strcmp(u.scheme, "mutex") == 0)
		rc = ipk__named_remove(&u, IPK__MUTEX_KIND);
	else if (strcmp(u.scheme, "cond") == 0)
		rc = ipk__named_remove(&u, IPK__COND_KIND);
	else if (strcmp(u.scheme, "rwlock") == 0)
		rc = ipk__named_remove(&u, IPK__RWLOCK_KIND);
	else
		rc = ipk__err(-EINVAL,
		              "address '%s': not a synchronisation object (known: "
		              "sem, sysvsem, mutex, cond, rwlock)",
		              url);
	ipk__url_free(&u);
	return rc;
}
