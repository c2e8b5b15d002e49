"""The extraction suite's exchanges, and its measurement of one tree's code in a child process.

    python bench/extract_probe.py ROUNDS PER_ROUND     # prints one JSON line: name -> [ms, ...]

Run as a script (not ``-m``) with ``PYTHONPATH`` set to another checkout, it measures that
checkout's ``Recorder.record`` on the same exchanges (``python -m bench --baseline REV``). It
imports nothing from ``bench``, only the standard library and ``provenance``, so whichever tree
is first on the path is the one measured.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any


def _sse(events: list[dict[str, Any]], *, named: bool = False) -> bytes:
    out = b""
    for event in events:
        head = f"event: {event.get('type', 'message')}\n".encode() if named else b""
        out += head + b"data: " + json.dumps(event).encode() + b"\n\n"
    return out


def exchanges() -> dict[str, Any]:
    """name -> RawExchange (built once; extraction never mutates them)."""
    from provenance.records import RawExchange

    now = datetime.now(UTC)
    request = json.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "benchmark " * 20}]}
    ).encode()
    headers = [("content-type", "application/json"), ("authorization", "Bearer sk-b" + "0" * 40)]
    chat = json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "word " * 60},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 25, "completion_tokens": 60, "total_tokens": 85},
    }).encode()  # fmt: skip
    openai_sse = _sse(
        [{"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06",
          "choices": [{"index": 0, "delta": {"content": f"tok{i} "}}]} for i in range(50)]
        + [{"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06",
            "choices": [], "usage": {"prompt_tokens": 25, "completion_tokens": 50}}]
    ) + b"data: [DONE]\n\n"  # fmt: skip
    anthropic_sse = _sse(
        [{"type": "message_start", "message": {"id": "msg_1", "model": "claude-sonnet-4-5",
                                                "usage": {"input_tokens": 25}}}]
        + [{"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": f"tok{i} "}} for i in range(50)]
        + [{"type": "message_delta", "usage": {"output_tokens": 50}},
           {"type": "message_stop"}],
        named=True,
    )  # fmt: skip
    sse_headers = [("content-type", "text/event-stream")]

    def raw(url: str, body: bytes, resp_headers: list[tuple[str, str]]) -> RawExchange:
        return RawExchange(now, "POST", url, headers, request, 200, resp_headers, body,
                           streamed=resp_headers is sse_headers)  # fmt: skip

    return {
        "OpenAI JSON chat": raw(
            "https://api.openai.com/v1/chat/completions",
            chat,
            [("content-type", "application/json")],
        ),
        "OpenAI SSE, 50 deltas": raw(
            "https://api.openai.com/v1/chat/completions", openai_sse, sse_headers
        ),
        "Anthropic SSE, 50 deltas": raw(
            "https://api.anthropic.com/v1/messages", anthropic_sse, sse_headers
        ),
    }


def measure(rounds: int, per_round: int) -> dict[str, list[float]]:
    """Median-ready CPU ms per exchange of ``Recorder.record``: ``rounds`` values per exchange."""
    from provenance.ingest import Job, Recorder
    from provenance.redact import Redactor

    recorder = Recorder(Redactor(b"bench-extract-key-0123456789abcd"))
    out: dict[str, list[float]] = {}
    for name, raw in exchanges().items():
        job = Job(raw)
        for _ in range(20):
            recorder.record(job)
        values = []
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(per_round):
                recorder.record(job)
            values.append((time.process_time() - start) / per_round * 1000)
        out[name] = values
    return out


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2]))))
