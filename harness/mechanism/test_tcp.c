/*
 * The tcp backend against the kernel's TCP: ports bound at 0, refused and
 * timed-out connects, IPv6 where the host has it, the socket options every
 * end must carry, a peer gone, 16 MiB each way at once, and every error
 * path leaving nothing behind.
 */
#include "mech_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/fault.h"

#define LONG_MS 10000
#define BIG (16u << 20)

static const struct ipc_backend *tcp(void)
{
	const struct ipc_backend *b = ipc_backend_find("tcp");

	assert_non_null(b);
	return b;
}

/* Both ways, sizes from empty to more than a socket buffer holds. */
static void exchange(struct ipc_channel *a, struct ipc_channel *b)
{
	static const size_t sizes[] = {0, 1, 1000, 300 * 1000};

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		mech_send_ok(a, (uint16_t)(i + 1), sizes[i], i);
		mech_recv_expect(b, (uint16_t)(i + 1), sizes[i], i);
		mech_send_ok(b, (uint16_t)(i + 100), sizes[i], i + 100);
		mech_recv_expect(a, (uint16_t)(i + 100), sizes[i], i + 100);
	}
}

static int sock_family(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	return ss.ss_family;
}

/* What every tcp end carries: one socket both ways, TCP_NODELAY,
 * close-on-exec, non-blocking. */
static void assert_tcp_end(const struct ipc_channel *ch)
{
	int fd = ipc_channel_recv_fd(ch), nodelay = 0;
	socklen_t len = sizeof nodelay;

	assert_true(fd >= 0);
	assert_int_equal(ipc_channel_send_fd(ch), fd);
	assert_string_equal(ipc_channel_backend(ch), "tcp");
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
	assert_int_not_equal(nodelay, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

/* 1 if ::1 can be bound here (the kernel has IPv6 and loopback has it). */
static int have_ipv6(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

static unsigned address_port(const char *addr)
{
	const char *colon = strrchr(addr, ':');

	assert_non_null(colon);
	return (unsigned)strtoul(colon + 1, NULL, 10);
}

/* ---- pairs --------------------------------------------------------------- */

static void tcp_pair_is_duplex(void **state)
{
	struct ipc_channel *a, *b;

	(void)state;
	assert_true(tcp()->duplex);
	assert_status(ipc_channel_pair(tcp(), NULL, &a, &b), IPC_OK);
	assert_tcp_end(a);
	assert_tcp_end(b);
	assert_int_equal(sock_family(ipc_channel_recv_fd(a)), AF_INET);
	exchange(a, b);
	ipc_channel_close(a);
	ipc_channel_close(b);
}

/* The peer gone: end of stream on a message boundary for the receiver, and
 * for the sender a status (EPIPE or a reset), never SIGPIPE. */
static void tcp_peer_gone_is_peer_closed(void **state)
{
	struct ipc_channel *a, *b;
	enum ipc_status st = IPC_OK;
	sigset_t pending;
	struct ipc_msg m;

	(void)state;
	signal(SIGPIPE, SIG_DFL);
	assert_status(ipc_channel_pair(tcp(), NULL, &a, &b), IPC_OK);
	mech_send_ok(a, 1, 10, 1);
	ipc_channel_close(a);
	mech_recv_expect(b, 1, 10, 1);
	assert_status(ipc_recv(b, &m, LONG_MS), IPC_PEER_CLOSED);
	/* The first send may still go into the socket; the peer's reset then
	 * makes a later one fail. */
	for (int i = 0; i < 100 && st == IPC_OK; i++)
		st = ipc_send(b, 1, "x", 1, LONG_MS);
	assert_status(st, IPC_PEER_CLOSED);
	assert_int_equal(sigpending(&pending), 0);
	assert_false(sigismember(&pending, SIGPIPE));
	ipc_channel_close(b);
}

static void tcp_ipv6_pair_and_listener(void **state)
{
	struct ipc_opts v6 = {.ipv6 = 1};
	struct ipc_channel *a, *b;
	struct ipc_listener *l;
	char want[64];

	(void)state;
	if (!have_ipv6())
		skip();
	assert_status(ipc_channel_pair(tcp(), &v6, &a, &b), IPC_OK);
	assert_int_equal(sock_family(ipc_channel_recv_fd(a)), AF_INET6);
	assert_int_equal(sock_family(ipc_channel_recv_fd(b)), AF_INET6);
	exchange(a, b);
	ipc_channel_close(a);
	ipc_channel_close(b);

	assert_status(ipc_listen("tcp:[::1]:0", NULL, &l), IPC_OK);
	snprintf(want, sizeof want, "tcp:[::1]:%u", address_port(ipc_listener_address(l)));
	assert_string_equal(ipc_listener_address(l), want);
	assert_status(ipc_connect(ipc_listener_address(l), NULL, &a, LONG_MS), IPC_OK);
	assert_status(ipc_accept(l, &b, LONG_MS), IPC_OK);
	assert_int_equal(sock_family(ipc_channel_recv_fd(b)), AF_INET6);
	exchange(a, b);
	ipc_channel_close(a);
	ipc_channel_close(b);
	ipc_listener_close(l);

	/* "localhost" means ::1 when the options ask for IPv6. */
	assert_status(ipc_listen("tcp:localhost:0", &v6, &l), IPC_OK);
	assert_true(strncmp(ipc_listener_address(l), "tcp:[::1]:", 10) == 0);
	ipc_listener_close(l);
}

/* ---- addresses ----------------------------------------------------------- */

static void tcp_listen_on_port_zero_gets_a_real_port(void **state)
{
	struct ipc_channel *a, *b;
	struct ipc_listener *l;
	char want[64];
	unsigned port;

	(void)state;
	assert_status(ipc_listen("tcp:127.0.0.1:0", NULL, &l), IPC_OK);
	port = address_port(ipc_listener_address(l));
	assert_in_range(port, 1, 65535);
	snprintf(want, sizeof want, "tcp:127.0.0.1:%u", port);
	assert_string_equal(ipc_listener_address(l), want);
	assert_status(ipc_connect(want, NULL, &a, LONG_MS), IPC_OK);
	assert_status(ipc_accept(l, &b, LONG_MS), IPC_OK);
	assert_tcp_end(a);
	assert_tcp_end(b);
	exchange(a, b);
	ipc_channel_close(a);
	ipc_channel_close(b);

	/* The listener goes on accepting. */
	snprintf(want, sizeof want, "tcp:localhost:%u", port);
	assert_status(ipc_connect(want, NULL, &a, LONG_MS), IPC_OK);
	assert_status(ipc_accept(l, &b, LONG_MS), IPC_OK);
	mech_send_ok(a, 9, 9, 9);
	mech_recv_expect(b, 9, 9, 9);
	ipc_channel_close(a);
	ipc_channel_close(b);
	ipc_listener_close(l);

	assert_status(ipc_listen("tcp:localhost:0", NULL, &l), IPC_OK);
	assert_true(strncmp(ipc_listener_address(l), "tcp:127.0.0.1:", 14) == 0);
	ipc_listener_close(l);
}

static void tcp_accept_times_out(void **state)
{
	struct ipc_listener *l;
	struct ipc_channel *b;

	(void)state;
	assert_status(ipc_listen("tcp:127.0.0.1:0", NULL, &l), IPC_OK);
	assert_status(ipc_accept(l, &b, 0), IPC_TIMEOUT);
	assert_null(b);
	assert_status(ipc_accept(l, &b, 30), IPC_TIMEOUT);
	ipc_listener_close(l);
}

/* A port bound but not listening: nobody there, and nobody else can take
 * the port while the test holds it. */
static void tcp_connect_refused(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	struct ipc_channel *ch;
	char addr[64];
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(addr, sizeof addr, "tcp:127.0.0.1:%u", ntohs(a.sin_port));
	errno = 0;
	assert_status(ipc_connect(addr, NULL, &ch, LONG_MS), IPC_REFUSED);
	assert_int_equal(errno, ECONNREFUSED);
	assert_null(ch);
	close(fd);
}

/* A listener whose accept queue is full drops further SYNs, so a connect
 * stays in progress: it must end at the caller's timeout. */
static void tcp_connect_times_out(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	struct ipc_channel *ch;
	long long began, took;
	int lfd, queued;
	char addr[64];

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	/* Backlog 0 holds one connection; this one fills the queue. */
	queued = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(queued, (struct sockaddr *)&a, sizeof a), 0);
	snprintf(addr, sizeof addr, "tcp:127.0.0.1:%u", ntohs(a.sin_port));
	began = mech_now_ms();
	assert_status(ipc_connect(addr, NULL, &ch, 200), IPC_TIMEOUT);
	took = mech_now_ms() - began;
	assert_null(ch);
	assert_true(took >= 200);
	assert_true(took < (long long)mech_seconds(5) * 1000);
	close(queued);
	close(lfd);
}

static void tcp_rejects_bad_addresses(void **state)
{
	static const char *const bad[] = {
		"tcp:", "tcp:127.0.0.1", "tcp:127.0.0.1:", "tcp::80",
		"tcp:127.0.0.1:65536", "tcp:127.0.0.1:-1", "tcp:127.0.0.1:8x",
		"tcp:127.0.0.1:123456", "tcp:::1:80", "tcp:[::1]80", "tcp:[::1",
		"tcp:[]:80", "tcp:[127.0.0.1]:80", "tcp:[localhost]:80",
		"tcp:example.com:80", "tcp:256.0.0.1:80", "tcp:127.0.0.1 :80",
	};
	struct ipc_listener *l;
	struct ipc_channel *ch;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		if (ipc_listen(bad[i], NULL, &l) != IPC_INVALID || errno != EINVAL)
			fail_msg("listen on '%s' was not refused as invalid", bad[i]);
		errno = 0;
		if (ipc_connect(bad[i], NULL, &ch, 0) != IPC_INVALID || errno != EINVAL)
			fail_msg("connect to '%s' was not refused as invalid", bad[i]);
	}
	/* Port 0 is for binding; nobody can be connected to there. */
	assert_status(ipc_connect("tcp:127.0.0.1:0", NULL, &ch, 0), IPC_INVALID);
	assert_null(ch);
}

/* ---- 16 MiB each way at once --------------------------------------------- */

struct duplex_job {
	struct ipc_channel *mine, *other;
	uint64_t send_seed, recv_seed;
};

static int send_big(struct ipc_channel *ch, uint64_t seed)
{
	uint8_t *buf = malloc(BIG);
	enum ipc_status st;

	if (buf == NULL)
		return 20;
	mech_fill(buf, BIG, seed);
	st = ipc_send(ch, 2, buf, BIG, (int)mech_seconds(60) * 1000);
	free(buf);
	return st == IPC_OK ? 0 : 21;
}

static int wait_sender(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return 30;
	if (!WIFEXITED(status))
		return 31;
	return WEXITSTATUS(status);
}

/*
 * One side of the duplex run: a process of its own sends 16 MiB on the
 * end (each process has its own copy of the channel, so sending and
 * receiving never share one end's state) while this one receives 16 MiB
 * on it. The sender has its own alarm: timers are not inherited.
 */
static int duplex_side(struct ipc_channel *ch, uint64_t send_seed,
		       uint64_t recv_seed)
{
	struct ipc_msg m;
	pid_t sender;
	int rc;

	fflush(NULL);
	sender = fork();
	if (sender < 0)
		return 10;
	if (sender == 0) {
		alarm(mech_seconds(60));
		rc = send_big(ch, send_seed);
		ipc_channel_close(ch);
		_exit(rc);
	}
	if (ipc_recv(ch, &m, (int)mech_seconds(60) * 1000) != IPC_OK)
		rc = 11;
	else if (m.type != 2 || m.length != BIG)
		rc = 12;
	else if (mech_check(m.data, m.length, recv_seed) != BIG)
		rc = 13;
	else
		rc = 0;
	if (rc != 0)
		kill(sender, SIGKILL);
	if (wait_sender(sender) != 0 && rc == 0)
		rc = 14;
	return rc;
}

static int duplex_peer(void *arg)
{
	struct duplex_job *job = arg;
	int rc;

	ipc_channel_close(job->other);
	rc = duplex_side(job->mine, job->send_seed, job->recv_seed);
	ipc_channel_close(job->mine);
	return rc;
}

static void tcp_16mib_each_way_at_once(void **state)
{
	struct duplex_job job;
	struct ipc_channel *a, *b;
	pid_t peer;
	int rc;

	(void)state;
	assert_status(ipc_channel_pair(tcp(), NULL, &a, &b), IPC_OK);
	job = (struct duplex_job){b, a, 2, 1};
	peer = mech_fork(duplex_peer, &job, 120);
	ipc_channel_close(b);
	rc = duplex_side(a, 1, 2);
	ipc_channel_close(a);
	mech_reap(peer, 120);
	if (rc != 0)
		fail_msg("this side of the duplex run failed its check %d", rc);
}

/* ---- faults -------------------------------------------------------------- */

static void pair_under_plan(void)
{
	struct ipc_channel *a = NULL, *b = NULL;
	enum ipc_status st = ipc_channel_pair(tcp(), NULL, &a, &b);
	int err = errno;

	ipc_fault_plan_clear();
	if (st == IPC_OK) {
		mech_send_ok(a, 1, 10, 1);
		mech_recv_expect(b, 1, 10, 1);
	} else {
		errno = err;
		assert_status(st, IPC_SYSTEM);
		assert_int_equal(err, ENOMEM);
		assert_null(a);
		assert_null(b);
	}
	ipc_channel_close(a);
	ipc_channel_close(b);
}

/* Every call of a pair and of a listener's session, failed in turn with
 * each errno that fits it: no descriptor is left behind, and a pair either
 * works or says why. */
static void tcp_error_paths_leak_nothing(void **state)
{
	size_t fds = mech_open_fds(), calls;
	struct ipc_channel *a, *b;

	(void)state;
	ipc_fault_plan_clear();
	assert_status(ipc_channel_pair(tcp(), NULL, &a, &b), IPC_OK);
	calls = (size_t)ipc_fault_calls();
	ipc_channel_close(a);
	ipc_channel_close(b);
	assert_true(calls >= 8);
	for (size_t step = 0; step < calls; step++)
		for (unsigned k = 0; k < 4; k++) {
			mech_plan_failure_at(step, k);
			pair_under_plan();
			mech_assert_nothing_left(fds, "tcp pair", step);
		}

	mech_fail_each_call(mech_duplex_session, "tcp:127.0.0.1:0", fds,
			    "tcp listener session");
}

static void tcp_pair_under_fault_patterns(void **state)
{
	static const enum ipc_fault_pattern patterns[] = {
		IPC_PATTERN_SHORT_BY_ONE, IPC_PATTERN_EINTR_FIRST,
		IPC_PATTERN_EAGAIN_ALTERNATE};
	struct ipc_channel *a, *b;
	struct ipc_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		ipc_fault_plan_pattern(patterns[i]);
		assert_status(ipc_channel_pair(tcp(), NULL, &a, &b), IPC_OK);
		exchange(a, b);
		ipc_channel_close(a);
		assert_status(ipc_recv(b, &m, LONG_MS), IPC_PEER_CLOSED);
		ipc_channel_close(b);
		ipc_fault_plan_clear();
	}
}

#define MECH_TEST(fn) cmocka_unit_test_setup_teardown(fn, mech_setup, mech_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		MECH_TEST(tcp_pair_is_duplex),
		MECH_TEST(tcp_peer_gone_is_peer_closed),
		MECH_TEST(tcp_ipv6_pair_and_listener),
		MECH_TEST(tcp_listen_on_port_zero_gets_a_real_port),
		MECH_TEST(tcp_accept_times_out),
		MECH_TEST(tcp_connect_refused),
		MECH_TEST(tcp_connect_times_out),
		MECH_TEST(tcp_rejects_bad_addresses),
		MECH_TEST(tcp_16mib_each_way_at_once),
		MECH_TEST(tcp_error_paths_leak_nothing),
		MECH_TEST(tcp_pair_under_fault_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
