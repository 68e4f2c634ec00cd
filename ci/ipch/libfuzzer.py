"""libFuzzer command lines, per-target settings, and what its output says."""

import re
from dataclasses import dataclass
from pathlib import Path

from . import project
from .errors import Failure

# A hang is a bug like a crash; libFuzzer's own default (1200 s) would outlast
# any campaign, so targets get this unless their .options say otherwise.
DEFAULT_INPUT_TIMEOUT = 25

# Names libFuzzer gives the inputs that made a target fail; slow-unit-* files
# only note slowness and are left out.
FAILURE_PREFIXES = ("crash-", "timeout-", "oom-", "leak-")

STATUS_LINE = re.compile(r"^#(\d+)\s+\w+\b(?:.*?\bcov: (\d+) ft: (\d+))?")
FINAL_EXECS = re.compile(r"^stat::number_of_executed_units:\s*(\d+)")
RUNNING_FILE = re.compile(r"^Running: (.*)$")


def option_flags(target):
    """The [libfuzzer] section of fuzz/<target>.options as -key=value flags."""
    path = project.REPO / "fuzz" / f"{target}.options"
    if not path.exists():
        return []
    flags, section = [], None
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise Failure(f"{path}:{number}: expected 'key = value', found '{raw}'")
        if section == "libfuzzer":
            key, value = key.strip(), value.strip()
            if key == "dict":
                # As on OSS-Fuzz, a dictionary is named relative to the options file.
                value = str(path.parent / value)
            flags.append(f"-{key}={value}")
    return flags


def target_flags(target, crash_dir):
    """Flags every libFuzzer run of target gets: artifacts, dictionary, options."""
    flags = [f"-artifact_prefix={crash_dir}/", "-print_final_stats=1"]
    options = option_flags(target)
    dictionary = project.REPO / "fuzz" / f"{target}.dict"
    if dictionary.exists() and not any(flag.startswith("-dict=") for flag in options):
        flags.append(f"-dict={dictionary}")
    if not any(flag.startswith("-timeout=") for flag in options):
        flags.append(f"-timeout={DEFAULT_INPUT_TIMEOUT}")
    return flags + options


def input_timeout(flags):
    """The per-input timeout the flags give libFuzzer (the last one wins)."""
    seconds = DEFAULT_INPUT_TIMEOUT
    for flag in flags:
        if flag.startswith("-timeout="):
            try:
                seconds = int(flag.split("=", 1)[1])
            except ValueError:
                pass
    return seconds


def corpus_dirs(target, working):
    """The working corpus first (new inputs go there), then the seeds, read only."""
    dirs = [working]
    seeds = project.seed_dir(target)
    if seeds.is_dir():
        dirs.append(seeds)
    return dirs


@dataclass
class RunSummary:
    """What one libFuzzer run's output says."""
    execs: int = 0
    cov: int = None
    ft: int = None
    running: str = None  # the last input file it started to run


def summarize(text, summary=None):
    """Fold libFuzzer output into summary; feed it whole lines."""
    summary = summary or RunSummary()
    final_execs = None
    for line in text.splitlines():
        status = STATUS_LINE.match(line)
        if status:
            summary.execs = int(status.group(1))
            if status.group(2) is not None:
                summary.cov, summary.ft = int(status.group(2)), int(status.group(3))
            continue
        final = FINAL_EXECS.match(line)
        if final:
            final_execs = int(final.group(1))
            continue
        running = RUNNING_FILE.match(line)
        if running:
            summary.running = running.group(1)
    if final_execs is not None:
        summary.execs = final_execs
    return summary


def failure_inputs(crash_dir, since):
    """Inputs libFuzzer saved in crash_dir as failures at or after time since.

    Judged by modification time, since a re-found input keeps its name
    (the hash of its content) and is written over.
    """
    crash_dir = Path(crash_dir)
    if not crash_dir.is_dir():
        return []
    found = [path for path in crash_dir.iterdir()
             if path.name.startswith(FAILURE_PREFIXES) and path.is_file()
             and path.stat().st_mtime >= since]
    return sorted(found, key=lambda path: (path.stat().st_mtime, path.name))


def last_line(path):
    """The last non-blank line of a log, which is where libFuzzer says why it quit."""
    try:
        with open(path, "rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 4096))
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def repro_command(path):
    return f"{project.ipch_command()} repro {project.display_path(path)}"
