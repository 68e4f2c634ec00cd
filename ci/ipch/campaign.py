"""ipch campaign: every fuzz target for a while, the regression inputs replayed."""

import math
import shlex
import signal
import sys
import tempfile
import time
from collections import deque

from . import libfuzzer, procs, project, stacks
from .errors import Failure

MAX_RESTARTS = 5
PROGRESS_EVERY = 5.0
TICK = 0.25
# A run stops itself at -max_total_time unless an input hangs, which its
# -timeout catches; past both plus this margin it is stopped from outside.
STOP_MARGIN = 15
REPLAY_TIMEOUT_BASE = 60


class TargetFuzzing:
    """One target's share of the campaign: one run, or several after crashes."""

    def __init__(self, build, name, seconds, work):
        self.name = name
        self.binary = build.fuzz_binary(name)
        self.crash_dir = project.work_subdir("crashes", name)
        self.corpus = project.work_subdir("corpus", name)
        self.log = work / "logs" / f"campaign-{name}.log"
        self.log.write_bytes(b"")
        self.flags = libfuzzer.target_flags(name, self.crash_dir)
        self.remaining = seconds
        self.restarts = 0
        self.execs_before = 0  # in the runs already over
        self.seconds_used = 0.0
        self.summary = libfuzzer.RunSummary()
        self.cov, self.ft = None, None
        self.problems = []
        self.proc = None
        # Crash files older than this belong to earlier campaigns; the second
        # of slack covers file times that lag the clock.
        self.since = time.time() - 1

    def command(self):
        return ([self.binary, f"-max_total_time={int(self.remaining)}"] + self.flags
                + libfuzzer.corpus_dirs(self.name, self.corpus))

    def start(self):
        cmd = self.command()
        procs.announce(cmd, suffix=f" >> {shlex.quote(project.display_path(self.log))} 2>&1")
        with self.log.open("ab") as out:
            self.run_offset = out.tell()
            self.proc = procs.spawn(cmd, stdout=out, stderr=out)
        self.read_offset = self.run_offset
        self.summary = libfuzzer.RunSummary()
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.limit = (int(self.remaining) + libfuzzer.input_timeout(self.flags)
                      + STOP_MARGIN)
        self.deadline = self.started + self.limit

    def follow_log(self):
        """Read what the run wrote since last time, whole lines only."""
        complete, self.read_offset = procs.new_lines(self.log, self.read_offset)
        libfuzzer.summarize(complete.decode(errors="replace"), self.summary)
        if self.summary.cov is not None:
            self.cov, self.ft = self.summary.cov, self.summary.ft

    def live_execs(self):
        return self.execs_before + self.summary.execs

    def check(self):
        """Advance the run; returns True once this target's campaign is over."""
        if not procs.finished(self.proc):
            if time.monotonic() < self.deadline:
                self.follow_log()
                return False
            procs.stop(self.proc, signal.SIGINT)
            self.problems.append(
                f"fuzz-{self.name} did not stop by itself within {self.limit} s "
                f"(its -max_total_time, -timeout and {STOP_MARGIN} s more) and was "
                f"stopped; see {project.display_path(self.log)}")
        self.read_offset = self.run_offset
        self.summary = libfuzzer.RunSummary()
        self.follow_log()
        return self.end_of_run()

    def end_of_run(self):
        elapsed = time.monotonic() - self.started
        self.seconds_used += elapsed
        self.remaining -= elapsed
        self.execs_before += self.summary.execs
        self.summary = libfuzzer.RunSummary()
        status = self.proc.returncode
        crashed = libfuzzer.failure_inputs(self.crash_dir, self.started_wall - 1)
        if status == 0 or self.problems:
            return True
        if not crashed:
            self.problems.append(
                f"fuzz-{self.name} failed ({procs.describe_status(status)}) without "
                f"saving an input, ending with '{libfuzzer.last_line(self.log)}'; "
                f"see {project.display_path(self.log)}")
            return True
        if self.remaining >= 1 and self.restarts < MAX_RESTARTS:
            self.restarts += 1
            print(f"ipch: {self.name} saved {crashed[-1].name}; restarting it for the remaining "
                  f"{int(self.remaining)} s (restart {self.restarts} of "
                  f"{MAX_RESTARTS})", file=sys.stderr, flush=True)
            self.start()
            return False
        return True

    def progress(self):
        cov = "-" if self.cov is None else self.cov
        return f"{self.name} {self.live_execs()} execs cov {cov}"


class RegressionReplay:
    """The regression inputs of one target, each run once by the fuzz binary."""

    def __init__(self, build, name, work):
        self.name = name
        self.binary = build.fuzz_binary(name)
        self.log = work / "logs" / f"regressions-{name}.log"
        directory = project.regression_dir(name)
        self.files = sorted(path for path in directory.iterdir()
                            if path.is_file() and not path.name.startswith(".")
                            ) if directory.is_dir() else []
        self.failed = []  # (file, how it failed)
        self.problems = []

    def run(self):
        """Replay the files; a crash ends one run, so resume after the culprit."""
        self.log.write_bytes(b"")
        pending = list(self.files)
        with tempfile.TemporaryDirectory(dir=project.work_dir()) as scratch:
            while pending:
                culprit = self.run_batch(pending, scratch)
                if culprit is None:
                    return
                pending = pending[pending.index(culprit) + 1:]

    def run_batch(self, files, scratch):
        """Run files; returns the one that failed, or None if all passed."""
        # A failing input is already kept, so libFuzzer's copy goes to scratch.
        flags = libfuzzer.target_flags(self.name, scratch)
        fixed = [self.binary] + flags
        cmd = fixed + files
        timeout = REPLAY_TIMEOUT_BASE + libfuzzer.input_timeout(flags) * len(files)
        resuming = "" if files[0] == self.files[0] else f" (from {files[0].name} on)"
        print(f"+ {procs.shown(fixed)} {shlex.quote(project.display_path(files[0].parent))}/*"
              f" >> {shlex.quote(project.display_path(self.log))} 2>&1{resuming}",
              file=sys.stderr, flush=True)
        with self.log.open("ab") as out:
            offset = out.tell()
            proc = procs.spawn(cmd, stdout=out, stderr=out)
        try:
            done = procs.wait(proc, timeout)
        finally:
            procs.stop(proc)  # a no-op once it is done; on Ctrl-C it must go first
        if not done:
            self.problems.append(f"replaying the regressions of {self.name} took "
                                 f"over {timeout} s; see {project.display_path(self.log)}")
            return None
        if proc.returncode == 0:
            return None
        with self.log.open("rb") as log:
            log.seek(offset)
            summary = libfuzzer.summarize(log.read().decode(errors="replace"))
        culprit = next((path for path in files if str(path) == summary.running), None)
        if culprit is None:
            self.problems.append(
                f"fuzz-{self.name} failed ({procs.describe_status(proc.returncode)}) "
                f"before replaying any regression input, ending with "
                f"'{libfuzzer.last_line(self.log)}'; see {project.display_path(self.log)}")
            return None
        self.failed.append((culprit, procs.describe_status(proc.returncode)))
        return culprit


def run(args):
    build = project.Build("libfuzzer")
    build.build()
    targets = build.fuzz_targets()
    work = project.work_dir()
    project.work_subdir("logs")

    replays = [RegressionReplay(build, name, work) for name in targets]
    for replay in replays:
        replay.run()

    fuzzings = [TargetFuzzing(build, name, args.time, work) for name in targets]
    fuzz_all(fuzzings, args.time, args.jobs)

    print_table(fuzzings, replays)
    failed = print_failures(fuzzings, replays)
    print(f"\nlogs: {project.display_path(work / 'logs')}")
    return 1 if failed else 0


def fuzz_all(fuzzings, seconds, jobs):
    """Run the targets, jobs at a time, with a progress line now and then."""
    waiting = deque(fuzzings)
    running = []
    began = time.monotonic()
    total = math.ceil(len(fuzzings) / jobs) * seconds
    next_report = began + PROGRESS_EVERY
    while waiting or running:
        while waiting and len(running) < jobs:
            fuzzing = waiting.popleft()
            fuzzing.start()
            running.append(fuzzing)
        time.sleep(TICK)
        running = [fuzzing for fuzzing in running if not fuzzing.check()]
        now = time.monotonic()
        if now >= next_report and running:
            report_progress(now - began, total, running, len(waiting))
            next_report = now + PROGRESS_EVERY


def report_progress(elapsed, total, running, waiting):
    parts = [fuzzing.progress() for fuzzing in running]
    if waiting:
        parts.append(f"{waiting} waiting")
    print(f"[{elapsed:4.0f}/{total} s] " + " | ".join(parts),
          file=sys.stderr, flush=True)


def print_table(fuzzings, replays):
    header = ("target", "runs", "runs/s", "corpus files", "coverage (cov/ft)", "crashes")
    rows = []
    for fuzzing, replay in zip(fuzzings, replays):
        crashes = (len(crash_files(fuzzing)) + len(replay.failed))
        rate = fuzzing.execs_before / fuzzing.seconds_used if fuzzing.seconds_used else 0
        cov = "-" if fuzzing.cov is None else f"{fuzzing.cov}/{fuzzing.ft}"
        corpus = sum(1 for path in fuzzing.corpus.iterdir() if path.is_file())
        rows.append((fuzzing.name, str(fuzzing.execs_before), f"{rate:.0f}",
                     str(corpus), cov, str(crashes)))
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
    print()
    for row in [header] + rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        print("  ".join(cells))
    replayed = sum(len(replay.files) for replay in replays)
    failed = sum(len(replay.failed) for replay in replays)
    print(f"\nregression inputs replayed: {replayed}, failed: {failed}")


def crash_files(fuzzing):
    return libfuzzer.failure_inputs(fuzzing.crash_dir, fuzzing.since)


def print_failures(fuzzings, replays):
    """List every crash with the command that reproduces it; True if any."""
    lines = crash_lines([(fuzzing.name, path) for fuzzing in fuzzings
                         for path in crash_files(fuzzing)])
    for replay in replays:
        for path, how in replay.failed:
            lines.append(f"  {replay.name}: regression input {path.name} failed ({how})\n"
                         f"    {libfuzzer.repro_command(path)}")
    problems = [problem for item in fuzzings + replays for problem in item.problems]
    if lines:
        print("\ncrashes, each with the command that reproduces it:")
        print("\n".join(lines))
    if problems:
        print("\nproblems:")
        print("\n".join(f"  {problem}" for problem in problems))
    return bool(lines or problems)


def crash_lines(found):
    """One entry per distinct crash (stacks.dedupe): its signature, how many
    files, and the command for the smallest; files that replay clean, or
    all of them if the asan build fails, one entry each as found."""
    how = "found by fuzzing; runs clean in the asan replay"
    try:
        groups, clean = stacks.dedupe(found)
    except Failure as err:
        print(f"ipch: crashes not grouped by signature: {err}", file=sys.stderr)
        groups, clean, how = [], found, "found by fuzzing"
    lines = []
    for group in groups:
        smallest = min(group.files, key=lambda path: path.stat().st_size)
        count = len(group.files)
        lines.append(f"  {group.target}: {group.signature.title} "
                     f"({count} file{'' if count == 1 else 's'})\n"
                     f"    {libfuzzer.repro_command(smallest)} --minimize --keep")
    for name, path in clean:
        lines.append(f"  {name}: {path.name} ({how})\n"
                     f"    {libfuzzer.repro_command(path)}")
    return lines
