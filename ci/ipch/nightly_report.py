"""The nightly's report: report.md, report.html, junit.xml and the plots,
from what the run learnt (a nightly.Night)."""

import platform
import re
from pathlib import Path

from . import ctestrun, nightly, plots, procs, project, report



def write_all(night):
    write_plots(night)
    doc = build_report(night)
    (night.out / "report.md").write_text(report.to_markdown(doc))
    (night.out / "report.html").write_text(report.to_html(doc, "ipc-harness nightly"))
    write_junit(night)


def repro_command(target, path):
    return f"{project.ipch_command()} repro {path} --target {target} --minimize --keep"



def failures(night):
    suites_failed = sum(len(o.failed()) for o in night.suites.values())
    violations = sum(v["count"] for v in night.stress_violations)
    msan = sum(len(r.msan_failed) for r in night.targets.values())
    unswept = len(night.swept.failed) if night.swept else 0
    return (len(distinct_crashes(night)) + suites_failed + violations + msan + unswept
            + len(night.broken_builds) + sum(1 for p in night.phases.values() if p.failed))



def summary_line(night):
    crashes = len(distinct_crashes(night))
    violations = sum(v["count"] for v in night.stress_violations)
    tests = sum(len(o.failed()) for o in night.suites.values())
    msan = sum(len(r.msan_failed) for r in night.targets.values())
    verdict = "FAIL" if failures(night) else "PASS"
    parts = [f"{crashes} distinct crash(es)", f"{violations} stress violation(s)",
             f"{tests} failed test(s)", f"{msan} MSan failure(s)"]
    if night.broken_builds:
        parts.append(f"{len(night.broken_builds)} preset(s) that did not build")
    return f"{verdict}: " + ", ".join(parts)



def write_plots(night):
    runs = night.history
    names = [r["time"] for r in runs]
    targets = sorted(night.targets)

    def series(target, key):
        return [r.get("targets", {}).get(target, {}).get(key) for r in runs]

    cov = [(t, [series(t, "line_pct"), series(t, "branch_pct")])
           for t in ["all"] + targets]
    rate = [(t, [series(t, "libfuzzer_rate"), series(t, "afl_rate")]) for t in targets]
    (night.out / "plots" / "coverage.svg").write_text(plots.small_multiples(
        "Coverage of impl/ per target (%)", cov, ["lines", "branches"], names, "%"))
    (night.out / "plots" / "runs-per-second.svg").write_text(plots.small_multiples(
        "Runs per second per target", rate, ["libFuzzer", "AFL++"], names))



# ---- the report ----------------------------------------------------------

def fmt_int(value):
    return "-" if value is None else f"{value:,}"


def fmt_rate(value):
    return "-" if value is None else f"{value:,.0f}"


def fmt_pct(value):
    return "-" if value is None else f"{value:.1f}%"


def fmt_delta(value):
    return "-" if value is None else f"{value:+.1f}"


def minutes(seconds):
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def build_report(night):
    doc = report.Doc()
    verdict = summary_line(night)
    doc.heading(1, f"ipc-harness nightly, {night.started.strftime('%Y-%m-%d %H:%M UTC')}")
    doc.para(f"**{verdict.split(':')[0]}**:{verdict.split(':', 1)[1]}.")
    used = sum(p.used for p in night.phases.values())
    doc.para(f"Budget {night.budget_minutes} min: the work took {minutes(used)}, "
             f"after {minutes(night.build_seconds)} of builds. Commit `{project.git_commit()}`"
             f"{' with local changes' if project.git_dirty() else ''}; stress seed {night.seed}.")
    report_crashes(doc, night)
    report_targets(doc, night)
    report_stress(doc, night)
    report_suites(doc, night)
    report_coverage(doc, night)
    report_phases(doc, night)
    report_sweep(doc, night)
    if night.problems:
        doc.heading(2, "Problems")
        doc.bullets(night.problems)
    doc.heading(2, "Machine")
    doc.bullets(machine_facts())
    doc.heading(2, "Files")
    doc.bullets(["`report.md`, `report.html`: this report; `junit.xml`: every check as a test case",
                 "`plots/coverage.svg`, `plots/runs-per-second.svg`: per target, over the runs of the history",
                 "`crashes/TARGET/` and `crashes.tar.gz`: one input per distinct crash",
                 "`corpus/TARGET/` and `corpus.tar.gz`: the committed corpora with tonight's new inputs merged in",
                 "`coverage/html/index.html`: the coverage report; `logs/`: every tool's output",
                 "`history.json`: the runs so far, for the plots and the rotations"])
    return doc


def distinct_crashes(night):
    """The crash groups by bug: {key: [groups of each target]}, a signature
    counting once however many targets it crashed."""
    bugs = {}
    for group in night.crash_groups:
        bugs.setdefault(group.key, []).append(group)
    return bugs


def report_crashes(doc, night):
    bugs = distinct_crashes(night)
    if not bugs:
        return
    doc.heading(2, "Crashes")
    doc.para("One paragraph per distinct crash: the same top frames of the project's "
             "own code on the sanitizer's stack, in whichever targets. The command "
             "replays the smallest input under ASan+UBSan and Valgrind, minimises it "
             "and keeps it as a regression input; every group's input is in "
             "`crashes/TARGET/`.")
    for groups in bugs.values():
        best = min(groups, key=lambda g: (g.kept.stat().st_size, g.target))
        files = sum(len(g.files) for g in groups)
        engines = ", ".join(sorted({e for g in groups for e in g.engines})) or "-"
        targets = ", ".join(g.target for g in groups)
        if best.signature:
            title = best.signature.title
        else:
            title = "failed while fuzzing, but runs clean on its own (timing or state)"
        doc.para(f"**{title}**: {files} file(s) in {targets}; found by {engines}")
        doc.code(repro_command(best.target, best.kept))


def report_targets(doc, night):
    if not {"libfuzzer", "afl", "msan", "merge", "coverage"} & set(night.chosen):
        return
    doc.heading(2, "Fuzz targets")
    rows = []
    for name in sorted(night.targets):
        row = night.targets[name]
        crashes = sum(1 for g in night.crash_groups if g.target == name)
        cov = row.coverage
        corpus_cell = (f"{row.corpus_before} → {row.corpus_after} "
                       f"(+{row.corpus_after - row.corpus_before})"
                       if row.corpus_after is not None else f"{row.corpus_before}")
        rows.append([name, fmt_int(row.lf_execs), fmt_rate(row.lf_rate),
                     fmt_int(row.afl_execs), fmt_rate(row.afl_rate), corpus_cell,
                     fmt_pct(cov.line_pct if cov else None),
                     fmt_pct(cov.branch_pct if cov else None),
                     f"{fmt_delta(row.line_delta)} / {fmt_delta(row.branch_delta)}",
                     str(crashes)])
    doc.table(["target", "libFuzzer runs", "runs/s", "AFL++ runs", "runs/s",
               "corpus (committed → merged)", "lines", "branches", "Δ lines / branches",
               "crashes"], rows)
    doc.para("Runs and runs/s as each engine counts them (libFuzzer: executions of "
             "the ASan+UBSan build; AFL++: of every instance). Coverage is of `impl/` "
             "by the merged corpus; Δ against the last run in the history.")
    doc.image("coverage over time", "plots/coverage.svg")
    doc.image("runs per second over time", "plots/runs-per-second.svg")
    msan = [(n, r) for n, r in sorted(night.targets.items()) if r.msan_inputs or r.msan_failed]
    if msan:
        inputs = sum(r.msan_inputs for _, r in msan)
        failed = [(n, p, how) for n, r in msan for p, how in r.msan_failed]
        doc.para(f"MemorySanitizer replayed {inputs} inputs of {len(msan)} targets: "
                 f"{len(failed)} failed.")
        for name, row in msan:
            if not row.msan_failed:
                continue
            path, how = row.msan_failed[0]
            more = len(row.msan_failed) - 1
            doc.para(f"**{name}** under MSan: `{path}` {how}"
                     + (f", and {more} more input(s) (`logs/msan-{name}.log`)" if more else ""))
            doc.code(f"{project.Build('msan').replay_binary(name)} {path}")


def report_stress(doc, night):
    if "stress" not in night.chosen:
        return
    doc.heading(2, "Stress")
    if night.stress:
        doc.table(["scenario", "procs", "ops/s", "checks", "violations", "kills"],
                  [[r[0], r[1], f"{int(r[2]):,}", f"{int(r[3]):,}", r[4], r[5]]
                   for r in night.stress])
    if night.stress_command:
        doc.para(f"Run as `{night.stress_command}`.")
    for v in night.stress_violations:
        doc.para(f"**{v['scenario']}**: {v['count']} violation(s); the first: {v['first']}")
        if v["replay"]:
            doc.code(v["replay"])


def report_suites(doc, night):
    if not night.suites:
        return
    doc.heading(2, "Test suites")
    rows = []
    titles = {"tsan": "tsan", "valgrind": "valgrind (memcheck, Helgrind, DRD)",
              "stress-broken": "default: broken stress variants and their twins"}
    for key, outcome in night.suites.items():
        sel = outcome.selection
        rows.append([titles.get(key, key), f"{len(sel.names)} of {sel.total}",
                     str(len(outcome.passed())), str(len(outcome.failed())),
                     str(len(outcome.not_run())), f"{outcome.seconds:.0f} s"])
    if rows:
        doc.table(["preset", "tests run", "passed", "failed", "not reached", "time"], rows)
        doc.para("When a suite does not fit its share, a rotating part runs and the "
                 "next run goes on from there.")
    for key, outcome in night.suites.items():
        for name in outcome.failed():
            status = outcome.results[name][0]
            doc.para(f"**{name}** ({outcome.preset}): {status}; log `logs/ctest-{key}.log`")
            doc.code(f"{project.ipch_command()} test --preset {outcome.preset} -- "
                     f"-R '{ctestrun.anchored([name])}'")


def report_coverage(doc, night):
    if night.coverage is None:
        return
    doc.heading(2, "Coverage")
    total = night.coverage.all
    if total is None:
        return
    text = (f"All targets together: lines {fmt_pct(total.line_pct)} "
            f"({total.lines_covered}/{total.lines_total}), branches "
            f"{fmt_pct(total.branch_pct)} ({total.branches_covered}/"
            f"{total.branches_total}) of `impl/`")
    lines = nightly.last_measured(night.history[:-1], "all", "line_pct")
    branches = nightly.last_measured(night.history[:-1], "all", "branch_pct")
    if lines is not None and branches is not None:
        text += (f"; {fmt_delta(total.line_pct - lines)} lines and "
                 f"{fmt_delta(total.branch_pct - branches)} branches since the last "
                 f"run that measured them")
    doc.para(text + ". [HTML report](coverage/html/index.html)")


def report_sweep(doc, night):
    swept = night.swept
    if swept is None:
        return
    doc.heading(2, "Leftovers")
    before = night.swept_before
    if before is not None and before.removed:
        doc.para(f"Before the run, the sweep removed {len(before.removed)} IPC object(s) "
                 f"that earlier, killed runs had left.")
    if not swept.removed and not swept.failed:
        doc.para("No IPC object outlived its process: the sweep at the end found nothing.")
        return
    doc.para(f"The sweep at the end removed {len(swept.removed)} IPC object(s) of "
             f"processes killed during the run (an engine kills the input it is on "
             f"when its time is up), and could not remove {len(swept.failed)}; "
             f"`logs/sweep.log` lists them.")


def report_phases(doc, night):
    doc.heading(2, "Phases")
    rows = [[name, nightly.PHASE_TITLES[name], f"{p.planned:.0f} s", f"{p.used:.0f} s", p.note]
            for name, p in night.phases.items()]
    broken = ", ".join(sorted(night.broken_builds))
    built = f"failed: {broken}" if broken else "every preset the phases need"
    rows.insert(0, ["builds", built, "-", f"{night.build_seconds:.0f} s", ""])
    doc.table(["phase", "what", "planned", "used", "note"], rows, "llrrl")


# ---- JUnit ----------------------------------------------------------------

def write_junit(night):
    junit = report.JUnit("ipc-harness nightly")
    for preset, error in night.broken_builds.items():
        junit.case("build", preset, failure=error)
    for name, row in sorted(night.targets.items()):
        groups = [g for g in night.crash_groups if g.target == name]
        for engine, phase, execs in (("libFuzzer", "libfuzzer", row.lf_execs),
                                     ("AFL++", "afl", row.afl_execs)):
            if phase not in night.chosen:
                continue
            mine = [g for g in groups if engine in g.engines]
            if execs is None and not mine:
                junit.case(f"fuzz.{engine}", name, skipped="not fuzzed this run")
                continue
            failure = "\n".join(f"{g.signature.title if g.signature else 'crash'}: "
                                 f"{repro_command(name, g.kept)}" for g in mine) or None
            junit.case(f"fuzz.{engine}", name, failure=failure)
        for path, how in row.msan_failed:
            junit.case("msan", f"{name} {Path(path).name}", failure=f"{path}: {how}")
        if row.msan_inputs and not row.msan_failed:
            junit.case("msan", name)
    for group in night.crash_groups:
        if "regression" in group.engines:
            junit.case("regressions", group.target,
                       failure=repro_command(group.target, group.kept))
    violations = {v["scenario"]: v for v in night.stress_violations}
    for row in night.stress:
        v = violations.get(row[0])
        failure = f"{v['count']} violations; {v['first']}\nreplay: {v['replay']}" if v else None
        junit.case("stress", row[0], failure=failure)
    for key, outcome in night.suites.items():
        for name in outcome.selection.names:
            if name in outcome.results:
                status, seconds = outcome.results[name]
                junit.case(f"ctest.{key}", name, seconds,
                           failure=None if status == "Passed" else status)
            else:
                junit.case(f"ctest.{key}", name, skipped="not reached within the budget")
    if night.swept is not None:
        junit.case("sweep", "leftovers", failure="\n".join(night.swept.failed) or None,
                   output="\n".join(night.swept.removed) or None)
    for name, phase in night.phases.items():
        if phase.failed:
            junit.case("phases", name, failure=phase.note)
    junit.write(night.out / "junit.xml")


# ---- facts about the machine ------------------------------------------------

def memory():
    total = project.memory_bytes()
    return "?" if total is None else f"{total / 2**30:.1f} GiB"


def afl_version():
    """afl-fuzz has no --version; its help's first line names it."""
    line = procs.first_line(["afl-fuzz", "-h"])
    match = re.search(r"afl-fuzz\+*\s*(\d\S*)", line)
    return match.group(1) if match else line


def machine_facts():
    return [f"host {platform.node()}: {procs.cpu_count()} cores, {memory()}, "
            f"{project.os_name()}, Linux {platform.release()}",
            f"gcc: {procs.first_line(['gcc', '--version'])}",
            f"clang: {procs.first_line(['clang', '--version'])}",
            f"AFL++: {afl_version()}",
            f"valgrind: {procs.first_line(['valgrind', '--version'])}",
            f"cmake: {procs.first_line(['cmake', '--version'])}",
            f"python: {platform.python_version()}"]
