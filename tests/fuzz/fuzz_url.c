/*
 * The address parser and every option accessor, fed any text.
 *
 * Input: the address up to the first NUL; then option names to look up,
 * each ended by a NUL, with one byte before each that picks the bounds of
 * the integer accessor. The names every transport asks for are looked up
 * too. Checks what callers rely on: a parsed address is well formed, every
 * accessor answers 1, 0 or a negative errno, and what it hands back is in
 * range.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "core/internal.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>

static const char *const known[] = {
	"maxmsg", "mode", "persist", "linger", "raw", "proj", "size", "mpmc",
	"msgsize", "sig", "block", "spin", "type", "prio", "create", NULL,
};

static const long bounds[][2] = {
	{0, 0}, {1, 255}, {-1, INT32_MAX}, {LONG_MIN, LONG_MAX}, {-5, 5},
	{0, 65535}, {1, 1}, {LONG_MIN, 0},
};

static void check_size(const char *s)
{
	size_t v = 12345;
	int rc = ipk__parse_size(s, &v);
	FZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0)
		FZ_CHECK(v == 12345); /* nothing written on failure */
	else
		FZ_CHECK(s != NULL && isdigit((unsigned char)s[0]));
}

static void lookup(ipk__url *u, const char *key, uint8_t pick)
{
	bool b = false;
	int rc = ipk__opt_flag(u, key, &b);
	FZ_CHECK(rc == 0 || rc == 1 || rc == -EINVAL);

	size_t sz = 0;
	rc = ipk__opt_size(u, key, &sz);
	FZ_CHECK(rc == 0 || rc == 1 || rc == -EINVAL);

	const long *bd = bounds[pick % IPK__ARRAY_LEN(bounds)];
	long l = bd[0];
	rc = ipk__opt_long(u, key, bd[0], bd[1], &l);
	FZ_CHECK(rc == 0 || rc == 1 || rc == -EINVAL);
	if (rc == 1)
		FZ_CHECK(l >= bd[0] && l <= bd[1]);

	unsigned mode = 0;
	rc = ipk__opt_mode(u, key, &mode);
	FZ_CHECK(rc == 0 || rc == 1 || rc == -EINVAL);
	if (rc == 1)
		FZ_CHECK(mode <= 0777);

	const char *s = NULL;
	rc = ipk__opt_str(u, key, &s);
	FZ_CHECK(rc == 0 || rc == 1 || rc == -EINVAL);
	if (rc == 1) {
		FZ_CHECK(s != NULL && *s != '\0');
		check_size(s);
	}
	/* whatever an accessor said, the message it left is a string */
	FZ_CHECK(strlen(ipk_last_error()) < 512);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the address is a C string: it ends at the first NUL */
	size_t tlen = 0;
	while (tlen < size && data[tlen] != 0)
		tlen++;
	char *text = malloc(tlen + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, tlen);
	text[tlen] = '\0';
	check_size(text);

	ipk__url u;
	int rc = ipk__url_parse(&u, text);
	FZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		FZ_CHECK(u.buf == NULL);
		free(text);
		return 0;
	}
	FZ_CHECK(strcmp(u.text, text) == 0);
	FZ_CHECK(u.scheme != NULL && *u.scheme != '\0' && u.rest != NULL);
	for (const char *p = u.scheme; *p; p++)
		FZ_CHECK(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		         *p == '+' || *p == '-' || *p == '.');
	/* a '?' in the name only from %3F; %XX makes the name shorter */
	FZ_CHECK(strchr(u.rest, '?') == NULL || strcasestr(text, "%3F") != NULL);
	FZ_CHECK(strlen(u.rest) <= tlen);
	FZ_CHECK(u.nopts >= 0 && u.nopts <= IPK__MAX_OPTS);
	for (int i = 0; i < u.nopts; i++) {
		FZ_CHECK(u.opts[i].key != NULL && *u.opts[i].key != '\0');
		FZ_CHECK(strchr(u.opts[i].key, '&') == NULL &&
		         strchr(u.opts[i].key, '=') == NULL);
		check_size(u.opts[i].val);
	}

	for (size_t i = tlen + 1; i < size;) {
		uint8_t pick = data[i++];
		size_t k = i;
		while (k < size && data[k] != 0)
			k++;
		char *key = malloc(k - i + 1);
		if (key == NULL)
			break;
		memcpy(key, data + i, k - i);
		key[k - i] = '\0';
		lookup(&u, key, pick);
		free(key);
		i = k + 1;
	}
	for (const char *const *k = known; *k; k++)
		lookup(&u, *k, (uint8_t)(k - known));
	for (int i = 0; i < u.nopts; i++)
		lookup(&u, u.opts[i].key, (uint8_t)i);

	/* host:port last: it cuts rest in place, as tcp: does */
	rc = ipk__url_hostport(&u);
	FZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		FZ_CHECK(u.host != NULL && *u.host != '\0' && u.port != NULL);
		char *end;
		long port = strtol(u.port, &end, 10);
		FZ_CHECK(*u.port != '\0' && *end == '\0' && port >= 0 &&
		         port <= 65535);
	}
	ipk__url_free(&u);
	FZ_CHECK(u.buf == NULL && u.nopts == 0);
	free(text);
	return 0;
}
