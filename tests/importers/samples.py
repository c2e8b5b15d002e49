"""Build real recorded-traffic files for the importer tests: mitmproxy flow files and HAR."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from mitmproxy import http, io
from mitmproxy.test import tflow, tutils

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
