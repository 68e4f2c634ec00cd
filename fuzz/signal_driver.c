/*
 * The signal-timing fuzz driver: a channel_<backend> script (fuzz/
 * channel_driver.c) run under a schedule of real-time signals and a handler
 * flavour taken from the same input. Every fuzz/signal_timing_<name>.c only
 * names its backend (channel_fuzz_backend); the signal constants are in
 * signal_driver.h, which fuzz/seeds.c shares.
 *
 * Input (reads past the end give zeros):
 *   byte 0   handler flavour
 *            bit 0  SIGF_RESTART     handlers installed with SA_RESTART
 *            bit 1  SIGF_SELF_PIPE   the handler writes a byte to a self-pipe,
 *                                    drained after the run; otherwise it
 *                                    counts in a volatile sig_atomic_t
 *            bit 2  SIGF_THREAD      each signal is sent by a second thread
 *                                    (IPC_SENDER_THREAD, include/ipc/
 *                                    fault.h), not raise()d
 *            bit 3  SIGF_SIGINFO     SA_SIGINFO handlers, which also check
 *                                    si_signo, si_code (SI_TKILL) and si_pid
 *            bit 4  SIGF_MASK_BOTH   each handler runs with both signals
 *                                    blocked (sa_mask), not only its own
 *   byte 1   bits 0-3: the number of schedule points, 0..15
 *   then per point 2 bytes:
 *            gap     seam calls from the previous point (the first point is
 *                    call `gap`, each next one gap + 1 calls later)
 *            signal  bit 0: SIGRTMIN+1 or SIGRTMIN+2
 *   the rest: a channel_<backend> input. At each point its fault plan byte
 *            becomes the SIGNAL decision for that signal (0xE0 or 0xE1),
 *            the plan extended with passes to reach it.
 *
 * Invariants, besides the channel driver's (every message once, in order,
 * intact; no EINTR, short transfer or signal surfaces as a status):
 *  - each real-time signal the plan sent was handled exactly once, counted
 *    per signal, in the calling thread, with the siginfo a tgkill gives;
 *  - the library changed no signal action and left the thread's mask as it
 *    found it; after the input the driver's own actions are back.
 *
 * Signals reach a call before it is made (the seam sends them and waits for
 * the handler), so the same input puts the same signal at the same call on
 * every run, and the replay build's check of the seam log holds. Signals
 * that land inside a blocking call, where SA_RESTART decides between a
 * restart and EINTR, are the timer stress mode's (fuzz/signal_stress.c).
 * Only real-time signals: the fuzzing engines own SIGALRM, SIGUSR1/2 and the
 * crash signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/fault.h"

#include "channel_driver.h"
#include "fuzz_common.h"
#include "signal_driver.h"

#define NSIG_RT 2
/* The kernel's flag for the libc's return trampoline, which sigaction adds
 * on its own; <signal.h> does not name it. */
#define SA_RESTORER_FLAG 0x04000000

static int sigs[NSIG_RT];
static int self_pipe[2] = { -1, -1 };
static volatile sig_atomic_t seen[NSIG_RT];
static volatile sig_atomic_t bad_siginfo; /* 1: a wrong siginfo, 2: pipe full */
static volatile sig_atomic_t bad_code;    /* the wrong one's si_code */
static volatile sig_atomic_t wrong_thread;
static pthread_t driver_thread;
static const uint8_t *merged_plan;
static size_t merged_plan_len;

static int index_of(int sig)
{
	return sig == sigs[1];
}

/* ---- the handlers: async-signal-safe work only ---------------------------- */

static void note(int sig)
{
	int k = index_of(sig);

	if (!pthread_equal(pthread_self(), driver_thread))
		wrong_thread = 1;
	seen[k]++;
	chf_count_signal();
}

static void by_pipe(int sig)
{
	int saved = errno;
	uint8_t k = (uint8_t)index_of(sig);

	if (!pthread_equal(pthread_self(), driver_thread))
		wrong_thread = 1;
	if (write(self_pipe[1], &k, 1) != 1)
		bad_siginfo = 2; /* the pipe is full: a count would be lost */
	errno = saved;
}

static void check_info(int sig, const siginfo_t *si)
{
	if (si->si_signo != sig || si->si_code != SI_TKILL ||
	    si->si_pid != getpid()) {
		bad_siginfo = 1;
		bad_code = si->si_code;
	}
}

static void note_info(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	check_info(sig, si);
	note(sig);
}

static void by_pipe_info(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	check_info(sig, si);
	by_pipe(sig);
}

/* ---- set-up and the flavour ------------------------------------------------ */

static void setup_signals(void)
{
	if (self_pipe[0] >= 0)
		return;
	sigs[0] = SIGRTMIN + 1;
	sigs[1] = SIGRTMIN + 2;
	driver_thread = pthread_self();
	if (pipe2(self_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		perror("signal_timing: self-pipe");
		exit(1);
	}
}

static struct sigaction flavour_action(uint8_t flavour)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	if (flavour & SIGF_MASK_BOTH) {
		sigaddset(&sa.sa_mask, sigs[0]);
		sigaddset(&sa.sa_mask, sigs[1]);
	}
	if (flavour & SIGF_RESTART)
		sa.sa_flags |= SA_RESTART;
	if (flavour & SIGF_SIGINFO) {
		sa.sa_flags |= SA_SIGINFO;
		sa.sa_sigaction = flavour & SIGF_SELF_PIPE ? by_pipe_info : note_info;
	} else {
		sa.sa_handler = flavour & SIGF_SELF_PIPE ? by_pipe : note;
	}
	return sa;
}

static int same_set(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig <= SIGRTMAX; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return 0;
	return 1;
}

static int same_action(const struct sigaction *a, const struct sigaction *b)
{
	return a->sa_handler == b->sa_handler &&
	       (a->sa_flags & ~SA_RESTORER_FLAG) ==
		       (b->sa_flags & ~SA_RESTORER_FLAG) &&
	       same_set(&a->sa_mask, &b->sa_mask);
}

static void check_action(int sig, const struct sigaction *want,
			 const char *when)
{
	struct sigaction now;

	sigaction(sig, NULL, &now);
	FUZZ_CHECK(same_action(&now, want), "%s, the action of signal %d is"
		   " handler %p flags 0x%x; it was handler %p flags 0x%x",
		   when, sig, (void *)now.sa_handler, (unsigned)now.sa_flags,
		   (void *)want->sa_handler, (unsigned)want->sa_flags);
}

/* ---- the checks run() asks for -------------------------------------------- */

static void drain_self_pipe(void)
{
	uint8_t k;

	while (read(self_pipe[0], &k, 1) == 1) {
		seen[k & 1]++;
		chf_count_signal();
	}
}

/* Per signal: what the plan sent on the calls made, and what was handled. */
static void check_counts(void)
{
	uint64_t calls = ipc_fault_calls();
	int sent[NSIG_RT] = { 0, 0 };

	drain_self_pipe();
	for (size_t i = 0; i < merged_plan_len && i < calls; i++)
		if (merged_plan[i] >= 0xE0)
			sent[(merged_plan[i] & 0x1Fu) % NSIG_RT]++;
	if (sent[0] != seen[0] || sent[1] != seen[1] || bad_siginfo ||
	    wrong_thread)
		ipc_fault_log_print(stderr);
	FUZZ_CHECK(bad_siginfo != 2, "the self-pipe was full: a handled"
		   " signal went uncounted");
	FUZZ_CHECK(bad_siginfo == 0, "a handler got a wrong siginfo (si_code"
		   " %d): the seam sends with tgkill, which gives SI_TKILL,"
		   " this signal and this pid", (int)bad_code);
	FUZZ_CHECK(!wrong_thread, "a signal was handled in a thread other than"
		   " the one whose call it was sent before");
	for (int k = 0; k < NSIG_RT; k++)
		FUZZ_CHECK(sent[k] == seen[k], "signal %d: sent %d times before"
			   " seam calls, handled %d times: a real-time signal"
			   " is handled once per send", sigs[k], sent[k],
			   (int)seen[k]);
	seen[0] = seen[1] = 0;
}

/* ---- one input ------------------------------------------------------------- */

/* The channel input with the schedule written into its plan. */
static uint8_t *merge(struct fuzz_input *in, uint8_t points, size_t *len)
{
	size_t at[SIGF_MAX_POINTS], n = points & SIGF_POINTS_MASK;
	uint8_t which[SIGF_MAX_POINTS];
	size_t script_len, got, total, plan_end = 0, next = 0;
	const uint8_t *rest;
	uint8_t *out;

	for (size_t k = 0; k < n; k++) {
		at[k] = next + fuzz_take_u8(in);
		which[k] = fuzz_take_u8(in) & 1u;
		next = at[k] + 1;
		plan_end = next;
	}
	rest = fuzz_take_bytes(in, in->left, &got);
	/* The script keeps its full length, read past the end as zeros, so
	 * that the plan starts where the channel driver looks for it. */
	script_len = 2 + 5u * (got > 1 ? rest[1] & CHF_COUNT_MASK : 0);
	total = got > script_len ? got : script_len;
	if (script_len + plan_end > total)
		total = script_len + plan_end;
	out = calloc(total > 0 ? total : 1, 1);
	if (out == NULL)
		abort();
	memcpy(out, rest, got);
	for (size_t k = 0; k < n; k++)
		out[script_len + at[k]] = (uint8_t)(0xE0u | which[k]);
	merged_plan = out + script_len;
	merged_plan_len = total - script_len;
	*len = total;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct sigaction before[NSIG_RT], mine, pipe_before;
	sigset_t mask_before, mask_after;
	uint8_t flavour, *channel_input;
	size_t len;

	LLVMFuzzerInitialize(NULL, NULL);
	setup_signals();
	flavour = fuzz_take_u8(&in);
	channel_input = merge(&in, fuzz_take_u8(&in), &len);
	pthread_sigmask(SIG_BLOCK, NULL, &mask_before);
	sigaction(SIGPIPE, NULL, &pipe_before);
	mine = flavour_action(flavour);
	for (int k = 0; k < NSIG_RT; k++)
		sigaction(sigs[k], &mine, &before[k]);
	ipc_fault_set_sender(flavour & SIGF_THREAD ? IPC_SENDER_THREAD
						   : IPC_SENDER_RAISE);
	chf_before_signal_checks = check_counts;

	channel_fuzz_input(channel_input, len);

	chf_before_signal_checks = NULL;
	ipc_fault_set_sender(IPC_SENDER_RAISE);
	pthread_sigmask(SIG_BLOCK, NULL, &mask_after);
	FUZZ_CHECK(same_set(&mask_before, &mask_after), "the thread's signal"
		   " mask differs after the input: the library must restore"
		   " what it blocks");
	for (int k = 0; k < NSIG_RT; k++)
		check_action(sigs[k], &mine, "after the channel ran");
	check_action(SIGPIPE, &pipe_before, "after the channel ran");
	for (int k = 0; k < NSIG_RT; k++) {
		sigaction(sigs[k], &before[k], NULL);
		check_action(sigs[k], &before[k], "after the input");
	}
	merged_plan = NULL;
	free(channel_input);
	return 0;
}
