/*
 * crc: bytes per second of memcpy (the baseline, in the same run), the two
 * CRC-32C paths and the IPCF v1 encoder and decoder over one message of
 * the given size, frames of at most CRC_FRAME_LIMIT. Every round is kept;
 * the reader picks the best or the median.
 */
#include "modes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ipc/crc32c.h"
#include "ipc/ipcf.h"

#define CRC_FRAME_LIMIT (64u * 1024u)
/* Operations between looks at the clock: about this many bytes. */
#define CLOCK_EVERY_BYTES (64u * 1024u)

struct work {
	const uint8_t *src;
	uint8_t *dst;
	uint8_t *stream;
	size_t len;
	size_t stream_len;
	volatile uint32_t sink; /* keeps results alive */
};

typedef void (*op_fn)(struct work *w);

static void op_memcpy(struct work *w)
{
	memcpy(w->dst, w->src, w->len);
	w->sink += w->dst[w->len - 1];
}

static void op_crc_hw(struct work *w)
{
	w->sink += ipc_crc32c_hw(0, w->src, w->len);
}

static void op_crc_portable(struct work *w)
{
	w->sink += ipc_crc32c_portable(0, w->src, w->len);
}

static void op_encode(struct work *w)
{
	struct ipcf_encoder enc;

	ipcf_encoder_init(&enc, 0, CRC_FRAME_LIMIT);
	w->sink += (uint32_t)ipcf_encode(&enc, 1, w->src, w->len, w->stream,
					 w->stream_len);
}

static int count_message(const struct ipcf_message *m, void *arg)
{
	*(uint32_t *)arg += (uint32_t)m->length;
	return 0;
}

static void op_decode(struct work *w)
{
	enum ipcf_fault fault;
	uint64_t offset;
	uint32_t n = 0;

	if (ipcf_decode_all(w->stream, w->stream_len, CRC_FRAME_LIMIT,
			    IPCF_DEFAULT_LIMIT, count_message, &n, &fault,
			    &offset) != 0 || fault != IPCF_OK || n != w->len)
		bench_fail("the encoded message did not decode (%s at %" PRIu64 ")",
			   ipcf_fault_name(fault), offset);
	w->sink += n;
}

/* One round: the operation repeated for at least round_s. */
static double rate(op_fn op, struct work *w, double round_s)
{
	uint64_t every = w->len >= CLOCK_EVERY_BYTES ? 1 : CLOCK_EVERY_BYTES / w->len;
	uint64_t start = bench_now_ns(), until = start + (uint64_t)(round_s * 1e9);
	uint64_t done = 0, now;

	do {
		for (uint64_t i = 0; i < every; i++)
			op(w);
		done += every;
		now = bench_now_ns();
	} while (now < until);
	return (double)done * (double)w->len / ((double)(now - start) / 1e9);
}

/* One path's rounds: ,"name":[B/s,...] (sep: "" for the first path). */
static void print_path(FILE *out, const char *sep, const char *name, op_fn op,
		       struct work *w, int rounds, double round_s)
{
	fprintf(out, "%s\"%s\":[", sep, name);
	for (int r = 0; r < rounds; r++)
		fprintf(out, "%s%.0f", r ? "," : "", rate(op, w, round_s));
	fprintf(out, "]");
}

void run_crc(size_t size, double seconds, int rounds)
{
	struct ipcf_encoder enc;
	struct work w = {.len = size};
	uint8_t *src = bench_payload(size, 0x5a);
	int hw = ipc_crc32c_hw_available();
	double round_s = seconds / rounds;
	char *out;
	size_t out_len;
	FILE *line;

	bench_set_context("crc", size);
	w.src = src;
	w.dst = bench_alloc(size);
	w.stream_len = (size_t)ipcf_encoded_size(size, CRC_FRAME_LIMIT);
	w.stream = bench_alloc(w.stream_len);
	ipcf_encoder_init(&enc, 0, CRC_FRAME_LIMIT);
	if (ipcf_encode(&enc, 1, src, size, w.stream, w.stream_len) != w.stream_len)
		bench_fail_errno("ipcf_encode");
	/* The line is built aside: a failure leaves nothing on stdout. */
	line = open_memstream(&out, &out_len);
	if (line == NULL)
		bench_fail_errno("open_memstream");
	fprintf(line, "{\"kind\":\"crc\",\"size\":%zu,\"hw_available\":%s,\"paths\":{",
		size, hw ? "true" : "false");
	print_path(line, "", "memcpy", op_memcpy, &w, rounds, round_s);
	if (hw)
		print_path(line, ",", "crc32c-hw", op_crc_hw, &w, rounds, round_s);
	print_path(line, ",", "crc32c-portable", op_crc_portable, &w, rounds, round_s);
	print_path(line, ",", "ipcf-encode", op_encode, &w, rounds, round_s);
	print_path(line, ",", "ipcf-decode", op_decode, &w, rounds, round_s);
	fprintf(line, "}}\n");
	fclose(line);
	fwrite(out, 1, out_len, stdout);
	free(out);
	free(src);
	free(w.dst);
	free(w.stream);
}
