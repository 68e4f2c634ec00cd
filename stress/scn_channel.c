/*
 * channel-<backend>: every channel backend with many senders and receivers.
 *
 * Workers are senders and receivers. A backend whose ends may be shared
 * (ipc_backend.shared_ends) gets, in process mode, one group of all of
 * them around one pair: the senders share its sending end, the receivers
 * its receiving end, the many-to-many case. Every other backend, and every
 * backend in thread mode (an end is one thread's at a time), gets one pair
 * per group of one sender and one receiver: workers 2g and 2g + 1, an odd
 * last worker an idle spare. The pairs are made in setup, before fork; a
 * worker process closes its copies of every end but its own at its first
 * operation, which is harmless for every backend's pairs (the kernel counts
 * the copies of their links).
 *
 * A message is a header {sender, incarnation, epoch, length, seq, CRC-32C
 * of the payload} and a payload of 1 byte to 1 MiB (mostly up to 4 KiB),
 * its length and bytes a function of (sender, seq), its type 1 + seq %
 * 65535. Each sender's seq goes on across its lives and channels
 * (next_seq, in the shared region, advanced once ipc_send said IPC_OK).
 *
 * Invariants: every message arrives whole (TORN: a bad CRC, bytes or
 * length, or the channel's own frame check failing, IPC_CORRUPT), in its
 * own group's channel of the current epoch (MISROUTED), once (DUPLICATE)
 * and, for each receiver, in its sender's order (REORDERED); any status
 * but OK and TIMEOUT is CHANNEL-FAILED; at the stop every receiver drains
 * its channel to the end of the stream (UNDELIVERED if the end does not
 * come within DRAIN_LIMIT_S); at the end, each sender's messages received
 * add up to those sent (LOST).
 *
 * A kill cuts the channel of the victim's group: the supervisor kills the
 * whole group and the scenario makes it a new pair (regroup), a new epoch.
 * What a kill may honestly lose: messages of the ended epoch sent but not
 * yet received (counted, and printed under the report's row), plus, when a
 * sender died inside ipc_send, that one message, which may have arrived or
 * not (its seq is never used again). An epoch that no kill ended loses
 * nothing.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "ipc/channel.h"
#include "ipc/crc32c.h"
#include "scenarios.h"
#include "stress.h"

#define SEND_TIMEOUT_MS 200
#define VALGRIND_SLOWER 20        /* the timeouts' factor under valgrind */
#define RECV_TIMEOUT_MS 200
#define DRAIN_LIMIT_S 10.0
#define RING_SIZE (64u << 10)     /* the shm backends' rings: waits happen */
#define MAX_PAYLOAD (1u << 20)
#define RETIRED_MAX 64
#define PATTERN_KEY 0x63686e6cu

enum chan_role { ROLE_SPARE, ROLE_SENDER, ROLE_RECEIVER };

/* At the front of every message; the payload follows. */
struct chan_header {
	uint32_t sender;       /* worker index */
	uint32_t incarnation;
	uint32_t epoch;        /* its group's, when sent */
	uint32_t length;       /* payload bytes */
	uint64_t seq;
	uint32_t crc;          /* CRC-32C of the payload */
	uint32_t header_crc;   /* CRC-32C of the fields above */
};

struct chan_sender {
	_Atomic uint64_t next_seq;   /* the seq its next message carries */
	_Atomic int sending;         /* inside ipc_send of next_seq */
	_Atomic uint64_t received;   /* its messages taken, by any receiver */
	/* The supervisor's, written while the sender's group is dead: */
	uint64_t epoch_seq;          /* next_seq when the epoch began */
	uint64_t epoch_received;     /* received then */
};

struct chan_state {
	const struct ipc_backend *backend;
	int nworkers;
	int ngroups;
	bool shared;                 /* one group of every worker */
	uint8_t role[STRESS_MAX_WORKERS];
	int16_t group[STRESS_MAX_WORKERS];   /* -1: a spare */
	/* The supervisor's account of ended epochs. */
	uint64_t epochs_cut, lost, lost_max, maybe;
	/* Shared through atomics only: */
	_Atomic unsigned epoch[STRESS_MAX_WORKERS];     /* per group */
	_Atomic unsigned adopted[STRESS_MAX_WORKERS];   /* incarnation + 1 once
							   it closed the others' ends */
	struct chan_sender senders[STRESS_MAX_WORKERS];
	/* [receiver * nworkers + sender]: seq + 1 of the last message taken,
	 * each row its receiver's own. */
	uint64_t last[];
};

/*
 * Process-private: the supervisor's copies of each group's ends (in thread
 * mode, the ends themselves). A worker process has the copies of the
 * moment it was forked, which are the ones it must close: a region shared
 * with the supervisor would show it pairs made after its fork.
 */
struct chan_pair {
	struct ipc_channel *tx, *rx;
};
static struct chan_pair ends[STRESS_MAX_WORKERS];
/* Pairs of replaced groups, closed by the supervisor once no other process
 * can hold a copy: the last close of a queue's ends is what removes it. */
static struct chan_pair retired[RETIRED_MAX];
static size_t nretired;

/* Each worker's own, in its process or thread. */
static _Thread_local struct {
	bool adopted;
	bool cut;              /* its channel broke: it waits to be killed */
	bool timed_out;        /* its last send timed out, maybe part-way */
	bool ended;            /* it saw the end of the stream after the stop */
	unsigned epoch;
	uint8_t *buf;
} self;

/* ---- messages ------------------------------------------------------------ */

static uint64_t payload_length(uint32_t sender, uint64_t seq)
{
	uint64_t h = stress_seed_mix(PATTERN_KEY, sender + 1u, seq);
	uint64_t r = h % 1000, x = h >> 16;

	if (r < 2)
		return (256u << 10) + x % ((MAX_PAYLOAD - (256u << 10)) + 1);
	if (r < 40)
		return 4097 + x % ((256u << 10) - 4096);
	return 1 + x % 4096;
}

static uint16_t type_of(uint64_t seq)
{
	return (uint16_t)(1 + seq % 65535);
}

/* The payload's words: a generator seeded from (sender, seq). */
static uint64_t pattern_seed(uint32_t sender, uint64_t seq)
{
	return stress_seed_mix(PATTERN_KEY + 1, sender + 1u, seq);
}

static void fill_payload(uint8_t *p, size_t len, uint32_t sender, uint64_t seq)
{
	uint64_t x = pattern_seed(sender, seq);

	for (size_t i = 0; i < len; i += 8) {
		uint64_t word = stress_rand(&x);

		memcpy(p + i, &word, len - i < 8 ? len - i : 8);
	}
}

/* Where the payload first differs from (sender, seq)'s, or len. */
static size_t payload_mismatch(const uint8_t *p, size_t len, uint32_t sender,
			       uint64_t seq)
{
	uint64_t x = pattern_seed(sender, seq);

	for (size_t i = 0; i < len; i += 8) {
		uint64_t word = stress_rand(&x);
		size_t n = len - i < 8 ? len - i : 8;

		if (memcmp(p + i, &word, n) != 0)
			return i;
	}
	return len;
}

static uint32_t header_crc(const struct chan_header *h)
{
	return ipc_crc32c(0, h, offsetof(struct chan_header, header_crc));
}

/*
 * A send that times out part-way breaks its stream for good (channel.h), so
 * the timeout must mean a receiver that stalled, not a long message or a
 * slow tool: a bigger message gets 2 ms more for each KiB beyond the ring's
 * size, and everything takes VALGRIND_SLOWER times longer under valgrind
 * (whose one thread at a time lets a receiver wait its turn for long).
 */
static int send_timeout(size_t len)
{
	int ms = SEND_TIMEOUT_MS + (len > RING_SIZE ? (int)((len - RING_SIZE) >> 9) : 0);

	return RUNNING_ON_VALGRIND ? ms * VALGRIND_SLOWER : ms;
}

/* ---- groups and ends ----------------------------------------------------- */

static struct chan_state *state_of(const struct stress_run *run)
{
	return run->state;
}

static int make_pair(struct stress_run *run, int g)
{
	struct chan_state *s = state_of(run);
	struct ipc_opts o = { 0 };
	enum ipc_status st;

	if (s->backend->shared_memory)
		o.ring_size = RING_SIZE;
	st = ipc_channel_pair(s->backend, &o, &ends[g].tx, &ends[g].rx);
	if (st != IPC_OK) {
		fprintf(stderr, "ipch-stress: %s: ipc_channel_pair: %s (%s)\n",
			run->scn->name, ipc_status_name(st), strerror(errno));
		return -1;
	}
	return 0;
}

static void close_pair(struct chan_pair *p)
{
	ipc_channel_close(p->tx);
	ipc_channel_close(p->rx);
	p->tx = p->rx = NULL;
}

/* Every living worker has closed its copies of the others' ends, the
 * retired pairs' among them (a dead one has no copies at all). */
static bool all_adopted(const struct stress_run *run)
{
	const struct chan_state *s = state_of(run);

	for (int i = 0; i < run->nworkers; i++)
		if (atomic_load(&s->adopted[i]) !=
		    atomic_load(&run->board->slots[i].incarnation) + 1)
			return false;
	return true;
}

static void close_retired(struct stress_run *run, bool force)
{
	if (!force && !all_adopted(run))
		return;
	while (nretired > 0)
		close_pair(&retired[--nretired]);
}

static void retire(struct stress_run *run, int g)
{
	if (nretired == RETIRED_MAX) {
		/* Rare: workers slow to start. The oldest goes now. */
		close_pair(&retired[0]);
		memmove(&retired[0], &retired[1], sizeof retired[0] * (RETIRED_MAX - 1));
		nretired--;
	}
	retired[nretired++] = ends[g];
	ends[g].tx = ends[g].rx = NULL;
	close_retired(run, false);
}

/* A worker's first act: its own end kept, every other copy closed (in
 * thread mode there are no copies). */
static void adopt(struct stress_worker *w)
{
	struct chan_state *s = state_of(w->run);
	int me = w->index, g = s->group[me];

	if (self.adopted)
		return;
	self.adopted = true;
	self.epoch = g >= 0 ? atomic_load(&s->epoch[g]) : 0;
	if (!w->run->threads) {
		for (int i = 0; i < s->ngroups; i++) {
			struct chan_pair *p = &ends[i];

			if (i != g || s->role[me] != ROLE_SENDER) {
				ipc_channel_close(p->tx);
				p->tx = NULL;
			}
			if (i != g || s->role[me] != ROLE_RECEIVER) {
				ipc_channel_close(p->rx);
				p->rx = NULL;
			}
		}
		for (size_t i = 0; i < nretired; i++)
			close_pair(&retired[i]);
		nretired = 0;
	}
	atomic_store(&s->adopted[me], w->incarnation + 1);
}

/* The group is being replaced: whatever its channel said is expected. */
static bool group_gone(const struct stress_worker *w)
{
	const struct chan_state *s = state_of(w->run);
	int g = s->group[w->index];

	return g >= 0 && (atomic_load(&w->run->board->group_dying[g]) ||
			  atomic_load(&s->epoch[g]) != self.epoch);
}

static const char *role_name(const struct chan_state *s, int w)
{
	return s->role[w] == ROLE_SENDER ? "sender" : "receiver";
}

/* A status other than OK or TIMEOUT: a violation, unless the group is
 * being replaced; either way this worker is done with its channel. */
static void channel_failed(struct stress_worker *w, struct ipc_channel *ch,
			   const char *call, enum ipc_status st)
{
	struct chan_state *s = state_of(w->run);
	uint64_t offset = 0;
	enum ipcf_fault fault;

	self.cut = true;
	if (group_gone(w))
		return;
	if (st == IPC_CORRUPT) {
		fault = ipc_channel_fault(ch, &offset);
		stress_check(w->run, false, "TORN",
			     "receiver %d: the channel's frame check found a %s fault"
			     " at offset %" PRIu64 ": bytes torn or mixed on the way",
			     w->index, ipcf_fault_name(fault), offset);
		return;
	}
	stress_check(w->run, false, "CHANNEL-FAILED",
		     "%s %d (incarnation %u): %s: %s (errno %d)%s", role_name(s, w->index),
		     w->index, w->incarnation, call, ipc_status_name(st),
		     ipc_channel_errno(ch),
		     st == IPC_BROKEN && self.timed_out
			     ? ", after its own send timed out part-way" : "");
}

/* Waits to be killed, or for the stop. */
static enum stress_op idle(struct stress_worker *w)
{
	stress_phase(w, STRESS_IDLE);
	stress_sleep_us(10000);
	return STRESS_OP_RETRY;
}

/* ---- senders -------------------------------------------------------------- */

static uint8_t *buffer(void)
{
	if (!self.buf)
		self.buf = malloc(sizeof(struct chan_header) + MAX_PAYLOAD);
	return self.buf;
}

static size_t build(struct stress_worker *w, uint64_t seq)
{
	uint32_t me = (uint32_t)w->index;
	struct chan_header h = {
		.sender = me,
		.incarnation = w->incarnation,
		.epoch = self.epoch,
		.length = (uint32_t)payload_length(me, seq),
		.seq = seq,
	};
	uint8_t *payload = self.buf + sizeof h;

	fill_payload(payload, h.length, me, seq);
	h.crc = ipc_crc32c(0, payload, h.length);
	h.header_crc = header_crc(&h);
	memcpy(self.buf, &h, sizeof h);
	return sizeof h + h.length;
}

static enum stress_op send_one(struct stress_worker *w)
{
	struct chan_state *s = state_of(w->run);
	struct chan_sender *me = &s->senders[w->index];
	struct ipc_channel *ch = ends[s->group[w->index]].tx;
	uint64_t seq = atomic_load(&me->next_seq);
	enum ipc_status st;
	size_t len;

	if (!buffer()) {
		stress_check(w->run, false, "CHANNEL-FAILED", "sender %d: no memory for"
			     " a message buffer", w->index);
		self.cut = true;
		return idle(w);
	}
	len = build(w, seq);
	stress_phase(w, STRESS_SEND);
	atomic_store(&me->sending, 1);
	st = ipc_send(ch, type_of(seq), self.buf, len, send_timeout(len));
	if (st == IPC_OK)
		atomic_store(&me->next_seq, seq + 1);
	atomic_store(&me->sending, 0);
	stress_phase(w, STRESS_IDLE);
	if (st == IPC_OK) {
		self.timed_out = false;
		return STRESS_OP_DONE;
	}
	if (st == IPC_TIMEOUT) {
		self.timed_out = true;   /* the same seq next time */
		return STRESS_OP_RETRY;
	}
	channel_failed(w, ch, "ipc_send", st);
	return idle(w);
}

/* ---- receivers ------------------------------------------------------------ */

static bool sender_of_group(const struct chan_state *s, uint32_t sender, int g)
{
	return sender < (uint32_t)s->nworkers && s->role[sender] == ROLE_SENDER &&
	       s->group[sender] == g;
}

/* Whole, from a sender of this group and epoch, its bytes its own. */
static bool message_whole(struct stress_worker *w, const struct ipc_msg *m,
			  struct chan_header *h)
{
	struct stress_run *run = w->run;
	struct chan_state *s = state_of(run);
	int me = w->index, g = s->group[me];
	const uint8_t *payload;
	size_t at;

	if (!stress_check(run, m->length >= sizeof *h, "TORN",
			  "receiver %d: a message of %zu bytes, shorter than its header",
			  me, m->length))
		return false;
	memcpy(h, m->data, sizeof *h);
	payload = m->data + sizeof *h;
	if (!stress_check(run, header_crc(h) == h->header_crc, "TORN",
			  "receiver %d: a header with a bad CRC (sender %" PRIu32
			  ", seq %" PRIu64 " by its own word)", me, h->sender, h->seq) ||
	    !stress_check(run, sizeof *h + h->length == m->length, "TORN",
			  "receiver %d: sender %" PRIu32 " seq %" PRIu64 ": %zu bytes"
			  " for a header that says %zu", me, h->sender, h->seq,
			  m->length, sizeof *h + h->length) ||
	    !stress_check(run, sender_of_group(s, h->sender, g) &&
				       h->epoch == self.epoch, "MISROUTED",
			  "receiver %d (group %d, epoch %u): a message of worker %"
			  PRIu32 ", epoch %" PRIu32, me, g, self.epoch, h->sender,
			  h->epoch) ||
	    !stress_check(run, m->type == type_of(h->seq) &&
				       h->length == payload_length(h->sender, h->seq),
			  "TORN", "receiver %d: sender %" PRIu32 " seq %" PRIu64
			  ": type %u, %" PRIu32 " bytes: not that message's",
			  me, h->sender, h->seq, m->type, h->length) ||
	    !stress_check(run, ipc_crc32c(0, payload, h->length) == h->crc, "TORN",
			  "receiver %d: sender %" PRIu32 " seq %" PRIu64
			  ": the payload's CRC-32C does not match", me, h->sender,
			  h->seq))
		return false;
	at = payload_mismatch(payload, h->length, h->sender, h->seq);
	return stress_check(run, at == h->length, "TORN",
			    "receiver %d: sender %" PRIu32 " seq %" PRIu64
			    ": bytes of another message from offset %zu of %" PRIu32,
			    me, h->sender, h->seq, at, h->length);
}

static void take(struct stress_worker *w, const struct ipc_msg *m)
{
	struct stress_run *run = w->run;
	struct chan_state *s = state_of(run);
	struct chan_header h;
	uint64_t *last;

	if (!message_whole(w, m, &h))
		return;
	last = &s->last[(size_t)w->index * (size_t)s->nworkers + h.sender];
	if (h.seq + 1 == *last)
		stress_check(run, false, "DUPLICATE", "receiver %d: seq %" PRIu64
			     " of sender %" PRIu32 " twice", w->index, h.seq, h.sender);
	else
		stress_check(run, h.seq + 1 > *last, "REORDERED",
			     "receiver %d: seq %" PRIu64 " of sender %" PRIu32
			     " after seq %" PRIu64, w->index, h.seq, h.sender, *last - 1);
	if (h.seq + 1 > *last)
		*last = h.seq + 1;
	atomic_fetch_add(&s->senders[h.sender].received, 1);
}

static enum stress_op receive_one(struct stress_worker *w)
{
	struct chan_state *s = state_of(w->run);
	struct ipc_channel *ch = ends[s->group[w->index]].rx;
	struct ipc_msg m;
	enum ipc_status st;

	stress_phase(w, STRESS_RECV);
	st = ipc_recv(ch, &m, RECV_TIMEOUT_MS);
	stress_phase(w, STRESS_IDLE);
	if (st == IPC_OK) {
		take(w, &m);
		return STRESS_OP_DONE;
	}
	if (st == IPC_TIMEOUT)
		return STRESS_OP_RETRY;
	/* The stop closes the sending ends; the flag is set first. */
	if (st == IPC_PEER_CLOSED && stress_stopping(w)) {
		self.ended = true;
		return STRESS_OP_RETRY;
	}
	channel_failed(w, ch, "ipc_recv", st);
	return idle(w);
}

enum stress_op channel_op(struct stress_worker *w)
{
	struct chan_state *s = state_of(w->run);

	adopt(w);
	if (self.cut)
		return idle(w);
	switch (s->role[w->index]) {
	case ROLE_SENDER:
		return send_one(w);
	case ROLE_RECEIVER:
		return receive_one(w);
	default:
		return idle(w);
	}
}

/* ---- the stop ------------------------------------------------------------- */

/* The receivers' drain: every message, then the end of the stream, which
 * comes once every copy of the sending end is closed (the senders' at
 * their stop, the supervisor's in channel_stopping). */
static void drain(struct stress_worker *w)
{
	struct ipc_channel *ch = ends[state_of(w->run)->group[w->index]].rx;
	double limit = stress_now() + DRAIN_LIMIT_S;

	stress_phase(w, STRESS_RECV);
	while (!self.cut && !self.ended) {
		struct ipc_msg m;
		enum ipc_status st = ipc_recv(ch, &m, RECV_TIMEOUT_MS);

		if (st == IPC_OK) {
			take(w, &m);
			atomic_fetch_add_explicit(&w->slot->ops, 1, memory_order_relaxed);
		} else if (st == IPC_PEER_CLOSED) {
			return;
		} else if (st != IPC_TIMEOUT) {
			channel_failed(w, ch, "ipc_recv", st);
		} else if (stress_now() > limit) {
			stress_check(w->run, group_gone(w), "UNDELIVERED",
				     "receiver %d: no end of stream within %.0f s of the"
				     " stop", w->index, DRAIN_LIMIT_S);
			return;
		}
	}
}

static void channel_stopped(struct stress_worker *w)
{
	struct chan_state *s = state_of(w->run);
	int g = s->group[w->index];

	adopt(w);
	if (s->role[w->index] == ROLE_SENDER) {
		/* Its copy; in thread mode the end itself (teardown's no more). */
		ipc_channel_close(ends[g].tx);
		ends[g].tx = NULL;
	} else if (s->role[w->index] == ROLE_RECEIVER) {
		drain(w);
	}
	free(self.buf);
	self.buf = NULL;
}

/* The supervisor's copies of the sending ends go: with the senders' own,
 * the last. Threads close their ends themselves. */
static void channel_stopping(struct stress_run *run)
{
	struct chan_state *s = state_of(run);

	if (run->threads)
		return;
	for (int g = 0; g < s->ngroups; g++) {
		ipc_channel_close(ends[g].tx);
		ends[g].tx = NULL;
	}
}

/* ---- kills ------------------------------------------------------------------ */

static int channel_group_of(const struct stress_run *run, int worker)
{
	return state_of(run)->group[worker];
}

/*
 * The account of group g's epoch, which ends now (every member is dead or
 * stopped): each sender's messages taken may not exceed those sent, and
 * only a kill (cut) excuses the ones that did not arrive. A sender killed
 * inside ipc_send leaves one message that may or may not have arrived; its
 * seq is skipped, so that no seq is ever sent twice.
 */
static void close_epoch(struct stress_run *run, int g, bool cut)
{
	struct chan_state *s = state_of(run);
	unsigned epoch = atomic_load(&s->epoch[g]);
	uint64_t lost = 0;

	for (int i = 0; i < s->nworkers; i++) {
		struct chan_sender *c = &s->senders[i];
		uint64_t sent, got, maybe;

		if (s->role[i] != ROLE_SENDER || s->group[i] != g)
			continue;
		sent = atomic_load(&c->next_seq) - c->epoch_seq;
		maybe = (uint64_t)atomic_load(&c->sending);
		got = atomic_load(&c->received) - c->epoch_received;
		stress_check(run, got <= sent + maybe, "DUPLICATE",
			     "sender %d, epoch %u: %" PRIu64 " messages taken of %" PRIu64
			     " sent", i, epoch, got, sent + maybe);
		if (!cut)
			stress_check(run, got >= sent, "LOST",
				     "sender %d, epoch %u: %" PRIu64 " of %" PRIu64
				     " messages never taken, and no kill ended the epoch",
				     i, epoch, sent - got, sent);
		else if (got < sent)
			lost += sent - got;
		s->maybe += maybe;
		atomic_store(&c->next_seq, atomic_load(&c->next_seq) + maybe);
		atomic_store(&c->sending, 0);
		c->epoch_seq = atomic_load(&c->next_seq);
		c->epoch_received = atomic_load(&c->received);
	}
	if (cut) {
		s->epochs_cut++;
		s->lost += lost;
		if (lost > s->lost_max)
			s->lost_max = lost;
	}
}

static int channel_regroup(struct stress_run *run, int g)
{
	struct chan_state *s = state_of(run);

	close_epoch(run, g, true);
	retire(run, g);
	if (make_pair(run, g) != 0)
		return -1;
	atomic_fetch_add(&s->epoch[g], 1);
	return 0;
}

/* ---- setup, check, teardown ---------------------------------------------- */

static void assign_roles(struct chan_state *s)
{
	int n = s->nworkers;

	if (s->shared) {
		/* Odd n: one more sender. */
		int senders = (n + 1) / 2;

		s->ngroups = 1;
		for (int i = 0; i < n; i++) {
			s->role[i] = i < senders ? ROLE_SENDER : ROLE_RECEIVER;
			s->group[i] = 0;
		}
		return;
	}
	s->ngroups = n / 2;
	for (int i = 0; i < n; i++) {
		bool spare = i == n - 1 && n % 2;

		s->role[i] = spare ? ROLE_SPARE : i % 2 ? ROLE_RECEIVER : ROLE_SENDER;
		s->group[i] = spare ? -1 : (int16_t)(i / 2);
	}
}

static int channel_setup(struct stress_run *run, const char *backend)
{
	struct chan_state *s;
	size_t n = (size_t)run->nworkers;

	memset(ends, 0, sizeof ends);
	nretired = 0;
	if (run->nworkers < 2) {
		fprintf(stderr, "ipch-stress: %s: needs a sender and a receiver:"
			" --procs 2 at least\n", run->scn->name);
		return -1;
	}
	s = stress_map_state(run, sizeof *s + n * n * sizeof s->last[0]);
	if (!s)
		return -1;
	s->backend = ipc_backend_find(backend);
	if (!s->backend) {
		fprintf(stderr, "ipch-stress: %s: no backend %s\n", run->scn->name, backend);
		return -1;
	}
	s->nworkers = run->nworkers;
	s->shared = s->backend->shared_ends && !run->threads;
	assign_roles(s);
	for (int g = 0; g < s->ngroups; g++)
		if (make_pair(run, g) != 0)
			return -1;
	stress_atomic_only(&s->epoch, offsetof(struct chan_state, last) -
				      offsetof(struct chan_state, epoch));
	run->stop_grace = DRAIN_LIMIT_S + 5;
	run->stopping = channel_stopping;
	run->stopped = channel_stopped;
	run->group_of = channel_group_of;
	run->regroup = channel_regroup;
	return 0;
}

#define CHANNEL_SETUP(fn, backend) \
	int fn(struct stress_run *run) { return channel_setup(run, backend); }
CHANNEL_SETUP(channel_setup_pipe, "pipe")
CHANNEL_SETUP(channel_setup_fifo, "fifo")
CHANNEL_SETUP(channel_setup_tcp, "tcp")
CHANNEL_SETUP(channel_setup_unix_stream, "unix-stream")
CHANNEL_SETUP(channel_setup_sysv_msg, "sysv-msg")
CHANNEL_SETUP(channel_setup_unix_dgram, "unix-dgram")
CHANNEL_SETUP(channel_setup_unix_seqpacket, "unix-seqpacket")
CHANNEL_SETUP(channel_setup_posix_mq, "posix-mq")
CHANNEL_SETUP(channel_setup_shm_ring, "shm-ring")
CHANNEL_SETUP(channel_setup_shm_mpmc_sysv_sem, "shm-mpmc-sysv-sem")
CHANNEL_SETUP(channel_setup_shm_mpmc_posix_sem, "shm-mpmc-posix-sem")

void channel_check(struct stress_run *run)
{
	struct chan_state *s = state_of(run);
	uint64_t sent = 0, got = 0;

	for (int g = 0; g < s->ngroups; g++)
		close_epoch(run, g, atomic_load(&run->board->group_dying[g]));
	for (int i = 0; i < s->nworkers; i++) {
		if (s->role[i] != ROLE_SENDER)
			continue;
		sent += atomic_load(&s->senders[i].next_seq);
		got += atomic_load(&s->senders[i].received);
	}
	/* The seqs of senders killed inside ipc_send were skipped: those
	 * messages may or may not have arrived. */
	snprintf(run->note, sizeof run->note,
		 "%" PRIu64 " messages sent, %" PRIu64 " more maybe, %" PRIu64
		 " taken; %" PRIu64 " lost in %" PRIu64 " epochs cut by kills"
		 " (at most %" PRIu64 " in one)", sent - s->maybe, s->maybe, got,
		 s->lost, s->epochs_cut, s->lost_max);
}

void channel_teardown(struct stress_run *run)
{
	close_retired(run, true);
	for (int g = 0; g < STRESS_MAX_WORKERS; g++)
		close_pair(&ends[g]);
}
