"""SSE framer: never raises; the events do not depend on how the stream was chunked."""

from __future__ import annotations

import atheris

from bench.fuzz.common import FuzzFinding, main, split, take

with atheris.instrument_imports(include=["provenance"]):
    from provenance.extract.sse import SSEFramer, parse_sse

SEEDS = [
    b'\x03\x05\x10data: {"model": "gpt-4o"}\n\ndata: [DONE]\n\n',
    b'\x01\x01\x01event: message_start\r\ndata: {"a":1}\r\n\r\nid: 7\nretry: 10\ndata: x\n\n',
    b"\x00\x00\x00\xef\xbb\xbfdata: one\rdata: two\r\r: comment\n\n",
]


def test_one_input(data: bytes) -> None:
    cuts, body = take(data, 3)
    whole = parse_sse(body)
    framer = SSEFramer()
    events = []
    for chunk in split(body, cuts * 8):
        events += framer.feed(chunk)
    events += framer.finish()
    if events != whole:
        raise FuzzFinding(f"chunked {len(events)} events != whole {len(whole)} events")


if __name__ == "__main__":
    main(test_one_input)
