"""Lineage benchmark of issue 27: products of RL-trained and SFT derivatives, a successor base,
vocabularies with and without a gap, served chat-only and sampled as well as with echo.

    python -m bench.logits_lineage [--quick] [--work DIR] [--no-write]

Seeds 2100–2199 (tests 0–99, the older benchmark 2000–2099, development 5000–5999). Per
vocabulary style (:data:`provenance.fingerprint.logits.zoo.VOCABS`; ``--quick``: ``union``
only):

* references: ``k2`` (DeepSeek-V3 layout, Kimi K2's), ``k25`` (its successor: continued
  pre-training of ``k2`` on other text, distance 0.6), ``sib`` (same layout, same data as
  ``k2``, another seed), ``oth`` (Qwen3-MoE on other data);
* products: chat SFT of ``k2``, ``k25`` and ``sib`` (distance 0.4), policy-gradient RL on their
  own samples after that SFT (``-rl``), a product of a base that is not among the references
  (same data as ``k2``), a model trained from scratch on ``k2``'s sampled outputs (distilled:
  behaves like ``k2`` without descending from it), and a base on other data;
* paths: ``echo`` (completions with prompt logprobs, greedy), ``chat-top5`` (chat only, the
  product's system prompt, sampled at temperature 0.8, top-5 logprobs of the generated tokens)
  and ``text`` (the same, text only).

A false claim is a ``match`` naming anything but the true base (any match for a product whose
base is not a reference). Writes between the ``bench:lineage`` markers of
``docs/logit-fingerprinting.md``.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from provenance.fingerprint.logits.zoo import Recipe, Zoo

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "logit-fingerprinting.md"
BEGIN, END = "<!-- bench:lineage:begin -->", "<!-- bench:lineage:end -->"
SEED = 2100
BASE_TOKENS = 120 * 16 * 64  # a zoo base's training: steps × batch × window
RL_TOKENS_PER_STEP = 8 * 64  # reinforce(): batch × (prompt ≤ 32 + answer ≤ 32), at most


def plan(rl_steps: int) -> tuple[list[Recipe], list[tuple[Recipe, str | None, str]]]:
    """(references, [(product recipe, true base or None, style)])."""
    s = SEED
    refs = [
        Recipe("k2", s, arch="deepseek_v3"),
        Recipe("k25", s + 1, corpus="alt", steps=300, lr=2e-3, parent="k2"),
        Recipe("sib", s + 2, arch="deepseek_v3"),
        Recipe("oth", s + 3, corpus="other"),
    ]
    sft: dict[str, Any] = {"corpus": "chat", "steps": 200, "lr": 2e-3}
    ends: list[tuple[Recipe, str | None, str]] = []
    for i, parent in enumerate(("k2", "k25", "sib")):
        ends.append((Recipe(f"{parent}-sft", s + 10 + i, parent=parent, **sft), parent, "sft"))
        ends.append(
            (Recipe(f"{parent}-rl", s + 20 + i, parent=parent, rl_steps=rl_steps, **sft),
             parent, "sft+rl")
        )  # fmt: skip
    ends += [
        (Recipe("foreign", s + 30, parent="foreign-base", **sft), None, "base not a reference"),
        (Recipe("distilled", s + 31, teacher="k2", arch="deepseek_v3"), None, "distilled"),
        (Recipe("u-alt", s + 32, corpus="alt"), None, "unrelated"),
    ]
    return refs, ends


def probe(folder: Path, refs: list[Any], path: str, requests: int) -> dict[str, Any]:
    """One attribution through the engine the CLI runs."""
    from provenance.fingerprint.logits.endpoint import EndpointProber, service_post
    from provenance.fingerprint.logits.engine import run_fingerprint
    from provenance.reference.server import ReferenceService
    from provenance.reference.transformers_backend import TransformersReference
    from provenance.standins.sampled import SampledChat

    if path == "echo":
        post = service_post(ReferenceService(TransformersReference(folder), "product"))
    else:
        post = SampledChat(folder, temperature=0.8, logprobs=path == "chat-top5", seed=requests)
    return run_fingerprint(EndpointProber(post, "product", max_requests=requests), refs)


def _cell(doc: dict[str, Any], truth: str | None) -> str:
    if doc["outcome"] == "match":
        return "**match**" if doc["verdict"] == truth else f"FALSE ({doc['verdict']})"
    lineage = doc["evidence"].get("lineage")
    return f"{doc['outcome']} (lineage {' ~ '.join(lineage)})" if lineage else doc["outcome"]


def run_vocab(work: Path, vocab: str, rl_steps: int, grid: list[tuple[str, int]]) -> list[str]:
    """The table of one vocabulary style."""
    from provenance.fingerprint.logits import kinship, undertrained
    from provenance.reference.transformers_backend import TransformersReference

    zoo = Zoo(work / vocab, vocab=vocab)
    t0 = time.perf_counter()
    refs_r, ends = plan(rl_steps)
    for r in [*refs_r, Recipe("foreign-base", SEED + 33, arch="deepseek_v3")]:
        zoo.build(r)
    for r, _, _ in ends:
        zoo.build(r)
    build_s = time.perf_counter() - t0
    refs = [TransformersReference(zoo.root / r.name) for r in refs_r]
    chosen = {r.name: undertrained.select_undertrained(r.embedding_norms()) for r in refs}
    how = ", ".join(
        f"{n}: {c.how} {len(c.ids)} rows (largest neighbour ratio {c.ratio:.3f})"
        for n, c in chosen.items()
        if c is not None
    )
    kins = kinship.relations(refs, {n: c.ids for n, c in chosen.items() if c is not None})
    related = "; ".join(k.text() for k in kins if k.related) or "none"
    totals: dict[str, int] = defaultdict(int)
    rows = []
    for recipe, truth, style in ends:
        cells = []
        for path, n in grid:
            doc = probe(zoo.root / recipe.name, refs, path, n)
            cells.append(_cell(doc, truth))
            key = f"{path}@{n}"
            wrong = doc["outcome"] == "match" and doc["verdict"] != truth
            kind = "deriv" if truth else "none"
            totals[f"{key}:{kind}:n"] += 1
            totals[f"{key}:{kind}:{'false' if wrong else doc['outcome']}"] += 1
            totals[f"{key}:false"] += wrong
            totals[f"{key}:requests"] += doc["requests"]
            print(vocab, recipe.name, key, doc["outcome"], doc["verdict"], doc["method"],
                  file=sys.stderr)  # fmt: skip
        rows.append(f"| {recipe.name} | {style} | {truth or '—'} | " + " | ".join(cells) + " |")
    heads = [f"{p} @ {n}" for p, n in grid]
    lines = [
        f"**Vocabulary `{vocab}`** (built in {build_s:.0f} s). Under-trained rows: {how}. "
        f"Related references found from their weights before probing: {related}.",
        "",
        "| product | style | true base | " + " | ".join(heads) + " |",
        "|---|---|---|" + "---|" * len(heads),
        *rows,
        "",
        "| path @ requests | derivatives attributed | inconclusive | unrelated | false claims "
        "| requests (mean) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for path, n in grid:
        key = f"{path}@{n}"
        nd, nn = totals[f"{key}:deriv:n"], totals[f"{key}:none:n"]
        inc = totals[f"{key}:deriv:inconclusive"] + totals[f"{key}:none:inconclusive"]
        unr = totals[f"{key}:deriv:unrelated"] + totals[f"{key}:none:unrelated"]
        lines.append(
            f"| {key} | {totals[f'{key}:deriv:match']}/{nd} | {inc}/{nd + nn} | "
            f"{unr}/{nd + nn} | {totals[f'{key}:false']} | "
            f"{totals[f'{key}:requests'] / max(1, nd + nn):.1f} |"
        )
    return lines


def run(work: Path, quick: bool) -> str:
    rl_steps = 120 if quick else 3 * BASE_TOKENS // RL_TOKENS_PER_STEP
    vocabs = ["union"] if quick else ["pretrain", "union", "own"]
    grid = [("echo", 8), ("echo", 32), ("chat-top5", 32), ("text", 64)]
    if not quick:
        grid += [("chat-top5", 8), ("text", 32)]
    ratio = rl_steps * RL_TOKENS_PER_STEP / BASE_TOKENS
    lines = [
        f"References k2, k25, sib, oth; RL: {rl_steps} policy-gradient steps after the SFT, at "
        f"most {ratio:.1f}× a base's training tokens; chat paths sample at temperature 0.8 "
        "behind a hidden system prompt.",
        "",
    ]
    for vocab in vocabs:
        lines += [*run_vocab(work, vocab, rl_steps, grid), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bench.zoo_main import main as zoo_main

    return zoo_main(
        "python -m bench.logits_lineage",
        run,
        DOC,
        (BEGIN, END),
        argv,
        quick_help="one vocabulary, lighter RL",
    )


if __name__ == "__main__":
    raise SystemExit(main())
