/*
 * frame_decode: any bytes, decoded one-shot with ipcf_decode_all.
 *
 * Input: byte 0 picks the frame and message limits (fuzz_common.h: low
 * nibble frame limit, high nibble message limit, 0xFF the 16 MiB defaults);
 * the rest is the stream.
 *
 * Oracles: every accepted message re-encodes to the very bytes it came from
 * (each frame of [offset,end) rebuilt with ipcf_header_pack from the decoded
 * type, seq and flags, and its payload slice), and its payload is its frames'
 * payloads joined. Independently, a plain reading of the spec walks the same
 * stream: the decoder must accept exactly the messages it accepts and stop
 * with the same first fault at the same offset.
 */
#include <inttypes.h>
#include <string.h>

#include "fuzz_common.h"

/* The spec's decoder, written for clarity rather than speed. */
struct model {
	const uint8_t *in;
	size_t len;
	struct fuzz_limits lim;
	size_t pos;
	int have_seq;
	uint32_t last_seq;
};

struct frame {
	uint8_t flags;
	uint16_t type;
	uint32_t seq;
	uint32_t length;
};

/* The spec's checks, in its order, on the frame at m->pos; *msg is the
 * message so far (no frames when none is open). */
static enum ipcf_fault model_judge(const struct model *m,
				   const struct ipcf_message *msg,
				   struct frame *fr)
{
	const uint8_t *f = m->in + m->pos;
	size_t left = m->len - m->pos;
	uint8_t repacked[IPCF_HEADER_SIZE];

	if (left < IPCF_HEADER_SIZE)
		return IPCF_FAULT_TRUNCATED;
	fr->flags = f[5];
	fr->type = (uint16_t)(f[6] << 8 | f[7]);
	fr->seq = fuzz_get_be32(f + 8);
	fr->length = fuzz_get_be32(f + 12);
	if (memcmp(f, "IPCF", 4) != 0)
		return IPCF_FAULT_MAGIC;
	if (f[4] != IPCF_VERSION)
		return IPCF_FAULT_VERSION;
	if (fr->flags & ~IPCF_FLAG_MORE)
		return IPCF_FAULT_FLAGS;
	if (fr->type == 0)
		return IPCF_FAULT_TYPE;
	if (fr->length > m->lim.max_frame ||
	    (uint64_t)msg->length + fr->length > m->lim.max_message)
		return IPCF_FAULT_TOO_BIG;
	if (left - IPCF_HEADER_SIZE < fr->length)
		return IPCF_FAULT_TRUNCATED;
	ipcf_header_pack(repacked, fr->flags, fr->type, fr->seq,
			 f + IPCF_HEADER_SIZE, fr->length);
	if (memcmp(repacked + 16, f + 16, 4) != 0)
		return IPCF_FAULT_CRC;
	if (m->have_seq && fr->seq != (uint32_t)(m->last_seq + 1))
		return IPCF_FAULT_SEQ;
	if (msg->frames > 0 && fr->type != msg->type)
		return IPCF_FAULT_TYPE;
	return IPCF_OK;
}

/* Walks to the next whole message (returns 1, *msg without data) or to
 * where the stream stops (returns 0 with *fault, *offset; IPCF_OK at a
 * clean end). */
static int model_next(struct model *m, struct ipcf_message *msg,
		      enum ipcf_fault *fault, uint64_t *offset)
{
	struct frame fr;

	memset(msg, 0, sizeof *msg);
	msg->offset = m->pos;
	for (;;) {
		if (m->pos == m->len) {
			*fault = msg->frames > 0 ? IPCF_FAULT_TRUNCATED : IPCF_OK;
			*offset = m->len;
			return 0;
		}
		*fault = model_judge(m, msg, &fr);
		if (*fault != IPCF_OK) {
			*offset = m->pos;
			return 0;
		}
		if (msg->frames++ == 0) {
			msg->type = fr.type;
			msg->seq = fr.seq;
		}
		msg->length += fr.length;
		m->have_seq = 1;
		m->last_seq = fr.seq;
		m->pos += IPCF_HEADER_SIZE + fr.length;
		if (!(fr.flags & IPCF_FLAG_MORE)) {
			msg->end = m->pos;
			return 1;
		}
	}
}

static void check_reencodes(const struct model *m,
			    const struct ipcf_message *msg)
{
	uint8_t hdr[IPCF_HEADER_SIZE];
	uint64_t at = msg->offset;
	size_t joined = 0;
	uint32_t i;

	FUZZ_CHECK(msg->offset < msg->end && msg->end <= m->len,
		   "message spans [%" PRIu64 ",%" PRIu64 ") of a %zu-byte stream",
		   msg->offset, msg->end, m->len);
	for (i = 0; at < msg->end; i++) {
		FUZZ_CHECK(msg->end - at >= IPCF_HEADER_SIZE,
			   "frame %" PRIu32 " at %" PRIu64
			   ": the message ends at %" PRIu64 ", inside its header",
			   i, at, msg->end);
		const uint8_t *frame = m->in + at;
		uint32_t length = fuzz_get_be32(frame + 12);
		FUZZ_CHECK(length <= msg->end - at - IPCF_HEADER_SIZE,
			   "frame %" PRIu32 " at %" PRIu64 ": length %" PRIu32
			   " runs past the message end %" PRIu64,
			   i, at, length, msg->end);
		uint64_t next = at + IPCF_HEADER_SIZE + length;
		uint8_t flags = next < msg->end ? IPCF_FLAG_MORE : 0;
		ipcf_header_pack(hdr, flags, msg->type, msg->seq + i,
				 frame + IPCF_HEADER_SIZE, length);
		FUZZ_CHECK(memcmp(hdr, frame, IPCF_HEADER_SIZE) == 0,
			   "frame %" PRIu32 " at %" PRIu64
			   " does not re-encode from type %u, seq %" PRIu32
			   ", flags %u",
			   i, at, msg->type, msg->seq + i, flags);
		FUZZ_CHECK(joined + length <= msg->length &&
				   (length == 0 ||
				    memcmp(msg->data + joined,
					   frame + IPCF_HEADER_SIZE, length) == 0),
			   "frame %" PRIu32 " at %" PRIu64
			   ": payload differs from message bytes %zu.. (length %zu)",
			   i, at, joined, msg->length);
		joined += length;
		at = next;
	}
	FUZZ_CHECK(i == msg->frames, "message at %" PRIu64 " has %" PRIu32
		   " frames on the wire but reports %" PRIu32,
		   msg->offset, i, msg->frames);
	FUZZ_CHECK(joined == msg->length, "message at %" PRIu64 " joins %zu"
		   " payload bytes but reports length %zu",
		   msg->offset, joined, msg->length);
}

static void check_matches_model(struct model *m, const struct ipcf_message *got)
{
	struct ipcf_message want;
	enum ipcf_fault fault;
	uint64_t offset;

	FUZZ_CHECK(model_next(m, &want, &fault, &offset),
		   "decoder accepted a message at [%" PRIu64 ",%" PRIu64
		   ") where the spec stops with %s at %" PRIu64,
		   got->offset, got->end, ipcf_fault_name(fault), offset);
	FUZZ_CHECK(got->offset == want.offset && got->end == want.end &&
			   got->type == want.type && got->seq == want.seq &&
			   got->frames == want.frames &&
			   got->length == want.length,
		   "decoder message [%" PRIu64 ",%" PRIu64 ") type %u seq %" PRIu32
		   " frames %" PRIu32 " length %zu; the spec's: [%" PRIu64
		   ",%" PRIu64 ") type %u seq %" PRIu32 " frames %" PRIu32
		   " length %zu",
		   got->offset, got->end, got->type, got->seq, got->frames,
		   got->length, want.offset, want.end, want.type, want.seq,
		   want.frames, want.length);
}

static int on_message(const struct ipcf_message *msg, void *arg)
{
	struct model *m = arg;

	check_reencodes(m, msg);
	check_matches_model(m, msg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct model m = { 0 };
	struct ipcf_message next;
	enum ipcf_fault fault, want;
	uint64_t offset = 0, want_offset;
	int rc;

	m.lim = fuzz_limits_from_byte(fuzz_take_u8(&in));
	m.in = in.p;
	m.len = in.left;
	rc = ipcf_decode_all(m.in, m.len, m.lim.max_frame, m.lim.max_message,
			     on_message, &m, &fault, &offset);
	FUZZ_CHECK(rc == 0, "ipcf_decode_all returned %d on a %zu-byte stream",
		   rc, m.len);
	FUZZ_CHECK(!model_next(&m, &next, &want, &want_offset),
		   "decoder stopped with %s at %" PRIu64
		   " before the valid message at [%" PRIu64 ",%" PRIu64 ")",
		   ipcf_fault_name(fault), offset, next.offset, next.end);
	FUZZ_CHECK(fault == want && (fault == IPCF_OK || offset == want_offset),
		   "decoder stopped with %s at %" PRIu64
		   "; the spec stops with %s at %" PRIu64
		   " (limits: frame %" PRIu32 ", message %" PRIu32 ")",
		   ipcf_fault_name(fault), offset, ipcf_fault_name(want),
		   want_offset, m.lim.max_frame, m.lim.max_message);
	return 0;
}
