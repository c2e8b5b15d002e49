"""The body tap: framing by content type, incremental parsing, caps, bounded memory."""

from __future__ import annotations

import gzip
import hashlib
import json

import brotli
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.tap import BodyTap, TapResult, framing_for, tap_body
from provenance.records import Source
from tests.extract.conftest import CI, LEAK_ID, envelope, pb_len, pb_varint
from tests.extract.test_sse import ANTHROPIC_STREAM

OPENAI_SSE = (
    f'data: {{"id":"c1","object":"chat.completion.chunk","model":"{LEAK_ID}",'
    '"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    f'data: {{"id":"c1","object":"chat.completion.chunk","model":"{LEAK_ID}","choices":[],'
    '"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}\n\n'
    "data: [DONE]\n\n"
).encode()


def _tap(body: bytes, step: int = 10**9, **kw) -> TapResult:
    kw.setdefault("content_encoding", None)
    kw.setdefault("role", "response")
    kw.setdefault("max_body", 1_000_000)
    tap = BodyTap(**kw)
    for i in range(0, len(body), step):
        tap.feed(body[i : i + step])
    return tap.finish()


@pytest.mark.parametrize("step", [1, 5, 64, 10**9])
def test_leak_id_in_an_sse_frame_gzip_one_byte_at_a_time(step: int) -> None:
    wire = gzip.compress(OPENAI_SSE)
    r = _tap(
        wire,
        step,
        content_type="text/event-stream",
        content_encoding="gzip",
        url="https://api.openai.com/v1/chat/completions",
    )
    assert [(o.model_id, o.source, o.location) for o in r.observations] == [
        (LEAK_ID, Source.SSE_FRAME, "$.model")
    ]
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (12, 3, 15)
    assert r.api == "openai.chat" and r.framing == "sse" and r.frames == 3
    assert r.digest == hashlib.sha256(OPENAI_SSE).hexdigest()
    assert (r.raw_size, r.decoded_size) == (len(wire), len(OPENAI_SSE))
    assert r.parse_errors == []


def _cursor_request() -> bytes:
    """aiserver.v1 StreamUnifiedChatRequest-like message: model_details (5) -> model_name (1),
    with a bring-your-own key in ModelDetails.api_key (2), wrapped one level deeper (1)."""
    details = pb_len(1, LEAK_ID) + pb_len(2, "sk-proj-" + "A1b2C3d4" * 6)
    inner = pb_len(1, "write a test") + pb_len(5, details) + pb_varint(8, 1)
    return pb_len(1, inner)


@pytest.mark.parametrize("compressed", [False, True])
def test_leak_id_in_connect_protobuf_three_levels_deep(compressed: bool) -> None:
    msg = _cursor_request()
    payload = gzip.compress(msg) if compressed else msg
    end = envelope(b'{"metadata":{"x":["1"]}}', 0x02)
    wire = envelope(payload, 0x01 if compressed else 0) + end
    for step in (1, 3, len(wire)):
        r = _tap(
            wire,
            step,
            content_type="application/connect+proto",
            role="request",
            message_encoding="gzip" if compressed else None,
            url="https://api2.cursor.sh/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
        )
        assert [(o.model_id, o.source, o.location) for o in r.observations] == [
            (LEAK_ID, Source.PROTOBUF_FIELD, "1.5.1")
        ]
        assert r.api == "connect" and r.parse_errors == []
        lines = r.text.splitlines()
        assert json.loads(lines[0])["1"]["5"]["1"] == LEAK_ID
        assert json.loads(lines[1]) == {"end_stream": {"metadata": {"x": ["1"]}}}


def test_unary_protobuf_body_at_field_path_5_1() -> None:
    msg = pb_len(1, "hello") + pb_len(5, pb_len(1, LEAK_ID))
    r = _tap(msg, 2, content_type="application/proto", role="request")
    assert [(o.location, o.model_id) for o in r.observations] == [("5.1", LEAK_ID)]
    assert json.loads(r.text) == {"1": "hello", "5": {"1": LEAK_ID}}


def test_client_version_string_of_an_unknown_connect_product_is_no_model() -> None:
    msg = pb_len(1, "write a test") + pb_len(2, "acme-agent/3.4.1") + pb_varint(3, 1)
    r = _tap(
        envelope(msg),
        content_type="application/connect+proto",
        role="request",
        url="https://api.acme.example/acme.agent.v1.AgentService/Run",
    )
    assert r.api == "connect" and r.parse_errors == []
    assert r.observations == []
    assert json.loads(r.text)["2"] == "acme-agent/3.4.1"  # stored, just not a model id


def test_anthropic_sse_usage_and_model() -> None:
    r = _tap(
        brotli.compress(ANTHROPIC_STREAM),
        17,
        content_type="text/event-stream",
        content_encoding="br",
        url="https://api.anthropic.com/v1/messages?beta=true",
    )
    assert [(o.model_id, o.location) for o in r.observations] == [
        ("claude-opus-4-20250514", "$.message.model")
    ]
    assert (r.usage.input_tokens, r.usage.output_tokens) == (25, 15)
    assert r.api == "anthropic.messages"


def test_gemini_json_array_stream_is_parsed_incrementally() -> None:
    from tests.extract.test_jsonstream import GEMINI_ARRAY

    r = _tap(
        GEMINI_ARRAY,
        9,
        content_type="application/json; charset=UTF-8",
        url="https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent",
    )
    assert r.framing == "json-array" and r.json_body
    assert [(o.model_id, o.source, o.location) for o in r.observations] == [
        ("gemini-2.0-flash", Source.STREAM_FRAME, "$[*].modelVersion")
    ]
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (9, 3, 12)


def test_usage_in_last_frames_survives_past_max_body() -> None:
    filler = b"".join(
        b'data: {"object":"chat.completion.chunk","model":"m-1","choices":[{"delta":{"content":"'
        + b"x" * 200
        + b'"}}]}\n\n'
        for _ in range(5000)
    )
    tail = (
        b'data: {"object":"chat.completion.chunk","model":"m-1","usage":{"prompt_tokens":1,'
        b'"completion_tokens":5000,"total_tokens":5001}}\n\ndata: [DONE]\n\n'
    )
    r = _tap(filler + tail, 4096, content_type="text/event-stream", max_body=1000)
    assert len(r.body) == 1000 and r.truncated
    assert r.usage.output_tokens == 5000
    assert r.decoded_size == len(filler + tail)


def test_200_mb_sse_body_keeps_memory_bounded() -> None:
    # 200 MB of SSE in 1 MiB chunks (64 KiB events); what the tap holds stays bounded.
    event = b'data: {"model":"m-2","choices":[{"delta":{"content":"' + b"x" * 65_000 + b'"}}]}\n\n'
    chunk = event * 16
    tap = BodyTap(
        content_type="text/event-stream", content_encoding=None, role="response", max_body=10_000
    )
    for _ in range(200_000_000 // len(chunk) + 1):
        tap.feed(chunk)
        assert len(tap._kept) <= 10_000 and len(tap._framer._buf) == 0  # type: ignore[union-attr]
    r = tap.finish()
    assert r.decoded_size > 200_000_000 and len(r.body) == 10_000
    assert [o.model_id for o in r.observations] == ["m-2"]
    assert r.frames > 3000


def test_200_mb_json_body_is_not_held_and_model_found_in_the_tail() -> None:
    # The OpenAI Python SDK serialises "messages" before "model": the id is at the end.
    tap = BodyTap(
        content_type="application/json",
        content_encoding=None,
        role="request",
        max_body=1000,
        json_cap=1_000_000,
    )
    tap.feed(b'{"messages": [{"role": "user", "content": "')
    block = b"y" * (1024 * 1024)
    for _ in range(200):
        tap.feed(block)
        assert len(tap._whole) <= 1_000_000 and len(tap._tail) <= 64 * 1024
    tap.feed(f'"}}], "model": "{LEAK_ID}"}}'.encode())
    r = tap.finish()
    assert [(o.model_id, o.location) for o in r.observations] == [(LEAK_ID, "$.model")]
    assert r.parse_errors == ["JSON body larger than 1000000 bytes: not parsed whole"]
    assert r.truncated and not r.json_body


def test_decompression_bomb_through_the_tap() -> None:
    bomb = gzip.compress(b"\x00" * (1024 * 1024), 9) * 200
    r = _tap(
        bomb,
        65536,
        content_type="application/json",
        content_encoding="gzip",
        decoded_cap=8 * 1024 * 1024,
        max_body=100,
    )
    assert "decompression cap reached" in r.parse_errors
    assert r.decoded_size == 8 * 1024 * 1024
    assert r.digest == hashlib.sha256(bomb).hexdigest()  # raw digest: body not fully decoded
    assert r.truncated


def test_json_bodies_request_and_malformed() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "model": LEAK_ID}).encode()
    r = _tap(body, 3, content_type="application/json", role="request")
    assert [(o.model_id, o.source, o.location) for o in r.observations] == [
        (LEAK_ID, Source.REQUEST_FIELD, "$.model")
    ]
    assert r.json_body and r.text == body.decode()
    for cut in range(len(body)):
        bad = _tap(body[:cut], 1, content_type="application/json", role="request")
        if cut:
            assert bad.parse_errors, cut
            assert not bad.json_body


def test_sniffing_without_content_type() -> None:
    assert _tap(OPENAI_SSE, 2, content_type=None).framing == "sse"
    assert _tap(b'  {"model": "gpt-4o"}', 1, content_type=None).observations[0].model_id == "gpt-4o"
    assert _tap(b"\x00\x01\x02binary", content_type=None).text is None
    assert _tap(b"", content_type=None).digest is None


def test_invalid_gzip_and_non_utf8() -> None:
    r = _tap(b"\x1f\x8bnot really", content_type="application/json", content_encoding="gzip")
    assert r.parse_errors and r.parse_errors[0].startswith("invalid gzip data")
    assert r.digest == hashlib.sha256(b"\x1f\x8bnot really").hexdigest()
    r = _tap(b'data: {"model": "caf\xe9"}\n\n', content_type="text/event-stream")
    assert r.parse_errors == []  # decoded with replacement; JSON itself is fine


def test_grpc_web_text_base64_body() -> None:
    import base64

    raw = envelope(pb_len(5, pb_len(1, LEAK_ID))) + envelope(b"grpc-status:0\r\n", 0x80)
    wire = base64.b64encode(raw)
    r = _tap(wire, 5, content_type="application/grpc-web-text")
    assert [o.location for o in r.observations] == ["5.1"]


def test_feed_after_finish_and_double_finish() -> None:
    tap = BodyTap(
        content_type="application/json", content_encoding=None, role="request", max_body=10
    )
    tap.feed(b"{}")
    first = tap.finish()
    tap.feed(b"more")
    assert tap.finish() is first


@pytest.mark.parametrize(
    "ct",
    [
        "text/event-stream",
        "application/connect+proto",
        "application/json",
        "application/proto",
        None,
    ],
)
def test_truncation_of_real_bodies_at_every_position(ct: str | None) -> None:
    body = {
        "text/event-stream": ANTHROPIC_STREAM[:400],
        "application/connect+proto": envelope(_cursor_request()) * 2,
        "application/proto": _cursor_request(),
    }.get(ct, OPENAI_SSE[:300])
    for cut in range(0, len(body), 3):
        r = tap_body(
            body[:cut], content_type=ct, content_encoding=None, role="response", max_body=100
        )
        assert isinstance(r, TapResult)


def test_framing_for() -> None:
    assert framing_for("text/event-stream; charset=utf-8") == "sse"
    assert framing_for("application/connect+json") == "connect-json"
    assert framing_for("application/grpc+proto") == "grpc"
    assert framing_for("application/x-ndjson") == "ndjson"
    assert framing_for("image/png") == "binary"


@CI
@given(
    body=st.binary(max_size=600),
    ct=st.sampled_from(
        [
            None,
            "text/event-stream",
            "application/json",
            "application/connect+proto",
            "application/grpc-web-text",
            "application/proto",
            "application/x-ndjson",
            "application/grpc",
            "text/plain",
            "image/png",
        ]
    ),
    enc=st.sampled_from([None, "gzip", "br", "zstd", "deflate", "gzip, br", "bogus"]),
    step=st.integers(min_value=1, max_value=100),
    max_body=st.integers(min_value=0, max_value=300),
)
def test_property_tap_never_raises_and_bounds_what_it_keeps(
    body: bytes, ct: str | None, enc: str | None, step: int, max_body: int
) -> None:
    r = _tap(body, step, content_type=ct, content_encoding=enc, max_body=max_body)
    assert r.raw_size == len(body)
    assert len(r.body) <= max_body
    assert not any("internal error" in e for e in r.parse_errors), r.parse_errors
