/* What backends share behind include/ipc/channel.h (private to impl/). */
#ifndef IPC_CHANNEL_IMPL_H
#define IPC_CHANNEL_IMPL_H

#include <limits.h>

#include "ipc/channel.h"

#define IPC_READ_CHUNK (64u * 1024u)

struct ipc_channel {
	const struct ipc_backend *backend;
	int rfd;       /* -1 if this end does not receive */
	int wfd;       /* -1 if this end does not send; == rfd for sockets */
	int is_socket; /* send with MSG_NOSIGNAL; receive with recvmsg */
	uint32_t max_message;
	struct ipcf_encoder enc;
	struct ipcf_decoder dec;
	uint8_t *rbuf; /* bytes read and not yet decoded: rbuf[rpos..rlen) */
	size_t rpos, rlen;
	/* IPC_OK, or what every later send answers after one stopped inside a
	 * message: IPC_PEER_CLOSED if the peer went away, else IPC_BROKEN. */
	enum ipc_status send_stopped;
	int eof;
	int err;
	enum ipcf_fault fault;
	uint64_t fault_offset;
	/* What the end created on disk, removed at close (may be NULL). */
	char *unlink_path;
	char *rmdir_path;
	/* Backend extras, released by on_close (may be NULL). */
	void *extra;
	void (*on_close)(struct ipc_channel *ch);
	/* How bytes come in; NULL means read(2). A backend that takes
	 * ancillary data (descriptors) with them puts recvmsg(2) here. */
	ssize_t (*read_some)(struct ipc_channel *ch, void *buf, size_t len);
	/* Ancillary data for the first byte of the next send (SCM_RIGHTS), or
	 * NULL; ipc_send_frames sends it once and clears it. */
	const void *control;
	size_t control_len;
};

struct ipc_listener {
	const struct ipc_backend *backend;
	struct ipc_opts opts;
	int fd;
	int err;
	char address[PATH_MAX + 16];
	char *unlink_path;
	char *rmdir_path;
	enum ipc_status (*accept)(struct ipc_listener *l, struct ipc_channel **out,
				  int timeout_ms);
	void (*on_close)(struct ipc_listener *l);
};

/* A channel end over descriptors (either may be -1), which it then owns:
 * makes them non-blocking. NULL with errno set if memory ran out (the
 * descriptors are closed then too). */
struct ipc_channel *ipc_stream_new(const struct ipc_backend *b,
				   const struct ipc_opts *o, int rfd, int wfd,
				   int is_socket);

/* Both ends of a pair over connected descriptors: *a over a_rfd/a_wfd, *b
 * over b_rfd/b_wfd (-1 for a way an end lacks; a socket end gives its one
 * descriptor twice). On failure every descriptor is closed, both ends are
 * NULL and errno says why. */
enum ipc_status ipc_stream_pair(const struct ipc_backend *be,
				const struct ipc_opts *o, int a_rfd, int a_wfd,
				int b_rfd, int b_wfd, int is_socket,
				struct ipc_channel **a, struct ipc_channel **b);

/* The frame limit a backend uses when the options give none. */
uint32_t ipc_opts_max_message(const struct ipc_opts *o);
uint32_t ipc_opts_max_frame(const struct ipc_opts *o, uint32_t backend_default);

/* Deadlines on CLOCK_MONOTONIC: timeout_ms -1 means none. */
struct ipc_deadline {
	int forever;
	long long at_ns;
};
struct ipc_deadline ipc_deadline_in(int timeout_ms);
/* Milliseconds left for poll(): -1 for ever, 0 when passed (rounded up, so
 * a wait never ends before its deadline). */
int ipc_deadline_ms(const struct ipc_deadline *d);
/* Waits until fd is ready for events: IPC_OK, IPC_TIMEOUT or IPC_SYSTEM
 * (errno in *err). Retries EINTR. */
enum ipc_status ipc_wait_fd(int fd, short events,
			    const struct ipc_deadline *d, int *err);

/* Sleeps up to 10 ms, never past d, before a retry (a full backlog, no
 * free port); an error only shortens the sleep. */
void ipc_pause_briefly(const struct ipc_deadline *d);

/* A private directory (0700, mkdtemp under $TMPDIR or /tmp) into out. */
int ipc_private_dir(char *out, size_t len);

/* Closes a descriptor, keeping errno: for error paths. */
void ipc_close_quietly(int fd);

/* SIGPIPE blocked in this thread while writing to a pipe, so that a reader
 * gone is EPIPE, not death. Restoring takes a SIGPIPE the writes raised
 * (raised: one saw EPIPE) off the pending set, never one pending before the
 * block, then unblocks it unless it was blocked before. */
struct ipc_sigpipe_guard {
	int active;
	int was_pending;
	int was_blocked;
};
void ipc_sigpipe_block(struct ipc_sigpipe_guard *g);
void ipc_sigpipe_restore(struct ipc_sigpipe_guard *g, int raised);

/* Parses "scheme:rest"; returns the backend for the scheme or NULL. */
const struct ipc_backend *ipc_backend_for_address(const char *address,
						   const char **rest);

void ipc_listener_free(struct ipc_listener *l);

#endif
