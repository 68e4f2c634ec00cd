/* pipe: an anonymous pipe; the write end sends, the read end receives. Made
 * before fork(), each process closes the end it does not use. */
#include "channel_impl.h"

#include <errno.h>

#include "sys.h"

/* A pipe holds 64 KiB by default: frames of that size fill it in one write
 * without splitting the payload into more system calls than needed. */
#define PIPE_FRAME_LIMIT (64u * 1024u)

extern const struct ipc_backend ipc_backend_pipe;

static enum ipc_status pipe_pair(const struct ipc_opts *o,
				 struct ipc_channel **a, struct ipc_channel **b)
{
	int fds[2];
	struct ipc_opts opts = o != NULL ? *o : (struct ipc_opts){0};

	if (opts.max_frame == 0)
		opts.max_frame = PIPE_FRAME_LIMIT;
	if (sys_pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
		return IPC_SYSTEM;
	return ipc_stream_pair(&ipc_backend_pipe, &opts, -1, fds[1], fds[0], -1, 0,
			       a, b);
}

const struct ipc_backend ipc_backend_pipe = {
	.name = "pipe",
	.pair = pipe_pair,
};
