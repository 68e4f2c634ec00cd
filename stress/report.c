/*
 * The report: one table row per scenario, then each violation with the
 * seed and the one command that replays its run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "stress.h"

#define SHOWN 5 /* violations printed per scenario */

unsigned stress_violations(const struct stress_run *run)
{
	return atomic_load(&run->board->nviolations);
}

void stress_report_header(const struct stress_options *o)
{
	printf("%d %s per scenario, %.4g s each%s\n", o->procs,
	       o->threads ? "threads" : "processes", o->seconds,
	       o->kill_rate > 0 ? ", with kills" : "");
	printf("%-26s %5s %10s %9s %10s %6s\n", "scenario", "procs", "ops/s",
	       "checks", "violations", "kills");
	fflush(stdout);
}

void stress_report_row(const struct stress_run *run)
{
	double secs = run->elapsed > 0 ? run->elapsed : 1;

	printf("%-26s %5d %10.0f %9" PRIu64 " %10u %6zu\n", run->scn->name,
	       run->nworkers, (double)run->ops / secs,
	       (uint64_t)atomic_load(&run->board->checks), stress_violations(run),
	       run->nkills);
	if (run->deferred)
		printf("  (%zu kill attempts found their worker in a phase the"
		       " scenario keeps kills out of, and chose again)\n", run->deferred);
	if (run->note[0])
		printf("  (%s)\n", run->note);
	fflush(stdout);
}

/* The command that runs this scenario again the same way. */
static void replay_command(const struct stress_run *run,
			   const struct stress_options *o)
{
	const char *ipch = getenv("IPCH_STRESS_COMMAND");

	printf("  replay: %s %s --procs %d --time %.4g --seed %" PRIu64,
	       ipch && *ipch ? ipch : "ipch stress", run->scn->name, run->nworkers,
	       run->seconds, run->seed);
	if (run->kill_rate > 0)
		printf(" --kill-rate %.4g", run->kill_rate);
	if (run->threads)
		printf(" --threads");
	if (o->stop_on_violation)
		printf(" --stop-on-violation");
	if (o->watchdog != 10)
		printf(" --watchdog %.4g", o->watchdog);
	if (run->variant)
		printf(" --variant %s", run->variant);
	printf("\n");
}

void stress_report_violations(const struct stress_run *run,
			      const struct stress_options *o)
{
	const struct stress_board *b = run->board;
	unsigned n = stress_violations(run);

	if (n == 0)
		return;
	printf("\n%s: %u violation%s, the first after %.2f s (seed %" PRIu64 ")\n",
	       run->scn->name, n, n == 1 ? "" : "s", run->detected_at, run->seed);
	for (unsigned i = 0; i < n && i < SHOWN; i++) {
		const struct stress_violation *v = &b->violations[i];

		if (atomic_load(&v->ready))
			printf("  VIOLATION %s: %s\n", v->name, v->text);
		else
			printf("  VIOLATION (a worker was killed while recording it)\n");
	}
	if (n > SHOWN)
		printf("  ... and %u more\n", n - SHOWN);
	if (run->nkills) {
		size_t kept = run->nkills < STRESS_MAX_KILLS ? run->nkills : STRESS_MAX_KILLS;
		size_t first = kept > 5 ? kept - 5 : 0;

		printf("  kills: %zu (%s", run->nkills, first ? "the last recorded: " : "");
		for (size_t i = first; i < kept; i++)
			printf("%sworker %d#%u in %s at %.2f s%s", i > first ? "; " : "",
			       run->kills[i].worker, run->kills[i].incarnation,
			       stress_phase_name(run->kills[i].phase), run->kills[i].at,
			       run->kills[i].self ? ", by itself" : "");
		printf(")\n");
	}
	replay_command(run, o);
	printf("  (the seed fixes every worker's choices and the kill schedule;"
	       " the scheduler still varies, so a replay is likely, not certain,"
	       " to fail the same way)\n");
	fflush(stdout);
}
