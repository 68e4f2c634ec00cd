/*
 * A reference model of one System V message queue, written from the rules
 * of msgsnd(2) and msgrcv(2) and nothing else: a list of messages in the
 * order they were sent, and the two limits that make the queue full.
 *
 * It is meant to be plainly right rather than fast: a fuzz target
 * (fuzz/mq_sysv_model.c) runs every operation on a kernel queue and on the
 * model and requires the same outcome from both.
 *
 * Calls return kernel-style: 0 or a byte count on success, else a negative
 * errno (-EINVAL, -EAGAIN, -ENOMSG, -E2BIG, -ENOMEM). The model never
 * waits: where the kernel would put the caller to sleep (no IPC_NOWAIT) it
 * returns SYSV_MQ_MODEL_WAITS and changes nothing.
 */
#ifndef IPCH_SYSV_MQ_MODEL_H
#define IPCH_SYSV_MQ_MODEL_H

#include <stddef.h>
#include <sys/types.h>

/* Not an errno: the call would wait for room or for a message. */
#define SYSV_MQ_MODEL_WAITS (-4096)

struct sysv_mq_model_msg {
	struct sysv_mq_model_msg *next;
	long type;
	size_t len;
	unsigned char text[];
};

struct sysv_mq_model {
	size_t msgmax; /* largest message text (msgmax) */
	size_t qbytes; /* msg_qbytes: the byte limit, and the message limit */
	size_t qnum;   /* messages queued */
	size_t cbytes; /* bytes queued */
	struct sysv_mq_model_msg *head; /* the oldest message first */
};

/* An empty queue, as msgget makes it with qbytes = msgmnb. */
void sysv_mq_model_init(struct sysv_mq_model *m, size_t msgmax, size_t qbytes);
/* Drops every message (and frees them). */
void sysv_mq_model_clear(struct sysv_mq_model *m);
/* IPC_SET of msg_qbytes: any value; messages already queued stay. */
void sysv_mq_model_set_qbytes(struct sysv_mq_model *m, size_t qbytes);

/*
 * msgsnd: type > 0 and len <= msgmax, else -EINVAL. The message fits if the
 * bytes queued stay within qbytes and the messages queued too (so that
 * empty messages are limited as well); otherwise -EAGAIN with IPC_NOWAIT.
 */
int sysv_mq_model_send(struct sysv_mq_model *m, long type, const void *text,
		       size_t len, int flags);

/*
 * msgrcv: the message chosen by selector (> 0: the first of that type, or
 * with MSG_EXCEPT the first of any other; 0: the first; < 0: the first of
 * the lowest type <= |selector|). None: -ENOMSG with IPC_NOWAIT. Longer
 * than cap: -E2BIG and it stays, unless MSG_NOERROR, which takes it cut to
 * cap bytes. Returns the bytes copied to buf; *type gets the message's.
 */
ssize_t sysv_mq_model_recv(struct sysv_mq_model *m, long selector, int flags,
			   long *type, void *buf, size_t cap);

#endif
