/*
 * Channels: typed messages over any IPC mechanism, framed by IPCF v1.
 *
 * A channel end sends and/or receives whole messages (type 1..65535, 0 bytes
 * up to the channel's message limit, 16 MiB by default), each call with a
 * timeout, each outcome a status. Every mechanism is a backend in one table
 * (ipc_backends), so suites, fuzz targets, stress and benchmarks iterate over
 * all of them; a new backend is one file and one table entry.
 *
 * Two ways to get ends:
 *  - ipc_channel_pair(): two connected ends in this process; fork() and
 *    close the unused end in each process to talk parent to child.
 *  - addresses, for the named mechanisms, between unrelated processes:
 *    ipc_listen() + ipc_accept() on one side, ipc_connect() on the other.
 *    "fifo:PATH", "unix:PATH", "unix:@NAME" (abstract), "tcp:HOST:PORT",
 *    "unix-dgram:PATH", "unix-seqpacket:PATH" (and "...:@NAME"),
 *    "shm-ring:PATH" (or "@NAME": a shared-memory ring handed over a Unix
 *    socket there).
 *
 * Descriptors are non-blocking and close-on-exec; a peer that went away is a
 * status, never a SIGPIPE death. A channel end is used by one thread at a
 * time.
 */
#ifndef IPC_CHANNEL_H
#define IPC_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/ipcf.h"

enum ipc_status {
	IPC_OK = 0,       /* sent, or received */
	IPC_TIMEOUT,      /* the deadline passed; a receive can be retried */
	IPC_PEER_CLOSED,  /* end of stream on a message boundary, or EPIPE */
	IPC_TOO_BIG,      /* over the message limit: refused before sending, or
			     the peer's frame header said so (IPCF too-big) */
	IPC_CORRUPT,      /* the stream broke IPCF v1: see ipc_channel_fault() */
	IPC_NO_READER,    /* a FIFO has no reader (ENXIO) */
	IPC_REFUSED,      /* the peer's credentials are not allowed, or no one
			     listens at the address */
	IPC_BROKEN,       /* an earlier send stopped inside a message (timeout or
			     error): the stream is unusable; close the channel.
			     (If the peer was gone, sends say IPC_PEER_CLOSED.) */
	IPC_SYSTEM,       /* a system call failed: see ipc_channel_errno() */
	IPC_INVALID,      /* a bad argument: type 0, wrong direction, bad address */
	IPC_REMOVED,      /* the queue was removed while in use (EIDRM): by its
			     owner, by `ipch clean`, or by hand */
};

const char *ipc_status_name(enum ipc_status status);

struct ipc_channel;
struct ipc_listener;

struct ipc_opts {
	uint32_t max_message;  /* 0: IPCF_DEFAULT_LIMIT */
	uint32_t max_frame;    /* 0: the backend's choice */
	int allow_any_uid;     /* unix-stream, -seqpacket, -dgram: accept peers
				  of other uids */
	int abstract;          /* unix-stream pairs: abstract name, no file */
	int ipv6;              /* tcp pairs: ::1 instead of 127.0.0.1 */
	long msg_type;         /* sysv-msg: the message type an end sends and
				  receives (> 0; 0 means 1) */
	long queue_depth;      /* posix-mq: mq_maxmsg of a queue made (0: the
				  system's default) */
	long queue_msgsize;    /* posix-mq: mq_msgsize of a queue made (0: the
				  system's default) */
	size_t ring_size;      /* shm-ring, shm-mpmc-*: bytes of each ring, a
				  power of two from 4 KiB to 256 MiB (0: 1 MiB);
				  a listener's choice is what its peers get */
};

struct ipc_backend {
	const char *name;      /* "pipe", "fifo", "unix-stream", "tcp", ... */
	const char *address_scheme; /* "fifo", "unix", "tcp", or NULL */
	int duplex;            /* both ends send and receive */
	int keeps_boundaries;  /* a message mechanism: each frame travels as
				  one kernel message, never cut, so no
				  transfer is ever short */
	int shared_memory;     /* bytes move through shared memory, not
				  system calls: no transfer to cut short, and
				  calls only to wait and to look at the peer */
	int shared_ends;       /* copies of one end in several processes (after
				  fork) may send, or receive, at once: each
				  message stays whole and goes to one receiver */
	/* Two connected ends: *a sends, *b receives (and the reverse if duplex). */
	enum ipc_status (*pair)(const struct ipc_opts *o, struct ipc_channel **a,
				struct ipc_channel **b);
	enum ipc_status (*listen)(const char *where, const struct ipc_opts *o,
				  struct ipc_listener **out);
	enum ipc_status (*connect)(const char *where, const struct ipc_opts *o,
				   int timeout_ms, struct ipc_channel **out);
};

/* The table, NULL-terminated, and lookup by name (NULL if none). */
extern const struct ipc_backend *const ipc_backends[];
const struct ipc_backend *ipc_backend_find(const char *name);

enum ipc_status ipc_channel_pair(const struct ipc_backend *backend,
				 const struct ipc_opts *opts,
				 struct ipc_channel **a, struct ipc_channel **b);

/* ---- messages ------------------------------------------------------------ */

struct ipc_msg {
	uint16_t type;
	uint32_t seq;        /* seq of its first frame */
	uint32_t frames;     /* how many frames carried it */
	size_t length;
	const uint8_t *data; /* valid until the next receive or close */
};

/* timeout_ms: -1 waits for ever, 0 does not wait. */
enum ipc_status ipc_send(struct ipc_channel *ch, uint16_t type,
			 const void *data, size_t len, int timeout_ms);
enum ipc_status ipc_recv(struct ipc_channel *ch, struct ipc_msg *msg,
			 int timeout_ms);

/*
 * Sends bytes that are IPCF v1 frames already (from an ipcf_encoder, or
 * relayed from elsewhere): on a byte stream as they are; on a message
 * mechanism one kernel message per frame, so they must be whole frames, each
 * within what the mechanism carries (else IPC_INVALID, nothing sent). This
 * end's encoder plays no part: the frames keep their own seqs. For relays,
 * and for tests that play a peer with other limits.
 */
enum ipc_status ipc_send_encoded(struct ipc_channel *ch, const void *frames,
				 size_t len, int timeout_ms);

/*
 * Ends this end's sending and says whether the end of the stream reached
 * the receiver's side, waiting at most timeout_ms. It matters for a sending
 * end made from a queue or datagram address (sysv-msg:, posix-mq:,
 * unix-dgram:), whose receiver learns of the end from an end mark that must
 * find room in the queue: ipc_channel_close sends it too, but waits only
 * briefly and cannot say. On every other end the close itself is the end,
 * and this is IPC_OK at once. Later sends are IPC_INVALID.
 */
enum ipc_status ipc_send_end(struct ipc_channel *ch, int timeout_ms);

/* Closes the end and frees it; removes what it created on disk. NULL is
 * allowed. Never fails: errors of close(2) are not retried (its descriptor
 * is gone either way on Linux). */
void ipc_channel_close(struct ipc_channel *ch);

/* The detail of the last status. */
int ipc_channel_errno(const struct ipc_channel *ch);
enum ipcf_fault ipc_channel_fault(const struct ipc_channel *ch,
				  uint64_t *offset);
const char *ipc_channel_backend(const struct ipc_channel *ch);
/* Whether this end sends, and whether it receives. */
int ipc_channel_sends(const struct ipc_channel *ch);
int ipc_channel_receives(const struct ipc_channel *ch);
/* The descriptors a poll loop should wait on (-1 if that way is closed, or
 * if the mechanism has none: a System V queue). */
int ipc_channel_recv_fd(const struct ipc_channel *ch);
int ipc_channel_send_fd(const struct ipc_channel *ch);

/* ---- addresses ----------------------------------------------------------- */

/* Creates or binds the address and returns a listener; "tcp:HOST:0" binds a
 * free port, which ipc_listener_address() then shows. */
enum ipc_status ipc_listen(const char *address, const struct ipc_opts *opts,
			   struct ipc_listener **out);
/* Waits for one peer. A FIFO's listener gives its read end. */
enum ipc_status ipc_accept(struct ipc_listener *l, struct ipc_channel **out,
			   int timeout_ms);
enum ipc_status ipc_connect(const char *address, const struct ipc_opts *opts,
			    struct ipc_channel **out, int timeout_ms);
const char *ipc_listener_address(const struct ipc_listener *l);
int ipc_listener_errno(const struct ipc_listener *l);
void ipc_listener_close(struct ipc_listener *l);

#endif
