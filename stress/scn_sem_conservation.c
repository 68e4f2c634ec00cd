/*
 * sem-conservation: a System V semaphore holding T tokens (T = 2 x the
 * workers). Workers take 1 to 4 tokens at once with SEM_UNDO, note in
 * shared memory what they hold, work a little and give them back; worker 0
 * is a sampler instead, which reads the value now and then.
 *
 * Invariants: every sample is within 0..T; at the end, with every worker
 * stopped, the value is T again. With kills too: the kernel gives a killed
 * holder's tokens back (SEM_UNDO), so a kill may lose nothing here. What
 * killed workers held at their death is counted, to say how many tokens a
 * violation is about.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ipc/sem.h"
#include "stress.h"

#define TAKE_TIMEOUT_MS 200
#define MAX_TAKE 4
#define SAMPLE_PAUSE_US 200

struct semcons_state {
	int semid;                       /* -1 if none */
	unsigned tokens;
	struct {
		_Atomic unsigned held;
		_Atomic unsigned incarnation;
	} worker[STRESS_MAX_WORKERS];
	_Atomic uint64_t held_at_death;  /* by killed workers, all told */
	_Atomic uint64_t samples;
};

static short undo_flag(const struct stress_run *run)
{
	return stress_variant_is(run, "sem-no-undo") ? 0 : SEM_UNDO;
}

/* A respawned worker counts what its predecessor died holding. */
static void new_life(struct stress_worker *w, struct semcons_state *s)
{
	unsigned life = atomic_load(&s->worker[w->index].incarnation);

	if (life == w->incarnation)
		return;
	atomic_fetch_add(&s->held_at_death, atomic_exchange(&s->worker[w->index].held, 0));
	atomic_store(&s->worker[w->index].incarnation, w->incarnation);
}

static enum stress_op sample(struct stress_worker *w, struct semcons_state *s)
{
	int v;

	stress_phase(w, STRESS_SAMPLE);
	v = ipc_sysv_sem_get(s->semid, 0);
	stress_phase(w, STRESS_IDLE);
	if (v < 0) {
		stress_check(w->run, false, "SEM-FAILED", "GETVAL: %s", strerror(errno));
		stress_sleep_us(10000);
		return STRESS_OP_RETRY;
	}
	stress_check(w->run, (unsigned)v <= s->tokens, "TOKENS-CREATED",
		     "the sampler read %d tokens, more than the %u there are", v,
		     s->tokens);
	atomic_fetch_add_explicit(&s->samples, 1, memory_order_relaxed);
	stress_sleep_us(SAMPLE_PAUSE_US);
	return STRESS_OP_DONE;
}

static enum stress_op take_and_give(struct stress_worker *w, struct semcons_state *s)
{
	unsigned max = s->tokens < MAX_TAKE ? s->tokens : MAX_TAKE;
	unsigned k = 1 + (unsigned)stress_below(w, max);
	struct sembuf op = { 0, (short)-(int)k, undo_flag(w->run) };
	enum ipc_sem_result r;

	stress_phase(w, STRESS_TAKE);
	r = ipc_sysv_sem_op(s->semid, &op, 1, TAKE_TIMEOUT_MS);
	if (r != IPC_SEM_DONE) {
		stress_phase(w, STRESS_IDLE);
		if (r == IPC_SEM_TIMED_OUT || r == IPC_SEM_INTERRUPTED)
			return STRESS_OP_RETRY;
		stress_check(w->run, false, "SEM-FAILED", "worker %d: take %u: %s (%s)",
			     w->index, k, ipc_sem_result_name(r), strerror(errno));
		stress_sleep_us(10000);
		return STRESS_OP_RETRY;
	}
	stress_phase(w, STRESS_HOLD);
	atomic_store(&s->worker[w->index].held, k);
	stress_spin(w, 500);
	stress_phase(w, STRESS_GIVE);
	op.sem_op = (short)k;
	r = ipc_sysv_sem_op(s->semid, &op, 1, TAKE_TIMEOUT_MS);
	stress_check(w->run, r == IPC_SEM_DONE, "SEM-FAILED",
		     "worker %d: give back %u: %s (%s)", w->index, k,
		     ipc_sem_result_name(r), strerror(errno));
	atomic_store(&s->worker[w->index].held, 0);
	stress_phase(w, STRESS_IDLE);
	return STRESS_OP_DONE;
}

enum stress_op semcons_op(struct stress_worker *w)
{
	struct semcons_state *s = w->run->state;
	bool sampler = w->run->nworkers == 1 ? stress_below(w, 8) == 0 : w->index == 0;

	new_life(w, s);
	return sampler ? sample(w, s) : take_and_give(w, s);
}

int semcons_setup(struct stress_run *run)
{
	struct semcons_state *s = stress_map_state(run, sizeof *s);
	unsigned short value;

	if (!s)
		return -1;
	stress_atomic_only(&s->worker, sizeof *s - offsetof(struct semcons_state, worker));
	s->tokens = 2u * (unsigned)run->nworkers;
	value = (unsigned short)s->tokens;
	s->semid = ipc_sysv_sem_create(IPC_PRIVATE, 1, &value);
	if (s->semid < 0) {
		fprintf(stderr, "ipch-stress: sem-conservation: ipc_sysv_sem_create: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

void semcons_check(struct stress_run *run)
{
	struct semcons_state *s = run->state;
	int v = ipc_sysv_sem_get(s->semid, 0);
	uint64_t held = atomic_load(&s->held_at_death);

	/* Those killed and not respawned (at the end of the run) too. */
	for (int i = 0; i < run->nworkers; i++)
		held += atomic_load(&s->worker[i].held);
	if (v >= 0 && (unsigned)v < s->tokens)
		stress_check(run, false, "TOKENS-LOST",
			     "value %d after the run, not %u: %u tokens gone"
			     " (killed workers' notes held %" PRIu64 "; a kill"
			     " between a take and its note loses unnoted ones)",
			     v, s->tokens, s->tokens - (unsigned)v, held);
	else
		stress_check(run, v >= 0 && (unsigned)v == s->tokens, "TOKENS-CREATED",
			     "value %d after the run, not %u", v, s->tokens);
	stress_check(run, run->nworkers == 1 || atomic_load(&s->samples) > 0,
		     "NO-SAMPLES", "the sampler read the value not once");
}

void semcons_teardown(struct stress_run *run)
{
	struct semcons_state *s = run->state;

	if (s && s->semid >= 0)
		ipc_sysv_sem_remove(s->semid);
}
