/*
 * sigqueue_order: real-time signals as a channel of values. Each input
 * queues values on several real-time signals while they are blocked, then
 * takes them all, and checks the kernel's rules: nothing is coalesced or
 * lost, each value comes with its signal, and they come lowest signal
 * number first, in the order sent within one signal.
 *
 * Input (reads past the end give zeros):
 *   byte 0   bit 0: take them in a SA_SIGINFO handler by unblocking the
 *                   signals; otherwise with sigtimedwait while blocked
 *   then per value 5 bytes, at most SQ_MAX_VALUES:
 *            signal  bits 0-1: SIGRTMIN+1 .. SIGRTMIN+4
 *            value   4 bytes, big-endian (sival_int)
 *
 * The values are queued to this thread (pthread_sigqueue, sigqueue aimed
 * at one thread): a process-directed one could go to another thread of the
 * engine's that has the signals unblocked. The handlers block all four
 * signals while they run (sa_mask): otherwise the kernel stacks one frame
 * per pending signal before returning to user space, and the highest runs
 * first. A full queue (RLIMIT_SIGPENDING, EAGAIN) ends the sending; the
 * values queued before it must still all arrive. Only real-time signals:
 * the fuzzing engines own the classic ones. Actions and the mask are
 * restored after each input, and that is checked.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_common.h"

#define SQ_SIGNALS 4
#define SQ_MAX_VALUES 64
#define SQ_BY_HANDLER 0x01u

/* ThreadSanitizer defers a signal that arrives outside a blocking call and
 * keeps one deferred signal per number, so queued values of one signal
 * reach the handler coalesced: there the handler mode takes the values
 * with sigtimedwait too. */
#if defined(__SANITIZE_THREAD__)
#define SQ_HANDLER_WORKS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SQ_HANDLER_WORKS 0
#endif
#endif
#ifndef SQ_HANDLER_WORKS
#define SQ_HANDLER_WORKS 1
#endif

struct sq_value {
	int sig;
	int value;
};

static struct sq_value got[SQ_MAX_VALUES + 1];
static volatile sig_atomic_t n_got;
static volatile sig_atomic_t wrong_code;

static void take(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (si->si_code != SI_QUEUE)
		wrong_code = 1;
	if (n_got <= SQ_MAX_VALUES) {
		got[n_got].sig = sig;
		got[n_got].value = si->si_value.sival_int;
		n_got++;
	}
}

static void signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (int k = 0; k < SQ_SIGNALS; k++)
		sigaddset(set, SIGRTMIN + 1 + k);
}

static void take_waiting(const sigset_t *set)
{
	const struct timespec now = { 0, 0 };
	siginfo_t si;
	int sig;

	while ((sig = sigtimedwait(set, &si, &now)) > 0)
		take(sig, &si, NULL);
	FUZZ_CHECK(errno == EAGAIN, "sigtimedwait with a zero timeout ended"
		   " in %s; expected EAGAIN once nothing is pending",
		   strerrorname_np(errno));
}

/* What the kernel must hand out: stable-sorted by signal number. */
static size_t expected(const struct sq_value *sent, size_t n,
		       struct sq_value *want)
{
	size_t m = 0;

	for (int k = 0; k < SQ_SIGNALS; k++)
		for (size_t i = 0; i < n; i++)
			if (sent[i].sig == SIGRTMIN + 1 + k)
				want[m++] = sent[i];
	return m;
}

static void check_order(const struct sq_value *sent, size_t n)
{
	struct sq_value want[SQ_MAX_VALUES];
	size_t m = expected(sent, n, want);

	FUZZ_CHECK(!wrong_code, "a queued value arrived with a si_code other"
		   " than SI_QUEUE");
	FUZZ_CHECK((size_t)n_got == m, "%zu values queued, %d taken: real-time"
		   " signals queue, they are never coalesced", m, (int)n_got);
	for (size_t i = 0; i < m; i++)
		FUZZ_CHECK(got[i].sig == want[i].sig &&
				   got[i].value == want[i].value,
			   "value %zu taken was %d on signal %d; expected %d on"
			   " signal %d (lower signal first, FIFO within one)",
			   i, got[i].value, got[i].sig, want[i].value,
			   want[i].sig);
}

static int same_mask(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig <= SIGRTMAX; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct sq_value sent[SQ_MAX_VALUES];
	struct sigaction sa, old[SQ_SIGNALS], now;
	sigset_t set, mask_before, mask_after, pending;
	uint8_t flags = fuzz_take_u8(&in);
	size_t n = 0;

	signal_set(&set);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = take;
	sa.sa_flags = SA_SIGINFO;
	sa.sa_mask = set;
	pthread_sigmask(SIG_BLOCK, &set, &mask_before);
	for (int k = 0; k < SQ_SIGNALS; k++)
		sigaction(SIGRTMIN + 1 + k, &sa, &old[k]);
	n_got = 0;
	wrong_code = 0;

	while (in.left > 0 && n < SQ_MAX_VALUES) {
		union sigval v;

		sent[n].sig = SIGRTMIN + 1 + (fuzz_take_u8(&in) & 3);
		sent[n].value = (int)fuzz_take_be32(&in);
		memset(&v, 0, sizeof v); /* all 8 bytes go to the kernel */
		v.sival_int = sent[n].value;
		if (pthread_sigqueue(pthread_self(), sent[n].sig, v) != 0)
			break; /* EAGAIN: RLIMIT_SIGPENDING reached */
		n++;
	}
	sigpending(&pending);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(sigismember(&pending, sent[i].sig), "signal %d was"
			   " queued while blocked but is not pending",
			   sent[i].sig);
	if ((flags & SQ_BY_HANDLER) && SQ_HANDLER_WORKS)
		pthread_sigmask(SIG_SETMASK, &mask_before, NULL);
	else
		take_waiting(&set);
	pthread_sigmask(SIG_SETMASK, &mask_before, NULL);
	check_order(sent, n);

	for (int k = 0; k < SQ_SIGNALS; k++) {
		sigaction(SIGRTMIN + 1 + k, &old[k], NULL);
		sigaction(SIGRTMIN + 1 + k, NULL, &now);
		FUZZ_CHECK(now.sa_handler == old[k].sa_handler,
			   "the action of signal %d was not restored",
			   SIGRTMIN + 1 + k);
	}
	pthread_sigmask(SIG_BLOCK, NULL, &mask_after);
	FUZZ_CHECK(same_mask(&mask_before, &mask_after), "the thread's mask"
		   " differs after the input");
	return 0;
}
