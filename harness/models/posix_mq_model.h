/*
 * A reference model of one POSIX message queue, written from mq_send(3),
 * mq_receive(3), mq_getattr(3) and mq_overview(7): at most maxmsg messages
 * of at most msgsize bytes, delivered highest priority first and, within a
 * priority, in the order they were sent.
 *
 * It is meant to be plainly right rather than fast: a fuzz target
 * (fuzz/mq_posix_model.c) runs every operation on a kernel queue and on the
 * model and requires the same outcome from both.
 *
 * Calls return kernel-style: 0 or a byte count on success, else a negative
 * errno. The model never waits. A call is made either through a descriptor
 * with O_NONBLOCK (nonblock != 0: a full or empty queue is -EAGAIN) or
 * through a blocking one with a timeout that has already passed (the timed
 * calls: -ETIMEDOUT).
 */
#ifndef IPCH_POSIX_MQ_MODEL_H
#define IPCH_POSIX_MQ_MODEL_H

#include <mqueue.h>
#include <stddef.h>
#include <sys/types.h>

struct posix_mq_model_msg {
	struct posix_mq_model_msg *next;
	unsigned prio;
	size_t len;
	unsigned char text[];
};

struct posix_mq_model {
	long maxmsg;      /* mq_maxmsg */
	long msgsize;     /* mq_msgsize */
	unsigned prio_max; /* priorities are 0 .. prio_max - 1 */
	long curmsgs;     /* mq_curmsgs */
	struct posix_mq_model_msg *head; /* the next to be received first */
};

/* An empty queue; maxmsg and msgsize must be > 0 (else -EINVAL). prio_max
 * is sysconf(_SC_MQ_PRIO_MAX), 32768 on Linux. */
int posix_mq_model_init(struct posix_mq_model *m, long maxmsg, long msgsize,
			unsigned prio_max);
/* Drops every message (and frees them). */
void posix_mq_model_clear(struct posix_mq_model *m);

/*
 * mq_send: prio >= prio_max is -EINVAL; len > msgsize -EMSGSIZE; a queue of
 * maxmsg messages is full (-EAGAIN or -ETIMEDOUT). The message goes after
 * every message of its priority or higher.
 */
int posix_mq_model_send(struct posix_mq_model *m, const void *text, size_t len,
			unsigned prio, int nonblock);

/*
 * mq_receive: cap < msgsize is -EMSGSIZE, whatever is queued; an empty
 * queue -EAGAIN or -ETIMEDOUT. Else the oldest message of the highest
 * priority, its bytes copied to buf; *prio gets its priority.
 */
ssize_t posix_mq_model_receive(struct posix_mq_model *m, void *buf, size_t cap,
			       unsigned *prio, int nonblock);

/* mq_getattr as seen through a descriptor with or without O_NONBLOCK. */
void posix_mq_model_getattr(const struct posix_mq_model *m, int nonblock,
			    struct mq_attr *out);

#endif
