/*
 * A latency histogram in the manner of HdrHistogram: log-linear buckets
 * over 1 ns to 60 s, fixed memory, O(1) recording.
 *
 * Values below HIST_SUB (64) have a bucket each. Above, every power of two
 * [2^e, 2^(e+1)) is cut into HIST_SUB buckets of width 2^(e-6), so a bucket
 * is at most 1/64 (1.5625%) of its lowest value wide: any value read back
 * (a percentile, a bucket's upper end) is within 1.5625% of a value
 * recorded. Values over HIST_MAX_NS count as HIST_MAX_NS. Minimum, maximum
 * and mean are kept exactly.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_NS 60000000000ull       /* 60 s */
#define HIST_TOP_EXP 36                  /* 2^36 ns > 60 s */
#define HIST_BUCKETS (HIST_SUB + (HIST_TOP_EXP - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total;
	uint64_t min, max;
	double sum;
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t ns);

/* The bucket a value falls in, and the highest value of a bucket. */
size_t hist_bucket_of(uint64_t ns);
uint64_t hist_bucket_upper(size_t bucket);

/* The value at percentile pct (0 < pct <= 100): the upper end of the
 * bucket where the count reaches ceil(pct% of the total), clamped to the
 * recorded minimum and maximum; 0 if nothing was recorded. */
uint64_t hist_percentile(const struct hist *h, double pct);
double hist_mean(const struct hist *h);

#endif
