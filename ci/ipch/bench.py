"""ipch bench: what each channel backend costs beside its raw system call,
measured in one run (docs/performance.md).

Every figure stands next to a baseline measured in the same run: a backend's
throughput and round-trip latency next to its mechanism used raw
(bench-run chan raw:...), CRC-32C next to memcpy, the seam build next to the
plain one. Then the fuzz targets' runs per second and the stress scenarios'
operations per second. All of it goes into one JSON document with every
sample; the terminal table, report.md and the plots are drawn from that
document alone, so `ipch bench --from FILE` draws them again.
"""

import datetime
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import bench_report, campaign, procs, project, stress
from .errors import Failure, UsageError

SCHEMA = "ipch-bench/1"
PARTS = ("channels", "crc", "seam", "syscalls", "fuzz", "stress")
DEFAULT_SIZES = (64, 4096, 65536, 1 << 20, 8 << 20)
MAX_SIZE = 16 << 20
DEFAULT_SECONDS = 1.0
FUZZ_SECONDS = 20
STRESS_SECONDS = 5
UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}
# The seam's cost shows most where calls are most per byte: small messages.
SEAM_SUBJECTS = ("pipe", "unix-stream")
SEAM_SIZE = 64
SEAM_PAIRS = 3
# ring-syscalls: the shm-ring channel's sends into a ring with room, then
# its receives from a ring with data, between getppid() markers. strace
# pads a pid to five columns: "700   getppid()", "12345 getppid()".
MARKER = "getppid"
RING_LOAD_SIZE = 1 << 20
CELL_MARGIN = 60
LIST_TIMEOUT = 30


def run(args):
    if args.from_json:
        document = load(args.from_json)
        source = Path(args.from_json).resolve()
        plots = Path(args.plot).resolve() if args.plot else source.parent / "plots"
        return bench_report.render(document, plots, source)
    parts = parse_parts(args.parts)
    sizes = parse_sizes(args.sizes) if args.sizes else list(DEFAULT_SIZES)
    check_durations(args)
    build = project.Build("default")
    build.build(["bench-run", "bench-run-seam"] +
                (["ipch-stress"] if "stress" in parts else []))
    engine = Engine(build.dir / "bench" / "bench-run")
    try:
        catalogue = engine.cell(["list"], LIST_TIMEOUT)
    except CellError as err:
        raise Failure(f"bench-run could not list the backends: {err}") from err
    backends = chosen_backends(args.backends, catalogue["backends"])
    pins = [None] + ([pin_cpus()] if args.pin else [])
    out = output_paths(args)
    document = new_document(args, parts, sizes, backends, pins, build)
    step = {
        "channels": lambda: measure_channels(engine, catalogue["baselines"], backends,
                                             sizes, args.time, pins, document),
        "crc": lambda: measure_crc(engine, sizes, args.time, document),
        "seam": lambda: measure_seam(engine, build, args.time, document),
        "syscalls": lambda: count_ring_syscalls(engine, args.time, document),
        "fuzz": lambda: measure_fuzz(args.fuzz_targets, args.fuzz_time, document),
        "stress": lambda: measure_stress(build, args.stress_time, document),
    }
    for part in parts:
        print(f"ipch bench: {part}", file=sys.stderr, flush=True)
        step[part]()
    document["finished"] = now_iso()
    document["targets"] = bench_report.targets(document)
    save(document, out["json"])
    status = bench_report.render(document, out["plots"], out["json"])
    print(f"\nbench: every sample in {project.display_path(out['json'])}")
    return status


# ---- arguments ----------------------------------------------------------

def parse_size(text):
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).lower() not in UNITS:
        raise UsageError(f"--sizes: '{text}' is not a size; write bytes as 64, 4K, 64KiB "
                         f"or 8M (K and M are 1024 and 1048576)")
    size = int(match.group(1)) * UNITS[match.group(2).lower()]
    if not 1 <= size <= MAX_SIZE:
        raise UsageError(f"--sizes: {text} is {size} bytes; a message is 1 byte to "
                         f"{MAX_SIZE >> 20} MiB")
    return size


def parse_sizes(text):
    return sorted({parse_size(word) for word in text.split(",") if word.strip()})


def parse_parts(text):
    if not text:
        return list(PARTS)
    parts = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise UsageError(f"--parts: '{', '.join(unknown) or text}' is not a part; "
                         f"choose from {', '.join(PARTS)}")
    return [part for part in PARTS if part in parts]


def check_durations(args):
    for name, value in (("--time", args.time), ("--fuzz-time", args.fuzz_time),
                        ("--stress-time", args.stress_time)):
        if value <= 0:
            raise UsageError(f"{name} {value}: give a number of seconds above 0")


def chosen_backends(names, known):
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(f"unknown backend '{unknown[0]}'; the backends are: "
                         f"{', '.join(known)}")
    return [name for name in known if name in names] if names else list(known)


def pin_cpus():
    """The first two CPUs this process may run on; one CPU twice on a machine
    with one, where pinning puts both processes on the same CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[:2] if len(cpus) > 1 else cpus * 2


def output_paths(args):
    if args.json:
        json_path = Path(args.json)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        json_path = project.work_subdir("bench", stamp) / "bench.json"
    plots = Path(args.plot) if args.plot else json_path.parent / "plots"
    return {"json": json_path.resolve(), "plots": plots.resolve()}


def save(document, path):
    """As JSON, gzipped if the name ends in .gz (a run kept in the
    repository: its histograms take a megabyte as text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (json.dumps(document, indent=1) + "\n").encode()
    path.write_bytes(gzip.compress(text, mtime=0) if path.suffix == ".gz" else text)


def load(path):
    try:
        data = Path(path).read_bytes()
        document = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    except (OSError, ValueError, EOFError) as err:
        raise UsageError(f"--from {path}: {err}; give a JSON file ipch bench wrote") from err
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise UsageError(f"--from {path}: not an {SCHEMA} document; give a JSON file "
                         f"ipch bench wrote")
    return document


# ---- the document ---------------------------------------------------------

def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def new_document(args, parts, sizes, backends, pins, build):
    return {
        "schema": SCHEMA,
        "started": now_iso(),
        "commit": project.git_commit(),
        "dirty": project.git_dirty(),
        "machine": machine(),
        "kernel": " ".join(platform.uname()[2:4]),
        "compiler": compiler(build),
        "options": {"parts": parts, "sizes": sizes, "time": args.time,
                    "pin": [p for p in pins if p], "backends": backends,
                    "fuzz_time": args.fuzz_time, "stress_time": args.stress_time},
        "channels": [], "crc": [], "seam": None, "syscalls": None,
        "fuzz": [], "stress": [], "problems": [],
    }


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "memory_bytes": project.memory_bytes(), "hostname": platform.node(),
            "os": project.os_name()}


def compiler(build):
    """The default build's compiler and flags, from its CMake cache."""
    cache = {}
    try:
        for line in (build.dir / "CMakeCache.txt").read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep:
                cache[name.split(":")[0]] = value
    except OSError:
        pass
    path = cache.get("CMAKE_C_COMPILER", "cc")
    version = procs.first_line([path, "--version"], LIST_TIMEOUT)
    build_type = cache.get("CMAKE_BUILD_TYPE", "")
    flags = cache.get(f"CMAKE_C_FLAGS_{build_type.upper()}", "") if build_type else ""
    return {"path": path, "version": version,
            "flags": " ".join(f for f in (cache.get("CMAKE_C_FLAGS", ""), flags) if f)}


# ---- bench-run -------------------------------------------------------------

class CellError(Exception):
    pass


class Engine:
    """bench-run of the default build (or bench-run-seam): one cell a call,
    one JSON line back."""

    def __init__(self, binary):
        self.binary = binary

    def cell(self, arguments, timeout, wrapper=()):
        cmd = list(wrapper) + [self.binary] + [str(word) for word in arguments]
        proc = procs.spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            procs.stop(proc)
            raise CellError(f"{procs.shown(cmd)} took over {timeout:.0f} s and was stopped")
        finally:
            procs.stop(proc)
        message = err.decode(errors="replace").strip()
        if proc.returncode != 0:
            raise CellError(f"{procs.shown(cmd)} failed ({procs.describe_status(proc.returncode)})"
                            + (f": {message.splitlines()[-1]}" if message else ""))
        try:
            return json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError) as err:
            raise CellError(f"{procs.shown(cmd)} printed no JSON line ({err})") from err


def cell_timeout(seconds):
    return seconds * 4 + CELL_MARGIN


def measure_channels(engine, baselines, backends, sizes, seconds, pins, document):
    """Each baseline, then the backends it is the baseline of, at each size,
    pin and mode: a backend is measured right after its limit."""
    groups = {}
    for backend in backends:
        groups.setdefault(baselines[backend], []).append(backend)
    cells = [(subject, size, pin, mode)
             for baseline, members in groups.items()
             for size in sizes for pin in pins for mode in ("throughput", "latency")
             for subject in [baseline] + members]
    for number, (subject, size, pin, mode) in enumerate(cells, start=1):
        arguments = ["chan", subject, "--mode", mode, "--size", size, "--time", seconds]
        if pin:
            arguments += ["--pin", f"{pin[0]},{pin[1]}"]
        where = (f"{subject} {bench_report.size_name(size)} {mode} "
                 f"{'pinned' if pin else 'unpinned'}")
        try:
            result = engine.cell(arguments, cell_timeout(seconds))
        except CellError as err:
            document["problems"].append(str(err))
            result = {"kind": mode, "subject": subject, "size": size,
                      "pinned": bool(pin), "cpus": pin, "error": str(err)}
        document["channels"].append(result)
        print(f"[{number}/{len(cells)}] {where}: {bench_report.cell_summary(result)}",
              file=sys.stderr, flush=True)


def measure_crc(engine, sizes, seconds, document):
    for size in sizes:
        try:
            document["crc"].append(engine.cell(["crc", "--size", size, "--time", seconds],
                                               cell_timeout(seconds * 5)))
        except CellError as err:
            document["problems"].append(str(err))
            document["crc"].append({"kind": "crc", "size": size, "error": str(err)})


def measure_seam(engine, build, seconds, document):
    """The plain build against the seam build, runs alternating, and the plain
    build against itself: its spread is the noise the seam's cost stands
    beside. Whether the plain build calls the seam at all is read from its
    symbols."""
    seam = Engine(build.dir / "bench" / "bench-run-seam")
    result = {"size": SEAM_SIZE, "pairs": SEAM_PAIRS,
              "plain_seam_symbols": seam_symbols(engine.binary),
              "seam_seam_symbols": seam_symbols(seam.binary), "subjects": []}
    for subject in SEAM_SUBJECTS:
        runs = {"plain": [], "seam": []}
        arguments = ["chan", subject, "--mode", "throughput", "--size", SEAM_SIZE,
                     "--time", seconds]
        try:
            for _ in range(SEAM_PAIRS):
                for name, which in (("plain", engine), ("seam", seam)):
                    cell = which.cell(arguments, cell_timeout(seconds))
                    runs[name].append(bench_report.median(bench_report.round_rates(cell)))
        except CellError as err:
            document["problems"].append(str(err))
            result["subjects"].append({"subject": subject, "error": str(err)})
            continue
        result["subjects"].append({"subject": subject, "messages_per_s": runs})
    document["seam"] = result


def seam_symbols(binary):
    """Global symbols of the seam (impl/seam.c) in a binary: none in a build
    whose system calls are the plain libc calls."""
    nm = shutil.which("nm")
    if nm is None:
        return None
    listing = subprocess.run([nm, "--defined-only", "--extern-only", binary],
                             capture_output=True, text=True, timeout=LIST_TIMEOUT)
    return sorted(line.split()[-1] for line in listing.stdout.splitlines()
                  if re.search(r"\b(ipc_fault_\w+|sys_\w+)$", line))


def count_ring_syscalls(engine, seconds, document):
    """The shm-ring channel's system calls: none while it moves messages
    through a ring that has room and data (counted by strace between
    markers), and how many under a full-speed load."""
    strace = shutil.which("strace")
    if strace is None:
        document["problems"].append("syscalls: strace is not installed (ci/install-deps.sh "
                                    "installs it); the ring's system calls were not counted")
        return
    with tempfile.TemporaryDirectory(prefix="ipch-bench-") as scratch:
        trace = Path(scratch) / "trace"
        try:
            quiet = engine.cell(["ring-syscalls"], cell_timeout(seconds),
                                wrapper=[strace, "-f", "-qq", "-o", trace])
            quiet["phases"] = calls_between_markers(trace.read_text(errors="replace"))
            summary = Path(scratch) / "summary"
            load = engine.cell(["chan", "shm-ring", "--mode", "throughput", "--size",
                                RING_LOAD_SIZE, "--time", seconds], cell_timeout(seconds) * 3,
                               wrapper=[strace, "-f", "-c", "-o", summary])
            load["calls"] = strace_counts(summary.read_text(errors="replace"))
        except (CellError, OSError) as err:
            document["problems"].append(f"syscalls: {err}")
            return
    document["syscalls"] = {"quiet": quiet, "load": load}


def calls_between_markers(text):
    """From strace -f output: the calls of the marking process between its
    first and second marker ("send") and its second and third ("receive")."""
    lines = [line for line in text.splitlines()
             if not re.search(r"<\.\.\. \w+ resumed>|^\d+\s+(\+\+\+|---)", line)]
    marks = [(i, line.split()[0]) for i, line in enumerate(lines)
             if re.match(rf"^\d+\s+{MARKER}\(\)", line)]
    if len(marks) < 3:
        raise CellError(f"the trace holds {len(marks)} {MARKER}() markers, not 3")
    pid = marks[0][1]
    phases = {}
    for name, (start, end) in zip(("send", "receive"), zip(marks, marks[1:])):
        calls = [re.match(r"^\d+\s+(\w+)\(", line) for line in lines[start[0] + 1:end[0]]
                 if line.split()[0] == pid]
        phases[name] = [match.group(1) for match in calls if match]
    return phases


def strace_counts(text):
    """strace -c's table as {syscall: calls}."""
    counts = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 5 and re.match(r"^[\d.]+$", fields[0]) and fields[-1] != "total":
            try:
                counts[fields[-1]] = int(fields[3])
            except ValueError:
                continue
    return counts


def measure_fuzz(names, seconds, document):
    """Each fuzz target alone for seconds: libFuzzer, ASan+UBSan build, its
    own options, dictionary and corpora, as ipch fuzz runs it."""
    build = project.Build("libfuzzer")
    build.build()
    targets = build.fuzz_targets()
    chosen = [name.strip() for name in names.split(",")] if names else targets
    for name in chosen:
        if name not in targets:
            raise UsageError(f"--fuzz-targets: unknown target '{name}'; the targets are: "
                             f"{', '.join(targets)}")
    work = project.work_dir()
    project.work_subdir("logs")
    for name in chosen:
        fuzzing = campaign.TargetFuzzing(build, name, seconds, work)
        campaign.fuzz_all([fuzzing], seconds, 1)
        crashes = campaign.crash_files(fuzzing)
        row = {"target": name, "runs": fuzzing.execs_before,
               "seconds": round(fuzzing.seconds_used, 3),
               "crashes": [str(path) for path in crashes], "problems": fuzzing.problems}
        document["fuzz"].append(row)
        document["problems"].extend(fuzzing.problems)
        if crashes:
            document["problems"].append(
                f"fuzz: {name} crashed while measured; its runs/s counts its restarts: "
                + "; ".join(campaign.crash_lines([(name, path) for path in crashes])))
        rate = row["runs"] / row["seconds"] if row["seconds"] else 0
        print(f"fuzz: {name}: {rate:,.0f} runs/s", file=sys.stderr, flush=True)


def measure_stress(build, seconds, document):
    """Every scenario for seconds, twice as many processes as CPUs, no kills:
    operations per second, with its invariants checked as always."""
    binary = build.dir / "stress" / "ipch-stress"
    names = stress.scenarios(binary)
    workers = 2 * procs.cpu_count()
    cmd = [binary] + names + ["--procs", workers, "--time", seconds]
    procs.announce(cmd)
    proc = procs.spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    limit = len(names) * (seconds + stress.MARGIN_PER_SCENARIO)
    try:
        out, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        procs.stop(proc)
        document["problems"].append(f"stress: still running after {limit:.0f} s; stopped")
        return
    finally:
        procs.stop(proc)
    text = out.decode(errors="replace")
    for row in stress.table_rows(text, names):
        document["stress"].append({"scenario": row[0], "procs": int(row[1]),
                                   "ops_per_s": int(row[2]), "checks": int(row[3]),
                                   "violations": int(row[4])})
        if int(row[4]):
            document["problems"].append(f"stress: {row[0]} had {row[4]} violation(s); "
                                        f"replay with {project.ipch_command()} stress {row[0]}")
    if proc.returncode not in (0, 1) or not document["stress"]:
        document["problems"].append(f"stress: ipch-stress ended with "
                                    f"{procs.describe_status(proc.returncode)}:\n{text[-2000:]}")


def describe():
    return ("Build the default preset's bench-run and measure, in one run: each "
            "channel backend (or those named) against its mechanism used raw "
            "(one-way throughput in messages/s and GB/s, sender and receiver in two "
            "processes; round-trip latency p50/p99/p99.9 from a histogram), each "
            "unpinned and, with --pin, with the two processes pinned to two CPUs; "
            "CRC-32C and the IPCF codec against memcpy; the seam build against the "
            "plain one; the shm-ring's system calls under strace; each fuzz target's "
            "runs/s (libFuzzer, ASan build); each stress scenario's ops/s. Prints "
            "tables with the ratio to each baseline, and the project's targets met "
            "and missed; writes every sample to JSON and draws SVG plots. "
            "Takes about 20 minutes with the defaults. See docs/performance.md.")

