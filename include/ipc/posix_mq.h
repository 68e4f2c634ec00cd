/*
 * POSIX message queues, one small function per job.
 *
 * As with include/ipc/sysv_msg.h, these return -1 with the kernel's errno
 * (EINTR included). Queues are created O_CREAT|O_EXCL, 0600, close-on-exec,
 * and noted in the object registry (docs/cleanup.md) until unlinked.
 *
 * Names: "/" and up to NAME_MAX - 1 more characters, none of them "/". The
 * project's own names are "/ipch.<pid>.<random>": a sweeper knows them by
 * prefix and creator.
 */
#ifndef IPC_POSIX_MQ_H
#define IPC_POSIX_MQ_H

#include <mqueue.h>
#include <stddef.h>
#include <sys/types.h>

#define IPC_MQ_NAME_PREFIX "/ipch."

/* The system's limits, from /proc/sys/fs/mqueue/. An unprivileged process
 * may not ask for more than msg_max messages of msgsize_max bytes. */
struct ipc_mq_limits {
	long msg_max, msgsize_max;         /* per queue, at most */
	long msg_default, msgsize_default; /* what a queue gets when unasked */
	long queues_max;                   /* queues in the system */
};
int ipc_mq_limits(struct ipc_mq_limits *out);

/* A fresh project name into out (at least 64 bytes). */
int ipc_mq_fresh_name(char *out, size_t len);

/* 0 if name is a valid queue name, else -1 with EINVAL (no leading "/", a
 * later "/", empty after it) or ENAMETOOLONG. */
int ipc_mq_check_name(const char *name);

/*
 * A new queue (EEXIST if the name is taken). maxmsg and msgsize 0 take the
 * system's defaults; above the limits of ipc_mq_limits it is EINVAL before
 * anything is made (a privileged process is held to them too, so a test
 * behaves the same as root). access: O_RDONLY, O_WRONLY or O_RDWR, maybe
 * with O_NONBLOCK.
 */
mqd_t ipc_mq_create(const char *name, long maxmsg, long msgsize, int access);
/* An existing queue (ENOENT if none). */
mqd_t ipc_mq_open(const char *name, int access);
int ipc_mq_close(mqd_t q);
/* Removes the name; the queue lives on while a descriptor is open. */
int ipc_mq_unlink(const char *name);

/*
 * mq_timedsend and mq_timedreceive with a timeout in milliseconds (-1 for
 * ever, 0 not at all), measured on CLOCK_MONOTONIC: the kernel's deadline is
 * CLOCK_REALTIME, so a clock step cannot end the wait early or make it
 * endless. ETIMEDOUT when it passed (EAGAIN for a non-blocking descriptor).
 * The receive buffer must hold mq_msgsize bytes (EMSGSIZE otherwise); a
 * message over mq_msgsize is EMSGSIZE at the sender.
 */
int ipc_mq_send(mqd_t q, const void *data, size_t len, unsigned prio,
		int timeout_ms);
ssize_t ipc_mq_receive(mqd_t q, void *buf, size_t cap, unsigned *prio,
		       int timeout_ms);

int ipc_mq_attr(mqd_t q, struct mq_attr *out);

/*
 * mq_notify: one notice when a message arrives in an empty queue and no
 * receiver is waiting; then the registration is gone (register again for
 * the next). Only one process may be registered (EBUSY).
 */
int ipc_mq_notify_signal(mqd_t q, int signo, int value);
int ipc_mq_notify_thread(mqd_t q, void (*fn)(union sigval), void *arg);
int ipc_mq_notify_cancel(mqd_t q);

#endif
