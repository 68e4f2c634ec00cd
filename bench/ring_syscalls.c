/*
 * ring-syscalls: the shm-ring channel in one process, with getppid() as a
 * marker between its phases, for strace: one send into the empty ring,
 * marker, COUNT - 1 sends into a ring they never fill, marker, COUNT - 1
 * receives from a ring that still holds the last message, marker, the
 * last receive. What strace shows between the markers is what the channel
 * calls while its ring is neither empty nor full; the first send and the
 * last receive, which find it empty or leave it so, may look at the peer.
 */
#include "modes.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"
#include "ipc/channel.h"
#include "ipc/ipcf.h"
#include "ipc/ring.h"

#define LARGEST_RING (256u << 20) /* impl/chan_shm_ring.c */
#define CALL_TIMEOUT_MS 10000

size_t ring_size_for(size_t size, size_t count)
{
	/* A message is one frame: the stream core's frame limit is the
	 * message limit (16 MiB), over every size bench-run takes. */
	uint64_t need = ipcf_encoded_size(size, IPCF_DEFAULT_LIMIT) * (uint64_t)count;
	size_t ring = IPC_RING_MIN;

	while (ring <= need) {
		if (ring >= LARGEST_RING)
			return 0;
		ring *= 2;
	}
	return ring;
}

static void marker(void)
{
	(void)getppid();
}

void run_ring_syscalls(size_t size, size_t count)
{
	struct ipc_opts opts = {.ring_size = ring_size_for(size, count)};
	const struct ipc_backend *b = ipc_backend_find("shm-ring");
	uint8_t *payload = bench_payload(size, BENCH_MORE);
	struct ipc_channel *tx, *rx;
	enum ipc_status st;
	struct ipc_msg m;

	bench_set_context("shm-ring", size);
	st = ipc_channel_pair(b, &opts, &tx, &rx);
	if (st != IPC_OK)
		bench_fail_errno("ipc_channel_pair with a ring of %zu bytes: %s",
				 opts.ring_size, ipc_status_name(st));
	for (size_t i = 0; i < count; i++) {
		if ((st = ipc_send(tx, 1, payload, size, CALL_TIMEOUT_MS)) != IPC_OK)
			bench_fail("ipc_send of message %zu: %s", i + 1, ipc_status_name(st));
		if (i == 0)
			marker();
	}
	marker();
	for (size_t i = 0; i < count; i++) {
		if (i == count - 1)
			marker();
		st = ipc_recv(rx, &m, CALL_TIMEOUT_MS);
		if (st != IPC_OK)
			bench_fail("ipc_recv of message %zu: %s", i + 1, ipc_status_name(st));
		if (m.length != size)
			bench_fail("ipc_recv of message %zu: %zu bytes, not %zu", i + 1,
				   m.length, size);
	}
	ipc_channel_close(tx);
	ipc_channel_close(rx);
	free(payload);
	printf("{\"kind\":\"ring-syscalls\",\"size\":%zu,\"count\":%zu,\"ring_size\":%zu,"
	       "\"markers\":\"getppid\"}\n", size, count, opts.ring_size);
}
