/*
 * Sleep until an alarm, without losing it.
 *
 * The note's alarm.c, and what goes wrong in it:
 * - No handler for SIGALRM: its default action ends the process, so
 *   "I have been waken up." after pause() is never printed.
 * - alarm(5) then pause() races: if the alarm fires before pause() starts
 *   (a loaded machine, a short alarm), pause() sleeps for ever. Installing a
 *   handler does not close that window; only blocking the signal does.
 * - printf("I have been waken up.\n", ret): an argument the format does not
 *   use; alarm's result (the seconds an earlier alarm had left) is ignored.
 *
 * What this program does instead: SIGALRM is blocked before the alarm is
 * armed, so however late the wait starts, the signal waits as pending and
 * nothing runs its default action. ipc_sig_take takes it while it stays
 * blocked (sigtimedwait), with a deadline of its own, so the program ends
 * even if no alarm comes. It prints what alarm returned and the time the
 * wake-up took.
 *
 * With --late-wait it sleeps past the alarm before it waits: the note's
 * window, held open. The wait still ends at once, with the pending alarm.
 *
 * Run: example-alarm-wake [--late-wait]
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ipc/signals.h"

#define ALARM_S 1          /* the alarm, in whole seconds as alarm() counts */
#define LATE_MS 1500       /* --late-wait: this long before waiting */
#define WAIT_LIMIT_MS 10000 /* no alarm by then: a failure, not a hang */

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* nanosleep to the end: SIGALRM is blocked, so nothing cuts it short. */
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv)
{
	int late = argc == 2 && strcmp(argv[1], "--late-wait") == 0;
	long long start;
	sigset_t alrm, old;
	unsigned before;
	int signo;

	if (argc > 2 || (argc == 2 && !late)) {
		fprintf(stderr, "usage: %s [--late-wait]\n", argv[0]);
		return 2;
	}
	ipc_sig_set(&alrm, SIGALRM, 0);
	if (ipc_sig_block(&alrm, &old) != 0) {
		perror("blocking SIGALRM");
		return 1;
	}
	start = monotonic_ms();
	before = ipc_sig_alarm(ALARM_S);
	printf("alarm set for %d s (an earlier alarm had %u s left)\n", ALARM_S,
	       before);
	if (late) {
		sleep_ms(LATE_MS);
		printf("the alarm is pending before the wait: %s\n",
		       ipc_sig_is_pending(SIGALRM) == 1 ? "yes" : "no");
	}
	signo = ipc_sig_take(&alrm, WAIT_LIMIT_MS, NULL);
	ipc_sig_alarm(0); /* none left over, whatever happened */
	ipc_sig_restore_mask(&old);
	if (signo != SIGALRM) {
		perror("waiting for SIGALRM");
		return 1;
	}
	printf("I have been woken up by SIG%s after %lld ms\n", sigabbrev_np(signo),
	       monotonic_ms() - start);
	return 0;
}
