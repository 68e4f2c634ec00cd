/*
 * crc32c: the table-driven and the SSE4.2 paths give the CRC-32C of any
 * bytes, in one call or continued across a split, from any running CRC.
 *
 * Input: split point (2 bytes, big-endian, taken modulo the data length
 * plus 1), the running CRC to continue from (4 bytes, big-endian), then the
 * data.
 *
 * The oracle is the bit-at-a-time definition of CRC-32C (reflected
 * polynomial 0x82F63B78, init and final xor 0xFFFFFFFF), slow but plain,
 * run once per byte value to fill a byte table, which then takes a byte a
 * step: eight times fewer steps over the kilobyte inputs that reach the
 * hardware path's three-lane blocks, and no coverage hooks in its loop.
 */
#include "ipc/crc32c.h"

#include "fuzz_common.h"

/* The register after one byte b went through it from 0, bit by bit. */
static uint32_t crc32c_byte_bitwise(uint32_t b)
{
	uint32_t crc = b;

	for (int bit = 0; bit < 8; bit++)
		crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	return crc;
}

FUZZ_NO_COVERAGE static uint32_t crc32c_oracle(uint32_t crc, const uint8_t *p,
					       size_t len)
{
	static uint32_t byte_table[256];
	static int made;

	if (!made) {
		for (uint32_t b = 0; b < 256; b++)
			byte_table[b] = crc32c_byte_bitwise(b);
		made = 1;
	}
	crc = ~crc;
	while (len--)
		crc = (crc >> 8) ^ byte_table[(crc ^ *p++) & 0xFFu];
	return ~crc;
}

typedef uint32_t crc_fn(uint32_t crc, const void *buf, size_t len);

static void check_path(const char *name, crc_fn *crc, uint32_t start,
		       const uint8_t *p, size_t len, size_t split,
		       uint32_t want)
{
	uint32_t whole = crc(start, p, len);
	uint32_t joined = crc(crc(start, p, split), p + split, len - split);

	FUZZ_CHECK(whole == want && joined == want,
		   "%s path over %zu bytes from 0x%08x: 0x%08x in one call,"
		   " 0x%08x split at %zu; expected 0x%08x",
		   name, len, start, whole, joined, split, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	size_t split = fuzz_take_be16(&in);
	uint32_t start = fuzz_take_be32(&in);
	uint32_t want = crc32c_oracle(start, in.p, in.left);

	split %= in.left + 1;
	check_path("portable", ipc_crc32c_portable, start, in.p, in.left, split,
		   want);
	check_path("dispatching", ipc_crc32c, start, in.p, in.left, split,
		   want);
	if (ipc_crc32c_hw_available())
		check_path("sse4.2", ipc_crc32c_hw, start, in.p, in.left, split,
			   want);
	return 0;
}
