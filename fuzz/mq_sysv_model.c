/*
 * mq_sysv_model: a System V message queue of the kernel against the model
 * of harness/models/sysv_mq_model.h, operation by operation, through
 * include/ipc/sysv_msg.h.
 *
 * Input (reads past the end give zeros; the tables are in
 * fuzz/mq_model_format.h):
 *   bytes 0-1  msg_qbytes for this input, big-endian, modulo msgmnb + 1:
 *              small values fill the queue, by bytes or by count, in a few
 *              operations
 *   then operations until the input ends, each an opcode byte whose low 2
 *   bits say which:
 *     0  send     type (1 byte, mqf_sysv_type: 0..239, then the ends of
 *                 long and int, negatives included), size (2 bytes,
 *                 big-endian, modulo msgmax + 2), pattern (1 byte: text
 *                 byte i is mqf_text_byte(pattern + i))
 *     1  receive  selector (1 byte, mqf_sysv_selector: 0..127, -1..-112,
 *                 then the same ends), buffer size (2 bytes, big-endian,
 *                 modulo msgmax + 2); opcode bit 2 MSG_NOERROR, bit 3
 *                 MSG_EXCEPT
 *     2  IPC_STAT
 *     3  set msg_qbytes: 2 bytes, big-endian, modulo msgmnb + 1
 *   Sends and receives always have IPC_NOWAIT: one thread must never wait.
 *
 * Invariants: each operation has the same outcome on the kernel's queue
 * and on the model (return value or errno; the type and bytes received;
 * IPC_STAT's qnum, cbytes and qbytes). At the end of the input, receiving
 * with selector 0 until the model is empty gives the model's messages in
 * its order, after which both are empty: each input starts on an empty
 * queue. A difference prints the operations so far and aborts.
 *
 * The queue: one per process, made (IPC_PRIVATE, 0600) for the first input
 * and reused, removed at exit and before the abort of a broken invariant.
 * A process killed otherwise (a sanitizer's report, a timeout) leaves it
 * behind; with IPCH_REGISTRY set, ipc_sysv_msg_create noted it in the
 * object registry (impl/registry.h), whose sweeper removes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>

#include "fuzz_common.h"
#include "ipc/sysv_msg.h"
#include "mq_model_format.h"
#include "sysv_mq_model.h"

struct op {
	uint8_t code;
	long type;   /* send: the type; receive: the selector */
	size_t size; /* send: the length; receive: the buffer; set: qbytes */
	uint8_t pattern;
};

static struct ipc_sysv_msg_limits lim;
static int queue = -1;
static struct sysv_mq_model model;
static uint8_t text_stream[MQF_TEXT_SPAN];

/* The input being run, for the report of a broken invariant. */
static const uint8_t *input;
static size_t input_size, ops_done;
static int draining;

static void remove_queue(void)
{
	if (queue >= 0)
		ipc_sysv_msg_remove(queue);
	queue = -1;
}

static _Noreturn void setup_failed(const char *what)
{
	fprintf(stderr, "mq_sysv_model: %s: %s\n", what, strerror(errno));
	remove_queue();
	exit(1);
}

static void setup(void)
{
	if (queue >= 0)
		return;
	if (ipc_sysv_msg_limits(&lim) != 0)
		setup_failed("cannot read the System V limits");
	queue = ipc_sysv_msg_create(IPC_PRIVATE);
	if (queue < 0)
		setup_failed("cannot make a System V queue");
	atexit(remove_queue);
	sysv_mq_model_init(&model, lim.msgmax, lim.msgmnb);
	mqf_text_init(text_stream);
}

/* ---- reading the input --------------------------------------------------- */

static size_t take_size(struct fuzz_input *in, size_t most)
{
	return fuzz_take_be16(in) % (most + 1);
}

static void take_op(struct fuzz_input *in, struct op *op)
{
	*op = (struct op){ .code = fuzz_take_u8(in) };
	switch (op->code & MQF_OP_MASK) {
	case MQF_SEND:
		op->type = mqf_sysv_type(fuzz_take_u8(in));
		op->size = take_size(in, lim.msgmax + 1);
		op->pattern = fuzz_take_u8(in);
		break;
	case MQF_RECV:
		op->type = mqf_sysv_selector(fuzz_take_u8(in));
		op->size = take_size(in, lim.msgmax + 1);
		break;
	case MQF_SYSV_SET_QBYTES:
		op->size = take_size(in, lim.msgmnb);
		break;
	}
}

static int recv_flags(const struct op *op)
{
	return IPC_NOWAIT | (op->code & MQF_SYSV_NOERROR ? MSG_NOERROR : 0) |
	       (op->code & MQF_SYSV_EXCEPT ? MSG_EXCEPT : 0);
}

static void print_op(size_t i, const struct op *op)
{
	int flags = recv_flags(op);

	fprintf(stderr, "  %3zu ", i);
	switch (op->code & MQF_OP_MASK) {
	case MQF_SEND:
		fprintf(stderr, "send type %ld, %zu bytes, pattern 0x%02x\n",
			op->type, op->size, op->pattern);
		break;
	case MQF_RECV:
		fprintf(stderr, "receive selector %ld, buffer %zu%s%s\n",
			op->type, op->size,
			flags & MSG_NOERROR ? ", MSG_NOERROR" : "",
			flags & MSG_EXCEPT ? ", MSG_EXCEPT" : "");
		break;
	case MQF_STAT:
		fputs("IPC_STAT\n", stderr);
		break;
	default:
		fprintf(stderr, "set msg_qbytes %zu\n", op->size);
	}
}

/* The operations of the input up to the one that broke the invariant. */
static void print_context(void)
{
	struct fuzz_input in = { input, input_size };
	size_t qbytes = take_size(&in, lim.msgmnb);
	struct op op;

	fprintf(stderr, "mq_sysv_model: msgmax %zu, msgmnb %zu; msg_qbytes"
		" %zu, then:\n", lim.msgmax, lim.msgmnb, qbytes);
	for (size_t i = 0; i < ops_done && in.left > 0; i++) {
		take_op(&in, &op);
		print_op(i, &op);
	}
	if (draining)
		fputs("  then the end-of-input drain (selector 0)\n", stderr);
}

/* MQ_CHECK(cond, fmt, ...): FUZZ_CHECK that first prints the operations so
 * far and removes the queue, which an abort would leave behind. */
#define MQ_CHECK(cond, ...)                                                   \
	((cond) ? (void)0                                                     \
		: (print_context(), remove_queue(),                           \
		   fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__)))

/* ---- running it ---------------------------------------------------------- */

static void run_send(const struct op *op)
{
	uint8_t *text = mqf_make_text(text_stream, op->size, op->pattern);
	long want = sysv_mq_model_send(&model, op->type, text, op->size,
				       IPC_NOWAIT);
	long got = mqf_outcome(ipc_sysv_msg_send(queue, op->type, text,
						 op->size, IPC_NOWAIT));
	char got_name[32], want_name[32];

	free(text);
	MQ_CHECK(got == want, "send of type %ld, %zu bytes: the kernel says %s,"
		 " the model %s", op->type, op->size,
		 MQF_OUTCOMES(got, want));
}

static void run_recv(const struct op *op)
{
	int flags = recv_flags(op);
	uint8_t *got_text = mqf_alloc_exact(op->size);
	uint8_t *want_text = mqf_alloc_exact(op->size);
	long got_type = 0, want_type = 0;
	long want = sysv_mq_model_recv(&model, op->type, flags, &want_type,
				       want_text, op->size);
	long got = mqf_outcome(ipc_sysv_msg_recv(queue, op->type, flags,
						 &got_type, got_text,
						 op->size));
	char got_name[32], want_name[32];

	MQ_CHECK(got == want, "receive with selector %ld, buffer %zu, flags"
		 " 0x%x: the kernel says %s, the model %s", op->type, op->size,
		 flags, MQF_OUTCOMES(got, want));
	if (got >= 0) {
		MQ_CHECK(got_type == want_type, "receive with selector %ld: the"
			 " kernel's message has type %ld, the model's %ld",
			 op->type, got_type, want_type);
		MQ_CHECK(memcmp(got_text, want_text, (size_t)got) == 0,
			 "receive with selector %ld: the %ld bytes of type %ld"
			 " differ from the model's", op->type, got, got_type);
	}
	free(got_text);
	free(want_text);
}

static void run_stat(void)
{
	struct ipc_sysv_msg_stat st;

	MQ_CHECK(ipc_sysv_msg_stat(queue, &st) == 0, "IPC_STAT failed: %s",
		 strerror(errno));
	MQ_CHECK(st.qnum == model.qnum && st.cbytes == model.cbytes &&
			 st.qbytes == model.qbytes,
		 "IPC_STAT: the kernel has %zu messages, %zu bytes, qbytes %zu;"
		 " the model %zu, %zu, %zu", st.qnum, st.cbytes, st.qbytes,
		 model.qnum, model.cbytes, model.qbytes);
}

static void set_qbytes(size_t qbytes)
{
	MQ_CHECK(ipc_sysv_msg_set_qbytes(queue, qbytes) == 0,
		 "setting msg_qbytes to %zu (<= msgmnb %zu) failed: %s",
		 qbytes, lim.msgmnb, strerror(errno));
	sysv_mq_model_set_qbytes(&model, qbytes);
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
	case MQF_STAT:
		run_stat();
		break;
	default:
		set_qbytes(op->size);
	}
}

/* Receives what the model still holds, in its order, then finds both
 * empty. */
static void drain(void)
{
	const struct op any = { .code = MQF_RECV, .size = lim.msgmax };

	draining = 1;
	while (model.qnum > 0)
		run_recv(&any);
	run_recv(&any);
	run_stat();
	draining = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct op op;

	setup();
	input = data;
	input_size = size;
	ops_done = 0;
	set_qbytes(take_size(&in, lim.msgmnb));
	while (in.left > 0) {
		take_op(&in, &op);
		ops_done++;
		run_op(&op);
	}
	drain();
	input = NULL;
	return 0;
}
