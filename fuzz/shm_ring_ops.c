/*
 * shm_ring_ops: the single-producer single-consumer ring (include/ipc/ring.h)
 * under a script of producer and consumer steps: the consumer sees exactly
 * the bytes produced, in order, none twice, none made up, and the ring's
 * counts agree with what went in and out.
 *
 * Input: one byte of setup, then steps of three bytes.
 *   setup  bits 0-2: capacity 4 KiB << (bits % 5), so 4 to 64 KiB;
 *          bit 3: producer and consumer at once (else the steps in
 *          lockstep); bit 4: the consumer a child process (else a thread)
 *   step   byte 0 bit 7: the consumer's step (else the producer's);
 *                 bits 0-1: a write goes as 1 + bits pieces (writev);
 *          bytes 1-2: a size, big-endian
 * In one process the input alone decides the interleaving: each step runs
 * at once and must move exactly what the ring allows (all of a write that
 * fits, as much of a read as is there). At once, on one shared mapping
 * (with a thread, or a process: the cheaper thread is the usual case, the
 * process the real one), the producer makes its steps whole (sleeping while the ring is
 * full) and the consumer its reads whole (sleeping while it is empty) at
 * the same time, until every byte is through. Sleeps are in slices of
 * SLICE_MS: a sleeper that slept a whole slice and then finds the ring
 * ready was not woken when it should have been (a lost wake); and an input
 * that takes longer than WATCHDOG_S seconds in all is a hang. (No alarm():
 * SIGALRM is libFuzzer's.)
 *
 * The bytes are a stream whose byte at position p is a hash of p, so any
 * byte out of place or made up is seen where it is read.
 */
#include "ipc/ring.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_common.h"

#define LARGEST (64u * 1024u)
#define MOST_BYTES (64u << 10) /* a concurrent input moves at most this */
#define WATCHDOG_S 10
#define SLICE_MS 2000

static uint8_t stream_byte(uint64_t p)
{
	p ^= p >> 29;
	p *= 0xBF58476D1CE4E5B9ull;
	return (uint8_t)(p >> 32);
}

struct step {
	int consumer;
	int pieces;
	size_t size;
};

static struct step take_step(struct fuzz_input *in)
{
	uint8_t op = fuzz_take_u8(in);
	struct step s = {op >> 7, 1 + (op & 3), fuzz_take_be16(in)};

	return s;
}

/* The ring's own memory: one mapping for every input, shared with the
 * consumer process of inputs that have one. */
static void *region(void)
{
	static void *mem;

	if (mem == NULL) {
		mem = mmap(NULL, ipc_ring_footprint(LARGEST), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		FUZZ_CHECK(mem != MAP_FAILED, "cannot map %zu bytes",
			   ipc_ring_footprint(LARGEST));
	}
	return mem;
}

/* The n bytes of the stream from position at. */
FUZZ_NO_COVERAGE static void fill_stream(uint8_t *buf, size_t n, uint64_t at)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(at + i);
}

/* Writes n bytes of the stream from position at, cut into pieces. Only
 * what there is room for is made: in one process the ring must take no
 * more (the rest of the pieces is asked for, never filled); with a
 * consumer running, room may grow at any moment, so n is cut to it. */
static size_t produce(struct ipc_ring *r, uint64_t at, size_t n, int pieces,
		      int consumer_runs)
{
	static uint8_t buf[65536];
	struct iovec iov[4];
	size_t room = ipc_ring_writable(r), left;

	if (consumer_runs && n > room)
		n = room;
	left = n;
	fill_stream(buf, n < room ? n : room, at);
	for (int i = 0; i < pieces; i++) {
		size_t k = i == pieces - 1 ? left : left / 2;

		iov[i].iov_base = buf + (n - left);
		iov[i].iov_len = k;
		left -= k;
	}
	return ipc_ring_writev(r, iov, pieces);
}

/* The first of n bytes read at stream position at that is not what was
 * written there, or n. */
FUZZ_NO_COVERAGE static size_t first_wrong(const uint8_t *got, size_t n, uint64_t at)
{
	size_t i = 0;

	while (i < n && got[i] == stream_byte(at + i))
		i++;
	return i;
}

static void check_consumed(const uint8_t *got, size_t n, uint64_t at)
{
	size_t i = first_wrong(got, n, at);

	FUZZ_CHECK(i == n, "byte %llu of the stream read as 0x%02x, written as 0x%02x",
		   (unsigned long long)(at + i), got[i], stream_byte(at + i));
}

static void lockstep(struct ipc_ring *r, struct fuzz_input *in)
{
	static uint8_t got[65536];
	uint64_t made = 0, taken = 0;
	size_t cap = ipc_ring_capacity(r);

	while (in->left >= 3) {
		struct step s = take_step(in);
		size_t there = ipc_ring_readable(r), n;

		FUZZ_CHECK(there == made - taken && ipc_ring_writable(r) == cap - there,
			   "the ring holds %zu and has room for %zu of %zu; %llu went in,"
			   " %llu out", there, ipc_ring_writable(r), cap,
			   (unsigned long long)made, (unsigned long long)taken);
		if (s.consumer) {
			n = ipc_ring_read(r, got, s.size);
			FUZZ_CHECK(n == (s.size < there ? s.size : there),
				   "a read of %zu with %zu there took %zu", s.size, there, n);
			check_consumed(got, n, taken);
			taken += n;
		} else {
			n = produce(r, made, s.size, s.pieces, 0);
			FUZZ_CHECK(n == (s.size < cap - there ? s.size : cap - there),
				   "a write of %zu with room for %zu put %zu", s.size,
				   cap - there, n);
			made += n;
		}
	}
	FUZZ_CHECK(ipc_ring_producer_sleeps(r) == 0 && ipc_ring_consumer_sleeps(r) == 0,
		   "a side slept though no step waits");
}

/* The total the producer's steps move (capped), so the consumer knows when
 * it has everything. */
static uint64_t produced_total(struct fuzz_input in)
{
	uint64_t total = 0;

	while (in.left >= 3) {
		struct step s = take_step(&in);

		if (!s.consumer && total + s.size <= MOST_BYTES)
			total += s.size;
	}
	return total;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One slice of sleep for the consumer (or the producer): a slice slept to
 * its end with the ring ready after it means a wake was lost; past the
 * deadline the input hangs. Returns what went wrong, or NULL. */
static const char *sleep_once(struct ipc_ring *r, int consumer, long long deadline)
{
	int rc = consumer ? ipc_ring_wait_readable(r, SLICE_MS)
			  : ipc_ring_wait_writable(r, 1, SLICE_MS);

	if (rc != 0 && errno == ETIMEDOUT &&
	    (consumer ? ipc_ring_readable(r) > 0 : ipc_ring_writable(r) > 0))
		return "slept a whole slice though the ring was ready: a lost wake";
	if (now_ms() > deadline)
		return "no end after the watchdog's time: a hang";
	return NULL;
}

/* The consumer's side: every byte of the producer's steps, read in the
 * consumer's step sizes. 0, or 3 after saying what it found. */
static int consume_all(struct ipc_ring *r, struct fuzz_input in, uint64_t total)
{
	uint8_t *got = malloc(65536);
	long long deadline = now_ms() + WATCHDOG_S * 1000;
	uint64_t taken = 0;
	int fault = 0;

	FUZZ_CHECK(got != NULL, "out of memory");
	while (taken < total && !fault) {
		struct step s = in.left >= 3 ? take_step(&in)
					     : (struct step){1, 1, 65536};
		size_t want, n, i;
		const char *why;

		if (!s.consumer)
			continue;
		want = s.size < total - taken ? s.size : (size_t)(total - taken);
		while (want > 0 && !fault) {
			n = ipc_ring_read(r, got, want);
			if (n == 0) {
				why = sleep_once(r, 1, deadline);
				if (why != NULL) {
					fprintf(stderr, "shm_ring_ops consumer: %s\n", why);
					fault = 1;
				}
				continue;
			}
			i = first_wrong(got, n, taken);
			if (i != n) {
				fprintf(stderr, "shm_ring_ops consumer: byte %llu of the"
					" stream read as 0x%02x, written as 0x%02x\n",
					(unsigned long long)(taken + i), got[i],
					stream_byte(taken + i));
				fault = 1;
			}
			taken += n;
			want -= n;
		}
	}
	free(got);
	return fault ? 3 : 0;
}

/* The consumer runs as a thread or in the consumer process. */
struct consumer {
	struct ipc_ring *r;
	struct fuzz_input in;
	uint64_t total;
	int process;
	pthread_t thread;
	_Atomic int finished;
	int code;
};

static void *consumer_thread(void *arg)
{
	struct consumer *c = arg;

	c->code = consume_all(c->r, c->in, c->total);
	atomic_store(&c->finished, 1);
	return NULL;
}

/*
 * The consumer process: one child for all the inputs that ask for a
 * process, not one per input. What such an input tests is a consumer in
 * another address space on the one shared mapping, which a long-lived
 * child is as much as a fresh one; but a fork of this process copies the
 * page tables of the sanitizers' and the engine's memory, which took most
 * of the target's time. Each input sends the child its steps and total
 * (struct job, then the steps) over a socket; the child formats nothing
 * (the ring is laid out anew by this process before each input) and
 * answers with consume_all's code. A child that died (a sanitizer's report,
 * a kill) is reaped when its answer is missing, its status taken as the
 * code, and the next input starts another.
 */
struct job {
	uint64_t total;
	uint64_t len;
};

static struct {
	pid_t pid; /* 0: none */
	int fd;    /* this process's end of the socket */
} helper = {0, -1};

/* All of n bytes, or -1 (the other end is gone). EINTR: libFuzzer's timer
 * interrupts a wait every second. */
static int recv_all(int fd, void *buf, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = recv(fd, (char *)buf + done, n - done, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

static int send_all(int fd, const void *buf, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = send(fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/* The child: consumes each job as it comes, until this process is gone. */
static _Noreturn void serve_jobs(int fd)
{
	for (;;) {
		struct job j;
		uint8_t *steps;
		int code;

		if (recv_all(fd, &j, sizeof j) != 0)
			_exit(0);
		steps = malloc(j.len > 0 ? j.len : 1);
		if (steps == NULL || recv_all(fd, steps, j.len) != 0)
			_exit(0);
		code = consume_all(region(), (struct fuzz_input){steps, j.len}, j.total);
		free(steps);
		if (send_all(fd, &code, sizeof code) != 0)
			_exit(0);
	}
}

/* The consumer process's code for a child that died: its status. */
static int reap_helper(void)
{
	int status;
	pid_t r;

	close(helper.fd);
	while ((r = waitpid(helper.pid, &status, 0)) < 0 && errno == EINTR)
		;
	helper.pid = 0;
	helper.fd = -1;
	FUZZ_CHECK(r >= 0, "the consumer process was lost: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* At exit: the child sees the socket close, ends, and is reaped here, so
 * it outlives no run as a zombie. (After a crash no exit hook runs; then
 * PR_SET_PDEATHSIG ends it.) */
static void stop_helper(void)
{
	if (helper.pid != 0)
		reap_helper();
}

static void start_helper(void)
{
	static int hooked;
	int sv[2];
	pid_t parent = getpid();

	if (!hooked)
		hooked = atexit(stop_helper) == 0;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
		   "cannot make the consumer process's socket: %s", strerror(errno));
	region(); /* mapped before the fork, so the child shares it */
	helper.pid = fork();
	FUZZ_CHECK(helper.pid >= 0, "fork failed: %s", strerror(errno));
	if (helper.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		close(sv[0]);
		serve_jobs(sv[1]);
	}
	close(sv[1]);
	helper.fd = sv[0];
}

static int send_job(const struct consumer *c)
{
	struct job j = {c->total, c->in.left};

	if (send_all(helper.fd, &j, sizeof j) != 0)
		return -1;
	return send_all(helper.fd, c->in.p, c->in.left);
}

static void start_consumer(struct consumer *c)
{
	if (!c->process) {
		FUZZ_CHECK(pthread_create(&c->thread, NULL, consumer_thread, c) == 0,
			   "cannot start the consumer thread");
		return;
	}
	if (helper.pid == 0)
		start_helper();
	if (send_job(c) == 0)
		return;
	/* Gone since the last input (killed from outside): once more. */
	reap_helper();
	start_helper();
	FUZZ_CHECK(send_job(c) == 0, "cannot send the consumer process its"
		   " steps: %s", strerror(errno));
}

/* The consumer process's answer to this input, once. */
static void take_answer(struct consumer *c)
{
	int code;

	if (recv_all(helper.fd, &code, sizeof code) != 0)
		code = reap_helper();
	c->code = code;
	atomic_store(&c->finished, 1);
}

/* Whether the consumer ended (it found a fault: no room will come). */
static int consumer_ended(struct consumer *c)
{
	struct pollfd p = {.fd = helper.fd, .events = POLLIN};

	if (!c->process || atomic_load(&c->finished))
		return atomic_load(&c->finished);
	if (poll(&p, 1, 0) <= 0)
		return 0;
	take_answer(c);
	return 1;
}

static int join_consumer(struct consumer *c)
{
	if (!c->process) {
		pthread_join(c->thread, NULL);
		return c->code;
	}
	if (!atomic_load(&c->finished))
		take_answer(c);
	return c->code;
}

static void produce_all(struct ipc_ring *r, struct fuzz_input in,
			struct consumer *c)
{
	long long deadline = now_ms() + WATCHDOG_S * 1000;
	uint64_t made = 0;

	while (in.left >= 3) {
		struct step s = take_step(&in);
		size_t done = 0;

		if (s.consumer || made + s.size > MOST_BYTES)
			continue;
		while (done < s.size) {
			size_t n = produce(r, made + done, s.size - done, s.pieces, 1);

			if (n == 0) {
				const char *why = sleep_once(r, 0, deadline);

				if (consumer_ended(c))
					return;
				FUZZ_CHECK(why == NULL, "producer: %s", why);
			}
			done += n;
		}
		made += s.size;
	}
}

static void concurrently(struct ipc_ring *r, struct fuzz_input *in, int process)
{
	struct consumer c = {.r = r, .in = *in, .total = produced_total(*in),
			     .process = process};
	int code;

	start_consumer(&c);
	produce_all(r, *in, &c);
	code = join_consumer(&c);
	FUZZ_CHECK(code == 0, "the consumer %s of %llu bytes ended with %d (3: it"
		   " found a fault, said above)", process ? "process" : "thread",
		   (unsigned long long)c.total, code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	uint8_t setup = fuzz_take_u8(&in);
	size_t cap = (size_t)4096 << (setup & 7) % 5;
	void *mem = region();
	struct ipc_ring *r;

	FUZZ_CHECK(ipc_ring_format(mem, cap) == 0, "cannot lay out %zu bytes", cap);
	r = ipc_ring_attach(mem, ipc_ring_footprint(LARGEST));
	FUZZ_CHECK(r != NULL && ipc_ring_capacity(r) == cap, "the ring laid out is"
		   " not found again");
	if (setup & 8)
		concurrently(r, &in, (setup & 0x10) != 0);
	else
		lockstep(r, &in);
	return 0;
}
