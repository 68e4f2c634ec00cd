/*
 * What the Unix-domain socket backends share (private to impl/): addresses
 * "PATH" and "@NAME", the names a socket binds and their removal, the peer's
 * credentials and the uid check, connecting, and listeners.
 *
 * A listener never takes over a path that exists, and removes only the
 * socket file it made, if that is still the one at the path.
 */
#ifndef IPC_UNIX_ADDR_H
#define IPC_UNIX_ADDR_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "channel_impl.h"
#include "ipc/unix.h"

#define IPC_UNIX_SOCK_FLAGS (SOCK_CLOEXEC | SOCK_NONBLOCK)

struct unix_addr {
	struct sockaddr_un sun;
	socklen_t len;
};

/* "PATH" or "@NAME"; -1 with errno EINVAL (empty) or ENAMETOOLONG. */
int ipc_unix_parse_address(const char *where, struct unix_addr *a);
int ipc_unix_is_abstract(const struct unix_addr *a);
/* "SCHEME:PATH" or "SCHEME:@NAME". */
void ipc_unix_format_address(const char *scheme, const struct unix_addr *a,
			     char *out, size_t len);
/* The same name, as the kernel gives them (recvmsg's msg_name). */
int ipc_unix_same_address(const struct unix_addr *x, const struct unix_addr *y);

/* A name a socket of this process bound: its socket file, known by its
 * identity, and the private directory made for it (NULL if none); or an
 * abstract name (path ""), which leaves nothing on disk. */
struct unix_name {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	char *dir;
};

/* Binds fd at where, "PATH" or "@NAME", or "" (a socket file in a fresh
 * private directory) or "@" (a fresh abstract name); the address in *a. A
 * path that exists is EADDRINUSE and is left alone. -1 with errno, and
 * nothing made is left. */
int ipc_unix_bind(int fd, const char *where, struct unix_name *n,
		  struct unix_addr *a);
/* Removes the socket file if it is still the one bound, then the private
 * directory. */
void ipc_unix_unbind(struct unix_name *n);

/* Whether a peer is admitted: the same effective uid as this process, or
 * opts->allow_any_uid; IPC_REFUSED with *err EACCES if not. */
enum ipc_status ipc_unix_admit_peer(const struct ipc_peer_cred *peer,
				    const struct ipc_opts *o, int *err);

/* Connects fd to a by d: IPC_OK, or the status with errno; no one there is
 * IPC_REFUSED. A full backlog (EAGAIN) is tried again shortly. */
enum ipc_status ipc_unix_connect_by(int fd, const struct unix_addr *a,
				    const struct ipc_deadline *d);

/* A backend's end over a connected socket fd, which it owns from then on
 * (closing it on failure), whose peer is peer; errno on failure. */
typedef enum ipc_status (*ipc_unix_end_fn)(int fd, const struct ipc_opts *o,
					   const struct ipc_peer_cred *peer,
					   struct ipc_channel **out);

/* An end made by make over a new socket of type (SOCK_STREAM or
 * SOCK_SEQPACKET) connected to where ("PATH" or "@NAME", else IPC_INVALID)
 * by d, whose peer (the listener, SO_PEERCRED) is admitted; otherwise the
 * status with errno. */
enum ipc_status ipc_unix_connect_end(int type, const char *where,
				     const struct ipc_opts *o,
				     const struct ipc_deadline *d,
				     ipc_unix_end_fn make,
				     struct ipc_channel **out);

/* A listener of backend b on a new socket of type bound at where (as
 * ipc_unix_bind), which ipc_listener_address() then shows. A stream or
 * seqpacket socket listens; a datagram socket gets SO_PASSCRED instead, so
 * that each datagram brings its sender's credentials. */
struct unix_listener {
	struct ipc_listener base; /* first: ipc_listener_free frees this */
	struct unix_name name;
};
enum ipc_status ipc_unix_listen(const struct ipc_backend *b, int type,
				const char *where, const struct ipc_opts *o,
				enum ipc_status (*accept)(struct ipc_listener *l,
							  struct ipc_channel **out,
							  int timeout_ms),
				struct ipc_listener **out);
/*
 * An end made by make over one connection of a listening socket, waiting
 * until d. only_self (a pair's listener, which others may find):
 * connections from other processes are closed and the wait goes on.
 * Otherwise a peer that is not admitted (SO_PEERCRED) is IPC_REFUSED. The
 * reason of a failure in l->err.
 */
enum ipc_status ipc_unix_accept_end(struct ipc_listener *l,
				    const struct ipc_deadline *d, int only_self,
				    ipc_unix_end_fn make, struct ipc_channel **out);

#endif
