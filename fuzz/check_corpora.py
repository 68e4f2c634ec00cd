#!/usr/bin/env python3
"""The committed corpora keep their shape: every directory of corpus/ and
corpus/regressions/ belongs to a fuzz target of the build's list, and no
input is longer than its target's max_len (fuzz/<target>.options), which
libFuzzer would cut and AFL++ refuse. A failure names the file, its size
and the limit, and what to do.

Usage: check_corpora.py CORPUS_DIR FUZZ_DIR TARGETS_TXT
"""

import pathlib
import re
import sys

MAX_LEN = re.compile(r"^\s*max_len\s*=\s*(\d+)\s*$", re.M)


def max_len(fuzz_dir, target):
    options = fuzz_dir / f"{target}.options"
    if not options.is_file():
        return None
    found = MAX_LEN.search(options.read_text())
    return int(found.group(1)) if found else None


def problems(corpus, fuzz_dir, targets):
    dirs = [d for d in sorted(corpus.iterdir()) if d.is_dir() and d.name != "regressions"]
    regressions = corpus / "regressions"
    if regressions.is_dir():
        dirs += [d for d in sorted(regressions.iterdir()) if d.is_dir()]
    for d in dirs:
        if d.name not in targets:
            yield (f"{d} belongs to no fuzz target of fuzz/CMakeLists.txt: "
                   f"remove it, or add the target")
            continue
        limit = max_len(fuzz_dir, d.name)
        if limit is None:
            yield (f"fuzz/{d.name}.options gives no max_len: every target's "
                   f"inputs have a bound")
            continue
        for f in sorted(p for p in d.iterdir() if p.is_file()):
            size = f.stat().st_size
            if size > limit:
                yield (f"{f} is {size} bytes, over {d.name}'s max_len of "
                       f"{limit}: minimise it (ipch repro, libFuzzer "
                       f"-minimize_crash) or raise max_len in "
                       f"fuzz/{d.name}.options")


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    corpus, fuzz_dir = pathlib.Path(argv[1]), pathlib.Path(argv[2])
    targets = set(pathlib.Path(argv[3]).read_text().split())
    found = list(problems(corpus, fuzz_dir, targets))
    for line in found:
        print(f"check_corpora: {line}")
    files = sum(1 for _ in corpus.rglob("*") if _.is_file())
    print(f"check_corpora: {files} files under {corpus}, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
