/* The channel measurements (chan --mode throughput|latency): each prints
 * its one JSON line, or fails with exit status 1. */
#ifndef BENCH_MEASURE_H
#define BENCH_MEASURE_H

#include "bench.h"
#include "subject.h"

void measure_throughput(struct subject *s, double seconds, int rounds,
			const struct bench_pin *pin);
void measure_latency(struct subject *s, double seconds, const struct bench_pin *pin);

#endif
