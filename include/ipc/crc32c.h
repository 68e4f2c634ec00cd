/* CRC-32C (Castagnoli): the checksum of every IPCF v1 frame. */
#ifndef IPC_CRC32C_H
#define IPC_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * All three functions continue a running CRC: pass 0 to start, and the
 * previous result to go on, so that
 *     ipc_crc32c(ipc_crc32c(0, a, n), b, m) == ipc_crc32c(0, a || b, n + m).
 * The pre- and post-inversion (init and final xor 0xFFFFFFFF) are done inside.
 */

/* The fastest path this CPU has, chosen once at run time. */
uint32_t ipc_crc32c(uint32_t crc, const void *buf, size_t len);

/* Table-driven (slice-by-8); runs everywhere. */
uint32_t ipc_crc32c_portable(uint32_t crc, const void *buf, size_t len);

/* SSE4.2 crc32 instruction. Call only when ipc_crc32c_hw_available(). */
uint32_t ipc_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool ipc_crc32c_hw_available(void);

/* "sse4.2" or "portable": what ipc_crc32c() uses. */
const char *ipc_crc32c_impl_name(void);

#endif
