"""ipch test, ipch frame, ipch send, ipch recv and ipch seeds."""

import hashlib
import os
import sys

from . import ctestrun, procs, project
from .errors import Failure

TEST_TIMEOUT = 5400
SEEDS_TIMEOUT = 300
TOOL_SOURCES = ("impl", "include", "harness")


def test(args):
    build = project.Build(args.preset, output_to_stderr=False)
    build.build()
    jobs = str(procs.cpu_count())
    cmd = ["ctest", "--test-dir", build.dir, "--output-on-failure", "-j", jobs,
           "--no-tests=error"] + on_request_left_out(args.extra) + args.extra
    return procs.run(cmd, f"running the tests of preset {args.preset}",
                     TEST_TIMEOUT, check=False)


def on_request_left_out(extra):
    """Tests labelled bench measure for minutes: they run when a label or
    name is asked for (ipch test -- -L bench), not in the whole suite."""
    chosen = ("-L", "--label-regex", "-R", "--tests-regex", "-I", "--tests-information")
    if any(word.split("=")[0] in chosen for word in extra):
        return []
    return ["-LE", f"^{ctestrun.ON_REQUEST_LABEL}$"]


def frame(mode, arguments):
    exec_tool("ipch-frame", [mode] + arguments)


def chan(direction, arguments):
    exec_tool("ipch-chan", [direction] + arguments)


def exec_tool(target, arguments):
    """Hand the terminal over to harness/<target> of the default preset,
    building it first if it is stale."""
    build = project.Build("default")
    binary = build.dir / "harness" / target
    if tool_is_stale(binary):
        build.build([target])
        # Up to date now even if make had nothing to relink: mark it so, or
        # an edit that does not affect it would bring this build back each time.
        os.utime(binary)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(binary, [str(binary)] + arguments)


def tool_is_stale(binary):
    try:
        built = binary.stat().st_mtime
    except FileNotFoundError:
        return True
    for top in TOOL_SOURCES:
        for directory, _, files in os.walk(project.REPO / top):
            for name in files:
                if os.stat(os.path.join(directory, name)).st_mtime > built:
                    return True
    return False


def seeds(args):
    build = project.Build("default")
    build.build(["fuzz-seeds"])
    generator = build.dir / "fuzz" / "fuzz-seeds"
    if not generator.exists():
        raise Failure(f"the default build made no seed generator at {generator}; "
                      f"check that fuzz/CMakeLists.txt puts fuzz-seeds there")
    corpus = project.REPO / "corpus"
    before = fingerprint(corpus)
    procs.run([generator, corpus], "generating the seed corpora", SEEDS_TIMEOUT)
    after = fingerprint(corpus)
    changes = describe_changes(before, after)
    if not changes:
        print("seeds: no file under corpus/ changed")
        return 0
    print(f"seeds: {len(changes)} file(s) under corpus/ changed:")
    for line in changes:
        print(f"  {line}")
    return 0


def fingerprint(directory):
    """Every file below directory, by path relative to the repository, with its hash."""
    prints = {}
    for path in directory.rglob("*"):
        if path.is_file():
            relative = str(path.relative_to(project.REPO))
            prints[relative] = hashlib.sha1(path.read_bytes()).hexdigest()
    return prints


def describe_changes(before, after):
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            lines.append(f"added    {name}")
        elif name not in after:
            lines.append(f"removed  {name}")
        elif before[name] != after[name]:
            lines.append(f"changed  {name}")
    return lines

