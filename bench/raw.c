/*
 * Raw baselines: the mechanism under each channel backend, used plainly
 * (blocking calls, no framing, no checksum, no copy the mechanism does not
 * force), so a backend's figure has the limit of its mechanism beside it.
 * They call libc directly, never the library's seam, in both builds.
 *
 * Byte streams (pipe, FIFO, unix-stream, tcp, the futex ring) write each
 * message whole and read in chunks of RAW_READ_CHUNK, as the stream core
 * does, walking message boundaries by the known size. Message mechanisms
 * cut a message into kernel messages of the size the backend gives a frame
 * (datagram and seqpacket sockets: UNIX_MSG_DATAGRAM; System V: msgmax;
 * POSIX: the queue's mq_msgsize) and check each one's length.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "ipc/posix_mq.h"
#include "subject.h"

/* impl/channel_impl.h IPC_READ_CHUNK: what the stream core reads at once. */
#define RAW_READ_CHUNK (64u * 1024u)
/* impl/chan_unix_msg.c: one frame is one datagram of at most this. */
#define UNIX_MSG_DATAGRAM (64u * 1024u)
#define UNIX_SNDBUF_SLACK 32u
/* impl/chan_shm_ring.c DEFAULT_RING: the shm-ring backend's ring. */
#define FRING_CAPACITY (1u << 20)
#define FUTEX_SLICE_MS 100
#define FRING_SPIN_LOOKS 256

enum raw_kind {
	RAW_PIPE,
	RAW_FIFO,
	RAW_UNIX_STREAM,
	RAW_UNIX_SEQPACKET,
	RAW_UNIX_DGRAM,
	RAW_TCP,
	RAW_SYSV_MSG,
	RAW_POSIX_MQ,
	RAW_SHM_FUTEX,
};

static const struct {
	const char *name;
	const char *backends[3];
	enum raw_kind kind;
} raws[] = {
	{"raw:pipe", {"pipe"}, RAW_PIPE},
	{"raw:fifo", {"fifo"}, RAW_FIFO},
	{"raw:unix-stream", {"unix-stream"}, RAW_UNIX_STREAM},
	{"raw:unix-seqpacket", {"unix-seqpacket"}, RAW_UNIX_SEQPACKET},
	{"raw:unix-dgram", {"unix-dgram"}, RAW_UNIX_DGRAM},
	{"raw:tcp", {"tcp"}, RAW_TCP},
	{"raw:sysv-msg", {"sysv-msg"}, RAW_SYSV_MSG},
	{"raw:posix-mq", {"posix-mq"}, RAW_POSIX_MQ},
	{"raw:shm-futex", {"shm-ring", "shm-mpmc-sysv-sem", "shm-mpmc-posix-sem"}, RAW_SHM_FUTEX},
};
#define NRAWS (sizeof raws / sizeof raws[0])

const char *const raw_names[] = {
	"raw:pipe", "raw:fifo", "raw:unix-stream", "raw:unix-seqpacket",
	"raw:unix-dgram", "raw:tcp", "raw:sysv-msg", "raw:posix-mq",
	"raw:shm-futex", NULL,
};

const char *raw_baseline_of(const char *backend)
{
	for (size_t i = 0; i < NRAWS; i++)
		for (size_t j = 0; j < 3 && raws[i].backends[j] != NULL; j++)
			if (strcmp(raws[i].backends[j], backend) == 0)
				return raws[i].name;
	return NULL;
}

/* ---- the futex ring ------------------------------------------------------ */

/*
 * A single-producer single-consumer byte ring in a shared anonymous mapping,
 * the protocol of impl/ring.c written small: each side owns an index on a
 * cache line of its own; a side with nothing to do says it sleeps, looks
 * once more, and sleeps on its futex word (a consumer first looks for a
 * while); the other side, after storing
 * its index, wakes it only if it said so (a sequentially consistent fence
 * on both sides: one of the two sees the other). No system call while the
 * ring is neither empty nor full. As in the shm-ring channel, a full
 * producer waits for half the ring, so that it refills in large copies.
 */
struct fring_side {
	alignas(64) _Atomic uint64_t index;
	_Atomic uint32_t wake;
	_Atomic uint32_t sleeping;
};

struct fring {
	struct fring_side producer; /* index: bytes written */
	struct fring_side consumer; /* index: bytes read */
	alignas(64) unsigned char data[FRING_CAPACITY];
};

static struct fring *fring_new(void)
{
	void *p = mmap(NULL, sizeof(struct fring), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bench_fail_errno("mmap of the futex ring");
	return p; /* zeroed: an empty ring */
}

static void fring_wake_if_sleeping(struct fring_side *other)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&other->sleeping, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&other->wake, 1, memory_order_relaxed);
		syscall(SYS_futex, &other->wake, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
}

static uint64_t fring_used(struct fring *r)
{
	return atomic_load_explicit(&r->producer.index, memory_order_acquire) -
	       atomic_load_explicit(&r->consumer.index, memory_order_acquire);
}

/* The consumer looks at the ring a while before it sleeps, as the shm-ring
 * channel's receiver does (impl/chan_shm_ring.c SPIN_LOOKS), so that the
 * two round trips compare like for like. */
static int fring_data_soon(struct fring *r)
{
	for (int look = 0; look < FRING_SPIN_LOOKS; look++) {
		if (fring_used(r) > 0)
			return 1;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	return 0;
}

/* Sleeps self until used() says ready: for the producer, room for `want`
 * bytes; for the consumer (want 0), something to read. */
static void fring_sleep(struct fring *r, struct fring_side *self, size_t want)
{
	const struct timespec slice = {0, FUTEX_SLICE_MS * 1000000L};

	if (want == 0 && fring_data_soon(r))
		return;
	for (;;) {
		uint32_t word = atomic_load_explicit(&self->wake, memory_order_relaxed);
		int ready;

#define FRING_READY() (want == 0 ? fring_used(r) > 0 \
				  : FRING_CAPACITY - fring_used(r) >= want)
		if (FRING_READY())
			return;
		atomic_store_explicit(&self->sleeping, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (!FRING_READY())
			syscall(SYS_futex, &self->wake, FUTEX_WAIT, word, &slice, NULL, 0);
		atomic_store_explicit(&self->sleeping, 0, memory_order_relaxed);
		ready = FRING_READY();
#undef FRING_READY
		if (ready)
			return;
		if (bench_child_gone())
			bench_fail("the child process ended while the ring waited");
	}
}

static void fring_put(struct fring *r, const uint8_t *src, size_t len)
{
	while (len > 0) {
		uint64_t tail = atomic_load_explicit(&r->producer.index, memory_order_relaxed);
		uint64_t head = atomic_load_explicit(&r->consumer.index, memory_order_acquire);
		size_t room = FRING_CAPACITY - (size_t)(tail - head);
		size_t k = len < room ? len : room;
		size_t at = (size_t)(tail & (FRING_CAPACITY - 1));
		size_t first = k < FRING_CAPACITY - at ? k : FRING_CAPACITY - at;

		if (k == 0) {
			fring_sleep(r, &r->producer,
				    len < FRING_CAPACITY / 2 ? len : FRING_CAPACITY / 2);
			continue;
		}
		memcpy(r->data + at, src, first);
		memcpy(r->data, src + first, k - first);
		atomic_store_explicit(&r->producer.index, tail + k, memory_order_release);
		fring_wake_if_sleeping(&r->consumer);
		src += k;
		len -= k;
	}
}

static size_t fring_get(struct fring *r, uint8_t *dst, size_t cap)
{
	for (;;) {
		uint64_t head = atomic_load_explicit(&r->consumer.index, memory_order_relaxed);
		uint64_t tail = atomic_load_explicit(&r->producer.index, memory_order_acquire);
		size_t have = (size_t)(tail - head);
		size_t k = cap < have ? cap : have;
		size_t at = (size_t)(head & (FRING_CAPACITY - 1));
		size_t first = k < FRING_CAPACITY - at ? k : FRING_CAPACITY - at;

		if (k == 0) {
			fring_sleep(r, &r->consumer, 0);
			continue;
		}
		memcpy(dst, r->data + at, first);
		memcpy(dst + first, r->data, k - first);
		atomic_store_explicit(&r->consumer.index, head + k, memory_order_release);
		fring_wake_if_sleeping(&r->producer);
		return k;
	}
}

/* ---- state --------------------------------------------------------------- */

struct raw_state {
	enum raw_kind kind;
	int two_way;
	size_t piece;       /* message mechanisms: the largest kernel message */
	/* made before fork; [0] parent to child, [1] child to parent */
	int pipe_fds[2][2];
	char fifo[2][PATH_MAX];
	int sock[2];        /* sockets: [0] the parent's, [1] the child's */
	int sysv_id;
	mqd_t mq[2];
	struct fring *ring[2];
	/* this side's, after keep_side */
	int out_fd, in_fd;
	long out_type, in_type;
	struct fring *out_ring, *in_ring;
	uint8_t *rbuf;
	size_t rcap;
	/* System V: the message's kernel messages, each type and text */
	uint8_t *wire, *wire_last_first;
	size_t stride;
	int no_wait;        /* the child is gone: queues are not waited on */
};

static struct raw_state *state_of(struct subject *s) { return s->state; }

static int is_stream(const struct raw_state *r)
{
	return r->kind == RAW_PIPE || r->kind == RAW_FIFO ||
	       r->kind == RAW_UNIX_STREAM || r->kind == RAW_TCP ||
	       r->kind == RAW_SHM_FUTEX;
}

/*
 * EINTR: a SIGCHLD (see bench_fork), maybe of a child that sent its last
 * bytes and ended: they may still be there to take. A descriptor says
 * end of file or EPIPE once they are taken, so it simply goes on; a queue
 * or a datagram socket says nothing, so once the child is gone it is
 * tried without waiting (r->no_wait), and would-block is the failure.
 */
static void interrupted(struct raw_state *r)
{
	if (bench_child_gone())
		r->no_wait = 1;
}

static void fail_if_no_wait(struct raw_state *r, const char *what)
{
	if (r->no_wait && (errno == EAGAIN || errno == ENOMSG || errno == ETIMEDOUT))
		bench_fail("%s: the child process ended", what);
}

/* ---- making, before fork ------------------------------------------------- */

static void make_pipes(struct raw_state *r)
{
	for (int w = 0; w < 1 + r->two_way; w++)
		if (pipe2(r->pipe_fds[w], O_CLOEXEC) != 0)
			bench_fail_errno("pipe2");
}

static void make_fifos(struct raw_state *r)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX - 16];

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof dir, "%s/ipc-XXXXXX", tmp) >= sizeof dir)
		bench_fail("TMPDIR is too long: %s", tmp);
	if (mkdtemp(dir) == NULL)
		bench_fail_errno("mkdtemp %s", dir);
	bench_cleanup_dir(dir);
	for (int w = 0; w < 1 + r->two_way; w++) {
		snprintf(r->fifo[w], sizeof r->fifo[w], "%s/%s", dir, w == 0 ? "out" : "back");
		if (mkfifo(r->fifo[w], 0600) != 0)
			bench_fail_errno("mkfifo %s", r->fifo[w]);
		bench_cleanup_path(r->fifo[w]);
	}
}

/* Room in SO_SNDBUF for a whole datagram, as the backend makes sure. */
static void fit_send_buffer(int fd)
{
	const int need = (int)(UNIX_MSG_DATAGRAM + UNIX_SNDBUF_SLACK);
	int size = 0;
	socklen_t len = sizeof size;

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) != 0)
		bench_fail_errno("getsockopt SO_SNDBUF");
	if (size < need && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &need, sizeof need) != 0)
		bench_fail_errno("setsockopt SO_SNDBUF");
}

static void make_socketpair(struct raw_state *r, int type)
{
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, r->sock) != 0)
		bench_fail_errno("socketpair");
	if (type != SOCK_STREAM) {
		fit_send_buffer(r->sock[0]);
		fit_send_buffer(r->sock[1]);
		r->piece = UNIX_MSG_DATAGRAM;
	}
}

static void set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		bench_fail_errno("setsockopt TCP_NODELAY");
}

/* A loopback connection: [0] the connecting socket, [1] the accepted one. */
static void make_tcp(struct raw_state *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		bench_fail_errno("socket");
	if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) != 0) {
		close(l);
		bench_fail_errno("a listening socket on 127.0.0.1");
	}
	r->sock[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->sock[0] < 0 || connect(r->sock[0], (struct sockaddr *)&a, sizeof a) != 0) {
		close(l);
		bench_fail_errno("connect to 127.0.0.1:%d", ntohs(a.sin_port));
	}
	r->sock[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	if (r->sock[1] < 0)
		bench_fail_errno("accept");
	set_nodelay(r->sock[0]);
	set_nodelay(r->sock[1]);
}

static long read_proc_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f == NULL)
		bench_fail_errno("open %s", path);
	if (fscanf(f, "%ld", &v) != 1 || v <= 0) {
		fclose(f);
		bench_fail("%s does not hold a positive number", path);
	}
	fclose(f);
	return v;
}

/* One queue, both ways by type: 1 out, 2 back. Kernel messages of msgmax,
 * what the sysv-msg backend sends per frame. */
static void make_sysv(struct raw_state *r)
{
	r->piece = (size_t)read_proc_long("/proc/sys/kernel/msgmax");
	r->sysv_id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (r->sysv_id < 0)
		bench_fail_errno("msgget");
	bench_cleanup_sysv_queue(r->sysv_id);
}

/* A queue per way, the system's default attributes (those the posix-mq
 * backend's pairs get), unlinked once both processes have it (keep_side). */
static void make_mqs(struct raw_state *r)
{
	struct mq_attr attr;

	for (int w = 0; w < 1 + r->two_way; w++) {
		char name[64];

		if (ipc_mq_fresh_name(name, sizeof name) != 0)
			bench_fail_errno("a queue name");
		r->mq[w] = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, NULL);
		if (r->mq[w] == (mqd_t)-1)
			bench_fail_errno("mq_open %s", name);
		bench_cleanup_mq(name);
	}
	if (mq_getattr(r->mq[0], &attr) != 0)
		bench_fail_errno("mq_getattr");
	r->piece = (size_t)attr.mq_msgsize;
}

/* ---- keeping a side, after fork ------------------------------------------ */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int open_fifo(const char *path, int access)
{
	for (;;) {
		int fd = open(path, access | O_CLOEXEC);

		if (fd >= 0)
			return fd;
		if (errno != EINTR)
			bench_fail_errno("open %s", path);
		if (bench_child_gone())
			bench_fail("open %s: the child process ended", path);
	}
}

/* Kernel messages laid out once, type and text each, so that a send copies
 * nothing: msgsnd wants them so. */
static void build_sysv_wire(struct subject *s, struct raw_state *r)
{
	size_t pieces = (s->size + r->piece - 1) / r->piece;

	r->stride = (sizeof(long) + r->piece + sizeof(long) - 1) / sizeof(long) * sizeof(long);
	r->wire = bench_alloc(pieces * r->stride);
	r->wire_last_first = bench_alloc(r->stride);
	for (size_t i = 0; i < pieces; i++) {
		size_t off = i * r->piece;
		size_t len = s->size - off < r->piece ? s->size - off : r->piece;
		uint8_t *m = r->wire + i * r->stride;

		memcpy(m, &r->out_type, sizeof(long));
		memcpy(m + sizeof(long), s->more + off, len);
		if (i == 0) {
			memcpy(r->wire_last_first, &r->out_type, sizeof(long));
			memcpy(r->wire_last_first + sizeof(long), s->last, len);
		}
	}
}

static void keep_pipes(struct raw_state *r, int parent)
{
	int in = parent ? 1 : 0; /* the way this side reads */

	r->out_fd = r->pipe_fds[!in][1];
	r->in_fd = r->pipe_fds[in][0];
	close_fd(&r->pipe_fds[!in][0]);
	close_fd(&r->pipe_fds[in][1]);
}

static void keep_fifos(struct raw_state *r, int parent)
{
	/* Both sides open in the same order (out, then back): the opens of
	 * a FIFO block until its other end is opened. */
	r->out_fd = r->in_fd = -1;
	if (parent) {
		r->out_fd = open_fifo(r->fifo[0], O_WRONLY);
		if (r->two_way)
			r->in_fd = open_fifo(r->fifo[1], O_RDONLY);
	} else {
		r->in_fd = open_fifo(r->fifo[0], O_RDONLY);
		if (r->two_way)
			r->out_fd = open_fifo(r->fifo[1], O_WRONLY);
	}
}

static void raw_keep_side(struct subject *s, enum side side)
{
	struct raw_state *r = state_of(s);
	int parent = side == PARENT_SIDE;

	r->out_fd = r->in_fd = -1;
	switch (r->kind) {
	case RAW_PIPE:
		keep_pipes(r, parent);
		break;
	case RAW_FIFO:
		keep_fifos(r, parent);
		break;
	case RAW_UNIX_STREAM:
	case RAW_UNIX_SEQPACKET:
	case RAW_UNIX_DGRAM:
	case RAW_TCP:
		r->out_fd = r->in_fd = r->sock[!parent];
		close_fd(&r->sock[parent]);
		break;
	case RAW_SYSV_MSG:
		r->out_type = parent ? 1 : 2;
		r->in_type = parent ? 2 : 1;
		build_sysv_wire(s, r);
		break;
	case RAW_POSIX_MQ:
		/* Both processes hold every queue now: the names can go. */
		if (parent)
			bench_cleanup_unlink_mqs();
		r->out_fd = r->mq[!parent];
		r->in_fd = r->mq[parent];
		break;
	case RAW_SHM_FUTEX:
		r->out_ring = r->ring[!parent];
		r->in_ring = r->ring[parent];
		break;
	}
	r->rcap = s->size > RAW_READ_CHUNK ? s->size : RAW_READ_CHUNK;
	if (r->piece > r->rcap)
		r->rcap = r->piece;
	r->rbuf = bench_alloc(sizeof(long) + r->rcap);
}

/* ---- moving bytes -------------------------------------------------------- */

static void put_bytes(struct raw_state *r, const uint8_t *p, size_t len)
{
	if (r->kind == RAW_SHM_FUTEX) {
		fring_put(r->out_ring, p, len);
		return;
	}
	while (len > 0) {
		ssize_t n = write(r->out_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			bench_fail_errno("write");
		p += n;
		len -= (size_t)n;
	}
}

static size_t get_bytes(struct raw_state *r, uint8_t *buf, size_t cap)
{
	if (r->kind == RAW_SHM_FUTEX)
		return fring_get(r->in_ring, buf, cap);
	for (;;) {
		ssize_t n = read(r->in_fd, buf, cap);

		if (n > 0)
			return (size_t)n;
		if (n == 0)
			bench_fail("read: end of file inside a round");
		if (errno != EINTR)
			bench_fail_errno("read");
	}
}

/* One kernel message of len bytes (piece i of the message). */
static const struct timespec long_ago = {0, 0};

static void put_piece(struct raw_state *r, const uint8_t *p, size_t len,
		      size_t i, int last)
{
	for (;;) {
		int rc;

		switch (r->kind) {
		case RAW_SYSV_MSG:
			rc = msgsnd(r->sysv_id,
				    i == 0 && last ? r->wire_last_first : r->wire + i * r->stride,
				    len, r->no_wait ? IPC_NOWAIT : 0);
			break;
		case RAW_POSIX_MQ:
			rc = r->no_wait ? mq_timedsend(r->out_fd, (const char *)p, len, 0, &long_ago)
					: mq_send(r->out_fd, (const char *)p, len, 0);
			break;
		default: {
			ssize_t n = send(r->out_fd, p, len, r->no_wait ? MSG_DONTWAIT : 0);

			if (n >= 0 && (size_t)n != len)
				bench_fail("send: %zd of %zu bytes", n, len);
			rc = n < 0 ? -1 : 0;
		}
		}
		if (rc == 0)
			return;
		fail_if_no_wait(r, "send");
		if (errno != EINTR)
			bench_fail_errno("sending a %zu-byte kernel message", len);
		interrupted(r);
	}
}

/* One kernel message into r->rbuf; its length. */
static size_t get_piece(struct raw_state *r)
{
	for (;;) {
		ssize_t n;

		switch (r->kind) {
		case RAW_SYSV_MSG:
			n = msgrcv(r->sysv_id, r->rbuf, r->piece, r->in_type,
				   r->no_wait ? IPC_NOWAIT : 0);
			break;
		case RAW_POSIX_MQ:
			n = r->no_wait ? mq_timedreceive(r->in_fd, (char *)r->rbuf, r->rcap,
							 NULL, &long_ago)
				       : mq_receive(r->in_fd, (char *)r->rbuf, r->rcap, NULL);
			break;
		default:
			n = recv(r->in_fd, r->rbuf, r->piece,
				 MSG_TRUNC | (r->no_wait ? MSG_DONTWAIT : 0));
			if (n == 0)
				bench_fail("recv: the peer closed inside a round");
		}
		if (n >= 0)
			return (size_t)n;
		fail_if_no_wait(r, "receive");
		if (errno != EINTR)
			bench_fail_errno("receiving a kernel message");
		interrupted(r);
	}
}

/* Where a kernel message's text starts in r->rbuf. */
static const uint8_t *piece_text(const struct raw_state *r)
{
	return r->kind == RAW_SYSV_MSG ? r->rbuf + sizeof(long) : r->rbuf;
}

static void raw_send(struct subject *s, int last)
{
	struct raw_state *r = state_of(s);
	const uint8_t *msg = last ? s->last : s->more;

	if (is_stream(r)) {
		put_bytes(r, msg, s->size);
		return;
	}
	for (size_t off = 0, i = 0; off < s->size; off += r->piece, i++) {
		size_t len = s->size - off < r->piece ? s->size - off : r->piece;

		put_piece(r, i == 0 ? msg : s->more + off, len, i, last);
	}
}

/* A message's kernel messages, each of the length it must have. */
static uint8_t recv_pieces(struct subject *s, struct raw_state *r)
{
	uint8_t mark = 0;

	for (size_t off = 0; off < s->size; off += r->piece) {
		size_t want = s->size - off < r->piece ? s->size - off : r->piece;
		size_t got = get_piece(r);

		if (got != want)
			bench_fail("a kernel message of %zu bytes, not %zu", got, want);
		if (off == 0)
			mark = piece_text(r)[0];
	}
	return mark;
}

static uint8_t raw_recv(struct subject *s)
{
	struct raw_state *r = state_of(s);
	size_t got = 0;

	if (!is_stream(r))
		return recv_pieces(s, r);
	while (got < s->size)
		got += get_bytes(r, r->rbuf + got, s->size - got);
	return r->rbuf[0];
}

/* Chunks, walked message by message; nothing may follow the last. */
static uint64_t stream_recv_round(struct subject *s, struct raw_state *r)
{
	uint64_t n = 0;
	size_t at = 0; /* bytes of the current message seen */
	uint8_t mark = 0;

	for (;;) {
		size_t got = get_bytes(r, r->rbuf, RAW_READ_CHUNK);

		for (size_t i = 0; i < got;) {
			size_t take = got - i < s->size - at ? got - i : s->size - at;

			if (at == 0)
				mark = r->rbuf[i];
			i += take;
			at += take;
			if (at < s->size)
				continue;
			n++;
			at = 0;
			if (mark == BENCH_LAST) {
				if (i != got)
					bench_fail("%zu bytes after the round's last message", got - i);
				return n;
			}
		}
	}
}

static uint64_t raw_recv_round(struct subject *s)
{
	struct raw_state *r = state_of(s);
	uint64_t n = 1;

	if (is_stream(r))
		return stream_recv_round(s, r);
	while (recv_pieces(s, r) != BENCH_LAST)
		n++;
	return n;
}

static void raw_close(struct subject *s)
{
	struct raw_state *r = state_of(s);

	if (r->kind == RAW_POSIX_MQ) {
		for (int w = 0; w < 1 + r->two_way; w++)
			mq_close(r->mq[w]);
	} else if (r->kind == RAW_SHM_FUTEX) {
		for (int w = 0; w < 1 + r->two_way; w++)
			munmap(r->ring[w], sizeof(struct fring));
	} else {
		if (r->in_fd != r->out_fd)
			close_fd(&r->in_fd);
		close_fd(&r->out_fd);
	}
	free(r->rbuf);
	free(r->wire);
	free(r->wire_last_first);
	free(r);
	s->state = NULL;
}

static const struct subject_ops raw_ops = {
	.keep_side = raw_keep_side,
	.send = raw_send,
	.recv = raw_recv,
	.recv_round = raw_recv_round,
	.close = raw_close,
};

int raw_open(struct subject *s, const char *name, int two_way)
{
	struct raw_state *r = NULL;
	size_t i;

	for (i = 0; i < NRAWS && strcmp(raws[i].name, name) != 0; i++)
		;
	if (i == NRAWS)
		return -1;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		bench_fail("out of memory");
	memset(r->pipe_fds, -1, sizeof r->pipe_fds);
	r->sock[0] = r->sock[1] = -1;
	r->sysv_id = -1;
	r->kind = raws[i].kind;
	r->two_way = two_way;
	s->ops = &raw_ops;
	s->state = r;
	switch (r->kind) {
	case RAW_PIPE:
		make_pipes(r);
		break;
	case RAW_FIFO:
		make_fifos(r);
		break;
	case RAW_UNIX_STREAM:
		make_socketpair(r, SOCK_STREAM);
		break;
	case RAW_UNIX_SEQPACKET:
		make_socketpair(r, SOCK_SEQPACKET);
		break;
	case RAW_UNIX_DGRAM:
		make_socketpair(r, SOCK_DGRAM);
		break;
	case RAW_TCP:
		make_tcp(r);
		break;
	case RAW_SYSV_MSG:
		make_sysv(r);
		break;
	case RAW_POSIX_MQ:
		make_mqs(r);
		break;
	case RAW_SHM_FUTEX:
		for (int w = 0; w < 1 + two_way; w++)
			r->ring[w] = fring_new();
		break;
	}
	return 0;
}
