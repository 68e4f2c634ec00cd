/*
 * The fault-injection seam: sys_* definitions for the ipc::seam library.
 * See include/ipc/fault.h for plans and impl/sys.h for the list of calls.
 */
#include "ipc/fault.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/msg.h>
#include <sys/syscall.h>

#include "sys.h"

#define MAX_SIGNALS 8
#define LOG_SIZE 256
#define MAX_IOV 64

/* What each call may be made to do: which errnos fit it, and whether it
 * moves bytes (a short transfer applies). Cleanup calls (close, unlink,
 * rmdir) and queries get no errno: cleanup must always be able to run. */
struct call_info {
	const char *name;
	int transfer;
	int errnos[4];
};

enum call {
	C_READ, C_WRITE, C_WRITEV, C_RECVMSG, C_SENDMSG, C_POLL, C_OPEN,
	C_CLOSE, C_PIPE2, C_MKFIFO, C_MKDTEMP, C_UNLINK, C_RMDIR, C_SOCKET,
	C_BIND, C_LISTEN, C_ACCEPT4, C_CONNECT, C_GETSOCKOPT, C_SETSOCKOPT,
	C_GETSOCKNAME, C_FCNTL, C_FSTAT, C_SPAWN, C_WAITPID, C_KILL,
	C_SIGMASK, C_SIGPENDING, C_SIGTIMEDWAIT, C_LSTAT, C_GETPID, C_GETEUID,
	C_SOCKETPAIR, C_MSGGET, C_MSGSND, C_MSGRCV, C_MSGCTL, C_FTOK, C_MQ_OPEN,
	C_MQ_CLOSE, C_MQ_UNLINK, C_MQ_TIMEDSEND, C_MQ_TIMEDRECEIVE, C_MQ_GETATTR,
	C_MQ_SETATTR, C_MQ_NOTIFY, C_PREAD, C_PPOLL,
	C_SIGACTION, C_SIGSUSPEND, C_SIGQUEUE, C_ALARM, C_TIMER_CREATE,
	C_TIMER_SETTIME, C_TIMER_DELETE, C_SIGNALFD, C_PIDFD_OPEN,
	C_SHMGET, C_SHMAT, C_SHMDT, C_SHMCTL, C_SHM_OPEN, C_SHM_UNLINK,
	C_FTRUNCATE, C_MMAP, C_MUNMAP, C_MEMFD_CREATE, C_SEMGET, C_SEMTIMEDOP,
	C_SEMCTL, C_SEM_OPEN, C_SEM_CLOSE, C_SEM_UNLINK, C_SEM_INIT,
	C_SEM_DESTROY, C_SEM_WAIT, C_SEM_TIMEDWAIT, C_SEM_TRYWAIT, C_SEM_POST,
	C_SEM_GETVALUE, C_FUTEX,
};

static const struct call_info calls[] = {
	[C_READ] = {"read", 1, {EINTR, EAGAIN}},
	[C_WRITE] = {"write", 1, {EINTR, EAGAIN, EPIPE}},
	[C_WRITEV] = {"writev", 1, {EINTR, EAGAIN, EPIPE}},
	[C_RECVMSG] = {"recvmsg", 1, {EINTR, EAGAIN, ENOMEM}},
	[C_SENDMSG] = {"sendmsg", 1, {EINTR, EAGAIN, EPIPE, ENOMEM}},
	[C_POLL] = {"poll", 0, {EINTR, ENOMEM}},
	[C_OPEN] = {"open", 0, {EINTR, ENOMEM}},
	[C_CLOSE] = {"close", 0, {0}},
	[C_PIPE2] = {"pipe2", 0, {0}},
	[C_MKFIFO] = {"mkfifo", 0, {ENOMEM}},
	[C_MKDTEMP] = {"mkdtemp", 0, {ENOMEM}},
	[C_UNLINK] = {"unlink", 0, {0}},
	[C_RMDIR] = {"rmdir", 0, {0}},
	[C_SOCKET] = {"socket", 0, {ENOMEM}},
	[C_BIND] = {"bind", 0, {ENOMEM}},
	[C_LISTEN] = {"listen", 0, {0}},
	[C_ACCEPT4] = {"accept4", 0, {EINTR, EAGAIN, ENOMEM}},
	[C_CONNECT] = {"connect", 0, {EINTR, EAGAIN}},
	[C_GETSOCKOPT] = {"getsockopt", 0, {0}},
	[C_SETSOCKOPT] = {"setsockopt", 0, {0}},
	[C_GETSOCKNAME] = {"getsockname", 0, {0}},
	[C_FCNTL] = {"fcntl", 0, {0}},
	[C_FSTAT] = {"fstat", 0, {0}},
	/* lstat decides whether a listener removes its socket file: a cleanup
	 * step, so it gets no errno either. */
	[C_LSTAT] = {"lstat", 0, {0}},
	[C_GETPID] = {"getpid", 0, {0}},
	[C_GETEUID] = {"geteuid", 0, {0}},
	[C_SPAWN] = {"posix_spawnp", 0, {ENOMEM}},
	[C_WAITPID] = {"waitpid", 0, {EINTR}},
	[C_KILL] = {"kill", 0, {0}},
	[C_SIGMASK] = {"pthread_sigmask", 0, {0}},
	[C_SIGPENDING] = {"sigpending", 0, {0}},
	/* Not EAGAIN: it means "nothing pending", and a caller consuming a
	 * pending SIGPIPE would then unblock it and die. */
	[C_SIGTIMEDWAIT] = {"sigtimedwait", 0, {EINTR}},
	[C_SOCKETPAIR] = {"socketpair", 0, {EMFILE}},
	/* Queues take or give a whole message or nothing: no short transfer.
	 * "Would block" (EAGAIN, ENOMSG, ETIMEDOUT) fits only a call that asked
	 * not to wait, or gave a deadline (see unfit below). */
	[C_MSGGET] = {"msgget", 0, {ENOSPC, ENOMEM}},
	[C_MSGSND] = {"msgsnd", 0, {EINTR, EAGAIN, ENOMEM}},
	[C_MSGRCV] = {"msgrcv", 0, {EINTR, ENOMSG}},
	[C_MSGCTL] = {"msgctl", 0, {0}},
	[C_FTOK] = {"ftok", 0, {0}},
	[C_MQ_OPEN] = {"mq_open", 0, {EMFILE, ENOMEM}},
	[C_MQ_CLOSE] = {"mq_close", 0, {0}},
	[C_MQ_UNLINK] = {"mq_unlink", 0, {0}},
	[C_MQ_TIMEDSEND] = {"mq_timedsend", 0, {EINTR, ETIMEDOUT, EAGAIN}},
	[C_MQ_TIMEDRECEIVE] = {"mq_timedreceive", 0, {EINTR, ETIMEDOUT, EAGAIN}},
	[C_MQ_GETATTR] = {"mq_getattr", 0, {0}},
	[C_MQ_SETATTR] = {"mq_setattr", 0, {0}},
	[C_MQ_NOTIFY] = {"mq_notify", 0, {0}},
	/* pread only takes /proc/sys numbers (stream.c), which the kernel
	 * gives whole from offset 0 or not at all: no short transfer. */
	[C_PREAD] = {"pread", 0, {EINTR}},
	/* ppoll is only the message core's (msg.c): its look at a link, a
	 * query whose answer decides whether a queue is removed, and the
	 * short sleeps of a wait without descriptor. Like the cleanup calls,
	 * it gets no errno. */
	[C_PPOLL] = {"ppoll", 0, {0}},
	/* The signal calls (signals.c). Installing and restoring an action,
	 * arming and deleting a timer and alarm cannot fail but for a bad
	 * argument: no errno. sigsuspend always ends in EINTR; a faulted one
	 * is a wakeup without a signal, which its caller must take as such.
	 * sigqueue's EAGAIN is RLIMIT_SIGPENDING reached; pidfd_open's ENOSYS
	 * an older kernel, which sends the caller to its SIGCHLD path. */
	[C_SIGACTION] = {"sigaction", 0, {0}},
	[C_SIGSUSPEND] = {"sigsuspend", 0, {EINTR}},
	[C_SIGQUEUE] = {"sigqueue", 0, {EAGAIN}},
	[C_ALARM] = {"alarm", 0, {0}},
	[C_TIMER_CREATE] = {"timer_create", 0, {EAGAIN}},
	[C_TIMER_SETTIME] = {"timer_settime", 0, {0}},
	[C_TIMER_DELETE] = {"timer_delete", 0, {0}},
	[C_SIGNALFD] = {"signalfd", 0, {EMFILE, ENOMEM}},
	[C_PIDFD_OPEN] = {"pidfd_open", 0, {ENOSYS, EMFILE}},
	/* Shared memory: making and mapping can run out (ENOMEM, ENOSPC,
	 * EMFILE); detaching, unmapping, removing and asking cannot fail but
	 * for a bad argument, and are cleanup: no errno. */
	[C_SHMGET] = {"shmget", 0, {ENOSPC, ENOMEM}},
	[C_SHMAT] = {"shmat", 0, {ENOMEM}},
	[C_SHMDT] = {"shmdt", 0, {0}},
	[C_SHMCTL] = {"shmctl", 0, {0}},
	[C_SHM_OPEN] = {"shm_open", 0, {EMFILE}},
	[C_SHM_UNLINK] = {"shm_unlink", 0, {0}},
	[C_FTRUNCATE] = {"ftruncate", 0, {EINTR}},
	[C_MMAP] = {"mmap", 0, {ENOMEM}},
	[C_MUNMAP] = {"munmap", 0, {0}},
	[C_MEMFD_CREATE] = {"memfd_create", 0, {EMFILE, ENOMEM}},
	/* Semaphores. A wait is interrupted (EINTR), times out only if it had
	 * a deadline and would block only if asked not to (see unfit below:
	 * semtimedop says both with EAGAIN); semop's SEM_UNDO can run out of
	 * memory. Posting, asking, closing, removing: no errno. */
	[C_SEMGET] = {"semget", 0, {ENOSPC, ENOMEM}},
	[C_SEMTIMEDOP] = {"semtimedop", 0, {EINTR, EAGAIN, ENOMEM}},
	[C_SEMCTL] = {"semctl", 0, {0}},
	[C_SEM_OPEN] = {"sem_open", 0, {EMFILE, ENOMEM}},
	[C_SEM_CLOSE] = {"sem_close", 0, {0}},
	[C_SEM_UNLINK] = {"sem_unlink", 0, {0}},
	[C_SEM_INIT] = {"sem_init", 0, {0}},
	[C_SEM_DESTROY] = {"sem_destroy", 0, {0}},
	[C_SEM_WAIT] = {"sem_wait", 0, {EINTR}},
	[C_SEM_TIMEDWAIT] = {"sem_timedwait", 0, {EINTR, ETIMEDOUT}},
	[C_SEM_TRYWAIT] = {"sem_trywait", 0, {EAGAIN}},
	[C_SEM_POST] = {"sem_post", 0, {0}},
	[C_SEM_GETVALUE] = {"sem_getvalue", 0, {0}},
	/* futex: only FUTEX_WAIT can be made to fail (a wakeup with nothing
	 * changed: EINTR; the word changed before the sleep: EAGAIN; the
	 * deadline, if it had one: ETIMEDOUT). A wake is never faulted: a
	 * lost wake would be a bug the seam made, not one it found. */
	[C_FUTEX] = {"futex", 0, {EINTR, EAGAIN, ETIMEDOUT}},
};

struct decision {
	enum ipc_fault_kind kind;
	long value;
};

struct log_entry {
	uint64_t number;
	enum call call;
	int fd;
	size_t size;
	struct decision d;
	long result;
	int err;
};

/* The process's plan and log. */
static struct {
	enum { PLAN_BYTES, PLAN_SEED, PLAN_PATTERN } source;
	uint8_t *bytes;
	size_t len;
	uint64_t rng;
	unsigned percent;
	enum ipc_fault_pattern pattern;
	int last_was_eintr;
	uint64_t eagain_candidates;
	int signals[MAX_SIGNALS];
	size_t nsignals;
	enum ipc_fault_sender sender;
	uint64_t calls;
	uint64_t injected;
	int hard_errno;
	uint64_t hash;
	struct log_entry log[LOG_SIZE];
} plan = {.source = PLAN_PATTERN, .hash = 14695981039346656037ull};

static void reset_log(void)
{
	plan.calls = 0;
	plan.injected = 0;
	plan.hard_errno = 0;
	plan.last_was_eintr = 0;
	plan.eagain_candidates = 0;
	plan.hash = 14695981039346656037ull;
}

static void drop_bytes(void)
{
	free(plan.bytes);
	plan.bytes = NULL;
	plan.len = 0;
}

void ipc_fault_plan_bytes(const uint8_t *bytes, size_t len)
{
	drop_bytes();
	reset_log();
	plan.source = PLAN_BYTES;
	if (len > 0) {
		plan.bytes = malloc(len);
		if (plan.bytes == NULL)
			abort(); /* a harness that cannot hold its plan cannot run */
		memcpy(plan.bytes, bytes, len);
		plan.len = len;
	}
}

void ipc_fault_plan_seed(uint64_t seed, unsigned percent)
{
	drop_bytes();
	reset_log();
	plan.source = PLAN_SEED;
	plan.rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ull;
	plan.percent = percent > 100 ? 100 : percent;
}

void ipc_fault_plan_pattern(enum ipc_fault_pattern pattern)
{
	drop_bytes();
	reset_log();
	plan.source = PLAN_PATTERN;
	plan.pattern = pattern;
}

void ipc_fault_plan_clear(void)
{
	ipc_fault_plan_pattern(IPC_PATTERN_NONE);
}

void ipc_fault_set_signals(const int *signals, size_t count)
{
	if (count > MAX_SIGNALS)
		count = MAX_SIGNALS;
	memcpy(plan.signals, signals, count * sizeof *signals);
	plan.nsignals = count;
}

void ipc_fault_set_sender(enum ipc_fault_sender sender)
{
	plan.sender = sender;
}

static size_t fitting_errnos(enum call c)
{
	size_t n = 0;

	while (n < 4 && calls[c].errnos[n] != 0)
		n++;
	return n;
}

static int fits(enum call c, int err)
{
	for (size_t i = 0; i < fitting_errnos(c); i++)
		if (calls[c].errnos[i] == err)
			return 1;
	return 0;
}

static uint64_t xorshift(void)
{
	uint64_t x = plan.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	plan.rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* The byte mapping of fault.h, shared by byte and seed plans. */
static struct decision from_byte(enum call c, size_t size, uint8_t b)
{
	struct decision d = {IPC_FAULT_PASS, 0};
	size_t n;

	if (b >= 0xA0 && b <= 0xBF && calls[c].transfer) {
		size_t k = 1 + (b & 0x1Fu);
		if (k < size)
			d = (struct decision){IPC_FAULT_SHORT, (long)k};
	} else if (b >= 0xC0 && b <= 0xDF && (n = fitting_errnos(c)) > 0) {
		d = (struct decision){IPC_FAULT_ERRNO, calls[c].errnos[(b & 0x1Fu) % n]};
	} else if (b >= 0xE0 && plan.nsignals > 0) {
		d = (struct decision){IPC_FAULT_SIGNAL, plan.signals[(b & 0x1Fu) % plan.nsignals]};
		if (plan.sender == IPC_SENDER_THREAD)
			d.kind = IPC_FAULT_SIGNAL_THREAD;
	}
	return d;
}

static struct decision from_pattern(enum call c, size_t size)
{
	struct decision pass = {IPC_FAULT_PASS, 0};

	switch (plan.pattern) {
	case IPC_PATTERN_SHORT_BY_ONE:
		if (calls[c].transfer && size > 1)
			return (struct decision){IPC_FAULT_SHORT, (long)(size - 1)};
		return pass;
	case IPC_PATTERN_EINTR_FIRST:
		/* Fail, then let the retry through: every call sees EINTR once. */
		if (fits(c, EINTR) && !plan.last_was_eintr)
			return (struct decision){IPC_FAULT_ERRNO, EINTR};
		return pass;
	case IPC_PATTERN_EAGAIN_ALTERNATE:
		if (fits(c, EAGAIN) && plan.eagain_candidates++ % 2 == 0)
			return (struct decision){IPC_FAULT_ERRNO, EAGAIN};
		return pass;
	case IPC_PATTERN_NONE:
		break;
	}
	return pass;
}

static struct decision decide(enum call c, size_t size)
{
	uint64_t i = plan.calls;

	switch (plan.source) {
	case PLAN_BYTES:
		if (i < plan.len)
			return from_byte(c, size, plan.bytes[i]);
		return (struct decision){IPC_FAULT_PASS, 0};
	case PLAN_SEED:
		if (xorshift() % 100 < plan.percent)
			return from_byte(c, size, (uint8_t)(0xA0 + xorshift() % 0x60));
		return (struct decision){IPC_FAULT_PASS, 0};
	case PLAN_PATTERN:
		return from_pattern(c, size);
	}
	return (struct decision){IPC_FAULT_PASS, 0};
}

static void hash_in(uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		plan.hash ^= (v >> (8 * i)) & 0xFF;
		plan.hash *= 1099511628211ull;
	}
}

/* Records one call. Results that vary from run to run for reasons outside
 * the plan (descriptor numbers, process ids) stay out of the hash; for
 * transfers the byte count goes in, for other calls only success or errno. */
static void record(enum call c, int fd, size_t size, struct decision d,
		   long result, int err)
{
	struct log_entry *e = &plan.log[plan.calls % LOG_SIZE];

	*e = (struct log_entry){plan.calls, c, fd, size, d, result, err};
	plan.calls++;
	if (d.kind != IPC_FAULT_PASS)
		plan.injected++;
	plan.last_was_eintr = d.kind == IPC_FAULT_ERRNO && d.value == EINTR;
	if (d.kind == IPC_FAULT_ERRNO && d.value != EINTR && d.value != EAGAIN)
		plan.hard_errno = (int)d.value;
	hash_in((uint64_t)c);
	hash_in((uint64_t)d.kind << 32 | (uint64_t)(uint32_t)d.value);
	if (calls[c].transfer) {
		hash_in(size);
		hash_in((uint64_t)result);
	} else {
		hash_in(result < 0 ? (uint64_t)err : 0);
	}
	hash_in((uint64_t)(result < 0 ? err : 0));
}

uint64_t ipc_fault_calls(void) { return plan.calls; }
uint64_t ipc_fault_injected(void) { return plan.injected; }
int ipc_fault_last_hard_errno(void) { return plan.hard_errno; }
uint64_t ipc_fault_log_hash(void) { return plan.hash; }

static void describe(const struct decision *d, char *buf, size_t len)
{
	switch (d->kind) {
	case IPC_FAULT_PASS: snprintf(buf, len, "pass"); break;
	case IPC_FAULT_SHORT: snprintf(buf, len, "short %ld", d->value); break;
	case IPC_FAULT_ERRNO: snprintf(buf, len, "fail %s", strerrorname_np((int)d->value)); break;
	case IPC_FAULT_SIGNAL: snprintf(buf, len, "signal %ld", d->value); break;
	case IPC_FAULT_SIGNAL_THREAD: snprintf(buf, len, "thread sig %ld", d->value); break;
	}
}

void ipc_fault_log_print(FILE *out)
{
	uint64_t first = plan.calls > LOG_SIZE ? plan.calls - LOG_SIZE : 0;

	fprintf(out, "fault seam: %" PRIu64 " calls, %" PRIu64 " faulted, log hash %016" PRIx64 "\n",
		plan.calls, plan.injected, plan.hash);
	for (uint64_t i = first; i < plan.calls; i++) {
		const struct log_entry *e = &plan.log[i % LOG_SIZE];
		char what[48];

		describe(&e->d, what, sizeof what);
		fprintf(out, "  #%-6" PRIu64 " %-15s fd %-3d size %-9zu %-14s -> %ld%s%s\n",
			e->number, calls[e->call].name, e->fd, e->size, what, e->result,
			e->result < 0 ? " " : "", e->result < 0 ? strerrorname_np(e->err) : "");
	}
}

/* ---- the signal sender ---------------------------------------------------- */

/*
 * IPC_SENDER_THREAD (fault.h) sends through one thread per process, started
 * on first use with every signal blocked: the kernel can never hand it a
 * process-directed signal, and it never runs a handler. (A thread started
 * for each signal made each a clone and, under ASan, a thread's set-up and
 * tear-down: most of a signal-timing fuzz run.) It waits for a request,
 * sends it with pthread_kill and answers "sent". Callers take turns: one
 * request is posted at a time. The thread lives until the process exits;
 * a fork's child has none, so the child handler below forgets it and the
 * child starts its own on first use.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t posted;   /* a request is there for the thread */
	pthread_cond_t answered; /* a request was sent, or the turn is free */
	int running;             /* the thread was started in this process */
	int busy;                /* a caller's turn: from its post to "sent" */
	int sig;                 /* the request, 0 once sent */
	pthread_t target;
} sender = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.posted = PTHREAD_COND_INITIALIZER,
	.answered = PTHREAD_COND_INITIALIZER,
};

static pthread_once_t sender_once = PTHREAD_ONCE_INIT;

static void *sender_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&sender.lock);
	for (;;) {
		while (sender.sig == 0)
			pthread_cond_wait(&sender.posted, &sender.lock);
		pthread_kill(sender.target, sender.sig);
		sender.sig = 0;
		pthread_cond_broadcast(&sender.answered);
	}
	return NULL;
}

/* A fork while a caller or the thread holds the lock would leave it held
 * in the child, by a thread the child does not have: the forking thread
 * takes it first, and releases it on both sides. The child's conditions
 * may count waiters that only the parent has, so they start afresh. */
static void sender_fork_prepare(void) { pthread_mutex_lock(&sender.lock); }
static void sender_fork_parent(void) { pthread_mutex_unlock(&sender.lock); }

static void sender_fork_child(void)
{
	pthread_cond_init(&sender.posted, NULL);
	pthread_cond_init(&sender.answered, NULL);
	sender.running = 0;
	sender.busy = 0;
	sender.sig = 0;
	pthread_mutex_unlock(&sender.lock);
}

static void sender_register_fork(void)
{
	pthread_atfork(sender_fork_prepare, sender_fork_parent, sender_fork_child);
}

/* With sender.lock held and every signal blocked, which the new thread
 * inherits. Returns whether the thread runs. */
static int sender_start(void)
{
	pthread_t t;

	if (!sender.running)
		sender.running = pthread_create(&t, NULL, sender_main, NULL) == 0;
	return sender.running;
}

/* With sender.lock held: waits for the turn, posts sig for this thread,
 * and waits until it was sent. */
static void sender_send(int sig)
{
	while (sender.busy)
		pthread_cond_wait(&sender.answered, &sender.lock);
	sender.busy = 1;
	sender.target = pthread_self();
	sender.sig = sig;
	pthread_cond_signal(&sender.posted);
	while (sender.sig != 0)
		pthread_cond_wait(&sender.answered, &sender.lock);
	sender.busy = 0;
	pthread_cond_broadcast(&sender.answered);
}

/*
 * IPC_SENDER_THREAD (fault.h): the sender thread sends sig to this thread,
 * which blocks every signal until it has (so the handler cannot run inside
 * the wait, nor inside a lock). Once the mask is back the signal, sent by
 * another thread of this process (SI_TKILL), is pending here; the return of
 * the next system call runs the handler, unless sig is blocked: the
 * restoring call's or sigpending's, before the decided call either way. If
 * no thread can be started the signal is raised, so it still lands here.
 */
static void signal_from_thread(int sig)
{
	sigset_t all, old, pending;
	int started;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_once(&sender_once, sender_register_fork);
	pthread_mutex_lock(&sender.lock);
	started = sender_start();
	if (started)
		sender_send(sig);
	pthread_mutex_unlock(&sender.lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started) {
		raise(sig);
		return;
	}
	sigpending(&pending);
}

/* ---- the calls ----------------------------------------------------------- */

/* Every wrapper: decide; a failure returns at once; a signal is sent
 * before the call; the call runs (maybe shortened); the outcome is logged. */
static struct decision begin(enum call c, size_t size)
{
	struct decision d = decide(c, size);

	if (d.kind == IPC_FAULT_SIGNAL)
		raise((int)d.value);
	else if (d.kind == IPC_FAULT_SIGNAL_THREAD)
		signal_from_thread((int)d.value);
	return d;
}

static long finish(enum call c, int fd, size_t size, struct decision d,
		   long result)
{
	int err = errno;

	record(c, fd, size, d, result, result < 0 ? err : 0);
	errno = err;
	return result;
}

static long failed(enum call c, int fd, size_t size, struct decision d)
{
	errno = (int)d.value;
	return finish(c, fd, size, d, -1);
}

#define FAULTED(d) ((d).kind == IPC_FAULT_ERRNO)
#define SHORTEN(d, size) ((d).kind == IPC_FAULT_SHORT ? (size_t)(d).value : (size))

static size_t iov_total(const struct iovec *iov, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}

/* Copies iov into out, cut to `limit` bytes; returns the entries used. */
static int iov_cut(const struct iovec *iov, size_t n, size_t limit,
		   struct iovec out[MAX_IOV])
{
	size_t used = 0;

	for (size_t i = 0; i < n && i < MAX_IOV && limit > 0; i++) {
		out[used] = iov[i];
		if (out[used].iov_len > limit)
			out[used].iov_len = limit;
		limit -= out[used].iov_len;
		used++;
	}
	return (int)used;
}

/* A copy of m whose data is cut to `limit` bytes, over iovecs in cut. */
static struct msghdr msghdr_cut(const struct msghdr *m, size_t limit,
				struct iovec cut[MAX_IOV])
{
	struct msghdr shorter = *m;

	shorter.msg_iov = cut;
	shorter.msg_iovlen = (size_t)iov_cut(m->msg_iov, m->msg_iovlen, limit, cut);
	return shorter;
}

/* A signalfd gives whole records only: a read shorter than one is EINVAL,
 * not a short transfer a caller could resume. So on a signalfd a short
 * decision is a pass. (The seam's own look at the descriptor: not decided,
 * not logged.) */
static struct decision whole_records(struct decision d, int fd)
{
	char link[64], target[32];
	ssize_t n;

	if (d.kind != IPC_FAULT_SHORT)
		return d;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof target - 1);
	if (n > 0) {
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[signalfd]") == 0)
			d = (struct decision){IPC_FAULT_PASS, 0};
	}
	return d;
}

ssize_t sys_read(int fd, void *buf, size_t len)
{
	struct decision d = whole_records(begin(C_READ, len), fd);

	if (FAULTED(d))
		return failed(C_READ, fd, len, d);
	return finish(C_READ, fd, len, d, read(fd, buf, SHORTEN(d, len)));
}

ssize_t sys_pread(int fd, void *buf, size_t len, off_t at)
{
	struct decision d = begin(C_PREAD, len);

	if (FAULTED(d))
		return failed(C_PREAD, fd, len, d);
	return finish(C_PREAD, fd, len, d, pread(fd, buf, SHORTEN(d, len), at));
}

ssize_t sys_write(int fd, const void *buf, size_t len)
{
	struct decision d = begin(C_WRITE, len);

	if (FAULTED(d))
		return failed(C_WRITE, fd, len, d);
	return finish(C_WRITE, fd, len, d, write(fd, buf, SHORTEN(d, len)));
}

ssize_t sys_writev(int fd, const struct iovec *iov, int n)
{
	size_t size = iov_total(iov, (size_t)n);
	struct decision d = begin(C_WRITEV, size);
	struct iovec cut[MAX_IOV];

	if (FAULTED(d))
		return failed(C_WRITEV, fd, size, d);
	if (d.kind == IPC_FAULT_SHORT)
		return finish(C_WRITEV, fd, size, d,
			      writev(fd, cut, iov_cut(iov, (size_t)n, (size_t)d.value, cut)));
	return finish(C_WRITEV, fd, size, d, writev(fd, iov, n));
}

/* A datagram or seqpacket socket moves whole messages: a shortened sendmsg
 * would send a shorter message, which the receiver takes as it is, and a
 * shortened recvmsg would cut one and lose its rest. Neither is a short
 * transfer a caller could resume, so on such a socket a short decision is
 * a pass. (The socket's type is the seam's own query: not decided, not
 * logged.) */
static struct decision whole_messages(struct decision d, int fd)
{
	int type;
	socklen_t len = sizeof type;

	if (d.kind == IPC_FAULT_SHORT &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type != SOCK_STREAM)
		d = (struct decision){IPC_FAULT_PASS, 0};
	return d;
}

ssize_t sys_recvmsg(int fd, struct msghdr *m, int flags)
{
	size_t size = iov_total(m->msg_iov, m->msg_iovlen);
	struct decision d = whole_messages(begin(C_RECVMSG, size), fd);
	struct iovec cut[MAX_IOV];
	struct msghdr shorter;
	long r;

	if (FAULTED(d))
		return failed(C_RECVMSG, fd, size, d);
	if (d.kind != IPC_FAULT_SHORT)
		return finish(C_RECVMSG, fd, size, d, recvmsg(fd, m, flags));
	shorter = msghdr_cut(m, (size_t)d.value, cut);
	r = recvmsg(fd, &shorter, flags);
	m->msg_controllen = shorter.msg_controllen;
	m->msg_flags = shorter.msg_flags;
	m->msg_namelen = shorter.msg_namelen;
	return finish(C_RECVMSG, fd, size, d, r);
}

ssize_t sys_sendmsg(int fd, const struct msghdr *m, int flags)
{
	size_t size = iov_total(m->msg_iov, m->msg_iovlen);
	struct decision d = whole_messages(begin(C_SENDMSG, size), fd);
	struct iovec cut[MAX_IOV];
	struct msghdr shorter;

	if (FAULTED(d))
		return failed(C_SENDMSG, fd, size, d);
	if (d.kind != IPC_FAULT_SHORT)
		return finish(C_SENDMSG, fd, size, d, sendmsg(fd, m, flags));
	shorter = msghdr_cut(m, (size_t)d.value, cut);
	return finish(C_SENDMSG, fd, size, d, sendmsg(fd, &shorter, flags));
}

/* Calls that move no bytes all have this shape. */
#define PLAIN_CALL(c, fd, call)                                   \
	do {                                                      \
		struct decision d_ = begin((c), 0);               \
		if (FAULTED(d_))                                  \
			return failed((c), (fd), 0, d_);          \
		return finish((c), (fd), 0, d_, (long)(call));    \
	} while (0)

int sys_poll(struct pollfd *fds, nfds_t n, int ms)
{
	PLAIN_CALL(C_POLL, n > 0 ? fds[0].fd : -1, poll(fds, n, ms));
}

int sys_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t,
	      const sigset_t *mask)
{
	PLAIN_CALL(C_PPOLL, n > 0 ? fds[0].fd : -1, ppoll(fds, n, t, mask));
}

int sys_open(const char *path, int flags, mode_t mode)
{
	PLAIN_CALL(C_OPEN, -1, open(path, flags, mode));
}

int sys_close(int fd) { PLAIN_CALL(C_CLOSE, fd, close(fd)); }
int sys_pipe2(int fds[2], int flags) { PLAIN_CALL(C_PIPE2, -1, pipe2(fds, flags)); }
int sys_mkfifo(const char *path, mode_t mode) { PLAIN_CALL(C_MKFIFO, -1, mkfifo(path, mode)); }
int sys_unlink(const char *path) { PLAIN_CALL(C_UNLINK, -1, unlink(path)); }
int sys_rmdir(const char *path) { PLAIN_CALL(C_RMDIR, -1, rmdir(path)); }
int sys_socket(int domain, int type, int proto) { PLAIN_CALL(C_SOCKET, -1, socket(domain, type, proto)); }
int sys_bind(int fd, const struct sockaddr *a, socklen_t n) { PLAIN_CALL(C_BIND, fd, bind(fd, a, n)); }
int sys_listen(int fd, int backlog) { PLAIN_CALL(C_LISTEN, fd, listen(fd, backlog)); }

int sys_accept4(int fd, struct sockaddr *a, socklen_t *n, int flags)
{
	PLAIN_CALL(C_ACCEPT4, fd, accept4(fd, a, n, flags));
}

int sys_connect(int fd, const struct sockaddr *a, socklen_t n)
{
	PLAIN_CALL(C_CONNECT, fd, connect(fd, a, n));
}

int sys_getsockopt(int fd, int lvl, int opt, void *v, socklen_t *n)
{
	PLAIN_CALL(C_GETSOCKOPT, fd, getsockopt(fd, lvl, opt, v, n));
}

int sys_setsockopt(int fd, int lvl, int opt, const void *v, socklen_t n)
{
	PLAIN_CALL(C_SETSOCKOPT, fd, setsockopt(fd, lvl, opt, v, n));
}

int sys_getsockname(int fd, struct sockaddr *a, socklen_t *n)
{
	PLAIN_CALL(C_GETSOCKNAME, fd, getsockname(fd, a, n));
}

int sys_fcntl(int fd, int cmd, int arg) { PLAIN_CALL(C_FCNTL, fd, fcntl(fd, cmd, arg)); }
int sys_fstat(int fd, struct stat *st) { PLAIN_CALL(C_FSTAT, fd, fstat(fd, st)); }
int sys_lstat(const char *path, struct stat *st) { PLAIN_CALL(C_LSTAT, -1, lstat(path, st)); }
pid_t sys_getpid(void) { PLAIN_CALL(C_GETPID, -1, getpid()); }
uid_t sys_geteuid(void) { PLAIN_CALL(C_GETEUID, -1, geteuid()); }
pid_t sys_waitpid(pid_t pid, int *status, int options) { PLAIN_CALL(C_WAITPID, -1, waitpid(pid, status, options)); }
int sys_kill(pid_t pid, int sig) { PLAIN_CALL(C_KILL, -1, kill(pid, sig)); }

int sys_sigpending(sigset_t *set) { PLAIN_CALL(C_SIGPENDING, -1, sigpending(set)); }

int sys_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
	PLAIN_CALL(C_SIGTIMEDWAIT, -1, sigtimedwait(set, info, timeout));
}

char *sys_mkdtemp(char *tmpl)
{
	struct decision d = begin(C_MKDTEMP, 0);
	char *r;

	if (FAULTED(d)) {
		failed(C_MKDTEMP, -1, 0, d);
		return NULL;
	}
	r = mkdtemp(tmpl);
	finish(C_MKDTEMP, -1, 0, d, r == NULL ? -1 : 0);
	return r;
}

/* These two return an error number instead of setting errno. */
int sys_posix_spawnp(pid_t *pid, const char *file,
		     const posix_spawn_file_actions_t *fa,
		     const posix_spawnattr_t *attr, char *const argv[],
		     char *const envp[])
{
	struct decision d = begin(C_SPAWN, 0);
	int rc;

	if (FAULTED(d)) {
		failed(C_SPAWN, -1, 0, d);
		return (int)d.value;
	}
	rc = posix_spawnp(pid, file, fa, attr, argv, envp);
	errno = rc;
	finish(C_SPAWN, -1, 0, d, rc == 0 ? 0 : -1);
	return rc;
}

int sys_pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	struct decision d = begin(C_SIGMASK, 0);
	int rc = pthread_sigmask(how, set, old);

	errno = rc;
	finish(C_SIGMASK, -1, 0, d, rc == 0 ? 0 : -1);
	return rc;
}

/* ---- queues ------------------------------------------------------------- */

/* A decision to fail with err, when the call could not have failed so (it
 * would have waited instead), becomes a pass. */
static struct decision unfit(struct decision d, int err, int can_fail_so)
{
	if (d.kind == IPC_FAULT_ERRNO && d.value == err && !can_fail_so)
		d.kind = IPC_FAULT_PASS;
	return d;
}

int sys_socketpair(int domain, int type, int proto, int sv[2])
{
	PLAIN_CALL(C_SOCKETPAIR, -1, socketpair(domain, type, proto, sv));
}

int sys_msgget(key_t key, int flags) { PLAIN_CALL(C_MSGGET, -1, msgget(key, flags)); }

int sys_msgsnd(int id, const void *msg, size_t len, int flags)
{
	struct decision d = unfit(begin(C_MSGSND, len), EAGAIN, flags & IPC_NOWAIT);

	if (FAULTED(d))
		return (int)failed(C_MSGSND, id, len, d);
	return (int)finish(C_MSGSND, id, len, d, msgsnd(id, msg, len, flags));
}

ssize_t sys_msgrcv(int id, void *msg, size_t len, long type, int flags)
{
	struct decision d = unfit(begin(C_MSGRCV, len), ENOMSG, flags & IPC_NOWAIT);

	if (FAULTED(d))
		return failed(C_MSGRCV, id, len, d);
	return finish(C_MSGRCV, id, len, d, msgrcv(id, msg, len, type, flags));
}

int sys_msgctl(int id, int cmd, struct msqid_ds *ds) { PLAIN_CALL(C_MSGCTL, id, msgctl(id, cmd, ds)); }
key_t sys_ftok(const char *path, int id) { PLAIN_CALL(C_FTOK, -1, ftok(path, id)); }

mqd_t sys_mq_open(const char *name, int flags, mode_t mode, struct mq_attr *attr)
{
	PLAIN_CALL(C_MQ_OPEN, -1, mq_open(name, flags, mode, attr));
}

int sys_mq_close(mqd_t q) { PLAIN_CALL(C_MQ_CLOSE, q, mq_close(q)); }
int sys_mq_unlink(const char *name) { PLAIN_CALL(C_MQ_UNLINK, -1, mq_unlink(name)); }

/* EAGAIN fits a non-blocking descriptor, ETIMEDOUT a call with a deadline. */
static struct decision mq_decision(enum call c, mqd_t q, size_t len,
				   const struct timespec *at)
{
	struct decision d = begin(c, len);
	struct mq_attr attr = {0}; /* set here, as MSan cannot see the kernel set it */
	int nonblocking = mq_getattr(q, &attr) == 0 && (attr.mq_flags & O_NONBLOCK);

	d = unfit(d, EAGAIN, nonblocking);
	return unfit(d, ETIMEDOUT, at != NULL && !nonblocking);
}

int sys_mq_timedsend(mqd_t q, const char *msg, size_t len, unsigned prio,
		     const struct timespec *at)
{
	struct decision d = mq_decision(C_MQ_TIMEDSEND, q, len, at);

	if (FAULTED(d))
		return (int)failed(C_MQ_TIMEDSEND, q, len, d);
	return (int)finish(C_MQ_TIMEDSEND, q, len, d, mq_timedsend(q, msg, len, prio, at));
}

ssize_t sys_mq_timedreceive(mqd_t q, char *msg, size_t len, unsigned *prio,
			    const struct timespec *at)
{
	struct decision d = mq_decision(C_MQ_TIMEDRECEIVE, q, len, at);

	if (FAULTED(d))
		return failed(C_MQ_TIMEDRECEIVE, q, len, d);
	return finish(C_MQ_TIMEDRECEIVE, q, len, d, mq_timedreceive(q, msg, len, prio, at));
}

int sys_mq_getattr(mqd_t q, struct mq_attr *attr) { PLAIN_CALL(C_MQ_GETATTR, q, mq_getattr(q, attr)); }

int sys_mq_setattr(mqd_t q, const struct mq_attr *attr, struct mq_attr *old)
{
	PLAIN_CALL(C_MQ_SETATTR, q, mq_setattr(q, attr, old));
}

int sys_mq_notify(mqd_t q, const struct sigevent *sev) { PLAIN_CALL(C_MQ_NOTIFY, q, mq_notify(q, sev)); }

/* ---- signals ------------------------------------------------------------ */

int sys_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	PLAIN_CALL(C_SIGACTION, -1, sigaction(sig, act, old));
}

int sys_sigsuspend(const sigset_t *mask) { PLAIN_CALL(C_SIGSUSPEND, -1, sigsuspend(mask)); }

int sys_sigqueue(pid_t pid, int sig, const union sigval value)
{
	PLAIN_CALL(C_SIGQUEUE, -1, sigqueue(pid, sig, value));
}

/* alarm cannot fail and returns seconds, not -1 on error. */
unsigned sys_alarm(unsigned seconds)
{
	struct decision d = begin(C_ALARM, 0);
	unsigned left = alarm(seconds);

	finish(C_ALARM, -1, 0, d, (long)left);
	return left;
}

int sys_timer_create(clockid_t clock, struct sigevent *sev, timer_t *t)
{
	PLAIN_CALL(C_TIMER_CREATE, -1, timer_create(clock, sev, t));
}

int sys_timer_settime(timer_t t, int flags, const struct itimerspec *value,
		      struct itimerspec *old)
{
	PLAIN_CALL(C_TIMER_SETTIME, -1, timer_settime(t, flags, value, old));
}

int sys_timer_delete(timer_t t) { PLAIN_CALL(C_TIMER_DELETE, -1, timer_delete(t)); }

int sys_signalfd(int fd, const sigset_t *mask, int flags)
{
	PLAIN_CALL(C_SIGNALFD, fd, signalfd(fd, mask, flags));
}

int sys_pidfd_open(pid_t pid, unsigned flags) { PLAIN_CALL(C_PIDFD_OPEN, -1, pidfd_open(pid, flags)); }

/* ---- shared memory ------------------------------------------------------- */

int sys_shmget(key_t key, size_t size, int flags)
{
	PLAIN_CALL(C_SHMGET, -1, shmget(key, size, flags));
}

/* Calls that return a pointer: the log holds 0 or -1. */
#define POINTER_CALL(c, fd, type, fail, call)                                \
	do {                                                                 \
		struct decision d_ = begin((c), 0);                          \
		type p_;                                                     \
		if (FAULTED(d_)) {                                           \
			failed((c), (fd), 0, d_);                            \
			return (fail);                                       \
		}                                                            \
		p_ = (call);                                                 \
		finish((c), (fd), 0, d_, p_ == (fail) ? -1 : 0);             \
		return p_;                                                   \
	} while (0)

void *sys_shmat(int id, const void *addr, int flags)
{
	POINTER_CALL(C_SHMAT, id, void *, (void *)-1, shmat(id, addr, flags));
}

int sys_shmdt(const void *addr) { PLAIN_CALL(C_SHMDT, -1, shmdt(addr)); }
int sys_shmctl(int id, int cmd, struct shmid_ds *ds) { PLAIN_CALL(C_SHMCTL, id, shmctl(id, cmd, ds)); }

int sys_shm_open(const char *name, int flags, mode_t mode)
{
	PLAIN_CALL(C_SHM_OPEN, -1, shm_open(name, flags, mode));
}

int sys_shm_unlink(const char *name) { PLAIN_CALL(C_SHM_UNLINK, -1, shm_unlink(name)); }
int sys_ftruncate(int fd, off_t len) { PLAIN_CALL(C_FTRUNCATE, fd, ftruncate(fd, len)); }

void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	POINTER_CALL(C_MMAP, fd, void *, MAP_FAILED,
		     mmap(addr, len, prot, flags, fd, off));
}

int sys_munmap(void *addr, size_t len) { PLAIN_CALL(C_MUNMAP, -1, munmap(addr, len)); }

int sys_memfd_create(const char *name, unsigned flags)
{
	PLAIN_CALL(C_MEMFD_CREATE, -1, memfd_create(name, flags));
}

/* ---- semaphores ---------------------------------------------------------- */

int sys_semget(key_t key, int nsems, int flags) { PLAIN_CALL(C_SEMGET, -1, semget(key, nsems, flags)); }

static int any_nowait(const struct sembuf *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].sem_flg & IPC_NOWAIT)
			return 1;
	return 0;
}

int sys_semtimedop(int id, struct sembuf *ops, size_t n,
		   const struct timespec *timeout)
{
	struct decision d = begin(C_SEMTIMEDOP, 0);

	d = unfit(d, EAGAIN, any_nowait(ops, n) || timeout != NULL);
	if (FAULTED(d))
		return (int)failed(C_SEMTIMEDOP, id, 0, d);
	return (int)finish(C_SEMTIMEDOP, id, 0, d, semtimedop(id, ops, n, timeout));
}

int sys_semctl(int id, int num, int cmd, union ipc_semun arg)
{
	PLAIN_CALL(C_SEMCTL, id, semctl(id, num, cmd, arg));
}

sem_t *sys_sem_open(const char *name, int flags, mode_t mode, unsigned value)
{
	POINTER_CALL(C_SEM_OPEN, -1, sem_t *, SEM_FAILED,
		     sem_open(name, flags, mode, value));
}

int sys_sem_close(sem_t *s) { PLAIN_CALL(C_SEM_CLOSE, -1, sem_close(s)); }
int sys_sem_unlink(const char *name) { PLAIN_CALL(C_SEM_UNLINK, -1, sem_unlink(name)); }
int sys_sem_init(sem_t *s, int pshared, unsigned value) { PLAIN_CALL(C_SEM_INIT, -1, sem_init(s, pshared, value)); }
int sys_sem_destroy(sem_t *s) { PLAIN_CALL(C_SEM_DESTROY, -1, sem_destroy(s)); }
int sys_sem_wait(sem_t *s) { PLAIN_CALL(C_SEM_WAIT, -1, sem_wait(s)); }

int sys_sem_timedwait(sem_t *s, const struct timespec *at)
{
	PLAIN_CALL(C_SEM_TIMEDWAIT, -1, sem_timedwait(s, at));
}

int sys_sem_trywait(sem_t *s) { PLAIN_CALL(C_SEM_TRYWAIT, -1, sem_trywait(s)); }
int sys_sem_post(sem_t *s) { PLAIN_CALL(C_SEM_POST, -1, sem_post(s)); }
int sys_sem_getvalue(sem_t *s, int *value) { PLAIN_CALL(C_SEM_GETVALUE, -1, sem_getvalue(s, value)); }

/* ---- futex --------------------------------------------------------------- */

long sys_futex(uint32_t *word, int op, uint32_t val,
	       const struct timespec *timeout)
{
	int waits = (op & FUTEX_CMD_MASK) == FUTEX_WAIT;
	struct decision d = begin(C_FUTEX, 0);

	if (!waits && d.kind == IPC_FAULT_ERRNO)
		d.kind = IPC_FAULT_PASS;
	d = unfit(d, ETIMEDOUT, waits && timeout != NULL);
	if (FAULTED(d))
		return failed(C_FUTEX, -1, 0, d);
	return finish(C_FUTEX, -1, 0, d,
		      syscall(SYS_futex, word, op, val, timeout, NULL, 0));
}
