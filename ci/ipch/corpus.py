"""ipch corpus: the committed corpora grow by coverage and stay small.

merge  copies into corpus/TARGET/ the inputs of the working corpus, of the
       queues of the AFL++ instances ($IPCH_WORK_DIR/afl/TARGET/*/queue/)
       and of any --from directory (e.g. another machine's corpus) that add
       coverage to what corpus/TARGET/ already reaches: libFuzzer -merge=1.
min    shrinks corpus/TARGET/ to the inputs that keep its coverage. The
       generated seeds (seed-*, which `ipch seeds` writes and the test
       corpus.seeds-current checks) always stay; the other inputs are
       merged afresh on top of them, and only those that still add
       coverage are kept.
"""

import shutil
import sys
import tempfile
from pathlib import Path

from . import afl, libfuzzer, procs, project
from .errors import UsageError

MERGE_TIMEOUT = 1800
SHOWN = 10
SEED_PREFIX = "seed-"


def merge_into(build, target, into, sources, what):
    """libFuzzer -merge=1: the inputs of sources that add coverage to those
    of into are copied into into. Returns the names of the inputs added."""
    before = {path.name for path in into.iterdir()}
    crash_dir = project.work_subdir("crashes", target)
    scratch = Path(tempfile.mkdtemp(prefix=f"ipch-merge-{target}-",
                                    dir=project.work_subdir("scratch")))
    try:
        cmd = ([build.fuzz_binary(target), "-merge=1", f"-artifact_prefix={crash_dir}/"]
               + libfuzzer.option_flags(target) + [into]
               + flat_sources(sources, scratch))
        procs.run(cmd, what, MERGE_TIMEOUT)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(path.name for path in into.iterdir() if path.name not in before)


def flat_sources(sources, scratch):
    """The sources as libFuzzer should read them. It reads a directory
    recursively, and an AFL++ queue holds its bookkeeping in .state/: a
    source with subdirectories is replaced by a copy of its own inputs."""
    flat = []
    for number, source in enumerate(sources):
        source = Path(source)
        if not any(path.is_dir() for path in source.iterdir()):
            flat.append(source)
            continue
        copy = scratch / str(number)
        copy.mkdir()
        for path in source.iterdir():
            if path.is_file() and not path.name.startswith("."):
                shutil.copyfile(path, copy / path.name)
        flat.append(copy)
    return flat


def show_added(where, added):
    for name in added[:SHOWN]:
        print(f"  {where}/{name}")
    if len(added) > SHOWN:
        print(f"  ... and {len(added) - SHOWN} more")


def fuzz_build(targets):
    build = project.Build("libfuzzer")
    for target in targets:
        build.check_target(target)
    build.build([f"fuzz-{target}" for target in targets])
    return build


def merge(args):
    sources = [project.work_subdir("corpus", args.target)]
    for name in args.sources:
        path = Path(name)
        if not path.is_dir():
            raise UsageError(f"--from {name}: no such directory; give a corpus "
                             f"directory (one input per file)")
        sources.append(path)
    build = fuzz_build([args.target])
    seeds = project.seed_dir(args.target)
    seeds.mkdir(parents=True, exist_ok=True)
    queues = afl.queue_dirs(args.target)
    if queues:
        print(f"ipch: also taking the queues of {len(queues)} AFL++ instance(s) under "
              f"{project.display_path(queues[0].parent.parent)}/", file=sys.stderr,
              flush=True)
    added = merge_into(build, args.target, seeds, sources + queues,
                       f"merging into {seeds} the inputs of {args.target} that add coverage")
    where = project.display_path(seeds)
    print(f"{args.target}: {len(added)} input(s) added to {where}/")
    show_added(where, added)
    return 0


def minimise_one(build, target, scratch):
    """Keeps the seeds and, of the rest, what adds coverage to them;
    returns (inputs before, inputs after)."""
    seeds = project.seed_dir(target)
    inputs = sorted(path for path in seeds.iterdir() if path.is_file())
    kept, rest = scratch / "kept", scratch / "rest"
    kept.mkdir()
    rest.mkdir()
    for path in inputs:
        shutil.copy2(path, (kept if path.name.startswith(SEED_PREFIX) else rest) / path.name)
    if any(rest.iterdir()):
        added = set(merge_into(build, target, kept, [rest],
                               f"minimising the corpus of {target}"))
        for path in inputs:
            if not path.name.startswith(SEED_PREFIX):
                path.unlink()
        for name in added:
            shutil.copy2(kept / name, seeds / name)
    after = sum(1 for path in seeds.iterdir() if path.is_file())
    return len(inputs), after


def minimise(args):
    build = project.Build("libfuzzer")
    targets = args.targets or build.fuzz_targets()
    build = fuzz_build(targets)
    for target in targets:
        if not project.seed_dir(target).is_dir():
            print(f"{target}: no corpus/{target}/ to minimise")
            continue
        scratch = Path(tempfile.mkdtemp(prefix=f"ipch-corpus-{target}-",
                                        dir=project.work_subdir("scratch")))
        try:
            before, after = minimise_one(build, target, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print(f"{target}: {before} input(s), {after} kept")
    return 0
