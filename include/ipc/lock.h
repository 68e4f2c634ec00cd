/*
 * Locks between processes, in shared memory: the process-shared robust
 * mutex and condition variable, and one lock interface over the three
 * kinds the project shows (a System V semaphore, an unnamed POSIX
 * semaphore, a robust mutex), used by the shm-mpmc channel and the stress
 * scenarios.
 *
 * What a kill -9 of the holder does, by kind:
 *  - robust mutex: the next locker gets EOWNERDEAD. The state the mutex
 *    guards may be half changed: the new holder repairs it (the recovery
 *    step, which only the guarded data's owner can write), then calls
 *    pthread_mutex_consistent. If it unlocks without doing so, the mutex
 *    is unusable for ever (ENOTRECOVERABLE).
 *  - System V semaphore, taken with SEM_UNDO: the kernel gives the token
 *    back when the holder dies. That alone would hide the death, so the
 *    lock records its holder's pid in shared memory while held; the next
 *    holder finding it set knows its predecessor died inside, and repairs
 *    the same way (ipc_lock_consistent then clears the record).
 *  - unnamed POSIX semaphore: nothing gives the token back. The lock stays
 *    taken and its waiters wait for ever; no POSIX call can tell. This is
 *    the mechanism's nature, documented in docs/shm.md, and why the stress
 *    harness does not kill a holder of this kind.
 */
#ifndef IPC_LOCK_H
#define IPC_LOCK_H

#include <pthread.h>
#include <semaphore.h>
#include <sys/types.h>

/* ---- the robust mutex and condition variable ----------------------------- */

/* In shared memory, before any other process sees it: PTHREAD_PROCESS_SHARED
 * and PTHREAD_MUTEX_ROBUST (an error-checking mutex, so a non-owner's
 * unlock is EPERM). Returns 0 or an errno value, as pthread does. */
int ipc_robust_mutex_init(pthread_mutex_t *m);
/* 0 (taken), EOWNERDEAD (taken; the last holder died: repair, then
 * ipc_robust_mutex_consistent), ETIMEDOUT (timeout_ms passed; -1 waits for
 * ever), ENOTRECOVERABLE (a holder unlocked without repairing), or another
 * errno value. */
int ipc_robust_mutex_lock(pthread_mutex_t *m, int timeout_ms);
int ipc_robust_mutex_consistent(pthread_mutex_t *m);
int ipc_robust_mutex_unlock(pthread_mutex_t *m);
int ipc_robust_mutex_destroy(pthread_mutex_t *m);

/* A process-shared condition variable on CLOCK_MONOTONIC. */
int ipc_shared_cond_init(pthread_cond_t *c);
/* 0, ETIMEDOUT, or EOWNERDEAD (the mutex came back from a dead holder:
 * the caller holds it and must repair as above). */
int ipc_shared_cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int timeout_ms);
int ipc_shared_cond_broadcast(pthread_cond_t *c);
int ipc_shared_cond_destroy(pthread_cond_t *c);

/* ---- one lock, three kinds ----------------------------------------------- */

enum ipc_lock_kind {
	IPC_LOCK_SYSV_SEM = 1,
	IPC_LOCK_POSIX_SEM,
	IPC_LOCK_ROBUST_MUTEX,
};
/* "sysv-sem", "posix-sem", "robust-mutex"; lookup by name: 0 if none. */
const char *ipc_lock_kind_name(enum ipc_lock_kind kind);
enum ipc_lock_kind ipc_lock_kind_find(const char *name);

/* Lives in shared memory; every field is the lock's own. */
struct ipc_lock {
	enum ipc_lock_kind kind;
	int semid;              /* System V: a set of one, made by init */
	pid_t holder;           /* System V: the holder while held, else 0 */
	union {
		sem_t sem;
		pthread_mutex_t mutex;
	} u;
};

enum ipc_lock_result {
	IPC_LOCK_TAKEN = 0,
	IPC_LOCK_OWNER_DIED,  /* taken; repair, then ipc_lock_consistent */
	IPC_LOCK_TIMED_OUT,
	IPC_LOCK_INTERRUPTED, /* a signal handler ran (semaphores only) */
	IPC_LOCK_REMOVED,     /* the System V set was removed */
	IPC_LOCK_FAILED,      /* see errno */
};
const char *ipc_lock_result_name(enum ipc_lock_result r);

/* Makes the lock free, in shared memory, before it is shared; a System V
 * lock creates its set (IPC_PRIVATE, 0600, registered), so it must be
 * destroyed once by its last user. 0 or -1 with errno. */
int ipc_lock_init(struct ipc_lock *l, enum ipc_lock_kind kind);
int ipc_lock_destroy(struct ipc_lock *l);
enum ipc_lock_result ipc_lock_acquire(struct ipc_lock *l, int timeout_ms);
/* After IPC_LOCK_OWNER_DIED and the repair. */
int ipc_lock_consistent(struct ipc_lock *l);
int ipc_lock_release(struct ipc_lock *l);

#endif
