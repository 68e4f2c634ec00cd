"""Crash signatures: what went wrong and in which of the project's functions.

A signature is read from the report of a failed run (AddressSanitizer,
UndefinedBehaviorSanitizer, MemorySanitizer, ThreadSanitizer,
LeakSanitizer, libFuzzer, a failed assert, Valgrind memcheck): the kind of
failure and the first MAX_FRAMES frames of the project's own code, by
function name only. Addresses, line numbers and pids change with every
build and run; the names of the functions that failed do not, so inputs
of one bug share a signature across unrelated edits, and inputs of two
bugs do not.
"""

import hashlib
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import libfuzzer, procs, project

MAX_FRAMES = 3

# Symbolized stacks, stacks for UBSan and aborts too, one report per run.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "symbolize=1:handle_abort=1:halt_on_error=1",
    "UBSAN_OPTIONS": "symbolize=1:print_stacktrace=1:halt_on_error=1:report_error_type=1",
}
# The replay driver runs a channel target's input twice, so it may take
# twice what libFuzzer allows one input before a replay counts as a hang.
REPLAY_TIMEOUT_FACTOR = 2
STOP_MARGIN = 15

# Frames that are not the project's code: the sanitizer runtimes and their
# interceptors, libFuzzer, the AFL++ driver, libc and libpthread, and the
# reporting helpers that only turn a broken check into an abort.
FOREIGN_PREFIXES = ("__sanitizer", "__asan", "__ubsan", "__msan", "__tsan", "__lsan",
                    "__interceptor", "___interceptor", "__sancov", "fuzzer::",
                    "__afl", "afl_", "__GI_", "__libc_", "__pthread", "__assert",
                    "__clone", "__cxa_", "_dl_", "operator new", "operator delete",
                    "std::", "__gnu_cxx::", "(below main)")
FOREIGN_FUNCTIONS = {"raise", "abort", "gsignal", "_start", "start_thread", "clone",
                     "clone3", "pthread_create", "pthread_kill", "malloc", "calloc",
                     "realloc", "free", "reallocarray", "posix_memalign", "memcpy",
                     "memmove", "memset", "memcmp", "strlen", "strnlen", "strcmp",
                     "LLVMFuzzerRunDriver", "ExecuteFilesOnyByOne", "fuzz_fail"}
# Every fuzz target's main is a driver's: replay_main.c, libFuzzer's or AFL++'s.
DRIVER_FUNCTIONS = {"main", "run_file", "run_dir"}
DRIVER_FILES = {"replay_main.c", "aflpp_driver.c", "FuzzerMain.cpp"}
FOREIGN_MODULES = re.compile(r"(^|/)(libc|libpthread|libstdc\+\+|libgcc_s|ld-linux[^/]*)"
                             r"[.-]|vgpreload|libclang_rt")

SANITIZER_HEADER = re.compile(
    r"(?:ERROR|WARNING): (AddressSanitizer|LeakSanitizer|MemorySanitizer|"
    r"ThreadSanitizer|libFuzzer): (.*)$")
ACCESS = re.compile(r"^(READ|WRITE) of size \d+")
ALARM = re.compile(r"^ALARM: working on the last Unit for \d+ seconds")
UBSAN = re.compile(r"runtime error: (.*)$")
UBSAN_SUMMARY = re.compile(r"SUMMARY: UndefinedBehaviorSanitizer: ([\w-]+)")
ASSERTION = re.compile(r": \S+:\d+: (.*?): Assertion `.*' failed\.$")
VALGRIND_HEADER = re.compile(r"^==\d+== (\S.*)$")
VALGRIND_SIGNAL = re.compile(r"Process terminating with default action of signal "
                             r"\d+ \(SIG(\w+)\)")
SANITIZER_FRAME = re.compile(r"^\s+#(\d+)\s+(?:0x[0-9a-fA-F]+\s*(?:in\s+)?)?(.*)$")
VALGRIND_FRAME = re.compile(r"^==\d+==\s+(?:at|by) 0x[0-9A-Fa-f]+: (.*?) \((.*)\)$")
MODULE = re.compile(r"\s*\(([^()]*\+0x[0-9a-fA-F]+)\)$")
BUILD_ID = re.compile(r"\s*\(BuildId: [0-9a-fA-F]+\)$")
SOURCE = re.compile(r"^(?:\S+:\d+(?::\d+)?|\S+\.(?:c|h|cc|cpp|S)|<null>)$")
CLONE_SUFFIX = re.compile(r"\.(?:constprop|isra|part|cold|lto_priv|localalias)(?:\.\d+)*$")

# UBSan's check names (as report_error_type=1 prints them) for its
# messages, so that a report without them gets the same kind.
UBSAN_CHECKS = (
    ("signed integer overflow", "signed-integer-overflow"),
    ("negation of", "signed-integer-overflow"),
    ("unsigned integer overflow", "unsigned-integer-overflow"),
    ("shift exponent", "shift-exponent"),
    ("left shift of", "shift-base"),
    ("division by zero", "integer-divide-by-zero"),
    ("misaligned address", "misaligned-pointer-use"),
    ("null pointer passed as argument", "nonnull-attribute"),
    ("null pointer", "null-pointer-use"),
    ("out of bounds for type", "out-of-bounds-index"),
    ("pointer index expression", "pointer-overflow"),
    ("applying non-zero offset", "pointer-overflow"),
    ("applying zero offset to null pointer", "pointer-overflow"),
    ("addition of unsigned offset", "pointer-overflow"),
    ("subtraction of unsigned offset", "pointer-overflow"),
    ("not a valid value for type 'bool'", "invalid-bool-load"),
    ("not a valid value for type", "invalid-enum-load"),
    ("implicit conversion", "implicit-conversion"),
    ("unreachable program point", "unreachable-call"),
    ("variable length array bound", "non-positive-vla-index"),
    ("passing zero to", "invalid-builtin-use"),
    ("through pointer to incorrect function type", "function-type-mismatch"),
)


@dataclass(frozen=True)
class Signature:
    kind: str              # e.g. "heap-buffer-overflow READ", "SEGV", "timeout"
    frames: tuple          # up to MAX_FRAMES function names, innermost first
    hash: str              # 16 hex digits of sha1 over kind and frames
    title: str             # one line: "KIND in f < g < h"

    @classmethod
    def of(cls, kind, frames):
        frames = tuple(frames)[:MAX_FRAMES]
        digest = hashlib.sha1("\n".join((kind,) + frames).encode()).hexdigest()[:16]
        title = f"{kind} in {' < '.join(frames)}" if frames else kind
        return cls(kind, frames, digest, title)

    @property
    def prefix(self):
        """How libFuzzer would name such an input: crash-, timeout-, oom-, leak-."""
        if self.kind == "timeout":
            return "timeout"
        if self.kind in ("out-of-memory", "allocation-size-too-big"):
            return "oom"
        if self.kind == "leak":
            return "leak"
        return "crash"


@dataclass
class Group:
    """The inputs of one target that fail with one signature."""
    target: str
    signature: Signature
    files: list = field(default_factory=list)  # of Path, in the order given


def signature(text):
    """The signature of the first failure text reports, or None if it reports none."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        kind = header_kind(line, lines[number + 1:number + 4])
        if kind is None:
            continue
        found = first_stack(lines[number + 1:])
        own = [name for name in found if is_own(name)]
        if kind == "deadly signal" and "abort" in skipped_before_own(found):
            kind = "abort"
        names = [name for name, _, _ in own]
        if not names:
            assertion = ASSERTION.search(line)
            if assertion:  # a plain build prints no stack, but names the function
                names = [function_name(assertion.group(1))]
        return Signature.of(kind, names)
    return None


def header_kind(line, following):
    """The kind of failure a report starting at line names, or None."""
    sanitizer = SANITIZER_HEADER.search(line)
    if sanitizer:
        tool, description = sanitizer.groups()
        return sanitizer_kind(tool, description, following)
    if ALARM.match(line):
        return "timeout"
    ubsan = UBSAN.search(line)
    if ubsan:
        return "ubsan: " + ubsan_check(ubsan.group(1))
    if ASSERTION.search(line):
        return "abort"
    valgrind = VALGRIND_HEADER.match(line)
    if valgrind and following and (VALGRIND_FRAME.match(following[0])
                                   or VALGRIND_SIGNAL.search(line)):
        return memcheck_kind(valgrind.group(1))
    return None


def sanitizer_kind(tool, description, following):
    words = description.split()
    first = words[0].rstrip(":") if words else ""
    if tool == "LeakSanitizer":
        return "leak"
    if tool == "libFuzzer":
        if first == "timeout":
            return "timeout"
        return re.sub(r"\s*\(.*$", "", description).strip()
    if tool == "ThreadSanitizer":
        return re.sub(r"\s*\(pid=\d+\)|\s+on (unknown )?address.*$", "", description).strip()
    if first == "attempting" and len(words) > 1:
        return "double-free" if words[1] == "double-free" else "bad-free"
    if first == "requested":
        return "allocation-size-too-big"
    if first in ("out", "allocator"):
        return "out-of-memory"
    if first == "ABRT":
        return "abort"
    access = next((ACCESS.match(line) for line in following if ACCESS.match(line)), None)
    return f"{first} {access.group(1)}" if access else first


def ubsan_check(message):
    for phrase, check in UBSAN_CHECKS:
        if phrase in message:
            return check
    # An unknown message: its words without the values.
    words = re.sub(r"'[^']*'|0x[0-9a-fA-F]+|-?\d+", "", message.split(":")[0]).split()
    return "-".join(words[:5]) or "undefined-behavior"


def memcheck_kind(text):
    signal = VALGRIND_SIGNAL.search(text)
    if signal:
        name = signal.group(1)
        return "abort" if name == "ABRT" else name
    if "definitely lost" in text or "possibly lost" in text:
        return "leak"
    text = re.sub(r" of size \d+|\(0x[^)]*\)|: .*$", "", text)
    return "memcheck: " + text.strip()


def first_stack(lines):
    """The frames (function, file, module) of the first stack in lines."""
    frames = []
    for line in lines:
        frame = parse_frame(line)
        if frame is None:
            if frames:
                break
            continue
        number = SANITIZER_FRAME.match(line)
        if frames and number and number.group(1) == "0":
            break  # a second stack (where it was allocated, freed, ...)
        frames.append(frame)
    return frames


def parse_frame(line):
    """(function or None, source file or None, module or None), or None."""
    valgrind = VALGRIND_FRAME.match(line)
    if valgrind:
        function, where = valgrind.groups()
        if where.startswith("in "):
            return (clean_function(function), None, where[3:])
        return (clean_function(function), where.rsplit(":", 1)[0], None)
    sanitizer = SANITIZER_FRAME.match(line)
    if not sanitizer:
        return None
    rest = BUILD_ID.sub("", sanitizer.group(2).strip())
    module = None
    in_module = MODULE.search(rest)
    if in_module:
        module, rest = in_module.group(1), rest[:in_module.start()]
    source = None
    function, _, last = rest.rpartition(" ")
    if function and SOURCE.match(last):
        source = None if last == "<null>" else re.sub(r":\d+(:\d+)?$", "", last)
    else:
        function = rest
    return (clean_function(function), source, module)


def clean_function(name):
    name = name.strip()
    if not name or name in ("???", "<null>"):
        return None
    previous = None
    while previous != name:
        previous, name = name, CLONE_SUFFIX.sub("", name)
    return name


def function_name(text):
    """check_length from "void check_length(size_t)" (clang) or "check_length" (gcc)."""
    call = re.search(r"([A-Za-z_]\w*)\s*\(", text)
    return call.group(1) if call else text.strip()


def is_own(frame):
    function, source, module = frame
    if function is None:
        return False
    if function.startswith(FOREIGN_PREFIXES) or function in FOREIGN_FUNCTIONS:
        return False
    if source and Path(source).name in DRIVER_FILES:
        return False
    if function in DRIVER_FUNCTIONS and (function == "main" or source is None):
        return False
    return not (module and FOREIGN_MODULES.search(module))


def skipped_before_own(frames):
    names = []
    for frame in frames:
        if is_own(frame):
            break
        names.append(frame[0])
    return names


def classify(target, path):
    """Replay path once with the asan preset's replay-<target>; its
    Signature, or None if it ran clean."""
    build = project.Build("asan")
    build.build([f"replay-{target}"])
    return replay_signature(build, target, Path(path))


def dedupe(pairs):
    """Group [(target, path)] by failure: returns (groups, clean), where
    groups is a list of Group, one per distinct (target, signature hash),
    each with its files in the order given, and clean the (target, path)
    pairs that ran clean in the asan replay (a libFuzzer-only timeout or
    out-of-memory, say), also in order."""
    pairs = [(target, Path(path)) for target, path in pairs]
    if not pairs:
        return [], []
    build = project.Build("asan")
    targets = list(dict.fromkeys(target for target, _ in pairs))
    build.build([f"replay-{target}" for target in targets])
    return group_by_signature(pairs, lambda target, path: replay_signature(build, target, path))


def group_by_signature(pairs, signature_of):
    """dedupe's grouping, with signature_of(target, path) -> Signature or None."""
    groups, clean = {}, []
    for target, path in pairs:
        found = signature_of(target, path)
        if found is None:
            clean.append((target, path))
            continue
        group = groups.setdefault((target, found.hash), Group(target, found))
        group.files.append(path)
    return list(groups.values()), clean


def replay_signature(build, target, path):
    """Run the built replay-<target> on path once. A hang is stopped with
    SIGABRT, on which ASan prints where it was: kind timeout, those frames."""
    seconds = REPLAY_TIMEOUT_FACTOR * libfuzzer.input_timeout(libfuzzer.option_flags(target))
    cmd = ["timeout", "-s", "ABRT", "-k", "5", str(seconds),
           build.replay_binary(target), path]
    procs.announce(cmd, SANITIZER_ENV)
    with tempfile.TemporaryFile() as out:
        began = time.monotonic()
        proc = procs.spawn(cmd, env=SANITIZER_ENV, stdout=out, stderr=out)
        try:
            finished = procs.wait(proc, seconds + STOP_MARGIN)
        finally:
            procs.stop(proc)
        elapsed = time.monotonic() - began
        out.seek(0)
        text = out.read().decode(errors="replace")
    if finished and proc.returncode == 0:
        return None
    found = signature(text)
    if not finished or elapsed >= seconds:
        return Signature.of("timeout", found.frames if found else ())
    return found or Signature.of(procs.describe_status(proc.returncode), ())
