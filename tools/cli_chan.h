/*
 * What the channel commands (send, recv, relay) share: Ctrl-C handling,
 * waits cut into short slices so a signal ends them promptly, opening an
 * endpoint by role, option and address helpers.
 */
#ifndef IPK_CLI_CHAN_H
#define IPK_CLI_CHAN_H

#include "cli.h"

#include <ipckit.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Signal number that asked us to stop (SIGINT, SIGTERM, SIGHUP), or 0. */
extern volatile sig_atomic_t cli_stopped;

/* --quiet: no notice that a command is waiting for an endpoint. */
extern bool cli_quiet;

/* Catch SIGINT/SIGTERM/SIGHUP into cli_stopped (no SA_RESTART, so a read
   of stdin returns EINTR). A signal the command was started with ignored
   (nohup, a background job of a script) stays ignored. */
void cli_catch_signals(void);
/* Call after cleaning up: if a signal stopped us, die of it so the parent
   sees the usual status (130 for Ctrl-C); else return status. */
int cli_exit(int status);

/* What the helpers below return when a signal asked us to stop. */
#define CLI_STOPPED (-ECANCELED)

/*
 * The library's calls with timeout_ms (-1 forever, 0 once, >0 total), cut
 * into slices so that cli_stopped is checked often. Failures other than the
 * timeout leave their message in ipk_last_error(). On timeout they return
 * -ETIMEDOUT (or -EAGAIN for 0).
 */
int cli_dial(ipk_chan **out, const char *url, int timeout_ms);
int cli_accept(ipk_chan *listener, ipk_chan **out, int timeout_ms);
ssize_t cli_recv(ipk_chan *c, void **buf, ipk_msginfo *info, int timeout_ms);
ssize_t cli_send(ipk_chan *c, const void *buf, size_t len,
                 const ipk_msginfo *info, int timeout_ms);

/*
 * What the CLI knows of a scheme before opening anything, so that commands
 * can refuse what cannot work before they act.
 */
enum { CLI_RECV = 1, CLI_SEND = 2 };
struct cli_kind {
	const char *scheme;      /* "fifo" */
	unsigned listen_caps;    /* CLI_RECV|CLI_SEND of a listener's channel */
	unsigned dial_caps;      /* ... of a dialer's */
	bool connections;        /* the listener accepts connections (unix, tcp) */
	bool conversation;       /* a send reaches a peer (unix, tcp, unixgram),
	                            not the object the channel also reads */
	bool queue;              /* sysvmq:, mq: (outlive their creator) */
	bool ring;               /* shm:, sysvshm:, mmap: */
	bool has_type;           /* sysvmq: message types (--type) */
	bool has_prio;           /* mq: priorities (--prio) */
	const char *listener_does; /* "receives" for one-way listeners */
};
/* The kind of url's scheme, or NULL (unknown: the library will say so). */
const struct cli_kind *cli_kind_of(const char *url);
/* A usage error (exit 2) for an address that cannot be opened at all
   (pipe: has no name), else 0. */
int cli_check_addressable(const char *cmd, const char *url);
/* Does the address carry the option (?key or ?key=value, not =0/no/off)? */
bool cli_url_flag(const char *url, const char *key);

/* One end of a command: an address and the role it is opened in. */
struct cli_end {
	const char *url;
	bool listen;        /* create the endpoint instead of dialing it */
	bool or_attach;     /* listen, but attach if the object already exists */
	ipk_chan *listener; /* unix:/tcp: listener we accept on, else NULL */
	ipk_chan *chan;     /* the channel messages go over, NULL until ready */
};

/*
 * Listen or dial. A listener of a connection mechanism (unix:, tcp:) needs
 * cli_end_connect() before e->chan is set; every other listener is itself
 * the channel. With print_address, the bound address (with the port the
 * kernel chose) goes to stderr on a line of its own.
 */
int cli_end_open(struct cli_end *e, int timeout_ms, bool print_address);
/* Accept a connection if e has a listener and no channel yet. */
int cli_end_connect(struct cli_end *e, int timeout_ms);
/* The peer left: drop the connection. True if another can be accepted. */
bool cli_end_drop(struct cli_end *e);
void cli_end_close(struct cli_end *e);

/* Text for a failure from the helpers: the library's message, or ours. */
const char *cli_why(int err);

/*
 * After a helper above timed out: the library's own account of the wait
 * (which queue was full and how full, what was missing), or NULL when the
 * last library call left no message of its own.
 */
const char *cli_timeout_detail(void);

/* Does the address ask for a plain byte stream (?raw)? */
bool cli_url_raw(const char *url);

/* Parse a timeout in ms: -1 or more. */
bool cli_parse_timeout(const char *s, int *out);

/* Report what getopt_long (optstring starting with ':') returned for a bad
   option: ch is '?' (unknown) or ':' (missing argument). Returns 2. */
int cli_bad_option(const char *cmd, char **argv, int ch);

/* Print the command's full help to stdout (for CMD --help); returns 0. */
int cli_help(const struct ipk_cmd *cmd);

/* fwrite all of buf to out; false on error (errno set). */
bool cli_write(FILE *out, const void *buf, size_t len);

#endif
