/* ipckit: entry point and command table. */
#define _GNU_SOURCE
#include "cli.h"

#include <ipckit.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct ipk_cmd cli_cmd_send, cli_cmd_recv, cli_cmd_relay,
	cli_cmd_demo, cli_cmd_ls, cli_cmd_gc;
extern const struct ipk_cmd cli_cmd_rm;
extern const struct ipk_cmd cli_cmd_bench;
extern const struct ipk_cmd cli_cmd_sem, cli_cmd_lock;
extern const struct ipk_cmd cli_cmd_req, cli_cmd_rep, cli_cmd_push,
	cli_cmd_pull;
extern const struct ipk_cmd cli_cmd_pub, cli_cmd_sub;

static const struct ipk_cmd *const commands[] = {
	&cli_cmd_send,
	&cli_cmd_recv,
	&cli_cmd_relay,
	&cli_cmd_req,
	&cli_cmd_rep,
	&cli_cmd_push,
	&cli_cmd_pull,
	&cli_cmd_pub,
	&cli_cmd_sub,
	&cli_cmd_demo,
	&cli_cmd_ls,
	&cli_cmd_gc,
	&cli_cmd_rm,
	&cli_cmd_bench,
	&cli_cmd_sem,
	&cli_cmd_lock,
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

const char *cli_command = "ipckit";

/* Addresses a command extended on its own (?proto=req, ?resend=...): an
   error names the address the user typed, not the one passed on. Copies:
   the command may free its strings before it reports. */
static struct {
	char *inner, *given;
} aliases[4];

void cli_alias_url(const char *inner, const char *given)
{
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (aliases[i].inner == NULL || strcmp(aliases[i].inner, inner) == 0) {
			char *in = strdup(inner), *gv = strdup(given);
			if (in == NULL || gv == NULL) {
				free(in);
				free(gv);
				return; /* only the message is less exact */
			}
			free(aliases[i].inner);
			free(aliases[i].given);
			aliases[i].inner = in;
			aliases[i].given = gv;
			return;
		}
}

/* Print text with every aliased address written as the user gave it; the
   longest match first, so a longer inner address is not half replaced. */
static void put_unaliased(const char *text)
{
	while (*text != '\0') {
		size_t best = 0, blen = 0;
		for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
			const char *in = aliases[i].inner;
			size_t n = in ? strlen(in) : 0;
			if (n > blen && strncmp(text, in, n) == 0) {
				best = i;
				blen = n;
			}
		}
		if (blen > 0) {
			const char *given = aliases[best].given;
			fputs(given, stderr);
			text += blen;
			/* the library's own options follow: "?" if they now
			   come first */
			if (*text == '&' && strchr(given, '?') == NULL) {
				fputc('?', stderr);
				text++;
			}
		} else {
			fputc(*text++, stderr);
		}
	}
}

int cli_fail(const char *cmd, const char *url, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	/* one line: "ipckit: COMMAND URL: reason" */
	fprintf(stderr, "ipckit: %s", cmd);
	if (url) {
		fputc(' ', stderr);
		put_unaliased(url);
	}
	fputs(": ", stderr);
	put_unaliased(n < 0 ? fmt : text);
	fputc('\n', stderr);
	free(text);
	return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "ipckit: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'ipckit help %s')\n", cmd);
	return 2;
}

bool cli_parse_int(const char *s, long min, long max, long *out)
{
	if (s == NULL || *s == '\0')
		return false;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (*end != '\0' || errno || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void print_warning(const char *message, void *cmd)
{
	fprintf(stderr, "ipckit: %s: warning: %s\n", (const char *)cmd, message);
}

static const struct ipk_cmd *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void overview(FILE *out)
{
	fprintf(out,
	        "usage: ipckit COMMAND [ARGS...]\n"
	        "       ipckit help COMMAND | --help | --version\n\n"
	        "One tool for every Linux IPC mechanism.\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-7s %-28s %s\n", commands[i]->name, commands[i]->args,
		        commands[i]->summary);
	fprintf(out, "\naddresses:\n");
	for (const char *const *s = ipk_schemes(); *s; s++)
		fprintf(out, "  %-9s %s%s\n", *s, ipk_scheme_summary(*s),
		        ipk_scheme_built(*s) ? "" : " [not built]");
	fprintf(out,
	        "\nsynchronisation objects (ipckit sem, ipckit rm):\n"
	        "  sem:/name          POSIX named semaphore\n"
	        "  sysvsem:0xKEY      System V semaphore set (or sysvsem:/path?proj=N&n=K)\n"
	        "  mutex: cond: rwlock:/name  robust locks in shared memory\n");
	fprintf(out, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

/*
 * Output that could not be written is a failure (a full disk, /dev/full):
 * the status says so, with one line on stderr, unless the command already
 * failed. A reader that went away (EPIPE) is not worth a message.
 */
static int finish_stdout(const char *cmd, int status)
{
	bool bad = fflush(stdout) != 0 || ferror(stdout);
	int e = errno;
	if (fclose(stdout) != 0 && !bad) {
		bad = true;
		e = errno;
	}
	if (!bad || status != 0 || e == EPIPE)
		return status;
	fprintf(stderr, "ipckit: %s: writing to stdout: %s\n", cmd, strerror(e));
	return 1;
}

static const char help_help[] =
	"usage: ipckit help [COMMAND]\n\n"
	"Without COMMAND: the commands, the address schemes and what each is.\n"
	"With COMMAND: its options, exit statuses and examples (the same as\n"
	"'ipckit COMMAND --help').\n\n"
	"exit status: 0, or 2 for an unknown command.\n";

static int help(int argc, char **argv)
{
	if (argc < 3) {
		overview(stdout);
		return 0;
	}
	if (argc > 3) {
		fprintf(stderr, "ipckit: help: one command at a time (see 'ipckit "
		                "help help')\n");
		return 2;
	}
	if (!strcmp(argv[2], "help")) {
		fputs(help_help, stdout);
		return 0;
	}
	const struct ipk_cmd *c = find(argv[2]);
	if (c == NULL) {
		fprintf(stderr, "ipckit: help: unknown command '%s' (see 'ipckit "
		                "--help')\n", argv[2]);
		return 2;
	}
	printf("usage: ipckit %s %s\n\n%s\n\n%s", c->name, c->args, c->summary,
	       c->help);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		overview(stderr);
		return 2;
	}
	const char *a = argv[1];
	if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
		overview(stdout);
		return finish_stdout("--help", 0);
	}
	if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
		printf("ipckit %s\n", ipk_version());
		return finish_stdout("--version", 0);
	}
	if (!strcmp(a, "help"))
		return finish_stdout("help", help(argc, argv));
	const struct ipk_cmd *c = find(a);
	if (c == NULL) {
		fprintf(stderr, "ipckit: unknown command '%s' (see 'ipckit --help')\n",
		        a);
		return 2;
	}
	/* what the library drops on our behalf (a peer that spoke the wrong
	   protocol, a refused user) is said on stderr */
	ipk_set_warn_handler(print_warning, (void *)c->name);
	cli_command = c->name;
	return finish_stdout(c->name, c->run(argc - 1, argv + 1));
}
