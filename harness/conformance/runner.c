/*
 * conformance [--light] [--only TEXT] [BACKEND...]
 * conformance --check-table NAME...
 *
 * Runs every case of cases.c against each named backend of ipc_backends[]
 * (all of them if none is named), under every fault plan, in each direction
 * the backend carries messages: one cmocka test per run, named
 * case/backend/plan[/direction], each in a process of its own (isolate.c).
 * A last test checks that the runner itself leaked nothing.
 *
 * --light   scales the biggest cases down for slow runs (valgrind): a 1 MiB
 *           message at a 1 MiB limit instead of 16 MiB, 500 small messages
 *           instead of 5000, 40 mixed instead of 160; every case still runs.
 * --only    runs only the runs whose name contains TEXT.
 * --check-table  passes if the names given are exactly the backends of
 *           ipc_backends[]: the build lists them to make one ctest test per
 *           backend, and this keeps that list and the table the same.
 *
 * Exit status: 0 all passed; 1 some failed; 2 bad usage; 77 every backend
 * named was skipped (it has no pair()).
 */
#include "conformance.h"

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define EXIT_USAGE 2
#define EXIT_SKIPPED 77
#define MAX_BACKENDS 64

static int fds_at_start;

static void usage(FILE *out)
{
	fprintf(out, "usage: conformance [--light] [--only TEXT] [BACKEND...]\n"
		     "       conformance --check-table NAME...\n"
		     "backends:");
	for (size_t i = 0; ipc_backends[i] != NULL; i++)
		fprintf(out, " %s", ipc_backends[i]->name);
	fprintf(out, "\n");
}

static int listed(const char *name, char **names, int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

static int check_table(char **names, int count)
{
	int bad = 0;

	for (size_t i = 0; ipc_backends[i] != NULL; i++)
		if (!listed(ipc_backends[i]->name, names, count)) {
			fprintf(stderr, "conformance: backend '%s' is in ipc_backends[] "
				"but has no conformance test: add it to "
				"IPCH_CONFORMANCE_BACKENDS in "
				"harness/conformance/CMakeLists.txt\n",
				ipc_backends[i]->name);
			bad = 1;
		}
	for (int i = 0; i < count; i++)
		if (ipc_backend_find(names[i]) == NULL) {
			fprintf(stderr, "conformance: '%s' is in "
				"IPCH_CONFORMANCE_BACKENDS but not in ipc_backends[] "
				"(impl/channel.c): remove it from "
				"harness/conformance/CMakeLists.txt or add the backend "
				"to the table\n", names[i]);
			bad = 1;
		}
	if (!bad)
		printf("conformance: the %d backends listed are exactly those of "
		       "ipc_backends[]\n", count);
	return bad;
}

/* The runner's own leak check, after every run. */
static void parent_leaks(void **state)
{
	int fds = open_fd_count();
	pid_t child = waitpid(-1, NULL, WNOHANG);
	char detail[2048];

	(void)state;
	if (fds != fds_at_start) {
		describe_open_fds(detail, sizeof detail);
		fail_msg("the runner has %d descriptors open, %d at its start; open "
			 "now: %s", fds, fds_at_start, detail);
	}
	if (child >= 0 || errno != ECHILD)
		fail_msg("the runner still has a child process after every run "
			 "(waitpid(-1) gave %d, %s)", (int)child, strerror(errno));
}

struct run_list {
	struct conf_run *runs;
	struct CMUnitTest *tests;
	size_t count;
};

static void add_run(struct run_list *l, const struct ipc_backend *b,
		    const struct conf_plan *plan, int reversed,
		    const struct conf_case *kase, const char *only)
{
	struct conf_run *r = &l->runs[l->count];

	*r = (struct conf_run){kase, b, plan, reversed, ""};
	snprintf(r->name, sizeof r->name, "%s/%s/%s%s", kase->name, b->name,
		 plan->name, !b->duplex ? "" : reversed ? "/b-to-a" : "/a-to-b");
	if (only != NULL && strstr(r->name, only) == NULL)
		return;
	l->tests[l->count] = (struct CMUnitTest){
		.name = r->name,
		.test_func = conf_run_isolated,
		.initial_state = r,
	};
	l->count++;
}

/* A plan of short transfers cannot touch a mechanism that moves whole
 * messages only (the seam gives it no short decision), nor one that moves
 * bytes through shared memory (no transfer call at all): nothing to run. */
static int plan_applies(const struct conf_plan *plan, const struct ipc_backend *b)
{
	return !((b->keeps_boundaries || b->shared_memory) &&
		 plan->pattern == IPC_PATTERN_SHORT_BY_ONE);
}

/* The whole suite under each plan in turn; duplex backends both ways. */
static void add_backend(struct run_list *l, const struct ipc_backend *b,
			const char *only)
{
	for (size_t p = 0; p < conf_nplans; p++)
		for (int reversed = 0; reversed <= (b->duplex ? 1 : 0) &&
				       plan_applies(&conf_plans[p], b); reversed++)
			for (size_t c = 0; c < conf_ncases; c++)
				add_run(l, b, &conf_plans[p], reversed, &conf_cases[c], only);
}

static int run_suite(const struct ipc_backend **backends, size_t n, const char *only)
{
	size_t most = n * conf_nplans * 2 * conf_ncases + 1;
	struct run_list l = {calloc(most, sizeof *l.runs), calloc(most, sizeof *l.tests), 0};
	char group[256] = "conformance";
	size_t skipped = 0;
	int failures;

	if (l.runs == NULL || l.tests == NULL) {
		fprintf(stderr, "conformance: out of memory for %zu runs\n", most);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (backends[i]->pair == NULL) {
			printf("conformance: backend '%s' has no pair(): skipped (every "
			       "case makes its channels with ipc_channel_pair)\n",
			       backends[i]->name);
			skipped++;
			continue;
		}
		add_backend(&l, backends[i], only);
		snprintf(group + strlen(group), sizeof group - strlen(group), " %s",
			 backends[i]->name);
	}
	if (skipped == n) {
		free(l.runs);
		free(l.tests);
		return EXIT_SKIPPED;
	}
	l.tests[l.count++] = (struct CMUnitTest){.name = "parent-leaks",
						 .test_func = parent_leaks};
	if (conf.light)
		printf("conformance: --light: a %zu-byte message at the limit, %zu "
		       "small messages, %zu mixed\n", conf.limit_message,
		       conf.many_count, conf.mixed_count);
	failures = _cmocka_run_group_tests(group, l.tests, l.count, NULL, NULL);
	free(l.runs);
	free(l.tests);
	return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const struct ipc_backend *backends[MAX_BACKENDS];
	const char *only = NULL;
	size_t n = 0;
	int light = 0, i;

	conf_isolation_init();
	fds_at_start = open_fd_count();
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--light") == 0) {
			light = 1;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--check-table") == 0) {
			return check_table(argv + i + 1, argc - i - 1);
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "conformance: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	conf_settings_init(light);
	for (; i < argc; i++) {
		const struct ipc_backend *b = ipc_backend_find(argv[i]);

		if (b == NULL || n == MAX_BACKENDS) {
			fprintf(stderr, "conformance: no backend named '%s' in "
				"ipc_backends[]\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
		backends[n++] = b;
	}
	if (n == 0)
		for (; n < MAX_BACKENDS && ipc_backends[n] != NULL; n++)
			backends[n] = ipc_backends[n];
	return run_suite(backends, n, only);
}
