/* Semaphores: see include/ipc/sem.h. */
#include "ipc/sem.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel_impl.h"
#include "msan.h"
#include "ipc/registry.h"
#include "ipc/sysv_msg.h" /* IPC_SYSV_KEY_PREFIX */
#include "names.h"
#include "sys.h"

/* The largest value of a System V semaphore (SEMVMX, not exported to
 * user space by glibc's headers). */
#define SEM_VALUE_LIMIT 32767

/* ---- ThreadSanitizer ----------------------------------------------------- */

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPC_TSAN 1
#endif
#endif
#if !defined(IPC_TSAN) && defined(__SANITIZE_THREAD__)
#define IPC_TSAN 1
#endif

#ifdef IPC_TSAN
extern void __tsan_acquire(void *addr);
extern void __tsan_release(void *addr);

/* TSan does not intercept semop: it would report every access guarded by
 * a set as a race. A slot per set stands for the set; two sets sharing a
 * slot only synchronise more than they do, which hides no lock taken. */
#define TSAN_SLOTS 256
static char tsan_sets[TSAN_SLOTS];

static void *tsan_slot(int id) { return &tsan_sets[(unsigned)id % TSAN_SLOTS]; }

static int any_op(const struct sembuf *ops, size_t n, int sign)
{
	for (size_t i = 0; i < n; i++)
		if ((sign > 0 && ops[i].sem_op > 0) || (sign < 0 && ops[i].sem_op < 0))
			return 1;
	return 0;
}

static void tsan_before(int id, const struct sembuf *ops, size_t n)
{
	if (any_op(ops, n, +1))
		__tsan_release(tsan_slot(id));
}

static void tsan_after(int id, const struct sembuf *ops, size_t n)
{
	if (any_op(ops, n, -1))
		__tsan_acquire(tsan_slot(id));
}
#else
static void tsan_before(int id, const struct sembuf *ops, size_t n)
{
	(void)id, (void)ops, (void)n;
}

static void tsan_after(int id, const struct sembuf *ops, size_t n)
{
	(void)id, (void)ops, (void)n;
}
#endif

/* ---- results ------------------------------------------------------------- */

static const char *const result_names[] = {
	[IPC_SEM_DONE] = "done",
	[IPC_SEM_WOULD_BLOCK] = "would block",
	[IPC_SEM_TIMED_OUT] = "timed out",
	[IPC_SEM_INTERRUPTED] = "interrupted",
	[IPC_SEM_REMOVED] = "removed",
	[IPC_SEM_FAILED] = "failed",
};

const char *ipc_sem_result_name(enum ipc_sem_result r)
{
	if ((unsigned)r >= sizeof result_names / sizeof result_names[0])
		return "unknown result";
	return result_names[r];
}

/* ---- System V sets ------------------------------------------------------- */

/* /proc/sys/kernel/sem is one line of four numbers, whole from one read. */
int ipc_sysv_sem_limits(struct ipc_sysv_sem_limits *out)
{
	unsigned long v[4];
	char text[128];

	if (ipc_read_proc_line("/proc/sys/kernel/sem", text, sizeof text) != 0)
		return -1;
	if (sscanf(text, "%lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]) != 4) {
		errno = EIO;
		return -1;
	}
	*out = (struct ipc_sysv_sem_limits){v[0], v[1], v[2], v[3]};
	return 0;
}

static void set_text(int id, char *text, size_t len)
{
	snprintf(text, len, "%d", id);
}

/* nsems and the values checked before any set exists: semget itself would
 * take nsems up to semmsl, but a value above SEMVMX would only fail at
 * SETALL, after the set was made. */
static int check_new_set(int nsems, const unsigned short *values)
{
	struct ipc_sysv_sem_limits lim;

	if (ipc_sysv_sem_limits(&lim) != 0)
		return -1;
	if (nsems <= 0 || (size_t)nsems > lim.semmsl) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; values != NULL && i < nsems; i++)
		if (values[i] > SEM_VALUE_LIMIT) {
			errno = EINVAL;
			return -1;
		}
	return 0;
}

/* One semop of two operations on semaphore 0 that leave its value as it
 * was: it sets sem_otime, the sign openers wait for. The order keeps both
 * steps within 0..SEMVMX, so it never waits. */
static int mark_initialised(int id, unsigned short value0)
{
	/* No IPC_NOWAIT: it cannot wait, and a refusal it cannot meet
	 * (EAGAIN) must not be asked for. */
	struct sembuf up = {0, +1, 0}, down = {0, -1, 0};
	struct sembuf ops[2];

	ops[0] = value0 < SEM_VALUE_LIMIT ? up : down;
	ops[1] = value0 < SEM_VALUE_LIMIT ? down : up;
	tsan_before(id, ops, 2);
	/* A signal here must not undo the creation: nothing changed, retry. */
	while (sys_semtimedop(id, ops, 2, NULL) != 0)
		if (errno != EINTR)
			return -1;
	tsan_after(id, ops, 2);
	return 0;
}

static int set_values(int id, int nsems, const unsigned short *values)
{
	unsigned short *all = calloc((size_t)nsems, sizeof *all);
	union ipc_semun arg;
	int r, err;

	if (all == NULL)
		return -1;
	if (values != NULL)
		memcpy(all, values, (size_t)nsems * sizeof *all);
	arg.array = all;
	r = sys_semctl(id, 0, SETALL, arg);
	err = errno;
	free(all);
	errno = err;
	return r;
}

int ipc_sysv_sem_create(key_t key, int nsems, const unsigned short *values)
{
	char text[24];
	int id, err;

	if (check_new_set(nsems, values) != 0)
		return -1;
	id = sys_semget(key, nsems, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0)
		return -1;
	set_text(id, text, sizeof text);
	ipc_registry_note("sysv-sem", text);
	if (set_values(id, nsems, values) == 0 &&
	    mark_initialised(id, values != NULL ? values[0] : 0) == 0)
		return id;
	err = errno;
	ipc_sysv_sem_remove(id);
	errno = err;
	return -1;
}

struct new_set {
	int nsems;
	const unsigned short *values;
};

static int create_set(key_t key, const void *arg)
{
	const struct new_set *set = arg;

	return ipc_sysv_sem_create(key, set->nsems, set->values);
}

int ipc_sysv_sem_create_keyed(key_t *key, int nsems,
			      const unsigned short *values)
{
	struct new_set set = {nsems, values};

	return ipc_create_with_fresh_key(key, create_set, &set);
}

/* IPC_STAT, with what the kernel wrote marked as set. */
static int stat_set(int id, struct semid_ds *ds)
{
	union ipc_semun arg = {.buf = ds};

	if (sys_semctl(id, 0, IPC_STAT, arg) != 0)
		return -1;
	IPC_WRITTEN_BY_KERNEL(ds, sizeof *ds);
	return 0;
}

/*
 * semget asking for read and write (as msgget does for queues) makes a
 * set this process may not use EACCES, and one of fewer than nsems
 * EINVAL, both checked by the kernel. The values are trusted only once
 * sem_otime is set: until then the creator may still be between semget
 * and SETALL.
 */
int ipc_sysv_sem_open(key_t key, int nsems, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct semid_ds ds;
	int id;

	if (key == IPC_PRIVATE) {
		errno = ENOENT; /* semget would make a new set, not find one */
		return -1;
	}
	if (nsems < 0) {
		errno = EINVAL;
		return -1;
	}
	id = sys_semget(key, nsems, S_IRUSR | S_IWUSR);
	if (id < 0)
		return -1;
	for (;;) {
		if (stat_set(id, &ds) != 0)
			return -1;
		if (ds.sem_otime != 0)
			return id;
		if (ipc_deadline_ms(&d) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ipc_pause_briefly(&d);
	}
}

int ipc_sysv_sem_remove(int id)
{
	union ipc_semun arg = {.val = 0};
	char text[24];
	int r = sys_semctl(id, 0, IPC_RMID, arg);

	if (r == 0) {
		set_text(id, text, sizeof text);
		ipc_registry_forget("sysv-sem", text);
	}
	return r;
}

/* Flags of up to this many operations are saved on the stack. */
#define STACK_OPS 64

/* Room for the flags of n operations: the stack's, or, bounded by semopm
 * first (the kernel refuses more with E2BIG anyway), the heap's. */
static short *room_for_flags(size_t n, short *stack)
{
	struct ipc_sysv_sem_limits lim;

	if (n <= STACK_OPS)
		return stack;
	if (ipc_sysv_sem_limits(&lim) != 0)
		return NULL;
	if (n > lim.semopm) {
		errno = E2BIG;
		return NULL;
	}
	return malloc(n * sizeof(short));
}

/* The operations with IPC_NOWAIT added, or put back as they were. */
static void add_nowait(struct sembuf *ops, size_t n, short *saved)
{
	for (size_t i = 0; i < n; i++) {
		saved[i] = ops[i].sem_flg;
		ops[i].sem_flg |= IPC_NOWAIT;
	}
}

static void restore_flags(struct sembuf *ops, size_t n, const short *saved)
{
	for (size_t i = 0; i < n; i++)
		ops[i].sem_flg = saved[i];
}

/*
 * semtimedop's EAGAIN means both "IPC_NOWAIT and it would wait" and "the
 * timeout passed" (semop(2)). Without a timeout only the first is
 * possible; with one, the monotonic deadline tells them apart (the
 * kernel's timer never ends before it).
 */
static enum ipc_sem_result eagain_means(int timeout_ms,
					const struct ipc_deadline *d)
{
	if (timeout_ms <= 0)
		return IPC_SEM_WOULD_BLOCK;
	return ipc_deadline_ms(d) == 0 ? IPC_SEM_TIMED_OUT : IPC_SEM_WOULD_BLOCK;
}

static enum ipc_sem_result result_of(int err, int timeout_ms,
				     const struct ipc_deadline *d)
{
	switch (err) {
	case EAGAIN:
		return eagain_means(timeout_ms, d);
	case ETIMEDOUT:
		return IPC_SEM_TIMED_OUT;
	case EINTR:
		return IPC_SEM_INTERRUPTED;
	case EIDRM:
		return IPC_SEM_REMOVED;
	default:
		return IPC_SEM_FAILED;
	}
}

static int asks_nowait(const struct sembuf *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].sem_flg & IPC_NOWAIT)
			return 1;
	return 0;
}

/* IPC_NOWAIT for timeout 0 is added to the caller's operations for the
 * call and taken off after, so the array is left as it was given. */
enum ipc_sem_result ipc_sysv_sem_op(int id, struct sembuf *ops, size_t n,
				    int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct timespec rel = {0, 0};
	short stack[STACK_OPS], *saved = NULL;
	int r, err;

	if (timeout_ms > 0) {
		rel.tv_sec = timeout_ms / 1000;
		rel.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
	}
	if (timeout_ms == 0) {
		if ((saved = room_for_flags(n, stack)) == NULL)
			return IPC_SEM_FAILED;
		add_nowait(ops, n, saved);
	}
	tsan_before(id, ops, n);
	r = sys_semtimedop(id, ops, n, timeout_ms > 0 ? &rel : NULL);
	err = errno;
	/* EAGAIN says "timed out" too; before our deadline (the kernel's
	 * rounding, or a wake the kernel gave up on) it is time left to wait. */
	while (r != 0 && err == EAGAIN && timeout_ms > 0 && !asks_nowait(ops, n) &&
	       ipc_deadline_ms(&d) > 0) {
		int left = ipc_deadline_ms(&d);

		rel.tv_sec = left / 1000;
		rel.tv_nsec = (long)(left % 1000) * 1000000L;
		r = sys_semtimedop(id, ops, n, &rel);
		err = errno;
	}
	if (saved != NULL) {
		restore_flags(ops, n, saved);
		if (saved != stack)
			free(saved);
	}
	if (r == 0) {
		tsan_after(id, ops, n);
		return IPC_SEM_DONE;
	}
	errno = err;
	return result_of(err, timeout_ms, &d);
}

static int control(int id, int num, int cmd, int val)
{
	union ipc_semun arg = {.val = val};

	return sys_semctl(id, num, cmd, arg);
}

int ipc_sysv_sem_get(int id, int num) { return control(id, num, GETVAL, 0); }

int ipc_sysv_sem_set(int id, int num, int value)
{
	return control(id, num, SETVAL, value);
}

/* GETALL writes nsems values: IPC_STAT first says how many, for MSan. */
int ipc_sysv_sem_get_all(int id, unsigned short *values)
{
	union ipc_semun arg = {.array = values};
	struct semid_ds ds;

	if (stat_set(id, &ds) != 0 || sys_semctl(id, 0, GETALL, arg) != 0)
		return -1;
	IPC_WRITTEN_BY_KERNEL(values, ds.sem_nsems * sizeof *values);
	return 0;
}

int ipc_sysv_sem_stat(int id, struct ipc_sysv_sem_stat *out)
{
	struct semid_ds ds;

	if (stat_set(id, &ds) != 0)
		return -1;
	*out = (struct ipc_sysv_sem_stat){
		.nsems = ds.sem_nsems,
		.otime = ds.sem_otime,
		.ctime = ds.sem_ctime,
		.uid = ds.sem_perm.uid,
		.mode = ds.sem_perm.mode & 0777,
	};
	return 0;
}

int ipc_sysv_sem_waiting_for_increase(int id, int num)
{
	return control(id, num, GETNCNT, 0);
}

int ipc_sysv_sem_waiting_for_zero(int id, int num)
{
	return control(id, num, GETZCNT, 0);
}

pid_t ipc_sysv_sem_last_pid(int id, int num)
{
	return (pid_t)control(id, num, GETPID, 0);
}

/* ---- POSIX, named -------------------------------------------------------- */

int ipc_posix_sem_fresh_name(char *out, size_t len)
{
	return ipc_fresh_name(IPC_SEM_NAME_PREFIX, out, len);
}

/* "/name", one component: glibc makes it the file /dev/shm/sem.name, so
 * four bytes of NAME_MAX go to "sem.". */
static int check_name(const char *name)
{
	return ipc_check_posix_name(name, NAME_MAX - 4);
}

sem_t *ipc_posix_sem_create(const char *name, unsigned value)
{
	sem_t *s;

	if (check_name(name) != 0)
		return NULL;
	if (value > SEM_VALUE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	s = sys_sem_open(name, O_CREAT | O_EXCL, 0600, value);
	if (s == SEM_FAILED)
		return NULL;
	ipc_registry_note("posix-sem", name);
	return s;
}

sem_t *ipc_posix_sem_open(const char *name)
{
	sem_t *s;

	if (check_name(name) != 0)
		return NULL;
	s = sys_sem_open(name, 0, 0, 0);
	return s == SEM_FAILED ? NULL : s;
}

int ipc_posix_sem_close(sem_t *s) { return sys_sem_close(s); }

int ipc_posix_sem_unlink(const char *name)
{
	int r = sys_sem_unlink(name);

	if (r == 0 || errno == ENOENT)
		ipc_registry_forget("posix-sem", name);
	return r;
}

/* ---- POSIX, unnamed in shared memory ------------------------------------- */

int ipc_posix_sem_init_shared(sem_t *s, unsigned value)
{
	return sys_sem_init(s, 1, value);
}

int ipc_posix_sem_destroy(sem_t *s) { return sys_sem_destroy(s); }

/* ---- POSIX, both --------------------------------------------------------- */

static enum ipc_sem_result posix_result(int err)
{
	switch (err) {
	case EAGAIN:
		return IPC_SEM_WOULD_BLOCK;
	case ETIMEDOUT:
		return IPC_SEM_TIMED_OUT;
	case EINTR:
		return IPC_SEM_INTERRUPTED;
	default:
		return IPC_SEM_FAILED;
	}
}

/* A realtime clock set back or forward moves sem_timedwait's deadline:
 * ETIMEDOUT is believed only once the monotonic deadline has passed. */
static int timed_wait(sem_t *s, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	for (;;) {
		struct timespec at = ipc_deadline_on(CLOCK_REALTIME, &d);
		int r = sys_sem_timedwait(s, &at);

		if (r == 0 || errno != ETIMEDOUT || ipc_deadline_ms(&d) == 0)
			return r;
	}
}

enum ipc_sem_result ipc_posix_sem_wait(sem_t *s, int timeout_ms)
{
	int r;

	if (timeout_ms < 0)
		r = sys_sem_wait(s);
	else if (timeout_ms == 0)
		r = sys_sem_trywait(s);
	else
		r = timed_wait(s, timeout_ms);
	return r == 0 ? IPC_SEM_DONE : posix_result(errno);
}

int ipc_posix_sem_post(sem_t *s) { return sys_sem_post(s); }

int ipc_posix_sem_value(sem_t *s)
{
	int value;

	if (sys_sem_getvalue(s, &value) != 0)
		return -1;
	return value;
}
