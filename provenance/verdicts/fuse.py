"""Fuse a product's evidence into one base-model verdict.

The rules, in the order they apply:

1. **Switches.** The product's traffic is bucketed by day; the family that served most exchanges
   each day is that day's family. A change of that family which persists is a *switch*, dated by
   the first day of the new family. Only evidence from after the last switch decides the current
   verdict; the earlier families stay in the verdict's history.
2. **Votes.** Each kind of evidence votes for the set of families it supports:
   literal ids for every family carrying at least ``MIXED_SHARE`` of the id-bearing exchanges
   (several families = the product routes to several models, which is not a conflict); a
   tokenizer run for every family known to use the tokenizer it named; a logit run for its
   reference's family. Runs that named nothing (open set) and unknown ids vote for nothing and
   are reported as such. The provider of the hosts is a weak hint and never votes.
3. **Conflict.** If the kinds that voted share no family, the verdict is a *conflict*: no family
   is named, every side is listed, and confidence is 0.
4. **Winner.** Otherwise the family with the highest support inside the shared set wins.
5. **Confidence** in [0, 1] is the noisy-OR of the weights of the evidence that supports the
   winner: ``1 - Π(1 - w)``. Weights (``WEIGHTS``) encode how directly each kind names a base
   model: an id in a response is the served model's own name (0.9); an id only in a request is
   what the client asked for (0.7); a logit match to a local base is direct but statistical
   (0.8); an active tokenizer match names a tokenizer shared by a family line (0.6); a passive
   fit is noisier (0.4), and so is a stream-boundary match (0.4: it rests on how the server
   chunks its stream, and similar vocabularies segment most text alike); a single-vendor
   provider adds 0.2. An id's weight is scaled by its
   share of the id-bearing traffic. Confidence is a ranking of how much independent, direct
   evidence agrees — not a calibrated probability; 0.9 means "the product's own traffic names
   it", 0.97+ means "named and independently confirmed".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from provenance.verdicts.evidence import (
    FingerprintEvidence,
    IdEvidence,
    Kind,
    ProductEvidence,
)

WEIGHTS: dict[str, float] = {
    "id-response": 0.9,
    "id-request": 0.7,
    Kind.LOGITS: 0.8,
    Kind.TOKENIZER: 0.6,
    Kind.TOKENIZER_PASSIVE: 0.4,
    Kind.TOKENIZER_BOUNDARY: 0.4,
    Kind.PROVIDER: 0.2,
}
MIXED_SHARE = 0.2  # a family with at least this share of id-bearing exchanges counts as in use


@dataclass(frozen=True, slots=True)
class Switch:
    """The product's base family changed from ``before`` to ``after`` on day ``at``."""

    before: str
    after: str
    at: datetime

    def to_json(self) -> dict[str, str]:
        return {"from": self.before, "to": self.after, "at": _iso(self.at)}


@dataclass(slots=True)
class Verdict:
    """The base-model verdict for one product.

    ``status``: ``identified`` (a family is named), ``conflict`` (kinds of evidence disagree;
    nothing is named), ``unknown`` (evidence exists but names no known family) or
    ``no-evidence``. ``reference`` is set when a logit run named a local reference model.
    """

    product: str
    status: str
    family: str | None
    vendor: str | None
    reference: str | None
    confidence: float
    evidence_kinds: list[str]
    reasons: list[str]
    conflicts: list[str] = field(default_factory=list)
    switches: list[Switch] = field(default_factory=list)
    candidates: dict[str, float] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    exchanges: int = 0

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (times as ISO-8601 UTC)."""
        return {
            "product": self.product,
            "status": self.status,
            "family": self.family,
            "vendor": self.vendor,
            "reference": self.reference,
            "confidence": round(self.confidence, 3),
            "evidence_kinds": self.evidence_kinds,
            "reasons": self.reasons,
            "conflicts": self.conflicts,
            "switches": [s.to_json() for s in self.switches],
            "candidates": {k: round(v, 3) for k, v in self.candidates.items()},
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "exchanges": self.exchanges,
        }


def detect_switches(daily: list[tuple[datetime, str, int]]) -> list[Switch]:
    """Switches of the dominant family between consecutive days with traffic.

    ``daily`` holds (day, family, exchanges) rows in any order. A day's family is the one with
    most exchanges (ties: alphabetical, so the result is deterministic). Each change between
    consecutive days is a switch dated by the first day of the new family.
    """
    per_day: dict[datetime, dict[str, int]] = defaultdict(dict)
    for day, family, count in daily:
        per_day[day][family] = per_day[day].get(family, 0) + count
    switches: list[Switch] = []
    previous: str | None = None
    for day in sorted(per_day):
        counts = per_day[day]
        dominant = sorted(counts, key=lambda f: (-counts[f], f))[0]
        if previous is not None and dominant != previous:
            switches.append(Switch(before=previous, after=dominant, at=day))
        previous = dominant
    return switches


def fuse(evidence: ProductEvidence, vendors: dict[str, str] | None = None) -> Verdict:
    """The verdict for one product. ``vendors`` maps family → vendor (from the catalog)."""
    vendors = vendors or {}
    switches = detect_switches(evidence.daily_families)
    since = switches[-1].at if switches else None
    ids = [i for i in evidence.ids if since is None or i.last_seen >= since]
    runs = _latest_runs(evidence.fingerprints)

    votes: dict[str, set[str]] = {}
    support: dict[str, list[tuple[str, float, str]]] = defaultdict(list)  # family → (kind, w, why)
    reasons: list[str] = []

    _vote_ids(ids, votes, support, reasons)
    for run in runs:
        _vote_run(run, votes, support, reasons)
    for prov in evidence.providers:
        reasons.append(f"provider `{prov.provider}` from the hosts ({prov.exchanges} exchanges)")
        if prov.exclusive_vendor:
            for family, vendor in vendors.items():
                if vendor == prov.exclusive_vendor:
                    support[family].append((Kind.PROVIDER, WEIGHTS[Kind.PROVIDER], prov.provider))

    kinds = sorted({k for k in votes} | {str(r.kind) for r in runs} | _id_kinds(evidence))
    verdict = Verdict(
        product=evidence.product,
        status="no-evidence",
        family=None,
        vendor=None,
        reference=None,
        confidence=0.0,
        evidence_kinds=kinds,
        reasons=reasons,
        switches=switches,
        first_seen=evidence.first_seen,
        last_seen=evidence.last_seen,
        exchanges=evidence.exchanges,
    )
    for sw in switches:
        reasons.append(f"switched from `{sw.before}` to `{sw.after}` on {sw.at.date().isoformat()}")
    verdict.candidates = {f: _noisy_or([w for _, w, _ in s]) for f, s in support.items()}
    if not votes:
        if reasons or evidence.exchanges:
            verdict.status = "unknown"
        if not reasons:
            reasons.append("no evidence about this product's model in the store")
        return verdict

    shared = set.intersection(*votes.values())
    if not shared:
        verdict.status = "conflict"
        verdict.conflicts = [
            f"{kind} says {', '.join(sorted(fams))}" for kind, fams in sorted(votes.items())
        ]
        return verdict

    family = max(sorted(shared), key=lambda f: verdict.candidates.get(f, 0.0))
    verdict.status = "identified"
    verdict.family = family
    verdict.vendor = vendors.get(family)
    verdict.confidence = verdict.candidates.get(family, 0.0)
    for run in runs:
        if run.kind == Kind.LOGITS and family in run.families:
            verdict.reference = run.verdict
    return verdict


def _vote_ids(ids: list[IdEvidence], votes, support, reasons: list[str]) -> None:
    total = sum(i.exchanges for i in ids)
    by_family: dict[str, list[IdEvidence]] = defaultdict(list)
    for item in ids:
        if item.family is None:
            reasons.append(
                f"id `{item.model_id}` in {item.exchanges} exchanges: not in the catalog"
            )
        else:
            by_family[item.family].append(item)
    in_use: set[str] = set()
    for family, items in by_family.items():
        count = sum(i.exchanges for i in items)
        share = count / total if total else 0.0
        served = sum(i.responses for i in items)
        key = "id-response" if served else "id-request"
        where = f"in {served} responses" if served else f"in {count} requests"
        names = ", ".join(f"`{i.model_id}`" for i in sorted(items, key=lambda i: -i.exchanges))
        reasons.append(f"id {names} {where} → family `{family}` ({share:.0%} of id traffic)")
        support[family].append((Kind.MODEL_ID, WEIGHTS[key] * share, names))
        if share >= MIXED_SHARE:
            in_use.add(family)
    if in_use:
        votes[Kind.MODEL_ID] = in_use


def _vote_run(run: FingerprintEvidence, votes, support, reasons: list[str]) -> None:
    label = {
        Kind.TOKENIZER: "tokenizer",
        Kind.TOKENIZER_PASSIVE: "passive tokenizer fit",
        Kind.TOKENIZER_BOUNDARY: "stream boundaries",
    }.get(run.kind, "logits")
    if run.verdict is None:
        reasons.append(f"{label}: no known candidate fits{_detail(run)}")
        return
    if not run.families:
        reasons.append(f"{label}: `{run.verdict}`, used by no catalogued family{_detail(run)}")
        return
    fams = ", ".join(f"`{f}`" for f in run.families)
    noun = "closest to reference" if run.kind == Kind.LOGITS else "matches"
    reasons.append(f"{label} {noun} `{run.verdict}` → {fams}{_detail(run)}")
    votes[str(run.kind)] = set(run.families)
    for family in run.families:
        support[family].append((run.kind, WEIGHTS[run.kind], run.verdict))


def _latest_runs(runs: list[FingerprintEvidence]) -> list[FingerprintEvidence]:
    """The newest run of each kind: a re-run supersedes the old one."""
    latest: dict[str, FingerprintEvidence] = {}
    for run in sorted(runs, key=lambda r: r.at):
        latest[str(run.kind)] = run
    return [latest[k] for k in sorted(latest)]


def _id_kinds(evidence: ProductEvidence) -> set[str]:
    return {str(Kind.MODEL_ID)} if evidence.ids else set()


def _detail(run: FingerprintEvidence) -> str:
    return f" ({run.detail})" if run.detail else ""


def _noisy_or(weights: list[float]) -> float:
    miss = 1.0
    for w in weights:
        miss *= 1.0 - max(0.0, min(1.0, w))
    return 1.0 - miss


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
