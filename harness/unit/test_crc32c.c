/*
 * CRC-32C: the check value and the RFC 3720 vectors on every path, the
 * running-CRC property, and the hardware, portable and dispatching paths
 * agreeing with a bit-at-a-time reference on random data of many lengths and
 * alignments.
 */
#include "unit_support.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

#define CHECK_VALUE 0xE3069283u
#define RANDOM_MAX_LEN 4096
#define ALIGN_SPREAD 16 /* start offsets 0..15 cover every alignment */

/* A byte table derived bit by bit from the reflected polynomial: shares
 * nothing with the implementation under test. */
static uint32_t reference_table[256];

static void build_reference_table(void)
{
	for (uint32_t byte = 0; byte < 256; byte++) {
		uint32_t crc = byte;

		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
		reference_table[byte] = crc;
	}
}

static uint32_t reference_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (reference_table[1] == 0)
		build_reference_table();
	crc = ~crc;
	while (len--)
		crc = (crc >> 8) ^ reference_table[(crc ^ *p++) & 0xFFu];
	return ~crc;
}

static void require_hardware_path(void)
{
	if (!ipc_crc32c_hw_available())
		skip();
}

/* ---- Start-up ------------------------------------------------------------- */

#define START_THREADS 8

struct first_use {
	pthread_barrier_t *start;
	uint32_t result;
};

static void *crc_first_use(void *arg)
{
	struct first_use *use = arg;

	pthread_barrier_wait(use->start);
	use->result = ipc_crc32c(0, "123456789", 9);
	return NULL;
}

/*
 * The path is chosen once at run time; threads racing to the first call must
 * all get it right (and the tsan preset sees any unsynchronised choice). This
 * test is first in the list so that no earlier call has made the choice.
 */
static void dispatch_starts_safely_from_many_threads(void **state)
{
	pthread_barrier_t start;
	pthread_t threads[START_THREADS];
	struct first_use uses[START_THREADS];

	(void)state;
	assert_int_equal(pthread_barrier_init(&start, NULL, START_THREADS), 0);
	for (int i = 0; i < START_THREADS; i++) {
		uses[i].start = &start;
		assert_int_equal(pthread_create(&threads[i], NULL,
						crc_first_use, &uses[i]), 0);
	}
	for (int i = 0; i < START_THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < START_THREADS; i++)
		assert_int_equal(uses[i].result, CHECK_VALUE);
}

/* ---- Known values --------------------------------------------------------- */

static void assert_check_value(crc_fn crc)
{
	assert_int_equal(crc(0, "123456789", 9), CHECK_VALUE);
}

static void check_value_on_dispatching_path(void **state)
{
	(void)state;
	assert_check_value(ipc_crc32c);
}

static void check_value_on_portable_path(void **state)
{
	(void)state;
	assert_check_value(ipc_crc32c_portable);
}

static void check_value_on_hardware_path(void **state)
{
	(void)state;
	require_hardware_path();
	assert_check_value(ipc_crc32c_hw);
}

static void check_value_of_reference(void **state)
{
	(void)state;
	assert_check_value(reference_crc32c);
}

/* RFC 3720 B.4: 32 bytes of zeros, of ones, ascending and descending. */
static void assert_iscsi_vectors(crc_fn crc)
{
	uint8_t buf[32];

	memset(buf, 0x00, sizeof(buf));
	assert_int_equal(crc(0, buf, sizeof(buf)), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(crc(0, buf, sizeof(buf)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc(0, buf, sizeof(buf)), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc(0, buf, sizeof(buf)), 0x113FDB5Cu);
}

static void iscsi_vectors_on_every_path(void **state)
{
	(void)state;
	assert_iscsi_vectors(reference_crc32c);
	assert_iscsi_vectors(ipc_crc32c);
	assert_iscsi_vectors(ipc_crc32c_portable);
	if (ipc_crc32c_hw_available())
		assert_iscsi_vectors(ipc_crc32c_hw);
}

static void assert_empty_input_keeps_crc(crc_fn crc)
{
	const uint8_t byte = 0xA5;

	assert_int_equal(crc(0, &byte, 0), 0);
	assert_int_equal(crc(0x12345678u, &byte, 0), 0x12345678u);
	assert_int_equal(crc(CHECK_VALUE, &byte, 0), CHECK_VALUE);
}

static void empty_input_leaves_the_crc_unchanged(void **state)
{
	(void)state;
	assert_empty_input_keeps_crc(ipc_crc32c);
	assert_empty_input_keeps_crc(ipc_crc32c_portable);
	if (ipc_crc32c_hw_available())
		assert_empty_input_keeps_crc(ipc_crc32c_hw);
}

static void dispatch_uses_hardware_when_available(void **state)
{
	const char *name = ipc_crc32c_impl_name();

	(void)state;
	assert_non_null(name);
	assert_string_equal(name,
			    ipc_crc32c_hw_available() ? "sse4.2" : "portable");
}

/* ---- Running CRC ---------------------------------------------------------- */

/* Every split point of a buffer long enough to pass through every block
 * size a path may use, and every two-point split of a shorter one. */
static void assert_split_anywhere_is_one_shot(crc_fn crc)
{
	enum { LONG = 600, SHORT = 80 };
	uint8_t *buf = random_bytes(0x5EED0001, LONG);
	uint32_t whole = reference_crc32c(0, buf, LONG);
	uint32_t whole_short = reference_crc32c(0, buf, SHORT);

	for (size_t cut = 0; cut <= LONG; cut++) {
		uint32_t first = crc(0, buf, cut);

		if (crc(first, buf + cut, LONG - cut) != whole)
			fail_msg("split at %zu of %d bytes differs from one "
				 "shot", cut, LONG);
	}
	for (size_t a = 0; a <= SHORT; a++)
		for (size_t b = a; b <= SHORT; b++) {
			uint32_t c = crc(0, buf, a);

			c = crc(c, buf + a, b - a);
			if (crc(c, buf + b, SHORT - b) != whole_short)
				fail_msg("splits at %zu and %zu of %d bytes "
					 "differ from one shot", a, b, SHORT);
		}
	free(buf);
}

/* Splits at random points of a large buffer, where block paths kick in. */
static void assert_split_large_is_one_shot(crc_fn crc)
{
	enum { LEN = (64 << 10) + 13, SPLITS = 64 };
	struct prng rng = { 0x5EED0002 };
	uint8_t *buf = random_bytes(0x5EED0003, LEN);
	uint32_t whole = reference_crc32c(0, buf, LEN);

	for (int i = 0; i < SPLITS; i++) {
		size_t cut = (size_t)prng_below(&rng, LEN + 1);

		if (crc(crc(0, buf, cut), buf + cut, LEN - cut) != whole)
			fail_msg("split at %zu of %d bytes differs from one "
				 "shot", cut, LEN);
	}
	free(buf);
}

static void running_crc_on_dispatching_path(void **state)
{
	(void)state;
	assert_split_anywhere_is_one_shot(ipc_crc32c);
	assert_split_large_is_one_shot(ipc_crc32c);
}

static void running_crc_on_portable_path(void **state)
{
	(void)state;
	assert_split_anywhere_is_one_shot(ipc_crc32c_portable);
	assert_split_large_is_one_shot(ipc_crc32c_portable);
}

static void running_crc_on_hardware_path(void **state)
{
	(void)state;
	require_hardware_path();
	assert_split_anywhere_is_one_shot(ipc_crc32c_hw);
	assert_split_large_is_one_shot(ipc_crc32c_hw);
}

/* A CRC begun on one path and continued on the other is the same CRC. */
static void paths_continue_each_other(void **state)
{
	enum { LEN = 5000 };
	uint8_t *buf = random_bytes(0x5EED0004, LEN);
	uint32_t whole = reference_crc32c(0, buf, LEN);

	(void)state;
	require_hardware_path();
	for (size_t cut = 0; cut <= LEN; cut += 97) {
		uint32_t hw_first = ipc_crc32c_hw(0, buf, cut);
		uint32_t sw_first = ipc_crc32c_portable(0, buf, cut);

		assert_int_equal(ipc_crc32c_portable(hw_first, buf + cut,
						     LEN - cut), whole);
		assert_int_equal(ipc_crc32c_hw(sw_first, buf + cut, LEN - cut),
				 whole);
	}
	free(buf);
}

/* ---- Random data, every length and alignment ------------------------------ */

/*
 * Each length 0..RANDOM_MAX_LEN once, at a start offset and with an initial
 * CRC drawn from a fixed-seed PRNG, so every alignment meets every length
 * class over the run.
 */
static void assert_agrees_on_random_data(crc_fn crc, crc_fn truth,
					 const char *what)
{
	struct prng rng = { 0x5EED0005 };
	uint8_t *buf = random_bytes(0x5EED0006, RANDOM_MAX_LEN + ALIGN_SPREAD);

	for (size_t len = 0; len <= RANDOM_MAX_LEN; len++) {
		size_t start = (size_t)prng_below(&rng, ALIGN_SPREAD);
		uint32_t init = (uint32_t)prng_next(&rng);
		uint32_t want = truth(init, buf + start, len);
		uint32_t got = crc(init, buf + start, len);

		if (got != want)
			fail_msg("%s: %zu bytes at offset %zu from CRC "
				 "0x%08x give 0x%08x, expected 0x%08x", what,
				 len, start, init, got, want);
	}
	free(buf);
}

static void portable_matches_reference_on_random_data(void **state)
{
	(void)state;
	assert_agrees_on_random_data(ipc_crc32c_portable, reference_crc32c,
				     "portable vs reference");
}

static void hardware_matches_portable_on_random_data(void **state)
{
	(void)state;
	require_hardware_path();
	assert_agrees_on_random_data(ipc_crc32c_hw, ipc_crc32c_portable,
				     "hardware vs portable");
}

static void dispatching_matches_portable_on_random_data(void **state)
{
	(void)state;
	assert_agrees_on_random_data(ipc_crc32c, ipc_crc32c_portable,
				     "dispatching vs portable");
}

/* ---- Hardware path at every change of gear -------------------------------- */

/*
 * The hardware path changes gear with length: byte steps up to an 8-byte
 * boundary, blocks of three interleaved lanes (3 x 8192, then 3 x 256
 * bytes) joined by advancing one lane's CRC over the others, then one
 * chain for the rest. Every length through three short blocks, and past
 * that a sample up to beyond two long blocks, every length around each
 * long block boundary, at every alignment and from several starting CRCs,
 * in one call and continued from a random split. The portable CRC of each
 * length is carried on from the one before, so only the path under test
 * pays for whole lengths (under valgrind the sample takes a few seconds).
 */
#define GEAR_EVERY_LENGTH_MAX (3 * 3 * 256 + 64)
#define GEAR_SAMPLED_LENGTH_MAX ((64 << 10) + 64)
#define GEAR_LONG_BLOCK (3 * 8192)
#define GEAR_NEAR_BLOCK 8 /* every length this close to a multiple of it */
#define GEAR_STRIDE 257   /* and every 257th: prime, so the rests vary */
#define GEAR_ALIGNMENTS 8

static bool gear_length_sampled(size_t len)
{
	return len <= GEAR_EVERY_LENGTH_MAX ||
	       (len + GEAR_NEAR_BLOCK) % GEAR_LONG_BLOCK <=
		       2 * GEAR_NEAR_BLOCK ||
	       len % GEAR_STRIDE == 0;
}

static void assert_hw_agrees_from(const uint8_t *p, size_t align,
				  uint32_t init, struct prng *rng)
{
	uint32_t want = init; /* portable CRC of p[0..done) from init */
	size_t done = 0;

	for (size_t len = 0; len <= GEAR_SAMPLED_LENGTH_MAX; len++) {
		size_t cut;
		uint32_t whole, joined;

		if (!gear_length_sampled(len))
			continue;
		want = ipc_crc32c_portable(want, p + done, len - done);
		done = len;
		cut = (size_t)prng_below(rng, len + 1);
		whole = ipc_crc32c_hw(init, p, len);
		joined = ipc_crc32c_hw(ipc_crc32c_hw(init, p, cut), p + cut,
				       len - cut);
		if (whole != want || joined != want)
			fail_msg("hardware: %zu bytes at alignment %zu from CRC "
				 "0x%08x give 0x%08x in one call, 0x%08x split "
				 "at %zu; portable gives 0x%08x", len, align,
				 init, whole, joined, cut, want);
	}
}

static void hardware_matches_portable_at_every_change_of_gear(void **state)
{
	struct prng rng = { 0x5EED0008 };
	uint8_t *buf = random_bytes(0x5EED0009,
				    GEAR_SAMPLED_LENGTH_MAX + GEAR_ALIGNMENTS);
	const uint32_t inits[] = { 0, 0xFFFFFFFFu, (uint32_t)prng_next(&rng) };

	(void)state;
	require_hardware_path();
	/* buf comes from malloc, so buf + align is at alignment align. */
	for (size_t align = 0; align < GEAR_ALIGNMENTS; align++)
		for (size_t i = 0; i < sizeof(inits) / sizeof(inits[0]); i++)
			assert_hw_agrees_from(buf + align, align, inits[i],
					      &rng);
	free(buf);
}

/* A few large buffers at odd starts and odd lengths. */
static void paths_agree_on_large_buffers(void **state)
{
	static const size_t lengths[] = { 1u << 20, (1u << 20) + 7,
					  (3u << 20) + 5, 65536 + 3 };
	static const size_t starts[] = { 0, 3, 5, 1 };
	uint8_t *buf = random_bytes(0x5EED0007, (3u << 20) + 16);

	(void)state;
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		const uint8_t *p = buf + starts[i];
		uint32_t want = reference_crc32c(0, p, lengths[i]);

		assert_int_equal(ipc_crc32c_portable(0, p, lengths[i]), want);
		assert_int_equal(ipc_crc32c(0, p, lengths[i]), want);
		if (ipc_crc32c_hw_available())
			assert_int_equal(ipc_crc32c_hw(0, p, lengths[i]), want);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: it must see the very first call to ipc_crc32c */
		cmocka_unit_test(dispatch_starts_safely_from_many_threads),
		cmocka_unit_test(check_value_of_reference),
		cmocka_unit_test(check_value_on_dispatching_path),
		cmocka_unit_test(check_value_on_portable_path),
		cmocka_unit_test(check_value_on_hardware_path),
		cmocka_unit_test(iscsi_vectors_on_every_path),
		cmocka_unit_test(empty_input_leaves_the_crc_unchanged),
		cmocka_unit_test(dispatch_uses_hardware_when_available),
		cmocka_unit_test(running_crc_on_dispatching_path),
		cmocka_unit_test(running_crc_on_portable_path),
		cmocka_unit_test(running_crc_on_hardware_path),
		cmocka_unit_test(paths_continue_each_other),
		cmocka_unit_test(portable_matches_reference_on_random_data),
		cmocka_unit_test(hardware_matches_portable_on_random_data),
		cmocka_unit_test(dispatching_matches_portable_on_random_data),
		cmocka_unit_test(
			hardware_matches_portable_at_every_change_of_gear),
		cmocka_unit_test(paths_agree_on_large_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
