/*
 * Addresses, names, peers and listeners of the Unix-domain socket backends
 * (unix_addr.h): unix-stream (chan_unix.c), unix-dgram and unix-seqpacket
 * (chan_unix_msg.c).
 */
#include "unix_addr.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sys.h"

#define UNIX_BACKLOG 16
/* Tries at a fresh abstract name before giving up (each taken already). */
#define UNIX_NAME_TRIES 8
#define UNIX_SOCKET_NAME "sock"

/* ---- addresses ----------------------------------------------------------- */

int ipc_unix_parse_address(const char *where, struct unix_addr *a)
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

int ipc_unix_is_abstract(const struct unix_addr *a)
{
	return a->sun.sun_path[0] == '\0';
}

void ipc_unix_format_address(const char *scheme, const struct unix_addr *a,
			     char *out, size_t len)
{
	if (ipc_unix_is_abstract(a))
		snprintf(out, len, "%s:@%.*s", scheme,
			 (int)(a->len - offsetof(struct sockaddr_un, sun_path) - 1),
			 a->sun.sun_path + 1);
	else
		snprintf(out, len, "%s:%s", scheme, a->sun.sun_path);
}

int ipc_unix_same_address(const struct unix_addr *x, const struct unix_addr *y)
{
	return x->len == y->len && x->len <= sizeof x->sun &&
	       memcmp(&x->sun, &y->sun, x->len) == 0;
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

/* ---- names --------------------------------------------------------------- */

/* Binds fd at a and notes the identity of the socket file made. */
static int bind_at(int fd, const struct unix_addr *a, struct unix_name *n)
{
	struct stat st;
	int err;

	if (sys_bind(fd, (const struct sockaddr *)&a->sun, a->len) != 0)
		return -1;
	if (ipc_unix_is_abstract(a))
		return 0;
	if (sys_lstat(a->sun.sun_path, &st) == 0) {
		memcpy(n->path, a->sun.sun_path, sizeof n->path);
		n->dev = st.st_dev;
		n->ino = st.st_ino;
		return 0;
	}
	/* Without its identity the file could not be removed safely later:
	 * remove it now, while it is surely the one just made. */
	err = errno;
	sys_unlink(a->sun.sun_path);
	errno = err;
	return -1;
}

/* A failed bind leaves the socket unbound, so the next name is tried on the
 * same socket. */
static int bind_fresh_name(int fd, struct unix_name *n, struct unix_addr *a)
{
	for (int i = 0;; i++) {
		char name[64];

		fresh_name(name, sizeof name);
		if (ipc_unix_parse_address(name, a) != 0)
			return -1;
		if (bind_at(fd, a, n) == 0)
			return 0;
		if (errno != EADDRINUSE || i + 1 == UNIX_NAME_TRIES)
			return -1;
	}
}

/* dir/sock in a fresh private directory, which the name then owns. */
static int bind_private_file(int fd, struct unix_name *n, struct unix_addr *a)
{
	char dir[sizeof a->sun.sun_path];
	char path[sizeof a->sun.sun_path + 8];
	int err;

	if (ipc_private_dir(dir, sizeof dir) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", dir, UNIX_SOCKET_NAME);
	if (ipc_unix_parse_address(path, a) == 0 &&
	    (n->dir = strdup(dir)) != NULL && bind_at(fd, a, n) == 0)
		return 0;
	err = errno;
	free(n->dir);
	n->dir = NULL;
	ipc_remove_private_dir(dir);
	errno = err;
	return -1;
}

int ipc_unix_bind(int fd, const char *where, struct unix_name *n,
		  struct unix_addr *a)
{
	memset(n, 0, sizeof *n);
	if (strcmp(where, "") == 0)
		return bind_private_file(fd, n, a);
	if (strcmp(where, "@") == 0)
		return bind_fresh_name(fd, n, a);
	if (ipc_unix_parse_address(where, a) != 0)
		return -1;
	return bind_at(fd, a, n);
}

void ipc_unix_unbind(struct unix_name *n)
{
	struct stat st;

	if (n->path[0] != '\0' && sys_lstat(n->path, &st) == 0 &&
	    st.st_dev == n->dev && st.st_ino == n->ino)
		sys_unlink(n->path);
	n->path[0] = '\0';
	if (n->dir != NULL)
		ipc_remove_private_dir(n->dir);
	free(n->dir);
	n->dir = NULL;
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

enum ipc_status ipc_unix_admit_peer(const struct ipc_peer_cred *peer,
				    const struct ipc_opts *o, int *err)
{
	if ((o != NULL && o->allow_any_uid) || peer->uid == sys_geteuid())
		return IPC_OK;
	*err = EACCES;
	return IPC_REFUSED;
}

/* ---- connecting ---------------------------------------------------------- */

/* A full backlog is EAGAIN, and an AF_UNIX socket has no connection under
 * way to poll for, so it tries again shortly. */
enum ipc_status ipc_unix_connect_by(int fd, const struct unix_addr *a,
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

enum ipc_status ipc_unix_connect_end(int type, const char *where,
				     const struct ipc_opts *o,
				     const struct ipc_deadline *d,
				     ipc_unix_end_fn make,
				     struct ipc_channel **out)
{
	struct ipc_peer_cred peer;
	struct unix_addr a;
	enum ipc_status st;
	int err = 0, fd;

	if (ipc_unix_parse_address(where, &a) != 0)
		return IPC_INVALID;
	if ((fd = sys_socket(AF_UNIX, type | IPC_UNIX_SOCK_FLAGS, 0)) < 0)
		return IPC_SYSTEM;
	if ((st = ipc_unix_connect_by(fd, &a, d)) == IPC_OK &&
	    (st = read_peer(fd, &peer, &err)) == IPC_OK &&
	    (st = ipc_unix_admit_peer(&peer, o, &err)) == IPC_OK)
		return make(fd, o, &peer, out);
	if (err != 0)
		errno = err;
	ipc_close_quietly(fd);
	return st;
}

/* ---- listening ----------------------------------------------------------- */

static void unix_listener_close(struct ipc_listener *l)
{
	ipc_unix_unbind(&((struct unix_listener *)l)->name);
}

/* A socket of type bound at where, listening (or, a datagram socket, taking
 * its senders' credentials); the name made in ul. */
static int listening_socket(struct unix_listener *ul, int type,
			    const char *where, struct unix_addr *a)
{
	static const int on = 1;
	int fd = sys_socket(AF_UNIX, type | IPC_UNIX_SOCK_FLAGS, 0);
	int err;

	if (fd < 0)
		return -1;
	if (type == SOCK_DGRAM &&
	    sys_setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
		goto fail;
	if (ipc_unix_bind(fd, where, &ul->name, a) != 0)
		goto fail;
	if (type != SOCK_DGRAM && sys_listen(fd, UNIX_BACKLOG) != 0) {
		err = errno;
		ipc_unix_unbind(&ul->name);
		errno = err;
		goto fail;
	}
	return fd;
fail:
	ipc_close_quietly(fd);
	return -1;
}

enum ipc_status ipc_unix_listen(const struct ipc_backend *b, int type,
				const char *where, const struct ipc_opts *o,
				enum ipc_status (*accept)(struct ipc_listener *l,
							  struct ipc_channel **out,
							  int timeout_ms),
				struct ipc_listener **out)
{
	struct unix_listener *ul;
	struct unix_addr a;
	int err;

	if (strcmp(where, "") != 0 && strcmp(where, "@") != 0 &&
	    ipc_unix_parse_address(where, &a) != 0)
		return IPC_INVALID;
	if ((ul = calloc(1, sizeof *ul)) == NULL)
		return IPC_SYSTEM;
	ul->base.backend = b;
	ul->base.opts = o != NULL ? *o : (struct ipc_opts){0};
	ul->base.accept = accept;
	ul->base.on_close = unix_listener_close;
	ul->base.fd = listening_socket(ul, type, where, &a);
	if (ul->base.fd < 0) {
		err = errno;
		free(ul);
		errno = err;
		return IPC_SYSTEM;
	}
	ipc_unix_format_address(b->address_scheme, &a, ul->base.address,
				sizeof ul->base.address);
	*out = &ul->base;
	return IPC_OK;
}

enum ipc_status ipc_unix_accept_end(struct ipc_listener *l,
				    const struct ipc_deadline *d, int only_self,
				    ipc_unix_end_fn make, struct ipc_channel **out)
{
	for (;;) {
		struct ipc_peer_cred peer;
		enum ipc_status st;
		int fd = sys_accept4(l->fd, NULL, NULL, IPC_UNIX_SOCK_FLAGS);

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
			st = ipc_unix_admit_peer(&peer, &l->opts, &l->err);
		if (st != IPC_OK) {
			ipc_close_quietly(fd);
			errno = l->err;
			return st;
		}
		if ((st = make(fd, &l->opts, &peer, out)) != IPC_OK)
			l->err = errno;
		return st;
	}
}
