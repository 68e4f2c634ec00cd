/*
 * The stress harness's interface between the supervisor and a scenario.
 *
 * A scenario is four functions (scenarios.h lists them):
 *  - setup(run): makes the shared state with stress_map_state() (one
 *    MAP_SHARED|MAP_ANONYMOUS region, inherited by fork) and any kernel
 *    object through the library; says which phases must not see a kill.
 *    Returns 0, or -1 after printing why.
 *  - op(w): one operation of worker w, called until the stop flag is set;
 *    STRESS_OP_DONE counts as progress, STRESS_OP_RETRY (a wait that timed
 *    out, a set not there yet) does not. A worker may keep its own state in
 *    the shared region at its index: a respawned worker finds it there.
 *  - check(run): the invariants once every worker has stopped, each
 *    through stress_check().
 *  - teardown(run): removes every kernel object setup or the workers made;
 *    runs on every path, failed runs included.
 *
 * Workers are processes (fork) or, with --threads, threads of one process
 * running the same code. Everything they share with the supervisor is in
 * the board, itself in shared memory: the stop flag, a progress counter and
 * a phase word per worker, the checks made and the violations found.
 */
#ifndef STRESS_H
#define STRESS_H

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STRESS_MAX_WORKERS 256
#define STRESS_MAX_VIOLATIONS 32
#define STRESS_MAX_KILLS 4096

/* What a worker is doing, shown in kill records and deadlock reports; a
 * scenario may forbid kills in some (stress_run.no_kill_phases). */
enum stress_phase {
	STRESS_IDLE,
	STRESS_LOCK,        /* waiting for a lock */
	STRESS_IN_SECTION,  /* holding it */
	STRESS_UNLOCK,
	STRESS_RECOVER,     /* repairing after a holder's death */
	STRESS_READ,
	STRESS_WRITE,
	STRESS_TAKE,        /* waiting for semaphore tokens */
	STRESS_HOLD,
	STRESS_GIVE,
	STRESS_SAMPLE,
	STRESS_CREATE,
	STRESS_OPEN,
	STRESS_USE,
	STRESS_REMOVE,
	STRESS_SEND,
	STRESS_RECV,
	STRESS_STOPPED,
	STRESS_PHASES
};
const char *stress_phase_name(enum stress_phase p);
#define STRESS_PHASE_BIT(p) (1u << (p))

enum stress_op {
	STRESS_OP_DONE,
	STRESS_OP_RETRY,
};

struct stress_violation {
	_Atomic int ready;      /* set once name and text are written */
	char name[32];          /* e.g. LOST-UPDATE */
	char text[224];         /* one line */
};

/* One worker's row of the board. */
struct stress_slot {
	_Atomic uint64_t ops;        /* operations done, every incarnation */
	_Atomic unsigned phase;      /* enum stress_phase */
	_Atomic int guarded;         /* inside stress_guard_enter() */
	_Atomic int kill_pending;    /* the supervisor means to kill it */
	_Atomic pid_t pid;           /* process, or thread id */
	_Atomic unsigned incarnation;
};

struct stress_board {
	_Atomic int stop;
	_Atomic uint64_t checks;
	_Atomic unsigned nviolations;
	_Atomic int checking;        /* 1 while the end checks run */
	/* Per group of a grouped scenario (stress_run.group_of): set before
	 * the supervisor kills any member, cleared once the group is made
	 * again; a member that finds it set expects its channel to break. */
	_Atomic int group_dying[STRESS_MAX_WORKERS];
	struct stress_violation violations[STRESS_MAX_VIOLATIONS];
	struct stress_slot slots[STRESS_MAX_WORKERS];
};

struct stress_kill {
	int worker;
	unsigned incarnation;
	enum stress_phase phase;     /* the dead worker's last phase word */
	bool self;                   /* the scenario killed it, not --kill-rate */
	double at;                   /* seconds into the run */
};

struct stress_scenario;
struct stress_worker;

/* One run of one scenario. */
struct stress_run {
	const struct stress_scenario *scn;
	int nworkers;
	bool threads;
	double seconds;
	double kill_rate;
	uint64_t seed;
	const char *variant;         /* a broken variant's name, or NULL */
	struct stress_board *board;
	void *state;                 /* the scenario's region */
	size_t state_size;
	/* Set by setup: */
	unsigned no_kill_phases;     /* the supervisor defers kills in these */
	bool self_kills;             /* workers may SIGKILL themselves */
	double stop_grace;           /* seconds workers get to stop (0: 5) */
	/* Optional, set by setup too:
	 *  - stopping(run): in the supervisor, right after it sets the stop
	 *    flag and before it waits for the workers (e.g. to close its
	 *    copies of channel ends, so that receivers see the end);
	 *  - stopped(w): a worker's last call, once its loop has ended (e.g. a
	 *    receiver draining its channel), in its own process or thread;
	 *  - group_of(run, w): workers that live and die together (the ends of
	 *    one channel), a group number below STRESS_MAX_WORKERS, or -1. A
	 *    kill of ours of one member kills the others too; once all are
	 *    reaped the supervisor calls regroup(run, group), which makes the
	 *    group's shared objects again (0, or -1 after printing why), and
	 *    respawns them all. Process mode only. */
	void (*stopping)(struct stress_run *run);
	void (*stopped)(struct stress_worker *w);
	int (*group_of)(const struct stress_run *run, int worker);
	int (*regroup)(struct stress_run *run, int group);
	char note[160];              /* a line the report prints under the row */
	/* The supervisor's records: */
	struct stress_kill kills[STRESS_MAX_KILLS];
	size_t nkills;               /* recorded (and counted beyond the array) */
	size_t deferred;             /* kills put off by no_kill_phases */
	size_t killed_by_us;         /* --kill-rate kills (self-kills apart) */
	double elapsed;              /* seconds the workers ran */
	double detected_at;          /* seconds to the first violation, or -1 */
	uint64_t ops;                /* every worker's, at the end */
	bool abandoned;              /* threads that would not stop: exit now */
};

struct stress_worker {
	struct stress_run *run;
	int index;
	unsigned incarnation;
	uint64_t rng;
	struct stress_slot *slot;
};

struct stress_scenario {
	const char *name;
	const char *summary;
	int (*setup)(struct stress_run *run);
	enum stress_op (*op)(struct stress_worker *w);
	void (*check)(struct stress_run *run);
	void (*teardown)(struct stress_run *run);
};

/* A broken variant: a deliberate bug in one scenario, which its checks
 * must catch (ipch-stress-broken only). */
struct stress_variant {
	const char *name;
	const char *scenario;
	const char *violation;       /* the violation it must cause */
	const char *summary;
};

/* ---- for scenarios ------------------------------------------------------- */

/* The scenario's shared region, zeroed; NULL after a message if mmap fails.
 * Unmapped by the supervisor after teardown. */
void *stress_map_state(struct stress_run *run, size_t size);

/*
 * Memory that threads share only through C11 atomics (the board, a
 * seqlock's record): Helgrind and DRD do not model atomics and would report
 * every access as a race, so under them these ranges go unchecked; outside
 * valgrind it does nothing. Data guarded by a lock must never be given
 * here: checking it is what the thread mode runs those tools for.
 */
void stress_atomic_only(const void *addr, size_t len);
void stress_atomic_only_hg(const void *addr, size_t len);

/* True when this build is ipch-stress-broken and the run's variant is name:
 * in ipch-stress it is false and the compiler drops the broken code. */
#ifdef IPCH_STRESS_BROKEN
bool stress_variant_is(const struct stress_run *run, const char *name);
#else
static inline bool stress_variant_is(const struct stress_run *run,
				     const char *name)
{
	(void)run;
	(void)name;
	return false;
}
#endif

/* Counts one check; if ok is false, records a violation NAME with a one-line
 * description. Safe from any worker, thread or process, and from check(). */
bool stress_check(struct stress_run *run, bool ok, const char *name,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline bool stress_stopping(const struct stress_worker *w)
{
	return atomic_load_explicit(&w->run->board->stop, memory_order_relaxed);
}

/* Writes the worker's phase word. Entering a phase of the run's
 * no_kill_phases from one outside them waits while a kill is on its way
 * (so that a kill the supervisor decided lands outside), and then keeps
 * the supervisor's kills off until the worker leaves those phases. */
void stress_phase(struct stress_worker *w, enum stress_phase p);
unsigned stress_kills_of(const struct stress_run *run, int worker);

/* xorshift64*, seeded per worker from (seed, index, incarnation). */
uint64_t stress_rand(uint64_t *state);
uint64_t stress_seed_mix(uint64_t seed, uint64_t a, uint64_t b);
static inline uint64_t stress_below(struct stress_worker *w, uint64_t n)
{
	return n ? stress_rand(&w->rng) % n : 0;
}

/* A little work of random length (up to about max_ns), some of it a
 * sched_yield, to vary where a worker is when another one runs. */
void stress_spin(struct stress_worker *w, unsigned max_iters);

/* Takes a robust mutex for w (phase LOCK). After a holder's death,
 * repair(w, arg) runs (phase RECOVER) before the mutex is made consistent.
 * False, the phase back to IDLE, on a timeout, or on another failure,
 * which is a LOCK-FAILED violation. */
bool stress_robust_lock(struct stress_worker *w, pthread_mutex_t *m,
			int timeout_ms,
			void (*repair)(struct stress_worker *w, void *arg),
			void *arg);

/* A worker that kills itself: SIGKILL in process mode; in thread mode it
 * does nothing and returns false (kills make no sense there). */
bool stress_self_kill(struct stress_worker *w);

double stress_now(void);
void stress_sleep_us(long us);

/* ---- the supervisor and report (supervisor.c, report.c) ---------------- */

struct stress_options {
	int procs;
	double seconds;
	uint64_t seed;
	double kill_rate;
	bool threads;
	bool stop_on_violation;
	double watchdog;
	const char *variant;
};

/* Set by SIGINT or SIGTERM: the run stops as at its deadline, is checked
 * and torn down, and the harness exits 130. */
extern volatile sig_atomic_t stress_interrupted;

/* Runs one scenario; fills run (the caller zeroes it). Returns 0 if it
 * ran (violations or not), -1 if it could not be set up. */
int stress_supervise(struct stress_run *run, const struct stress_options *o);

void stress_report_header(const struct stress_options *o);
void stress_report_row(const struct stress_run *run);
void stress_report_violations(const struct stress_run *run,
			      const struct stress_options *o);
unsigned stress_violations(const struct stress_run *run);

#endif
