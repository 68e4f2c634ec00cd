"""ipch repro: one input replayed under ASan+UBSan, then under Valgrind."""

import os
import sys
from pathlib import Path

from . import procs, project
from .errors import UsageError

SANITIZER_TIMEOUT = 120
VALGRIND_TIMEOUT = 900
VALGRIND = ["valgrind", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--track-origins=yes"]


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

    replays = [sanitizer_replay(sanitizer_build, target, path),
               valgrind_replay(project.Build("valgrind"), target, path)]
    print_verdicts(replays, target, path)
    return 0 if all(replay.returncode == 0 for replay in replays) else 1


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
