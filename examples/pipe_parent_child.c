/*
 * Parent to child over a pipe.
 *
 * The parent makes a pipe channel, forks, and sends two messages; the child
 * receives until the parent closes its end. A pipe itself carries bytes, not
 * messages: two writes of "Hello" and " Pipe" may reach a reader as one read
 * or as three, whatever a sleep() seems to show. The channel frames each
 * message (IPCF v1), so the child gets exactly the two messages that were
 * sent, each with its length, and end of stream when the parent is done.
 *
 * Run: example-pipe
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/channel.h"

#define MSG_TEXT 1          /* our own message type: any of 1..65535 */
#define TIMEOUT_MS 5000     /* no send or receive waits longer than this */
#define CHILD_LIMIT_S 20    /* a child that hangs is killed by SIGALRM */

/* The child: print each message until the parent closes its end. */
static int child_reads(struct ipc_channel *in)
{
	for (int n = 1;; n++) {
		struct ipc_msg msg;
		enum ipc_status st = ipc_recv(in, &msg, TIMEOUT_MS);

		if (st == IPC_PEER_CLOSED) {
			printf("child: end of stream after %d messages\n", n - 1);
			return 0;
		}
		if (st != IPC_OK) {
			fprintf(stderr, "child: receiving message %d failed: %s\n", n,
				ipc_status_name(st));
			return 1;
		}
		/* A message knows its length: no NUL is needed, so none can be
		 * missing, and there is no fixed buffer to read past. */
		printf("child: message %d: '%.*s' (%zu bytes)\n", n,
		       (int)msg.length, (const char *)msg.data, msg.length);
	}
}

static int run_child(struct ipc_channel *send_end, struct ipc_channel *recv_end)
{
	int rc;

	alarm(CHILD_LIMIT_S);
	/* Our copy of the write end must go, or the pipe would always have a
	 * writer (us) and we would never see end of stream. */
	ipc_channel_close(send_end);
	rc = child_reads(recv_end);
	ipc_channel_close(recv_end);
	fflush(stdout);
	return rc;
}

static int parent_sends(struct ipc_channel *out)
{
	const char *words[] = {"Hello", " Pipe"};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		enum ipc_status st = ipc_send(out, MSG_TEXT, words[i], strlen(words[i]),
					      TIMEOUT_MS);

		if (st != IPC_OK) {
			fprintf(stderr, "parent: sending '%s' failed: %s\n", words[i],
				ipc_status_name(st));
			return -1;
		}
	}
	return 0;
}

/* Waits for the child; its exit code, or -1 if it did not exit cleanly. */
static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("parent: waitpid");
			return -1;
		}
	if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));

		fprintf(stderr, "parent: the child was killed by signal %d (SIG%s)\n",
			WTERMSIG(status), name != NULL ? name : "?");
		return -1;
	}
	return WEXITSTATUS(status);
}

int main(void)
{
	struct ipc_channel *send_end, *recv_end;
	enum ipc_status st;
	int sent, code;
	pid_t pid;

	st = ipc_channel_pair(ipc_backend_find("pipe"), NULL, &send_end, &recv_end);
	if (st != IPC_OK) {
		fprintf(stderr, "parent: cannot make a pipe channel: %s (%s)\n",
			ipc_status_name(st), strerror(errno));
		return 1;
	}
	fflush(stdout); /* nothing buffered may be copied into the child */
	pid = fork();
	if (pid < 0) {
		perror("parent: fork");
		ipc_channel_close(send_end);
		ipc_channel_close(recv_end);
		return 1;
	}
	if (pid == 0)
		_exit(run_child(send_end, recv_end));

	ipc_channel_close(recv_end); /* the parent only writes */
	sent = parent_sends(send_end);
	ipc_channel_close(send_end); /* the child's end of stream */
	code = reap(pid);
	if (sent != 0 || code != 0) {
		fprintf(stderr, "parent: failed (child exit code %d)\n", code);
		return 1;
	}
	printf("parent: sent 2 messages, and the child exited with code 0\n");
	return 0;
}
