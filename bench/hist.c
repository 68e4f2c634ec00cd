/* The latency histogram: see hist.h. */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
}

/* The index of the highest set bit of v > 0. */
static unsigned top_bit(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

size_t hist_bucket_of(uint64_t ns)
{
	unsigned e, shift;

	if (ns > HIST_MAX_NS)
		ns = HIST_MAX_NS;
	if (ns < HIST_SUB)
		return (size_t)ns;
	e = top_bit(ns);
	shift = e - HIST_SUB_BITS;
	/* (ns >> shift) is HIST_SUB..2*HIST_SUB-1: the sub-bucket plus HIST_SUB. */
	return (size_t)shift * HIST_SUB + (size_t)(ns >> shift);
}

uint64_t hist_bucket_upper(size_t bucket)
{
	size_t shift, sub;

	if (bucket < HIST_SUB)
		return bucket;
	shift = bucket / HIST_SUB - 1;
	sub = bucket % HIST_SUB + HIST_SUB;
	return (((uint64_t)sub + 1) << shift) - 1;
}

void hist_record(struct hist *h, uint64_t ns)
{
	if (h->total == 0 || ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->counts[hist_bucket_of(ns)]++;
	h->total++;
	h->sum += (double)ns;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t want, seen = 0;

	if (h->total == 0)
		return 0;
	/* A hair below, so that 99.9% of 10000 is 9990 whatever the
	 * rounding of 99.9 in binary. */
	want = (uint64_t)ceil(pct / 100.0 * (double)h->total * (1.0 - 1e-12));
	if (want < 1)
		want = 1;
	if (want > h->total)
		want = h->total;
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		seen += h->counts[b];
		if (seen >= want) {
			uint64_t v = hist_bucket_upper(b);

			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->total == 0 ? 0.0 : h->sum / (double)h->total;
}
