#!/usr/bin/env python3
"""The parts of `ipch fuzz --engine afl` (ci/ipch/afl.py) that need no afl-fuzz run.

- fuzzer_stats and the statsd feed parse into the figures the progress line
  and the result take, the feed's coverage computed as afl-fuzz computes
  bitmap_cvg;
- the instance plan for 1, 2 and 4 jobs: one -M main with CMPLOG (-c), the
  first secondary on the ASan build with -m none, none with ASan for 1 job;
  a machine adding only secondaries names them after itself;
- crashes and hangs are copied to the crash directory under libFuzzer's
  names (crash-<sha1>, timeout-<sha1>): one file per distinct input, README
  and older files left out;
- seeds over max_len are left out, and an empty seed set gets one input;
- a corpus merge leaves out an AFL++ queue's .state/ directory.
"""

import hashlib
import os
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipch import afl, corpus  # noqa: E402

STATS = """\
start_time        : 1795654274
last_update       : 1795654284
run_time          : 10
fuzzer_pid        : 20224
execs_done        : 393053
execs_per_sec     : 39297.44
corpus_count      : 53
bitmap_cvg        : 50.39%
saved_crashes     : 2
saved_hangs       : 1
total_edges       : 258
target_mode       : persistent shmem_testcase deferred 
command_line      : afl-fuzz -i in -o out -M main -- ./fuzz-frame_decode
"""

STATSD = (b"fuzzing.cycle_done:0|g\nfuzzing.execs_done:500000|g\n"
          b"fuzzing.execs_per_sec:41234.50|g\nfuzzing.corpus_count:60|g\n"
          b"fuzzing.saved_crashes:3|g\nfuzzing.edges_found:129|g\n")


class FakeBuild:
    def __init__(self, preset):
        self.preset = preset

    def fuzz_binary(self, target):
        return Path(f"/build/{self.preset}/fuzz/fuzz-{target}")


BUILDS = {preset: FakeBuild(preset) for preset in afl.PRESETS}
SETTINGS = afl.Settings(Path("/repo/fuzz/t.dict"), 4096, 25)


def commands(jobs, secondaries_only=False):
    return [[str(word) for word in afl.command(instance, BUILDS, "t", SETTINGS,
                                                Path("/seeds"), Path("/out"), 60, [])]
            for instance in afl.plan(jobs, secondaries_only, host="box.example.org")]


def flag(cmd, name):
    return cmd[cmd.index(name) + 1] if name in cmd else None


class Stats(unittest.TestCase):
    def test_fuzzer_stats(self):
        stats = afl.parse_stats(STATS)
        self.assertEqual(afl.stat_int(stats, "execs_done"), 393053)
        self.assertEqual(afl.stat_float(stats, "execs_per_sec"), 39297.44)
        self.assertEqual(afl.stat_int(stats, "corpus_count"), 53)
        self.assertEqual(stats["bitmap_cvg"], "50.39%")
        self.assertEqual(afl.stat_int(stats, "saved_crashes"), 2)
        self.assertEqual(afl.stat_int(stats, "saved_hangs"), 1)
        self.assertEqual(stats["target_mode"], "persistent shmem_testcase deferred")
        self.assertEqual(stats["command_line"],
                         "afl-fuzz -i in -o out -M main -- ./fuzz-frame_decode")

    def test_missing_and_infinite_figures_count_as_zero(self):
        stats = afl.parse_stats("execs_per_sec     : inf\n")
        self.assertEqual(afl.stat_float(stats, "execs_per_sec"), 0.0)
        self.assertEqual(afl.stat_int(stats, "execs_done"), 0)
        with tempfile.TemporaryDirectory() as scratch:
            self.assertEqual(afl.read_stats(scratch), {})

    def test_statsd_feed_brings_the_stats_up_to_date(self):
        feed = afl.parse_statsd(STATSD.decode())
        self.assertEqual(feed["execs_done"], "500000")
        self.assertEqual(feed["execs_per_sec"], "41234.50")
        now = afl.current_stats(afl.parse_stats(STATS), feed)
        self.assertEqual(afl.stat_int(now, "execs_done"), 500000)
        self.assertEqual(afl.stat_int(now, "corpus_count"), 60)
        self.assertEqual(now["bitmap_cvg"], "50.00%")  # 129 of 258 edges
        self.assertEqual(now["total_edges"], "258")

    def test_an_older_feed_is_not_taken(self):
        stats = afl.parse_stats(STATS)
        feed = afl.parse_statsd("fuzzing.execs_done:100|g\nfuzzing.corpus_count:1|g\n")
        self.assertEqual(afl.current_stats(stats, feed), stats)


class Plan(unittest.TestCase):
    def test_one_job_is_the_main_with_cmplog_and_no_asan(self):
        [main] = commands(1)
        self.assertEqual(flag(main, "-M"), "main")
        self.assertIsNone(flag(main, "-S"))
        self.assertEqual(flag(main, "-c"), "/build/afl-cmplog/fuzz/fuzz-t")
        self.assertEqual(main[-1], "/build/afl/fuzz/fuzz-t")
        self.assertNotIn("-m", main)
        self.assertEqual(afl.presets_of(afl.plan(1)), ["afl", "afl-cmplog"])

    def test_two_jobs_add_an_asan_secondary(self):
        main, asan = commands(2)
        self.assertEqual(flag(main, "-M"), "main")
        self.assertEqual(flag(main, "-c"), "/build/afl-cmplog/fuzz/fuzz-t")
        self.assertEqual(flag(asan, "-S"), "s1")
        self.assertIsNone(flag(asan, "-c"))
        self.assertEqual(flag(asan, "-m"), "none")
        self.assertEqual(asan[-1], "/build/afl-asan/fuzz/fuzz-t")
        self.assertEqual(afl.presets_of(afl.plan(2)), list(afl.PRESETS))

    def test_four_jobs_add_plain_secondaries(self):
        cmds = commands(4)
        self.assertEqual([flag(cmd, "-M") or flag(cmd, "-S") for cmd in cmds],
                         ["main", "s1", "s2", "s3"])
        self.assertEqual([bool(flag(cmd, "-c")) for cmd in cmds],
                         [True, False, False, False])
        self.assertEqual([cmd[-1].split("/")[2] for cmd in cmds],
                         ["afl", "afl-asan", "afl", "afl"])
        self.assertEqual([flag(cmd, "-m") for cmd in cmds], [None, "none", None, None])

    def test_every_instance_gets_the_target_settings(self):
        for cmd in commands(4):
            self.assertEqual(flag(cmd, "-x"), "/repo/fuzz/t.dict")
            self.assertEqual(flag(cmd, "-G"), "4096")
            self.assertEqual(flag(cmd, "-t"), "25000")
            self.assertEqual(flag(cmd, "-V"), "60")
            self.assertEqual(flag(cmd, "-i"), "/seeds")
            self.assertEqual(flag(cmd, "-o"), "/out")
            self.assertEqual(cmd[-2], "--")

    def test_secondaries_only_are_named_after_the_machine(self):
        cmds = commands(2, secondaries_only=True)
        self.assertEqual([flag(cmd, "-S") for cmd in cmds], ["box-s1", "box-s2"])
        self.assertEqual([flag(cmd, "-M") for cmd in cmds], [None, None])
        self.assertEqual([flag(cmd, "-c") for cmd in cmds], [None, None])
        self.assertEqual([cmd[-1].split("/")[2] for cmd in cmds], ["afl-asan", "afl"])


class Failures(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.root = Path(self.scratch.name)
        self.crash_dir = self.root / "crashes" / "t"

    def tearDown(self):
        self.scratch.cleanup()

    def save(self, instance, subdir, name, data, age=0):
        path = self.root / "out" / instance / subdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if age:
            then = time.time() - age
            os.utime(path, (then, then))
        return path

    def test_named_by_sha1_one_file_per_input(self):
        self.save("main", "crashes", "id:000000,sig:06,src:000001,op:havoc", b"IPCF1")
        self.save("s1", "crashes", "id:000000,sig:06,src:000004,op:flip1", b"IPCF1")
        self.save("s1", "crashes", "id:000001,sig:11,src:000004,op:flip1", b"IPCF2")
        self.save("s1", "crashes", "README.txt", b"Command line used to find this crash")
        self.save("main", "hangs", "id:000000,src:000002,op:havoc", b"slow")
        since = time.time() - 1
        crashes, hangs = afl.copy_failures(
            [self.root / "out" / "main", self.root / "out" / "s1"], self.crash_dir, since)
        sha1 = lambda data: hashlib.sha1(data).hexdigest()  # noqa: E731
        self.assertEqual([path.name for path in crashes],
                         sorted([f"crash-{sha1(b'IPCF1')}", f"crash-{sha1(b'IPCF2')}"]))
        self.assertEqual([path.name for path in hangs], [f"timeout-{sha1(b'slow')}"])
        self.assertEqual(sorted(path.name for path in self.crash_dir.iterdir()),
                         sorted(path.name for path in crashes + hangs))
        self.assertEqual((self.crash_dir / f"crash-{sha1(b'IPCF2')}").read_bytes(), b"IPCF2")

    def test_inputs_saved_before_the_run_are_left(self):
        self.save("main", "crashes", "id:000000,sig:06", b"old", age=3600)
        crashes, hangs = afl.copy_failures([self.root / "out" / "main"], self.crash_dir,
                                           time.time() - 1)
        self.assertEqual((crashes, hangs), ([], []))

    def test_an_instance_without_findings(self):
        self.assertEqual(afl.copy_failures([self.root / "out" / "none"], self.crash_dir,
                                           time.time() - 1), ([], []))


class Seeds(unittest.TestCase):
    def test_over_max_len_left_out_and_never_empty(self):
        with tempfile.TemporaryDirectory() as scratch:
            seeds, into = Path(scratch, "seeds"), Path(scratch, "in")
            seeds.mkdir()
            into.mkdir()
            (seeds / "small").write_bytes(b"x" * 8)
            (seeds / "big").write_bytes(b"x" * 9)
            self.assertEqual(afl.prepare_seeds(seeds, into, 8), 1)
            self.assertEqual(sorted(path.name for path in into.iterdir()), ["small"])
            (into / "small").unlink()
            (seeds / "small").unlink()
            self.assertEqual(afl.prepare_seeds(seeds, into, 8), 1)
            [only] = list(into.iterdir())
            self.assertEqual(len(only.read_bytes()), 1)


class Queues(unittest.TestCase):
    def test_merge_leaves_out_the_state_directory(self):
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            queue = root / "afl" / "t" / "main" / "queue"
            (queue / ".state" / "auto_extras").mkdir(parents=True)
            (queue / ".state" / "auto_extras" / "auto_000000").write_bytes(b"tok")
            (queue / "id:000000,time:0,execs:0,orig:seed").write_bytes(b"input")
            plain = root / "plain"
            plain.mkdir()
            (root / "copies").mkdir()
            self.assertEqual(afl.queue_dirs("t", root / "afl" / "t"), [queue])
            flat = corpus.flat_sources([plain, queue], root / "copies")
            self.assertEqual(flat[0], plain)
            self.assertEqual([path.name for path in flat[1].rglob("*")],
                             ["id:000000,time:0,execs:0,orig:seed"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
