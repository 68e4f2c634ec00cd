/*
 * popen without its traps (include/ipc/popen.h): posix_spawnp from an argv,
 * three pipes, one poll loop that feeds stdin and drains stdout and stderr
 * together, and a wait that always reaps.
 *
 * Waiting for the exit polls waitpid(WNOHANG) with short naps rather than
 * a pidfd: valgrind, which the valgrind preset runs every test under, does
 * not know pidfd_open; and the naps mostly run once both outputs are at end
 * of file, which a program reaches as it exits.
 */
#include "ipc/popen.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_impl.h"
#include "sys.h"

#define NAP_MAX_MS 20

static const char *const status_names[] = {
	[IPC_RUN_OK] = "ok",
	[IPC_RUN_NOT_STARTED] = "not started",
	[IPC_RUN_TIMEOUT] = "timed out",
	[IPC_RUN_OUTPUT_LIMIT] = "output over the limit",
	[IPC_RUN_SYSTEM] = "system error",
	[IPC_RUN_INVALID] = "invalid argument",
};

const char *ipc_run_status_name(enum ipc_run_status status)
{
	if ((unsigned)status >= sizeof status_names / sizeof status_names[0])
		return "unknown status";
	return status_names[status];
}

/* ---- starting ------------------------------------------------------------ */

/* Moves fd to a number above 2, keeping close-on-exec: the child's ends are
 * dup'ed onto 0, 1 and 2, and one of them already sitting there (this
 * process started with a standard stream closed) would be overwritten. */
static int above_stdio(int *fd)
{
	int moved;

	if (*fd > 2)
		return 0;
	moved = sys_fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (moved < 0)
		return -1;
	sys_close(*fd);
	*fd = moved;
	return 0;
}

static int set_nonblocking(int fd)
{
	int flags = sys_fcntl(fd, F_GETFL, 0);

	if (flags < 0)
		return -1;
	return sys_fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* One pipe: the child's end (index `child`) blocking, as programs expect of
 * their standard streams; ours non-blocking. Both close-on-exec. */
static int stdio_pipe(int fds[2], int child)
{
	if (sys_pipe2(fds, O_CLOEXEC) != 0) {
		fds[0] = fds[1] = -1;
		return -1;
	}
	if (above_stdio(&fds[0]) == 0 && above_stdio(&fds[1]) == 0 &&
	    set_nonblocking(fds[1 - child]) == 0)
		return 0;
	ipc_close_quietly(fds[0]);
	ipc_close_quietly(fds[1]);
	fds[0] = fds[1] = -1;
	return -1;
}

static void close_all(int fds[3][2])
{
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++)
			ipc_close_quietly(fds[i][j]);
}

/* What the child does between fork and exec: its ends onto 0, 1, 2, and
 * every other descriptor closed, those we do not own included. */
static int child_actions(posix_spawn_file_actions_t *fa, int fds[3][2])
{
	if (posix_spawn_file_actions_init(fa) != 0)
		return ENOMEM;
	if (posix_spawn_file_actions_adddup2(fa, fds[0][0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, fds[1][1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, fds[2][1], 2) != 0 ||
	    posix_spawn_file_actions_addclosefrom_np(fa, 3) != 0) {
		posix_spawn_file_actions_destroy(fa);
		return ENOMEM;
	}
	return 0;
}

/* The child starts with no signal blocked and SIGPIPE at its default: our
 * mask and an ignored SIGPIPE would otherwise pass through exec. */
static int child_signals(posix_spawnattr_t *attr)
{
	sigset_t none, pipe_set;

	sigemptyset(&none);
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (posix_spawnattr_init(attr) != 0)
		return ENOMEM;
	if (posix_spawnattr_setsigmask(attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(attr, &pipe_set) != 0 ||
	    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK |
					   POSIX_SPAWN_SETSIGDEF) != 0) {
		posix_spawnattr_destroy(attr);
		return ENOMEM;
	}
	return 0;
}

static int spawn(char *const argv[], char *const envp[], int fds[3][2],
		 pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc = child_actions(&fa, fds);

	if (rc != 0)
		return rc;
	rc = child_signals(&attr);
	if (rc == 0) {
		rc = sys_posix_spawnp(pid, argv[0], &fa, &attr, argv,
				      envp != NULL ? envp : environ);
		posix_spawnattr_destroy(&attr);
	}
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

enum ipc_run_status ipc_popen_start(char *const argv[], char *const envp[],
				    struct ipc_process *p, int *errnum)
{
	int fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
	int rc;

	if (p == NULL || errnum == NULL)
		return IPC_RUN_INVALID;
	*p = (struct ipc_process){0, -1, -1, -1};
	*errnum = 0;
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
		return IPC_RUN_INVALID;
	if (stdio_pipe(fds[0], 0) != 0 || stdio_pipe(fds[1], 1) != 0 ||
	    stdio_pipe(fds[2], 1) != 0) {
		*errnum = errno;
		close_all(fds);
		return IPC_RUN_SYSTEM;
	}
	rc = spawn(argv, envp, fds, &p->pid);
	/* The child's ends are its own now (or no one's). */
	sys_close(fds[0][0]);
	sys_close(fds[1][1]);
	sys_close(fds[2][1]);
	if (rc != 0) {
		ipc_close_quietly(fds[0][1]);
		ipc_close_quietly(fds[1][0]);
		ipc_close_quietly(fds[2][0]);
		p->pid = 0;
		*errnum = rc;
		return IPC_RUN_NOT_STARTED;
	}
	p->in = fds[0][1];
	p->out = fds[1][0];
	p->err = fds[2][0];
	return IPC_RUN_OK;
}

/* ---- waiting and stopping ------------------------------------------------ */

static void close_end(int *fd)
{
	if (*fd >= 0)
		sys_close(*fd);
	*fd = -1;
}

static void decode_exit(int status, struct ipc_exit *how)
{
	if (WIFEXITED(status))
		*how = (struct ipc_exit){IPC_EXIT_CODE, WEXITSTATUS(status), 0};
	else if (WIFSIGNALED(status))
		*how = (struct ipc_exit){IPC_EXIT_SIGNAL, WTERMSIG(status),
					 WCOREDUMP(status) != 0};
}

/* Sleeps ms milliseconds, or less if the deadline d comes first. A failed
 * poll (ENOMEM) only makes the nap shorter. */
static void nap(int ms, const struct ipc_deadline *d)
{
	int left = ipc_deadline_ms(d);
	struct ipc_deadline end = ipc_deadline_in(left >= 0 && left < ms ? left : ms);

	while (sys_poll(NULL, 0, ipc_deadline_ms(&end)) < 0 && errno == EINTR)
		;
}

/* Reaps pid once it has ended, checking until the deadline with naps that
 * grow to NAP_MAX_MS. IPC_RUN_OK with *status, IPC_RUN_TIMEOUT, or
 * IPC_RUN_SYSTEM with *err. */
static enum ipc_run_status reap_by(pid_t pid, const struct ipc_deadline *d,
				   int *status, int *err)
{
	int nap_ms = 1;

	for (;;) {
		pid_t r = sys_waitpid(pid, status, WNOHANG);

		if (r == pid)
			return IPC_RUN_OK;
		if (r < 0 && errno != EINTR) {
			*err = errno;
			return IPC_RUN_SYSTEM;
		}
		if (r < 0)
			continue;
		if (ipc_deadline_ms(d) == 0)
			return IPC_RUN_TIMEOUT;
		nap(nap_ms, d);
		if (nap_ms < NAP_MAX_MS)
			nap_ms *= 2;
	}
}

/* After SIGKILL the end is certain and near: wait for it. */
static enum ipc_run_status reap_now(pid_t pid, int *status, int *err)
{
	for (;;) {
		pid_t r = sys_waitpid(pid, status, 0);

		if (r == pid)
			return IPC_RUN_OK;
		if (r < 0 && errno != EINTR) {
			*err = errno;
			return IPC_RUN_SYSTEM;
		}
	}
}

static enum ipc_run_status stop(pid_t pid, int grace_ms, int *status, int *err)
{
	if (grace_ms > 0) {
		struct ipc_deadline grace = ipc_deadline_in(grace_ms);
		enum ipc_run_status st;

		sys_kill(pid, SIGTERM);
		st = reap_by(pid, &grace, status, err);
		if (st != IPC_RUN_TIMEOUT)
			return st;
	}
	sys_kill(pid, SIGKILL);
	return reap_now(pid, status, err);
}

enum ipc_run_status ipc_popen_wait(struct ipc_process *p, int timeout_ms,
				   int term_grace_ms, struct ipc_exit *how,
				   int *errnum)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	enum ipc_run_status st;
	int status = 0;
	int err = 0;

	if (p == NULL || how == NULL || errnum == NULL || p->pid <= 0)
		return IPC_RUN_INVALID;
	*how = (struct ipc_exit){IPC_EXIT_NONE, 0, 0};
	close_end(&p->in);
	close_end(&p->out);
	close_end(&p->err);
	st = reap_by(p->pid, &d, &status, &err);
	/* Only a timeout leaves it running; after ECHILD the pid is no longer
	 * ours to signal. */
	if (st == IPC_RUN_TIMEOUT &&
	    stop(p->pid, term_grace_ms, &status, &err) != IPC_RUN_OK)
		st = IPC_RUN_SYSTEM;
	if (st != IPC_RUN_SYSTEM)
		decode_exit(status, how);
	*errnum = err;
	p->pid = 0;
	return st;
}

/* ---- running: feeding and collecting at once ----------------------------- */

struct run {
	struct ipc_process p;
	const uint8_t *input;
	size_t input_len;
	struct ipc_run_result *r;
	size_t room[2]; /* bytes allocated for out and err */
	int saw_epipe;
};

static enum ipc_run_status feed(struct run *run)
{
	size_t done = run->r->input_written;
	ssize_t n;

	do
		n = sys_write(run->p.in, run->input + done, run->input_len - done);
	while (n < 0 && errno == EINTR);
	if (n >= 0) {
		run->r->input_written += (size_t)n;
		if (run->r->input_written == run->input_len)
			close_end(&run->p.in);
		return IPC_RUN_OK;
	}
	if (errno == EAGAIN)
		return IPC_RUN_OK;
	if (errno == EPIPE) {
		/* It stopped reading: what it did not take is input_len less
		 * input_written, and that is its business. */
		run->saw_epipe = 1;
		close_end(&run->p.in);
		return IPC_RUN_OK;
	}
	run->r->errnum = errno;
	return IPC_RUN_SYSTEM;
}

/* Room for `want` more bytes and the NUL, doubling as it grows, but never
 * past what the cap can use (cap + 1 bytes and the NUL). */
static int reserve(struct ipc_run_output *o, size_t *room, size_t want,
		   size_t cap)
{
	size_t need = o->len + want + 1;
	size_t grown = *room * 2;
	char *data;

	if (need <= *room)
		return 0;
	if (grown > cap + 2)
		grown = cap + 2;
	if (grown < need)
		grown = need;
	data = realloc(o->data, grown);
	if (data == NULL)
		return -1;
	o->data = data;
	*room = grown;
	return 0;
}

/* One read from stdout (which 0) or stderr (which 1). A read may take one
 * byte past the cap, so that going over it is seen, not silently cut. */
static enum ipc_run_status collect(struct run *run, int which)
{
	struct ipc_run_output *o = which == 0 ? &run->r->out : &run->r->err;
	int *fd = which == 0 ? &run->p.out : &run->p.err;
	size_t cap = run->r->max_output;
	size_t want = cap + 1 - o->len;
	ssize_t n;

	if (want > IPC_READ_CHUNK)
		want = IPC_READ_CHUNK;
	if (reserve(o, &run->room[which], want, cap) != 0) {
		run->r->errnum = ENOMEM;
		return IPC_RUN_SYSTEM;
	}
	do
		n = sys_read(*fd, o->data + o->len, want);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		int over = o->len + (size_t)n > cap;

		o->len = over ? cap : o->len + (size_t)n;
		o->data[o->len] = '\0';
		return over ? IPC_RUN_OUTPUT_LIMIT : IPC_RUN_OK;
	}
	if (n == 0) {
		close_end(fd);
		return IPC_RUN_OK;
	}
	if (errno == EAGAIN)
		return IPC_RUN_OK;
	run->r->errnum = errno;
	return IPC_RUN_SYSTEM;
}

/* Feeds stdin and drains stdout and stderr, whichever is ready, until all
 * three are closed: no side waits for another, so nothing deadlocks. */
static enum ipc_run_status exchange(struct run *run, const struct ipc_deadline *d)
{
	while (run->p.in >= 0 || run->p.out >= 0 || run->p.err >= 0) {
		struct pollfd fds[3] = {
			{.fd = run->p.in, .events = POLLOUT},
			{.fd = run->p.out, .events = POLLIN},
			{.fd = run->p.err, .events = POLLIN},
		};
		enum ipc_run_status st = IPC_RUN_OK;
		/* poll() skips negative descriptors: closed ends drop out. */
		int ready = sys_poll(fds, 3, ipc_deadline_ms(d));

		if (ready == 0)
			return IPC_RUN_TIMEOUT;
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			run->r->errnum = errno;
			return IPC_RUN_SYSTEM;
		}
		if (fds[0].revents != 0 && run->p.in >= 0)
			st = feed(run);
		if (st == IPC_RUN_OK && fds[1].revents != 0)
			st = collect(run, 0);
		if (st == IPC_RUN_OK && fds[2].revents != 0)
			st = collect(run, 1);
		if (st != IPC_RUN_OK)
			return st;
	}
	return IPC_RUN_OK;
}

static int start_outputs(struct run *run)
{
	struct ipc_run_result *r = run->r;

	r->out.data = calloc(1, 1);
	r->err.data = calloc(1, 1);
	run->room[0] = run->room[1] = 1;
	if (r->out.data != NULL && r->err.data != NULL)
		return 0;
	r->errnum = ENOMEM;
	return -1;
}

static enum ipc_run_status run_started(struct run *run,
				       const struct ipc_run_opts *o)
{
	struct ipc_run_result *r = run->r;
	struct ipc_deadline d = ipc_deadline_in(o->timeout_ms > 0 ? o->timeout_ms : -1);
	struct ipc_sigpipe_guard guard = {0};
	enum ipc_run_status st, waited;
	int err = 0;

	if (run->input_len == 0)
		close_end(&run->p.in);
	ipc_sigpipe_block(&guard);
	st = exchange(run, &d);
	ipc_sigpipe_restore(&guard, run->saw_epipe);
	/* Both outputs at end of file: it is ending, so wait what is left of
	 * the deadline. Anything else: stop it now. */
	waited = ipc_popen_wait(&run->p, st == IPC_RUN_OK ? ipc_deadline_ms(&d) : 0,
				o->term_grace_ms, &r->exit, &err);
	if (st == IPC_RUN_OK) {
		st = waited;
		r->errnum = err;
	} else if (waited == IPC_RUN_SYSTEM && st != IPC_RUN_SYSTEM) {
		r->errnum = err; /* its status was lost on the way to stopping it */
	}
	return st;
}

enum ipc_run_status ipc_run(char *const argv[], const struct ipc_run_opts *opts,
			    struct ipc_run_result *result)
{
	static const struct ipc_run_opts defaults = {0};
	const struct ipc_run_opts *o = opts != NULL ? opts : &defaults;
	struct run run = {.input = o->input, .input_len = o->input_len, .r = result};

	if (result == NULL)
		return IPC_RUN_INVALID;
	*result = (struct ipc_run_result){0};
	result->max_output = o->max_output != 0 ? o->max_output : IPC_RUN_DEFAULT_MAX_OUTPUT;
	if (result->max_output > SIZE_MAX / 4)
		result->max_output = SIZE_MAX / 4; /* room to double, and the NUL */
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0' ||
	    (o->input == NULL && o->input_len > 0))
		return result->status = IPC_RUN_INVALID;
	snprintf(result->program, sizeof result->program, "%s", argv[0]);
	if (start_outputs(&run) != 0)
		return result->status = IPC_RUN_SYSTEM;
	result->status = ipc_popen_start(argv, o->envp, &run.p, &result->errnum);
	if (result->status != IPC_RUN_OK)
		return result->status;
	result->pid = run.p.pid;
	return result->status = run_started(&run, o);
}

void ipc_run_result_free(struct ipc_run_result *result)
{
	if (result == NULL)
		return;
	free(result->out.data);
	free(result->err.data);
	result->out = (struct ipc_run_output){NULL, 0};
	result->err = (struct ipc_run_output){NULL, 0};
}

/* ---- describing ---------------------------------------------------------- */

const char *ipc_exit_describe(const struct ipc_exit *how, char *buf, size_t len)
{
	const char *abbrev;

	switch (how->kind) {
	case IPC_EXIT_CODE:
		snprintf(buf, len, "exited with code %d", how->value);
		break;
	case IPC_EXIT_SIGNAL:
		abbrev = sigabbrev_np(how->value);
		snprintf(buf, len, "killed by signal %d (%s%s%s)", how->value,
			 abbrev != NULL ? "SIG" : "", abbrev != NULL ? abbrev : "unnamed",
			 how->core_dumped ? ", core dumped" : "");
		break;
	case IPC_EXIT_NONE:
	default:
		snprintf(buf, len, "did not end");
		break;
	}
	return buf;
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name != NULL ? name : "unknown errno";
}

/* What to check when a program cannot start, for the errors people meet. */
static const char *start_hint(int err)
{
	switch (err) {
	case ENOENT: return "is it installed, and is its directory on PATH?";
	case EACCES: return "is it a file with execute permission?";
	case ENOEXEC: return "is it a program for this machine, or a script without #!?";
	case E2BIG: return "shorten its arguments or environment";
	default: return "see the error";
	}
}

const char *ipc_run_describe(const struct ipc_run_result *r, char *buf, size_t len)
{
	char how[80];
	const char *stream = r->out.len >= r->max_output ? "stdout" : "stderr";

	ipc_exit_describe(&r->exit, how, sizeof how);
	switch (r->status) {
	case IPC_RUN_OK:
		snprintf(buf, len, "%s: %s", r->program, how);
		break;
	case IPC_RUN_NOT_STARTED:
		snprintf(buf, len, "%s: cannot start: %s (%s): %s", r->program,
			 strerror(r->errnum), errno_name(r->errnum), start_hint(r->errnum));
		break;
	case IPC_RUN_TIMEOUT:
		snprintf(buf, len, "%s: still running at its timeout, so stopped: %s",
			 r->program, how);
		break;
	case IPC_RUN_OUTPUT_LIMIT:
		snprintf(buf, len, "%s: wrote more than %zu bytes on %s, so stopped: %s;"
			 " raise max_output if that much is expected",
			 r->program, r->max_output, stream, how);
		break;
	case IPC_RUN_SYSTEM:
		snprintf(buf, len, "%s: running it failed: %s (%s); the program %s",
			 r->program, strerror(r->errnum), errno_name(r->errnum),
			 r->pid == 0 ? "was not started" : how);
		break;
	case IPC_RUN_INVALID:
	default:
		snprintf(buf, len, "ipc_run: invalid arguments: argv must name a program,"
			 " and input must not be NULL when input_len > 0");
		break;
	}
	return buf;
}
