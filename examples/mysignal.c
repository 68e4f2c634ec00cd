/*
 * Wait for SIGINT or SIGQUIT and say which came.
 *
 * The note's mysignal.c, and what goes wrong in it:
 * - `pasue()` for pause(): an implicit declaration, then a link error.
 * - printf inside the handler: printf is not async-signal-safe. A signal
 *   that lands while the main program is inside stdio can deadlock on its
 *   lock or corrupt its buffer.
 * - signal() installs the handlers: whether a slow call it interrupts
 *   restarts, and whether the handler stays installed after one delivery,
 *   depend on the system and the libc; sigaction says both.
 * - The handlers are installed after the "Waiting" message, and pause()
 *   comes after that: a signal before the handlers ends the process (the
 *   default action), and one between the handler and pause() is handled
 *   and then lost: pause() sleeps for ever.
 * - "SIGQUTI" in the message.
 *
 * What this program does instead: ipc_sig_count installs, with sigaction,
 * a handler that only adds to a counter (and says SA_RESTART explicitly).
 * The program announces it is ready only once both handlers are in. It
 * waits with both signals blocked while it looks at the counters, and
 * sigsuspend unblocks them only while asleep: a signal that comes between
 * the look and the sleep ends the sleep instead of being lost. The main
 * program, not the handler, prints what came. An alarm bounds the wait.
 *
 * Run: example-mysignal, then send it SIGINT or SIGQUIT (its pid is printed).
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "ipc/signals.h"

#define LIMIT_S 20 /* no signal by then: SIGALRM ends the wait, a failure */

static const int waited[] = {SIGINT, SIGQUIT, SIGALRM};
#define NWAITED (sizeof waited / sizeof waited[0])

static int any_counted(void)
{
	for (size_t i = 0; i < NWAITED; i++)
		if (ipc_sig_counted(waited[i]) > 0)
			return 1;
	return 0;
}

/* Sleeps until one of the waited signals was counted; the mask as before. */
static void wait_for_any(void)
{
	sigset_t set, old, asleep;

	ipc_sig_set(&set, SIGINT, SIGQUIT, SIGALRM, 0);
	ipc_sig_block(&set, &old);
	asleep = old;
	for (size_t i = 0; i < NWAITED; i++)
		sigdelset(&asleep, waited[i]);
	while (!any_counted())
		sigsuspend(&asleep); /* always EINTR: then look again */
	ipc_sig_restore_mask(&old);
}

int main(void)
{
	struct sigaction old[NWAITED];
	size_t in;
	int rc = 1;

	for (in = 0; in < NWAITED; in++)
		if (ipc_sig_count(waited[in], IPC_SIG_RESTART, &old[in]) != 0) {
			perror("installing a handler");
			goto restore;
		}
	printf("Waiting for signal SIGINT or SIGQUIT (pid %d)\n", (int)getpid());
	fflush(stdout); /* the line says "ready": whoever signals us reads it now */
	ipc_sig_alarm(LIMIT_S);
	wait_for_any();
	ipc_sig_alarm(0);
	if (ipc_sig_counted(SIGINT) > 0)
		printf("I have got SIGINT\n");
	if (ipc_sig_counted(SIGQUIT) > 0)
		printf("I have got SIGQUIT\n");
	if (ipc_sig_counted(SIGALRM) > 0)
		fprintf(stderr, "no signal within %d s\n", LIMIT_S);
	else
		rc = 0;
restore:
	while (in-- > 0)
		ipc_sig_restore(waited[in], &old[in]);
	return rc;
}
