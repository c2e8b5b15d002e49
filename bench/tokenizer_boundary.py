"""Benchmark of the stream-boundary tokenizer fingerprint.

    python -m bench.tokenizer_boundary            # full; rewrites the table in the docs
    python -m bench.tokenizer_boundary --quick    # fewer texts
    python -m bench.tokenizer_boundary --no-docs  # print only

Streams are cut by real tokenizers the way a streaming server cuts them (``chunk_stream``: one
token per chunk, or re-chunked into 1–4 tokens per chunk with the output-token usage of each of
three streams reported), over text the method was not tuned on (the project's docs in other
slices than the tests use, seeds 101+) at three stream lengths, plus three tokenizers trained here
that the registry does not know. Printed: per true tokenizer and length, streams named right
(its own id, or the base it shares merges with), null, and named wrong; then, when the shared
corpus is beside the checkout, what the fingerprint says of each real provider stream and the
share of chunk ends that fall on token ends of each candidate.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench:tokenizer_boundary:begin -->", "<!-- bench:tokenizer_boundary:end -->"
REALWORLD = ROOT.parent / "shared" / "data" / "realworld" / "realworld.har"
LENGTHS = (400, 1500, 5000)


def held_out_text(seed: int, size: int) -> str:
    docs = sorted((ROOT / "docs").glob("*.md"))
    rng = random.Random(seed)
    text = rng.choice(docs).read_text(encoding="utf-8")
    start = rng.randrange(0, max(1, len(text) - size))
    return text[start : start + size]


def unknown_handles() -> dict[str, object]:
    """The bench's trained tokenizers that can cut streams (those with token pieces)."""
    from bench.tokenizer_matrix import trained_unknowns

    return {k: h for k, h in trained_unknowns().items() if h.segments}


def synthetic(quick: bool) -> tuple[list[str], dict[str, int]]:
    from provenance.fingerprint.tokenizer.boundary import Stream, fingerprint_streams
    from provenance.fingerprint.tokenizer.passive import candidate_handles
    from provenance.standins.tokencount import chunk_stream
    from provenance.tokenizers.signatures import load_signatures, signature_dirs

    signatures = load_signatures(signature_dirs()[:1])
    by_id = {s.id: s for s in signatures}
    handles = candidate_handles(signatures)
    truths = {k: h for k, h in handles.items() if h.segments}
    truths.update(unknown_handles())
    seeds = range(101, 103 if quick else 106)
    stats: dict[tuple[str, str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for truth, handle in truths.items():
        known = truth in by_id
        allowed = {truth, by_id[truth].base} if known else set()
        for size in LENGTHS:
            for seed in seeds:
                text = held_out_text(seed * 7 + size, size)
                single = [Stream(tuple(chunk_stream(handle, text)))]
                texts = [held_out_text(seed * 7 + size + i, size) for i in range(3)]
                rechunked = [
                    Stream(
                        tuple(chunk_stream(handle, t, 4, seed=seed + i)),
                        len(handle.encode(t)) + 1,
                    )
                    for i, t in enumerate(texts)
                ]
                for style, streams in (("1 token/chunk", single), ("1-4 tokens/chunk", rechunked)):
                    verdict = fingerprint_streams(streams, handles, signatures)["verdict"]
                    cell = stats[(truth, style, size)]
                    cell["n"] += 1
                    if verdict is None:
                        cell["null"] += 1
                    elif verdict in allowed:
                        cell["right"] += 1
                    else:
                        cell["wrong"] += 1
    lines = [
        "| true tokenizer | chunking | " + " | ".join(f"{n} chars" for n in LENGTHS) + " |",
        "|---|---|" + "---|" * len(LENGTHS),
    ]
    totals: dict[str, int] = defaultdict(int)
    for truth in truths:
        for style in ("1 token/chunk", "1-4 tokens/chunk"):
            cells = []
            for size in LENGTHS:
                c = stats[(truth, style, size)]
                cells.append(f"{c['right']}/{c['n']} right, {c['null']} null, {c['wrong']} wrong")
                kind = "known" if truth in by_id else "unknown"
                totals[f"{kind}_n"] += c["n"]
                totals[f"{kind}_right"] += c["right"]
                totals[f"{kind}_null"] += c["null"]
                totals["wrong"] += c["wrong"]
            label = truth if truth in by_id else f"{truth} (not in the registry)"
            lines.append(f"| {label} | {style} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Known tokenizers named right: {totals['known_right']}/{totals['known_n']}, null "
        f"{totals['known_null']}; unknown tokenizers left null: {totals['unknown_null']}/"
        f"{totals['unknown_n']}; wrong claims: {totals['wrong']}. Seeds {seeds.start}–"
        f"{seeds.stop - 1} (tests use 11–32).",
    ]
    return lines, dict(totals)


def realworld() -> list[str]:
    if not REALWORLD.is_file():
        return ["", f"(shared corpus not found at {REALWORLD}; real-stream table skipped)"]
    import tempfile

    from provenance.cli.main import main as cli
    from provenance.fingerprint.tokenizer.boundary import fingerprint_streams, load_streams
    from provenance.fingerprint.tokenizer.passive import candidate_handles
    from provenance.store import open_store
    from provenance.tokenizers.signatures import load_signatures, signature_dirs

    signatures = load_signatures(signature_dirs()[:1])
    handles = candidate_handles(signatures)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'rw.sqlite'}"
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            cli(["import", str(REALWORLD), "--db", url, "--json"])
        with open_store(url) as store:
            groups = load_streams(store)
    lines = [
        "",
        "Real provider streams (`../shared/data/realworld/realworld.har`):",
        "",
        "| model (as served) | chunk ends | verdict | why | share of chunk ends on token ends "
        "(top candidates) |",
        "|---|---|---|---|---|",
    ]
    for (_product, model), streams in sorted(groups.items(), key=lambda kv: str(kv[0][1])):
        doc = fingerprint_streams(streams, handles, signatures)
        rows = sorted(doc["ranking"], key=lambda r: -r["score"])[:4]
        shares = ", ".join(f"{r['tokenizer']} {r['score']:.1%}" for r in rows if r["boundaries"])
        reason = doc["reason"].replace("|", "/")
        lines.append(
            f"| {model} | {doc['boundaries']} | {doc['verdict'] or 'null'} | {reason} | "
            f"{shares or '—'} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tokenizer_boundary")
    parser.add_argument("--quick", action="store_true", help="fewer texts")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the docs table")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines, totals = synthetic(args.quick)
    lines += realworld()
    lines += ["", f"Wall time {time.perf_counter() - started:.0f} s."]
    table = "\n".join(lines)
    print(table)
    if not args.no_docs:
        from bench.tokenizer_matrix import write_docs

        write_docs(table, BEGIN, END, "### Stream-boundary benchmark")
    return 0 if totals.get("wrong", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
