/*
 * posix-mq: a POSIX message queue. One way: the sending end sends, the
 * receiving end receives.
 *
 * Frames: one frame is one kernel message, so a frame carries at most the
 * queue's mq_msgsize less the IPCF header; larger messages go as several
 * frames with MORE, all of priority 0 (so in order). A queue made here gets
 * mq_maxmsg ipc_opts.queue_depth and mq_msgsize ipc_opts.queue_msgsize, or
 * the system's defaults; asking for more than /proc/sys/fs/mqueue allows is
 * IPC_INVALID with EINVAL, and nothing is made.
 *
 * Descriptors are non-blocking; on Linux a queue descriptor polls, so msg.c
 * waits for it in poll() like any other.
 *
 * Pairs: a queue under a fresh name ("/ipch.<pid>.<random>"), opened once
 * for each end, then unlinked before the pair is returned: nothing is left
 * to remove, whatever happens to the process. The ends are joined by a link
 * (msg.c), which tells either that the other side is gone.
 *
 * "posix-mq:/NAME" addresses ("posix-mq:new" for a fresh name, which
 * ipc_listener_address shows): ipc_listen creates the queue (O_EXCL, 0600: a
 * name in use is EEXIST, never joined); ipc_accept hands over its receiving
 * end at once, which unlinks the name at its close; ipc_connect opens the
 * queue for sending (no queue: IPC_REFUSED with ENOENT; not ours: EACCES).
 * The connected end's close sends the end mark (a message of 0 bytes); it
 * learns that the receiver is gone when the queue is full and its name is
 * unlinked (the descriptor's link count is 0). Such ends belong to the
 * process that made them: a forked copy must not be closed with
 * ipc_channel_close.
 */
#include "channel_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/posix_mq.h"
#include "msan.h"
#include "sys.h"

extern const struct ipc_backend ipc_backend_posix_mq;

struct mq_end {
	char name[NAME_MAX + 2]; /* unlinked at close, or "" */
};

static mqd_t queue_of(const struct ipc_channel *ch)
{
	return ch->rfd >= 0 ? ch->rfd : ch->wfd;
}

/* Nobody will ever take from a queue whose receiver unlinked it. */
static int receiver_gone(struct ipc_channel *ch)
{
	struct stat st;

	if (ch->link_fd >= 0)
		return 0; /* the link tells (msg.c) */
	return sys_fstat(queue_of(ch), &st) == 0 && st.st_nlink == 0;
}

/* Descriptors are non-blocking, so the kernel never waits for this. */
static const struct timespec no_wait = {0, 0};

static enum ipc_status mq_try_send(struct ipc_channel *ch,
				   const struct iovec *iov, int n)
{
	const char *data = n > 0 ? iov[0].iov_base : "";
	size_t len = n > 0 ? iov[0].iov_len : 0;
	char *joined = NULL;
	int r;

	/* The core gives header and payload apart; the queue takes one
	 * buffer. The end's receive buffer is free while it only sends. */
	if (n == 2) {
		joined = (char *)ch->rbuf;
		memcpy(joined, iov[0].iov_base, iov[0].iov_len);
		memcpy(joined + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
		data = joined;
		len += iov[1].iov_len;
	}
	do
		r = sys_mq_timedsend(ch->wfd, data, len, 0, &no_wait);
	while (r != 0 && errno == EINTR);
	if (r == 0)
		return IPC_OK;
	if (errno == EAGAIN)
		return receiver_gone(ch) ? IPC_PEER_CLOSED : IPC_TIMEOUT;
	ch->err = errno;
	return IPC_SYSTEM;
}

static enum ipc_status mq_try_recv(struct ipc_channel *ch, void *buf,
				   size_t cap, size_t *len)
{
	ssize_t r;

	do
		r = sys_mq_timedreceive(ch->rfd, buf, cap, NULL, &no_wait);
	while (r < 0 && errno == EINTR);
	if (r >= 0) {
		IPC_WRITTEN_BY_KERNEL(buf, (size_t)r);
		*len = (size_t)r;
		return IPC_OK;
	}
	if (errno == EAGAIN)
		return IPC_TIMEOUT;
	ch->err = errno;
	return IPC_SYSTEM;
}

static void mq_end_close(struct ipc_channel *ch)
{
	struct mq_end *e = ch->extra;
	mqd_t q = queue_of(ch);

	if (q >= 0)
		ipc_mq_close(q);
	ch->rfd = ch->wfd = -1;
	if (e->name[0] != '\0')
		ipc_mq_unlink(e->name);
	free(e);
}

static const struct ipc_msg_ops mq_ops = {
	.try_send = mq_try_send,
	.try_recv = mq_try_recv,
};

/* An end over q, which it then owns (closed on failure too). */
static struct ipc_channel *mq_end_new(const struct ipc_opts *o, mqd_t q,
				      int sends)
{
	struct ipc_channel *ch = NULL;
	struct mq_end *e = NULL;
	struct mq_attr attr;

	if (ipc_mq_attr(q, &attr) != 0)
		goto fail;
	if (attr.mq_msgsize <= (long)IPCF_HEADER_SIZE) {
		errno = EMSGSIZE; /* too small for any frame */
		goto fail;
	}
	ch = ipc_msg_channel_new(&ipc_backend_posix_mq, o, &mq_ops,
				 (uint32_t)(attr.mq_msgsize - IPCF_HEADER_SIZE),
				 (size_t)attr.mq_msgsize, sends, !sends);
	e = calloc(1, sizeof *e);
	/* A sender joins header and payload here (mq_try_send). */
	if (ch == NULL || e == NULL || (ch->rbuf = malloc(ch->msg_cap)) == NULL)
		goto fail;
	ch->extra = e;
	ch->on_close = mq_end_close;
	if (sends)
		ch->wfd = q;
	else
		ch->rfd = q;
	return ch;
fail:
	ipc_mq_close(q);
	if (ch != NULL)
		free(ch->rbuf);
	free(ch);
	free(e);
	return NULL;
}

static mqd_t create_queue(const char *name, const struct ipc_opts *o, int access)
{
	long depth = o != NULL ? o->queue_depth : 0;
	long msgsize = o != NULL ? o->queue_msgsize : 0;

	return ipc_mq_create(name, depth, msgsize, access | O_NONBLOCK);
}

static enum ipc_status mq_pair(const struct ipc_opts *o, struct ipc_channel **a,
			       struct ipc_channel **b)
{
	char name[NAME_MAX + 2];
	mqd_t rq, wq;
	int err;

	if (ipc_mq_fresh_name(name, sizeof name) != 0)
		return IPC_SYSTEM;
	rq = create_queue(name, o, O_RDONLY);
	if (rq == (mqd_t)-1)
		return errno == EINVAL ? IPC_INVALID : IPC_SYSTEM;
	wq = ipc_mq_open(name, O_WRONLY | O_NONBLOCK);
	err = errno;
	ipc_mq_unlink(name); /* both descriptors hold it now */
	if (wq == (mqd_t)-1) {
		ipc_mq_close(rq);
		errno = err;
		return IPC_SYSTEM;
	}
	*b = mq_end_new(o, rq, 0);
	*a = *b != NULL ? mq_end_new(o, wq, 1) : (ipc_mq_close(wq), NULL);
	if (*a != NULL && ipc_msg_link(*a, *b) == IPC_OK)
		return IPC_OK;
	return ipc_msg_pair_failed(a, b);
}

/* ---- addresses ----------------------------------------------------------- */

struct mq_listener {
	struct ipc_listener base; /* first: ipc_listener_free frees the whole */
	mqd_t q;                  /* -1 once handed to an accepted end */
	char name[NAME_MAX + 2];
};

static enum ipc_status mq_accept(struct ipc_listener *l, struct ipc_channel **out,
				 int timeout_ms)
{
	struct mq_listener *ml = (struct mq_listener *)l;
	struct ipc_channel *ch;

	(void)timeout_ms;
	if (ml->q == (mqd_t)-1) {
		l->err = EBUSY; /* one receiver per queue */
		return IPC_INVALID;
	}
	ch = mq_end_new(&l->opts, ml->q, 0);
	ml->q = (mqd_t)-1;
	if (ch == NULL) {
		l->err = errno;
		return IPC_SYSTEM;
	}
	/* The accepted end unlinks the name now, not the listener. */
	snprintf(((struct mq_end *)ch->extra)->name, sizeof ml->name, "%s", ml->name);
	ml->name[0] = '\0';
	*out = ch;
	return IPC_OK;
}

static void mq_listener_close(struct ipc_listener *l)
{
	struct mq_listener *ml = (struct mq_listener *)l;

	if (ml->q != (mqd_t)-1)
		ipc_mq_close(ml->q);
	if (ml->name[0] != '\0')
		ipc_mq_unlink(ml->name);
}

static int name_for(const char *where, char *out, size_t len)
{
	if (strcmp(where, "new") == 0)
		return ipc_mq_fresh_name(out, len);
	if (ipc_mq_check_name(where) != 0)
		return -1;
	snprintf(out, len, "%s", where);
	return 0;
}

static enum ipc_status mq_listen(const char *where, const struct ipc_opts *o,
				 struct ipc_listener **out)
{
	struct mq_listener *ml = calloc(1, sizeof *ml);
	int err;

	if (ml == NULL)
		return IPC_SYSTEM;
	if (name_for(where, ml->name, sizeof ml->name) != 0) {
		free(ml);
		errno = EINVAL;
		return IPC_INVALID;
	}
	ml->q = create_queue(ml->name, o, O_RDONLY);
	if (ml->q == (mqd_t)-1) {
		err = errno;
		free(ml);
		errno = err;
		return err == EINVAL ? IPC_INVALID : IPC_SYSTEM;
	}
	ml->base.backend = &ipc_backend_posix_mq;
	ml->base.opts = o != NULL ? *o : (struct ipc_opts){0};
	ml->base.fd = -1;
	ml->base.accept = mq_accept;
	ml->base.on_close = mq_listener_close;
	snprintf(ml->base.address, sizeof ml->base.address, "posix-mq:%s", ml->name);
	*out = &ml->base;
	return IPC_OK;
}

static enum ipc_status mq_connect(const char *where, const struct ipc_opts *o,
				  int timeout_ms, struct ipc_channel **out)
{
	mqd_t q;

	(void)timeout_ms;
	if (ipc_mq_check_name(where) != 0) {
		errno = EINVAL;
		return IPC_INVALID;
	}
	q = ipc_mq_open(where, O_WRONLY | O_NONBLOCK);
	if (q == (mqd_t)-1)
		return errno == ENOENT || errno == EACCES ? IPC_REFUSED : IPC_SYSTEM;
	*out = mq_end_new(o, q, 1);
	if (*out == NULL)
		return IPC_SYSTEM;
	(*out)->msg_end_mark = 1;
	return IPC_OK;
}

const struct ipc_backend ipc_backend_posix_mq = {
	.name = "posix-mq",
	.address_scheme = "posix-mq",
	.keeps_boundaries = 1,
	.pair = mq_pair,
	.listen = mq_listen,
	.connect = mq_connect,
};
