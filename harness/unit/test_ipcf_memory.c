/*
 * The decoder reserves memory only for payload that has arrived: a header is
 * judged before anything is reserved for it, a header over a limit reserves
 * nothing, and a header announcing a huge frame costs nothing until its
 * bytes come. A hostile peer can therefore not make the receiver allocate
 * by announcing.
 */
#include "unit_support.h"

#include <stdlib.h>
#include <string.h>

/* Room a decoder may keep beyond twice what has arrived: allocation
 * granularity, not anything proportional to an announced length. */
#define SMALL_BOUND (64u << 10)

static void assert_reserve_bounded(const struct ipcf_decoder *dec,
				   size_t arrived)
{
	if (dec->buf_cap > 2 * arrived + SMALL_BOUND)
		fail_msg("the decoder reserved %zu bytes after %zu payload "
			 "bytes arrived (bound %zu)", dec->buf_cap, arrived,
			 2 * arrived + SMALL_BOUND);
}

static enum ipcf_status feed_all(struct ipcf_decoder *dec, const void *in,
				 size_t len)
{
	size_t used = 0;
	enum ipcf_status st = ipcf_decoder_feed(dec, in, len, &used);

	if (st == IPCF_NEED_MORE)
		assert_int_equal(used, len);
	return st;
}

static void fresh_decoder_reserves_nothing(void **state)
{
	struct ipcf_decoder dec;

	(void)state;
	ipcf_decoder_init(&dec, IPCF_DEFAULT_LIMIT, IPCF_DEFAULT_LIMIT);
	assert_null(dec.buf);
	assert_int_equal(dec.buf_cap, 0);
	ipcf_decoder_free(&dec);
}

/* Header over the frame limit, with payload bytes behind it. */
static void header_over_frame_limit_reserves_nothing(void **state)
{
	uint8_t bytes[IPCF_HEADER_SIZE + 200];
	struct ipcf_decoder dec;
	uint64_t offset = 1;

	(void)state;
	memset(bytes, 0x5A, sizeof(bytes));
	ipcf_header_pack(bytes, 0, 1, 1, NULL, 0);
	be32_store(bytes + 12, IPCF_DEFAULT_LIMIT + 1);
	ipcf_decoder_init(&dec, IPCF_DEFAULT_LIMIT, IPCF_DEFAULT_LIMIT);
	assert_int_equal(feed_all(&dec, bytes, sizeof(bytes)), IPCF_FAULT);
	assert_int_equal(ipcf_decoder_fault(&dec, &offset), IPCF_FAULT_TOO_BIG);
	assert_int_equal(offset, 0);
	assert_int_equal(dec.buf_cap, 0);
	ipcf_decoder_free(&dec);
}

/* A continuing fragment that would take the message over its limit reserves
 * nothing more than the message already had. */
static void header_over_message_limit_reserves_nothing(void **state)
{
	const uint32_t max_message = 8u << 20;
	uint8_t first[IPCF_HEADER_SIZE + 10];
	uint8_t second[IPCF_HEADER_SIZE + 100];
	struct ipcf_decoder dec;
	uint64_t offset = 1;
	size_t cap_before;

	(void)state;
	memset(first, 0x33, sizeof(first));
	memset(second, 0x44, sizeof(second));
	ipcf_header_pack(first, IPCF_FLAG_MORE, 1, 1, first + IPCF_HEADER_SIZE,
			 10);
	ipcf_header_pack(second, 0, 1, 2, NULL, 0);
	be32_store(second + 12, max_message - 9);
	ipcf_decoder_init(&dec, IPCF_DEFAULT_LIMIT, max_message);
	assert_int_equal(feed_all(&dec, first, sizeof(first)), IPCF_NEED_MORE);
	cap_before = dec.buf_cap;
	assert_reserve_bounded(&dec, 10);
	assert_int_equal(feed_all(&dec, second, sizeof(second)), IPCF_FAULT);
	assert_int_equal(ipcf_decoder_fault(&dec, &offset), IPCF_FAULT_TOO_BIG);
	assert_int_equal(offset, sizeof(first));
	assert_int_equal(dec.buf_cap, cap_before);
	ipcf_decoder_free(&dec);
}

/* A 16 MiB frame announced, a few bytes sent. */
static void announced_frame_reserves_only_what_arrived(void **state)
{
	uint8_t bytes[IPCF_HEADER_SIZE + 10];
	struct ipcf_decoder dec;

	(void)state;
	memset(bytes, 0x66, sizeof(bytes));
	ipcf_header_pack(bytes, 0, 1, 1, NULL, 0);
	be32_store(bytes + 12, IPCF_DEFAULT_LIMIT);
	ipcf_decoder_init(&dec, IPCF_DEFAULT_LIMIT, IPCF_DEFAULT_LIMIT);
	assert_int_equal(feed_all(&dec, bytes, IPCF_HEADER_SIZE),
			 IPCF_NEED_MORE);
	assert_reserve_bounded(&dec, 0);
	assert_int_equal(feed_all(&dec, bytes + IPCF_HEADER_SIZE, 10),
			 IPCF_NEED_MORE);
	assert_reserve_bounded(&dec, 10);
	ipcf_decoder_free(&dec);
}

/* The same at the highest limit there is: a 1 GiB announcement. */
static void largest_announcement_reserves_only_what_arrived(void **state)
{
	uint8_t bytes[IPCF_HEADER_SIZE + 100];
	struct ipcf_decoder dec;

	(void)state;
	memset(bytes, 0x77, sizeof(bytes));
	ipcf_header_pack(bytes, IPCF_FLAG_MORE, 1, 1, NULL, 0);
	be32_store(bytes + 12, IPCF_MAX_LIMIT);
	ipcf_decoder_init(&dec, IPCF_MAX_LIMIT, IPCF_MAX_LIMIT);
	assert_int_equal(feed_all(&dec, bytes, sizeof(bytes)), IPCF_NEED_MORE);
	assert_reserve_bounded(&dec, 100);
	assert_int_equal(ipcf_decoder_finish(&dec), IPCF_FAULT);
	ipcf_decoder_free(&dec);
}

/* Payload arriving in pieces: the reservation follows it, and the message
 * still comes out whole. */
static void reservation_grows_with_arrived_payload(void **state)
{
	const size_t len = 4u << 20;
	const size_t piece = 64u << 10;
	uint8_t *payload = random_bytes(0x5EED0201, len);
	uint8_t hdr[IPCF_HEADER_SIZE];
	struct ipcf_decoder dec;
	const struct ipcf_message *msg;
	size_t used = 0;

	(void)state;
	ipcf_header_pack(hdr, 0, 7, 1, payload, (uint32_t)len);
	ipcf_decoder_init(&dec, IPCF_DEFAULT_LIMIT, IPCF_DEFAULT_LIMIT);
	assert_int_equal(feed_all(&dec, hdr, sizeof(hdr)), IPCF_NEED_MORE);
	for (size_t at = 0; at + piece < len; at += piece) {
		assert_int_equal(feed_all(&dec, payload + at, piece),
				 IPCF_NEED_MORE);
		assert_reserve_bounded(&dec, at + piece);
	}
	assert_int_equal(ipcf_decoder_feed(&dec, payload + len - piece, piece,
					   &used),
			 IPCF_MESSAGE);
	assert_int_equal(used, piece);
	msg = ipcf_decoder_message(&dec);
	assert_int_equal(msg->length, len);
	assert_int_equal(msg->type, 7);
	assert_memory_equal(msg->data, payload, len);
	assert_reserve_bounded(&dec, len);
	ipcf_decoder_free(&dec);
	free(payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fresh_decoder_reserves_nothing),
		cmocka_unit_test(header_over_frame_limit_reserves_nothing),
		cmocka_unit_test(header_over_message_limit_reserves_nothing),
		cmocka_unit_test(announced_frame_reserves_only_what_arrived),
		cmocka_unit_test(largest_announcement_reserves_only_what_arrived),
		cmocka_unit_test(reservation_grows_with_arrived_payload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
