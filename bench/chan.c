/*
 * Channel subjects: a backend of ipc_backends through ipc_channel_pair with
 * default options (16 MiB messages carry every size bench-run takes). A
 * duplex backend's one pair carries both ways; any other gets a second pair
 * for the way back.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ipc/channel.h"
#include "subject.h"

struct chan_state {
	const struct ipc_backend *backend;
	int timeout_ms;
	/* [0]: parent to child, [1]: child to parent (NULL if one way) */
	struct ipc_channel *tx[2], *rx[2];
	struct ipc_channel *out, *in; /* this side's, after keep_side */
};

static struct chan_state *state_of(struct subject *s) { return s->state; }

static void fail_status(const char *what, struct ipc_channel *ch, enum ipc_status st)
{
	if (st == IPC_SYSTEM)
		bench_fail("%s: %s (%s)", what, ipc_status_name(st),
			   strerror(ipc_channel_errno(ch)));
	bench_fail("%s: %s", what, ipc_status_name(st));
}

static void make_pair(struct chan_state *c, int way)
{
	enum ipc_status st = ipc_channel_pair(c->backend, NULL, &c->tx[way], &c->rx[way]);

	if (st != IPC_OK)
		bench_fail_errno("ipc_channel_pair: %s", ipc_status_name(st));
}

/* An end this side does not use goes; a duplex pair's ends are each one
 * side's whole. */
static void chan_keep_side(struct subject *s, enum side side)
{
	struct chan_state *c = state_of(s);
	int parent = side == PARENT_SIDE;

	if (c->tx[1] == NULL && c->backend->duplex) {
		c->out = parent ? c->tx[0] : c->rx[0];
		c->in = c->out;
		ipc_channel_close(parent ? c->rx[0] : c->tx[0]);
	} else {
		c->out = parent ? c->tx[0] : c->tx[1];
		c->in = parent ? c->rx[1] : c->rx[0];
		ipc_channel_close(parent ? c->rx[0] : c->tx[0]);
		if (c->tx[1] != NULL)
			ipc_channel_close(parent ? c->tx[1] : c->rx[1]);
	}
	c->tx[0] = c->tx[1] = c->rx[0] = c->rx[1] = NULL;
}

static void chan_send(struct subject *s, int last)
{
	struct chan_state *c = state_of(s);
	enum ipc_status st = ipc_send(c->out, 1, last ? s->last : s->more, s->size,
				      c->timeout_ms);

	if (st != IPC_OK)
		fail_status("ipc_send", c->out, st);
}

static uint8_t chan_recv(struct subject *s)
{
	struct chan_state *c = state_of(s);
	struct ipc_msg m;
	enum ipc_status st = ipc_recv(c->in, &m, c->timeout_ms);

	if (st != IPC_OK)
		fail_status("ipc_recv", c->in, st);
	if (m.length != s->size)
		bench_fail("ipc_recv: a message of %zu bytes, not %zu", m.length, s->size);
	return m.data[0];
}

static uint64_t chan_recv_round(struct subject *s)
{
	uint64_t n = 1;

	while (chan_recv(s) != BENCH_LAST)
		n++;
	return n;
}

static void chan_close(struct subject *s)
{
	struct chan_state *c = state_of(s);

	if (c->in != c->out)
		ipc_channel_close(c->in);
	ipc_channel_close(c->out);
	free(c);
	s->state = NULL;
}

static const struct subject_ops chan_ops = {
	.keep_side = chan_keep_side,
	.send = chan_send,
	.recv = chan_recv,
	.recv_round = chan_recv_round,
	.close = chan_close,
};

int chan_open(struct subject *s, const char *name, int two_way)
{
	const struct ipc_backend *b = ipc_backend_find(name);
	struct chan_state *c;

	if (b == NULL || b->pair == NULL)
		return -1;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		bench_fail("out of memory");
	c->backend = b;
	/* Each call is bounded well within the processes' own bounds. */
	c->timeout_ms = 60000;
	s->ops = &chan_ops;
	s->state = c;
	make_pair(c, 0);
	if (two_way && !b->duplex)
		make_pair(c, 1);
	return 0;
}
