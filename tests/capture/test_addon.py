"""The capture addon's hooks, driven with mitmproxy's test helpers (no proxy, a real store)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import ssl
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import connection, exceptions, http, tls
from mitmproxy.proxy import context
from mitmproxy.test import taddons, tflow, tutils

from provenance.capture.session import SHUTDOWN_ERROR
from provenance.capture.tee import LARGE, STREAM, StreamTee
from tests.capture.dbrows import exchanges

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 3 + "T3BlbkFJ" + "x" * 20


def load_addon_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "capture_addon_under_test", ROOT / "addons" / "capture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chat_flow(
    *,
    body: dict | None = None,
    resp_headers: dict | None = None,
    resp_content: bytes | None = b"",
    host: str = "api.openai.com",
) -> http.HTTPFlow:
    req = tutils.treq(
        host=host,
        port=443,
        path=b"/v1/chat/completions",
        method=b"POST",
        content=json.dumps(body or {"model": "gpt-4o", "messages": []}).encode(),
    )
    req.scheme = "https"
    req.headers["content-type"] = "application/json"
    req.headers["authorization"] = f"Bearer {KEY}"
    resp = tutils.tresp(content=resp_content)
    for name, value in (resp_headers or {"content-type": "application/json"}).items():
        resp.headers[name] = value
    return tflow.tflow(req=req, resp=resp)


@pytest.fixture
def addon(sqlite_url: str) -> Any:
    module = load_addon_module()
    assert isinstance(module.addons[0], module.Capture)
    return module.Capture()


def run_flow(addon: Any, flow: http.HTTPFlow, chunks: list[bytes] | None = None) -> list[bytes]:
    """requestheaders → responseheaders → (stream chunks) → response, like mitmproxy does."""
    addon.requestheaders(flow)
    addon.responseheaders(flow)
    passed: list[bytes] = []
    if chunks is not None:
        assert callable(flow.response.stream)
        flow.response.content = None  # a streamed body is not kept on the flow
        passed = [flow.response.stream(c) for c in [*chunks, b""]]
    addon.response(flow)
    return passed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuch://host/db", "provenance: unsupported database URL scheme 'nosuch'"),
        ("sqlite:///{tmp}/a-file/db.sqlite", "provenance: cannot create database file"),
    ],
)
def test_bad_db_is_an_options_error(addon: Any, tmp_path: Path, url: str, message: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with (
        taddons.context(addon) as tctx,
        pytest.raises(exceptions.OptionsError, match=re.escape(message)),
    ):
        tctx.configure(addon, provenance_db=url.format(tmp=tmp_path))
    # mitmproxy rolled the option back, and the addon back onto the previous store
    assert addon.options.db_url is None


def test_bad_body_cap_is_an_options_error(addon: Any, sqlite_url: str) -> None:
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError, match="body cap"):
        tctx.configure(addon, provenance_db=sqlite_url, provenance_max_body=0)


def test_json_exchange_is_stored_redacted_with_both_ids(addon: Any, sqlite_url: str) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"my key is {KEY}"}]}
    resp = json.dumps(
        {
            "model": "gpt-4o-2024-08-06",
            "choices": [],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3},
        }
    ).encode()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url, provenance_product="TestTool")
        flow = chat_flow(body=body, resp_content=resp)
        run_flow(addon, flow)
        assert flow.response.stream is False  # small JSON: buffered as usual
        addon.done()
    (row,) = exchanges(sqlite_url)
    assert {i[0] for i in row["ids"]} == {"gpt-4o", "gpt-4o-2024-08-06"}
    assert row["host"] == "api.openai.com" and row["status"] == 200
    assert row["input_tokens"] == 7 and row["output_tokens"] == 3
    assert row["streamed"] in (0, False) and row["error"] is None
    assert KEY not in json.dumps(row, default=str)
    assert Path(sqlite_url.removeprefix("sqlite:///")).read_bytes().find(KEY.encode()) == -1
    assert addon.summary.written == 1


def test_sse_goes_through_the_tee_unchanged_and_ids_come_from_frames(
    addon: Any, sqlite_url: str
) -> None:
    frames = [
        b'data: {"id":"c1","model":"accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",'
        b'"choices":[{"delta":{"content":"hi"}}]}\n\n',
        b'data: {"id":"c1","model":"accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",'
        b'"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":2}}\n\n',
        b"data: [DONE]\n\n",
    ]
    wire = gzip.compress(b"".join(frames))
    chunks = [wire[i : i + 7] for i in range(0, len(wire), 7)]
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        flow = chat_flow(
            resp_headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
            resp_content=None,
        )
        passed = run_flow(addon, flow, chunks)
        assert isinstance(flow.response.stream, StreamTee) and flow.response.stream.reason == STREAM
        addon.done()
    assert passed == [*chunks, b""]
    (row,) = exchanges(sqlite_url)
    assert row["streamed"] in (1, True)
    assert (
        "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",
        "sse_frame",
        "$.model",
        "response",
    ) in row["ids"]
    assert row["input_tokens"] == 11 and row["output_tokens"] == 2


def test_large_response_is_streamed_with_a_digest(addon: Any, sqlite_url: str) -> None:
    body = json.dumps({"model": "gpt-4o-2024-08-06", "pad": "x" * 5000}).encode()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url, provenance_max_body=1000)
        flow = chat_flow(
            resp_headers={"content-type": "application/json", "content-length": str(len(body))}
        )
        run_flow(addon, flow, [body[:3000], body[3000:]])
        assert flow.response.stream.reason == LARGE
        addon.done()
    (row,) = exchanges(sqlite_url)
    assert row["streamed"] in (0, False)
    assert row["response_digest"] and row["bodies_truncated"] in (1, True)
    assert len(row["response_body"] or "") <= 1000


def test_large_upload_is_streamed_upstream(addon: Any, sqlite_url: str) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url, provenance_max_body=100)
        body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "y" * 500}]})
        flow = chat_flow(body=json.loads(body))
        flow.request.headers["content-length"] = str(len(body))
        addon.requestheaders(flow)
        tee = flow.request.stream
        assert isinstance(tee, StreamTee) and tee.reason == LARGE
        assert tee(body.encode()[:50]) == body.encode()[:50]
        assert tee(body.encode()[50:]) == body.encode()[50:]
        tee(b"")
        flow.request.content = None
        addon.responseheaders(flow)
        addon.response(flow)
        addon.done()
    (row,) = exchanges(sqlite_url)
    assert ("gpt-4o", "request_field", "$.model", "request") in row["ids"]


def test_a_failing_tap_never_breaks_the_stream(
    addon: Any, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import provenance.extract

    class ExplodingTap:
        def __init__(self, **_: Any) -> None: ...

        def feed(self, chunk: bytes) -> None:
            raise MemoryError("boom")

        def finish(self) -> None:
            raise AssertionError("not reached")

    monkeypatch.setattr(provenance.extract, "BodyTap", ExplodingTap)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        flow = chat_flow(resp_headers={"content-type": "text/event-stream"}, resp_content=None)
        passed = run_flow(addon, flow, [b"data: 1\n\n", b"data: 2\n\n"])
        addon.done()
    assert passed == [b"data: 1\n\n", b"data: 2\n\n", b""]
    (row,) = exchanges(sqlite_url)
    assert "body tap failed: MemoryError" in row["parse_errors"]


def test_extract_failure_still_stores_a_redacted_row(
    addon: Any, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import provenance.extract

    def broken_extract(*_: Any, **__: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(provenance.extract, "extract", broken_extract)
    with taddons.context(addon) as tctx:  # in the loop: the patch does not reach a child
        tctx.configure(addon, provenance_db=sqlite_url, provenance_extract_process=False)
        flow = chat_flow(resp_content=b"{}")
        flow.request.path = f"/v1/chat/completions?key={KEY}"
        run_flow(addon, flow)
        addon.done()
    (row,) = exchanges(sqlite_url)
    assert row["parse_errors"] == ["extraction failed: RuntimeError"]
    assert KEY not in row["path"]


def test_hook_exceptions_are_counted_not_raised(addon: Any, sqlite_url: str, caplog: Any) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        flow = chat_flow()
        flow.request = None  # type: ignore[assignment]  # nonsense a hook must survive
        addon.requestheaders(flow)
        addon.response(flow)
        assert addon.session.stats.hook_failures == 2
        assert "failed (AttributeError); the traffic passed unchanged" in caplog.text
        addon.done()


def test_error_flows_are_stored_with_the_error(addon: Any, sqlite_url: str) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        flow = tflow.tflow(err=True)
        addon.requestheaders(flow)
        addon.error(flow)
        addon.done()
    (row,) = exchanges(sqlite_url)
    assert row["error"] == "error" and row["status"] is None
    assert addon.summary.connection_errors == 1


def test_flows_in_flight_at_shutdown_are_stored(addon: Any, sqlite_url: str) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        flow = chat_flow(resp_headers={"content-type": "text/event-stream"}, resp_content=None)
        addon.requestheaders(flow)
        addon.responseheaders(flow)
        flow.response.stream(b'data: {"model":"glm-4.6"}\n\n')
        addon.done()
    (row,) = exchanges(sqlite_url)
    assert row["error"] == SHUTDOWN_ERROR
    assert ("glm-4.6", "sse_frame", "$.model", "response") in row["ids"]
    assert addon.summary.incomplete == 1


def test_connect_tunnels_are_not_exchanges(addon: Any, sqlite_url: str) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        flow = tflow.tflow(req=tutils.treq(method=b"CONNECT"), resp=True)
        run_flow(addon, flow)
        addon.done()
    assert exchanges(sqlite_url) == []


def _real_client_hello() -> bytes:
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sock = ctx.wrap_bio(incoming, outgoing, server_hostname="api.openai.com")
    with pytest.raises(ssl.SSLWantReadError):
        sock.do_handshake()
    record = outgoing.read()
    return record[9:]  # strip the record header (5) and handshake header (4)


def test_tls_client_hello_gives_the_exchange_a_ja4(addon: Any, sqlite_url: str) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        flow = chat_flow(resp_content=b"{}")
        ctx = context.Context(flow.client_conn, tctx.options)
        data = tls.ClientHelloData(ctx, tls.ClientHello(_real_client_hello()))
        addon.tls_clienthello(data)
        run_flow(addon, flow)
        addon.client_disconnected(flow.client_conn)
        assert addon.session._ja4 == {}
        addon.done()
    (row,) = exchanges(sqlite_url)
    assert row["client_ja4"] and row["client_ja4"].startswith("t1")
    assert isinstance(flow.client_conn, connection.Client)
