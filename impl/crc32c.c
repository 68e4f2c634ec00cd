/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Two paths that must agree bit for bit: slice-by-8 tables for any CPU, and
 * the SSE4.2 crc32 instruction, chosen once at run time. Both take and return
 * the finished CRC, so a caller can continue one over several buffers.
 */
#include "ipc/crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* table[0] is the classic byte table; table[k][i] advances table[k-1][i]
 * by one more zero byte, which is what lets eight bytes go per step. */
static void build_tables(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
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
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t word;
		memcpy(&word, p, sizeof word);
		c = _mm_crc32_u64(c, word);
	}
	for (; len > 0; p++, len--)
		c = _mm_crc32_u8((uint32_t)c, *p);
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
