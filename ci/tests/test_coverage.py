#!/usr/bin/env python3
"""ipch coverage without a build: reading llvm-cov's export summary, the
history file and its "since" deltas, and which files of the corpus
directories are inputs."""

import contextlib
import io
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipch import coverage, project  # noqa: E402
from ipch.errors import Failure  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
# `llvm-cov export -summary-only` (llvm 14) of replay-frame_decode over the
# committed corpus, given impl/ipcf_decode.c and impl/crc32c.c.
EXPORT = DATA / "llvm-cov-export-summary.json"


def figures(line_pct, branch_pct):
    return coverage.TargetCoverage(0, 0, line_pct, 0, 0, branch_pct)


class ExportSummary(unittest.TestCase):
    def test_totals_of_a_real_export(self):
        cov = coverage.coverage_from_export(json.loads(EXPORT.read_text()))
        self.assertEqual((cov.lines_covered, cov.lines_total), (234, 307))
        self.assertEqual((cov.branches_covered, cov.branches_total), (98, 142))
        self.assertEqual((cov.line_pct, cov.branch_pct), (76.22, 69.01))

    def test_an_export_without_branches_is_a_failure_that_says_so(self):
        export = json.loads(EXPORT.read_text())
        del export["data"][0]["totals"]["branches"]
        with self.assertRaisesRegex(Failure, "branches"):
            coverage.coverage_from_export(export)

    def test_an_export_without_data_is_a_failure(self):
        with self.assertRaises(Failure):
            coverage.coverage_from_export({"data": [], "type": "llvm.coverage.json.export"})

    def test_nothing_to_cover_is_zero_percent(self):
        self.assertEqual(coverage.percent(0, 0), 0.0)


class History(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="ipch-test-coverage-")
        self.path = Path(self.dir.name) / "coverage" / "history.jsonl"

    def tearDown(self):
        self.dir.cleanup()

    def append(self, time, **targets):
        entry = {"time": time, "commit": "abc1234",
                 "targets": {name: {"line_pct": line, "branch_pct": branch}
                             for name, (line, branch) in targets.items()}}
        coverage.append_history(self.path, entry)
        return entry

    def test_entries_read_back_oldest_first(self):
        first = self.append("2026-11-24T21:04:00", frame_decode=(60.0, 47.0))
        second = self.append("2026-11-25T21:04:00", frame_decode=(61.2, 48.0))
        self.assertEqual(coverage.load_history(self.path), [first, second])

    def test_no_file_is_no_history(self):
        self.assertEqual(coverage.load_history(self.path), [])

    def test_since_compares_with_the_last_entry_that_has_the_target(self):
        self.append("2026-11-24T21:04:00", frame_decode=(50.0, 40.0))
        self.append("2026-11-25T21:04:00", frame_decode=(59.9, 48.0), crc32c=(90.0, 80.0))
        self.append("2026-11-26T21:04:00", crc32c=(91.0, 80.0))
        history = coverage.load_history(self.path)
        cov = coverage.with_previous(figures(61.2, 48.0), history, "frame_decode")
        self.assertEqual((cov.previous_line_pct, cov.previous_branch_pct), (59.9, 48.0))
        self.assertEqual(coverage.since(cov), "+1.3 / +0.0 since 2026-11-25 21:04")

    def test_a_target_never_measured_has_no_since(self):
        self.append("2026-11-25T21:04:00", crc32c=(90.0, 80.0))
        cov = coverage.with_previous(figures(61.2, 48.0),
                                     coverage.load_history(self.path), "frame_decode")
        self.assertIsNone(cov.previous_line_pct)
        self.assertEqual(coverage.since(cov), "(no earlier run)")

    def test_a_corrupt_line_is_skipped_with_a_warning(self):
        first = self.append("2026-11-24T21:04:00", frame_decode=(60.0, 47.0))
        with self.path.open("a") as history:
            history.write('{"time": "2026-11-25T2\n')
            history.write('{"time": "yesterday", "targets": {}}\n')
        last = self.append("2026-11-26T21:04:00", frame_decode=(61.0, 47.5))
        warnings = io.StringIO()
        with contextlib.redirect_stderr(warnings):
            entries = coverage.load_history(self.path)
        self.assertEqual(entries, [first, last])
        self.assertIn(f"{self.path}:2: not a coverage history entry", warnings.getvalue())
        self.assertIn(f"{self.path}:3: not a coverage history entry", warnings.getvalue())

    def test_an_entry_after_a_line_cut_short_stays_readable(self):
        self.append("2026-11-24T21:04:00", frame_decode=(60.0, 47.0))
        with self.path.open("a") as history:
            history.write('{"time": "2026-11-25T21:04:00", "targ')
        last = self.append("2026-11-26T21:04:00", frame_decode=(61.0, 47.5))
        with contextlib.redirect_stderr(io.StringIO()):
            entries = coverage.load_history(self.path)
        self.assertEqual(entries[-1], last)
        self.assertEqual(len(entries), 2)

    def test_a_run_is_recorded_with_its_commit_and_percentages(self):
        entry = coverage.history_entry({"frame_decode": figures(61.2, 48.0)}, "abc1234")
        coverage.append_history(self.path, entry)
        [read] = coverage.load_history(self.path)
        self.assertEqual(read["commit"], "abc1234")
        self.assertEqual(read["targets"], {"frame_decode": {"line_pct": 61.2,
                                                            "branch_pct": 48.0}})

    def test_report_lines_are_aligned(self):
        report = coverage.Report(
            targets={"frame_decode": figures(61.2, 48.0), "crc32c": figures(100.0, 9.5)},
            all=figures(70.0, 50.0), html_index=Path("html/index.html"), every_target=True)
        lines = coverage.report_lines(report)
        self.assertEqual([line.split()[0] for line in lines], ["frame_decode", "crc32c", "all"])
        for word in ("lines ", "branches ", "(no earlier run)"):
            self.assertEqual(len({line.index(word) for line in lines}), 1, word)


class Gathering(unittest.TestCase):
    TARGET = "frame_decode"

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="ipch-test-coverage-")
        self.work = Path(self.dir.name)
        self.corpus = self.work / "corpus" / self.TARGET
        self.queue = self.work / "afl" / self.TARGET / "main" / "queue"
        for path in (self.corpus / "input-1", self.queue / "id:000000,orig:seed",
                     self.queue / ".state" / "auto_extras" / "id:000000",
                     self.queue / ".cur_input", self.queue / "README.txt",
                     self.work / "afl" / self.TARGET / "second" / "queue" / "id:000001",
                     self.work / "afl" / self.TARGET / "main" / "crashes" / "id:000002"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")

    def tearDown(self):
        self.dir.cleanup()

    def test_every_corpus_directory_of_the_target(self):
        dirs = coverage.corpus_dirs(self.TARGET, self.work)
        self.assertEqual(dirs[0], project.seed_dir(self.TARGET))
        self.assertEqual(dirs[1:], [project.regression_dir(self.TARGET), self.corpus,
                                    self.queue,
                                    self.work / "afl" / self.TARGET / "second" / "queue"])

    def test_a_queue_gives_its_inputs_and_not_its_state(self):
        self.assertEqual(coverage.inputs_of(self.queue), [self.queue / "id:000000,orig:seed"])

    def test_gathered_inputs_skip_empty_and_missing_directories(self):
        gathered = coverage.gather_inputs("no_such_target", self.work)
        self.assertEqual(gathered, {})
        gathered = coverage.gather_inputs(self.TARGET, self.work)
        self.assertEqual(gathered[self.corpus], [self.corpus / "input-1"])
        self.assertNotIn(self.queue / ".state", gathered)
        every = [path for inputs in gathered.values() for path in inputs]
        self.assertFalse([path for path in every if ".state" in path.parts])


if __name__ == "__main__":
    unittest.main(verbosity=2)
