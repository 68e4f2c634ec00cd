/* What backends share behind include/ipc/channel.h (private to impl/). */
#ifndef IPC_CHANNEL_IMPL_H
#define IPC_CHANNEL_IMPL_H

#include <limits.h>
#include <sys/uio.h>
#include <time.h>

#include "ipc/channel.h"

#define IPC_READ_CHUNK (64u * 1024u)

struct ipc_channel;
struct ipc_deadline;

/*
 * A mechanism that keeps message boundaries (queues, datagram and seqpacket
 * sockets): every IPCF frame travels as one kernel message. msg.c frames,
 * waits and tells the end of a stream; the backend moves one kernel message
 * at a time, never waiting.
 */
struct ipc_msg_ops {
	/* One kernel message out (iov: a whole frame; n 0: the end mark, a
	 * message of 0 bytes): IPC_OK; IPC_TIMEOUT for "no room now";
	 * IPC_PEER_CLOSED (the mechanism says the receiver is gone);
	 * IPC_SYSTEM with ch->err. EINTR is retried inside. */
	enum ipc_status (*try_send)(struct ipc_channel *ch, const struct iovec *iov,
				    int n);
	/* One kernel message in, at most cap bytes, its length in *len (0: the
	 * end mark): IPC_OK; IPC_TIMEOUT for "nothing now"; IPC_PEER_CLOSED
	 * (the mechanism says the sender is gone); IPC_REMOVED; IPC_SYSTEM. */
	enum ipc_status (*try_recv)(struct ipc_channel *ch, void *buf, size_t cap,
				    size_t *len);
	/* Called when the link shows the other side gone (may be NULL; may
	 * come more than once): a queue nobody else can use is removed here. */
	void (*peer_gone)(struct ipc_channel *ch);
	/* For a mechanism without a descriptor to poll (may be NULL): whether
	 * a try would find a message (POLLIN) or room for the last one tried
	 * (POLLOUT) now. A try's "nothing now" is checked against it before
	 * it ends a call, since a fault plan can say so falsely. */
	int (*ready)(struct ipc_channel *ch, short events);
};

/*
 * A mechanism that moves bytes itself, with no descriptor to poll (the
 * shared-memory rings): the stream core frames, decodes and keeps the
 * deadlines as for any byte stream, and calls these where it would call
 * write, read and poll. The end's rfd and wfd are its link (a socket whose
 * hang-up says the peer is gone): they say which ways the end goes and are
 * closed with it.
 */
struct ipc_bytes_ops {
	/* As much of iov as fits now; -1 with EAGAIN if none does, EPIPE if
	 * the receiver is gone. */
	ssize_t (*write_some)(struct ipc_channel *ch, const struct iovec *iov,
			      int n);
	/* Up to len bytes; 0 when the sender is gone and nothing is left; -1
	 * with EAGAIN if nothing is there now. */
	ssize_t (*read_some)(struct ipc_channel *ch, void *buf, size_t len);
	/* Until a write (POLLOUT) or read (POLLIN) may do something, the peer
	 * is gone, or the deadline: IPC_OK, IPC_TIMEOUT or IPC_SYSTEM. */
	enum ipc_status (*wait)(struct ipc_channel *ch, short events,
				const struct ipc_deadline *d);
	/* Ends that several processes share (may be NULL): each message is
	 * one sender's and one receiver's alone. begin_send runs before the
	 * first byte of a message (it may wait until d, and sets the encoder
	 * seq the stream goes on with); end_send after its last, or after the
	 * send stopped (st, and how many bytes went). begin_recv runs before
	 * each read while the end does not own the receiving side; end_recv
	 * whenever a receive returns, which gives the side up if no message is
	 * half read. The end_* return the call's status: st, or IPC_SYSTEM if
	 * the side could not be given up (then no one can use it again). */
	enum ipc_status (*begin_send)(struct ipc_channel *ch,
				      const struct ipc_deadline *d);
	enum ipc_status (*end_send)(struct ipc_channel *ch, enum ipc_status st,
				    size_t written);
	enum ipc_status (*begin_recv)(struct ipc_channel *ch,
				      const struct ipc_deadline *d);
	enum ipc_status (*end_recv)(struct ipc_channel *ch, enum ipc_status st);
};

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
	/* A message mechanism (msg.c), or NULL for a byte stream. Waiting
	 * polls rfd (receiving) or wfd (sending) where the mechanism has a
	 * descriptor, else sleeps briefly between tries. */
	const struct ipc_msg_ops *msg;
	/* A mechanism that moves bytes itself, or NULL (see ipc_bytes_ops). */
	const struct ipc_bytes_ops *bytes;
	size_t msg_cap; /* the longest kernel message a receive takes */
	uint32_t msg_largest; /* the longest frame payload the mechanism carries */
	int msg_sends, msg_receives;
	/* The ends of a pair are joined by a link, one stream socket each (or
	 * -1): the kernel counts its copies across fork() as it does a pipe's,
	 * so when every copy of one end is closed the other sees it hang up.
	 * That is how a queue's receiver learns that the sender is gone, and
	 * the sender that the receiver is. Ends without a link (from
	 * addresses) send the end mark at close instead. */
	int link_fd;
	int link_gone;
	int msg_end_mark; /* ends with the end mark (set for ends from addresses
			     whose mechanism cannot tell the receiver) */
	unsigned backoff_step; /* the next sleep of a wait without descriptor */
	unsigned ready_spins;  /* tries since, though ready (ops->ready) */
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
/* What is left of d as a time on clock, for the calls that take one
 * (sem_timedwait, mq_timedsend, pthread_mutex_timedlock, ...). d must have
 * a deadline. */
struct timespec ipc_deadline_on(clockid_t clock, const struct ipc_deadline *d);
/* Waits until fd is ready for events: IPC_OK, IPC_TIMEOUT or IPC_SYSTEM
 * (errno in *err). Retries EINTR. */
enum ipc_status ipc_wait_fd(int fd, short events,
			    const struct ipc_deadline *d, int *err);

/* Sleeps up to 10 ms, never past d, before a retry (a full backlog, no
 * free port); an error only shortens the sleep. */
void ipc_pause_briefly(const struct ipc_deadline *d);

/* A private directory (0700, mkdtemp under $TMPDIR or /tmp) into out,
 * noted in the object registry (registry.h) until ipc_remove_private_dir()
 * removes it: a process killed first leaves it to the sweeper. */
int ipc_private_dir(char *out, size_t len);
int ipc_remove_private_dir(const char *dir);

/* A /proc/sys file's one line, newline included, into text (at most cap
 * - 1 bytes, then a NUL); -1 with errno if it cannot be read whole (EIO). */
int ipc_read_proc_line(const char *path, char *text, size_t cap);
/* A non-negative number from a /proc/sys file; -1 with errno if it cannot
 * be read (EIO if it is not a number). */
int ipc_read_proc_long(const char *path, long *out);

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

/* The stream core's receive steps, shared with msg.c: decode what is
 * buffered (IPC_OK with *msg when a message is complete, IPC_TIMEOUT as
 * "need more" when the buffer ran dry); the fault as a status; the end of
 * the peer's stream (clean on a message boundary, else truncated). */
enum ipc_status ipc_decode_buffered(struct ipc_channel *ch, struct ipc_msg *msg);
enum ipc_status ipc_stream_fault(struct ipc_channel *ch);
enum ipc_status ipc_end_of_stream(struct ipc_channel *ch);

/* ---- message mechanisms (msg.c) ------------------------------------------ */

/* An end over a message mechanism: frames of at most largest_frame payload
 * bytes (the options may ask for less), receives of at most recv_cap bytes
 * (0: one frame of the limit, and a byte more, so a longer kernel message
 * shows). Descriptors -1: the backend sets what it polls. NULL if memory
 * ran out. */
struct ipc_channel *ipc_msg_channel_new(const struct ipc_backend *b,
					const struct ipc_opts *o,
					const struct ipc_msg_ops *ops,
					uint32_t largest_frame, size_t recv_cap,
					int sends, int receives);
enum ipc_status ipc_msg_send(struct ipc_channel *ch, uint16_t type,
			     const void *data, size_t len, int timeout_ms);
enum ipc_status ipc_msg_recv(struct ipc_channel *ch, struct ipc_msg *msg,
			     int timeout_ms);
enum ipc_status ipc_msg_send_encoded(struct ipc_channel *ch,
				     const uint8_t *frames, size_t len,
				     int timeout_ms);
/* At close, before the backend's on_close: an end with msg_end_mark that
 * sends, and is not broken or ended, sends the end mark, waiting at most
 * IPC_MSG_END_WAIT_MS for room; an end with a link calls peer_gone if the
 * other side is gone already; then the link is closed. */
#define IPC_MSG_END_WAIT_MS 100
void ipc_msg_close(struct ipc_channel *ch);
enum ipc_status ipc_msg_send_end(struct ipc_channel *ch, int timeout_ms);
/* Two ends of a pair joined by a new link: IPC_OK, or IPC_SYSTEM. */
enum ipc_status ipc_msg_link(struct ipc_channel *a, struct ipc_channel *b);
/* A pair that could not be made: closes the ends made so far (either may
 * be NULL), sets both to NULL and returns IPC_SYSTEM, errno as it was. */
enum ipc_status ipc_msg_pair_failed(struct ipc_channel **a,
				    struct ipc_channel **b);
/* Whether the other side is gone: the link hung up (ends with a link). */
int ipc_msg_peer_gone(struct ipc_channel *ch);

/* Parses "scheme:rest"; returns the backend for the scheme or NULL. */
const struct ipc_backend *ipc_backend_for_address(const char *address,
						   const char **rest);

void ipc_listener_free(struct ipc_listener *l);

#endif
