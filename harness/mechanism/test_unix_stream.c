/*
 * unix-stream against the kernel: socket files and abstract names, listeners
 * and connections between processes, SO_PEERCRED and the uid check, and
 * descriptors passed with messages (SCM_RIGHTS), including every way they
 * could leak.
 */
#include "mech_support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc/fault.h"
#include "ipc/unix.h"

#define WAIT_MS 5000
#define NOBODY 65534

static const struct ipc_backend *backend(void)
{
	const struct ipc_backend *b = ipc_backend_find("unix-stream");

	assert_non_null(b);
	return b;
}

static void make_pair(int abstract, struct ipc_channel **a,
		      struct ipc_channel **b)
{
	struct ipc_opts o = {.abstract = abstract};

	assert_status(ipc_channel_pair(backend(), &o, a, b), IPC_OK);
}

static void send_text(struct ipc_channel *ch, uint16_t type, const char *text)
{
	assert_status(ipc_send(ch, type, text, strlen(text), WAIT_MS), IPC_OK);
}

static void expect_text(struct ipc_channel *ch, uint16_t type, const char *text)
{
	struct ipc_msg m;

	assert_status(ipc_recv(ch, &m, WAIT_MS), IPC_OK);
	assert_int_equal(m.type, type);
	assert_int_equal(m.length, strlen(text));
	assert_memory_equal(m.data, text, m.length);
}

static void exchange(struct ipc_channel *a, struct ipc_channel *b)
{
	send_text(a, 1, "ping");
	expect_text(b, 1, "ping");
	send_text(b, 2, "pong");
	expect_text(a, 2, "pong");
}

/* The same open file: the two ends of a pipe share an inode, so the access
 * mode tells them apart. */
static int same_file(int x, int y)
{
	struct stat sx, sy;

	assert_int_equal(fstat(x, &sx), 0);
	assert_int_equal(fstat(y, &sy), 0);
	return sx.st_dev == sy.st_dev && sx.st_ino == sy.st_ino &&
	       (fcntl(x, F_GETFL) & O_ACCMODE) == (fcntl(y, F_GETFL) & O_ACCMODE);
}

static int cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

static int new_memfd(const char *text)
{
	int fd = memfd_create("ipch-unix", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* ---- pairs --------------------------------------------------------------- */

/* The pair's socket lives in a private directory under $TMPDIR, which is
 * gone (with the file) by the time the pair is returned. */
static void test_pair_private_dir_leaves_nothing(void **state)
{
	struct ipc_channel *a, *b;

	(void)state;
	make_pair(0, &a, &b);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	/* The accepted end still carries the name it was reached by. */
	assert_true(mech_unix_sockets_named(mech_tmpdir()) >= 1);
	assert_int_equal(mech_own_abstract_sockets(), 0);
	exchange(a, b);
	exchange(b, a);
	ipc_channel_close(a);
	ipc_channel_close(b);
	assert_int_equal(mech_unix_sockets_named(mech_tmpdir()), 0);
}

static void test_pair_abstract_leaves_nothing(void **state)
{
	struct ipc_channel *a, *b;

	(void)state;
	make_pair(1, &a, &b);
	assert_true(mech_own_abstract_sockets() >= 1);
	assert_int_equal(mech_unix_sockets_named(mech_tmpdir()), 0);
	exchange(a, b);
	ipc_channel_close(a);
	ipc_channel_close(b);
	assert_int_equal(mech_own_abstract_sockets(), 0);
}

static void test_pair_peer_is_this_process(void **state)
{
	struct ipc_channel *a, *b;
	struct ipc_peer_cred c;

	(void)state;
	make_pair(0, &a, &b);
	assert_status(ipc_unix_peer_cred(a, &c), IPC_OK);
	assert_int_equal(c.pid, getpid());
	assert_int_equal(c.uid, geteuid());
	assert_int_equal(c.gid, getegid());
	assert_status(ipc_unix_peer_cred(b, &c), IPC_OK);
	assert_int_equal(c.pid, getpid());
	assert_int_equal(c.uid, geteuid());
	ipc_channel_close(a);
	ipc_channel_close(b);
}

/* Retried connects and accepts, shortened transfers: the pair still comes
 * up, whole, and leaves nothing. */
static void test_pair_under_fault_patterns(void **state)
{
	static const enum ipc_fault_pattern patterns[] = {
		IPC_PATTERN_EINTR_FIRST, IPC_PATTERN_EAGAIN_ALTERNATE,
		IPC_PATTERN_SHORT_BY_ONE,
	};

	(void)state;
	for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++)
		for (int abstract = 0; abstract <= 1; abstract++) {
			struct ipc_channel *a, *b;

			ipc_fault_plan_pattern(patterns[p]);
			make_pair(abstract, &a, &b);
			exchange(a, b);
			ipc_channel_close(a);
			ipc_channel_close(b);
			ipc_fault_plan_clear();
		}
}

/* ---- listeners and addresses --------------------------------------------- */

static void accept_and_exchange(struct ipc_listener *l, const char *address)
{
	struct ipc_channel *c, *s;

	assert_status(ipc_connect(address, NULL, &c, WAIT_MS), IPC_OK);
	assert_status(ipc_accept(l, &s, WAIT_MS), IPC_OK);
	exchange(c, s);
	ipc_channel_close(c);
	ipc_channel_close(s);
}

/* "unix:" makes a socket file in a private 0700 directory and removes both
 * on close. */
static void test_listener_private_file_removed(void **state)
{
	struct ipc_listener *l;

	(void)state;
	assert_status(ipc_listen("unix:", NULL, &l), IPC_OK);
	mech_assert_private_socket(ipc_listener_address(l) + strlen("unix:"));
	accept_and_exchange(l, ipc_listener_address(l));
	ipc_listener_close(l);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
}

static void test_listener_explicit_path_removed(void **state)
{
	struct ipc_listener *l;
	char address[PATH_MAX];
	struct stat st;

	(void)state;
	snprintf(address, sizeof address, "unix:%s/s", mech_tmpdir());
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	assert_string_equal(ipc_listener_address(l), address);
	assert_int_equal(lstat(address + 5, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	accept_and_exchange(l, address);
	accept_and_exchange(l, address);
	ipc_listener_close(l);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
}

static void test_listener_abstract(void **state)
{
	struct ipc_listener *l, *named;
	char address[128];

	(void)state;
	assert_status(ipc_listen("unix:@", NULL, &l), IPC_OK);
	assert_memory_equal(ipc_listener_address(l), "unix:@ipc-", 10);
	accept_and_exchange(l, ipc_listener_address(l));
	ipc_listener_close(l);

	snprintf(address, sizeof address, "unix:@ipch-test-%ld", (long)getpid());
	assert_status(ipc_listen(address, NULL, &named), IPC_OK);
	assert_string_equal(ipc_listener_address(named), address);
	assert_true(mech_unix_sockets_named(address + 5) >= 1);
	accept_and_exchange(named, address);
	ipc_listener_close(named);
	assert_int_equal(mech_unix_sockets_named(address + 5), 0);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
}

/* A path that exists is never taken over, whatever it is, and a file that
 * replaced the listener's socket is not removed with it. */
static void test_listen_on_existing_path_fails(void **state)
{
	struct ipc_listener *l, *again;
	char path[PATH_MAX], address[PATH_MAX + 8];

	(void)state;
	snprintf(path, sizeof path, "%s/taken", mech_tmpdir());
	snprintf(address, sizeof address, "unix:%s", path);
	mech_assert_listen_keeps_file(address, path);

	/* A live listener's path. */
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	assert_status(ipc_listen(address, NULL, &again), IPC_SYSTEM);
	assert_int_equal(errno, EADDRINUSE);
	accept_and_exchange(l, address);

	mech_close_after_file_replaced(l, path);
}

static void test_listen_on_taken_abstract_name_fails(void **state)
{
	struct ipc_listener *l, *again;
	char address[128];

	(void)state;
	snprintf(address, sizeof address, "unix:@ipch-taken-%ld", (long)getpid());
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	assert_status(ipc_listen(address, NULL, &again), IPC_SYSTEM);
	assert_int_equal(errno, EADDRINUSE);
	accept_and_exchange(l, address);
	ipc_listener_close(l);
}

static void test_connect_to_nothing_is_refused(void **state)
{
	struct ipc_listener *l;
	struct ipc_channel *c;
	char address[PATH_MAX + 8];

	(void)state;
	snprintf(address, sizeof address, "unix:%s/none", mech_tmpdir());
	assert_status(ipc_connect(address, NULL, &c, WAIT_MS), IPC_REFUSED);
	assert_int_equal(errno, ENOENT);
	assert_null(c);

	snprintf(address, sizeof address, "unix:@ipch-none-%ld", (long)getpid());
	assert_status(ipc_connect(address, NULL, &c, WAIT_MS), IPC_REFUSED);
	assert_int_equal(errno, ECONNREFUSED);

	/* A file that is not a socket, and a listener that has gone. */
	snprintf(address, sizeof address, "unix:%s/plain", mech_tmpdir());
	mech_make_file(address + 5, "");
	assert_status(ipc_connect(address, NULL, &c, WAIT_MS), IPC_REFUSED);
	unlink(address + 5);
	assert_status(ipc_listen("unix:@", NULL, &l), IPC_OK);
	snprintf(address, sizeof address, "%s", ipc_listener_address(l));
	ipc_listener_close(l);
	assert_status(ipc_connect(address, NULL, &c, WAIT_MS), IPC_REFUSED);
}

static void test_bad_addresses_are_invalid(void **state)
{
	char address[300];
	struct ipc_listener *l;
	struct ipc_channel *c;

	(void)state;
	assert_status(ipc_connect("unix:", NULL, &c, 0), IPC_INVALID);
	assert_status(ipc_connect("unix:@", NULL, &c, 0), IPC_INVALID);
	memset(address, 'x', sizeof address - 1);
	address[sizeof address - 1] = '\0';
	memcpy(address, "unix:/", 6);
	assert_status(ipc_listen(address, NULL, &l), IPC_INVALID);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_status(ipc_connect(address, NULL, &c, 0), IPC_INVALID);
	memcpy(address, "unix:@", 6);
	assert_status(ipc_listen(address, NULL, &l), IPC_INVALID);
	assert_status(ipc_connect(address, NULL, &c, 0), IPC_INVALID);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A listener whose backlog is full: connect waits for the caller's timeout,
 * and succeeds once a connection is taken. */
static void test_connect_waits_on_full_backlog(void **state)
{
	enum { MAX_WAITING = 64 };
	struct ipc_channel *waiting[MAX_WAITING], *c, *s;
	struct ipc_listener *l;
	const char *at;
	size_t n = 0;
	enum ipc_status st;
	long long began;

	(void)state;
	assert_status(ipc_listen("unix:", NULL, &l), IPC_OK);
	at = ipc_listener_address(l);
	while ((st = ipc_connect(at, NULL, &waiting[n], 0)) == IPC_OK)
		if (++n == MAX_WAITING)
			fail_msg("the backlog took %d connections", MAX_WAITING);
	assert_status(st, IPC_TIMEOUT);
	began = now_ns();
	assert_status(ipc_connect(at, NULL, &c, 100), IPC_TIMEOUT);
	assert_true(now_ns() - began >= 100000000LL);
	assert_null(c);
	assert_status(ipc_accept(l, &s, WAIT_MS), IPC_OK);
	assert_status(ipc_connect(at, NULL, &c, WAIT_MS), IPC_OK);
	ipc_channel_close(c);
	ipc_channel_close(s);
	for (size_t i = 0; i < n; i++)
		ipc_channel_close(waiting[i]);
	ipc_listener_close(l);
}

/* ---- between processes --------------------------------------------------- */

struct child_args {
	const char *address;
	struct ipc_opts opts;
	pid_t parent;
	enum ipc_status want; /* what the child's connect should give */
};

/* Connects, checks who listens, says hello and waits for the answer. */
static int connecting_child(void *arg)
{
	const struct child_args *args = arg;
	struct ipc_channel *c;
	struct ipc_peer_cred peer;
	struct ipc_msg m;
	int rc = 0;

	if (ipc_connect(args->address, &args->opts, &c, WAIT_MS) != args->want)
		return 1;
	if (args->want != IPC_OK)
		return c == NULL && errno == EACCES ? 0 : 2;
	if (ipc_unix_peer_cred(c, &peer) != IPC_OK || peer.pid != args->parent)
		rc = 3;
	else if (ipc_send(c, 7, "hello", 5, WAIT_MS) != IPC_OK)
		rc = 4;
	else if (ipc_recv(c, &m, WAIT_MS) != IPC_OK || m.type != 8 ||
		 m.length != 6 || memcmp(m.data, "hello!", 6) != 0)
		rc = 5;
	ipc_channel_close(c);
	return rc;
}

/* How long a parent waits for a child, which under valgrind is slow. */
static int child_wait_ms(void)
{
	return (int)mech_seconds(WAIT_MS / 1000) * 1000;
}

static void serve_one(struct ipc_listener *l, pid_t child, uid_t uid)
{
	struct ipc_channel *s;
	struct ipc_peer_cred peer;

	assert_status(ipc_accept(l, &s, child_wait_ms()), IPC_OK);
	assert_status(ipc_unix_peer_cred(s, &peer), IPC_OK);
	assert_int_equal(peer.pid, child);
	assert_int_equal(peer.uid, uid);
	expect_text(s, 7, "hello");
	send_text(s, 8, "hello!");
	ipc_channel_close(s);
}

static void listen_connect_with_child(const char *where)
{
	struct ipc_listener *l;
	struct child_args args = {.parent = getpid(), .want = IPC_OK};
	pid_t child;

	assert_status(ipc_listen(where, NULL, &l), IPC_OK);
	args.address = ipc_listener_address(l);
	child = mech_fork(connecting_child, &args, 20);
	serve_one(l, child, geteuid());
	mech_reap(child, 20);
	ipc_listener_close(l);
}

static void test_listen_connect_across_fork(void **state)
{
	char address[PATH_MAX + 8];

	(void)state;
	snprintf(address, sizeof address, "unix:%s/s", mech_tmpdir());
	listen_connect_with_child(address);
	listen_connect_with_child("unix:@");
	listen_connect_with_child("unix:");
}

/* A child that became nobody connects: each side refuses the other unless
 * told to take any uid. setuid needs root (as in CI). */
static int nobody_child(void *arg)
{
	if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return 10;
	return connecting_child(arg);
}

static void test_other_uid_refused_unless_allowed(void **state)
{
	struct ipc_listener *l;
	struct ipc_channel *s;
	struct ipc_opts any = {.allow_any_uid = 1};
	struct child_args args = {.parent = getpid(), .want = IPC_REFUSED};
	pid_t child;

	(void)state;
	if (geteuid() != 0)
		skip();
	/* Abstract: no file permissions keep nobody out, only the uid check. */
	assert_status(ipc_listen("unix:@", NULL, &l), IPC_OK);
	args.address = ipc_listener_address(l);
	child = mech_fork(nobody_child, &args, 20);
	assert_status(ipc_accept(l, &s, child_wait_ms()), IPC_REFUSED);
	assert_null(s);
	assert_int_equal(ipc_listener_errno(l), EACCES);
	mech_reap(child, 20);
	ipc_listener_close(l);

	assert_status(ipc_listen("unix:@", &any, &l), IPC_OK);
	args.address = ipc_listener_address(l);
	args.opts = any;
	args.want = IPC_OK;
	child = mech_fork(nobody_child, &args, 20);
	serve_one(l, child, NOBODY);
	mech_reap(child, 20);
	ipc_listener_close(l);
}

/* The peer went away: statuses, never SIGPIPE (the default action, which
 * would kill the child). */
static int sender_after_peer_left(void *arg)
{
	struct ipc_channel **ends = arg;
	struct ipc_msg m;
	sigset_t pending;
	int fd = 0;

	signal(SIGPIPE, SIG_DFL);
	ipc_channel_close(ends[1]);
	if (ipc_recv(ends[0], &m, WAIT_MS) != IPC_PEER_CLOSED)
		return 1;
	if (ipc_send(ends[0], 1, "x", 1, WAIT_MS) != IPC_PEER_CLOSED)
		return 2;
	if (ipc_send_fds(ends[0], 1, "x", 1, &fd, 1, WAIT_MS) != IPC_PEER_CLOSED)
		return 3;
	if (sigpending(&pending) != 0 || sigismember(&pending, SIGPIPE))
		return 4;
	ipc_channel_close(ends[0]);
	return 0;
}

static void test_peer_closed_without_sigpipe(void **state)
{
	struct ipc_channel *ends[2];
	pid_t child;

	(void)state;
	make_pair(0, &ends[0], &ends[1]);
	child = mech_fork(sender_after_peer_left, ends, 20);
	ipc_channel_close(ends[0]);
	ipc_channel_close(ends[1]);
	mech_reap(child, 20);
}

/* ---- descriptors --------------------------------------------------------- */

/* Gets the pipe's read end and a memfd, uses both, answers. */
static int fd_using_child(void *arg)
{
	struct ipc_channel **ends = arg;
	struct ipc_msg m;
	int fds[4];
	size_t n;
	char buf[32] = {0};
	int rc = 0;

	ipc_channel_close(ends[0]);
	if (ipc_recv_fds(ends[1], &m, fds, 4, &n, WAIT_MS) != IPC_OK || n != 2 ||
	    m.type != 3)
		return 1;
	if (!cloexec(fds[0]) || !cloexec(fds[1]))
		rc = 2;
	else if (read(fds[0], buf, sizeof buf) != 4 || memcmp(buf, "ping", 4) != 0 ||
		 read(fds[0], buf, sizeof buf) != 0)
		rc = 3;
	else if (pread(fds[1], buf, sizeof buf, 0) != 11 ||
		 memcmp(buf, "from parent", 11) != 0)
		rc = 4;
	else if (pwrite(fds[1], "from child!", 11, 0) != 11)
		rc = 5;
	else if (ipc_send(ends[1], 4, "done", 4, WAIT_MS) != IPC_OK)
		rc = 6;
	close_all(fds, 2);
	ipc_channel_close(ends[1]);
	return rc;
}

static void test_fds_pipe_and_memfd_to_child(void **state)
{
	struct ipc_channel *ends[2];
	int p[2], memfd, sent[2];
	char buf[16] = {0};
	pid_t child;

	(void)state;
	make_pair(0, &ends[0], &ends[1]);
	child = mech_fork(fd_using_child, ends, 20);
	ipc_channel_close(ends[1]);
	/* Made after the fork: the child has only the copies it is sent. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	memfd = new_memfd("from parent");
	sent[0] = p[0];
	sent[1] = memfd;
	assert_status(ipc_send_fds(ends[0], 3, "fds", 3, sent, 2, WAIT_MS), IPC_OK);
	close(p[0]);
	assert_int_equal(write(p[1], "ping", 4), 4);
	close(p[1]);
	expect_text(ends[0], 4, "done");
	assert_int_equal(pread(memfd, buf, sizeof buf, 0), 11);
	assert_string_equal(buf, "from child!");
	close(memfd);
	ipc_channel_close(ends[0]);
	mech_reap(child, 20);
}

/*
 * Messages queued before any is received, some with descriptors, some big
 * enough to take several reads: each comes out with exactly its own, though
 * the kernel hands descriptors to reads that also hold bytes of earlier
 * messages.
 */
struct plan_msg {
	size_t len;
	size_t first, count; /* which of the test's descriptors it carries */
};

static const struct plan_msg queued[] = {
	{10, 0, 0}, {20, 0, 1}, {66000, 0, 0}, {0, 1, 2},
	{5, 3, 1}, {50000, 0, 4}, {3, 0, 0}, {1, 2, 1},
};

#define QUEUED (sizeof queued / sizeof queued[0])
#define QUEUED_MAX_LEN 66000

/* Sends the queue; 0, or 1 + the index of the message that failed. */
static int send_queue(struct ipc_channel *ch, const int *fds, uint8_t *buf)
{
	for (size_t i = 0; i < QUEUED; i++) {
		mech_fill(buf, queued[i].len, i);
		if (ipc_send_fds(ch, (uint16_t)(i + 1), buf, queued[i].len,
				 fds + queued[i].first, queued[i].count,
				 WAIT_MS) != IPC_OK)
			return 1 + (int)i;
	}
	return 0;
}

static void expect_queue(struct ipc_channel *ch, const int *fds)
{
	for (size_t i = 0; i < QUEUED; i++) {
		struct ipc_msg m;
		int got[8];
		size_t n;

		assert_status(ipc_recv_fds(ch, &m, got, 8, &n, WAIT_MS), IPC_OK);
		assert_int_equal(m.type, i + 1);
		assert_int_equal(m.length, queued[i].len);
		assert_int_equal(mech_check(m.data, m.length, i), m.length);
		assert_int_equal(n, queued[i].count);
		for (size_t k = 0; k < n; k++) {
			assert_true(same_file(got[k], fds[queued[i].first + k]));
			assert_true(cloexec(got[k]));
		}
		close_all(got, n);
	}
}

static void open_test_fds(int fds[4])
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = new_memfd("two");
	fds[3] = new_memfd("three");
}

/* All queued before any is read. (Not under IPC_PATTERN_EAGAIN_ALTERNATE:
 * poll reports a unix socket writable only while 3/4 of its buffer is free,
 * so an EAGAIN made up with the queue this full would wait for a reader.) */
static void test_fds_follow_their_messages(void **state)
{
	static const enum ipc_fault_pattern patterns[] = {
		IPC_PATTERN_NONE, IPC_PATTERN_SHORT_BY_ONE,
		IPC_PATTERN_EINTR_FIRST,
	};
	uint8_t *buf = malloc(QUEUED_MAX_LEN);
	int fds[4];
	size_t before;

	(void)state;
	assert_non_null(buf);
	open_test_fds(fds);
	before = mech_open_fds();
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		struct ipc_channel *a, *b;

		make_pair(0, &a, &b);
		ipc_fault_plan_pattern(patterns[i]);
		assert_int_equal(send_queue(a, fds, buf), 0);
		expect_queue(b, fds);
		/* And the other way. */
		assert_int_equal(send_queue(b, fds, buf), 0);
		expect_queue(a, fds);
		ipc_fault_plan_clear();
		ipc_channel_close(a);
		ipc_channel_close(b);
		assert_int_equal(mech_open_fds(), before);
	}
	close_all(fds, 4);
	free(buf);
}

struct queue_args {
	struct ipc_channel *ends[2];
	const int *fds;
	uint8_t *buf;
	enum ipc_fault_pattern pattern;
};

static int queue_sender(void *arg)
{
	struct queue_args *q = arg;
	int rc;

	ipc_channel_close(q->ends[1]);
	ipc_fault_plan_pattern(q->pattern);
	rc = send_queue(q->ends[0], q->fds, q->buf);
	ipc_fault_plan_clear();
	ipc_channel_close(q->ends[0]);
	return rc;
}

/* The same with the sender in another process, reads and writes racing,
 * both sides under each fault pattern. */
static void test_fds_follow_their_messages_across_fork(void **state)
{
	static const enum ipc_fault_pattern patterns[] = {
		IPC_PATTERN_NONE, IPC_PATTERN_SHORT_BY_ONE,
		IPC_PATTERN_EINTR_FIRST, IPC_PATTERN_EAGAIN_ALTERNATE,
	};
	struct queue_args q = {.buf = malloc(QUEUED_MAX_LEN)};
	int fds[4];

	(void)state;
	assert_non_null(q.buf);
	open_test_fds(fds);
	q.fds = fds;
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		pid_t child;

		make_pair((int)(i % 2), &q.ends[0], &q.ends[1]);
		q.pattern = patterns[i];
		child = mech_fork(queue_sender, &q, 30);
		ipc_channel_close(q.ends[0]);
		ipc_fault_plan_pattern(patterns[i]);
		expect_queue(q.ends[1], fds);
		ipc_fault_plan_clear();
		ipc_channel_close(q.ends[1]);
		mech_reap(child, 30);
	}
	close_all(fds, 4);
	free(q.buf);
}

/* More descriptors than the receiver takes: EMSGSIZE, every one that came
 * closed, the message itself delivered, the stream going on. */
static void test_fds_over_max_all_closed(void **state)
{
	struct ipc_channel *a, *b;
	struct ipc_msg m;
	int p[2], fds[3], got[2];
	size_t before, n = 99;

	(void)state;
	make_pair(0, &a, &b);
	before = mech_open_fds();
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = new_memfd("x");
	assert_status(ipc_send_fds(a, 1, "three", 5, fds, 3, WAIT_MS), IPC_OK);
	assert_status(ipc_send_fds(a, 2, "one", 3, fds, 1, WAIT_MS), IPC_OK);
	assert_status(ipc_send_fds(a, 3, "after", 5, fds, 2, WAIT_MS), IPC_OK);
	close_all(fds, 3);

	assert_status(ipc_recv_fds(b, &m, got, 1, &n, WAIT_MS), IPC_SYSTEM);
	assert_int_equal(ipc_channel_errno(b), EMSGSIZE);
	assert_int_equal(n, 0);
	assert_int_equal(m.type, 1);
	assert_memory_equal(m.data, "three", 5);
	assert_int_equal(mech_open_fds(), before);

	assert_status(ipc_recv_fds(b, &m, NULL, 0, &n, WAIT_MS), IPC_SYSTEM);
	assert_int_equal(ipc_channel_errno(b), EMSGSIZE);
	assert_int_equal(m.type, 2);
	assert_int_equal(mech_open_fds(), before);

	assert_status(ipc_recv_fds(b, &m, got, 2, &n, WAIT_MS), IPC_OK);
	assert_int_equal(m.type, 3);
	assert_int_equal(n, 2);
	close_all(got, n);
	assert_int_equal(mech_open_fds(), before);
	ipc_channel_close(a);
	ipc_channel_close(b);
}

/* The kernel cuts the descriptors short (MSG_CTRUNC) when the receiver may
 * open only one more: the same EMSGSIZE, the one that came closed. */
static void test_fds_cut_by_kernel_all_closed(void **state)
{
	struct ipc_channel *a, *b;
	struct ipc_msg m;
	struct rlimit old, low;
	int p[2], fds[3], got[3], lowest;
	size_t before, n = 99;
	enum ipc_status st;

	(void)state;
	/* Valgrind keeps its own descriptor limit and never passes a lower
	 * one to the kernel. */
	if (mech_slow())
		skip();
	make_pair(0, &a, &b);
	before = mech_open_fds();
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = new_memfd("x");
	assert_status(ipc_send_fds(a, 1, "three", 5, fds, 3, WAIT_MS), IPC_OK);
	close_all(fds, 3);

	/* Descriptors below the limit are all in use but the lowest free one. */
	lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)lowest + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	st = ipc_recv_fds(b, &m, got, 3, &n, WAIT_MS);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

	assert_status(st, IPC_SYSTEM);
	assert_int_equal(ipc_channel_errno(b), EMSGSIZE);
	assert_int_equal(n, 0);
	assert_int_equal(m.type, 1);
	assert_int_equal(mech_open_fds(), before);
	ipc_channel_close(a);
	ipc_channel_close(b);
}

/* Plain ipc_recv takes the message; its descriptors are closed by the next
 * receive from the socket, or the next ipc_recv_fds. */
static void test_plain_recv_closes_fds(void **state)
{
	struct ipc_channel *a, *b;
	struct ipc_msg m;
	int p[2], got[2];
	size_t before, n;

	(void)state;
	make_pair(0, &a, &b);
	before = mech_open_fds();
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_status(ipc_send_fds(a, 1, "with", 4, p, 2, WAIT_MS), IPC_OK);
	expect_text(b, 1, "with");
	assert_status(ipc_send(a, 2, "without", 7, WAIT_MS), IPC_OK);
	expect_text(b, 2, "without");
	assert_int_equal(mech_open_fds(), before + 2);

	assert_status(ipc_send_fds(a, 3, "with", 4, p, 2, WAIT_MS), IPC_OK);
	close_all(p, 2);
	expect_text(b, 3, "with");
	assert_status(ipc_recv_fds(b, &m, got, 2, &n, 0), IPC_TIMEOUT);
	assert_int_equal(n, 0);
	assert_int_equal(mech_open_fds(), before);
	ipc_channel_close(a);
	ipc_channel_close(b);
}

/* Descriptors of a message that never completes: held while it may, closed
 * when the channel closes or the stream turns out cut short. */
static void test_fds_of_unfinished_message_closed(void **state)
{
	const size_t big = 1u << 20;
	uint8_t *buf = calloc(1, big);
	struct ipc_channel *a, *b;
	struct ipc_msg m;
	int p[2], got[2];
	size_t before, n;
	enum ipc_status st;

	(void)state;
	assert_non_null(buf);
	for (int phase = 0; phase < 2; phase++) {
		make_pair(0, &a, &b);
		before = mech_open_fds();
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		/* More than the socket holds, with no wait: cut after the
		 * first part, which carried the descriptors. */
		assert_status(ipc_send_fds(a, 1, buf, big, p, 2, 0), IPC_TIMEOUT);
		close_all(p, 2);
		assert_status(ipc_recv_fds(b, &m, got, 2, &n, 0), IPC_TIMEOUT);
		assert_int_equal(mech_open_fds(), before + 2);
		if (phase == 0) {
			ipc_channel_close(b);
			assert_int_equal(mech_open_fds(), before - 1);
			ipc_channel_close(a);
			continue;
		}
		ipc_channel_close(a);
		while ((st = ipc_recv_fds(b, &m, got, 2, &n, WAIT_MS)) == IPC_TIMEOUT)
			;
		assert_status(st, IPC_CORRUPT);
		assert_int_equal(ipc_channel_fault(b, NULL), IPCF_FAULT_TRUNCATED);
		assert_int_equal(mech_open_fds(), before - 1);
		ipc_channel_close(b);
	}
	free(buf);
}

/*
 * A sender that is not this library sends a long message with a descriptor
 * on its first byte and another in its middle, in a later read, then the
 * next message with its own, as ipc_send_fds does. All is queued before the
 * first read, so the read that ends the long message also brings the next
 * one's descriptor. The stray one is closed, never handed out, and each
 * message gets its own.
 */
#define FOREIGN_LONG 120000
#define FOREIGN_STRAY_AT 80000 /* past the first read (IPC_READ_CHUNK) */

struct foreign_args {
	const char *path;
	const uint8_t *stream;
	size_t long_end, total;
	int first, stray, next;
};

/* Sends stream[from, to) on a blocking socket, fd (if >= 0) with its first
 * byte; 0 or -1. */
static int send_piece(int s, const uint8_t *stream, size_t from, size_t to,
		      int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;

	while (from < to) {
		struct iovec iov = {(void *)(stream + from), to - from};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t r;

		if (fd >= 0) {
			struct cmsghdr *c = &control.align;

			memset(&control, 0, sizeof control);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof fd);
			m.msg_control = control.buf;
			m.msg_controllen = sizeof control.buf;
		}
		r = sendmsg(s, &m, MSG_NOSIGNAL);
		if (r <= 0)
			return -1;
		from += (size_t)r;
		fd = -1;
	}
	return 0;
}

static int foreign_sender(void *arg)
{
	const struct foreign_args *f = arg;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", f->path);
	if (s < 0 || connect(s, (struct sockaddr *)&sun, sizeof sun) != 0)
		rc = 1;
	else if (send_piece(s, f->stream, 0, FOREIGN_STRAY_AT, f->first) != 0 ||
		 send_piece(s, f->stream, FOREIGN_STRAY_AT, FOREIGN_STRAY_AT + 10,
			    f->stray) != 0 ||
		 send_piece(s, f->stream, FOREIGN_STRAY_AT + 10, f->long_end, -1) != 0 ||
		 send_piece(s, f->stream, f->long_end, f->total, f->next) != 0)
		rc = 2;
	if (s >= 0)
		close(s);
	return rc;
}

static void test_fds_from_a_foreign_sender(void **state)
{
	struct ipcf_encoder enc;
	struct foreign_args f;
	struct ipc_listener *l;
	struct ipc_channel *s;
	struct ipc_msg m;
	uint8_t *payload = calloc(1, FOREIGN_LONG);
	uint8_t *stream = malloc(FOREIGN_LONG + 2 * IPCF_HEADER_SIZE + 2);
	int fds[3], got[2];
	size_t before, n;
	pid_t child;

	(void)state;
	assert_non_null(payload);
	assert_non_null(stream);
	ipcf_encoder_init(&enc, 0, IPCF_DEFAULT_LIMIT);
	f.long_end = ipcf_encode(&enc, 1, payload, FOREIGN_LONG, stream,
				 FOREIGN_LONG + IPCF_HEADER_SIZE);
	assert_int_equal(f.long_end, FOREIGN_LONG + IPCF_HEADER_SIZE);
	f.total = f.long_end + ipcf_encode(&enc, 2, "ok", 2, stream + f.long_end,
					   IPCF_HEADER_SIZE + 2);
	f.stream = stream;

	assert_status(ipc_listen("unix:", NULL, &l), IPC_OK);
	f.path = ipc_listener_address(l) + strlen("unix:");
	before = mech_open_fds();
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	fds[2] = new_memfd("stray");
	f.first = fds[0];
	f.next = fds[1];
	f.stray = fds[2];
	child = mech_fork(foreign_sender, &f, 20);
	assert_status(ipc_accept(l, &s, WAIT_MS), IPC_OK);
	mech_reap(child, 20);

	assert_status(ipc_recv_fds(s, &m, got, 2, &n, WAIT_MS), IPC_OK);
	assert_int_equal(m.type, 1);
	assert_int_equal(m.length, FOREIGN_LONG);
	assert_int_equal(n, 1);
	assert_true(same_file(got[0], fds[0]));
	close(got[0]);
	assert_status(ipc_recv_fds(s, &m, got, 2, &n, WAIT_MS), IPC_OK);
	assert_int_equal(m.type, 2);
	assert_int_equal(n, 1);
	assert_true(same_file(got[0], fds[1]));
	close(got[0]);
	close_all(fds, 3);
	ipc_channel_close(s);
	assert_int_equal(mech_open_fds(), before);
	ipc_listener_close(l);
	free(payload);
	free(stream);
}

static void test_fds_misuse(void **state)
{
	struct ipc_channel *a, *b, *pr, *pw;
	struct ipc_peer_cred c;
	struct ipc_msg m;
	int fds[IPC_UNIX_MAX_FDS + 1], bad, got;
	size_t n;

	(void)state;
	make_pair(0, &a, &b);
	for (size_t i = 0; i <= IPC_UNIX_MAX_FDS; i++)
		fds[i] = 0;
	assert_status(ipc_send_fds(a, 1, "x", 1, fds, IPC_UNIX_MAX_FDS + 1, 0),
		      IPC_INVALID);
	assert_status(ipc_send_fds(a, 1, "x", 1, NULL, 1, 0), IPC_INVALID);
	assert_status(ipc_recv_fds(b, &m, NULL, 1, &n, 0), IPC_INVALID);
	assert_status(ipc_recv_fds(b, &m, &got, 1, NULL, 0), IPC_INVALID);

	/* A descriptor that is not open: nothing goes out, the stream is
	 * intact. */
	bad = dup(0);
	close(bad);
	assert_status(ipc_send_fds(a, 1, "x", 1, &bad, 1, WAIT_MS), IPC_SYSTEM);
	assert_int_equal(ipc_channel_errno(a), EBADF);
	send_text(a, 2, "still fine");
	expect_text(b, 2, "still fine");

	/* The most one message may carry. */
	assert_status(ipc_send_fds(a, 3, "many", 4, fds, IPC_UNIX_MAX_FDS, WAIT_MS),
		      IPC_OK);
	{
		int *many = malloc(sizeof(int) * IPC_UNIX_MAX_FDS);

		assert_non_null(many);
		assert_status(ipc_recv_fds(b, &m, many, IPC_UNIX_MAX_FDS, &n, WAIT_MS),
			      IPC_OK);
		assert_int_equal(n, IPC_UNIX_MAX_FDS);
		close_all(many, n);
		free(many);
	}

	assert_status(ipc_channel_pair(ipc_backend_find("pipe"), NULL, &pw, &pr),
		      IPC_OK);
	assert_status(ipc_send_fds(pw, 1, "x", 1, fds, 1, 0), IPC_INVALID);
	assert_status(ipc_recv_fds(pr, &m, &got, 1, &n, 0), IPC_INVALID);
	assert_status(ipc_unix_peer_cred(pr, &c), IPC_INVALID);
	ipc_channel_close(pw);
	ipc_channel_close(pr);
	ipc_channel_close(a);
	ipc_channel_close(b);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, mech_setup, mech_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_pair_private_dir_leaves_nothing),
		TEST(test_pair_abstract_leaves_nothing),
		TEST(test_pair_peer_is_this_process),
		TEST(test_pair_under_fault_patterns),
		TEST(test_listener_private_file_removed),
		TEST(test_listener_explicit_path_removed),
		TEST(test_listener_abstract),
		TEST(test_listen_on_existing_path_fails),
		TEST(test_listen_on_taken_abstract_name_fails),
		TEST(test_connect_to_nothing_is_refused),
		TEST(test_bad_addresses_are_invalid),
		TEST(test_connect_waits_on_full_backlog),
		TEST(test_listen_connect_across_fork),
		TEST(test_other_uid_refused_unless_allowed),
		TEST(test_peer_closed_without_sigpipe),
		TEST(test_fds_pipe_and_memfd_to_child),
		TEST(test_fds_follow_their_messages),
		TEST(test_fds_follow_their_messages_across_fork),
		TEST(test_fds_over_max_all_closed),
		TEST(test_fds_cut_by_kernel_all_closed),
		TEST(test_plain_recv_closes_fds),
		TEST(test_fds_of_unfinished_message_closed),
		TEST(test_fds_from_a_foreign_sender),
		TEST(test_fds_misuse),
	};

	return cmocka_run_group_tests_name("unix-stream", tests, NULL, NULL);
}
