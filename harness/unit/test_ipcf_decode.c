/*
 * Every fault of the spec with the exact offset of the frame that holds it,
 * in first and later frames; the spec's order of checks where two faults
 * coincide; headers judged on their 20 bytes alone; and a decoder that stays
 * stopped after a fault. Hostile frames are built with ipcf_header_pack and
 * then edited, with the CRC recomputed so that each frame has exactly the
 * faults the test names.
 */
#include "unit_support.h"

#include <stdlib.h>
#include <string.h>

#define LIMIT IPCF_DEFAULT_LIMIT

/* Payload bytes for hand-built frames. */
static const uint8_t *payload_bytes(void)
{
	static uint8_t bytes[256];

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 37 + 11);
	return bytes;
}

static void decode_stream(const struct stream *s, uint32_t max_frame,
			  uint32_t max_message, struct outcome *o)
{
	decode_whole(s->data, s->len, max_frame, max_message, o);
}

/* As messages: the test leaves unchecked how many came before the fault. */
#define ANY_COUNT SIZE_MAX

/*
 * Decodes the first len bytes of s in one piece with the given limits and
 * checks the fault the decoder stops with and its offset (IPCF_OK and 0: the
 * input ended on a message boundary), then, unless messages is ANY_COUNT, how
 * many messages came before it. A macro, so that a failure names the line
 * of the test.
 */
#define assert_prefix_decodes_to(s, len, max_frame, max_message, fault,        \
				 offset, messages)                             \
	do {                                                                   \
		struct outcome got_;                                           \
		decode_whole((s)->data, (len), (max_frame), (max_message),     \
			     &got_);                                           \
		assert_fault_at(&got_, (fault), (offset));                     \
		if ((size_t)(messages) != ANY_COUNT)                           \
			assert_int_equal(got_.count, (messages));              \
		outcome_free(&got_);                                           \
	} while (0)

/* The same for the whole of s. */
#define assert_decodes_to(s, max_frame, max_message, fault, offset, messages)  \
	assert_prefix_decodes_to((s), (s)->len, (max_frame), (max_message),    \
				 (fault), (offset), (messages))

/* Three one-frame messages: types 1, 2, 3, seqs 1, 2, 3, 4..6 bytes. */
static void put_three_messages(struct stream *s, size_t off[3])
{
	const uint8_t *p = payload_bytes();

	for (int i = 0; i < 3; i++)
		off[i] = stream_put_frame(s, 0, (uint16_t)(i + 1),
					  (uint32_t)(i + 1), p, (uint32_t)(4 + i));
}

/* Feeds exactly the first n bytes to a fresh decoder, without finishing. */
static enum ipcf_status feed_prefix(struct ipcf_decoder *dec,
				    const struct stream *s, size_t n,
				    uint32_t max_frame, uint32_t max_message)
{
	size_t used = 0;
	size_t at = 0;
	enum ipcf_status st;

	ipcf_decoder_init(dec, max_frame, max_message);
	do {
		st = ipcf_decoder_feed(dec, s->data + at, n - at, &used);
		at += used;
	} while (st == IPCF_MESSAGE && at < n);
	return st;
}

/* ---- Clean input ---------------------------------------------------------- */

static void clean_frames_decode_with_their_offsets(void **state)
{
	const uint8_t *p = payload_bytes();
	struct stream s = { 0 };
	struct outcome want = { 0 }, got;
	size_t a, b1, b2, c;

	(void)state;
	a = stream_put_frame(&s, 0, 3, 10, p, 5);
	b1 = stream_put_frame(&s, IPCF_FLAG_MORE, 4, 11, p + 5, 3);
	b2 = stream_put_frame(&s, 0, 4, 12, p + 8, 4);
	c = stream_put_frame(&s, 0, 5, 13, NULL, 0);
	outcome_expect_message(&want, 3, 10, 1, p, 5, a, b1);
	outcome_expect_message(&want, 4, 11, 2, p + 5, 7, b1, c);
	outcome_expect_message(&want, 5, 13, 1, NULL, 0, c, s.len);
	assert_int_equal(b2, b1 + IPCF_HEADER_SIZE + 3);

	decode_stream(&s, LIMIT, LIMIT, &got);
	assert_same_outcome(&want, &got, "clean stream");
	outcome_free(&want);
	outcome_free(&got);
	stream_free(&s);
}

static void empty_input_ends_cleanly(void **state)
{
	static const uint8_t nothing[1];
	struct outcome got;

	(void)state;
	decode_whole(nothing, 0, LIMIT, LIMIT, &got);
	assert_no_fault(&got);
	assert_int_equal(got.count, 0);
	outcome_free(&got);
}

static void feed_stops_after_each_message(void **state)
{
	const uint8_t *p = payload_bytes();
	struct stream s = { 0 };
	struct ipcf_decoder dec;
	size_t second, used = 0;

	(void)state;
	stream_put_frame(&s, 0, 1, 1, p, 9);
	second = stream_put_frame(&s, 0, 1, 2, p, 3);
	ipcf_decoder_init(&dec, LIMIT, LIMIT);
	assert_int_equal(ipcf_decoder_feed(&dec, s.data, s.len, &used),
			 IPCF_MESSAGE);
	assert_int_equal(used, second);
	assert_int_equal(ipcf_decoder_message(&dec)->length, 9);
	assert_int_equal(ipcf_decoder_feed(&dec, s.data + used, s.len - used,
					   &used),
			 IPCF_MESSAGE);
	assert_int_equal(used, s.len - second);
	assert_int_equal(ipcf_decoder_message(&dec)->seq, 2);
	assert_int_equal(ipcf_decoder_finish(&dec), IPCF_NEED_MORE);
	ipcf_decoder_free(&dec);
	stream_free(&s);
}

/* ---- magic, version, flags ------------------------------------------------ */

static void magic_fault_in_first_frame(void **state)
{
	static const char bad[][4] = { "IPCG", "ipcf", "FCPI", "\0\0\0\0" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct stream s = { 0 };

		stream_put_frame(&s, 0, 1, 1, payload_bytes(), 8);
		for (size_t b = 0; b < 4; b++)
			frame_set_byte(&s, 0, b, (uint8_t)bad[i][b]);
		assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_MAGIC, 0, 0);
		stream_free(&s);
	}
}

static void magic_fault_in_third_frame(void **state)
{
	struct stream s = { 0 };
	size_t off[3];

	(void)state;
	put_three_messages(&s, off);
	frame_set_byte(&s, off[2], 1, 'X');
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_MAGIC, off[2], 2);
	stream_free(&s);
}

static void version_fault_in_first_and_second_frame(void **state)
{
	static const uint8_t bad[] = { 0, 2, 0xFF };

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		for (size_t frame = 0; frame < 2; frame++) {
			struct stream s = { 0 };
			size_t off[3];

			put_three_messages(&s, off);
			frame_set_byte(&s, off[frame], 4, bad[i]);
			assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_VERSION,
					  off[frame], frame);
			stream_free(&s);
		}
	}
}

static void flags_fault_for_each_reserved_bit(void **state)
{
	(void)state;
	for (int bit = 1; bit <= 7; bit++) {
		for (int more = 0; more <= 1; more++) {
			uint8_t flags = (uint8_t)(1u << bit | (unsigned)more);
			struct stream s = { 0 };

			stream_put_frame(&s, flags, 1, 1, payload_bytes(), 6);
			assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_FLAGS, 0,
					  ANY_COUNT);
			stream_free(&s);
		}
	}
}

static void flags_fault_in_third_frame(void **state)
{
	(void)state;
	for (int bit = 1; bit <= 7; bit++) {
		struct stream s = { 0 };
		size_t off[3];

		put_three_messages(&s, off);
		frame_set_byte(&s, off[2], 5, (uint8_t)(1u << bit));
		assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_FLAGS, off[2], 2);
		stream_free(&s);
	}
}

/* ---- type ----------------------------------------------------------------- */

static void type_zero_in_first_frame(void **state)
{
	struct stream s = { 0 };

	(void)state;
	stream_put_frame(&s, 0, 0, 1, payload_bytes(), 4);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_TYPE, 0, ANY_COUNT);
	stream_free(&s);
}

static void type_zero_in_continuing_fragment(void **state)
{
	struct stream s = { 0 };
	size_t second;

	(void)state;
	stream_put_frame(&s, IPCF_FLAG_MORE, 9, 1, payload_bytes(), 4);
	second = stream_put_frame(&s, 0, 0, 2, payload_bytes(), 4);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_TYPE, second, ANY_COUNT);
	stream_free(&s);
}

static void type_change_between_fragments(void **state)
{
	const uint8_t *p = payload_bytes();
	struct stream s = { 0 };
	size_t second, third;

	(void)state;
	stream_put_frame(&s, IPCF_FLAG_MORE, 9, 1, p, 4);
	second = stream_put_frame(&s, 0, 10, 2, p, 4);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_TYPE, second, 0);
	stream_free(&s);

	stream_put_frame(&s, IPCF_FLAG_MORE, 9, 1, p, 4);
	stream_put_frame(&s, IPCF_FLAG_MORE, 9, 2, p, 4);
	third = stream_put_frame(&s, 0, 8, 3, p, 4);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_TYPE, third, ANY_COUNT);
	stream_free(&s);
}

static void type_may_change_between_messages(void **state)
{
	struct stream s = { 0 };

	(void)state;
	stream_put_frame(&s, 0, 9, 1, payload_bytes(), 4);
	stream_put_frame(&s, 0, 10, 2, payload_bytes(), 4);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_OK, 0, 2);
	stream_free(&s);
}

/* ---- too-big --------------------------------------------------------------- */

static void too_big_over_frame_limit(void **state)
{
	uint8_t *big = random_bytes(0x5EED0101, 101);
	struct stream s = { 0 };
	size_t off[3];

	(void)state;
	stream_put_frame(&s, 0, 1, 1, big, 100);
	assert_decodes_to(&s, 100, 1000, IPCF_OK, 0, 1);
	stream_free(&s);

	stream_put_frame(&s, 0, 1, 1, big, 101);
	assert_decodes_to(&s, 100, 1000, IPCF_FAULT_TOO_BIG, 0, ANY_COUNT);
	stream_free(&s);

	put_three_messages(&s, off);
	stream_put_frame(&s, 0, 1, 4, big, 101);
	assert_decodes_to(&s, 100, 1000, IPCF_FAULT_TOO_BIG, off[2] + 26, 3);
	stream_free(&s);
	free(big);
}

static void too_big_over_message_limit(void **state)
{
	uint8_t *big = random_bytes(0x5EED0102, 100);
	struct stream s = { 0 };
	size_t second;

	(void)state;
	/* exactly at the message limit, twice: the count restarts per message */
	for (int i = 0; i < 2; i++) {
		stream_put_frame(&s, IPCF_FLAG_MORE, 1, (uint32_t)(2 * i), big, 100);
		stream_put_frame(&s, 0, 1, (uint32_t)(2 * i + 1), big, 50);
	}
	assert_decodes_to(&s, 100, 150, IPCF_OK, 0, 2);
	stream_free(&s);

	stream_put_frame(&s, IPCF_FLAG_MORE, 1, 0, big, 100);
	second = stream_put_frame(&s, 0, 1, 1, big, 51);
	assert_decodes_to(&s, 100, 150, IPCF_FAULT_TOO_BIG, second, ANY_COUNT);
	stream_free(&s);

	/* one frame within the frame limit but over the message limit */
	stream_put_frame(&s, 0, 1, 0, big, 51);
	assert_decodes_to(&s, 100, 50, IPCF_FAULT_TOO_BIG, 0, ANY_COUNT);
	stream_free(&s);
	free(big);
}

/* ---- Headers are judged on their 20 bytes alone --------------------------- */

static void too_big_reported_on_header_alone(void **state)
{
	uint8_t *big = random_bytes(0x5EED0103, 101);
	struct stream s = { 0 };
	struct ipcf_decoder dec;
	uint64_t offset = 0;
	size_t second;

	(void)state;
	stream_put_frame(&s, 0, 1, 1, big, 101);
	assert_int_equal(feed_prefix(&dec, &s, IPCF_HEADER_SIZE, 100, 1000),
			 IPCF_FAULT);
	assert_int_equal(ipcf_decoder_fault(&dec, &offset), IPCF_FAULT_TOO_BIG);
	assert_int_equal(offset, 0);
	ipcf_decoder_free(&dec);
	stream_free(&s);

	stream_put_frame(&s, IPCF_FLAG_MORE, 1, 1, big, 100);
	second = stream_put_frame(&s, 0, 1, 2, big, 51);
	assert_int_equal(feed_prefix(&dec, &s, second + IPCF_HEADER_SIZE, 100,
				     150),
			 IPCF_FAULT);
	assert_int_equal(ipcf_decoder_fault(&dec, &offset), IPCF_FAULT_TOO_BIG);
	assert_int_equal(offset, second);
	ipcf_decoder_free(&dec);
	stream_free(&s);
	free(big);
}

struct header_fault {
	size_t index;
	uint8_t value;
	enum ipcf_fault fault;
};

static const struct header_fault header_faults[] = {
	{ 0, 'i', IPCF_FAULT_MAGIC },
	{ 4, 2, IPCF_FAULT_VERSION },
	{ 5, 0x40, IPCF_FAULT_FLAGS },
	{ 7, 0, IPCF_FAULT_TYPE }, /* type 0x0001 -> 0x0000 */
};

/* The payload never arrives: the fault is the header's, not truncated. */
static void header_faults_reported_on_header_alone(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(header_faults) / sizeof(header_faults[0]);
	     i++) {
		const struct header_fault *h = &header_faults[i];
		struct stream s = { 0 };
		struct ipcf_decoder dec;
		uint64_t offset = 1;

		stream_put_frame(&s, 0, 1, 1, payload_bytes(), 30);
		frame_set_byte(&s, 0, h->index, h->value);
		assert_int_equal(feed_prefix(&dec, &s, IPCF_HEADER_SIZE, LIMIT,
					     LIMIT),
				 IPCF_FAULT);
		assert_int_equal(ipcf_decoder_fault(&dec, &offset), h->fault);
		assert_int_equal(offset, 0);
		assert_int_equal(ipcf_decoder_finish(&dec), IPCF_FAULT);
		assert_int_equal(ipcf_decoder_fault(&dec, &offset), h->fault);
		ipcf_decoder_free(&dec);
		stream_free(&s);
	}
}

static void nothing_judged_before_twenty_bytes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(header_faults) / sizeof(header_faults[0]);
	     i++) {
		const struct header_fault *h = &header_faults[i];
		struct stream s = { 0 };
		struct ipcf_decoder dec;
		uint64_t offset = 1;

		stream_put_frame(&s, 0, 1, 1, payload_bytes(), 30);
		frame_set_byte(&s, 0, h->index, h->value);
		assert_int_equal(feed_prefix(&dec, &s, IPCF_HEADER_SIZE - 1,
					     LIMIT, LIMIT),
				 IPCF_NEED_MORE);
		assert_int_equal(ipcf_decoder_finish(&dec), IPCF_FAULT);
		assert_int_equal(ipcf_decoder_fault(&dec, &offset),
				 IPCF_FAULT_TRUNCATED);
		assert_int_equal(offset, 0);
		ipcf_decoder_free(&dec);
		stream_free(&s);
	}
}

static void limits_are_clamped_to_max_limit(void **state)
{
	struct stream s = { 0 };
	struct ipcf_decoder dec;
	uint64_t offset = 1;

	(void)state;
	stream_put_frame(&s, 0, 1, 1, NULL, 0);
	frame_set_length(&s, 0, IPCF_MAX_LIMIT + 1);
	assert_int_equal(feed_prefix(&dec, &s, IPCF_HEADER_SIZE, UINT32_MAX,
				     UINT32_MAX),
			 IPCF_FAULT);
	assert_int_equal(dec.max_frame, IPCF_MAX_LIMIT);
	assert_int_equal(dec.max_message, IPCF_MAX_LIMIT);
	assert_int_equal(ipcf_decoder_fault(&dec, &offset), IPCF_FAULT_TOO_BIG);
	assert_int_equal(offset, 0);
	ipcf_decoder_free(&dec);
	stream_free(&s);
}

/* ---- crc -------------------------------------------------------------------- */

static void crc_fault_from_corrupt_header_byte(void **state)
{
	/* seq and crc bytes: corrupting them breaks nothing the header
	 * stage judges, and the first frame's seq is taken as given */
	static const size_t corrupt[] = { 8, 11, 16, 19 };

	(void)state;
	for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		struct stream s = { 0 };

		stream_put_frame(&s, 0, 1, 1, payload_bytes(), 12);
		s.data[corrupt[i]] ^= 0x01;
		assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_CRC, 0, 0);
		stream_free(&s);
	}
}

static void crc_fault_from_corrupt_payload_byte(void **state)
{
	static const size_t corrupt[] = { 0, 6, 11 };

	(void)state;
	for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		struct stream s = { 0 };

		stream_put_frame(&s, 0, 1, 1, payload_bytes(), 12);
		s.data[IPCF_HEADER_SIZE + corrupt[i]] ^= 0x80;
		assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_CRC, 0, ANY_COUNT);
		stream_free(&s);
	}
}

static void crc_fault_in_third_frame(void **state)
{
	struct stream s = { 0 };
	size_t off[3];

	(void)state;
	put_three_messages(&s, off);
	s.data[off[2] + IPCF_HEADER_SIZE + 5] ^= 0x10;
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_CRC, off[2], 2);
	stream_free(&s);
}

/* ---- seq -------------------------------------------------------------------- */

static void seq_gap_inside_a_message(void **state)
{
	struct stream s = { 0 };
	size_t second;

	(void)state;
	stream_put_frame(&s, IPCF_FLAG_MORE, 1, 5, payload_bytes(), 4);
	second = stream_put_frame(&s, 0, 1, 7, payload_bytes(), 4);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_SEQ, second, ANY_COUNT);
	stream_free(&s);
}

static void assert_second_seq(uint32_t first, uint32_t next,
			      enum ipcf_fault want)
{
	struct stream s = { 0 };
	size_t second;

	stream_put_frame(&s, 0, 1, first, payload_bytes(), 4);
	second = stream_put_frame(&s, 0, 2, next, payload_bytes(), 4);
	if (want == IPCF_OK)
		assert_decodes_to(&s, LIMIT, LIMIT, IPCF_OK, 0, 2);
	else
		assert_decodes_to(&s, LIMIT, LIMIT, want, second, 1);
	stream_free(&s);
}

/* The seq runs on across message boundaries. */
static void seq_continues_across_messages(void **state)
{
	(void)state;
	assert_second_seq(5, 6, IPCF_OK);
	assert_second_seq(0xDEADBEEFu, 0xDEADBEF0u, IPCF_OK);
	assert_second_seq(0xFFFFFFFFu, 0, IPCF_OK);
	assert_second_seq(5, 7, IPCF_FAULT_SEQ);
	assert_second_seq(5, 5, IPCF_FAULT_SEQ);
	assert_second_seq(5, 4, IPCF_FAULT_SEQ);
	assert_second_seq(0xFFFFFFFFu, 1, IPCF_FAULT_SEQ);
	assert_second_seq(0, 0xFFFFFFFFu, IPCF_FAULT_SEQ);
}

static void seq_fault_in_third_frame(void **state)
{
	struct stream s = { 0 };
	size_t off[3];

	(void)state;
	put_three_messages(&s, off);
	frame_set_byte(&s, off[2], 11, 9);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_SEQ, off[2], 2);
	stream_free(&s);
}

/* ---- truncated -------------------------------------------------------------- */

static void three_stray_bytes_are_truncated_not_magic(void **state)
{
	static const uint8_t stray[] = { 'x', 'y', 'z' };
	struct outcome got;

	(void)state;
	decode_whole(stray, sizeof(stray), LIMIT, LIMIT, &got);
	assert_fault_at(&got, IPCF_FAULT_TRUNCATED, 0);
	assert_int_equal(got.count, 0);
	outcome_free(&got);
}

static void truncated_inside_header(void **state)
{
	struct stream s = { 0 };
	size_t off[3];

	(void)state;
	put_three_messages(&s, off);
	assert_prefix_decodes_to(&s, off[2] + 10, LIMIT, LIMIT,
				 IPCF_FAULT_TRUNCATED, off[2], 2);
	assert_prefix_decodes_to(&s, 1, LIMIT, LIMIT, IPCF_FAULT_TRUNCATED, 0,
				 ANY_COUNT);
	stream_free(&s);
}

static void truncated_inside_payload(void **state)
{
	struct stream s = { 0 };
	size_t off[3];

	(void)state;
	put_three_messages(&s, off);
	assert_prefix_decodes_to(&s, off[1] + IPCF_HEADER_SIZE + 2, LIMIT,
				 LIMIT, IPCF_FAULT_TRUNCATED, off[1], 1);
	/* header complete, not a payload byte yet */
	assert_prefix_decodes_to(&s, off[1] + IPCF_HEADER_SIZE, LIMIT, LIMIT,
				 IPCF_FAULT_TRUNCATED, off[1], ANY_COUNT);
	/* one payload byte short */
	assert_prefix_decodes_to(&s, s.len - 1, LIMIT, LIMIT,
				 IPCF_FAULT_TRUNCATED, off[2], ANY_COUNT);
	stream_free(&s);
}

static void truncated_after_more_frame_at_input_length(void **state)
{
	const uint8_t *p = payload_bytes();
	struct stream s = { 0 };

	(void)state;
	stream_put_frame(&s, IPCF_FLAG_MORE, 1, 1, p, 7);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_TRUNCATED, s.len,
			  ANY_COUNT);

	stream_put_frame(&s, IPCF_FLAG_MORE, 1, 2, NULL, 0);
	stream_put_frame(&s, IPCF_FLAG_MORE, 1, 3, p, 3);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_TRUNCATED, s.len,
			  ANY_COUNT);
	stream_free(&s);

	/* after a complete message */
	stream_put_frame(&s, 0, 1, 1, p, 7);
	stream_put_frame(&s, IPCF_FLAG_MORE, 2, 2, p, 7);
	assert_decodes_to(&s, LIMIT, LIMIT, IPCF_FAULT_TRUNCATED, s.len, 1);
	stream_free(&s);
}

/* Ending inside the frame after a MORE frame: that frame's start counts. */
static void truncated_inside_continuing_fragment(void **state)
{
	struct stream s = { 0 };
	size_t second;

	(void)state;
	stream_put_frame(&s, IPCF_FLAG_MORE, 1, 1, payload_bytes(), 7);
	second = stream_put_frame(&s, 0, 1, 2, payload_bytes(), 7);
	assert_prefix_decodes_to(&s, second + 7, LIMIT, LIMIT,
				 IPCF_FAULT_TRUNCATED, second, ANY_COUNT);
	assert_prefix_decodes_to(&s, second + IPCF_HEADER_SIZE + 3, LIMIT,
				 LIMIT, IPCF_FAULT_TRUNCATED, second,
				 ANY_COUNT);
	stream_free(&s);
}

/* ---- Order of checks where two faults coincide ----------------------------- */

/* One frame with two header edits, decoded whole. */
static void assert_first_of_two(size_t i1, uint8_t v1, size_t i2, uint8_t v2,
				enum ipcf_fault want)
{
	struct stream s = { 0 };

	stream_put_frame(&s, 0, 1, 1, payload_bytes(), 30);
	frame_set_byte(&s, 0, i1, v1);
	frame_set_byte(&s, 0, i2, v2);
	assert_decodes_to(&s, 20, LIMIT, want, 0, ANY_COUNT);
	stream_free(&s);
}

static void header_checks_in_spec_order(void **state)
{
	(void)state;
	/* magic before version before flags before type 0 before too-big */
	assert_first_of_two(0, 'X', 4, 2, IPCF_FAULT_MAGIC);
	assert_first_of_two(3, 'X', 5, 0x02, IPCF_FAULT_MAGIC);
	assert_first_of_two(4, 0, 5, 0x80, IPCF_FAULT_VERSION);
	assert_first_of_two(4, 2, 7, 0, IPCF_FAULT_VERSION);
	assert_first_of_two(5, 0x04, 7, 0, IPCF_FAULT_FLAGS);
	assert_first_of_two(5, 0x08, 15, 21, IPCF_FAULT_FLAGS);
	assert_first_of_two(7, 0, 15, 21, IPCF_FAULT_TYPE);
	/* the payload of 30 is over the frame limit of 20 by itself */
	assert_first_of_two(0, 'I', 7, 1, IPCF_FAULT_TOO_BIG);
}

static void header_faults_before_crc(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(header_faults) / sizeof(header_faults[0]);
	     i++) {
		struct stream s = { 0 };

		stream_put_frame(&s, 0, 1, 1, payload_bytes(), 10);
		frame_set_byte(&s, 0, header_faults[i].index,
			       header_faults[i].value);
		s.data[IPCF_HEADER_SIZE + 3] ^= 0x01;
		assert_decodes_to(&s, LIMIT, LIMIT, header_faults[i].fault, 0,
				  ANY_COUNT);
		stream_free(&s);
	}
}

static void too_big_before_crc(void **state)
{
	struct stream s = { 0 };

	(void)state;
	stream_put_frame(&s, 0, 1, 1, payload_bytes(), 30);
	s.data[IPCF_HEADER_SIZE] ^= 0x01;
	assert_decodes_to(&s, 29, LIMIT, IPCF_FAULT_TOO_BIG, 0, ANY_COUNT);
	stream_free(&s);
}

/* A continuing fragment over the message limit with another type: the
 * header stage (too-big) comes before the type comparison. */
static void too_big_before_type_change(void **state)
{
	struct stream s = { 0 };
	size_t second;

	(void)state;
	stream_put_frame(&s, IPCF_FLAG_MORE, 9, 1, payload_bytes(), 20);
	second = stream_put_frame(&s, 0, 10, 2, payload_bytes(), 20);
	assert_decodes_to(&s, 20, 30, IPCF_FAULT_TOO_BIG, second, ANY_COUNT);
	stream_free(&s);
}

/* Second frame of a message with the given seq, type and CRC damage. */
static void assert_second_fragment(uint32_t seq, uint16_t type, int bad_crc,
				   enum ipcf_fault want)
{
	struct stream s = { 0 };
	size_t second;

	stream_put_frame(&s, IPCF_FLAG_MORE, 9, 1, payload_bytes(), 8);
	second = stream_put_frame(&s, 0, type, seq, payload_bytes(), 8);
	if (bad_crc)
		s.data[second + IPCF_HEADER_SIZE + 7] ^= 0x40;
	assert_decodes_to(&s, LIMIT, LIMIT, want, second, ANY_COUNT);
	stream_free(&s);
}

static void payload_checks_in_spec_order(void **state)
{
	(void)state;
	/* crc, then seq, then the type of a continuing fragment */
	assert_second_fragment(3, 9, 1, IPCF_FAULT_CRC);
	assert_second_fragment(2, 10, 1, IPCF_FAULT_CRC);
	assert_second_fragment(3, 10, 1, IPCF_FAULT_CRC);
	assert_second_fragment(3, 10, 0, IPCF_FAULT_SEQ);
	/* each alone, for contrast */
	assert_second_fragment(3, 9, 0, IPCF_FAULT_SEQ);
	assert_second_fragment(2, 10, 0, IPCF_FAULT_TYPE);
}

static void type_zero_of_continuing_fragment_before_payload_checks(void **state)
{
	(void)state;
	assert_second_fragment(3, 0, 1, IPCF_FAULT_TYPE);
}

/* Until the payload is in, its faults are unknown: the end of the input
 * makes it truncated. */
static void truncation_hides_payload_faults(void **state)
{
	struct stream s = { 0 };
	size_t second;

	(void)state;
	stream_put_frame(&s, IPCF_FLAG_MORE, 9, 1, payload_bytes(), 8);
	second = stream_put_frame(&s, 0, 10, 3, payload_bytes(), 8);
	s.data[second + IPCF_HEADER_SIZE] ^= 0x40;
	assert_prefix_decodes_to(&s, s.len - 1, LIMIT, LIMIT,
				 IPCF_FAULT_TRUNCATED, second, ANY_COUNT);
	stream_free(&s);
}

/* ---- After a fault ---------------------------------------------------------- */

/* A stopped decoder takes nothing, not even a sound frame, and keeps its
 * fault through feed and finish. */
static void assert_stays_stopped(struct ipcf_decoder *dec,
				 enum ipcf_fault fault, uint64_t at)
{
	struct stream good = { 0 };
	uint64_t offset = 0;
	size_t used = 99;

	stream_put_frame(&good, 0, 1, 1, payload_bytes(), 4);
	assert_int_equal(ipcf_decoder_feed(dec, good.data, good.len, &used),
			 IPCF_FAULT);
	assert_int_equal(used, 0);
	used = 99;
	assert_int_equal(ipcf_decoder_feed(dec, good.data, 0, &used),
			 IPCF_FAULT);
	assert_int_equal(used, 0);
	assert_int_equal(ipcf_decoder_finish(dec), IPCF_FAULT);
	assert_int_equal(ipcf_decoder_fault(dec, &offset), fault);
	assert_int_equal(offset, at);
	stream_free(&good);
}

static void decoder_stays_stopped_after_payload_fault(void **state)
{
	struct stream s = { 0 };
	struct ipcf_decoder dec;
	uint64_t offset = 0;
	size_t used = 99;
	size_t off[3];

	(void)state;
	put_three_messages(&s, off);
	s.data[off[1] + IPCF_HEADER_SIZE] ^= 0x01;
	ipcf_decoder_init(&dec, LIMIT, LIMIT);
	assert_int_equal(ipcf_decoder_feed(&dec, s.data, s.len, &used),
			 IPCF_MESSAGE);
	assert_int_equal(ipcf_decoder_feed(&dec, s.data + used, s.len - used,
					   &used),
			 IPCF_FAULT);
	assert_int_equal(ipcf_decoder_fault(&dec, &offset), IPCF_FAULT_CRC);
	assert_int_equal(offset, off[1]);
	assert_stays_stopped(&dec, IPCF_FAULT_CRC, off[1]);
	ipcf_decoder_free(&dec);
	stream_free(&s);
}

static void decoder_stays_stopped_after_header_fault(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(header_faults) / sizeof(header_faults[0]);
	     i++) {
		struct stream s = { 0 };
		struct ipcf_decoder dec;

		stream_put_frame(&s, 0, 1, 1, payload_bytes(), 30);
		frame_set_byte(&s, 0, header_faults[i].index,
			       header_faults[i].value);
		assert_int_equal(feed_prefix(&dec, &s, IPCF_HEADER_SIZE, LIMIT,
					     LIMIT),
				 IPCF_FAULT);
		assert_stays_stopped(&dec, header_faults[i].fault, 0);
		ipcf_decoder_free(&dec);
		stream_free(&s);
	}
}

static void decoder_stays_stopped_after_truncation(void **state)
{
	static const uint8_t stray[] = { 'x', 'y', 'z' };
	struct ipcf_decoder dec;
	size_t used = 0;

	(void)state;
	ipcf_decoder_init(&dec, LIMIT, LIMIT);
	assert_int_equal(ipcf_decoder_feed(&dec, stray, sizeof(stray), &used),
			 IPCF_NEED_MORE);
	assert_int_equal(ipcf_decoder_finish(&dec), IPCF_FAULT);
	assert_stays_stopped(&dec, IPCF_FAULT_TRUNCATED, 0);
	ipcf_decoder_free(&dec);
}

/* ---- ipcf_decode_all -------------------------------------------------------- */

static void decode_all_reports_messages_then_fault(void **state)
{
	struct stream s = { 0 };
	struct outcome streamed, all;
	size_t off[3];

	(void)state;
	put_three_messages(&s, off);
	decode_with_decode_all(s.data, s.len, LIMIT, LIMIT, &all);
	assert_no_fault(&all);
	assert_int_equal(all.count, 3);
	decode_stream(&s, LIMIT, LIMIT, &streamed);
	assert_same_outcome(&streamed, &all, "clean, decode_all vs feed");
	outcome_free(&all);
	outcome_free(&streamed);

	frame_set_byte(&s, off[2], 8, 0x77);
	decode_with_decode_all(s.data, s.len, LIMIT, LIMIT, &all);
	assert_fault_at(&all, IPCF_FAULT_SEQ, off[2]);
	assert_int_equal(all.count, 2);
	outcome_free(&all);

	decode_with_decode_all(s.data, off[2] + 3, LIMIT, LIMIT, &all);
	assert_fault_at(&all, IPCF_FAULT_TRUNCATED, off[2]);
	outcome_free(&all);
	stream_free(&s);
}

static int stop_at_second(const struct ipcf_message *msg, void *arg)
{
	int *calls = arg;

	(void)msg;
	return ++*calls == 2 ? 7 : 0;
}

static void decode_all_stops_when_callback_says_so(void **state)
{
	struct stream s = { 0 };
	enum ipcf_fault fault;
	uint64_t offset;
	int calls = 0;
	size_t off[3];

	(void)state;
	put_three_messages(&s, off);
	assert_int_equal(ipcf_decode_all(s.data, s.len, LIMIT, LIMIT,
					 stop_at_second, &calls, &fault,
					 &offset),
			 7);
	assert_int_equal(calls, 2);
	stream_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_frames_decode_with_their_offsets),
		cmocka_unit_test(empty_input_ends_cleanly),
		cmocka_unit_test(feed_stops_after_each_message),
		cmocka_unit_test(magic_fault_in_first_frame),
		cmocka_unit_test(magic_fault_in_third_frame),
		cmocka_unit_test(version_fault_in_first_and_second_frame),
		cmocka_unit_test(flags_fault_for_each_reserved_bit),
		cmocka_unit_test(flags_fault_in_third_frame),
		cmocka_unit_test(type_zero_in_first_frame),
		cmocka_unit_test(type_zero_in_continuing_fragment),
		cmocka_unit_test(type_change_between_fragments),
		cmocka_unit_test(type_may_change_between_messages),
		cmocka_unit_test(too_big_over_frame_limit),
		cmocka_unit_test(too_big_over_message_limit),
		cmocka_unit_test(too_big_reported_on_header_alone),
		cmocka_unit_test(header_faults_reported_on_header_alone),
		cmocka_unit_test(nothing_judged_before_twenty_bytes),
		cmocka_unit_test(limits_are_clamped_to_max_limit),
		cmocka_unit_test(crc_fault_from_corrupt_header_byte),
		cmocka_unit_test(crc_fault_from_corrupt_payload_byte),
		cmocka_unit_test(crc_fault_in_third_frame),
		cmocka_unit_test(seq_gap_inside_a_message),
		cmocka_unit_test(seq_continues_across_messages),
		cmocka_unit_test(seq_fault_in_third_frame),
		cmocka_unit_test(three_stray_bytes_are_truncated_not_magic),
		cmocka_unit_test(truncated_inside_header),
		cmocka_unit_test(truncated_inside_payload),
		cmocka_unit_test(truncated_after_more_frame_at_input_length),
		cmocka_unit_test(truncated_inside_continuing_fragment),
		cmocka_unit_test(header_checks_in_spec_order),
		cmocka_unit_test(header_faults_before_crc),
		cmocka_unit_test(too_big_before_crc),
		cmocka_unit_test(too_big_before_type_change),
		cmocka_unit_test(payload_checks_in_spec_order),
		cmocka_unit_test(type_zero_of_continuing_fragment_before_payload_checks),
		cmocka_unit_test(truncation_hides_payload_faults),
		cmocka_unit_test(decoder_stays_stopped_after_payload_fault),
		cmocka_unit_test(decoder_stays_stopped_after_header_fault),
		cmocka_unit_test(decoder_stays_stopped_after_truncation),
		cmocka_unit_test(decode_all_reports_messages_then_fault),
		cmocka_unit_test(decode_all_stops_when_callback_says_so),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
