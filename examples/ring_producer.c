/*
 * The producing side of a shared-memory ring (see ring_consumer.c): connects
 * to the consumer's address, maps the region it is handed (only if it is
 * sealed and of the size announced), and sends COUNT messages of growing
 * size, up to 1 MiB, through a ring of 1 MiB: each carries its sequence
 * number and ends with the CRC-32C of the rest.
 *
 * Run: example-ring-producer shm-ring:PATH COUNT
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc/channel.h"
#include "ipc/crc32c.h"

#define CONNECT_TRIES 3000 /* 10 ms apart: 30 s for the consumer to appear */
#define SEND_MS 10000
#define LARGEST (1u << 20)

/* Connects, waiting while no one listens yet (no socket, or no listener
 * behind it); any other refusal (a region not sealed, a ring too large) is
 * final. */
static enum ipc_status connect_when_listening(const char *address,
					      struct ipc_channel **out)
{
	const struct timespec pause = {0, 10 * 1000000L};
	enum ipc_status st = IPC_REFUSED;

	for (int i = 0; i < CONNECT_TRIES; i++) {
		st = ipc_connect(address, NULL, out, 1000);
		if (st != IPC_REFUSED || (errno != ENOENT && errno != ECONNREFUSED))
			return st;
		nanosleep(&pause, NULL);
	}
	return st;
}

/* Message seq: its number, bytes that depend on it, the CRC of both. */
static size_t make_message(uint8_t *buf, uint64_t seq)
{
	size_t len = sizeof seq + (size_t)(seq * 2654435761u % LARGEST);
	uint32_t crc;

	memcpy(buf, &seq, sizeof seq);
	for (size_t i = sizeof seq; i < len; i++)
		buf[i] = (uint8_t)(i ^ seq);
	crc = ipc_crc32c(0, buf, len);
	memcpy(buf + len, &crc, sizeof crc);
	return len + sizeof crc;
}

int main(int argc, char **argv)
{
	static uint8_t buf[LARGEST + 16];
	struct ipc_channel *out;
	enum ipc_status st;
	char *end;
	unsigned long count;

	if (argc != 3 || (count = strtoul(argv[2], &end, 10)) == 0 || *end != '\0') {
		fprintf(stderr, "usage: %s shm-ring:PATH COUNT (1 or more)\n", argv[0]);
		return 2;
	}
	st = connect_when_listening(argv[1], &out);
	if (st != IPC_OK) {
		fprintf(stderr, "producer: cannot connect to %s: %s (%s)\n", argv[1],
			ipc_status_name(st), strerror(errno));
		return 1;
	}
	for (uint64_t seq = 0; seq < count; seq++) {
		size_t len = make_message(buf, seq);

		st = ipc_send(out, 1, buf, len, SEND_MS);
		if (st != IPC_OK) {
			fprintf(stderr, "producer: message %" PRIu64 ": %s\n", seq,
				ipc_status_name(st));
			ipc_channel_close(out);
			return 1;
		}
	}
	printf("producer: sent %lu messages\n", count);
	ipc_channel_close(out);
	return 0;
}
