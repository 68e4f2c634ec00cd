/*
 * Deliberately wrong, for a test only: a signal handler that calls printf
 * and malloc, neither of them async-signal-safe (signal-safety(7)). If the
 * signal lands while the interrupted code holds malloc's or stdio's lock,
 * the handler deadlocks or corrupts the heap; most runs it seems to work,
 * which is why a check has to find it and not luck.
 *
 * Built in the tsan preset only, where ThreadSanitizer reports the calls
 * ("signal-unsafe call inside of a signal") and exits non-zero; the test
 * broken.unsafe-handler asserts that it does. The project's own handlers
 * only add to a sig_atomic_t or write one record to a self-pipe
 * (impl/signals.c).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t handled;

static void unsafe_handler(int signo)
{
	char *note = malloc(32);

	if (note != NULL) {
		snprintf(note, 32, "signal %d", signo);
		printf("handler: %s\n", note);
		free(note);
	}
	handled = 1;
}

/* The signal comes from another thread, as an outside sender's would: an
 * asynchronous delivery, not one raised by the code it interrupts. */
static void *sender(void *target)
{
	pthread_kill(*(pthread_t *)target, SIGUSR1);
	return NULL;
}

int main(void)
{
	struct sigaction act = {.sa_handler = unsafe_handler};
	struct timespec tick = {0, 1000000};
	pthread_t self = pthread_self(), thread;
	int waited;

	sigemptyset(&act.sa_mask);
	if (sigaction(SIGUSR1, &act, NULL) != 0 ||
	    pthread_create(&thread, NULL, sender, &self) != 0) {
		perror("unsafe_handler: set-up");
		return 2;
	}
	for (waited = 0; !handled && waited < 5000; waited++)
		nanosleep(&tick, NULL);
	pthread_join(thread, NULL);
	if (!handled) {
		fprintf(stderr, "unsafe_handler: the signal never arrived\n");
		return 2;
	}
	return 0;
}
