#!/usr/bin/env python3
"""The sweeper removes what a killed run left, and nothing else.

usage: test_sweep_cli.py --make-objects EXE --cmake CMAKE --ctest CTEST

EXE (make_objects.c) makes, through the library, a System V queue under
IPC_PRIVATE, one under a key of the project's range, a POSIX queue and a
private directory holding a socket, all noted in the registry, and waits.
Cases:
- killed with SIGKILL: `ipch clean --dry-run` names each object and removes
  none; `ipch clean` removes each and empties the registry; queues of the
  test's own that are not the project's, or whose creator is alive, stay;
- still running at the end of a run: `ci/sweep.py --after` fails and names
  each object, and removes none;
- a registered directory holding a regular file is left, and said so;
- queues nobody registered: only those of the project's key range whose
  last users are gone are removed;
- with --sysv-shm --sysv-sem --posix-shm --posix-sem, EXE also makes a
  System V segment and semaphore set under IPC_PRIVATE and under a key of
  the range, a POSIX shared memory object and a named semaphore: killed,
  each is named by --dry-run and removed by `ipch clean`, with the
  unregistered /dev/shm files of the project's form whose creator is gone
  and that nobody has written for an hour;
  segments, sets and /dev/shm files that are not the project's, or whose
  creator is alive, stay;
- segments and sets nobody registered: only those of the project's key
  range whose known users are gone (and, for a segment, that nobody has
  attached) are removed;
- ctest killed with its process group while a test holds objects:
  `ipch clean` finds the build directory's registry and removes them all,
  the test being a zombie nobody has reaped yet.
"""
import argparse
import ctypes
import errno
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "..", ".."))
IPCH = os.path.join(REPO, "ipch")
SWEEP = os.path.join(REPO, "ci", "sweep.py")
IPCBUILD = os.path.join(REPO, "cmake", "IpchBuild.cmake")

TIMEOUT = 30           # any child of this test
MAKE_SECONDS = 60      # make_objects removes its objects itself after this
PR_SET_CHILD_SUBREAPER = 36
IPC_CREAT, IPC_EXCL, IPC_NOWAIT, IPC_RMID = 0o1000, 0o2000, 0o4000, 0
NEW_KINDS = ["--sysv-shm", "--sysv-sem", "--posix-shm", "--posix-sem"]
O_RDONLY, O_RDWR, O_CREAT, O_EXCL = os.O_RDONLY, os.O_RDWR, os.O_CREAT, os.O_EXCL
SYSV_KEY_PREFIX = 0x49500000

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
libc.semctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
failures = []
passed = 0
# Everything this test made or saw made, removed at exit whatever happened.
made_queues, made_names, children, strays = set(), set(), [], []
made_segments, made_sets, made_files = set(), set(), set()


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(name)
        print(f"FAIL {name}\n{detail}", file=sys.stderr, flush=True)
    return ok


# ---- the kernel's view -------------------------------------------------------

def sysv_ids():
    with open("/proc/sysvipc/msg") as table:
        return {int(line.split()[1]) for line in table.readlines()[1:]}


def segment_ids():
    with open("/proc/sysvipc/shm") as table:
        return {int(line.split()[1]) for line in table.readlines()[1:]}


def set_ids():
    with open("/proc/sysvipc/sem") as table:
        return {int(line.split()[1]) for line in table.readlines()[1:]}


def shm_file(kind, name):
    """The /dev/shm file of a POSIX shared memory object or named semaphore."""
    return os.path.join("/dev/shm", ("sem." if kind == "posix-sem" else "") + name[1:])


def mq_exists(name):
    q = libc.mq_open(name.encode(), O_RDONLY)
    if q == -1:
        err = ctypes.get_errno()
        if err != errno.ENOENT:
            raise OSError(err, os.strerror(err), name)
        return False
    libc.mq_close(q)
    return True


# ctest's registry, as this process got it. The objects this test makes on
# its own (bystanders the sweep under test must leave) are noted there, so
# that if ctest, or this test, is killed, the sweep after the run removes
# them: their creator, this process, is gone by then.
OUTER_REGISTRY = os.environ.get("IPCH_REGISTRY")
noted_entries = set()


def note_in_outer_registry(kind, ident):
    if not OUTER_REGISTRY or not os.path.isdir(OUTER_REGISTRY):
        return
    path = os.path.join(OUTER_REGISTRY, f"{kind}@{ident.replace('/', '%')}")
    with open(path, "w") as entry:
        entry.write(f"{os.getpid()} {os.geteuid()} {ident}\n")
    noted_entries.add(path)


def make_sysv(key):
    qid = libc.msgget(key, IPC_CREAT | IPC_EXCL | 0o600)
    if qid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"msgget {key:#x}: {os.strerror(err)}")
    made_queues.add(qid)
    note_in_outer_registry("sysv-msg", str(qid))
    return qid


def make_mq(name):
    q = libc.mq_open(name.encode(), O_CREAT | O_EXCL | O_RDWR, 0o600, None)
    if q == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"mq_open {name}: {os.strerror(err)}")
    libc.mq_close(q)
    made_names.add(name)
    note_in_outer_registry("posix-mq", name)
    return name


def make_segment(key):
    sid = libc.shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0o600)
    if sid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"shmget {key:#x}: {os.strerror(err)}")
    made_segments.add(sid)
    note_in_outer_registry("sysv-shm", str(sid))
    return sid


def make_set(key):
    sid = libc.semget(key, 1, IPC_CREAT | IPC_EXCL | 0o600)
    if sid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"semget {key:#x}: {os.strerror(err)}")
    made_sets.add(sid)
    note_in_outer_registry("sysv-sem", str(sid))
    return sid


def make_shm_file(base):
    """A file in /dev/shm, as shm_open or sem_open makes one: base is its
    name there ("ipch.PID.x", "sem.ipch.PID.x")."""
    path = os.path.join("/dev/shm", base)
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    made_files.add(path)
    if base.startswith("sem."):
        note_in_outer_registry("posix-sem", "/" + base[4:])
    else:
        note_in_outer_registry("posix-shm", "/" + base)
    return path


def in_a_gone_process(fn):
    """Runs fn() in a child that then exits: a process gone by the return."""
    child = os.fork()
    if child == 0:
        try:
            fn()
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def remove_all_made():
    for qid in made_queues:
        libc.msgctl(qid, IPC_RMID, None)
    for name in made_names:
        libc.mq_unlink(name.encode())
    for sid in made_segments:
        libc.shmctl(sid, IPC_RMID, None)
    for sid in made_sets:
        libc.semctl(sid, 0, IPC_RMID)
    for path in made_files:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    for path in noted_entries:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def dead_pid():
    """The pid of a process that has just ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# ---- the objects of make_objects --------------------------------------------

class Objects:
    """What one make_objects reported: its pid, queues and directory."""

    def __init__(self, report):
        self.queues, self.keys, self.names, self.dirs = [], [], [], []
        self.segments, self.sets, self.files = [], [], []
        for line in report.splitlines():
            kind, value, *rest = line.split()
            if kind == "pid":
                self.pid = int(value)
            elif kind == "sysv-msg":
                self.queues.append(int(value))
                self.keys.append(int(rest[0]))
            elif kind == "sysv-shm":
                self.segments.append(int(value))
            elif kind == "sysv-sem":
                self.sets.append(int(value))
            elif kind in ("posix-shm", "posix-sem"):
                self.files.append((kind, value))
            elif kind == "posix-mq":
                self.names.append(value)
            elif kind == "dir":
                self.dirs.append(value)
        made_queues.update(self.queues)
        made_names.update(self.names)
        made_segments.update(self.segments)
        made_sets.update(self.sets)
        made_files.update(shm_file(kind, name) for kind, name in self.files)

    def count(self):
        return (len(self.queues) + len(self.names) + len(self.dirs)
                + len(self.segments) + len(self.sets) + len(self.files))

    def present(self):
        """The objects of these that still exist, by description."""
        ids, segments, sets = sysv_ids(), segment_ids(), set_ids()
        left = [f"sysv-msg {q}" for q in self.queues if q in ids]
        left += [f"posix-mq {n}" for n in self.names if mq_exists(n)]
        left += [f"dir {d}" for d in self.dirs if os.path.lexists(d)]
        left += [f"sysv-shm {i}" for i in self.segments if i in segments]
        left += [f"sysv-sem {i}" for i in self.sets if i in sets]
        left += [f"{k} {n}" for k, n in self.files if os.path.lexists(shm_file(k, n))]
        return left

    def unnamed_in(self, text):
        """Those of these objects that text does not name."""
        wanted = [f"sysv-msg queue {q} " for q in self.queues]
        wanted += [f"posix-mq queue {n} " for n in self.names]
        wanted += [f"dir {d} " for d in self.dirs]
        wanted += [f"sysv-shm segment {i} " for i in self.segments]
        wanted += [f"sysv-sem set {i} " for i in self.sets]
        wanted += [f"{k} {'semaphore' if k == 'posix-sem' else 'object'} {n} "
                   for k, n in self.files]
        return [w for w in wanted if w not in text]


def wait_for_file(path, proc):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return f.read()
        if proc is not None and proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def start_objects(exe, scratch, env, options=()):
    out = os.path.join(scratch, f"objects-{len(children)}")
    proc = subprocess.Popen([exe, *options, out, str(MAKE_SECONDS)], env=env,
                            start_new_session=True)
    children.append(proc)
    report = wait_for_file(out, proc)
    if report is None:
        raise SystemExit(f"{exe} never reported its objects")
    return proc, Objects(report)


def run(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def shown(result):
    status, out, err = result
    return f"    status {status}\n    stdout {out!r}\n    stderr {err!r}"


def environment(scratch, registry):
    """ipch's and the library's places, all inside scratch."""
    tmp = os.path.join(scratch, "tmp")
    os.makedirs(tmp, exist_ok=True)
    return dict(os.environ, IPCH_REGISTRY=registry, TMPDIR=tmp,
                IPCH_WORK_DIR=os.path.join(scratch, "work"),
                IPCH_BUILD_DIR=os.path.join(scratch, "builds"))


# ---- cases ---------------------------------------------------------------------

def case_killed_creator(exe, scratch):
    registry = os.path.join(scratch, "registry")
    os.mkdir(registry, 0o700)
    env = environment(scratch, registry)
    # Not the project's: no key of its range, no name of its form, or a
    # creator (this test) still running. The sweep must leave all of them.
    bystanders = {
        "a queue under IPC_PRIVATE": make_sysv(0),
        "a queue under a key beside the range":
            make_sysv(0x49600000 | random.randrange(1, 1 << 20)),
        "a queue of the range just made by a live process":
            make_sysv(SYSV_KEY_PREFIX | random.randrange(1, 1 << 20)),
    }
    names = {
        "a POSIX queue of another name": make_mq(f"/ipch-bystander.{os.getpid()}"),
        "a POSIX queue of the project's form, creator alive":
            make_mq(f"/ipch.{os.getpid()}.bystander"),
    }
    mqueue = os.path.ismount("/dev/mqueue")
    orphan = make_mq(f"/ipch.{dead_pid()}.orphan") if mqueue else None

    proc, objects = start_objects(exe, scratch, env)
    entries = sorted(os.listdir(registry))
    check("killed: every object is registered",
          sorted(e.split("@")[0] for e in entries)
          == ["dir", "posix-mq", "sysv-msg", "sysv-msg"], f"    registry: {entries}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    check("killed: the objects outlive their creator", len(objects.present()) == 4,
          f"    present: {objects.present()}")

    dry = run([sys.executable, IPCH, "clean", "--dry-run"], env)
    check("killed: --dry-run names every object", dry[0] == 0
          and not objects.unnamed_in(dry[1]) and "would remove" in dry[1],
          f"    not named: {objects.unnamed_in(dry[1])}\n{shown(dry)}")
    check("killed: --dry-run removes nothing", len(objects.present()) == 4
          and sorted(os.listdir(registry)) == entries,
          f"    present: {objects.present()}")

    result = run([sys.executable, IPCH, "clean"], env)
    check("killed: ipch clean succeeds", result[0] == 0, shown(result))
    check("killed: ipch clean names every object it removed",
          not objects.unnamed_in(result[1]) and f"creator pid {objects.pid} gone" in result[1],
          f"    not named: {objects.unnamed_in(result[1])}\n{shown(result)}")
    check("killed: every object is gone", not objects.present(),
          f"    still there: {objects.present()}")
    check("killed: the registry is empty", not os.listdir(registry),
          f"    registry: {os.listdir(registry)}")
    ids = sysv_ids()
    for what, qid in bystanders.items():
        check(f"killed: {what} is left", qid in ids, shown(result))
    for what, name in names.items():
        check(f"killed: {what} is left", mq_exists(name), shown(result))
    if orphan is not None:
        check("killed: an unregistered project queue of a dead creator goes",
              not mq_exists(orphan) and f"posix-mq queue {orphan} " in result[1],
              shown(result))
    again = run([sys.executable, IPCH, "clean"], env)
    check("killed: a second ipch clean has nothing to remove",
          again[0] == 0 and again[1] == "nothing to remove\n", shown(again))


def case_killed_creator_new_kinds(exe, scratch):
    """A killed process left a segment and a set of each kind, a POSIX
    shared memory object and a named semaphore."""
    registry = os.path.join(scratch, "registry-new")
    os.mkdir(registry, 0o700)
    env = environment(scratch, registry)
    pid = os.getpid()
    segments = {
        "a segment under IPC_PRIVATE": make_segment(0),
        "a segment under a key beside the range":
            make_segment(0x49600000 | random.randrange(1, 1 << 20)),
        "a segment of the range just made by a live process":
            make_segment(SYSV_KEY_PREFIX | random.randrange(1, 1 << 20)),
    }
    sets = {
        "a set under IPC_PRIVATE": make_set(0),
        "a set under a key beside the range":
            make_set(0x49600000 | random.randrange(1, 1 << 20)),
        "a set of the range just made by a live process":
            make_set(SYSV_KEY_PREFIX | random.randrange(1, 1 << 20)),
    }
    files = {
        "a /dev/shm file of another name": make_shm_file(f"ipch-bystander.{pid}"),
        "a /dev/shm file of the project's form, creator alive":
            make_shm_file(f"ipch.{pid}.bystander"),
        "a semaphore file of another name": make_shm_file(f"sem.ipch-bystander.{pid}"),
        "a semaphore file of the project's form, creator alive":
            make_shm_file(f"sem.ipch.{pid}.bystander"),
    }
    gone = dead_pid()
    files["a /dev/shm file of the project's form, creator gone, just written"] = \
        make_shm_file(f"ipch.{gone}.fresh")
    files["a semaphore file of the project's form, creator gone, just written"] = \
        make_shm_file(f"sem.ipch.{gone}.fresh")
    orphans = [make_shm_file(f"ipch.{gone}.orphan"),
               make_shm_file(f"sem.ipch.{gone}.orphan")]
    long_ago = time.time() - 2 * 3600
    for path in orphans:
        os.utime(path, (long_ago, long_ago))

    proc, objects = start_objects(exe, scratch, env, NEW_KINDS)
    entries = sorted(os.listdir(registry))
    kinds = sorted(e.split("@")[0] for e in entries)
    check("new kinds: every object is registered",
          kinds == sorted(["dir", "posix-mq", "sysv-msg", "sysv-msg", "sysv-shm",
                           "sysv-shm", "sysv-sem", "sysv-sem", "posix-shm",
                           "posix-sem"]), f"    registry: {entries}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    total = objects.count()
    check("new kinds: the objects outlive their creator",
          total == 10 and len(objects.present()) == total,
          f"    present: {objects.present()}")

    dry = run([sys.executable, IPCH, "clean", "--dry-run"], env)
    check("new kinds: --dry-run names every object", dry[0] == 0
          and not objects.unnamed_in(dry[1]), f"    not named: "
          f"{objects.unnamed_in(dry[1])}\n{shown(dry)}")
    check("new kinds: --dry-run removes nothing",
          len(objects.present()) == total and all(map(os.path.exists, orphans))
          and sorted(os.listdir(registry)) == entries,
          f"    present: {objects.present()}")

    result = run([sys.executable, IPCH, "clean"], env)
    check("new kinds: ipch clean succeeds", result[0] == 0, shown(result))
    check("new kinds: ipch clean names every object it removed",
          not objects.unnamed_in(result[1]),
          f"    not named: {objects.unnamed_in(result[1])}\n{shown(result)}")
    check("new kinds: every object is gone", not objects.present(),
          f"    still there: {objects.present()}")
    check("new kinds: the registry is empty", not os.listdir(registry),
          f"    registry: {os.listdir(registry)}")
    ids = segment_ids()
    for what, sid in segments.items():
        check(f"new kinds: {what} is left", sid in ids, shown(result))
    ids = set_ids()
    for what, sid in sets.items():
        check(f"new kinds: {what} is left", sid in ids, shown(result))
    for what, path in files.items():
        check(f"new kinds: {what} is left", os.path.exists(path), shown(result))
    for path in orphans:
        check(f"new kinds: unregistered {os.path.basename(path)} of a dead "
              f"creator goes", not os.path.exists(path), shown(result))


def case_live_creator(exe, scratch):
    registry = os.path.join(scratch, "registry-live")
    env = environment(scratch, registry)
    before = run([sys.executable, SWEEP, "--before", registry], env)
    check("live: --before makes the registry 0700",
          before[0] == 0 and os.stat(registry).st_mode & 0o777 == 0o700, shown(before))
    proc, objects = start_objects(exe, scratch, env)
    after = run([sys.executable, SWEEP, "--after", registry], env)
    check("live: --after fails on objects whose creator outlived the run",
          after[0] == 1 and not objects.unnamed_in(after[2]), shown(after))
    check("live: --after leaves them", len(objects.present()) == 4,
          f"    present: {objects.present()}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = run([sys.executable, SWEEP, "--after", registry], env)
    check("live: once the creator is killed, --after removes each and passes",
          after[0] == 0 and not objects.unnamed_in(after[1])
          and not objects.present(), shown(after))


def case_foreign_file(scratch):
    registry = os.path.join(scratch, "registry-file")
    os.mkdir(registry, 0o700)
    env = environment(scratch, registry)
    private = os.path.join(env["TMPDIR"], "ipc-Keep01")
    os.mkdir(private, 0o700)
    keep = os.path.join(private, "keep")
    with open(keep, "w") as f:
        f.write("not the project's\n")
    entry = os.path.join(registry, "dir@" + private.replace("/", "%"))
    with open(entry, "w") as f:
        f.write(f"{dead_pid()} {os.geteuid()} {private}\n")
    result = run([sys.executable, SWEEP, "--after", registry], env)
    check("foreign file: a directory holding a regular file is left",
          result[0] == 1 and os.path.exists(keep) and keep in result[2]
          and os.path.exists(entry), shown(result))
    shutil.rmtree(private)


def case_unregistered_rules():
    """Queues nobody registered, judged by key, owner and last users alone.
    The sweep sees only this case's queues, and without its idle delay, so
    that no queue of a run going on beside this test is at stake."""
    sys.path.insert(0, os.path.join(REPO, "ci"))
    from ipch import clean

    def key(prefix):
        return prefix | random.randrange(1, 1 << 20)
    queues = {
        "unused, key in the range": (make_sysv(key(SYSV_KEY_PREFIX)), True),
        "unused, key beside the range": (make_sysv(key(0x49600000)), False),
        "unused, key below the range": (make_sysv(key(0x49400000)), False),
        "unused, IPC_PRIVATE": (make_sysv(0), False),
        "last sender alive, key in the range": (make_sysv(key(SYSV_KEY_PREFIX)), False),
        "last sender gone, key in the range": (make_sysv(key(SYSV_KEY_PREFIX)), True),
    }
    send(queues["last sender alive, key in the range"][0])
    sender = os.fork()
    if sender == 0:
        os._exit(0 if send(queues["last sender gone, key in the range"][0]) else 1)
    os.waitpid(sender, 0)
    mine = {qid for qid, _ in queues.values()}
    report = sweep_only(clean, queues=mine)
    ids = sysv_ids()
    for what, (qid, goes) in queues.items():
        check(f"unregistered: {what}: {'removed' if goes else 'left'}",
              (qid not in ids) == goes, f"    report: {report}")


def sweep_only(clean, queues=(), segments=(), sets=()):
    """clean.sweep([]) without its idle delay, over these System V objects
    alone and no /dev/shm file, so that nothing of a run going on beside
    this test is at stake."""
    saved = (clean.sysv_queues, clean.sysv_segments, clean.sysv_sets,
             clean.shm_mount, clean.UNREGISTERED_IDLE_SECONDS)
    tables = (clean.sysv_queues, clean.sysv_segments, clean.sysv_sets)
    clean.sysv_queues = lambda: {i: r for i, r in tables[0]().items() if i in queues}
    clean.sysv_segments = lambda: {i: r for i, r in tables[1]().items() if i in segments}
    clean.sysv_sets = lambda: {i: r for i, r in tables[2]().items() if i in sets}
    clean.shm_mount = lambda: None
    clean.UNREGISTERED_IDLE_SECONDS = 0
    try:
        return clean.sweep([])
    finally:
        (clean.sysv_queues, clean.sysv_segments, clean.sysv_sets,
         clean.shm_mount, clean.UNREGISTERED_IDLE_SECONDS) = saved


def case_unregistered_segments_and_sets():
    """Segments and sets nobody registered, judged by key, owner, users and
    attachments alone, as case_unregistered_rules judges queues."""
    sys.path.insert(0, os.path.join(REPO, "ci"))
    from ipch import clean

    def key(prefix):
        return prefix | random.randrange(1, 1 << 20)

    def make_gone(prefix):
        """A segment made by a process that then exited (its cpid gone)."""
        r, w = os.pipe()
        k = key(prefix) if prefix else 0
        in_a_gone_process(lambda: os.write(w, struct.pack(
            "i", libc.shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0o600))))
        os.close(w)
        sid = struct.unpack("i", os.read(r, 4))[0]
        os.close(r)
        if sid < 0:
            raise OSError(f"shmget {k:#x} failed in a child")
        made_segments.add(sid)
        note_in_outer_registry("sysv-shm", str(sid))
        return sid
    segments = {
        "made by a process now gone, key in the range":
            (make_gone(SYSV_KEY_PREFIX), True),
        "made by a process now gone, key beside the range":
            (make_gone(0x49600000), False),
        "made by a process now gone, IPC_PRIVATE": (make_gone(0), False),
        "made by this live process, key in the range":
            (make_segment(key(SYSV_KEY_PREFIX)), False),
        "made by a process now gone, attached here, key in the range":
            (make_gone(SYSV_KEY_PREFIX), False),
    }
    attached = libc.shmat(segments["made by a process now gone, attached here, "
                                   "key in the range"][0], None, 0)
    sets = {
        "unused, key in the range": (make_set(key(SYSV_KEY_PREFIX)), True),
        "unused, key beside the range": (make_set(key(0x49600000)), False),
        "unused, IPC_PRIVATE": (make_set(0), False),
        "last semop by this live process, key in the range":
            (make_set(key(SYSV_KEY_PREFIX)), False),
        "last semop by a process now gone, key in the range":
            (make_set(key(SYSV_KEY_PREFIX)), True),
    }
    semop(sets["last semop by this live process, key in the range"][0])
    gone_set = sets["last semop by a process now gone, key in the range"][0]
    in_a_gone_process(lambda: semop(gone_set))
    try:
        report = sweep_only(clean, segments={i for i, _ in segments.values()},
                            sets={i for i, _ in sets.values()})
    finally:
        if attached not in (None, ctypes.c_void_p(-1).value):
            libc.shmdt(ctypes.c_void_p(attached))
    ids = segment_ids()
    for what, (sid, goes) in segments.items():
        check(f"unregistered segment: {what}: {'removed' if goes else 'left'}",
              (sid not in ids) == goes, f"    report: {report}")
    ids = set_ids()
    for what, (sid, goes) in sets.items():
        check(f"unregistered set: {what}: {'removed' if goes else 'left'}",
              (sid not in ids) == goes, f"    report: {report}")


class Sembuf(ctypes.Structure):
    _fields_ = [("sem_num", ctypes.c_ushort), ("sem_op", ctypes.c_short),
                ("sem_flg", ctypes.c_short)]


def semop(sid):
    """One V on semaphore 0: the set's GETPID is now this process."""
    op = Sembuf(0, 1, IPC_NOWAIT)
    return libc.semop(sid, ctypes.byref(op), 1) == 0


def send(qid):
    message = ctypes.create_string_buffer(struct.pack("l", 1) + b"x")
    return libc.msgsnd(qid, message, 1, IPC_NOWAIT) == 0


def case_ctest_killed(exe, cmake, ctest, scratch):
    """A test holds objects when ctest and its group are killed."""
    builds = os.path.join(scratch, "builds")
    source, build = os.path.join(scratch, "probe"), os.path.join(builds, "probe")
    os.makedirs(source)
    out = os.path.join(scratch, "ctest-objects")
    with open(os.path.join(source, "CMakeLists.txt"), "w") as f:
        f.write(f"""cmake_minimum_required(VERSION 3.25)
project(probe NONE)
set(IPCH_SANITIZER none)
set(IPCH_FUZZ_ENGINE none)
include({IPCBUILD})
enable_testing()
ipch_add_test(NAME objects COMMAND {exe} {out} {MAKE_SECONDS} LABELS unit NO_WRAPPER)
""")
    env = environment(scratch, "")
    del env["IPCH_REGISTRY"]
    configured = run([cmake, "-S", source, "-B", build], env)
    if not check("ctest: the probe project configures", configured[0] == 0,
                 shown(configured)):
        return
    proc = subprocess.Popen([ctest, "--test-dir", build], env=env,
                            stdout=subprocess.DEVNULL, start_new_session=True)
    children.append(proc)
    report = wait_for_file(out, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if not check("ctest: the test made its objects", report is not None):
        return
    objects = Objects(report)
    strays.append(objects.pid)
    # The test was ctest's child; it is ours now (a subreaper), and left
    # unreaped until the sweep is done: a zombie, as where nothing reaps
    # orphans, is no running creator.
    deadline = time.monotonic() + TIMEOUT
    while process_state(objects.pid) not in ("Z", None) and time.monotonic() < deadline:
        time.sleep(0.05)
    check("ctest: the test died with ctest's group",
          process_state(objects.pid) in ("Z", None))
    registry = os.path.join(build, "registry")
    check("ctest: the test registered in the build directory",
          len(os.listdir(registry)) == 4, f"    registry: {os.listdir(registry)}")

    result = run([sys.executable, IPCH, "clean"], env)
    check("ctest: ipch clean removes every object, found in build/*/registry",
          result[0] == 0 and not objects.present() and not objects.unnamed_in(result[1])
          and not os.listdir(registry),
          f"    still there: {objects.present()}\n{shown(result)}")
    reap()


def process_state(pid):
    """The state letter of /proc/PID/stat (Z: a zombie), None if no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--make-objects", required=True)
    parser.add_argument("--cmake", required=True)
    parser.add_argument("--ctest", required=True)
    args = parser.parse_args()
    # Orphans of a killed ctest come to this process, to be reaped here.
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    scratch = tempfile.mkdtemp(prefix="ipch-sweep-test-")
    note_in_outer_registry("scratch", scratch)
    try:
        case_killed_creator(args.make_objects, scratch)
        case_live_creator(args.make_objects, scratch)
        case_foreign_file(scratch)
        case_unregistered_rules()
        case_killed_creator_new_kinds(args.make_objects, scratch)
        case_unregistered_segments_and_sets()
        case_ctest_killed(args.make_objects, args.cmake, args.ctest, scratch)
    finally:
        for proc in children:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap()
        remove_all_made()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{passed} passed, {len(failures)} failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
