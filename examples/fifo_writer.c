/*
 * The writing side of a FIFO: sends each argument as one message to the
 * reader listening at the address (see example-fifo-reader).
 *
 * Opening a FIFO to write fails while no one has it open to read (IPC_NO_READER,
 * ENXIO) and a path not made yet is IPC_REFUSED: both mean "the reader is not
 * there yet", so the writer tries again for a while instead of writing into a
 * descriptor that was never opened. Each message carries its own length:
 * only the bytes of the argument go out, never the rest of a fixed buffer.
 *
 * Run: example-fifo-writer fifo:PATH MESSAGE...
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ipc/channel.h"

#define MSG_TEXT 1
#define SEND_TIMEOUT_MS 10000
#define CONNECT_TRIES 3000 /* 10 ms apart: 30 s for the reader to appear */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Connects, waiting for the reader to come; IPC_OK or the last failure. */
static enum ipc_status connect_when_read(const char *address,
					 struct ipc_channel **out)
{
	enum ipc_status st = IPC_REFUSED;

	for (int i = 0; i < CONNECT_TRIES; i++) {
		st = ipc_connect(address, NULL, out, 0);
		if (st != IPC_NO_READER && st != IPC_REFUSED)
			return st;
		sleep_ms(10);
	}
	return st;
}

int main(int argc, char **argv)
{
	struct ipc_channel *out;
	enum ipc_status st;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: %s fifo:PATH MESSAGE... (a reader must be "
			"listening at PATH, see example-fifo-reader)\n", argv[0]);
		return 2;
	}
	st = connect_when_read(argv[1], &out);
	if (st != IPC_OK) {
		fprintf(stderr, "writer: cannot open %s for writing: %s (%s); is "
			"example-fifo-reader listening there?\n", argv[1],
			ipc_status_name(st), strerror(errno));
		return 1;
	}
	for (i = 2; i < argc; i++) {
		st = ipc_send(out, MSG_TEXT, argv[i], strlen(argv[i]), SEND_TIMEOUT_MS);
		if (st != IPC_OK) {
			fprintf(stderr, "writer: sending '%s' failed: %s\n", argv[i],
				ipc_status_name(st));
			break;
		}
	}
	ipc_channel_close(out); /* the reader sees end of stream */
	if (st != IPC_OK)
		return 1;
	printf("writer: sent %d messages\n", argc - 2);
	return 0;
}
