/* What ls, gc and rm share: options that pick objects, and printing them. */
#ifndef IPK_CLI_OBJECTS_H
#define IPK_CLI_OBJECTS_H

#include "ipckit.h"

#include <stdbool.h>
#include <stdio.h>

/* Options of ls and gc that choose what to look at. */
struct obj_select {
	const char *kind;
	const char *user; /* as given */
	bool has_uid;
	uid_t uid;
	pid_t ns_pid;     /* enter this process's namespaces first, or 0 */
	const char *paths[33];
	int npaths;
};

/* Handle one of --kind/--user/--ns/--path (ch 'k', 'u', 'n', 'p'); returns
   0, or 2 after a usage message. */
int obj_select_opt(struct obj_select *s, const char *cmd, int ch,
                   const char *arg);
/* Enter the namespaces and open the scan; 0, or 1 after a message. */
int obj_select_open(struct obj_select *s, const char *cmd, ipk_objscan **out);
/* Does o pass the --user filter? */
bool obj_select_match(const struct obj_select *s, const ipk_object *o);

/* "alice", or the number if the uid has no name. */
const char *obj_owner(uid_t uid, char *buf, size_t cap);
/* "1234 alive", "1234 gone", "1234 ?" or "-". */
const char *obj_pid(const ipk_objpid *p, char *buf, size_t cap);
/* A JSON string literal for s (bytes that are not UTF-8: U+FFFD). */
void obj_json_str(FILE *f, const char *s);

/*
 * Names come from other users: printed for a person they are escaped as
 * bash's $'...' quoting reads them back: \\ \n \t \r, and \xHH for every
 * other control byte, every byte that is not part of well-formed UTF-8,
 * every character that is not printable or that reorders or breaks the
 * line (bidi controls, U+2028/9), and every byte past ASCII when the
 * locale's character set is not UTF-8. Writes the display form of s into
 * buf (truncated at a whole escape) and returns buf; *cols (if not NULL)
 * gets its width in terminal columns. obj_text_init() reads the locale
 * once (LC_CTYPE from the environment).
 */
void obj_text_init(void);
const char *obj_text(const char *s, char *buf, size_t cap, size_t *cols);
/* fputs(obj_text(s)) */
void obj_text_put(FILE *f, const char *s);

#endif
