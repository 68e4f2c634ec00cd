/*
 * System V message queues against the kernel's rules: msgrcv's three
 * selector rules and MSG_EXCEPT, E2BIG against MSG_NOERROR, IPC_NOWAIT's
 * ENOMSG and EAGAIN at both limits of a queue (bytes and count), a blocked
 * receiver woken by removal (EIDRM) or by a signal (EINTR, with SA_RESTART
 * too), IPC_STAT's counts, keys and their checks, 0600 against another
 * user, the limits from /proc, and sizes bounded before memory is reserved.
 *
 * Every queue a test makes is removed by the teardown, also when the test
 * fails half-way; every child has an alarm and is reaped with a deadline.
 */
#include "mech_support.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/fault.h"
#include "ipc/sysv_msg.h"

#define MAX_QUEUES 16

struct fixture {
	int q;                      /* a private queue made by setup */
	struct mech_report *report; /* shared with the test's children */
};

static struct fixture fixture;
static int queues[MAX_QUEUES]; /* every queue of the test, -1 for none */

/* ---- fixture ------------------------------------------------------------- */

/* id, remembered so that the teardown removes it whatever happens. */
static int track(int id)
{
	if (id < 0)
		fail_msg("cannot make a queue: %s", strerror(errno));
	for (size_t i = 0; i < MAX_QUEUES; i++)
		if (queues[i] < 0) {
			queues[i] = id;
			return id;
		}
	ipc_sysv_msg_remove(id);
	fail_msg("more than %d queues in one test: raise MAX_QUEUES", MAX_QUEUES);
	return -1;
}

/* A removal the test makes itself, and must succeed. */
static void remove_tracked(int id)
{
	if (ipc_sysv_msg_remove(id) != 0)
		fail_msg("IPC_RMID of queue %d: %s", id, strerror(errno));
	for (size_t i = 0; i < MAX_QUEUES; i++)
		if (queues[i] == id)
			queues[i] = -1;
}

static int sysv_setup(void **state)
{
	if (mech_setup(state) != 0)
		return -1;
	for (size_t i = 0; i < MAX_QUEUES; i++)
		queues[i] = -1;
	fixture.report = mech_report_map();
	if (fixture.report == NULL) {
		mech_teardown(state);
		return -1;
	}
	fixture.q = ipc_sysv_msg_create(IPC_PRIVATE);
	if (fixture.q < 0) {
		fprintf(stderr, "setup: cannot make a queue: %s\n", strerror(errno));
		mech_report_unmap(fixture.report);
		mech_teardown(state);
		return -1;
	}
	queues[0] = fixture.q;
	*state = &fixture;
	return 0;
}

static int remove_left(size_t i)
{
	int ok = queues[i] < 0 || ipc_sysv_msg_remove(queues[i]) == 0 ||
		 errno == EINVAL || errno == EIDRM; /* EINVAL: removed already */

	if (!ok)
		fprintf(stderr, "teardown: cannot remove queue %d: %s\n", queues[i],
			strerror(errno));
	queues[i] = -1;
	return ok;
}

/* Removes every queue the test made, each with the registry it was noted
 * in: the test's own under the registry the test may have pointed
 * elsewhere, setup's (the first) under the suite's. */
static int sysv_teardown(void **state)
{
	int ok = 1;

	for (size_t i = 1; i < MAX_QUEUES; i++)
		ok &= remove_left(i);
	mech_registry_restore();
	ok &= remove_left(0);
	mech_report_unmap(fixture.report);
	if (mech_teardown(state) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------- */

/* A one-byte message whose byte is its tag. */
static void send_tagged(int q, long type, unsigned char tag)
{
	if (ipc_sysv_msg_send(q, type, &tag, 1, IPC_NOWAIT) != 0)
		fail_msg("send of type %ld: %s", type, strerror(errno));
}

/* A message of len bytes of mech_fill(seed). */
static void send_filled(int q, long type, size_t len, uint64_t seed)
{
	uint8_t *msg = malloc(len > 0 ? len : 1);

	assert_non_null(msg);
	mech_fill(msg, len, seed);
	if (ipc_sysv_msg_send(q, type, msg, len, IPC_NOWAIT) != 0)
		fail_msg("send of %zu bytes: %s", len, strerror(errno));
	free(msg);
}

/* The next message by selector is of that type and has that tag. */
static void expect_next(int q, long selector, int flags, long type,
			unsigned char tag)
{
	unsigned char got = 0xFF;
	long got_type = 0;
	ssize_t r = ipc_sysv_msg_recv(q, selector, flags | IPC_NOWAIT, &got_type,
				      &got, 1);

	if (r != 1)
		fail_msg("selector %ld: %zd (errno %s), wanted type %ld tag %u",
			 selector, r, mech_errno_name(errno), type, tag);
	if (got_type != type || got != tag)
		fail_msg("selector %ld: type %ld tag %u, wanted type %ld tag %u",
			 selector, got_type, got, type, tag);
}

static void expect_enomsg(int q, long selector, int flags)
{
	unsigned char got;

	errno = 0;
	assert_int_equal(ipc_sysv_msg_recv(q, selector, flags | IPC_NOWAIT, NULL,
					   &got, 1), -1);
	assert_errno(ENOMSG);
}

static struct ipc_sysv_msg_stat stat_of(int q)
{
	struct ipc_sysv_msg_stat st;

	if (ipc_sysv_msg_stat(q, &st) != 0)
		fail_msg("IPC_STAT of queue %d: %s", q, strerror(errno));
	return st;
}

static void assert_counts(int q, size_t qnum, size_t cbytes)
{
	struct ipc_sysv_msg_stat st = stat_of(q);

	if (st.qnum != qnum || st.cbytes != cbytes)
		fail_msg("queue holds %zu messages of %zu bytes, wanted %zu of %zu",
			 st.qnum, st.cbytes, qnum, cbytes);
}

static size_t proc_number(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long v = 0;
	int n;

	if (f == NULL)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	n = fscanf(f, "%lu", &v);
	fclose(f);
	assert_int_equal(n, 1);
	return v;
}

/*
 * Waits until the child sleeps in msgrcv: its state is S and its wait
 * channel is msgrcv's (where the kernel hides wait channels, "0", the state
 * alone). Fails the test if that does not happen within 10 s.
 */
static void wait_in_msgrcv(pid_t pid)
{
	long long end = mech_now_ms() + (long long)mech_seconds(10) * 1000;
	char wchan[128];

	do {
		mech_proc_text(pid, "wchan", wchan, sizeof wchan);
		if (mech_proc_state(pid) == 'S' &&
		    (strstr(wchan, "msgrcv") != NULL || strcmp(wchan, "0") == 0))
			return;
		mech_nap_ms(2);
	} while (mech_now_ms() < end);
	fail_msg("child %d never slept in msgrcv (state %c, wchan '%s')",
		 (int)pid, mech_proc_state(pid), wchan);
}

/* ---- the three selector rules -------------------------------------------- */

/* selector > 0: the first message of exactly that type; the others keep
 * their places. */
static void sysv_positive_selector_takes_first_of_that_type(void **state)
{
	static const long types[] = {3, 1, 2, 1, 3, 2};
	struct fixture *f = *state;

	for (unsigned char i = 0; i < 6; i++)
		send_tagged(f->q, types[i], i);
	expect_next(f->q, 1, 0, 1, 1);
	expect_next(f->q, 1, 0, 1, 3);
	expect_enomsg(f->q, 1, 0);
	expect_next(f->q, 2, 0, 2, 2);
	/* What is left is in the order it was sent. */
	expect_next(f->q, 0, 0, 3, 0);
	expect_next(f->q, 0, 0, 3, 4);
	expect_next(f->q, 0, 0, 2, 5);
	expect_enomsg(f->q, 0, 0);
}

/* selector 0: the first message of any type, so the order sent. */
static void sysv_zero_selector_takes_first_of_any_type(void **state)
{
	static const long types[] = {5, 1, 3, 1, 2, 9};
	struct fixture *f = *state;

	for (unsigned char i = 0; i < 6; i++)
		send_tagged(f->q, types[i], i);
	for (unsigned char i = 0; i < 6; i++)
		expect_next(f->q, 0, 0, types[i], i);
	expect_enomsg(f->q, 0, 0);
}

/*
 * selector < 0: the first message of the lowest type <= |selector|. Types
 * queued in a mixed order come out lowest type first, in the order sent
 * within a type; those above the bound stay. LONG_MIN, whose magnitude is
 * no long, takes any type.
 */
static void sysv_negative_selector_takes_lowest_type_up_to_bound(void **state)
{
	static const long types[] = {5, 3, 7, 1, 3, 2, 9, 1, 4};
	/* The tags (indices above) in the order of removal with -4. */
	static const unsigned char order[] = {3, 7, 5, 1, 4, 8};
	struct fixture *f = *state;

	for (unsigned char i = 0; i < 9; i++)
		send_tagged(f->q, types[i], i);
	for (size_t i = 0; i < sizeof order; i++)
		expect_next(f->q, -4, 0, types[order[i]], order[i]);
	expect_enomsg(f->q, -4, 0);
	assert_counts(f->q, 3, 3);
	expect_next(f->q, LONG_MIN, 0, 5, 0);
	expect_enomsg(f->q, -6, 0);
	expect_next(f->q, -7, 0, 7, 2);
	expect_enomsg(f->q, -8, 0);
	expect_next(f->q, -LONG_MAX, 0, 9, 6);
	expect_enomsg(f->q, -LONG_MAX, 0);
}

/* MSG_EXCEPT with selector > 0: the first message of any other type. */
static void sysv_except_takes_first_of_other_types(void **state)
{
	static const long types[] = {2, 2, 5, 2, 3, 1};
	struct fixture *f = *state;

	for (unsigned char i = 0; i < 6; i++)
		send_tagged(f->q, types[i], i);
	expect_next(f->q, 2, MSG_EXCEPT, 5, 2);
	expect_next(f->q, 2, MSG_EXCEPT, 3, 4);
	expect_next(f->q, 2, MSG_EXCEPT, 1, 5);
	expect_enomsg(f->q, 2, MSG_EXCEPT);
	expect_next(f->q, 0, 0, 2, 0);
	expect_next(f->q, 0, 0, 2, 1);
	expect_next(f->q, 0, 0, 2, 3);
}

/* ---- sizes --------------------------------------------------------------- */

/* A buffer too small without MSG_NOERROR: E2BIG, and the message stays
 * queued whole for a receive with room for it. */
static void sysv_short_buffer_is_e2big_and_message_stays(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[100];
	long type = 0;

	send_filled(f->q, 7, 100, 5);
	errno = 0;
	assert_int_equal(ipc_sysv_msg_recv(f->q, 0, IPC_NOWAIT, &type, buf, 99), -1);
	assert_errno(E2BIG);
	assert_counts(f->q, 1, 100);
	memset(buf, 0, sizeof buf);
	assert_int_equal(ipc_sysv_msg_recv(f->q, 0, IPC_NOWAIT, &type, buf,
					   sizeof buf), 100);
	assert_int_equal(type, 7);
	assert_int_equal(mech_check(buf, 100, 5), 100);
	assert_counts(f->q, 0, 0);
}

/* MSG_NOERROR: the message is taken, cut to the buffer; its rest is gone
 * and nothing past the buffer is written. */
static void sysv_noerror_truncates_and_consumes(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[16];
	long type = 0;

	send_filled(f->q, 4, 100, 6);
	memset(buf, 0xAA, sizeof buf);
	assert_int_equal(ipc_sysv_msg_recv(f->q, 0, IPC_NOWAIT | MSG_NOERROR, &type,
					   buf, 10), 10);
	assert_int_equal(type, 4);
	assert_int_equal(mech_check(buf, 10, 6), 10);
	for (size_t i = 10; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0xAA);
	assert_counts(f->q, 0, 0);
	expect_enomsg(f->q, 0, 0);
}

/* ---- IPC_NOWAIT ---------------------------------------------------------- */

/* ENOMSG with IPC_NOWAIT when nothing fits: an empty queue, or only
 * messages of other types for each rule. */
static void sysv_nowait_without_fitting_message_is_enomsg(void **state)
{
	struct fixture *f = *state;

	expect_enomsg(f->q, 0, 0);
	expect_enomsg(f->q, 1, 0);
	expect_enomsg(f->q, -1, 0);
	send_tagged(f->q, 5, 0);
	send_tagged(f->q, 6, 1);
	expect_enomsg(f->q, 1, 0);
	expect_enomsg(f->q, -4, 0);
	expect_next(f->q, 6, 0, 6, 1);
	send_tagged(f->q, 5, 2);
	expect_enomsg(f->q, 5, MSG_EXCEPT);
	assert_counts(f->q, 2, 2);
}

/* The byte limit: a message fits while cbytes + its length <= qbytes;
 * otherwise EAGAIN with IPC_NOWAIT, and nothing is queued. A 0-byte message
 * still fits a queue full of bytes. */
static void sysv_nowait_send_at_byte_limit_is_eagain(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	long type;

	memset(buf, 1, sizeof buf);
	assert_int_equal(ipc_sysv_msg_set_qbytes(f->q, 100), 0);
	assert_int_equal(stat_of(f->q).qbytes, 100);
	assert_int_equal(ipc_sysv_msg_send(f->q, 1, buf, 60, IPC_NOWAIT), 0);
	errno = 0;
	assert_int_equal(ipc_sysv_msg_send(f->q, 1, buf, 41, IPC_NOWAIT), -1);
	assert_errno(EAGAIN);
	assert_counts(f->q, 1, 60);
	assert_int_equal(ipc_sysv_msg_send(f->q, 2, buf, 40, IPC_NOWAIT), 0);
	assert_int_equal(ipc_sysv_msg_send(f->q, 3, buf, 0, IPC_NOWAIT), 0);
	errno = 0;
	assert_int_equal(ipc_sysv_msg_send(f->q, 1, buf, 1, IPC_NOWAIT), -1);
	assert_errno(EAGAIN);
	assert_counts(f->q, 3, 100);
	assert_int_equal(ipc_sysv_msg_recv(f->q, 0, IPC_NOWAIT, &type, buf,
					   sizeof buf), 60);
	assert_int_equal(ipc_sysv_msg_send(f->q, 1, buf, 60, IPC_NOWAIT), 0);
	assert_counts(f->q, 3, 100);
}

/* The count limit: qnum + 1 <= qbytes too, so with qbytes 4 the fifth
 * 0-byte message is EAGAIN though no byte is queued. */
static void sysv_nowait_send_at_count_limit_is_eagain(void **state)
{
	struct fixture *f = *state;
	long type;

	assert_int_equal(ipc_sysv_msg_set_qbytes(f->q, 4), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ipc_sysv_msg_send(f->q, 1, NULL, 0, IPC_NOWAIT), 0);
	errno = 0;
	assert_int_equal(ipc_sysv_msg_send(f->q, 1, NULL, 0, IPC_NOWAIT), -1);
	assert_errno(EAGAIN);
	assert_counts(f->q, 4, 0);
	assert_int_equal(ipc_sysv_msg_recv(f->q, 0, IPC_NOWAIT, &type, NULL, 0), 0);
	assert_int_equal(ipc_sysv_msg_send(f->q, 1, NULL, 0, IPC_NOWAIT), 0);
	assert_counts(f->q, 4, 0);
}

/* ---- blocked receivers --------------------------------------------------- */

struct receiver {
	int q;
	int restart; /* SA_RESTART on the handler */
	struct mech_report *report;
};

static volatile sig_atomic_t handled;

static void count_signal(int signo)
{
	(void)signo;
	handled++;
}

/* Step 0: a blocking receive of any message. */
static int child_blocks_in_recv(void *arg)
{
	struct receiver *rc = arg;
	uint8_t buf[16];
	long type;

	mech_note(rc->report, 0, ipc_sysv_msg_recv(rc->q, 0, 0, &type, buf, sizeof buf));
	rc->report->r[1] = handled;
	__atomic_store_n(&rc->report->done, 1, __ATOMIC_RELEASE);
	return 0;
}

static int child_with_handler_blocks_in_recv(void *arg)
{
	struct receiver *rc = arg;
	struct sigaction sa = {.sa_handler = count_signal};

	sa.sa_flags = rc->restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return 1;
	return child_blocks_in_recv(arg);
}

/* IPC_RMID wakes a receiver sleeping in msgrcv with EIDRM. */
static void sysv_remove_wakes_blocked_receiver_with_eidrm(void **state)
{
	struct fixture *f = *state;
	struct receiver rc = {f->q, 0, f->report};
	pid_t pid = mech_fork(child_blocks_in_recv, &rc, 30);

	wait_in_msgrcv(pid);
	remove_tracked(f->q);
	mech_reap(pid, 30);
	mech_assert_step_failed(f->report, 0, EIDRM);
}

/*
 * A signal caught by a receiver sleeping in msgrcv. signal(7) lists msgrcv
 * among the calls never restarted after a handler, SA_RESTART or not: the
 * receive fails with EINTR and takes nothing. Were it restarted, the child
 * would sleep on; the message then sent to free it would be received, and
 * the test says so.
 */
static void interrupt_blocked_receiver(struct fixture *f, int restart)
{
	struct receiver rc = {f->q, restart, f->report};
	pid_t pid = mech_fork(child_with_handler_blocks_in_recv, &rc, 30);
	int returned;

	wait_in_msgrcv(pid);
	assert_int_equal(kill(pid, SIGUSR1), 0);
	returned = mech_wait_flag(&f->report->done, 10);
	if (!returned)
		send_tagged(f->q, 1, 0);
	mech_reap(pid, 30);
	if (!returned)
		fail_msg("msgrcv went on after the handler (SA_RESTART %d): "
			 "it took the message sent to free it (%ld)", restart,
			 f->report->r[0]);
	mech_assert_step_failed(f->report, 0, EINTR);
	assert_int_equal(f->report->r[1], 1); /* the handler ran once */
	assert_counts(f->q, 0, 0);
	assert_int_equal(stat_of(f->q).lrpid, 0);
}

static void sysv_signal_without_sa_restart_is_eintr(void **state)
{
	interrupt_blocked_receiver(*state, 0);
}

static void sysv_signal_with_sa_restart_is_eintr_too(void **state)
{
	interrupt_blocked_receiver(*state, 1);
}

/* ---- IPC_STAT ------------------------------------------------------------ */

/* Step 0: a receive (the first message); step 1: a send of 5 bytes; step
 * 2: the child's pid. */
static int child_receives_then_sends(void *arg)
{
	struct receiver *rc = arg;
	uint8_t buf[64] = {0};
	long type;

	mech_note(rc->report, 0, ipc_sysv_msg_recv(rc->q, 0, IPC_NOWAIT, &type, buf,
					      sizeof buf));
	mech_note(rc->report, 1, ipc_sysv_msg_send(rc->q, 2, buf, 5, IPC_NOWAIT));
	rc->report->r[2] = getpid();
	return 0;
}

/* qnum and cbytes follow each send and receive; lspid and lrpid name the
 * last sender and receiver, whichever process it was. */
static void sysv_stat_counts_messages_bytes_and_pids(void **state)
{
	struct fixture *f = *state;
	struct receiver rc = {f->q, 0, f->report};
	struct ipc_sysv_msg_limits lim;
	struct ipc_sysv_msg_stat st = stat_of(f->q);
	uint8_t buf[64] = {0};
	pid_t child;
	long type;

	assert_int_equal(ipc_sysv_msg_limits(&lim), 0);
	assert_int_equal(st.qnum, 0);
	assert_int_equal(st.cbytes, 0);
	assert_int_equal(st.lspid, 0);
	assert_int_equal(st.lrpid, 0);
	assert_int_equal(st.qbytes, lim.msgmnb);

	assert_int_equal(ipc_sysv_msg_send(f->q, 1, buf, 10, IPC_NOWAIT), 0);
	assert_int_equal(ipc_sysv_msg_send(f->q, 1, buf, 20, IPC_NOWAIT), 0);
	assert_int_equal(ipc_sysv_msg_send(f->q, 1, buf, 0, IPC_NOWAIT), 0);
	st = stat_of(f->q);
	assert_int_equal(st.qnum, 3);
	assert_int_equal(st.cbytes, 30);
	assert_int_equal(st.lspid, getpid());
	assert_int_equal(st.lrpid, 0);

	mech_reap(mech_fork(child_receives_then_sends, &rc, 30), 30);
	assert_int_equal(f->report->r[0], 10);
	assert_int_equal(f->report->r[1], 0);
	child = (pid_t)f->report->r[2];
	st = stat_of(f->q);
	assert_int_equal(st.qnum, 3);
	assert_int_equal(st.cbytes, 25);
	assert_int_equal(st.lspid, child);
	assert_int_equal(st.lrpid, child);

	assert_int_equal(ipc_sysv_msg_recv(f->q, 0, IPC_NOWAIT, &type, buf,
					   sizeof buf), 20);
	st = stat_of(f->q);
	assert_int_equal(st.qnum, 2);
	assert_int_equal(st.cbytes, 5);
	assert_int_equal(st.lspid, child);
	assert_int_equal(st.lrpid, getpid());
}

/* ---- keys and permissions ------------------------------------------------ */

static int key_in_project_range(key_t key)
{
	return ((uint32_t)key & IPC_SYSV_KEY_MASK) == IPC_SYSV_KEY_PREFIX;
}

/* A key that names a queue is EEXIST (IPC_EXCL), never opened by accident;
 * open finds it, and after removal ENOENT. */
static void sysv_create_with_taken_key_is_eexist(void **state)
{
	key_t key = IPC_PRIVATE;
	int id, other;

	(void)state;
	id = track(ipc_sysv_msg_create_keyed(&key));
	assert_true(key_in_project_range(key));
	send_tagged(id, 1, 42);
	errno = 0;
	other = ipc_sysv_msg_create(key);
	if (other >= 0)
		track(other);
	assert_int_equal(other, -1);
	assert_errno(EEXIST);
	assert_int_equal(ipc_sysv_msg_open(key), id);
	assert_counts(id, 1, 1); /* the queue was left as it was */
	remove_tracked(id);
	errno = 0;
	assert_int_equal(ipc_sysv_msg_open(key), -1);
	assert_errno(ENOENT);
}

/* Keys made for the project are in its range and distinct, queue by queue. */
static void sysv_keyed_queues_get_distinct_keys_in_project_range(void **state)
{
	key_t keys[8];
	int ids[8];

	(void)state;
	for (size_t i = 0; i < 8; i++) {
		ids[i] = track(ipc_sysv_msg_create_keyed(&keys[i]));
		if (!key_in_project_range(keys[i]))
			fail_msg("key 0x%08x is not in the project's range 0x%08x",
				 (unsigned)keys[i], IPC_SYSV_KEY_PREFIX);
		assert_int_equal(ipc_sysv_msg_open(keys[i]), ids[i]);
		for (size_t k = 0; k < i; k++) {
			assert_int_not_equal(keys[k], keys[i]);
			assert_int_not_equal(ids[k], ids[i]);
		}
	}
}

/* ftok's pitfalls refused: proj_id 0 (reserved) and above 255 (only its
 * low 8 bits would count), a missing path; otherwise ftok's own key. */
static void sysv_key_from_file_checks_proj_id_and_path(void **state)
{
	static const int bad[] = {0, 256, -1, 257, INT_MAX};
	char path[PATH_MAX], absent[PATH_MAX];

	(void)state;
	snprintf(path, sizeof path, "%s/keyfile", mech_tmpdir());
	snprintf(absent, sizeof absent, "%s/absent", mech_tmpdir());
	mech_make_file(path, "");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ipc_fault_plan_clear();
		errno = 0;
		if (ipc_sysv_key_from_file(path, bad[i]) != -1 || errno != EINVAL)
			fail_msg("proj_id %d: not refused with EINVAL (errno %s)",
				 bad[i], mech_errno_name(errno));
		if (mech_seam_logged("ftok"))
			fail_msg("proj_id %d: ftok was called", bad[i]);
	}
	assert_int_equal(ipc_sysv_key_from_file(path, 1), ftok(path, 1));
	assert_int_equal(ipc_sysv_key_from_file(path, 255), ftok(path, 255));
	assert_int_not_equal(ipc_sysv_key_from_file(path, 1),
			     ipc_sysv_key_from_file(path, 2));
	errno = 0;
	assert_int_equal(ipc_sysv_key_from_file(absent, 1), -1);
	assert_errno(ENOENT);
	assert_int_equal(unlink(path), 0);
	errno = 0;
	assert_int_equal(ipc_sysv_key_from_file(path, 1), -1);
	assert_errno(ENOENT);
}

/* Mode 0600 whatever the umask, owned and created by this user. */
static void sysv_queues_are_0600(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(0);
	int ids[3] = {f->q, -1, -1};
	key_t key;

	ids[1] = ipc_sysv_msg_create_keyed(&key);
	ids[2] = ipc_sysv_msg_create(IPC_PRIVATE);
	umask(old);
	track(ids[1]);
	track(ids[2]);
	for (size_t i = 0; i < 3; i++) {
		struct ipc_sysv_msg_stat st = stat_of(ids[i]);

		assert_int_equal(st.mode, 0600);
		assert_int_equal(st.uid, geteuid());
		assert_int_equal(st.cuid, geteuid());
	}
}

struct other_user {
	key_t key;
	int id;
	struct mech_report *report;
};

/* As another user: steps 0 msgget(key, 0), 1 ipc_sysv_msg_open, 2 send,
 * 3 receive, 4 IPC_STAT, 5 IPC_RMID. */
static int child_as_other_user(void *arg)
{
	struct other_user *o = arg;
	struct msqid_ds ds;
	uint8_t buf[16];

	if (mech_become_other_user() != 0) {
		o->report->skipped = 1;
		return 0;
	}
	mech_note(o->report, 0, msgget(o->key, 0));
	mech_note(o->report, 1, ipc_sysv_msg_open(o->key));
	mech_note(o->report, 2, ipc_sysv_msg_send(o->id, 1, "x", 1, IPC_NOWAIT));
	mech_note(o->report, 3, ipc_sysv_msg_recv(o->id, 0, IPC_NOWAIT, NULL, buf,
					     sizeof buf));
	mech_note(o->report, 4, msgctl(o->id, IPC_STAT, &ds));
	mech_note(o->report, 5, msgctl(o->id, IPC_RMID, NULL));
	return 0;
}

/*
 * 0600 holds against another user: send, receive and IPC_STAT are EACCES,
 * IPC_RMID EPERM, and the queue and its message are untouched. msgget(key,
 * 0) asks for no permission, so Linux finds the queue for anyone (its id,
 * not EACCES); ipc_sysv_msg_open asks for read and write, and is EACCES.
 */
static void sysv_other_user_is_refused_by_0600(void **state)
{
	struct fixture *f = *state;
	struct other_user o = {IPC_PRIVATE, -1, f->report};

	o.id = track(ipc_sysv_msg_create_keyed(&o.key));
	send_tagged(o.id, 1, 7);
	mech_reap(mech_fork(child_as_other_user, &o, 30), 30);
	if (f->report->skipped)
		skip(); /* not root: no other user to become */
	assert_int_equal(f->report->r[0], o.id);
	mech_assert_step_failed(f->report, 1, EACCES);
	mech_assert_step_failed(f->report, 2, EACCES);
	mech_assert_step_failed(f->report, 3, EACCES);
	mech_assert_step_failed(f->report, 4, EACCES);
	mech_assert_step_failed(f->report, 5, EPERM);
	assert_counts(o.id, 1, 1);
	expect_next(o.id, 0, 0, 1, 7);
}

/* ---- limits -------------------------------------------------------------- */

static void sysv_limits_agree_with_proc(void **state)
{
	struct ipc_sysv_msg_limits lim;

	(void)state;
	assert_int_equal(ipc_sysv_msg_limits(&lim), 0);
	assert_int_equal(lim.msgmax, proc_number("/proc/sys/kernel/msgmax"));
	assert_int_equal(lim.msgmnb, proc_number("/proc/sys/kernel/msgmnb"));
	assert_int_equal(lim.msgmni, proc_number("/proc/sys/kernel/msgmni"));
	assert_true(lim.msgmax > 0);
	assert_true(lim.msgmnb > 0);
}

/*
 * A message over msgmax is EINVAL before any memory is reserved and before
 * msgsnd is called (the seam's log has none): lengths that no allocation
 * could meet (1 TiB; SIZE_MAX, whose header would wrap the size to a few
 * bytes) are refused the same way, where an allocation first would fail
 * with ENOMEM or copy past the caller's buffer. A type <= 0 is EINVAL too.
 * Exactly msgmax goes through.
 */
static void sysv_send_over_msgmax_is_einval_before_allocation(void **state)
{
	struct fixture *f = *state;
	struct ipc_sysv_msg_limits lim;
	size_t lens[4];
	uint8_t *buf;
	long type;

	assert_int_equal(ipc_sysv_msg_limits(&lim), 0);
	lens[0] = lim.msgmax + 1;
	lens[1] = (size_t)1 << 40;
	lens[2] = SIZE_MAX - sizeof(long) + 1;
	lens[3] = SIZE_MAX;
	buf = malloc(lim.msgmax);
	assert_non_null(buf);
	mech_fill(buf, lim.msgmax, 8);
	for (size_t i = 0; i < 4; i++) {
		ipc_fault_plan_clear();
		errno = 0;
		if (ipc_sysv_msg_send(f->q, 1, buf, lens[i], IPC_NOWAIT) != -1 ||
		    errno != EINVAL)
			fail_msg("send of %zu bytes: errno %s, wanted EINVAL", lens[i],
				 mech_errno_name(errno));
		if (mech_seam_logged("msgsnd"))
			fail_msg("send of %zu bytes: msgsnd was called", lens[i]);
	}
	errno = 0;
	assert_int_equal(ipc_sysv_msg_send(f->q, 0, buf, 1, IPC_NOWAIT), -1);
	assert_errno(EINVAL);
	errno = 0;
	assert_int_equal(ipc_sysv_msg_send(f->q, -1, buf, 1, IPC_NOWAIT), -1);
	assert_errno(EINVAL);
	assert_counts(f->q, 0, 0);
	if (lim.msgmnb >= lim.msgmax) {
		ipc_fault_plan_clear();
		assert_int_equal(ipc_sysv_msg_send(f->q, 3, buf, lim.msgmax, IPC_NOWAIT), 0);
		assert_true(mech_seam_logged("msgsnd")); /* the log does show it */
		memset(buf, 0, lim.msgmax);
		assert_int_equal(ipc_sysv_msg_recv(f->q, 0, IPC_NOWAIT, &type, buf,
						   lim.msgmax), (ssize_t)lim.msgmax);
		assert_int_equal(mech_check(buf, lim.msgmax, 8), lim.msgmax);
	}
	free(buf);
}

/* A receive's capacity is cut to msgmax before its buffer is reserved: no
 * message is longer, so a capacity of 1 TiB over a buffer of msgmax bytes
 * receives a message of msgmax bytes whole. */
static void sysv_recv_capacity_is_bounded_by_msgmax(void **state)
{
	struct fixture *f = *state;
	struct ipc_sysv_msg_limits lim;
	size_t len;
	uint8_t *buf;
	long type;

	assert_int_equal(ipc_sysv_msg_limits(&lim), 0);
	len = lim.msgmax < lim.msgmnb ? lim.msgmax : lim.msgmnb;
	buf = malloc(lim.msgmax);
	assert_non_null(buf);
	mech_fill(buf, len, 9);
	assert_int_equal(ipc_sysv_msg_send(f->q, 2, buf, len, IPC_NOWAIT), 0);
	memset(buf, 0, lim.msgmax);
	assert_int_equal(ipc_sysv_msg_recv(f->q, 0, IPC_NOWAIT, &type, buf,
					   (size_t)1 << 40), (ssize_t)len);
	assert_int_equal(type, 2);
	assert_int_equal(mech_check(buf, len, 9), len);
	free(buf);
}

/* ---- registry ------------------------------------------------------------ */

/* With IPCH_REGISTRY set, a queue is noted as "sysv-msg@<id>" holding
 * "<pid> <uid> <id>" from its creation to its removal. */
static void sysv_registry_notes_queue_until_removed(void **state)
{
	char path[PATH_MAX], want[64];
	int id;

	(void)state;
	setenv("IPCH_REGISTRY", mech_tmpdir(), 1);
	id = track(ipc_sysv_msg_create(IPC_PRIVATE));
	snprintf(path, sizeof path, "%s/sysv-msg@%d", mech_tmpdir(), id);
	snprintf(want, sizeof want, "%ld %ld %d\n", (long)getpid(), (long)geteuid(), id);
	mech_assert_file_holds(path, want);
	remove_tracked(id);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	mech_registry_restore();
}

#define SYSV_TEST(fn) cmocka_unit_test_setup_teardown(fn, sysv_setup, sysv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SYSV_TEST(sysv_positive_selector_takes_first_of_that_type),
		SYSV_TEST(sysv_zero_selector_takes_first_of_any_type),
		SYSV_TEST(sysv_negative_selector_takes_lowest_type_up_to_bound),
		SYSV_TEST(sysv_except_takes_first_of_other_types),
		SYSV_TEST(sysv_short_buffer_is_e2big_and_message_stays),
		SYSV_TEST(sysv_noerror_truncates_and_consumes),
		SYSV_TEST(sysv_nowait_without_fitting_message_is_enomsg),
		SYSV_TEST(sysv_nowait_send_at_byte_limit_is_eagain),
		SYSV_TEST(sysv_nowait_send_at_count_limit_is_eagain),
		SYSV_TEST(sysv_remove_wakes_blocked_receiver_with_eidrm),
		SYSV_TEST(sysv_signal_without_sa_restart_is_eintr),
		SYSV_TEST(sysv_signal_with_sa_restart_is_eintr_too),
		SYSV_TEST(sysv_stat_counts_messages_bytes_and_pids),
		SYSV_TEST(sysv_create_with_taken_key_is_eexist),
		SYSV_TEST(sysv_keyed_queues_get_distinct_keys_in_project_range),
		SYSV_TEST(sysv_key_from_file_checks_proj_id_and_path),
		SYSV_TEST(sysv_queues_are_0600),
		SYSV_TEST(sysv_other_user_is_refused_by_0600),
		SYSV_TEST(sysv_limits_agree_with_proc),
		SYSV_TEST(sysv_send_over_msgmax_is_einval_before_allocation),
		SYSV_TEST(sysv_recv_capacity_is_bounded_by_msgmax),
		SYSV_TEST(sysv_registry_notes_queue_until_removed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
