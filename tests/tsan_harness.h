/*
 * Included by the tests that also run under ThreadSanitizer (test_ring*,
 * test_sem*, test_mutex*, test_lock*, test_flock*, test_sync*), instead of
 * <criterion/criterion.h>.
 *
 * Under ThreadSanitizer, Criterion's sandbox cannot start: it maps its shared
 * arena at a random address between 0x200000000000 and 0x600000000000
 * (bxf_arena_init draws it with rand_r), and TSan reserves nearly all of
 * that range (Criterion issue #274: "Could not initialize inheritable
 * arena"). The only part TSan leaves to the application is
 * 0x550000000000-0x568000000000, so the draw is steered there. A data race
 * fails the test instead of only printing. Nothing here exists in other
 * builds except IPKT_TSAN (0).
 */
#ifndef IPK_TSAN_HARNESS_H
#define IPK_TSAN_HARNESS_H

#include <criterion/criterion.h>

#if defined(__SANITIZE_THREAD__)
/* Tests skip deliberate misuse (unlocking a mutex they do not hold) under
 * TSan, which reports it, rightly, as an error. */
#define IPKT_TSAN 1

int rand_r(unsigned int *seed);
int rand_r(unsigned int *seed)
{
	/* arena base = 0x200000000000 + r * 16 MiB: keep r in TSan's app range */
	*seed = *seed * 1103515245u + 12345u;
	return (int)(0x350000u + (*seed >> 8) % 0x18000u);
}

const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:second_deadlock_stack=1";
}
#else
#define IPKT_TSAN 0
#endif

#endif
