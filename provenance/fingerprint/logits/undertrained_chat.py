"""Under-trained-token lineage through chat turns: what a product says, not what it echoes.

The probe texts of :mod:`.undertrained` are sent as user turns. The product answers after its
own hidden system prompt, usually sampling. Each reference is then scored **teacher-forced at
the product's own generated prefixes**: the user turn in the reference's chat template, followed
by the tokens the product generated.

* ``chat-logprobs`` (top-k of the generated tokens, k as small as 5): the residual correlation
  of :func:`.undertrained.score_reference` over the generated positions, read at the product's
  top-k alternatives.
* ``chat-text`` (text only): the reference's mean log-likelihood of the product's generated
  tokens (re-tokenized from the text by the reference, which shares the tokenizer).

Both keep the exact null of the echo method: the reference re-scored with its under-trained
tokens relabelled (within strata), in the prompt and in the generated tokens alike. Nothing
about the product — its system prompt, temperature, training — enters that argument, so a
product unrelated to the reference's under-trained rows scores like the relabelled reference.
What the score says is *descends from*: it measures how much the product's answers depend on
the reference's own random rows. Caveat: a model distilled from a reference's answers to
prompts full of its under-trained tokens would learn some of that dependence (the benchmark's
distilled model was trained on ordinary text).

The signal is weaker than echo's: the positions that follow an under-trained token in the
product's answer are the informative ones, and a model that cannot repeat its under-trained
tokens rarely writes them; the rest carry the tokens' influence through attention only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provenance.fingerprint.logits import undertrained
from provenance.fingerprint.logits.endpoint import Observation
from provenance.reference.base import ReferenceModel

METHODS = {"chat-logprobs": "undertrained-chat-logprobs", "chat-text": "undertrained-chat-text"}


def _generated_ids(ref: ReferenceModel, obs: Observation) -> list[int] | None:
    """The product's generated tokens as ``ref``'s ids (None when they cannot be mapped)."""
    if obs.api == "chat-logprobs":
        ids = ref.lookup_tokens([t.text for t in obs.tokens])
        if any(i is None for i in ids):
            whole = ref.tokenize("".join(t.text for t in obs.tokens))
            return whole if len(whole) == len(ids) else None
        return [int(i) for i in ids if i is not None]
    return ref.tokenize(obs.text) or None


def align(ref: ReferenceModel, observations: Sequence[Observation]) -> undertrained.Aligned:
    """``ref``'s view of the product's chat answers: each sequence is the user turn in ``ref``'s
    template plus the generated ids, scored at the generated positions."""
    out = undertrained.Aligned([], [], [], [])
    for obs in observations:
        gen = _generated_ids(ref, obs)
        if not gen or not obs.messages:
            out.dropped += 1
            continue
        prompt = ref.apply_chat_template(list(obs.messages))
        seq = list(prompt) + gen
        pos = list(range(len(prompt), len(seq)))
        if obs.api == "chat-logprobs":
            lps = [t.logprob for t in obs.tokens]
            keep = [k for k, lp in enumerate(lps) if lp is not None and math.isfinite(lp)
                    and lp <= 0.0]  # fmt: skip
            if not keep:
                out.dropped += 1
                continue
            out.actual.append([float(lps[k]) for k in keep])  # type: ignore[arg-type]
            out.alternatives.append([
                tuple((t, lp) for t, lp in obs.tokens[k].top if math.isfinite(lp) and lp <= 0)
                for k in keep
            ])  # fmt: skip
            pos = [pos[k] for k in keep]
        else:
            out.actual.append([0.0] * len(pos))
            out.alternatives.append([() for _ in pos])
        out.sequences.append(seq)
        out.positions.append(pos)
    return out


@dataclass
class TextScore(undertrained.NullStats):
    """A reference's likelihood of the product's answers, with its permutation null; the same
    interface as :class:`.undertrained.ReferenceScore` for the decision."""

    name: str
    score: float
    null: list[float]
    per_block: Any  # numpy [1 + permutations, blocks]: mean log-likelihood per answer


def score_text(
    ref: ReferenceModel, aligned: undertrained.Aligned, ut: Sequence[int],
    strata: Sequence[Sequence[int]] | None = None,
    *, permutations: int = undertrained.PERMUTATIONS,
) -> TextScore:  # fmt: skip
    """Mean per-answer log-likelihood of the generated tokens under ``ref`` and under ``ref``
    with its under-trained tokens relabelled ``permutations`` times."""
    import numpy as np

    present = sorted({t for s in aligned.sequences for t in s} & set(ut))
    rng = random.Random(f"{undertrained.PROBE_SEED}:text:{ref.name}")
    size = max(max(s) for s in aligned.sequences) + 1
    variants = [np.arange(size)]
    variants += undertrained.relabellings(present, strata, size, rng, permutations)
    seqs, poss, cands = [], [], []
    for lut in variants:
        for seq, pos in zip(aligned.sequences, aligned.positions, strict=True):
            mapped = lut[np.asarray(seq)].tolist()
            seqs.append(mapped)
            poss.append(pos)
            cands.append([[mapped[j]] for j in pos])
    rows = ref.score_tokens(seqs, poss, cands)
    blocks = len(aligned.sequences)
    means = np.asarray([sum(r[0] for r in row) / len(row) for row in rows]).reshape(-1, blocks)
    totals = means.mean(axis=1)
    return TextScore(ref.name, float(totals[0]), [float(x) for x in totals[1:]], means)


def text_rescorer(scores: Sequence[TextScore]) -> Any:
    """Each reference's z on a resample of the answers (likelihood levels differ between
    references, so the separation test compares z, not raw means)."""

    def rescore(picks: Sequence[int]) -> list[float]:
        out = []
        for s in scores:
            m = s.per_block[:, list(picks)].mean(axis=1)
            null = m[1:]
            out.append(float((m[0] - null.mean()) / max(float(null.std(ddof=1)), 1e-9)))
        return out

    return rescore
