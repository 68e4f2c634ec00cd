"""A preset's ctest run within a time budget: which tests fit, and how each ended.

When the whole suite does not fit, the tests are taken in the suite's order
from where the previous run stopped (its offset), each counted at the time it
took last (ctest's own cost data) or a guess, until the budget is full; the
next run goes on from there, so a short nightly still covers every test over
a few nights. The registry sweeps come along by themselves: every test needs
them as fixtures, and ctest adds a selected test's fixtures.
"""

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .errors import Failure

# Guesses for a test ctest has never timed: a run under memcheck is slow.
GUESS_SECONDS = {"valgrind": 20.0}
DEFAULT_GUESS = 4.0
FIXTURE_PREFIX = "registry."
# Tests that measure for minutes (ipch bench's bench.json): run on request only.
ON_REQUEST_LABEL = "bench"
LISTING_TIMEOUT = 120
# Past its budget a run is let finish the tests it has started, for a
# quarter of its budget more (at least OVERRUN_LEAST seconds, at most
# OVERRUN_MOST), then stopped; the tests it did not reach count as not run.
OVERRUN_LEAST = 15
OVERRUN_MOST = 120

RESULT_LINE = re.compile(
    r"^\s*\d+/\d+ Test\s+#\d+: (\S+) \.*\s*(?:\*\*\*)?(Passed|Failed|Timeout|"
    r"Not Run|Exception: [^\d]*?|[A-Za-z][\w ]*?)\s+([\d.]+) sec")


@dataclass
class Selection:
    names: list          # the tests to run, in suite order
    total: int           # tests in the suite, fixtures left out
    next_offset: int     # where the next run starts
    estimate: float      # seconds the selection should take on `jobs` cores
    filtered: bool = False  # names were picked from part of the suite

    @property
    def whole(self):
        return len(self.names) == self.total


@dataclass
class Outcome:
    preset: str
    selection: Selection
    results: dict = field(default_factory=dict)  # name -> (status, seconds)
    seconds: float = 0.0
    log: Path = None
    stopped: bool = False  # ran past its budget and was stopped

    def passed(self):
        return [n for n, (status, _) in self.results.items() if status == "Passed"]

    def failed(self):
        return [n for n, (status, _) in self.results.items() if status != "Passed"]

    def not_run(self):
        return [n for n in self.selection.names if n not in self.results]


def listed_tests(build_dir):
    """The suite's test names in order, the registry fixtures and the tests
    run on request only left out."""
    out = subprocess.run(["ctest", "--test-dir", str(build_dir), "--show-only=json-v1"],
                         capture_output=True, text=True, timeout=LISTING_TIMEOUT)
    if out.returncode != 0:
        raise Failure(f"ctest could not list the tests of {build_dir}: "
                      f"{out.stderr.strip() or out.stdout.strip()}")
    try:
        tests = json.loads(out.stdout)["tests"]
    except (ValueError, KeyError) as err:
        raise Failure(f"ctest's test list for {build_dir} is not what was "
                      f"expected ({err})") from err
    return [t["name"] for t in tests if not t["name"].startswith(FIXTURE_PREFIX)
            and ON_REQUEST_LABEL not in labels(t)]


def labels(test):
    """A test's labels from ctest's json-v1 listing."""
    for prop in test.get("properties", []):
        if prop.get("name") == "LABELS":
            return prop.get("value") or []
    return []


def known_costs(build_dir):
    """Seconds each test took when ctest last ran it (CTestCostData.txt)."""
    costs = {}
    path = Path(build_dir) / "Testing" / "Temporary" / "CTestCostData.txt"
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return costs
    for line in lines:
        if line.startswith("---"):
            break  # the list of failed tests follows
        parts = line.split()
        if len(parts) == 3:
            try:
                costs[parts[0]] = float(parts[2])
            except ValueError:
                continue
    return costs


def select(names, costs, seconds, jobs, offset, guess, skip=frozenset()):
    """The tests that fit seconds on jobs cores, taken round from offset;
    the tests of skip (run already) are passed over."""
    total = len(names)
    if total == 0:
        return Selection([], 0, 0, 0.0)
    offset %= total
    chosen, used, last = set(), 0.0, offset - 1
    for step in range(total):
        index = (offset + step) % total
        if names[index] in skip:
            continue
        cost = costs.get(names[index], guess)
        if (used + cost) / jobs > seconds and chosen:
            # A long test is skipped for shorter ones after it, not waited for.
            continue
        chosen.add(names[index])
        used += cost
        last = index
    ordered = [name for name in names if name in chosen]
    next_offset = 0 if len(chosen) + len(skip) >= total else (last + 1) % total
    return Selection(ordered, total, next_offset, used / jobs)


def plan(preset, build_dir, seconds, offset=0):
    names = listed_tests(build_dir)
    guess = GUESS_SECONDS.get(preset, DEFAULT_GUESS)
    return select(names, known_costs(build_dir), seconds, procs.cpu_count(),
                  offset, guess)


def anchored(names):
    """A ctest -R expression matching exactly these names (CMake regex)."""
    escaped = [re.sub(r"([.+*?^$()\[\]|\\])", r"\\\1", name) for name in names]
    return "^(" + "|".join(escaped) + ")$"


def run(preset, build_dir, selection, seconds, log):
    """Run the selection, its output added to log; never raises for failing tests."""
    outcome = Outcome(preset, selection, log=log)
    if not selection.names:
        return outcome
    cmd = ["ctest", "--test-dir", build_dir, "-j", str(procs.cpu_count()),
           "--output-on-failure", "--no-tests=error"]
    if selection.filtered or not selection.whole:
        cmd += ["-R", anchored(selection.names)]
    procs.announce(cmd, suffix=f" >> {log} 2>&1")
    began = time.monotonic()
    with open(log, "ab") as out:
        offset = out.tell()
        proc = procs.spawn(cmd, stdout=out, stderr=out)
    try:
        if not procs.wait(proc, seconds + overrun(seconds)):
            outcome.stopped = True
            procs.stop(proc)
    except BaseException:
        procs.stop(proc)
        raise
    outcome.seconds = time.monotonic() - began
    outcome.results = parse_results(Path(log).read_bytes()[offset:].decode(errors="replace"))
    for name in list(outcome.results):
        if name.startswith(FIXTURE_PREFIX) and outcome.results[name][0] == "Passed":
            del outcome.results[name]  # shown only when a sweep failed
    return outcome


def overrun(seconds):
    return min(OVERRUN_MOST, max(OVERRUN_LEAST, seconds / 4))


def parse_results(text):
    """name -> (status, seconds) from ctest's progress lines."""
    results = {}
    for line in text.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            results[match.group(1)] = (match.group(2).strip(), float(match.group(3)))
    return results
