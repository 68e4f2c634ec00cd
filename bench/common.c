/* bench-run's shared pieces: see bench.h. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/registry.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- messages and exits -------------------------------------------------- */

static char context[128] = "bench-run";

void bench_set_context(const char *subject, size_t size)
{
	snprintf(context, sizeof context, "%s, %zu bytes", subject, size);
}

void bench_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("bench-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see bench-run --help)\n", stderr);
	exit(2);
}

__attribute__((noreturn)) static void vfail(int err, const char *fmt, va_list ap)
{
	fprintf(stderr, "bench-run: %s: ", context);
	vfprintf(stderr, fmt, ap);
	if (err != 0)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(0, fmt, ap);
}

void bench_fail_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vfail(err, fmt, ap);
}

void *bench_alloc(size_t size)
{
	void *p = malloc(size);

	if (p == NULL)
		bench_fail("out of memory for %zu bytes", size);
	return p;
}

uint8_t *bench_payload(size_t size, uint8_t mark)
{
	uint8_t *p = bench_alloc(size);

	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 131u + 7u);
	p[0] = mark;
	return p;
}

/* ---- cleanup ------------------------------------------------------------- */

/*
 * Fixed slots, so the watchdog's signal handler can walk them: it calls
 * only kill, waitpid, msgctl, mq_unlink, unlink and rmdir, all system calls.
 */
#define MAX_PATHS 4

static struct {
	pid_t owner;
	pid_t child;
	int sysv_id;
	char mq[2][64];
	char paths[MAX_PATHS][256];
	char dir[256];
} made = {.child = -1, .sysv_id = -1};

static void remove_made(void)
{
	int status;

	if (made.owner != getpid())
		return; /* a forked child: the parent removes them */
	if (made.child > 0) {
		kill(made.child, SIGKILL);
		while (waitpid(made.child, &status, 0) < 0 && errno == EINTR)
			;
		made.child = -1;
	}
	if (made.sysv_id >= 0)
		msgctl(made.sysv_id, IPC_RMID, NULL);
	made.sysv_id = -1;
	for (int i = 0; i < 2; i++) {
		if (made.mq[i][0] != '\0')
			mq_unlink(made.mq[i]);
		made.mq[i][0] = '\0';
	}
	for (int i = 0; i < MAX_PATHS; i++) {
		if (made.paths[i][0] != '\0')
			unlink(made.paths[i]);
		made.paths[i][0] = '\0';
	}
	if (made.dir[0] != '\0')
		rmdir(made.dir);
	made.dir[0] = '\0';
}

/* The registry's entries, for the normal way out (not signal-safe). */
static void forget_registered(void)
{
	char id[32];

	if (made.owner != getpid())
		return;
	if (made.sysv_id >= 0) {
		snprintf(id, sizeof id, "%d", made.sysv_id);
		ipc_registry_forget("sysv-msg", id);
	}
	for (int i = 0; i < 2; i++)
		if (made.mq[i][0] != '\0')
			ipc_registry_forget("posix-mq", made.mq[i]);
	if (made.dir[0] != '\0')
		ipc_registry_forget("dir", made.dir);
}

void bench_cleanup_run(void)
{
	forget_registered();
	remove_made();
}

void bench_cleanup_init(void)
{
	made.owner = getpid();
	atexit(bench_cleanup_run);
}

void bench_cleanup_sysv_queue(int id)
{
	char text[32];

	made.sysv_id = id;
	snprintf(text, sizeof text, "%d", id);
	ipc_registry_note("sysv-msg", text);
}

void bench_cleanup_mq(const char *name)
{
	int i = made.mq[0][0] == '\0' ? 0 : 1;

	if (made.mq[i][0] != '\0')
		bench_fail("too many queues to remove at the end (%s)", name);
	snprintf(made.mq[i], sizeof made.mq[i], "%s", name);
	ipc_registry_note("posix-mq", name);
}

void bench_cleanup_unlink_mqs(void)
{
	for (int i = 0; i < 2; i++) {
		if (made.mq[i][0] == '\0')
			continue;
		if (mq_unlink(made.mq[i]) != 0)
			bench_fail_errno("mq_unlink %s", made.mq[i]);
		ipc_registry_forget("posix-mq", made.mq[i]);
		made.mq[i][0] = '\0';
	}
}

void bench_cleanup_path(const char *path)
{
	for (int i = 0; i < MAX_PATHS; i++)
		if (made.paths[i][0] == '\0') {
			snprintf(made.paths[i], sizeof made.paths[i], "%s", path);
			return;
		}
	bench_fail("too many files to remove at the end (%s)", path);
}

void bench_cleanup_dir(const char *path)
{
	snprintf(made.dir, sizeof made.dir, "%s", path);
	ipc_registry_note("dir", path);
}

void bench_cleanup_child(pid_t child) { made.child = child; }

/* ---- the two processes --------------------------------------------------- */

unsigned bench_bound_s(double seconds)
{
	return (unsigned)ceil(seconds) * 4u + 30u;
}

static void check_cpu(int cpu, const cpu_set_t *allowed)
{
	long configured = sysconf(_SC_NPROCESSORS_CONF);

	if (cpu < 0 || cpu >= CPU_SETSIZE || (configured > 0 && cpu >= configured))
		bench_usage_error("--pin: CPU %d does not exist (this machine has CPUs 0 to %ld); "
				  "give two CPU numbers from that range", cpu, configured - 1);
	if (!CPU_ISSET(cpu, allowed))
		bench_usage_error("--pin: this process may not run on CPU %d (see taskset -p %ld); "
				  "give CPUs it is allowed", cpu, (long)getpid());
}

void bench_pin_check(const struct bench_pin *pin)
{
	cpu_set_t allowed;

	if (!pin->on)
		return;
	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
		bench_fail_errno("sched_getaffinity");
	check_cpu(pin->cpu[0], &allowed);
	check_cpu(pin->cpu[1], &allowed);
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		bench_fail_errno("sched_setaffinity to CPU %d", cpu);
}

static volatile sig_atomic_t child_gone;
static unsigned watchdog_s;

static void on_sigchld(int sig)
{
	(void)sig;
	child_gone = 1;
}

int bench_child_gone(void) { return child_gone; }

/* The parent overran its bound: everything goes, signal-safely. */
static void on_watchdog(int sig)
{
	static const char msg[] = "bench-run: the measurement overran its time bound; "
				  "the child was killed and everything removed\n";
	ssize_t unused;

	(void)sig;
	unused = write(STDERR_FILENO, context, strlen(context));
	unused = write(STDERR_FILENO, ": ", 2);
	unused = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)unused;
	remove_made();
	_exit(1);
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked msgsnd or mq_send returns EINTR when the
	 * child ends, and its caller looks at bench_child_gone(). */
	if (sigaction(sig, &sa, NULL) != 0)
		bench_fail_errno("sigaction for signal %d", sig);
}

pid_t bench_fork(const struct bench_pin *pin, unsigned bound_s,
		 int report[2], int (*child_main)(void *arg), void *arg)
{
	pid_t parent = getpid();
	pid_t child;

	fflush(NULL);
	child_gone = 0;
	handle(SIGCHLD, on_sigchld);
	child = fork();
	if (child < 0)
		bench_fail_errno("fork");
	if (child == 0) {
		signal(SIGCHLD, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		alarm(bound_s);
		close(report[0]);
		if (pin->on)
			pin_to(pin->cpu[1]);
		exit(child_main(arg));
	}
	bench_cleanup_child(child);
	close(report[1]);
	watchdog_s = bound_s + 10;
	handle(SIGALRM, on_watchdog);
	alarm(watchdog_s);
	if (pin->on)
		pin_to(pin->cpu[0]);
	return child;
}

void bench_read_report(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			bench_fail_errno("reading the child's report");
		if (n == 0)
			bench_fail("the child process failed (its message is above)");
		got += (size_t)n;
	}
}

void bench_write_report(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len)
		bench_fail_errno("the child could not report to its parent");
}

void bench_wait_child(pid_t child, unsigned bound_s)
{
	uint64_t until = bench_now_ns() + (uint64_t)bound_s * 1000000000u;
	int status;

	for (;;) {
		pid_t r = waitpid(child, &status, WNOHANG);

		if (r == child)
			break;
		if (r < 0 && errno != EINTR)
			bench_fail_errno("waitpid");
		if (bench_now_ns() > until)
			bench_fail("the child did not end within %u s (killed)", bound_s);
		usleep(2000);
	}
	bench_cleanup_child(-1);
	alarm(0);
	if (WIFSIGNALED(status))
		bench_fail("the child process died of signal %d (%s)",
			   WTERMSIG(status), strsignal(WTERMSIG(status)));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_fail("the child process failed (exit status %d; its message is above)",
			   WEXITSTATUS(status));
}
