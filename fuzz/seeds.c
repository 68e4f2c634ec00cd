/*
 * fuzz-seeds: the seed corpora, made with the encoder so that they follow it.
 *
 *   fuzz-seeds OUTDIR          writes OUTDIR/<target>/seed-<name> for every
 *                              target, and removes seed-* files it no longer
 *                              makes
 *   fuzz-seeds --check DIR     exit 1 if DIR/<target>/seed-* differ from what
 *                              would be written now
 *
 * Every stream target gets valid streams (one message, fragments, 0 bytes,
 * seq wrap, several types, limits met exactly) and one hostile stream per
 * fault of the spec, built with ipcf_header_pack. Every channel target gets
 * the same scripts (sizes 0 to 64 KiB + 1 and more, multi-frame, refused)
 * under fault plans of each kind. The formats are those in the top comment
 * of each fuzz/<target>.c (fuzz/channel_driver.c for the channel targets).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "channel_driver.h"
#include "fuzz_common.h"
#include "mq_model_format.h"
#include "sem_model_format.h"
#include "signal_driver.h"

#define SEED_MAX 4096u
#define MAX_SEEDS 512u

struct buf {
	uint8_t data[SEED_MAX];
	size_t len;
};

struct seed {
	const char *target;
	char name[64];
	struct buf bytes;
};

static struct seed seeds[MAX_SEEDS];
static size_t n_seeds;
static const char *prog = "fuzz-seeds";

static const char *const targets[] = {
	"frame_decode", "frame_roundtrip", "frame_chunks", "crc32c",
	"channel_pipe", "channel_fifo", "channel_unix_stream", "channel_tcp",
	"channel_sysv_msg", "channel_posix_mq", "channel_unix_dgram",
	"channel_unix_seqpacket", "channel_shm_ring", "channel_shm_mpmc_sysv_sem",
	"channel_shm_mpmc_posix_sem",
	"mq_sysv_model", "mq_posix_model", "sem_model", "shm_ring_ops",
	"signal_timing_pipe", "signal_timing_fifo", "signal_timing_unix_stream",
	"signal_timing_tcp", "signal_timing_sysv_msg", "signal_timing_posix_mq",
	"signal_timing_unix_dgram", "signal_timing_unix_seqpacket",
	"signal_timing_shm_ring", "sigqueue_order",
};

static _Noreturn void fail(const char *what, const char *detail)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, detail);
	exit(1);
}

/* ---- building bytes ------------------------------------------------------ */

static void put(struct buf *b, const void *p, size_t n)
{
	if (n > SEED_MAX - b->len)
		fail("a seed outgrew its limit", "keep seeds under 4 KiB");
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_u8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put_be16(struct buf *b, uint16_t v)
{
	put_u8(b, (uint8_t)(v >> 8));
	put_u8(b, (uint8_t)v);
}

static void put_be32(struct buf *b, uint32_t v)
{
	put_be16(b, (uint16_t)(v >> 16));
	put_be16(b, (uint16_t)v);
}

/* A payload of n bytes that differ from one another and from run to run
 * of the pattern, so a misplaced byte shows. */
static const uint8_t *pattern(size_t n, uint8_t salt)
{
	static uint8_t p[SEED_MAX];

	for (size_t i = 0; i < n && i < sizeof p; i++)
		p[i] = (uint8_t)(i * 7u + salt);
	return p;
}

static void put_message(struct buf *b, struct ipcf_encoder *enc,
			uint16_t type, const void *payload, size_t len)
{
	uint8_t out[SEED_MAX];
	size_t n = ipcf_encode(enc, type, payload, len, out, sizeof out);

	if (n == 0)
		fail("the encoder refused a seed message", strerror(errno));
	put(b, out, n);
}

/* One frame exactly as given, valid or not; the CRC is right unless the
 * caller changes the bytes afterwards. */
static size_t put_frame(struct buf *b, uint8_t flags, uint16_t type,
			uint32_t seq, const void *payload, uint32_t len)
{
	uint8_t hdr[IPCF_HEADER_SIZE];
	size_t at = b->len;

	ipcf_header_pack(hdr, flags, type, seq, payload, len);
	put(b, hdr, sizeof hdr);
	put(b, payload, len);
	return at;
}

/* The limits byte of fuzz_common.h for two values of its table. */
static uint8_t limits(uint32_t max_frame, uint32_t max_message)
{
	int f = -1, m = -1;

	for (int i = 0; i < 16; i++) {
		if (fuzz_limit_table[i] == max_frame)
			f = i;
		if (fuzz_limit_table[i] == max_message)
			m = i;
	}
	if (f < 0 || m < 0)
		fail("a seed asks for limits outside fuzz_limit_table",
		     "pick values from the table in fuzz_common.h");
	return (uint8_t)(m << 4 | f);
}

static void add(const char *target, const char *name, const struct buf *b)
{
	struct seed *s;

	if (n_seeds == MAX_SEEDS)
		fail("too many seeds", "raise MAX_SEEDS in fuzz/seeds.c");
	s = &seeds[n_seeds++];
	s->target = target;
	snprintf(s->name, sizeof s->name, "seed-%s", name);
	s->bytes = *b;
}

/* ---- the stream targets: frame_decode and frame_chunks -------------------- */

struct stream {
	const char *name;
	uint8_t limits;
	struct buf bytes;
};

#define MAX_STREAMS 32u
static struct stream streams[MAX_STREAMS];
static size_t n_streams;

static struct buf *new_stream(const char *name, uint8_t lim)
{
	struct stream *s = &streams[n_streams++];

	s->name = name;
	s->limits = lim;
	s->bytes.len = 0;
	return &s->bytes;
}

static void valid_streams(void)
{
	const uint8_t dflt = FUZZ_LIMITS_DEFAULT;
	struct ipcf_encoder enc;
	struct buf *b;

	ipcf_encoder_init(&enc, 0, IPCF_DEFAULT_LIMIT);
	put_message(new_stream("single", dflt), &enc, 1, "hello", 5);

	new_stream("empty-stream", dflt);

	ipcf_encoder_init(&enc, 0, IPCF_DEFAULT_LIMIT);
	put_message(new_stream("empty-message", dflt), &enc, 1, NULL, 0);

	ipcf_encoder_init(&enc, 100, 8);
	b = new_stream("fragmented", limits(8, 256));
	put_message(b, &enc, 3, pattern(45, 1), 45);
	put_message(b, &enc, 3, pattern(8, 2), 8);

	ipcf_encoder_init(&enc, 0xFFFFFFFEu, 5);
	b = new_stream("seq-wrap", limits(5, 64));
	put_message(b, &enc, 9, pattern(13, 3), 13);
	put_message(b, &enc, 9, pattern(2, 4), 2);

	ipcf_encoder_init(&enc, 7, IPCF_DEFAULT_LIMIT);
	b = new_stream("several-types", dflt);
	put_message(b, &enc, 1, pattern(3, 5), 3);
	put_message(b, &enc, 2, NULL, 0);
	put_message(b, &enc, 0x7FFF, pattern(30, 6), 30);
	put_message(b, &enc, 0xFFFF, pattern(1, 7), 1);

	ipcf_encoder_init(&enc, 0, 8);
	b = new_stream("limits-met-exactly", limits(8, 32));
	put_message(b, &enc, 4, pattern(32, 8), 32);
	put_message(b, &enc, 4, pattern(8, 9), 8);
}

/* One stream per fault, the fault after a valid message where the spec's
 * offset then means more than 0. */
static void hostile_streams(void)
{
	const uint8_t dflt = FUZZ_LIMITS_DEFAULT;
	struct ipcf_encoder enc;
	struct buf *b;
	size_t at;

	ipcf_encoder_init(&enc, 0, IPCF_DEFAULT_LIMIT);
	b = new_stream("fault-magic", dflt);
	put_message(b, &enc, 1, "ok", 2);
	at = put_frame(b, 0, 1, 1, "x", 1);
	b->data[at + 3] = 'X';

	b = new_stream("fault-version", dflt);
	at = put_frame(b, 0, 1, 0, "x", 1);
	b->data[at + 4] = 2;

	put_frame(new_stream("fault-flags", dflt), 0x02, 1, 0, "x", 1);

	put_frame(new_stream("fault-type-zero", dflt), 0, 0, 0, "x", 1);

	b = new_stream("fault-type-changes", dflt);
	put_frame(b, IPCF_FLAG_MORE, 1, 0, "ab", 2);
	put_frame(b, 0, 2, 1, "cd", 2);

	put_frame(new_stream("fault-too-big-frame", limits(8, 256)), 0, 1, 0,
		  pattern(9, 10), 9);

	b = new_stream("fault-too-big-message", limits(8, 13));
	put_frame(b, IPCF_FLAG_MORE, 1, 0, pattern(8, 11), 8);
	put_frame(b, 0, 1, 1, pattern(8, 12), 8);

	b = new_stream("fault-too-big-default", dflt);
	put_frame(b, 0, 1, 0, NULL, 0);
	at = b->len;
	put_frame(b, 0, 1, 1, NULL, 0);
	/* The spec's largest frame plus one: judged on the header alone. */
	memcpy(b->data + at + 12, "\x01\x00\x00\x01", 4);

	ipcf_encoder_init(&enc, 0, IPCF_DEFAULT_LIMIT);
	b = new_stream("fault-crc", dflt);
	put_message(b, &enc, 1, "ok", 2);
	at = put_frame(b, 0, 1, 1, "payload", 7);
	b->data[at + IPCF_HEADER_SIZE] ^= 0x20;

	ipcf_encoder_init(&enc, 0, IPCF_DEFAULT_LIMIT);
	b = new_stream("fault-seq", dflt);
	put_message(b, &enc, 1, "a", 1);
	put_frame(b, 0, 1, 2, "b", 1);

	put(new_stream("fault-truncated-header", dflt), "IPC", 3);

	b = new_stream("fault-truncated-payload", dflt);
	put_frame(b, 0, 1, 0, pattern(10, 13), 10);
	b->len -= 6;

	put_frame(new_stream("fault-truncated-more", dflt), IPCF_FLAG_MORE, 1, 0,
		  "abc", 3);

	/* A header that may announce 1 GiB, and 4 bytes of it: a decoder that
	 * reserves what is announced rather than what arrives shows here. */
	b = new_stream("fault-truncated-announced-1gib",
		       limits(IPCF_MAX_LIMIT, IPCF_MAX_LIMIT));
	at = put_frame(b, 0, 1, 0, "abcd", 4);
	memcpy(b->data + at + 12, "\x40\x00\x00\x00", 4);
}

/* frame_chunks cuts: byte by byte, across header and payload boundaries,
 * empty feeds; each stream gets one of them, in turn. */
static const struct cut_pattern {
	const char *name;
	uint8_t n;
	uint8_t sizes[4];
} cut_patterns[] = {
	{ "bytewise", 1, { 1 } },
	{ "cut-7", 1, { 7 } },
	{ "cut-19-1", 2, { 19, 1 } },
	{ "cut-20-3", 2, { 20, 3 } },
	{ "empty-feeds", 3, { 0, 5, 0 } },
	{ "whole", 0, { 0 } },
};

static void stream_seeds(void)
{
	const size_t n_cuts = sizeof cut_patterns / sizeof cut_patterns[0];

	valid_streams();
	hostile_streams();
	for (size_t i = 0; i < n_streams; i++) {
		const struct stream *s = &streams[i];
		struct buf b = { .len = 0 };
		char name[64];

		put_u8(&b, s->limits);
		put(&b, s->bytes.data, s->bytes.len);
		add("frame_decode", s->name, &b);

		const struct cut_pattern *cut = &cut_patterns[i % n_cuts];
		b.len = 0;
		put_u8(&b, s->limits);
		put_u8(&b, cut->n);
		put(&b, cut->sizes, cut->n);
		put(&b, s->bytes.data, s->bytes.len);
		snprintf(name, sizeof name, "%s-%s", s->name, cut->name);
		add("frame_chunks", name, &b);
	}
}

/* ---- frame_roundtrip ----------------------------------------------------- */

static struct buf *roundtrip_seed(struct buf *b, uint16_t max_frame,
				  uint32_t first_seq)
{
	b->len = 0;
	put_be16(b, max_frame);
	put_be32(b, first_seq);
	return b;
}

static void put_record(struct buf *b, uint16_t type, uint16_t len,
		       uint8_t salt)
{
	put_be16(b, type);
	put_be16(b, len);
	put(b, pattern(len, salt), len);
}

static void roundtrip_seeds(void)
{
	const char *t = "frame_roundtrip";
	struct buf b;

	put_record(roundtrip_seed(&b, 4096, 0), 1, 5, 1);
	add(t, "single", &b);

	put_record(roundtrip_seed(&b, 3, 10), 7, 10, 2);
	add(t, "fragmented", &b);

	put_record(roundtrip_seed(&b, 16, 0), 1, 0, 0);
	add(t, "empty-message", &b);

	roundtrip_seed(&b, 2, 0xFFFFFFFEu);
	put_record(&b, 1, 6, 3);
	put_record(&b, 2, 1, 4);
	add(t, "seq-wrap", &b);

	roundtrip_seed(&b, 64, 1000);
	put_record(&b, 1, 3, 5);
	put_record(&b, 2, 0, 0);
	put_record(&b, 0x1234, 70, 6);
	put_record(&b, 0xFFFF, 1, 7);
	add(t, "several-types", &b);

	put_record(roundtrip_seed(&b, 1, 0), 1, 4, 8);
	add(t, "frame-limit-1", &b);

	roundtrip_seed(&b, 8, 0);
	put_record(&b, 5, 8, 9);
	put_record(&b, 5, 16, 10);
	put_record(&b, 5, 7, 11);
	put_record(&b, 5, 9, 12);
	add(t, "frames-at-the-limit", &b);

	roundtrip_seed(&b, 16, 0);
	put_record(&b, 1, 2, 13);
	put_record(&b, 0, 3, 14);
	put_record(&b, 1, 2, 15);
	add(t, "refused-type-zero", &b);

	roundtrip_seed(&b, 0, 0);
	put_record(&b, 1, 0, 0);
	put_record(&b, 1, 3, 16);
	put_record(&b, 2, 0, 0);
	add(t, "refused-frame-limit-0", &b);

	roundtrip_seed(&b, 4, 0);
	put_be16(&b, 6);
	put_be16(&b, 500);
	put(&b, "short", 5);
	add(t, "payload-cut-short", &b);

	roundtrip_seed(&b, 5, 0x7FFFFFF0u);
	for (uint16_t i = 0; i < 24; i++)
		put_record(&b, (uint16_t)(1 + i % 3), i, (uint8_t)i);
	add(t, "many-messages", &b);
}

/* ---- crc32c -------------------------------------------------------------- */

static void crc_seed(const char *name, uint16_t split, uint32_t start,
		     const void *data, size_t len)
{
	struct buf b = { .len = 0 };

	put_be16(&b, split);
	put_be32(&b, start);
	put(&b, data, len);
	add("crc32c", name, &b);
}

static void crc_seeds(void)
{
	static const uint8_t ones[32] = {
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	};
	static const uint8_t zeros[1024];
	uint8_t hdr[IPCF_HEADER_SIZE];

	crc_seed("check-value", 0, 0, "123456789", 9);
	crc_seed("check-value-split", 4, 0, "123456789", 9);
	crc_seed("empty", 0, 0, NULL, 0);
	crc_seed("one-byte", 1, 0, "a", 1);
	crc_seed("continued", 1, 0xE3069283u, "abc", 3);
	crc_seed("64-bytes-split-32", 32, 0, pattern(64, 1), 64);
	crc_seed("61-bytes-split-3", 3, 0x12345678u, pattern(61, 2), 61);
	crc_seed("ones", 9, 0xFFFFFFFFu, ones, sizeof ones);
	crc_seed("1k-zeros-split-1023", 1023, 0, zeros, sizeof zeros);
	ipcf_header_pack(hdr, IPCF_FLAG_MORE, 1, 0, "x", 1);
	crc_seed("frame-header", 16, 0, hdr, 16);
}

/* ---- the channel targets ------------------------------------------------- */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct chan_msg {
	uint16_t type;
	uint16_t size; /* the size field: a length, or CHF_SIZE_* bits */
	uint8_t pattern;
};

/* The options byte for two values of the driver's limit tables. */
static uint8_t chan_options(uint32_t frame, uint32_t limit, uint8_t flags)
{
	int f = -1, m = -1;

	for (size_t i = 0; i < COUNT(chf_frame_limits); i++)
		if (chf_frame_limits[i] == frame)
			f = (int)i;
	for (size_t i = 0; i < COUNT(chf_message_limits); i++)
		if (chf_message_limits[i] == limit)
			m = (int)i;
	if (f < 0 || m < 0)
		fail("a channel seed asks for limits outside the tables",
		     "pick values from chf_frame_limits and chf_message_limits"
		     " in fuzz/channel_driver.h");
	return (uint8_t)(flags | f << CHF_FRAME_SHIFT | m << CHF_MESSAGE_SHIFT);
}

static void put_script(struct buf *b, uint8_t options, uint8_t backend_bits,
		       const struct chan_msg *m, size_t n)
{
	b->len = 0;
	put_u8(b, options);
	put_u8(b, (uint8_t)(backend_bits | n));
	for (size_t i = 0; i < n; i++) {
		put_be16(b, m[i].type);
		put_be16(b, m[i].size);
		put_u8(b, m[i].pattern);
	}
}

static void put_repeated(struct buf *b, const uint8_t *unit, size_t len,
			 size_t times)
{
	for (size_t i = 0; i < times; i++)
		put(b, unit, len);
}

/* 0 and 1 byte, PIPE_BUF and one over, a few KiB: one frame each. */
static const struct chan_msg chan_sizes[] = {
	{ 1, 0, 0x00 }, { 2, 1, 0x11 }, { 3, 4096, 0x22 },
	{ 0xFFFF, 4097, 0x33 }, { 0x7FFF, 3000, 0x44 }, { 5, 12000, 0x55 },
};

/* Exactly one frame, one byte over, several, and the frame cap. */
static const struct chan_msg chan_fragments[] = {
	{ 9, 255, 0x01 }, { 9, 256, 0x02 }, { 10, 1000, 0x03 },
	{ 11, 0, 0x04 }, { 12, 16383, 0x05 },
};

/* Type 0 and over the limit are refused; the stream goes on. */
static const struct chan_msg chan_refused[] = {
	{ 0, 10, 0x06 }, { 1, 4097, 0x07 }, { 2, 4096, 0x08 }, { 3, 1, 0x09 },
};

/* 64 KiB, 64 KiB + 1 and the largest: a pipe's default frame limit and
 * the receiver's reads are 64 KiB. */
static const struct chan_msg chan_large[] = {
	{ 0x4242, CHF_SIZE_LARGE | 8192, 0x0A },
	{ 0x4243, CHF_SIZE_LARGE | 8193, 0x0B },
	{ 0x4244, CHF_SIZE_LARGE | CHF_SIZE_LENGTH, 0x0C },
};

static const struct chan_msg chan_batch[] = {
	{ 1, 10, 0x10 }, { 2, 4000, 0x20 }, { 3, 0, 0x30 }, { 4, 20000, 0x40 },
	{ 5, 16383, 0x50 }, { 6, 1, 0x60 }, { 7, 9000, 0x70 }, { 8, 300, 0x80 },
};

/* Both ways on a duplex backend (one way on the others). */
static const struct chan_msg chan_both_ways[] = {
	{ 1, 100, 0x01 }, { 2, CHF_SIZE_REVERSE | 200, 0x02 },
	{ 3, CHF_SIZE_REVERSE | 0, 0x03 }, { 4, 4096, 0x04 },
	{ 5, CHF_SIZE_REVERSE | 5000, 0x05 },
};

/* Plans, by what they do to every call that takes them (fault.h). */
static const uint8_t plan_short_8[] = { 0xA7 };      /* transfers of 8 */
static const uint8_t plan_short_1[] = { 0xA0 };      /* transfers of 1 */
static const uint8_t plan_eintr[] = { 0xC0 };        /* EINTR where it fits */
static const uint8_t plan_eagain[] = { 0xC1, 0x00 }; /* EAGAIN, then pass */
static const uint8_t plan_signals[] = { 0xE0, 0x00, 0xE1, 0x00 };
static const uint8_t plan_mixed[] = { 0xA3, 0xE1, 0xC0, 0x00, 0xC1, 0x00 };
/* write, writev, sendmsg: EPIPE (index 2 of their errnos). */
static const uint8_t plan_epipe[] = { 0xC2 };
/* A send's write: EAGAIN; its poll: ENOMEM. */
static const uint8_t plan_enomem[] = { 0xC1 };

static void chan_seed(const char *target, const char *name, uint8_t options,
		      uint8_t backend_bits, const struct chan_msg *m, size_t n,
		      const uint8_t *plan, size_t plan_len, size_t times)
{
	struct buf b;

	put_script(&b, options, backend_bits, m, n);
	put_repeated(&b, plan, plan_len, times);
	add(target, name, &b);
}

/* The seeds of one channel target; backend_bits are its CHF_ABSTRACT or
 * CHF_IPV6 variant, if any. */
static void channel_seeds(const char *t, uint8_t backend_bits)
{
	const uint8_t dflt = chan_options(65536, 0, 0);
	const uint8_t f255 = chan_options(255, 0, 0);
	const uint8_t f7 = chan_options(7, 0, 0);

#define SEED(name, options, msgs, plan, times)                                 \
	chan_seed(t, name, options, 0, msgs, COUNT(msgs), plan, COUNT(plan),   \
		  times)
#define CLEAN(name, options, msgs)                                             \
	chan_seed(t, name, options, 0, msgs, COUNT(msgs), NULL, 0, 0)

	CLEAN("sizes", dflt, chan_sizes);
	CLEAN("fragments-255", f255, chan_fragments);
	CLEAN("fragments-7", f7, chan_fragments);
	CLEAN("refused", chan_options(65536, 4096, 0), chan_refused);
	CLEAN("large", dflt, chan_large);
	CLEAN("large-32k-frames", chan_options(32768, 0, 0), chan_large);
	CLEAN("batch", chan_options(4097, 0, CHF_BATCH), chan_batch);
	CLEAN("both-ways", dflt, chan_both_ways);
	CLEAN("both-ways-batch", chan_options(4096, 0, CHF_BATCH),
	      chan_both_ways);
	CLEAN("reader-gone", chan_options(255, 0, CHF_READER_GONE),
	      chan_fragments);
	SEED("short-8", dflt, chan_sizes, plan_short_8, 48);
	SEED("short-1-fragments", f255, chan_fragments, plan_short_1, 64);
	SEED("eintr", dflt, chan_sizes, plan_eintr, 48);
	SEED("eintr-batch", chan_options(4097, 0, CHF_BATCH), chan_batch,
	     plan_eintr, 64);
	SEED("eagain", dflt, chan_sizes, plan_eagain, 32);
	SEED("signals", f255, chan_fragments, plan_signals, 24);
	SEED("signals-plan-first", chan_options(65536, 0, CHF_PLAN_FIRST),
	     chan_sizes, plan_signals, 24);
	SEED("mixed-both-ways", chan_options(16, 0, CHF_BATCH),
	     chan_both_ways, plan_mixed, 40);
	SEED("mixed-reader-gone", chan_options(7, 1, CHF_READER_GONE),
	     chan_refused, plan_mixed, 40);
	SEED("mixed-plan-first", chan_options(4096, 0, CHF_PLAN_FIRST),
	     chan_large, plan_mixed, 40);
	SEED("epipe", dflt, chan_sizes, plan_epipe, 8);
	SEED("enomem", dflt, chan_sizes, plan_enomem, 8);
	if (backend_bits != 0)
		chan_seed(t, backend_bits == CHF_ABSTRACT ? "abstract" : "ipv6",
			  dflt, backend_bits, chan_sizes, COUNT(chan_sizes),
			  plan_mixed, COUNT(plan_mixed), 20);
#undef SEED
#undef CLEAN
}

/* ---- the signal targets -------------------------------------------------- */

/* A schedule point: a gap in seam calls and the signal (0 or 1). */
struct sig_point {
	uint8_t gap;
	uint8_t sig;
};

/* Every few calls, both signals. */
static const struct sig_point sig_spread[] = {
	{ 2, 0 }, { 5, 1 }, { 0, 0 }, { 7, 1 }, { 3, 0 }, { 11, 1 },
};
/* Back to back on the first calls, then one far out. */
static const struct sig_point sig_burst[] = {
	{ 0, 0 }, { 0, 1 }, { 0, 0 }, { 0, 1 }, { 0, 0 }, { 200, 1 },
};

static void sig_seed(const char *target, const char *name, uint8_t flavour,
		     const struct sig_point *p, size_t np, uint8_t options,
		     uint8_t backend_bits, const struct chan_msg *m, size_t n,
		     const uint8_t *plan, size_t plan_len, size_t times)
{
	struct buf b, script;

	b.len = 0;
	put_u8(&b, flavour);
	put_u8(&b, (uint8_t)np);
	for (size_t i = 0; i < np; i++) {
		put_u8(&b, p[i].gap);
		put_u8(&b, p[i].sig);
	}
	put_script(&script, options, backend_bits, m, n);
	put(&b, script.data, script.len);
	put_repeated(&b, plan, plan_len, times);
	add(target, name, &b);
}

/* The seeds of one signal_timing target: each handler flavour, under
 * schedules alone and mixed with the channel plans' faults. */
static void signal_timing_seeds(const char *t, uint8_t backend_bits)
{
	const uint8_t dflt = chan_options(65536, 0, 0);
	const uint8_t f255 = chan_options(255, 0, 0);
	const uint8_t batch = chan_options(4097, 0, CHF_BATCH);

#define SIG(name, flavour, points, options, msgs, plan, times)                 \
	sig_seed(t, name, flavour, points, COUNT(points), options,             \
		 backend_bits, msgs, COUNT(msgs), plan, COUNT(plan), times)

	SIG("raise-count", 0, sig_spread, dflt, chan_sizes, plan_short_8, 0);
	SIG("raise-restart", SIGF_RESTART, sig_burst, f255, chan_fragments,
	    plan_short_8, 0);
	SIG("thread-count", SIGF_THREAD, sig_spread, dflt, chan_sizes,
	    plan_short_8, 0);
	SIG("thread-pipe-siginfo", SIGF_THREAD | SIGF_SELF_PIPE | SIGF_SIGINFO,
	    sig_burst, batch, chan_batch, plan_short_8, 0);
	SIG("pipe-mask-both", SIGF_SELF_PIPE | SIGF_MASK_BOTH | SIGF_RESTART,
	    sig_spread, chan_options(4096, 0, CHF_BATCH), chan_both_ways,
	    plan_short_8, 0);
	SIG("siginfo-reader-gone", SIGF_SIGINFO,
	    sig_spread, chan_options(255, 0, CHF_READER_GONE), chan_fragments,
	    plan_short_8, 0);
	SIG("thread-eintr", SIGF_THREAD | SIGF_SIGINFO, sig_spread, dflt,
	    chan_sizes, plan_eintr, 48);
	SIG("thread-mixed", SIGF_THREAD | SIGF_SELF_PIPE, sig_burst,
	    chan_options(16, 0, CHF_BATCH), chan_both_ways, plan_mixed, 40);
	sig_seed(t, "plan-signals-only", SIGF_THREAD, NULL, 0, f255,
		 backend_bits, chan_fragments, COUNT(chan_fragments),
		 plan_signals, COUNT(plan_signals), 24);
	SIG("plan-first", SIGF_RESTART | SIGF_THREAD, sig_burst,
	    chan_options(65536, 0, CHF_PLAN_FIRST), chan_sizes, plan_mixed, 20);
#undef SIG
}

static void sq_put(struct buf *b, uint8_t sig, uint32_t value)
{
	put_u8(b, sig);
	put_be32(b, value);
}

/* sigqueue_order: one value; values across the four signals, sent highest
 * first; one signal many times; the most values an input takes. */
static void sigqueue_seeds(void)
{
	static const uint8_t interleaved[] = { 3, 1, 2, 0, 1, 3, 0, 2, 2, 1 };
	struct buf b;

	for (uint8_t how = 0; how < 2; how++) {
		const char *by = how ? "handler" : "wait";
		char name[48];

		b.len = 0;
		put_u8(&b, how);
		sq_put(&b, 0, 42);
		snprintf(name, sizeof name, "%s-one", by);
		add("sigqueue_order", name, &b);

		b.len = 0;
		put_u8(&b, how);
		for (size_t i = 0; i < COUNT(interleaved); i++)
			sq_put(&b, interleaved[i], 0x1000u * (uint32_t)i + 7u);
		snprintf(name, sizeof name, "%s-interleaved", by);
		add("sigqueue_order", name, &b);

		b.len = 0;
		put_u8(&b, how);
		for (uint32_t i = 0; i < 20; i++)
			sq_put(&b, 1, 0xFFFFFFF0u + i);
		snprintf(name, sizeof name, "%s-one-signal", by);
		add("sigqueue_order", name, &b);

		b.len = 0;
		put_u8(&b, how);
		for (uint32_t i = 0; i < 64; i++)
			sq_put(&b, (uint8_t)(3 - i % 4), i * 0x01010101u);
		snprintf(name, sizeof name, "%s-most", by);
		add("sigqueue_order", name, &b);
	}
}

/* ---- the message queue model targets -------------------------------------- */

/*
 * The sizes in these seeds assume Linux's default limits: msgmax 8192 and
 * msgmnb 16384 (System V), msg_max 10 and msgsize_max 8192 (POSIX). With
 * other limits the same bytes are still valid inputs, of other sizes.
 */
#define SEED_MSGMAX 8192u
#define SEED_MSGMNB 16384u

/* A selector byte for -n, n in 1..112. */
static uint8_t below(unsigned n)
{
	return (uint8_t)(MQF_SELECTOR_NEGATIVE + n - 1);
}

/* The byte that picks mqf_sysv_specials[i]. */
static uint8_t special(unsigned i)
{
	return (uint8_t)(MQF_SPECIAL | i);
}

enum { SP_LONG_MAX = 0, SP_INT_MAX = 2, SP_INT_MAX_1 = 3, SP_UINT_MAX_1 = 5,
       SP_255 = 6, SP_256 = 7, SP_MINUS_1 = 8, SP_MINUS_255 = 10,
       SP_INT_MIN = 12, SP_MINUS_LONG_MAX = 14, SP_LONG_MIN = 15 };

static void sysv_begin(struct buf *b, uint16_t qbytes)
{
	b->len = 0;
	put_be16(b, qbytes);
}

static void sysv_send(struct buf *b, uint8_t type, uint16_t size,
		      uint8_t pattern)
{
	put_u8(b, MQF_SEND);
	put_u8(b, type);
	put_be16(b, size);
	put_u8(b, pattern);
}

static void sysv_recv(struct buf *b, uint8_t flags, uint8_t selector,
		      uint16_t cap)
{
	put_u8(b, (uint8_t)(MQF_RECV | flags));
	put_u8(b, selector);
	put_be16(b, cap);
}

static void sysv_stat(struct buf *b)
{
	put_u8(b, MQF_STAT);
}

static void sysv_set_qbytes(struct buf *b, uint16_t qbytes)
{
	put_u8(b, MQF_SYSV_SET_QBYTES);
	put_be16(b, qbytes);
}

/* One send, and one receive of each kind; refused types and sizes. */
static void sysv_basic_seeds(const char *t)
{
	struct buf b;

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 1, 5, 0x01);
	sysv_stat(&b);
	sysv_recv(&b, 0, 0, 100);
	sysv_stat(&b);
	add(t, "send-receive", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 0, 1, 0x02);
	sysv_send(&b, special(SP_MINUS_1), 1, 0x03);
	sysv_send(&b, special(SP_INT_MIN), 1, 0x04);
	sysv_send(&b, special(SP_LONG_MIN), 0, 0x05);
	sysv_stat(&b);
	add(t, "einval-type", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 1, SEED_MSGMAX + 1, 0x06);
	sysv_send(&b, 1, SEED_MSGMAX, 0x07);
	sysv_send(&b, 2, SEED_MSGMAX, 0x08);
	sysv_send(&b, 3, 0, 0x09);
	sysv_send(&b, 3, 1, 0x0A);
	sysv_stat(&b);
	sysv_recv(&b, 0, 0, SEED_MSGMAX + 1);
	add(t, "einval-size-and-largest", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_recv(&b, 0, 0, 10);
	sysv_recv(&b, 0, 5, 10);
	sysv_recv(&b, 0, below(5), 10);
	sysv_recv(&b, MQF_SYSV_EXCEPT, 1, 10);
	sysv_recv(&b, MQF_SYSV_NOERROR, special(SP_LONG_MIN), 0);
	sysv_stat(&b);
	add(t, "enomsg-empty", &b);
}

/* The queue full by bytes and by count, and msg_qbytes changed. */
static void sysv_full_seeds(const char *t)
{
	struct buf b;

	sysv_begin(&b, 10);
	sysv_send(&b, 1, 6, 0x11);
	sysv_send(&b, 1, 5, 0x12);
	sysv_send(&b, 2, 4, 0x13);
	sysv_stat(&b);
	sysv_send(&b, 1, 1, 0x14);
	sysv_send(&b, 1, 0, 0x15);
	add(t, "eagain-bytes", &b);

	sysv_begin(&b, 3);
	for (int i = 0; i < 4; i++)
		sysv_send(&b, (uint8_t)(1 + i), 0, 0);
	sysv_stat(&b);
	sysv_recv(&b, 0, 2, 0);
	sysv_send(&b, 9, 0, 0);
	sysv_send(&b, 9, 0, 0);
	add(t, "eagain-count", &b);

	sysv_begin(&b, 0);
	sysv_send(&b, 1, 0, 0x16);
	sysv_stat(&b);
	sysv_set_qbytes(&b, 1);
	sysv_send(&b, 1, 0, 0x17);
	sysv_send(&b, 1, 0, 0x18);
	sysv_stat(&b);
	add(t, "qbytes-0-and-1", &b);

	sysv_begin(&b, 100);
	sysv_send(&b, 1, 50, 0x19);
	sysv_set_qbytes(&b, 10);
	sysv_send(&b, 1, 1, 0x1A);
	sysv_stat(&b);
	sysv_recv(&b, 0, 0, 100);
	sysv_send(&b, 1, 10, 0x1B);
	sysv_set_qbytes(&b, SEED_MSGMNB);
	sysv_stat(&b);
	add(t, "qbytes-below-queued", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 1, SEED_MSGMAX, 0x1C);
	sysv_send(&b, 2, SEED_MSGMAX, 0x1D);
	sysv_send(&b, 3, 0, 0x1E);
	sysv_send(&b, 3, 1, 0x1F);
	sysv_stat(&b);
	sysv_recv(&b, 0, 2, SEED_MSGMAX);
	sysv_send(&b, 3, 1, 0x20);
	add(t, "eagain-msgmnb", &b);

	sysv_begin(&b, 40);
	for (int i = 0; i < 45; i++)
		sysv_send(&b, (uint8_t)(1 + i % 4), (uint16_t)(i % 2), (uint8_t)i);
	sysv_stat(&b);
	sysv_recv(&b, 0, below(1), 10);
	sysv_recv(&b, MQF_SYSV_EXCEPT, 2, 10);
	add(t, "eagain-many-small", &b);
}

/* The three selector rules, MSG_EXCEPT, E2BIG and MSG_NOERROR. */
static void sysv_selector_seeds(const char *t)
{
	struct buf b;

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 5, 4, 0x21);
	sysv_send(&b, 2, 3, 0x22);
	sysv_send(&b, 5, 5, 0x23);
	for (int i = 0; i < 4; i++)
		sysv_recv(&b, 0, 0, 64);
	add(t, "selector-zero", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 1, 1, 0x24);
	sysv_send(&b, 2, 1, 0x25);
	sysv_send(&b, 2, 2, 0x26);
	sysv_recv(&b, 0, 2, 64);
	sysv_recv(&b, 0, 3, 64);
	sysv_recv(&b, 0, 2, 64);
	sysv_recv(&b, 0, 2, 64);
	sysv_stat(&b);
	add(t, "selector-type", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 1, 1, 0x27);
	sysv_send(&b, 1, 2, 0x28);
	sysv_send(&b, 3, 3, 0x29);
	sysv_send(&b, 2, 4, 0x2A);
	for (int i = 0; i < 3; i++)
		sysv_recv(&b, MQF_SYSV_EXCEPT, 1, 64);
	sysv_recv(&b, MQF_SYSV_EXCEPT, 2, 64);
	add(t, "selector-except", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 2, 1, 0x2B);
	sysv_send(&b, 1, 2, 0x2C);
	sysv_recv(&b, MQF_SYSV_EXCEPT, below(2), 64);
	sysv_send(&b, 1, 3, 0x2D);
	sysv_recv(&b, MQF_SYSV_EXCEPT, 0, 64);
	sysv_recv(&b, MQF_SYSV_EXCEPT, below(1), 64);
	add(t, "selector-except-zero-negative", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 3, 1, 0x2E);
	sysv_send(&b, 2, 2, 0x2F);
	sysv_send(&b, 4, 3, 0x30);
	sysv_send(&b, 2, 4, 0x31);
	sysv_send(&b, 1, 5, 0x32);
	sysv_recv(&b, 0, below(1), 64);
	sysv_recv(&b, 0, below(3), 64);
	sysv_recv(&b, 0, below(3), 64);
	sysv_recv(&b, 0, below(2), 64);
	sysv_recv(&b, 0, below(3), 64);
	sysv_recv(&b, 0, special(SP_LONG_MIN), 64);
	add(t, "selector-negative", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, special(SP_LONG_MAX), 1, 0x33);
	sysv_send(&b, special(SP_INT_MAX_1), 2, 0x34);
	sysv_send(&b, special(SP_UINT_MAX_1), 3, 0x35);
	sysv_send(&b, special(SP_255), 4, 0x36);
	sysv_send(&b, special(SP_256), 5, 0x37);
	sysv_send(&b, special(SP_INT_MAX), 6, 0x38);
	sysv_recv(&b, 0, special(SP_MINUS_255), 64);
	sysv_recv(&b, 0, special(SP_INT_MAX_1), 64);
	sysv_recv(&b, 0, special(SP_INT_MIN), 64);
	sysv_recv(&b, MQF_SYSV_EXCEPT, special(SP_LONG_MAX), 64);
	sysv_recv(&b, 0, special(SP_MINUS_LONG_MAX), 64);
	sysv_stat(&b);
	add(t, "selector-wide-types", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 1, 5, 0x39);
	sysv_recv(&b, 0, 0, 4);
	sysv_stat(&b);
	sysv_recv(&b, 0, 1, 5);
	sysv_send(&b, 1, 1, 0x3A);
	sysv_recv(&b, 0, 0, 0);
	add(t, "e2big", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 2, 6, 0x3B);
	sysv_send(&b, 2, 2, 0x3C);
	sysv_send(&b, 1, 11, 0x3D);
	sysv_recv(&b, 0, 2, 2);
	sysv_recv(&b, 0, below(2), 2);
	sysv_recv(&b, MQF_SYSV_EXCEPT, 1, 2);
	sysv_stat(&b);
	add(t, "e2big-chosen-message", &b);

	sysv_begin(&b, SEED_MSGMNB);
	sysv_send(&b, 7, 9, 0x3E);
	sysv_send(&b, 7, 4, 0x3F);
	sysv_send(&b, 7, 300, 0x40);
	sysv_recv(&b, MQF_SYSV_NOERROR, 7, 5);
	sysv_stat(&b);
	sysv_recv(&b, MQF_SYSV_NOERROR, 0, 0);
	sysv_recv(&b, MQF_SYSV_NOERROR | MQF_SYSV_EXCEPT, 1, 257);
	sysv_stat(&b);
	add(t, "noerror-truncates", &b);
}

/* A deterministic mixture of every operation, for the fuzzer to start
 * from something busy. */
static void sysv_mixed_seed(const char *t, const char *name, uint16_t qbytes,
			    uint32_t seed, int ops)
{
	struct buf b;
	uint32_t x = seed;

	sysv_begin(&b, qbytes);
	for (int i = 0; i < ops; i++) {
		x = x * 1103515245u + 12345u;
		uint32_t r = x >> 8;

		switch (r % 8) {
		case 0: case 1: case 2:
			sysv_send(&b, (uint8_t)(1 + (r >> 3) % 6),
				  (uint16_t)((r >> 6) % 120), (uint8_t)i);
			break;
		case 3: case 4:
			sysv_recv(&b, (uint8_t)((r >> 3) & 0x0Cu),
				  (r >> 5) % 3 == 0 ? below(1 + (r >> 7) % 6)
						    : (uint8_t)((r >> 7) % 7),
				  (uint16_t)((r >> 10) % 128));
			break;
		case 5:
			sysv_stat(&b);
			break;
		case 6:
			sysv_set_qbytes(&b, (uint16_t)(64 + (r >> 3) % 512));
			break;
		default:
			sysv_recv(&b, 0, 0, SEED_MSGMAX);
		}
	}
	add(t, name, &b);
}

static void sysv_model_seeds(void)
{
	const char *t = "mq_sysv_model";

	sysv_basic_seeds(t);
	sysv_full_seeds(t);
	sysv_selector_seeds(t);
	sysv_mixed_seed(t, "mixed-qbytes-64", 64, 1, 120);
	sysv_mixed_seed(t, "mixed-qbytes-300", 300, 2, 160);
	sysv_mixed_seed(t, "mixed-qbytes-msgmnb", SEED_MSGMNB, 3, 200);
}

#define SEED_MSG_MAX 10u

/* The header bytes that ask for a queue of maxmsg messages of msgsize. */
static void posix_begin(struct buf *b, unsigned maxmsg, uint16_t msgsize)
{
	b->len = 0;
	put_u8(b, (uint8_t)(maxmsg - 1));
	put_be16(b, (uint16_t)(msgsize - 1));
}

static void posix_send(struct buf *b, uint8_t via, uint8_t prio, uint16_t size,
		       uint8_t pattern)
{
	put_u8(b, (uint8_t)(MQF_SEND | via));
	put_u8(b, prio);
	put_be16(b, size);
	put_u8(b, pattern);
}

static void posix_recv(struct buf *b, uint8_t via, uint8_t cap)
{
	put_u8(b, (uint8_t)(MQF_RECV | via));
	put_u8(b, cap);
}

static void posix_getattr(struct buf *b, uint8_t via)
{
	put_u8(b, (uint8_t)(MQF_STAT | via));
}

/* Priority bytes of mqf_posix_prio's specials. */
enum { PR_MAX_LESS_1 = 0xF0, PR_MAX = 0xF1, PR_MAX_PLUS_1 = 0xF2,
       PR_INT_MAX_1 = 0xF8, PR_UINT_MAX = 0xFA, PR_HALF = 0xFB };

#define TIMED MQF_POSIX_TIMED
#define CAP_EXACT 0x00
#define CAP_SHORT_1 MQF_CAP_SHORT

static void posix_basic_seeds(const char *t)
{
	struct buf b;

	posix_begin(&b, SEED_MSG_MAX, 64);
	posix_send(&b, 0, 0, 5, 0x01);
	posix_getattr(&b, 0);
	posix_recv(&b, 0, CAP_EXACT);
	posix_getattr(&b, TIMED);
	add(t, "send-receive", &b);

	posix_begin(&b, SEED_MSG_MAX, 64);
	posix_send(&b, TIMED, 3, 10, 0x02);
	posix_send(&b, TIMED, 0, 0, 0x03);
	posix_recv(&b, TIMED, 0x7F);
	posix_recv(&b, TIMED, 1);
	posix_getattr(&b, TIMED);
	add(t, "timed-send-receive", &b);

	posix_begin(&b, SEED_MSG_MAX, 16);
	posix_send(&b, 0, 0, 17, 0x04);
	posix_send(&b, TIMED, 0, 17, 0x05);
	posix_send(&b, 0, 0, 16, 0x06);
	posix_send(&b, 0, 0, 0, 0x07);
	posix_getattr(&b, 0);
	add(t, "emsgsize-send", &b);

	posix_begin(&b, SEED_MSG_MAX, 16);
	posix_recv(&b, 0, CAP_SHORT_1);
	posix_recv(&b, TIMED, 0xFF);
	posix_send(&b, 0, 0, 1, 0x08);
	posix_recv(&b, 0, CAP_SHORT_1);
	posix_getattr(&b, 0);
	posix_recv(&b, 0, CAP_EXACT);
	add(t, "emsgsize-receive", &b);

	posix_begin(&b, SEED_MSG_MAX, 32);
	posix_send(&b, 0, PR_MAX, 1, 0x09);
	posix_send(&b, TIMED, PR_MAX_PLUS_1, 1, 0x0A);
	posix_send(&b, 0, PR_UINT_MAX, 1, 0x0B);
	posix_send(&b, 0, PR_INT_MAX_1, 40, 0x0C);
	posix_send(&b, 0, PR_MAX_LESS_1, 2, 0x0D);
	posix_send(&b, 0, PR_HALF, 3, 0x0E);
	posix_send(&b, 0, 0, 4, 0x0F);
	posix_getattr(&b, 0);
	posix_recv(&b, 0, CAP_EXACT);
	add(t, "einval-priority", &b);

	posix_begin(&b, 1, 1);
	posix_send(&b, 0, 0, 1, 0x10);
	posix_send(&b, 0, 0, 2, 0x11);
	posix_send(&b, 0, 0, 1, 0x12);
	posix_recv(&b, 0, 0xFF);
	posix_recv(&b, 0, CAP_EXACT);
	posix_recv(&b, 0, CAP_EXACT);
	add(t, "msgsize-1", &b);

	posix_begin(&b, SEED_MSG_MAX, SEED_MSGMAX);
	posix_send(&b, 0, 1, SEED_MSGMAX + 1, 0x13);
	posix_send(&b, 0, 1, SEED_MSGMAX, 0x14);
	posix_recv(&b, 0, 0x81);
	posix_recv(&b, 0, 0x7F);
	add(t, "msgsize-largest", &b);
}

static void posix_full_seeds(const char *t)
{
	struct buf b;

	posix_begin(&b, 1, 8);
	posix_send(&b, 0, 0, 1, 0x21);
	posix_send(&b, 0, 0, 1, 0x22);
	posix_send(&b, 0, 9, 1, 0x23);
	posix_getattr(&b, 0);
	add(t, "eagain-full", &b);

	posix_begin(&b, 2, 8);
	posix_send(&b, TIMED, 0, 1, 0x24);
	posix_send(&b, TIMED, 0, 2, 0x25);
	posix_send(&b, TIMED, 0, 3, 0x26);
	posix_getattr(&b, TIMED);
	posix_recv(&b, TIMED, CAP_EXACT);
	posix_send(&b, TIMED, 0, 3, 0x27);
	add(t, "etimedout-full", &b);

	posix_begin(&b, SEED_MSG_MAX, 8);
	posix_recv(&b, 0, CAP_EXACT);
	posix_recv(&b, TIMED, CAP_EXACT);
	posix_getattr(&b, 0);
	add(t, "empty-eagain-etimedout", &b);

	posix_begin(&b, SEED_MSG_MAX, 100);
	for (int i = 0; i < 11; i++)
		posix_send(&b, (uint8_t)(i % 2 ? TIMED : 0), (uint8_t)(i % 3),
			   (uint16_t)(i * 9), (uint8_t)(0x30 + i));
	posix_getattr(&b, 0);
	add(t, "fill-left-for-drain", &b);
}

static void posix_order_seeds(const char *t)
{
	struct buf b;

	posix_begin(&b, SEED_MSG_MAX, 16);
	posix_send(&b, 0, 1, 1, 0x41);
	posix_send(&b, 0, 5, 1, 0x42);
	posix_send(&b, 0, 1, 2, 0x43);
	posix_send(&b, 0, 5, 2, 0x44);
	posix_recv(&b, 0, CAP_EXACT);
	posix_recv(&b, 0, CAP_EXACT);
	posix_send(&b, 0, 0, 3, 0x45);
	posix_send(&b, 0, 1, 3, 0x46);
	for (int i = 0; i < 5; i++)
		posix_recv(&b, 0, CAP_EXACT);
	add(t, "priority-order", &b);

	posix_begin(&b, SEED_MSG_MAX, 16);
	for (int i = 0; i < 10; i++)
		posix_send(&b, 0, 7, (uint16_t)i, (uint8_t)(0x50 + i));
	for (int i = 0; i < 10; i++)
		posix_recv(&b, 0, CAP_EXACT);
	add(t, "fifo-within-priority", &b);
}

/* A deterministic mixture of every operation. */
static void posix_mixed_seed(const char *t, const char *name, unsigned maxmsg,
			     uint16_t msgsize, uint32_t seed, int ops)
{
	struct buf b;
	uint32_t x = seed;

	posix_begin(&b, maxmsg, msgsize);
	for (int i = 0; i < ops; i++) {
		x = x * 1103515245u + 12345u;
		uint32_t r = x >> 8;
		uint8_t via = (uint8_t)((r >> 3) & TIMED);

		switch (r % 6) {
		case 0: case 1: case 2:
			posix_send(&b, via, (uint8_t)((r >> 4) % 5),
				   (uint16_t)((r >> 7) % (msgsize + 2u)),
				   (uint8_t)i);
			break;
		case 3: case 4:
			posix_recv(&b, via, (r >> 6) % 5 == 0 ? CAP_SHORT_1
							       : CAP_EXACT);
			break;
		default:
			posix_getattr(&b, via);
		}
	}
	add(t, name, &b);
}

static void posix_model_seeds(void)
{
	const char *t = "mq_posix_model";

	posix_basic_seeds(t);
	posix_full_seeds(t);
	posix_order_seeds(t);
	posix_mixed_seed(t, "mixed-3-of-40", 3, 40, 1, 150);
	posix_mixed_seed(t, "mixed-10-of-300", SEED_MSG_MAX, 300, 2, 200);
}

/* ---- the semaphore model target ------------------------------------------ */

/*
 * sem_model seeds, one rule each: they assume semopm 500 (Linux's default)
 * only where they say so; with another semopm the same bytes pass another
 * number of operations.
 */

/* An operation as the input holds it: the sem_num byte (with its flag
 * bits) and the sem_op byte. */
struct sem_op_bytes {
	uint8_t num;
	uint8_t op;
};

#define NOW SMF_OP_NOWAIT
#define UND SMF_OP_UNDO

/* The sem_op byte of v: -3..3 directly, else its place in smf_far_ops. */
static uint8_t sem_op_byte(int v)
{
	if (v >= -3 && v <= 3)
		return smf_small_op(v);
	for (unsigned i = 0; i < COUNT(smf_far_ops); i++)
		if (smf_far_ops[i] == v)
			return (uint8_t)(SMF_FAR_OP | i);
	fail("a seed asks for a sem_op outside smf_far_ops",
	     "pick -3..3 or a value of the table in fuzz/sem_model_format.h");
}

/* The sem_num byte of a number beyond every set, from smf_far_nums. */
static uint8_t sem_far_num(unsigned num)
{
	for (unsigned i = 0; i < COUNT(smf_far_nums); i++)
		if (smf_far_nums[i] == num)
			return (uint8_t)(SMF_NUM_FAR | i);
	fail("a seed asks for a sem_num outside smf_far_nums",
	     "pick 0..7 or a value of the table in fuzz/sem_model_format.h");
}

static void sem_begin(struct buf *b, unsigned nsems)
{
	b->len = 0;
	put_u8(b, (uint8_t)(nsems - 1));
}

static void sem_semop(struct buf *b, unsigned proc, enum smf_count count,
		      const struct sem_op_bytes *ops, size_t n)
{
	put_u8(b, smf_semop_code(proc, (unsigned)n, count));
	for (size_t i = 0; i < n; i++) {
		put_u8(b, ops[i].num);
		put_u8(b, ops[i].op);
	}
}

/* OPS({num | flags, op}, ...): semop by proc of those operations, as read;
 * OPS_N the same with another count. */
#define OPS_N(b, proc, count, ...)                                            \
	sem_semop(b, proc, count, (const struct sem_op_bytes[]){ __VA_ARGS__ }, \
		  sizeof((const struct sem_op_bytes[]){ __VA_ARGS__ }) /      \
			  sizeof(struct sem_op_bytes))
#define OPS(b, proc, ...) OPS_N(b, proc, SMF_COUNT_AS_READ, __VA_ARGS__)
#define OP(num, v) { (uint8_t)(num), sem_op_byte(v) }

static void sem_setval(struct buf *b, int num, int value)
{
	put_u8(b, SMF_SETVAL);
	put_u8(b, (uint8_t)(int8_t)num);
	put_be16(b, (uint16_t)(value < 0 ? value + 0x10000 : value));
}

static void sem_getval(struct buf *b, int num)
{
	put_u8(b, SMF_READ | SMF_READ_GETVAL);
	put_u8(b, (uint8_t)(int8_t)num);
}

static void sem_getall(struct buf *b)
{
	put_u8(b, SMF_READ);
}

/* proc 1..3 exits, 0: each of them; its thread ends (THREAD_ENDS) or it
 * renews its undo list (RENEWED). */
enum { RENEWED = 0, THREAD_ENDS = SMF_EXIT_THREAD };
static void sem_exit(struct buf *b, unsigned proc, uint8_t how)
{
	put_u8(b, (uint8_t)(SMF_EXIT | proc << SMF_PROC_SHIFT | how));
}

/* Tokens taken one by one until none is left, by the target and by two
 * other processes; the last takes wait (EAGAIN), with and without
 * IPC_NOWAIT. */
static void sem_take_all_seed(const char *t)
{
	struct buf b;

	sem_begin(&b, 1);
	sem_setval(&b, 0, 3);
	for (int i = 0; i < 3; i++)
		OPS(&b, 0, OP(NOW, -1));
	OPS(&b, 0, OP(NOW, -1));
	OPS(&b, 0, OP(0, -1));
	sem_getval(&b, 0);
	OPS(&b, 1, OP(0, 2));
	OPS(&b, 2, OP(NOW, -1));
	OPS(&b, 2, OP(0, -1));
	OPS(&b, 2, OP(NOW, -1));
	sem_getall(&b);
	add(t, "take-all-tokens", &b);
}

/* SEM_UNDO in two processes, a take by the target, then the exits: the
 * first undone below 0 (clamped), the second to 0; the first again after. */
static void sem_undo_seeds(const char *t)
{
	struct buf b;

	sem_begin(&b, 2);
	OPS(&b, 1, OP(UND, 3), OP(1 | UND, 2));
	OPS(&b, 2, OP(1 | UND, 1));
	OPS(&b, 0, OP(0, -2));
	sem_getall(&b);
	sem_exit(&b, 1, THREAD_ENDS);
	sem_exit(&b, 1, THREAD_ENDS);
	OPS(&b, 1, OP(UND, 1));
	sem_exit(&b, 0, THREAD_ENDS);
	sem_getall(&b);
	add(t, "undo-then-exit", &b);

	/* The same, each exit by unshare. */
	sem_begin(&b, 2);
	OPS(&b, 1, OP(UND, 3), OP(1 | UND, 2));
	OPS(&b, 2, OP(1 | UND, 1));
	OPS(&b, 0, OP(0, -2));
	sem_exit(&b, 1, RENEWED);
	sem_exit(&b, 1, RENEWED);
	OPS(&b, 1, OP(UND, 1));
	sem_exit(&b, 0, RENEWED);
	sem_getall(&b);
	add(t, "undo-then-renew", &b);

	sem_begin(&b, 1);
	sem_setval(&b, 0, 32767);
	OPS(&b, 3, OP(UND, -4));
	OPS(&b, 0, OP(0, 3));
	sem_exit(&b, 3, THREAD_ENDS);
	sem_getval(&b, 0);
	add(t, "undo-exit-clamps-at-semvmx", &b);

	sem_begin(&b, 4);
	OPS(&b, 1, OP(UND, 2), OP(3 | UND, 1));
	OPS(&b, 2, OP(UND, 3));
	OPS(&b, 0, OP(UND, 1));
	sem_setval(&b, 0, 7);
	sem_exit(&b, 0, RENEWED);
	sem_getall(&b);
	add(t, "setval-clears-undo", &b);
}

/* The value's end: sem_op past SEMVMX, SETVAL past it or below 0 (checked
 * before the semaphore number), and the numbers beyond the set. */
static void sem_range_seeds(const char *t)
{
	struct buf b;

	sem_begin(&b, 3);
	sem_setval(&b, 0, 32766);
	OPS(&b, 0, OP(0, 3));
	OPS(&b, 0, OP(0, 1));
	OPS(&b, 0, OP(NOW, 1));
	sem_setval(&b, 1, 32768);
	sem_setval(&b, 1, -1);
	sem_setval(&b, 5, 40000);
	sem_setval(&b, 5, 1);
	sem_setval(&b, -1, 0);
	sem_getval(&b, 5);
	sem_getval(&b, -128);
	sem_getval(&b, 0);
	add(t, "erange-at-semvmx", &b);

	/* semadj past 32767 one way, past -32768 the other. */
	sem_begin(&b, 2);
	sem_setval(&b, 0, 32767);
	OPS(&b, 0, OP(UND, -32767));
	OPS(&b, 0, OP(0, 32767));
	OPS(&b, 0, OP(UND, -1));
	OPS(&b, 1, OP(1 | UND, 32767));
	OPS(&b, 0, OP(1, -32767));
	OPS(&b, 1, OP(1 | UND, 1));
	OPS(&b, 1, OP(1 | UND, 1));
	sem_exit(&b, 1, THREAD_ENDS);
	sem_getall(&b);
	add(t, "semadj-range", &b);
}

/* sem_op 0 passes on 0 and waits otherwise, and sees the operations
 * before it in the same call. */
static void sem_wait_for_zero_seed(const char *t)
{
	struct buf b;

	sem_begin(&b, 2);
	OPS(&b, 0, OP(0, 0));
	sem_setval(&b, 0, 1);
	OPS(&b, 0, OP(NOW, 0));
	OPS(&b, 0, OP(0, 0));
	OPS(&b, 2, OP(NOW, 0));
	OPS(&b, 0, OP(0, -1), OP(NOW, 0));
	OPS(&b, 0, OP(0, 0), OP(0, 1));
	OPS(&b, 0, OP(1, 1), OP(1 | NOW, 0));
	OPS(&b, 2, OP(0, -1), OP(0, 0));
	sem_getall(&b);
	add(t, "wait-for-zero", &b);
}

/* All or nothing: a later operation that waits or is out of range undoes
 * the earlier ones, semadj included; also on one semaphore. */
static void sem_atomic_seed(const char *t)
{
	struct buf b;

	sem_begin(&b, 4);
	sem_setval(&b, 0, 1);
	OPS(&b, 0, OP(UND, -1), OP(1 | NOW, -1));
	sem_setval(&b, 2, 32767);
	OPS(&b, 1, OP(UND, 2), OP(3, 1), OP(2, 1));
	sem_exit(&b, 1, RENEWED);
	OPS(&b, 0, OP(0, -1), OP(1, 2));
	OPS(&b, 0, OP(3, 1), OP(3, 1), OP(3, -3));
	OPS(&b, 0, OP(1, -1), OP(2, -1), OP(0, 1), OP(1 | NOW, -2));
	sem_getall(&b);
	add(t, "multi-op-atomic-failure", &b);
}

/* The call's own errors: no operation (EINVAL), semopm operations (the
 * most), semopm + 1 (E2BIG, before EFBIG), a number beyond the set
 * (EFBIG, before the wait); and semopm undos in a process, undone. */
static void sem_call_seed(const char *t)
{
	struct buf b;

	sem_begin(&b, 2);
	OPS_N(&b, 0, SMF_COUNT_NONE, OP(0, 1));
	OPS_N(&b, 0, SMF_COUNT_SEMOPM, OP(0, 1), OP(1, 1));
	OPS_N(&b, 0, SMF_COUNT_SEMOPM_PLUS_1, OP(0, -1), OP(sem_far_num(64), 1));
	OPS(&b, 0, OP(NOW, -3), OP(sem_far_num(64), 1));
	OPS(&b, 0, OP(0, 1), OP(sem_far_num(65535), 1));
	OPS(&b, 0, OP(2, 1));
	OPS_N(&b, 1, SMF_COUNT_SEMOPM, OP(1 | UND, 1));
	sem_getall(&b);
	sem_exit(&b, 1, THREAD_ENDS);
	add(t, "call-limits", &b);
}

/* A deterministic mixture of every step, in a set of nsems. */
static void sem_mixed_seed(const char *t, const char *name, unsigned nsems,
			   uint32_t seed, int steps)
{
	struct buf b;
	uint32_t x = seed;

	sem_begin(&b, nsems);
	for (int i = 0; i < steps; i++) {
		x = x * 1103515245u + 12345u;
		uint32_t r = x >> 8;
		unsigned proc = (r >> 4) % 4;
		uint8_t flags = (uint8_t)((r >> 6) % 4 == 0 ? UND : 0);

		switch (r % 8) {
		case 0: case 1: case 2: case 3:
			OPS(&b, proc,
			    OP(((r >> 9) % nsems) | flags, (int)((r >> 11) % 7) - 3),
			    OP((r >> 14) % nsems, (int)((r >> 17) % 7) - 3));
			break;
		case 4:
			sem_setval(&b, (int)((r >> 9) % nsems),
				   (int)((r >> 12) % 5));
			break;
		case 5:
			sem_getall(&b);
			break;
		case 6:
			sem_getval(&b, (int)((r >> 9) % (nsems + 1)));
			break;
		default:
			sem_exit(&b, 1 + (r >> 9) % 3,
				 (r >> 12) % 2 ? THREAD_ENDS : RENEWED);
		}
	}
	add(t, name, &b);
}

static void sem_model_seeds(void)
{
	const char *t = "sem_model";

	sem_take_all_seed(t);
	sem_undo_seeds(t);
	sem_range_seeds(t);
	sem_wait_for_zero_seed(t);
	sem_atomic_seed(t);
	sem_call_seed(t);
	sem_mixed_seed(t, "mixed-3", 3, 1, 80);
	sem_mixed_seed(t, "mixed-8", 8, 2, 120);
}

/* ---- shm_ring_ops -------------------------------------------------------- */

/* Setup byte: capacity 4 KiB << (bits 0-2 % 5), bit 3 producer and consumer
 * at once, bit 4 the consumer a process (else a thread). Steps: an op byte
 * (bit 7 the consumer's, bits 0-1 pieces - 1) and a size. */
#define RING_CONSUMER 0x80

static void ring_step(struct buf *b, uint8_t op, uint16_t size)
{
	put_u8(b, op);
	put_be16(b, size);
}

static void ring_ops_seed(const char *name, uint8_t setup, const uint8_t *ops,
			  const uint16_t *sizes, size_t n)
{
	struct buf b = { .len = 0 };

	put_u8(&b, setup);
	for (size_t i = 0; i < n; i++)
		ring_step(&b, ops[i], sizes[i]);
	add("shm_ring_ops", name, &b);
}

static void ring_ops_seeds(void)
{
	/* Fill a 4 KiB ring past full, drain it past empty, across the wrap. */
	static const uint8_t fill_ops[] = {0, 1, RING_CONSUMER, 3, RING_CONSUMER, 0, RING_CONSUMER};
	static const uint16_t fill_sizes[] = {3000, 2000, 1500, 4096, 9000, 1, 1};
	/* Small steps that keep the ring neither empty nor full. */
	static const uint8_t steady_ops[] = {0, 0, RING_CONSUMER, 1, RING_CONSUMER, 2, RING_CONSUMER};
	static const uint16_t steady_sizes[] = {100, 50, 60, 70, 80, 90, 100};
	/* At once: large writes through a small ring, small reads. */
	static const uint8_t pair_ops[] = {0, RING_CONSUMER, 3, RING_CONSUMER, 0, 2};
	static const uint16_t pair_sizes[] = {65535, 7, 40000, 65535, 12345, 65535};

	ring_ops_seed("fill-drain-wrap", 0, fill_ops, fill_sizes, sizeof fill_ops);
	ring_ops_seed("steady", 4, steady_ops, steady_sizes, sizeof steady_ops);
	ring_ops_seed("thread-small-ring", 8, pair_ops, pair_sizes, sizeof pair_ops);
	ring_ops_seed("thread-large-ring", 8 | 4, pair_ops, pair_sizes,
		      sizeof pair_ops);
	ring_ops_seed("process-small-ring", 0x10 | 8, pair_ops, pair_sizes,
		      sizeof pair_ops);
}

/* ---- writing and checking ------------------------------------------------ */

static void generate(void)
{
	stream_seeds();
	roundtrip_seeds();
	crc_seeds();
	channel_seeds("channel_pipe", 0);
	channel_seeds("channel_fifo", 0);
	channel_seeds("channel_unix_stream", CHF_ABSTRACT);
	channel_seeds("channel_tcp", CHF_IPV6);
	channel_seeds("channel_sysv_msg", 0);
	channel_seeds("channel_posix_mq", 0);
	channel_seeds("channel_unix_dgram", 0);
	channel_seeds("channel_unix_seqpacket", 0);
	channel_seeds("channel_shm_ring", 0);
	channel_seeds("channel_shm_mpmc_sysv_sem", 0);
	channel_seeds("channel_shm_mpmc_posix_sem", 0);
	sysv_model_seeds();
	posix_model_seeds();
	sem_model_seeds();
	ring_ops_seeds();
	signal_timing_seeds("signal_timing_pipe", 0);
	signal_timing_seeds("signal_timing_fifo", 0);
	signal_timing_seeds("signal_timing_unix_stream", CHF_ABSTRACT);
	signal_timing_seeds("signal_timing_tcp", CHF_IPV6);
	signal_timing_seeds("signal_timing_sysv_msg", 0);
	signal_timing_seeds("signal_timing_posix_mq", 0);
	signal_timing_seeds("signal_timing_unix_dgram", 0);
	signal_timing_seeds("signal_timing_unix_seqpacket", 0);
	signal_timing_seeds("signal_timing_shm_ring", 0);
	sigqueue_seeds();
}

static char *path_of(const char *dir, const char *target, const char *name)
{
	size_t n = strlen(dir) + strlen(target) + strlen(name) + 3;
	char *p = malloc(n);

	if (p == NULL)
		fail("out of memory", dir);
	snprintf(p, n, "%s/%s%s%s", dir, target, name[0] ? "/" : "", name);
	return p;
}

static int generated(const char *target, const char *name)
{
	for (size_t i = 0; i < n_seeds; i++)
		if (strcmp(seeds[i].target, target) == 0 &&
		    strcmp(seeds[i].name, name) == 0)
			return 1;
	return 0;
}

/* Calls fn on each seed-* file of dir/target that the generator does not
 * make; returns how many. */
static size_t for_each_stale(const char *dir, const char *target,
			     void (*fn)(const char *path))
{
	char *tdir = path_of(dir, target, "");
	DIR *d = opendir(tdir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL) {
		free(tdir);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "seed-", 5) != 0 ||
		    generated(target, e->d_name))
			continue;
		char *p = path_of(dir, target, e->d_name);
		fn(p);
		free(p);
		n++;
	}
	closedir(d);
	free(tdir);
	return n;
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		fail(strerror(errno), path);
}

static void remove_stale(const char *path)
{
	if (remove(path) != 0)
		fail(strerror(errno), path);
}

static int write_seeds(const char *dir)
{
	size_t stale = 0;

	make_dir(dir);
	for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
		char *tdir = path_of(dir, targets[t], "");

		make_dir(tdir);
		free(tdir);
		stale += for_each_stale(dir, targets[t], remove_stale);
	}
	for (size_t i = 0; i < n_seeds; i++) {
		char *p = path_of(dir, seeds[i].target, seeds[i].name);
		FILE *f = fopen(p, "wb");

		if (f == NULL ||
		    fwrite(seeds[i].bytes.data, 1, seeds[i].bytes.len, f) !=
			    seeds[i].bytes.len ||
		    fclose(f) != 0)
			fail(strerror(errno), p);
		free(p);
	}
	printf("%s: wrote %zu seeds under %s, removed %zu stale ones\n", prog,
	       n_seeds, dir, stale);
	return 0;
}

/* 1 if the file at p holds exactly the seed's bytes. */
static int file_matches(const char *p, const struct buf *want)
{
	uint8_t got[SEED_MAX + 1];
	FILE *f = fopen(p, "rb");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(got, 1, sizeof got, f);
	fclose(f);
	return n == want->len && memcmp(got, want->data, n) == 0;
}

static void report_stale(const char *path)
{
	fprintf(stderr, "%s: %s is not made by the generator any more\n", prog,
		path);
}

static int check_seeds(const char *dir)
{
	size_t bad = 0;

	for (size_t i = 0; i < n_seeds; i++) {
		char *p = path_of(dir, seeds[i].target, seeds[i].name);

		if (!file_matches(p, &seeds[i].bytes)) {
			fprintf(stderr, "%s: %s is missing or differs from"
				" what the generator makes now\n", prog, p);
			bad++;
		}
		free(p);
	}
	for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
		bad += for_each_stale(dir, targets[t], report_stale);
	if (bad > 0) {
		fprintf(stderr, "%s: %zu seed files under %s are out of date;"
			" regenerate them with: %s %s\n",
			prog, bad, dir, prog, dir);
		return 1;
	}
	printf("%s: the %zu seeds under %s are current\n", prog, n_seeds, dir);
	return 0;
}

int main(int argc, char **argv)
{
	prog = argv[0];
	if (argc == 2 && argv[1][0] != '-') {
		generate();
		return write_seeds(argv[1]);
	}
	if (argc == 3 && strcmp(argv[1], "--check") == 0) {
		generate();
		return check_seeds(argv[2]);
	}
	fprintf(stderr, "usage: %s OUTDIR | --check DIR\n"
		"writes (or checks) the seed corpora DIR/<target>/seed-*\n",
		prog);
	return 2;
}
