#!/usr/bin/env python3
"""ipch-chan and ipch-frame against peers that share no code with them.

usage: test_chan_peers_cli.py --chan IPCH-CHAN --frame IPCH-FRAME [-- WRAPPER...]
The frames are made by `ipch-frame encode` (or by the Python reference codec
in ipcf_model.py) and cross a pipe, a FIFO, a Unix socket (path and abstract
name), a Unix datagram socket (a frame a datagram) and a TCP socket with cat,
head, socat or Python at the other end; what
arrives is read by `ipch-frame decode`, `ipch-chan recv` or the reference
decoder, and must be exactly what the reference decoder makes of the bytes:
the same JSON lines, the same fault and offset when head cut the stream, the
same payloads. The socat cases are skipped, with a message, if socat is
missing; ci/install-deps.sh installs it. WRAPPER (valgrind ...) runs each
ipch-chan and ipch-frame.
"""
import os
import re
import select
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chan_support import (Proc, Suite, encode_messages, json_lines,  # noqa: E402
                          model, parse_lines, pattern_bytes, payloads, pipe_into,
                          run, stream_shape_problem)

KIB = 1 << 10
# (type, payload): an empty message, a byte, and one of many frames.
MESSAGES = [(1, b""), (2, b"x"), (65535, pattern_bytes(70 * KIB + 3, 5))]
TOOL_FRAME_LIMIT = 16 * KIB
HEAD_CUT = 30 * KIB + 7  # inside the third message's frames
SOCAT_LISTENING = re.compile(rb"listening on AF=\d+ (\S+)")
NO_READER = "no process has that FIFO open for reading"


class Peers:
    """The suite, the stream made by ipch-frame, and what it should decode to."""

    def __init__(self):
        self.s = Suite(__doc__)
        self.socat = shutil.which("socat")
        self.stream_path = None
        self.stream = b""

    @property
    def wait(self):
        return ["--timeout", str(self.s.timeout * 0.8)]

    def make_stream(self):
        """The messages as ipch-frame encode writes them, seq running on."""
        parts, seq = [], 0
        for i, (type_, payload) in enumerate(MESSAGES):
            path = self.s.write(f"payload-{i}", payload)
            status, out, err = run(self.s.frame + [
                "encode", "--type", str(type_), "--seq", str(seq),
                "--max-frame", str(TOOL_FRAME_LIMIT), path], self.s.timeout)
            if status != 0:
                raise SystemExit(f"ipch-frame encode failed ({status}): {err}")
            parts.append(out)
            seq += max(1, -(-len(payload) // TOOL_FRAME_LIMIT))
        self.stream = b"".join(parts)
        self.stream_path = self.s.write("frames.bin", self.stream)

    def need_socat(self, name):
        if self.socat is None:
            self.s.skip(name, "socat is not installed (ci/install-deps.sh installs it)")
            return False
        return True


def expected_decode(stream):
    """(exit status, JSON lines, fault line) the reference decoder gives stream."""
    messages, fault, offset = model.decode(stream)
    if fault is None:
        return 0, json_lines(messages), ""
    return 1, json_lines(messages), f"ipch: frame error: {fault} at offset {offset}\n"


def shown(label, result):
    status, out, err = result
    return (f"  {label}: status {status}\n    stdout {out[:300]!r}\n"
            f"    stderr {err[-600:]!r}")


def saved_payloads(save_dir):
    names = sorted(os.listdir(save_dir), key=lambda n: int(n.split(".")[0]))
    return [open(os.path.join(save_dir, n), "rb").read() for n in names]


def finish_all(s, procs):
    return [proc.result(s.timeout) for proc in procs]


# ---- ipch-chan recv --listen, fed by another program ----------------------

def recv_fed_by(p, name, address, start_writers, data=None, extra=()):
    """ipch-chan recv ADDRESS --listen --save [EXTRA...], with
    start_writers(reported address) starting the programs that write to it.
    data: the bytes they write (default: the whole tool-made stream). Checks
    the lines, fault and saved payloads against the reference decoder."""
    s = p.s
    data = p.stream if data is None else data
    save = s.scratch("save")
    recv = Proc(s.chan + ["recv", address, "--listen", "--save", save] + list(extra)
                + p.wait)
    reported = recv.listening(s.timeout)
    if reported is None:
        recv.kill()
        s.check(name, False, shown("recv never listened", recv.result(s.timeout)))
        return
    writers = start_writers(reported)
    written = finish_all(s, writers)
    got = recv.result(s.timeout)
    status, lines, fault = expected_decode(data)
    complete = payloads(data[:model.decode(data)[2]] if fault else data)
    ok = (got[0] == status and got[1].decode() == lines and
          got[2].endswith(fault) and saved_payloads(save) == complete)
    writers_ok = all(result[0] == 0 for result in written)
    s.check(name, ok and writers_ok,
            f"  expected status {status}, lines {lines!r}, fault {fault!r}\n"
            + shown("recv", got) + "\n"
            + "\n".join(shown(" ".join(w.cmd[:3]), r) for w, r in zip(writers, written)))
    shutil.rmtree(save)


def sh(script, *args):
    return ["sh", "-c", script, "sh"] + [str(a) for a in args]


# ---- ipch-chan send, read by another program -------------------------------

def one_type_messages():
    return [(7, payload) for _, payload in MESSAGES]


def send_files(p):
    sent = one_type_messages()
    files = [p.s.write(f"send-{i}", payload) for i, (_, payload) in enumerate(sent)]
    return sent, files


def check_decoded(p, name, sent, decode, others):
    """decode's lines against what was sent; every other process exit 0."""
    s = p.s
    got = decode.result(s.timeout)
    rest = finish_all(s, others)
    problem = stream_shape_problem(parse_lines(got[1]), sent)
    s.check(name, got[0] == 0 and problem is None and all(r[0] == 0 for r in rest),
            f"  {problem}\n" + shown("decode", got) + "\n"
            + "\n".join(shown(" ".join(o.cmd[:3]), r) for o, r in zip(others, rest)))


def send_until_read(p, address, files):
    """ipch-chan send to a FIFO whose reader may not have opened it yet:
    retried while it says no one reads."""
    s = p.s
    deadline = time.monotonic() + s.timeout
    while True:
        sender = Proc(s.chan + ["send", address, "--type", "7"] + p.wait + files)
        result = sender.result(s.timeout)
        if NO_READER not in result[2] or time.monotonic() > deadline:
            return sender, result
        time.sleep(0.05)


class Done:
    """A finished process, for check_decoded's list of others."""

    def __init__(self, cmd, result):
        self.cmd = cmd
        self._result = result

    def result(self, timeout):
        return self._result


# ---- pipes ------------------------------------------------------------------

def pipes(p):
    s = p.s
    cat = Proc(["cat", p.stream_path])
    decode = pipe_into(cat, s.frame + ["decode"])
    got, cat_result = decode.result(s.timeout), cat.result(s.timeout)
    s.check("pipe: cat FRAMES | ipch-frame decode",
            (got[0], got[1].decode(), got[2]) == expected_decode(p.stream) and
            cat_result[0] == 0, shown("decode", got))

    head = Proc(["head", "-c", str(HEAD_CUT), p.stream_path])
    decode = pipe_into(head, s.frame + ["decode"])
    got, head_result = decode.result(s.timeout), head.result(s.timeout)
    status, lines, fault = expected_decode(p.stream[:HEAD_CUT])
    s.check("pipe: head -c cuts the stream, decode reports truncated",
            fault.startswith("ipch: frame error: truncated") and
            (got[0], got[1].decode(), got[2]) == (status, lines, fault) and head_result[0] == 0,
            f"  expected {fault!r}\n" + shown("decode", got))

    if p.need_socat("pipe: socat relays a pipe"):
        encode = Proc(s.frame + ["encode", "--type", "9", p.s.path("payload-2")])
        relay = pipe_into(encode, ["socat", "-u", "-", "-"])
        decode = pipe_into(relay, s.frame + ["decode"])
        got = decode.result(s.timeout)
        rest = finish_all(s, [encode, relay])
        problem = stream_shape_problem(parse_lines(got[1]), [(9, MESSAGES[2][1])])
        s.check("pipe: ipch-frame encode | socat -u - - | ipch-frame decode",
                got[0] == 0 and problem is None and all(r[0] == 0 for r in rest),
                f"  {problem}\n" + shown("decode", got))


# ---- FIFOs ------------------------------------------------------------------

def fifos(p):
    s = p.s
    if not s.has_form("fifo", "FIFO peers"):
        return
    d = s.scratch("fifo")
    fifo = os.path.join(d, "f")

    recv_fed_by(p, "fifo: cat FRAMES > FIFO into ipch-chan recv --listen", f"fifo:{fifo}",
                lambda _: [Proc(sh('exec cat -- "$1" > "$2"', p.stream_path, fifo))])
    recv_fed_by(p, "fifo: head -c cuts the stream into ipch-chan recv: truncated",
                f"fifo:{fifo}",
                lambda _: [Proc(sh('exec head -c "$1" -- "$2" > "$3"', HEAD_CUT,
                                   p.stream_path, fifo))],
                data=p.stream[:HEAD_CUT])
    sent, data = python_stream()
    recv_fed_by(p, "fifo: a Python IPCF writer into ipch-chan recv --listen", f"fifo:{fifo}",
                lambda _: [python_fifo_writer(fifo, data)], data=data)

    sent, files = send_files(p)
    os.mkfifo(fifo, 0o600)
    cat = Proc(["cat", fifo])
    decode = pipe_into(cat, s.frame + ["decode"])
    sender, result = send_until_read(p, f"fifo:{fifo}", files)
    check_decoded(p, "fifo: ipch-chan send to a FIFO read by cat | ipch-frame decode",
                  sent, decode, [cat, Done(sender.cmd, result)])
    os.unlink(fifo)

    big = s.write(os.path.join(d, "big"), pattern_bytes(1 << 20, 9))
    os.mkfifo(fifo, 0o600)
    head = Proc(["head", "-c", str(HEAD_CUT), fifo])
    decode = pipe_into(head, s.frame + ["decode"])
    sender, result = send_until_read(p, f"fifo:{fifo}", [big])
    got, head_result = decode.result(s.timeout), head.result(s.timeout)
    cut = re.search(r"ipch: frame error: truncated at offset (\d+)\n$", got[2])
    s.check("fifo: head -c reads part of ipch-chan send's message; decode: truncated, "
            "send: the reader closed",
            got[0] == 1 and got[1] == b"" and cut is not None and
            int(cut.group(1)) <= HEAD_CUT and head_result[0] == 0 and
            result[0] == 1 and "the peer closed" in result[2],
            shown("decode", got) + "\n" + shown("send", result))

    os.unlink(fifo)
    python_fifo_reader(p, fifo)
    shutil.rmtree(d)


def python_stream():
    """Messages and their stream by the reference encoder: small frames,
    seq starting high so it wraps past 2^32."""
    sent = [(3, pattern_bytes(5000, 1)), (4, b""), (3, pattern_bytes(333, 2))]
    return sent, encode_messages(sent, max_frame=1000, first_seq=0xFFFFFFFE)


class PythonWriter:
    """Writes bytes in a child so the suite never blocks on a full FIFO."""

    def __init__(self, script, *args):
        self.proc = Proc([sys.executable, "-c", script] + [str(a) for a in args])
        self.cmd = self.proc.cmd

    def result(self, timeout):
        return self.proc.result(timeout)


WRITE_FIFO = """
import sys
with open(sys.argv[1], "wb") as fifo, open(sys.argv[2], "rb") as data:
    chunk = data.read(777)
    while chunk:
        fifo.write(chunk)
        fifo.flush()
        chunk = data.read(777)
"""


def python_fifo_writer(fifo, data):
    path = fifo + ".data"
    with open(path, "wb") as out:
        out.write(data)
    return PythonWriter(WRITE_FIFO, fifo, path)


def python_fifo_reader(p, fifo):
    """The reference decoder reads what ipch-chan send wrote to a FIFO."""
    s = p.s
    sent, files = send_files(p)
    os.mkfifo(fifo, 0o600)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        sender = Proc(s.chan + ["send", f"fifo:{fifo}", "--type", "7"] + p.wait + files)
        data = read_until_closed(fd, s.timeout, fifo=True)
    finally:
        os.close(fd)
        os.unlink(fifo)
    result = sender.result(s.timeout)
    check_python_read(s, "fifo: ipch-chan send read by the Python reference decoder",
                      sent, data, result)


def read_until_closed(fd, timeout, fifo=False):
    """All bytes from fd until the writer closes; None if that took too long.
    A FIFO opened before any writer reads end-of-file at once, so end of
    file counts only once bytes came."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk and (data or not fifo):
            return bytes(data)
        if not chunk:
            time.sleep(0.01)
        data += chunk
    return None


def check_python_read(s, name, sent, data, result):
    if data is None:
        s.check(name, False, "  the reader timed out\n" + shown("send", result))
        return
    messages, fault, offset = model.decode(data)
    problem = (fault and f"reference decoder: {fault} at {offset}") or \
        stream_shape_problem(messages, sent) or \
        (payloads(data) != [payload for _, payload in sent] and "payloads differ")
    s.check(name, result[0] == 0 and not problem,
            f"  {problem}\n" + shown("send", result))


# ---- sockets ----------------------------------------------------------------

def socket_forms(p, d):
    """(label, ipch-chan address, socat listen address, socat connect address,
    Python family and address) for each socket form carried."""
    forms = []
    if p.s.has_form("unix", "unix socket peers"):
        path = os.path.join(d, "sock")
        name = f"ipch-peers{d}"
        forms.append(("unix path", f"unix:{path}", f"UNIX-LISTEN:{path}",
                      f"UNIX-CONNECT:{path}", (socket.AF_UNIX, path)))
        forms.append(("unix abstract", f"unix:@{name}", f"ABSTRACT-LISTEN:{name}",
                      f"ABSTRACT-CONNECT:{name}", (socket.AF_UNIX, "\0" + name)))
    if p.s.has_form("tcp", "tcp socket peers"):
        forms.append(("tcp", "tcp:127.0.0.1:0", "TCP-LISTEN:0,bind=127.0.0.1",
                      None, (socket.AF_INET, ("127.0.0.1", 0))))
    return forms


def socat_connect(form, reported):
    """socat's address for connecting to what ipch-chan reported."""
    label, _, _, connect, _ = form
    if connect is not None:
        return connect
    host, port = reported[len("tcp:"):].rsplit(":", 1)
    return f"TCP:{host}:{port}"


def chan_address_for(form, socat_reported):
    """ipch-chan's address for connecting to what socat reported."""
    label, address, _, _, _ = form
    if not address.startswith("tcp:"):
        return address
    return "tcp:127.0.0.1:" + socat_reported.rsplit(":", 1)[1]


def sockets(p):
    s = p.s
    d = s.scratch("sock")
    for form in socket_forms(p, d):
        if p.need_socat(f"{form[0]}: socat peers"):
            socat_cases(p, form)
        python_socket_cases(p, form)
    shutil.rmtree(d)


def socat_cases(p, form):
    s = p.s
    label, address, listen, _, _ = form
    recv_fed_by(
        p, f"{label}: ipch-frame encode | socat into ipch-chan recv --listen", address,
        lambda reported: encode_into_socat(p, socat_connect(form, reported)),
        data=single_message_stream(p))
    recv_fed_by(
        p, f"{label}: head -c FRAMES | socat into ipch-chan recv --listen: truncated",
        address,
        lambda reported: [Proc(sh('head -c "$1" -- "$2" | exec socat -u - "$3"', HEAD_CUT,
                                  p.stream_path, socat_connect(form, reported)))],
        data=p.stream[:HEAD_CUT])

    sent, files = send_files(p)
    socat = Proc(["socat", "-d", "-d", "-u", listen, "-"], stdout=Proc.PIPE)
    found = socat.wait_for(SOCAT_LISTENING, s.timeout)
    if found is None:
        socat.kill()
        s.check(f"{label}: socat listens", False, shown("socat", socat.result(s.timeout)))
        return
    decode = pipe_into(socat, s.frame + ["decode"])
    sender = Proc(s.chan + ["send", chan_address_for(form, found.group(1).decode()),
                            "--type", "7"] + p.wait + files)
    check_decoded(p, f"{label}: ipch-chan send to socat LISTEN | ipch-frame decode",
                  sent, decode, [socat, sender])

    sender = Proc(s.chan + ["send", address, "--type", "7", "--listen"] + p.wait + files)
    reported = sender.listening(s.timeout)
    socat = Proc(["socat", "-u", socat_connect(form, reported or address), "-"])
    decode = pipe_into(socat, s.frame + ["decode"])
    check_decoded(p, f"{label}: ipch-chan send --listen to socat CONNECT | ipch-frame decode",
                  sent, decode, [socat, sender])

    socat = Proc(["socat", "-d", "-d", "-u", f"OPEN:{p.stream_path},rdonly", listen])
    found = socat.wait_for(SOCAT_LISTENING, s.timeout)
    save = s.scratch("save")
    recv = Proc(s.chan + ["recv", chan_address_for(form, found.group(1).decode() if found else ":0"),
                          "--save", save] + p.wait)
    got, socat_result = recv.result(s.timeout), socat.result(s.timeout)
    status, lines, _ = expected_decode(p.stream)
    s.check(f"{label}: ipch-chan recv from socat LISTEN sending FRAMES",
            (got[0], got[1].decode()) == (status, lines) and socat_result[0] == 0 and
            saved_payloads(save) == payloads(p.stream),
            shown("recv", got) + "\n" + shown("socat", socat_result))
    shutil.rmtree(save)


def single_message_stream(p):
    data, _ = model.encode(9, MESSAGES[2][1], 0, model.DEFAULT_LIMIT)
    return data


def encode_into_socat(p, connect):
    """ipch-frame encode PAYLOAD | socat -u - CONNECT."""
    encode = Proc(p.s.frame + ["encode", "--type", "9", p.s.path("payload-2")])
    return [encode, pipe_into(encode, ["socat", "-u", "-", connect])]


PYTHON_CONNECT_WRITER = """
import socket, sys
family = int(sys.argv[1])
where = (sys.argv[2], int(sys.argv[3])) if family == socket.AF_INET else sys.argv[2]
if where[:1] == "@":
    where = "\\0" + where[1:]  # an abstract name
with socket.socket(family, socket.SOCK_STREAM) as sock, open(sys.argv[4], "rb") as data:
    sock.connect(where)
    chunk = data.read(999)
    while chunk:
        sock.sendall(chunk)
        chunk = data.read(999)
"""


def python_socket_cases(p, form):
    s = p.s
    label, address, _, _, (family, where) = form
    sent, data = python_stream()
    path = s.write(f"python-{label.replace(' ', '-')}.bin", data)

    def writer(reported):
        if family == socket.AF_INET:
            host, port = reported[len("tcp:"):].rsplit(":", 1)
            return [PythonWriter(PYTHON_CONNECT_WRITER, family, host, port, path)]
        name = "@" + where[1:] if where.startswith("\0") else where
        return [PythonWriter(PYTHON_CONNECT_WRITER, family, name, 0, path)]

    recv_fed_by(p, f"{label}: a Python IPCF writer into ipch-chan recv --listen",
                address, writer, data=data)

    sent, files = send_files(p)
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.bind(where)
        listener.listen(1)
        bound = listener.getsockname()
        target = f"tcp:127.0.0.1:{bound[1]}" if family == socket.AF_INET else address
        sender = Proc(s.chan + ["send", target, "--type", "7"] + p.wait + files)
        ready, _, _ = select.select([listener], [], [], s.timeout)
        data = None
        if ready:
            conn, _ = listener.accept()
            with conn:
                conn.setblocking(False)
                data = read_until_closed(conn.fileno(), s.timeout)
        if family == socket.AF_UNIX and not where.startswith("\0"):
            os.unlink(where)
    check_python_read(s, f"{label}: ipch-chan send read by the Python reference decoder",
                      sent, data, sender.result(s.timeout))


# ---- datagrams ----------------------------------------------------------------

# Frames of one size: socat reading the stream one frame's bytes at a time
# (-b) sends each frame as a datagram of its own.
DGRAM_PAYLOAD = 1000
DGRAM_CUT = 700  # a read size that cuts frames across datagrams


def datagram_stream():
    sent = [(3, pattern_bytes(DGRAM_PAYLOAD, 1)), (4, pattern_bytes(3 * DGRAM_PAYLOAD, 2)),
            (65535, pattern_bytes(2 * DGRAM_PAYLOAD, 3))]
    return sent, encode_messages(sent, max_frame=DGRAM_PAYLOAD)


def wait_for_path(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def datagrams(p):
    """socat's datagrams carry the frames. A datagram sender never closes a
    stream, so the receiver counts its messages (--count), and socat's
    receiver stops when no datagram has come for a while (-T)."""
    s = p.s
    if not s.has_form("unix-dgram", "unix-dgram peers") or \
            not p.need_socat("unix-dgram: socat peers"):
        return
    d = s.scratch("dgram")
    path, bound = os.path.join(d, "sock"), os.path.join(d, "socat")
    sent, data = datagram_stream()
    stream = s.write("dgram-frames.bin", data)
    count = ["--count", str(len(sent))]

    def socat_sends(block, checked=True):
        cmd = ["socat", "-u", "-b", block, f"OPEN:{stream},rdonly",
               f"UNIX-SENDTO:{path},bind={bound}"]
        # Cut frames stop the receiver at the first datagram: socat's later
        # ones may find no one, which is not what is checked.
        return lambda _: [Proc(cmd if checked else sh('"$@"; exit 0', *cmd))]

    recv_fed_by(p, "unix-dgram: socat sends a frame a datagram into ipch-chan recv --listen",
                f"unix-dgram:{path}", socat_sends(str(model.HEADER + DGRAM_PAYLOAD)),
                data=data, extra=count)
    recv_fed_by(p, "unix-dgram: socat cuts frames across datagrams; ipch-chan recv: "
                "truncated at the first", f"unix-dgram:{path}",
                socat_sends(str(DGRAM_CUT), checked=False), data=data[:DGRAM_CUT],
                extra=count)

    sent, files = send_files(p)
    receiver = os.path.join(d, "recv")
    idle = "20" if s.slow else "1"
    socat = Proc(["socat", "-u", "-T", idle, "-b", "65536", f"UNIX-RECV:{receiver}", "-"])
    if not wait_for_path(receiver, s.timeout):
        socat.kill()
        s.check("unix-dgram: socat UNIX-RECV binds", False, shown("socat", socat.result(s.timeout)))
        return
    decode = pipe_into(socat, s.frame + ["decode"])
    sender = Proc(s.chan + ["send", f"unix-dgram:{receiver}", "--type", "7"] + p.wait + files)
    check_decoded(p, "unix-dgram: ipch-chan send to socat UNIX-RECV | ipch-frame decode",
                  sent, decode, [socat, sender])
    shutil.rmtree(d)


def main():
    p = Peers()
    s = p.s
    print(f"test_chan_peers_cli: address forms carried: {' '.join(sorted(s.forms)) or 'none'}; "
          f"socat: {p.socat or 'missing'}")
    p.make_stream()
    pipes(p)
    fifos(p)
    sockets(p)
    datagrams(p)
    return s.finish()


if __name__ == "__main__":
    sys.exit(main())
