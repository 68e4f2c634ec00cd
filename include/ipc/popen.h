/*
 * Running a program with pipes to all three of its standard streams: what
 * popen(3) is for, without its traps.
 *
 * - No shell: the program and its arguments are an argv, found on PATH as
 *   execvp(3) does, so no argument is ever parsed again. (A shell can still
 *   be the program: {"sh", "-c", script, NULL}.)
 * - stdin, stdout and stderr are pipes to us; no other descriptor of this
 *   process is open in the program (those without close-on-exec included).
 * - ipc_run feeds stdin while it reads stdout and stderr, all at once, so no
 *   amount of input or output can deadlock; the output it keeps is capped.
 * - A timeout stops the program (SIGKILL, after an optional SIGTERM grace)
 *   and the program is always reaped: no zombie is ever left behind.
 * - A program that stops reading its stdin is not a SIGPIPE death for us.
 * - How it ended is decoded: exit code, or signal with its name; a program
 *   that cannot be started is its own status with posix_spawnp's errno.
 *
 * The program starts with no signal blocked and SIGPIPE at its default
 * action, as from a shell, whatever this thread's mask and dispositions are.
 * If SIGCHLD is ignored in this process, the kernel reaps children itself
 * and their exit status is lost: ipc_popen_wait then reports IPC_RUN_SYSTEM
 * with ECHILD.
 */
#ifndef IPC_POPEN_H
#define IPC_POPEN_H

#include <stddef.h>
#include <sys/types.h>

enum ipc_run_status {
	IPC_RUN_OK = 0,       /* it ran and ended by itself: see the exit */
	IPC_RUN_NOT_STARTED,  /* posix_spawnp failed; its error number says
				 why: ENOENT not found on PATH, EACCES not
				 executable, ENOEXEC not a program, ... */
	IPC_RUN_TIMEOUT,      /* it outran its time: stopped and reaped */
	IPC_RUN_OUTPUT_LIMIT, /* it wrote more than max_output bytes on stdout
				 or stderr: stopped and reaped */
	IPC_RUN_SYSTEM,       /* a system call failed (see the error number);
				 the program, if started, was stopped and reaped */
	IPC_RUN_INVALID,      /* no argv, an empty argv, or no result */
};

const char *ipc_run_status_name(enum ipc_run_status status);

enum ipc_exit_kind {
	IPC_EXIT_NONE = 0, /* not started, or its status was lost (ECHILD) */
	IPC_EXIT_CODE,     /* exited: value is the exit code, 0..255 */
	IPC_EXIT_SIGNAL,   /* killed: value is the signal number */
};

struct ipc_exit {
	enum ipc_exit_kind kind;
	int value;
	int core_dumped;
};

/* "exited with code 3", "killed by signal 15 (SIGTERM)", "did not end";
 * returns buf. */
const char *ipc_exit_describe(const struct ipc_exit *how, char *buf,
			      size_t len);

/* ---- one call: run, feed, collect, reap ---------------------------------- */

#define IPC_RUN_DEFAULT_MAX_OUTPUT (16u * 1024u * 1024u)

struct ipc_run_opts {
	const void *input;   /* written to its stdin, which is then closed */
	size_t input_len;    /* 0: stdin is at end of file from the start */
	int timeout_ms;      /* for the whole run; 0 or negative: none */
	int term_grace_ms;   /* stopping: 0 sends SIGKILL at once; more sends
				SIGTERM, then SIGKILL if it is still running
				that long after */
	size_t max_output;   /* kept per stream; 0: IPC_RUN_DEFAULT_MAX_OUTPUT */
	char *const *envp;   /* its environment; NULL: this process's */
};

struct ipc_run_output {
	char *data;          /* what it wrote, plus a NUL not counted in len */
	size_t len;
};

struct ipc_run_result {
	enum ipc_run_status status;
	int errnum;          /* NOT_STARTED and SYSTEM: the error number */
	struct ipc_exit exit;
	pid_t pid;           /* 0 if it never started */
	size_t input_written; /* less than input_len if it stopped reading */
	size_t max_output;   /* the cap that applied */
	struct ipc_run_output out, err; /* never NULL once ipc_run returned
					   anything but IPC_RUN_INVALID */
	char program[128];   /* argv[0] (cut if longer), for messages */
};

/* Runs argv[0] with argv; opts may be NULL (no input, no timeout, the
 * default output cap, SIGKILL at once, this process's environment). Returns
 * result->status. On OUTPUT_LIMIT the outputs hold the first max_output
 * bytes of each stream; on TIMEOUT and SYSTEM, what came before. Free the
 * result with ipc_run_result_free whatever the status. */
enum ipc_run_status ipc_run(char *const argv[], const struct ipc_run_opts *opts,
			    struct ipc_run_result *result);
void ipc_run_result_free(struct ipc_run_result *result);

/* One line for a person, naming the program: how it ended, or why it could
 * not start and what to check. Returns buf. */
const char *ipc_run_describe(const struct ipc_run_result *result, char *buf,
			     size_t len);

/* ---- streaming: the descriptors, for a poll loop of your own -------------- */

struct ipc_process {
	pid_t pid;
	int in;   /* its stdin: write here; close for end of input */
	int out;  /* its stdout: read here */
	int err;  /* its stderr: read here */
};

/*
 * Starts argv[0] with argv and envp (NULL: this process's environment).
 * The three descriptors are non-blocking and close-on-exec; close any you
 * do not need and set it to -1. A write to `in` after the program closed its
 * stdin raises SIGPIPE, as on any pipe: ignore or block SIGPIPE around such
 * writes (ipc_run does). On IPC_RUN_NOT_STARTED and IPC_RUN_SYSTEM, *errnum
 * says why and nothing is left open.
 */
enum ipc_run_status ipc_popen_start(char *const argv[], char *const envp[],
				    struct ipc_process *p, int *errnum);

/*
 * Ends it: closes the descriptors still open (one still writing gets EPIPE
 * or SIGPIPE, so read to end of file first if the output matters), waits up
 * to timeout_ms for it to end (-1 for ever, 0 not at all), stops it if it
 * has not (see term_grace_ms in struct ipc_run_opts), and reaps it. IPC_RUN_OK
 * if it ended by itself, IPC_RUN_TIMEOUT if it was stopped, IPC_RUN_SYSTEM
 * (*errnum ECHILD) if its status was lost. *how says how it ended. p->pid
 * is 0 afterwards.
 */
enum ipc_run_status ipc_popen_wait(struct ipc_process *p, int timeout_ms,
				   int term_grace_ms, struct ipc_exit *how,
				   int *errnum);

#endif
