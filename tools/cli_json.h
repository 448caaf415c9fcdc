/* JSON output for the commands' --json: strings, UTF-8 checks, base64. */
#ifndef IPK_CLI_JSON_H
#define IPK_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Is p[0..n) well-formed UTF-8 (no overlong forms, surrogates or code
   points past U+10FFFF)? */
bool cli_utf8_valid(const void *p, size_t n);

/* Write p[0..n) as a JSON string, quotes included. Bytes that are not
   well-formed UTF-8 should not be passed (use cli_json_base64). */
void cli_json_str(FILE *o, const void *p, size_t n);

/* A NUL-terminated string, or null for NULL. */
void cli_json_cstr(FILE *o, const char *s);

/* Write p[0..n) base64-encoded (RFC 4648, with padding) as a JSON string. */
void cli_json_base64(FILE *o, const void *p, size_t n);

#endif
