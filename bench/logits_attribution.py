"""Logit fingerprint benchmark: attribution, false claims and inconclusive rates on a wide zoo.

    python -m bench.logits_attribution [--quick] [--work DIR] [--no-write]

Builds zoo models from seeds 2000–2099 (the tests use 0–99, the rule was developed on 5000–5999):

* four bases differing in data and seed, one pair on the same data (``b0``, ``b1`` on
  ``pretrain``; ``b2`` on ``alt``; ``b3`` on ``other``), all Qwen3-MoE with one tokenizer;
* derivatives of ``b0`` at training distances (steps × lr) 0.03 … 0.6 in three styles —
  continued pre-training on other text (``cpt``), chat-format SFT (``chat``), and a
  distillation-like run trained on ``b3``'s sampled outputs (``distill``) — and of ``b2``
  (``cpt``, ``chat``);
* unrelated models: on other data, on data overlapping ``b0``'s, of another MoE architecture
  (DeepSeek-V3 layout) on ``b0``'s data, and a same-data sibling of ``b0`` and of ``b2``.

Every endpoint is probed in process through the CLI's code path (``EndpointProber`` over the
serve-reference handlers) with the four bases as references, on the logprob path (completions
echo) and on the text-only path (no logprobs: greedy agreement), at 8 and 32 requests. Printed:
per style and distance, the outcome for the logprob and text-only paths; false claims (a match
naming anything but the true base; any match for an unrelated model); inconclusive rates;
requests used. Also reference scoring throughput on CPU, batched vs one sequence at a time.

Writes the tables between the ``bench:logits`` markers of ``docs/logit-fingerprinting.md``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from provenance.fingerprint.logits.zoo import Recipe, Zoo, init_model

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "logit-fingerprinting.md"
BEGIN, END = "<!-- bench:logits:begin -->", "<!-- bench:logits:end -->"
SEED = 2000
DISTANCES = {0.03: (30, 1e-3), 0.1: (100, 1e-3), 0.2: (100, 2e-3), 0.4: (200, 2e-3),
             0.6: (300, 2e-3)}  # fmt: skip


def plan(quick: bool) -> tuple[list[Recipe], list[tuple[Recipe, str | None, str]]]:
    """(bases, [(endpoint recipe, true base or None, style)])."""
    bases = [Recipe("b0", SEED), Recipe("b1", SEED + 1), Recipe("b2", SEED + 2, corpus="alt"),
             Recipe("b3", SEED + 3, corpus="other")]  # fmt: skip
    ends: list[tuple[Recipe, str | None, str]] = []
    n = 10
    dists = [0.03, 0.2, 0.6] if quick else list(DISTANCES)
    for parent, styles, ds in (("b0", ("cpt", "chat", "distill"), dists),
                               ("b2", ("cpt", "chat"), [0.1, 0.4])):  # fmt: skip
        for style in styles:
            for d in ds:
                steps, lr = DISTANCES[d]
                n += 1
                kw: dict[str, Any] = {"corpus": "finetune" if style == "cpt" else "chat"}
                if style == "distill":
                    kw = {"teacher": "b3"}
                ends.append((Recipe(f"{parent}-{style}-{d:g}", SEED + n, steps=steps, lr=lr,
                                    parent=parent, **kw), parent, style))  # fmt: skip
    unrelated: list[tuple[str, int, dict[str, Any]]] = [
        ("u-other", 50, {"corpus": "other"}),
        ("u-overlap", 51, {"corpus": "overlap"}),
        ("u-arch", 52, {"arch": "deepseek_v3"}),
        ("u-sibling-b0", 53, {}),
        ("u-sibling-b2", 54, {"corpus": "alt"}),
    ]
    for name, seed, kw in unrelated:
        ends.append((Recipe(name, SEED + seed, **kw), None, "unrelated"))
    return bases, ends


def probe(folder: Path, refs: list[Any], requests: int, *, greedy: bool) -> dict[str, Any]:
    from provenance.fingerprint.logits.endpoint import EndpointProber, service_post
    from provenance.fingerprint.logits.engine import run_fingerprint
    from provenance.reference.server import ReferenceService
    from provenance.reference.transformers_backend import TransformersReference

    post = service_post(ReferenceService(TransformersReference(folder), "endpoint"))
    if greedy:
        inner = post

        def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            if body.get("logprobs") or body.get("echo"):
                return 400, {"error": {"message": "logprobs are not supported"}}
            return inner(path, body)

    return run_fingerprint(EndpointProber(post, "endpoint", max_requests=requests), refs)


def throughput(folder: Path | None, hidden: int, tok: Any, texts: list[str]) -> dict[str, float]:
    """tokens/s of TransformersReference.score: batched vs one sequence per call."""
    from provenance.reference.transformers_backend import TransformersReference

    with tempfile.TemporaryDirectory() as tmp:
        if folder is None:
            model = init_model("qwen3_moe", len(tok), seed=SEED + 99, hidden=hidden)
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
            folder = Path(tmp)
        ref = TransformersReference(folder, device="cpu")
        seqs = [ref.tokenize(t)[:128] for t in texts]
        n_tok = sum(len(s) for s in seqs)
        ref.score(seqs[:2])  # warm-up
        t0 = time.perf_counter()
        ref.score(seqs, top_k=20)
        batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        for s in seqs:
            ref.score([s], top_k=20)
        single = time.perf_counter() - t0
        params = sum(p.numel() for p in ref.model.parameters())
    return {"hidden": hidden, "params": params, "tokens": n_tok, "batched_tps": n_tok / batched,
            "single_tps": n_tok / single, "ratio": single / batched}  # fmt: skip


def _cell(doc: dict[str, Any], truth: str | None) -> str:
    if doc["outcome"] == "match":
        return "**match**" if doc["verdict"] == truth else f"FALSE ({doc['verdict']})"
    return doc["outcome"]


def same_data_table(
    zoo: Zoo, ends: list[tuple[Recipe, str | None, str]], requests: int
) -> list[str]:
    """The logprob path when the references are three bases of one text (b0, b1, and b0's
    same-data sibling): the null is then the similarity of same-data siblings, and b0's
    derivatives must beat it."""
    from provenance.reference.transformers_backend import TransformersReference

    refs = [TransformersReference(zoo.root / n) for n in ("b0", "b1", "u-sibling-b0")]
    rows = ["References b0, b1, u-sibling-b0 (one text, three seeds); logprobs at "
            f"{requests} requests:", "",
            "| style | " + " | ".join(f"{d:g}" for d in DISTANCES) + " |",
            "|---|" + "---|" * len(DISTANCES)]  # fmt: skip
    for style in ("cpt", "chat", "distill"):
        cells = []
        for d in DISTANCES:
            found = [
                r for r, t, st in ends if t == "b0" and st == style and abs(r.distance - d) < 1e-9
            ]
            if not found:
                cells.append("—")
                continue
            doc = probe(zoo.root / found[0].name, refs, requests, greedy=False)
            cells.append(_cell(doc, "b0"))
        rows.append(f"| {style} | " + " | ".join(cells) + " |")
    others = [r for r, t, _ in ends if t is None and r.name != "u-sibling-b0"]
    others += [r for r, t, _ in ends if t == "b2"]
    outcomes = [_cell(probe(zoo.root / r.name, refs, requests, greedy=False), None) for r in others]
    rows += ["", f"Models not derived from these references ({', '.join(r.name for r in others)}):"
             f" {', '.join(outcomes)}."]  # fmt: skip
    return rows


def run(work: Path, quick: bool) -> str:
    from provenance.fingerprint.logits.engine import load_probes
    from provenance.reference.transformers_backend import TransformersReference

    t0 = time.perf_counter()
    zoo = Zoo(work)
    bases, ends = plan(quick)
    for r in bases:
        zoo.build(r)
    for r, _, _ in ends:
        zoo.build(r)
    build_s = time.perf_counter() - t0
    built = f"built in {build_s:.0f} s" if build_s >= 1 else "reused from --work"
    refs = [TransformersReference(zoo.root / b.name) for b in bases]
    counts = [32] if quick else [8, 32]
    rows: list[str] = []
    totals: dict[str, int] = defaultdict(int)
    null_z: dict[str, list[float]] = defaultdict(list)  # z of pairs with no lineage
    methods: dict[str, set[str]] = defaultdict(set)
    for recipe, truth, style in ends:
        cells = []
        for greedy in (False, True):
            for n in counts:
                doc = probe(zoo.root / recipe.name, refs, n, greedy=greedy)
                cells.append(_cell(doc, truth))
                path = "text" if greedy else "logprobs"
                key = f"{path}:{n}:{'deriv' if truth else 'unrel'}"
                totals[key + ":n"] += 1
                wrong = doc["outcome"] == "match" and doc["verdict"] != truth
                outcome = "false" if wrong else doc["outcome"]
                totals[key + ":" + outcome] += 1
                totals[f"{path}:{n}:false"] += wrong
                totals[f"{path}:{n}:requests"] += doc["requests"]
                for e in doc["ranking"]:
                    if e.get("z") is not None and e["reference"] != truth:
                        null_z[f"{path}:{n}"].append(e["z"])
                methods[f"{path}:{n}"].add(doc["method"])
                print(recipe.name, path, n, doc["outcome"], doc["verdict"], file=sys.stderr)
        dist = f"{recipe.distance:g}" if truth else "—"
        rows.append(
            f"| {recipe.name} | {style} | {truth or '—'} | {dist} | " + " | ".join(cells) + " |"
        )
    heads = [f"{p} @ {n}" for p in ("logprobs", "text-only") for n in counts]
    lines = [
        f"Zoo: 4 bases, {sum(1 for _, t, _ in ends if t)} derivatives, "
        f"{sum(1 for _, t, _ in ends if not t)} unrelated (seeds {SEED}+; Qwen3-MoE hidden 48, "
        f"2 layers, 4 experts; {built}). References: b0, b1 (same data), b2, b3. The logprob "
        "path runs the under-trained-token method (every reference is a local folder); the "
        "text-only path, greedy agreement.",
        "",
        "| endpoint | style | true base | distance | " + " | ".join(heads) + " |",
        "|---|---|---|---:|" + "---|" * len(heads),
        *rows,
        "",
        "| path @ requests | derivatives matched to their base | inconclusive | unrelated "
        "| false claims | unrelated models matched | mean requests |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in ("logprobs", "text"):
        for n in counts:
            d = f"{p}:{n}:deriv"
            u = f"{p}:{n}:unrel"
            nn = totals[d + ":n"] + totals[u + ":n"]
            lines.append(
                f"| {p} @ {n} | {totals[d + ':match']}/{totals[d + ':n']} | "
                f"{totals[d + ':inconclusive'] + totals[u + ':inconclusive']}/{nn} | "
                f"{totals[d + ':unrelated'] + totals[u + ':unrelated']}/{nn} | "
                f"{totals[f'{p}:{n}:false']} | {totals[u + ':match']}/{totals[u + ':n']} | "
                f"{totals[f'{p}:{n}:requests'] / max(1, nn):.1f} |"
            )
    lines += [
        "",
        "Methods used: "
        + "; ".join(f"{k.replace(':', ' @ ')}: {', '.join(sorted(v))}" for k, v in methods.items())
        + ".",
    ]
    for key, zs in null_z.items():
        if len(zs) > 1:
            m = sum(zs) / len(zs)
            sd = (sum((z - m) ** 2 for z in zs) / (len(zs) - 1)) ** 0.5
            lines.append(
                f"Calibration of the permutation null, {key.replace(':', ' @ ')}: {len(zs)} "
                f"(endpoint, reference) pairs without lineage, z mean {m:+.2f}, sd {sd:.2f} "
                f"(an exact null gives 0 and 1), largest {max(zs):+.2f}."
            )
    lines += ["", *same_data_table(zoo, ends, counts[-1])]
    texts = [p["text"] for p in load_probes()]
    lines += [
        "",
        "| reference (CPU, 1 thread, float32) | parameters | tokens | batched tokens/s "
        "| one-at-a-time tokens/s | batched / one-at-a-time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for hidden in (48, 256):
        folder = zoo.root / bases[0].name if hidden == 48 else None
        t = throughput(folder, hidden, zoo.tokenizer, texts)
        lines.append(
            f"| Qwen3-MoE hidden {hidden} | {t['params'] / 1e6:.2f} M | {t['tokens']} | "
            f"{t['batched_tps']:.0f} | {t['single_tps']:.0f} | {t['ratio']:.2f}× |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.zoo_main import main as zoo_main

    return zoo_main(
        "python -m bench.logits_attribution",
        run,
        DOC,
        (BEGIN, END),
        argv,
        quick_help="fewer distances and request counts",
    )


if __name__ == "__main__":
    raise SystemExit(main())
