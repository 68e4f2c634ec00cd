/*
 * A single-producer single-consumer byte ring in shared memory.
 *
 * The producer and the consumer may be two processes that map the same
 * region, or two threads. Each side owns one index (the producer the tail,
 * the consumer the head: bytes written and read since the start, 64-bit,
 * never wrapping), on a cache line of its own so the two sides do not share
 * a line they write. Bytes are copied in, then the tail is published with a
 * release store; the consumer loads it with acquire before it copies out,
 * and publishes the head the same way: what the other side reads was
 * written before the index said so.
 *
 * No system call is made while the ring is neither empty nor full. A side
 * that finds nothing to do sleeps on a futex word of the ring, after saying
 * so in the ring; the other side wakes it only then (one FUTEX_WAKE after
 * the index store, seen through a sequentially consistent fence on both
 * sides, so that a wake cannot fall between the sleeper's look and its
 * sleep).
 *
 * The ring knows nothing of who is alive: callers wait in slices and look
 * at their peer between them (the shm-ring channel watches a socket whose
 * hang-up says the peer is gone; see impl/chan_shm_ring.c).
 */
#ifndef IPC_RING_H
#define IPC_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Capacity: a power of two, IPC_RING_MIN..IPC_RING_MAX bytes. */
#define IPC_RING_MIN 4096u
#define IPC_RING_MAX (1u << 30)

struct ipc_ring;

/* Bytes of shared memory a ring of capacity bytes takes (header and data),
 * or 0 if the capacity is not allowed. */
size_t ipc_ring_footprint(size_t capacity);

/* Lays out an empty ring in mem (ipc_ring_footprint(capacity) bytes),
 * before anyone else sees it. -1 with EINVAL for a bad capacity. */
int ipc_ring_format(void *mem, size_t capacity);

/* A ring laid out in mem by ipc_ring_format (maybe by another process):
 * NULL with EINVAL if mem does not hold one that fits in len bytes (a
 * peer's region is checked, never trusted). */
struct ipc_ring *ipc_ring_attach(void *mem, size_t len);

size_t ipc_ring_capacity(const struct ipc_ring *r);
/* What the consumer could read now; what the producer could write now. */
size_t ipc_ring_readable(const struct ipc_ring *r);
size_t ipc_ring_writable(const struct ipc_ring *r);

/* Producer: copies as much of iov as fits (maybe 0), publishes it, wakes a
 * sleeping consumer. Never waits. */
size_t ipc_ring_writev(struct ipc_ring *r, const struct iovec *iov, int n);
size_t ipc_ring_write(struct ipc_ring *r, const void *data, size_t len);

/* Consumer: copies out up to len bytes (maybe 0), frees their room, wakes
 * a sleeping producer. Never waits. */
size_t ipc_ring_read(struct ipc_ring *r, void *out, size_t len);

/*
 * Sleeps until there is something to read (consumer) or at least `want`
 * bytes of room, capped at the capacity (producer), for at most slice_ms
 * (-1: no cap). 0 when ready; -1 with errno ETIMEDOUT when the slice
 * ended, EINTR when a signal or a kick woke it first: the caller looks
 * around (deadline, peer) and calls again.
 */
int ipc_ring_wait_readable(struct ipc_ring *r, int slice_ms);
int ipc_ring_wait_writable(struct ipc_ring *r, size_t want, int slice_ms);

/* Wakes whichever side sleeps, without changing the ring: for an end that
 * goes away, so the other looks at once. */
void ipc_ring_kick(struct ipc_ring *r);

/* How often each side went to sleep on the futex (and so made system
 * calls): for tests and benchmarks, which show that a ring kept neither
 * empty nor full costs none. */
uint64_t ipc_ring_producer_sleeps(const struct ipc_ring *r);
uint64_t ipc_ring_consumer_sleeps(const struct ipc_ring *r);

#endif
