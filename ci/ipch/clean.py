"""ipch clean: remove the IPC objects a killed run left behind.

The library notes every object that could outlive its process in the
registry named by IPCH_REGISTRY (impl/registry.h): a file "<kind>@<id>"
holding "<pid> <uid> <id>". An object is removed when its creator is gone
(or, with everything=True, in any case), and only if it is ours: owned by
our user, and one the project made. Objects nobody registered are found by
the project's names and keys alone. See docs/cleanup.md.
"""

import ctypes
import ctypes.util
import errno
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import project
from .errors import Failure

KINDS = ("sysv-msg", "posix-mq", "dir", "scratch", "sysv-shm", "sysv-sem",
         "posix-shm", "posix-sem")

# include/ipc/sysv_msg.h: the keys the project makes for itself, for queues,
# segments and semaphore sets alike.
SYSV_KEY_PREFIX = 0x49500000
SYSV_KEY_MASK = 0xFFF00000
SYSV_TABLE = Path("/proc/sysvipc/msg")
SHM_TABLE = Path("/proc/sysvipc/shm")
SEM_TABLE = Path("/proc/sysvipc/sem")
IPC_RMID = 0
GETPID = 11  # semctl: the last process to operate on one semaphore


@dataclass(frozen=True)
class SysvKind:
    """A System V object kind: its registry kind, what a report calls one,
    its table in /proc/sysvipc and its id column there, and the call that
    removes one (IPC_RMID)."""
    kind: str
    noun: str
    id_column: str
    ctl: str


SYSV_KINDS = {
    "sysv-msg": SysvKind("sysv-msg", "queue", "msqid", "msgctl"),
    "sysv-shm": SysvKind("sysv-shm", "segment", "shmid", "shmctl"),
    "sysv-sem": SysvKind("sysv-sem", "set", "semid", "semctl"),
}

# include/ipc/posix_mq.h, shm.h, sem.h: "/ipch.<pid>.<random>".
PROJECT_MQ_NAME = re.compile(r"^ipch\.([0-9]+)\.[^/]+$")
NAME_MAX = 255


@dataclass(frozen=True)
class ShmFileKind:
    """A POSIX object kept as a file of the shm file system: glibc puts a
    shared memory object "/NAME" at /dev/shm/NAME and a named semaphore at
    /dev/shm/sem.NAME (shm_unlink and sem_unlink remove just that file)."""
    kind: str
    noun: str
    prefix: str


SHM_FILE_KINDS = {
    "posix-shm": ShmFileKind("posix-shm", "object", ""),
    "posix-sem": ShmFileKind("posix-sem", "semaphore", "sem."),
}
SHM_DIR = Path("/dev/shm")

# impl/stream.c ipc_private_dir: mkdtemp's "ipc-XXXXXX".
PRIVATE_DIR_NAME = re.compile(r"^ipc-[A-Za-z0-9]{6}$")
# A harness's scratch directory, which holds files as well as sockets and
# FIFOs: mkdtemp's "ipch-NAME-XXXXXX" (the C suites) or tempfile's
# "ipch-NAME-test-" and 8 characters (harness/cli).
SCRATCH_DIR_NAME = re.compile(r"^ipch-[a-z-]+-[A-Za-z0-9_]{6,8}$")

# An unregistered System V object whose last user is gone, or /dev/shm file
# whose creator is, may still belong to a run going on now (its creator
# between two messages, its peers not yet at the name): only one left alone
# this long is taken without --all.
UNREGISTERED_IDLE_SECONDS = 60


def run(args):
    """ipch clean: sweeps the registries of this checkout and prints what went."""
    report = sweep(known_registries(), everything=args.all, dry_run=args.dry_run)
    for line in report.removed:
        print(line)
    for line in report.kept:
        print(f"left {line}")
    for line in report.failed:
        print(f"could not remove {line}")
    if not (report.removed or report.kept or report.failed):
        print("nothing to remove")
    return 1 if report.failed else 0


def work_registry():
    """The registry of everything ipch runs: $IPCH_WORK_DIR/registry/."""
    path = project.work_dir() / "registry"
    try:
        return make_registry(path)
    except OSError as err:
        raise Failure(f"cannot use {path} as the object registry: {err}; "
                      f"remove it, or set IPCH_WORK_DIR elsewhere") from err


def known_registries():
    """The work directory's registry, each build directory's (where ctest's
    tests register), and $IPCH_REGISTRY if it names another."""
    found = [work_registry()]
    found += sorted(path for path in project.build_root().glob("*/registry")
                    if path.is_dir())
    outer = os.environ.get("IPCH_REGISTRY")
    if outer and Path(outer).is_dir():
        found.append(Path(outer))
    unique = []
    for path in found:
        if path.resolve() not in {known.resolve() for known in unique}:
            unique.append(path)
    return unique


@dataclass
class Report:
    """What a sweep did, one line per object."""
    removed: list = field(default_factory=list)
    kept: list = field(default_factory=list)     # a live creator, left as asked
    failed: list = field(default_factory=list)   # ours to remove, yet still there


@dataclass
class Entry:
    path: Path
    kind: str
    pid: int
    uid: int
    ident: str


class Sweep:
    def __init__(self, everything, dry_run):
        self.everything = everything
        self.dry_run = dry_run
        self.uid = os.geteuid()
        self.report = Report()
        self.seen_queues = set()   # SysV queue ids handled through an entry
        self.seen_ids = {kind: set() for kind in SYSV_KINDS}  # likewise, by kind
        self.seen_names = set()    # POSIX queue names handled through an entry
        self.seen_files = set()    # /dev/shm files handled through an entry
        self.verb = "would remove" if dry_run else "removed"

    # ---- registry entries --------------------------------------------------

    def entries(self, registry):
        """Every entry of registry. An entry that does not read as the
        library writes them (a writer killed halfway) is dropped; a file
        not named as an entry is no business of the sweeper's."""
        try:
            names = sorted(os.listdir(registry))
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            if name.partition("@")[0] not in KINDS:
                continue
            path = Path(registry) / name
            entry = read_entry(path)
            if entry is None:
                self.drop(path)
            else:
                found.append(entry)
        return found

    def sweep_entry(self, entry, tables, mqueue, shm_dir):
        gone = not alive(entry.pid)
        why = creator_state(entry.pid, gone)
        if entry.kind in SYSV_KINDS:
            self.sweep_registered_sysv(entry, tables[entry.kind], gone, why)
        elif entry.kind == "posix-mq":
            self.sweep_registered_mq(entry, mqueue, gone, why)
        elif entry.kind in SHM_FILE_KINDS:
            self.sweep_registered_shm_file(entry, shm_dir, gone, why)
        else:
            self.sweep_registered_dir(entry, gone, why)

    def wanted(self, what, detail, gone, why):
        """Whether an object of ours goes now; notes it as kept if not."""
        if gone or self.everything:
            return True
        self.report.kept.append(f"{what} ({detail}{why}; --all removes it)")
        return False

    def sweep_registered_sysv(self, entry, table, gone, why):
        """A System V queue, segment or set: it goes when its creator is
        gone. A segment still attached keeps its memory until the last
        detach; IPC_RMID only takes its key away."""
        kind = SYSV_KINDS[entry.kind]
        try:
            ident = int(entry.ident)
        except ValueError:
            self.drop(entry.path)
            return
        self.seen_ids[kind.kind].add(ident)
        if kind.kind == "sysv-msg":
            self.seen_queues.add(ident)
        row = table.get(ident)
        if row is None:
            self.drop(entry.path)  # removed already
            return
        what = f"{kind.kind} {kind.noun} {ident}"
        detail = f"key {row['key'] & 0xFFFFFFFF:#010x}, "
        if row["uid"] != self.uid:
            self.report.failed.append(f"{what} ({detail}owner uid {row['uid']}, "
                                      f"not ours)")
            return
        if not self.wanted(what, detail, gone, why):
            return
        if self.remove_sysv(ident, f"{what} ({detail}{why})", kind):
            self.drop(entry.path)

    def sweep_registered_mq(self, entry, mqueue, gone, why):
        name = entry.ident
        if not valid_mq_name(name):
            self.drop(entry.path)
            return
        self.seen_names.add(name)
        what = f"posix-mq queue {name}"
        owner = entry.uid
        if mqueue is not None:
            try:
                owner = os.lstat(mqueue / name[1:]).st_uid
            except FileNotFoundError:
                self.drop(entry.path)
                return
        if owner != self.uid:
            self.report.failed.append(f"{what} (owner uid {owner}, not ours)")
            return
        if not self.wanted(what, "", gone, why):
            return
        if self.remove_mq(name, f"{what} ({why})"):
            self.drop(entry.path)

    def sweep_registered_shm_file(self, entry, shm_dir, gone, why):
        """A POSIX shared memory object or named semaphore: its file under
        /dev/shm goes when its creator is gone."""
        kind = SHM_FILE_KINDS[entry.kind]
        name = entry.ident
        if not valid_mq_name(name) or len(kind.prefix) + len(name) - 1 > NAME_MAX:
            self.drop(entry.path)
            return
        what = f"{kind.kind} {kind.noun} {name}"
        if shm_dir is None:
            self.report.failed.append(f"{what} ({SHM_DIR} is not there; left)")
            return
        path = shm_dir / (kind.prefix + name[1:])
        self.seen_files.add(path.name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.drop(entry.path)
            return
        if not stat.S_ISREG(st.st_mode):
            self.report.failed.append(f"{what} ({path} is not a regular file; left)")
            return
        if st.st_uid != self.uid:
            self.report.failed.append(f"{what} (owner uid {st.st_uid}, not ours)")
            return
        if not self.wanted(what, "", gone, why):
            return
        if self.remove_shm_file(path, f"{what} ({why})"):
            self.drop(entry.path)

    def sweep_registered_dir(self, entry, gone, why):
        path = Path(entry.ident)
        what = f"dir {path}"
        scratch = entry.kind == "scratch"
        name_form = SCRATCH_DIR_NAME if scratch else PRIVATE_DIR_NAME
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.drop(entry.path)
            return
        if not path.is_absolute() or not name_form.match(path.name) \
                or not stat.S_ISDIR(st.st_mode):
            self.report.failed.append(f"{what} (not a private directory of the "
                                      f"project; left as is)")
            return
        if st.st_uid != self.uid:
            self.report.failed.append(f"{what} (owner uid {st.st_uid}, not ours)")
            return
        if not self.wanted(what, "", gone, why):
            return
        if self.remove_dir(path, why, files_too=scratch):
            self.drop(entry.path)

    # ---- objects nobody registered -----------------------------------------

    def sweep_unregistered_mq(self, mqueue):
        if mqueue is None:
            return
        try:
            names = sorted(os.listdir(mqueue))
        except OSError:
            return
        for base in names:
            match = PROJECT_MQ_NAME.match(base)
            name = "/" + base
            if match is None or name in self.seen_names:
                continue
            try:
                owner = os.lstat(mqueue / base).st_uid
            except FileNotFoundError:
                continue
            pid = int(match.group(1))
            gone = not alive(pid)
            if owner != self.uid or not (self.everything or gone):
                continue
            why = creator_state(pid, gone)
            self.remove_mq(name, f"posix-mq queue {name} (unregistered; {why})")

    def sweep_unregistered_shm_files(self, shm_dir):
        """Files of /dev/shm named as the project names its shared memory
        objects ("ipch.<pid>.*") and named semaphores ("sem.ipch.<pid>.*"),
        ours, whose <pid> is gone and that nobody has written for a while:
        peers may still be opening the name of a creator just killed, and a
        sweep of another run going on now must not take it from under the
        run that is watching it."""
        if shm_dir is None:
            return
        try:
            names = sorted(os.listdir(shm_dir))
        except OSError:
            return
        for base in names:
            kind = SHM_FILE_KINDS["posix-sem" if base.startswith("sem.")
                                  else "posix-shm"]
            match = PROJECT_MQ_NAME.match(base[len(kind.prefix):])
            if match is None or base in self.seen_files:
                continue
            path = shm_dir / base
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            pid = int(match.group(1))
            gone = not alive(pid)
            idle = time.time() - st.st_mtime
            if st.st_uid != self.uid or not stat.S_ISREG(st.st_mode) \
                    or not (self.everything or (
                        gone and idle >= UNREGISTERED_IDLE_SECONDS)):
                continue
            name = "/" + base[len(kind.prefix):]
            self.remove_shm_file(path, f"{kind.kind} {kind.noun} {name} "
                                       f"(unregistered; {creator_state(pid, gone)}, "
                                       f"idle {int(idle)} s)")

    def sweep_unregistered_sysv(self, tables):
        """Queues, segments and sets of the project's key range, ours, that
        nobody registered: each goes once every process known to have used
        it is gone, and nobody has touched it for a while."""
        now = time.time()
        for name, kind in SYSV_KINDS.items():
            for ident, row in sorted(tables[name].items()):
                if ident in self.seen_ids[name] or row["uid"] != self.uid \
                        or row["key"] & SYSV_KEY_MASK != SYSV_KEY_PREFIX:
                    continue
                users, idle, busy = last_users(kind, ident, row, now)
                if not self.everything and (busy or any(alive(pid) for pid in users)
                                            or idle < UNREGISTERED_IDLE_SECONDS):
                    continue
                last = ", ".join(f"pid {pid}" for pid in users) or "nobody"
                self.remove_sysv(ident, f"{name} {kind.noun} {ident} (key "
                                        f"{row['key']:#010x}, unregistered; last "
                                        f"used by {last}, idle {int(idle)} s)", kind)

    # ---- removal -------------------------------------------------------------

    def removed(self, what):
        self.report.removed.append(f"{self.verb} {what}")
        return True

    def remove_sysv(self, ident, what, kind=SYSV_KINDS["sysv-msg"]):
        if self.dry_run:
            return self.removed(what)
        if kind.ctl == "semctl":
            done = libc().semctl(ident, 0, IPC_RMID)
        else:
            done = getattr(libc(), kind.ctl)(ident, IPC_RMID, None)
        if done == 0:
            return self.removed(what)
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.EIDRM):
            return True  # removed meanwhile, by its owner
        self.report.failed.append(f"{what}: {kind.ctl} IPC_RMID: {os.strerror(err)}")
        return False

    def remove_shm_file(self, path, what):
        """What shm_unlink and sem_unlink do: the name goes; processes that
        have it mapped keep their mapping."""
        if self.dry_run:
            return self.removed(what)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return True
        except OSError as err:
            self.report.failed.append(f"{what}: unlink: {err.strerror}")
            return False
        return self.removed(what)

    def remove_mq(self, name, what):
        if self.dry_run:
            return self.removed(what)
        if libc().mq_unlink(name.encode()) == 0:
            return self.removed(what)
        err = ctypes.get_errno()
        if err == errno.ENOENT:
            return True
        self.report.failed.append(f"{what}: mq_unlink: {os.strerror(err)}")
        return False

    def remove_dir(self, top, why, files_too=False):
        """Removes top if all it holds are our sockets, FIFOs and empty
        directories: what the project puts there, and nothing worth keeping;
        with files_too (a test's scratch directory), our files as well.
        Links are removed, never followed."""
        contents = []
        for directory, subdirs, files in os.walk(top, topdown=False):
            for name in files + subdirs:
                path = os.path.join(directory, name)
                st = os.lstat(path)
                disposable = stat.S_ISSOCK(st.st_mode) or stat.S_ISFIFO(st.st_mode) \
                    or stat.S_ISDIR(st.st_mode) or (files_too and (
                        stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)))
                if not disposable or st.st_uid != self.uid:
                    self.report.failed.append(f"dir {top} (holds {path}, not a socket, "
                                              f"FIFO or directory of ours; left as is)")
                    return False
                contents.append((path, stat.S_ISDIR(st.st_mode)))
        count = f"{len(contents)} {'entry' if len(contents) == 1 else 'entries'}"
        what = f"dir {top} ({count} inside; {why})"
        if self.dry_run:
            return self.removed(what)
        try:
            for path, is_dir in contents:
                (os.rmdir if is_dir else os.unlink)(path)
            os.rmdir(top)
        except FileNotFoundError:
            pass
        except OSError as err:
            self.report.failed.append(f"{what}: {err.strerror}")
            return False
        return self.removed(what)

    def drop(self, entry_path):
        if not self.dry_run:
            try:
                os.unlink(entry_path)
            except FileNotFoundError:
                pass


def sweep(registries, everything=False, dry_run=False):
    """Sweeps every registry directory given, then the project's names and
    keys nobody registered. Returns a Report."""
    s = Sweep(everything, dry_run)
    # Entries before the system's tables: an object whose entry is seen
    # existed before the tables were read, so one missing there is gone.
    entries = [entry for registry in registries for entry in s.entries(registry)]
    tables = sysv_tables()
    mqueue = mqueue_mount()
    shm_dir = shm_mount()
    for entry in entries:
        s.sweep_entry(entry, tables, mqueue, shm_dir)
    s.sweep_unregistered_mq(mqueue)
    s.sweep_unregistered_shm_files(shm_dir)
    s.sweep_unregistered_sysv(sysv_tables())
    return s.report


def read_entry(path):
    """The entry in file path, or None if it is not one the library writes."""
    kind, sep, _ = path.name.partition("@")
    if not sep or kind not in KINDS:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        text = f.read(8192).decode(errors="replace")
    fields = text.rstrip("\n").split(" ", 2)
    if not text.endswith("\n") or len(fields) != 3 \
            or path.name != f"{kind}@{fields[2].replace('/', '%')}":
        return None
    try:
        return Entry(path, kind, int(fields[0]), int(fields[1]), fields[2])
    except ValueError:
        return None


def creator_state(pid, gone):
    return f"creator pid {pid} {'gone' if gone else 'still running'}"


def alive(pid):
    """Whether pid is a running process; a zombie no longer runs, and may
    never be reaped where nothing reaps orphans."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def sysv_tables():
    """Each System V kind's table, by id."""
    return {"sysv-msg": sysv_queues(), "sysv-shm": sysv_segments(),
            "sysv-sem": sysv_sets()}


def sysv_queues():
    """/proc/sysvipc/msg by queue id: key, owner and last users of each."""
    return read_sysv_table(SYSV_TABLE, "msqid")


def sysv_segments():
    """/proc/sysvipc/shm by segment id: key, owner, creator, last user,
    attachments and times of each."""
    return read_sysv_table(SHM_TABLE, "shmid")


def sysv_sets():
    """/proc/sysvipc/sem by set id: key, owner, size and times of each."""
    return read_sysv_table(SEM_TABLE, "semid")


def read_sysv_table(path, id_column):
    """A /proc/sysvipc table as {id: {column: value}}. perms is printed in
    octal there; it is read as decimal digits and not used."""
    rows = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return rows
    if not lines:
        return rows
    columns = lines[0].split()
    for line in lines[1:]:
        values = line.split()
        if len(values) != len(columns):
            continue
        row = dict(zip(columns, (int(value) for value in values)))
        rows[row[id_column]] = row
    return rows


def last_users(kind, ident, row, now):
    """The processes known to have used a System V object last, the seconds
    since anyone did, and whether a process holds it now (an attached
    segment; a set whose users cannot be read)."""
    if kind.kind == "sysv-msg":
        users = [row["lspid"], row["lrpid"]]
        latest = max(row["stime"], row["rtime"], row["ctime"])
        busy = False
    elif kind.kind == "sysv-shm":
        users = [row["cpid"], row["lpid"]]
        latest = max(row["atime"], row["dtime"], row["ctime"])
        busy = row["nattch"] > 0
    else:
        users = []
        busy = False
        for num in range(row["nsems"]):
            pid = libc().semctl(ident, num, GETPID)
            if pid < 0:
                busy = True  # not ours to read, or gone: not ours to judge
                break
            users.append(pid)
        latest = max(row["otime"], row["ctime"])
    return sorted({pid for pid in users if pid > 0}), now - latest, busy


def mqueue_mount():
    """Where the mqueue file system is mounted, or None."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "mqueue":
            return Path(fields[1].replace("\\040", " "))
    return None


def shm_mount():
    """Where glibc keeps POSIX shared memory objects and named semaphores:
    /dev/shm, or None if it is not a directory."""
    return SHM_DIR if SHM_DIR.is_dir() else None


def valid_mq_name(name):
    return (name.startswith("/") and 1 < len(name) <= NAME_MAX
            and "/" not in name[1:])


_libc = None


def libc():
    """The C library, for msgctl, shmctl, semctl and mq_unlink (librt
    before glibc 2.34)."""
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(None, use_errno=True)
        if not hasattr(lib, "mq_unlink"):
            lib = ctypes.CDLL(ctypes.util.find_library("rt"), use_errno=True)
        lib.msgctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        lib.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        lib.semctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.mq_unlink.argtypes = [ctypes.c_char_p]
        _libc = lib
    return _libc


def make_registry(path):
    """Creates registry directory path (0700) if need be; it must be ours."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise OSError(errno.EPERM, "not a directory of ours", str(path))
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path
