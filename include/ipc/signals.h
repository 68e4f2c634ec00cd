/*
 * Signals, one small function per job.
 *
 * Like include/ipc/sysv_msg.h these return 0 (or a count, or a signal
 * number) on success and -1 with errno otherwise; where a result is a
 * status and not a failure (a full real-time queue, no child exit yet)
 * it says so.
 *
 * The rules the functions keep:
 * - Handlers are installed with sigaction only, and every installation
 *   names its restart choice: IPC_SIG_RESTART (SA_RESTART: a slow call the
 *   handler interrupts resumes) or IPC_SIG_INTERRUPT (it fails with EINTR).
 * - The project's own handlers do only async-signal-safe work: they add to
 *   a volatile sig_atomic_t per signal, or write one record to a self-pipe,
 *   with errno saved and restored.
 * - A wait for a signal never has the lost-wakeup window: the signal is
 *   blocked before the check, and sigsuspend unblocks it and sleeps in one
 *   step (or sigtimedwait takes it while it stays blocked).
 * - Masks are the calling thread's (pthread_sigmask); a window is "block,
 *   work, put the old mask back".
 */
#ifndef IPC_SIGNALS_H
#define IPC_SIGNALS_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* ---- handlers ------------------------------------------------------------ */

enum ipc_sig_restart {
	IPC_SIG_INTERRUPT = 0, /* no SA_RESTART: slow calls fail with EINTR */
	IPC_SIG_RESTART = 1,   /* SA_RESTART: slow calls resume */
};

/* A handler of the SA_SIGINFO kind for signo, all other signals of the
 * process blocked while it runs (so it never interrupts itself or a
 * sibling). old, if not NULL, receives the action it replaced. EINVAL for
 * a signal that cannot be caught (SIGKILL, SIGSTOP) or out of range. */
int ipc_sig_handle(int signo, void (*fn)(int, siginfo_t *, void *),
		   enum ipc_sig_restart restart, struct sigaction *old);

/* The counting handler: each delivery of signo adds one to its count. */
int ipc_sig_count(int signo, enum ipc_sig_restart restart,
		  struct sigaction *old);
/* The count of signo so far (safe to read while signals arrive). */
unsigned long ipc_sig_counted(int signo);
void ipc_sig_count_reset(int signo);

int ipc_sig_ignore(int signo, struct sigaction *old);
int ipc_sig_default(int signo, struct sigaction *old);
/* Puts back an action an earlier call returned in old. A restoring call:
 * it fails only on a bad argument. */
int ipc_sig_restore(int signo, const struct sigaction *old);

/* ---- masks --------------------------------------------------------------- */

/* A set of the listed signals, ended by 0: ipc_sig_set(&s, SIGINT, 0). */
void ipc_sig_set(sigset_t *set, ...);

/* Opens a window: blocks set (adding to the mask), the old mask into old. */
int ipc_sig_block(const sigset_t *set, sigset_t *old);
/* Unblocks set (pending ones among them are delivered before it returns). */
int ipc_sig_unblock(const sigset_t *set, sigset_t *old);
/* Closes a window: the mask becomes old again. */
int ipc_sig_restore_mask(const sigset_t *old);
/* 1 if signo is blocked in the calling thread, 0 if not, -1 on error. */
int ipc_sig_is_blocked(int signo);
/* 1 if signo is pending (for the thread or the process), 0 if not. */
int ipc_sig_is_pending(int signo);

/* ---- waiting ------------------------------------------------------------- */

/*
 * Waits until ipc_sig_counted(signo) is above `seen`, the counting handler
 * being installed for signo. signo is blocked while the count is checked
 * and sigsuspend unblocks it only while asleep, so a signal that arrives
 * between the check and the sleep is not lost: it ends the sleep. The
 * mask is as before on return. Returns the new count.
 */
long ipc_sig_wait_count(int signo, unsigned long seen);

/*
 * Takes one of the signals in set, which the caller has blocked, within
 * timeout_ms (-1 for ever): returns its number and, if info is not NULL,
 * its siginfo. An interruption by another signal resumes the wait with
 * the time left. -1 with ETIMEDOUT when none came in time.
 */
int ipc_sig_take(const sigset_t *set, int timeout_ms, siginfo_t *info);

/* ---- a notifier for poll loops ------------------------------------------- */

enum ipc_sig_notifier_kind {
	/* A handler per signal writes a record to a non-blocking pipe; the
	 * signals are unblocked while the notifier is open. One at a time
	 * in the process (EBUSY for a second). Handlers use SA_RESTART. */
	IPC_SIG_SELF_PIPE,
	/* signalfd: the signals are blocked while it is open and read from
	 * the descriptor instead of being delivered. */
	IPC_SIG_SIGNALFD,
};

/* One signal as a notifier reports it. */
struct ipc_sig_event {
	int signo;
	int code;  /* si_code: SI_USER, SI_QUEUE, SI_TIMER, CLD_EXITED... */
	pid_t pid; /* the sender, for kill and sigqueue */
	uid_t uid;
	int value; /* si_value.sival_int, for sigqueue and timers */
};

struct ipc_sig_notifier;

/* A notifier for the signals in set: its descriptor (ipc_sig_notifier_fd)
 * is non-blocking and close-on-exec, and polls readable when a signal
 * came. NULL with errno on failure, nothing changed. */
struct ipc_sig_notifier *ipc_sig_notifier_open(const sigset_t *set,
					       enum ipc_sig_notifier_kind kind);
int ipc_sig_notifier_fd(const struct ipc_sig_notifier *n);
/* The next event into ev: 1, or 0 when there is none now, or -1. */
int ipc_sig_notifier_read(struct ipc_sig_notifier *n, struct ipc_sig_event *ev);
/* Closes the descriptors and puts back the handlers and mask it found. */
int ipc_sig_notifier_close(struct ipc_sig_notifier *n);

/* ---- real-time signals as a small channel -------------------------------- */

/* The kth real-time signal (SIGRTMIN + k), or -1 with EINVAL past SIGRTMAX. */
int ipc_sig_rt(int k);

enum ipc_sig_send_status {
	IPC_SIG_SENT = 0,
	/* The receiver's queue of pending signals is full: its user reached
	 * RLIMIT_SIGPENDING (sigqueue's EAGAIN). Nothing was sent; the value
	 * can be sent again after the receiver took some. */
	IPC_SIG_QUEUE_FULL = 1,
};

/* Queues signo with value to pid (sigqueue): IPC_SIG_SENT, or
 * IPC_SIG_QUEUE_FULL, or -1 with errno (ESRCH, EPERM, EINVAL). pid must be
 * above 0: a pid never set (0) or a group (< 0) is EINVAL, not sent. */
int ipc_sig_send_value(pid_t pid, int signo, int value);

/* Takes the next value queued with signo, which the caller has blocked
 * (EINVAL if not): real-time signals come in the order they were sent, one
 * per send, nothing merged. 0, or -1 with ETIMEDOUT after timeout_ms. */
int ipc_sig_receive_value(int signo, int timeout_ms, int *value);

/* ---- child exit as an event ---------------------------------------------- */

struct ipc_child_exit {
	pid_t pid;
	int exited; /* 1: it called exit, code is its status */
	int code;
	int signo;  /* not 0: it was killed by that signal */
	int core;   /* it dumped core */
};

/* The fields of a waitpid status. */
void ipc_child_decode(pid_t pid, int status, struct ipc_child_exit *out);

/*
 * Waits up to timeout_ms (-1 for ever) for the child pid to end and reaps
 * it: no zombie is left. Watches a pidfd (pidfd_open + poll) where the
 * kernel has one; otherwise as ipc_child_wait_sigchld. -1 with ETIMEDOUT
 * if it is still running (it is left as it is, unreaped); ECHILD if pid
 * is not a child.
 */
int ipc_child_wait(pid_t pid, int timeout_ms, struct ipc_child_exit *out);
/* The same with SIGCHLD (blocked while it waits) and waitpid(WNOHANG). */
int ipc_child_wait_sigchld(pid_t pid, int timeout_ms,
			   struct ipc_child_exit *out);

/* ---- timeouts ------------------------------------------------------------ */

/* alarm: SIGALRM after seconds (0 cancels); the seconds the previous
 * alarm had left. */
unsigned ipc_sig_alarm(unsigned seconds);

/* A POSIX timer on CLOCK_MONOTONIC that sends signo with value
 * (SIGEV_SIGNAL; si_code SI_TIMER), disarmed. */
int ipc_sig_timer_create(int signo, int value, timer_t *out);
/* Fires after first_ms, then every interval_ms (0: once). first_ms 0
 * disarms it. */
int ipc_sig_timer_arm(timer_t t, long first_ms, long interval_ms);
int ipc_sig_timer_delete(timer_t t);

#endif
