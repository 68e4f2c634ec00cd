/*
 * sysv-msg: a System V message queue. One way: the sending end sends, the
 * receiving end receives.
 *
 * Frames: one frame is one kernel message, so a frame carries at most msgmax
 * (/proc/sys/kernel/msgmax, read when the end is made) less the IPCF header;
 * a larger message goes as several frames with MORE. Every end sends
 * messages of type ipc_opts.msg_type (1 by default) and receives only that
 * type (msgrcv's rule "> 0"), so streams of different types share a queue.
 *
 * Pairs: a private queue (IPC_PRIVATE, 0600). The ends are joined by a link
 * (msg.c), so closing copies of ends after fork() is harmless; the queue is
 * removed (IPC_RMID) by the first end that finds the other side gone: the
 * receiver once it has taken everything, the sender when the queue is full
 * and nobody is left to empty it, or either at its close.
 *
 * "sysv-msg:KEY" addresses, KEY a number (0x.. hex or decimal), "ftok:PATH:ID"
 * or "new" (a fresh key of the project's range; ipc_listener_address shows
 * it): ipc_listen creates the queue (IPC_EXCL: a key in use is EEXIST, never
 * joined); ipc_accept hands over its receiving end at once (a queue needs no
 * writer), which then removes the queue at its close; ipc_connect opens the
 * queue for sending (no queue: IPC_REFUSED with ENOENT; not ours: EACCES),
 * and its close sends the end mark (a message of 0 bytes, which always fits:
 * the kernel counts no bytes for it). Such ends belong to the process that
 * made them: a forked copy must not be closed with ipc_channel_close.
 *
 * Waiting: a System V queue has no descriptor and no timed call, so a wait
 * sleeps between tries (msg.c). A queue removed under a receiver is
 * IPC_REMOVED; under a sender, IPC_PEER_CLOSED (the receiver removes it).
 */
#include "channel_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/sysv_msg.h"
#include "msan.h"
#include "sys.h"

extern const struct ipc_backend ipc_backend_sysv_msg;

struct text_msg {
	long mtype;
	char text[];
};

struct sysv_end {
	int id;        /* -1 once removed by this end */
	long mtype;
	size_t sending; /* the length of the message last tried */
	int removes;   /* an accepted end: removes the queue at close */
	struct text_msg *buf; /* a kernel message being sent or received */
};

static struct sysv_end *end_of(const struct ipc_channel *ch) { return ch->extra; }

static size_t gather(char *out, const struct iovec *iov, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

static enum ipc_status sysv_try_send(struct ipc_channel *ch,
				     const struct iovec *iov, int n)
{
	struct sysv_end *u = end_of(ch);
	size_t len = gather(u->buf->text, iov, n);

	u->sending = len;
	for (;;) {
		if (sys_msgsnd(u->id, u->buf, len, IPC_NOWAIT) == 0)
			return IPC_OK;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return IPC_TIMEOUT;
		if (errno == EIDRM || errno == EINVAL)
			return IPC_PEER_CLOSED; /* the receiver removed it */
		ch->err = errno;
		return IPC_SYSTEM;
	}
}

static enum ipc_status sysv_try_recv(struct ipc_channel *ch, void *buf,
				     size_t cap, size_t *len)
{
	struct sysv_end *u = end_of(ch);

	for (;;) {
		/* MSG_NOERROR: a longer message is cut, never stuck at the head
		 * of the queue; the decoder then sees the cut frame. */
		ssize_t r = sys_msgrcv(u->id, u->buf, cap, u->mtype,
				       IPC_NOWAIT | MSG_NOERROR);

		if (r >= 0) {
			IPC_WRITTEN_BY_KERNEL(u->buf, sizeof *u->buf + (size_t)r);
			memcpy(buf, u->buf->text, (size_t)r);
			*len = (size_t)r;
			return IPC_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno == ENOMSG)
			return IPC_TIMEOUT;
		if (errno == EIDRM || errno == EINVAL)
			return ipc_msg_peer_gone(ch) ? IPC_PEER_CLOSED : IPC_REMOVED;
		ch->err = errno;
		return IPC_SYSTEM;
	}
}

/* The kernel's own rules: a message fits while bytes + its length <=
 * qbytes and messages + 1 <= qbytes. POLLIN: any message of any type. */
static int sysv_ready(struct ipc_channel *ch, short events)
{
	struct sysv_end *u = end_of(ch);
	struct ipc_sysv_msg_stat st;

	if (u->id < 0 || ipc_sysv_msg_stat(u->id, &st) != 0)
		return 1; /* the next try says what is wrong */
	if (events == POLLIN)
		return st.qnum > 0;
	return st.cbytes + u->sending <= st.qbytes && st.qnum + 1 <= st.qbytes;
}

static void remove_queue(struct sysv_end *u)
{
	if (u->id >= 0)
		ipc_sysv_msg_remove(u->id);
	u->id = -1;
}

static void sysv_peer_gone(struct ipc_channel *ch) { remove_queue(end_of(ch)); }

static void sysv_end_close(struct ipc_channel *ch)
{
	struct sysv_end *u = end_of(ch);

	if (u->removes)
		remove_queue(u);
	free(u->buf);
	free(u);
}

static const struct ipc_msg_ops sysv_ops = {
	.try_send = sysv_try_send,
	.try_recv = sysv_try_recv,
	.peer_gone = sysv_peer_gone,
	.ready = sysv_ready,
};

/* The largest frame payload a kernel message carries here: msgmax, read
 * once for a pair or an end (only that file: every call counts in a fault
 * plan). */
static int largest_frame(uint32_t *out)
{
	long msgmax;

	if (ipc_read_proc_long("/proc/sys/kernel/msgmax", &msgmax) != 0)
		return -1;
	if (msgmax <= (long)IPCF_HEADER_SIZE) {
		errno = EMSGSIZE; /* msgmax too small for any frame */
		return -1;
	}
	*out = msgmax - IPCF_HEADER_SIZE > (long)IPCF_MAX_LIMIT
		       ? IPCF_MAX_LIMIT
		       : (uint32_t)(msgmax - IPCF_HEADER_SIZE);
	return 0;
}

static long msg_type_of(const struct ipc_opts *o)
{
	return o == NULL || o->msg_type == 0 ? 1 : o->msg_type;
}

static struct ipc_channel *sysv_end_new(const struct ipc_opts *o, int id,
					uint32_t frame, int sends)
{
	struct ipc_channel *ch;
	struct sysv_end *u;

	ch = ipc_msg_channel_new(&ipc_backend_sysv_msg, o, &sysv_ops, frame, 0,
				 sends, !sends);
	u = calloc(1, sizeof *u);
	if (ch == NULL || u == NULL) {
		free(ch);
		free(u);
		return NULL;
	}
	/* Big enough for a whole frame out or a receive of msg_cap in. */
	u->buf = malloc(sizeof *u->buf + ch->msg_cap + IPCF_HEADER_SIZE);
	if (u->buf == NULL) {
		free(ch); /* holds nothing else yet */
		free(u);
		return NULL;
	}
	u->id = id;
	u->mtype = msg_type_of(o);
	u->buf->mtype = u->mtype;
	ch->extra = u;
	ch->on_close = sysv_end_close;
	return ch;
}

static enum ipc_status sysv_pair(const struct ipc_opts *o,
				 struct ipc_channel **a, struct ipc_channel **b)
{
	uint32_t frame;
	int id, err;

	if (msg_type_of(o) < 0)
		return IPC_INVALID;
	if (largest_frame(&frame) != 0)
		return IPC_SYSTEM;
	id = ipc_sysv_msg_create(IPC_PRIVATE);
	if (id < 0)
		return IPC_SYSTEM;
	*a = sysv_end_new(o, id, frame, 1);
	*b = *a != NULL ? sysv_end_new(o, id, frame, 0) : NULL;
	if (*b != NULL && ipc_msg_link(*a, *b) == IPC_OK)
		return IPC_OK;
	ipc_msg_pair_failed(a, b);
	err = errno;
	ipc_sysv_msg_remove(id);
	errno = err;
	return IPC_SYSTEM;
}

/* ---- addresses ----------------------------------------------------------- */

/* KEY: a number, "ftok:PATH:ID", or (want_new) "new", which gives
 * IPC_PRIVATE here and a fresh key at creation. */
static int parse_key(const char *where, int allow_new, key_t *key, int *fresh)
{
	char path[PATH_MAX];
	const char *colon;
	char *end;
	long long v;

	*fresh = 0;
	if (allow_new && strcmp(where, "new") == 0) {
		*fresh = 1;
		return 0;
	}
	if (strncmp(where, "ftok:", 5) == 0) {
		colon = strrchr(where + 5, ':');
		if (colon == NULL || (size_t)(colon - where - 5) >= sizeof path)
			goto bad;
		memcpy(path, where + 5, (size_t)(colon - where - 5));
		path[colon - where - 5] = '\0';
		errno = 0;
		v = strtoll(colon + 1, &end, 0);
		if (errno != 0 || *end != '\0' || end == colon + 1 || v < 1 || v > 255)
			goto bad;
		*key = ipc_sysv_key_from_file(path, (int)v);
		return *key == (key_t)-1 ? -1 : 0;
	}
	errno = 0;
	v = strtoll(where, &end, 0);
	/* 0 is IPC_PRIVATE, which no other process can open by key. */
	if (errno == 0 && *end == '\0' && end != where && v != 0 && v >= INT32_MIN &&
	    v <= (long long)UINT32_MAX) {
		*key = (key_t)(int32_t)(uint32_t)v;
		return 0;
	}
bad:
	errno = EINVAL;
	return -1;
}

struct sysv_listener {
	struct ipc_listener base; /* first: ipc_listener_free frees the whole */
	int id;                   /* -1 once handed to an accepted end */
};

static enum ipc_status sysv_accept(struct ipc_listener *l,
				   struct ipc_channel **out, int timeout_ms)
{
	struct sysv_listener *sl = (struct sysv_listener *)l;
	struct ipc_channel *ch = NULL;
	uint32_t frame;

	(void)timeout_ms;
	if (sl->id < 0) {
		l->err = EBUSY; /* one receiver per queue and type */
		return IPC_INVALID;
	}
	if (largest_frame(&frame) == 0)
		ch = sysv_end_new(&l->opts, sl->id, frame, 0);
	if (ch == NULL) {
		l->err = errno;
		return IPC_SYSTEM;
	}
	end_of(ch)->removes = 1;
	sl->id = -1;
	*out = ch;
	return IPC_OK;
}

static void sysv_listener_close(struct ipc_listener *l)
{
	struct sysv_listener *sl = (struct sysv_listener *)l;

	if (sl->id >= 0)
		ipc_sysv_msg_remove(sl->id);
}

static enum ipc_status sysv_listen(const char *where, const struct ipc_opts *o,
				   struct ipc_listener **out)
{
	struct sysv_listener *sl;
	key_t key = IPC_PRIVATE;
	int fresh;

	if (parse_key(where, 1, &key, &fresh) != 0)
		return errno == EINVAL ? IPC_INVALID : IPC_SYSTEM;
	if (msg_type_of(o) < 0) {
		errno = EINVAL;
		return IPC_INVALID;
	}
	sl = calloc(1, sizeof *sl);
	if (sl == NULL)
		return IPC_SYSTEM;
	sl->base.backend = &ipc_backend_sysv_msg;
	sl->base.opts = o != NULL ? *o : (struct ipc_opts){0};
	sl->base.fd = -1;
	sl->base.accept = sysv_accept;
	sl->base.on_close = sysv_listener_close;
	sl->id = fresh ? ipc_sysv_msg_create_keyed(&key) : ipc_sysv_msg_create(key);
	if (sl->id < 0) {
		int err = errno;

		free(sl);
		errno = err;
		return IPC_SYSTEM;
	}
	snprintf(sl->base.address, sizeof sl->base.address, "sysv-msg:0x%08x",
		 (unsigned)key);
	*out = &sl->base;
	return IPC_OK;
}

static enum ipc_status sysv_connect(const char *where, const struct ipc_opts *o,
				    int timeout_ms, struct ipc_channel **out)
{
	uint32_t frame;
	key_t key;
	int fresh, id;

	(void)timeout_ms;
	if (parse_key(where, 0, &key, &fresh) != 0)
		return errno == EINVAL ? IPC_INVALID : IPC_SYSTEM;
	if (msg_type_of(o) < 0) {
		errno = EINVAL;
		return IPC_INVALID;
	}
	if (largest_frame(&frame) != 0)
		return IPC_SYSTEM;
	id = ipc_sysv_msg_open(key);
	if (id < 0)
		return errno == ENOENT || errno == EACCES ? IPC_REFUSED : IPC_SYSTEM;
	*out = sysv_end_new(o, id, frame, 1);
	if (*out == NULL)
		return IPC_SYSTEM;
	(*out)->msg_end_mark = 1;
	return IPC_OK;
}

const struct ipc_backend ipc_backend_sysv_msg = {
	.name = "sysv-msg",
	.address_scheme = "sysv-msg",
	.keeps_boundaries = 1,
	.pair = sysv_pair,
	.listen = sysv_listen,
	.connect = sysv_connect,
};
