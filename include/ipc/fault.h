/*
 * Deterministic fault injection at the system-call seam.
 *
 * Every system call impl/ makes goes through impl/sys.h. In the plain
 * library (ipc::ipc) those are the libc calls themselves. In the harness
 * library (ipc::seam), each call first takes the next decision of the
 * process's fault plan: pass; a short transfer of k bytes; fail with an errno
 * that the call can really return (EINTR, EAGAIN, ENOMEM, EPIPE); or raise a
 * signal before the call. The same plan gives the same decisions in the same
 * order, so any failure replays from the input that built its plan, and the
 * log of calls and decisions says what happened.
 *
 * The plan and log are per process (a forked child inherits a copy) and are
 * not meant for several threads at once.
 */
#ifndef IPC_FAULT_H
#define IPC_FAULT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ipc_fault_kind {
	IPC_FAULT_PASS = 0,
	IPC_FAULT_SHORT,  /* transfer at most `value` bytes (1 <= value < asked) */
	IPC_FAULT_ERRNO,  /* fail with errno `value`, doing nothing */
	IPC_FAULT_SIGNAL, /* raise signal `value`, then make the call */
	IPC_FAULT_SIGNAL_THREAD, /* the same, sent by a second thread (below) */
};

/* Named plans, the ones the conformance suite runs every backend under. */
enum ipc_fault_pattern {
	IPC_PATTERN_NONE = 0,      /* every call passes */
	IPC_PATTERN_SHORT_BY_ONE,  /* every transfer of n > 1 bytes moves n - 1 */
	IPC_PATTERN_EINTR_FIRST,   /* every call that can fail EINTR does, once */
	IPC_PATTERN_EAGAIN_ALTERNATE, /* every other call that can fail EAGAIN does */
};

/*
 * A plan from bytes (a fuzz input): call i takes byte i, mapped as
 *   0x00..0x9F  pass
 *   0xA0..0xBF  short transfer of 1 + (b & 0x1F) bytes (pass if not a transfer,
 *               already that short, or a sendmsg or recvmsg on a datagram or
 *               seqpacket socket, which moves whole messages)
 *   0xC0..0xDF  fail with the call's fitting errno number (b & 0x1F) modulo
 *               how many fit (pass if none fits)
 *   0xE0..0xFF  raise the registered signal number (b & 0x1F) modulo their
 *               count, then make the call (pass if none is registered)
 * and every call passes once the bytes run out. The bytes are copied.
 */
void ipc_fault_plan_bytes(const uint8_t *bytes, size_t len);
/* A plan from a seed: each call faults with the given chance (percent),
 * the fault drawn as above from a xorshift generator. */
void ipc_fault_plan_seed(uint64_t seed, unsigned percent);
void ipc_fault_plan_pattern(enum ipc_fault_pattern pattern);
/* Every call passes; the log is emptied. */
void ipc_fault_plan_clear(void);

/* Signals that SIGNAL decisions may raise; the caller owns their handlers.
 * At most 8; the list is copied. */
void ipc_fault_set_signals(const int *signals, size_t count);

/*
 * Who sends the signal of a SIGNAL decision. The bytes of a plan keep their
 * meaning whoever sends: this only changes how the signal gets there.
 *   IPC_SENDER_RAISE   raise() in the calling thread (the default)
 *   IPC_SENDER_THREAD  a second thread (one per process, started on first
 *                      use with every signal blocked) sends it with
 *                      pthread_kill to the calling thread; the caller, with
 *                      every signal blocked, waits until it was sent,
 *                      restores its mask and makes a system call of its own
 *                      (sigpending), so the handler runs before the decided
 *                      call. The signal lands at the same call every run.
 *                      Such decisions are logged as IPC_FAULT_SIGNAL_THREAD.
 * A signal blocked in the calling thread stays pending either way. The
 * setting is the process's; plans do not change it.
 */
enum ipc_fault_sender {
	IPC_SENDER_RAISE = 0,
	IPC_SENDER_THREAD,
};
void ipc_fault_set_sender(enum ipc_fault_sender sender);

/* ---- the log ------------------------------------------------------------ */

/* Calls made since the plan was set, and how many of them were faulted. */
uint64_t ipc_fault_calls(void);
uint64_t ipc_fault_injected(void);
/* The errno of the last injected failure that a caller must not retry
 * (ENOMEM, EPIPE), or 0: what a channel may rightly report. */
int ipc_fault_last_hard_errno(void);
/* A hash over every logged call, decision and result: the same plan and the
 * same program give the same hash. */
uint64_t ipc_fault_log_hash(void);
/* The last calls (up to 256), one line each: number, call, fd, size,
 * decision, result. */
void ipc_fault_log_print(FILE *out);

#endif
