"""Streamed-text shapes for the split-secret tests: build a stream that carries a text in
small pieces, one piece per frame, the way each provider streams; read the text back out of
a *stored* body (independently of the code under test: each reader knows its own shape).

Shapes follow the providers' documented streaming events:

* OpenAI Chat Completions chunks (``choices[].delta.content``, tool-call ``arguments``):
  https://platform.openai.com/docs/api-reference/chat-streaming
* Anthropic Messages ``content_block_delta`` (``text_delta``, ``input_json_delta``):
  https://docs.anthropic.com/en/docs/build-with-claude/streaming
* OpenAI Responses ``response.output_text.delta``:
  https://platform.openai.com/docs/api-reference/responses-streaming
* Gemini ``streamGenerateContent`` (SSE with ``alt=sse``, else one JSON array):
  https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
* Bedrock ``InvokeModelWithResponseStream`` (``chunk.bytes``) and ``ConverseStream``
  (``contentBlockDelta``) in AWS event-stream messages.
* A Connect server stream whose messages carry the text at protobuf field 1 (as Cursor's
  chat stream does), and the same in gRPC-web.
* OpenAI Realtime ``response.text.delta`` and Gemini Live ``serverContent.modelTurn.parts``
  over a WebSocket.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from provenance.extract.eventstream import encode_message
from tests.extract.conftest import envelope, pb_len


def split(text: str, seed: int | str, low: int = 1, high: int = 7) -> list[str]:
    """``text`` in pieces of ``low``..``high`` characters (deterministic for a seed)."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        n = rng.randint(low, high)
        out.append(text[i : i + n])
        i += n
    return out


def _sse(doc: object, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(doc)}\n\n"


def _data_docs(stored: str) -> list[dict]:
    out = []
    for line in stored.split("\n"):
        if line.startswith("data:") and line[5:].strip().startswith("{"):
            out.append(json.loads(line[5:]))
    return out


def _json_lines(stored: str) -> list[dict]:
    return [json.loads(line) for line in stored.split("\n") if line.startswith("{")]


# ----------------------------------------------------------------------------- builders


def openai_chat(pieces: list[str]) -> bytes:
    base = {"id": "chatcmpl-9x", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06"}
    frames = [_sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})]
    frames += [_sse({**base, "choices": [{"index": 0, "delta": {"content": p}}]}) for p in pieces]
    frames.append(_sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    return ("".join(frames) + "data: [DONE]\n\n").encode()


def read_openai_chat(stored: str) -> str:
    return "".join(
        c["delta"].get("content") or "" for d in _data_docs(stored) for c in d.get("choices", [])
    )


def openai_tool_args(pieces: list[str]) -> bytes:
    base = {"id": "chatcmpl-9y", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06"}
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "run"}}
    frames = [_sse({**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]})]
    for p in pieces:
        call = {"index": 0, "function": {"arguments": p}}
        frames.append(_sse({**base, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}))
    return ("".join(frames) + "data: [DONE]\n\n").encode()


def read_openai_tool_args(stored: str) -> str:
    out = []
    for d in _data_docs(stored):
        for c in d.get("choices", []):
            for call in c["delta"].get("tool_calls", []):
                out.append(call["function"].get("arguments", ""))
    return "".join(out)


def anthropic(pieces: list[str], kind: str = "text") -> bytes:
    start = {
        "type": "message_start",
        "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
    }
    frames = [_sse(start, "message_start")]
    field, delta_type = (
        ("text", "text_delta") if kind == "text" else ("partial_json", "input_json_delta")
    )
    for p in pieces:
        doc = {"type": "content_block_delta", "index": 0, "delta": {"type": delta_type, field: p}}
        frames.append(_sse(doc, "content_block_delta"))
    frames.append(_sse({"type": "message_stop"}, "message_stop"))
    return "".join(frames).encode()


def read_anthropic(stored: str, field: str = "text") -> str:
    return "".join(
        d["delta"].get(field, "") for d in _data_docs(stored) if d["type"] == "content_block_delta"
    )


def responses(pieces: list[str]) -> bytes:
    frames = [
        _sse(
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": p,
                "sequence_number": i,
            },
            "response.output_text.delta",
        )
        for i, p in enumerate(pieces)
    ]
    return "".join(frames).encode()


def read_responses(stored: str) -> str:
    return "".join(
        d["delta"] for d in _data_docs(stored) if d["type"] == "response.output_text.delta"
    )


def _gemini_chunk(piece: str) -> dict:
    return {
        "candidates": [{"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r-1",
    }


def gemini_sse(pieces: list[str]) -> bytes:
    return "".join("data: " + json.dumps(_gemini_chunk(p)) + "\r\n\r\n" for p in pieces).encode()


def gemini_array(pieces: list[str]) -> bytes:
    return ("[" + ",\r\n".join(json.dumps(_gemini_chunk(p)) for p in pieces) + "]").encode()


def _gemini_text(docs: list) -> str:
    return "".join(
        part.get("text", "")
        for d in docs
        for c in d.get("candidates", [])
        for part in c["content"]["parts"]
    )


def read_gemini_sse(stored: str) -> str:
    return _gemini_text(_data_docs(stored))


def read_gemini_array(stored: str) -> str:
    return _gemini_text(json.loads(stored))


def _event(name: str, payload: dict) -> bytes:
    headers = [(":event-type", name), (":content-type", "application/json")]
    return encode_message([*headers, (":message-type", "event")], json.dumps(payload).encode())


def bedrock_invoke(pieces: list[str]) -> bytes:
    out = bytearray()
    for i, p in enumerate(pieces):
        inner = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": p},
        }
        data = base64.b64encode(json.dumps(inner).encode()).decode()
        out += _event(
            "chunk", {"bytes": data, "p": "abcdefghijklmnopqrstuvwxyzABCDEF"[: 4 + i % 20]}
        )
    return bytes(out)


def read_bedrock_invoke(stored: str) -> str:
    return "".join(
        d["bytes"]["delta"]["text"]
        for d in _json_lines(stored)
        if isinstance(d.get("bytes"), dict) and d["bytes"].get("type") == "content_block_delta"
    )


def bedrock_converse(pieces: list[str]) -> bytes:
    out = bytearray(_event("messageStart", {"role": "assistant"}))
    for p in pieces:
        out += _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}})
    out += _event("messageStop", {"stopReason": "end_turn"})
    return bytes(out)


def read_bedrock_converse(stored: str) -> str:
    return "".join(
        d["payload"]["delta"]["text"]
        for d in _json_lines(stored)
        if d.get("event") == "contentBlockDelta"
    )


def connect_stream(pieces: list[str]) -> bytes:
    frames = b"".join(envelope(pb_len(1, p)) for p in pieces)
    return frames + envelope(b"{}", flags=0x02)


def grpc_web_stream(pieces: list[str]) -> bytes:
    frames = b"".join(envelope(pb_len(1, p)) for p in pieces)
    return frames + envelope(b"grpc-status: 0\r\n", flags=0x80)


def read_protobuf_field1(stored: str) -> str:
    return "".join(d["1"] for d in _json_lines(stored) if isinstance(d.get("1"), str))


@dataclass(frozen=True)
class Shape:
    """One HTTP stream shape: where it is sent, its content type, builder and reader."""

    name: str
    url: str
    content_type: str
    build: Callable[[list[str]], bytes]
    read: Callable[[str], str]


SHAPES: tuple[Shape, ...] = (
    Shape(
        "openai-chat",
        "https://api.openai.com/v1/chat/completions",
        "text/event-stream",
        openai_chat,
        read_openai_chat,
    ),
    Shape(
        "openai-tool-arguments",
        "https://api.openai.com/v1/chat/completions",
        "text/event-stream",
        openai_tool_args,
        read_openai_tool_args,
    ),
    Shape(
        "anthropic-text",
        "https://api.anthropic.com/v1/messages",
        "text/event-stream",
        anthropic,
        read_anthropic,
    ),
    Shape(
        "anthropic-partial-json",
        "https://api.anthropic.com/v1/messages",
        "text/event-stream",
        lambda p: anthropic(p, "json"),
        lambda s: read_anthropic(s, "partial_json"),
    ),
    Shape(
        "openai-responses",
        "https://api.openai.com/v1/responses",
        "text/event-stream",
        responses,
        read_responses,
    ),
    Shape(
        "gemini-sse",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
        ":streamGenerateContent?alt=sse",
        "text/event-stream",
        gemini_sse,
        read_gemini_sse,
    ),
    Shape(
        "gemini-json-array",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
        ":streamGenerateContent",
        "application/json; charset=UTF-8",
        gemini_array,
        read_gemini_array,
    ),
    Shape(
        "bedrock-invoke",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream",
        "application/vnd.amazon.eventstream",
        bedrock_invoke,
        read_bedrock_invoke,
    ),
    Shape(
        "bedrock-converse",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream",
        "application/vnd.amazon.eventstream",
        bedrock_converse,
        read_bedrock_converse,
    ),
    Shape(
        "connect-proto",
        "https://api2.cursor.sh/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
        "application/connect+proto",
        connect_stream,
        read_protobuf_field1,
    ),
    Shape(
        "grpc-web",
        "https://example.test/chat.v1.Chat/Stream",
        "application/grpc-web+proto",
        grpc_web_stream,
        read_protobuf_field1,
    ),
)


# ----------------------------------------------------------------------------- WebSocket

REALTIME_URL = "wss://api.openai.com/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17"
LIVE_URL = (
    "wss://generativelanguage.googleapis.com/ws/"
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
)


def realtime_messages(pieces: list[str]) -> list[tuple[bool, dict]]:
    """``(from_client, message)``: a session update, text deltas, then ``response.done``."""
    out: list[tuple[bool, dict]] = [
        (True, {"type": "session.update", "session": {"modalities": ["text"]}}),
    ]
    for i, p in enumerate(pieces):
        delta = {
            "type": "response.text.delta",
            "event_id": f"event_{i}",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": p,
        }
        out.append((False, delta))
    out.append(
        (False, {"type": "response.done", "response": {"id": "resp_1", "status": "completed"}})
    )
    return out


def read_realtime(stored: str) -> str:
    return "".join(
        d["data"]["delta"]
        for d in _json_lines(stored)
        if d.get("data", {}).get("type") == "response.text.delta"
    )


def live_messages(pieces: list[str]) -> list[tuple[bool, dict]]:
    out: list[tuple[bool, dict]] = [
        (True, {"setup": {"model": "models/gemini-2.0-flash-live-001"}}),
        (False, {"setupComplete": {}}),
    ]
    for p in pieces:
        out.append((False, {"serverContent": {"modelTurn": {"parts": [{"text": p}]}}}))
    out.append((False, {"serverContent": {"turnComplete": True}}))
    return out


def read_live(stored: str) -> str:
    out = []
    for d in _json_lines(stored):
        turn = d.get("data", {}).get("serverContent", {}).get("modelTurn")
        if turn:
            out.extend(part.get("text", "") for part in turn["parts"])
    return "".join(out)


WS_SHAPES = (
    ("openai-realtime", REALTIME_URL, realtime_messages, read_realtime),
    ("gemini-live", LIVE_URL, live_messages, read_live),
)
