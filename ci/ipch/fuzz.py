"""ipch fuzz: one target, for a while or until Ctrl-C, optionally saving what it found."""

import signal
import sys
import time

from . import afl, libfuzzer, procs, project
from . import corpus as corpus_merge
from .errors import Failure, UsageError

# After Ctrl-C libFuzzer prints its statistics and exits; give it this long.
GRACEFUL_STOP_SECONDS = 30
STOP_MARGIN = 15


def run(args):
    if args.engine == "afl":
        return run_afl(args)
    for given, name in ((args.sync_dir, "--sync-dir"),
                        (args.secondaries_only, "--secondaries-only")):
        if given:
            raise UsageError(f"{name} is for AFL++ instances; add --engine afl")
    build = project.Build("libfuzzer")
    build.check_target(args.target)
    build.build([f"fuzz-{args.target}"])

    crash_dir = project.work_subdir("crashes", args.target)
    corpus = project.work_subdir("corpus", args.target)
    flags = libfuzzer.target_flags(args.target, crash_dir)
    cmd = [build.fuzz_binary(args.target)]
    if args.jobs > 1:
        cmd.append(f"-fork={args.jobs}")
    if args.time is not None:
        cmd.append(f"-max_total_time={args.time}")
    cmd += flags + args.extra + libfuzzer.corpus_dirs(args.target, corpus)

    since = time.time() - 1
    status, interrupted = fuzz_until_done(cmd, args.time, libfuzzer.input_timeout(flags))
    crashes = libfuzzer.failure_inputs(crash_dir, since)
    report(args.target, status, interrupted, crashes)
    if args.save:
        save(build, args.target, [corpus])
    if crashes or (status != 0 and not interrupted):
        return 1
    return 130 if interrupted else 0


def run_afl(args):
    """AFL++: a main instance and secondaries, or only secondaries that join
    another machine's output directory."""
    instances = afl.plan(args.jobs, args.secondaries_only)
    builds = afl.builds_for(args.target, instances)
    sync_dir = (afl.default_sync_dir(args.target) if args.sync_dir is None
                else args.sync_dir.absolute())
    result = afl.run(args.target, builds, instances, args.time, sync_dir, args.extra)
    afl.print_summary(result, sync_dir)
    report(args.target, 0, result.interrupted, result.crashes + result.hangs)
    if args.save:
        save(corpus_merge.fuzz_build([args.target]), args.target,
             afl.queue_dirs(args.target, sync_dir))
    if result.crashes or result.hangs or result.problems:
        return 1
    return 130 if result.interrupted else 0


def fuzz_until_done(cmd, seconds, input_timeout):
    """Run libFuzzer in the foreground; returns (exit status, interrupted?)."""
    procs.announce(cmd)
    proc = procs.spawn(cmd)
    limit = None if seconds is None else seconds + input_timeout + STOP_MARGIN
    try:
        if not procs.wait(proc, limit):
            procs.stop(proc, signal.SIGINT)
            raise Failure(f"libFuzzer was still running {limit} s after it started, "
                          f"past its -max_total_time, and was stopped")
    except KeyboardInterrupt:
        print("\nipch: interrupted; stopping libFuzzer", file=sys.stderr, flush=True)
        procs.stop(proc, signal.SIGINT, patience=GRACEFUL_STOP_SECONDS)
        return proc.returncode, True
    return proc.returncode, False


def report(target, status, interrupted, crashes):
    if crashes:
        print(f"\n{target}: {len(crashes)} crashing input(s) saved; reproduce with:")
        for path in crashes:
            print(f"  {libfuzzer.repro_command(path)}")
    elif status != 0 and not interrupted:
        print(f"\n{target}: libFuzzer failed ({procs.describe_status(status)}) "
              f"without saving an input; its output above says why")


def save(build, target, sources):
    """Merge the working corpus (or AFL++'s queues) into corpus/<target>/:
    only inputs that add coverage."""
    seeds = project.seed_dir(target)
    seeds.mkdir(parents=True, exist_ok=True)
    added = corpus_merge.merge_into(build, target, seeds, sources,
                                    f"merging the new inputs of {target} into {seeds}")
    where = project.display_path(seeds)
    print(f"\n--save: {len(added)} new input(s) added to {where}/")
    corpus_merge.show_added(where, added)
