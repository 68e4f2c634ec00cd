#!/usr/bin/env python3
"""The CI files a user copies as they are must work as they are: every file
of .github/workflows/ and .clusterfuzzlite/project.yaml passes yamllint
(.yamllint) and a check of what GitHub Actions and ClusterFuzzLite need,
which YAML alone does not say: triggers, jobs with a runner and steps, steps
that either use an action (pinned to a version) or run a command, ${{ }}
expressions that close and name known contexts, needs that name jobs, cron
strings of five fields, the ClusterFuzzLite actions with a mode and a
sanitizer they know, and the nightly job's command and artifact upload.

Each problem is printed as FILE: WHERE: WHAT; exit status 1 if there is one.

Usage: check_workflows.py REPO
"""

import pathlib
import re
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:  # the checks cannot run without it: say how to get it
    yaml = None

CONTEXTS = {"github", "env", "vars", "job", "jobs", "steps", "runner", "secrets",
            "strategy", "matrix", "needs", "inputs"}
FUNCTIONS = {"contains", "startsWith", "endsWith", "format", "join", "toJSON",
             "fromJSON", "hashFiles", "success", "always", "cancelled", "failure"}
LITERALS = {"true", "false", "null"}
CFLITE = "google/clusterfuzzlite/actions/"
CFLITE_ACTIONS = {"build_fuzzers", "run_fuzzers"}
MODES = {"code-change", "batch", "prune", "coverage"}
SANITIZERS = {"address", "undefined", "memory", "coverage"}
# The modes each ClusterFuzzLite workflow of ours is for.
MODES_OF_FILE = {"cflite_pr.yml": {"code-change"}, "cflite_batch.yml": {"batch"},
                 "cflite_cron.yml": {"prune", "coverage"}}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d[\w.-]*|[0-9a-f]{40})$")
CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?]+$")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
# Names that start a property path: not after a dot, not inside quotes.
NAME = re.compile(r"(?<![.\w'])([A-Za-z_][\w-]*)")


def yamllint_problems(repo, files):
    exe = shutil.which("yamllint")
    if exe is None:
        yield "yamllint: not installed: run ci/install-deps.sh (Debian package yamllint)"
        return
    cmd = [exe, "-f", "parsable", "-c", str(repo / ".yamllint")] + [str(f) for f in files]
    print("+ " + " ".join(cmd), file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        yield f"yamllint: {line}"
    if done.returncode != 0 and not done.stdout.strip():
        yield f"yamllint: exit status {done.returncode}: {done.stderr.strip()}"


def strings(node, where=""):
    """Every string of a parsed document, keys and values, with its place."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{where}.{key}", str(key)
            yield from strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def expression_problems(text):
    """Unclosed ${{ and names that are no context, function or literal."""
    if text.count("${{") != text.count("}}") or text.count("${{") != len(EXPRESSION.findall(text)):
        yield f"unbalanced ${{{{ }}}} in {text!r}"
    for body in EXPRESSION.findall(text):
        yield from names_problems(body)


def names_problems(body):
    unquoted = re.sub(r"'[^']*'", "''", body)
    for name in NAME.findall(unquoted):
        if name not in CONTEXTS | FUNCTIONS | LITERALS:
            yield f"unknown context or function '{name}' in ${{{{{body}}}}}"


def cron_problems(doc):
    triggers = doc.get("on", doc.get(True)) or {}
    for entry in (triggers.get("schedule") or []) if isinstance(triggers, dict) else []:
        cron = str(entry.get("cron", "")) if isinstance(entry, dict) else ""
        fields = cron.split()
        if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
            yield f"on.schedule: cron '{cron}' is not five fields (minute hour day month weekday)"


def step_problems(step, where):
    if not isinstance(step, dict):
        yield f"{where}: a step is a mapping, not {step!r}"
        return
    kinds = [k for k in ("uses", "run") if k in step]
    if len(kinds) != 1:
        yield f"{where}: a step has exactly one of uses and run, this one {kinds or 'neither'}"
    uses = step.get("uses")
    if isinstance(uses, str) and not uses.startswith(("./", "docker://")) and not PINNED.match(uses):
        yield f"{where}: uses '{uses}' is not pinned to a version (@vN or a commit)"
    if isinstance(step.get("if"), str) and "${{" not in step["if"]:
        yield from (f"{where}: if: {p}" for p in names_problems(step["if"]))


def matrix_values(job, expression):
    """The values ${{ matrix.X }} takes in job, or [expression] if not that."""
    found = re.fullmatch(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", str(expression))
    if not found:
        return [expression]
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    return list(matrix.get(found.group(1)) or [f"<matrix.{found.group(1)} missing>"])


def cflite_problems(job, where, file_name):
    for i, step in enumerate(job.get("steps") or []):
        uses = step.get("uses", "") if isinstance(step, dict) else ""
        if CFLITE not in uses:
            continue
        here = f"{where}.steps[{i}]"
        action, _, version = uses[len(CFLITE):].partition("@")
        if not uses.startswith(CFLITE) or action not in CFLITE_ACTIONS or not version.startswith("v1"):
            yield (f"{here}: '{uses}' is not {CFLITE}build_fuzzers@v1 "
                   f"or {CFLITE}run_fuzzers@v1")
            continue
        given = step.get("with") or {}
        for sanitizer in matrix_values(job, given.get("sanitizer", "address")):
            if sanitizer not in SANITIZERS:
                yield f"{here}: sanitizer '{sanitizer}' is none of {sorted(SANITIZERS)}"
        if action == "run_fuzzers":
            mode = given.get("mode")
            if mode not in MODES:
                yield f"{here}: mode '{mode}' is none of {sorted(MODES)}"
            elif file_name in MODES_OF_FILE and mode not in MODES_OF_FILE[file_name]:
                yield f"{here}: mode '{mode}' does not belong in {file_name}"
            if (mode == "coverage") != (given.get("sanitizer") == "coverage"):
                yield f"{here}: mode coverage and sanitizer coverage go together"


def nightly_problems(jobs):
    steps = [s for job in jobs.values() if isinstance(job, dict)
             for s in job.get("steps") or [] if isinstance(s, dict)]
    if not any("./ipch nightly" in str(s.get("run", "")) for s in steps):
        yield "no step runs ./ipch nightly"
    uploads = [s for s in steps
               if str(s.get("uses", "")).split("@")[0] == "actions/upload-artifact"]
    if not any("always()" in str(s.get("if", "")) for s in uploads):
        yield "no actions/upload-artifact step with if: always() (the report of a failed night is lost)"


def workflow_problems(path, doc):
    if not isinstance(doc, dict):
        yield "not a mapping"
        return
    if "on" not in doc and True not in doc:
        yield "no 'on': the workflow never runs"
    yield from cron_problems(doc)
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        yield "no jobs"
        return
    for name, job in jobs.items():
        where = f"jobs.{name}"
        if not isinstance(job, dict):
            yield f"{where}: a job is a mapping"
            continue
        if "uses" not in job:
            if "runs-on" not in job:
                yield f"{where}: no runs-on"
            if not isinstance(job.get("steps"), list) or not job["steps"]:
                yield f"{where}: no steps (or uses, for a reusable workflow)"
        needs = job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            if need not in jobs:
                yield f"{where}: needs '{need}', which is no job of this workflow"
        for i, step in enumerate(job.get("steps") or []):
            yield from step_problems(step, f"{where}.steps[{i}]")
        if isinstance(job.get("if"), str) and "${{" not in job["if"]:
            yield from (f"{where}: if: {p}" for p in names_problems(job["if"]))
        yield from cflite_problems(job, where, path.name)
    for where, text in strings(doc):
        yield from (f"{where.lstrip('.')}: {p}" for p in expression_problems(text))
    if path.name == "nightly.yml":
        yield from nightly_problems(jobs)


def project_problems(doc):
    if not isinstance(doc, dict) or doc.get("language") != "c":
        yield "language: c is missing (ClusterFuzzLite builds by the language it names)"


def problems(repo):
    workflows = sorted((repo / ".github" / "workflows").glob("*.y*ml"))
    project = repo / ".clusterfuzzlite" / "project.yaml"
    if not workflows:
        yield ".github/workflows/: no workflow"
    yield from yamllint_problems(repo, workflows + [project])
    if yaml is None:
        yield "python3-yaml is not installed: run ci/install-deps.sh"
        return
    for path in workflows + [project]:
        name = path.relative_to(repo)
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            yield f"{name}: does not parse: {err}"
            continue
        check = project_problems(doc) if path == project else workflow_problems(path, doc)
        yield from (f"{name}: {p}" for p in check)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    repo = pathlib.Path(argv[1]).resolve()
    found = list(problems(repo))
    for line in found:
        print(f"check_workflows: {line}")
    count = len(list((repo / ".github" / "workflows").glob("*.y*ml")))
    print(f"check_workflows: {count} workflows and project.yaml, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
