/*
 * counter-<lock kind>: one counter, one lock, N workers adding 1.
 *
 * Each operation takes the lock, reads the counter, works a little, and
 * writes counter + 1 and the worker's own done count in the same critical
 * section. A journal entry {old counter, old done count} is written first,
 * so that a holder killed half-way is rolled back by the next one (on
 * OWNER_DIED) and the operation is simply not done.
 *
 * Invariants: counter == the sum of the done counts, on every entry to the
 * section and at the end; and each worker's done count is its completed
 * operations, plus at most one per kill (killed after the commit, before
 * the operation was counted). With kills, nothing else may be lost.
 *
 * The posix-sem kind cannot be recovered when its holder dies (lock.h):
 * the supervisor keeps its kills out of lock, in-section and unlock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ipc/lock.h"
#include "stress.h"

#define LOCK_TIMEOUT_MS 500

struct counter_state {
	struct ipc_lock lock;
	bool lock_made;
	uint64_t counter;
	struct {
		int active;             /* the entry below is an op under way */
		int worker;
		uint64_t old_counter;
		uint64_t old_done;
	} journal;
	uint64_t done[STRESS_MAX_WORKERS];
	_Atomic uint64_t rollbacks;
};

/* Keeps the stores of a step from moving past the next: a SIGKILL may land
 * between any two, and the next holder reads what reached memory. */
#define STEP() atomic_signal_fence(memory_order_seq_cst)

static int counter_setup(struct stress_run *run, enum ipc_lock_kind kind)
{
	struct counter_state *s = stress_map_state(run, sizeof *s);

	if (!s)
		return -1;
	if (ipc_lock_init(&s->lock, kind) != 0) {
		fprintf(stderr, "ipch-stress: %s: ipc_lock_init: %s\n",
			run->scn->name, strerror(errno));
		return -1;
	}
	s->lock_made = true;
	if (kind == IPC_LOCK_POSIX_SEM)
		run->no_kill_phases = STRESS_PHASE_BIT(STRESS_LOCK) |
				      STRESS_PHASE_BIT(STRESS_IN_SECTION) |
				      STRESS_PHASE_BIT(STRESS_UNLOCK);
	return 0;
}

int counter_setup_sysv_sem(struct stress_run *run)
{
	return counter_setup(run, IPC_LOCK_SYSV_SEM);
}

int counter_setup_posix_sem(struct stress_run *run)
{
	return counter_setup(run, IPC_LOCK_POSIX_SEM);
}

int counter_setup_robust_mutex(struct stress_run *run)
{
	return counter_setup(run, IPC_LOCK_ROBUST_MUTEX);
}

/* The op a dead holder left half done is undone; idempotent, so a death
 * during the repair is repaired again by the next holder. */
static void roll_back(struct counter_state *s)
{
	if (!s->journal.active)
		return;
	s->counter = s->journal.old_counter;
	s->done[s->journal.worker] = s->journal.old_done;
	STEP();
	s->journal.active = 0;
	STEP();
	atomic_fetch_add(&s->rollbacks, 1);
}

static uint64_t sum_done(const struct counter_state *s, int n)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++)
		sum += s->done[i];
	return sum;
}

static void check_sum(struct stress_run *run, const struct counter_state *s,
		      const char *when)
{
	uint64_t sum = sum_done(s, run->nworkers);

	if (s->counter < sum)
		stress_check(run, false, "LOST-UPDATE",
			     "%s: counter %" PRIu64 " but the done counts sum to %" PRIu64
			     ": %" PRIu64 " updates lost", when, s->counter, sum,
			     sum - s->counter);
	else
		stress_check(run, s->counter == sum, "COUNT-MISMATCH",
			     "%s: counter %" PRIu64 " ahead of the done counts' sum %"
			     PRIu64 ": a half-done op not rolled back", when,
			     s->counter, sum);
}

/* Takes the lock, repairing after a dead holder; false if not taken. */
static bool take(struct stress_worker *w, struct counter_state *s, int timeout_ms)
{
	enum ipc_lock_result r;

	stress_phase(w, STRESS_LOCK);
	r = ipc_lock_acquire(&s->lock, timeout_ms);
	if (r == IPC_LOCK_OWNER_DIED) {
		stress_phase(w, STRESS_RECOVER);
		roll_back(s);
		if (ipc_lock_consistent(&s->lock) != 0)
			stress_check(w->run, false, "LOCK-FAILED",
				     "ipc_lock_consistent: %s", strerror(errno));
		return true;
	}
	if (r == IPC_LOCK_TAKEN)
		return true;
	if (r != IPC_LOCK_TIMED_OUT && r != IPC_LOCK_INTERRUPTED) {
		stress_check(w->run, false, "LOCK-FAILED", "worker %d: acquire: %s (%s)",
			     w->index, ipc_lock_result_name(r), strerror(errno));
		stress_sleep_us(10000);
	}
	stress_phase(w, STRESS_IDLE);
	return false;
}

static void release(struct stress_worker *w, struct counter_state *s)
{
	stress_phase(w, STRESS_UNLOCK);
	if (ipc_lock_release(&s->lock) != 0)
		stress_check(w->run, false, "LOCK-FAILED", "worker %d: release: %s",
			     w->index, strerror(errno));
	stress_phase(w, STRESS_IDLE);
}

/* lock-never-released: worker 0 keeps the lock until the run stops. */
static void keep_lock(struct stress_worker *w)
{
	while (!stress_stopping(w))
		stress_sleep_us(10000);
}

enum stress_op counter_op(struct stress_worker *w)
{
	struct counter_state *s = w->run->state;
	bool unlocked = stress_variant_is(w->run, "counter-unlocked");
	int me = w->index;
	uint64_t v;

	/* Work outside the section: where a kill loses nothing. */
	stress_spin(w, 400);
	if (!unlocked && !take(w, s, LOCK_TIMEOUT_MS))
		return STRESS_OP_RETRY;
	stress_phase(w, STRESS_IN_SECTION);
	if (stress_variant_is(w->run, "lock-never-released") && me == 0) {
		keep_lock(w);
		return STRESS_OP_RETRY;
	}
	/* Without the lock the sum is in flux: only the end check holds. */
	if (!unlocked)
		check_sum(w->run, s, "on entry");
	s->journal.worker = me;
	s->journal.old_counter = s->counter;
	s->journal.old_done = s->done[me];
	STEP();
	s->journal.active = 1;
	STEP();
	v = s->counter;
	stress_spin(w, 200);
	s->counter = v + 1;
	STEP();
	s->done[me]++;
	STEP();
	s->journal.active = 0;
	STEP();
	if (!unlocked)
		release(w, s);
	stress_phase(w, STRESS_IDLE);
	return STRESS_OP_DONE;
}

void counter_check(struct stress_run *run)
{
	struct counter_state *s = run->state;
	enum ipc_lock_result r = ipc_lock_acquire(&s->lock, 2000);

	/* As the next holder would: a holder killed inside is rolled back. */
	if (r == IPC_LOCK_OWNER_DIED) {
		roll_back(s);
		ipc_lock_consistent(&s->lock);
	} else if (!stress_check(run, r == IPC_LOCK_TAKEN, "LOCK-STUCK",
				 "with every worker stopped, the lock could not be"
				 " taken: %s", ipc_lock_result_name(r))) {
		return;
	}
	check_sum(run, s, "at the end");
	for (int i = 0; i < run->nworkers; i++) {
		uint64_t ops = atomic_load(&run->board->slots[i].ops);
		unsigned kills = stress_kills_of(run, i);

		stress_check(run, s->done[i] >= ops && s->done[i] - ops <= kills,
			     "DONE-MISMATCH", "worker %d: done count %" PRIu64
			     " for %" PRIu64 " ops and %u kills", i, s->done[i],
			     ops, kills);
	}
	ipc_lock_release(&s->lock);
}

void counter_teardown(struct stress_run *run)
{
	struct counter_state *s = run->state;

	if (s && s->lock_made)
		ipc_lock_destroy(&s->lock);
}
