#!/usr/bin/env python3
"""Runs an example (or several programs of one example at once) and checks it.

usage: run_example.py [--expect REGEX]... [--send SIGNALS REGEX]... [--timeout S]
                      -- CMD... [::: CMD...]...

Every command must exit 0 within the timeout, and every REGEX must match
(multi-line) the outputs, stdout and stderr, of all commands joined in the
order given. "{tmp}" in an argument becomes a private directory made for the
run, which must be empty again at the end: an example leaves nothing behind.

--send drives a program with signals: when a line of the first command's
output matches REGEX, the SIGNALS (names without SIG, comma-separated, as
INT,INT,QUIT) are sent to it in that order. The rules fire one after the
other, each once; one that never fired fails the run. A program announces
the point where it is ready for a signal with a line it flushes.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time


def parse(argv):
    if "--" not in argv:
        sys.exit("run_example.py: give the command after --")
    cut = argv.index("--")
    parser = argparse.ArgumentParser(prog="run_example.py")
    parser.add_argument("--expect", action="append", default=[], metavar="REGEX")
    parser.add_argument("--send", action="append", nargs=2, default=[],
                        metavar=("SIGNALS", "REGEX"))
    parser.add_argument("--timeout", type=float, default=60.0)
    opts = parser.parse_args(argv[:cut])
    try:
        opts.send = [([signal.Signals["SIG" + n] for n in names.split(",")],
                      re.compile(regex)) for names, regex in opts.send]
    except KeyError as e:
        sys.exit(f"run_example.py: no signal named {e.args[0]}")
    commands = [[]]
    for arg in argv[cut + 1:]:
        if arg == ":::":
            commands.append([])
        else:
            commands[-1].append(arg)
    if any(not c for c in commands):
        sys.exit("run_example.py: an empty command (check the ::: separators)")
    return opts, commands


class Reader(threading.Thread):
    """Collects one program's output; sends it the signals its lines call for."""

    def __init__(self, proc, rules):
        super().__init__(daemon=True)
        self.proc, self.rules, self.lines = proc, list(rules), []

    def run(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if self.rules and self.rules[0][1].search(line.rstrip("\n")):
                for signo in self.rules.pop(0)[0]:
                    self.proc.send_signal(signo)


def run_all(commands, timeout, send):
    """Starts every command at once; returns (exit codes, outputs, rules left)."""
    procs = [subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for c in commands]
    readers = [Reader(p, send if i == 0 else []) for i, p in enumerate(procs)]
    for r in readers:
        r.start()
    deadline = time.monotonic() + timeout
    for proc, reader, cmd in zip(procs, readers, commands):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
                p.wait()
            sys.exit(f"run_example.py: {cmd[0]} did not end within {timeout} s")
        # A process it left behind would hold the output open.
        reader.join(timeout=max(0.1, deadline - time.monotonic()))
        if reader.is_alive():
            sys.exit(f"run_example.py: the output of {cmd[0]} stayed open after it ended")
    return ([p.returncode for p in procs], ["".join(r.lines) for r in readers],
            readers[0].rules)


def main(argv):
    opts, commands = parse(argv)
    tmp = tempfile.mkdtemp(prefix="ipch-example-")
    try:
        commands = [[a.replace("{tmp}", tmp) for a in c] for c in commands]
        codes, outputs, unsent = run_all(commands, opts.timeout, opts.send)
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
    for signals, regex in unsent:
        names = ",".join(s.name for s in signals)
        failures.append(f"no line matched {regex.pattern}: {names} never sent")
    if left:
        failures.append(f"left behind in the private directory: {', '.join(left)}")
    for f in failures:
        print(f"run_example.py: FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
