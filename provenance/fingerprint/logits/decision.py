"""The logit-fingerprint decision: a null estimated in each run, p-values, three outcomes.

Fixed thresholds calibrated on one zoo do not carry over to models of another scale or recipe
(an unrelated model was claimed as a derivative with them). This rule estimates, in every run, how
close *unrelated* bases are to each other at exactly this scale and probe set, and only claims
lineage when the endpoint is closer to one reference than that:

1. **Statistic.** ``s_i``, the lineage score of the endpoint against reference ``i``
   (:func:`provenance.fingerprint.logits.compare.lineage_scores`, or the excess greedy agreement).
2. **Null, leave one reference out.** Each reference in turn plays the endpoint against the
   others, on the same positions and tokens; the ``k·(k−1)`` scores of those unrelated pairs give
   the null's mean ``μ`` and spread ``σ``. It needs at least three comparable references.
3. **p-value per reference**: a one-sided prediction test, ``t = (s_i − μ) / (σ·√(1 + 1/m))``
   against Student's t with ``m − 1`` degrees of freedom (``m`` null scores): how likely an
   unrelated base scores this high. Holm's correction over the ``k`` references.
4. **Separation.** The probes are resampled with replacement (``BOOTSTRAP`` times, a fixed seed);
   the share of resamples in which the runner-up scores at least as high as the best is the
   separation p-value.

Outcomes: ``match`` (the best reference's adjusted p < ``ALPHA`` and separation p < ``ALPHA``),
``unrelated`` (even the best reference's adjusted p is ≥ ``UNRELATED_P``: the endpoint is no
closer to any reference than unrelated bases typically are to each other), ``inconclusive``
(everything in between — suggestive but not significant —, fewer than three references or
``MIN_FEATURES`` features, or the best two references not separated: e.g. two bases trained on
the same data). Only ``match`` names a reference; ``inconclusive`` never votes. ``unrelated`` is a
statement too, so a weak test (a wide null) says ``inconclusive`` rather than ``unrelated``.

``ALPHA`` bounds the chance of a false lineage claim per run when the references are unrelated to
each other and the endpoint is unrelated to all of them (the null pairs are then draws of the same
kind as the endpoint's scores). References that are themselves related (a base and its own
derivative) widen the null and make the rule more conservative, never less.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ALPHA = 0.01
UNRELATED_P = 0.5
BOOTSTRAP = 400
MIN_FEATURES = 64
MIN_REFERENCES = 3
SEED = 20261202

Rescore = Callable[[Sequence[int]], list[float]]


@dataclass
class Decision:
    """What the rule concluded, with the numbers behind it."""

    outcome: str  # "match" | "unrelated" | "inconclusive"
    verdict: str | None
    reason: str
    p_values: dict[str, float] = field(default_factory=dict)
    p_adjusted: dict[str, float] = field(default_factory=dict)
    null: dict[str, float] = field(default_factory=dict)
    separation_p: float | None = None
    alpha: float = ALPHA

    def evidence(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "alpha": self.alpha,
            "null": {k: round(v, 4) for k, v in self.null.items()},
            "separation_p": None if self.separation_p is None else round(self.separation_p, 4),
        }


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betai(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    if math.isnan(t):
        return 1.0
    tail = 0.5 * _betai(df / 2.0, 0.5, df / (df + t * t))
    return tail if t > 0 else 1.0 - tail


def holm(p: dict[str, float]) -> dict[str, float]:
    """Holm–Bonferroni adjusted p-values (monotone, capped at 1)."""
    order = sorted(p, key=lambda k: p[k])
    out: dict[str, float] = {}
    running = 0.0
    for i, key in enumerate(order):
        running = max(running, min(1.0, p[key] * (len(order) - i)))
        out[key] = running
    return out


def lineage(endpoint: Any, references: Any) -> list[float]:
    """Consensus-residual correlations (numpy arrays in, floats out); the same statistic as
    :func:`provenance.fingerprint.logits.compare.lineage_scores`, vectorised for resampling."""
    import numpy as np

    refs = np.asarray(references, dtype=float)
    e = np.asarray(endpoint, dtype=float)
    mean = refs.mean(axis=0)
    re = e - mean
    re = re - re.mean()
    out = []
    for r in refs - mean:
        r = r - r.mean()
        den = math.sqrt(float((re * re).sum() * (r * r).sum()))
        out.append(float((re * r).sum() / den) if den > 0 else 0.0)
    return out


def null_scores(references: Sequence[Sequence[float]]) -> list[float]:
    """Each reference as the endpoint against the others: the lineage scores of unrelated pairs."""
    out: list[float] = []
    for j, ref in enumerate(references):
        others = [r for i, r in enumerate(references) if i != j]
        out.extend(lineage(ref, others))
    return out


def block_index(blocks: Sequence[int]) -> list[list[int]]:
    """Feature indexes of each probe block."""
    out, start = [], 0
    for size in blocks:
        out.append(list(range(start, start + size)))
        start += size
    return out


def logprob_rescorer(
    endpoint: Sequence[float], references: Sequence[Sequence[float]], blocks: Sequence[int]
) -> Rescore:
    """Scores of the endpoint against every reference on a resample of the probe blocks."""
    import numpy as np

    e = np.asarray(endpoint, dtype=float)
    refs = np.asarray(references, dtype=float)
    index = block_index(blocks)

    def rescore(picks: Sequence[int]) -> list[float]:
        idx = np.fromiter((i for b in picks for i in index[b]), dtype=np.int64)
        return lineage(e[idx], refs[:, idx])

    return rescore


def separation(rescore: Rescore, n_blocks: int, best: int, runner: int) -> float:
    """Share of probe resamples in which reference ``runner`` scores at least as high as
    ``best`` (with one pseudo-count, so never exactly 0)."""
    import random

    rng = random.Random(SEED)
    worse = 0
    for _ in range(BOOTSTRAP):
        picks = [rng.randrange(n_blocks) for _ in range(n_blocks)]
        s = rescore(picks)
        worse += s[runner] >= s[best]
    return (worse + 1) / (BOOTSTRAP + 1)


def insufficient(references: int, features: int, blocks: int) -> Decision | None:
    """The inconclusive decision when there is too little to decide on, else None."""
    if references < MIN_REFERENCES:
        return Decision(
            "inconclusive",
            None,
            f"{references} comparable reference(s): at least {MIN_REFERENCES} of one tokenizer "
            "are needed to measure how close unrelated bases are to each other",
        )
    if features < MIN_FEATURES or blocks < 2:
        return Decision(
            "inconclusive",
            None,
            f"too little evidence: {features} features over {blocks} probes "
            f"(need {MIN_FEATURES} over at least 2)",
        )
    return None


def decide(
    names: Sequence[str],
    scores: Sequence[float],
    null: Sequence[float],
    rescore: Rescore,
    n_blocks: int,
    *,
    what: str = "lineage score",
) -> Decision:
    """The decision from the endpoint's scores, the null scores and a probe-resampling scorer."""
    m = len(null)
    mu = sum(null) / m
    sd = math.sqrt(sum((x - mu) ** 2 for x in null) / (m - 1)) if m > 1 else 0.0
    sd = max(sd, 1e-6)
    p = {
        n: t_sf((s - mu) / (sd * math.sqrt(1 + 1 / m)), m - 1)
        for n, s in zip(names, scores, strict=True)
    }
    stats = {"mean": mu, "sd": sd, "pairs": float(m)}
    versus = {n: f"vs null {mu:.3f} ± {sd:.3f} over {m} reference pairs" for n in names}
    return conclude(names, scores, p, stats, versus, rescore, n_blocks, what=what)


def conclude(
    names: Sequence[str],
    scores: Sequence[float],
    p: dict[str, float],
    stats: dict[str, float],
    versus: dict[str, str],
    rescore: Rescore,
    n_blocks: int,
    *,
    what: str,
    separate_always: bool = True,
    alpha: float = ALPHA,
) -> Decision:
    """The three outcomes from one p-value per reference (before correction): Holm's correction,
    then ``unrelated`` / ``inconclusive`` / separation from the runner-up / ``match``.

    ``versus[name]`` words the null that reference was tested against; ``stats`` is reported as
    the decision's ``null``. With a single reference there is no runner-up to separate from.
    ``separate_always=False`` (per-reference exact nulls) tests the separation only when the
    runner-up is significant too: otherwise the runner-up is not shown to be related at all, and
    the best's own test already bounds the chance of a false claim. ``alpha``: the family-wise
    error rate of the claims (default ``ALPHA``).
    """
    k = len(names)
    adj = holm(p)
    order = sorted(range(k), key=lambda i: (p[names[i]], -scores[i]))  # most significant first
    best = order[0]
    name = names[best]
    shown = f"{what} {scores[best]:.3f} {versus[name]}"
    if adj[name] >= UNRELATED_P:
        reason = (
            f"no reference is closer than unrelated models are: best {name} "
            f"{shown} (adjusted p {adj[name]:.3g} ≥ {UNRELATED_P})"
        )
        return Decision("unrelated", None, reason, p, adj, stats, alpha=alpha)
    if adj[name] >= alpha:
        reason = (
            f"{name} is closer than unrelated models typically are, but not significantly: "
            f"{shown} (p {p[name]:.3g}, adjusted for {k} references {adj[name]:.3g} ≥ {alpha})"
        )
        return Decision("inconclusive", None, reason, p, adj, stats, alpha=alpha)
    if k == 1:
        reason = f"{shown} (p {p[name]:.2g} < {alpha}); the only reference compared"
        return Decision("match", name, reason, p, adj, stats, alpha=alpha)
    runner = order[1]
    if not separate_always and adj[names[runner]] >= alpha:
        reason = (
            f"{shown} (adjusted p {adj[name]:.2g} < {alpha}); no other reference is significant "
            f"(next: {names[runner]}, adjusted p {adj[names[runner]]:.2g})"
        )
        return Decision("match", name, reason, p, adj, stats, alpha=alpha)
    sep = separation(rescore, n_blocks, best, runner)
    if sep >= ALPHA:  # choosing between two related references, not the claim itself
        reason = (
            f"{name} and {names[runner]} are indistinguishable: {shown} (adjusted p "
            f"{adj[name]:.3g}) but {names[runner]} scores as high in {sep:.1%} of probe resamples"
        )
        return Decision("inconclusive", None, reason, p, adj, stats, sep, alpha)
    reason = (
        f"{shown} (adjusted p {adj[name]:.2g} < {alpha}); {names[runner]} "
        f"({scores[runner]:.3f}) scores as high in {sep:.2%} of probe resamples"
    )
    return Decision("match", name, reason, p, adj, stats, sep, alpha)
