/*
 * Deliberately wrong, for a test only: a wait for a signal that checks a
 * flag and then calls pause(), two steps with a window between them. A
 * signal that lands in the window runs the handler before pause() starts;
 * pause() then sleeps until a next signal that never comes: the wakeup is
 * lost.
 *
 * The schedule that opens the window sends the signal right after the
 * check, right before the sleeping call. Under it:
 *   broken   the check-then-pause wait must hang until its deadline (its
 *            own alarm ends it) with the signal handled: the lost wakeup
 *            is caught by a timeout;
 *   project  ipc_sig_wait_count, under the same schedule given by the
 *            fault seam (a SIGNAL decision on its sigsuspend call), must
 *            return the count 1 well before that deadline.
 * Each runs in a child with the deadline as its alarm; the parent reads
 * how it ended. Usage: lost_wakeup broken|project
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/fault.h"
#include "ipc/signals.h"

#define WAKE SIGUSR1
/* Long enough for a correct wait under memcheck, short for a lost one. */
#define DEADLINE_S 3

/* ---- the broken wait ----------------------------------------------------- */

static volatile sig_atomic_t woken;

static void on_wake(int signo)
{
	(void)signo;
	woken = 1;
}

/* The schedule: the signal lands after the check, before the sleep. */
static void open_window(void)
{
	raise(WAKE);
}

static void check_then_pause(void (*between)(void))
{
	while (!woken) {
		between();
		pause(); /* the bug: the check and the sleep are not one step */
	}
}

/* The deadline ends the hung wait, saying whether the wake signal had
 * been handled (so the wakeup was lost, not never sent). */
enum { WOKE = 0, LOST = 3, NEVER_SENT = 4 };

static void on_deadline(int signo)
{
	(void)signo;
	_exit(woken ? LOST : NEVER_SENT);
}

static int run_broken(void)
{
	struct sigaction act = {.sa_handler = on_wake};

	sigemptyset(&act.sa_mask);
	if (sigaction(WAKE, &act, NULL) != 0)
		return 2;
	act.sa_handler = on_deadline;
	if (sigaction(SIGALRM, &act, NULL) != 0)
		return 2;
	check_then_pause(open_window);
	return WOKE; /* the window did not lose the signal */
}

/* ---- the project's wait -------------------------------------------------- */

/* The calls of ipc_sig_wait_count: block the signal, sigsuspend, restore.
 * Byte 0xE0 raises the first registered signal before the call it falls
 * on: here the second, the sigsuspend after the check. */
static const uint8_t window_plan[] = {0x00, 0xE0};

static int run_project(void)
{
	const int signals[] = {WAKE};
	long count;

	if (ipc_sig_count(WAKE, IPC_SIG_INTERRUPT, NULL) != 0)
		return 2;
	ipc_sig_count_reset(WAKE);
	ipc_fault_set_signals(signals, 1);
	ipc_fault_plan_bytes(window_plan, sizeof window_plan);
	count = ipc_sig_wait_count(WAKE, 0);
	if (ipc_fault_injected() != 1) {
		fprintf(stderr, "lost_wakeup: the plan raised %llu signals,"
			" expected 1 at sigsuspend\n",
			(unsigned long long)ipc_fault_injected());
		ipc_fault_log_print(stderr);
		return 2;
	}
	ipc_fault_plan_clear();
	return count == 1 ? 0 : 1;
}

/* ---- the parent ---------------------------------------------------------- */

static int wait_child(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int broken = argc == 2 && strcmp(argv[1], "broken") == 0;
	int project = argc == 2 && strcmp(argv[1], "project") == 0;
	pid_t pid;
	int status;

	if (!broken && !project) {
		fprintf(stderr, "usage: lost_wakeup broken|project\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("lost_wakeup: fork");
		return 2;
	}
	if (pid == 0) {
		alarm(DEADLINE_S);
		_exit(broken ? run_broken() : run_project());
	}
	if (wait_child(pid, &status) != 0) {
		perror("lost_wakeup: waitpid");
		return 2;
	}
	if (broken) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == LOST) {
			printf("lost_wakeup: caught: check-then-pause handled the"
			       " signal and still hung until its %d s"
			       " deadline\n", DEADLINE_S);
			return 0;
		}
		fprintf(stderr, "lost_wakeup: NOT CAUGHT: check-then-pause"
			" ended with status 0x%x (exit %d: %s)\n", status,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			WIFEXITED(status) && WEXITSTATUS(status) == NEVER_SENT
				? "the schedule never sent the signal"
				: "it did not hang");
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("lost_wakeup: ipc_sig_wait_count returned under the"
		       " same schedule\n");
		return 0;
	}
	fprintf(stderr, "lost_wakeup: ipc_sig_wait_count did not return"
		" the count 1 under the schedule (status 0x%x)\n", status);
	return 1;
}
