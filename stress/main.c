/*
 * ipch-stress [SCENARIO...] [--procs N] [--time S] [--seed X] [--kill-rate R]
 *             [--threads] [--stop-on-violation] [--watchdog S] [--list]
 *             [--variant NAME]
 *
 * Runs each scenario (all if none is named; a name may be a glob or a
 * prefix: `counter` runs the three counter-* ones) with N workers for S
 * seconds, then checks its invariants and prints a table, and for each
 * violation the seed and the one command that replays the run.
 * docs/stress.md describes the scenarios.
 *
 * Exit status: 0 no violation; 1 a violation; 2 bad usage or a scenario
 * that could not be set up.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scenarios.h"

#define S_ENTRY(name, setup, op, check, teardown, summary) \
	{ name, summary, setup, op, check, teardown },
const struct stress_scenario stress_scenarios[] = { STRESS_SCENARIOS(S_ENTRY) };
const size_t stress_nscenarios = sizeof stress_scenarios / sizeof stress_scenarios[0];
#undef S_ENTRY

#define V_ENTRY(name, scenario, violation, summary) \
	{ name, scenario, violation, summary },
const struct stress_variant stress_variants[] = { STRESS_VARIANTS(V_ENTRY) };
const size_t stress_nvariants = sizeof stress_variants / sizeof stress_variants[0];
#undef V_ENTRY

#ifdef IPCH_STRESS_BROKEN
#define PROGRAM "ipch-stress-broken"
#else
#define PROGRAM "ipch-stress"
#endif

static int usage_error(const char *fmt, const char *what)
{
	fprintf(stderr, PROGRAM ": ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\n(" PROGRAM " --help for usage)\n");
	return 2;
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: " PROGRAM " [SCENARIO...] [--procs N] [--time S] [--seed X]\n"
		"         [--kill-rate R] [--threads] [--stop-on-violation]\n"
		"         [--watchdog S] [--list] [--variant NAME]\n"
		"\n"
		"SCENARIO    a name, a glob or a prefix (default: every scenario)\n"
		"--procs N   workers (default: 2 x the cores)\n"
		"--time S    seconds per scenario (default: 10)\n"
		"--seed X    the run's seed (default: from the clock, printed)\n"
		"--kill-rate R  SIGKILL about R workers a second, respawning each\n"
		"--threads   workers are threads of one process (no kills)\n"
		"--stop-on-violation  end a run at its first violation\n"
		"--watchdog S  no progress for S seconds is a deadlock (default: 10)\n"
		"--list      list the scenarios and broken variants\n"
		"--variant V run broken variant V (ipch-stress-broken only)\n");
}

static void list(void)
{
	printf("scenarios:\n");
	for (size_t i = 0; i < stress_nscenarios; i++)
		printf("  %-26s %s\n", stress_scenarios[i].name,
		       stress_scenarios[i].summary);
	printf("broken variants (ipch stress --variant NAME):\n");
	for (size_t i = 0; i < stress_nvariants; i++)
		printf("  %-26s %s: %s; must report %s\n", stress_variants[i].name,
		       stress_variants[i].scenario, stress_variants[i].summary,
		       stress_variants[i].violation);
}

static bool matches(const char *pattern, const char *name)
{
	return fnmatch(pattern, name, 0) == 0 ||
	       strncmp(name, pattern, strlen(pattern)) == 0;
}

static const struct stress_variant *find_variant(const char *name)
{
	for (size_t i = 0; i < stress_nvariants; i++)
		if (strcmp(stress_variants[i].name, name) == 0)
			return &stress_variants[i];
	return NULL;
}

static int parse_number(const char *text, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(text, &end);
	return errno || end == text || *end || *out < min || *out > max ? -1 : 0;
}

static uint64_t clock_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return stress_seed_mix((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
			       (uint64_t)getpid(), 0) % 1000000000000u;
}

/* Which scenarios run: those the patterns name, in the list's order. */
static int select_scenarios(char **patterns, int npatterns,
			    const struct stress_variant *variant, bool *chosen)
{
	for (int p = 0; p < npatterns; p++) {
		bool any = false;

		for (size_t i = 0; i < stress_nscenarios; i++)
			if (matches(patterns[p], stress_scenarios[i].name))
				chosen[i] = any = true;
		if (!any)
			return usage_error("no scenario matches '%s' (--list shows them)",
					   patterns[p]);
	}
	for (size_t i = 0; i < stress_nscenarios; i++) {
		if (npatterns == 0)
			chosen[i] = !variant || strcmp(variant->scenario,
						       stress_scenarios[i].name) == 0;
		if (chosen[i] && variant && strcmp(variant->scenario,
						   stress_scenarios[i].name) != 0)
			return usage_error("this broken variant breaks only scenario %s",
					   variant->scenario);
	}
	return 0;
}

enum { OPT_PROCS = 256, OPT_TIME, OPT_SEED, OPT_KILL_RATE, OPT_THREADS,
       OPT_LIST, OPT_VARIANT, OPT_STOP, OPT_WATCHDOG, OPT_HELP };

static const struct option options[] = {
	{ "procs", required_argument, NULL, OPT_PROCS },
	{ "time", required_argument, NULL, OPT_TIME },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "kill-rate", required_argument, NULL, OPT_KILL_RATE },
	{ "threads", no_argument, NULL, OPT_THREADS },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "variant", required_argument, NULL, OPT_VARIANT },
	{ "stop-on-violation", no_argument, NULL, OPT_STOP },
	{ "watchdog", required_argument, NULL, OPT_WATCHDOG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int parse(int argc, char **argv, struct stress_options *o, bool *seeded)
{
	double v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_PROCS:
			if (parse_number(optarg, 1, STRESS_MAX_WORKERS, &v) || v != (int)v)
				return usage_error("--procs wants a whole number from 1 to 256, not '%s'", optarg);
			o->procs = (int)v;
			break;
		case OPT_TIME:
			if (parse_number(optarg, 0.1, 86400, &o->seconds))
				return usage_error("--time wants seconds from 0.1 to 86400, not '%s'", optarg);
			break;
		case OPT_SEED:
			errno = 0;
			o->seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end)
				return usage_error("--seed wants a whole number, not '%s'", optarg);
			*seeded = true;
			break;
		case OPT_KILL_RATE:
			if (parse_number(optarg, 0, 1000, &o->kill_rate))
				return usage_error("--kill-rate wants kills a second from 0 to 1000, not '%s'", optarg);
			break;
		case OPT_WATCHDOG:
			if (parse_number(optarg, 1, 3600, &o->watchdog))
				return usage_error("--watchdog wants seconds from 1 to 3600, not '%s'", optarg);
			break;
		case OPT_THREADS:
			o->threads = true;
			break;
		case OPT_STOP:
			o->stop_on_violation = true;
			break;
		case OPT_VARIANT:
			o->variant = optarg;
			break;
		case OPT_LIST:
			list();
			exit(0);
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			return usage_error("%s", "bad usage");
		}
	}
	if (o->threads && o->kill_rate > 0)
		return usage_error("%s", "--threads with --kill-rate: a thread cannot be killed alone; kill processes, or run threads without kills");
	return 0;
}

static void on_interrupt(int sig)
{
	(void)sig;
	stress_interrupted = 1;
}

static void catch_interrupts(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
	struct stress_options o = { 0 };
	const struct stress_variant *variant = NULL;
	bool chosen[sizeof stress_scenarios / sizeof stress_scenarios[0]] = { false };
	bool seeded = false;
	unsigned violations = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	static struct stress_run runs[sizeof stress_scenarios / sizeof stress_scenarios[0]];
	size_t nruns = 0;

	o.procs = (int)(cores > 0 ? (2 * cores < STRESS_MAX_WORKERS ? 2 * cores : STRESS_MAX_WORKERS) : 4);
	o.seconds = 10;
	o.watchdog = 10;
	if (parse(argc, argv, &o, &seeded))
		return 2;
	if (o.variant) {
#ifndef IPCH_STRESS_BROKEN
		return usage_error("the broken variants (%s) are in ipch-stress-broken: run `ipch stress --variant NAME`",
				   o.variant);
#endif
		variant = find_variant(o.variant);
		if (!variant)
			return usage_error("no broken variant '%s' (--list shows them)", o.variant);
	}
	/* Without a death, not taking SEM_UNDO loses nothing to find. */
	if (variant && strcmp(variant->name, "sem-no-undo") == 0 && o.kill_rate <= 0)
		return usage_error("--variant %s needs --kill-rate: its bug shows only when a holder dies",
				   variant->name);
	if (select_scenarios(argv + optind, argc - optind, variant, chosen))
		return 2;
	if (!seeded)
		o.seed = clock_seed();
	printf("seed %" PRIu64 "%s\n", o.seed,
	       seeded ? "" : " (from the clock; --seed replays it)");
	if (variant)
		printf("broken variant %s: %s; the run must report %s\n",
		       variant->name, variant->summary, variant->violation);
	fflush(stdout);
	catch_interrupts();
	stress_report_header(&o);
	for (size_t i = 0; i < stress_nscenarios; i++) {
		struct stress_run *run = &runs[nruns];

		if (!chosen[i])
			continue;
		run->scn = &stress_scenarios[i];
		if (stress_supervise(run, &o) != 0)
			return 2;
		nruns++;
		stress_report_row(run);
		violations += stress_violations(run);
		/* Threads that would not stop still run: only exit is left. */
		if (run->abandoned || stress_interrupted ||
		    (violations && o.stop_on_violation))
			break;
	}
	for (size_t i = 0; i < nruns; i++)
		stress_report_violations(&runs[i], &o);
	fflush(stdout);
	if (nruns && runs[nruns - 1].abandoned)
		_exit(1);
	if (stress_interrupted) {
		printf("interrupted: the run was stopped, checked and torn down\n");
		return 130;
	}
	return violations ? 1 : 0;
}
