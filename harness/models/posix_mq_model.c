/* The POSIX message queue model: see posix_mq_model.h. */
#include "posix_mq_model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

int posix_mq_model_init(struct posix_mq_model *m, long maxmsg, long msgsize,
			unsigned prio_max)
{
	if (maxmsg <= 0 || msgsize <= 0)
		return -EINVAL;
	*m = (struct posix_mq_model){
		.maxmsg = maxmsg,
		.msgsize = msgsize,
		.prio_max = prio_max,
	};
	return 0;
}

void posix_mq_model_clear(struct posix_mq_model *m)
{
	while (m->head != NULL) {
		struct posix_mq_model_msg *next = m->head->next;

		free(m->head);
		m->head = next;
	}
	m->curmsgs = 0;
}

/* What a call that finds the queue full (or empty) says. */
static int cannot_wait(int nonblock)
{
	return nonblock ? -EAGAIN : -ETIMEDOUT;
}

int posix_mq_model_send(struct posix_mq_model *m, const void *text, size_t len,
			unsigned prio, int nonblock)
{
	struct posix_mq_model_msg *msg, **at;

	if (prio >= m->prio_max)
		return -EINVAL;
	if (len > (size_t)m->msgsize)
		return -EMSGSIZE;
	if (m->curmsgs == m->maxmsg)
		return cannot_wait(nonblock);
	msg = malloc(sizeof *msg + len);
	if (msg == NULL)
		return -ENOMEM;
	msg->prio = prio;
	msg->len = len;
	if (len > 0)
		memcpy(msg->text, text, len);
	/* Behind every message of the same priority or a higher one. */
	for (at = &m->head; *at != NULL && (*at)->prio >= prio; at = &(*at)->next)
		;
	msg->next = *at;
	*at = msg;
	m->curmsgs++;
	return 0;
}

ssize_t posix_mq_model_receive(struct posix_mq_model *m, void *buf, size_t cap,
			       unsigned *prio, int nonblock)
{
	struct posix_mq_model_msg *msg = m->head;
	size_t len;

	if (cap < (size_t)m->msgsize)
		return -EMSGSIZE;
	if (msg == NULL)
		return cannot_wait(nonblock);
	len = msg->len;
	if (len > 0)
		memcpy(buf, msg->text, len);
	if (prio != NULL)
		*prio = msg->prio;
	m->head = msg->next;
	m->curmsgs--;
	free(msg);
	return (ssize_t)len;
}

void posix_mq_model_getattr(const struct posix_mq_model *m, int nonblock,
			    struct mq_attr *out)
{
	*out = (struct mq_attr){
		.mq_flags = nonblock ? O_NONBLOCK : 0,
		.mq_maxmsg = m->maxmsg,
		.mq_msgsize = m->msgsize,
		.mq_curmsgs = m->curmsgs,
	};
}
