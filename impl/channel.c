/* The backend table, and what every channel does the same way. */
#include "channel_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

extern const struct ipc_backend ipc_backend_pipe;
extern const struct ipc_backend ipc_backend_fifo;
extern const struct ipc_backend ipc_backend_tcp;
extern const struct ipc_backend ipc_backend_unix_stream;
extern const struct ipc_backend ipc_backend_sysv_msg;
extern const struct ipc_backend ipc_backend_unix_dgram;
extern const struct ipc_backend ipc_backend_unix_seqpacket;
extern const struct ipc_backend ipc_backend_posix_mq;
extern const struct ipc_backend ipc_backend_shm_ring;
extern const struct ipc_backend ipc_backend_shm_mpmc_sysv_sem;
extern const struct ipc_backend ipc_backend_shm_mpmc_posix_sem;

/* One entry per backend: suites, fuzz targets, stress and benchmarks all
 * iterate over this table. */
const struct ipc_backend *const ipc_backends[] = {
	&ipc_backend_pipe,
	&ipc_backend_fifo,
	&ipc_backend_tcp,
	&ipc_backend_unix_stream,
	&ipc_backend_sysv_msg,
	&ipc_backend_unix_dgram,
	&ipc_backend_unix_seqpacket,
	&ipc_backend_posix_mq,
	&ipc_backend_shm_ring,
	&ipc_backend_shm_mpmc_sysv_sem,
	&ipc_backend_shm_mpmc_posix_sem,
	NULL,
};

static const char *const status_names[] = {
	[IPC_OK] = "ok",
	[IPC_TIMEOUT] = "timed out",
	[IPC_PEER_CLOSED] = "peer closed",
	[IPC_TOO_BIG] = "message too big",
	[IPC_CORRUPT] = "corrupt stream",
	[IPC_NO_READER] = "no reader",
	[IPC_REFUSED] = "refused",
	[IPC_BROKEN] = "broken by an earlier failure",
	[IPC_SYSTEM] = "system error",
	[IPC_INVALID] = "invalid argument",
	[IPC_REMOVED] = "queue removed",
};

const char *ipc_status_name(enum ipc_status status)
{
	if ((unsigned)status >= sizeof status_names / sizeof status_names[0])
		return "unknown status";
	return status_names[status];
}

const struct ipc_backend *ipc_backend_find(const char *name)
{
	for (size_t i = 0; ipc_backends[i] != NULL; i++)
		if (strcmp(ipc_backends[i]->name, name) == 0)
			return ipc_backends[i];
	return NULL;
}

enum ipc_status ipc_channel_pair(const struct ipc_backend *backend,
				 const struct ipc_opts *opts,
				 struct ipc_channel **a, struct ipc_channel **b)
{
	*a = NULL;
	*b = NULL;
	if (backend == NULL || backend->pair == NULL)
		return IPC_INVALID;
	return backend->pair(opts, a, b);
}

const struct ipc_backend *ipc_backend_for_address(const char *address,
						   const char **rest)
{
	const char *colon = strchr(address, ':');

	if (colon == NULL)
		return NULL;
	for (size_t i = 0; ipc_backends[i] != NULL; i++) {
		const char *scheme = ipc_backends[i]->address_scheme;
		if (scheme != NULL && strlen(scheme) == (size_t)(colon - address) &&
		    strncmp(scheme, address, (size_t)(colon - address)) == 0) {
			*rest = colon + 1;
			return ipc_backends[i];
		}
	}
	return NULL;
}

enum ipc_status ipc_listen(const char *address, const struct ipc_opts *opts,
			   struct ipc_listener **out)
{
	const char *where;
	const struct ipc_backend *b = ipc_backend_for_address(address, &where);

	*out = NULL;
	if (b == NULL || b->listen == NULL) {
		errno = EINVAL;
		return IPC_INVALID;
	}
	return b->listen(where, opts, out);
}

enum ipc_status ipc_accept(struct ipc_listener *l, struct ipc_channel **out,
			   int timeout_ms)
{
	*out = NULL;
	if (l == NULL)
		return IPC_INVALID;
	return l->accept(l, out, timeout_ms);
}

enum ipc_status ipc_connect(const char *address, const struct ipc_opts *opts,
			    struct ipc_channel **out, int timeout_ms)
{
	const char *where;
	const struct ipc_backend *b = ipc_backend_for_address(address, &where);

	*out = NULL;
	if (b == NULL || b->connect == NULL) {
		errno = EINVAL;
		return IPC_INVALID;
	}
	return b->connect(where, opts, timeout_ms, out);
}

const char *ipc_listener_address(const struct ipc_listener *l)
{
	return l->address;
}

int ipc_listener_errno(const struct ipc_listener *l) { return l->err; }

void ipc_listener_free(struct ipc_listener *l)
{
	if (l->fd >= 0)
		sys_close(l->fd);
	if (l->unlink_path != NULL)
		sys_unlink(l->unlink_path);
	if (l->rmdir_path != NULL)
		ipc_remove_private_dir(l->rmdir_path);
	free(l->unlink_path);
	free(l->rmdir_path);
	free(l);
}

void ipc_listener_close(struct ipc_listener *l)
{
	if (l == NULL)
		return;
	if (l->on_close != NULL)
		l->on_close(l);
	ipc_listener_free(l);
}
