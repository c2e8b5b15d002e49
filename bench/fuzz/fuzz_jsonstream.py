"""JSON-array and NDJSON stream framers: never raise; chunking does not change elements."""

from __future__ import annotations

import atheris

from bench.fuzz.common import FuzzFinding, main, split, take

with atheris.instrument_imports(include=["provenance"]):
    from provenance.extract.jsonstream import JsonArrayFramer, NdjsonFramer

SEEDS = [
    b'\x00\x02[{"model": "gemini-2.5-pro", "usageMetadata": {}}, {"a": [1, "]"]}]',
    b'\x01\x05{"model":"llama3"}\n{"done":true}\n\n',
    b'\x00\x01 [ "x\\"]", {"k": "\\\\"}, 3, [[]] ]',
]


def test_one_input(data: bytes) -> None:
    params, body = take(data, 2)
    if len(params) < 2:
        return
    cls = NdjsonFramer if params[0] & 1 else JsonArrayFramer
    runs = []
    for cuts in (b"", bytes([params[1]]) * 64):
        framer = cls()
        out = []
        for chunk in split(body, cuts) if cuts else [body]:
            out += framer.feed(chunk)
        out += framer.finish()
        runs.append(out)
    if runs[0] != runs[1]:
        raise FuzzFinding(f"{cls.__name__}: chunked elements differ from whole-body elements")


if __name__ == "__main__":
    main(test_one_input)
