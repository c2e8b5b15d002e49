"""The daily rollups kept on write equal a recomputation from the raw tables, on both engines."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from provenance.records import Observation, Source
from provenance.store import open_store, rollups
from tests.reporting.seed import record

T0 = datetime(2026, 2, 27, 22, 0, tzinfo=UTC)
IDS = ["gpt-4o", "gpt-4o-2024-08-06", "claude-sonnet-4-5", "accounts/x/models/kimi-k2p5", "m"]
SOURCES = list(Source)


def _random_records(rng: random.Random, n: int) -> list:
    recs = []
    for _ in range(n):
        rec = record(
            rng.choice(["a", "b", None]),
            T0 + timedelta(minutes=rng.randrange(0, 60 * 24 * 4)),
            asked=None,
            served=None,
            provider=rng.choice(["openai", "fireworks", None]),
        )
        rec.observations = [
            Observation(
                rng.choice(IDS),
                rng.choice(SOURCES),
                "$.model",
                rng.choice(["request", "response"]),
                rng.choice(["model", "model", "deployment"]),
            )
            for _ in range(rng.randrange(0, 4))
        ]
        recs.append(rec)
    return recs


def _snapshot(store) -> tuple[list, list]:
    with store.engine.connect() as c:
        t = c.execute(text("SELECT * FROM traffic_days ORDER BY 1, 2, 3")).all()
        m = c.execute(text("SELECT * FROM model_days ORDER BY 1, 2, 3, 4, 5")).all()
    return [tuple(r) for r in t], [tuple(r) for r in m]


def test_incremental_rollups_equal_a_rebuild(store_url: str) -> None:
    store = open_store(store_url, create=True)
    rng = random.Random(7)
    for size in (1, 17, 200, 60):  # several batches hit the same keys: upserts must add up
        store.write_exchanges(_random_records(rng, size))
    kept = _snapshot(store)
    with store.engine.begin() as c:
        rollups.rebuild(c)
    assert _snapshot(store) == kept
    traffic, models = kept
    assert sum(r[3] for r in traffic) == 278
    assert {r[2] for r in traffic} == {"2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02",
                                       "2026-03-03"}  # fmt: skip
    assert all(0 < r[7] < 1 << len(rollups.SOURCE_BITS) for r in models)
    store.close()


def test_prune_keeps_rollups_consistent(store_url: str) -> None:
    from provenance.reporting.exchanges import prune

    store = open_store(store_url, create=True)
    store.write_exchanges(_random_records(random.Random(3), 300))
    removed = prune(store, T0 + timedelta(days=1, hours=5))
    assert removed > 0
    kept = _snapshot(store)
    with store.engine.begin() as c:
        rollups.rebuild(c)
    assert _snapshot(store) == kept
    with store.engine.connect() as c:
        total = c.execute(text("SELECT SUM(exchanges) FROM traffic_days")).scalar()
        assert total == c.execute(text("SELECT COUNT(*) FROM exchanges")).scalar() == 300 - removed
    store.close()


def test_source_bits_cover_every_source() -> None:
    assert set(rollups.SOURCE_BITS) == {str(s) for s in Source}
    assert rollups.sources_of(0b101) == sorted(["request_field", "url_path"])


def test_rebuild_command_restores_rollups_after_a_raw_load(sqlite_url: str, capsys) -> None:
    from provenance.cli.main import main

    store = open_store(sqlite_url, create=True)
    store.write_exchanges(_random_records(random.Random(11), 50))
    kept = _snapshot(store)
    with store.engine.begin() as c:  # what a bulk loader that bypasses write_exchanges leaves
        c.execute(text("DELETE FROM traffic_days"))
        c.execute(text("DELETE FROM model_days"))
    assert main(["db", "rebuild-rollups", "--db", sqlite_url]) == 0
    assert "rollups rebuilt" in capsys.readouterr().out
    assert _snapshot(store) == kept
    store.close()
