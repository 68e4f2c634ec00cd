/* IPCF v1 encoder: headers, and messages split into frames. */
#include "ipc/ipcf.h"

#include <errno.h>
#include <string.h>

#include "ipc/crc32c.h"
#include "ipcf_wire.h"

void ipcf_header_pack(uint8_t out[IPCF_HEADER_SIZE], uint8_t flags,
		      uint16_t type, uint32_t seq, const void *payload,
		      uint32_t length)
{
	uint32_t crc;

	memcpy(out, ipcf_magic, sizeof ipcf_magic);
	out[IPCF_OFF_VERSION] = IPCF_VERSION;
	out[IPCF_OFF_FLAGS] = flags;
	put_be16(out + IPCF_OFF_TYPE, type);
	put_be32(out + IPCF_OFF_SEQ, seq);
	put_be32(out + IPCF_OFF_LENGTH, length);
	crc = ipc_crc32c(0, out, IPCF_OFF_CRC);
	crc = ipc_crc32c(crc, payload, length);
	put_be32(out + IPCF_OFF_CRC, crc);
}

void ipcf_encoder_init(struct ipcf_encoder *enc, uint32_t first_seq,
		       uint32_t max_frame)
{
	enc->seq = first_seq;
	enc->max_frame = max_frame > IPCF_MAX_LIMIT ? IPCF_MAX_LIMIT : max_frame;
}

uint64_t ipcf_frame_count(size_t len, uint32_t max_frame)
{
	if (len == 0)
		return 1;
	if (max_frame == 0)
		return 0;
	return ((uint64_t)len + max_frame - 1) / max_frame;
}

uint64_t ipcf_encoded_size(size_t len, uint32_t max_frame)
{
	uint64_t frames = ipcf_frame_count(len, max_frame);

	if (frames == 0)
		return 0;
	return frames * IPCF_HEADER_SIZE + len;
}

uint32_t ipcf_encode_next_frame(struct ipcf_encoder *enc, uint16_t type,
				const void *payload, size_t remaining,
				uint8_t hdr_out[IPCF_HEADER_SIZE])
{
	uint32_t n = remaining > enc->max_frame ? enc->max_frame
						: (uint32_t)remaining;
	uint8_t flags = remaining > n ? IPCF_FLAG_MORE : 0;

	ipcf_header_pack(hdr_out, flags, type, enc->seq, payload, n);
	enc->seq++;
	return n;
}

size_t ipcf_encode(struct ipcf_encoder *enc, uint16_t type,
		   const void *payload, size_t len, void *out, size_t cap)
{
	const uint8_t *src = payload;
	uint8_t *dst = out;
	uint64_t size;

	if (type == 0) {
		errno = EINVAL;
		return 0;
	}
	if (len > IPCF_MAX_LIMIT) {
		errno = EMSGSIZE;
		return 0;
	}
	size = ipcf_encoded_size(len, enc->max_frame);
	if (size == 0) {
		errno = EINVAL;
		return 0;
	}
	if (size > cap) {
		errno = ENOBUFS;
		return 0;
	}
	do {
		uint32_t n = ipcf_encode_next_frame(enc, type, src, len, dst);

		/* A 0-byte message may come with a NULL payload: never
		 * offset or copy from it. */
		if (n > 0) {
			memcpy(dst + IPCF_HEADER_SIZE, src, n);
			src += n;
			len -= n;
		}
		dst += IPCF_HEADER_SIZE + n;
	} while (len > 0);
	return (size_t)size;
}
