/*
 * The fifo backend against its kernel object: end of stream once every
 * writer has gone, a full FIFO, a reader gone (EPIPE without SIGPIPE), no
 * reader at all (ENXIO), paths that exist already, names removed, the
 * listener's accept, PIPE_BUF atomicity with several writers and the faults
 * that mixing their streams makes, and every error path leaving nothing
 * behind.
 */
#include "mech_support.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "ipc/fault.h"

/* The default fifo frame: one write of PIPE_BUF bytes with its header. */
#define FRAME_PAYLOAD (PIPE_BUF - IPCF_HEADER_SIZE)
#define LONG_MS 10000

static const struct ipc_backend *fifo(void)
{
	const struct ipc_backend *b = ipc_backend_find("fifo");

	assert_non_null(b);
	return b;
}

/* "fifo:<tmpdir>/<name>" and the bare path. */
static void fifo_address(const char *name, char *addr, size_t len,
			 char *path, size_t plen)
{
	snprintf(path, plen, "%s/%s", mech_tmpdir(), name);
	snprintf(addr, len, "fifo:%s", path);
}

static int sigpipe_pending(void)
{
	sigset_t pending;

	assert_int_equal(sigpending(&pending), 0);
	return sigismember(&pending, SIGPIPE);
}

static int sigpipe_blocked(void)
{
	sigset_t mask;

	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &mask), 0);
	return sigismember(&mask, SIGPIPE);
}

/* ---- pairs --------------------------------------------------------------- */

static void fifo_pair_carries_messages_then_end_of_stream(void **state)
{
	static const size_t sizes[] = {0, 1, FRAME_PAYLOAD, FRAME_PAYLOAD + 1,
				       3 * PIPE_BUF + 7};
	struct ipc_channel *a, *b;
	struct ipc_msg m;

	(void)state;
	assert_status(ipc_channel_pair(fifo(), NULL, &a, &b), IPC_OK);
	assert_int_equal(ipc_channel_recv_fd(a), -1);
	assert_int_equal(ipc_channel_send_fd(b), -1);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		mech_send_ok(a, (uint16_t)(i + 1), sizes[i], i);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		mech_recv_expect(b, (uint16_t)(i + 1), sizes[i], i);
	assert_status(ipc_recv(b, &m, 0), IPC_TIMEOUT);
	assert_status(ipc_send(b, 1, "x", 1, 0), IPC_INVALID);
	ipc_channel_close(a);
	assert_status(ipc_recv(b, &m, LONG_MS), IPC_PEER_CLOSED);
	assert_status(ipc_recv(b, &m, LONG_MS), IPC_PEER_CLOSED);
	ipc_channel_close(b);
}

static void assert_fifo_flags(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

/* Both ends are open when the pair is made, so the FIFO and its private
 * directory are gone already then, and certainly after close. */
static void fifo_pair_leaves_nothing_on_disk(void **state)
{
	struct ipc_channel *a, *b;
	mode_t old = umask(0);

	(void)state;
	assert_status(ipc_channel_pair(fifo(), NULL, &a, &b), IPC_OK);
	umask(old);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	assert_fifo_flags(ipc_channel_send_fd(a));
	assert_fifo_flags(ipc_channel_recv_fd(b));
	mech_send_ok(a, 7, 100, 7);
	mech_recv_expect(b, 7, 100, 7);
	ipc_channel_close(b);
	ipc_channel_close(a);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
}

struct pair_ends {
	struct ipc_channel *a, *b;
};

/* The child keeps the read end, as after fork() in real use. */
static int child_reads_pair(void *arg)
{
	struct pair_ends *p = arg;
	struct ipc_msg m;

	ipc_channel_close(p->a);
	for (uint16_t i = 1; i <= 20; i++) {
		if (ipc_recv(p->b, &m, LONG_MS) != IPC_OK)
			return 1;
		if (m.type != i || m.length != 5000u * i ||
		    mech_check(m.data, m.length, i) != m.length)
			return 2;
	}
	if (ipc_recv(p->b, &m, LONG_MS) != IPC_PEER_CLOSED)
		return 3;
	ipc_channel_close(p->b);
	return 0;
}

static void fifo_pair_across_fork(void **state)
{
	struct pair_ends p;
	pid_t pid;

	(void)state;
	assert_status(ipc_channel_pair(fifo(), NULL, &p.a, &p.b), IPC_OK);
	pid = mech_fork(child_reads_pair, &p, 30);
	ipc_channel_close(p.b);
	for (uint16_t i = 1; i <= 20; i++)
		mech_send_ok(p.a, i, 5000u * i, i);
	ipc_channel_close(p.a);
	mech_reap(pid, 30);
}

/* Frames are PIPE_BUF bytes at most, header included, by default. */
static void fifo_default_frame_fits_pipe_buf(void **state)
{
	size_t len = 2 * FRAME_PAYLOAD + 10, got = 0;
	uint8_t raw[3 * PIPE_BUF];
	struct ipc_channel *a, *b;
	struct ipcf_header h;
	uint32_t lengths[3];

	(void)state;
	assert_status(ipc_channel_pair(fifo(), NULL, &a, &b), IPC_OK);
	mech_send_ok(a, 3, len, 3);
	while (got < len + 3 * IPCF_HEADER_SIZE) {
		ssize_t r = read(ipc_channel_recv_fd(b), raw + got, sizeof raw - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_int_equal(got, len + 3 * IPCF_HEADER_SIZE);
	for (size_t off = 0, i = 0; i < 3; i++) {
		assert_int_equal(ipcf_header_unpack(raw + off, &h), 0);
		assert_int_equal(h.flags, i < 2 ? IPCF_FLAG_MORE : 0);
		lengths[i] = h.length;
		off += IPCF_HEADER_SIZE + h.length;
	}
	assert_int_equal(lengths[0], FRAME_PAYLOAD);
	assert_int_equal(lengths[1], FRAME_PAYLOAD);
	assert_int_equal(lengths[2], 10);
	ipc_channel_close(a);
	ipc_channel_close(b);
}

/*
 * A full FIFO: a one-frame message that finds no room goes nowhere
 * (IPC_TIMEOUT, the stream still whole); a many-frame message that stops
 * half-way breaks the stream (IPC_TIMEOUT, then IPC_BROKEN), and the reader
 * sees the cut as a truncated message.
 */
static void fifo_full_send_times_out_then_breaks(void **state)
{
	struct ipc_channel *a, *b;
	size_t sent = 0, big = 256 * 1024;
	uint8_t *buf = malloc(big);
	enum ipc_status st;
	struct ipc_msg m;
	uint64_t off;

	(void)state;
	assert_non_null(buf);
	mech_fill(buf, big, 9);
	assert_status(ipc_channel_pair(fifo(), NULL, &a, &b), IPC_OK);
	while ((st = ipc_send(a, 1, buf, 1000, 0)) == IPC_OK)
		sent++;
	assert_status(st, IPC_TIMEOUT);
	assert_true(sent > 0);
	/* Nothing of that message went out: the next one goes through once
	 * there is room. */
	mech_recv_expect(b, 1, 1000, 9);
	assert_status(ipc_send(a, 2, buf, 1000, 0), IPC_OK);
	/* More than the FIFO holds: some frames go, then time runs out. */
	assert_status(ipc_send(a, 3, buf, big, 0), IPC_TIMEOUT);
	assert_status(ipc_send(a, 4, buf, 1, LONG_MS), IPC_BROKEN);
	assert_status(ipc_send(a, 4, buf, 0, 0), IPC_BROKEN);
	ipc_channel_close(a);
	for (size_t i = 1; i < sent; i++)
		mech_recv_expect(b, 1, 1000, 9);
	mech_recv_expect(b, 2, 1000, 9);
	assert_status(ipc_recv(b, &m, LONG_MS), IPC_CORRUPT);
	assert_int_equal(ipc_channel_fault(b, &off), IPCF_FAULT_TRUNCATED);
	ipc_channel_close(b);
	free(buf);
}

/* EPIPE is a status: the process neither dies of SIGPIPE nor keeps one
 * pending, and the caller's signal mask is as it was. */
static void fifo_reader_gone_is_peer_closed_without_sigpipe(void **state)
{
	struct ipc_channel *a, *b;
	sigset_t pipe_set;

	(void)state;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	signal(SIGPIPE, SIG_DFL);
	assert_false(sigpipe_blocked());

	assert_status(ipc_channel_pair(fifo(), NULL, &a, &b), IPC_OK);
	ipc_channel_close(b);
	assert_status(ipc_send(a, 1, "gone", 4, LONG_MS), IPC_PEER_CLOSED);
	assert_false(sigpipe_pending());
	assert_false(sigpipe_blocked());
	/* Nothing went out, so the stream is not broken: same answer again. */
	assert_status(ipc_send(a, 1, "gone", 4, LONG_MS), IPC_PEER_CLOSED);
	ipc_channel_close(a);

	/* A caller that blocks SIGPIPE itself keeps it blocked, and no
	 * SIGPIPE of ours is left pending for it. */
	assert_int_equal(sigprocmask(SIG_BLOCK, &pipe_set, NULL), 0);
	assert_status(ipc_channel_pair(fifo(), NULL, &a, &b), IPC_OK);
	ipc_channel_close(b);
	assert_status(ipc_send(a, 1, "gone", 4, LONG_MS), IPC_PEER_CLOSED);
	assert_true(sigpipe_blocked());
	assert_false(sigpipe_pending());
	ipc_channel_close(a);
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &pipe_set, NULL), 0);
}

/* ---- addresses ----------------------------------------------------------- */

static void fifo_connect_without_reader_is_no_reader(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX];
	struct ipc_channel *w, *r;
	struct ipc_listener *l;
	struct ipc_msg m;

	(void)state;
	/* A FIFO nobody has open. */
	fifo_address("plain", addr, sizeof addr, path, sizeof path);
	assert_int_equal(mkfifo(path, 0600), 0);
	errno = 0;
	assert_status(ipc_connect(addr, NULL, &w, LONG_MS), IPC_NO_READER);
	assert_int_equal(errno, ENXIO);
	assert_null(w);
	assert_int_equal(unlink(path), 0);

	/* A listener whose read end went to a channel that has closed: no
	 * reader until the next accept opens one. */
	fifo_address("served", addr, sizeof addr, path, sizeof path);
	assert_status(ipc_listen(addr, NULL, &l), IPC_OK);
	assert_status(ipc_connect(addr, NULL, &w, LONG_MS), IPC_OK);
	mech_send_ok(w, 1, 10, 1);
	assert_status(ipc_accept(l, &r, LONG_MS), IPC_OK);
	mech_recv_expect(r, 1, 10, 1);
	ipc_channel_close(r);
	assert_status(ipc_send(w, 1, "x", 1, LONG_MS), IPC_PEER_CLOSED);
	ipc_channel_close(w);
	assert_status(ipc_connect(addr, NULL, &w, LONG_MS), IPC_NO_READER);
	assert_status(ipc_accept(l, &r, 0), IPC_TIMEOUT);
	assert_status(ipc_connect(addr, NULL, &w, LONG_MS), IPC_OK);
	mech_send_ok(w, 2, 20, 2);
	ipc_channel_close(w);
	assert_status(ipc_accept(l, &r, LONG_MS), IPC_OK);
	mech_recv_expect(r, 2, 20, 2);
	assert_status(ipc_recv(r, &m, LONG_MS), IPC_PEER_CLOSED);
	ipc_channel_close(r);
	ipc_listener_close(l);
}

static void assert_listen_eexist(const char *addr)
{
	struct ipc_listener *l;

	errno = 0;
	assert_status(ipc_listen(addr, NULL, &l), IPC_SYSTEM);
	assert_int_equal(errno, EEXIST);
	assert_null(l);
}

/* A path that exists, whatever it is, is never reused or removed. */
static void fifo_listen_refuses_existing_paths(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX], target[PATH_MAX];
	struct ipc_listener *l;
	struct stat st;
	char text[8] = {0};
	int fd;

	(void)state;
	fifo_address("file", addr, sizeof addr, path, sizeof path);
	mech_make_file(path, "keep");
	assert_listen_eexist(addr);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, text, sizeof text), 4);
	close(fd);
	assert_string_equal(text, "keep");
	unlink(path);

	fifo_address("fifo", addr, sizeof addr, path, sizeof path);
	assert_status(ipc_listen(addr, NULL, &l), IPC_OK);
	assert_listen_eexist(addr);
	assert_int_equal(stat(path, &st), 0); /* the first listener's FIFO */
	ipc_listener_close(l);

	fifo_address("dangling", addr, sizeof addr, path, sizeof path);
	snprintf(target, sizeof target, "%s/target", mech_tmpdir());
	assert_int_equal(symlink(target, path), 0);
	assert_listen_eexist(addr);
	assert_int_equal(lstat(target, &st), -1); /* nothing made through it */
	unlink(path);

	assert_status(ipc_listen("fifo:", NULL, &l), IPC_INVALID);
}

static void assert_connect_fails(const char *addr, enum ipc_status want,
				 int want_errno)
{
	struct ipc_channel *w;

	errno = 0;
	assert_status(ipc_connect(addr, NULL, &w, LONG_MS), want);
	assert_int_equal(errno, want_errno);
	assert_null(w);
}

static void fifo_connect_refuses_what_is_not_a_fifo(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX], link_addr[PATH_MAX + 8],
		link_path[PATH_MAX];
	struct ipc_listener *l;
	struct stat st;

	(void)state;
	fifo_address("absent", addr, sizeof addr, path, sizeof path);
	assert_connect_fails(addr, IPC_REFUSED, ENOENT);

	fifo_address("file", addr, sizeof addr, path, sizeof path);
	mech_make_file(path, "");
	assert_connect_fails(addr, IPC_INVALID, EINVAL);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	unlink(path);

	fifo_address("dir", addr, sizeof addr, path, sizeof path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_connect_fails(addr, IPC_INVALID, EISDIR);
	rmdir(path);

	/* A symbolic link is not followed, even to a live FIFO. */
	fifo_address("real", addr, sizeof addr, path, sizeof path);
	fifo_address("link", link_addr, sizeof link_addr, link_path,
		     sizeof link_path);
	assert_status(ipc_listen(addr, NULL, &l), IPC_OK);
	assert_int_equal(symlink(path, link_path), 0);
	assert_connect_fails(link_addr, IPC_INVALID, ELOOP);
	unlink(link_path);
	ipc_listener_close(l);

	assert_connect_fails("fifo:", IPC_INVALID, EINVAL);
}

static void fifo_listener_makes_a_0600_fifo_and_removes_it(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX];
	struct ipc_listener *l;
	mode_t old = umask(0);
	struct stat st;

	(void)state;
	fifo_address("made", addr, sizeof addr, path, sizeof path);
	assert_status(ipc_listen(addr, NULL, &l), IPC_OK);
	umask(old);
	assert_string_equal(ipc_listener_address(l), addr);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	ipc_listener_close(l);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* Accept returns when a writer's first bytes are there: not before a writer
 * came, and not because one came and went without a word. */
static void fifo_accept_waits_for_a_writer_that_sends(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX];
	struct ipc_channel *w, *r;
	struct ipc_listener *l;
	struct ipc_msg m;

	(void)state;
	fifo_address("accept", addr, sizeof addr, path, sizeof path);
	assert_status(ipc_listen(addr, NULL, &l), IPC_OK);
	assert_status(ipc_accept(l, &r, 0), IPC_TIMEOUT);
	assert_null(r);
	assert_status(ipc_accept(l, &r, 30), IPC_TIMEOUT);

	assert_status(ipc_connect(addr, NULL, &w, LONG_MS), IPC_OK);
	ipc_channel_close(w);
	assert_status(ipc_accept(l, &r, 30), IPC_TIMEOUT);

	assert_status(ipc_connect(addr, NULL, &w, LONG_MS), IPC_OK);
	mech_send_ok(w, 5, 50, 5);
	assert_status(ipc_accept(l, &r, LONG_MS), IPC_OK);
	assert_string_equal(ipc_channel_backend(r), "fifo");
	assert_int_equal(ipc_channel_send_fd(r), -1);
	mech_recv_expect(r, 5, 50, 5);
	assert_status(ipc_recv(r, &m, 0), IPC_TIMEOUT);
	ipc_channel_close(w);
	assert_status(ipc_recv(r, &m, LONG_MS), IPC_PEER_CLOSED);
	ipc_channel_close(r);
	ipc_listener_close(l);
}

/* End of stream once every writer has closed, not at the first, and not
 * held off by the listener (still open) or its own write end. */
static void fifo_end_of_stream_once_every_writer_closed(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX];
	struct ipc_channel *w1, *w2, *r;
	struct ipc_listener *l;
	struct ipc_msg m;

	(void)state;
	fifo_address("eof", addr, sizeof addr, path, sizeof path);
	assert_status(ipc_listen(addr, NULL, &l), IPC_OK);
	assert_status(ipc_connect(addr, NULL, &w1, LONG_MS), IPC_OK);
	assert_status(ipc_connect(addr, NULL, &w2, LONG_MS), IPC_OK);
	mech_send_ok(w1, 1, 300, 1);
	assert_status(ipc_accept(l, &r, LONG_MS), IPC_OK);
	mech_recv_expect(r, 1, 300, 1);
	ipc_channel_close(w1);
	assert_status(ipc_recv(r, &m, 50), IPC_TIMEOUT);
	ipc_channel_close(w2);
	assert_status(ipc_recv(r, &m, LONG_MS), IPC_PEER_CLOSED);
	ipc_channel_close(r);
	ipc_listener_close(l);
}

/* ---- several writers ----------------------------------------------------- */

#define WRITERS 4

struct writer_job {
	const char *addr;
	int go[2]; /* a pipe: end of file when every writer may start */
	unsigned index;
	unsigned count;
};

/* 1 to FRAME_PAYLOAD bytes: one frame each, of every size. */
static size_t writer_message_len(unsigned writer, unsigned i)
{
	unsigned r = mech_byte(writer, 2 * (size_t)i) |
		     (unsigned)mech_byte(writer, 2 * (size_t)i + 1) << 8;

	return 1 + r % FRAME_PAYLOAD;
}

static uint64_t writer_seed(unsigned writer, unsigned i)
{
	return (uint64_t)writer << 32 | i;
}

static int writer_child(void *arg)
{
	const struct writer_job *job = arg;
	uint8_t buf[FRAME_PAYLOAD];
	struct ipc_channel *w;
	char c;

	close(job->go[1]);
	if (read(job->go[0], &c, 1) != 0)
		return 1;
	close(job->go[0]);
	if (ipc_connect(job->addr, NULL, &w, LONG_MS) != IPC_OK)
		return 2;
	for (unsigned i = 0; i < job->count; i++) {
		size_t len = writer_message_len(job->index, i);

		mech_fill(buf, len, writer_seed(job->index, i));
		if (ipc_send(w, (uint16_t)(job->index + 1), buf, len, LONG_MS) != IPC_OK)
			return 3;
	}
	ipc_channel_close(w);
	return 0;
}

struct frame_check {
	unsigned next[WRITERS];
	unsigned frames;
	unsigned switches; /* frames whose writer differs from the one before */
	uint16_t last_type;
};

/* What one frame decoded to; the message itself lives only during the
 * callback, so it is checked there. */
struct frame_message {
	unsigned messages;
	uint16_t type;
	size_t length;
	int intact;
	struct frame_check *c;
	unsigned count;
};

static int check_message(const struct ipcf_message *msg, void *arg)
{
	struct frame_message *fm = arg;
	unsigned writer, i;

	fm->messages++;
	fm->type = msg->type;
	fm->length = msg->length;
	if (msg->type < 1 || msg->type > WRITERS)
		return 0;
	writer = msg->type - 1u;
	i = fm->c->next[writer]++;
	fm->intact = i < fm->count &&
		     msg->length == writer_message_len(writer, i) &&
		     mech_check(msg->data, msg->length, writer_seed(writer, i)) ==
			     msg->length;
	return 0;
}

/* One whole frame from one writer: decoded alone, by a fresh decoder, it is
 * a message with no fault, the writer's next in order and intact. */
static void check_frame(const uint8_t *frame, size_t len, unsigned count,
			struct frame_check *c)
{
	struct frame_message fm = {.c = c, .count = count};
	enum ipcf_fault fault;
	uint64_t off;

	assert_int_equal(ipcf_decode_all(frame, len, FRAME_PAYLOAD,
					 IPCF_DEFAULT_LIMIT, check_message, &fm,
					 &fault, &off), 0);
	if (fault != IPCF_OK)
		fail_msg("frame %u: fault %s: bytes of frames mixed", c->frames,
			 ipcf_fault_name(fault));
	assert_int_equal(fm.messages, 1);
	assert_in_range(fm.type, 1, WRITERS);
	if (!fm.intact)
		fail_msg("frame %u (type %u, %zu bytes): not the writer's next "
			 "message, or not intact", c->frames, fm.type, fm.length);
	c->switches += c->frames > 0 && fm.type != c->last_type;
	c->last_type = fm.type;
	c->frames++;
}

/* Reads the stream to its end, splitting it at frame boundaries. */
static void read_frames(int fd, unsigned count, struct frame_check *c)
{
	size_t cap = 1 << 20, have = 0;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct ipcf_header h;
		size_t used = 0;
		ssize_t r;

		assert_int_equal(poll(&p, 1, (int)mech_seconds(30) * 1000), 1);
		/* Small reads keep the FIFO near full, so writers contend. */
		r = read(fd, buf + have, cap - have < 1000 ? cap - have : 1000);
		if (r < 0 && errno == EAGAIN)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			break;
		have += (size_t)r;
		while (have - used >= IPCF_HEADER_SIZE) {
			assert_int_equal(ipcf_header_unpack(buf + used, &h), 0);
			assert_int_equal(h.flags, 0);
			assert_true(h.length <= FRAME_PAYLOAD);
			if (have - used < IPCF_HEADER_SIZE + h.length)
				break;
			check_frame(buf + used, IPCF_HEADER_SIZE + h.length, count, c);
			used += IPCF_HEADER_SIZE + h.length;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	assert_int_equal(have, 0);
	free(buf);
}

/*
 * Several writers at once on one FIFO, each sending one-frame messages of
 * sizes up to the default frame: every frame arrives whole (PIPE_BUF
 * atomicity), and each writer's frames keep their order.
 */
static void fifo_writers_keep_small_frames_whole(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX];
	struct writer_job jobs[WRITERS];
	struct frame_check c = {{0}, 0, 0, 0};
	unsigned count = mech_slow() ? 150 : 600;
	struct ipc_listener *l;
	struct ipc_channel *r;
	pid_t pids[WRITERS];
	int go[2];

	(void)state;
	fifo_address("many", addr, sizeof addr, path, sizeof path);
	assert_status(ipc_listen(addr, NULL, &l), IPC_OK);
	assert_int_equal(pipe(go), 0);
	for (unsigned i = 0; i < WRITERS; i++) {
		jobs[i] = (struct writer_job){addr, {go[0], go[1]}, i, count};
		pids[i] = mech_fork(writer_child, &jobs[i], 60);
	}
	close(go[0]);
	close(go[1]); /* every writer starts now */
	assert_status(ipc_accept(l, &r, (int)mech_seconds(30) * 1000), IPC_OK);
	read_frames(ipc_channel_recv_fd(r), count, &c);
	for (unsigned i = 0; i < WRITERS; i++) {
		mech_reap(pids[i], 60);
		assert_int_equal(c.next[i], count);
	}
	assert_int_equal(c.frames, WRITERS * count);
	print_message("%u frames from %u writers, the writer changing %u times\n",
		      c.frames, WRITERS, c.switches);
	ipc_channel_close(r);
	ipc_listener_close(l);
}

/* Whole frames from a second writer still break the stream: its seq starts
 * over, and the channel says so instead of taking the message. */
static void fifo_second_writer_is_a_seq_fault(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX];
	struct ipc_channel *w1, *w2, *r;
	struct ipc_listener *l;
	struct ipc_msg m;
	uint64_t off;

	(void)state;
	fifo_address("two", addr, sizeof addr, path, sizeof path);
	assert_status(ipc_listen(addr, NULL, &l), IPC_OK);
	assert_status(ipc_connect(addr, NULL, &w1, LONG_MS), IPC_OK);
	assert_status(ipc_connect(addr, NULL, &w2, LONG_MS), IPC_OK);
	mech_send_ok(w1, 1, 1, 1);
	mech_send_ok(w2, 2, 1, 2);
	ipc_channel_close(w1);
	ipc_channel_close(w2);
	assert_status(ipc_accept(l, &r, LONG_MS), IPC_OK);
	mech_recv_expect(r, 1, 1, 1);
	assert_status(ipc_recv(r, &m, LONG_MS), IPC_CORRUPT);
	assert_int_equal(ipc_channel_fault(r, &off), IPCF_FAULT_SEQ);
	assert_int_equal(off, IPCF_HEADER_SIZE + 1);
	assert_status(ipc_recv(r, &m, 0), IPC_CORRUPT);
	ipc_channel_close(r);
	ipc_listener_close(l);
}

struct big_writer {
	const char *addr;
	struct ipc_opts opts;
	size_t len;
};

static int big_writer_child(void *arg)
{
	const struct big_writer *job = arg;
	struct ipc_channel *w;
	uint8_t *buf = malloc(job->len);

	if (buf == NULL)
		return 1;
	mech_fill(buf, job->len, 77);
	if (ipc_connect(job->addr, &job->opts, &w, LONG_MS) != IPC_OK)
		return 2;
	if (ipc_send(w, 1, buf, job->len, (int)mech_seconds(30) * 1000) != IPC_OK)
		return 3;
	ipc_channel_close(w);
	free(buf);
	return 0;
}

/* What a new pipe (or FIFO) holds here. */
static int new_pipe_size(void)
{
	int probe[2], size;

	assert_int_equal(pipe(probe), 0);
	size = fcntl(probe[0], F_GETPIPE_SZ);
	close(probe[0]);
	close(probe[1]);
	return size;
}

static void wait_until_full(int fd, int cap)
{
	int queued = 0;

	for (unsigned ms = 0; ms < mech_seconds(30) * 1000; ms++) {
		assert_int_equal(ioctl(fd, FIONREAD, &queued), 0);
		if (queued == cap)
			return;
		mech_nap_ms(1);
	}
	fail_msg("the FIFO holds %d bytes, never its capacity %d", queued, cap);
}

/*
 * With a frame limit over PIPE_BUF, a frame is no longer one atomic write,
 * and another writer's frame can land inside it. Made to happen for sure:
 * the big writer fills the FIFO and is stopped, the reader takes what is
 * there, a second writer sends a small frame, the big writer goes on. The
 * channel reports the mixed frame (its CRC), it does not accept it.
 */
static void fifo_frames_over_pipe_buf_mix_and_are_reported(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX];
	struct big_writer job;
	struct ipc_channel *w, *r;
	struct ipc_listener *l;
	struct ipc_msg m;
	int cap, status, queued;
	uint64_t off;
	pid_t pid;

	(void)state;
	fifo_address("mixed", addr, sizeof addr, path, sizeof path);
	job = (struct big_writer){addr, {.max_frame = 1u << 20}, 0};
	assert_status(ipc_listen(addr, &job.opts, &l), IPC_OK);
	cap = new_pipe_size();
	assert_true(cap >= PIPE_BUF);
	job.len = (size_t)cap + (size_t)cap / 2;
	pid = mech_fork(big_writer_child, &job, 60);
	assert_status(ipc_accept(l, &r, (int)mech_seconds(30) * 1000), IPC_OK);
	assert_int_equal(fcntl(ipc_channel_recv_fd(r), F_GETPIPE_SZ), cap);
	wait_until_full(ipc_channel_recv_fd(r), cap);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));

	assert_status(ipc_recv(r, &m, 0), IPC_TIMEOUT); /* half a frame in */
	assert_int_equal(ioctl(ipc_channel_recv_fd(r), FIONREAD, &queued), 0);
	assert_int_equal(queued, 0);
	assert_status(ipc_connect(addr, NULL, &w, LONG_MS), IPC_OK);
	mech_send_ok(w, 2, 100, 2);
	ipc_channel_close(w);
	assert_int_equal(kill(pid, SIGCONT), 0);

	assert_status(ipc_recv(r, &m, (int)mech_seconds(30) * 1000), IPC_CORRUPT);
	assert_int_equal(ipc_channel_fault(r, &off), IPCF_FAULT_CRC);
	assert_int_equal(off, 0);
	ipc_channel_close(r);
	mech_reap(pid, 60); /* its send was whole: the reader took every byte */
	ipc_listener_close(l);
}

/* ---- faults -------------------------------------------------------------- */

static void pair_with_faults(size_t step, unsigned k)
{
	struct ipc_channel *a = NULL, *b = NULL;
	enum ipc_status st;

	int err;

	mech_plan_failure_at(step, k);
	st = ipc_channel_pair(fifo(), NULL, &a, &b);
	err = errno;
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

/* Listen, connect, send, accept, receive, close: under the plan set. */
static void session(const void *address)
{
	const char *addr = address;
	struct ipc_channel *w = NULL, *r = NULL;
	struct ipc_listener *l = NULL;
	struct ipc_msg m;

	if (ipc_listen(addr, NULL, &l) == IPC_OK) {
		if (ipc_connect(addr, NULL, &w, 0) == IPC_OK)
			ipc_send(w, 1, "abc", 3, 0);
		if (ipc_accept(l, &r, 0) == IPC_OK)
			ipc_recv(r, &m, 0);
	}
	ipc_channel_close(w);
	ipc_channel_close(r);
	ipc_listener_close(l);
}

/* Every call of a pair and of a listener's session, failed in turn with
 * each errno that fits it: whatever the outcome, no descriptor and no name
 * on disk is left behind. */
static void fifo_error_paths_leave_nothing(void **state)
{
	char addr[PATH_MAX + 8], path[PATH_MAX];
	size_t fds = mech_open_fds(), calls;
	struct ipc_channel *a, *b;

	(void)state;
	ipc_fault_plan_clear();
	assert_status(ipc_channel_pair(fifo(), NULL, &a, &b), IPC_OK);
	calls = (size_t)ipc_fault_calls();
	ipc_channel_close(a);
	ipc_channel_close(b);
	assert_true(calls >= 5);
	for (size_t step = 0; step < calls; step++)
		for (unsigned k = 0; k < 4; k++) {
			pair_with_faults(step, k);
			mech_assert_nothing_left(fds, "fifo pair", step);
		}

	fifo_address("faults", addr, sizeof addr, path, sizeof path);
	mech_fail_each_call(session, addr, fds, "fifo listener session");
}

/* The named plans of the seam: short transfers, EINTR everywhere, EAGAIN
 * every other time. A pair still carries messages intact. */
static void fifo_pair_under_fault_patterns(void **state)
{
	static const enum ipc_fault_pattern patterns[] = {
		IPC_PATTERN_SHORT_BY_ONE, IPC_PATTERN_EINTR_FIRST,
		IPC_PATTERN_EAGAIN_ALTERNATE};
	struct ipc_channel *a, *b;
	struct ipc_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		ipc_fault_plan_pattern(patterns[i]);
		assert_status(ipc_channel_pair(fifo(), NULL, &a, &b), IPC_OK);
		mech_send_ok(a, 1, 3 * PIPE_BUF, i);
		mech_send_ok(a, 2, 0, i);
		mech_recv_expect(b, 1, 3 * PIPE_BUF, i);
		mech_recv_expect(b, 2, 0, i);
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
		MECH_TEST(fifo_pair_carries_messages_then_end_of_stream),
		MECH_TEST(fifo_pair_leaves_nothing_on_disk),
		MECH_TEST(fifo_pair_across_fork),
		MECH_TEST(fifo_default_frame_fits_pipe_buf),
		MECH_TEST(fifo_full_send_times_out_then_breaks),
		MECH_TEST(fifo_reader_gone_is_peer_closed_without_sigpipe),
		MECH_TEST(fifo_connect_without_reader_is_no_reader),
		MECH_TEST(fifo_listen_refuses_existing_paths),
		MECH_TEST(fifo_connect_refuses_what_is_not_a_fifo),
		MECH_TEST(fifo_listener_makes_a_0600_fifo_and_removes_it),
		MECH_TEST(fifo_accept_waits_for_a_writer_that_sends),
		MECH_TEST(fifo_end_of_stream_once_every_writer_closed),
		MECH_TEST(fifo_writers_keep_small_frames_whole),
		MECH_TEST(fifo_second_writer_is_a_seq_fault),
		MECH_TEST(fifo_frames_over_pipe_buf_mix_and_are_reported),
		MECH_TEST(fifo_error_paths_leave_nothing),
		MECH_TEST(fifo_pair_under_fault_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
