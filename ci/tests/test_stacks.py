#!/usr/bin/env python3
"""ipch.stacks against real reports: stacks/*.txt are what sample_target.c
printed when it crashed under ASan+UBSan, UBSan, MSan, TSan, libFuzzer and
Valgrind (stacks/make-samples.sh made them)."""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ipch import stacks  # noqa: E402

SAMPLES = HERE / "stacks"
FEED = ("sample_feed", "LLVMFuzzerTestOneInput")


def sample(name):
    found = stacks.signature((SAMPLES / f"{name}.txt").read_text())
    if found is None:
        raise AssertionError(f"no signature in {name}.txt")
    return found


class KindAndFrames(unittest.TestCase):
    """Each report's kind, and its first frames of the sample's own code:
    no sanitizer runtime, libFuzzer, libc or replay_main.c frame."""

    def check(self, name, kind, frames):
        found = sample(name)
        self.assertEqual((found.kind, found.frames), (kind, frames), name)

    def test_asan(self):
        self.check("asan-heap-buffer-overflow-read", "heap-buffer-overflow READ",
                   ("decode_header",) + FEED)
        self.check("asan-heap-buffer-overflow-write", "heap-buffer-overflow WRITE",
                   ("store_trailer",) + FEED)
        self.check("asan-heap-use-after-free", "heap-use-after-free READ", FEED)
        self.check("asan-segv", "SEGV", FEED)
        self.check("asan-allocation-size-too-big", "allocation-size-too-big",
                   ("grow_buffer",) + FEED)

    def test_ubsan(self):
        for name in ("asan-ubsan-signed-integer-overflow", "ubsan-signed-integer-overflow"):
            self.check(name, "ubsan: signed-integer-overflow", ("add_lengths",) + FEED)

    def test_msan_tsan_lsan(self):
        self.check("msan-use-of-uninitialized-value", "use-of-uninitialized-value", FEED)
        self.check("tsan-data-race", "data race", ("race_counter",) + FEED)
        self.check("asan-leak", "leak", ("grow_buffer",) + FEED)

    def test_libfuzzer(self):
        self.check("libfuzzer-heap-buffer-overflow-read", "heap-buffer-overflow READ",
                   ("decode_header",) + FEED)
        self.check("libfuzzer-timeout", "timeout", ("spin",) + FEED)
        self.check("libfuzzer-out-of-memory", "out-of-memory", ("grow_buffer",) + FEED)

    def test_abort(self):
        for name in ("asan-abort-assert", "libfuzzer-deadly-signal-assert", "valgrind-abort"):
            self.check(name, "abort", ("check_length",) + FEED)
        # A plain build prints no stack; the assertion names the function.
        self.check("plain-assert", "abort", ("check_length",))

    def test_valgrind(self):
        self.check("valgrind-invalid-read", "memcheck: Invalid read", FEED)
        self.check("valgrind-invalid-write", "memcheck: Invalid write", FEED)
        self.check("valgrind-uninitialised",
                   "memcheck: Conditional jump or move depends on uninitialised value(s)",
                   FEED)
        self.check("valgrind-leak", "leak", ("grow_buffer",) + FEED)

    def test_no_report(self):
        self.assertIsNone(stacks.signature("replay: in-1\nreplay: ran 1 input to completion\n"))


class Hashes(unittest.TestCase):
    def test_same_bug_same_hash(self):
        """Another build (every line 7 down, other addresses), another pid,
        another input size, another driver: the same signature."""
        same = [sample(name) for name in (
            "asan-heap-buffer-overflow-read", "asan-heap-buffer-overflow-read-shifted",
            "libfuzzer-heap-buffer-overflow-read")]
        self.assertEqual({found.hash for found in same}, {same[0].hash})
        self.assertEqual(sample("valgrind-invalid-read").hash,
                         sample("valgrind-invalid-read-shifted").hash)
        self.assertEqual(sample("asan-abort-assert").hash,
                         sample("libfuzzer-deadly-signal-assert").hash)

    def test_different_bugs_different_hashes(self):
        names = ["asan-heap-buffer-overflow-read", "asan-heap-buffer-overflow-write",
                 "asan-heap-use-after-free", "asan-segv", "asan-abort-assert",
                 "asan-leak", "asan-allocation-size-too-big",
                 "asan-ubsan-signed-integer-overflow", "libfuzzer-timeout",
                 "libfuzzer-out-of-memory", "msan-use-of-uninitialized-value",
                 "tsan-data-race", "valgrind-uninitialised"]
        hashes = {sample(name).hash: name for name in names}
        self.assertEqual(len(hashes), len(names))

    def test_hash_and_title(self):
        found = sample("asan-heap-buffer-overflow-read")
        self.assertRegex(found.hash, r"^[0-9a-f]{16}$")
        self.assertEqual(found.title, "heap-buffer-overflow READ in decode_header < "
                                      "sample_feed < LLVMFuzzerTestOneInput")
        self.assertEqual(found, stacks.Signature.of(found.kind, found.frames))

    def test_prefix(self):
        self.assertEqual(sample("asan-segv").prefix, "crash")
        self.assertEqual(sample("libfuzzer-timeout").prefix, "timeout")
        self.assertEqual(sample("libfuzzer-out-of-memory").prefix, "oom")
        self.assertEqual(sample("asan-leak").prefix, "leak")


class Grouping(unittest.TestCase):
    def test_groups_in_order_and_clean_apart(self):
        read = sample("asan-heap-buffer-overflow-read")
        write = sample("asan-heap-buffer-overflow-write")
        verdicts = {"a": read, "b": write, "c": None, "d": read, "e": read}
        pairs = [("t1", Path("a")), ("t1", Path("b")), ("t1", Path("c")),
                 ("t1", Path("d")), ("t2", Path("e"))]
        groups, clean = stacks.group_by_signature(pairs, lambda t, p: verdicts[p.name])
        self.assertEqual([(g.target, g.signature.hash, [p.name for p in g.files])
                          for g in groups],
                         [("t1", read.hash, ["a", "d"]), ("t1", write.hash, ["b"]),
                          ("t2", read.hash, ["e"])])
        self.assertEqual(clean, [("t1", Path("c"))])


if __name__ == "__main__":
    unittest.main()
