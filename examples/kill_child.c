/*
 * A parent stops its child with SIGKILL, and reaps it.
 *
 * The note's kill sample, and what goes wrong in it:
 * - `if ((pid == fork()) < 0)`: `==` for `=`. fork's result is compared with
 *   an uninitialised pid and lost; both processes go on with a garbage pid,
 *   and kill(garbage, SIGKILL) kills whatever that number names (0 is the
 *   caller's whole process group, -1 every process it may signal).
 * - The parent looks once (waitpid with WNOHANG) and kills at once: the
 *   child may not have stopped yet, or even started; nothing is synchronised.
 * - The killed child is never waited for: a zombie until the parent exits.
 *
 * What this program does instead: fork's result goes into pid and is checked.
 * The child stops itself with SIGSTOP; the parent, SIGCHLD blocked from
 * before the fork, waits (waitpid WUNTRACED, sleeping in ipc_sig_take on
 * SIGCHLD, with a deadline) until it sees the child stopped. It kills it
 * through ipc_sig_send_value, which refuses a pid that is not above 0 (shown
 * first with pid 0, the value an unset pid often has), then reaps it with
 * ipc_child_wait and prints the decoded status: killed by SIGKILL.
 *
 * Run: example-kill-child
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/signals.h"

#define TIMEOUT_MS 10000 /* no wait here is longer than this */
#define CHILD_LIMIT_S 20 /* a child continued by mistake ends by SIGALRM */

static const char *signal_name(int signo)
{
	const char *name = sigabbrev_np(signo);

	return name != NULL ? name : "?";
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* At least 0: a negative timeout would mean for ever. */
static int left_ms(long long deadline)
{
	long long left = deadline - monotonic_ms();

	return left > 0 ? (int)left : 0;
}

/* The child: stop, and exit only if someone continues it. */
static int run_child(const sigset_t *parent_mask)
{
	ipc_sig_restore_mask(parent_mask); /* the child needs no SIGCHLD window */
	alarm(CHILD_LIMIT_S);
	raise(SIGSTOP);
	return 0;
}

/*
 * Waits until pid is stopped: 0, or -1 (ETIMEDOUT, or it ended instead).
 * SIGCHLD is blocked, so one sent between a look and the sleep stays
 * pending and ends the sleep at once: no stop is missed.
 */
static int wait_until_stopped(pid_t pid, const sigset_t *chld)
{
	long long deadline = monotonic_ms() + TIMEOUT_MS;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WUNTRACED | WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("parent: waitpid");
			return -1;
		}
		if (r == pid && WIFSTOPPED(status)) {
			printf("parent: child %d stopped itself (SIG%s)\n", (int)pid,
			       signal_name(WSTOPSIG(status)));
			return 0;
		}
		if (r == pid) {
			fprintf(stderr, "parent: the child ended before it stopped\n");
			return -1;
		}
		if (ipc_sig_take(chld, left_ms(deadline), NULL) < 0) {
			perror("parent: waiting for SIGCHLD");
			return -1;
		}
	}
}

/* The guard the note's garbage pid would have met: pid 0 is not sent. */
static int show_guard(void)
{
	if (ipc_sig_send_value(0, SIGKILL, 0) == -1 && errno == EINVAL) {
		printf("parent: pid 0 refused: %s\n", strerror(errno));
		return 0;
	}
	fprintf(stderr, "parent: pid 0 was not refused\n");
	return -1;
}

static int kill_and_reap(pid_t pid)
{
	struct ipc_child_exit ex;
	int sent = ipc_sig_send_value(pid, SIGKILL, 0);

	if (sent != IPC_SIG_SENT)
		perror("parent: sending SIGKILL");
	else
		printf("parent: sent SIGKILL to %d\n", (int)pid);
	/* Reaped whatever happened: no zombie is left behind. */
	if (ipc_child_wait(pid, TIMEOUT_MS, &ex) != 0) {
		perror("parent: reaping the child");
		return -1;
	}
	if (ex.exited) {
		printf("parent: child %d exited with code %d\n", (int)pid, ex.code);
		return -1;
	}
	printf("parent: child %d was killed by signal %d (SIG%s), and reaped\n",
	       (int)pid, ex.signo, signal_name(ex.signo));
	return sent == IPC_SIG_SENT && ex.signo == SIGKILL ? 0 : -1;
}

int main(void)
{
	sigset_t chld, old;
	pid_t pid;
	int ok;

	/* Blocked before the fork: the child's stop cannot come too early. */
	ipc_sig_set(&chld, SIGCHLD, 0);
	if (ipc_sig_block(&chld, &old) != 0) {
		perror("parent: blocking SIGCHLD");
		return 1;
	}
	fflush(stdout); /* nothing buffered may be copied into the child */
	pid = fork();
	if (pid < 0) {
		perror("parent: fork");
		return 1;
	}
	if (pid == 0)
		_exit(run_child(&old));

	ok = wait_until_stopped(pid, &chld) == 0;
	ok = show_guard() == 0 && ok;
	ok = kill_and_reap(pid) == 0 && ok;
	ipc_sig_restore_mask(&old);
	return ok ? 0 : 1;
}
