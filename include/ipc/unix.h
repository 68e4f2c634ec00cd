/*
 * What only unix-stream channels do: tell who the peer is, and pass open
 * descriptors along with a message (SCM_RIGHTS).
 *
 * Both ends of a unix-stream channel check the peer's effective uid when
 * they connect (SO_PEERCRED): a peer of another uid is IPC_REFUSED, with
 * EACCES (errno for ipc_connect, ipc_listener_errno for ipc_accept, which
 * closes that connection and returns), unless ipc_opts.allow_any_uid is set
 * on that end.
 *
 * Descriptors travel with the first byte of their message and come out with
 * that message, however the stream was cut into reads: ipc_recv_fds returns
 * exactly the descriptors that ipc_send_fds sent with the message it
 * returns. Received descriptors are close-on-exec. Those no caller takes are
 * closed, never left open: those of a message that plain ipc_recv returned
 * (by the next receive from the socket, the next ipc_recv_fds, or
 * ipc_channel_close, whichever comes first), those that came with a stream
 * that then broke, and those still waiting when the channel closes.
 */
#ifndef IPC_UNIX_H
#define IPC_UNIX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/channel.h"

/* At most this many descriptors go with one message (Linux's SCM_MAX_FD). */
#define IPC_UNIX_MAX_FDS 253

/* The peer as the kernel saw it when the connection was made: the process
 * that connected (for an accepted end) or that listened (for a connecting
 * end); for a pair, this process. */
struct ipc_peer_cred {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* IPC_OK, or IPC_INVALID if ch is not a unix-stream channel. */
enum ipc_status ipc_unix_peer_cred(const struct ipc_channel *ch,
				   struct ipc_peer_cred *out);

/*
 * ipc_send, and nfds descriptors (0..IPC_UNIX_MAX_FDS) with the message. The
 * caller keeps its descriptors: the receiver gets its own duplicates.
 * IPC_INVALID for a channel that is not unix-stream or too many
 * descriptors; a descriptor that is not open is IPC_SYSTEM with EBADF, and
 * the message is not sent (the channel stays usable).
 */
enum ipc_status ipc_send_fds(struct ipc_channel *ch, uint16_t type,
			     const void *data, size_t len, const int *fds,
			     size_t nfds, int timeout_ms);

/*
 * ipc_recv, and the descriptors that came with the message: up to max of
 * them into fds[], their number in *nfds (0 if the message carried none).
 * They are the caller's to close.
 *
 * If the message carried more than max descriptors, or the kernel could not
 * give all of them (MSG_CTRUNC: this process ran out of descriptors), the
 * result is IPC_SYSTEM with ipc_channel_errno() EMSGSIZE and *nfds 0: every
 * descriptor of that message that arrived is closed. *msg still holds the
 * message and the stream goes on with the next one.
 */
enum ipc_status ipc_recv_fds(struct ipc_channel *ch, struct ipc_msg *msg,
			     int *fds, size_t max, size_t *nfds,
			     int timeout_ms);

#endif
