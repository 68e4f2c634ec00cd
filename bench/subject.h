/*
 * A subject: what a measurement moves messages through, a channel backend
 * (chan.c) or a raw baseline (raw.c), behind one set of operations so
 * that both are timed by the same loops (measure.c).
 *
 * Made before fork, with one way (parent to child) or both (latency: the
 * child answers). After fork each process keeps its side: the parent sends
 * on the first way and receives on the second, the child the reverse.
 */
#ifndef BENCH_SUBJECT_H
#define BENCH_SUBJECT_H

#include <stddef.h>
#include <stdint.h>

enum side { PARENT_SIDE, CHILD_SIDE };

struct subject {
	const char *name;
	size_t size;
	const uint8_t *more; /* the message, marked BENCH_MORE */
	const uint8_t *last; /* the same, marked BENCH_LAST */
	const struct subject_ops *ops;
	void *state;
};

struct subject_ops {
	/* Keeps this process's side, closing the rest (and opening what
	 * opens only after fork, a FIFO). */
	void (*keep_side)(struct subject *s, enum side side);
	/* Sends one whole message, marked last or not. */
	void (*send)(struct subject *s, int last);
	/* Receives one whole message, checks its length; returns its mark. */
	uint8_t (*recv)(struct subject *s);
	/* Receives messages until one marked last; returns their number. */
	uint64_t (*recv_round)(struct subject *s);
	/* Closes this process's ends (the parent removes what was made at
	 * its exit, bench.h). */
	void (*close)(struct subject *s);
};

/* Names: "raw:pipe", ...; NULL-terminated. */
extern const char *const raw_names[];
/* The baseline of a backend: "raw:pipe" for "pipe", ...; NULL if none. */
const char *raw_baseline_of(const char *backend);

/* Makes a subject by name (a backend of ipc_backends with a pair, or a raw
 * baseline); 0, or -1 if the name is neither. two_way: both ways. */
int subject_open(struct subject *s, const char *name, size_t size, int two_way);
int chan_open(struct subject *s, const char *name, int two_way);
int raw_open(struct subject *s, const char *name, int two_way);

#endif
