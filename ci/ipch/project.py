"""Where things are: the repository, its presets, build and working directories."""

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from . import procs
from .errors import Failure, UsageError

REPO = Path(__file__).resolve().parents[2]
IPCH = REPO / "ipch"

CONFIGURE_TIMEOUT = 600
GIT_TIMEOUT = 30
BUILD_TIMEOUT = 3600


def ipch_command():
    """How the user calls ipch from where they are, for printed commands."""
    return "./ipch" if Path.cwd().resolve() == REPO else str(IPCH)


def git_commit():
    """The short hash of HEAD, or "-" outside a git checkout."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return "-"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "-"


def git_dirty():
    """True when tracked files differ from HEAD (untracked ones do not count)."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                              "--untracked-files=no"],
                             capture_output=True, text=True, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return bool(out.stdout.strip())


def os_name():
    """The distribution's name as /etc/os-release gives it, else the kernel's."""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def memory_bytes():
    """The machine's memory (MemTotal), or None where /proc does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def display_path(path):
    """path relative to the current directory when it lies below it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def build_root():
    return Path(os.environ.get("IPCH_BUILD_DIR") or REPO / "build").absolute()


def work_dir():
    """The working state outside the git tree, created on first use."""
    configured = os.environ.get("IPCH_WORK_DIR")
    if configured:
        path = Path(configured).absolute()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        digest = hashlib.sha1(str(REPO).encode()).hexdigest()[:8]
        path = Path(cache) / "ipch" / f"{REPO.name}-{digest}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def work_subdir(*parts):
    path = work_dir().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure_presets():
    """The visible configure presets of CMakePresets.json, in file order."""
    presets_file = REPO / "CMakePresets.json"
    try:
        data = json.loads(presets_file.read_text())
    except (OSError, ValueError) as err:
        raise Failure(f"cannot read the presets in {presets_file}: {err}") from err
    return [p["name"] for p in data.get("configurePresets", [])
            if not p.get("hidden", False)]


def check_preset(name):
    valid = configure_presets()
    if name not in valid:
        raise UsageError(f"unknown preset '{name}'; the presets of "
                         f"CMakePresets.json are: {', '.join(valid)}")


def seed_dir(target):
    return REPO / "corpus" / target


def regression_dir(target):
    return REPO / "corpus" / "regressions" / target


class Build:
    """One preset's build directory: $IPCH_BUILD_DIR/<preset>."""

    def __init__(self, preset, output_to_stderr=True):
        check_preset(preset)
        self.preset = preset
        self.dir = build_root() / preset
        # Standard output is kept for results (tables, reports, frames).
        self.stdout = sys.stderr.fileno() if output_to_stderr else None

    def configure(self):
        """Configure with the preset when the build directory is new or
        CMakePresets.json changed; otherwise bring the build system up to
        date when a CMakeLists.txt or a file it reads has changed, which a
        build of named targets alone would not do: make would not know a
        target added since, nor would the fuzz target list show it."""
        cache = self.dir / "CMakeCache.txt"
        presets = REPO / "CMakePresets.json"
        with self.locked():
            # A preset's variables reach the cache only through --preset, so
            # an edited CMakePresets.json means configuring with it again.
            if not cache.exists() or cache.stat().st_mtime < presets.stat().st_mtime:
                procs.run(["cmake", "-S", REPO, "--preset", self.preset, "-B", self.dir],
                          f"configuring preset {self.preset}", CONFIGURE_TIMEOUT,
                          stdout=self.stdout)
                return
            # The Makefiles' own check: regenerates if stale, else nothing.
            procs.run(["cmake", "--build", self.dir, "--target", "cmake_check_build_system"],
                      f"checking the build system of preset {self.preset}",
                      CONFIGURE_TIMEOUT, stdout=self.stdout)

    def build(self, targets=()):
        self.configure()
        cmd = ["cmake", "--build", self.dir, "-j", str(procs.cpu_count())]
        for target in targets:
            cmd += ["--target", target]
        what = f"building {' '.join(targets) or 'everything'} in preset {self.preset}"
        with self.locked():
            procs.run(cmd, what, BUILD_TIMEOUT, stdout=self.stdout)

    @contextlib.contextmanager
    def locked(self):
        """Hold the build directory alone: two ipch at once (say, ipch frame
        encode | ipch frame decode) must not configure or build it together."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".ipch-lock", "w") as lock:
            deadline = time.monotonic() + BUILD_TIMEOUT
            told = False
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Failure(f"another ipch has been building {self.dir} "
                                      f"for over {BUILD_TIMEOUT} s; stop it or wait")
                    if not told:
                        print(f"ipch: waiting for another ipch building {self.dir}",
                              file=sys.stderr, flush=True)
                        told = True
                    time.sleep(0.2)
            yield

    def fuzz_targets(self):
        """The target list the build writes when it configures."""
        self.configure()
        listing = self.dir / "fuzz" / "targets.txt"
        try:
            lines = listing.read_text().split()
        except OSError as err:
            raise Failure(f"the {self.preset} build wrote no fuzz target list "
                          f"({err}); check fuzz/CMakeLists.txt") from err
        return [line for line in lines if line]

    def check_target(self, target):
        targets = self.fuzz_targets()
        if target not in targets:
            raise UsageError(f"unknown fuzz target '{target}'; the targets are: "
                             f"{', '.join(targets)}")

    def fuzz_binary(self, target):
        return self.dir / "fuzz" / f"fuzz-{target}"

    def replay_binary(self, target):
        return self.dir / "fuzz" / f"replay-{target}"
