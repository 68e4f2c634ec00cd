#include "mech_support.h"

#include "ipc/fault.h"
#include "ipc/registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

static char tmpdir[PATH_MAX];
static char outer_tmpdir[PATH_MAX]; /* $TMPDIR as the suite found it, or "" */
static char outer_registry[PATH_MAX]; /* IPCH_REGISTRY likewise */
static int outer_known, outer_registry_set;
static size_t fds_before;

/* Children not reaped yet: a test that fails half-way leaves them to the
 * teardown, which kills them. */
#define MAX_CHILDREN 32
static pid_t children[MAX_CHILDREN];

static void child_started(pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == 0) {
			children[i] = pid;
			return;
		}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("more than %d children at once: raise MAX_CHILDREN", MAX_CHILDREN);
}

void mech_child_reaped(pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static size_t kill_children(void)
{
	size_t killed = 0;

	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] != 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
			killed++;
		}
	return killed;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

size_t mech_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		fail_msg("cannot read directory %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

size_t mech_open_fds(void)
{
	return mech_dir_entries("/proc/self/fd");
}

const char *mech_tmpdir(void) { return tmpdir; }

/* $TMPDIR and IPCH_REGISTRY as the suite found them, before any test. */
static int remember_outer_env(void)
{
	const char *outer = getenv("TMPDIR");
	const char *registry = getenv("IPCH_REGISTRY");

	snprintf(outer_tmpdir, sizeof outer_tmpdir, "%s",
		 outer != NULL ? outer : "");
	outer_registry_set = registry != NULL;
	if ((size_t)snprintf(outer_registry, sizeof outer_registry, "%s",
			     registry != NULL ? registry : "") >=
	    sizeof outer_registry) {
		fprintf(stderr, "setup: IPCH_REGISTRY is longer than PATH_MAX\n");
		return -1;
	}
	outer_known = 1;
	return 0;
}

void mech_registry_restore(void)
{
	if (outer_registry_set)
		setenv("IPCH_REGISTRY", outer_registry, 1);
	else
		unsetenv("IPCH_REGISTRY");
}

int mech_setup(void **state)
{
	(void)state;
	if (!outer_known && remember_outer_env() != 0)
		return -1;
	if ((size_t)snprintf(tmpdir, sizeof tmpdir, "%s/ipch-mech-XXXXXX",
			     outer_tmpdir[0] != '\0' ? outer_tmpdir : "/tmp") >=
		    sizeof tmpdir ||
	    mkdtemp(tmpdir) == NULL || setenv("TMPDIR", tmpdir, 1) != 0) {
		fprintf(stderr, "setup: cannot make a private directory %s: %s\n",
			tmpdir, strerror(errno));
		return -1;
	}
	/* If the suite is killed, the sweep after ctest removes it. */
	ipc_registry_note("scratch", tmpdir);
	fds_before = mech_open_fds();
	return 0;
}

int mech_teardown(void **state)
{
	size_t killed = kill_children();
	size_t fds = mech_open_fds();
	size_t left = mech_dir_entries(tmpdir);
	int ok = fds == fds_before && left == 0 && killed == 0;

	(void)state;
	if (killed != 0)
		fprintf(stderr, "teardown: %zu children still running: killed\n",
			killed);
	if (fds != fds_before)
		fprintf(stderr, "teardown: %zu descriptors open, %zu before the test: "
			"a descriptor leaked\n", fds, fds_before);
	if (left != 0)
		fprintf(stderr, "teardown: %zu entries left in %s: a file or "
			"directory was not removed\n", left, tmpdir);
	if (nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "teardown: cannot remove %s: %s\n", tmpdir,
			strerror(errno));
	mech_registry_restore(); /* a test may have pointed it elsewhere */
	ipc_registry_forget("scratch", tmpdir);
	if (outer_tmpdir[0] != '\0')
		setenv("TMPDIR", outer_tmpdir, 1);
	else
		unsetenv("TMPDIR");
	return ok ? 0 : -1;
}

int mech_slow(void)
{
#ifdef RUNNING_ON_VALGRIND
	return RUNNING_ON_VALGRIND != 0;
#else
	return 0;
#endif
}

unsigned mech_seconds(unsigned seconds)
{
	return mech_slow() ? seconds * 20 : seconds;
}

long long mech_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mech_nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

pid_t mech_fork(int (*fn)(void *arg), void *arg, unsigned seconds)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(mech_seconds(seconds));
		_exit(fn(arg));
	}
	child_started(pid);
	return pid;
}

void mech_reap(pid_t pid, unsigned seconds)
{
	long waited_ms = 0, limit_ms = (long)mech_seconds(seconds) * 1000;
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && waited_ms < limit_ms) {
		mech_nap_ms(5);
		waited_ms += 5;
	}
	mech_child_reaped(pid);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("child %d still running after %u s: killed", (int)pid,
			 mech_seconds(seconds));
	}
	if (r < 0)
		fail_msg("waitpid(%d): %s", (int)pid, strerror(errno));
	if (WIFSIGNALED(status))
		fail_msg("child %d died of signal %d (%s)", (int)pid,
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child %d failed its check number %d", (int)pid,
			 WEXITSTATUS(status));
}

struct mech_report *mech_report_map(void)
{
	struct mech_report *rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (rep != MAP_FAILED)
		return rep;
	fprintf(stderr, "setup: mmap: %s\n", strerror(errno));
	return NULL;
}

void mech_report_unmap(struct mech_report *rep)
{
	munmap(rep, sizeof *rep);
}

void mech_note(struct mech_report *rep, int i, long r)
{
	rep->r[i] = r;
	rep->err[i] = r < 0 ? errno : 0;
}

void mech_assert_step_failed(const struct mech_report *rep, int i, int want)
{
	if (rep->r[i] != -1 || rep->err[i] != want)
		fail_msg("child step %d: %ld (errno %s), wanted -1 with %s", i,
			 rep->r[i], mech_errno_name(rep->err[i]),
			 mech_errno_name(want));
}

int mech_become_other_user(void)
{
	return setgroups(0, NULL) == 0 && setgid(MECH_OTHER_UID) == 0 &&
			       setuid(MECH_OTHER_UID) == 0 &&
			       geteuid() == MECH_OTHER_UID
		       ? 0
		       : -1;
}

const char *mech_errno_name(int e)
{
	const char *name = strerrorname_np(e);

	return name != NULL ? name : "0";
}

int mech_seam_logged(const char *call)
{
	char *text = NULL, token[32];
	size_t len = 0;
	FILE *log = open_memstream(&text, &len);
	int found;

	assert_non_null(log);
	ipc_fault_log_print(log);
	fclose(log);
	snprintf(token, sizeof token, " %s ", call);
	found = strstr(text, token) != NULL;
	free(text);
	return found;
}

/* Eight bytes at a time, so that filling and checking 16 MiB stays cheap
 * under valgrind. */
static uint64_t pattern_word(uint64_t seed, size_t word)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + word;

	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDull;
	x ^= x >> 29;
	return x;
}

uint8_t mech_byte(uint64_t seed, size_t index)
{
	return (uint8_t)(pattern_word(seed, index / 8) >> (8 * (index % 8)));
}

void mech_fill(uint8_t *buf, size_t len, uint64_t seed)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w = pattern_word(seed, i / 8);
		for (size_t k = 0; k < 8; k++)
			buf[i + k] = (uint8_t)(w >> (8 * k));
	}
	for (; i < len; i++)
		buf[i] = mech_byte(seed, i);
}

size_t mech_check(const uint8_t *buf, size_t len, uint64_t seed)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w = pattern_word(seed, i / 8), got = 0;
		for (size_t k = 0; k < 8; k++)
			got |= (uint64_t)buf[i + k] << (8 * k);
		if (got != w)
			break;
	}
	for (; i < len; i++)
		if (buf[i] != mech_byte(seed, i))
			return i;
	return len;
}

void mech_send_ok(struct ipc_channel *ch, uint16_t type, size_t len,
		  uint64_t seed)
{
	uint8_t *buf = malloc(len > 0 ? len : 1);

	assert_non_null(buf);
	mech_fill(buf, len, seed);
	assert_status(ipc_send(ch, type, buf, len, MECH_LONG_MS), IPC_OK);
	free(buf);
}

void mech_recv_expect(struct ipc_channel *ch, uint16_t type, size_t len,
		      uint64_t seed)
{
	struct ipc_msg m;

	assert_status(ipc_recv(ch, &m, MECH_LONG_MS), IPC_OK);
	assert_int_equal(m.type, type);
	assert_int_equal(m.length, len);
	assert_int_equal(mech_check(m.data, m.length, seed), len);
}

void mech_make_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(text);

	if (fd < 0)
		fail_msg("cannot make %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

void mech_assert_file_holds(const char *path, const char *want)
{
	char text[256] = {0};
	FILE *f = fopen(path, "r");

	if (f == NULL)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	assert_true(fread(text, 1, sizeof text - 1, f) > 0);
	fclose(f);
	assert_string_equal(text, want);
}

void mech_assert_private_socket(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;

	assert_memory_equal(path, mech_tmpdir(), strlen(mech_tmpdir()));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(lstat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

void mech_assert_listen_keeps_file(const char *address, const char *path)
{
	struct ipc_listener *l;
	char text[8] = {0};
	int fd;

	mech_make_file(path, "mine");
	errno = 0;
	assert_status(ipc_listen(address, NULL, &l), IPC_SYSTEM);
	assert_int_equal(errno, EADDRINUSE);
	assert_null(l);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(read(fd, text, sizeof text), 4);
	assert_string_equal(text, "mine");
	close(fd);
	unlink(path);
}

void mech_close_after_file_replaced(struct ipc_listener *l, const char *path)
{
	assert_int_equal(unlink(path), 0);
	mech_make_file(path, "");
	ipc_listener_close(l);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
}

size_t mech_unix_sockets_named(const char *needle)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[512];
	size_t n = 0;

	if (f == NULL)
		fail_msg("cannot read /proc/net/unix: %s", strerror(errno));
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

size_t mech_own_abstract_sockets(void)
{
	char needle[64];

	snprintf(needle, sizeof needle, "@ipc-%ld-", (long)getpid());
	return mech_unix_sockets_named(needle);
}

void mech_plan_failure_at(size_t step, unsigned k)
{
	uint8_t plan[512] = {0};

	assert_true(step < sizeof plan);
	plan[step] = (uint8_t)(0xC0 + k);
	ipc_fault_plan_bytes(plan, step + 1);
}

void mech_assert_nothing_left(size_t fds, const char *what, size_t step)
{
	if (mech_open_fds() != fds)
		fail_msg("%s, fault at call %zu: %zu descriptors open, %zu before",
			 what, step, mech_open_fds(), fds);
	if (mech_dir_entries(mech_tmpdir()) != 0)
		fail_msg("%s, fault at call %zu: something left in %s", what, step,
			 mech_tmpdir());
}

void mech_fail_each_call(void (*run)(const void *arg), const void *arg,
			 size_t fds, const char *what)
{
	size_t calls;

	ipc_fault_plan_clear();
	run(arg);
	calls = (size_t)ipc_fault_calls();
	assert_true(calls >= 10);
	for (size_t step = 0; step < calls; step++)
		for (unsigned k = 0; k < 4; k++) {
			mech_plan_failure_at(step, k);
			run(arg);
			ipc_fault_plan_clear();
			mech_assert_nothing_left(fds, what, step);
		}
}

/* Long enough for a slow machine under Valgrind: a step that fails under a
 * plan ends the session at once, so this is waited only by a hang. */
#define SESSION_WAIT_MS 10000

void mech_duplex_session(const void *address)
{
	struct ipc_channel *a = NULL, *b = NULL;
	struct ipc_listener *l = NULL;
	struct ipc_msg m;

	if (ipc_listen(address, NULL, &l) == IPC_OK &&
	    ipc_connect(ipc_listener_address(l), NULL, &a, SESSION_WAIT_MS) == IPC_OK &&
	    ipc_accept(l, &b, SESSION_WAIT_MS) == IPC_OK &&
	    ipc_send(a, 1, "abc", 3, SESSION_WAIT_MS) == IPC_OK &&
	    ipc_recv(b, &m, SESSION_WAIT_MS) == IPC_OK)
		ipc_send(b, 2, "de", 2, SESSION_WAIT_MS);
	ipc_channel_close(a);
	ipc_channel_close(b);
	ipc_listener_close(l);
}

void mech_proc_text(pid_t pid, const char *file, char *out, size_t len)
{
	char path[64];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(out, 1, len - 1, f);
		fclose(f);
	}
	out[n] = '\0';
}

/* After the last ')': the name in parentheses may hold any character. */
char mech_proc_state(pid_t pid)
{
	char text[512], *paren;

	mech_proc_text(pid, "stat", text, sizeof text);
	paren = strrchr(text, ')');
	return paren != NULL && paren[1] == ' ' ? paren[2] : '?';
}

int mech_wait_flag(const int *flag, unsigned seconds)
{
	long long end = mech_now_ms() + (long long)mech_seconds(seconds) * 1000;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (mech_now_ms() >= end)
			return 0;
		mech_nap_ms(2);
	}
	return 1;
}

void mech_kill_and_reap(pid_t pid)
{
	int status;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	mech_child_reaped(pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("child %d did not die of SIGKILL (status 0x%x)", (int)pid,
			 status);
}
