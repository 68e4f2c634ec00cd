/* Locks between processes: see include/ipc/lock.h. */
#include "ipc/lock.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "channel_impl.h"
#include "ipc/sem.h"
#include "sys.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPC_TSAN 1
#endif
#endif
#if !defined(IPC_TSAN) && defined(__SANITIZE_THREAD__)
#define IPC_TSAN 1
#endif

#ifdef IPC_TSAN
extern void __tsan_mutex_pre_lock(void *addr, unsigned flags);
extern void __tsan_mutex_post_lock(void *addr, unsigned flags, int recursion);

/* ThreadSanitizer's pthread_mutex_timedlock records the lock only when it
 * returns 0, yet EOWNERDEAD leaves the mutex held too: unannotated, the
 * repairer's unlock is reported as the unlock of an unlocked mutex. Told
 * as a try-lock (flag 1 << 4) that succeeded. */
static int seen_taken(pthread_mutex_t *m, int r)
{
	if (r == EOWNERDEAD) {
		__tsan_mutex_pre_lock(m, 1u << 4);
		__tsan_mutex_post_lock(m, 1u << 4, 0);
	}
	return r;
}
#else
static int seen_taken(pthread_mutex_t *m, int r)
{
	(void)m;
	return r;
}
#endif

/* ---- the robust mutex and condition variable ----------------------------- */

int ipc_robust_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;
	int r = pthread_mutexattr_init(&attr);

	if (r != 0)
		return r;
	if ((r = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) == 0 &&
	    (r = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) == 0 &&
	    (r = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK)) == 0)
		r = pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return r;
}

/*
 * pthread_mutex_timedlock takes a CLOCK_REALTIME deadline, which a clock
 * set back or forward moves: ETIMEDOUT is believed only once the monotonic
 * deadline has passed. (pthread_mutex_clocklock would take a monotonic one,
 * but ThreadSanitizer does not intercept it here, and a lock it does not
 * see taken makes its unlock a false report.)
 *
 * Timeout 0 is a timedlock whose deadline has passed, not a trylock:
 * glibc's trylock, finding the mutex ENOTRECOVERABLE, returns so with the
 * lock word still taken, and every later locker then waits for ever
 * instead of hearing ENOTRECOVERABLE. A timedlock gives the word back.
 */
int ipc_robust_mutex_lock(pthread_mutex_t *m, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	if (timeout_ms < 0)
		return pthread_mutex_lock(m);
	for (;;) {
		struct timespec at = ipc_deadline_on(CLOCK_REALTIME, &d);
		int r = seen_taken(m, pthread_mutex_timedlock(m, &at));

		if (r != ETIMEDOUT || ipc_deadline_ms(&d) == 0)
			return r;
	}
}

int ipc_robust_mutex_consistent(pthread_mutex_t *m)
{
	return pthread_mutex_consistent(m);
}

int ipc_robust_mutex_unlock(pthread_mutex_t *m) { return pthread_mutex_unlock(m); }

int ipc_robust_mutex_destroy(pthread_mutex_t *m) { return pthread_mutex_destroy(m); }

int ipc_shared_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t attr;
	int r = pthread_condattr_init(&attr);

	if (r != 0)
		return r;
	if ((r = pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) == 0 &&
	    (r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) == 0)
		r = pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
	return r;
}

/* The condition's clock is CLOCK_MONOTONIC, so one deadline serves. */
int ipc_shared_cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct timespec at;

	if (timeout_ms < 0)
		return pthread_cond_wait(c, m);
	at = ipc_deadline_on(CLOCK_MONOTONIC, &d);
	return pthread_cond_timedwait(c, m, &at);
}

int ipc_shared_cond_broadcast(pthread_cond_t *c) { return pthread_cond_broadcast(c); }

int ipc_shared_cond_destroy(pthread_cond_t *c) { return pthread_cond_destroy(c); }

/* ---- one lock, three kinds ----------------------------------------------- */

static const char *const kind_names[] = {
	[IPC_LOCK_SYSV_SEM] = "sysv-sem",
	[IPC_LOCK_POSIX_SEM] = "posix-sem",
	[IPC_LOCK_ROBUST_MUTEX] = "robust-mutex",
};

#define KINDS (sizeof kind_names / sizeof kind_names[0])

const char *ipc_lock_kind_name(enum ipc_lock_kind kind)
{
	if ((unsigned)kind >= KINDS || kind_names[kind] == NULL)
		return "unknown lock kind";
	return kind_names[kind];
}

enum ipc_lock_kind ipc_lock_kind_find(const char *name)
{
	for (size_t i = 1; i < KINDS; i++)
		if (strcmp(kind_names[i], name) == 0)
			return (enum ipc_lock_kind)i;
	return 0;
}

static const char *const result_names[] = {
	[IPC_LOCK_TAKEN] = "taken",
	[IPC_LOCK_OWNER_DIED] = "owner died",
	[IPC_LOCK_TIMED_OUT] = "timed out",
	[IPC_LOCK_INTERRUPTED] = "interrupted",
	[IPC_LOCK_REMOVED] = "removed",
	[IPC_LOCK_FAILED] = "failed",
};

const char *ipc_lock_result_name(enum ipc_lock_result r)
{
	if ((unsigned)r >= sizeof result_names / sizeof result_names[0])
		return "unknown result";
	return result_names[r];
}

/* A pthread result as the lock's, with errno for the rest. */
static int pthread_result(int r)
{
	if (r == 0)
		return 0;
	errno = r;
	return -1;
}

int ipc_lock_init(struct ipc_lock *l, enum ipc_lock_kind kind)
{
	static const unsigned short one = 1;

	memset(l, 0, sizeof *l);
	l->kind = kind;
	l->semid = -1;
	switch (kind) {
	case IPC_LOCK_SYSV_SEM:
		l->semid = ipc_sysv_sem_create(IPC_PRIVATE, 1, &one);
		return l->semid < 0 ? -1 : 0;
	case IPC_LOCK_POSIX_SEM:
		return ipc_posix_sem_init_shared(&l->u.sem, 1);
	case IPC_LOCK_ROBUST_MUTEX:
		return pthread_result(ipc_robust_mutex_init(&l->u.mutex));
	}
	errno = EINVAL;
	return -1;
}

int ipc_lock_destroy(struct ipc_lock *l)
{
	switch (l->kind) {
	case IPC_LOCK_SYSV_SEM:
		if (ipc_sysv_sem_remove(l->semid) != 0)
			return -1;
		l->semid = -1;
		return 0;
	case IPC_LOCK_POSIX_SEM:
		return ipc_posix_sem_destroy(&l->u.sem);
	case IPC_LOCK_ROBUST_MUTEX:
		return pthread_result(ipc_robust_mutex_destroy(&l->u.mutex));
	}
	errno = EINVAL;
	return -1;
}

static enum ipc_lock_result lock_result_of(enum ipc_sem_result r)
{
	switch (r) {
	case IPC_SEM_DONE:
		return IPC_LOCK_TAKEN;
	case IPC_SEM_WOULD_BLOCK: /* timeout 0 */
	case IPC_SEM_TIMED_OUT:
		return IPC_LOCK_TIMED_OUT;
	case IPC_SEM_INTERRUPTED:
		return IPC_LOCK_INTERRUPTED;
	case IPC_SEM_REMOVED:
		return IPC_LOCK_REMOVED;
	case IPC_SEM_FAILED:
		break;
	}
	return IPC_LOCK_FAILED;
}

/*
 * The token is taken with SEM_UNDO, so the kernel gives it back when a
 * holder dies. A holder records its pid right after taking and clears it
 * right before giving back: a taker that finds a pid there got the token
 * from the kernel's undo, not from a release, and its predecessor died
 * inside. The dead pid stays until ipc_lock_consistent: a taker killed
 * before repairing leaves it for the next one too. (A holder killed
 * between the semop and the record had changed nothing yet; one killed
 * between clearing and the semop had finished.)
 */
static enum ipc_lock_result sysv_acquire(struct ipc_lock *l, int timeout_ms)
{
	struct sembuf take = {0, -1, SEM_UNDO};
	enum ipc_lock_result r = lock_result_of(ipc_sysv_sem_op(l->semid, &take, 1,
								  timeout_ms));

	if (r != IPC_LOCK_TAKEN)
		return r;
	if (__atomic_load_n(&l->holder, __ATOMIC_RELAXED) != 0)
		return IPC_LOCK_OWNER_DIED;
	__atomic_store_n(&l->holder, sys_getpid(), __ATOMIC_RELAXED);
	return IPC_LOCK_TAKEN;
}

/* Given back with SEM_UNDO too, so that this process's adjustment nets to
 * zero. An increment never waits; should it fail, the lock is still held,
 * and says so. */
static int sysv_release(struct ipc_lock *l)
{
	struct sembuf give = {0, +1, SEM_UNDO};
	pid_t holder = __atomic_load_n(&l->holder, __ATOMIC_RELAXED);

	enum ipc_sem_result r;

	__atomic_store_n(&l->holder, 0, __ATOMIC_RELAXED);
	/* A give never waits; a signal before it changed nothing: again. */
	do
		r = ipc_sysv_sem_op(l->semid, &give, 1, -1);
	while (r == IPC_SEM_INTERRUPTED);
	if (r == IPC_SEM_DONE)
		return 0;
	__atomic_store_n(&l->holder, holder, __ATOMIC_RELAXED);
	return -1;
}

static enum ipc_lock_result mutex_acquire(struct ipc_lock *l, int timeout_ms)
{
	int r = ipc_robust_mutex_lock(&l->u.mutex, timeout_ms);

	switch (r) {
	case 0:
		return IPC_LOCK_TAKEN;
	case EOWNERDEAD:
		return IPC_LOCK_OWNER_DIED;
	case ETIMEDOUT:
		return IPC_LOCK_TIMED_OUT;
	default:
		errno = r; /* ENOTRECOVERABLE among others */
		return IPC_LOCK_FAILED;
	}
}

enum ipc_lock_result ipc_lock_acquire(struct ipc_lock *l, int timeout_ms)
{
	switch (l->kind) {
	case IPC_LOCK_SYSV_SEM:
		return sysv_acquire(l, timeout_ms);
	case IPC_LOCK_POSIX_SEM:
		return lock_result_of(ipc_posix_sem_wait(&l->u.sem, timeout_ms));
	case IPC_LOCK_ROBUST_MUTEX:
		return mutex_acquire(l, timeout_ms);
	}
	errno = EINVAL;
	return IPC_LOCK_FAILED;
}

/* EINVAL when there is nothing to make consistent: a System V lock whose
 * record is clear or already this process's, and every POSIX semaphore,
 * which never reports a death. */
int ipc_lock_consistent(struct ipc_lock *l)
{
	pid_t self = sys_getpid();
	pid_t dead;

	switch (l->kind) {
	case IPC_LOCK_SYSV_SEM:
		dead = __atomic_load_n(&l->holder, __ATOMIC_RELAXED);
		if (dead == 0 || dead == self)
			break;
		__atomic_store_n(&l->holder, self, __ATOMIC_RELAXED);
		return 0;
	case IPC_LOCK_ROBUST_MUTEX:
		return pthread_result(ipc_robust_mutex_consistent(&l->u.mutex));
	case IPC_LOCK_POSIX_SEM:
		break;
	}
	errno = EINVAL;
	return -1;
}

int ipc_lock_release(struct ipc_lock *l)
{
	switch (l->kind) {
	case IPC_LOCK_SYSV_SEM:
		return sysv_release(l);
	case IPC_LOCK_POSIX_SEM:
		return ipc_posix_sem_post(&l->u.sem);
	case IPC_LOCK_ROBUST_MUTEX:
		return pthread_result(ipc_robust_mutex_unlock(&l->u.mutex));
	}
	errno = EINVAL;
	return -1;
}
