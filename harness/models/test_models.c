/*
 * The message queue models on cases written by hand from the man pages:
 * msgsnd(2) and msgrcv(2) for the System V model, mq_send(3),
 * mq_receive(3), mq_getattr(3) and mq_overview(7) for the POSIX one. Each
 * test names the rule it holds the model to.
 */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/msg.h>

#include "posix_mq_model.h"
#include "sysv_mq_model.h"

#define MSGMAX 8192
#define MSGMNB 16384
#define NOWAIT IPC_NOWAIT
#define PRIO_MAX 32768u

/* ---- System V -------------------------------------------------------------- */

static struct sysv_mq_model sq;

static int sysv_setup(void **state)
{
	(void)state;
	sysv_mq_model_init(&sq, MSGMAX, MSGMNB);
	return 0;
}

static int sysv_teardown(void **state)
{
	(void)state;
	sysv_mq_model_clear(&sq);
	return 0;
}

static void send_ok(long type, const char *text)
{
	assert_int_equal(sysv_mq_model_send(&sq, type, text, strlen(text), NOWAIT), 0);
}

/* Receives with a buffer of cap bytes; checks the outcome, and on success
 * the type and the text. */
static void recv_expect(long selector, int flags, size_t cap, ssize_t want,
			long want_type, const char *want_text)
{
	char buf[64] = { 0 };
	long type = 0;
	ssize_t r = sysv_mq_model_recv(&sq, selector, flags | NOWAIT, &type, buf, cap);

	assert_int_equal(r, want);
	if (r >= 0) {
		assert_int_equal(type, want_type);
		assert_memory_equal(buf, want_text, (size_t)r);
	}
}

static void sysv_queue_is(size_t qnum, size_t cbytes)
{
	assert_int_equal(sq.qnum, qnum);
	assert_int_equal(sq.cbytes, cbytes);
}

/* "The mtype field must have a strictly positive integer value"; EINVAL
 * also for msgsz greater than MSGMAX. */
static void sysv_send_refuses_bad_type_and_size(void **state)
{
	static char big[MSGMAX + 1];

	(void)state;
	assert_int_equal(sysv_mq_model_send(&sq, 0, "a", 1, NOWAIT), -EINVAL);
	assert_int_equal(sysv_mq_model_send(&sq, -1, "a", 1, NOWAIT), -EINVAL);
	assert_int_equal(sysv_mq_model_send(&sq, LONG_MIN, "a", 1, NOWAIT), -EINVAL);
	assert_int_equal(sysv_mq_model_send(&sq, 1, big, MSGMAX + 1, NOWAIT), -EINVAL);
	sysv_queue_is(0, 0);
	assert_int_equal(sysv_mq_model_send(&sq, 1, big, MSGMAX, NOWAIT), 0);
	assert_int_equal(sysv_mq_model_send(&sq, LONG_MAX, NULL, 0, NOWAIT), 0);
	sysv_queue_is(2, MSGMAX);
}

/* Full when "the total number of bytes in the queue" would exceed
 * msg_qbytes: EAGAIN with IPC_NOWAIT, a wait without it. */
static void sysv_send_full_by_bytes(void **state)
{
	(void)state;
	sysv_mq_model_set_qbytes(&sq, 10);
	send_ok(1, "123456");
	assert_int_equal(sysv_mq_model_send(&sq, 1, "12345", 5, NOWAIT), -EAGAIN);
	assert_int_equal(sysv_mq_model_send(&sq, 1, "12345", 5, 0), SYSV_MQ_MODEL_WAITS);
	send_ok(1, "1234");
	sysv_queue_is(2, 10);
	assert_int_equal(sysv_mq_model_send(&sq, 1, "1", 1, NOWAIT), -EAGAIN);
}

/* Full when "the total number of messages in the queue" would exceed
 * msg_qbytes, so that empty messages are limited too. */
static void sysv_send_full_by_count(void **state)
{
	(void)state;
	sysv_mq_model_set_qbytes(&sq, 3);
	for (int i = 0; i < 3; i++)
		send_ok(1, "");
	assert_int_equal(sysv_mq_model_send(&sq, 1, NULL, 0, NOWAIT), -EAGAIN);
	sysv_queue_is(3, 0);
	sysv_mq_model_set_qbytes(&sq, 0);
	recv_expect(0, 0, 0, 0, 1, "");
	assert_int_equal(sysv_mq_model_send(&sq, 1, NULL, 0, NOWAIT), -EAGAIN);
}

/* A smaller msg_qbytes keeps what is queued; only sends are refused. */
static void sysv_qbytes_below_what_is_queued(void **state)
{
	(void)state;
	send_ok(1, "abcdef");
	sysv_mq_model_set_qbytes(&sq, 2);
	assert_int_equal(sysv_mq_model_send(&sq, 1, "x", 1, NOWAIT), -EAGAIN);
	recv_expect(0, 0, 64, 6, 1, "abcdef");
	send_ok(1, "x");
}

/* "If msgtyp is 0, then the first message in the queue is read." */
static void sysv_selector_zero_takes_the_first(void **state)
{
	(void)state;
	send_ok(5, "five");
	send_ok(2, "two");
	send_ok(5, "again");
	recv_expect(0, 0, 64, 4, 5, "five");
	recv_expect(0, 0, 64, 3, 2, "two");
	recv_expect(0, 0, 64, 5, 5, "again");
	recv_expect(0, 0, 64, -ENOMSG, 0, NULL);
}

/* "If msgtyp is greater than 0, then the first message in the queue of type
 * msgtyp is read"; none of that type is ENOMSG with IPC_NOWAIT. */
static void sysv_positive_selector_takes_that_type(void **state)
{
	(void)state;
	send_ok(1, "a");
	send_ok(2, "b");
	send_ok(2, "c");
	recv_expect(2, 0, 64, 1, 2, "b");
	recv_expect(3, 0, 64, -ENOMSG, 0, NULL);
	assert_int_equal(sysv_mq_model_recv(&sq, 3, 0, NULL, NULL, 0), SYSV_MQ_MODEL_WAITS);
	recv_expect(2, 0, 64, 1, 2, "c");
	recv_expect(2, 0, 64, -ENOMSG, 0, NULL);
	sysv_queue_is(1, 1);
}

/* "... unless MSG_EXCEPT was specified in msgflg, in which case the first
 * message in the queue of type not equal to msgtyp will be read." */
static void sysv_except_takes_the_first_of_another_type(void **state)
{
	(void)state;
	send_ok(1, "a");
	send_ok(1, "b");
	send_ok(3, "c");
	send_ok(2, "d");
	recv_expect(1, MSG_EXCEPT, 64, 1, 3, "c");
	recv_expect(1, MSG_EXCEPT, 64, 1, 2, "d");
	recv_expect(1, MSG_EXCEPT, 64, -ENOMSG, 0, NULL);
	recv_expect(2, MSG_EXCEPT, 64, 1, 1, "a");
}

/* MSG_EXCEPT is "used with msgtyp greater than 0": for 0 and below the
 * selector's own rule applies. */
static void sysv_except_does_not_change_zero_or_negative(void **state)
{
	(void)state;
	send_ok(2, "a");
	send_ok(1, "b");
	recv_expect(-2, MSG_EXCEPT, 64, 1, 1, "b");
	send_ok(1, "c");
	recv_expect(0, MSG_EXCEPT, 64, 1, 2, "a");
}

/* "If msgtyp is less than 0, then the first message in the queue with the
 * lowest type less than or equal to the absolute value of msgtyp will be
 * read." */
static void sysv_negative_selector_takes_the_lowest_type(void **state)
{
	(void)state;
	send_ok(3, "a");
	send_ok(2, "b");
	send_ok(4, "c");
	send_ok(2, "d");
	send_ok(1, "e");
	recv_expect(-1, 0, 64, 1, 1, "e");
	recv_expect(-3, 0, 64, 1, 2, "b");
	recv_expect(-3, 0, 64, 1, 2, "d");
	recv_expect(-2, 0, 64, -ENOMSG, 0, NULL);
	recv_expect(-3, 0, 64, 1, 3, "a");
	recv_expect(LONG_MIN, 0, 64, 1, 4, "c");
	sysv_queue_is(0, 0);
}

/* |LONG_MIN| is beyond every type: every message qualifies. */
static void sysv_long_min_selector_matches_every_type(void **state)
{
	(void)state;
	send_ok(LONG_MAX, "a");
	recv_expect(LONG_MIN, 0, 64, 1, LONG_MAX, "a");
}

/* Longer than msgsz without MSG_NOERROR: "the message isn't removed from
 * the queue and the system call fails ... E2BIG". */
static void sysv_too_long_is_e2big_and_stays(void **state)
{
	(void)state;
	send_ok(1, "hello");
	recv_expect(0, 0, 4, -E2BIG, 0, NULL);
	sysv_queue_is(1, 5);
	recv_expect(0, 0, 5, 5, 1, "hello");
}

/* E2BIG is about the message the selector chooses: a shorter message
 * further on is not taken instead. */
static void sysv_e2big_is_for_the_chosen_message(void **state)
{
	(void)state;
	send_ok(2, "longer");
	send_ok(2, "ab");
	send_ok(1, "much longer");
	recv_expect(2, 0, 2, -E2BIG, 0, NULL);
	recv_expect(-2, 0, 2, -E2BIG, 0, NULL);
	sysv_queue_is(3, 19);
}

/* "If MSG_NOERROR is specified, then the message text will be truncated
 * (and the truncated part will be lost)": all its bytes leave the queue. */
static void sysv_noerror_truncates(void **state)
{
	(void)state;
	send_ok(7, "truncated");
	send_ok(7, "next");
	recv_expect(7, MSG_NOERROR, 5, 5, 7, "trunc");
	sysv_queue_is(1, 4);
	recv_expect(0, MSG_NOERROR, 0, 0, 7, "");
	sysv_queue_is(0, 0);
}

/* ---- POSIX ------------------------------------------------------------------ */

static struct posix_mq_model pq;

static int posix_setup(void **state)
{
	(void)state;
	return posix_mq_model_init(&pq, 4, 16, PRIO_MAX);
}

static int posix_teardown(void **state)
{
	(void)state;
	posix_mq_model_clear(&pq);
	return 0;
}

static void post_ok(unsigned prio, const char *text)
{
	assert_int_equal(posix_mq_model_send(&pq, text, strlen(text), prio, 1), 0);
}

static void take_expect(ssize_t want, unsigned want_prio, const char *want_text)
{
	char buf[16] = { 0 };
	unsigned prio = ~0u;
	ssize_t r = posix_mq_model_receive(&pq, buf, sizeof buf, &prio, 1);

	assert_int_equal(r, want);
	if (r >= 0) {
		assert_int_equal(prio, want_prio);
		assert_memory_equal(buf, want_text, (size_t)r);
	}
}

static long curmsgs(void)
{
	struct mq_attr attr;

	posix_mq_model_getattr(&pq, 1, &attr);
	return attr.mq_curmsgs;
}

/* mq_getattr(3): "Both of these fields must have a value greater than
 * zero." */
static void posix_init_refuses_zero_limits(void **state)
{
	struct posix_mq_model m;

	(void)state;
	assert_int_equal(posix_mq_model_init(&m, 0, 16, PRIO_MAX), -EINVAL);
	assert_int_equal(posix_mq_model_init(&m, 4, 0, PRIO_MAX), -EINVAL);
	assert_int_equal(posix_mq_model_init(&m, 1, 1, PRIO_MAX), 0);
}

/* mq_receive(3) "removes the oldest message with the highest priority";
 * mq_send(3): "newer messages of the same priority being placed after
 * older messages with the same priority". */
static void posix_highest_priority_first_fifo_within(void **state)
{
	(void)state;
	post_ok(1, "a");
	post_ok(5, "b");
	post_ok(1, "c");
	post_ok(5, "d");
	take_expect(1, 5, "b");
	take_expect(1, 5, "d");
	post_ok(0, "e");
	post_ok(1, "f");
	take_expect(1, 1, "a");
	take_expect(1, 1, "c");
	take_expect(1, 1, "f");
	take_expect(1, 0, "e");
	take_expect(-EAGAIN, 0, NULL);
}

/* mq_overview(7): priorities are 0 to sysconf(_SC_MQ_PRIO_MAX) - 1; Linux
 * refuses the others with EINVAL. */
static void posix_priority_range(void **state)
{
	(void)state;
	assert_int_equal(posix_mq_model_send(&pq, "x", 1, PRIO_MAX, 1), -EINVAL);
	assert_int_equal(posix_mq_model_send(&pq, "x", 1, ~0u, 1), -EINVAL);
	post_ok(PRIO_MAX - 1, "top");
	post_ok(0, "low");
	take_expect(3, PRIO_MAX - 1, "top");
}

/* mq_send(3) EMSGSIZE: "msg_len was greater than the mq_msgsize
 * attribute"; "Zero-length messages are allowed." */
static void posix_send_size_limit(void **state)
{
	static const char text[17] = "0123456789abcdef";

	(void)state;
	assert_int_equal(posix_mq_model_send(&pq, text, 17, 0, 1), -EMSGSIZE);
	assert_int_equal(posix_mq_model_send(&pq, text, 16, 0, 1), 0);
	assert_int_equal(posix_mq_model_send(&pq, NULL, 0, 0, 1), 0);
	assert_int_equal(curmsgs(), 2);
	take_expect(16, 0, text);
	take_expect(0, 0, "");
}

/* mq_receive(3) EMSGSIZE: "msg_len was less than the mq_msgsize
 * attribute", however short the message is, and before the queue is
 * looked at. */
static void posix_receive_buffer_must_hold_msgsize(void **state)
{
	char buf[16];
	unsigned prio;

	(void)state;
	assert_int_equal(posix_mq_model_receive(&pq, buf, 15, &prio, 1), -EMSGSIZE);
	post_ok(0, "x");
	assert_int_equal(posix_mq_model_receive(&pq, buf, 15, &prio, 1), -EMSGSIZE);
	assert_int_equal(curmsgs(), 1);
	take_expect(1, 0, "x");
}

/* Full ("the number of messages on the queue equals the queue's mq_maxmsg
 * attribute") and empty: EAGAIN with O_NONBLOCK, ETIMEDOUT for a timeout
 * that "has already expired by the time of the call". */
static void posix_full_and_empty(void **state)
{
	char buf[16];
	unsigned prio;

	(void)state;
	assert_int_equal(posix_mq_model_receive(&pq, buf, 16, &prio, 0), -ETIMEDOUT);
	for (int i = 0; i < 4; i++)
		post_ok(0, "m");
	assert_int_equal(posix_mq_model_send(&pq, "n", 1, 0, 1), -EAGAIN);
	assert_int_equal(posix_mq_model_send(&pq, "n", 1, 0, 0), -ETIMEDOUT);
	assert_int_equal(curmsgs(), 4);
	assert_int_equal(posix_mq_model_receive(&pq, buf, 16, &prio, 0), 1);
	assert_int_equal(posix_mq_model_send(&pq, "n", 1, 0, 0), 0);
}

/* mq_getattr(3): the limits, the count, and O_NONBLOCK of the descriptor. */
static void posix_getattr(void **state)
{
	struct mq_attr attr;

	(void)state;
	post_ok(3, "a");
	posix_mq_model_getattr(&pq, 1, &attr);
	assert_int_equal(attr.mq_flags, O_NONBLOCK);
	assert_int_equal(attr.mq_maxmsg, 4);
	assert_int_equal(attr.mq_msgsize, 16);
	assert_int_equal(attr.mq_curmsgs, 1);
	posix_mq_model_getattr(&pq, 0, &attr);
	assert_int_equal(attr.mq_flags, 0);
}

#define SYSV(t) cmocka_unit_test_setup_teardown(t, sysv_setup, sysv_teardown)
#define POSIX(t) cmocka_unit_test_setup_teardown(t, posix_setup, posix_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SYSV(sysv_send_refuses_bad_type_and_size),
		SYSV(sysv_send_full_by_bytes),
		SYSV(sysv_send_full_by_count),
		SYSV(sysv_qbytes_below_what_is_queued),
		SYSV(sysv_selector_zero_takes_the_first),
		SYSV(sysv_positive_selector_takes_that_type),
		SYSV(sysv_except_takes_the_first_of_another_type),
		SYSV(sysv_except_does_not_change_zero_or_negative),
		SYSV(sysv_negative_selector_takes_the_lowest_type),
		SYSV(sysv_long_min_selector_matches_every_type),
		SYSV(sysv_too_long_is_e2big_and_stays),
		SYSV(sysv_e2big_is_for_the_chosen_message),
		SYSV(sysv_noerror_truncates),
		cmocka_unit_test(posix_init_refuses_zero_limits),
		POSIX(posix_highest_priority_first_fifo_within),
		POSIX(posix_priority_range),
		POSIX(posix_send_size_limit),
		POSIX(posix_receive_buffer_must_hold_msgsize),
		POSIX(posix_full_and_empty),
		POSIX(posix_getattr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
