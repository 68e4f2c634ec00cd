/* bench-run's modes besides chan (measure.h): each prints its one JSON
 * line, or fails with exit status 1. */
#ifndef BENCH_MODES_H
#define BENCH_MODES_H

#include <stddef.h>

void run_crc(size_t size, double seconds, int rounds);
void run_ring_syscalls(size_t size, size_t count);

/* The smallest ring (a power of two, at least IPC_RING_MIN) that holds
 * more than count framed messages of size bytes; 0 if over 256 MiB. */
size_t ring_size_for(size_t size, size_t count);

#endif
