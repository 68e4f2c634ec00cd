/*
 * The models on cases written by hand from the man pages: msgsnd(2) and
 * msgrcv(2) for the System V queue model, mq_send(3), mq_receive(3),
 * mq_getattr(3) and mq_overview(7) for the POSIX one, semop(2) and
 * semctl(2) (and, where they leave it open, Linux's ipc/sem.c) for the
 * semaphore set model. Each test names the rule it holds the model to.
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
#include "sysv_sem_model.h"

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

/* ---- System V semaphore sets --------------------------------------------- */

#define SEMVMX SYSV_SEM_MODEL_SEMVMX
#define UNDO SEM_UNDO

static struct sysv_sem_model ss;

static int sem_setup(void **state)
{
	(void)state;
	return sysv_sem_model_init(&ss, 4, 500);
}

/* One semop of up to four operations {num, op, flags}, by process proc. */
static int semop_by(unsigned proc, size_t n, const struct sembuf *ops)
{
	return sysv_sem_model_semop(&ss, proc, ops, n);
}

#define SEMOP(proc, ...)                                                      \
	semop_by(proc, sizeof((struct sembuf[]){ __VA_ARGS__ }) /             \
			       sizeof(struct sembuf),                         \
		 (struct sembuf[]){ __VA_ARGS__ })

static void sem_values_are(int v0, int v1, int v2, int v3)
{
	unsigned short vals[4];

	sysv_sem_model_getall(&ss, vals);
	assert_int_equal(vals[0], v0);
	assert_int_equal(vals[1], v1);
	assert_int_equal(vals[2], v2);
	assert_int_equal(vals[3], v3);
}

static void setval_ok(int num, int val)
{
	assert_int_equal(sysv_sem_model_setval(&ss, num, val), 0);
}

/* "The set of operations contained in sops is performed ... atomically":
 * a later operation that cannot proceed leaves the earlier ones undone,
 * their semadj included. */
static void sem_operations_are_all_or_nothing(void **state)
{
	(void)state;
	setval_ok(0, 1);
	assert_int_equal(SEMOP(0, { 0, -1, UNDO }, { 1, -1, NOWAIT }), -EAGAIN);
	sem_values_are(1, 0, 0, 0);
	setval_ok(2, SEMVMX);
	assert_int_equal(SEMOP(1, { 0, 2, UNDO }, { 3, 1, 0 }, { 2, 1, 0 }),
			 -ERANGE);
	sem_values_are(1, 0, SEMVMX, 0);
	sysv_sem_model_exit(&ss, 1);
	sem_values_are(1, 0, SEMVMX, 0);
	assert_int_equal(SEMOP(0, { 0, -1, 0 }, { 1, 2, 0 }), 0);
	sem_values_are(0, 2, SEMVMX, 0);
}

/* sem_op < 0 on too small a value, and sem_op 0 on a non-zero one, wait;
 * with IPC_NOWAIT "the system call fails with errno set to EAGAIN (and
 * none of the operations in sops is performed)". */
static void sem_eagain_changes_nothing(void **state)
{
	(void)state;
	setval_ok(1, 2);
	assert_int_equal(SEMOP(0, { 1, -3, NOWAIT }), -EAGAIN);
	assert_int_equal(SEMOP(0, { 1, -3, 0 }), SYSV_SEM_MODEL_WAITS);
	assert_int_equal(SEMOP(0, { 1, 0, NOWAIT }), -EAGAIN);
	sem_values_are(0, 2, 0, 0);
	assert_int_equal(SEMOP(0, { 1, -2, NOWAIT }), 0);
	sem_values_are(0, 0, 0, 0);
}

/* The operation that cannot proceed decides, by its own IPC_NOWAIT; and of
 * a wait and an ERANGE, the one met first in the array. */
static void sem_first_failure_decides(void **state)
{
	(void)state;
	assert_int_equal(SEMOP(0, { 0, -1, 0 }, { 1, -1, NOWAIT }),
			 SYSV_SEM_MODEL_WAITS);
	assert_int_equal(SEMOP(0, { 0, -1, NOWAIT }, { 1, -1, 0 }), -EAGAIN);
	setval_ok(1, SEMVMX);
	assert_int_equal(SEMOP(0, { 0, -1, NOWAIT }, { 1, 1, 0 }), -EAGAIN);
	assert_int_equal(SEMOP(0, { 1, 1, 0 }, { 0, -1, NOWAIT }), -ERANGE);
}

/* "sem_op + semval is greater than SEMVMX": ERANGE; SETVAL outside
 * 0..SEMVMX too, and Linux checks the value before the semaphore number. */
static void sem_erange_at_semvmx(void **state)
{
	(void)state;
	setval_ok(0, SEMVMX - 1);
	assert_int_equal(SEMOP(0, { 0, 2, 0 }), -ERANGE);
	assert_int_equal(SEMOP(0, { 0, 1, 0 }), 0);
	assert_int_equal(SEMOP(0, { 0, 1, NOWAIT }), -ERANGE);
	assert_int_equal(sysv_sem_model_getval(&ss, 0), SEMVMX);
	assert_int_equal(sysv_sem_model_setval(&ss, 0, SEMVMX + 1), -ERANGE);
	assert_int_equal(sysv_sem_model_setval(&ss, 0, -1), -ERANGE);
	assert_int_equal(sysv_sem_model_setval(&ss, 4, SEMVMX + 1), -ERANGE);
	assert_int_equal(sysv_sem_model_setval(&ss, 4, 0), -EINVAL);
	assert_int_equal(sysv_sem_model_setval(&ss, -1, 0), -EINVAL);
	assert_int_equal(sysv_sem_model_getval(&ss, 4), -EINVAL);
	assert_int_equal(sysv_sem_model_getval(&ss, 0), SEMVMX);
}

/* semadj is a short: an operation that would take it past -32768..32767
 * is ERANGE, although the value itself would be fine. */
static void sem_semadj_range_is_erange(void **state)
{
	(void)state;
	setval_ok(0, SEMVMX);
	assert_int_equal(SEMOP(0, { 0, -SEMVMX, UNDO }), 0);
	assert_int_equal(SEMOP(0, { 0, SEMVMX, 0 }), 0);
	assert_int_equal(SEMOP(0, { 0, -1, UNDO }), -ERANGE);
	assert_int_equal(SEMOP(0, { 0, -1, 0 }), 0);
	sem_values_are(SEMVMX - 1, 0, 0, 0);
	/* The other way: -32768 is still a semadj, -32769 is not. */
	setval_ok(1, 0);
	assert_int_equal(SEMOP(1, { 1, SEMVMX, UNDO }), 0);
	assert_int_equal(SEMOP(0, { 1, -SEMVMX, 0 }), 0);
	assert_int_equal(SEMOP(1, { 1, 1, UNDO }), 0);
	assert_int_equal(SEMOP(1, { 1, 1, UNDO }), -ERANGE);
	sem_values_are(SEMVMX - 1, 1, 0, 0);
}

/* SEM_UNDO "will be automatically undone when the process terminates";
 * Linux clamps the result to 0..SEMVMX. */
static void sem_undo_applied_on_exit(void **state)
{
	(void)state;
	assert_int_equal(SEMOP(1, { 0, 3, UNDO }, { 1, 2, UNDO }), 0);
	assert_int_equal(SEMOP(2, { 1, 1, UNDO }), 0);
	assert_int_equal(SEMOP(0, { 0, -2, 0 }), 0);
	sem_values_are(1, 3, 0, 0);
	sysv_sem_model_exit(&ss, 1);
	sem_values_are(0, 1, 0, 0);
	sysv_sem_model_exit(&ss, 1);
	sem_values_are(0, 1, 0, 0);
	/* Upwards: a take undone onto a value raised since. */
	setval_ok(2, SEMVMX);
	assert_int_equal(SEMOP(3, { 2, -5, UNDO }), 0);
	assert_int_equal(SEMOP(0, { 2, 4, 0 }), 0);
	sysv_sem_model_exit(&ss, 3);
	sem_values_are(0, 1, SEMVMX, 0);
	sysv_sem_model_exit(&ss, 2);
	sem_values_are(0, 0, SEMVMX, 0);
}

/* "semadj values in all processes are cleared" for the semaphore SETVAL
 * changes; the others' stay. */
static void sem_setval_clears_undo(void **state)
{
	(void)state;
	assert_int_equal(SEMOP(1, { 0, 2, UNDO }, { 3, 1, UNDO }), 0);
	assert_int_equal(SEMOP(2, { 0, 3, UNDO }), 0);
	assert_int_equal(SEMOP(0, { 0, 1, UNDO }), 0);
	setval_ok(0, 7);
	sysv_sem_model_exit(&ss, 1);
	sysv_sem_model_exit(&ss, 2);
	sem_values_are(7, 0, 0, 0);
	sysv_sem_model_exit(&ss, 0);
	sem_values_are(7, 0, 0, 0);
}

/* "If sem_op is zero, the process must have read permission ... this is a
 * wait-for-zero operation": it passes on 0, waits otherwise, and sees the
 * operations before it in the same call. */
static void sem_wait_for_zero(void **state)
{
	(void)state;
	assert_int_equal(SEMOP(0, { 0, 0, 0 }), 0);
	setval_ok(0, 1);
	assert_int_equal(SEMOP(0, { 0, 0, 0 }), SYSV_SEM_MODEL_WAITS);
	assert_int_equal(SEMOP(0, { 0, 0, NOWAIT }), -EAGAIN);
	assert_int_equal(SEMOP(0, { 0, -1, 0 }, { 0, 0, NOWAIT }), 0);
	sem_values_are(0, 0, 0, 0);
	assert_int_equal(SEMOP(0, { 0, 0, 0 }, { 0, 1, 0 }), 0);
	assert_int_equal(SEMOP(0, { 1, 1, 0 }, { 1, 0, NOWAIT }), -EAGAIN);
	sem_values_are(1, 0, 0, 0);
}

/* E2BIG (more than semopm operations) and EINVAL (none) come first, then
 * EFBIG for any sem_num beyond the set, before any operation is tried. */
static void sem_call_errors_come_first(void **state)
{
	struct sembuf many[501];

	(void)state;
	for (size_t i = 0; i < 501; i++)
		many[i] = (struct sembuf){ (unsigned short)(i % 8), 1, 0 };
	assert_int_equal(sysv_sem_model_semop(&ss, 0, many, 501), -E2BIG);
	assert_int_equal(sysv_sem_model_semop(&ss, 0, many, 500), -EFBIG);
	assert_int_equal(sysv_sem_model_semop(&ss, 0, many, 0), -EINVAL);
	assert_int_equal(SEMOP(0, { 0, -1, NOWAIT }, { 4, 1, 0 }), -EFBIG);
	assert_int_equal(SEMOP(0, { 0, 1, 0 }, { 65535, 1, 0 }), -EFBIG);
	for (size_t i = 0; i < 500; i++)
		many[i].sem_num = (unsigned short)(i % 4);
	assert_int_equal(sysv_sem_model_semop(&ss, 0, many, 500), 0);
	sem_values_are(125, 125, 125, 125);
}

#define SYSV(t) cmocka_unit_test_setup_teardown(t, sysv_setup, sysv_teardown)
#define POSIX(t) cmocka_unit_test_setup_teardown(t, posix_setup, posix_teardown)
#define SEM(t) cmocka_unit_test_setup(t, sem_setup)

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
		SEM(sem_operations_are_all_or_nothing),
		SEM(sem_eagain_changes_nothing),
		SEM(sem_first_failure_decides),
		SEM(sem_erange_at_semvmx),
		SEM(sem_semadj_range_is_erange),
		SEM(sem_undo_applied_on_exit),
		SEM(sem_setval_clears_undo),
		SEM(sem_wait_for_zero),
		SEM(sem_call_errors_come_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
