/*
 * frame_chunks: the streaming decoder, fed a stream cut into pieces, must
 * give what one-shot decoding gives: the same messages, the same fault at
 * the same offset.
 *
 * Input: byte 0 picks the limits (fuzz_common.h: low nibble frame limit,
 * high nibble message limit, 0xFF the defaults); byte 1, low nibble, is a
 * count n of cut sizes; the next n bytes are the sizes (0 is an empty feed);
 * the rest is the stream. The sizes are used in turn, over and over, until
 * the stream is in; if they are all 0 they are fed once each and then the
 * whole stream at once.
 *
 * Also checked: a feed that completes a message stops right after its last
 * byte, a feed that needs more takes everything, and a stopped decoder stays
 * stopped, taking nothing.
 */
#include <inttypes.h>
#include <string.h>

#include "fuzz_common.h"

#define MAX_CUTS 15u

struct oneshot {
	struct ipcf_message *msgs; /* with data copied */
	size_t n, cap;
};

struct streaming {
	struct ipcf_decoder dec;
	const struct oneshot *want;
	size_t next;     /* the message expected next */
	uint64_t taken;  /* stream bytes the decoder took */
	int stopped;
};

static void *must_alloc(size_t size)
{
	void *p = malloc(size > 0 ? size : 1);

	FUZZ_CHECK(p != NULL, "out of memory for %zu bytes", size);
	return p;
}

static int record_message(const struct ipcf_message *msg, void *arg)
{
	struct oneshot *os = arg;

	FUZZ_CHECK(os->n < os->cap, "one-shot decoding gave more messages than"
		   " %zu, one per %u bytes of stream", os->cap, IPCF_HEADER_SIZE);
	struct ipcf_message *copy = &os->msgs[os->n++];
	uint8_t *data = must_alloc(msg->length);

	if (msg->length > 0)
		memcpy(data, msg->data, msg->length);
	*copy = *msg;
	copy->data = data;
	return 0;
}

static void check_message(struct streaming *s, const struct ipcf_message *got)
{
	FUZZ_CHECK(got != NULL, "feed said a message is complete, but"
		   " ipcf_decoder_message gives none");
	FUZZ_CHECK(s->next < s->want->n, "streaming gave message %zu at %"
		   PRIu64 "; one-shot decoding gave only %zu",
		   s->next, got->offset, s->want->n);
	const struct ipcf_message *w = &s->want->msgs[s->next];
	FUZZ_CHECK(got->offset == w->offset && got->end == w->end &&
			   got->type == w->type && got->seq == w->seq &&
			   got->frames == w->frames &&
			   got->length == w->length &&
			   (w->length == 0 ||
			    memcmp(got->data, w->data, w->length) == 0),
		   "message %zu streamed as [%" PRIu64 ",%" PRIu64 ") type %u"
		   " seq %" PRIu32 " frames %" PRIu32 " length %zu; one-shot:"
		   " [%" PRIu64 ",%" PRIu64 ") type %u seq %" PRIu32 " frames %"
		   PRIu32 " length %zu (or the bytes differ)",
		   s->next, got->offset, got->end, got->type, got->seq,
		   got->frames, got->length, w->offset, w->end, w->type, w->seq,
		   w->frames, w->length);
	FUZZ_CHECK(got->end == s->taken, "the feed that completed message %zu"
		   " took the stream up to %" PRIu64 ", not to its end %" PRIu64,
		   s->next, s->taken, got->end);
	s->next++;
}

/* Feeds one piece, handling each message it completes. */
static void feed_piece(struct streaming *s, const uint8_t *p, size_t n)
{
	size_t done = 0;
	enum ipcf_status st;

	do {
		size_t used = 0;

		st = ipcf_decoder_feed(&s->dec, p + done, n - done, &used);
		FUZZ_CHECK(used <= n - done, "feed took %zu of %zu bytes",
			   used, n - done);
		FUZZ_CHECK(st != IPCF_ERROR, "feed ran out of memory at stream"
			   " offset %" PRIu64, s->taken);
		done += used;
		s->taken += used;
		if (st == IPCF_MESSAGE)
			check_message(s, ipcf_decoder_message(&s->dec));
		if (st == IPCF_NEED_MORE)
			FUZZ_CHECK(done == n, "feed needs more but left %zu of"
				   " %zu bytes untaken at stream offset %" PRIu64,
				   n - done, n, s->taken);
	} while (st == IPCF_MESSAGE && done < n);
	s->stopped = st == IPCF_FAULT;
}

static void check_stays_stopped(struct streaming *s, const uint8_t *rest,
				size_t left)
{
	enum ipcf_fault before, after;
	uint64_t at_before, at_after;
	static const uint8_t one_more[1] = { 'I' };
	size_t used = 1;
	enum ipcf_status st;

	/* Offer at least one byte, so that taking nothing means something. */
	if (left == 0) {
		rest = one_more;
		left = sizeof one_more;
	}
	before = ipcf_decoder_fault(&s->dec, &at_before);
	st = ipcf_decoder_feed(&s->dec, rest, left, &used);
	FUZZ_CHECK(st == IPCF_FAULT && used == 0, "a feed after the fault"
		   " returned status %d and took %zu bytes", (int)st, used);
	st = ipcf_decoder_finish(&s->dec);
	after = ipcf_decoder_fault(&s->dec, &at_after);
	FUZZ_CHECK(st == IPCF_FAULT && after == before && at_after == at_before,
		   "after %s at %" PRIu64 ", finish returned status %d with %s"
		   " at %" PRIu64, ipcf_fault_name(before), at_before, (int)st,
		   ipcf_fault_name(after), at_after);
}

static void stream_through_cuts(struct streaming *s, const uint8_t *stream,
				size_t len, const uint8_t *cuts, size_t n_cuts)
{
	size_t pos = 0, sum = 0;

	for (size_t i = 0; i < n_cuts; i++)
		sum += cuts[i];
	for (size_t step = 0; pos < len && !s->stopped; step++) {
		size_t piece;

		if (sum > 0)
			piece = cuts[step % n_cuts];
		else
			piece = step < n_cuts ? 0 : len - pos;
		if (piece > len - pos)
			piece = len - pos;
		feed_piece(s, stream + pos, piece);
		pos = (size_t)s->taken;
	}
	if (!s->stopped)
		s->stopped = ipcf_decoder_finish(&s->dec) == IPCF_FAULT;
	if (s->stopped)
		check_stays_stopped(s, stream + pos, len - pos);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct fuzz_limits lim = fuzz_limits_from_byte(fuzz_take_u8(&in));
	size_t n_cuts = fuzz_take_u8(&in) & MAX_CUTS;
	const uint8_t *cuts = fuzz_take_bytes(&in, n_cuts, &n_cuts);
	struct oneshot os = { 0 };
	struct streaming s = { .want = &os };
	enum ipcf_fault want, got;
	uint64_t want_at = 0, got_at = 0;
	int rc;

	os.cap = in.left / IPCF_HEADER_SIZE + 1;
	os.msgs = must_alloc(os.cap * sizeof *os.msgs);
	rc = ipcf_decode_all(in.p, in.left, lim.max_frame, lim.max_message,
			     record_message, &os, &want, &want_at);
	FUZZ_CHECK(rc == 0, "ipcf_decode_all returned %d on a %zu-byte stream",
		   rc, in.left);

	ipcf_decoder_init(&s.dec, lim.max_frame, lim.max_message);
	stream_through_cuts(&s, in.p, in.left, cuts, n_cuts);
	got = ipcf_decoder_fault(&s.dec, &got_at);
	FUZZ_CHECK(s.next == os.n && got == want &&
			   (got == IPCF_OK || got_at == want_at) &&
			   s.stopped == (got != IPCF_OK),
		   "streaming through %zu cuts gave %zu messages and %s at %"
		   PRIu64 " (%s); one-shot gave %zu messages and %s at %" PRIu64,
		   n_cuts, s.next, ipcf_fault_name(got), got_at,
		   s.stopped ? "stopped" : "clean end", os.n,
		   ipcf_fault_name(want), want_at);
	ipcf_decoder_free(&s.dec);
	for (size_t i = 0; i < os.n; i++)
		free((void *)os.msgs[i].data);
	free(os.msgs);
	return 0;
}
