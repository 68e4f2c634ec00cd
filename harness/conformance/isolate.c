/*
 * Each run in a process of its own: the cmocka test forks a case process
 * with its own process group and a private, empty TMPDIR, waits for it until
 * the run's deadline and kills the whole group past it, then judges the exit
 * and what was left in the directory. The case process runs the case and
 * then checks that it leaked nothing: no descriptor, no child, no file.
 */
#include "conformance.h"

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/registry.h"

/* The signals whose handlers the case process gets back as they were before
 * cmocka (or a sanitizer's, as installed at start) so a crash stays a crash. */
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGABRT};
#define NCRASH (sizeof crash_signals / sizeof crash_signals[0])

static struct {
	pid_t runner;
	struct sigaction crash[NCRASH];
	char tmp_base[PATH_MAX - 32];
} start;

/* Static, so that what a case changes in it survives the longjmp of a stop. */
static struct fixture the_fixture;

void conf_isolation_init(void)
{
	const char *tmp = getenv("TMPDIR");
	sigset_t chld;

	start.runner = getpid();
	snprintf(start.tmp_base, sizeof start.tmp_base, "%s",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_signals[i], NULL, &start.crash[i]);
	/* Blocked, SIGCHLD stays pending for sigtimedwait: the deadline wait
	 * cannot miss a child's end. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
}

/* ---- descriptors, children, files -------------------------------------------- */

int open_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			n++;
	closedir(d);
	return n;
}

void describe_open_fds(char *out, size_t len)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t used = 0;

	out[0] = '\0';
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && used < len) {
		char path[300], target[256];
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		used += (size_t)snprintf(out + used, len - used, "%s%s -> %s",
					 used > 0 ? ", " : "", e->d_name, target);
	}
	closedir(d);
}

/* The names in dir, ", "-separated, into out ("" if empty or unreadable). */
static void list_dir(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t used = 0;

	out[0] = '\0';
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && used < len) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s%s",
					 used > 0 ? ", " : "", e->d_name);
	}
	closedir(d);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Memory (where a sanitizer sees it; valgrind checks every process at its
 * exit), descriptors, children and files. */
static void check_no_leaks(struct fixture *fx, int fds_before, const char *tmpdir)
{
	char detail[2048];
	int fds_after = open_fd_count();
	pid_t child;

	if (conf_leaks_found())
		fx_fail(fx, "LeakSanitizer found memory leaked (its report is above)");
	if (fds_after != fds_before) {
		describe_open_fds(detail, sizeof detail);
		fx_fail(fx, "descriptors leaked: %d open before the case, %d after "
			"it; open now: %s", fds_before, fds_after, detail);
	}
	child = waitpid(-1, NULL, WNOHANG);
	if (child == 0)
		fx_fail(fx, "a child process is still running after the case");
	if (child > 0)
		fx_fail(fx, "child process %d ended, but the case never reaped it",
			(int)child);
	if (errno != ECHILD)
		fx_fail(fx, "waitpid(-1) after the case: %s", strerror(errno));
	list_dir(tmpdir, detail, sizeof detail);
	if (detail[0] != '\0')
		fx_fail(fx, "left behind in the private TMPDIR %s: %s", tmpdir, detail);
}

/* A pattern that injected nothing proves nothing: the seam is not in. On a
 * byte stream every case makes calls each pattern acts on; a message
 * mechanism may not (a send refused by the link before any queue call),
 * nor a shared-memory ring (one that never had to wait). */
static void check_plan_fired(struct fixture *fx)
{
	const struct conf_plan *plan = fx->run->plan;

	if (!plan->seeded && plan->pattern != IPC_PATTERN_NONE &&
	    !fx->run->backend->keeps_boundaries &&
	    !fx->run->backend->shared_memory && ipc_fault_injected() == 0)
		fx_fail(fx, "the plan '%s' injected no fault in %llu seam calls: "
			"is the suite linked with ipc::seam?", plan->name,
			(unsigned long long)ipc_fault_calls());
}

/* ---- the case process ------------------------------------------------------- */

static void run_case_body(struct fixture *fx)
{
	if (setjmp(fx->stop) == 0)
		fx->run->kase->run(fx);
}

/* As a fresh process would be: default signal actions (SIGPIPE's kills),
 * nothing blocked, no core files, and any cmocka check aborting the process
 * instead of returning into the runner copied from the parent. It dies with
 * the runner, so a runner killed by ctest's timeout leaves no case behind. */
static void reset_process_state(const char *tmpdir)
{
	const struct rlimit no_core = {0, 0};
	sigset_t none;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != start.runner)
		_exit(CONF_EXIT_FAILED);
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_signals[i], &start.crash[i], NULL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setrlimit(RLIMIT_CORE, &no_core);
	setenv("TMPDIR", tmpdir, 1);
	setenv("CMOCKA_TEST_ABORT", "1", 1);
}

static _Noreturn void case_process(const struct conf_run *run, const char *tmpdir)
{
	struct fixture *fx = &the_fixture;
	int fds_before;

	reset_process_state(tmpdir);
	*fx = (struct fixture){.run = run, .role = "case process"};
	fds_before = open_fd_count();
	plan_install(run, 0);
	run_case_body(fx);
	fx_release(fx);
	check_plan_fired(fx);
	check_no_leaks(fx, fds_before, tmpdir);
	fflush(stdout);
	_exit(fx->stopped ? CONF_EXIT_STOPPED : CONF_EXIT_DONE);
}

/* ---- the parent's side ----------------------------------------------------------- */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void reap(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* Waits for the case process until the deadline; past it, kills its whole
 * group (the case and its peer). Returns 1 if it had to. Either way the
 * group goes: a case that failed may have left its peer running. */
static int await_case(pid_t pid, int *status)
{
	long long deadline = now_ns() + conf.run_deadline_s * 1000000000LL;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		siginfo_t info;
		long long left = deadline - now_ns();
		struct timespec wait;

		memset(&info, 0, sizeof info);
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    info.si_pid == pid)
			break;
		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			reap(pid, status);
			return 1;
		}
		wait.tv_sec = (time_t)(left / 1000000000LL);
		wait.tv_nsec = (long)(left % 1000000000LL);
		sigtimedwait(&chld, NULL, &wait);
	}
	kill(-pid, SIGKILL);
	reap(pid, status);
	return 0;
}

void conf_run_isolated(void **state)
{
	const struct conf_run *run = *state;
	char tmpdir[PATH_MAX], left[1024], how[200];
	int status = 0, hung;
	pid_t pid;

	snprintf(tmpdir, sizeof tmpdir, "%s/ipch-conformance-XXXXXX", start.tmp_base);
	if (mkdtemp(tmpdir) == NULL)
		fail_msg("%s: cannot make a private TMPDIR under %s: %s (set TMPDIR "
			 "to a writable directory)", run->name, start.tmp_base,
			 strerror(errno));
	ipc_registry_note("scratch", tmpdir); /* swept if the suite is killed */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail_msg("%s: fork for the case process: %s", run->name, strerror(errno));
	if (pid == 0)
		case_process(run, tmpdir);
	setpgid(pid, pid);
	hung = await_case(pid, &status);
	list_dir(tmpdir, left, sizeof left);
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	ipc_registry_forget("scratch", tmpdir);

	if (hung)
		fail_msg("%s: no result within %d s: the case hung, and was killed "
			 "with its peer", run->name, conf.run_deadline_s);
	if (!WIFEXITED(status) || (WEXITSTATUS(status) != CONF_EXIT_DONE &&
				   WEXITSTATUS(status) != CONF_EXIT_STOPPED)) {
		describe_exit(status, how, sizeof how);
		fail_msg("%s: the case process %s", run->name, how);
	}
	if (left[0] != '\0')
		fail_msg("%s: left behind in its private TMPDIR: %s", run->name, left);
}
