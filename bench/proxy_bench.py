"""Proxy suite: what the capture proxy costs the traffic that goes through it.

Three ways to the same loopback upstream (:mod:`provenance.standins.upstream`): direct, plain
``mitmdump``, and ``provenance capture`` (storing into SQLite); the load generator
(:mod:`provenance.standins.loadgen`) checks every response byte for byte. Runs are interleaved
(direct, mitmdump, capture, then again) and repeated; medians are reported.

- non-streaming: throughput and latency p50/p99 at concurrency 1, 16 and 64;
- streaming (SSE, 20 events 10 ms apart): time to first event and inter-event gaps, direct vs
  plain mitmdump with streaming on (``provenance/standins/stream_on.py``) vs capture;
- stalled store: capture latency while another connection holds SQLite's write lock for 5 s,
  vs the same load without the stall (and whether every exchange was stored afterwards);
- soak: capture at a steady paced load for ``BENCH_SOAK_SECONDS``; RSS sampled every second,
  peak and the slope after warm-up.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from bench.context import Context
from bench.report import Section
from provenance.standins import loadgen
from provenance.standins.processes import (
    Upstream,
    cpu_seconds,
    plain_mitmdump,
    process_tree,
    quiet_capture,
    rss_kib,
)
from provenance.standins.stats import linear_fit, median, percentile

STALL_S = 5.0
CPU_NOTE = (
    "`proxy CPU ms/req` is the CPU time of the proxy process itself per request (all its threads), "
    "`extraction process CPU ms/req` that of the capture's extraction process. On a machine with "
    "more cores than busy processes the extraction process runs beside the proxy; here the cores "
    "are shared by the load generator, the upstream, the proxy and the extraction process, so its "
    "CPU is taken from the proxy's and throughput under load is bounded by the cores."
)


def _requests_for(concurrency: int, quick: bool) -> int:
    base = {1: 300, 16: 1500, 64: 2000}.get(concurrency, 1000)
    return base // 10 if quick else base


def _ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


class Rig:
    """The upstream and the three proxies, started once for the whole suite."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.dir = ctx.workdir / "proxy"
        self.dir.mkdir(exist_ok=True)
        self.confdir = self.dir / "mitmproxy"
        self.db = self.dir / "capture.sqlite"
        self.upstream = Upstream()
        self.procs: list[Any] = []
        self.captured = 0  # responses received through the capture proxy
        self.mitmdump = self._start("mitmdump", plain_mitmdump(self.confdir))
        self.mitmdump_stream = self._start(
            "mitmdump (streaming)", plain_mitmdump(self.confdir, streaming=True)
        )
        self.capture = self._start(
            "provenance capture",
            quiet_capture(f"sqlite:///{self.db}", self.confdir, self.dir / "home"),
        )
        self.db_inloop = self.dir / "capture-inloop.sqlite"
        self.captured_inloop = 0
        self.capture_inloop = self._start(
            "provenance capture --extract-in-proxy",
            quiet_capture(
                f"sqlite:///{self.db_inloop}",
                self.confdir,
                self.dir / "home",
                "--extract-in-proxy",
            ),
        )

        self.capture_before: Any = None
        self.db_before = self.dir / "capture-before.sqlite"
        self.captured_before = 0
        if ctx.baseline is not None:
            self.capture_before = self._start(
                f"provenance capture ({ctx.baseline_rev})",
                quiet_capture(
                    f"sqlite:///{self.db_before}",
                    self.confdir,
                    self.dir / "home",
                    code=ctx.baseline,
                ),
            )

    def _start(self, name: str, proc: Any) -> Any:
        self.procs.append((name, proc))
        proc.wait_listening()
        return proc

    def endpoint(self, name: str) -> loadgen.Endpoint:
        if name == "direct":
            return loadgen.direct(self.upstream.port)
        proc = {
            "mitmdump": self.mitmdump,
            "mitmdump-stream": self.mitmdump_stream,
            "capture-inloop": self.capture_inloop,
            "capture-before": self.capture_before,
        }.get(name, self.capture)
        return loadgen.via_proxy(proc.port, self.upstream.port)

    def proxy(self, name: str) -> Any:
        return {
            "mitmdump": self.mitmdump,
            "mitmdump-stream": self.mitmdump_stream,
            "capture-inloop": self.capture_inloop,
            "capture-before": self.capture_before,
            "capture": self.capture,
        }.get(name)

    def cpu(self, name: str) -> tuple[float, float]:
        """CPU seconds used so far by path ``name``'s proxy process and by its helpers (the
        extraction process); (0, 0) for ``direct``."""
        proc = self.proxy(name)
        if proc is None:
            return 0.0, 0.0
        pid = proc.proc.pid
        return cpu_seconds(pid), sum(cpu_seconds(p) for p in process_tree(pid)[1:])

    def run(self, name: str, **kwargs: Any) -> loadgen.LoadResult:
        """One load run on path ``name``; counts what went through the capture proxy."""
        result = loadgen.run(self.endpoint(name), **kwargs)
        if name == "capture":
            self.captured += result.completed
        elif name == "capture-inloop":
            self.captured_inloop += result.completed
        elif name == "capture-before":
            self.captured_before += result.completed
        return result

    def stored(self, db: Path | None = None) -> int:
        with sqlite3.connect(db or self.db, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM exchanges").fetchone()[0])

    def close(self) -> dict[str, int]:
        codes = {}
        for name, proc in self.procs:
            codes[name] = proc.stop()
        self.upstream.stop()
        return codes


def non_streaming(rig: Rig, section: Section) -> None:
    # capture-inloop: `provenance capture --extract-in-proxy`, the design before the extraction
    # process, measured alongside so the difference is a same-run ratio too.
    modes = ["direct", "mitmdump", "capture", "capture-inloop"]
    if rig.capture_before is not None:  # --baseline: the earlier revision's capture, same rounds
        modes.append("capture-before")
    table = section.table(
        "Non-streaming requests (JSON, ~600-byte response): median over repeats",
        [
            "concurrency",
            "path",
            "req/s",
            "p50 ms",
            "p99 ms",
            "vs mitmdump req/s",
            "proxy CPU ms/req",
            "extraction process CPU ms/req",
            "errors",
        ],
    )
    for concurrency in (1, 16, 64):
        n = _requests_for(concurrency, rig.ctx.quick)
        runs: dict[str, list[loadgen.LoadResult]] = {m: [] for m in modes}
        cpu: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}  # ms per request
        for m in modes:  # warm-up: connections, caches, the capture store's first writes
            rig.run(m, concurrency=concurrency, total=max(concurrency, 20))
        for _ in range(rig.ctx.repeats):
            for m in modes:
                before = rig.cpu(m)
                result = rig.run(m, concurrency=concurrency, total=n)
                if m.startswith("capture"):  # let the extraction process finish this run's work
                    time.sleep(0.5)
                after = rig.cpu(m)
                done = max(result.completed, 1)
                cpu[m].append(
                    ((after[0] - before[0]) * 1000 / done, (after[1] - before[1]) * 1000 / done)
                )
                runs[m].append(result)
        stats = {
            m: {
                "rps": median([r.throughput for r in runs[m]]),
                "p50": median([_ms(r.latencies, 50) for r in runs[m]]),
                "p99": median([_ms(r.latencies, 99) for r in runs[m]]),
                "errors": sum(r.errors + r.mismatches for r in runs[m]),
                "cpu": median([c[0] for c in cpu[m]]),
                "helper": median([c[1] for c in cpu[m]]),
            }
            for m in modes
        }
        for m in modes:
            s = stats[m]
            ratio = s["rps"] / stats["mitmdump"]["rps"]
            table.add(
                concurrency,
                m,
                s["rps"],
                s["p50"],
                s["p99"],
                f"{ratio:.2f}",
                "-" if m == "direct" else s["cpu"],
                s["helper"] if m in ("capture", "capture-before") else "-",
                s["errors"],
            )
        ratio = stats["capture"]["rps"] / stats["mitmdump"]["rps"]
        if concurrency == 1:
            section.notes.append(CPU_NOTE)
        section.target(
            f"Capture throughput vs plain mitmdump, concurrency {concurrency}",
            ">= 0.9x",
            f"{ratio:.2f}x",
            ratio >= 0.9,
        )
        added = stats["capture"]["p50"] - stats["mitmdump"]["p50"]
        section.target(
            f"Capture added p50 latency over mitmdump, concurrency {concurrency}",
            "<= 1 ms",
            f"{added:+.2f} ms",
            added <= 1.0,
        )


def streaming(rig: Rig, section: Section) -> None:
    modes = ["direct", "mitmdump-stream", "capture"]
    if rig.capture_before is not None:
        modes.append("capture-before")
    table = section.table(
        "Streaming (SSE, 20 events 10 ms apart): median over repeats",
        [
            "concurrency",
            "path",
            "first event p50 ms",
            "first event p99 ms",
            "gap mean ms",
            "gap p99 ms",
            "errors",
        ],
    )
    for concurrency in (1, 16):
        n = (40 if concurrency == 1 else 160) // (5 if rig.ctx.quick else 1)
        runs: dict[str, list[loadgen.LoadResult]] = {m: [] for m in modes}
        for m in modes:
            rig.run(m, concurrency=concurrency, total=concurrency, stream=True)
        for _ in range(rig.ctx.repeats):
            for m in modes:
                runs[m].append(rig.run(m, concurrency=concurrency, total=n, stream=True))
        first = {m: median([_ms(r.first_event, 50) for r in runs[m]]) for m in modes}
        for m in modes:
            rs = runs[m]
            gaps = [g for r in rs for g in r.gaps]
            table.add(
                concurrency,
                m,
                first[m],
                median([_ms(r.first_event, 99) for r in rs]),
                sum(gaps) / len(gaps) * 1000 if gaps else float("nan"),
                _ms(gaps, 99),
                sum(r.errors + r.mismatches for r in rs),
            )
        added = first["capture"] - first["mitmdump-stream"]
        section.target(
            f"Capture time to first chunk vs mitmdump streaming, concurrency {concurrency}",
            "<= mitmdump + 5 ms",
            f"{added:+.2f} ms",
            added <= 5.0,
        )


def _hold_write_lock(db: Path, seconds: float, started: threading.Event) -> None:
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        started.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def stalled_store(rig: Rig, section: Section) -> None:
    concurrency, duration = 16, STALL_S + 4.0
    table = section.table(
        f"Capture latency with the store stalled {STALL_S:.0f} s (SQLite write lock held by "
        f"another connection), concurrency {concurrency}",
        ["run", "requests", "p50 ms", "p99 ms", "max ms", "stored afterwards"],
    )
    rows: dict[str, list[tuple[float, float, float]]] = {"not stalled": [], "stalled": []}
    for _ in range(max(1, min(rig.ctx.repeats, 2))):
        for kind in ("not stalled", "stalled"):
            before = _wait_stored(rig, rig.captured)  # earlier runs fully flushed
            window: list[float] = []
            locker = None
            if kind == "stalled":
                started = threading.Event()

                def hold(started: threading.Event = started, window: list[float] = window) -> None:
                    time.sleep(1.5)
                    window.append(time.perf_counter())
                    _hold_write_lock(rig.db, STALL_S, started)
                    window.append(time.perf_counter())

                locker = threading.Thread(target=hold, daemon=True)
                locker.start()
            result = rig.run("capture", concurrency=concurrency, duration=duration)
            if locker is not None:
                locker.join()
            else:  # the same window of the run, without a stall
                window = [result.started[0] + 1.5, result.started[0] + 1.5 + STALL_S]
            lat = [
                lt
                for st, lt in zip(result.started, result.latencies, strict=True)
                if window[0] <= st <= window[1]
            ]
            stored = _wait_stored(rig, before + result.completed)
            rows[kind].append((_ms(lat, 50), _ms(lat, 99), max(lat) * 1000))
            table.add(
                kind,
                len(lat),
                _ms(lat, 50),
                _ms(lat, 99),
                max(lat) * 1000,
                f"{stored - before:,} of {result.completed:,}",
            )
            if stored - before != result.completed:
                section.notes.append(
                    f"stalled-store run '{kind}': {result.completed - (stored - before)} "
                    "exchanges not stored"
                )
    p50 = {k: median([r[0] for r in v]) for k, v in rows.items()}
    p99 = {k: median([r[1] for r in v]) for k, v in rows.items()}
    met = p50["stalled"] <= p50["not stalled"] * 1.1 + 1.0
    section.target(
        "Capture latency while the store is stalled 5 s",
        "no change (p50 within 10 % + 1 ms)",
        f"p50 {p50['stalled']:.1f} vs {p50['not stalled']:.1f} ms, "
        f"p99 {p99['stalled']:.1f} vs {p99['not stalled']:.1f} ms",
        met,
    )


def _wait_stored(rig: Rig, expected: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        stored = rig.stored()
        if stored >= expected or time.monotonic() > deadline:
            return stored
        time.sleep(0.25)


def soak(rig: Rig, section: Section) -> None:
    seconds, rate, concurrency = rig.ctx.soak_seconds, 100.0, 8
    pid = rig.capture.proc.pid
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not done.wait(1.0):
            samples.append((time.monotonic() - t0, rss_kib(pid)[0]))

    sampler = threading.Thread(target=sample, daemon=True)
    start_rss, _ = rss_kib(pid)
    sampler.start()
    result = rig.run("capture", concurrency=concurrency, duration=seconds, rate=rate)
    done.set()
    sampler.join()
    end_rss, peak = rss_kib(pid)
    warm = [(t, r) for t, r in samples if t >= min(30.0, seconds / 3)]
    slope = float("nan")
    if len(warm) >= 3:
        slope = linear_fit([t for t, _ in warm], [r / 1024 for _, r in warm])[0] * 60
    table = section.table(
        f"Soak: capture proxy at {rate:.0f} req/s paced ({concurrency} connections) for "
        f"{seconds} s",
        [
            "requests",
            "errors",
            "RSS start MiB",
            "RSS end MiB",
            "peak RSS MiB (VmHWM)",
            "slope after warm-up MiB/min",
        ],
    )
    table.add(
        result.completed,
        result.errors + result.mismatches,
        start_rss / 1024,
        end_rss / 1024,
        peak / 1024,
        slope,
    )
    section.notes.append(
        "The soak's peak RSS is the proxy process's high-water mark since it started (it has "
        "served the whole suite by then). `BENCH_SOAK_SECONDS=1800 make bench` runs the full "
        "30-minute soak."
    )


def hook_cost(ctx: Context, section: Section) -> None:
    """The addon's own cost per exchange on the event loop (``bench.hook_cost``), both modes."""
    import json
    import os
    import subprocess
    import sys

    from provenance.standins.processes import ROOT

    home = ctx.workdir / "hook-home"
    home.mkdir(exist_ok=True)
    table = section.table(
        "Capture addon cost per JSON exchange on the event loop (in process, taddons, real "
        "SQLite store; requestheaders + responseheaders + response)",
        [
            "extraction",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "event-loop CPU ms (mean)",
            "exchanges",
            "stored",
        ],
    )
    for mode, label in (("process", "extraction process"), ("loop", "in the hook")):
        proc = subprocess.run(
            [sys.executable, "-m", "bench.hook_cost", mode],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PROVENANCE_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            section.notes.append(f"hook cost ({mode}) not measured: {proc.stderr.strip()[-300:]}")
            continue
        cost = json.loads(lines[-1])
        table.add(
            label,
            cost["p50_ms"],
            cost["p90_ms"],
            cost["p99_ms"],
            cost["cpu_ms_mean"],
            cost["exchanges"],
            cost["written"],
        )
    section.notes.append(
        "mitmproxy runs the `response` hook before it forwards a buffered response, so whatever "
        "the hook costs is added to each non-streamed request's latency and, under concurrency, "
        "every flow queues behind the others'. With the extraction process (the default) the "
        "hook only snapshots the exchange and hands it over a pipe; `capture-inloop` in the "
        "tables below is `provenance capture --extract-in-proxy`, which extracts and redacts in "
        "the hook and writes from a thread of the proxy process."
    )


def run(ctx: Context) -> Section:
    section = Section(
        "Proxy: throughput, latency, streaming, stalled store, memory",
        intro=(
            "The same loopback upstream (`provenance/standins/upstream.py`, raw asyncio) reached "
            "directly, through plain `mitmdump` and through `provenance capture` (storing into "
            "SQLite); the load generator (`provenance/standins/loadgen.py`, raw asyncio "
            "HTTP/1.1, keep-alive) checks every response byte for byte. Paths are interleaved "
            "within each repeat; medians of the repeats are shown. The load generator, the "
            "upstream and the proxy share the machine's cores."
        ),
    )
    hook_cost(ctx, section)
    rig = Rig(ctx)
    try:
        non_streaming(rig, section)
        streaming(rig, section)
        stalled_store(rig, section)
        soak(rig, section)
    finally:
        codes = rig.close()
    stored, stored_inloop = rig.stored(), rig.stored(rig.db_inloop)
    section.notes.append(
        f"capture proxy: {rig.captured:,} responses received through it, {stored:,} exchanges "
        f"stored after it stopped (with --extract-in-proxy: {rig.captured_inloop:,} and "
        f"{stored_inloop:,}); exit codes: " + ", ".join(f"{k}: {v}" for k, v in codes.items())
    )
    lost = (rig.captured - stored) + (rig.captured_inloop - stored_inloop)
    kept = stored >= rig.captured and stored_inloop >= rig.captured_inloop
    if rig.capture_before is not None:
        stored_before = rig.stored(rig.db_before)
        section.notes.append(
            f"capture proxy of {ctx.baseline_rev}: {rig.captured_before:,} responses, "
            f"{stored_before:,} stored"
        )
        lost += rig.captured_before - stored_before
        kept = kept and stored_before >= rig.captured_before
    section.target("Exchanges lost by the capture proxy over the whole suite", "0", f"{lost}", kept)
    return section
