"""Lineage through chat turns (issue 27): products that sample behind a hidden system prompt,
with top-5 logprobs of their generated tokens or text only, probed with under-trained-token turns.

The products are zoo models behind :class:`provenance.standins.sampled.SampledChat`: no
``/completions``, temperature 0.8 whatever the request asks, a system prompt the auditor does not
know. What must hold on every build: the exact null never lets an unrelated model (a same-data
sibling included) be claimed, and a derivative is never claimed for the wrong base.
"""

from __future__ import annotations

from typing import Any

import pytest

from provenance.fingerprint.logits.endpoint import EndpointProber
from provenance.fingerprint.logits.engine import run_fingerprint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def references(zoo) -> list[Any]:
    from provenance.reference.transformers_backend import TransformersReference

    return [TransformersReference(p, name=n) for n, p in zoo.bases.items()]


def attribute(folder, references, *, logprobs: bool, requests: int = 16) -> dict[str, Any]:
    from provenance.standins.sampled import SampledChat

    product = SampledChat(folder, temperature=0.8, logprobs=logprobs, seed=requests)
    doc = run_fingerprint(EndpointProber(product, "product", max_requests=requests), references)
    assert product.requests == doc["requests"] <= requests
    return doc


@pytest.mark.parametrize("logprobs", [True, False], ids=["top5", "text"])
def test_chat_products_are_probed_with_undertrained_turns(zoo, references, logprobs) -> None:
    folder, parent = zoo.derivatives["deriv-a"]
    doc = attribute(folder, references, logprobs=logprobs)
    want = "undertrained-chat-logprobs" if logprobs else "undertrained-chat-text"
    assert doc["method"] == want, doc["reason"]
    assert doc["evidence"]["api"] == ("chat-logprobs" if logprobs else "chat-text")
    compared = [e for e in doc["ranking"] if e["status"] == "compared"]
    assert {e["reference"] for e in compared} == set(zoo.bases)
    assert all(e["null_sd"] > 0 and e["p_value"] is not None for e in compared)
    assert doc["evidence"]["positions"] >= 64
    assert doc["outcome"] != "match" or doc["verdict"] == parent, doc["reason"]


@pytest.mark.parametrize("logprobs", [True, False], ids=["top5", "text"])
@pytest.mark.parametrize("name", ["unrel-seed", "unrel-text", "unrel-arch"])
def test_unrelated_chat_products_are_never_claimed(zoo, references, name, logprobs) -> None:
    doc = attribute(zoo.unrelated[name], references, logprobs=logprobs)
    assert doc["method"].startswith("undertrained-chat")
    assert doc["verdict"] is None and doc["outcome"] != "match", doc["reason"]


def test_a_product_that_answers_nothing_usable_falls_back_and_says_why(zoo, references) -> None:
    """An endpoint that answers every chat turn with an error: the run says why, never claims."""

    def broken(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return 500, {"error": {"message": "upstream overloaded"}}

    from provenance.errors import FingerprintError

    with pytest.raises(FingerprintError, match="neither /v1/completions nor"):
        run_fingerprint(EndpointProber(broken, "product", max_requests=8), references)


def test_malformed_chat_logprobs_are_skipped_not_read(references) -> None:
    from provenance.fingerprint.logits import undertrained_chat
    from provenance.fingerprint.logits.endpoint import Observation, ObservedToken

    ref = references[0]
    words = ref.token_strings(ref.tokenize(" the value of the"))
    good = tuple(ObservedToken(w, -1.0, ((w, -1.0), (" x", -2.0))) for w in words)
    bad = list(good)
    bad[1] = ObservedToken(words[1], float("nan"), ((words[1], float("nan")),))
    bad[2] = ObservedToken(words[2], 3.0, ())
    bad[3] = ObservedToken(words[3], -0.5, ((" x", float("-inf")), (words[3], -0.5)))
    turn = ({"role": "user", "content": "hello"},)
    obs = [Observation("a", "chat-logprobs", None, turn, good),
           Observation("b", "chat-logprobs", None, turn, tuple(bad)),
           Observation("c", "chat-logprobs", None, None, good)]  # fmt: skip
    aligned = undertrained_chat.align(ref, obs)
    assert aligned.dropped == 1  # no messages: nothing to teacher-force on
    assert aligned.blocks == [len(words), len(words) - 2]
    assert aligned.alternatives[1][-1] == ((words[3], -0.5),)
    prompt = len(ref.apply_chat_template(list(turn)))
    assert aligned.positions[0] == list(range(prompt, prompt + len(words)))


def test_a_product_that_drops_logprobs_mid_run_is_read_as_it_began(zoo, references) -> None:
    from provenance.standins.sampled import SampledChat

    folder, parent = zoo.derivatives["deriv-b"]
    product = SampledChat(folder, temperature=0.8, logprobs=True, seed=3)

    def fickle(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        product.logprobs = product.requests < 4
        return product(path, body)

    doc = run_fingerprint(EndpointProber(fickle, "product", max_requests=12), references)
    assert doc["method"] == "undertrained-chat-logprobs"
    notes = " | ".join(doc["evidence"]["notes"])
    assert "no logprobs in the reply" in notes or "changed the form of its answers" in notes
    assert doc["outcome"] != "match" or doc["verdict"] == parent
