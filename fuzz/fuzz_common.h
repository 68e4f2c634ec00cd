/*
 * What every fuzz target shares: the check that turns a broken invariant into
 * a loud abort (the fuzzer keeps the input as a crash), a cursor that reads
 * a target's input format, and the limits table of the stream targets.
 */
#ifndef IPCH_FUZZ_COMMON_H
#define IPCH_FUZZ_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipc/ipcf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * FUZZ_NO_COVERAGE: a target's own per-byte loops (making and checking the
 * bytes it moves) without the engine's coverage hooks. There every
 * comparison would call a hook, which then costs more than the code under
 * test, and tells the fuzzer nothing: those loops take the same branches
 * whatever the input. The sanitizers still check them. Not inlined: the
 * hooks are added after inlining, by the caller's rules. GCC has no such
 * attribute and builds no fuzzing engine.
 */
#if defined(__clang__)
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define FUZZ_NO_COVERAGE
#endif

__attribute__((format(printf, 4, 5))) static inline _Noreturn void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: invariant broken: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n  once fixed, keep this input in corpus/regressions/<target>/"
	      " (corpus/regressions/README.md says how)\n", stderr);
	abort();
}

/* FUZZ_CHECK(cond, fmt, ...): abort with the condition and a message that
 * says which value was wrong and what was expected. */
#define FUZZ_CHECK(cond, ...)                                                \
	((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__))

/* The input, read front to back; reads past the end give zeros, so every
 * input means something. */
struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_take_u8(struct fuzz_input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint16_t fuzz_take_be16(struct fuzz_input *in)
{
	uint16_t hi = fuzz_take_u8(in);

	return (uint16_t)(hi << 8 | fuzz_take_u8(in));
}

static inline uint32_t fuzz_take_be32(struct fuzz_input *in)
{
	uint32_t hi = fuzz_take_be16(in);

	return hi << 16 | fuzz_take_be16(in);
}

/* Up to n bytes (fewer if the input ends first); *got says how many. */
static inline const uint8_t *fuzz_take_bytes(struct fuzz_input *in, size_t n,
					     size_t *got)
{
	const uint8_t *at = in->p;

	if (n > in->left)
		n = in->left;
	in->p += n;
	in->left -= n;
	*got = n;
	return at;
}

static inline uint32_t fuzz_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/*
 * Stream targets start with one limits byte: the low nibble picks the frame
 * limit, the high nibble the message limit, from this table. Small limits
 * make too-big reachable with short inputs; 0xFF is the spec's defaults;
 * 0xEE the largest limits allowed, where a judged header may announce up to
 * 1 GiB that never arrives.
 */
static const uint32_t fuzz_limit_table[16] = {
	0, 1, 2, 3, 5, 8, 13, 20, 32, 64, 100, 256, 1000, 4096,
	IPCF_MAX_LIMIT, IPCF_DEFAULT_LIMIT,
};

#define FUZZ_LIMITS_DEFAULT 0xFFu

struct fuzz_limits {
	uint32_t max_frame;
	uint32_t max_message;
};

static inline struct fuzz_limits fuzz_limits_from_byte(uint8_t b)
{
	struct fuzz_limits l = {
		.max_frame = fuzz_limit_table[b & 0x0Fu],
		.max_message = fuzz_limit_table[b >> 4],
	};
	return l;
}

#endif
