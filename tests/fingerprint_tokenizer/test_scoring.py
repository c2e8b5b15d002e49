"""Scoring and the open-set decision on hand-built signatures."""

from __future__ import annotations

from provenance.fingerprint.tokenizer.scoring import decide, rank
from provenance.tokenizers.signatures import ProbeCount, Signature


def sig(sig_id, deltas, parsed=None, base=None, families=("fam",)):
    counts = {"baseline": ProbeCount("baseline", "-", 10, (10,))}
    for i, d in enumerate(deltas, start=1):
        alts = (parsed or {}).get(f"p{i}", (10 + d,))
        counts[f"p{i}"] = ProbeCount(f"p{i}", "-", 10 + d, tuple(alts))
    return Signature(
        sig_id,
        tuple({"family": f, "source": "t"} for f in families),
        (),
        base,
        "set",
        "sha",
        counts,
    )


def test_single_match_wins_and_score_is_fraction_exact():
    sigs = [sig("a", [5, 7, 9]), sig("b", [5, 8, 9])]
    ranking = rank(sigs, {"p1": 5, "p2": 7, "p3": 9}, "sha")
    assert [(c.tokenizer, c.score, c.status) for c in ranking] == [
        ("a", 1.0, "match"),
        ("b", 2 / 3, "mismatch"),
    ]
    assert decide(ranking, sigs)["verdict"] == "a"


def test_no_match_is_null_never_nearest():
    sigs = [sig("a", [5, 7, 9])]
    result = decide(rank(sigs, {"p1": 5, "p2": 7, "p3": 10}, "sha"), sigs)
    assert result["verdict"] is None and "closest: a" in result["reason"]


def test_unrelated_ties_are_indistinguishable():
    sigs = [sig("a", [5, 7]), sig("b", [5, 7])]
    result = decide(rank(sigs, {"p1": 5, "p2": 7}, "sha"), sigs)
    assert result["verdict"] is None and result["reason"].startswith("indistinguishable")


def test_base_tie_reports_shared_base_with_union_of_families():
    sigs = [
        sig("o", [5, 7], families=("gpt-4o",)),
        sig("h", [5, 7], parsed={"p2": (15,)}, base="o", families=("gpt-oss",)),
    ]
    result = decide(rank(sigs, {"p1": 5, "p2": 7}, "sha"), sigs)
    assert result["verdict"] == "o" and result["families"] == ["gpt-4o", "gpt-oss"]
    parsed = decide(rank(sigs, {"p1": 5, "p2": 5}, "sha"), sigs)
    assert parsed["verdict"] == "h" and parsed["specials"] == "parsed"


def test_other_probe_set_is_skipped():
    ranking = rank([sig("a", [5])], {"p1": 5}, "other-sha")
    assert ranking[0].status == "skipped"
    assert decide(ranking, [sig("a", [5])])["verdict"] is None
