/*
 * The consuming side of a shared-memory ring between two unrelated
 * programs. Start this one, then example-ring-producer with the same
 * address, from another shell:
 *
 *   dir=$(mktemp -d)
 *   example-ring-consumer "shm-ring:$dir/ring" &
 *   example-ring-producer "shm-ring:$dir/ring" 1000
 *
 * The address is a Unix socket in a directory that is ours alone; through
 * it the consumer hands the producer a memfd region sealed against
 * shrinking and growing, and from then on every byte goes through shared
 * memory: no system call while the ring is neither empty nor full. The
 * socket only says whether the other side still lives (SO_PEERCRED admits
 * only our own uid). The consumer checks each message's sequence number
 * and contents, prints a summary at the end of the stream, and removes the
 * socket file when it closes the listener.
 *
 * Run: example-ring-consumer shm-ring:PATH
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ipc/channel.h"
#include "ipc/crc32c.h"

#define WAIT_FOR_PRODUCER_MS 30000
#define WAIT_FOR_MESSAGE_MS 10000

/* A message: its sequence number, then bytes whose CRC-32C it ends with. */
static int check_message(const struct ipc_msg *m, uint64_t want_seq)
{
	uint64_t seq;
	uint32_t crc;

	if (m->length < sizeof seq + sizeof crc)
		return -1;
	memcpy(&seq, m->data, sizeof seq);
	memcpy(&crc, m->data + m->length - sizeof crc, sizeof crc);
	if (seq != want_seq || crc != ipc_crc32c(0, m->data, m->length - sizeof crc))
		return -1;
	return 0;
}

static int consume(struct ipc_channel *in)
{
	uint64_t count = 0, bytes = 0;

	for (;;) {
		struct ipc_msg m;
		enum ipc_status st = ipc_recv(in, &m, WAIT_FOR_MESSAGE_MS);

		if (st == IPC_PEER_CLOSED)
			break;
		if (st != IPC_OK) {
			fprintf(stderr, "consumer: message %" PRIu64 ": %s\n", count,
				ipc_status_name(st));
			return 1;
		}
		if (check_message(&m, count) != 0) {
			fprintf(stderr, "consumer: message %" PRIu64 " is not what was"
				" sent\n", count);
			return 1;
		}
		count++;
		bytes += m.length;
	}
	printf("consumer: %" PRIu64 " messages, %" PRIu64 " bytes, all in order"
	       " and intact\n", count, bytes);
	return 0;
}

int main(int argc, char **argv)
{
	struct ipc_listener *l;
	struct ipc_channel *in;
	enum ipc_status st;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s shm-ring:PATH\n", argv[0]);
		return 2;
	}
	st = ipc_listen(argv[1], NULL, &l);
	if (st != IPC_OK) {
		fprintf(stderr, "consumer: cannot listen on %s: %s\n", argv[1],
			ipc_status_name(st));
		return 1;
	}
	printf("consumer: listening on %s\n", ipc_listener_address(l));
	fflush(stdout);
	st = ipc_accept(l, &in, WAIT_FOR_PRODUCER_MS);
	if (st != IPC_OK) {
		fprintf(stderr, "consumer: no producer came: %s\n", ipc_status_name(st));
		ipc_listener_close(l);
		return 1;
	}
	rc = consume(in);
	ipc_channel_close(in);
	ipc_listener_close(l);
	return rc;
}
