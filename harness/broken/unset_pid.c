/*
 * kill on a pid that was never set: a pid of 0 signals the sender's whole
 * process group, -1 every process the sender may signal. The guard in
 * ipc_sig_send_value refuses pid <= 0 with EINVAL; this test asserts that
 * it does for both, and that no signal reached the process group.
 *
 * It runs in a child that made its own process group, so that if the
 * guard ever lets a group signal through, only that child is hit. A
 * counting handler sees what arrives; a control send with kill(0, ...)
 * shows that the count would see a group signal, so the test can fail.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/signals.h"

#define CHILD_DEADLINE_S 10

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "unset_pid: FAILED %s: ", #cond);    \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

/* An unset pid (0) and a garbage one (-1) are refused and send nothing. */
static void refuse(pid_t pid)
{
	int r, err;

	errno = 0;
	r = ipc_sig_send_value(pid, SIGUSR1, 7);
	err = errno;
	CHECK(r == -1 && err == EINVAL,
	      "pid %d: got %d (%s), expected -1 with EINVAL", (int)pid, r,
	      strerror(err));
	CHECK(ipc_sig_counted(SIGUSR1) == 0 && ipc_sig_is_pending(SIGUSR1) == 0,
	      "pid %d: a signal reached the process group (count %lu)",
	      (int)pid, ipc_sig_counted(SIGUSR1));
}

/* The same count sees a signal sent to the group: the check above works. */
static void control(void)
{
	ipc_sig_count_reset(SIGUSR1);
	CHECK(kill(0, SIGUSR1) == 0, "kill(0): %s", strerror(errno));
	CHECK(ipc_sig_counted(SIGUSR1) == 1,
	      "the control signal to the group counted %lu, expected 1",
	      ipc_sig_counted(SIGUSR1));
}

static int run_child(void)
{
	alarm(CHILD_DEADLINE_S);
	if (setpgid(0, 0) != 0) {
		perror("unset_pid: setpgid");
		return 2;
	}
	if (ipc_sig_count(SIGUSR1, IPC_SIG_RESTART, NULL) != 0) {
		perror("unset_pid: ipc_sig_count");
		return 2;
	}
	ipc_sig_count_reset(SIGUSR1);
	refuse(0);
	refuse(-1);
	control();
	return failures == 0 ? 0 : 1;
}

int main(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		perror("unset_pid: fork");
		return 2;
	}
	if (pid == 0)
		_exit(run_child());
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("unset_pid: waitpid");
			return 2;
		}
	if (!WIFEXITED(status)) {
		fprintf(stderr, "unset_pid: the child was killed by signal %d\n",
			WTERMSIG(status));
		return 1;
	}
	if (WEXITSTATUS(status) == 0)
		printf("unset_pid: pid 0 and -1 refused with EINVAL, no signal"
		       " sent\n");
	return WEXITSTATUS(status);
}
