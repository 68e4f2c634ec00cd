/* The System V semaphore set model: see sysv_sem_model.h. */
#include "sysv_sem_model.h"

#include <errno.h>
#include <string.h>
#include <sys/sem.h>

/* Not an errno either: the operation tried cannot take place yet. */
#define BLOCKS 1

int sysv_sem_model_init(struct sysv_sem_model *m, size_t nsems, size_t semopm)
{
	if (nsems < 1 || nsems > SYSV_SEM_MODEL_SEMS || semopm < 1)
		return -EINVAL;
	*m = (struct sysv_sem_model){ .nsems = nsems, .semopm = semopm };
	return 0;
}

static int beyond_the_set(const struct sysv_sem_model *m,
			  const struct sembuf *ops, size_t nsops)
{
	for (size_t i = 0; i < nsops; i++)
		if (ops[i].sem_num >= m->nsems)
			return 1;
	return 0;
}

/* One operation on a working value and semadj: 0 once applied, BLOCKS, or
 * -ERANGE. The value's range is checked before the semadj's. */
static int try_one(int *val, int *adj, const struct sembuf *op)
{
	int result = *val + op->sem_op;

	if (op->sem_op == 0)
		return *val == 0 ? 0 : BLOCKS;
	if (result < 0)
		return BLOCKS;
	if (result > SYSV_SEM_MODEL_SEMVMX)
		return -ERANGE;
	if (op->sem_flg & SEM_UNDO) {
		int undo = *adj - op->sem_op;

		if (undo < -SYSV_SEM_MODEL_SEMAEM - 1 ||
		    undo > SYSV_SEM_MODEL_SEMAEM)
			return -ERANGE;
		*adj = undo;
	}
	*val = result;
	return 0;
}

int sysv_sem_model_semop(struct sysv_sem_model *m, unsigned proc,
			 const struct sembuf *ops, size_t nsops)
{
	int val[SYSV_SEM_MODEL_SEMS], adj[SYSV_SEM_MODEL_SEMS];

	if (proc >= SYSV_SEM_MODEL_PROCS)
		return -EINVAL;
	if (nsops > m->semopm)
		return -E2BIG;
	if (nsops < 1)
		return -EINVAL;
	if (beyond_the_set(m, ops, nsops))
		return -EFBIG;
	/* All or nothing: the operations run on copies, kept only if every
	 * one of them succeeds. */
	memcpy(val, m->val, sizeof val);
	memcpy(adj, m->adj[proc], sizeof adj);
	for (size_t i = 0; i < nsops; i++) {
		unsigned short num = ops[i].sem_num;
		int r = try_one(&val[num], &adj[num], &ops[i]);

		if (r == BLOCKS)
			return ops[i].sem_flg & IPC_NOWAIT ? -EAGAIN
							   : SYSV_SEM_MODEL_WAITS;
		if (r < 0)
			return r;
	}
	memcpy(m->val, val, sizeof val);
	memcpy(m->adj[proc], adj, sizeof adj);
	return 0;
}

int sysv_sem_model_setval(struct sysv_sem_model *m, int num, int val)
{
	if (val < 0 || val > SYSV_SEM_MODEL_SEMVMX)
		return -ERANGE;
	if (num < 0 || (size_t)num >= m->nsems)
		return -EINVAL;
	for (unsigned p = 0; p < SYSV_SEM_MODEL_PROCS; p++)
		m->adj[p][num] = 0;
	m->val[num] = val;
	return 0;
}

int sysv_sem_model_getval(const struct sysv_sem_model *m, int num)
{
	if (num < 0 || (size_t)num >= m->nsems)
		return -EINVAL;
	return m->val[num];
}

void sysv_sem_model_getall(const struct sysv_sem_model *m,
			   unsigned short *vals)
{
	for (size_t i = 0; i < m->nsems; i++)
		vals[i] = (unsigned short)m->val[i];
}

static int clamp(int v)
{
	if (v < 0)
		return 0;
	return v > SYSV_SEM_MODEL_SEMVMX ? SYSV_SEM_MODEL_SEMVMX : v;
}

void sysv_sem_model_exit(struct sysv_sem_model *m, unsigned proc)
{
	if (proc >= SYSV_SEM_MODEL_PROCS)
		return;
	for (size_t i = 0; i < m->nsems; i++) {
		m->val[i] = clamp(m->val[i] + m->adj[proc][i]);
		m->adj[proc][i] = 0;
	}
}
