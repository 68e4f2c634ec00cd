/*
 * bench-ipcf: IPCF v1 codec and CRC-32C throughput, each as a ratio to
 * memcpy of the same bytes measured in the same run, so figures compare
 * across machines and loads.
 *
 * usage: bench-ipcf [--quick]
 * Each cell is the best of 5 rounds, a round repeating the operation for at
 * least 50 ms (--quick: 3 rounds of 5 ms, for a smoke run).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc/crc32c.h"
#include "ipc/ipcf.h"

#define FRAME_LIMIT (64u * 1024u)

struct bench {
	const uint8_t *src;
	uint8_t *dst;
	uint8_t *stream;
	size_t len;
	size_t stream_len;
	volatile uint32_t sink; /* keeps results alive */
};

static int rounds = 5;
static double round_seconds = 0.05;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef void (*op_fn)(struct bench *b);

static void op_memcpy(struct bench *b)
{
	memcpy(b->dst, b->src, b->len);
	b->sink += b->dst[b->len - 1];
}

static void op_crc_portable(struct bench *b)
{
	b->sink += ipc_crc32c_portable(0, b->src, b->len);
}

static void op_crc_hw(struct bench *b)
{
	b->sink += ipc_crc32c_hw(0, b->src, b->len);
}

static void op_encode(struct bench *b)
{
	struct ipcf_encoder enc;

	ipcf_encoder_init(&enc, 0, FRAME_LIMIT);
	b->sink += (uint32_t)ipcf_encode(&enc, 1, b->src, b->len, b->stream,
					 b->stream_len);
}

static int count_message(const struct ipcf_message *m, void *arg)
{
	*(uint32_t *)arg += (uint32_t)m->length;
	return 0;
}

static void op_decode(struct bench *b)
{
	enum ipcf_fault fault;
	uint64_t offset;
	uint32_t n = 0;

	if (ipcf_decode_all(b->stream, b->stream_len, FRAME_LIMIT,
			    IPCF_DEFAULT_LIMIT, count_message, &n, &fault,
			    &offset) != 0 || fault != IPCF_OK) {
		fprintf(stderr, "bench-ipcf: the benchmark stream did not decode (%s at %" PRIu64 ")\n",
			ipcf_fault_name(fault), offset);
		exit(1);
	}
	b->sink += n;
}

/* Bytes per second: the best round, so a preempted round does not count. */
static double throughput(op_fn op, struct bench *b)
{
	double best = 0;

	for (int r = 0; r < rounds; r++) {
		double start = now(), elapsed;
		uint64_t iterations = 0;

		do {
			op(b);
			iterations++;
			elapsed = now() - start;
		} while (elapsed < round_seconds);
		double rate = (double)iterations * (double)b->len / elapsed;
		if (rate > best)
			best = rate;
	}
	return best;
}

static void run_size(size_t len)
{
	struct ipcf_encoder enc;
	struct bench b = {.len = len};
	uint8_t *src = malloc(len);
	double base;

	b.stream_len = (size_t)ipcf_encoded_size(len, FRAME_LIMIT);
	b.dst = malloc(len);
	b.stream = malloc(b.stream_len);
	if (src == NULL || b.dst == NULL || b.stream == NULL) {
		fprintf(stderr, "bench-ipcf: out of memory for %zu-byte messages\n", len);
		exit(1);
	}
	for (size_t i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 131u + 7u);
	b.src = src;
	ipcf_encoder_init(&enc, 0, FRAME_LIMIT);
	ipcf_encode(&enc, 1, b.src, len, b.stream, b.stream_len);

	base = throughput(op_memcpy, &b);
	printf("%10zu  %11.0f", len, base / 1e6);
	printf("  %8.2f", throughput(op_crc_portable, &b) / base);
	if (ipc_crc32c_hw_available())
		printf("  %8.2f", throughput(op_crc_hw, &b) / base);
	else
		printf("  %8s", "-");
	printf("  %8.2f", throughput(op_encode, &b) / base);
	printf("  %8.2f\n", throughput(op_decode, &b) / base);
	free(src);
	free(b.dst);
	free(b.stream);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {64, 4096, 65536, 1u << 20, 16u << 20};

	if (argc == 2 && strcmp(argv[1], "--quick") == 0) {
		rounds = 3;
		round_seconds = 0.005;
	} else if (argc != 1) {
		fprintf(stderr, "usage: bench-ipcf [--quick]\n");
		return 2;
	}
	printf("IPCF v1 codec throughput as a ratio to memcpy of the same bytes "
	       "(higher is faster; frame limit %u bytes)\n", FRAME_LIMIT);
	printf("%10s  %11s  %8s  %8s  %8s  %8s\n", "bytes", "memcpy MB/s",
	       "crc-port", "crc-hw", "encode", "decode");
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		run_size(sizes[i]);
	return 0;
}
