/* The single-producer single-consumer ring: see include/ipc/ring.h. */
#include "ipc/ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "sys.h"

#define RING_MAGIC 0x49524E47u /* "IRNG" */
#define RING_VERSION 1u
#define CACHE_LINE 64

/* One side's line: its index, its futex word, whether it sleeps. */
struct side {
	alignas(CACHE_LINE) _Atomic uint64_t index;
	_Atomic uint32_t wake;     /* futex word: bumped to wake this side */
	_Atomic uint32_t sleeping; /* this side is about to sleep, or sleeps */
	_Atomic uint64_t sleeps;
};

struct ipc_ring {
	uint32_t magic;
	uint32_t version;
	uint64_t capacity;
	struct side producer; /* index: the tail, bytes written */
	struct side consumer; /* index: the head, bytes read */
	alignas(CACHE_LINE) unsigned char data[];
};

static int capacity_allowed(size_t capacity)
{
	return capacity >= IPC_RING_MIN && capacity <= IPC_RING_MAX &&
	       (capacity & (capacity - 1)) == 0;
}

size_t ipc_ring_footprint(size_t capacity)
{
	if (!capacity_allowed(capacity))
		return 0;
	return sizeof(struct ipc_ring) + capacity;
}

int ipc_ring_format(void *mem, size_t capacity)
{
	struct ipc_ring *r = mem;

	if (!capacity_allowed(capacity) || ((uintptr_t)mem % CACHE_LINE) != 0) {
		errno = EINVAL;
		return -1;
	}
	memset(r, 0, sizeof *r);
	r->capacity = capacity;
	r->version = RING_VERSION;
	atomic_thread_fence(memory_order_release);
	r->magic = RING_MAGIC;
	return 0;
}

struct ipc_ring *ipc_ring_attach(void *mem, size_t len)
{
	struct ipc_ring *r = mem;

	if (mem == NULL || ((uintptr_t)mem % CACHE_LINE) != 0 ||
	    len < sizeof *r || r->magic != RING_MAGIC ||
	    r->version != RING_VERSION || !capacity_allowed(r->capacity) ||
	    len - sizeof *r < r->capacity) {
		errno = EINVAL;
		return NULL;
	}
	return r;
}

size_t ipc_ring_capacity(const struct ipc_ring *r) { return r->capacity; }

/* Each side reads the other's index with acquire: what was copied before
 * that index was published is visible. Its own index it reads relaxed. */
static uint64_t used(const struct ipc_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->producer.index, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&r->consumer.index, memory_order_acquire);

	return tail - head;
}

size_t ipc_ring_readable(const struct ipc_ring *r) { return used(r); }
size_t ipc_ring_writable(const struct ipc_ring *r) { return r->capacity - used(r); }

static void wake(struct side *s)
{
	atomic_fetch_add_explicit(&s->wake, 1, memory_order_relaxed);
	sys_futex((uint32_t *)&s->wake, FUTEX_WAKE, INT_MAX, NULL);
}

/* Wakes `s` if it said it sleeps. The fence orders the index store before
 * the look at `sleeping`; the sleeper orders its `sleeping` store before
 * its look at the index: one of the two sees the other. */
static void wake_if_sleeping(struct side *s)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&s->sleeping, memory_order_relaxed))
		wake(s);
}

/* Copies len bytes to or from the ring at position pos, in up to two
 * pieces where it wraps. */
static void copy_in(struct ipc_ring *r, uint64_t pos, const unsigned char *src,
		    size_t len)
{
	size_t at = (size_t)(pos & (r->capacity - 1));
	size_t first = len < r->capacity - at ? len : r->capacity - at;

	memcpy(r->data + at, src, first);
	memcpy(r->data, src + first, len - first);
}

static void copy_out(const struct ipc_ring *r, uint64_t pos, unsigned char *dst,
		     size_t len)
{
	size_t at = (size_t)(pos & (r->capacity - 1));
	size_t first = len < r->capacity - at ? len : r->capacity - at;

	memcpy(dst, r->data + at, first);
	memcpy(dst + first, r->data, len - first);
}

/*
 * Publishes what the producer copied. IPC_RING_BROKEN_ORDER exists for the
 * stress harness's proof of power only (it is never defined in the
 * library): it publishes the tail first and copies after, which is what
 * plain stores allow a compiler or a CPU to do, so the consumer may read
 * bytes not yet written.
 */
size_t ipc_ring_writev(struct ipc_ring *r, const struct iovec *iov, int n)
{
	uint64_t tail = atomic_load_explicit(&r->producer.index, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->consumer.index, memory_order_acquire);
	size_t room = r->capacity - (size_t)(tail - head), done = 0;

	for (int i = 0; i < n && done < room; i++) {
		size_t k = iov[i].iov_len < room - done ? iov[i].iov_len : room - done;
#ifdef IPC_RING_BROKEN_ORDER
		atomic_store_explicit(&r->producer.index, tail + done + k,
				      memory_order_relaxed);
#endif
		copy_in(r, tail + done, iov[i].iov_base, k);
		done += k;
	}
	if (done == 0)
		return 0;
	atomic_store_explicit(&r->producer.index, tail + done, memory_order_release);
	wake_if_sleeping(&r->consumer);
	return done;
}

size_t ipc_ring_write(struct ipc_ring *r, const void *data, size_t len)
{
	struct iovec iov = {(void *)data, len};

	return ipc_ring_writev(r, &iov, 1);
}

size_t ipc_ring_read(struct ipc_ring *r, void *out, size_t len)
{
	uint64_t head = atomic_load_explicit(&r->consumer.index, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->producer.index, memory_order_acquire);
	size_t have = (size_t)(tail - head);

	if (len > have)
		len = have;
	if (len == 0)
		return 0;
	copy_out(r, head, out, len);
	atomic_store_explicit(&r->consumer.index, head + len, memory_order_release);
	wake_if_sleeping(&r->producer);
	return len;
}

static struct timespec slice(int ms)
{
	return (struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L};
}

/* Sleeps `self` until ready(r, want) or a wake: says it sleeps, looks once
 * more (a store of the other side may have come just before), then sleeps
 * on the wake word as it was before the look. */
static int sleep_until(struct ipc_ring *r, struct side *self,
		       int (*ready)(const struct ipc_ring *r, size_t want),
		       size_t want, int slice_ms)
{
	uint32_t word = atomic_load_explicit(&self->wake, memory_order_relaxed);
	struct timespec ts = slice(slice_ms < 0 ? 0 : slice_ms);
	long rc;

	if (ready(r, want))
		return 0;
	atomic_store_explicit(&self->sleeping, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (ready(r, want)) {
		atomic_store_explicit(&self->sleeping, 0, memory_order_relaxed);
		return 0;
	}
	atomic_fetch_add_explicit(&self->sleeps, 1, memory_order_relaxed);
	rc = sys_futex((uint32_t *)&self->wake, FUTEX_WAIT, word,
		       slice_ms < 0 ? NULL : &ts);
	atomic_store_explicit(&self->sleeping, 0, memory_order_relaxed);
	if (ready(r, want))
		return 0;
	if (rc == 0 || errno == EAGAIN)
		errno = EINTR; /* woken, or the word moved: a kick */
	return -1;
}

static int has_data(const struct ipc_ring *r, size_t want)
{
	(void)want;
	return used(r) > 0;
}

static int has_room(const struct ipc_ring *r, size_t want)
{
	if (want > r->capacity)
		want = r->capacity;
	return r->capacity - used(r) >= (want > 0 ? want : 1);
}

int ipc_ring_wait_readable(struct ipc_ring *r, int slice_ms)
{
	return sleep_until(r, &r->consumer, has_data, 0, slice_ms);
}

int ipc_ring_wait_writable(struct ipc_ring *r, size_t want, int slice_ms)
{
	return sleep_until(r, &r->producer, has_room, want, slice_ms);
}

void ipc_ring_kick(struct ipc_ring *r)
{
	wake(&r->producer);
	wake(&r->consumer);
}

uint64_t ipc_ring_producer_sleeps(const struct ipc_ring *r)
{
	return atomic_load_explicit(&r->producer.sleeps, memory_order_relaxed);
}

uint64_t ipc_ring_consumer_sleeps(const struct ipc_ring *r)
{
	return atomic_load_explicit(&r->consumer.sleeps, memory_order_relaxed);
}
