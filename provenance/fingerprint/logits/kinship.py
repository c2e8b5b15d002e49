"""Which references are related to each other, read from their weights before any probe.

A successor base (continued pre-training of an earlier base: Kimi K2 → K2.5) keeps its parent's
tokenizer and, for the tokens neither training touched, its parent's input-embedding rows. Two
references whose under-trained rows agree row for row therefore share an initialisation: one
descends from the other, or both from a common ancestor. Bases drawn from different seeds agree
no more than the same rows matched to other tokens do.

* **Statistic**: the mean cosine between reference ``a``'s row of token ``t`` and ``b``'s row of
  the same ``t``, over the tokens under-trained in both.
* **Null, exact**: the same mean with ``b``'s rows relabelled by random permutations (rows drawn
  i.i.d. at initialisation are exchangeable). Related when the observed mean is ``KIN_Z``
  standard deviations above the null *and* at least ``KIN_COSINE`` (a shared seed, not a faint
  common bias).

What follows from it (:mod:`.undertrained_stage`): a claim for one member of a related pair
needs the endpoint to be separated from the other member on probe resamples, whether or not that
other member is significant on its own; otherwise the run names the lineage set and no member.
A same-data sibling whose least-updated rows share a little of what the data taught them can be
reported related too: that only makes the rule more careful.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from provenance.reference.base import ReferenceModel

KIN_Z = 8.0
KIN_COSINE = 0.5
KIN_PERMUTATIONS = 200
KIN_SEED = 20261207
MIN_SHARED = 16  # fewer shared under-trained rows than this: not compared


@dataclass(frozen=True)
class Kin:
    """Two references whose under-trained rows agree (or were compared and do not)."""

    a: str
    b: str
    cosine: float  # mean cosine of the rows of the same tokens
    null_mean: float
    null_sd: float
    rows: int  # the shared under-trained rows compared

    @property
    def z(self) -> float:
        return (self.cosine - self.null_mean) / max(self.null_sd, 1e-9)

    @property
    def related(self) -> bool:
        return self.z >= KIN_Z and self.cosine >= KIN_COSINE

    def text(self) -> str:
        """One line for the output."""
        verb = "related" if self.related else "not related"
        return (
            f"{self.a} ~ {self.b}: {verb} (their {self.rows} shared under-trained input rows "
            f"agree with cosine {self.cosine:.2f}; other rows {self.null_mean:.2f} ± "
            f"{self.null_sd:.2f})"
        )

    def to_json(self) -> dict[str, object]:
        return {"a": self.a, "b": self.b, "related": self.related, "rows": self.rows,
                "cosine": round(self.cosine, 4), "z": round(self.z, 1)}  # fmt: skip


def _unit(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    out = []
    for r in rows:
        n = math.sqrt(sum(x * x for x in r)) or 1.0
        out.append([x / n for x in r])
    return out


def compare_pair(
    a: ReferenceModel, b: ReferenceModel, undertrained: Mapping[str, Sequence[int]]
) -> Kin | None:
    """The two references' agreement on their shared under-trained rows; None when they cannot
    be compared (no weights here, other widths, too few shared rows)."""
    import numpy as np

    shared = sorted(set(undertrained.get(a.name, ())) & set(undertrained.get(b.name, ())))
    if len(shared) < MIN_SHARED:
        return None
    ra, rb = a.embedding_rows(shared), b.embedding_rows(shared)
    if ra is None or rb is None or not ra or len(ra[0]) != len(rb[0]):
        return None
    ua, ub = np.asarray(_unit(ra)), np.asarray(_unit(rb))
    observed = float((ua * ub).sum(axis=1).mean())
    rng = random.Random(f"{KIN_SEED}:{a.name}:{b.name}")
    null = []
    index = list(range(len(shared)))
    for _ in range(KIN_PERMUTATIONS):
        rng.shuffle(index)
        null.append(float((ua * ub[index]).sum(axis=1).mean()))
    mean = sum(null) / len(null)
    sd = math.sqrt(sum((x - mean) ** 2 for x in null) / (len(null) - 1))
    return Kin(a.name, b.name, observed, mean, sd, len(shared))


def relations(
    references: Sequence[ReferenceModel], undertrained: Mapping[str, Sequence[int]]
) -> list[Kin]:
    """Every comparable pair of references, in input order."""
    out = []
    for i, a in enumerate(references):
        for b in references[i + 1 :]:
            kin = compare_pair(a, b, undertrained)
            if kin is not None:
                out.append(kin)
    return out


def kin_of(name: str, kins: Sequence[Kin]) -> list[str]:
    """The references found related to ``name``."""
    return [k.b if k.a == name else k.a for k in kins if k.related and name in (k.a, k.b)]


def lineage_set(name: str, kins: Sequence[Kin]) -> list[str]:
    """``name`` and every reference connected to it through related pairs, sorted."""
    seen, todo = {name}, [name]
    while todo:
        for other in kin_of(todo.pop(), kins):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return sorted(seen)


def before_probing(references: Sequence[ReferenceModel]) -> list[Kin]:
    """The related pairs among ``references`` (local folders only), from their weights alone:
    what the CLI tells the user before the first probe."""
    from provenance.fingerprint.logits.undertrained import select_undertrained

    rows: dict[str, list[int]] = {}
    for ref in references:
        norms = ref.embedding_norms()
        chosen = select_undertrained(norms) if norms is not None else None
        if chosen is not None:
            rows[ref.name] = chosen.ids
    return [k for k in relations(references, rows) if k.related]
