/*
 * The input format of the channel_* fuzz targets, shared by their driver
 * (fuzz/channel_driver.c, whose top comment describes the format and the
 * invariants) and by the seed generator (fuzz/seeds.c).
 */
#ifndef IPCH_CHANNEL_DRIVER_H
#define IPCH_CHANNEL_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/ipcf.h"

/* The backend a channel target drives: its name in ipc_backends[]. Each
 * fuzz/channel_<name>.c defines this and nothing else. */
extern const char channel_fuzz_backend[];

/* For drivers built on this one (fuzz/signal_driver.c, compiled with
 * IPCH_SIGNAL_TIMING, which defines LLVMFuzzerTestOneInput itself): one
 * input in this format, run and checked as a channel target runs it. */
int channel_fuzz_input(const uint8_t *data, size_t size);
/* Counts one delivered plan signal, as the driver's own handler does; a
 * handler installed in its place must count through this, or through
 * chf_before_signal_checks, which run() calls (if set) after both ends are
 * closed and before the signal counts are checked. */
void chf_count_signal(void);
extern void (*chf_before_signal_checks)(void);

/* Byte 0: options. */
#define CHF_PLAN_FIRST 0x01u    /* the plan also covers making the pair */
#define CHF_FRAME_SHIFT 1       /* bits 1-3: index into chf_frame_limits */
#define CHF_FRAME_MASK 0x07u
#define CHF_BATCH 0x10u         /* send while the bytes fit, then receive */
#define CHF_MESSAGE_SHIFT 5     /* bits 5-6: index into chf_message_limits */
#define CHF_MESSAGE_MASK 0x03u
#define CHF_READER_GONE 0x80u   /* end by closing the receiving end */

/* Byte 1: the number of messages in its low 4 bits; two backend options. */
#define CHF_COUNT_MASK 0x0Fu
#define CHF_MAX_MESSAGES 15u
#define CHF_ABSTRACT 0x10u      /* ipc_opts.abstract (unix-stream pairs) */
#define CHF_IPV6 0x20u          /* ipc_opts.ipv6 (tcp pairs) */

/* Then one record per message: type (2 bytes, big-endian), size (2 bytes,
 * big-endian, the bits below), payload pattern (1 byte). */
#define CHF_SIZE_LARGE 0x8000u   /* the length is CHF_LARGE_BASE + bits 0-13 */
#define CHF_SIZE_REVERSE 0x4000u /* duplex backends: the second end sends */
#define CHF_SIZE_LENGTH 0x3FFFu  /* otherwise the length, 0..16383 */
/* Large messages are 56 KiB up to 72 KiB - 1: across a pipe's 64 KiB frame
 * limit and the receiver's 64 KiB reads (64 KiB + 1 is 0x8000 | 8193). */
#define CHF_LARGE_BASE (56u * 1024u)

/* Wire bytes a single thread may have in flight before it receives: room
 * for a large message, twice a default pipe (the driver widens kernel
 * buffers well past this). */
#define CHF_IN_FLIGHT (128u * 1024u)
/* Frames one message, or a batch, may take: each is a write (over TCP, a
 * segment, and many small ones in flight wait for the kernel's timers), so
 * this keeps tiny frame limits fast. */
#define CHF_MAX_FRAMES 16u

/* Frame limits: a pipe's 64 KiB, the smallest, odd ones, PIPE_BUF and one
 * over, and half a pipe's. */
static const uint32_t chf_frame_limits[8] = {
	65536, 1, 7, 16, 255, 4096, 4097, 32768,
};
/* Message limits; 0 is the channel default (16 MiB). */
static const uint32_t chf_message_limits[4] = { 0, 1, 4096, 16384 };

/* Payload byte i of a message with this pattern byte: a byte moved by one
 * or by 256 places shows. */
static inline uint8_t chf_pattern_byte(uint8_t pattern, size_t i)
{
	return (uint8_t)(pattern + 7u * i + (i >> 8));
}

/* Frames a message of len bytes takes with this frame limit. */
static inline size_t chf_frames(size_t len, uint32_t frame)
{
	return len == 0 ? 1 : (len + frame - 1) / frame;
}

/* Bytes a message of len bytes takes on the wire with this frame limit. */
static inline size_t chf_wire_size(size_t len, uint32_t frame)
{
	return len + chf_frames(len, frame) * IPCF_HEADER_SIZE;
}

/* The largest message that fits in_flight bytes alone in at most
 * max_frames frames (CHF_IN_FLIGHT and CHF_MAX_FRAMES, or less where a
 * backend's kernel object holds less). */
static inline size_t chf_max_length(uint32_t frame, size_t in_flight,
				    size_t max_frames)
{
	size_t best = 0;

	for (size_t k = 1; k <= max_frames; k++) {
		size_t room, len;

		if (k * IPCF_HEADER_SIZE > in_flight)
			break;
		room = in_flight - k * IPCF_HEADER_SIZE;
		len = k * (size_t)frame < room ? k * (size_t)frame : room;
		if (len > best)
			best = len;
	}
	return best;
}

/* The length a size field asks for, cut to what this frame limit and room
 * allow. */
static inline size_t chf_length(uint16_t size, uint32_t frame,
				size_t in_flight, size_t max_frames)
{
	size_t most = chf_max_length(frame, in_flight, max_frames);
	size_t asked = size & CHF_SIZE_LENGTH;

	if (size & CHF_SIZE_LARGE)
		asked += CHF_LARGE_BASE;
	return asked < most ? asked : most;
}

#endif
