/*
 * shm-ring: a channel over two single-producer single-consumer rings in one
 * shared region (include/ipc/ring.h), one per direction, with IPCF framing
 * streamed through them by the stream core (the ring is its byte mover: see
 * struct ipc_bytes_ops). A message larger than the ring streams through it.
 *
 * The region is a sealed memfd (include/ipc/shm.h): nothing on disk, nothing
 * to leak. A pair maps it twice in this process; fork() shares it. Between
 * unrelated processes, "shm-ring:PATH" (or "@NAME") is a Unix stream socket
 * whose listener makes a region for each connection and hands it over with
 * SCM_RIGHTS; the peer maps it only if it is sealed and of the size the
 * handshake says (bounded before anything is mapped), and SO_PEERCRED
 * admits only peers of our uid unless allow_any_uid.
 *
 * Who is alive: each end holds a link, one end of a stream socket pair (for
 * addresses, the connection itself). The kernel counts its copies across
 * fork() as it does a pipe's, so when every copy of one end is closed, or
 * its process killed, the other end's link hangs up. An end looks at its
 * link only when its ring is empty or full, never in between, and while it
 * sleeps it wakes every LINK_LOOK_MS to look again; a closing end kicks the
 * ring so that a sleeping peer looks at once.
 */
#include "channel_impl.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/lock.h"
#include "ipc/ring.h"
#include "ipc/sem.h"
#include "ipc/shm.h"
#include "ipc/unix.h"
#include "sys.h"

#define DEFAULT_RING (1u << 20)
/* A peer may not make us map more than this (per direction). */
#define LARGEST_RING (256u << 20)
#define LINK_LOOK_MS 50
/* Looks at the ring before a receive sleeps: a pause each, 2 to 5 us in all. */
#define SPIN_LOOKS 256
#define HANDSHAKE_TYPE 1
#define HANDSHAKE_FORMAT "ipch shm-ring 1 capacity %zu"

extern const struct ipc_backend ipc_backend_shm_ring;

struct ring_end {
	struct ipc_shm region;
	struct ipc_ring *out; /* the ring this end writes, or NULL */
	struct ipc_ring *in;  /* the ring this end reads, or NULL */
};

static struct ring_end *end_of(struct ipc_channel *ch) { return ch->extra; }

/* ---- the region ---------------------------------------------------------- */

static size_t ring_capacity(const struct ipc_opts *o)
{
	return o != NULL && o->ring_size != 0 ? o->ring_size : DEFAULT_RING;
}

/* Each ring starts on a page of its own. */
static size_t ring_span(size_t capacity)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (ipc_ring_footprint(capacity) + page - 1) / page * page;
}

static size_t region_size(size_t capacity) { return 2 * ring_span(capacity); }

static struct ipc_ring *ring_at(const struct ipc_shm *r, int which,
				size_t capacity)
{
	size_t span = ring_span(capacity);

	return ipc_ring_attach((char *)r->addr + (size_t)which * span, span);
}

static int format_region(const struct ipc_shm *r, size_t capacity)
{
	size_t span = ring_span(capacity);

	if (ipc_ring_format(r->addr, capacity) != 0 ||
	    ipc_ring_format((char *)r->addr + span, capacity) != 0)
		return -1;
	return 0;
}

/* ---- the byte mover ------------------------------------------------------ */

/* The end's link: its one descriptor, whichever way the end goes. */
static int link_of(const struct ipc_channel *ch)
{
	return ch->rfd >= 0 ? ch->rfd : ch->wfd;
}

/* The other side is gone: every copy of its link end is closed. A query,
 * through ppoll like the message core's, which the fault seam never fails. */
static int peer_gone(struct ipc_channel *ch)
{
	struct pollfd p = {.fd = link_of(ch), .events = POLLIN};
	const struct timespec zero = {0, 0};

	if (ch->link_gone)
		return 1;
	if (sys_ppoll(&p, 1, &zero, NULL) == 1 &&
	    (p.revents & (POLLIN | POLLHUP | POLLERR)))
		ch->link_gone = 1;
	return ch->link_gone;
}

static ssize_t ring_write_some(struct ipc_channel *ch, const struct iovec *iov,
			       int n)
{
	struct ring_end *e = end_of(ch);
	size_t done;

	/* Look at the link only when the ring is empty (the receiver took
	 * everything: it may have gone since) or full, never in between: a
	 * ring that drains shows its receiver at work. */
	if (ipc_ring_readable(e->out) == 0 && peer_gone(ch)) {
		errno = EPIPE;
		return -1;
	}
	done = ipc_ring_writev(e->out, iov, n);
	if (done > 0)
		return (ssize_t)done;
	errno = peer_gone(ch) ? EPIPE : EAGAIN;
	return -1;
}

static ssize_t ring_read_some(struct ipc_channel *ch, void *buf, size_t len)
{
	struct ring_end *e = end_of(ch);
	size_t got = ipc_ring_read(e->in, buf, len);

	if (got > 0)
		return (ssize_t)got;
	if (!peer_gone(ch)) {
		errno = EAGAIN;
		return -1;
	}
	/* What the sender wrote before it went is all there now. */
	return (ssize_t)ipc_ring_read(e->in, buf, len);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* An answer from a peer running on another CPU usually comes within a
 * microsecond or two, where a look at the link and a futex sleep and wake
 * cost several (tens in a virtual machine): a receiver looks at its ring
 * for about that long first, with no system call. A sender waiting for
 * half the ring to drain does not: that takes a while, and its sleep lets
 * the receiver drain in large copies. */
static int data_soon(struct ring_end *e)
{
	for (int look = 0; look < SPIN_LOOKS; look++) {
		if (ipc_ring_readable(e->in) > 0)
			return 1;
		cpu_relax();
	}
	return 0;
}

/* Sleeps in slices, looking at the link between them. A producer waits for
 * half the ring, so that it refills in large copies, not byte by byte. */
static enum ipc_status ring_wait(struct ipc_channel *ch, short events,
				 const struct ipc_deadline *d)
{
	struct ring_end *e = end_of(ch);

	if ((events & POLLIN) && ipc_deadline_ms(d) != 0 && data_soon(e))
		return IPC_OK;
	for (;;) {
		int ms = ipc_deadline_ms(d), rc;

		if (peer_gone(ch))
			return IPC_OK; /* the next transfer says so */
		if (ms == 0)
			return IPC_TIMEOUT;
		if (ms < 0 || ms > LINK_LOOK_MS)
			ms = LINK_LOOK_MS;
		if (events & POLLIN)
			rc = ipc_ring_wait_readable(e->in, ms);
		else
			rc = ipc_ring_wait_writable(e->out,
						    ipc_ring_capacity(e->out) / 2, ms);
		if (rc == 0)
			return IPC_OK;
		if (errno != ETIMEDOUT && errno != EINTR) {
			ch->err = errno;
			return IPC_SYSTEM;
		}
	}
}

static const struct ipc_bytes_ops ring_bytes = {
	.write_some = ring_write_some,
	.read_some = ring_read_some,
	.wait = ring_wait,
};

/* ---- ends ---------------------------------------------------------------- */

/* Closes the link, then kicks: a peer asleep on the ring looks again (if
 * other copies of this end live on, it finds the link up and sleeps on).
 * Then the region goes from this end. */
static void leave_ring(struct ipc_channel *ch)
{
	struct ring_end *e = end_of(ch);

	ipc_close_quietly(link_of(ch));
	ch->rfd = ch->wfd = -1;
	if (e->in != NULL)
		ipc_ring_kick(e->in);
	if (e->out != NULL)
		ipc_ring_kick(e->out);
	ipc_shm_unmap(&e->region);
}

static void ring_end_close(struct ipc_channel *ch)
{
	leave_ring(ch);
	free(ch->extra);
	ch->extra = NULL;
}

/* A channel end of backend b over region and a link (rfd or wfd, the other
 * -1), with e its extra if usable; else, or if the end cannot be made,
 * NULL, the region, the link and e released. */
static struct ipc_channel *end_over(const struct ipc_backend *b,
				    const struct ipc_opts *o,
				    struct ipc_shm *region, void *e, int usable,
				    int rfd, int wfd)
{
	struct ipc_channel *ch = NULL;

	if (e != NULL && usable)
		ch = ipc_stream_new(b, o, rfd, wfd, 1);
	else
		ipc_close_quietly(rfd >= 0 ? rfd : wfd);
	if (ch == NULL) {
		int err = errno;

		ipc_shm_unmap(region);
		free(e);
		errno = err;
		return NULL;
	}
	ch->extra = e;
	return ch;
}

/* An end over a mapped region and a link (both its own from here: on
 * failure they are released). which: the ring it writes. */
static struct ipc_channel *ring_end_new(const struct ipc_opts *o,
					struct ipc_shm *region, size_t capacity,
					int which, int link)
{
	struct ring_end *e = calloc(1, sizeof *e);
	struct ipc_channel *ch;

	if (e != NULL) {
		e->region = *region;
		e->out = ring_at(region, which, capacity);
		e->in = ring_at(region, !which, capacity);
	}
	ch = end_over(&ipc_backend_shm_ring, o, region, e,
		      e != NULL && e->out != NULL && e->in != NULL, link, link);
	if (ch == NULL)
		return NULL;
	ch->bytes = &ring_bytes;
	ch->on_close = ring_end_close;
	return ch;
}

/* The capacity asked for, or IPC_INVALID. */
static enum ipc_status checked_capacity(const struct ipc_opts *o, size_t *cap)
{
	*cap = ring_capacity(o);
	if (ipc_ring_footprint(*cap) == 0 || *cap > LARGEST_RING) {
		errno = EINVAL;
		return IPC_INVALID;
	}
	return IPC_OK;
}

/* A fresh sealed region with both rings laid out. */
static enum ipc_status new_region(size_t capacity, struct ipc_shm *out)
{
	if (ipc_memfd_create("ipch-shm-ring", region_size(capacity), out) != 0)
		return IPC_SYSTEM;
	if (format_region(out, capacity) != 0) {
		int err = errno;

		ipc_shm_unmap(out);
		errno = err;
		return IPC_SYSTEM;
	}
	return IPC_OK;
}

/* ---- pairs --------------------------------------------------------------- */

static enum ipc_status ring_pair(const struct ipc_opts *o,
				 struct ipc_channel **a, struct ipc_channel **b)
{
	struct ipc_shm ra, rb;
	size_t capacity;
	int link[2], copy;

	*a = *b = NULL;
	if (checked_capacity(o, &capacity) != IPC_OK)
		return IPC_INVALID;
	if (new_region(capacity, &ra) != IPC_OK)
		return IPC_SYSTEM;
	/* b maps the same region through a descriptor of its own. */
	copy = sys_fcntl(ra.fd, F_DUPFD_CLOEXEC, 0);
	if (copy < 0 || ipc_memfd_map(copy, region_size(capacity), &rb) != 0) {
		int err = errno;

		ipc_close_quietly(copy);
		ipc_shm_unmap(&ra);
		errno = err;
		return IPC_SYSTEM;
	}
	if (sys_socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) != 0) {
		int err = errno;

		ipc_shm_unmap(&ra);
		ipc_shm_unmap(&rb);
		errno = err;
		return IPC_SYSTEM;
	}
	*b = ring_end_new(o, &rb, capacity, 1, link[1]);
	if (*b == NULL) {
		int err = errno;

		ipc_close_quietly(link[0]);
		ipc_shm_unmap(&ra);
		errno = err;
		return IPC_SYSTEM;
	}
	*a = ring_end_new(o, &ra, capacity, 0, link[0]);
	if (*a == NULL) {
		int err = errno;

		ipc_channel_close(*b);
		*b = NULL;
		errno = err;
		return IPC_SYSTEM;
	}
	return IPC_OK;
}

/* ---- addresses ----------------------------------------------------------- */

/* A ring listener is a unix-stream listener at the same place. */
struct ring_listener {
	struct ipc_listener base; /* first: ipc_listener_free frees this */
	struct ipc_listener *control;
};

/* The connection becomes the link: its descriptor is taken over. */
static int take_link(struct ipc_channel *control)
{
	int fd = sys_fcntl(ipc_channel_recv_fd(control), F_DUPFD_CLOEXEC, 0);

	ipc_channel_close(control);
	return fd;
}

static enum ipc_status send_region(struct ipc_channel *control,
				   const struct ipc_shm *r, size_t capacity,
				   int timeout_ms)
{
	char hello[64];
	int n = snprintf(hello, sizeof hello, HANDSHAKE_FORMAT, capacity);

	return ipc_send_fds(control, HANDSHAKE_TYPE, hello, (size_t)n, &r->fd, 1,
			    timeout_ms);
}

static enum ipc_status ring_accept(struct ipc_listener *l,
				   struct ipc_channel **out, int timeout_ms)
{
	struct ring_listener *rl = (struct ring_listener *)l;
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct ipc_channel *control;
	struct ipc_shm r;
	enum ipc_status st;
	size_t capacity;
	int link;

	st = ipc_accept(rl->control, &control, timeout_ms);
	if (st != IPC_OK) {
		l->err = ipc_listener_errno(rl->control);
		return st;
	}
	if (checked_capacity(&l->opts, &capacity) != IPC_OK ||
	    (st = new_region(capacity, &r)) != IPC_OK) {
		l->err = errno;
		ipc_channel_close(control);
		return st == IPC_OK ? IPC_INVALID : st;
	}
	st = send_region(control, &r, capacity, ipc_deadline_ms(&d));
	if (st != IPC_OK) {
		l->err = st == IPC_SYSTEM ? ipc_channel_errno(control) : EPROTO;
		ipc_channel_close(control);
		ipc_shm_unmap(&r);
		return st;
	}
	link = take_link(control);
	if (link < 0) {
		l->err = errno;
		ipc_shm_unmap(&r);
		return IPC_SYSTEM;
	}
	*out = ring_end_new(&l->opts, &r, capacity, 0, link);
	if (*out == NULL) {
		l->err = errno;
		return IPC_SYSTEM;
	}
	return IPC_OK;
}

/* The handshake says the capacity; a bad one is the peer's fault (EPROTO)
 * and nothing is mapped. */
static enum ipc_status parse_handshake(const struct ipc_msg *m, size_t *cap)
{
	char text[64], tail;

	if (m->type != HANDSHAKE_TYPE || m->length >= sizeof text)
		goto bad;
	memcpy(text, m->data, m->length);
	text[m->length] = '\0';
	if (sscanf(text, HANDSHAKE_FORMAT "%c", cap, &tail) != 1 ||
	    ipc_ring_footprint(*cap) == 0 || *cap > LARGEST_RING)
		goto bad;
	return IPC_OK;
bad:
	errno = EPROTO;
	return IPC_REFUSED;
}

static enum ipc_status receive_region(struct ipc_channel *control,
				      const struct ipc_deadline *d,
				      struct ipc_shm *r, size_t *capacity)
{
	struct ipc_msg m;
	size_t nfds = 0;
	enum ipc_status st;
	int fd = -1;

	st = ipc_recv_fds(control, &m, &fd, 1, &nfds, ipc_deadline_ms(d));
	if (st == IPC_SYSTEM)
		errno = ipc_channel_errno(control);
	if (st != IPC_OK)
		return st;
	if (nfds != 1) {
		errno = EPROTO;
		return IPC_REFUSED;
	}
	st = parse_handshake(&m, capacity);
	if (st == IPC_OK && ipc_memfd_map(fd, region_size(*capacity), r) != 0)
		st = errno == EPERM || errno == EINVAL ? IPC_REFUSED : IPC_SYSTEM;
	if (st != IPC_OK) {
		int err = errno;

		ipc_close_quietly(fd);
		errno = err;
		return st;
	}
	/* A region that is not two rings is as bad as a short one. */
	if (ring_at(r, 0, *capacity) == NULL || ring_at(r, 1, *capacity) == NULL) {
		ipc_shm_unmap(r);
		errno = EPROTO;
		return IPC_REFUSED;
	}
	return IPC_OK;
}

static enum ipc_status ring_connect(const char *where, const struct ipc_opts *o,
				    int timeout_ms, struct ipc_channel **out)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	struct ipc_channel *control;
	char address[PATH_MAX + 16];
	struct ipc_shm r;
	enum ipc_status st;
	size_t capacity;
	int link;

	if ((size_t)snprintf(address, sizeof address, "unix:%s", where) >= sizeof address) {
		errno = ENAMETOOLONG;
		return IPC_INVALID;
	}
	st = ipc_connect(address, o, &control, timeout_ms);
	if (st != IPC_OK)
		return st;
	st = receive_region(control, &d, &r, &capacity);
	if (st != IPC_OK) {
		int err = errno;

		ipc_channel_close(control);
		errno = err;
		return st;
	}
	link = take_link(control);
	if (link < 0) {
		ipc_shm_unmap(&r);
		return IPC_SYSTEM;
	}
	*out = ring_end_new(o, &r, capacity, 1, link);
	return *out != NULL ? IPC_OK : IPC_SYSTEM;
}

static void ring_listener_close(struct ipc_listener *l)
{
	ipc_listener_close(((struct ring_listener *)l)->control);
}

static enum ipc_status ring_listen(const char *where, const struct ipc_opts *o,
				   struct ipc_listener **out)
{
	struct ring_listener *rl;
	char address[PATH_MAX + 16];
	enum ipc_status st;
	size_t capacity;

	*out = NULL;
	if (checked_capacity(o, &capacity) != IPC_OK)
		return IPC_INVALID;
	if ((size_t)snprintf(address, sizeof address, "unix:%s", where) >= sizeof address) {
		errno = ENAMETOOLONG;
		return IPC_INVALID;
	}
	rl = calloc(1, sizeof *rl);
	if (rl == NULL)
		return IPC_SYSTEM;
	st = ipc_listen(address, o, &rl->control);
	if (st != IPC_OK) {
		free(rl);
		return st;
	}
	rl->base.backend = &ipc_backend_shm_ring;
	rl->base.opts = o != NULL ? *o : (struct ipc_opts){0};
	rl->base.fd = -1;
	rl->base.accept = ring_accept;
	rl->base.on_close = ring_listener_close;
	snprintf(rl->base.address, sizeof rl->base.address, "shm-ring:%s",
		 ipc_listener_address(rl->control) + strlen("unix:"));
	*out = &rl->base;
	return IPC_OK;
}

const struct ipc_backend ipc_backend_shm_ring = {
	.name = "shm-ring",
	.address_scheme = "shm-ring",
	.duplex = 1,
	.shared_memory = 1,
	.pair = ring_pair,
	.listen = ring_listen,
	.connect = ring_connect,
};

/* ---- shm-mpmc: many senders and receivers on one ring -------------------- */

/*
 * shm-mpmc-sysv-sem and shm-mpmc-posix-sem: one ring that every copy of the
 * sending end (across fork) sends into and every copy of the receiving end
 * receives from. Two locks in the region, of the kind the name says, make
 * each message one sender's and one receiver's alone: a sender holds the
 * send lock from the first byte of a message to its last, a receiver the
 * receive lock the same way, and between them the ring is single-producer
 * single-consumer as above. The senders share one IPCF seq counter in the
 * region, so the ring is one valid IPCF stream; a receiver checks seqs
 * within each message it takes (the messages between were others').
 *
 * The region is of the lock's family: a System V segment (private, removed
 * at once) for System V semaphores, a POSIX object (unlinked at once) for
 * POSIX semaphores (or a memfd where no POSIX object can be made). The
 * System V sets of the locks are removed by the last end to detach
 * anywhere: it finds the segment gone after its own detach.
 *
 * A participant killed inside a message leaves it cut: the next one to take
 * that lock learns of it (include/ipc/lock.h: a System V holder's record;
 * POSIX semaphores cannot tell, and stay taken) and the channel is broken
 * for every end (IPC_BROKEN), as a stream cut mid-message is.
 */
extern const struct ipc_backend ipc_backend_shm_mpmc_sysv_sem;
extern const struct ipc_backend ipc_backend_shm_mpmc_posix_sem;

struct mpmc_shared {
	struct ipc_lock send_lock;
	struct ipc_lock recv_lock;
	uint32_t next_seq;   /* the seq the next message starts at */
	_Atomic int broken;  /* a message was cut: no more sends */
};

/* Where the receiver stands in the frames it reads, so that it never reads
 * a byte past the end of its message. */
struct frame_walk {
	uint8_t hdr[IPCF_HEADER_SIZE];
	uint32_t hdr_have;
	uint64_t payload_left;
	int last;            /* the frame being read ends its message */
};

struct mpmc_end {
	struct ring_end ring;          /* first: end_of() gives it */
	struct mpmc_shared *shared;
	int sem_ids[2];                /* System V: the locks' sets, or -1 */
	int holds_send, holds_recv;
	struct frame_walk walk;
};

static struct mpmc_end *mpmc_of(struct ipc_channel *ch) { return ch->extra; }

static size_t mpmc_header_span(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct mpmc_shared) + page - 1) / page * page;
}

static size_t mpmc_region_size(size_t capacity)
{
	return mpmc_header_span() + ring_span(capacity);
}

static enum ipc_lock_kind lock_kind_of(const struct ipc_backend *b)
{
	return b == &ipc_backend_shm_mpmc_sysv_sem ? IPC_LOCK_SYSV_SEM
						   : IPC_LOCK_POSIX_SEM;
}

/* A lock taken, or why not as a status (EINTR is waited through). */
static enum ipc_status take(struct ipc_channel *ch, struct ipc_lock *l,
			    const struct ipc_deadline *d)
{
	for (;;) {
		switch (ipc_lock_acquire(l, ipc_deadline_ms(d))) {
		case IPC_LOCK_TAKEN:
			return IPC_OK;
		case IPC_LOCK_OWNER_DIED:
			/* Its holder died inside a message: the stream is cut. */
			atomic_store(&mpmc_of(ch)->shared->broken, 1);
			ipc_lock_consistent(l);
			ipc_lock_release(l);
			return IPC_BROKEN;
		case IPC_LOCK_TIMED_OUT:
			return IPC_TIMEOUT;
		case IPC_LOCK_INTERRUPTED:
			continue;
		case IPC_LOCK_REMOVED:
			return peer_gone(ch) ? IPC_PEER_CLOSED : IPC_REMOVED;
		case IPC_LOCK_FAILED:
			break;
		}
		ch->err = errno;
		return IPC_SYSTEM;
	}
}

static enum ipc_status mpmc_begin_send(struct ipc_channel *ch,
				       const struct ipc_deadline *d)
{
	struct mpmc_end *e = mpmc_of(ch);
	enum ipc_status st;

	if (atomic_load(&e->shared->broken))
		return IPC_BROKEN;
	if ((st = take(ch, &e->shared->send_lock, d)) != IPC_OK)
		return st;
	e->holds_send = 1;
	ch->enc.seq = e->shared->next_seq;
	return IPC_OK;
}

/* A lock that cannot be given back is taken for good: the channel is
 * broken for everyone, and this call says why. */
static enum ipc_status give_back(struct ipc_channel *ch, struct ipc_lock *l,
				 enum ipc_status st)
{
	if (ipc_lock_release(l) == 0)
		return st;
	ch->err = errno;
	atomic_store(&mpmc_of(ch)->shared->broken, 1);
	return IPC_SYSTEM;
}

static enum ipc_status mpmc_end_send(struct ipc_channel *ch,
				     enum ipc_status st, size_t written)
{
	struct mpmc_end *e = mpmc_of(ch);

	if (!e->holds_send)
		return st;
	if (st == IPC_OK)
		e->shared->next_seq = ch->enc.seq;
	else if (written > 0)
		atomic_store(&e->shared->broken, 1);
	e->holds_send = 0;
	return give_back(ch, &e->shared->send_lock, st);
}

static enum ipc_status mpmc_begin_recv(struct ipc_channel *ch,
				       const struct ipc_deadline *d)
{
	struct mpmc_end *e = mpmc_of(ch);
	enum ipc_status st;

	if (e->holds_recv)
		return IPC_OK;
	if ((st = take(ch, &e->shared->recv_lock, d)) != IPC_OK)
		return st;
	e->holds_recv = 1;
	e->walk = (struct frame_walk){0};
	/* The last message this end read may be far behind: the seqs of the
	 * messages between were other receivers'. */
	ch->dec.have_seq = 0;
	return IPC_OK;
}

/* Nothing of a message read: the receiving side is free for others. */
static int between_messages(const struct frame_walk *w)
{
	return w->hdr_have == 0 && w->payload_left == 0;
}

static enum ipc_status mpmc_end_recv(struct ipc_channel *ch,
				     enum ipc_status st)
{
	struct mpmc_end *e = mpmc_of(ch);

	if (!e->holds_recv || !between_messages(&e->walk) || ch->rpos != ch->rlen)
		return st;
	e->holds_recv = 0;
	return give_back(ch, &e->shared->recv_lock, st);
}

/* At most the bytes left of the current header or payload. */
static size_t walk_limit(const struct frame_walk *w, size_t len)
{
	size_t left = w->hdr_have < IPCF_HEADER_SIZE && w->payload_left == 0
			      ? IPCF_HEADER_SIZE - w->hdr_have
			      : (size_t)w->payload_left;

	return len < left ? len : left;
}

/* Follows the bytes read: a whole header says how long its payload is and
 * whether the message goes on. A header the decoder will refuse may say
 * anything; the decoder stops the stream before more is read. */
static void walk_over(struct frame_walk *w, const uint8_t *p, size_t n)
{
	if (w->payload_left > 0) {
		w->payload_left -= n;
		if (w->payload_left == 0)
			w->hdr_have = 0;
		return;
	}
	memcpy(w->hdr + w->hdr_have, p, n);
	w->hdr_have += (uint32_t)n;
	if (w->hdr_have == IPCF_HEADER_SIZE) {
		struct ipcf_header h;

		w->payload_left = ipcf_header_unpack(w->hdr, &h) == 0 ? h.length : 0;
		w->last = !(h.flags & IPCF_FLAG_MORE);
		if (w->payload_left == 0)
			w->hdr_have = 0;
	}
}

static ssize_t mpmc_read_some(struct ipc_channel *ch, void *buf, size_t len)
{
	struct mpmc_end *e = mpmc_of(ch);
	ssize_t r = ring_read_some(ch, buf, walk_limit(&e->walk, len));

	if (r > 0)
		walk_over(&e->walk, buf, (size_t)r);
	return r;
}

static const struct ipc_bytes_ops mpmc_bytes = {
	.write_some = ring_write_some,
	.read_some = mpmc_read_some,
	.wait = ring_wait,
	.begin_send = mpmc_begin_send,
	.end_send = mpmc_end_send,
	.begin_recv = mpmc_begin_recv,
	.end_recv = mpmc_end_recv,
};

/* ---- shm-mpmc ends ------------------------------------------------------- */

/* The last end to detach anywhere finds the segment gone (it was removed
 * at creation and lives only while attached) and removes the locks' sets. */
static void remove_sets_if_last(int segment, const int sem_ids[2])
{
	struct ipc_sysv_shm_stat st;

	if (segment < 0 || (ipc_sysv_shm_stat(segment, &st) == 0 && st.nattch > 0))
		return;
	for (int i = 0; i < 2; i++)
		if (sem_ids[i] >= 0)
			ipc_sysv_sem_remove(sem_ids[i]);
}

static void mpmc_end_close(struct ipc_channel *ch)
{
	struct mpmc_end *e = mpmc_of(ch);
	int segment = e->ring.region.kind == IPC_SHM_SYSV ? e->ring.region.id : -1;

	/* Closing inside a message cuts it for everyone. */
	if (e->holds_send) {
		atomic_store(&e->shared->broken, 1);
		ipc_lock_release(&e->shared->send_lock);
	}
	if (e->holds_recv) {
		if (!between_messages(&e->walk))
			atomic_store(&e->shared->broken, 1);
		ipc_lock_release(&e->shared->recv_lock);
	}
	leave_ring(ch);
	remove_sets_if_last(segment, e->sem_ids);
	free(e);
	ch->extra = NULL;
}

/* An end over its own mapping of the region and its link (released on
 * failure). sends: the sending end, else the receiving one. */
static struct ipc_channel *mpmc_end_new(const struct ipc_backend *b,
					const struct ipc_opts *o,
					struct ipc_shm *region, size_t capacity,
					int sends, int link)
{
	struct mpmc_end *e = calloc(1, sizeof *e);
	struct ipc_ring *ring = NULL;
	struct ipc_channel *ch;

	if (e != NULL) {
		e->ring.region = *region;
		e->shared = region->addr;
		e->sem_ids[0] = e->shared->send_lock.semid;
		e->sem_ids[1] = e->shared->recv_lock.semid;
		ring = ipc_ring_attach((char *)region->addr + mpmc_header_span(),
				       ring_span(capacity));
		if (sends)
			e->ring.out = ring;
		else
			e->ring.in = ring;
	}
	ch = end_over(b, o, region, e, ring != NULL, sends ? -1 : link,
		      sends ? link : -1);
	if (ch == NULL)
		return NULL;
	ch->bytes = &mpmc_bytes;
	ch->on_close = mpmc_end_close;
	return ch;
}

/* No POSIX object can be made here: no /dev/shm (ENOENT; ENOSYS from an
 * older C library), or one read-only (EROFS) or not ours (EACCES), as in
 * some containers and sandboxes. */
static int posix_shm_unusable(int err)
{
	return err == ENOENT || err == ENOSYS || err == EROFS || err == EACCES;
}

/* The region in a sealed memfd, mapped twice (b through a descriptor of its
 * own): a pair's ends are made by one process and shared by fork, so the
 * region needs no name, and the POSIX semaphores in it none either. */
static int memfd_map_twice(size_t size, struct ipc_shm *a, struct ipc_shm *b)
{
	int copy, err;

	if (ipc_memfd_create("ipch-shm-mpmc", size, a) != 0)
		return -1;
	copy = sys_fcntl(a->fd, F_DUPFD_CLOEXEC, 0);
	if (copy >= 0 && ipc_memfd_map(copy, size, b) == 0)
		return 0;
	err = errno;
	ipc_close_quietly(copy);
	ipc_shm_unmap(a);
	errno = err;
	return -1;
}

/* The region, twice: one mapping for each end. */
static int mpmc_map_twice(enum ipc_lock_kind kind, size_t size,
			  struct ipc_shm *a, struct ipc_shm *b)
{
	int err;

	if (kind == IPC_LOCK_SYSV_SEM) {
		/* Linux lets a segment marked removed be attached while it
		 * is attached somewhere. */
		if (ipc_sysv_shm_private(size, a) != 0)
			return -1;
		if (ipc_sysv_shm_attach(a->id, b) == 0)
			return 0;
	} else {
		if (ipc_posix_shm_create(size, a) != 0)
			return posix_shm_unusable(errno)
				       ? memfd_map_twice(size, a, b)
				       : -1;
		if (ipc_posix_shm_open(a->name, b) == 0) {
			ipc_posix_shm_unlink(a->name);
			return 0;
		}
		err = errno;
		ipc_posix_shm_unlink(a->name);
		errno = err;
	}
	err = errno;
	ipc_shm_unmap(a);
	errno = err;
	return -1;
}

/* The locks and the ring, laid out before anyone else sees them. */
static int mpmc_format(struct ipc_shm *r, enum ipc_lock_kind kind,
		       size_t capacity)
{
	struct mpmc_shared *sh = r->addr;
	int err;

	if (ipc_lock_init(&sh->send_lock, kind) != 0)
		return -1;
	if (ipc_lock_init(&sh->recv_lock, kind) != 0) {
		err = errno;
		ipc_lock_destroy(&sh->send_lock);
		errno = err;
		return -1;
	}
	if (ipc_ring_format((char *)r->addr + mpmc_header_span(), capacity) != 0) {
		err = errno;
		ipc_lock_destroy(&sh->send_lock);
		ipc_lock_destroy(&sh->recv_lock);
		errno = err;
		return -1;
	}
	return 0;
}

static enum ipc_status mpmc_pair_of(const struct ipc_backend *be,
				    const struct ipc_opts *o,
				    struct ipc_channel **a, struct ipc_channel **b)
{
	enum ipc_lock_kind kind = lock_kind_of(be);
	struct ipc_shm ra, rb;
	size_t capacity;
	int link[2], err;

	*a = *b = NULL;
	if (checked_capacity(o, &capacity) != IPC_OK)
		return IPC_INVALID;
	if (mpmc_map_twice(kind, mpmc_region_size(capacity), &ra, &rb) != 0)
		return IPC_SYSTEM;
	if (mpmc_format(&ra, kind, capacity) != 0)
		goto unmap;
	if (sys_socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) != 0) {
		struct mpmc_shared *sh = ra.addr;

		err = errno;
		ipc_lock_destroy(&sh->send_lock);
		ipc_lock_destroy(&sh->recv_lock);
		errno = err;
		goto unmap;
	}
	*b = mpmc_end_new(be, o, &rb, capacity, 0, link[1]);
	if (*b == NULL) {
		struct mpmc_shared *sh = ra.addr;

		err = errno;
		ipc_close_quietly(link[0]);
		ipc_lock_destroy(&sh->send_lock);
		ipc_lock_destroy(&sh->recv_lock);
		ipc_shm_unmap(&ra);
		errno = err;
		return IPC_SYSTEM;
	}
	*a = mpmc_end_new(be, o, &ra, capacity, 1, link[0]);
	if (*a == NULL) {
		err = errno;
		ipc_channel_close(*b); /* the last to detach: removes the sets */
		*b = NULL;
		errno = err;
		return IPC_SYSTEM;
	}
	return IPC_OK;
unmap:
	err = errno;
	ipc_shm_unmap(&ra);
	ipc_shm_unmap(&rb);
	errno = err;
	return IPC_SYSTEM;
}

static enum ipc_status mpmc_sysv_pair(const struct ipc_opts *o,
				      struct ipc_channel **a,
				      struct ipc_channel **b)
{
	return mpmc_pair_of(&ipc_backend_shm_mpmc_sysv_sem, o, a, b);
}

static enum ipc_status mpmc_posix_pair(const struct ipc_opts *o,
				       struct ipc_channel **a,
				       struct ipc_channel **b)
{
	return mpmc_pair_of(&ipc_backend_shm_mpmc_posix_sem, o, a, b);
}

const struct ipc_backend ipc_backend_shm_mpmc_sysv_sem = {
	.name = "shm-mpmc-sysv-sem",
	.shared_memory = 1,
	.shared_ends = 1,
	.pair = mpmc_sysv_pair,
};

const struct ipc_backend ipc_backend_shm_mpmc_posix_sem = {
	.name = "shm-mpmc-posix-sem",
	.shared_memory = 1,
	.shared_ends = 1,
	.pair = mpmc_posix_pair,
};
