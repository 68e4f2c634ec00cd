/*
 * fifo: a named pipe. One way: writers send, the reader receives.
 *
 * Pairs make the FIFO in a private directory (ipc_private_dir) and open both
 * ends before they return. "fifo:PATH" addresses: ipc_listen makes the FIFO
 * at PATH (0600; a path that exists already, whatever it is, is EEXIST and
 * is never reused) and opens its read end; ipc_connect opens PATH for
 * writing; ipc_accept hands the read end over once a writer has come.
 *
 * Frames: writes of at most PIPE_BUF bytes to a pipe are atomic, so the
 * default frame limit is PIPE_BUF less the header. A frame then always goes
 * out in one write, and the bytes of frames from several writers never mix.
 * They still cannot share one stream: IPCF wants seq to grow by one across
 * the whole stream, and every writer counts from its own start, so the
 * reader reports the second writer's first frame as a seq fault (or, if
 * frames larger than PIPE_BUF are allowed and their bytes mix, whatever
 * fault the mixed bytes make). A stream is one writer at a time; frames from
 * several writers stay whole, and their mixing is reported, never accepted.
 */
#include "channel_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

#define FIFO_FRAME_LIMIT ((uint32_t)PIPE_BUF - IPCF_HEADER_SIZE)

#define FIFO_OPEN_FLAGS (O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)

extern const struct ipc_backend ipc_backend_fifo;

static struct ipc_opts fifo_opts(const struct ipc_opts *o)
{
	struct ipc_opts opts = o != NULL ? *o : (struct ipc_opts){0};

	if (opts.max_frame == 0)
		opts.max_frame = FIFO_FRAME_LIMIT;
	return opts;
}

/* Opening never blocks (O_NONBLOCK): a read end opens at once, a write end
 * fails with ENXIO while there is no reader. */
static int open_fifo(const char *path, int access)
{
	for (;;) {
		int fd = sys_open(path, access | FIFO_OPEN_FLAGS, 0);

		if (fd >= 0 || errno != EINTR)
			return fd;
	}
}

/* Keeps fd if it is a FIFO; otherwise closes it and fails with EINVAL. */
static int require_fifo(int fd)
{
	struct stat st;

	if (sys_fstat(fd, &st) != 0) {
		ipc_close_quietly(fd);
		return -1;
	}
	if (!S_ISFIFO(st.st_mode)) {
		ipc_close_quietly(fd);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int open_fifo_checked(const char *path, int access)
{
	int fd = open_fifo(path, access);

	if (fd < 0 || require_fifo(fd) != 0)
		return -1;
	return fd;
}

/* ---- pairs --------------------------------------------------------------- */

/* Removes the FIFO and its private directory; -1 with errno of the first
 * removal that failed (both are tried). */
static int remove_names(const char *path, const char *dir)
{
	int failed = sys_unlink(path) != 0;
	int err = errno;

	if (ipc_remove_private_dir(dir) != 0 && !failed) {
		failed = 1;
		err = errno;
	}
	errno = err;
	return failed ? -1 : 0;
}

/* Undoes a pair half made; path is NULL if the FIFO was not made. */
static enum ipc_status pair_failed(int rfd, int wfd, const char *path,
				   const char *dir)
{
	int err = errno;

	ipc_close_quietly(rfd);
	ipc_close_quietly(wfd);
	if (path != NULL)
		sys_unlink(path);
	ipc_remove_private_dir(dir);
	errno = err;
	return IPC_SYSTEM;
}

/*
 * Both ends are open before the names go, so the names have done their job
 * and are removed at once: no end owns anything on disk, nothing is left
 * behind even if the process is killed, and after fork() no close in either
 * process can remove a name that someone else has made since. A pair whose
 * names could not be removed is not handed out.
 */
static enum ipc_status fifo_pair(const struct ipc_opts *o,
				 struct ipc_channel **a, struct ipc_channel **b)
{
	struct ipc_opts opts = fifo_opts(o);
	char dir[PATH_MAX], path[PATH_MAX];
	int rfd = -1, wfd = -1;

	if (ipc_private_dir(dir, sizeof dir) != 0)
		return IPC_SYSTEM;
	if ((size_t)snprintf(path, sizeof path, "%s/fifo", dir) >= sizeof path) {
		errno = ENAMETOOLONG;
		return pair_failed(-1, -1, NULL, dir);
	}
	if (sys_mkfifo(path, 0600) != 0)
		return pair_failed(-1, -1, NULL, dir);
	/* The reader first: a write end cannot open without one. */
	if ((rfd = open_fifo_checked(path, O_RDONLY)) < 0 ||
	    (wfd = open_fifo_checked(path, O_WRONLY)) < 0 ||
	    remove_names(path, dir) != 0)
		return pair_failed(rfd, wfd, path, dir);
	return ipc_stream_pair(&ipc_backend_fifo, &opts, -1, wfd, rfd, -1, 0, a, b);
}

/* ---- addresses ----------------------------------------------------------- */

/*
 * What ipc_accept waits for. A FIFO tells its reader nothing when a writer
 * opens it: the read end becomes readable only when bytes arrive, and with
 * no writer at all it reads end-of-file at once (and polls POLLHUP once a
 * writer has come and gone). So while it waits, the listener holds a write
 * end of its own: the read end then never shows end-of-file or a hang-up
 * before a real writer has sent something, and accept returns when the
 * first bytes of a writer are there (a writer that opened and has sent
 * nothing yet is not seen). Accept closes that write end before it hands
 * the read end to the channel, so the channel sees end-of-stream
 * (IPC_PEER_CLOSED) once every real writer has closed.
 *
 * A read end goes to one channel; a later accept opens a new one, for the
 * writers that come after the earlier channel's stream ended.
 */
struct fifo_listener {
	struct ipc_listener base; /* first: ipc_listener_free frees the whole */
	int hold_wfd;             /* the listener's own writer, or -1 */
};

/* Also the listener's on_close. */
static void drop_own_writer(struct ipc_listener *l)
{
	struct fifo_listener *fl = (struct fifo_listener *)l;

	if (fl->hold_wfd >= 0)
		sys_close(fl->hold_wfd);
	fl->hold_wfd = -1;
}

/* The read end, then the listener's own write end (which needs it). */
static int fifo_listener_open(struct fifo_listener *fl)
{
	const char *path = fl->base.unlink_path;

	fl->base.fd = open_fifo_checked(path, O_RDONLY);
	if (fl->base.fd < 0)
		return -1;
	fl->hold_wfd = open_fifo_checked(path, O_WRONLY);
	if (fl->hold_wfd < 0) {
		ipc_close_quietly(fl->base.fd);
		fl->base.fd = -1;
		return -1;
	}
	return 0;
}

static enum ipc_status fifo_accept(struct ipc_listener *l,
				   struct ipc_channel **out, int timeout_ms)
{
	struct fifo_listener *fl = (struct fifo_listener *)l;
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	enum ipc_status st;
	int rfd;

	if (l->fd < 0 && fifo_listener_open(fl) != 0) {
		l->err = errno;
		return IPC_SYSTEM;
	}
	st = ipc_wait_fd(l->fd, POLLIN, &d, &l->err);
	if (st != IPC_OK)
		return st;
	drop_own_writer(l);
	rfd = l->fd;
	l->fd = -1;
	*out = ipc_stream_new(&ipc_backend_fifo, &l->opts, rfd, -1, 0);
	if (*out == NULL) {
		l->err = errno;
		return IPC_SYSTEM;
	}
	return IPC_OK;
}

static enum ipc_status fifo_listen(const char *where, const struct ipc_opts *o,
				   struct ipc_listener **out)
{
	struct fifo_listener *fl;
	int err;

	if (where[0] == '\0' || strlen(where) >= PATH_MAX) {
		errno = where[0] == '\0' ? EINVAL : ENAMETOOLONG;
		return IPC_INVALID;
	}
	if ((fl = calloc(1, sizeof *fl)) == NULL)
		return IPC_SYSTEM;
	fl->base.backend = &ipc_backend_fifo;
	fl->base.opts = fifo_opts(o);
	fl->base.fd = -1;
	fl->hold_wfd = -1;
	fl->base.accept = fifo_accept;
	fl->base.on_close = drop_own_writer;
	snprintf(fl->base.address, sizeof fl->base.address, "fifo:%s", where);
	/* mkfifo never reuses a path: one that exists is EEXIST, even a
	 * dangling symbolic link. */
	if (sys_mkfifo(where, 0600) != 0) {
		err = errno;
		free(fl);
		errno = err;
		return IPC_SYSTEM;
	}
	if ((fl->base.unlink_path = strdup(where)) == NULL) {
		err = errno;
		sys_unlink(where);
		free(fl);
		errno = err;
		return IPC_SYSTEM;
	}
	if (fifo_listener_open(fl) != 0) {
		err = errno;
		ipc_listener_close(&fl->base);
		errno = err;
		return IPC_SYSTEM;
	}
	*out = &fl->base;
	return IPC_OK;
}

static enum ipc_status connect_failure(int err)
{
	errno = err;
	switch (err) {
	case ENXIO:
		return IPC_NO_READER;
	case ENOENT:
		return IPC_REFUSED;
	case EINVAL: /* not a FIFO */
	case ELOOP:  /* a symbolic link: never followed */
	case EISDIR:
		return IPC_INVALID;
	default:
		return IPC_SYSTEM;
	}
}

/* No reader is IPC_NO_READER at once (ENXIO), never a wait: opening a
 * FIFO with O_NONBLOCK does not block, so the timeout has nothing to bound.
 * What is not a FIFO is refused after opening it, before any byte goes. */
static enum ipc_status fifo_connect(const char *where, const struct ipc_opts *o,
				    int timeout_ms, struct ipc_channel **out)
{
	struct ipc_opts opts = fifo_opts(o);
	int wfd;

	(void)timeout_ms;
	if (where[0] == '\0')
		return connect_failure(EINVAL);
	wfd = open_fifo_checked(where, O_WRONLY);
	if (wfd < 0)
		return connect_failure(errno);
	*out = ipc_stream_new(&ipc_backend_fifo, &opts, -1, wfd, 0);
	return *out != NULL ? IPC_OK : IPC_SYSTEM;
}

const struct ipc_backend ipc_backend_fifo = {
	.name = "fifo",
	.address_scheme = "fifo",
	.pair = fifo_pair,
	.listen = fifo_listen,
	.connect = fifo_connect,
};
