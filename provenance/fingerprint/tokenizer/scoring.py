"""Compare observed differential counts with every signature and decide (open set).

``observed[p]`` is the server's count for probe ``p`` minus its count for the baseline. A signature
expects ``tokens[p] - tokens[baseline]`` when the server encodes special spellings as ordinary text
("text" mode) or one of ``tokens_parsed[p] - tokens[baseline]`` when it parses them ("parsed").

``score`` of a candidate = the fraction of the probes sent whose observed differential count equals
the expected one *exactly* (tolerance 0 tokens), in the mode that fits that candidate best; 1.0 is a
full match, higher is better. Status: ``match`` (score 1.0), ``mismatch`` or ``skipped`` (signature
built for another probe set).

Decision: exactly one match → its id. Several matches that share one ``base`` (same ordinary-text
BPE, e.g. ``o200k`` / ``o200k-harmony`` when special spellings were not parsed) → the base id, with
the union of families and the alternatives listed. Several unrelated matches → ``null``
("indistinguishable"). No match → ``null``, never the nearest guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provenance.tokenizers.signatures import Signature


@dataclass(frozen=True)
class CandidateScore:
    """One row of the ranking."""

    tokenizer: str
    score: float
    status: str
    reason: str
    mode: str | None = None  # "text", "parsed", "either" (probes did not tell) or None
    error: int = 0  # sum of |observed - expected| in the best mode (for ordering only)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tokenizer": self.tokenizer,
            "score": round(self.score, 4),
            "status": self.status,
            "reason": self.reason,
            "specials": self.mode,
        }


def expected_deltas(sig: Signature, probe: str) -> tuple[int, tuple[int, ...]]:
    """(text-mode delta, parsed-mode deltas) of ``probe`` for ``sig``."""
    base = sig.counts["baseline"].tokens
    count = sig.counts[probe]
    return count.tokens - base, tuple(x - base for x in count.tokens_parsed)


def score_signature(sig: Signature, observed: dict[str, int], probe_set_sha: str) -> CandidateScore:
    """Score one signature against ``observed`` differential counts."""
    if sig.probe_set_sha256 != probe_set_sha or "baseline" not in sig.counts:
        return CandidateScore(
            sig.id,
            0.0,
            "skipped",
            f"built for probe set {sig.probe_set}; rebuild with `signatures build`",
        )
    missing = [p for p in observed if p not in sig.counts]
    if missing:
        return CandidateScore(sig.id, 0.0, "skipped", f"no count for probe {missing[0]}")
    text_hits = parsed_hits = text_err = parsed_err = 0
    first_miss: dict[str, str] = {}
    for probe, obs in observed.items():
        text, parsed = expected_deltas(sig, probe)
        text_hits += obs == text
        parsed_hits += obs in parsed
        text_err += abs(obs - text)
        parsed_err += min(abs(obs - x) for x in parsed)
        if obs != text and "text" not in first_miss:
            first_miss["text"] = f"{probe}: observed {obs}, expected {text}"
        if obs not in parsed and "parsed" not in first_miss:
            alts = "/".join(str(x) for x in parsed)
            first_miss["parsed"] = f"{probe}: observed {obs}, expected {alts} (specials parsed)"
    n = len(observed)
    if text_hits == n and parsed_hits == n:
        mode = "either"
    elif (text_hits, -text_err) >= (parsed_hits, -parsed_err):
        mode = "text"
    else:
        mode = "parsed"
    hits = parsed_hits if mode == "parsed" else text_hits
    error = parsed_err if mode == "parsed" else text_err
    if hits == n:
        how = {
            "text": "special spellings counted as text",
            "parsed": "special spellings parsed",
            "either": "special handling not tested",
        }[mode]
        return CandidateScore(sig.id, 1.0, "match", f"all {n} probes exact ({how})", mode, 0)
    key = "parsed" if mode == "parsed" else "text"
    reason = f"{hits}/{n} probes exact; {first_miss.get(key, '')}"
    return CandidateScore(sig.id, hits / n if n else 0.0, "mismatch", reason, mode, error)


def rank(
    signatures: list[Signature], observed: dict[str, int], probe_set_sha: str
) -> list[CandidateScore]:
    """Every signature scored, best first (score, then smaller total error, then id)."""
    scores = [score_signature(s, observed, probe_set_sha) for s in signatures]
    order = {"match": 0, "mismatch": 1, "skipped": 2}
    return sorted(scores, key=lambda c: (order[c.status], -c.score, c.error, c.tokenizer))


def shared_base(ids: list[str], by_id: dict[str, Signature]) -> tuple[str, list[str]] | None:
    """(base id, union of families) when every id in ``ids`` has the same merge ranks (one is
    the others' ``base``), else None. Families come base first, each once."""
    bases = {(by_id[i].base or i) if i in by_id else i for i in ids}
    if len(bases) != 1:
        return None
    base = bases.pop()
    families: list[str] = []
    for i in [base, *ids]:
        for fam in by_id[i].family_keys if i in by_id else []:
            if fam not in families:
                families.append(fam)
    return base, families


def decide(ranking: list[CandidateScore], signatures: list[Signature]) -> dict[str, Any]:
    """``{"verdict", "reason", "families", "specials", "alternatives"}`` from a ranking."""
    by_id = {s.id: s for s in signatures}
    matches = [c for c in ranking if c.status == "match"]
    if not matches:
        best = next((c for c in ranking if c.status != "skipped"), None)
        why = (
            f"no known tokenizer fits the counts (closest: {best.tokenizer}, {best.reason})"
            if best
            else "no signature could be compared"
        )
        return {
            "verdict": None,
            "reason": why,
            "families": [],
            "specials": None,
            "alternatives": [],
        }
    ids = [c.tokenizer for c in matches]
    if len(matches) == 1:
        c = matches[0]
        return {
            "verdict": c.tokenizer,
            "reason": c.reason,
            "families": by_id[c.tokenizer].family_keys,
            "specials": c.mode,
            "alternatives": [],
        }
    shared = shared_base(ids, by_id)
    if shared is not None:
        base, families = shared
        reason = (
            f"{', '.join(ids)} share the {base} BPE and count these probes alike "
            "(special spellings were not parsed); reported as the shared id"
        )
        return {
            "verdict": base,
            "reason": reason,
            "families": families,
            "specials": matches[0].mode,
            "alternatives": ids,
        }
    return {
        "verdict": None,
        "reason": f"indistinguishable: {', '.join(ids)} all fit every probe",
        "families": [],
        "specials": None,
        "alternatives": ids,
    }
