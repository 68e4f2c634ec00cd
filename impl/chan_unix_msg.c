/*
 * unix-dgram and unix-seqpacket: AF_UNIX datagram and seqpacket sockets on
 * the message core (msg.c). Duplex: each end sends and receives. One file
 * for both, since they move frames alike; they differ only in how an end
 * learns that the other is gone and in how ends are made from addresses.
 *
 * Frames: one IPCF frame is one datagram (or record), whole or not at all,
 * of at most 64 KiB (65516 bytes of payload). The kernel refuses a datagram
 * longer than the sender's SO_SNDBUF less 32 bytes (EMSGSIZE) and takes one
 * only while less than SO_SNDBUF is queued. A new socket's SO_SNDBUF is
 * net.core.wmem_default, 212992 bytes unless changed: 64 KiB fits it three
 * times over, so a sender keeps a few frames in flight; the largest that
 * fits (208 KiB) would save few calls but leave the sender waiting for each
 * frame to be read. A socket whose buffer cannot take a frame (a lowered
 * wmem_default) is given one that can. The limit is fixed, so every end
 * agrees on it. A datagram longer than the receive buffer (one byte more
 * than a frame) comes cut, with MSG_TRUNC: the decoder reports the cut frame.
 *
 * unix-seqpacket. Pairs: socketpair(). The kernel tells each end when every
 * copy of the other is closed: a receive gives 0 bytes once all that was
 * sent before has been taken, a send EPIPE. So no link is needed, and no end
 * mark is sent either: a record of 0 bytes would read as the end, and a
 * forked copy's close would send it too early. Addresses
 * "unix-seqpacket:PATH" and "unix-seqpacket:@NAME" (and the empty forms, a
 * private socket file or a fresh abstract name): listen, accept and connect
 * as unix-stream does, both sides checking the peer's uid (SO_PEERCRED).
 *
 * unix-dgram. Pairs: socketpair(), joined by a link (msg.c), since the
 * kernel tells a receiver nothing when its sender closes; a send to a closed
 * peer is ECONNREFUSED (then ENOTCONN). Addresses "unix-dgram:PATH",
 * "unix-dgram:@NAME" and the empty forms:
 *  - ipc_listen binds a socket, with SO_PASSCRED so that every datagram
 *    brings its sender's credentials.
 *  - ipc_accept waits for the first datagram, leaves it queued (MSG_PEEK)
 *    and takes its sender as the peer, if admitted (its uid this process's
 *    effective uid, or allow_any_uid) and bound to a name to answer to;
 *    others' datagrams are dropped and the wait goes on (if it then times
 *    out, IPC_REFUSED with the reason, EACCES for a uid). It connect()s the
 *    bound socket to the peer, so that the kernel takes no datagram from
 *    anyone else (EPERM for them), and hands it over as a duplex end: one
 *    peer per listener. Datagrams others sent before that are still queued,
 *    so the accepted end drops whatever does not come from its peer's
 *    address. A peer that closed before it was accepted leaves the end
 *    unconnected: it takes what the peer sent, and its sends say
 *    IPC_PEER_CLOSED.
 *  - ipc_connect connect()s a new socket to the listener, and only then
 *    binds it (a socket file in a private directory, or a fresh abstract
 *    name if the address is abstract) so that the listener can answer: from
 *    the moment it has a name only the listener can send to it. It greets
 *    the listener with a datagram of 0 bytes, which ipc_accept takes away,
 *    so that an end that only receives is accepted too. The connecting side
 *    cannot check who listens (a datagram socket has no SO_PEERCRED from
 *    connect): a path in a directory of one's own, or unix-seqpacket, for
 *    that. Across uids use abstract names: a socket file is writable by its
 *    owner only.
 *  - These ends send the end mark (a datagram of 0 bytes) at close; one
 *    whose peer was killed before its close waits for its timeout. Such
 *    ends belong to the process that made them: a forked copy must not be
 *    closed with ipc_channel_close. A socket file and its private directory
 *    are removed at the close of what holds the socket: the listener, the
 *    end it accepted (which takes them over), or the connecting end.
 */
#include "channel_impl.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "unix_addr.h"

#define UNIX_MSG_DATAGRAM (64u * 1024u)
#define UNIX_MSG_FRAME (UNIX_MSG_DATAGRAM - IPCF_HEADER_SIZE)
/* The kernel's: a datagram is at most SO_SNDBUF less this. */
#define UNIX_SNDBUF_SLACK 32u

extern const struct ipc_backend ipc_backend_unix_dgram;
extern const struct ipc_backend ipc_backend_unix_seqpacket;

struct unix_msg_end {
	struct unix_name name; /* a dgram end's socket file, removed at close */
	struct unix_addr peer; /* an accepted dgram end takes only this sender's
				  datagrams (len 0: anyone's) */
};

static struct unix_msg_end *end_of(const struct ipc_channel *ch)
{
	return ch->extra;
}

/* ---- moving frames ------------------------------------------------------- */

static enum ipc_status send_datagram(struct ipc_channel *ch,
				     const struct iovec *iov, int n)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};

	for (;;) {
		if (sys_sendmsg(ch->wfd, &m, MSG_NOSIGNAL) >= 0)
			return IPC_OK;
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
			return IPC_TIMEOUT;
		case EPIPE:        /* seqpacket: the peer is closed */
		case ECONNRESET:
		case ECONNREFUSED: /* dgram: the peer is closed */
		case ENOTCONN:     /* dgram: ... and the kernel dropped it */
			return IPC_PEER_CLOSED;
		default:
			ch->err = errno;
			return IPC_SYSTEM;
		}
	}
}

static enum ipc_status seqpacket_try_recv(struct ipc_channel *ch, void *buf,
					  size_t cap, size_t *len)
{
	struct iovec iov = {buf, cap};

	for (;;) {
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t r = sys_recvmsg(ch->rfd, &m, 0);

		if (r >= 0) {
			*len = (size_t)r; /* 0: every copy of the peer closed */
			return IPC_OK;
		}
		/* ECONNRESET: the peer closed with records of ours unread; said
		 * once, before what it sent and the end of stream. */
		if (errno == EINTR || errno == ECONNRESET)
			continue;
		if (errno == EAGAIN)
			return IPC_TIMEOUT;
		ch->err = errno;
		return IPC_SYSTEM;
	}
}

/* An accepted end's socket keeps SO_PASSCRED; with no room for them the
 * credentials are left out (MSG_CTRUNC), as are descriptors anyone sent. */
static enum ipc_status dgram_try_recv(struct ipc_channel *ch, void *buf,
				      size_t cap, size_t *len)
{
	const struct unix_addr *peer = &end_of(ch)->peer;
	struct iovec iov = {buf, cap};

	for (;;) {
		struct unix_addr from = {.len = 0};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t r;

		if (peer->len > 0) {
			m.msg_name = &from.sun;
			m.msg_namelen = sizeof from.sun;
		}
		r = sys_recvmsg(ch->rfd, &m, 0);
		if (r >= 0) {
			from.len = m.msg_namelen;
			if (peer->len > 0 && !ipc_unix_same_address(&from, peer))
				continue; /* queued by another before the connect */
			*len = (size_t)r;
			return IPC_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return IPC_TIMEOUT;
		ch->err = errno;
		return IPC_SYSTEM;
	}
}

static const struct ipc_msg_ops seqpacket_ops = {
	.try_send = send_datagram,
	.try_recv = seqpacket_try_recv,
};

static const struct ipc_msg_ops dgram_ops = {
	.try_send = send_datagram,
	.try_recv = dgram_try_recv,
};

/* ---- ends ---------------------------------------------------------------- */

/* Room in SO_SNDBUF for a whole frame (see the top). The kernel doubles
 * what is asked, up to net.core.wmem_max; below that, a frame's send is
 * IPC_SYSTEM with EMSGSIZE. */
static int fit_send_buffer(int fd)
{
	const int need = (int)(UNIX_MSG_DATAGRAM + UNIX_SNDBUF_SLACK);
	int size = 0;
	socklen_t len = sizeof size;

	if (sys_getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) != 0)
		return -1;
	if (size >= need)
		return 0;
	return sys_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &need, sizeof need);
}

static void end_close(struct ipc_channel *ch)
{
	ipc_unix_unbind(&end_of(ch)->name);
	free(ch->extra);
	ch->extra = NULL;
}

/* A duplex end over socket fd, which it owns once made; NULL with errno,
 * fd still the caller's. */
static struct ipc_channel *end_new(const struct ipc_backend *b,
				   const struct ipc_msg_ops *ops,
				   const struct ipc_opts *o, int fd)
{
	struct ipc_channel *ch;
	struct unix_msg_end *u;

	if (fit_send_buffer(fd) != 0)
		return NULL;
	ch = ipc_msg_channel_new(b, o, ops, UNIX_MSG_FRAME, 0, 1, 1);
	u = calloc(1, sizeof *u);
	if (ch == NULL || u == NULL) {
		free(ch); /* holds nothing else yet */
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	ch->rfd = fd;
	ch->wfd = fd;
	ch->is_socket = 1;
	ch->extra = u;
	ch->on_close = end_close;
	return ch;
}

static enum ipc_status socket_pair(const struct ipc_backend *be,
				   const struct ipc_msg_ops *ops, int type,
				   int linked, const struct ipc_opts *o,
				   struct ipc_channel **a, struct ipc_channel **b)
{
	int sv[2];

	if (sys_socketpair(AF_UNIX, type | IPC_UNIX_SOCK_FLAGS, 0, sv) != 0)
		return IPC_SYSTEM;
	if ((*a = end_new(be, ops, o, sv[0])) == NULL) {
		ipc_close_quietly(sv[0]);
		ipc_close_quietly(sv[1]);
		return IPC_SYSTEM;
	}
	if ((*b = end_new(be, ops, o, sv[1])) == NULL)
		ipc_close_quietly(sv[1]);
	else if (!linked || ipc_msg_link(*a, *b) == IPC_OK)
		return IPC_OK;
	return ipc_msg_pair_failed(a, b);
}

/* ---- unix-seqpacket ------------------------------------------------------ */

/* An ipc_unix_end_fn: the peer was checked, and is not kept. */
static enum ipc_status seqpacket_end(int fd, const struct ipc_opts *o,
				     const struct ipc_peer_cred *peer,
				     struct ipc_channel **out)
{
	(void)peer;
	*out = end_new(&ipc_backend_unix_seqpacket, &seqpacket_ops, o, fd);
	if (*out != NULL)
		return IPC_OK;
	ipc_close_quietly(fd);
	return IPC_SYSTEM;
}

static enum ipc_status seqpacket_pair(const struct ipc_opts *o,
				      struct ipc_channel **a,
				      struct ipc_channel **b)
{
	return socket_pair(&ipc_backend_unix_seqpacket, &seqpacket_ops,
			   SOCK_SEQPACKET, 0, o, a, b);
}

static enum ipc_status seqpacket_accept(struct ipc_listener *l,
					struct ipc_channel **out, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	return ipc_unix_accept_end(l, &d, 0, seqpacket_end, out);
}

static enum ipc_status seqpacket_listen(const char *where,
					const struct ipc_opts *o,
					struct ipc_listener **out)
{
	return ipc_unix_listen(&ipc_backend_unix_seqpacket, SOCK_SEQPACKET,
			       where, o, seqpacket_accept, out);
}

static enum ipc_status seqpacket_connect(const char *where,
					 const struct ipc_opts *o,
					 int timeout_ms, struct ipc_channel **out)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	return ipc_unix_connect_end(SOCK_SEQPACKET, where, o, &d, seqpacket_end,
				    out);
}

/* ---- unix-dgram ---------------------------------------------------------- */

static enum ipc_status dgram_pair(const struct ipc_opts *o,
				  struct ipc_channel **a, struct ipc_channel **b)
{
	return socket_pair(&ipc_backend_unix_dgram, &dgram_ops, SOCK_DGRAM, 1,
			   o, a, b);
}

/* The datagram at the head of a listener's queue, left there. */
struct first_datagram {
	struct unix_addr from;
	struct ipc_peer_cred cred;
	int has_cred;
	int empty; /* 0 bytes: a connecting end's greeting */
};

/* Room for the credentials only: descriptors a sender attached find none,
 * and the kernel drops them (MSG_CTRUNC). -1 with errno. */
static int peek_first(int fd, struct first_datagram *f)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} control;
	char byte;
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_name = &f->from.sun,
			   .msg_namelen = sizeof f->from.sun,
			   .msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = control.buf,
			   .msg_controllen = sizeof control.buf};
	ssize_t r = sys_recvmsg(fd, &m, MSG_PEEK);

	if (r < 0)
		return -1;
	f->from.len = m.msg_namelen;
	f->empty = r == 0;
	f->has_cred = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof uc);
			f->cred = (struct ipc_peer_cred){uc.pid, uc.uid, uc.gid};
			f->has_cred = 1;
		}
	return 0;
}

/* Takes the head datagram off the queue; -1 with errno. */
static int drop_first(int fd)
{
	struct msghdr m = {.msg_iovlen = 0};

	return sys_recvmsg(fd, &m, 0) < 0 ? -1 : 0;
}

/* Whether the first datagram's sender may be the peer; if not, l->err says
 * why. */
static int admissible(struct ipc_listener *l, const struct first_datagram *f)
{
	if (f->from.len <= offsetof(struct sockaddr_un, sun_path)) {
		l->err = EDESTADDRREQ; /* an unbound sender: no name to answer */
		return 0;
	}
	if (!f->has_cred) {
		l->err = EACCES;
		return 0;
	}
	return ipc_unix_admit_peer(&f->cred, &l->opts, &l->err) == IPC_OK;
}

/* Connects the listener's socket to the sender: IPC_OK; IPC_REFUSED if the
 * sender would not be answered (l->err); IPC_TIMEOUT. A sender gone
 * already (its name unbound) leaves the socket unconnected: IPC_OK. */
static enum ipc_status answer_to(struct ipc_listener *l,
				 const struct first_datagram *f,
				 const struct ipc_deadline *d)
{
	enum ipc_status st = ipc_unix_connect_by(l->fd, &f->from, d);

	if (st == IPC_REFUSED || st == IPC_OK)
		return IPC_OK;
	l->err = errno;
	return st == IPC_TIMEOUT ? st : IPC_REFUSED;
}

/* The greeting stays first until taken: an injected EINTR or EAGAIN only
 * delays it. */
static enum ipc_status take_greeting(struct ipc_listener *l)
{
	while (drop_first(l->fd) != 0)
		if (errno != EINTR && errno != EAGAIN) {
			l->err = errno;
			return IPC_SYSTEM;
		}
	return IPC_OK;
}

static enum ipc_status take_peer(struct ipc_listener *l,
				 const struct first_datagram *f,
				 struct ipc_channel **out)
{
	if (f->empty && take_greeting(l) != IPC_OK)
		return IPC_SYSTEM;
	*out = end_new(&ipc_backend_unix_dgram, &dgram_ops, &l->opts, l->fd);
	if (*out == NULL) {
		l->err = errno;
		return IPC_SYSTEM;
	}
	(*out)->msg_end_mark = 1;
	end_of(*out)->peer = f->from;
	/* The socket file goes with the socket: its identity holds only while
	 * the socket is open (a freed inode's number is reused). */
	end_of(*out)->name = ((struct unix_listener *)l)->name;
	memset(&((struct unix_listener *)l)->name, 0, sizeof(struct unix_name));
	l->fd = -1;
	return IPC_OK;
}

static enum ipc_status dgram_accept(struct ipc_listener *l,
				    struct ipc_channel **out, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	int refused = 0;

	if (l->fd < 0) {
		l->err = EBUSY; /* its socket went to the end it accepted */
		return IPC_INVALID;
	}
	for (;;) {
		struct first_datagram f;
		enum ipc_status st;

		if (peek_first(l->fd, &f) != 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				l->err = errno;
				return IPC_SYSTEM;
			}
			st = ipc_wait_fd(l->fd, POLLIN, &d, &l->err);
			if (st == IPC_TIMEOUT && refused)
				return IPC_REFUSED;
			if (st != IPC_OK)
				return st;
			continue;
		}
		st = admissible(l, &f) ? answer_to(l, &f, &d) : IPC_REFUSED;
		if (st == IPC_OK)
			return take_peer(l, &f, out);
		if (st != IPC_REFUSED)
			return st;
		/* Not the peer: its datagram goes, the wait goes on. A failed
		 * drop meets the same datagram again. */
		refused = 1;
		drop_first(l->fd);
	}
}

static enum ipc_status dgram_listen(const char *where, const struct ipc_opts *o,
				    struct ipc_listener **out)
{
	return ipc_unix_listen(&ipc_backend_unix_dgram, SOCK_DGRAM, where, o,
			       dgram_accept, out);
}

/* The greeting (see the top), waiting for room until d; the listener gone
 * (ECONNREFUSED) or taken by another peer (EPERM) is IPC_REFUSED. */
static enum ipc_status greet(int fd, const struct ipc_deadline *d)
{
	struct msghdr m = {.msg_iovlen = 0};
	enum ipc_status st;
	int err = 0;

	for (;;) {
		if (sys_sendmsg(fd, &m, MSG_NOSIGNAL) >= 0)
			return IPC_OK;
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
			st = ipc_wait_fd(fd, POLLOUT, d, &err);
			if (st == IPC_OK)
				continue;
			errno = st == IPC_TIMEOUT ? ETIMEDOUT : err;
			return st;
		case ECONNREFUSED:
		case EPERM:
			return IPC_REFUSED;
		default:
			return IPC_SYSTEM;
		}
	}
}

/* A socket connected to the listener at a, then bound to a name of its own
 * (see the top); -1 with *st and errno. */
static int connected_socket(const struct unix_addr *a,
			    const struct ipc_deadline *d, struct unix_name *name,
			    enum ipc_status *st)
{
	struct unix_addr mine;
	int fd = sys_socket(AF_UNIX, SOCK_DGRAM | IPC_UNIX_SOCK_FLAGS, 0);

	*st = IPC_SYSTEM;
	if (fd < 0)
		return -1;
	*st = ipc_unix_connect_by(fd, a, d);
	if (*st == IPC_SYSTEM && errno == EPERM)
		*st = IPC_REFUSED; /* the listener took another peer */
	if (*st == IPC_OK &&
	    ipc_unix_bind(fd, ipc_unix_is_abstract(a) ? "@" : "", name, &mine) == 0)
		return fd;
	if (*st == IPC_OK)
		*st = IPC_SYSTEM;
	ipc_close_quietly(fd);
	return -1;
}

static enum ipc_status dgram_connect(const char *where, const struct ipc_opts *o,
				     int timeout_ms, struct ipc_channel **out)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct unix_name name;
	struct unix_addr a;
	enum ipc_status st;
	int fd, err;

	if (ipc_unix_parse_address(where, &a) != 0)
		return IPC_INVALID;
	if ((fd = connected_socket(&a, &d, &name, &st)) < 0)
		return st;
	*out = end_new(&ipc_backend_unix_dgram, &dgram_ops, o, fd);
	if (*out == NULL) {
		err = errno;
		ipc_unix_unbind(&name);
		ipc_close_quietly(fd);
		errno = err;
		return IPC_SYSTEM;
	}
	end_of(*out)->name = name;
	if ((st = greet(fd, &d)) == IPC_OK) {
		(*out)->msg_end_mark = 1;
		return IPC_OK;
	}
	/* Nothing reached the listener, so no end mark goes at close
	 * (msg_end_mark is set only once the greeting went). */
	err = errno;
	ipc_channel_close(*out);
	*out = NULL;
	errno = err;
	return st;
}

const struct ipc_backend ipc_backend_unix_dgram = {
	.name = "unix-dgram",
	.address_scheme = "unix-dgram",
	.duplex = 1,
	.keeps_boundaries = 1,
	.pair = dgram_pair,
	.listen = dgram_listen,
	.connect = dgram_connect,
};

const struct ipc_backend ipc_backend_unix_seqpacket = {
	.name = "unix-seqpacket",
	.address_scheme = "unix-seqpacket",
	.duplex = 1,
	.keeps_boundaries = 1,
	.pair = seqpacket_pair,
	.listen = seqpacket_listen,
	.connect = seqpacket_connect,
};
