/*
 * However a stream is cut into reads, the decoder gives the same messages,
 * and the same fault at the same offset: one stream of several messages
 * (fragmented, 0-byte, various types, seq wrapping) is decoded in two pieces
 * at every cut position, byte by byte, and in random pieces, and so is each
 * of a set of hostile variants of it; ipcf_decode_all agrees with them all.
 */
#include "unit_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_LIMIT 5
#define MAX_FRAMES 32
#define RANDOM_RUNS 300
#define MAX_RANDOM_CUTS 8

struct planned {
	uint16_t type;
	size_t len;
};

/*
 * Frames 0 | 1 2 3 | 4 | 5 | 6 7 8 | 9 | 10, seqs from 0xFFFFFFFD so that
 * the wrap falls inside the second message.
 */
static const struct planned plan[] = {
	{ 1, 0 }, { 7, 13 }, { 0xFFFF, 5 }, { 2, 0 },
	{ 300, 11 }, { 9, 1 }, { 0x8001, 0 },
};

static void build_stream(struct stream *s, struct outcome *want)
{
	uint8_t *payload = random_bytes(0x5EED0401, 16);
	struct ipcf_encoder enc;

	memset(want, 0, sizeof(*want));
	ipcf_encoder_init(&enc, 0xFFFFFFFDu, FRAME_LIMIT);
	for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
		uint32_t seq = enc.seq;
		size_t off = stream_put_message(s, &enc, plan[i].type, payload,
						plan[i].len);

		outcome_expect_message(want, plan[i].type, seq,
				       (uint32_t)(enc.seq - seq), payload,
				       plan[i].len, off, s->len);
	}
	free(payload);
}

/* ---- Ways of cutting ------------------------------------------------------- */

/* Each decodes s with the given limits, and fails unless it gives want. */
typedef void way_of_decoding(const struct stream *s, uint32_t max_frame,
			     uint32_t max_message, const struct outcome *want);

static void assert_same_under_every_two_piece_cut(const struct stream *s,
						  uint32_t max_frame,
						  uint32_t max_message,
						  const struct outcome *want)
{
	char context[64];

	for (size_t cut = 0; cut <= s->len; cut++) {
		struct outcome got;

		decode_in_pieces(s->data, s->len, &cut, 1, max_frame,
				 max_message, &got);
		snprintf(context, sizeof(context), "cut at %zu of %zu", cut,
			 s->len);
		assert_same_outcome(want, &got, context);
		outcome_free(&got);
	}
}

static void assert_same_byte_by_byte(const struct stream *s,
				     uint32_t max_frame, uint32_t max_message,
				     const struct outcome *want)
{
	struct outcome got;

	decode_bytewise(s->data, s->len, max_frame, max_message, &got);
	assert_same_outcome(want, &got, "byte by byte");
	outcome_free(&got);
}

static void sort_cuts(size_t *cuts, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
			size_t t = cuts[j];

			cuts[j] = cuts[j - 1];
			cuts[j - 1] = t;
		}
}

static void assert_same_in_random_pieces(const struct stream *s,
					 uint32_t max_frame,
					 uint32_t max_message,
					 const struct outcome *want)
{
	struct prng rng = { 0x5EED0402 };
	char context[64];

	for (int run = 0; run < RANDOM_RUNS; run++) {
		size_t cuts[MAX_RANDOM_CUTS];
		size_t n = 1 + (size_t)prng_below(&rng, MAX_RANDOM_CUTS);
		struct outcome got;

		for (size_t i = 0; i < n; i++)
			cuts[i] = (size_t)prng_below(&rng, s->len + 1);
		sort_cuts(cuts, n);
		decode_in_pieces(s->data, s->len, cuts, n, max_frame,
				 max_message, &got);
		snprintf(context, sizeof(context), "random pieces, run %d",
			 run);
		assert_same_outcome(want, &got, context);
		outcome_free(&got);
	}
}

static void assert_decode_all_agrees(const struct stream *s,
				     uint32_t max_frame, uint32_t max_message,
				     const struct outcome *want)
{
	struct outcome got;

	decode_with_decode_all(s->data, s->len, max_frame, max_message, &got);
	assert_same_outcome(want, &got, "ipcf_decode_all");
	outcome_free(&got);
}

/* ---- The clean stream ----------------------------------------------------- */

static void clean_stream_decodes_as_built(void **state)
{
	struct stream s = { 0 };
	struct outcome want, got;

	(void)state;
	build_stream(&s, &want);
	decode_whole(s.data, s.len, FRAME_LIMIT, IPCF_DEFAULT_LIMIT, &got);
	assert_same_outcome(&want, &got, "one shot");
	outcome_free(&got);
	outcome_free(&want);
	stream_free(&s);
}

/* The clean stream, decoded one of the ways above. */
static void assert_clean_stream_same(way_of_decoding *assert_same_way)
{
	struct stream s = { 0 };
	struct outcome want;

	build_stream(&s, &want);
	assert_same_way(&s, FRAME_LIMIT, IPCF_DEFAULT_LIMIT, &want);
	outcome_free(&want);
	stream_free(&s);
}

static void clean_stream_same_under_every_cut(void **state)
{
	(void)state;
	assert_clean_stream_same(assert_same_under_every_two_piece_cut);
}

static void clean_stream_same_byte_by_byte(void **state)
{
	(void)state;
	assert_clean_stream_same(assert_same_byte_by_byte);
}

static void clean_stream_same_in_random_pieces(void **state)
{
	(void)state;
	assert_clean_stream_same(assert_same_in_random_pieces);
}

static void clean_stream_same_through_decode_all(void **state)
{
	(void)state;
	assert_clean_stream_same(assert_decode_all_agrees);
}

/* ---- Hostile variants ------------------------------------------------------ */

enum judged { AT_HEADER, AT_PAYLOAD, AT_END };

struct variant {
	const char *name;
	void (*damage)(struct stream *s, const size_t *frames);
	uint32_t max_message;
	enum ipcf_fault fault;
	size_t frame;     /* index of the faulty frame */
	int at_length;    /* the offset is the (cut) input's length instead */
	size_t messages;  /* delivered before the fault */
	enum judged judged;
};

static void flip_payload_of_frame_7(struct stream *s, const size_t *f)
{
	s->data[f[7] + IPCF_HEADER_SIZE + 2] ^= 0x04;
}

static void skip_a_seq_at_frame_4(struct stream *s, const size_t *f)
{
	frame_set_byte(s, f[4], 11, (uint8_t)(s->data[f[4] + 11] + 1));
}

static void change_type_at_frame_3(struct stream *s, const size_t *f)
{
	frame_set_byte(s, f[3], 7, 8);
}

static void zero_type_at_frame_8(struct stream *s, const size_t *f)
{
	frame_set_byte(s, f[8], 6, 0);
	frame_set_byte(s, f[8], 7, 0);
}

static void break_magic_at_frame_9(struct stream *s, const size_t *f)
{
	frame_set_byte(s, f[9], 0, 'J');
}

static void bad_version_at_frame_2(struct stream *s, const size_t *f)
{
	frame_set_byte(s, f[2], 4, 0);
}

static void reserved_flag_at_frame_6(struct stream *s, const size_t *f)
{
	frame_set_byte(s, f[6], 5, (uint8_t)(s->data[f[6] + 5] | 0x10));
}

static void oversize_frame_10(struct stream *s, const size_t *f)
{
	frame_set_length(s, f[10], FRAME_LIMIT + 1);
}

static void no_damage(struct stream *s, const size_t *f)
{
	(void)s;
	(void)f;
}

static void cut_inside_payload_of_frame_7(struct stream *s, const size_t *f)
{
	s->len = f[7] + IPCF_HEADER_SIZE + 2;
}

static void cut_after_more_frame_6(struct stream *s, const size_t *f)
{
	s->len = f[7];
}

static void cut_inside_header_of_frame_5(struct stream *s, const size_t *f)
{
	s->len = f[5] + IPCF_HEADER_SIZE - 1;
}

static const struct variant variants[] = {
	{ "crc", flip_payload_of_frame_7, IPCF_DEFAULT_LIMIT, IPCF_FAULT_CRC,
	  7, 0, 4, AT_PAYLOAD },
	{ "seq", skip_a_seq_at_frame_4, IPCF_DEFAULT_LIMIT, IPCF_FAULT_SEQ,
	  4, 0, 2, AT_PAYLOAD },
	{ "type change", change_type_at_frame_3, IPCF_DEFAULT_LIMIT,
	  IPCF_FAULT_TYPE, 3, 0, 1, AT_PAYLOAD },
	{ "type 0", zero_type_at_frame_8, IPCF_DEFAULT_LIMIT, IPCF_FAULT_TYPE,
	  8, 0, 4, AT_HEADER },
	{ "magic", break_magic_at_frame_9, IPCF_DEFAULT_LIMIT, IPCF_FAULT_MAGIC,
	  9, 0, 5, AT_HEADER },
	{ "version", bad_version_at_frame_2, IPCF_DEFAULT_LIMIT,
	  IPCF_FAULT_VERSION, 2, 0, 1, AT_HEADER },
	{ "flags", reserved_flag_at_frame_6, IPCF_DEFAULT_LIMIT,
	  IPCF_FAULT_FLAGS, 6, 0, 4, AT_HEADER },
	{ "too-big frame", oversize_frame_10, IPCF_DEFAULT_LIMIT,
	  IPCF_FAULT_TOO_BIG, 10, 0, 6, AT_HEADER },
	/* the 13-byte message's third frame takes it over 12 */
	{ "too-big message", no_damage, 12, IPCF_FAULT_TOO_BIG, 3, 0, 1,
	  AT_HEADER },
	{ "truncated in payload", cut_inside_payload_of_frame_7,
	  IPCF_DEFAULT_LIMIT, IPCF_FAULT_TRUNCATED, 7, 0, 4, AT_END },
	{ "truncated after MORE", cut_after_more_frame_6, IPCF_DEFAULT_LIMIT,
	  IPCF_FAULT_TRUNCATED, 7, 1, 4, AT_END },
	{ "truncated in header", cut_inside_header_of_frame_5,
	  IPCF_DEFAULT_LIMIT, IPCF_FAULT_TRUNCATED, 5, 0, 3, AT_END },
};

/* The variant's stream, and what decoding it must give. */
static void build_variant(const struct variant *v, struct stream *s,
			  struct outcome *want)
{
	size_t frames[MAX_FRAMES];
	struct outcome clean;

	build_stream(s, &clean);
	assert_int_equal(frame_offsets(s, frames, MAX_FRAMES), 11);
	v->damage(s, frames);

	memset(want, 0, sizeof(*want));
	for (size_t i = 0; i < v->messages; i++) {
		const struct decoded_message *m = &clean.messages[i];

		outcome_expect_message(want, m->type, m->seq, m->frames,
				       m->data, m->length, m->offset, m->end);
	}
	want->fault = v->fault;
	want->fault_offset = v->at_length ? s->len : frames[v->frame];
	outcome_free(&clean);
}

/* Under byte-by-byte feeding, the fault must come no later than the spec's
 * step that judges it: the header's 20th byte, or the payload's last. */
static void assert_judged_in_time(const struct variant *v,
				  const struct stream *s,
				  const struct outcome *got)
{
	uint64_t start = got->fault_offset;
	uint64_t limit;

	if (v->judged == AT_END)
		return;
	limit = start + IPCF_HEADER_SIZE;
	if (v->judged == AT_PAYLOAD)
		limit += be32_load(s->data + start + 12);
	if (got->taken_at_fault > limit)
		fail_msg("%s: fault reported after %llu bytes, but it was "
			 "known after %llu", v->name,
			 (unsigned long long)got->taken_at_fault,
			 (unsigned long long)limit);
}

static void variant_one_shot(const struct variant *v)
{
	struct stream s = { 0 };
	struct outcome want, got;

	build_variant(v, &s, &want);
	decode_whole(s.data, s.len, FRAME_LIMIT, v->max_message, &got);
	assert_same_outcome(&want, &got, v->name);
	outcome_free(&got);
	outcome_free(&want);
	stream_free(&s);
}

static void variant_every_cut(const struct variant *v)
{
	struct stream s = { 0 };
	struct outcome want, got;

	build_variant(v, &s, &want);
	assert_same_under_every_two_piece_cut(&s, FRAME_LIMIT, v->max_message,
					      &want);
	decode_bytewise(s.data, s.len, FRAME_LIMIT, v->max_message, &got);
	assert_same_outcome(&want, &got, v->name);
	assert_judged_in_time(v, &s, &got);
	outcome_free(&got);
	assert_decode_all_agrees(&s, FRAME_LIMIT, v->max_message, &want);
	outcome_free(&want);
	stream_free(&s);
}

#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static void faulty_streams_decode_as_designed(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_VARIANTS; i++)
		variant_one_shot(&variants[i]);
}

static void faulty_streams_same_under_every_cut(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_VARIANTS; i++)
		variant_every_cut(&variants[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_stream_decodes_as_built),
		cmocka_unit_test(clean_stream_same_under_every_cut),
		cmocka_unit_test(clean_stream_same_byte_by_byte),
		cmocka_unit_test(clean_stream_same_in_random_pieces),
		cmocka_unit_test(clean_stream_same_through_decode_all),
		cmocka_unit_test(faulty_streams_decode_as_designed),
		cmocka_unit_test(faulty_streams_same_under_every_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
