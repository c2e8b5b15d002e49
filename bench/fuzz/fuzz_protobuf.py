"""Schema-less protobuf walk: never raises, output bounded, for any bytes."""

from __future__ import annotations

import atheris

from bench.fuzz.common import FuzzFinding, main

with atheris.instrument_imports(include=["provenance"]):
    from provenance.extract import protobuf


def _ld(number: int, payload: bytes) -> bytes:
    key = (number << 3) | 2
    return bytes([key]) + bytes([len(payload)]) + payload


SEEDS = [
    _ld(5, _ld(1, b"accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast") + _ld(2, b"sk-x")),
    _ld(1, _ld(1, b"gpt-4o") + b"\x10\x96\x01" + b"\x1d\x00\x00\x80\x3f"),
    b"\x0a\xff\xff\xff\xff\x0f",
]


def test_one_input(data: bytes) -> None:
    protobuf.classify(data)
    fields = protobuf.parse_fields(data)
    if fields is not None:
        list(protobuf.iter_strings(data))
    protobuf.to_projection(data)
    text = protobuf.render(data)
    if len(text) > 8 * len(data) + 4096:
        raise FuzzFinding(f"render produced {len(text)} chars from {len(data)} bytes")


if __name__ == "__main__":
    main(test_one_input)
