#!/usr/bin/env python3
"""Write the FIFO-framing seeds of the stream harness (tests/fuzz/stream/fifo-*).

The frames are built as docs/channels.md describes them (src/core/stream_fifo.c
makes the same bytes): run this again whenever the FIFO framing changes.
Input layout (fuzz_stream.c): a configuration byte, the limit (u16 when
cfg & 0x80, else u8), the caller's buffer size (u8), then pieces (a length
byte and that many bytes) written one after another.
"""
import os
import struct
import sys


def check(b):
    h = 2166136261
    for c in b:
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def small(msg):
    h = bytes([0x00, 0xC1]) + struct.pack(">H", len(msg))
    return h + struct.pack(">I", check(h)) + msg


def chunks(msg, tag, upto=None):
    out, off = [], 0
    while off < len(msg):
        n = min(len(msg) - off, 4096 - 20)
        h = bytes([0xFE, 1 if off == 0 else 0]) + struct.pack(">HIQ", n, tag, len(msg))
        out.append(h + struct.pack(">I", check(h)) + msg[off:off + n])
        off += n
    return out[:upto] if upto else out


def seed(cfg, limit, cap, stream):
    head = bytes([cfg]) + (struct.pack(">H", limit) if cfg & 0x80 else bytes([limit])) + bytes([cap])
    body = b""
    for i in range(0, len(stream), 200):
        piece = stream[i:i + 200]
        body += bytes([len(piece)]) + piece
    return head + body


def main(out):
    big = bytes((7 * i) & 0xFF for i in range(5000))
    text = (b"hi\n" + small(b"ok") + b"hello world, a line\n" + small(b"x")
            + b"\x01\x02\x03\x80\x00" + small(b"yz") + b"\x00" + small(b"msgB")
            + b"\xfe\x00" + small(b"") + b"tail")
    between = (b"hi\n" + small(b"one") + b"some text\n" + small(b"two") + b"tail\n"
               + b"hello\x00" + small(b"a message of 32 bytes, all text!")
               + b"\x01\x02" + small(b"x") + b"!" + small(b"end"))
    chunked = small(b"a" * 10) + b"".join(chunks(big, 0x1234)) + small(b"after")
    torn = (b"".join(chunks(big, 0x1111, upto=1)) + small(b"mid")
            + b"".join(chunks(big, 0x2222)) + b"".join(chunks(big, 0x3333, upto=1)))
    oversize = small(b"z" * 30) + b"".join(chunks(big, 0x4444)) + small(b"ok")
    binary = (b"\x01\x02\x03" + small(b"m93-1-")
              + bytes.fromhex("9698ea144c19fc8909e7481f26b4708acf137ce2")
              + small(b"m93-4-xxxxxxxx") + b"z" * 300)
    for kind in range(3):
        k = kind * 4
        files = {
            "text": seed(0x03 | k, 0x28, 8, text),
            "chunked": seed(0x83 | k, 0x0200, 0x40, chunked),
            "torn": seed(0x83 | k, 0x0200, 0x40, torn),
            "oversize": seed(0x03 | k, 0x0A, 0x26, oversize),
            "binary-runs": seed(0xC3 | k, 0x0100, 0x40, binary),
        }
        for name, data in files.items():
            with open(os.path.join(out, "fifo-%d-%s" % (kind, name)), "wb") as f:
                f.write(data)
    with open(os.path.join(out, "fifo-0-text-between-messages"), "wb") as f:
        f.write(seed(0x3F, 0xC8, 0x30, between))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "stream"))
