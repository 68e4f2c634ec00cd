#!/usr/bin/env python3
"""ipch-chan's queue channels against peers that share no code with them.

usage: test_queue_peers_cli.py --chan IPCH-CHAN --frame IPCH-FRAME [-- WRAPPER...]
Wire format (docs/channels.md): every IPCF v1 frame is one queue message, a
message of 0 bytes of the stream's type ends the stream, and seq runs from 0
across the stream. The peers: python3-sysv-ipc for sysv-msg: queues, and
ctypes on libc's mq_open, mq_timedsend, mq_timedreceive, mq_close and
mq_unlink for posix-mq: queues. Their frames are made, and what they receive
is judged, by the reference codec in ipcf_model.py alone.

Cases: Python sends typed messages into `ipch-chan recv --listen --msgtype`,
which takes only its type; `ipch-chan send --msgtype` into a queue Python made
and reads; both with ftok:PATH:ID keys; nobody at the address and a key or
name already taken; the same both ways over POSIX queues; and a receiver
ended by a signal, whose queue must go with it. The suite checks, with
ipcs -q, /proc/sysvipc/msg and /dev/mqueue (where mounted), that the
queues are there while their receiver runs and gone once it ends, and at its
end that no queue it made or saw is left.

The sysv-msg cases that need a Python peer are skipped, with a message, when
the interpreter has no sysv_ipc module (Debian's python3-sysv-ipc, for
/usr/bin/python3; ci/install-deps.sh installs it). WRAPPER (valgrind ...)
runs each ipch-chan.
"""
import atexit
import ctypes
import ctypes.util
import errno
import os
import random
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chan_support import (Proc, Suite, json_lines, model, parse_lines,  # noqa: E402
                          pattern_bytes, payloads, stop_all, stream_shape_problem)

try:
    import sysv_ipc
except ImportError:
    sysv_ipc = None

KIB = 1 << 10
# include/ipc/sysv_msg.h and posix_mq.h: the project's keys and queue names.
# The queues this suite makes itself use them too, so that `ipch clean`
# knows them should the suite be killed before it removes them.
SYSV_KEY_PREFIX = 0x49500000
SYSV_KEY_BITS = 20
NOTHING_LISTENS = "nothing listens"
EMPTY = b""


def as_key_t(key):
    """A key of 0..2^32-1 as the signed key_t sysv_ipc takes."""
    return key - (1 << 32) if key >= 1 << 31 else key


def read_proc_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


MSGMAX = read_proc_int("/proc/sys/kernel/msgmax")


def shown(label, result):
    status, out, err = result
    return (f"  {label}: status {status}\n    stdout {out[:400]!r}\n"
            f"    stderr {err[-600:]!r}")


def split_frames(stream):
    """The frames of a valid stream, each as its own bytes."""
    frames, pos = [], 0
    while pos < len(stream):
        length = int.from_bytes(stream[pos + 12:pos + 16], "big")
        frames.append(stream[pos:pos + model.HEADER + length])
        pos += model.HEADER + length
    return frames


def frame_problem(kernel_messages, largest_payload):
    """What is wrong with kernel messages that should each be one whole frame
    of at most largest_payload bytes of payload; None if nothing."""
    for i, data in enumerate(kernel_messages):
        if len(data) < model.HEADER:
            return f"kernel message {i + 1} has {len(data)} bytes, less than a header"
        length = int.from_bytes(data[12:16], "big")
        if len(data) != model.HEADER + length:
            return (f"kernel message {i + 1} has {len(data)} bytes, but its frame "
                    f"{model.HEADER + length}")
        if length > largest_payload:
            return (f"kernel message {i + 1} carries {length} payload bytes, over "
                    f"the {largest_payload} a queue message leaves a frame")
    return None


def received_problem(kernel_messages, sent, largest_payload):
    """Kernel messages a Python peer took (the end mark excluded) against the
    (type, payload) messages sent: one frame each, the stream valid to the
    reference decoder, seq from 0, the same types and payloads."""
    problem = frame_problem(kernel_messages, largest_payload)
    if problem:
        return problem
    stream = b"".join(kernel_messages)
    messages, fault, offset = model.decode(stream)
    if fault:
        return f"the reference decoder: {fault} at offset {offset}"
    problem = stream_shape_problem(messages, sent)
    if problem:
        return problem
    if payloads(stream) != [payload for _, payload in sent]:
        return "the payloads differ from the files sent"
    return None


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def passed(self):
        return time.monotonic() >= self.end


def read_stdout_line(proc, timeout):
    """The next line proc writes on standard output, or None. What was read
    is kept in proc.taken, which proc.result's stdout then lacks."""
    taken = getattr(proc, "taken", b"")
    deadline = Deadline(timeout)
    fd = proc.p.stdout.fileno()
    while b"\n" not in taken[getattr(proc, "lines_at", 0):]:
        ready, _, _ = select.select([fd], [], [], deadline.left())
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        taken += chunk
    proc.taken = taken
    start = getattr(proc, "lines_at", 0)
    end = taken.find(b"\n", start)
    if end < 0:
        return None
    proc.lines_at = end + 1
    return taken[start:end + 1]


def finished(proc, timeout):
    """proc.result with what read_stdout_line took put back in front."""
    status, out, err = proc.result(timeout)
    return status, getattr(proc, "taken", b"") + out, err


# ---- where the system shows queues -------------------------------------------

IPCS_ROW = re.compile(r"^(0x[0-9a-fA-F]+)\s+(\d+)\s+(\S+)\s+([0-7]+)\s", re.M)


def sysv_proc_table():
    """{key (0..2^32-1): {"id", "perms", "uid", "qnum"}} from /proc/sysvipc/msg."""
    rows = {}
    with open("/proc/sysvipc/msg") as f:
        names = f.readline().split()
        for line in f:
            fields = dict(zip(names, line.split()))
            rows[int(fields["key"]) & 0xFFFFFFFF] = {
                "id": int(fields["msqid"]), "perms": int(fields["perms"], 8),
                "uid": int(fields["uid"]), "qnum": int(fields["qnum"])}
    return rows


def ipcs_keys():
    """{key: (id, perms)} as `ipcs -q` lists them, or None without ipcs."""
    if shutil.which("ipcs") is None:
        return None
    out = subprocess.run(["ipcs", "-q"], capture_output=True, timeout=30,
                         check=True).stdout.decode()
    return {int(m.group(1), 16): (int(m.group(2)), int(m.group(4), 8))
            for m in IPCS_ROW.finditer(out)}


def sysv_listing_problem(key, want):
    """Whether /proc/sysvipc/msg and `ipcs -q` list key (want True) or
    not; None if both agree with want. A listed queue must be 0600 and ours."""
    row = sysv_proc_table().get(key)
    listed = ipcs_keys()
    if (row is not None) != want:
        return f"/proc/sysvipc/msg {'lacks' if want else 'still lists'} key {key:#010x}"
    if listed is not None and (key in listed) != want:
        return f"ipcs -q {'lacks' if want else 'still lists'} key {key:#010x}"
    if want and (row["perms"] & 0o777 != 0o600 or row["uid"] != os.geteuid()):
        return (f"queue {key:#010x} has mode {row['perms'] & 0o777:o} and owner "
                f"{row['uid']}, not 600 and {os.geteuid()}")
    if want and listed is not None and listed[key][0] != row["id"]:
        return f"ipcs -q and /proc/sysvipc/msg disagree on the id of {key:#010x}"
    return None


def remove_sysv_queue(qid):
    """msgctl(IPC_RMID) through libc, which needs no sysv_ipc."""
    lib = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    lib.msgctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    lib.msgctl.restype = ctypes.c_int
    lib.msgctl(qid, 0, None)  # IPC_RMID


def mqueue_mount():
    """Where the mqueue file system is mounted, or None."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "mqueue":
                return fields[1]
    return None


# ---- POSIX queues through libc -----------------------------------------------

class MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("reserved", ctypes.c_long * 4)]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class MqError(Exception):
    def __init__(self, call, err):
        super().__init__(f"{call}: {os.strerror(err)}")
        self.errno = err


def load_mq_functions():
    """libc's queue calls with their prototypes (librt's before glibc 2.34)."""
    for name in (ctypes.util.find_library("c"), ctypes.util.find_library("rt")):
        if name is None:
            continue
        lib = ctypes.CDLL(name, use_errno=True)
        if hasattr(lib, "mq_timedreceive"):
            break
    else:
        raise SystemExit("no library with mq_open found (libc or librt)")
    mqd_t = ctypes.c_int
    # mq_open is variadic; it is always called with all four arguments.
    lib.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                            ctypes.POINTER(MqAttr)]
    lib.mq_open.restype = mqd_t
    lib.mq_close.argtypes = [mqd_t]
    lib.mq_close.restype = ctypes.c_int
    lib.mq_unlink.argtypes = [ctypes.c_char_p]
    lib.mq_unlink.restype = ctypes.c_int
    lib.mq_getattr.argtypes = [mqd_t, ctypes.POINTER(MqAttr)]
    lib.mq_getattr.restype = ctypes.c_int
    lib.mq_timedsend.argtypes = [mqd_t, ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.c_uint, ctypes.POINTER(Timespec)]
    lib.mq_timedsend.restype = ctypes.c_int
    lib.mq_timedreceive.argtypes = [mqd_t, ctypes.c_char_p, ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_uint),
                                    ctypes.POINTER(Timespec)]
    lib.mq_timedreceive.restype = ctypes.c_ssize_t
    return lib


class Mq:
    """One queue descriptor, opened or made by name."""

    lib = None

    def __init__(self, name, flags, maxmsg=0, msgsize=0):
        if Mq.lib is None:
            Mq.lib = load_mq_functions()
        self.name = name
        attr = None
        if flags & os.O_CREAT:
            attr = ctypes.pointer(MqAttr(0, maxmsg, msgsize, 0))
        self.q = Mq.lib.mq_open(name.encode(), flags | os.O_CLOEXEC, 0o600, attr)
        if self.q == -1:
            raise MqError(f"mq_open {name}", ctypes.get_errno())

    def attr(self):
        a = MqAttr()
        if Mq.lib.mq_getattr(self.q, ctypes.byref(a)) != 0:
            raise MqError("mq_getattr", ctypes.get_errno())
        return a

    @staticmethod
    def when(seconds):
        """An absolute CLOCK_REALTIME time seconds from now."""
        at = time.time() + seconds
        return ctypes.byref(Timespec(int(at), int((at - int(at)) * 1e9)))

    def send(self, data, wait):
        """True once sent; False if the queue stayed full for wait seconds."""
        if Mq.lib.mq_timedsend(self.q, data, len(data), 0, self.when(wait)) == 0:
            return True
        err = ctypes.get_errno()
        if err in (errno.ETIMEDOUT, errno.EAGAIN):
            return False
        raise MqError("mq_timedsend", err)

    def receive(self, wait):
        """A message, or None if none came within wait seconds."""
        cap = self.attr().mq_msgsize
        buf = ctypes.create_string_buffer(cap)
        prio = ctypes.c_uint()
        n = Mq.lib.mq_timedreceive(self.q, buf, cap, ctypes.byref(prio), self.when(wait))
        if n >= 0:
            return buf.raw[:n]
        err = ctypes.get_errno()
        if err in (errno.ETIMEDOUT, errno.EAGAIN):
            return None
        raise MqError("mq_timedreceive", err)

    def close(self):
        if self.q != -1:
            Mq.lib.mq_close(self.q)
            self.q = -1

    @staticmethod
    def unlink(name):
        """True if it was there; False if no queue had that name."""
        if Mq.lib is None:
            Mq.lib = load_mq_functions()
        if Mq.lib.mq_unlink(name.encode()) == 0:
            return True
        err = ctypes.get_errno()
        if err == errno.ENOENT:
            return False
        raise MqError(f"mq_unlink {name}", err)

    @staticmethod
    def exists(name):
        """Whether a queue has that name, asked without touching it: opened
        to send, closed unused."""
        try:
            Mq(name, os.O_WRONLY | os.O_NONBLOCK).close()
            return True
        except MqError as e:
            if e.errno == errno.ENOENT:
                return False
            raise


# ---- the suite -----------------------------------------------------------------

class QueuePeers:
    """The suite, and every queue it made or saw made, so that it can check
    at the end that none is left, and remove any that a failure left."""

    def __init__(self):
        self.s = Suite(__doc__)
        self.keys = set()        # System V keys of the suite's and the tool's queues
        self.names = set()       # POSIX queue names likewise
        self.python_queues = []  # sysv_ipc queues the suite made
        self.mqueue = mqueue_mount()
        self.made_names = 0
        atexit.register(self.remove_leftovers)

    @property
    def wait(self):
        return ["--timeout", str(self.s.timeout * 0.8)]

    def deadline(self):
        return Deadline(self.s.timeout)

    def need_sysv_ipc(self, name):
        if sysv_ipc is None:
            first = not any(n.startswith("sysv") for n in self.s.skipped)
            self.s.skip(name, f"{sys.executable} has no sysv_ipc module (Debian's "
                        "python3-sysv-ipc, for /usr/bin/python3; ci/install-deps.sh "
                        "installs it)" if first else "no sysv_ipc module, as above")
            return False
        return True

    # -- System V -------------------------------------------------------------

    def fresh_key(self):
        """A key of the project's range that no queue has now."""
        taken = sysv_proc_table()
        while True:
            key = SYSV_KEY_PREFIX | random.getrandbits(SYSV_KEY_BITS)
            if key not in taken:
                return key

    def python_queue(self, key=None):
        """A queue made by sysv_ipc: IPC_CREX, 0600; key fresh if None."""
        while True:
            chosen = self.fresh_key() if key is None else key
            try:
                q = sysv_ipc.MessageQueue(as_key_t(chosen), sysv_ipc.IPC_CREX, 0o600,
                                          MSGMAX)
            except sysv_ipc.ExistentialError:
                if key is not None:
                    raise
                continue
            self.keys.add(chosen & 0xFFFFFFFF)
            self.python_queues.append(q)
            return q

    def remove_python_queue(self, q):
        try:
            q.remove()
        except sysv_ipc.ExistentialError:
            pass
        self.python_queues.remove(q)

    def opened(self, key):
        """The queue an ipch-chan listener made, opened by sysv_ipc."""
        return sysv_ipc.MessageQueue(as_key_t(key), 0, 0o600, MSGMAX)

    # -- POSIX -----------------------------------------------------------------

    def fresh_name(self):
        """A name of the project's form (/ipch.<pid>.<random>) that no
        queue has, for one the suite makes or for nobody's."""
        self.made_names += 1
        name = f"/ipch.{os.getpid()}.peer{self.made_names}x{random.getrandbits(32):08x}"
        self.names.add(name)
        return name

    def mq_listing_problem(self, name, want):
        """Whether name is there (want True) or not, by /dev/mqueue where
        mounted (a queue there must be 0600 and ours), else by mq_open."""
        if self.mqueue is None:
            there = Mq.exists(name)
            return None if there == want else \
                f"queue {name} is {'missing' if want else 'still there'} (mq_open)"
        path = os.path.join(self.mqueue, name[1:])
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return f"{path} is missing" if want else None
        if not want:
            return f"{path} is still there"
        if stat.S_IMODE(st.st_mode) != 0o600 or st.st_uid != os.geteuid():
            return (f"{path} has mode {stat.S_IMODE(st.st_mode):o} and owner "
                    f"{st.st_uid}, not 600 and {os.geteuid()}")
        return None

    # -- the end ---------------------------------------------------------------

    def leftovers(self):
        """Every queue the suite made or saw made that is still there."""
        table, listed = sysv_proc_table(), ipcs_keys() or {}
        left = [f"sysv-msg key {key:#010x}" for key in sorted(self.keys)
                if key in table or key in listed]
        left += [f"posix-mq {name}" for name in sorted(self.names)
                 if self.mq_listing_problem(name, False) is not None]
        if self.mqueue is not None:
            ours = {name[1:] for name in self.names}
            left += [f"{self.mqueue}/{base}" for base in os.listdir(self.mqueue)
                     if base.startswith(f"ipch.{os.getpid()}.") and base not in ours]
        return left

    def remove_leftovers(self):
        """At exit, for a failed or stopped run: the children first (a
        listener killed with SIGKILL leaves its queue), then every queue
        of the suite's or its listeners' still there."""
        stop_all()
        for q in list(self.python_queues):
            self.remove_python_queue(q)
        table = sysv_proc_table()
        for key in self.keys:
            row = table.get(key)
            if row is not None and row["uid"] == os.geteuid():
                remove_sysv_queue(row["id"])
        for name in self.names:
            try:
                Mq.unlink(name)
            except MqError:
                pass


# ---- ipch-chan recv --listen, and what it reported ------------------------------

LISTENING_SYSV = re.compile(r"^sysv-msg:(0x[0-9a-f]{8})$")
LISTENING_MQ = re.compile(r"^posix-mq:(/[^/]+)$")


def start_listener(q, name, address, extra=()):
    """ipch-chan recv ADDRESS --listen ..., and the address it reported;
    (None, None) and a failed check if it never listened."""
    s = q.s
    recv = Proc(s.chan + ["recv", address, "--listen"] + list(extra) + q.wait)
    reported = recv.listening(s.timeout)
    if reported is not None:
        sysv = LISTENING_SYSV.match(reported)
        mq = LISTENING_MQ.match(reported)
        if sysv:
            q.keys.add(int(sysv.group(1), 16))
        if mq:
            q.names.add(mq.group(1))
        if sysv or mq:
            return recv, reported
    recv.kill()
    s.check(name, False, f"  reported {reported!r}\n" +
            shown("recv never listened", recv.result(s.timeout)))
    return None, None


def key_of(reported):
    return int(LISTENING_SYSV.match(reported).group(1), 16)


def name_of(reported):
    return LISTENING_MQ.match(reported).group(1)


# ---- 1. python3-sysv-ipc sends, ipch-chan recv takes one type -------------------

def type5_stream():
    """(the messages, their frames) of the type-5 stream: an empty message, a
    message of many frames, a frame as large as a queue message allows, and a
    byte; seq from 0."""
    sent = [(3, EMPTY), (4, pattern_bytes(20 * KIB + 5, 1)),
            (65535, pattern_bytes(MSGMAX - model.HEADER, 2)), (1, b"z")]
    frames, seq = [], 0
    for type_, payload in sent:
        limit = 3000 if len(payload) > MSGMAX else model.DEFAULT_LIMIT
        data, seq = model.encode(type_, payload, seq, limit)
        frames += split_frames(data)
    return sent, frames


def other_type_messages():
    """What goes as System V type 6 between them, which a type-5 receiver
    must never see: a valid frame, an end mark, and bytes that are no frame."""
    return [model.frame(0, 66, 1, b"type six"), EMPTY, b"not a frame",
            model.frame(1, 4, 2, pattern_bytes(100, 3))]


def sysv_send(queue, data, mtype, deadline):
    """Sends without blocking for ever; False if the queue stayed full or
    is gone (its receiver removed it)."""
    while True:
        try:
            queue.send(data, block=False, type=mtype)
            return True
        except sysv_ipc.BusyError:
            if deadline.passed():
                return False
            time.sleep(0.002)
        except (sysv_ipc.ExistentialError, OSError):
            return False


def sysv_typed_into_recv(q):
    s = q.s
    name = "sysv: python3-sysv-ipc type-5 frames, type 6 between, into ipch-chan recv --msgtype 5"
    if not q.need_sysv_ipc(name):
        return
    sent, frames = type5_stream()
    others = other_type_messages()
    save = s.scratch("save")
    recv, reported = start_listener(q, name, "sysv-msg:new", ["--msgtype", "5", "--save", save])
    if recv is None:
        return
    key = key_of(reported)
    problem = sysv_listing_problem(key, True)
    s.check("sysv: ipcs -q lists the key ipch-chan recv --listen made, 0600",
            problem is None, f"  {problem}")
    queue = q.opened(key)
    deadline = q.deadline()
    went = []
    for i, data in enumerate(frames):
        went.append(sysv_send(queue, data, 5, deadline))
        if i % 3 == 0 and others:
            went.append(sysv_send(queue, others.pop(0), 6, deadline))
    went += [sysv_send(queue, data, 6, deadline) for data in others]
    went.append(sysv_send(queue, EMPTY, 5, deadline))
    got = recv.result(s.timeout)
    stream = b"".join(frames)
    lines = json_lines(model.decode(stream)[0])
    saved = [open(os.path.join(save, f"{i + 1}.bin"), "rb").read()
             for i in range(len(sent)) if os.path.exists(os.path.join(save, f"{i + 1}.bin"))]
    s.check(name, all(went) and got[0] == 0 and got[1].decode() == lines and
            saved == [payload for _, payload in sent] and
            stream_shape_problem(parse_lines(got[1]), sent) is None,
            f"  every send went: {all(went)}; expected lines {lines!r}\n" + shown("recv", got))
    problem = sysv_listing_problem(key, False)
    s.check("sysv: ipch-chan recv removed its queue at its end, type-6 messages with it",
            problem is None, f"  {problem}")
    try:
        queue.current_messages
        removed = False
    except sysv_ipc.ExistentialError:
        removed = True
    s.check("sysv: the queue is gone for python3-sysv-ipc too", removed)
    shutil.rmtree(save)


def sysv_faults_into_recv(q):
    """A stream broken by an independent writer: ipch-chan recv reports the
    fault and offset the reference decoder finds, exits 1, removes its queue."""
    s = q.s
    ok_frames = split_frames(model.encode(2, pattern_bytes(5000, 4), 0, 1500)[0])
    bad = bytearray(model.frame(0, 2, len(ok_frames), b"corrupted"))
    bad[-1] ^= 0x40
    cut = split_frames(model.encode(7, pattern_bytes(4000, 5), len(ok_frames), 1000)[0])[:2]
    for label, frames in (("a frame with a bad CRC", ok_frames + [bytes(bad)]),
                          ("an end mark inside a message of many frames",
                           ok_frames + cut + [EMPTY])):
        name = f"sysv: python3-sysv-ipc sends {label}: ipch-chan recv reports the reference fault"
        if not q.need_sysv_ipc(name):
            return
        recv, reported = start_listener(q, name, "sysv-msg:new", ["--msgtype", "9"])
        if recv is None:
            continue
        key = key_of(reported)
        queue = q.opened(key)
        deadline = q.deadline()
        went = all([sysv_send(queue, data, 9, deadline) for data in frames])
        got = recv.result(s.timeout)
        stream = b"".join(frames)
        messages, fault, offset = model.decode(stream)
        want = f"ipch: frame error: {fault} at offset {offset}\n"
        s.check(name, went and fault is not None and got[0] == 1 and
                got[1].decode() == json_lines(messages) and got[2].endswith(want),
                f"  expected {json_lines(messages)!r} and {want!r}\n" + shown("recv", got))
        problem = sysv_listing_problem(key, False)
        s.check(f"sysv: after {label} the receiver removed its queue", problem is None,
                f"  {problem}")


# ---- 2. ipch-chan send, python3-sysv-ipc receives -------------------------------

def send_files(q, prefix):
    """(type 9, payload) messages and their files: one over 20 KiB, so of
    several frames, an empty one, and one byte short of a full frame."""
    sent = [(9, pattern_bytes(20 * KIB + 333, 6)), (9, EMPTY),
            (9, pattern_bytes(MSGMAX - model.HEADER - 1, 7))]
    files = [q.s.write(f"{prefix}-{i}", payload) for i, (_, payload) in enumerate(sent)]
    return sent, files


def sysv_receive_stream(queue, mtype, sender, deadline):
    """Kernel messages of mtype up to the end mark, taken while sender runs:
    (messages, whether the end mark came)."""
    taken = []
    while not deadline.passed():
        try:
            data, _ = queue.receive(block=False, type=mtype)
        except (sysv_ipc.ExistentialError, OSError):
            return taken, False
        except sysv_ipc.BusyError:
            if sender.p.poll() is not None and queue.current_messages == 0:
                return taken, False
            time.sleep(0.002)
            continue
        if data == EMPTY:
            return taken, True
        taken.append(data)
    return taken, False


def sysv_python_reads(q, name, address, queue, msgtype, sent, files):
    """ipch-chan send ADDRESS --msgtype msgtype --type 9 FILES into queue,
    which Python reads; the check, and nothing left after the end mark."""
    s = q.s
    sender = Proc(s.chan + ["send", address, "--msgtype", str(msgtype), "--type", "9"]
                  + q.wait + files)
    taken, ended = sysv_receive_stream(queue, msgtype, sender, q.deadline())
    result = sender.result(s.timeout)
    problem = received_problem(taken, sent, MSGMAX - model.HEADER)
    several = len(split_frames(b"".join(taken))) > len(sent) if not problem else False
    try:
        after = queue.receive(block=False, type=msgtype)
    except sysv_ipc.BusyError:
        after = None
    s.check(name, result[0] == 0 and ended and problem is None and several and after is None,
            f"  {problem}; end mark: {ended}; the big file in several frames: {several}; "
            f"after the end mark: {after!r:.80}\n" + shown("send", result))


def sysv_send_into_python(q):
    s = q.s
    name = "sysv: ipch-chan send --msgtype 7 --type 9 FILES read by python3-sysv-ipc"
    if not q.need_sysv_ipc(name):
        return
    queue = q.python_queue()
    key = queue.key & 0xFFFFFFFF
    # Something of another type already there: the sender must leave it be.
    queue.send(b"not ours", type=8)
    sent, files = send_files(q, "sysv-send")
    sysv_python_reads(q, name, f"sysv-msg:{key:#x}", queue, 7, sent, files)
    try:
        untouched = queue.receive(block=False, type=8) == (b"not ours", 8)
    except sysv_ipc.BusyError:
        untouched = False
    s.check("sysv: ipch-chan send left the type-8 message in the queue", untouched)
    q.remove_python_queue(queue)
    problem = sysv_listing_problem(key, False)
    s.check("sysv: the queue Python made is gone once it removed it", problem is None,
            f"  {problem}")


def ftok_keys(q):
    """A file in a scratch directory, and an ID whose ftok key no queue has."""
    path = q.s.write("ftok-file", b"ftok")
    table = sysv_proc_table()
    for proj in range(1, 256):
        key = sysv_ipc.ftok(path, proj, silence_warning=True) & 0xFFFFFFFF
        if key not in table:
            q.keys.add(key)
            return path, proj, key
    raise SystemExit(f"every ftok key of {path} is taken")


def sysv_ftok_both_sides(q):
    s = q.s
    name = "sysv: ftok:PATH:ID, ipch-chan recv --listen --msgtype 11 fed by python3-sysv-ipc"
    if not q.need_sysv_ipc(name):
        return
    path, proj, key = ftok_keys(q)
    address = f"sysv-msg:ftok:{path}:{proj}"
    recv, reported = start_listener(q, name, address, ["--msgtype", "11"])
    if recv is not None:
        s.check("sysv: ipch-chan recv --listen ftok:PATH:ID made the key ftok(3) gives",
                key_of(reported) == key, f"  reported {reported}, ftok gives {key:#010x}")
        sent = [(5, pattern_bytes(12 * KIB, 8)), (6, b"ftok")]
        frames = split_frames(b"".join(
            model.encode(t, p, seq, MSGMAX - model.HEADER)[0]
            for (t, p), seq in zip(sent, (0, 2))))
        queue = q.opened(key)
        deadline = q.deadline()
        went = all(sysv_send(queue, data, 11, deadline) for data in frames + [EMPTY])
        got = recv.result(s.timeout)
        lines = json_lines(model.decode(b"".join(frames))[0])
        s.check(name, went and got[0] == 0 and got[1].decode() == lines,
                f"  expected {lines!r}\n" + shown("recv", got))
        problem = sysv_listing_problem(key, False)
        s.check("sysv: ipch-chan recv removed its ftok-keyed queue", problem is None,
                f"  {problem}")

    name = "sysv: ftok:PATH:ID, ipch-chan send --msgtype 12 read by python3-sysv-ipc"
    try:
        queue = q.python_queue(key)
    except sysv_ipc.ExistentialError:
        s.check(name, False, f"  key {key:#010x} is still taken")
        return
    sent, files = send_files(q, "ftok-send")
    sysv_python_reads(q, name, address, queue, 12, sent, files)
    q.remove_python_queue(queue)


# ---- 3. nobody there, and a key or name already taken ------------------------------

def nobody_and_taken(q):
    s = q.s
    payload = s.write("one-byte", b"1")
    key, name_ = q.fresh_key(), q.fresh_name()
    for address in (f"sysv-msg:{key:#x}", f"posix-mq:{name_}"):
        result = Proc(s.chan + ["send", address, "--type", "1"] + q.wait +
                      [payload]).result(s.timeout)
        problem = (sysv_listing_problem(key, False) if address.startswith("sysv")
                   else q.mq_listing_problem(name_, False))
        s.check(f"ipch-chan send {address} that nobody made: exit 1, nothing listens, "
                f"nothing made", result[0] == 1 and NOTHING_LISTENS in result[2] and
                result[1] == b"" and problem is None, f"  {problem}\n" + shown("send", result))

    name = "sysv: ipch-chan recv --listen on a key python3-sysv-ipc made: exit 1, exists"
    if q.need_sysv_ipc(name):
        queue = q.python_queue()
        key = queue.key & 0xFFFFFFFF
        queue.send(b"still here", type=3)
        before = sysv_proc_table()[key]["id"]
        result = Proc(s.chan + ["recv", f"sysv-msg:{key}", "--listen"] + q.wait
                      ).result(s.timeout)
        after = sysv_proc_table().get(key, {}).get("id")
        try:
            kept = queue.receive(block=False) == (b"still here", 3)
        except (sysv_ipc.BusyError, sysv_ipc.ExistentialError):
            kept = False
        s.check(name, result[0] == 1 and "exists" in result[2].lower() and
                "listening on" not in result[2],
                shown("recv", result))
        s.check("sysv: the queue python3-sysv-ipc made is untouched, its message kept",
                after == before and kept, f"  id before {before}, after {after}; "
                f"the message still there: {kept}")
        q.remove_python_queue(queue)

    name_ = q.fresh_name()
    mq = Mq(name_, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NONBLOCK, 4, 128)
    try:
        mq.send(b"still here", 1)
        result = Proc(s.chan + ["recv", f"posix-mq:{name_}", "--listen"] + q.wait
                      ).result(s.timeout)
        kept = mq.receive(1) == b"still here" and Mq.exists(name_)
    finally:
        mq.close()
        Mq.unlink(name_)
    s.check("posix: ipch-chan recv --listen on a name a libc queue has: exit 1, exists",
            result[0] == 1 and "exists" in result[2].lower() and
            "listening on" not in result[2], shown("recv", result))
    s.check("posix: the queue libc made is untouched, its message kept", kept)


# ---- 4. POSIX queues through libc ---------------------------------------------------

def mq_send_all(mq, messages, deadline):
    """False if one stayed out for the whole deadline, or a send failed."""
    try:
        for data in messages:
            while not mq.send(data, 0.1):
                if deadline.passed():
                    return False
    except MqError:
        return False
    return True


def mq_into_recv(q, label, extra, largest_payload, want_attr):
    """Frames of at most largest_payload bytes, sent with mq_timedsend into
    ipch-chan recv posix-mq:new --listen EXTRA."""
    s = q.s
    name = f"posix: libc mq_timedsend frames into ipch-chan recv --listen {label}"
    save = s.scratch("save")
    recv, reported = start_listener(q, name, "posix-mq:new", list(extra) + ["--save", save])
    if recv is None:
        return
    qname = name_of(reported)
    problem = q.mq_listing_problem(qname, True)
    s.check(f"posix: the queue of ipch-chan recv --listen {label} is there, 0600"
            f"{'' if q.mqueue else ' (by mq_open; /dev/mqueue is not mounted)'}",
            problem is None, f"  {problem}")
    sent = [(8, pattern_bytes(3 * largest_payload + 17, 9)), (9, EMPTY),
            (10, pattern_bytes(largest_payload, 10))]
    frames, seq = [], 0
    for type_, payload in sent:
        data, seq = model.encode(type_, payload, seq, largest_payload)
        frames += split_frames(data)
    mq = Mq(qname, os.O_WRONLY)
    try:
        attr = mq.attr()
        went = mq_send_all(mq, frames + [EMPTY], q.deadline())
    finally:
        mq.close()
    got = recv.result(s.timeout)
    lines = json_lines(model.decode(b"".join(frames))[0])
    saved = [open(os.path.join(save, n), "rb").read()
             for n in sorted(os.listdir(save), key=lambda n: int(n.split(".")[0]))]
    s.check(f"posix: ipch-chan recv --listen {label} made a queue of "
            f"{want_attr[0]} messages of {want_attr[1]} bytes",
            (attr.mq_maxmsg, attr.mq_msgsize) == want_attr,
            f"  mq_getattr: {attr.mq_maxmsg} messages of {attr.mq_msgsize} bytes")
    s.check(name, went and got[0] == 0 and got[1].decode() == lines and
            saved == [payload for _, payload in sent],
            f"  every send went: {went}; expected {lines!r}\n" + shown("recv", got))
    problem = q.mq_listing_problem(qname, False)
    s.check(f"posix: ipch-chan recv {label} unlinked its queue at its end",
            problem is None, f"  {problem}")
    shutil.rmtree(save)


def mq_receive_stream(mq, sender, deadline):
    """Messages up to the end mark, taken while sender runs."""
    taken = []
    while not deadline.passed():
        data = mq.receive(0.05)
        if data is None:
            if sender.p.poll() is not None and mq.attr().mq_curmsgs == 0:
                return taken, False
            continue
        if data == EMPTY:
            return taken, True
        taken.append(data)
    return taken, False


def send_into_mq(q, label, maxmsg, msgsize, sent):
    """ipch-chan send posix-mq:/NAME into a queue made here (O_EXCL, 0600),
    read with mq_timedreceive."""
    s = q.s
    name = f"posix: ipch-chan send read by libc mq_timedreceive from a queue of {label}"
    files = [s.write(f"mq-send-{i}", payload) for i, (_, payload) in enumerate(sent)]
    qname = q.fresh_name()
    mq = Mq(qname, os.O_CREAT | os.O_EXCL | os.O_RDONLY, maxmsg, msgsize)
    try:
        problem = q.mq_listing_problem(qname, True)
        s.check(f"posix: the queue made here for {label} is there, 0600", problem is None,
                f"  {problem}")
        sender = Proc(s.chan + ["send", f"posix-mq:{qname}", "--type", "9"] + q.wait + files)
        taken, ended = mq_receive_stream(mq, sender, q.deadline())
        result = sender.result(s.timeout)
        left = mq.attr().mq_curmsgs
    finally:
        mq.close()
        Mq.unlink(qname)
    problem = received_problem(taken, sent, msgsize - model.HEADER)
    s.check(name, result[0] == 0 and ended and problem is None and left == 0 and
            len(taken) > len(sent),
            f"  {problem}; end mark: {ended}; {len(taken)} frames; left: {left}\n"
            + shown("send", result))


def posix_peers(q):
    limits = {n: read_proc_int(f"/proc/sys/fs/mqueue/{n}")
              for n in ("msg_default", "msgsize_default")}
    mq_into_recv(q, "(system defaults)", [], limits["msgsize_default"] - model.HEADER,
                 (limits["msg_default"], limits["msgsize_default"]))
    mq_into_recv(q, "--queue-depth 3 --queue-msgsize 256",
                 ["--queue-depth", "3", "--queue-msgsize", "256"], 256 - model.HEADER, (3, 256))
    send_into_mq(q, "10 x 8192 bytes", 10, 8192,
                 [(9, pattern_bytes(20 * KIB + 1, 11)), (9, EMPTY),
                  (9, pattern_bytes(8192 - model.HEADER, 12))])
    send_into_mq(q, "2 x 100 bytes", 2, 100,
                 [(9, pattern_bytes(1000, 13)), (9, b"x")])


# ---- 5. a receiver ended by a signal -------------------------------------------------

def signalled(q, scheme, sig, after_one):
    """ipch-chan recv SCHEME:new --listen ended by sig while it waits
    (after_one: once it took one message); its queue must be gone."""
    s = q.s
    when = "after one message" if after_one else "while it waits"
    name = f"{scheme}: {signal.Signals(sig).name} {when} to ipch-chan recv --listen"
    if after_one and scheme == "sysv-msg" and not q.need_sysv_ipc(name):
        return
    recv, reported = start_listener(q, name, f"{scheme}:new")
    if recv is None:
        return
    sysv = scheme == "sysv-msg"
    there = (sysv_listing_problem(key_of(reported), True) if sysv
             else q.mq_listing_problem(name_of(reported), True))
    line = b""
    if after_one:
        frame = model.frame(0, 3, 0, b"one")
        if sysv:
            sysv_send(q.opened(key_of(reported)), frame, 1, q.deadline())
        else:
            mq = Mq(name_of(reported), os.O_WRONLY)
            mq_send_all(mq, [frame], q.deadline())
            mq.close()
        line = read_stdout_line(recv, s.timeout) or b""
    recv.signal(sig)
    got = finished(recv, s.timeout)
    gone = (sysv_listing_problem(key_of(reported), False) if sysv
            else q.mq_listing_problem(name_of(reported), False))
    want_line = b'{"type":3,"seq":0,"frames":1,"length":3}\n' if after_one else b""
    s.check(name + ": its queue is gone", there is None and gone is None and
            got[0] == -sig and line == want_line,
            f"  while it ran: {there}; after: {gone}; the line it printed {line!r}\n"
            + shown("recv", got))


def signals(q):
    signalled(q, "sysv-msg", signal.SIGTERM, False)
    signalled(q, "posix-mq", signal.SIGTERM, False)
    signalled(q, "sysv-msg", signal.SIGINT, True)
    signalled(q, "posix-mq", signal.SIGHUP, True)


def main():
    q = QueuePeers()
    s = q.s
    print(f"test_queue_peers_cli: {sys.executable}; sysv_ipc: "
          f"{sysv_ipc.VERSION if sysv_ipc else 'missing'}; msgmax {MSGMAX}; "
          f"/dev/mqueue: {q.mqueue or 'not mounted'}")
    for scheme in ("sysv-msg", "posix-mq"):
        if not s.has_form(scheme, f"{scheme} peers"):
            return s.finish()
    sysv_typed_into_recv(q)
    sysv_faults_into_recv(q)
    sysv_send_into_python(q)
    sysv_ftok_both_sides(q)
    nobody_and_taken(q)
    posix_peers(q)
    signals(q)
    left = q.leftovers()
    s.check("no queue the suite made or saw made is left", not left,
            "  left: " + ", ".join(left))
    return s.finish()


if __name__ == "__main__":
    sys.exit(main())
