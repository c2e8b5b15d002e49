"""SSE framing: the WHATWG examples, provider streams, line endings, splits, truncation."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.sse import SSEEvent, SSEFramer, parse_sse
from tests.extract.conftest import CI


def _events(data: bytes, step: int) -> list[SSEEvent]:
    framer = SSEFramer()
    out: list[SSEEvent] = []
    for i in range(0, len(data), step):
        out += framer.feed(data[i : i + step])
    return out + framer.finish()


def test_whatwg_stock_ticker_example_joins_data_lines() -> None:
    # https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
    # "data: YHOO / data: +2 / data: 10" is one event whose data is "YHOO\n+2\n10".
    events = parse_sse(b"data: YHOO\ndata: +2\ndata: 10\n\n")
    assert [e.data for e in events] == ["YHOO\n+2\n10"]


def test_whatwg_comment_id_and_event_example() -> None:
    # Same section: a comment line, then events with id and named event types.
    stream = (
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n"
    )
    events = parse_sse(stream)
    assert [(e.data, e.id) for e in events] == [
        ("first event", "1"),
        ("second event", ""),
        (" third event", ""),
    ]


def test_whatwg_empty_data_example_and_trailing_block() -> None:
    # Same section: "data\n\ndata\ndata\n\ndata:" fires "" then "\n"; the spec discards the
    # last block (no blank line after it); we return it with complete=False instead.
    framer = SSEFramer()
    events = framer.feed(b"data\n\ndata\ndata\n\ndata:") + framer.finish()
    assert [(e.data, e.complete) for e in events] == [("", True), ("\n", True), ("", False)]
    assert framer.errors == ["SSE stream ended inside an event"]


def test_one_leading_space_is_stripped_and_bom_dropped() -> None:
    events = parse_sse(b"\xef\xbb\xbfdata:test\n\ndata: test\n\n")
    assert [e.data for e in events] == ["test", "test"]


# Anthropic's streaming example, shape of
# https://docs.anthropic.com/en/docs/build-with-claude/streaming ("Basic streaming request").
ANTHROPIC_STREAM = (
    b"event: message_start\n"
    b'data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",'
    b' "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-20250514",'
    b' "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25,'
    b' "output_tokens": 1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text",'
    b' "text": ""}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta",'
    b' "text": "Hello"}}\n\n'
    b'event: content_block_stop\ndata: {"type": "content_block_stop", "index": 0}\n\n'
    b"event: message_delta\n"
    b'data: {"type": "message_delta", "delta": {"stop_reason": "end_turn",'
    b' "stop_sequence":null}, "usage": {"output_tokens": 15}}\n\n'
    b'event: message_stop\ndata: {"type": "message_stop"}\n\n'
)


def test_anthropic_stream_frames_at_every_split_and_one_byte_at_a_time() -> None:
    whole = parse_sse(ANTHROPIC_STREAM)
    assert [e.event for e in whole] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert _events(ANTHROPIC_STREAM, 1) == whole
    for cut in range(len(ANTHROPIC_STREAM) + 1):
        framer = SSEFramer()
        got = framer.feed(ANTHROPIC_STREAM[:cut]) + framer.feed(ANTHROPIC_STREAM[cut:])
        assert got + framer.finish() == whole, cut


def test_crlf_and_cr_line_endings_split_between_chunks() -> None:
    lf = b"event: a\ndata: 1\n\ndata: 2\ndata: 3\n\n"
    expected = parse_sse(lf)
    for ending in (b"\r\n", b"\r"):
        stream = lf.replace(b"\n", ending)
        for cut in range(len(stream) + 1):
            framer = SSEFramer()
            got = framer.feed(stream[:cut]) + framer.feed(stream[cut:]) + framer.finish()
            assert got == expected, (ending, cut)


def test_done_marker_and_openai_chunks() -> None:
    # https://platform.openai.com/docs/api-reference/chat-streaming: chunks then "data: [DONE]".
    events = parse_sse(b'data: {"object":"chat.completion.chunk"}\n\ndata: [DONE]\n\n')
    assert [e.is_done for e in events] == [False, True]


def test_truncated_stream_at_every_position_never_raises() -> None:
    for cut in range(len(ANTHROPIC_STREAM)):
        framer = SSEFramer()
        events = framer.feed(ANTHROPIC_STREAM[:cut]) + framer.finish()
        assert all(isinstance(e, SSEEvent) for e in events)
        assert len(events) <= 7


def test_non_utf8_bytes_become_replacement_characters() -> None:
    events = parse_sse(b"data: caf\xe9 \xff\n\n")
    assert events[0].data == "caf\ufffd \ufffd"


def test_oversize_event_is_dropped_and_stream_recovers() -> None:
    framer = SSEFramer(max_event=100)
    got = framer.feed(b"data: " + b"x" * 500)
    got += framer.feed(b"x" * 500 + b"\n\ndata: ok\n\n") + framer.finish()
    assert [e.data for e in got] == ["ok"]
    assert framer.errors == ["SSE event larger than 100 bytes dropped"]


def test_id_with_nul_is_ignored_and_retry_parsed() -> None:
    events = parse_sse(b"id: 7\nretry: 300\ndata: a\n\nid: x\x00y\ndata: b\n\n")
    assert [(e.id, e.retry) for e in events] == [("7", 300), ("7", 300)]


_line_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30
)


@CI
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["", "message_start", "response.completed"]),
            st.lists(_line_text, min_size=1, max_size=3),
        ),
        max_size=6,
    ),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
)
def test_property_serialised_events_come_back_at_any_split(
    events: list[tuple[str, list[str]]], ending: str, cuts: list[int]
) -> None:
    text = ""
    for name, lines in events:
        if name:
            text += f"event: {name}{ending}"
        text += "".join(f"data: {line}{ending}" for line in lines) + ending
    wire = text.encode("utf-8")
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    framer = SSEFramer()
    got: list[SSEEvent] = []
    for a, b in itertools.pairwise(points):
        got += framer.feed(wire[a:b])
    got += framer.finish()
    assert [(e.event, e.data) for e in got] == [(n, "\n".join(ls)) for n, ls in events]


@CI
@given(data=st.binary(max_size=500), step=st.integers(min_value=1, max_value=50))
def test_property_arbitrary_bytes_never_raise(data: bytes, step: int) -> None:
    events = _events(data, step)
    assert all(isinstance(e.data, str) for e in events)
