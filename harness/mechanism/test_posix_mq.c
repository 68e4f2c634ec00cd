/*
 * POSIX message queues against the kernel's rules: priority order and FIFO
 * within a priority, EMSGSIZE at both ends, EAGAIN on a non-blocking queue,
 * ETIMEDOUT no sooner than its deadline, mq_notify's one notice on empty to
 * non-empty (by signal and by thread) and its single owner, names and
 * attributes checked before anything is made, 0600 against another user,
 * and a queue unlinked while open.
 *
 * Every queue a test makes is closed and unlinked by the teardown, also
 * when the test fails half-way; every child has an alarm and is reaped
 * with a deadline.
 */
#include "mech_support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/fault.h"
#include "ipc/posix_mq.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef VALGRIND_DISABLE_ERROR_REPORTING
#define VALGRIND_DISABLE_ERROR_REPORTING
#define VALGRIND_ENABLE_ERROR_REPORTING
#endif

#define MAX_QUEUES 8
#define NOTICE_SIGNAL (SIGRTMIN + 3)

struct fixture {
	char name[64];              /* a fresh name, not created by setup */
	struct mech_report *report; /* shared with the test's children */
};

static struct fixture fixture;
/* Every name and descriptor of the test, "" and -1 for none. */
static char names[MAX_QUEUES][NAME_MAX + 1];
static mqd_t descriptors[MAX_QUEUES];

/* ---- fixture ------------------------------------------------------------- */

static void track_name(const char *name)
{
	for (size_t i = 0; i < MAX_QUEUES; i++)
		if (names[i][0] == '\0') {
			snprintf(names[i], sizeof names[i], "%s", name);
			return;
		}
	fail_msg("more than %d names in one test: raise MAX_QUEUES", MAX_QUEUES);
}

static mqd_t track(mqd_t q)
{
	if (q == (mqd_t)-1)
		fail_msg("cannot make or open a queue: %s", strerror(errno));
	for (size_t i = 0; i < MAX_QUEUES; i++)
		if (descriptors[i] == (mqd_t)-1) {
			descriptors[i] = q;
			return q;
		}
	ipc_mq_close(q);
	fail_msg("more than %d descriptors in one test: raise MAX_QUEUES",
		 MAX_QUEUES);
	return (mqd_t)-1;
}

/* A new queue, its name and descriptor remembered for the teardown. */
static mqd_t create(const char *name, long maxmsg, long msgsize, int access)
{
	mqd_t q = ipc_mq_create(name, maxmsg, msgsize, access);

	if (q != (mqd_t)-1)
		track_name(name);
	return track(q);
}

static void close_tracked(mqd_t q)
{
	for (size_t i = 0; i < MAX_QUEUES; i++)
		if (descriptors[i] == q)
			descriptors[i] = (mqd_t)-1;
	if (ipc_mq_close(q) != 0)
		fail_msg("mq_close: %s", strerror(errno));
}

static int mq_setup(void **state)
{
	if (mech_setup(state) != 0)
		return -1;
	memset(names, 0, sizeof names);
	for (size_t i = 0; i < MAX_QUEUES; i++)
		descriptors[i] = (mqd_t)-1;
	if (ipc_mq_fresh_name(fixture.name, sizeof fixture.name) != 0) {
		fprintf(stderr, "setup: no fresh name: %s\n", strerror(errno));
		mech_teardown(state);
		return -1;
	}
	fixture.report = mech_report_map();
	if (fixture.report == NULL) {
		mech_teardown(state);
		return -1;
	}
	*state = &fixture;
	return 0;
}

/* Closes every descriptor and unlinks every name of the test (ENOENT: it
 * was unlinked already), with the registry the test may have pointed
 * elsewhere still in force, so that its entries go too. */
static int mq_teardown(void **state)
{
	int ok = 1;

	for (size_t i = 0; i < MAX_QUEUES; i++) {
		if (descriptors[i] != (mqd_t)-1 && ipc_mq_close(descriptors[i]) != 0) {
			fprintf(stderr, "teardown: mq_close: %s\n", strerror(errno));
			ok = 0;
		}
		descriptors[i] = (mqd_t)-1;
		if (names[i][0] != '\0' && ipc_mq_unlink(names[i]) != 0 &&
		    errno != ENOENT) {
			fprintf(stderr, "teardown: cannot unlink %s: %s\n", names[i],
				strerror(errno));
			ok = 0;
		}
		names[i][0] = '\0';
	}
	mech_registry_restore();
	mech_report_unmap(fixture.report);
	if (mech_teardown(state) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------- */

/* How long a test waits to see that something does not happen. */
static long quiet_ms(void) { return mech_slow() ? 500 : 50; }

static long curmsgs(mqd_t q)
{
	struct mq_attr attr;

	if (ipc_mq_attr(q, &attr) != 0)
		fail_msg("mq_getattr: %s", strerror(errno));
	return attr.mq_curmsgs;
}

static void send_byte(mqd_t q, char c, unsigned prio)
{
	if (ipc_mq_send(q, &c, 1, prio, 0) != 0)
		fail_msg("send of '%c': %s", c, strerror(errno));
}

static char receive_byte(mqd_t q, size_t cap, unsigned *prio)
{
	char buf[256];
	ssize_t r;

	assert_true(cap <= sizeof buf);
	r = ipc_mq_receive(q, buf, cap, prio, 0);
	if (r != 1)
		fail_msg("receive: %zd (errno %s), wanted 1 byte", r, mech_errno_name(errno));
	return buf[0];
}

/* ---- order --------------------------------------------------------------- */

/* The highest priority first, and FIFO within a priority, up to the
 * highest priority there is (MQ_PRIO_MAX - 1). */
static void mq_highest_priority_first_fifo_within(void **state)
{
	static const struct {
		unsigned prio;
		char tag;
	} sent[] = {{1, 'a'}, {5, 'b'}, {1, 'c'}, {9, 'd'}, {5, 'e'},
		    {0, 'f'}, {9, 'g'}, {1, 'h'}, {MQ_PRIO_MAX - 1, 'z'}};
	static const char order[] = "zdgbeachf";
	struct fixture *f = *state;
	mqd_t q = create(f->name, 10, 16, O_RDWR);

	for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
		send_byte(q, sent[i].tag, sent[i].prio);
	for (size_t i = 0; order[i] != '\0'; i++) {
		unsigned prio = 0, want = 0;
		char got = receive_byte(q, 16, &prio);

		for (size_t k = 0; k < sizeof sent / sizeof sent[0]; k++)
			if (sent[k].tag == order[i])
				want = sent[k].prio;
		if (got != order[i] || prio != want)
			fail_msg("message %zu: '%c' of priority %u, wanted '%c' of %u",
				 i, got, prio, order[i], want);
	}
	assert_int_equal(curmsgs(q), 0);
}

/* A priority of MQ_PRIO_MAX or more is EINVAL, and nothing is queued. */
static void mq_priority_at_prio_max_is_einval(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 2, 16, O_RDWR);

	errno = 0;
	assert_int_equal(ipc_mq_send(q, "x", 1, MQ_PRIO_MAX, 0), -1);
	assert_errno(EINVAL);
	assert_int_equal(curmsgs(q), 0);
}

/* ---- sizes --------------------------------------------------------------- */

/* A message over mq_msgsize is EMSGSIZE at the sender; mq_msgsize fits. */
static void mq_message_over_msgsize_is_emsgsize_at_sender(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 4, 64, O_RDWR);
	uint8_t msg[65], buf[64];

	mech_fill(msg, sizeof msg, 1);
	errno = 0;
	assert_int_equal(ipc_mq_send(q, msg, 65, 0, 0), -1);
	assert_errno(EMSGSIZE);
	assert_int_equal(curmsgs(q), 0);
	assert_int_equal(ipc_mq_send(q, msg, 64, 0, 0), 0);
	assert_int_equal(ipc_mq_receive(q, buf, sizeof buf, NULL, 0), 64);
	assert_int_equal(mech_check(buf, 64, 1), 64);
}

/* A receive buffer under mq_msgsize is EMSGSIZE even for a message that
 * would fit it, and the message stays queued. */
static void mq_buffer_under_msgsize_is_emsgsize_at_receiver(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 4, 64, O_RDWR);
	char buf[64];

	send_byte(q, 'm', 3);
	errno = 0;
	assert_int_equal(ipc_mq_receive(q, buf, 63, NULL, 0), -1);
	assert_errno(EMSGSIZE);
	assert_int_equal(curmsgs(q), 1);
	assert_int_equal(receive_byte(q, 64, NULL), 'm');
}

/* ---- waiting ------------------------------------------------------------- */

/* A non-blocking queue: receive on an empty one and send on a full one are
 * EAGAIN, whatever the timeout, at once. */
static void mq_nonblocking_full_or_empty_is_eagain(void **state)
{
	static const int timeouts[] = {0, 200};
	struct fixture *f = *state;
	mqd_t q = create(f->name, 3, 32, O_RDWR | O_NONBLOCK);
	struct mq_attr attr;
	char buf[32];

	assert_int_equal(ipc_mq_attr(q, &attr), 0);
	assert_true(attr.mq_flags & O_NONBLOCK);
	for (size_t i = 0; i < 2; i++) {
		errno = 0;
		assert_int_equal(ipc_mq_receive(q, buf, sizeof buf, NULL, timeouts[i]), -1);
		assert_errno(EAGAIN);
	}
	for (int i = 0; i < 3; i++)
		send_byte(q, 'a', 0);
	for (size_t i = 0; i < 2; i++) {
		errno = 0;
		assert_int_equal(ipc_mq_send(q, "b", 1, 0, timeouts[i]), -1);
		assert_errno(EAGAIN);
	}
	assert_int_equal(curmsgs(q), 3);
}

/* Timeout 0 on a blocking queue: ETIMEDOUT without a wait, on an empty
 * queue for the receiver and on a full one for the sender. */
static void mq_timeout_zero_is_etimedout_at_once(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 2, 32, O_RDWR);
	long long start = mech_now_ms();
	char buf[32];

	errno = 0;
	assert_int_equal(ipc_mq_receive(q, buf, sizeof buf, NULL, 0), -1);
	assert_errno(ETIMEDOUT);
	send_byte(q, 'a', 0);
	send_byte(q, 'b', 0);
	errno = 0;
	assert_int_equal(ipc_mq_send(q, "c", 1, 0, 0), -1);
	assert_errno(ETIMEDOUT);
	assert_int_equal(curmsgs(q), 2);
	assert_true(mech_now_ms() - start < (long long)mech_seconds(5) * 1000);
}

/* A timeout ends with ETIMEDOUT, measured on CLOCK_MONOTONIC no sooner than
 * its deadline (and not hugely later). */
static void mq_timeout_ends_no_sooner_than_its_deadline(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 1, 32, O_RDWR);
	const int ms = 80;
	long long start, took;
	char buf[32];

	start = mech_now_ms();
	errno = 0;
	assert_int_equal(ipc_mq_receive(q, buf, sizeof buf, NULL, ms), -1);
	assert_errno(ETIMEDOUT);
	took = mech_now_ms() - start;
	if (took < ms || took > (long long)mech_seconds(10) * 1000)
		fail_msg("receive timed out after %lld ms, wanted %d", took, ms);

	send_byte(q, 'a', 0);
	start = mech_now_ms();
	errno = 0;
	assert_int_equal(ipc_mq_send(q, "b", 1, 0, ms), -1);
	assert_errno(ETIMEDOUT);
	took = mech_now_ms() - start;
	if (took < ms || took > (long long)mech_seconds(10) * 1000)
		fail_msg("send timed out after %lld ms, wanted %d", took, ms);
	assert_int_equal(curmsgs(q), 1);
}

/* ---- mq_notify ----------------------------------------------------------- */

static volatile sig_atomic_t notices, notice_code, notice_value, notice_pid;

static void record_notice(int signo, siginfo_t *info, void *ctx)
{
	(void)signo;
	(void)ctx;
	notices++;
	notice_code = info->si_code;
	notice_value = info->si_value.sival_int;
	notice_pid = info->si_pid;
}

/* Waits up to 10 s (scaled) for the n-th notice; then checks, after a
 * quiet while, that no other came. */
static void expect_notices(int n)
{
	long long end = mech_now_ms() + (long long)mech_seconds(10) * 1000;

	while (notices < n && mech_now_ms() < end)
		mech_nap_ms(1);
	mech_nap_ms(quiet_ms());
	if (notices != n)
		fail_msg("%d notices, wanted %d", (int)notices, n);
}

static void install_notice_handler(struct sigaction *old)
{
	struct sigaction sa = {.sa_sigaction = record_notice, .sa_flags = SA_SIGINFO};
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(NOTICE_SIGNAL, &sa, old), 0);
	sigemptyset(&set);
	sigaddset(&set, NOTICE_SIGNAL);
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);
	notices = notice_code = notice_value = notice_pid = 0;
}

/*
 * A signal notice comes once, when a message arrives in an empty queue:
 * with si_code SI_MESGQ, the registered value and the sender's pid. A
 * message into a non-empty queue gives none; after one notice the
 * registration is gone (no notice for the next empty-to-non-empty) until
 * made again; a registration made on a non-empty queue waits for it to be
 * emptied first.
 */
static void mq_notify_signal_once_on_empty_to_non_empty(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 4, 16, O_RDWR);
	struct sigaction old;

	install_notice_handler(&old);
	assert_int_equal(ipc_mq_notify_signal(q, NOTICE_SIGNAL, 1234), 0);
	expect_notices(0);
	send_byte(q, 'a', 0);
	expect_notices(1);
	assert_int_equal(notice_code, SI_MESGQ);
	assert_int_equal(notice_value, 1234);
	assert_int_equal(notice_pid, getpid());

	send_byte(q, 'b', 0); /* into a non-empty queue */
	expect_notices(1);
	assert_int_equal(receive_byte(q, 16, NULL), 'a');
	assert_int_equal(receive_byte(q, 16, NULL), 'b');
	send_byte(q, 'c', 0); /* empty to non-empty, but no registration */
	expect_notices(1);

	assert_int_equal(ipc_mq_notify_signal(q, NOTICE_SIGNAL, 5678), 0);
	send_byte(q, 'd', 0); /* the queue was not empty */
	expect_notices(1);
	assert_int_equal(receive_byte(q, 16, NULL), 'c');
	assert_int_equal(receive_byte(q, 16, NULL), 'd');
	send_byte(q, 'e', 0);
	expect_notices(2);
	assert_int_equal(notice_value, 5678);
	assert_int_equal(sigaction(NOTICE_SIGNAL, &old, NULL), 0);
}

struct notifier {
	mqd_t q;
	struct mech_report *report;
};

/* The thread callback: one byte into the pipe whose write end its argument
 * points at. */
static void write_notice(union sigval v)
{
	const int *fd = v.sival_ptr;
	char c = 'n';

	if (write(*fd, &c, 1) != 1)
		abort();
}

/* Bytes the callback wrote within ms milliseconds (1 at most read). */
static int notice_within(int fd, long ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	if (poll(&p, 1, (int)ms) != 1)
		return 0;
	return read(fd, &c, 1) == 1;
}

/* The argument of a registration that must fail: its callback never runs. */
static int no_fd = -1;

/*
 * glibc's SIGEV_THREAD registration hands the kernel a sigevent of its own
 * with only the fields the kernel reads for it set; memcheck sees the rest
 * unset and would fail the child for glibc's sake. Its reports are off for
 * this one call.
 */
static int notify_thread(mqd_t q, void (*fn)(union sigval), void *arg)
{
	int r;

	VALGRIND_DISABLE_ERROR_REPORTING;
	r = ipc_mq_notify_thread(q, fn, arg);
	VALGRIND_ENABLE_ERROR_REPORTING;
	return r;
}

/* Another process: steps 0 registers (signal), 1 registers (thread), 2
 * cancels (a no-op, the registration is not its own). */
static int child_registers_too(void *arg)
{
	struct notifier *n = arg;

	mech_note(n->report, 0, ipc_mq_notify_signal(n->q, NOTICE_SIGNAL, 1));
	mech_note(n->report, 1, notify_thread(n->q, write_notice, &no_fd));
	mech_note(n->report, 2, ipc_mq_notify_cancel(n->q));
	return 0;
}

/* One registration per queue: a second one is EBUSY, from another process
 * as from the owner, and another process's cancel leaves the owner's. */
static void mq_notify_second_registration_is_ebusy(void **state)
{
	struct fixture *f = *state;
	struct notifier n = {create(f->name, 4, 16, O_RDWR), f->report};
	struct sigaction old;

	install_notice_handler(&old);
	assert_int_equal(ipc_mq_notify_signal(n.q, NOTICE_SIGNAL, 9), 0);
	mech_reap(mech_fork(child_registers_too, &n, 30), 30);
	mech_assert_step_failed(f->report, 0, EBUSY);
	mech_assert_step_failed(f->report, 1, EBUSY);
	assert_int_equal(f->report->r[2], 0);
	errno = 0;
	assert_int_equal(ipc_mq_notify_signal(n.q, NOTICE_SIGNAL, 10), -1);
	assert_errno(EBUSY);
	send_byte(n.q, 'a', 0);
	expect_notices(1);
	assert_int_equal(notice_value, 9);
	assert_int_equal(sigaction(NOTICE_SIGNAL, &old, NULL), 0);
}

/* The registration, cancelled, gives no notice, and can be made again. */
static void mq_notify_cancel_removes_registration(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 4, 16, O_RDWR);
	struct sigaction old;

	install_notice_handler(&old);
	assert_int_equal(ipc_mq_notify_signal(q, NOTICE_SIGNAL, 1), 0);
	assert_int_equal(ipc_mq_notify_cancel(q), 0);
	send_byte(q, 'a', 0);
	expect_notices(0);
	assert_int_equal(receive_byte(q, 16, NULL), 'a');
	assert_int_equal(ipc_mq_notify_signal(q, NOTICE_SIGNAL, 2), 0);
	send_byte(q, 'b', 0);
	expect_notices(1);
	assert_int_equal(sigaction(NOTICE_SIGNAL, &old, NULL), 0);
}

/*
 * In a child, since glibc keeps the helper thread and netlink socket of
 * SIGEV_THREAD for the rest of the process. Exit status: 1 no pipe, 2
 * registration failed, 3 no callback for empty to non-empty, 4 a callback
 * for a non-empty queue, 5 a callback without registration, 6 a second
 * registration failed, 7 no callback after it, 8 a callback ran twice.
 */
static int child_notified_by_thread(void *arg)
{
	const struct notifier *n = arg;
	long wait_ms = (long)mech_seconds(10) * 1000;
	char buf[16];
	int p[2];

	if (pipe(p) != 0)
		return 1;
	if (notify_thread(n->q, write_notice, &p[1]) != 0)
		return 2;
	if (ipc_mq_send(n->q, "a", 1, 0, 0) != 0 || !notice_within(p[0], wait_ms))
		return 3;
	if (ipc_mq_send(n->q, "b", 1, 0, 0) != 0 || notice_within(p[0], quiet_ms()))
		return 4;
	if (ipc_mq_receive(n->q, buf, sizeof buf, NULL, 0) != 1 ||
	    ipc_mq_receive(n->q, buf, sizeof buf, NULL, 0) != 1 ||
	    ipc_mq_send(n->q, "c", 1, 0, 0) != 0 || notice_within(p[0], quiet_ms()))
		return 5;
	if (ipc_mq_receive(n->q, buf, sizeof buf, NULL, 0) != 1 ||
	    notify_thread(n->q, write_notice, &p[1]) != 0)
		return 6;
	if (ipc_mq_send(n->q, "d", 1, 0, 0) != 0 || !notice_within(p[0], wait_ms))
		return 7;
	if (notice_within(p[0], quiet_ms()))
		return 8;
	return 0;
}

/* SIGEV_THREAD: the callback runs once per registration, on empty to
 * non-empty only, as the signal notice does. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

static void mq_notify_thread_runs_callback_once(void **state)
{
	struct fixture *f = *state;
	struct notifier n;

#ifdef UNDER_TSAN
	/* glibc starts the SIGEV_THREAD helper thread itself, past TSan's
	 * thread set-up, and its first malloc crashes (google/sanitizers
	 * issue 1612): nothing here to test under TSan. */
	skip();
#endif
	n = (struct notifier){create(f->name, 4, 16, O_RDWR), f->report};

	mech_reap(mech_fork(child_notified_by_thread, &n, 60), 60);
	assert_int_equal(curmsgs(n.q), 1);
}

/* ---- names and attributes ------------------------------------------------ */

/* A name that is taken is EEXIST, and the queue there is left as it was. */
static void mq_create_taken_name_is_eexist(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 4, 16, O_RDWR), other;

	send_byte(q, 'k', 0);
	errno = 0;
	other = ipc_mq_create(f->name, 4, 16, O_RDWR);
	if (other != (mqd_t)-1)
		track(other);
	assert_int_equal(other, (mqd_t)-1);
	assert_errno(EEXIST);
	other = track(ipc_mq_open(f->name, O_RDONLY));
	assert_int_equal(curmsgs(other), 1);
	assert_int_equal(receive_byte(other, 16, NULL), 'k');
}

/* The longest name the check allows: NAME_MAX characters, "/" included. */
static void longest_name(char *out, size_t len, const char *fresh)
{
	size_t have = strlen(fresh);

	assert_true(len > NAME_MAX);
	memcpy(out, fresh, have);
	memset(out + have, 'x', NAME_MAX - have);
	out[NAME_MAX] = '\0';
}

/* Malformed names are refused before the kernel sees them, by check, create
 * and open alike; the longest allowed name works. */
static void mq_check_name_rejects_malformed_names(void **state)
{
	static const char *const bad[] = {"noslash", "/a/b", "/", "", "//", "/a/"};
	struct fixture *f = *state;
	char longest[NAME_MAX + 2];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		if (ipc_mq_check_name(bad[i]) != -1 || errno != EINVAL)
			fail_msg("check of \"%s\": errno %s, wanted EINVAL", bad[i],
				 mech_errno_name(errno));
		ipc_fault_plan_clear();
		errno = 0;
		if (ipc_mq_create(bad[i], 1, 16, O_RDWR) != (mqd_t)-1 || errno != EINVAL)
			fail_msg("create of \"%s\": errno %s, wanted EINVAL", bad[i],
				 mech_errno_name(errno));
		if (mech_seam_logged("mq_open"))
			fail_msg("create of \"%s\": mq_open was called", bad[i]);
		errno = 0;
		if (ipc_mq_open(bad[i], O_RDWR) != (mqd_t)-1 || errno != EINVAL)
			fail_msg("open of \"%s\": errno %s, wanted EINVAL", bad[i],
				 mech_errno_name(errno));
	}
	longest_name(longest, sizeof longest, f->name);
	assert_int_equal(ipc_mq_check_name(longest), 0);
	close_tracked(create(longest, 1, 16, O_RDWR));
	assert_int_equal(ipc_mq_unlink(longest), 0);

	strcat(longest, "x"); /* one over */
	errno = 0;
	assert_int_equal(ipc_mq_check_name(longest), -1);
	assert_errno(ENAMETOOLONG);
	errno = 0;
	assert_int_equal(ipc_mq_create(longest, 1, 16, O_RDWR), (mqd_t)-1);
	assert_errno(ENAMETOOLONG);
	assert_int_equal(ipc_mq_check_name("/ok"), 0);
}

/* That nothing of that name exists. */
static void assert_no_queue(const char *name)
{
	mqd_t q;

	errno = 0;
	q = ipc_mq_open(name, O_RDONLY);
	if (q != (mqd_t)-1) {
		track(q);
		track_name(name);
		fail_msg("a queue %s was made", name);
	}
	assert_errno(ENOENT);
}

/*
 * Attributes over /proc/sys/fs/mqueue's limits, or negative, are EINVAL
 * before mq_open is called (the seam's log has none), so a process with
 * CAP_SYS_RESOURCE, which the kernel would let through, is held to them
 * too; and nothing was made. The limits themselves are allowed.
 */
static void mq_attributes_over_limits_are_einval_before_creation(void **state)
{
	struct fixture *f = *state;
	struct ipc_mq_limits lim;
	struct mq_attr attr;
	mqd_t q;

	if (ipc_mq_limits(&lim) != 0)
		fail_msg("no limits: %s", strerror(errno));
	const long bad[][2] = {{lim.msg_max + 1, 16}, {1, lim.msgsize_max + 1},
			       {-1, 16}, {1, -1}, {LONG_MAX, 16}, {1, LONG_MAX}};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ipc_fault_plan_clear();
		int err;

		errno = 0;
		q = ipc_mq_create(f->name, bad[i][0], bad[i][1], O_RDWR);
		err = errno; /* before the checks below, which may set it */
		if (mech_seam_logged("mq_open"))
			fail_msg("maxmsg %ld msgsize %ld: mq_open was called",
				 bad[i][0], bad[i][1]);
		if (q != (mqd_t)-1) {
			track(q);
			track_name(f->name);
			fail_msg("maxmsg %ld msgsize %ld: created", bad[i][0], bad[i][1]);
		}
		if (err != EINVAL)
			fail_msg("maxmsg %ld msgsize %ld: errno %s, wanted EINVAL",
				 bad[i][0], bad[i][1], mech_errno_name(err));
		assert_no_queue(f->name);
	}
	ipc_fault_plan_clear();
	q = create(f->name, lim.msg_max, lim.msgsize_max, O_RDWR);
	assert_true(mech_seam_logged("mq_open")); /* the log does show it */
	assert_int_equal(ipc_mq_attr(q, &attr), 0);
	assert_int_equal(attr.mq_maxmsg, lim.msg_max);
	assert_int_equal(attr.mq_msgsize, lim.msgsize_max);
}

/* maxmsg and msgsize 0: the system's defaults, as mq_open without
 * attributes would give. */
static void mq_zero_attributes_take_the_defaults(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 0, 0, O_RDWR);
	struct ipc_mq_limits lim;
	struct mq_attr attr;

	assert_int_equal(ipc_mq_limits(&lim), 0);
	assert_int_equal(ipc_mq_attr(q, &attr), 0);
	assert_int_equal(attr.mq_maxmsg, lim.msg_default < lim.msg_max
						 ? lim.msg_default : lim.msg_max);
	assert_int_equal(attr.mq_msgsize, lim.msgsize_default < lim.msgsize_max
						  ? lim.msgsize_default
						  : lim.msgsize_max);
}

static int write_proc(const char *path, long value)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "%ld\n", value);
	return fclose(f);
}

/* In an IPC namespace of its own, with msg_max 4 and msgsize_max 1024 under
 * the defaults (10 and 8192): step 0 the creation of a queue with 0, 0,
 * steps 1 and 2 its attributes, step 3 its unlink. */
static int child_with_lowered_limits(void *arg)
{
	const struct notifier *n = arg;
	struct mq_attr attr = {0};
	mqd_t q;

	if (unshare(CLONE_NEWIPC) != 0 ||
	    write_proc("/proc/sys/fs/mqueue/msg_default", 10) != 0 ||
	    write_proc("/proc/sys/fs/mqueue/msgsize_default", 8192) != 0 ||
	    write_proc("/proc/sys/fs/mqueue/msg_max", 4) != 0 ||
	    write_proc("/proc/sys/fs/mqueue/msgsize_max", 1024) != 0) {
		n->report->skipped = 1;
		return 0;
	}
	q = ipc_mq_create(fixture.name, 0, 0, O_RDWR);
	mech_note(n->report, 0, q);
	if (q == (mqd_t)-1)
		return 0;
	if (ipc_mq_attr(q, &attr) != 0)
		return 1;
	n->report->r[1] = attr.mq_maxmsg;
	n->report->r[2] = attr.mq_msgsize;
	ipc_mq_close(q);
	mech_note(n->report, 3, ipc_mq_unlink(fixture.name));
	return 0;
}

/*
 * Defaults set above the limits: a queue asked with 0, 0 gets the limits,
 * as mq_open without attributes does (mq_overview(7)). Asking for the
 * defaults themselves would be EINVAL from the kernel, or, for a process
 * with CAP_SYS_RESOURCE, a queue over the limits. Needs an IPC namespace of
 * its own to set them.
 */
static void mq_defaults_over_limits_give_the_limits(void **state)
{
	struct fixture *f = *state;
	struct notifier n = {(mqd_t)-1, f->report};

	mech_reap(mech_fork(child_with_lowered_limits, &n, 30), 30);
	if (f->report->skipped)
		skip(); /* no IPC namespace of our own (not root) */
	if (f->report->r[0] < 0)
		fail_msg("create with 0, 0: errno %s", mech_errno_name(f->report->err[0]));
	assert_int_equal(f->report->r[1], 4);
	assert_int_equal(f->report->r[2], 1024);
	assert_int_equal(f->report->r[3], 0);
}

/* ---- permissions --------------------------------------------------------- */

/* Mode 0600 whatever the umask (the descriptor's inode says so, and
 * /dev/mqueue where it is mounted); descriptors are close-on-exec. */
static void mq_queue_is_0600_and_close_on_exec(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	mode_t old = umask(0);
	mqd_t q = ipc_mq_create(f->name, 1, 16, O_RDWR), opened;
	struct stat st;

	umask(old);
	if (q != (mqd_t)-1)
		track_name(f->name);
	track(q);
	assert_int_equal(fstat((int)q, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_true(fcntl((int)q, F_GETFD) & FD_CLOEXEC);
	opened = track(ipc_mq_open(f->name, O_RDONLY));
	assert_true(fcntl((int)opened, F_GETFD) & FD_CLOEXEC);
	snprintf(path, sizeof path, "/dev/mqueue%s", f->name);
	if (stat(path, &st) == 0)
		assert_int_equal(st.st_mode & 07777, 0600);
}

/* As another user: steps 0 open read-only, 1 write-only, 2 read-write, 3
 * unlink. */
static int child_opens_as_other_user(void *arg)
{
	struct notifier *n = arg;
	static const int access[] = {O_RDONLY, O_WRONLY, O_RDWR};

	if (mech_become_other_user() != 0) {
		n->report->skipped = 1;
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		mqd_t q = ipc_mq_open(fixture.name, access[i]);

		mech_note(n->report, i, q);
		if (q != (mqd_t)-1)
			ipc_mq_close(q);
	}
	mech_note(n->report, 3, ipc_mq_unlink(fixture.name));
	return 0;
}

/* 0600 holds against another user: every open is EACCES, and so is an
 * unlink; the queue is still there. */
static void mq_other_user_is_refused_by_0600(void **state)
{
	struct fixture *f = *state;
	struct notifier n = {create(f->name, 1, 16, O_RDWR), f->report};

	send_byte(n.q, 'p', 0);
	mech_reap(mech_fork(child_opens_as_other_user, &n, 30), 30);
	if (f->report->skipped)
		skip(); /* not root: no other user to become */
	for (int i = 0; i < 4; i++)
		mech_assert_step_failed(f->report, i, EACCES);
	assert_int_equal(curmsgs(track(ipc_mq_open(f->name, O_RDONLY))), 1);
}

/* ---- unlink -------------------------------------------------------------- */

/* Unlinked while open: the name is gone (ENOENT, a second unlink too), the
 * descriptor still works, and a new queue of that name is another one. */
static void mq_unlinked_queue_lives_on_while_open(void **state)
{
	struct fixture *f = *state;
	mqd_t q = create(f->name, 4, 16, O_RDWR), again;

	send_byte(q, 'a', 0);
	assert_int_equal(ipc_mq_unlink(f->name), 0);
	assert_no_queue(f->name);
	errno = 0;
	assert_int_equal(ipc_mq_unlink(f->name), -1);
	assert_errno(ENOENT);
	send_byte(q, 'b', 0);
	assert_int_equal(receive_byte(q, 16, NULL), 'a');
	assert_int_equal(receive_byte(q, 16, NULL), 'b');

	again = create(f->name, 4, 16, O_RDWR);
	send_byte(q, 'c', 0);
	assert_int_equal(curmsgs(again), 0);
	assert_int_equal(curmsgs(q), 1);
}

/* ---- registry ------------------------------------------------------------ */

/* With IPCH_REGISTRY set, a queue is noted as "posix-mq@<name with % for
 * />" holding "<pid> <uid> <name>" from its creation to its unlink. */
static void mq_registry_notes_queue_until_unlinked(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], want[128];

	setenv("IPCH_REGISTRY", mech_tmpdir(), 1);
	close_tracked(create(f->name, 1, 16, O_RDWR));
	snprintf(path, sizeof path, "%s/posix-mq@%%%s", mech_tmpdir(), f->name + 1);
	snprintf(want, sizeof want, "%ld %ld %s\n", (long)getpid(), (long)geteuid(),
		 f->name);
	mech_assert_file_holds(path, want);
	assert_int_equal(ipc_mq_unlink(f->name), 0);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	mech_registry_restore();
}

#define MQ_TEST(fn) cmocka_unit_test_setup_teardown(fn, mq_setup, mq_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		MQ_TEST(mq_highest_priority_first_fifo_within),
		MQ_TEST(mq_priority_at_prio_max_is_einval),
		MQ_TEST(mq_message_over_msgsize_is_emsgsize_at_sender),
		MQ_TEST(mq_buffer_under_msgsize_is_emsgsize_at_receiver),
		MQ_TEST(mq_nonblocking_full_or_empty_is_eagain),
		MQ_TEST(mq_timeout_zero_is_etimedout_at_once),
		MQ_TEST(mq_timeout_ends_no_sooner_than_its_deadline),
		MQ_TEST(mq_notify_signal_once_on_empty_to_non_empty),
		MQ_TEST(mq_notify_second_registration_is_ebusy),
		MQ_TEST(mq_notify_cancel_removes_registration),
		MQ_TEST(mq_notify_thread_runs_callback_once),
		MQ_TEST(mq_create_taken_name_is_eexist),
		MQ_TEST(mq_check_name_rejects_malformed_names),
		MQ_TEST(mq_attributes_over_limits_are_einval_before_creation),
		MQ_TEST(mq_zero_attributes_take_the_defaults),
		MQ_TEST(mq_defaults_over_limits_give_the_limits),
		MQ_TEST(mq_queue_is_0600_and_close_on_exec),
		MQ_TEST(mq_other_user_is_refused_by_0600),
		MQ_TEST(mq_unlinked_queue_lives_on_while_open),
		MQ_TEST(mq_registry_notes_queue_until_unlinked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
