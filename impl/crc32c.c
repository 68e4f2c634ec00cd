/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Two paths that must agree bit for bit: slice-by-8 tables for any CPU, and
 * the SSE4.2 crc32 instruction, chosen once at run time. Both take and return
 * the finished CRC, so a caller can continue one over several buffers.
 *
 * Polynomials are kept reflected, as the register holds them: bit 31 is the
 * coefficient of x^0 and bit 0 that of x^31.
 */
#include "ipc/crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* p * x modulo the polynomial: the register advanced by one zero bit. */
static uint32_t times_x(uint32_t p)
{
	return (p >> 1) ^ (CRC32C_POLY & (0u - (p & 1u)));
}

/* table[0] is the classic byte table; table[k][i] advances table[k-1][i]
 * by one more zero byte, which is what lets eight bytes go per step. */
static void build_tables(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int bit = 0; bit < 8; bit++)
			c = times_x(c);
		table[0][i] = c;
	}
	for (int k = 1; k < 8; k++)
		for (uint32_t i = 0; i < 256; i++)
			table[k][i] = (table[k - 1][i] >> 8) ^
				      table[0][table[k - 1][i] & 0xFFu];
}

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Both table sets are built before main too, while the process has one
 * thread: a race checker (helgrind) does not see the order pthread_once
 * makes, and would report every reader of the tables as racing the
 * builder. The calls on the paths stay, for a caller that comes first (from
 * another constructor). */
__attribute__((constructor)) static void build_tables_at_start(void)
{
	pthread_once(&table_once, build_tables);
}

uint32_t ipc_crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len == 0)
		return crc;
	pthread_once(&table_once, build_tables);
	crc = ~crc;
	for (; len >= 8; p += 8, len -= 8) {
		uint32_t lo = crc ^ load_le32(p);
		uint32_t hi = load_le32(p + 4);
		crc = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^
		      table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24] ^
		      table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^
		      table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
	}
	for (; len > 0; p++, len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p) & 0xFF];
	return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/*
 * The crc32 instruction takes three cycles but a new one can start every
 * cycle, so one dependent chain uses a third of it. Long buffers therefore
 * run as three chains over three adjacent lanes of a block, interleaved,
 * and the lanes' CRCs are joined after each block. CRC is linear: over A
 * followed by B, the register from c is the register after A advanced over
 * |B| zero bytes (multiplied by x^(8|B|)), xor the register over B from 0.
 * That advance is a linear map of 32 bits, kept as four byte tables per
 * lane length.
 *
 * LANE_LONG lanes carry the bulk with the join cost spread thin;
 * LANE_SHORT lanes take what is left, so at most 3 * LANE_SHORT - 1 bytes
 * go down the single chain. Below 3 * LANE_SHORT bytes none of this runs,
 * and small messages cost what they always did.
 */
#define LANE_LONG 8192u
#define LANE_SHORT 256u

static uint32_t advance_long[4][256];
static uint32_t advance_short[4][256];
static pthread_once_t advance_once = PTHREAD_ONCE_INIT;

/* a * b modulo the polynomial. */
static uint32_t multiply_mod_poly(uint32_t a, uint32_t b)
{
	uint32_t product = 0;

	for (uint32_t term = 1u << 31; term != 0; term >>= 1, b = times_x(b))
		if (a & term)
			product ^= b;
	return product;
}

/* What advancing the register over `bytes` zero bytes multiplies it by:
 * x^(8 * bytes), by squaring, so that building the tables before main
 * costs a few dozen products, not a step per bit. */
static uint32_t x_to_8_times(size_t bytes)
{
	uint32_t power = 1u << 31;  /* x^0 */
	uint32_t square = 1u << 23; /* x^8: one zero byte */

	for (; bytes != 0; bytes >>= 1, square = multiply_mod_poly(square, square))
		if (bytes & 1u)
			power = multiply_mod_poly(power, square);
	return power;
}

/* op[k][i]: byte k of the register being i, the rest zero, advanced over
 * `bytes` zero bytes; by linearity the four lookups of a register add up.
 * Linearity also fills each table: only its single-bit entries need a
 * product, every other entry is two earlier ones xor-ed. */
static void build_advance_table(uint32_t op[4][256], size_t bytes)
{
	uint32_t power = x_to_8_times(bytes);

	for (int k = 0; k < 4; k++) {
		op[k][0] = 0;
		for (uint32_t i = 1; i < 256; i++) {
			uint32_t low = i & (0u - i);

			op[k][i] = low == i ? multiply_mod_poly(power, i << (8 * k))
					    : op[k][low] ^ op[k][i ^ low];
		}
	}
}

static void build_advance_tables(void)
{
	build_advance_table(advance_long, LANE_LONG);
	build_advance_table(advance_short, LANE_SHORT);
}

__attribute__((constructor)) static void build_advance_tables_at_start(void)
{
	pthread_once(&advance_once, build_advance_tables); /* see build_tables_at_start */
}

static uint32_t advance_over_zeros(const uint32_t op[4][256], uint32_t crc)
{
	return op[0][crc & 0xFFu] ^ op[1][(crc >> 8) & 0xFFu] ^
	       op[2][(crc >> 16) & 0xFFu] ^ op[3][crc >> 24];
}

static uint64_t load_word(const uint8_t *p)
{
	uint64_t word;

	memcpy(&word, p, sizeof word);
	return word;
}

/* The register carried over one block of three lanes of `lane` bytes (a
 * multiple of 8) each; op advances over `lane` zero bytes. Inlined with a
 * constant lane, so the lane offsets are immediate. */
__attribute__((target("sse4.2"), always_inline))
static inline uint64_t crc_three_lanes(uint64_t crc, const uint8_t *p,
				       size_t lane, const uint32_t op[4][256])
{
	uint64_t crc_b = 0, crc_c = 0;

	for (size_t i = 0; i < lane; i += 8) {
		crc = _mm_crc32_u64(crc, load_word(p + i));
		crc_b = _mm_crc32_u64(crc_b, load_word(p + lane + i));
		crc_c = _mm_crc32_u64(crc_c, load_word(p + 2 * lane + i));
	}
	crc = advance_over_zeros(op, (uint32_t)crc) ^ crc_b;
	return advance_over_zeros(op, (uint32_t)crc) ^ crc_c;
}

/* The register carried over a run from an 8-byte boundary, one chain. */
__attribute__((target("sse4.2"), always_inline))
static inline uint64_t crc_one_chain(uint64_t crc, const uint8_t *p,
				     size_t len)
{
	for (; len >= 8; p += 8, len -= 8)
		crc = _mm_crc32_u64(crc, load_word(p));
	for (; len > 0; p++, len--)
		crc = _mm_crc32_u8((uint32_t)crc, *p);
	return crc;
}

/* The same over a run of at least 3 * LANE_SHORT bytes: blocks of three
 * lanes, then one chain for the rest. Out of line, so that the caller's
 * path for short runs has no registers to save around a call. */
__attribute__((target("sse4.2"), noinline))
static uint64_t crc_lanes_then_chain(uint64_t crc, const uint8_t *p,
				     size_t len)
{
	pthread_once(&advance_once, build_advance_tables);
	for (; len >= 3 * LANE_LONG; p += 3 * LANE_LONG, len -= 3 * LANE_LONG)
		crc = crc_three_lanes(crc, p, LANE_LONG, advance_long);
	for (; len >= 3 * LANE_SHORT;
	     p += 3 * LANE_SHORT, len -= 3 * LANE_SHORT)
		crc = crc_three_lanes(crc, p, LANE_SHORT, advance_short);
	return crc_one_chain(crc, p, len);
}

bool ipc_crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
uint32_t ipc_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c;

	if (len == 0)
		return crc;
	c = ~crc;
	/* Byte steps up to an 8-byte boundary, so the wide loads are aligned. */
	for (; len > 0 && ((uintptr_t)p & 7u) != 0; p++, len--)
		c = _mm_crc32_u8((uint32_t)c, *p);
	if (len >= 3 * LANE_SHORT)
		c = crc_lanes_then_chain(c, p, len);
	else
		c = crc_one_chain(c, p, len);
	return ~(uint32_t)c;
}
#else
/* No instruction to use: the "hardware" path is the portable one, and
 * ipc_crc32c_hw_available() says so. */
bool ipc_crc32c_hw_available(void)
{
	return false;
}

uint32_t ipc_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return ipc_crc32c_portable(crc, buf, len);
}
#endif

uint32_t ipc_crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (ipc_crc32c_hw_available())
		return ipc_crc32c_hw(crc, buf, len);
	return ipc_crc32c_portable(crc, buf, len);
}

const char *ipc_crc32c_impl_name(void)
{
	return ipc_crc32c_hw_available() ? "sse4.2" : "portable";
}
