/* Choosing and printing inventory objects for ls and gc. */
#define _GNU_SOURCE
#include "cli_objects.h"
#include "cli.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>

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
