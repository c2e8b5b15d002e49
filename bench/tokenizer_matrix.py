"""Benchmark matrix of the active tokenizer fingerprint over real HTTP.

    python -m bench.tokenizer_matrix            # full matrix; rewrites the table in the docs
    python -m bench.tokenizer_matrix --quick    # fewer templates and prompt sizes
    python -m bench.tokenizer_matrix --no-docs  # print only

Every source file of every shipped tokenizer id, and three tokenizers trained here on local text
(BPE, Unigram, WordPiece; not in the registry), is put behind a local stand-in endpoint (see
``provenance.standins.tokencount``) for every API style × chat template × hidden system
prompt size (0 to 8k words); the counting style (specials parsed in the rendered prompt, user text
as plain text, everything as text) rotates across cells. Each endpoint is fingerprinted with the
default budget of 4 requests. Printed: per id, how many endpoints were named right (exactly, or
by the shared base id when the server did not parse special spellings), left null, or named
wrong (a false "known" verdict), and requests used.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "tokenizer-fingerprinting.md"
BEGIN, END = "<!-- bench:tokenizer_matrix:begin -->", "<!-- bench:tokenizer_matrix:end -->"


def trained_unknowns() -> dict[str, object]:
    """Three tokenizers trained here on local text, none of them in the registry."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from provenance.fingerprint.tokenizer.probe_search import TEXT_UNITS
    from provenance.tokenizers.handle import TokenizerHandle
    from provenance.tokenizers.pieces import hf_piece

    corpus = [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted((ROOT / "provenance").glob("**/*.py"))[:40]
    ]
    corpus += list(TEXT_UNITS.values())
    specs = {
        "unknown-bpe-2000": (
            models.BPE(),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
            trainers.BpeTrainer(
                vocab_size=2000,
                show_progress=False,
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            ),
        ),
        "unknown-unigram-1500": (
            models.Unigram(),
            pre_tokenizers.Metaspace(),
            trainers.UnigramTrainer(
                vocab_size=1500, show_progress=False, unk_token="<unk>", special_tokens=["<unk>"]
            ),
        ),
        "unknown-wordpiece-3000": (
            models.WordPiece(unk_token="[UNK]"),
            pre_tokenizers.BertPreTokenizer(),
            trainers.WordPieceTrainer(
                vocab_size=3000, show_progress=False, special_tokens=["[UNK]"]
            ),
        ),
    }
    out: dict[str, object] = {}
    for name, (model, pre, trainer) in specs.items():
        tok = Tokenizer(model)
        tok.pre_tokenizer = pre
        tok.train_from_iterator(corpus, trainer)
        piece = hf_piece(json.loads(tok.to_str()), tok)
        out[name] = TokenizerHandle(
            name, "-", "trained", lambda t, tok=tok: tok.encode(t).ids, piece=piece
        )
    return out


def run(quick: bool) -> tuple[str, dict[str, float]]:
    import random

    from provenance.fingerprint.tokenizer.active import run_active
    from provenance.fingerprint.tokenizer.client import CountClient
    from provenance.fingerprint.tokenizer.scoring import decide, rank
    from provenance.standins.tokencount import (
        COUNTING,
        TEMPLATES,
        EndpointConfig,
        StandInServer,
        hidden_system_prompt,
    )
    from provenance.tokenizers import load_tokenizer
    from provenance.tokenizers.manifest import load_manifest
    from provenance.tokenizers.probes import load_probe_set
    from provenance.tokenizers.signatures import load_signatures, signature_dirs

    probe_set = load_probe_set()
    signatures = load_signatures(signature_dirs()[:1])
    templates = ["chatml", "mistral", "plain"] if quick else sorted(TEMPLATES)
    sizes = [0, 8000] if quick else [0, 500, 2000, 8000]
    endpoints: list[tuple[str, str, str | None, object]] = []  # (row, source, truth, handle)
    for entry in load_manifest():
        for source in entry.sources:
            endpoints.append((entry.id, source, entry.id, load_tokenizer(source)))
    for name, handle in trained_unknowns().items():
        endpoints.append((name, name, None, handle))
    bases = {s.id: s.base for s in signatures}

    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_size: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    started = time.perf_counter()
    cells = itertools.product(endpoints, ("openai", "anthropic"), templates, sizes)
    for cell, ((row, source, truth, handle), api, template, size) in enumerate(cells, start=1):
        rng = random.Random(zlib.crc32(f"{source}|{api}|{template}|{size}".encode()))
        config = EndpointConfig(
            template,
            COUNTING[cell % len(COUNTING)],
            hidden_system_prompt(rng, size),
            rng.randrange(0, 8),
            count_tokens=rng.random() < 0.5,
        )
        with StandInServer(lambda t, p, h=handle: h.count(t, specials=p), config) as server:
            base = server.base + "/v1" if api == "openai" else server.base
            with CountClient(base, "bench-model", api=api) as client:
                doc = run_active(client, probe_set, signatures, max_requests=4)
        verdict = doc["verdict"]
        # The same answers cut to the first two probes: what a 3-request budget would decide.
        first_two = {e["probe"]: e["observed"] for e in doc["evidence"][:2]}
        three = decide(rank(signatures, first_two, probe_set.digest), signatures)["verdict"]
        s = stats[row]
        s["right_at_3"] += (three is None) if truth is None else three in (truth, bases.get(truth))
        s["false_at_3"] += three is not None and three not in (truth, bases.get(truth))
        s["endpoints"] += 1
        s["requests"] += doc["requests"]
        s["max_requests"] = max(s["max_requests"], doc["requests"])
        if truth is None:
            outcome = "null" if verdict is None else "false_known"
        elif verdict == truth:
            outcome = "exact"
        elif verdict is not None and verdict == bases.get(truth):
            outcome = "base"
        elif verdict is None:
            outcome = "null"
        else:
            outcome = "false_known"
        s[outcome] += 1
        by_size[size][outcome] += 1
        by_size[size]["n"] += 1
    elapsed = time.perf_counter() - started

    lines = [
        "| tokenizer (truth) | source files | endpoints | named exactly | named by shared base | "
        'null | false "known" | mean requests | max requests | right at 3 requests | '
        'false "known" at 3 |',
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    files = defaultdict(int)
    for row, *_ in endpoints:
        files[row] += 1
    totals: dict[str, float] = defaultdict(float)
    for row, s in stats.items():
        n = s["endpoints"]
        lines.append(
            f"| {row} | {files[row]} | {int(n)} | {int(s['exact'])} | {int(s['base'])} | "
            f"{int(s['null'])} | {int(s['false_known'])} | {s['requests'] / n:.2f} | "
            f"{int(s['max_requests'])} | {int(s['right_at_3'])} | {int(s['false_at_3'])} |"
        )
        known = not row.startswith("unknown-")
        totals["known_n" if known else "unknown_n"] += n
        totals["known_right" if known else "unknown_null"] += (
            s["exact"] + s["base"] if known else s["null"]
        )
        totals["false_known"] += s["false_known"]
        totals["requests"] += s["requests"]
        totals["max_requests"] = max(totals["max_requests"], s["max_requests"])
    n_all = totals["known_n"] + totals["unknown_n"]
    summary = {
        "known_accuracy": totals["known_right"] / max(1, totals["known_n"]),
        "unknown_null_rate": totals["unknown_null"] / max(1, totals["unknown_n"]),
        "false_known": totals["false_known"],
        "mean_requests": totals["requests"] / max(1, n_all),
        "max_requests": totals["max_requests"],
        "endpoints": n_all,
        "seconds": elapsed,
    }
    lines += [
        "",
        f"Known endpoints named right: {int(totals['known_right'])}/{int(totals['known_n'])} "
        f"({summary['known_accuracy']:.1%}); unknown endpoints left null: "
        f'{int(totals["unknown_null"])}/{int(totals["unknown_n"])}; false "known" verdicts: '
        f"{int(totals['false_known'])}; requests per endpoint: mean {summary['mean_requests']:.2f},"
        f" max {int(summary['max_requests'])}.",
        "",
        '| hidden system prompt (≈ tokens) | endpoints | right or null as due | false "known" |',
        "|---|---|---|---|",
    ]
    for size in sorted(by_size):
        b = by_size[size]
        lines.append(
            f"| {size} | {b['n']} | {b['exact'] + b['base'] + b['null']} | {b['false_known']} |"
        )
    lines += [
        "",
        f"Matrix: {len(endpoints)} endpoint tokenizers × 2 API styles × "
        f"{len(templates)} chat templates × {len(sizes)} system prompt sizes; counting "
        f"style rotated over {', '.join(COUNTING)}. Wall time {elapsed:.0f} s.",
    ]
    return "\n".join(lines), summary


def write_docs(
    table: str,
    begin: str = BEGIN,
    end: str = END,
    heading: str = "## Benchmark",
    doc: Path | None = None,
) -> None:
    """Replace the block between ``begin`` and ``end`` in ``doc`` (default: the tokenizer doc;
    append it under ``heading`` when the markers are missing)."""
    doc = doc or DOC
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    block = f"{begin}\n{table}\n{end}"
    if begin in text and end in text:
        text = re.sub(
            re.escape(begin) + r".*?" + re.escape(end), lambda _m: block, text, flags=re.S
        )
    else:
        text = text.rstrip() + f"\n\n{heading}\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tokenizer_matrix")
    parser.add_argument("--quick", action="store_true", help="fewer templates and sizes")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the docs table")
    args = parser.parse_args(argv)
    table, summary = run(args.quick)
    print(table)
    if not args.no_docs:
        write_docs(table)
    ok = summary["false_known"] == 0 and summary["max_requests"] <= 4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
