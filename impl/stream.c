/*
 * The stream core: IPCF v1 messages over descriptors, for every backend
 * whose mechanism is a byte stream (pipe, FIFO, stream sockets).
 *
 * Descriptors are non-blocking, so a call never blocks past its deadline:
 * EAGAIN waits in poll() for what is left of it, EINTR retries, short
 * transfers continue where they stopped. SIGPIPE never kills: sockets send
 * with MSG_NOSIGNAL; pipe writes run with SIGPIPE blocked, and a SIGPIPE
 * they raised is taken off the pending set before the mask is restored.
 */
#include "channel_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc/registry.h"
#include "sys.h"

/* ---- small shared pieces -------------------------------------------------- */

void ipc_close_quietly(int fd)
{
	int saved = errno;

	if (fd >= 0)
		sys_close(fd);
	errno = saved;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct ipc_deadline ipc_deadline_in(int timeout_ms)
{
	struct ipc_deadline d = {timeout_ms < 0, 0};

	if (!d.forever)
		d.at_ns = now_ns() + (long long)timeout_ms * 1000000LL;
	return d;
}

int ipc_deadline_ms(const struct ipc_deadline *d)
{
	long long left;

	if (d->forever)
		return -1;
	left = d->at_ns - now_ns();
	if (left <= 0)
		return 0;
	if (left > (long long)INT_MAX * 1000000LL)
		return INT_MAX;
	return (int)((left + 999999) / 1000000);
}

struct timespec ipc_deadline_on(clockid_t clock, const struct ipc_deadline *d)
{
	struct timespec at;
	int ms = ipc_deadline_ms(d);

	clock_gettime(clock, &at);
	at.tv_sec += ms / 1000;
	at.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (at.tv_nsec >= 1000000000L) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000L;
	}
	return at;
}

enum ipc_status ipc_wait_fd(int fd, short events,
			    const struct ipc_deadline *d, int *err)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int r = sys_poll(&p, 1, ipc_deadline_ms(d));

		if (r > 0)
			return IPC_OK; /* ready, or hung up: the transfer says which */
		if (r == 0)
			return IPC_TIMEOUT;
		if (errno != EINTR) {
			*err = errno;
			return IPC_SYSTEM;
		}
	}
}

void ipc_pause_briefly(const struct ipc_deadline *d)
{
	int ms = ipc_deadline_ms(d);

	sys_poll(NULL, 0, ms < 0 || ms > 10 ? 10 : ms);
}

int ipc_private_dir(char *out, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(out, len, "%s/ipc-XXXXXX", tmp) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (sys_mkdtemp(out) == NULL)
		return -1;
	ipc_registry_note("dir", out);
	return 0;
}

int ipc_remove_private_dir(const char *dir)
{
	if (sys_rmdir(dir) != 0)
		return -1;
	ipc_registry_forget("dir", dir);
	return 0;
}

/* A /proc/sys file comes whole from one read at offset 0, ending in a
 * newline (a read at another offset finds nothing, so pieces cannot be
 * joined): anything else is EIO. */
int ipc_read_proc_line(const char *path, char *text, size_t cap)
{
	ssize_t r;
	int fd;

	do
		fd = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	do
		r = sys_pread(fd, text, cap - 1, 0);
	while (r < 0 && errno == EINTR);
	ipc_close_quietly(fd);
	if (r < 0)
		return -1;
	if (r == 0 || text[r - 1] != '\n') {
		errno = EIO;
		return -1;
	}
	text[r] = '\0';
	return 0;
}

int ipc_read_proc_long(const char *path, long *out)
{
	char text[32];
	char *end;

	if (ipc_read_proc_line(path, text, sizeof text) != 0)
		return -1;
	errno = 0;
	*out = strtol(text, &end, 10);
	if (end == text || errno != 0 || *out < 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}

uint32_t ipc_opts_max_message(const struct ipc_opts *o)
{
	if (o == NULL || o->max_message == 0)
		return IPCF_DEFAULT_LIMIT;
	return o->max_message > IPCF_MAX_LIMIT ? IPCF_MAX_LIMIT : o->max_message;
}

uint32_t ipc_opts_max_frame(const struct ipc_opts *o, uint32_t backend_default)
{
	if (o == NULL || o->max_frame == 0)
		return backend_default;
	return o->max_frame > IPCF_MAX_LIMIT ? IPCF_MAX_LIMIT : o->max_frame;
}

/* ---- creating and closing ------------------------------------------------ */

static int set_nonblocking(int fd)
{
	int flags = sys_fcntl(fd, F_GETFL, 0);

	if (flags < 0)
		return -1;
	if (flags & O_NONBLOCK)
		return 0;
	return sys_fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

struct ipc_channel *ipc_stream_new(const struct ipc_backend *b,
				   const struct ipc_opts *o, int rfd, int wfd,
				   int is_socket)
{
	struct ipc_channel *ch = calloc(1, sizeof *ch);

	if (ch == NULL || (rfd >= 0 && set_nonblocking(rfd) != 0) ||
	    (wfd >= 0 && wfd != rfd && set_nonblocking(wfd) != 0)) {
		ipc_close_quietly(rfd);
		if (wfd != rfd)
			ipc_close_quietly(wfd);
		free(ch);
		return NULL;
	}
	ch->backend = b;
	ch->rfd = rfd;
	ch->wfd = wfd;
	ch->is_socket = is_socket;
	ch->max_message = ipc_opts_max_message(o);
	ipcf_encoder_init(&ch->enc, 0, ipc_opts_max_frame(o, ch->max_message));
	ipcf_decoder_init(&ch->dec, ipc_opts_max_frame(o, ch->max_message),
			  ch->max_message);
	return ch;
}

enum ipc_status ipc_stream_pair(const struct ipc_backend *be,
				const struct ipc_opts *o, int a_rfd, int a_wfd,
				int b_rfd, int b_wfd, int is_socket,
				struct ipc_channel **a, struct ipc_channel **b)
{
	*a = NULL;
	*b = ipc_stream_new(be, o, b_rfd, b_wfd, is_socket);
	if (*b == NULL) {
		ipc_close_quietly(a_rfd);
		if (a_wfd != a_rfd)
			ipc_close_quietly(a_wfd);
		return IPC_SYSTEM;
	}
	*a = ipc_stream_new(be, o, a_rfd, a_wfd, is_socket);
	if (*a == NULL) {
		int err = errno;

		ipc_channel_close(*b);
		*b = NULL;
		errno = err;
		return IPC_SYSTEM;
	}
	return IPC_OK;
}

void ipc_channel_close(struct ipc_channel *ch)
{
	if (ch == NULL)
		return;
	if (ch->msg != NULL)
		ipc_msg_close(ch);
	if (ch->on_close != NULL)
		ch->on_close(ch);
	if (ch->rfd >= 0)
		sys_close(ch->rfd);
	if (ch->wfd >= 0 && ch->wfd != ch->rfd)
		sys_close(ch->wfd);
	if (ch->unlink_path != NULL)
		sys_unlink(ch->unlink_path);
	if (ch->rmdir_path != NULL)
		ipc_remove_private_dir(ch->rmdir_path);
	free(ch->unlink_path);
	free(ch->rmdir_path);
	ipcf_decoder_free(&ch->dec);
	free(ch->rbuf);
	free(ch);
}

/* ---- sending ------------------------------------------------------------- */

/* Advances an iovec array past n sent bytes. */
static void iov_advance(struct iovec **iov, int *n, size_t done)
{
	while (*n > 0 && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n > 0 && done > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}

static ssize_t write_some(struct ipc_channel *ch, struct iovec *iov, int n)
{
	if (ch->bytes != NULL)
		return ch->bytes->write_some(ch, iov, n);
	if (ch->is_socket) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t r;

		if (ch->control != NULL) {
			m.msg_control = (void *)ch->control;
			m.msg_controllen = ch->control_len;
		}
		r = sys_sendmsg(ch->wfd, &m, MSG_NOSIGNAL);
		if (r > 0)
			ch->control = NULL; /* went with the first byte */
		return r;
	}
	return sys_writev(ch->wfd, iov, n);
}

/* Waits on the end's descriptor, or the way its mechanism waits. */
static enum ipc_status wait_ready(struct ipc_channel *ch, int fd, short events,
				  const struct ipc_deadline *d)
{
	if (ch->bytes != NULL)
		return ch->bytes->wait(ch, events, d);
	return ipc_wait_fd(fd, events, d, &ch->err);
}

/* Writes all of iov, or says why not; *written counts what went out. */
static enum ipc_status write_all(struct ipc_channel *ch, struct iovec *iov,
				 int n, const struct ipc_deadline *d,
				 size_t *written, int *saw_epipe)
{
	while (n > 0) {
		ssize_t r = write_some(ch, iov, n);

		if (r >= 0) {
			*written += (size_t)r;
			iov_advance(&iov, &n, (size_t)r);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			enum ipc_status st = wait_ready(ch, ch->wfd, POLLOUT, d);
			if (st != IPC_OK)
				return st;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			*saw_epipe = errno == EPIPE;
			return IPC_PEER_CLOSED;
		}
		ch->err = errno;
		return IPC_SYSTEM;
	}
	return IPC_OK;
}

/* SIGPIPE blocked for the duration of a pipe write, so EPIPE is a status
 * (struct ipc_sigpipe_guard in channel_impl.h: the popen feeder shares it). */
void ipc_sigpipe_block(struct ipc_sigpipe_guard *g)
{
	sigset_t pipe_set, old, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (sys_pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
		return;
	g->active = 1;
	g->was_blocked = sigismember(&old, SIGPIPE);
	g->was_pending = sys_sigpending(&pending) == 0 &&
			 sigismember(&pending, SIGPIPE);
}

/* Takes our own SIGPIPE off the pending set (never one that was pending
 * before us), then restores the mask. */
void ipc_sigpipe_restore(struct ipc_sigpipe_guard *g, int raised)
{
	sigset_t pipe_set;
	const struct timespec zero = {0, 0};

	if (!g->active)
		return;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (raised && !g->was_pending)
		while (sys_sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	if (!g->was_blocked)
		sys_pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
}

/* Around each message on ends several processes share (ipc_bytes_ops). */
static enum ipc_status begin_send(struct ipc_channel *ch,
				  const struct ipc_deadline *d)
{
	if (ch->bytes == NULL || ch->bytes->begin_send == NULL)
		return IPC_OK;
	return ch->bytes->begin_send(ch, d);
}

static enum ipc_status end_send(struct ipc_channel *ch, enum ipc_status st,
				size_t written)
{
	if (ch->bytes != NULL && ch->bytes->end_send != NULL)
		return ch->bytes->end_send(ch, st, written);
	return st;
}

/* A write(2) to a pipe or FIFO, which raises SIGPIPE when the reader is
 * gone (sockets send with MSG_NOSIGNAL; a ring raises nothing). */
static int writes_to_pipe(const struct ipc_channel *ch)
{
	return !ch->is_socket && ch->bytes == NULL;
}

static enum ipc_status send_frames(struct ipc_channel *ch, uint16_t type,
				   const uint8_t *data, size_t len,
				   const struct ipc_deadline *d, size_t *written,
				   int *saw_epipe)
{
	do {
		uint8_t hdr[IPCF_HEADER_SIZE];
		uint32_t n = ipcf_encode_next_frame(&ch->enc, type, data, len, hdr);
		struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, n}};
		enum ipc_status st;

		st = write_all(ch, iov, n > 0 ? 2 : 1, d, written, saw_epipe);
		if (st != IPC_OK)
			return st;
		if (n > 0) {
			data += n;
			len -= n;
		}
	} while (len > 0);
	return IPC_OK;
}

enum ipc_status ipc_send(struct ipc_channel *ch, uint16_t type,
			 const void *data, size_t len, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct ipc_sigpipe_guard guard = {0};
	uint32_t first_seq;
	size_t written = 0;
	int saw_epipe = 0;
	enum ipc_status st;

	if (ch != NULL && ch->msg != NULL)
		return ipc_msg_send(ch, type, data, len, timeout_ms);
	if (ch == NULL || ch->wfd < 0 || type == 0 || (data == NULL && len > 0))
		return IPC_INVALID;
	if (ch->send_stopped != IPC_OK)
		return ch->send_stopped;
	if (len > ch->max_message)
		return IPC_TOO_BIG;
	if ((st = begin_send(ch, &d)) != IPC_OK)
		return st;
	if (writes_to_pipe(ch))
		ipc_sigpipe_block(&guard);
	first_seq = ch->enc.seq;
	st = send_frames(ch, type, data, len, &d, &written, &saw_epipe);
	if (writes_to_pipe(ch))
		ipc_sigpipe_restore(&guard, saw_epipe);
	if (st != IPC_OK) {
		/* Nothing of the message went out: the stream is intact and the
		 * frames' seqs were never seen. Otherwise it is cut mid-message. */
		if (written == 0)
			ch->enc.seq = first_seq;
		else
			ch->send_stopped = st == IPC_PEER_CLOSED ? IPC_PEER_CLOSED
							   : IPC_BROKEN;
	}
	return end_send(ch, st, written);
}

enum ipc_status ipc_send_encoded(struct ipc_channel *ch, const void *frames,
				 size_t len, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct ipc_sigpipe_guard guard = {0};
	struct iovec iov = {(void *)frames, len};
	size_t written = 0;
	int saw_epipe = 0;
	enum ipc_status st;

	if (ch != NULL && ch->msg != NULL)
		return ipc_msg_send_encoded(ch, frames, len, timeout_ms);
	if (ch == NULL || ch->wfd < 0 || (frames == NULL && len > 0))
		return IPC_INVALID;
	if (ch->send_stopped != IPC_OK)
		return ch->send_stopped;
	if ((st = begin_send(ch, &d)) != IPC_OK)
		return st;
	if (writes_to_pipe(ch))
		ipc_sigpipe_block(&guard);
	st = write_all(ch, &iov, 1, &d, &written, &saw_epipe);
	if (writes_to_pipe(ch))
		ipc_sigpipe_restore(&guard, saw_epipe);
	if (st != IPC_OK && written > 0)
		ch->send_stopped = st == IPC_PEER_CLOSED ? IPC_PEER_CLOSED : IPC_BROKEN;
	return end_send(ch, st, written);
}

enum ipc_status ipc_send_end(struct ipc_channel *ch, int timeout_ms)
{
	if (ch != NULL && ch->msg != NULL)
		return ipc_msg_send_end(ch, timeout_ms);
	if (ch == NULL || ch->wfd < 0)
		return IPC_INVALID;
	if (ch->send_stopped == IPC_OK)
		ch->send_stopped = IPC_INVALID;
	return IPC_OK;
}

/* ---- receiving ----------------------------------------------------------- */

enum ipc_status ipc_stream_fault(struct ipc_channel *ch)
{
	ch->fault = ipcf_decoder_fault(&ch->dec, &ch->fault_offset);
	return ch->fault == IPCF_FAULT_TOO_BIG ? IPC_TOO_BIG : IPC_CORRUPT;
}

enum ipc_status ipc_decode_buffered(struct ipc_channel *ch,
				    struct ipc_msg *msg)
{
	while (ch->rpos < ch->rlen) {
		size_t used;
		enum ipcf_status st = ipcf_decoder_feed(
			&ch->dec, ch->rbuf + ch->rpos, ch->rlen - ch->rpos, &used);

		ch->rpos += used;
		if (st == IPCF_MESSAGE) {
			const struct ipcf_message *m = ipcf_decoder_message(&ch->dec);
			msg->type = m->type;
			msg->seq = m->seq;
			msg->frames = m->frames;
			msg->length = m->length;
			msg->data = m->data;
			return IPC_OK;
		}
		if (st == IPCF_FAULT)
			return ipc_stream_fault(ch);
		if (st == IPCF_ERROR) {
			ch->err = ENOMEM;
			return IPC_SYSTEM;
		}
	}
	return IPC_TIMEOUT;
}

static ssize_t read_some(struct ipc_channel *ch)
{
	if (ch->bytes != NULL)
		return ch->bytes->read_some(ch, ch->rbuf, IPC_READ_CHUNK);
	if (ch->read_some != NULL)
		return ch->read_some(ch, ch->rbuf, IPC_READ_CHUNK);
	return sys_read(ch->rfd, ch->rbuf, IPC_READ_CHUNK);
}

enum ipc_status ipc_end_of_stream(struct ipc_channel *ch)
{
	ch->eof = 1;
	if (ipcf_decoder_finish(&ch->dec) == IPCF_FAULT)
		return ipc_stream_fault(ch);
	return IPC_PEER_CLOSED;
}

static enum ipc_status recv_bytes(struct ipc_channel *ch, struct ipc_msg *msg,
				  const struct ipc_deadline *d);

enum ipc_status ipc_recv(struct ipc_channel *ch, struct ipc_msg *msg,
			 int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	enum ipc_status st;

	if (ch != NULL && ch->msg != NULL)
		return ipc_msg_recv(ch, msg, timeout_ms);
	st = recv_bytes(ch, msg, &d);
	if (ch != NULL && ch->bytes != NULL && ch->bytes->end_recv != NULL)
		st = ch->bytes->end_recv(ch, st);
	return st;
}

/* Reads and decodes until a message is whole. */
static enum ipc_status recv_bytes(struct ipc_channel *ch, struct ipc_msg *msg,
				  const struct ipc_deadline *d)
{
	if (ch == NULL || ch->rfd < 0 || msg == NULL)
		return IPC_INVALID;
	if (ch->fault != IPCF_OK)
		return ch->fault == IPCF_FAULT_TOO_BIG ? IPC_TOO_BIG : IPC_CORRUPT;
	if (ch->rbuf == NULL && (ch->rbuf = malloc(IPC_READ_CHUNK)) == NULL) {
		ch->err = ENOMEM;
		return IPC_SYSTEM;
	}
	for (;;) {
		enum ipc_status st = ipc_decode_buffered(ch, msg);
		ssize_t r;

		if (st != IPC_TIMEOUT)
			return st;
		if (ch->eof)
			return IPC_PEER_CLOSED;
		if (ch->bytes != NULL && ch->bytes->begin_recv != NULL &&
		    (st = ch->bytes->begin_recv(ch, d)) != IPC_OK)
			return st;
		r = read_some(ch);
		if (r > 0) {
			ch->rpos = 0;
			ch->rlen = (size_t)r;
			continue;
		}
		if (r == 0)
			return ipc_end_of_stream(ch);
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return ipc_end_of_stream(ch);
		if (errno != EAGAIN) {
			ch->err = errno;
			return IPC_SYSTEM;
		}
		st = wait_ready(ch, ch->rfd, POLLIN, d);
		if (st != IPC_OK)
			return st;
	}
}

/* ---- accessors ----------------------------------------------------------- */

int ipc_channel_errno(const struct ipc_channel *ch) { return ch->err; }

enum ipcf_fault ipc_channel_fault(const struct ipc_channel *ch, uint64_t *offset)
{
	if (offset != NULL)
		*offset = ch->fault_offset;
	return ch->fault;
}

const char *ipc_channel_backend(const struct ipc_channel *ch)
{
	return ch->backend->name;
}

int ipc_channel_sends(const struct ipc_channel *ch)
{
	return ch->msg != NULL ? ch->msg_sends : ch->wfd >= 0;
}

int ipc_channel_receives(const struct ipc_channel *ch)
{
	return ch->msg != NULL ? ch->msg_receives : ch->rfd >= 0;
}

/* A ring's descriptors are its link, which never says "data": none to poll. */
int ipc_channel_recv_fd(const struct ipc_channel *ch)
{
	return ch->bytes != NULL ? -1 : ch->rfd;
}

int ipc_channel_send_fd(const struct ipc_channel *ch)
{
	return ch->bytes != NULL ? -1 : ch->wfd;
}
