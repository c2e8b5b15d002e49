"""Extraction suite: CPU per exchange of ``Recorder.record`` (extraction and redaction), and
where it goes.

Three exchanges, each extracted many times in this process, rounds interleaved: an OpenAI JSON
chat completion, an OpenAI SSE stream of 50 content deltas (plus usage and ``[DONE]``), and an
Anthropic SSE stream of 50 deltas. The baseline, measured side by side in the same rounds, is
what any tool must pay for the same bodies: ``json.loads`` of every JSON document in them and
``json.dumps`` of each back (the floor of "parse, then store"). Reported: median ms per
exchange, the ratio to the baseline, and for the OpenAI stream a profile split by stage (tap,
body redaction, split-secret channels), so the next optimisation is aimed where the time goes.
Target (issue 14): extraction CPU per exchange at most 0.7 ms.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import time
from datetime import UTC, datetime
from typing import Any

from bench.context import Context
from bench.report import Section, Table
from provenance.standins.stats import median

TARGET_MS = 0.7


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


def _documents(raw: Any) -> list[bytes]:
    """The JSON documents in an exchange's bodies (what the baseline parses)."""
    docs = [raw.request_body]
    for line in raw.response_body.split(b"\n"):
        if line.startswith(b"data: {"):
            docs.append(line[6:])
    if not raw.streamed:
        docs = [raw.request_body, raw.response_body]
    return docs


def _baseline(docs: list[bytes]) -> None:
    for doc in docs:
        json.dumps(json.loads(doc), ensure_ascii=False, separators=(",", ":"))


def run(ctx: Context) -> Section:
    from provenance.ingest import Job, Recorder
    from provenance.redact import Redactor

    recorder = Recorder(Redactor(b"bench-extract-key-0123456789abcd"))
    per_round = 50 if ctx.quick else 400
    rounds = 3 if ctx.quick else 7
    section = Section(
        "Extraction: CPU per exchange",
        intro=(
            "`Recorder.record` (extraction and redaction, what the extraction process runs per "
            f"exchange), {per_round} exchanges per round, {rounds} rounds interleaved with the "
            "baseline: `json.loads` + `json.dumps` of every JSON document in the same bodies. "
            "One process, one core; medians of the rounds."
        ),
    )
    table = section.table(
        "Median ms per exchange",
        ["exchange", "provenance ms", "baseline ms", "ratio to baseline"],
    )
    worst = 0.0
    for name, raw in exchanges().items():
        job, docs = Job(raw), _documents(raw)
        for _ in range(20):  # warm caches (catalog, redactor) before timing
            recorder.record(job)
        ours: list[float] = []
        base: list[float] = []
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(per_round):
                recorder.record(job)
            ours.append((time.process_time() - start) / per_round * 1000)
            start = time.process_time()
            for _ in range(per_round):
                _baseline(docs)
            base.append((time.process_time() - start) / per_round * 1000)
        mine, floor = median(ours), median(base)
        worst = max(worst, mine)
        table.add(name, f"{mine:.3f}", f"{floor:.3f}", f"{mine / floor:.1f}x")
    section.target(
        "extraction CPU per exchange",
        f"<= {TARGET_MS} ms",
        f"{worst:.2f} ms (slowest of the three)",
        worst <= TARGET_MS,
    )
    section.tables.append(_profile(recorder, exchanges()["OpenAI SSE, 50 deltas"], per_round))
    return section


def _profile(recorder: Any, raw: Any, n: int) -> Table:
    """Where one SSE exchange's time goes, by stage (cumulative profile time, in shares)."""
    from provenance.ingest import Job

    profile = cProfile.Profile()
    job = Job(raw)
    profile.enable()
    for _ in range(n):
        recorder.record(job)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, _), (_, _, tt, _, _) in stats.items())
    stages = {
        "body tap (decode, frame, scan ids and usage)": ("tap.py", "tap_body"),
        "body redaction (per frame)": ("redactor.py", "redact_json"),
        "split-secret channels across frames": ("fragments.py", "redact_split_secrets"),
        "json.loads (all callers)": ("__init__.py", "loads"),
        "header redaction": ("redactor.py", "redact_headers"),
    }
    table = Table(
        "OpenAI SSE, 50 deltas: share of profiled time by stage (stages overlap where nested)",
        ["stage", "share"],
    )
    for label, (file, func) in stages.items():
        cum = sum(
            ct for (path, _, fn), (_, _, _, ct, _) in stats.items()
            if path.endswith(file) and fn == func
        )  # fmt: skip
        table.add(label, f"{cum / total:.0%}" if total else "—")
    return table
