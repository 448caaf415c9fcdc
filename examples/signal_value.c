/*
 * Signals that carry a value, both ways.
 *
 * The child is a plain signals program: it blocks SIGRTMIN+1 with
 * sigprocmask, installs a SA_SIGINFO handler with sigaction, and waits with
 * sigsuspend, which unblocks the signal only while waiting, so no signal
 * slips in between checking and sleeping. Each value arrives in
 * si_value, with the sender's pid in si_pid. Real-time signals queue, so
 * none of the values is lost even though they are sent back to back.
 *
 * The parent sends values through ipckit (signal:PID, which uses
 * pidfd_send_signal) and one with a plain sigqueue(3). The child then
 * answers with the sum, sent with ipckit to the parent's "signal:self"
 * listener (a signalfd), which reports the sender's pid with the value.
 *
 *   signal_value
 */
#define _GNU_SOURCE
#include <ipckit.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VALUES 5

static volatile sig_atomic_t received, sum, last_pid;

static void on_value(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	sum += si->si_value.sival_int;
	last_pid = si->si_pid;
	received++;
}

static int child(pid_t parent, int ready_fd)
{
	/* block first, so a value sent before we wait stays pending */
	sigset_t block, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGRTMIN + 1);

	struct sigaction sa = {.sa_sigaction = on_value, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	close(ready_fd);

	while (received < VALUES)
		sigsuspend(&wait_mask); /* returns after the handler ran */
	printf("child: %d values, sum %d, last from pid %d\n", (int)received,
	       (int)sum, (int)last_pid);
	fflush(stdout);

	/* answer through ipckit: the parent listens on signal:self */
	char url[64];
	snprintf(url, sizeof url, "signal:%d?sig=RTMIN+2", (int)parent);
	ipk_chan *reply;
	if (ipk_dial(&reply, url, 2000) < 0) {
		fprintf(stderr, "child: %s: %s\n", url, ipk_last_error());
		return 1;
	}
	int32_t total = sum;
	int rc = ipk_send(reply, &total, sizeof total, 1000) == sizeof total ? 0 : 1;
	ipk_close(reply);
	return rc;
}

int main(void)
{
	/* listen before forking: the signal is blocked from here on, and the
	   child's answer waits in the signalfd until we read it */
	ipk_chan *answers;
	if (ipk_listen(&answers, "signal:self?sig=RTMIN+2") < 0) {
		fprintf(stderr, "signal_value: %s\n", ipk_last_error());
		return 1;
	}
	int ready[2];
	if (pipe(ready) < 0)
		return 1;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		ipk_close(answers);
		close(ready[0]);
		_exit(child(parent, ready[1]));
	}
	close(ready[1]);
	char b;
	if (read(ready[0], &b, 1) != 1) {
		fprintf(stderr, "signal_value: the child did not start\n");
		return 1;
	}
	close(ready[0]);

	char url[64];
	snprintf(url, sizeof url, "signal:%d?sig=RTMIN+1", (int)pid);
	ipk_chan *to_child;
	if (ipk_dial(&to_child, url, 2000) < 0) {
		fprintf(stderr, "signal_value: %s: %s\n", url, ipk_last_error());
		return 1;
	}
	int32_t expect = 0;
	for (int32_t v = 1; v < VALUES; v++) {
		/* up to 8 bytes ride in the sigval; an int is what the child reads */
		if (ipk_send(to_child, &v, sizeof v, 1000) != sizeof v) {
			fprintf(stderr, "signal_value: %s\n", ipk_last_error());
			return 1;
		}
		expect += v;
	}
	union sigval last = {.sival_int = 100}; /* and one the classic way */
	sigqueue(pid, SIGRTMIN + 1, last);
	expect += 100;
	ipk_close(to_child);

	int32_t total = 0;
	ipk_msginfo mi = {0};
	ssize_t n = ipk_recvmsg(answers, &total, sizeof total, &mi, 5000);
	int st;
	waitpid(pid, &st, 0);
	ipk_close(answers);
	if (n != sizeof total) {
		fprintf(stderr, "signal_value: no answer: %s\n",
		        n < 0 ? ipk_last_error() : "short");
		return 1;
	}
	printf("parent: answer %d from pid %d (uid %d), expected %d\n",
	       (int)total, (int)mi.pid, (int)mi.uid, (int)expect);
	return total == expect && mi.pid == pid ? 0 : 1;
}
