#!/usr/bin/env python3
"""The test run's sweeper: ctest runs it before and after every other test
(cmake/IpchBuild.cmake), over the registry of the build directory.

usage: sweep.py --before|--after REGISTRY

--before creates REGISTRY (0700) and removes what an earlier run that was
killed left behind. --after removes what the run left and fails if any
object of the project is still there: one it could not remove, or one whose
creator outlived the run. Each object removed is printed. See docs/cleanup.md.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from ipch import clean  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--before", action="store_true", help="before the run")
    when.add_argument("--after", action="store_true", help="after the run")
    parser.add_argument("registry", metavar="REGISTRY")
    args = parser.parse_args()

    clean.make_registry(args.registry)
    report = clean.sweep([args.registry])
    for line in report.removed:
        print(f"sweep: {line}")
    left = report.failed + report.kept
    for line in left:
        print(f"sweep: left {line}", file=sys.stderr)
    if args.after and left:
        print(f"sweep: {len(left)} object(s) of the project outlived the run",
              file=sys.stderr)
        return 1
    if not report.removed and not left:
        print("sweep: nothing to remove")
    return 0


if __name__ == "__main__":
    sys.exit(main())
