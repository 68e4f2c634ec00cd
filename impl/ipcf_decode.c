/*
 * IPCF v1 streaming decoder.
 *
 * Input may be cut anywhere; the decoder keeps the partial header, the
 * payload bytes so far and a running CRC. Each header is judged the moment
 * its 20th byte is in, before any payload is taken or memory reserved, and
 * the faults come in the spec's order so that every decoder reports the same
 * first one.
 */
#include "ipc/ipcf.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/crc32c.h"
#include "ipcf_wire.h"

static const char *const fault_names[] = {
	[IPCF_OK] = "ok",
	[IPCF_FAULT_MAGIC] = "magic",
	[IPCF_FAULT_VERSION] = "version",
	[IPCF_FAULT_FLAGS] = "flags",
	[IPCF_FAULT_TYPE] = "type",
	[IPCF_FAULT_TOO_BIG] = "too-big",
	[IPCF_FAULT_CRC] = "crc",
	[IPCF_FAULT_SEQ] = "seq",
	[IPCF_FAULT_TRUNCATED] = "truncated",
};

const char *ipcf_fault_name(enum ipcf_fault fault)
{
	if ((unsigned)fault >= sizeof fault_names / sizeof fault_names[0])
		return "unknown";
	return fault_names[fault];
}

int ipcf_header_unpack(const uint8_t in[IPCF_HEADER_SIZE],
		       struct ipcf_header *hdr)
{
	hdr->version = in[IPCF_OFF_VERSION];
	hdr->flags = in[IPCF_OFF_FLAGS];
	hdr->type = get_be16(in + IPCF_OFF_TYPE);
	hdr->seq = get_be32(in + IPCF_OFF_SEQ);
	hdr->length = get_be32(in + IPCF_OFF_LENGTH);
	hdr->crc = get_be32(in + IPCF_OFF_CRC);
	return memcmp(in, ipcf_magic, sizeof ipcf_magic) == 0 ? 0 : -1;
}

void ipcf_decoder_init(struct ipcf_decoder *dec, uint32_t max_frame,
		       uint32_t max_message)
{
	memset(dec, 0, sizeof *dec);
	dec->max_frame = max_frame > IPCF_MAX_LIMIT ? IPCF_MAX_LIMIT : max_frame;
	dec->max_message =
		max_message > IPCF_MAX_LIMIT ? IPCF_MAX_LIMIT : max_message;
}

void ipcf_decoder_free(struct ipcf_decoder *dec)
{
	free(dec->buf);
	dec->buf = NULL;
	dec->buf_cap = 0;
}

static enum ipcf_status fail(struct ipcf_decoder *dec, enum ipcf_fault fault,
			     uint64_t offset)
{
	dec->fault = fault;
	dec->fault_offset = offset;
	return IPCF_FAULT;
}

/* Checks of step 1, on the 20 header bytes alone. */
static enum ipcf_fault judge_header(struct ipcf_decoder *dec)
{
	const struct ipcf_header *h = &dec->hdr;
	uint64_t so_far = dec->in_message ? dec->msg_len : 0;

	if (ipcf_header_unpack(dec->hdr_bytes, &dec->hdr) != 0)
		return IPCF_FAULT_MAGIC;
	if (h->version != IPCF_VERSION)
		return IPCF_FAULT_VERSION;
	if (h->flags & ~IPCF_FLAG_MORE)
		return IPCF_FAULT_FLAGS;
	if (h->type == 0)
		return IPCF_FAULT_TYPE;
	if (h->length > dec->max_frame || so_far + h->length > dec->max_message)
		return IPCF_FAULT_TOO_BIG;
	return IPCF_OK;
}

/* Checks of step 2, once the payload is in. */
static enum ipcf_fault judge_frame(const struct ipcf_decoder *dec)
{
	const struct ipcf_header *h = &dec->hdr;

	if (dec->crc != h->crc)
		return IPCF_FAULT_CRC;
	if (dec->have_seq && h->seq != (uint32_t)(dec->last_seq + 1))
		return IPCF_FAULT_SEQ;
	if (dec->in_message && h->type != dec->msg_type)
		return IPCF_FAULT_TYPE;
	return IPCF_OK;
}

/*
 * Makes room for `need` message bytes. Growth doubles, so copying stays
 * linear over a message of many frames, but a header's claim alone never
 * buys memory: the capacity stays within twice the bytes that actually
 * arrived, or what judged headers allow if that is more, and never past the
 * message limit. A header that announces 16 MiB and sends 10 bytes costs a
 * few hundred bytes, not 16 MiB.
 */
static int reserve(struct ipcf_decoder *dec, size_t need, size_t judged)
{
	size_t cap = dec->buf_cap > 0 ? dec->buf_cap * 2 : 256;
	size_t bound = 2 * need < dec->max_message ? 2 * need : dec->max_message;
	uint8_t *buf;

	if (need <= dec->buf_cap)
		return 0;
	if (bound < judged)
		bound = judged;
	if (cap > bound)
		cap = bound;
	if (cap < need)
		cap = need;
	buf = realloc(dec->buf, cap);
	if (buf == NULL)
		return -1;
	dec->buf = buf;
	dec->buf_cap = cap;
	return 0;
}

static size_t take_header_bytes(struct ipcf_decoder *dec, const uint8_t *in,
				size_t len)
{
	size_t n = IPCF_HEADER_SIZE - dec->hdr_have;

	if (n > len)
		n = len;
	if (dec->hdr_have == 0)
		dec->frame_offset = dec->offset;
	memcpy(dec->hdr_bytes + dec->hdr_have, in, n);
	dec->hdr_have += (uint32_t)n;
	dec->offset += n;
	return n;
}

/* Returns the bytes taken, or -1 when memory ran out. */
static ptrdiff_t take_payload_bytes(struct ipcf_decoder *dec,
				    const uint8_t *in, size_t len)
{
	size_t n = dec->hdr.length - dec->payload_have;
	size_t at = dec->msg_len + dec->payload_have;

	if (n > len)
		n = len;
	if (reserve(dec, at + n, dec->msg_len + dec->hdr.length) != 0)
		return -1;
	memcpy(dec->buf + at, in, n);
	dec->crc = ipc_crc32c(dec->crc, in, n);
	dec->payload_have += (uint32_t)n;
	dec->offset += n;
	return (ptrdiff_t)n;
}

/* The header just judged sound opens a message unless one is open. */
static void accept_header(struct ipcf_decoder *dec)
{
	if (!dec->in_message) {
		dec->msg_type = dec->hdr.type;
		dec->msg_seq = dec->hdr.seq;
		dec->msg_offset = dec->frame_offset;
		dec->msg_frames = 0;
		dec->msg_len = 0;
	}
	dec->crc = ipc_crc32c(0, dec->hdr_bytes, IPCF_OFF_CRC);
}

/* The frame is whole and judged sound: add it to its message. Returns 1
 * when the message is complete. */
static int add_frame(struct ipcf_decoder *dec)
{
	dec->msg_frames++;
	dec->msg_len += dec->hdr.length;
	dec->have_seq = 1;
	dec->last_seq = dec->hdr.seq;
	dec->in_message = (dec->hdr.flags & IPCF_FLAG_MORE) != 0;
	dec->hdr_have = 0;
	dec->payload_have = 0;
	return !dec->in_message;
}

static void publish_message(struct ipcf_decoder *dec)
{
	static const uint8_t empty[1];
	struct ipcf_message *m = &dec->msg;

	m->type = dec->msg_type;
	m->seq = dec->msg_seq;
	m->frames = dec->msg_frames;
	m->length = dec->msg_len;
	m->data = dec->buf != NULL ? dec->buf : empty;
	m->offset = dec->msg_offset;
	m->end = dec->offset;
	dec->message_ready = 1;
}

static enum ipcf_status stopped_status(const struct ipcf_decoder *dec)
{
	if (dec->error != 0) {
		errno = dec->error;
		return IPCF_ERROR;
	}
	return IPCF_FAULT;
}

static int stopped(const struct ipcf_decoder *dec)
{
	return dec->fault != IPCF_OK || dec->error != 0;
}

/*
 * One frame at a time: header bytes until 20 are in, then judge them; payload
 * bytes until the frame's length is in, then judge the frame. A 0-length
 * frame completes with no further input, which is why the loop does not
 * simply run while input is left.
 */
enum ipcf_status ipcf_decoder_feed(struct ipcf_decoder *dec, const void *in,
				   size_t len, size_t *used)
{
	const uint8_t *p = in;
	size_t taken = 0;
	enum ipcf_status st = IPCF_NEED_MORE;
	enum ipcf_fault f;

	if (stopped(dec)) {
		*used = 0;
		return stopped_status(dec);
	}
	dec->message_ready = 0;
	for (;;) {
		if (dec->hdr_have < IPCF_HEADER_SIZE) {
			if (taken == len)
				break;
			taken += take_header_bytes(dec, p + taken, len - taken);
			if (dec->hdr_have < IPCF_HEADER_SIZE)
				break;
			f = judge_header(dec);
			if (f != IPCF_OK) {
				st = fail(dec, f, dec->frame_offset);
				break;
			}
			accept_header(dec);
		}
		if (dec->payload_have < dec->hdr.length) {
			if (taken == len)
				break;
			ptrdiff_t n = take_payload_bytes(dec, p + taken,
							 len - taken);
			if (n < 0) {
				dec->error = ENOMEM;
				st = stopped_status(dec);
				break;
			}
			taken += (size_t)n;
			if (dec->payload_have < dec->hdr.length)
				break;
		}
		f = judge_frame(dec);
		if (f != IPCF_OK) {
			st = fail(dec, f, dec->frame_offset);
			break;
		}
		if (add_frame(dec)) {
			publish_message(dec);
			st = IPCF_MESSAGE;
			break;
		}
	}
	*used = taken;
	return st;
}

enum ipcf_status ipcf_decoder_finish(struct ipcf_decoder *dec)
{
	if (stopped(dec))
		return stopped_status(dec);
	dec->message_ready = 0;
	if (dec->hdr_have > 0)
		return fail(dec, IPCF_FAULT_TRUNCATED, dec->frame_offset);
	if (dec->in_message)
		return fail(dec, IPCF_FAULT_TRUNCATED, dec->offset);
	return IPCF_NEED_MORE;
}

enum ipcf_status ipcf_decoder_end_frame(struct ipcf_decoder *dec)
{
	if (stopped(dec))
		return stopped_status(dec);
	if (dec->hdr_have > 0)
		return fail(dec, IPCF_FAULT_TRUNCATED, dec->frame_offset);
	return IPCF_NEED_MORE;
}

const struct ipcf_message *ipcf_decoder_message(const struct ipcf_decoder *dec)
{
	return dec->message_ready ? &dec->msg : NULL;
}

enum ipcf_fault ipcf_decoder_fault(const struct ipcf_decoder *dec,
				   uint64_t *offset)
{
	if (offset != NULL)
		*offset = dec->fault_offset;
	return dec->fault;
}

int ipcf_decode_all(const void *in, size_t len, uint32_t max_frame,
		    uint32_t max_message, ipcf_message_fn on_message,
		    void *arg, enum ipcf_fault *fault, uint64_t *fault_offset)
{
	struct ipcf_decoder dec;
	const uint8_t *p = in;
	enum ipcf_status st;
	int rc = 0;

	ipcf_decoder_init(&dec, max_frame, max_message);
	for (;;) {
		size_t used;

		st = ipcf_decoder_feed(&dec, p, len, &used);
		if (used > 0) {
			p += used;
			len -= used;
		}
		if (st != IPCF_MESSAGE)
			break;
		if (on_message != NULL)
			rc = on_message(&dec.msg, arg);
		if (rc != 0)
			break;
	}
	if (rc == 0 && st == IPCF_NEED_MORE)
		st = ipcf_decoder_finish(&dec);
	if (st == IPCF_ERROR)
		rc = -1;
	*fault = ipcf_decoder_fault(&dec, fault_offset);
	ipcf_decoder_free(&dec);
	return rc;
}
