"""Logit fingerprint benchmark: attribution accuracy and reference scoring throughput (CPU).

    python -m bench.logits_attribution [--quick] [--work DIR] [--no-write]

Builds zoo models from seeds 2000–2099 (never used by the calibration or the tests): three
bases, derivatives of two of them at several training distances (steps × learning rate, on two
different texts), and three unrelated models. Every endpoint is probed in process through the
same code path as the CLI (``EndpointProber`` over the serve-reference handlers, the shipped
calibration, completions-echo). Measures

* accuracy against the number of probe requests (derivatives at the distances the tests use and
  below, plus the unrelated models: a hit is the right base, or null for an unrelated model);
* accuracy against training distance at 32 requests;
* reference scoring throughput on CPU (tokens/s), batched against one sequence at a time
  (the baseline, run side by side), for the tiny model and a wider one.

Writes the tables between the ``bench:logits`` markers of ``docs/logit-fingerprinting.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from provenance.fingerprint.logits.zoo import Recipe, Zoo, init_model

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "logit-fingerprinting.md"
BEGIN, END = "<!-- bench:logits:begin -->", "<!-- bench:logits:end -->"
SEED = 2000
NEAR = [(20, 3e-4), (40, 3e-4), (60, 5e-4)]
FAR = [(100, 1e-3), (200, 1e-3), (200, 3e-3)]


def build(
    work: Path, quick: bool
) -> tuple[Zoo, list[Recipe], list[tuple[Recipe, str]], list[Recipe]]:
    zoo = Zoo(work)
    bases = [Recipe(f"base{i}", SEED + i) for i in range(3)]
    derivs: list[tuple[Recipe, str]] = []
    dists = NEAR + ([] if quick else FAR)
    for b in range(2):
        for n, (steps, lr) in enumerate(dists):
            text = "finetune" if (b + n) % 2 == 0 else "other"
            r = Recipe(f"d{b}-{steps}x{lr:g}", SEED + 10 + 10 * b + n, corpus=text, steps=steps,
                       lr=lr, parent=f"base{b}")  # fmt: skip
            derivs.append((r, r.parent or ""))
    unrel = [Recipe("u-seed", SEED + 50), Recipe("u-text", SEED + 51, corpus="other"),
             Recipe("u-arch", SEED + 52, arch="deepseek_v3")]  # fmt: skip
    for r in [*bases, *(d for d, _ in derivs), *unrel]:
        zoo.build(r)
    return zoo, bases, derivs, unrel


def attribute(folder: Path, refs: list[Any], requests: int) -> str | None:
    from provenance.fingerprint.logits.endpoint import EndpointProber, service_post
    from provenance.fingerprint.logits.engine import run_fingerprint
    from provenance.reference.server import ReferenceService
    from provenance.reference.transformers_backend import TransformersReference

    service = ReferenceService(TransformersReference(folder), "endpoint")
    prober = EndpointProber(service_post(service), "endpoint", max_requests=requests)
    return run_fingerprint(prober, refs)["verdict"]


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.logits_attribution")
    ap.add_argument("--quick", action="store_true", help="fewer distances and request counts")
    ap.add_argument("--work", type=Path, default=None, help="model folder (default: temp)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave the docs alone")
    args = ap.parse_args(argv)
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-logits-") as tmp:
        work = args.work or Path(tmp)
        t0 = time.perf_counter()
        text = run(work, args.quick)
        text += f"\nTotal benchmark time {time.perf_counter() - t0:.0f} s (build included).\n"
    print(text)
    if not args.no_write and DOC.is_file():
        doc = DOC.read_text(encoding="utf-8")
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    return 0


def run(work: Path, quick: bool) -> str:
    from provenance.fingerprint.logits.engine import load_probes
    from provenance.reference.cache import CachedReference
    from provenance.reference.transformers_backend import TransformersReference

    t0 = time.perf_counter()
    zoo, bases, derivs, unrel = build(work, quick)
    build_s = time.perf_counter() - t0
    refs = [CachedReference(TransformersReference(zoo.root / b.name), root=work / "_cache")
            for b in bases]  # fmt: skip
    counts = [2, 8, 32] if quick else [1, 2, 4, 8, 16, 32]
    near = [(r, p) for r, p in derivs if (r.steps, r.lr) in NEAR]
    lines = [f"Models: 3 bases, {len(derivs)} derivatives, {len(unrel)} unrelated (seeds "
             f"{SEED}+; Qwen3-MoE, hidden 48, 2 layers, 4 experts; built in {build_s:.0f} s).", "",
             "| requests | derivatives attributed | unrelated null | accuracy |",
             "|---:|---:|---:|---:|"]  # fmt: skip
    for n in counts:
        hits = sum(attribute(zoo.root / r.name, refs, n) == p for r, p in near)
        nulls = sum(attribute(zoo.root / r.name, refs, n) is None for r in unrel)
        acc = (hits + nulls) / (len(near) + len(unrel))
        lines.append(f"| {n} | {hits}/{len(near)} | {nulls}/{len(unrel)} | {acc:.0%} |")
        print(lines[-1], file=sys.stderr)
    lines += ["", "| training distance (steps × lr) | steps | lr | attributed at 32 requests |",
              "|---:|---:|---:|---:|"]  # fmt: skip
    for steps, lr in NEAR + ([] if quick else FAR):
        group = [(r, p) for r, p in derivs if (r.steps, r.lr) == (steps, lr)]
        hits = sum(attribute(zoo.root / r.name, refs, 32) == p for r, p in group)
        lines.append(f"| {steps * lr:.3f} | {steps} | {lr:g} | {hits}/{len(group)} |")
        print(lines[-1], file=sys.stderr)
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
        print(lines[-1], file=sys.stderr)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
