/*
 * What a scenario's code calls: checks and violations, phase words and
 * kill guards, random numbers, a little random work, self-kills.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc/lock.h"
#include "stress.h"

static const char *const phase_names[STRESS_PHASES] = {
	[STRESS_IDLE] = "idle",
	[STRESS_LOCK] = "lock",
	[STRESS_IN_SECTION] = "in-section",
	[STRESS_UNLOCK] = "unlock",
	[STRESS_RECOVER] = "recover",
	[STRESS_READ] = "read",
	[STRESS_WRITE] = "write",
	[STRESS_TAKE] = "take",
	[STRESS_HOLD] = "hold",
	[STRESS_GIVE] = "give",
	[STRESS_SAMPLE] = "sample",
	[STRESS_CREATE] = "create",
	[STRESS_OPEN] = "open",
	[STRESS_USE] = "use",
	[STRESS_REMOVE] = "remove",
	[STRESS_SEND] = "send",
	[STRESS_RECV] = "recv",
	[STRESS_STOPPED] = "stopped",
};

const char *stress_phase_name(enum stress_phase p)
{
	return (unsigned)p < STRESS_PHASES && phase_names[p] ? phase_names[p] : "?";
}

bool stress_check(struct stress_run *run, bool ok, const char *name,
		  const char *fmt, ...)
{
	struct stress_board *b = run->board;
	struct stress_violation *v;
	unsigned i;
	va_list ap;

	atomic_fetch_add_explicit(&b->checks, 1, memory_order_relaxed);
	if (ok)
		return true;
	i = atomic_fetch_add(&b->nviolations, 1);
	if (i >= STRESS_MAX_VIOLATIONS)
		return false;
	v = &b->violations[i];
	snprintf(v->name, sizeof v->name, "%s", name);
	va_start(ap, fmt);
	vsnprintf(v->text, sizeof v->text, fmt, ap);
	va_end(ap);
	atomic_store_explicit(&v->ready, 1, memory_order_release);
	return false;
}

/*
 * The guard is Dekker's handshake between the worker and the supervisor,
 * both sides sequentially consistent: the supervisor sets kill_pending,
 * then reads guarded, and kills only if it is 0; the worker sets guarded,
 * then reads kill_pending, and backs off if it is 1. One of the two always
 * sees the other's store, so no kill lands inside the guarded stretch.
 */
static void guard_enter(struct stress_slot *s)
{
	for (;;) {
		atomic_store(&s->guarded, 1);
		if (!atomic_load(&s->kill_pending))
			return;
		atomic_store(&s->guarded, 0);
		/* Either the kill arrives here, or the supervisor withdraws. */
		while (atomic_load(&s->kill_pending))
			sched_yield();
	}
}

void stress_phase(struct stress_worker *w, enum stress_phase p)
{
	unsigned guarded = w->run->no_kill_phases;
	bool was = guarded & STRESS_PHASE_BIT(atomic_load_explicit(&w->slot->phase,
								  memory_order_relaxed));
	bool now = guarded & STRESS_PHASE_BIT(p);

	if (now && !was)
		guard_enter(w->slot);
	atomic_store_explicit(&w->slot->phase, p, memory_order_relaxed);
	if (was && !now)
		atomic_store(&w->slot->guarded, 0);
}

unsigned stress_kills_of(const struct stress_run *run, int worker)
{
	unsigned n = 0;

	for (size_t i = 0; i < run->nkills && i < STRESS_MAX_KILLS; i++)
		n += run->kills[i].worker == worker;
	return n;
}

uint64_t stress_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* splitmix64 over the three: neighbouring workers get unrelated streams. */
uint64_t stress_seed_mix(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t z = seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return z ? z : 1;
}

void stress_spin(struct stress_worker *w, unsigned max_iters)
{
	unsigned n = (unsigned)stress_below(w, max_iters + 1u);
	volatile uint64_t sink = 0;

	if (stress_below(w, 16) == 0) {
		sched_yield();
		return;
	}
	for (unsigned i = 0; i < n; i++)
		sink += i;
	(void)sink;
}

bool stress_self_kill(struct stress_worker *w)
{
	if (w->run->threads)
		return false;
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

double stress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void stress_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

#ifdef IPCH_STRESS_BROKEN
bool stress_variant_is(const struct stress_run *run, const char *name)
{
	return run->variant && strcmp(run->variant, name) == 0;
}
#endif

bool stress_robust_lock(struct stress_worker *w, pthread_mutex_t *m,
			int timeout_ms,
			void (*repair)(struct stress_worker *w, void *arg),
			void *arg)
{
	int r;

	stress_phase(w, STRESS_LOCK);
	r = ipc_robust_mutex_lock(m, timeout_ms);
	if (r == EOWNERDEAD) {
		stress_phase(w, STRESS_RECOVER);
		repair(w, arg);
		ipc_robust_mutex_consistent(m);
		return true;
	}
	if (r == 0)
		return true;
	if (r != ETIMEDOUT) {
		stress_check(w->run, false, "LOCK-FAILED", "worker %d: lock: %s",
			     w->index, strerror(r));
		stress_sleep_us(10000);
	}
	stress_phase(w, STRESS_IDLE);
	return false;
}
