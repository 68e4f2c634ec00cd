"""ipch stress: the multiprocess stress harness (docs/stress.md)."""

import re
import subprocess

from . import procs, project
from .errors import Failure, UsageError

# The harness bounds itself (a deadline per scenario, the watchdog, a
# grace to stop); this only catches a harness that does not.
MARGIN_PER_SCENARIO = 60
MAX_SCENARIOS = 32
DEFAULT_SECONDS = 10
LIST_TIMEOUT = 20
# A row of the harness's table: scenario, procs, ops/s, checks, violations, kills.
ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")


def split_preset(arguments):
    """--preset P (or --preset=P) is ours; the rest is the harness's."""
    preset, rest = "default", []
    it = iter(arguments)
    for word in it:
        if word == "--preset":
            preset = next(it, None)
            if preset is None:
                raise UsageError("--preset needs a preset name")
        elif word.startswith("--preset="):
            preset = word.split("=", 1)[1]
        else:
            rest.append(word)
    project.check_preset(preset)
    return preset, rest


def option_value(arguments, name, default):
    for i, word in enumerate(arguments):
        if word == name and i + 1 < len(arguments):
            return arguments[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return default


def run(arguments):
    """Build the preset's ipch-stress (ipch-stress-broken for --variant)
    and run it with the arguments; its exit status is ours."""
    preset, rest = split_preset(arguments)
    broken = option_value(rest, "--variant", None) is not None
    target = "ipch-stress-broken" if broken else "ipch-stress"
    build = project.Build(preset)
    build.build([target])
    binary = build.dir / "stress" / target
    try:
        seconds = float(option_value(rest, "--time", DEFAULT_SECONDS))
    except ValueError:
        seconds = DEFAULT_SECONDS  # the harness says what is wrong with it
    timeout = MAX_SCENARIOS * (seconds + MARGIN_PER_SCENARIO)
    replay = f"{project.ipch_command()} stress"
    if preset != "default":
        replay += f" --preset {preset}"
    return procs.run([binary] + rest, f"running {target}", timeout,
                     env={"IPCH_STRESS_COMMAND": replay}, check=False)


def scenarios(binary):
    """The scenarios ipch-stress --list names, broken variants left out."""
    listing = subprocess.run([binary, "--list"], capture_output=True, text=True,
                             timeout=LIST_TIMEOUT)
    names = [line.split()[0] for line in listing.stdout.split("broken variants")[0]
             .splitlines()[1:] if line.startswith("  ")]
    if not names:
        raise Failure(f"{binary} --list named no scenario")
    return names


def table_rows(text, names):
    """The harness's table rows for the scenarios in names, as tuples of
    strings: scenario, procs, ops/s, checks, violations, kills."""
    rows = []
    for line in text.splitlines():
        match = ROW.match(line)
        if match and match.group(1) in names:
            rows.append(match.groups())
    return rows


def describe():
    return ("Build the default preset's (or --preset's) stress harness and "
            "run it: ipch stress [--preset P] [SCENARIO...] [--procs N] "
            "[--time S] [--seed X] [--kill-rate R] [--threads] "
            "[--stop-on-violation] [--watchdog S] [--list] [--variant NAME]. "
            "Every argument but --preset goes to stress/ipch-stress "
            "(ipch-stress-broken with --variant); ipch stress --help shows "
            "its own help. Exit status 1 if a violation was found.")
