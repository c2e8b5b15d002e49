"""Generate HAR and mitmproxy flow files of N realistic AI API exchanges (for the import suite).

Half the exchanges are JSON chat completions, half SSE streams (12 events), across OpenAI,
Anthropic and Fireworks hosts, with a bearer key in every request (so redaction has work to do).
The HAR is written entry by entry (never held in memory); the flow file holds the same exchanges
as mitmproxy ``HTTPFlow`` objects written with ``mitmproxy.io.FlowWriter``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2026, 2, 1, tzinfo=UTC)
HOSTS = [
    ("api.openai.com", "/v1/chat/completions", "gpt-4o-2024-08-06"),
    ("api.anthropic.com", "/v1/messages", "claude-sonnet-4-5-20250929"),
    ("api.fireworks.ai", "/inference/v1/chat/completions", "accounts/fireworks/models/kimi-k2p5"),
]


@dataclass(frozen=True, slots=True)
class Exchange:
    started: datetime
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    response_headers: list[tuple[str, str]]
    response_body: bytes
    time_ms: float
    wait_ms: float


def exchanges(n: int, seed: int = 8) -> Iterator[Exchange]:
    rng = random.Random(seed)
    for i in range(n):
        host, path, model = HOSTS[i % len(HOSTS)]
        stream = i % 2 == 1
        key = "sk-proj-" + "".join(
            rng.choice("abcdefghijkmnopqrstuvwxyzABCDEF0123456789") for _ in range(48)
        )
        body = {
            "model": model,
            "stream": stream,
            "messages": [
                {"role": "system", "content": "You are a coding assistant."},
                {"role": "user", "content": f"Explain snippet {i}: " + "x = compute(y) " * 12},
            ],
        }
        req_headers = [
            ("host", host),
            ("authorization", f"Bearer {key}"),
            ("content-type", "application/json"),
            ("user-agent", "bench-client/1.0"),
        ]
        if stream:
            events = [
                "data: "
                + json.dumps(
                    {"id": f"c{i}", "model": model, "choices": [{"delta": {"content": f"w{k} "}}]}
                )
                + "\n\n"
                for k in range(12)
            ]
            resp = ("".join(events) + "data: [DONE]\n\n").encode()
            ctype = "text/event-stream"
        else:
            doc = {
                "id": f"chatcmpl-{i}",
                "model": model,
                "choices": [{"message": {"role": "assistant", "content": "It computes x. " * 20}}],
                "usage": {"prompt_tokens": 80, "completion_tokens": 60, "total_tokens": 140},
            }
            resp = json.dumps(doc).encode()
            ctype = "application/json"
        total = 200 + rng.random() * 800
        yield Exchange(
            started=T0 + timedelta(seconds=i),
            url=f"https://{host}{path}",
            request_headers=req_headers,
            request_body=json.dumps(body).encode(),
            response_headers=[("content-type", ctype), ("x-request-id", f"req_{i:08d}")],
            response_body=resp,
            time_ms=total,
            wait_ms=total / 3,
        )


def _har_entry(ex: Exchange) -> dict[str, object]:
    def headers(items: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"name": k, "value": v} for k, v in items]

    return {
        "startedDateTime": ex.started.isoformat().replace("+00:00", "Z"),
        "time": ex.time_ms,
        "request": {
            "method": "POST",
            "url": ex.url,
            "httpVersion": "HTTP/1.1",
            "headers": headers(ex.request_headers),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": len(ex.request_body),
            "postData": {"mimeType": "application/json", "text": ex.request_body.decode()},
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": headers(ex.response_headers),
            "cookies": [],
            "content": {
                "size": len(ex.response_body),
                "mimeType": dict(ex.response_headers)["content-type"],
                "text": ex.response_body.decode(),
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(ex.response_body),
        },
        "cache": {},
        "timings": {"send": 0, "wait": ex.wait_ms, "receive": ex.time_ms - ex.wait_ms},
    }


def write_har(path: Path, n: int) -> None:
    """A HAR 1.2 file of ``n`` entries, written incrementally."""
    with path.open("w", encoding="utf-8") as out:
        out.write('{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, ')
        out.write('"entries": [\n')
        for i, ex in enumerate(exchanges(n)):
            if i:
                out.write(",\n")
            out.write(json.dumps(_har_entry(ex)))
        out.write("\n]}}\n")


def write_flows(path: Path, n: int) -> None:
    """A mitmproxy flow file (``mitmdump -w`` format) of the same ``n`` exchanges."""
    from mitmproxy import http, io
    from mitmproxy.test import tflow

    with path.open("wb") as out:
        writer = io.FlowWriter(out)
        for ex in exchanges(n):
            start = ex.started.timestamp()
            req = http.Request.make("POST", ex.url, ex.request_body, _headers(ex.request_headers))
            req.timestamp_start, req.timestamp_end = start, start + 0.001
            resp = http.Response.make(200, ex.response_body, _headers(ex.response_headers))
            resp.timestamp_start = start + ex.wait_ms / 1000
            resp.timestamp_end = start + ex.time_ms / 1000
            flow = tflow.tflow(req=req, resp=resp)
            writer.add(flow)


def _headers(items: list[tuple[str, str]]) -> object:
    from mitmproxy import http

    return http.Headers([(k.encode(), v.encode()) for k, v in items])
