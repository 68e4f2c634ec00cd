"""AFL++ for one target: a main instance and secondaries syncing one output directory.

The builds come from three presets: `afl` (the plain instrumented target),
`afl-cmplog` (the same with comparison logging, which afl-fuzz -c runs beside
the main instance to solve magic values) and `afl-asan` (ASan + UBSan, for
the first secondary: slower, but it sees the memory errors the plain build
runs through). Every instance gets the target's dictionary, max_len and
per-input timeout, as libFuzzer does (fuzz/<target>.options, .dict).

The instances write to $IPCH_WORK_DIR/afl/<target>/<instance>/ (or
--sync-dir), resuming what is there. What they find is copied to where
libFuzzer leaves its own, named as libFuzzer names them (crash-<sha1>,
timeout-<sha1>), so `ipch repro` takes either and an input both engines
found is one file.
"""

import hashlib
import math
import os
import re
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import libfuzzer, procs, project
from .errors import Failure

PLAIN, CMPLOG, ASAN = "afl", "afl-cmplog", "afl-asan"
PRESETS = (PLAIN, CMPLOG, ASAN)
AFL_FUZZ = "afl-fuzz"

ENV = {
    "AFL_NO_UI": "1",
    "AFL_SKIP_CPUFREQ": "1",
    "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1",
    # A second run on the same output directory goes on from its queue.
    "AFL_AUTORESUME": "1",
    # afl-fuzz refuses to start once every core is bound to a fuzzer, and
    # ipch may run beside others (a campaign, several targets at once).
    "AFL_NO_AFFINITY": "1",
}

PROGRESS_EVERY = 5.0
TICK = 0.25
# Before its -V clock runs, afl-fuzz loads and calibrates every seed; past
# that, the time, one input's timeout and this margin, it is stopped from
# outside.
STOP_MARGIN = 60
GRACEFUL_STOP_SECONDS = 30
# AFL++'s own limit on an input (MAX_FILE) when the options give no max_len.
AFL_MAX_FILE = 1024 * 1024
# The input afl-fuzz gets when no seed fits: it refuses an empty directory.
PLACEHOLDER_SEED = b"\0"

STATS_LINE = re.compile(r"^(\w+)\s*:\s*(.*?)\s*$")
# afl-fuzz's fatal errors: the line that says why, before where in its source.
FATAL = ("PROGRAM ABORT", "SYSTEM ERROR")


@dataclass
class Instance:
    """One afl-fuzz of the plan: its name (-M/-S), build, and role."""
    name: str
    main: bool
    preset: str  # PLAIN or ASAN
    cmplog: bool

    def describe(self):
        return self.preset + (" +cmplog" if self.cmplog else "")


def plan(jobs, secondaries_only=False, host=None):
    """The instances of a run of jobs afl-fuzz processes.

    The main one (-M main) runs the plain build with CMPLOG beside it; the
    first secondary runs the ASan build, the others the plain build. With
    one job there is no secondary, and so no ASan instance. A machine that
    only adds secondaries to another's output directory names them after
    itself (<host>-s1, ...); its first one runs the ASan build.
    """
    if secondaries_only:
        prefix = f"{instance_safe(host or socket.gethostname())}-s"
        return [Instance(f"{prefix}{number}", False, ASAN if number == 1 else PLAIN, False)
                for number in range(1, jobs + 1)]
    instances = [Instance("main", True, PLAIN, True)]
    for number in range(1, jobs):
        instances.append(Instance(f"s{number}", False, ASAN if number == 1 else PLAIN, False))
    return instances


def instance_safe(name):
    """A host name as afl-fuzz takes it in an instance name (a directory)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name.split(".")[0]) or "host"


def presets_of(instances):
    """The presets whose builds the instances run (-c's included)."""
    needed = {instance.preset for instance in instances}
    if any(instance.cmplog for instance in instances):
        needed.add(CMPLOG)
    return [preset for preset in PRESETS if preset in needed]


def parse_stats(text):
    """fuzzer_stats, 'key : value' per line, as a dict of strings."""
    stats = {}
    for line in text.splitlines():
        match = STATS_LINE.match(line)
        if match:
            stats[match.group(1)] = match.group(2)
    return stats


def read_stats(instance_dir):
    """An instance's fuzzer_stats; empty before it writes one (and while a
    resuming afl-fuzz replaces it)."""
    try:
        return parse_stats((Path(instance_dir) / "fuzzer_stats").read_text())
    except OSError:
        return {}


def stat_int(stats, key):
    try:
        return int(stats.get(key, "0"))
    except ValueError:
        return 0


def stat_float(stats, key):
    """A rate; afl-fuzz says inf before its first timed execs."""
    try:
        value = float(stats.get(key, "0"))
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def failure_name(kind, data):
    """libFuzzer's name for a failing input: crash-<sha1> or timeout-<sha1>."""
    return f"{kind}-{hashlib.sha1(data).hexdigest()}"


def copy_failures(instance_dirs, crash_dir, since):
    """Copy the crashes and hangs the instances saved at or after since into
    crash_dir under libFuzzer's names; returns (crashes, hangs), each the
    sorted paths in crash_dir, one per distinct input."""
    crash_dir = Path(crash_dir)
    found = {"crash": set(), "timeout": set()}
    for instance_dir in instance_dirs:
        for subdir, kind in (("crashes", "crash"), ("hangs", "timeout")):
            for path in sorted(Path(instance_dir, subdir).glob("id:*")):
                if not path.is_file() or path.stat().st_mtime < since:
                    continue
                data = path.read_bytes()
                target = crash_dir / failure_name(kind, data)
                crash_dir.mkdir(parents=True, exist_ok=True)
                # Written again if there, as libFuzzer does: its time says
                # which run found it.
                target.write_bytes(data)
                found[kind].add(target)
    return sorted(found["crash"]), sorted(found["timeout"])


def prepare_seeds(seed_dir, into, limit):
    """Copy the seeds afl-fuzz can take (at most limit bytes) into into;
    returns how many were skipped for their size."""
    skipped = 0
    if seed_dir.is_dir():
        for path in sorted(seed_dir.iterdir()):
            if not path.is_file() or path.name.startswith((".", "README")):
                continue
            if path.stat().st_size > limit:
                skipped += 1
                continue
            shutil.copyfile(path, into / path.name)
    if not any(into.iterdir()):
        (into / "placeholder").write_bytes(PLACEHOLDER_SEED)
    return skipped


def why_it_stopped(log):
    """The line of an afl-fuzz log that says why it quit: its fatal error,
    else its last line."""
    try:
        with open(log, "rb") as text:
            text.seek(0, 2)
            text.seek(max(0, text.tell() - 8192))
            lines = procs.without_colour(text.read().decode(errors="replace")).splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip()]
    fatal = [line for line in lines if line.startswith(("[-]",)) and any(
        word in line for word in FATAL)]
    return (fatal or lines or [""])[-1]


def option_value(flags, name):
    """The value of the last -name=value of libFuzzer flags, or None."""
    value = None
    for flag in flags:
        key, sep, rest = flag.partition("=")
        if sep and key == f"-{name}":
            value = rest
    return value


@dataclass
class Settings:
    """What every instance of a target gets: dictionary, max_len, timeout."""
    dictionary: Path
    max_len: int
    timeout_seconds: int

    @classmethod
    def of(cls, target):
        flags = libfuzzer.target_flags(target, project.work_subdir("crashes", target))
        dictionary = option_value(flags, "dict")
        max_len = option_value(flags, "max_len")
        return cls(Path(dictionary) if dictionary else None,
                   int(max_len) if max_len else None,
                   libfuzzer.input_timeout(flags))

    def flags(self):
        flags = []
        if self.dictionary:
            flags += ["-x", self.dictionary]
        if self.max_len:
            flags += ["-G", str(self.max_len)]
        return flags + ["-t", str(self.timeout_seconds * 1000)]


def command(instance, builds, target, settings, seeds, sync_dir, seconds, extra):
    cmd = [AFL_FUZZ, "-i", seeds, "-o", sync_dir]
    cmd += ["-M", instance.name] if instance.main else ["-S", instance.name]
    cmd += settings.flags()
    if seconds is not None:
        cmd += ["-V", str(seconds)]
    if instance.preset == ASAN:
        # ASan reserves terabytes of address space: no memory limit.
        cmd += ["-m", "none"]
    if instance.cmplog:
        cmd += ["-c", builds[CMPLOG].fuzz_binary(target)]
    return cmd + list(extra) + ["--", builds[instance.preset].fuzz_binary(target)]


@dataclass
class InstanceResult:
    name: str
    build: str
    execs: int
    execs_per_sec: float
    corpus_count: int
    coverage: str
    crashes: int
    hangs: int


@dataclass
class Result:
    """One target's AFL++ run; execs and crashes count this run only."""
    target: str
    execs: int
    execs_per_sec: float  # over the run
    corpus_count: int     # the main instance's queue
    coverage: str         # its bitmap_cvg, e.g. '3.12%'
    crashes: list         # [Path] in the crash dir, found this run
    hangs: list           # [Path] in the crash dir (timeout-*), found this run
    problems: list        # [str]
    instances: list = field(default_factory=list)  # [InstanceResult]
    interrupted: bool = False
    seconds: float = 0.0


class StatsFeed:
    """An instance's figures as afl-fuzz sends them to statsd (AFL_STATSD),
    every second, on a UDP socket of ours: afl-fuzz rewrites fuzzer_stats
    only once a minute."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.latest = {}

    def env(self):
        return {"AFL_STATSD": "1", "AFL_STATSD_HOST": "127.0.0.1",
                "AFL_STATSD_PORT": str(self.sock.getsockname()[1])}

    def poll(self):
        while True:
            try:
                packet = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return self.latest
            self.latest.update(parse_statsd(packet.decode(errors="replace")))

    def close(self):
        self.sock.close()


def parse_statsd(text):
    """A statsd packet of afl-fuzz, 'fuzzing.<key>:<value>|g' per line, as a
    dict of strings keyed as fuzzer_stats is."""
    stats = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.startswith("fuzzing."):
            stats[name[len("fuzzing."):]] = rest.split("|", 1)[0]
    return stats


def current_stats(file_stats, feed_stats):
    """fuzzer_stats brought up to date with the statsd feed when the feed
    is newer (more execs); its coverage then from edges_found/total_edges,
    as afl-fuzz computes bitmap_cvg."""
    if stat_int(feed_stats, "execs_done") <= stat_int(file_stats, "execs_done"):
        return file_stats
    stats = dict(file_stats, **feed_stats)
    total = stat_int(file_stats, "total_edges")
    if total and "edges_found" in feed_stats:
        stats["bitmap_cvg"] = f"{stat_int(feed_stats, 'edges_found') * 100 / total:.2f}%"
    return stats


def children(pid):
    """The children of pid, each as (pid, start time), from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = proc_stat(stat)
        if fields and fields[1] == str(pid):
            found.add((int(stat.parent.name), fields[19]))
    return found


def proc_stat(path):
    """The fields of /proc/PID/stat after the command name: state, ppid, ..."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def kill_strays(recorded):
    """Kill the recorded processes still running, each with its process
    group. afl-fuzz's fork servers run in sessions of their own (setsid),
    out of reach of its group, and one stopped by SIGINT may leave its
    CMPLOG fork server running."""
    for pid, started in recorded:
        fields = proc_stat(f"/proc/{pid}/stat")
        if not fields or fields[19] != started:
            continue  # gone, or the pid is another process's now
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Running:
    """One afl-fuzz process, its log, and its stats."""

    def __init__(self, instance, cmd, sync_dir, log, since):
        self.instance, self.cmd, self.log, self.since = instance, cmd, log, since
        self.dir = Path(sync_dir) / instance.name
        # A resumed afl-fuzz carries on the counters of the run before
        # (execs_done, run_time); this run's are the difference.
        self.before = read_stats(self.dir)
        self.stats = self.before
        self.feed = None
        self.proc = None
        self.problem = None
        self.forkservers = set()

    def start(self):
        self.feed = StatsFeed()
        env = dict(ENV, **self.feed.env())
        log = shlex.quote(project.display_path(self.log))
        procs.announce(self.cmd, env, suffix=f" > {log} 2>&1")
        with self.log.open("wb") as out:
            self.proc = procs.spawn(self.cmd, env=env, stdout=out, stderr=out)

    def note_forkservers(self):
        if self.proc is not None and self.proc.returncode is None:
            self.forkservers |= children(self.proc.pid)

    def refresh(self):
        feed = self.feed.poll() if self.feed else {}
        self.stats = current_stats(read_stats(self.dir) or self.stats, feed)

    def close(self):
        if self.feed:
            self.feed.close()

    def execs(self):
        return max(0, stat_int(self.stats, "execs_done")
                   - stat_int(self.before, "execs_done"))

    def saved(self, subdir):
        """The crashes or hangs this instance saved in this run."""
        return [path for path in Path(self.dir, subdir).glob("id:*")
                if path.is_file() and path.stat().st_mtime >= self.since]

    def check_exit(self):
        """Note an afl-fuzz that failed; True once it has exited."""
        if not procs.finished(self.proc):
            return False
        kill_strays(self.forkservers)
        if self.proc.returncode != 0 and self.problem is None:
            self.problem = (
                f"afl-fuzz {self.instance.name} of {self.dir.parent.name} failed "
                f"({procs.describe_status(self.proc.returncode)}), ending with "
                f"'{why_it_stopped(self.log)}'; see {project.display_path(self.log)}")
        return True

    def result(self, seconds):
        execs = self.execs()
        return InstanceResult(
            self.instance.name, self.instance.describe(), execs,
            execs / seconds if seconds > 0 else 0.0,
            stat_int(self.stats, "corpus_count"), self.stats.get("bitmap_cvg", "-"),
            len(self.saved("crashes")), len(self.saved("hangs")))


def default_sync_dir(target):
    return project.work_dir() / "afl" / target


def queue_dirs(target, sync_dir=None):
    """The queue of every instance in target's output directory. Each holds
    a .state/ subdirectory that is no input: corpus.merge_into leaves it out."""
    sync_dir = Path(sync_dir) if sync_dir else default_sync_dir(target)
    return sorted(path for path in sync_dir.glob("*/queue") if path.is_dir())


def build_all():
    """Build every target of the three AFL++ presets, e.g. before fuzzing many."""
    for preset in PRESETS:
        project.Build(preset).build()


def builds_for(target, instances):
    """Build fuzz-<target> in each preset the instances need; {preset: Build}."""
    builds = {}
    for preset in presets_of(instances):
        build = project.Build(preset)
        build.check_target(target)
        build.build([f"fuzz-{target}"])
        builds[preset] = build
    return builds


def fuzz(target, seconds, jobs, quiet=False, *, sync_dir=None,
         secondaries_only=False, extra=()):
    """Fuzz target with jobs afl-fuzz instances for seconds (None: until
    Ctrl-C); returns a Result. A crash or hang is in the Result, as is an
    instance that failed; Failure means the setup is broken (the build, or
    afl-fuzz missing). quiet leaves out the progress line."""
    instances = plan(jobs, secondaries_only)
    builds = builds_for(target, instances)
    return run(target, builds, instances, seconds,
               Path(sync_dir) if sync_dir else default_sync_dir(target), extra, quiet)


def run(target, builds, instances, seconds, sync_dir, extra=(), quiet=False):
    if shutil.which(AFL_FUZZ) is None:
        raise Failure(f"{AFL_FUZZ} is not on PATH; ci/install-deps.sh installs AFL++")
    settings = Settings.of(target)
    crash_dir = project.work_subdir("crashes", target)
    logs = project.work_subdir("logs")
    sync_dir.mkdir(parents=True, exist_ok=True)
    seeds = Path(tempfile.mkdtemp(prefix=f"ipch-afl-{target}-",
                                  dir=project.work_subdir("scratch")))
    try:
        limit = settings.max_len or AFL_MAX_FILE
        skipped = prepare_seeds(project.seed_dir(target), seeds, limit)
        if skipped:
            print(f"ipch: {skipped} input(s) of corpus/{target}/ over {limit} bytes "
                  f"left out of the seeds", file=sys.stderr, flush=True)
        since = time.time() - 1
        running = [Running(instance,
                           command(instance, builds, target, settings, seeds,
                                   sync_dir, seconds, extra),
                           sync_dir, logs / f"afl-{target}-{instance.name}.log", since)
                   for instance in instances]
        began = time.monotonic()
        try:
            interrupted, problems = watch(running, target, seconds,
                                          settings.timeout_seconds, quiet)
            elapsed = time.monotonic() - began
            for one in running:
                one.refresh()
        finally:
            for one in running:
                one.close()
    finally:
        shutil.rmtree(seeds, ignore_errors=True)
    crashes, hangs = copy_failures([one.dir for one in running], crash_dir, since)
    return result(target, running, elapsed, crashes, hangs, problems, interrupted)


def watch(running, target, seconds, input_timeout, quiet):
    """Start the instances and wait for them, with a progress line every few
    seconds; returns (interrupted?, problems)."""
    problems = []
    began = time.monotonic()
    limit = None if seconds is None else seconds + input_timeout + STOP_MARGIN
    next_report = began + PROGRESS_EVERY
    next_look = began
    try:
        for one in running:
            one.start()
        while not all([one.check_exit() for one in running]):
            now = time.monotonic()
            if now >= next_look:
                for one in running:
                    one.note_forkservers()
                next_look = now + 1
            if limit is not None and now - began > limit:
                for one in running:
                    if not one.check_exit():
                        procs.stop(one.proc, signal.SIGINT, patience=GRACEFUL_STOP_SECONDS)
                        one.check_exit()
                        problems.append(
                            f"afl-fuzz {one.instance.name} was still running {limit} s "
                            f"after it started, past its -V {seconds}, and was stopped; "
                            f"see {project.display_path(one.log)}")
                break
            if now >= next_report:
                if not quiet:
                    print(progress_line(target, running, now - began, seconds),
                          file=sys.stderr, flush=True)
                next_report = now + PROGRESS_EVERY
            time.sleep(TICK)
    except KeyboardInterrupt:
        print("\nipch: interrupted; stopping afl-fuzz", file=sys.stderr, flush=True)
        for one in running:
            if one.proc is not None:
                procs.stop(one.proc, signal.SIGINT, patience=GRACEFUL_STOP_SECONDS)
                one.check_exit()
        return True, problems
    return False, problems


def progress_line(target, running, elapsed, seconds):
    """AFL++'s own figures, from each instance's fuzzer_stats."""
    for one in running:
        one.refresh()
    first = running[0].stats  # the main instance, when this machine runs it
    execs = sum(one.execs() for one in running)
    rate = sum(stat_float(one.stats, "execs_per_sec") for one in running)
    crashes = sum(len(one.saved("crashes")) for one in running)
    hangs = sum(len(one.saved("hangs")) for one in running)
    clock = f"{elapsed:4.0f} s" if seconds is None else f"{elapsed:4.0f}/{seconds} s"
    return (f"[{clock}] {target} afl x{len(running)}: {execs} execs ({rate:.0f}/s) "
            f"corpus {stat_int(first, 'corpus_count')} cov {first.get('bitmap_cvg', '-')} "
            f"crashes {crashes} hangs {hangs}")


def result(target, running, elapsed, crashes, hangs, problems, interrupted):
    instances = [one.result(elapsed) for one in running]
    execs = sum(instance.execs for instance in instances)
    first = instances[0]
    return Result(target, execs, execs / elapsed if elapsed > 0 else 0.0,
                  first.corpus_count, first.coverage, crashes, hangs,
                  [one.problem for one in running if one.problem] + problems,
                  instances, interrupted, elapsed)


def print_summary(result, sync_dir):
    """The figures per instance and in all, on standard output."""
    header = ("instance", "build", "execs", "execs/s", "corpus", "cov", "crashes", "hangs")
    rows = [(one.name, one.build, str(one.execs), f"{one.execs_per_sec:.0f}",
             str(one.corpus_count), one.coverage, str(one.crashes), str(one.hangs))
            for one in result.instances]
    rows.append(("all", "", str(result.execs), f"{result.execs_per_sec:.0f}", "", "",
                 str(len(result.crashes)), str(len(result.hangs))))
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
    print(f"\n{result.target}: AFL++, {len(result.instances)} instance(s), "
          f"{result.seconds:.0f} s")
    for row in [header] + rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        print("  " + "  ".join(cells).rstrip())
    print(f"output: {project.display_path(sync_dir)}/ (instances' queues, crashes, "
          f"hangs); logs: {project.display_path(project.work_subdir('logs'))}/afl-"
          f"{result.target}-*.log")
    if result.problems:
        print("\nproblems:")
        print("\n".join(f"  {problem}" for problem in result.problems))
