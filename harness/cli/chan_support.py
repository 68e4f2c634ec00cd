"""What the channel CLI suites share: their command line, bounded child
processes, expected messages, and the verdict.

Every child runs in its own process group with a deadline; a case that
overruns it fails, and its children are killed and reaped. Nothing a case
makes on disk outlives the private directory the suite runs in.
"""
import argparse
import atexit
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipcf_model as model  # noqa: E402,F401  (re-exported for the suites)

LISTENING = re.compile(rb"^listening on (\S+)$", re.M)
CARRIED = re.compile(r"^Address forms this build carries: (.*)$", re.M)

_live = set()


class Suite:
    """Counts checks; prints each failure with its detail as it happens."""

    def __init__(self, description):
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--chan", required=True, help="the ipch-chan binary")
        parser.add_argument("--frame", required=True, help="the ipch-frame binary")
        parser.add_argument("wrapper", nargs="*",
                            help="a command the tools run under (valgrind ...)")
        args = parser.parse_args()
        self.wrapper = args.wrapper
        self.chan = args.wrapper + [args.chan]
        # Without the wrapper, for the many runs that only parse arguments:
        # the asan preset instruments those, memcheck would add a second each.
        self.direct_chan = [args.chan]
        self.frame = args.wrapper + [args.frame]
        # Memcheck runs a tool some 20-50 times slower.
        self.slow = bool(args.wrapper)
        self.timeout = 300.0 if self.slow else 30.0
        self.passed = 0
        self.failures = []
        self.skipped = []
        self.forms = self.carried_forms(args.chan)
        self.dir = tempfile.mkdtemp(prefix="ipch-chan-test-")
        self.registry_entry = note_scratch(self.dir)
        atexit.register(self.clean_up)
        # Stopped from outside (a ctest timeout): children and files go too.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    def carried_forms(self, chan):
        help_text = subprocess.run([chan, "--help"], capture_output=True,
                                   timeout=30, check=True).stdout.decode()
        found = CARRIED.search(help_text)
        if found is None:
            raise SystemExit(f"{chan} --help names no address forms; "
                             "expected a line 'Address forms this build carries: ...'")
        return {form.rstrip(":") for form in found.group(1).split()} - {"none"}

    def has_form(self, scheme, case):
        """Whether this build carries scheme; every form is required, so a
        case that cannot run for want of one fails."""
        return self.check(case, scheme in self.forms,
                          f"  this build has no backend for {scheme}: addresses; "
                          f"it carries {sorted(self.forms)}")

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failures.append(name)
            print(f"FAIL {name}\n{detail}", file=sys.stderr, flush=True)
        return ok

    def skip(self, name, why):
        self.skipped.append(name)
        print(f"SKIP {name}: {why}", flush=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def scratch(self, name):
        """A fresh directory for one case, inside the suite's."""
        return tempfile.mkdtemp(prefix=name + "-", dir=self.dir)

    def write(self, name, data):
        path = self.path(name)
        with open(path, "wb") as out:
            out.write(data)
        return path

    def finish(self):
        print(f"{self.passed} passed, {len(self.failures)} failed, "
              f"{len(self.skipped)} skipped", flush=True)
        return 1 if self.failures else 0

    def clean_up(self):
        stop_all()
        subprocess.run(["rm", "-rf", "--", self.dir], check=False)
        forget_scratch(self.registry_entry)


def note_scratch(path):
    """Notes a test's scratch directory in the object registry (ctest sets
    IPCH_REGISTRY), so that if the test is killed, the sweep after the run
    removes it with the sockets and FIFOs it holds. Returns the entry."""
    registry = os.environ.get("IPCH_REGISTRY")
    if not registry or not os.path.isdir(registry):
        return None
    entry = os.path.join(registry, "scratch@" + path.replace("/", "%"))
    with open(entry, "w") as f:
        f.write(f"{os.getpid()} {os.geteuid()} {path}\n")
    return entry


def forget_scratch(entry):
    if entry is not None:
        try:
            os.unlink(entry)
        except FileNotFoundError:
            pass


class Proc:
    """A child in its own process group; standard error is collected as it
    comes, so a case can wait for a line on it."""

    PIPE = subprocess.PIPE
    DEVNULL = subprocess.DEVNULL

    def __init__(self, cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE):
        self.cmd = [str(word) for word in cmd]
        self.p = subprocess.Popen(self.cmd, stdin=stdin, stdout=stdout,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self.err = b""
        _live.add(self)

    def wait_for(self, pattern, timeout):
        """The first match of pattern on standard error, or None if the child
        ended or the time ran out before it came."""
        deadline = time.monotonic() + timeout
        fd = self.p.stderr.fileno()
        while True:
            found = pattern.search(self.err)
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return pattern.search(self.err)
                self.err += chunk

    def listening(self, timeout):
        """The address a --listen side reports, or None."""
        found = self.wait_for(LISTENING, timeout)
        return found.group(1).decode() if found else None

    def result(self, timeout, data=None):
        """(exit status, stdout, stderr); status None if it overran and was killed."""
        try:
            out, err = self.p.communicate(data, timeout=timeout)
            status = self.p.returncode
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.p.communicate()
            status = None
        _live.discard(self)
        return status, out or b"", (self.err + (err or b"")).decode(errors="replace")

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def signal(self, sig):
        try:
            os.killpg(self.p.pid, sig)
        except ProcessLookupError:
            pass


def pipe_into(source, cmd):
    """cmd reading what source writes: source | cmd."""
    proc = Proc(cmd, stdin=source.p.stdout)
    source.p.stdout.close()
    source.p.stdout = None  # its output is cmd's now
    return proc


def stop_all():
    for proc in list(_live):
        proc.kill()
        proc.p.communicate()
        _live.discard(proc)


def run(cmd, timeout, data=b""):
    """Runs cmd to its end with data on standard input."""
    return Proc(cmd, stdin=subprocess.PIPE).result(timeout, data)


def json_lines(messages):
    return "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in messages)


def parse_lines(text):
    """The JSON lines a receiver printed, or None if any line is not one."""
    try:
        return [json.loads(line) for line in text.decode().splitlines()]
    except ValueError:
        return None


def stream_shape_problem(messages, sent, first_seq=0):
    """What is wrong with received messages, judged against the payloads
    sent as (type, payload) pairs; None if nothing. The frame limit is the
    backend's choice, so frames are judged by the seq arithmetic only."""
    if messages is None:
        return "not JSON lines"
    if len(messages) != len(sent):
        return f"{len(messages)} messages, not {len(sent)}"
    seq = first_seq
    for i, (got, (type_, payload)) in enumerate(zip(messages, sent)):
        if set(got) != {"type", "seq", "frames", "length"}:
            return f"message {i + 1} has fields {sorted(got)}"
        if (got["type"], got["length"]) != (type_, len(payload)):
            return (f"message {i + 1} is type {got['type']} of {got['length']} "
                    f"bytes, not type {type_} of {len(payload)}")
        if got["seq"] != seq or got["frames"] < 1:
            return f"message {i + 1} has seq {got['seq']} and {got['frames']} frames; expected seq {seq}"
        seq = (seq + got["frames"]) & 0xFFFFFFFF
    return None


def payloads(stream):
    """The payloads of a stream the reference decoder found valid."""
    out, current, pos = [], [], 0
    while pos < len(stream):
        flags = stream[pos + 5]
        length = struct.unpack(">I", stream[pos + 12:pos + 16])[0]
        current.append(stream[pos + model.HEADER:pos + model.HEADER + length])
        pos += model.HEADER + length
        if not flags & model.MORE:
            out.append(b"".join(current))
            current = []
    return out


def encode_messages(sent, max_frame=model.DEFAULT_LIMIT, first_seq=0):
    """A stream of (type, payload) messages by the reference encoder."""
    parts, seq = [], first_seq
    for type_, payload in sent:
        data, seq = model.encode(type_, payload, seq, max_frame)
        parts.append(data)
    return b"".join(parts)


def pattern_bytes(size, salt=0):
    """size bytes that differ from message to message and from place to place."""
    unit = bytes((i * 7 + salt * 31 + (i >> 8)) & 0xFF for i in range(65536 + 13))
    whole, rest = divmod(size, len(unit))
    return unit * whole + unit[:rest]
