/*
 * The fault seam's signal sender (IPC_SENDER_THREAD, include/ipc/fault.h):
 * a SIGNAL decision sent by another thread of the process runs its handler
 * in the calling thread, with the siginfo of a tgkill, before the decided
 * call returns; one sender thread serves every signal of a process and
 * stays between them; a fork's child, which has no sender thread, starts
 * its own, even when the fork came while another thread was sending.
 *
 * Each check that could hang (a child waiting for a sender it does not
 * have) runs in a child, killed by the parent at a deadline.
 */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/fault.h"
#include "sys.h"

#define SIG (SIGRTMIN + 1)
#define SIGNAL_BYTE 0xE0 /* the first registered signal (fault.h) */
#define MANY 50
#define BUSY_SIGNALS 2000
#define FORKS 25
#define CHILD_DEADLINE_S 10 /* generous: memcheck is slow at thread start */

/* ThreadSanitizer does not support a thread started in the child of a
 * process with threads: the fork checks, which test exactly that, are
 * skipped under it. */
#if defined(__SANITIZE_THREAD__)
#define FORK_STARTS_THREADS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FORK_STARTS_THREADS 0
#endif
#endif
#ifndef FORK_STARTS_THREADS
#define FORK_STARTS_THREADS 1
#endif

static atomic_int handled;
static atomic_int last_code;
static atomic_int last_pid;
static atomic_long last_tid;
static _Atomic uint64_t calls_logged; /* by the seam when the handler ran */

static struct sigaction saved_action;
static sigset_t saved_mask;

static long current_tid(void) { return syscall(SYS_gettid); }

static void on_signal(int signo, siginfo_t *info, void *context)
{
	(void)signo;
	(void)context;
	atomic_store(&last_code, info->si_code);
	atomic_store(&last_pid, info->si_pid);
	atomic_store(&last_tid, current_tid());
	atomic_store(&calls_logged, ipc_fault_calls());
	atomic_fetch_add(&handled, 1);
}

static int setup(void **state)
{
	struct sigaction act = {0};
	int sig = SIG;

	(void)state;
	act.sa_sigaction = on_signal;
	act.sa_flags = SA_SIGINFO;
	sigemptyset(&act.sa_mask);
	pthread_sigmask(SIG_BLOCK, NULL, &saved_mask);
	sigaction(SIG, &act, &saved_action);
	ipc_fault_set_signals(&sig, 1);
	ipc_fault_set_sender(IPC_SENDER_THREAD);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ipc_fault_set_sender(IPC_SENDER_RAISE);
	ipc_fault_set_signals(&(int){SIG}, 0);
	ipc_fault_plan_clear();
	sigaction(SIG, &saved_action, NULL);
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	return 0;
}

/* A plan whose first n calls each get a signal decision. */
static void plan_signals(size_t n)
{
	uint8_t *bytes = test_malloc(n);

	memset(bytes, SIGNAL_BYTE, n);
	ipc_fault_plan_bytes(bytes, n);
	test_free(bytes);
}

/* The threads of this process, from /proc/self/task. */
static int count_threads(void)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (dir == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Runs fn in a child; returns its exit status, or 128 + the signal that
 * ended it. A child that hangs in the sender's wait has every signal
 * blocked, so no alarm of its own could end it: the parent kills it at the
 * deadline (128 + SIGKILL: it hung). */
static int in_child(int (*fn)(void))
{
	struct timespec tick = {0, 10 * 1000 * 1000};
	pid_t pid = fork();
	int status, waited = 0;
	pid_t r;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (waited++ == CHILD_DEADLINE_S * 100)
			kill(pid, SIGKILL);
		nanosleep(&tick, NULL);
	}
	assert_int_equal(r, pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the tests ------------------------------------------------------------ */

static void test_handler_runs_in_caller_before_return(void **state)
{
	int before = atomic_load(&handled);

	(void)state;
	plan_signals(1);
	assert_int_equal(sys_getpid(), getpid());
	assert_int_equal(atomic_load(&handled), before + 1);
	assert_int_equal(atomic_load(&last_code), SI_TKILL);
	assert_int_equal(atomic_load(&last_pid), getpid());
	assert_int_equal(atomic_load(&last_tid), current_tid());
	assert_int_equal(atomic_load(&calls_logged), 0); /* before the call */
	assert_int_equal(ipc_fault_calls(), 1);
	assert_int_equal(ipc_fault_injected(), 1);
}

/* A signal blocked in the calling thread stays pending, either sender. */
static void test_blocked_signal_stays_pending(void **state)
{
	int before = atomic_load(&handled);
	sigset_t one, pending;
	struct timespec zero = {0, 0};

	(void)state;
	sigemptyset(&one);
	sigaddset(&one, SIG);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	plan_signals(1);
	sys_getpid();
	sigpending(&pending);
	assert_true(sigismember(&pending, SIG));
	assert_int_equal(atomic_load(&handled), before);
	assert_int_equal(sigtimedwait(&one, NULL, &zero), SIG);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
}

/* In a fresh process: the first signal adds one thread, which stays, and
 * the next signals add none. */
static int one_sender_for_many_signals(void)
{
	int threads = count_threads();
	int before = atomic_load(&handled);

	plan_signals(MANY);
	for (int i = 0; i < MANY; i++)
		sys_getpid();
	if (atomic_load(&handled) != before + MANY)
		return 1;
	if (atomic_load(&last_tid) != current_tid())
		return 2;
	return count_threads() == threads + 1 ? 0 : 3;
}

static void test_one_sender_thread_per_process(void **state)
{
	(void)state;
	if (!FORK_STARTS_THREADS)
		skip();
	assert_int_equal(in_child(one_sender_for_many_signals), 0);
}

/* The parent's sender is running when it forks: the child has no such
 * thread, and must start its own instead of waiting for the parent's. */
static void test_fork_child_starts_its_own_sender(void **state)
{
	(void)state;
	if (!FORK_STARTS_THREADS)
		skip();
	plan_signals(1);
	sys_getpid();
	assert_int_equal(in_child(one_sender_for_many_signals), 0);
}

static void *send_many(void *unused)
{
	(void)unused;
	for (int i = 0; i < BUSY_SIGNALS; i++)
		sys_getpid();
	return NULL;
}

/* Forks while another thread sends signal after signal, so that the
 * sender's lock is often held at the fork: no child may hang on it. */
static void test_fork_while_another_thread_sends(void **state)
{
	int before = atomic_load(&handled);
	pthread_t t;

	(void)state;
	if (!FORK_STARTS_THREADS)
		skip();
	plan_signals(BUSY_SIGNALS);
	assert_int_equal(pthread_create(&t, NULL, send_many, NULL), 0);
	for (int i = 0; i < FORKS; i++)
		assert_int_equal(in_child(one_sender_for_many_signals), 0);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&handled), before + BUSY_SIGNALS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handler_runs_in_caller_before_return),
		cmocka_unit_test(test_blocked_signal_stays_pending),
		cmocka_unit_test(test_one_sender_thread_per_process),
		cmocka_unit_test(test_fork_child_starts_its_own_sender),
		cmocka_unit_test(test_fork_while_another_thread_sends),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
