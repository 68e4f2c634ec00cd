#include "unit_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/crc32c.h"

uint64_t prng_next(struct prng *rng)
{
	uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t prng_below(struct prng *rng, uint64_t bound)
{
	return prng_next(rng) % bound;
}

void prng_fill(struct prng *rng, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len >= 8) {
		uint64_t v = prng_next(rng);

		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		uint64_t v = prng_next(rng);

		memcpy(p, &v, len);
	}
}

void *xmalloc(size_t len)
{
	void *p = malloc(len > 0 ? len : 1);

	if (p == NULL)
		fail_msg("out of memory allocating %zu bytes for test data", len);
	return p;
}

uint8_t *random_bytes(uint64_t seed, size_t len)
{
	struct prng rng = { seed };
	uint8_t *p = xmalloc(len);

	prng_fill(&rng, p, len);
	return p;
}

uint32_t be32_load(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void be32_store(uint8_t *p, uint32_t value)
{
	p[0] = (uint8_t)(value >> 24);
	p[1] = (uint8_t)(value >> 16);
	p[2] = (uint8_t)(value >> 8);
	p[3] = (uint8_t)value;
}

/* ---- Streams ---------------------------------------------------------------- */

static void stream_reserve(struct stream *s, size_t more)
{
	size_t cap = s->cap > 0 ? s->cap : 256;
	uint8_t *grown;

	if (s->len + more <= s->cap)
		return;
	while (cap < s->len + more)
		cap *= 2;
	grown = realloc(s->data, cap);
	if (grown == NULL)
		fail_msg("out of memory growing a test stream to %zu bytes", cap);
	s->data = grown;
	s->cap = cap;
}

void stream_append(struct stream *s, const void *bytes, size_t len)
{
	if (len == 0)
		return;
	stream_reserve(s, len);
	memcpy(s->data + s->len, bytes, len);
	s->len += len;
}

size_t stream_put_frame(struct stream *s, uint8_t flags, uint16_t type,
			uint32_t seq, const void *payload, uint32_t len)
{
	uint8_t hdr[IPCF_HEADER_SIZE];
	size_t off = s->len;

	ipcf_header_pack(hdr, flags, type, seq, payload, len);
	stream_append(s, hdr, sizeof(hdr));
	stream_append(s, payload, len);
	return off;
}

size_t stream_put_message(struct stream *s, struct ipcf_encoder *enc,
			  uint16_t type, const void *payload, size_t len)
{
	uint64_t size = ipcf_encoded_size(len, enc->max_frame);
	size_t off = s->len;
	size_t written;

	if (size == 0)
		fail_msg("a %zu-byte message cannot be encoded with frame limit "
			 "%u: fix the test", len, enc->max_frame);
	stream_reserve(s, (size_t)size);
	written = ipcf_encode(enc, type, payload, len, s->data + s->len,
			      s->cap - s->len);
	if (written != size)
		fail_msg("ipcf_encode wrote %zu bytes of a %zu-byte message, "
			 "ipcf_encoded_size says %llu", written, len,
			 (unsigned long long)size);
	s->len += written;
	return off;
}

void stream_free(struct stream *s)
{
	free(s->data);
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
}

void frame_reseal(struct stream *s, size_t off)
{
	uint8_t *frame = s->data + off;
	uint32_t length = be32_load(frame + 12);
	uint32_t crc;

	if (off + IPCF_HEADER_SIZE + length > s->len)
		fail_msg("frame at %zu announces %u payload bytes past the end "
			 "of the %zu-byte stream: cannot recompute its CRC",
			 off, length, s->len);
	crc = ipc_crc32c(0, frame, 16);
	crc = ipc_crc32c(crc, frame + IPCF_HEADER_SIZE, length);
	be32_store(frame + 16, crc);
}

void frame_set_byte(struct stream *s, size_t off, size_t index, uint8_t value)
{
	if (index >= 16)
		fail_msg("header byte %zu is CRC or payload, not a field: fix "
			 "the test", index);
	s->data[off + index] = value;
	frame_reseal(s, off);
}

void frame_set_length(struct stream *s, size_t off, uint32_t length)
{
	be32_store(s->data + off + 12, length);
}

size_t frame_offsets(const struct stream *s, size_t *offsets, size_t max)
{
	size_t n = 0;
	size_t off = 0;

	while (off + IPCF_HEADER_SIZE <= s->len) {
		if (n == max)
			fail_msg("more than %zu frames in a test stream", max);
		offsets[n++] = off;
		off += IPCF_HEADER_SIZE + be32_load(s->data + off + 12);
	}
	return n;
}

/* ---- Outcomes ------------------------------------------------------------- */

static void outcome_add(struct outcome *o, const struct decoded_message *m)
{
	if (o->count == o->cap) {
		size_t cap = o->cap > 0 ? o->cap * 2 : 16;
		struct decoded_message *grown =
			realloc(o->messages, cap * sizeof(*grown));

		if (grown == NULL)
			fail_msg("out of memory recording decoded messages");
		o->messages = grown;
		o->cap = cap;
	}
	o->messages[o->count++] = *m;
}

void outcome_expect_message(struct outcome *o, uint16_t type, uint32_t seq,
			    uint32_t frames, const void *data, size_t length,
			    uint64_t offset, uint64_t end)
{
	struct decoded_message m = {
		.type = type,
		.seq = seq,
		.frames = frames,
		.length = length,
		.data = xmalloc(length),
		.offset = offset,
		.end = end,
	};

	if (length > 0)
		memcpy(m.data, data, length);
	outcome_add(o, &m);
}

void outcome_add_message(struct outcome *o, const struct ipcf_message *msg)
{
	if (msg == NULL)
		fail_msg("the decoder said IPCF_MESSAGE but "
			 "ipcf_decoder_message returned NULL");
	if (msg->length > 0 && msg->data == NULL)
		fail_msg("decoded message of %zu bytes has no data",
			 msg->length);
	outcome_expect_message(o, msg->type, msg->seq, msg->frames, msg->data,
			       msg->length, msg->offset, msg->end);
}

void outcome_free(struct outcome *o)
{
	for (size_t i = 0; i < o->count; i++)
		free(o->messages[i].data);
	free(o->messages);
	memset(o, 0, sizeof(*o));
}

/* ---- Driving the decoder -------------------------------------------------- */

struct feeder {
	struct ipcf_decoder dec;
	struct outcome *out;
	uint64_t taken;
	int stopped;
};

static void feeder_record_fault(struct feeder *f)
{
	uint64_t offset = UINT64_MAX;

	f->out->fault = ipcf_decoder_fault(&f->dec, &offset);
	f->out->fault_offset = offset;
	f->out->taken_at_fault = f->taken;
	f->stopped = 1;
	if (f->out->fault == IPCF_OK)
		fail_msg("the decoder returned IPCF_FAULT after %llu bytes but "
			 "ipcf_decoder_fault says IPCF_OK",
			 (unsigned long long)f->taken);
}

/* A message completes on its last byte, so a decoder that makes no progress
 * while returning IPCF_MESSAGE would loop: this bounds it. */
static void feeder_note_message(struct feeder *f, size_t used, int *idle)
{
	outcome_add_message(f->out, ipcf_decoder_message(&f->dec));
	*idle = used == 0 ? *idle + 1 : 0;
	if (*idle > 1)
		fail_msg("the decoder returned IPCF_MESSAGE twice without "
			 "taking input, at stream offset %llu",
			 (unsigned long long)f->taken);
}

static void feeder_feed(struct feeder *f, const uint8_t *p, size_t n)
{
	int idle = 0;

	while (!f->stopped) {
		size_t used = SIZE_MAX;
		enum ipcf_status st = ipcf_decoder_feed(&f->dec, p, n, &used);

		if (used > n)
			fail_msg("ipcf_decoder_feed says it took %zu of %zu "
				 "bytes at stream offset %llu", used, n,
				 (unsigned long long)f->taken);
		f->taken += used;
		p += used;
		n -= used;
		switch (st) {
		case IPCF_MESSAGE:
			feeder_note_message(f, used, &idle);
			if (n == 0)
				return;
			break;
		case IPCF_NEED_MORE:
			if (n != 0)
				fail_msg("IPCF_NEED_MORE with %zu bytes not "
					 "taken at stream offset %llu", n,
					 (unsigned long long)f->taken);
			return;
		case IPCF_FAULT:
			feeder_record_fault(f);
			return;
		default:
			fail_msg("ipcf_decoder_feed returned status %d at "
				 "stream offset %llu", (int)st,
				 (unsigned long long)f->taken);
		}
	}
}

static void feeder_finish(struct feeder *f)
{
	enum ipcf_status st;

	if (f->stopped)
		return;
	st = ipcf_decoder_finish(&f->dec);
	if (st == IPCF_FAULT) {
		feeder_record_fault(f);
		return;
	}
	if (st != IPCF_NEED_MORE)
		fail_msg("ipcf_decoder_finish returned status %d after %llu "
			 "bytes", (int)st, (unsigned long long)f->taken);
	f->out->fault = IPCF_OK;
	f->out->fault_offset = 0;
	f->out->taken_at_fault = 0;
}

void decode_in_pieces(const uint8_t *data, size_t len, const size_t *cuts,
		      size_t ncuts, uint32_t max_frame, uint32_t max_message,
		      struct outcome *out)
{
	struct feeder f = { .out = out };
	size_t at = 0;

	memset(out, 0, sizeof(*out));
	ipcf_decoder_init(&f.dec, max_frame, max_message);
	for (size_t i = 0; i < ncuts; i++) {
		if (cuts[i] < at || cuts[i] > len)
			fail_msg("cut %zu at %zu is out of order or past the "
				 "%zu-byte input: fix the test", i, cuts[i],
				 len);
		feeder_feed(&f, data + at, cuts[i] - at);
		at = cuts[i];
	}
	feeder_feed(&f, data + at, len - at);
	feeder_finish(&f);
	ipcf_decoder_free(&f.dec);
}

void decode_whole(const uint8_t *data, size_t len, uint32_t max_frame,
		  uint32_t max_message, struct outcome *out)
{
	decode_in_pieces(data, len, NULL, 0, max_frame, max_message, out);
}

void decode_bytewise(const uint8_t *data, size_t len, uint32_t max_frame,
		     uint32_t max_message, struct outcome *out)
{
	size_t *cuts = xmalloc(len * sizeof(*cuts));

	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	decode_in_pieces(data, len, cuts, len, max_frame, max_message, out);
	free(cuts);
}

static int collect_message(const struct ipcf_message *msg, void *arg)
{
	outcome_add_message(arg, msg);
	return 0;
}

void decode_with_decode_all(const uint8_t *data, size_t len,
			    uint32_t max_frame, uint32_t max_message,
			    struct outcome *out)
{
	enum ipcf_fault fault = IPCF_OK;
	uint64_t offset = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ipcf_decode_all(data, len, max_frame, max_message,
			     collect_message, out, &fault, &offset);
	if (rc != 0)
		fail_msg("ipcf_decode_all returned %d on a %zu-byte input", rc,
			 len);
	out->fault = fault;
	out->fault_offset = fault == IPCF_OK ? 0 : offset;
}

/* ---- Comparing outcomes --------------------------------------------------- */

static void assert_same_message(const struct decoded_message *e,
				const struct decoded_message *g, size_t i,
				const char *context)
{
	if (e->type != g->type || e->seq != g->seq || e->frames != g->frames ||
	    e->length != g->length || e->offset != g->offset ||
	    e->end != g->end)
		fail_msg("%s: message %zu: expected type %u seq %u frames %u "
			 "length %zu at %llu..%llu, got type %u seq %u frames "
			 "%u length %zu at %llu..%llu", context, i, e->type,
			 e->seq, e->frames, e->length,
			 (unsigned long long)e->offset,
			 (unsigned long long)e->end, g->type, g->seq,
			 g->frames, g->length, (unsigned long long)g->offset,
			 (unsigned long long)g->end);
	for (size_t b = 0; b < e->length; b++)
		if (e->data[b] != g->data[b])
			fail_msg("%s: message %zu: byte %zu is 0x%02x, "
				 "expected 0x%02x", context, i, b, g->data[b],
				 e->data[b]);
}

void assert_same_outcome(const struct outcome *expected,
			 const struct outcome *got, const char *context)
{
	size_t common = expected->count < got->count ? expected->count
						      : got->count;

	for (size_t i = 0; i < common; i++)
		assert_same_message(&expected->messages[i], &got->messages[i],
				    i, context);
	if (expected->count != got->count)
		fail_msg("%s: expected %zu messages, got %zu", context,
			 expected->count, got->count);
	if (expected->fault != got->fault ||
	    expected->fault_offset != got->fault_offset)
		fail_msg("%s: expected fault %s at offset %llu, got %s at "
			 "offset %llu", context,
			 ipcf_fault_name(expected->fault),
			 (unsigned long long)expected->fault_offset,
			 ipcf_fault_name(got->fault),
			 (unsigned long long)got->fault_offset);
}
