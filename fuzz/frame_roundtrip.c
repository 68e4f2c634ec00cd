/*
 * frame_roundtrip: messages described by the input are encoded, decoded,
 * and must come back as they went in.
 *
 * Input: frame limit (2 bytes, big-endian, 0..65535), first seq (4 bytes,
 * big-endian, so seq wrap is reachable), then records while 4 bytes remain:
 * type (2 bytes), length (2 bytes), and that many payload bytes (cut to what
 * the input has left).
 *
 * A record the encoder must refuse (type 0, or payload with a frame limit of
 * 0) is checked for EINVAL and left out of the stream. Every other message
 * is encoded with ipcf_encode into a buffer of exactly the documented size
 * (one byte less must fail with ENOBUFS), must equal its frame-at-a-time
 * encoding with ipcf_encode_next_frame, and must decode (frame limit as
 * encoded, message limit the largest message) to the same type, first seq,
 * frame count, length, bytes and stream position, with a clean end.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "fuzz_common.h"

struct record {
	uint16_t type;
	const uint8_t *payload;
	size_t len;
};

struct roundtrip {
	uint32_t max_frame;
	struct record *rec; /* the messages encoded, in order */
	size_t n_rec;
	uint8_t *stream;
	size_t stream_len, stream_cap;
	/* decoding progress */
	size_t next;
	uint32_t seq;
	uint64_t offset;
};

static uint64_t frames_for(size_t len, uint32_t max_frame)
{
	return len == 0 ? 1 : ((uint64_t)len + max_frame - 1) / max_frame;
}

static void *must_alloc(size_t size)
{
	void *p = malloc(size > 0 ? size : 1);

	FUZZ_CHECK(p != NULL, "out of memory for %zu bytes", size);
	return p;
}

static void check_refused(const struct ipcf_encoder *enc,
			  const struct record *r)
{
	struct ipcf_encoder copy = *enc;
	/* Room for the message at any frame limit, so only EINVAL applies. */
	size_t cap = r->len + IPCF_HEADER_SIZE * (r->len + 1);
	uint8_t *out = must_alloc(cap);
	size_t n;

	errno = 0;
	n = ipcf_encode(&copy, r->type, r->payload, r->len, out, cap);
	FUZZ_CHECK(n == 0 && errno == EINVAL,
		   "ipcf_encode(type %u, %zu bytes, frame limit %" PRIu32
		   ") returned %zu with errno %d; expected 0 with EINVAL",
		   r->type, r->len, enc->max_frame, n, errno);
	if (r->len > 0 && enc->max_frame == 0)
		FUZZ_CHECK(ipcf_frame_count(r->len, 0) == 0 &&
				   ipcf_encoded_size(r->len, 0) == 0,
			   "%zu bytes with frame limit 0: frame count %" PRIu64
			   ", size %" PRIu64 "; expected 0 and 0",
			   r->len, ipcf_frame_count(r->len, 0),
			   ipcf_encoded_size(r->len, 0));
	free(out);
}

static void check_too_small_buffer(const struct ipcf_encoder *enc,
				   const struct record *r, size_t size)
{
	struct ipcf_encoder copy = *enc;
	uint8_t *out = must_alloc(size - 1);
	size_t n;

	errno = 0;
	n = ipcf_encode(&copy, r->type, r->payload, r->len, out, size - 1);
	FUZZ_CHECK(n == 0 && errno == ENOBUFS,
		   "ipcf_encode of %zu bytes into %zu of the %zu needed returned"
		   " %zu with errno %d; expected 0 with ENOBUFS",
		   r->len, size - 1, size, n, errno);
	free(out);
}

/* The writev-style encoder must produce the same frames as ipcf_encode. */
static void check_frame_at_a_time(uint32_t seq, uint32_t max_frame,
				  const struct record *r, const uint8_t *enc,
				  size_t size, uint64_t frames)
{
	struct ipcf_encoder w;
	uint8_t hdr[IPCF_HEADER_SIZE];
	size_t at = 0, done = 0;
	uint64_t i = 0;

	ipcf_encoder_init(&w, seq, max_frame);
	do {
		FUZZ_CHECK(i < frames, "frame-at-a-time encoding of %zu bytes"
			   " goes past the %" PRIu64 " frames of ipcf_encode",
			   r->len, frames);
		uint32_t n = ipcf_encode_next_frame(&w, r->type,
						    r->payload + done,
						    r->len - done, hdr);
		FUZZ_CHECK(n <= r->len - done && at + IPCF_HEADER_SIZE + n <= size &&
				   memcmp(hdr, enc + at, IPCF_HEADER_SIZE) == 0 &&
				   (n == 0 || memcmp(enc + at + IPCF_HEADER_SIZE,
						     r->payload + done, n) == 0),
			   "frame %" PRIu64 " (%" PRIu32 " bytes at payload %zu)"
			   " differs from ipcf_encode's frame at %zu",
			   i, n, done, at);
		done += n;
		at += IPCF_HEADER_SIZE + n;
		i++;
	} while (hdr[5] & IPCF_FLAG_MORE);
	FUZZ_CHECK(at == size && done == r->len &&
			   w.seq == (uint32_t)(seq + frames),
		   "frame-at-a-time encoding wrote %zu bytes of %zu payload in %"
		   PRIu64 " frames, next seq %" PRIu32 "; ipcf_encode: %zu bytes,"
		   " %" PRIu64 " frames, next seq %" PRIu32,
		   at, done, i, w.seq, size, frames, (uint32_t)(seq + frames));
}

/* Room for `more` bytes at the stream's end. The room doubles: an input
 * of a thousand small messages would otherwise copy the stream a thousand
 * times (a sanitizer's realloc always moves it). */
static void reserve_stream(struct roundtrip *rt, size_t more)
{
	size_t cap = rt->stream_cap > 0 ? rt->stream_cap : 256;

	if (rt->stream_len + more <= rt->stream_cap)
		return;
	while (cap < rt->stream_len + more)
		cap *= 2;
	rt->stream = realloc(rt->stream, cap);
	FUZZ_CHECK(rt->stream != NULL, "out of memory for a %zu-byte stream",
		   cap);
	rt->stream_cap = cap;
}

static void encode_one(struct roundtrip *rt, struct ipcf_encoder *enc,
		       const struct record *r)
{
	uint64_t frames = frames_for(r->len, enc->max_frame);
	size_t size = (size_t)frames * IPCF_HEADER_SIZE + r->len;
	uint32_t seq = enc->seq;
	uint8_t *out = must_alloc(size);
	size_t n;

	FUZZ_CHECK(ipcf_frame_count(r->len, enc->max_frame) == frames &&
			   ipcf_encoded_size(r->len, enc->max_frame) == size,
		   "%zu bytes, frame limit %" PRIu32 ": frame count %" PRIu64
		   ", size %" PRIu64 "; expected %" PRIu64 " and %zu",
		   r->len, enc->max_frame,
		   ipcf_frame_count(r->len, enc->max_frame),
		   ipcf_encoded_size(r->len, enc->max_frame), frames, size);
	check_too_small_buffer(enc, r, size);
	errno = 0;
	n = ipcf_encode(enc, r->type, r->payload, r->len, out, size);
	FUZZ_CHECK(n == size && enc->seq == (uint32_t)(seq + frames),
		   "ipcf_encode(type %u, %zu bytes, frame limit %" PRIu32
		   ") returned %zu (errno %d), next seq %" PRIu32
		   "; expected %zu, next seq %" PRIu32,
		   r->type, r->len, enc->max_frame, n, errno, enc->seq, size,
		   (uint32_t)(seq + frames));
	check_frame_at_a_time(seq, enc->max_frame, r, out, size, frames);
	reserve_stream(rt, size);
	memcpy(rt->stream + rt->stream_len, out, size);
	rt->stream_len += size;
	free(out);
}

static int on_message(const struct ipcf_message *msg, void *arg)
{
	struct roundtrip *rt = arg;

	FUZZ_CHECK(rt->next < rt->n_rec, "decoded message %zu at %" PRIu64
		   ", but only %zu were encoded",
		   rt->next, msg->offset, rt->n_rec);
	const struct record *r = &rt->rec[rt->next];
	uint64_t frames = frames_for(r->len, rt->max_frame);
	uint64_t end = rt->offset + frames * IPCF_HEADER_SIZE + r->len;
	FUZZ_CHECK(msg->type == r->type && msg->seq == rt->seq &&
			   msg->frames == frames && msg->length == r->len &&
			   msg->offset == rt->offset && msg->end == end,
		   "message %zu decoded as type %u seq %" PRIu32 " frames %"
		   PRIu32 " length %zu at [%" PRIu64 ",%" PRIu64
		   "); encoded as type %u seq %" PRIu32 " frames %" PRIu64
		   " length %zu at [%" PRIu64 ",%" PRIu64 ")",
		   rt->next, msg->type, msg->seq, msg->frames, msg->length,
		   msg->offset, msg->end, r->type, rt->seq, frames, r->len,
		   rt->offset, end);
	FUZZ_CHECK(r->len == 0 || memcmp(msg->data, r->payload, r->len) == 0,
		   "message %zu: decoded bytes differ from the encoded ones",
		   rt->next);
	rt->seq += (uint32_t)frames;
	rt->offset = end;
	rt->next++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct roundtrip rt = { 0 };
	struct ipcf_encoder enc;
	size_t max_len = 0;
	enum ipcf_fault fault;
	uint64_t offset;
	int rc;

	rt.max_frame = fuzz_take_be16(&in);
	rt.seq = fuzz_take_be32(&in);
	rt.rec = must_alloc((in.left / 4 + 1) * sizeof *rt.rec);
	ipcf_encoder_init(&enc, rt.seq, rt.max_frame);
	while (in.left >= 4) {
		struct record r;

		r.type = fuzz_take_be16(&in);
		r.payload = fuzz_take_bytes(&in, fuzz_take_be16(&in), &r.len);
		if (r.type == 0 || (r.len > 0 && rt.max_frame == 0)) {
			check_refused(&enc, &r);
			continue;
		}
		encode_one(&rt, &enc, &r);
		rt.rec[rt.n_rec++] = r;
		if (r.len > max_len)
			max_len = r.len;
	}
	/* Cut to its length, so that a read past the stream's end is one
	 * past its allocation, which AddressSanitizer reports. */
	if (rt.stream != NULL) {
		rt.stream = realloc(rt.stream, rt.stream_len);
		FUZZ_CHECK(rt.stream != NULL, "out of memory for a %zu-byte"
			   " stream", rt.stream_len);
	}
	/* An empty stream still gets a valid pointer: NULL is not promised. */
	rc = ipcf_decode_all(rt.stream ? rt.stream : data, rt.stream_len,
			     rt.max_frame, (uint32_t)max_len, on_message, &rt,
			     &fault, &offset);
	FUZZ_CHECK(rc == 0 && fault == IPCF_OK && rt.next == rt.n_rec,
		   "decoding the %zu-byte stream of %zu messages returned %d"
		   " after %zu messages, stopping with %s at %" PRIu64
		   "; expected every message and a clean end",
		   rt.stream_len, rt.n_rec, rc, rt.next, ipcf_fault_name(fault),
		   offset);
	free(rt.stream);
	free(rt.rec);
	return 0;
}
