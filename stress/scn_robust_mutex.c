/*
 * robust-mutex: two fields, a + b == TOTAL, changed in two steps under a
 * robust mutex (a -= d, then b += d), with a journal of the old pair
 * written first.
 *
 * The scenario kills its own holders: each worker process draws a moment
 * to die (on average one death every half second among all workers, with
 * or without --kill-rate), and at its first section after it, SIGKILLs
 * itself before the first step, between the two, or after both. The next
 * holder gets OWNER_DIED and restores the pair from the journal before
 * making the mutex consistent. In thread mode nobody kills itself.
 *
 * Invariant: a + b == TOTAL, checked by every holder on entry and at the
 * end. What a kill may lose: the killed holder's transfer, nothing else.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ipc/lock.h"
#include "stress.h"

#define TOTAL 1000000
#define LOCK_TIMEOUT_MS 500
#define DEATHS_PER_SECOND 2.0

struct robust_state {
	pthread_mutex_t mutex;
	bool mutex_made;
	int64_t a, b;
	struct {
		int active;
		int64_t a, b;
	} journal;
	uint64_t repairs;
	struct {
		_Atomic unsigned incarnation;
		_Atomic int armed;
		double die_at;           /* the worker's own */
	} worker[STRESS_MAX_WORKERS];
};

#define STEP() atomic_signal_fence(memory_order_seq_cst)

/* A new life draws its moment to die: exponential, with a mean that gives
 * DEATHS_PER_SECOND among all the workers. */
static void new_life(struct stress_worker *w, struct robust_state *s)
{
	double u, mean = (double)w->run->nworkers / DEATHS_PER_SECOND;

	if (w->run->threads || (atomic_load(&s->worker[w->index].armed) &&
				atomic_load(&s->worker[w->index].incarnation) == w->incarnation))
		return;
	u = ((double)(stress_rand(&w->rng) >> 11) + 1.0) / 9007199254740993.0;
	s->worker[w->index].die_at = stress_now() - log(u) * mean;
	atomic_store(&s->worker[w->index].incarnation, w->incarnation);
	atomic_store(&s->worker[w->index].armed, 1);
}

static void repair(struct stress_run *run, struct robust_state *s)
{
	if (!s->journal.active || stress_variant_is(run, "robust-no-repair"))
		return;
	s->a = s->journal.a;
	s->b = s->journal.b;
	STEP();
	s->journal.active = 0;
	STEP();
	s->repairs++;
}

static void repair_for(struct stress_worker *w, void *s)
{
	repair(w->run, s);
}

static bool lock(struct stress_worker *w, struct robust_state *s)
{
	return stress_robust_lock(w, &s->mutex, LOCK_TIMEOUT_MS, repair_for, s);
}

static void check_pair(struct stress_run *run, const struct robust_state *s,
		       const char *who, int index)
{
	stress_check(run, s->a + s->b == TOTAL, "INVARIANT-BROKEN",
		     "%s %d found a + b = %" PRId64 " + %" PRId64 " = %" PRId64
		     ", not %d (%" PRIu64 " repairs so far)", who, index, s->a,
		     s->b, s->a + s->b, TOTAL, s->repairs);
}

/* Dies at point `at` if this is the section it drew. */
static void maybe_die(struct stress_worker *w, int dying_at, int at)
{
	if (dying_at == at)
		stress_self_kill(w);
}

enum stress_op robust_op(struct stress_worker *w)
{
	struct robust_state *s = w->run->state;
	int64_t d = 1 + (int64_t)stress_below(w, 100);
	int dying_at = -1;

	new_life(w, s);
	stress_spin(w, 300);
	if (!lock(w, s))
		return STRESS_OP_RETRY;
	stress_phase(w, STRESS_IN_SECTION);
	check_pair(w->run, s, "worker", w->index);
	if (!w->run->threads && stress_now() >= s->worker[w->index].die_at)
		dying_at = (int)stress_below(w, 3);
	s->journal.a = s->a;
	s->journal.b = s->b;
	STEP();
	s->journal.active = 1;
	STEP();
	maybe_die(w, dying_at, 0);
	s->a -= d;
	STEP();
	maybe_die(w, dying_at, 1);
	stress_spin(w, 100);
	s->b += d;
	STEP();
	maybe_die(w, dying_at, 2);
	s->journal.active = 0;
	STEP();
	stress_phase(w, STRESS_UNLOCK);
	ipc_robust_mutex_unlock(&s->mutex);
	stress_phase(w, STRESS_IDLE);
	return STRESS_OP_DONE;
}

int robust_setup(struct stress_run *run)
{
	struct robust_state *s = stress_map_state(run, sizeof *s);
	int err;

	if (!s)
		return -1;
	err = ipc_robust_mutex_init(&s->mutex);
	if (err) {
		fprintf(stderr, "ipch-stress: robust-mutex: ipc_robust_mutex_init: %s\n",
			strerror(err));
		return -1;
	}
	s->mutex_made = true;
	s->a = TOTAL / 2;
	s->b = TOTAL - s->a;
	run->self_kills = !run->threads;
	return 0;
}

void robust_check(struct stress_run *run)
{
	struct robust_state *s = run->state;
	int r = ipc_robust_mutex_lock(&s->mutex, 2000);

	/* As the next holder would. */
	if (r == EOWNERDEAD) {
		repair(run, s);
		ipc_robust_mutex_consistent(&s->mutex);
	} else if (!stress_check(run, r == 0, "LOCK-STUCK",
				 "with every worker stopped, the mutex could not be"
				 " taken: %s", strerror(r))) {
		return;
	}
	check_pair(run, s, "the end check, worker", -1);
	ipc_robust_mutex_unlock(&s->mutex);
}

void robust_teardown(struct stress_run *run)
{
	struct robust_state *s = run->state;

	if (s && s->mutex_made)
		ipc_robust_mutex_destroy(&s->mutex);
}
