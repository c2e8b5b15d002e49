"""Builders of realistic, already-redacted exchange records for store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from provenance.records import ExchangeRecord, Observation, Origin, Source, Usage

T0 = datetime(2025, 3, 17, 9, 30, 0, tzinfo=UTC)


def make_record(
    i: int = 0,
    *,
    model: str | None = "gpt-4o",
    answered: str | None = None,
    product: str | None = "cursor",
    provider: str | None = "openai",
    host: str = "api.openai.com",
    started_at: datetime | None = None,
    response_body: str | None = None,
) -> ExchangeRecord:
    """Exchange ``i``: a chat completion requesting ``model``, answered as ``answered``."""
    observations = []
    if model is not None:
        observations.append(Observation(model, Source.REQUEST_FIELD, "$.model", "request"))
    if answered is not None:
        observations.append(Observation(answered, Source.SSE_FRAME, "$.model", "response"))
    body = response_body
    if body is None:
        body = f'data: {{"model": "{answered or model}", "n": {i}}}\n\ndata: [DONE]\n\n'
    return ExchangeRecord(
        started_at=started_at or T0 + timedelta(seconds=i),
        method="POST",
        scheme="https",
        host=host,
        port=443,
        path=f"/v1/chat/completions?seq={i}",
        status=200,
        provider=provider,
        product=product,
        api="openai.chat",
        content_type="text/event-stream",
        latency_ms=812.5,
        ttfb_ms=143.25,
        streamed=True,
        request_size=321,
        response_size=len(body),
        request_headers=[
            ("authorization", "Bearer [REDACTED:openai:0123456789ab]"),
            ("content-type", "application/json"),
        ],
        response_headers=[("content-type", "text/event-stream")],
        request_body=f'{{"model": "{model}", "stream": true}}',
        response_body=body,
        request_digest="a" * 64,
        response_digest="b" * 64,
        bodies_truncated=False,
        usage=Usage(
            input_tokens=1200,
            output_tokens=85,
            cached_tokens=1024,
            reasoning_tokens=None,
            total_tokens=1285,
            raw={"$.usage": {"prompt_tokens": 1200, "completion_tokens": 85}},
        ),
        observations=observations,
        parse_errors=[],
        origin=Origin.LIVE,
        http_version="HTTP/2.0",
        client_ja4="t13d1516h2_8daaf6152771_e5627efa2ab1",
        secret_hashes=["0123456789ab"],
    )


def seq_of(record_path: str) -> int:
    """The ``i`` a :func:`make_record` path carries."""
    return int(record_path.rsplit("seq=", 1)[1])
