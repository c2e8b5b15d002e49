"""AWS event-stream framer: documented layout, every header type, CRCs, truncation, resync.

Layout: https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html
("Event stream encoding"). The two byte vectors below are the known-answer messages of the AWS
C runtime's own tests (https://github.com/awslabs/aws-c-event-stream,
tests/message_deserializer_test.c): an empty message, and ``{'foo':'bar'}`` without headers.
"""

from __future__ import annotations

import struct
import zlib

from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.eventstream import (
    EventStreamFramer,
    encode_message,
    parse_event_stream,
    parse_headers,
)
from tests.coverage.conftest import CI

EMPTY = bytes.fromhex("000000100000000005c248eb7d98c8ff")
FOO_BAR = bytes.fromhex("0000001d00000000fd528c5a") + b"{'foo':'bar'}" + bytes.fromhex("c3653936")


def _frames(data: bytes, cut: int | None = None):
    framer = EventStreamFramer()
    cut = len(data) if cut is None else cut
    out = framer.feed(data[:cut]) + framer.feed(data[cut:])
    return out + framer.finish(), framer.errors


def test_known_answer_vectors_from_the_aws_c_runtime() -> None:
    messages, errors = parse_event_stream(EMPTY + FOO_BAR)
    assert errors == []
    assert [m.payload for m in messages] == [b"", b"{'foo':'bar'}"]
    assert all(m.headers == [] for m in messages)
    assert encode_message([], b"") == EMPTY
    assert encode_message([], b"{'foo':'bar'}") == FOO_BAR


def test_every_header_type_round_trips() -> None:
    uid = "12345678-1234-5678-1234-567812345678"
    headers = [
        ("t", True, 0),
        ("f", False, 1),
        ("byte", -3, 2),
        ("short", -300, 3),
        ("int", 70000, 4),
        ("long", -(2**40), 5),
        ("bytes", b"\x00\xff", 6),
        (":event-type", "chunk", 7),
        ("ts", 1_700_000_000_000, 8),
        ("uuid", uid, 9),
    ]
    message = encode_message(headers, b"{}")
    [parsed], errors = parse_event_stream(message)
    assert errors == []
    assert parsed.headers == [(n, v) for n, v, _ in headers]
    assert parsed.event_type == "chunk" and parsed.message_type == ""


def test_unknown_header_type_keeps_the_headers_before_it() -> None:
    block = b"\x01a\x07\x00\x01x" + b"\x01b\x0c"
    headers, error = parse_headers(block)
    assert headers == [("a", "x")]
    assert error == "unknown event-stream header type 12"


def test_message_crc_mismatch_skips_exactly_that_message() -> None:
    bad = bytearray(FOO_BAR)
    bad[14] ^= 0x01  # payload byte: prelude still valid
    messages, errors = parse_event_stream(EMPTY + bytes(bad) + FOO_BAR)
    assert [m.payload for m in messages] == [b"", b"{'foo':'bar'}"]
    assert errors == ["event-stream message CRC mismatch; message skipped"]


def test_prelude_crc_mismatch_resyncs_on_the_next_valid_prelude() -> None:
    bad = bytearray(FOO_BAR)
    bad[9] ^= 0x10  # the prelude CRC itself
    messages, errors = parse_event_stream(bytes(bad) + FOO_BAR + EMPTY)
    assert [m.payload for m in messages] == [b"{'foo':'bar'}", b""]
    assert errors[0].startswith("event-stream prelude CRC mismatch")
    assert errors[1] == f"event stream resynchronised after {len(FOO_BAR)} bytes"


def test_garbage_only_reports_and_bounds_memory() -> None:
    framer = EventStreamFramer()
    for _ in range(100):
        assert framer.feed(b"\xff" * 1000) == []
    assert len(framer._buf) < 16  # only a possible prelude start is kept
    framer.finish()
    assert framer.errors[-1].startswith("event stream ended while resyncing")


def test_truncated_at_every_byte_position() -> None:
    stream = encode_message([(":event-type", "chunk")], b'{"bytes":"e30="}') + FOO_BAR
    for cut in range(len(stream)):
        messages, errors = parse_event_stream(stream[:cut])
        complete = list(messages)
        first_len = len(stream) - len(FOO_BAR)
        assert len(complete) == (1 if cut >= first_len else 0)
        if cut not in (0, first_len):
            assert errors and errors[-1].startswith("truncated event-stream"), cut
        else:
            assert errors == [], cut


def test_split_at_every_byte_position_gives_the_same_messages() -> None:
    stream = encode_message([(":message-type", "event")], b"abc") + FOO_BAR + EMPTY
    whole, _ = _frames(stream)
    for cut in range(len(stream) + 1):
        parts, errors = _frames(stream, cut)
        assert [(m.headers, m.payload) for m in parts] == [(m.headers, m.payload) for m in whole]
        assert errors == []


def test_oversize_total_length_is_treated_as_a_bad_prelude() -> None:
    prelude = struct.pack(">II", 1 << 30, 0)
    prelude += struct.pack(">I", zlib.crc32(prelude))
    messages, errors = parse_event_stream(prelude + FOO_BAR)
    assert [m.payload for m in messages] == [b"{'foo':'bar'}"]
    assert errors[0].startswith("event-stream prelude CRC mismatch or bad length")


@CI
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    framer = EventStreamFramer()
    for i in range(0, len(data), 37):
        framer.feed(data[i : i + 37])
    framer.finish()


@CI
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=20)), max_size=4),
            st.binary(max_size=64),
        ),
        max_size=5,
    ),
    st.lists(st.integers(1, 50), min_size=1, max_size=8),
)
def test_encoded_streams_frame_back_in_any_chunking(messages, sizes) -> None:
    stream = b"".join(encode_message(h, p) for h, p in messages)
    framer = EventStreamFramer()
    out, pos, i = [], 0, 0
    while pos < len(stream):
        step = sizes[i % len(sizes)]
        out += framer.feed(stream[pos : pos + step])
        pos, i = pos + step, i + 1
    out += framer.finish()
    assert framer.errors == []
    assert [(m.headers, m.payload) for m in out] == [(h, p) for h, p in messages]
