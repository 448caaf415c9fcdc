/* Address parsing: "scheme:rest?key=value&flag" and option accessors. */
#define _GNU_SOURCE
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The option just added against those before it: a repeated ?topic= is a
 * list (sub.c), the same value twice says nothing new (an address from
 * ipk_address() with an option appended again), but two values of one
 * option leave which counts to a guess: refused.
 */
static int repeated(const ipk__url *u, const char *text)
{
	const struct ipk__opt *o = &u->opts[u->nopts - 1];
	if (strcmp(o->key, "topic") == 0)
		return 0;
	for (int i = 0; i < u->nopts - 1; i++) {
		const struct ipk__opt *p = &u->opts[i];
		if (strcmp(p->key, o->key) != 0)
			continue;
		if ((p->val == NULL) == (o->val == NULL) &&
		    (p->val == NULL || strcmp(p->val, o->val) == 0))
			return 0;
		return ipk__err(-EINVAL, "address '%s': option '%s' is given twice "
		                "with different values (%s%s and %s%s)", text,
		                o->key, p->val ? "=" : "", p->val ? p->val : "(none)",
		                o->val ? "=" : "", o->val ? o->val : "(none)");
	}
	return 0;
}

int ipk__url_parse(ipk__url *u, const char *text)
{
	memset(u, 0, sizeof *u);
	if (text == NULL || *text == '\0')
		return ipk__err(-EINVAL, "empty address");
	size_t n = strlen(text);
	/* one allocation holds the original text and a copy cut into pieces */
	u->buf = malloc(2 * n + 2);
	if (u->buf == NULL)
		return ipk__err(-ENOMEM, "out of memory");
	u->text = u->buf;
	memcpy(u->text, text, n + 1);
	char *p = u->buf + n + 1;
	memcpy(p, text, n + 1);

	char *colon = strchr(p, ':');
	if (colon == NULL || colon == p) {
		ipk__url_free(u);
		return ipk__err(-EINVAL,
		                "address '%s' has no scheme (expected scheme:path, "
		                "for example fifo:/tmp/jobs)", text);
	}
	*colon = '\0';
	for (char *s = p; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '+' && *s != '-' &&
		    *s != '.') {
			ipk__url_free(u);
			return ipk__err(-EINVAL,
			                "address '%s': malformed scheme", text);
		}
		*s = (char)tolower((unsigned char)*s);
	}
	u->scheme = p;
	char *rest = colon + 1;
	if (rest[0] == '/' && rest[1] == '/')
		rest += 2;
	char *q = strchr(rest, '?');
	if (q != NULL) {
		*q++ = '\0';
		while (q != NULL && *q) {
			char *amp = strchr(q, '&');
			if (amp)
				*amp++ = '\0';
			if (*q) {
				if (u->nopts == IPK__MAX_OPTS) {
					ipk__url_free(u);
					return ipk__err(-EINVAL,
					                "address '%s': more than %d options",
					                text, IPK__MAX_OPTS);
				}
				struct ipk__opt *o = &u->opts[u->nopts++];
				o->key = q;
				char *eq = strchr(q, '=');
				if (eq) {
					*eq = '\0';
					o->val = eq + 1;
				}
				if (*o->key == '\0') {
					ipk__url_free(u);
					return ipk__err(-EINVAL,
					                "address '%s': option without a name",
					                text);
				}
				int rc = repeated(u, text);
				if (rc < 0) {
					ipk__url_free(u);
					return rc;
				}
			}
			q = amp;
		}
	}
	u->rest = rest;
	/* a name may hold any byte: %XX stands for it (tcp: keeps its own
	   syntax, e.g. an IPv6 zone "%eth0") */
	if (strcmp(u->scheme, "tcp") != 0 && ipk__url_unescape(rest) < 0) {
		ipk__url_free(u);
		return ipk__err(-EINVAL, "address '%s': %%00 cannot be part of a "
		                "name", text);
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int ipk__url_unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval((unsigned char)r[1])) >= 0 &&
		    (lo = hexval((unsigned char)r[2])) >= 0) {
			if (hi == 0 && lo == 0)
				return -EINVAL;
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return 0;
}

int ipk__url_escape(char *out, size_t cap, const char *prefix,
                    const char *name, const char *suffix)
{
	size_t n = strlen(prefix);
	int over = n >= cap;
	for (const char *r = name; *r && !over; r++) {
		bool esc = *r == '?' || *r == '%' || *r == '#';
		if (n + (esc ? 3 : 1) >= cap)
			over = 1;
		else if (esc)
			n += (size_t)snprintf(out + n, 4, "%%%02X", (unsigned char)*r);
		else
			out[n++] = *r;
	}
	if (!over && n + strlen(suffix) < cap) {
		memcpy(out, prefix, strlen(prefix));
		strcpy(out + n, suffix);
		return 0;
	}
	/* cut short it would name another object: name none ("%00" never
	   parses) */
	snprintf(out, cap, "%s%%00(name too long)", prefix);
	return -ENAMETOOLONG;
}


void ipk__url_free(ipk__url *u)
{
	free(u->buf);
	memset(u, 0, sizeof *u);
}

int ipk__url_hostport(ipk__url *u)
{
	char *r = u->rest;
	char *portsep;
	if (r[0] == '[') {
		char *close = strchr(r, ']');
		if (close == NULL)
			return ipk__err(-EINVAL, "address '%s': missing ']' after IPv6 host",
			                u->text);
		*close = '\0';
		u->host = r + 1;
		portsep = close + 1;
		if (*portsep != ':')
			return ipk__err(-EINVAL, "address '%s': missing ':PORT'", u->text);
	} else {
		portsep = strrchr(r, ':');
		if (portsep == NULL)
			return ipk__err(-EINVAL, "address '%s': missing ':PORT'", u->text);
		u->host = r;
	}
	*portsep = '\0';
	u->port = portsep + 1;
	if (*u->host == '\0')
		return ipk__err(-EINVAL, "address '%s': missing host", u->text);
	char *end;
	errno = 0;
	long port = strtol(u->port, &end, 10);
	if (*u->port == '\0' || *end != '\0' || port < 0 || port > 65535)
		return ipk__err(-EINVAL, "address '%s': bad port '%s' (0-65535)",
		                u->text, u->port);
	return 0;
}

struct ipk__opt *ipk__opt_find(ipk__url *u, const char *key)
{
	for (int i = 0; i < u->nopts; i++)
		if (strcmp(u->opts[i].key, key) == 0) {
			u->opts[i].used = true;
			return &u->opts[i];
		}
	return NULL;
}

int ipk__opt_flag(ipk__url *u, const char *key, bool *out)
{
	struct ipk__opt *o = ipk__opt_find(u, key);
	if (o == NULL)
		return 0;
	if (o->val == NULL || !strcmp(o->val, "1") || !strcmp(o->val, "true") ||
	    !strcmp(o->val, "yes") || !strcmp(o->val, "on"))
		*out = true;
	else if (!strcmp(o->val, "0") || !strcmp(o->val, "false") ||
	         !strcmp(o->val, "no") || !strcmp(o->val, "off"))
		*out = false;
	else
		return ipk__err(-EINVAL, "address '%s': option %s=%s is not a boolean",
		                u->text, key, o->val);
	return 1;
}

int ipk__parse_size(const char *s, size_t *out)
{
	if (s == NULL || !isdigit((unsigned char)*s))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (shift && (*end == 'i' || *end == 'I') && (end[1] == 'B' || end[1] == 'b'))
		end += 2;
	else if (shift && (*end == 'B' || *end == 'b'))
		end++;
	if (*end != '\0' || v > (SIZE_MAX >> shift))
		return -EINVAL;
	*out = (size_t)(v << shift);
	return 0;
}

int ipk__opt_size(ipk__url *u, const char *key, size_t *out)
{
	struct ipk__opt *o = ipk__opt_find(u, key);
	if (o == NULL)
		return 0;
	if (ipk__parse_size(o->val, out) < 0)
		return ipk__err(-EINVAL,
		                "address '%s': option %s needs a size like 4096, 64K, 16M",
		                u->text, key);
	return 1;
}

int ipk__opt_long(ipk__url *u, const char *key, long min, long max, long *out)
{
	struct ipk__opt *o = ipk__opt_find(u, key);
	if (o == NULL)
		return 0;
	char *end;
	errno = 0;
	long v = o->val ? strtol(o->val, &end, 0) : 0;
	if (o->val == NULL || *o->val == '\0' || *end != '\0' || errno ||
	    v < min || v > max)
		return ipk__err(-EINVAL,
		                "address '%s': option %s needs an integer in %ld..%ld",
		                u->text, key, min, max);
	*out = v;
	return 1;
}

int ipk__opt_mode(ipk__url *u, const char *key, unsigned *out)
{
	struct ipk__opt *o = ipk__opt_find(u, key);
	if (o == NULL)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = o->val ? strtoul(o->val, &end, 8) : 0;
	if (o->val == NULL || *o->val == '\0' || *end != '\0' || errno ||
	    v > 0777)
		return ipk__err(-EINVAL,
		                "address '%s': option %s needs octal permissions like 0660",
		                u->text, key);
	*out = (unsigned)v;
	return 1;
}

int ipk__opt_str(ipk__url *u, const char *key, const char **out)
{
	struct ipk__opt *o = ipk__opt_find(u, key);
	if (o == NULL)
		return 0;
	if (o->val == NULL || *o->val == '\0')
		return ipk__err(-EINVAL, "address '%s': option %s needs a value",
		                u->text, key);
	*out = o->val;
	return 1;
}
