/*
 * bench-channels: message throughput of every backend in the table, parent
 * to child across fork(), as a ratio to raw bytes through a plain pipe moved
 * the same way in the same run (write(2) of the same chunk sizes, no framing,
 * no checksum), so figures compare across machines and loads.
 *
 * usage: bench-channels [--quick]
 * Each cell moves 16 MiB (--quick: 256 KiB, a smoke run) in messages of one
 * size and is the best of 3 rounds; the clock stops when the child says it
 * has every byte.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/channel.h"

#define ROUNDS 3
#define TIMEOUT_MS 60000

static size_t total_bytes = 16u << 20;
/* Static, not malloc'd: the forked children exit without freeing. */
static char payload[1u << 20];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench-channels: %s: %s\n", what, detail);
	exit(1);
}

/* The child tells the parent it has everything by closing this pipe's
 * write end (or exiting), so the parent's read returns 0. */
static void wait_for_done(int done_fd, pid_t child)
{
	char c;
	int status;

	while (read(done_fd, &c, 1) < 0 && errno == EINTR)
		;
	close(done_fd);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		die("the receiving child failed", "see its message above");
}

static void receive_messages(struct ipc_channel *rx, size_t count, size_t size)
{
	struct ipc_msg msg;

	for (size_t i = 0; i < count; i++) {
		enum ipc_status st = ipc_recv(rx, &msg, TIMEOUT_MS);
		if (st != IPC_OK || msg.length != size)
			die("receiving", ipc_status_name(st));
	}
}

static void receive_raw(int fd, size_t bytes)
{
	static char buf[64 * 1024];

	while (bytes > 0) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("raw read", n == 0 ? "early end of file" : strerror(errno));
		bytes -= (size_t)n;
	}
}

static int make_done_pipe(int fds[2])
{
	if (pipe(fds) != 0)
		die("pipe", strerror(errno));
	return 0;
}

/* Seconds to move total_bytes in messages of `size` over one new pair. */
static double time_backend(const struct ipc_backend *b, const void *payload,
			   size_t size)
{
	struct ipc_channel *tx, *rx;
	size_t count = total_bytes / size;
	int done[2];
	double start;
	pid_t child;
	enum ipc_status st = ipc_channel_pair(b, NULL, &tx, &rx);

	if (st != IPC_OK)
		die(b->name, ipc_status_name(st));
	make_done_pipe(done);
	child = fork();
	if (child < 0)
		die("fork", strerror(errno));
	if (child == 0) {
		close(done[0]);
		ipc_channel_close(tx);
		receive_messages(rx, count, size);
		ipc_channel_close(rx);
		_exit(0);
	}
	close(done[1]);
	ipc_channel_close(rx);
	start = now();
	for (size_t i = 0; i < count; i++)
		if ((st = ipc_send(tx, 1, payload, size, TIMEOUT_MS)) != IPC_OK)
			die("sending", ipc_status_name(st));
	wait_for_done(done[0], child);
	ipc_channel_close(tx);
	return now() - start;
}

static double time_raw_pipe(const void *payload, size_t size)
{
	size_t count = total_bytes / size;
	int data[2], done[2];
	double start;
	pid_t child;

	if (pipe(data) != 0)
		die("pipe", strerror(errno));
	make_done_pipe(done);
	child = fork();
	if (child < 0)
		die("fork", strerror(errno));
	if (child == 0) {
		close(done[0]);
		close(data[1]);
		receive_raw(data[0], count * size);
		_exit(0);
	}
	close(done[1]);
	close(data[0]);
	start = now();
	for (size_t i = 0; i < count; i++) {
		const char *p = payload;
		size_t left = size;
		while (left > 0) {
			ssize_t n = write(data[1], p, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("raw write", strerror(errno));
			p += n;
			left -= (size_t)n;
		}
	}
	close(data[1]);
	wait_for_done(done[0], child);
	return now() - start;
}

static double best_raw(const void *payload, size_t size)
{
	double best = 0;

	for (int r = 0; r < ROUNDS; r++) {
		double t = time_raw_pipe(payload, size);
		if (best == 0 || t < best)
			best = t;
	}
	return best;
}

static double best_backend(const struct ipc_backend *b, const void *payload,
			   size_t size)
{
	double best = 0;

	for (int r = 0; r < ROUNDS; r++) {
		double t = time_backend(b, payload, size);
		if (best == 0 || t < best)
			best = t;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {64, 4096, 65536, 1u << 20};
	size_t nsizes = sizeof sizes / sizeof sizes[0];
	double raw[sizeof sizes / sizeof sizes[0]];

	if (argc == 2 && strcmp(argv[1], "--quick") == 0) {
		total_bytes = 256u << 10;
	} else if (argc != 1) {
		fprintf(stderr, "usage: bench-channels [--quick]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* the raw baseline's writes, not the channels' */
	memset(payload, 0x5A, sizeof payload);

	printf("Channel throughput, parent to child, as a ratio to raw bytes through a "
	       "pipe (higher is faster; %zu KiB per cell)\n", total_bytes >> 10);
	printf("%-14s", "message bytes");
	for (size_t i = 0; i < nsizes; i++)
		printf("  %9zu", sizes[i]);
	printf("\n%-14s", "raw pipe MB/s");
	for (size_t i = 0; i < nsizes; i++) {
		raw[i] = best_raw(payload, sizes[i]);
		printf("  %9.0f", (double)total_bytes / raw[i] / 1e6);
	}
	printf("\n");
	for (size_t k = 0; ipc_backends[k] != NULL; k++) {
		const struct ipc_backend *b = ipc_backends[k];
		if (b->pair == NULL)
			continue;
		printf("%-14s", b->name);
		for (size_t i = 0; i < nsizes; i++)
			printf("  %9.2f", raw[i] / best_backend(b, payload, sizes[i]));
		printf("\n");
		fflush(stdout);
	}
	return 0;
}
