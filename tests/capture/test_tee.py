"""The streaming tee never alters or withholds bytes and never raises; stream decisions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.capture.tee import (
    LARGE,
    STREAM,
    UNKNOWN_LENGTH,
    StreamTee,
    is_stream_content_type,
    request_stream_reason,
    response_stream_reason,
)


class RecordingTap:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def finish(self) -> str:
        return "result"


class BrokenTap:
    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0

    def feed(self, chunk: bytes) -> None:
        self.calls += 1
        if self.calls >= self.fail_at:
            raise RuntimeError("secret sk-should-not-appear")

    def finish(self) -> str:
        raise AssertionError("finish must not be called on a failed tap")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20), st.integers(min_value=1, max_value=5))
def test_tee_returns_every_chunk_unchanged_even_when_the_tap_fails(
    chunks: list[bytes], fail_at: int
) -> None:
    tee = StreamTee(BrokenTap(fail_at), reason=STREAM)
    out = [tee(chunk) for chunk in [*chunks, b""]]
    assert out == [*chunks, b""]
    assert all(a is b for a, b in zip(out, [*chunks, b""], strict=True))
    assert tee.size == sum(len(c) for c in chunks)
    assert tee.ended
    fed = sum(1 for c in chunks if c)
    if fed >= fail_at:
        assert tee.failure == "body tap failed: RuntimeError"
        assert "sk-" not in tee.failure
        assert tee.finish() is None
    else:
        assert tee.failure is None


def test_tee_feeds_the_tap_and_finishes_once() -> None:
    tap = RecordingTap()
    tee = StreamTee(tap, reason=STREAM)
    assert tee(b"data: 1\n\n") == b"data: 1\n\n"
    assert tee(b"") == b""
    assert tap.chunks == [b"data: 1\n\n"]
    assert tee.finish() == "result"
    assert tee.finish() is None  # the tap is released after the first finish


def test_tee_survives_a_finish_that_raises() -> None:
    class FinishFails(RecordingTap):
        def finish(self) -> str:
            raise ValueError("boom")

    tee = StreamTee(FinishFails(), reason=LARGE)
    tee(b"x")
    assert tee.finish() is None
    assert tee.failure == "body tap failed at the end: ValueError"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/event-stream",
        "text/event-stream; charset=utf-8",
        "application/connect+proto",
        "application/connect+json",
        "application/grpc",
        "application/grpc+proto",
        "application/grpc-web+proto",
        "application/x-ndjson",
        "application/vnd.amazon.eventstream",
        "TEXT/EVENT-STREAM",
    ],
)
def test_stream_content_types(content_type: str) -> None:
    assert is_stream_content_type(content_type)
    assert (
        response_stream_reason({"content-type": content_type, "content-length": "10"}, max_body=100)
        == STREAM
    )


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/html", "application/proto", None]
)
def test_not_stream_content_types(content_type: str | None) -> None:
    assert not is_stream_content_type(content_type)


def test_response_reasons() -> None:
    json_ct = {"content-type": "application/json"}
    assert response_stream_reason({**json_ct, "content-length": "100"}, max_body=100) is None
    assert response_stream_reason({**json_ct, "content-length": "101"}, max_body=100) == LARGE
    assert response_stream_reason(json_ct, max_body=100) == UNKNOWN_LENGTH
    chunked = {**json_ct, "transfer-encoding": "chunked"}
    assert response_stream_reason(chunked, max_body=100) == UNKNOWN_LENGTH
    bogus = {**json_ct, "content-length": "lots"}
    assert response_stream_reason(bogus, max_body=100) == UNKNOWN_LENGTH


def test_request_reasons_buffer_small_uploads() -> None:
    json_ct = {"content-type": "application/json"}
    assert request_stream_reason({**json_ct, "content-length": "5000"}, max_body=10_000) is None
    assert request_stream_reason({**json_ct, "content-length": "10001"}, max_body=10_000) == LARGE
    connect = {"content-type": "application/connect+proto", "content-length": "12"}
    assert request_stream_reason(connect, max_body=10_000) == STREAM
