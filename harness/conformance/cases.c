/*
 * The cases every backend passes, in each direction it carries messages and
 * under every fault plan. Each case makes its own pair through the fixture.
 * A case whose messages outgrow what a channel buffers gives the sending or
 * the receiving end to a peer process, so both ends move at once.
 */
#include "conformance.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A limit small enough that a message over it fits any channel's buffer. */
#define SMALL_LIMIT 4096u
/* The frame limit of the test's own larger-limit sender. */
#define WIDE_FRAME (64u * 1024u)
/* Messages of the fill: header and payload fit in PIPE_BUF, so a pipe takes
 * each whole or not at all; other mechanisms may cut one. */
#define FILL_LENGTH 1000u
#define FILL_MAX_BYTES (64u << 20)
#define FORK_COUNT 48u
#define RECV_WAIT_MS 150

static struct msg_spec fill_spec(size_t i)
{
	return (struct msg_spec){(uint16_t)(1 + i % 0xFFFF), FILL_LENGTH, 0xF111ull + i};
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- one message of each size, from a peer process ------------------------ */

static void one_message_from_peer(struct fixture *fx, size_t length,
				  uint32_t max_message)
{
	fx_pair(fx, max_message);
	workload_single(fx, length);
	fx_start_peer(fx, PEER_SENDS, send_workload);
	recv_workload(fx);
	fx_wait_peer(fx);
}

static void size_0(struct fixture *fx) { one_message_from_peer(fx, 0, 0); }
static void size_1(struct fixture *fx) { one_message_from_peer(fx, 1, 0); }
static void size_pipe_buf(struct fixture *fx) { one_message_from_peer(fx, PIPE_BUF, 0); }
static void size_64k(struct fixture *fx) { one_message_from_peer(fx, 64u * 1024u, 0); }

/* Exactly the channel's limit: the 16 MiB default (1 MiB under --light). */
static void size_16m(struct fixture *fx)
{
	one_message_from_peer(fx, conf.limit_message, conf.limit_opts);
}

/* ---- many messages, from a peer process ------------------------------------ */

static void workload_from_peer(struct fixture *fx)
{
	fx_start_peer(fx, PEER_SENDS, send_workload);
	recv_workload(fx);
	fx_wait_peer(fx);
}

/* Mixed sizes around every boundary and types across the whole range arrive
 * in order, each with its own type and bytes. */
static void order_and_types(struct fixture *fx)
{
	fx_pair(fx, 0);
	workload_mixed(fx, conf.mixed_count);
	workload_from_peer(fx);
}

static void many_small(struct fixture *fx)
{
	fx_pair(fx, 0);
	workload_small(fx, conf.many_count);
	workload_from_peer(fx);
}

/* ---- a peer that went away ---------------------------------------------------- */

/* The receiver gets every message the sender wrote before closing, then
 * IPC_PEER_CLOSED, and again on every later receive. */
static void peer_closed_receiver(struct fixture *fx)
{
	struct ipc_msg msg;

	fx_pair(fx, 0);
	workload_mixed(fx, 3);
	send_workload(fx);
	recv_workload(fx);
	fx_expect(fx, fx_rx(fx), ipc_recv(fx_rx(fx), &msg, 0), IPC_PEER_CLOSED,
		  "receiving once more after IPC_PEER_CLOSED");
}

static int sigpipe_pending(void)
{
	sigset_t pending;

	sigpending(&pending);
	return sigismember(&pending, SIGPIPE);
}

static void block_sigpipe(int block)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static int sigpipe_blocked(void)
{
	sigset_t mask;

	sigprocmask(SIG_BLOCK, NULL, &mask);
	return sigismember(&mask, SIGPIPE);
}

/* Some mechanisms take a write or two after the reader is gone (TCP answers
 * the first with a reset): sends may succeed before the first refusal. */
static void send_until_refused(struct fixture *fx, const char *how)
{
	enum ipc_status st = IPC_OK;
	int tries;

	for (tries = 1; tries <= 1000 && st == IPC_OK; tries++) {
		st = ipc_send(fx_tx(fx), 1, "x", 1, conf.io_timeout_ms);
		if (st == IPC_OK)
			usleep(1000);
	}
	if (st == IPC_OK)
		fx_fail(fx, "1000 sends to a closed receiver (%s) all returned 'ok'", how);
	fx_expect(fx, fx_tx(fx), st, IPC_PEER_CLOSED,
		  "sending to a closed receiver (%s), attempt %d", how, tries - 1);
}

/* A fresh pair for each signal state: a refusal may come part-way through a
 * message (TCP takes bytes until the reset), which leaves the end
 * IPC_BROKEN for any later send. */
static void refused_by_closed_receiver(struct fixture *fx, const char *how)
{
	fx_pair(fx, 0);
	fx_close_rx(fx);
	send_until_refused(fx, how);
}

/* The sender to a closed receiver gets IPC_PEER_CLOSED and lives: SIGPIPE
 * keeps its default action here, so one let through would kill the case
 * process. A SIGPIPE the caller blocked stays blocked and nothing is left
 * pending; one the caller had pending stays pending. */
static void peer_closed_sender(struct fixture *fx)
{
	const struct timespec zero = {0, 0};
	sigset_t pipe_set;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);

	refused_by_closed_receiver(fx, "SIGPIPE unblocked, default action");
	if (sigpipe_pending())
		fx_fail(fx, "a SIGPIPE is pending after sending to a closed receiver");

	block_sigpipe(1);
	refused_by_closed_receiver(fx, "SIGPIPE blocked by the caller");
	if (!sigpipe_blocked())
		fx_fail(fx, "the send unblocked SIGPIPE, which the caller had blocked");
	if (sigpipe_pending())
		fx_fail(fx, "the send left a SIGPIPE pending in the caller's mask");

	raise(SIGPIPE);
	refused_by_closed_receiver(fx, "SIGPIPE blocked and already pending");
	if (!sigpipe_pending())
		fx_fail(fx, "the send took away a SIGPIPE that was pending before it");
	while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
		;
	block_sigpipe(0);
}

/* ---- timeouts ------------------------------------------------------------------ */

/* A receive with nothing sent times out, not before its deadline (and not
 * absurdly after it), and the channel works afterwards. */
static void recv_timeout(struct fixture *fx)
{
	struct ipc_msg msg;
	enum ipc_status st;
	long long began, took_ns;

	fx_pair(fx, 0);
	st = ipc_recv(fx_rx(fx), &msg, 0);
	fx_expect(fx, fx_rx(fx), st, IPC_TIMEOUT,
		  "receiving with timeout 0, nothing sent");

	began = now_ns();
	st = ipc_recv(fx_rx(fx), &msg, RECV_WAIT_MS);
	took_ns = now_ns() - began;
	fx_expect(fx, fx_rx(fx), st, IPC_TIMEOUT,
		  "receiving with timeout %d ms, nothing sent", RECV_WAIT_MS);
	if (took_ns < RECV_WAIT_MS * 1000000LL)
		fx_fail(fx, "a receive with timeout %d ms returned IPC_TIMEOUT after "
			"%lld us, before its deadline", RECV_WAIT_MS, took_ns / 1000);
	if (took_ns / 1000000 > RECV_WAIT_MS + conf.io_timeout_ms)
		fx_fail(fx, "a receive with timeout %d ms returned only after %lld ms",
			RECV_WAIT_MS, took_ns / 1000000);

	workload_single(fx, 100);
	send_workload(fx);
	recv_workload(fx);
}

/* After a timed-out send, either nothing of its message went out and the
 * channel carries the next one, or it stopped inside the message, further
 * sends are IPC_BROKEN and the receiver sees the message cut short. */
static void after_timed_out_send(struct fixture *fx, size_t sent)
{
	struct msg_spec next = fill_spec(sent);
	uint8_t *buf = fx_buffer(fx, FILL_LENGTH);
	struct ipc_msg msg;
	enum ipc_status st;

	payload_fill(buf, next.length, next.seed);
	st = ipc_send(fx_tx(fx), next.type, buf, next.length, conf.io_timeout_ms);
	if (st == IPC_BROKEN) {
		fx_close_tx(fx);
		st = ipc_recv(fx_rx(fx), &msg, conf.io_timeout_ms);
		fx_expect_fault(fx, fx_rx(fx), st, IPCF_FAULT_TRUNCATED,
				"receiving after the last whole message, the sender "
				"having timed out inside the next one and closed");
		return;
	}
	fx_expect(fx, fx_tx(fx), st, IPC_OK,
		  "sending again once the receiver drained the channel");
	st = ipc_recv(fx_rx(fx), &msg, conf.io_timeout_ms);
	fx_expect(fx, fx_rx(fx), st, IPC_OK,
		  "receiving the message sent after the timed-out one");
	check_message(fx, &msg, &next, sent, sent + 1);
	fx_close_tx(fx);
	st = ipc_recv(fx_rx(fx), &msg, conf.io_timeout_ms);
	fx_expect(fx, fx_rx(fx), st, IPC_PEER_CLOSED,
		  "receiving after the last message, the sender closed");
}

/* Sends with timeout 0 fill the channel, then one returns IPC_TIMEOUT at
 * once; every message reported sent arrives intact and in order. */
static void send_full_timeout_0(struct fixture *fx)
{
	const size_t most = FILL_MAX_BYTES / FILL_LENGTH;
	uint8_t *buf;
	struct ipc_msg msg;
	enum ipc_status st;
	size_t sent;

	fx_pair(fx, 0);
	buf = fx_buffer(fx, FILL_LENGTH);
	for (sent = 0;; sent++) {
		struct msg_spec m = fill_spec(sent);

		if (sent == most)
			fx_fail(fx, "%zu messages of %u bytes went out with timeout 0 "
				"and the channel never filled", sent, FILL_LENGTH);
		payload_fill(buf, m.length, m.seed);
		st = ipc_send(fx_tx(fx), m.type, buf, m.length, 0);
		if (st != IPC_OK)
			break;
	}
	fx_expect(fx, fx_tx(fx), st, IPC_TIMEOUT,
		  "sending message %zu with timeout 0 into a full channel", sent);
	for (size_t i = 0; i < sent; i++) {
		struct msg_spec m = fill_spec(i);

		st = ipc_recv(fx_rx(fx), &msg, conf.io_timeout_ms);
		fx_expect(fx, fx_rx(fx), st, IPC_OK,
			  "receiving message %zu of the %zu that filled the channel",
			  i, sent);
		check_message(fx, &msg, &m, i, sent);
	}
	after_timed_out_send(fx, sent);
}

/* ---- over the limit ----------------------------------------------------------- */

/* A message one byte over the limit is refused before anything is written,
 * and the channel carries the next message as if nothing happened. */
static void refused_then_usable(struct fixture *fx, uint32_t max_message)
{
	size_t limit = max_message != 0 ? max_message : IPCF_DEFAULT_LIMIT;
	/* With the small limit the next message is exactly at it. */
	struct msg_spec next = {7, max_message != 0 ? limit : 1, 0xB16ull};
	uint8_t *buf = fx_buffer(fx, limit + 1);
	struct ipc_msg msg;
	enum ipc_status st;

	fx_pair(fx, max_message);
	st = ipc_send(fx_tx(fx), 7, buf, limit + 1, conf.io_timeout_ms);
	fx_expect(fx, fx_tx(fx), st, IPC_TOO_BIG,
		  "sending %zu bytes on a channel whose limit is %zu", limit + 1, limit);
	st = ipc_recv(fx_rx(fx), &msg, 0);
	fx_expect(fx, fx_rx(fx), st, IPC_TIMEOUT,
		  "receiving right after a refused send (nothing of it may be written)");

	payload_fill(buf, next.length, next.seed);
	st = ipc_send(fx_tx(fx), next.type, buf, next.length, conf.io_timeout_ms);
	fx_expect(fx, fx_tx(fx), st, IPC_OK,
		  "sending %zu bytes after a refused send", next.length);
	st = ipc_recv(fx_rx(fx), &msg, conf.io_timeout_ms);
	fx_expect(fx, fx_rx(fx), st, IPC_OK,
		  "receiving the message sent after a refused send");
	check_message(fx, &msg, &next, 0, 1);
}

static void too_big_at_sender(struct fixture *fx)
{
	refused_then_usable(fx, SMALL_LIMIT);
	refused_then_usable(fx, 0);
}

/* A sender whose limit is larger than the receiver's sends a message over
 * the receiver's limit: the receiver refuses it as IPC_TOO_BIG and stays
 * stopped. pair() gives both ends one set of options, so the sender with
 * the larger limit is the test's own encoder, its frames sent as they are
 * (ipc_send_encoded). */
static void too_big_at_receiver(struct fixture *fx)
{
	const size_t len = SMALL_LIMIT + 1;
	size_t cap = (size_t)ipcf_encoded_size(len, WIDE_FRAME);
	struct ipcf_encoder enc;
	struct ipc_msg msg;
	enum ipc_status st;
	uint64_t offset = 0;
	uint8_t *frame, *payload;
	size_t n;

	fx_pair(fx, SMALL_LIMIT);
	frame = fx_buffer(fx, cap + len);
	payload = frame + cap;
	payload_fill(payload, len, 0xB16B16ull);
	ipcf_encoder_init(&enc, 0, WIDE_FRAME);
	n = ipcf_encode(&enc, 9, payload, len, frame, cap);
	if (n == 0)
		fx_fail(fx, "ipcf_encode of a %zu-byte message: %s", len, strerror(errno));
	st = ipc_send_encoded(fx_tx(fx), frame, n, conf.io_timeout_ms);
	fx_expect(fx, fx_tx(fx), st, IPC_OK,
		  "sending the %zu bytes of a %zu-byte message's frames as they are",
		  n, len);

	st = ipc_recv(fx_rx(fx), &msg, conf.io_timeout_ms);
	fx_expect(fx, fx_rx(fx), st, IPC_TOO_BIG,
		  "receiving a %zu-byte message on an end whose limit is %u", len,
		  SMALL_LIMIT);
	if (ipc_channel_fault(fx_rx(fx), &offset) != IPCF_FAULT_TOO_BIG || offset != 0)
		fx_fail(fx, "IPC_TOO_BIG came with IPCF fault '%s' at offset %llu, "
			"want 'too-big' at offset 0",
			ipcf_fault_name(ipc_channel_fault(fx_rx(fx), NULL)),
			(unsigned long long)offset);
	st = ipc_recv(fx_rx(fx), &msg, 0);
	fx_expect(fx, fx_rx(fx), st, IPC_TOO_BIG,
		  "receiving again after IPC_TOO_BIG (the receive side stays stopped)");
}

/* ---- across fork() -------------------------------------------------------- */

static void fork_parent_to_child(struct fixture *fx)
{
	fx_pair(fx, 0);
	workload_mixed(fx, FORK_COUNT);
	fx_start_peer(fx, PEER_RECEIVES, recv_workload);
	send_workload(fx);
	fx_wait_peer(fx);
}

static void fork_child_to_parent(struct fixture *fx)
{
	fx_pair(fx, 0);
	workload_mixed(fx, FORK_COUNT);
	workload_from_peer(fx);
}

/* ---- the list -------------------------------------------------------------- */

const struct conf_case conf_cases[] = {
	{"size-0", size_0},
	{"size-1", size_1},
	{"size-pipe-buf", size_pipe_buf},
	{"size-64k", size_64k},
	{"size-16m", size_16m},
	{"order-and-types", order_and_types},
	{"many-small", many_small},
	{"peer-closed-receiver", peer_closed_receiver},
	{"peer-closed-sender", peer_closed_sender},
	{"recv-timeout", recv_timeout},
	{"send-full-timeout-0", send_full_timeout_0},
	{"too-big-at-sender", too_big_at_sender},
	{"too-big-at-receiver", too_big_at_receiver},
	{"fork-parent-to-child", fork_parent_to_child},
	{"fork-child-to-parent", fork_child_to_parent},
};
const size_t conf_ncases = sizeof conf_cases / sizeof conf_cases[0];
