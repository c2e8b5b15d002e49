"""Calibrate the logit-fingerprint decision thresholds on zoo models; write calibration.json.

    python -m provenance.fingerprint.logits.calibrate [--out PATH] [--work DIR] [--requests N ...]

It builds (with seeds 1000–1099, which the tests and benchmark never use) three bases of one
architecture and tokenizer, derivatives of each at several training distances, and unrelated
models (another seed on the same text, another text, another architecture); probes each
derivative and unrelated model as an endpoint through the same code path as the CLI (in process,
no HTTP), and records every score. Thresholds:

* *negatives*: the best score an unrelated model reaches against any base;
* *positives*: the score a derivative reaches against its own base;
* threshold = midpoint between the highest negative and the lowest positive when they separate;
  otherwise just above the highest negative (no false lineage claim on the calibration set).

Each statistic is calibrated at every request count in ``--requests`` and the strictest
(highest) threshold is kept, so fewer requests never loosen the decision.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from provenance.fingerprint.logits.zoo import Recipe, Zoo

CAL_SEED = 1000


def family(seed0: int, *, distances: Sequence[tuple[int, float]]) -> dict[str, list[Recipe]]:
    """Bases, derivatives (``steps, lr`` each) and unrelated models from seeds ``seed0``+."""
    bases = [Recipe(f"base{i}", seed0 + i) for i in range(3)]
    derivs = []
    for i, b in enumerate(bases):
        for n, (steps, lr) in enumerate(distances):
            text = "finetune" if (i + n) % 2 == 0 else "other"
            derivs.append(Recipe(f"deriv{i}-{steps}x{lr:g}", seed0 + 10 + 10 * i + n, corpus=text,
                                 steps=steps, lr=lr, parent=b.name))  # fmt: skip
    unrelated = [
        Recipe("unrel-seed", seed0 + 50),
        Recipe("unrel-text", seed0 + 51, corpus="other"),
        Recipe("unrel-arch", seed0 + 52, arch="deepseek_v3"),
    ]
    return {"bases": bases, "derivatives": derivs, "unrelated": unrelated}


def score_endpoint(
    folder: Path, refs: Sequence[Any], requests: int, *, greedy: bool = False
) -> dict[str, Any]:
    """Run the stage in process with ``folder`` as the endpoint; the result document."""
    from provenance.fingerprint.logits.endpoint import EndpointProber, service_post
    from provenance.fingerprint.logits.engine import run_fingerprint
    from provenance.reference.server import ReferenceService
    from provenance.reference.transformers_backend import TransformersReference

    endpoint = TransformersReference(folder)
    service = ReferenceService(endpoint, "endpoint")
    post = service_post(service)
    if greedy:
        inner = post

        def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:  # no logprobs anywhere
            if body.get("logprobs") or body.get("echo"):
                return 400, {"error": {"message": "logprobs are not supported"}}
            return inner(path, body)

    prober = EndpointProber(post, "endpoint", max_requests=requests)
    neutral = {"logprobs": {"lineage_threshold": 9, "distance_threshold": -1},
               "greedy": {"excess_threshold": 9, "agreement_threshold": 9}}  # fmt: skip
    return run_fingerprint(prober, refs, calibration=neutral)


def threshold(pos: Sequence[float], neg: Sequence[float], *, higher: bool = True) -> float:
    """Midpoint if separable, else just past the worst negative (see the module docstring)."""
    if not higher:
        return -threshold([-p for p in pos], [-n for n in neg])
    top_neg = max(neg)
    low_pos = min(pos)
    if low_pos > top_neg:
        return round((low_pos + top_neg) / 2, 4)
    return round(top_neg + 1e-3, 4)


def calibrate(work: Path, requests: Sequence[int]) -> dict[str, Any]:
    """Build the calibration family under ``work`` and return the calibration document."""
    from provenance.reference.transformers_backend import TransformersReference

    zoo = Zoo(work)
    fam = family(CAL_SEED, distances=[(20, 3e-4), (40, 3e-4), (60, 5e-4)])
    for group in fam.values():
        for recipe in group:
            zoo.build(recipe)
    refs = [TransformersReference(zoo.root / b.name) for b in fam["bases"]]
    single = refs[:1]
    stats: dict[str, dict[str, list[float]]] = {
        k: {"pos": [], "neg": []} for k in ("lineage", "distance", "excess", "agreement")
    }
    records: list[dict[str, Any]] = []
    for n in requests:
        for kind in ("derivatives", "unrelated"):
            for recipe in fam[kind]:
                folder = zoo.root / recipe.name
                parent = recipe.parent
                side = "pos" if kind == "derivatives" else "neg"
                doc = score_endpoint(folder, refs, n)
                scores = {e["reference"]: e for e in doc["ranking"]}
                lin = scores[parent]["score"] if parent else max(e["score"] for e in doc["ranking"])
                stats["lineage"][side].append(lin)
                gdoc = score_endpoint(folder, refs, n, greedy=True)
                gs = {e["reference"]: e for e in gdoc["ranking"]}
                exc = gs[parent]["score"] if parent else max(e["score"] for e in gdoc["ranking"])
                stats["excess"][side].append(exc)
                if parent in (None, "base0"):
                    one = score_endpoint(folder, single, n)["ranking"][0]["distance_nats"]
                    agr = score_endpoint(folder, single, n, greedy=True)["ranking"][0]["agreement"]
                    stats["distance"][side].append(one)
                    stats["agreement"][side].append(agr)
                records.append({"endpoint": recipe.name, "kind": kind, "requests": n,
                                "lineage": lin, "excess": exc})  # fmt: skip
                print(json.dumps(records[-1]), file=sys.stderr)
    s = stats
    return {
        "schema": "provenance.logits-calibration/1",
        "source": "zoo models built from seeds 1000-1099 (tests use 0-99, the benchmark 2000-2099)",
        "command": "python -m provenance.fingerprint.logits.calibrate",
        "requests": list(requests),
        "logprobs": {
            "lineage_threshold": threshold(s["lineage"]["pos"], s["lineage"]["neg"]),
            "distance_threshold": threshold(
                s["distance"]["pos"], s["distance"]["neg"], higher=False
            ),
        },
        "greedy": {
            "excess_threshold": threshold(s["excess"]["pos"], s["excess"]["neg"]),
            "agreement_threshold": threshold(s["agreement"]["pos"], s["agreement"]["neg"]),
        },
        "observed": {
            k: {side: sorted(round(x, 4) for x in v) for side, v in d.items()} for k, d in s.items()
        },
        "records": records,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    from provenance.paths import fingerprints_dir

    ap = argparse.ArgumentParser(prog="python -m provenance.fingerprint.logits.calibrate")
    ap.add_argument("--out", type=Path, default=fingerprints_dir() / "logits" / "calibration.json")
    ap.add_argument("--work", type=Path, default=None, help="where to build models (default: temp)")
    ap.add_argument("--requests", type=int, nargs="+", default=[8, 32])
    args = ap.parse_args(argv)
    import torch
    import transformers

    torch.set_num_threads(1)  # tiny models: threads only add contention
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="provenance-calibrate-") as tmp:
            doc = calibrate(Path(tmp), args.requests)
    else:
        doc = calibrate(args.work, args.requests)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: doc[k] for k in ("logprobs", "greedy")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
