"""One logit-fingerprint run: probe the endpoint, compare with every reference, decide.

By default the run uses under-trained-token probes and a permutation null per reference
(:mod:`.undertrained_stage`) when every reference is a local folder with under-trained rows:
method ``undertrained-tokens`` when the endpoint echoes prompt logprobs, and over chat turns
(:mod:`.undertrained_chat`) ``undertrained-chat-logprobs`` (top-k of the generated tokens) or
``undertrained-chat-text`` (text only). Otherwise it falls back to the shipped probes and the
methods below, and says why in the reason and ``evidence.notes``.

The consensus decision (:mod:`.decision`) estimates in every run how close unrelated bases are to
each other — each reference in turn played as the endpoint against the others, on the same probes —
and names a reference only when the endpoint is significantly closer to it than that *and* than
to the runner-up. Outcomes: ``match`` (verdict = the reference), ``unrelated`` and
``inconclusive`` (verdict null; the reason says which and why). No threshold is calibrated
offline, so nothing tuned on one zoo is carried to models of another scale.

* method ``logprobs``: the lineage score (consensus-residual correlation of log-probabilities);
* method ``greedy-agreement`` (no logprobs): the excess greedy agreement; its null needs every
  reference's own greedy continuations, so references that cannot generate (remote servers) make
  the run ``inconclusive``. This path never claims: its strongest outcome is ``inconclusive``
  with the reference the endpoint behaves like, since agreeing with a base's greedy text is what
  a model distilled from that base's outputs does too.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provenance.errors import CatalogError, FingerprintError
from provenance.fingerprint.http import BudgetSpent
from provenance.fingerprint.logits import compare, decision
from provenance.fingerprint.logits.endpoint import EndpointProber, Observation
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
        except BudgetSpent:
            break
        if obs is not None:
            out.append(obs)
    return out


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or math.isnan(x) else round(x, nd)


@dataclass
class Comparison:
    """Everything the decision needs from one run's comparison."""

    method: str
    entries: list[dict[str, Any]]
    evidence: dict[str, Any]
    compared: list[compare.ReferenceComparison]
    endpoint: list[float]
    blocks: list[int]


def compare_all(
    observations: Sequence[Observation], references: Sequence[ReferenceModel]
) -> Comparison:
    """Each reference compared with the endpoint (ranking entries without a decision)."""
    greedy = bool(observations) and observations[0].api in ("completions-text", "chat-text")
    method = "greedy-agreement" if greedy else "logprobs"
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
    feats: list[float] = []
    blocks: list[int] = []
    extra: dict[str, dict[str, Any]] = {}
    if greedy:
        for c in ok:
            rate = compare.agreement_rate(c.agreement)
            c.reason = f"agreement {rate:.3f} over {len(c.agreement)} tokens"
            extra[c.name] = {"agreement": _round(rate)}
        evidence["positions"] = max((len(c.agreement) for c in ok), default=0)
    else:
        feats = compare.endpoint_features(observations)
        blocks = compare.endpoint_blocks(observations)
        for c in ok:
            dist = compare.distance(feats, c.features)
            c.reason = f"mean |Δ logprob| {dist:.3f} nats over {len(feats)} features"
            extra[c.name] = {"distance_nats": _round(dist)}
        evidence["features"] = len(feats)
        evidence["positions"] = sum(
            1 for o in observations for t in o.tokens if t.logprob is not None
        )
    entries: list[dict[str, Any]] = []
    for c in comps:
        entry = {"reference": c.name, "score": None, "status": c.status, "reason": c.reason}
        entry.update(extra.get(c.name, {}))
        entries.append(entry)
    return Comparison(method, entries, evidence, ok, feats, blocks)


def _greedy_null(
    observations: Sequence[Observation],
    references: Sequence[ReferenceModel],
    compared: Sequence[compare.ReferenceComparison],
) -> list[float] | None:
    """Excess agreements of unrelated pairs: each reference's own greedy continuation of the
    probes, scored by the others. None when a reference cannot generate."""
    from dataclasses import replace

    by_name = {r.name: r for r in references}
    refs = [by_name[c.name] for c in compared]
    null: list[float] = []
    for j, ref in enumerate(refs):
        generate = getattr(ref, "generate_greedy", None)
        if generate is None:
            return None
        pseudo = []
        for obs in observations:
            if obs.api == "completions-text":
                prefix = ref.tokenize(obs.prompt or "")
            else:
                prefix = ref.apply_chat_template(list(obs.messages or ()))
            want = max(1, len(ref.tokenize(obs.text)))
            try:
                new, _ = generate(prefix, want)
            except AttributeError:
                return None
            pseudo.append(replace(obs, text="".join(ref.token_strings(new))))
        others = [r for i, r in enumerate(refs) if i != j]
        rates = [
            compare.agreement_rate(compare.reference_agreement(o, pseudo).agreement) for o in others
        ]
        mean = sum(rates) / len(rates)
        null.extend(r - mean for r in rates)
    return null


def _greedy_rescorer(compared: Sequence[compare.ReferenceComparison]) -> decision.Rescore:
    """Excess agreement of every reference on a resample of the probes."""
    starts = []
    for c in compared:
        pos, row = 0, []
        for size in c.blocks:
            row.append((pos, size))
            pos += size
        starts.append(row)

    def rescore(picks: Sequence[int]) -> list[float]:
        rates = []
        for c, row in zip(compared, starts, strict=True):
            hits = total = 0
            for b in picks:
                pos, size = row[b]
                hits += sum(c.agreement[pos : pos + size])
                total += size
            rates.append(hits / total if total else 0.0)
        mean = sum(rates) / len(rates)
        return [r - mean for r in rates]

    return rescore


def decide_comparison(
    comp: Comparison,
    observations: Sequence[Observation],
    references: Sequence[ReferenceModel],
) -> decision.Decision:
    """The three-outcome decision for one comparison (see :mod:`.decision`)."""
    ok = comp.compared
    names = [c.name for c in ok]
    if comp.method == "greedy-agreement":
        n_blocks = len(observations)
        positions = comp.evidence["positions"]
        found = decision.insufficient(len(ok), positions, n_blocks)
        if found is None and positions < MIN_GREEDY_POSITIONS:
            found = decision.Decision(
                "inconclusive",
                None,
                f"only {positions} non-repetitive generated tokens (< {MIN_GREEDY_POSITIONS}); "
                "too little to decide",
            )
        if found is not None:
            return found
        rescore = _greedy_rescorer(ok)
        scores = rescore(list(range(n_blocks)))
        null = _greedy_null(observations, references, ok)
        if null is None:
            return decision.Decision(
                "inconclusive",
                None,
                "a reference cannot generate (a remote server), so how often unrelated bases "
                "agree with each other cannot be measured",
            )
        result = decision.decide(names, scores, null, rescore, n_blocks, what="excess agreement")
        if result.outcome == "match":
            # Greedy text shows whom the endpoint *behaves* like: a model trained on a base's
            # outputs agrees with that base as a derivative would (measured: distillation-like
            # zoo models were matched to their teacher). So the text-only path never claims.
            result = decision.Decision(
                "inconclusive",
                None,
                f"the endpoint behaves like {result.verdict} ({result.reason}), but greedy "
                "agreement cannot tell a derivative from a model trained on its outputs",
                result.p_values,
                result.p_adjusted,
                result.null,
                result.separation_p,
            )
    else:
        found = decision.insufficient(len(ok), len(comp.endpoint), len(comp.blocks))
        if found is not None:
            return found
        refs = [c.features for c in ok]
        scores = decision.lineage(comp.endpoint, refs)
        null = decision.null_scores(refs)
        rescore = decision.logprob_rescorer(comp.endpoint, refs, comp.blocks)
        result = decision.decide(names, scores, null, rescore, len(comp.blocks))
    for entry in comp.entries:
        name = entry["reference"]
        if name in names:
            entry["score"] = _round(scores[names.index(name)])
            entry["p_value"] = _round(result.p_values.get(name), 6)
            entry["p_adjusted"] = _round(result.p_adjusted.get(name), 6)
    return result


UNUSED = "under-trained-token method not used"
CHAT_ANSWER_TOKENS = 64  # generated tokens asked for per under-trained probe over chat


def _undertrained_first(
    prober: EndpointProber, references: Sequence[ReferenceModel]
) -> dict[str, Any] | None:
    """The run over under-trained-token probes when every reference has them (echo, chat
    logprobs or chat text, whichever the endpoint answers first); None to go on with the
    shipped probes (see :mod:`.undertrained_stage`)."""
    from provenance.fingerprint.logits import undertrained, undertrained_stage
    from provenance.fingerprint.logits.undertrained_chat import METHODS

    if not references:
        return None
    why: list[str] = []
    pset = undertrained.build_probes(references, prober.max_requests, why)
    if pset is not None and len(pset.texts) < 2:
        why.append(f"only {len(pset.texts)} under-trained-token probe text(s) could be built")
    if pset is not None:
        missing = sorted({r.name for r in references} - set(pset.undertrained))
        why.extend(n for n in pset.notes if any(n.startswith(m) for m in missing))
    if (
        pset is None
        or len(pset.texts) < 2
        or set(pset.undertrained) != {r.name for r in references}
    ):
        prober.notes.extend(f"{UNUSED}: {w}" for w in why[:4] or ["unavailable"])
        return None
    tokens = prober.chat_tokens
    prober.chat_tokens = max(tokens, CHAT_ANSWER_TOKENS)  # longer answers: more positions
    try:
        first = undertrained_stage.first_probe(prober, pset)
        if first is None or first.api not in (undertrained.METHOD_API, *METHODS):
            prober.notes.append(f"{UNUSED}: the endpoint gave no usable answer to its first probe")
            return None
        observations = [first, *collect(prober, undertrained_stage.probe_dicts(pset)[1:])]
    finally:
        prober.chat_tokens = tokens
    part = undertrained_stage.run(prober, references, pset, observations)
    evidence = part["evidence"]
    evidence.update({
        "api": prober.api, "probes": len(observations), "endpoint_top_k": prober.top_k,
        "notes": (part["notes"] + prober.notes)[:10],
    })  # fmt: skip
    method = METHODS.get(first.api, undertrained.METHOD)
    return {"schema": SCHEMA, "verdict": part["verdict"], "outcome": part["outcome"],
            "reason": part["reason"], "method": method, "ranking": part["ranking"],
            "requests": prober.requests, "evidence": evidence}  # fmt: skip


def run_fingerprint(
    prober: EndpointProber,
    references: Sequence[ReferenceModel],
    *,
    probes: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """The whole stage; returns the ``provenance.fingerprint.logits/1`` document."""
    names = [r.name for r in references]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FingerprintError(f"two references are named {dupes[0]!r}; give them distinct NAME=")
    if probes is None:
        doc = _undertrained_first(prober, references)
        if doc is not None:
            return doc
    probes = list(probes if probes is not None else load_probes())
    observations = collect(prober, probes)
    if not observations:
        raise FingerprintError("no probe produced a usable answer within --max-requests")
    comp = compare_all(observations, references)
    result = decide_comparison(comp, observations, references)
    reason = result.reason
    unused = next((n for n in prober.notes if n.startswith(UNUSED)), None)
    if unused is not None:
        reason = f"{reason} ({unused})"
    if comp.method == "greedy-agreement":
        reason = "the endpoint gives no logprobs, so greedy-continuation agreement was used; " + (
            reason
        )
    ranking = sorted(
        comp.entries,
        key=lambda e: (e["status"] != "compared", -(e["score"] if e["score"] is not None else -9)),
    )
    used = [p for p in probes if any(o.probe_id == p["id"] for o in observations)]
    evidence = comp.evidence
    evidence.update({
        "api": prober.api, "probes": len(observations), "probe_set": probe_digest(used),
        "endpoint_top_k": prober.top_k, "reference_top_k": compare.REFERENCE_TOP_K,
        "decision": result.evidence(), "notes": prober.notes[:10],
    })  # fmt: skip
    return {"schema": SCHEMA, "verdict": result.verdict, "outcome": result.outcome,
            "reason": reason, "method": comp.method, "ranking": ranking,
            "requests": prober.requests, "evidence": evidence}  # fmt: skip
