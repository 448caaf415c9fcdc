/*
 * make chaos: kill -9 at random moments, on every mechanism, through the
 * public API only.
 *
 * Per mechanism: one receiver (the listener) and a few senders run as
 * processes; the driver kills a sender, or now and then the receiver, at a
 * random moment, KILLS times, starting a new one in its place each time.
 * Every message says who sent it, its number and its length, and its body
 * follows from those (some bodies are mostly zeros, the hardest case for a
 * reader that lost its place), so the receiver tells a whole message from a
 * corrupt one. Then:
 *   - no corrupt message was ever delivered as a success;
 *   - the survivors keep working: with the killing over, a fresh sender's
 *     SURVIVORS messages all reach the last receiver;
 *   - nothing leaks: once everyone has closed, no object of the run is left
 *     (checked by name, or exactly when run in private IPC and /dev/shm
 *     namespaces, as tests/chaos/run.sh does where it can).
 * The patterns get the same treatment where a process that goes is the
 * everyday case: a REP server runs while its REQ clients are killed at
 * random moments (each client checks that every reply is its own request,
 * whole), and a publisher runs while its subscribers are (each checks
 * every message, and that the numbers it gets follow on from each other
 * but for what it was told it missed). Then a fresh client's requests all
 * come back, or a fresh subscriber gets every message published after it
 * joined; and once the server or publisher has closed, nothing of the
 * run is left: no reply mailbox of a killed client, no broadcast ring.
 * Prints kills, messages and corrupt deliveries per mechanism; exits 1 if
 * any check failed.
 *
 *   ipk_chaos [--kills N] [--only NAME[,NAME...]] [--seed N] [--private]
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#define HDR 16
#define MAGIC 0x43484153u /* "CHAS" */
#define SURVIVOR 0xFFFFFFFFu
#define SURVIVORS 50
#define MAX_SENDERS 3

/* What runs: a receiver and senders (killed: both), a REP server and
   REQ clients (killed: the clients), a publisher and subscribers (killed:
   the subscribers). */
enum shape { PIPE, REQREP, PUBSUB };

struct mech {
	const char *name;
	enum shape shape;
	char listen[300];
	char dial[300];
	bool conn;        /* has connections: the receiver accepts */
	int senders;      /* at once (1 for a single-producer ring) */
	size_t maxsz;     /* largest message sent */
	char leak_name[300]; /* what must be gone afterwards (file or name) */
	unsigned key;     /* System V key that must be gone, 0: none */
	const char *key_file; /* /proc/sysvipc file for the key */
};

struct shared {
	_Atomic long delivered, corrupt, reported, rx_errors, sent;
	_Atomic long survivor_got;
	_Atomic long lost;          /* subscribers: numbers skipped unannounced */
	_Atomic long stalls;        /* publisher: sends that timed out */
	_Atomic int survivor_ready; /* the fresh subscriber has joined */
	_Atomic uint32_t next_writer;
	_Atomic int stop_senders, stop_rx, rx_ready;
	_Atomic int corrupt_logged, error_logged;
	char first_corrupt[256];
	char first_error[512];
	char first_report[512];
	_Atomic int report_logged;
};

static struct shared *sh;
static const struct mech *cur;

/* ------------------------------------------------------------ messages */

static uint32_t mix(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void body(unsigned char *p, size_t len, uint32_t w, uint32_t s)
{
	uint32_t x = w * 2654435761u ^ s * 40503u ^ (uint32_t)len ^ 0x9e3779b9u;
	if (x == 0)
		x = 1;
	bool zeros = s % 4 == 0; /* a body of zeros but for a few bytes */
	for (size_t i = HDR; i < len; i++)
		p[i] = zeros && i % 97 ? 0 : (unsigned char)mix(&x);
}

static void make_msg(unsigned char *p, size_t len, uint32_t w, uint32_t s)
{
	uint32_t h[4] = {MAGIC, w, s, (uint32_t)len};
	memcpy(p, h, HDR);
	body(p, len, w, s);
}

/* 1 if the message is whole; its writer in *w. */
static int check_msg(const unsigned char *p, size_t len, uint32_t *w)
{
	if (len < HDR)
		return 0;
	uint32_t h[4];
	memcpy(h, p, HDR);
	*w = h[1];
	if (h[0] != MAGIC || h[3] != len)
		return 0;
	unsigned char *want = malloc(len);
	make_msg(want, len, h[1], h[2]);
	int ok = memcmp(want, p, len) == 0;
	free(want);
	return ok;
}

static void log_once(_Atomic int *flag, char *dst, size_t cap,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void log_once(_Atomic int *flag, char *dst, size_t cap,
                     const char *fmt, ...)
{
	int zero = 0;
	if (!atomic_compare_exchange_strong(flag, &zero, 1))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ receiver */

static void take(void *buf, ssize_t n)
{
	uint32_t w = 0;
	if (check_msg(buf, (size_t)n, &w)) {
		atomic_fetch_add(&sh->delivered, 1);
		if (w == SURVIVOR)
			atomic_fetch_add(&sh->survivor_got, 1);
		return;
	}
	atomic_fetch_add(&sh->corrupt, 1);
	uint32_t h[4] = {0};
	memcpy(h, buf, (size_t)n < HDR ? (size_t)n : HDR);
	log_once(&sh->corrupt_logged, sh->first_corrupt, sizeof sh->first_corrupt,
	         "%zd bytes delivered as a message; header says magic %08x "
	         "writer %u number %u length %u",
	         n, h[0], h[1], h[2], h[3]);
}

/* What a receive returned that is not a message: 1 to drop the channel. */
static int trouble(ssize_t n)
{
	if (n == -ETIMEDOUT || n == -EAGAIN)
		return 0;
	if (n == -EPROTO || n == -EMSGSIZE) {
		atomic_fetch_add(&sh->reported, 1);
		log_once(&sh->report_logged, sh->first_report,
		         sizeof sh->first_report, "%s", ipk_last_error());
		return cur->conn;
	}
	if (n == -EPIPE) {
		if (!cur->conn)
			usleep(1000); /* a mailbox with nobody attached: wait on */
		return 1;
	}
	atomic_fetch_add(&sh->rx_errors, 1);
	log_once(&sh->error_logged, sh->first_error, sizeof sh->first_error,
	         "receive: %s", ipk_last_error());
	usleep(1000);
	return 1;
}

/* Listen on cur->listen, retrying while a killed predecessor's object is
   in the way (the one killed before us is dead: its object is ours);
   says so in sh->rx_ready. */
static ipk_chan *listen_or_die(void)
{
	ipk_chan *l = NULL;
	int rc = -1;
	for (int i = 0; i < 500 && rc < 0; i++) {
		rc = ipk_listen(&l, cur->listen);
		if (rc < 0)
			usleep(10000);
	}
	if (rc < 0) {
		atomic_fetch_add(&sh->rx_errors, 1);
		log_once(&sh->error_logged, sh->first_error, sizeof sh->first_error,
		         "listen: %s", ipk_last_error());
		_exit(2);
	}
	atomic_store(&sh->rx_ready, 1);
	return l;
}

static void receiver(void)
{
	ipk_chan *l = listen_or_die();
	ipk_chan *conns[64];
	int nconn = 0;
	while (!atomic_load(&sh->stop_rx)) {
		if (!cur->conn) {
			void *buf = NULL;
			ssize_t n = ipk_recv_alloc(l, &buf, NULL, 50);
			if (n >= 0)
				take(buf, n);
			else
				trouble(n);
			free(buf);
			continue;
		}
		ipk_pollitem it[65];
		it[0] = (ipk_pollitem){.chan = l, .events = IPK_POLLIN};
		for (int i = 0; i < nconn; i++)
			it[i + 1] = (ipk_pollitem){.chan = conns[i], .events = IPK_POLLIN};
		if (ipk_poll(it, (size_t)nconn + 1, 50) <= 0)
			continue;
		if (it[0].revents && nconn < 64) {
			ipk_chan *c;
			if (ipk_accept(l, &c, 0) == 0)
				conns[nconn++] = c;
		}
		for (int i = nconn - 1; i >= 0; i--) {
			if (!it[i + 1].revents)
				continue;
			void *buf = NULL;
			ssize_t n = ipk_recv_alloc(conns[i], &buf, NULL, 0);
			int drop = n >= 0 ? (take(buf, n), 0) : trouble(n);
			free(buf);
			if (drop) {
				ipk_close(conns[i]);
				conns[i] = conns[--nconn];
			}
		}
	}
	for (int i = 0; i < nconn; i++)
		ipk_close(conns[i]);
	_exit(ipk_close(l) == 0 ? 0 : 3);
}

/* --------------------------------------------------------- REQ and REP */

/* The server: checks every request and sends it back as the reply. */
static void server(void)
{
	ipk_chan *l = listen_or_die();
	unsigned char *buf = malloc(cur->maxsz);
	while (!atomic_load(&sh->stop_rx)) {
		ipk_msginfo mi = {0};
		ssize_t n = ipk_recvmsg(l, buf, cur->maxsz, &mi, 50);
		if (n == -ETIMEDOUT || n == -EAGAIN)
			continue;
		if (n < 0) {
			atomic_fetch_add(&sh->rx_errors, 1);
			log_once(&sh->error_logged, sh->first_error,
			         sizeof sh->first_error, "server receive: %s",
			         ipk_last_error());
			usleep(1000);
			continue;
		}
		uint32_t w;
		if (!check_msg(buf, (size_t)n, &w)) {
			take(buf, n); /* counts and logs the corrupt one */
			continue;
		}
		atomic_fetch_add(&sh->delivered, 1);
		/* a client that died meanwhile is no error: it asks no more */
		(void)ipk_sendmsg(l, buf, (size_t)n, &mi, 1000);
	}
	free(buf);
	_exit(ipk_close(l) == 0 ? 0 : 3);
}

/* Whether a writer goes on: a survivor until it has written SURVIVORS
   messages, any other until the senders are stopped. */
static bool goes_on(bool survivor, uint32_t s)
{
	return survivor ? s < SURVIVORS : !atomic_load(&sh->stop_senders);
}

/* A channel dialed to cur->dial, or NULL after a short pause (dial
   again); a survivor that cannot dial for long gives up (exit 4). */
static ipk_chan *dial_or_pause(bool survivor, int64_t *give_up)
{
	ipk_chan *c = NULL;
	if (ipk_dial(&c, cur->dial, 1000) == 0)
		return c;
	usleep(2000);
	if (survivor && ++*give_up > 5000)
		_exit(4);
	return NULL;
}

/* The length of the next message: mostly small, now and then a large one. */
static size_t next_len(uint32_t *x)
{
	size_t len = HDR + mix(x) % 256;
	if (mix(x) % 4 == 0)
		len = HDR + mix(x) % (cur->maxsz - HDR + 1);
	return len;
}

/* A client: requests, each reply checked against the request. */
static void requester(bool survivor, unsigned seed)
{
	uint32_t w = survivor ? SURVIVOR : atomic_fetch_add(&sh->next_writer, 1);
	uint32_t x = seed * 7919u + w + 1;
	unsigned char *buf = malloc(cur->maxsz), *got = malloc(cur->maxsz);
	uint32_t s = 0;
	int64_t give_up = 0;
	while (goes_on(survivor, s)) {
		ipk_chan *c = dial_or_pause(survivor, &give_up);
		if (c == NULL)
			continue;
		while (goes_on(survivor, s)) {
			size_t len = next_len(&x);
			make_msg(buf, len, w, s);
			if (ipk_send(c, buf, len, 1000) != (ssize_t)len)
				break;
			ssize_t n = ipk_recv(c, got, cur->maxsz, 5000);
			if (n < 0)
				break; /* dial again (the request is abandoned) */
			if ((size_t)n != len || memcmp(got, buf, len) != 0) {
				atomic_fetch_add(&sh->corrupt, 1);
				uint32_t h[4] = {0};
				memcpy(h, got, (size_t)n < HDR ? (size_t)n : HDR);
				log_once(&sh->corrupt_logged, sh->first_corrupt,
				         sizeof sh->first_corrupt,
				         "client %u request %u (%zu bytes): a reply of %zd "
				         "bytes from writer %u number %u",
				         w, s, len, n, h[1], h[2]);
				break;
			}
			s++;
			atomic_fetch_add(&sh->sent, 1);
			if (survivor)
				atomic_fetch_add(&sh->survivor_got, 1);
		}
		ipk_close(c);
	}
	free(buf);
	free(got);
	_exit(0);
}

/* ----------------------------------------------------- PUB and SUB */

#define PUBLISHER 1u

/* The publisher: numbered messages as fast as they go; once the fresh
   subscriber has joined, SURVIVORS messages of its own. */
static void publisher(void)
{
	ipk_chan *l = listen_or_die();
	unsigned char *buf = malloc(cur->maxsz);
	uint32_t x = 12345, s = 0, v = 0;
	while (!atomic_load(&sh->stop_rx)) {
		bool last = atomic_load(&sh->survivor_ready) && v < SURVIVORS;
		if (atomic_load(&sh->survivor_ready) && v >= SURVIVORS) {
			usleep(1000);
			continue;
		}
		size_t len = HDR + mix(&x) % 256;
		if (mix(&x) % 4 == 0)
			len = HDR + mix(&x) % (cur->maxsz - HDR + 1);
		make_msg(buf, len, last ? SURVIVOR : PUBLISHER, last ? v : s);
		ssize_t n = ipk_send(l, buf, len, 1000);
		if (n == (ssize_t)len) {
			atomic_fetch_add(&sh->sent, 1);
			if (last)
				v++;
			else
				s++;
		} else if (n == -ETIMEDOUT || n == -EAGAIN) {
			atomic_fetch_add(&sh->stalls, 1); /* a slow=block subscriber */
		} else {
			atomic_fetch_add(&sh->rx_errors, 1);
			log_once(&sh->error_logged, sh->first_error,
			         sizeof sh->first_error, "publish: %s", ipk_last_error());
			usleep(1000);
		}
	}
	free(buf);
	_exit(ipk_close(l) == 0 ? 0 : 3);
}

/* A subscriber: every message checked; the publisher's numbers follow on
   but for what the ring says was missed. Half wait for the publisher
   (?slow=block: a dead one must not hold it up for good), half do not. */
static void subscriber(bool survivor, unsigned seed)
{
	bool block = survivor || seed % 2;
	char url[400];
	snprintf(url, sizeof url, "%s%s", cur->dial, block ? "&slow=block" : "");
	unsigned char *buf = malloc(cur->maxsz);
	ipk_chan *c = NULL;
	for (int i = 0; ipk_dial(&c, url, 1000) < 0; i++) {
		if (i > 5000)
			_exit(4);
		usleep(2000);
	}
	if (ipk_subscribe(c, "", 0) < 0)
		_exit(5);
	if (survivor)
		atomic_store(&sh->survivor_ready, 1);
	bool have = false;
	uint32_t last = 0, want = 0;
	while (goes_on(survivor, want)) {
		ipk_msginfo mi = {0};
		ssize_t n = ipk_recvmsg(c, buf, cur->maxsz, &mi, 100);
		if (n == -ETIMEDOUT || n == -EAGAIN)
			continue;
		if (n < 0) {
			atomic_fetch_add(&sh->rx_errors, 1);
			log_once(&sh->error_logged, sh->first_error,
			         sizeof sh->first_error, "subscriber: %s",
			         ipk_last_error());
			break;
		}
		uint32_t w, h[4];
		take(buf, n);
		if (!check_msg(buf, (size_t)n, &w))
			continue;
		memcpy(h, buf, HDR);
		if (w == SURVIVOR) {
			/* joined before the first of these, and waited for: all */
			if (survivor && h[2] == want)
				want++;
			else if (survivor)
				atomic_fetch_add(&sh->lost, 1);
			continue;
		}
		if (have && h[2] != last + 1 + (uint32_t)mi.missed)
			atomic_fetch_add(&sh->lost, 1);
		have = true;
		last = h[2];
	}
	if (survivor)
		atomic_store(&sh->survivor_got, want);
	ipk_close(c);
	free(buf);
	_exit(0);
}

/* -------------------------------------------------------------- sender */

static void sender(bool survivor, unsigned seed)
{
	uint32_t w = survivor ? SURVIVOR : atomic_fetch_add(&sh->next_writer, 1);
	uint32_t x = seed * 7919u + w + 1;
	unsigned char *buf = malloc(cur->maxsz);
	uint32_t s = 0;
	int64_t give_up = 0;
	while (goes_on(survivor, s)) {
		ipk_chan *c = dial_or_pause(survivor, &give_up);
		if (c == NULL)
			continue;
		while (goes_on(survivor, s)) {
			size_t len = next_len(&x);
			make_msg(buf, len, w, s);
			ssize_t n = ipk_send(c, buf, len, 1000);
			if (n != (ssize_t)len)
				break; /* the receiver went away: dial again */
			s++;
			atomic_fetch_add(&sh->sent, 1);
		}
		ipk_close(c);
	}
	free(buf);
	_exit(0);
}

/* -------------------------------------------------------------- driver */

static pid_t spawn(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		fn();
	return pid;
}

static unsigned seed;
static void run_sender(void)
{
	if (cur->shape == REQREP)
		requester(false, seed++);
	else if (cur->shape == PUBSUB)
		subscriber(false, seed++);
	sender(false, seed++);
}
static void run_survivor(void)
{
	if (cur->shape == REQREP)
		requester(true, seed++);
	else if (cur->shape == PUBSUB)
		subscriber(true, seed++);
	sender(true, seed++);
}
static void run_receiver(void)
{
	if (cur->shape == REQREP)
		server();
	else if (cur->shape == PUBSUB)
		publisher();
	receiver();
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool wait_until(_Atomic int *flag, int ms)
{
	int64_t until = now_ms() + ms;
	while (!atomic_load(flag) && now_ms() < until)
		usleep(1000);
	return atomic_load(flag);
}

/* Wait for a child, killing it if it takes longer than ms; 1 if it hung. */
static int reap(pid_t pid, int ms)
{
	int64_t until = now_ms() + ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 0;
		if (now_ms() >= until) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 1;
		}
		usleep(2000);
	}
}

static pid_t start_receiver(void)
{
	atomic_store(&sh->rx_ready, 0);
	pid_t pid = spawn(run_receiver);
	if (!wait_until(&sh->rx_ready, 10000))
		fprintf(stderr, "chaos %s: the receiver did not start: %s\n",
		        cur->name, sh->first_error);
	return pid;
}

/* ---------------------------------------------------------------- leaks */

static bool private_ns;
static char tag[64];

static bool file_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static bool key_exists(const char *file, unsigned key)
{
	FILE *f = fopen(file, "r");
	if (f == NULL)
		return false;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		long long k;
		if (sscanf(line, "%lld", &k) == 1 && (unsigned)k == key)
			found = true;
	}
	fclose(f);
	return found;
}

/* Entries of dir (skipping . and ..) whose name has needle (NULL: any). */
static int count_in(const char *dir, const char *needle, char *first,
                    size_t cap)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (needle && !strstr(e->d_name, needle))
			continue;
		if (n++ == 0)
			snprintf(first, cap, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	return n;
}

static int sysv_count(const char *file)
{
	FILE *f = fopen(file, "r");
	if (f == NULL)
		return 0;
	char line[512];
	int n = -1; /* the header */
	while (fgets(line, sizeof line, f))
		n++;
	fclose(f);
	return n < 0 ? 0 : n;
}

/* What the run left behind, in words; empty if nothing. */
static void leaks(const struct mech *m, const char *tmpdir, char *out,
                  size_t cap)
{
	char first[600] = "", rec[64];
	out[0] = '\0';
	/* a queue's owner record (/dev/shm/.ipk-owner....0xKEY) goes with it */
	snprintf(rec, sizeof rec, ".0x%08x", m->key);
	if (m->leak_name[0] && file_exists(m->leak_name))
		snprintf(out, cap, "%s", m->leak_name);
	else if (m->key && key_exists(m->key_file, m->key))
		snprintf(out, cap, "System V key 0x%08x", m->key);
	else if (m->key && count_in("/dev/shm", rec, first, sizeof first))
		snprintf(out, cap, "%s", first);
	else if (count_in(tmpdir, NULL, first, sizeof first))
		snprintf(out, cap, "%s", first);
	else if (private_ns) {
		/* a namespace of our own: anything at all is ours */
		static const char *const files[] = {"/proc/sysvipc/msg",
		                                    "/proc/sysvipc/shm",
		                                    "/proc/sysvipc/sem"};
		for (int i = 0; i < 3 && !out[0]; i++)
			if (sysv_count(files[i]) > 0)
				snprintf(out, cap, "an entry in %s", files[i]);
		if (!out[0] && count_in("/dev/shm", NULL, first, sizeof first))
			snprintf(out, cap, "%s", first);
		if (!out[0] && count_in("/dev/mqueue", NULL, first, sizeof first))
			snprintf(out, cap, "%s", first);
	} else if (count_in("/dev/shm", tag, first, sizeof first) ||
	           count_in("/dev/mqueue", tag, first, sizeof first)) {
		snprintf(out, cap, "%s", first);
	}
}

/* ------------------------------------------------------------ mechanisms */

static int free_tcp_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int port = 0;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int make_mechs(struct mech *ms, const char *dir)
{
	int n = 0;
	unsigned base = 0x3c000000u | ((unsigned)getpid() & 0xffff) << 8;
	struct mech *m;
#define ADD(nm)                                                               \
	do {                                                                  \
		m = &ms[n++];                                                 \
		memset(m, 0, sizeof *m);                                      \
		m->name = nm;                                                 \
		m->senders = MAX_SENDERS;                                     \
	} while (0)
	ADD("fifo");
	snprintf(m->listen, sizeof m->listen, "fifo:%s/fifo", dir);
	snprintf(m->leak_name, sizeof m->leak_name, "%s/fifo", dir);
	m->maxsz = 40000;
	ADD("unix");
	snprintf(m->listen, sizeof m->listen, "unix:%s/sock", dir);
	snprintf(m->leak_name, sizeof m->leak_name, "%s/sock", dir);
	m->conn = true;
	m->maxsz = 40000;
	ADD("unixgram");
	snprintf(m->listen, sizeof m->listen, "unixgram:%s/dgram", dir);
	snprintf(m->leak_name, sizeof m->leak_name, "%s/dgram", dir);
	m->maxsz = 8000;
	ADD("tcp");
	snprintf(m->listen, sizeof m->listen, "tcp://127.0.0.1:%d",
	         free_tcp_port());
	m->conn = true;
	m->maxsz = 40000;
	ADD("sysvmq");
	m->key = base | 1;
	m->key_file = "/proc/sysvipc/msg";
	snprintf(m->listen, sizeof m->listen, "sysvmq:0x%08x", m->key);
	m->maxsz = 4000;
	ADD("mq");
	snprintf(m->listen, sizeof m->listen, "mq:/%s-mq", tag);
	snprintf(m->leak_name, sizeof m->leak_name, "/dev/mqueue/%s-mq", tag);
	m->maxsz = 4000;
	ADD("shm-spsc");
	snprintf(m->listen, sizeof m->listen, "shm:/%s-spsc?size=256K", tag);
	snprintf(m->leak_name, sizeof m->leak_name, "/dev/shm/%s-spsc", tag);
	m->senders = 1;
	m->maxsz = 20000;
	ADD("shm-mpmc");
	snprintf(m->listen, sizeof m->listen, "shm:/%s-mpmc?size=256K&mpmc",
	         tag);
	snprintf(m->leak_name, sizeof m->leak_name, "/dev/shm/%s-mpmc", tag);
	m->maxsz = 20000;
	ADD("sysvshm");
	m->key = base | 2;
	m->key_file = "/proc/sysvipc/shm";
	snprintf(m->listen, sizeof m->listen, "sysvshm:0x%08x?size=256K", m->key);
	m->senders = 1;
	m->maxsz = 20000;
	ADD("mmap");
	snprintf(m->listen, sizeof m->listen, "mmap:%s/ring.dat?size=256K", dir);
	snprintf(m->leak_name, sizeof m->leak_name, "%s/ring.dat", dir);
	m->senders = 1;
	m->maxsz = 20000;
	/* the patterns: REQ clients killed while a REP server runs (a reply
	   mailbox per client on mq:, fifo: and rings; replies by type on
	   sysvmq:; connections on unix:), subscribers while a publisher runs */
	ADD("rr-shm");
	m->shape = REQREP;
	snprintf(m->listen, sizeof m->listen, "shm:/%s-rr?size=256K&proto=rep",
	         tag);
	snprintf(m->leak_name, sizeof m->leak_name, "/dev/shm/%s-rr", tag);
	m->maxsz = 20000;
	ADD("rr-mq");
	m->shape = REQREP;
	snprintf(m->listen, sizeof m->listen,
	         "mq:/%s-rr?msgsize=4200&maxmsg=4&proto=rep", tag);
	snprintf(m->leak_name, sizeof m->leak_name, "/dev/mqueue/%s-rr", tag);
	m->maxsz = 4000;
	ADD("rr-fifo");
	m->shape = REQREP;
	snprintf(m->listen, sizeof m->listen, "fifo:%s/rr?proto=rep", dir);
	snprintf(m->leak_name, sizeof m->leak_name, "%s/rr", dir);
	m->maxsz = 4000;
	ADD("rr-sysvmq");
	m->shape = REQREP;
	m->key = base | 3;
	m->key_file = "/proc/sysvipc/msg";
	snprintf(m->listen, sizeof m->listen, "sysvmq:0x%08x?proto=rep", m->key);
	m->maxsz = 4000;
	ADD("rr-unix");
	m->shape = REQREP;
	snprintf(m->listen, sizeof m->listen, "unix:%s/rr.sock?proto=rep", dir);
	snprintf(m->leak_name, sizeof m->leak_name, "%s/rr.sock", dir);
	m->maxsz = 20000;
	ADD("ps-shm");
	m->shape = PUBSUB;
	snprintf(m->listen, sizeof m->listen,
	         "shm:/%s-ps?size=256K&subs=8&proto=pub", tag);
	snprintf(m->leak_name, sizeof m->leak_name, "/dev/shm/%s-ps", tag);
	m->maxsz = 20000;
#undef ADD
	for (int i = 0; i < n; i++) {
		/* dialers use the plain address (options are the creator's),
		   with the pattern they speak */
		snprintf(ms[i].dial, sizeof ms[i].dial, "%s", ms[i].listen);
		char *q = strchr(ms[i].dial, '?');
		if (q)
			*q = '\0';
		if (ms[i].shape != PIPE) {
			size_t k = strlen(ms[i].dial);
			snprintf(ms[i].dial + k, sizeof ms[i].dial - k, "?proto=%s",
			         ms[i].shape == REQREP ? "req" : "sub");
		}
	}
	return n;
}

/* --------------------------------------------------------------- a run */

struct result {
	int kills, rx_kills, hung;
	long delivered, corrupt, reported, rx_errors, sent, survivors, lost,
	     stalls;
	char leak[600];
	bool ok;
};

static void one(const struct mech *m, int kills, const char *dir,
                struct result *r)
{
	cur = m;
	memset(sh, 0, sizeof *sh);
	atomic_store(&sh->next_writer, 1);
	memset(r, 0, sizeof *r);
	pid_t rx = start_receiver();
	pid_t tx[MAX_SENDERS];
	for (int i = 0; i < m->senders; i++)
		tx[i] = spawn(run_sender);
	while (r->kills + r->rx_kills < kills) {
		usleep((useconds_t)(rand() % 8000));
		/* the patterns' long-lived side stays: its clients come and go */
		bool hit_rx = m->shape == PIPE && rand() % 8 == 0;
		if (hit_rx) {
			kill(rx, SIGKILL);
			waitpid(rx, NULL, 0);
			r->rx_kills++;
			rx = start_receiver();
		} else {
			int i = rand() % m->senders;
			kill(tx[i], SIGKILL);
			waitpid(tx[i], NULL, 0);
			r->kills++;
			tx[i] = spawn(run_sender);
		}
	}
	/* the survivors: senders finish cleanly, then a fresh one's messages
	   must all reach the last receiver */
	atomic_store(&sh->stop_senders, 1);
	for (int i = 0; i < m->senders; i++)
		r->hung += reap(tx[i], 20000);
	pid_t sv = spawn(run_survivor);
	int64_t until = now_ms() + 30000;
	while (atomic_load(&sh->survivor_got) < SURVIVORS && now_ms() < until)
		usleep(2000);
	r->hung += reap(sv, 10000);
	atomic_store(&sh->stop_rx, 1);
	r->hung += reap(rx, 10000);

	r->delivered = sh->delivered;
	r->corrupt = sh->corrupt;
	r->reported = sh->reported;
	r->rx_errors = sh->rx_errors;
	r->sent = sh->sent;
	r->survivors = sh->survivor_got;
	r->lost = sh->lost;
	r->stalls = sh->stalls;
	leaks(m, dir, r->leak, sizeof r->leak);
	r->ok = r->corrupt == 0 && r->survivors == SURVIVORS && !r->leak[0] &&
	        r->hung == 0 && r->lost == 0;
	if (r->leak[0])
		ipk_remove(m->listen); /* do not leave it to the next run */
}

static bool selected(const char *only, const char *name)
{
	if (only == NULL)
		return true;
	size_t n = strlen(name);
	for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int kills = 200;
	const char *only = NULL;
	seed = (unsigned)getpid();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--kills") && i + 1 < argc)
			kills = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--private"))
			private_ns = true;
		else {
			fprintf(stderr, "usage: %s [--kills N] [--only NAME,...] "
			                "[--seed N] [--private]\n",
			        argv[0]);
			return 2;
		}
	}
	srand(seed);
	signal(SIGPIPE, SIG_IGN);
	snprintf(tag, sizeof tag, "ipk-chaos-%d", (int)getpid());
	char dir[128];
	snprintf(dir, sizeof dir, "/tmp/%s", tag);
	if (mkdir(dir, 0700) < 0) {
		perror(dir);
		return 1;
	}
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
	          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	struct mech ms[24];
	int n = make_mechs(ms, dir);
	printf("ipckit chaos: %d kills per mechanism, seed %u%s\n\n", kills, seed,
	       private_ns ? ", private IPC and /dev/shm namespaces" : "");
	printf("%-10s %6s %6s %9s %8s %8s %6s %9s %5s  %s\n", "mechanism",
	       "kills", "(recv)", "delivered", "corrupt", "reported", "errors",
	       "survivors", "leaks", "result");
	int failed = 0;
	for (int i = 0; i < n; i++) {
		if (!selected(only, ms[i].name))
			continue;
		struct result r;
		one(&ms[i], kills, dir, &r);
		printf("%-10s %6d %6d %9ld %8ld %8ld %6ld %6ld/%-2d %5s  %s\n",
		       ms[i].name, r.kills + r.rx_kills, r.rx_kills, r.delivered,
		       r.corrupt, r.reported, r.rx_errors, r.survivors, SURVIVORS,
		       r.leak[0] ? "yes" : "no", r.ok ? "ok" : "FAILED");
		if (!r.ok) {
			failed++;
			if (r.corrupt)
				printf("    first corrupt delivery: %s\n", sh->first_corrupt);
			if (r.survivors != SURVIVORS)
				printf("    the survivors' messages did not all arrive\n");
			if (r.lost)
				printf("    %ld message(s) skipped without being reported "
				       "missed\n", r.lost);
			if (r.leak[0])
				printf("    left behind: %s\n", r.leak);
			if (r.hung)
				printf("    %d process(es) did not finish and were killed\n",
				       r.hung);
		}
		if (sh->first_error[0])
			printf("    first error: %s\n", sh->first_error);
		if (sh->first_report[0])
			printf("    first report: %s\n", sh->first_report);
		if (r.stalls)
			printf("    %ld publish(es) waited out their timeout for a "
			       "slow=block subscriber\n", r.stalls);
		fflush(stdout);
	}
	rmdir(dir);
	printf("\n%s\n", failed ? "chaos: FAILED" : "chaos: ok");
	return failed ? 1 : 0;
}
