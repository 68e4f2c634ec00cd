"""ipch bench's tables, targets and plots, drawn from its JSON document alone.

One report.Doc makes the terminal text and report.md, so they cannot
disagree. A figure is the median of its rounds (throughput) or a percentile
of its histogram (latency); a ratio divides a backend's figure by its raw
baseline's at the same size and pinning, measured just before it.
"""

import os
import statistics
import sys
from pathlib import Path

from . import plots, project, report

CODEC_TARGETS = ("crc32c", "frame_chunks", "frame_decode", "frame_roundtrip")
FUZZ_GOAL, CODEC_GOAL = 1_000, 100_000
# The project's targets (issue text, docs/performance.md): reported, never asserted.
FRAMED_STREAMS = ("pipe", "fifo", "unix-stream")
LARGE_RATIO, SMALL_RATIO, SMALL_SIZE, LARGE_SIZE = 0.9, 0.5, 4096, 65536
RING_GBPS, RING_SIZE = 10.0, 1 << 20
RING_RTT_NS, RING_RTT_SIZE = 2000, 64
CRC_GBPS, CRC_SIZE = 8.0, 1 << 20


# ---- figures -------------------------------------------------------------

def size_name(size):
    for unit, name in ((1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} B"


def median(values):
    return statistics.median(values) if values else None


def round_rates(cell):
    return [r["messages"] / r["seconds"] for r in cell.get("rounds", []) if r["seconds"] > 0]


def gb_per_s(cell):
    return median([r["bytes"] / r["seconds"] / 1e9
                   for r in cell.get("rounds", []) if r["seconds"] > 0])


def messages_per_s(cell):
    return median(round_rates(cell))


def cell_summary(cell):
    if "error" in cell:
        return "error"
    if cell["kind"] == "throughput":
        return f"{gb_per_s(cell):.3f} GB/s, {messages_per_s(cell):,.0f} msgs/s"
    return f"p50 {cell['p50_ns'] / 1000:.1f} µs, p99.9 {cell['p999_ns'] / 1000:.1f} µs"


def pin_name(pinned):
    return "pinned" if pinned else "unpinned"


class Cells:
    """The channel cells of a document by (subject, size, pinned, kind)."""

    def __init__(self, document):
        self.cells = {(c["subject"], c["size"], bool(c["pinned"]), c["kind"]): c
                      for c in document.get("channels", [])}
        self.baselines = {}
        order = []
        for c in document.get("channels", []):
            if c["subject"] not in order:
                order.append(c["subject"])
        # A backend follows the baseline measured before it (bench.measure_channels).
        current = None
        for subject in order:
            if subject.startswith("raw:"):
                current = subject
            elif current:
                self.baselines[subject] = current
        self.subjects = order
        self.sizes = sorted({c["size"] for c in document.get("channels", [])})
        self.pins = sorted({bool(c["pinned"]) for c in document.get("channels", [])})

    def get(self, subject, size, pinned, kind):
        cell = self.cells.get((subject, size, pinned, kind))
        return None if cell is None or "error" in cell else cell

    def figure(self, subject, size, pinned, kind, read):
        cell = self.get(subject, size, pinned, kind)
        return None if cell is None else read(cell)

    def ratio(self, backend, size, pinned, kind, read):
        """backend / baseline of the figure read; None where either is missing."""
        mine = self.figure(backend, size, pinned, kind, read)
        base = self.figure(self.baselines.get(backend), size, pinned, kind, read)
        return None if not mine or not base else mine / base


def p50(cell):
    return cell["p50_ns"]


# ---- targets ---------------------------------------------------------------

def target(name, goal, measured, met):
    return {"name": name, "goal": goal, "measured": measured,
            "verdict": "not measured" if met is None else ("met" if met else "missed")}


def targets(document):
    cells = Cells(document)
    found = []
    for backend in FRAMED_STREAMS:
        for pinned in cells.pins:
            found += stream_targets(cells, backend, pinned)
    for pinned in cells.pins:
        gbps = cells.figure("shm-ring", RING_SIZE, pinned, "throughput", gb_per_s)
        found.append(target(f"shm-ring one-way at 1 MiB, {pin_name(pinned)}",
                            f">= {RING_GBPS:g} GB/s", fmt_gbps(gbps),
                            None if gbps is None else gbps >= RING_GBPS))
    rtt = cells.figure("shm-ring", RING_RTT_SIZE, True, "latency", p50)
    found.append(target("shm-ring round trip at 64 B, pinned, p50",
                        f"< {RING_RTT_NS / 1000:g} µs", fmt_ns(rtt),
                        None if rtt is None else rtt < RING_RTT_NS))
    found.append(quiet_ring_target(document.get("syscalls")))
    found.append(crc_target(document.get("crc", [])))
    found += fuzz_targets(document.get("fuzz", []))
    return found


def stream_targets(cells, backend, pinned):
    found = []
    for label, goal, sizes in ((f">= {LARGE_SIZE >> 10} KiB", LARGE_RATIO,
                                [s for s in cells.sizes if s >= LARGE_SIZE]),
                               (f"at {SMALL_SIZE >> 10} KiB", SMALL_RATIO,
                                [s for s in cells.sizes if s == SMALL_SIZE])):
        ratios = [(cells.ratio(backend, s, pinned, "throughput", gb_per_s), s) for s in sizes]
        ratios = [(r, s) for r, s in ratios if r is not None]
        name = f"{backend} throughput {label}, {pin_name(pinned)}"
        if not ratios:
            found.append(target(name, f">= {goal}x raw", "-", None))
            continue
        worst, size = min(ratios)
        found.append(target(name, f">= {goal}x raw",
                            f"{worst:.2f}x (lowest, at {size_name(size)})", worst >= goal))
    return found


def quiet_ring_target(syscalls):
    name = "shm-ring: no system call while the ring is neither empty nor full"
    if not syscalls:
        return target(name, "0 calls", "-", None)
    phases = syscalls["quiet"]["phases"]
    calls = sum(len(v) for v in phases.values())
    return target(name, "0 calls", f"{len(phases['send'])} in {syscalls['quiet']['count']} "
                  f"sends, {len(phases['receive'])} in {syscalls['quiet']['count']} receives",
                  calls == 0)


def crc_target(rows):
    rows = [r for r in rows if "error" not in r and r.get("hw_available")]
    row = next((r for r in rows if r["size"] == CRC_SIZE), rows[-1] if rows else None)
    if row is None:
        return target("CRC-32C hardware path", f">= {CRC_GBPS:g} GB/s", "-", None)
    gbps = median(row["paths"]["crc32c-hw"]) / 1e9
    return target(f"CRC-32C hardware path at {size_name(row['size'])}",
                  f">= {CRC_GBPS:g} GB/s", fmt_gbps(gbps), gbps >= CRC_GBPS)


def fuzz_rate(row):
    return row["runs"] / row["seconds"] if row["seconds"] else 0.0


def fuzz_targets(rows):
    found = []
    for label, goal, chosen in (("codec fuzz targets", CODEC_GOAL,
                                 [r for r in rows if r["target"] in CODEC_TARGETS]),
                                ("other fuzz targets", FUZZ_GOAL,
                                 [r for r in rows if r["target"] not in CODEC_TARGETS])):
        if not chosen:
            found.append(target(label, f">= {goal:,} runs/s each", "-", None))
            continue
        missed = [r for r in chosen if fuzz_rate(r) < goal]
        measured = f"{len(chosen) - len(missed)} of {len(chosen)} at or above"
        if missed:
            measured += "; below: " + ", ".join(f"{r['target']} {fuzz_rate(r):,.0f}"
                                               for r in sorted(missed, key=fuzz_rate))
        found.append(target(label, f">= {goal:,} runs/s each", measured, not missed))
    return found


# ---- the report ------------------------------------------------------------

def fmt_gbps(value):
    return "-" if value is None else f"{value:.2f} GB/s" if value >= 0.1 else f"{value * 1000:.1f} MB/s"


def fmt_ns(value):
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f} ms"
    return f"{value / 1000:.1f} µs" if value >= 1000 else f"{value:.0f} ns"


def fmt_count(value):
    if value is None:
        return "-"
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def fmt_ratio(value):
    return "" if value is None else f" ({value:.2f}x)"


def build_doc(document, images=()):
    doc = report.Doc()
    doc.heading(1, f"ipc-harness benchmarks, {document['started'][:16].replace('T', ' ')} UTC")
    m, c = document["machine"], document["compiler"]
    doc.para(f"Machine: {m['cpu']}, {m['cpus']} CPUs ({m['usable_cpus']} usable), "
             f"{(m['memory_bytes'] or 0) / 2**30:.0f} GiB, {m['os']}; kernel {document['kernel']}; "
             f"{c['version']} {c['flags']}. Commit `{document['commit']}`"
             f"{' with local changes' if document['dirty'] else ''}; "
             f"{document['options']['time']:g} s per cell.")
    cells = Cells(document)
    if cells.subjects:
        channel_tables(doc, cells)
    crc_table(doc, document.get("crc", []))
    seam_section(doc, document.get("seam"))
    syscall_section(doc, document.get("syscalls"))
    fuzz_table(doc, document.get("fuzz", []))
    stress_table(doc, document.get("stress", []))
    doc.heading(2, "Targets")
    doc.table(["target", "goal", "measured", "verdict"],
              [[t["name"], t["goal"], t["measured"], t["verdict"]]
               for t in document.get("targets", [])], "llll")
    if document["problems"]:
        doc.heading(2, "Problems")
        doc.bullets(document["problems"])
    for name, path in images:
        doc.image(name, path)
    return doc


def ordered_rows(cells):
    """Each baseline, then its backends."""
    rows = []
    for subject in cells.subjects:
        if subject.startswith("raw:"):
            rows.append(subject)
            rows += [b for b in cells.subjects if cells.baselines.get(b) == subject]
    return rows


def size_table(doc, cells, title, text):
    """A table of subjects by sizes; text(subject, size) fills a cell."""
    doc.heading(2, title)
    doc.table(["subject"] + [size_name(s) for s in cells.sizes],
              [[subject] + [text(subject, s) for s in cells.sizes]
               for subject in ordered_rows(cells)])


def channel_tables(doc, cells):
    for pinned in cells.pins:
        where = pin_name(pinned)

        def with_ratio(kind, read, fmt):
            return lambda subject, size: (
                fmt(cells.figure(subject, size, pinned, kind, read))
                + fmt_ratio(cells.ratio(subject, size, pinned, kind, read)))

        size_table(doc, cells, f"One-way throughput, {where}: GB/s (x raw)",
                   with_ratio("throughput", gb_per_s, fmt_gbps))
        size_table(doc, cells, f"One-way throughput, {where}: messages/s",
                   lambda subject, size: fmt_count(
                       cells.figure(subject, size, pinned, "throughput", messages_per_s)))
        size_table(doc, cells, f"Round trip, {where}: p50 (x raw)",
                   with_ratio("latency", p50, fmt_ns))
        size_table(doc, cells, f"Round trip, {where}: p99 / p99.9",
                   lambda subject, size: "/".join(
                       fmt_ns(cells.figure(subject, size, pinned, "latency",
                                           lambda c, k=k: c[k]))
                       for k in ("p99_ns", "p999_ns")))
    backends = [s for s in ordered_rows(cells) if not s.startswith("raw:")]
    doc.heading(2, "Throughput as a ratio to the raw baseline"
                + (" (unpinned / pinned)" if len(cells.pins) > 1 else ""))
    doc.table(["backend", "baseline"] + [size_name(s) for s in cells.sizes],
              [[b, cells.baselines[b]] + [" / ".join(
                  "-" if r is None else f"{r:.2f}"
                  for r in (cells.ratio(b, s, p, "throughput", gb_per_s) for p in cells.pins))
                  for s in cells.sizes] for b in backends])


def crc_table(doc, rows):
    if not rows:
        return
    paths = ["memcpy", "crc32c-hw", "crc32c-portable", "ipcf-encode", "ipcf-decode"]
    doc.heading(2, "CRC-32C and the IPCF codec: GB/s (x memcpy of the same bytes)")
    table = []
    for row in rows:
        if "error" in row:
            table.append([size_name(row["size"])] + ["error"] * len(paths))
            continue
        base = median(row["paths"]["memcpy"])
        table.append([size_name(row["size"])] + [
            "-" if not row["paths"].get(p) else
            fmt_gbps(median(row["paths"][p]) / 1e9) + fmt_ratio(median(row["paths"][p]) / base)
            for p in paths])
    doc.table(["size"] + paths, table)


def seam_section(doc, seam):
    if not seam:
        return
    doc.heading(2, f"The seam: plain build against the seam build, {size_name(seam['size'])} "
                f"messages, {seam['pairs']} runs each, alternating")
    rows = []
    for item in seam["subjects"]:
        if "error" in item:
            rows.append([item["subject"], "error", "", "", ""])
            continue
        plain, seamed = item["messages_per_s"]["plain"], item["messages_per_s"]["seam"]
        noise = (max(plain) - min(plain)) / median(plain)
        rows.append([item["subject"], f"{median(plain):,.0f}", f"{median(seamed):,.0f}",
                     f"{(median(plain) / median(seamed) - 1) * 100:+.1f}%",
                     f"{noise * 100:.1f}%"])
    doc.table(["backend", "plain msgs/s", "seam msgs/s", "seam's cost", "plain's spread (noise)"],
              rows)
    symbols = seam["plain_seam_symbols"]
    doc.para("Seam symbols in the plain build's bench-run: "
             + ("not looked at (no nm)" if symbols is None else
                "none: its system calls are the libc calls, inlined" if not symbols else
                ", ".join(symbols))
             + f"; in bench-run-seam: {len(seam['seam_seam_symbols'] or [])}.")


def syscall_section(doc, syscalls):
    if not syscalls:
        return
    quiet, load = syscalls["quiet"], syscalls["load"]
    doc.heading(2, "shm-ring system calls (strace)")
    phases = quiet["phases"]
    describe = lambda calls: (", ".join(f"{n} x{calls.count(n)}" for n in sorted(set(calls)))
                              or "none")
    moved = sum(r["messages"] for r in load.get("rounds", []))
    calls = load.get("calls", {})
    busiest = sorted(calls.items(), key=lambda kv: -kv[1])[:4]
    doc.bullets([
        f"{quiet['count']} sends of {size_name(quiet['size'])} into a ring of "
        f"{size_name(quiet['ring_size'])} with room: {describe(phases['send'])}",
        f"{quiet['count']} receives from that ring with data: {describe(phases['receive'])}",
        f"Full speed, {size_name(load['size'])} messages, both processes: {moved:,} messages, "
        f"{sum(calls.values()):,} system calls in all ("
        + ", ".join(f"{n} {k:,}" for n, k in busiest) + "); under strace, so slower "
        "than untraced and with more waits"])


def fuzz_table(doc, rows):
    if not rows:
        return
    doc.heading(2, "Fuzz targets: runs/s (libFuzzer, ASan+UBSan build)")
    table = []
    for row in rows:
        goal = CODEC_GOAL if row["target"] in CODEC_TARGETS else FUZZ_GOAL
        rate = fuzz_rate(row)
        table.append([row["target"], f"{row['runs']:,}", f"{rate:,.0f}", f"{goal:,}",
                      "met" if rate >= goal else "missed",
                      str(len(row["crashes"]))])
    doc.table(["target", "runs", "runs/s", "goal", "verdict", "crashes"], table, "lrrrlr")


def stress_table(doc, rows):
    if not rows:
        return
    doc.heading(2, "Stress scenarios: operations/s (no kills)")
    doc.table(["scenario", "procs", "ops/s", "checks", "violations"],
              [[r["scenario"], r["procs"], f"{r['ops_per_s']:,}", f"{r['checks']:,}",
                r["violations"]] for r in rows])


# ---- plots -----------------------------------------------------------------

def write_plots(document, directory):
    """throughput-*.svg and latency-*.svg, one panel per backend over the sizes."""
    cells = Cells(document)
    if not cells.subjects:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    sizes = [size_name(s) for s in cells.sizes]
    span = f"message size {sizes[0]} to {sizes[-1]}, log scale"
    backends = [s for s in ordered_rows(cells) if not s.startswith("raw:")]
    names = []
    for pinned in cells.pins:
        where = pin_name(pinned)
        panels = [(b, [[cells.figure(subject, s, pinned, "throughput", gb_per_s)
                         for s in cells.sizes] for subject in (b, cells.baselines[b])])
                  for b in backends]
        write(directory, f"throughput-{where}", plots.small_multiples(
            f"One-way throughput, GB/s, {where}", panels, ["backend", "raw baseline"],
            sizes, "", log=True, span=span), names)
        panels = [(b, [[cells.figure(b, s, pinned, "latency", lambda c, k=k: c[k] / 1000)
                        for s in cells.sizes] for k in ("p50_ns", "p99_ns", "p999_ns")]
                   + [[cells.figure(cells.baselines[b], s, pinned, "latency",
                                    lambda c: c["p50_ns"] / 1000) for s in cells.sizes]])
                  for b in backends]
        write(directory, f"latency-{where}", plots.small_multiples(
            f"Round trip, µs, {where}", panels, ["p50", "p99", "p99.9", "raw p50"],
            sizes, "", log=True, span=span), names)
    return names


def write(directory, name, svg, names):
    (directory / f"{name}.svg").write_text(svg)
    names.append(name)


def render(document, plot_dir, json_path):
    """Print the tables; write report.md beside the JSON at json_path and
    the plots in plot_dir. Exit status 1 if the run had a problem (a cell that failed, a
    crash, a violation), else 0: a target missed is a figure, not a failure."""
    where = Path(json_path).parent
    names = write_plots(document, Path(plot_dir))
    images = [(name, os.path.relpath(Path(plot_dir) / f"{name}.svg", where)) for name in names]
    doc = build_doc(document, images)
    sys.stdout.write(report.to_text(doc))
    (where / "report.md").write_text(report.to_markdown(doc))
    print(f"\nbench: report in {project.display_path(where / 'report.md')}"
          + (f", plots in {project.display_path(plot_dir)}" if names else ""))
    return 1 if document["problems"] else 0
