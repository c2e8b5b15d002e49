"""extract(): one RawExchange in, one redacted ExchangeRecord out; never raises."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from provenance.extract import BodyTap, ExtractOptions, extract
from provenance.records import ExchangeRecord, RawExchange, Source
from tests.extract.conftest import CI, LEAK_ID, envelope, pb_len
from tests.extract.test_tap import OPENAI_SSE

OPENAI_KEY = "sk-proj-" + "Zx9Qw8Er7Ty6Ui5Op4As3Df2" * 2
GOOGLE_KEY = "AIzaSy" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7"


def _raw(**kw) -> RawExchange:
    base = dict(
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        method="post",
        url="https://api.fireworks.ai/inference/v1/chat/completions",
        request_headers=[
            ("content-type", "application/json"),
            ("authorization", f"Bearer {OPENAI_KEY}"),
            ("user-agent", "Cursor/1.0"),
        ],
        request_body=None,
        status=200,
        response_headers=[("content-type", "text/event-stream"), ("content-encoding", "gzip")],
        response_body=None,
    )
    base.update(kw)
    return RawExchange(**base)


def _all_text(record: ExchangeRecord) -> str:
    return json.dumps(
        [
            record.path,
            record.request_headers,
            record.response_headers,
            record.request_body,
            record.response_body,
            record.error,
            [o.model_id for o in record.observations],
            record.parse_errors,
        ]
    )


def test_openai_format_request_with_the_leak_id_and_streamed_response(redactor) -> None:
    body = {
        "messages": [{"role": "user", "content": f"my key is {OPENAI_KEY}"}],
        "model": LEAK_ID,
        "stream": True,
    }
    raw = _raw(request_body=json.dumps(body).encode(), response_body=gzip.compress(OPENAI_SSE))
    rec = extract(raw, redactor=redactor)
    assert (rec.scheme, rec.host, rec.port, rec.method) == (
        "https",
        "api.fireworks.ai",
        443,
        "POST",
    )
    assert rec.api == "openai.chat"
    assert (rec.provider, rec.product) == ("fireworks", "cursor")  # host and User-Agent catalogs
    assert {(o.model_id, o.source, o.location, o.role) for o in rec.observations} == {
        (LEAK_ID, Source.REQUEST_FIELD, "$.model", "request"),
        (LEAK_ID, Source.SSE_FRAME, "$.model", "response"),
    }
    assert (rec.usage.input_tokens, rec.usage.output_tokens) == (12, 3)
    assert OPENAI_KEY not in _all_text(rec)
    assert json.loads(rec.request_body)["model"] == LEAK_ID
    assert (
        "[REDACTED:" in rec.request_body
        and "[REDACTED:" in dict(rec.request_headers)["authorization"]
    )
    assert rec.secret_hashes and len(set(rec.secret_hashes)) == 1  # one key, seen twice
    assert rec.response_body == OPENAI_SSE.decode()
    assert rec.response_size == len(gzip.compress(OPENAI_SSE))
    assert rec.parse_errors == []


def test_gemini_url_model_query_key_and_no_bodies(redactor) -> None:
    url = (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash"
        f":generateContent?key={GOOGLE_KEY}"
    )
    resp = {
        "candidates": [],
        "modelVersion": "gemini-2.0-flash-001",
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
    }
    raw = _raw(
        url=url,
        request_body=b'{"contents": []}',
        response_body=json.dumps(resp).encode(),
        response_headers=[("content-type", "application/json")],
    )
    rec = extract(raw, redactor=redactor, options=ExtractOptions(keep_bodies=False))
    assert GOOGLE_KEY not in rec.path and rec.path.startswith("/v1beta/models/gemini-2.0-flash:")
    assert {(o.model_id, o.source, o.location) for o in rec.observations} == {
        ("gemini-2.0-flash", Source.URL_PATH, "/v1beta/models/{model}"),
        ("gemini-2.0-flash-001", Source.RESPONSE_FIELD, "$.modelVersion"),
    }
    assert rec.request_body is None and rec.response_body is None
    assert rec.request_digest and rec.response_digest
    assert rec.api == "gemini.generate" and rec.usage.total_tokens == 6


def test_streamed_response_tap_from_the_adapter_is_used(redactor) -> None:
    tap = BodyTap(
        content_type="application/connect+proto",
        content_encoding=None,
        role="response",
        max_body=1000,
        url="https://api2.cursor.sh/x.Y/Z",
    )
    for byte in envelope(pb_len(5, pb_len(1, LEAK_ID))):
        tap.feed(bytes([byte]))
    raw = _raw(
        url="https://api2.cursor.sh/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
        response_headers=[("content-type", "application/connect+proto")],
        streamed=True,
    )
    rec = extract(raw, redactor=redactor, response_tap=tap.finish())
    assert [(o.model_id, o.source, o.location) for o in rec.observations] == [
        (LEAK_ID, Source.PROTOBUF_FIELD, "5.1")
    ]
    assert rec.api == "connect" and rec.streamed
    assert json.loads(rec.response_body) == {"5": {"1": LEAK_ID}}


def test_protobuf_byok_key_is_redacted_in_the_projection(redactor) -> None:
    msg = pb_len(5, pb_len(1, LEAK_ID) + pb_len(2, OPENAI_KEY))
    raw = _raw(
        url="https://api2.cursor.sh/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
        request_headers=[("content-type", "application/connect+proto")],
        request_body=envelope(msg),
        response_body=None,
    )
    rec = extract(raw, redactor=redactor)
    assert OPENAI_KEY not in _all_text(rec)
    assert LEAK_ID in rec.request_body and rec.secret_hashes


def test_anthropic_request_id_header_is_not_a_model_but_openai_model_is(redactor) -> None:
    raw = _raw(
        url="https://api.anthropic.com/v1/messages",
        response_headers=[
            ("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy"),
            ("openai-model", "gpt-4o-mini-2024-07-18"),
        ],
    )
    rec = extract(raw, redactor=redactor)
    assert [(o.model_id, o.source, o.location, o.role) for o in rec.observations] == [
        ("gpt-4o-mini-2024-07-18", Source.HEADER, "openai-model", "response")
    ]


def test_bad_traffic_becomes_parse_errors(redactor) -> None:
    raw = _raw(
        request_body=b'{"model": "gpt-4o", "messages": [',
        response_body=b"\x1f\x8b\x08garbage",
        url="not a url at all",
        error="connection reset",
    )
    rec = extract(raw, redactor=redactor)
    assert any(e.startswith("request: malformed JSON") for e in rec.parse_errors)
    assert any(e.startswith("response: invalid gzip data") for e in rec.parse_errors)
    assert rec.error == "connection reset"


def test_product_override_and_max_body(redactor) -> None:
    raw = _raw(product="my-tool", response_body=gzip.compress(OPENAI_SSE))
    rec = extract(raw, redactor=redactor, options=ExtractOptions(max_body=20))
    assert rec.product == "my-tool"
    assert rec.bodies_truncated and len(rec.response_body) <= 20


class _BrokenRedactor:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise RuntimeError("boom " + OPENAI_KEY)

        return fail


def test_a_failing_redactor_costs_data_not_an_exception() -> None:
    raw = _raw(request_body=json.dumps({"model": LEAK_ID}).encode())
    rec = extract(raw, redactor=_BrokenRedactor())  # type: ignore[arg-type]
    assert OPENAI_KEY not in _all_text(rec)
    assert rec.request_headers == [] and rec.request_body is None
    assert any("internal error in header redaction" in e for e in rec.parse_errors)


_headers = st.lists(
    st.tuples(
        st.sampled_from(
            ["content-type", "content-encoding", "x-model", "authorization", "openai-model"]
        ),
        st.text(max_size=20),
    ),
    max_size=4,
)


@CI
@given(
    url=st.text(max_size=60)
    | st.sampled_from(
        [
            "https://api.openai.com/v1/chat/completions",
            "http://[::1]:99999/v1beta/models/x:generateContent?key=1",
            "https://h/model/%ZZ/invoke",
        ]
    ),
    method=st.text(max_size=8),
    req=st.none() | st.binary(max_size=200),
    resp=st.none() | st.binary(max_size=200),
    req_headers=_headers,
    resp_headers=_headers,
)
def test_property_extract_never_raises(url, method, req, resp, req_headers, resp_headers) -> None:
    from provenance.redact import Redactor

    redactor = Redactor(b"property-test-key-0123456789abcdef")
    raw = _raw(
        url=url,
        method=method,
        request_body=req,
        response_body=resp,
        request_headers=req_headers,
        response_headers=resp_headers,
    )
    rec = extract(raw, redactor=redactor)
    assert isinstance(rec, ExchangeRecord)
    assert not any("internal error" in e for e in rec.parse_errors), rec.parse_errors
