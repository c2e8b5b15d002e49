"""A seeded store for the reporting, verdict and dashboard tests: products with known answers.

- ``cursor``: the leaked Fireworks-style Kimi K2.5 id in requests and responses (identified).
- ``copilot``: asks for ``gpt-4o``, is answered by ``gpt-4o-2024-08-06`` (identified, two ids).
- ``mystery``: a Kimi id, but a tokenizer run that names the Qwen tokenizer (conflict).
- ``composer``: Qwen3 for three days, then Kimi K2.5 (a dated switch).
- ``silent``: traffic without any model id (unknown).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from provenance.records import ExchangeRecord, Observation, Origin, Source, Usage
from provenance.store import FingerprintRunRecord, open_store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KIMI = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"
SECRET_HASH = "3fa9c2d1e0b4"


def record(
    product: str,
    at: datetime,
    *,
    asked: str | None,
    served: str | None,
    host: str = "api.fireworks.ai",
    provider: str | None = "fireworks",
    latency: float = 420.0,
) -> ExchangeRecord:
    obs = []
    if asked:
        obs.append(Observation(asked, Source.REQUEST_FIELD, "$.model", "request"))
    if served:
        obs.append(Observation(served, Source.RESPONSE_FIELD, "$.model", "response"))
    return ExchangeRecord(
        started_at=at,
        method="POST",
        scheme="https",
        host=host,
        port=443,
        path="/inference/v1/chat/completions",
        status=200,
        provider=provider,
        product=product,
        api="openai.chat",
        content_type="application/json",
        latency_ms=latency,
        ttfb_ms=latency / 3,
        streamed=False,
        request_size=120,
        response_size=300,
        request_headers=[("authorization", f"Bearer [REDACTED:bearer:{SECRET_HASH}]")],
        response_headers=[("content-type", "application/json")],
        request_body='{"model": "%s", "messages": []}' % (asked or ""),
        response_body='{"model": "%s"}' % (served or ""),
        request_digest="a" * 64,
        response_digest="b" * 64,
        bodies_truncated=False,
        usage=Usage(input_tokens=12, output_tokens=5, raw={"usage": {"prompt_tokens": 12}}),
        observations=obs,
        parse_errors=[],
        origin=Origin.LIVE,
    )


def seed(url: str) -> None:
    """Create the store at ``url`` and fill it with the products described above."""
    store = open_store(url, create=True)
    recs = [record("cursor", T0 + timedelta(minutes=i), asked=KIMI, served=KIMI) for i in range(4)]
    recs += [
        record(
            "copilot",
            T0 + timedelta(hours=i),
            asked="gpt-4o",
            served="gpt-4o-2024-08-06",
            host="api.githubcopilot.com",
            provider="github-copilot",
            latency=900.0,
        )
        for i in range(3)
    ]
    recs += [record("mystery", T0, asked=KIMI, served=None)]
    recs += [
        record("composer", T0 + timedelta(days=d), asked="qwen3-235b-a22b", served=None)
        for d in range(3)
    ]
    recs += [
        record("composer", T0 + timedelta(days=d), asked=KIMI, served=KIMI) for d in range(3, 6)
    ]
    recs += [record("silent", T0, asked=None, served=None, host="example.test", provider=None)]
    store.write_exchanges(recs)
    store.save_fingerprint_run(
        FingerprintRunRecord(
            kind="tokenizer",
            started_at=T0 + timedelta(hours=1),
            target="https://mystery.example/v1",
            model="mystery-1",
            method="differential-counts",
            requests=3,
            product="mystery",
            result={
                "schema": "provenance.fingerprint.tokenizer/1",
                "verdict": "qwen2",
                "reason": "all probes match qwen2",
                "families": ["qwen2.5", "qwen3", "qwen3-coder"],
                "ranking": [
                    {"tokenizer": "qwen2", "score": 1.0, "status": "match", "reason": "4/4"},
                    {"tokenizer": "cl100k", "score": 0.25, "status": "mismatch", "reason": "1/4"},
                ],
                "requests": 3,
            },
        )
    )
    store.close()
