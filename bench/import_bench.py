"""Import suite: ``provenance import`` of HAR and flow files vs mitmproxy's ``FlowReader`` alone.

Both files hold the same N exchanges (``bench.traffic_files``, default 100,000). Each measurement
runs in a fresh process (``bench.import_worker``) for its own peak RSS; the rounds interleave
FlowReader and provenance on each file. provenance's figure is the whole pipeline (stream the file,
extract, redact, write to a SQLite store); FlowReader's is reading the flows and nothing else.
``json.loads`` of the HAR is shown for scale. Rates are computed from CPU time (it does not change
when other work shares the machine); provenance's includes its import pool's worker processes
(files of 8 MiB or more), so the ratio compares total work, and the wall time shows what the
pool buys. Peak RSS is the reading process's own. Target (issue 14, after issue 8's 3x): import at
least 1x FlowReader on the same HAR file, extraction, redaction and storage included, with
bounded memory. ``--baseline REV`` adds rows for that revision's import on the same files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.context import Context
from bench.report import Section
from provenance.standins.stats import median

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.0


def measure(ctx: Context, *args: str, tree: Path = ROOT) -> dict[str, Any]:
    """One measurement in a fresh process, running ``tree``'s code (this checkout, or the
    ``--baseline`` revision's)."""
    home = ctx.workdir / "import-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "PROVENANCE_HOME": str(home)}
    env.pop("PROVENANCE_DB", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.import_worker", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{args[0]} failed: {proc.stderr.strip()[-600:]}")
    return json.loads(lines[-1])


def run(ctx: Context) -> Section:
    from bench.traffic_files import write_flows, write_har

    n = ctx.import_rows
    section = Section(
        f"Import: {n:,} exchanges from HAR and mitmproxy flow files",
        intro=(
            "Half JSON chat completions, half SSE streams (OpenAI, Anthropic, Fireworks), a "
            "bearer key in every request. provenance = `import_file` (what `provenance import` "
            "runs): stream the file, extract, redact, write to a new SQLite store. FlowReader = "
            "`mitmproxy.io.FlowReader(f).stream()` iterated and nothing else. Each measurement "
            "in a fresh process; two rounds, interleaved."
        ),
    )
    har, flows = ctx.workdir / "bench.har", ctx.workdir / "bench.mitm"
    start = time.perf_counter()
    write_har(har, n)
    write_flows(flows, n)
    section.notes.append(
        f"files generated in {time.perf_counter() - start:.0f} s: HAR "
        f"{har.stat().st_size / 1024**2:,.0f} MiB, "
        f"flow file {flows.stat().st_size / 1024**2:,.0f} MiB"
    )
    plan = [
        ("FlowReader, HAR", ("flowreader", str(har))),
        ("provenance import, HAR", ("import", str(har))),
        ("FlowReader, flow file", ("flowreader", str(flows))),
        ("provenance import, flow file", ("import", str(flows))),
        ("json.loads, HAR (scale)", ("jsonloads", str(har))),
    ]
    trees = {name: ROOT for name, _ in plan}
    if ctx.baseline is not None:
        for label, args in [p for p in plan if p[1][0] == "import"]:
            plan.append((ctx.before(label), args))
            trees[ctx.before(label)] = ctx.baseline
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in plan}
    for r in range(min(ctx.repeats, 2)):  # CPU-time rates are stable; 100k imports take minutes
        for name, args in plan:
            if args[0] == "import":
                db = ctx.workdir / f"import-{r}-{Path(args[1]).suffix[1:]}.sqlite"
                result = measure(ctx, *args, f"sqlite:///{db}", tree=trees[name])
                for p in db.parent.glob(db.name + "*"):
                    p.unlink()
            else:
                result = measure(ctx, *args)
            if result["count"] != n:
                raise RuntimeError(f"{name}: {result['count']} exchanges, expected {n}")
            results[name].append(result)

    def rate(name: str) -> float:
        return n / median([r["cpu_seconds"] for r in results[name]])

    table = section.table(
        "Throughput and memory (median of rounds)",
        [
            "reader",
            "CPU s",
            "wall s",
            "exchanges/s (CPU)",
            "µs per exchange",
            "peak RSS MiB (max)",
            "vs FlowReader, same file",
        ],
    )
    for name, _ in plan:
        cpu = median([r["cpu_seconds"] for r in results[name]])
        wall = median([r["seconds"] for r in results[name]])
        peak = max(r["peak_rss_mib"] for r in results[name])
        base = "FlowReader, HAR" if "HAR" in name else "FlowReader, flow file"
        ratio = rate(name) / rate(base)
        table.add(name, cpu, wall, rate(name), cpu / n * 1e6, peak, f"{ratio:.2f}x")
    har_ratio = rate("provenance import, HAR") / rate("FlowReader, HAR")
    flow_ratio = rate("provenance import, flow file") / rate("FlowReader, flow file")
    section.target(
        "HAR import speed vs FlowReader on the same file (CPU)",
        f">= {TARGET_RATIO:g}x (issue 14; issue 8 asked 3x)",
        f"{har_ratio:.2f}x",
        har_ratio >= TARGET_RATIO,
    )
    wall_ratio = median([r["seconds"] for r in results["FlowReader, HAR"]]) / median(
        [r["seconds"] for r in results["provenance import, HAR"]]
    )
    section.target(
        "HAR import speed vs FlowReader on the same file (wall clock, import pool)",
        "(reported)",
        f"{wall_ratio:.2f}x",
        None,
    )
    section.target(
        "Flow-file import speed vs FlowReader on the same file",
        "(reported; FlowReader is part of it)",
        f"{flow_ratio:.2f}x",
        None,
    )
    har_peak = max(r["peak_rss_mib"] for r in results["provenance import, HAR"])
    fr_peak = max(r["peak_rss_mib"] for r in results["FlowReader, HAR"])
    section.target(
        "HAR import memory bounded (streamed)",
        "peak RSS well under FlowReader's (which loads the file)",
        f"{har_peak:,.0f} MiB vs {fr_peak:,.0f} MiB",
        har_peak < fr_peak,
    )
    return section
