/*
 * Semaphores, one small function per job: System V sets and POSIX
 * semaphores, named and unnamed (process-shared, in shared memory).
 *
 * Creation and lookup return -1 (or NULL) with the kernel's errno, as in the
 * queue headers. Waiting operations return an ipc_sem_result, so that the
 * outcomes a caller must handle (a signal, a removed set, a deadline) are
 * values to switch on, not errnos to remember; the errno stays set for the
 * rest.
 *
 * System V sets are created 0600 with IPC_EXCL and noted in the object
 * registry (docs/cleanup.md) until removed. Their creation race (semget
 * makes a set whose values are not yet set) is closed the classic way: the
 * creator sets every value, then makes one semop, which sets sem_otime; an
 * opener waits until sem_otime is not 0 before it trusts the values.
 *
 * Named POSIX semaphores are created O_CREAT|O_EXCL 0600 under a fresh name
 * "/ipch.<pid>.<hex>" (the file /dev/shm/sem.ipch.<pid>.<hex>), noted in the
 * registry until unlinked.
 *
 * Under ThreadSanitizer, which has no semop interceptor, a System V lock
 * taken is annotated as an acquire and a release as a release on the set,
 * so that data guarded by it is not reported as a race.
 */
#ifndef IPC_SEM_H
#define IPC_SEM_H

#include <semaphore.h>
#include <stddef.h>
#include <sys/sem.h>
#include <sys/types.h>

/* semctl(2)'s fourth argument: the caller must define it (glibc does not). */
union ipc_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *info;
};

enum ipc_sem_result {
	IPC_SEM_DONE = 0,       /* the operation took place */
	IPC_SEM_WOULD_BLOCK,    /* IPC_NOWAIT or trywait: it would have waited */
	IPC_SEM_TIMED_OUT,      /* the deadline passed first */
	IPC_SEM_INTERRUPTED,    /* a signal handler ran (EINTR); not retried */
	IPC_SEM_REMOVED,        /* the set was removed (EIDRM) */
	IPC_SEM_FAILED,         /* any other error: see errno */
};
const char *ipc_sem_result_name(enum ipc_sem_result r);

/* ---- System V sets ------------------------------------------------------- */

/* From /proc/sys/kernel/sem: "semmsl semmns semopm semmni". */
struct ipc_sysv_sem_limits {
	size_t semmsl; /* semaphores per set */
	size_t semmns; /* semaphores in the system */
	size_t semopm; /* operations per semop call */
	size_t semmni; /* sets in the system */
};
int ipc_sysv_sem_limits(struct ipc_sysv_sem_limits *out);

/* A new set of nsems semaphores with the given values (NULL: all 0); key
 * IPC_PRIVATE or a key (EEXIST if taken); EINVAL if nsems is 0 or above
 * semmsl, or a value above SEMVMX. When it returns, the values are set and
 * sem_otime is not 0. Returns the set id. */
int ipc_sysv_sem_create(key_t key, int nsems, const unsigned short *values);
/* The same under a fresh key of the project's range, put in *key. */
int ipc_sysv_sem_create_keyed(key_t *key, int nsems,
			      const unsigned short *values);
/* An existing set by key, once its creator has initialised it: waits up to
 * timeout_ms for sem_otime != 0 (ETIMEDOUT if it stays 0; ENOENT if no such
 * set; EACCES if not ours to use; EINVAL if it has fewer than nsems). */
int ipc_sysv_sem_open(key_t key, int nsems, int timeout_ms);
/* IPC_RMID: every waiter wakes with EIDRM. */
int ipc_sysv_sem_remove(int id);

/* semtimedop: the operations, all or none, atomically. timeout_ms -1 waits
 * for ever, 0 is IPC_NOWAIT on every operation. Flags in ops (SEM_UNDO,
 * IPC_NOWAIT) are the caller's. */
enum ipc_sem_result ipc_sysv_sem_op(int id, struct sembuf *ops, size_t n,
				    int timeout_ms);
/* GETVAL, or -1. */
int ipc_sysv_sem_get(int id, int num);
/* SETVAL (undo values of every process for it are cleared). */
int ipc_sysv_sem_set(int id, int num, int value);
/* GETALL into values[nsems]. */
int ipc_sysv_sem_get_all(int id, unsigned short *values);

struct ipc_sysv_sem_stat {
	size_t nsems;
	time_t otime, ctime;
	uid_t uid;
	mode_t mode;
};
int ipc_sysv_sem_stat(int id, struct ipc_sysv_sem_stat *out);
/* GETNCNT, GETZCNT, GETPID for one semaphore, or -1. */
int ipc_sysv_sem_waiting_for_increase(int id, int num);
int ipc_sysv_sem_waiting_for_zero(int id, int num);
pid_t ipc_sysv_sem_last_pid(int id, int num);

/* ---- POSIX, named -------------------------------------------------------- */

#define IPC_SEM_NAME_PREFIX "/ipch."

int ipc_posix_sem_fresh_name(char *out, size_t len);
/* A new named semaphore (EEXIST if taken); NULL on failure. */
sem_t *ipc_posix_sem_create(const char *name, unsigned value);
/* An existing one by name (ENOENT, EACCES). */
sem_t *ipc_posix_sem_open(const char *name);
int ipc_posix_sem_close(sem_t *s);
int ipc_posix_sem_unlink(const char *name);

/* ---- POSIX, unnamed in shared memory ------------------------------------- */

/* sem_init with pshared 1: s must lie in memory every user maps. */
int ipc_posix_sem_init_shared(sem_t *s, unsigned value);
int ipc_posix_sem_destroy(sem_t *s);

/* ---- POSIX, both --------------------------------------------------------- */

/* sem_wait (timeout_ms -1), sem_trywait (0), sem_timedwait (else). */
enum ipc_sem_result ipc_posix_sem_wait(sem_t *s, int timeout_ms);
int ipc_posix_sem_post(sem_t *s);
int ipc_posix_sem_value(sem_t *s);

#endif
