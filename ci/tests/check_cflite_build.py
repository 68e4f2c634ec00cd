#!/usr/bin/env python3
"""ClusterFuzzLite's build works from a clone: .clusterfuzzlite/build.sh,
run with its defaults (clang, ASan + UBSan, libFuzzer) but with OUT and WORK
in a private directory (removed afterwards, also on failure), leaves for
every target of the build's targets.txt:
  - OUT/TARGET, an executable that runs its seed corpus once
    (TARGET -runs=0 DIR, exit status 0);
  - OUT/TARGET_seed_corpus.zip holding exactly the files of corpus/TARGET/
    and corpus/regressions/TARGET/ (no dotfiles, no README), byte for byte;
  - OUT/TARGET.dict and OUT/TARGET.options, copies of fuzz/'s, when fuzz/
    has them, and the dictionary the options name beside them.
Each problem is printed, with what to look at; exit status 1 if there is one.

Usage: check_cflite_build.py REPO
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import zipfile

BUILD_TIMEOUT_S = 900
RUN_TIMEOUT_S = 120
# The variables the builder image sets: the defaults must apply instead.
IMAGE_ENV = ("SRC", "CC", "CFLAGS", "CXX", "CXXFLAGS", "LIB_FUZZING_ENGINE",
             "OUT", "WORK", "SANITIZER", "FUZZING_ENGINE")
DICT_LINE = re.compile(r"^\s*dict\s*=\s*(\S+)\s*$", re.M)


def run(cmd, timeout, **kwargs):
    print("+ " + " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, timeout=timeout, **kwargs)


def build(repo, out, work):
    env = {k: v for k, v in os.environ.items() if k not in IMAGE_ENV}
    env.update(OUT=str(out), WORK=str(work))
    began = time.monotonic()
    done = run([str(repo / ".clusterfuzzlite" / "build.sh")], BUILD_TIMEOUT_S, env=env)
    print(f"check_cflite_build: build.sh took {time.monotonic() - began:.0f} s",
          file=sys.stderr)
    return done.returncode


def seed_files(repo, target):
    """The seed corpus build.sh should pack: name -> path."""
    found = {}
    for d in (repo / "corpus" / target, repo / "corpus" / "regressions" / target):
        if d.is_dir():
            for f in d.iterdir():
                if f.is_file() and not f.name.startswith(".") and not f.name.startswith("README"):
                    found[f.name] = f
    return found


def zip_problems(repo, out, target):
    seeds = seed_files(repo, target)
    archive = out / f"{target}_seed_corpus.zip"
    if not archive.is_file():
        if seeds:
            yield f"{archive} is missing, though corpus/ has {len(seeds)} seeds"
        return
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        for name in sorted(names - set(seeds)):
            yield f"{archive} holds {name}, which is no seed of corpus/ or corpus/regressions/"
        for name in sorted(set(seeds) - names):
            yield f"{archive} lacks {seeds[name].relative_to(repo)}"
        for name in sorted(names & set(seeds)):
            if z.read(name) != seeds[name].read_bytes():
                yield f"{archive}: {name} differs from {seeds[name].relative_to(repo)}"


def side_file_problems(repo, out, target):
    for suffix in (".dict", ".options"):
        source, built = repo / "fuzz" / f"{target}{suffix}", out / f"{target}{suffix}"
        if source.is_file() and not built.is_file():
            yield f"{built} is missing (fuzz/{source.name} exists)"
        elif source.is_file() and built.read_bytes() != source.read_bytes():
            yield f"{built} differs from fuzz/{source.name}"
    options = out / f"{target}.options"
    if options.is_file():
        for name in DICT_LINE.findall(options.read_text()):
            if not (out / name).is_file():
                yield f"{options} names dict {name}, which is not in {out}"


def replay_problems(out, target, scratch):
    exe = out / target
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        yield f"{exe} is missing or not executable"
        return
    seeds = scratch / target
    seeds.mkdir()
    archive = out / f"{target}_seed_corpus.zip"
    if archive.is_file():
        with zipfile.ZipFile(archive) as z:
            z.extractall(seeds)
    try:
        done = run([str(exe), "-runs=0", str(seeds)], RUN_TIMEOUT_S,
                   capture_output=True, text=True, cwd=scratch)
    except subprocess.TimeoutExpired:
        yield f"{exe} -runs=0 on its seeds took over {RUN_TIMEOUT_S} s"
        return
    if done.returncode != 0:
        tail = "\n    ".join(done.stderr.strip().splitlines()[-15:])
        yield f"{exe} -runs=0 on its seeds: exit status {done.returncode}:\n    {tail}"


def problems(repo, out, work, scratch):
    status = build(repo, out, work)
    if status != 0:
        yield f".clusterfuzzlite/build.sh failed with exit status {status} (its output is above)"
        return
    targets = (work / "build" / "fuzz" / "targets.txt").read_text().split()
    if not targets:
        yield "targets.txt lists no fuzz target"
    for target in targets:
        yield from zip_problems(repo, out, target)
        yield from side_file_problems(repo, out, target)
        yield from replay_problems(out, target, scratch)
    print(f"check_cflite_build: {len(targets)} targets checked", file=sys.stderr)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    repo = pathlib.Path(argv[1]).resolve()
    with tempfile.TemporaryDirectory(prefix="ipch-cflite-") as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "scratch").mkdir()
        found = list(problems(repo, tmp / "out", tmp / "work", tmp / "scratch"))
    for line in found:
        print(f"check_cflite_build: {line}")
    print(f"check_cflite_build: {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
