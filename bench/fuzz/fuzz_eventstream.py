"""AWS event-stream framer (Bedrock streams): never raises; chunking does not change messages."""

from __future__ import annotations

import atheris

from bench.fuzz.common import FuzzFinding, main, split, take

with atheris.instrument_imports(include=["provenance"]):
    from provenance.extract.bedrock import interpret
    from provenance.extract.eventstream import (
        EventStreamFramer,
        encode_message,
        parse_event_stream,
        parse_headers,
    )


def _seed() -> list[bytes]:
    chunk = encode_message(
        [
            (":event-type", "chunk"),
            (":message-type", "event"),
            (":content-type", "application/json"),
        ],
        b'{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdGFydCJ9"}',
    )
    return [b"\x07" + chunk * 2, b"\x00" + chunk[:20], b"\x03" + chunk + b"\x00" * 12]


try:
    SEEDS = _seed()
except Exception:  # the seed builder's signature differs: start from nothing
    SEEDS = [b"\x00"]


def test_one_input(data: bytes) -> None:
    cuts, body = take(data, 1)
    whole, _ = parse_event_stream(body)
    framer = EventStreamFramer()
    messages = []
    for chunk in split(body, cuts * 64):
        messages += framer.feed(chunk)
    messages += framer.finish()
    if messages != whole:
        raise FuzzFinding(f"chunked {len(messages)} messages != whole {len(whole)}")
    for message in messages:
        interpret(message)
    parse_headers(body[:4096])


if __name__ == "__main__":
    main(test_one_input)
