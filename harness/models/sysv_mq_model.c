/* The System V message queue model: see sysv_mq_model.h. */
#include "sysv_mq_model.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>

void sysv_mq_model_init(struct sysv_mq_model *m, size_t msgmax, size_t qbytes)
{
	*m = (struct sysv_mq_model){ .msgmax = msgmax, .qbytes = qbytes };
}

void sysv_mq_model_clear(struct sysv_mq_model *m)
{
	while (m->head != NULL) {
		struct sysv_mq_model_msg *next = m->head->next;

		free(m->head);
		m->head = next;
	}
	m->qnum = 0;
	m->cbytes = 0;
}

void sysv_mq_model_set_qbytes(struct sysv_mq_model *m, size_t qbytes)
{
	m->qbytes = qbytes;
}

/* msgsnd(2): full when the bytes, or the number of messages, would pass
 * msg_qbytes. */
static int fits(const struct sysv_mq_model *m, size_t len)
{
	return m->cbytes + len <= m->qbytes && m->qnum + 1 <= m->qbytes;
}

int sysv_mq_model_send(struct sysv_mq_model *m, long type, const void *text,
		       size_t len, int flags)
{
	struct sysv_mq_model_msg *msg, **end;

	if (type <= 0 || len > m->msgmax)
		return -EINVAL;
	if (!fits(m, len))
		return flags & IPC_NOWAIT ? -EAGAIN : SYSV_MQ_MODEL_WAITS;
	msg = malloc(sizeof *msg + len);
	if (msg == NULL)
		return -ENOMEM;
	msg->next = NULL;
	msg->type = type;
	msg->len = len;
	if (len > 0)
		memcpy(msg->text, text, len);
	for (end = &m->head; *end != NULL; end = &(*end)->next)
		;
	*end = msg;
	m->qnum++;
	m->cbytes += len;
	return 0;
}

/* |selector| for selector < 0, which for LONG_MIN is beyond every type: no
 * long can hold it, but LONG_MAX selects the same messages. */
static long type_bound(long selector)
{
	return selector == LONG_MIN ? LONG_MAX : -selector;
}

/* The link that points at the message msgrcv(2) chooses, or NULL. */
static struct sysv_mq_model_msg **choose(struct sysv_mq_model *m,
					 long selector, int flags)
{
	struct sysv_mq_model_msg **at, **best = NULL;

	for (at = &m->head; *at != NULL; at = &(*at)->next) {
		long type = (*at)->type;

		if (selector == 0)
			return at;
		if (selector > 0 && (flags & MSG_EXCEPT) && type != selector)
			return at;
		if (selector > 0 && !(flags & MSG_EXCEPT) && type == selector)
			return at;
		/* The lowest type wins; of equal types, the first. */
		if (selector < 0 && type <= type_bound(selector) &&
		    (best == NULL || type < (*best)->type))
			best = at;
	}
	return best;
}

ssize_t sysv_mq_model_recv(struct sysv_mq_model *m, long selector, int flags,
			   long *type, void *buf, size_t cap)
{
	struct sysv_mq_model_msg **at = choose(m, selector, flags);
	struct sysv_mq_model_msg *msg;
	size_t n;

	if (at == NULL)
		return flags & IPC_NOWAIT ? -ENOMSG : SYSV_MQ_MODEL_WAITS;
	msg = *at;
	if (msg->len > cap && !(flags & MSG_NOERROR))
		return -E2BIG;
	n = msg->len < cap ? msg->len : cap;
	if (n > 0)
		memcpy(buf, msg->text, n);
	if (type != NULL)
		*type = msg->type;
	*at = msg->next;
	m->qnum--;
	m->cbytes -= msg->len;
	free(msg);
	return (ssize_t)n;
}
