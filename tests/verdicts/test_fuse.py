"""Fusion rules on hand-built evidence: agreement, conflict, a dated switch, nothing at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from provenance.verdicts import (
    FingerprintEvidence,
    IdEvidence,
    Kind,
    ProductEvidence,
    ProviderEvidence,
    detect_switches,
    fuse,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
VENDORS = {"kimi-k2.5": "moonshot", "qwen3": "alibaba", "gpt-4o": "openai", "claude": "anthropic"}
KIMI_ID = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"


def _id(model_id: str, family: str | None, n: int, *, responses: int | None = None, day: int = 0):
    return IdEvidence(
        model_id=model_id,
        family=family,
        vendor=VENDORS.get(family or ""),
        exchanges=n,
        responses=n if responses is None else responses,
        requests=n,
        first_seen=T0 + timedelta(days=day),
        last_seen=T0 + timedelta(days=day, hours=5),
    )


def _run(kind: Kind, verdict: str | None, families: tuple[str, ...], day: int = 1):
    return FingerprintEvidence(kind, 1, verdict, families, T0 + timedelta(days=day))


def test_agreeing_evidence_names_the_family_with_high_confidence() -> None:
    ev = ProductEvidence(
        product="cursor",
        ids=[_id(KIMI_ID, "kimi-k2.5", 412)],
        fingerprints=[
            _run(Kind.TOKENIZER, "kimi-k2", ("kimi-k2", "kimi-k2.5")),
            _run(Kind.LOGITS, "kimi-k2.5-base", ("kimi-k2.5",)),
        ],
        exchanges=412,
    )
    v = fuse(ev, VENDORS)
    assert v.status == "identified"
    assert v.family == "kimi-k2.5"
    assert v.vendor == "moonshot"
    assert v.reference == "kimi-k2.5-base"
    # 1 - (1-0.9)(1-0.6)(1-0.8) = 0.992
    assert abs(v.confidence - 0.992) < 1e-9
    assert v.evidence_kinds == ["logits", "model-id", "tokenizer"]
    assert any("412 responses" in r and "kimi-k2.5" in r for r in v.reasons)


def test_request_only_id_weighs_less_than_a_served_id() -> None:
    served = fuse(ProductEvidence("a", ids=[_id("gpt-4o", "gpt-4o", 10)]), VENDORS)
    asked = fuse(ProductEvidence("b", ids=[_id("gpt-4o", "gpt-4o", 10, responses=0)]), VENDORS)
    assert served.confidence == 0.9
    assert asked.confidence == 0.7
    assert "in 10 requests" in asked.reasons[0]


def test_conflicting_evidence_is_a_conflict_not_a_winner() -> None:
    ev = ProductEvidence(
        product="mystery",
        ids=[_id(KIMI_ID, "kimi-k2.5", 50)],
        fingerprints=[_run(Kind.TOKENIZER, "qwen2", ("qwen2.5", "qwen3"))],
        exchanges=50,
    )
    v = fuse(ev, VENDORS)
    assert v.status == "conflict"
    assert v.family is None
    assert v.confidence == 0.0
    assert any("kimi-k2.5" in c for c in v.conflicts)
    assert any("qwen3" in c for c in v.conflicts)
    # both sides keep their support in the candidates, for the report
    assert set(v.candidates) == {"kimi-k2.5", "qwen2.5", "qwen3"}


def test_mixed_use_of_two_models_is_not_a_conflict() -> None:
    ev = ProductEvidence(
        "copilot", ids=[_id("gpt-4o", "gpt-4o", 70), _id("claude-x", "claude", 30)]
    )
    v = fuse(ev, VENDORS)
    assert v.status == "identified"
    assert v.family == "gpt-4o"
    assert abs(v.confidence - 0.9 * 0.7) < 1e-9
    assert v.candidates["claude"] < v.candidates["gpt-4o"]


def test_switch_of_base_model_is_detected_and_dated() -> None:
    daily = [(T0 + timedelta(days=d), "qwen3", 20) for d in range(5)]
    daily += [(T0 + timedelta(days=d), "kimi-k2.5", 25) for d in range(5, 9)]
    daily.append((T0 + timedelta(days=6), "qwen3", 1))  # a straggler does not undo the switch
    ev = ProductEvidence(
        "composer",
        ids=[_id("qwen3-235b-a22b", "qwen3", 101, day=0), _id(KIMI_ID, "kimi-k2.5", 100, day=5)],
        daily_families=daily,
    )
    # the old id was last seen on day 0: only post-switch evidence decides
    v = fuse(ev, VENDORS)
    assert [s.to_json() for s in v.switches] == [
        {"from": "qwen3", "to": "kimi-k2.5", "at": "2026-03-06T00:00:00Z"}
    ]
    assert v.family == "kimi-k2.5"
    assert v.confidence == 0.9
    assert any("switched from `qwen3` to `kimi-k2.5` on 2026-03-06" in r for r in v.reasons)


def test_detect_switches_ignores_stable_traffic() -> None:
    daily = [(T0 + timedelta(days=d), "gpt-4o", 3) for d in range(10)]
    assert detect_switches(daily) == []


def test_product_with_no_evidence() -> None:
    v = fuse(ProductEvidence("silent"), VENDORS)
    assert v.status == "no-evidence"
    assert v.family is None and v.confidence == 0.0
    assert v.reasons == ["no evidence about this product's model in the store"]


def test_unknown_ids_and_open_set_runs_name_nothing() -> None:
    ev = ProductEvidence(
        "hidden",
        ids=[_id("composer-1", None, 9)],
        fingerprints=[_run(Kind.TOKENIZER, None, ())],
        exchanges=9,
    )
    v = fuse(ev, VENDORS)
    assert v.status == "unknown"
    assert v.family is None
    assert any("not in the catalog" in r for r in v.reasons)
    assert any("no known candidate fits" in r for r in v.reasons)


def test_exclusive_provider_is_a_weak_hint_only() -> None:
    ev = ProductEvidence(
        "claude-code",
        ids=[_id("claude-sonnet-4-5", "claude", 5)],
        providers=[ProviderEvidence("anthropic", 5, exclusive_vendor="anthropic")],
    )
    v = fuse(ev, VENDORS)
    assert v.family == "claude"
    assert abs(v.confidence - (1 - 0.1 * 0.8)) < 1e-9
    hint_only = fuse(
        ProductEvidence("x", providers=[ProviderEvidence("anthropic", 5, "anthropic")]), VENDORS
    )
    assert hint_only.status == "unknown" and hint_only.family is None


def test_newer_run_supersedes_older_run_of_same_kind() -> None:
    ev = ProductEvidence(
        "p",
        fingerprints=[
            _run(Kind.TOKENIZER, "qwen2", ("qwen3",), day=1),
            _run(Kind.TOKENIZER, "o200k", ("gpt-4o",), day=2),
        ],
    )
    v = fuse(ev, VENDORS)
    assert v.family == "gpt-4o"
    assert v.confidence == 0.6
