"""The pcap/pcapng reader and what follows it (TCP reassembly, TLS and HTTP/1 parsing).

Half the inputs are used as a whole file; the other half become a valid pcap whose TCP packets
(in order, both directions, after a handshake) carry the fuzzed bytes, so TCP reassembly and the
TLS record/ClientHello parsers behind it see them (a seed starts with a real ClientHello made by
Python's ``ssl``). Only ``UsageError`` (a file that cannot be opened) may escape.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile

import atheris

from bench.fuzz.common import main, split

with atheris.instrument_imports(include=["provenance"]):
    from provenance.errors import UsageError
    from provenance.pcap.capture import iter_capture

PATH = os.path.join(tempfile.gettempdir(), f"provenance-fuzz-{os.getpid()}.pcap")


def _checksum_free_tcp(src: int, dst: int, seq: int, ack: int, flags: int, payload: bytes) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", src, dst, seq, ack, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    a, b = (
        (b"\x7f\x00\x00\x01", b"\x7f\x00\x00\x02")
        if src != 80
        else (b"\x7f\x00\x00\x02", b"\x7f\x00\x00\x01")
    )
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, a, b)
    return b"\x02\x00\x00\x00" + ip + tcp + payload  # DLT_NULL, AF_INET


def build_pcap(client: bytes, server: bytes, cuts: bytes) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 0)  # linktype 0: DLT_NULL
    packets = [
        _checksum_free_tcp(40000, 80, 1000, 0, 0x02, b""),
        _checksum_free_tcp(80, 40000, 5000, 1001, 0x12, b""),
    ]
    seq_c, seq_s = 1001, 5001
    for c_chunk, s_chunk in zip(
        list(split(client, cuts)) + [b""] * 64, list(split(server, cuts)) + [b""] * 64, strict=False
    ):
        if not c_chunk and not s_chunk:
            break
        if c_chunk:
            packets.append(_checksum_free_tcp(40000, 80, seq_c, seq_s, 0x18, c_chunk))
            seq_c += len(c_chunk)
        if s_chunk:
            packets.append(_checksum_free_tcp(80, 40000, seq_s, seq_c, 0x18, s_chunk))
            seq_s += len(s_chunk)
    packets.append(_checksum_free_tcp(40000, 80, seq_c, seq_s, 0x11, b""))
    for i, frame in enumerate(packets):
        out += struct.pack("<IIII", 1767225600 + i, 0, len(frame), len(frame)) + frame
    return out


def client_hello() -> bytes:
    """The first flight of a real TLS client (Python's ssl, SNI api.openai.com, ALPN h2)."""
    import ssl

    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="api.openai.com")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


SEEDS = [
    b"\x01\x40\xff" + client_hello() + b"\xff\xfe" + b"\x16\x03\x03\x00\x04\x02\x00\x00\x00",
    b"\x01\x10\xff" + b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
    b"content-type: application/json\r\n"
    b'content-length: 17\r\n\r\n{"model":"gpt"}\n\xff\xfe'
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    b"\x00" + build_pcap(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 204 No\r\n\r\n", b"\x05"),
]


def test_one_input(data: bytes) -> None:
    if not data:
        return
    if data[0] & 1:
        cuts = data[1:3]
        client, _, server = data[3:].partition(b"\xff\xfe")
        blob = build_pcap(client, server, cuts * 16)
    else:
        blob = data[1:]
    with open(PATH, "wb") as fh:
        fh.write(blob)
    try:
        for _ in iter_capture(PATH):
            pass
    except UsageError:
        pass


if __name__ == "__main__":
    main(test_one_input)
