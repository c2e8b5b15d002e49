"""The decision rule on constructed feature sets: a null-like endpoint is never matched, a
derivative-like one is, two indistinguishable references give ``inconclusive``."""

from __future__ import annotations

import random

import pytest

from provenance.fingerprint.logits import decision


def _noise(rng: random.Random, n: int, scale: float = 1.0) -> list[float]:
    return [rng.gauss(0.0, scale) for _ in range(n)]


def _decide(endpoint, refs, blocks):
    names = [f"r{i}" for i in range(len(refs))]
    scores = decision.lineage(endpoint, refs)
    null = decision.null_scores(refs)
    rescore = decision.logprob_rescorer(endpoint, refs, blocks)
    return decision.decide(names, scores, null, rescore, len(blocks))


def world(seed: int, n_blocks: int = 24, size: int = 20, k: int = 4):
    """References sharing a common part (what every base learned) plus their own part."""
    rng = random.Random(seed)
    n = n_blocks * size
    common = _noise(rng, n, 2.0)
    refs = [[c + x for c, x in zip(common, _noise(rng, n), strict=True)] for _ in range(k)]
    return rng, common, refs, [size] * n_blocks


def test_student_t_tail_matches_tables():
    assert decision.t_sf(0.0, 5) == pytest.approx(0.5)
    assert decision.t_sf(2.015, 5) == pytest.approx(0.05, abs=1e-4)
    assert decision.t_sf(3.365, 5) == pytest.approx(0.01, abs=1e-4)
    assert decision.t_sf(1.96, 1e6) == pytest.approx(0.025, abs=1e-4)
    assert decision.t_sf(-2.0, 5) == pytest.approx(1 - decision.t_sf(2.0, 5))


def test_holm_is_monotone_and_capped():
    adj = decision.holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adj == {"a": pytest.approx(0.03), "c": pytest.approx(0.06), "b": pytest.approx(0.06)}
    assert decision.holm({"a": 0.6, "b": 0.7})["b"] == 1.0


def test_null_like_endpoints_are_never_matched():
    """An endpoint built like the references (shared part + its own) but related to none."""
    outcomes = []
    for seed in range(60):
        rng, common, refs, blocks = world(seed)
        endpoint = [c + x for c, x in zip(common, _noise(rng, len(common)), strict=True)]
        outcomes.append(_decide(endpoint, refs, blocks).outcome)
    assert "match" not in outcomes
    assert outcomes.count("unrelated") >= 25


@pytest.mark.parametrize("share", [0.5, 0.8])
def test_derivative_like_endpoints_match_their_reference(share):
    for seed in range(100, 110):
        rng, common, refs, blocks = world(seed)
        own = [r - c for r, c in zip(refs[2], common, strict=True)]
        endpoint = [
            c + share * o + (1 - share) * x
            for c, o, x in zip(common, own, _noise(rng, len(common)), strict=True)
        ]
        result = _decide(endpoint, refs, blocks)
        assert (result.outcome, result.verdict) == ("match", "r2"), result.reason


def test_two_indistinguishable_references_are_inconclusive():
    """r0 and r1 are near twins (two bases trained on the same data): a derivative of r0 is
    above the null for both, and the rule does not pick one."""
    rng, common, refs, blocks = world(7)
    refs[1] = [a + 0.02 * b for a, b in zip(refs[0], _noise(rng, len(common)), strict=True)]
    own = [r - c for r, c in zip(refs[0], common, strict=True)]
    endpoint = [
        c + 0.5 * o + 0.5 * x for c, o, x in zip(common, own, _noise(rng, len(common)), strict=True)
    ]
    result = _decide(endpoint, refs, blocks)
    assert result.outcome != "match", result.reason


def test_too_few_references_or_features_is_inconclusive():
    assert decision.insufficient(2, 5000, 10).outcome == "inconclusive"
    assert "at least 3" in decision.insufficient(2, 5000, 10).reason
    assert decision.insufficient(4, 10, 10).outcome == "inconclusive"
    assert decision.insufficient(4, 5000, 1).outcome == "inconclusive"
    assert decision.insufficient(4, 5000, 10) is None
