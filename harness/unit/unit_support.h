/*
 * What the unit suites share: deterministic random data, streams of frames
 * built by hand (hostile ones included), and a decoder driver that feeds a
 * stream cut into pieces and records every message and the fault.
 */
#ifndef IPCH_UNIT_SUPPORT_H
#define IPCH_UNIT_SUPPORT_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ipc/ipcf.h"

/* ---- Deterministic random data (splitmix64, fixed seeds) ---------------- */

struct prng {
	uint64_t state;
};

uint64_t prng_next(struct prng *rng);
/* Uniform enough in [0, bound) for test data; bound must be > 0. */
uint64_t prng_below(struct prng *rng, uint64_t bound);
void prng_fill(struct prng *rng, void *buf, size_t len);

/* Fails the test when memory runs out; never returns NULL, even for 0. */
void *xmalloc(size_t len);
/* len bytes of random data from a PRNG seeded with seed. */
uint8_t *random_bytes(uint64_t seed, size_t len);

uint32_t be32_load(const uint8_t *p);
void be32_store(uint8_t *p, uint32_t value);

/* ---- Streams of frames ---------------------------------------------------- */

struct stream {
	uint8_t *data;
	size_t len;
	size_t cap;
};

void stream_append(struct stream *s, const void *bytes, size_t len);
/* Appends one frame packed by ipcf_header_pack; returns where it starts. */
size_t stream_put_frame(struct stream *s, uint8_t flags, uint16_t type,
			uint32_t seq, const void *payload, uint32_t len);
/* Appends one message encoded by ipcf_encode; returns where it starts. */
size_t stream_put_message(struct stream *s, struct ipcf_encoder *enc,
			  uint16_t type, const void *payload, size_t len);
void stream_free(struct stream *s);

/*
 * Hostile edits to the frame starting at off. frame_set_byte rewrites one
 * header byte and recomputes the CRC, so that the frame has exactly the one
 * fault the test wants; frame_reseal recomputes the CRC alone.
 * frame_set_length changes the announced length and leaves the CRC alone
 * (the payload it would cover need not exist).
 */
void frame_set_byte(struct stream *s, size_t off, size_t index, uint8_t value);
void frame_set_length(struct stream *s, size_t off, uint32_t length);
void frame_reseal(struct stream *s, size_t off);

/* Where the frames of a well-formed stream start; returns how many. */
size_t frame_offsets(const struct stream *s, size_t *offsets, size_t max);

/* ---- Decoding and what came out ----------------------------------------- */

struct decoded_message {
	uint16_t type;
	uint32_t seq;
	uint32_t frames;
	size_t length;
	uint8_t *data;
	uint64_t offset;
	uint64_t end;
};

struct outcome {
	struct decoded_message *messages;
	size_t count;
	size_t cap;
	enum ipcf_fault fault; /* IPCF_OK: the input ended on a message boundary */
	uint64_t fault_offset;
	/* Stream bytes taken when the fault was reported (by feed or finish). */
	uint64_t taken_at_fault;
};

void outcome_add_message(struct outcome *o, const struct ipcf_message *msg);
/* Appends a message expected from a stream, for comparison. */
void outcome_expect_message(struct outcome *o, uint16_t type, uint32_t seq,
			    uint32_t frames, const void *data, size_t length,
			    uint64_t offset, uint64_t end);
void outcome_free(struct outcome *o);

/*
 * Feeds data to a fresh decoder as pieces ending at each of cuts[]
 * (ascending; 0, len and repeats allowed, giving empty feeds), then the
 * rest, then finishes the input. Every feed call is checked against the
 * contract of ipcf_decoder_feed.
 */
void decode_in_pieces(const uint8_t *data, size_t len, const size_t *cuts,
		      size_t ncuts, uint32_t max_frame, uint32_t max_message,
		      struct outcome *out);
void decode_whole(const uint8_t *data, size_t len, uint32_t max_frame,
		  uint32_t max_message, struct outcome *out);
void decode_bytewise(const uint8_t *data, size_t len, uint32_t max_frame,
		     uint32_t max_message, struct outcome *out);
/* The same through ipcf_decode_all. */
void decode_with_decode_all(const uint8_t *data, size_t len,
			    uint32_t max_frame, uint32_t max_message,
			    struct outcome *out);

/* Fails the test, naming context and the first difference. */
void assert_same_outcome(const struct outcome *expected,
			 const struct outcome *got, const char *context);

#define assert_fault_at(o, kind, off)                                          \
	do {                                                                   \
		const struct outcome *o_ = (o);                                \
		if (o_->fault != (kind) ||                                     \
		    o_->fault_offset != (uint64_t)(off))                       \
			fail_msg("expected fault %s at offset %llu, got %s at "   \
				 "offset %llu",                                \
				 ipcf_fault_name(kind),                        \
				 (unsigned long long)(off),                    \
				 ipcf_fault_name(o_->fault),                   \
				 (unsigned long long)o_->fault_offset);        \
	} while (0)

#define assert_no_fault(o) assert_fault_at((o), IPCF_OK, 0)

#endif
