/*
 * The two channel measurements, one loop each for every subject (channel
 * or raw baseline): the parent sends, the child receives (throughput) or
 * answers (latency). A report pipe, made before fork, carries the child's
 * "ready" and its per-round reports; the messages themselves carry the
 * end of a round (their first byte, BENCH_LAST), so the receiver makes no
 * call per message beyond receiving it, on the raw baselines as on the
 * channels.
 */
#include "measure.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"
#include "hist.h"

#define READY 0x52u
/* How many bytes the sender moves between looks at the clock: a look per
 * message would weigh on small messages through fast subjects. */
#define CLOCK_EVERY_BYTES (64u * 1024u)
#define WARMUP_ROUND_TRIPS 100
#define MIN_ROUND_TRIPS 20
#define MIN_ROUND_MESSAGES 3

struct round_report {
	uint64_t messages;
	uint64_t last_byte_ns; /* CLOCK_MONOTONIC: one clock for both processes */
};

struct child_job {
	struct subject *s;
	int report_fd;
	int rounds;
};

static void say_ready(int fd)
{
	uint8_t ready = READY;

	bench_write_report(fd, &ready, 1);
}

static void wait_ready(int fd)
{
	uint8_t ready;

	bench_read_report(fd, &ready, 1);
	if (ready != READY)
		bench_fail("the child's handshake was not understood");
}

static void print_pin(const struct bench_pin *pin)
{
	if (pin->on)
		printf("\"pinned\":true,\"cpus\":[%d,%d]", pin->cpu[0], pin->cpu[1]);
	else
		printf("\"pinned\":false,\"cpus\":null");
}

/*
 * The parent closes its ends only once the child has ended: an end that
 * closes after its peer's last copy is gone is the one that removes a
 * queue (sysv-msg), and two ends closing at the same moment could each
 * see the other still there and leave it.
 */
static void close_after_child(struct subject *s, pid_t child, unsigned bound)
{
	bench_wait_child(child, bound);
	s->ops->close(s);
}

/* Forks the child that runs child_main on job, keeps the parent's side of
 * the subject and waits for the child's "ready"; *report_fd is left with
 * the read end of the report pipe. */
static pid_t start_child(struct subject *s, const struct bench_pin *pin,
			 unsigned bound, int (*child_main)(void *),
			 struct child_job *job, int *report_fd)
{
	int report[2];
	pid_t child;

	if (pipe2(report, O_CLOEXEC) != 0)
		bench_fail_errno("pipe2");
	job->report_fd = report[1];
	child = bench_fork(pin, bound, report, child_main, job);
	s->ops->keep_side(s, PARENT_SIDE);
	wait_ready(report[0]);
	*report_fd = report[0];
	return child;
}

/* ---- throughput ---------------------------------------------------------- */

static int throughput_child(void *arg)
{
	struct child_job *job = arg;
	struct subject *s = job->s;

	s->ops->keep_side(s, CHILD_SIDE);
	say_ready(job->report_fd);
	for (int r = 0; r < job->rounds; r++) {
		struct round_report rep;

		rep.messages = s->ops->recv_round(s);
		rep.last_byte_ns = bench_now_ns();
		bench_write_report(job->report_fd, &rep, sizeof rep);
	}
	s->ops->close(s);
	return 0;
}

/* Sends until the deadline (at least MIN_ROUND_MESSAGES), the last message
 * marked; returns how many. */
static uint64_t send_round(struct subject *s, uint64_t deadline_ns)
{
	uint64_t every = s->size >= CLOCK_EVERY_BYTES ? 1 : CLOCK_EVERY_BYTES / s->size;
	uint64_t n = 0;

	for (;;) {
		int last = n + 1 >= MIN_ROUND_MESSAGES && (n + 1) % every == 0 &&
			   bench_now_ns() >= deadline_ns;

		s->ops->send(s, last);
		n++;
		if (last)
			return n;
	}
}

void measure_throughput(struct subject *s, double seconds, int rounds,
			const struct bench_pin *pin)
{
	uint64_t round_ns = (uint64_t)(seconds / rounds * 1e9);
	struct child_job job = {s, -1, rounds};
	unsigned bound = bench_bound_s(seconds);
	uint64_t *sent = bench_alloc(sizeof *sent * (size_t)rounds);
	uint64_t *ns = bench_alloc(sizeof *ns * (size_t)rounds);
	struct round_report rep;
	int report;
	pid_t child = start_child(s, pin, bound, throughput_child, &job, &report);

	for (int r = 0; r < rounds; r++) {
		uint64_t start = bench_now_ns();

		sent[r] = send_round(s, start + round_ns);
		bench_read_report(report, &rep, sizeof rep);
		if (rep.messages != sent[r])
			bench_fail("round %d: %llu messages sent, %llu received", r + 1,
				   (unsigned long long)sent[r], (unsigned long long)rep.messages);
		ns[r] = rep.last_byte_ns - start;
	}
	close_after_child(s, child, bound);
	close(report);
	/* Printed only now: a failure leaves nothing on standard output. */
	printf("{\"kind\":\"throughput\",\"subject\":\"%s\",\"size\":%zu,", s->name, s->size);
	print_pin(pin);
	printf(",\"rounds\":[");
	for (int r = 0; r < rounds; r++)
		printf("%s{\"messages\":%llu,\"bytes\":%llu,\"seconds\":%.9f}", r ? "," : "",
		       (unsigned long long)sent[r], (unsigned long long)(sent[r] * s->size),
		       (double)ns[r] / 1e9);
	printf("]}\n");
	free(sent);
	free(ns);
}

/* ---- latency ------------------------------------------------------------- */

static int latency_child(void *arg)
{
	struct child_job *job = arg;
	struct subject *s = job->s;
	uint8_t mark;

	s->ops->keep_side(s, CHILD_SIDE);
	say_ready(job->report_fd);
	do {
		mark = s->ops->recv(s);
		s->ops->send(s, mark == BENCH_LAST);
	} while (mark != BENCH_LAST);
	s->ops->close(s);
	return 0;
}

static void round_trip(struct subject *s, int last)
{
	s->ops->send(s, last);
	s->ops->recv(s);
}

static void print_latency(const struct hist *h, double seconds)
{
	static const struct {
		const char *key;
		double pct;
	} pcts[] = {{"p50_ns", 50}, {"p90_ns", 90}, {"p99_ns", 99}, {"p999_ns", 99.9}};
	int first = 1;

	printf(",\"round_trips\":%llu,\"seconds\":%.9f,\"min_ns\":%llu",
	       (unsigned long long)h->total, seconds, (unsigned long long)h->min);
	for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
		printf(",\"%s\":%llu", pcts[i].key,
		       (unsigned long long)hist_percentile(h, pcts[i].pct));
	printf(",\"max_ns\":%llu,\"mean_ns\":%.1f,\"histogram\":[",
	       (unsigned long long)h->max, hist_mean(h));
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		if (h->counts[b] == 0)
			continue;
		printf("%s[%llu,%llu]", first ? "" : ",",
		       (unsigned long long)hist_bucket_upper(b),
		       (unsigned long long)h->counts[b]);
		first = 0;
	}
	printf("]}\n");
}

void measure_latency(struct subject *s, double seconds, const struct bench_pin *pin)
{
	struct child_job job = {s, -1, 0};
	unsigned bound = bench_bound_s(seconds);
	struct hist *h = bench_alloc(sizeof *h);
	uint64_t start, end;
	int report, last = 0;
	pid_t child;

	hist_init(h);
	child = start_child(s, pin, bound, latency_child, &job, &report);
	for (int i = 0; i < WARMUP_ROUND_TRIPS; i++)
		round_trip(s, 0);
	start = bench_now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	while (!last) {
		uint64_t t0 = bench_now_ns();

		last = h->total + 1 >= MIN_ROUND_TRIPS && t0 >= end;
		round_trip(s, last);
		hist_record(h, bench_now_ns() - t0);
	}
	seconds = (double)(bench_now_ns() - start) / 1e9;
	close_after_child(s, child, bound);
	close(report);
	printf("{\"kind\":\"latency\",\"subject\":\"%s\",\"size\":%zu,", s->name, s->size);
	print_pin(pin);
	print_latency(h, seconds);
	free(h);
}
