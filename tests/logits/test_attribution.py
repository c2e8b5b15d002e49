"""End to end: `provenance fingerprint logits` against zoo models served over HTTP.

Every derivative must be attributed to its base (outcome ``match``) and no unrelated model may
ever be matched, with at most 32 requests each, through the CLI and the in-run null.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from provenance.cli.main import main
from provenance.fingerprint.logits.undertrained import PERMUTATIONS
from tests.logits.conftest import DERIVATIVES, UNRELATED

pytestmark = pytest.mark.slow


@contextmanager
def serve(folder: Path, name: str, *, logprobs: bool = True) -> Iterator[str]:
    """``folder`` served by the serve-reference app; without logprobs when asked."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from provenance.reference.server import BackgroundServer, ReferenceService, create_app
    from provenance.reference.transformers_backend import TransformersReference

    service = ReferenceService(TransformersReference(folder), name)
    if logprobs:
        app = create_app(service)
    else:  # a product API that never returns logprobs

        def no_logprobs(handler):
            async def endpoint(request: Request) -> JSONResponse:
                body = await request.json()
                if body.get("logprobs") or body.get("top_logprobs") or body.get("echo"):
                    return JSONResponse({"error": {"message": "logprobs are not supported"}}, 400)
                return JSONResponse(await run_in_threadpool(handler, body))

            return endpoint

        app = Starlette(routes=[
            Route("/v1/completions", no_logprobs(service.completions), methods=["POST"]),
            Route("/v1/chat/completions", no_logprobs(service.chat), methods=["POST"]),
        ])  # fmt: skip
    with BackgroundServer(app) as srv:
        yield srv.url + "/v1"


def fingerprint(url: str, refs: dict[str, Path], capsys, *extra: str) -> dict[str, Any]:
    args = ["fingerprint", "logits", url, "--model", "product", "--json", *extra]
    for name, folder in refs.items():
        args += ["--reference", f"{name}={folder}"]
    if "--db" not in extra:
        args.append("--no-store")
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "provenance.fingerprint.logits/1"
    assert set(doc) >= {"verdict", "reason", "method", "ranking", "requests", "evidence"}
    assert doc["requests"] <= 32
    return doc


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_derivative_is_attributed_to_its_base(name: str, zoo, capsys) -> None:
    folder, parent = zoo.derivatives[name]
    with serve(folder, "product") as url:
        doc = fingerprint(url, zoo.bases, capsys)
    assert doc["method"] == "undertrained-tokens" and doc["evidence"]["api"] == "completions-echo"
    assert doc["verdict"] == parent, doc["reason"]
    assert doc["outcome"] == "match"
    assert doc["ranking"][0]["reference"] == parent
    assert all(e["status"] == "compared" for e in doc["ranking"])
    top = doc["ranking"][0]
    assert top["p_adjusted"] < doc["evidence"]["decision"]["alpha"]
    assert top["z"] > max(e["z"] for e in doc["ranking"][1:])
    assert doc["evidence"]["permutations"] == PERMUTATIONS
    assert set(doc["evidence"]["undertrained_tokens"]) == set(zoo.bases)
    assert doc["evidence"]["probes_misaligned"] == 0


@pytest.mark.parametrize("name", [r.name for r in UNRELATED])
def test_unrelated_model_gets_a_null_verdict(name: str, zoo, capsys) -> None:
    with serve(zoo.unrelated[name], "product") as url:
        doc = fingerprint(url, zoo.bases, capsys)
    assert doc["verdict"] is None, doc["ranking"]
    assert doc["outcome"] in ("unrelated", "inconclusive"), doc["reason"]


def test_foreign_vocabulary_is_ruled_out_and_cache_reused(zoo, capsys) -> None:
    from provenance.paths import data_dir

    folder, parent = zoo.derivatives["deriv-a"]
    refs = {**zoo.bases, "foreign": zoo.foreign}
    with serve(folder, "product") as url:
        doc = fingerprint(url, refs, capsys)
        cached = sorted((data_dir() / "reference-cache").rglob("*.json"))
        again = fingerprint(url, refs, capsys)
    foreign = next(e for e in doc["ranking"] if e["reference"] == "foreign")
    assert foreign["status"] == "ruled-out" and "not in its vocabulary" in foreign["reason"]
    assert doc["ranking"][-1]["reference"] == "foreign"
    assert doc["verdict"] == parent
    assert sorted((data_dir() / "reference-cache").rglob("*.json")) == cached  # nothing recomputed
    assert again["ranking"] == doc["ranking"]


def test_chat_logprobs_path_and_store(zoo, capsys, tmp_path: Path) -> None:
    """Chat logprobs when completions are absent; the run lands in the store.

    Chat logprobs carry far less than echoed prompt logprobs (only the generated tokens, after a
    chat template these raw-text models never saw), so the test asserts what must hold on every
    build (CPU and CUDA wheels train slightly different models) — never a claim for the wrong
    base."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from provenance.store import open_store

    folder, parent = zoo.derivatives["deriv-b"]
    with serve(folder, "product") as url:
        inner_url = url
        # a proxy app that hides /v1/completions (404) but forwards chat
        import httpx
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        from provenance.reference.server import BackgroundServer

        async def chat(request: Request) -> JSONResponse:
            async with httpx.AsyncClient(timeout=60) as client:
                r = await client.post(inner_url + "/chat/completions", json=await request.json())
            return JSONResponse(r.json(), r.status_code)

        app = Starlette(
            routes=[Mount("/v1", routes=[Route("/chat/completions", chat, methods=["POST"])])]
        )
        db = f"sqlite:///{tmp_path / 'p.sqlite'}"
        with BackgroundServer(app) as proxy:
            doc = fingerprint(proxy.url + "/v1", zoo.bases, capsys, "--db", db)
    # chat answers are probed with under-trained-token turns (issue 27), not the fallback
    assert doc["evidence"]["api"] == "chat-logprobs"
    assert doc["method"] == "undertrained-chat-logprobs", doc["reason"]
    assert not any(n.startswith("under-trained-token method not used")
                   for n in doc["evidence"]["notes"])  # fmt: skip
    assert doc["verdict"] in (None, parent), doc["reason"]
    assert (doc["outcome"] == "match") == (doc["verdict"] == parent)
    store = open_store(db)
    try:
        from sqlalchemy import text

        with store.session() as s:
            rows = s.execute(text("select kind, family, requests from fingerprint_runs")).all()
    finally:
        store.close()
    assert [(r[0], r[1]) for r in rows] == [("logits", doc["verdict"])] and rows[0][2] <= 32


@pytest.mark.parametrize("name", ["deriv-a", "unrel-seed"])
def test_greedy_agreement_without_logprobs(name: str, zoo, capsys) -> None:
    folder = zoo.derivatives[name][0] if name in zoo.derivatives else zoo.unrelated[name]
    with serve(folder, "product", logprobs=False) as url:
        doc = fingerprint(url, zoo.bases, capsys)
    assert doc["method"] == "greedy-agreement"
    assert "no logprobs" in doc["reason"]
    assert doc["evidence"]["api"] == "completions-text"
    if name in zoo.derivatives:
        # greedy agreement ranks the parent first but never claims (a student of a base's
        # outputs would agree with it just as much)
        parent = zoo.derivatives[name][1]
        assert doc["ranking"][0]["reference"] == parent, doc["ranking"]
    assert doc["verdict"] is None, doc["ranking"]
    assert doc["outcome"] in ("unrelated", "inconclusive")


def test_two_references_suffice_for_the_exact_null(zoo, capsys) -> None:
    """Each reference is tested against its own permutation null: no third reference is needed
    (the consensus method, used when a reference has no visible weights, needs three)."""
    folder, parent = zoo.derivatives["deriv-a"]
    two = {k: zoo.bases[k] for k in ("base-a", "base-b")}
    with serve(folder, "product") as url:
        doc = fingerprint(url, two, capsys)
    assert doc["method"] == "undertrained-tokens"
    assert (doc["outcome"], doc["verdict"]) == ("match", parent), doc["reason"]


def test_a_budget_too_small_for_a_decision_is_inconclusive(zoo, capsys) -> None:
    folder, _ = zoo.derivatives["deriv-a"]
    with serve(folder, "product") as url:
        doc = fingerprint(url, zoo.bases, capsys, "--max-requests", "1")
    assert doc["verdict"] is None and doc["outcome"] == "inconclusive", doc["reason"]
    assert doc["requests"] == 1
