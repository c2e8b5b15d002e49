"""A fast local upstream for the proxy suite: raw asyncio HTTP/1.1 on loopback, keep-alive.

    python -m provenance.standins.upstream          # prints "PORT <n>" once listening on 127.0.0.1

``POST /v1/chat/completions`` answers an OpenAI-style JSON completion (``Content-Length``), or,
when the request body contains ``"stream": true``, a chunked ``text/event-stream`` of
``x-bench-events`` events (default 20) spaced ``x-bench-interval-ms`` apart (default 10), the first
one right after the headers. Anything else gets a 404. Bodies are deterministic, so a client can
compare what it received through a proxy with what the upstream sent (:func:`json_body`,
:func:`sse_event`).
"""

from __future__ import annotations

import asyncio
import json
import sys

MODEL = "gpt-4o-2024-08-06"


def json_body() -> bytes:
    """The non-streamed completion (about 600 bytes)."""
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1767225600,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "The proxy passed this. " * 16},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 42, "completion_tokens": 96, "total_tokens": 138},
        }
    ).encode()


def sse_event(k: int) -> bytes:
    """The ``k``-th event of a stream."""
    doc = {"id": "chatcmpl-bench", "model": MODEL, "choices": [{"delta": {"content": f"w{k} "}}]}
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
_JSON = json_body()
_JSON_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(_JSON)}\r\n".encode()
    + b"x-request-id: req_bench\r\n\r\n"
)
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target = ([*lines[0].split(" "), "", ""])[:2]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = b""
            if "content-length" in headers:
                body = await reader.readexactly(int(headers["content-length"]))
            if method != "POST" or not target.endswith("/v1/chat/completions"):
                writer.write(_NOT_FOUND)
            elif b'"stream": true' in body or b'"stream":true' in body:
                events = int(headers.get("x-bench-events", "20"))
                interval = float(headers.get("x-bench-interval-ms", "10")) / 1000
                writer.write(_SSE_HEAD + _chunk(sse_event(0)))
                await writer.drain()
                for k in range(1, events):
                    await asyncio.sleep(interval)
                    writer.write(_chunk(sse_event(k)))
                    await writer.drain()
                writer.write(_chunk(SSE_DONE) + b"0\r\n\r\n")
            else:
                writer.write(_JSON_HEAD + _JSON)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def serve() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)
