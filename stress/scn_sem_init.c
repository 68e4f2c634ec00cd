/*
 * sem-init: the creation race of System V sets.
 *
 * Worker 0, the creator, makes a keyed set of two semaphores holding T
 * tokens between them ({T, 0}), lets the others use it for a few
 * milliseconds, then removes it, round after round. Every other round it
 * makes the set the slow way, by hand: it publishes the key, calls semget,
 * sleeps a millisecond or two, and only then sets the values (SETALL) and
 * makes the semop that sets sem_otime; that sleep is the window in which a
 * set exists with its values not yet set. The other rounds use
 * ipc_sysv_sem_create_keyed.
 *
 * The openers find the key in shared memory and open the set with
 * ipc_sysv_sem_open, which waits for sem_otime; then they read both values
 * and move a token from the first semaphore to the second and back
 * (SEM_UNDO, both semaphores in one semop).
 *
 * Invariant: every opener, and the creator before removing a set, finds
 * T tokens in it, with kills too (the moves are atomic and undone
 * together). What a kill may lose: a round (a creator killed in the window
 * leaves a set nobody may use; its next life removes it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/sem.h>

#include "ipc/registry.h"
#include "ipc/sem.h"
#include "ipc/sysv_msg.h"
#include "stress.h"

#define OPEN_TIMEOUT_MS 100
#define MOVE_TIMEOUT_MS 50
#define ROUND_USE_US 10000

struct seminit_state {
	unsigned tokens;
	_Atomic int key;                 /* the current set's key, 0 if none */
	_Atomic int id;                  /* its id once made, else -1 */
	_Atomic uint64_t rounds, opens, uses;
};

static bool is_creator(struct stress_worker *w)
{
	if (w->run->nworkers == 1)
		return stress_below(w, 4) == 0;
	return w->index == 0;
}

static void registry_note(int id, bool note)
{
	char text[24];

	snprintf(text, sizeof text, "%d", id);
	if (note)
		ipc_registry_note("sysv-sem", text);
	else
		ipc_registry_forget("sysv-sem", text);
}

/* The set of the current round, or one a killed creator left: gone. */
static void remove_current(struct seminit_state *s)
{
	int key = atomic_load(&s->key);
	int id = atomic_load(&s->id);

	if (id < 0 && key != 0)
		id = semget(key, 0, 0);
	atomic_store(&s->key, 0);
	atomic_store(&s->id, -1);
	if (id >= 0 && ipc_sysv_sem_remove(id) != 0 && errno != EINVAL && errno != EIDRM)
		fprintf(stderr, "ipch-stress: sem-init: removing set %d: %s\n", id,
			strerror(errno));
}

/* semget, the window, SETALL, then the semop that sets sem_otime: the
 * classic creation, by hand, with its window held open. */
static int create_slowly(struct stress_worker *w, struct seminit_state *s)
{
	unsigned short values[2] = { (unsigned short)s->tokens, 0 };
	union ipc_semun arg = { .array = values };
	struct sembuf touch[2] = { { 0, -1, 0 }, { 0, 1, 0 } };
	key_t key = (key_t)(IPC_SYSV_KEY_PREFIX |
			    (stress_rand(&w->rng) & ~(uint64_t)IPC_SYSV_KEY_MASK));
	int id;

	atomic_store(&s->key, key);
	id = semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0) {
		atomic_store(&s->key, 0);
		return -1;
	}
	registry_note(id, true);
	atomic_store(&s->id, id);
	stress_sleep_us(1000 + (long)stress_below(w, 1000));
	if (semctl(id, 0, SETALL, arg) != 0 || semop(id, touch, 2) != 0)
		return -1;
	return id;
}

static int create_with_library(struct seminit_state *s)
{
	unsigned short values[2] = { (unsigned short)s->tokens, 0 };
	key_t key;
	int id = ipc_sysv_sem_create_keyed(&key, 2, values);

	if (id < 0)
		return -1;
	atomic_store(&s->id, id);
	atomic_store(&s->key, key);
	return id;
}

static bool holds_all_tokens(struct stress_run *run, struct seminit_state *s,
			     int id, const char *who, int index)
{
	unsigned short v[2];

	if (ipc_sysv_sem_get_all(id, v) != 0)
		return false;           /* removed meanwhile: the round ended */
	return stress_check(run, (unsigned)v[0] + v[1] == s->tokens,
			    "UNINITIALISED-SET", "%s %d found %u + %u tokens in set %d,"
			    " not %u: used before its creator set its values", who,
			    index, v[0], v[1], id, s->tokens);
}

static enum stress_op creator_op(struct stress_worker *w, struct seminit_state *s)
{
	int id;

	stress_phase(w, STRESS_CREATE);
	remove_current(s);
	id = stress_below(w, 2) ? create_slowly(w, s) : create_with_library(s);
	if (id < 0) {
		if (errno != EEXIST)
			stress_check(w->run, false, "SEM-FAILED", "creating a set: %s",
				     strerror(errno));
		remove_current(s);
		stress_phase(w, STRESS_IDLE);
		return STRESS_OP_RETRY;
	}
	stress_phase(w, STRESS_USE);
	stress_sleep_us(ROUND_USE_US / 2 + (long)stress_below(w, ROUND_USE_US));
	stress_phase(w, STRESS_REMOVE);
	holds_all_tokens(w->run, s, id, "the creator, worker", w->index);
	remove_current(s);
	atomic_fetch_add(&s->rounds, 1);
	stress_phase(w, STRESS_IDLE);
	return STRESS_OP_DONE;
}

/* sem-init-no-otime-wait: semget(key, 0, 0) and straight to use. */
static int open_set(struct stress_worker *w, int key)
{
	if (stress_variant_is(w->run, "sem-init-no-otime-wait"))
		return semget(key, 0, 0);
	return ipc_sysv_sem_open(key, 2, OPEN_TIMEOUT_MS);
}

static enum stress_op opener_op(struct stress_worker *w, struct seminit_state *s)
{
	struct sembuf there[2] = { { 0, -1, SEM_UNDO }, { 1, 1, SEM_UNDO } };
	struct sembuf back[2] = { { 1, -1, SEM_UNDO }, { 0, 1, SEM_UNDO } };
	int key = atomic_load(&s->key);
	int id;

	if (key == 0) {
		stress_sleep_us(200);
		return STRESS_OP_RETRY;
	}
	stress_phase(w, STRESS_OPEN);
	id = open_set(w, key);
	if (id < 0) {
		/* Not made yet, gone, or its creator died in the window. */
		if (errno != ENOENT && errno != ETIMEDOUT && errno != EIDRM && errno != EINVAL)
			stress_check(w->run, false, "SEM-FAILED", "worker %d: open key"
				     " 0x%x: %s", w->index, key, strerror(errno));
		stress_phase(w, STRESS_IDLE);
		stress_sleep_us(200);
		return STRESS_OP_RETRY;
	}
	atomic_fetch_add_explicit(&s->opens, 1, memory_order_relaxed);
	stress_phase(w, STRESS_USE);
	if (!holds_all_tokens(w->run, s, id, "worker", w->index) ||
	    ipc_sysv_sem_op(id, there, 2, MOVE_TIMEOUT_MS) != IPC_SEM_DONE) {
		stress_phase(w, STRESS_IDLE);
		return STRESS_OP_RETRY;
	}
	stress_spin(w, 300);
	ipc_sysv_sem_op(id, back, 2, MOVE_TIMEOUT_MS);
	atomic_fetch_add_explicit(&s->uses, 1, memory_order_relaxed);
	stress_phase(w, STRESS_IDLE);
	return STRESS_OP_DONE;
}

enum stress_op seminit_op(struct stress_worker *w)
{
	struct seminit_state *s = w->run->state;

	return is_creator(w) ? creator_op(w, s) : opener_op(w, s);
}

int seminit_setup(struct stress_run *run)
{
	struct seminit_state *s = stress_map_state(run, sizeof *s);

	if (!s)
		return -1;
	stress_atomic_only(&s->key, sizeof *s - offsetof(struct seminit_state, key));
	s->tokens = 4;
	atomic_store(&s->id, -1);
	return 0;
}

void seminit_check(struct stress_run *run)
{
	struct seminit_state *s = run->state;

	stress_check(run, atomic_load(&s->rounds) > 0, "NO-ROUNDS",
		     "the creator completed no round");
	stress_check(run, run->nworkers == 1 || atomic_load(&s->uses) > 0,
		     "NO-USES", "no opener used a set (%" PRIu64 " opens)",
		     (uint64_t)atomic_load(&s->opens));
}

void seminit_teardown(struct stress_run *run)
{
	struct seminit_state *s = run->state;

	if (s)
		remove_current(s);
}
