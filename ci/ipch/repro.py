"""ipch repro: one input replayed under ASan+UBSan, then under Valgrind;
optionally minimised while it keeps its crash signature, and kept as a
regression input."""

import hashlib
import os
import re
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path

from . import libfuzzer, procs, project, stacks
from .errors import Failure, UsageError

SANITIZER_TIMEOUT = 120
VALGRIND_TIMEOUT = 900
VALGRIND = ["valgrind", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--track-origins=yes"]
DEFAULT_MINIMIZE_TIME = 60
MINIMIZE_RUNS = 100000
# libFuzzer stops minimising when a step's crash has another dedup token,
# and leaves the last input that had the first one. One frame: more would
# take in libFuzzer's own frames below a shallow stack, which differ between
# the first run and the minimising steps.
MINIMIZE_ENV = {"ASAN_OPTIONS": "dedup_token_length=1"}
AFL_ENV = {"AFL_SKIP_CPUFREQ": "1", "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1"}


def run(args):
    path = Path(args.file)
    if not path.exists():
        raise UsageError(f"no such input file: {args.file}")
    if not path.is_file():
        raise UsageError(f"{args.file} is not a file; give one input file")
    path = path.absolute()

    sanitizer_build = project.Build("asan")
    targets = sanitizer_build.fuzz_targets()
    target = args.target or infer_target(path, targets)
    if target not in targets:
        raise UsageError(f"unknown fuzz target '{target}'; the targets are: "
                         f"{', '.join(targets)}")

    check_options(args)
    found = None
    if args.minimize or args.keep:
        found = stacks.classify(target, path)
        print_signature(path, found)
        if found is None and not args.force:
            raise UsageError(f"{args.file} runs clean in the asan replay, so there is "
                             f"no crash to minimise or keep; an input is kept before "
                             f"its bug is fixed (--keep --force keeps it anyway)")
    if args.minimize:
        if found is None:
            print("--minimize: nothing to minimise in an input that runs clean")
        else:
            path, found = minimize(target, path, found, args)

    replays = [sanitizer_replay(sanitizer_build, target, path),
               valgrind_replay(project.Build("valgrind"), target, path)]
    print_verdicts(replays, target, path)
    if args.keep:
        keep(target, path, found)
    return 0 if all(replay.returncode == 0 for replay in replays) else 1


def check_options(args):
    if not args.minimize and (args.engine or args.minimize_time):
        raise UsageError("--engine and --minimize-time go with --minimize")
    if args.force and not args.keep:
        raise UsageError("--force goes with --keep: it keeps an input that runs clean")


def infer_target(path, targets):
    """The deepest directory in path named like a target, e.g. crashes/<target>/."""
    for candidate in (Path(os.path.abspath(path)), path.resolve()):
        for part in reversed(candidate.parent.parts):
            if part in targets:
                return part
    raise UsageError(f"cannot tell the fuzz target from the path {path}: none of its "
                     f"directories is named after one; pass --target, one of: "
                     f"{', '.join(targets)}")


class Replay:
    def __init__(self, title, cmd, env, timeout, meanings=None):
        self.title, self.cmd, self.env, self.timeout = title, cmd, env, timeout
        self.meanings = meanings or {}  # exit codes the tool gives a meaning
        self.returncode = None
        self.hung = False

    def run(self):
        print(f"\n======== {self.title} ========", flush=True)
        print(f"$ {procs.shown(self.cmd, self.env)}", flush=True)
        out = sys.stdout.fileno()
        proc = procs.spawn(self.cmd, env=self.env, stdout=out, stderr=out)
        try:
            if not procs.wait(proc, self.timeout):
                self.hung = True
                procs.stop(proc)
        except BaseException:
            procs.stop(proc)
            raise
        self.returncode = proc.returncode
        print(f"-------- {self.title}: {self.verdict()}", flush=True)
        return self

    def verdict(self):
        if self.hung:
            return f"hung: still running after {self.timeout} s, stopped"
        if self.returncode == 0:
            return "clean"
        meaning = self.meanings.get(self.returncode)
        detail = f": {meaning}" if meaning else ""
        return f"crashed ({procs.describe_status(self.returncode)}{detail})"


def sanitizer_replay(build, target, path):
    build.build([f"replay-{target}"])
    env = {}
    if "UBSAN_OPTIONS" not in os.environ:
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return Replay("ASan+UBSan (preset asan)", [build.replay_binary(target), path],
                  env, SANITIZER_TIMEOUT).run()


def valgrind_replay(build, target, path):
    build.build([f"replay-{target}"])
    return Replay("Valgrind memcheck (preset valgrind)",
                  VALGRIND + [build.replay_binary(target), path], {},
                  VALGRIND_TIMEOUT, {99: "memcheck found errors"}).run()


def print_verdicts(replays, target, path):
    width = max(len(replay.title) for replay in replays)
    print("\n======== verdict ========")
    for replay in replays:
        print(f"{replay.title.ljust(width)}  {replay.verdict()}")
    print("\nreproduce by hand with:")
    for replay in replays:
        print(f"  {procs.shown(replay.cmd, replay.env)}")
    print(f"or both at once with:\n  {project.ipch_command()} repro "
          f"{procs.shown([path])} --target {target}")


def print_signature(path, found):
    if found is None:
        print(f"signature: none, {project.display_path(path)} runs clean in the asan replay")
    else:
        print(f"signature {found.hash}: {found.title}")


def minimize(target, path, original, args):
    """A smaller input with the original's signature, saved as
    crashes/TARGET/minimized-<hash>, and its signature; else path and original."""
    crash_dir = project.work_subdir("crashes", target)
    scratch = crash_dir / f".minimizing-{os.getpid()}"
    seconds = args.minimize_time or DEFAULT_MINIMIZE_TIME
    try:
        if args.engine == "afl":
            afl_tmin(target, path, scratch, seconds)
        else:
            libfuzzer_minimize(target, path, scratch, seconds)
        before = path.stat().st_size
        if not scratch.is_file() or scratch.stat().st_size >= before:
            print(f"--minimize: found no smaller input that fails; {before} bytes, "
                  f"using {project.display_path(path)} as it is")
            return path, original
        after = stacks.classify(target, scratch)
        if after is None or after.hash != original.hash:
            what = "runs clean" if after is None else f"fails differently: {after.title}"
            print(f"--minimize: the minimised input ({scratch.stat().st_size} bytes) {what}; "
                  f"keeping the original ({before} bytes)")
            return path, original
        result = crash_dir / f"minimized-{original.hash}"
        os.replace(scratch, result)
        print(f"--minimize: {before} -> {result.stat().st_size} bytes, same signature: "
              f"{project.display_path(result)}")
        return result, after
    finally:
        scratch.unlink(missing_ok=True)


def libfuzzer_minimize(target, path, out, seconds):
    """libFuzzer's -minimize_crash, each step within seconds, the whole
    stopped soon after; out holds the smallest crashing input so far."""
    build = project.Build("libfuzzer")
    build.build([f"fuzz-{target}"])
    flags = libfuzzer.target_flags(target, out.parent)
    cmd = [build.fuzz_binary(target), "-minimize_crash=1", f"-runs={MINIMIZE_RUNS}",
           f"-max_total_time={seconds}", f"-exact_artifact_path={out}"] + flags + [path]
    bounded_run(cmd, MINIMIZE_ENV, seconds + libfuzzer.input_timeout(flags),
                f"minimize-{target}.log")


def afl_tmin(target, path, out, seconds):
    """afl-tmin with the afl preset's binary. A crashing input keeps any
    crash (no -e: that is for inputs that do not crash, whose path it keeps);
    the signature check afterwards tells whether it is still the same one.
    The input goes on standard input: given a file, the AFL++ driver runs
    it before the fork server starts."""
    build = project.Build("afl")
    build.build([f"fuzz-{target}"])
    timeout_ms = 1000 * libfuzzer.input_timeout(libfuzzer.option_flags(target))
    cmd = ["afl-tmin", "-i", path, "-o", out, "-m", "none", "-t", str(timeout_ms),
           "--", build.fuzz_binary(target)]
    bounded_run(cmd, AFL_ENV, seconds, f"minimize-{target}.log")


def bounded_run(cmd, env, seconds, log_name):
    """Run a minimiser, its output to a log; past seconds (and a margin) it
    is interrupted, and what it has written so far is what there is."""
    log = project.work_subdir("logs") / log_name
    procs.announce(cmd, env, f" > {shlex.quote(project.display_path(log))} 2>&1")
    began = time.monotonic()
    with log.open("wb") as out:
        proc = procs.spawn(cmd, env=env, stdout=out, stderr=out)
    try:
        if not procs.wait(proc, seconds + stacks.STOP_MARGIN):
            print(f"--minimize: still running after {seconds + stacks.STOP_MARGIN} s; "
                  f"stopped, keeping the smallest input so far", flush=True)
            procs.stop(proc, signal.SIGINT)
    finally:
        procs.stop(proc)
    last = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", libfuzzer.last_line(log))  # afl-tmin's colours
    print(f"--minimize: {time.monotonic() - began:.0f} s, ending with '{last.strip()}'; "
          f"see {project.display_path(log)}", flush=True)


def keep(target, path, found):
    """Copy path into corpus/regressions/TARGET/ as crash-<hash> (timeout-,
    oom-, leak- by kind), unless an input of that signature is kept already.
    An input that runs clean (--force) is named input-<hash of its bytes>."""
    directory = project.regression_dir(target)
    if found is None:
        name = f"input-{hashlib.sha1(path.read_bytes()).hexdigest()[:16]}"
    else:
        name = f"{found.prefix}-{found.hash}"
    shown = project.REPO
    existing = already_kept(directory, name.split("-", 1)[1], path.read_bytes())
    if existing:
        print(f"\nalready kept as {existing.relative_to(shown)}; stored nothing")
        return
    check_max_len(target, path)
    directory.mkdir(parents=True, exist_ok=True)
    kept = directory / name
    shutil.copyfile(path, kept)
    relative = kept.relative_to(shown)
    git = "git" if project.ipch_command() == "./ipch" else f"git -C {shlex.quote(str(shown))}"
    what = found.title if found else "runs clean now"
    message = f"{target}: regression input, {what}"
    print(f"\nkept as {relative} ({kept.stat().st_size} bytes): {what}")
    print(f"ctest's regression.{target} replays it in every preset from now on, "
          f"without reconfiguring. Commit it with the fix:")
    print(f"  {git} add {relative} && {git} commit -m {shlex.quote(message)}")


def already_kept(directory, digest, content):
    """The kept input with that signature (or content) hash, or with the same bytes."""
    if not directory.is_dir():
        return None
    inputs = sorted(p for p in directory.iterdir() if p.is_file())
    return next((p for p in inputs if p.name.endswith("-" + digest)), None) or \
        next((p for p in inputs if p.read_bytes() == content), None)


def check_max_len(target, path):
    """corpus.shape refuses an input over its target's max_len."""
    limit = next((int(flag.split("=", 1)[1]) for flag in libfuzzer.option_flags(target)
                  if flag.startswith("-max_len=")), None)
    size = path.stat().st_size
    if limit is not None and size > limit:
        raise Failure(f"{project.display_path(path)} is {size} bytes, over {target}'s "
                      f"max_len of {limit} (fuzz/{target}.options), which corpus.shape "
                      f"refuses: minimise it (--minimize) or raise max_len")
