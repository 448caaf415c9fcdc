/*
 * Helpers for the libFuzzer harnesses: take typed values off the front of
 * the input (zeros once it runs out), and fail loudly when an invariant of
 * the code under test does not hold.
 */
#ifndef IPK_FUZZ_H
#define IPK_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
	if (f->n == 0)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t hi = fz_u8(f);
	return (uint16_t)(hi << 8 | fz_u8(f));
}

/* Up to want bytes (fewer when the input runs out): where they are. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t want, size_t *got)
{
	*got = want < f->n ? want : f->n;
	const uint8_t *p = f->p;
	f->p += *got;
	f->n -= *got;
	return p;
}

/* An invariant of the library failed: say which, and crash so the fuzzer
   keeps the input. */
#define FZ_CHECK(cond)                                                        \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",      \
			        __FILE__, __LINE__, #cond);                   \
			abort();                                              \
		}                                                             \
	} while (0)

#endif
