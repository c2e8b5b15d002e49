"""End to end through a real ``mitmdump -s addons/capture.py`` (the capture engineer's helpers):
Bedrock event streams, WebSocket sessions (OpenAI Realtime, Gemini Live), gRPC-web, and several
concurrent streams over one HTTP/2 connection; then ``provenance models --json`` on the store.

Upstreams are local stand-ins (``tests/coverage/upstreams.py``) speaking the documented wire
formats; clients are real (httpx, the ``websockets`` library) and go through the proxy.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from provenance.extract.eventstream import parse_event_stream
from provenance.standins.processes import ProxyProcess, mitmdump, run_cli
from tests.coverage.upstreams import (
    BEDROCK_SERVED,
    BinaryUpstream,
    WebSocketUpstream,
    converse_stream,
    grpc_web_frame,
    invoke_stream,
    pb_str,
)
from tests.e2e.conftest import has_header, proxied_client, wait_for_rows
from tests.extract.streamshapes import read_bedrock_converse, read_bedrock_invoke, read_live
from tests.secrets_corpus import assert_no_secrets, plant_text

pytestmark = pytest.mark.e2e

ACCESS_KEY = "AKIAZ3MSJV4WWNKWW5FN"
SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" + "x7Yq" * 20
OPENAI_KEY = "sk-proj-" + "Qw8Er7Ty6Ui5Op4As3Df2Gh1" * 2
GOOGLE_KEY = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
WINDSURF_TOKEN = "devin-session-token$eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJl"
REALTIME_MODEL = "gpt-4o-realtime-preview-2024-12-17"
LIVE_MODEL = "models/gemini-2.0-flash-live-001"


@pytest.fixture(scope="module")
def binary_upstream():
    with BinaryUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def ws_upstream():
    with WebSocketUpstream() as upstream:
        yield upstream


def row_ids(row: dict) -> set[tuple[str, str, str]]:
    return {(i[0], i[1], i[3]) for i in row["ids"]}


def models_json(db: str) -> list[dict]:
    done = run_cli("models", "--db", db, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == "provenance.models/1"
    return doc["models"]


def test_bedrock_event_streams(
    shared_proxy: tuple[ProxyProcess, str], binary_upstream: BinaryUpstream, confdir: Path
) -> None:
    proxy, db = shared_proxy
    tag = uuid.uuid4().hex
    auth = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250101/us-east-1/bedrock/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={SIGNATURE}"
    )
    calls = [
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "invoke-with-response-stream", invoke_stream),
        ("us.amazon.nova-micro-v1:0", "converse-stream", converse_stream),
    ]
    with proxied_client(proxy, confdir) as client:
        for model, method, expected in calls:
            url = f"{binary_upstream.base_url}/model/{quote(model, safe='')}/{method}"
            headers = {
                "x-test-id": tag,
                "authorization": auth,
                "x-amz-security-token": SESSION_TOKEN,
                "x-amz-date": "20250101T000000Z",
            }
            with client.stream(
                "POST", url, json={"prompt": "bedrock says hi"}, headers=headers
            ) as resp:
                received = b"".join(resp.iter_raw())
            assert received == b"".join(expected("bedrock says hi"))  # bytes unchanged
            messages, errors = parse_event_stream(received)
            assert errors == [] and len(messages) == 4
    rows = wait_for_rows(db, has_header("x-test-id", tag), count=2)
    assert len(rows) == 2
    invoke = next(r for r in rows if r["api"] == "bedrock.invoke")
    converse = next(r for r in rows if r["api"] == "bedrock.converse")
    assert invoke["streamed"] in (1, True)
    assert row_ids(invoke) == {
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "url_path", "request"),
        (BEDROCK_SERVED, "stream_frame", "response"),
    }
    assert (invoke["input_tokens"], invoke["output_tokens"]) == (12, 7)
    assert row_ids(converse) == {("us.amazon.nova-micro-v1:0", "url_path", "request")}
    assert (converse["input_tokens"], converse["output_tokens"], converse["total_tokens"]) == (
        20,
        5,
        25,
    )
    stored = json.dumps(rows) + proxy.output
    for secret in (ACCESS_KEY, SIGNATURE, SESSION_TOKEN):
        assert secret not in stored
    assert invoke["parse_errors"] == [] and converse["parse_errors"] == []
    listed = {(m["model_id"], tuple(m["sources"])) for m in models_json(db)}
    assert ("anthropic.claude-3-5-sonnet-20240620-v1:0", ("url_path",)) in listed
    assert (BEDROCK_SERVED, ("stream_frame",)) in listed
    assert ("us.amazon.nova-micro-v1:0", ("url_path",)) in listed


def test_websocket_sessions(
    shared_proxy: tuple[ProxyProcess, str], ws_upstream: WebSocketUpstream, confdir: Path
) -> None:
    from websockets.sync.client import connect

    proxy, db = shared_proxy
    tag = uuid.uuid4().hex
    url = f"ws://127.0.0.1:{ws_upstream.port}/v1/realtime?model={REALTIME_MODEL}"
    with connect(
        url,
        proxy=proxy.url,
        additional_headers={"authorization": f"Bearer {OPENAI_KEY}", "x-test-id": tag},
    ) as ws:
        created = json.loads(ws.recv(timeout=30))
        assert created["session"]["model"] == REALTIME_MODEL
        ws.send(json.dumps({"type": "session.update", "session": {"instructions": "brief"}}))
        for turn in (1, 2):
            ws.send(json.dumps({"type": "response.create"}))
            done = json.loads(ws.recv(timeout=30))
            assert done["response"]["id"] == f"resp_{turn}"
    live = (
        f"ws://127.0.0.1:{ws_upstream.port}/ws/google.ai.generativelanguage.v1beta."
        f"GenerativeService.BidiGenerateContent?key={GOOGLE_KEY}"
    )
    with connect(live, proxy=proxy.url, additional_headers={"x-test-id": tag}) as ws:
        ws.send(json.dumps({"setup": {"model": LIVE_MODEL}}))
        assert json.loads(ws.recv(timeout=30)) == {"setupComplete": {}}
        ws.send(
            json.dumps(
                {
                    "clientContent": {
                        "turns": [{"role": "user", "parts": [{"text": "Hi"}]}],
                        "turnComplete": True,
                    }
                }
            )
        )
        ws.recv(timeout=30)
        ws.recv(timeout=30)
    rows = wait_for_rows(db, has_header("x-test-id", tag), count=2)
    assert len(rows) == 2
    realtime = next(r for r in rows if r["api"] == "openai.realtime")
    gemini = next(r for r in rows if r["api"] == "gemini.live")
    assert realtime["streamed"] in (1, True) and realtime["status"] == 101
    assert row_ids(realtime) == {
        (REALTIME_MODEL, "url_query", "request"),
        (REALTIME_MODEL, "websocket_message", "response"),
    }
    # two response.done events: 20+20 input, 11+12 output, 4+4 cached
    assert (realtime["input_tokens"], realtime["output_tokens"], realtime["cached_tokens"]) == (
        40,
        23,
        8,
    )
    assert (LIVE_MODEL, "websocket_message", "request") in row_ids(gemini)
    assert (gemini["input_tokens"], gemini["output_tokens"]) == (9, 3)
    log = [json.loads(line) for line in realtime["response_body"].splitlines()]
    assert [e["from"] for e in log] == ["server", "client", "client", "server", "client", "server"]
    stored = json.dumps(rows) + proxy.output
    assert OPENAI_KEY not in stored and GOOGLE_KEY not in stored
    assert "key=[REDACTED:" in gemini["path"]
    listed = {m["model_id"]: m["sources"] for m in models_json(db)}
    assert listed[REALTIME_MODEL] == ["url_query", "websocket_message"]
    assert listed[LIVE_MODEL] == ["websocket_message"]


def test_split_secrets_in_bedrock_and_live_streams_through_the_proxy(
    shared_proxy: tuple[ProxyProcess, str],
    binary_upstream: BinaryUpstream,
    ws_upstream: WebSocketUpstream,
    confdir: Path,
) -> None:
    """The secret corpus streamed back in 1-7 character pieces, each in its own Bedrock
    event-stream chunk (InvokeModel and Converse) or Gemini Live server message: the client
    gets every secret, the store gets none, in any field or in the stored pieces joined."""
    from websockets.sync.client import connect

    proxy, db = shared_proxy
    tag = uuid.uuid4().hex
    text = plant_text()
    with proxied_client(proxy, confdir) as client:
        for model, method in [
            ("anthropic.claude-3-5-sonnet-20240620-v1:0", "invoke-with-response-stream"),
            ("us.amazon.nova-micro-v1:0", "converse-stream"),
        ]:
            url = f"{binary_upstream.base_url}/model/{quote(model, safe='')}/{method}"
            body = {"prompt": text, "split": 7}
            with client.stream("POST", url, json=body, headers={"x-test-id": tag}) as resp:
                received = b"".join(resp.iter_raw())
            messages, errors = parse_event_stream(received)
            assert errors == [] and len(messages) > len(text) // 7  # one piece per message
    live = (
        f"ws://127.0.0.1:{ws_upstream.port}/ws/google.ai.generativelanguage.v1beta."
        "GenerativeService.BidiGenerateContent"
    )
    echoed = []
    with connect(live, proxy=proxy.url, additional_headers={"x-test-id": tag}) as ws:
        ws.send(json.dumps({"setup": {"model": LIVE_MODEL}}))
        ws.recv(timeout=30)
        turn = {"turns": [{"role": "user", "parts": [{"text": "echo " + text}]}]}
        ws.send(json.dumps({"clientContent": {**turn, "turnComplete": True}}))
        while True:
            content = json.loads(ws.recv(timeout=30))["serverContent"]
            if content.get("turnComplete"):
                break
            echoed.append(content["modelTurn"]["parts"][0]["text"])
    assert "".join(echoed) == text and len(echoed) > len(text) // 7
    rows = wait_for_rows(db, has_header("x-test-id", tag), count=3)
    read = {
        "bedrock.invoke": read_bedrock_invoke,
        "bedrock.converse": read_bedrock_converse,
        "gemini.live": read_live,
    }
    assert sorted(r["api"] for r in rows) == sorted(read)
    for row in rows:
        stored = read[row["api"]](row["response_body"])
        assert_no_secrets(stored)
        tokens = stored.count("[REDACTED:")
        assert tokens >= 40, f"{row['api']}: {tokens} redaction tokens"
        assert row["parse_errors"] == []
    assert_no_secrets(json.dumps(rows) + proxy.output)


def test_grpc_web_through_the_proxy(
    shared_proxy: tuple[ProxyProcess, str], binary_upstream: BinaryUpstream, confdir: Path
) -> None:
    proxy, db = shared_proxy
    tag = uuid.uuid4().hex
    request = grpc_web_frame(
        pb_str(1, pb_str(1, "windsurf") + pb_str(3, WINDSURF_TOKEN)) + pb_str(5, "kimi-k2-5")
    )
    with proxied_client(proxy, confdir) as client:
        resp = client.post(
            f"{binary_upstream.base_url}/exa.api_server_pb.ApiServerService/GetChatMessage",
            content=request,
            headers={
                "content-type": "application/grpc-web+proto",
                "x-grpc-web": "1",
                "x-test-id": tag,
            },
        )
        assert resp.status_code == 200 and resp.content.endswith(
            b"grpc-status:0\r\ngrpc-message:\r\n"
        )
    [row] = wait_for_rows(db, has_header("x-test-id", tag))
    assert row["api"] == "grpc-web"
    assert row_ids(row) == {
        ("kimi-k2-5", "protobuf_field", "request"),
        (
            "kimi-k2.5",
            "protobuf_field",
            "request",
        ),  # uid mapped by fingerprints/protobuf_models.json
        ("MODEL_SWE_1_5", "protobuf_field", "response"),
        ("swe-1.5-fast", "protobuf_field", "response"),
    }
    assert ["grpc-status", "0"] in row["response_headers"]
    assert WINDSURF_TOKEN not in json.dumps(row) and WINDSURF_TOKEN not in proxy.output
    assert "[REDACTED:windsurf-session-token:" in row["request_body"]
    listed = {m["model_id"] for m in models_json(db)}
    assert {"kimi-k2-5", "kimi-k2.5", "MODEL_SWE_1_5", "swe-1.5-fast"} <= listed


class H2First(ssl.SSLContext):
    """httpcore offers ALPN ``http/1.1`` before ``h2`` inside a proxy tunnel, and mitmproxy
    (not knowing the upstream yet) honours the client's order; list ``h2`` first instead."""

    def set_alpn_protocols(self, protocols) -> None:  # type: ignore[override]
        super().set_alpn_protocols(sorted(protocols, key=lambda p: p != "h2"))


@pytest.fixture(scope="module")
def lazy_proxy(tmp_path_factory: pytest.TempPathFactory, confdir: Path, e2e_home: Path):
    """A second mitmdump with ``connection_strategy=lazy``: it negotiates HTTP/2 with the
    client without first asking the (HTTP/1.1-only) upstream, so several client streams share
    one HTTP/2 connection while the proxy talks HTTP/1.1 upstream."""
    db = f"sqlite:///{tmp_path_factory.mktemp('h2-db') / 'capture.sqlite'}"
    proc = mitmdump(
        db, confdir, "--set", "connection_strategy=lazy", env={"PROVENANCE_HOME": str(e2e_home)}
    )
    proc.wait_listening()
    yield proc, db
    proc.stop()


def test_concurrent_streams_over_one_http2_connection(
    lazy_proxy: tuple[ProxyProcess, str], standin_tls, confdir: Path
) -> None:
    proxy, db = lazy_proxy
    tag = uuid.uuid4().hex
    models = [f"interleave-model-{i}-v1" for i in range(6)]

    verify = H2First(ssl.PROTOCOL_TLS_CLIENT)
    verify.load_verify_locations(cafile=str(confdir / "mitmproxy-ca-cert.pem"))

    async def run() -> list[str]:
        async with httpx.AsyncClient(
            proxy=proxy.url, verify=verify, http2=True, trust_env=False, timeout=60
        ) as client:

            async def one(model: str) -> str:
                body = {
                    "model": model,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "messages": [{"role": "user", "content": f"hello from {model}"}],
                }
                async with client.stream(
                    "POST",
                    f"{standin_tls.base_url}/v1/chat/completions",
                    json=body,
                    headers={"x-test-id": tag},
                ) as resp:
                    assert resp.http_version == "HTTP/2"
                    return "".join([c async for c in resp.aiter_text()])

            return await asyncio.gather(*(one(m) for m in models))

    bodies = asyncio.run(run())
    for model, body in zip(models, bodies, strict=True):
        assert f"hello from {model}" in body.replace('"', "") or model in body
    rows = wait_for_rows(db, has_header("x-test-id", tag), count=len(models))
    assert len(rows) == len(models)
    for row in rows:
        assert row["http_version"] == "HTTP/2.0"
        [requested] = [i[0] for i in row["ids"] if i[1] == "request_field"]
        # each row's streamed frames name only its own model: no mixing across streams
        assert {i[0] for i in row["ids"]} == {requested}
        assert row["output_tokens"] is not None
    assert sorted(i[0] for r in rows for i in r["ids"] if i[1] == "request_field") == sorted(models)
