"""Store suite: the read side over N exchanges (default 1,000,000) on SQLite and PostgreSQL.

For each engine: bulk-load the synthetic store (``bench.synth``), check it reads back, then time
``provenance models`` (``queries.models_table``), the verdicts (``collect.verdicts``), the
dashboard queries (``overview``, ``model_timeline``, ``timing_sample``) — one cold run, then
``repeats`` rounds interleaved across the queries — and three pages rendered cold by Streamlit's
AppTest in a fresh process each: the landing page (Products), the Product page of the biggest
product and the Exchange view (targets from issues 6 and 16: under 3 s).

PostgreSQL comes from the test suite's fixture logic (``tests.conftest.start_postgres_server``);
when it cannot start, the PostgreSQL half is reported as skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.context import Context
from bench.report import Section
from provenance.standins.stats import median

ROOT = Path(__file__).resolve().parents[1]
RENDER_TARGET_S = 3.0
EXCHANGE_ID = 500_000  # an exchange from the middle of the store (any id below the row count)


def biggest_product(store: Any) -> str:
    """The product with the most exchanges (the product page's worst case)."""
    from provenance.reporting.dashboard import overview

    return max(overview(store)["products"], key=lambda p: p["exchanges"])["product"]


def queries(store: Any) -> list[tuple[str, Callable[[], Any]]]:
    from provenance.reporting import dashboard
    from provenance.reporting.exchanges import ExchangeFilter, get_exchange
    from provenance.reporting.product import product_view
    from provenance.store.queries import models_table
    from provenance.verdicts.collect import verdicts

    product = biggest_product(store)
    return [
        ("product_view (Product page, biggest product)", lambda: product_view(store, product)),
        ("get_exchange (Exchange page)", lambda: get_exchange(store, EXCHANGE_ID)),
        ("`provenance models` (queries.models_table)", lambda: models_table(store)),
        ("verdicts (collect.verdicts)", lambda: verdicts(store)),
        ("dashboard.overview (Products page)", lambda: dashboard.overview(store)),
        ("dashboard.model_timeline (Models page)", lambda: dashboard.model_timeline(store)),
        (
            "dashboard.timing_sample (Traffic page)",
            lambda: dashboard.timing_sample(store, ExchangeFilter(limit=None)),
        ),
    ]


def self_check(store: Any, stats: Any) -> None:
    """The loaded store reads back as generated (else the timings would mean nothing)."""
    from provenance.reporting.dashboard import overview

    view = overview(store)
    if view["exchanges"] != stats.exchanges:
        raise RuntimeError(f"loaded {view['exchanges']} exchanges, generated {stats.exchanges}")
    by_product = {p["product"]: p["exchanges"] for p in view["products"]}
    if by_product != dict(stats.per_product):
        raise RuntimeError("per-product exchange counts differ from what was generated")


def render_page(url: str, page: str = "1_Products.py", *params: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.render_page", url, page, *params],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"render failed: {proc.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def bench_engine(section: Section, ctx: Context, engine: str, url: str) -> dict[str, Any]:
    from bench import synth
    from provenance.store import open_store

    start = time.perf_counter()
    stats = synth.load(url, ctx.rows)
    load_s = time.perf_counter() - start
    section.notes.append(
        f"{engine}: loaded {stats.exchanges:,} exchanges and {stats.observations:,} "
        f"observations ({len(stats.distinct_ids)} distinct model ids) in {load_s:.0f} s "
        f"({stats.exchanges / load_s:,.0f} exchanges/s), of which {stats.rollup_seconds:.0f} s "
        "rebuilding the daily rollups"
    )
    store = open_store(url)
    try:
        self_check(store, stats)
        product = biggest_product(store)
        named = queries(store)
        cold: dict[str, float] = {}
        runs: dict[str, list[float]] = {name: [] for name, _ in named}
        for name, fn in named:
            t0 = time.perf_counter()
            fn()
            cold[name] = time.perf_counter() - t0
        for _ in range(ctx.repeats):
            for name, fn in named:
                t0 = time.perf_counter()
                fn()
                runs[name].append(time.perf_counter() - t0)
    finally:
        store.close()
    rounds = max(1, min(ctx.repeats, 3))
    exchange = f"id={min(EXCHANGE_ID, stats.exchanges)}"
    renders = {
        "Products (landing)": [render_page(url) for _ in range(rounds)],
        f"Product ({product})": [
            render_page(url, "5_Product.py", f"product={product}") for _ in range(rounds)
        ],
        "Exchange view": [render_page(url, "6_Exchange.py", exchange) for _ in range(rounds)],
    }
    return {"cold": cold, "runs": runs, "renders": renders, "load_s": load_s}


def run(ctx: Context) -> Section:
    section = Section(
        f"Store: queries over {ctx.rows:,} exchanges",
        intro=(
            "Synthetic traffic (`bench/synth.py`: 14 products, 10 providers, ~230 model ids, 90 "
            "days, ~1.7 observations per exchange, short bodies), bulk-loaded through the store's "
            "own schema (SQLite: `executemany`; PostgreSQL: `COPY`). Each query runs once cold, "
            f"then {ctx.repeats} rounds interleaved; the landing page is rendered by AppTest in a "
            "fresh process each time (cold caches)."
        ),
    )
    results: dict[str, dict[str, Any]] = {}
    db = ctx.workdir / "store-bench.sqlite"
    results["SQLite"] = bench_engine(section, ctx, "SQLite", f"sqlite:///{db}")
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    section.notes.append(f"SQLite file: {size / 1024**2:,.0f} MiB")
    for p in db.parent.glob(db.name + "*"):
        p.unlink()

    server, reason = start_postgres()
    if server is None:
        section.notes.append(f"PostgreSQL skipped: {reason}")
    else:
        try:
            results["PostgreSQL"] = bench_engine(
                section, ctx, "PostgreSQL", server.create_database("bench")
            )
        finally:
            from provenance.standins.postgres import stop_postgres_server

            stop_postgres_server(server)
        section.notes.append(
            "PostgreSQL runs with the test fixture's settings (fsync off, shared_buffers 32 MB, "
            "default work_mem)."
        )

    engines = list(results)
    table = section.table(
        "Query time, seconds (cold / median of repeats)",
        ["query", *[f"{e} cold" for e in engines], *[f"{e} median" for e in engines]],
    )
    names = list(next(iter(results.values()))["cold"]) if results else []
    for name in names:
        table.add(
            name,
            *[results[e]["cold"][name] for e in engines],
            *[median(results[e]["runs"][name]) for e in engines],
        )
    render = section.table(
        "Page renders with AppTest (a fresh process each: cold caches), seconds",
        ["engine", "page", "cold renders", "median cold", "warm (cached)", "target"],
    )
    for e in engines:
        for page, runs in results[e]["renders"].items():
            secs = [r["seconds"] for r in runs]
            errors = [err for r in runs for err in r["errors"]]
            warm = median([r["warm_seconds"] for r in runs])
            render.add(e, page, ", ".join(f"{s:.2f}" for s in secs), median(secs), warm, "< 3 s")
            if errors:
                section.notes.append(f"{e}, {page}: the page raised: {errors[0][:200]}")
            met = not errors and median(secs) < RENDER_TARGET_S
            section.target(
                f"{page} render, {ctx.rows:,} exchanges ({e})",
                "< 3 s (issues 6 and 16)",
                f"{median(secs):.2f} s",
                met,
            )
    return section


def start_postgres() -> tuple[Any, str | None]:
    """A throw-away PostgreSQL server (:mod:`provenance.standins.postgres`), or (None, why not)."""
    from provenance.standins.postgres import ServiceMissing, start_postgres_server

    try:
        return start_postgres_server(), None
    except ServiceMissing as exc:
        return None, str(exc)
