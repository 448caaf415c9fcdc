/*
 * Test harness for the sync tests (test_sem*, test_mutex*, test_lock*,
 * test_flock*, test_sync*).
 *
 * Normally this is just <criterion/criterion.h>. Under ThreadSanitizer
 * Criterion cannot start: its BoxFort arena is mapped at random fixed
 * addresses that TSan has reserved, and the runner aborts with "Could not
 * initialize inheritable arena" (upstream Snaipe/Criterion#274). So under
 * TSan this header provides the few Criterion macros these tests use and a
 * main() of its own (which takes precedence over libcriterion's): each test
 * runs in a forked child, as Criterion would run it, with the suite's .fini
 * after it and the suite's .timeout as an alarm.
 */
#ifndef IPK_SYNC_HARNESS_H
#define IPK_SYNC_HARNESS_H

#if defined(__SANITIZE_THREAD__)
#define IPKH_OWN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPKH_OWN 1
#endif
#endif

/* Tests skip deliberate misuse (unlocking a mutex they do not hold) under
 * TSan, which reports it, rightly, as an error. */
#ifdef IPKH_OWN
#define IPKT_TSAN 1
#else
#define IPKT_TSAN 0
#endif

#ifndef IPKH_OWN
#include <criterion/criterion.h>
#else

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* cr_assert(x) without a message passes "" as the format */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

struct ipkh_suite {
	void (*init)(void);
	void (*fini)(void);
	double timeout;
};

struct ipkh_test {
	const char *suite, *name;
	void (*fn)(void);
	const struct ipkh_suite *s;
	struct ipkh_test *next;
};

static struct ipkh_test *ipkh_tests;
static const struct ipkh_suite *ipkh_running; /* in the test's process */
static pid_t ipkh_test_pid;

static void ipkh_register(struct ipkh_test *t)
{
	/* keep them sorted by name, as Criterion lists them */
	struct ipkh_test **pp = &ipkh_tests;
	while (*pp && strcmp((*pp)->name, t->name) < 0)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
}

#define TestSuite(s, ...)                                                  \
	static const struct ipkh_suite ipkh_suite_##s = {__VA_ARGS__}

#define Test(s, n, ...)                                                    \
	static void ipkh_fn_##s##_##n(void);                               \
	__attribute__((constructor)) static void ipkh_reg_##s##_##n(void)  \
	{                                                                  \
		static struct ipkh_test t = {#s, #n, ipkh_fn_##s##_##n,    \
		                             &ipkh_suite_##s, NULL};       \
		ipkh_register(&t);                                         \
	}                                                                  \
	static void ipkh_fn_##s##_##n(void)

__attribute__((format(printf, 4, 5), noreturn)) static void
ipkh_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
	if (fmt && *fmt) {
		va_list ap;
		va_start(ap, fmt);
		fputs(": ", stderr);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	fflush(stderr);
	/* clean up as Criterion does after a failed assertion (not in a
	   child the test forked) */
	if (ipkh_running && ipkh_running->fini && getpid() == ipkh_test_pid) {
		const struct ipkh_suite *s = ipkh_running;
		ipkh_running = NULL;
		s->fini();
	}
	_exit(1);
}

#define cr_assert(cond, ...)                                               \
	do {                                                               \
		if (!(cond))                                               \
			ipkh_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__); \
	} while (0)

#define IPKH_CMP(a, op, b, ...)                                            \
	do {                                                               \
		long long ipkh_a = (long long)(a), ipkh_b = (long long)(b); \
		if (!(ipkh_a op ipkh_b)) {                                 \
			fprintf(stderr, "  %lld " #op " %lld is false\n",  \
			        ipkh_a, ipkh_b);                           \
			ipkh_fail(__FILE__, __LINE__, #a " " #op " " #b,   \
			          "" __VA_ARGS__);                         \
		}                                                          \
	} while (0)

#define cr_assert_eq(a, b, ...) IPKH_CMP(a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) IPKH_CMP(a, !=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) IPKH_CMP(a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) IPKH_CMP(a, <=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) IPKH_CMP(a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) IPKH_CMP(a, >=, b, __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_fail(...)                                                \
	ipkh_fail(__FILE__, __LINE__, "failure", "" __VA_ARGS__)

/* A race fails the process that saw it, even a test's own child. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1";
}

int main(int argc, char **argv)
{
	const char *filter = NULL; /* --filter SUITE/NAME-prefix */
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--filter=", 9) == 0)
			filter = argv[i] + 9;
	int run = 0, failed = 0;
	for (struct ipkh_test *t = ipkh_tests; t; t = t->next) {
		char full[256];
		snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
		if (filter && strncmp(full, filter, strlen(filter)) != 0)
			continue;
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			alarm(t->s->timeout > 0 ? (unsigned)t->s->timeout : 600);
			ipkh_test_pid = getpid();
			ipkh_running = t->s;
			if (t->s->init)
				t->s->init();
			t->fn();
			if (t->s->fini)
				t->s->fini();
			exit(0); /* not _exit: TSan sets the exit status at exit */
		}
		int st;
		while (waitpid(pid, &st, 0) < 0)
			;
		bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		run++;
		failed += !ok;
		if (ok)
			printf("[PASS] %s::%s\n", t->suite, t->name);
		else if (WIFSIGNALED(st))
			printf("[FAIL] %s::%s: killed by signal %d%s\n", t->suite,
			       t->name, WTERMSIG(st),
			       WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
		else
			printf("[FAIL] %s::%s: exit %d\n", t->suite, t->name,
			       WEXITSTATUS(st));
	}
	printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d "
	       "(ThreadSanitizer harness)\n",
	       run, run - failed, failed);
	return failed ? 1 : 0;
}

#endif /* IPKH_OWN */
#endif /* IPK_SYNC_HARNESS_H */
