/*
 * A reference model of one System V semaphore set, written from semop(2),
 * semctl(2) and the Linux rules of ipc/sem.c: nsems values of 0..SEMVMX
 * and, for each of a few simulated processes, its undo adjustments
 * (semadj), one per semaphore.
 *
 * It is meant to be plainly right rather than fast: a fuzz target
 * (fuzz/sem_model.c) runs every step on a kernel set and on the model and
 * requires the same outcome and the same values from both.
 *
 * Calls return kernel-style: 0 or a value on success, else a negative errno.
 * The model never waits: where the kernel would put the caller to sleep it
 * returns SYSV_SEM_MODEL_WAITS and changes nothing.
 *
 * The rules, in the order Linux applies them:
 *
 *  - semop: more operations than semopm (the third field of
 *    /proc/sys/kernel/sem) is E2BIG, none is EINVAL; both come before the
 *    set is looked at. Then a sem_num >= nsems in any operation is EFBIG,
 *    whatever the others would do.
 *  - The operations are then tried in order on a working copy, each seeing
 *    the effect of those before it (so [-1, 0] on a semaphore of 1
 *    succeeds, [+1, 0] on 0 would wait). For each: sem_op 0 waits unless
 *    the value is 0; otherwise a result below 0 waits, one above SEMVMX is
 *    ERANGE; with SEM_UNDO, semadj - sem_op outside -32768..32767 (a short
 *    in the kernel) is ERANGE. The first operation that fails decides: a
 *    wait is EAGAIN if that operation has IPC_NOWAIT (its own flag, not
 *    the others'), else the caller sleeps. Either way nothing is changed:
 *    all the operations of one call take place or none.
 *  - SETVAL: a value outside 0..SEMVMX is ERANGE, checked before the
 *    semaphore number (outside 0..nsems-1: EINVAL). It sets the value and
 *    clears that semaphore's semadj in every process.
 *  - GETVAL: EINVAL outside 0..nsems-1. GETALL: every value.
 *  - A process that exits has each non-zero semadj added to its semaphore,
 *    the result clamped to 0..SEMVMX (Linux's choice; other systems skip
 *    or cap differently), and its semadj forgotten. A process made by fork
 *    starts with no semadj; removing the set drops them all.
 *
 * Not modelled: sleeping callers and their wake-ups, sem_otime, sempid,
 * permissions, SETALL, IPC_RMID.
 */
#ifndef IPCH_SYSV_SEM_MODEL_H
#define IPCH_SYSV_SEM_MODEL_H

#include <stddef.h>
#include <sys/sem.h>

/* Not an errno: the call would sleep until the values allow it. */
#define SYSV_SEM_MODEL_WAITS (-4096)

#define SYSV_SEM_MODEL_SEMS 8  /* the most semaphores a model set holds */
#define SYSV_SEM_MODEL_PROCS 4 /* simulated processes, 0..3 */
#define SYSV_SEM_MODEL_SEMVMX 32767
/* semadj stays within -SEMAEM - 1..SEMAEM, the range of a short. */
#define SYSV_SEM_MODEL_SEMAEM 32767

struct sysv_sem_model {
	size_t nsems;
	size_t semopm;
	int val[SYSV_SEM_MODEL_SEMS];
	int adj[SYSV_SEM_MODEL_PROCS][SYSV_SEM_MODEL_SEMS];
};

/* A set as semget makes it: every value 0, no semadj. -EINVAL unless
 * 1 <= nsems <= SYSV_SEM_MODEL_SEMS and semopm >= 1. */
int sysv_sem_model_init(struct sysv_sem_model *m, size_t nsems,
			size_t semopm);

/* semop by process proc: 0, or -E2BIG, -EINVAL, -EFBIG, -ERANGE, -EAGAIN,
 * or SYSV_SEM_MODEL_WAITS (see the rules above). */
int sysv_sem_model_semop(struct sysv_sem_model *m, unsigned proc,
			 const struct sembuf *ops, size_t nsops);

/* semctl SETVAL: 0, -ERANGE or -EINVAL. */
int sysv_sem_model_setval(struct sysv_sem_model *m, int num, int val);
/* semctl GETVAL: the value, or -EINVAL. */
int sysv_sem_model_getval(const struct sysv_sem_model *m, int num);
/* semctl GETALL: the nsems values into vals. */
void sysv_sem_model_getall(const struct sysv_sem_model *m,
			   unsigned short *vals);

/* Process proc exits: its semadj are applied, clamped, and forgotten. */
void sysv_sem_model_exit(struct sysv_sem_model *m, unsigned proc);

#endif
