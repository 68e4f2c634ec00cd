/*
 * Signals against the kernel's rules: a blocked signal stays pending and
 * arrives on unblock, standard signals coalesce while real-time ones queue
 * in order with their values, SIGKILL and SIGSTOP cannot be caught, blocked
 * or ignored, SA_RESTART decides between EINTR and a resumed read, alarm
 * wakes pause, sigsuspend loses no wakeup, SIGCHLD carries the child's
 * status, fork inherits mask and handlers and exec resets the caught ones.
 * Then the project's API (include/ipc/signals.h): both notifiers, the
 * sigqueue channel and its full queue, child exit as an event, timers.
 *
 * Real-time signals (SIGRTMIN + k) wherever the rule allows. Every wait
 * that could hang runs in a child with an alarm, reaped with a deadline;
 * the teardown puts back every action and the mask, drops what is pending
 * and checks that no child (nor zombie) is left.
 */
#include "mech_support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/signals.h"

#define RT(k) (SIGRTMIN + (k))
#define WAIT_MS 3000

static struct sigaction saved_actions[NSIG];
static sigset_t saved_mask;

/* ---- fixture ------------------------------------------------------------- */

static int catchable(int signo)
{
	return signo != SIGKILL && signo != SIGSTOP &&
	       (signo < SIGRTMIN - 2 || signo >= SIGRTMIN) && signo < NSIG;
}

static int sig_setup(void **state)
{
	for (int signo = 1; signo < NSIG; signo++) {
		ipc_sig_count_reset(signo);
		if (catchable(signo))
			sigaction(signo, NULL, &saved_actions[signo]);
	}
	pthread_sigmask(SIG_BLOCK, NULL, &saved_mask);
	return mech_setup(state);
}

/* Pending signals the test left are taken with everything blocked, so that
 * putting the mask back delivers nothing to the restored actions. */
static void drop_pending_signals(void)
{
	struct timespec zero = {0, 0};
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (sigtimedwait(&all, NULL, &zero) > 0)
		;
}

static int sig_teardown(void **state)
{
	int status, zombie;

	alarm(0);
	drop_pending_signals();
	for (int signo = 1; signo < NSIG; signo++)
		if (catchable(signo))
			sigaction(signo, &saved_actions[signo], NULL);
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	int rc = mech_teardown(state);
	zombie = waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD;
	if (zombie)
		fprintf(stderr, "teardown: a child (or zombie) is left\n");
	return rc != 0 || zombie ? -1 : 0;
}

/* Waits up to WAIT_MS for signo's count to reach want (a sanitizer may
 * deliver a signal at its next intercepted call, not at once). */
static unsigned long count_after_wait(int signo, unsigned long want)
{
	long long end = mech_now_ms() + WAIT_MS;

	while (ipc_sig_counted(signo) < want && mech_now_ms() < end)
		mech_nap_ms(1);
	return ipc_sig_counted(signo);
}

static void block_one(int signo)
{
	sigset_t one;

	ipc_sig_set(&one, signo, 0);
	assert_int_equal(ipc_sig_block(&one, NULL), 0);
}

/* ---- conformance --------------------------------------------------------- */

static void sig_blocked_signal_stays_pending_and_arrives_on_unblock(void **state)
{
	sigset_t one;

	(void)state;
	ipc_sig_set(&one, RT(1), 0);
	assert_int_equal(ipc_sig_count(RT(1), IPC_SIG_RESTART, NULL), 0);
	assert_int_equal(ipc_sig_block(&one, NULL), 0);
	assert_int_equal(raise(RT(1)), 0);
	mech_nap_ms(20);
	assert_int_equal(ipc_sig_counted(RT(1)), 0);
	assert_int_equal(ipc_sig_is_pending(RT(1)), 1);
	assert_int_equal(ipc_sig_unblock(&one, NULL), 0);
	assert_int_equal(count_after_wait(RT(1), 1), 1);
	assert_int_equal(ipc_sig_is_pending(RT(1)), 0);
}

static void sig_two_standard_signals_while_blocked_arrive_once(void **state)
{
	sigset_t one;

	(void)state;
	ipc_sig_set(&one, SIGUSR1, 0);
	assert_int_equal(ipc_sig_count(SIGUSR1, IPC_SIG_RESTART, NULL), 0);
	assert_int_equal(ipc_sig_block(&one, NULL), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(ipc_sig_unblock(&one, NULL), 0);
	assert_int_equal(count_after_wait(SIGUSR1, 1), 1);
	mech_nap_ms(50);
	assert_int_equal(ipc_sig_counted(SIGUSR1), 1); /* coalesced: once */
}

static void sig_realtime_signals_queue_in_order_with_values(void **state)
{
	const int n = 20;
	int value;

	(void)state;
	block_one(RT(2));
	for (int i = 0; i < n; i++)
		assert_int_equal(ipc_sig_send_value(getpid(), RT(2), 1000 + i), IPC_SIG_SENT);
	for (int i = 0; i < n; i++) {
		assert_int_equal(ipc_sig_receive_value(RT(2), WAIT_MS, &value), 0);
		assert_int_equal(value, 1000 + i);
	}
	assert_int_equal(ipc_sig_receive_value(RT(2), 0, &value), -1);
	assert_errno(ETIMEDOUT);
}

static void sig_sigkill_and_sigstop_cannot_be_caught_blocked_or_ignored(void **state)
{
	const int fixed[] = {SIGKILL, SIGSTOP};
	struct sigaction act = {.sa_handler = SIG_IGN};
	sigset_t asked, now;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		errno = 0;
		assert_int_equal(ipc_sig_count(fixed[i], IPC_SIG_RESTART, NULL), -1);
		assert_errno(EINVAL);
		assert_int_equal(ipc_sig_ignore(fixed[i], NULL), -1);
		assert_errno(EINVAL);
		assert_int_equal(sigaction(fixed[i], &act, NULL), -1);
		assert_errno(EINVAL);
	}
	/* sigprocmask takes the set without a word and leaves them out. */
	ipc_sig_set(&asked, SIGKILL, SIGSTOP, RT(3), 0);
	assert_int_equal(sigprocmask(SIG_BLOCK, &asked, NULL), 0);
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &now), 0);
	assert_int_equal(sigismember(&now, RT(3)), 1);
	assert_int_equal(sigismember(&now, SIGKILL), 0);
	assert_int_equal(sigismember(&now, SIGSTOP), 0);
}

struct pipe_read {
	enum ipc_sig_restart restart;
	struct mech_report *rep;
	int fds[2];
};

/* Writes one byte later: with SA_RESTART it ends the read the signal
 * interrupted at 100 ms; without, it comes long after the EINTR, and only
 * ends a read that wrongly resumed (a failure, not a hang). */
static int write_later(void *arg)
{
	struct pipe_read *p = arg;

	mech_nap_ms(p->restart == IPC_SIG_RESTART ? 400 : 1500);
	return write(p->fds[1], "x", 1) == 1 ? 0 : 1;
}

/* A timer sends RT(4) 100 ms into a read on an empty pipe. */
static void read_empty_pipe_under_signal(struct pipe_read *p, ssize_t *got,
					 int *err)
{
	timer_t t;
	char c;
	pid_t writer;

	assert_int_equal(pipe(p->fds), 0);
	assert_int_equal(ipc_sig_count(RT(4), p->restart, NULL), 0);
	assert_int_equal(ipc_sig_timer_create(RT(4), 4, &t), 0);
	writer = mech_fork(write_later, p, 10);
	assert_int_equal(ipc_sig_timer_arm(t, 100, 0), 0);
	*got = read(p->fds[0], &c, 1);
	*err = errno;
	ipc_sig_timer_delete(t);
	mech_reap(writer, 10);
	close(p->fds[0]);
	close(p->fds[1]);
}

static void sig_read_on_empty_pipe_is_eintr_without_sa_restart(void **state)
{
	struct pipe_read p = {.restart = IPC_SIG_INTERRUPT};
	ssize_t got;
	int err;

	(void)state;
	read_empty_pipe_under_signal(&p, &got, &err);
	assert_int_equal(got, -1);
	errno = err;
	assert_errno(EINTR);
	assert_int_equal(count_after_wait(RT(4), 1), 1);
}

static void sig_read_on_empty_pipe_resumes_with_sa_restart(void **state)
{
	struct pipe_read p = {.restart = IPC_SIG_RESTART};
	ssize_t got;
	int err;

	(void)state;
	read_empty_pipe_under_signal(&p, &got, &err);
	assert_int_equal(got, 1); /* the byte written after the signal */
	assert_int_equal(count_after_wait(RT(4), 1), 1);
}

static int alarm_then_pause(void *arg)
{
	long long start;

	(void)arg;
	if (ipc_sig_count(SIGALRM, IPC_SIG_INTERRUPT, NULL) != 0)
		return 1;
	start = mech_now_ms();
	ipc_sig_alarm(1); /* replaces the child's safety alarm */
	if (pause() != -1 || errno != EINTR)
		return 2;
	if (ipc_sig_counted(SIGALRM) != 1)
		return 3;
	return mech_now_ms() - start >= 900 ? 0 : 4;
}

static void sig_alarm_and_pause_wakes(void **state)
{
	(void)state;
	mech_reap(mech_fork(alarm_then_pause, NULL, 10), 10);
}

/* The signal is sent while blocked, before the wait: sigsuspend lets it in
 * as it sleeps, so it ends the sleep instead of being lost. */
static int signal_before_sigsuspend(void *arg)
{
	sigset_t one, old;

	(void)arg;
	if (ipc_sig_count(RT(5), IPC_SIG_INTERRUPT, NULL) != 0)
		return 1;
	ipc_sig_set(&one, RT(5), 0);
	if (ipc_sig_block(&one, &old) != 0 || raise(RT(5)) != 0)
		return 2;
	if (ipc_sig_counted(RT(5)) != 0)
		return 3;
	sigdelset(&old, RT(5));
	if (sigsuspend(&old) != -1 || errno != EINTR)
		return 4;
	if (ipc_sig_counted(RT(5)) != 1 || ipc_sig_is_blocked(RT(5)) != 1)
		return 5;
	/* The API's wait: the same, a second signal sent before it. */
	if (raise(RT(5)) != 0 || ipc_sig_wait_count(RT(5), 1) != 2)
		return 6;
	return ipc_sig_is_blocked(RT(5)) == 1 ? 0 : 7;
}

static void sig_sigsuspend_is_atomic(void **state)
{
	(void)state;
	mech_reap(mech_fork(signal_before_sigsuspend, NULL, 10), 10);
}

static int exit_with(void *arg) { return *(int *)arg; }

static int die_of_sigterm(void *arg)
{
	(void)arg;
	signal(SIGTERM, SIG_DFL);
	raise(SIGTERM);
	return 99;
}

/* The SIGCHLD of pid, taken while blocked: its siginfo. */
static siginfo_t take_sigchld_of(pid_t pid)
{
	sigset_t chld;
	siginfo_t info;

	ipc_sig_set(&chld, SIGCHLD, 0);
	do
		assert_int_equal(ipc_sig_take(&chld, WAIT_MS, &info), SIGCHLD);
	while (info.si_pid != pid);
	return info;
}

static void reap_quietly(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void sig_sigchld_arrives_with_the_right_status(void **state)
{
	int code = 7;
	pid_t pid;
	siginfo_t info;
	struct ipc_child_exit ex;

	(void)state;
	block_one(SIGCHLD);
	pid = mech_fork(exit_with, &code, 10);
	info = take_sigchld_of(pid);
	assert_int_equal(info.si_code, CLD_EXITED);
	assert_int_equal(info.si_status, 7);
	assert_int_equal(ipc_child_wait(pid, WAIT_MS, &ex), 0);
	mech_child_reaped(pid);
	assert_true(ex.exited && ex.code == 7 && ex.signo == 0);

	pid = mech_fork(die_of_sigterm, NULL, 10);
	info = take_sigchld_of(pid);
	assert_int_equal(info.si_code, CLD_KILLED);
	assert_int_equal(info.si_status, SIGTERM);
	reap_quietly(pid);
	mech_child_reaped(pid);
}

static int sleep_long(void *arg)
{
	(void)arg;
	pause();
	return 0;
}

typedef int (*child_wait_fn)(pid_t, int, struct ipc_child_exit *);

static void child_exit_decoded(child_wait_fn wait_for)
{
	int code = 42;
	pid_t pid;
	struct ipc_child_exit ex;

	pid = mech_fork(exit_with, &code, 10);
	assert_int_equal(wait_for(pid, WAIT_MS, &ex), 0);
	mech_child_reaped(pid);
	assert_int_equal(ex.pid, pid);
	assert_true(ex.exited);
	assert_int_equal(ex.code, 42);
	assert_int_equal(ex.signo, 0);
	errno = 0;
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1); /* no zombie */
	assert_errno(ECHILD);

	pid = mech_fork(sleep_long, NULL, 10);
	assert_int_equal(wait_for(pid, 50, &ex), -1); /* still running */
	assert_errno(ETIMEDOUT);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(wait_for(pid, WAIT_MS, &ex), 0);
	mech_child_reaped(pid);
	assert_false(ex.exited);
	assert_int_equal(ex.signo, SIGKILL);
	errno = 0;
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_errno(ECHILD);

	assert_int_equal(wait_for(pid, 0, &ex), -1); /* reaped: not a child */
	assert_errno(ECHILD);
}

static void sig_child_exit_event_decodes_status_pidfd(void **state)
{
	(void)state;
	child_exit_decoded(ipc_child_wait);
}

static void sig_child_exit_event_decodes_status_sigchld(void **state)
{
	(void)state;
	child_exit_decoded(ipc_child_wait_sigchld);
	assert_int_equal(ipc_sig_is_blocked(SIGCHLD), 0); /* mask put back */
}

/* In the child: RT(6) still blocked, RT(7) still counted by the handler. */
static int inherits_mask_and_handler(void *arg)
{
	struct sigaction now;

	(void)arg;
	if (ipc_sig_is_blocked(RT(6)) != 1)
		return 1;
	if (sigaction(RT(7), NULL, &now) != 0 || (now.sa_flags & SA_SIGINFO) ||
	    now.sa_handler == SIG_DFL || now.sa_handler == SIG_IGN)
		return 2;
	ipc_sig_count_reset(RT(7));
	if (raise(RT(7)) != 0 || ipc_sig_counted(RT(7)) != 1)
		return 3;
	return 0;
}

static void sig_forked_child_inherits_mask_and_handlers(void **state)
{
	(void)state;
	block_one(RT(6));
	assert_int_equal(ipc_sig_count(RT(7), IPC_SIG_RESTART, NULL), 0);
	mech_reap(mech_fork(inherits_mask_and_handler, NULL, 10), 10);
}

/* RT(8) blocked, RT(9) ignored, RT(10) caught; then exec cat, which
 * prints its own /proc/self/status into the pipe. */
static int exec_status_printer(void *arg)
{
	int *fds = arg;
	char *const argv[] = {"cat", "/proc/self/status", NULL};

	block_one(RT(8));
	if (ipc_sig_ignore(RT(9), NULL) != 0 ||
	    ipc_sig_count(RT(10), IPC_SIG_RESTART, NULL) != 0)
		return 1;
	if (dup2(fds[1], STDOUT_FILENO) < 0)
		return 2;
	close(fds[0]);
	close(fds[1]);
	execv("/bin/cat", argv);
	return 3;
}

/* The hex mask after "name:\t" in status, as a number. */
static unsigned long long status_mask(const char *status, const char *name)
{
	const char *at = strstr(status, name);

	if (at == NULL)
		fail_msg("no %s in /proc/PID/status", name);
	return strtoull(at + strlen(name) + 1, NULL, 16);
}

static int has_bit(unsigned long long mask, int signo)
{
	return (int)((mask >> (signo - 1)) & 1);
}

static void sig_exec_resets_caught_handlers_keeps_mask_and_ignored(void **state)
{
	char status[8192];
	size_t len = 0;
	int fds[2];
	pid_t pid;
	struct pollfd p;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = mech_fork(exec_status_printer, fds, 10);
	close(fds[1]);
	p = (struct pollfd){.fd = fds[0], .events = POLLIN};
	for (;;) {
		ssize_t got;

		if (poll(&p, 1, (int)mech_seconds(10) * 1000) != 1)
			break;
		got = read(fds[0], status + len, sizeof status - 1 - len);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	status[len] = '\0';
	close(fds[0]);
	mech_reap(pid, 10);
	assert_true(has_bit(status_mask(status, "SigBlk:"), RT(8)));
	assert_true(has_bit(status_mask(status, "SigIgn:"), RT(9)));
	assert_false(has_bit(status_mask(status, "SigCgt:"), RT(10)));
	assert_false(has_bit(status_mask(status, "SigIgn:"), RT(10)));
}

/* ---- the API: notifiers -------------------------------------------------- */

static void assert_nonblocking_cloexec(int fd)
{
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static struct ipc_sig_event next_event(struct ipc_sig_notifier *n)
{
	struct pollfd p = {.fd = ipc_sig_notifier_fd(n), .events = POLLIN};
	struct ipc_sig_event ev;

	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_int_equal(ipc_sig_notifier_read(n, &ev), 1);
	return ev;
}

/* RT(11) queued with 42, then RT(12) with 43: two events, in that order
 * (sent in that order, and the lower real-time signal first), with their
 * senders and values; then none; after close, the actions (the counting
 * handler, so that a test failing half-way cannot die of a stray signal)
 * and the mask as they were. */
static void notifier_reports(enum ipc_sig_notifier_kind kind)
{
	struct sigaction before, after;
	sigset_t set, mask_before, mask_after;
	struct ipc_sig_notifier *n;
	struct ipc_sig_event ev;

	ipc_sig_set(&set, RT(11), RT(12), 0);
	assert_int_equal(ipc_sig_count(RT(11), IPC_SIG_RESTART, NULL), 0);
	assert_int_equal(ipc_sig_count(RT(12), IPC_SIG_RESTART, NULL), 0);
	sigaction(RT(11), NULL, &before);
	pthread_sigmask(SIG_BLOCK, NULL, &mask_before);
	n = ipc_sig_notifier_open(&set, kind);
	assert_non_null(n);
	assert_nonblocking_cloexec(ipc_sig_notifier_fd(n));
	assert_int_equal(ipc_sig_is_blocked(RT(11)), kind == IPC_SIG_SIGNALFD);
	assert_int_equal(ipc_sig_notifier_read(n, &ev), 0); /* none yet */

	assert_int_equal(ipc_sig_send_value(getpid(), RT(11), 42), IPC_SIG_SENT);
	assert_int_equal(ipc_sig_send_value(getpid(), RT(12), 43), IPC_SIG_SENT);
	ev = next_event(n);
	assert_int_equal(ev.signo, RT(11));
	assert_int_equal(ev.code, SI_QUEUE);
	assert_int_equal(ev.pid, getpid());
	assert_int_equal(ev.uid, getuid());
	assert_int_equal(ev.value, 42);
	ev = next_event(n);
	assert_int_equal(ev.signo, RT(12));
	assert_int_equal(ev.value, 43);
	assert_int_equal(ipc_sig_notifier_read(n, &ev), 0);
	assert_int_equal(ipc_sig_counted(RT(11)) + ipc_sig_counted(RT(12)), 0);

	/* One left unread: close drops it instead of letting it kill us. */
	assert_int_equal(raise(RT(12)), 0);
	assert_int_equal(ipc_sig_notifier_close(n), 0);
	sigaction(RT(11), NULL, &after);
	pthread_sigmask(SIG_BLOCK, NULL, &mask_after);
	assert_ptr_equal(after.sa_handler, before.sa_handler);
	assert_int_equal(ipc_sig_counted(RT(12)), 0); /* dropped, not delivered */
	assert_int_equal(sigismember(&mask_after, RT(11)), sigismember(&mask_before, RT(11)));
	assert_int_equal(sigismember(&mask_after, RT(12)), sigismember(&mask_before, RT(12)));
}

static void sig_notifier_self_pipe_reports_signals_and_restores(void **state)
{
	sigset_t set;
	struct ipc_sig_notifier *n;

	(void)state;
	notifier_reports(IPC_SIG_SELF_PIPE);
	ipc_sig_set(&set, RT(11), 0);
	n = ipc_sig_notifier_open(&set, IPC_SIG_SELF_PIPE);
	assert_non_null(n);
	assert_null(ipc_sig_notifier_open(&set, IPC_SIG_SELF_PIPE));
	assert_errno(EBUSY);
	ipc_sig_notifier_close(n);
}

static void sig_notifier_signalfd_reports_signals_and_restores(void **state)
{
	(void)state;
	notifier_reports(IPC_SIG_SIGNALFD);
}

/* ---- the API: the sigqueue channel --------------------------------------- */

#define CHANNEL_VALUES 64

static int send_values_to_parent(void *arg)
{
	(void)arg;
	for (int i = 0; i < CHANNEL_VALUES; i++)
		if (ipc_sig_send_value(getppid(), RT(13), i * 7) != IPC_SIG_SENT)
			return 1;
	return 0;
}

static void sig_sigqueue_channel_delivers_values_in_order(void **state)
{
	pid_t pid;
	int value;

	(void)state;
	assert_int_equal(ipc_sig_receive_value(RT(13), 0, &value), -1);
	assert_errno(EINVAL); /* not blocked: it would be delivered instead */
	assert_int_equal(ipc_sig_send_value(0, RT(13), 1), -1);
	assert_errno(EINVAL); /* a pid never set is refused, not sent */

	block_one(RT(13));
	pid = mech_fork(send_values_to_parent, NULL, 10);
	for (int i = 0; i < CHANNEL_VALUES; i++) {
		assert_int_equal(ipc_sig_receive_value(RT(13), WAIT_MS, &value), 0);
		assert_int_equal(value, i * 7);
	}
	mech_reap(pid, 10);
	assert_int_equal(ipc_sig_receive_value(RT(13), 0, &value), -1);
	assert_errno(ETIMEDOUT);
}

#define PENDING_LIMIT 16

/* With RLIMIT_SIGPENDING lowered, sends until the queue is full: the
 * status says so, the values sent come out in order, and after one is
 * taken a send goes through again. */
static int fill_pending_queue(void *arg)
{
	struct rlimit low = {PENDING_LIMIT, PENDING_LIMIT};
	int sent = 0, r, value;

	(void)arg;
	block_one(RT(14));
	if (setrlimit(RLIMIT_SIGPENDING, &low) != 0)
		return 1;
	while ((r = ipc_sig_send_value(getpid(), RT(14), sent)) == IPC_SIG_SENT)
		if (++sent > PENDING_LIMIT)
			return 2;
	if (r != IPC_SIG_QUEUE_FULL || sent == 0)
		return 3;
	if (ipc_sig_receive_value(RT(14), 0, &value) != 0 || value != 0)
		return 4;
	if (ipc_sig_send_value(getpid(), RT(14), sent) != IPC_SIG_SENT)
		return 5;
	for (int i = 1; i <= sent; i++)
		if (ipc_sig_receive_value(RT(14), 0, &value) != 0 || value != i)
			return 6;
	return 0;
}

static void sig_sigqueue_full_queue_is_queue_full_status(void **state)
{
	(void)state;
	mech_reap(mech_fork(fill_pending_queue, NULL, 10), 10);
}

/* ---- the API: waits and timers ------------------------------------------- */

static void sig_take_times_out_no_sooner_than_asked(void **state)
{
	sigset_t one;
	long long start;

	(void)state;
	ipc_sig_set(&one, RT(15), 0);
	assert_int_equal(ipc_sig_block(&one, NULL), 0);
	start = mech_now_ms();
	assert_int_equal(ipc_sig_take(&one, 100, NULL), -1);
	assert_errno(ETIMEDOUT);
	assert_true(mech_now_ms() - start >= 100);
}

static void sig_timer_fires_on_its_rt_signal_with_its_value(void **state)
{
	timer_t t;
	siginfo_t info;
	sigset_t one;

	(void)state;
	ipc_sig_set(&one, RT(16), 0);
	assert_int_equal(ipc_sig_block(&one, NULL), 0);
	assert_int_equal(ipc_sig_timer_create(RT(16), 77, &t), 0);
	assert_int_equal(ipc_sig_take(&one, 0, NULL), -1); /* disarmed */
	assert_int_equal(ipc_sig_timer_arm(t, 50, 0), 0);
	assert_int_equal(ipc_sig_take(&one, WAIT_MS, &info), RT(16));
	assert_int_equal(info.si_code, SI_TIMER);
	assert_int_equal(info.si_value.sival_int, 77);
	/* Periodic: fires again and again until disarmed. */
	assert_int_equal(ipc_sig_timer_arm(t, 20, 20), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ipc_sig_take(&one, WAIT_MS, &info), RT(16));
	assert_int_equal(ipc_sig_timer_arm(t, 0, 0), 0);
	assert_int_equal(ipc_sig_timer_delete(t), 0);
}

static int wait_for_timer_signal(void *arg)
{
	timer_t t;

	(void)arg;
	if (ipc_sig_count(RT(17), IPC_SIG_INTERRUPT, NULL) != 0 ||
	    ipc_sig_timer_create(RT(17), 0, &t) != 0 ||
	    ipc_sig_timer_arm(t, 100, 0) != 0)
		return 1;
	if (ipc_sig_wait_count(RT(17), 0) != 1)
		return 2;
	return ipc_sig_timer_delete(t) == 0 ? 0 : 3;
}

static void sig_wait_count_wakes_on_a_later_signal(void **state)
{
	(void)state;
	mech_reap(mech_fork(wait_for_timer_signal, NULL, 10), 10);
}

#define SIG_TEST(fn) cmocka_unit_test_setup_teardown(fn, sig_setup, sig_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SIG_TEST(sig_blocked_signal_stays_pending_and_arrives_on_unblock),
		SIG_TEST(sig_two_standard_signals_while_blocked_arrive_once),
		SIG_TEST(sig_realtime_signals_queue_in_order_with_values),
		SIG_TEST(sig_sigkill_and_sigstop_cannot_be_caught_blocked_or_ignored),
		SIG_TEST(sig_read_on_empty_pipe_is_eintr_without_sa_restart),
		SIG_TEST(sig_read_on_empty_pipe_resumes_with_sa_restart),
		SIG_TEST(sig_alarm_and_pause_wakes),
		SIG_TEST(sig_sigsuspend_is_atomic),
		SIG_TEST(sig_sigchld_arrives_with_the_right_status),
		SIG_TEST(sig_child_exit_event_decodes_status_pidfd),
		SIG_TEST(sig_child_exit_event_decodes_status_sigchld),
		SIG_TEST(sig_forked_child_inherits_mask_and_handlers),
		SIG_TEST(sig_exec_resets_caught_handlers_keeps_mask_and_ignored),
		SIG_TEST(sig_notifier_self_pipe_reports_signals_and_restores),
		SIG_TEST(sig_notifier_signalfd_reports_signals_and_restores),
		SIG_TEST(sig_sigqueue_channel_delivers_values_in_order),
		SIG_TEST(sig_sigqueue_full_queue_is_queue_full_status),
		SIG_TEST(sig_take_times_out_no_sooner_than_asked),
		SIG_TEST(sig_timer_fires_on_its_rt_signal_with_its_value),
		SIG_TEST(sig_wait_count_wakes_on_a_later_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
