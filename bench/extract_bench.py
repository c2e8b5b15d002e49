"""Extraction suite: CPU per exchange of ``Recorder.record`` (extraction and redaction), and
where it goes.

Three exchanges, each extracted many times in this process, rounds interleaved: an OpenAI JSON
chat completion, an OpenAI SSE stream of 50 content deltas (plus usage and ``[DONE]``), and an
Anthropic SSE stream of 50 deltas. The baseline, measured side by side in the same rounds, is
what any tool must pay for the same bodies: ``json.loads`` of every JSON document in them and
``json.dumps`` of each back (the floor of "parse, then store"). Reported: median ms per
exchange, the ratio to the baseline, and for the OpenAI stream a profile split by stage (tap,
body redaction, split-secret channels), so the next optimisation is aimed where the time goes.
Target (issue 14): extraction CPU per exchange at most 0.7 ms.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.context import Context
from bench.extract_probe import exchanges
from bench.report import Section, Table
from provenance.standins.stats import median

TARGET_MS = 0.7


def _documents(raw: Any) -> list[bytes]:
    """The JSON documents in an exchange's bodies (what the baseline parses)."""
    docs = [raw.request_body]
    for line in raw.response_body.split(b"\n"):
        if line.startswith(b"data: {"):
            docs.append(line[6:])
    if not raw.streamed:
        docs = [raw.request_body, raw.response_body]
    return docs


def _baseline(docs: list[bytes]) -> None:
    for doc in docs:
        json.dumps(json.loads(doc), ensure_ascii=False, separators=(",", ":"))


def run(ctx: Context) -> Section:
    from provenance.ingest import Job, Recorder
    from provenance.redact import Redactor

    recorder = Recorder(Redactor(b"bench-extract-key-0123456789abcd"))
    per_round = 50 if ctx.quick else 400
    rounds = 3 if ctx.quick else 7
    before = (
        f" With `--baseline`, revision {ctx.baseline_rev}'s code is measured in a child process "
        "in the same rounds (`bench/extract_probe.py`)."
        if ctx.baseline
        else ""
    )
    section = Section(
        "Extraction: CPU per exchange",
        intro=(
            "`Recorder.record` (extraction and redaction, what the extraction process runs per "
            f"exchange), {per_round} exchanges per round, {rounds} rounds interleaved with the "
            "baseline: `json.loads` + `json.dumps` of every JSON document in the same bodies. "
            "One process, one core; medians of the rounds." + before
        ),
    )
    header = ["exchange", "provenance ms", "baseline ms", "ratio to baseline"]
    if ctx.baseline:
        header += [f"before ({ctx.baseline_rev}) ms", "before: ratio to baseline", "now / before"]
    table = section.table("Median ms per exchange", header)
    jobs = {name: (Job(raw), _documents(raw)) for name, raw in exchanges().items()}
    for job, _ in jobs.values():
        for _ in range(20):  # warm caches (catalog, redactor) before timing
            recorder.record(job)
    ours: dict[str, list[float]] = {name: [] for name in jobs}
    base: dict[str, list[float]] = {name: [] for name in jobs}
    old: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, (job, docs) in jobs.items():
            start = time.process_time()
            for _ in range(per_round):
                recorder.record(job)
            ours[name].append((time.process_time() - start) / per_round * 1000)
            start = time.process_time()
            for _ in range(per_round):
                _baseline(docs)
            base[name].append((time.process_time() - start) / per_round * 1000)
        if ctx.baseline is not None:
            for name, values in _probe(ctx, per_round).items():
                old.setdefault(name, []).extend(values)
    worst = 0.0
    slowest_gain = 0.0  # the largest now/before ratio (the least improved exchange)
    for name in jobs:
        mine, floor = median(ours[name]), median(base[name])
        worst = max(worst, mine)
        row = [name, f"{mine:.3f}", f"{floor:.3f}", f"{mine / floor:.1f}x"]
        if ctx.baseline is not None:
            was = median(old[name])
            row += [f"{was:.3f}", f"{was / floor:.1f}x", f"{mine / was:.2f}"]
            slowest_gain = max(slowest_gain, mine / was)
        table.add(*row)
    section.target(
        "extraction CPU per exchange",
        f"<= {TARGET_MS} ms",
        f"{worst:.2f} ms (slowest of the three)",
        worst <= TARGET_MS,
    )
    if ctx.baseline is not None:
        section.target(
            f"extraction CPU per exchange vs {ctx.baseline_rev} (issue 14: halved)",
            "<= 0.5x",
            f"{slowest_gain:.2f}x (least improved of the three)",
            slowest_gain <= 0.5,
        )
    section.tables.append(_profile(recorder, exchanges()["OpenAI SSE, 50 deltas"], per_round))
    return section


def _probe(ctx: Context, per_round: int) -> dict[str, list[float]]:
    """One round of the baseline revision's ``Recorder.record``, in a child process."""
    assert ctx.baseline is not None
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("extract_probe.py")), "1", str(per_round)],
        cwd=ctx.baseline,
        env={**os.environ, "PYTHONPATH": str(ctx.baseline)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"baseline probe failed: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _profile(recorder: Any, raw: Any, n: int) -> Table:
    """Where one SSE exchange's time goes, by stage (cumulative profile time, in shares)."""
    from provenance.ingest import Job

    profile = cProfile.Profile()
    job = Job(raw)
    profile.enable()
    for _ in range(n):
        recorder.record(job)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, _), (_, _, tt, _, _) in stats.items())
    stages = {
        "body tap (decode, frame, scan ids and usage)": ("tap.py", "tap_body"),
        "body redaction (all bodies)": ("bodies.py", "redact_body"),
        "proof that no frame needs redacting (one walk)": ("quick.py", "clean_frames"),
        "redacted copies of frames (redact_json)": ("redactor.py", "redact_json"),
        "split-secret channels across frames (full path)": ("fragments.py", "redact_split_secrets"),
        "json.loads (all callers)": ("__init__.py", "loads"),
        "header redaction": ("redactor.py", "redact_headers"),
    }
    table = Table(
        "OpenAI SSE, 50 deltas: share of profiled time by stage (stages overlap where nested)",
        ["stage", "share"],
    )
    for label, (file, func) in stages.items():
        cum = sum(
            ct for (path, _, fn), (_, _, _, ct, _) in stats.items()
            if path.endswith(file) and fn == func
        )  # fmt: skip
        table.add(label, f"{cum / total:.0%}" if total else "—")
    return table
