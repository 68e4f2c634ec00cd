/*
 * IPCF v1: the framing every channel uses (docs/ipcf.md).
 *
 * A message of 0 bytes up to the message limit travels as one or more frames
 * of at most the frame limit each; every frame but the last has MORE set.
 * The decoder is streaming: it takes input cut anywhere, judges each 20-byte
 * header before it reserves memory for the payload, and stops at the first
 * fault, reporting it with the offset of the frame that holds it.
 */
#ifndef IPC_IPCF_H
#define IPC_IPCF_H

#include <stddef.h>
#include <stdint.h>

#define IPCF_HEADER_SIZE 20u
#define IPCF_VERSION 1u
#define IPCF_FLAG_MORE 0x01u
#define IPCF_DEFAULT_LIMIT (16u << 20) /* 16 MiB: frame and message limit */
#define IPCF_MAX_LIMIT (1u << 30)      /* no limit may exceed 1 GiB */

/* The spec's faults, in the spec's table order. IPCF_OK is no fault. */
enum ipcf_fault {
	IPCF_OK = 0,
	IPCF_FAULT_MAGIC,
	IPCF_FAULT_VERSION,
	IPCF_FAULT_FLAGS,
	IPCF_FAULT_TYPE,
	IPCF_FAULT_TOO_BIG,
	IPCF_FAULT_CRC,
	IPCF_FAULT_SEQ,
	IPCF_FAULT_TRUNCATED,
};

/* The spec's name of a fault ("magic", "too-big", ...); "ok" for IPCF_OK. */
const char *ipcf_fault_name(enum ipcf_fault fault);

/* One frame's header, as on the wire but in host order. */
struct ipcf_header {
	uint8_t version;
	uint8_t flags;
	uint16_t type;
	uint32_t seq;
	uint32_t length;
	uint32_t crc;
};

/*
 * Writes the 20 header bytes of one frame into out, with the CRC computed over
 * those bytes and the payload. No check is made: this is also how tests and
 * fuzz targets build hostile frames.
 */
void ipcf_header_pack(uint8_t out[IPCF_HEADER_SIZE], uint8_t flags,
		      uint16_t type, uint32_t seq, const void *payload,
		      uint32_t length);

/* Reads 20 header bytes without judging them; returns 0 if the magic is
 * "IPCF", -1 if not (the other fields are filled either way). */
int ipcf_header_unpack(const uint8_t in[IPCF_HEADER_SIZE],
		       struct ipcf_header *hdr);

/* ---- Encoder ------------------------------------------------------------ */

struct ipcf_encoder {
	uint32_t seq;       /* seq of the next frame; wraps at 2^32 */
	uint32_t max_frame; /* frame limit, 0..IPCF_MAX_LIMIT */
};

void ipcf_encoder_init(struct ipcf_encoder *enc, uint32_t first_seq,
		       uint32_t max_frame);

/* Number of frames a message of len bytes takes; 0 if it can't be encoded
 * (len > 0 with a frame limit of 0). */
uint64_t ipcf_frame_count(size_t len, uint32_t max_frame);

/* Encoded size of a message of len bytes; 0 if it can't be encoded. */
uint64_t ipcf_encoded_size(size_t len, uint32_t max_frame);

/*
 * Encodes one message into out (capacity cap) and advances enc->seq by the
 * number of frames. Returns the bytes written, or 0 with errno set and
 * enc->seq unchanged (so a refused message leaves no gap in the stream):
 * EINVAL for type 0, or a non-empty message with a frame limit of 0;
 * EMSGSIZE if len is over IPCF_MAX_LIMIT; ENOBUFS if cap is too small.
 */
size_t ipcf_encode(struct ipcf_encoder *enc, uint16_t type,
		   const void *payload, size_t len, void *out, size_t cap);

/*
 * Frame-at-a-time encoding, for writers that send header and payload without
 * copying (writev): fills hdr_out for the next frame of a message whose
 * remaining payload is *remaining bytes, advances enc->seq, and returns the
 * payload length of this frame (the caller sends that many bytes next and
 * subtracts them). Call while the previous call left MORE set.
 */
uint32_t ipcf_encode_next_frame(struct ipcf_encoder *enc, uint16_t type,
				const void *payload, size_t remaining,
				uint8_t hdr_out[IPCF_HEADER_SIZE]);

/* ---- Decoder ------------------------------------------------------------ */

enum ipcf_status {
	IPCF_NEED_MORE = 0, /* all input taken; no message complete yet */
	IPCF_MESSAGE,       /* a message is complete: see ipcf_decoder_message */
	IPCF_FAULT,         /* stopped for good: see ipcf_decoder_fault */
	IPCF_ERROR,         /* out of memory (errno ENOMEM); stopped for good */
};

struct ipcf_message {
	uint16_t type;
	uint32_t seq;        /* seq of its first frame */
	uint32_t frames;
	size_t length;
	const uint8_t *data; /* valid until the next call on the decoder */
	uint64_t offset;     /* stream offset of its first frame */
	uint64_t end;        /* stream offset just past its last frame */
};

struct ipcf_decoder {
	/* limits */
	uint32_t max_frame;
	uint32_t max_message;
	/* where the stream is */
	uint64_t offset;       /* bytes taken so far */
	uint64_t frame_offset; /* where the frame being read starts */
	uint64_t msg_offset;   /* where the message being read starts */
	/* the frame being read */
	uint8_t hdr_bytes[IPCF_HEADER_SIZE];
	uint32_t hdr_have;
	struct ipcf_header hdr;
	uint32_t payload_have;
	uint32_t crc; /* running CRC over header bytes 0..15 and payload */
	/* the message being read */
	int in_message; /* an earlier frame had MORE set */
	uint16_t msg_type;
	uint32_t msg_seq;
	uint32_t msg_frames;
	size_t msg_len;
	uint8_t *buf;
	size_t buf_cap;
	/* seq continuity across the whole stream */
	int have_seq;
	uint32_t last_seq;
	/* result */
	int message_ready;
	struct ipcf_message msg;
	enum ipcf_fault fault;
	uint64_t fault_offset;
	int error; /* errno that stopped the decoder (ENOMEM), or 0 */
};

/* Limits are clamped to IPCF_MAX_LIMIT. Reserves no memory. */
void ipcf_decoder_init(struct ipcf_decoder *dec, uint32_t max_frame,
		       uint32_t max_message);
void ipcf_decoder_free(struct ipcf_decoder *dec);

/*
 * Takes up to len bytes. Stops early when a message completes (IPCF_MESSAGE:
 * the message is valid until the next call) or at a fault (IPCF_FAULT).
 * *used says how many bytes were taken; feed the rest again after handling
 * the message. After a fault every call returns IPCF_FAULT and takes nothing.
 * Memory for a message grows only as its payload bytes arrive, never past
 * what judged headers allow. A failed allocation stops the decoder with
 * IPCF_ERROR and errno ENOMEM.
 */
enum ipcf_status ipcf_decoder_feed(struct ipcf_decoder *dec, const void *in,
				   size_t len, size_t *used);

/*
 * The input has ended: IPCF_NEED_MORE (here meaning "clean end on a message
 * boundary") or IPCF_FAULT with IPCF_FAULT_TRUNCATED (or the earlier fault).
 */
enum ipcf_status ipcf_decoder_finish(struct ipcf_decoder *dec);

/*
 * A unit of input that must end on a frame boundary has ended: one kernel
 * message of a message mechanism (queue, datagram), which carries whole
 * frames. IPCF_NEED_MORE if it ended between frames (a message may still
 * go on in the next unit), else IPCF_FAULT with IPCF_FAULT_TRUNCATED at the
 * cut frame's start (or the earlier fault).
 */
enum ipcf_status ipcf_decoder_end_frame(struct ipcf_decoder *dec);

const struct ipcf_message *ipcf_decoder_message(const struct ipcf_decoder *dec);
enum ipcf_fault ipcf_decoder_fault(const struct ipcf_decoder *dec,
				   uint64_t *offset);

/*
 * One-shot decoding of a whole buffer: calls on_message for each message (a
 * non-zero return stops decoding and is returned), then reports the fault
 * (IPCF_OK if the input ended on a message boundary) and its offset.
 * Returns 0, the callback's value, or -1 with errno ENOMEM.
 */
typedef int (*ipcf_message_fn)(const struct ipcf_message *msg, void *arg);
int ipcf_decode_all(const void *in, size_t len, uint32_t max_frame,
		    uint32_t max_message, ipcf_message_fn on_message,
		    void *arg, enum ipcf_fault *fault, uint64_t *fault_offset);

#endif
