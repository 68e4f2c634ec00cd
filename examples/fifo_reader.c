/*
 * The reading side of a FIFO (a named pipe): two unrelated programs meet at
 * a path in the file system. Start this one, then example-fifo-writer with
 * the same address, from another shell:
 *
 *   dir=$(mktemp -d)
 *   example-fifo-reader "fifo:$dir/fifo" &
 *   example-fifo-writer "fifo:$dir/fifo" hello there
 *
 * ipc_listen makes the FIFO with mode 0600 (only our user may open it) and
 * refuses a path that already exists, whatever is there: a fixed name like
 * /tmp/myfifo can be made first by anyone, as a FIFO of theirs or a link to
 * a file of ours. So the FIFO goes in a directory that is ours alone
 * (mktemp -d above). The reader waits for a writer, prints each message,
 * stops at end of stream (every writer has closed), and removes the FIFO
 * when it closes the listener.
 *
 * Run: example-fifo-reader fifo:PATH
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ipc/channel.h"

#define WAIT_FOR_WRITER_MS 30000
#define WAIT_FOR_MESSAGE_MS 10000

/* Prints every message until end of stream; 0 when the stream ended well. */
static int read_messages(struct ipc_channel *in)
{
	for (int n = 1;; n++) {
		struct ipc_msg msg;
		enum ipc_status st = ipc_recv(in, &msg, WAIT_FOR_MESSAGE_MS);

		if (st == IPC_PEER_CLOSED) {
			printf("reader: end of stream after %d messages\n", n - 1);
			return 0;
		}
		if (st != IPC_OK) {
			fprintf(stderr, "reader: receiving message %d failed: %s\n", n,
				ipc_status_name(st));
			return -1;
		}
		printf("reader: read '%.*s' from the FIFO\n", (int)msg.length,
		       (const char *)msg.data);
	}
}

int main(int argc, char **argv)
{
	struct ipc_listener *listener;
	struct ipc_channel *in;
	enum ipc_status st;
	int rc;

	if (argc != 2 || strncmp(argv[1], "fifo:", 5) != 0) {
		fprintf(stderr, "usage: %s fifo:PATH (PATH must not exist yet; put it in "
			"a directory of your own, e.g. from mktemp -d)\n", argv[0]);
		return 2;
	}
	st = ipc_listen(argv[1], NULL, &listener);
	if (st != IPC_OK) {
		fprintf(stderr, "reader: cannot make the FIFO %s: %s (%s); the path must "
			"not exist and its directory must be writable\n",
			argv[1], ipc_status_name(st), strerror(errno));
		return 1;
	}
	printf("reader: listening on %s\n", ipc_listener_address(listener));
	fflush(stdout);

	st = ipc_accept(listener, &in, WAIT_FOR_WRITER_MS);
	if (st != IPC_OK) {
		fprintf(stderr, "reader: no writer came to %s: %s\n", argv[1],
			ipc_status_name(st));
		ipc_listener_close(listener);
		return 1;
	}
	rc = read_messages(in);
	ipc_channel_close(in);
	ipc_listener_close(listener); /* removes the FIFO from the file system */
	printf("reader: FIFO removed\n");
	return rc == 0 ? 0 : 1;
}
