"""The logit stage over under-trained-token probes (method ``undertrained-tokens``).

Chosen by :func:`provenance.fingerprint.logits.engine.run_fingerprint` when every reference
exposes its weights and has a clear under-trained cluster (:mod:`.undertrained`), the default
probes are in use, and the endpoint answers ``completions-echo``. Otherwise the run falls back
to the consensus-residual method on the shipped probes; the first probe (which tells the
endpoint's API) is then the only request spent on under-trained text.

Each reference is tested against its own permutation null (exact whatever the endpoint is), the
p-values are corrected for the number of references (Holm) and the best reference must be
separated from the runner-up on probe resamples (:func:`.decision.conclude`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

from provenance.fingerprint.http import BudgetSpent
from provenance.fingerprint.logits import decision, kinship, undertrained, undertrained_chat
from provenance.fingerprint.logits.endpoint import EndpointProber, Observation
from provenance.reference.base import ReferenceModel

WHAT = "under-trained-token correlation"
WHAT_CHAT = "under-trained-token correlation at the product's generated tokens"
WHAT_TEXT = "mean log-likelihood of the product's answers to under-trained-token turns"


def probe_dicts(probes: undertrained.ProbeSet) -> list[dict[str, str]]:
    """The probe texts as the engine's ``{"id", "text"}`` probes."""
    return [{"id": f"ut-{i:02d}", "text": t} for i, t in enumerate(probes.texts)]


def digest(probes: undertrained.ProbeSet) -> str:
    """sha256 of the probe texts (they follow from the references, so equal runs match)."""
    return hashlib.sha256("\n".join(probes.texts).encode()).hexdigest()


def first_probe(prober: EndpointProber, probes: undertrained.ProbeSet) -> Observation | None:
    """Send the first probe; it tells the endpoint's API."""
    p = probe_dicts(probes)[0]
    try:
        return prober.probe(p["id"], p["text"])
    except BudgetSpent:
        return None


def successor_rule(
    result: decision.Decision, names: Sequence[str], kins: Sequence[kinship.Kin],
    rescore: decision.Rescore, n_blocks: int,
) -> tuple[decision.Decision, list[str]]:  # fmt: skip
    """A match for a reference with relatives among the compared ones stands only if it is
    separated from every one of them on probe resamples; otherwise the run is inconclusive and
    names the lineage set. Returns the (possibly changed) decision and the lineage set (empty
    when the decision involves no related references)."""
    from dataclasses import replace

    named = result.verdict
    if named is None:
        # an inconclusive pair of related references still says which lineage the endpoint is in
        best = min(result.p_adjusted, key=lambda n: result.p_adjusted[n], default=None)
        if best is None or result.p_adjusted[best] >= undertrained.ALPHA:
            return result, []
        family = [n for n in kinship.lineage_set(best, kins) if n in names]
        if len(family) < 2:
            return result, []
        return replace(result, reason=f"{result.reason}; lineage {' ~ '.join(family)}"), family
    kin = [n for n in kinship.kin_of(named, kins) if n in names]
    if not kin:
        return result, []
    best = names.index(named)
    worst = max(decision.separation(rescore, n_blocks, best, names.index(k)) for k in kin)
    family = [n for n in kinship.lineage_set(named, kins) if n in names]
    if worst < decision.ALPHA:
        reason = (
            f"{result.reason}; separated from its related reference(s) {', '.join(kin)} "
            f"(they score as high in at most {worst:.2%} of probe resamples)"
        )
        return replace(result, reason=reason, separation_p=worst), family
    reason = (
        f"the endpoint descends from the lineage {' ~ '.join(family)} (related references, "
        f"from their weights), but which member is not separable: the best, {named}, is "
        f"matched as high by a relative in {worst:.1%} of probe resamples ({result.reason})"
    )
    return (
        replace(result, outcome="inconclusive", verdict=None, reason=reason, separation_p=worst),
        family,
    )


def _r(x: float, nd: int = 4) -> float | None:
    return None if math.isnan(x) else round(x, nd)


def run(
    prober: EndpointProber,
    references: Sequence[ReferenceModel],
    probes: undertrained.ProbeSet,
    observations: Sequence[Observation],
) -> dict[str, Any]:
    """Compare, decide and word the result; the ``provenance.fingerprint.logits/1`` fields that
    depend on the method (``verdict``, ``outcome``, ``reason``, ``ranking``, ``evidence``)."""
    notes = list(probes.notes)
    first_api = observations[0].api if observations else None
    mixed = [o for o in observations if o.api != first_api]
    if mixed:  # an endpoint that changed behaviour mid-run: only answers of the first kind count
        observations = [o for o in observations if o.api == first_api]
        notes.append(
            f"the endpoint changed the form of its answers mid-run: {len(mixed)} answer(s) "
            f"not {first_api} left out"
        )
    chat = first_api in undertrained_chat.METHODS
    text = chat and observations[0].api == "chat-text"
    what = WHAT_TEXT if text else WHAT_CHAT if chat else WHAT
    echo = None if chat else undertrained.align(observations, probes)
    entries: list[dict[str, Any]] = []
    scored: list[Any] = []  # ReferenceScore, or TextScore on the text-only path
    blocks: int | None = None
    evidence: dict[str, Any] = {
        "undertrained_tokens": {k: len(v) for k, v in probes.undertrained.items()},
        "permutations": undertrained.PERMUTATIONS,
    }
    kins = kinship.relations(references, probes.undertrained)
    evidence["related"] = [k.to_json() for k in kins if k.related]
    for ref in references:
        entry: dict[str, Any] = {"reference": ref.name, "score": None}
        aligned = echo if echo is not None else undertrained_chat.align(ref, observations)
        evidence.setdefault("positions", aligned.count)
        evidence.setdefault("probes_misaligned", aligned.dropped)
        enough = len(aligned.blocks) >= 2 and aligned.count >= undertrained.MIN_POSITIONS
        if ref.name not in probes.undertrained:
            entry.update(status="ruled-out", reason="tokenizes the probe texts differently")
        elif not chat and not undertrained.endpoint_texts_match(observations, ref, probes):
            entry.update(status="ruled-out", reason="the endpoint's tokens of the probes differ")
        elif not enough or (blocks is not None and len(aligned.blocks) != blocks):
            why = f"({aligned.dropped} of {len(observations)} answers unusable)"
            entry.update(status="ruled-out", reason=f"too few usable probe answers {why}")
        else:
            ut, strata = probes.undertrained[ref.name], probes.strata.get(ref.name)
            if text:
                s = undertrained_chat.score_text(ref, aligned, ut, strata)
                size = f"{aligned.count} generated tokens in {len(aligned.blocks)} answers"
            else:
                s = undertrained.score_reference(ref, aligned, ut, strata=strata)
                size = f"{len(s.values)} token log-probabilities at {aligned.count} positions"
            blocks = len(aligned.blocks)
            scored.append(s)
            entry.update(
                status="compared", score=_r(s.score), z=_r(s.z, 2),
                null_mean=_r(s.mean), null_sd=_r(s.sd),
                reason=f"{what} {s.score:.3f} vs {s.mean:.3f} ± {s.sd:.3f} with its "
                f"under-trained tokens permuted (z {s.z:.1f}) over {size}",
            )  # fmt: skip
        entries.append(entry)
    if not scored:
        why = (
            "no reference could be compared: the endpoint tokenizes the under-trained probes "
            "unlike every reference (another tokenizer), or too few probes were answered"
        )
        result = decision.Decision("inconclusive", None, why)
    else:
        names = [s.name for s in scored]
        df = undertrained.PERMUTATIONS - 1
        p = {s.name: decision.t_sf(s.z, df) for s in scored}
        versus = {
            s.name: f"vs {s.mean:.3f} ± {s.sd:.3f} with its under-trained tokens permuted "
            f"({undertrained.PERMUTATIONS} permutations)"
            for s in scored
        }
        stats = {"permutations": float(undertrained.PERMUTATIONS)}
        if text:
            rescore = undertrained_chat.text_rescorer(scored)
            values = [s.z for s in scored]  # likelihood levels differ between references
        else:
            rescore = undertrained.block_rescorer(scored)
            values = [s.score for s in scored]
        n_blocks = blocks or 0
        result = decision.conclude(
            names, values, p, stats, versus, rescore, n_blocks,
            what=f"z of the {what}" if text else what, separate_always=False,
            alpha=undertrained.ALPHA,
        )  # fmt: skip
        result, lineage = successor_rule(result, names, kins, rescore, n_blocks)
        if lineage:
            evidence["lineage"] = lineage
        for entry in entries:
            if entry["reference"] in p:
                entry["p_value"] = _r(result.p_values[entry["reference"]], 6)
                entry["p_adjusted"] = _r(result.p_adjusted[entry["reference"]], 6)
    ranking = sorted(
        entries,
        key=lambda e: (e["status"] != "compared", -(e["score"] if e["score"] is not None else -9)),
    )
    evidence["probe_set"] = digest(probes)
    evidence["decision"] = result.evidence()
    return {"verdict": result.verdict, "outcome": result.outcome, "reason": result.reason,
            "ranking": ranking, "evidence": evidence, "notes": notes}  # fmt: skip
