"""Child processes: shown before they run, bounded in time, stopped as a group.

Every child gets its own session (so its own process group): Ctrl-C reaches
only ipch, which then decides how to stop each child, and stopping a child
means signalling its whole group, so compilers under make, tests under ctest
and libFuzzer's fork-mode workers go with it.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import time

from .errors import Failure

POLL_SECONDS = 0.1
VERSION_TIMEOUT = 20
# The colours some tools print (afl-fuzz) even when not on a terminal.
COLOUR = re.compile(r"\x1b\[[0-9;]*m")

# Children whose process group may still hold processes.
_live = set()


def shown(cmd, env=None):
    """The command as a user can paste it into a shell in their current directory."""
    words = [f"{name}={value}" for name, value in (env or {}).items()]
    words += [str(word) for word in cmd]
    return shlex.join(_relative_to_cwd(word) for word in words)


def _relative_to_cwd(word):
    cwd = os.getcwd()
    if cwd == "/":
        return word
    if word == cwd:
        return "."
    return re.sub(r"(^|=)" + re.escape(cwd + os.sep), r"\1", word)


def announce(cmd, env=None, suffix=""):
    print("+ " + shown(cmd, env) + suffix, file=sys.stderr, flush=True)


def spawn(cmd, env=None, stdout=None, stderr=None, cwd=None):
    """Start cmd in a new session; env holds variables added to ours."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.Popen([str(word) for word in cmd], env=full_env, cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=stderr, start_new_session=True)
    _live.add(proc)
    return proc


def finished(proc):
    """True once proc has exited; then nothing of its group is left running.

    The leader is checked without being reaped, so its pid (the group id)
    cannot be reused before the rest of its group is killed.
    """
    if proc.returncode is not None:
        return True
    try:
        state = os.waitid(os.P_PID, proc.pid,
                          os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        state = True
    if state is None:
        return False
    _kill_group(proc, signal.SIGKILL)
    proc.wait()
    _live.discard(proc)
    return True


def wait(proc, timeout=None):
    """Wait for proc; returns False if it is still running after timeout seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not finished(proc):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def stop(proc, first_signal=signal.SIGTERM, patience=5.0):
    """Ask proc's group to stop with first_signal, then kill what is left."""
    if proc.returncode is None:
        _kill_group(proc, first_signal)
        wait(proc, patience)
    _kill_group(proc, signal.SIGKILL)
    finished(proc)


def stop_all():
    """Stop every child still running: the clean-up on Ctrl-C or SIGTERM."""
    for proc in list(_live):
        stop(proc, signal.SIGTERM, patience=3.0)


def _kill_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run(cmd, what, timeout, env=None, stdout=None, cwd=None, check=True):
    """Show and run cmd to the end; returns its exit status.

    what names the step in error messages ("configuring preset asan").
    """
    announce(cmd, env)
    proc = spawn(cmd, env=env, stdout=stdout, cwd=cwd)
    try:
        if not wait(proc, timeout):
            stop(proc)
            raise Failure(f"{what} took longer than {timeout} s and was stopped; "
                          f"the command was: {shown(cmd, env)}")
    except BaseException:
        stop(proc)
        raise
    if check and proc.returncode != 0:
        raise Failure(f"{what} failed ({describe_status(proc.returncode)}); "
                      f"the command was: {shown(cmd, env)}")
    return proc.returncode


def new_lines(path, offset):
    """The whole lines a child wrote to the log path since offset, as bytes,
    and the offset after them: a line still being written waits for later."""
    with open(path, "rb") as log:
        log.seek(offset)
        chunk = log.read()
    complete = chunk[:chunk.rfind(b"\n") + 1]
    return complete, offset + len(complete)


def without_colour(text):
    return COLOUR.sub("", text)


def first_line(cmd, timeout=VERSION_TIMEOUT):
    """The first line a command prints (a tool's --version), colour codes
    taken out; "not found" if it cannot run, "?" if it prints nothing."""
    try:
        out = subprocess.run([str(word) for word in cmd], capture_output=True, text=True,
                             timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = without_colour(out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "?"


def describe_status(returncode):
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit code {returncode}"


def cpu_count():
    return len(os.sched_getaffinity(0))
