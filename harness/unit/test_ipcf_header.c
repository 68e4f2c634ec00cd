/*
 * The 20 header bytes as the spec lays them out: big-endian fields, the CRC
 * over bytes 0..15 and the payload, packing that checks nothing (so hostile
 * frames can be built), unpacking that judges only the magic; and the
 * spec's fault names.
 */
#include "unit_support.h"

#include <string.h>

/* CRCs below were computed independently of the implementation from the
 * spec's definition of CRC-32C. */
static void pack_writes_big_endian_fields_and_crc(void **state)
{
	static const uint8_t payload[] = { 0xDE, 0xAD, 0xBE, 0xEF, 0x01 };
	static const uint8_t want[IPCF_HEADER_SIZE] = {
		'I',  'P',  'C',  'F',  /* magic */
		0x01,			/* version */
		0x01,			/* flags: MORE */
		0x12, 0x34,		/* type */
		0x89, 0xAB, 0xCD, 0xEF, /* seq */
		0x00, 0x00, 0x00, 0x05, /* length */
		0xAA, 0xDE, 0x61, 0xA3, /* crc */
	};
	uint8_t got[IPCF_HEADER_SIZE];

	(void)state;
	ipcf_header_pack(got, IPCF_FLAG_MORE, 0x1234, 0x89ABCDEFu, payload,
			 sizeof(payload));
	assert_memory_equal(got, want, IPCF_HEADER_SIZE);
}

static void pack_of_empty_payload_covers_header_only(void **state)
{
	static const uint8_t want[IPCF_HEADER_SIZE] = {
		'I', 'P', 'C', 'F', 0x01, 0x00, 0x00, 0x01,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x48, 0xC9, 0x98, 0x95,
	};
	uint8_t got[IPCF_HEADER_SIZE];

	(void)state;
	ipcf_header_pack(got, 0, 1, 0, NULL, 0);
	assert_memory_equal(got, want, IPCF_HEADER_SIZE);
}

static void pack_writes_hostile_fields_as_given(void **state)
{
	uint8_t got[IPCF_HEADER_SIZE];

	(void)state;
	ipcf_header_pack(got, 0xFE, 0, 0xFFFFFFFFu, NULL, 0);
	assert_int_equal(got[5], 0xFE);
	assert_int_equal(got[6], 0);
	assert_int_equal(got[7], 0);
	assert_int_equal(be32_load(got + 8), 0xFFFFFFFFu);
	assert_int_equal(be32_load(got + 12), 0);
}

static void unpack_reads_what_pack_wrote(void **state)
{
	static const uint8_t payload[] = "seven b";
	uint8_t bytes[IPCF_HEADER_SIZE];
	struct ipcf_header hdr;

	(void)state;
	ipcf_header_pack(bytes, IPCF_FLAG_MORE, 0xFFFF, 0x01020304u, payload,
			 7);
	assert_int_equal(ipcf_header_unpack(bytes, &hdr), 0);
	assert_int_equal(hdr.version, IPCF_VERSION);
	assert_int_equal(hdr.flags, IPCF_FLAG_MORE);
	assert_int_equal(hdr.type, 0xFFFF);
	assert_int_equal(hdr.seq, 0x01020304u);
	assert_int_equal(hdr.length, 7);
	assert_int_equal(hdr.crc, be32_load(bytes + 16));
}

static void unpack_reports_bad_magic_and_still_reads_fields(void **state)
{
	uint8_t bytes[IPCF_HEADER_SIZE];
	struct ipcf_header hdr;

	(void)state;
	ipcf_header_pack(bytes, 0, 42, 7, NULL, 0);
	bytes[3] = 'G';
	bytes[4] = 9;
	assert_int_equal(ipcf_header_unpack(bytes, &hdr), -1);
	assert_int_equal(hdr.version, 9);
	assert_int_equal(hdr.type, 42);
	assert_int_equal(hdr.seq, 7);
	assert_int_equal(hdr.length, 0);
}

static void unpack_judges_nothing_but_magic(void **state)
{
	uint8_t bytes[IPCF_HEADER_SIZE];
	struct ipcf_header hdr;

	(void)state;
	ipcf_header_pack(bytes, 0x80, 0, 0, NULL, 0);
	bytes[4] = 0;
	be32_store(bytes + 12, 0xFFFFFFFFu);
	assert_int_equal(ipcf_header_unpack(bytes, &hdr), 0);
	assert_int_equal(hdr.version, 0);
	assert_int_equal(hdr.flags, 0x80);
	assert_int_equal(hdr.type, 0);
	assert_int_equal(hdr.length, 0xFFFFFFFFu);
}

static void faults_have_the_spec_names(void **state)
{
	(void)state;
	assert_string_equal(ipcf_fault_name(IPCF_OK), "ok");
	assert_string_equal(ipcf_fault_name(IPCF_FAULT_MAGIC), "magic");
	assert_string_equal(ipcf_fault_name(IPCF_FAULT_VERSION), "version");
	assert_string_equal(ipcf_fault_name(IPCF_FAULT_FLAGS), "flags");
	assert_string_equal(ipcf_fault_name(IPCF_FAULT_TYPE), "type");
	assert_string_equal(ipcf_fault_name(IPCF_FAULT_TOO_BIG), "too-big");
	assert_string_equal(ipcf_fault_name(IPCF_FAULT_CRC), "crc");
	assert_string_equal(ipcf_fault_name(IPCF_FAULT_SEQ), "seq");
	assert_string_equal(ipcf_fault_name(IPCF_FAULT_TRUNCATED),
			    "truncated");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pack_writes_big_endian_fields_and_crc),
		cmocka_unit_test(pack_of_empty_payload_covers_header_only),
		cmocka_unit_test(pack_writes_hostile_fields_as_given),
		cmocka_unit_test(unpack_reads_what_pack_wrote),
		cmocka_unit_test(unpack_reports_bad_magic_and_still_reads_fields),
		cmocka_unit_test(unpack_judges_nothing_but_magic),
		cmocka_unit_test(faults_have_the_spec_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
