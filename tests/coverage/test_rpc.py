"""gRPC, gRPC-web and the coding tools' protobuf RPCs through ``extract()``.

Sources:

* gRPC over HTTP/2 (Length-Prefixed-Message, ``grpc-encoding``, trailers ``grpc-status`` /
  ``grpc-message``): https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
* gRPC-web (trailer frame flag 0x80, ``application/grpc-web-text`` base64 bodies):
  https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md
* Connect end-stream errors: https://connectrpc.com/docs/protocol/#error-end-stream
* Windsurf / Codeium RPCs and field numbers (Metadata.api_key = 3, RawGetChatMessageRequest
  chat_model = 4 enum, chat_model_name = 5, GetChatMessage ClientMetadata.session_token = 3),
  and the model enum / uid table: https://github.com/dwgx/WindsurfAPI (src/windsurf.js,
  src/devin-connect.js, src/models.js; the commits are pinned in fingerprints/protobuf_*.json)
* Cursor ``aiserver.v1`` StreamUnifiedChatRequestWithTools{1: StreamUnifiedChatRequest{5:
  ModelDetails{1: model_name, 2: api_key}}}: https://github.com/Distracted-E421/nixos-cursor
  (tools/cursor-agent-tui/capture/PROTO_SCHEMA_ANALYSIS.md); ``agent.v1.ModelDetails
  {model_id = 1, display_model_id = 3}``: https://github.com/Yukaii/opencode-cursor-auth
"""

from __future__ import annotations

import base64
import gzip
import json

from hypothesis import given
from hypothesis import strategies as st

from provenance.extract import BodyTap, extract
from tests.coverage.conftest import CI, envelope, ids, pb_len, pb_varint, raw_exchange

SESSION = "devin-session-token$eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLXZhbHVl"
BYOK = "my-own-provider-key-0123456789"
WINDSURF = "https://server.codeium.com/exa.api_server_pb.ApiServerService/GetChatMessage"


def test_grpc_with_per_message_gzip_and_http2_trailers(redactor) -> None:
    request = pb_len(1, pb_len(1, "windsurf") + pb_len(3, SESSION)) + pb_len(5, "claude-sonnet-4-6")
    response = pb_len(1, pb_len(5, "Hello")) + pb_len(9, "MODEL_SWE_1_5")
    raw = raw_exchange(
        WINDSURF,
        request_headers=[("content-type", "application/grpc+proto"), ("grpc-encoding", "gzip")],
        request_body=envelope(gzip.compress(request), flags=1),
        response_headers=[("content-type", "application/grpc+proto"), ("grpc-encoding", "gzip")],
        response_body=envelope(gzip.compress(response), flags=1),
        response_trailers=[("grpc-status", "0"), ("grpc-message", "")],
    )
    record = extract(raw, redactor=redactor)
    assert record.api == "grpc" and record.provider == "codeium"
    assert ("claude-sonnet-4-6", "protobuf_field", "request") in ids(record)
    assert ("MODEL_SWE_1_5", "protobuf_field", "response") in ids(record)
    assert ("swe-1.5-fast", "protobuf_field", "response") in ids(record)  # uid mapped by data
    assert record.response_headers[-2:] == [("grpc-status", "0"), ("grpc-message", "")]
    assert SESSION not in (record.request_body or "")
    assert "[REDACTED:windsurf-session-token:" in record.request_body
    assert record.parse_errors == []


def test_grpc_web_trailer_frame_and_error_status(redactor) -> None:
    trailers = b"grpc-status:8\r\ngrpc-message:quota exhausted\r\n"
    raw = raw_exchange(
        "https://api2.cursor.sh/aiserver.v1.AiService/CheckQueuePosition",
        request_headers=[("content-type", "application/grpc-web+proto")],
        request_body=envelope(
            pb_len(1, "21e2e063-13fa-48d8-be5d-e11517b8e427")
            + pb_len(2, pb_len(1, "claude-4.5-sonnet"))
        ),
        response_headers=[("content-type", "application/grpc-web+proto")],
        response_body=envelope(pb_varint(1, 3)) + envelope(trailers, flags=0x80),
    )
    record = extract(raw, redactor=redactor)
    assert record.api == "grpc-web" and record.provider == "cursor"
    assert ids(record) == {("claude-4.5-sonnet", "protobuf_field", "request")}
    assert ("grpc-status", "8") in record.response_headers
    assert ("grpc-message", "quota exhausted") in record.response_headers
    assert '{"trailers":{"grpc-status":"8"' in record.response_body


def test_grpc_web_text_base64_bodies(redactor) -> None:
    message = envelope(pb_len(4, pb_len(1, "gemini-2.5-pro"))) + envelope(
        b"grpc-status:0\r\n", 0x80
    )
    raw = raw_exchange(
        "https://example.test/pkg.Chat/Complete",
        request_headers=[("content-type", "application/grpc-web-text")],
        request_body=base64.b64encode(message),
        response_headers=[("content-type", "application/grpc-web-text+proto")],
        # a server may send each frame base64-encoded on its own (padding in the middle)
        response_body=base64.b64encode(envelope(pb_len(2, "gpt-5-codex-x")))
        + base64.b64encode(b"\x80\x00\x00\x00\x0fgrpc-status:0\r\n"),
    )
    record = extract(raw, redactor=redactor)
    assert ("gemini-2.5-pro", "protobuf_field", "request") in ids(record)
    assert ("gpt-5-codex-x", "protobuf_field", "response") in ids(record)
    assert ("grpc-status", "0") in record.response_headers


def test_connect_end_stream_error_code_is_kept(redactor) -> None:
    end = {"error": {"code": "resource_exhausted", "message": "slow down"}}
    raw = raw_exchange(
        WINDSURF,
        request_headers=[("content-type", "application/connect+proto")],
        response_headers=[("content-type", "application/connect+proto")],
        response_body=envelope(json.dumps(end).encode(), flags=2),
    )
    record = extract(raw, redactor=redactor)
    assert ("connect-error-code", "resource_exhausted") in record.response_headers


def test_windsurf_raw_get_chat_message_enum_and_api_key(redactor) -> None:
    metadata = pb_len(1, "windsurf") + pb_len(2, "1.9600.41") + pb_len(3, "sk-ws-01-" + "A1b2" * 12)
    body = pb_len(1, metadata) + pb_len(2, pb_len(1, "m1")) + pb_varint(4, 281)
    raw = raw_exchange(
        "http://127.0.0.1:42100/exa.language_server_pb.LanguageServerService/RawGetChatMessage",
        request_headers=[("content-type", "application/connect+proto")],
        request_body=envelope(body),
    )
    record = extract(raw, redactor=redactor)
    enum_obs = [o for o in record.observations if "=enum:" in o.location]
    assert [(o.model_id, o.location) for o in enum_obs] == [
        ("claude-4-sonnet", "4=enum:281:MODEL_CLAUDE_4_SONNET")
    ]
    assert "A1b2A1b2" not in record.request_body
    assert '"3":"[REDACTED:windsurf-api-key:' in record.request_body
    # an enum value without a sourced mapping stays unmapped
    raw.request_body = envelope(pb_len(1, metadata) + pb_varint(4, 99999))
    record = extract(raw, redactor=redactor)
    assert not [o for o in record.observations if "=enum:" in o.location]


def test_cursor_byok_key_and_credentials_redacted_by_field_path(redactor) -> None:
    bedrock_state = (
        pb_len(1, "AKIAZ3MSJV4WWNKWW5FN") + pb_len(2, "plain-words-secret") + pb_len(3, "us-east-1")
    )
    details = pb_len(1, "claude-4.5-sonnet") + pb_len(2, BYOK) + pb_len(7, bedrock_state)
    request = pb_len(1, pb_len(1, pb_len(1, "hello")) + pb_len(5, details))
    raw = raw_exchange(
        "https://api2.cursor.sh/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
        request_headers=[("content-type", "application/connect+proto")],
        request_body=envelope(request),
    )
    record = extract(raw, redactor=redactor)
    body = record.request_body
    for secret in (BYOK, "AKIAZ3MSJV4WWNKWW5FN", "plain-words-secret", "us-east-1"):
        assert secret not in body
    assert "[REDACTED:cursor-byok-key:" in body and "[REDACTED:cursor-bedrock-credentials:" in body
    assert ids(record) == {("claude-4.5-sonnet", "protobuf_field", "request")}
    assert len(record.secret_hashes) == 4
    # the same message under another RPC gets pattern redaction only (the words stay)
    raw.url = "https://api2.cursor.sh/aiserver.v1.Other/Method"
    body = extract(raw, redactor=redactor).request_body
    assert "plain-words-secret" in body and "AKIAZ3MSJV4WWNKWW5FN" not in body


def test_cursor_agent_v1_model_details_at_depth(redactor) -> None:
    details = (
        pb_len(1, "claude-4.5-sonnet-thinking")
        + pb_len(3, "claude-4.5-sonnet")
        + pb_len(4, "Sonnet 4.5")
    )
    request = pb_len(1, pb_len(2, pb_len(6, pb_len(9, details))))
    raw = raw_exchange(
        "https://agent.api5.cursor.sh/agent.v1.AgentService/Run",
        request_headers=[("content-type", "application/connect+proto")],
        request_body=envelope(request),
    )
    record = extract(raw, redactor=redactor)
    assert {(o.model_id, o.location) for o in record.observations} == {
        ("claude-4.5-sonnet-thinking", "1.2.6.9.1"),
        ("claude-4.5-sonnet", "1.2.6.9.3"),
    }


def test_truncated_grpc_web_at_every_byte_position(redactor) -> None:
    body = envelope(pb_len(1, "gpt-4.1-mini")) + envelope(b"grpc-status:0\r\n", 0x80)
    first = len(envelope(pb_len(1, "gpt-4.1-mini")))
    for cut in range(1, len(body)):
        raw = raw_exchange(
            "https://example.test/pkg.S/M",
            response_headers=[("content-type", "application/grpc-web+proto")],
            response_body=body[:cut],
        )
        record = extract(raw, redactor=redactor)
        found = ("gpt-4.1-mini", "protobuf_field", "response") in ids(record)
        assert found == (cut >= first), cut
        if cut not in (first,):
            assert any("truncated envelope" in e for e in record.parse_errors), cut


@CI
@given(
    st.sampled_from(
        [
            "application/grpc",
            "application/grpc-web+proto",
            "application/grpc-web-text",
            "application/connect+proto",
            "application/vnd.amazon.eventstream",
        ]
    ),
    st.binary(max_size=300),
    st.integers(1, 64),
)
def test_any_bytes_through_rpc_framings_never_raise(
    content_type: str, data: bytes, step: int
) -> None:
    tap = BodyTap(
        content_type=content_type,
        content_encoding=None,
        role="response",
        max_body=1000,
        url="https://api2.cursor.sh/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
    )
    for i in range(0, len(data), step):
        tap.feed(data[i : i + step])
    result = tap.finish()
    assert result.raw_size == len(data)
    assert not any(e.startswith("internal error") for e in result.parse_errors)


@CI
@given(
    st.lists(st.binary(max_size=40), min_size=1, max_size=6),
    st.lists(st.integers(1, 30), min_size=1, max_size=6),
)
def test_grpc_web_text_per_frame_base64_in_any_chunking(payloads, sizes) -> None:
    frames = [envelope(pb_len(1, p)) for p in payloads]
    body = b"".join(base64.b64encode(f) for f in frames)  # padding may sit between frames
    tap = BodyTap(
        content_type="application/grpc-web-text",
        content_encoding=None,
        role="response",
        max_body=100_000,
    )
    pos = i = 0
    while pos < len(body):
        step = sizes[i % len(sizes)]
        tap.feed(body[pos : pos + step])
        pos, i = pos + step, i + 1
    result = tap.finish()
    assert result.parse_errors == []
    assert result.frames == len(frames)


@CI
@given(st.binary(max_size=300), st.sampled_from(["request", "response"]))
def test_rpc_maps_never_raise(payload: bytes, role: str) -> None:
    from provenance.extract.rpcmaps import scan_rpc

    for rpc in (
        "/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
        "/exa.language_server_pb.LanguageServerService/SendUserCascadeMessage",
        "/exa.api_server_pb.ApiServerService/GetChatMessage",
    ):
        found = scan_rpc(payload, rpc, role)
        assert all(isinstance(v, str) for _, v in found.secrets)
