/*
 * sem_model: a System V semaphore set of the kernel against the model of
 * harness/models/sysv_sem_model.h, step by step, with semop called by the
 * target itself and by up to three simulated processes, so that SEM_UNDO is
 * undone by real exits.
 *
 * Input (reads past the end give zeros; the tables are in
 * fuzz/sem_model_format.h):
 *   byte 0  nsems: 1 + the low 3 bits (1..8)
 *   then steps until the input ends, each an opcode byte whose low 2 bits
 *   say which:
 *     0  semop    bits 2-3 the process (0: the target, 1..3 the others),
 *                 bits 4-5 the operations that follow less one (1..4),
 *                 bits 6-7 how many the call passes (as read; none; the
 *                 operations repeated in turn up to semopm; up to semopm +
 *                 1). Each operation is 2 bytes: sem_num 0..7 or, with bit
 *                 3, one beyond every set; bit 4 IPC_NOWAIT, bit 5
 *                 SEM_UNDO; then sem_op -3..3, or the ends of the ranges
 *     1  SETVAL   semaphore (1 byte, signed), value (2 bytes, big-endian;
 *                 0xFF00 and above are -256..-1)
 *     2  read     bit 2: GETVAL of the semaphore in the next byte (signed);
 *                 else GETALL
 *     3  exit     bits 2-3: the process (1..3) that exits; 0: each of them;
 *                 bit 4: its thread ends, else it unshares its undo list
 *   Every operation reaches the kernel with IPC_NOWAIT added: one thread
 *   must never sleep. The model gets the flags as read, and where it says
 *   the call would sleep, the kernel must say EAGAIN.
 *
 * Invariants: each step has the same outcome on the kernel's set and on
 * the model (return value or errno), and after each step GETALL gives the
 * model's values. A difference prints the steps so far and aborts.
 *
 * Processes: the kernel keeps semadj in undo lists: a process made by
 * fork starts with none, the threads of a process share one, and do_exit
 * applies a list when its last user exits. Processes 1..3 are threads
 * that unshare(CLONE_SYSVSEM) as they start, which gives each a list of
 * its own, as a forked child has, and makes its exit a process exit as far
 * as semaphores go: the same do_exit and exit_sem. (Under AddressSanitizer
 * a fork and exit of this target take some 3 ms, a thread's start and end
 * well under one.)
 *
 * A thread starts with its process's first semop with SEM_UNDO (a call
 * without SEM_UNDO touches no undo list: the target makes it itself) and
 * gets its calls over a SOCK_SEQPACKET pair, answering with the errno. An
 * exit step either ends the thread and joins it (the process's next semop
 * with SEM_UNDO starts a new one), or, cheaper, has the thread call
 * unshare(CLONE_SYSVSEM) again, which applies its list with the same
 * exit_sem before it returns ("equivalent to sys_exit()", says the kernel)
 * and leaves it a new, empty one: the next process. A joined thread may
 * not have reached exit_sem yet (do_exit clears the tid that
 * pthread_join waits on first); it has once /proc/self/task no longer
 * lists it, which the target waits for. At most THREAD_EXITS_PER_INPUT
 * threads end per input, so that no input is slow; later exits are made
 * the cheaper way. Between inputs the threads stay (the removal of the
 * set drops their semadj for it); they end with the process, whichever
 * way it ends, and leave nothing behind.
 *
 * The set: one per input, made (IPC_PRIVATE, IPC_EXCL, 0600) for it and
 * removed at its end, at exit, and before an abort. A process killed
 * otherwise leaves it behind; with IPCH_REGISTRY set it was noted in the
 * object registry (kind "sysv-sem"), whose sweeper removes it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "ipc/registry.h"
#include "ipc/sem.h"
#include "sem_model_format.h"
#include "sysv_sem_model.h"

/* A process that takes longer than this to answer is stuck: it never
 * sleeps on the set. */
#define REPLY_TIMEOUT_MS 10000
#define THREAD_EXITS_PER_INPUT 2u

struct step {
	uint8_t code;
	size_t nread; /* semop: the operations read */
	struct sembuf ops[SMF_OPS_MAX];
	int num;   /* SETVAL, GETVAL: the semaphore */
	int value; /* SETVAL: the value */
};

/* What a process is told: semop on the set with n operations; with n
 * CMD_UNSHARE, to take a new undo list; with n CMD_EXIT, to exit. It
 * answers each but the last (struct answer). */
struct command {
	int set;
	unsigned n;
	struct sembuf ops[SMF_CALL_MAX];
};
#define CMD_EXIT UINT_MAX
#define CMD_UNSHARE (UINT_MAX - 1)

struct proc {
	int running;
	pthread_t thread;
	int fd;       /* the target's end of the pair */
	int their_fd; /* the thread's */
	pid_t tid;
};

/* A process's answer: 0 or the errno, and its thread id. */
struct answer {
	int err;
	pid_t tid;
};

static size_t semopm;
static int set = -1;
static struct proc procs[SMF_PROCS]; /* [0] stays empty: the target */
static struct sysv_sem_model model;
static unsigned thread_exits_left;

/* The input being run, for the report of a broken invariant. */
static const uint8_t *input;
static size_t input_size, steps_done;

/* ---- the set ------------------------------------------------------------ */

static void set_name(int id, char *text, size_t len)
{
	snprintf(text, len, "%d", id);
}

static void remove_set(void)
{
	char text[24];

	if (set < 0)
		return;
	semctl(set, 0, IPC_RMID);
	set_name(set, text, sizeof text);
	ipc_registry_forget("sysv-sem", text);
	set = -1;
}

/* What exit, and the report of a broken invariant, leave behind: nothing.
 * The threads end with the process. */
static void clean_up(void)
{
	remove_set();
}

static _Noreturn void setup_failed(const char *what)
{
	fprintf(stderr, "sem_model: %s: %s\n", what, strerror(errno));
	clean_up();
	exit(1);
}

/* The third field of /proc/sys/kernel/sem. */
static size_t read_semopm(void)
{
	FILE *f = fopen("/proc/sys/kernel/sem", "r");
	long msl, mns, opm;
	int n;

	if (f == NULL)
		setup_failed("cannot open /proc/sys/kernel/sem");
	n = fscanf(f, "%ld %ld %ld", &msl, &mns, &opm);
	fclose(f);
	if (n != 3 || opm < 1) {
		errno = EINVAL;
		setup_failed("cannot read semopm from /proc/sys/kernel/sem");
	}
	return (size_t)opm;
}

static void setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	semopm = read_semopm();
	atexit(clean_up);
}

static void create_set(size_t nsems)
{
	char text[24];

	set = semget(IPC_PRIVATE, (int)nsems, IPC_CREAT | IPC_EXCL | 0600);
	if (set < 0)
		setup_failed("cannot make a System V semaphore set");
	set_name(set, text, sizeof text);
	ipc_registry_note("sysv-sem", text);
	if (sysv_sem_model_init(&model, nsems, semopm) != 0) {
		errno = EINVAL;
		setup_failed("the model refuses the set");
	}
}

/* Processes 1..3: a semop per command, until told to exit. The first
 * answer is that of the unshare, which gives the thread a semadj list of
 * its own, dropping its share of the target's. */
static void *serve(void *arg)
{
	struct answer a = { 0, gettid() };
	struct command cmd;
	int fd = (int)(intptr_t)arg;

	if (unshare(CLONE_SYSVSEM) != 0)
		a.err = errno;
	if (send(fd, &a, sizeof a, MSG_NOSIGNAL) != sizeof a || a.err != 0)
		return NULL;
	for (;;) {
		ssize_t n = recv(fd, &cmd, sizeof cmd, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)offsetof(struct command, ops) ||
		    cmd.n == CMD_EXIT)
			return NULL;
		if (cmd.n == CMD_UNSHARE)
			a.err = unshare(CLONE_SYSVSEM) != 0 ? errno : 0;
		else if (cmd.n > SMF_CALL_MAX ||
			 (size_t)n != offsetof(struct command, ops) +
					      cmd.n * sizeof cmd.ops[0])
			return NULL;
		else
			a.err = semop(cmd.set, cmd.ops, cmd.n) != 0 ? errno : 0;
		if (send(fd, &a, sizeof a, MSG_NOSIGNAL) != sizeof a)
			return NULL;
	}
}

/* ---- reading the input --------------------------------------------------- */

static unsigned step_proc(const struct step *st)
{
	return (st->code >> SMF_PROC_SHIFT) & 3u;
}

static void take_step(struct fuzz_input *in, struct step *st)
{
	*st = (struct step){ .code = fuzz_take_u8(in) };
	switch (st->code & SMF_STEP_MASK) {
	case SMF_SEMOP:
		st->nread = ((st->code >> SMF_NOPS_SHIFT) & 3u) + 1;
		for (size_t i = 0; i < st->nread; i++) {
			uint8_t a = fuzz_take_u8(in);

			st->ops[i].sem_num = smf_sem_num(a);
			st->ops[i].sem_op = smf_sem_op(fuzz_take_u8(in));
			st->ops[i].sem_flg =
				(short)((a & SMF_OP_NOWAIT ? IPC_NOWAIT : 0) |
					(a & SMF_OP_UNDO ? SEM_UNDO : 0));
		}
		break;
	case SMF_SETVAL:
		st->num = smf_semnum(fuzz_take_u8(in));
		st->value = smf_setval_value(fuzz_take_be16(in));
		break;
	case SMF_READ:
		if (st->code & SMF_READ_GETVAL)
			st->num = smf_semnum(fuzz_take_u8(in));
		break;
	}
}

/* The operations the call passes, into call; returns how many. */
static size_t build_call(const struct step *st, struct sembuf *call)
{
	size_t n;

	switch ((enum smf_count)(st->code >> SMF_COUNT_SHIFT)) {
	case SMF_COUNT_AS_READ:
		n = st->nread;
		break;
	case SMF_COUNT_NONE:
		n = 0;
		break;
	case SMF_COUNT_SEMOPM:
		n = semopm;
		break;
	default:
		n = semopm + 1;
	}
	if (n > SMF_CALL_MAX)
		n = SMF_CALL_MAX;
	for (size_t i = 0; i < n; i++)
		call[i] = st->ops[i % st->nread];
	return n;
}

static void print_flags(short flg)
{
	if (flg & IPC_NOWAIT)
		fputs(" NOWAIT", stderr);
	if (flg & SEM_UNDO)
		fputs(" UNDO", stderr);
}

static void print_semop(const struct step *st)
{
	static const char *const counts[] = {
		"", ", passing none", ", repeated to semopm",
		", repeated to semopm + 1",
	};

	fprintf(stderr, "semop by process %u:", step_proc(st));
	for (size_t i = 0; i < st->nread; i++) {
		fprintf(stderr, " {%u, %d", st->ops[i].sem_num,
			st->ops[i].sem_op);
		print_flags(st->ops[i].sem_flg);
		fputc('}', stderr);
	}
	fprintf(stderr, "%s\n", counts[st->code >> SMF_COUNT_SHIFT]);
}

static void print_step(size_t i, const struct step *st)
{
	fprintf(stderr, "  %3zu ", i);
	switch (st->code & SMF_STEP_MASK) {
	case SMF_SEMOP:
		print_semop(st);
		break;
	case SMF_SETVAL:
		fprintf(stderr, "SETVAL semaphore %d to %d\n", st->num,
			st->value);
		break;
	case SMF_READ:
		if (st->code & SMF_READ_GETVAL)
			fprintf(stderr, "GETVAL semaphore %d\n", st->num);
		else
			fputs("GETALL\n", stderr);
		break;
	default:
		if (step_proc(st) == 0)
			fputs("processes 1..3 exit", stderr);
		else
			fprintf(stderr, "process %u exits", step_proc(st));
		fputs(st->code & SMF_EXIT_THREAD ? " (the thread ends)\n"
						 : " (by unshare)\n", stderr);
	}
}

/* The steps of the input up to the one that broke the invariant. */
static void print_context(void)
{
	struct fuzz_input in = { input, input_size };
	size_t nsems = (fuzz_take_u8(&in) & SMF_NSEMS_MASK) + 1u;
	struct step st;

	fprintf(stderr, "sem_model: semopm %zu; a set of %zu, then:\n", semopm,
		nsems);
	for (size_t i = 0; i < steps_done && in.left > 0; i++) {
		take_step(&in, &st);
		print_step(i, &st);
	}
}

/* SEM_CHECK(cond, fmt, ...): FUZZ_CHECK that first prints the steps so far
 * and removes the set, which an abort would leave. */
#define SEM_CHECK(cond, ...)                                                  \
	((cond) ? (void)0                                                     \
		: (print_context(), clean_up(),                               \
		   fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__)))

/* ---- running it ---------------------------------------------------------- */

/* A call's outcome the model's way: the result, or -errno. */
static int outcome(int r)
{
	return r < 0 ? -errno : r;
}

/* "7", or "-EAGAIN", into buf. */
static const char *outcome_name(int r, char *buf, size_t len)
{
	const char *name = r < 0 ? strerrorname_np(-r) : NULL;

	if (r >= 0)
		snprintf(buf, len, "%d", r);
	else
		snprintf(buf, len, "-%s", name != NULL ? name : "?");
	return buf;
}

#define OUTCOMES(got, want)                                                   \
	outcome_name(got, got_name, sizeof got_name),                         \
		outcome_name(want, want_name, sizeof want_name)

static void send_command(unsigned p, const struct command *cmd, size_t len)
{
	ssize_t n = send(procs[p].fd, cmd, len, MSG_NOSIGNAL);

	SEM_CHECK(n == (ssize_t)len, "cannot reach process %u: %s", p,
		  n < 0 ? strerror(errno) : "short send");
}

/* Process p's answer; our end of the pair has a receive timeout. */
static struct answer await_answer(unsigned p)
{
	struct answer a = { 0, 0 };
	ssize_t got;

	do
		got = recv(procs[p].fd, &a, sizeof a, 0);
	while (got < 0 && errno == EINTR);
	SEM_CHECK(got >= 0 || errno != EAGAIN, "process %u gave no answer"
		  " within %d ms", p, REPLY_TIMEOUT_MS);
	SEM_CHECK(got == sizeof a, "process %u: no answer: %s", p,
		  got < 0 ? strerror(errno) : "short or none");
	return a;
}

/* Process p's thread, with a semadj list of its own. */
static void start_proc(unsigned p)
{
	static const struct timeval reply_timeout = {
		.tv_sec = REPLY_TIMEOUT_MS / 1000,
		.tv_usec = REPLY_TIMEOUT_MS % 1000 * 1000,
	};
	struct answer hello;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		setup_failed("cannot make a socket pair for a process");
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &reply_timeout,
		       sizeof reply_timeout) != 0) {
		close(sv[0]);
		close(sv[1]);
		setup_failed("cannot set a receive timeout");
	}
	r = pthread_create(&procs[p].thread, NULL, serve,
			   (void *)(intptr_t)sv[1]);
	if (r != 0) {
		close(sv[0]);
		close(sv[1]);
		errno = r;
		setup_failed("cannot start a thread for a process");
	}
	procs[p].running = 1;
	procs[p].fd = sv[0];
	procs[p].their_fd = sv[1];
	hello = await_answer(p);
	SEM_CHECK(hello.err == 0, "process %u cannot unshare its semadj"
		  " list: %s", p, strerror(hello.err));
	procs[p].tid = hello.tid;
}

/* semop by process p: 0 or -errno. */
static int semop_by_proc(unsigned p, const struct sembuf *ops, size_t n)
{
	static struct command cmd;
	struct answer a;

	if (!procs[p].running)
		start_proc(p);
	cmd.set = set;
	cmd.n = (unsigned)n;
	memcpy(cmd.ops, ops, n * sizeof ops[0]);
	send_command(p, &cmd, offsetof(struct command, ops) + n * sizeof ops[0]);
	a = await_answer(p);
	return a.err != 0 ? -a.err : 0;
}

/* Process p exits and a new one takes its place, in the same thread:
 * unshare(CLONE_SYSVSEM) applies the old undo list as exit does (it calls
 * the same exit_sem) before it returns. */
static void renew_proc(unsigned p)
{
	const struct command cmd = { .set = set, .n = CMD_UNSHARE };
	struct answer a;

	send_command(p, &cmd, offsetof(struct command, ops));
	a = await_answer(p);
	SEM_CHECK(a.err == 0, "process %u cannot unshare its semadj list: %s",
		  p, strerror(a.err));
}

/* pthread_join returns once the kernel cleared the thread's tid, which
 * do_exit does before exit_sem applies the semadj; the thread leaves
 * /proc/self/task only after, when it is released. */
static void await_release(unsigned p)
{
	const struct timespec pause = { 0, 20 * 1000 };
	char path[48];
	long waited_us = 0;

	snprintf(path, sizeof path, "/proc/self/task/%d", (int)procs[p].tid);
	while (access(path, F_OK) == 0) {
		SEM_CHECK(waited_us < REPLY_TIMEOUT_MS * 1000L, "process %u"
			  " (thread %d) was not released within %d ms", p,
			  (int)procs[p].tid, REPLY_TIMEOUT_MS);
		nanosleep(&pause, NULL);
		waited_us += 20;
	}
}

/* Process p exits: its thread ends, and the kernel applies its semadj. */
static void end_proc(unsigned p)
{
	const struct command cmd = { .set = set, .n = CMD_EXIT };

	send_command(p, &cmd, offsetof(struct command, ops));
	pthread_join(procs[p].thread, NULL);
	await_release(p);
	close(procs[p].fd);
	close(procs[p].their_fd);
	procs[p].running = 0;
}

/* The caller reaches semop only through its undo list, which a call with
 * no SEM_UNDO leaves alone (only sempid, which is not checked, differs):
 * such a call of processes 1..3 is made by the target itself, which saves
 * the round trips that take most of the time. */
static int any_undo(const struct sembuf *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].sem_flg & SEM_UNDO)
			return 1;
	return 0;
}

static void run_semop(const struct step *st)
{
	static struct sembuf call[SMF_CALL_MAX], nowait[SMF_CALL_MAX];
	unsigned p = step_proc(st);
	size_t n = build_call(st, call);
	char got_name[32], want_name[32];
	int want, got;

	for (size_t i = 0; i < n; i++) {
		nowait[i] = call[i];
		nowait[i].sem_flg |= IPC_NOWAIT;
	}
	want = sysv_sem_model_semop(&model, p, call, n);
	/* IPC_NOWAIT on every operation turns the sleep into EAGAIN. */
	if (want == SYSV_SEM_MODEL_WAITS)
		want = -EAGAIN;
	if (p != 0 && any_undo(call, n))
		got = semop_by_proc(p, nowait, n);
	else
		got = outcome(semop(set, nowait, n));
	SEM_CHECK(got == want, "semop of %zu operations by process %u: the"
		  " kernel says %s, the model %s", n, p,
		  OUTCOMES(got, want));
}

static void run_setval(const struct step *st)
{
	union ipc_semun arg = { .val = st->value };
	int want = sysv_sem_model_setval(&model, st->num, st->value);
	int got = outcome(semctl(set, st->num, SETVAL, arg));
	char got_name[32], want_name[32];

	SEM_CHECK(got == want, "SETVAL of semaphore %d to %d: the kernel says"
		  " %s, the model %s", st->num, st->value,
		  OUTCOMES(got, want));
}

static void run_getval(const struct step *st)
{
	int want = sysv_sem_model_getval(&model, st->num);
	int got = outcome(semctl(set, st->num, GETVAL));
	char got_name[32], want_name[32];

	SEM_CHECK(got == want, "GETVAL of semaphore %d: the kernel says %s,"
		  " the model %s", st->num, OUTCOMES(got, want));
}

/* GETALL gives the model's values. */
static void check_values(void)
{
	unsigned short got[SYSV_SEM_MODEL_SEMS], want[SYSV_SEM_MODEL_SEMS];

	/* Through the library, which tells MemorySanitizer what the kernel
	 * wrote (it does not intercept semctl). */
	SEM_CHECK(ipc_sysv_sem_get_all(set, got) == 0, "GETALL failed: %s",
		  strerror(errno));
	sysv_sem_model_getall(&model, want);
	for (size_t i = 0; i < model.nsems; i++)
		SEM_CHECK(got[i] == want[i], "semaphore %zu is %u in the"
			  " kernel, %u in the model", i, got[i], want[i]);
}

/* With no thread, the process has made no semop with SEM_UNDO since it
 * last exited: nothing to undo on either side. */
static void run_exit_of(unsigned p, int thread_ends)
{
	if (procs[p].running && thread_ends && thread_exits_left > 0) {
		thread_exits_left--;
		end_proc(p);
	} else if (procs[p].running) {
		renew_proc(p);
	}
	sysv_sem_model_exit(&model, p);
}

static void run_exit(const struct step *st)
{
	int thread_ends = (st->code & SMF_EXIT_THREAD) != 0;
	unsigned p = step_proc(st);

	if (p != 0) {
		run_exit_of(p, thread_ends);
		return;
	}
	for (p = 1; p < SMF_PROCS; p++)
		run_exit_of(p, thread_ends);
}

static void run_step(const struct step *st)
{
	switch (st->code & SMF_STEP_MASK) {
	case SMF_SEMOP:
		run_semop(st);
		break;
	case SMF_SETVAL:
		run_setval(st);
		break;
	case SMF_READ:
		if (st->code & SMF_READ_GETVAL)
			run_getval(st);
		break;
	default:
		run_exit(st);
	}
	check_values();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct step st;

	setup();
	input = data;
	input_size = size;
	steps_done = 0;
	thread_exits_left = THREAD_EXITS_PER_INPUT;
	create_set((fuzz_take_u8(&in) & SMF_NSEMS_MASK) + 1u);
	while (in.left > 0) {
		take_step(&in, &st);
		steps_done++;
		run_step(&st);
	}
	remove_set();
	input = NULL;
	return 0;
}
