"""Other streaming shapes normalised into the same usage columns, per-frame JSON redaction,
and decompression-bomb caps on streamed bodies.

Each test cites the document its example follows.
"""

from __future__ import annotations

import functools
import json
import tracemalloc

import brotli
import pytest
import zstandard

from provenance.extract import BodyTap, ExtractOptions, extract
from provenance.extract.decode import DEFAULT_DECODED_CAP
from tests.coverage.conftest import ids, raw_exchange

SSE = [("content-type", "text/event-stream")]


def sse(*frames: dict, events: list[str] | None = None, done: bool = False) -> bytes:
    out = []
    for i, frame in enumerate(frames):
        head = f"event: {events[i]}\n" if events else ""
        out.append(f"{head}data: {json.dumps(frame)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def test_openai_responses_typed_events_without_done(redactor) -> None:
    # https://platform.openai.com/docs/api-reference/responses-streaming
    base = {
        "id": "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654",
        "object": "response",
        "model": "gpt-4.1-2025-04-14",
        "status": "in_progress",
        "usage": None,
    }
    usage = {
        "input_tokens": 37,
        "input_tokens_details": {"cached_tokens": 12},
        "output_tokens": 11,
        "output_tokens_details": {"reasoning_tokens": 4},
        "total_tokens": 48,
    }
    frames = [
        {"type": "response.created", "sequence_number": 0, "response": base},
        {
            "type": "response.output_text.delta",
            "sequence_number": 1,
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": "Hi",
        },
        {
            "type": "response.completed",
            "sequence_number": 2,
            "response": {**base, "status": "completed", "usage": usage},
        },
    ]
    names = [f["type"] for f in frames]
    raw = raw_exchange(
        "https://api.openai.com/v1/responses",
        response_headers=SSE,
        response_body=sse(*frames, events=names),
    )
    record = extract(raw, redactor=redactor)
    assert record.api == "openai.responses" and record.parse_errors == []
    assert ("gpt-4.1-2025-04-14", "sse_frame", "response") in ids(record)
    u = record.usage
    assert (
        u.input_tokens,
        u.output_tokens,
        u.cached_tokens,
        u.reasoning_tokens,
        u.total_tokens,
    ) == (37, 11, 12, 4, 48)


@pytest.mark.parametrize("terminal", ["response.incomplete", "response.failed"])
def test_openai_responses_other_terminal_events(redactor, terminal: str) -> None:
    # https://platform.openai.com/docs/api-reference/responses-streaming/response/incomplete
    response = {
        "id": "resp_1",
        "object": "response",
        "model": "o4-mini-2025-04-16",
        "status": terminal.split(".")[1],
        "usage": {
            "input_tokens": 5,
            "output_tokens": 2,
            "total_tokens": 7,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }
    raw = raw_exchange(
        "https://api.openai.com/v1/responses",
        response_headers=SSE,
        response_body=sse({"type": terminal, "response": response}, events=[terminal]),
    )
    record = extract(raw, redactor=redactor)
    assert record.usage.total_tokens == 7
    assert ("o4-mini-2025-04-16", "sse_frame", "response") in ids(record)


def test_anthropic_message_delta_usage_is_cumulative(redactor) -> None:
    # https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types
    frames = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-opus-4-1-20250805",
                "content": [],
                "usage": {
                    "input_tokens": 472,
                    "output_tokens": 2,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 100,
                },
            },
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 10},
        },
        {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 89}},
        {"type": "message_stop"},
    ]
    raw = raw_exchange(
        "https://api.anthropic.com/v1/messages",
        response_headers=SSE,
        response_body=sse(*frames, events=[f["type"] for f in frames]),
    )
    u = extract(raw, redactor=redactor).usage
    assert (u.input_tokens, u.output_tokens, u.cached_tokens) == (572, 89, 100)


def test_groq_x_groq_usage_in_the_last_chunk(redactor) -> None:
    # https://console.groq.com/docs/api-reference#chat-create (streamed chunks carry x_groq)
    frames = [
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": "llama-3.3-70b-versatile",
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
            "x_groq": {"id": "req_01jbd6g2qdfw2adyrt2az8hz4w"},
        },
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": "llama-3.3-70b-versatile",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "x_groq": {
                "id": "req_01jbd6g2qdfw2adyrt2az8hz4w",
                "usage": {
                    "queue_time": 0.0219,
                    "prompt_tokens": 24,
                    "prompt_time": 0.0024,
                    "completion_tokens": 377,
                    "completion_time": 1.508,
                    "total_tokens": 401,
                    "total_time": 1.510,
                },
            },
        },
    ]
    raw = raw_exchange(
        "https://api.groq.com/openai/v1/chat/completions",
        response_headers=SSE,
        response_body=sse(*frames, done=True),
    )
    u = extract(raw, redactor=redactor).usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (24, 377, 401)


def test_deepseek_cache_hit_fields(redactor) -> None:
    # https://api-docs.deepseek.com/api/create-chat-completion (usage object)
    doc = {
        "id": "x",
        "object": "chat.completion",
        "model": "deepseek-reasoner",
        "choices": [],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "total_tokens": 150,
            "prompt_cache_hit_tokens": 64,
            "prompt_cache_miss_tokens": 36,
            "completion_tokens_details": {"reasoning_tokens": 30},
        },
    }
    raw = raw_exchange(
        "https://api.deepseek.com/chat/completions", response_body=json.dumps(doc).encode()
    )
    u = extract(raw, redactor=redactor).usage
    assert (u.input_tokens, u.cached_tokens, u.reasoning_tokens) == (100, 64, 30)
    assert u.raw["$.usage"]["prompt_cache_miss_tokens"] == 36


def test_openrouter_provider_and_cost(redactor) -> None:
    # https://openrouter.ai/docs/use-cases/usage-accounting
    last = {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "model": "anthropic/claude-3.7-sonnet",
        "provider": "Anthropic",
        "choices": [],
        "usage": {
            "prompt_tokens": 194,
            "completion_tokens": 2,
            "total_tokens": 196,
            "cost": 0.95,
            "cost_details": {"upstream_inference_cost": 19},
            "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 100},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
    raw = raw_exchange(
        "https://openrouter.ai/api/v1/chat/completions",
        response_headers=SSE,
        response_body=sse(last, done=True),
    )
    u = extract(raw, redactor=redactor).usage
    assert (u.cost, u.cache_write_tokens, u.total_tokens) == (0.95, 100, 196)
    assert u.raw["$.provider"] == "Anthropic"


def test_gemini_json_array_streaming(redactor) -> None:
    # https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent (no alt=sse)
    parts = [
        {
            "candidates": [{"content": {"parts": [{"text": "A"}], "role": "model"}}],
            "modelVersion": "gemini-2.5-flash",
        },
        {
            "candidates": [
                {"content": {"parts": [{"text": "B"}], "role": "model"}, "finishReason": "STOP"}
            ],
            "usageMetadata": {
                "promptTokenCount": 6,
                "candidatesTokenCount": 2,
                "totalTokenCount": 8,
            },
            "modelVersion": "gemini-2.5-flash",
        },
    ]
    body = ("[" + ",\r\n".join(json.dumps(p) for p in parts) + "]").encode()
    raw = raw_exchange(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        response_body=body,
    )
    record = extract(raw, redactor=redactor)
    assert record.usage.total_tokens == 8
    assert ("gemini-2.5-flash", "url_path", "request") in ids(record)


def test_secret_named_fields_inside_sse_frames_are_redacted(redactor) -> None:
    # name-based redaction per frame: the value has no key-like shape, only its field name says so
    frames = [
        {
            "type": "session",
            "client_secret": {"value": "correct horse battery staple"},
            "model": "gpt-4o",
        },
        {"choices": [], "usage": {"prompt_tokens": 1}},
    ]
    raw = raw_exchange(
        "https://api.example.test/v1/chat/completions",
        response_headers=SSE,
        response_body=sse(*frames, done=True),
    )
    record = extract(raw, redactor=redactor)
    assert "correct horse battery staple" not in record.response_body
    lines = record.response_body.splitlines()
    assert lines[0].startswith("data: {") and "[REDACTED:" in lines[0]
    assert lines[-2] == "data: [DONE]"
    assert record.usage.input_tokens == 1


@functools.lru_cache(maxsize=4)
def _bomb(codec: str, size: int) -> bytes:
    data = b"data: " + b"A" * size + b"\n\n"
    if codec == "br":
        return brotli.compress(data, quality=11)
    return zstandard.ZstdCompressor(level=19).compress(data)


@pytest.mark.parametrize("content_type", ["text/event-stream", "application/json"])
@pytest.mark.parametrize("codec", ["br", "zstd"])
def test_bomb_in_a_streamed_body_stops_at_the_cap(codec: str, content_type: str) -> None:
    # The cap is per body (request and response each): DEFAULT_DECODED_CAP = 64 MiB decoded.
    # A 128 MiB bomb (a few hundred bytes of brotli, 8 KB of zstd) fed in 4 KiB wire chunks:
    # decoding stops at the cap and the tap holds one codec call's output at a time.
    bomb = _bomb(codec, 128 * 1024 * 1024)
    assert len(bomb) < 300_000
    tracemalloc.start()
    try:
        tap = BodyTap(
            content_type=content_type, content_encoding=codec, role="response", max_body=64 * 1024
        )
        for i in range(0, len(bomb), 4096):
            tap.feed(bomb[i : i + 4096])
        result = tap.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "decompression cap reached" in result.parse_errors
    assert result.decoded_size == DEFAULT_DECODED_CAP == 64 * 1024 * 1024
    assert result.truncated and len(result.body) == 64 * 1024
    assert result.raw_size == len(bomb)
    assert peak < DEFAULT_DECODED_CAP  # measured 28-54 MiB: below the cap itself


def test_bodies_off_still_extracts_ids_and_usage(redactor) -> None:
    frames = [
        {
            "model": "gpt-4o-mini",
            "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }
    ]
    raw = raw_exchange(
        "https://api.openai.com/v1/chat/completions",
        response_headers=SSE,
        response_body=sse(*frames, done=True),
    )
    record = extract(raw, redactor=redactor, options=ExtractOptions(keep_bodies=False))
    assert record.response_body is None and record.usage.output_tokens == 1
