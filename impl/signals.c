/* Signals: see include/ipc/signals.h. */
#include "ipc/signals.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

/* ---- handlers ------------------------------------------------------------ */

/* One count per signal. Only the handler writes a count (and reset, which a
 * caller runs with the signal quiet); the atomic builtins keep the add
 * whole when two threads take the same signal and let a reader in another
 * thread see it, both lock-free and so async-signal-safe. */
static volatile sig_atomic_t counts[NSIG];

static int valid_signal(int signo)
{
	if (signo <= 0 || signo >= NSIG) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

static void count_one(int signo)
{
	__atomic_add_fetch(&counts[signo], 1, __ATOMIC_RELAXED);
}

/* All signals blocked while a handler runs: no handler interrupts another. */
static int install(int signo, struct sigaction *act, enum ipc_sig_restart restart,
		   struct sigaction *old)
{
	if (!valid_signal(signo))
		return -1;
	sigfillset(&act->sa_mask);
	if (restart == IPC_SIG_RESTART)
		act->sa_flags |= SA_RESTART;
	return sys_sigaction(signo, act, old);
}

int ipc_sig_handle(int signo, void (*fn)(int, siginfo_t *, void *),
		   enum ipc_sig_restart restart, struct sigaction *old)
{
	struct sigaction act = {.sa_sigaction = fn, .sa_flags = SA_SIGINFO};

	return install(signo, &act, restart, old);
}

int ipc_sig_count(int signo, enum ipc_sig_restart restart,
		  struct sigaction *old)
{
	struct sigaction act = {.sa_handler = count_one};

	return install(signo, &act, restart, old);
}

unsigned long ipc_sig_counted(int signo)
{
	if (signo <= 0 || signo >= NSIG)
		return 0;
	return (unsigned long)__atomic_load_n(&counts[signo], __ATOMIC_RELAXED);
}

void ipc_sig_count_reset(int signo)
{
	if (signo > 0 && signo < NSIG)
		__atomic_store_n(&counts[signo], 0, __ATOMIC_RELAXED);
}

static int set_disposition(int signo, void (*disp)(int), struct sigaction *old)
{
	struct sigaction act = {.sa_handler = disp};

	if (!valid_signal(signo))
		return -1;
	sigemptyset(&act.sa_mask);
	return sys_sigaction(signo, &act, old);
}

int ipc_sig_ignore(int signo, struct sigaction *old)
{
	return set_disposition(signo, SIG_IGN, old);
}

int ipc_sig_default(int signo, struct sigaction *old)
{
	return set_disposition(signo, SIG_DFL, old);
}

int ipc_sig_restore(int signo, const struct sigaction *old)
{
	if (!valid_signal(signo))
		return -1;
	return sys_sigaction(signo, old, NULL);
}

/* ---- masks --------------------------------------------------------------- */

void ipc_sig_set(sigset_t *set, ...)
{
	va_list ap;
	int signo;

	sigemptyset(set);
	va_start(ap, set);
	while ((signo = va_arg(ap, int)) != 0)
		sigaddset(set, signo);
	va_end(ap);
}

/* pthread_sigmask returns its error instead of setting errno. */
static int change_mask(int how, const sigset_t *set, sigset_t *old)
{
	int rc = sys_pthread_sigmask(how, set, old);

	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

int ipc_sig_block(const sigset_t *set, sigset_t *old)
{
	return change_mask(SIG_BLOCK, set, old);
}

int ipc_sig_unblock(const sigset_t *set, sigset_t *old)
{
	return change_mask(SIG_UNBLOCK, set, old);
}

/* A restoring call: errno as it was, so it can run on a failure path. */
int ipc_sig_restore_mask(const sigset_t *old)
{
	int err = errno;

	if (change_mask(SIG_SETMASK, old, NULL) != 0)
		return -1;
	errno = err;
	return 0;
}

int ipc_sig_is_blocked(int signo)
{
	sigset_t now;

	if (!valid_signal(signo) || change_mask(SIG_BLOCK, NULL, &now) != 0)
		return -1;
	return sigismember(&now, signo);
}

int ipc_sig_is_pending(int signo)
{
	sigset_t pending;

	if (!valid_signal(signo) || sys_sigpending(&pending) != 0)
		return -1;
	return sigismember(&pending, signo);
}

/* ---- waiting ------------------------------------------------------------- */

long ipc_sig_wait_count(int signo, unsigned long seen)
{
	sigset_t one, old, asleep;
	unsigned long now;

	if (!valid_signal(signo))
		return -1;
	ipc_sig_set(&one, signo, 0);
	if (ipc_sig_block(&one, &old) != 0)
		return -1;
	asleep = old;
	sigdelset(&asleep, signo);
	/* Blocked here, the signal waits as pending until sigsuspend lets it
	 * in; it always ends in EINTR, and a wakeup by another signal just
	 * checks again. */
	while ((now = ipc_sig_counted(signo)) <= seen)
		sys_sigsuspend(&asleep);
	ipc_sig_restore_mask(&old);
	return (long)now;
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none, so for ever), at least 0. */
static long left_ms(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - monotonic_ms();
	return left > 0 ? (long)left : 0;
}

static long long deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
}

int ipc_sig_take(const sigset_t *set, int timeout_ms, siginfo_t *info)
{
	long long deadline = deadline_after(timeout_ms);
	siginfo_t local;
	int r;

	for (;;) {
		long ms = left_ms(deadline);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

		memset(&local, 0, sizeof local);
		r = sys_sigtimedwait(set, &local, ms < 0 ? NULL : &ts);
		if (r > 0)
			break;
		if (errno == EAGAIN) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
	if (info != NULL)
		*info = local;
	return r;
}

/* ---- a notifier for poll loops ------------------------------------------- */

struct ipc_sig_notifier {
	enum ipc_sig_notifier_kind kind;
	int fd;       /* what the caller polls */
	int write_fd; /* the self-pipe's other end, or -1 */
	sigset_t set;
	sigset_t old_mask;
	/* A record read in pieces (a read may return fewer bytes). */
	size_t have;
	union {
		struct ipc_sig_event event;
		struct signalfd_siginfo info;
	} partial;
	struct sigaction old[NSIG]; /* self-pipe: the actions replaced */
};

/* The self-pipe's write end for the handler: one notifier at a time. */
static volatile sig_atomic_t self_pipe_fd = -1;

/* A whole record in one write, below PIPE_BUF: records never mix. The
 * write is the raw call, not the seam's: the seam logs, which is not
 * async-signal-safe. A full pipe drops the record (the poll loop already
 * has thousands to read). */
static void to_self_pipe(int signo, siginfo_t *si, void *ctx)
{
	int saved = errno;
	struct ipc_sig_event ev = {
		.signo = signo,
		.code = si->si_code,
		.pid = si->si_pid,
		.uid = si->si_uid,
		.value = si->si_value.sival_int,
	};

	(void)ctx;
	if (write(self_pipe_fd, &ev, sizeof ev) < 0) {
		/* dropped: see above */
	}
	errno = saved;
}

static int each_signal(const sigset_t *set, int signo)
{
	return signo < NSIG && sigismember(set, signo) == 1;
}

/* Takes and drops what of set is pending, so that putting the old mask
 * back does not deliver it to the old action (maybe the default, which
 * would end the process). */
static void drop_pending(const sigset_t *set)
{
	struct timespec zero = {0, 0};
	int r;

	do
		r = sys_sigtimedwait(set, NULL, &zero);
	while (r > 0 || (r < 0 && errno == EINTR));
}

static void put_back_handlers(struct ipc_sig_notifier *n, int upto)
{
	for (int signo = 1; signo < upto; signo++)
		if (each_signal(&n->set, signo))
			sys_sigaction(signo, &n->old[signo], NULL);
}

static int open_self_pipe(struct ipc_sig_notifier *n)
{
	int fds[2];
	int signo;

	if (self_pipe_fd != -1) {
		errno = EBUSY;
		return -1;
	}
	if (sys_pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
	n->fd = fds[0];
	n->write_fd = fds[1];
	self_pipe_fd = fds[1];
	for (signo = 1; signo < NSIG; signo++)
		if (each_signal(&n->set, signo) &&
		    ipc_sig_handle(signo, to_self_pipe, IPC_SIG_RESTART, &n->old[signo]) != 0)
			break;
	if (signo == NSIG && ipc_sig_unblock(&n->set, &n->old_mask) == 0)
		return 0;
	put_back_handlers(n, signo);
	self_pipe_fd = -1;
	sys_close(fds[0]);
	sys_close(fds[1]);
	return -1;
}

static int open_signalfd(struct ipc_sig_notifier *n)
{
	if (ipc_sig_block(&n->set, &n->old_mask) != 0)
		return -1;
	n->fd = sys_signalfd(-1, &n->set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (n->fd >= 0)
		return 0;
	ipc_sig_restore_mask(&n->old_mask);
	return -1;
}

struct ipc_sig_notifier *ipc_sig_notifier_open(const sigset_t *set,
					       enum ipc_sig_notifier_kind kind)
{
	struct ipc_sig_notifier *n;
	int r;

	if (kind != IPC_SIG_SELF_PIPE && kind != IPC_SIG_SIGNALFD) {
		errno = EINVAL;
		return NULL;
	}
	n = calloc(1, sizeof *n);
	if (n == NULL)
		return NULL;
	n->kind = kind;
	n->fd = -1;
	n->write_fd = -1;
	n->set = *set;
	r = kind == IPC_SIG_SELF_PIPE ? open_self_pipe(n) : open_signalfd(n);
	if (r != 0) {
		int err = errno;

		free(n);
		errno = err;
		return NULL;
	}
	return n;
}

int ipc_sig_notifier_fd(const struct ipc_sig_notifier *n) { return n->fd; }

static void from_signalfd(const struct signalfd_siginfo *si,
			  struct ipc_sig_event *ev)
{
	*ev = (struct ipc_sig_event){
		.signo = (int)si->ssi_signo,
		.code = si->ssi_code,
		.pid = (pid_t)si->ssi_pid,
		.uid = (uid_t)si->ssi_uid,
		.value = si->ssi_int,
	};
}

int ipc_sig_notifier_read(struct ipc_sig_notifier *n, struct ipc_sig_event *ev)
{
	size_t size = n->kind == IPC_SIG_SELF_PIPE ? sizeof n->partial.event
						   : sizeof n->partial.info;
	unsigned char *at = (unsigned char *)&n->partial;

	while (n->have < size) {
		ssize_t got = sys_read(n->fd, at + n->have, size - n->have);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			return 0;
		if (got <= 0) {
			if (got == 0)
				errno = EPIPE; /* cannot be: we hold the write end */
			return -1;
		}
		n->have += (size_t)got;
	}
	n->have = 0;
	if (n->kind == IPC_SIG_SELF_PIPE)
		*ev = n->partial.event;
	else
		from_signalfd(&n->partial.info, ev);
	return 1;
}

/* Blocked first, so no handler runs between the old actions coming back
 * and the pipe closing (it would write to a closed, maybe reused, fd). */
int ipc_sig_notifier_close(struct ipc_sig_notifier *n)
{
	if (n == NULL)
		return 0;
	ipc_sig_block(&n->set, NULL);
	if (n->kind == IPC_SIG_SELF_PIPE) {
		put_back_handlers(n, NSIG);
		self_pipe_fd = -1;
		sys_close(n->write_fd);
	}
	drop_pending(&n->set);
	sys_close(n->fd);
	ipc_sig_restore_mask(&n->old_mask);
	free(n);
	return 0;
}

/* ---- real-time signals as a small channel -------------------------------- */

int ipc_sig_rt(int k)
{
	if (k < 0 || k > SIGRTMAX - SIGRTMIN) {
		errno = EINVAL;
		return -1;
	}
	return SIGRTMIN + k;
}

int ipc_sig_send_value(pid_t pid, int signo, int value)
{
	union sigval v = {.sival_int = value};

	if (pid <= 0 || !valid_signal(signo)) {
		errno = EINVAL;
		return -1;
	}
	if (sys_sigqueue(pid, signo, v) == 0)
		return IPC_SIG_SENT;
	return errno == EAGAIN ? IPC_SIG_QUEUE_FULL : -1;
}

int ipc_sig_receive_value(int signo, int timeout_ms, int *value)
{
	sigset_t one;
	siginfo_t info;
	int blocked = ipc_sig_is_blocked(signo);

	if (blocked != 1) {
		if (blocked == 0)
			errno = EINVAL; /* it would be delivered, not queued */
		return -1;
	}
	ipc_sig_set(&one, signo, 0);
	if (ipc_sig_take(&one, timeout_ms, &info) < 0)
		return -1;
	*value = info.si_value.sival_int;
	return 0;
}

/* ---- child exit as an event ---------------------------------------------- */

void ipc_child_decode(pid_t pid, int status, struct ipc_child_exit *out)
{
	*out = (struct ipc_child_exit){.pid = pid};
	if (WIFEXITED(status)) {
		out->exited = 1;
		out->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		out->signo = WTERMSIG(status);
		out->core = WCOREDUMP(status) ? 1 : 0;
	}
}

/* waitpid once: 1 reaped (out filled), 0 still running, -1 error. */
static int reap(pid_t pid, int options, struct ipc_child_exit *out)
{
	int status;
	pid_t r;

	do
		r = sys_waitpid(pid, &status, options);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	ipc_child_decode(pid, status, out);
	return 1;
}

int ipc_child_wait_sigchld(pid_t pid, int timeout_ms, struct ipc_child_exit *out)
{
	long long deadline = deadline_after(timeout_ms);
	sigset_t chld, old;
	int r;

	if (pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	ipc_sig_set(&chld, SIGCHLD, 0);
	if (ipc_sig_block(&chld, &old) != 0)
		return -1;
	/* Checked after blocking: an exit before the check is seen by it, one
	 * after leaves SIGCHLD pending for the take. Another child's SIGCHLD
	 * just makes the loop look again; after the deadline, one last look. */
	while ((r = reap(pid, WNOHANG, out)) == 0 && left_ms(deadline) != 0)
		if (ipc_sig_take(&chld, (int)left_ms(deadline), NULL) < 0 &&
		    errno != ETIMEDOUT)
			break;
	if (r == 0)
		errno = left_ms(deadline) == 0 ? ETIMEDOUT : errno;
	ipc_sig_restore_mask(&old);
	return r == 1 ? 0 : -1;
}

/* Polls the pidfd until readable (the child ended) or the deadline. */
static int wait_readable(int fd, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	do
		r = sys_poll(&p, 1, (int)left_ms(deadline));
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

int ipc_child_wait(pid_t pid, int timeout_ms, struct ipc_child_exit *out)
{
	long long deadline = deadline_after(timeout_ms);
	int fd, r, err;

	if (pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	/* Not a child (ECHILD), or ended already: no pidfd needed. */
	r = reap(pid, WNOHANG, out);
	if (r != 0)
		return r == 1 ? 0 : -1;
	fd = sys_pidfd_open(pid, 0);
	if (fd < 0 && (errno == ENOSYS || errno == EPERM)) /* no pidfd here */
		return ipc_child_wait_sigchld(pid, timeout_ms, out);
	if (fd < 0)
		return -1;
	r = wait_readable(fd, deadline);
	if (r == 0)
		r = reap(pid, 0, out) == 1 ? 0 : -1;
	err = errno;
	sys_close(fd);
	errno = err;
	return r;
}

/* ---- timeouts ------------------------------------------------------------ */

unsigned ipc_sig_alarm(unsigned seconds) { return sys_alarm(seconds); }

int ipc_sig_timer_create(int signo, int value, timer_t *out)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_SIGNAL,
		.sigev_signo = signo,
		.sigev_value = {.sival_int = value},
	};

	if (!valid_signal(signo))
		return -1;
	return sys_timer_create(CLOCK_MONOTONIC, &sev, out);
}

static struct timespec from_ms(long ms)
{
	return (struct timespec){ms / 1000, (ms % 1000) * 1000000};
}

int ipc_sig_timer_arm(timer_t t, long first_ms, long interval_ms)
{
	struct itimerspec when = {from_ms(interval_ms), from_ms(first_ms)};

	if (first_ms < 0 || interval_ms < 0) {
		errno = EINVAL;
		return -1;
	}
	return sys_timer_settime(t, 0, &when, NULL);
}

int ipc_sig_timer_delete(timer_t t) { return sys_timer_delete(t); }
