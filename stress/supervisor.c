/*
 * The supervisor: makes a scenario's shared state, starts its workers
 * (processes, or threads with --threads), kills and respawns them at the
 * kill rate, watches their progress, stops them at the deadline, runs the
 * end checks and tears everything down, on every path.
 *
 * A worker process dies with the supervisor (PR_SET_PDEATHSIG), so a killed
 * supervisor leaves no worker behind; the kernel objects it leaves are in
 * the object registry for the sweeper (docs/cleanup.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stress.h"

#define TICK_US 2000
#define STOP_GRACE_S 5.0      /* workers' time to stop after the deadline */
#define GDB_TIMEOUT_S 5.0
#define KILL_RETRY_US 1000    /* a deferred kill is tried again after this */
#define KILL_RETRIES 1000

volatile sig_atomic_t stress_interrupted;

struct crew {
	struct stress_run *run;
	pid_t pids[STRESS_MAX_WORKERS];      /* 0 once reaped */
	bool killing[STRESS_MAX_WORKERS];    /* a kill of ours is on its way */
	bool replacing[STRESS_MAX_WORKERS];  /* a group being killed and remade */
	pthread_t threads[STRESS_MAX_WORKERS];
	struct stress_worker tworkers[STRESS_MAX_WORKERS];
	uint64_t rng;                        /* the kill schedule's */
	double start;
	bool deadlocked;
};

void *stress_map_state(struct stress_run *run, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "ipch-stress: %s: mmap of %zu bytes: %s\n",
			run->scn->name, size, strerror(errno));
		return NULL;
	}
	run->state = p;
	run->state_size = size;
	return p;
}

static double since(const struct crew *c)
{
	return stress_now() - c->start;
}

/* ---- the workers --------------------------------------------------------- */

static void worker_loop(struct stress_worker *w)
{
	while (!stress_stopping(w)) {
		if (w->run->scn->op(w) == STRESS_OP_DONE)
			atomic_fetch_add_explicit(&w->slot->ops, 1, memory_order_relaxed);
	}
	if (w->run->stopped)
		w->run->stopped(w);
	stress_phase(w, STRESS_STOPPED);
}

static void worker_init(struct stress_worker *w, struct stress_run *run,
			int index, unsigned incarnation)
{
	w->run = run;
	w->index = index;
	w->incarnation = incarnation;
	w->rng = stress_seed_mix(run->seed, (uint64_t)index + 1, incarnation);
	w->slot = &run->board->slots[index];
}

static void *worker_thread(void *arg)
{
	struct stress_worker *w = arg;

	atomic_store(&w->slot->pid, (pid_t)syscall(SYS_gettid));
	worker_loop(w);
	return NULL;
}

static int spawn(struct crew *c, int index, unsigned incarnation)
{
	struct stress_run *run = c->run;
	struct stress_slot *slot = &run->board->slots[index];
	pid_t parent = getpid();
	pid_t pid;

	/* A new life starts with no kill pending and outside any guard. */
	atomic_store(&slot->kill_pending, 0);
	atomic_store(&slot->guarded, 0);
	atomic_store(&slot->phase, STRESS_IDLE);
	atomic_store(&slot->incarnation, incarnation);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "ipch-stress: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct stress_worker w;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		/* Ctrl-C or a SIGTERM to the group is the supervisor's to act on:
		 * it stops the workers itself, and checks and tears down. */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		worker_init(&w, run, index, incarnation);
		atomic_store(&slot->pid, getpid());
		worker_loop(&w);
		_exit(0);
	}
	atomic_store(&slot->pid, pid);
	c->pids[index] = pid;
	c->killing[index] = false;
	return 0;
}

static int start_workers(struct crew *c)
{
	struct stress_run *run = c->run;

	for (int i = 0; i < run->nworkers; i++) {
		if (run->threads) {
			struct stress_worker *w = &c->tworkers[i];
			int err;

			worker_init(w, run, i, 0);
			err = pthread_create(&c->threads[i], NULL, worker_thread, w);
			if (err) {
				fprintf(stderr, "ipch-stress: pthread_create: %s\n", strerror(err));
				run->nworkers = i;
				return -1;
			}
		} else if (spawn(c, i, 0) != 0) {
			return -1;
		}
	}
	return 0;
}

static int index_of(const struct crew *c, pid_t pid)
{
	for (int i = 0; i < c->run->nworkers; i++)
		if (c->pids[i] == pid)
			return i;
	return -1;
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
}

static void record_kill(struct crew *c, int index, bool self)
{
	struct stress_run *run = c->run;
	struct stress_slot *slot = &run->board->slots[index];

	if (run->nkills < STRESS_MAX_KILLS) {
		struct stress_kill *k = &run->kills[run->nkills];

		k->worker = index;
		k->incarnation = atomic_load(&slot->incarnation);
		k->phase = atomic_load(&slot->phase);
		k->self = self;
		k->at = since(c);
	}
	run->nkills++;
}

static int group_of(const struct stress_run *run, int index)
{
	return run->group_of ? run->group_of(run, index) : -1;
}

/* One dead worker: a kill (ours, or the scenario's own) is recorded and the
 * worker respawned, or its group replaced (replace_groups); any other end
 * before the stop is a violation. */
static void bury(struct crew *c, int index, int status, bool stopping)
{
	struct stress_run *run = c->run;
	struct stress_slot *slot = &run->board->slots[index];
	bool sigkill = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	int group = group_of(run, index);
	char how[96];

	c->pids[index] = 0;
	if (sigkill && (c->killing[index] || run->self_kills)) {
		record_kill(c, index, !c->killing[index]);
		if (group >= 0) {
			/* Set already if the kill was ours (try_kill). */
			atomic_store(&run->board->group_dying[group], 1);
			c->replacing[group] = true;
			return;
		}
		if (!stopping && spawn(c, index, atomic_load(&slot->incarnation) + 1) != 0)
			stress_check(run, false, "RESPAWN-FAILED",
				     "worker %d could not be started again", index);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && stopping)
		return;
	describe_status(status, how, sizeof how);
	stress_check(run, false, "WORKER-FAILED",
		     "worker %d (incarnation %u) %s in phase %s", index,
		     atomic_load(&slot->incarnation), how,
		     stress_phase_name(atomic_load(&slot->phase)));
}

static void replace_groups(struct crew *c, bool stopping);

static int reap(struct crew *c, bool stopping)
{
	int reaped = 0;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int index = index_of(c, pid);

		if (index >= 0)
			bury(c, index, status, stopping);
		reaped++;
	}
	if (c->run->group_of)
		replace_groups(c, stopping);
	return reaped;
}

static int alive(const struct crew *c)
{
	int n = 0;

	for (int i = 0; i < c->run->nworkers; i++)
		n += c->pids[i] != 0;
	return n;
}

/* ---- kills --------------------------------------------------------------- */

static double next_kill_delay(struct crew *c)
{
	double u = ((double)(stress_rand(&c->rng) >> 11) + 1.0) / 9007199254740993.0;

	return -log(u) / c->run->kill_rate;
}

enum kill_try { KILLED, GUARDED, NOT_THERE };

/* The supervisor's half of the guard (worker.c): announce, then look. */
static enum kill_try try_kill(struct crew *c, int index)
{
	struct stress_slot *slot = &c->run->board->slots[index];
	int group;

	if (c->pids[index] == 0 || c->killing[index])
		return NOT_THERE;
	atomic_store(&slot->kill_pending, 1);
	if (atomic_load(&slot->guarded)) {
		atomic_store(&slot->kill_pending, 0);
		return GUARDED;
	}
	c->killing[index] = true;
	/* Before the kill: a member that sees the channel break then finds
	 * its group dying, and does not call it a failure. */
	group = group_of(c->run, index);
	if (group >= 0) {
		atomic_store(&c->run->board->group_dying[group], 1);
		c->replacing[group] = true;
	}
	kill(c->pids[index], SIGKILL);
	c->run->killed_by_us++;
	return KILLED;
}

/*
 * A group with a member killed loses all of them: the others are killed
 * too (through try_kill, so a guarded phase defers them to a later tick),
 * and once every member is reaped the scenario remakes the group's objects
 * and the members start again, each in its next incarnation. After the
 * stop a dead group stays dead.
 */
static void replace_groups(struct crew *c, bool stopping)
{
	struct stress_run *run = c->run;

	for (int g = 0; g < run->nworkers; g++) {
		bool all_dead = true;

		if (!c->replacing[g])
			continue;
		for (int i = 0; i < run->nworkers; i++) {
			if (group_of(run, i) != g || c->pids[i] == 0)
				continue;
			all_dead = false;
			if (!c->killing[i] && try_kill(c, i) == GUARDED)
				run->deferred++;
		}
		if (!all_dead || stopping)
			continue;
		c->replacing[g] = false;
		if (run->regroup(run, g) != 0) {
			stress_check(run, false, "RESPAWN-FAILED",
				     "group %d could not be made again", g);
			continue;
		}
		atomic_store(&run->board->group_dying[g], 0);
		for (int i = 0; i < run->nworkers; i++) {
			struct stress_slot *slot = &run->board->slots[i];

			if (group_of(run, i) == g &&
			    spawn(c, i, atomic_load(&slot->incarnation) + 1) != 0)
				stress_check(run, false, "RESPAWN-FAILED",
					     "worker %d could not be started again", i);
		}
	}
}

/* A kill of a random worker, tried again on other random workers while
 * each is in a phase the scenario keeps kills out of. */
static void kill_one(struct crew *c)
{
	for (int tries = 0; tries < KILL_RETRIES; tries++) {
		int victim = (int)(stress_rand(&c->rng) % (uint64_t)c->run->nworkers);
		enum kill_try t = try_kill(c, victim);

		if (t == KILLED)
			return;
		if (t == GUARDED)
			c->run->deferred++;
		stress_sleep_us(KILL_RETRY_US / 10);
	}
}

/* ---- the watchdog's report ------------------------------------------------ */

static void print_file_line(const char *label, const char *path, bool whole)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		printf("    %s: (%s)\n", label, strerror(errno));
		return;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	if (!whole)
		buf[strcspn(buf, "\n")] = '\0';
	if (whole)
		printf("    %s:\n%s", label, buf);
	else
		printf("    %s: %s\n", label, buf);
}

/* The state letter of /proc/PID/stat: after the ')' that ends the name. */
static void print_proc_state(const char *dir)
{
	char path[96], buf[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/stat", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		char *paren;

		buf[n] = '\0';
		paren = strrchr(buf, ')');
		printf("    state: %c\n", paren && paren[1] && paren[2] ? paren[2] : '?');
	}
}

static bool have_gdb(void)
{
	const char *path = getenv("PATH");
	char dir[4096];

	while (path && *path) {
		size_t len = strcspn(path, ":");

		snprintf(dir, sizeof dir, "%.*s/gdb", (int)len, path);
		if (access(dir, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/* gdb -p PID -batch -ex bt, for at most GDB_TIMEOUT_S. */
static void gdb_backtrace(pid_t pid, bool all_threads)
{
	char spid[24];
	double deadline;
	pid_t child;
	int status;

	snprintf(spid, sizeof spid, "%d", (int)pid);
	fflush(NULL);
	child = fork();
	if (child < 0)
		return;
	if (child == 0) {
		int null = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(1, 2);
		execlp("gdb", "gdb", "-nx", "-p", spid, "-batch", "-ex",
		       all_threads ? "thread apply all bt" : "bt", (char *)NULL);
		_exit(127);
	}
	deadline = stress_now() + GDB_TIMEOUT_S;
	while (waitpid(child, &status, WNOHANG) == 0) {
		if (stress_now() > deadline) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			printf("    (gdb gave no backtrace within %.0f s)\n", GDB_TIMEOUT_S);
			return;
		}
		stress_sleep_us(20000);
	}
}

static void report_worker(struct crew *c, int index)
{
	struct stress_slot *slot = &c->run->board->slots[index];
	pid_t pid = atomic_load(&slot->pid);
	char dir[64], path[96];

	if (c->run->threads)
		snprintf(dir, sizeof dir, "/proc/self/task/%d", (int)pid);
	else
		snprintf(dir, sizeof dir, "/proc/%d", (int)pid);
	printf("  worker %d (%s %d, incarnation %u): phase %s, %" PRIu64 " ops\n",
	       index, c->run->threads ? "thread" : "pid", (int)pid,
	       atomic_load(&slot->incarnation),
	       stress_phase_name(atomic_load(&slot->phase)),
	       (uint64_t)atomic_load(&slot->ops));
	print_proc_state(dir);
	snprintf(path, sizeof path, "%s/wchan", dir);
	print_file_line("wchan", path, false);
	snprintf(path, sizeof path, "%s/stack", dir);
	print_file_line("kernel stack", path, true);
	if (!c->run->threads && have_gdb())
		gdb_backtrace(pid, false);
}

static void report_deadlock(struct crew *c, const char *why)
{
	struct stress_run *run = c->run;

	if (run->detected_at < 0)
		run->detected_at = since(c);
	printf("DEADLOCK in %s after %.1f s: %s\n", run->scn->name, since(c), why);
	for (int i = 0; i < run->nworkers; i++)
		if (run->threads || c->pids[i] != 0)
			report_worker(c, i);
	/* The threads' user stacks, all at once: one process to attach to. */
	if (run->threads && have_gdb()) {
		prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
		gdb_backtrace(getpid(), true);
	}
	fflush(stdout);
	stress_check(run, false, "DEADLOCK", "%s", why);
	c->deadlocked = true;
}

/* ---- the run ------------------------------------------------------------- */

static uint64_t total_ops(const struct stress_run *run)
{
	uint64_t n = 0;

	for (int i = 0; i < run->nworkers; i++)
		n += atomic_load_explicit(&run->board->slots[i].ops, memory_order_relaxed);
	return n;
}

/* Until the deadline, the first violation (with --stop-on-violation) or a
 * deadlock: reaps, kills and respawns, and watches the progress. */
static void watch(struct crew *c, const struct stress_options *o)
{
	struct stress_run *run = c->run;
	double next_kill = run->kill_rate > 0 ? next_kill_delay(c) : INFINITY;
	double last_change = 0;
	uint64_t last_ops = 0;
	char why[160];

	for (;;) {
		double now = since(c);
		uint64_t ops;

		if (!run->threads)
			reap(c, false);
		if (atomic_load(&run->board->nviolations) && run->detected_at < 0)
			run->detected_at = now;
		if (now >= run->seconds || stress_interrupted ||
		    (o->stop_on_violation && run->detected_at >= 0))
			return;
		if (now >= next_kill) {
			kill_one(c);
			next_kill = now + next_kill_delay(c);
		}
		ops = total_ops(run);
		if (ops != last_ops) {
			last_ops = ops;
			last_change = now;
		} else if (now - last_change >= o->watchdog) {
			snprintf(why, sizeof why,
				 "no worker made progress for %.0f s (watchdog)", o->watchdog);
			report_deadlock(c, why);
			return;
		}
		stress_sleep_us(TICK_US);
	}
}

static void kill_all(struct crew *c)
{
	for (int i = 0; i < c->run->nworkers; i++)
		if (c->pids[i] != 0)
			kill(c->pids[i], SIGKILL);
	while (alive(c)) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		int index;

		if (pid < 0)
			break;
		index = index_of(c, pid);
		if (index >= 0)
			c->pids[index] = 0;
	}
}

static double stop_grace(const struct stress_run *run)
{
	return run->stop_grace > 0 ? run->stop_grace : STOP_GRACE_S;
}

static void set_stop(struct stress_run *run)
{
	atomic_store(&run->board->stop, 1);
	if (run->stopping)
		run->stopping(run);
}

static void report_late(struct crew *c)
{
	char why[96];

	snprintf(why, sizeof why, "a worker did not stop within %.0f s of the deadline",
		 stop_grace(c->run));
	report_deadlock(c, why);
}

/* Stop flag; the workers have stop_grace() to see it. */
static void stop_processes(struct crew *c)
{
	double deadline = stress_now() + stop_grace(c->run);

	set_stop(c->run);
	if (c->deadlocked) {
		kill_all(c);
		return;
	}
	while (alive(c) && stress_now() < deadline) {
		if (!reap(c, true))
			stress_sleep_us(TICK_US);
	}
	if (alive(c)) {
		report_late(c);
		kill_all(c);
	}
}

static bool threads_stopped(const struct stress_run *run)
{
	for (int i = 0; i < run->nworkers; i++)
		if (atomic_load(&run->board->slots[i].phase) != STRESS_STOPPED)
			return false;
	return true;
}

static void stop_threads(struct crew *c)
{
	struct stress_run *run = c->run;
	double deadline = stress_now() + stop_grace(run);

	set_stop(run);
	while (!threads_stopped(run) && stress_now() < deadline)
		stress_sleep_us(TICK_US);
	if (!threads_stopped(run)) {
		if (!c->deadlocked)
			report_late(c);
		/* A thread cannot be killed alone: the process exits after the
		 * report, its kernel objects removed by teardown first. */
		run->abandoned = true;
		return;
	}
	for (int i = 0; i < run->nworkers; i++)
		pthread_join(c->threads[i], NULL);
}

static struct stress_board *map_board(void)
{
	void *p = mmap(NULL, sizeof(struct stress_board), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "ipch-stress: mmap: %s\n", strerror(errno));
		return NULL;
	}
	stress_atomic_only(p, sizeof(struct stress_board));
	return p;
}

int stress_supervise(struct stress_run *run, const struct stress_options *o)
{
	static struct crew crew;
	struct crew *c = &crew;
	int ret = 0;

	memset(c, 0, sizeof *c);
	c->run = run;
	run->nworkers = o->procs;
	run->threads = o->threads;
	run->seconds = o->seconds;
	run->kill_rate = o->threads ? 0 : o->kill_rate;
	run->seed = o->seed;
	run->variant = o->variant;
	run->detected_at = -1;
	c->rng = stress_seed_mix(o->seed, 0x6B696C6Cu, 0);
	run->board = map_board();
	if (!run->board)
		return -1;
	if (run->scn->setup(run) != 0) {
		run->scn->teardown(run);
		ret = -1;
		goto unmap;
	}
	c->start = stress_now();
	if (start_workers(c) != 0) {
		stress_check(run, false, "START-FAILED", "could not start %d workers",
			     o->procs);
		c->deadlocked = true;
	} else {
		watch(c, o);
	}
	run->elapsed = since(c);
	if (run->threads)
		stop_threads(c);
	else
		stop_processes(c);
	run->ops = total_ops(run);
	if (!run->abandoned && !c->deadlocked) {
		atomic_store(&run->board->checking, 1);
		run->scn->check(run);
	}
	if (atomic_load(&run->board->nviolations) && run->detected_at < 0)
		run->detected_at = since(c);
	run->scn->teardown(run);
	if (run->abandoned)
		return 0;       /* threads may still touch the maps */
unmap:
	if (run->state)
		munmap(run->state, run->state_size);
	run->state = NULL;
	/* The board stays for the report: its violations. */
	return ret;
}
