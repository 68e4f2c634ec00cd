"""The parts of ipch nightly that need no build: the budget and its rotations,
reading ctest's and the stress harness's output, the report's three forms
and the plots."""

import sys
import tempfile
import unittest
from unittest import mock
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree as ET

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipch import ctestrun, nightly, nightly_report, plots, report, stacks, stress  # noqa: E402


CTEST_LOG = """\
Test project /build/tsan
      Start  1: registry.sweep-before
 1/6 Test  #1: registry.sweep-before ............   Passed    0.05 sec
 2/6 Test  #4: unit.frame ........................   Passed    1.20 sec
 3/6 Test  #7: conformance.pipe ..................***Failed    3.50 sec
 4/6 Test #12: stress.threads.rw-region ..........***Timeout  60.01 sec
 5/6 Test #13: mech.sem ..........................***Exception: SegFault  0.31 sec
 6/6 Test  #2: registry.sweep-after ..............***Failed    0.04 sec
"""

STRESS_LOG = """\
seed 5
4 processes per scenario, 2 s each, with kills
scenario                   procs      ops/s    checks violations  kills
counter-sysv-sem               4     127473    191377          0      4
robust-mutex                   4    1073350  64402183          2      9

robust-mutex: 2 violations, the first after 0.41 s (seed 5)
  VIOLATION INVARIANT-BROKEN: worker 2 found a + b = 3, not 4
  VIOLATION INVARIANT-BROKEN: worker 1 found a + b = 5, not 4
  replay: ./ipch stress robust-mutex --procs 4 --time 2 --seed 5 --stop-on-violation
"""


class CtestSelection(unittest.TestCase):
    def test_whole_suite_when_it_fits(self):
        sel = ctestrun.select(list("abcd"), {}, seconds=100, jobs=2, offset=3, guess=4)
        self.assertEqual(sel.names, list("abcd"))
        self.assertTrue(sel.whole)
        self.assertEqual(sel.next_offset, 0)

    def test_part_from_offset_and_next_offset_after_it(self):
        costs = {"a": 10, "b": 1, "c": 1, "d": 4, "e": 4, "f": 4}
        sel = ctestrun.select(list("abcdef"), costs, seconds=4, jobs=2, offset=2, guess=4)
        # From c on: c (1) + d (4) = 5 core-seconds fit 4 s on 2 cores, e
        # would make 9; f and the long a are skipped, b (1) still fits.
        self.assertEqual(sel.names, ["b", "c", "d"])
        self.assertFalse(sel.whole)
        self.assertEqual(sel.next_offset, 2)  # after b, the last taken
        self.assertAlmostEqual(sel.estimate, 3.0)

    def test_rotation_covers_every_test_over_runs(self):
        names = [f"t{i}" for i in range(10)]
        seen, offset = set(), 0
        for _ in range(5):
            sel = ctestrun.select(names, {}, seconds=6, jobs=2, offset=offset, guess=4)
            self.assertEqual(len(sel.names), 3)
            seen.update(sel.names)
            offset = sel.next_offset
        self.assertEqual(seen, set(names))

    def test_a_second_round_passes_over_what_ran(self):
        names = list("abcdef")
        first = ctestrun.select(names, {}, seconds=4, jobs=2, offset=1, guess=4)
        self.assertEqual(first.names, ["b", "c"])
        second = ctestrun.select(names, {}, seconds=100, jobs=2, offset=first.next_offset,
                                 guess=4, skip=set(first.names))
        self.assertEqual(second.names, ["a", "d", "e", "f"])
        self.assertEqual(second.next_offset, 0)  # every test has run

    def test_one_test_always_runs_even_over_budget(self):
        sel = ctestrun.select(["long"], {"long": 500}, seconds=1, jobs=2, offset=0, guess=4)
        self.assertEqual(sel.names, ["long"])

    def test_results_read_from_progress_lines(self):
        results = ctestrun.parse_results(CTEST_LOG)
        self.assertEqual(results["unit.frame"], ("Passed", 1.2))
        self.assertEqual(results["conformance.pipe"], ("Failed", 3.5))
        self.assertEqual(results["stress.threads.rw-region"][0], "Timeout")
        self.assertEqual(results["mech.sem"][0], "Exception: SegFault")
        self.assertEqual(results["registry.sweep-after"][0], "Failed")

    def test_name_expression_is_anchored_and_escaped(self):
        expr = ctestrun.anchored(["a.b", "c-d"])
        self.assertEqual(expr, r"^(a\.b|c-d)$")

    def test_cost_data_read_up_to_the_failed_list(self):
        with tempfile.TemporaryDirectory() as build:
            data = Path(build, "Testing", "Temporary")
            data.mkdir(parents=True)
            (data / "CTestCostData.txt").write_text(
                "unit.frame 5 1.5\nmech.sem 2 12.25\n---\nmech.sem\n")
            self.assertEqual(ctestrun.known_costs(build),
                             {"unit.frame": 1.5, "mech.sem": 12.25})


class Budget(unittest.TestCase):
    def test_shares_follow_weights_of_the_phases_left(self):
        budget = nightly.Budget(10, ["stress", "tsan"])
        budget.deadline = float("inf")
        budget.left = lambda: 200.0
        self.assertAlmostEqual(budget.share("stress"), 100.0)  # weights 10 and 10
        self.assertAlmostEqual(budget.share("tsan"), 200.0)    # all that is left

    def test_a_late_phase_still_gets_its_least(self):
        budget = nightly.Budget(10, ["valgrind", "coverage"])
        budget.left = lambda: 0.0  # valgrind overran everything
        self.assertEqual(budget.share("valgrind"), nightly.MIN_SHARE)
        self.assertEqual(budget.share("coverage"), nightly.MIN_SHARE)

    def test_a_suite_overruns_a_quarter_of_its_share_within_bounds(self):
        self.assertEqual(ctestrun.overrun(54), ctestrun.OVERRUN_LEAST)
        self.assertEqual(ctestrun.overrun(400), 100)
        self.assertEqual(ctestrun.overrun(3600), ctestrun.OVERRUN_MOST)

    def test_unknown_phase_is_a_usage_error(self):
        with self.assertRaises(nightly.UsageError) as caught:
            nightly.chosen_phases("stress,fuzz")
        self.assertIn("unknown phase 'fuzz'", str(caught.exception))

    def test_phases_run_in_their_fixed_order(self):
        self.assertEqual(nightly.chosen_phases("coverage,afl"), ["afl", "coverage"])

    def test_rotation_goes_on_where_the_last_run_stopped(self):
        night = SimpleNamespace(offsets={"afl": 3})
        items = ["a", "b", "c", "d", "e"]
        self.assertEqual(nightly.rotation(night, "afl", items, 3), ["a", "d", "e"])
        self.assertEqual(night.offsets["afl"], 1)
        self.assertEqual(nightly.rotation(night, "afl", items, 9), items)
        self.assertEqual(night.offsets["afl"], 0)


class CrashGrouping(unittest.TestCase):
    def group(self, target, signature, size, engines=("libFuzzer",)):
        kept = Path(self.scratch.name, f"{target}-{size}")
        kept.write_bytes(b"x" * size)
        return nightly.CrashGroup(target, signature, [kept], kept, list(engines))

    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.scratch.cleanup()

    def test_one_bug_in_several_targets_counts_once(self):
        overflow = stacks.Signature.of("heap-buffer-overflow READ",
                                       ("take_payload_bytes", "ipcf_decoder_feed"))
        other = stacks.Signature.of("SEGV", ("ipc_ring_write",))
        night = SimpleNamespace(crash_groups=[
            self.group("frame_decode", overflow, 72),
            self.group("channel_pipe", overflow, 30, ("AFL++",)),
            self.group("shm_ring_ops", other, 9),
            self.group("channel_tcp", None, 5),
            self.group("channel_fifo", None, 5)])
        bugs = nightly_report.distinct_crashes(night)
        self.assertEqual(len(bugs), 4)  # one overflow, one SEGV, two flaky targets
        self.assertEqual([g.target for g in bugs[overflow.hash]],
                         ["frame_decode", "channel_pipe"])

    def test_report_names_each_bug_once_with_the_smallest_input(self):
        overflow = stacks.Signature.of("heap-buffer-overflow READ", ("take_payload_bytes",))
        night = SimpleNamespace(crash_groups=[
            self.group("frame_decode", overflow, 72),
            self.group("channel_pipe", overflow, 30, ("AFL++",))])
        doc = report.Doc()
        nightly_report.report_crashes(doc, night)
        text = report.to_markdown(doc)
        self.assertEqual(text.count("heap-buffer-overflow READ in take_payload_bytes"), 1)
        self.assertIn("2 file(s) in frame_decode, channel_pipe; found by AFL++, libFuzzer", text)
        self.assertIn("channel_pipe-30 --target channel_pipe --minimize --keep", text)


class History(unittest.TestCase):
    def test_change_is_against_the_last_run_that_measured_it(self):
        runs = [{"targets": {"crc32c": {"line_pct": 90.0}}},
                {"targets": {"crc32c": {"line_pct": 93.5, "branch_pct": 80.0}}},
                {"targets": {"crc32c": {"line_pct": None}}},  # a stress-only run
                {"targets": {}}]
        self.assertEqual(nightly.last_measured(runs, "crc32c", "line_pct"), 93.5)
        self.assertEqual(nightly.last_measured(runs, "crc32c", "branch_pct"), 80.0)
        self.assertIsNone(nightly.last_measured(runs, "frame_decode", "line_pct"))
        self.assertAlmostEqual(nightly.change(94.0, 93.5), 0.5)
        self.assertIsNone(nightly.change(94.0, None))

    def test_history_survives_a_corrupt_file(self):
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch, "history.json")
            path.write_text("{not json")
            self.assertEqual(nightly.load_history(path), [])
            nightly.save_history(path, [{"time": "t", "targets": {}}])
            self.assertEqual(nightly.load_history(path), [{"time": "t", "targets": {}}])


class CoveragePhase(unittest.TestCase):
    def test_an_input_that_crashes_the_coverage_replay_is_a_crash_of_the_run(self):
        with tempfile.TemporaryDirectory() as out:
            crashing = Path(out, "e9ca3f")
            figures = nightly.coverage.TargetCoverage(1, 2, 50.0, 1, 2, 50.0)
            measured = nightly.coverage.Report(
                targets={"channel_sysv_msg": figures}, all=figures, html_index=None,
                crashed=[("channel_sysv_msg", crashing, "crashed: killed by SIGABRT")])
            night = SimpleNamespace(history_path=Path(out, "history.json"), out=Path(out),
                                    chosen=["coverage"], history=[], problems=[],
                                    crash_pairs=[], targets={}, coverage=None,
                                    row=lambda t: night.targets.setdefault(
                                        t, nightly.TargetRow(t)))
            phase = nightly.Phase("coverage", planned=30)
            with mock.patch.object(nightly.coverage, "measure", return_value=measured):
                nightly.measure_coverage(night, phase, ["channel_sysv_msg"])
        self.assertEqual(night.crash_pairs,
                         [("channel_sysv_msg", crashing, "coverage replay")])
        self.assertEqual(night.targets["channel_sysv_msg"].coverage, figures)


class StressOutput(unittest.TestCase):
    def test_rows_and_first_violation_with_its_replay(self):
        night = SimpleNamespace(stress_violations=[])
        nightly.parse_violations(night, STRESS_LOG)
        rows = stress.table_rows(STRESS_LOG, ["counter-sysv-sem", "robust-mutex"])
        self.assertEqual([r[0] for r in rows], ["counter-sysv-sem", "robust-mutex"])
        self.assertEqual(rows[1][4], "2")
        [violation] = night.stress_violations
        self.assertEqual(violation["scenario"], "robust-mutex")
        self.assertEqual(violation["count"], 2)
        self.assertIn("worker 2 found a + b = 3", violation["first"])
        self.assertTrue(violation["replay"].startswith("./ipch stress robust-mutex"))


class Report(unittest.TestCase):
    def doc(self):
        doc = report.Doc()
        doc.heading(1, "Nightly")
        doc.para("**FAIL**: 1 crash in `frame_decode`, see [the log](logs/x.log).")
        doc.table(["target", "runs"], [["frame_decode", "1,234"], ["a|b", "5"]])
        doc.code("./ipch repro crash-1 <&>")
        doc.image("coverage", "plots/coverage.svg")
        return doc

    def test_markdown_has_every_block(self):
        text = report.to_markdown(self.doc())
        self.assertIn("# Nightly", text)
        self.assertIn("| frame_decode | 1,234 |", text)
        self.assertIn("| a\\|b | 5 |", text)  # a cell's bar does not split it
        self.assertIn("|---|---:|", text)
        self.assertIn("```\n./ipch repro crash-1 <&>\n```", text)
        self.assertIn("![coverage](plots/coverage.svg)", text)

    def test_html_says_the_same_escaped(self):
        text = report.to_html(self.doc(), "t")
        self.assertIn("<code>frame_decode</code>", text)
        self.assertIn('<a href="logs/x.log">the log</a>', text)
        self.assertIn("&lt;&amp;&gt;", text)
        self.assertIn('<td class="r">1,234</td>', text)
        self.assertIn('<span class="fail">FAIL</span>', text)

    def test_junit_counts_failures_and_skips(self):
        junit = report.JUnit("n")
        junit.case("stress", "a")
        junit.case("stress", "b", failure="2 violations\nreplay: x")
        junit.case("ctest.tsan", "c", 1.5, skipped="not reached")
        with tempfile.TemporaryDirectory() as out:
            path = Path(out, "junit.xml")
            junit.write(path)
            root = ET.parse(path).getroot()
        self.assertEqual((root.get("tests"), root.get("failures"), root.get("skipped")),
                         ("3", "1", "1"))
        stress = root.find("testsuite[@name='stress']")
        self.assertEqual(stress.get("failures"), "1")
        self.assertEqual(stress.find("testcase[@name='b']/failure").get("message"),
                         "2 violations")


class Plots(unittest.TestCase):
    def test_scale_tops(self):
        self.assertEqual(plots.nice_ceiling(0), 1.0)
        self.assertEqual(plots.nice_ceiling(63.2), 100)
        self.assertEqual(plots.nice_ceiling(1800), 2000)
        self.assertEqual(plots.nice_ceiling(4100), 5000)

    def test_svg_is_well_formed_with_a_panel_per_target(self):
        svg = plots.small_multiples(
            "Coverage", [("frame_decode", [[50.0, 61.5, None], [40.0, None, 45.0]]),
                         ("crc<32c>", [[None, None, None], [None, None, None]])],
            ["lines", "branches"], ["d1", "d2", "d3"], "%")
        root = ET.fromstring(svg)
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        self.assertIn("frame_decode", texts)
        self.assertIn("crc<32c>", texts)
        self.assertIn("61.5", texts)  # the last value of the lines series
        self.assertEqual(len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
