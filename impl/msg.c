/*
 * The message core: IPCF v1 messages over mechanisms that keep message
 * boundaries (struct ipc_msg_ops in channel_impl.h).
 *
 * A message goes out as its frames, one kernel message each; none is ever
 * cut, so a send that stops between frames leaves whole frames behind. If
 * no frame went out the channel is as before; otherwise the message is cut
 * short and later sends are IPC_BROKEN (or IPC_PEER_CLOSED), as on a stream.
 * The receiver feeds each kernel message to the decoder a stream uses and
 * also checks that it ended on a frame boundary: a frame the mechanism cut
 * (a longer message truncated) is an IPCF "truncated" fault, never joined
 * silently to the next.
 *
 * Waiting: tries never block. Between tries an end polls its mechanism's
 * descriptor and its link, or, for a mechanism without a descriptor (System
 * V queues), sleeps: three immediate retries, then 20 us doubling to 2 ms,
 * never past the deadline. After a try that found nothing the mechanism is
 * asked (poll, or ops->ready): if it says a try would succeed, the next is
 * made at once, since a fault plan may make a try say "nothing now"
 * falsely. A call times out, and a receive reports the end of the stream
 * (only after a try made once the link was gone), only when the mechanism
 * agrees that nothing is there.
 */
#include "channel_impl.h"

#include <errno.h>
#include <stdlib.h>

#include "sys.h"

#define IMMEDIATE_RETRIES 3u
#define FIRST_SLEEP_US 20L
#define BACKOFF_DOUBLINGS 7u /* 20 us .. 1.28 ms */
#define LONGEST_SLEEP_US 2000L
#define READY_SPINS 64u

struct ipc_channel *ipc_msg_channel_new(const struct ipc_backend *b,
					const struct ipc_opts *o,
					const struct ipc_msg_ops *ops,
					uint32_t largest_frame, size_t recv_cap,
					int sends, int receives)
{
	struct ipc_channel *ch = calloc(1, sizeof *ch);
	uint32_t frame;

	if (ch == NULL)
		return NULL;
	ch->backend = b;
	ch->rfd = -1;
	ch->wfd = -1;
	ch->link_fd = -1;
	ch->msg = ops;
	ch->msg_sends = sends;
	ch->msg_receives = receives;
	ch->max_message = ipc_opts_max_message(o);
	ch->msg_largest = largest_frame;
	frame = ipc_opts_max_frame(o, largest_frame);
	if (frame > largest_frame)
		frame = largest_frame;
	ipcf_encoder_init(&ch->enc, 0, frame);
	ipcf_decoder_init(&ch->dec, frame, ch->max_message);
	ch->msg_cap = recv_cap != 0 ? recv_cap : IPCF_HEADER_SIZE + (size_t)frame + 1;
	return ch;
}

enum ipc_status ipc_msg_link(struct ipc_channel *a, struct ipc_channel *b)
{
	int sv[2];

	if (sys_socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
		return IPC_SYSTEM;
	a->link_fd = sv[0];
	b->link_fd = sv[1];
	return IPC_OK;
}

enum ipc_status ipc_msg_pair_failed(struct ipc_channel **a,
				    struct ipc_channel **b)
{
	int err = errno;

	ipc_channel_close(*a);
	ipc_channel_close(*b);
	*a = *b = NULL;
	errno = err;
	return IPC_SYSTEM;
}

/* Nothing is ever written to a link: anything readable is its end. */
static void note_link(struct ipc_channel *ch, const struct pollfd *p)
{
	if (p->revents & (POLLIN | POLLHUP | POLLERR))
		ch->link_gone = 1;
}

/* Asked with ppoll, which the fault seam never fails (sys.h): whether a
 * queue is removed must not hang on an injected error. */
int ipc_msg_peer_gone(struct ipc_channel *ch)
{
	const struct timespec now = {0, 0};
	struct pollfd p = {.fd = ch->link_fd, .events = POLLIN};
	int r;

	if (ch->link_fd < 0 || ch->link_gone)
		return ch->link_gone;
	do
		r = sys_ppoll(&p, 1, &now, NULL);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		note_link(ch, &p);
	return ch->link_gone;
}

/* The other side is gone and this end is done with the mechanism. */
static void release_mechanism(struct ipc_channel *ch)
{
	if (ch->msg->peer_gone != NULL)
		ch->msg->peer_gone(ch);
}

/* A wait without a descriptor: how long the step-th sleep in a row lasts,
 * in microseconds. */
static long backoff_us(unsigned step)
{
	if (step < IMMEDIATE_RETRIES)
		return 0;
	if (step - IMMEDIATE_RETRIES >= BACKOFF_DOUBLINGS)
		return LONGEST_SLEEP_US;
	return FIRST_SLEEP_US << (step - IMMEDIATE_RETRIES);
}

/* Sleeps a little (see backoff_us), never past the deadline, waking early
 * if the link hangs up. ppoll, for its microseconds, which the seam never
 * fails: a sleep has nothing to fail. */
static void sleep_a_little(struct ipc_channel *ch, const struct ipc_deadline *d)
{
	long us = backoff_us(ch->backoff_step);
	int ms = ipc_deadline_ms(d);
	struct pollfd p = {.fd = ch->link_fd, .events = POLLIN};
	int watch = ch->link_fd >= 0 && !ch->link_gone;
	struct timespec t;

	if (ch->backoff_step <= IMMEDIATE_RETRIES + BACKOFF_DOUBLINGS)
		ch->backoff_step++; /* no further: it never wraps */
	if (ms >= 0 && (long)ms * 1000 < us)
		us = (long)ms * 1000;
	t = (struct timespec){us / 1000000, us % 1000000 * 1000};
	if (sys_ppoll(watch ? &p : NULL, watch ? 1 : 0, &t, NULL) > 0)
		note_link(ch, &p);
}

/* Waits for the descriptor fd (-1: none, so a sleep), the link, or the
 * deadline; whatever ends it, the caller tries again. */
static void wait_a_while(struct ipc_channel *ch, int fd, short events,
			 const struct ipc_deadline *d)
{
	struct pollfd p[2] = {{.fd = fd, .events = events},
			      {.fd = ch->link_fd, .events = POLLIN}};
	nfds_t n = ch->link_fd >= 0 && !ch->link_gone ? 2 : 1;

	if (fd < 0) {
		sleep_a_little(ch, d);
		return;
	}
	/* EINTR or not, the caller tries again. */
	if (sys_poll(p, n, ipc_deadline_ms(d)) > 0 && n == 2)
		note_link(ch, &p[1]);
}

/* Whether a try would succeed now, by the mechanism's own word. */
static int ready_now(struct ipc_channel *ch, short events)
{
	int fd = events == POLLIN ? ch->rfd : ch->wfd;
	struct pollfd p = {.fd = fd, .events = events};
	int r;

	if (fd < 0)
		return ch->msg->ready != NULL && ch->msg->ready(ch, events);
	do
		r = sys_poll(&p, 1, 0);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* After a try found nothing: whether to try again at once, because the
 * mechanism says it is ready, so the try's word was false (a fault plan
 * makes such). At most READY_SPINS times in a row: a queue may stay ready
 * for another reader (messages of other types). So a false "nothing now"
 * costs no time, and the calls a run makes do not depend on the clock
 * unless it really waits. */
static int retry_at_once(struct ipc_channel *ch, short events)
{
	if (ch->ready_spins >= READY_SPINS || !ready_now(ch, events))
		return 0;
	ch->ready_spins++;
	return 1;
}

static void tried_ok(struct ipc_channel *ch)
{
	ch->backoff_step = 0;
	ch->ready_spins = 0;
}

static enum ipc_status send_one(struct ipc_channel *ch, const struct iovec *iov,
				int n, const struct ipc_deadline *d)
{
	for (;;) {
		enum ipc_status st = ch->msg->try_send(ch, iov, n);

		if (st == IPC_OK)
			tried_ok(ch);
		if (st != IPC_TIMEOUT)
			return st;
		/* Full: the link is asked now too, as a pipe's writer learns of
		 * its reader when it writes into a pipe nobody empties. */
		if (ipc_msg_peer_gone(ch)) {
			release_mechanism(ch);
			return IPC_PEER_CLOSED;
		}
		if (retry_at_once(ch, POLLOUT))
			continue;
		if (ipc_deadline_ms(d) == 0)
			return IPC_TIMEOUT;
		wait_a_while(ch, ch->wfd, POLLOUT, d);
	}
}

/* IPC_OK with a kernel message in ch->rbuf[0..*got). */
static enum ipc_status recv_one(struct ipc_channel *ch, size_t *got,
				const struct ipc_deadline *d)
{
	for (;;) {
		int was_gone = ch->link_gone;
		enum ipc_status st = ch->msg->try_recv(ch, ch->rbuf, ch->msg_cap, got);

		if (st == IPC_OK)
			tried_ok(ch);
		if (st != IPC_TIMEOUT)
			return st;
		if (retry_at_once(ch, POLLIN))
			continue;
		/* Gone before that try, which found nothing: every message sent
		 * before the close has been taken. Gone only now: try again. */
		if (was_gone) {
			release_mechanism(ch);
			return IPC_PEER_CLOSED;
		}
		if (ipc_msg_peer_gone(ch))
			continue;
		if (ipc_deadline_ms(d) == 0)
			return IPC_TIMEOUT;
		wait_a_while(ch, ch->rfd, POLLIN, d);
	}
}

enum ipc_status ipc_msg_send(struct ipc_channel *ch, uint16_t type,
			     const void *data, size_t len, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	const uint8_t *p = data;
	uint32_t first_seq = ch->enc.seq;
	size_t frames_out = 0;
	enum ipc_status st;

	if (!ch->msg_sends || type == 0 || (data == NULL && len > 0))
		return IPC_INVALID;
	if (ch->send_stopped != IPC_OK)
		return ch->send_stopped;
	if (len > ch->max_message)
		return IPC_TOO_BIG;
	/* A queue keeps taking messages nobody will read: ask the link once
	 * a message, so a closed receiver is refused at once, as on a pipe. */
	if (ipc_msg_peer_gone(ch)) {
		release_mechanism(ch);
		return IPC_PEER_CLOSED;
	}
	do {
		uint8_t hdr[IPCF_HEADER_SIZE];
		uint32_t n = ipcf_encode_next_frame(&ch->enc, type, p, len, hdr);
		struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)p, n}};

		st = send_one(ch, iov, n > 0 ? 2 : 1, &d);
		if (st != IPC_OK)
			break;
		frames_out++;
		p += n;
		len -= n;
	} while (len > 0);
	if (st != IPC_OK) {
		if (frames_out == 0)
			ch->enc.seq = first_seq;
		else
			ch->send_stopped = st == IPC_PEER_CLOSED ? IPC_PEER_CLOSED
							   : IPC_BROKEN;
	}
	return st;
}

/* The length of the whole frame at p (len bytes left), or 0 if the bytes
 * there are not a whole frame this mechanism carries. */
static size_t frame_at(const struct ipc_channel *ch, const uint8_t *p, size_t len)
{
	uint32_t payload;

	if (len < IPCF_HEADER_SIZE)
		return 0;
	payload = (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 |
		  (uint32_t)p[14] << 8 | p[15];
	if (payload > ch->msg_largest || payload > len - IPCF_HEADER_SIZE)
		return 0;
	return IPCF_HEADER_SIZE + (size_t)payload;
}

enum ipc_status ipc_msg_send_encoded(struct ipc_channel *ch,
				     const uint8_t *frames, size_t len,
				     int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	size_t at, n, sent_any = 0;
	enum ipc_status st = IPC_OK;

	if (!ch->msg_sends)
		return IPC_INVALID;
	if (ch->send_stopped != IPC_OK)
		return ch->send_stopped;
	for (at = 0; at < len; at += n)
		if ((n = frame_at(ch, frames + at, len - at)) == 0)
			return IPC_INVALID;
	for (at = 0; at < len && st == IPC_OK; at += n, sent_any = 1) {
		struct iovec iov = {(void *)(frames + at), frame_at(ch, frames + at, len - at)};

		n = iov.iov_len;
		st = send_one(ch, &iov, 1, &d);
	}
	if (st != IPC_OK && sent_any)
		ch->send_stopped = st == IPC_PEER_CLOSED ? IPC_PEER_CLOSED : IPC_BROKEN;
	return st;
}

/* A kernel message is all decoded: it must have ended between frames. */
static enum ipc_status kernel_message_ended(struct ipc_channel *ch)
{
	if (ipcf_decoder_end_frame(&ch->dec) == IPCF_FAULT)
		return ipc_stream_fault(ch);
	return IPC_TIMEOUT; /* as "need more" */
}

enum ipc_status ipc_msg_recv(struct ipc_channel *ch, struct ipc_msg *msg,
			     int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	if (!ch->msg_receives || msg == NULL)
		return IPC_INVALID;
	if (ch->fault != IPCF_OK)
		return ch->fault == IPCF_FAULT_TOO_BIG ? IPC_TOO_BIG : IPC_CORRUPT;
	if (ch->rbuf == NULL && (ch->rbuf = malloc(ch->msg_cap)) == NULL) {
		ch->err = ENOMEM;
		return IPC_SYSTEM;
	}
	for (;;) {
		int had_bytes = ch->rpos < ch->rlen;
		enum ipc_status st = ipc_decode_buffered(ch, msg);
		size_t got = 0;

		if (st == IPC_TIMEOUT && had_bytes)
			st = kernel_message_ended(ch);
		if (st != IPC_TIMEOUT)
			return st;
		if (ch->eof)
			return IPC_PEER_CLOSED;
		st = recv_one(ch, &got, &d);
		if (st == IPC_PEER_CLOSED || (st == IPC_OK && got == 0))
			return ipc_end_of_stream(ch);
		if (st != IPC_OK)
			return st;
		ch->rpos = 0;
		ch->rlen = got;
	}
}

enum ipc_status ipc_msg_send_end(struct ipc_channel *ch, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	enum ipc_status st = IPC_OK;

	if (!ch->msg_sends)
		return IPC_INVALID;
	if (ch->send_stopped != IPC_OK)
		return ch->send_stopped;
	if (ch->msg_end_mark)
		st = send_one(ch, NULL, 0, &d);
	if (st == IPC_OK)
		ch->send_stopped = IPC_INVALID; /* ended: nothing more to send */
	return st;
}

void ipc_msg_close(struct ipc_channel *ch)
{
	struct ipc_deadline d = ipc_deadline_in(IPC_MSG_END_WAIT_MS);

	if (ch->link_fd >= 0) {
		if (ipc_msg_peer_gone(ch))
			release_mechanism(ch);
		sys_close(ch->link_fd);
		ch->link_fd = -1;
	} else if (ch->msg_end_mark && ch->msg_sends &&
		   ch->send_stopped == IPC_OK) {
		send_one(ch, NULL, 0, &d);
	}
}
