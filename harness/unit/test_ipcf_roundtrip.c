/*
 * Encoding then decoding gives back the same messages, byte for byte, for
 * every frame limit from 1 byte to 16 MiB and message sizes around each
 * limit; seq wraps at 2^32; 0-byte messages are one empty frame; the size
 * arithmetic agrees with what the encoder writes; and frame-at-a-time
 * encoding writes the same bytes as whole-message encoding.
 */
#include "unit_support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1u << 20)

static uint64_t expected_frames(size_t len, uint32_t limit)
{
	return len == 0 ? 1 : (len + limit - 1) / limit;
}

/* Each frame as the spec lays it out: MORE on all but the last, the same
 * type, consecutive seqs, lengths within the limit adding up to len. */
static void assert_frames_well_formed(const uint8_t *out, size_t size,
				      uint32_t limit, uint16_t type,
				      uint32_t first_seq, size_t len,
				      uint64_t frames)
{
	size_t at = 0;
	size_t payload = 0;

	for (uint64_t i = 0; i < frames; i++) {
		struct ipcf_header hdr;
		int last = i + 1 == frames;

		if (at + IPCF_HEADER_SIZE > size)
			fail_msg("frame %llu of %llu starts past the %zu "
				 "encoded bytes", (unsigned long long)i,
				 (unsigned long long)frames, size);
		assert_int_equal(ipcf_header_unpack(out + at, &hdr), 0);
		assert_int_equal(hdr.version, IPCF_VERSION);
		assert_int_equal(hdr.flags, last ? 0 : IPCF_FLAG_MORE);
		assert_int_equal(hdr.type, type);
		assert_int_equal(hdr.seq, (uint32_t)(first_seq + i));
		assert_true(hdr.length <= limit);
		payload += hdr.length;
		at += IPCF_HEADER_SIZE + hdr.length;
	}
	assert_int_equal(at, size);
	assert_int_equal(payload, len);
}

static void assert_decodes_back(const uint8_t *out, size_t size,
				uint32_t limit, uint16_t type,
				uint32_t first_seq, const uint8_t *payload,
				size_t len, uint64_t frames)
{
	struct ipcf_decoder dec;
	const struct ipcf_message *msg;
	size_t used = 0;

	ipcf_decoder_init(&dec, limit,
			  len > IPCF_DEFAULT_LIMIT ? (uint32_t)len
						   : IPCF_DEFAULT_LIMIT);
	assert_int_equal(ipcf_decoder_feed(&dec, out, size, &used),
			 IPCF_MESSAGE);
	assert_int_equal(used, size);
	msg = ipcf_decoder_message(&dec);
	assert_non_null(msg);
	assert_int_equal(msg->type, type);
	assert_int_equal(msg->seq, first_seq);
	assert_int_equal(msg->frames, frames);
	assert_int_equal(msg->length, len);
	assert_int_equal(msg->offset, 0);
	assert_int_equal(msg->end, size);
	if (len > 0 && memcmp(msg->data, payload, len) != 0)
		fail_msg("a %zu-byte message at frame limit %u came back with "
			 "other bytes", len, limit);
	assert_int_equal(ipcf_decoder_finish(&dec), IPCF_NEED_MORE);
	ipcf_decoder_free(&dec);
}

static void assert_round_trip(uint32_t limit, size_t len, uint16_t type,
			      uint32_t first_seq, const uint8_t *payload)
{
	struct ipcf_encoder enc;
	uint64_t frames = ipcf_frame_count(len, limit);
	uint64_t size = ipcf_encoded_size(len, limit);
	uint8_t *out;

	if (frames != expected_frames(len, limit))
		fail_msg("ipcf_frame_count(%zu, %u) = %llu, expected %llu", len,
			 limit, (unsigned long long)frames,
			 (unsigned long long)expected_frames(len, limit));
	assert_int_equal(size, len + IPCF_HEADER_SIZE * frames);
	out = xmalloc((size_t)size);
	ipcf_encoder_init(&enc, first_seq, limit);
	assert_int_equal(ipcf_encode(&enc, type, payload, len, out, size),
			 size);
	assert_int_equal(enc.seq, (uint32_t)(first_seq + frames));
	assert_frames_well_formed(out, size, limit, type, first_seq, len,
				  frames);
	assert_decodes_back(out, size, limit, type, first_seq, payload, len,
			    frames);
	free(out);
}

/* Sizes 0, 1, limit - 1, limit, limit + 1 and the extra ones given. */
static void assert_round_trips_at(uint32_t limit, const size_t *extra,
				  size_t nextra)
{
	size_t sizes[5 + 8];
	size_t n = 0, largest = 0;
	uint8_t *payload;

	sizes[n++] = 0;
	sizes[n++] = 1;
	sizes[n++] = limit - 1;
	sizes[n++] = limit;
	sizes[n++] = (size_t)limit + 1;
	for (size_t i = 0; i < nextra && n < sizeof(sizes) / sizeof(sizes[0]);
	     i++)
		sizes[n++] = extra[i];
	for (size_t i = 0; i < n; i++)
		if (sizes[i] > largest)
			largest = sizes[i];
	payload = random_bytes(0x5EED0300 + limit, largest);
	for (size_t i = 0; i < n; i++) {
		uint16_t type = (uint16_t)(1 + (i * 9973) % 65535);

		assert_round_trip(limit, sizes[i], type, 1000 + (uint32_t)i,
				  payload);
	}
	free(payload);
}

#define ROUND_TRIPS_AT(limit, ...)                                             \
	do {                                                                   \
		static const size_t extra[] = { __VA_ARGS__ };                 \
		assert_round_trips_at((limit), extra,                          \
				      sizeof(extra) / sizeof(extra[0]));       \
	} while (0)

static void frame_limit_1(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(1, 2, 5, 37);
}

static void frame_limit_2(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(2, 5, 64);
}

static void frame_limit_3(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(3, 10, 100);
}

static void frame_limit_7(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(7, 50, 7 * 13 + 3);
}

static void frame_limit_20(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(20, 41, 400, 1000);
}

static void frame_limit_4096(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(4096, 3 * 4096 + 5, 65536);
}

static void frame_limit_65536(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(65536, 200000, 4 * 65536);
}

static void frame_limit_1_mib(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(MIB, 16 * MIB, 5 * MIB / 2 + 3);
}

static void frame_limit_16_mib(void **state)
{
	(void)state;
	ROUND_TRIPS_AT(16 * MIB, 100);
}

/* ---- Streams of several messages ------------------------------------------ */

struct planned {
	uint16_t type;
	size_t len;
};

/* Encodes the plan into one stream and checks that decoding gives back
 * every message with its first seq, frame count and offsets. */
static void assert_stream_round_trips(const struct planned *plan, size_t n,
				      uint32_t limit, uint32_t first_seq)
{
	struct stream s = { 0 };
	struct outcome want = { 0 }, got;
	struct ipcf_encoder enc;
	size_t largest = 0;
	uint8_t *payload;

	for (size_t i = 0; i < n; i++)
		if (plan[i].len > largest)
			largest = plan[i].len;
	payload = random_bytes(0x5EED0310, largest);
	ipcf_encoder_init(&enc, first_seq, limit);
	for (size_t i = 0; i < n; i++) {
		uint32_t seq = enc.seq;
		size_t off = stream_put_message(&s, &enc, plan[i].type,
						payload, plan[i].len);

		outcome_expect_message(&want, plan[i].type, seq,
				       (uint32_t)(enc.seq - seq), payload,
				       plan[i].len, off, s.len);
		assert_int_equal(enc.seq - seq,
				 expected_frames(plan[i].len, limit));
	}
	decode_whole(s.data, s.len, limit, IPCF_DEFAULT_LIMIT, &got);
	assert_same_outcome(&want, &got, "stream of several messages");
	outcome_free(&want);
	outcome_free(&got);
	stream_free(&s);
	free(payload);
}

static void several_messages_in_one_stream(void **state)
{
	static const struct planned plan[] = {
		{ 1, 0 },    { 2, 1 },	   { 0xFFFF, 4096 }, { 3, 4097 },
		{ 3, 0 },    { 4, 100000 }, { 0x8000, 12 },
	};

	(void)state;
	assert_stream_round_trips(plan, sizeof(plan) / sizeof(plan[0]), 4096,
				  77);
}

static void zero_byte_messages_alone(void **state)
{
	static const struct planned plan[] = { { 1, 0 }, { 2, 0 }, { 0xFFFF, 0 } };

	(void)state;
	assert_stream_round_trips(plan, 3, 4, 0);
	assert_stream_round_trips(plan, 3, 1, 0);
}

static void zero_byte_messages_between_others(void **state)
{
	static const struct planned plan[] = {
		{ 5, 5 }, { 6, 0 }, { 7, 0 }, { 8, 9 }, { 9, 0 }, { 10, 4 },
	};

	(void)state;
	assert_stream_round_trips(plan, sizeof(plan) / sizeof(plan[0]), 4, 3);
}

/* A 0-byte message is one frame even with a frame limit of 0. */
static void zero_byte_message_at_frame_limit_0(void **state)
{
	(void)state;
	assert_round_trip(0, 0, 1, 5, NULL);
}

/* ---- Seq wrap-around ------------------------------------------------------- */

static void seq_wraps_inside_a_message(void **state)
{
	static const struct planned plan[] = {
		{ 1, 10 }, /* 4 frames: 0xFFFFFFFE, 0xFFFFFFFF, 0, 1 */
		{ 2, 0 },  /* 2 */
		{ 3, 7 },  /* 3, 4, 5 */
	};

	(void)state;
	assert_stream_round_trips(plan, 3, 3, 0xFFFFFFFEu);
}

static void seq_wraps_between_messages(void **state)
{
	static const struct planned plan[] = {
		{ 1, 6 }, /* 0xFFFFFFFE, 0xFFFFFFFF */
		{ 2, 9 }, /* 0, 1, 2 */
	};

	(void)state;
	assert_stream_round_trips(plan, 2, 3, 0xFFFFFFFEu);
}

/* First seqs checked by value rather than only against the encoder. */
static void seq_wrap_first_seqs_by_value(void **state)
{
	uint8_t payload[10] = { 0 };
	struct stream s = { 0 };
	struct ipcf_encoder enc;
	struct outcome got;

	(void)state;
	ipcf_encoder_init(&enc, 0xFFFFFFFEu, 3);
	stream_put_message(&s, &enc, 1, payload, 10);
	assert_int_equal(enc.seq, 2);
	stream_put_message(&s, &enc, 1, payload, 0);
	stream_put_message(&s, &enc, 1, payload, 3);
	assert_int_equal(enc.seq, 4);
	decode_whole(s.data, s.len, 3, 100, &got);
	assert_no_fault(&got);
	assert_int_equal(got.count, 3);
	assert_int_equal(got.messages[0].seq, 0xFFFFFFFEu);
	assert_int_equal(got.messages[0].frames, 4);
	assert_int_equal(got.messages[1].seq, 2);
	assert_int_equal(got.messages[2].seq, 3);
	outcome_free(&got);
	stream_free(&s);
}

/* ---- ipcf_encode errors and size arithmetic ------------------------------- */

static void assert_encode_fails(uint16_t type, size_t len, uint32_t limit,
				size_t cap, int want_errno)
{
	uint8_t payload[64] = { 0 };
	uint8_t *out = xmalloc(cap); /* exactly cap: a write past it shows */
	struct ipcf_encoder enc;

	ipcf_encoder_init(&enc, 41, limit);
	errno = 0;
	assert_int_equal(ipcf_encode(&enc, type, payload, len, out, cap), 0);
	assert_int_equal(errno, want_errno);
	/* no frame was sent, so the next one must still be seq 41 */
	assert_int_equal(enc.seq, 41);
	free(out);
}

static void encode_rejects_type_zero(void **state)
{
	(void)state;
	assert_encode_fails(0, 10, 4096, 1024, EINVAL);
	assert_encode_fails(0, 0, 4096, 1024, EINVAL);
}

static void encode_rejects_payload_with_frame_limit_zero(void **state)
{
	(void)state;
	assert_encode_fails(1, 1, 0, 1024, EINVAL);
	assert_encode_fails(1, 64, 0, 1024, EINVAL);
}

static void encode_rejects_too_small_buffer(void **state)
{
	(void)state;
	/* 10 bytes at limit 4: 3 frames, 70 bytes */
	assert_encode_fails(1, 10, 4, 69, ENOBUFS);
	assert_encode_fails(1, 10, 4, 50, ENOBUFS);
	assert_encode_fails(1, 10, 4, 0, ENOBUFS);
	assert_encode_fails(1, 0, 4, IPCF_HEADER_SIZE - 1, ENOBUFS);
	assert_encode_fails(1, 64, 64, 64 + IPCF_HEADER_SIZE - 1, ENOBUFS);
}

/* The capacity claimed is ample, so only the length can be refused; a
 * correct encoder refuses it before touching either buffer. */
static void encode_rejects_message_over_max_limit(void **state)
{
	uint8_t payload[16] = { 0 };
	uint8_t out[16];
	struct ipcf_encoder enc;

	(void)state;
	ipcf_encoder_init(&enc, 41, IPCF_MAX_LIMIT);
	errno = 0;
	assert_int_equal(ipcf_encode(&enc, 1, payload,
				     (size_t)IPCF_MAX_LIMIT + 1, out,
				     SIZE_MAX),
			 0);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(enc.seq, 41);
}

static void size_arithmetic(void **state)
{
	(void)state;
	assert_int_equal(ipcf_frame_count(0, 0), 1);
	assert_int_equal(ipcf_encoded_size(0, 0), IPCF_HEADER_SIZE);
	assert_int_equal(ipcf_frame_count(1, 0), 0);
	assert_int_equal(ipcf_encoded_size(1, 0), 0);
	assert_int_equal(ipcf_frame_count(0, 5), 1);
	assert_int_equal(ipcf_frame_count(5, 5), 1);
	assert_int_equal(ipcf_frame_count(6, 5), 2);
	assert_int_equal(ipcf_encoded_size(6, 5), 6 + 2 * IPCF_HEADER_SIZE);
	assert_int_equal(ipcf_frame_count(16 * MIB, 16 * MIB), 1);
	assert_int_equal(ipcf_frame_count(16 * MIB + 1, 16 * MIB), 2);
	assert_int_equal(ipcf_frame_count(IPCF_MAX_LIMIT, 1), IPCF_MAX_LIMIT);
	assert_int_equal(ipcf_encoded_size(IPCF_MAX_LIMIT, 1),
			 (uint64_t)IPCF_MAX_LIMIT * (1 + IPCF_HEADER_SIZE));
	assert_int_equal(ipcf_encoded_size(IPCF_MAX_LIMIT, IPCF_MAX_LIMIT),
			 (uint64_t)IPCF_MAX_LIMIT + IPCF_HEADER_SIZE);
}

/* ---- Frame-at-a-time encoding ------------------------------------------- */

static void assert_next_frame_matches_encode(uint32_t limit, size_t len,
					     uint32_t first_seq)
{
	uint8_t *payload = random_bytes(0x5EED0320 + len, len);
	uint64_t size = ipcf_encoded_size(len, limit);
	uint64_t frames = ipcf_frame_count(len, limit);
	uint8_t *whole = xmalloc((size_t)size);
	struct ipcf_encoder one_shot, stepwise;
	struct stream s = { 0 };
	const uint8_t *p = payload;
	size_t remaining = len;
	uint64_t calls = 0;
	int more;

	ipcf_encoder_init(&one_shot, first_seq, limit);
	ipcf_encoder_init(&stepwise, first_seq, limit);
	assert_int_equal(ipcf_encode(&one_shot, 0x1234, payload, len, whole,
				     size),
			 size);
	do {
		uint8_t hdr[IPCF_HEADER_SIZE];
		uint32_t n = ipcf_encode_next_frame(&stepwise, 0x1234, p,
						    remaining, hdr);

		if (n > remaining || ++calls > frames)
			fail_msg("frame-at-a-time encoding of %zu bytes at "
				 "limit %u ran past the message", len, limit);
		stream_append(&s, hdr, sizeof(hdr));
		stream_append(&s, p, n);
		p += n;
		remaining -= n;
		more = hdr[5] & IPCF_FLAG_MORE;
	} while (more);
	assert_int_equal(remaining, 0);
	assert_int_equal(calls, frames);
	assert_int_equal(stepwise.seq, one_shot.seq);
	assert_int_equal(s.len, size);
	assert_memory_equal(s.data, whole, size);
	stream_free(&s);
	free(whole);
	free(payload);
}

static void next_frame_writes_what_encode_writes(void **state)
{
	(void)state;
	assert_next_frame_matches_encode(1, 0, 0);
	assert_next_frame_matches_encode(1, 5, 0);
	assert_next_frame_matches_encode(3, 10, 0xFFFFFFFEu);
	assert_next_frame_matches_encode(7, 7, 5);
	assert_next_frame_matches_encode(7, 8, 5);
	assert_next_frame_matches_encode(20, 41, 9);
	assert_next_frame_matches_encode(4096, 10000, 0);
	assert_next_frame_matches_encode(5, 0, 0xFFFFFFFFu);
	assert_next_frame_matches_encode(MIB, 3 * MIB + 1, 123);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frame_limit_1),
		cmocka_unit_test(frame_limit_2),
		cmocka_unit_test(frame_limit_3),
		cmocka_unit_test(frame_limit_7),
		cmocka_unit_test(frame_limit_20),
		cmocka_unit_test(frame_limit_4096),
		cmocka_unit_test(frame_limit_65536),
		cmocka_unit_test(frame_limit_1_mib),
		cmocka_unit_test(frame_limit_16_mib),
		cmocka_unit_test(several_messages_in_one_stream),
		cmocka_unit_test(zero_byte_messages_alone),
		cmocka_unit_test(zero_byte_messages_between_others),
		cmocka_unit_test(zero_byte_message_at_frame_limit_0),
		cmocka_unit_test(seq_wraps_inside_a_message),
		cmocka_unit_test(seq_wraps_between_messages),
		cmocka_unit_test(seq_wrap_first_seqs_by_value),
		cmocka_unit_test(encode_rejects_type_zero),
		cmocka_unit_test(encode_rejects_payload_with_frame_limit_zero),
		cmocka_unit_test(encode_rejects_too_small_buffer),
		cmocka_unit_test(encode_rejects_message_over_max_limit),
		cmocka_unit_test(size_arithmetic),
		cmocka_unit_test(next_frame_writes_what_encode_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
