"""Hypothesis over the capture addon: arbitrary bodies, headers, encodings and content types.

Each example is one flow driven through the addon's hooks the way mitmproxy drives them
(``requestheaders`` → ``responseheaders`` → streamed chunks through any tee the addon set →
``response``/``error``), inside ``mitmproxy.test.taddons`` with a real SQLite store. Asserted:

- no exception escapes a hook, and none is swallowed either (``hook_failures == 0``);
- the bytes pass unchanged: buffered bodies are the same object contents afterwards, streamed
  chunks come back from the tee exactly as they went in;
- nothing is lost: after ``done()`` every flow is a stored row (``written`` == flows).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any

import brotli
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from tests.capture.dbrows import exchanges

MAX_BODY = 2048  # small, so that bodies above it take the streamed ("large") path too
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOSTS = [
    "api.openai.com",
    "api.anthropic.com",
    "api2.cursor.sh",
    "bedrock-runtime.us-east-1.amazonaws.com",
    "generativelanguage.googleapis.com",
    "api.fireworks.ai",
    "example.test",
]
PATHS = [
    "/v1/chat/completions",
    "/v1/messages",
    "/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
    "/model/anthropic.claude-3-5-sonnet-20241022-v2:0/invoke-with-response-stream",
    "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
    "/",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/event-stream",
    "application/connect+proto",
    "application/connect+json",
    "application/grpc",
    "application/grpc-web+proto",
    "application/x-ndjson",
    "application/vnd.amazon.eventstream",
    "application/proto",
    "text/plain",
    "multipart/form-data; boundary=x",
]
ENCODINGS = [None, "gzip", "br", "zstd", "deflate", "identity", "gzip, br", "x-unknown"]

header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=40
)
header_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Bytes that look like what the content types promise often enough to reach deep parsers."""
    kind = draw(st.sampled_from(["random", "json", "sse", "envelope", "model-json"]))
    if kind == "random":
        return draw(st.binary(max_size=3 * MAX_BODY))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "model-json":
        model = draw(st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "kimi-k2p5", ""]))
        extra = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3))
        return json.dumps({"model": model, **extra}).encode()
    if kind == "sse":
        frames = draw(st.lists(st.one_of(json_values.map(json.dumps), header_text), max_size=8))
        sep = draw(st.sampled_from(["\n\n", "\r\n\r\n", "\n"]))
        return "".join(f"data: {f}{sep}" for f in frames).encode()
    messages = draw(st.lists(st.binary(max_size=200), max_size=5))
    out = b""
    for m in messages:
        flag = draw(st.sampled_from([0, 1, 2, 0x80]))
        length = draw(st.sampled_from([len(m), len(m) + 5, max(0, len(m) - 1)]))
        out += bytes([flag]) + length.to_bytes(4, "big") + m
    return out


def encode(body: bytes, encoding: str | None, valid: bool) -> bytes:
    if not valid or encoding in (None, "identity", "x-unknown", "gzip, br"):
        return body
    return {
        "gzip": gzip.compress,
        "br": brotli.compress,
        "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
        "deflate": zlib.compress,
    }[encoding](body)


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    host = draw(st.sampled_from(HOSTS))
    path = draw(st.sampled_from(PATHS)) + draw(st.sampled_from(["", "?alt=sse", "?key=abc"]))
    resp_ct = draw(st.sampled_from([*CONTENT_TYPES, None]))
    resp_enc = draw(st.sampled_from(ENCODINGS))
    resp_body = encode(draw(payloads()), resp_enc, draw(st.booleans()))
    req_body = draw(payloads())
    return {
        "host": host,
        "path": path,
        "req_headers": draw(st.lists(st.tuples(header_name, header_text), max_size=6)),
        "req_ct": draw(st.sampled_from([*CONTENT_TYPES, None])),
        "req_body": req_body,
        "req_chunked": draw(st.booleans()),
        "status": draw(st.sampled_from([200, 200, 200, 400, 429, 500, 101])),
        "resp_headers": draw(st.lists(st.tuples(header_name, header_text), max_size=6)),
        "resp_ct": resp_ct,
        "resp_enc": resp_enc,
        "resp_body": resp_body,
        "resp_length": draw(st.sampled_from(["exact", "none", "wrong"])),
        "splits": draw(st.lists(st.integers(min_value=1, max_value=700), max_size=6)),
        "error": draw(st.booleans()) and draw(st.booleans()),
    }


def chunks_of(body: bytes, splits: list[int]) -> Iterator[bytes]:
    pos = 0
    for size in splits:
        if pos >= len(body):
            break
        yield body[pos : pos + size]
        pos += size
    if pos < len(body):
        yield body[pos:]


def build(spec: dict[str, Any]) -> http.HTTPFlow:
    req = tutils.treq(host=spec["host"], port=443, path=spec["path"].encode(), method=b"POST")
    req.scheme = "https"
    req.headers.clear()
    req.headers["host"] = spec["host"]
    for name, value in spec["req_headers"]:
        req.headers.add(name, value)
    if spec["req_ct"]:
        req.headers["content-type"] = spec["req_ct"]
    if spec["req_chunked"]:
        req.headers["transfer-encoding"] = "chunked"
    else:
        req.headers["content-length"] = str(len(spec["req_body"]))
    req.raw_content = spec["req_body"]
    resp = tutils.tresp(status_code=spec["status"])
    resp.headers.clear()
    for name, value in spec["resp_headers"]:
        resp.headers.add(name, value)
    if spec["resp_ct"]:
        resp.headers["content-type"] = spec["resp_ct"]
    if spec["resp_enc"]:
        resp.headers["content-encoding"] = spec["resp_enc"]
    if spec["resp_length"] == "exact":
        resp.headers["content-length"] = str(len(spec["resp_body"]))
    elif spec["resp_length"] == "wrong":
        resp.headers["content-length"] = str(len(spec["resp_body"]) + 3)
    resp.raw_content = spec["resp_body"]
    return tflow.tflow(req=req, resp=resp)


def drive(addon: Any, spec: dict[str, Any]) -> None:
    """One flow through the hooks, checking that every byte passes unchanged."""
    flow = build(spec)
    req_body, resp_body = spec["req_body"], spec["resp_body"]
    addon.requestheaders(flow)
    if callable(flow.request.stream):
        passed = [flow.request.stream(c) for c in [*chunks_of(req_body, spec["splits"]), b""]]
        assert b"".join(passed) == req_body
        flow.request.raw_content = None
    else:
        assert flow.request.raw_content == req_body
    addon.responseheaders(flow)
    assert flow.response is not None
    if callable(flow.response.stream):
        passed = [flow.response.stream(c) for c in [*chunks_of(resp_body, spec["splits"]), b""]]
        assert b"".join(passed) == resp_body
        flow.response.raw_content = None
    else:
        assert flow.response.raw_content == resp_body
    if spec["error"]:
        from mitmproxy import flow as mflow

        flow.error = mflow.Error("connection reset by peer")
        addon.error(flow)
    else:
        addon.response(flow)
    if flow.response.raw_content is not None:
        assert flow.response.raw_content == resp_body
    if flow.request.raw_content is not None:
        assert flow.request.raw_content == req_body


@pytest.fixture
def addon() -> Any:
    from provenance.addons.capture import Capture

    return Capture(print_summary=False)


@pytest.mark.slow
def test_arbitrary_flows_pass_unchanged_and_are_all_stored(addon: Any, sqlite_url: str) -> None:
    count = 0
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url, provenance_max_body=MAX_BODY)

        @SETTINGS
        @given(spec=flows())
        def one(spec: dict[str, Any]) -> None:
            nonlocal count
            drive(addon, spec)
            count += 1
            assert addon.session.stats.hook_failures == 0

        one()
        addon.done()
    summary = addon.summary
    assert count >= 100  # the examples really ran
    assert summary.hook_failures == 0
    assert summary.dropped == 0 and not summary.write_failures
    assert summary.written == count
    assert len(exchanges(sqlite_url)) == count


@pytest.mark.parametrize("keep_bodies", [True, False])
def test_arbitrary_headers_only(addon: Any, sqlite_url: str, keep_bodies: bool) -> None:
    """Header-only variety (no body): a fast, unmarked companion of the test above."""
    count = 0
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url, provenance_bodies=keep_bodies)

        @settings(max_examples=40, deadline=None)
        @given(
            req_headers=st.lists(st.tuples(header_name, header_text), max_size=10),
            resp_headers=st.lists(st.tuples(header_name, header_text), max_size=10),
            host=st.sampled_from(HOSTS),
        )
        def one(
            req_headers: list[tuple[str, str]], resp_headers: list[tuple[str, str]], host: str
        ) -> None:
            nonlocal count
            spec = {
                "host": host,
                "path": "/v1/chat/completions",
                "req_headers": req_headers,
                "req_ct": None,
                "req_body": b"",
                "req_chunked": False,
                "status": 200,
                "resp_headers": resp_headers,
                "resp_ct": "application/json",
                "resp_enc": None,
                "resp_body": b"{}",
                "resp_length": "exact",
                "splits": [],
                "error": False,
            }
            drive(addon, spec)
            count += 1

        one()
        addon.done()
    assert addon.summary.hook_failures == 0
    assert addon.summary.written == count == len(exchanges(sqlite_url))
