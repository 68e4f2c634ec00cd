"""ipch nightly: everything the project can run, within a time budget, and a report.

The budget is for the work; the builds come first (incremental after the
first run) and are reported apart. The work's phases share the budget by
weight: each phase gets its weight's part of the time left when it starts,
so time one phase does not use goes to the phases after it. A phase that
cannot give every target or test its minimum runs a rotating part of them,
going on next run where this one stopped (the offsets are kept in the
history), so short nightly runs cover everything over a few nights.
"""

import datetime
import json
import math
import os
import random
import re
import shutil
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import (afl, campaign, clean, corpus, coverage, ctestrun, procs, project, stacks,
               stress)
from .errors import Failure, UsageError

# Phase, weight: the share of the budget each gets.
PHASES = (("libfuzzer", 20), ("afl", 21), ("merge", 5), ("msan", 4), ("stress", 10),
          ("stress-broken", 6), ("tsan", 10), ("valgrind", 15), ("coverage", 9))
PHASE_TITLES = {
    "libfuzzer": "fuzz every target with libFuzzer (ASan+UBSan)",
    "afl": "fuzz every target with AFL++ (CMPLOG main, ASan+UBSan secondary)",
    "msan": "replay every merged corpus input under MemorySanitizer",
    "stress": "stress scenarios with SIGKILLed workers",
    "stress-broken": "broken variants must be caught, their correct twins pass",
    "tsan": "the test suite under ThreadSanitizer",
    "valgrind": "the test suite under Valgrind (memcheck, Helgrind, DRD)",
    "merge": "merge the new inputs into the corpora",
    "coverage": "line and branch coverage of impl/ from the corpora",
}
MIN_LIBFUZZER_SECONDS = 5
MIN_AFL_SECONDS = 8
AFL_OVERHEAD = 2           # seconds a target's afl-fuzz spends starting and stopping
MIN_STRESS_SECONDS = 1.5
STRESS_OVERHEAD = 0.7      # seconds a scenario spends starting and checking
STRESS_KILL_RATE = 3.0     # a few kills even in the seconds a short run gives
MSAN_BATCH_TIMEOUT = 120
HISTORY_KEPT = 200
MIN_SUITE_ROUND = 15       # seconds left that are worth another ctest round
MAX_CLASSIFIED = 12        # crash files per target replayed for a signature
MIN_SHARE = 15             # seconds a phase gets however late it starts
REPORT_RESERVE = 30        # seconds kept back for dedupe, report and archives


@dataclass
class TargetRow:
    name: str
    lf_execs: int = None
    lf_rate: float = None
    afl_execs: int = None
    afl_rate: float = None
    corpus_before: int = 0
    corpus_after: int = None
    coverage: object = None   # coverage.TargetCoverage
    line_delta: float = None
    branch_delta: float = None
    msan_inputs: int = 0
    msan_failed: list = field(default_factory=list)  # (path, how)


@dataclass
class CrashGroup:
    """The inputs of one target that fail the same way (signature None: they
    failed while fuzzing but run clean on their own)."""
    target: str
    signature: object       # stacks.Signature or None
    files: list
    kept: Path              # the smallest, copied into OUT/crashes/TARGET/
    engines: list           # "libFuzzer", "AFL++", "regression"

    @property
    def key(self):
        """What makes two groups one bug: the signature, whatever the target."""
        return self.signature.hash if self.signature else f"flaky:{self.target}"


@dataclass
class Phase:
    name: str
    planned: float = 0.0
    used: float = 0.0
    note: str = ""
    failed: bool = False


class Budget:
    def __init__(self, minutes, phases):
        self.seconds = minutes * 60.0
        self.weights = {name: weight for name, weight in PHASES if name in phases}
        self.deadline = None

    def start(self):
        self.deadline = time.monotonic() + self.seconds - REPORT_RESERVE

    def left(self):
        return max(0.0, self.deadline - time.monotonic())

    def share(self, phase):
        """The phase's part of what is left, by weight among the phases to
        come; never under MIN_SHARE, so a phase after one that overran
        still runs (the run ends that much later)."""
        weight = self.weights.pop(phase)
        total = weight + sum(self.weights.values())
        return max(MIN_SHARE, self.left() * weight / total)


class Night:
    """Everything one nightly run learns, for the report."""

    def __init__(self, args):
        self.out = (Path(args.out).absolute() if args.out
                    else project.work_subdir("nightly") / "out")
        self.budget_minutes = args.budget
        self.chosen = chosen_phases(args.phases)
        self.budget = Budget(args.budget, self.chosen)
        self.seed = args.seed if args.seed is not None else random.randrange(1, 2**31)
        self.history_path = Path(args.history).absolute() if args.history else \
            project.work_subdir("nightly") / "history.json"
        self.history = load_history(self.history_path)
        last = self.history[-1] if self.history else {}
        self.offsets = dict(last.get("offsets", {}))
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.phases = {}
        self.build_seconds = 0.0
        self.broken_builds = {}   # preset -> error
        self.targets = {}
        self.crash_pairs = []     # (target, path, engine)
        self.crash_groups = []    # CrashGroup, one per target and signature
        self.stress = []          # stress rows
        self.stress_violations = []
        self.stress_command = None
        self.suites = {}          # preset or "stress-broken" -> ctestrun.Outcome
        self.coverage = None
        self.problems = []
        self.swept_before = None  # clean.Report of the sweep before the run
        self.swept = None         # clean.Report of the sweep at the end
        self.interrupted = False

    def phase(self, name):
        phase = Phase(name)
        self.phases[name] = phase
        return phase

    def row(self, target):
        return self.targets.setdefault(target, TargetRow(target))


def run(args):
    if args.budget < 2:
        raise UsageError(f"--budget {args.budget}: give at least 2 minutes")
    night = Night(args)
    prepare_out(night.out)
    project.work_subdir("logs")
    print(f"ipch nightly: budget {args.budget} min, output {night.out}, "
          f"stress seed {night.seed}", file=sys.stderr, flush=True)
    # What earlier, killed runs left is theirs, not this run's.
    night.swept_before = clean.sweep(clean.known_registries())
    try:
        targets = build_everything(night)
        night.budget.start()
        for name in night.chosen:
            run_phase(night, name, targets)
    except KeyboardInterrupt:
        night.interrupted = True
        procs.stop_all()
        night.problems.append("the run was interrupted; the report covers what ran")
    finish(night)
    if night.interrupted:
        return 130
    from . import nightly_report
    return 1 if nightly_report.failures(night) else 0


def chosen_phases(text):
    """The phases named in --phases (all by default), in the order they run."""
    if not text:
        return [name for name, _ in PHASES]
    names = [word.strip() for word in text.split(",") if word.strip()]
    known = [name for name, _ in PHASES]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(f"--phases: unknown phase '{unknown[0]}'; the phases are: "
                         f"{', '.join(known)}")
    return [name for name in known if name in names]


def prepare_out(out):
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory; give a directory to write into")
    out.mkdir(parents=True, exist_ok=True)
    for name in ("crashes", "corpus", "plots", "logs", "coverage"):
        shutil.rmtree(out / name, ignore_errors=True)
        (out / name).mkdir()


# ---- builds ------------------------------------------------------------

def build_everything(night):
    """Every build the phases need; a preset that fails to build is reported
    and its phases skipped, the rest go on."""
    began = time.monotonic()
    listing = project.Build("libfuzzer")
    try:
        targets = listing.fuzz_targets()
    except Failure as err:
        raise Failure(f"cannot list the fuzz targets: {err}") from err
    replays = [f"replay-{t}" for t in targets]
    steps = [("libfuzzer", lambda: project.Build("libfuzzer").build()),
             ("afl", afl.build_all),
             ("msan", lambda: project.Build("msan").build(replays)),
             ("asan", lambda: project.Build("asan").build(replays)),
             ("default", lambda: project.Build("default").build()),
             ("tsan", lambda: project.Build("tsan").build()),
             ("valgrind", lambda: project.Build("valgrind").build()),
             ("coverage", lambda: project.Build("coverage").build(replays))]
    wanted = {preset for name in night.chosen for preset in NEEDS[name]}
    for preset, step in steps:
        if preset not in wanted:
            continue
        print(f"ipch nightly: building {preset}", file=sys.stderr, flush=True)
        try:
            step()
        except Failure as err:
            night.broken_builds[preset] = str(err)
    night.build_seconds = time.monotonic() - began
    for target in targets:
        night.row(target).corpus_before = count_files(project.seed_dir(target))
    return targets


NEEDS = {"libfuzzer": ("libfuzzer", "asan"), "afl": ("afl", "asan"), "msan": ("msan",),
         "stress": ("default",), "stress-broken": ("default",), "tsan": ("tsan",),
         "valgrind": ("valgrind",), "merge": ("libfuzzer",), "coverage": ("coverage",)}


def run_phase(night, name, targets):
    phase = night.phase(name)
    phase.planned = night.budget.share(name)
    broken = [p for p in NEEDS[name] if p in night.broken_builds]
    if broken:
        phase.note = f"skipped: preset {broken[0]} did not build"
        phase.failed = True
        return
    print(f"ipch nightly: {name}: {PHASE_TITLES[name]} ({phase.planned:.0f} s)",
          file=sys.stderr, flush=True)
    began = time.monotonic()
    try:
        PHASE_RUNNERS[name](night, phase, targets)
    except Failure as err:
        phase.failed = True
        phase.note = str(err)
        night.problems.append(f"{name}: {err}")
    phase.used = time.monotonic() - began


def rotation(night, key, items, count):
    """count of items, from where the last run's rotation stopped."""
    if count >= len(items):
        night.offsets[key] = 0
        return list(items)
    start = night.offsets.get(key, 0) % len(items)
    chosen = [items[(start + i) % len(items)] for i in range(count)]
    night.offsets[key] = (start + count) % len(items)
    return [item for item in items if item in chosen]


def skipped_note(chosen, targets, seconds):
    if len(chosen) == len(targets):
        return f"{len(targets)} targets, {seconds:.0f} s each"
    return (f"{len(chosen)} of {len(targets)} targets this run (at least {seconds:.0f} s "
            f"each; the others come next run)")


# ---- fuzzing -----------------------------------------------------------

def fuzz_libfuzzer(night, phase, targets):
    build = project.Build("libfuzzer")
    work = project.work_dir()
    for replay in (campaign.RegressionReplay(build, t, work) for t in targets):
        replay.run()
        night.problems.extend(replay.problems)
        for path, _ in replay.failed:
            night.crash_pairs.append((replay.name, path, "regression"))
    cores = procs.cpu_count()
    per_target = max(MIN_LIBFUZZER_SECONDS, int(phase.planned * cores / len(targets)))
    count = max(1, int(phase.planned * cores // per_target))
    chosen = rotation(night, "libfuzzer", targets, count)
    fuzzings = [campaign.TargetFuzzing(build, t, per_target, work) for t in chosen]
    campaign.fuzz_all(fuzzings, per_target, cores)
    for fuzzing in fuzzings:
        row = night.row(fuzzing.name)
        row.lf_execs = fuzzing.execs_before
        row.lf_rate = fuzzing.execs_before / fuzzing.seconds_used if fuzzing.seconds_used else 0
        night.problems.extend(f"libFuzzer: {p}" for p in fuzzing.problems)
        for path in campaign.crash_files(fuzzing):
            night.crash_pairs.append((fuzzing.name, path, "libFuzzer"))
    phase.note = skipped_note(chosen, targets, per_target)


def fuzz_afl(night, phase, targets):
    jobs = min(2, procs.cpu_count()) if procs.cpu_count() > 1 else 1
    per_target = max(MIN_AFL_SECONDS, int(phase.planned / len(targets) - AFL_OVERHEAD))
    count = max(1, int(phase.planned // (per_target + AFL_OVERHEAD)))
    chosen = rotation(night, "afl", targets, count)
    # Built once for all targets before the work began; afl.fuzz would
    # check each target's three builds again.
    instances = afl.plan(jobs)
    builds = {preset: project.Build(preset) for preset in afl.presets_of(instances)}
    for target in chosen:
        seconds = max(MIN_AFL_SECONDS, int(min(per_target, night.budget.left())))
        result = afl.run(target, builds, instances, seconds, afl.default_sync_dir(target),
                         quiet=True)
        row = night.row(target)
        row.afl_execs = result.execs
        row.afl_rate = result.execs_per_sec
        night.problems.extend(f"AFL++ {target}: {p}" for p in result.problems)
        for path in list(result.crashes) + list(result.hangs):
            night.crash_pairs.append((target, path, "AFL++"))
        print(f"ipch nightly: afl {target}: {result.execs} execs "
              f"({result.execs_per_sec:.0f}/s), {len(result.crashes)} crashes",
              file=sys.stderr, flush=True)
    phase.note = skipped_note(chosen, targets, per_target) + f", {jobs} instance(s)"


# ---- MemorySanitizer -----------------------------------------------------

def corpus_inputs(night, target):
    """Every input of the target's merged corpus and regressions, or, without
    a merge, of its committed, regression, working and AFL++ corpora: what
    the coverage phase replays too."""
    gathered = coverage.gather_inputs(target, project.work_dir(), merged_root(night))
    return [path for inputs in gathered.values() for path in inputs]


def replay_msan(night, phase, targets):
    build = project.Build("msan")
    deadline = time.monotonic() + phase.planned
    done = 0
    for target in targets:
        if time.monotonic() >= deadline:
            break
        row = night.row(target)
        pending = corpus_inputs(night, target)
        binary = build.replay_binary(target)
        while pending and time.monotonic() < deadline:
            culprit, ran = replay_batch(binary, target, pending, night)
            row.msan_inputs += ran
            if culprit is None:
                break
            row.msan_failed.append(culprit)
            index = next(i for i, p in enumerate(pending) if p == culprit[0])
            pending = pending[index + 1:]
        done += 1
    phase.note = f"{sum(r.msan_inputs for r in night.targets.values())} inputs of " \
                 f"{done} of {len(targets)} targets"


def replay_batch(binary, target, files, night):
    """Run files through binary; returns ((culprit, how) or None, inputs run)."""
    log = night.out / "logs" / f"msan-{target}.log"
    with open(log, "ab") as out:
        offset = out.tell()
        proc = procs.spawn([binary] + files, stdout=out, stderr=out)
    try:
        finished = procs.wait(proc, MSAN_BATCH_TIMEOUT)
    finally:
        procs.stop(proc)
    text = log.read_bytes()[offset:].decode(errors="replace")
    started = re.findall(r"^replay: (.*)$", text, re.M)
    if finished and proc.returncode == 0:
        return None, len(files)
    how = ("hung" if not finished else procs.describe_status(proc.returncode))
    culprit = Path(started[-1]) if started else files[0]
    if culprit not in files:
        culprit = files[0]
    return (culprit, how), len(started)


# ---- stress ------------------------------------------------------------

def run_stress(night, phase, targets):
    build = project.Build("default")
    binary = build.dir / "stress" / "ipch-stress"
    scenarios = stress.scenarios(binary)
    seconds = max(MIN_STRESS_SECONDS,
                  math.floor((phase.planned / len(scenarios) - STRESS_OVERHEAD) * 10) / 10)
    count = max(1, int(phase.planned // (seconds + STRESS_OVERHEAD)))
    chosen = rotation(night, "stress", scenarios, count)
    procs_n = 2 * procs.cpu_count()
    args = chosen + ["--procs", str(procs_n), "--time", str(seconds), "--seed",
                     str(night.seed), "--kill-rate", str(STRESS_KILL_RATE)]
    log = night.out / "logs" / "stress.log"
    replay = f"{project.ipch_command()} stress"
    procs.announce([binary] + args, suffix=f" > {log}")
    with open(log, "wb") as out:
        proc = procs.spawn([binary] + args, stdout=out, stderr=out,
                           env={"IPCH_STRESS_COMMAND": replay})
    limit = len(chosen) * (seconds + 60)
    try:
        if not procs.wait(proc, limit):
            procs.stop(proc)
            night.problems.append(f"stress: still running after {limit:.0f} s; stopped")
    finally:
        procs.stop(proc)
    text = log.read_text(errors="replace")
    night.stress.extend(stress.table_rows(text, scenarios))
    parse_violations(night, text)
    night.stress_command = procs.shown(["./ipch", "stress"] + args)
    if proc.returncode not in (0, 1) or not night.stress:
        night.problems.append(f"stress: ipch-stress ended with "
                              f"{procs.describe_status(proc.returncode)}; see logs/stress.log")
    phase.note = (f"{len(chosen)} of {len(scenarios)} scenarios, {procs_n} workers, "
                  f"{seconds} s each, seed {night.seed}")


def parse_violations(night, text):
    """The first VIOLATION line and the replay command of each scenario that had one."""
    current = None
    for line in text.splitlines():
        header = re.match(r"^(\S+): (\d+) violations?,", line)
        if header:
            current = {"scenario": header.group(1), "count": int(header.group(2)),
                       "first": None, "replay": None}
            night.stress_violations.append(current)
        elif current and line.strip().startswith("VIOLATION") and not current["first"]:
            current["first"] = line.strip()
        elif current and line.strip().startswith("replay:"):
            current["replay"] = line.strip()[len("replay:"):].strip()


# ---- ctest suites ------------------------------------------------------

def suite_phase(night, phase, preset, only=None):
    """The preset's tests in rounds: each round the tests that fit the time
    left (by ctest's cost data), until all ran or too little time is left
    for another; the next run starts where the last round stopped."""
    build_dir = project.Build(preset).dir
    names = ctestrun.listed_tests(build_dir)
    if only:
        names = [n for n in names if re.match(only, n)]
    key = f"ctest-{phase.name}"
    guess = ctestrun.GUESS_SECONDS.get(preset, ctestrun.DEFAULT_GUESS)
    costs = ctestrun.known_costs(build_dir)
    log = night.out / "logs" / f"ctest-{phase.name}.log"
    deadline = time.monotonic() + phase.planned
    ran, results, seconds, stopped = [], {}, 0.0, False
    while len(ran) < len(names) and not stopped:
        left = deadline - time.monotonic()
        if ran and left < MIN_SUITE_ROUND:
            break
        selection = ctestrun.select(names, costs, left, procs.cpu_count(),
                                    night.offsets.get(key, 0), guess, skip=set(ran))
        selection.filtered = bool(only)
        night.offsets[key] = selection.next_offset
        outcome = ctestrun.run(preset, build_dir, selection, left, log)
        ran += selection.names
        results.update(outcome.results)
        seconds += outcome.seconds
        stopped = outcome.stopped
    whole = len(ran) == len(names)
    outcome = ctestrun.Outcome(preset, ctestrun.Selection(
        [n for n in names if n in set(ran)], len(names), night.offsets.get(key, 0), 0.0),
        results, seconds, log, stopped)
    night.suites[phase.name] = outcome
    count = "all" if whole else f"{len(ran)} of {len(names)}"
    phase.note = (f"{count} tests, {len(outcome.passed())} passed, "
                  f"{len(outcome.failed())} failed")
    if outcome.not_run():
        phase.note += f", {len(outcome.not_run())} not reached"
    if not whole:
        phase.note += " (the rest rotate in next run)"


def run_tsan(night, phase, targets):
    suite_phase(night, phase, "tsan")


def run_valgrind(night, phase, targets):
    suite_phase(night, phase, "valgrind")


def run_broken(night, phase, targets):
    suite_phase(night, phase, "default", only=r"stress\.(broken|correct)\.")


# ---- corpus merge and coverage -----------------------------------------

def merge_corpora(night, phase, targets):
    build = project.Build("libfuzzer")
    deadline = time.monotonic() + phase.planned
    merged = 0
    for target in targets:
        into = night.out / "corpus" / target
        seeds = project.seed_dir(target)
        shutil.copytree(seeds, into) if seeds.is_dir() else into.mkdir(parents=True)
        sources = [d for d in [project.work_dir() / "corpus" / target]
                   + afl.queue_dirs(target) if d.is_dir()]
        if sources and time.monotonic() < deadline:
            corpus.merge_into(build, target, into, sources,
                              f"merging the new inputs of {target}")
            merged += 1
        night.row(target).corpus_after = count_files(into)
    added = sum((r.corpus_after or 0) - r.corpus_before for r in night.targets.values())
    phase.note = f"{merged} of {len(targets)} targets merged, {added} inputs added"


def last_measured(history, target, key):
    """The latest value of key for target in the runs of the history that
    measured it (a run of some phases only may not have)."""
    for run in reversed(history):
        value = run.get("targets", {}).get(target, {}).get(key)
        if value is not None:
            return value
    return None


def change(now, before):
    return None if now is None or before is None else now - before


def merged_root(night):
    """The corpora the merge phase wrote, if it ran; else every corpus."""
    root = night.out / "corpus"
    return root if "merge" in night.chosen and any(root.iterdir()) else None


def measure_coverage(night, phase, targets):
    history = night.history_path.with_name("coverage-history.jsonl")
    night.coverage = coverage.measure(targets, night.out / "coverage", history=history,
                                      time_budget=phase.planned, per_target_html=False,
                                      corpus_root=merged_root(night))
    night.problems.extend(f"coverage: {p}" for p in night.coverage.problems)
    # An input of the corpus that crashes or hangs in the coverage build is
    # a crash like any other (the replay drivers check more than the
    # engines' builds do: a second run's calls, say).
    for target, path, _ in night.coverage.crashed:
        night.crash_pairs.append((target, path, "coverage replay"))
    for target, cov in night.coverage.targets.items():
        row = night.row(target)
        row.coverage = cov
        row.line_delta = change(cov.line_pct, last_measured(night.history, target, "line_pct"))
        row.branch_delta = change(cov.branch_pct,
                                  last_measured(night.history, target, "branch_pct"))
    phase.note = f"{len(night.coverage.targets)} of {len(targets)} targets"


PHASE_RUNNERS = {"libfuzzer": fuzz_libfuzzer, "afl": fuzz_afl, "msan": replay_msan,
                 "stress": run_stress, "stress-broken": run_broken, "tsan": run_tsan,
                 "valgrind": run_valgrind, "merge": merge_corpora,
                 "coverage": measure_coverage}


# ---- the end: crashes, history, report ----------------------------------

def finish(night):
    try:
        group_crashes(night)
    except (Failure, KeyboardInterrupt) as err:
        night.problems.append(f"grouping the crashes by stack failed: {err}")
    sweep_leftovers(night)
    from . import nightly_report  # it reads this module's tables
    entry = history_entry(night)
    night.history.append(entry)
    save_history(night.history_path, night.history[-HISTORY_KEPT:])
    shutil.copy2(night.history_path, night.out / "history.json")
    write_archives(night)
    nightly_report.write_all(night)
    print(nightly_report.summary_line(night))
    print(f"report: {night.out / 'report.md'} (and report.html, junit.xml)")


def sweep_leftovers(night):
    """Remove the IPC objects of processes killed during the run: an engine
    ends a run by killing the input it is on, and a phase out of time
    stops its replays, so a queue or segment made just before can be
    left. The registry knows them (docs/cleanup.md); the report lists them."""
    night.swept = clean.sweep(clean.known_registries())
    lines = ([f"removed {line}" for line in night.swept.removed]
             + [f"could not remove {line}" for line in night.swept.failed])
    (night.out / "logs" / "sweep.log").write_text("\n".join(lines) + "\n" if lines else "")
    for line in night.swept.failed:
        night.problems.append(f"sweep: could not remove {line}")


def group_crashes(night):
    """One group per target and stack signature; the smallest file of each
    is copied into OUT. Of a target's files, the MAX_CLASSIFIED smallest
    are replayed to learn their signature: a planted bug can leave
    hundreds, and the smallest show every way it fails."""
    engines, by_target = {}, {}
    for target, path, engine in night.crash_pairs:
        engines.setdefault((target, str(path)), set()).add(engine)
        by_target.setdefault(target, {})[str(path)] = Path(path)
    pairs = []
    for target, paths in by_target.items():
        ordered = sorted(paths.values(), key=lambda p: (p.stat().st_size, p.name))
        pairs += [(target, path) for path in ordered[:MAX_CLASSIFIED]]
        if len(ordered) > MAX_CLASSIFIED:
            night.problems.append(f"{target}: {len(ordered) - MAX_CLASSIFIED} more crash "
                                  f"file(s) not replayed for their signature")
    if not pairs:
        return
    groups, clean = stacks.dedupe(pairs)
    found_by = lambda target, files: sorted(set().union(
        *(engines.get((target, str(f)), set()) for f in files)))
    for group in groups:
        keep = min(group.files, key=lambda p: (p.stat().st_size, p.name))
        night.crash_groups.append(CrashGroup(group.target, group.signature, group.files,
                                             copy_crash(night, group.target, keep),
                                             found_by(group.target, group.files)))
    flaky = {}
    for target, path in clean:
        flaky.setdefault(target, []).append(path)
    for target, files in flaky.items():
        # Failed while fuzzing, clean on their own: a failure that depends on
        # timing or state, still a failure of the run.
        night.crash_groups.append(CrashGroup(target, None, files,
                                             copy_crash(night, target, files[0]),
                                             found_by(target, files)))


def copy_crash(night, target, path):
    directory = night.out / "crashes" / target
    directory.mkdir(parents=True, exist_ok=True)
    kept = directory / Path(path).name
    shutil.copy2(path, kept)
    return kept


def load_history(path):
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as err:
        print(f"ipch nightly: warning: history {path} unreadable ({err}); starting a new one",
              file=sys.stderr)
        return []
    return data.get("runs", []) if isinstance(data, dict) else []


def save_history(path, runs):
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    os.replace(scratch, path)


def history_entry(night):
    targets = {}
    rows = dict(night.targets)
    if night.coverage is not None and night.coverage.all is not None:
        rows[coverage.ALL] = TargetRow(coverage.ALL, coverage=night.coverage.all)
    for name, row in rows.items():
        cov = row.coverage
        targets[name] = {"libfuzzer_rate": row.lf_rate, "afl_rate": row.afl_rate,
                         # A figure of a partial replay would show as a drop.
                         "line_pct": cov.line_pct if cov and cov.complete else None,
                         "branch_pct": cov.branch_pct if cov and cov.complete else None,
                         "corpus": row.corpus_after}
    from . import nightly_report
    return {"time": night.started.strftime("%Y-%m-%d %H:%M"),
            "commit": project.git_commit(), "budget": night.budget_minutes,
            "verdict": nightly_report.summary_line(night),
            "targets": targets, "offsets": night.offsets}


def write_archives(night):
    for name in ("crashes", "corpus"):
        with tarfile.open(night.out / f"{name}.tar.gz", "w:gz") as archive:
            archive.add(night.out / name, arcname=name)


def count_files(directory):
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    return sum(1 for p in directory.iterdir() if p.is_file())
