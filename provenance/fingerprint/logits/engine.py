"""One logit-fingerprint run: probe the endpoint, compare with every reference, decide.

The decision uses thresholds calibrated by ``python -m provenance.fingerprint.logits.calibrate``
and stored in ``fingerprints/logits/calibration.json``:

* two or more references compared (method ``logprobs``): the reference with the highest lineage
  score is the verdict when that score reaches ``logprobs.lineage_threshold``; otherwise null;
* one reference compared: its distance must be at most ``logprobs.distance_threshold`` nats;
* method ``greedy-agreement``: the excess agreement (two or more references) must reach
  ``greedy.excess_threshold``; with one reference its agreement must reach
  ``greedy.agreement_threshold``.

A null verdict is a finding ("unrelated to every reference"), not an error.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from provenance.errors import CatalogError, FingerprintError
from provenance.fingerprint.logits import compare
from provenance.fingerprint.logits.endpoint import BudgetExhausted, EndpointProber, Observation
from provenance.reference.base import ReferenceModel

SCHEMA = "provenance.fingerprint.logits/1"
MIN_GREEDY_POSITIONS = 32  # fewer informative generated tokens than this: no greedy verdict


def load_json_data(name: str) -> dict[str, Any]:
    """``fingerprints/logits/<name>`` parsed (CatalogError when missing or malformed)."""
    from provenance.paths import fingerprints_dir

    path = fingerprints_dir() / "logits" / name
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path}: unreadable ({exc}); restore it from the repository") from exc
    if not isinstance(doc, dict) or "schema" not in doc:
        raise CatalogError(f"{path}: not a provenance data file; restore it from the repository")
    return doc


def load_probes() -> list[dict[str, str]]:
    """The shipped probe texts, in order of use."""
    return list(load_json_data("probes.json")["probes"])


def load_calibration(path: Path | None = None) -> dict[str, Any]:
    """The calibrated thresholds (``path`` overrides the shipped file)."""
    if path is not None:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    return load_json_data("calibration.json")


def probe_digest(probes: Sequence[Mapping[str, str]]) -> str:
    """sha256 of the probe texts used."""
    doc = json.dumps([[p["id"], p["text"]] for p in probes], separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()


def collect(prober: EndpointProber, probes: Sequence[Mapping[str, str]]) -> list[Observation]:
    """Probe until the probes or the request budget run out."""
    out: list[Observation] = []
    for p in probes:
        try:
            obs = prober.probe(p["id"], p["text"])
        except BudgetExhausted:
            break
        if obs is not None:
            out.append(obs)
    return out


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or math.isnan(x) else round(x, nd)


def compare_all(
    observations: Sequence[Observation], references: Sequence[ReferenceModel]
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """(method, ranking entries without a decision, evidence) for these observations."""
    greedy = bool(observations) and observations[0].api in ("completions-text", "chat-text")
    method = "greedy-agreement" if greedy else "logprobs"
    entries: list[dict[str, Any]] = []
    comps: list[compare.ReferenceComparison] = []
    for ref in references:
        try:
            if greedy:
                comp = compare.reference_agreement(ref, observations)
            else:
                comp = compare.reference_features(ref, observations)
        except FingerprintError as exc:
            comp = compare.ReferenceComparison(ref.name, status="error", reason=str(exc))
        comps.append(comp)
    ok = [c for c in comps if c.status == "compared"]
    evidence: dict[str, Any] = {}
    if greedy:
        rates = [compare.agreement_rate(c.agreement) for c in ok]
        mean = sum(rates) / len(rates) if rates else math.nan
        for c, r in zip(ok, rates, strict=True):
            c.reason = f"agreement {r:.3f} over {len(c.agreement)} tokens"
        scores = {
            c.name: (r - mean if len(ok) > 1 else None) for c, r in zip(ok, rates, strict=True)
        }
        extra = {c.name: {"agreement": _round(r)} for c, r in zip(ok, rates, strict=True)}
        evidence["positions"] = max((len(c.agreement) for c in ok), default=0)
    else:
        feats = compare.endpoint_features(observations)
        dists = {c.name: compare.distance(feats, c.features) for c in ok}
        lineage = compare.lineage_scores(feats, [c.features for c in ok]) if len(ok) > 1 else []
        scores = {c.name: (lineage[i] if lineage else None) for i, c in enumerate(ok)}
        extra = {c.name: {"distance_nats": _round(dists[c.name])} for c in ok}
        for c in ok:
            c.reason = f"mean |Δ logprob| {dists[c.name]:.3f} nats over {len(feats)} features"
        evidence["features"] = len(feats)
        evidence["positions"] = sum(
            1 for o in observations for t in o.tokens if t.logprob is not None
        )
    for c in comps:
        entry = {"reference": c.name, "score": _round(scores.get(c.name)), "status": c.status,
                 "reason": c.reason}  # fmt: skip
        entry.update(extra.get(c.name, {}))
        entries.append(entry)
    return method, entries, evidence


def decide(
    method: str, entries: list[dict[str, Any]], calibration: Mapping[str, Any]
) -> tuple[str | None, str, list[dict[str, Any]]]:
    """(verdict, reason, ranking sorted best first) under the calibrated thresholds."""
    ok = [e for e in entries if e["status"] == "compared"]
    if method == "greedy-agreement":
        cal = calibration["greedy"]
        single_key, single_thr, higher = "agreement", cal["agreement_threshold"], True
        multi_thr, what = cal["excess_threshold"], "excess agreement"
    else:
        cal = calibration["logprobs"]
        single_key, single_thr, higher = "distance_nats", cal["distance_threshold"], False
        multi_thr, what = cal["lineage_threshold"], "lineage score"
    if len(ok) > 1:
        ok.sort(key=lambda e: -(e["score"] if e["score"] is not None else -9))
    rest = [e for e in entries if e["status"] != "compared"]
    ranking = ok + rest
    if not ok:
        return None, "no reference could be compared (all ruled out or failed)", ranking
    best = ok[0]
    if len(ok) > 1:
        if best["score"] is not None and best["score"] >= multi_thr:
            return (
                best["reference"],
                (
                    f"{what} {best['score']:.3f} ≥ calibrated {multi_thr:.3f}; next "
                    f"{ok[1]['reference']} at {ok[1]['score']:.3f}"
                ),
                ranking,
            )
        return (
            None,
            f"best {what} {best['score']:.3f} < calibrated {multi_thr:.3f}: "
            "unrelated to every reference",
            ranking,
        )
    value = best.get(single_key)
    passed = value is not None and (value >= single_thr if higher else value <= single_thr)
    rel = "≥" if higher else "≤"
    if passed:
        return (
            best["reference"],
            (
                f"only one reference comparable: {single_key} {value:.3f} {rel} calibrated "
                f"{single_thr:.3f} (add a second reference of this tokenizer to separate lineage "
                "from shared training data)"
            ),
            ranking,
        )
    return (
        None,
        f"only one reference comparable: {single_key} {value} fails calibrated {single_thr:.3f}",
        ranking,
    )


def run_fingerprint(
    prober: EndpointProber,
    references: Sequence[ReferenceModel],
    *,
    probes: Sequence[Mapping[str, str]] | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole stage; returns the ``provenance.fingerprint.logits/1`` document."""
    names = [r.name for r in references]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FingerprintError(f"two references are named {dupes[0]!r}; give them distinct NAME=")
    probes = list(probes if probes is not None else load_probes())
    calibration = calibration if calibration is not None else load_calibration()
    observations = collect(prober, probes)
    if not observations:
        raise FingerprintError("no probe produced a usable answer within --max-requests")
    method, entries, evidence = compare_all(observations, references)
    verdict, reason, ranking = decide(method, entries, calibration)
    if method == "greedy-agreement" and evidence["positions"] < MIN_GREEDY_POSITIONS:
        verdict = None
        reason = (
            f"only {evidence['positions']} non-repetitive generated tokens "
            f"(< {MIN_GREEDY_POSITIONS}); too little to decide"
        )
    if method == "greedy-agreement":
        reason = (
            "the endpoint gives no logprobs, so greedy-continuation agreement was used; " + reason
        )
    used = [p for p in probes if any(o.probe_id == p["id"] for o in observations)]
    evidence.update({
        "api": prober.api, "probes": len(observations), "probe_set": probe_digest(used),
        "endpoint_top_k": prober.top_k, "reference_top_k": compare.REFERENCE_TOP_K,
        "calibration": {k: calibration[k] for k in ("source", "command") if k in calibration},
        "notes": prober.notes[:10],
    })  # fmt: skip
    return {"schema": SCHEMA, "verdict": verdict, "reason": reason, "method": method,
            "ranking": ranking, "requests": prober.requests, "evidence": evidence}  # fmt: skip
