"""The ipch command line: one parser per subcommand, errors turned into exit statuses."""

import argparse
import os
import pathlib
import signal
import sys

from . import (bench, campaign, clean, corpus, coverage, fuzz, nightly, procs, project, repro,
               stress, tools)
from .errors import Failure, UsageError

FRAME_MODES = ("encode", "decode")
PASSTHROUGH_HINTS = {
    "test": " (ctest arguments go after --: ipch test -- -L unit)",
    "fuzz": " (libFuzzer flags, or afl-fuzz's with --engine afl, go after --: "
            "ipch fuzz TARGET -- -max_len=64)",
}

DESCRIPTION = """\
Build, test and fuzz ipc-harness.

Builds go to $IPCH_BUILD_DIR/<preset> (default: build/<preset>); working
corpora, crash files and logs to $IPCH_WORK_DIR (default: a directory under
${XDG_CACHE_HOME:-~/.cache}/ipch/). Every command ipch runs is shown on
standard error after '+ '."""

FRAME_DESCRIPTION = """\
encode  writes one message's IPCF v1 frames to standard output; the payload is
        FILE, or standard input.
decode  reads an IPCF v1 stream and prints one JSON line per complete message;
        at the first fault it names the fault and its offset and exits 1.

The arguments go unchanged to harness/ipch-frame of the default preset, which
is rebuilt first when it is older than impl/, include/ or harness/.
Its options: ipch frame encode --help"""

NIGHTLY_PHASES = """\
Phases, in order, with their weights (percent of the budget):
""" + "\n".join(f"  {name:14} {weight:3}  {nightly.PHASE_TITLES[name]}"
                for name, weight in nightly.PHASES) + """

It writes to DIR: report.md and report.html, junit.xml, plots/*.svg,
crashes/ and crashes.tar.gz (one input per distinct crash), corpus/ and
corpus.tar.gz (the corpora with the new inputs merged), coverage/html/,
logs/ and history.json. Exit status 1 on any crash, stress violation, test
or MSan failure, or a preset that did not build. See docs/fuzzing.md."""

CHAN_COMMANDS = {
    "send": "send files as messages over a channel (fifo:, unix:, tcp:)",
    "recv": "receive messages from a channel and print one JSON line each",
}


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def preset_name(text):
    try:
        project.check_preset(text)
    except (UsageError, Failure) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ipch", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cores = procs.cpu_count()

    test = commands.add_parser(
        "test", help="configure, build and run the tests of one preset",
        usage="ipch test [-h] [--preset PRESET] [-- CTEST_ARGS...]",
        description="Configure (once), build and run ctest for one preset. "
                    "Arguments after -- go to ctest, e.g. ipch test -- -L unit "
                    "(-L LABEL, -R REGEX, ...).")
    test.add_argument("--preset", type=preset_name, default="default",
                      help="a configure preset of CMakePresets.json (default: default)")
    test.set_defaults(run=tools.test)

    camp = commands.add_parser(
        "campaign", help="fuzz every target for a while and replay the regressions",
        description="Build the libfuzzer preset, replay every regression input, "
                    "fuzz every target, then print a table and, for each crash, "
                    "the command that reproduces it. Exit status 1 if anything "
                    "crashed. Working corpora, crash files and logs go to "
                    "$IPCH_WORK_DIR/corpus/<target>/, crashes/<target>/ and logs/.")
    camp.add_argument("--time", type=positive_int, default=30, metavar="S",
                      help="seconds per target (default: 30)")
    camp.add_argument("--jobs", type=positive_int, default=cores, metavar="N",
                      help=f"targets fuzzed at once (default: {cores}, the cores)")
    camp.set_defaults(run=campaign.run)

    nt = commands.add_parser(
        "nightly", help="the nightly job: fuzz, sanitizers, Valgrind, stress, coverage, "
                        "a report",
        description=nightly.__doc__.split("\n", 1)[1].strip() + "\n\n" + NIGHTLY_PHASES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    nt.add_argument("--budget", type=positive_int, default=60, metavar="MINUTES",
                    help="minutes for the work, builds apart (default: 60)")
    nt.add_argument("--out", metavar="DIR", default=None,
                    help="where the report and its files go (default: "
                         "$IPCH_WORK_DIR/nightly/out)")
    nt.add_argument("--history", metavar="FILE",
                    help="the runs so far, read and extended (default: "
                         "$IPCH_WORK_DIR/nightly/history.json); keep it between "
                         "CI runs for the plots and the rotations")
    nt.add_argument("--seed", type=positive_int, metavar="X",
                    help="the stress scenarios' seed (default: a random one, reported)")
    nt.add_argument("--phases", metavar="LIST",
                    help="run only these phases, comma-separated (default: all); "
                         "the budget is shared among them")
    nt.set_defaults(run=nightly.run)

    fz = commands.add_parser(
        "fuzz", help="fuzz one target",
        usage="ipch fuzz [-h] [--engine {libfuzzer,afl}] [--time S] [--jobs N] "
              "[--save] [--sync-dir DIR] [--secondaries-only] TARGET "
              "[-- ENGINE_FLAGS...]",
        description="Fuzz one target with its dictionary and options; new inputs "
                    "go to $IPCH_WORK_DIR/corpus/TARGET/, crashes to "
                    "$IPCH_WORK_DIR/crashes/TARGET/. "
                    "Without --time it runs until Ctrl-C. Arguments after -- go "
                    "to libFuzzer, e.g. ipch fuzz frame_decode -- -max_len=64, "
                    "or to afl-fuzz. "
                    "With --engine afl, N afl-fuzz instances (builds of the "
                    "afl, afl-cmplog and afl-asan presets) share "
                    "$IPCH_WORK_DIR/afl/TARGET/ and resume it on the next run: "
                    "-M main with CMPLOG, then -S s1 with ASan+UBSan, then "
                    "-S s2... with the plain build; with --jobs 1 only the main "
                    "runs, so no instance has ASan. Their crashes and hangs "
                    "are copied to $IPCH_WORK_DIR/crashes/TARGET/ as "
                    "crash-<sha1> and timeout-<sha1>, as libFuzzer names them; "
                    "logs go to $IPCH_WORK_DIR/logs/afl-TARGET-<instance>.log.")
    fz.add_argument("target", metavar="TARGET", help="a fuzz target, e.g. frame_decode")
    fz.add_argument("--engine", choices=("libfuzzer", "afl"), default="libfuzzer",
                    help="libFuzzer (the libfuzzer preset; the default) or AFL++")
    fz.add_argument("--time", type=positive_int, metavar="S",
                    help="stop after S seconds (default: run until Ctrl-C)")
    fz.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                    help="fuzz with N processes (libFuzzer -fork=N, or N afl-fuzz "
                         "instances; default: 1)")
    fz.add_argument("--save", action="store_true",
                    help="afterwards, merge the inputs that add coverage into "
                         "corpus/TARGET/ (from the working corpus, or the AFL++ "
                         "queues)")
    fz.add_argument("--sync-dir", type=pathlib.Path, metavar="DIR",
                    help="AFL++: the output directory the instances share "
                         "(default: $IPCH_WORK_DIR/afl/TARGET/), e.g. one that "
                         "several machines share or rsync")
    fz.add_argument("--secondaries-only", action="store_true",
                    help="AFL++: run only secondaries, named <hostname>-s1..., "
                         "the first with ASan, joining a main that runs on "
                         "another machine with the same --sync-dir")
    fz.set_defaults(run=fuzz.run)

    cp = commands.add_parser(
        "corpus", help="merge new inputs into the committed corpora, or shrink them",
        description=corpus.__doc__.split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = cp.add_subparsers(dest="action", metavar="ACTION", required=True)
    mg = actions.add_parser(
        "merge", help="add the inputs that add coverage to corpus/TARGET/",
        description="Merge into corpus/TARGET/ the inputs of the working corpus "
                    "($IPCH_WORK_DIR/corpus/TARGET/), of the queues of the "
                    "AFL++ instances ($IPCH_WORK_DIR/afl/TARGET/*/queue/) "
                    "and of each --from "
                    "directory that add coverage (libFuzzer -merge=1, libfuzzer "
                    "preset).")
    mg.add_argument("target", metavar="TARGET", help="a fuzz target, e.g. frame_decode")
    mg.add_argument("--from", dest="sources", action="append", default=[],
                    metavar="DIR", help="another corpus directory to take inputs "
                                        "from (may be given more than once)")
    mg.set_defaults(run=corpus.merge)
    mn = actions.add_parser(
        "min", help="shrink corpus/TARGET/ to what keeps its coverage",
        description="For each TARGET (default: every target), keep the "
                    "generated seeds (seed-*) and, of the other inputs of "
                    "corpus/TARGET/, only those that add coverage to them.")
    mn.add_argument("targets", nargs="*", metavar="TARGET",
                    help="fuzz targets (default: all)")
    mn.set_defaults(run=corpus.minimise)

    cv = commands.add_parser(
        "coverage", help="line and branch coverage of impl/ by the corpora",
        usage="ipch coverage [-h] [--out DIR] [--history FILE] [TARGET...]",
        description=coverage.__doc__.split("\n", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    cv.add_argument("targets", nargs="*", metavar="TARGET",
                    help="fuzz targets (default: all)")
    cv.add_argument("--out", metavar="DIR",
                    help="where the report goes (default: $IPCH_WORK_DIR/coverage/latest/)")
    cv.add_argument("--history", metavar="FILE",
                    help="the history to compare with and extend (default: "
                         "$IPCH_WORK_DIR/coverage/history.jsonl)")
    cv.set_defaults(run=coverage.run)

    rp = commands.add_parser(
        "repro", help="replay one input under ASan+UBSan and under Valgrind",
        description="Replay one input with the asan preset's replay driver, then "
                    "under Valgrind with the valgrind preset's, and give a verdict "
                    "for each. Exit status 1 if either run failed. With --minimize "
                    "or --keep it first gives the crash's signature: its kind and "
                    "the first three functions of the project's own code on its "
                    "stack. --keep stores the input (minimised with --minimize) as "
                    "corpus/regressions/TARGET/crash-<signature hash> (timeout-, "
                    "oom-, leak- by kind), which ctest's regression.TARGET replays "
                    "in every preset, unless an input of that signature is kept "
                    "already; it prints the git command that commits it. Keep an "
                    "input before fixing its bug: it must still fail when kept, "
                    "or --force says to keep one that runs clean.")
    rp.add_argument("file", metavar="FILE", help="the input, e.g. a crash file")
    rp.add_argument("--target", metavar="T",
                    help="the fuzz target it is for (default: taken from a "
                         "directory of FILE's path named after a target)")
    rp.add_argument("--minimize", action="store_true",
                    help="first shrink FILE to a smaller input with the same "
                         "signature, saved as $IPCH_WORK_DIR/crashes/TARGET/"
                         "minimized-<hash> (else FILE is kept as it is)")
    rp.add_argument("--engine", choices=("libfuzzer", "afl"),
                    help="with --minimize: libFuzzer's -minimize_crash with the "
                         "libfuzzer preset (the default), or afl-tmin with the afl "
                         "preset")
    rp.add_argument("--minimize-time", type=positive_int, metavar="S",
                    help=f"with --minimize: stop minimising after about S seconds "
                         f"(default: {repro.DEFAULT_MINIMIZE_TIME})")
    rp.add_argument("--keep", action="store_true",
                    help="store the input in corpus/regressions/TARGET/ (see above)")
    rp.add_argument("--force", action="store_true",
                    help="with --keep: keep the input even though it runs clean "
                         "now, e.g. once its bug is fixed")
    rp.set_defaults(run=repro.run)

    fr = commands.add_parser(
        "frame", help="encode or decode IPCF v1 frames",
        description=FRAME_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    fr.add_argument("mode", choices=FRAME_MODES, metavar="{encode,decode}")
    fr.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...",
                    help="passed to ipch-frame unchanged")
    fr.set_defaults(run=lambda args: tools.frame(args.mode, args.arguments))

    # Listed for `ipch --help` only: main() hands every argument of these to
    # harness/ipch-chan (rebuilt first when stale), which has its own --help.
    for direction, summary in CHAN_COMMANDS.items():
        commands.add_parser(direction, help=summary, add_help=False)
    # Likewise stress: every argument but --preset goes to stress/ipch-stress.
    commands.add_parser("stress", help="run the multiprocess stress scenarios",
                        description=stress.describe(), add_help=False)

    seeds = commands.add_parser(
        "seeds", help="regenerate the committed seed corpora",
        description="Build the default preset's fuzz-seeds and run it to rewrite "
                    "corpus/<target>/seed-*; says which files changed.")
    seeds.set_defaults(run=tools.seeds)

    bn = commands.add_parser(
        "bench", help="measure every backend against its raw system call",
        description=bench.describe())
    bn.add_argument("backends", nargs="*", metavar="BACKEND",
                    help="the channel backends to measure (default: all)")
    bn.add_argument("--sizes", metavar="LIST",
                    help="message sizes, e.g. 64,4K,64K,1M,8M (the default)")
    bn.add_argument("--time", type=float, default=bench.DEFAULT_SECONDS, metavar="S",
                    help="seconds each cell measures (default %(default)g)")
    bn.add_argument("--pin", action="store_true",
                    help="measure every channel cell again with its two processes "
                         "pinned to two CPUs")
    bn.add_argument("--json", metavar="FILE",
                    help="where the JSON document goes (default: "
                         "$IPCH_WORK_DIR/bench/<time>/bench.json); report.md goes beside it")
    bn.add_argument("--plot", metavar="DIR",
                    help="where the SVG plots go (default: plots/ beside the JSON)")
    bn.add_argument("--parts", metavar="LIST",
                    help=f"what to measure, of {','.join(bench.PARTS)} (default: all)")
    bn.add_argument("--fuzz-time", type=int, default=bench.FUZZ_SECONDS, metavar="S",
                    help="seconds each fuzz target runs (default %(default)s)")
    bn.add_argument("--fuzz-targets", metavar="LIST",
                    help="the fuzz targets to measure (default: all)")
    bn.add_argument("--stress-time", type=float, default=bench.STRESS_SECONDS, metavar="S",
                    help="seconds each stress scenario runs (default %(default)g)")
    bn.add_argument("--from", dest="from_json", metavar="FILE",
                    help="measure nothing: draw the tables, report.md and plots of "
                         "an earlier run's JSON again")
    bn.set_defaults(run=bench.run)

    cl = commands.add_parser(
        "clean", help="remove the IPC objects that killed runs left behind",
        description="Remove the System V queues, POSIX queues and private "
                    "directories of sockets and FIFOs that the project made "
                    "and whose creator is gone: those noted in the object "
                    "registries ($IPCH_WORK_DIR/registry/ and each "
                    "build/<preset>/registry/), and the queues of our user "
                    "that carry the project's names or keys. Prints each "
                    "object removed. Exit status 1 if one could not be "
                    "removed. See docs/cleanup.md.")
    cl.add_argument("--all", action="store_true",
                    help="also the objects whose creator is still running")
    cl.add_argument("--dry-run", action="store_true",
                    help="say what would be removed, and remove nothing")
    cl.set_defaults(run=clean.run)
    return parser, commands.choices


def split_passthrough(argv):
    """Split at the first -- the commands that pass arguments on to a tool."""
    if argv[:1] in (["test"], ["fuzz"]) and "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1:]
    return argv, []


def main(argv):
    # A plain kill or a closed terminal stops the children as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    command = argv[0] if argv else None
    try:
        if command is not None and not command.startswith("-"):
            use_registry()
        if command == "frame" and len(argv) > 1 and argv[1] in FRAME_MODES:
            # Everything after the mode is ipch-frame's, '--' and --help included.
            return tools.frame(argv[1], argv[2:])
        if command in CHAN_COMMANDS:
            # Everything after the command is ipch-chan's, --help included.
            return tools.chan(command, argv[1:])
        if command == "stress":
            # Everything but --preset is the harness's, --help included.
            return stress.run(argv[1:])
        ours, extra = split_passthrough(argv)
        parser, subparsers = build_parser()
        args, unknown = parser.parse_known_args(ours)
        if unknown:
            subparsers[args.command].error(
                f"unrecognized arguments: {' '.join(unknown)}"
                + PASSTHROUGH_HINTS.get(args.command, ""))
        args.extra = extra
        return args.run(args)
    except UsageError as err:
        print(f"ipch {command}: error: {err}", file=sys.stderr)
        return 2
    except Failure as err:
        print(f"ipch {command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        procs.stop_all()
        print("\nipch: interrupted; every process it started has been stopped",
              file=sys.stderr)
        return 130


def use_registry():
    """Everything ipch runs notes the objects it makes in the work
    directory's registry, for `ipch clean`; an outer run's registry (ctest's,
    say) is kept."""
    if not os.environ.get("IPCH_REGISTRY"):
        os.environ["IPCH_REGISTRY"] = str(clean.work_registry())


def _interrupt(signum, frame):
    raise KeyboardInterrupt
