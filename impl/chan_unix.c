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
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "ipc/unix.h"
#include "sys.h"

/* A pair's listener holds its own connection already; the bound only keeps
 * a broken system from hanging the caller. */
#define UNIX_PAIR_TIMEOUT_MS 10000
#define UNIX_BACKLOG 16
#define UNIX_SOCK_FLAGS (SOCK_CLOEXEC | SOCK_NONBLOCK)
/* Tries at a fresh abstract name before giving up (each taken already). */
#define UNIX_NAME_TRIES 8
#define UNIX_SOCKET_NAME "sock"

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

struct unix_listener {
	struct ipc_listener base; /* first: ipc_listener_free frees this */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "" if abstract */
	dev_t dev;
	ino_t ino;
};

/* ---- addresses ----------------------------------------------------------- */

struct unix_addr {
	struct sockaddr_un sun;
	socklen_t len;
};

/* "PATH" or "@NAME"; -1 with errno EINVAL (empty) or ENAMETOOLONG. */
static int parse_address(const char *where, struct unix_addr *a)
{
	int abstract = where[0] == '@';
	const char *name = where + abstract;
	size_t n = strlen(name);

	memset(a, 0, sizeof *a);
	a->sun.sun_family = AF_UNIX;
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	/* A path keeps its terminating NUL; an abstract name starts with one. */
	if (n + 1 > sizeof a->sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(a->sun.sun_path + abstract, name, n);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

static int is_abstract(const struct unix_addr *a)
{
	return a->sun.sun_path[0] == '\0';
}

static void format_address(const struct unix_addr *a, char *out, size_t len)
{
	if (is_abstract(a))
		snprintf(out, len, "unix:@%.*s",
			 (int)(a->len - offsetof(struct sockaddr_un, sun_path) - 1),
			 a->sun.sun_path + 1);
	else
		snprintf(out, len, "unix:%s", a->sun.sun_path);
}

/*
 * A fresh abstract name: pid and a counter keep this process's names apart;
 * the clock and a stack address (ASLR) mixed in keep apart processes of
 * equal pid in other pid namespaces that share this network namespace. Names
 * are visible to all in /proc/net/unix: they are unique, not secret.
 */
static void fresh_name(char *out, size_t len)
{
	static atomic_uint counter;
	struct timespec now;
	uint64_t mix;

	clock_gettime(CLOCK_REALTIME, &now);
	mix = (((uint64_t)now.tv_sec << 30) ^ (uint64_t)now.tv_nsec ^
	       (uint64_t)(uintptr_t)&now) * 0x9E3779B97F4A7C15ull;
	snprintf(out, len, "@ipc-%ld-%u-%016llx", (long)sys_getpid(),
		 atomic_fetch_add(&counter, 1), (unsigned long long)(mix >> 1));
}

/* ---- peers --------------------------------------------------------------- */

static enum ipc_status read_peer(int fd, struct ipc_peer_cred *peer, int *err)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (sys_getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		*err = errno;
		return IPC_SYSTEM;
	}
	*peer = (struct ipc_peer_cred){cred.pid, cred.uid, cred.gid};
	return IPC_OK;
}

static enum ipc_status admit_peer(const struct ipc_peer_cred *peer,
				  const struct ipc_opts *o, int *err)
{
	if ((o != NULL && o->allow_any_uid) || peer->uid == sys_geteuid())
		return IPC_OK;
	*err = EACCES;
	return IPC_REFUSED;
}

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

/* A channel over connected socket fd, which it then owns; errno on failure. */
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

/* ---- connecting ---------------------------------------------------------- */

/*
 * Connects fd to a by d. A full backlog is EAGAIN, and an AF_UNIX socket
 * has no connection under way to poll for, so it tries again shortly. On
 * failure the status, with errno: no one listening is IPC_REFUSED.
 */
static enum ipc_status connect_by(int fd, const struct unix_addr *a,
				  const struct ipc_deadline *d)
{
	for (;;) {
		if (sys_connect(fd, (const struct sockaddr *)&a->sun, a->len) == 0)
			return IPC_OK;
		switch (errno) {
		case EINTR:
			continue;
		case ECONNREFUSED:
		case ENOENT:
			return IPC_REFUSED;
		case EAGAIN:
			if (ipc_deadline_ms(d) == 0) {
				errno = ETIMEDOUT;
				return IPC_TIMEOUT;
			}
			ipc_pause_briefly(d);
			continue;
		default:
			return IPC_SYSTEM;
		}
	}
}

/* A connected socket whose peer (the listener) is admitted, or -1 with *st
 * and errno. */
static int connect_socket(const struct unix_addr *a, const struct ipc_opts *o,
			  const struct ipc_deadline *d,
			  struct ipc_peer_cred *peer, enum ipc_status *st)
{
	int err = 0;
	int fd = sys_socket(AF_UNIX, SOCK_STREAM | UNIX_SOCK_FLAGS, 0);

	*st = IPC_SYSTEM;
	if (fd < 0)
		return -1;
	if ((*st = connect_by(fd, a, d)) == IPC_OK &&
	    (*st = read_peer(fd, peer, &err)) == IPC_OK &&
	    (*st = admit_peer(peer, o, &err)) == IPC_OK)
		return fd;
	if (err != 0)
		errno = err;
	ipc_close_quietly(fd);
	return -1;
}

static enum ipc_status unix_connect(const char *where, const struct ipc_opts *o,
				    int timeout_ms, struct ipc_channel **out)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct ipc_peer_cred peer;
	struct unix_addr a;
	enum ipc_status st;
	int fd;

	if (parse_address(where, &a) != 0)
		return IPC_INVALID;
	if ((fd = connect_socket(&a, o, &d, &peer, &st)) < 0)
		return st;
	return unix_channel(fd, o, &peer, out);
}

/* ---- listening ----------------------------------------------------------- */

/*
 * Takes one connection, waiting until d. only_self (a pair's listener, which
 * others may find): connections from other processes are closed and the
 * wait goes on. Otherwise a peer that is not admitted is IPC_REFUSED.
 */
static enum ipc_status accept_peer(struct ipc_listener *l,
				   const struct ipc_deadline *d, int only_self,
				   struct ipc_channel **out)
{
	for (;;) {
		struct ipc_peer_cred peer;
		enum ipc_status st;
		int fd = sys_accept4(l->fd, NULL, NULL, UNIX_SOCK_FLAGS);

		if (fd < 0) {
			/* EINTR, or a peer gone before it was taken: look again. */
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN) {
				l->err = errno;
				return IPC_SYSTEM;
			}
			st = ipc_wait_fd(l->fd, POLLIN, d, &l->err);
			if (st != IPC_OK)
				return st;
			continue;
		}
		st = read_peer(fd, &peer, &l->err);
		if (st == IPC_OK && only_self && peer.pid != sys_getpid()) {
			sys_close(fd);
			continue;
		}
		if (st == IPC_OK)
			st = admit_peer(&peer, &l->opts, &l->err);
		if (st != IPC_OK) {
			ipc_close_quietly(fd);
			errno = l->err;
			return st;
		}
		st = unix_channel(fd, &l->opts, &peer, out);
		if (st != IPC_OK)
			l->err = errno;
		return st;
	}
}

static enum ipc_status unix_accept(struct ipc_listener *l,
				   struct ipc_channel **out, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	return accept_peer(l, &d, 0, out);
}

/* Removes the socket file if it is still the one this listener made. */
static void unix_listener_close(struct ipc_listener *l)
{
	struct unix_listener *ul = (struct unix_listener *)l;
	struct stat st;

	if (ul->path[0] != '\0' && sys_lstat(ul->path, &st) == 0 &&
	    st.st_dev == ul->dev && st.st_ino == ul->ino)
		sys_unlink(ul->path);
}

/* Binds and listens at a; records the socket file made. A path that exists
 * is EADDRINUSE from bind, and is left alone. */
static int bind_and_listen(struct unix_listener *ul, const struct unix_addr *a)
{
	struct stat st;
	int fd = sys_socket(AF_UNIX, SOCK_STREAM | UNIX_SOCK_FLAGS, 0);

	if (fd < 0)
		return -1;
	if (sys_bind(fd, (const struct sockaddr *)&a->sun, a->len) != 0) {
		ipc_close_quietly(fd);
		return -1;
	}
	if (!is_abstract(a) && sys_lstat(a->sun.sun_path, &st) == 0) {
		memcpy(ul->path, a->sun.sun_path, sizeof ul->path);
		ul->dev = st.st_dev;
		ul->ino = st.st_ino;
	} else if (!is_abstract(a)) {
		/* Without its identity the file could not be removed safely
		 * later: remove it now, while it is surely the one just made. */
		int err = errno;

		sys_unlink(a->sun.sun_path);
		ipc_close_quietly(fd);
		errno = err;
		return -1;
	}
	if (sys_listen(fd, UNIX_BACKLOG) != 0) {
		int err = errno;

		unix_listener_close(&ul->base);
		ul->path[0] = '\0';
		ipc_close_quietly(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* Listens at a fresh abstract name, trying others while names are taken. */
static int listen_fresh_name(struct unix_listener *ul, struct unix_addr *a)
{
	for (int i = 0;; i++) {
		char name[64];
		int fd;

		fresh_name(name, sizeof name);
		if (parse_address(name, a) != 0)
			return -1;
		fd = bind_and_listen(ul, a);
		if (fd >= 0 || errno != EADDRINUSE || i + 1 == UNIX_NAME_TRIES)
			return fd;
	}
}

/* Listens at dir/sock in a fresh private directory, which the listener
 * then removes too. */
static int listen_private_file(struct unix_listener *ul, struct unix_addr *a)
{
	char dir[sizeof a->sun.sun_path];
	char path[sizeof a->sun.sun_path + 8];
	int fd, err;

	if (ipc_private_dir(dir, sizeof dir) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", dir, UNIX_SOCKET_NAME);
	if (parse_address(path, a) != 0 ||
	    (ul->base.rmdir_path = strdup(dir)) == NULL) {
		err = errno;
		ipc_remove_private_dir(dir);
		errno = err;
		return -1;
	}
	fd = bind_and_listen(ul, a);
	if (fd < 0) {
		err = errno;
		ipc_remove_private_dir(dir);
		free(ul->base.rmdir_path);
		ul->base.rmdir_path = NULL;
		errno = err;
	}
	return fd;
}

static int listen_at(struct unix_listener *ul, const char *where,
		     struct unix_addr *a)
{
	if (strcmp(where, "") == 0)
		return listen_private_file(ul, a);
	if (strcmp(where, "@") == 0)
		return listen_fresh_name(ul, a);
	if (parse_address(where, a) != 0)
		return -1;
	return bind_and_listen(ul, a);
}

static enum ipc_status unix_listen(const char *where, const struct ipc_opts *o,
				   struct ipc_listener **out)
{
	struct unix_listener *ul;
	struct unix_addr a;
	int err;

	if (strcmp(where, "") != 0 && strcmp(where, "@") != 0 &&
	    parse_address(where, &a) != 0)
		return IPC_INVALID;
	if ((ul = calloc(1, sizeof *ul)) == NULL)
		return IPC_SYSTEM;
	ul->base.backend = &ipc_backend_unix_stream;
	ul->base.opts = o != NULL ? *o : (struct ipc_opts){0};
	ul->base.accept = unix_accept;
	ul->base.on_close = unix_listener_close;
	ul->base.fd = listen_at(ul, where, &a);
	if (ul->base.fd < 0) {
		err = errno;
		free(ul);
		errno = err;
		return IPC_SYSTEM;
	}
	format_address(&a, ul->base.address, sizeof ul->base.address);
	*out = &ul->base;
	return IPC_OK;
}

/* ---- pairs --------------------------------------------------------------- */

/* A listener at a private socket file or a fresh abstract name, one
 * connection to it and that connection accepted; the listener is closed
 * before returning, taking its file and directory or name with it. */
static enum ipc_status unix_pair(const struct ipc_opts *o,
				 struct ipc_channel **a, struct ipc_channel **b)
{
	struct ipc_deadline d = ipc_deadline_in(UNIX_PAIR_TIMEOUT_MS);
	struct ipc_listener *l;
	struct ipc_peer_cred peer;
	struct unix_addr at;
	enum ipc_status st;
	int fd, err = 0;

	*a = *b = NULL;
	st = unix_listen(o != NULL && o->abstract ? "@" : "", o, &l);
	if (st != IPC_OK)
		return st;
	parse_address(ipc_listener_address(l) + strlen("unix:"), &at);
	fd = connect_socket(&at, o, &d, &peer, &st);
	if (fd < 0) {
		err = errno;
	} else if ((st = accept_peer(l, &d, 1, b)) != IPC_OK) {
		err = st == IPC_TIMEOUT ? ETIMEDOUT : l->err;
		ipc_close_quietly(fd);
	} else if ((st = unix_channel(fd, o, &peer, a)) != IPC_OK) {
		err = errno;
		ipc_channel_close(*b);
		*b = NULL;
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
