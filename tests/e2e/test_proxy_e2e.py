"""End to end through a real ``mitmdump -s addons/capture.py``: real SDKs, real streams, real store.

The stand-in upstream runs on loopback (HTTP, and HTTPS with a self-signed certificate that the
proxy accepts with ``ssl_insecure``); clients trust only mitmproxy's CA from a temp confdir.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from provenance.standins.processes import ProxyProcess
from provenance.standins.provider import CONNECT_PATH, StandInProvider, connect_chat_request
from tests.e2e.conftest import has_header, proxied_client, sdk_client, wait_for_rows

pytestmark = pytest.mark.e2e

KIMI = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"


def ids(row: dict) -> set[tuple[str, str, str]]:
    return {(i[0], i[1], i[3]) for i in row["ids"]}


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_openai_sdk_json_and_sse(
    shared_proxy: tuple[ProxyProcess, str],
    standin: StandInProvider,
    standin_tls: StandInProvider,
    confdir: Path,
    tls: bool,
) -> None:
    proxy, db = shared_proxy
    upstream = standin_tls if tls else standin
    tag = uuid.uuid4().hex
    with sdk_client(openai, proxy, confdir) as http_client:
        client = openai.OpenAI(
            base_url=f"{upstream.base_url}/v1",
            api_key="sk-test-e2e",
            http_client=http_client,
            default_headers={"x-test-id": tag},
        )
        reply = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hello json"}]
        )
        assert reply.model == "gpt-4o-2024-08-06"
        stream = client.chat.completions.create(
            model=KIMI,
            messages=[{"role": "user", "content": "hello sse"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "Stand-in reply: hello sse"
    rows = wait_for_rows(db, has_header("x-test-id", tag), count=2)
    assert len(rows) == 2
    json_row, sse_row = sorted(rows, key=lambda r: r["streamed"])
    assert ids(json_row) == {
        ("gpt-4o", "request_field", "request"),
        ("gpt-4o-2024-08-06", "response_field", "response"),
    }
    assert (KIMI, "request_field", "request") in ids(sse_row)
    assert (KIMI, "sse_frame", "response") in ids(sse_row)
    assert sse_row["streamed"] in (1, True) and sse_row["output_tokens"] is not None
    assert json_row["scheme"] == ("https" if tls else "http")
    assert json_row["ttfb_ms"] is not None and json_row["latency_ms"] >= json_row["ttfb_ms"]
    if tls:
        assert json_row["client_ja4"]  # the client's TLS ClientHello was fingerprinted


def test_anthropic_sdk_json_and_sse(
    shared_proxy: tuple[ProxyProcess, str], standin_tls: StandInProvider, confdir: Path
) -> None:
    proxy, db = shared_proxy
    tag = uuid.uuid4().hex
    with sdk_client(anthropic, proxy, confdir) as http_client:
        client = anthropic.Anthropic(
            base_url=standin_tls.base_url,
            api_key="sk-ant-test",
            http_client=http_client,
            default_headers={"x-test-id": tag},
        )
        msg = client.messages.create(
            model="claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
        assert msg.model == "claude-sonnet-4-5-20250929"
        with client.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=50,
            messages=[{"role": "user", "content": "stream"}],
        ) as s:
            assert s.get_final_text() == "Stand-in reply: stream"
    rows = wait_for_rows(db, has_header("x-test-id", tag), count=2)
    found = set().union(*(ids(r) for r in rows))
    assert ("claude-sonnet-4-5-20250929", "response_field", "response") in found
    assert ("claude-haiku-4-5-20251001", "sse_frame", "response") in found
    assert ("claude-haiku-4-5", "request_field", "request") in found


def test_connect_protobuf_request_carries_the_kimi_id(
    shared_proxy: tuple[ProxyProcess, str], standin_tls: StandInProvider, confdir: Path
) -> None:
    proxy, db = shared_proxy
    tag = uuid.uuid4().hex
    body = connect_chat_request(KIMI, "write a test")
    with proxied_client(proxy, confdir) as client:
        resp = client.post(
            f"{standin_tls.base_url}{CONNECT_PATH}",
            content=body,
            headers={
                "content-type": "application/connect+proto",
                "connect-protocol-version": "1",
                "x-test-id": tag,
            },
        )
        assert resp.status_code == 200 and resp.content.endswith(b"\x02\x00\x00\x00\x02{}")
    (row,) = wait_for_rows(db, has_header("x-test-id", tag))
    assert [(i[0], i[1], i[2]) for i in row["ids"] if i[3] == "request"] == [
        (KIMI, "protobuf_field", "1.5.1")
    ]
    assert row["streamed"] in (1, True)


def read_paused_stream(
    client: httpx.Client, upstream: StandInProvider
) -> tuple[bytes, bool, bytes]:
    """Start a paused SSE stream; return (first chunk, was chunk 2 already sent then, the rest)."""
    request = client.build_request(
        "POST",
        f"{upstream.base_url}/v1/chat/completions",
        json={"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        headers={"x-standin-pause": "1"},
    )
    resp = client.send(request, stream=True)
    try:
        chunks = resp.iter_raw()
        first = next(chunks)
        second_already_sent = upstream.second_sending.is_set()
        upstream.release.set()
        rest = b"".join(chunks)
    finally:
        upstream.release.set()
        resp.close()
    return first, second_already_sent, rest


def test_first_sse_chunk_arrives_before_the_upstream_sends_the_second(
    shared_proxy: tuple[ProxyProcess, str], confdir: Path
) -> None:
    """Fails if the proxy buffers: the upstream holds chunk 2 until the client has chunk 1."""
    proxy, _ = shared_proxy
    with StandInProvider(pause=10.0) as upstream, proxied_client(proxy, confdir) as client:
        first, second_already_sent, rest = read_paused_stream(client, upstream)
    assert first.startswith(b"data: ")
    assert not second_already_sent, "the proxy held the first chunk until the upstream sent more"
    assert rest.endswith(b"data: [DONE]\n\n")


def test_the_ordering_check_itself_passes_direct() -> None:
    """The same check without the proxy (the baseline the proxied run is compared with)."""
    with StandInProvider(pause=10.0) as upstream, httpx.Client(trust_env=False) as client:
        first, second_already_sent, rest = read_paused_stream(client, upstream)
    assert first.startswith(b"data: ") and not second_already_sent
    assert rest.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("encoding", [None, "gzip", "br", "zstd"])
@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
def test_bytes_pass_unchanged(
    shared_proxy: tuple[ProxyProcess, str],
    standin_tls: StandInProvider,
    confdir: Path,
    encoding: str | None,
    stream: bool,
) -> None:
    proxy, db = shared_proxy
    tag = uuid.uuid4().hex
    headers = {"x-standin-id": tag, "x-test-id": tag}
    if encoding:
        headers["x-standin-encoding"] = encoding
    body = {
        "model": "deepseek-chat",
        "stream": stream,
        "messages": [{"role": "user", "content": "bytes " * 200}],
    }
    with (
        proxied_client(proxy, confdir) as client,
        client.stream(
            "POST", f"{standin_tls.base_url}/v1/chat/completions", json=body, headers=headers
        ) as resp,
    ):
        received = b"".join(resp.iter_raw())
    assert resp.headers.get("content-encoding") == encoding
    assert hashlib.sha256(received).hexdigest() == standin_tls.sent[tag]
    (row,) = wait_for_rows(db, has_header("x-test-id", tag))
    assert ("deepseek-chat", "sse_frame" if stream else "response_field", "response") in ids(row)
    assert row["parse_errors"] == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_request_above_the_body_cap_keeps_its_size_digest_prefix_and_model_id(
    shared_proxy: tuple[ProxyProcess, str],
    standin_tls: StandInProvider,
    confdir: Path,
    chunked: bool,
) -> None:
    """A long-context request (1.5 MB, over the default 1 MB cap) with the model field last and
    a Google key straddling the cap: stored with its size, digest, a prefix without the key,
    and the model id; the upstream gets every byte."""
    proxy, db = shared_proxy
    tag = uuid.uuid4().hex
    cap = 1_000_000
    google_key = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
    head = b'{"messages": [{"role": "user", "content": "'
    filler = b"long context " * ((cap - len(head) - 20) // 13)
    prompt = head + filler + google_key.encode() + b" " + b"more " * 100_000
    body = prompt + b'"}], "stream": false, "model": "kimi-k2.5"}'
    assert len(head + filler) < cap < len(head + filler) + len(google_key)
    headers = {"x-test-id": tag, "content-type": "application/json"}
    with proxied_client(proxy, confdir) as client:
        content = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
        reply = client.post(
            f"{standin_tls.base_url}/v1/chat/completions",
            content=content if chunked else body,
            headers=headers,
        )
    assert reply.status_code == 200
    (row,) = wait_for_rows(db, has_header("x-test-id", tag))
    assert ("kimi-k2.5", "request_field", "request") in ids(row)
    assert row["request_size"] == len(body)
    assert row["request_digest"] == hashlib.sha256(body).hexdigest()
    assert row["bodies_truncated"] in (1, True)
    stored = row["request_body"] or ""
    assert stored.startswith('{"messages"') and len(stored) > cap // 2
    assert all(google_key[:n] not in stored for n in range(8, len(google_key) + 1))
