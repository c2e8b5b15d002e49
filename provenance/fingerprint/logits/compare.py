"""Comparing the endpoint's observations with each reference (pure functions over numbers).

Per reference, the endpoint's tokens are mapped into the reference's vocabulary (a token it
cannot produce rules the reference out), the reference is teacher-forced on them (same chat
template for chat probes), and one *feature* is read per (position, endpoint token): the
log-probability the endpoint gave that token (the actual token and its top-k alternatives) and
the reference's log-probability of the same token. A token outside the reference's top-k gets the
reference's k-th log-probability (an upper bound), so every backend, remote ones included, yields
the same features.

Scores (see ``docs/logit-fingerprinting.md``):

* ``lineage_scores``: for each reference, the Pearson correlation between the endpoint's and the
  reference's features after subtracting the mean over all compared references (the
  "consensus": what every base learned from shared data). Range -1..1, higher = closer; about 0
  for a model unrelated to every reference; clearly positive for the reference it derives from.
* ``distance``: mean absolute log-probability difference in nats (0 = identical; lower = closer).
* greedy agreement (no logprobs): share of the endpoint's tokens that are the reference's argmax
  under teacher forcing; its lineage score is the excess over the mean of all references.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from provenance.fingerprint.logits.endpoint import Observation
from provenance.reference.base import ReferenceModel

REFERENCE_TOP_K = 20


@dataclass
class ReferenceComparison:
    """One reference's side of the comparison (features aligned across references)."""

    name: str
    status: str = "compared"  # "compared" | "ruled-out" | "error"
    reason: str = ""
    features: list[float] = field(default_factory=list)  # reference log-probs
    agreement: list[int] = field(default_factory=list)  # greedy mode: 1 if argmax == token
    blocks: list[int] = field(default_factory=list)  # greedy: agreement entries per observation


class RuledOut(Exception):
    """The reference cannot produce one of the endpoint's tokens."""


def _ids(ref: ReferenceModel, texts: Sequence[str], where: str) -> list[int]:
    found = ref.lookup_tokens(texts)
    missing = [t for t, i in zip(texts, found, strict=True) if i is None]
    if missing:
        shown = ", ".join(repr(t) for t in missing[:3])
        raise RuledOut(f"{len(missing)} endpoint token(s) not in its vocabulary ({where}: {shown})")
    return [int(i) for i in found if i is not None]


def endpoint_features(observations: Sequence[Observation]) -> list[float]:
    """The endpoint's side of the features, in the order :func:`reference_features` uses."""
    out: list[float] = []
    for obs in observations:
        start = 1 if obs.api == "completions-echo" else 0
        for tok in obs.tokens[start:]:
            if tok.logprob is None:
                continue
            out.append(tok.logprob)
            out.extend(lp for _, lp in tok.top)
    return out


def endpoint_blocks(observations: Sequence[Observation]) -> list[int]:
    """How many features each observation (probe) contributes, in feature order."""
    out = []
    for obs in observations:
        start = 1 if obs.api == "completions-echo" else 0
        out.append(sum(1 + len(t.top) for t in obs.tokens[start:] if t.logprob is not None))
    return out


def reference_features(
    ref: ReferenceModel, observations: Sequence[Observation], *, top_k: int = REFERENCE_TOP_K
) -> ReferenceComparison:
    """Teacher-force ``ref`` on the endpoint's tokens; its features (or why it is ruled out)."""
    comp = ReferenceComparison(ref.name)
    sequences: list[list[int]] = []
    positions: list[list[int]] = []
    alt_ids: list[list[list[int]]] = []
    try:
        for obs in observations:
            start = 1 if obs.api == "completions-echo" else 0
            prefix: list[int] = []
            if obs.api != "completions-echo":
                prefix = ref.apply_chat_template(list(obs.messages or ()))
            ids = prefix + _ids(ref, [t.text for t in obs.tokens], f"probe {obs.probe_id}")
            pos, alts = [], []
            for n, tok in enumerate(obs.tokens[start:], start=start):
                if tok.logprob is None:
                    continue
                pos.append(len(prefix) + n)
                alts.append(_ids(ref, [t for t, _ in tok.top], f"probe {obs.probe_id}"))
            sequences.append(ids)
            positions.append(pos)
            alt_ids.append(alts)
    except RuledOut as exc:
        comp.status, comp.reason = "ruled-out", str(exc)
        return comp
    rows = ref.score(sequences, positions, top_k=top_k)
    for seq_rows, seq_alts in zip(rows, alt_ids, strict=True):
        for row, alts in zip(seq_rows, seq_alts, strict=True):
            table = dict(row.top)
            table[row.token_id] = row.logprob
            floor = min(v for _, v in row.top) if row.top else row.logprob
            comp.features.append(row.logprob)
            comp.features.extend(table.get(i, floor) for i in alts)
    return comp


def informative(ids: Sequence[int], n: int = 4) -> list[int]:
    """Indexes of ``ids`` whose ``n``-gram ending there was not seen before (loops carry no
    independent evidence: a model stuck repeating itself would agree with any other that is)."""
    seen: set[tuple[int, ...]] = set()
    keep = []
    for i in range(len(ids)):
        gram = tuple(ids[max(0, i - n + 1) : i + 1])
        if gram not in seen:
            seen.add(gram)
            keep.append(i)
    return keep


def reference_agreement(
    ref: ReferenceModel, observations: Sequence[Observation]
) -> ReferenceComparison:
    """Greedy mode: teacher-force ``ref`` on the endpoint's text; 1 where its argmax agrees.

    Only informative positions count (see :func:`informative`).
    """
    comp = ReferenceComparison(ref.name)
    sequences, positions, used = [], [], []
    for n, obs in enumerate(observations):
        if obs.api == "completions-text":
            prefix = ref.tokenize(obs.prompt or "")
        else:
            prefix = ref.apply_chat_template(list(obs.messages or ()))
        gen = ref.tokenize(obs.text)
        keep = informative(gen)
        if not prefix or not keep:
            continue
        sequences.append(prefix + gen)
        positions.append([len(prefix) + i for i in keep])
        used.append(n)
    comp.blocks = [0] * len(observations)
    for n, seq_rows in zip(used, ref.score(sequences, positions, top_k=1), strict=True):
        comp.agreement.extend(int(bool(r.top) and r.top[0][0] == r.token_id) for r in seq_rows)
        comp.blocks[n] = len(seq_rows)
    return comp


def distance(endpoint: Sequence[float], ref: Sequence[float]) -> float:
    """Mean absolute log-probability difference (nats)."""
    if not endpoint:
        return math.nan
    return sum(abs(a - b) for a, b in zip(endpoint, ref, strict=True)) / len(endpoint)


def _pearson(x: Sequence[float], y: Sequence[float]) -> float:
    n = len(x)
    if n < 3:
        return 0.0
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 0 or syy <= 0:
        return 0.0
    return sxy / math.sqrt(sxx * syy)


def lineage_scores(endpoint: Sequence[float], refs: Sequence[Sequence[float]]) -> list[float]:
    """Consensus-residual correlation per reference (needs at least two references)."""
    if len(refs) < 2:
        raise ValueError("lineage scores need at least two references")
    n = len(endpoint)
    mean = [sum(r[i] for r in refs) / len(refs) for i in range(n)]
    resid_e = [endpoint[i] - mean[i] for i in range(n)]
    return [_pearson(resid_e, [r[i] - mean[i] for i in range(n)]) for r in refs]


def agreement_rate(agreement: Sequence[int]) -> float:
    """Share of positions where the reference's argmax is the endpoint's token."""
    return sum(agreement) / len(agreement) if agreement else math.nan
