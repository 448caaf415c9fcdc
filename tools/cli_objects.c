/* Choosing and printing inventory objects for ls and gc. */
#define _GNU_SOURCE
#include "cli_objects.h"
#include "cli.h"

#include <langinfo.h>
#include <locale.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

int obj_select_opt(struct obj_select *s, const char *cmd, int ch,
                   const char *arg)
{
	long v;
	switch (ch) {
	case 'k':
		s->kind = arg;
		return 0;
	case 'u': {
		s->user = arg;
		struct passwd *pw = getpwnam(arg);
		if (pw) {
			s->uid = pw->pw_uid;
		} else if (cli_parse_int(arg, 0, 0x7fffffff, &v)) {
			s->uid = (uid_t)v;
		} else {
			return cli_usage(cmd, "no user '%s'", arg);
		}
		s->has_uid = true;
		return 0;
	}
	case 'n':
		if (!cli_parse_int(arg, 1, 0x7fffffff, &v))
			return cli_usage(cmd, "--ns takes a process id, not '%s'", arg);
		s->ns_pid = (pid_t)v;
		return 0;
	case 'p':
		if (s->npaths >= 32)
			return cli_usage(cmd, "at most 32 --path options");
		s->paths[s->npaths++] = arg;
		return 0;
	}
	return 2;
}

int obj_select_open(struct obj_select *s, const char *cmd, ipk_objscan **out)
{
	if (s->ns_pid && ipk_objects_setns(s->ns_pid) < 0)
		return cli_fail(cmd, NULL, "%s", ipk_last_error());
	ipk_objscan_opts o = {.kind = s->kind, .paths = s->npaths ? s->paths : NULL};
	if (ipk_objects_open(out, &o) < 0) {
		if (s->kind && strstr(ipk_last_error(), "unknown kind"))
			return cli_usage(cmd, "%s", ipk_last_error());
		return cli_fail(cmd, NULL, "%s", ipk_last_error());
	}
	return 0;
}

bool obj_select_match(const struct obj_select *s, const ipk_object *o)
{
	return !s->has_uid || o->uid == s->uid;
}

const char *obj_owner(uid_t uid, char *buf, size_t cap)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(buf, cap, "%s", pw->pw_name);
	else
		snprintf(buf, cap, "%u", (unsigned)uid);
	return buf;
}

const char *obj_pid(const ipk_objpid *p, char *buf, size_t cap)
{
	if (p->state == IPK_PID_NONE || p->pid <= 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%d %s", (int)p->pid,
		         p->state == IPK_PID_ALIVE  ? "alive"
		         : p->state == IPK_PID_DEAD ? "gone"
		                                    : "?");
	return buf;
}

void obj_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
		} else if (*p < 0x80) {
			fputc(*p, f);
		} else {
			/* names are bytes: pass valid UTF-8, replace the rest */
			int n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
			        : (*p & 0xf8) == 0xf0 ? 3 : -1;
			for (int i = 1; n > 0 && i <= n; i++)
				if ((p[i] & 0xc0) != 0x80)
					n = -1;
			if (n < 0 || *p < 0xc2 || *p > 0xf4) {
				fputs("\\ufffd", f);
			} else {
				fwrite(p, 1, (size_t)n + 1, f);
				p += n;
			}
		}
	}
	fputc('"', f);
}

static int text_utf8 = -1; /* the locale's character set is UTF-8 */

void obj_text_init(void)
{
	if (text_utf8 >= 0)
		return;
	setlocale(LC_CTYPE, "");
	text_utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
}

/* Length of the well-formed UTF-8 character at p (1-4) with its code point
   in *cp, or 0. */
static size_t utf8_char(const unsigned char *p, uint32_t *cp)
{
	size_t len;
	uint32_t c = p[0], min;
	if ((c & 0xe0) == 0xc0)
		len = 2, c &= 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		len = 3, c &= 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		len = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0; /* also stops at the terminating NUL */
		c = c << 6 | (p[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Characters that rearrange or break what follows them on screen. */
static bool text_layout_control(uint32_t c)
{
	return (c >= 0x200e && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0x061c || c == 0xfeff;
}

const char *obj_text(const char *s, char *buf, size_t cap, size_t *cols)
{
	obj_text_init();
	size_t o = 0, w = 0;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	buf[0] = '\0';
	while (*p) {
		char esc[4 * 4 + 1];
		size_t n = 1, ew = 0;
		uint32_t cp = 0;
		const char *named = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n"
		                  : *p == '\t'  ? "\\t"
		                  : *p == '\r'  ? "\\r"
		                                 : NULL;
		if (named) {
			snprintf(esc, sizeof esc, "%s", named);
			ew = 2;
		} else if (*p >= 0x20 && *p < 0x7f) {
			esc[0] = (char)*p, esc[1] = '\0';
			ew = 1;
		} else if (*p >= 0x80 && text_utf8 && (n = utf8_char(p, &cp)) > 0 &&
		           iswprint((wint_t)cp) && !text_layout_control(cp) &&
		           wcwidth((wchar_t)cp) >= 0) {
			memcpy(esc, p, n);
			esc[n] = '\0';
			ew = (size_t)wcwidth((wchar_t)cp);
		} else {
			/* the character's bytes, or the one stray byte */
			if (n == 0)
				n = 1;
			for (size_t k = 0; k < n; k++)
				snprintf(esc + 4 * k, sizeof esc - 4 * k, "\\x%02x", p[k]);
			ew = 4 * n;
		}
		size_t el = strlen(esc);
		if (o + el >= cap)
			break;
		memcpy(buf + o, esc, el + 1);
		o += el;
		w += ew;
		p += n;
	}
	if (cols)
		*cols = w;
	return buf;
}

void obj_text_put(FILE *f, const char *s)
{
	char buf[2048];
	fputs(obj_text(s, buf, sizeof buf, NULL), f);
}
