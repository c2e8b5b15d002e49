"""Under-trained-token probes: a lineage signal that survives heavy training, with an exact null.

Premise ("Fishing for Magikarp", Land & Bartolo 2024): every vocabulary holds tokens that its
model (almost) never saw in training. Their input-embedding rows stay where the base's random
initialisation put them — training sends them no gradient —, and the token-specific part of their
output rows moves little. A derivative inherits those rows from its base and, since its own data
rarely contains those tokens either, keeps them through continued pre-training, chat SFT, RL and
distillation alike; every other model, one trained on the very same data included, drew them
from another seed.

* **Tokens** (:func:`undertrained_ids`): a reference's input-embedding rows whose norms form the
  low cluster that initialisation leaves behind (the rows below the first clear gap in the sorted
  norms). Only references that expose their weights (local folders) have them.
* **Probes** (:func:`build_probes`): random texts made of characters (or single tokens) whose
  tokens are all under-trained in some reference, sent with ``completions-echo``: the endpoint's
  log-probability of every prompt token, one request per text.
* **Statistic** (:func:`residual_correlation`): at every probe position, the endpoint's
  log-probabilities of its top-k alternatives, and the reference's of the same tokens; the
  Pearson correlation of the two after removing, by alternating sweeps, each token's mean and
  each previous token's mean (what training shapes alike for every context: how likely a token
  is overall, how peaked the distribution after a token is). What is left is
  how the distribution after each under-trained token *differs* — a function of that token's
  random rows. The alternatives are ordinary tokens whose log-probabilities after a random row
  the network still computes from that row; the probe tokens' own log-probabilities (used only
  when an endpoint reports no alternatives) carry far less.
* **Null, exact and per reference**: the reference's under-trained rows are exchangeable (drawn
  i.i.d. at initialisation and treated alike by training), so the reference with those tokens
  relabelled by a random permutation is as likely a model as the reference itself. Scoring it on
  the probes with its under-trained tokens permuted (``PERMUTATIONS`` times, fixed seed) gives
  the statistic's distribution for a reference whose rows have nothing to do with the
  endpoint's — *whatever the endpoint is* (trained on the same data, another architecture, a
  heavily trained derivative of another base). The p-value is the one-sided prediction test of
  the observed score against those scores (Student's t with ``PERMUTATIONS − 1`` degrees of
  freedom, spread inflated by ``√(1 + 1/B)``); :mod:`.decision` then corrects for several
  references and checks the separation from the runner-up.

What it cannot do: find lineage through references without weights (remote servers: use the
consensus-residual method), through endpoints without echoed prompt log-probabilities, or for
tokens a derivative's own training did touch (then the signal fades, the null stays exact).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from provenance.fingerprint.logits.endpoint import Observation
from provenance.reference.base import ReferenceModel

METHOD = "undertrained-tokens"
METHOD_API = "completions-echo"  # the API of METHOD; chat ones: :mod:`.undertrained_chat`
ALPHA = 0.001  # family-wise rate of false lineage claims per run that this method targets
PERMUTATIONS = 40
MIN_TOKENS = 24  # fewer under-trained tokens than this in every reference: method unavailable
MAX_SHARE = 0.5  # the cluster must be a minority of the vocabulary (a tiny vocabulary of
# byte tokens and few merges leaves a third of it unseen; real ones, a few per cent)
GAP = 1.05  # the jump between sorted norms that ends the low cluster must be this large
LEAST_SHARE = 1 / 16  # no gap: this share of the rows, lowest norms first (≥ MIN_TOKENS)
STRATUM = 8  # no gap: rows are permuted only among this many neighbours by norm
PROBE_TOKENS = 256
PROBE_SEED = 20261203
MIN_POSITIONS = 64
_SPECIAL = re.compile(r"^(<[^<>\s]{1,40}>|\[[A-Z_]{2,40}\])$")  # <|im_end|>, <s>, [INST]…


def undertrained_ids(norms: Sequence[float]) -> list[int] | None:
    """Ids of the low-norm cluster of input-embedding rows, or None when there is no clear one.

    The non-zero rows are sorted by norm; the cluster ends at the largest ratio between
    neighbours from the ``MIN_TOKENS``-th row up to the ``MAX_SHARE`` of the vocabulary, and
    only if that ratio is at least ``GAP``. All-zero rows (a padding token's) are not
    initialisation and are left out.
    """
    return _cluster(norms)[0]


def _cluster(norms: Sequence[float]) -> tuple[list[int] | None, float]:
    """(:func:`undertrained_ids`, the largest neighbour ratio found)."""
    order = _by_norm(norms)
    limit = min(int(len(norms) * MAX_SHARE), len(order) - 1)
    best, cut = 0.0, -1
    for k in range(MIN_TOKENS - 1, limit):
        ratio = norms[order[k + 1]] / norms[order[k]]
        if ratio > best:
            best, cut = ratio, k
    if cut < 0 or best < GAP:
        return None, best
    return sorted(order[: cut + 1]), best


def _by_norm(norms: Sequence[float]) -> list[int]:
    return sorted((i for i in range(len(norms)) if norms[i] > 0), key=lambda i: norms[i])


@dataclass(frozen=True)
class Selection:
    """A reference's under-trained rows and the groups a permutation may mix.

    ``how`` is ``cluster`` (a clear low-norm cluster: rows training never reached, one
    exchangeable group) or ``least-updated`` (no gap: the ``LEAST_SHARE`` rows of lowest norm,
    in strata of ``STRATUM`` neighbours by norm, since rows trained a little are exchangeable
    only with rows trained about as little)."""

    ids: list[int]
    strata: list[list[int]]
    how: str
    ratio: float  # the largest ratio between neighbouring sorted norms


def select_undertrained(norms: Sequence[float]) -> Selection | None:
    """The rows the method permutes: the clear cluster when there is one, else the least-updated
    rows (None only for a vocabulary too small for the method).

    Why the lowest norms are the least-updated rows: every row starts at the same scale
    (i.i.d. initialisation) and each update of a token's row moves it by a step of about the
    learning rate per coordinate in a direction its contexts decide, so rows grow with the
    number of updates they got; rows that were never or rarely in a batch keep norms near the
    bottom. Their token-specific part is then still mostly their own random initialisation —
    what a derivative inherits and a model trained on the same data from another seed does not.
    The stratified permutation keeps each row among rows updated about as often, so the null
    stays valid even though "updated a little" is not "never updated".
    """
    if len(norms) * MAX_SHARE <= MIN_TOKENS:
        return None
    found, best = _cluster(norms)
    if found is not None:
        return Selection(found, [found], "cluster", best)
    order = _by_norm(norms)
    count = min(max(MIN_TOKENS, int(len(order) * LEAST_SHARE)), len(order) // 2)
    low = order[:count]
    strata = [sorted(low[i : i + STRATUM]) for i in range(0, count, STRATUM)]
    return Selection(sorted(low), strata, "least-updated", best)


def cluster_note(name: str, norms: Sequence[float] | None) -> str | None:
    """How reference ``name``'s under-trained rows were chosen when there is no clear cluster, or
    why it offers none (one line); None when it has a clear cluster."""
    if norms is None:
        return f"{name}: no weights here (a served reference), so no under-trained tokens"
    chosen = select_undertrained(norms)
    if chosen is None:
        return f"{name}: a vocabulary of {len(norms)} is too small for the under-trained method"
    if chosen.how == "cluster":
        return None
    return (
        f"{name}: its input-embedding norms have no clear low cluster (largest ratio between "
        f"neighbours {chosen.ratio:.3f}, a cluster needs {GAP}); its {len(chosen.ids)} "
        f"least-updated rows (lowest norms) are used, permuted only within strata of {STRATUM} "
        "rows of similar norm"
    )


def probe_units(ref: ReferenceModel, ids: set[int]) -> list[str]:
    """Texts that tokenize, alone, to tokens of ``ids`` only: single tokens whose text
    round-trips, and characters whose every byte-level token is in ``ids``. Spellings of special
    tokens (``<|…|>``, ``[INST]``) are left out: servers differ in whether they parse them."""
    units: set[str] = set()
    for tid, text in zip(sorted(ids), ref.token_strings(sorted(ids)), strict=True):
        if (
            text
            and "\ufffd" not in text
            and not _SPECIAL.match(text.strip())
            and not any(c in text for c in "\x00\t\n\r")
            and ref.tokenize(text) == [tid]
        ):
            units.add(text)
    for cp in (*range(1, 0x20), *range(0x7F, 0x3000)):  # controls, Latin … CJK punctuation
        ch = chr(cp)
        if ch in "\t\n\r" or ch in units:
            continue
        toks = ref.tokenize(ch)
        if toks and all(t in ids for t in toks):
            units.add(ch)
    return sorted(units)


@dataclass
class ProbeSet:
    """The probe texts and what each reference's permutations act on."""

    texts: list[str]
    ids: list[list[int]]  # the texts' token ids (every usable reference tokenizes them alike)
    undertrained: dict[str, list[int]]  # reference name → its under-trained ids
    notes: list[str] = field(default_factory=list)
    strata: dict[str, list[list[int]]] = field(default_factory=dict)  # name → exchangeable groups


def build_probes(
    references: Sequence[ReferenceModel], count: int, why: list[str] | None = None
) -> ProbeSet | None:
    """``count`` probe texts from the references' under-trained tokens, or None when no
    reference exposes weights with a clear under-trained cluster (the method is then unavailable).

    References that do not tokenize the texts like the first such reference are left out of
    ``undertrained`` (they are compared by other means or ruled out). ``why`` collects, one line
    each, why a reference offers no under-trained tokens and why no probe set could be built.
    """
    why = why if why is not None else []
    sets: dict[str, list[int]] = {}
    strata: dict[str, list[list[int]]] = {}
    chosen_how: list[str] = []  # how rows were chosen where there was no clear cluster
    for ref in references:
        norms = ref.embedding_norms()
        chosen = select_undertrained(norms) if norms is not None else None
        note = cluster_note(ref.name, norms)
        if chosen is not None:
            sets[ref.name], strata[ref.name] = chosen.ids, chosen.strata
            if note:
                chosen_how.append(note)
        else:
            why.append(note or f"{ref.name}: no under-trained tokens found")
    if not sets:
        return None
    lead = next(r for r in references if r.name in sets)
    union = set().union(*(set(v) for v in sets.values()))
    units = probe_units(lead, union)
    if len(units) < MIN_TOKENS:
        why.append(
            f"only {len(units)} probe texts can be made of the under-trained tokens "
            f"(need {MIN_TOKENS})"
        )
        return None
    groups: dict[int, list[str]] = {}
    for unit in units:  # by token count, so that long characters do not crowd out the rest
        groups.setdefault(len(lead.tokenize(unit)), []).append(unit)
    sizes = sorted(groups)
    rng = random.Random(PROBE_SEED)
    texts: list[str] = []
    ids: list[list[int]] = []
    attempts = 0
    while len(texts) < count and attempts < count * 20:
        attempts += 1
        parts: list[str] = []
        n = 0
        while n < PROBE_TOKENS:
            size = rng.choice(sizes)
            parts.append(rng.choice(groups[size]))
            n += size
        text = "".join(parts)
        toks = lead.tokenize(text)
        if sum(t in union for t in toks) < len(toks) * 0.9:
            continue  # merges across units made ordinary tokens of most of it
        texts.append(text)
        ids.append(toks)
    notes = list(chosen_how)
    for ref in references:
        if (
            ref.name in sets
            and ref is not lead
            and any(ref.tokenize(t) != i for t, i in zip(texts, ids, strict=True))
        ):
            del sets[ref.name]
            notes.append(f"{ref.name} tokenizes the probes differently from {lead.name}")
    return ProbeSet(texts, ids, sets, notes, {k: strata[k] for k in sets})


def _sweep(values: Any, keys: Sequence[Any], sweeps: int = 4) -> Any:
    """``values`` minus the additive effects of each key array (alternating mean removal)."""
    import numpy as np

    v = np.asarray(values, dtype=float).copy()
    for _ in range(sweeps):
        for key in keys:
            sums = np.bincount(key, weights=v)
            counts = np.bincount(key)
            v -= (sums / np.maximum(counts, 1))[key]
    return v


def residual_correlation(endpoint: Any, reference: Any, keys: Sequence[Any]) -> float:
    """Pearson correlation of the two log-probability vectors after removing the per-token and
    per-previous-token effects given by ``keys``."""
    a = _sweep(endpoint, keys)
    b = _sweep(reference, keys)
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


@dataclass
class Aligned:
    """The endpoint's echoed log-probabilities aligned with the probes' token ids."""

    sequences: list[list[int]]  # token ids of each usable probe
    positions: list[list[int]]  # scored indexes per sequence
    actual: list[list[float]]  # the endpoint's log-probability of the token at each position
    alternatives: list[list[tuple[tuple[str, float], ...]]]  # its top-k there (text, logprob)
    dropped: int = 0  # observations whose tokens did not line up with the probe's

    @property
    def blocks(self) -> list[int]:
        """Scored positions per sequence."""
        return [len(p) for p in self.positions]

    @property
    def count(self) -> int:
        """Scored positions in all."""
        return sum(self.blocks)


def align(observations: Sequence[Observation], probes: ProbeSet) -> Aligned:
    """Pair each echoed observation with its probe's ids (a leading BOS the endpoint added is
    skipped); an observation whose token count differs is dropped, a position whose
    log-probability is missing, not finite or above 0 is skipped."""
    by_text = dict(zip(probes.texts, probes.ids, strict=True))
    out = Aligned([], [], [], [])
    for obs in observations:
        ids = by_text.get(obs.prompt or "")
        tokens = list(obs.tokens)
        if ids is not None and len(tokens) == len(ids) + 1:
            tokens = tokens[1:]
        if ids is None or len(tokens) != len(ids) or obs.api != "completions-echo":
            out.dropped += 1
            continue
        pos = [j for j in range(1, len(ids)) if _usable(tokens[j].logprob)]
        if not pos:
            out.dropped += 1
            continue
        out.sequences.append(ids)
        out.positions.append(pos)
        out.actual.append([float(tokens[j].logprob) for j in pos])  # type: ignore[arg-type]
        out.alternatives.append(
            [tuple((t, lp) for t, lp in tokens[j].top if _usable(lp)) for j in pos]
        )
    return out


def _usable(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x <= 0.0


def endpoint_texts_match(
    observations: Sequence[Observation], ref: ReferenceModel, probes: ProbeSet
) -> bool:
    """Whether the endpoint's readable token texts agree with ``ref``'s for the probes (a
    different tokenizer that happens to give the same token count would not)."""
    by_text = dict(zip(probes.texts, probes.ids, strict=True))
    same = total = 0
    for obs in observations:
        ids = by_text.get(obs.prompt or "")
        if ids is None:
            continue
        tokens = list(obs.tokens)[-len(ids) :]
        for got, want in zip((t.text for t in tokens), ref.token_strings(ids), strict=False):
            if "\ufffd" in got or "\ufffd" in want or got.startswith(("bytes:", "token_id:")):
                continue
            total += 1
            same += got == want
    return total == 0 or same >= 0.9 * total


@dataclass
class Features:
    """One reference's view of the aligned positions: per (position, token) the endpoint's
    log-probability, the token and the previous token. The tokens read are the endpoint's top-k
    alternatives that map into the reference's vocabulary; only an endpoint that reports no
    alternatives at all is read at the actual tokens (a much weaker signal, see the module)."""

    candidates: list[list[list[int]]]  # per sequence, per position: token ids read
    endpoint: Any  # numpy vector, one entry per (position, token)
    token: Any
    prev: Any
    blocks: list[int]  # entries per sequence


def features(ref: ReferenceModel, aligned: Aligned) -> Features:
    """Map the endpoint's alternatives into ``ref``'s vocabulary (texts that print as ``�`` or
    are absent are left out) and lay the features out."""
    # Measured on the development zoo (seeds 5000+, 12 probes, a derivative at distance 0.4):
    # z 10.3 from the alternatives alone, 2.8 from the actual tokens alone, 6.4 from both in one
    # vector (their scales differ, so the weak half dilutes the strong one).
    import numpy as np

    with_alternatives = any(row for alts in aligned.alternatives for row in alts)
    cands: list[list[list[int]]] = []
    values: list[float] = []
    tok: list[int] = []
    prev: list[int] = []
    blocks: list[int] = []
    for seq, pos, act, alts in zip(
        aligned.sequences, aligned.positions, aligned.actual, aligned.alternatives, strict=True
    ):
        texts = sorted({t for row in alts for t, _ in row if t and "\ufffd" not in t})
        table = dict(zip(texts, ref.lookup_tokens(texts), strict=True))
        seq_c: list[list[int]] = []
        before = len(values)
        for j, a_lp, row in zip(pos, act, alts, strict=True):
            c: list[int] = []
            v: list[float] = []
            for text, lp in row:
                tid = table.get(text)
                if tid is not None and tid not in c:
                    c.append(tid)
                    v.append(lp)
            if not with_alternatives:
                c, v = [seq[j]], [a_lp]
            seq_c.append(c)
            values.extend(v)
            tok.extend(c)
            prev.extend([seq[j - 1]] * len(c))
        cands.append(seq_c)
        blocks.append(len(values) - before)
    return Features(cands, np.asarray(values, dtype=float), np.asarray(tok, dtype=np.int64),
                    np.asarray(prev, dtype=np.int64), blocks)  # fmt: skip


class NullStats:
    """``mean``, ``sd`` and the prediction ``z`` of a ``score`` against its ``null`` scores."""

    score: float
    null: list[float]

    @property
    def mean(self) -> float:
        return sum(self.null) / len(self.null)

    @property
    def sd(self) -> float:
        m = self.mean
        return max(math.sqrt(sum((x - m) ** 2 for x in self.null) / (len(self.null) - 1)), 1e-9)

    @property
    def z(self) -> float:
        return (self.score - self.mean) / (self.sd * math.sqrt(1 + 1 / len(self.null)))


@dataclass
class ReferenceScore(NullStats):
    """One reference's score against the endpoint and its permutation null."""

    name: str
    score: float
    null: list[float]
    view: Features
    values: Any  # the reference's log-probabilities, aligned with ``view.endpoint``


def relabellings(
    present: Sequence[int], strata: Sequence[Sequence[int]] | None, size: int,
    rng: random.Random, count: int,
) -> list[Any]:  # fmt: skip
    """``count`` id maps (numpy arrays over ``range(size)``) that permute the ``present``
    under-trained ids, each only within its stratum (all in one when ``strata`` is None)."""
    import numpy as np

    groups = [sorted(set(g) & set(present)) for g in strata] if strata else [list(present)]
    out = []
    for _ in range(count):
        lut = np.arange(size)
        for group in groups:
            shuffled = group[:]
            rng.shuffle(shuffled)
            lut[group] = shuffled
        out.append(lut)
    return out


def _read(
    ref: ReferenceModel, seqs: list[list[int]], positions: list[list[int]],
    cands: list[list[list[int]]],
) -> list[float]:  # fmt: skip
    rows = ref.score_tokens(seqs, positions, cands)
    return [v for seq_rows in rows for row in seq_rows for v in row]


def score_reference(
    ref: ReferenceModel, aligned: Aligned, undertrained: Sequence[int],
    *, permutations: int = PERMUTATIONS, strata: Sequence[Sequence[int]] | None = None,
) -> ReferenceScore:  # fmt: skip
    """The residual correlation of ``ref`` with the endpoint and its permutation null: ``ref``
    re-scored with its under-trained tokens relabelled, in the probes and in the tokens read.
    ``strata`` (default: all of ``undertrained`` in one) bound the relabelling: a token is only
    ever relabelled as another token of its own stratum."""
    import numpy as np

    view = features(ref, aligned)
    keys = (view.token, view.prev)
    values = np.asarray(_read(ref, aligned.sequences, aligned.positions, view.candidates))
    score = residual_correlation(view.endpoint, values, keys)
    present = sorted({t for s in aligned.sequences for t in s} & set(undertrained))
    rng = random.Random(f"{PROBE_SEED}:{ref.name}")
    flat_seqs = np.concatenate([np.asarray(s, dtype=np.int64) for s in aligned.sequences])
    seq_ends = np.cumsum([len(s) for s in aligned.sequences]).tolist()
    lengths = [len(c) for sc in view.candidates for c in sc]
    cand_ends = np.cumsum(lengths).tolist()
    per_seq = [len(sc) for sc in view.candidates]
    size = int(max(flat_seqs.max(), view.token.max(), max(present, default=0))) + 1
    seqs: list[list[int]] = []
    poss: list[list[int]] = []
    cands: list[list[list[int]]] = []
    for lut in relabellings(present, strata, size, rng, permutations):
        mapped = lut[flat_seqs].tolist()
        seqs.extend(mapped[a:b] for a, b in zip([0, *seq_ends[:-1]], seq_ends, strict=True))
        poss.extend(aligned.positions)
        mc = lut[view.token].tolist()
        rows = [mc[a:b] for a, b in zip([0, *cand_ends[:-1]], cand_ends, strict=True)]
        start = 0
        for n in per_seq:
            cands.append(rows[start : start + n])
            start += n
    flat = np.asarray(_read(ref, seqs, poss, cands), dtype=float).reshape(permutations, -1)
    null = [residual_correlation(view.endpoint, row, keys) for row in flat]
    return ReferenceScore(ref.name, score, null, view, values)


def block_rescorer(scores: Sequence[ReferenceScore]) -> Any:
    """Scores of every reference on a resample of the probes (for the separation test)."""
    import numpy as np

    starts = [np.cumsum([0, *s.view.blocks]) for s in scores]

    def rescore(picks: Sequence[int]) -> list[float]:
        out = []
        for s, st in zip(scores, starts, strict=True):
            idx = np.concatenate([np.arange(st[b], st[b + 1]) for b in picks])
            keys = (s.view.token[idx], s.view.prev[idx])
            out.append(residual_correlation(s.view.endpoint[idx], s.values[idx], keys))
        return out

    return rescore
