#!/usr/bin/env python3
"""`ipch send` and `ipch recv` (ipch-chan) between two of its own processes.

usage: test_chan_cli.py --chan IPCH-CHAN --frame IPCH-FRAME [-- WRAPPER...]
Over every address form this build carries (fifo:PATH, unix:PATH, unix:@NAME,
tcp:127.0.0.1:0): messages of 0, 1, 64 KiB + 1 and 16 MiB in one send, with
the receiver or the sender listening, received lines checked and --save
files compared byte for byte; then --count, standard input, the message
limit, the tcp port report, removal of the listener's path on SIGTERM, and
every error: nobody there, a path of the wrong type, bad addresses and usage.
WRAPPER (valgrind ...) runs each ipch-chan.
"""
import os
import re
import shutil
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chan_support import (Proc, Suite, parse_lines, pattern_bytes,  # noqa: E402
                          stream_shape_problem)

KIB, MIB = 1 << 10, 1 << 20
SIZES = [0, 1, 64 * KIB + 1, 16 * MIB]
TCP_REPORT = re.compile(r"^tcp:127\.0\.0\.1:([0-9]+)$")

# (label, scheme, carries both ways, the address a listener is given in dir d)
FORMS = [
    ("fifo", "fifo", False, lambda d: f"fifo:{d}/fifo"),
    ("unix path", "unix", True, lambda d: f"unix:{d}/sock"),
    ("unix abstract", "unix", True, lambda d: f"unix:@ipch-test{d}"),
    ("tcp", "tcp", True, lambda d: "tcp:127.0.0.1:0"),
    ("shm-ring path", "shm-ring", True, lambda d: f"shm-ring:{d}/ring"),
    ("shm-ring abstract", "shm-ring", True, lambda d: f"shm-ring:@ipch-test{d}-ring"),
]


def shown(result):
    status, out, err = result
    return f"    status {status}\n    stdout {out[:400]!r}\n    stderr {err[-800:]!r}"


def exchange(s, address, recv_args, send_args, listener, data=None):
    """recv and send over address, the listener ('recv' or 'send') first with
    --listen. Returns (recv result, send result, reported address); the
    reported address is None if the listener never said it listens."""
    wait = ["--timeout", str(s.timeout * 0.8)]
    commands = {"recv": lambda a: s.chan + ["recv", a] + wait + recv_args,
                "send": lambda a: s.chan + ["send", a] + wait + send_args}
    other = "send" if listener == "recv" else "recv"
    stdin = {"recv": Proc.DEVNULL, "send": Proc.DEVNULL}
    if data is not None:
        stdin["send"] = open(s.write("stdin", data), "rb")
    first = Proc(commands[listener](address) + ["--listen"], stdin=stdin[listener])
    reported = first.listening(s.timeout)
    if reported is None:
        first.kill()
        results = {listener: first.result(s.timeout), other: (None, b"", "")}
    else:
        target = reported if chosen_by_listener(address) else address
        second = Proc(commands[other](target), stdin=stdin[other])
        results = {other: second.result(s.timeout), listener: first.result(s.timeout)}
    if data is not None:
        stdin["send"].close()
    return results["recv"], results["send"], reported


def chosen_by_listener(address):
    """Addresses whose port or name the listener picks and reports."""
    return address.startswith("tcp:") or address in ("unix:", "unix:@")


def report_problem(address, reported):
    if reported is None:
        return "the listener never printed 'listening on ADDRESS'"
    if address.endswith(":0"):
        match = TCP_REPORT.match(reported)
        if match is None or int(match.group(1)) == 0:
            return f"reported '{reported}' for {address}: no port"
        return None
    if address in ("unix:", "unix:@"):
        if not re.match(r"^unix:" + ("@" if address.endswith("@") else "/") + r"\S+$",
                        reported):
            return f"reported '{reported}' for {address}: no fresh name"
        return None
    if reported != address:
        return f"reported '{reported}' for {address}"
    return None


def saved_problem(save_dir, sent):
    names = sorted(os.listdir(save_dir)) if os.path.isdir(save_dir) else []
    wanted = sorted(f"{i + 1}.bin" for i in range(len(sent)))
    if names != wanted:
        return f"--save wrote {names}, not {wanted}"
    for i, (_, payload) in enumerate(sent):
        with open(os.path.join(save_dir, f"{i + 1}.bin"), "rb") as saved:
            if saved.read() != payload:
                return f"{i + 1}.bin differs from what was sent"
    return None


def transfer_case(s, form, sizes, listener, recv_extra=(), send_extra=()):
    label, scheme, _, listen_address = form
    name = f"{label}: {len(sizes)} messages of {sizes} bytes, {listener} listening"
    if not s.has_form(scheme, name):
        return
    d = s.scratch("transfer")
    sent = [(7, pattern_bytes(n, i)) for i, n in enumerate(sizes)]
    files = [s.write(os.path.join(d, f"in{i}"), payload)
             for i, (_, payload) in enumerate(sent)]
    save = os.path.join(d, "saved")
    address = listen_address(d)
    recv, send, reported = exchange(
        s, address, ["--save", save] + list(recv_extra),
        ["--type", "7"] + list(send_extra) + files, listener)
    problem = (report_problem(address, reported)
               or (recv[0] != 0 and "recv failed") or (send[0] != 0 and "send failed")
               or stream_shape_problem(parse_lines(recv[1]), sent)
               or saved_problem(save, sent))
    s.check(name, problem is None,
            f"  {problem}\n  recv:\n{shown(recv)}\n  send:\n{shown(send)}")
    shutil.rmtree(d)


def every_form(s, slow):
    for form in FORMS:
        _, _, duplex, _ = form
        # Under memcheck the 16 MiB message crosses one form only.
        sizes = SIZES if not slow or form is FORMS[1] else SIZES[:3]
        transfer_case(s, form, sizes, "recv")
        if duplex:
            transfer_case(s, form, [1, 64 * KIB + 1, 0], "send")


def fresh_names(s):
    """A bare unix: or unix:@ listens on a name of the backend's choosing."""
    for address in ("unix:", "unix:@"):
        form = (f"'{address}'", "unix", True, lambda d, a=address: a)
        transfer_case(s, form, [1, 64 * KIB + 1], "recv")


def ring_sizes(s):
    """A small ring carries large messages; the size is the listener's."""
    form = FORMS[4]
    transfer_case(s, form, [1, 300 * KIB, 0], "recv", recv_extra=("--ring-size", "4K"))
    transfer_case(s, form, [5, 2 * 1024 * KIB], "send", send_extra=("--ring-size", "8K"))


def socket_form(s, case):
    """The form the cases that need one duplex form use: a unix path."""
    return FORMS[1] if s.has_form("unix", case) else None


def standard_input(s):
    name = "a message from standard input"
    form = socket_form(s, name)
    if form is None:
        return
    d = s.scratch("stdin")
    payload = pattern_bytes(100000, 3)
    for listener in ("recv", "send"):
        recv, send, reported = exchange(s, form[3](d), [], ["--type", "65535"],
                                        listener, data=payload)
        problem = (report_problem(form[3](d), reported)
                   or stream_shape_problem(parse_lines(recv[1]), [(65535, payload)]))
        s.check(f"{name}, {listener} listening on {form[0]}",
                problem is None and recv[0] == 0 and send[0] == 0,
                f"  {problem}\n  recv:\n{shown(recv)}\n  send:\n{shown(send)}")
    shutil.rmtree(d)


def counts(s):
    form = socket_form(s, "--count")
    if form is None:
        return
    d = s.scratch("count")
    sent = [(2, pattern_bytes(n, n)) for n in (10, 20, 30)]
    files = [s.write(os.path.join(d, f"in{i}"), p) for i, (_, p) in enumerate(sent)]
    recv, send, _ = exchange(s, form[3](d), ["--count", "2"], ["--type", "2"] + files, "recv")
    problem = stream_shape_problem(parse_lines(recv[1]), sent[:2])
    sender_ok = send[0] == 0 or (send[0] == 1 and "closed" in send[2])
    s.check(f"--count 2 of 3 messages on {form[0]}",
            recv[0] == 0 and problem is None and sender_ok,
            f"  {problem}\n  recv:\n{shown(recv)}\n  send:\n{shown(send)}")
    recv, send, _ = exchange(s, form[3](d), ["--count", "3"], ["--type", "2"] + files[:2], "send")
    s.check(f"--count 3 when the peer sends 2 on {form[0]}",
            recv[0] == 1 and len(recv[1].splitlines()) == 2 and
            "closed after 2 of the 3 messages" in recv[2] and send[0] == 0,
            f"  recv:\n{shown(recv)}\n  send:\n{shown(send)}")
    shutil.rmtree(d)


def message_limits(s, slow):
    form = socket_form(s, "message limits")
    if form is None:
        return
    d = s.scratch("limits")
    small = s.write(os.path.join(d, "2k"), pattern_bytes(2 * KIB))
    recv, send, _ = exchange(s, form[3](d), ["--max-message", "1K"],
                             ["--type", "4", small], "recv")
    s.check(f"a message over the receiver's --max-message on {form[0]}",
            recv[0] == 1 and recv[1] == b"" and
            recv[2].endswith("ipch: frame error: too-big at offset 0\n") and
            (send[0] == 0 or "closed" in send[2]),
            f"  recv:\n{shown(recv)}\n  send:\n{shown(send)}")
    recv, send, _ = exchange(s, form[3](d), [], ["--type", "4", "--max-message", "10"],
                             "recv", data=b"x" * 11)
    s.check(f"standard input over the sender's --max-message on {form[0]}",
            recv[0] == 0 and recv[1] == b"" and send[0] == 1 and
            "standard input is over the message limit of 10 bytes" in send[2],
            f"  recv:\n{shown(recv)}\n  send:\n{shown(send)}")
    big = s.write(os.path.join(d, "16m+1"), pattern_bytes(16 * MIB + 1))
    status, out, err = Proc(s.chan + ["send", form[3](d), "--type", "1", big]).result(s.timeout)
    s.check("16 MiB + 1 is over the default limit, refused before connecting",
            status == 1 and out == b"" and "over the message limit of 16777216 bytes" in err
            and "--max-message" in err, shown((status, out, err)))
    if not slow:
        sent = [(1, pattern_bytes(16 * MIB + 1))]
        recv, send, _ = exchange(s, form[3](d), ["--max-message", "17M"],
                                 ["--type", "1", "--max-message", "17M", big], "recv")
        problem = stream_shape_problem(parse_lines(recv[1]), sent)
        s.check(f"16 MiB + 1 with --max-message 17M on both sides over {form[0]}",
                problem is None and recv[0] == 0 and send[0] == 0,
                f"  {problem}\n  recv:\n{shown(recv)}\n  send:\n{shown(send)}")
    shutil.rmtree(d)


def removal_on_signal(s):
    """A listener stopped by SIGTERM while it waits leaves no path behind,
    nor the private directory of a path it chose."""
    forms = FORMS[:2] + [("'unix:'", "unix", True, lambda d: "unix:")]
    for label, scheme, _, listen_address in forms:
        name = f"{label}: SIGTERM while listening removes the path"
        if not s.has_form(scheme, name):
            continue
        d = s.scratch("signal")
        address = listen_address(d)
        proc = Proc(s.chan + ["recv", address, "--listen"])
        reported = proc.listening(s.timeout) or ":"
        path = reported.split(":", 1)[1]
        made = [path] if address != "unix:" else [path, os.path.dirname(path)]
        existed = bool(path) and all(os.path.exists(p) for p in made)
        proc.signal(signal.SIGTERM)
        status, _, err = proc.result(s.timeout)
        left = [p for p in made if os.path.exists(p)]
        s.check(name, existed and status == -signal.SIGTERM and not left,
                f"  reported {reported}, existed {existed}, left {left}\n"
                f"{shown((status, b'', err))}")
        for path in reversed(left):  # a failing tool's leftovers, outside the suite's directory
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
        shutil.rmtree(d)


def expect_failure(s, name, cmd, status, *phrases, data=b""):
    got = Proc(cmd, stdin=Proc.PIPE).result(s.timeout, data)
    s.check(name, got[0] == status and got[1] == b"" and
            all(phrase in got[2] for phrase in phrases),
            f"  expected status {status} and {phrases} on stderr\n{shown(got)}")


def unused_tcp_port():
    """A port bound but not listening: connecting to it is refused, and no
    one else can take it while the socket is open."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def nobody_there(s):
    d = s.scratch("nobody")
    regular = s.write(os.path.join(d, "regular"), b"not a channel")
    missing = os.path.join(d, "missing")
    send = s.chan + ["send", "--type", "1", "--timeout", "5"]
    recv = s.chan + ["recv", "--timeout", "5"]
    if s.has_form("unix", "unix: nobody there, or not a socket"):
        expect_failure(s, "send to a unix path where nothing is", send + [f"unix:{missing}"],
                       1, missing, "--listen")
        expect_failure(s, "recv from a unix path where nothing is", recv + [f"unix:{missing}"],
                       1, missing, "--listen")
        expect_failure(s, "send to a unix path that is a regular file",
                       send + [f"unix:{regular}"], 1, regular, "regular file, not a socket")
        expect_failure(s, "listen on a unix path that exists",
                       recv + [f"unix:{regular}", "--listen"], 1, regular, "already exists")
        expect_failure(s, "send to an abstract name nobody listens on",
                       send + [f"unix:@ipch-test{d}/none"], 1, "nothing listens", "--listen")
    if s.has_form("tcp", "tcp: nobody there"):
        sock, port = unused_tcp_port()
        with sock:
            expect_failure(s, "send to a tcp port nobody listens on",
                           send + [f"tcp:127.0.0.1:{port}"], 1, f"tcp:127.0.0.1:{port}",
                           "nothing listens", "--listen")
            expect_failure(s, "listen on a tcp port in use",
                           recv + [f"tcp:127.0.0.1:{port}", "--listen"], 1,
                           f"tcp:127.0.0.1:{port}", "in use")
    if s.has_form("fifo", "fifo: nobody there, or not a FIFO"):
        expect_failure(s, "send to a fifo path where nothing is",
                       send + [f"fifo:{missing}"], 1, missing, "--listen")
        expect_failure(s, "send to a fifo path that is a regular file",
                       send + [f"fifo:{regular}"], 1, regular, "regular file, not a FIFO")
        expect_failure(s, "recv --listen on a fifo path that is a regular file",
                       recv + [f"fifo:{regular}", "--listen"], 1, regular, "already exists")
        expect_failure(s, "send --listen on a fifo address",
                       send + [f"fifo:{missing}", "--listen"], 2, "one way",
                       f"ipch recv fifo:{missing} --listen")
        expect_failure(s, "recv without --listen on a fifo address",
                       recv + [f"fifo:{missing}"], 2, "one way")
    form = socket_form(s, "--timeout while nobody comes")
    if form is not None:
        expect_failure(s, f"{form[0]}: --timeout while nobody comes",
                       s.chan + ["recv", form[3](d), "--listen", "--timeout", "0.3"],
                       1, "within 0.3 s", "--timeout")
    shutil.rmtree(d)


def bad_usage(s):
    d = s.scratch("usage")
    regular = s.write(os.path.join(d, "regular"), b"x" * 11)
    address = f"unix:{d}/nobody"  # where nobody listens
    usage = [
        ["send", "bogus:x", "--type", "1"], ["send", "nocolon", "--type", "1"],
        ["recv", "unix:"], ["recv", "tcp:"], ["recv"], ["send", "--type", "1"],
        ["send", address], ["send", address, "--type", "0"],
        ["send", address, "--type", "65536"], ["send", address, "--type", "x"],
        ["send", address, "--type", "1", "--count", "2"],
        ["send", address, "--type", "1", "--save", d],
        ["recv", address, "--type", "1"], ["recv", address, "extra"],
        ["recv", address, "--count", "0"], ["recv", address, "--max-message", "0"],
        ["recv", address, "--max-message", "1073741825"],
        ["recv", address, "--timeout", "soon"], ["recv", address, "--timeout", "-1"],
        ["recv", address, "--bogus"], ["recv", address, "--timeout"], ["frob"], [],
        ["recv", address, "--listen", "--ring-size", "8K"],
        ["recv", f"shm-ring:{d}/r", "--ring-size", "8K"],
        ["recv", f"shm-ring:{d}/r", "--listen", "--ring-size", "5000"],
        ["recv", f"shm-ring:{d}/r", "--listen", "--ring-size", "2K"],
        ["recv", f"shm-ring:{d}/r", "--listen", "--ring-size", "512M"],
    ]
    for args in usage:
        got = Proc(s.direct_chan + args).result(s.timeout)
        s.check(f"usage error {args}", got[0] == 2 and got[1] == b"" and
                "(see 'ipch" in got[2], shown(got))
    expect_failure(s, "a FILE that does not exist, before any connection",
                   s.chan + ["send", address, "--type", "1", f"{d}/absent"], 1,
                   f"cannot open '{d}/absent'")
    expect_failure(s, "a FILE over --max-message, before any connection",
                   s.chan + ["send", address, "--type", "1", "--max-message", "10", regular],
                   1, regular, "over the message limit of 10 bytes")
    got = Proc(s.chan + ["--help"]).result(s.timeout)
    s.check("--help", got[0] == 0 and b"ipch send ADDRESS" in got[1] and
            b"Address forms this build carries:" in got[1], shown(got))
    shutil.rmtree(d)


def main():
    s = Suite(__doc__)
    print(f"test_chan_cli: address forms carried: {' '.join(sorted(s.forms)) or 'none'}")
    every_form(s, s.slow)
    fresh_names(s)
    ring_sizes(s)
    standard_input(s)
    counts(s)
    message_limits(s, s.slow)
    removal_on_signal(s)
    nobody_there(s)
    bad_usage(s)
    return s.finish()


if __name__ == "__main__":
    sys.exit(main())
