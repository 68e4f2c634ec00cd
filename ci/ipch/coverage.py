"""ipch coverage: how much of impl/ the corpora reach, by line and by branch.

For each fuzz target, the coverage preset's replay-TARGET runs once every
input of the target's corpora: the committed corpus/TARGET/ and
corpus/regressions/TARGET/, the working corpus $IPCH_WORK_DIR/corpus/TARGET/
and AFL++'s queues $IPCH_WORK_DIR/afl/TARGET/*/queue/. llvm-profdata merges
each target's profiles, and llvm-cov counts the lines and branches of the
files under impl/ they reach: per target, and for all the targets together.

An input that crashes or hangs (runs longer than its target's -timeout:
25 s unless fuzz/TARGET.options says otherwise) is listed with the command
that reproduces it; the others still count. Each run appends its figures to a history
($IPCH_WORK_DIR/coverage/history.jsonl), and each figure is shown with its
change since the last earlier run that measured the same target.

Written to DIR (default $IPCH_WORK_DIR/coverage/latest/): summary.json,
html/index.html (all targets together), html/TARGET/index.html (one
target's) and profiles/TARGET.profdata (for llvm-cov by hand)."""

import datetime
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import libfuzzer, procs, project
from .errors import Failure, UsageError

PRESET = "coverage"
ALL = "all"
SOURCES = "impl"

TICK = 0.1
# Inputs per replay run, at most: a run that crashes, hangs or meets the end
# of the time budget writes no profile, and its inputs must run again.
BATCH_INPUTS = 256
# Time for a replay to start, and to write its profile, on top of its inputs.
STARTUP_SECONDS = 30
TOOL_TIMEOUT = 600
# Of a time budget, what the merging and the reports after the replays may
# take (they take a few seconds for every target).
REPORT_RESERVE_SECONDS = 60
REPORT_RESERVE_SHARE = 0.2

SUMMARY_FIELDS = ("lines_covered", "lines_total", "line_pct", "branches_covered",
                  "branches_total", "branch_pct", "inputs", "crashed_inputs")


@dataclass
class TargetCoverage:
    """One target's figures over impl/ (or, for "all", every target's together)."""
    lines_covered: int
    lines_total: int
    line_pct: float
    branches_covered: int
    branches_total: int
    branch_pct: float
    inputs: int = 0
    crashed_inputs: int = 0
    previous_line_pct: float = None  # from the history; None if no earlier run
    previous_branch_pct: float = None
    previous_time: str = None  # when that earlier run was (ISO 8601)
    complete: bool = True      # every input replayed (none cut by the time budget)

    def summary(self):
        return {name: getattr(self, name) for name in SUMMARY_FIELDS}


@dataclass
class Report:
    targets: dict  # target name -> TargetCoverage, in the order measured
    all: TargetCoverage  # every measured target's profiles together
    html_index: Path  # html/index.html of the report directory
    problems: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)  # build, replay, report
    every_target: bool = False  # so "all" compares with earlier runs over every target
    crashed: list = field(default_factory=list)  # (target, input, how) that crashed or hung


def percent(covered, total):
    return round(100.0 * covered / total, 2) if total else 0.0


def coverage_from_export(export):
    """The totals of an `llvm-cov export -summary-only` (its parsed JSON) as a
    TargetCoverage: the files it covers are those it was given."""
    try:
        totals = export["data"][0]["totals"]
        lines, branches = totals["lines"], totals["branches"]
        counts = (int(lines["covered"]), int(lines["count"]),
                  int(branches["covered"]), int(branches["count"]))
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise Failure(f"llvm-cov export gave no line and branch totals "
                      f"(missing {err}); it needs llvm 12 or later") from None
    lines_covered, lines_total, branches_covered, branches_total = counts
    return TargetCoverage(lines_covered, lines_total, percent(lines_covered, lines_total),
                          branches_covered, branches_total,
                          percent(branches_covered, branches_total))


# ---- the inputs --------------------------------------------------------------

def corpus_dirs(target, work, corpus_root=None):
    """The directories of target's inputs that exist, committed ones first;
    with corpus_root (a merged copy of corpus/), its TARGET/ and the
    regression inputs alone."""
    if corpus_root is not None:
        dirs = [Path(corpus_root) / target, project.regression_dir(target)]
        return [directory for directory in dirs if directory.is_dir()]
    dirs = [project.seed_dir(target), project.regression_dir(target),
            work / "corpus" / target]
    dirs += sorted((work / "afl" / target).glob("*/queue"))
    return [directory for directory in dirs if directory.is_dir()]


def is_input(path):
    """What replay_main.c runs of a directory: regular files, but no dotfile
    (AFL++'s queue/.state/, .cur_input) and no README*."""
    return (not path.name.startswith((".", "README"))) and path.is_file()


def inputs_of(directory):
    return sorted(path for path in directory.iterdir() if is_input(path))


def gather_inputs(target, work, corpus_root=None):
    """{directory: its inputs, by name} for each of target's corpus directories."""
    gathered = {}
    for directory in corpus_dirs(target, work, corpus_root):
        inputs = inputs_of(directory)
        if inputs:
            gathered[directory] = inputs
    return gathered


# ---- replaying ---------------------------------------------------------------

class TargetReplay:
    """One target's inputs run through replay-TARGET, a batch per run, each
    process writing its own profile (%p: the targets that fork); a run that
    fails is resumed without the input it failed on."""

    def __init__(self, build, target, work, scratch, corpus_root=None):
        self.target = target
        self.binary = build.replay_binary(target)
        self.raw = scratch / "raw" / target
        self.raw.mkdir(parents=True)
        self.profile = scratch / f"{target}.profdata"
        self.env = {"LLVM_PROFILE_FILE": str(self.raw / "%p-%m.profraw")}
        self.input_timeout = libfuzzer.input_timeout(libfuzzer.option_flags(target))
        self.log = project.work_subdir("logs") / f"coverage-{target}.log"
        self.log.write_bytes(b"")
        gathered = gather_inputs(target, work, corpus_root)
        self.inputs = sum(len(inputs) for inputs in gathered.values())
        self.batches = deque()
        for directory, inputs in gathered.items():
            self.queue_batches(inputs, directory if len(inputs) <= BATCH_INPUTS else None)
        self.crashed = []  # (input, how)
        self.problems = []
        self.unrun = 0  # inputs not replayed to the end
        self.cut_short = False  # by the deadline

    def queue_batches(self, inputs, directory=None, front=False):
        """A whole directory goes as its path (the command stays short);
        the rest as lists of files."""
        if directory is not None:
            batches = [(inputs, [directory])]
        else:
            batches = [(inputs[i:i + BATCH_INPUTS], inputs[i:i + BATCH_INPUTS])
                       for i in range(0, len(inputs), BATCH_INPUTS)]
        if front:
            self.batches.extendleft(reversed(batches))
        else:
            self.batches.extend(batches)

    def run(self, deadline=None, hard_deadline=None):
        """Start batches until none is left or the deadline; a batch started
        runs on to its end unless hard_deadline (default: deadline) comes
        first, since a batch stopped loses its profile. What is left stays
        queued, so a later call with more time goes on."""
        hard_deadline = deadline if hard_deadline is None else hard_deadline
        while self.batches:
            if deadline is not None and time.monotonic() >= deadline:
                break
            inputs, args = self.batches.popleft()
            self.run_batch(inputs, args, hard_deadline)
            self.merge_raw()
        return self

    def finish(self):
        """The inputs still queued count as not replayed."""
        left = sum(len(inputs) for inputs, _ in self.batches)
        if left:
            self.unrun += left
            self.cut_short = True
            self.batches.clear()
        if not self.profile.exists():
            self.run_no_input()
        return self

    def run_batch(self, inputs, args, deadline):
        cmd = [self.binary] + args
        self.announce(cmd, inputs, args)
        with self.log.open("ab") as out:
            offset = out.tell()
            proc = procs.spawn(cmd, env=self.env, stdout=out, stderr=out)
        try:
            outcome = self.watch(proc, offset, deadline)
        finally:
            procs.stop(proc)  # a no-op once it is done; on Ctrl-C it must go first
        if outcome == "cut":
            self.queue_batches(inputs, front=True)
            return
        if outcome == "exited" and proc.returncode == 0:
            return
        self.after_failure(inputs, offset, outcome, proc.returncode)

    def announce(self, cmd, inputs, args):
        shown = procs.shown(cmd, self.env)
        if len(args) > 3:
            shown = (f"{procs.shown(cmd[:2], self.env)} ... "
                     f"{shlex.quote(project.display_path(inputs[-1]))}"
                     f" ({len(inputs)} inputs)")
        print(f"+ {shown} >> {shlex.quote(project.display_path(self.log))} 2>&1",
              file=sys.stderr, flush=True)

    def watch(self, proc, offset, deadline):
        """Wait for the run; "exited", or "hung" when one input has run for
        longer than the target's -timeout, or "cut" at the deadline."""
        progress = ReplayProgress(self.log, offset)
        last_start = time.monotonic()
        while not procs.finished(proc):
            now = time.monotonic()
            if progress.advanced():
                last_start = now
            if now - last_start > self.input_timeout:
                return "hung"
            if deadline is not None and now >= deadline:
                return "cut"
            time.sleep(TICK)
        return "exited"

    def after_failure(self, inputs, offset, outcome, returncode):
        """The run's profile is lost: every input of the batch but the
        culprit goes again."""
        progress = ReplayProgress(self.log, offset)
        progress.advanced()
        unreadable = progress.unreadable()
        if unreadable is not None and unreadable in inputs:
            # Gone since it was listed (an AFL++ queue still being written,
            # say): not an input any more.
            self.inputs -= 1
            culprit = unreadable
        else:
            culprit = next((path for path in inputs if str(path) == progress.current), None)
            if culprit is None:
                how = (f"hung for {self.input_timeout} s" if outcome == "hung"
                       else procs.describe_status(returncode))
                self.problems.append(
                    f"{self.target}: replay-{self.target} failed ({how}) before its "
                    f"first input, ending with '{libfuzzer.last_line(self.log)}'; "
                    f"{len(inputs)} input(s) not replayed; see "
                    f"{project.display_path(self.log)}")
                self.unrun += len(inputs)
                return
            how = (f"hung: still running after {self.input_timeout} s, stopped"
                   if outcome == "hung" else f"crashed: {procs.describe_status(returncode)}")
            self.crashed.append((culprit, how))
        rest = [path for path in inputs if path != culprit]
        if rest:
            self.queue_batches(rest, front=True)

    def merge_raw(self):
        """Fold the profiles of the runs so far into one, so that the scratch
        space holds one batch's at most."""
        raw = sorted(self.raw.iterdir())
        if not raw:
            return
        merged = self.profile.with_suffix(".new")
        earlier = [self.profile] if self.profile.exists() else []
        run_tool([llvm_tool("llvm-profdata"), "merge", "-sparse", "-o", merged]
                 + earlier + [self.raw], f"merging the profiles of {self.target}")
        merged.replace(self.profile)
        for path in raw:
            path.unlink()

    def run_no_input(self):
        """A target none of whose inputs ran to the end still has code to
        count: a run over no input writes a profile where all of it is 0."""
        empty = self.raw.parent / "no-input"
        empty.mkdir(exist_ok=True)
        status = procs.run([self.binary, empty], f"running replay-{self.target} on no input",
                           STARTUP_SECONDS, env=self.env, check=False)
        if status == 0:
            self.merge_raw()

    @property
    def complete(self):
        return self.unrun == 0 and self.profile.exists()


class ReplayProgress:
    """What a replay's log says since offset: the inputs it started
    ("replay: PATH" before each) and, if it gave up on a path, which."""

    def __init__(self, log, offset):
        self.log, self.offset = log, offset
        self.current = None  # the last input started
        self.started = 0
        self.text = ""

    def advanced(self):
        """Read the new whole lines; True if an input started since last time."""
        complete, self.offset = procs.new_lines(self.log, self.offset)
        text = complete.decode(errors="surrogateescape")
        self.text += text
        before = self.started
        for line in text.splitlines():
            if line.startswith("replay: "):
                self.current = line[len("replay: "):]
                self.started += 1
        return self.started != before

    def unreadable(self):
        """The path of replay_main.c's "PROG: cannot open 'PATH': ..." (exit 2)."""
        for line in reversed(self.text.splitlines()):
            if line.startswith("replay-") and ": cannot " in line and "'" in line:
                quoted = line.split("'", 1)[1]
                return Path(quoted[:quoted.rfind("'")])
        return None


# ---- the tools ---------------------------------------------------------------

_tools = {}


def llvm_tool(name):
    """llvm-profdata or llvm-cov of the coverage preset's clang (its
    profiles are the format of its own version), else the one on PATH."""
    if name not in _tools:
        _tools[name] = find_llvm_tool(name, project.build_root() / PRESET)
    return _tools[name]


def find_llvm_tool(name, build_dir):
    compiler = cache_value(build_dir / "CMakeCache.txt", "CMAKE_C_COMPILER") or "clang"
    found = shutil.which(compiler)
    if found:
        beside = Path(os.path.realpath(found)).parent / name
        if beside.exists():
            return beside
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise Failure(f"{name} is neither beside the coverage preset's compiler "
                  f"({compiler}) nor on PATH; install llvm (ci/install-deps.sh)")


def cache_value(cache, name):
    try:
        for line in cache.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.split(":", 1)[0] == name:
                return value
    except OSError:
        pass
    return None


def run_tool(cmd, what, stdout=None):
    """Standard output is kept for the results: the tools' own goes to
    standard error."""
    procs.run(cmd, what, TOOL_TIMEOUT,
              stdout=sys.stderr.fileno() if stdout is None else stdout)


def export_summary(profile, binaries, scratch, what):
    """llvm-cov's line and branch totals of the files under impl/."""
    out = scratch / "export.json"
    with out.open("w") as sink:
        run_tool([llvm_tool("llvm-cov"), "export", "-summary-only",
                  "-instr-profile", profile] + object_args(binaries)
                 + [project.REPO / SOURCES], what, stdout=sink)
    try:
        export = json.loads(out.read_text())
    except ValueError as err:
        raise Failure(f"{what}: llvm-cov export wrote no JSON ({err})") from None
    return coverage_from_export(export)


def html_report(profile, binaries, directory, what):
    run_tool([llvm_tool("llvm-cov"), "show", "-format=html", "-show-branches=count",
              "-output-dir", directory, "-instr-profile", profile]
             + object_args(binaries) + [project.REPO / SOURCES], what)
    return directory / "index.html"


def object_args(binaries):
    """llvm-cov takes the first binary plainly, every other after -object."""
    args = [binaries[0]]
    for binary in binaries[1:]:
        args += ["-object", binary]
    return args


# ---- the history -------------------------------------------------------------

def default_history():
    return project.work_dir() / "coverage" / "history.jsonl"


def load_history(path):
    """The entries of a history file, oldest first; [] if there is none.

    Each is {"time": ISO 8601, "commit": short hash or "-", "targets":
    {target: {"line_pct": L, "branch_pct": B}}}, with "all" among the
    targets for the runs over every target. A line that is not such an
    entry (a write cut short, a hand edit) is skipped with a warning."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    except OSError as err:
        raise Failure(f"cannot read the coverage history {path}: {err}") from err
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        entry = parse_entry(line)
        if entry is None:
            print(f"ipch: warning: {path}:{number}: not a coverage history entry, "
                  f"skipped: {line[:60]}", file=sys.stderr)
            continue
        entries.append(entry)
    return entries


def parse_entry(line):
    try:
        entry = json.loads(line)
        datetime.datetime.fromisoformat(entry["time"])
        for figures in entry["targets"].values():
            float(figures["line_pct"]), float(figures["branch_pct"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return entry


def previous(history, target):
    """(line %, branch %, time) of the last entry that measured target, or None."""
    for entry in reversed(history):
        figures = entry["targets"].get(target)
        if figures is not None:
            return float(figures["line_pct"]), float(figures["branch_pct"]), entry["time"]
    return None


def with_previous(coverage, history, target):
    earlier = previous(history, target)
    if earlier is not None:
        (coverage.previous_line_pct, coverage.previous_branch_pct,
         coverage.previous_time) = earlier
    return coverage


def history_entry(figures, commit, now=None):
    """figures: {target: TargetCoverage} of the runs to record."""
    now = now or datetime.datetime.now().astimezone()
    return {"time": now.isoformat(timespec="seconds"), "commit": commit,
            "targets": {target: {"line_pct": cov.line_pct, "branch_pct": cov.branch_pct}
                        for target, cov in figures.items()}}


def append_history(path, entry):
    """One line, in one write; a last line cut short is ended first, so that
    it alone is lost."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as history:
        history.seek(0, os.SEEK_END)
        prefix = b""
        if history.tell() > 0:
            with path.open("rb") as reader:
                reader.seek(-1, os.SEEK_END)
                if reader.read(1) != b"\n":
                    prefix = b"\n"
        history.write(prefix + (json.dumps(entry) + "\n").encode())


# ---- measuring ---------------------------------------------------------------

def measure(targets, out_dir=None, history=None, time_budget=None, per_target_html=True,
            corpus_root=None):
    """Build, replay the corpora of targets (every target if none) and
    report; returns a Report. out_dir defaults to
    $IPCH_WORK_DIR/coverage/latest/, history to
    $IPCH_WORK_DIR/coverage/history.jsonl.

    With time_budget (seconds, counted from the call, build included), the
    replays stop in time for the reports to fit: each target gets an even
    share of what is left, what it leaves goes to the next; a target cut
    short or never started is named in Report.problems, and only the
    targets replayed in full (and "all" only when that is every target of
    the project) are added to the history. per_target_html=False writes
    only the combined html report (a tenth of the size). corpus_root (a
    merged copy of corpus/, as the nightly makes) replaces the committed,
    working and AFL++ corpora. When no target could be
    replayed at all, Report.targets is empty, Report.all and
    Report.html_index are None, and Report.problems says why."""
    began = time.monotonic()
    build = project.Build(PRESET)
    every = build.fuzz_targets()
    targets = check_targets(targets, every)
    out_dir = Path(out_dir) if out_dir else project.work_dir() / "coverage" / "latest"
    history_path = Path(history) if history else default_history()
    build.build([f"replay-{target}" for target in targets])
    built = time.monotonic()

    deadline = None
    if time_budget is not None:
        reserve = min(REPORT_RESERVE_SECONDS, REPORT_RESERVE_SHARE * time_budget)
        deadline = began + time_budget - reserve
    work = project.work_dir()
    scratch = Path(tempfile.mkdtemp(prefix="ipch-coverage-",
                                    dir=project.work_subdir("scratch")))
    try:
        replays, problems = replay_all(build, targets, work, scratch, deadline, corpus_root)
        replayed = time.monotonic()
        every_target = set(targets) == set(every)
        if replays:
            report = write_reports(replays, out_dir, history_path, scratch, every_target,
                                   per_target_html)
        else:
            report = Report(targets={}, all=None, html_index=None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.problems = problems + report.problems
    report.crashed = [(replay.target, path, how) for replay in replays
                      for path, how in replay.crashed]
    report.seconds = {"build": round(built - began, 1),
                      "replay": round(replayed - built, 1),
                      "report": round(time.monotonic() - replayed, 1)}
    return report


def check_targets(names, every):
    unknown = [name for name in names or () if name not in every]
    if unknown:
        raise UsageError(f"unknown fuzz target{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(unknown)}; the targets are: {', '.join(every)}")
    return list(dict.fromkeys(names)) if names else list(every)


def replay_all(build, targets, work, scratch, deadline, corpus_root=None):
    """Each target's replays, in turn; with a deadline, each gets an even
    share of the time left, and what the shares cut short then gets the
    time the quicker targets left. Returns (replays of the targets
    started, problems)."""
    started, problems = [], []
    for index, target in enumerate(targets):
        share_end = None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                skipped = targets[index:]
                problems.append(f"time budget spent: {len(skipped)} target(s) not "
                                f"replayed: {', '.join(skipped)}")
                break
            share_end = time.monotonic() + left / (len(targets) - index)
        replay = TargetReplay(build, target, work, scratch, corpus_root)
        started.append(replay.run(share_end, hard_deadline=deadline))
    for replay in started:
        if replay.batches:
            replay.run(deadline)
    replays = []
    for replay in started:
        replay.finish()
        target = replay.target
        problems += replay.problems
        problems += [f"{target}: {project.display_path(path)} {how}; reproduce with "
                     f"{project.ipch_command()} repro {project.display_path(path)} "
                     f"--target {target} (log: {project.display_path(replay.log)})"
                     for path, how in replay.crashed]
        if replay.cut_short:
            problems.append(f"{target}: the time budget ran out with "
                            f"{replay.unrun} of {replay.inputs} input(s) not replayed; "
                            f"its figures count the others, and the history leaves it out")
        if not replay.profile.exists():
            problems.append(f"{target}: no profile at all (replay-{target} could not "
                            f"even run on no input); see {project.display_path(replay.log)}")
            continue
        replays.append(replay)
    return replays, problems


def write_reports(replays, out_dir, history_path, scratch, every_target,
                  per_target_html=True):
    """summary.json, profiles/ and html/ in out_dir (what an earlier report
    left there is replaced), then the history."""
    profiles, html = out_dir / "profiles", out_dir / "html"
    for old in (profiles, html):
        shutil.rmtree(old, ignore_errors=True)
    profiles.mkdir(parents=True)
    history = load_history(history_path)

    figures = {}
    for replay in replays:
        profile = profiles / f"{replay.target}.profdata"
        shutil.copy2(replay.profile, profile)
        coverage = export_summary(profile, [replay.binary], scratch,
                                  f"counting the coverage of {replay.target}")
        coverage.inputs = replay.inputs
        coverage.crashed_inputs = len(replay.crashed)
        coverage.complete = replay.complete
        figures[replay.target] = with_previous(coverage, history, replay.target)
        if per_target_html:
            html_report(profile, [replay.binary], html / replay.target,
                        f"writing the html report of {replay.target}")

    combined = profiles / f"{ALL}.profdata"
    run_tool([llvm_tool("llvm-profdata"), "merge", "-sparse", "-o", combined]
             + [profiles / f"{replay.target}.profdata" for replay in replays],
             "merging the profiles of every target")
    binaries = [replay.binary for replay in replays]
    overall = export_summary(combined, binaries, scratch, "counting the coverage of all targets")
    overall.inputs = sum(cov.inputs for cov in figures.values())
    overall.crashed_inputs = sum(cov.crashed_inputs for cov in figures.values())
    if every_target:
        overall = with_previous(overall, history, ALL)
    index = html_report(combined, binaries, html, "writing the html report of all targets")

    summary = {target: cov.summary() for target, cov in figures.items()}
    summary[ALL] = overall.summary()
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    recorded = {replay.target: figures[replay.target] for replay in replays
                if replay.complete}
    if every_target and len(recorded) == len(replays):
        recorded[ALL] = overall
    if recorded:
        append_history(history_path, history_entry(recorded, project.git_commit()))
    return Report(targets=figures, all=overall, html_index=index, every_target=every_target)


# ---- ipch coverage -----------------------------------------------------------

def run(args):
    report = measure(args.targets, args.out, history=args.history)
    if report.all is None:
        raise Failure("no target was replayed: " + "; ".join(report.problems))
    print_report(report)
    print(f"ipch: built in {report.seconds['build']} s, replayed in "
          f"{report.seconds['replay']} s, reported in {report.seconds['report']} s",
          file=sys.stderr)
    return 0


def report_lines(report):
    """One aligned line per target, then "all"."""
    rows = [(name, cov) for name, cov in report.targets.items()] + [(ALL, report.all)]
    cells = [(name,
              f"{cov.line_pct:.1f}%", f"({cov.lines_covered}/{cov.lines_total})",
              f"{cov.branch_pct:.1f}%", f"({cov.branches_covered}/{cov.branches_total})",
              since(cov) if name != ALL or report.every_target else "(not every target)")
             for name, cov in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = []
    for name, line_pct, line_counts, branch_pct, branch_counts, change in cells:
        lines.append(f"{name.ljust(widths[0])}  lines {line_pct.rjust(widths[1])} "
                     f"{line_counts.ljust(widths[2])}  branches "
                     f"{branch_pct.rjust(widths[3])} {branch_counts.ljust(widths[4])}"
                     f"  {change}".rstrip())
    return lines


def since(cov):
    if cov.previous_line_pct is None:
        return "(no earlier run)"
    when = datetime.datetime.fromisoformat(cov.previous_time)
    if when.tzinfo is not None:
        when = when.astimezone()
    return (f"{cov.line_pct - cov.previous_line_pct:+.1f} / "
            f"{cov.branch_pct - cov.previous_branch_pct:+.1f} "
            f"since {when.strftime('%Y-%m-%d %H:%M')}")


def print_report(report):
    for line in report_lines(report):
        print(line)
    print(f"html: {project.display_path(report.html_index)}")
    if report.problems:
        print("\nproblems:")
        print("\n".join(f"  {problem}" for problem in report.problems))
