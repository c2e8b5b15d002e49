"""Local stand-in upstreams for the coverage e2e tests (loopback, port 0).

* :class:`BinaryUpstream`: an HTTP/1.1 server answering Bedrock paths with AWS event streams
  (``/model/{id}/invoke-with-response-stream``, ``/converse-stream``, sent in small chunks;
  ``{"prompt": …, "split": N}`` streams the prompt back in pieces of 1..N characters)
  and RPC paths (``/pkg.Service/Method``) with gRPC-web bodies ending in a trailers frame.
* :class:`WebSocketUpstream`: a ``websockets`` server speaking a small OpenAI Realtime
  (``/v1/realtime``) and Gemini Live (``…BidiGenerateContent``) dialogue; a Live turn saying
  ``echo <text>`` gets ``<text>`` back in 1..7-character parts.

Payloads follow the providers' documented shapes (see the tests that use them).
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from provenance.extract.eventstream import encode_message

BEDROCK_SERVED = "claude-3-5-sonnet-20240620"


def bedrock_chunk(doc: dict) -> bytes:
    payload = {"bytes": base64.b64encode(json.dumps(doc).encode()).decode(), "p": "abcd"}
    headers = [
        (":event-type", "chunk"),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ]
    return encode_message(headers, json.dumps(payload).encode())


def converse_event(name: str, doc: dict) -> bytes:
    headers = [
        (":event-type", name),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ]
    return encode_message(headers, json.dumps(doc).encode())


def pieces(text: str, split: int) -> list[str]:
    """``text`` whole (``split`` 0), or in pieces of 1..``split`` characters (deterministic),
    as a model streams tokens."""
    if split <= 0:
        return [text]
    rng = random.Random(text)
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, split)
        out.append(text[i : i + n])
        i += n
    return out


def invoke_stream(text: str, split: int = 0) -> list[bytes]:
    deltas = [
        bedrock_chunk(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
        )
        for p in pieces(text, split)
    ]
    return [
        bedrock_chunk(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bdrk_1",
                    "type": "message",
                    "role": "assistant",
                    "model": BEDROCK_SERVED,
                    "content": [],
                    "usage": {"input_tokens": 12, "output_tokens": 1},
                },
            }
        ),
        *deltas,
        bedrock_chunk(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 7},
            }
        ),
        bedrock_chunk(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": 12,
                    "outputTokenCount": 7,
                    "invocationLatency": 10,
                    "firstByteLatency": 5,
                },
            }
        ),
    ]


def converse_stream(text: str, split: int = 0) -> list[bytes]:
    return [
        converse_event("messageStart", {"role": "assistant"}),
        *(
            converse_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}})
            for p in pieces(text, split)
        ),
        converse_event("messageStop", {"stopReason": "end_turn"}),
        converse_event(
            "metadata",
            {
                "usage": {"inputTokens": 20, "outputTokens": 5, "totalTokens": 25},
                "metrics": {"latencyMs": 42},
            },
        ),
    ]


def grpc_web_frame(payload: bytes, flags: int = 0) -> bytes:
    return bytes([flags]) + len(payload).to_bytes(4, "big") + payload


def pb_str(number: int, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    key, length = (number << 3) | 2, len(data)
    out = bytearray()
    for v in (key, length):
        while True:
            b, v = v & 0x7F, v >> 7
            out.append(b | (0x80 if v else 0))
            if not v:
                break
    return bytes(out) + data


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path.startswith("/model/") and path.endswith(
            ("-stream", "/invoke-with-response-stream")
        ):
            doc = json.loads(body or b"{}")
            text, split = doc.get("prompt", "hello"), int(doc.get("split", 0))
            frames = (
                invoke_stream(text, split)
                if path.endswith("invoke-with-response-stream")
                else converse_stream(text, split)
            )
            self._chunked("application/vnd.amazon.eventstream", frames)
        elif path.count("/") == 2 and "." in path.split("/")[1]:
            # gRPC-web: echo a model id found in the request into the reply, then trailers
            reply = grpc_web_frame(pb_str(1, pb_str(5, "Hi")) + pb_str(9, "MODEL_SWE_1_5"))
            trailers = grpc_web_frame(b"grpc-status:0\r\ngrpc-message:\r\n", flags=0x80)
            self._chunked(
                self.headers.get("content-type") or "application/grpc-web+proto", [reply, trailers]
            )
        else:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

    def _chunked(self, content_type: str, frames: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for frame in frames:
            # split each frame in two so the proxy's framer sees partial messages
            for part in (frame[: len(frame) // 2], frame[len(frame) // 2 :]):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.flush()
                time.sleep(0.005)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class BinaryUpstream:
    """HTTP/1.1 Bedrock + gRPC-web stand-in on 127.0.0.1 (context manager)."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> BinaryUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _realtime(conn: Any, model: str) -> None:
    conn.send(
        json.dumps(
            {
                "type": "session.created",
                "event_id": "event_1",
                "session": {"id": "sess_1", "object": "realtime.session", "model": model},
            }
        )
    )
    turn = 0
    for raw in conn:
        doc = json.loads(raw)
        if doc.get("type") == "response.create":
            turn += 1
            usage = {
                "total_tokens": 30 + turn,
                "input_tokens": 20,
                "output_tokens": 10 + turn,
                "input_token_details": {"cached_tokens": 4, "text_tokens": 20, "audio_tokens": 0},
                "output_token_details": {"text_tokens": 10 + turn, "audio_tokens": 0},
            }
            conn.send(
                json.dumps(
                    {
                        "type": "response.done",
                        "event_id": f"event_{turn + 1}",
                        "response": {
                            "id": f"resp_{turn}",
                            "object": "realtime.response",
                            "status": "completed",
                            "output": [],
                            "usage": usage,
                        },
                    }
                )
            )


def _gemini_live(conn: Any) -> None:
    for raw in conn:
        doc = json.loads(raw)
        if "setup" in doc:
            conn.send(json.dumps({"setupComplete": {}}).encode())  # binary frames, as Google sends
        elif "clientContent" in doc and _said(doc).startswith("echo "):
            for piece in pieces(_said(doc)[5:], 7):  # the reply in token-sized parts
                part = {"serverContent": {"modelTurn": {"parts": [{"text": piece}]}}}
                conn.send(json.dumps(part).encode())
            conn.send(json.dumps({"serverContent": {"turnComplete": True}}).encode())
        elif "clientContent" in doc:
            conn.send(
                json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": "Hi"}]}}}).encode()
            )
            conn.send(
                json.dumps(
                    {
                        "serverContent": {"turnComplete": True},
                        "usageMetadata": {
                            "promptTokenCount": 9,
                            "responseTokenCount": 3,
                            "totalTokenCount": 12,
                        },
                    }
                ).encode()
            )


def _said(doc: dict) -> str:
    turns = doc["clientContent"].get("turns") or [{}]
    return "".join(p.get("text", "") for p in turns[-1].get("parts", []))


class WebSocketUpstream:
    """A ``websockets`` server on 127.0.0.1 for Realtime and Live sessions (context manager)."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.server = serve(self._handle, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def _handle(conn: Any) -> None:
        try:
            parts = urlsplit(conn.request.path)
            if "BidiGenerateContent" in parts.path:
                _gemini_live(conn)
            else:
                query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
                _realtime(conn, unquote(query.get("model", "unknown")))
        except Exception:
            pass  # the client closed

    @property
    def port(self) -> int:
        return int(self.server.socket.getsockname()[1])

    def __enter__(self) -> WebSocketUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
