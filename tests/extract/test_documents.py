"""Provider JSON parsers and usage normalisation, from each provider's documented shapes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.documents import scan_document
from provenance.extract.locate import api_from_path, ids_from_headers, ids_from_url
from provenance.extract.usage import UsageAccumulator, normalise
from tests.extract.conftest import CI, LEAK_ID


def _usage(doc: object, api: str | None = None):
    acc = UsageAccumulator()
    for dialect, location, obj in scan_document(doc, api=api).usages:
        acc.add(dialect, location, obj)
    return acc.result()


def test_openai_chat_completion_object() -> None:
    # https://platform.openai.com/docs/api-reference/chat/object
    doc = {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }
    found = scan_document(doc)
    assert found.api == "openai.chat"
    assert found.ids == [("gpt-4o-2024-08-06", "$.model")]
    u = _usage(doc)
    assert (u.input_tokens, u.output_tokens, u.total_tokens, u.cached_tokens) == (19, 10, 29, 0)
    assert u.raw["$.usage"]["prompt_tokens"] == 19


def test_openai_request_with_the_leaked_id() -> None:
    found = scan_document({"messages": [], "model": LEAK_ID, "stream": True})
    assert found.ids == [(LEAK_ID, "$.model")]


def test_openrouter_usage_cost_cache_write_and_provider() -> None:
    # https://openrouter.ai/docs/use-cases/usage-accounting
    doc = {
        "model": "moonshotai/kimi-k2",
        "provider": "Fireworks",
        "usage": {
            "prompt_tokens": 194,
            "completion_tokens": 2,
            "total_tokens": 196,
            "cost": 0.95,
            "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 1},
        },
    }
    u = _usage(doc)
    assert (u.cost, u.cached_tokens, u.cache_write_tokens, u.reasoning_tokens) == (0.95, 10, 4, 1)
    assert scan_document(doc).extra == [("$.provider", "Fireworks")]


def test_groq_x_groq_usage_and_deepseek_cache_fields() -> None:
    # Groq streams put usage in the last chunk's x_groq.usage (groq-typescript types).
    groq = {
        "object": "chat.completion.chunk",
        "model": "llama-3.3-70b-versatile",
        "x_groq": {
            "id": "req_1",
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": 7,
                "total_tokens": 12,
                "queue_time": 0.01,
            },
        },
    }
    u = _usage(groq)
    assert (u.input_tokens, u.output_tokens) == (5, 7)
    assert "$.x_groq.usage" in u.raw
    # https://api-docs.deepseek.com/api/create-chat-completion: cache hit/miss counts.
    ds = {
        "model": "deepseek-chat",
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 3,
            "total_tokens": 103,
            "prompt_cache_hit_tokens": 64,
            "prompt_cache_miss_tokens": 36,
        },
    }
    assert _usage(ds).cached_tokens == 64


def test_responses_api_events() -> None:
    # https://platform.openai.com/docs/api-reference/responses-streaming
    created = {
        "type": "response.created",
        "sequence_number": 0,
        "response": {
            "id": "resp_67c9",
            "object": "response",
            "status": "in_progress",
            "model": "gpt-4.1-2025-04-14",
            "usage": None,
        },
    }
    completed = {
        "type": "response.completed",
        "sequence_number": 5,
        "response": {
            "object": "response",
            "model": "gpt-4.1-2025-04-14",
            "usage": {
                "input_tokens": 37,
                "input_tokens_details": {"cached_tokens": 5},
                "output_tokens": 11,
                "output_tokens_details": {"reasoning_tokens": 4},
                "total_tokens": 48,
            },
        },
    }
    assert scan_document(created).ids == [("gpt-4.1-2025-04-14", "$.response.model")]
    assert scan_document(created).api == "openai.responses"
    u = _usage(completed)
    assert (
        u.input_tokens,
        u.cached_tokens,
        u.output_tokens,
        u.reasoning_tokens,
        u.total_tokens,
    ) == (37, 5, 11, 4, 48)


def test_anthropic_stream_usage_is_merged_input_plus_cache_and_cumulative_output() -> None:
    # https://docs.anthropic.com/en/docs/build-with-claude/streaming: message_start carries
    # input and cache counts; message_delta.usage.output_tokens is cumulative.
    start = {
        "type": "message_start",
        "message": {
            "model": "claude-sonnet-4-20250514",
            "usage": {
                "input_tokens": 25,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 2000,
                "output_tokens": 1,
            },
        },
    }
    deltas = [{"type": "message_delta", "usage": {"output_tokens": n}} for n in (7, 15)]
    acc = UsageAccumulator()
    ids = []
    for doc in [start, *deltas]:
        found = scan_document(doc, api="anthropic.messages")
        ids += found.ids
        for d, loc, obj in found.usages:
            acc.add(d, loc, obj)
    u = acc.result()
    assert ids == [("claude-sonnet-4-20250514", "$.message.model")]
    assert (u.input_tokens, u.cached_tokens, u.cache_write_tokens, u.output_tokens) == (
        2125,
        2000,
        100,
        15,
    )
    assert u.total_tokens is None  # Anthropic reports none; we do not invent one


def test_anthropic_count_tokens() -> None:
    # https://docs.anthropic.com/en/api/messages-count-tokens: {"input_tokens": 14}
    assert _usage({"input_tokens": 14}, api="anthropic.count_tokens").input_tokens == 14


def test_gemini_usage_metadata_with_thoughts_and_cache() -> None:
    # https://ai.google.dev/api/generate-content#UsageMetadata
    doc = {
        "candidates": [],
        "modelVersion": "gemini-2.5-flash",
        "usageMetadata": {
            "promptTokenCount": 120,
            "cachedContentTokenCount": 100,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 30,
            "totalTokenCount": 170,
        },
    }
    found = scan_document(doc)
    assert found.api == "gemini.generate"
    assert found.ids == [("gemini-2.5-flash", "$.modelVersion")]
    u = _usage(doc)
    assert (
        u.input_tokens,
        u.cached_tokens,
        u.output_tokens,
        u.reasoning_tokens,
        u.total_tokens,
    ) == (120, 100, 50, 30, 170)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        # v2 chat: processed tokens win over billed units
        (
            {
                "id": "x",
                "message": {"role": "assistant", "content": []},
                "usage": {
                    "billed_units": {"input_tokens": 13, "output_tokens": 61},
                    "tokens": {"input_tokens": 542, "output_tokens": 63},
                },
            },
            (542, 63),
        ),
        # v2 stream message-end
        (
            {"type": "message-end", "delta": {"usage": {"billed_units": {"input_tokens": 5}}}},
            (5, None),
        ),
        # v1 chat
        ({"text": "hi", "meta": {"tokens": {"input_tokens": 7, "output_tokens": 2}}}, (7, 2)),
    ],
)
def test_cohere_usage(doc: dict, expected: tuple[int | None, int | None]) -> None:
    # https://docs.cohere.com/reference/chat#response.body.usage
    u = _usage(doc)
    assert (u.input_tokens, u.output_tokens) == expected


def test_non_numbers_are_not_reported_as_counts() -> None:
    u = normalise("openai", {"prompt_tokens": "12", "completion_tokens": True, "total_tokens": -1})
    assert u.is_empty()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/v1beta/models/gemini-2.0-flash:generateContent",
            ("gemini-2.0-flash", "/v1beta/models/{model}"),
        ),
        (
            "/v1/projects/p1/locations/us-central1/publishers/anthropic/models/"
            "claude-3-5-sonnet-v2@20241022:streamRawPredict",
            (
                "claude-3-5-sonnet-v2@20241022",
                "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}",
            ),
        ),
        (
            "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream",
            ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "/model/{model}"),
        ),
    ],
)
def test_url_templates(path: str, expected: tuple[str, str]) -> None:
    found = ids_from_url(path, "")
    assert [(f.model_id, f.location) for f in found] == [expected]


def test_azure_deployment_and_realtime_query() -> None:
    found = ids_from_url("/openai/deployments/my-gpt4/chat/completions", "api-version=2024-10-21")
    assert [(f.model_id, f.kind) for f in found] == [("my-gpt4", "deployment")]
    found = ids_from_url("/v1/realtime", "model=gpt-4o-realtime-preview")
    assert [(f.model_id, f.source, f.location) for f in found] == [
        ("gpt-4o-realtime-preview", "url_query", "?model")
    ]


def test_api_from_path() -> None:
    assert api_from_path("/v1/chat/completions") == "openai.chat"
    assert api_from_path("/inference/v1/chat/completions") == "openai.chat"
    assert api_from_path("/v1/responses") == "openai.responses"
    assert api_from_path("/v1/messages") == "anthropic.messages"
    assert api_from_path("/v1/messages/count_tokens") == "anthropic.count_tokens"
    assert api_from_path("/v1beta/models/gemini-pro:countTokens") == "gemini.count_tokens"
    assert api_from_path("/aiserver.v1.ChatService/X", "application/connect+proto") == "connect"
    assert api_from_path("/svc/M", "application/grpc-web+proto") == "grpc-web"


def test_header_ids_only_from_model_headers() -> None:
    headers = [("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy"), ("OpenAI-Model", "gpt-4o-mini")]
    assert ids_from_headers(headers) == [("gpt-4o-mini", "openai-model")]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "model",
                    "usage",
                    "message",
                    "response",
                    "prompt_tokens",
                    "input_tokens",
                    "usageMetadata",
                    "x",
                    "type",
                    "object",
                    "provider",
                ]
            ),
            c,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@CI
@given(doc=_json, api=st.sampled_from([None, "anthropic.messages", "openai.responses"]))
def test_property_any_json_scans_without_raising(doc: object, api: str | None) -> None:
    found = scan_document(doc, api=api)
    assert all(isinstance(m, str) for m, _ in found.ids)
    _usage(doc, api)
