#!/usr/bin/env python3
"""Runs an example (or several programs of one example at once) and checks it.

usage: run_example.py [--expect REGEX]... [--timeout S] -- CMD... [::: CMD...]...

Every command must exit 0 within the timeout, and every REGEX must match
(multi-line) the outputs, stdout and stderr, of all commands joined in the
order given. "{tmp}" in an argument becomes a private directory made for the
run, which must be empty again at the end: an example leaves nothing behind.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def parse(argv):
    if "--" not in argv:
        sys.exit("run_example.py: give the command after --")
    cut = argv.index("--")
    parser = argparse.ArgumentParser(prog="run_example.py")
    parser.add_argument("--expect", action="append", default=[], metavar="REGEX")
    parser.add_argument("--timeout", type=float, default=60.0)
    opts = parser.parse_args(argv[:cut])
    commands = [[]]
    for arg in argv[cut + 1:]:
        if arg == ":::":
            commands.append([])
        else:
            commands[-1].append(arg)
    if any(not c for c in commands):
        sys.exit("run_example.py: an empty command (check the ::: separators)")
    return opts, commands


def run_all(commands, timeout):
    """Starts every command at once; returns (exit codes, outputs)."""
    procs = [subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for c in commands]
    deadline = time.monotonic() + timeout
    outputs = []
    for proc, cmd in zip(procs, commands):
        try:
            out, _ = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
                p.communicate()
            sys.exit(f"run_example.py: {cmd[0]} did not end within {timeout} s")
        outputs.append(out.decode(errors="replace"))
    return [p.returncode for p in procs], outputs


def main(argv):
    opts, commands = parse(argv)
    tmp = tempfile.mkdtemp(prefix="ipch-example-")
    try:
        commands = [[a.replace("{tmp}", tmp) for a in c] for c in commands]
        codes, outputs = run_all(commands, opts.timeout)
        left = os.listdir(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    failures = []
    for cmd, code, out in zip(commands, codes, outputs):
        print(f"$ {' '.join(cmd)}\n{out}", end="" if out.endswith("\n") or not out else "\n")
        if code != 0:
            failures.append(f"`{' '.join(cmd)}` exited with {code}")
    joined = "".join(outputs)
    for regex in opts.expect:
        if not re.search(regex, joined, re.MULTILINE):
            failures.append(f"no output matched: {regex}")
    if left:
        failures.append(f"left behind in the private directory: {', '.join(left)}")
    for f in failures:
        print(f"run_example.py: FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
