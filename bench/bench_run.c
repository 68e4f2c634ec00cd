/*
 * bench-run: the benchmark engine behind `ipch bench`. One measurement per
 * run, one JSON line on standard output (messages on standard error); the
 * caller repeats runs, aggregates and compares each channel backend with
 * its raw baseline, measured the same way.
 *
 * Built twice from the same sources: bench-run on ipc::ipc (plain system
 * calls) and bench-run-seam on ipc::seam (every call of the library through
 * the fault-injection seam, with no plan), so the seam's cost shows.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ipc/channel.h"
#include "measure.h"
#include "modes.h"
#include "subject.h"

#define DEFAULT_THROUGHPUT_ROUNDS 3
#define DEFAULT_CRC_ROUNDS 5
#define MAX_ROUNDS 1000
#define MAX_SECONDS 3600.0
#define DEFAULT_RING_SIZE 4096
#define DEFAULT_RING_COUNT 64
#define MAX_RING_COUNT 1000000

static const char usage[] =
	"usage: bench-run chan SUBJECT --mode throughput|latency --size BYTES --time SECONDS\n"
	"                 [--pin CPU_A,CPU_B] [--rounds N]\n"
	"       bench-run crc --size BYTES --time SECONDS [--rounds N]\n"
	"       bench-run ring-syscalls [--size BYTES] [--count N]\n"
	"       bench-run list\n"
	"\n"
	"SUBJECT: a channel backend (bench-run list) or a raw baseline (raw:pipe, ...).\n"
	"BYTES: 1 to 16777216. SECONDS: more than 0, at most 3600 (decimals allowed).\n"
	"--rounds: throughput rounds (default 3; ignored by latency) or crc rounds\n"
	"(default 5), 1 to 1000. --pin: the parent (sender) on CPU_A, the child on CPU_B.\n"
	"ring-syscalls: COUNT messages of BYTES (defaults 4096 and 64) through a\n"
	"shm-ring pair in one process, getppid() marking the phases for strace.\n"
	"Prints one JSON line. Exit status 2: bad arguments; 1: the measurement failed.\n";

struct args {
	const char *mode;    /* chan, crc, ring-syscalls, list */
	const char *subject;
	const char *how;     /* --mode */
	size_t size;
	double seconds;
	int rounds;
	size_t count;
	struct bench_pin pin;
};

/* ---- parsing ------------------------------------------------------------- */

static unsigned long long parse_number(const char *opt, const char *text,
				       unsigned long long lo, unsigned long long hi,
				       const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < lo || v > hi)
		bench_usage_error("%s '%s': give %s, %llu to %llu", opt, text, what, lo, hi);
	return v;
}

static double parse_seconds(const char *opt, const char *text)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 ||
	    v > MAX_SECONDS)
		bench_usage_error("%s '%s': give seconds, more than 0 and at most %.0f "
				  "(e.g. 0.5)", opt, text, MAX_SECONDS);
	return v;
}

static void parse_pin(const char *text, struct bench_pin *pin)
{
	const char *comma = strchr(text, ',');
	char first[32];

	if (comma == NULL || (size_t)(comma - text) >= sizeof first)
		bench_usage_error("--pin '%s': give two CPU numbers, CPU_A,CPU_B (e.g. 0,1)", text);
	memcpy(first, text, (size_t)(comma - text));
	first[comma - text] = '\0';
	pin->on = 1;
	pin->cpu[0] = (int)parse_number("--pin", first, 0, INT_MAX, "a CPU number");
	pin->cpu[1] = (int)parse_number("--pin", comma + 1, 0, INT_MAX, "a CPU number");
}

/* Whether the mode takes the option. */
static int takes(const char *mode, const char *opt)
{
	static const struct {
		const char *mode, *opts;
	} allowed[] = {
		{"chan", " --mode --size --time --pin --rounds "},
		{"crc", " --size --time --rounds "},
		{"ring-syscalls", " --size --count "},
		{"list", " "},
	};
	char word[32];

	snprintf(word, sizeof word, " %s ", opt);
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (strcmp(allowed[i].mode, mode) == 0)
			return strstr(allowed[i].opts, word) != NULL;
	return 0;
}

static void parse_option(struct args *a, const char *opt, const char *val)
{
	if (!takes(a->mode, opt))
		bench_usage_error("'%s' is not an option of bench-run %s", opt, a->mode);
	if (val == NULL)
		bench_usage_error("%s needs a value", opt);
	if (strcmp(opt, "--mode") == 0) {
		if (strcmp(val, "throughput") != 0 && strcmp(val, "latency") != 0)
			bench_usage_error("--mode '%s': give throughput or latency", val);
		a->how = val;
	} else if (strcmp(opt, "--size") == 0) {
		a->size = (size_t)parse_number(opt, val, 1, BENCH_MAX_SIZE, "a message size in bytes");
	} else if (strcmp(opt, "--time") == 0) {
		a->seconds = parse_seconds(opt, val);
	} else if (strcmp(opt, "--rounds") == 0) {
		a->rounds = (int)parse_number(opt, val, 1, MAX_ROUNDS, "a number of rounds");
	} else if (strcmp(opt, "--count") == 0) {
		a->count = (size_t)parse_number(opt, val, 2, MAX_RING_COUNT, "a number of messages, at least 2");
	} else {
		parse_pin(val, &a->pin);
	}
}

static void require(int present, const char *mode, const char *opt)
{
	if (!present)
		bench_usage_error("bench-run %s needs %s", mode, opt);
}

static void parse(int argc, char **argv, struct args *a)
{
	int i = 2;

	if (argc < 2)
		bench_usage_error("no mode given: chan, crc, ring-syscalls or list");
	a->mode = argv[1];
	if (strcmp(a->mode, "chan") != 0 && strcmp(a->mode, "crc") != 0 &&
	    strcmp(a->mode, "ring-syscalls") != 0 && strcmp(a->mode, "list") != 0)
		bench_usage_error("unknown mode '%s': give chan, crc, ring-syscalls or list", a->mode);
	if (strcmp(a->mode, "chan") == 0) {
		if (argc < 3 || argv[2][0] == '-')
			bench_usage_error("bench-run chan needs a SUBJECT first: a backend or a "
					  "raw baseline (see bench-run list)");
		a->subject = argv[2];
		i = 3;
	}
	for (; i < argc; i += 2) {
		if (strncmp(argv[i], "--", 2) != 0)
			bench_usage_error("unexpected argument '%s' to bench-run %s", argv[i], a->mode);
		parse_option(a, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
	}
	if (strcmp(a->mode, "chan") == 0) {
		require(a->how != NULL, "chan", "--mode throughput|latency");
		require(a->size != 0, "chan", "--size BYTES");
		require(a->seconds > 0, "chan", "--time SECONDS");
	} else if (strcmp(a->mode, "crc") == 0) {
		require(a->size != 0, "crc", "--size BYTES");
		require(a->seconds > 0, "crc", "--time SECONDS");
	}
}

/* ---- subjects and list --------------------------------------------------- */

int subject_open(struct subject *s, const char *name, size_t size, int two_way)
{
	s->name = name;
	s->size = size;
	s->more = bench_payload(size, BENCH_MORE);
	s->last = bench_payload(size, BENCH_LAST);
	if (strncmp(name, "raw:", 4) == 0)
		return raw_open(s, name, two_way);
	return chan_open(s, name, two_way);
}

static void usage_subject(const char *name)
{
	fprintf(stderr, "bench-run: unknown SUBJECT '%s'; give one of:", name);
	for (size_t i = 0; ipc_backends[i] != NULL; i++)
		if (ipc_backends[i]->pair != NULL)
			fprintf(stderr, " %s", ipc_backends[i]->name);
	for (size_t i = 0; raw_names[i] != NULL; i++)
		fprintf(stderr, " %s", raw_names[i]);
	fputc('\n', stderr);
	exit(2);
}

static void run_list(void)
{
	int first = 1;

	printf("{\"kind\":\"list\",\"backends\":[");
	for (size_t i = 0; ipc_backends[i] != NULL; i++) {
		if (ipc_backends[i]->pair == NULL)
			continue;
		printf("%s\"%s\"", first ? "" : ",", ipc_backends[i]->name);
		first = 0;
	}
	printf("],\"baselines\":{");
	first = 1;
	for (size_t i = 0; ipc_backends[i] != NULL; i++) {
		const char *raw = raw_baseline_of(ipc_backends[i]->name);

		if (ipc_backends[i]->pair == NULL || raw == NULL)
			continue;
		printf("%s\"%s\":\"%s\"", first ? "" : ",", ipc_backends[i]->name, raw);
		first = 0;
	}
	printf("}}\n");
}

static void run_chan(const struct args *a)
{
	int latency = strcmp(a->how, "latency") == 0;
	struct subject s;

	bench_pin_check(&a->pin);
	bench_set_context(a->subject, a->size);
	bench_cleanup_init();
	if (subject_open(&s, a->subject, a->size, latency) != 0)
		usage_subject(a->subject);
	if (latency)
		measure_latency(&s, a->seconds, &a->pin);
	else
		measure_throughput(&s, a->seconds, a->rounds ? a->rounds : DEFAULT_THROUGHPUT_ROUNDS,
				   &a->pin);
	free((void *)s.more);
	free((void *)s.last);
}

int main(int argc, char **argv)
{
	struct args a = {0};

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	parse(argc, argv, &a);
	if (strcmp(a.mode, "list") == 0) {
		run_list();
	} else if (strcmp(a.mode, "chan") == 0) {
		run_chan(&a);
	} else if (strcmp(a.mode, "crc") == 0) {
		run_crc(a.size, a.seconds, a.rounds ? a.rounds : DEFAULT_CRC_ROUNDS);
	} else {
		size_t size = a.size ? a.size : DEFAULT_RING_SIZE;
		size_t count = a.count ? a.count : DEFAULT_RING_COUNT;

		if (ring_size_for(size, count) == 0)
			bench_usage_error("ring-syscalls: %zu messages of %zu bytes need a ring "
					  "over 256 MiB; give fewer or smaller", count, size);
		run_ring_syscalls(size, count);
	}
	return 0;
}
