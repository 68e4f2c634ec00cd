/*
 * rw-region: readers and writers of one record of 4 KiB, seqlock style.
 *
 * Writers (a quarter of the workers, at least one) are serialised by a
 * robust mutex; each makes the record's version odd, writes a new sequence
 * number and payload and their CRC-32C, and makes the version even again.
 * Readers take no lock: they copy the record and accept the copy only if
 * the version was even and the same before and after; then its CRC must
 * match. An accepted copy with a bad CRC is a torn read.
 *
 * A writer killed mid-write leaves the version odd and the mutex to its
 * next holder, which gets OWNER_DIED and writes a whole valid record
 * before going on. What a kill may lose: the killed writer's update.
 *
 * Every word of the record is a relaxed atomic and the version is read with
 * acquire and written with release, around fences: the C11 seqlock, with
 * no data race for ThreadSanitizer to report.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "ipc/crc32c.h"
#include "ipc/lock.h"
#include "stress.h"

#define PAYLOAD_WORDS 512           /* 4 KiB */
#define RECORD_WORDS (1 + PAYLOAD_WORDS) /* sequence number, payload */
#define LOCK_TIMEOUT_MS 500

struct rw_state {
	pthread_mutex_t mutex;
	bool mutex_made;
	uint64_t sequence;               /* writers', under the mutex */
	_Atomic uint64_t version;        /* odd while a writer is at it */
	_Atomic uint64_t words[RECORD_WORDS];
	_Atomic uint32_t crc;
	_Atomic uint64_t accepted, rejected, repairs;
};

static int writers_of(int n)
{
	return n / 4 > 1 ? n / 4 : 1;
}

/* With one worker, it takes both parts in turn. */
static bool is_writer(struct stress_worker *w)
{
	if (w->run->nworkers == 1)
		return stress_below(w, 2) == 0;
	return w->index < writers_of(w->run->nworkers);
}

/* The new record, written word by word while the version is odd. Now and
 * then the writer yields half-way, to be caught there. */
static void write_record(struct stress_worker *w, struct rw_state *s)
{
	uint64_t rec[RECORD_WORDS];
	uint64_t v = atomic_load_explicit(&s->version, memory_order_relaxed);
	uint64_t fill = stress_rand(&w->rng);

	rec[0] = ++s->sequence;
	for (int i = 1; i < RECORD_WORDS; i++)
		rec[i] = fill + (uint64_t)i * 0x9E3779B97F4A7C15ull;
	if (v % 2 == 0)
		atomic_store_explicit(&s->version, v + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (int i = 0; i < RECORD_WORDS; i++) {
		atomic_store_explicit(&s->words[i], rec[i], memory_order_relaxed);
		if (i == RECORD_WORDS / 2 && stress_below(w, 8) == 0)
			sched_yield();
	}
	atomic_store_explicit(&s->crc, ipc_crc32c(0, rec, sizeof rec),
			      memory_order_relaxed);
	atomic_store_explicit(&s->version, (v | 1) + 1, memory_order_release);
}

/* A writer died inside: if it left the version odd, a whole record now. */
static void repair(struct stress_worker *w, struct rw_state *s)
{
	if (atomic_load(&s->version) % 2)
		write_record(w, s);
	atomic_fetch_add(&s->repairs, 1);
}

static void repair_for(struct stress_worker *w, void *s)
{
	repair(w, s);
}

static bool lock(struct stress_worker *w, struct rw_state *s, int timeout_ms)
{
	return stress_robust_lock(w, &s->mutex, timeout_ms, repair_for, s);
}

static enum stress_op write_op(struct stress_worker *w, struct rw_state *s)
{
	if (!lock(w, s, LOCK_TIMEOUT_MS))
		return STRESS_OP_RETRY;
	stress_phase(w, STRESS_WRITE);
	write_record(w, s);
	stress_phase(w, STRESS_UNLOCK);
	ipc_robust_mutex_unlock(&s->mutex);
	stress_phase(w, STRESS_IDLE);
	/* Leave the readers a moment with an even version: where threads
	 * take turns on one CPU (valgrind), a writer would otherwise lose it
	 * mid-write every time, and no copy would ever be accepted. */
	sched_yield();
	stress_spin(w, 2000);
	return STRESS_OP_DONE;
}

static enum stress_op read_op(struct stress_worker *w, struct rw_state *s)
{
	uint64_t copy[RECORD_WORDS];
	uint64_t before, after;
	uint32_t crc, want;
	bool any = stress_variant_is(w->run, "rw-no-version-check");

	stress_phase(w, STRESS_READ);
	before = atomic_load_explicit(&s->version, memory_order_acquire);
	for (int i = 0; i < RECORD_WORDS; i++)
		copy[i] = atomic_load_explicit(&s->words[i], memory_order_relaxed);
	want = atomic_load_explicit(&s->crc, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	after = atomic_load_explicit(&s->version, memory_order_relaxed);
	stress_phase(w, STRESS_IDLE);
	if (!any && (before % 2 || before != after)) {
		atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
		sched_yield();  /* the writer may be waiting for this CPU */
		return STRESS_OP_RETRY;
	}
	atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
	crc = ipc_crc32c(0, copy, sizeof copy);
	stress_check(w->run, crc == want, "TORN-READ",
		     "worker %d accepted a copy of sequence %" PRIu64
		     " (version %" PRIu64 " before, %" PRIu64 " after) whose"
		     " CRC-32C is %08x, not the %08x it carries", w->index,
		     copy[0], before, after, crc, want);
	return STRESS_OP_DONE;
}

enum stress_op rw_op(struct stress_worker *w)
{
	struct rw_state *s = w->run->state;

	return is_writer(w) ? write_op(w, s) : read_op(w, s);
}

int rw_setup(struct stress_run *run)
{
	struct rw_state *s = stress_map_state(run, sizeof *s);
	struct stress_worker first = { .run = run, .rng = 1 };
	int err;

	if (!s)
		return -1;
	err = ipc_robust_mutex_init(&s->mutex);
	if (err) {
		fprintf(stderr, "ipch-stress: rw-region: ipc_robust_mutex_init: %s\n",
			strerror(err));
		return -1;
	}
	s->mutex_made = true;
	stress_atomic_only(&s->version, sizeof *s - offsetof(struct rw_state, version));
	write_record(&first, s);
	return 0;
}

void rw_check(struct stress_run *run)
{
	struct rw_state *s = run->state;
	struct stress_slot spare = { 0 };
	struct stress_worker me = { .run = run, .index = -1, .rng = 2, .slot = &spare };
	uint64_t rec[RECORD_WORDS];
	int r = ipc_robust_mutex_lock(&s->mutex, 2000);

	/* As the next writer would: a record a killed writer left is rewritten. */
	if (r == EOWNERDEAD) {
		repair(&me, s);
		ipc_robust_mutex_consistent(&s->mutex);
	} else if (!stress_check(run, r == 0, "LOCK-STUCK",
				 "with every worker stopped, the mutex could not be"
				 " taken: %s", strerror(r))) {
		return;
	}
	for (int i = 0; i < RECORD_WORDS; i++)
		rec[i] = atomic_load(&s->words[i]);
	stress_check(run, atomic_load(&s->version) % 2 == 0, "RECORD-INVALID",
		     "the version is odd (%" PRIu64 ") after the run",
		     (uint64_t)atomic_load(&s->version));
	stress_check(run, ipc_crc32c(0, rec, sizeof rec) == atomic_load(&s->crc),
		     "RECORD-INVALID", "the record's CRC-32C does not match after the run");
	stress_check(run, atomic_load(&s->accepted) > 0, "NO-READS",
		     "the readers accepted no copy in the whole run (%" PRIu64 " rejected)",
		     (uint64_t)atomic_load(&s->rejected));
	ipc_robust_mutex_unlock(&s->mutex);
}

void rw_teardown(struct stress_run *run)
{
	struct rw_state *s = run->state;

	if (s && s->mutex_made)
		ipc_robust_mutex_destroy(&s->mutex);
}
