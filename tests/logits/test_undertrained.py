"""Under-trained-token probes on constructed models: the permutation null never claims an
unrelated model, a model that kept a reference's under-trained rows is claimed, bad echoes are
dropped rather than misread.

The "models" are bigram tables with real structure: ``logit(b | a) = E[a] · U[b]``, rows drawn
from a seed (what initialisation does), the first ``TRAINED`` ids rescaled and shifted (what
training does to the tokens it sees). A derivative keeps its base's rows of the other
(under-trained) ids, its trained rows move far, and every row gets noise.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import pytest

from provenance.fingerprint.logits import decision, kinship, undertrained, undertrained_stage
from provenance.fingerprint.logits.endpoint import Observation, ObservedToken
from provenance.reference.base import PositionLogprobs, ReferenceModel

np = pytest.importorskip("numpy")

VOCAB = 96
TRAINED = 48
DIM = 16


def rows(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    emb = rng.normal(0, 0.02, (VOCAB, DIM))
    out = rng.normal(0, 0.02, (VOCAB, DIM))
    emb[:TRAINED] = rng.normal(0, 0.3, (TRAINED, DIM))  # trained rows grow
    out[:TRAINED] = rng.normal(0, 0.3, (TRAINED, DIM))
    return emb, out


class Bigram(ReferenceModel):
    """A ReferenceModel over a bigram table; text is one character per id (``chr(0x100 + id)``)."""

    def __init__(self, name: str, emb: np.ndarray, out: np.ndarray, scale: float = 40.0) -> None:
        self.name = name
        self.emb, self.out = emb, out
        logits = scale * emb @ out.T
        self.table = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    @property
    def identity(self) -> str:
        return self.name

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) - 0x100 for c in text if 0 <= ord(c) - 0x100 < VOCAB]

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        return [chr(0x100 + i) for i in ids]

    def vocab(self) -> Mapping[str, int]:
        return {chr(0x100 + i): i for i in range(VOCAB)}

    def apply_chat_template(self, messages, *, add_generation_prompt: bool = True) -> list[int]:
        return self.tokenize("".join(m["content"] for m in messages))

    def embedding_norms(self) -> list[float] | None:
        return [float(x) for x in np.linalg.norm(self.emb, axis=1)]

    def embedding_rows(self, ids: Sequence[int]) -> list[list[float]] | None:
        return self.emb[list(ids)].tolist()

    def score_tokens(self, sequences, positions, candidates):
        out = []
        for seq, pos, seq_c in zip(sequences, positions, candidates, strict=True):
            rows = np.repeat([seq[j - 1] for j in pos], [len(c) for c in seq_c])
            flat = self.table[rows, np.concatenate(seq_c)].tolist()
            ends = np.cumsum([len(c) for c in seq_c]).tolist()
            out.append([flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)])
        return out

    def score(self, sequences, positions=None, *, top_k: int = 20):
        out = []
        for seq, pos in zip(sequences, positions, strict=True):
            out.append([PositionLogprobs(j, seq[j], float(self.table[seq[j - 1], seq[j]]), ())
                        for j in pos])  # fmt: skip
        return out


def base(name: str, seed: int) -> Bigram:
    return Bigram(name, *rows(seed))


def derivative(parent: Bigram, seed: int, noise: float) -> Bigram:
    """Trained rows moved far (by 2/3 of their own scale), the parent's under-trained rows kept,
    plus ``noise`` on everything."""
    rng = np.random.default_rng(seed)
    emb, out = parent.emb.copy(), parent.out.copy()
    emb[:TRAINED] += rng.normal(0, 0.2, (TRAINED, DIM))
    out[:TRAINED] += rng.normal(0, 0.2, (TRAINED, DIM))
    emb += rng.normal(0, noise, emb.shape)
    out += rng.normal(0, noise, out.shape)
    return Bigram(f"deriv-{parent.name}", emb, out)


def echo(model: Bigram, texts: Sequence[str]) -> list[Observation]:
    """What ``completions-echo`` returns for each probe text."""
    obs = []
    for n, text in enumerate(texts):
        ids = model.tokenize(text)
        toks = [ObservedToken(model.token_strings([ids[0]])[0], None)]
        for a, b in itertools.pairwise(ids):
            top = np.argsort(-model.table[a])[:5]
            alts = tuple((model.token_strings([int(t)])[0], float(model.table[a, t])) for t in top)
            toks.append(ObservedToken(model.token_strings([b])[0], float(model.table[a, b]), alts))
        obs.append(Observation(f"ut-{n}", "completions-echo", text, None, tuple(toks)))
    return obs


def graded(name: str, seed: int) -> Bigram:
    """A base with no gap in its input-embedding norms (what a vocabulary built on exactly the
    training text gives): the rows of ``rows(seed)``, the untrained ones plus a part shared by
    every model on the same data (more of it the more often the token occurs), every row then
    rescaled to a smooth ladder of norms in its own rank order."""
    emb, out = rows(seed)
    data = np.random.default_rng(999)  # the data: the same for every model trained on it
    weight = 0.02 * np.linspace(1, 0, VOCAB - TRAINED)[:, None]
    emb[TRAINED:] += weight * data.normal(0, 1, (VOCAB - TRAINED, DIM))
    out[TRAINED:] += weight * data.normal(0, 1, (VOCAB - TRAINED, DIM))
    rank = np.argsort(np.argsort(np.linalg.norm(emb, axis=1)))
    emb *= (0.08 * 15 ** (rank / VOCAB) / np.linalg.norm(emb, axis=1))[:, None]
    return Bigram(name, emb, out)


def run(endpoint: Bigram, refs: Sequence[Bigram], count: int = 8) -> decision.Decision:
    probes = undertrained.build_probes(refs, count)
    assert probes is not None and set(probes.undertrained) == {r.name for r in refs}
    aligned = undertrained.align(echo(endpoint, probes.texts), probes)
    scored = [
        undertrained.score_reference(
            r, aligned, probes.undertrained[r.name], strata=probes.strata[r.name]
        )
        for r in refs
    ]
    p = {s.name: decision.t_sf(s.z, undertrained.PERMUTATIONS - 1) for s in scored}
    versus = {s.name: "" for s in scored}
    return decision.conclude(
        [s.name for s in scored], [s.score for s in scored], p, {}, versus,
        undertrained.block_rescorer(scored), len(aligned.blocks),
        what="corr", separate_always=False, alpha=undertrained.ALPHA,
    )  # fmt: skip


def test_the_low_norm_cluster_is_found_and_smooth_spectra_give_none():
    norms = [0.0] + [0.1 + 0.001 * i for i in range(30)] + [0.3 + 0.01 * i for i in range(70)]
    assert undertrained.undertrained_ids(norms) == list(range(1, 31))  # the zero row is padding
    smooth = [0.1 * 1.01**i for i in range(100)]
    assert undertrained.undertrained_ids(smooth) is None
    small = [0.1] * 10 + [0.5] * 90  # a cluster below MIN_TOKENS is no cluster
    assert undertrained.undertrained_ids(small) is None
    most = [0.1 + 0.0001 * i for i in range(80)] + [0.5] * 20  # a majority is not under-trained
    assert undertrained.undertrained_ids(most) is None


def test_probe_texts_use_only_undertrained_tokens():
    refs = [base("a", 1), base("b", 2)]
    probes = undertrained.build_probes(refs, 4)
    assert probes is not None and len(probes.texts) == 4
    assert all(len(ids) >= undertrained.PROBE_TOKENS for ids in probes.ids)
    assert all(t >= TRAINED for ids in probes.ids for t in ids)


def test_unrelated_models_are_never_claimed():
    refs = [base("a", 1), base("b", 2), base("c", 3)]
    outcomes = [run(base(f"u{s}", 100 + s), refs).outcome for s in range(12)]
    assert "match" not in outcomes
    assert outcomes.count("unrelated") >= 3  # P(best of 3 null draws has adjusted p ≥ 0.5) ≈ 0.58


def test_a_model_that_kept_a_bases_undertrained_rows_is_claimed():
    refs = [base("a", 1), base("b", 2), base("c", 3)]
    for seed in range(4):
        result = run(derivative(refs[1], 200 + seed, noise=0.01), refs)
        assert (result.outcome, result.verdict) == ("match", "b"), result.reason


def test_two_related_references_need_separation():
    """b2 is itself a light derivative of b: a derivative of b is significant for both, and the
    rule claims only if b is separated from b2 on probe resamples."""
    a, b = base("a", 1), base("b", 2)
    b2 = derivative(b, 300, noise=0.0005)
    b2.name = "b2"
    result = run(derivative(b, 301, noise=0.01), [a, b, b2])
    assert result.p_adjusted["b"] < undertrained.ALPHA
    assert result.p_adjusted["b2"] < undertrained.ALPHA
    assert result.separation_p is not None
    assert result.outcome == "inconclusive" or result.separation_p < decision.ALPHA


def test_misaligned_or_malformed_echoes_are_dropped_not_misread():
    refs = [base("a", 1), base("b", 2)]
    probes = undertrained.build_probes(refs, 4)
    good = echo(refs[0], probes.texts)
    bos = [Observation(o.probe_id, o.api, o.prompt, None,
                       (ObservedToken("<s>", None), *o.tokens)) for o in good]  # fmt: skip
    assert undertrained.align(bos, probes).blocks == undertrained.align(good, probes).blocks
    short = [Observation(o.probe_id, o.api, o.prompt, None, o.tokens[:-3]) for o in good]
    assert undertrained.align(short, probes).dropped == 4
    weird = []
    for o in good:
        toks = list(o.tokens)
        toks[5] = ObservedToken(toks[5].text, math.nan)
        toks[6] = ObservedToken(toks[6].text, 3.0)  # a "log-probability" above 0
        toks[7] = ObservedToken(toks[7].text, None)
        weird.append(Observation(o.probe_id, o.api, o.prompt, None, tuple(toks)))
    aligned = undertrained.align(weird, probes)
    assert aligned.dropped == 0
    assert aligned.blocks == [b - 3 for b in undertrained.align(good, probes).blocks]
    other = [
        Observation(o.probe_id, o.api, o.prompt, None, tuple(ObservedToken("x", t.logprob)
                                                             for t in o.tokens))
        for o in good
    ]  # fmt: skip
    assert not undertrained.endpoint_texts_match(other, refs[0], probes)
    assert undertrained.endpoint_texts_match(good, refs[0], probes)


def test_the_null_is_exact_whatever_the_endpoint_learned():
    """p-values of unrelated endpoints are roughly uniform: few below 0.1 over many draws."""
    ref = base("a", 1)
    probes = undertrained.build_probes([ref], 6)
    ps = []
    for s in range(30):
        aligned = undertrained.align(echo(base(f"u{s}", 500 + s), probes.texts), probes)
        scored = undertrained.score_reference(ref, aligned, probes.undertrained["a"])
        ps.append(decision.t_sf(scored.z, undertrained.PERMUTATIONS - 1))
    assert sum(p < 0.1 for p in ps) <= 8
    assert sum(p < 0.01 for p in ps) <= 2
    again = undertrained.score_reference(ref, aligned, probes.undertrained["a"])
    assert again.null == scored.null


def test_a_reference_without_a_clear_cluster_uses_its_least_updated_rows_and_says_so():
    """Held-out vocabularies can have no gap in their norms (issue 27, item 0): the method then
    uses the least-updated rows, permuted within strata of similar norm, and says so."""
    smooth = graded("smooth", 3)
    chosen = undertrained.select_undertrained(smooth.embedding_norms())
    assert chosen is not None and chosen.how == "least-updated"
    assert chosen.ratio < undertrained.GAP
    assert len(chosen.ids) == undertrained.MIN_TOKENS
    assert all(len(g) == undertrained.STRATUM for g in chosen.strata)
    norms = smooth.embedding_norms()
    assert max(norms[i] for i in chosen.ids) < min(
        norms[i] for i in range(VOCAB) if i not in chosen.ids
    )  # the lowest norms, that is the least-updated rows
    why: list[str] = []
    probes = undertrained.build_probes([smooth], 4, why)
    assert probes is not None and why == []
    assert probes.notes[0].startswith("smooth: its input-embedding norms have no clear low")
    assert "least-updated rows" in probes.notes[0] and str(undertrained.STRATUM) in probes.notes[0]
    assert probes.strata["smooth"] == chosen.strata
    assert undertrained.undertrained_ids(smooth.embedding_norms()) is None  # no cluster as such
    tiny = [0.1 * 1.01**i for i in range(40)]
    assert undertrained.select_undertrained(tiny) is None
    assert "too small" in (undertrained.cluster_note("tiny", tiny) or "")
    served = base("served", 4)
    served.embedding_norms = lambda: None  # type: ignore[method-assign]  # a remote reference
    why = []
    pset = undertrained.build_probes([base("a", 1), served], 4, why)
    assert pset is not None and "served" not in pset.undertrained
    assert why == ["served: no weights here (a served reference), so no under-trained tokens"]


def test_without_a_gap_derivatives_are_claimed_and_same_data_siblings_never():
    """Every row of these bases was trained, the least-updated ones a little, on data that
    every sibling shares: the stratified null keeps siblings unclaimed, a derivative is found."""
    refs = [graded("a", 1), graded("b", 2), graded("c", 3)]
    for seed in range(3):
        result = run(derivative(refs[1], 600 + seed, noise=0.002), refs)
        assert (result.outcome, result.verdict) == ("match", "b"), result.reason
    outcomes = [run(graded(f"sib{s}", 700 + s), refs).outcome for s in range(12)]
    assert "match" not in outcomes


def test_related_references_are_found_from_their_weights():
    a, b = base("a", 1), base("b", 2)
    b2 = derivative(b, 300, noise=0.002)
    b2.name = "b2"
    probes = undertrained.build_probes([a, b, b2], 2)
    kins = {(k.a, k.b): k for k in kinship.relations([a, b, b2], probes.undertrained)}
    assert kins[("b", "b2")].related and kins[("b", "b2")].cosine > 0.9
    assert not kins[("a", "b")].related and not kins[("a", "b2")].related
    assert kinship.lineage_set("b2", list(kins.values())) == ["b", "b2"]
    assert "b ~ b2: related" in kins[("b", "b2")].text()


def test_a_successor_pair_is_never_resolved_to_the_wrong_member():
    """b2 is b's successor (b's under-trained rows kept). Endpoints descend from b or from b2:
    a match may only name the true member; otherwise the run is inconclusive and names the
    lineage {b, b2}."""
    a, b = base("a", 1), base("b", 2)
    b2 = derivative(b, 310, noise=0.003)
    b2.name = "b2"
    refs = [a, b, b2]
    probes = undertrained.build_probes(refs, 8)
    kins = kinship.relations(refs, probes.undertrained)
    seen = []
    for truth, seed in (("b", 320), ("b", 321), ("b2", 322), ("b2", 323)):
        parent = b if truth == "b" else b2
        aligned = undertrained.align(echo(derivative(parent, seed, noise=0.01), probes.texts),
                                     probes)  # fmt: skip
        scored = [undertrained.score_reference(r, aligned, probes.undertrained[r.name])
                  for r in refs]  # fmt: skip
        names = [s.name for s in scored]
        p = {s.name: decision.t_sf(s.z, undertrained.PERMUTATIONS - 1) for s in scored}
        rescore = undertrained.block_rescorer(scored)
        result = decision.conclude(
            names, [s.score for s in scored], p, {}, {n: "" for n in names}, rescore,
            len(aligned.blocks), what="corr", separate_always=False, alpha=undertrained.ALPHA,
        )  # fmt: skip
        result, lineage = undertrained_stage.successor_rule(
            result, names, kins, rescore, len(aligned.blocks)
        )
        assert result.outcome != "match" or result.verdict == truth, result.reason
        if result.outcome != "match":
            assert result.outcome == "inconclusive" and lineage == ["b", "b2"], result.reason
            assert "b ~ b2" in result.reason
        seen.append(result.outcome)
    assert "unrelated" not in seen
