/* Big-endian field access for IPCF headers (private to impl/). */
#ifndef IPC_IPCF_WIRE_H
#define IPC_IPCF_WIRE_H

#include <stdint.h>

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Header layout: magic 0..3, version 4, flags 5, type 6..7, seq 8..11,
 * length 12..15, crc 16..19. The CRC covers bytes 0..15, then the payload. */
#define IPCF_OFF_VERSION 4
#define IPCF_OFF_FLAGS 5
#define IPCF_OFF_TYPE 6
#define IPCF_OFF_SEQ 8
#define IPCF_OFF_LENGTH 12
#define IPCF_OFF_CRC 16

static const uint8_t ipcf_magic[4] = {'I', 'P', 'C', 'F'};

#endif
