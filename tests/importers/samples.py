"""Build real recorded-traffic files for the importer tests: mitmproxy flow files and HAR."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from mitmproxy import http, io, websocket
from mitmproxy.test import tflow, tutils
from mitmproxy.websocket import Opcode

KIMI = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"
SSE = (
    b'data: {"id":"c","model":"' + KIMI.encode() + b'","choices":[{"delta":{"content":"hi"}}]}\n\n'
    b'data: {"id":"c","model":"' + KIMI.encode() + b'","choices":[],'
    b'"usage":{"prompt_tokens":9,"completion_tokens":1}}\n\ndata: [DONE]\n\n'
)


def chat_flow(
    request: dict[str, Any],
    response: bytes,
    *,
    content_type: str = "application/json",
    encoding: str | None = None,
    headers: list[tuple[str, str]] = (),
) -> http.HTTPFlow:
    req = tutils.treq(
        host="api.fireworks.ai",
        port=443,
        path=b"/inference/v1/chat/completions",
        method=b"POST",
        content=json.dumps(request).encode(),
    )
    req.scheme = "https"
    req.headers["content-type"] = "application/json"
    for name, value in headers:
        req.headers.add(name, value)
    body = gzip.compress(response) if encoding == "gzip" else response
    resp = tutils.tresp(content=b"")
    resp.headers["content-type"] = content_type
    if encoding:
        resp.headers["content-encoding"] = encoding
    resp.raw_content = body
    return tflow.tflow(req=req, resp=resp)


def sample_flows(headers: list[tuple[str, str]] = ()) -> list[Any]:
    """3 HTTP exchanges (JSON, gzip SSE, an error), a CONNECT, a WebSocket and a TCP flow."""
    flows: list[Any] = [
        chat_flow(
            {"model": "gpt-4o", "messages": []},
            json.dumps({"model": "gpt-4o-2024-08-06", "choices": []}).encode(),
            headers=headers,
        ),
        chat_flow(
            {"model": KIMI, "stream": True},
            SSE,
            content_type="text/event-stream",
            encoding="gzip",
            headers=headers,
        ),
        tflow.tflow(err=True),
        tflow.tflow(req=tutils.treq(method=b"CONNECT"), resp=True),
        tflow.twebsocketflow(),
        tflow.ttcpflow(),
    ]
    return flows


def write_flow_file(path: Path, flows: list[Any]) -> Path:
    with path.open("wb") as fo:
        writer = io.FlowWriter(fo)
        for flow in flows:
            writer.add(flow)
    return path


def chrome_har(headers: list[tuple[str, str]] = ()) -> dict[str, Any]:
    """A HAR shaped like a browser's export: decoded bodies, h2 pseudo-headers, odd entries."""
    hdrs = [
        {"name": ":authority", "value": "openrouter.ai"},
        {"name": "content-type", "value": "application/json"},
        *({"name": k, "value": v} for k, v in headers),
    ]
    base = {
        "startedDateTime": "2026-03-17T10:00:00.123Z",
        "time": 812.5,
        "cache": {},
        "timings": {
            "blocked": 1,
            "dns": -1,
            "connect": -1,
            "send": 0.2,
            "wait": 640.0,
            "receive": 171.3,
            "ssl": -1,
        },
    }
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [],
            "entries": [
                {
                    **base,
                    "request": {
                        "method": "POST",
                        "url": "https://openrouter.ai/api/v1/chat/completions",
                        "httpVersion": "h2",
                        "headers": hdrs,
                        "queryString": [],
                        "postData": {
                            "mimeType": "application/json",
                            "text": json.dumps(
                                {"model": "moonshotai/kimi-k2:free", "stream": True}
                            ),
                        },
                    },
                    "response": {
                        "status": 200,
                        "statusText": "",
                        "httpVersion": "h2",
                        "headers": [
                            {"name": "content-type", "value": "text/event-stream"},
                            {"name": "content-encoding", "value": "br"},
                        ],
                        "content": {
                            "size": len(SSE),
                            "mimeType": "text/event-stream",
                            "text": SSE.decode(),
                        },
                    },
                },
                {
                    **base,
                    "request": {
                        "method": "POST",
                        "url": "https://generativelanguage.googleapis.com/v1beta/models/"
                        "gemini-2.5-pro:generateContent",
                        "httpVersion": "HTTP/1.1",
                        "headers": hdrs,
                        "postData": {"mimeType": "application/json", "text": "{}"},
                    },
                    "response": {
                        "status": 200,
                        "headers": [{"name": "content-type", "value": "application/json"}],
                        "content": {
                            "mimeType": "application/json",
                            "encoding": "base64",
                            "text": "eyJtb2RlbFZlcnNpb24iOiAiZ2VtaW5pLTIuNS1wcm8tMDYtMDUifQ==",
                        },
                    },
                },
                {
                    **base,
                    "request": {
                        "method": "POST",
                        "url": "https://api.openai.com/v1/responses",
                        "headers": hdrs,
                        "postData": {"text": '{"model": "gpt-5"}'},
                    },
                    "response": {
                        "status": 0,
                        "headers": [],
                        "content": {},
                        "_error": "net::ERR_FAILED",
                    },
                },
                {
                    **base,
                    "_resourceType": "websocket",
                    "request": {"method": "GET", "url": "wss://x.example/ws", "headers": []},
                    "response": {"status": 101, "headers": [], "content": {}},
                },
                {
                    **base,
                    "request": {"method": "GET", "url": "data:text/plain,hello", "headers": []},
                    "response": {"status": 200, "headers": [], "content": {}},
                },
            ],
        }
    }


# ----------------------------------------------------------------------------- WebSocket
# OpenAI Realtime server/client events: https://platform.openai.com/docs/api-reference/realtime
# Gemini Live BidiGenerateContent messages: https://ai.google.dev/api/live

REALTIME_MODEL = "gpt-4o-realtime-preview-2024-12-17"
LIVE_MODEL = "models/gemini-2.0-flash-live-001"


def realtime_messages(secret: str) -> list[tuple[bool, dict[str, Any]]]:
    """A Realtime text session: the server names the model, the client pastes ``secret``,
    the model echoes it back in 1-7 character ``response.text.delta`` events, then
    ``response.done`` with the response's usage."""
    out: list[tuple[bool, dict[str, Any]]] = [
        (
            False,
            {
                "type": "session.created",
                "event_id": "event_1",
                "session": {"id": "sess_1", "object": "realtime.session", "model": REALTIME_MODEL},
            },
        ),
        (True, {"type": "session.update", "session": {"modalities": ["text"]}}),
        (
            True,
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"remember {secret}"}],
                },
            },
        ),
        (True, {"type": "response.create"}),
    ]
    reply, i, n = f"You said {secret}.", 0, 0
    while i < len(reply):
        size = 1 + (n * 5) % 7
        delta = {
            "type": "response.text.delta",
            "event_id": f"event_d{n}",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": reply[i : i + size],
        }
        out.append((False, delta))
        i, n = i + size, n + 1
    usage = {
        "total_tokens": 60,
        "input_tokens": 40,
        "output_tokens": 20,
        "input_token_details": {"text_tokens": 40, "audio_tokens": 0, "cached_tokens": 0},
        "output_token_details": {"text_tokens": 20, "audio_tokens": 0},
    }
    done = {"id": "resp_1", "object": "realtime.response", "status": "completed", "usage": usage}
    out.append((False, {"type": "response.done", "event_id": "event_z", "response": done}))
    return out


def realtime_flow(secret: str, bearer: str) -> http.HTTPFlow:
    """A ``tflow.twebsocketflow()`` re-pointed at the Realtime endpoint, carrying a Realtime
    session (the upgrade request authorised with ``bearer``)."""
    flow = tflow.twebsocketflow()
    flow.request.host = "api.openai.com"
    flow.request.port = 443
    flow.request.scheme = "https"
    flow.request.path = f"/v1/realtime?model={REALTIME_MODEL}"
    flow.request.headers["authorization"] = f"Bearer {bearer}"
    flow.request.headers["openai-beta"] = "realtime=v1"
    flow.websocket.messages = [
        websocket.WebSocketMessage(
            Opcode.TEXT, from_client, json.dumps(doc).encode(), 946681204 + i
        )
        for i, (from_client, doc) in enumerate(realtime_messages(secret))
    ]
    flow.websocket.messages.append(
        websocket.WebSocketMessage(Opcode.BINARY, True, b"\x00\x01 audio", 946681300)
    )
    return flow


def gemini_live_entry(key: str) -> dict[str, Any]:
    """A Chrome DevTools HAR entry for a Gemini Live session (``?key=`` in the URL): the
    client's ``setup`` names the model; server messages arrive as binary frames (base64)."""
    server = [
        {"setupComplete": {}},
        {"serverContent": {"modelTurn": {"parts": [{"text": "Hello"}]}}},
        {
            "serverContent": {"turnComplete": True},
            "usageMetadata": {
                "promptTokenCount": 9,
                "responseTokenCount": 2,
                "totalTokenCount": 11,
            },
        },
    ]
    messages = [
        {
            "type": "send",
            "time": 1773741600.5,
            "opcode": 1,
            "data": json.dumps({"setup": {"model": LIVE_MODEL}}),
        },
        {
            "type": "send",
            "time": 1773741600.6,
            "opcode": 1,
            "data": json.dumps(
                {
                    "clientContent": {
                        "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                        "turnComplete": True,
                    }
                }
            ),
        },
    ]
    for i, doc in enumerate(server):
        data = base64.b64encode(json.dumps(doc).encode()).decode()
        messages.append({"type": "receive", "time": 1773741601 + i, "opcode": 2, "data": data})
    return {
        "startedDateTime": "2026-03-17T10:00:00.000Z",
        "time": 1500.0,
        "_resourceType": "websocket",
        "request": {
            "method": "GET",
            "url": "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage."
            f"v1beta.GenerativeService.BidiGenerateContent?key={key}",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Upgrade", "value": "websocket"}],
            "queryString": [{"name": "key", "value": key}],
        },
        "response": {
            "status": 101,
            "statusText": "Switching Protocols",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Upgrade", "value": "websocket"}],
            "content": {"size": 0, "mimeType": "x-unknown"},
        },
        "cache": {},
        "timings": {"send": 0, "wait": 120.0, "receive": 0},
        "_webSocketMessages": messages,
    }
