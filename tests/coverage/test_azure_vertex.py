"""Azure OpenAI / Azure AI Foundry and Vertex AI through ``extract()``.

Sources:

* Azure OpenAI data-plane reference (deployments path, ``api-key`` header, response with
  ``prompt_filter_results`` / ``content_filter_results``):
  https://learn.microsoft.com/en-us/azure/ai-services/openai/reference
* Azure OpenAI v1 API (``/openai/v1/chat/completions``, model in the body):
  https://learn.microsoft.com/en-us/azure/ai-foundry/openai/api-version-lifecycle
* Azure AI Foundry model inference (``/models/chat/completions``):
  https://learn.microsoft.com/en-us/azure/ai-foundry/model-inference/reference/reference-model-inference-chat-completions
* Vertex AI generateContent / streamGenerateContent / countTokens:
  https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference
* Claude on Vertex (rawPredict, streamRawPredict; anthropic_version vertex-2023-10-16):
  https://docs.anthropic.com/en/api/claude-on-vertex-ai
* Partner and open models on Vertex (Mistral ``rawPredict``, Llama MaaS through the
  OpenAI-compatible endpoint):
  https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/mistral,
  https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/llama
"""

from __future__ import annotations

import json

import pytest

from provenance.extract import extract
from tests.coverage.conftest import ids, raw_exchange

AZURE_KEY = "8f3c2a1b9d7e4f6a0b5c3d2e1f4a6b8c"
YA29 = "ya29.a0AfB_byC" + "Q3x9Lm2Np7Rt5Vw1Yz4Ab6Cd8Ef0Gh2Ij4Kl6Mn8Op0Qr2St4Uv6Wx8Yz0" * 2

AZURE_RESPONSE = {
    "id": "chatcmpl-7R1nGnsXO8n4oi9UPz2f3UHdgAYMn",
    "object": "chat.completion",
    "created": 1686676106,
    "model": "gpt-4o-2024-08-06",
    "prompt_filter_results": [
        {
            "prompt_index": 0,
            "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
        }
    ],
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Yes."},
            "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
        }
    ],
    "usage": {"completion_tokens": 557, "prompt_tokens": 33, "total_tokens": 590},
}


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("contoso.openai.azure.com", "azure-openai"),
        ("contoso.cognitiveservices.azure.com", "azure-ai-foundry"),
        ("contoso.services.ai.azure.com", "azure-ai-foundry"),
    ],
)
def test_azure_deployment_alias_and_real_model(redactor, host: str, provider: str) -> None:
    raw = raw_exchange(
        f"https://{host}/openai/deployments/prod-chat/chat/completions?api-version=2024-10-21",
        request_headers=[("content-type", "application/json"), ("api-key", AZURE_KEY)],
        request_body=b'{"messages":[{"role":"user","content":"Is it safe?"}]}',
        response_body=json.dumps(AZURE_RESPONSE).encode(),
    )
    record = extract(raw, redactor=redactor)
    assert record.provider == provider and record.api == "openai.chat"
    assert record.deployment == "prod-chat"
    assert [(o.model_id, o.kind) for o in record.observations] == [
        ("prod-chat", "deployment"),
        ("gpt-4o-2024-08-06", "model"),
    ]
    assert (record.usage.input_tokens, record.usage.output_tokens) == (33, 557)
    assert AZURE_KEY not in json.dumps(record.request_headers)
    assert dict(record.request_headers)["api-key"].startswith("[REDACTED:")


def test_azure_stream_with_prompt_filter_chunk(redactor) -> None:
    # Azure's first streamed chunk has an empty model and only prompt_filter_results
    frames = [
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
        },
        {
            "choices": [
                {
                    "delta": {"content": "Hi"},
                    "index": 0,
                    "finish_reason": None,
                    "content_filter_results": {},
                }
            ],
            "created": 1,
            "id": "chatcmpl-1",
            "model": "gpt-4o-mini-2024-07-18",
            "object": "chat.completion.chunk",
        },
        {
            "choices": [],
            "created": 1,
            "id": "chatcmpl-1",
            "model": "gpt-4o-mini-2024-07-18",
            "object": "chat.completion.chunk",
            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
        },
    ]
    body = "".join(f"data: {json.dumps(f)}\n\n" for f in frames) + "data: [DONE]\n\n"
    raw = raw_exchange(
        "https://contoso.openai.azure.com/openai/deployments/mini/chat/completions?api-version=2024-10-21",
        response_headers=[("content-type", "text/event-stream")],
        response_body=body.encode(),
    )
    record = extract(raw, redactor=redactor)
    assert record.parse_errors == []
    assert ("gpt-4o-mini-2024-07-18", "sse_frame", "response") in ids(record)
    assert "" not in {o.model_id for o in record.observations}
    assert record.usage.total_tokens == 10


def test_azure_v1_and_foundry_inference_paths_take_the_model_from_the_body(redactor) -> None:
    for url, model in [
        ("https://contoso.openai.azure.com/openai/v1/chat/completions", "gpt-4.1"),
        (
            "https://contoso.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview",
            "DeepSeek-R1",
        ),
    ]:
        raw = raw_exchange(url, request_body=json.dumps({"model": model, "messages": []}).encode())
        record = extract(raw, redactor=redactor)
        assert record.deployment is None and record.api == "openai.chat"
        assert (model, "request_field", "request") in ids(record)


VERTEX = (
    "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1"
)


def test_vertex_gemini_generate_content_and_oauth_token(redactor) -> None:
    response = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 2, "totalTokenCount": 10},
        "modelVersion": "gemini-2.0-flash-001",
    }
    raw = raw_exchange(
        f"{VERTEX}/publishers/google/models/gemini-2.0-flash:generateContent",
        request_headers=[("content-type", "application/json"), ("authorization", f"Bearer {YA29}")],
        response_body=json.dumps(response).encode(),
    )
    record = extract(raw, redactor=redactor)
    assert record.provider == "google-vertex" and record.api == "gemini.generate"
    assert ids(record) == {
        ("gemini-2.0-flash", "url_path", "request"),
        ("gemini-2.0-flash-001", "response_field", "response"),
    }
    assert record.usage.total_tokens == 10
    assert YA29 not in json.dumps(record.request_headers)
    assert dict(record.request_headers)["authorization"].startswith("Bearer [REDACTED:")


def test_vertex_stream_generate_content_sse_and_count_tokens(redactor) -> None:
    frames = [
        {
            "candidates": [{"content": {"parts": [{"text": "He"}]}}],
            "modelVersion": "gemini-2.5-pro",
        },
        {
            "candidates": [{"content": {"parts": [{"text": "llo"}]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": 5,
                "candidatesTokenCount": 2,
                "thoughtsTokenCount": 7,
                "totalTokenCount": 14,
            },
            "modelVersion": "gemini-2.5-pro",
        },
    ]
    body = "".join(f"data: {json.dumps(f)}\r\n\r\n" for f in frames)
    raw = raw_exchange(
        f"{VERTEX}/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        response_headers=[("content-type", "text/event-stream")],
        response_body=body.encode(),
    )
    record = extract(raw, redactor=redactor)
    assert (record.usage.output_tokens, record.usage.reasoning_tokens) == (9, 7)
    raw = raw_exchange(
        f"{VERTEX}/publishers/google/models/gemini-2.5-pro:countTokens",
        response_body=b'{"totalTokens": 31, "totalBillableCharacters": 96}',
    )
    record = extract(raw, redactor=redactor)
    assert record.api == "gemini.count_tokens" and record.usage.input_tokens == 31


def test_vertex_anthropic_raw_predict_and_stream(redactor) -> None:
    base = "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5"
    url = f"{base}/publishers/anthropic/models/claude-3-5-sonnet-v2@20241022"
    request = {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hey Claude!"}],
    }
    response = {
        "id": "msg_vrtx_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-sonnet-v2-20241022",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }
    record = extract(
        raw_exchange(
            url + ":rawPredict",
            request_body=json.dumps(request).encode(),
            response_body=json.dumps(response).encode(),
        ),
        redactor=redactor,
    )
    assert record.api == "anthropic.messages"
    assert ids(record) == {
        ("claude-3-5-sonnet-v2@20241022", "url_path", "request"),
        ("claude-3-5-sonnet-v2-20241022", "response_field", "response"),
    }
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    **response,
                    "content": [],
                    "usage": {"input_tokens": 10, "output_tokens": 1},
                },
            },
        ),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 5},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    body = "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events)
    record = extract(
        raw_exchange(
            url + ":streamRawPredict",
            response_headers=[("content-type", "text/event-stream")],
            response_body=body.encode(),
        ),
        redactor=redactor,
    )
    assert (record.usage.input_tokens, record.usage.output_tokens) == (10, 5)
    assert ("claude-3-5-sonnet-v2-20241022", "sse_frame", "response") in ids(record)


@pytest.mark.parametrize(
    ("publisher", "model"),
    [
        ("mistralai", "mistral-large-2411"),
        ("meta", "llama-3.3-70b-instruct-maas"),
        ("qwen", "qwen3-coder-480b-a35b-instruct-maas"),
        ("deepseek-ai", "deepseek-r1-0528-maas"),
    ],
)
def test_vertex_partner_and_open_model_publishers(redactor, publisher: str, model: str) -> None:
    response = {
        "id": "x",
        "object": "chat.completion",
        "model": model,
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }
    raw = raw_exchange(
        f"{VERTEX}/publishers/{publisher}/models/{model}:rawPredict",
        response_body=json.dumps(response).encode(),
    )
    record = extract(raw, redactor=redactor)
    assert record.api == "vertex.predict"
    assert (model, "url_path", "request") in ids(record)
    assert record.usage.total_tokens == 10
    # the OpenAI-compatible endpoint names the publisher in the body instead
    raw = raw_exchange(
        f"{VERTEX}/endpoints/openapi/chat/completions",
        request_body=json.dumps({"model": f"{publisher}/{model}", "messages": []}).encode(),
    )
    record = extract(raw, redactor=redactor)
    assert (f"{publisher}/{model}", "request_field", "request") in ids(record)
