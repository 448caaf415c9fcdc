/* JSON strings for --json output: see cli_json.h. */
#include "cli_json.h"

#include <stdint.h>

bool cli_utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

void cli_json_str(FILE *o, const void *p, size_t n)
{
	const unsigned char *s = p;
	putc('"', o);
	for (size_t i = 0; i < n; i++) {
		unsigned c = s[i];
		switch (c) {
		case '"': fputs("\\\"", o); break;
		case '\\': fputs("\\\\", o); break;
		case '\n': fputs("\\n", o); break;
		case '\r': fputs("\\r", o); break;
		case '\t': fputs("\\t", o); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(o, "\\u%04x", c);
			else
				putc((int)c, o);
		}
	}
	putc('"', o);
}

void cli_json_cstr(FILE *o, const char *s)
{
	size_t n = 0;
	if (s == NULL) {
		fputs("null", o);
		return;
	}
	while (s[n])
		n++;
	cli_json_str(o, s, n);
}

void cli_json_base64(FILE *o, const void *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;
	putc('"', o);
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		putc(tab[v >> 18], o);
		putc(tab[v >> 12 & 63], o);
		putc(tab[v >> 6 & 63], o);
		putc(tab[v & 63], o);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		putc(tab[v >> 18], o);
		putc(tab[v >> 12 & 63], o);
		fputs("==", o);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		putc(tab[v >> 18], o);
		putc(tab[v >> 12 & 63], o);
		putc(tab[v >> 6 & 63], o);
		putc('=', o);
	}
	putc('"', o);
}
