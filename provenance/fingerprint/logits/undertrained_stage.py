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
from provenance.fingerprint.logits import decision, undertrained
from provenance.fingerprint.logits.endpoint import EndpointProber, Observation
from provenance.reference.base import ReferenceModel

WHAT = "under-trained-token correlation"


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
    aligned = undertrained.align(observations, probes)
    entries: list[dict[str, Any]] = []
    scored: list[undertrained.ReferenceScore] = []
    evidence: dict[str, Any] = {
        "positions": aligned.count,
        "probes_misaligned": aligned.dropped,
        "undertrained_tokens": {k: len(v) for k, v in probes.undertrained.items()},
        "permutations": undertrained.PERMUTATIONS,
    }
    enough = len(aligned.blocks) >= 2 and aligned.count >= undertrained.MIN_POSITIONS
    for ref in references:
        entry: dict[str, Any] = {"reference": ref.name, "score": None}
        if ref.name not in probes.undertrained:
            entry.update(status="ruled-out", reason="tokenizes the probe texts differently")
        elif not undertrained.endpoint_texts_match(observations, ref, probes):
            entry.update(status="ruled-out", reason="the endpoint's tokens of the probes differ")
        elif not enough:
            why = f"({aligned.dropped} of {len(observations)} probes misaligned)"
            entry.update(status="ruled-out", reason=f"too few usable probe answers {why}")
        else:
            s = undertrained.score_reference(ref, aligned, probes.undertrained[ref.name])
            scored.append(s)
            entry.update(
                status="compared", score=_r(s.score), z=_r(s.z, 2),
                null_mean=_r(s.mean), null_sd=_r(s.sd),
                reason=f"{WHAT} {s.score:.3f} vs {s.mean:.3f} ± {s.sd:.3f} with its "
                f"under-trained tokens permuted (z {s.z:.1f}) over {len(s.values)} "
                f"token log-probabilities at {aligned.count} positions",
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
        rescore = undertrained.block_rescorer(scored)
        result = decision.conclude(
            names, [s.score for s in scored], p, stats, versus, rescore, len(aligned.blocks),
            what=WHAT, separate_always=False, alpha=undertrained.ALPHA,
        )  # fmt: skip
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
            "ranking": ranking, "evidence": evidence, "notes": probes.notes}  # fmt: skip
