/*
 * System V message queues, one small function per job.
 *
 * These are the mechanism as the kernel gives it, with its own errnos: each
 * function returns -1 (or (ssize_t)-1) and leaves errno as the kernel set it,
 * EINTR included, so a caller (and a test) sees every rule the kernel
 * applies. The sysv-msg channel (include/ipc/channel.h) is built on them.
 *
 * Queues are created 0600 with IPC_EXCL, never opened by accident: a key
 * that is taken is EEXIST. A queue made here is noted in the object
 * registry (IPCH_REGISTRY, see docs/cleanup.md) until it is removed, so a
 * sweeper can remove it if its creator dies first.
 */
#ifndef IPC_SYSV_MSG_H
#define IPC_SYSV_MSG_H

#include <stddef.h>
#include <sys/types.h>

/* The system's limits, read from /proc/sys/kernel/msgmax, msgmnb, msgmni. */
struct ipc_sysv_msg_limits {
	size_t msgmax; /* largest message text, bytes */
	size_t msgmnb; /* default (and unprivileged largest) bytes per queue */
	size_t msgmni; /* queues in the system */
};
int ipc_sysv_msg_limits(struct ipc_sysv_msg_limits *out);

/* Keys the project makes for itself have this top byte, so a sweeper can
 * tell them from other software's ("IP" in the top half word). */
#define IPC_SYSV_KEY_PREFIX 0x49500000
#define IPC_SYSV_KEY_MASK 0xFFF00000

/* A new queue: key IPC_PRIVATE, or a key (EEXIST if it names a queue
 * already). Returns the queue id. */
int ipc_sysv_msg_create(key_t key);
/* A new queue under a fresh key of the project's range, put in *key. */
int ipc_sysv_msg_create_keyed(key_t *key);
/* An existing queue by key (ENOENT if none; EACCES if this process may not
 * both read and write it). */
int ipc_sysv_msg_open(key_t key);
/* IPC_RMID: every message is dropped and every waiter wakes with EIDRM. */
int ipc_sysv_msg_remove(int id);

/* ftok(3) with its pitfalls checked: proj_id must be 1..255 (its low 8
 * bits only count, and 0 is reserved), and path must exist (ftok's key is
 * from its inode: a missing file gives -1 with ENOENT). */
key_t ipc_sysv_key_from_file(const char *path, int proj_id);

/*
 * msgsnd: one message of type mtype (> 0, else EINVAL) and len bytes
 * (EINVAL over msgmax). flags: IPC_NOWAIT (EAGAIN on a full queue, instead
 * of waiting). Returns 0.
 */
int ipc_sysv_msg_send(int id, long mtype, const void *data, size_t len,
		      int flags);

/*
 * msgrcv by the kernel's three rules for selector:
 *   > 0  the first message of exactly that type (with MSG_EXCEPT: the first
 *        of any other type);
 *   0    the first message of any type;
 *   < 0  the first message of the lowest type <= |selector|.
 * flags: IPC_NOWAIT (ENOMSG when none fits), MSG_NOERROR (a longer message
 * is cut to cap and taken; without it E2BIG and it stays queued),
 * MSG_EXCEPT. Returns the bytes received; *mtype gets the type (may be NULL).
 */
ssize_t ipc_sysv_msg_recv(int id, long selector, int flags, long *mtype,
			  void *data, size_t cap);

/* What IPC_STAT says of a queue. */
struct ipc_sysv_msg_stat {
	size_t qnum;   /* messages queued */
	size_t cbytes; /* bytes queued */
	size_t qbytes; /* bytes the queue may hold */
	pid_t lspid, lrpid; /* last sender, last receiver */
	uid_t uid, cuid;
	mode_t mode;
};
int ipc_sysv_msg_stat(int id, struct ipc_sysv_msg_stat *out);
/* IPC_SET of msg_qbytes (above msgmnb needs CAP_SYS_RESOURCE: EPERM). */
int ipc_sysv_msg_set_qbytes(int id, size_t qbytes);

#endif
