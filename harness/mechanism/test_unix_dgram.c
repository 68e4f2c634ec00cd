/*
 * unix-dgram and unix-seqpacket against the kernel: every frame one datagram
 * or record, never merged and never cut silently; socket files, private
 * directories and abstract names, and listeners that never take over a
 * path; the uid check; 16 MiB through each; a datagram listener's one peer
 * (the greeting, a second sender, a peer gone before it was accepted); and
 * every error path of a pair and of a listener session leaving nothing.
 */
#include "mech_support.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/fault.h"

#define WAIT_MS 5000
#define NOBODY 65534
#define BIG (16u << 20)
#define DATAGRAM_MAX (64u * 1024u)

static const char *const kinds[] = {"unix-dgram", "unix-seqpacket"};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const struct ipc_backend *backend(const char *kind)
{
	const struct ipc_backend *b = ipc_backend_find(kind);

	assert_non_null(b);
	return b;
}

static void make_pair(const char *kind, struct ipc_channel **a,
		      struct ipc_channel **b)
{
	assert_status(ipc_channel_pair(backend(kind), NULL, a, b), IPC_OK);
}

/* One message each way. */
static void exchange(struct ipc_channel *a, struct ipc_channel *b)
{
	mech_send_ok(a, 1, 4, 1);
	mech_recv_expect(b, 1, 4, 1);
	mech_send_ok(b, 2, 5, 2);
	mech_recv_expect(a, 2, 5, 2);
}

/* The frame payload the backends use: a 64 KiB datagram. */
static size_t frame_payload(void)
{
	return DATAGRAM_MAX - IPCF_HEADER_SIZE;
}

/* ---- frames are datagrams ------------------------------------------------ */

/* The next datagram or record waiting on fd, which must be one whole frame
 * of the given type and payload length. */
static void expect_datagram(int fd, uint8_t *buf, uint16_t type, size_t payload,
			    int more)
{
	struct iovec iov = {buf, DATAGRAM_MAX + 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct ipcf_header h;
	ssize_t r = recvmsg(fd, &m, MSG_DONTWAIT);

	if (r < 0)
		fail_msg("no datagram waiting: %s", strerror(errno));
	assert_false(m.msg_flags & MSG_TRUNC);
	assert_int_equal(r, IPCF_HEADER_SIZE + payload);
	assert_int_equal(ipcf_header_unpack(buf, &h), 0);
	assert_int_equal(h.type, type);
	assert_int_equal(h.length, payload);
	assert_int_equal((h.flags & IPCF_FLAG_MORE) != 0, more);
}

static void expect_no_datagram(int fd)
{
	char byte;

	assert_int_equal(recv(fd, &byte, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* Sends each of the n frames in stream as a datagram of its own. */
static void send_frames_raw(int fd, const uint8_t *stream, size_t len)
{
	while (len > 0) {
		struct ipcf_header h;
		size_t n;

		assert_int_equal(ipcf_header_unpack(stream, &h), 0);
		n = IPCF_HEADER_SIZE + h.length;
		assert_int_equal(send(fd, stream, n, MSG_NOSIGNAL), (ssize_t)n);
		stream += n;
		len -= n;
	}
}

/* Two sends are two datagrams of exactly their frames' sizes, never one;
 * a message over a frame is a datagram per frame; and frames sent as
 * datagrams by another writer come out as the messages they carry. */
static void frames_are_datagrams(const char *kind)
{
	const size_t frame = frame_payload();
	const size_t long_len = 2 * frame + 10;
	uint8_t *buf = malloc(DATAGRAM_MAX + 1), *big = malloc(long_len);
	uint8_t *stream = malloc(long_len + 8 * IPCF_HEADER_SIZE);
	struct ipcf_encoder enc;
	struct ipc_channel *a, *b;
	size_t n;
	int fd;

	assert_non_null(buf);
	assert_non_null(big);
	assert_non_null(stream);
	make_pair(kind, &a, &b);
	fd = ipc_channel_recv_fd(b);
	mech_send_ok(a, 1, 3, 1);
	mech_send_ok(a, 2, 5, 2);
	expect_datagram(fd, buf, 1, 3, 0);
	expect_datagram(fd, buf, 2, 5, 0);
	expect_no_datagram(fd);

	mech_fill(big, long_len, 3);
	assert_status(ipc_send(a, 3, big, long_len, WAIT_MS), IPC_OK);
	expect_datagram(fd, buf, 3, frame, 1);
	expect_datagram(fd, buf, 3, frame, 1);
	expect_datagram(fd, buf, 3, 10, 0);
	expect_no_datagram(fd);

	ipcf_encoder_init(&enc, 0, (uint32_t)frame);
	n = ipcf_encode(&enc, 4, big, 3, stream, long_len);
	n += ipcf_encode(&enc, 5, big, long_len, stream + n,
			 long_len + 8 * IPCF_HEADER_SIZE - n);
	send_frames_raw(ipc_channel_send_fd(b), stream, n);
	mech_recv_expect(a, 4, 3, 3);
	mech_recv_expect(a, 5, long_len, 3);
	ipc_channel_close(a);
	ipc_channel_close(b);
	free(buf);
	free(big);
	free(stream);
}

static void test_frames_are_datagrams(void **state)
{
	(void)state;
	for (size_t k = 0; k < NKINDS; k++)
		frames_are_datagrams(kinds[k]);
}

/* A datagram longer than a frame comes cut (MSG_TRUNC): the whole frame at
 * its start is a message, what follows it a truncated frame. */
static void longer_datagram_reported(const char *kind)
{
	const size_t frame = frame_payload();
	const size_t len = IPCF_HEADER_SIZE + frame + 100;
	uint8_t *datagram = calloc(1, len);
	struct ipcf_encoder enc;
	struct ipc_channel *a, *b;
	struct ipc_msg m;

	assert_non_null(datagram);
	make_pair(kind, &a, &b);
	ipcf_encoder_init(&enc, 0, (uint32_t)frame);
	mech_fill(datagram + IPCF_HEADER_SIZE, frame, 6);
	assert_int_equal(ipcf_encode(&enc, 6, datagram + IPCF_HEADER_SIZE, frame,
				     datagram, len),
			 IPCF_HEADER_SIZE + frame);
	assert_int_equal(send(ipc_channel_send_fd(a), datagram, len, MSG_NOSIGNAL),
			 (ssize_t)len);
	mech_recv_expect(b, 6, frame, 6);
	assert_status(ipc_recv(b, &m, WAIT_MS), IPC_CORRUPT);
	assert_int_equal(ipc_channel_fault(b, NULL), IPCF_FAULT_TRUNCATED);
	ipc_channel_close(a);
	ipc_channel_close(b);
	free(datagram);
}

static void test_longer_datagram_reported(void **state)
{
	(void)state;
	for (size_t k = 0; k < NKINDS; k++)
		longer_datagram_reported(kinds[k]);
}

/* ---- 16 MiB -------------------------------------------------------------- */

/* Takes the 16 MiB message and sends it back. */
static int echo_child(void *arg)
{
	struct ipc_channel **ends = arg;
	int wait_ms = (int)mech_seconds(60) * 1000;
	struct ipc_msg m;
	int rc = 0;

	ipc_channel_close(ends[0]);
	if (ipc_recv(ends[1], &m, wait_ms) != IPC_OK)
		rc = 1;
	else if (m.type != 2 || m.length != BIG || mech_check(m.data, BIG, 16) != BIG)
		rc = 2;
	else if (ipc_send(ends[1], 3, m.data, m.length, wait_ms) != IPC_OK)
		rc = 3;
	ipc_channel_close(ends[1]);
	return rc;
}

static void test_16mib_through_each(void **state)
{
	uint8_t *buf = malloc(BIG);
	int wait_ms = (int)mech_seconds(60) * 1000;

	(void)state;
	assert_non_null(buf);
	mech_fill(buf, BIG, 16);
	for (size_t k = 0; k < NKINDS; k++) {
		struct ipc_channel *ends[2];
		struct ipc_msg m;
		pid_t child;

		make_pair(kinds[k], &ends[0], &ends[1]);
		child = mech_fork(echo_child, ends, 120);
		ipc_channel_close(ends[1]);
		assert_status(ipc_send(ends[0], 2, buf, BIG, wait_ms), IPC_OK);
		assert_status(ipc_recv(ends[0], &m, wait_ms), IPC_OK);
		assert_int_equal(m.type, 3);
		assert_int_equal(m.length, BIG);
		assert_int_equal(mech_check(m.data, BIG, 16), BIG);
		assert_status(ipc_recv(ends[0], &m, wait_ms), IPC_PEER_CLOSED);
		ipc_channel_close(ends[0]);
		mech_reap(child, 120);
	}
	free(buf);
}

/* ---- listeners and names ------------------------------------------------- */

static void address_of(char *out, size_t len, const char *kind, const char *rest)
{
	assert_true((size_t)snprintf(out, len, "%s:%s", kind, rest) < len);
}

static void accept_and_exchange(struct ipc_listener *l, const char *address)
{
	struct ipc_channel *c, *s;

	assert_status(ipc_connect(address, NULL, &c, WAIT_MS), IPC_OK);
	assert_status(ipc_accept(l, &s, WAIT_MS), IPC_OK);
	exchange(c, s);
	exchange(s, c);
	ipc_channel_close(c);
	ipc_channel_close(s);
}

/* "KIND:" makes a socket file in a private 0700 directory; a datagram
 * connector makes one of its own too (the listener answers to it); each is
 * removed, with its directory, at the close of what made it. Pairs make
 * none. */
static void socket_files_removed(const char *kind)
{
	int dgram = strcmp(kind, "unix-dgram") == 0;
	struct ipc_channel *c, *s, *a, *b;
	struct ipc_listener *l;
	char address[PATH_MAX];

	make_pair(kind, &a, &b);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	ipc_channel_close(a);
	ipc_channel_close(b);

	address_of(address, sizeof address, kind, "");
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	mech_assert_private_socket(ipc_listener_address(l) + strlen(kind) + 1);

	assert_status(ipc_connect(ipc_listener_address(l), NULL, &c, WAIT_MS), IPC_OK);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), dgram ? 2 : 1);
	assert_status(ipc_accept(l, &s, WAIT_MS), IPC_OK);
	exchange(c, s);
	ipc_channel_close(c);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 1);
	/* A datagram listener's socket, and so its file, went to s. */
	ipc_listener_close(l);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), dgram ? 1 : 0);
	ipc_channel_close(s);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	assert_int_equal(mech_unix_sockets_named(mech_tmpdir()), 0);
}

static void test_socket_files_removed(void **state)
{
	(void)state;
	for (size_t k = 0; k < NKINDS; k++)
		socket_files_removed(kinds[k]);
}

/* Fresh and chosen abstract names: nothing on disk, and gone at close. A
 * datagram connector to an abstract name takes one too. */
static void abstract_names(const char *kind)
{
	struct ipc_listener *l;
	char address[128], prefix[64];

	address_of(address, sizeof address, kind, "@");
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	address_of(prefix, sizeof prefix, kind, "@ipc-");
	assert_memory_equal(ipc_listener_address(l), prefix, strlen(prefix));
	assert_int_equal(mech_own_abstract_sockets(), 1);
	accept_and_exchange(l, ipc_listener_address(l));
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	ipc_listener_close(l);
	assert_int_equal(mech_own_abstract_sockets(), 0);

	snprintf(address, sizeof address, "%s:@ipch-test-%ld", kind, (long)getpid());
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	assert_string_equal(ipc_listener_address(l), address);
	assert_int_equal(mech_unix_sockets_named(strchr(address, '@')), 1);
	accept_and_exchange(l, address);
	ipc_listener_close(l);
	assert_int_equal(mech_unix_sockets_named(strchr(address, '@')), 0);
	assert_int_equal(mech_own_abstract_sockets(), 0);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
}

static void test_abstract_names(void **state)
{
	(void)state;
	for (size_t k = 0; k < NKINDS; k++)
		abstract_names(kinds[k]);
}

/* A path that exists is never taken over, whatever it is; the socket file
 * goes at the close of what holds its socket, and a file that replaced it
 * is not removed with it. */
static void never_takes_over_a_path(const char *kind)
{
	struct ipc_listener *l, *again;
	char path[PATH_MAX], address[PATH_MAX + 32];

	snprintf(path, sizeof path, "%s/taken", mech_tmpdir());
	address_of(address, sizeof address, kind, path);
	mech_assert_listen_keeps_file(address, path);

	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	assert_status(ipc_listen(address, NULL, &again), IPC_SYSTEM);
	assert_int_equal(errno, EADDRINUSE);
	accept_and_exchange(l, address);
	ipc_listener_close(l);
	assert_int_equal(access(path, F_OK), -1);

	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	mech_close_after_file_replaced(l, path);
}

static void test_never_takes_over_a_path(void **state)
{
	(void)state;
	for (size_t k = 0; k < NKINDS; k++)
		never_takes_over_a_path(kinds[k]);
}

static void nobody_there_and_bad_addresses(const char *kind)
{
	struct ipc_listener *l;
	struct ipc_channel *c;
	char address[PATH_MAX + 32], rest[PATH_MAX];

	snprintf(rest, sizeof rest, "%s/none", mech_tmpdir());
	address_of(address, sizeof address, kind, rest);
	assert_status(ipc_connect(address, NULL, &c, WAIT_MS), IPC_REFUSED);
	assert_int_equal(errno, ENOENT);
	assert_null(c);
	snprintf(address, sizeof address, "%s:@ipch-none-%ld", kind, (long)getpid());
	assert_status(ipc_connect(address, NULL, &c, WAIT_MS), IPC_REFUSED);
	assert_int_equal(errno, ECONNREFUSED);

	address_of(address, sizeof address, kind, "");
	assert_status(ipc_connect(address, NULL, &c, 0), IPC_INVALID);
	address_of(address, sizeof address, kind, "@");
	assert_status(ipc_connect(address, NULL, &c, 0), IPC_INVALID);
	memset(rest, 'x', 200);
	rest[0] = '/';
	rest[200] = '\0';
	address_of(address, sizeof address, kind, rest);
	assert_status(ipc_listen(address, NULL, &l), IPC_INVALID);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_status(ipc_connect(address, NULL, &c, 0), IPC_INVALID);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
}

static void test_nobody_there_and_bad_addresses(void **state)
{
	(void)state;
	for (size_t k = 0; k < NKINDS; k++)
		nobody_there_and_bad_addresses(kinds[k]);
}

/* ---- another uid ---------------------------------------------------------- */

struct child_args {
	const char *address;
	struct ipc_opts opts;
	enum ipc_status want; /* what the child's connect should give */
	int answered;         /* the listener takes it: expect an answer */
};

/* Becomes nobody, connects, says hello (5 bytes of seed 7) and, if it is to
 * be answered, waits for the answer (6 bytes of seed 8). setuid needs root
 * (as in CI). */
static int nobody_child(void *arg)
{
	const struct child_args *args = arg;
	struct ipc_channel *c;
	struct ipc_msg m;
	uint8_t hello[5];
	int rc = 0;

	if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return 10;
	if (ipc_connect(args->address, &args->opts, &c, WAIT_MS) != args->want)
		return 1;
	if (args->want != IPC_OK)
		return c == NULL && errno == EACCES ? 0 : 2;
	mech_fill(hello, sizeof hello, 7);
	if (ipc_send(c, 7, hello, sizeof hello, WAIT_MS) != IPC_OK)
		rc = 3;
	else if (args->answered &&
		 (ipc_recv(c, &m, (int)mech_seconds(WAIT_MS / 1000) * 1000) != IPC_OK ||
		  m.type != 8 || m.length != 6 || mech_check(m.data, 6, 8) != 6))
		rc = 4;
	ipc_channel_close(c);
	return rc;
}

static void serve_one(struct ipc_listener *l)
{
	struct ipc_channel *s;

	assert_status(ipc_accept(l, &s, (int)mech_seconds(WAIT_MS / 1000) * 1000),
		      IPC_OK);
	mech_recv_expect(s, 7, 5, 7);
	mech_send_ok(s, 8, 6, 8);
	ipc_channel_close(s);
}

/* Abstract names: no file permissions keep nobody out, only the uid check.
 * A seqpacket listener and connector each refuse the other (SO_PEERCRED);
 * a datagram listener drops nobody's datagrams and, with nothing else come,
 * says IPC_REFUSED (a datagram connector cannot tell who listens). With
 * allow_any_uid they talk. */
static void other_uid_refused_unless_allowed(const char *kind)
{
	int dgram = strcmp(kind, "unix-dgram") == 0;
	struct ipc_opts any = {.allow_any_uid = 1};
	struct child_args args = {.want = dgram ? IPC_OK : IPC_REFUSED};
	struct ipc_listener *l;
	struct ipc_channel *s;
	char address[64];
	pid_t child;

	address_of(address, sizeof address, kind, "@");
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	args.address = ipc_listener_address(l);
	child = mech_fork(nobody_child, &args, 20);
	if (dgram) {
		/* All it sent is queued when it is gone. */
		mech_reap(child, 20);
		assert_status(ipc_accept(l, &s, 0), IPC_REFUSED);
	} else {
		assert_status(ipc_accept(l, &s, (int)mech_seconds(WAIT_MS / 1000) * 1000),
			      IPC_REFUSED);
		mech_reap(child, 20);
	}
	assert_null(s);
	assert_int_equal(ipc_listener_errno(l), EACCES);
	ipc_listener_close(l);

	assert_status(ipc_listen(address, &any, &l), IPC_OK);
	args.address = ipc_listener_address(l);
	args.opts = any;
	args.want = IPC_OK;
	args.answered = 1;
	child = mech_fork(nobody_child, &args, 20);
	serve_one(l);
	mech_reap(child, 20);
	ipc_listener_close(l);
}

static void test_other_uid_refused_unless_allowed(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	for (size_t k = 0; k < NKINDS; k++)
		other_uid_refused_unless_allowed(kinds[k]);
}

/* ---- a datagram listener's one peer --------------------------------------- */

/* A socket of another program, bound at dir/name, that sends one frame to
 * the listener at path. */
static int foreign_sender(const char *path, const char *name)
{
	struct sockaddr_un me = {.sun_family = AF_UNIX}, to = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(me.sun_path, sizeof me.sun_path, "%s/%s", mech_tmpdir(), name);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
	snprintf(to.sun_path, sizeof to.sun_path, "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
	return fd;
}

static void send_frame_raw(int fd, uint16_t type, const char *text, int want_errno)
{
	uint8_t frame[IPCF_HEADER_SIZE + 64];
	struct ipcf_encoder enc;
	size_t n;

	ipcf_encoder_init(&enc, 0, 64);
	n = ipcf_encode(&enc, type, text, strlen(text), frame, sizeof frame);
	assert_true(n > 0);
	if (want_errno == 0) {
		assert_int_equal(send(fd, frame, n, MSG_NOSIGNAL), (ssize_t)n);
	} else {
		assert_int_equal(send(fd, frame, n, MSG_NOSIGNAL), -1);
		assert_int_equal(errno, want_errno);
	}
}

/* The first sender is the peer. Another's datagram queued before the
 * accept is dropped by the accepted end; after it the kernel refuses
 * others (EPERM), and a second connector is IPC_REFUSED. A second accept
 * is IPC_INVALID (EBUSY): the socket went to the first. */
static void test_dgram_accepted_end_hears_only_its_peer(void **state)
{
	struct ipc_channel *c, *s, *late;
	struct ipc_listener *l;
	char other[PATH_MAX];
	int intruder;

	(void)state;
	assert_status(ipc_listen("unix-dgram:", NULL, &l), IPC_OK);
	assert_status(ipc_connect(ipc_listener_address(l), NULL, &c, WAIT_MS), IPC_OK);
	intruder = foreign_sender(ipc_listener_address(l) + strlen("unix-dgram:"),
				  "intruder");
	send_frame_raw(intruder, 9, "not yours", 0);
	mech_send_ok(c, 1, 13, 1);
	assert_status(ipc_accept(l, &s, WAIT_MS), IPC_OK);
	send_frame_raw(intruder, 9, "not yours either", EPERM);
	mech_recv_expect(s, 1, 13, 1);
	assert_status(ipc_connect(ipc_listener_address(l), NULL, &late, WAIT_MS),
		      IPC_REFUSED);
	assert_int_equal(errno, EPERM);
	assert_null(late);
	assert_status(ipc_accept(l, &late, 0), IPC_INVALID);
	assert_int_equal(ipc_listener_errno(l), EBUSY);
	exchange(c, s);
	exchange(s, c);

	close(intruder);
	snprintf(other, sizeof other, "%s/intruder", mech_tmpdir());
	unlink(other);
	ipc_channel_close(c);
	ipc_channel_close(s);
	ipc_listener_close(l);
}

/* A connector that only receives is accepted (its greeting), hears the
 * accepted end and its end mark; and the other way. */
static void test_dgram_silent_connector_accepted(void **state)
{
	struct ipc_channel *c, *s;
	struct ipc_listener *l;
	struct ipc_msg m;

	(void)state;
	for (int closer = 0; closer < 2; closer++) {
		assert_status(ipc_listen("unix-dgram:@", NULL, &l), IPC_OK);
		assert_status(ipc_connect(ipc_listener_address(l), NULL, &c, WAIT_MS),
			      IPC_OK);
		assert_status(ipc_accept(l, &s, WAIT_MS), IPC_OK);
		ipc_listener_close(l);
		/* The greeting is not a message, nor the end. */
		assert_status(ipc_recv(s, &m, 0), IPC_TIMEOUT);
		mech_send_ok(s, 1, 5, 1);
		mech_send_ok(s, 2, 6, 2);
		mech_recv_expect(c, 1, 5, 1);
		mech_recv_expect(c, 2, 6, 2);
		if (closer == 0) {
			ipc_channel_close(s);
			assert_status(ipc_recv(c, &m, WAIT_MS), IPC_PEER_CLOSED);
			ipc_channel_close(c);
		} else {
			ipc_channel_close(c);
			assert_status(ipc_recv(s, &m, WAIT_MS), IPC_PEER_CLOSED);
			assert_status(ipc_send(s, 3, "x", 1, WAIT_MS), IPC_PEER_CLOSED);
			ipc_channel_close(s);
		}
	}
}

/* A connector that sent and closed before the accept: the accepted end
 * takes what it left, then its end mark; its sends find no one. */
static void test_dgram_peer_gone_before_accept(void **state)
{
	struct ipc_channel *c, *s;
	struct ipc_listener *l;
	struct ipc_msg m;

	(void)state;
	assert_status(ipc_listen("unix-dgram:", NULL, &l), IPC_OK);
	assert_status(ipc_connect(ipc_listener_address(l), NULL, &c, WAIT_MS), IPC_OK);
	mech_send_ok(c, 1, 4, 1);
	mech_send_ok(c, 2, 100000, 2);
	ipc_channel_close(c);
	assert_status(ipc_accept(l, &s, WAIT_MS), IPC_OK);
	mech_recv_expect(s, 1, 4, 1);
	mech_recv_expect(s, 2, 100000, 2);
	assert_status(ipc_recv(s, &m, WAIT_MS), IPC_PEER_CLOSED);
	assert_status(ipc_send(s, 3, "x", 1, WAIT_MS), IPC_PEER_CLOSED);
	ipc_channel_close(s);
	ipc_listener_close(l);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
}

/* ---- faults --------------------------------------------------------------- */

static void pair_under_plan(const char *kind)
{
	struct ipc_channel *a = NULL, *b = NULL;
	enum ipc_status st = ipc_channel_pair(backend(kind), NULL, &a, &b);

	ipc_fault_plan_clear();
	if (st == IPC_OK) {
		mech_send_ok(a, 1, 10, 1);
		mech_recv_expect(b, 1, 10, 1);
		mech_send_ok(b, 2, 10, 2);
		mech_recv_expect(a, 2, 10, 2);
	} else {
		assert_status(st, IPC_SYSTEM);
		assert_null(a);
		assert_null(b);
	}
	ipc_channel_close(a);
	ipc_channel_close(b);
}

/* Every call of a pair and of a listener's session (at a private socket
 * file and at a fresh abstract name), failed in turn with each errno that
 * fits it: nothing is left behind, and a pair either works or says why. */
static void test_error_paths_leak_nothing(void **state)
{
	static const char *const wheres[] = {
		"unix-dgram:", "unix-dgram:@", "unix-seqpacket:", "unix-seqpacket:@",
	};
	size_t fds = mech_open_fds();

	(void)state;
	for (size_t k = 0; k < NKINDS; k++) {
		struct ipc_channel *a, *b;
		size_t calls;

		ipc_fault_plan_clear();
		make_pair(kinds[k], &a, &b);
		calls = (size_t)ipc_fault_calls();
		ipc_channel_close(a);
		ipc_channel_close(b);
		for (size_t step = 0; step < calls; step++)
			for (unsigned e = 0; e < 4; e++) {
				mech_plan_failure_at(step, e);
				pair_under_plan(kinds[k]);
				mech_assert_nothing_left(fds, kinds[k], step);
			}
	}
	for (size_t w = 0; w < sizeof wheres / sizeof wheres[0]; w++)
		mech_fail_each_call(mech_duplex_session, wheres[w], fds, wheres[w]);
}

/* Short transfers do not apply to datagrams (the seam passes them), EINTR
 * and EAGAIN are retried: pairs and listener sessions still work. (Small
 * messages, each taken before the next is sent: poll reports a unix socket
 * writable only while 3/4 of its send buffer is free, so an EAGAIN made up
 * with a frame queued would wait for a reader this process never is.) */
static void test_under_fault_patterns(void **state)
{
	static const enum ipc_fault_pattern patterns[] = {
		IPC_PATTERN_SHORT_BY_ONE, IPC_PATTERN_EINTR_FIRST,
		IPC_PATTERN_EAGAIN_ALTERNATE,
	};

	(void)state;
	for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++)
		for (size_t k = 0; k < NKINDS; k++) {
			struct ipc_channel *a, *b;
			struct ipc_listener *l;
			char address[64];

			ipc_fault_plan_pattern(patterns[p]);
			make_pair(kinds[k], &a, &b);
			exchange(a, b);
			exchange(b, a);
			ipc_channel_close(a);
			ipc_channel_close(b);
			address_of(address, sizeof address, kinds[k], "@");
			assert_status(ipc_listen(address, NULL, &l), IPC_OK);
			accept_and_exchange(l, ipc_listener_address(l));
			ipc_listener_close(l);
			ipc_fault_plan_clear();
		}
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, mech_setup, mech_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_frames_are_datagrams),
		TEST(test_longer_datagram_reported),
		TEST(test_16mib_through_each),
		TEST(test_socket_files_removed),
		TEST(test_abstract_names),
		TEST(test_never_takes_over_a_path),
		TEST(test_nobody_there_and_bad_addresses),
		TEST(test_other_uid_refused_unless_allowed),
		TEST(test_dgram_accepted_end_hears_only_its_peer),
		TEST(test_dgram_silent_connector_accepted),
		TEST(test_dgram_peer_gone_before_accept),
		TEST(test_error_paths_leak_nothing),
		TEST(test_under_fault_patterns),
	};

	return cmocka_run_group_tests_name("unix-dgram and unix-seqpacket", tests,
					   NULL, NULL);
}
