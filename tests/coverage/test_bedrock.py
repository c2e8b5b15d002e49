"""AWS Bedrock through ``extract()``: URL model ids, event streams, usage, SigV4 redaction.

Sources of the example payloads (each test names the one it follows):

* InvokeModelWithResponseStream (``chunk`` events with base64 ``bytes``):
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html
* Anthropic's own stream events inside those chunks:
  https://docs.anthropic.com/en/docs/build-with-claude/streaming#basic-streaming-request
* ConverseStream events (``messageStart`` … ``metadata``):
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
* Converse response and TokenUsage:
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html,
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
* Meta Llama response body: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-meta.html
* Inference profiles (``us.``/``eu.``/``apac.``/``global.`` ids and ARNs):
  https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
* SigV4 (Authorization header, presigned query parameters):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-signing-elements.html
"""

from __future__ import annotations

import base64
import json

import pytest

from provenance.extract import extract
from provenance.extract.eventstream import encode_message
from provenance.records import Source
from tests.coverage.conftest import ids, raw_exchange

HOST = "https://bedrock-runtime.us-east-1.amazonaws.com"
EVENTSTREAM = [("content-type", "application/vnd.amazon.eventstream")]
ACCESS_KEY = "AKIAZ3MSJV4WWNKWW5FN"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" + "x7Yq" * 20
SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"


def invoke_chunk(doc: dict) -> bytes:
    payload = {"bytes": base64.b64encode(json.dumps(doc).encode()).decode(), "p": "abcdefghij"}
    headers = [
        (":event-type", "chunk"),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ]
    return encode_message(headers, json.dumps(payload).encode())


def converse_event(name: str, doc: dict) -> bytes:
    headers = [
        (":event-type", name),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ]
    return encode_message(headers, json.dumps(doc).encode())


ANTHROPIC_CHUNKS = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-3-5-sonnet-20240620",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 15}},
    {
        "type": "message_stop",
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": 25,
            "outputTokenCount": 15,
            "invocationLatency": 1234,
            "firstByteLatency": 321,
        },
    },
]


def test_invoke_with_response_stream_anthropic_chunks(redactor) -> None:
    body = b"".join(invoke_chunk(c) for c in ANTHROPIC_CHUNKS)
    url = f"{HOST}/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream"
    raw = raw_exchange(
        url,
        request_body=json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "Hi"}],
            }
        ).encode(),
        response_headers=EVENTSTREAM,
        response_body=body,
        streamed=True,
    )
    record = extract(raw, redactor=redactor)
    assert record.provider == "aws-bedrock"
    assert record.api == "bedrock.invoke"
    assert ids(record) == {
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "url_path", "request"),
        ("claude-3-5-sonnet-20240620", "stream_frame", "response"),
    }
    assert record.usage.input_tokens == 25 and record.usage.output_tokens == 15
    assert "chunk:$.amazon-bedrock-invocationMetrics" in record.usage.raw
    assert record.parse_errors == []
    lines = [json.loads(line) for line in record.response_body.splitlines()]
    assert lines[0]["event"] == "chunk" and lines[0]["bytes"]["type"] == "message_start"


def test_converse_stream_metadata_usage_and_cache_fields(redactor) -> None:
    # ConverseStream: messageStart, contentBlockDelta, contentBlockStop, messageStop, metadata
    body = b"".join(
        [
            converse_event("messageStart", {"role": "assistant", "p": "abc"}),
            converse_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
            converse_event("contentBlockStop", {"contentBlockIndex": 0}),
            converse_event("messageStop", {"stopReason": "end_turn"}),
            converse_event(
                "metadata",
                {
                    "usage": {
                        "inputTokens": 4,
                        "outputTokens": 17,
                        "totalTokens": 1189,
                        "cacheReadInputTokens": 0,
                        "cacheWriteInputTokens": 1168,
                    },
                    "metrics": {"latencyMs": 512},
                },
            ),
        ]
    )
    url = f"{HOST}/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream"
    raw = raw_exchange(url, response_headers=EVENTSTREAM, response_body=body, streamed=True)
    record = extract(raw, redactor=redactor)
    assert record.api == "bedrock.converse"
    assert ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "url_path", "request") in ids(record)
    usage = record.usage
    # inputTokens excludes cache reads and writes (AWS prompt-caching guide): 4 + 0 + 1168
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (1172, 17, 1189)
    assert (usage.cached_tokens, usage.cache_write_tokens) == (0, 1168)


def test_converse_json_response(redactor) -> None:
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 30, "outputTokens": 628, "totalTokens": 658},
        "metrics": {"latencyMs": 1275},
    }
    raw = raw_exchange(
        f"{HOST}/model/amazon.nova-micro-v1%3A0/converse",
        response_body=json.dumps(response).encode(),
    )
    record = extract(raw, redactor=redactor)
    assert record.api == "bedrock.converse"
    assert ("amazon.nova-micro-v1:0", "url_path", "request") in ids(record)
    assert (record.usage.input_tokens, record.usage.output_tokens) == (30, 628)
    assert record.usage.total_tokens == 658


def test_llama_stream_prefers_invocation_metrics(redactor) -> None:
    chunks = [
        {
            "generation": "Hello",
            "prompt_token_count": 12,
            "generation_token_count": 1,
            "stop_reason": None,
        },
        {
            "generation": " world",
            "prompt_token_count": None,
            "generation_token_count": 2,
            "stop_reason": None,
        },
        {
            "generation": "",
            "prompt_token_count": None,
            "generation_token_count": 3,
            "stop_reason": "stop",
            "amazon-bedrock-invocationMetrics": {"inputTokenCount": 12, "outputTokenCount": 3},
        },
    ]
    body = b"".join(invoke_chunk(c) for c in chunks)
    raw = raw_exchange(
        f"{HOST}/model/meta.llama3-70b-instruct-v1%3A0/invoke-with-response-stream",
        response_headers=EVENTSTREAM,
        response_body=body,
    )
    record = extract(raw, redactor=redactor)
    assert (record.usage.input_tokens, record.usage.output_tokens) == (12, 3)


def test_llama_json_invoke_and_token_count_headers(redactor) -> None:
    doc = {
        "generation": "Hi",
        "prompt_token_count": 9,
        "generation_token_count": 2,
        "stop_reason": "stop",
    }
    raw = raw_exchange(
        f"{HOST}/model/meta.llama3-8b-instruct-v1%3A0/invoke",
        response_body=json.dumps(doc).encode(),
    )
    record = extract(raw, redactor=redactor)
    assert (record.usage.input_tokens, record.usage.output_tokens) == (9, 2)
    # Titan text has no usage object we read; the response headers still count tokens
    raw = raw_exchange(
        f"{HOST}/model/amazon.titan-text-express-v1/invoke",
        response_headers=[
            ("content-type", "application/json"),
            ("X-Amzn-Bedrock-Input-Token-Count", "11"),
            ("X-Amzn-Bedrock-Output-Token-Count", "40"),
        ],
        response_body=json.dumps({"results": [{"outputText": "x", "tokenCount": 40}]}).encode(),
    )
    record = extract(raw, redactor=redactor)
    assert (record.usage.input_tokens, record.usage.output_tokens) == (11, 40)


def test_count_tokens(redactor) -> None:
    raw = raw_exchange(
        f"{HOST}/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/count-tokens",
        response_body=b'{"inputTokens": 123}',
    )
    record = extract(raw, redactor=redactor)
    assert record.api == "bedrock.count_tokens"
    assert record.usage.input_tokens == 123


def test_stream_exception_is_recorded_by_type(redactor) -> None:
    body = invoke_chunk(ANTHROPIC_CHUNKS[0]) + encode_message(
        [
            (":exception-type", "throttlingException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        b'{"message":"Too many requests, please wait before trying again."}',
    )
    raw = raw_exchange(
        f"{HOST}/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream",
        response_headers=EVENTSTREAM,
        response_body=body,
    )
    record = extract(raw, redactor=redactor)
    assert "response: stream exception: throttlingException" in record.parse_errors
    assert ("x-amzn-exception", "throttlingException") in record.response_headers


def test_corrupted_stream_still_yields_later_usage(redactor) -> None:
    chunks = [invoke_chunk(c) for c in ANTHROPIC_CHUNKS]
    broken = bytearray(chunks[0])
    broken[20] ^= 0xFF  # inside the first message: its CRC fails, the rest frames fine
    body = bytes(broken) + b"".join(chunks[1:])
    raw = raw_exchange(
        f"{HOST}/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream",
        response_headers=EVENTSTREAM,
        response_body=body,
    )
    record = extract(raw, redactor=redactor)
    assert "response: event-stream message CRC mismatch; message skipped" in record.parse_errors
    assert record.usage.output_tokens == 15  # from message_delta / invocation metrics


@pytest.mark.parametrize(
    ("path_id", "model_id"),
    [
        (
            "anthropic.claude-3-5-sonnet-20241022-v2%3A0",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
        ),
        ("us.amazon.nova-micro-v1%3A0", "us.amazon.nova-micro-v1:0"),
        (
            "eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0",
            "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        ),
        (
            "apac.anthropic.claude-sonnet-4-20250514-v1%3A0",
            "apac.anthropic.claude-sonnet-4-20250514-v1:0",
        ),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1%3A0",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        (
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6",
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0",
            "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0",
        ),
    ],
)
@pytest.mark.parametrize(
    "method", ["invoke", "invoke-with-response-stream", "converse", "converse-stream"]
)
def test_model_id_from_the_url_path(redactor, path_id: str, model_id: str, method: str) -> None:
    record = extract(raw_exchange(f"{HOST}/model/{path_id}/{method}"), redactor=redactor)
    urls = [o for o in record.observations if o.source == Source.URL_PATH]
    assert [(o.model_id, o.location) for o in urls] == [(model_id, "/model/{model}")]


def test_sigv4_headers_and_presigned_query_are_redacted(redactor) -> None:
    auth = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250101/us-east-1/bedrock/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature={SIGNATURE}"
    )
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={ACCESS_KEY}%2F20250101%2Fus-east-1%2Fbedrock%2Faws4_request"
        "&X-Amz-Date=20250101T000000Z"
        f"&X-Amz-Security-Token={SESSION_TOKEN.replace('/', '%2F')}"
        f"&X-Amz-Signature={SIGNATURE}"
    )
    raw = raw_exchange(
        f"{HOST}/model/amazon.nova-lite-v1%3A0/converse?{query}",
        request_headers=[
            ("content-type", "application/json"),
            ("authorization", auth),
            ("x-amz-date", "20250101T000000Z"),
            ("x-amz-security-token", SESSION_TOKEN),
        ],
    )
    record = extract(raw, redactor=redactor)
    stored = json.dumps([record.path, record.request_headers])
    for secret in (ACCESS_KEY, SIGNATURE, SESSION_TOKEN, SESSION_TOKEN[:40]):
        assert secret not in stored
    headers = dict(record.request_headers)
    assert headers["x-amz-date"] == "20250101T000000Z"  # a timestamp, not a secret
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=[REDACTED:")
    assert (
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"
        in headers["authorization"]
    )
    assert "X-Amz-Date=20250101T000000Z" in record.path
    assert (
        "X-Amz-Credential=[REDACTED:" in record.path and "X-Amz-Signature=[REDACTED:" in record.path
    )
    assert len(record.secret_hashes) >= 3
