"""The stream-boundary fingerprint: deltas recorded at extraction, streams cut by real tokenizers,
re-chunked streams, unknown tokenizers, and the real provider streams of the shared corpus."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from provenance.extract.deltas import DeltaLog, text_deltas
from provenance.extract.tap import tap_body
from provenance.fingerprint.tokenizer.boundary import (
    MIN_BOUNDARIES,
    Stream,
    fingerprint_streams,
    run_boundary,
)
from provenance.fingerprint.tokenizer.passive import candidate_handles
from provenance.fingerprint.tokenizer.probe_search import TEXT_UNITS
from provenance.standins.tokencount import chunk_stream
from tests.conftest import service_missing

REALWORLD = Path(__file__).resolve().parents[3] / "shared" / "data" / "realworld"
# Text the tokenizers were not tuned on: the repository's docs plus every probe unit, shuffled.
ROOT = Path(__file__).resolve().parents[2]


def sample_text(seed: int, size: int = 2500) -> str:
    rng = random.Random(seed)
    units = list(TEXT_UNITS.values())
    rng.shuffle(units)
    doc = (ROOT / "docs" / "verdicts.md").read_text(encoding="utf-8")
    start = rng.randrange(0, max(1, len(doc) - size))
    return doc[start : start + size // 2] + "\n" + " ".join(units)[: size // 2]


@pytest.fixture(scope="module")
def handles(signatures):
    return candidate_handles(signatures)


def test_text_deltas_of_each_stream_shape():
    assert text_deltas({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}) == [
        ("content", "Hi")
    ]
    assert text_deltas({"choices": [{"delta": {"reasoning_content": "so", "content": ""}}]}) == [
        ("reasoning", "so")
    ]
    assert text_deltas({"type": "response.output_text.delta", "delta": " x"}) == [("content", " x")]
    anthropic = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "a"}}
    assert text_deltas(anthropic) == [("content", "a")]
    gemini = {
        "candidates": [{"content": {"parts": [{"text": "t", "thought": True}, {"text": "u"}]}}]
    }
    assert text_deltas(gemini) == [("reasoning", "t"), ("content", "u")]
    assert text_deltas({"choices": [{"delta": {"role": "assistant"}}]}) == []
    assert text_deltas(["not", "a", "frame"]) == []


def test_extraction_stores_piece_lengths_not_text():
    frames = [{"choices": [{"delta": {"content": p}}]} for p in ("Hel", "lo", " wörld", "")]
    body = "".join(f"data: {json.dumps(f)}\n\n" for f in frames) + "data: [DONE]\n\n"
    tap = tap_body(
        body.encode(),
        content_type="text/event-stream",
        content_encoding=None,
        role="response",
        max_body=1 << 20,
    )
    assert tap.deltas == {"content": [3, 2, 6]}
    log = DeltaLog(keep_text=True)
    for frame in frames:
        log.add(frame)
    assert log.texts == {"content": ["Hel", "lo", " wörld"]}


@pytest.mark.parametrize(
    "truth", ["kimi-k2", "glm4", "deepseek-v4", "llama4", "mistral-tekken", "qwen3.5"]
)
def test_one_token_per_chunk_names_the_tokenizer_or_nothing(truth, handles, signatures):
    """On held-out text (seeds 11–13), a stream cut one token per chunk by a real tokenizer is
    named by its own id (or by the base it shares merges with); never by another."""
    by_id = {s.id: s for s in signatures}
    named = 0
    for seed in (11, 12, 13):
        pieces = chunk_stream(handles[truth], sample_text(seed))
        doc = fingerprint_streams([Stream(tuple(pieces))], handles, signatures)
        if doc["verdict"] is not None:
            assert doc["verdict"] in (truth, by_id[truth].base), (seed, doc["reason"])
            named += 1
    assert named >= 2, truth


def test_rechunked_streams_are_named_only_with_usage(handles, signatures):
    kimi = handles["kimi-k2"]
    streams = []
    for seed in (21, 22, 23):
        text = sample_text(seed)
        pieces = chunk_stream(kimi, text, 4, seed=seed)
        streams.append(Stream(tuple(pieces), len(kimi.encode(text)) + 1))
    without_usage = [Stream(s.pieces) for s in streams]
    doc = fingerprint_streams(without_usage, handles, signatures)
    assert doc["verdict"] is None and "chunks hold" in doc["reason"]
    doc = fingerprint_streams(streams, handles, signatures)
    assert doc["verdict"] in (None, "kimi-k2"), doc["reason"]
    if doc["verdict"] is None:
        assert "indistinguishable" in doc["reason"]


def test_tokenizers_trained_here_are_never_named(trained_tokenizers, handles, signatures):
    for name, handle in trained_tokenizers.items():
        if not handle.segments:
            continue
        for seed in (31, 32):
            pieces = chunk_stream(handle, sample_text(seed))
            doc = fingerprint_streams([Stream(tuple(pieces))], handles, signatures)
            assert doc["verdict"] is None, (name, seed, doc["reason"])


def test_too_few_boundaries_is_null_with_the_reason(handles, signatures):
    pieces = chunk_stream(handles["glm4"], "Short answer.")
    doc = fingerprint_streams([Stream(tuple(pieces))], handles, signatures)
    assert doc["verdict"] is None
    assert f"need {MIN_BOUNDARIES}" in doc["reason"] and "too few" in doc["reason"]


def _import_realworld(tmp_path: Path) -> str:
    har = REALWORLD / "realworld.har"
    if not har.is_file():
        service_missing(f"the shared corpus {har} is not there")
    from provenance.cli.main import main

    url = f"sqlite:///{tmp_path / 'rw.sqlite'}"
    assert main(["import", str(har), "--db", url, "--json"]) == 0
    return url


def test_real_provider_streams(tmp_path, handles, signatures, capsys):
    """The recorded provider streams: DeepSeek's are named by the DeepSeek merges; no stream is
    claimed by a tokenizer whose families exclude the model's own catalog family."""
    from sqlalchemy import select

    from provenance.catalog import resolve
    from provenance.store import open_store
    from provenance.store.models import ExchangeRow

    url = _import_realworld(tmp_path)
    capsys.readouterr()
    with open_store(url) as store:
        results = run_boundary(store, signatures=signatures, handles=handles)
        with store.session() as session:
            stored = (
                session.execute(
                    select(ExchangeRow.stream_deltas).where(ExchangeRow.stream_deltas.is_not(None))
                )
                .scalars()
                .all()
            )
    # every recorded SSE stream with text pieces keeps their lengths, never the text
    stored = [d for d in stored if d]  # JSON null for exchanges without text pieces
    assert len(stored) >= 15
    assert all(all(isinstance(x, int) for v in d.values() for x in v) for d in stored)
    by_model = {r["model"]: r for r in results}
    for model in ("deepseek-reasoner", "deepseek-ai/DeepSeek-R1"):
        doc = by_model[model]
        assert doc["verdict"] == "deepseek-v4", doc["reason"]
        assert {"deepseek-v3", "deepseek-r1"} <= set(doc["families"])
    wrong = []
    for doc in results:
        if doc["verdict"] is None:
            continue
        family = resolve(doc["model"]).family if doc["model"] else None
        if family not in doc["families"]:
            wrong.append((doc["model"], doc["verdict"], family))
    assert not wrong, f"false claims on real streams: {wrong}"
    assert sum(r["boundaries"] for r in results) > 3000


def test_passive_cli_saves_boundary_runs_and_verdicts_use_them(tmp_path, capsys):
    from provenance.cli.main import main

    url = _import_realworld(tmp_path)
    capsys.readouterr()
    assert main(["fingerprint", "passive", "--db", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["boundaries"] and all(
        r["schema"] == "provenance.tokenizer-boundary/1" for r in doc["boundaries"]
    )
    from provenance.store import open_store
    from provenance.verdicts.collect import verdicts

    with open_store(url) as store:
        kinds = {k for v in verdicts(store) for k in v.evidence_kinds}
    assert "tokenizer-boundary" in kinds
