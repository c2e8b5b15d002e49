"""The capture addon's WebSocket hooks and HTTP/2 trailers, driven with mitmproxy's test helpers
(no proxy process; a real store). The end-to-end version is in ``test_coverage_e2e.py``."""

from __future__ import annotations

import json
from typing import Any

from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from provenance.capture.convert import raw_exchange_from_flow
from provenance.capture.session import SHUTDOWN_ERROR
from tests.capture.dbrows import exchanges
from tests.capture.test_addon import load_addon_module

OPENAI_KEY = "sk-proj-" + "Qw8Er7Ty6Ui5Op4As3Df2Gh1" * 2
MODEL = "gpt-4o-realtime-preview-2024-12-17"


def realtime_flow() -> http.HTTPFlow:
    flow = tflow.twebsocketflow(messages=False)
    flow.request.host = "api.openai.com"
    flow.request.scheme = "https"
    flow.request.path = f"/v1/realtime?model={MODEL}"
    flow.request.headers["authorization"] = f"Bearer {OPENAI_KEY}"
    return flow


def message(flow: http.HTTPFlow, doc: dict, from_client: bool) -> None:
    from mitmproxy.websocket import WebSocketMessage
    from wsproto.frame_protocol import Opcode

    flow.websocket.messages.append(
        WebSocketMessage(Opcode.TEXT, from_client, json.dumps(doc).encode())
    )


def test_websocket_session_becomes_one_exchange(sqlite_url: str) -> None:
    addon: Any = load_addon_module().Capture(print_summary=False)
    flow = realtime_flow()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        addon.requestheaders(flow)
        addon.response(flow)  # the 101 handshake: not stored on its own
        addon.websocket_start(flow)
        message(flow, {"type": "session.created", "session": {"model": MODEL}}, False)
        addon.websocket_message(flow)
        message(flow, {"type": "session.update", "session": {"api_key": OPENAI_KEY}}, True)
        addon.websocket_message(flow)
        usage = {
            "input_tokens": 5,
            "output_tokens": 2,
            "total_tokens": 7,
            "input_token_details": {"cached_tokens": 0},
            "output_token_details": {},
        }
        message(flow, {"type": "response.done", "response": {"usage": usage}}, False)
        addon.websocket_message(flow)
        addon.websocket_end(flow)
        addon.done()
    [row] = exchanges(sqlite_url)
    assert row["api"] == "openai.realtime" and row["streamed"] in (1, True)
    assert {i[:2] for i in row["ids"]} == {(MODEL, "url_query"), (MODEL, "websocket_message")}
    assert (row["input_tokens"], row["output_tokens"]) == (5, 2)
    assert OPENAI_KEY not in json.dumps(row)
    assert len(row["response_body"].splitlines()) == 3


def test_open_websocket_is_stored_at_shutdown(sqlite_url: str) -> None:
    addon: Any = load_addon_module().Capture(print_summary=False)
    flow = realtime_flow()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        addon.websocket_start(flow)
        message(flow, {"type": "session.created", "session": {"model": MODEL}}, False)
        addon.websocket_message(flow)
        addon.done()  # no websocket_end
    [row] = exchanges(sqlite_url)
    assert row["error"] == SHUTDOWN_ERROR
    assert (MODEL, "websocket_message") in {i[:2] for i in row["ids"]}


def test_hooks_never_raise_on_a_broken_flow(sqlite_url: str) -> None:
    addon: Any = load_addon_module().Capture(print_summary=False)
    flow = realtime_flow()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        addon.websocket_message(flow)  # no start: ignored
        addon.websocket_start(flow)
        flow.websocket = None  # type: ignore[assignment]
        addon.websocket_message(flow)
        addon.websocket_end(flow)
        addon.done()
    assert addon.summary.hook_failures == 0


def test_http2_trailers_reach_the_raw_exchange() -> None:
    resp = tutils.tresp(content=b"\x00\x00\x00\x00\x00")
    resp.headers["content-type"] = "application/grpc"
    resp.trailers = http.Headers([(b"grpc-status", b"13"), (b"grpc-message", b"internal")])
    flow = tflow.tflow(resp=resp)
    raw = raw_exchange_from_flow(flow)
    assert raw.response_trailers == [("grpc-status", "13"), ("grpc-message", "internal")]
