/*
 * Locks between processes, in shared memory. The robust mutex: a holder
 * killed with SIGKILL makes the next locker's lock EOWNERDEAD, with the
 * guarded state as the holder left it; repaired and made consistent it
 * is a mutex again, unlocked without that it is ENOTRECOVERABLE for
 * everyone. The shared condition variable: a broadcast wakes waiters in
 * other processes, a timed wait ends. And struct ipc_lock of each kind:
 * mutual exclusion between processes on a counter, timeouts, and what a
 * killed holder leaves: OWNER_DIED for a System V semaphore and a robust
 * mutex (again for the next taker if the repairer is killed too), a lock
 * taken for ever for an unnamed POSIX semaphore.
 *
 * Each test's shared memory is unmapped and the System V set of its lock
 * removed by the teardown, also when the test fails half-way; every child
 * has an alarm and is reaped with a deadline.
 */
#include "mech_support.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/lock.h"
#include "ipc/sem.h"

/* What the processes of a test share. */
struct shared {
	pthread_mutex_t m;
	pthread_cond_t c;
	int a, b;              /* guarded state: consistent when b == a */
	int waiting, woken, go; /* the condition variable's test */
	struct ipc_lock lock;
	long counter;          /* guarded by lock */
	int inside, overlaps;  /* holders at once, and times two were */
	int holding;           /* a child holds the lock */
	int let_go;            /* the child may give it back */
	int result;            /* a child's lock or acquire result */
	int err;
};

struct fixture {
	struct shared *sh;
	struct mech_report *report;
};

static struct fixture fixture;

/* ---- fixture ------------------------------------------------------------- */

static int lock_setup(void **state)
{
	if (mech_setup(state) != 0)
		return -1;
	fixture.report = mech_report_map();
	fixture.sh = mmap(NULL, sizeof *fixture.sh, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fixture.report == NULL || fixture.sh == MAP_FAILED) {
		fprintf(stderr, "setup: cannot map shared memory\n");
		if (fixture.report != NULL)
			mech_report_unmap(fixture.report);
		if (fixture.sh != MAP_FAILED)
			munmap(fixture.sh, sizeof *fixture.sh);
		mech_teardown(state);
		return -1;
	}
	*state = &fixture;
	return 0;
}

/* The children are gone (mech_teardown kills what is left) before the
 * set goes: the lock's System V set is removed here if the test did not
 * destroy it. */
static int lock_teardown(void **state)
{
	struct shared *sh = fixture.sh;
	int ok = mech_teardown(state) == 0;

	if (sh->lock.kind == IPC_LOCK_SYSV_SEM && sh->lock.semid >= 0 &&
	    ipc_sysv_sem_remove(sh->lock.semid) != 0) {
		fprintf(stderr, "teardown: cannot remove set %d: %s\n",
			sh->lock.semid, strerror(errno));
		ok = 0;
	}
	munmap(sh, sizeof *sh);
	mech_report_unmap(fixture.report);
	return ok ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------- */

static int under_tsan(void)
{
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
	return 1;
#endif
#endif
#ifdef __SANITIZE_THREAD__
	return 1;
#else
	return 0;
#endif
}

static void set_flag(int *flag, int value)
{
	__atomic_store_n(flag, value, __ATOMIC_RELEASE);
}

static void expect_errno_value(int got, int want, const char *what)
{
	if (got != want)
		fail_msg("%s: %s, wanted %s", what, mech_errno_name(got),
			 mech_errno_name(want));
}

static void expect_lock(enum ipc_lock_result got, enum ipc_lock_result want)
{
	if (got != want)
		fail_msg("'%s' (errno %s), wanted '%s'", ipc_lock_result_name(got),
			 mech_errno_name(errno), ipc_lock_result_name(want));
}

/* ---- the robust mutex ------------------------------------------------------ */

/* Locks, changes half of the guarded state, says so, and waits to be
 * killed. */
static int child_dies_holding_mutex(void *arg)
{
	struct shared *sh = arg;

	if (ipc_robust_mutex_lock(&sh->m, mech_seconds(10) * 1000) != 0)
		return 1;
	sh->a++;
	set_flag(&sh->holding, 1);
	for (;;)
		pause();
}

/* A mutex whose holder was killed halfway through a change. */
static void kill_mutex_holder(struct shared *sh)
{
	pid_t pid;

	assert_int_equal(ipc_robust_mutex_init(&sh->m), 0);
	pid = mech_fork(child_dies_holding_mutex, sh, 30);

	if (!mech_wait_flag(&sh->holding, 10))
		fail_msg("the child never took the mutex");
	mech_kill_and_reap(pid);
}

/* Step 0 of the report: the result of a lock, unlocked again if taken. */
static int child_locks(void *arg)
{
	struct fixture *f = arg;
	int r = ipc_robust_mutex_lock(&f->sh->m, mech_seconds(10) * 1000);

	f->report->r[0] = r;
	if (r == 0 || r == EOWNERDEAD)
		ipc_robust_mutex_unlock(&f->sh->m);
	return 0;
}

/*
 * The holder killed with SIGKILL: the next lock is EOWNERDEAD and holds
 * the mutex, the state half changed as the holder left it. Repaired and
 * made consistent, the mutex locks and unlocks as before, here and in
 * another process.
 */
static void mutex_killed_holder_is_eownerdead_then_repaired(void **state)
{
	struct fixture *f = *state;
	struct shared *sh = f->sh;

	kill_mutex_holder(sh);
	expect_errno_value(ipc_robust_mutex_lock(&sh->m, mech_seconds(10) * 1000),
			   EOWNERDEAD, "lock after the holder's death");
	assert_int_equal(sh->a, 1);
	assert_int_equal(sh->b, 0);
	sh->b = sh->a; /* the repair */
	assert_int_equal(ipc_robust_mutex_consistent(&sh->m), 0);
	assert_int_equal(ipc_robust_mutex_unlock(&sh->m), 0);
	assert_int_equal(ipc_robust_mutex_lock(&sh->m, 0), 0);
	assert_int_equal(sh->b, sh->a);
	assert_int_equal(ipc_robust_mutex_unlock(&sh->m), 0);
	mech_reap(mech_fork(child_locks, f, 30), 30);
	assert_int_equal(f->report->r[0], 0);
	assert_int_equal(ipc_robust_mutex_destroy(&sh->m), 0);
}

/*
 * Unlocked after EOWNERDEAD without pthread_mutex_consistent: the mutex is
 * ENOTRECOVERABLE for every later locker, in any process. The timeout-0
 * lock comes before the other process's on purpose: glibc's trylock would
 * keep the lock word taken there, and the other process would wait for
 * ever instead of hearing ENOTRECOVERABLE.
 */
static void mutex_unlocked_without_consistent_is_unrecoverable(void **state)
{
	struct fixture *f = *state;
	struct shared *sh = f->sh;

	kill_mutex_holder(sh);
	expect_errno_value(ipc_robust_mutex_lock(&sh->m, mech_seconds(10) * 1000),
			   EOWNERDEAD, "lock after the holder's death");
	assert_int_equal(ipc_robust_mutex_unlock(&sh->m), 0);
	expect_errno_value(ipc_robust_mutex_lock(&sh->m, -1), ENOTRECOVERABLE,
			   "lock after an unlock without repair");
	expect_errno_value(ipc_robust_mutex_lock(&sh->m, 0), ENOTRECOVERABLE,
			   "trylock after an unlock without repair");
	mech_reap(mech_fork(child_locks, f, 30), 30);
	expect_errno_value((int)f->report->r[0], ENOTRECOVERABLE,
			   "another process's lock");
	ipc_robust_mutex_destroy(&sh->m);
}

/* Step 0 of the report: an unlock of the mutex, which the parent holds. */
static int child_unlocks(void *arg)
{
	struct fixture *f = arg;

	f->report->r[0] = ipc_robust_mutex_unlock(&f->sh->m);
	return 0;
}

/*
 * Error checking: a second lock by the holder is EDEADLK, not a deadlock;
 * an unlock by another process, or of a mutex nobody holds, is EPERM and
 * changes nothing. ThreadSanitizer reports each of these misuses, as it
 * should, so the test is skipped under it.
 */
static void mutex_is_error_checking(void **state)
{
	struct fixture *f = *state;
	struct shared *sh = f->sh;

	if (under_tsan())
		skip();
	assert_int_equal(ipc_robust_mutex_init(&sh->m), 0);
	assert_int_equal(ipc_robust_mutex_lock(&sh->m, -1), 0);
	expect_errno_value(ipc_robust_mutex_lock(&sh->m, -1), EDEADLK, "relock");
	mech_reap(mech_fork(child_unlocks, f, 30), 30);
	expect_errno_value((int)f->report->r[0], EPERM, "another process's unlock");
	expect_errno_value(ipc_robust_mutex_lock(&sh->m, 0), EDEADLK,
			   "relock after it");
	assert_int_equal(ipc_robust_mutex_unlock(&sh->m), 0);
	expect_errno_value(ipc_robust_mutex_unlock(&sh->m), EPERM, "unlock unheld");
	assert_int_equal(ipc_robust_mutex_lock(&sh->m, 0), 0);
	assert_int_equal(ipc_robust_mutex_unlock(&sh->m), 0);
	assert_int_equal(ipc_robust_mutex_destroy(&sh->m), 0);
}

/* Waits on the condition until go is set, counting itself waiting first
 * and woken after. */
static int child_waits_for_go(void *arg)
{
	struct shared *sh = arg;
	int r = ipc_robust_mutex_lock(&sh->m, mech_seconds(10) * 1000);

	if (r != 0)
		return 1;
	sh->waiting++;
	while (!sh->go && r == 0)
		r = ipc_shared_cond_wait(&sh->c, &sh->m, mech_seconds(10) * 1000);
	if (r == 0)
		sh->woken++;
	ipc_robust_mutex_unlock(&sh->m);
	return r == 0 ? 0 : 2;
}

/*
 * Two children wait on the shared condition. Once the parent, holding the
 * mutex, counts both as waiting, both are inside the wait (they give the
 * mutex up only there); one broadcast wakes both. A timed wait with
 * nobody to signal ends with ETIMEDOUT, the mutex held again.
 */
static void cond_broadcast_wakes_waiters_in_other_processes(void **state)
{
	struct fixture *f = *state;
	struct shared *sh = f->sh;
	long long end = mech_now_ms() + (long long)mech_seconds(10) * 1000;
	long long start;
	pid_t pids[2];
	int waiting = 0;

	assert_int_equal(ipc_robust_mutex_init(&sh->m), 0);
	assert_int_equal(ipc_shared_cond_init(&sh->c), 0);
	for (int i = 0; i < 2; i++)
		pids[i] = mech_fork(child_waits_for_go, sh, 30);
	while (waiting < 2 && mech_now_ms() < end) {
		assert_int_equal(ipc_robust_mutex_lock(&sh->m, -1), 0);
		waiting = sh->waiting;
		if (waiting < 2)
			assert_int_equal(ipc_robust_mutex_unlock(&sh->m), 0);
		else
			break;
		mech_nap_ms(2);
	}
	if (waiting < 2)
		fail_msg("only %d children waiting", waiting);
	assert_int_equal(sh->woken, 0);
	sh->go = 1;
	assert_int_equal(ipc_shared_cond_broadcast(&sh->c), 0);
	assert_int_equal(ipc_robust_mutex_unlock(&sh->m), 0);
	for (int i = 0; i < 2; i++)
		mech_reap(pids[i], 30);
	assert_int_equal(sh->woken, 2);

	assert_int_equal(ipc_robust_mutex_lock(&sh->m, -1), 0);
	start = mech_now_ms();
	expect_errno_value(ipc_shared_cond_wait(&sh->c, &sh->m, 100), ETIMEDOUT,
			   "timed wait");
	assert_true(mech_now_ms() - start >= 100);
	assert_int_equal(ipc_robust_mutex_unlock(&sh->m), 0); /* held again */
	assert_int_equal(ipc_shared_cond_destroy(&sh->c), 0);
	assert_int_equal(ipc_robust_mutex_destroy(&sh->m), 0);
}

/* ---- struct ipc_lock: mutual exclusion ------------------------------------ */

#define ROUNDS 2000

/* ROUNDS increments of the counter, each a read, a yield and a write under
 * the lock, counting any other holder found inside. */
static int child_counts(void *arg)
{
	struct shared *sh = arg;
	int rounds = mech_slow() ? ROUNDS / 10 : ROUNDS;

	for (int i = 0; i < rounds; i++) {
		long seen;

		if (ipc_lock_acquire(&sh->lock, mech_seconds(10) * 1000) != IPC_LOCK_TAKEN)
			return 1;
		if (__atomic_fetch_add(&sh->inside, 1, __ATOMIC_RELAXED) != 0)
			__atomic_fetch_add(&sh->overlaps, 1, __ATOMIC_RELAXED);
		seen = sh->counter;
		sched_yield();
		sh->counter = seen + 1;
		__atomic_fetch_sub(&sh->inside, 1, __ATOMIC_RELAXED);
		if (ipc_lock_release(&sh->lock) != 0)
			return 2;
	}
	return 0;
}

/* Two processes incrementing one counter under the lock lose no
 * increment, and never hold the lock at once. */
static void lock_excludes_across_processes(struct shared *sh,
					   enum ipc_lock_kind kind)
{
	int rounds = mech_slow() ? ROUNDS / 10 : ROUNDS;
	pid_t pids[2];

	assert_int_equal(ipc_lock_init(&sh->lock, kind), 0);
	for (int i = 0; i < 2; i++)
		pids[i] = mech_fork(child_counts, sh, 60);
	for (int i = 0; i < 2; i++)
		mech_reap(pids[i], 60);
	assert_int_equal(sh->overlaps, 0);
	assert_int_equal(sh->counter, 2L * rounds);
	assert_int_equal(ipc_lock_destroy(&sh->lock), 0);
}

static void lock_sysv_sem_excludes_across_processes(void **state)
{
	lock_excludes_across_processes(((struct fixture *)*state)->sh,
				       IPC_LOCK_SYSV_SEM);
}

static void lock_posix_sem_excludes_across_processes(void **state)
{
	lock_excludes_across_processes(((struct fixture *)*state)->sh,
				       IPC_LOCK_POSIX_SEM);
}

static void lock_robust_mutex_excludes_across_processes(void **state)
{
	lock_excludes_across_processes(((struct fixture *)*state)->sh,
				       IPC_LOCK_ROBUST_MUTEX);
}

/* ---- struct ipc_lock: timeouts -------------------------------------------- */

/* Holds the lock until let go. */
static int child_holds_until_let_go(void *arg)
{
	struct shared *sh = arg;

	if (ipc_lock_acquire(&sh->lock, mech_seconds(10) * 1000) != IPC_LOCK_TAKEN)
		return 1;
	set_flag(&sh->holding, 1);
	if (!mech_wait_flag(&sh->let_go, 20))
		return 2;
	return ipc_lock_release(&sh->lock) == 0 ? 0 : 3;
}

/* Held by another process: a timed acquire ends no sooner than its
 * timeout, one with timeout 0 at once, both without the lock; once given
 * back, it is taken. */
static void lock_times_out_while_held(struct shared *sh, enum ipc_lock_kind kind)
{
	long long start, took;
	pid_t pid;

	assert_int_equal(ipc_lock_init(&sh->lock, kind), 0);
	pid = mech_fork(child_holds_until_let_go, sh, 30);
	if (!mech_wait_flag(&sh->holding, 10))
		fail_msg("the child never took the lock");
	start = mech_now_ms();
	expect_lock(ipc_lock_acquire(&sh->lock, 100), IPC_LOCK_TIMED_OUT);
	took = mech_now_ms() - start;
	if (took < 100 || took > (long long)mech_seconds(5) * 1000)
		fail_msg("timed out after %lld ms, wanted 100 ms", took);
	expect_lock(ipc_lock_acquire(&sh->lock, 0), IPC_LOCK_TIMED_OUT);
	set_flag(&sh->let_go, 1);
	mech_reap(pid, 30);
	expect_lock(ipc_lock_acquire(&sh->lock, mech_seconds(10) * 1000),
		    IPC_LOCK_TAKEN);
	assert_int_equal(ipc_lock_release(&sh->lock), 0);
	assert_int_equal(ipc_lock_destroy(&sh->lock), 0);
}

static void lock_sysv_sem_times_out_while_held(void **state)
{
	lock_times_out_while_held(((struct fixture *)*state)->sh, IPC_LOCK_SYSV_SEM);
}

static void lock_posix_sem_times_out_while_held(void **state)
{
	lock_times_out_while_held(((struct fixture *)*state)->sh, IPC_LOCK_POSIX_SEM);
}

static void lock_robust_mutex_times_out_while_held(void **state)
{
	lock_times_out_while_held(((struct fixture *)*state)->sh,
				  IPC_LOCK_ROBUST_MUTEX);
}

/* ---- struct ipc_lock: a killed holder -------------------------------------- */

/* Takes the lock (step 0: the result), changes half of the guarded state,
 * says so, and waits to be killed. */
static int child_dies_holding_lock(void *arg)
{
	struct fixture *f = arg;
	struct shared *sh = f->sh;
	enum ipc_lock_result r = ipc_lock_acquire(&sh->lock, mech_seconds(10) * 1000);

	f->report->r[0] = r;
	if (r != IPC_LOCK_TAKEN && r != IPC_LOCK_OWNER_DIED)
		return 1;
	sh->a++;
	set_flag(&sh->holding, 1);
	for (;;)
		pause();
}

static pid_t kill_lock_holder(struct fixture *f)
{
	pid_t pid;

	set_flag(&f->sh->holding, 0);
	pid = mech_fork(child_dies_holding_lock, f, 30);
	if (!mech_wait_flag(&f->sh->holding, 10))
		fail_msg("the child never took the lock");
	mech_kill_and_reap(pid);
	return pid;
}

/*
 * A holder killed inside: the next taker gets OWNER_DIED and the lock. A
 * taker killed in turn before it repaired leaves the death for the next:
 * OWNER_DIED again. Repaired and made consistent, the lock is taken and
 * given back as before; ipc_lock_consistent then has nothing to do
 * (EINVAL).
 */
static void lock_owner_died(struct fixture *f, enum ipc_lock_kind kind)
{
	struct shared *sh = f->sh;
	pid_t first;

	assert_int_equal(ipc_lock_init(&sh->lock, kind), 0);
	first = kill_lock_holder(f);
	expect_lock((enum ipc_lock_result)f->report->r[0], IPC_LOCK_TAKEN);
	if (kind == IPC_LOCK_SYSV_SEM)
		assert_int_equal(sh->lock.holder, first);
	kill_lock_holder(f);
	expect_lock((enum ipc_lock_result)f->report->r[0], IPC_LOCK_OWNER_DIED);
	if (kind == IPC_LOCK_SYSV_SEM)
		assert_int_equal(sh->lock.holder, first); /* not repaired yet */

	expect_lock(ipc_lock_acquire(&sh->lock, mech_seconds(10) * 1000),
		    IPC_LOCK_OWNER_DIED);
	assert_int_equal(sh->a, 2);
	sh->b = sh->a; /* the repair */
	assert_int_equal(ipc_lock_consistent(&sh->lock), 0);
	if (kind == IPC_LOCK_SYSV_SEM)
		assert_int_equal(sh->lock.holder, getpid());
	assert_int_equal(ipc_lock_release(&sh->lock), 0);
	if (kind == IPC_LOCK_SYSV_SEM)
		assert_int_equal(sh->lock.holder, 0);

	expect_lock(ipc_lock_acquire(&sh->lock, 0), IPC_LOCK_TAKEN);
	errno = 0;
	assert_int_equal(ipc_lock_consistent(&sh->lock), -1);
	assert_errno(EINVAL);
	assert_int_equal(ipc_lock_release(&sh->lock), 0);
	assert_int_equal(ipc_lock_destroy(&sh->lock), 0);
}

static void lock_sysv_sem_killed_holder_is_owner_died(void **state)
{
	lock_owner_died(*state, IPC_LOCK_SYSV_SEM);
}

static void lock_robust_mutex_killed_holder_is_owner_died(void **state)
{
	lock_owner_died(*state, IPC_LOCK_ROBUST_MUTEX);
}

/*
 * An unnamed POSIX semaphore has no owner: its holder killed, nothing gives
 * the token back, and no call can tell. Every acquire times out (a wait
 * without timeout would never end); ipc_lock_consistent has nothing to
 * repair. Only a process that knows may post it, as anyone may.
 */
static void lock_posix_sem_killed_holder_leaves_it_taken(void **state)
{
	struct fixture *f = *state;
	struct shared *sh = f->sh;

	assert_int_equal(ipc_lock_init(&sh->lock, IPC_LOCK_POSIX_SEM), 0);
	kill_lock_holder(f);
	expect_lock(ipc_lock_acquire(&sh->lock, 200), IPC_LOCK_TIMED_OUT);
	expect_lock(ipc_lock_acquire(&sh->lock, 0), IPC_LOCK_TIMED_OUT);
	assert_int_equal(ipc_posix_sem_value(&sh->lock.u.sem), 0);
	errno = 0;
	assert_int_equal(ipc_lock_consistent(&sh->lock), -1);
	assert_errno(EINVAL);
	assert_int_equal(ipc_lock_release(&sh->lock), 0);
	expect_lock(ipc_lock_acquire(&sh->lock, 0), IPC_LOCK_TAKEN);
	assert_int_equal(ipc_lock_release(&sh->lock), 0);
	assert_int_equal(ipc_lock_destroy(&sh->lock), 0);
}

/* ---- struct ipc_lock: the System V set -------------------------------------- */

/* Step 0: an acquire that waits for ever. */
static int child_acquires(void *arg)
{
	struct fixture *f = arg;
	enum ipc_lock_result r = ipc_lock_acquire(&f->sh->lock, -1);

	f->report->err[0] = r == IPC_LOCK_TAKEN ? 0 : errno;
	f->report->r[0] = r;
	return 0;
}

/*
 * A System V lock is a set of one, 0600, value 1 while free; a taker
 * waiting when the last user destroys it wakes with REMOVED, and the set
 * is gone.
 */
static void lock_sysv_sem_destroyed_under_a_waiter_is_removed(void **state)
{
	struct fixture *f = *state;
	struct shared *sh = f->sh;
	struct ipc_sysv_sem_stat st;
	long long end;
	pid_t pid;
	int semid;

	assert_int_equal(ipc_lock_init(&sh->lock, IPC_LOCK_SYSV_SEM), 0);
	semid = sh->lock.semid;
	assert_int_equal(ipc_sysv_sem_stat(semid, &st), 0);
	assert_int_equal(st.nsems, 1);
	assert_int_equal(st.mode, 0600);
	assert_int_equal(ipc_sysv_sem_get(semid, 0), 1);
	expect_lock(ipc_lock_acquire(&sh->lock, 0), IPC_LOCK_TAKEN);
	assert_int_equal(ipc_sysv_sem_get(semid, 0), 0);
	pid = mech_fork(child_acquires, f, 30);
	end = mech_now_ms() + (long long)mech_seconds(10) * 1000;
	while (ipc_sysv_sem_waiting_for_increase(semid, 0) != 1 && mech_now_ms() < end)
		mech_nap_ms(2);
	assert_int_equal(ipc_sysv_sem_waiting_for_increase(semid, 0), 1);
	assert_int_equal(ipc_lock_destroy(&sh->lock), 0);
	mech_reap(pid, 30);
	expect_lock((enum ipc_lock_result)f->report->r[0], IPC_LOCK_REMOVED);
	assert_int_equal(f->report->err[0], EIDRM);
	errno = 0;
	assert_int_equal(ipc_sysv_sem_stat(semid, &st), -1);
	assert_errno(EINVAL);
}

/* The kinds by name and back; unknown names are kind 0. */
static void lock_kinds_have_names(void **state)
{
	static const enum ipc_lock_kind kinds[] = {
		IPC_LOCK_SYSV_SEM, IPC_LOCK_POSIX_SEM, IPC_LOCK_ROBUST_MUTEX};
	static const char *const names[] = {"sysv-sem", "posix-sem", "robust-mutex"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(ipc_lock_kind_name(kinds[i]), names[i]);
		assert_int_equal(ipc_lock_kind_find(names[i]), kinds[i]);
	}
	assert_int_equal(ipc_lock_kind_find("futex"), 0);
	assert_int_equal(ipc_lock_kind_find(""), 0);
	errno = 0;
	assert_int_equal(ipc_lock_init(&fixture.sh->lock, 0), -1);
	assert_errno(EINVAL);
}

#define LOCK_TEST(fn) cmocka_unit_test_setup_teardown(fn, lock_setup, lock_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		LOCK_TEST(mutex_killed_holder_is_eownerdead_then_repaired),
		LOCK_TEST(mutex_unlocked_without_consistent_is_unrecoverable),
		LOCK_TEST(mutex_is_error_checking),
		LOCK_TEST(cond_broadcast_wakes_waiters_in_other_processes),
		LOCK_TEST(lock_sysv_sem_excludes_across_processes),
		LOCK_TEST(lock_posix_sem_excludes_across_processes),
		LOCK_TEST(lock_robust_mutex_excludes_across_processes),
		LOCK_TEST(lock_sysv_sem_times_out_while_held),
		LOCK_TEST(lock_posix_sem_times_out_while_held),
		LOCK_TEST(lock_robust_mutex_times_out_while_held),
		LOCK_TEST(lock_sysv_sem_killed_holder_is_owner_died),
		LOCK_TEST(lock_robust_mutex_killed_holder_is_owner_died),
		LOCK_TEST(lock_posix_sem_killed_holder_leaves_it_taken),
		LOCK_TEST(lock_sysv_sem_destroyed_under_a_waiter_is_removed),
		LOCK_TEST(lock_kinds_have_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
