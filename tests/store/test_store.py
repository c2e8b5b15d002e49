"""Store round trips against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, text

from provenance.store import ConnectionRecord, FingerprintRunRecord, open_store
from provenance.store.engine import sqlite_path
from provenance.store.models import (
    ConnectionRow,
    ExchangeRow,
    FingerprintRunRow,
    ObservationRow,
    ProductRow,
    ProviderRow,
)
from tests.store.factories import T0, make_record


def test_exchange_round_trip_keeps_every_field(store_url: str) -> None:
    record = make_record(7, model="gpt-4o", answered="gpt-4o-2024-08-06")
    with open_store(store_url, create=True) as store:
        (exchange_id,) = store.write_exchanges([record])
        with store.session() as s:
            row = s.get(ExchangeRow, exchange_id)
            assert row is not None
            assert row.started_at == record.started_at
            assert row.started_at.tzinfo is not None
            assert (row.method, row.scheme, row.host, row.port, row.path) == (
                "POST",
                "https",
                "api.openai.com",
                443,
                "/v1/chat/completions?seq=7",
            )
            assert (row.status, row.api, row.content_type, row.streamed) == (
                200,
                "openai.chat",
                "text/event-stream",
                True,
            )
            assert (row.latency_ms, row.ttfb_ms) == (812.5, 143.25)
            assert (row.request_size, row.response_size) == (321, len(record.response_body or ""))
            assert row.request_headers == [list(h) for h in record.request_headers]
            assert row.response_headers == [["content-type", "text/event-stream"]]
            assert row.request_body == record.request_body
            assert row.response_body == record.response_body
            assert (row.request_digest, row.response_digest) == ("a" * 64, "b" * 64)
            assert row.bodies_truncated is False
            assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (1200, 85, 1024)
            assert (row.cache_write_tokens, row.reasoning_tokens, row.total_tokens) == (
                None,
                None,
                1285,
            )
            assert row.cost is None
            assert row.usage_raw == record.usage.raw
            assert row.parse_errors == []
            assert (row.origin, row.http_version, row.client_ja4) == (
                "live",
                "HTTP/2.0",
                record.client_ja4,
            )
            assert row.secret_hashes == ["0123456789ab"]
            assert row.error is None and row.deployment is None
            assert s.get(ProviderRow, row.provider_id).slug == "openai"  # type: ignore[union-attr]
            assert s.get(ProductRow, row.product_id).name == "cursor"  # type: ignore[union-attr]
            observations = s.scalars(select(ObservationRow).order_by(ObservationRow.id)).all()
            assert [
                (o.exchange_id, o.model_id, o.source, o.location, o.role, o.kind)
                for o in observations
            ] == [
                (exchange_id, "gpt-4o", "request_field", "$.model", "request", "model"),
                (exchange_id, "gpt-4o-2024-08-06", "sse_frame", "$.model", "response", "model"),
            ]


def test_batch_ids_in_order_and_lookup_rows_shared(store_url: str) -> None:
    records = [make_record(i, product=("cursor" if i % 2 else None)) for i in range(50)]
    records[3].provider = "fireworks"
    with open_store(store_url, create=True) as store:
        ids = store.write_exchanges(records)
        ids += store.write_exchanges([make_record(50, product="claude-code")])
        with store.session() as s:
            paths = dict(s.execute(select(ExchangeRow.id, ExchangeRow.path)).all())
            assert [paths[i] for i in ids] == [f"/v1/chat/completions?seq={i}" for i in range(51)]
            assert sorted(s.scalars(select(ProviderRow.slug))) == ["fireworks", "openai"]
            assert sorted(s.scalars(select(ProductRow.name))) == ["claude-code", "cursor"]
            no_product = s.scalar(
                select(func.count())
                .select_from(ExchangeRow)
                .where(ExchangeRow.product_id.is_(None))
            )
            assert no_product == 25
    # a second Store (another process) shares the lookup rows instead of duplicating them
    with open_store(store_url) as store:
        store.write_exchanges([make_record(51, product="cursor", provider="fireworks")])
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(ProviderRow)) == 2
            assert s.scalar(select(func.count()).select_from(ProductRow)) == 2


def test_failed_transaction_writes_nothing_and_cache_stays_valid(store_url: str) -> None:
    bad = make_record(1, product="brand-new-product", provider="brand-new-provider")
    bad.port = 2**40  # out of range for the integer column on PostgreSQL; fine on SQLite
    bad.started_at = None  # type: ignore[assignment]  # NOT NULL everywhere
    with open_store(store_url, create=True) as store:
        try:
            store.write_exchanges([make_record(0), bad])
        except Exception:
            pass
        else:
            raise AssertionError("a NULL started_at must be refused")
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(ExchangeRow)) == 0
            assert s.scalar(select(func.count()).select_from(ProductRow)) == 0
        # the product created inside the rolled-back transaction must be created again
        (eid,) = store.write_exchanges([make_record(2, product="brand-new-product")])
        with store.session() as s:
            row = s.get(ExchangeRow, eid)
            assert row is not None and s.get(ProductRow, row.product_id) is not None


def test_awkward_text_is_stored(store_url: str) -> None:
    body = "nul\x00byte, lone surrogate \ud800, emoji 🦜, CJK 模型"
    record = make_record(0, response_body=body)
    record.parse_errors = ["invalid utf-8 \udcff in frame"]
    with open_store(store_url, create=True) as store:
        (eid,) = store.write_exchanges([record])
        with store.session() as s:
            row = s.get(ExchangeRow, eid)
            assert row is not None
            assert row.response_body == "nul\ufffdbyte, lone surrogate \ufffd, emoji 🦜, CJK 模型"
            assert len(row.parse_errors) == 1


def test_times_are_stored_in_utc(store_url: str) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2025, 6, 1, 12, 0, tzinfo=plus_two)
    naive = datetime(2025, 6, 1, 12, 0)
    with open_store(store_url, create=True) as store:
        ids = store.write_exchanges(
            [make_record(0, started_at=local), make_record(1, started_at=naive)]
        )
        with store.session() as s:
            a, b = (s.get(ExchangeRow, i) for i in ids)
            assert a is not None and b is not None
            assert a.started_at == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
            assert b.started_at == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # naive means UTC
            assert a.started_at.utcoffset() == timedelta(0)


def test_fingerprint_run_round_trip(store_url: str) -> None:
    run = FingerprintRunRecord(
        kind="tokenizer",
        started_at=T0,
        target="https://api.example.test/v1?key=[REDACTED:google:0123456789ab]",
        model="kimi-k2",
        method="count-signature",
        requests=42,
        result={"schema": "provenance.fingerprint/1", "scores": {"kimi-k2": 0.98}},
        product="cursor",
        verdict="match",
        family="kimi-k2",
    )
    with open_store(store_url, create=True) as store:
        run_id = store.save_fingerprint_run(run)
        with store.session() as s:
            row = s.get(FingerprintRunRow, run_id)
            assert row is not None
            assert (row.kind, row.model, row.family, row.verdict, row.requests) == (
                "tokenizer",
                "kimi-k2",
                "kimi-k2",
                "match",
                42,
            )
            assert row.result == run.result and row.started_at == T0


def test_connections_merge_by_key(store_url: str) -> None:
    def conn(minute: int, **kw: object) -> ConnectionRecord:
        base = {
            "first_seen": T0 + timedelta(minutes=minute),
            "last_seen": T0 + timedelta(minutes=minute, seconds=30),
            "src_ip": "10.0.0.2",
            "src_port": 50000 + minute,
            "dst_ip": "104.18.6.192",
            "dst_port": 443,
            "sni": "api.openai.com",
            "ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1",
            "client": None,
        }
        base.update(kw)
        return ConnectionRecord(**base)  # type: ignore[arg-type]

    with open_store(store_url, create=True) as store:
        store.save_connections([conn(5), conn(1, alpn="h2")])  # merged within the call
        store.save_connections([conn(9, tls_version="1.3"), conn(2, sni="api.anthropic.com")])
        store.save_connections([])
        with store.session() as s:
            rows = s.scalars(select(ConnectionRow).order_by(ConnectionRow.sni)).all()
    assert [(r.sni, r.count) for r in rows] == [("api.anthropic.com", 1), ("api.openai.com", 3)]
    merged = rows[1]
    assert merged.first_seen == T0 + timedelta(minutes=1)
    assert merged.last_seen == T0 + timedelta(minutes=9, seconds=30)
    assert (merged.alpn, merged.tls_version, merged.client) == ("h2", "1.3", None)


def test_sqlite_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "capture.sqlite"
    with open_store(str(path), create=True) as store:  # a bare path means SQLite
        store.write_exchanges([make_record(0)])
        with store.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        files = [p for p in path.parent.iterdir() if p.name.startswith("capture.sqlite")]
        assert {p.name for p in files} >= {"capture.sqlite", "capture.sqlite-wal"}
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_default_database_lives_in_the_data_dir(provenance_home: Path) -> None:
    with open_store(None, create=True) as store:
        assert store.url.endswith("/provenance.sqlite")
        path = sqlite_path(store.engine.url)
    assert path == provenance_home / "provenance.sqlite"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_environment_variable_selects_the_database(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "from-env.sqlite"
    monkeypatch.setenv("PROVENANCE_DB", f"sqlite:///{target}")
    with open_store(None, create=True) as store:
        store.write_exchanges([make_record(0)])
    assert target.exists()
    # --db wins over the environment
    other = tmp_path / "explicit.sqlite"
    with open_store(str(other), create=True):
        pass
    assert other.exists()


def test_foreign_key_cascade_deletes_observations(store_url: str) -> None:
    with open_store(store_url, create=True) as store:
        (eid,) = store.write_exchanges([make_record(0, answered="gpt-4o-2024-08-06")])
        with store.engine.begin() as c:
            c.execute(text("DELETE FROM exchanges WHERE id = :i"), {"i": eid})
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(ObservationRow)) == 0


def test_in_memory_database_for_throwaway_use() -> None:
    with open_store("sqlite://", create=True) as store:
        assert store.write_exchanges([make_record(0), make_record(1)]) == [1, 2]
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(ExchangeRow)) == 2


def test_sqlite_batches_get_their_own_ids_in_order(tmp_path: Path) -> None:
    """One executemany per batch: ids come back in order and each names its own row."""
    with open_store(f"sqlite:///{tmp_path / 'ids.sqlite'}", create=True) as store:
        first = store.write_exchanges([make_record(i) for i in range(5)])
        second = store.write_exchanges([make_record(i) for i in range(5, 205)])
        ids = first + second
        assert ids == list(range(ids[0], ids[0] + 205))
        with store.session() as s:
            paths = dict(s.execute(select(ExchangeRow.id, ExchangeRow.path)).all())
        assert [paths[i] for i in ids] == [f"/v1/chat/completions?seq={i}" for i in range(205)]


def test_sqlite_ids_at_the_rowid_limit_fall_back_to_returning(tmp_path: Path) -> None:
    """Past rowid 2**63-1 SQLite picks ids at random: the batch is rewritten with RETURNING,
    and every id still names its own row and observations."""
    url = f"sqlite:///{tmp_path / 'limit.sqlite'}"
    with open_store(url, create=True) as store:
        (top,) = store.write_exchanges([make_record(0)])
    with sqlite3.connect(tmp_path / "limit.sqlite") as conn:
        conn.execute("UPDATE exchanges SET id = ? WHERE id = ?", (2**63 - 1, top))
        conn.execute(
            "UPDATE observations SET exchange_id = ? WHERE exchange_id = ?", (2**63 - 1, top)
        )
    with open_store(url) as store:
        records = [make_record(i, model=f"m-{i}") for i in range(1, 40)]
        ids = store.write_exchanges(records)
        assert len(set(ids)) == len(ids) == 39
        with store.session() as s:
            paths = dict(s.execute(select(ExchangeRow.id, ExchangeRow.path)).all())
            models = dict(
                s.execute(select(ObservationRow.exchange_id, ObservationRow.model_id)).all()
            )
        for i, exchange_id in zip(range(1, 40), ids, strict=True):
            assert paths[exchange_id] == f"/v1/chat/completions?seq={i}"
            assert models[exchange_id] == f"m-{i}"
