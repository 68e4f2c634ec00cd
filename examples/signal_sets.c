/*
 * Block SIGINT and SIGQUIT, see them pending, unblock and handle them.
 *
 * The note's signal-set sample, and what goes wrong in it:
 * - It does not compile: `sigemptyse`, `esle{`, an unclosed
 *   `if (sigprocmask(...)`, `SIG_DEL` for SIG_DFL.
 * - `struct sigaction action1, action2` are not zeroed: sa_flags goes to
 *   the kernel uninitialised.
 * - `sigismember(&set, SIGINT)` tests the set it just filled (always true),
 *   not the pending signals: `pendset` is declared and never used, so
 *   sigpending, which the comments describe, is never called.
 * - The handlers are installed after the signals are unblocked: a signal
 *   pending while blocked is delivered at the unblock, to the default
 *   action, and ends the process.
 * - The SIGQUIT branch installs its action for SIGTERM.
 * - `while (1)` installs the handlers again and again: 100% CPU for ever.
 * - printf inside the handler (not async-signal-safe).
 *
 * What this program does instead: the counting handlers (ipc_sig_count,
 * sigaction with a zeroed action) go in first; then SIGINT and SIGQUIT are
 * blocked (ipc_sig_block, the old mask kept). It announces that and waits,
 * with a deadline, until SIGQUIT is pending: a signalfd polls readable
 * while a signal of its set is pending, and polling takes nothing. It
 * prints the pending set (sigpending), unblocks both (the pending ones are
 * delivered before the unblock returns) and prints how often each handler
 * ran. The test sends SIGINT twice and then SIGQUIT: SIGINT, a standard
 * signal, was pending once, so its handler runs once.
 *
 * Run: example-signal-sets, then send it SIGINT (any number of times) and
 * SIGQUIT (its pid is printed).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ipc/signals.h"

#define WAIT_LIMIT_MS 20000 /* SIGQUIT not pending by then: a failure */

/* Waits until signo, which is blocked, is pending; it stays pending. */
static int wait_pending(int signo, int timeout_ms)
{
	struct pollfd p = {.events = POLLIN};
	sigset_t one;
	int r;

	ipc_sig_set(&one, signo, 0);
	p.fd = signalfd(-1, &one, SFD_CLOEXEC);
	if (p.fd < 0)
		return -1;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	close(p.fd);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

static void print_pending(void)
{
	sigset_t pending;

	sigpending(&pending);
	printf("pending:%s%s\n", sigismember(&pending, SIGINT) ? " SIGINT" : "",
	       sigismember(&pending, SIGQUIT) ? " SIGQUIT" : "");
}

int main(void)
{
	struct sigaction old_int, old_quit;
	sigset_t set, old_mask;
	int rc = 1;

	if (ipc_sig_count(SIGINT, IPC_SIG_RESTART, &old_int) != 0 ||
	    ipc_sig_count(SIGQUIT, IPC_SIG_RESTART, &old_quit) != 0) {
		perror("installing the handlers");
		return 1;
	}
	ipc_sig_set(&set, SIGINT, SIGQUIT, 0);
	if (ipc_sig_block(&set, &old_mask) != 0) {
		perror("blocking");
		goto handlers;
	}
	printf("blocked SIGINT and SIGQUIT (pid %d)\n", (int)getpid());
	fflush(stdout); /* the line says "ready": whoever signals us reads it now */

	if (wait_pending(SIGQUIT, WAIT_LIMIT_MS) != 0)
		perror("waiting for SIGQUIT to be pending");
	else
		rc = 0;
	print_pending();
	printf("handlers run while blocked: SIGINT %lu, SIGQUIT %lu\n",
	       ipc_sig_counted(SIGINT), ipc_sig_counted(SIGQUIT));
	ipc_sig_restore_mask(&old_mask); /* the pending ones run here */
	printf("handlers run after the unblock: SIGINT %lu, SIGQUIT %lu\n",
	       ipc_sig_counted(SIGINT), ipc_sig_counted(SIGQUIT));
handlers:
	ipc_sig_restore(SIGINT, &old_int);
	ipc_sig_restore(SIGQUIT, &old_quit);
	return rc;
}
