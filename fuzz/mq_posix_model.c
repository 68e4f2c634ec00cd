/*
 * mq_posix_model: a POSIX message queue of the kernel against the model of
 * harness/models/posix_mq_model.h, operation by operation, through
 * include/ipc/posix_mq.h.
 *
 * Input (reads past the end give zeros; the tables are in
 * fuzz/mq_model_format.h):
 *   byte 0     mq_maxmsg: 1 + the byte modulo msg_max
 *   bytes 1-2  mq_msgsize: 1 + the value (big-endian) modulo msgsize_max
 *   then operations until the input ends, each an opcode byte whose low 2
 *   bits say which:
 *     0     send     priority (1 byte, mqf_posix_prio: 0..239, then the
 *                    values around sysconf(_SC_MQ_PRIO_MAX) and the ends of
 *                    int and unsigned), size (2 bytes, big-endian, modulo
 *                    msgsize + 2), pattern (1 byte: byte i of the message
 *                    is mqf_text_byte(pattern + i))
 *     1     receive  buffer size (1 byte, mqf_posix_cap: 0 is msgsize,
 *                    0x01..0x7F msgsize plus that, 0x80.. below msgsize)
 *     2, 3  mq_getattr
 *   opcode bit 2 (MQF_POSIX_TIMED): through a blocking descriptor with a
 *   timeout of 0 ms, which has passed when the kernel looks (ETIMEDOUT);
 *   otherwise through the O_NONBLOCK descriptor (EAGAIN). No call waits.
 *
 * Invariants: each operation has the same outcome on the kernel's queue
 * and on the model (return value or errno; the priority and bytes
 * received; mq_getattr's flags, maxmsg, msgsize and curmsgs). At the end
 * of the input, receiving until the model is empty gives the model's
 * messages in its order, after which both are empty: each input starts on
 * an empty queue. A difference prints the operations so far and aborts.
 *
 * The queue: one per process, made under a fresh name with both
 * descriptors opened, then unlinked at once, so that nothing outlives the
 * process however it ends. It is reused while inputs ask for the same
 * maxmsg and msgsize, else closed and made anew.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "ipc/posix_mq.h"
#include "mq_model_format.h"
#include "posix_mq_model.h"

struct op {
	uint8_t code;
	unsigned prio; /* send */
	size_t size;   /* send: the length; receive: the buffer */
	uint8_t pattern;
};

static struct ipc_mq_limits lim;
static unsigned prio_max;
/* The O_NONBLOCK descriptor and the blocking one, of the same queue. */
static mqd_t nonblocking = (mqd_t)-1, blocking = (mqd_t)-1;
static struct posix_mq_model model;
static uint8_t text_stream[MQF_TEXT_SPAN];

/* The input being run, for the report of a broken invariant. */
static const uint8_t *input;
static size_t input_size, ops_done;
static int draining;

static void close_queue(void)
{
	if (nonblocking != (mqd_t)-1)
		ipc_mq_close(nonblocking);
	if (blocking != (mqd_t)-1)
		ipc_mq_close(blocking);
	nonblocking = blocking = (mqd_t)-1;
}

static _Noreturn void setup_failed(const char *what)
{
	fprintf(stderr, "mq_posix_model: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void setup(void)
{
	static int done;
	long max;

	if (done)
		return;
	if (ipc_mq_limits(&lim) != 0)
		setup_failed("cannot read the POSIX queue limits");
	max = sysconf(_SC_MQ_PRIO_MAX);
	if (max <= 0 || max > (long)(UINT_MAX / 2))
		setup_failed("sysconf(_SC_MQ_PRIO_MAX) gives no usable limit");
	prio_max = (unsigned)max;
	atexit(close_queue);
	mqf_text_init(text_stream);
	done = 1;
}

/* A queue with these attributes, empty, on both descriptors. */
static void open_queue(long maxmsg, long msgsize)
{
	char name[64];

	if (nonblocking != (mqd_t)-1 && model.maxmsg == maxmsg &&
	    model.msgsize == msgsize)
		return;
	close_queue();
	if (ipc_mq_fresh_name(name, sizeof name) != 0)
		setup_failed("cannot name a queue");
	nonblocking = ipc_mq_create(name, maxmsg, msgsize, O_RDWR | O_NONBLOCK);
	if (nonblocking == (mqd_t)-1)
		setup_failed("cannot make a POSIX queue");
	blocking = ipc_mq_open(name, O_RDWR);
	if (ipc_mq_unlink(name) != 0 || blocking == (mqd_t)-1)
		setup_failed("cannot open the queue twice and unlink it");
	if (posix_mq_model_init(&model, maxmsg, msgsize, prio_max) != 0)
		setup_failed("the model refuses the queue's attributes");
}

/* ---- reading the input --------------------------------------------------- */

struct header {
	long maxmsg, msgsize;
};

static struct header take_header(struct fuzz_input *in)
{
	struct header h;

	h.maxmsg = 1 + fuzz_take_u8(in) % lim.msg_max;
	h.msgsize = 1 + fuzz_take_be16(in) % lim.msgsize_max;
	return h;
}

static void take_op(struct fuzz_input *in, long msgsize, struct op *op)
{
	*op = (struct op){ .code = fuzz_take_u8(in) };
	switch (op->code & MQF_OP_MASK) {
	case MQF_SEND:
		op->prio = mqf_posix_prio(fuzz_take_u8(in), prio_max);
		op->size = fuzz_take_be16(in) % ((size_t)msgsize + 2);
		op->pattern = fuzz_take_u8(in);
		break;
	case MQF_RECV:
		op->size = mqf_posix_cap(fuzz_take_u8(in), (size_t)msgsize);
		break;
	}
}

static int timed(const struct op *op)
{
	return (op->code & MQF_POSIX_TIMED) != 0;
}

static void print_op(size_t i, const struct op *op)
{
	const char *via = timed(op) ? "blocking, timeout 0" : "O_NONBLOCK";

	fprintf(stderr, "  %3zu ", i);
	switch (op->code & MQF_OP_MASK) {
	case MQF_SEND:
		fprintf(stderr, "send priority %u, %zu bytes, pattern 0x%02x (%s)\n",
			op->prio, op->size, op->pattern, via);
		break;
	case MQF_RECV:
		fprintf(stderr, "receive, buffer %zu (%s)\n", op->size, via);
		break;
	default:
		fprintf(stderr, "mq_getattr (%s)\n", via);
	}
}

/* The operations of the input up to the one that broke the invariant. */
static void print_context(void)
{
	struct fuzz_input in = { input, input_size };
	struct header h = take_header(&in);
	struct op op;

	fprintf(stderr, "mq_posix_model: msg_max %ld, msgsize_max %ld, priorities"
		" below %u; a queue of %ld messages of %ld bytes, then:\n",
		lim.msg_max, lim.msgsize_max, prio_max, h.maxmsg, h.msgsize);
	for (size_t i = 0; i < ops_done && in.left > 0; i++) {
		take_op(&in, h.msgsize, &op);
		print_op(i, &op);
	}
	if (draining)
		fputs("  then the end-of-input drain\n", stderr);
}

/* MQ_CHECK(cond, fmt, ...): FUZZ_CHECK that first prints the operations so
 * far. */
#define MQ_CHECK(cond, ...)                                                   \
	((cond) ? (void)0                                                     \
		: (print_context(),                                           \
		   fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__)))

/* ---- running it ---------------------------------------------------------- */

static mqd_t descriptor(const struct op *op)
{
	return timed(op) ? blocking : nonblocking;
}

static void run_send(const struct op *op)
{
	uint8_t *text = mqf_make_text(text_stream, op->size, op->pattern);
	long want = posix_mq_model_send(&model, text, op->size, op->prio,
					!timed(op));
	long got;
	char got_name[32], want_name[32];

	/* EINTR is no outcome of the model's: a signal from elsewhere
	 * (libFuzzer's -timeout timer, a SIGALRM a second) cut the call
	 * short, and the call is made again. */
	do
		got = mqf_outcome(ipc_mq_send(descriptor(op), text, op->size,
					      op->prio, 0));
	while (got == -EINTR);
	free(text);
	MQ_CHECK(got == want, "send of priority %u, %zu bytes: the kernel says"
		 " %s, the model %s", op->prio, op->size,
		 MQF_OUTCOMES(got, want));
}

static void run_recv(const struct op *op)
{
	uint8_t *got_text = mqf_alloc_exact(op->size);
	uint8_t *want_text = mqf_alloc_exact(op->size);
	unsigned got_prio = 0, want_prio = 0;
	long want = posix_mq_model_receive(&model, want_text, op->size,
					   &want_prio, !timed(op));
	long got;
	char got_name[32], want_name[32];

	do /* as in run_send */
		got = mqf_outcome(ipc_mq_receive(descriptor(op), got_text,
						 op->size, &got_prio, 0));
	while (got == -EINTR);
	MQ_CHECK(got == want, "receive with a buffer of %zu: the kernel says %s,"
		 " the model %s", op->size, MQF_OUTCOMES(got, want));
	if (got >= 0) {
		MQ_CHECK(got_prio == want_prio, "receive: the kernel's message"
			 " has priority %u, the model's %u", got_prio, want_prio);
		MQ_CHECK(memcmp(got_text, want_text, (size_t)got) == 0,
			 "receive: the %ld bytes of priority %u differ from the"
			 " model's", got, got_prio);
	}
	free(got_text);
	free(want_text);
}

static void run_getattr(const struct op *op)
{
	struct mq_attr got, want;

	MQ_CHECK(ipc_mq_attr(descriptor(op), &got) == 0, "mq_getattr failed: %s",
		 strerror(errno));
	posix_mq_model_getattr(&model, !timed(op), &want);
	MQ_CHECK(got.mq_flags == want.mq_flags && got.mq_maxmsg == want.mq_maxmsg &&
			 got.mq_msgsize == want.mq_msgsize &&
			 got.mq_curmsgs == want.mq_curmsgs,
		 "mq_getattr: the kernel says flags 0x%lx, maxmsg %ld, msgsize"
		 " %ld, curmsgs %ld; the model 0x%lx, %ld, %ld, %ld",
		 got.mq_flags, got.mq_maxmsg, got.mq_msgsize, got.mq_curmsgs,
		 want.mq_flags, want.mq_maxmsg, want.mq_msgsize, want.mq_curmsgs);
}

static void run_op(const struct op *op)
{
	switch (op->code & MQF_OP_MASK) {
	case MQF_SEND:
		run_send(op);
		break;
	case MQF_RECV:
		run_recv(op);
		break;
	default:
		run_getattr(op);
	}
}

/* Receives what the model still holds, in its order, then finds both
 * empty. */
static void drain(void)
{
	const struct op any = { .code = MQF_RECV, .size = (size_t)model.msgsize };

	draining = 1;
	while (model.curmsgs > 0)
		run_recv(&any);
	run_recv(&any);
	run_getattr(&any);
	draining = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct header h;
	struct op op;

	setup();
	input = data;
	input_size = size;
	ops_done = 0;
	h = take_header(&in);
	open_queue(h.maxmsg, h.msgsize);
	while (in.left > 0) {
		take_op(&in, h.msgsize, &op);
		ops_done++;
		run_op(&op);
	}
	drain();
	input = NULL;
	return 0;
}
