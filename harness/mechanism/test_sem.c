/*
 * Semaphores against the kernel's rules. System V sets: semop's
 * operations all or none, IPC_NOWAIT leaving every value as it was,
 * semtimedop's timeout, waiting for zero, a sleeper woken by removal
 * (EIDRM) or by a signal (EINTR, SA_RESTART or not), SEM_UNDO giving back
 * what a killed process took (and nothing given back without it), the
 * creation race closed by sem_otime, 0600 against another user, keys, and
 * the limits checked before a set is made. POSIX named semaphores: O_EXCL,
 * 0600, the file under /dev/shm until unlinked, use across fork. Unnamed
 * process-shared ones in a MAP_SHARED mapping across fork, and
 * sem_timedwait's deadline.
 *
 * Every set and name a test makes is removed by the teardown, also when
 * the test fails half-way, and the teardown fails the test if a name of
 * this process is left under /dev/shm; every child has an alarm and is
 * reaped with a deadline.
 */
#include "mech_support.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/fault.h"
#include "ipc/sem.h"
#include "ipc/sysv_msg.h" /* IPC_SYSV_KEY_PREFIX */

#define MAX_SETS 8
#define MAX_NAMES 4
#define SEMVMX 32767

struct fixture {
	struct mech_report *report; /* shared with the test's children */
};

static struct fixture fixture;
static int sets[MAX_SETS];                     /* -1 for none */
static char names[MAX_NAMES][NAME_MAX + 1];    /* "" for none */

/* ---- fixture ------------------------------------------------------------- */

/* id, remembered so that the teardown removes it whatever happens. */
static int track(int id)
{
	if (id < 0)
		fail_msg("cannot make a set: %s", strerror(errno));
	for (size_t i = 0; i < MAX_SETS; i++)
		if (sets[i] < 0) {
			sets[i] = id;
			return id;
		}
	ipc_sysv_sem_remove(id);
	fail_msg("more than %d sets in one test: raise MAX_SETS", MAX_SETS);
	return -1;
}

/* A removal the test makes itself, and must succeed. */
static void remove_tracked(int id)
{
	if (ipc_sysv_sem_remove(id) != 0)
		fail_msg("IPC_RMID of set %d: %s", id, strerror(errno));
	for (size_t i = 0; i < MAX_SETS; i++)
		if (sets[i] == id)
			sets[i] = -1;
}

/* A fresh name, remembered so that the teardown unlinks it. */
static const char *fresh_name(void)
{
	for (size_t i = 0; i < MAX_NAMES; i++)
		if (names[i][0] == '\0') {
			if (ipc_posix_sem_fresh_name(names[i], sizeof names[i]) != 0)
				fail_msg("fresh name: %s", strerror(errno));
			return names[i];
		}
	fail_msg("more than %d names in one test: raise MAX_NAMES", MAX_NAMES);
	return NULL;
}

static void unlink_tracked(const char *name)
{
	if (ipc_posix_sem_unlink(name) != 0)
		fail_msg("sem_unlink %s: %s", name, strerror(errno));
	for (size_t i = 0; i < MAX_NAMES; i++)
		if (strcmp(names[i], name) == 0)
			names[i][0] = '\0';
}

/* Files /dev/shm/sem.ipch.<our pid>.*: what this process's named
 * semaphores leave while they exist. */
static size_t own_sem_files(void)
{
	char prefix[64];
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	snprintf(prefix, sizeof prefix, "sem%s%ld.", IPC_SEM_NAME_PREFIX,
		 (long)getpid());
	prefix[3] = '.'; /* "sem./ipch." is the file "sem.ipch." */
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static int sem_setup(void **state)
{
	if (mech_setup(state) != 0)
		return -1;
	for (size_t i = 0; i < MAX_SETS; i++)
		sets[i] = -1;
	for (size_t i = 0; i < MAX_NAMES; i++)
		names[i][0] = '\0';
	fixture.report = mech_report_map();
	if (fixture.report == NULL) {
		mech_teardown(state);
		return -1;
	}
	*state = &fixture;
	return 0;
}

/* Removes every set and name the test made, then checks that no name of
 * this process is left. */
static int sem_teardown(void **state)
{
	size_t left;
	int ok = 1;

	for (size_t i = 0; i < MAX_SETS; i++) {
		if (sets[i] >= 0 && ipc_sysv_sem_remove(sets[i]) != 0 &&
		    errno != EINVAL && errno != EIDRM) {
			fprintf(stderr, "teardown: cannot remove set %d: %s\n", sets[i],
				strerror(errno));
			ok = 0;
		}
		sets[i] = -1;
	}
	for (size_t i = 0; i < MAX_NAMES; i++) {
		if (names[i][0] != '\0' && ipc_posix_sem_unlink(names[i]) != 0 &&
		    errno != ENOENT) {
			fprintf(stderr, "teardown: cannot unlink %s: %s\n", names[i],
				strerror(errno));
			ok = 0;
		}
		names[i][0] = '\0';
	}
	if ((left = own_sem_files()) != 0) {
		fprintf(stderr, "teardown: %zu named semaphores of this process "
			"left in /dev/shm\n", left);
		ok = 0;
	}
	mech_report_unmap(fixture.report);
	if (mech_teardown(state) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------- */

static void expect_values(int id, const unsigned short *want, size_t n)
{
	unsigned short got[8];

	assert_true(n <= 8);
	if (ipc_sysv_sem_get_all(id, got) != 0)
		fail_msg("GETALL of set %d: %s", id, strerror(errno));
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("semaphore %zu of set %d is %u, wanted %u", i, id,
				 got[i], want[i]);
}

static void expect_result(enum ipc_sem_result got, enum ipc_sem_result want)
{
	if (got != want)
		fail_msg("'%s' (errno %s), wanted '%s'", ipc_sem_result_name(got),
			 mech_errno_name(errno), ipc_sem_result_name(want));
}

static struct ipc_sysv_sem_stat stat_of(int id)
{
	struct ipc_sysv_sem_stat st;

	if (ipc_sysv_sem_stat(id, &st) != 0)
		fail_msg("IPC_STAT of set %d: %s", id, strerror(errno));
	return st;
}

/*
 * Waits until the child sleeps in semop on semaphore num of the set: the
 * kernel counts it among the waiters for an increase (or for zero), its
 * state is S and its wait channel is semtimedop's (where the kernel hides
 * wait channels, "0", the state and count alone). Fails the test if that
 * does not happen within 10 s.
 */
static void wait_in_semop(pid_t pid, int id, int num, int for_zero)
{
	long long end = mech_now_ms() + (long long)mech_seconds(10) * 1000;
	char wchan[128];
	int count;

	do {
		count = for_zero ? ipc_sysv_sem_waiting_for_zero(id, num)
				 : ipc_sysv_sem_waiting_for_increase(id, num);
		mech_proc_text(pid, "wchan", wchan, sizeof wchan);
		if (count == 1 && mech_proc_state(pid) == 'S' &&
		    (strstr(wchan, "sem") != NULL || strcmp(wchan, "0") == 0))
			return;
		mech_nap_ms(2);
	} while (mech_now_ms() < end);
	fail_msg("child %d never slept in semop (count %d, state %c, wchan '%s')",
		 (int)pid, count, mech_proc_state(pid), wchan);
}

/* ---- children ------------------------------------------------------------ */

/* A child making one semop: step 0 its result and errno, step 1 how many
 * signals its handler caught. */
struct semop_child {
	int id;
	struct sembuf ops[2];
	size_t n;
	int timeout_ms;
	int handler; /* catch SIGUSR1 */
	int restart; /* with SA_RESTART */
	struct mech_report *report;
};

static volatile sig_atomic_t handled;

static void count_signal(int signo)
{
	(void)signo;
	handled++;
}

static int child_makes_semop(void *arg)
{
	struct semop_child *c = arg;
	struct sigaction sa = {.sa_handler = count_signal};
	enum ipc_sem_result r;

	if (c->handler) {
		sa.sa_flags = c->restart ? SA_RESTART : 0;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGUSR1, &sa, NULL) != 0)
			return 1;
	}
	r = ipc_sysv_sem_op(c->id, c->ops, c->n, c->timeout_ms);
	c->report->err[0] = r == IPC_SEM_DONE ? 0 : errno;
	c->report->r[0] = r;
	/* ThreadSanitizer, which does not intercept semop, runs a handler
	 * only at the next call it intercepts: this one. */
	mech_nap_ms(1);
	c->report->r[1] = handled;
	__atomic_store_n(&c->report->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* A child's semop and its report, checked. */
static void expect_child_result(const struct mech_report *rep,
				enum ipc_sem_result want, int err)
{
	if (rep->r[0] != want || rep->err[0] != err)
		fail_msg("child's semop: '%s' (errno %s), wanted '%s' (errno %s)",
			 ipc_sem_result_name((enum ipc_sem_result)rep->r[0]),
			 mech_errno_name(rep->err[0]), ipc_sem_result_name(want),
			 mech_errno_name(err));
}

/* ---- all or none ---------------------------------------------------------- */

/*
 * Two decrements in one semop, the second on a semaphore at 0: with
 * IPC_NOWAIT it fails and the first semaphore keeps its token; a child
 * that waits for the pair sleeps counted on the second semaphore only,
 * the first still at 1, and takes both at once when the second is posted.
 */
static void sem_op_takes_all_or_none_of_two(void **state)
{
	struct fixture *f = *state;
	static const unsigned short start[] = {1, 0};
	struct semop_child c = {.n = 2, .timeout_ms = -1, .report = f->report};
	struct sembuf post = {1, +1, 0};
	pid_t pid;

	c.id = track(ipc_sysv_sem_create(IPC_PRIVATE, 2, start));
	c.ops[0] = (struct sembuf){0, -1, 0};
	c.ops[1] = (struct sembuf){1, -1, 0};
	expect_result(ipc_sysv_sem_op(c.id, c.ops, 2, 0), IPC_SEM_WOULD_BLOCK);
	expect_values(c.id, start, 2);

	pid = mech_fork(child_makes_semop, &c, 30);
	wait_in_semop(pid, c.id, 1, 0);
	assert_int_equal(ipc_sysv_sem_waiting_for_increase(c.id, 0), 0);
	expect_values(c.id, start, 2);
	expect_result(ipc_sysv_sem_op(c.id, &post, 1, -1), IPC_SEM_DONE);
	mech_reap(pid, 30);
	expect_child_result(f->report, IPC_SEM_DONE, 0);
	expect_values(c.id, (const unsigned short[]){0, 0}, 2);
	assert_int_equal(ipc_sysv_sem_last_pid(c.id, 0), pid);
}

/*
 * IPC_NOWAIT, whether timeout 0 adds it or the caller sets it: an
 * operation that would wait (a decrement below 0, a wait for zero on a
 * semaphore that is not) is EAGAIN, changes no value, and leaves the
 * caller's operations as they were given.
 */
static void sem_nowait_would_block_changes_nothing(void **state)
{
	static const unsigned short start[] = {2, 0, 5};
	struct sembuf ops[3] = {{0, -1, SEM_UNDO}, {2, -3, 0}, {1, -1, 0}};
	struct sembuf zero[2] = {{0, -2, 0}, {2, 0, IPC_NOWAIT}};
	int id;

	(void)state;
	id = track(ipc_sysv_sem_create(IPC_PRIVATE, 3, start));
	errno = 0;
	expect_result(ipc_sysv_sem_op(id, ops, 3, 0), IPC_SEM_WOULD_BLOCK);
	assert_errno(EAGAIN);
	expect_values(id, start, 3);
	assert_int_equal(ops[0].sem_flg, SEM_UNDO);
	assert_int_equal(ops[1].sem_flg, 0);
	assert_int_equal(ops[2].sem_flg, 0);
	errno = 0;
	expect_result(ipc_sysv_sem_op(id, zero, 2, -1), IPC_SEM_WOULD_BLOCK);
	assert_errno(EAGAIN);
	expect_values(id, start, 3);
	/* The same pair once it can go: both at once. */
	assert_int_equal(ipc_sysv_sem_set(id, 2, 0), 0);
	expect_result(ipc_sysv_sem_op(id, zero, 2, 0), IPC_SEM_DONE);
	expect_values(id, (const unsigned short[]){0, 0, 0}, 3);
}

/* semtimedop's timeout: EAGAIN no sooner than the timeout, nothing taken,
 * and the sleeper no longer counted. */
static void sem_timedop_times_out(void **state)
{
	struct sembuf take = {0, -1, 0};
	long long start, took;
	int id;

	(void)state;
	id = track(ipc_sysv_sem_create(IPC_PRIVATE, 1, NULL));
	start = mech_now_ms();
	errno = 0;
	expect_result(ipc_sysv_sem_op(id, &take, 1, 200), IPC_SEM_TIMED_OUT);
	took = mech_now_ms() - start;
	assert_errno(EAGAIN);
	if (took < 200 || took > (long long)mech_seconds(5) * 1000)
		fail_msg("timed out after %lld ms, wanted 200 ms", took);
	assert_int_equal(ipc_sysv_sem_get(id, 0), 0);
	assert_int_equal(ipc_sysv_sem_waiting_for_increase(id, 0), 0);
}

/* sem_op 0 waits until the value is 0: the sleeper is counted by GETZCNT
 * (not GETNCNT) and goes on when the last token is taken. */
static void sem_wait_for_zero_goes_on_at_zero(void **state)
{
	struct fixture *f = *state;
	struct semop_child c = {.n = 1, .timeout_ms = -1, .report = f->report};
	struct sembuf take = {0, -1, 0};
	pid_t pid;

	c.id = track(ipc_sysv_sem_create(IPC_PRIVATE, 1, (const unsigned short[]){1}));
	c.ops[0] = (struct sembuf){0, 0, 0};
	pid = mech_fork(child_makes_semop, &c, 30);
	wait_in_semop(pid, c.id, 0, 1);
	assert_int_equal(ipc_sysv_sem_waiting_for_increase(c.id, 0), 0);
	assert_false(__atomic_load_n(&f->report->done, __ATOMIC_ACQUIRE));
	expect_result(ipc_sysv_sem_op(c.id, &take, 1, -1), IPC_SEM_DONE);
	mech_reap(pid, 30);
	expect_child_result(f->report, IPC_SEM_DONE, 0);
	assert_int_equal(ipc_sysv_sem_waiting_for_zero(c.id, 0), 0);
}

/* ---- sleepers woken ------------------------------------------------------- */

/* IPC_RMID wakes a process sleeping in semop with EIDRM. */
static void sem_remove_wakes_sleeper_with_eidrm(void **state)
{
	struct fixture *f = *state;
	struct semop_child c = {.n = 1, .timeout_ms = -1, .report = f->report};
	pid_t pid;

	c.id = track(ipc_sysv_sem_create(IPC_PRIVATE, 1, NULL));
	c.ops[0] = (struct sembuf){0, -1, 0};
	pid = mech_fork(child_makes_semop, &c, 30);
	wait_in_semop(pid, c.id, 0, 0);
	remove_tracked(c.id);
	mech_reap(pid, 30);
	expect_child_result(f->report, IPC_SEM_REMOVED, EIDRM);
}

/*
 * A signal caught by a process sleeping in semop. signal(7) lists semop
 * and semtimedop among the calls never restarted after a handler,
 * SA_RESTART or not: the call fails with EINTR and takes nothing. Were it
 * restarted, the child would sleep on; the token then posted to free it
 * would be taken, and the test says so.
 */
static void interrupt_sleeper(struct fixture *f, int restart)
{
	struct semop_child c = {.n = 1, .timeout_ms = -1, .handler = 1,
				.restart = restart, .report = f->report};
	struct sembuf post = {0, +1, 0};
	pid_t pid;
	int returned;

	c.id = track(ipc_sysv_sem_create(IPC_PRIVATE, 1, NULL));
	c.ops[0] = (struct sembuf){0, -1, 0};
	pid = mech_fork(child_makes_semop, &c, 30);
	wait_in_semop(pid, c.id, 0, 0);
	assert_int_equal(kill(pid, SIGUSR1), 0);
	returned = mech_wait_flag(&f->report->done, 10);
	if (!returned)
		expect_result(ipc_sysv_sem_op(c.id, &post, 1, -1), IPC_SEM_DONE);
	mech_reap(pid, 30);
	if (!returned)
		fail_msg("semop went on after the handler (SA_RESTART %d)", restart);
	expect_child_result(f->report, IPC_SEM_INTERRUPTED, EINTR);
	assert_int_equal(f->report->r[1], 1); /* the handler ran once */
	assert_int_equal(ipc_sysv_sem_get(c.id, 0), 0);
	assert_int_equal(ipc_sysv_sem_waiting_for_increase(c.id, 0), 0);
}

static void sem_signal_without_sa_restart_is_eintr(void **state)
{
	interrupt_sleeper(*state, 0);
}

static void sem_signal_with_sa_restart_is_eintr_too(void **state)
{
	interrupt_sleeper(*state, 1);
}

/* ---- SEM_UNDO ------------------------------------------------------------ */

/* Takes what c->ops say, says so, and waits to be killed. */
static int child_takes_and_waits(void *arg)
{
	struct semop_child *c = arg;

	if (ipc_sysv_sem_op(c->id, c->ops, c->n, 0) != IPC_SEM_DONE)
		return 1;
	__atomic_store_n(&c->report->done, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
}

/*
 * A child takes two tokens of semaphore 0 with SEM_UNDO and two of
 * semaphore 1 without, in one semop, and is killed with SIGKILL: the
 * kernel gives back the first two (the child's adjustment) and not the
 * others, which stay taken with nobody to give them back.
 */
static void sem_undo_gives_back_what_a_killed_child_took(void **state)
{
	struct fixture *f = *state;
	static const unsigned short start[] = {3, 3};
	struct semop_child c = {.n = 2, .report = f->report};
	pid_t pid;

	c.id = track(ipc_sysv_sem_create(IPC_PRIVATE, 2, start));
	c.ops[0] = (struct sembuf){0, -2, SEM_UNDO};
	c.ops[1] = (struct sembuf){1, -2, 0};
	pid = mech_fork(child_takes_and_waits, &c, 30);
	if (!mech_wait_flag(&f->report->done, 10))
		fail_msg("the child never took its tokens");
	expect_values(c.id, (const unsigned short[]){1, 1}, 2);
	mech_kill_and_reap(pid);
	expect_values(c.id, (const unsigned short[]){3, 1}, 2);
}

/* ---- creation -------------------------------------------------------------- */

/* A new set: the values asked for (or all 0), sem_otime set by the
 * creator's own semop, whose pid is the last on semaphore 0. A first value
 * of SEMVMX, where an increment first would be ERANGE, is marked too. */
static void sem_create_sets_values_and_otime(void **state)
{
	static const unsigned short start[] = {7, 0, SEMVMX};
	static const unsigned short top[] = {SEMVMX, 1};
	int ids[3];

	(void)state;
	ids[0] = track(ipc_sysv_sem_create(IPC_PRIVATE, 3, start));
	ids[1] = track(ipc_sysv_sem_create(IPC_PRIVATE, 3, NULL));
	ids[2] = track(ipc_sysv_sem_create(IPC_PRIVATE, 2, top));
	expect_values(ids[0], start, 3);
	expect_values(ids[1], (const unsigned short[]){0, 0, 0}, 3);
	expect_values(ids[2], top, 2);
	for (size_t i = 0; i < 3; i++) {
		struct ipc_sysv_sem_stat st = stat_of(ids[i]);

		assert_int_equal(st.nsems, i < 2 ? 3 : 2);
		assert_int_not_equal(st.otime, 0);
		assert_int_equal(ipc_sysv_sem_last_pid(ids[i], 0), getpid());
	}
}

struct opener {
	key_t key;
	struct mech_report *report;
};

/* Step 0: ipc_sysv_sem_open; steps 1 and 2: the values it then saw. */
static int child_opens_set(void *arg)
{
	struct opener *o = arg;
	unsigned short values[2] = {0xFFFF, 0xFFFF};
	int id = ipc_sysv_sem_open(o->key, 2, mech_seconds(20) * 1000);

	mech_note(o->report, 0, id);
	if (id >= 0 && ipc_sysv_sem_get_all(id, values) != 0)
		return 1;
	o->report->r[1] = values[0];
	o->report->r[2] = values[1];
	__atomic_store_n(&o->report->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* A key of the project's range that names no set now. */
static int make_uninitialised_set(key_t *key)
{
	for (unsigned i = 1; i < 4096; i++) {
		key_t k = (key_t)(IPC_SYSV_KEY_PREFIX | ((unsigned)getpid() * 7919u + i) % 0xFFFFFu);
		int id = semget(k, 2, IPC_CREAT | IPC_EXCL | 0600);

		if (id >= 0) {
			*key = k;
			return track(id);
		}
		if (errno != EEXIST)
			break;
	}
	fail_msg("cannot make a set by hand: %s", strerror(errno));
	return -1;
}

/*
 * The creation race: semget makes a set whose values are not set yet.
 * Here the test is the creator, stopped between semget and SETALL: an
 * opener with a short timeout gives up with ETIMEDOUT, and one started
 * before the values are set waits (it has not returned 300 ms later), then
 * returns once the creator's semop sets sem_otime, and sees the values,
 * never the zeros it would have read without waiting.
 */
static void sem_opener_waits_until_creator_initialised(void **state)
{
	struct fixture *f = *state;
	struct opener o = {IPC_PRIVATE, f->report};
	unsigned short values[2] = {4, 7};
	union ipc_semun arg = {.array = values};
	struct sembuf mark[2] = {{0, +1, 0}, {0, -1, 0}};
	pid_t pid;
	int id;

	id = make_uninitialised_set(&o.key);
	errno = 0;
	assert_int_equal(ipc_sysv_sem_open(o.key, 2, 50), -1);
	assert_errno(ETIMEDOUT);

	pid = mech_fork(child_opens_set, &o, 30);
	mech_nap_ms(300);
	if (__atomic_load_n(&f->report->done, __ATOMIC_ACQUIRE))
		fail_msg("the opener returned %ld before the set was initialised",
			 f->report->r[0]);
	assert_int_equal(semctl(id, 0, SETALL, arg), 0);
	mech_nap_ms(50);
	assert_false(__atomic_load_n(&f->report->done, __ATOMIC_ACQUIRE));
	assert_int_equal(semop(id, mark, 2), 0);
	mech_reap(pid, 30);
	assert_int_equal(f->report->r[0], id);
	assert_int_equal(f->report->r[1], 4);
	assert_int_equal(f->report->r[2], 7);
}

static int key_in_project_range(key_t key)
{
	return ((uint32_t)key & IPC_SYSV_KEY_MASK) == IPC_SYSV_KEY_PREFIX;
}

/*
 * A key that names a set is EEXIST, never opened by accident; open finds
 * it for as many semaphores as it has or fewer (EINVAL for more), and
 * after removal ENOENT. IPC_PRIVATE names no set: opening it is ENOENT,
 * where semget would have made one.
 */
static void sem_keys_are_exclusive_and_open_checks_nsems(void **state)
{
	key_t key = IPC_PRIVATE;
	int id, other;

	(void)state;
	id = track(ipc_sysv_sem_create_keyed(&key, 2, (const unsigned short[]){3, 4}));
	assert_true(key_in_project_range(key));
	errno = 0;
	other = ipc_sysv_sem_create(key, 2, NULL);
	if (other >= 0)
		track(other);
	assert_int_equal(other, -1);
	assert_errno(EEXIST);
	expect_values(id, (const unsigned short[]){3, 4}, 2);
	assert_int_equal(ipc_sysv_sem_open(key, 2, 0), id);
	assert_int_equal(ipc_sysv_sem_open(key, 0, 0), id);
	errno = 0;
	assert_int_equal(ipc_sysv_sem_open(key, 3, 0), -1);
	assert_errno(EINVAL);
	errno = 0;
	assert_int_equal(ipc_sysv_sem_open(IPC_PRIVATE, 1, 0), -1);
	assert_errno(ENOENT);
	remove_tracked(id);
	errno = 0;
	assert_int_equal(ipc_sysv_sem_open(key, 2, 0), -1);
	assert_errno(ENOENT);
}

/* Mode 0600 whatever the umask, owned by this user. */
static void sem_sets_are_0600(void **state)
{
	mode_t old = umask(0);
	int ids[2];
	key_t key;

	(void)state;
	ids[0] = ipc_sysv_sem_create(IPC_PRIVATE, 1, NULL);
	ids[1] = ipc_sysv_sem_create_keyed(&key, 1, NULL);
	umask(old);
	track(ids[0]);
	track(ids[1]);
	for (size_t i = 0; i < 2; i++) {
		struct ipc_sysv_sem_stat st = stat_of(ids[i]);

		assert_int_equal(st.mode, 0600);
		assert_int_equal(st.uid, geteuid());
	}
}

struct other_user {
	key_t key;
	int id;
	struct mech_report *report;
};

/* As another user: steps 0 semget(key, 0, 0), 1 ipc_sysv_sem_open, 2 a
 * semop, 3 GETVAL, 4 SETVAL, 5 IPC_RMID. */
static int child_as_other_user(void *arg)
{
	struct other_user *o = arg;
	struct sembuf take = {0, -1, IPC_NOWAIT};
	union ipc_semun arg0 = {.val = 0};

	if (mech_become_other_user() != 0) {
		o->report->skipped = 1;
		return 0;
	}
	mech_note(o->report, 0, semget(o->key, 0, 0));
	mech_note(o->report, 1, ipc_sysv_sem_open(o->key, 1, 0));
	mech_note(o->report, 2, semop(o->id, &take, 1));
	mech_note(o->report, 3, semctl(o->id, 0, GETVAL));
	mech_note(o->report, 4, semctl(o->id, 0, SETVAL, arg0));
	mech_note(o->report, 5, semctl(o->id, 0, IPC_RMID));
	return 0;
}

/*
 * 0600 holds against another user: semop and GETVAL, SETVAL are EACCES,
 * IPC_RMID EPERM, and the value is untouched. semget(key, 0, 0) asks for
 * no permission and finds the set; ipc_sysv_sem_open asks for read and
 * write, and is EACCES.
 */
static void sem_other_user_is_refused_by_0600(void **state)
{
	struct fixture *f = *state;
	struct other_user o = {IPC_PRIVATE, -1, f->report};

	o.id = track(ipc_sysv_sem_create_keyed(&o.key, 1, (const unsigned short[]){2}));
	mech_reap(mech_fork(child_as_other_user, &o, 30), 30);
	if (f->report->skipped)
		skip(); /* not root: no other user to become */
	assert_int_equal(f->report->r[0], o.id);
	mech_assert_step_failed(f->report, 1, EACCES);
	mech_assert_step_failed(f->report, 2, EACCES);
	mech_assert_step_failed(f->report, 3, EACCES);
	mech_assert_step_failed(f->report, 4, EACCES);
	mech_assert_step_failed(f->report, 5, EPERM);
	assert_int_equal(ipc_sysv_sem_get(o.id, 0), 2);
}

/* ---- limits -------------------------------------------------------------- */

static void sem_limits_agree_with_proc(void **state)
{
	struct ipc_sysv_sem_limits lim;
	unsigned long v[4];
	FILE *p = fopen("/proc/sys/kernel/sem", "r");
	int n;

	(void)state;
	assert_non_null(p);
	n = fscanf(p, "%lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]);
	fclose(p);
	assert_int_equal(n, 4);
	assert_int_equal(ipc_sysv_sem_limits(&lim), 0);
	assert_int_equal(lim.semmsl, v[0]);
	assert_int_equal(lim.semmns, v[1]);
	assert_int_equal(lim.semopm, v[2]);
	assert_int_equal(lim.semmni, v[3]);
}

/* Refused with EINVAL before semget is called (the seam's log has none). */
static void expect_refused_before_semget(int nsems, const unsigned short *values)
{
	int id;

	ipc_fault_plan_clear();
	errno = 0;
	id = ipc_sysv_sem_create(IPC_PRIVATE, nsems, values);
	if (id >= 0)
		track(id);
	if (id != -1 || errno != EINVAL)
		fail_msg("%d semaphores: %d (errno %s), wanted EINVAL", nsems, id,
			 mech_errno_name(errno));
	if (mech_seam_logged("semget"))
		fail_msg("%d semaphores: semget was called", nsems);
}

/*
 * nsems 0, negative or above semmsl, and a value above SEMVMX, are EINVAL
 * before any set exists (a value would otherwise fail only at SETALL,
 * after semget). Exactly semmsl semaphores, each at SEMVMX, are made.
 */
static void sem_create_checks_nsems_and_values_first(void **state)
{
	struct ipc_sysv_sem_limits lim;
	unsigned short *values;
	int id;

	(void)state;
	assert_int_equal(ipc_sysv_sem_limits(&lim), 0);
	assert_true(lim.semmsl < INT_MAX);
	values = malloc(lim.semmsl * sizeof *values);
	assert_non_null(values);
	for (size_t i = 0; i < lim.semmsl; i++)
		values[i] = SEMVMX;
	expect_refused_before_semget((int)lim.semmsl + 1, NULL);
	expect_refused_before_semget(0, NULL);
	expect_refused_before_semget(-1, NULL);
	values[1] = SEMVMX + 1;
	expect_refused_before_semget(2, values);
	values[1] = SEMVMX;
	id = track(ipc_sysv_sem_create(IPC_PRIVATE, (int)lim.semmsl, values));
	assert_int_equal(stat_of(id).nsems, lim.semmsl);
	assert_int_equal(ipc_sysv_sem_get(id, (int)lim.semmsl - 1), SEMVMX);
	free(values);
}

/*
 * More than semopm operations in one call: E2BIG. With timeout 0 it is
 * said before semtimedop is called (no flags are saved for so many); for
 * a wait the kernel says it.
 */
static void sem_more_ops_than_semopm_is_e2big(void **state)
{
	struct ipc_sysv_sem_limits lim;
	struct sembuf *ops;
	int id;

	(void)state;
	assert_int_equal(ipc_sysv_sem_limits(&lim), 0);
	id = track(ipc_sysv_sem_create(IPC_PRIVATE, 1, (const unsigned short[]){1}));
	ops = calloc(lim.semopm + 1, sizeof *ops);
	assert_non_null(ops);
	ipc_fault_plan_clear();
	errno = 0;
	expect_result(ipc_sysv_sem_op(id, ops, lim.semopm + 1, 0), IPC_SEM_FAILED);
	assert_errno(E2BIG);
	assert_false(mech_seam_logged("semtimedop"));
	errno = 0;
	expect_result(ipc_sysv_sem_op(id, ops, lim.semopm + 1, -1), IPC_SEM_FAILED);
	assert_errno(E2BIG);
	/* semopm operations (waits for zero on a semaphore at 0) go through. */
	assert_int_equal(ipc_sysv_sem_set(id, 0, 0), 0);
	expect_result(ipc_sysv_sem_op(id, ops, lim.semopm, 0), IPC_SEM_DONE);
	free(ops);
}

/* ---- registry ------------------------------------------------------------ */

/* With IPCH_REGISTRY set, a set is noted as "sysv-sem@<id>" and a named
 * semaphore as "posix-sem@<name, / as %>", each holding "<pid> <uid>
 * <id>", until removed or unlinked. */
static void sem_registry_notes_sets_and_names(void **state)
{
	char path[PATH_MAX], want[PATH_MAX], escaped[NAME_MAX + 1];
	const char *name;
	sem_t *s;
	int id;

	(void)state;
	setenv("IPCH_REGISTRY", mech_tmpdir(), 1);
	id = track(ipc_sysv_sem_create(IPC_PRIVATE, 1, NULL));
	snprintf(path, sizeof path, "%s/sysv-sem@%d", mech_tmpdir(), id);
	snprintf(want, sizeof want, "%ld %ld %d\n", (long)getpid(), (long)geteuid(), id);
	mech_assert_file_holds(path, want);
	remove_tracked(id);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);

	name = fresh_name();
	s = ipc_posix_sem_create(name, 0);
	assert_non_null(s);
	snprintf(escaped, sizeof escaped, "%%%s", name + 1);
	snprintf(path, sizeof path, "%s/posix-sem@%s", mech_tmpdir(), escaped);
	snprintf(want, sizeof want, "%ld %ld %s\n", (long)getpid(), (long)geteuid(), name);
	mech_assert_file_holds(path, want);
	assert_int_equal(ipc_posix_sem_close(s), 0);
	unlink_tracked(name);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	mech_registry_restore();
}

/* ---- POSIX, named -------------------------------------------------------- */

/* O_EXCL: a taken name is EEXIST; opening it gives the same semaphore. */
static void posix_named_taken_name_is_eexist(void **state)
{
	char name[NAME_MAX + 1];
	sem_t *s, *again, *other;

	(void)state;
	snprintf(name, sizeof name, "%s", fresh_name()); /* unlinking clears it */
	s = ipc_posix_sem_create(name, 2);
	assert_non_null(s);
	errno = 0;
	other = ipc_posix_sem_create(name, 5);
	if (other != NULL)
		ipc_posix_sem_close(other);
	assert_null(other);
	assert_errno(EEXIST);
	again = ipc_posix_sem_open(name);
	assert_non_null(again);
	assert_int_equal(ipc_posix_sem_value(again), 2);
	assert_int_equal(ipc_posix_sem_post(again), 0);
	assert_int_equal(ipc_posix_sem_value(s), 3);
	assert_int_equal(ipc_posix_sem_close(again), 0);
	assert_int_equal(ipc_posix_sem_close(s), 0);
	unlink_tracked(name);
	errno = 0;
	assert_null(ipc_posix_sem_open(name));
	assert_errno(ENOENT);
}

/*
 * The semaphore is the file /dev/shm/sem.<name without "/">, 0600 whatever
 * the umask and ours, from sem_open to sem_unlink; after the unlink the
 * name is free, and the semaphore still works for whoever has it open.
 */
static void posix_named_is_0600_file_until_unlinked(void **state)
{
	const char *name = fresh_name();
	char path[PATH_MAX];
	struct stat st;
	mode_t old;
	sem_t *s;

	(void)state;
	snprintf(path, sizeof path, "/dev/shm/sem.%s", name + 1);
	old = umask(0);
	s = ipc_posix_sem_create(name, 1);
	umask(old);
	assert_non_null(s);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	unlink_tracked(name);
	errno = 0;
	assert_int_equal(stat(path, &st), -1);
	assert_errno(ENOENT);
	expect_result(ipc_posix_sem_wait(s, 0), IPC_SEM_DONE);
	expect_result(ipc_posix_sem_wait(s, 0), IPC_SEM_WOULD_BLOCK);
	assert_int_equal(ipc_posix_sem_close(s), 0);
}

/* Names: one component after "/", short enough for "sem." in front. */
static void posix_named_checks_names(void **state)
{
	char tall[NAME_MAX + 2];

	(void)state;
	errno = 0;
	assert_null(ipc_posix_sem_create("ipch.noslash", 0));
	assert_errno(EINVAL);
	errno = 0;
	assert_null(ipc_posix_sem_create("/ipch.a/b", 0));
	assert_errno(EINVAL);
	errno = 0;
	assert_null(ipc_posix_sem_open("/"));
	assert_errno(EINVAL);
	memset(tall, 'a', sizeof tall - 1);
	tall[0] = '/';
	tall[NAME_MAX - 3] = '\0'; /* 251 bytes after "/": 255 with "sem." */
	errno = 0;
	assert_null(ipc_posix_sem_open(tall));
	assert_errno(ENOENT);
	tall[NAME_MAX - 3] = 'a';
	tall[NAME_MAX - 2] = '\0';
	errno = 0;
	assert_null(ipc_posix_sem_create(tall, 0));
	assert_errno(ENAMETOOLONG);
	assert_int_equal(own_sem_files(), 0);
}

struct named_user {
	const char *name;
	sem_t *inherited;
	const char *answer; /* a second name, for the way back */
	struct mech_report *report;
};

/* Opens the semaphore by name and posts it twice, posts it once more
 * through the handle inherited across fork, then waits for the parent's
 * answer on the second name. */
static int child_posts_by_name(void *arg)
{
	struct named_user *u = arg;
	sem_t *s = ipc_posix_sem_open(u->name);
	sem_t *answer;
	enum ipc_sem_result r;

	if (s == NULL)
		return 1;
	if (ipc_posix_sem_post(s) != 0 || ipc_posix_sem_post(s) != 0)
		return 2;
	if (ipc_posix_sem_close(s) != 0)
		return 3;
	if (ipc_posix_sem_post(u->inherited) != 0)
		return 4;
	if ((answer = ipc_posix_sem_open(u->answer)) == NULL)
		return 5;
	r = ipc_posix_sem_wait(answer, mech_seconds(10) * 1000);
	ipc_posix_sem_close(answer);
	return r == IPC_SEM_DONE ? 0 : 6;
}

/* A named semaphore across fork, by name and by the inherited handle, in
 * both directions. */
static void posix_named_works_across_fork(void **state)
{
	struct fixture *f = *state;
	struct named_user u = {fresh_name(), NULL, fresh_name(), f->report};
	sem_t *answer;
	pid_t pid;

	u.inherited = ipc_posix_sem_create(u.name, 0);
	assert_non_null(u.inherited);
	answer = ipc_posix_sem_create(u.answer, 0);
	assert_non_null(answer);
	pid = mech_fork(child_posts_by_name, &u, 30);
	for (int i = 0; i < 3; i++)
		expect_result(ipc_posix_sem_wait(u.inherited, mech_seconds(10) * 1000),
			      IPC_SEM_DONE);
	assert_int_equal(ipc_posix_sem_value(u.inherited), 0);
	assert_int_equal(ipc_posix_sem_post(answer), 0);
	mech_reap(pid, 30);
	assert_int_equal(ipc_posix_sem_value(answer), 0);
	assert_int_equal(ipc_posix_sem_close(answer), 0);
	assert_int_equal(ipc_posix_sem_close(u.inherited), 0);
	unlink_tracked(u.answer);
	unlink_tracked(u.name);
}

/* As another user, step 0: opening the name. */
static int child_opens_name_as_other_user(void *arg)
{
	struct named_user *u = arg;
	sem_t *s;

	if (mech_become_other_user() != 0) {
		u->report->skipped = 1;
		return 0;
	}
	s = ipc_posix_sem_open(u->name);
	mech_note(u->report, 0, s == NULL ? -1 : 0);
	if (s != NULL)
		ipc_posix_sem_close(s);
	return 0;
}

/* 0600 holds against another user: sem_open is EACCES. */
static void posix_named_other_user_is_refused(void **state)
{
	struct fixture *f = *state;
	struct named_user u = {fresh_name(), NULL, NULL, f->report};

	u.inherited = ipc_posix_sem_create(u.name, 1);
	assert_non_null(u.inherited);
	mech_reap(mech_fork(child_opens_name_as_other_user, &u, 30), 30);
	assert_int_equal(ipc_posix_sem_close(u.inherited), 0);
	unlink_tracked(u.name);
	if (f->report->skipped)
		skip();
	mech_assert_step_failed(f->report, 0, EACCES);
}

/* ---- POSIX, unnamed in shared memory -------------------------------------- */

struct shared_sems {
	sem_t ping, pong;
};

/* Waits for each ping and answers it with a pong. */
static int child_answers(void *arg)
{
	struct shared_sems *s = arg;

	for (int i = 0; i < 100; i++) {
		if (ipc_posix_sem_wait(&s->ping, mech_seconds(10) * 1000) != IPC_SEM_DONE)
			return 1;
		if (ipc_posix_sem_post(&s->pong) != 0)
			return 2;
	}
	return 0;
}

/*
 * Unnamed semaphores made with pshared 1 in a MAP_SHARED mapping work
 * between the processes that share it: a hundred pings and pongs, each
 * side sleeping for the other. No file is made for them.
 */
static void posix_unnamed_in_shared_mapping_across_fork(void **state)
{
	struct shared_sems *s;
	pid_t pid;

	(void)state;
	s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	assert_true(s != MAP_FAILED);
	assert_int_equal(ipc_posix_sem_init_shared(&s->ping, 0), 0);
	assert_int_equal(ipc_posix_sem_init_shared(&s->pong, 0), 0);
	pid = mech_fork(child_answers, s, 60);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(ipc_posix_sem_post(&s->ping), 0);
		expect_result(ipc_posix_sem_wait(&s->pong, mech_seconds(10) * 1000),
			      IPC_SEM_DONE);
	}
	mech_reap(pid, 30);
	assert_int_equal(ipc_posix_sem_value(&s->ping), 0);
	assert_int_equal(ipc_posix_sem_value(&s->pong), 0);
	assert_int_equal(own_sem_files(), 0);
	assert_int_equal(ipc_posix_sem_destroy(&s->ping), 0);
	assert_int_equal(ipc_posix_sem_destroy(&s->pong), 0);
	munmap(s, sizeof *s);
}

/* sem_timedwait's deadline: ETIMEDOUT no sooner than the timeout; trywait
 * at once with EAGAIN; neither takes anything. */
static void posix_timedwait_times_out(void **state)
{
	struct shared_sems *s;
	long long start, took;

	(void)state;
	s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	assert_true(s != MAP_FAILED);
	assert_int_equal(ipc_posix_sem_init_shared(&s->ping, 0), 0);
	start = mech_now_ms();
	errno = 0;
	expect_result(ipc_posix_sem_wait(&s->ping, 200), IPC_SEM_TIMED_OUT);
	took = mech_now_ms() - start;
	assert_errno(ETIMEDOUT);
	if (took < 200 || took > (long long)mech_seconds(5) * 1000)
		fail_msg("timed out after %lld ms, wanted 200 ms", took);
	errno = 0;
	expect_result(ipc_posix_sem_wait(&s->ping, 0), IPC_SEM_WOULD_BLOCK);
	assert_errno(EAGAIN);
	assert_int_equal(ipc_posix_sem_value(&s->ping), 0);
	assert_int_equal(ipc_posix_sem_destroy(&s->ping), 0);
	munmap(s, sizeof *s);
}

#define SEM_TEST(fn) cmocka_unit_test_setup_teardown(fn, sem_setup, sem_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SEM_TEST(sem_op_takes_all_or_none_of_two),
		SEM_TEST(sem_nowait_would_block_changes_nothing),
		SEM_TEST(sem_timedop_times_out),
		SEM_TEST(sem_wait_for_zero_goes_on_at_zero),
		SEM_TEST(sem_remove_wakes_sleeper_with_eidrm),
		SEM_TEST(sem_signal_without_sa_restart_is_eintr),
		SEM_TEST(sem_signal_with_sa_restart_is_eintr_too),
		SEM_TEST(sem_undo_gives_back_what_a_killed_child_took),
		SEM_TEST(sem_create_sets_values_and_otime),
		SEM_TEST(sem_opener_waits_until_creator_initialised),
		SEM_TEST(sem_keys_are_exclusive_and_open_checks_nsems),
		SEM_TEST(sem_sets_are_0600),
		SEM_TEST(sem_other_user_is_refused_by_0600),
		SEM_TEST(sem_limits_agree_with_proc),
		SEM_TEST(sem_create_checks_nsems_and_values_first),
		SEM_TEST(sem_more_ops_than_semopm_is_e2big),
		SEM_TEST(sem_registry_notes_sets_and_names),
		SEM_TEST(posix_named_taken_name_is_eexist),
		SEM_TEST(posix_named_is_0600_file_until_unlinked),
		SEM_TEST(posix_named_checks_names),
		SEM_TEST(posix_named_works_across_fork),
		SEM_TEST(posix_named_other_user_is_refused),
		SEM_TEST(posix_unnamed_in_shared_mapping_across_fork),
		SEM_TEST(posix_timedwait_times_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
