"""Connect / gRPC / gRPC-web envelope framer: never raises; chunking does not change frames."""

from __future__ import annotations

import gzip

import atheris

from bench.fuzz.common import FuzzFinding, main, split, take

with atheris.instrument_imports(include=["provenance"]):
    from provenance.extract.envelope import PROTOCOLS, EnvelopeFramer, parse_trailers

ENCODINGS = [None, "gzip", "identity", "br", "zstd", "deflate", "snappy"]


def _frame(flags: int, payload: bytes) -> bytes:
    return bytes([flags]) + len(payload).to_bytes(4, "big") + payload


SEEDS = [
    b"\x00\x00\x04" + _frame(0, b"\x0a\x06gpt-4o") + _frame(2, b'{"error":null}'),
    b"\x01\x01\x02" + _frame(1, gzip.compress(b"\x0a\x03abc")),
    b"\x02\x00\x03" + _frame(0, b"") + _frame(0x80, b"grpc-status: 0\r\ngrpc-message: ok\r\n"),
]


def test_one_input(data: bytes) -> None:
    params, body = take(data, 3)
    if len(params) < 3:
        return
    protocol = PROTOCOLS[params[0] % len(PROTOCOLS)]
    encoding = ENCODINGS[params[1] % len(ENCODINGS)]
    runs = []
    for cuts in (b"", bytes([params[2]]) * 64):
        framer = EnvelopeFramer(protocol, message_encoding=encoding, max_message=1 << 16)
        frames = []
        for chunk in split(body, cuts) if cuts else [body]:
            frames += framer.feed(chunk)
        frames += framer.finish()
        runs.append(frames)
    if runs[0] != runs[1]:
        raise FuzzFinding(f"{protocol}: chunked frames differ from whole-body frames")
    for frame in runs[0]:
        if frame.kind == "trailers":
            parse_trailers(frame.payload)
    parse_trailers(body)


if __name__ == "__main__":
    main(test_one_input)
