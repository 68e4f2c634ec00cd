"""IPCF v1 reference decoder, written from docs/ipcf.md alone.

It shares no code with impl/: the frame CLI test runs both on the same
streams and requires the same messages, fault and offset.
"""
import struct

MAGIC = b"IPCF"
HEADER = 20
MORE = 0x01
DEFAULT_LIMIT = 16 << 20


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def frame(flags, type_, seq, payload, crc=None, version=1, magic=MAGIC):
    """One frame's bytes; crc, version and magic may be forced wrong."""
    head = magic + struct.pack(">BBHII", version, flags, type_,
                               seq & 0xFFFFFFFF, len(payload))
    if crc is None:
        crc = crc32c(payload, crc32c(head))
    return head + struct.pack(">I", crc) + payload


def encode(type_, payload, seq=0, max_frame=DEFAULT_LIMIT):
    """A message split into frames of at most max_frame bytes."""
    out, at = [], 0
    while True:
        n = min(max_frame, len(payload) - at)
        more = at + n < len(payload)
        out.append(frame(MORE if more else 0, type_, seq, payload[at:at + n]))
        seq = (seq + 1) & 0xFFFFFFFF
        at += n
        if not more:
            return b"".join(out), seq


def decode(data, max_frame=DEFAULT_LIMIT, max_message=DEFAULT_LIMIT):
    """Returns (messages, fault, offset): messages as dicts with type, seq,
    frames, length; fault None when the input ends on a message boundary."""
    messages, pos, last_seq, msg = [], 0, None, None
    while pos < len(data):
        if len(data) - pos < HEADER:
            return messages, "truncated", pos
        magic = data[pos:pos + 4]
        version, flags, type_, seq, length, crc = struct.unpack(
            ">BBHIII", data[pos + 4:pos + HEADER])
        so_far = msg["length"] if msg else 0
        if magic != MAGIC:
            return messages, "magic", pos
        if version != 1:
            return messages, "version", pos
        if flags & ~MORE:
            return messages, "flags", pos
        if type_ == 0:
            return messages, "type", pos
        if length > max_frame or so_far + length > max_message:
            return messages, "too-big", pos
        end = pos + HEADER + length
        if end > len(data):
            return messages, "truncated", pos
        payload = data[pos + HEADER:end]
        if crc32c(payload, crc32c(data[pos:pos + 16])) != crc:
            return messages, "crc", pos
        if last_seq is not None and seq != (last_seq + 1) & 0xFFFFFFFF:
            return messages, "seq", pos
        if msg and type_ != msg["type"]:
            return messages, "type", pos
        last_seq = seq
        if msg is None:
            msg = {"type": type_, "seq": seq, "frames": 0, "length": 0}
        msg["frames"] += 1
        msg["length"] += length
        pos = end
        if not flags & MORE:
            messages.append(msg)
            msg = None
    if msg is not None:
        return messages, "truncated", len(data)
    return messages, None, None
