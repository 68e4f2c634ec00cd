"""ctest bench.json: run `ipch bench` briefly on two sizes, every part, pinned
and not, and check that its JSON document is complete and well formed, and
that report.md and the plots were written. It asserts nothing about speed.

usage: check_bench_json.py SOURCE_DIR BUILD_DIR
BUILD_DIR is the ctest's build directory; when it is ipch's own
build/default, ipch bench uses it, else a private build root.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.etree import ElementTree as ET

SIZES = [64, 4096]
FUZZ_TARGETS = ["frame_decode", "channel_pipe"]
TIMEOUT = 1700


class Checker:
    def __init__(self, document):
        self.doc = document
        self.errors = []

    def expect(self, condition, what):
        if not condition:
            self.errors.append(what)
        return condition

    def run(self, backends, baselines, scenarios):
        doc = self.doc
        for key in ("schema", "started", "finished", "commit", "kernel"):
            self.expect(isinstance(doc.get(key), str) and doc[key], f"{key}: a string")
        self.expect(doc.get("schema") == "ipch-bench/1", "schema: ipch-bench/1")
        machine = doc.get("machine", {})
        self.expect(isinstance(machine.get("cpu"), str) and machine.get("cpus", 0) >= 1,
                    "machine: cpu and cpus")
        self.expect(doc.get("compiler", {}).get("version"), "compiler: version")
        self.expect(doc.get("options", {}).get("sizes") == SIZES, f"options.sizes: {SIZES}")
        self.expect(doc.get("problems") == [], f"problems: none, found {doc.get('problems')}")
        self.channels(backends, baselines)
        self.crc()
        self.seam()
        self.syscalls()
        self.fuzz()
        self.stress(scenarios)
        verdicts = {t.get("verdict") for t in doc.get("targets", [])}
        self.expect(doc.get("targets") and verdicts <= {"met", "missed", "not measured"},
                    f"targets: each met, missed or not measured, found {verdicts}")

    def channels(self, backends, baselines):
        cells = {(c.get("subject"), c.get("size"), c.get("pinned"), c.get("kind")): c
                 for c in self.doc.get("channels", [])}
        subjects = backends + sorted(set(baselines[b] for b in backends))
        for subject in subjects:
            for size in SIZES:
                for pinned in (False, True):
                    for kind in ("throughput", "latency"):
                        where = f"channels: {subject} {size} B {kind} pinned={pinned}"
                        cell = cells.get((subject, size, pinned, kind))
                        if self.expect(cell is not None and "error" not in cell,
                                       f"{where}: a cell without error"):
                            getattr(self, kind)(cell, size, where)

    def throughput(self, cell, size, where):
        rounds = cell.get("rounds", [])
        self.expect(rounds, f"{where}: rounds")
        for r in rounds:
            self.expect(r.get("messages", 0) >= 1 and r.get("seconds", 0) > 0
                        and r.get("bytes") == r["messages"] * size,
                        f"{where}: a round of whole messages in positive time, found {r}")
        if cell.get("pinned"):
            self.expect(isinstance(cell.get("cpus"), list) and len(cell["cpus"]) == 2,
                        f"{where}: the two CPUs")

    def latency(self, cell, size, where):
        keys = ("min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns")
        values = [cell.get(k) for k in keys]
        if not self.expect(all(isinstance(v, (int, float)) and v > 0 for v in values),
                           f"{where}: {', '.join(keys)} positive"):
            return
        self.expect(values == sorted(values), f"{where}: percentiles in order, found {values}")
        histogram = cell.get("histogram", [])
        bounds = [b for b, _ in histogram]
        self.expect(bounds == sorted(bounds) and len(set(bounds)) == len(bounds),
                    f"{where}: histogram buckets ascending")
        self.expect(sum(n for _, n in histogram) == cell.get("round_trips")
                    and cell.get("round_trips", 0) >= 20,
                    f"{where}: histogram counts sum to round_trips (at least 20)")

    def crc(self):
        rows = {r.get("size"): r for r in self.doc.get("crc", [])}
        for size in SIZES:
            row = rows.get(size)
            if not self.expect(row and "error" not in row, f"crc {size}: a row"):
                continue
            paths = ["memcpy", "crc32c-portable", "ipcf-encode", "ipcf-decode"]
            if row.get("hw_available"):
                paths.append("crc32c-hw")
            for path in paths:
                rates = row.get("paths", {}).get(path)
                self.expect(rates and all(r > 0 for r in rates),
                            f"crc {size} {path}: positive rates")

    def seam(self):
        seam = self.doc.get("seam") or {}
        self.expect(seam.get("plain_seam_symbols") == [],
                    f"seam: no seam symbol in the plain build, found "
                    f"{seam.get('plain_seam_symbols')}")
        self.expect(seam.get("seam_seam_symbols"), "seam: the seam build has the seam")
        for item in seam.get("subjects", []) or [{}]:
            runs = item.get("messages_per_s", {})
            self.expect(len(runs.get("plain", [])) == seam.get("pairs")
                        and len(runs.get("seam", [])) == seam.get("pairs"),
                        f"seam {item.get('subject')}: {seam.get('pairs')} runs of each build")

    def syscalls(self):
        calls = self.doc.get("syscalls") or {}
        phases = calls.get("quiet", {}).get("phases", {})
        self.expect(set(phases) == {"send", "receive"}, "syscalls: send and receive phases")
        self.expect(calls.get("load", {}).get("calls"), "syscalls: counts under load")

    def fuzz(self):
        rows = {r.get("target"): r for r in self.doc.get("fuzz", [])}
        for name in FUZZ_TARGETS:
            row = rows.get(name, {})
            self.expect(row.get("runs", 0) > 0 and row.get("seconds", 0) > 0
                        and row.get("crashes") == [], f"fuzz {name}: runs, no crash")

    def stress(self, scenarios):
        rows = {r.get("scenario"): r for r in self.doc.get("stress", [])}
        for name in scenarios:
            row = rows.get(name, {})
            self.expect(row.get("ops_per_s", 0) > 0 and row.get("violations") == 0,
                        f"stress {name}: ops/s and no violation, found {row}")


def listing(binary, *arguments):
    return subprocess.run([str(binary), *arguments], capture_output=True, text=True,
                          timeout=60, check=True).stdout


def main():
    source, build = Path(sys.argv[1]), Path(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="ipch-bench-test-") as scratch:
        scratch = Path(scratch)
        env = dict(os.environ, IPCH_WORK_DIR=str(scratch / "work"))
        env["IPCH_BUILD_DIR"] = str(build.parent if build.name == "default"
                                    else scratch / "build")
        out = scratch / "out"
        cmd = [str(source / "ipch"), "bench", "--time", "1",
               "--sizes", ",".join(map(str, SIZES)), "--pin",
               "--fuzz-time", "2", "--fuzz-targets", ",".join(FUZZ_TARGETS),
               "--stress-time", "1", "--json", str(out / "bench.json")]
        print("+ " + " ".join(cmd), flush=True)
        status = subprocess.run(cmd, env=env, timeout=TIMEOUT).returncode
        if status != 0:
            print(f"FAIL: ipch bench exited {status}")
            return 1
        document = json.loads((out / "bench.json").read_text())
        root = Path(env["IPCH_BUILD_DIR"]) / "default"
        catalogue = json.loads(listing(root / "bench" / "bench-run", "list"))
        scenarios = [line.split()[0] for line in listing(
            root / "stress" / "ipch-stress", "--list").split("broken variants")[0]
            .splitlines()[1:] if line.startswith("  ")]
        checker = Checker(document)
        checker.run(catalogue["backends"], catalogue["baselines"], scenarios)
        report = out / "report.md"
        checker.expect(report.exists() and "## Targets" in report.read_text(),
                       "report.md with its targets")
        for name in ("throughput-unpinned", "throughput-pinned", "latency-unpinned",
                     "latency-pinned"):
            svg = out / "plots" / f"{name}.svg"
            try:
                checker.expect(ET.parse(svg).getroot().tag.endswith("svg"), f"{svg}: an SVG")
            except (OSError, ET.ParseError) as err:
                checker.expect(False, f"{svg}: {err}")
    for error in checker.errors:
        print(f"FAIL: {error}")
    print(f"bench.json: {len(checker.errors)} problem(s)")
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main())
