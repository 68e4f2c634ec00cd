/*
 * The shared-memory channels against their own promises: the ring checks
 * what it is given and makes no system call while it is neither empty nor
 * full; shm-mpmc keeps every message whole and delivers it once, in each
 * sender's order, to many receivers at once, and its System V sets go
 * with the last end; shm-ring between unrelated processes, and a peer that
 * hands over a region it could still shrink is refused.
 */
#include "mech_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/fault.h"
#include "ipc/ring.h"
#include "ipc/sem.h"
#include "ipc/unix.h"

#define WAIT_MS 5000

/* A ring of capacity bytes in memory shared with children forked after. */
static struct ipc_ring *shared_ring(size_t capacity, void **mem, size_t *len)
{
	*len = ipc_ring_footprint(capacity);
	assert_true(*len > 0);
	*mem = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	assert_true(*mem != MAP_FAILED);
	assert_int_equal(ipc_ring_format(*mem, capacity), 0);
	return ipc_ring_attach(*mem, *len);
}

/* ---- the ring ------------------------------------------------------------ */

static void test_ring_checks_capacity_and_region(void **state)
{
	static const size_t bad[] = {0, 1, 4095, 3 * 4096, (size_t)IPC_RING_MAX * 2};
	size_t len;
	void *mem;
	struct ipc_ring *r;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		assert_int_equal(ipc_ring_footprint(bad[i]), 0);
		assert_int_equal(ipc_ring_format(&len, bad[i]), -1);
		assert_int_equal(errno, EINVAL);
	}
	r = shared_ring(4096, &mem, &len);
	assert_non_null(r);
	/* Shorter than the ring it holds, or not a ring: refused. */
	assert_null(ipc_ring_attach(mem, len - 1));
	assert_int_equal(errno, EINVAL);
	memset(mem, 0x5A, 8);
	assert_null(ipc_ring_attach(mem, len));
	munmap(mem, len);
}

/* Bytes keep their order across many wraps of a small ring, in pieces of
 * every size. */
static void test_ring_wraps_in_order(void **state)
{
	uint8_t out[700], in[700];
	uint64_t wrote = 0, read = 0;
	size_t len;
	void *mem;
	struct ipc_ring *r = shared_ring(4096, &mem, &len);

	(void)state;
	for (int round = 0; round < 2000; round++) {
		size_t n = 1 + (size_t)(round * 37) % sizeof out, k;

		for (size_t i = 0; i < n; i++)
			out[i] = mech_byte(7, (size_t)(wrote + i));
		k = ipc_ring_write(r, out, n);
		wrote += k;
		n = ipc_ring_read(r, in, 1 + (size_t)(round * 53) % sizeof in);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(in[i], mech_byte(7, (size_t)(read + i)));
		read += n;
		assert_true(ipc_ring_readable(r) == wrote - read);
		assert_true(ipc_ring_writable(r) == 4096 - (wrote - read));
	}
	assert_true(read > 10 * 4096);
	munmap(mem, len);
}

/* The promise of ring.h: while the ring is neither empty nor full, a write
 * and a read make no system call, and no side sleeps. */
static void test_ring_makes_no_call_while_neither_empty_nor_full(void **state)
{
	uint8_t buf[256] = {0};
	uint64_t calls;
	size_t len;
	void *mem;
	struct ipc_ring *r = shared_ring(1u << 16, &mem, &len);

	(void)state;
	ipc_fault_plan_clear();
	assert_int_equal(ipc_ring_write(r, buf, sizeof buf), sizeof buf);
	calls = ipc_fault_calls();
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(ipc_ring_write(r, buf, sizeof buf), sizeof buf);
		assert_int_equal(ipc_ring_read(r, buf, sizeof buf), sizeof buf);
	}
	assert_true(ipc_fault_calls() == calls);
	assert_true(ipc_ring_producer_sleeps(r) == 0);
	assert_true(ipc_ring_consumer_sleeps(r) == 0);
	munmap(mem, len);
}

static int wait_then_read(void *arg)
{
	struct ipc_ring *r = arg;
	uint8_t b = 0;

	if (ipc_ring_wait_readable(r, 10000) != 0)
		return 1;
	return ipc_ring_read(r, &b, 1) == 1 && b == 42 ? 0 : 2;
}

/* A consumer asleep on an empty ring wakes when a byte comes, not at the
 * end of its slice. */
static void test_ring_sleeper_wakes_on_write(void **state)
{
	uint8_t b = 42;
	size_t len;
	void *mem;
	struct ipc_ring *r = shared_ring(4096, &mem, &len);
	pid_t child;
	long long began;

	(void)state;
	child = mech_fork(wait_then_read, r, 20);
	while (ipc_ring_consumer_sleeps(r) == 0)
		mech_nap_ms(1);
	began = mech_now_ms();
	assert_int_equal(ipc_ring_write(r, &b, 1), 1);
	mech_reap(child, 20);
	assert_true(mech_now_ms() - began < 5000);
	munmap(mem, len);
}

/* ---- shm-mpmc: many senders, many receivers ------------------------------ */

#define SENDERS 3
#define RECEIVERS 2
#define PER_SENDER 300
#define MAX_BODY 3000

struct tally {
	int seen[SENDERS][PER_SENDER];
	int bad;
	char why[200];
};

struct mpmc_run {
	struct ipc_channel *tx, *rx;
	struct tally *t;
	int id;
};

struct body {
	uint32_t sender, seq;
};

static size_t body_length(int sender, int seq)
{
	return sizeof(struct body) + (size_t)(sender * 7919 + seq * 104729) % MAX_BODY;
}

static int send_all(void *arg)
{
	struct mpmc_run *run = arg;
	uint8_t buf[sizeof(struct body) + MAX_BODY];

	ipc_channel_close(run->rx);
	for (int seq = 0; seq < PER_SENDER; seq++) {
		struct body b = {(uint32_t)run->id, (uint32_t)seq};
		size_t len = body_length(run->id, seq);

		memcpy(buf, &b, sizeof b);
		mech_fill(buf + sizeof b, len - sizeof b, (uint64_t)run->id << 32 | (uint64_t)seq);
		if (ipc_send(run->tx, 1, buf, len, WAIT_MS) != IPC_OK)
			return 1;
	}
	ipc_channel_close(run->tx);
	return 0;
}

static void tally_bad(struct tally *t, const char *why, long a, long b)
{
	if (__atomic_fetch_add(&t->bad, 1, __ATOMIC_RELAXED) == 0)
		snprintf(t->why, sizeof t->why, "%s (%ld, %ld)", why, a, b);
}

/* Each receiver sees each sender's messages in order, whole. */
static int receive_all(void *arg)
{
	struct mpmc_run *run = arg;
	int last[SENDERS];
	struct ipc_msg m;
	enum ipc_status st;

	ipc_channel_close(run->tx);
	for (int i = 0; i < SENDERS; i++)
		last[i] = -1;
	while ((st = ipc_recv(run->rx, &m, WAIT_MS)) == IPC_OK) {
		struct body b;

		memcpy(&b, m.data, sizeof b);
		if (b.sender >= SENDERS || b.seq >= PER_SENDER) {
			tally_bad(run->t, "a message from no sender", b.sender, b.seq);
			continue;
		}
		if ((int)b.seq <= last[b.sender])
			tally_bad(run->t, "a sender's messages out of order", b.seq, last[b.sender]);
		last[b.sender] = (int)b.seq;
		if (m.length != body_length((int)b.sender, (int)b.seq) ||
		    mech_check(m.data + sizeof b, m.length - sizeof b,
			       (uint64_t)b.sender << 32 | b.seq) != m.length - sizeof b)
			tally_bad(run->t, "a torn message", b.sender, b.seq);
		__atomic_fetch_add(&run->t->seen[b.sender][b.seq], 1, __ATOMIC_RELAXED);
	}
	ipc_channel_close(run->rx);
	return st == IPC_PEER_CLOSED ? 0 : 3;
}

static void many_to_many(const char *backend)
{
	struct ipc_opts o = {.ring_size = 8192}; /* small: senders wait often */
	struct tally *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct ipc_channel *tx, *rx;
	pid_t kids[SENDERS + RECEIVERS];

	assert_true(t != MAP_FAILED);
	memset(t, 0, sizeof *t);
	assert_status(ipc_channel_pair(ipc_backend_find(backend), &o, &tx, &rx), IPC_OK);
	for (int i = 0; i < SENDERS + RECEIVERS; i++) {
		struct mpmc_run run = {tx, rx, t, i < SENDERS ? i : i - SENDERS};

		kids[i] = mech_fork(i < SENDERS ? send_all : receive_all, &run, 60);
	}
	ipc_channel_close(tx);
	ipc_channel_close(rx);
	for (int i = 0; i < SENDERS + RECEIVERS; i++)
		mech_reap(kids[i], 60);
	if (t->bad)
		fail_msg("%s: %d bad messages, first: %s", backend, t->bad, t->why);
	for (int s = 0; s < SENDERS; s++)
		for (int q = 0; q < PER_SENDER; q++)
			if (t->seen[s][q] != 1)
				fail_msg("%s: message %d of sender %d received %d times",
					 backend, q, s, t->seen[s][q]);
	munmap(t, sizeof *t);
}

static void test_mpmc_sysv_sem_delivers_each_message_once_in_order(void **state)
{
	(void)state;
	many_to_many("shm-mpmc-sysv-sem");
}

static void test_mpmc_posix_sem_delivers_each_message_once_in_order(void **state)
{
	(void)state;
	many_to_many("shm-mpmc-posix-sem");
}

/* The System V sets noted in the registry at dir: their ids into ids. */
static int noted_sets(const char *dir, int *ids, int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "sysv-sem@", 9) == 0 && n < max)
			ids[n++] = atoi(e->d_name + 9);
	closedir(d);
	return n;
}

static int set_exists(int id)
{
	struct semid_ds ds;
	union ipc_semun arg = {.buf = &ds};

	return semctl(id, 0, IPC_STAT, arg) == 0;
}

/* The locks' System V sets live as long as some end does, and go with the
 * last: the registry (pointed at a directory of this test's) names them. */
static void test_mpmc_sysv_sets_go_with_the_last_end(void **state)
{
	struct ipc_channel *tx, *rx;
	char dir[512];
	int ids[4];

	(void)state;
	snprintf(dir, sizeof dir, "%s/registry", mech_tmpdir());
	assert_int_equal(mkdir(dir, 0700), 0);
	setenv("IPCH_REGISTRY", dir, 1);
	assert_status(ipc_channel_pair(ipc_backend_find("shm-mpmc-sysv-sem"), NULL,
				       &tx, &rx), IPC_OK);
	assert_int_equal(noted_sets(dir, ids, 4), 2);
	mech_send_ok(tx, 3, 100, 3);
	ipc_channel_close(tx);
	assert_true(set_exists(ids[0]) && set_exists(ids[1]));
	mech_recv_expect(rx, 3, 100, 3);
	ipc_channel_close(rx);
	assert_false(set_exists(ids[0]) || set_exists(ids[1]));
	assert_int_equal(noted_sets(dir, ids, 4), 0);
	mech_registry_restore();
	assert_int_equal(rmdir(dir), 0);
}

/* ---- shm-ring between processes ------------------------------------------ */

static int echo_once(void *arg)
{
	struct ipc_channel *ch;
	struct ipc_msg m;
	int r = 0;

	if (ipc_connect(arg, NULL, &ch, WAIT_MS) != IPC_OK)
		return 1;
	if (ipc_recv(ch, &m, WAIT_MS) != IPC_OK ||
	    ipc_send(ch, m.type, m.data, m.length, WAIT_MS) != IPC_OK)
		r = 2;
	ipc_channel_close(ch);
	return r;
}

static void test_ring_address_carries_both_ways(void **state)
{
	char address[512];
	struct ipc_listener *l;
	struct ipc_channel *ch;
	pid_t child;

	(void)state;
	snprintf(address, sizeof address, "shm-ring:%s/ring", mech_tmpdir());
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	child = mech_fork(echo_once, address, 20);
	assert_status(ipc_accept(l, &ch, WAIT_MS), IPC_OK);
	mech_send_ok(ch, 9, 3u << 20, 9); /* 3 MiB through a 1 MiB ring */
	mech_recv_expect(ch, 9, 3u << 20, 9);
	mech_reap(child, 20);
	ipc_channel_close(ch);
	ipc_listener_close(l);
}

static int connect_and_report(void *arg)
{
	struct mech_report *rep = arg;
	char address[512];
	struct ipc_channel *ch = NULL;
	enum ipc_status st;

	snprintf(address, sizeof address, "shm-ring:%s/fake", mech_tmpdir());
	st = ipc_connect(address, NULL, &ch, WAIT_MS);
	rep->r[0] = st;
	rep->err[0] = errno;
	ipc_channel_close(ch);
	return 0;
}

/* A listener that is not ours hands over a region: unsealed (it could
 * shrink it under us), or claiming a ring larger than we map. */
static void refused_region(int sealed, size_t claimed, int want_errno)
{
	struct mech_report *rep = mech_report_map();
	char address[512], hello[64];
	struct ipc_listener *l;
	struct ipc_channel *ch;
	pid_t child;
	int fd, n;

	assert_non_null(rep);
	snprintf(address, sizeof address, "unix:%s/fake", mech_tmpdir());
	assert_status(ipc_listen(address, NULL, &l), IPC_OK);
	child = mech_fork(connect_and_report, rep, 20);
	assert_status(ipc_accept(l, &ch, WAIT_MS), IPC_OK);
	fd = memfd_create("fake", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	if (sealed)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
	n = snprintf(hello, sizeof hello, "ipch shm-ring 1 capacity %zu", claimed);
	assert_status(ipc_send_fds(ch, 1, hello, (size_t)n, &fd, 1, WAIT_MS), IPC_OK);
	mech_reap(child, 20);
	assert_int_equal(rep->r[0], IPC_REFUSED);
	assert_int_equal(rep->err[0], want_errno);
	close(fd);
	ipc_channel_close(ch);
	ipc_listener_close(l);
	mech_report_unmap(rep);
}

static void test_ring_peer_with_unsealed_region_is_refused(void **state)
{
	(void)state;
	refused_region(0, 4096, EPERM);
}

static void test_ring_peer_claiming_a_huge_ring_is_refused(void **state)
{
	(void)state;
	refused_region(1, (size_t)1 << 30, EPROTO);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, mech_setup, mech_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_ring_checks_capacity_and_region),
		TEST(test_ring_wraps_in_order),
		TEST(test_ring_makes_no_call_while_neither_empty_nor_full),
		TEST(test_ring_sleeper_wakes_on_write),
		TEST(test_mpmc_sysv_sem_delivers_each_message_once_in_order),
		TEST(test_mpmc_posix_sem_delivers_each_message_once_in_order),
		TEST(test_mpmc_sysv_sets_go_with_the_last_end),
		TEST(test_ring_address_carries_both_ways),
		TEST(test_ring_peer_with_unsealed_region_is_refused),
		TEST(test_ring_peer_claiming_a_huge_ring_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
