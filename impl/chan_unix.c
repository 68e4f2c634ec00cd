/*
 * unix-stream: an AF_UNIX stream socket. Duplex: each end sends and
 * receives.
 *
 * Pairs listen on a socket file in a private directory (ipc_private_dir), or
 * on a fresh abstract name with opts->abstract, connect, accept, and remove
 * the file and directory (or drop the name) before they return: nothing is
 * left on disk. Addresses: "unix:PATH" and "unix:@NAME" (abstract). Listening
 * never takes over a path that exists, and on close removes only the socket
 * file it made, if that is still the one at the path. "unix:" and "unix:@"
 * listen on a private socket file or a fresh abstract name, which
 * ipc_listener_address() then shows.
 *
 * Both ends read the peer's credentials (SO_PEERCRED) and refuse a peer of
 * another effective uid unless opts->allow_any_uid.
 *
 * Descriptors (include/ipc/unix.h). The sender attaches a message's
 * descriptors to its first sendmsg, and every sendmsg of the stream core
 * carries bytes of one message only. Linux gives ancillary data to the
 * recvmsg that reads the first byte it came with, and that recvmsg ends with
 * that sendmsg's bytes (it may hold bytes of earlier sends before them). So
 * descriptors that came with a read of stream bytes [start, end) belong to
 * the last message that starts in that range: the one starting there that
 * ends at or after `end`. They wait with the channel, as a batch, until that
 * message is decoded.
 */
#include "channel_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/unix.h"
#include "sys.h"
#include "unix_addr.h"

/* A pair's listener holds its own connection already; the bound only keeps
 * a broken system from hanging the caller. */
#define UNIX_PAIR_TIMEOUT_MS 10000

extern const struct ipc_backend ipc_backend_unix_stream;

union control_buf {
	char buf[CMSG_SPACE(sizeof(int) * IPC_UNIX_MAX_FDS)];
	struct cmsghdr align;
};

struct fd_batch {
	int used;
	int truncated;       /* MSG_CTRUNC: the kernel could not give them all */
	uint64_t start, end; /* the stream bytes of the read they came with */
	size_t count;
	int fds[IPC_UNIX_MAX_FDS];
};

struct unix_end {
	struct ipc_peer_cred peer;
	uint64_t bytes_read;
	/* Two suffice: see settle(). */
	struct fd_batch batches[2];
	union control_buf control;
};

/* ---- descriptors that came with reads ------------------------------------ */

static struct unix_end *end_of(const struct ipc_channel *ch)
{
	return ch->extra;
}

static void drop_batch(struct fd_batch *b)
{
	for (size_t i = 0; i < b->count; i++)
		ipc_close_quietly(b->fds[i]);
	b->count = 0;
	b->truncated = 0;
	b->used = 0;
}

static void drop_all_batches(struct unix_end *u)
{
	for (size_t i = 0; i < 2; i++)
		if (u->batches[i].used)
			drop_batch(&u->batches[i]);
}

/*
 * Closes the batches no message still to come can own. The next message
 * starts where the last decoded one ended: a batch that ended by then
 * belonged to a message already returned, or to none. When every byte read
 * is decoded (as before each read), the message under way runs past them
 * all, so of the rest only the batch holding its start can be owned; others
 * came in its middle, from a sender that is not ipc_send_fds. That leaves at
 * most one batch before a read, and two after it. (The decoder keeps the
 * last message's offsets in dec.msg until the next one completes.)
 */
static void settle(struct ipc_channel *ch)
{
	struct unix_end *u = end_of(ch);
	uint64_t next_start = ch->dec.msg.end;
	int all_decoded = ch->dec.offset == u->bytes_read;

	for (size_t i = 0; i < 2; i++) {
		struct fd_batch *b = &u->batches[i];

		if (b->used && (b->end <= next_start ||
				(all_decoded && b->start > next_start)))
			drop_batch(b);
	}
}

static struct fd_batch *free_batch(struct unix_end *u)
{
	for (size_t i = 0; i < 2; i++)
		if (!u->batches[i].used)
			return &u->batches[i];
	return NULL;
}

/* Moves the descriptors of m's SCM_RIGHTS into b (NULL: closes them). */
static void take_descriptors(struct msghdr *m, struct fd_batch *b)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		size_t n;
		const unsigned char *data = CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, data + i * sizeof fd, sizeof fd);
			if (b != NULL && b->count < IPC_UNIX_MAX_FDS)
				b->fds[b->count++] = fd;
			else
				ipc_close_quietly(fd);
		}
	}
}

/* A message that lost some of its descriptors (truncated) gets none. */
static void keep_batch(struct fd_batch *b, uint64_t start, uint64_t len,
		       int truncated)
{
	if (truncated) {
		drop_batch(b);
		b->truncated = 1;
	}
	b->used = 1;
	b->start = start;
	b->end = start + len;
}

/* The stream core's reads: recvmsg, keeping what descriptors came. */
static ssize_t unix_read_some(struct ipc_channel *ch, void *buf, size_t len)
{
	struct unix_end *u = end_of(ch);
	struct iovec iov = {buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = u->control.buf,
			   .msg_controllen = sizeof u->control.buf};
	struct fd_batch *b;
	ssize_t r;

	settle(ch);
	r = sys_recvmsg(ch->rfd, &m, MSG_CMSG_CLOEXEC);
	if (r < 0)
		return r;
	b = r > 0 ? free_batch(u) : NULL;
	take_descriptors(&m, b);
	if (b != NULL && (b->count > 0 || (m.msg_flags & MSG_CTRUNC)))
		keep_batch(b, u->bytes_read, (uint64_t)r,
			   (m.msg_flags & MSG_CTRUNC) != 0);
	u->bytes_read += (uint64_t)r;
	return r;
}

/* Gives the caller the batch of the message just decoded, if it has one,
 * and closes those that no later message can own. */
static enum ipc_status hand_out(struct ipc_channel *ch, int *fds, size_t max,
				size_t *nfds)
{
	struct unix_end *u = end_of(ch);
	const struct ipcf_message *m = ipcf_decoder_message(&ch->dec);
	struct fd_batch *own = NULL;

	for (size_t i = 0; i < 2; i++) {
		struct fd_batch *b = &u->batches[i];

		if (!b->used)
			continue;
		if (b->start <= m->offset && m->offset < b->end && m->end >= b->end)
			own = b;
		else if (b->end <= m->end)
			drop_batch(b);
	}
	if (own == NULL)
		return IPC_OK;
	if (own->truncated || own->count > max) {
		drop_batch(own);
		ch->err = EMSGSIZE;
		return IPC_SYSTEM;
	}
	memcpy(fds, own->fds, own->count * sizeof *fds);
	*nfds = own->count;
	own->count = 0;
	own->used = 0;
	return IPC_OK;
}

static void unix_end_close(struct ipc_channel *ch)
{
	drop_all_batches(end_of(ch));
	free(ch->extra);
	ch->extra = NULL;
}

/* ---- channels ------------------------------------------------------------ */

/* A channel over connected socket fd, which it then owns; errno on failure
 * (an ipc_unix_end_fn). */
static enum ipc_status unix_channel(int fd, const struct ipc_opts *o,
				    const struct ipc_peer_cred *peer,
				    struct ipc_channel **out)
{
	struct unix_end *u = calloc(1, sizeof *u);
	struct ipc_channel *ch;

	if (u == NULL) {
		ipc_close_quietly(fd);
		errno = ENOMEM;
		return IPC_SYSTEM;
	}
	ch = ipc_stream_new(&ipc_backend_unix_stream, o, fd, fd, 1);
	if (ch == NULL) {
		int err = errno;

		free(u);
		errno = err;
		return IPC_SYSTEM;
	}
	u->peer = *peer;
	ch->extra = u;
	ch->on_close = unix_end_close;
	ch->read_some = unix_read_some;
	*out = ch;
	return IPC_OK;
}

static int is_unix_channel(const struct ipc_channel *ch)
{
	return ch != NULL && ch->backend == &ipc_backend_unix_stream;
}

enum ipc_status ipc_unix_peer_cred(const struct ipc_channel *ch,
				   struct ipc_peer_cred *out)
{
	if (!is_unix_channel(ch) || out == NULL)
		return IPC_INVALID;
	*out = end_of(ch)->peer;
	return IPC_OK;
}

enum ipc_status ipc_send_fds(struct ipc_channel *ch, uint16_t type,
			     const void *data, size_t len, const int *fds,
			     size_t nfds, int timeout_ms)
{
	union control_buf control;
	struct cmsghdr *c = &control.align;
	enum ipc_status st;

	if (!is_unix_channel(ch) || nfds > IPC_UNIX_MAX_FDS ||
	    (fds == NULL && nfds > 0))
		return IPC_INVALID;
	if (nfds == 0)
		return ipc_send(ch, type, data, len, timeout_ms);
	memset(&control, 0, sizeof control);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	ch->control = control.buf;
	ch->control_len = CMSG_SPACE(nfds * sizeof(int));
	st = ipc_send(ch, type, data, len, timeout_ms);
	/* Sent with the first byte, or not at all: never with a later message. */
	ch->control = NULL;
	ch->control_len = 0;
	return st;
}

enum ipc_status ipc_recv_fds(struct ipc_channel *ch, struct ipc_msg *msg,
			     int *fds, size_t max, size_t *nfds,
			     int timeout_ms)
{
	enum ipc_status st;

	if (nfds != NULL)
		*nfds = 0;
	if (!is_unix_channel(ch) || msg == NULL || nfds == NULL ||
	    (fds == NULL && max > 0))
		return IPC_INVALID;
	settle(ch);
	st = ipc_recv(ch, msg, timeout_ms);
	if (st == IPC_OK)
		return hand_out(ch, fds, max, nfds);
	/* After these the stream has no message to come; a timeout or a failed
	 * call leaves the message under way, and its descriptors, for the
	 * next try. */
	if (st == IPC_PEER_CLOSED || st == IPC_CORRUPT || st == IPC_TOO_BIG)
		drop_all_batches(end_of(ch));
	return st;
}

/* ---- connecting and listening -------------------------------------------- */

static enum ipc_status unix_connect(const char *where, const struct ipc_opts *o,
				    int timeout_ms, struct ipc_channel **out)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	return ipc_unix_connect_end(SOCK_STREAM, where, o, &d, unix_channel, out);
}

static enum ipc_status unix_accept(struct ipc_listener *l,
				   struct ipc_channel **out, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	return ipc_unix_accept_end(l, &d, 0, unix_channel, out);
}

static enum ipc_status unix_listen(const char *where, const struct ipc_opts *o,
				   struct ipc_listener **out)
{
	return ipc_unix_listen(&ipc_backend_unix_stream, SOCK_STREAM, where, o,
			       unix_accept, out);
}

/* ---- pairs --------------------------------------------------------------- */

/* A listener at a private socket file or a fresh abstract name, one
 * connection to it and that connection accepted; the listener is closed
 * before returning, taking its file and directory or name with it. */
static enum ipc_status unix_pair(const struct ipc_opts *o,
				 struct ipc_channel **a, struct ipc_channel **b)
{
	struct ipc_deadline d = ipc_deadline_in(UNIX_PAIR_TIMEOUT_MS);
	const char *where;
	struct ipc_listener *l;
	enum ipc_status st;
	int err = 0;

	*a = *b = NULL;
	st = unix_listen(o != NULL && o->abstract ? "@" : "", o, &l);
	if (st != IPC_OK)
		return st;
	where = ipc_listener_address(l) + strlen("unix:");
	st = ipc_unix_connect_end(SOCK_STREAM, where, o, &d, unix_channel, a);
	if (st != IPC_OK) {
		err = errno;
	} else if ((st = ipc_unix_accept_end(l, &d, 1, unix_channel, b)) != IPC_OK) {
		err = st == IPC_TIMEOUT ? ETIMEDOUT : l->err;
		ipc_channel_close(*a);
		*a = NULL;
	}
	ipc_listener_close(l);
	errno = err;
	return st;
}

const struct ipc_backend ipc_backend_unix_stream = {
	.name = "unix-stream",
	.address_scheme = "unix",
	.duplex = 1,
	.pair = unix_pair,
	.listen = unix_listen,
	.connect = unix_connect,
};
