/*
 * signal-stress [--seed N] [--ms MS] BACKEND
 *
 * The timer stress mode of the signal-timing harness: one thread sends
 * numbered messages over BACKEND's channel pair while another receives
 * them, and a POSIX timer per thread (SIGEV_THREAD_ID, SIGRTMIN+3) fires at
 * random moments, re-armed after each expiry with a delay drawn from a
 * seeded generator, so signals land inside blocking reads, writes, polls
 * and queue calls. Each thread's handler is installed without SA_RESTART
 * (the harder case: every interrupted call fails EINTR and the library
 * must retry it). Checks: every message arrives once, in order, with its
 * type and bytes; no call reports anything but success (an EINTR that
 * escaped would); nothing arrives after the last; the timers did fire.
 * The seed is printed first, so a failure can be rerun with --seed; the
 * moments still vary with the scheduler, so a rerun is likely, not sure,
 * to fail the same way. Never alarm() or a classic signal: the fuzzing
 * engines and the test tools own those.
 *
 * Exit status: 0 passed; 1 an invariant broke; 2 bad usage or set-up.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ipc/channel.h"

#define MAX_LEN 2000
#define WAIT_MS 5000
#define MIN_DELAY_US 20
#define DELAY_SPAN_US 400

/* Both threads' handlers count here: a lock-free atomic, which a handler
 * may touch. */
static _Atomic int fired;
static struct ipc_channel *tx, *rx;
static uint64_t seed;
static long duration_ms = 1000;
static size_t sent_total;

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static _Noreturn void broken(const char *fmt, const char *what, size_t i,
			     long detail)
{
	fprintf(stderr, "signal-stress: seed %" PRIu64 ": ", seed);
	fprintf(stderr, fmt, what, i, detail);
	fputc('\n', stderr);
	exit(1);
}

static void on_timer(int sig)
{
	int saved = errno;

	(void)sig;
	atomic_fetch_add_explicit(&fired, 1, memory_order_relaxed);
	errno = saved;
}

/* Message i: its type, length and bytes follow from i alone. */
static uint16_t type_of(size_t i) { return (uint16_t)(i % 65535 + 1); }
static size_t len_of(size_t i) { return (i * 7919u) % (MAX_LEN + 1); }
static uint8_t byte_of(size_t i, size_t k) { return (uint8_t)(i * 31u + k * 7u + (k >> 8)); }

struct ticker {
	timer_t timer;
	uint64_t rng;
};

/* A timer aimed at the calling thread, armed for a random moment. */
static void ticker_start(struct ticker *t, uint64_t salt)
{
	struct sigevent ev;

	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN + 3;
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	t->rng = seed ^ salt;
	if (t->rng == 0)
		t->rng = 1;
	if (timer_create(CLOCK_MONOTONIC, &ev, &t->timer) != 0) {
		perror("signal-stress: timer_create");
		exit(2);
	}
}

/* Re-armed at every step: one expiry pending at most, at a random moment
 * of the next few hundred microseconds. */
static void ticker_rearm(struct ticker *t)
{
	struct itimerspec when = { { 0, 0 }, { 0, 0 } };

	when.it_value.tv_nsec = 1000L * (MIN_DELAY_US +
					 (long)(next(&t->rng) % DELAY_SPAN_US));
	timer_settime(t->timer, 0, &when, NULL);
}

static void ticker_stop(struct ticker *t)
{
	timer_delete(t->timer);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000L +
	       (now.tv_nsec - start->tv_nsec) / 1000000L;
}

static void *send_all(void *arg)
{
	uint8_t buf[MAX_LEN];
	struct ticker t;
	struct timespec start;
	size_t i;

	(void)arg;
	ticker_start(&t, 0x5EED5EEDu);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; elapsed_ms(&start) < duration_ms; i++) {
		enum ipc_status st;

		for (size_t k = 0; k < len_of(i); k++)
			buf[k] = byte_of(i, k);
		ticker_rearm(&t);
		st = ipc_send(tx, type_of(i), buf, len_of(i), WAIT_MS);
		if (st != IPC_OK)
			broken("%s message %zu gave status %ld (errno shown by"
			       " ipc_channel_errno): a signal must never"
			       " surface", "sending", i, (long)st);
	}
	ticker_stop(&t);
	sent_total = i;
	ipc_channel_close(tx);
	tx = NULL;
	return NULL;
}

/* Receives until the peer's close; returns how many arrived. */
static size_t receive_all(void)
{
	struct ticker t;
	struct ipc_msg m;
	enum ipc_status st;
	size_t i;

	ticker_start(&t, 0xC0FFEEu);
	for (i = 0;; i++) {
		ticker_rearm(&t);
		st = ipc_recv(rx, &m, WAIT_MS);
		if (st != IPC_OK)
			break;
		if (m.type != type_of(i) || m.length != len_of(i))
			broken("%s message %zu: wrong type or length (%ld"
			       " bytes): lost, duplicated or out of order",
			       "receiving", i, (long)m.length);
		for (size_t k = 0; k < m.length; k++)
			if (m.data[k] != byte_of(i, k))
				broken("%s message %zu: byte %ld changed",
				       "receiving", i, (long)k);
	}
	ticker_stop(&t);
	if (st != IPC_PEER_CLOSED)
		broken("%s after message %zu gave status %ld; expected the"
		       " peer's close: a signal must never surface",
		       "receiving", i, (long)st);
	return i;
}

static int usage(void)
{
	fprintf(stderr, "usage: signal-stress [--seed N] [--ms MS] BACKEND\n"
		"backends:");
	for (size_t i = 0; ipc_backends[i] != NULL; i++)
		fprintf(stderr, " %s", ipc_backends[i]->name);
	fprintf(stderr, "\n");
	return 2;
}

int main(int argc, char **argv)
{
	const struct ipc_backend *backend = NULL;
	struct ipc_opts opts;
	struct sigaction sa;
	pthread_t sender;
	struct timespec now;
	size_t received;

	clock_gettime(CLOCK_REALTIME, &now);
	seed = (uint64_t)now.tv_nsec ^ (uint64_t)now.tv_sec << 20 ^ (uint64_t)getpid();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc)
			duration_ms = strtol(argv[++i], NULL, 0);
		else if ((backend = ipc_backend_find(argv[i])) == NULL)
			return usage();
	}
	if (backend == NULL)
		return usage();
	printf("signal-stress: %s, seed %" PRIu64 ", %ld ms\n", backend->name,
	       seed, duration_ms);
	fflush(stdout);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_timer; /* no SA_RESTART: interrupted calls fail */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN + 3, &sa, NULL);
	memset(&opts, 0, sizeof opts);
	if (ipc_channel_pair(backend, &opts, &tx, &rx) != IPC_OK) {
		fprintf(stderr, "signal-stress: cannot make a %s pair\n",
			backend->name);
		return 2;
	}
	if (pthread_create(&sender, NULL, send_all, NULL) != 0)
		return 2;
	received = receive_all();
	pthread_join(sender, NULL);
	if (received != sent_total)
		broken("%s: %zu messages arrived of %ld sent", "receiving",
		       received, (long)sent_total);
	ipc_channel_close(rx);
	printf("signal-stress: %zu messages, %d timer signals, all arrived"
	       " once, in order, intact\n", sent_total, atomic_load(&fired));
	if (atomic_load(&fired) == 0)
		broken("%s: %zu messages and no timer signal %ld: the stress"
		       " did not stress", "timers", sent_total, 0L);
	return 0;
}
